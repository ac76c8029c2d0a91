/*
 * sqlite.c: the embedded backend. One connection, WAL journal, synchronous=FULL so that a
 * committed transaction survives power loss, and a small cache of prepared statements keyed
 * by SQL text (a copy: most statements are static strings, but `bourse db copy` builds its own).
 *
 * The connection holds the database exclusively (locking_mode=EXCLUSIVE): one server per data
 * directory, and no file-lock system call per transaction (it doubled the log's durable
 * append rate; docs/decisions/0003-log-sequencing.md). That process is therefore always the log's
 * leader (store_leader_try).
 *
 * Parameters are written `$1`, `$2`, ... as PostgreSQL wants them; SQLite treats them as
 * named parameters, so they are bound by name, never by position.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

#define SQLITE_STMT_CACHE 160 /* more than the distinct statements the store issues */
#define SQLITE_PARAMS_MAX 32
#define SQLITE_COLS_MAX 32
#define SQLITE_BUSY_MS 5000

struct sqlite_stmt {
    char *sql;       /* owned copy: the cache must not depend on the caller's string living on */
    const char *key; /* the caller's pointer, for the fast lookup (confirmed by strcmp) */
    sqlite3_stmt *stmt;
    /* The index of $1..$n in stmt (0: not used), found once at prepare: binding by name costs a
     * snprintf and a search per parameter, a tenth of a ledger write (bench/ledger.sh). */
    int params[SQLITE_PARAMS_MAX];
};

struct sqlite_db {
    sqlite3 *db;
    struct sqlite_stmt cache[SQLITE_STMT_CACHE];
    size_t cached;
};

static enum err sqlite_error(sqlite3 *db, int rc, struct errbuf *err, const char *what)
{
    int base = rc & 0xff;
    const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (base) {
    case SQLITE_CONSTRAINT:
        return err_set(err, ERR_CONFLICT, "", "%s: %s", what, msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return err_set(err, ERR_UNAVAILABLE, "", "%s: database busy: %s", what, msg);
    case SQLITE_NOMEM:
        return err_set(err, ERR_NOMEM, "", "%s: out of memory", what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return err_set(err, ERR_CORRUPT, "", "%s: %s", what, msg);
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    default:
        return err_set(err, ERR_IO, "", "%s: %s", what, msg);
    }
}

static enum err sqlite_query(void *handle, const char *sql, const struct store_value *params,
                             size_t count, store_row_cb *row_cb, void *ctx, int64_t *changes,
                             struct errbuf *err);
static int sqlite_cached(const struct sqlite_db *d, const char *sql);

static enum err sqlite_exec(void *handle, const char *sql, struct errbuf *err)
{
    struct sqlite_db *d = handle;
    ASSERT(d != NULL);
    if (strchr(sql, ';') == NULL) {
        /* One statement: the transaction control every mutation issues (BEGIN, SAVEPOINT,
         * RELEASE, COMMIT) runs prepared from the cache. Parsing it anew each time was a
         * tenth of a one-transfer ledger mutation (docs/decisions/0004-ledger.md). */
        enum err e = sqlite_query(handle, sql, NULL, 0, NULL, NULL, NULL, err);
        if (e != ERR_NOMEM || sqlite_cached(d, sql)) {
            return e;
        }
        /* No memory to cache it, so it did not run: run it as before, so that a ROLLBACK
         * never fails for want of a cache entry. */
    }
    int rc = sqlite3_exec(d->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return sqlite_error(d->db, rc, err, "cannot execute statement");
    }
    return ERR_OK;
}

static enum err sqlite_open(const char *uri, void **out, struct errbuf *err)
{
    struct sqlite_db *d = mem_calloc(1, sizeof(*d));
    if (d == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory opening '%s'", uri);
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(uri, &d->db, flags, NULL);
    enum err e = ERR_OK;
    if (rc != SQLITE_OK) {
        e = sqlite_error(d->db, rc, err, "cannot open database");
        goto out;
    }
    sqlite3_busy_timeout(d->db, SQLITE_BUSY_MS);
    sqlite3_extended_result_codes(d->db, 1);
    e = sqlite_exec(d,
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                    "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; "
                    "PRAGMA locking_mode=EXCLUSIVE",
                    err);
    /* Exclusive locking: the write lock taken here is held until close, so a second
     * process (a second server on the same data directory) fails now, clearly. */
    if (e == ERR_OK && sqlite3_exec(d->db, "BEGIN IMMEDIATE; COMMIT", NULL, NULL, NULL) != 0) {
        e = ERR_UNAVAILABLE;
    }
    if (e == ERR_UNAVAILABLE) {
        e = err_set(err, ERR_UNAVAILABLE, "db",
                    "database '%s' is in use by another process (is another bourse serving "
                    "this data directory?)",
                    uri);
    }
    if (e == ERR_OK) {
        e = store__search_sqlite_attach(d->db, err); /* the catalogue's ranking (search_sqlite.c) */
    }
    if (e != ERR_OK) {
        goto out;
    }
    *out = d;
    d = NULL;
out:
    if (d != NULL) {
        sqlite3_close(d->db);
        mem_free(d);
    }
    return e;
}

static void sqlite_close(void *handle)
{
    struct sqlite_db *d = handle;
    if (d == NULL) {
        return;
    }
    for (size_t i = 0; i < d->cached; i++) {
        sqlite3_finalize(d->cache[i].stmt);
        mem_free(d->cache[i].sql);
    }
    sqlite3_close(d->db);
    mem_free(d);
}

/* 1 when sql is in the statement cache. */
static int sqlite_cached(const struct sqlite_db *d, const char *sql)
{
    for (size_t i = 0; i < d->cached; i++) {
        if (strcmp(d->cache[i].sql, sql) == 0) {
            return 1;
        }
    }
    return 0;
}

static enum err sqlite_prepare(struct sqlite_db *d, const char *sql, struct sqlite_stmt **out,
                               struct errbuf *err)
{
    /* Most statements are static strings: look for the same pointer first, then the text. */
    for (size_t i = 0; i < d->cached; i++) {
        if (d->cache[i].key == sql && strcmp(d->cache[i].sql, sql) == 0) {
            *out = &d->cache[i];
            return ERR_OK;
        }
    }
    for (size_t i = 0; i < d->cached; i++) {
        if (strcmp(d->cache[i].sql, sql) == 0) {
            d->cache[i].key = sql;
            *out = &d->cache[i];
            return ERR_OK;
        }
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(d->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        return sqlite_error(d->db, rc, err, "cannot prepare statement");
    }
    char *copy = mem_strdup(sql);
    if (copy == NULL) {
        sqlite3_finalize(stmt);
        return err_set(err, ERR_NOMEM, "", "out of memory preparing a statement");
    }
    if (d->cached == SQLITE_STMT_CACHE) {
        /* Evict the oldest; the store's statements fit, so only tests and db copy get here. */
        sqlite3_finalize(d->cache[0].stmt);
        mem_free(d->cache[0].sql);
        memmove(&d->cache[0], &d->cache[1], sizeof(d->cache[0]) * (SQLITE_STMT_CACHE - 1));
        d->cached--;
    }
    struct sqlite_stmt *entry = &d->cache[d->cached];
    entry->sql = copy;
    entry->key = sql;
    entry->stmt = stmt;
    for (size_t i = 0; i < SQLITE_PARAMS_MAX; i++) {
        char name[8];
        snprintf(name, sizeof(name), "$%zu", i + 1);
        entry->params[i] = sqlite3_bind_parameter_index(stmt, name);
    }
    d->cached++;
    *out = entry;
    return ERR_OK;
}

static enum err sqlite_bind(struct sqlite_db *d, const struct sqlite_stmt *entry,
                            const struct store_value *params, size_t count, struct errbuf *err)
{
    ASSERT(count <= SQLITE_PARAMS_MAX);
    sqlite3_stmt *stmt = entry->stmt;
    for (size_t i = 0; i < count; i++) {
        int idx = entry->params[i];
        if (idx == 0) {
            continue;
        }
        int rc;
        switch (params[i].type) {
        case STORE_INT:
            rc = sqlite3_bind_int64(stmt, idx, params[i].i);
            break;
        case STORE_TEXT:
            rc = sqlite3_bind_text(stmt, idx, params[i].s, (int)params[i].len, SQLITE_STATIC);
            break;
        case STORE_NULL:
        default:
            rc = sqlite3_bind_null(stmt, idx);
            break;
        }
        if (rc != SQLITE_OK) {
            return sqlite_error(d->db, rc, err, "cannot bind parameter");
        }
    }
    return ERR_OK;
}

static enum err sqlite_row(sqlite3_stmt *stmt, store_row_cb *row_cb, void *ctx, struct errbuf *err)
{
    struct store_value cols[SQLITE_COLS_MAX];
    int n = sqlite3_column_count(stmt);
    ASSERT(n <= SQLITE_COLS_MAX);
    for (int c = 0; c < n; c++) {
        /* The column's value once, then read as the sqlite3_column_* calls would: each of those
         * is an API entry of its own (a statement check, the connection's error state), three
         * per text column: 6% of a 2,000-row catalogue search. Safe here: the connection is
         * opened NOMUTEX, one thread at a time, and the value is read before the next step. */
        sqlite3_value *v = sqlite3_column_value(stmt, c);
        switch (sqlite3_value_type(v)) {
        case SQLITE_NULL:
            cols[c] = store_null();
            break;
        case SQLITE_INTEGER:
            cols[c] = store_int(sqlite3_value_int64(v));
            break;
        default: {
            const unsigned char *t = sqlite3_value_text(v);
            if (t == NULL) {
                return err_set(err, ERR_NOMEM, "", "out of memory reading a column");
            }
            cols[c].type = STORE_TEXT;
            cols[c].i = 0;
            cols[c].s = (const char *)t;
            cols[c].len = (size_t)sqlite3_value_bytes(v);
            break;
        }
        }
    }
    return row_cb(ctx, cols, (size_t)n, err);
}

static enum err sqlite_query(void *handle, const char *sql, const struct store_value *params,
                             size_t count, store_row_cb *row_cb, void *ctx, int64_t *changes,
                             struct errbuf *err)
{
    struct sqlite_db *d = handle;
    struct sqlite_stmt *entry = NULL;
    enum err e = sqlite_prepare(d, sql, &entry, err);
    if (e != ERR_OK) {
        return e;
    }
    /* Only the statement is used after the bind: a row callback may evict the entry. */
    sqlite3_stmt *stmt = entry->stmt;
    e = sqlite_bind(d, entry, params, count, err);
    while (e == ERR_OK) {
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc != SQLITE_ROW) {
            e = sqlite_error(d->db, rc, err, "cannot run statement");
            break;
        }
        if (row_cb != NULL) {
            e = sqlite_row(stmt, row_cb, ctx, err);
        }
    }
    if (e == ERR_OK && changes != NULL) {
        *changes = sqlite3_changes64(d->db);
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return e;
}

/* The process holds the database exclusively (sqlite_open), so it is the only sequencer. */
static enum err sqlite_leader_try(void *handle, int *is_leader, struct errbuf *err)
{
    (void)err;
    ASSERT(handle != NULL);
    *is_leader = 1;
    return ERR_OK;
}

static enum err sqlite_read_only(void *handle, struct errbuf *err)
{
    return sqlite_exec(handle, "PRAGMA query_only = 1", err);
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .version = 1,
    .open = sqlite_open,
    .close = sqlite_close,
    .exec = sqlite_exec,
    .query = sqlite_query,
    .begin_sql = "BEGIN IMMEDIATE",
    .leader_try = sqlite_leader_try,
    .read_only = sqlite_read_only,
    /* Ordinary tables only: the full-text index's virtual and shadow tables are derived from
     * listing_docs and rebuilt by the target's triggers, never copied. */
    .columns_sql =
        "SELECT m.name, p.name FROM pragma_table_list AS m, pragma_table_info(m.name) AS p"
        " WHERE m.schema = 'main' AND m.type = 'table'"
        " AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        " ORDER BY m.name, p.cid",
    .search = &store__search_sqlite,
};
