/*
 * names.c: the ledger's vocabulary, the ISO 4217 table, derived ids and request hashes, field
 * checks, and the JSON that events record.
 *
 * Ids that must be found again without an index are derived, not random: an account's id is a
 * hash of (owner, kind, currency), a keyed transfer's of (caller, key), a settlement leg's of
 * (post id, position). The hash is BLAKE2b; its first 20 bytes give the 20 base32 characters
 * of an id through id_new() with a "random" source that returns the hash.
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "clearing/clearing_int.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* ---- vocabulary ---- */

static const char *const account_kinds[CLEARING_ACCOUNT__COUNT] = {
    [CLEARING_ACCOUNT_AVAILABLE] = "available", [CLEARING_ACCOUNT_ESCROW] = "escrow",
    [CLEARING_ACCOUNT_FEES] = "fees",           [CLEARING_ACCOUNT_CASH] = "cash",
    [CLEARING_ACCOUNT_POOL] = "pool",
};

static const char *const transfer_kinds[CLEARING_TRANSFER__COUNT] = {
    [CLEARING_TRANSFER] = "transfer",
    [CLEARING_PENDING] = "pending",
    [CLEARING_POST] = "post",
    [CLEARING_VOID] = "void",
};

static const char *const fee_kinds[CLEARING_FEE__COUNT] = {
    [CLEARING_FEE_PERCENTAGE] = "percentage",
    [CLEARING_FEE_FIXED] = "fixed",
    [CLEARING_FEE_MEMBERSHIP] = "membership",
};

static enum err name_parse(const char *const *names, size_t count, const char *name, int *out)
{
    for (size_t i = 0; name != NULL && i < count; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = (int)i;
            return ERR_OK;
        }
    }
    return ERR_INVALID;
}

const char *clearing_account_kind_name(enum clearing_account_kind kind)
{
    ASSERT((unsigned)kind < CLEARING_ACCOUNT__COUNT);
    return account_kinds[kind];
}

enum err clearing_account_kind_parse(const char *name, enum clearing_account_kind *out)
{
    int v = 0;
    enum err rc = name_parse(account_kinds, CLEARING_ACCOUNT__COUNT, name, &v);
    if (rc == ERR_OK) {
        *out = (enum clearing_account_kind)v;
    }
    return rc;
}

const char *clearing_transfer_kind_name(enum clearing_transfer_kind kind)
{
    ASSERT((unsigned)kind < CLEARING_TRANSFER__COUNT);
    return transfer_kinds[kind];
}

enum err clearing_transfer_kind_parse(const char *name, enum clearing_transfer_kind *out)
{
    int v = 0;
    enum err rc = name_parse(transfer_kinds, CLEARING_TRANSFER__COUNT, name, &v);
    if (rc == ERR_OK) {
        *out = (enum clearing_transfer_kind)v;
    }
    return rc;
}

const char *clearing_fee_kind_name(enum clearing_fee_kind kind)
{
    ASSERT((unsigned)kind < CLEARING_FEE__COUNT);
    return fee_kinds[kind];
}

enum err clearing_fee_kind_parse(const char *name, enum clearing_fee_kind *out)
{
    int v = 0;
    enum err rc = name_parse(fee_kinds, CLEARING_FEE__COUNT, name, &v);
    if (rc == ERR_OK) {
        *out = (enum clearing_fee_kind)v;
    }
    return rc;
}

int64_t clearing_account_kind_flags(enum clearing_account_kind kind)
{
    ASSERT((unsigned)kind < CLEARING_ACCOUNT__COUNT);
    /* The bank can only have paid out what it took in; every other account only spends what
     * it holds. */
    return kind == CLEARING_ACCOUNT_CASH ? CLEARING_CREDITS_MUST_NOT_EXCEED_DEBITS
                                         : CLEARING_DEBITS_MUST_NOT_EXCEED_CREDITS;
}

/* ---- ISO 4217 ---- */

/* Active currency codes with their minor-unit exponents (ISO 4217 list one, 2025), without
 * fund codes (CLF, COU, ...), precious metals, SDR and testing codes, which no one pays in. */
static const struct {
    char code[4];
    int exponent;
} currencies[] = {
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2}, {"AWG", 2},
    {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0}, {"BMD", 2},
    {"BND", 2}, {"BOB", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2}, {"BYN", 2}, {"BZD", 2},
    {"CAD", 2}, {"CDF", 2}, {"CHF", 2}, {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"CRC", 2}, {"CUP", 2},
    {"CVE", 2}, {"CZK", 2}, {"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2}, {"EGP", 2}, {"ERN", 2},
    {"ETB", 2}, {"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2}, {"GHS", 2}, {"GIP", 2},
    {"GMD", 2}, {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2},
    {"IDR", 2}, {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2}, {"JOD", 3},
    {"JPY", 0}, {"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0}, {"KWD", 3},
    {"KYD", 2}, {"KZT", 2}, {"LAK", 2}, {"LBP", 2}, {"LKR", 2}, {"LRD", 2}, {"LSL", 2}, {"LYD", 3},
    {"MAD", 2}, {"MDL", 2}, {"MGA", 2}, {"MKD", 2}, {"MMK", 2}, {"MNT", 2}, {"MOP", 2}, {"MRU", 2},
    {"MUR", 2}, {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MYR", 2}, {"MZN", 2}, {"NAD", 2}, {"NGN", 2},
    {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2}, {"OMR", 3}, {"PAB", 2}, {"PEN", 2}, {"PGK", 2},
    {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2}, {"RSD", 2}, {"RUB", 2},
    {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2}, {"SGD", 2}, {"SHP", 2},
    {"SLE", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2}, {"SZL", 2},
    {"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2}, {"TWD", 2},
    {"TZS", 2}, {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"UYU", 2}, {"UYW", 4}, {"UZS", 2}, {"VED", 2},
    {"VES", 2}, {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0}, {"XCD", 2}, {"XCG", 2}, {"XOF", 0},
    {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
};

int clearing_currency_exponent(const char *code)
{
    if (code == NULL || strlen(code) != 3) {
        return -1;
    }
    /* The table is sorted: binary search. */
    size_t lo = 0, hi = ARRAY_LEN(currencies);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(currencies[mid].code, code);
        if (c == 0) {
            ASSERT(currencies[mid].exponent >= 0 && currencies[mid].exponent <= 4);
            return currencies[mid].exponent;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

enum err clearing_currency_check(const char *code, const char *field, struct errbuf *err)
{
    if (code == NULL || code[0] == '\0') {
        return err_set(err, ERR_INVALID, field, "'%s' is required", field);
    }
    if (clearing_currency_exponent(code) < 0) {
        return err_set(err, ERR_INVALID, field,
                       "'%.8s' is not an active ISO 4217 currency code such as CNY", code);
    }
    return ERR_OK;
}

/* ---- derived ids and hashes ---- */

static void hash_fill(void *ctx, void *out, size_t len)
{
    const unsigned char *h = ctx;
    ASSERT(len <= crypto_generichash_BYTES_MAX);
    memcpy(out, h, len);
}

void clearing__derive_id(const char *prefix, const char *const *parts, size_t count,
                         char out[ID_MAX])
{
    struct clearing__hash h;
    clearing__hash_init(&h, prefix);
    for (size_t i = 0; i < count; i++) {
        clearing__hash_str(&h, parts[i]);
    }
    unsigned char digest[32];
    crypto_generichash_final(&h.state, digest, sizeof(digest));
    _Static_assert(ID_RANDOM_CHARS <= sizeof(digest), "an id takes one byte per character");
    const struct rng from_hash = {hash_fill, digest};
    id_new(&from_hash, prefix, out);
    ASSERT(id_valid(out, prefix));
}

struct ordered_fill {
    const struct rng *rng;
    int64_t now_ms;
};

/* The first ID_RANDOM_CHARS / 2 characters carry now_ms, 5 bits each, most significant first
 * (the id alphabet is in ASCII order, so ids sort by time); the rest are random. */
static void ordered_fill(void *ctx, void *out, size_t len)
{
    const struct ordered_fill *o = ctx;
    unsigned char *b = out;
    size_t half = ID_RANDOM_CHARS / 2;
    ASSERT(len == ID_RANDOM_CHARS);
    ASSERT(o->now_ms >= 0);
    for (size_t i = 0; i < half; i++) {
        b[i] = (unsigned char)((uint64_t)o->now_ms >> (5 * (half - 1 - i)) & 31);
    }
    rng_fill(o->rng, b + half, len - half);
}

void clearing__transfer_id(const struct clearing *c, const char *caller, const char *key,
                           int64_t now_ms, char out[ID_MAX])
{
    if (key == NULL || key[0] == '\0') {
        struct ordered_fill o = {c->rng, now_ms};
        const struct rng ordered = {ordered_fill, &o};
        id_new(&ordered, "trf", out);
        return;
    }
    const char *parts[] = {caller, key};
    clearing__derive_id("trf", parts, ARRAY_LEN(parts), out);
}

void clearing_account_id(const char *owner, enum clearing_account_kind kind, const char *currency,
                         char out[ID_MAX])
{
    ASSERT(owner != NULL && currency != NULL);
    const char *parts[] = {owner, clearing_account_kind_name(kind), currency};
    clearing__derive_id("acc", parts, ARRAY_LEN(parts), out);
}

void clearing__copy(char *dst, size_t cap, const char *src)
{
    ASSERT(cap > 0);
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void clearing__item_field(char out[CLEARING__ITEM_FIELD_MAX], size_t i)
{
    static const char prefix[] = "transfers[";
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + i % 10);
        i /= 10;
    } while (i != 0);
    memcpy(out, prefix, sizeof(prefix) - 1);
    size_t k = sizeof(prefix) - 1;
    while (n > 0) {
        out[k++] = digits[--n];
    }
    out[k++] = ']';
    out[k] = '\0';
}

void clearing__hash_init(struct clearing__hash *h, const char *what)
{
    crypto_generichash_init(&h->state, NULL, 0, 32);
    clearing__hash_str(h, "bourse.clearing");
    clearing__hash_str(h, what);
}

void clearing__hash_str(struct clearing__hash *h, const char *s)
{
    /* Length-prefixed, so that no two lists of parts hash alike; NULL differs from "". */
    int64_t len = s == NULL ? -1 : (int64_t)strlen(s);
    clearing__hash_int(h, len);
    if (s != NULL) {
        crypto_generichash_update(&h->state, (const unsigned char *)s, (size_t)len);
    }
}

void clearing__hash_int(struct clearing__hash *h, int64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)((uint64_t)v >> (8 * i));
    }
    crypto_generichash_update(&h->state, b, sizeof(b));
}

void clearing__hash_final(struct clearing__hash *h, char out[STORE_LEDGER_HASH_MAX])
{
    unsigned char digest[32];
    crypto_generichash_final(&h->state, digest, sizeof(digest));
    _Static_assert(STORE_LEDGER_HASH_MAX == 2 * CLEARING__HASH_BYTES + 1, "hex of the hash");
    sodium_bin2hex(out, STORE_LEDGER_HASH_MAX, digest, CLEARING__HASH_BYTES);
}

/* ---- field checks ---- */

static int all_in(const char *s, const char *set)
{
    for (const char *p = s; *p != '\0'; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr(set, *p) != NULL;
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

enum err clearing__check_code(const char *code, const char *field, struct errbuf *err)
{
    if (code == NULL || code[0] == '\0' || strlen(code) > CLEARING_CODE_MAX ||
        !all_in(code, "._-")) {
        return err_set(err, ERR_INVALID, field, "'%s' must be 1 to %d of a-z 0-9 . _ -", field,
                       CLEARING_CODE_MAX);
    }
    return ERR_OK;
}

enum err clearing__check_key(const char *key, const char *field, struct errbuf *err)
{
    if (key == NULL) {
        return ERR_OK;
    }
    int ok = key[0] != '\0' && strlen(key) <= CLEARING_KEY_MAX;
    for (const char *p = key; ok && *p != '\0'; p++) {
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             strchr("._:/-", *p) != NULL;
    }
    if (!ok) {
        return err_set(err, ERR_INVALID, field, "'%s' must be 1 to %d of A-Z a-z 0-9 . _ : / -",
                       field, CLEARING_KEY_MAX);
    }
    return ERR_OK;
}

enum err clearing__check_reference(const char *ref, int required, const char *field,
                                   struct errbuf *err)
{
    if (ref == NULL || ref[0] == '\0') {
        return required ? err_set(err, ERR_INVALID, field, "'%s' is required", field) : ERR_OK;
    }
    size_t len = strlen(ref);
    if (len > CLEARING_REFERENCE_MAX || !text_valid_utf8(ref, len)) {
        return err_set(err, ERR_INVALID, field, "'%s' must be UTF-8 text of at most %d bytes",
                       field, CLEARING_REFERENCE_MAX);
    }
    return ERR_OK;
}

enum err clearing__check_amount(int64_t amount, const char *field, struct errbuf *err)
{
    if (amount <= 0) {
        return err_set(err, ERR_INVALID, field, "'%s' must be a positive integer of minor units",
                       field);
    }
    return ERR_OK;
}

enum err clearing__require(const struct clearing_actor *who, unsigned roles, const char *what,
                           struct errbuf *err)
{
    ASSERT(who != NULL);
    ASSERT(roles != 0);
    if (who->id == NULL || who->id[0] == '\0' || !(roles & (1u << who->role))) {
        return err_set(err, ERR_FORBIDDEN, "", "only the operator %s", what);
    }
    return ERR_OK;
}

/* ---- balances ---- */

int64_t clearing__posted_net(const struct store_ledger_account *a)
{
    ASSERT(a->credits_posted >= 0 && a->debits_posted >= 0);
    return a->credits_posted - a->debits_posted;
}

int64_t clearing__pending_net(const struct store_ledger_account *a)
{
    ASSERT(a->credits_pending >= 0 && a->debits_pending >= 0);
    return a->credits_pending - a->debits_pending;
}

enum err clearing__account_valid(const struct store_ledger_account *a, int derived,
                                 struct errbuf *err)
{
    enum clearing_account_kind kind;
    if (clearing_account_kind_parse(a->kind, &kind) != ERR_OK ||
        clearing_currency_exponent(a->currency) < 0) {
        return err_set(err, ERR_CORRUPT, "", "ledger account '%s' has kind '%s' currency '%s'",
                       a->id, a->kind, a->currency);
    }
    char id[ID_MAX];
    if (derived) {
        clearing_account_id(a->owner, kind, a->currency, id);
    }
    if ((derived && strcmp(id, a->id) != 0) || a->flags != clearing_account_kind_flags(kind)) {
        return err_set(err, ERR_CORRUPT, "", "ledger account '%s' does not match its owner", a->id);
    }
    if (a->debits_posted < 0 || a->credits_posted < 0 || a->debits_pending < 0 ||
        a->credits_pending < 0 || a->entries < 0 || a->last_seq < -1 ||
        (a->entries == 0) != (a->last_seq == -1)) {
        return err_set(err, ERR_CORRUPT, "", "ledger account '%s' has a negative counter", a->id);
    }
    /* Under each flag the bounded side's sum fits: it is at most the other counter. */
    if ((a->flags & CLEARING_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        (a->debits_posted > a->credits_posted ||
         a->debits_pending > a->credits_posted - a->debits_posted)) {
        return err_set(err, ERR_CORRUPT, "", "ledger account '%s' is overdrawn", a->id);
    }
    if ((a->flags & CLEARING_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
        (a->credits_posted > a->debits_posted ||
         a->credits_pending > a->debits_posted - a->credits_posted)) {
        return err_set(err, ERR_CORRUPT, "", "ledger account '%s' is overdrawn", a->id);
    }
    return ERR_OK;
}

/* ---- JSON ---- */

static json_t *time_or_null(int64_t ms)
{
    if (ms == 0) {
        return json_null();
    }
    char t[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(ms, t);
    return json_string(t);
}

/* Sets o[key] to a new value (stolen even on failure); 1 on failure. */
static int put(json_t *o, const char *key, json_t *value)
{
    return value == NULL || json_object_set_new_nocheck(o, key, value) != 0;
}

json_t *clearing_transfer_json(const struct store_ledger_transfer *t)
{
    ASSERT(t->id[0] != '\0');
    ASSERT(t->amount > 0);
    /* Built member by member (json_pack parses its format each time: this runs once per
     * transfer of every event). Optional members only when set. */
    json_t *o = json_object();
    int bad = o == NULL;
    bad = bad || put(o, "id", json_string_nocheck(t->id));
    bad = bad || put(o, "kind", json_string_nocheck(t->kind));
    bad = bad || put(o, "debit_account", json_string_nocheck(t->debit_account));
    bad = bad || put(o, "credit_account", json_string_nocheck(t->credit_account));
    bad = bad || put(o, "amount", json_integer(t->amount));
    bad = bad || put(o, "currency", json_string_nocheck(t->currency));
    bad = bad || put(o, "code", json_string_nocheck(t->code));
    if (t->reference[0] != '\0') {
        bad = bad || put(o, "reference", json_string(t->reference));
    }
    if (t->pending_id[0] != '\0') {
        bad = bad || put(o, "pending_id", json_string_nocheck(t->pending_id));
    }
    if (t->timeout_ms != 0) {
        bad = bad || put(o, "timeout_at", time_or_null(t->timeout_ms));
    }
    if (t->idempotency_key[0] != '\0') {
        bad = bad || put(o, "idempotency_key", json_string_nocheck(t->idempotency_key));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *clearing_account_json(const struct store_ledger_account *a)
{
    ASSERT(a->id[0] != '\0');
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", a->id, "owner", a->owner, "kind", a->kind,
                     "currency", a->currency, "flags", (json_int_t)a->flags);
}

json_t *clearing_fee_schedule_json(const struct store_fee_schedule *f)
{
    ASSERT(f->id[0] != '\0');
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:s, s:s*, s:I, s:I, s:I, s:I, s:s*}", "id", f->id, "name",
                  f->name, "version", (json_int_t)f->version, "kind", f->kind, "currency",
                  f->currency[0] != '\0' ? f->currency : NULL, "rate_bp", (json_int_t)f->rate_bp,
                  "minimum", (json_int_t)f->minimum, "cap", (json_int_t)f->cap, "fixed_amount",
                  (json_int_t)f->fixed_amount, "period", f->period[0] != '\0' ? f->period : NULL);
    return o;
}
