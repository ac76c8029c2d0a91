/*
 * store.c: opening a store on the right backend, nested transactions and the parameter
 * helpers. The backend does the SQL; this file only sequences it.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static const struct store_ops *store_backend_for(const char *uri)
{
    if (strncmp(uri, "postgres://", 11) == 0 || strncmp(uri, "postgresql://", 13) == 0) {
        return &store_postgres_ops;
    }
    return &store_sqlite_ops;
}

int store_uri_shared(const char *uri)
{
    ASSERT(uri != NULL);
    return store_backend_for(uri) != &store_sqlite_ops;
}

enum err store_open(const char *uri, struct store **out, struct errbuf *err)
{
    return store_open_with(uri, 0, out, err);
}

enum err store_open_with(const char *uri, unsigned flags, struct store **out, struct errbuf *err)
{
    ASSERT(uri != NULL);
    ASSERT(out != NULL);
    ASSERT((flags & ~(unsigned)(STORE_OPEN_NO_MIGRATE | STORE_OPEN_READ_ONLY)) == 0);
    /* Migrating writes: a read-only connection opens a schema somebody else migrated. */
    ASSERT(!(flags & STORE_OPEN_READ_ONLY) || (flags & STORE_OPEN_NO_MIGRATE));
    const struct store_ops *ops = store_backend_for(uri);
    if (ops == NULL) {
        return err_set(err, ERR_INVALID, "db", "no store backend for '%s'", uri);
    }
    struct store *s = mem_calloc(1, sizeof(*s));
    if (s == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory opening the store");
    }
    s->ops = ops;
    enum err rc = ops->open(uri, &s->db, err);
    if (rc != ERR_OK) {
        mem_free(s);
        return rc;
    }
    if ((flags & STORE_OPEN_NO_MIGRATE) == 0) {
        rc = store_migrate(s, NULL, err);
    }
    if (rc == ERR_OK && (flags & STORE_OPEN_READ_ONLY)) {
        rc = ops->read_only(s->db, err);
        s->read_only = 1;
    }
    if (rc != ERR_OK) {
        store_close(s);
        return rc;
    }
    *out = s;
    return ERR_OK;
}

void store_close(struct store *s)
{
    if (s == NULL) {
        return;
    }
    ASSERT(s->depth == 0);
    s->ops->close(s->db);
    store__account_cache_free(s);
    mem_free(s);
}

const char *store_backend_name(const struct store *s)
{
    ASSERT(s != NULL);
    return s->ops->name;
}

enum err store_leader_try(struct store *s, int *is_leader, struct errbuf *err)
{
    ASSERT(s != NULL);
    ASSERT(s->depth == 0); /* a failed statement would abort the caller's transaction */
    *is_leader = 0;
    enum err rc = s->ops->leader_try(s->db, is_leader, err);
    if (rc != ERR_OK) {
        *is_leader = 0;
    }
    ASSERT(*is_leader == 0 || *is_leader == 1);
    return rc;
}

int store_leader_held(struct store *s)
{
    ASSERT(s != NULL);
    return s->ops->leader_held == NULL || s->ops->leader_held(s->db);
}

int store_tx_depth(const struct store *s)
{
    return s->depth;
}

enum err store_tx_begin(struct store *s, struct errbuf *err)
{
    ASSERT(s != NULL);
    ASSERT(s->depth >= 0);
    if (s->read_only) {
        return err_set(err, ERR_IO, "", "a read-only store connection opens no transaction");
    }
    enum err rc;
    if (s->depth == 0) {
        rc = s->ops->exec(s->db, s->ops->begin_sql, err);
    } else {
        char sql[32];
        snprintf(sql, sizeof(sql), "SAVEPOINT sp%d", s->depth);
        rc = s->ops->exec(s->db, sql, err);
    }
    if (rc == ERR_OK) {
        s->depth++;
    }
    return rc;
}

enum err store_tx_commit(struct store *s, struct errbuf *err)
{
    ASSERT(s != NULL);
    ASSERT(s->depth > 0);
    enum err rc;
    if (s->depth == 1) {
        rc = s->ops->exec(s->db, "COMMIT", err);
        if (rc != ERR_OK) {
            /* A failed COMMIT leaves nothing applied; close the transaction for good. */
            s->ops->exec(s->db, "ROLLBACK", NULL);
            s->accounts_gen++;
        }
        s->depth = 0;
        return rc;
    }
    char sql[32];
    snprintf(sql, sizeof(sql), "RELEASE SAVEPOINT sp%d", s->depth - 1);
    rc = s->ops->exec(s->db, sql, err);
    if (rc != ERR_OK) {
        store_tx_rollback(s);
        return rc;
    }
    s->depth--;
    return ERR_OK;
}

void store_tx_rollback(struct store *s)
{
    ASSERT(s != NULL);
    ASSERT(s->depth > 0);
    s->accounts_gen++; /* what the cache learnt in the rolled-back part is void */
    if (s->depth == 1) {
        s->ops->exec(s->db, "ROLLBACK", NULL);
    } else {
        char sql[64];
        snprintf(sql, sizeof(sql), "ROLLBACK TO SAVEPOINT sp%d", s->depth - 1);
        s->ops->exec(s->db, sql, NULL);
        snprintf(sql, sizeof(sql), "RELEASE SAVEPOINT sp%d", s->depth - 1);
        s->ops->exec(s->db, sql, NULL);
    }
    s->depth--;
}

void store_defer_begin(struct store *s)
{
    ASSERT(s != NULL);
    if (s->ops->defer != NULL) {
        (void)s->ops->defer(s->db, 1, NULL); /* starting cannot fail */
    }
}

enum err store_defer_end(struct store *s, struct errbuf *err)
{
    ASSERT(s != NULL);
    return s->ops->defer != NULL ? s->ops->defer(s->db, 0, err) : ERR_OK;
}

enum err store_query(struct store *s, const char *sql, const struct store_value *params,
                     size_t count, store_row_cb *row_cb, void *ctx, int64_t *changes,
                     struct errbuf *err)
{
    ASSERT(s != NULL);
    ASSERT(sql != NULL);
    return s->ops->query(s->db, sql, params, count, row_cb, ctx, changes, err);
}

enum err store_exec(struct store *s, const char *sql, struct errbuf *err)
{
    ASSERT(s != NULL);
    s->accounts_gen++; /* any SQL may write ledger accounts (a migration, a copy, a repair) */
    return s->ops->exec(s->db, sql, err);
}

struct store_value store_int(int64_t i)
{
    struct store_value v = {STORE_INT, i, NULL, 0};
    return v;
}

struct store_value store_text(const char *s)
{
    ASSERT(s != NULL);
    struct store_value v = {STORE_TEXT, 0, s, strlen(s)};
    return v;
}

struct store_value store_null(void)
{
    struct store_value v = {STORE_NULL, 0, NULL, 0};
    return v;
}

struct store_value store_text_or_null(const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return store_null();
    }
    return store_text(s);
}

enum err store__copy_text(char *dst, size_t cap, const struct store_value *v, struct errbuf *err)
{
    ASSERT(cap > 0);
    if (v->type == STORE_NULL) {
        dst[0] = '\0';
        return ERR_OK;
    }
    if (v->type != STORE_TEXT || v->len >= cap) {
        return err_set(err, ERR_CORRUPT, "", "stored text column does not fit (%zu bytes)", v->len);
    }
    memcpy(dst, v->s, v->len);
    dst[v->len] = '\0';
    return ERR_OK;
}

enum err store__cursor_parse(const char *cursor, int64_t *ms, char id[ID_MAX], struct errbuf *err)
{
    ASSERT(cursor != NULL);
    const char *dot = strchr(cursor, '.');
    if (dot == NULL || dot == cursor || dot - cursor > 18 || !id_valid(dot + 1, NULL)) {
        return err_set(err, ERR_INVALID, "cursor", "malformed cursor");
    }
    int64_t v = 0;
    for (const char *p = cursor; p < dot; p++) {
        if (*p < '0' || *p > '9') {
            return err_set(err, ERR_INVALID, "cursor", "malformed cursor");
        }
        v = v * 10 + (*p - '0');
    }
    *ms = v;
    snprintf(id, ID_MAX, "%s", dot + 1);
    return ERR_OK;
}

enum err store__count_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    ASSERT(n == 1);
    if (c[0].type == STORE_NULL) {
        *(int64_t *)ctx = 0;
        return ERR_OK;
    }
    if (c[0].type != STORE_INT) {
        return err_set(err, ERR_CORRUPT, "", "a count is not an integer");
    }
    *(int64_t *)ctx = c[0].i;
    return ERR_OK;
}

enum err store__cols_read(const struct store__col *cols, size_t count, const struct store_value *v,
                          size_t n, const char *what, struct errbuf *err)
{
    if (n != count) {
        return err_set(err, ERR_CORRUPT, "", "%s row has %zu columns", what, n);
    }
    for (size_t k = 0; k < count; k++) {
        if (cols[k].text != NULL) {
            enum err rc = store__copy_text(cols[k].text, cols[k].cap, &v[k], err);
            if (rc != ERR_OK) {
                return rc;
            }
        } else if (v[k].type != STORE_INT) {
            return err_set(err, ERR_CORRUPT, "", "%s column %zu is not an integer", what, k);
        } else {
            *cols[k].i = v[k].i;
        }
    }
    return ERR_OK;
}

enum err store__rows_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store__rows *r = ctx;
    if (r->count == r->max) {
        return ERR_OK;
    }
    if (r->count == r->cap) {
        ASSERT(r->cap > 0 || r->first > 0);
        size_t cap = r->cap == 0 ? r->first : r->cap * 2;
        cap = cap > r->max ? r->max : cap;
        void *p = mem_realloc(r->items, cap * r->size);
        if (p == NULL) {
            return err_set(err, ERR_NOMEM, "", "out of memory");
        }
        r->items = p;
        r->cap = cap;
    }
    void *item = r->items + r->count * r->size;
    memset(item, 0, r->size);
    enum err rc = r->parse(item, v, n, err);
    if (rc == ERR_OK) {
        r->count++;
    }
    return rc;
}

enum err store__rows_query(struct store *s, const char *sql, const struct store_value *params,
                           size_t nparams, struct store__rows *r, void **out, size_t *count,
                           struct errbuf *err)
{
    enum err rc = store_query(s, sql, params, nparams, store__rows_cb, r, NULL, err);
    if (rc != ERR_OK) {
        mem_free(r->items);
        *out = NULL;
        *count = 0;
        return rc;
    }
    *out = r->items;
    *count = r->count;
    return ERR_OK;
}
