/*
 * store_int.h: declarations shared by the store module's own files.
 */
#ifndef BOURSE_STORE_INT_H
#define BOURSE_STORE_INT_H

#include "store/store.h"

struct store {
    const struct store_ops *ops;
    void *db;
    int depth;     /* transaction nesting: 0 = none, 1 = real transaction, >1 = savepoints */
    int read_only; /* STORE_OPEN_READ_ONLY */
    /* SQLite's ledger account cache (clearing.c): entries of an older generation are empty.
     * Every rollback and every store_exec starts a new generation. */
    struct store__account_cache *accounts;
    uint64_t accounts_gen;
};

/* Frees s->accounts (store_close). */
void store__account_cache_free(struct store *s);

struct store_migration {
    int version;
    const char *sql;
};

extern const struct store_migration store__migrations[];
extern const size_t store__migrations_count;
/* The DDL only s's backend runs for migration `version` after its portable SQL, or NULL
 * (migrate.c; the tests run migration 12's on tables of the old shape). */
const char *store__backend_ddl(const struct store *s, int version);

/* ---- catalogue search (search.c, search_sqlite.c, search_pg.c) ---- */

/* One term of a query: a run of the query text between separators, or (matchmaking) a
 * three-character fragment of one. text points into store__search.buf. */
struct store__term {
    const char *text;
    size_t bytes;
    size_t chars;
    int cjk; /* it holds a CJK character (Han, kana, hangul) */
};

/* A query with its text split into terms. */
struct store__search {
    const struct store_listing_query *q;
    struct store__term terms[STORE_SEARCH_ANY_TERMS_MAX];
    size_t term_count;
    char buf[STORE_SEARCH_TEXT_MAX * 4]; /* the terms, NUL-separated */
};

/* A comment that opens SQL whose plan depends on its parameters' values: PostgreSQL runs it
 * as an unnamed statement, planned afresh each time, instead of caching a prepared one. */
#define STORE_SQL_UNPREPARED "/* unprepared */ "

/* The columns every backend's candidate query returns, in this order. */
#define STORE__SEARCH_COLS "l.docid, l.category, l.kind, l.delivery, l.classification, l.board"
#define STORE__SEARCH_NCOLS 7 /* score first, then the above */

struct store_search_ops {
    /* DDL of the index over listing_docs, run by migration 5 after its portable tables. */
    const char *ddl;
    /* Appends to title and terms what listing_docs.title_terms and .terms store for a
     * document: the engine's spelling of its title, and of the whole document. ERR_LIMIT,
     * ERR_NOMEM. */
    enum err (*index_text)(const struct store_listing_doc *doc, struct buf *title,
                           struct buf *terms);
    /* Runs the query: at most max candidates, newest first, each row (score, then
     * STORE__SEARCH_COLS) passed to row_cb. Backend errors. */
    enum err (*candidates)(struct store *s, const struct store__search *q, size_t max,
                           store_row_cb *row_cb, void *ctx, struct errbuf *err);
};

extern const struct store_search_ops store__search_sqlite;
/* Migration 13 on SQLite: the documents' lengths into listings, and the search's index over
 * them (search_sqlite.c). */
extern const char store__search_sqlite_migration_13[];
/* Registers the SQLite search's ranking function (bourse_bm25) on a new connection. ERR_IO
 * when the SQLite library has no FTS5. */
struct sqlite3;
enum err store__search_sqlite_attach(struct sqlite3 *db, struct errbuf *err);
extern const struct store_search_ops store__search_pg;

/* Decodes the UTF-8 code point at s (valid UTF-8); *len receives its byte length. */
uint32_t store__utf8_next(const char *s, size_t *len);
/* 1 for Han, kana and hangul code points: scripts written without spaces between words. */
int store__cjk(uint32_t cp);
/* 1 for what separates terms: ASCII space and punctuation, CJK and fullwidth punctuation. */
int store__separator(uint32_t cp);

/* Appends " AND <condition>" for each filter of q that is set, numbering its parameters from
 * *count + 1 and appending them to params (room for STORE__FILTER_PARAMS_MAX more). */
#define STORE__FILTER_PARAMS_MAX 12
enum err store__search_filters(const struct store_listing_query *q, struct buf *sql,
                               struct store_value *params, size_t *count);

/* Parses a page cursor "<ms>.<id>" (the last row of the previous page). ERR_INVALID with
 * field "cursor" for anything else. */
enum err store__cursor_parse(const char *cursor, int64_t *ms, char id[ID_MAX], struct errbuf *err);

/* Row callback for "SELECT COUNT(*)": stores the one integer column in *(int64_t *)ctx
 * (NULL reads as 0). ERR_CORRUPT for anything but an integer. */
enum err store__count_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err);

/* Copies a text column into a fixed buffer; ERR_CORRUPT if it does not fit. */
enum err store__copy_text(char *dst, size_t cap, const struct store_value *v, struct errbuf *err);

/* ---- row readers shared by the record files (delivery.c, catalogue.c, ...) ---- */

/* One column of a row: a text into a fixed buffer (text, cap), or an integer (i). Build them
 * with STORE__TEXT_COL and STORE__INT_COL, in the order of the SELECT's columns. */
struct store__col {
    char *text;
    size_t cap;
    int64_t *i;
};

#define STORE__TEXT_COL(field)                                                                     \
    {                                                                                              \
        (field), sizeof(field), NULL                                                               \
    }
#define STORE__INT_COL(field)                                                                      \
    {                                                                                              \
        NULL, 0, &(field)                                                                          \
    }

/* Reads a row of exactly count columns into cols; ERR_CORRUPT naming what for a wrong column
 * count, a text that does not fit or an integer column that holds something else. */
enum err store__cols_read(const struct store__col *cols, size_t count, const struct store_value *v,
                          size_t n, const char *what, struct errbuf *err);

/* Parses one row into a zeroed fixed-size item. */
typedef enum err store__row_parse_fn(void *item, const struct store_value *v, size_t n,
                                     struct errbuf *err);

/* Rows of fixed-size records into an array of at most max; rows past max are skipped. The
 * array grows by doubling from first items, or is the caller's storage when it starts with
 * cap == max (it then never grows). The caller frees items it did not provide. */
struct store__rows {
    char *items;
    size_t count;
    size_t cap;
    size_t size;
    size_t max;
    size_t first; /* capacity of the first allocation */
    store__row_parse_fn *parse;
};

/* store_row_cb for a struct store__rows ctx. ERR_NOMEM, or the parser's error. */
enum err store__rows_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err);

/* Runs sql collecting its rows into r: *out (the caller frees it) and *count. On an error the
 * rows read so far are freed and *out is NULL. */
enum err store__rows_query(struct store *s, const char *sql, const struct store_value *params,
                           size_t nparams, struct store__rows *r, void **out, size_t *count,
                           struct errbuf *err);

#endif
