/*
 * clearing.c: the ledger's rows (accounts, transfers, open timeouts, fee schedules), written
 * once on top of the backend interface in portable SQL. The rules that decide what may be
 * written are the clearing module's; this file only reads and writes rows, and reports a
 * stored row of the wrong shape as ERR_CORRUPT.
 *
 * The batch statements of a ledger mutation (read its accounts, insert its transfers and
 * marks, write its accounts back) differ by backend, because what is cheap differs:
 *   SQLite      a local call: one prepared statement per row. A one-row statement by
 *               primary key costs less than any multi-row form tried (an IN list or UPDATE
 *               ... FROM VALUES builds a temporary b-tree first; an IN list of 32 mostly NULL
 *               placeholders, a one-transfer mutation's read, cost several times more).
 *   PostgreSQL  every statement is a round trip and planning a long statement is slow, so
 *               each batch is one prepared statement whose parameters are arrays, one per
 *               column (`unnest($1::TEXT[], $2::BIGINT[], ...)`, within the backends' 32
 *               parameters). The rows are matched by `a.id = ANY(ARRAY[v.id])`, which is
 *               not a hashable join clause: the planner can only probe the primary key once
 *               per row (a nested loop), where with `a.id = v.id` it chose to hash and scan
 *               the whole table (~1 ms per 2,000 accounts, every call).
 * SQLite also keeps the accounts it read or wrote in a cache (store__account_cache, below):
 * the process holds the database exclusively, so only its own writes change a row, and every
 * rollback and every store_exec empties the cache, so it never holds what was undone.
 * The arrays are text-format array literals built by pg_array_*: every element quoted, with
 * backslash before '"' and '\\'; integers printed by us. NUL cannot occur (the backend refuses
 * it in any text parameter).
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <inttypes.h>
#include <stddef.h>
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

/* ---- SQLite's account cache ---- */

/* Direct-mapped: an id has one slot; a newer account in it evicts the older. */
#define ACCOUNT_CACHE_SLOTS 16384

struct account_slot {
    uint64_t gen; /* valid when s->accounts_gen + 1 */
    struct store_ledger_account a;
};

struct store__account_cache {
    struct account_slot slot[ACCOUNT_CACHE_SLOTS];
};

void store__account_cache_free(struct store *s)
{
    mem_free(s->accounts);
    s->accounts = NULL;
}

static struct account_slot *cache_slot(struct store *s, const char *id)
{
    if (s->accounts == NULL) {
        s->accounts = mem_calloc(1, sizeof(*s->accounts));
        if (s->accounts == NULL) {
            return NULL; /* no cache: every read goes to the table */
        }
    }
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const char *p = id; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    }
    return &s->accounts->slot[(h ^ (h >> 32)) & (ACCOUNT_CACHE_SLOTS - 1)];
}

/* The cached row of id, or NULL. */
static const struct store_ledger_account *cache_get(struct store *s, const char *id)
{
    struct account_slot *c = s->accounts == NULL ? NULL : cache_slot(s, id);
    return c != NULL && c->gen == s->accounts_gen + 1 && strcmp(c->a.id, id) == 0 ? &c->a : NULL;
}

/* Remembers a row as it is now in the table (read or written in this generation). */
static void cache_put(struct store *s, const struct store_ledger_account *a)
{
    struct account_slot *c = cache_slot(s, a->id);
    if (c != NULL) {
        c->a = *a;
        c->gen = s->accounts_gen + 1;
    }
}

/* ---- PostgreSQL array parameters ---- */

#define PG_ARRAY_MAX (4u << 20) /* STORE_LEDGER_WRITE_MAX texts of at most ~1 KiB */

/* Appends a text element to the array literal in b ("{" not yet closed). */
static enum err pg_array_text(struct buf *b, const char *text)
{
    enum err rc = buf_append(b, b->len > 1 ? ",\"" : "\"", b->len > 1 ? 2 : 1);
    for (const char *p = text; rc == ERR_OK && *p != '\0';) {
        size_t n = strcspn(p, "\"\\");
        rc = buf_append(b, p, n);
        p += n;
        if (rc == ERR_OK && *p != '\0') {
            char esc[2] = {'\\', *p};
            rc = buf_append(b, esc, 2);
            p++;
        }
    }
    return rc == ERR_OK ? buf_append(b, "\"", 1) : rc;
}

static enum err pg_array_int(struct buf *b, int64_t v)
{
    enum err rc = b->len > 1 ? buf_append(b, ",", 1) : ERR_OK;
    return rc == ERR_OK ? buf_append_i64(b, v) : rc;
}

/* One column of a batch: a text (char array) or an int64_t field of the row struct. */
struct pg_col {
    size_t offset;
    int is_int;
};

/* Builds one array literal per column over count rows of size bytes at rows (rows[i] may
 * also be reached through ptrs[i] when ptrs is set) and points p[k] at it. The caller
 * releases bufs[0..ncols). */
static enum err pg_arrays(const struct pg_col *cols, size_t ncols, const void *rows, size_t size,
                          const void *const *ptrs, size_t count, struct buf *bufs,
                          struct store_value *p)
{
    enum err rc = ERR_OK;
    for (size_t k = 0; k < ncols; k++) {
        buf_init(&bufs[k], PG_ARRAY_MAX);
    }
    for (size_t k = 0; k < ncols && rc == ERR_OK; k++) {
        rc = buf_append(&bufs[k], "{", 1);
        for (size_t i = 0; i < count && rc == ERR_OK; i++) {
            const char *row = ptrs != NULL ? ptrs[i] : (const char *)rows + i * size;
            const char *field = row + cols[k].offset;
            if (cols[k].is_int) {
                int64_t v;
                memcpy(&v, field, sizeof(v));
                rc = pg_array_int(&bufs[k], v);
            } else {
                rc = pg_array_text(&bufs[k], field);
            }
        }
        rc = rc == ERR_OK ? buf_append(&bufs[k], "}", 1) : rc;
        p[k] = (struct store_value){STORE_TEXT, 0, bufs[k].data, bufs[k].len};
    }
    return rc;
}

static void pg_arrays_release(struct buf *bufs, size_t ncols)
{
    for (size_t k = 0; k < ncols; k++) {
        buf_release(&bufs[k]);
    }
}

/* ---- accounts ---- */

#define ACCOUNT_COLS                                                                               \
    "id, owner, kind, currency, flags, debits_posted, credits_posted, debits_pending,"             \
    " credits_pending, last_seq, entries, created_ms, log_index"
#define ACCOUNT_NCOLS 13
#define ACCOUNT_COLS_A                                                                             \
    "a.id, a.owner, a.kind, a.currency, a.flags, a.debits_posted, a.credits_posted,"               \
    " a.debits_pending, a.credits_pending, a.last_seq, a.entries, a.created_ms, a.log_index"

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
    enum err rc = store_query(s,
                              "INSERT INTO ledger_accounts (" ACCOUNT_COLS
                              ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                              p, ARRAY_LEN(p), NULL, NULL, NULL, err);
    if (rc == ERR_OK && !remote(s)) {
        cache_put(s, a);
    }
    return rc;
}

/* SQLite: one prepared UPDATE by primary key per account (see the file comment). */
static enum err account_update_one(struct store *s, const struct store_ledger_account *x,
                                   struct errbuf *err)
{
    struct store_value p[] = {store_text(x->id),
                              store_int(x->debits_posted),
                              store_int(x->credits_posted),
                              store_int(x->debits_pending),
                              store_int(x->credits_pending),
                              store_int(x->last_seq),
                              store_int(x->entries)};
    int64_t changes = 0;
    enum err rc = store_query(s,
                              "UPDATE ledger_accounts SET debits_posted = $2, credits_posted = $3,"
                              " debits_pending = $4, credits_pending = $5, last_seq = $6,"
                              " entries = $7 WHERE id = $1",
                              p, ARRAY_LEN(p), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        return err_set(err, ERR_NOT_FOUND, "account", "ledger account '%s' is missing", x->id);
    }
    if (rc == ERR_OK) {
        /* The cached row takes the columns written, nothing else (as the table did). */
        const struct store_ledger_account *cached = cache_get(s, x->id);
        if (cached != NULL) {
            struct store_ledger_account a = *cached;
            a.debits_posted = x->debits_posted;
            a.credits_posted = x->credits_posted;
            a.debits_pending = x->debits_pending;
            a.credits_pending = x->credits_pending;
            a.last_seq = x->last_seq;
            a.entries = x->entries;
            cache_put(s, &a);
        }
    }
    return rc;
}

/* The columns store_ledger_accounts_update writes, in its PostgreSQL statement's order. */
static const struct pg_col account_update_cols[] = {
    {offsetof(struct store_ledger_account, id), 0},
    {offsetof(struct store_ledger_account, debits_posted), 1},
    {offsetof(struct store_ledger_account, credits_posted), 1},
    {offsetof(struct store_ledger_account, debits_pending), 1},
    {offsetof(struct store_ledger_account, credits_pending), 1},
    {offsetof(struct store_ledger_account, last_seq), 1},
    {offsetof(struct store_ledger_account, entries), 1},
};
#define ACCOUNT_UPDATE_NCOLS ARRAY_LEN(account_update_cols)

enum err store_ledger_accounts_update(struct store *s, const struct store_ledger_account *const *a,
                                      size_t count, struct errbuf *err)
{
    ASSERT(count >= 1 && count <= STORE_LEDGER_WRITE_MAX);
    for (size_t i = 0; i < count; i++) {
        ASSERT(a[i]->debits_pending >= 0 && a[i]->credits_pending >= 0);
    }
    if (!remote(s)) {
        enum err rc = ERR_OK;
        for (size_t i = 0; i < count && rc == ERR_OK; i++) {
            rc = account_update_one(s, a[i], err);
        }
        return rc;
    }
    struct buf bufs[ACCOUNT_UPDATE_NCOLS];
    struct store_value p[ACCOUNT_UPDATE_NCOLS];
    enum err rc = pg_arrays(account_update_cols, ACCOUNT_UPDATE_NCOLS, NULL, 0,
                            (const void *const *)a, count, bufs, p);
    int64_t changes = 0;
    if (rc != ERR_OK) {
        rc = err_set(err, rc, "", "cannot build the ledger's account update");
    } else {
        rc = store_query(s,
                         "UPDATE ledger_accounts AS a SET debits_posted = v.dp,"
                         " credits_posted = v.cp, debits_pending = v.dq, credits_pending = v.cq,"
                         " last_seq = v.ls, entries = v.en"
                         " FROM unnest($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[],"
                         " $5::BIGINT[], $6::BIGINT[], $7::BIGINT[])"
                         " AS v (id, dp, cp, dq, cq, ls, en) WHERE a.id = ANY(ARRAY[v.id])",
                         p, ACCOUNT_UPDATE_NCOLS, NULL, NULL, &changes, err);
    }
    pg_arrays_release(bufs, ACCOUNT_UPDATE_NCOLS);
    if (rc == ERR_OK && changes != (int64_t)count) {
        return err_set(err, ERR_NOT_FOUND, "account", "%zu of %zu ledger accounts are missing",
                       count - (size_t)changes, count);
    }
    return rc;
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

/* PostgreSQL: rows of ACCOUNT_COLS followed by the row's 1-based position in the ids asked
 * for, which places it without a search. */
struct placed_ctx {
    const char *const *ids;
    size_t count;
    struct store_ledger_account *out;
    int *found;
};

static enum err placed_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct placed_ctx *m = ctx;
    if (n != ACCOUNT_NCOLS + 1 || c[ACCOUNT_NCOLS].type != STORE_INT || c[ACCOUNT_NCOLS].i < 1 ||
        (uint64_t)c[ACCOUNT_NCOLS].i > m->count) {
        return err_set(err, ERR_CORRUPT, "", "ledger account read returned a misplaced row");
    }
    size_t i = (size_t)c[ACCOUNT_NCOLS].i - 1;
    enum err rc = account_from_row(&m->out[i], c, ACCOUNT_NCOLS, err);
    if (rc == ERR_OK && (m->found[i] || strcmp(m->out[i].id, m->ids[i]) != 0)) {
        rc = err_set(err, ERR_CORRUPT, "", "ledger account read returned an id not asked for");
    }
    if (rc == ERR_OK) {
        m->found[i] = 1;
    }
    return rc;
}

static const struct pg_col id_col[] = {{0, 0}};

static enum err accounts_get_pg(struct store *s, const char *const *ids, size_t count,
                                struct store_ledger_account *out, int *found, struct errbuf *err)
{
    struct buf arr;
    struct store_value p[1];
    enum err rc = pg_arrays(id_col, 1, NULL, 0, (const void *const *)ids, count, &arr, p);
    struct placed_ctx m = {ids, count, out, found};
    if (rc != ERR_OK) {
        rc = err_set(err, rc, "", "cannot build the ledger's account read");
    } else {
        rc = store_query(s,
                         "SELECT " ACCOUNT_COLS_A ", x.ord FROM unnest($1::TEXT[])"
                         " WITH ORDINALITY AS x (id, ord)"
                         " JOIN ledger_accounts AS a ON a.id = ANY(ARRAY[x.id])",
                         p, 1, placed_cb, &m, NULL, err);
    }
    pg_arrays_release(&arr, 1);
    return rc;
}

enum err store_ledger_accounts_get(struct store *s, const char *const *ids, size_t count,
                                   struct store_ledger_account *out, int *found, struct errbuf *err)
{
    ASSERT(count <= STORE_LEDGER_WRITE_MAX);
    for (size_t i = 0; i < count; i++) {
        found[i] = 0;
    }
    if (count == 0) {
        return ERR_OK;
    }
    if (remote(s)) {
        return accounts_get_pg(s, ids, count, out, found, err);
    }
    /* SQLite: a prepared one-row read per id. An IN list of 32 placeholders costs as much per
     * account when full and several times more when mostly NULL (a one-transfer mutation):
     * SQLite first builds a temporary b-tree of the list. */
    enum err rc = ERR_OK;
    for (size_t i = 0; i < count && rc == ERR_OK; i++) {
        const struct store_ledger_account *cached = cache_get(s, ids[i]);
        if (cached != NULL) {
            out[i] = *cached;
            found[i] = 1;
            continue;
        }
        struct store_value p[] = {store_text(ids[i])};
        struct multi_ctx m = {ids + i, 1, out + i, sizeof(*out), found + i, account_from_row, 0};
        rc = store_query(s, "SELECT " ACCOUNT_COLS " FROM ledger_accounts WHERE id = $1", p, 1,
                         multi_cb, &m, NULL, err);
        if (rc == ERR_OK && found[i]) {
            cache_put(s, &out[i]);
        }
    }
    return rc;
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

/* TRANSFER_COLS as PostgreSQL array parameters, in the same order. */
#define T_TEXT(f)                                                                                  \
    {                                                                                              \
        offsetof(struct store_ledger_transfer, f), 0                                               \
    }
#define T_INT(f)                                                                                   \
    {                                                                                              \
        offsetof(struct store_ledger_transfer, f), 1                                               \
    }
static const struct pg_col transfer_cols[] = {
    T_INT(seq),
    T_TEXT(id),
    T_TEXT(kind),
    T_TEXT(state),
    T_TEXT(debit_account),
    T_TEXT(credit_account),
    T_INT(amount),
    T_TEXT(currency),
    T_TEXT(code),
    T_TEXT(reference),
    T_TEXT(pending_id),
    T_INT(timeout_ms),
    T_TEXT(caller),
    T_TEXT(idempotency_key),
    T_TEXT(request_hash),
    T_INT(debit_posted_after),
    T_INT(debit_pending_after),
    T_INT(credit_posted_after),
    T_INT(credit_pending_after),
    T_INT(debit_prev_seq),
    T_INT(credit_prev_seq),
    T_INT(created_ms),
    T_INT(log_index),
};
_Static_assert(ARRAY_LEN(transfer_cols) == TRANSFER_NCOLS, "one array per column");

enum err store_ledger_transfers_insert(struct store *s, const struct store_ledger_transfer *t,
                                       size_t count, struct errbuf *err)
{
    ASSERT(count >= 1 && count <= STORE_LEDGER_WRITE_MAX);
    for (size_t i = 0; i < count; i++) {
        ASSERT(t[i].id[0] != '\0');
        ASSERT(t[i].amount > 0);
    }
    if (!remote(s)) {
        enum err rc = ERR_OK;
        for (size_t i = 0; i < count && rc == ERR_OK; i++) {
            rc = transfer_insert(s, &t[i], err);
        }
        return rc;
    }
    struct buf bufs[TRANSFER_NCOLS];
    struct store_value p[TRANSFER_NCOLS];
    enum err rc = pg_arrays(transfer_cols, TRANSFER_NCOLS, t, sizeof(*t), NULL, count, bufs, p);
    if (rc != ERR_OK) {
        rc = err_set(err, rc, "", "cannot build the ledger's transfer insert");
    } else {
        rc = store_query(s,
                         "INSERT INTO ledger_transfers (" TRANSFER_COLS ") SELECT * FROM unnest("
                         "$1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],"
                         " $6::TEXT[], $7::BIGINT[], $8::TEXT[], $9::TEXT[], $10::TEXT[],"
                         " $11::TEXT[], $12::BIGINT[], $13::TEXT[], $14::TEXT[], $15::TEXT[],"
                         " $16::BIGINT[], $17::BIGINT[], $18::BIGINT[], $19::BIGINT[],"
                         " $20::BIGINT[], $21::BIGINT[], $22::BIGINT[], $23::BIGINT[])",
                         p, TRANSFER_NCOLS, NULL, NULL, NULL, err);
    }
    pg_arrays_release(bufs, TRANSFER_NCOLS);
    return rc;
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
    if (!remote(s)) {
        /* One-row reads, as store_ledger_accounts_get: an idempotent retry checks one id. */
        enum err rc = ERR_OK;
        for (size_t i = 0; i < count && rc == ERR_OK; i++) {
            struct store_value p[] = {store_text(ids[i])};
            struct multi_ctx m = {ids + i,           1, out + i, sizeof(*out), found + i,
                                  transfer_from_row, 1};
            rc = store_query(s, "SELECT " TRANSFER_COLS " FROM ledger_transfers WHERE id = $1", p,
                             1, multi_cb, &m, NULL, err);
        }
        return rc;
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

static enum err last_ms_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    if (n != 1 || c[0].type != STORE_INT || c[0].i < 0) {
        return err_set(err, ERR_CORRUPT, "", "the newest ledger transfer's time is malformed");
    }
    *(int64_t *)ctx = c[0].i;
    return ERR_OK;
}

enum err store_ledger_last_ms(struct store *s, int64_t *ms, struct errbuf *err)
{
    *ms = 0;
    return store_query(s, "SELECT created_ms FROM ledger_transfers ORDER BY seq DESC LIMIT 1", NULL,
                       0, last_ms_cb, ms, NULL, err);
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

static const struct pg_col mark_cols[] = {
    {offsetof(struct store_ledger_mark, account_id), 0},
    {offsetof(struct store_ledger_mark, created_ms), 1},
    {offsetof(struct store_ledger_mark, seq), 1},
};

enum err store_ledger_marks_insert(struct store *s, const struct store_ledger_mark *m, size_t count,
                                   struct errbuf *err)
{
    ASSERT(count <= STORE_LEDGER_WRITE_MAX);
    if (count == 0) {
        return ERR_OK;
    }
    if (!remote(s)) {
        enum err rc = ERR_OK;
        for (size_t i = 0; i < count && rc == ERR_OK; i++) {
            rc = store_ledger_mark_insert(s, m[i].account_id, m[i].created_ms, m[i].seq, err);
        }
        return rc;
    }
    struct buf bufs[ARRAY_LEN(mark_cols)];
    struct store_value p[ARRAY_LEN(mark_cols)];
    enum err rc = pg_arrays(mark_cols, ARRAY_LEN(mark_cols), m, sizeof(*m), NULL, count, bufs, p);
    if (rc != ERR_OK) {
        rc = err_set(err, rc, "", "cannot build the ledger's mark insert");
    } else {
        rc = store_query(s,
                         "INSERT INTO ledger_marks (account_id, created_ms, seq)"
                         " SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::BIGINT[])",
                         p, ARRAY_LEN(p), NULL, NULL, NULL, err);
    }
    pg_arrays_release(bufs, ARRAY_LEN(mark_cols));
    return rc;
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
