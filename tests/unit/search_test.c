/*
 * search_test.c: the catalogue query below core (store_listing_search), on SQLite and, when
 * BOURSE_TEST_PG_URL names a cluster, on PostgreSQL (a database of its own per test): the
 * guard (the newest candidates_max matches ranked, "truncated" said, the facets counting
 * exactly those), facets with counts over an untruncated answer, cursor paging through every
 * match once in relevance order, Chinese of one, two and six characters, and the query's
 * input errors, and private offers (seen by the provider and the named buyers only, on both
 * backends). On SQLite, every score is checked against FTS5's own bm25(): the candidate
 * query reads each document's length from the listing's copy of the index's %_docsize count
 * (listings.search_lengths, migration 13), so one-, two- and three-byte lengths are all in
 * the catalogue, the copy is checked against %_docsize, and a `bourse db copy` target counts
 * the lengths again rather than trust the source's.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include "market.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define DOCS 40           /* docids 1..DOCS */
#define DELISTED_DOCID 39 /* the one delisted listing */
#define LONG_DOCID 7      /* a body of 200 words: a two-byte length */
#define HUGE_DOCID 11     /* a body of 17,000 words: a three-byte length */

static const char *const categories[] = {"energy", "transport", "finance"};
static const char *const kinds[] = {"dataset", "api"};

struct fixture {
    const char *admin; /* BOURSE_TEST_PG_URL on PostgreSQL, else NULL */
    char db[MARKET_PG_DB_MAX];
    char url[MARKET_URL_MAX];
    struct store *s;
};

/* ---- the catalogue: who each listing is ---- */

static int doc_electric(int64_t docid) /* titled 企业用电画像, else 停车场泊位 */
{
    return docid % 4 == 0;
}

static int doc_rare(int64_t docid)
{
    return docid % 10 == 0;
}

static const char *doc_category(int64_t docid)
{
    return categories[docid % 3];
}

static const char *doc_kind(int64_t docid)
{
    return kinds[docid % 2];
}

static int64_t doc_delivery(int64_t docid) /* bits 0..2: one or two modes */
{
    return (int64_t)1 << (docid % 3) | (docid % 5 == 0 ? 4 : 0);
}

static const char *doc_board(int64_t docid)
{
    return docid % 5 == 0 ? "international" : "main";
}

static void body_make(int64_t docid, struct buf *b)
{
    buf_reset(b);
    (void)buf_appendf(b, "用电数据 common data %s", doc_rare(docid) ? "rare " : "");
    for (int64_t i = 0; i < docid % 3; i++) {
        (void)buf_append_str(b, "common ");
    }
    int filler = docid == LONG_DOCID ? 200 : docid == HUGE_DOCID ? 17000 : 0;
    for (int i = 0; i < filler; i++) {
        (void)buf_append_str(b, "filler ");
    }
}

static void parents_make(struct store *s)
{
    struct store_entity e;
    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "ent_search");
    snprintf(e.kind, sizeof(e.kind), "provider");
    snprintf(e.status, sizeof(e.status), "verified");
    snprintf(e.name, sizeof(e.name), "国网 Grid");
    snprintf(e.country, sizeof(e.country), "CN");
    assert_int_equal(store_entity_insert(s, &e, NULL), ERR_OK);
    struct store_product p;
    memset(&p, 0, sizeof(p));
    snprintf(p.id, sizeof(p.id), "prd_search");
    snprintf(p.provider_id, sizeof(p.provider_id), "ent_search");
    p.latest_revision = 1;
    snprintf(p.latest_revision_id, sizeof(p.latest_revision_id), "rev_search");
    assert_int_equal(store_product_insert(s, &p, NULL), ERR_OK);
    struct store_revision r;
    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "rev_search");
    snprintf(r.product_id, sizeof(r.product_id), "prd_search");
    r.number = 1;
    r.metadata = (char *)"{}";
    assert_int_equal(store_revision_insert(s, &r, NULL), ERR_OK);
}

static void catalogue_make(struct store *s)
{
    parents_make(s);
    struct buf body;
    buf_init(&body, 200000);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    for (int64_t docid = 1; docid <= DOCS; docid++) {
        struct store_listing l;
        memset(&l, 0, sizeof(l));
        snprintf(l.id, sizeof(l.id), "lst_s%02d", (int)docid);
        snprintf(l.product_id, sizeof(l.product_id), "prd_search");
        snprintf(l.revision_id, sizeof(l.revision_id), "rev_search");
        snprintf(l.provider_id, sizeof(l.provider_id), "ent_search");
        snprintf(l.status, sizeof(l.status), docid == DELISTED_DOCID ? "delisted" : "active");
        snprintf(l.board, sizeof(l.board), "%s", doc_board(docid));
        snprintf(l.title, sizeof(l.title), "%s No.%d",
                 doc_electric(docid) ? "企业用电画像" : "停车场泊位", (int)docid);
        snprintf(l.category, sizeof(l.category), "%s", doc_category(docid));
        snprintf(l.kind, sizeof(l.kind), "%s", doc_kind(docid));
        snprintf(l.classification, sizeof(l.classification), "corporate");
        snprintf(l.currency, sizeof(l.currency), "CNY");
        l.price_json = (char *)"{}";
        l.terms_json = (char *)"{}";
        l.price = 1000 * docid;
        l.delivery = doc_delivery(docid);
        l.ref_low = -1;
        l.ref_high = -1;
        l.docid = docid;
        body_make(docid, &body);
        struct store_listing_doc doc = {l.title, body.data};
        assert_int_equal(store_listing_insert(s, &l, NULL, 0, &doc, NULL), ERR_OK);
    }
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    buf_release(&body);
}

/* ---- the backends ---- */

/* pg 0: SQLite in memory; pg 1: a new PostgreSQL database, or 0 (skip) without a cluster. */
static int catalogue_open(struct fixture *f, int pg)
{
    memset(f, 0, sizeof(*f));
    if (!pg) {
        assert_int_equal(store_open(":memory:", &f->s, NULL), ERR_OK);
        catalogue_make(f->s);
        return 1;
    }
    f->admin = market_pg_admin_url();
    if (f->admin == NULL) {
        return 0;
    }
    assert_int_equal(market_pg_db_create(f->admin, "search", f->db, f->url, sizeof(f->url)),
                     ERR_OK);
    assert_int_equal(store_open(f->url, &f->s, NULL), ERR_OK);
    catalogue_make(f->s);
    return 1;
}

static void catalogue_close(struct fixture *f)
{
    store_close(f->s);
    if (f->admin != NULL) {
        assert_int_equal(market_pg_db_drop(f->admin, f->db), ERR_OK);
    }
}

/* ---- helpers ---- */

static struct store_listing_query query_of(const char *text, size_t limit, size_t max)
{
    struct store_listing_query q = {
        .text = text,
        .status = "active",
        .price_min = -1,
        .price_max = -1,
        .viewer_id = "",
        .only_docid = -1,
        .limit = limit,
        .candidates_max = max,
    };
    return q;
}

static void search_ok(struct store *s, const struct store_listing_query *q,
                      struct store_listing_results *r)
{
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = store_listing_search(s, q, r, &err);
    if (rc != ERR_OK) {
        fail_msg("search '%s': %s: %s", q->text != NULL ? q->text : "", err_name(rc), err.msg);
    }
}

static int64_t facet_count(const struct store_listing_results *r, enum store_facet f,
                           const char *value)
{
    for (size_t i = 0; i < r->facet_count[f]; i++) {
        if (strcmp(r->facets[f][i].value, value) == 0) {
            return r->facets[f][i].count;
        }
    }
    return 0;
}

/* The facets of r must be exactly the counts over docids[0..n), and sorted (count descending,
 * then value). */
static void facets_check(const struct store_listing_results *r, const int64_t *docids, size_t n)
{
    for (size_t c = 0; c < ARRAY_LEN(categories); c++) {
        int64_t want = 0;
        for (size_t i = 0; i < n; i++) {
            want += strcmp(doc_category(docids[i]), categories[c]) == 0;
        }
        assert_int_equal(facet_count(r, STORE_FACET_CATEGORY, categories[c]), want);
    }
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        int64_t want = 0;
        for (size_t i = 0; i < n; i++) {
            want += strcmp(doc_kind(docids[i]), kinds[k]) == 0;
        }
        assert_int_equal(facet_count(r, STORE_FACET_KIND, kinds[k]), want);
    }
    static const char *const bits[] = {"0", "1", "2"};
    for (size_t b = 0; b < ARRAY_LEN(bits); b++) {
        int64_t want = 0;
        for (size_t i = 0; i < n; i++) {
            want += (doc_delivery(docids[i]) >> b) & 1;
        }
        assert_int_equal(facet_count(r, STORE_FACET_DELIVERY, bits[b]), want);
    }
    int64_t international = 0;
    for (size_t i = 0; i < n; i++) {
        international += strcmp(doc_board(docids[i]), "international") == 0;
    }
    assert_int_equal(facet_count(r, STORE_FACET_BOARD, "international"), international);
    assert_int_equal(facet_count(r, STORE_FACET_BOARD, "main"), (int64_t)n - international);
    assert_int_equal(facet_count(r, STORE_FACET_CLASSIFICATION, "corporate"), (int64_t)n);
    assert_int_equal(r->facet_count[STORE_FACET_CLASSIFICATION], 1);
    for (size_t f = 0; f < STORE_FACET__COUNT; f++) {
        for (size_t i = 1; i < r->facet_count[f]; i++) {
            const struct store_facet_count *a = &r->facets[f][i - 1], *b = &r->facets[f][i];
            assert_true(a->count > b->count ||
                        (a->count == b->count && strcmp(a->value, b->value) < 0));
        }
    }
}

/* Pages through a query, limit rows a page; the docids in order into out (room for DOCS),
 * checking that scores never rise and that equal scores go newest first. */
static size_t page_through(struct store *s, const char *text, size_t limit, int64_t *out,
                           int64_t *scores)
{
    char cursor[STORE_CURSOR_MAX] = "";
    size_t n = 0;
    for (int pages = 0; pages <= DOCS; pages++) {
        struct store_listing_query q = query_of(text, limit, STORE_SEARCH_CANDIDATES_MAX);
        q.cursor = cursor[0] != '\0' ? cursor : NULL;
        struct store_listing_results r;
        search_ok(s, &q, &r);
        for (size_t i = 0; i < r.count; i++) {
            assert_true(n < DOCS);
            out[n] = r.items[i].docid;
            scores[n] = r.scores[i];
            if (n > 0) {
                assert_true(scores[n] < scores[n - 1] ||
                            (scores[n] == scores[n - 1] && out[n] < out[n - 1]));
            }
            n++;
        }
        snprintf(cursor, sizeof(cursor), "%s", r.next_cursor);
        store_listing_results_release(&r);
        if (cursor[0] == '\0') {
            return n;
        }
    }
    fail_msg("'%s': the cursor never ended", text);
    return n;
}

/* ---- the guard and the facets ---- */

static void guard_and_facets(int pg)
{
    struct fixture f;
    if (!catalogue_open(&f, pg)) {
        skip();
    }
    /* "common" is in every listing: 39 active. With a guard of 10, the 10 newest active ones
     * are ranked and counted, and the answer says it cut. */
    struct store_listing_query q = query_of("common", 20, 10);
    struct store_listing_results r;
    search_ok(f.s, &q, &r);
    assert_int_equal(r.total, 10);
    assert_int_equal(r.truncated, 1);
    assert_int_equal(r.count, 10);
    assert_string_equal(r.next_cursor, "");
    int64_t newest[10];
    size_t n = 0;
    for (int64_t docid = DOCS; n < 10; docid--) {
        if (docid != DELISTED_DOCID) {
            newest[n++] = docid;
        }
    }
    for (size_t i = 0; i < r.count; i++) {
        int found = 0;
        for (size_t j = 0; j < n; j++) {
            found |= r.items[i].docid == newest[j];
        }
        if (!found) {
            fail_msg("docid %" PRId64 " is not among the 10 newest", r.items[i].docid);
        }
    }
    facets_check(&r, newest, n);
    store_listing_results_release(&r);
    /* A guard of exactly the match count: every match, and no cut. */
    q = query_of("common", 5, 39);
    search_ok(f.s, &q, &r);
    assert_int_equal(r.total, 39);
    assert_int_equal(r.truncated, 0);
    store_listing_results_release(&r);
    /* Without the cut: every active listing counted, and paging visits each once. */
    q = query_of("common", 5, STORE_SEARCH_CANDIDATES_MAX);
    search_ok(f.s, &q, &r);
    assert_int_equal(r.total, 39);
    assert_int_equal(r.truncated, 0);
    int64_t all[DOCS], scores[DOCS];
    n = 0;
    for (int64_t docid = 1; docid <= DOCS; docid++) {
        if (docid != DELISTED_DOCID) {
            all[n++] = docid;
        }
    }
    facets_check(&r, all, n);
    store_listing_results_release(&r);
    int64_t seen[DOCS];
    assert_int_equal(page_through(f.s, "common", 7, seen, scores), 39);
    for (size_t i = 0; i < 39; i++) {
        for (size_t j = 0; j < i; j++) {
            assert_true(seen[i] != seen[j]);
        }
        assert_true(seen[i] != DELISTED_DOCID);
    }
    /* A rarer term: exact, and facets over its matches only. */
    q = query_of("rare", 20, STORE_SEARCH_CANDIDATES_MAX);
    search_ok(f.s, &q, &r);
    const int64_t rare[] = {40, 30, 20, 10};
    assert_int_equal(r.total, ARRAY_LEN(rare));
    assert_int_equal(r.truncated, 0);
    facets_check(&r, rare, ARRAY_LEN(rare));
    store_listing_results_release(&r);
    catalogue_close(&f);
}

static void test_search__guard_and_facets(void **state)
{
    (void)state;
    guard_and_facets(0);
}

static void test_search__guard_and_facets_pg(void **state)
{
    (void)state;
    guard_and_facets(1);
}

/* ---- Chinese ---- */

static void chinese(int pg)
{
    struct fixture f;
    if (!catalogue_open(&f, pg)) {
        skip();
    }
    /* Every listing has 用电 in its body and a quarter have it in the title too: those rank
     * first. One and two characters, and with a Latin word. */
    static const char *const short_terms[] = {"电", "用电", "用电 common"};
    for (size_t i = 0; i < ARRAY_LEN(short_terms); i++) {
        int64_t seen[DOCS], scores[DOCS];
        size_t n = page_through(f.s, short_terms[i], 4, seen, scores);
        assert_int_equal(n, 39);
        for (size_t k = 0; k < DOCS / 4; k++) {
            if (!doc_electric(seen[k])) {
                fail_msg("'%s': row %zu is docid %" PRId64 ", not a titled one", short_terms[i], k,
                         seen[k]);
            }
        }
    }
    /* Four and six characters: a substring of the titles only. */
    static const char *const long_terms[] = {"用电画像", "企业用电画像"};
    struct store_listing_query q;
    struct store_listing_results r;
    for (size_t i = 0; i < ARRAY_LEN(long_terms); i++) {
        q = query_of(long_terms[i], 20, STORE_SEARCH_CANDIDATES_MAX);
        search_ok(f.s, &q, &r);
        assert_int_equal(r.total, DOCS / 4);
        assert_int_equal(r.count, DOCS / 4);
        for (size_t k = 0; k < r.count; k++) {
            assert_true(doc_electric(r.items[k].docid));
        }
        store_listing_results_release(&r);
    }
    q = query_of("猫", 20, STORE_SEARCH_CANDIDATES_MAX);
    search_ok(f.s, &q, &r);
    assert_int_equal(r.total, 0);
    assert_int_equal(r.count, 0);
    assert_int_equal(r.facet_count[STORE_FACET_CATEGORY], 0);
    store_listing_results_release(&r);
    catalogue_close(&f);
}

static void test_search__chinese(void **state)
{
    (void)state;
    chinese(0);
}

static void test_search__chinese_pg(void **state)
{
    (void)state;
    chinese(1);
}

/* ---- SQLite: the scores are FTS5's bm25 ---- */

struct bm25_rows {
    int64_t docid[DOCS];
    int64_t score[DOCS];
    size_t count;
};

static enum err bm25_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    (void)err;
    struct bm25_rows *rows = ctx;
    assert_int_equal(n, 2);
    assert_true(rows->count < DOCS);
    rows->docid[rows->count] = v[0].i;
    rows->score[rows->count] = v[1].i;
    rows->count++;
    return ERR_OK;
}

/* Every score of the catalogue on s must be FTS5's own bm25(), for one- and two-term queries
 * on both indexes. */
static void scores_check(struct store *s)
{
    /* Each query, the index serving it and its MATCH as search_sqlite.c spells it. */
    static const struct {
        const char *q, *table, *match;
    } cases[] = {
        {"common", "listing_grams", "\"common\""},
        {"filler", "listing_grams", "\"filler\""},
        {"rare common", "listing_grams", "\"rare\" AND \"common\""},
        {"用电", "listing_grams", "\"用电\""},
        {"企业用电", "listing_fts", "\"企业用电\""},
    };
    for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT rowid, CAST(-1000000000.0 * bm25(%s, 4.0, 1.0) AS INTEGER) FROM %s"
                 " WHERE %s MATCH $1",
                 cases[c].table, cases[c].table, cases[c].table);
        struct store_value match = store_text(cases[c].match);
        struct bm25_rows want = {.count = 0};
        assert_int_equal(store_query(s, sql, &match, 1, bm25_cb, &want, NULL, NULL), ERR_OK);
        assert_true(want.count > 0);
        struct store_listing_query q = query_of(cases[c].q, STORE_PAGE_MAX, 2000);
        q.status = NULL; /* the delisted one too: the index has it */
        struct store_listing_results r;
        search_ok(s, &q, &r);
        assert_int_equal(r.count, want.count);
        for (size_t i = 0; i < r.count; i++) {
            size_t j = 0;
            while (j < want.count && want.docid[j] != r.items[i].docid) {
                j++;
            }
            assert_true(j < want.count);
            if (r.scores[i] != want.score[j]) {
                fail_msg("'%s', docid %" PRId64 ": score %" PRId64 ", bm25 %" PRId64, cases[c].q,
                         r.items[i].docid, r.scores[i], want.score[j]);
            }
        }
        store_listing_results_release(&r);
    }
}

static void test_search__sqlite_scores_are_bm25(void **state)
{
    (void)state;
    struct fixture f;
    catalogue_open(&f, 0);
    scores_check(f.s);
    catalogue_close(&f);
}

static enum err int_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    (void)err;
    assert_int_equal(n, 1);
    *(int64_t *)ctx = v[0].type == STORE_INT ? v[0].i : v[0].type == STORE_NULL ? -2 : -3;
    return ERR_OK;
}

/* The document lengths (listings.search_lengths, migration 13) are the sums of FTS5's own
 * %_docsize records; bourse_doc_length reads the record's varints and refuses a broken one. */
static void test_search__sqlite_document_lengths(void **state)
{
    (void)state;
    struct fixture f;
    catalogue_open(&f, 0);
    int64_t v = -1;
    /* 10, then 0x81 0x04 = 1 * 128 + 4, then 0x81 0x80 0x00 = 16384 */
    assert_int_equal(store_query(f.s, "SELECT bourse_doc_length(x'0a8104818000')", NULL, 0, int_cb,
                                 &v, NULL, NULL),
                     ERR_OK);
    assert_int_equal(v, 10 + 132 + 16384);
    assert_int_equal(
        store_query(f.s, "SELECT bourse_doc_length(NULL)", NULL, 0, int_cb, &v, NULL, NULL),
        ERR_OK);
    assert_int_equal(v, -2);
    struct errbuf err;
    errbuf_init(&err);
    assert_int_not_equal(
        store_query(f.s, "SELECT bourse_doc_length(x'0a81')", NULL, 0, int_cb, &v, NULL, &err),
        ERR_OK);
    /* Every listing: the trigram index's count in the high half, the grams index's below. */
    for (int64_t docid = 1; docid <= DOCS; docid++) {
        struct store_value p = store_int(docid);
        int64_t got = -1, fts = -1, grams = -1;
        assert_int_equal(store_query(f.s, "SELECT search_lengths FROM listings WHERE docid = $1",
                                     &p, 1, int_cb, &got, NULL, NULL),
                         ERR_OK);
        assert_int_equal(store_query(f.s,
                                     "SELECT bourse_doc_length(sz) FROM listing_fts_docsize"
                                     " WHERE id = $1",
                                     &p, 1, int_cb, &fts, NULL, NULL),
                         ERR_OK);
        assert_int_equal(store_query(f.s,
                                     "SELECT bourse_doc_length(sz) FROM listing_grams_docsize"
                                     " WHERE id = $1",
                                     &p, 1, int_cb, &grams, NULL, NULL),
                         ERR_OK);
        assert_true(fts > 0 && grams > 0);
        assert_int_equal(got, fts * 4294967296 + grams);
        if (docid == HUGE_DOCID) { /* a three-byte length */
            assert_true(grams > 16384);
        }
    }
    catalogue_close(&f);
}

/* `bourse db copy` moves listings with whatever lengths they hold; the target's own trigger
 * counts them again as the documents arrive, so even wrong ones in the source do not travel. */
static void test_search__sqlite_copy_counts_lengths_again(void **state)
{
    (void)state;
    struct fixture f;
    catalogue_open(&f, 0);
    assert_int_equal(store_exec(f.s, "UPDATE listings SET search_lengths = 7", NULL), ERR_OK);
    struct store *to = NULL;
    assert_int_equal(store_open(":memory:", &to, NULL), ERR_OK);
    int64_t rows = 0;
    struct errbuf err;
    errbuf_init(&err);
    if (store_copy(f.s, to, &rows, &err) != ERR_OK) {
        fail_msg("copy: %s", err.msg);
    }
    assert_true(rows > DOCS);
    int64_t wrong = -1;
    assert_int_equal(store_query(to, "SELECT COUNT(*) FROM listings WHERE search_lengths = 7", NULL,
                                 0, int_cb, &wrong, NULL, NULL),
                     ERR_OK);
    assert_int_equal(wrong, 0);
    scores_check(to);
    store_close(to);
    catalogue_close(&f);
}

/* ---- private offers: seen by the provider and the named buyers only ---- */

#define PRIVATE_DOCID (DOCS + 1)

static void private_offer_add(struct store *s)
{
    struct store_entity e;
    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "ent_buyer");
    snprintf(e.kind, sizeof(e.kind), "buyer");
    snprintf(e.status, sizeof(e.status), "verified");
    snprintf(e.name, sizeof(e.name), "Buyer");
    snprintf(e.country, sizeof(e.country), "CN");
    assert_int_equal(store_entity_insert(s, &e, NULL), ERR_OK);
    struct store_listing l;
    memset(&l, 0, sizeof(l));
    snprintf(l.id, sizeof(l.id), "lst_private");
    snprintf(l.product_id, sizeof(l.product_id), "prd_search");
    snprintf(l.revision_id, sizeof(l.revision_id), "rev_search");
    snprintf(l.provider_id, sizeof(l.provider_id), "ent_search");
    snprintf(l.status, sizeof(l.status), "active");
    snprintf(l.board, sizeof(l.board), "main");
    snprintf(l.title, sizeof(l.title), "企业用电画像 private");
    snprintf(l.category, sizeof(l.category), "energy");
    snprintf(l.kind, sizeof(l.kind), "dataset");
    snprintf(l.classification, sizeof(l.classification), "corporate");
    snprintf(l.currency, sizeof(l.currency), "CNY");
    l.price_json = (char *)"{}";
    l.terms_json = (char *)"{}";
    l.delivery = 1;
    l.private_offer = 1;
    l.ref_low = -1;
    l.ref_high = -1;
    l.docid = PRIVATE_DOCID;
    char buyers[1][ID_MAX] = {"ent_buyer"};
    struct store_listing_doc doc = {l.title, "用电数据 common data secret"};
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    assert_int_equal(store_listing_insert(s, &l, buyers, 1, &doc, NULL), ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
}

static void private_offers(int pg)
{
    struct fixture f;
    if (!catalogue_open(&f, pg)) {
        skip();
    }
    private_offer_add(f.s);
    const struct {
        const char *viewer; /* NULL: a supervisor, who sees all */
        int sees;
    } cases[] = {
        {"", 0}, {"ent_other", 0}, {"ent_buyer", 1}, {"ent_search", 1}, {NULL, 1},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        /* "secret" is in the private offer only; "common" in every document. */
        struct store_listing_query q = query_of("secret", 20, STORE_SEARCH_CANDIDATES_MAX);
        q.viewer_id = cases[i].viewer;
        q.viewer_sees_all = cases[i].viewer == NULL;
        struct store_listing_results r;
        search_ok(f.s, &q, &r);
        assert_int_equal(r.total, cases[i].sees);
        assert_int_equal(r.count, cases[i].sees);
        if (cases[i].sees) {
            assert_string_equal(r.items[0].id, "lst_private");
        }
        store_listing_results_release(&r);
        q = query_of("common", STORE_PAGE_MAX, STORE_SEARCH_CANDIDATES_MAX);
        q.viewer_id = cases[i].viewer;
        q.viewer_sees_all = cases[i].viewer == NULL;
        search_ok(f.s, &q, &r);
        /* the active listings (all but the delisted one) and the offer to those who see it;
         * energy: docids divisible by 3 (doc_category) */
        assert_int_equal(r.total, DOCS - 1 + cases[i].sees);
        assert_int_equal(facet_count(&r, STORE_FACET_CATEGORY, "energy"),
                         DOCS / 3 - (DELISTED_DOCID % 3 == 0) + cases[i].sees);
        store_listing_results_release(&r);
    }
    catalogue_close(&f);
}

static void test_search__private_offers(void **state)
{
    (void)state;
    private_offers(0);
}

static void test_search__private_offers_pg(void **state)
{
    (void)state;
    private_offers(1);
}

/* ---- bad input: an error naming the field, and no answer ---- */

static void bad_input(int pg)
{
    struct fixture f;
    if (!catalogue_open(&f, pg)) {
        skip();
    }
    const struct {
        const char *q, *cursor, *field;
        enum err rc;
    } cases[] = {
        {"common", "12", "cursor", ERR_INVALID},     {"common", "x.1", "cursor", ERR_INVALID},
        {"common", "1.2.3", "cursor", ERR_INVALID},  {"，。 ,.", NULL, "q", ERR_INVALID},
        {"a b c d e f g h i", NULL, "q", ERR_LIMIT},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct store_listing_query q = query_of(cases[i].q, 20, STORE_SEARCH_CANDIDATES_MAX);
        q.cursor = cases[i].cursor;
        struct store_listing_results r;
        struct errbuf err;
        errbuf_init(&err);
        assert_int_equal(store_listing_search(f.s, &q, &r, &err), cases[i].rc);
        assert_string_equal(err.field, cases[i].field);
        assert_int_equal(r.count, 0);
        assert_null(r.items);
        assert_int_equal(r.total, 0);
        assert_int_equal(r.facet_count[STORE_FACET_CATEGORY], 0);
    }
    catalogue_close(&f);
}

static void test_search__bad_input(void **state)
{
    (void)state;
    bad_input(0);
}

static void test_search__bad_input_pg(void **state)
{
    (void)state;
    bad_input(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search__guard_and_facets),
        cmocka_unit_test(test_search__guard_and_facets_pg),
        cmocka_unit_test(test_search__chinese),
        cmocka_unit_test(test_search__chinese_pg),
        cmocka_unit_test(test_search__sqlite_scores_are_bm25),
        cmocka_unit_test(test_search__sqlite_document_lengths),
        cmocka_unit_test(test_search__sqlite_copy_counts_lengths_again),
        cmocka_unit_test(test_search__private_offers),
        cmocka_unit_test(test_search__private_offers_pg),
        cmocka_unit_test(test_search__bad_input),
        cmocka_unit_test(test_search__bad_input_pg),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    log_set_level(LOG_WARN);
    return cmocka_run_group_tests_name("search", tests, NULL, NULL);
}
