/*
 * licence_test.c: a contract that stops licensing its data stops its deliveries at once
 * (issue #6), with real contracts (core) and real custody (delivery) on one store (in-memory
 * SQLite, or a fresh PostgreSQL database per test when BOURSE_TEST_PG_URL is set) and the
 * injected clock moved across the licence's end:
 *
 *   - the licence term (the document's term_days from activation) ends while the contract is
 *     still "active" (never delivered) or "delivered" (an acceptance window longer than the
 *     term): the row's state does not change, yet from the term's last millisecond on a token
 *     minted before is refused and no new token is issued;
 *   - a subscription is licensed until its last period ends, before the contract clock settles
 *     it, and not past it after the clock has;
 *   - a dispute, its resolution by refund, a suspension and the cancellation that follows it,
 *     and a contract that expired unsigned: every one refuses downloads and tokens;
 *
 * and every refusal changes nothing: no token, copy, delivery or log event is written. The
 * contract's facts reach custody as the server reads them (src/http/delivery.c,
 * contract_read): the stored row and core_contract_licence_end.
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "core/core.h"
#include "delivery/delivery.h"
#include "http/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "market.h"

#include "util/banned.h"

#define T0 ((int64_t)1795305540000) /* 2026-11-21T23:59:00Z */
#define DAY ((int64_t)86400000)
#define HOUR ((int64_t)3600000)

struct fixture {
    struct market m; /* its firms: quality and compliance */
    char dir[MARKET_DIR_MAX];
    struct delivery_custody d;
    struct market_party provider, buyer, arbitrator;
    char fixed_listing[ID_MAX], sub_listing[ID_MAX];
};

static const char *const seller_certs[] = {"data_provider", NULL};
static const char *const buyer_certs[] = {"trading", NULL};

/* A fixed-price file listing and a monthly subscription, each licensed for 365 days; the
 * standard fee schedule; custody on a data directory of its own. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    market_open(&f->m, "licence", T0);
    market_firms_new(&f->m, "DE", 0);
    market_party_new(&f->m, "service_firm", "DE", NULL, "arbitration", &f->arbitrator);
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &f->provider);
    market_party_new(&f->m, "buyer", "DE", buyer_certs, NULL, &f->buyer);
    struct market_product profile = {.title = "企业用电画像"};
    struct market_terms fixed = {
        .price = "{\"model\": \"fixed\", \"currency\": \"CNY\", \"amount\": 1000000}",
        .purpose = "信贷评估 credit scoring",
    };
    market_listed_product(&f->m, &f->provider, &profile, &fixed, f->fixed_listing);
    struct market_product monthly = {.title = "用电月报 monthly"};
    struct market_terms sub = {
        .price = "{\"model\": \"subscription\", \"currency\": \"CNY\", \"period\": \"month\","
                 " \"tiers\": [{\"name\": \"basic\", \"qps\": 10, \"price\": 30000}]}",
        .purpose = "信贷评估 credit scoring",
    };
    market_listed_product(&f->m, &f->provider, &monthly, &sub, f->sub_listing);
    struct clearing_fee_schedule_in fee = {"standard", "percentage", "CNY", 250, 100, 0, 0, NULL};
    struct clearing_actor op = {f->m.operator.id, CLEARING_ROLE_OPERATOR};
    struct store_fee_schedule fs;
    assert_int_equal(clearing_fee_schedule_create(&f->m.ledger, &op, &fee, &fs, NULL), ERR_OK);
    unsigned char master[32];
    market_custody_init(&f->d, f->m.core.store, &f->m.clock, &f->m.rng, "licence", f->dir, master,
                        1 << 20);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    market_custody_release(&f->d, f->dir);
    market_close(&f->m);
    free(f);
    return 0;
}

/* ---- contracts ---- */

static void sweep(struct fixture *f)
{
    size_t done = 0;
    assert_int_equal(core_contract_sweep(&f->m.core, f->m.clock_state.now_ms, 10, &done, NULL),
                     ERR_OK);
}

/* ---- custody, fed the contract as the server feeds it ---- */

/* The same facts the server hands custody (http__contract_facts). */
static enum err contract_read(void *ctx, const char *contract_id, struct delivery_contract *out,
                              struct errbuf *err)
{
    struct fixture *f = ctx;
    return http__contract_facts(f->m.core.store, contract_id, out, err);
}

/* The provider's file for the contract's revision. */
static void upload_for(struct fixture *f, const struct store_contract *k, struct store_object *o)
{
    const char *csv = "meter_id,kwh\nM1,10.00\nM2,12.50\n";
    size_t len = strlen(csv);
    char sha[STORE_HASH_HEX_MAX];
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)csv, len);
    sodium_bin2hex(sha, sizeof(sha), h, sizeof(h));
    struct delivery_upload_request r = {
        k->product_id, k->revision_id, "usage.csv", (int64_t)len, sha, 0};
    struct delivery_actor who = {f->provider.who.id, DELIVERY_ROLE_ENTITY, 1};
    struct store_upload u;
    struct store_upload_chunk c;
    int again = 0;
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_upload_start(&f->d, &who, &r, &u, &err), ERR_OK, &err, NULL);
    expect(delivery_upload_chunk(&f->d, &who, u.id, 0, csv, len, sha, &c, &again, &err), ERR_OK,
           &err, NULL);
    expect(delivery_upload_complete(&f->d, &who, u.id, o, &err), ERR_OK, &err, NULL);
}

/* Mints a token as the buyer for k (the server reads the contract first, as here). */
static enum err mint(struct fixture *f, const struct store_contract *k, int64_t ttl_ms,
                     struct store_download_token *t, char secret[DELIVERY_TOKEN_MAX],
                     struct errbuf *err)
{
    struct delivery_contract view;
    assert_int_equal(contract_read(f, k->id, &view, NULL), ERR_OK);
    struct delivery_actor who = {f->buyer.who.id, DELIVERY_ROLE_ENTITY, 1};
    return delivery_token_mint(&f->d, &who, &view, NULL, ttl_ms, t, secret, err);
}

/* The verdict on a token presented by the buyer at now_ms. */
static enum delivery_token_verdict check(struct fixture *f, const char *secret, int64_t now_ms,
                                         struct errbuf *err)
{
    struct store_download_token t;
    struct store_object o;
    enum delivery_token_verdict v = DELIVERY_TOKEN_VALID;
    assert_int_equal(delivery_token_check(&f->d, secret, f->buyer.who.id, now_ms, contract_read, f,
                                          &t, &o, &v, err),
                     ERR_OK);
    return v;
}

/* What a refused download or token must leave alone. */
struct snapshot {
    int64_t events, tokens, copies, deliveries;
};

static enum err count_row(void *ctx, const struct store_value *cols, size_t ncols,
                          struct errbuf *err)
{
    (void)err;
    assert_int_equal(ncols, 1);
    *(int64_t *)ctx = cols[0].i;
    return ERR_OK;
}

static int64_t rows_of(struct fixture *f, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    int64_t n = -1;
    assert_int_equal(store_query(f->m.core.store, sql, NULL, 0, count_row, &n, NULL, NULL), ERR_OK);
    return n;
}

static struct snapshot snap(struct fixture *f)
{
    struct snapshot s;
    assert_int_equal(store_event_count(f->m.core.store, &s.events, NULL), ERR_OK);
    s.tokens = rows_of(f, "download_tokens");
    s.copies = rows_of(f, "buyer_copies");
    s.deliveries = rows_of(f, "deliveries");
    return s;
}

static void snap_same(struct fixture *f, struct snapshot before, const char *what)
{
    struct snapshot now = snap(f);
    if (memcmp(&now, &before, sizeof(now)) != 0) {
        fail_msg("%s changed something: events %lld -> %lld, tokens %lld -> %lld, copies %lld -> "
                 "%lld, deliveries %lld -> %lld",
                 what, (long long)before.events, (long long)now.events, (long long)before.tokens,
                 (long long)now.tokens, (long long)before.copies, (long long)now.copies,
                 (long long)before.deliveries, (long long)now.deliveries);
    }
}

/* The contract no longer delivers: the token is refused for the contract and no token is
 * minted, each naming field "contract" and changing nothing. */
static void refused(struct fixture *f, const struct store_contract *k, const char *secret,
                    int64_t now_ms, const char *why)
{
    struct snapshot s = snap(f);
    struct errbuf err;
    errbuf_init(&err);
    if (secret != NULL) {
        enum delivery_token_verdict v = check(f, secret, now_ms, &err);
        if (v != DELIVERY_TOKEN_CONTRACT) {
            fail_msg("%s: verdict %d (%s), wanted the contract's refusal", why, v, err.msg);
        }
        assert_string_equal(err.field, "contract");
        assert_non_null(strstr(err.msg, why));
    }
    struct store_download_token t;
    char fresh[DELIVERY_TOKEN_MAX];
    expect(mint(f, k, 0, &t, fresh, &err), ERR_BAD_STATE, &err, "contract");
    assert_non_null(strstr(err.msg, why));
    snap_same(f, s, why);
}

/* ---- the licence term ---- */

static void test_licence__term_end_stops_deliveries(void **state)
{
    struct fixture *f = *state;
    market_deposit(&f->m, &f->buyer, 2000000);
    /* A two-day licence whose delivery may be checked for thirty: the window outlives it. */
    struct core_contract_terms t =
        market_contract_terms(f->buyer.who.id, f->fixed_listing, 1000000);
    t.term_days = 2;
    t.acceptance_days = 30;
    struct store_contract *delivered = market_contract_active(&f->m, &f->buyer, &f->provider, &t);
    struct store_contract *undelivered = market_contract_active(&f->m, &f->buyer, &f->provider, &t);
    struct store_object o;
    upload_for(f, delivered, &o);
    int64_t end = 0;
    assert_int_equal(core_contract_licence_end(delivered, &end, NULL), ERR_OK);
    assert_int_equal(end, delivered->activated_ms + 2 * DAY);
    struct store_delivery dv;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_contract_deliver(&f->m.core, &f->provider.who, delivered->id, MARKET_CONTENT_HASH,
                                 &dv, delivered, &err),
           ERR_OK, &err, NULL);
    assert_string_equal(delivered->state, "delivered");
    /* Tokens minted an hour before the end (a day's TTL would outlive the licence). */
    f->m.clock_state.now_ms = end - HOUR;
    struct store_download_token tok[2];
    char secret[2][DELIVERY_TOKEN_MAX];
    struct store_contract *ks[2] = {delivered, undelivered};
    for (int i = 0; i < 2; i++) {
        int64_t end_i = 0;
        assert_int_equal(core_contract_licence_end(ks[i], &end_i, NULL), ERR_OK);
        f->m.clock_state.now_ms = end_i - HOUR;
        expect(mint(f, ks[i], 24 * HOUR, &tok[i], secret[i], &err), ERR_OK, &err, NULL);
        assert_true(tok[i].expires_ms > end_i);
        assert_int_equal(check(f, secret[i], end_i - 1, &err), DELIVERY_TOKEN_VALID);
        /* From the term's end on, while the row still says active or delivered. */
        f->m.clock_state.now_ms = end_i;
        refused(f, ks[i], secret[i], end_i, "licence term");
        refused(f, ks[i], secret[i], end_i + 20 * HOUR, "licence term");
        market_contract_reload(&f->m, ks[i]);
        assert_string_equal(ks[i]->state, i == 0 ? "delivered" : "active");
    }
    free(delivered);
    free(undelivered);
}

static void test_licence__subscription_ends_with_last_period(void **state)
{
    struct fixture *f = *state;
    market_deposit(&f->m, &f->buyer, 60000);
    struct core_contract_terms t = market_contract_terms(f->buyer.who.id, f->sub_listing, 30000);
    t.tier = "basic";
    t.periods = 2;
    struct store_contract *k = market_contract_active(&f->m, &f->buyer, &f->provider, &t);
    struct store_object o;
    upload_for(f, k, &o);
    /* Period 0 of 2: the licence's own term (365 days) bounds it. */
    int64_t end = 0;
    assert_int_equal(core_contract_licence_end(k, &end, NULL), ERR_OK);
    assert_int_equal(end, k->activated_ms + 365 * DAY);
    f->m.clock_state.now_ms = k->period_end_ms;
    sweep(f);
    market_contract_reload(&f->m, k);
    assert_string_equal(k->state, "active");
    assert_int_equal(k->period, 1);
    /* The last period: licensed until it ends, not for the rest of the 365 days. */
    assert_int_equal(core_contract_licence_end(k, &end, NULL), ERR_OK);
    assert_int_equal(end, k->period_end_ms);
    assert_int_equal(end, k->activated_ms + 60 * DAY);
    f->m.clock_state.now_ms = end - HOUR;
    struct store_download_token tok;
    char secret[DELIVERY_TOKEN_MAX];
    struct errbuf err;
    errbuf_init(&err);
    expect(mint(f, k, 24 * HOUR, &tok, secret, &err), ERR_OK, &err, NULL);
    assert_int_equal(check(f, secret, end - 1, &err), DELIVERY_TOKEN_VALID);
    /* Ended, and the contract clock has not run yet: still "active", already refused. */
    f->m.clock_state.now_ms = end;
    refused(f, k, secret, end, "licence term");
    market_contract_reload(&f->m, k);
    assert_string_equal(k->state, "active");
    /* The clock settles it: refused by state from then on. */
    sweep(f);
    market_contract_reload(&f->m, k);
    assert_string_equal(k->state, "settled");
    refused(f, k, secret, f->m.clock_state.now_ms, "is settled");
    free(k);
}

/* ---- states that end deliveries ---- */

static void test_licence__dispute_and_refund(void **state)
{
    struct fixture *f = *state;
    market_deposit(&f->m, &f->buyer, 1000000);
    struct core_contract_terms t =
        market_contract_terms(f->buyer.who.id, f->fixed_listing, 1000000);
    struct store_contract *k = market_contract_active(&f->m, &f->buyer, &f->provider, &t);
    struct store_object o;
    upload_for(f, k, &o);
    struct store_download_token tok;
    char secret[DELIVERY_TOKEN_MAX];
    struct errbuf err;
    errbuf_init(&err);
    expect(mint(f, k, 0, &tok, secret, &err), ERR_OK, &err, NULL);
    assert_int_equal(check(f, secret, f->m.clock_state.now_ms, &err), DELIVERY_TOKEN_VALID);
    struct store_dispute d;
    expect(
        core_dispute_open(&f->m.core, &f->buyer.who, k->id, "the file is empty", NULL, 0, &d, &err),
        ERR_OK, &err, NULL);
    refused(f, k, secret, f->m.clock_state.now_ms, "is disputed");
    expect(core_dispute_assign(&f->m.core, &f->m.operator, d.id, f->arbitrator.who.id, &d, &err),
           ERR_OK, &err, NULL);
    expect(core_dispute_decide(&f->m.core, &f->arbitrator.who, d.id, "refund", 0, "nothing came",
                               &d, &err),
           ERR_OK, &err, NULL);
    market_contract_reload(&f->m, k);
    assert_string_equal(k->state, "resolved");
    refused(f, k, secret, f->m.clock_state.now_ms, "is resolved");
    free(k);
}

static void test_licence__suspended_then_cancelled(void **state)
{
    struct fixture *f = *state;
    market_deposit(&f->m, &f->buyer, 30000); /* one month of three */
    struct core_contract_terms t = market_contract_terms(f->buyer.who.id, f->sub_listing, 30000);
    t.tier = "basic";
    t.periods = 3;
    struct store_contract *k = market_contract_active(&f->m, &f->buyer, &f->provider, &t);
    struct store_object o;
    upload_for(f, k, &o);
    f->m.clock_state.now_ms = k->period_end_ms - HOUR;
    struct store_download_token tok;
    char secret[DELIVERY_TOKEN_MAX];
    struct errbuf err;
    errbuf_init(&err);
    expect(mint(f, k, 24 * HOUR, &tok, secret, &err), ERR_OK, &err, NULL);
    f->m.clock_state.now_ms = k->period_end_ms;
    sweep(f); /* period 1's hold fails */
    market_contract_reload(&f->m, k);
    assert_string_equal(k->state, "suspended");
    refused(f, k, secret, f->m.clock_state.now_ms, "is suspended");
    struct store_contract *after = calloc(1, sizeof(*after));
    expect(core_contract_cancel(&f->m.core, &f->buyer.who, k->id, "no budget", after, &err), ERR_OK,
           &err, NULL);
    assert_string_equal(after->state, "cancelled");
    refused(f, k, secret, f->m.clock_state.now_ms, "is cancelled");
    free(after);
    free(k);
}

static void test_licence__expired_unsigned(void **state)
{
    struct fixture *f = *state;
    struct core_contract_terms t =
        market_contract_terms(f->buyer.who.id, f->fixed_listing, 1000000);
    struct store_contract *k = market_contract_propose(&f->m, &f->buyer, &t);
    int64_t end = -1;
    assert_int_equal(core_contract_licence_end(k, &end, NULL), ERR_OK);
    assert_int_equal(end, 0); /* never active: nothing licensed */
    refused(f, k, NULL, 0, "is proposed");
    f->m.clock_state.now_ms = k->signing_deadline_ms + 1;
    sweep(f);
    market_contract_reload(&f->m, k);
    assert_string_equal(k->state, "expired");
    refused(f, k, NULL, 0, "is expired");
    free(k);
}

/* A document without a valid term is damage: refused as corrupt, not read as forever. */
static void test_licence__document_without_term(void **state)
{
    struct fixture *f = *state;
    market_deposit(&f->m, &f->buyer, 1000000);
    struct core_contract_terms t =
        market_contract_terms(f->buyer.who.id, f->fixed_listing, 1000000);
    struct store_contract *k = market_contract_active(&f->m, &f->buyer, &f->provider, &t);
    const char *bad[] = {"{", "{\"licence\":{}}", "{\"licence\":{\"term_days\":0}}",
                         "{\"licence\":{\"term_days\":\"365\"}}",
                         "{\"licence\":{\"term_days\":99999999999}}"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct store_contract *damaged = calloc(1, sizeof(*damaged));
        *damaged = *k;
        snprintf(damaged->document, sizeof(damaged->document), "%s", bad[i]);
        int64_t end = -1;
        struct errbuf err;
        errbuf_init(&err);
        expect(core_contract_licence_end(damaged, &end, &err), ERR_CORRUPT, &err, NULL);
        assert_int_equal(end, 0);
        free(damaged);
    }
    free(k);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_licence__term_end_stops_deliveries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_licence__subscription_ends_with_last_period, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_licence__dispute_and_refund, setup, teardown),
        cmocka_unit_test_setup_teardown(test_licence__suspended_then_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_licence__expired_unsigned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_licence__document_without_term, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
