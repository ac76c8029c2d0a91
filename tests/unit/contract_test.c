/*
 * contract_test.c: the contract lifecycle against a real store (in-memory SQLite, or a fresh
 * PostgreSQL database per test when BOURSE_TEST_PG_URL is set) with an injected clock and a
 * seeded random source:
 *
 *   - the canonical document: a golden example (bytes and SHA-256, as docs/contract-format.md
 *     shows them) and its canonical form;
 *   - every refusal of a proposal, signature and transition, each checked to change nothing
 *     (the event count and the contract row before and after);
 *   - signatures: forged (another key, other bytes) refused; the countersignature verifies;
 *   - money: the hold at activation, the exact settlement split, refunds and split decisions,
 *     escrow back to zero, and clearing_check after each;
 *   - the sweep with the clock moved: expiry, automatic acceptance, subscription periods
 *     (settled one by one, a failed hold suspends, activation resumes).
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "core/core.h"
#include "core/core_int.h"

#include "market.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define CONTENT_HASH MARKET_CONTENT_HASH
#define DOC_HASH MARKET_DOC_HASH
#define T0 ((int64_t)1795305540000) /* 2026-11-21T23:59:00Z */
#define DAY ((int64_t)86400000)

struct fixture {
    struct market m; /* its firms: quality, compliance and security */
    struct market_party provider, buyer, broker, arbitrator, plain_firm;
    char fixed_listing[ID_MAX], sub_listing[ID_MAX], personal_listing[ID_MAX];
    char fee_id[ID_MAX];
};

static int64_t event_count(struct fixture *f)
{
    int64_t n = -1;
    assert_int_equal(store_event_count(f->m.core.store, &n, NULL), ERR_OK);
    return n;
}

static const char *const seller_certs[] = {"data_provider", NULL};
static const char *const buyer_certs[] = {"trading", NULL};

/* Listed by the provider for file or API delivery, 365 days: a fixed-price product, a monthly
 * subscription and a personal-data product; and the standard fee schedule. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    market_open(&f->m, "contract", T0);
    market_firms_new(&f->m, "DE", 1);
    market_party_new(&f->m, "service_firm", "DE", NULL, "arbitration", &f->arbitrator);
    market_party_new(&f->m, "service_firm", "DE", NULL, "legal", &f->plain_firm);
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &f->provider);
    market_party_new(&f->m, "buyer", "DE", buyer_certs, NULL, &f->buyer);
    market_party_new(&f->m, "broker", "DE", buyer_certs, NULL, &f->broker);
    struct market_terms t = {
        .price = "{\"model\": \"fixed\", \"currency\": \"CNY\", \"amount\": 1000000}",
        .purpose = "信贷评估 credit scoring",
        .delivery = "[\"file\", \"api\"]",
    };
    struct market_product profile = {.title = "企业用电画像"};
    market_listed_product(&f->m, &f->provider, &profile, &t, f->fixed_listing);
    t.price = "{\"model\": \"subscription\", \"currency\": \"CNY\", \"period\": \"month\","
              " \"tiers\": [{\"name\": \"basic\", \"qps\": 10, \"price\": 30000}]}";
    struct market_product api = {.title = "用电 API"};
    market_listed_product(&f->m, &f->provider, &api, &t, f->sub_listing);
    t.price = "{\"model\": \"fixed\", \"currency\": \"CNY\", \"amount\": 500000}";
    struct market_product household = {.title = "居民用电 Household", .personal = 1};
    market_listed_product(&f->m, &f->provider, &household, &t, f->personal_listing);
    /* The standard schedule: 2.5 %, at least 1.00 CNY. */
    struct clearing_fee_schedule_in fee = {"standard", "percentage", "CNY", 250, 100, 0, 0, NULL};
    struct clearing_actor op = {f->m.operator.id, CLEARING_ROLE_OPERATOR};
    struct store_fee_schedule fs;
    assert_int_equal(clearing_fee_schedule_create(&f->m.ledger, &op, &fee, &fs, NULL), ERR_OK);
    snprintf(f->fee_id, sizeof(f->fee_id), "%s", fs.id);
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

/* ---- helpers ---- */

/* Net posted balance (credits - debits) and pending (credits - debits) of an account. */
static int64_t balance(struct fixture *f, const char *owner, const char *kind, int64_t *pending)
{
    struct store_ledger_account *a = NULL;
    size_t n = 0;
    assert_int_equal(store_ledger_account_list(f->m.core.store, owner, &a, &n, NULL), ERR_OK);
    int64_t b = 0, p = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a[i].kind, kind) == 0 && strcmp(a[i].currency, "CNY") == 0) {
            b = a[i].credits_posted - a[i].debits_posted;
            p = a[i].credits_pending - a[i].debits_pending;
        }
    }
    mem_free(a);
    if (pending != NULL) {
        *pending = p;
    }
    return b;
}

static void ledger_ok(struct fixture *f)
{
    struct clearing_check_report *r = calloc(1, sizeof(*r));
    struct errbuf err;
    errbuf_init(&err);
    expect(clearing_check(f->m.core.store, r, &err), ERR_OK, &err, NULL);
    free(r);
}

/* The row as stored now, to compare with a snapshot. */
static void assert_unchanged(struct fixture *f, const struct store_contract *before,
                             int64_t events_before)
{
    struct store_contract *now = calloc(1, sizeof(*now));
    assert_int_equal(store_contract_get(f->m.core.store, before->id, now, NULL), ERR_OK);
    assert_string_equal(now->state, before->state);
    assert_int_equal(now->log_index, before->log_index);
    assert_int_equal(now->updated_ms, before->updated_ms);
    assert_int_equal(event_count(f), events_before);
    free(now);
}

static void deliver(struct fixture *f, struct store_contract *k)
{
    struct store_delivery d;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_contract_deliver(&f->m.core, &f->provider.who, k->id, CONTENT_HASH, &d, k, &err),
           ERR_OK, &err, NULL);
}

/* ---- the document ---- */

/* The worked example of docs/contract-format.md: fixed inputs, exact bytes. */
static void test_contract__document_golden(void **state)
{
    (void)state;
    struct store_contract *k = calloc(1, sizeof(*k));
    snprintf(k->id, sizeof(k->id), "ctr_aaaaaaaaaaaaaaaaaaaa");
    snprintf(k->listing_id, sizeof(k->listing_id), "lst_bbbbbbbbbbbbbbbbbbbb");
    snprintf(k->product_id, sizeof(k->product_id), "prd_cccccccccccccccccccc");
    snprintf(k->revision_id, sizeof(k->revision_id), "rev_dddddddddddddddddddd");
    snprintf(k->origin, sizeof(k->origin), "order");
    snprintf(k->origin_id, sizeof(k->origin_id), "ord_eeeeeeeeeeeeeeeeeeee");
    snprintf(k->plan, sizeof(k->plan), "single");
    snprintf(k->currency, sizeof(k->currency), "CNY");
    snprintf(k->delivery, sizeof(k->delivery), "file");
    k->price = 1000000;
    k->periods = 1;
    k->acceptance_ms = 7 * DAY;
    k->created_ms = T0;
    k->signing_deadline_ms = T0 + 7 * DAY;
    struct store_entity prov = {.id = "ent_ffffffffffffffffffff",
                                .name = "华东数据有限公司",
                                .public_key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="};
    struct store_entity buyer = {.id = "ent_gggggggggggggggggggg",
                                 .name = "Acme \"Credit\" Ltd",
                                 .public_key = "fUAFHm8jZQ6vvHkvxwqaG1yMfvmm+kNXk1K5q9MFIxI="};
    struct store_entity brokers[1] = {
        {.id = "ent_hhhhhhhhhhhhhhhhhhhh",
         .name = "经纪 Broker",
         .public_key = "vMJFb0gXOB3kaW2ulsmg1gYBDm7zsZcmq2mQHaJ0wBM="}};
    int64_t bp[1] = {500};
    struct store_revision rev = {
        .number = 2, .title = "企业用电画像", .content_hash = CONTENT_HASH};
    struct store_fee_schedule fee = {.id = "fee_iiiiiiiiiiiiiiiiiiii",
                                     .name = "standard",
                                     .version = 1,
                                     .kind = "percentage",
                                     .currency = "CNY",
                                     .rate_bp = 250,
                                     .minimum = 100};
    json_t *territory = json_pack("[s]", "CN");
    struct core__contract_doc d = {k,
                                   &prov,
                                   &buyer,
                                   brokers,
                                   bp,
                                   1,
                                   &rev,
                                   &fee,
                                   "信贷评估\nline two",
                                   365,
                                   territory,
                                   "none",
                                   0,
                                   NULL,
                                   NULL,
                                   1000,
                                   "vwvuLo5YuC7GYxLKyAV0LKQvoEyn1IbIEXapP1Cq3gc="};
    struct errbuf err;
    errbuf_init(&err);
    expect(core__contract_document(&d, k, &err), ERR_OK, &err, NULL);
    json_decref(territory);
    const char *golden =
        "{\"acceptance_days\":7,\"brokers\":[{\"commission_bp\":500,\"id\":\"ent_"
        "hhhhhhhhhhhhhhhhhhhh\",\"name\":\"经纪 Broker\",\"public_key\":"
        "\"vMJFb0gXOB3kaW2ulsmg1gYBDm7zsZcmq2mQHaJ0wBM=\"}],\"created\":\"2026-11-21T23:59:00."
        "000Z\",\"currency\":\"CNY\",\"delivery\":\"file\",\"exchange\":{\"public_key\":"
        "\"vwvuLo5YuC7GYxLKyAV0LKQvoEyn1IbIEXapP1Cq3gc=\"},\"fee_schedule\":{\"cap\":0,"
        "\"currency\":\"CNY\",\"fixed_amount\":0,\"id\":\"fee_iiiiiiiiiiiiiiiiiiii\",\"kind\":"
        "\"percentage\",\"minimum\":100,\"name\":\"standard\",\"rate_bp\":250,\"version\":1},"
        "\"id\":\"ctr_aaaaaaaaaaaaaaaaaaaa\",\"licence\":{\"exclusive\":false,\"purpose\":"
        "\"信贷评估\\nline two\",\"redistribution\":\"none\",\"term_days\":365,\"territory\":"
        "[\"CN\"]},\"listing_id\":\"lst_bbbbbbbbbbbbbbbbbbbb\",\"origin\":{\"id\":\"ord_"
        "eeeeeeeeeeeeeeeeeeee\",\"kind\":\"order\"},\"parties\":{\"buyer\":{\"id\":\"ent_"
        "gggggggggggggggggggg\",\"name\":\"Acme \\\"Credit\\\" Ltd\",\"public_key\":"
        "\"fUAFHm8jZQ6vvHkvxwqaG1yMfvmm+kNXk1K5q9MFIxI=\"},\"provider\":{\"id\":\"ent_"
        "ffffffffffffffffffff\",\"name\":\"华东数据有限公司\",\"public_key\":"
        "\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"}},\"payment\":{\"amount\":1000000,"
        "\"period\":null,\"periods\":1,\"plan\":\"single\",\"tier\":null,\"total\":1000000},"
        "\"price\":1000000,\"product\":{\"content_hash\":\"" CONTENT_HASH "\",\"id\":\"prd_"
        "cccccccccccccccccccc\",\"revision\":2,\"revision_id\":\"rev_dddddddddddddddddddd\","
        "\"title\":\"企业用电画像\"},\"revenue_shares\":[{\"bp\":1000,\"kind\":\"data_subjects\","
        "\"recipient\":\"prd_cccccccccccccccccccc\"}],\"signing_deadline\":\"2026-11-28T23:59:"
        "00.000Z\",\"version\":\"bourse-contract/1\"}";
    if (strcmp(k->document, golden) != 0) {
        fail_msg("document differs:\n%s\n%s", k->document, golden);
    }
    char sha[STORE_HASH_HEX_MAX];
    core__sha256_hex(golden, strlen(golden), sha);
    assert_string_equal(k->document_sha256, sha);
    fprintf(stderr, "# golden sha256 %s\n", sha);
    /* Canonical: parsing and writing it again gives the same bytes. */
    json_t *parsed = json_loads(k->document, 0, NULL);
    char *again = core__canonical(parsed);
    assert_string_equal(again, k->document);
    mem_free(again);
    json_decref(parsed);
    /* A control character the format cannot carry portably is refused, naming the field. */
    d.purpose = "bell\a";
    expect(core__contract_document(&d, k, &err), ERR_INVALID, &err, "purpose");
    free(k);
}

/* ---- proposal ---- */

static void test_contract__propose_refusals(void **state)
{
    struct fixture *f = *state;
    struct {
        const char *what;
        enum err want;
        const char *field;
    } cases[] = {
        {"listing", ERR_INVALID, "listing_id"},
        {"no listing", ERR_NOT_FOUND, "listing_id"},
        {"buyer", ERR_INVALID, "buyer_id"},
        {"self", ERR_INVALID, "buyer_id"},
        {"origin", ERR_INVALID, "origin"},
        {"origin_id", ERR_INVALID, "origin_id"},
        {"currency", ERR_INVALID, "currency"},
        {"price", ERR_INVALID, "price"},
        {"periods", ERR_INVALID, "periods"},
        {"tier", ERR_INVALID, "tier"},
        {"sub tier", ERR_INVALID, "tier"},
        {"delivery", ERR_INVALID, "delivery"},
        {"territory", ERR_INVALID, "territory"},
        {"redistribution", ERR_INVALID, "redistribution"},
        {"accept", ERR_INVALID, "acceptance_days"},
        {"broker kind", ERR_INVALID, "brokers[0].entity_id"},
        {"broker bp", ERR_INVALID, "brokers[0].commission_bp"},
        {"broker party", ERR_INVALID, "brokers[0].entity_id"},
        {"stranger", ERR_FORBIDDEN, NULL},
    };
    int64_t before = event_count(f);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct core_contract_terms t =
            market_contract_terms(f->buyer.who.id, f->fixed_listing, 1000000);
        const struct core_principal *who = &f->buyer.who;
        const char *w = cases[i].what;
        if (strcmp(w, "listing") == 0) {
            snprintf(t.listing_id, sizeof(t.listing_id), "prd_aaaaaaaaaaaaaaaaaaaa");
        } else if (strcmp(w, "no listing") == 0) {
            snprintf(t.listing_id, sizeof(t.listing_id), "lst_aaaaaaaaaaaaaaaaaaaa");
        } else if (strcmp(w, "buyer") == 0) {
            snprintf(t.buyer_id, sizeof(t.buyer_id), "ent_aaaaaaaaaaaaaaaaaaaa");
        } else if (strcmp(w, "self") == 0) {
            snprintf(t.buyer_id, sizeof(t.buyer_id), "%s", f->provider.who.id);
            who = &f->provider.who;
        } else if (strcmp(w, "origin") == 0) {
            t.origin = "gift";
        } else if (strcmp(w, "origin_id") == 0) {
            snprintf(t.origin_id, sizeof(t.origin_id), "x");
        } else if (strcmp(w, "currency") == 0) {
            snprintf(t.currency, sizeof(t.currency), "USD");
        } else if (strcmp(w, "price") == 0) {
            t.price = 0;
        } else if (strcmp(w, "periods") == 0) {
            t.periods = 3;
        } else if (strcmp(w, "tier") == 0) {
            t.tier = "basic";
        } else if (strcmp(w, "sub tier") == 0) {
            snprintf(t.listing_id, sizeof(t.listing_id), "%s", f->sub_listing);
            t.tier = "gold";
        } else if (strcmp(w, "delivery") == 0) {
            t.delivery = "compute";
        } else if (strcmp(w, "territory") == 0) {
            t.territory = "CN,cn";
        } else if (strcmp(w, "redistribution") == 0) {
            t.redistribution = "resell";
        } else if (strcmp(w, "accept") == 0) {
            t.acceptance_days = 91;
        } else if (strncmp(w, "broker", 6) == 0) {
            t.broker_count = 1;
            snprintf(t.brokers[0].entity_id, ID_MAX, "%s",
                     strcmp(w, "broker kind") == 0    ? f->plain_firm.who.id
                     : strcmp(w, "broker party") == 0 ? f->buyer.who.id
                                                      : f->broker.who.id);
            t.brokers[0].commission_bp = strcmp(w, "broker bp") == 0 ? 0 : 500;
        } else if (strcmp(w, "stranger") == 0) {
            who = &f->plain_firm.who;
        }
        struct store_contract *k = calloc(1, sizeof(*k));
        struct errbuf err;
        errbuf_init(&err);
        enum err rc = core_contract_propose(&f->m.core, who, &t, k, &err);
        if (rc != cases[i].want ||
            (cases[i].field != NULL && strcmp(err.field, cases[i].field) != 0)) {
            fail_msg("case '%s': got %s (field '%s': %s)", w, err_name(rc), err.field, err.msg);
        }
        free(k);
    }
    assert_int_equal(event_count(f), before);
    struct store_contract_filter filter = {NULL, NULL, NULL, 10};
    struct store_contract_page page;
    assert_int_equal(core_contract_list(&f->m.core, &f->m.operator, & filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 0);
    store_contract_page_release(&page);
}

/* ---- signatures and activation ---- */

static void test_contract__sign_activate(void **state)
{
    struct fixture *f = *state;
    market_deposit(&f->m, &f->buyer, 1500000);
    struct core_contract_terms t =
        market_contract_terms(f->buyer.who.id, f->fixed_listing, 1000000);
    struct store_contract *k = market_contract_propose(&f->m, &f->buyer, &t);
    assert_string_equal(k->state, "proposed");
    assert_string_equal(k->fee_schedule_id, f->fee_id);
    struct errbuf err;
    errbuf_init(&err);
    int64_t before = event_count(f);
    char sig[STORE_SIGNATURE_MAX];
    int failed = 0;
    /* Signed by another key (the provider's, presented by the buyer). */
    market_signature(f->provider.sk, k->document, sig);
    expect(core_contract_sign(&f->m.core, &f->buyer.who, k->id, sig, k, &failed, &err), ERR_INVALID,
           &err, "signature");
    /* The buyer's key over other bytes. */
    market_signature(f->buyer.sk, "{\"price\":1}", sig);
    expect(core_contract_sign(&f->m.core, &f->buyer.who, k->id, sig, k, &failed, &err), ERR_INVALID,
           &err, "signature");
    expect(core_contract_sign(&f->m.core, &f->buyer.who, k->id, "not base64!", k, &failed, &err),
           ERR_INVALID, &err, "signature");
    /* Not a party: the broker, and a stranger cannot even see it. */
    market_signature(f->broker.sk, k->document, sig);
    expect(core_contract_sign(&f->m.core, &f->broker.who, k->id, sig, k, &failed, &err),
           ERR_NOT_FOUND, &err, "id");
    assert_unchanged(f, k, before);
    /* The buyer signs; again is refused. */
    expect(market_contract_sign(&f->m, &f->buyer, k, NULL, &err), ERR_OK, &err, NULL);
    assert_string_equal(k->state, "signed_one");
    int64_t after_one = event_count(f);
    assert_int_equal(after_one, before + 1);
    expect(market_contract_sign(&f->m, &f->buyer, k, NULL, &err), ERR_BAD_STATE, &err, "state");
    assert_unchanged(f, k, after_one);
    /* Accept, deliver, dispute before activation: wrong state. */
    struct store_delivery d;
    expect(core_contract_deliver(&f->m.core, &f->provider.who, k->id, CONTENT_HASH, &d, k, &err),
           ERR_BAD_STATE, &err, "state");
    expect(core_contract_accept(&f->m.core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "state");
    assert_unchanged(f, k, after_one);
    /* The provider signs: countersigned, active, escrow held. */
    expect(market_contract_sign(&f->m, &f->provider, k, &failed, &err), ERR_OK, &err, NULL);
    assert_int_equal(failed, 0);
    assert_string_equal(k->state, "active");
    int64_t pending = 0;
    assert_int_equal(balance(f, f->buyer.who.id, "available", &pending), 1500000);
    assert_int_equal(pending, -1000000);
    assert_int_equal(balance(f, f->buyer.who.id, "escrow", &pending), 0);
    assert_int_equal(pending, 1000000);
    /* The countersignature verifies with the operator's key over the statement. */
    struct store_contract_signature sigs[2];
    size_t n = 0;
    assert_int_equal(core_contract_signatures(&f->m.core, &f->buyer.who, k->id, sigs, &n, NULL),
                     ERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(sigs[0].role, "buyer");
    char statement[1024];
    assert_int_equal(
        core_contract_countersign_statement(k, sigs, n, statement, sizeof(statement), NULL),
        ERR_OK);
    assert_non_null(strstr(statement, k->document_sha256));
    expect(core_rights_verify(statement, k->countersignature, f->m.signer.public_key, &err), ERR_OK,
           &err, NULL);
    /* Cancelling an active contract is refused; so is a second activation. */
    int64_t events = event_count(f);
    expect(core_contract_cancel(&f->m.core, &f->buyer.who, k->id, "changed my mind", k, &err),
           ERR_BAD_STATE, &err, "state");
    expect(core_contract_activate(&f->m.core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "state");
    assert_unchanged(f, k, events);
    ledger_ok(f);
    free(k);
}

static void test_contract__insufficient_funds(void **state)
{
    struct fixture *f = *state;
    market_deposit(&f->m, &f->buyer, 400000);
    struct core_contract_terms t =
        market_contract_terms(f->buyer.who.id, f->fixed_listing, 1000000);
    struct store_contract *k = market_contract_propose(&f->m, &f->buyer, &t);
    struct errbuf err;
    errbuf_init(&err);
    expect(market_contract_sign(&f->m, &f->buyer, k, NULL, &err), ERR_OK, &err, NULL);
    int failed = 0;
    expect(market_contract_sign(&f->m, &f->provider, k, &failed, &err), ERR_OK, &err, NULL);
    assert_int_equal(failed, 1);
    assert_string_equal(k->state, "signed_both");
    assert_non_null(strstr(k->note, "insufficient funds"));
    assert_string_equal(k->countersignature, "");
    struct store_contract_signature sigs[2];
    size_t n = 0;
    assert_int_equal(store_contract_signature_list(f->m.core.store, k->id, sigs, &n, NULL), ERR_OK);
    assert_int_equal(n, 2); /* the second signature stands */
    int64_t events = event_count(f);
    expect(core_contract_activate(&f->m.core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "amount");
    assert_unchanged(f, k, events);
    assert_int_equal(balance(f, f->buyer.who.id, "available", NULL), 400000);
    market_deposit(&f->m, &f->buyer, 600000);
    expect(core_contract_activate(&f->m.core, &f->provider.who, k->id, k, &err), ERR_OK, &err,
           NULL);
    assert_string_equal(k->state, "active");
    assert_string_equal(k->note, "");
    assert_true(k->countersignature[0] != '\0');
    ledger_ok(f);
    free(k);
}

/* ---- settlement ---- */

static void test_contract__settle_split(void **state)
{
    struct fixture *f = *state;
    market_deposit(&f->m, &f->buyer, 2000000);
    struct core_contract_terms t =
        market_contract_terms(f->buyer.who.id, f->personal_listing, 987653);
    t.broker_count = 1;
    snprintf(t.brokers[0].entity_id, ID_MAX, "%s", f->broker.who.id);
    t.brokers[0].commission_bp = 333;
    struct store_contract *k = market_contract_active(&f->m, &f->buyer, &f->provider, &t);
    struct errbuf err;
    errbuf_init(&err);
    /* Only the provider delivers; a bad hash is refused. */
    struct store_delivery d;
    int64_t events = event_count(f);
    expect(core_contract_deliver(&f->m.core, &f->buyer.who, k->id, CONTENT_HASH, &d, k, &err),
           ERR_FORBIDDEN, &err, "id");
    expect(core_contract_deliver(&f->m.core, &f->provider.who, k->id, "ABC", &d, k, &err),
           ERR_INVALID, &err, "sha256");
    expect(core_contract_accept(&f->m.core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "state");
    assert_unchanged(f, k, events);
    deliver(f, k);
    assert_string_equal(k->state, "delivered");
    /* The same delivery again is a replay; other content is refused. */
    events = event_count(f);
    expect(core_contract_deliver(&f->m.core, &f->provider.who, k->id, CONTENT_HASH, &d, k, &err),
           ERR_OK, &err, NULL);
    expect(core_contract_deliver(&f->m.core, &f->provider.who, k->id, DOC_HASH, &d, k, &err),
           ERR_BAD_STATE, &err, "state");
    expect(core_contract_accept(&f->m.core, &f->provider.who, k->id, k, &err), ERR_FORBIDDEN, &err,
           "id");
    assert_unchanged(f, k, events);
    expect(core_contract_accept(&f->m.core, &f->buyer.who, k->id, k, &err), ERR_OK, &err, NULL);
    assert_string_equal(k->state, "settled");
    /* fee = floor(987653 * 250 / 10000) = 24691; broker = floor(987653 * 333 / 10000) = 32888;
     * pool = floor(987653 * 1000 / 10000) = 98765; provider takes the rest = 831309. */
    int64_t pending = 0;
    assert_int_equal(balance(f, "exchange", "fees", NULL), 24691);
    assert_int_equal(balance(f, f->broker.who.id, "available", NULL), 32888);
    assert_int_equal(balance(f, k->product_id, "pool", NULL), 98765);
    assert_int_equal(balance(f, f->provider.who.id, "available", NULL), 831309);
    assert_int_equal(24691 + 32888 + 98765 + 831309, 987653);
    assert_int_equal(balance(f, f->buyer.who.id, "escrow", &pending), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(balance(f, f->buyer.who.id, "available", &pending), 2000000 - 987653);
    assert_int_equal(pending, 0);
    /* Settled: no second settlement. */
    events = event_count(f);
    expect(core_contract_accept(&f->m.core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "state");
    assert_unchanged(f, k, events);
    ledger_ok(f);
    free(k);
}

/* ---- disputes ---- */

static struct store_contract *disputed(struct fixture *f, struct store_dispute *d)
{
    market_deposit(&f->m, &f->buyer, 1000000);
    struct core_contract_terms t =
        market_contract_terms(f->buyer.who.id, f->fixed_listing, 1000000);
    struct store_contract *k = market_contract_active(&f->m, &f->buyer, &f->provider, &t);
    deliver(f, k);
    struct errbuf err;
    errbuf_init(&err);
    int64_t events = event_count(f);
    expect(core_contract_reject(&f->m.core, &f->provider.who, k->id, "no", d, k, &err),
           ERR_FORBIDDEN, &err, "id");
    expect(core_contract_reject(&f->m.core, &f->buyer.who, k->id, " ", d, k, &err), ERR_INVALID,
           &err, "statement");
    assert_unchanged(f, k, events);
    expect(
        core_contract_reject(&f->m.core, &f->buyer.who, k->id, "the columns are empty", d, k, &err),
        ERR_OK, &err, NULL);
    assert_string_equal(k->state, "disputed");
    assert_string_equal(d->status, "open");
    /* Held while disputed: the clock does not accept it. */
    f->m.clock_state.now_ms += 30 * DAY;
    size_t done = 0;
    assert_int_equal(core_contract_sweep(&f->m.core, f->m.clock_state.now_ms, 10, &done, NULL),
                     ERR_OK);
    assert_int_equal(done, 0);
    int64_t pending = 0;
    assert_int_equal(balance(f, f->buyer.who.id, "escrow", &pending), 0);
    assert_int_equal(pending, 1000000);
    return k;
}

static void test_contract__dispute_split(void **state)
{
    struct fixture *f = *state;
    struct store_dispute d;
    struct store_contract *k = disputed(f, &d);
    struct errbuf err;
    errbuf_init(&err);
    int64_t events = event_count(f);
    struct store_dispute x;
    expect(core_dispute_assign(&f->m.core, &f->buyer.who, d.id, f->arbitrator.who.id, &x, &err),
           ERR_FORBIDDEN, &err, NULL);
    expect(core_dispute_assign(&f->m.core, &f->m.operator, d.id, f->plain_firm.who.id, &x, &err),
           ERR_INVALID, &err, "arbitrator");
    assert_non_null(strstr(err.msg, "arbitration"));
    expect(core_dispute_assign(&f->m.core, &f->m.operator, d.id, f->broker.who.id, &x, &err),
           ERR_INVALID, &err, "arbitrator");
    /* Not yet assigned: the arbitrator cannot even see it. */
    expect(core_dispute_decide(&f->m.core, &f->arbitrator.who, d.id, "refund", 0, "r", &x, &err),
           ERR_NOT_FOUND, &err, "id");
    assert_int_equal(event_count(f), events);
    expect(core_dispute_assign(&f->m.core, &f->m.operator, d.id, f->arbitrator.who.id, &d, &err),
           ERR_OK, &err, NULL);
    assert_string_equal(d.status, "assigned");
    events = event_count(f);
    expect(core_dispute_decide(&f->m.core, &f->buyer.who, d.id, "refund", 0, "r", &x, &err),
           ERR_FORBIDDEN, &err, "id");
    expect(core_dispute_decide(&f->m.core, &f->arbitrator.who, d.id, "halve", 0, "r", &x, &err),
           ERR_INVALID, &err, "decision");
    expect(
        core_dispute_decide(&f->m.core, &f->arbitrator.who, d.id, "split", 1000000, "r", &x, &err),
        ERR_INVALID, &err, "provider_amount");
    expect(core_dispute_decide(&f->m.core, &f->arbitrator.who, d.id, "split", 0, "r", &x, &err),
           ERR_INVALID, &err, "provider_amount");
    expect(core_dispute_decide(&f->m.core, &f->arbitrator.who, d.id, "split", 400000, "", &x, &err),
           ERR_INVALID, &err, "reason");
    assert_int_equal(event_count(f), events);
    int64_t buyer_before = balance(f, f->buyer.who.id, "available", NULL);
    expect(core_dispute_decide(&f->m.core, &f->arbitrator.who, d.id, "split", 400001,
                               "half the columns were delivered", &d, &err),
           ERR_OK, &err, NULL);
    assert_string_equal(d.status, "decided");
    market_contract_reload(&f->m, k);
    assert_string_equal(k->state, "resolved");
    /* 400001 settled: fee floor(400001 * 2.5 %) = 10000, provider 390001; 599999 returned. */
    int64_t pending = 0;
    assert_int_equal(balance(f, "exchange", "fees", NULL), 10000);
    assert_int_equal(balance(f, f->provider.who.id, "available", NULL), 390001);
    assert_int_equal(balance(f, f->buyer.who.id, "available", &pending), buyer_before - 400001);
    assert_int_equal(pending, 0);
    assert_int_equal(balance(f, f->buyer.who.id, "escrow", &pending), 0);
    assert_int_equal(pending, 0);
    events = event_count(f);
    expect(
        core_dispute_decide(&f->m.core, &f->arbitrator.who, d.id, "refund", 0, "again", &x, &err),
        ERR_BAD_STATE, &err, "status");
    assert_int_equal(event_count(f), events);
    ledger_ok(f);
    free(k);
}

static void test_contract__dispute_refund(void **state)
{
    struct fixture *f = *state;
    struct store_dispute d;
    struct store_contract *k = disputed(f, &d);
    int64_t buyer_before = balance(f, f->buyer.who.id, "available", NULL);
    struct errbuf err;
    errbuf_init(&err);
    expect(core_dispute_assign(&f->m.core, &f->m.operator, d.id, f->arbitrator.who.id, &d, &err),
           ERR_OK, &err, NULL);
    expect(core_dispute_decide(&f->m.core, &f->arbitrator.who, d.id, "refund", 0, "nothing came",
                               &d, &err),
           ERR_OK, &err, NULL);
    int64_t pending = 0;
    /* The refund restores the buyer exactly: the hold is released, nothing posted. */
    assert_int_equal(balance(f, f->buyer.who.id, "available", &pending), buyer_before);
    assert_int_equal(buyer_before, 1000000);
    assert_int_equal(pending, 0);
    assert_int_equal(balance(f, f->provider.who.id, "available", NULL), 0);
    assert_int_equal(balance(f, "exchange", "fees", NULL), 0);
    ledger_ok(f);
    free(k);
}

static void test_contract__dispute_evidence(void **state)
{
    struct fixture *f = *state;
    market_deposit(&f->m, &f->buyer, 1000000);
    struct core_contract_terms t =
        market_contract_terms(f->buyer.who.id, f->fixed_listing, 1000000);
    struct store_contract *k = market_contract_active(&f->m, &f->buyer, &f->provider, &t);
    struct errbuf err;
    errbuf_init(&err);
    struct store_dispute d;
    int64_t ev[2] = {k->log_index, 0};
    int64_t events = event_count(f);
    /* Not integrated yet: not citable. */
    expect(core_dispute_open(&f->m.core, &f->provider.who, k->id, "unpaid", ev, 1, &d, &err),
           ERR_INVALID, &err, "evidence[0]");
    expect(core_dispute_open(&f->m.core, &f->broker.who, k->id, "x", NULL, 0, &d, &err),
           ERR_NOT_FOUND, &err, "id");
    assert_unchanged(f, k, events);
    struct tlog_signer signer;
    uint8_t seed[TLOG_SEED_LEN] = {7};
    assert_int_equal(tlog_signer_from_seed("bourse.test/log", seed, &signer, NULL), ERR_OK);
    f->m.core.log_signer = &signer;
    int64_t size = 0;
    assert_int_equal(core_log_integrate(&f->m.core, CORE_LOG_BATCH_MAX, &size, NULL), ERR_OK);
    expect(core_dispute_open(&f->m.core, &f->provider.who, k->id, "unpaid", ev, 2, &d, &err),
           ERR_OK, &err, NULL);
    struct store_event e;
    assert_int_equal(core_log_entry(&f->m.core, k->log_index, &e, NULL), ERR_OK);
    uint8_t leaf[TLOG_HASH_LEN];
    char hex[2 * TLOG_HASH_LEN + 1];
    tlog_leaf_hash(e.leaf, e.leaf_len, leaf);
    sodium_bin2hex(hex, sizeof(hex), leaf, sizeof(leaf));
    store_event_release(&e);
    assert_non_null(strstr(d.evidence, hex));
    f->m.core.log_signer = NULL;
    tlog_signer_release(&signer);
    free(k);
}

/* ---- the clock ---- */

static void test_contract__sweep_expire_accept(void **state)
{
    struct fixture *f = *state;
    market_deposit(&f->m, &f->buyer, 1000000);
    struct core_contract_terms t =
        market_contract_terms(f->buyer.who.id, f->fixed_listing, 1000000);
    struct store_contract *late = market_contract_propose(&f->m, &f->buyer, &t);
    struct errbuf err;
    errbuf_init(&err);
    expect(market_contract_sign(&f->m, &f->buyer, late, NULL, &err), ERR_OK, &err, NULL);
    struct store_contract *k = market_contract_active(&f->m, &f->buyer, &f->provider, &t);
    deliver(f, k);
    size_t done = 0;
    assert_int_equal(core_contract_sweep(&f->m.core, f->m.clock_state.now_ms, 10, &done, NULL),
                     ERR_OK);
    assert_int_equal(done, 0);
    /* Past the signing deadline and the acceptance window (both 7 days). */
    f->m.clock_state.now_ms += 7 * DAY + 1000;
    int failed = 0;
    expect(market_contract_sign(&f->m, &f->provider, late, &failed, &err), ERR_BAD_STATE, &err,
           "state");
    expect(core_contract_accept(&f->m.core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "state");
    assert_int_equal(core_contract_sweep(&f->m.core, f->m.clock_state.now_ms, 10, &done, NULL),
                     ERR_OK);
    assert_int_equal(done, 2);
    market_contract_reload(&f->m, late);
    assert_string_equal(late->state, "expired");
    market_contract_reload(&f->m, k);
    assert_string_equal(k->state, "settled");
    assert_int_equal(balance(f, f->provider.who.id, "available", NULL), 1000000 - 25000);
    assert_int_equal(core_contract_sweep(&f->m.core, f->m.clock_state.now_ms, 10, &done, NULL),
                     ERR_OK);
    assert_int_equal(done, 0);
    ledger_ok(f);
    free(late);
    free(k);
}

static void test_contract__subscription_periods(void **state)
{
    struct fixture *f = *state;
    market_deposit(&f->m, &f->buyer, 60000); /* two of three months */
    struct core_contract_terms t = market_contract_terms(f->buyer.who.id, f->sub_listing, 30000);
    t.tier = "basic";
    t.periods = 3;
    struct store_contract *k = market_contract_active(&f->m, &f->buyer, &f->provider, &t);
    assert_string_equal(k->plan, "periodic");
    assert_int_equal(k->period_days, 30);
    struct errbuf err;
    errbuf_init(&err);
    size_t done = 0;
    int64_t pending = 0;
    assert_int_equal(balance(f, f->buyer.who.id, "escrow", &pending), 0);
    assert_int_equal(pending, 30000); /* one period at a time */
    f->m.clock_state.now_ms += 30 * DAY;
    assert_int_equal(core_contract_sweep(&f->m.core, f->m.clock_state.now_ms, 10, &done, NULL),
                     ERR_OK);
    assert_int_equal(done, 1);
    market_contract_reload(&f->m, k);
    assert_string_equal(k->state, "active");
    assert_int_equal(k->period, 1);
    assert_int_equal(balance(f, f->provider.who.id, "available", NULL), 30000 - 750);
    f->m.clock_state.now_ms += 30 * DAY;
    assert_int_equal(core_contract_sweep(&f->m.core, f->m.clock_state.now_ms, 10, &done, NULL),
                     ERR_OK);
    market_contract_reload(&f->m, k);
    assert_string_equal(k->state, "suspended"); /* period 2's hold failed */
    assert_int_equal(k->period, 2);
    assert_int_equal(balance(f, f->provider.who.id, "available", NULL), 2 * (30000 - 750));
    int64_t events = event_count(f);
    expect(core_contract_activate(&f->m.core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "amount");
    assert_unchanged(f, k, events);
    market_deposit(&f->m, &f->buyer, 30000);
    expect(core_contract_activate(&f->m.core, &f->buyer.who, k->id, k, &err), ERR_OK, &err, NULL);
    assert_string_equal(k->state, "active");
    f->m.clock_state.now_ms += 30 * DAY;
    assert_int_equal(core_contract_sweep(&f->m.core, f->m.clock_state.now_ms, 10, &done, NULL),
                     ERR_OK);
    market_contract_reload(&f->m, k);
    assert_string_equal(k->state, "settled");
    assert_int_equal(balance(f, f->provider.who.id, "available", NULL), 3 * (30000 - 750));
    assert_int_equal(balance(f, f->buyer.who.id, "available", &pending), 0);
    assert_int_equal(pending, 0);
    struct store_contract_period per[4];
    size_t n = 0;
    assert_int_equal(core_contract_periods(&f->m.core, &f->buyer.who, k->id, per, 4, &n, NULL),
                     ERR_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(per[i].state, "settled");
    }
    ledger_ok(f);
    free(k);
}

static void test_contract__cancel_and_visibility(void **state)
{
    struct fixture *f = *state;
    struct core_contract_terms t =
        market_contract_terms(f->buyer.who.id, f->fixed_listing, 1000000);
    struct store_contract *k = market_contract_propose(&f->m, &f->buyer, &t);
    struct errbuf err;
    errbuf_init(&err);
    struct store_contract *x = calloc(1, sizeof(*x));
    expect(core_contract_get(&f->m.core, &f->plain_firm.who, k->id, x, &err), ERR_NOT_FOUND, &err,
           "id");
    expect(core_contract_get(&f->m.core, &f->m.operator, k->id, x, &err), ERR_OK, &err, NULL);
    int64_t events = event_count(f);
    expect(core_contract_cancel(&f->m.core, &f->m.operator, k->id, NULL, k, &err), ERR_FORBIDDEN,
           &err, "id");
    assert_unchanged(f, k, events);
    expect(core_contract_cancel(&f->m.core, &f->provider.who, k->id, "price error", k, &err),
           ERR_OK, &err, NULL);
    assert_string_equal(k->state, "cancelled");
    expect(market_contract_sign(&f->m, &f->buyer, k, NULL, &err), ERR_BAD_STATE, &err, "state");
    struct store_contract_filter filter = {NULL, "cancelled", NULL, 10};
    struct store_contract_page page;
    assert_int_equal(core_contract_list(&f->m.core, &f->buyer.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 1);
    store_contract_page_release(&page);
    assert_int_equal(core_contract_list(&f->m.core, &f->plain_firm.who, &filter, &page, NULL),
                     ERR_OK);
    assert_int_equal(page.count, 0);
    store_contract_page_release(&page);
    filter.state = "lost";
    expect(core_contract_list(&f->m.core, &f->buyer.who, &filter, &page, &err), ERR_INVALID, &err,
           "state");
    free(x);
    free(k);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract__document_golden),
        cmocka_unit_test_setup_teardown(test_contract__propose_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contract__sign_activate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contract__insufficient_funds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contract__settle_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contract__dispute_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contract__dispute_refund, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contract__dispute_evidence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contract__sweep_expire_accept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contract__subscription_periods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contract__cancel_and_visibility, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
