/*
 * catalogue_test.c: the listing rules, the reference corridor on a listing, the catalogue
 * search and matchmaking, against a real in-memory SQLite store with a fixed clock and a seeded
 * random source: who may list what (certificates, the listing gate, the cross-border gate, one
 * public listing per board), the shape of price models and licence terms (each refusal names
 * its field and changes nothing), private offers (seen by their buyers only, never by an
 * anonymous caller), delisting, demands matched both ways into the inbox, and allocation
 * failures at every step of a listing.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include "market.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define T0 ((int64_t)1795305540000) /* 2026-11-21T19:19:00Z */

struct fixture {
    struct market m; /* in-memory SQLite; its firms: quality and compliance */
};

static int64_t event_count(struct fixture *f)
{
    int64_t n = -1;
    assert_int_equal(store_event_count(f->m.core.store, &n, NULL), ERR_OK);
    return n;
}

static const char *const seller_certs[] = {"data_provider", NULL};
static const char *const buyer_certs[] = {"trading", NULL};
static const char *const border_certs[] = {"data_provider", "trading", "cross_border", NULL};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    market_open(&f->m, NULL, T0);
    market_firms_new(&f->m, "DE", 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    market_close(&f->m);
    free(f);
    return 0;
}

/* ---- a listable revision ---- */

/* Registers a corporate, general product; when listable, gives it what listing needs. */
static void product_new(struct fixture *f, const struct market_party *prov, const char *title,
                        const char *category, const char *kind, const char *description,
                        int listable, struct store_product *p, char rev[ID_MAX])
{
    struct market_product spec = {
        .title = title,
        .kind = kind,
        .category = category,
        .description = description,
        .use_case_en = "credit scoring",
    };
    market_product_new(&f->m, prov, &spec, listable, p, rev);
}

/* A listing body: fixed price in CNY, one year in CN, by API. */
static json_t *listing_body(const char *rev, int64_t amount)
{
    char price[96];
    snprintf(price, sizeof(price),
             "{\"model\": \"fixed\", \"currency\": \"CNY\", \"amount\": %" PRId64 "}", amount);
    struct market_terms t = {.price = price, .delivery = "[\"api\"]"};
    return market_listing_body(rev, &t);
}

static void set_json(json_t *root, const char *member, const char *value)
{
    json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    json_object_set_new(root, member, v);
}

/* ---- listings ---- */

static void test_catalogue__listing_rules(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, nocert, bank;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    market_party_new(&f->m, "provider", "DE", NULL, NULL, &nocert);
    market_party_new(&f->m, "buyer", "DE", buyer_certs, NULL, &bank);
    struct store_product p;
    char rev[ID_MAX], bare[ID_MAX];
    product_new(f, &prov, "企业用电画像", "energy", "dataset", "企业用电数据", 1, &p, rev);
    product_new(f, &prov, "未评估 Unassessed", "energy", "dataset", "x", 0, &p, bare);
    struct {
        const char *member; /* "price.x" sets a member of price, "terms.x" of terms */
        const char *value;  /* JSON; NULL deletes */
        enum err expect;
        const char *field;
    } cases[] = {
        {"revision_id", "\"rev_00000000000000000000\"", ERR_NOT_FOUND, NULL},
        {"revision_id", "\"prd_00000000000000000000\"", ERR_INVALID, "revision_id"},
        {"board", "\"moon\"", ERR_INVALID, "board"},
        {"board", "\"international\"", ERR_FORBIDDEN, "board"},
        {"colour", "\"red\"", ERR_INVALID, "colour"},
        {"price", NULL, ERR_INVALID, "price"},
        {"price.model", "\"barter\"", ERR_INVALID, "price.model"},
        {"price.currency", "\"RMB\"", ERR_INVALID, "price.currency"},
        {"price.amount", "0", ERR_INVALID, "price.amount"},
        {"price.amount", "1000000000000001", ERR_INVALID, "price.amount"},
        {"price.amount", "\"5\"", ERR_INVALID, "price.amount"},
        {"price.ask", "5", ERR_INVALID, "price.ask"},
        {"terms.purpose", "\" \"", ERR_INVALID, "terms.purpose"},
        {"terms.term_days", "0", ERR_INVALID, "terms.term_days"},
        {"terms.territory", "[\"cn\"]", ERR_INVALID, "terms.territory"},
        {"terms.territory", "[\"CN\", \"CN\"]", ERR_INVALID, "terms.territory"},
        {"terms.territory", "\"worldwide\"", ERR_FORBIDDEN, "board"},
        {"terms.territory", "[\"CN\", \"DE\"]", ERR_FORBIDDEN, "board"},
        {"terms.redistribution", "\"resell\"", ERR_INVALID, "terms.redistribution"},
        {"terms.exclusive", "\"no\"", ERR_INVALID, "terms.exclusive"},
        {"terms.delivery", "[\"api\", \"api\"]", ERR_INVALID, "terms.delivery"},
        {"terms.delivery", "[\"fax\"]", ERR_INVALID, "terms.delivery"},
        {"buyers", "[]", ERR_INVALID, "buyers"},
        {"buyers", "[\"ent_00000000000000000000\"]", ERR_NOT_FOUND, "buyers[0]"},
    };
    int64_t before = event_count(f);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        json_t *b = listing_body(rev, 500000);
        json_t *target = b;
        const char *member = cases[i].member;
        if (strncmp(member, "price.", 6) == 0 || strncmp(member, "terms.", 6) == 0) {
            target = json_object_get(b, strncmp(member, "price.", 6) == 0 ? "price" : "terms");
            member += 6;
        }
        if (cases[i].value == NULL) {
            json_object_del(target, member);
        } else {
            set_json(target, member, cases[i].value);
        }
        struct store_listing l;
        size_t m = 0;
        struct errbuf err;
        errbuf_init(&err);
        enum err rc = core_listing_create(&f->m.core, &prov.who, b, &l, &m, &err);
        json_decref(b);
        if (rc != cases[i].expect ||
            (cases[i].field != NULL && strcmp(err.field, cases[i].field) != 0)) {
            fail_msg("case %zu (%s): got %s field '%s' (%s)", i, cases[i].member, err_name(rc),
                     err.field, err.msg);
        }
        assert_int_equal(event_count(f), before);
        assert_int_equal(store_tx_depth(f->m.core.store), 0);
    }
    /* Who may list, and what. */
    struct store_listing l;
    size_t m = 0;
    struct errbuf err;
    errbuf_init(&err);
    json_t *b = listing_body(rev, 500000);
    expect(core_listing_create(&f->m.core, &nocert.who, b, &l, &m, &err), ERR_FORBIDDEN, &err, "");
    expect(core_listing_create(&f->m.core, &bank.who, b, &l, &m, &err), ERR_FORBIDDEN, &err, "");
    json_decref(b);
    b = listing_body(bare, 500000);
    expect(core_listing_create(&f->m.core, &prov.who, b, &l, &m, &err), ERR_BAD_STATE, &err,
           "revision_id");
    assert_non_null(strstr(err.msg, "missing right operation, assessment compliance"));
    json_decref(b);
    b = listing_body(rev, 500000);
    set_json(json_object_get(b, "price"), "model", "\"auction\"");
    set_json(json_object_get(b, "price"), "reserve", "100");
    json_object_del(json_object_get(b, "price"), "amount");
    set_json(json_object_get(b, "price"), "deadline", "\"2026-12-01T00:00:00Z\"");
    expect(core_listing_create(&f->m.core, &prov.who, b, &l, &m, &err), ERR_INVALID, &err,
           "terms.exclusive");
    set_json(json_object_get(b, "terms"), "exclusive", "true");
    set_json(json_object_get(b, "price"), "deadline", "\"2026-11-01T00:00:00Z\"");
    expect(core_listing_create(&f->m.core, &prov.who, b, &l, &m, &err), ERR_INVALID, &err,
           "price.deadline");
    json_decref(b);
    assert_int_equal(event_count(f), before);
    /* A good one: one event, whose index is the search document's id. */
    market_list(&f->m, &prov, listing_body(rev, 500000), &l, NULL);
    assert_int_equal(event_count(f), before + 1);
    assert_int_equal(l.log_index, before);
    assert_int_equal(l.docid, l.log_index);
    assert_string_equal(l.status, "active");
    assert_string_equal(l.price_json,
                        "{\"amount\":500000,\"currency\":\"CNY\",\"model\":\"fixed\"}");
    assert_int_equal(l.price, 500000);
    store_listing_release(&l);
    b = listing_body(rev, 400000);
    expect(core_listing_create(&f->m.core, &prov.who, b, &l, &m, &err), ERR_CONFLICT, &err,
           "revision_id");
    json_decref(b);
    assert_int_equal(event_count(f), before + 1);
}

static void test_catalogue__cross_border_and_private_offers(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, bank, other;
    market_party_new(&f->m, "provider", "DE", border_certs, NULL, &prov);
    market_party_new(&f->m, "buyer", "DE", buyer_certs, NULL, &bank);
    market_party_new(&f->m, "buyer", "DE", buyer_certs, NULL, &other);
    struct store_product p;
    char rev[ID_MAX];
    product_new(f, &prov, "全球专利数据 Global patents", "patents", "dataset", "USPTO, EPO", 1, &p,
                rev);
    json_t *b = listing_body(rev, 500000);
    set_json(b, "board", "\"international\"");
    set_json(json_object_get(b, "terms"), "territory", "\"worldwide\"");
    struct store_listing l, got;
    market_list(&f->m, &prov, b, &l, NULL);
    assert_string_equal(l.board, "international");
    store_listing_release(&l);
    /* A private offer: its buyer and the provider see it; another buyer, an anonymous caller
     * (whose all-zero principal must not read as the operator) do not. */
    b = listing_body(rev, 300000);
    json_object_set_new(b, "buyers", json_pack("[s]", bank.who.id));
    market_list(&f->m, &prov, b, &l, NULL);
    assert_int_equal(l.private_offer, 1);
    struct core_principal anonymous;
    memset(&anonymous, 0, sizeof(anonymous));
    assert_int_equal(core_listing_get(&f->m.core, &bank.who, l.id, &got, NULL), ERR_OK);
    store_listing_release(&got);
    assert_int_equal(core_listing_get(&f->m.core, &other.who, l.id, &got, NULL), ERR_NOT_FOUND);
    assert_int_equal(core_listing_get(&f->m.core, &anonymous, l.id, &got, NULL), ERR_NOT_FOUND);
    assert_false(core_listing_owner_view(&anonymous, &l));
    assert_true(core_listing_owner_view(&prov.who, &l));
    assert_false(core_listing_owner_view(&bank.who, &l));
    struct core_listing_search s = {.q = "专利", .price_min = -1, .price_max = -1, .limit = 10};
    struct store_listing_results r;
    assert_int_equal(core_listing_search(&f->m.core, &anonymous, &s, &r, NULL), ERR_OK);
    assert_int_equal(r.total, 1);
    store_listing_results_release(&r);
    assert_int_equal(core_listing_search(&f->m.core, &bank.who, &s, &r, NULL), ERR_OK);
    assert_int_equal(r.total, 2);
    store_listing_results_release(&r);
    /* The log carries hashes of a private offer, not its terms or buyers. */
    struct store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(store_event_range(f->m.core.store, l.log_index, 1, &ev, &n, NULL), ERR_OK);
    assert_non_null(strstr(ev[0].leaf, "\"buyers_sha256\""));
    assert_null(strstr(ev[0].leaf, bank.who.id));
    assert_null(strstr(ev[0].leaf, "300000"));
    store_event_release(&ev[0]);
    mem_free(ev);
    /* Delisting: its provider, once; the record stays. */
    struct errbuf err;
    errbuf_init(&err);
    expect(core_listing_delist(&f->m.core, &bank.who, l.id, NULL, &got, &err), ERR_FORBIDDEN, &err,
           "id");
    expect(core_listing_delist(&f->m.core, &prov.who, l.id, "更新 update", &got, &err), ERR_OK,
           &err, NULL);
    assert_string_equal(got.status, "delisted");
    store_listing_release(&got);
    expect(core_listing_delist(&f->m.core, &prov.who, l.id, NULL, &got, &err), ERR_BAD_STATE, &err,
           "id");
    assert_int_equal(core_listing_get(&f->m.core, &bank.who, l.id, &got, NULL), ERR_OK);
    assert_string_equal(got.delist_reason, "更新 update");
    assert_string_equal(got.revision_id, rev);
    store_listing_release(&got);
    store_listing_release(&l);
}

static void test_catalogue__reference_on_listing(void **state)
{
    struct fixture *f = *state;
    struct market_party prov;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    struct store_product p;
    char rev[ID_MAX];
    product_new(f, &prov, "企业用电画像", "energy", "dataset", "企业用电数据", 1, &p, rev);
    json_t *in = json_pack("{s:s, s:{s:i, s:i, s:i, s:i, s:i}}", "currency", "CNY", "cost",
                           "collection", 120000, "processing", 30000, "storage", 10000, "labour",
                           40000, "margin_bp", 2500);
    struct store_pricing_inputs out;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_pricing_inputs_set(&f->m.core, &prov.who, p.id, in, &out, &err), ERR_OK, &err,
           NULL);
    json_decref(in);
    assert_int_equal(out.version, 1);
    struct core_reference *ref = calloc(1, sizeof(*ref));
    expect(core_price_reference(&f->m.core, &prov.who, p.id, NULL, 0, ref, &err), ERR_OK, &err,
           NULL);
    assert_true(ref->ref.corridor_available);
    assert_int_equal(ref->ref.corridor_low, 250000);
    assert_int_equal(ref->ref.corridor_high, 250000);
    assert_string_equal(ref->ref.corridor_basis, "the single method of cost");
    expect(core_price_reference(&f->m.core, &prov.who, p.id, "USD", 0, ref, &err), ERR_OK, &err,
           NULL);
    assert_false(ref->ref.corridor_available); /* the inputs are in CNY */
    free(ref);
    /* 750000 is 3x: not flagged; 750001 is. */
    struct store_listing l;
    market_list(&f->m, &prov, listing_body(rev, 750000), &l, NULL);
    assert_string_equal(l.price_flag, "");
    assert_int_equal(l.ref_low, 250000);
    struct store_listing d;
    assert_int_equal(core_listing_delist(&f->m.core, &prov.who, l.id, NULL, &d, NULL), ERR_OK);
    store_listing_release(&d);
    store_listing_release(&l);
    market_list(&f->m, &prov, listing_body(rev, 750001), &l, NULL);
    assert_string_equal(l.price_flag, "above_reference");
    assert_int_equal(core_listing_delist(&f->m.core, &prov.who, l.id, NULL, &d, NULL), ERR_OK);
    store_listing_release(&d);
    store_listing_release(&l);
    market_list(&f->m, &prov, listing_body(rev, 83333), &l, NULL);
    assert_string_equal(l.price_flag, "below_reference");
    store_listing_release(&l);
}

/* ---- search and matchmaking ---- */

static void test_catalogue__search_and_matchmaking(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, bank, early;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    market_party_new(&f->m, "buyer", "DE", buyer_certs, NULL, &bank);
    market_party_new(&f->m, "buyer", "DE", buyer_certs, NULL, &early);
    struct errbuf err;
    errbuf_init(&err);
    /* A demand posted before the listing that will match it. */
    json_t *dj =
        json_pack("{s:s, s:s, s:s, s:{s:i, s:s}, s:s}", "text", "停车场实时泊位 real-time parking",
                  "category", "transport", "purpose", "导航", "budget", "amount", 100000,
                  "currency", "CNY", "deadline", "2026-12-21T00:00:00Z");
    struct store_demand d;
    size_t matched = 9;
    expect(core_demand_post(&f->m.core, &early.who, dj, &d, &matched, &err), ERR_OK, &err, NULL);
    assert_int_equal(matched, 0);
    expect(core_demand_post(&f->m.core, &prov.who, dj, &d, &matched, &err), ERR_FORBIDDEN, &err,
           "");
    json_decref(dj);
    struct store_product p;
    char rev[ID_MAX];
    struct store_listing l;
    product_new(f, &prov, "企业用电画像 Enterprise electricity profile", "energy", "dataset",
                "基于用电数据的企业画像", 1, &p, rev);
    market_list(&f->m, &prov, listing_body(rev, 500000), &l, &matched);
    assert_int_equal(matched, 0);
    store_listing_release(&l);
    product_new(f, &prov, "停车场实时泊位接口 Parking API", "transport", "api",
                "上海公共停车场实时空余泊位", 1, &p, rev);
    int64_t before = event_count(f);
    market_list(&f->m, &prov, listing_body(rev, 200000), &l, &matched);
    assert_int_equal(matched, 1);
    assert_int_equal(event_count(f), before + 2); /* listing.created, demand.matched */
    store_listing_release(&l);
    /* Chinese of one, two and four characters, English, and no match. */
    const struct {
        const char *q;
        size_t total;
    } queries[] = {
        {"用电", 1}, {"电", 1},           {"企业用电", 1}, {"ELECTRICITY profile", 1},
        {"泊位", 1}, {"停车 parking", 1}, {"猫", 0},       {"credit", 2},
    };
    for (size_t i = 0; i < ARRAY_LEN(queries); i++) {
        struct core_listing_search s = {
            .q = queries[i].q, .price_min = -1, .price_max = -1, .limit = 10};
        struct store_listing_results r;
        expect(core_listing_search(&f->m.core, &bank.who, &s, &r, &err), ERR_OK, &err, NULL);
        if (r.total != queries[i].total) {
            fail_msg("'%s': %zu matches, wanted %zu", queries[i].q, r.total, queries[i].total);
        }
        store_listing_results_release(&r);
    }
    struct core_listing_search bad = {.q = "x", .price_min = 5, .price_max = -1, .limit = 10};
    struct store_listing_results r;
    expect(core_listing_search(&f->m.core, &bank.who, &bad, &r, &err), ERR_INVALID, &err,
           "currency");
    /* The bank's demand matches the electricity listing; both sides are told. */
    dj = json_pack("{s:s, s:s, s:s, s:{s:i, s:s}, s:s}", "text", "企业用电数据 贷款审批",
                   "category", "energy", "purpose", "贷款", "budget", "amount", 100000, "currency",
                   "CNY", "deadline", "2026-12-21T00:00:00Z");
    expect(core_demand_post(&f->m.core, &bank.who, dj, &d, &matched, &err), ERR_OK, &err, NULL);
    json_decref(dj);
    assert_int_equal(matched, 1);
    struct store_notification_page page;
    expect(core_inbox_list(&f->m.core, &bank.who, "unread", NULL, 10, &page, &err), ERR_OK, &err,
           NULL);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.items[0].type, "demand.match");
    char ntf[ID_MAX];
    snprintf(ntf, sizeof(ntf), "%s", page.items[0].id);
    store_notification_page_release(&page);
    struct store_notification n;
    expect(core_inbox_read(&f->m.core, &prov.who, ntf, &n, &err), ERR_NOT_FOUND, &err, "id");
    expect(core_inbox_read(&f->m.core, &bank.who, ntf, &n, &err), ERR_OK, &err, NULL);
    assert_true(n.read_ms > 0);
    expect(core_inbox_list(&f->m.core, &bank.who, "unread", NULL, 10, &page, &err), ERR_OK, &err,
           NULL);
    assert_int_equal(page.count, 0);
    assert_int_equal(page.unread, 0);
    store_notification_page_release(&page);
    expect(core_inbox_list(&f->m.core, &prov.who, NULL, NULL, 10, &page, &err), ERR_OK, &err, NULL);
    assert_int_equal(page.count, 2); /* two listings matched, one demand each */
    store_notification_page_release(&page);
    /* A demand longer than a search query still matches, on its first fragments. */
    char text[1600] = "企业用电画像";
    for (size_t used = strlen(text); used + 12 < 1200; used += 12) {
        memcpy(text + used, "，长描述", 13); /* 4 characters, 12 bytes, and the NUL */
    }
    dj = json_pack("{s:s, s:s, s:s, s:{s:i, s:s}, s:s}", "text", text, "category", "energy",
                   "purpose", "贷款", "budget", "amount", 100000, "currency", "CNY", "deadline",
                   "2026-12-21T00:00:00Z");
    struct store_demand long_demand;
    expect(core_demand_post(&f->m.core, &early.who, dj, &long_demand, &matched, &err), ERR_OK, &err,
           NULL);
    json_decref(dj);
    assert_int_equal(matched, 1);
    /* Closing. */
    expect(core_demand_close(&f->m.core, &early.who, d.id, NULL, &d, &err), ERR_FORBIDDEN, &err,
           "id");
    expect(core_demand_close(&f->m.core, &bank.who, d.id, "买到了", &d, &err), ERR_OK, &err, NULL);
    assert_string_equal(d.status, "closed");
    expect(core_demand_close(&f->m.core, &bank.who, d.id, NULL, &d, &err), ERR_BAD_STATE, &err,
           "id");
}

static void test_catalogue__allocation_failures(void **state)
{
    struct fixture *f = *state;
    struct market_party prov;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    struct store_product p;
    char rev[ID_MAX];
    product_new(f, &prov, "企业用电画像", "energy", "dataset", "企业用电数据", 1, &p, rev);
    int64_t before = event_count(f);
    long n = 1;
    for (; n < 10000; n++) {
        json_t *b = listing_body(rev, 500000);
        struct store_listing l;
        size_t m = 0;
        mem_fail_after(n);
        enum err rc = core_listing_create(&f->m.core, &prov.who, b, &l, &m, NULL);
        mem_fail_after(0);
        json_decref(b);
        if (rc == ERR_OK) {
            store_listing_release(&l);
            break;
        }
        assert_int_equal(rc, ERR_NOMEM);
        assert_int_equal(event_count(f), before);
        assert_int_equal(store_tx_depth(f->m.core.store), 0);
    }
    assert_true(n > 1);
    assert_int_equal(event_count(f), before + 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_catalogue__listing_rules),        T(test_catalogue__cross_border_and_private_offers),
        T(test_catalogue__reference_on_listing), T(test_catalogue__search_and_matchmaking),
        T(test_catalogue__allocation_failures),
    };
#undef T
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests_name("catalogue", tests, NULL, NULL);
}
