/*
 * search_sqlite.c: the catalogue's full-text search on SQLite, with two FTS5 indexes over the
 * listing documents (docs/decisions/0005-search.md has the measurements behind the choice):
 *
 *   listing_fts    tokenize=trigram over (title, body): a quoted term matches wherever its
 *                  characters occur, case-insensitively; "用电画" finds "企业用电画像". It
 *                  serves CJK terms of three characters or more, which is where Chinese
 *                  needs substring matching (no spaces separate its words). The trigram
 *                  tokenizer cannot look up fewer than three characters, so
 *   listing_grams  tokenize=unicode61 over (title_terms, terms), the title and the body spelt
 *                  here for it: each CJK character is a token, and so is each pair of
 *                  adjacent CJK characters ("企业用电" -> "企 企业 业 业用 用 用电 电"), other
 *                  text as it is. A one- or two-character CJK term is then one token ("电",
 *                  "用电") and a Latin word a word (case- and accent-insensitive). Words, not
 *                  trigrams, serve Latin terms: a trigram phrase for a common English word
 *                  walks several long doclists, a word one short one.
 *
 * Both are external-content tables over listing_docs, kept in step by triggers, so that a
 * document is stored once, `bourse db copy` moves only listing_docs (the target's triggers
 * rebuild its indexes), and a search is one statement. Documents are only ever inserted.
 *
 * The terms of one index form the driving MATCH (AND for a search, OR for matchmaking),
 * ranked by bourse_bm25 (below) with the title weighted 4:1; when a search has terms of both
 * kinds, the grams terms narrow the trigram match. The candidates are walked newest first
 * (FTS5 serves ORDER BY rowid DESC from its index) and the LIMIT stops the walk, so the rank is
 * computed only for the rows returned.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* bm25 is a negative double, more negative when better, as small as 1e-6 (FTS5 floors the
 * IDF of a term in every document there): scaled by 10^9 to integers here. */
#define SQLITE_SCORE_SCALE "1000000000.0"

static const char sqlite_search_ddl[] =
    "CREATE VIRTUAL TABLE listing_fts USING fts5(title, body, content='listing_docs',"
    " content_rowid='docid', tokenize='trigram');"
    "CREATE VIRTUAL TABLE listing_grams USING fts5(title_terms, terms, content='listing_docs',"
    " content_rowid='docid', tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER listing_docs_insert AFTER INSERT ON listing_docs BEGIN"
    " INSERT INTO listing_fts (rowid, title, body) VALUES (new.docid, new.title, new.body);"
    " INSERT INTO listing_grams (rowid, title_terms, terms)"
    "  VALUES (new.docid, new.title_terms, new.terms);"
    " END;"
    "CREATE TRIGGER listing_docs_delete AFTER DELETE ON listing_docs BEGIN"
    " INSERT INTO listing_fts (listing_fts, rowid, title, body)"
    "  VALUES ('delete', old.docid, old.title, old.body);"
    " INSERT INTO listing_grams (listing_grams, rowid, title_terms, terms)"
    "  VALUES ('delete', old.docid, old.title_terms, old.terms);"
    " END;";

/*
 * Migration 13: the document's length in tokens in each index, in the listing's own row
 * (listings.search_lengths: listing_fts's count times 2^32 plus listing_grams's, each the sum
 * of the document's %_docsize record as bourse_doc_length reads it), written by the document's
 * insert trigger once the indexes have counted it, and the candidate query's index over
 * listings rebuilt to carry it. The query then finds everything it needs of a match (filters,
 * facets, length) in one index entry: the lookup in %_docsize it replaces was a sixth of a
 * 2,000-candidate search. One column for both lengths and no listing id (only a private
 * offer's named-buyer check reads it, from the row) keep the index at 12 columns: with the
 * rowid, 13 fields is the most SQLite compares with its fast integer-key comparison; at 14
 * every lookup took the general record comparison, a tenth slower. A copied database gets
 * its lengths from its own trigger, since copy inserts the listings before their documents.
 */
#define SEARCH_LENGTH_BITS "4294967296" /* 2^32: listing_fts's count above, grams' below */
#define SEARCH_LENGTHS_OF_DOCID                                                                    \
    "coalesce((SELECT bourse_doc_length(sz) FROM listing_fts_docsize WHERE id = docid), 0)"        \
    " * " SEARCH_LENGTH_BITS " + coalesce((SELECT bourse_doc_length(sz)"                           \
    " FROM listing_grams_docsize WHERE id = docid), 0)"

const char store__search_sqlite_migration_13[] =
    "UPDATE listings SET search_lengths = " SEARCH_LENGTHS_OF_DOCID ";"
    "DROP TRIGGER listing_docs_insert;"
    "CREATE TRIGGER listing_docs_insert AFTER INSERT ON listing_docs BEGIN"
    " INSERT INTO listing_fts (rowid, title, body) VALUES (new.docid, new.title, new.body);"
    " INSERT INTO listing_grams (rowid, title_terms, terms)"
    "  VALUES (new.docid, new.title_terms, new.terms);"
    " UPDATE listings SET search_lengths = " SEARCH_LENGTHS_OF_DOCID " WHERE docid = new.docid;"
    " END;"
    "DROP INDEX listings_search;"
    "CREATE INDEX listings_search ON listings (docid, status, private_offer, provider_id,"
    " category, kind, delivery, classification, board, currency, price, search_lengths);";

/* Appends the grams spelling of s (see the file comment): each CJK character, then it and
 * its successor when that is CJK too, each a token; other text as it is. */
static enum err grams_append(struct buf *out, const char *s)
{
    size_t n = strlen(s);
    size_t i = 0;
    enum err rc = ERR_OK;
    while (i < n && rc == ERR_OK) {
        size_t len = 0;
        uint32_t cp = store__utf8_next(s + i, &len);
        if (!store__cjk(cp)) {
            rc = buf_append(out, s + i, len);
            i += len;
            continue;
        }
        size_t next_len = 0;
        uint32_t next = i + len < n ? store__utf8_next(s + i + len, &next_len) : 0;
        rc = buf_append(out, " ", 1);
        if (rc == ERR_OK) {
            rc = buf_append(out, s + i, len);
        }
        if (rc == ERR_OK && i + len < n && store__cjk(next)) {
            rc = buf_append(out, " ", 1);
            if (rc == ERR_OK) {
                rc = buf_append(out, s + i, len + next_len);
            }
        }
        if (rc == ERR_OK) {
            rc = buf_append(out, " ", 1);
        }
        i += len;
    }
    return rc;
}

static enum err sqlite_index_text(const struct store_listing_doc *doc, struct buf *title,
                                  struct buf *terms)
{
    enum err rc = grams_append(title, doc->title);
    return rc == ERR_OK ? grams_append(terms, doc->body) : rc;
}

/* ---- ranking: bourse_bm25 ---- */

/*
 * FTS5's own bm25() computes each phrase's inverse document frequency by walking the phrase's
 * whole doclist on its first call of a query: for a term in 80% of 100,000 listings that walk
 * costs 10-20 ms before the first row, however few rows the query then ranks, and would take
 * the guard's bound away. bourse_bm25(table, w_title, w_body, length) is the same Okapi BM25 (k1
 * 1.2, b 0.75, FTS5's formula and column weights) with one change: a phrase's documents are
 * counted up to SEARCH_DF_CAP and no further, so a phrase in more listings than that counts as
 * in exactly that many. It ranks a one-term query exactly as bm25() (the IDF is a common
 * factor) and treats the very common terms of a longer query as equally common.
 *
 * length is the document's length in tokens in this table, which the candidate query reads
 * from the listing's index entry (listings.search_lengths, migration 13); FTS5
 * keeps it in its %_docsize shadow table (the token count of each column as SQLite varints,
 * FTS5's documented record, written for every row since the table has the default
 * columnsize=1), and bourse_bm25 also takes that record itself. FTS5's xColumnSize reads the
 * same record through a nested statement per row (bind, step, reset): 1.1 us a row, 2.3 ms of
 * the 4.2 ms a 2,000-candidate query took; a join to %_docsize in the candidate statement cost
 * a quarter of that, the listing's own copy nothing (docs/decisions/0005-search.md). Without
 * length (NULL) it asks xColumnSize.
 */
#define SEARCH_DF_CAP STORE_SEARCH_CANDIDATES_MAX
#define SEARCH_PHRASES_MAX 64 /* more than a query's terms can make */
#define SEARCH_COLUMNS_MAX 2  /* (title, body) in both tables */
#define BM25_K1 1.2
#define BM25_B 0.75

struct rank_stats {
    int phrases;
    double avgdl;
    double idf[SEARCH_PHRASES_MAX];
};

static int df_count_cb(const Fts5ExtensionApi *api, Fts5Context *fts, void *ctx)
{
    (void)api;
    (void)fts;
    int64_t *hits = ctx;
    (*hits)++;
    return *hits >= SEARCH_DF_CAP ? SQLITE_DONE : SQLITE_OK;
}

/* The query's statistics, computed on the first row and kept as the query's aux data. */
static int rank_stats_get(const Fts5ExtensionApi *api, Fts5Context *fts, struct rank_stats **out)
{
    struct rank_stats *st = api->xGetAuxdata(fts, 0);
    if (st != NULL) {
        *out = st;
        return SQLITE_OK;
    }
    int n = api->xPhraseCount(fts);
    if (n > SEARCH_PHRASES_MAX) {
        return SQLITE_RANGE;
    }
    st = mem_calloc(1, sizeof(*st));
    if (st == NULL) {
        return SQLITE_NOMEM;
    }
    sqlite3_int64 rows = 0, total = 0;
    int rc = api->xRowCount(fts, &rows);
    if (rc == SQLITE_OK) {
        rc = api->xColumnTotalSize(fts, -1, &total);
    }
    st->phrases = n;
    st->avgdl = rows > 0 && total > 0 ? (double)total / (double)rows : 1.0;
    for (int i = 0; i < n && rc == SQLITE_OK; i++) {
        int64_t hits = 0;
        rc = api->xQueryPhrase(fts, i, &hits, df_count_cb);
        double idf = log(((double)rows - (double)hits + 0.5) / ((double)hits + 0.5));
        st->idf[i] = idf > 1e-6 ? idf : 1e-6; /* as FTS5's bm25 */
    }
    if (rc == SQLITE_OK) {
        rc = api->xSetAuxdata(fts, st, mem_free); /* frees st itself on failure */
        st = rc == SQLITE_OK ? st : NULL;
    } else {
        mem_free(st);
        st = NULL;
    }
    *out = st;
    return rc;
}

/* The document's length in tokens, the sum of the column sizes in a %_docsize record (one
 * SQLite varint per column: seven bits a byte, most significant first, the top bit saying
 * another byte follows). SQLITE_CORRUPT when the record does not hold ncol varints (ncol < 0:
 * any number, up to its end). */
static int docsize_total(const unsigned char *p, int n, int ncol, int *total)
{
    int64_t sum = 0;
    int at = 0;
    for (int col = 0; ncol < 0 ? at < n : col < ncol; col++) {
        uint32_t v = 0;
        int bytes = 0;
        do {
            if (at >= n || bytes == 5) {
                return SQLITE_CORRUPT;
            }
            v = (v << 7) | (p[at] & 0x7f);
            bytes++;
        } while (p[at++] & 0x80);
        sum += v;
    }
    if (sum > INT32_MAX) {
        return SQLITE_CORRUPT;
    }
    *total = (int)sum;
    return SQLITE_OK;
}

/* The row's length in tokens: from the length argument when the query passes it (a count, or
 * a %_docsize record), else from FTS5 (see above). */
static int doc_length(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_value *length, int *dl)
{
    int type = length != NULL ? sqlite3_value_type(length) : SQLITE_NULL;
    if (type == SQLITE_INTEGER) {
        sqlite3_int64 v = sqlite3_value_int64(length);
        if (v < 0 || v > INT32_MAX) {
            return SQLITE_CORRUPT;
        }
        *dl = (int)v;
        return SQLITE_OK;
    }
    if (type == SQLITE_BLOB) {
        return docsize_total(sqlite3_value_blob(length), sqlite3_value_bytes(length),
                             api->xColumnCount(fts), dl);
    }
    return api->xColumnSize(fts, -1, dl);
}

/* bourse_doc_length(sz): the length in tokens a %_docsize record holds, for migration 13's
 * trigger (listings.search_lengths); NULL for NULL, an error for a malformed one. */
static void bourse_doc_length(sqlite3_context *ctx, int nval, sqlite3_value **vals)
{
    if (nval != 1 || sqlite3_value_type(vals[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    int total = 0;
    int rc = docsize_total(sqlite3_value_blob(vals[0]), sqlite3_value_bytes(vals[0]), -1, &total);
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    sqlite3_result_int64(ctx, total);
}

static void bourse_bm25(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
                        int nval, sqlite3_value **vals)
{
    struct rank_stats *st = NULL;
    int rc = rank_stats_get(api, fts, &st);
    int ncol = api->xColumnCount(fts);
    double freq[SEARCH_PHRASES_MAX] = {0};
    double weight[SEARCH_COLUMNS_MAX];
    for (int col = 0; col < SEARCH_COLUMNS_MAX; col++) {
        weight[col] = col < nval && col < ncol ? sqlite3_value_double(vals[col]) : 1.0;
    }
    /* Each phrase's instances in this row through its own iterator, in the order xInst would
     * give them (so the same sums); xInstCount first merges every phrase's into one array. */
    for (int i = 0; rc == SQLITE_OK && i < st->phrases; i++) {
        Fts5PhraseIter it;
        int col = -1, off = -1;
        rc = api->xPhraseFirst(fts, i, &it, &col, &off);
        while (rc == SQLITE_OK && col >= 0) {
            freq[i] += col < SEARCH_COLUMNS_MAX ? weight[col] : 1.0;
            api->xPhraseNext(fts, &it, &col, &off);
        }
    }
    int dl = 0;
    if (rc == SQLITE_OK) {
        rc = doc_length(api, fts, nval > ncol ? vals[ncol] : NULL, &dl);
    }
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    double norm = BM25_K1 * (1.0 - BM25_B + BM25_B * (double)dl / st->avgdl);
    double score = 0;
    for (int i = 0; i < st->phrases; i++) {
        score += st->idf[i] * (freq[i] * (BM25_K1 + 1.0)) / (freq[i] + norm);
    }
    sqlite3_result_double(ctx, -score);
}

enum err store__search_sqlite_attach(struct sqlite3 *db, struct errbuf *err)
{
    fts5_api *api = NULL;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_pointer(stmt, 1, (void *)&api, "fts5_api_ptr", NULL);
    }
    if (rc == SQLITE_OK) {
        (void)sqlite3_step(stmt);
    }
    sqlite3_finalize(stmt);
    if (api == NULL || api->iVersion < 2) {
        return err_set(err, ERR_IO, "", "this SQLite has no FTS5 (version 2 or later)");
    }
    rc = api->xCreateFunction(api, "bourse_bm25", NULL, bourse_bm25, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_create_function(db, "bourse_doc_length", 1,
                                     SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                     bourse_doc_length, NULL, NULL);
    }
    return rc == SQLITE_OK ? ERR_OK
                           : err_set(err, ERR_IO, "", "cannot register the search ranking");
}

/* Appends term as an FTS5 string: in double quotes, a quote doubled. */
static enum err quoted_append(struct buf *b, const char *s, size_t n)
{
    enum err rc = buf_append(b, "\"", 1);
    for (size_t i = 0; i < n && rc == ERR_OK; i++) {
        rc = buf_append(b, s[i] == '"' ? "\"\"" : s + i, s[i] == '"' ? 2 : 1);
    }
    return rc == ERR_OK ? buf_append(b, "\"", 1) : rc;
}

/* Which index a term goes to: CJK text of three characters or more to listing_fts (a
 * substring), everything else to listing_grams (CJK of one or two characters, Latin words). */
static int trigram_term(const struct store__term *t)
{
    return t->cjk && t->chars >= 3;
}

/* The MATCH expression over the trigram (trigram = 1) or the grams terms of q; empty when
 * none. */
static enum err match_build(const struct store__search *q, int trigram, struct buf *m)
{
    const char *join = q->q->any_term ? " OR " : " AND ";
    enum err rc = ERR_OK;
    for (size_t i = 0; i < q->term_count && rc == ERR_OK; i++) {
        const struct store__term *t = &q->terms[i];
        if (trigram_term(t) != trigram) {
            continue;
        }
        if (m->len > 0) {
            rc = buf_append_str(m, join);
        }
        if (rc != ERR_OK) {
            break;
        }
        if (trigram || (t->cjk && t->chars <= 2 && t->bytes == t->chars * 3)) {
            /* A trigram substring; or one or two CJK characters, exactly one grams token. */
            rc = quoted_append(m, t->text, t->bytes);
            continue;
        }
        /* A word, or mixed short text, spelt as the index spells text: an exact phrase. */
        struct buf g;
        buf_init(&g, STORE_SEARCH_TEXT_MAX * 4);
        rc = grams_append(&g, t->text);
        if (rc == ERR_OK) {
            rc = quoted_append(m, g.data, g.len);
        }
        buf_release(&g);
    }
    return rc;
}

static enum err sqlite_candidates(struct store *s, const struct store__search *q, size_t max,
                                  store_row_cb *row_cb, void *ctx, struct errbuf *err)
{
    struct buf sql, tri, grams_m;
    buf_init(&sql, 8192);
    buf_init(&tri, STORE_SEARCH_TEXT_MAX * 8);
    buf_init(&grams_m, STORE_SEARCH_TEXT_MAX * 8);
    struct store_value params[4 + STORE__FILTER_PARAMS_MAX];
    size_t count = 0;
    enum err rc = match_build(q, 1, &tri);
    if (rc == ERR_OK) {
        rc = match_build(q, 0, &grams_m);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    /* Matchmaking ORs its terms: the grams ones add nothing once trigram ones drive. */
    if (q->q->any_term && tri.len > 0) {
        buf_reset(&grams_m);
    }
    const char *table = tri.len > 0 ? "listing_fts" : "listing_grams";
    const char *weights = ", 4.0, 1.0"; /* both tables: (title, body) */
    if (q->term_count == 0) {
        rc =
            buf_append_str(&sql, "SELECT 0, " STORE__SEARCH_COLS " FROM listings AS l WHERE 1 = 1");
    } else {
        params[count++] = store_text(tri.len > 0 ? tri.data : grams_m.data);
        /* The listing from the search's index (migration 13: filters, facets and the
         * document's length in this table's tokens, from search_lengths), which the planner
         * would pass over for the unique docid index and then read every candidate's row. */
        rc = buf_appendf(
            &sql,
            "SELECT CAST(-" SQLITE_SCORE_SCALE
            " * bourse_bm25(%s%s, l.search_lengths %s) AS INTEGER), " STORE__SEARCH_COLS
            " FROM %s CROSS JOIN listings AS l INDEXED BY listings_search"
            " ON l.docid = %s.rowid WHERE %s MATCH $1",
            table, weights, tri.len > 0 ? "/ " SEARCH_LENGTH_BITS : "% " SEARCH_LENGTH_BITS, table,
            table, table);
    }
    if (rc == ERR_OK && tri.len > 0 && grams_m.len > 0) {
        params[count++] = store_text(grams_m.data);
        rc = buf_appendf(&sql,
                         " AND listing_fts.rowid IN (SELECT rowid FROM listing_grams"
                         " WHERE listing_grams MATCH $%zu)",
                         count);
    }
    if (rc == ERR_OK && q->q->only_docid >= 0) {
        params[count++] = store_int(q->q->only_docid);
        rc = q->term_count > 0 ? buf_appendf(&sql, " AND %s.rowid = $%zu", table, count)
                               : buf_appendf(&sql, " AND l.docid = $%zu", count);
    }
    if (rc == ERR_OK) {
        rc = store__search_filters(q->q, &sql, params, &count);
    }
    if (rc == ERR_OK) {
        params[count++] = store_int((int64_t)max);
        rc = q->term_count > 0
                 ? buf_appendf(&sql, " ORDER BY %s.rowid DESC LIMIT $%zu", table, count)
                 : buf_appendf(&sql, " ORDER BY l.docid DESC LIMIT $%zu", count);
    }
    if (rc != ERR_OK) {
        rc = err_set(err, rc, "q", "the search query is too long");
        goto out;
    }
    ASSERT(count <= ARRAY_LEN(params));
    rc = store_query(s, sql.data, params, count, row_cb, ctx, NULL, err);
out:
    buf_release(&sql);
    buf_release(&tri);
    buf_release(&grams_m);
    return rc;
}

const struct store_search_ops store__search_sqlite = {
    .ddl = sqlite_search_ddl,
    .index_text = sqlite_index_text,
    .candidates = sqlite_candidates,
};
