/*
 * transfer.c: the ledger's mutations: the operator's record of bank movements (deposit,
 * withdrawal), linked batches of transfers, and escrow as two-phase transfers (hold = pending,
 * post = settle with the split, void = release, and the timeout sweep).
 *
 * Each operation checks its input before it opens a transaction, then, inside it: resolves
 * an idempotent retry (same key, same content: the stored original; other content:
 * ERR_CONFLICT), checks the entities' states, loads and opens accounts, applies its transfers
 * through the op engine (op.c) and commits one event.
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "clearing/clearing_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static const char *str_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

/*
 * Looks for the transfer with this id: *found = 0 when there is none; when the same caller
 * stored it under the same key with the same request hash it is a retry (*found = 1, *out
 * the original); anything else is ERR_CONFLICT.
 */
static enum err retry_lookup(struct clearing *c, const char *id, const char *caller,
                             const char *key, const char *hash, struct store_ledger_transfer *out,
                             int *found, struct errbuf *err)
{
    *found = 0;
    if (key == NULL) {
        return ERR_OK;
    }
    const char *ids[] = {id};
    int f = 0;
    enum err rc = clearing__transfers_get(c, ids, 1, out, &f, err);
    if (rc != ERR_OK || !f) {
        return rc;
    }
    if (strcmp(out->caller, caller) != 0 || strcmp(out->idempotency_key, key) != 0 ||
        strcmp(out->request_hash, hash) != 0) {
        return err_set(err, ERR_CONFLICT, "idempotency_key",
                       "idempotency key '%s' was used for a different request", key);
    }
    *found = 1;
    return ERR_OK;
}

/* Fills the caller-given parts of a transfer. */
static void transfer_init(struct store_ledger_transfer *t, const char *id,
                          enum clearing_transfer_kind kind, const char *debit, const char *credit,
                          int64_t amount, const char *currency, const char *code)
{
    memset(t, 0, sizeof(*t));
    clearing__copy(t->id, sizeof(t->id), id);
    clearing__copy(t->kind, sizeof(t->kind), clearing_transfer_kind_name(kind));
    clearing__copy(t->debit_account, sizeof(t->debit_account), debit);
    clearing__copy(t->credit_account, sizeof(t->credit_account), credit);
    t->amount = amount;
    clearing__copy(t->currency, sizeof(t->currency), currency);
    clearing__copy(t->code, sizeof(t->code), code);
}

static void transfer_keys(struct store_ledger_transfer *t, const char *reference, const char *key,
                          const char *hash)
{
    clearing__copy(t->reference, sizeof(t->reference), str_or_empty(reference));
    clearing__copy(t->idempotency_key, sizeof(t->idempotency_key), str_or_empty(key));
    clearing__copy(t->request_hash, sizeof(t->request_hash), str_or_empty(hash));
}

/* An entity's existing account of a kind, loaded into the op; NULL slot when it has none. */
static enum err existing_account(struct clearing__op *op, const char *owner,
                                 enum clearing_account_kind kind, const char *currency,
                                 struct clearing__slot **out, struct errbuf *err)
{
    char id[ID_MAX];
    clearing_account_id(owner, kind, currency, id);
    const char *ids[] = {id};
    enum err rc = clearing__op_load(op, ids, 1, err);
    *out = rc == ERR_OK ? clearing__op_find(op, id) : NULL;
    return rc;
}

static enum err no_funds(const char *owner, const char *currency, int64_t amount,
                         struct errbuf *err)
{
    return err_set(err, ERR_BAD_STATE, "amount",
                   "insufficient funds: '%s' has no %s account, %" PRId64 " needed", owner,
                   currency, amount);
}

/* 1 if an entity in this status may be paid or pay out (verified, or suspended: money owed
 * to a suspended entity is still owed). */
static int may_hold_money(const char *status)
{
    return strcmp(status, "verified") == 0 || strcmp(status, "suspended") == 0;
}

/* ---- deposits and withdrawals ---- */

static enum err movement_check(const struct clearing_movement *m, struct errbuf *err)
{
    if (!id_valid(m->entity_id, "ent")) {
        return err_set(err, ERR_INVALID, "entity", "'entity' must be an entity id");
    }
    enum err rc = clearing_currency_check(m->currency, "currency", err);
    if (rc == ERR_OK) {
        rc = clearing__check_amount(m->amount, "amount", err);
    }
    if (rc == ERR_OK) {
        rc = clearing__check_reference(m->reference, 1, "reference", err);
    }
    if (rc == ERR_OK) {
        rc = clearing__check_key(m->idempotency_key, "idempotency_key", err);
    }
    return rc;
}

static enum err movement(struct clearing *c, const struct clearing_actor *who,
                         const struct clearing_movement *m, int deposit,
                         struct store_ledger_transfer *out, int *replayed, struct errbuf *err)
{
    ASSERT(c != NULL && m != NULL && out != NULL && replayed != NULL);
    *replayed = 0;
    const char *what = deposit ? "deposit" : "withdrawal";
    enum err rc = clearing__require(who, CLEARING__OPERATOR,
                                    deposit ? "records deposits" : "records withdrawals", err);
    if (rc == ERR_OK) {
        rc = movement_check(m, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing__hash h;
    clearing__hash_init(&h, what);
    clearing__hash_str(&h, m->entity_id);
    clearing__hash_str(&h, m->currency);
    clearing__hash_int(&h, m->amount);
    clearing__hash_str(&h, m->reference);
    char hash[STORE_LEDGER_HASH_MAX];
    clearing__hash_final(&h, hash);
    char id[ID_MAX];
    struct clearing__op *op = NULL;
    rc = clearing__op_begin(c, deposit ? "clearing.deposit" : "clearing.withdrawal", who->id, &op,
                            err);
    int found = 0;
    if (rc == ERR_OK) {
        clearing__transfer_id(c, who->id, m->idempotency_key, op->now_ms, id);
        rc = retry_lookup(c, id, who->id, m->idempotency_key, hash, out, &found, err);
    }
    if (rc != ERR_OK || found) {
        *replayed = found;
        goto out;
    }
    char status[STORE_KIND_MAX];
    rc = clearing__entity_status(c, m->entity_id, "entity", status, err);
    if (rc == ERR_OK && (deposit ? strcmp(status, "verified") != 0 : !may_hold_money(status))) {
        rc = err_set(err, ERR_BAD_STATE, "entity", "entity '%s' is %s", m->entity_id, status);
    }
    struct clearing__slot *cash = NULL, *avail = NULL;
    if (rc == ERR_OK) {
        rc = clearing__op_open(op, CLEARING_EXCHANGE, CLEARING_ACCOUNT_CASH, m->currency, &cash,
                               err);
    }
    if (rc == ERR_OK && deposit) {
        rc = clearing__op_open(op, m->entity_id, CLEARING_ACCOUNT_AVAILABLE, m->currency, &avail,
                               err);
    }
    if (rc == ERR_OK && !deposit) {
        rc = existing_account(op, m->entity_id, CLEARING_ACCOUNT_AVAILABLE, m->currency, &avail,
                              err);
        if (rc == ERR_OK && avail == NULL) {
            rc = no_funds(m->entity_id, m->currency, m->amount, err);
        }
    }
    if (rc != ERR_OK) {
        goto out;
    }
    struct store_ledger_transfer t;
    transfer_init(&t, id, CLEARING_TRANSFER, deposit ? cash->a.id : avail->a.id,
                  deposit ? avail->a.id : cash->a.id, m->amount, m->currency, what);
    transfer_keys(&t, m->reference, m->idempotency_key, hash);
    snprintf(op->subject, sizeof(op->subject), "%s", m->entity_id);
    rc = clearing__op_apply(op, &t, NULL, "amount", err);
    if (rc == ERR_OK) {
        rc = clearing__op_commit(op, err);
    }
    if (rc == ERR_OK) {
        *out = op->transfers[0];
    }
out:
    clearing__op_free(op);
    return rc;
}

enum err clearing_deposit(struct clearing *c, const struct clearing_actor *who,
                          const struct clearing_movement *m, struct store_ledger_transfer *out,
                          int *replayed, struct errbuf *err)
{
    return movement(c, who, m, 1, out, replayed, err);
}

enum err clearing_withdraw(struct clearing *c, const struct clearing_actor *who,
                           const struct clearing_movement *m, struct store_ledger_transfer *out,
                           int *replayed, struct errbuf *err)
{
    return movement(c, who, m, 0, out, replayed, err);
}

/* ---- linked batches ---- */

/* f = "<field>.<member>" when field is set (error messages), else left "". */
static void item_member(char f[ERRBUF_FIELD_MAX], const char *field, const char *member)
{
    if (field != NULL) {
        snprintf(f, ERRBUF_FIELD_MAX, "%s.%s", field, member);
    }
}

/* With err NULL it only decides (no field names are written: the common case costs no
 * formatting); with err it also says which field of item `field` is at fault. */
static enum err item_check(const struct clearing_transfer_in *t, const char *field,
                           struct errbuf *err)
{
    char f[ERRBUF_FIELD_MAX] = "";
    enum err rc = ERR_OK;
    if (err == NULL) {
        field = NULL;
    }
    if (!id_valid(t->debit_account, "acc") || !id_valid(t->credit_account, "acc")) {
        if (field != NULL) {
            snprintf(f, sizeof(f), "%s.%s", field,
                     id_valid(t->debit_account, "acc") ? "credit_account" : "debit_account");
        }
        return err_set(err, ERR_INVALID, f, "'%s' must be an account id", f);
    }
    item_member(f, field, "amount");
    rc = clearing__check_amount(t->amount, f, err);
    if (rc == ERR_OK) {
        item_member(f, field, "currency");
        rc = clearing_currency_check(t->currency, f, err);
    }
    if (rc == ERR_OK) {
        item_member(f, field, "code");
        rc = clearing__check_code(t->code, f, err);
    }
    if (rc == ERR_OK) {
        item_member(f, field, "reference");
        rc = clearing__check_reference(t->reference, 0, f, err);
    }
    if (rc == ERR_OK) {
        item_member(f, field, "idempotency_key");
        rc = clearing__check_key(t->idempotency_key, f, err);
    }
    return rc;
}

/* Checks item i of a batch: once without messages, and only when that fails once more to
 * name the field at fault ("transfers[3].amount"). */
static enum err batch_item_check(const struct clearing_transfer_in *t, size_t i, struct errbuf *err)
{
    if (item_check(t, NULL, NULL) == ERR_OK) {
        return ERR_OK;
    }
    char field[CLEARING__ITEM_FIELD_MAX];
    clearing__item_field(field, i);
    enum err rc = item_check(t, field, err);
    ASSERT(rc != ERR_OK);
    return rc;
}

/* Ids and request hashes of a batch, checked for repeated keys. */
struct batch_ids {
    char id[CLEARING_BATCH_MAX][ID_MAX];
    char hash[CLEARING_BATCH_MAX][STORE_LEDGER_HASH_MAX];
    size_t keyed;
};

/* Random bytes drawn from the clearing's source once per batch and handed out in slices:
 * the system source costs a system call per draw, which was 2% of a batched write. */
struct rng_pool {
    const struct rng *src;
    unsigned char buf[CLEARING_BATCH_MAX * ID_RANDOM_CHARS];
    size_t len, used;
};

static void pool_fill(void *ctx, void *out, size_t len)
{
    struct rng_pool *p = ctx;
    if (len > p->len - p->used) { /* more than was drawn for: straight from the source */
        rng_fill(p->src, out, len);
        return;
    }
    memcpy(out, p->buf + p->used, len);
    p->used += len; /* each byte served once */
}

static enum err batch_prepare(struct clearing *c, const struct clearing_actor *who,
                              const struct clearing_transfer_in *in, size_t count, int64_t now_ms,
                              struct batch_ids *b, struct errbuf *err)
{
    /* The unkeyed transfers' ids take ID_RANDOM_CHARS / 2 random characters each. */
    struct rng_pool pool = {c->rng, {0}, 0, 0};
    for (size_t i = 0; i < count; i++) {
        pool.len += in[i].idempotency_key == NULL ? ID_RANDOM_CHARS - ID_RANDOM_CHARS / 2 : 0;
    }
    ASSERT(pool.len <= sizeof(pool.buf));
    if (pool.len > 0) {
        rng_fill(c->rng, pool.buf, pool.len);
    }
    const struct rng pooled = {pool_fill, &pool};
    struct clearing drawn = *c;
    drawn.rng = &pooled;
    b->keyed = 0;
    for (size_t i = 0; i < count; i++) {
        enum err rc = batch_item_check(&in[i], i, err);
        if (rc != ERR_OK) {
            return rc;
        }
        for (size_t j = 0; in[i].idempotency_key != NULL && j < i; j++) {
            if (in[j].idempotency_key != NULL &&
                strcmp(in[j].idempotency_key, in[i].idempotency_key) == 0) {
                char field[CLEARING__ITEM_FIELD_MAX];
                clearing__item_field(field, i);
                return err_set(err, ERR_INVALID, field, "idempotency key '%s' is repeated",
                               in[i].idempotency_key);
            }
        }
        /* Only a keyed transfer can be retried, so only it needs its content's hash. */
        b->hash[i][0] = '\0';
        if (in[i].idempotency_key != NULL) {
            struct clearing__hash h;
            clearing__hash_init(&h, "transfer");
            clearing__hash_str(&h, in[i].debit_account);
            clearing__hash_str(&h, in[i].credit_account);
            clearing__hash_int(&h, in[i].amount);
            clearing__hash_str(&h, in[i].currency);
            clearing__hash_str(&h, in[i].code);
            clearing__hash_str(&h, in[i].reference);
            clearing__hash_final(&h, b->hash[i]);
        }
        clearing__transfer_id(&drawn, who->id, in[i].idempotency_key, now_ms, b->id[i]);
        b->keyed += in[i].idempotency_key != NULL;
    }
    return ERR_OK;
}

/* A retried batch: every transfer exists with the same content (*replayed = 1, out filled);
 * none exists (*replayed = 0); anything between is ERR_CONFLICT. */
static enum err batch_retry(struct clearing *c, const struct clearing_actor *who,
                            const struct clearing_transfer_in *in, size_t count,
                            const struct batch_ids *b, struct store_ledger_transfer *out,
                            int *replayed, struct errbuf *err)
{
    *replayed = 0;
    if (b->keyed == 0) {
        return ERR_OK;
    }
    size_t matched = 0, existing = 0;
    for (size_t i = 0; i < count; i += STORE_LEDGER_IDS_MAX) {
        size_t n = count - i < STORE_LEDGER_IDS_MAX ? count - i : STORE_LEDGER_IDS_MAX;
        const char *ids[STORE_LEDGER_IDS_MAX];
        int found[STORE_LEDGER_IDS_MAX];
        for (size_t j = 0; j < n; j++) {
            ids[j] = b->id[i + j];
        }
        enum err rc = clearing__transfers_get(c, ids, n, out + i, found, err);
        if (rc != ERR_OK) {
            return rc;
        }
        for (size_t j = 0; j < n; j++) {
            const struct store_ledger_transfer *t = &out[i + j];
            existing += found[j];
            matched += found[j] && in[i + j].idempotency_key != NULL &&
                       strcmp(t->caller, who->id) == 0 &&
                       strcmp(t->idempotency_key, in[i + j].idempotency_key) == 0 &&
                       strcmp(t->request_hash, b->hash[i + j]) == 0;
        }
    }
    if (existing == 0) {
        return ERR_OK;
    }
    if (matched != count) {
        return err_set(err, ERR_CONFLICT, "idempotency_key",
                       "%zu of the batch's %zu transfers exist already with other content or "
                       "without the rest",
                       existing, count);
    }
    *replayed = 1;
    return ERR_OK;
}

enum err clearing_transfer_batch(struct clearing *c, const struct clearing_actor *who,
                                 const struct clearing_transfer_in *in, size_t count,
                                 struct store_ledger_transfer *out, int *replayed,
                                 struct errbuf *err)
{
    ASSERT(c != NULL && out != NULL && replayed != NULL);
    ASSERT(count == 0 || in != NULL);
    *replayed = 0;
    enum err rc = clearing__require(who, CLEARING__OPERATOR | CLEARING__SYSTEM,
                                    "makes ledger transfers", err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (count == 0 || count > CLEARING_BATCH_MAX) {
        return err_set(err, count == 0 ? ERR_INVALID : ERR_LIMIT, "transfers",
                       "a batch holds 1 to %d transfers", CLEARING_BATCH_MAX);
    }
    struct batch_ids *b = mem_alloc(sizeof(*b));
    if (b == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory in the ledger");
    }
    struct clearing__op *op = NULL;
    rc = clearing__op_begin(c, "clearing.transfer", who->id, &op, err);
    if (rc == ERR_OK) {
        rc = batch_prepare(c, who, in, count, op->now_ms, b, err);
    }
    if (rc == ERR_OK) {
        rc = batch_retry(c, who, in, count, b, out, replayed, err);
    }
    if (rc != ERR_OK || *replayed) {
        goto out;
    }
    const char *ids[2 * CLEARING_BATCH_MAX];
    for (size_t i = 0; i < count; i++) {
        ids[2 * i] = in[i].debit_account;
        ids[2 * i + 1] = in[i].credit_account;
    }
    rc = clearing__op_load(op, ids, 2 * count, err);
    for (size_t i = 0; i < count && rc == ERR_OK; i++) {
        char field[CLEARING__ITEM_FIELD_MAX];
        clearing__item_field(field, i);
        struct store_ledger_transfer t;
        transfer_init(&t, b->id[i], CLEARING_TRANSFER, in[i].debit_account, in[i].credit_account,
                      in[i].amount, in[i].currency, in[i].code);
        transfer_keys(&t, in[i].reference, in[i].idempotency_key, b->hash[i]);
        rc = clearing__op_apply(op, &t, NULL, field, err);
    }
    if (rc == ERR_OK) {
        rc = clearing__op_commit(op, err);
    }
    if (rc == ERR_OK) {
        memcpy(out, op->transfers, count * sizeof(*out));
    }
out:
    clearing__op_free(op);
    mem_free(b);
    return rc;
}

/* ---- escrow: hold ---- */

static enum err hold_check(const struct clearing_hold *h, struct errbuf *err)
{
    if (!id_valid(h->buyer_id, "ent")) {
        return err_set(err, ERR_INVALID, "buyer", "'buyer' must be an entity id");
    }
    enum err rc = clearing_currency_check(h->currency, "currency", err);
    if (rc == ERR_OK) {
        rc = clearing__check_amount(h->amount, "amount", err);
    }
    if (rc == ERR_OK && (h->timeout_ms < 0 || h->timeout_ms > CLEARING_TIMEOUT_MAX_MS)) {
        rc = err_set(err, ERR_INVALID, "timeout",
                     "a hold times out after 0 (never) to %" PRId64 " ms", CLEARING_TIMEOUT_MAX_MS);
    }
    if (rc == ERR_OK) {
        rc = clearing__check_reference(h->reference, 0, "reference", err);
    }
    if (rc == ERR_OK) {
        rc = clearing__check_key(h->idempotency_key, "idempotency_key", err);
    }
    return rc;
}

enum err clearing_hold(struct clearing *c, const struct clearing_actor *who,
                       const struct clearing_hold *h, struct store_ledger_transfer *out,
                       int *replayed, struct errbuf *err)
{
    ASSERT(c != NULL && h != NULL && out != NULL && replayed != NULL);
    *replayed = 0;
    enum err rc =
        clearing__require(who, CLEARING__OPERATOR | CLEARING__SYSTEM, "holds funds in escrow", err);
    if (rc == ERR_OK) {
        rc = hold_check(h, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing__hash hh;
    clearing__hash_init(&hh, "hold");
    clearing__hash_str(&hh, h->buyer_id);
    clearing__hash_str(&hh, h->currency);
    clearing__hash_int(&hh, h->amount);
    clearing__hash_int(&hh, h->timeout_ms);
    clearing__hash_str(&hh, h->reference);
    char hash[STORE_LEDGER_HASH_MAX];
    clearing__hash_final(&hh, hash);
    char id[ID_MAX];
    struct clearing__op *op = NULL;
    rc = clearing__op_begin(c, "clearing.pending", who->id, &op, err);
    int found = 0;
    if (rc == ERR_OK) {
        clearing__transfer_id(c, who->id, h->idempotency_key, op->now_ms, id);
        rc = retry_lookup(c, id, who->id, h->idempotency_key, hash, out, &found, err);
    }
    if (rc != ERR_OK || found) {
        *replayed = found;
        goto out;
    }
    char status[STORE_KIND_MAX];
    rc = clearing__entity_status(c, h->buyer_id, "buyer", status, err);
    if (rc == ERR_OK && strcmp(status, "verified") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "buyer", "buyer '%s' is %s", h->buyer_id, status);
    }
    struct clearing__slot *avail = NULL, *escrow = NULL;
    if (rc == ERR_OK) {
        rc =
            existing_account(op, h->buyer_id, CLEARING_ACCOUNT_AVAILABLE, h->currency, &avail, err);
    }
    if (rc == ERR_OK && avail == NULL) {
        rc = no_funds(h->buyer_id, h->currency, h->amount, err);
    }
    if (rc == ERR_OK) {
        rc = clearing__op_open(op, h->buyer_id, CLEARING_ACCOUNT_ESCROW, h->currency, &escrow, err);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    struct store_ledger_transfer t;
    transfer_init(&t, id, CLEARING_PENDING, avail->a.id, escrow->a.id, h->amount, h->currency,
                  "escrow.hold");
    transfer_keys(&t, h->reference, h->idempotency_key, hash);
    t.timeout_ms = h->timeout_ms != 0 ? op->now_ms + h->timeout_ms : 0;
    snprintf(op->subject, sizeof(op->subject), "%s", id);
    rc = clearing__op_apply(op, &t, NULL, "amount", err);
    if (rc == ERR_OK) {
        rc = clearing__op_commit(op, err);
    }
    if (rc == ERR_OK) {
        *out = op->transfers[0];
    }
out:
    clearing__op_free(op);
    return rc;
}

/* ---- escrow: resolving a pending ---- */

/* Loads the pending transfer a post or void names. ERR_NOT_FOUND / ERR_INVALID (field
 * "pending_id"). */
static enum err pending_load(struct clearing *c, const char *pending_id,
                             struct store_ledger_transfer *p, struct errbuf *err)
{
    const char *ids[] = {pending_id};
    int found = 0;
    enum err rc = clearing__transfers_get(c, ids, 1, p, &found, err);
    if (rc == ERR_OK && !found) {
        rc = err_set(err, ERR_NOT_FOUND, "pending_id", "no transfer '%s'", pending_id);
    }
    if (rc == ERR_OK && strcmp(p->kind, "pending") != 0) {
        rc = err_set(err, ERR_INVALID, "pending_id", "transfer '%s' is not a pending transfer",
                     pending_id);
    }
    return rc;
}

static enum err pending_open(const struct store_ledger_transfer *p, int64_t now_ms, int for_post,
                             struct errbuf *err)
{
    if (strcmp(p->state, "pending") != 0) {
        return err_set(err, ERR_BAD_STATE, "pending_id", "hold '%s' is already %s", p->id,
                       p->state);
    }
    if (for_post && p->timeout_ms != 0 && now_ms >= p->timeout_ms) {
        return err_set(err, ERR_BAD_STATE, "pending_id", "hold '%s' has expired", p->id);
    }
    return ERR_OK;
}

static enum err share_check(const struct clearing_share *s, size_t count, const char *field,
                            struct errbuf *err)
{
    if (count > CLEARING_SHARES_MAX) {
        return err_set(err, ERR_INVALID, field, "at most %d '%s' shares", CLEARING_SHARES_MAX,
                       field);
    }
    for (size_t i = 0; i < count; i++) {
        if (!id_valid(s[i].recipient, "ent") && !id_valid(s[i].recipient, "prd")) {
            return err_set(err, ERR_INVALID, field, "'%s' recipients are entity or product ids",
                           field);
        }
        if (s[i].bp <= 0 || s[i].bp > CLEARING_BP_ONE) {
            return err_set(err, ERR_INVALID, field, "'%s' shares are 1 to %d basis points", field,
                           CLEARING_BP_ONE);
        }
    }
    return ERR_OK;
}

static enum err release_check(const struct clearing_release *r, struct errbuf *err)
{
    if (!id_valid(r->pending_id, "trf")) {
        return err_set(err, ERR_INVALID, "pending_id", "'pending_id' must be a transfer id");
    }
    if (!id_valid(r->provider_id, "ent")) {
        return err_set(err, ERR_INVALID, "provider", "'provider' must be an entity id");
    }
    if (r->fee_schedule_id != NULL && !id_valid(r->fee_schedule_id, "fee")) {
        return err_set(err, ERR_INVALID, "fee_schedule", "'fee_schedule' must be a schedule id");
    }
    if (r->amount < 0) {
        return err_set(err, ERR_INVALID, "amount", "'amount' must be positive (0: all)");
    }
    enum err rc = share_check(r->brokers, r->broker_count, "brokers", err);
    if (rc == ERR_OK) {
        rc = share_check(r->revenue, r->revenue_count, "revenue", err);
    }
    if (rc == ERR_OK) {
        rc = clearing__check_reference(r->reference, 0, "reference", err);
    }
    if (rc == ERR_OK) {
        rc = clearing__check_key(r->idempotency_key, "idempotency_key", err);
    }
    return rc;
}

static void release_hash(const struct clearing_release *r, char out[STORE_LEDGER_HASH_MAX])
{
    struct clearing__hash h;
    clearing__hash_init(&h, "post");
    clearing__hash_str(&h, r->pending_id);
    clearing__hash_str(&h, r->provider_id);
    clearing__hash_str(&h, r->fee_schedule_id);
    clearing__hash_int(&h, (int64_t)r->broker_count);
    for (size_t i = 0; i < r->broker_count; i++) {
        clearing__hash_str(&h, r->brokers[i].recipient);
        clearing__hash_int(&h, r->brokers[i].bp);
    }
    clearing__hash_int(&h, (int64_t)r->revenue_count);
    for (size_t i = 0; i < r->revenue_count; i++) {
        clearing__hash_str(&h, r->revenue[i].recipient);
        clearing__hash_int(&h, r->revenue[i].bp);
    }
    clearing__hash_int(&h, r->amount);
    clearing__hash_str(&h, r->reference);
    clearing__hash_final(&h, out);
}

/* The split of a settlement: the schedule's rule (none: no fee) on the settled amount. */
static enum err release_split(struct clearing *c, const struct clearing_release *r,
                              const struct store_ledger_transfer *p, int64_t amount,
                              struct clearing_split *out, struct errbuf *err)
{
    struct clearing_fee_rule rule = {CLEARING_FEE_PERCENTAGE, 0, 0, 0, 0};
    if (r->fee_schedule_id != NULL) {
        struct store_fee_schedule f;
        enum err rc = store_fee_schedule_get(c->store, r->fee_schedule_id, &f, err);
        if (rc == ERR_OK) {
            rc = clearing_fee_schedule_rule(&f, &rule, err);
        }
        if (rc == ERR_OK && f.currency[0] != '\0' && strcmp(f.currency, p->currency) != 0) {
            rc = err_set(err, ERR_INVALID, "fee_schedule", "fee schedule '%s' is in %s, not %s",
                         f.id, f.currency, p->currency);
        }
        if (rc != ERR_OK) {
            return rc;
        }
    }
    int64_t broker_bp[CLEARING_SHARES_MAX], revenue_bp[CLEARING_SHARES_MAX];
    for (size_t i = 0; i < r->broker_count; i++) {
        broker_bp[i] = r->brokers[i].bp;
    }
    for (size_t i = 0; i < r->revenue_count; i++) {
        revenue_bp[i] = r->revenue[i].bp;
    }
    return clearing_split(amount, &rule, broker_bp, r->broker_count, revenue_bp, r->revenue_count,
                          out, err);
}

/* The id of a settlement's leg i (1-based): derived from the post, so a retry finds it. */
static void leg_id(const char *post_id, size_t i, char out[ID_MAX])
{
    char n[24];
    snprintf(n, sizeof(n), "leg/%zu", i);
    const char *parts[] = {post_id, n};
    clearing__derive_id("trf", parts, ARRAY_LEN(parts), out);
}

/* The account a share is paid to, opened when absent; entities must be allowed money. */
static enum err recipient_open(struct clearing *c, struct clearing__op *op, const char *recipient,
                               const char *currency, const char *field, struct clearing__slot **out,
                               struct errbuf *err)
{
    if (id_valid(recipient, "prd")) {
        return clearing__op_open(op, recipient, CLEARING_ACCOUNT_POOL, currency, out, err);
    }
    char status[STORE_KIND_MAX];
    enum err rc = clearing__entity_status(c, recipient, field, status, err);
    if (rc == ERR_OK && !may_hold_money(status)) {
        rc = err_set(err, ERR_BAD_STATE, field, "entity '%s' is %s", recipient, status);
    }
    if (rc == ERR_OK) {
        rc = clearing__op_open(op, recipient, CLEARING_ACCOUNT_AVAILABLE, currency, out, err);
    }
    return rc;
}

/* Applies one leg escrow -> recipient when amount > 0. */
static enum err leg_apply(struct clearing__op *op, const char *post_id, size_t *leg,
                          const struct clearing__slot *escrow, const struct clearing__slot *to,
                          int64_t amount, const char *code, const char *reference,
                          struct errbuf *err)
{
    if (amount == 0) {
        return ERR_OK;
    }
    ASSERT(amount > 0);
    char id[ID_MAX];
    leg_id(post_id, ++*leg, id);
    struct store_ledger_transfer t;
    transfer_init(&t, id, CLEARING_TRANSFER, escrow->a.id, to->a.id, amount, escrow->a.currency,
                  code);
    transfer_keys(&t, reference, NULL, NULL);
    return clearing__op_apply(op, &t, NULL, "amount", err);
}

/* The legs of the split, in a fixed order: fee, brokers, revenue shares, provider. */
static enum err legs_apply(struct clearing *c, struct clearing__op *op,
                           const struct clearing_release *r, const struct clearing_split *s,
                           const char *post_id, const struct clearing__slot *escrow,
                           struct errbuf *err)
{
    const char *cur = escrow->a.currency;
    size_t leg = 0;
    struct clearing__slot *to = NULL;
    enum err rc = ERR_OK;
    if (s->fee > 0) {
        rc = clearing__op_open(op, CLEARING_EXCHANGE, CLEARING_ACCOUNT_FEES, cur, &to, err);
        if (rc == ERR_OK) {
            rc = leg_apply(op, post_id, &leg, escrow, to, s->fee, "settlement.fee", r->reference,
                           err);
        }
    }
    for (size_t i = 0; i < r->broker_count && rc == ERR_OK; i++) {
        rc = recipient_open(c, op, r->brokers[i].recipient, cur, "brokers", &to, err);
        if (rc == ERR_OK) {
            rc = leg_apply(op, post_id, &leg, escrow, to, s->brokers[i], "settlement.broker",
                           r->reference, err);
        }
    }
    for (size_t i = 0; i < r->revenue_count && rc == ERR_OK; i++) {
        rc = recipient_open(c, op, r->revenue[i].recipient, cur, "revenue", &to, err);
        if (rc == ERR_OK) {
            rc = leg_apply(op, post_id, &leg, escrow, to, s->revenue[i], "settlement.revenue",
                           r->reference, err);
        }
    }
    if (rc == ERR_OK) {
        rc = recipient_open(c, op, r->provider_id, cur, "provider", &to, err);
    }
    if (rc == ERR_OK) {
        rc = leg_apply(op, post_id, &leg, escrow, to, s->provider, "settlement.provider",
                       r->reference, err);
    }
    return rc;
}

/* A retried settlement: the stored post and its legs, in order. */
static enum err settlement_replay(struct clearing *c, const struct store_ledger_transfer *post,
                                  struct clearing_settlement *out, struct errbuf *err)
{
    char ids[CLEARING_LEGS_MAX - 1][ID_MAX];
    const char *idp[CLEARING_LEGS_MAX - 1];
    for (size_t i = 0; i < CLEARING_LEGS_MAX - 1; i++) {
        leg_id(post->id, i + 1, ids[i]);
        idp[i] = ids[i];
    }
    int found[CLEARING_LEGS_MAX - 1];
    enum err rc =
        clearing__transfers_get(c, idp, CLEARING_LEGS_MAX - 1, out->transfers + 1, found, err);
    if (rc != ERR_OK) {
        return rc;
    }
    out->transfers[0] = *post;
    out->count = 1;
    while (out->count < CLEARING_LEGS_MAX && found[out->count - 1]) {
        out->count++;
    }
    out->replayed = 1;
    return ERR_OK;
}

enum err clearing_post(struct clearing *c, const struct clearing_actor *who,
                       const struct clearing_release *r, struct clearing_settlement *out,
                       struct errbuf *err)
{
    ASSERT(c != NULL && r != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    enum err rc =
        clearing__require(who, CLEARING__OPERATOR | CLEARING__SYSTEM, "settles escrow", err);
    if (rc == ERR_OK) {
        rc = release_check(r, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    char hash[STORE_LEDGER_HASH_MAX], id[ID_MAX];
    release_hash(r, hash);
    struct clearing__op *op = NULL;
    struct store_ledger_transfer p, prior;
    memset(&p, 0, sizeof(p));
    int found = 0;
    rc = clearing__op_begin(c, "clearing.posted", who->id, &op, err);
    if (rc == ERR_OK) {
        clearing__transfer_id(c, who->id, r->idempotency_key, op->now_ms, id);
        rc = retry_lookup(c, id, who->id, r->idempotency_key, hash, &prior, &found, err);
    }
    if (rc == ERR_OK) {
        rc = pending_load(c, r->pending_id, &p, err);
    }
    int64_t amount = r->amount != 0 || rc != ERR_OK ? r->amount : p.amount;
    if (rc == ERR_OK && amount > p.amount) {
        rc = err_set(err, ERR_INVALID, "amount", "%" PRId64 " is more than the %" PRId64 " held",
                     amount, p.amount);
    }
    if (rc == ERR_OK) {
        rc = release_split(c, r, &p, amount, &out->split, err);
    }
    if (rc == ERR_OK && found) {
        rc = settlement_replay(c, &prior, out, err);
    }
    if (rc != ERR_OK || found) {
        goto out;
    }
    rc = pending_open(&p, op->now_ms, 1, err);
    const char *ids[] = {p.debit_account, p.credit_account};
    if (rc == ERR_OK) {
        rc = clearing__op_load(op, ids, ARRAY_LEN(ids), err);
    }
    struct clearing__slot *escrow = rc == ERR_OK ? clearing__op_find(op, p.credit_account) : NULL;
    if (rc == ERR_OK && escrow == NULL) {
        rc = err_set(err, ERR_CORRUPT, "", "escrow account '%s' is missing", p.credit_account);
    }
    struct store_ledger_transfer t;
    transfer_init(&t, id, CLEARING_POST, p.debit_account, p.credit_account, amount, p.currency,
                  "escrow.post");
    transfer_keys(&t, r->reference, r->idempotency_key, hash);
    snprintf(t.pending_id, sizeof(t.pending_id), "%s", p.id);
    if (rc == ERR_OK) {
        rc = clearing__op_apply(op, &t, &p, "amount", err);
    }
    if (rc == ERR_OK) {
        rc = legs_apply(c, op, r, &out->split, id, escrow, err);
    }
    if (rc == ERR_OK) {
        snprintf(op->subject, sizeof(op->subject), "%s", p.id);
        op->extra =
            json_pack("{s:s, s:s*}", "pending_id", p.id, "fee_schedule", r->fee_schedule_id);
        rc = op->extra != NULL ? clearing__op_commit(op, err)
                               : err_set(err, ERR_NOMEM, "", "out of memory in the ledger");
    }
    if (rc == ERR_OK) {
        memcpy(out->transfers, op->transfers, op->ntransfers * sizeof(out->transfers[0]));
        out->count = op->ntransfers;
    }
out:
    clearing__op_free(op);
    return rc;
}

enum err clearing_void(struct clearing *c, const struct clearing_actor *who, const char *pending_id,
                       const char *reference, const char *idempotency_key,
                       struct store_ledger_transfer *out, int *replayed, struct errbuf *err)
{
    ASSERT(c != NULL && out != NULL && replayed != NULL);
    *replayed = 0;
    enum err rc =
        clearing__require(who, CLEARING__OPERATOR | CLEARING__SYSTEM, "releases escrow", err);
    if (rc == ERR_OK && !id_valid(pending_id, "trf")) {
        rc = err_set(err, ERR_INVALID, "pending_id", "'pending_id' must be a transfer id");
    }
    if (rc == ERR_OK) {
        rc = clearing__check_reference(reference, 0, "reference", err);
    }
    if (rc == ERR_OK) {
        rc = clearing__check_key(idempotency_key, "idempotency_key", err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing__hash h;
    clearing__hash_init(&h, "void");
    clearing__hash_str(&h, pending_id);
    clearing__hash_str(&h, reference);
    char hash[STORE_LEDGER_HASH_MAX], id[ID_MAX];
    clearing__hash_final(&h, hash);
    struct clearing__op *op = NULL;
    struct store_ledger_transfer p;
    memset(&p, 0, sizeof(p));
    int found = 0;
    rc = clearing__op_begin(c, "clearing.voided", who->id, &op, err);
    if (rc == ERR_OK) {
        clearing__transfer_id(c, who->id, idempotency_key, op->now_ms, id);
        rc = retry_lookup(c, id, who->id, idempotency_key, hash, out, &found, err);
    }
    if (rc != ERR_OK || found) {
        *replayed = found;
        goto out;
    }
    rc = pending_load(c, pending_id, &p, err);
    if (rc == ERR_OK) {
        rc = pending_open(&p, op->now_ms, 0, err);
    }
    const char *ids[] = {p.debit_account, p.credit_account};
    if (rc == ERR_OK) {
        rc = clearing__op_load(op, ids, ARRAY_LEN(ids), err);
    }
    struct store_ledger_transfer t;
    transfer_init(&t, id, CLEARING_VOID, p.debit_account, p.credit_account, p.amount, p.currency,
                  "escrow.void");
    transfer_keys(&t, reference, idempotency_key, hash);
    snprintf(t.pending_id, sizeof(t.pending_id), "%s", p.id);
    if (rc == ERR_OK) {
        rc = clearing__op_apply(op, &t, &p, "pending_id", err);
    }
    if (rc == ERR_OK) {
        snprintf(op->subject, sizeof(op->subject), "%s", p.id);
        op->extra = json_pack("{s:s}", "reason", "void");
        rc = op->extra != NULL ? clearing__op_commit(op, err)
                               : err_set(err, ERR_NOMEM, "", "out of memory in the ledger");
    }
    if (rc == ERR_OK) {
        *out = op->transfers[0];
    }
out:
    clearing__op_free(op);
    return rc;
}

/* ---- the timeout sweep ---- */

/* Voids the expired pendings ids[0..n) inside op. */
static enum err sweep_apply(struct clearing *c, struct clearing__op *op, char (*ids)[ID_MAX],
                            size_t n, struct errbuf *err)
{
    struct store_ledger_transfer *ps = mem_alloc(n * sizeof(*ps));
    int found[CLEARING_BATCH_MAX];
    if (ps == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory in the ledger");
    }
    enum err rc = ERR_OK;
    for (size_t i = 0; i < n && rc == ERR_OK; i += STORE_LEDGER_IDS_MAX) {
        size_t m = n - i < STORE_LEDGER_IDS_MAX ? n - i : STORE_LEDGER_IDS_MAX;
        const char *idp[STORE_LEDGER_IDS_MAX];
        for (size_t j = 0; j < m; j++) {
            idp[j] = ids[i + j];
        }
        rc = clearing__transfers_get(c, idp, m, ps + i, found + i, err);
    }
    for (size_t i = 0; i < n && rc == ERR_OK; i++) {
        if (!found[i] || strcmp(ps[i].kind, "pending") != 0 ||
            strcmp(ps[i].state, "pending") != 0) {
            rc = err_set(err, ERR_CORRUPT, "", "timeout of '%s' names no open hold", ids[i]);
            break;
        }
        const char *acc[] = {ps[i].debit_account, ps[i].credit_account};
        rc = clearing__op_load(op, acc, ARRAY_LEN(acc), err);
        char key[STORE_LEDGER_KEY_MAX], id[ID_MAX];
        snprintf(key, sizeof(key), "timeout/%s", ps[i].id);
        clearing__transfer_id(c, CLEARING_SWEEPER, key, op->now_ms, id);
        struct store_ledger_transfer t;
        transfer_init(&t, id, CLEARING_VOID, ps[i].debit_account, ps[i].credit_account,
                      ps[i].amount, ps[i].currency, "escrow.timeout");
        transfer_keys(&t, ps[i].reference, key, "");
        snprintf(t.pending_id, sizeof(t.pending_id), "%s", ps[i].id);
        if (rc == ERR_OK) {
            rc = clearing__op_apply(op, &t, &ps[i], "", err);
        }
    }
    mem_free(ps);
    return rc;
}

enum err clearing_sweep(struct clearing *c, size_t max, size_t *voided, struct errbuf *err)
{
    ASSERT(c != NULL && voided != NULL);
    ASSERT(max >= 1 && max <= CLEARING_BATCH_MAX);
    *voided = 0;
    struct clearing__op *op = NULL;
    char(*ids)[ID_MAX] = mem_alloc(max * sizeof(*ids));
    int64_t *timeouts = mem_alloc(max * sizeof(*timeouts));
    size_t n = 0;
    enum err rc = ids != NULL && timeouts != NULL
                      ? ERR_OK
                      : err_set(err, ERR_NOMEM, "", "out of memory in the ledger");
    if (rc == ERR_OK) {
        rc = clearing__op_begin(c, "clearing.voided", CLEARING_SWEEPER, &op, err);
    }
    if (rc == ERR_OK) {
        rc = store_ledger_timeouts_due(c->store, op->now_ms, INT64_MIN, "", max, ids, timeouts, &n,
                                       err);
    }
    if (rc != ERR_OK || n == 0) {
        goto out;
    }
    rc = sweep_apply(c, op, ids, n, err);
    if (rc == ERR_OK) {
        snprintf(op->subject, sizeof(op->subject), "%s", ids[0]);
        op->extra = json_pack("{s:s}", "reason", "timeout");
        rc = op->extra != NULL ? clearing__op_commit(op, err)
                               : err_set(err, ERR_NOMEM, "", "out of memory in the ledger");
    }
    if (rc == ERR_OK) {
        *voided = n;
    }
out:
    clearing__op_free(op);
    mem_free(ids);
    mem_free(timeouts);
    return rc;
}
