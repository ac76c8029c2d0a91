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

#define LEDGER_CLOCK_META "clearing.last_ms"

static enum err oom(struct errbuf *err)
{
    return err_set(err, ERR_NOMEM, "", "out of memory in the ledger");
}

/* ---- the ledger clock ---- */

static enum err clock_read(struct store *s, int64_t *last_ms, struct errbuf *err)
{
    char *text = NULL;
    *last_ms = 0;
    enum err rc = store_meta_get(s, LEDGER_CLOCK_META, &text, err);
    if (rc == ERR_NOT_FOUND) {
        return ERR_OK;
    }
    if (rc != ERR_OK) {
        return rc;
    }
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || v < 0) {
        rc = err_set(err, ERR_CORRUPT, "", "ledger clock '%.32s' is malformed", text);
    } else {
        *last_ms = (int64_t)v;
    }
    mem_free(text);
    return rc;
}

static enum err clock_write(struct store *s, int64_t ms, struct errbuf *err)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRId64, ms);
    return store_meta_put(s, LEDGER_CLOCK_META, text, err);
}

/* ---- begin, end ---- */

enum err clearing__op_begin(struct clearing *c, const char *event_type, const char *actor,
                            struct clearing__op **out, struct errbuf *err)
{
    ASSERT(c != NULL && c->store != NULL && c->clock != NULL);
    ASSERT(strncmp(event_type, "clearing.", 9) == 0);
    ASSERT(actor != NULL && strlen(actor) < ID_MAX);
    *out = NULL;
    struct clearing__op *op = mem_calloc(1, sizeof(*op));
    if (op == NULL) {
        return oom(err);
    }
    op->c = c;
    op->event_type = event_type;
    op->actor = actor;
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        mem_free(op);
        return rc;
    }
    op->tx_open = 1;
    rc = clock_read(c->store, &op->last_ms, err);
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

void clearing__op_free(struct clearing__op *op)
{
    if (op == NULL) {
        return;
    }
    if (op->tx_open) {
        store_tx_rollback(op->c->store);
        op->tx_open = 0;
    }
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

enum err clearing__op_load(struct clearing__op *op, const char *const *ids, size_t count,
                           struct errbuf *err)
{
    const char *want[STORE_LEDGER_IDS_MAX];
    struct store_ledger_account got[STORE_LEDGER_IDS_MAX];
    int found[STORE_LEDGER_IDS_MAX];
    size_t i = 0;
    while (i < count) {
        size_t n = 0;
        for (; i < count && n < STORE_LEDGER_IDS_MAX; i++) {
            int dup = clearing__op_find(op, ids[i]) != NULL;
            for (size_t j = 0; j < n && !dup; j++) {
                dup = strcmp(want[j], ids[i]) == 0;
            }
            if (!dup) {
                want[n++] = ids[i];
            }
        }
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
    snprintf(t->state, sizeof(t->state), "%s", state_after(kind));
    snprintf(t->caller, sizeof(t->caller), "%s", op->actor);
    t->created_ms = op->now_ms;
    t->debit_posted_after = clearing__posted_net(&d);
    t->debit_pending_after = clearing__pending_net(&d);
    t->credit_posted_after = clearing__posted_net(&k);
    t->credit_pending_after = clearing__pending_net(&k);
    op->transfers[op->ntransfers++] = *t;
    if (pending != NULL) {
        struct clearing__resolution *r = &op->resolutions[op->nresolutions++];
        snprintf(r->pending_id, sizeof(r->pending_id), "%s", pending->id);
        snprintf(r->state, sizeof(r->state), "%s", state_after(kind));
        r->timeout_ms = pending->timeout_ms;
    }
    return ERR_OK;
}

/* ---- commit ---- */

static enum err event_body(struct clearing__op *op, json_t **out, struct errbuf *err)
{
    json_t *body = json_object();
    json_t *transfers = json_array();
    json_t *accounts = json_array();
    int bad = body == NULL || transfers == NULL || accounts == NULL;
    for (size_t i = 0; !bad && i < op->ntransfers; i++) {
        bad = json_array_append_new(transfers, clearing_transfer_json(&op->transfers[i])) != 0;
    }
    for (size_t i = 0; !bad && i < op->naccounts; i++) {
        if (op->accounts[i].is_new) {
            bad = json_array_append_new(accounts, clearing_account_json(&op->accounts[i].a)) != 0;
        }
    }
    if (!bad && op->extra != NULL) {
        bad = json_object_update(body, op->extra) != 0;
    }
    if (!bad) {
        bad = json_object_set(body, "transfers", transfers) != 0;
    }
    if (!bad && json_array_size(accounts) > 0) {
        bad = json_object_set(body, "accounts", accounts) != 0;
    }
    json_decref(transfers);
    json_decref(accounts);
    if (bad) {
        json_decref(body);
        return oom(err);
    }
    *out = body;
    return ERR_OK;
}

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
 * STORE_LEDGER_MARK_EVERY-th transfer of the account. */
static enum err chain(struct clearing__op *op, const struct store_ledger_transfer *t,
                      const char *account, int64_t *prev_seq, struct errbuf *err)
{
    struct clearing__slot *slot = clearing__op_find(op, account);
    ASSERT(slot != NULL && slot->dirty);
    ASSERT(slot->a.last_seq < t->seq);
    *prev_seq = slot->a.last_seq;
    slot->a.last_seq = t->seq;
    slot->a.entries++;
    if (slot->a.entries % STORE_LEDGER_MARK_EVERY != 0) {
        return ERR_OK;
    }
    return store_ledger_mark_insert(op->c->store, account, t->created_ms, t->seq, err);
}

static enum err write_transfers(struct clearing__op *op, int64_t log_index, struct errbuf *err)
{
    enum err rc = ERR_OK;
    for (size_t i = 0; i < op->ntransfers && rc == ERR_OK; i++) {
        struct store_ledger_transfer *t = &op->transfers[i];
        t->log_index = log_index;
        t->seq = log_index * CLEARING_BATCH_MAX + (int64_t)i;
        rc = chain(op, t, t->debit_account, &t->debit_prev_seq, err);
        if (rc == ERR_OK) {
            rc = chain(op, t, t->credit_account, &t->credit_prev_seq, err);
        }
    }
    if (rc == ERR_OK && op->ntransfers > 0) {
        rc = store_ledger_transfers_insert(op->c->store, op->transfers, op->ntransfers, err);
        if (rc == ERR_CONFLICT) {
            rc = err_set(err, ERR_CONFLICT, "idempotency_key",
                         "a transfer of this request exists already");
        }
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
    ASSERT(op->ntransfers <= CLEARING_BATCH_MAX);
    struct store *s = op->c->store;
    if (op->subject[0] == '\0' && op->ntransfers > 0) {
        snprintf(op->subject, sizeof(op->subject), "%s", op->transfers[0].id);
    }
    json_t *body = NULL;
    int64_t log_index = -1;
    enum err rc = event_body(op, &body, err);
    if (rc == ERR_OK) {
        rc = store_event_append(s, op->event_type, op->actor, op->subject, op->now_ms, body,
                                &log_index, err);
    }
    json_decref(body);
    if (rc == ERR_OK) {
        ASSERT(log_index >= 0);
        ASSERT(log_index <= INT64_MAX / CLEARING_BATCH_MAX - 1);
        /* Transfers first: linking them into the history chains moves the accounts on. */
        rc = write_transfers(op, log_index, err);
    }
    if (rc == ERR_OK) {
        rc = write_accounts(op, log_index, err);
    }
    if (rc == ERR_OK && op->now_ms > op->last_ms) {
        rc = clock_write(s, op->now_ms, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(s);
        op->tx_open = 0;
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
