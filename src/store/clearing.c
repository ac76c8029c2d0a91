/*
 * clearing.c: the ledger's rows (accounts, transfers, open timeouts, fee schedules), written
 * once on top of the backend interface in portable SQL. The rules that decide what may be
 * written are the clearing module's; this file only reads and writes rows, and reports a
 * stored row of the wrong shape as ERR_CORRUPT.
 *
 * Multi-gets take up to STORE_LEDGER_IDS_MAX ids in one statement (`id IN ($1, ..., $32)`,
 * unused slots bound to NULL) so that a batch of transfers costs a few round trips on
 * PostgreSQL, not one per row. For the same reason the batch writes (transfers, account
 * balances) go to PostgreSQL as one statement text with literal values: a row of 23 values
 * does not fit the backends' 32 parameters twice. The literals are integers printed by us and
 * texts quoted by sql_text(); SQLite, a local call, keeps its prepared statements.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

_Static_assert(STORE_LEDGER_IDS_MAX == 32, "the IN lists below have 32 placeholders");

#define IN_32                                                                                      \
    " IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,"        \
    " $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32)"

/* A growable array of rows filled by a row callback, bounded by max. */
struct rows_ctx {
    void *items;
    size_t count;
    size_t cap;
    size_t size;
    size_t max;
    enum err (*from_row)(void *dst, const struct store_value *c, size_t n, struct errbuf *err);
};

static enum err rows_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct rows_ctx *r = ctx;
    ASSERT(r->count <= r->max);
    if (r->count == r->max) {
        return err_set(err, ERR_CORRUPT, "", "query returned more than %zu rows", r->max);
    }
    if (r->count == r->cap) {
        size_t cap = r->cap == 0 ? 16 : r->cap * 2;
        cap = cap > r->max ? r->max : cap;
        void *p = mem_realloc(r->items, cap * r->size);
        if (p == NULL) {
            return err_set(err, ERR_NOMEM, "", "out of memory reading the ledger");
        }
        r->items = p;
        r->cap = cap;
    }
    char *dst = (char *)r->items + r->count * r->size;
    memset(dst, 0, r->size);
    enum err rc = r->from_row(dst, c, n, err);
    if (rc == ERR_OK) {
        r->count++;
    }
    return rc;
}

static enum err rows_finish(struct rows_ctx *r, enum err rc, void *out, size_t *count)
{
    if (rc != ERR_OK) {
        mem_free(r->items);
        *(void **)out = NULL;
        *count = 0;
        return rc;
    }
    *(void **)out = r->items;
    *count = r->count;
    return ERR_OK;
}

static enum err int_col(const struct store_value *v, int64_t *out, struct errbuf *err)
{
    if (v->type != STORE_INT) {
        return err_set(err, ERR_CORRUPT, "", "ledger integer column holds a non-integer");
    }
    *out = v->i;
    return ERR_OK;
}

/* Binds ids[0..count) to $1..$32, the rest NULL. */
static void bind_ids(struct store_value p[STORE_LEDGER_IDS_MAX], const char *const *ids,
                     size_t count)
{
    ASSERT(count <= STORE_LEDGER_IDS_MAX);
    for (size_t i = 0; i < STORE_LEDGER_IDS_MAX; i++) {
        p[i] = i < count ? store_text(ids[i]) : store_null();
    }
}

/* 1 when every statement costs a network round trip (PostgreSQL). */
static int remote(const struct store *s)
{
    return strcmp(store_backend_name(s), "postgres") == 0;
}

/* Appends a SQL string literal: quoted, with every quote doubled (standard SQL; PostgreSQL runs
 * with standard_conforming_strings on, so a backslash is an ordinary character). */
static enum err sql_text(struct buf *b, const char *text)
{
    ASSERT(text != NULL);
    enum err rc = buf_append(b, "'", 1);
    for (const char *p = text; rc == ERR_OK && *p != '\0';) {
        const char *q = strchr(p, '\'');
        size_t n = q != NULL ? (size_t)(q - p) : strlen(p);
        rc = buf_append(b, p, n);
        if (rc == ERR_OK && q != NULL) {
            rc = buf_append(b, "''", 2);
            n++;
        }
        p += n;
    }
    return rc == ERR_OK ? buf_append(b, "'", 1) : rc;
}

/* Runs a statement text built in b. */
static enum err exec_built(struct store *s, struct buf *b, enum err built, struct errbuf *err)
{
    enum err rc = built;
    if (rc != ERR_OK) {
        rc = err_set(err, rc, "", "cannot build a ledger statement");
    } else {
        rc = store_exec(s, b->data, err);
    }
    buf_release(b);
    return rc;
}

#define LITERAL_SQL_MAX (4u << 20) /* STORE_LEDGER_WRITE_MAX rows of at most ~1 KiB */

/* ---- accounts ---- */

#define ACCOUNT_COLS                                                                               \
    "id, owner, kind, currency, flags, debits_posted, credits_posted, debits_pending,"             \
    " credits_pending, last_seq, entries, created_ms, log_index"
#define ACCOUNT_NCOLS 13

static enum err account_from_row(void *dst, const struct store_value *c, size_t n,
                                 struct errbuf *err)
{
    struct store_ledger_account *a = dst;
    if (n != ACCOUNT_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "ledger account row has %zu columns", n);
    }
    enum err rc = store__copy_text(a->id, sizeof(a->id), &c[0], err);
    if (rc == ERR_OK) {
        rc = store__copy_text(a->owner, sizeof(a->owner), &c[1], err);
    }
    if (rc == ERR_OK) {
        rc = store__copy_text(a->kind, sizeof(a->kind), &c[2], err);
    }
    if (rc == ERR_OK) {
        rc = store__copy_text(a->currency, sizeof(a->currency), &c[3], err);
    }
    int64_t *ints[] = {&a->flags,          &a->debits_posted,   &a->credits_posted,
                       &a->debits_pending, &a->credits_pending, &a->last_seq,
                       &a->entries,        &a->created_ms,      &a->log_index};
    for (size_t i = 0; i < ARRAY_LEN(ints) && rc == ERR_OK; i++) {
        rc = int_col(&c[4 + i], ints[i], err);
    }
    return rc;
}

enum err store_ledger_account_insert(struct store *s, const struct store_ledger_account *a,
                                     struct errbuf *err)
{
    ASSERT(a->id[0] != '\0');
    ASSERT(a->debits_posted >= 0 && a->credits_posted >= 0);
    struct store_value p[] = {
        store_text(a->id),
        store_text(a->owner),
        store_text(a->kind),
        store_text(a->currency),
        store_int(a->flags),
        store_int(a->debits_posted),
        store_int(a->credits_posted),
        store_int(a->debits_pending),
        store_int(a->credits_pending),
        store_int(a->last_seq),
        store_int(a->entries),
        store_int(a->created_ms),
        store_int(a->log_index),
    };
    _Static_assert(ARRAY_LEN(p) == ACCOUNT_NCOLS, "one parameter per column");
    return store_query(s,
                       "INSERT INTO ledger_accounts (" ACCOUNT_COLS
                       ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                       p, ARRAY_LEN(p), NULL, NULL, NULL, err);
}

/* One CASE per column over the four accounts' ids ($1, $8, $15, $22). */
#define CASE4(a, b, c, d)                                                                          \
    " = CASE id WHEN $1 THEN $" #a " WHEN $8 THEN $" #b " WHEN $15 THEN $" #c                      \
    " WHEN $22 THEN $" #d " END"

static enum err update4(struct store *s, const struct store_ledger_account *const *a, size_t count,
                        struct errbuf *err)
{
    _Static_assert(7 * STORE_LEDGER_UPDATE_MAX <= STORE_LEDGER_IDS_MAX, "parameters fit");
    ASSERT(count >= 1 && count <= STORE_LEDGER_UPDATE_MAX);
    struct store_value p[7 * STORE_LEDGER_UPDATE_MAX];
    for (size_t i = 0; i < STORE_LEDGER_UPDATE_MAX; i++) {
        /* Unused slots repeat the first account: the first WHEN that matches wins. */
        const struct store_ledger_account *x = a[i < count ? i : 0];
        ASSERT(x->debits_pending >= 0 && x->credits_pending >= 0);
        ASSERT(i >= count || i == 0 || strcmp(x->id, a[0]->id) != 0);
        struct store_value row[] = {store_text(x->id),
                                    store_int(x->debits_posted),
                                    store_int(x->credits_posted),
                                    store_int(x->debits_pending),
                                    store_int(x->credits_pending),
                                    store_int(x->last_seq),
                                    store_int(x->entries)};
        memcpy(&p[7 * i], row, sizeof(row));
    }
    int64_t changes = 0;
    enum err rc = store_query(
        s,
        "UPDATE ledger_accounts SET debits_posted" CASE4(2, 9, 16, 23) ", credits_posted" CASE4(3, 10, 17, 24) ", debits_pending" CASE4(
            4, 11, 18,
            25) ", credits_pending" CASE4(5, 12, 19,
                                          26) ", last_seq" CASE4(6, 13, 20,
                                                                 27) ", entries" CASE4(7, 14, 21,
                                                                                       28) " WHERE "
                                                                                           "id IN "
                                                                                           "($1, "
                                                                                           "$8, "
                                                                                           "$15, "
                                                                                           "$22)",
        p, ARRAY_LEN(p), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != (int64_t)count) {
        return err_set(err, ERR_NOT_FOUND, "account", "%zu of %zu ledger accounts are missing",
                       count - (size_t)changes, count);
    }
    return rc;
}

enum err store_ledger_accounts_update(struct store *s, const struct store_ledger_account *const *a,
                                      size_t count, struct errbuf *err)
{
    ASSERT(count >= 1 && count <= STORE_LEDGER_WRITE_MAX);
    if (!remote(s)) {
        enum err rc = ERR_OK;
        for (size_t i = 0; i < count && rc == ERR_OK; i += STORE_LEDGER_UPDATE_MAX) {
            size_t n = count - i < STORE_LEDGER_UPDATE_MAX ? count - i : STORE_LEDGER_UPDATE_MAX;
            rc = update4(s, a + i, n, err);
        }
        return rc;
    }
    /* One statement, planned once: a join with the new values (PostgreSQL's UPDATE ... FROM;
     * this path runs only there). */
    struct buf b;
    buf_init(&b, LITERAL_SQL_MAX);
    enum err rc = buf_append_str(&b, "UPDATE ledger_accounts AS a SET debits_posted = v.dp,"
                                     " credits_posted = v.cp, debits_pending = v.dq,"
                                     " credits_pending = v.cq, last_seq = v.ls, entries = v.en"
                                     " FROM (VALUES ");
    for (size_t i = 0; i < count && rc == ERR_OK; i++) {
        const struct store_ledger_account *x = a[i];
        ASSERT(x->debits_pending >= 0 && x->credits_pending >= 0);
        rc = buf_append_str(&b, i > 0 ? ", (" : "(");
        if (rc == ERR_OK) {
            rc = sql_text(&b, x->id);
        }
        if (rc == ERR_OK) {
            rc = buf_appendf(&b,
                             ", %" PRId64 "::BIGINT, %" PRId64 "::BIGINT, %" PRId64
                             "::BIGINT, %" PRId64 "::BIGINT, %" PRId64 "::BIGINT, %" PRId64
                             "::BIGINT)",
                             x->debits_posted, x->credits_posted, x->debits_pending,
                             x->credits_pending, x->last_seq, x->entries);
        }
    }
    if (rc == ERR_OK) {
        rc = buf_append_str(&b, ") AS v (id, dp, cp, dq, cq, ls, en) WHERE a.id = v.id");
    }
    return exec_built(s, &b, rc, err);
}

/* Matches multi-get rows to the slots of the ids asked for. */
struct multi_ctx {
    const char *const *ids;
    size_t count;
    void *out;
    size_t size;
    int *found;
    enum err (*from_row)(void *dst, const struct store_value *c, size_t n, struct errbuf *err);
    size_t id_col;
};

static enum err multi_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct multi_ctx *m = ctx;
    if (n <= m->id_col || c[m->id_col].type != STORE_TEXT) {
        return err_set(err, ERR_CORRUPT, "", "ledger row without an id");
    }
    for (size_t i = 0; i < m->count; i++) {
        if (strlen(m->ids[i]) == c[m->id_col].len &&
            memcmp(m->ids[i], c[m->id_col].s, c[m->id_col].len) == 0) {
            enum err rc = m->from_row((char *)m->out + i * m->size, c, n, err);
            if (rc == ERR_OK) {
                m->found[i] = 1;
            }
            return rc;
        }
    }
    return err_set(err, ERR_CORRUPT, "", "ledger multi-get returned an id not asked for");
}

enum err store_ledger_accounts_get(struct store *s, const char *const *ids, size_t count,
                                   struct store_ledger_account *out, int *found, struct errbuf *err)
{
    ASSERT(count <= STORE_LEDGER_IDS_MAX);
    for (size_t i = 0; i < count; i++) {
        found[i] = 0;
    }
    if (count == 0) {
        return ERR_OK;
    }
    struct store_value p[STORE_LEDGER_IDS_MAX];
    bind_ids(p, ids, count);
    struct multi_ctx m = {ids, count, out, sizeof(*out), found, account_from_row, 0};
    return store_query(s, "SELECT " ACCOUNT_COLS " FROM ledger_accounts WHERE id" IN_32, p,
                       STORE_LEDGER_IDS_MAX, multi_cb, &m, NULL, err);
}

enum err store_ledger_account_list(struct store *s, const char *owner,
                                   struct store_ledger_account **out, size_t *count,
                                   struct errbuf *err)
{
    struct rows_ctx r = {
        NULL, 0, 0, sizeof(**out), STORE_LEDGER_OWNER_ACCOUNTS_MAX, account_from_row};
    struct store_value p[] = {store_text(owner), store_int(STORE_LEDGER_OWNER_ACCOUNTS_MAX)};
    enum err rc = store_query(s,
                              "SELECT " ACCOUNT_COLS " FROM ledger_accounts WHERE owner = $1"
                              " ORDER BY currency, kind LIMIT $2",
                              p, ARRAY_LEN(p), rows_cb, &r, NULL, err);
    return rows_finish(&r, rc, out, count);
}

enum err store_ledger_account_scan(struct store *s, const char *after_id, size_t max,
                                   struct store_ledger_account **out, size_t *count,
                                   struct errbuf *err)
{
    ASSERT(max > 0 && max <= STORE_LEDGER_PAGE_MAX);
    struct rows_ctx r = {NULL, 0, 0, sizeof(**out), max, account_from_row};
    struct store_value p[] = {store_text(after_id), store_int((int64_t)max)};
    enum err rc = store_query(s,
                              "SELECT " ACCOUNT_COLS " FROM ledger_accounts WHERE id > $1"
                              " ORDER BY id LIMIT $2",
                              p, ARRAY_LEN(p), rows_cb, &r, NULL, err);
    return rows_finish(&r, rc, out, count);
}

/* ---- transfers ---- */

#define TRANSFER_COLS                                                                              \
    "seq, id, kind, state, debit_account, credit_account, amount, currency, code, reference,"      \
    " pending_id, timeout_ms, caller, idempotency_key, request_hash, debit_posted_after,"          \
    " debit_pending_after, credit_posted_after, credit_pending_after, debit_prev_seq,"             \
    " credit_prev_seq, created_ms, log_index"
#define TRANSFER_NCOLS 23

static enum err transfer_from_row(void *dst, const struct store_value *c, size_t n,
                                  struct errbuf *err)
{
    struct store_ledger_transfer *t = dst;
    if (n != TRANSFER_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "ledger transfer row has %zu columns", n);
    }
    struct {
        size_t col;
        char *dst;
        size_t cap;
    } texts[] = {
        {1, t->id, sizeof(t->id)},
        {2, t->kind, sizeof(t->kind)},
        {3, t->state, sizeof(t->state)},
        {4, t->debit_account, sizeof(t->debit_account)},
        {5, t->credit_account, sizeof(t->credit_account)},
        {7, t->currency, sizeof(t->currency)},
        {8, t->code, sizeof(t->code)},
        {9, t->reference, sizeof(t->reference)},
        {10, t->pending_id, sizeof(t->pending_id)},
        {12, t->caller, sizeof(t->caller)},
        {13, t->idempotency_key, sizeof(t->idempotency_key)},
        {14, t->request_hash, sizeof(t->request_hash)},
    };
    enum err rc = ERR_OK;
    for (size_t i = 0; i < ARRAY_LEN(texts) && rc == ERR_OK; i++) {
        rc = store__copy_text(texts[i].dst, texts[i].cap, &c[texts[i].col], err);
    }
    struct {
        size_t col;
        int64_t *dst;
    } ints[] = {
        {0, &t->seq},
        {6, &t->amount},
        {11, &t->timeout_ms},
        {15, &t->debit_posted_after},
        {16, &t->debit_pending_after},
        {17, &t->credit_posted_after},
        {18, &t->credit_pending_after},
        {19, &t->debit_prev_seq},
        {20, &t->credit_prev_seq},
        {21, &t->created_ms},
        {22, &t->log_index},
    };
    for (size_t i = 0; i < ARRAY_LEN(ints) && rc == ERR_OK; i++) {
        rc = int_col(&c[ints[i].col], ints[i].dst, err);
    }
    return rc;
}

static enum err transfer_insert(struct store *s, const struct store_ledger_transfer *t,
                                struct errbuf *err)
{
    ASSERT(t->id[0] != '\0');
    ASSERT(t->amount > 0);
    struct store_value p[] = {
        store_int(t->seq),
        store_text(t->id),
        store_text(t->kind),
        store_text(t->state),
        store_text(t->debit_account),
        store_text(t->credit_account),
        store_int(t->amount),
        store_text(t->currency),
        store_text(t->code),
        store_text(t->reference),
        store_text(t->pending_id),
        store_int(t->timeout_ms),
        store_text(t->caller),
        store_text(t->idempotency_key),
        store_text(t->request_hash),
        store_int(t->debit_posted_after),
        store_int(t->debit_pending_after),
        store_int(t->credit_posted_after),
        store_int(t->credit_pending_after),
        store_int(t->debit_prev_seq),
        store_int(t->credit_prev_seq),
        store_int(t->created_ms),
        store_int(t->log_index),
    };
    _Static_assert(ARRAY_LEN(p) == TRANSFER_NCOLS, "one parameter per column");
    return store_query(s,
                       "INSERT INTO ledger_transfers (" TRANSFER_COLS
                       ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
                       " $15, $16, $17, $18, $19, $20, $21, $22, $23)",
                       p, ARRAY_LEN(p), NULL, NULL, NULL, err);
}

/* One row of literals: (seq, 'id', ...) in TRANSFER_COLS order. */
static enum err transfer_literal(struct buf *b, const struct store_ledger_transfer *t)
{
    enum err rc = buf_appendf(b, "(%" PRId64 ", ", t->seq);
    const char *texts1[] = {t->id, t->kind, t->state, t->debit_account, t->credit_account};
    for (size_t i = 0; i < ARRAY_LEN(texts1) && rc == ERR_OK; i++) {
        rc = sql_text(b, texts1[i]);
        rc = rc == ERR_OK ? buf_append(b, ", ", 2) : rc;
    }
    rc = rc == ERR_OK ? buf_appendf(b, "%" PRId64 ", ", t->amount) : rc;
    const char *texts2[] = {t->currency, t->code, t->reference, t->pending_id};
    for (size_t i = 0; i < ARRAY_LEN(texts2) && rc == ERR_OK; i++) {
        rc = sql_text(b, texts2[i]);
        rc = rc == ERR_OK ? buf_append(b, ", ", 2) : rc;
    }
    rc = rc == ERR_OK ? buf_appendf(b, "%" PRId64 ", ", t->timeout_ms) : rc;
    const char *texts3[] = {t->caller, t->idempotency_key, t->request_hash};
    for (size_t i = 0; i < ARRAY_LEN(texts3) && rc == ERR_OK; i++) {
        rc = sql_text(b, texts3[i]);
        rc = rc == ERR_OK ? buf_append(b, ", ", 2) : rc;
    }
    if (rc == ERR_OK) {
        rc = buf_appendf(b,
                         "%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                         ", %" PRId64 ", %" PRId64 ")",
                         t->debit_posted_after, t->debit_pending_after, t->credit_posted_after,
                         t->credit_pending_after, t->debit_prev_seq, t->credit_prev_seq,
                         t->created_ms, t->log_index);
    }
    return rc;
}

enum err store_ledger_transfers_insert(struct store *s, const struct store_ledger_transfer *t,
                                       size_t count, struct errbuf *err)
{
    ASSERT(count >= 1 && count <= STORE_LEDGER_WRITE_MAX);
    if (!remote(s)) {
        enum err rc = ERR_OK;
        for (size_t i = 0; i < count && rc == ERR_OK; i++) {
            rc = transfer_insert(s, &t[i], err);
        }
        return rc;
    }
    struct buf b;
    buf_init(&b, LITERAL_SQL_MAX);
    enum err rc = buf_append_str(&b, "INSERT INTO ledger_transfers (" TRANSFER_COLS ") VALUES ");
    for (size_t i = 0; i < count && rc == ERR_OK; i++) {
        ASSERT(t[i].id[0] != '\0');
        ASSERT(t[i].amount > 0);
        rc = i > 0 ? buf_append(&b, ", ", 2) : ERR_OK;
        rc = rc == ERR_OK ? transfer_literal(&b, &t[i]) : rc;
    }
    return exec_built(s, &b, rc, err);
}

enum err store_ledger_transfers_get(struct store *s, const char *const *ids, size_t count,
                                    struct store_ledger_transfer *out, int *found,
                                    struct errbuf *err)
{
    ASSERT(count <= STORE_LEDGER_IDS_MAX);
    for (size_t i = 0; i < count; i++) {
        found[i] = 0;
    }
    if (count == 0) {
        return ERR_OK;
    }
    struct store_value p[STORE_LEDGER_IDS_MAX];
    bind_ids(p, ids, count);
    struct multi_ctx m = {ids, count, out, sizeof(*out), found, transfer_from_row, 1};
    return store_query(s, "SELECT " TRANSFER_COLS " FROM ledger_transfers WHERE id" IN_32, p,
                       STORE_LEDGER_IDS_MAX, multi_cb, &m, NULL, err);
}

enum err store_ledger_transfer_resolve(struct store *s, const char *id, const char *state,
                                       struct errbuf *err)
{
    ASSERT(strcmp(state, "pending") != 0);
    struct store_value p[] = {store_text(id), store_text(state)};
    int64_t changes = 0;
    enum err rc = store_query(s,
                              "UPDATE ledger_transfers SET state = $2"
                              " WHERE id = $1 AND kind = 'pending' AND state = 'pending'",
                              p, ARRAY_LEN(p), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        return err_set(err, ERR_NOT_FOUND, "pending_id", "no open pending transfer '%s'", id);
    }
    return rc;
}

enum err store_ledger_transfer_scan(struct store *s, int64_t after_seq, size_t max,
                                    struct store_ledger_transfer **out, size_t *count,
                                    struct errbuf *err)
{
    ASSERT(max > 0 && max <= STORE_LEDGER_PAGE_MAX);
    struct rows_ctx r = {NULL, 0, 0, sizeof(**out), max, transfer_from_row};
    struct store_value p[] = {store_int(after_seq), store_int((int64_t)max)};
    enum err rc = store_query(s,
                              "SELECT " TRANSFER_COLS " FROM ledger_transfers WHERE seq > $1"
                              " ORDER BY seq LIMIT $2",
                              p, ARRAY_LEN(p), rows_cb, &r, NULL, err);
    return rows_finish(&r, rc, out, count);
}

/* Matches multi-get rows to the slots of the seqs asked for. */
struct seq_ctx {
    const int64_t *seqs;
    size_t count;
    struct store_ledger_transfer *out;
    int *found;
};

static enum err seq_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct seq_ctx *m = ctx;
    if (n == 0 || c[0].type != STORE_INT) {
        return err_set(err, ERR_CORRUPT, "", "ledger row without a seq");
    }
    for (size_t i = 0; i < m->count; i++) {
        if (m->seqs[i] == c[0].i) {
            enum err rc = transfer_from_row(&m->out[i], c, n, err);
            if (rc == ERR_OK) {
                m->found[i] = 1;
            }
            return rc;
        }
    }
    return err_set(err, ERR_CORRUPT, "", "ledger multi-get returned a seq not asked for");
}

enum err store_ledger_transfers_by_seq(struct store *s, const int64_t *seqs, size_t count,
                                       struct store_ledger_transfer *out, int *found,
                                       struct errbuf *err)
{
    ASSERT(count <= STORE_LEDGER_IDS_MAX);
    for (size_t i = 0; i < count; i++) {
        found[i] = 0;
    }
    if (count == 0) {
        return ERR_OK;
    }
    struct store_value p[STORE_LEDGER_IDS_MAX];
    for (size_t i = 0; i < STORE_LEDGER_IDS_MAX; i++) {
        p[i] = i < count ? store_int(seqs[i]) : store_null();
    }
    struct seq_ctx m = {seqs, count, out, found};
    return store_query(s, "SELECT " TRANSFER_COLS " FROM ledger_transfers WHERE seq" IN_32, p,
                       STORE_LEDGER_IDS_MAX, seq_cb, &m, NULL, err);
}

/* ---- history marks ---- */

enum err store_ledger_mark_insert(struct store *s, const char *account_id, int64_t created_ms,
                                  int64_t seq, struct errbuf *err)
{
    ASSERT(seq >= 0);
    struct store_value p[] = {store_text(account_id), store_int(created_ms), store_int(seq)};
    return store_query(s,
                       "INSERT INTO ledger_marks (account_id, created_ms, seq) VALUES ($1, $2, $3)",
                       p, ARRAY_LEN(p), NULL, NULL, NULL, err);
}

static enum err seq_one_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    if (n != 1 || c[0].type != STORE_INT) {
        return err_set(err, ERR_CORRUPT, "", "ledger mark is malformed");
    }
    *(int64_t *)ctx = c[0].i;
    return ERR_OK;
}

enum err store_ledger_mark_seek(struct store *s, const char *account_id, int64_t at_ms,
                                int64_t at_seq, int64_t *seq, struct errbuf *err)
{
    struct store_value p[] = {store_text(account_id), store_int(at_ms), store_int(at_seq)};
    *seq = -1;
    return store_query(s,
                       "SELECT seq FROM ledger_marks WHERE account_id = $1"
                       " AND (created_ms > $2 OR (created_ms = $2 AND seq >= $3))"
                       " ORDER BY created_ms, seq LIMIT 1",
                       p, ARRAY_LEN(p), seq_one_cb, seq, NULL, err);
}

struct marks_ctx {
    char (*accounts)[ID_MAX];
    int64_t *ms;
    int64_t *seqs;
    size_t count;
    size_t max;
};

static enum err marks_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct marks_ctx *m = ctx;
    if (n != 3 || c[1].type != STORE_INT || c[2].type != STORE_INT) {
        return err_set(err, ERR_CORRUPT, "", "ledger mark is malformed");
    }
    ASSERT(m->count < m->max);
    enum err rc = store__copy_text(m->accounts[m->count], ID_MAX, &c[0], err);
    if (rc == ERR_OK) {
        m->ms[m->count] = c[1].i;
        m->seqs[m->count] = c[2].i;
        m->count++;
    }
    return rc;
}

enum err store_ledger_mark_scan(struct store *s, const char *after_account, int64_t after_ms,
                                int64_t after_seq, size_t max, char (*accounts)[ID_MAX],
                                int64_t *ms, int64_t *seqs, size_t *count, struct errbuf *err)
{
    ASSERT(max > 0 && max <= STORE_LEDGER_PAGE_MAX);
    struct marks_ctx m = {accounts, ms, seqs, 0, max};
    struct store_value p[] = {store_text(after_account), store_int(after_ms), store_int(after_seq),
                              store_int((int64_t)max)};
    enum err rc = store_query(s,
                              "SELECT account_id, created_ms, seq FROM ledger_marks"
                              " WHERE account_id > $1 OR (account_id = $1 AND (created_ms > $2"
                              " OR (created_ms = $2 AND seq > $3)))"
                              " ORDER BY account_id, created_ms, seq LIMIT $4",
                              p, ARRAY_LEN(p), marks_cb, &m, NULL, err);
    *count = rc == ERR_OK ? m.count : 0;
    return rc;
}

/* ---- timeouts ---- */

enum err store_ledger_timeout_insert(struct store *s, int64_t timeout_ms, const char *transfer_id,
                                     struct errbuf *err)
{
    ASSERT(timeout_ms > 0);
    struct store_value p[] = {store_int(timeout_ms), store_text(transfer_id)};
    return store_query(s, "INSERT INTO ledger_timeouts (timeout_ms, transfer_id) VALUES ($1, $2)",
                       p, ARRAY_LEN(p), NULL, NULL, NULL, err);
}

enum err store_ledger_timeout_delete(struct store *s, int64_t timeout_ms, const char *transfer_id,
                                     struct errbuf *err)
{
    struct store_value p[] = {store_int(timeout_ms), store_text(transfer_id)};
    int64_t changes = 0;
    enum err rc =
        store_query(s, "DELETE FROM ledger_timeouts WHERE timeout_ms = $1 AND transfer_id = $2", p,
                    ARRAY_LEN(p), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        return err_set(err, ERR_NOT_FOUND, "pending_id", "no timeout for '%s'", transfer_id);
    }
    return rc;
}

struct timeouts_ctx {
    char (*ids)[ID_MAX];
    int64_t *timeouts_ms;
    size_t count;
    size_t max;
};

static enum err timeouts_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct timeouts_ctx *t = ctx;
    if (n != 2 || c[0].type != STORE_INT) {
        return err_set(err, ERR_CORRUPT, "", "ledger timeout row is malformed");
    }
    ASSERT(t->count < t->max);
    enum err rc = store__copy_text(t->ids[t->count], ID_MAX, &c[1], err);
    if (rc == ERR_OK) {
        t->timeouts_ms[t->count] = c[0].i;
        t->count++;
    }
    return rc;
}

enum err store_ledger_timeouts_due(struct store *s, int64_t now_ms, int64_t after_ms,
                                   const char *after_id, size_t max, char (*ids)[ID_MAX],
                                   int64_t *timeouts_ms, size_t *count, struct errbuf *err)
{
    ASSERT(max > 0 && max <= STORE_LEDGER_PAGE_MAX);
    struct timeouts_ctx t = {ids, timeouts_ms, 0, max};
    struct store_value p[] = {store_int(now_ms), store_int(after_ms), store_text(after_id),
                              store_int((int64_t)max)};
    enum err rc = store_query(s,
                              "SELECT timeout_ms, transfer_id FROM ledger_timeouts"
                              " WHERE timeout_ms <= $1"
                              " AND (timeout_ms > $2 OR (timeout_ms = $2 AND transfer_id > $3))"
                              " ORDER BY timeout_ms, transfer_id LIMIT $4",
                              p, ARRAY_LEN(p), timeouts_cb, &t, NULL, err);
    *count = rc == ERR_OK ? t.count : 0;
    return rc;
}

/* ---- fee schedules ---- */

#define FEE_COLS                                                                                   \
    "id, name, version, kind, currency, rate_bp, minimum, cap, fixed_amount, period, actor,"       \
    " created_ms, log_index"
#define FEE_NCOLS 13

static enum err fee_from_row(void *dst, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct store_fee_schedule *f = dst;
    if (n != FEE_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "fee schedule row has %zu columns", n);
    }
    struct {
        size_t col;
        char *dst;
        size_t cap;
    } texts[] = {
        {0, f->id, sizeof(f->id)},         {1, f->name, sizeof(f->name)},
        {3, f->kind, sizeof(f->kind)},     {4, f->currency, sizeof(f->currency)},
        {9, f->period, sizeof(f->period)}, {10, f->actor, sizeof(f->actor)},
    };
    enum err rc = ERR_OK;
    for (size_t i = 0; i < ARRAY_LEN(texts) && rc == ERR_OK; i++) {
        rc = store__copy_text(texts[i].dst, texts[i].cap, &c[texts[i].col], err);
    }
    struct {
        size_t col;
        int64_t *dst;
    } ints[] = {{2, &f->version},      {5, &f->rate_bp},     {6, &f->minimum},   {7, &f->cap},
                {8, &f->fixed_amount}, {11, &f->created_ms}, {12, &f->log_index}};
    for (size_t i = 0; i < ARRAY_LEN(ints) && rc == ERR_OK; i++) {
        rc = int_col(&c[ints[i].col], ints[i].dst, err);
    }
    return rc;
}

enum err store_fee_schedule_insert(struct store *s, const struct store_fee_schedule *f,
                                   struct errbuf *err)
{
    ASSERT(f->id[0] != '\0');
    ASSERT(f->version >= 1);
    struct store_value p[] = {
        store_text(f->id),       store_text(f->name),     store_int(f->version),
        store_text(f->kind),     store_text(f->currency), store_int(f->rate_bp),
        store_int(f->minimum),   store_int(f->cap),       store_int(f->fixed_amount),
        store_text(f->period),   store_text(f->actor),    store_int(f->created_ms),
        store_int(f->log_index),
    };
    return store_query(s,
                       "INSERT INTO ledger_fee_schedules (" FEE_COLS
                       ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                       p, ARRAY_LEN(p), NULL, NULL, NULL, err);
}

static enum err fee_one_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    return fee_from_row(ctx, c, n, err);
}

enum err store_fee_schedule_get(struct store *s, const char *id, struct store_fee_schedule *out,
                                struct errbuf *err)
{
    struct store_value p[] = {store_text(id)};
    out->id[0] = '\0';
    enum err rc = store_query(s, "SELECT " FEE_COLS " FROM ledger_fee_schedules WHERE id = $1", p,
                              1, fee_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "fee_schedule", "no fee schedule '%s'", id);
    }
    return rc;
}

static enum err version_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    if (n != 1 || (c[0].type != STORE_INT && c[0].type != STORE_NULL)) {
        return err_set(err, ERR_CORRUPT, "", "fee schedule version is malformed");
    }
    *(int64_t *)ctx = c[0].type == STORE_INT ? c[0].i : 0;
    return ERR_OK;
}

enum err store_fee_schedule_latest_version(struct store *s, const char *name, int64_t *version,
                                           struct errbuf *err)
{
    struct store_value p[] = {store_text(name)};
    *version = 0;
    return store_query(s, "SELECT MAX(version) FROM ledger_fee_schedules WHERE name = $1", p, 1,
                       version_cb, version, NULL, err);
}

enum err store_fee_schedule_list(struct store *s, const char *name, struct store_fee_schedule **out,
                                 size_t *count, struct errbuf *err)
{
    struct rows_ctx r = {NULL, 0, 0, sizeof(**out), STORE_FEE_SCHEDULES_MAX, fee_from_row};
    struct store_value p[] = {store_text_or_null(name), store_int(STORE_FEE_SCHEDULES_MAX)};
    enum err rc = store_query(s,
                              "SELECT " FEE_COLS " FROM ledger_fee_schedules"
                              " WHERE (CAST($1 AS TEXT) IS NULL OR name = $1)"
                              " ORDER BY created_ms DESC, name, version DESC LIMIT $2",
                              p, ARRAY_LEN(p), rows_cb, &r, NULL, err);
    return rows_finish(&r, rc, out, count);
}
