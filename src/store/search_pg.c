/*
 * search_pg.c: the catalogue's full-text search on PostgreSQL, with pg_trgm: a GIN index of
 * trigrams (gin_trgm_ops) over listing_docs.terms serves `terms LIKE '%word%'`.
 *
 * pg_trgm only makes trigrams of "word" characters, and decides what a word character is
 * with the database's LC_CTYPE: under the C locale (the test cluster's, and a common default)
 * no Chinese character is one, so `show_trgm('企业用电画像')` is empty and no Chinese query
 * could use the index. The index text is therefore spelt in ASCII: letters lowercased, digits
 * kept, other ASCII as a space, and each other character as 'Z' followed by its code point in
 * six letters A-P (one per hexadecimal digit). Every character of the spelling is a word
 * character in any locale; 'Z' and A-P occur only in spellings and lowercase letters only
 * outside them, so a match of a spelt term is a match of the term, never of half a character.
 * A two-character Chinese term is fourteen letters, enough trigrams for the index, so short
 * queries need nothing else here. The terms column holds the title and the body joined by
 * '|', which nothing else spells (so no match spans them); title_terms the title alone, and a
 * term found in it scores 4 where one found only in the body scores 1.
 *
 * A search ANDs one LIKE per term (up to STORE_SEARCH_TERMS_MAX, two parameters each); a
 * matchmaking query passes its fragments as one array and scores a listing by how many it
 * contains. Candidates are the newest max matches, as on SQLite.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static const char pg_search_ddl[] =
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    "CREATE INDEX listing_docs_terms ON listing_docs USING gin (terms gin_trgm_ops);";

#define PG_SPELL_CHARS 7 /* 'Z' and six letters per non-ASCII character */

/* Appends the ASCII spelling of s (see the file comment). */
static enum err spell_append(struct buf *out, const char *s, size_t n)
{
    enum err rc = ERR_OK;
    for (size_t i = 0; i < n && rc == ERR_OK;) {
        size_t len = 0;
        uint32_t cp = store__utf8_next(s + i, &len);
        i += len;
        if (cp < 0x80) {
            char ch = (char)cp;
            if (ch >= 'A' && ch <= 'Z') {
                ch = (char)(ch - 'A' + 'a');
            } else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) {
                ch = ' ';
            }
            rc = buf_append(out, &ch, 1);
            continue;
        }
        if (store__separator(cp)) {
            rc = buf_append(out, " ", 1);
            continue;
        }
        char spelt[PG_SPELL_CHARS];
        spelt[0] = 'Z';
        for (int d = 0; d < PG_SPELL_CHARS - 1; d++) {
            spelt[PG_SPELL_CHARS - 1 - d] = (char)('A' + ((cp >> (4 * d)) & 0xf));
        }
        rc = buf_append(out, spelt, sizeof(spelt));
    }
    return rc;
}

static enum err pg_index_text(const struct store_listing_doc *doc, struct buf *title,
                              struct buf *terms)
{
    enum err rc = spell_append(title, doc->title, strlen(doc->title));
    if (rc == ERR_OK) {
        rc = spell_append(terms, doc->title, strlen(doc->title));
    }
    if (rc == ERR_OK) {
        rc = buf_append(terms, " | ", 3);
    }
    return rc == ERR_OK ? spell_append(terms, doc->body, strlen(doc->body)) : rc;
}

/* The spellings of the terms: words[i] and patterns[i] ("%word%") into store. */
struct spelt_terms {
    struct buf words[STORE_SEARCH_ANY_TERMS_MAX];
    struct buf patterns[STORE_SEARCH_ANY_TERMS_MAX];
    size_t count;
};

static void spelt_release(struct spelt_terms *t)
{
    for (size_t i = 0; i < t->count; i++) {
        buf_release(&t->words[i]);
        buf_release(&t->patterns[i]);
    }
    t->count = 0;
}

static enum err spelt_build(const struct store__search *q, struct spelt_terms *t)
{
    enum err rc = ERR_OK;
    for (size_t i = 0; i < q->term_count && rc == ERR_OK; i++) {
        buf_init(&t->words[i], STORE_SEARCH_TEXT_MAX * PG_SPELL_CHARS);
        buf_init(&t->patterns[i], STORE_SEARCH_TEXT_MAX * PG_SPELL_CHARS + 3);
        t->count++;
        rc = spell_append(&t->words[i], q->terms[i].text, q->terms[i].bytes);
        if (rc == ERR_OK) {
            rc = buf_appendf(&t->patterns[i], "%%%s%%", t->words[i].data);
        }
    }
    return rc;
}

/* "{a,b,...}" of the words or patterns: the spellings hold no quote, comma or brace. */
static enum err array_build(const struct spelt_terms *t, int patterns, struct buf *out)
{
    enum err rc = buf_append(out, "{", 1);
    for (size_t i = 0; i < t->count && rc == ERR_OK; i++) {
        const struct buf *b = patterns ? &t->patterns[i] : &t->words[i];
        rc = buf_appendf(out, "%s%s", i > 0 ? "," : "", b->data);
    }
    return rc == ERR_OK ? buf_append(out, "}", 1) : rc;
}

/* SELECT and WHERE of a search: a score summing each term's place, one LIKE per term. */
static enum err all_terms_sql(const struct spelt_terms *t, struct buf *sql,
                              struct store_value *params, size_t *count)
{
    enum err rc = buf_append_str(sql, "SELECT (0");
    for (size_t i = 0; i < t->count && rc == ERR_OK; i++) {
        params[(*count)++] = store_text(t->words[i].data);
        rc = buf_appendf(sql, " + CASE WHEN position($%zu in d.title_terms) > 0 THEN 4 ELSE 1 END",
                         *count);
    }
    if (rc == ERR_OK) {
        rc = buf_append_str(sql, "), " STORE__SEARCH_COLS " FROM listing_docs AS d JOIN"
                                 " listings AS l ON l.docid = d.docid WHERE 1 = 1");
    }
    for (size_t i = 0; i < t->count && rc == ERR_OK; i++) {
        params[(*count)++] = store_text(t->patterns[i].data);
        rc = buf_appendf(sql, " AND d.terms LIKE $%zu", *count);
    }
    return rc;
}

/* SELECT and WHERE of matchmaking: the number of fragments present, any one required. */
static enum err any_terms_sql(const struct spelt_terms *t, struct buf *arrays, struct buf *sql,
                              struct store_value *params, size_t *count)
{
    struct buf *words = &arrays[0], *patterns = &arrays[1];
    enum err rc = array_build(t, 0, words);
    if (rc == ERR_OK) {
        rc = array_build(t, 1, patterns);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    params[(*count)++] = store_text(words->data);
    params[(*count)++] = store_text(patterns->data);
    return buf_appendf(sql,
                       "SELECT (SELECT count(*) FROM unnest(CAST($%zu AS TEXT[])) AS t (w)"
                       " WHERE position(t.w in d.terms) > 0), " STORE__SEARCH_COLS
                       " FROM listing_docs AS d JOIN listings AS l ON l.docid = d.docid"
                       " WHERE d.terms LIKE ANY (CAST($%zu AS TEXT[]))",
                       *count - 1, *count);
}

static enum err pg_candidates(struct store *s, const struct store__search *q, size_t max,
                              store_row_cb *row_cb, void *ctx, struct errbuf *err)
{
    struct buf sql;
    struct buf arrays[2];
    buf_init(&sql, 16384);
    buf_init(&arrays[0], STORE_SEARCH_TEXT_MAX * 16);
    buf_init(&arrays[1], STORE_SEARCH_TEXT_MAX * 16);
    struct spelt_terms *t = mem_calloc(1, sizeof(*t));
    struct store_value params[2 * STORE_SEARCH_TERMS_MAX + 2 + STORE__FILTER_PARAMS_MAX];
    size_t count = 0;
    enum err rc = t != NULL ? spelt_build(q, t) : ERR_NOMEM;
    /* Planned with its parameters on every run: a generic plan cannot tell a rare term from a
     * common one and scans every listing newest-first (243 ms against 10 ms, ADR 0005). */
    if (rc == ERR_OK) {
        rc = buf_append_str(&sql, STORE_SQL_UNPREPARED);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    if (q->term_count == 0) {
        rc =
            buf_append_str(&sql, "SELECT 0, " STORE__SEARCH_COLS " FROM listings AS l WHERE 1 = 1");
    } else if (q->q->any_term) {
        rc = any_terms_sql(t, arrays, &sql, params, &count);
    } else {
        ASSERT(t->count <= STORE_SEARCH_TERMS_MAX);
        rc = all_terms_sql(t, &sql, params, &count);
    }
    if (rc == ERR_OK && q->q->only_docid >= 0) {
        params[count++] = store_int(q->q->only_docid);
        rc = buf_appendf(&sql, " AND l.docid = $%zu", count);
    }
    if (rc == ERR_OK) {
        rc = store__search_filters(q->q, &sql, params, &count);
    }
    if (rc == ERR_OK) {
        params[count++] = store_int((int64_t)max);
        rc = buf_appendf(&sql, " ORDER BY l.docid DESC LIMIT $%zu", count);
    }
    if (rc != ERR_OK) {
        rc = rc == ERR_NOMEM ? err_set(err, rc, "", "out of memory")
                             : err_set(err, rc, "q", "the search query is too long");
        goto out;
    }
    ASSERT(count <= ARRAY_LEN(params));
    rc = store_query(s, sql.data, params, count, row_cb, ctx, NULL, err);
out:
    if (t != NULL) {
        spelt_release(t);
    }
    mem_free(t);
    buf_release(&sql);
    buf_release(&arrays[0]);
    buf_release(&arrays[1]);
    return rc;
}

const struct store_search_ops store__search_pg = {
    .ddl = pg_search_ddl,
    .index_text = pg_index_text,
    .candidates = pg_candidates,
};
