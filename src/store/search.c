/*
 * search.c: the catalogue query, above the backends (docs/decisions/0005-search.md).
 *
 * A query goes through four steps:
 *   1. the text is split into terms at spaces and punctuation (ASCII and CJK); a matchmaking
 *      query (any_term) further cuts each CJK run into overlapping three-character fragments,
 *      so that a buyer's sentence such as "企业用电数据用于信贷" matches listings sharing any
 *      part of it, ranked by how much they share;
 *   2. the backend's candidate query (store_ops.search) finds the newest candidates_max
 *      listings that match the terms and the filters, each with an integer relevance score:
 *      FTS5's bm25 on SQLite, a term-position score over pg_trgm on PostgreSQL;
 *   3. here, the facets are counted over those candidates as they arrive, and the page after
 *      the cursor is selected from them in order of score, then newest first;
 *   4. the page is read back row by row.
 *
 * Step 2's bound is the guard that keeps a query matching most of the catalogue fast: the
 * candidates are found in docid order, so the engine stops after candidates_max + 1 rows and
 * never scores the rest; the answer says "truncated". The cursor is "<score>.<docid>" of the
 * last row of the previous page, so pages stay consistent while the catalogue does not change.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* ---- text ---- */

uint32_t store__utf8_next(const char *s, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] < 0x80) {
        *len = 1;
        return p[0];
    }
    if ((p[0] & 0xe0) == 0xc0) {
        *len = 2;
        return ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
    }
    if ((p[0] & 0xf0) == 0xe0) {
        *len = 3;
        return ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
    }
    *len = 4;
    return ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
           ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
}

int store__cjk(uint32_t cp)
{
    return (cp >= 0x3040 && cp <= 0x30ff) || /* hiragana, katakana */
           (cp >= 0x3400 && cp <= 0x4dbf) || /* CJK extension A */
           (cp >= 0x4e00 && cp <= 0x9fff) || /* CJK unified ideographs */
           (cp >= 0xac00 && cp <= 0xd7af) || /* hangul syllables */
           (cp >= 0xf900 && cp <= 0xfaff) || /* compatibility ideographs */
           (cp >= 0x20000 && cp <= 0x2ffff); /* extensions B and later */
}

int store__separator(uint32_t cp)
{
    if (cp < 0x80) {
        return !((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'));
    }
    return (cp >= 0x2000 && cp <= 0x206f) || /* general punctuation */
           (cp >= 0x3000 && cp <= 0x303f) || /* CJK symbols and punctuation */
           (cp >= 0xff00 && cp <= 0xff0f) || (cp >= 0xff1a && cp <= 0xff20) ||
           (cp >= 0xff3b && cp <= 0xff40) || (cp >= 0xff5b && cp <= 0xff65);
}

/* Adds bytes [s, s + n) holding chars characters as a term. */
static enum err term_add(struct store__search *q, size_t *used, const char *s, size_t n,
                         size_t chars, int cjk, size_t max)
{
    if (q->term_count == max) {
        return ERR_LIMIT;
    }
    ASSERT(*used + n + 1 <= sizeof(q->buf));
    char *dst = q->buf + *used;
    memcpy(dst, s, n);
    dst[n] = '\0';
    struct store__term *t = &q->terms[q->term_count++];
    t->text = dst;
    t->bytes = n;
    t->chars = chars;
    t->cjk = cjk;
    *used += n + 1;
    return ERR_OK;
}

/* Matchmaking: a CJK run of more than three characters becomes its overlapping three-character
 * fragments; anything else stays whole. Fragments past the maximum are left out. */
static void fragments_add(struct store__search *q, size_t *used, const char *s, size_t n,
                          size_t chars, int cjk)
{
    if (!cjk || chars <= 3) {
        (void)term_add(q, used, s, n, chars, cjk, STORE_SEARCH_ANY_TERMS_MAX);
        return;
    }
    size_t offsets[STORE_SEARCH_TEXT_MAX + 1];
    size_t k = 0;
    for (size_t i = 0; i < n && k < STORE_SEARCH_TEXT_MAX; k++) {
        offsets[k] = i;
        size_t len = 0;
        (void)store__utf8_next(s + i, &len);
        i += len;
    }
    offsets[k] = n;
    for (size_t i = 0; i + 3 <= k; i++) {
        if (term_add(q, used, s + offsets[i], offsets[i + 3] - offsets[i], 3, 1,
                     STORE_SEARCH_ANY_TERMS_MAX) != ERR_OK) {
            return;
        }
    }
}

/* Splits q->q->text into terms (see the file comment). */
static enum err terms_split(struct store__search *q, struct errbuf *err)
{
    const char *text = q->q->text;
    size_t n = strlen(text);
    if (q->q->any_term && n > STORE_SEARCH_TEXT_MAX) {
        /* A demand's text may be longer than a query: its first fragments are enough. */
        n = STORE_SEARCH_TEXT_MAX;
        while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80) {
            n--;
        }
    }
    if (n > STORE_SEARCH_TEXT_MAX || !text_valid_utf8(text, n)) {
        return err_set(err, ERR_INVALID, "q", "the query must be UTF-8 text of at most %d bytes",
                       STORE_SEARCH_TEXT_MAX);
    }
    size_t used = 0;
    size_t i = 0;
    while (i < n) {
        size_t len = 0;
        uint32_t cp = store__utf8_next(text + i, &len);
        if (store__separator(cp)) {
            i += len;
            continue;
        }
        size_t start = i, chars = 0;
        int cjk = 0;
        while (i < n) {
            cp = store__utf8_next(text + i, &len);
            if (store__separator(cp)) {
                break;
            }
            cjk |= store__cjk(cp);
            chars++;
            i += len;
        }
        if (q->q->any_term) {
            fragments_add(q, &used, text + start, i - start, chars, cjk);
        } else if (term_add(q, &used, text + start, i - start, chars, cjk,
                            STORE_SEARCH_TERMS_MAX) != ERR_OK) {
            return err_set(err, ERR_LIMIT, "q", "the query has more than %d words",
                           STORE_SEARCH_TERMS_MAX);
        }
    }
    if (q->term_count == 0) {
        return err_set(err, ERR_INVALID, "q", "the query has no word to search for");
    }
    return ERR_OK;
}

/* ---- filters ---- */

enum err store__search_filters(const struct store_listing_query *q, struct buf *sql,
                               struct store_value *params, size_t *count)
{
    const struct {
        const char *column;
        const char *value;
    } equal[] = {
        {"l.status", q->status},     {"l.category", q->category},
        {"l.kind", q->kind},         {"l.classification", q->classification},
        {"l.board", q->board},       {"l.provider_id", q->provider_id},
        {"l.currency", q->currency},
    };
    size_t start = *count;
    enum err rc = ERR_OK;
    for (size_t i = 0; i < ARRAY_LEN(equal) && rc == ERR_OK; i++) {
        if (equal[i].value != NULL) {
            params[(*count)++] = store_text(equal[i].value);
            rc = buf_appendf(sql, " AND %s = $%zu", equal[i].column, *count);
        }
    }
    if (rc == ERR_OK && q->price_min >= 0) {
        params[(*count)++] = store_int(q->price_min);
        rc = buf_appendf(sql, " AND l.price >= $%zu", *count);
    }
    if (rc == ERR_OK && q->price_max >= 0) {
        params[(*count)++] = store_int(q->price_max);
        rc = buf_appendf(sql, " AND l.price <= $%zu", *count);
    }
    if (rc == ERR_OK && q->delivery_mask != 0) {
        params[(*count)++] = store_int(q->delivery_mask);
        rc = buf_appendf(sql, " AND (l.delivery & $%zu) <> 0", *count);
    }
    if (rc == ERR_OK && !q->viewer_sees_all) {
        params[(*count)++] = store_text(q->viewer_id != NULL ? q->viewer_id : "");
        /* The listing's id through its document, not l.id: SQLite's candidate index leaves
         * the id out (search_sqlite.c), and naming it would make every candidate's lookup
         * note where the listing's row is, for this rare case. */
        rc = buf_appendf(sql,
                         " AND (l.private_offer = 0 OR l.provider_id = $%zu OR EXISTS (SELECT 1"
                         " FROM listing_docs d JOIN listing_buyers b ON b.listing_id = d.listing_id"
                         " WHERE d.docid = l.docid AND b.buyer_id = $%zu))",
                         *count, *count);
    }
    ASSERT(*count - start <= STORE__FILTER_PARAMS_MAX);
    return rc;
}

/* ---- candidates, facets, order, page ---- */

/*
 * The candidates, kept small because a common term brings candidates_max of them and only a
 * page is read back: the sort key alone, the page's rows read back by docid. The facets are
 * counted as the rows arrive, from the row's own text, so no column is copied. (The candidate
 * steps once cost more than the query: a sort moving 170-byte rows and a snprintf per delivery
 * mode were a fifth of a 2,000-candidate search; docs/decisions/0005-search.md.)
 */
#define DELIVERY_BITS 16 /* the delivery set's bits that have a facet value */

struct candidate {
    int64_t score;
    int64_t docid;
};

struct candidates {
    struct candidate *items;
    size_t count;
    size_t cap;                        /* max + 1: one more than wanted says "truncated" */
    struct store_listing_results *out; /* whose facets count the first max rows */
    /* The delivery facet, counted per bit and turned into facet values at the end. */
    int64_t delivery[DELIVERY_BITS];
};

/* The delivery facet's values: the bit indexes of the delivery set, as text. */
static const char *const delivery_bits[DELIVERY_BITS] = {
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"};

/* Counts value [s, s + len) in facet f: a linear search, since a facet has at most a
 * taxonomy's few values; most others are told apart by their length (the byte after the stored
 * value) or first byte before any memcmp. */
static void facet_add(struct store_listing_results *r, enum store_facet f, const char *s,
                      size_t len)
{
    struct store_facet_count *list = r->facets[f];
    size_t n = r->facet_count[f];
    if (len >= sizeof(list[0].value)) {
        return; /* longer than any value of the taxonomy: not shown */
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i].value[len] == '\0' && list[i].value[0] == s[0] &&
            memcmp(list[i].value, s, len) == 0) {
            list[i].count++;
            return;
        }
    }
    if (n == STORE_FACET_VALUES_MAX) {
        return; /* more distinct values than the taxonomy has: not shown */
    }
    memcpy(list[n].value, s, len);
    list[n].value[len] = '\0';
    list[n].count = 1;
    r->facet_count[f] = n + 1;
}

/* Counts one candidate row (score, STORE__SEARCH_COLS) into the facets; the delivery bits
 * into c->delivery, for delivery_facet. */
static void facets_add_row(struct candidates *c, const struct store_value *v)
{
    facet_add(c->out, STORE_FACET_CATEGORY, v[2].s, v[2].len);
    facet_add(c->out, STORE_FACET_KIND, v[3].s, v[3].len);
    facet_add(c->out, STORE_FACET_CLASSIFICATION, v[5].s, v[5].len);
    facet_add(c->out, STORE_FACET_BOARD, v[6].s, v[6].len);
    uint64_t bits = (uint64_t)v[4].i;
    for (size_t bit = 0; bit < DELIVERY_BITS && (bits >> bit) != 0; bit++) {
        c->delivery[bit] += (int64_t)((bits >> bit) & 1);
    }
}

/* The delivery facet from the per-bit counts: a value per bit set in some candidate. */
static void delivery_facet(struct candidates *c)
{
    for (size_t bit = 0; bit < DELIVERY_BITS; bit++) {
        if (c->delivery[bit] > 0) {
            size_t n = c->out->facet_count[STORE_FACET_DELIVERY]++;
            struct store_facet_count *v = &c->out->facets[STORE_FACET_DELIVERY][n];
            snprintf(v->value, sizeof(v->value), "%s", delivery_bits[bit]);
            v->count = c->delivery[bit];
        }
    }
}

static enum err candidate_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct candidates *c = ctx;
    if (n != STORE__SEARCH_NCOLS || v[0].type != STORE_INT || v[1].type != STORE_INT ||
        v[4].type != STORE_INT) {
        return err_set(err, ERR_CORRUPT, "", "a search candidate row has the wrong shape");
    }
    for (size_t i = 2; i < n; i++) {
        if (i != 4 && v[i].type != STORE_TEXT) {
            return err_set(err, ERR_CORRUPT, "", "a search candidate row has the wrong shape");
        }
    }
    if (c->count == c->cap) {
        return ERR_OK; /* the backend's LIMIT makes this unreachable; stay safe */
    }
    c->items[c->count].score = v[0].i;
    c->items[c->count].docid = v[1].i;
    if (c->count + 1 < c->cap) { /* the extra row only says "truncated" */
        facets_add_row(c, v);
    }
    c->count++;
    return ERR_OK;
}

static int facet_compare(const void *a, const void *b)
{
    const struct store_facet_count *x = a, *y = b;
    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }
    return strcmp(x->value, y->value);
}

static void facets_sort(struct store_listing_results *r)
{
    for (size_t f = 0; f < STORE_FACET__COUNT; f++) {
        qsort(r->facets[f], r->facet_count[f], sizeof(r->facets[f][0]), facet_compare);
    }
}

/* Best first: higher score, then the newer document. */
static int candidate_compare(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->score != y->score) {
        return x->score > y->score ? -1 : 1;
    }
    return x->docid > y->docid ? -1 : x->docid < y->docid;
}

/* The cursor: "<score>.<docid>", score possibly negative. */
static enum err cursor_parse(const char *s, int64_t *score, int64_t *docid, struct errbuf *err)
{
    int64_t v[2] = {0, 0};
    const char *p = s;
    for (int part = 0; part < 2; part++) {
        int neg = part == 0 && *p == '-';
        p += neg;
        const char *digits = p;
        while (*p >= '0' && *p <= '9' && p - digits < 18) {
            v[part] = v[part] * 10 + (*p - '0');
            p++;
        }
        if (p == digits || (part == 0 && *p != '.') || (part == 1 && *p != '\0')) {
            return err_set(err, ERR_INVALID, "cursor", "malformed cursor");
        }
        v[part] = neg ? -v[part] : v[part];
        p++;
    }
    *score = v[0];
    *docid = v[1];
    return ERR_OK;
}

void store_listing_results_release(struct store_listing_results *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->count; i++) {
        store_listing_release(&r->items[i]);
    }
    mem_free(r->items);
    mem_free(r->scores);
    r->items = NULL;
    r->scores = NULL;
    r->count = 0;
}

/*
 * The page: the best limit candidates after the cursor's mark (all when mark is NULL), best
 * first, into page; *after is how many candidates follow the mark. A selection rather than a
 * sort of every candidate: most of 2,000 candidates lose one comparison with the page's worst
 * and are never moved. The order is total (the docids are distinct), so the page is the one a
 * full sort would give.
 */
static size_t page_select(const struct candidate *items, size_t count, const struct candidate *mark,
                          size_t limit, struct candidate *page, size_t *after)
{
    size_t n = 0;
    *after = 0;
    for (size_t i = 0; i < count; i++) {
        const struct candidate *x = &items[i];
        if (mark != NULL && candidate_compare(x, mark) <= 0) {
            continue; /* on or before the previous page's last row */
        }
        (*after)++;
        if (n == limit && candidate_compare(x, &page[n - 1]) >= 0) {
            continue;
        }
        size_t at = n < limit ? n++ : n - 1; /* the worst drops out of a full page */
        while (at > 0 && candidate_compare(x, &page[at - 1]) < 0) {
            page[at] = page[at - 1];
            at--;
        }
        page[at] = *x;
    }
    return n;
}

static enum err id_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    return n == 1 ? store__copy_text(ctx, ID_MAX, &v[0], err)
                  : err_set(err, ERR_CORRUPT, "", "a listing id row has the wrong shape");
}

/* Reads the page's listings back, in order, by their documents' ids. */
static enum err page_fill(struct store *s, const struct candidate *page, size_t n,
                          struct store_listing_results *out, struct errbuf *err)
{
    if (n == 0) {
        return ERR_OK;
    }
    out->items = mem_calloc(n, sizeof(*out->items));
    out->scores = mem_calloc(n, sizeof(*out->scores));
    if (out->items == NULL || out->scores == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        char id[ID_MAX] = "";
        struct store_value docid = store_int(page[i].docid);
        enum err rc = store_query(s, "SELECT id FROM listings WHERE docid = $1", &docid, 1, id_cb,
                                  id, NULL, err);
        if (rc == ERR_OK) {
            rc = id[0] != '\0' ? store_listing_get(s, id, &out->items[i], err) : ERR_NOT_FOUND;
        }
        if (rc != ERR_OK) {
            store_listing_release(&out->items[i]);
            return rc == ERR_NOT_FOUND ? err_set(err, ERR_CORRUPT, "",
                                                 "a search document names "
                                                 "a missing listing")
                                       : rc;
        }
        out->scores[i] = page[i].score;
        out->count = i + 1;
    }
    return ERR_OK;
}

enum err store_listing_search(struct store *s, const struct store_listing_query *q,
                              struct store_listing_results *out, struct errbuf *err)
{
    ASSERT(s != NULL && q != NULL && out != NULL);
    ASSERT(q->limit >= 1 && q->limit <= STORE_PAGE_MAX);
    ASSERT(q->candidates_max >= 1 && q->candidates_max <= STORE_SEARCH_CANDIDATES_MAX);
    memset(out, 0, sizeof(*out));
    int64_t after_score = 0, after_docid = 0;
    if (q->cursor != NULL) {
        enum err rc = cursor_parse(q->cursor, &after_score, &after_docid, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    struct store__search *parsed = mem_calloc(1, sizeof(*parsed));
    struct candidates c = {.cap = q->candidates_max + 1, .out = out};
    c.items = mem_calloc(c.cap, sizeof(*c.items));
    struct candidate *page = mem_calloc(q->limit, sizeof(*page));
    enum err rc = ERR_OK;
    if (parsed == NULL || c.items == NULL || page == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    parsed->q = q;
    if (q->text != NULL) {
        rc = terms_split(parsed, err);
    }
    if (rc == ERR_OK) {
        rc = s->ops->search->candidates(s, parsed, c.cap, candidate_cb, &c, err);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    out->truncated = c.count > q->candidates_max;
    c.count = out->truncated ? q->candidates_max : c.count;
    out->total = c.count;
    delivery_facet(&c);
    facets_sort(out);
    struct candidate mark = {.score = after_score, .docid = after_docid};
    size_t after = 0;
    size_t n =
        page_select(c.items, c.count, q->cursor != NULL ? &mark : NULL, q->limit, page, &after);
    rc = page_fill(s, page, n, out, err);
    if (rc == ERR_OK && n < after) {
        const struct candidate *last = &page[n - 1];
        snprintf(out->next_cursor, sizeof(out->next_cursor), "%" PRId64 ".%" PRId64, last->score,
                 last->docid);
    }
out:
    if (rc != ERR_OK) {
        store_listing_results_release(out);
    }
    mem_free(c.items);
    mem_free(page);
    mem_free(parsed);
    return rc;
}
