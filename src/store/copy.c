/*
 * copy.c: moving an exchange between databases (`bourse db copy`), and the status report of
 * `bourse db status`.
 *
 * The copy is row for row and value for value: every table the migrations create is read from
 * the source and inserted into the target with the same values, so the events keep their
 * sequence numbers and leaf bytes, and the tree hashes and signed checkpoints are the same
 * bytes; every checkpoint issued before the move therefore stays valid, and the target's later
 * checkpoints extend the same tree. Nothing is derived or re-encoded on the way: a BIGINT
 * travels as an integer and a TEXT as its bytes.
 *
 * Which tables there are is fixed here, in copy_tables, in an order that inserts a row's
 * parents (foreign keys) before it. The copy checks the list against both databases' actual
 * tables and refuses a table it does not know, rather than leave it behind; store_test copies
 * a freshly migrated database so that a migration adding a table without adding it here fails
 * at once. Columns are not listed: they are read from each database (store_ops.columns_sql), so
 * a migration that adds a column needs nothing here, and both sides must have the same.
 *
 * The target is written in one transaction, so a failed copy leaves it as it was; on
 * PostgreSQL that transaction holds the writer lock, so no server writes meanwhile. The target
 * must be empty: merging two exchanges' logs is not a copy. On a PostgreSQL source each table
 * is read whole into memory (the backend reads results whole); the usual source is SQLite,
 * which streams.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* Every table of the schema but schema_migrations (the target's own migrations fill it), in
 * foreign-key order. */
static const char *const copy_tables[] = {
    /* migration 1 */
    "meta",
    "entities",
    "certificates",
    "reviews",
    "api_keys",
    "events",
    "idempotency",
    /* migration 2 */
    "tlog_hashes",
    "tlog_checkpoints",
    /* migration 3 */
    "ledger_accounts",
    "ledger_transfers",
    "ledger_timeouts",
    "ledger_fee_schedules",
    "ledger_marks",
    /* migration 4 */
    "products",
    "product_revisions",
    "rights",
    "rights_history",
    "listing_policies",
    "assessments",
    /* migration 5 (the search index over listing_docs is the backend's: rebuilt by the
     * target's own triggers or index as the documents arrive, never copied) */
    "pricing_inputs",
    "listings",
    "listing_buyers",
    "listing_docs",
    "demands",
    "demand_matches",
    "notifications",
    /* migration 6 */
    "contracts",
    "contract_signatures",
    "contract_periods",
    "deliveries",
    "disputes",
    /* migration 9 */
    "orders",
    "negotiations",
    "negotiation_offers",
    "auctions",
    "bids",
    /* migration 7 */
    "uploads",
    "upload_chunks",
    "objects",
    "download_tokens",
    /* migration 8 */
    "rate_usage",
    /* migration 11 */
    "object_fingerprints",
    "buyer_copies",
};

#define COPY_TABLES_MAX 128 /* tables in a schema, far above the store's */
#define COPY_COLUMNS_MAX 32 /* the backends' row limit (SQLITE_COLS_MAX, PG_COLS_MAX) */
#define COPY_NAME_MAX 64    /* PostgreSQL truncates identifiers at 63 bytes */
#define COPY_SQL_MAX 4096   /* one statement naming every column of a table */
#define COPY_VERSION_TABLE "schema_migrations"
_Static_assert(ARRAY_LEN(copy_tables) < COPY_TABLES_MAX, "the table list fits");

struct copy_table {
    char name[COPY_NAME_MAX];
    char columns[COPY_COLUMNS_MAX][COPY_NAME_MAX];
    size_t count;
};

/* The tables and columns of one database, as columns_sql lists them. */
struct copy_schema {
    struct copy_table *tables; /* owned: COPY_TABLES_MAX entries */
    size_t count;
};

static void schema_release(struct copy_schema *sc)
{
    mem_free(sc->tables);
    sc->tables = NULL;
    sc->count = 0;
}

/* Copies a column value holding an identifier; ERR_CORRUPT for anything else. */
static enum err name_copy(char *dst, const struct store_value *v, struct errbuf *err)
{
    if (v->type != STORE_TEXT || v->len == 0 || v->len >= COPY_NAME_MAX) {
        return err_set(err, ERR_CORRUPT, "", "the schema lists a malformed name");
    }
    for (size_t i = 0; i < v->len; i++) {
        char ch = v->s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) {
            return err_set(err, ERR_CORRUPT, "",
                           "the schema lists the name '%.*s', not a plain "
                           "lowercase identifier",
                           (int)v->len, v->s);
        }
    }
    memcpy(dst, v->s, v->len);
    dst[v->len] = '\0';
    return ERR_OK;
}

static enum err schema_row_cb(void *ctx, const struct store_value *cols, size_t ncols,
                              struct errbuf *err)
{
    struct copy_schema *sc = ctx;
    ASSERT(sc->count <= COPY_TABLES_MAX);
    if (ncols != 2) {
        return err_set(err, ERR_CORRUPT, "", "the schema query returned %zu columns", ncols);
    }
    char table[COPY_NAME_MAX];
    char column[COPY_NAME_MAX];
    enum err rc = name_copy(table, &cols[0], err);
    if (rc == ERR_OK) {
        rc = name_copy(column, &cols[1], err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct copy_table *t = sc->count > 0 ? &sc->tables[sc->count - 1] : NULL;
    if (t == NULL || strcmp(t->name, table) != 0) {
        if (sc->count == COPY_TABLES_MAX) {
            return err_set(err, ERR_LIMIT, "", "the database has over %d tables", COPY_TABLES_MAX);
        }
        t = &sc->tables[sc->count++];
        snprintf(t->name, sizeof(t->name), "%s", table);
        t->count = 0;
    }
    if (t->count == COPY_COLUMNS_MAX) {
        return err_set(err, ERR_LIMIT, "", "table '%s' has over %d columns", table,
                       COPY_COLUMNS_MAX);
    }
    snprintf(t->columns[t->count++], COPY_NAME_MAX, "%s", column);
    return ERR_OK;
}

/* Reads the tables and columns of s (rows come grouped by table). */
static enum err schema_read(struct store *s, struct copy_schema *sc, struct errbuf *err)
{
    ASSERT(s != NULL && sc != NULL);
    ASSERT(s->ops->columns_sql != NULL);
    sc->count = 0;
    sc->tables = mem_calloc(COPY_TABLES_MAX, sizeof(*sc->tables));
    if (sc->tables == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory reading the schema");
    }
    enum err rc = store_query(s, s->ops->columns_sql, NULL, 0, schema_row_cb, sc, NULL, err);
    if (rc != ERR_OK) {
        schema_release(sc);
    }
    return rc;
}

static const struct copy_table *schema_find(const struct copy_schema *sc, const char *name)
{
    for (size_t i = 0; i < sc->count; i++) {
        if (strcmp(sc->tables[i].name, name) == 0) {
            return &sc->tables[i];
        }
    }
    return NULL;
}

static int table_listed(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(copy_tables); i++) {
        if (strcmp(copy_tables[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ERR_INVALID unless the schema has exactly the listed tables (and schema_migrations). */
static enum err schema_check_tables(const struct copy_schema *sc, const char *which,
                                    struct errbuf *err)
{
    for (size_t i = 0; i < sc->count; i++) {
        const char *name = sc->tables[i].name;
        if (strcmp(name, COPY_VERSION_TABLE) != 0 && !table_listed(name)) {
            return err_set(err, ERR_INVALID, "",
                           "the %s database has a table '%s' that the copy "
                           "does not know (add it to copy_tables)",
                           which, name);
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(copy_tables); i++) {
        if (schema_find(sc, copy_tables[i]) == NULL) {
            return err_set(err, ERR_INVALID, "", "the %s database has no table '%s'", which,
                           copy_tables[i]);
        }
    }
    return ERR_OK;
}

/* ERR_INVALID unless table t of the source has the same columns in the target. */
static enum err columns_check(const struct copy_table *from, const struct copy_table *to,
                              struct errbuf *err)
{
    ASSERT(from != NULL && to != NULL);
    ASSERT(strcmp(from->name, to->name) == 0);
    if (from->count != to->count) {
        return err_set(err, ERR_INVALID, "",
                       "table '%s' has %zu columns in the source and %zu in "
                       "the target",
                       from->name, from->count, to->count);
    }
    for (size_t i = 0; i < from->count; i++) {
        int found = 0;
        for (size_t j = 0; j < to->count && !found; j++) {
            found = strcmp(from->columns[i], to->columns[j]) == 0;
        }
        if (!found) {
            return err_set(err, ERR_INVALID, "", "the target's table '%s' has no column '%s'",
                           from->name, from->columns[i]);
        }
    }
    return ERR_OK;
}

static enum err int_row_cb(void *ctx, const struct store_value *cols, size_t ncols,
                           struct errbuf *err)
{
    if (ncols != 1 || cols[0].type != STORE_INT) {
        return err_set(err, ERR_CORRUPT, "", "a count is not an integer");
    }
    *(int64_t *)ctx = cols[0].i;
    return ERR_OK;
}

static enum err table_count(struct store *s, const char *table, int64_t *count, struct errbuf *err)
{
    char sql[COPY_SQL_MAX];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    *count = -1;
    return store_query(s, sql, NULL, 0, int_row_cb, count, NULL, err);
}

/* Builds "SELECT a, b FROM t" and "INSERT INTO t (a, b) VALUES ($1, $2)". */
static enum err copy_sql(const struct copy_table *t, char *select, char *insert, struct errbuf *err)
{
    struct buf cols;
    struct buf params;
    buf_init(&cols, COPY_SQL_MAX);
    buf_init(&params, COPY_SQL_MAX);
    enum err rc = ERR_OK;
    for (size_t i = 0; i < t->count && rc == ERR_OK; i++) {
        rc = buf_appendf(&cols, "%s%s", i > 0 ? ", " : "", t->columns[i]);
        if (rc == ERR_OK) {
            rc = buf_appendf(&params, "%s$%zu", i > 0 ? ", " : "", i + 1);
        }
    }
    if (rc == ERR_OK) {
        int n = snprintf(select, COPY_SQL_MAX, "SELECT %s FROM %s", cols.data, t->name);
        int m = snprintf(insert, COPY_SQL_MAX, "INSERT INTO %s (%s) VALUES (%s)", t->name,
                         cols.data, params.data);
        rc = n > 0 && n < COPY_SQL_MAX && m > 0 && m < COPY_SQL_MAX ? ERR_OK : ERR_LIMIT;
    }
    buf_release(&cols);
    buf_release(&params);
    return rc == ERR_OK ? ERR_OK : err_set(err, rc, "", "cannot build the copy of '%s'", t->name);
}

struct copy_rows {
    struct store *to;
    const char *insert;
    size_t ncols;
    int64_t count;
};

/* Inserts one source row into the target, its values as they came. */
static enum err copy_row_cb(void *ctx, const struct store_value *cols, size_t ncols,
                            struct errbuf *err)
{
    struct copy_rows *r = ctx;
    ASSERT(r->count >= 0);
    if (ncols != r->ncols) {
        return err_set(err, ERR_CORRUPT, "", "a source row has %zu columns, not %zu", ncols,
                       r->ncols);
    }
    enum err rc = store_query(r->to, r->insert, cols, ncols, NULL, NULL, NULL, err);
    if (rc == ERR_OK) {
        r->count++;
    }
    return rc;
}

/* Copies one table, then checks that the target holds as many rows as the source. */
static enum err copy_table(struct store *from, struct store *to, const struct copy_table *t,
                           int64_t *rows, struct errbuf *err)
{
    ASSERT(t != NULL && t->count > 0);
    ASSERT(store_tx_depth(to) == 1);
    char select[COPY_SQL_MAX];
    char insert[COPY_SQL_MAX];
    enum err rc = copy_sql(t, select, insert, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct copy_rows r = {to, insert, t->count, 0};
    rc = store_query(from, select, NULL, 0, copy_row_cb, &r, NULL, err);
    int64_t in_source = -1;
    int64_t in_target = -1;
    if (rc == ERR_OK) {
        rc = table_count(from, t->name, &in_source, err);
    }
    if (rc == ERR_OK) {
        rc = table_count(to, t->name, &in_target, err);
    }
    if (rc == ERR_OK && (in_source != r.count || in_target != r.count)) {
        rc = err_set(err, ERR_CORRUPT, "",
                     "table '%s': %lld rows in the source, %lld copied, "
                     "%lld in the target",
                     t->name, (long long)in_source, (long long)r.count, (long long)in_target);
    }
    if (rc == ERR_OK) {
        *rows += r.count;
    }
    return rc;
}

/* Checks versions and tables of both sides; fills the source's schema. */
static enum err copy_prepare(struct store *from, struct store *to, struct copy_schema *src,
                             struct copy_schema *dst, struct errbuf *err)
{
    int latest = store_schema_version_latest();
    int v_from = 0;
    int v_to = 0;
    enum err rc = schema_read(from, src, err);
    if (rc == ERR_OK) {
        rc = schema_read(to, dst, err);
    }
    if (rc == ERR_OK && schema_find(src, COPY_VERSION_TABLE) != NULL) {
        rc = store_schema_version(from, &v_from, err);
    }
    if (rc == ERR_OK && schema_find(dst, COPY_VERSION_TABLE) != NULL) {
        rc = store_schema_version(to, &v_to, err);
    }
    if (rc == ERR_OK && (v_from != latest || v_to != latest)) {
        rc = err_set(err, ERR_INVALID, "",
                     "the source's schema is at version %d and the "
                     "target's at %d, not %d: run 'bourse db migrate' on each first",
                     v_from, v_to, latest);
    }
    if (rc == ERR_OK) {
        rc = schema_check_tables(src, "source", err);
    }
    if (rc == ERR_OK) {
        rc = schema_check_tables(dst, "target", err);
    }
    for (size_t i = 0; i < ARRAY_LEN(copy_tables) && rc == ERR_OK; i++) {
        rc = columns_check(schema_find(src, copy_tables[i]), schema_find(dst, copy_tables[i]), err);
    }
    return rc;
}

/* ERR_CONFLICT unless every table of the target is empty. */
static enum err copy_target_empty(struct store *to, struct errbuf *err)
{
    for (size_t i = 0; i < ARRAY_LEN(copy_tables); i++) {
        int64_t n = -1;
        enum err rc = table_count(to, copy_tables[i], &n, err);
        if (rc != ERR_OK) {
            return rc;
        }
        if (n != 0) {
            return err_set(err, ERR_CONFLICT, "",
                           "the target database is not empty: table '%s' "
                           "has %lld rows",
                           copy_tables[i], (long long)n);
        }
    }
    return ERR_OK;
}

enum err store_copy(struct store *from, struct store *to, int64_t *rows, struct errbuf *err)
{
    ASSERT(from != NULL && to != NULL && from != to);
    ASSERT(from->depth == 0 && to->depth == 0);
    *rows = 0;
    struct copy_schema src = {NULL, 0};
    struct copy_schema dst = {NULL, 0};
    enum err rc = copy_prepare(from, to, &src, &dst, err);
    if (rc != ERR_OK) {
        goto out;
    }
    rc = store_tx_begin(to, err);
    if (rc != ERR_OK) {
        goto out;
    }
    /* Checked inside the transaction: on PostgreSQL no writer can slip in after it. */
    rc = copy_target_empty(to, err);
    int64_t copied = 0;
    for (size_t i = 0; i < ARRAY_LEN(copy_tables) && rc == ERR_OK; i++) {
        rc = copy_table(from, to, schema_find(&src, copy_tables[i]), &copied, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(to);
        goto out;
    }
    rc = store_tx_commit(to, err);
    if (rc == ERR_OK) {
        *rows = copied;
    }
out:
    schema_release(&src);
    schema_release(&dst);
    return rc;
}

/* ---- status ---- */

enum err store_status_read(struct store *s, struct store_status *out, struct errbuf *err)
{
    ASSERT(s != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    out->backend = s->ops->name;
    out->schema_latest = store_schema_version_latest();
    out->event_count = -1;
    struct copy_schema sc = {NULL, 0};
    enum err rc = schema_read(s, &sc, err);
    if (rc == ERR_OK && schema_find(&sc, COPY_VERSION_TABLE) != NULL) {
        rc = store_schema_version(s, &out->schema_version, err);
    }
    if (rc == ERR_OK && schema_find(&sc, "events") != NULL) {
        rc = store_event_count(s, &out->event_count, err);
    }
    if (rc == ERR_OK && schema_find(&sc, "tlog_checkpoints") != NULL) {
        struct store_checkpoint cp;
        struct errbuf local;
        errbuf_init(&local);
        rc = store_checkpoint_latest(s, &cp, &local);
        if (rc == ERR_OK) {
            out->checkpoint_size = cp.tree_size;
            store_checkpoint_release(&cp);
        } else if (rc == ERR_NOT_FOUND) {
            rc = ERR_OK; /* an empty log */
        } else if (err != NULL) {
            *err = local;
        }
    }
    schema_release(&sc);
    ASSERT(out->schema_version >= 0);
    return rc;
}
