/*
 * op.c: the engine every mutation runs through. A mutation opens a store transaction, loads
 * the accounts it touches into a small cache, applies its transfers to the cached counters
 * under the balance rules (nothing is written while rules are checked, so a refusal changes
 * nothing), and commits: one event listing every transfer and every newly opened account,
 * then the rows, then the transaction.
 *
 * Order of writes at commit: the event first, because its sequence number is each row's
 * log_index and fixes each transfer's ledger order seq = log_index * CLEARING_BATCH_MAX + i;
 * then the transfers, each linked into its two accounts' history chains (store.h); then the
 * accounts, with their counters and the head of their chains.
 * Writers are serialised by the store, so the counters read at the start are still current at
 * the commit.
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "clearing/clearing_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static enum err oom(struct errbuf *err)
{
    return err_set(err, ERR_NOMEM, "", "out of memory in the ledger");
}

/* ---- begin, end ---- */

enum err clearing__op_begin(struct clearing *c, const char *event_type, const char *actor,
                            struct clearing__op **out, struct errbuf *err)
{
    ASSERT(c != NULL && c->store != NULL && c->clock != NULL);
    ASSERT(strncmp(event_type, "clearing.", 9) == 0);
    ASSERT(actor != NULL && strlen(actor) < ID_MAX);
    *out = NULL;
    struct clearing__op *op = mem_alloc(sizeof(*op));
    if (op == NULL) {
        return oom(err);
    }
    memset(op, 0, CLEARING__OP_ZEROED);
    op->c = c;
    op->event_type = event_type;
    op->actor = actor;
    /* The mutation's writes need no answers until the account update, which checks its
     * count: on PostgreSQL they share its round trip (store_defer_begin), the savepoint
     * shares the clock read's. Ended before the commit and by clearing__op_free. */
    store_defer_begin(c->store);
    op->deferring = 1;
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        clearing__op_free(op);
        return rc;
    }
    op->tx_open = 1;
    /* The ledger clock: every mutation writes transfers, so the newest transfer's time is the
     * last mutation's (read under the writer lock, so no other node moves it meanwhile). */
    rc = store_ledger_last_ms(c->store, &op->last_ms, err);
    if (rc != ERR_OK) {
        clearing__op_free(op);
        return rc;
    }
    int64_t now = clock_now(c->clock);
    op->now_ms = now > op->last_ms ? now : op->last_ms;
    ASSERT(op->now_ms >= op->last_ms);
    *out = op;
    return ERR_OK;
}

/* Ends a mutation that failed: what its writes left waiting is sent (their errors no longer
 * matter), then everything is rolled back. */
static void op_abandon(struct clearing__op *op)
{
    if (op->deferring) {
        (void)store_defer_end(op->c->store, NULL);
        op->deferring = 0;
    }
    if (op->tx_open) {
        store_tx_rollback(op->c->store);
        op->tx_open = 0;
    }
}

void clearing__op_free(struct clearing__op *op)
{
    if (op == NULL) {
        return;
    }
    op_abandon(op);
    json_decref(op->extra);
    mem_free(op);
}

/* ---- the account cache ---- */

/* FNV-1a of an account id, for the op's index. */
static size_t id_hash(const char *id)
{
    uint64_t h = 1469598103934665603u;
    for (const char *p = id; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    }
    return (size_t)(h ^ (h >> 32));
}

struct clearing__slot *clearing__op_find(struct clearing__op *op, const char *id)
{
    for (size_t i = id_hash(id);; i++) {
        uint16_t v = op->index[i & (CLEARING__OP_INDEX_SLOTS - 1)];
        if (v == 0) {
            return NULL;
        }
        ASSERT(v <= op->naccounts);
        if (strcmp(op->accounts[v - 1].a.id, id) == 0) {
            return &op->accounts[v - 1];
        }
    }
}

static enum err slot_add(struct clearing__op *op, const struct store_ledger_account *a, int is_new,
                         struct clearing__slot **out, struct errbuf *err)
{
    ASSERT(clearing__op_find(op, a->id) == NULL);
    if (op->naccounts == CLEARING__OP_ACCOUNTS_MAX) {
        return err_set(err, ERR_LIMIT, "", "a mutation touches at most %d accounts",
                       CLEARING__OP_ACCOUNTS_MAX);
    }
    struct clearing__slot *slot = &op->accounts[op->naccounts++];
    slot->a = *a;
    slot->is_new = is_new;
    slot->dirty = 0;
    size_t i = id_hash(a->id);
    while (op->index[i & (CLEARING__OP_INDEX_SLOTS - 1)] != 0) {
        i++;
    }
    op->index[i & (CLEARING__OP_INDEX_SLOTS - 1)] = (uint16_t)op->naccounts;
    if (out != NULL) {
        *out = slot;
    }
    return ERR_OK;
}

/* Reads want[0..n) (not cached, distinct) in one multi-get and caches those that exist. */
static enum err load_some(struct clearing__op *op, const char *const *want, size_t n,
                          struct errbuf *err)
{
    _Static_assert(CLEARING__OP_ACCOUNTS_MAX <= STORE_LEDGER_WRITE_MAX, "one multi-get");
    ASSERT(n >= 1 && n <= CLEARING__OP_ACCOUNTS_MAX);
    struct store_ledger_account *got = mem_alloc(n * sizeof(*got));
    if (got == NULL) {
        return oom(err);
    }
    int found[CLEARING__OP_ACCOUNTS_MAX];
    enum err rc = store_ledger_accounts_get(op->c->store, want, n, got, found, err);
    for (size_t j = 0; j < n && rc == ERR_OK; j++) {
        if (!found[j]) {
            continue;
        }
        /* Pair of the asserts before every write: what we read obeys the rules. */
        rc = clearing__account_valid(&got[j], 0, err);
        if (rc == ERR_OK) {
            rc = slot_add(op, &got[j], 0, NULL, err);
        }
    }
    mem_free(got);
    return rc;
}

enum err clearing__op_load(struct clearing__op *op, const char *const *ids, size_t count,
                           struct errbuf *err)
{
    /* The ids not cached yet, each once (a set by hash, like the op's index), read with one
     * multi-get (a single round trip on PostgreSQL) per CLEARING__OP_ACCOUNTS_MAX of them. */
    const char *want[CLEARING__OP_ACCOUNTS_MAX];
    uint16_t seen[CLEARING__OP_INDEX_SLOTS];
    size_t i = 0;
    while (i < count) {
        size_t n = 0;
        memset(seen, 0, sizeof(seen));
        for (; i < count && n < CLEARING__OP_ACCOUNTS_MAX; i++) {
            if (clearing__op_find(op, ids[i]) != NULL) {
                continue;
            }
            size_t h = id_hash(ids[i]);
            uint16_t v;
            while ((v = seen[h & (CLEARING__OP_INDEX_SLOTS - 1)]) != 0 &&
                   strcmp(want[v - 1], ids[i]) != 0) {
                h++;
            }
            if (v == 0) { /* not asked for yet */
                want[n++] = ids[i];
                seen[h & (CLEARING__OP_INDEX_SLOTS - 1)] = (uint16_t)n;
            }
        }
        enum err rc = n > 0 ? load_some(op, want, n, err) : ERR_OK;
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return ERR_OK;
}

enum err clearing__op_open(struct clearing__op *op, const char *owner,
                           enum clearing_account_kind kind, const char *currency,
                           struct clearing__slot **out, struct errbuf *err)
{
    ASSERT(clearing_currency_exponent(currency) >= 0);
    char id[ID_MAX];
    clearing_account_id(owner, kind, currency, id);
    struct clearing__slot *slot = clearing__op_find(op, id);
    if (slot == NULL) {
        const char *ids[] = {id};
        enum err rc = clearing__op_load(op, ids, 1, err);
        if (rc != ERR_OK) {
            return rc;
        }
        slot = clearing__op_find(op, id);
    }
    if (slot == NULL) {
        struct store_ledger_account a;
        memset(&a, 0, sizeof(a));
        snprintf(a.id, sizeof(a.id), "%s", id);
        snprintf(a.owner, sizeof(a.owner), "%s", owner);
        snprintf(a.kind, sizeof(a.kind), "%s", clearing_account_kind_name(kind));
        snprintf(a.currency, sizeof(a.currency), "%s", currency);
        a.flags = clearing_account_kind_flags(kind);
        a.last_seq = -1;
        a.created_ms = op->now_ms;
        a.log_index = -1; /* set at commit */
        enum err rc = slot_add(op, &a, 1, &slot, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    *out = slot;
    return ERR_OK;
}

/* ---- the balance rules ---- */

static enum err add_checked(int64_t *counter, int64_t amount, const char *account,
                            const char *field, struct errbuf *err)
{
    ASSERT(amount > 0);
    int64_t v = 0;
    if (__builtin_add_overflow(*counter, amount, &v)) {
        return err_set(err, ERR_LIMIT, field, "the amount would overflow account '%s'", account);
    }
    *counter = v;
    return ERR_OK;
}

static enum err release(int64_t *counter, int64_t amount, const char *account, struct errbuf *err)
{
    if (*counter < amount) {
        return err_set(err, ERR_CORRUPT, "", "account '%s' holds less pending than a pending",
                       account);
    }
    *counter -= amount;
    return ERR_OK;
}

/* The flag rules on an account after a change; `before` words the message. */
static enum err rules(const struct store_ledger_account *a,
                      const struct store_ledger_account *before, int64_t amount, const char *field,
                      struct errbuf *err)
{
    if ((a->flags & CLEARING_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        (a->debits_posted > a->credits_posted ||
         a->debits_pending > a->credits_posted - a->debits_posted)) {
        int64_t avail = before->credits_posted - before->debits_posted - before->debits_pending;
        return err_set(err, ERR_BAD_STATE, field,
                       "insufficient funds: account '%s' has %" PRId64 " %s available, %" PRId64
                       " needed",
                       a->id, avail, a->currency, amount);
    }
    if ((a->flags & CLEARING_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
        (a->credits_posted > a->debits_posted ||
         a->credits_pending > a->debits_posted - a->credits_posted)) {
        return err_set(err, ERR_BAD_STATE, field,
                       "account '%s' would pay out more %s than it received", a->id, a->currency);
    }
    return ERR_OK;
}

/* Applies the counters of t (and of the pending it resolves) to copies of both accounts. */
static enum err counters(struct store_ledger_account *d, struct store_ledger_account *k,
                         const struct store_ledger_transfer *t,
                         const struct store_ledger_transfer *pending,
                         enum clearing_transfer_kind kind, const char *field, struct errbuf *err)
{
    enum err rc = ERR_OK;
    switch (kind) {
    case CLEARING_TRANSFER:
        rc = add_checked(&d->debits_posted, t->amount, d->id, field, err);
        if (rc == ERR_OK) {
            rc = add_checked(&k->credits_posted, t->amount, k->id, field, err);
        }
        break;
    case CLEARING_PENDING:
        rc = add_checked(&d->debits_pending, t->amount, d->id, field, err);
        if (rc == ERR_OK) {
            rc = add_checked(&k->credits_pending, t->amount, k->id, field, err);
        }
        break;
    case CLEARING_POST:
    case CLEARING_VOID:
        ASSERT(pending != NULL);
        ASSERT(t->amount <= pending->amount);
        rc = release(&d->debits_pending, pending->amount, d->id, err);
        if (rc == ERR_OK) {
            rc = release(&k->credits_pending, pending->amount, k->id, err);
        }
        if (rc == ERR_OK && kind == CLEARING_POST) {
            rc = add_checked(&d->debits_posted, t->amount, d->id, field, err);
        }
        if (rc == ERR_OK && kind == CLEARING_POST) {
            rc = add_checked(&k->credits_posted, t->amount, k->id, field, err);
        }
        break;
    default:
        ASSERT(0 && "unknown transfer kind");
    }
    return rc;
}

static const char *state_after(enum clearing_transfer_kind kind)
{
    switch (kind) {
    case CLEARING_PENDING:
        return "pending";
    case CLEARING_VOID:
        return "voided";
    default:
        return "posted";
    }
}

enum err clearing__op_apply(struct clearing__op *op, struct store_ledger_transfer *t,
                            const struct store_ledger_transfer *pending, const char *field,
                            struct errbuf *err)
{
    ASSERT(t->id[0] != '\0');
    ASSERT(t->amount > 0);
    enum clearing_transfer_kind kind;
    ASSERT(clearing_transfer_kind_parse(t->kind, &kind) == ERR_OK);
    ASSERT((kind == CLEARING_POST || kind == CLEARING_VOID) == (pending != NULL));
    if (op->ntransfers == CLEARING_BATCH_MAX) {
        return err_set(err, ERR_LIMIT, field, "a mutation holds at most %d transfers",
                       CLEARING_BATCH_MAX);
    }
    struct clearing__slot *ds = clearing__op_find(op, t->debit_account);
    struct clearing__slot *ks = clearing__op_find(op, t->credit_account);
    if (ds == NULL || ks == NULL) {
        return err_set(err, ERR_NOT_FOUND, field, "no ledger account '%s'",
                       ds == NULL ? t->debit_account : t->credit_account);
    }
    if (ds == ks) {
        return err_set(err, ERR_INVALID, field, "a transfer needs two different accounts");
    }
    if (strcmp(ds->a.currency, t->currency) != 0 || strcmp(ks->a.currency, t->currency) != 0) {
        return err_set(err, ERR_INVALID, field, "currency %s does not match accounts in %s and %s",
                       t->currency, ds->a.currency, ks->a.currency);
    }
    for (size_t i = 0; pending != NULL && i < op->nresolutions; i++) {
        if (strcmp(op->resolutions[i].pending_id, pending->id) == 0) {
            return err_set(err, ERR_BAD_STATE, field, "pending '%s' is resolved twice",
                           pending->id);
        }
    }
    struct store_ledger_account d = ds->a, k = ks->a;
    enum err rc = counters(&d, &k, t, pending, kind, field, err);
    if (rc == ERR_OK) {
        rc = rules(&d, &ds->a, t->amount, field, err);
    }
    if (rc == ERR_OK) {
        rc = rules(&k, &ks->a, t->amount, field, err);
    }
    if (rc != ERR_OK) {
        return rc; /* the cache is unchanged */
    }
    ds->a = d;
    ks->a = k;
    ds->dirty = 1;
    ks->dirty = 1;
    clearing__copy(t->state, sizeof(t->state), state_after(kind));
    clearing__copy(t->caller, sizeof(t->caller), op->actor);
    t->created_ms = op->now_ms;
    t->debit_posted_after = clearing__posted_net(&d);
    t->debit_pending_after = clearing__pending_net(&d);
    t->credit_posted_after = clearing__posted_net(&k);
    t->credit_pending_after = clearing__pending_net(&k);
    op->transfers[op->ntransfers++] = *t;
    if (pending != NULL) {
        struct clearing__resolution *r = &op->resolutions[op->nresolutions++];
        clearing__copy(r->pending_id, sizeof(r->pending_id), pending->id);
        clearing__copy(r->state, sizeof(r->state), state_after(kind));
        r->timeout_ms = pending->timeout_ms;
    }
    return ERR_OK;
}

/* ---- commit ---- */

static enum err write_accounts(struct clearing__op *op, int64_t log_index, struct errbuf *err)
{
    enum err rc = ERR_OK;
    const struct store_ledger_account *dirty[CLEARING__OP_ACCOUNTS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < op->naccounts && rc == ERR_OK; i++) {
        struct clearing__slot *slot = &op->accounts[i];
        if (!slot->is_new && !slot->dirty) {
            continue;
        }
        /* The rules hold for what is about to be written (pair of clearing__account_valid). */
        ASSERT(rules(&slot->a, &slot->a, 1, "", NULL) == ERR_OK);
        ASSERT(slot->a.debits_pending >= 0 && slot->a.credits_pending >= 0);
        if (slot->is_new) {
            slot->a.log_index = log_index;
            rc = store_ledger_account_insert(op->c->store, &slot->a, err);
        } else {
            dirty[n++] = &slot->a;
        }
    }
    _Static_assert(CLEARING__OP_ACCOUNTS_MAX <= STORE_LEDGER_WRITE_MAX, "one batch write");
    if (rc == ERR_OK && n > 0) {
        rc = store_ledger_accounts_update(op->c->store, dirty, n, err);
    }
    return rc;
}

/* Links t into the history chain of one of its accounts (see store.h), marking every
 * STORE_LEDGER_MARK_EVERY-th transfer of the account (written with the transfers). */
static void chain(struct clearing__op *op, const struct store_ledger_transfer *t,
                  const char *account, int64_t *prev_seq)
{
    struct clearing__slot *slot = clearing__op_find(op, account);
    ASSERT(slot != NULL && slot->dirty);
    ASSERT(slot->a.last_seq < t->seq);
    *prev_seq = slot->a.last_seq;
    slot->a.last_seq = t->seq;
    slot->a.entries++;
    if (slot->a.entries % STORE_LEDGER_MARK_EVERY != 0) {
        return;
    }
    ASSERT(op->nmarks < ARRAY_LEN(op->marks));
    struct store_ledger_mark *m = &op->marks[op->nmarks++];
    clearing__copy(m->account_id, sizeof(m->account_id), account);
    m->created_ms = t->created_ms;
    m->seq = t->seq;
}

static enum err write_transfers(struct clearing__op *op, int64_t log_index, struct errbuf *err)
{
    enum err rc = ERR_OK;
    for (size_t i = 0; i < op->ntransfers; i++) {
        struct store_ledger_transfer *t = &op->transfers[i];
        t->log_index = log_index;
        t->seq = log_index * CLEARING_BATCH_MAX + (int64_t)i;
        chain(op, t, t->debit_account, &t->debit_prev_seq);
        chain(op, t, t->credit_account, &t->credit_prev_seq);
    }
    if (rc == ERR_OK && op->ntransfers > 0) {
        rc = store_ledger_transfers_insert(op->c->store, op->transfers, op->ntransfers, err);
        if (rc == ERR_CONFLICT) {
            rc = err_set(err, ERR_CONFLICT, "idempotency_key",
                         "a transfer of this request exists already");
        }
    }
    if (rc == ERR_OK) {
        rc = store_ledger_marks_insert(op->c->store, op->marks, op->nmarks, err);
    }
    for (size_t i = 0; i < op->ntransfers && rc == ERR_OK; i++) {
        const struct store_ledger_transfer *t = &op->transfers[i];
        if (strcmp(t->kind, "pending") == 0 && t->timeout_ms != 0) {
            rc = store_ledger_timeout_insert(op->c->store, t->timeout_ms, t->id, err);
        }
    }
    for (size_t i = 0; i < op->nresolutions && rc == ERR_OK; i++) {
        const struct clearing__resolution *r = &op->resolutions[i];
        rc = store_ledger_transfer_resolve(op->c->store, r->pending_id, r->state, err);
        if (rc == ERR_OK && r->timeout_ms != 0) {
            rc = store_ledger_timeout_delete(op->c->store, r->timeout_ms, r->pending_id, err);
        }
    }
    return rc;
}

enum err clearing__op_commit(struct clearing__op *op, struct errbuf *err)
{
    ASSERT(op->tx_open);
    /* At least one transfer: it carries the ledger clock (clearing__op_begin). */
    ASSERT(op->ntransfers >= 1 && op->ntransfers <= CLEARING_BATCH_MAX);
    struct store *s = op->c->store;
    if (op->subject[0] == '\0' && op->ntransfers > 0) {
        snprintf(op->subject, sizeof(op->subject), "%s", op->transfers[0].id);
    }
    /* The body as canonical JSON text, written directly (event_text.c). */
    struct buf body;
    buf_init(&body, STORE_LEAF_MAX);
    int64_t log_index = -1;
    enum err rc = clearing__event_text(op, &body);
    if (rc != ERR_OK) {
        rc = rc == ERR_NOMEM ? oom(err)
                             : err_set(err, rc, "", "cannot encode event '%s'", op->event_type);
    }
    if (rc == ERR_OK) {
        rc = store_event_append_text(s, op->event_type, op->actor, op->subject, op->now_ms,
                                     body.data, body.len, &log_index, err);
    }
    buf_release(&body);
    if (rc == ERR_OK) {
        ASSERT(log_index >= 0);
        ASSERT(log_index <= INT64_MAX / CLEARING_BATCH_MAX - 1);
        /* Transfers first: linking them into the history chains moves the accounts on. */
        rc = write_transfers(op, log_index, err);
    }
    if (rc == ERR_OK) {
        rc = write_accounts(op, log_index, err);
    }
    if (rc == ERR_OK) {
        rc = store_defer_end(s, err); /* nothing waits after the account update, normally */
        op->deferring = 0;
    }
    if (rc == ERR_CONFLICT) {
        /* A deferred insert's failure surfaces at a later statement: the one conflict a
         * caller can cause is a transfer id that exists (unique; checked before, but a
         * concurrent writer on another store could not be, were the lock ever lost). */
        rc = err_set(err, ERR_CONFLICT, "idempotency_key",
                     "a transfer of this request exists already");
    }
    if (rc != ERR_OK) {
        op_abandon(op);
        return rc;
    }
    /* Debits equal credits per currency after every mutation (O(accounts): debug builds). */
    DEBUG_ASSERT(clearing__totals_balanced(s));
    op->tx_open = 0;
    return store_tx_commit(s, err);
}

/* ---- helpers shared by the operations ---- */

enum err clearing__transfers_get(struct clearing *c, const char *const *ids, size_t count,
                                 struct store_ledger_transfer *out, int *found, struct errbuf *err)
{
    return store_ledger_transfers_get(c->store, ids, count, out, found, err);
}

enum err clearing__entity_status(struct clearing *c, const char *entity_id, const char *field,
                                 char status[STORE_KIND_MAX], struct errbuf *err)
{
    if (!id_valid(entity_id, "ent")) {
        return err_set(err, ERR_INVALID, field, "'%s' must be an entity id", field);
    }
    struct store_entity *e = mem_alloc(sizeof(*e));
    if (e == NULL) {
        return oom(err);
    }
    enum err rc = store_entity_get(c->store, entity_id, e, err);
    if (rc == ERR_NOT_FOUND) {
        rc = err_set(err, ERR_NOT_FOUND, field, "no entity '%s'", entity_id);
    }
    if (rc == ERR_OK) {
        snprintf(status, STORE_KIND_MAX, "%s", e->status);
    }
    mem_free(e);
    return rc;
}

#if defined(BOURSE_DEBUG) || defined(BOURSE_TEST)
int clearing__totals_balanced(struct store *s)
{
    struct {
        char code[STORE_CURRENCY_MAX];
        __int128 dp, cp, dq, cq;
    } t[64];
    size_t nt = 0;
    char after[ID_MAX] = "";
    for (;;) {
        struct store_ledger_account *a = NULL;
        size_t n = 0;
        if (store_ledger_account_scan(s, after, STORE_LEDGER_PAGE_MAX, &a, &n, NULL) != ERR_OK) {
            return 1; /* cannot tell (out of memory in a fault test); the check tool will */
        }
        for (size_t i = 0; i < n; i++) {
            size_t j = 0;
            while (j < nt && strcmp(t[j].code, a[i].currency) != 0) {
                j++;
            }
            if (j == nt) {
                ASSERT(nt < ARRAY_LEN(t));
                memset(&t[nt], 0, sizeof(t[nt]));
                snprintf(t[nt].code, sizeof(t[nt].code), "%s", a[i].currency);
                nt++;
            }
            t[j].dp += a[i].debits_posted;
            t[j].cp += a[i].credits_posted;
            t[j].dq += a[i].debits_pending;
            t[j].cq += a[i].credits_pending;
        }
        if (n > 0) {
            snprintf(after, sizeof(after), "%s", a[n - 1].id);
        }
        mem_free(a);
        if (n < STORE_LEDGER_PAGE_MAX) {
            break;
        }
    }
    for (size_t j = 0; j < nt; j++) {
        if (t[j].dp != t[j].cp || t[j].dq != t[j].cq) {
            return 0;
        }
    }
    return 1;
}
#endif
