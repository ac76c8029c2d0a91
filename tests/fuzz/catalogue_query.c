/*
 * catalogue_query.c: libFuzzer target for the catalogue query, untrusted text that becomes a
 * full-text expression: the word splitter, the CJK fragments of matchmaking, the grams
 * spelling, and the FTS5 MATCH syntax they are quoted into. Whatever the text, a query answers
 * with results or an input error (ERR_INVALID, ERR_LIMIT), never a storage error: an FTS5
 * syntax error would be a 500.
 */
#include "util/compat.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *catalogue;

/* One provider, product and revision, and two listings to search. */
static void catalogue_make(void)
{
    ASSERT(store_open(":memory:", &catalogue, NULL) == ERR_OK);
    struct store_entity e;
    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "ent_f");
    snprintf(e.kind, sizeof(e.kind), "provider");
    snprintf(e.status, sizeof(e.status), "verified");
    snprintf(e.name, sizeof(e.name), "国网 Grid");
    ASSERT(store_entity_insert(catalogue, &e, NULL) == ERR_OK);
    struct store_product p;
    memset(&p, 0, sizeof(p));
    snprintf(p.id, sizeof(p.id), "prd_f");
    snprintf(p.provider_id, sizeof(p.provider_id), "ent_f");
    p.latest_revision = 1;
    snprintf(p.latest_revision_id, sizeof(p.latest_revision_id), "rev_f");
    ASSERT(store_product_insert(catalogue, &p, NULL) == ERR_OK);
    struct store_revision r;
    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "rev_f");
    snprintf(r.product_id, sizeof(r.product_id), "prd_f");
    r.number = 1;
    r.metadata = (char *)"{}";
    ASSERT(store_revision_insert(catalogue, &r, NULL) == ERR_OK);
    static const char *const titles[] = {"企业用电画像 Enterprise electricity", "Face comparison"};
    for (int i = 0; i < 2; i++) {
        struct store_listing l;
        memset(&l, 0, sizeof(l));
        snprintf(l.id, sizeof(l.id), "lst_f%d", i);
        snprintf(l.product_id, sizeof(l.product_id), "prd_f");
        snprintf(l.revision_id, sizeof(l.revision_id), "rev_f");
        snprintf(l.provider_id, sizeof(l.provider_id), "ent_f");
        snprintf(l.status, sizeof(l.status), "active");
        snprintf(l.board, sizeof(l.board), "main");
        snprintf(l.title, sizeof(l.title), "%s", titles[i]);
        snprintf(l.category, sizeof(l.category), "energy");
        snprintf(l.kind, sizeof(l.kind), "dataset");
        l.price_json = (char *)"{}";
        l.terms_json = (char *)"{}";
        l.delivery = 1;
        l.price = -1;
        l.ref_low = -1;
        l.ref_high = -1;
        l.docid = i;
        struct store_listing_doc doc = {titles[i], "用电数据 5号线 data; 征信"};
        ASSERT(store_listing_insert(catalogue, &l, NULL, 0, &doc, NULL) == ERR_OK);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (catalogue == NULL) {
        catalogue_make();
    }
    char *q = malloc(size + 1);
    if (q == NULL) {
        return 0;
    }
    memcpy(q, data, size);
    q[size] = '\0';
    for (int any = 0; any < 2; any++) {
        struct store_listing_query query = {
            .text = q,
            .any_term = any,
            .price_min = -1,
            .price_max = -1,
            .viewer_id = "",
            .only_docid = -1,
            .limit = 10,
            .candidates_max = 100,
        };
        struct store_listing_results r;
        struct errbuf err;
        errbuf_init(&err);
        enum err rc = store_listing_search(catalogue, &query, &r, &err);
        ASSERT(rc == ERR_OK || rc == ERR_INVALID || rc == ERR_LIMIT);
        ASSERT(rc != ERR_OK || r.count <= 2);
        if (rc == ERR_OK) {
            store_listing_results_release(&r);
        }
    }
    free(q);
    return 0;
}
