/*
 * trade_test.c: the trading half against a real store (in-memory SQLite, or a fresh
 * PostgreSQL database per test when BOURSE_TEST_PG_URL is set) with a fixed clock and a
 * seeded random source: every qualification rule and each refusal (its rule, error and field,
 * and that nothing was written), orders at fixed and tiered prices, negotiations alternating
 * and expiring, sealed-bid second-price auctions (second price, reserve, a single bidder, ties
 * by time, bids hidden until the close, late bids, commitments checked against the revealed
 * amounts), and the exclusivity of a licence given back when its contract is cancelled.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include "market.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define T0 ((int64_t)1795305540000) /* 2026-11-21T19:19:00Z */
#define DAY ((int64_t)86400000)

struct fixture {
    struct market m; /* its firms (quality, compliance, security) registered in CN */
};

/* A refusal by a rule: the error, its field and the rule named. */
static void expect_rule(enum err got, const enum core_trade_rule *rule, enum err want,
                        enum core_trade_rule want_rule, const struct errbuf *err, const char *field)
{
    expect(got, want, err, field);
    if (*rule != want_rule) {
        fail_msg("rule '%s', wanted '%s' (%s)", core_trade_rule_name(*rule),
                 core_trade_rule_name(want_rule), err->msg);
    }
}

static int64_t event_count(struct fixture *f)
{
    int64_t n = -1;
    assert_int_equal(store_event_count(f->m.core.store, &n, NULL), ERR_OK);
    return n;
}

static int64_t order_count(struct fixture *f)
{
    int64_t n = -1;
    assert_int_equal(store_order_count(f->m.core.store, &n, NULL), ERR_OK);
    return n;
}

/* What a refused request must leave alone. */
struct snapshot {
    int64_t events;
    int64_t orders;
};

static struct snapshot snap(struct fixture *f)
{
    struct snapshot s = {event_count(f), order_count(f)};
    assert_int_equal(store_tx_depth(f->m.core.store), 0);
    return s;
}

static void unchanged(struct fixture *f, struct snapshot before)
{
    struct snapshot now = snap(f);
    assert_int_equal(now.events, before.events);
    assert_int_equal(now.orders, before.orders);
}

/* The leaf of event seq (caller frees with mem_free). */
static char *leaf_of(struct fixture *f, int64_t seq)
{
    struct store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(store_event_range(f->m.core.store, seq, 1, &ev, &n, NULL), ERR_OK);
    assert_int_equal(n, 1);
    char *leaf = mem_strdup(ev[0].leaf);
    store_event_release(&ev[0]);
    mem_free(ev);
    return leaf;
}

static const char *const seller_certs[] = {"data_provider", NULL};
static const char *const buyer_certs[] = {"trading", NULL};
static const char *const border_certs[] = {"trading", "cross_border", NULL};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    market_open(&f->m, "trade", T0);
    market_firms_new(&f->m, "CN", 1);
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

/* ---- a market ---- */

/* A listable product of the given sensitivity ("general", "important"); its revision in rev. */
static void product_new(struct fixture *f, const struct market_party *prov, const char *title,
                        const char *sensitivity, char rev[ID_MAX])
{
    struct market_product spec = {
        .title = title,
        .description = "企业用电画像 electricity profile",
        .sensitivity = sensitivity,
    };
    market_product_new(&f->m, prov, &spec, 1, NULL, rev);
}

/* Lists rev with a price model (JSON text) and exclusivity; extra (JSON object text or NULL)
 * is merged into the body. The listing's id goes to id. */
static void list(struct fixture *f, const struct market_party *prov, const char *rev,
                 const char *price, int exclusive, const char *extra, char id[ID_MAX])
{
    struct market_terms t = {.price = price, .exclusive = exclusive};
    json_t *b = market_listing_body(rev, &t);
    if (extra != NULL) {
        json_t *x = json_loads(extra, 0, NULL);
        assert_non_null(x);
        json_object_update(b, x);
        json_decref(x);
    }
    struct store_listing l;
    market_list(&f->m, prov, b, &l, NULL);
    snprintf(id, ID_MAX, "%s", l.id);
    store_listing_release(&l);
}

#define FIXED "{\"model\":\"fixed\",\"currency\":\"CNY\",\"amount\":500000}"

static void order_ok(struct fixture *f, const struct market_party *buyer, const char *listing,
                     struct store_order *o)
{
    struct core_order_request r = {listing, NULL, 0, -1, NULL};
    struct errbuf err;
    errbuf_init(&err);
    enum core_trade_rule rule = CORE_RULE__COUNT;
    expect(core_order_place(&f->m.core, &buyer->who, &r, o, &rule, &err), ERR_OK, &err, NULL);
    assert_int_equal(rule, CORE_RULE_NONE);
}

/* ---- orders and the rules ---- */

static void test_trade__order_at_the_listed_price(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, bank;
    market_party_new(&f->m, "provider", "CN", seller_certs, NULL, &prov);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &bank);
    char rev[ID_MAX], lst[ID_MAX];
    product_new(f, &prov, "企业用电画像", "general", rev);
    list(f, &prov, rev, FIXED, 0, NULL, lst);
    struct errbuf err;
    errbuf_init(&err);
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct store_order o;
    /* What the buyer states must be what is listed; each refusal changes nothing. */
    struct {
        struct core_order_request r;
        enum err want;
        enum core_trade_rule rule;
        const char *field;
    } cases[] = {
        {{lst, NULL, 0, 499999, NULL}, ERR_INVALID, CORE_RULE_PRICE_OUTSIDE_TERMS, "price"},
        {{lst, NULL, 0, -1, "USD"}, ERR_INVALID, CORE_RULE_PRICE_OUTSIDE_TERMS, "currency"},
        {{lst, "basic", 0, -1, NULL}, ERR_INVALID, CORE_RULE_NONE, "tier"},
        {{lst, NULL, 2, -1, NULL}, ERR_INVALID, CORE_RULE_NONE, "periods"},
        {{"lst_00000000000000000000", NULL, 0, -1, NULL},
         ERR_NOT_FOUND,
         CORE_RULE_NONE,
         "listing_id"},
        {{"prd_00000000000000000000", NULL, 0, -1, NULL},
         ERR_INVALID,
         CORE_RULE_NONE,
         "listing_id"},
        {{NULL, NULL, 0, -1, NULL}, ERR_INVALID, CORE_RULE_NONE, "listing_id"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct snapshot before = snap(f);
        rule = CORE_RULE_NONE;
        enum err rc = core_order_place(&f->m.core, &bank.who, &cases[i].r, &o, &rule, &err);
        expect_rule(rc, &rule, cases[i].want, cases[i].rule, &err, cases[i].field);
        unchanged(f, before);
    }
    /* The order, at 500000, and its contract proposed in the same transaction. */
    int64_t before = event_count(f);
    struct core_order_request r = {lst, NULL, 0, 500000, "CNY"};
    expect(core_order_place(&f->m.core, &bank.who, &r, &o, &rule, &err), ERR_OK, &err, NULL);
    assert_int_equal(o.price, 500000);
    assert_int_equal(o.periods, 1);
    assert_string_equal(o.source, "order");
    assert_string_equal(o.buyer_id, bank.who.id);
    assert_string_equal(o.provider_id, prov.who.id);
    assert_true(id_valid(o.contract_id, "ctr"));
    assert_int_equal(event_count(f), before + 2); /* contract.proposed, order.placed */
    struct store_contract *k = calloc(1, sizeof(*k));
    assert_int_equal(core_contract_get(&f->m.core, &bank.who, o.contract_id, k, NULL), ERR_OK);
    assert_string_equal(k->state, "proposed");
    assert_int_equal(k->price, 500000);
    assert_string_equal(k->origin, "order");
    free(k);
    char *leaf = leaf_of(f, o.log_index);
    assert_non_null(strstr(leaf, "\"order.placed\""));
    assert_non_null(strstr(leaf, "\"price\":500000"));
    mem_free(leaf);
    /* Non-exclusive: a second order is a second licence. Seen by its parties only. */
    struct store_order again, got;
    order_ok(f, &bank, lst, &again);
    assert_string_not_equal(again.contract_id, o.contract_id);
    assert_int_equal(core_order_get(&f->m.core, &prov.who, o.id, &got, NULL), ERR_OK);
    assert_int_equal(core_order_get(&f->m.core, &f->m.operator, o.id, &got, NULL), ERR_OK);
    struct market_party other;
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &other);
    assert_int_equal(core_order_get(&f->m.core, &other.who, o.id, &got, NULL), ERR_NOT_FOUND);
    struct store_order_filter filter = {NULL, NULL, NULL, 10};
    struct store_order_page page;
    assert_int_equal(core_order_list(&f->m.core, &other.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 0);
    store_order_page_release(&page);
    filter.limit = 1;
    assert_int_equal(core_order_list(&f->m.core, &bank.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.items[0].id, again.id);
    char cursor[STORE_CURSOR_MAX];
    snprintf(cursor, sizeof(cursor), "%s", page.next_cursor);
    store_order_page_release(&page);
    filter.cursor = cursor;
    assert_int_equal(core_order_list(&f->m.core, &bank.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.items[0].id, o.id);
    assert_string_equal(page.next_cursor, "");
    store_order_page_release(&page);
}

static void test_trade__qualification(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, nocert, abroad, abroad_border, border_cn, bank, firm;
    market_party_new(&f->m, "provider", "CN",
                     (const char *const[]){"data_provider", "trading", "cross_border", NULL}, NULL,
                     &prov);
    market_party_new(&f->m, "buyer", "CN", NULL, NULL, &nocert);
    market_party_new(&f->m, "buyer", "DE", buyer_certs, NULL, &abroad);
    market_party_new(&f->m, "buyer", "DE", border_certs, NULL, &abroad_border);
    market_party_new(&f->m, "buyer", "CN", border_certs, NULL, &border_cn);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &bank);
    firm = f->m.quality;
    char rev[ID_MAX], important[ID_MAX], intl_rev[ID_MAX];
    char lst[ID_MAX], imp_lst[ID_MAX], intl[ID_MAX], priv[ID_MAX];
    product_new(f, &prov, "企业用电画像", "general", rev);
    product_new(f, &prov, "电网负荷 Grid load", "important", important);
    product_new(f, &prov, "全球专利 Global patents", "general", intl_rev);
    list(f, &prov, rev, FIXED, 0, NULL, lst);
    list(f, &prov, important, FIXED, 0, NULL, imp_lst);
    list(f, &prov, intl_rev, FIXED, 0,
         "{\"board\":\"international\",\"terms\":{\"purpose\":\"patents\",\"term_days\":365,"
         "\"territory\":\"worldwide\",\"redistribution\":\"none\",\"exclusive\":false,"
         "\"delivery\":[\"file\"]}}",
         intl);
    char extra[128];
    snprintf(extra, sizeof(extra), "{\"buyers\":[\"%s\"]}", bank.who.id);
    list(f, &prov, rev, "{\"model\":\"fixed\",\"currency\":\"CNY\",\"amount\":300000}", 0, extra,
         priv);
    struct core_principal unverified = bank.who;
    unverified.status = CORE_STATUS_SUSPENDED;
    struct {
        const struct core_principal *who;
        const char *listing;
        enum err want;
        enum core_trade_rule rule;
        const char *field;
    } cases[] = {
        {&nocert.who, lst, ERR_FORBIDDEN, CORE_RULE_NOT_QUALIFIED, "buyer"},
        {&unverified, lst, ERR_FORBIDDEN, CORE_RULE_NOT_QUALIFIED, "buyer"},
        {&firm.who, lst, ERR_FORBIDDEN, CORE_RULE_NOT_QUALIFIED, "buyer"},
        {&f->m.operator, lst, ERR_FORBIDDEN, CORE_RULE_NOT_QUALIFIED, "buyer"},
        {&abroad.who, lst, ERR_FORBIDDEN, CORE_RULE_NOT_QUALIFIED, "buyer"},
        {&bank.who, intl, ERR_FORBIDDEN, CORE_RULE_NOT_QUALIFIED, "buyer"},
        {&abroad_border.who, imp_lst, ERR_FORBIDDEN, CORE_RULE_CLASSIFICATION, "listing_id"},
        {&prov.who, lst, ERR_FORBIDDEN, CORE_RULE_SELF_TRADE, "listing_id"},
        {&border_cn.who, priv, ERR_FORBIDDEN, CORE_RULE_PRIVATE_OFFER, "listing_id"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct snapshot before = snap(f);
        struct core_order_request r = {cases[i].listing, NULL, 0, -1, NULL};
        struct store_order o;
        struct errbuf err;
        errbuf_init(&err);
        enum core_trade_rule rule = CORE_RULE_NONE;
        enum err rc = core_order_place(&f->m.core, cases[i].who, &r, &o, &rule, &err);
        if (rc != cases[i].want || rule != cases[i].rule || strcmp(err.field, cases[i].field)) {
            fail_msg("case %zu: got %s '%s' field '%s' (%s)", i, err_name(rc),
                     core_trade_rule_name(rule), err.field, err.msg);
        }
        unchanged(f, before);
    }
    /* Who qualifies: abroad with a cross_border certificate for general data; at home with
     * one on the international board; the named buyer of a private offer. */
    struct store_order o;
    order_ok(f, &abroad_border, lst, &o);
    order_ok(f, &border_cn, intl, &o);
    order_ok(f, &bank, priv, &o);
    /* Important data goes abroad once the revision passed a cross_border assessment. */
    market_assess(&f->m, &prov, important, "cross_border", &f->m.security);
    order_ok(f, &abroad_border, imp_lst, &o);
    /* A revoked trading certificate disqualifies. */
    struct store_cert *certs = NULL;
    size_t n = 0;
    assert_int_equal(store_cert_list(f->m.core.store, bank.who.id, &certs, &n, NULL), ERR_OK);
    assert_int_equal(n, 1);
    struct store_cert revoked;
    assert_int_equal(core_cert_revoke(&f->m.core, &f->m.operator, bank.who.id, certs[0].id,
                                      "lapsed", &revoked, NULL),
                     ERR_OK);
    mem_free(certs);
    struct snapshot before = snap(f);
    struct core_order_request r = {lst, NULL, 0, -1, NULL};
    struct errbuf err;
    errbuf_init(&err);
    enum core_trade_rule rule = CORE_RULE_NONE;
    expect_rule(core_order_place(&f->m.core, &bank.who, &r, &o, &rule, &err), &rule, ERR_FORBIDDEN,
                CORE_RULE_NOT_QUALIFIED, &err, "buyer");
    unchanged(f, before);
    /* A delisted listing is not traded. */
    struct store_listing l;
    assert_int_equal(core_listing_delist(&f->m.core, &prov.who, lst, NULL, &l, NULL), ERR_OK);
    store_listing_release(&l);
    before = snap(f);
    expect(core_order_place(&f->m.core, &abroad_border.who, &r, &o, &rule, &err), ERR_BAD_STATE,
           &err, "listing_id");
    unchanged(f, before);
}

static void test_trade__subscription_tiers(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, bank;
    market_party_new(&f->m, "provider", "CN", seller_certs, NULL, &prov);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &bank);
    char rev[ID_MAX], lst[ID_MAX];
    product_new(f, &prov, "人脸比对 Face comparison", "general", rev);
    list(f, &prov, rev,
         "{\"model\":\"subscription\",\"currency\":\"CNY\",\"period\":\"month\",\"tiers\":["
         "{\"name\":\"basic\",\"qps\":5,\"price\":300000},"
         "{\"name\":\"pro\",\"qps\":50,\"price\":1900000}]}",
         0, NULL, lst);
    struct errbuf err;
    errbuf_init(&err);
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct store_order o;
    struct snapshot before = snap(f);
    struct core_order_request r = {lst, NULL, 0, -1, NULL};
    expect(core_order_place(&f->m.core, &bank.who, &r, &o, &rule, &err), ERR_INVALID, &err, "tier");
    r.tier = "platinum";
    expect(core_order_place(&f->m.core, &bank.who, &r, &o, &rule, &err), ERR_INVALID, &err, "tier");
    r.tier = "pro";
    r.periods = CORE_CONTRACT_PERIODS_MAX + 1;
    expect(core_order_place(&f->m.core, &bank.who, &r, &o, &rule, &err), ERR_INVALID, &err,
           "periods");
    r.periods = 3;
    r.price = 1900000; /* one period's price is not the whole */
    expect_rule(core_order_place(&f->m.core, &bank.who, &r, &o, &rule, &err), &rule, ERR_INVALID,
                CORE_RULE_PRICE_OUTSIDE_TERMS, &err, "price");
    unchanged(f, before);
    r.price = 5700000;
    expect(core_order_place(&f->m.core, &bank.who, &r, &o, &rule, &err), ERR_OK, &err, NULL);
    assert_string_equal(o.tier, "pro");
    assert_int_equal(o.unit_price, 1900000);
    assert_int_equal(o.periods, 3);
    assert_int_equal(o.price, 5700000);
    /* Without periods: the licence term, 365 days, is 13 months of 30 days. */
    struct core_order_request whole = {lst, "basic", 0, -1, NULL};
    expect(core_order_place(&f->m.core, &bank.who, &whole, &o, &rule, &err), ERR_OK, &err, NULL);
    assert_int_equal(o.periods, 13);
    assert_int_equal(o.price, 13 * 300000);
}

static void test_trade__exclusive_licence_sold_once(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, a, b;
    market_party_new(&f->m, "provider", "CN", seller_certs, NULL, &prov);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &a);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &b);
    char rev[ID_MAX], lst[ID_MAX];
    product_new(f, &prov, "独家 Exclusive", "general", rev);
    list(f, &prov, rev, FIXED, 1, NULL, lst);
    struct store_order first, o;
    order_ok(f, &a, lst, &first);
    assert_int_equal(first.exclusive, 1);
    struct errbuf err;
    errbuf_init(&err);
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct core_order_request r = {lst, NULL, 0, -1, NULL};
    for (int i = 0; i < 2; i++) { /* the holder itself cannot buy it twice either */
        struct snapshot before = snap(f);
        expect_rule(core_order_place(&f->m.core, i == 0 ? &b.who : &a.who, &r, &o, &rule, &err),
                    &rule, ERR_CONFLICT, CORE_RULE_EXCLUSIVITY_SOLD, &err, "listing_id");
        unchanged(f, before);
    }
    /* The store refuses a second holder even if a rule were skipped. */
    struct store_order dup = first;
    snprintf(dup.id, sizeof(dup.id), "ord_00000000000000000000");
    assert_int_equal(store_tx_begin(f->m.core.store, NULL), ERR_OK);
    assert_int_equal(store_order_insert(f->m.core.store, &dup, &err), ERR_CONFLICT);
    store_tx_rollback(f->m.core.store);
    /* Cancelling the holder's contract gives the exclusivity back. */
    struct store_contract *k = calloc(1, sizeof(*k));
    expect(core_contract_cancel(&f->m.core, &a.who, first.contract_id, "changed plans", k, &err),
           ERR_OK, &err, NULL);
    free(k);
    int64_t before = event_count(f);
    order_ok(f, &b, lst, &o);
    assert_int_equal(o.exclusive, 1);
    char *leaf = leaf_of(f, before);
    assert_non_null(strstr(leaf, "\"order.exclusivity_released\""));
    assert_non_null(strstr(leaf, first.id));
    mem_free(leaf);
    struct store_order holder;
    int found = 0;
    assert_int_equal(store_order_exclusive_holder(f->m.core.store, lst, &holder, &found, NULL),
                     ERR_OK);
    assert_true(found);
    assert_string_equal(holder.id, o.id);
}

/* ---- negotiations ---- */

#define NEGOTIABLE                                                                                 \
    "{\"model\":\"negotiable\",\"currency\":\"CNY\",\"ask\":1000000,\"floor\":700000}"

static void test_trade__negotiation_alternates(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, bank, other;
    market_party_new(&f->m, "provider", "CN", seller_certs, NULL, &prov);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &bank);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &other);
    char rev[ID_MAX], lst[ID_MAX];
    product_new(f, &prov, "智慧停车 Smart parking", "general", rev);
    list(f, &prov, rev, NEGOTIABLE, 0, NULL, lst);
    struct errbuf err;
    errbuf_init(&err);
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct store_negotiation n, got;
    struct store_order o;
    /* Offers outside [floor, ask], or in another currency; an order at no price. */
    struct {
        int64_t price;
        const char *currency;
        int64_t term_days;
        enum err want;
        enum core_trade_rule rule;
        const char *field;
    } bad[] = {
        {699999, NULL, 0, ERR_INVALID, CORE_RULE_PRICE_OUTSIDE_TERMS, "price"},
        {1000001, NULL, 0, ERR_INVALID, CORE_RULE_PRICE_OUTSIDE_TERMS, "price"},
        {800000, "USD", 0, ERR_INVALID, CORE_RULE_PRICE_OUTSIDE_TERMS, "currency"},
        {800000, NULL, CORE_TERM_DAYS_MAX + 1, ERR_INVALID, CORE_RULE_NONE, "terms.term_days"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct snapshot before = snap(f);
        struct core_offer o1 = {bad[i].price, bad[i].currency, NULL, bad[i].term_days};
        rule = CORE_RULE_NONE;
        expect_rule(core_negotiation_open(&f->m.core, &bank.who, lst, &o1, 0, &n, &rule, &err),
                    &rule, bad[i].want, bad[i].rule, &err, bad[i].field);
        assert_null(strstr(err.msg, "700000")); /* the floor stays the provider's secret */
        unchanged(f, before);
    }
    struct core_offer o1 = {750000, "CNY", NULL, 0};
    expect(core_negotiation_open(&f->m.core, &bank.who, lst, &o1, 10, &n, &rule, &err), ERR_INVALID,
           &err, "expires_in");
    struct core_order_request r = {lst, NULL, 0, -1, NULL};
    expect_rule(core_order_place(&f->m.core, &bank.who, &r, &o, &rule, &err), &rule, ERR_INVALID,
                CORE_RULE_PRICE_OUTSIDE_TERMS, &err, "listing_id");
    /* Buyer 750000; the buyer cannot counter itself, nor accept its own offer. */
    expect(core_negotiation_open(&f->m.core, &bank.who, lst, &o1, 0, &n, &rule, &err), ERR_OK, &err,
           NULL);
    assert_string_equal(n.status, "open");
    assert_int_equal(n.offers, 1);
    char *leaf = leaf_of(f, n.log_index);
    assert_non_null(strstr(leaf, "\"negotiation.opened\""));
    assert_null(strstr(leaf, "750000")); /* the log shows the steps, not the prices */
    mem_free(leaf);
    struct snapshot before = snap(f);
    struct core_offer o2 = {800000, NULL, NULL, 0};
    expect(core_negotiation_offer(&f->m.core, &bank.who, n.id, &o2, &got, &rule, &err),
           ERR_BAD_STATE, &err, "id");
    expect(core_negotiation_accept(&f->m.core, &bank.who, n.id, &got, &o, &rule, &err),
           ERR_BAD_STATE, &err, "id");
    expect(core_negotiation_offer(&f->m.core, &other.who, n.id, &o2, &got, &rule, &err),
           ERR_NOT_FOUND, &err, "id");
    unchanged(f, before);
    /* The provider counters at 900000 with a shorter term; then the buyer at 850000. */
    struct core_offer o3 = {900000, NULL, NULL, 180};
    expect(core_negotiation_offer(&f->m.core, &prov.who, n.id, &o3, &got, &rule, &err), ERR_OK,
           &err, NULL);
    assert_int_equal(got.offers, 2);
    assert_string_equal(got.last_by, prov.who.id);
    assert_non_null(strstr(got.terms, "\"term_days\":180"));
    expect(core_negotiation_accept(&f->m.core, &prov.who, n.id, &got, &o, &rule, &err),
           ERR_BAD_STATE, &err, "id");
    struct core_offer o4 = {850000, NULL, "贷后管理 loan monitoring", 0};
    expect(core_negotiation_offer(&f->m.core, &bank.who, n.id, &o4, &got, &rule, &err), ERR_OK,
           &err, NULL);
    assert_non_null(strstr(got.terms, "\"term_days\":180"));
    assert_non_null(strstr(got.terms, "loan monitoring"));
    /* Others do not see it; the operator does. */
    assert_int_equal(core_negotiation_get(&f->m.core, &other.who, n.id, &got, NULL), ERR_NOT_FOUND);
    assert_int_equal(core_negotiation_get(&f->m.core, &f->m.operator, n.id, &got, NULL), ERR_OK);
    struct store_negotiation_filter filter = {NULL, NULL, NULL, 10};
    struct store_negotiation_page page;
    assert_int_equal(core_negotiation_list(&f->m.core, &other.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 0);
    store_negotiation_page_release(&page);
    assert_int_equal(core_negotiation_list(&f->m.core, &prov.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 1);
    store_negotiation_page_release(&page);
    /* The provider accepts: the order at 850000 on the agreed terms. */
    int64_t events = event_count(f);
    expect(core_negotiation_accept(&f->m.core, &prov.who, n.id, &got, &o, &rule, &err), ERR_OK,
           &err, NULL);
    assert_string_equal(got.status, "accepted");
    assert_string_equal(got.order_id, o.id);
    assert_string_equal(o.source, "negotiation");
    assert_string_equal(o.source_id, n.id);
    assert_string_equal(o.buyer_id, bank.who.id);
    assert_int_equal(o.price, 850000);
    assert_non_null(strstr(o.terms, "loan monitoring"));
    assert_int_equal(event_count(f), events + 3); /* contract, order, negotiation.accepted */
    struct store_contract *k = calloc(1, sizeof(*k));
    assert_int_equal(core_contract_get(&f->m.core, &bank.who, o.contract_id, k, NULL), ERR_OK);
    assert_int_equal(k->price, 850000);
    assert_string_equal(k->origin, "negotiation");
    assert_non_null(strstr(k->document, "loan monitoring"));
    free(k);
    struct store_negotiation_offer *offers = NULL;
    size_t count = 0;
    assert_int_equal(core_negotiation_offers(&f->m.core, &bank.who, n.id, &offers, &count, NULL),
                     ERR_OK);
    assert_int_equal(count, 3);
    assert_int_equal(offers[0].price, 750000);
    assert_int_equal(offers[1].price, 900000);
    assert_string_equal(offers[2].by_id, bank.who.id);
    mem_free(offers);
    /* Closed: no more steps. A second negotiation is rejected by the buyer. */
    before = snap(f);
    expect(core_negotiation_offer(&f->m.core, &prov.who, n.id, &o2, &got, &rule, &err),
           ERR_BAD_STATE, &err, "id");
    expect(core_negotiation_reject(&f->m.core, &bank.who, n.id, NULL, &got, &err), ERR_BAD_STATE,
           &err, "id");
    unchanged(f, before);
    expect(core_negotiation_open(&f->m.core, &other.who, lst, &o1, 0, &n, &rule, &err), ERR_OK,
           &err, NULL);
    expect(core_negotiation_reject(&f->m.core, &other.who, n.id, "价格太高 too dear", &got, &err),
           ERR_OK, &err, NULL);
    assert_string_equal(got.status, "rejected");
    assert_string_equal(got.closed_by, other.who.id);
}

static void test_trade__negotiation_expires(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, bank;
    market_party_new(&f->m, "provider", "CN", seller_certs, NULL, &prov);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &bank);
    char rev[ID_MAX], lst[ID_MAX];
    product_new(f, &prov, "智慧停车 Smart parking", "general", rev);
    list(f, &prov, rev, NEGOTIABLE, 0, NULL, lst);
    struct errbuf err;
    errbuf_init(&err);
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct store_negotiation n, got;
    struct core_offer o1 = {800000, NULL, NULL, 0};
    expect(core_negotiation_open(&f->m.core, &bank.who, lst, &o1, 60, &n, &rule, &err), ERR_OK,
           &err, NULL);
    size_t done = 9;
    assert_int_equal(core_trade_sweep(&f->m.core, T0 + 30000, 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 0);
    f->m.clock_state.now_ms += 61000;
    struct snapshot before = snap(f);
    struct core_offer o2 = {900000, NULL, NULL, 0};
    expect(core_negotiation_offer(&f->m.core, &prov.who, n.id, &o2, &got, &rule, &err),
           ERR_BAD_STATE, &err, "id");
    struct store_order o;
    expect(core_negotiation_accept(&f->m.core, &prov.who, n.id, &got, &o, &rule, &err),
           ERR_BAD_STATE, &err, "id");
    unchanged(f, before);
    assert_int_equal(core_trade_sweep(&f->m.core, clock_now(&f->m.clock), 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 1);
    assert_int_equal(core_negotiation_get(&f->m.core, &bank.who, n.id, &got, NULL), ERR_OK);
    assert_string_equal(got.status, "expired");
    assert_string_equal(got.closed_by, "trading");
    char *leaf = leaf_of(f, got.log_index);
    assert_non_null(strstr(leaf, "\"negotiation.expired\""));
    mem_free(leaf);
    assert_int_equal(core_trade_sweep(&f->m.core, clock_now(&f->m.clock), 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 0);
}

/* ---- auctions ---- */

/* An auction listing with reserve, closing in ten days, and its open auction. */
static void auction_new(struct fixture *f, const struct market_party *prov, const char *title,
                        int64_t reserve, char lst[ID_MAX], struct store_auction *a)
{
    char rev[ID_MAX], price[160], deadline[CLOCK_RFC3339_LEN];
    product_new(f, prov, title, "general", rev);
    clock_format_rfc3339(T0 + 10 * DAY, deadline);
    snprintf(price, sizeof(price),
             "{\"model\":\"auction\",\"currency\":\"CNY\",\"reserve\":%lld,\"deadline\":\"%s\"}",
             (long long)reserve, deadline);
    list(f, prov, rev, price, 1, NULL, lst);
    struct errbuf err;
    errbuf_init(&err);
    expect(core_auction_open(&f->m.core, &prov->who, lst, -1, NULL, 0, a, &err), ERR_OK, &err,
           NULL);
    assert_int_equal(a->reserve, reserve);
    assert_int_equal(a->closes_ms, T0 + 10 * DAY);
}

static void bid_ok(struct fixture *f, const struct market_party *p, const char *auction,
                   int64_t amount, struct store_bid *b)
{
    struct errbuf err;
    errbuf_init(&err);
    enum core_trade_rule rule = CORE_RULE_NONE;
    expect(core_auction_bid(&f->m.core, &p->who, auction, amount, b, &rule, &err), ERR_OK, &err,
           NULL);
}

static void past_deadline(struct fixture *f)
{
    if (f->m.clock_state.now_ms < T0 + 10 * DAY) {
        f->m.clock_state.now_ms = T0 + 10 * DAY;
    }
}

/* Checks every commitment in the close event against the amounts and salts it reveals, and
 * that each bid's own event carried that commitment and not the amount. */
static void commitments_verify(struct fixture *f, const struct store_auction *a, size_t bids)
{
    char *leaf = leaf_of(f, a->log_index);
    json_t *ev = json_loads(leaf, 0, NULL);
    mem_free(leaf);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "auction.closed");
    const json_t *revealed = json_object_get(json_object_get(ev, "body"), "bids");
    assert_int_equal(json_array_size(revealed), bids);
    struct store_bid *stored = NULL;
    size_t n = 0;
    assert_int_equal(store_bid_list(f->m.core.store, a->id, NULL, 100, &stored, &n, NULL), ERR_OK);
    assert_int_equal(n, bids);
    for (size_t i = 0; i < bids; i++) {
        const json_t *b = json_array_get(revealed, i);
        char check[STORE_HASH_HEX_MAX];
        core_auction_commitment(json_integer_value(json_object_get(b, "amount")),
                                json_string_value(json_object_get(b, "bidder_id")),
                                json_string_value(json_object_get(b, "salt")), check);
        assert_string_equal(check, json_string_value(json_object_get(b, "commitment")));
        char *bid_leaf = leaf_of(f, stored[i].log_index);
        assert_non_null(strstr(bid_leaf, "\"auction.bid\""));
        assert_non_null(strstr(bid_leaf, check));
        char amount[32];
        snprintf(amount, sizeof(amount), "%lld", (long long)stored[i].amount);
        assert_null(strstr(bid_leaf, amount));
        assert_null(strstr(bid_leaf, stored[i].salt));
        mem_free(bid_leaf);
    }
    mem_free(stored);
    json_decref(ev);
}

static void test_trade__auction_second_price(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, a, b, c, nocert;
    market_party_new(&f->m, "provider", "CN", seller_certs, NULL, &prov);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &a);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &b);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &c);
    market_party_new(&f->m, "buyer", "CN", NULL, NULL, &nocert);
    char lst[ID_MAX];
    struct store_auction auc, got;
    struct errbuf err;
    errbuf_init(&err);
    /* Only the provider opens it, once, as listed. */
    char rev[ID_MAX], price[160], deadline[CLOCK_RFC3339_LEN];
    product_new(f, &prov, "独家 AI 语音 Speech corpus", "general", rev);
    clock_format_rfc3339(T0 + 10 * DAY, deadline);
    snprintf(price, sizeof(price),
             "{\"model\":\"auction\",\"currency\":\"CNY\",\"reserve\":500000,\"deadline\":\"%s\"}",
             deadline);
    list(f, &prov, rev, price, 1, NULL, lst);
    struct snapshot before = snap(f);
    expect(core_auction_open(&f->m.core, &a.who, lst, -1, NULL, 0, &auc, &err), ERR_FORBIDDEN, &err,
           "listing_id");
    expect(core_auction_open(&f->m.core, &prov.who, lst, 400000, NULL, 0, &auc, &err), ERR_INVALID,
           &err, "reserve");
    expect(core_auction_open(&f->m.core, &prov.who, lst, -1, "USD", 0, &auc, &err), ERR_INVALID,
           &err, "currency");
    expect(core_auction_open(&f->m.core, &prov.who, lst, -1, NULL, T0 + DAY, &auc, &err),
           ERR_INVALID, &err, "closes_at");
    unchanged(f, before);
    expect(core_auction_open(&f->m.core, &prov.who, lst, 500000, "CNY", T0 + 10 * DAY, &auc, &err),
           ERR_OK, &err, NULL);
    expect(core_auction_open(&f->m.core, &prov.who, lst, -1, NULL, 0, &got, &err), ERR_CONFLICT,
           &err, "listing_id");
    assert_int_equal(core_auction_for_listing(&f->m.core, &a.who, lst, &got, NULL), ERR_OK);
    assert_string_equal(got.id, auc.id);
    /* Refused bids. */
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct store_bid bid;
    before = snap(f);
    expect_rule(core_auction_bid(&f->m.core, &nocert.who, auc.id, 600000, &bid, &rule, &err), &rule,
                ERR_FORBIDDEN, CORE_RULE_NOT_QUALIFIED, &err, "buyer");
    expect_rule(core_auction_bid(&f->m.core, &prov.who, auc.id, 600000, &bid, &rule, &err), &rule,
                ERR_FORBIDDEN, CORE_RULE_SELF_TRADE, &err, "listing_id");
    expect(core_auction_bid(&f->m.core, &a.who, auc.id, 0, &bid, &rule, &err), ERR_INVALID, &err,
           "amount");
    unchanged(f, before);
    /* A 700000 then 900000; B 800000; C 300000 (under the reserve); A's lower bid refused. */
    struct store_bid ba1, ba2, bb, bc;
    bid_ok(f, &a, auc.id, 700000, &ba1);
    bid_ok(f, &b, auc.id, 800000, &bb);
    bid_ok(f, &c, auc.id, 300000, &bc);
    before = snap(f);
    expect(core_auction_bid(&f->m.core, &a.who, auc.id, 700000, &bid, &rule, &err), ERR_INVALID,
           &err, "amount");
    unchanged(f, before);
    bid_ok(f, &a, auc.id, 900000, &ba2);
    /* Sealed: each bidder sees its own bids only; nobody else any. */
    assert_int_equal(core_auction_get(&f->m.core, &b.who, auc.id, &got, NULL), ERR_OK);
    assert_int_equal(got.bid_count, 4);
    struct store_bid *seen = NULL;
    size_t n = 0;
    assert_int_equal(core_auction_bids(&f->m.core, &b.who, &got, &seen, &n, NULL), ERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(seen[0].amount, 800000);
    mem_free(seen);
    assert_int_equal(core_auction_bids(&f->m.core, &a.who, &got, &seen, &n, NULL), ERR_OK);
    assert_int_equal(n, 2);
    mem_free(seen);
    assert_int_equal(core_auction_bids(&f->m.core, &f->m.operator, & got, &seen, &n, NULL), ERR_OK);
    assert_int_equal(n, 0);
    mem_free(seen);
    assert_int_equal(core_auction_bids(&f->m.core, &prov.who, &got, &seen, &n, NULL), ERR_OK);
    assert_int_equal(n, 0);
    mem_free(seen);
    /* Not closed before the deadline; no bids after it. */
    before = snap(f);
    struct store_order won;
    expect(core_auction_close(&f->m.core, &b.who, auc.id, &got, &won, &err), ERR_BAD_STATE, &err,
           "id");
    past_deadline(f);
    expect(core_auction_bid(&f->m.core, &b.who, auc.id, 2000000, &bid, &rule, &err), ERR_BAD_STATE,
           &err, "id");
    unchanged(f, before);
    /* Closed by anyone: A wins with 900000 and pays B's 800000. */
    expect(core_auction_close(&f->m.core, &c.who, auc.id, &got, &won, &err), ERR_OK, &err, NULL);
    assert_string_equal(got.status, "closed");
    assert_string_equal(got.winner_id, a.who.id);
    assert_string_equal(got.winning_bid_id, ba2.id);
    assert_int_equal(got.clearing_price, 800000);
    assert_string_equal(won.id, got.order_id);
    assert_string_equal(won.source, "auction");
    assert_string_equal(won.buyer_id, a.who.id);
    assert_int_equal(won.price, 800000);
    assert_int_equal(won.exclusive, 1);
    assert_true(id_valid(won.contract_id, "ctr"));
    /* Now every bid shows, and every commitment checks out. */
    assert_int_equal(core_auction_bids(&f->m.core, &b.who, &got, &seen, &n, NULL), ERR_OK);
    assert_int_equal(n, 4);
    mem_free(seen);
    commitments_verify(f, &got, 4);
    expect(core_auction_close(&f->m.core, &c.who, auc.id, &got, &won, &err), ERR_BAD_STATE, &err,
           "id");
    /* The listing's exclusivity is sold. */
    struct store_order holder;
    int found = 0;
    assert_int_equal(store_order_exclusive_holder(f->m.core.store, lst, &holder, &found, NULL),
                     ERR_OK);
    assert_true(found);
    assert_string_equal(holder.id, won.id);
}

static void test_trade__auction_reserve_single_and_ties(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, a, b;
    market_party_new(&f->m, "provider", "CN", seller_certs, NULL, &prov);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &a);
    market_party_new(&f->m, "buyer", "CN", buyer_certs, NULL, &b);
    char alone[ID_MAX], under[ID_MAX], tie[ID_MAX], empty[ID_MAX];
    struct store_auction x, y, z, w, got;
    auction_new(f, &prov, "单人 Alone", 500000, alone, &x);
    auction_new(f, &prov, "流拍 Under reserve", 500000, under, &y);
    auction_new(f, &prov, "平局 Tie", 500000, tie, &z);
    auction_new(f, &prov, "无人 Nobody", 500000, empty, &w);
    struct store_bid b1, b2, b3, b4;
    bid_ok(f, &a, x.id, 2000000, &b1); /* alone: pays the reserve */
    bid_ok(f, &a, y.id, 400000, &b2);  /* under the reserve: no winner */
    bid_ok(f, &b, y.id, 499999, &b3);
    bid_ok(f, &b, z.id, 600000, &b4); /* a tie: the earlier bid, B's, wins at 600000 */
    bid_ok(f, &a, z.id, 600000, &b1);
    past_deadline(f);
    /* The trading clock closes all four. */
    size_t done = 0;
    assert_int_equal(core_trade_sweep(&f->m.core, clock_now(&f->m.clock), 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 4);
    assert_int_equal(core_auction_get(&f->m.core, &a.who, x.id, &got, NULL), ERR_OK);
    assert_string_equal(got.winner_id, a.who.id);
    assert_int_equal(got.clearing_price, 500000);
    assert_string_equal(got.closed_by, "trading");
    commitments_verify(f, &got, 1);
    assert_int_equal(core_auction_get(&f->m.core, &a.who, y.id, &got, NULL), ERR_OK);
    assert_string_equal(got.status, "closed");
    assert_string_equal(got.winner_id, "");
    assert_string_equal(got.order_id, "");
    char *leaf = leaf_of(f, got.log_index);
    assert_non_null(strstr(leaf, "no bid reached the reserve"));
    mem_free(leaf);
    commitments_verify(f, &got, 2);
    assert_int_equal(core_auction_get(&f->m.core, &a.who, z.id, &got, NULL), ERR_OK);
    assert_string_equal(got.winner_id, b.who.id);
    assert_string_equal(got.winning_bid_id, b4.id);
    assert_int_equal(got.clearing_price, 600000);
    assert_int_equal(core_auction_get(&f->m.core, &a.who, w.id, &got, NULL), ERR_OK);
    assert_string_equal(got.status, "closed");
    assert_string_equal(got.winner_id, "");
    /* Nothing left to close. */
    assert_int_equal(core_trade_sweep(&f->m.core, clock_now(&f->m.clock), 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 0);
}

static void test_trade__rule_names(void **state)
{
    (void)state;
    static const char *const want[CORE_RULE__COUNT] = {"",
                                                       "not-qualified",
                                                       "self-trade",
                                                       "private-offer",
                                                       "exclusivity-sold",
                                                       "classification",
                                                       "price-outside-terms"};
    for (int r = 0; r < CORE_RULE__COUNT; r++) {
        assert_string_equal(core_trade_rule_name((enum core_trade_rule)r), want[r]);
    }
    assert_string_equal(core_trade_rule_name(CORE_RULE__COUNT), "");
    /* The commitment is SHA-256 of "<amount>\n<bidder>\n<salt>". */
    char c[STORE_HASH_HEX_MAX], d[STORE_HASH_HEX_MAX];
    core_auction_commitment(800000, "ent_aaaaaaaaaaaaaaaaaaaa", "00112233445566778899aabbccddeeff",
                            c);
    const char *text = "800000\nent_aaaaaaaaaaaaaaaaaaaa\n00112233445566778899aabbccddeeff";
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
    sodium_bin2hex(d, sizeof(d), h, sizeof(h));
    assert_string_equal(c, d);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trade__rule_names),
        T(test_trade__order_at_the_listed_price),
        T(test_trade__qualification),
        T(test_trade__subscription_tiers),
        T(test_trade__exclusive_licence_sold_once),
        T(test_trade__negotiation_alternates),
        T(test_trade__negotiation_expires),
        T(test_trade__auction_second_price),
        T(test_trade__auction_reserve_single_and_ties),
    };
#undef T
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests_name("trade", tests, NULL, NULL);
}
