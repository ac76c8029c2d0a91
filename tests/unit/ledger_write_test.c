/*
 * ledger_write_test.c: the ledger's fast write path (docs/decisions/0004-ledger.md,
 * Measurements) against what it replaced, on SQLite and, when BOURSE_TEST_PG_URL is set, on
 * PostgreSQL:
 *
 *   - JSON text written directly is byte for byte jansson's: strings (every ASCII byte, UTF-8,
 *     malformed UTF-8 refused alike), integers, event bodies of every shape (random property
 *     test against the json_t tree the ledger used to build), and the event leaf;
 *   - migration 12 rebuilds filled SQLite ledger tables of the old shape without changing a
 *     row, and the rebuilt tables keep their constraints;
 *   - deferred writes (PostgreSQL's pipeline): a failure surfaces at the next statement that
 *     waits, the statements after it do not run, and a rollback leaves nothing; a ledger
 *     mutation whose deferred insert fails, or that is refused after its savepoint was queued,
 *     changes nothing;
 *   - the batch reads and writes: a multi-get of up to 130 ids with repeats and missing ones,
 *     and an update of a missing account refused on both backends.
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "clearing/clearing_int.h"
#include "store/store_int.h"

#include "market.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define T0_MS 1795305540000 /* 2026-11-21T23:59:00Z */

/* ---- a small random source for the property tests ---- */

static uint64_t rnd_state = 0x2545f4914f6cdd1du;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state >> 12;
    rnd_state ^= rnd_state << 25;
    rnd_state ^= rnd_state >> 27;
    return rnd_state * 2685821657736338717u;
}

static size_t rnd_below(size_t n)
{
    return (size_t)(rnd() % n);
}

/* Appends one random well-formed UTF-8 character, biased towards what needs escaping. */
static size_t rnd_char(char *out)
{
    static const char special[] = {'"', '\\', '/', '\b', '\f', '\n', '\r', '\t', 0x01, 0x1f, 0x7f};
    switch (rnd_below(6)) {
    case 0:
        out[0] = special[rnd_below(sizeof(special))];
        return 1;
    case 1: /* U+0080..U+07FF */
    {
        uint32_t cp = 0x80 + (uint32_t)rnd_below(0x800 - 0x80);
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    case 2: /* U+0800..U+FFFF without surrogates */
    {
        uint32_t cp = 0x800 + (uint32_t)rnd_below(0x10000 - 0x800);
        if (cp >= 0xd800 && cp <= 0xdfff) {
            cp = 0x4e2d; /* 中 */
        }
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    case 3: /* U+10000..U+10FFFF */
    {
        uint32_t cp = 0x10000 + (uint32_t)rnd_below(0x110000 - 0x10000);
        out[0] = (char)(0xf0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
    }
    default:
        out[0] = (char)(0x20 + rnd_below(0x5f));
        return 1;
    }
}

/* A random NUL-terminated UTF-8 text of at most cap - 1 bytes (no NUL inside). */
static void rnd_text(char *out, size_t cap)
{
    size_t want = rnd_below(cap > 40 ? 40 : cap);
    size_t n = 0;
    char c[4];
    while (n < want) {
        size_t k = rnd_char(c);
        if (n + k >= cap) {
            break;
        }
        memcpy(out + n, c, k);
        n += k;
    }
    out[n] = '\0';
}

/* ---- JSON text ---- */

/* jansson's text of the JSON string s[0..len), or NULL when jansson refuses it. */
static char *jansson_string(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j == NULL) {
        return NULL;
    }
    char *text = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    return text;
}

static void string_matches(const char *s, size_t len)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append(&b, "x", 1), ERR_OK);
    char *want = jansson_string(s, len);
    enum err rc = buf_append_json_string(&b, s, len);
    if (want == NULL) {
        /* Refused alike, and nothing of it stays in the buffer. */
        assert_int_equal(rc, ERR_INVALID);
        assert_int_equal(b.len, 1);
        assert_string_equal(b.data, "x");
    } else {
        assert_int_equal(rc, ERR_OK);
        assert_string_equal(b.data + 1, want);
    }
    free(want);
    buf_release(&b);
}

static void test_ledger_write__json_strings_match_jansson(void **state)
{
    (void)state;
    /* Every single byte, valid alone or not, and NUL inside a string. */
    for (int c = 0; c < 256; c++) {
        char s[3] = {'a', (char)c, 'b'};
        string_matches(s, sizeof(s));
    }
    string_matches("", 0);
    const char *const fixed[] = {
        "plain",
        "O'Brien \\ \\' \"引号\" '); DROP TABLE x; --",
        "a/b\\/c",
        "tab\there\nnew\rline\b\f\x01\x1f\x7f",
        "中文 日本語 한국어 😀 \xf4\x8f\xbf\xbf",
        "\xc0\x80",             /* overlong NUL */
        "\xe0\x80\xaf",         /* overlong slash */
        "\xed\xa0\x80",         /* a surrogate */
        "\xf4\x90\x80\x80",     /* past U+10FFFF */
        "\xe4\xb8",             /* truncated */
        "\x80 lone",            /* a lone continuation */
        "ok \xff not",          /* never valid */
        "\xf0\x9f\x98\x80\x80", /* an emoji, then a stray continuation */
    };
    for (size_t i = 0; i < ARRAY_LEN(fixed); i++) {
        string_matches(fixed[i], strlen(fixed[i]));
    }
    /* Random texts, and random bytes (mostly malformed). */
    for (int i = 0; i < 20000; i++) {
        char s[64];
        rnd_text(s, sizeof(s));
        string_matches(s, strlen(s));
        size_t n = rnd_below(12);
        for (size_t k = 0; k < n; k++) {
            s[k] = (char)rnd();
        }
        string_matches(s, n);
    }
}

static void test_ledger_write__json_integers_and_limits(void **state)
{
    (void)state;
    int64_t fixed[] = {0, 1, -1, 9, 10, -10, INT64_MAX, INT64_MIN, INT64_MIN + 1, 1099511627776};
    for (size_t i = 0; i < ARRAY_LEN(fixed) + 10000; i++) {
        int64_t v = i < ARRAY_LEN(fixed) ? fixed[i] : (int64_t)rnd() >> rnd_below(63);
        struct buf b;
        buf_init(&b, 64);
        assert_int_equal(buf_append_i64(&b, v), ERR_OK);
        char want[32];
        snprintf(want, sizeof(want), "%" PRId64, v);
        assert_string_equal(b.data, want);
        buf_release(&b);
    }
    /* Past the buffer's max: ERR_LIMIT, and the buffer as it was. */
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_append_json_cstr(&b, "abc"), ERR_OK);
    assert_int_equal(buf_append_json_cstr(&b, "defg"), ERR_LIMIT);
    assert_string_equal(b.data, "\"abc\"");
    assert_int_equal(buf_append_i64(&b, 1234), ERR_LIMIT);
    assert_string_equal(b.data, "\"abc\"");
    buf_release(&b);
}

/* ---- event bodies ---- */

/* A random id-like text: prefix_ and base32-ish characters. */
static void rnd_id(const char *prefix, char out[ID_MAX])
{
    static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
    size_t n = (size_t)snprintf(out, ID_MAX, "%s_", prefix);
    while (n < ID_MAX - 1) {
        out[n++] = alphabet[rnd_below(sizeof(alphabet) - 1)];
    }
    out[n] = '\0';
}

static void rnd_transfer(struct store_ledger_transfer *t)
{
    static const char *const kinds[] = {"transfer", "pending", "post", "void"};
    static const char *const codes[] = {"bench.trade", "settlement.fee", "deposit", "a-b_c.d"};
    memset(t, 0, sizeof(*t));
    rnd_id("trf", t->id);
    snprintf(t->kind, sizeof(t->kind), "%s", kinds[rnd_below(4)]);
    snprintf(t->state, sizeof(t->state), "posted");
    rnd_id("acc", t->debit_account);
    rnd_id("acc", t->credit_account);
    t->amount = 1 + (int64_t)(rnd() >> (1 + rnd_below(62)));
    snprintf(t->currency, sizeof(t->currency), "%s", rnd_below(2) ? "CNY" : "USD");
    snprintf(t->code, sizeof(t->code), "%s", codes[rnd_below(4)]);
    if (rnd_below(2)) {
        rnd_text(t->reference, sizeof(t->reference));
    }
    if (rnd_below(3) == 0) {
        rnd_id("trf", t->pending_id);
    }
    if (rnd_below(3) == 0) {
        t->timeout_ms = 1 + (int64_t)rnd_below((size_t)CLEARING_TIME_MAX_MS);
    }
    if (rnd_below(2)) {
        snprintf(t->idempotency_key, sizeof(t->idempotency_key), "key-%" PRIu64, rnd());
    }
}

static json_t *rnd_json(int depth)
{
    switch (rnd_below(depth > 0 ? 7 : 4)) {
    case 0:
        return json_integer((json_int_t)(rnd() >> rnd_below(64)));
    case 1: {
        char s[64];
        rnd_text(s, sizeof(s));
        return json_string(s);
    }
    case 2:
        return json_null();
    case 3:
        return rnd_below(2) ? json_true() : json_false();
    case 4:
    case 5: {
        json_t *o = json_object();
        size_t n = rnd_below(4);
        for (size_t i = 0; i < n; i++) {
            char k[16];
            snprintf(k, sizeof(k), "%c%u", (char)('a' + rnd_below(26)), (unsigned)rnd_below(9));
            json_object_set_new(o, k, rnd_json(depth - 1));
        }
        return o;
    }
    default: {
        json_t *a = json_array();
        size_t n = rnd_below(4);
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(a, rnd_json(depth - 1));
        }
        return a;
    }
    }
}

/* The body as the ledger built it before event_text.c: a json_t tree, dumped. */
static char *old_body(const struct clearing__op *op)
{
    json_t *body = json_object();
    json_t *transfers = json_array();
    json_t *accounts = json_array();
    for (size_t i = 0; i < op->ntransfers; i++) {
        json_array_append_new(transfers, clearing_transfer_json(&op->transfers[i]));
    }
    for (size_t i = 0; i < op->naccounts; i++) {
        if (op->accounts[i].is_new) {
            json_array_append_new(accounts, clearing_account_json(&op->accounts[i].a));
        }
    }
    if (op->extra != NULL) {
        json_object_update(body, op->extra);
    }
    json_object_set(body, "transfers", transfers);
    if (json_array_size(accounts) > 0) {
        json_object_set(body, "accounts", accounts);
    }
    json_decref(transfers);
    json_decref(accounts);
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    return text;
}

static void test_ledger_write__event_body_matches_jansson(void **state)
{
    (void)state;
    static const char *const extra_keys[] = {"reason",  "fee_schedule", "period", "a",       "b",
                                             "account", "transfer",     "zzz",    "contract"};
    struct clearing__op *op = calloc(1, sizeof(*op));
    assert_non_null(op);
    for (int round = 0; round < 3000; round++) {
        memset(op, 0, CLEARING__OP_ZEROED);
        op->ntransfers = 1 + rnd_below(round % 10 == 0 ? CLEARING_BATCH_MAX : 4);
        for (size_t i = 0; i < op->ntransfers; i++) {
            rnd_transfer(&op->transfers[i]);
        }
        op->naccounts = rnd_below(5);
        for (size_t i = 0; i < op->naccounts; i++) {
            struct clearing__slot *slot = &op->accounts[i];
            memset(slot, 0, sizeof(*slot));
            rnd_id("acc", slot->a.id);
            rnd_id(rnd_below(2) ? "ent" : "prd", slot->a.owner);
            snprintf(slot->a.kind, sizeof(slot->a.kind), "%s",
                     clearing_account_kind_name((enum clearing_account_kind)rnd_below(5)));
            snprintf(slot->a.currency, sizeof(slot->a.currency), "CNY");
            slot->a.flags = (int64_t)rnd_below(3);
            slot->is_new = (int)rnd_below(2);
        }
        if (rnd_below(2)) {
            op->extra = json_object();
            size_t n = rnd_below(4);
            for (size_t i = 0; i < n; i++) {
                json_object_set_new(op->extra, extra_keys[rnd_below(ARRAY_LEN(extra_keys))],
                                    rnd_json(3));
            }
        }
        struct buf b;
        buf_init(&b, STORE_LEAF_MAX);
        assert_int_equal(clearing__event_text(op, &b), ERR_OK);
        char *want = old_body(op);
        assert_non_null(want);
        assert_string_equal(b.data, want);
        free(want);
        buf_release(&b);
        /* And each transfer and account alone, as the HTTP answers render them. */
        buf_init(&b, STORE_LEAF_MAX);
        assert_int_equal(clearing__transfer_text(&b, &op->transfers[0]), ERR_OK);
        json_t *t = clearing_transfer_json(&op->transfers[0]);
        want = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(b.data, want);
        free(want);
        json_decref(t);
        buf_release(&b);
        json_decref(op->extra);
        op->extra = NULL;
    }
    /* A text that is not UTF-8 is refused, as jansson refused to dump it. */
    memset(op, 0, CLEARING__OP_ZEROED);
    op->ntransfers = 1;
    rnd_transfer(&op->transfers[0]);
    snprintf(op->transfers[0].reference, sizeof(op->transfers[0].reference), "bad \xff");
    struct buf b;
    buf_init(&b, STORE_LEAF_MAX);
    assert_int_equal(clearing__event_text(op, &b), ERR_INVALID);
    buf_release(&b);
    free(op);
}

/* ---- the event leaf ---- */

/* The leaf as store_event_append built it before: json_pack of the whole event, dumped. */
static char *old_leaf(int64_t seq, const char *type, const char *actor, const char *subject,
                      int64_t time_ms, json_t *body)
{
    char t[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(time_ms, t);
    json_t *o =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:O, s:i}", "seq", (json_int_t)seq, "type", type,
                  "actor", actor, "subject", subject, "time", t, "body", body, "v", 1);
    char *leaf = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return leaf;
}

static void test_ledger_write__event_leaf_matches_jansson(void **state)
{
    (void)state;
    struct store *s = NULL;
    assert_int_equal(store_open(":memory:", &s, NULL), ERR_OK);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    for (int i = 0; i < 400; i++) {
        char type[32], actor[ID_MAX], subject[ID_MAX]; /* the sizes events keep */
        snprintf(type, sizeof(type), "clearing.t%d", i % 7);
        rnd_text(actor, sizeof(actor));
        rnd_text(subject, sizeof(subject));
        json_t *body = json_object();
        json_object_set_new(body, "x", rnd_json(3));
        json_object_set_new(body, "a\"b", rnd_json(2));
        int64_t time_ms = (int64_t)rnd_below((size_t)CLEARING_TIME_MAX_MS);
        int64_t seq = -1;
        if (i % 2 == 0) {
            assert_int_equal(store_event_append(s, type, actor, subject, time_ms, body, &seq, NULL),
                             ERR_OK);
        } else {
            char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
            assert_int_equal(store_event_append_text(s, type, actor, subject, time_ms, text,
                                                     strlen(text), &seq, NULL),
                             ERR_OK);
            free(text);
        }
        assert_int_equal(seq, i);
        struct store_event *ev = NULL;
        size_t n = 0;
        assert_int_equal(store_event_range(s, seq, 1, &ev, &n, NULL), ERR_OK);
        assert_int_equal(n, 1);
        char *want = old_leaf(seq, type, actor, subject, time_ms, body);
        assert_string_equal(ev[0].leaf, want);
        assert_int_equal(ev[0].leaf_len, strlen(want));
        free(want);
        store_event_release(&ev[0]);
        mem_free(ev);
        json_decref(body);
    }
    /* Over the leaf limit: ERR_LIMIT, nothing appended. */
    size_t big = STORE_LEAF_MAX;
    char *text = malloc(big + 1);
    memset(text, 'a', big);
    text[0] = '{';
    memcpy(text + 1, "\"k\":\"", 5);
    text[big - 2] = '"';
    text[big - 1] = '}';
    text[big] = '\0';
    int64_t seq = -1;
    struct errbuf err;
    errbuf_init(&err);
    expect(store_event_append_text(s, "clearing.big", "a", "b", 0, text, big, &seq, &err),
           ERR_LIMIT, &err, NULL);
    free(text);
    int64_t count = 0;
    assert_int_equal(store_event_count(s, &count, NULL), ERR_OK);
    assert_int_equal(count, 400);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    store_close(s);
}

/* ---- a ledger on a store ---- */

struct ledger {
    struct test_clock_state clock_state;
    struct test_rng_state rng_state;
    struct clock clock;
    struct rng rng;
    struct clearing c;
    struct clearing_actor op, sys;
    char op_id[ID_MAX];
    char ent[8][ID_MAX];
    char pg_db[MARKET_PG_DB_MAX];
};

static void entity(struct ledger *l, char id[ID_MAX])
{
    struct store_entity e;
    memset(&e, 0, sizeof(e));
    id_new(&l->rng, "ent", e.id);
    snprintf(e.kind, sizeof(e.kind), "buyer");
    snprintf(e.status, sizeof(e.status), "verified");
    snprintf(e.name, sizeof(e.name), "实体 %s", e.id);
    snprintf(e.country, sizeof(e.country), "CN");
    e.created_ms = T0_MS;
    assert_int_equal(store_entity_insert(l->c.store, &e, NULL), ERR_OK);
    snprintf(id, ID_MAX, "%s", e.id);
}

/* A ledger on SQLite in memory (pg_name NULL) or on a fresh PostgreSQL database. */
static struct ledger *ledger_open(const char *pg_name)
{
    struct ledger *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    l->clock_state.now_ms = T0_MS;
    l->clock = (struct clock){test_clock_now, &l->clock_state};
    l->rng = (struct rng){test_rng_fill, &l->rng_state};
    market_store_open(pg_name, &l->c.store, l->pg_db);
    l->c.clock = &l->clock;
    l->c.rng = &l->rng;
    entity(l, l->op_id);
    l->op = (struct clearing_actor){l->op_id, CLEARING_ROLE_OPERATOR};
    l->sys = (struct clearing_actor){CLEARING_SWEEPER, CLEARING_ROLE_SYSTEM};
    for (size_t i = 0; i < ARRAY_LEN(l->ent); i++) {
        entity(l, l->ent[i]);
    }
    return l;
}

static void ledger_close(struct ledger *l)
{
    market_store_close(l->c.store, l->pg_db);
    free(l);
}

/* Runs fn on SQLite, and on PostgreSQL when a cluster is named. */
static void on_both(void (*fn)(struct ledger *l), const char *pg_name)
{
    struct ledger *l = ledger_open(NULL);
    fn(l);
    ledger_close(l);
    if (market_pg_admin_url() != NULL) {
        l = ledger_open(pg_name);
        fn(l);
        ledger_close(l);
    }
}

static struct store_ledger_transfer deposit(struct ledger *l, const char *entity_id, int64_t amount)
{
    struct clearing_movement m = {entity_id, "CNY", amount, "bank ref 'x' \"y\" 中", NULL};
    struct store_ledger_transfer t;
    int replayed = 0;
    struct errbuf err;
    errbuf_init(&err);
    expect(clearing_deposit(&l->c, &l->op, &m, &t, &replayed, &err), ERR_OK, &err, NULL);
    return t;
}

static void account_of(const char *owner, char id[ID_MAX])
{
    clearing_account_id(owner, CLEARING_ACCOUNT_AVAILABLE, "CNY", id);
}

static enum err batch(struct ledger *l, const struct clearing_transfer_in *in, size_t n,
                      struct errbuf *err)
{
    struct store_ledger_transfer out[CLEARING_BATCH_MAX];
    int replayed = 0;
    return clearing_transfer_batch(&l->c, &l->sys, in, n, out, &replayed, err);
}

/* Random transfers between the ledger's entities, in batches: enough for history marks. */
static void traffic(struct ledger *l, int batches)
{
    char acc[ARRAY_LEN(l->ent)][ID_MAX];
    for (size_t i = 0; i < ARRAY_LEN(l->ent); i++) {
        account_of(l->ent[i], acc[i]);
    }
    for (int b = 0; b < batches; b++) {
        struct clearing_transfer_in in[CLEARING_BATCH_MAX];
        size_t n = 1 + rnd_below(CLEARING_BATCH_MAX);
        for (size_t i = 0; i < n; i++) {
            size_t from = rnd_below(ARRAY_LEN(l->ent));
            size_t to = (from + 1 + rnd_below(ARRAY_LEN(l->ent) - 1)) % ARRAY_LEN(l->ent);
            in[i] = (struct clearing_transfer_in){
                acc[from], acc[to], 1 + (int64_t)rnd_below(1000), "CNY", "test.trade", NULL, NULL};
        }
        struct errbuf err;
        errbuf_init(&err);
        expect(batch(l, in, n, &err), ERR_OK, &err, NULL);
    }
}

/* A digest of every ledger row (columns named, so that a rebuilt table compares equal) and of
 * the events. */
static void digest(struct store *s, char out[65])
{
    static const char *const sql[] = {
        "SELECT id, owner, kind, currency, flags, debits_posted, credits_posted, debits_pending,"
        " credits_pending, last_seq, entries, created_ms, log_index FROM ledger_accounts"
        " ORDER BY id",
        "SELECT seq, id, kind, state, debit_account, credit_account, amount, currency, code,"
        " reference, pending_id, timeout_ms, caller, idempotency_key, request_hash,"
        " debit_posted_after, debit_pending_after, credit_posted_after, credit_pending_after,"
        " debit_prev_seq, credit_prev_seq, created_ms, log_index FROM ledger_transfers"
        " ORDER BY seq",
        "SELECT timeout_ms, transfer_id FROM ledger_timeouts ORDER BY timeout_ms, transfer_id",
        "SELECT account_id, created_ms, seq FROM ledger_marks ORDER BY account_id, created_ms, seq",
        "SELECT seq, leaf FROM events ORDER BY seq",
    };
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (size_t i = 0; i < ARRAY_LEN(sql); i++) {
        assert_int_equal(store_query(s, sql[i], NULL, 0, market_digest_cb, &st, NULL, NULL),
                         ERR_OK);
    }
    unsigned char h[32];
    crypto_generichash_final(&st, h, sizeof(h));
    sodium_bin2hex(out, 65, h, sizeof(h));
}

static void check_ok(struct store *s)
{
    struct clearing_check_report *r = calloc(1, sizeof(*r));
    struct errbuf err;
    errbuf_init(&err);
    expect(clearing_check(s, r, &err), ERR_OK, &err, NULL);
    assert_int_equal(r->problems, 0);
    expect(clearing_check_log(s, r, &err), ERR_OK, &err, NULL);
    assert_int_equal(r->problems, 0);
    free(r);
}

/* ---- migration 12 ---- */

static enum err count_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    return store__count_cb(ctx, c, n, err);
}

static int64_t count_of(struct store *s, const char *sql)
{
    int64_t n = -1;
    assert_int_equal(store_query(s, sql, NULL, 0, count_cb, &n, NULL, NULL), ERR_OK);
    return n;
}

/* The ledger's three hot tables as migration 3 made them (rowid tables), holding the rows of
 * the current ones: the shape a database has before migration 12. */
static void ledger_tables_to_old_shape(struct store *s)
{
    static const char sql[] =
        "CREATE TABLE old_accounts (id TEXT PRIMARY KEY, owner TEXT NOT NULL, kind TEXT NOT NULL,"
        "  currency TEXT NOT NULL, flags BIGINT NOT NULL, debits_posted BIGINT NOT NULL,"
        "  credits_posted BIGINT NOT NULL, debits_pending BIGINT NOT NULL,"
        "  credits_pending BIGINT NOT NULL, last_seq BIGINT NOT NULL, entries BIGINT NOT NULL,"
        "  created_ms BIGINT NOT NULL, log_index BIGINT NOT NULL);"
        "INSERT INTO old_accounts SELECT id, owner, kind, currency, flags, debits_posted,"
        "  credits_posted, debits_pending, credits_pending, last_seq, entries, created_ms,"
        "  log_index FROM ledger_accounts;"
        "DROP TABLE ledger_accounts;"
        "ALTER TABLE old_accounts RENAME TO ledger_accounts;"
        "CREATE INDEX ledger_accounts_owner ON ledger_accounts (owner, currency, kind);"
        "CREATE TABLE old_transfers (seq BIGINT PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
        "  kind TEXT NOT NULL, state TEXT NOT NULL, debit_account TEXT NOT NULL,"
        "  credit_account TEXT NOT NULL, amount BIGINT NOT NULL, currency TEXT NOT NULL,"
        "  code TEXT NOT NULL, reference TEXT NOT NULL, pending_id TEXT NOT NULL,"
        "  timeout_ms BIGINT NOT NULL, caller TEXT NOT NULL, idempotency_key TEXT NOT NULL,"
        "  request_hash TEXT NOT NULL, debit_posted_after BIGINT NOT NULL,"
        "  debit_pending_after BIGINT NOT NULL, credit_posted_after BIGINT NOT NULL,"
        "  credit_pending_after BIGINT NOT NULL, debit_prev_seq BIGINT NOT NULL,"
        "  credit_prev_seq BIGINT NOT NULL, created_ms BIGINT NOT NULL,"
        "  log_index BIGINT NOT NULL);"
        "INSERT INTO old_transfers SELECT seq, id, kind, state, debit_account, credit_account,"
        "  amount, currency, code, reference, pending_id, timeout_ms, caller, idempotency_key,"
        "  request_hash, debit_posted_after, debit_pending_after, credit_posted_after,"
        "  credit_pending_after, debit_prev_seq, credit_prev_seq, created_ms, log_index"
        "  FROM ledger_transfers ORDER BY id DESC;" /* rowids in another order than seq */
        "DROP TABLE ledger_transfers;"
        "ALTER TABLE old_transfers RENAME TO ledger_transfers;"
        "CREATE TABLE old_marks (account_id TEXT NOT NULL, created_ms BIGINT NOT NULL,"
        "  seq BIGINT NOT NULL, PRIMARY KEY (account_id, created_ms, seq));"
        "INSERT INTO old_marks SELECT account_id, created_ms, seq FROM ledger_marks;"
        "DROP TABLE ledger_marks;"
        "ALTER TABLE old_marks RENAME TO ledger_marks;";
    assert_int_equal(store_exec(s, sql, NULL), ERR_OK);
}

static void test_ledger_write__migration_12_keeps_every_row(void **state)
{
    (void)state;
    struct ledger *l = ledger_open(NULL);
    struct store *s = l->c.store;
    for (size_t i = 0; i < ARRAY_LEN(l->ent); i++) {
        deposit(l, l->ent[i], 1000000);
    }
    struct clearing_hold h = {l->ent[0], "CNY", 500, 60000, "hold 'ref'", NULL};
    struct store_ledger_transfer pending;
    int replayed = 0;
    assert_int_equal(clearing_hold(&l->c, &l->sys, &h, &pending, &replayed, NULL), ERR_OK);
    traffic(l, 12);
    assert_true(count_of(s, "SELECT COUNT(*) FROM ledger_marks") > 0);
    assert_int_equal(count_of(s, "SELECT COUNT(*) FROM ledger_timeouts"), 1);
    char before[65], after[65];
    digest(s, before);

    ledger_tables_to_old_shape(s);
    assert_int_equal(count_of(s, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE"
                                 " 'sqlite_autoindex_ledger_transfers_%'"),
                     2);
    const char *ddl = store__backend_ddl(s, 12);
    assert_non_null(ddl);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    assert_int_equal(store_exec(s, ddl, NULL), ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);

    /* Every row as it was, in the new shape: seq is the rowid, accounts and marks have none. */
    digest(s, after);
    assert_string_equal(before, after);
    assert_int_equal(count_of(s, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE"
                                 " 'sqlite_autoindex_ledger_transfers_%'"),
                     1); /* the id's UNIQUE only */
    assert_int_equal(count_of(s, "SELECT COUNT(*) FROM pragma_table_list"
                                 " WHERE name IN ('ledger_accounts', 'ledger_marks')"
                                 " AND wr = 1"),
                     2);
    assert_int_equal(count_of(s, "SELECT COUNT(*) FROM ledger_transfers WHERE rowid <> seq"), 0);
    assert_int_equal(count_of(s, "SELECT COUNT(*) FROM sqlite_master WHERE name ="
                                 " 'ledger_accounts_owner'"),
                     1);
    check_ok(s);

    /* The constraints hold: a repeated transfer id, seq or account id is a conflict. */
    struct store_ledger_transfer t;
    const char *ids[] = {pending.id};
    int found = 0;
    assert_int_equal(store_ledger_transfers_get(s, ids, 1, &t, &found, NULL), ERR_OK);
    assert_true(found);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    t.seq += 1000000;
    assert_int_equal(store_ledger_transfers_insert(s, &t, 1, NULL), ERR_CONFLICT);
    t.seq -= 1000000;
    snprintf(t.id, sizeof(t.id), "trf_00000000000000000000");
    assert_int_equal(store_ledger_transfers_insert(s, &t, 1, NULL), ERR_CONFLICT);
    struct store_ledger_account a;
    char acc[ID_MAX];
    account_of(l->ent[1], acc);
    const char *aids[] = {acc};
    assert_int_equal(store_ledger_accounts_get(s, aids, 1, &a, &found, NULL), ERR_OK);
    assert_int_equal(store_ledger_account_insert(s, &a, NULL), ERR_CONFLICT);
    store_tx_rollback(s);

    /* And the ledger goes on. */
    traffic(l, 3);
    check_ok(s);
    ledger_close(l);
}

/* ---- deferred writes ---- */

static enum err meta_value(struct store *s, const char *name, char out[32], struct errbuf *err)
{
    char *v = NULL;
    enum err rc = store_meta_get(s, name, &v, err);
    snprintf(out, 32, "%s", rc == ERR_OK ? v : "");
    mem_free(v);
    return rc;
}

static void defer_failure(struct ledger *l)
{
    struct store *s = l->c.store;
    struct store_entity e;
    assert_int_equal(store_entity_get(s, l->ent[0], &e, NULL), ERR_OK);
    /* Prepare the statements once: only prepared ones are deferred. */
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    assert_int_equal(store_meta_put(s, "w.prepare", "1", NULL), ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);

    /* In a transaction: one write before a savepoint, then deferred writes in it of which
     * the second fails (the entity exists). */
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    assert_int_equal(store_meta_put(s, "w.kept", "1", NULL), ERR_OK);
    store_defer_begin(s);
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = store_tx_begin(s, &err); /* a savepoint: deferred on PostgreSQL */
    assert_int_equal(rc, ERR_OK);
    enum err first = ERR_OK;
    rc = store_meta_put(s, "w.a", "1", &err);
    first = first == ERR_OK ? rc : first;
    rc = store_entity_insert(s, &e, &err);
    first = first == ERR_OK ? rc : first;
    rc = store_meta_put(s, "w.b", "2", &err); /* after it: not run (PostgreSQL) or undone */
    first = first == ERR_OK ? rc : first;
    /* The next statement that waits reports the deferred failure, at the latest. */
    char v[32];
    rc = meta_value(s, "w.kept", v, &err);
    first = first == ERR_OK ? rc : first;
    assert_int_equal(first, ERR_CONFLICT);
    store_tx_rollback(s); /* the savepoint */
    assert_int_equal(store_defer_end(s, NULL), ERR_OK);
    /* The transaction goes on and commits what was before the savepoint. */
    assert_int_equal(store_meta_put(s, "w.after", "3", NULL), ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    assert_int_equal(meta_value(s, "w.kept", v, NULL), ERR_OK);
    assert_int_equal(meta_value(s, "w.after", v, NULL), ERR_OK);
    assert_int_equal(meta_value(s, "w.a", v, NULL), ERR_NOT_FOUND);
    assert_int_equal(meta_value(s, "w.b", v, NULL), ERR_NOT_FOUND);

    /* Deferred writes that succeed are all there after store_defer_end and the commit. */
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    store_defer_begin(s);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof(k), "w.n%d", i);
        assert_int_equal(store_meta_put(s, k, "x", NULL), ERR_OK);
    }
    assert_int_equal(store_defer_end(s, NULL), ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    assert_int_equal(count_of(s, "SELECT COUNT(*) FROM meta WHERE name LIKE 'w.n%'"), 20);
    assert_int_equal(store_tx_depth(s), 0);
}

static void test_ledger_write__deferred_failure_rolls_back(void **state)
{
    (void)state;
    on_both(defer_failure, "ledger_defer");
}

/* A transfer row planted at the seq the next mutation's first transfer takes: its insert (a
 * deferred write on PostgreSQL) fails, and the whole mutation with it. */
static void deferred_insert_fails(struct ledger *l)
{
    struct store *s = l->c.store;
    struct store_ledger_transfer first = deposit(l, l->ent[0], 5000); /* prepares everything */
    struct store_ledger_transfer planted = first;
    snprintf(planted.id, sizeof(planted.id), "trf_plantedplantedplant");
    planted.seq = market_event_count(s) * CLEARING_BATCH_MAX;
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    assert_int_equal(store_ledger_transfers_insert(s, &planted, 1, NULL), ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    char before[65], after[65];
    digest(s, before);
    int64_t ev = market_event_count(s);

    struct clearing_movement m = {l->ent[1], "CNY", 700, "bank", NULL};
    struct store_ledger_transfer t;
    int replayed = 0;
    struct errbuf err;
    errbuf_init(&err);
    expect(clearing_deposit(&l->c, &l->op, &m, &t, &replayed, &err), ERR_CONFLICT, &err,
           "idempotency_key");
    digest(s, after);
    assert_string_equal(before, after);
    assert_int_equal(market_event_count(s), ev);
    assert_int_equal(store_tx_depth(s), 0);

    /* Without the planted row the same deposit goes through, and the ledger checks. */
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    struct store_value p[] = {store_text(planted.id)};
    assert_int_equal(
        store_query(s, "DELETE FROM ledger_transfers WHERE id = $1", p, 1, NULL, NULL, NULL, NULL),
        ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    errbuf_init(&err);
    expect(clearing_deposit(&l->c, &l->op, &m, &t, &replayed, &err), ERR_OK, &err, NULL);
    check_ok(s);
}

static void test_ledger_write__failed_insert_changes_nothing(void **state)
{
    (void)state;
    on_both(deferred_insert_fails, "ledger_planted");
}

/* Refusals after the mutation's savepoint was sent (deferred on PostgreSQL): each changes
 * nothing, and the next mutation works. */
static void refusals_after_begin(struct ledger *l)
{
    struct store *s = l->c.store;
    for (size_t i = 0; i < 3; i++) {
        deposit(l, l->ent[i], 1000);
    }
    char a[ID_MAX], b[ID_MAX], c[ID_MAX];
    account_of(l->ent[0], a);
    account_of(l->ent[1], b);
    account_of(l->ent[2], c);
    struct clearing_transfer_in in[] = {
        {a, b, 10, "CNY", "test.trade", NULL, NULL},
        {b, c, 0, "CNY", "test.trade", NULL, NULL},    /* amount 0: checked after the begin */
        {c, a, 5000, "CNY", "test.trade", NULL, NULL}, /* more than c holds */
    };
    char before[65], after[65];
    for (int round = 0; round < 3; round++) {
        digest(s, before);
        struct errbuf err;
        errbuf_init(&err);
        expect(batch(l, in, 2, &err), ERR_INVALID, &err, "transfers[1].amount");
        in[1].amount = 20;
        errbuf_init(&err);
        expect(batch(l, in, 3, &err), ERR_BAD_STATE, &err, "transfers[2]");
        in[1].amount = 0;
        digest(s, after);
        assert_string_equal(before, after);
        assert_int_equal(store_tx_depth(s), 0);
        errbuf_init(&err);
        expect(batch(l, in, 1, &err), ERR_OK, &err, NULL);
    }
    check_ok(s);
}

static void test_ledger_write__refusals_change_nothing(void **state)
{
    (void)state;
    on_both(refusals_after_begin, "ledger_refusals");
}

/* ---- batch reads and writes ---- */

static void batch_rows(struct ledger *l)
{
    struct store *s = l->c.store;
    for (size_t i = 0; i < ARRAY_LEN(l->ent); i++) {
        deposit(l, l->ent[i], 100 + (int64_t)i);
    }
    /* 130 ids: each account many times, and ids of no account. */
    enum { N = CLEARING__OP_ACCOUNTS_MAX };
    static char ids[N][ID_MAX];
    const char *want[N];
    for (size_t i = 0; i < N; i++) {
        if (i % 5 == 4) {
            snprintf(ids[i], ID_MAX, "acc_nosuchaccount%06zu", i);
        } else {
            account_of(l->ent[i % ARRAY_LEN(l->ent)], ids[i]);
        }
        want[i] = ids[i];
    }
    struct store_ledger_account *got = calloc(N, sizeof(*got));
    int found[N];
    assert_int_equal(store_ledger_accounts_get(s, want, N, got, found, NULL), ERR_OK);
    for (size_t i = 0; i < N; i++) {
        /* The first of repeated ids is filled; a missing id is not found. */
        int first = 1;
        for (size_t j = 0; j < i; j++) {
            first = first && strcmp(ids[j], ids[i]) != 0;
        }
        if (i % 5 == 4) {
            assert_false(found[i]);
            continue;
        }
        if (!first) {
            continue;
        }
        assert_true(found[i]);
        assert_string_equal(got[i].id, ids[i]);
        size_t e = i % ARRAY_LEN(l->ent);
        assert_string_equal(got[i].owner, l->ent[e]);
        assert_int_equal(got[i].credits_posted, 100 + (int64_t)e);
        assert_int_equal(got[i].entries, 1);
    }
    /* Writing back a changed balance, then an account that does not exist: refused whole. */
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    struct store_ledger_account x = got[0];
    x.last_seq = 12345;
    const struct store_ledger_account *one[] = {&x};
    assert_int_equal(store_ledger_accounts_update(s, one, 1, NULL), ERR_OK);
    struct store_ledger_account ghost = got[1];
    snprintf(ghost.id, sizeof(ghost.id), "acc_nosuchaccount000000");
    const struct store_ledger_account *two[] = {&got[2], &ghost};
    struct errbuf err;
    errbuf_init(&err);
    expect(store_ledger_accounts_update(s, two, 2, &err), ERR_NOT_FOUND, &err, "account");
    store_tx_rollback(s);
    /* Rolled back: the account is as it was read. */
    struct store_ledger_account again;
    int there = 0;
    assert_int_equal(store_ledger_accounts_get(s, want, 1, &again, &there, NULL), ERR_OK);
    assert_true(there);
    assert_int_equal(again.last_seq, got[0].last_seq);
    assert_int_not_equal(again.last_seq, 12345);
    free(got);
    check_ok(s);
}

static void test_ledger_write__batch_reads_and_writes(void **state)
{
    (void)state;
    on_both(batch_rows, "ledger_batch_rows");
}

/* ---- SQLite's account cache (store/clearing.c) ---- */

/* One column of an account as the table holds it, read past any cache. */
static int64_t table_column(struct store *s, const char *id, const char *column)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT %s FROM ledger_accounts WHERE id = '%s'", column, id);
    return count_of(s, sql);
}

/* Every entity's account as read through the store equals the table's row. */
static void reads_match_table(struct ledger *l)
{
    struct store *s = l->c.store;
    for (size_t i = 0; i < ARRAY_LEN(l->ent); i++) {
        char id[ID_MAX];
        account_of(l->ent[i], id);
        const char *want[] = {id};
        struct store_ledger_account a;
        int found = 0;
        assert_int_equal(store_ledger_accounts_get(s, want, 1, &a, &found, NULL), ERR_OK);
        assert_true(found);
        assert_int_equal(a.debits_posted, table_column(s, id, "debits_posted"));
        assert_int_equal(a.credits_posted, table_column(s, id, "credits_posted"));
        assert_int_equal(a.debits_pending, table_column(s, id, "debits_pending"));
        assert_int_equal(a.credits_pending, table_column(s, id, "credits_pending"));
        assert_int_equal(a.last_seq, table_column(s, id, "last_seq"));
        assert_int_equal(a.entries, table_column(s, id, "entries"));
        assert_int_equal(a.flags, table_column(s, id, "flags"));
    }
}

static int64_t read_entries(struct store *s, const char *id)
{
    const char *want[] = {id};
    struct store_ledger_account a;
    int found = 0;
    assert_int_equal(store_ledger_accounts_get(s, want, 1, &a, &found, NULL), ERR_OK);
    assert_true(found);
    return a.entries;
}

static void cached_accounts(struct ledger *l)
{
    struct store *s = l->c.store;
    for (size_t i = 0; i < ARRAY_LEN(l->ent); i++) {
        deposit(l, l->ent[i], 100000);
    }
    traffic(l, 4);
    reads_match_table(l);
    char id[ID_MAX];
    account_of(l->ent[0], id);
    int64_t entries = read_entries(s, id);

    /* A write in a savepoint is read back; the outer rollback undoes it for reads too. */
    const char *want[] = {id};
    struct store_ledger_account a;
    int found = 0;
    assert_int_equal(store_ledger_accounts_get(s, want, 1, &a, &found, NULL), ERR_OK);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    a.entries = entries + 777;
    const struct store_ledger_account *one[] = {&a};
    assert_int_equal(store_ledger_accounts_update(s, one, 1, NULL), ERR_OK);
    assert_int_equal(read_entries(s, id), entries + 777);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    assert_int_equal(read_entries(s, id), entries + 777);
    store_tx_rollback(s);
    assert_int_equal(read_entries(s, id), entries);
    reads_match_table(l);

    /* A refused transfer (more than the account holds) leaves every read as the table. */
    char to[ID_MAX];
    account_of(l->ent[1], to);
    struct clearing_transfer_in big = {id, to, (int64_t)1 << 50, "CNY", "test.trade", NULL, NULL};
    struct errbuf err;
    errbuf_init(&err);
    expect(batch(l, &big, 1, &err), ERR_BAD_STATE, &err, "transfers[0]");
    reads_match_table(l);

    /* SQL run on the store (a repair, a migration) is seen by the next read. */
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE ledger_accounts SET entries = entries + 5 WHERE id = '%s'",
             id);
    assert_int_equal(store_exec(s, sql, NULL), ERR_OK);
    assert_int_equal(read_entries(s, id), entries + 5);
    snprintf(sql, sizeof(sql), "UPDATE ledger_accounts SET entries = entries - 5 WHERE id = '%s'",
             id);
    assert_int_equal(store_exec(s, sql, NULL), ERR_OK);
    assert_int_equal(read_entries(s, id), entries);

    /* More traffic after all that: the rows, the reads and the checks still agree. */
    traffic(l, 4);
    reads_match_table(l);
    check_ok(s);
}

static void test_ledger_write__cached_accounts_follow_the_table(void **state)
{
    (void)state;
    on_both(cached_accounts, "ledger_cached_accounts");
}

/* The whole write path on a ledger with marks, timeouts, posts and voids, checked after. */
static void full_path(struct ledger *l)
{
    for (size_t i = 0; i < ARRAY_LEN(l->ent); i++) {
        deposit(l, l->ent[i], 1000000);
    }
    traffic(l, 20);
    struct clearing_hold h = {l->ent[2], "CNY", 900, 1000, NULL, "hold-key"};
    struct store_ledger_transfer p;
    int replayed = 0;
    assert_int_equal(clearing_hold(&l->c, &l->sys, &h, &p, &replayed, NULL), ERR_OK);
    assert_int_equal(clearing_hold(&l->c, &l->sys, &h, &p, &replayed, NULL), ERR_OK);
    assert_true(replayed);
    struct clearing_share br[] = {{l->ent[3], 700}};
    struct clearing_release r = {p.id, l->ent[4], NULL, br, 1, NULL, 0, 0, NULL, NULL};
    struct clearing_settlement st;
    assert_int_equal(clearing_post(&l->c, &l->sys, &r, &st, NULL), ERR_OK);
    h.idempotency_key = "hold-2";
    assert_int_equal(clearing_hold(&l->c, &l->sys, &h, &p, &replayed, NULL), ERR_OK);
    l->clock_state.now_ms += 5000;
    size_t voided = 0;
    assert_int_equal(clearing_sweep(&l->c, CLEARING_BATCH_MAX, &voided, NULL), ERR_OK);
    assert_int_equal(voided, 1);
    traffic(l, 5);
    check_ok(l->c.store);
}

static void test_ledger_write__full_path_checks(void **state)
{
    (void)state;
    on_both(full_path, "ledger_full_path");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ledger_write__json_strings_match_jansson),
        cmocka_unit_test(test_ledger_write__json_integers_and_limits),
        cmocka_unit_test(test_ledger_write__event_body_matches_jansson),
        cmocka_unit_test(test_ledger_write__event_leaf_matches_jansson),
        cmocka_unit_test(test_ledger_write__migration_12_keeps_every_row),
        cmocka_unit_test(test_ledger_write__deferred_failure_rolls_back),
        cmocka_unit_test(test_ledger_write__failed_insert_changes_nothing),
        cmocka_unit_test(test_ledger_write__refusals_change_nothing),
        cmocka_unit_test(test_ledger_write__batch_reads_and_writes),
        cmocka_unit_test(test_ledger_write__cached_accounts_follow_the_table),
        cmocka_unit_test(test_ledger_write__full_path_checks),
    };
    return cmocka_run_group_tests_name("ledger_write", tests, NULL, NULL);
}
