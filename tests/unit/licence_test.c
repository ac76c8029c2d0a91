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

#include "test_support.h"

#include "util/banned.h"

#define CONTENT_HASH "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define DOC_HASH "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define T0 ((int64_t)1795305540000) /* 2026-11-21T23:59:00Z */
#define DAY ((int64_t)86400000)
#define HOUR ((int64_t)3600000)

struct party {
    struct core_principal who;
    char pk[STORE_PUBKEY_MAX];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

struct fixture {
    struct test_clock_state clock_state;
    struct test_rng_state rng_state;
    struct clock clock;
    struct rng rng;
    struct core core;
    struct clearing ledger;
    struct core_principal operator;
    unsigned char operator_sk[crypto_sign_SECRETKEYBYTES];
    struct core_signer signer;
    int party_count;
    char pg_db[64];
    char dir[256];
    struct delivery_custody d;
    struct party quality, legal, provider, buyer, arbitrator;
    char fixed_listing[ID_MAX], sub_listing[ID_MAX];
};

static void expect(enum err got, enum err want, const struct errbuf *err, const char *field)
{
    if (got != want || (field != NULL && strcmp(err->field, field) != 0)) {
        fail_msg("got %s (field '%s': %s), wanted %s (field '%s')", err_name(got), err->field,
                 err->msg, err_name(want), field != NULL ? field : "");
    }
}

/* ---- parties, products and listings (as contract_test.c) ---- */

static enum err test_sign(void *ctx, const unsigned char *msg, size_t len, unsigned char sig[64],
                          struct errbuf *err)
{
    (void)err;
    crypto_sign_detached(sig, NULL, msg, len, ctx);
    return ERR_OK;
}

static void keypair(char pk_b64[STORE_PUBKEY_MAX], unsigned char sk[crypto_sign_SECRETKEYBYTES])
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_keypair(pk, sk);
    sodium_bin2base64(pk_b64, STORE_PUBKEY_MAX, pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
}

static void party_new(struct fixture *f, const char *kind, const char *cert, const char *spec,
                      struct party *p)
{
    memset(p, 0, sizeof(*p));
    keypair(p->pk, p->sk);
    char name[64];
    snprintf(name, sizeof(name), "数据公司 %d Data Co", ++f->party_count);
    const char *specs[1] = {spec};
    struct core_application app = {
        .kind = kind,
        .name = name,
        .country = "DE",
        .contact_name = "王芳",
        .contact_email = "ops@example.de",
        .public_key = p->pk,
        .specialities = spec != NULL ? specs : NULL,
        .specialities_count = spec != NULL ? 1 : 0,
    };
    struct store_entity e;
    struct core_new_key key;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_entity_apply(&f->core, &app, &e, &key, &err), ERR_OK, &err, NULL);
    expect(core_entity_review(&f->core, &f->operator, e.id, "verify", "checked", &e, &err), ERR_OK,
           &err, NULL);
    if (cert != NULL) {
        struct store_cert c;
        expect(core_cert_issue(&f->core, &f->operator, e.id, cert, &c, &err), ERR_OK, &err, NULL);
    }
    assert_int_equal(core_authenticate(&f->core, key.secret, &p->who, NULL), ERR_OK);
}

static void assess(struct fixture *f, const char *rev, const char *kind, const struct party *firm)
{
    struct store_assessment a, out;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_assessment_request(&f->core, &f->provider.who, rev, kind, firm->who.id, &a, &err),
           ERR_OK, &err, NULL);
    json_t *r =
        json_pack("{s:s, s:[], s:s, s:{s:s, s:i}, s:[], s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
                  "assessment_id", a.id, "conditions", "content_hash", a.content_hash, "document",
                  "sha256", DOC_HASH, "size", 100, "findings", "firm_id", a.firm_id, "kind", a.kind,
                  "product_id", a.product_id, "revision_id", a.revision_id, "type",
                  "bourse/assessment-report", "v", 1, "verdict", "pass");
    char *text = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(r);
    unsigned char sig[crypto_sign_BYTES];
    char sig_b64[STORE_SIGNATURE_MAX];
    crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), firm->sk);
    sodium_bin2base64(sig_b64, sizeof(sig_b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    expect(core_assessment_submit(&f->core, &firm->who, a.id, text, sig_b64, &out, &err), ERR_OK,
           &err, NULL);
    store_assessment_release(&a);
    store_assessment_release(&out);
    free(text);
}

/* A listed file product (licence term 365 days) at the given price model. */
static void listed_product(struct fixture *f, const char *title, const char *price,
                           char listing[ID_MAX])
{
    json_t *md = json_pack("{s:s, s:s, s:s, s:s, s:[s], s:s, s:s, s:s, s:s, s:[{s:s, s:s}], "
                           "s:{s:s, s:s, s:s, s:{s:b}}}",
                           "kind", "dataset", "title", title, "description", "企业用电数据",
                           "category", "energy", "use_cases", "信贷评估", "update_frequency",
                           "monthly", "classification", "corporate", "sensitivity", "general",
                           "content_hash", CONTENT_HASH, "schema", "name", "id", "type", "string",
                           "source", "method", "collected", "legal_basis", "contracts",
                           "processing", "aggregated", "personal_information", "contained", 0);
    struct store_product p;
    struct store_revision r;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_product_register(&f->core, &f->provider.who, md, &p, &r, &err), ERR_OK, &err, NULL);
    json_decref(md);
    char rev[ID_MAX];
    snprintf(rev, sizeof(rev), "%s", r.id);
    store_revision_release(&r);
    struct store_rights right;
    expect(core_rights_issue(&f->core, &f->operator, rev, "operation", NULL, &right, &err), ERR_OK,
           &err, NULL);
    assess(f, rev, "quality", &f->quality);
    assess(f, rev, "compliance", &f->legal);
    json_t *body =
        json_pack("{s:s, s:{s:s, s:i, s:[s], s:s, s:b, s:[s]}}", "revision_id", rev, "terms",
                  "purpose", "信贷评估 credit scoring", "term_days", 365, "territory", "CN",
                  "redistribution", "none", "exclusive", 0, "delivery", "file");
    json_object_set_new(body, "price", json_loads(price, 0, NULL));
    struct store_listing l;
    size_t matched = 0;
    expect(core_listing_create(&f->core, &f->provider.who, body, &l, &matched, &err), ERR_OK, &err,
           NULL);
    json_decref(body);
    snprintf(listing, ID_MAX, "%s", l.id);
    store_listing_release(&l);
}

/* ---- PostgreSQL: a fresh database per test when asked ---- */

static int pg_admin_exec(const char *admin, const char *sql)
{
    void *db = NULL;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = store_postgres_ops.open(admin, &db, &err);
    if (rc == ERR_OK) {
        rc = store_postgres_ops.exec(db, sql, &err);
    }
    store_postgres_ops.close(db);
    return rc == ERR_OK;
}

static void store_for_test(struct fixture *f)
{
    static int n;
    const char *admin = getenv("BOURSE_TEST_PG_URL");
    if (admin == NULL || admin[0] == '\0') {
        assert_int_equal(store_open(":memory:", &f->core.store, NULL), ERR_OK);
        return;
    }
    char url[1024], sql[160];
    snprintf(f->pg_db, sizeof(f->pg_db), "t_licence_%ld_%d", (long)getpid(), ++n);
    const char *host = strstr(admin, "://");
    host = host != NULL ? host + 3 : admin;
    const char *query = strchr(host, '?');
    if (query == NULL) {
        query = host + strlen(host);
    }
    const char *path = memchr(host, '/', (size_t)(query - host));
    int prefix = (int)((path != NULL ? path : query) - admin);
    snprintf(url, sizeof(url), "%.*s/%s%s", prefix, admin, f->pg_db, query);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->pg_db);
    assert_true(pg_admin_exec(admin, sql));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->pg_db);
    assert_true(pg_admin_exec(admin, sql));
    struct errbuf err;
    errbuf_init(&err);
    if (store_open(url, &f->core.store, &err) != ERR_OK) {
        fail_msg("cannot open '%s': %s", url, err.msg);
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->clock_state.now_ms = T0;
    f->clock = (struct clock){test_clock_now, &f->clock_state};
    f->rng = (struct rng){test_rng_fill, &f->rng_state};
    f->core.clock = &f->clock;
    f->core.rng = &f->rng;
    store_for_test(f);
    f->ledger.store = f->core.store;
    f->ledger.clock = &f->clock;
    f->ledger.rng = &f->rng;
    keypair(f->signer.public_key, f->operator_sk);
    f->signer.sign = test_sign;
    f->signer.ctx = f->operator_sk;
    f->core.operator_signer = &f->signer;
    int created = 0;
    struct core_new_key key;
    assert_int_equal(core_bootstrap(&f->core, f->signer.public_key, &created, &key, NULL), ERR_OK);
    assert_int_equal(core_authenticate(&f->core, key.secret, &f->operator, NULL), ERR_OK);
    party_new(f, "service_firm", NULL, "quality", &f->quality);
    party_new(f, "service_firm", NULL, "compliance", &f->legal);
    party_new(f, "service_firm", NULL, "arbitration", &f->arbitrator);
    party_new(f, "provider", "data_provider", NULL, &f->provider);
    party_new(f, "buyer", "trading", NULL, &f->buyer);
    listed_product(f, "企业用电画像",
                   "{\"model\": \"fixed\", \"currency\": \"CNY\", \"amount\": 1000000}",
                   f->fixed_listing);
    listed_product(f, "用电月报 monthly",
                   "{\"model\": \"subscription\", \"currency\": \"CNY\", \"period\": \"month\","
                   " \"tiers\": [{\"name\": \"basic\", \"qps\": 10, \"price\": 30000}]}",
                   f->sub_listing);
    struct clearing_fee_schedule_in fee = {"standard", "percentage", "CNY", 250, 100, 0, 0, NULL};
    struct clearing_actor op = {f->operator.id, CLEARING_ROLE_OPERATOR};
    struct store_fee_schedule fs;
    assert_int_equal(clearing_fee_schedule_create(&f->ledger, &op, &fee, &fs, NULL), ERR_OK);
    snprintf(f->dir, sizeof(f->dir), "/tmp/licence-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    unsigned char master[32];
    randombytes_buf(master, sizeof(master));
    assert_int_equal(delivery_custody_init(&f->d, f->core.store, &f->clock, &f->rng, f->dir, master,
                                           1 << 20, NULL),
                     ERR_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    delivery_custody_release(&f->d);
    store_close(f->core.store);
    if (f->pg_db[0] != '\0') {
        char sql[160];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->pg_db);
        pg_admin_exec(getenv("BOURSE_TEST_PG_URL"), sql);
    }
    free(f);
    return 0;
}

/* ---- contracts ---- */

static void deposit(struct fixture *f, int64_t amount)
{
    static int n;
    char ref[32];
    snprintf(ref, sizeof(ref), "bank-%d", ++n);
    struct clearing_actor op = {f->operator.id, CLEARING_ROLE_OPERATOR};
    struct clearing_movement m = {f->buyer.who.id, "CNY", amount, ref, NULL};
    struct store_ledger_transfer t;
    int replayed = 0;
    assert_int_equal(clearing_deposit(&f->ledger, &op, &m, &t, &replayed, NULL), ERR_OK);
}

static struct core_contract_terms terms(struct fixture *f, const char *listing, int64_t price)
{
    struct core_contract_terms t;
    memset(&t, 0, sizeof(t));
    snprintf(t.listing_id, sizeof(t.listing_id), "%s", listing);
    snprintf(t.buyer_id, sizeof(t.buyer_id), "%s", f->buyer.who.id);
    t.origin = "order";
    snprintf(t.origin_id, sizeof(t.origin_id), "ord_aaaaaaaaaaaaaaaaaaaa");
    t.price = price;
    snprintf(t.currency, sizeof(t.currency), "CNY");
    t.exclusive = -1;
    return t;
}

static struct store_contract *propose(struct fixture *f, const struct core_contract_terms *t)
{
    struct store_contract *k = calloc(1, sizeof(*k));
    struct errbuf err;
    errbuf_init(&err);
    expect(core_contract_propose(&f->core, &f->buyer.who, t, k, &err), ERR_OK, &err, NULL);
    return k;
}

static void sign(struct fixture *f, const struct party *p, struct store_contract *k)
{
    unsigned char sig[crypto_sign_BYTES];
    char b64[STORE_SIGNATURE_MAX];
    crypto_sign_detached(sig, NULL, (const unsigned char *)k->document, strlen(k->document), p->sk);
    sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    int hold_failed = 0;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_contract_sign(&f->core, &p->who, k->id, b64, k, &hold_failed, &err), ERR_OK, &err,
           NULL);
    assert_int_equal(hold_failed, 0);
}

static struct store_contract *active_contract(struct fixture *f,
                                              const struct core_contract_terms *t)
{
    struct store_contract *k = propose(f, t);
    sign(f, &f->buyer, k);
    sign(f, &f->provider, k);
    assert_string_equal(k->state, "active");
    return k;
}

static void reload(struct fixture *f, struct store_contract *k)
{
    char id[ID_MAX];
    snprintf(id, sizeof(id), "%s", k->id);
    assert_int_equal(store_contract_get(f->core.store, id, k, NULL), ERR_OK);
}

static void sweep(struct fixture *f)
{
    size_t done = 0;
    assert_int_equal(core_contract_sweep(&f->core, f->clock_state.now_ms, 10, &done, NULL), ERR_OK);
}

/* ---- custody, fed the contract as the server feeds it ---- */

/* The same facts the server hands custody (http__contract_facts). */
static enum err contract_read(void *ctx, const char *contract_id, struct delivery_contract *out,
                              struct errbuf *err)
{
    struct fixture *f = ctx;
    return http__contract_facts(f->core.store, contract_id, out, err);
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
    assert_int_equal(store_query(f->core.store, sql, NULL, 0, count_row, &n, NULL, NULL), ERR_OK);
    return n;
}

static struct snapshot snap(struct fixture *f)
{
    struct snapshot s;
    assert_int_equal(store_event_count(f->core.store, &s.events, NULL), ERR_OK);
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
    deposit(f, 2000000);
    /* A two-day licence whose delivery may be checked for thirty: the window outlives it. */
    struct core_contract_terms t = terms(f, f->fixed_listing, 1000000);
    t.term_days = 2;
    t.acceptance_days = 30;
    struct store_contract *delivered = active_contract(f, &t);
    struct store_contract *undelivered = active_contract(f, &t);
    struct store_object o;
    upload_for(f, delivered, &o);
    int64_t end = 0;
    assert_int_equal(core_contract_licence_end(delivered, &end, NULL), ERR_OK);
    assert_int_equal(end, delivered->activated_ms + 2 * DAY);
    struct store_delivery dv;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_contract_deliver(&f->core, &f->provider.who, delivered->id, CONTENT_HASH, &dv,
                                 delivered, &err),
           ERR_OK, &err, NULL);
    assert_string_equal(delivered->state, "delivered");
    /* Tokens minted an hour before the end (a day's TTL would outlive the licence). */
    f->clock_state.now_ms = end - HOUR;
    struct store_download_token tok[2];
    char secret[2][DELIVERY_TOKEN_MAX];
    struct store_contract *ks[2] = {delivered, undelivered};
    for (int i = 0; i < 2; i++) {
        int64_t end_i = 0;
        assert_int_equal(core_contract_licence_end(ks[i], &end_i, NULL), ERR_OK);
        f->clock_state.now_ms = end_i - HOUR;
        expect(mint(f, ks[i], 24 * HOUR, &tok[i], secret[i], &err), ERR_OK, &err, NULL);
        assert_true(tok[i].expires_ms > end_i);
        assert_int_equal(check(f, secret[i], end_i - 1, &err), DELIVERY_TOKEN_VALID);
        /* From the term's end on, while the row still says active or delivered. */
        f->clock_state.now_ms = end_i;
        refused(f, ks[i], secret[i], end_i, "licence term");
        refused(f, ks[i], secret[i], end_i + 20 * HOUR, "licence term");
        reload(f, ks[i]);
        assert_string_equal(ks[i]->state, i == 0 ? "delivered" : "active");
    }
    free(delivered);
    free(undelivered);
}

static void test_licence__subscription_ends_with_last_period(void **state)
{
    struct fixture *f = *state;
    deposit(f, 60000);
    struct core_contract_terms t = terms(f, f->sub_listing, 30000);
    t.tier = "basic";
    t.periods = 2;
    struct store_contract *k = active_contract(f, &t);
    struct store_object o;
    upload_for(f, k, &o);
    /* Period 0 of 2: the licence's own term (365 days) bounds it. */
    int64_t end = 0;
    assert_int_equal(core_contract_licence_end(k, &end, NULL), ERR_OK);
    assert_int_equal(end, k->activated_ms + 365 * DAY);
    f->clock_state.now_ms = k->period_end_ms;
    sweep(f);
    reload(f, k);
    assert_string_equal(k->state, "active");
    assert_int_equal(k->period, 1);
    /* The last period: licensed until it ends, not for the rest of the 365 days. */
    assert_int_equal(core_contract_licence_end(k, &end, NULL), ERR_OK);
    assert_int_equal(end, k->period_end_ms);
    assert_int_equal(end, k->activated_ms + 60 * DAY);
    f->clock_state.now_ms = end - HOUR;
    struct store_download_token tok;
    char secret[DELIVERY_TOKEN_MAX];
    struct errbuf err;
    errbuf_init(&err);
    expect(mint(f, k, 24 * HOUR, &tok, secret, &err), ERR_OK, &err, NULL);
    assert_int_equal(check(f, secret, end - 1, &err), DELIVERY_TOKEN_VALID);
    /* Ended, and the contract clock has not run yet: still "active", already refused. */
    f->clock_state.now_ms = end;
    refused(f, k, secret, end, "licence term");
    reload(f, k);
    assert_string_equal(k->state, "active");
    /* The clock settles it: refused by state from then on. */
    sweep(f);
    reload(f, k);
    assert_string_equal(k->state, "settled");
    refused(f, k, secret, f->clock_state.now_ms, "is settled");
    free(k);
}

/* ---- states that end deliveries ---- */

static void test_licence__dispute_and_refund(void **state)
{
    struct fixture *f = *state;
    deposit(f, 1000000);
    struct core_contract_terms t = terms(f, f->fixed_listing, 1000000);
    struct store_contract *k = active_contract(f, &t);
    struct store_object o;
    upload_for(f, k, &o);
    struct store_download_token tok;
    char secret[DELIVERY_TOKEN_MAX];
    struct errbuf err;
    errbuf_init(&err);
    expect(mint(f, k, 0, &tok, secret, &err), ERR_OK, &err, NULL);
    assert_int_equal(check(f, secret, f->clock_state.now_ms, &err), DELIVERY_TOKEN_VALID);
    struct store_dispute d;
    expect(
        core_dispute_open(&f->core, &f->buyer.who, k->id, "the file is empty", NULL, 0, &d, &err),
        ERR_OK, &err, NULL);
    refused(f, k, secret, f->clock_state.now_ms, "is disputed");
    expect(core_dispute_assign(&f->core, &f->operator, d.id, f->arbitrator.who.id, &d, &err),
           ERR_OK, &err, NULL);
    expect(core_dispute_decide(&f->core, &f->arbitrator.who, d.id, "refund", 0, "nothing came", &d,
                               &err),
           ERR_OK, &err, NULL);
    reload(f, k);
    assert_string_equal(k->state, "resolved");
    refused(f, k, secret, f->clock_state.now_ms, "is resolved");
    free(k);
}

static void test_licence__suspended_then_cancelled(void **state)
{
    struct fixture *f = *state;
    deposit(f, 30000); /* one month of three */
    struct core_contract_terms t = terms(f, f->sub_listing, 30000);
    t.tier = "basic";
    t.periods = 3;
    struct store_contract *k = active_contract(f, &t);
    struct store_object o;
    upload_for(f, k, &o);
    f->clock_state.now_ms = k->period_end_ms - HOUR;
    struct store_download_token tok;
    char secret[DELIVERY_TOKEN_MAX];
    struct errbuf err;
    errbuf_init(&err);
    expect(mint(f, k, 24 * HOUR, &tok, secret, &err), ERR_OK, &err, NULL);
    f->clock_state.now_ms = k->period_end_ms;
    sweep(f); /* period 1's hold fails */
    reload(f, k);
    assert_string_equal(k->state, "suspended");
    refused(f, k, secret, f->clock_state.now_ms, "is suspended");
    struct store_contract *after = calloc(1, sizeof(*after));
    expect(core_contract_cancel(&f->core, &f->buyer.who, k->id, "no budget", after, &err), ERR_OK,
           &err, NULL);
    assert_string_equal(after->state, "cancelled");
    refused(f, k, secret, f->clock_state.now_ms, "is cancelled");
    free(after);
    free(k);
}

static void test_licence__expired_unsigned(void **state)
{
    struct fixture *f = *state;
    struct core_contract_terms t = terms(f, f->fixed_listing, 1000000);
    struct store_contract *k = propose(f, &t);
    int64_t end = -1;
    assert_int_equal(core_contract_licence_end(k, &end, NULL), ERR_OK);
    assert_int_equal(end, 0); /* never active: nothing licensed */
    refused(f, k, NULL, 0, "is proposed");
    f->clock_state.now_ms = k->signing_deadline_ms + 1;
    sweep(f);
    reload(f, k);
    assert_string_equal(k->state, "expired");
    refused(f, k, NULL, 0, "is expired");
    free(k);
}

/* A document without a valid term is damage: refused as corrupt, not read as forever. */
static void test_licence__document_without_term(void **state)
{
    struct fixture *f = *state;
    deposit(f, 1000000);
    struct core_contract_terms t = terms(f, f->fixed_listing, 1000000);
    struct store_contract *k = active_contract(f, &t);
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
