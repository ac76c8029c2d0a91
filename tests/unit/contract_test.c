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

#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define CONTENT_HASH "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define DOC_HASH "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define T0 ((int64_t)1795305540000) /* 2026-11-21T23:59:00Z */
#define DAY ((int64_t)86400000)

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
    struct party quality, legal, security, provider, buyer, broker, arbitrator, plain_firm;
    char fixed_listing[ID_MAX], sub_listing[ID_MAX], personal_listing[ID_MAX];
    char fee_id[ID_MAX];
};

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

static void expect(enum err got, enum err want, const struct errbuf *err, const char *field)
{
    if (got != want || (field != NULL && strcmp(err->field, field) != 0)) {
        fail_msg("got %s (field '%s': %s), wanted %s (field '%s')", err_name(got), err->field,
                 err->msg, err_name(want), field != NULL ? field : "");
    }
}

static int64_t event_count(struct fixture *f)
{
    int64_t n = -1;
    assert_int_equal(store_event_count(f->core.store, &n, NULL), ERR_OK);
    return n;
}

static void party_new(struct fixture *f, const char *kind, const char *const *certs,
                      const char *spec, struct party *p)
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
    for (size_t i = 0; certs != NULL && certs[i] != NULL; i++) {
        struct store_cert c;
        expect(core_cert_issue(&f->core, &f->operator, e.id, certs[i], &c, &err), ERR_OK, &err,
               NULL);
    }
    assert_int_equal(core_authenticate(&f->core, key.secret, &p->who, NULL), ERR_OK);
}

static void assess(struct fixture *f, const struct party *prov, const char *rev, const char *kind,
                   const struct party *firm)
{
    struct store_assessment a, out;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_assessment_request(&f->core, &prov->who, rev, kind, firm->who.id, &a, &err), ERR_OK,
           &err, NULL);
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

/* A listable product (personal: declares personal information) and its listing. */
static void listed_product(struct fixture *f, const char *title, int personal, const char *price,
                           char listing[ID_MAX])
{
    json_t *md = json_pack(
        "{s:s, s:s, s:s, s:s, s:[s], s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:{s:s, s:s, s:s}}",
        "kind", "dataset", "title", title, "description", "企业用电数据", "category", "energy",
        "use_cases", "信贷评估", "update_frequency", "monthly", "classification",
        personal ? "personal" : "corporate", "sensitivity", "general", "content_hash", CONTENT_HASH,
        "schema", "name", "id", "type", "string", "source", "method", "collected", "legal_basis",
        "contracts", "processing", "aggregated");
    json_t *pi = personal ? json_pack("{s:b, s:s, s:s}", "contained", 1, "basis", "consent",
                                      "evidence", "signed consent forms, archive 2026-11")
                          : json_pack("{s:b}", "contained", 0);
    json_object_set_new(json_object_get(md, "source"), "personal_information", pi);
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
    assess(f, &f->provider, rev, "quality", &f->quality);
    assess(f, &f->provider, rev, "compliance", &f->legal);
    if (personal) {
        assess(f, &f->provider, rev, "security", &f->security);
    }
    json_t *body =
        json_pack("{s:s, s:{s:s, s:i, s:[s], s:s, s:b, s:[s, s]}}", "revision_id", rev, "terms",
                  "purpose", "信贷评估 credit scoring", "term_days", 365, "territory", "CN",
                  "redistribution", "none", "exclusive", 0, "delivery", "file", "api");
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
    if (rc != ERR_OK) {
        fprintf(stderr, "# admin: %s\n", err.msg);
    }
    return rc == ERR_OK;
}

static void pg_url_for(const char *admin, const char *db, char *out, size_t cap)
{
    const char *host = strstr(admin, "://");
    host = host != NULL ? host + 3 : admin;
    const char *query = strchr(host, '?');
    if (query == NULL) {
        query = host + strlen(host);
    }
    const char *path = memchr(host, '/', (size_t)(query - host));
    size_t prefix = (size_t)((path != NULL ? path : query) - admin);
    snprintf(out, cap, "%.*s/%s%s", (int)prefix, admin, db, query);
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
    snprintf(f->pg_db, sizeof(f->pg_db), "t_contract_%ld_%d", (long)getpid(), ++n);
    pg_url_for(admin, f->pg_db, url, sizeof(url));
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

static const char *const seller_certs[] = {"data_provider", NULL};
static const char *const buyer_certs[] = {"trading", NULL};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->clock_state.now_ms = T0;
    f->clock.now_ms = test_clock_now;
    f->clock.ctx = &f->clock_state;
    f->rng.fill = test_rng_fill;
    f->rng.ctx = &f->rng_state;
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
    party_new(f, "service_firm", NULL, "security", &f->security);
    party_new(f, "service_firm", NULL, "arbitration", &f->arbitrator);
    party_new(f, "service_firm", NULL, "legal", &f->plain_firm);
    party_new(f, "provider", seller_certs, NULL, &f->provider);
    party_new(f, "buyer", buyer_certs, NULL, &f->buyer);
    party_new(f, "broker", buyer_certs, NULL, &f->broker);
    listed_product(f, "企业用电画像", 0,
                   "{\"model\": \"fixed\", \"currency\": \"CNY\", \"amount\": 1000000}",
                   f->fixed_listing);
    listed_product(f, "用电 API", 0,
                   "{\"model\": \"subscription\", \"currency\": \"CNY\", \"period\": \"month\","
                   " \"tiers\": [{\"name\": \"basic\", \"qps\": 10, \"price\": 30000}]}",
                   f->sub_listing);
    listed_product(f, "居民用电 Household", 1,
                   "{\"model\": \"fixed\", \"currency\": \"CNY\", \"amount\": 500000}",
                   f->personal_listing);
    /* The standard schedule: 2.5 %, at least 1.00 CNY. */
    struct clearing_fee_schedule_in fee = {"standard", "percentage", "CNY", 250, 100, 0, 0, NULL};
    struct clearing_actor op = {f->operator.id, CLEARING_ROLE_OPERATOR};
    struct store_fee_schedule fs;
    assert_int_equal(clearing_fee_schedule_create(&f->ledger, &op, &fee, &fs, NULL), ERR_OK);
    snprintf(f->fee_id, sizeof(f->fee_id), "%s", fs.id);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->core.store);
    if (f->pg_db[0] != '\0') {
        char sql[160];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->pg_db);
        pg_admin_exec(getenv("BOURSE_TEST_PG_URL"), sql);
    }
    free(f);
    return 0;
}

/* ---- helpers ---- */

static void deposit(struct fixture *f, const struct party *p, int64_t amount)
{
    static int n;
    char ref[32];
    snprintf(ref, sizeof(ref), "bank-%d", ++n);
    struct clearing_actor op = {f->operator.id, CLEARING_ROLE_OPERATOR};
    struct clearing_movement m = {p->who.id, "CNY", amount, ref, NULL};
    struct store_ledger_transfer t;
    int replayed = 0;
    struct errbuf err;
    errbuf_init(&err);
    expect(clearing_deposit(&f->ledger, &op, &m, &t, &replayed, &err), ERR_OK, &err, NULL);
}

/* Net posted balance (credits - debits) and pending (credits - debits) of an account. */
static int64_t balance(struct fixture *f, const char *owner, const char *kind, int64_t *pending)
{
    struct store_ledger_account *a = NULL;
    size_t n = 0;
    assert_int_equal(store_ledger_account_list(f->core.store, owner, &a, &n, NULL), ERR_OK);
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
    expect(clearing_check(f->core.store, r, &err), ERR_OK, &err, NULL);
    free(r);
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

static void sign_with(const unsigned char *sk, const char *text, char out[STORE_SIGNATURE_MAX])
{
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), sk);
    sodium_bin2base64(out, STORE_SIGNATURE_MAX, sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
}

static enum err sign(struct fixture *f, const struct party *p, struct store_contract *k,
                     int *hold_failed, struct errbuf *err)
{
    char sig[STORE_SIGNATURE_MAX];
    sign_with(p->sk, k->document, sig);
    int ignored = 0;
    return core_contract_sign(&f->core, &p->who, k->id, sig, k,
                              hold_failed != NULL ? hold_failed : &ignored, err);
}

/* Proposed and signed by both: active when the buyer has the funds. */
static struct store_contract *active_contract(struct fixture *f,
                                              const struct core_contract_terms *t)
{
    struct store_contract *k = propose(f, t);
    struct errbuf err;
    errbuf_init(&err);
    expect(sign(f, &f->buyer, k, NULL, &err), ERR_OK, &err, NULL);
    int failed = 0;
    expect(sign(f, &f->provider, k, &failed, &err), ERR_OK, &err, NULL);
    assert_int_equal(failed, 0);
    assert_string_equal(k->state, "active");
    return k;
}

/* The row as stored now, to compare with a snapshot. */
static void assert_unchanged(struct fixture *f, const struct store_contract *before,
                             int64_t events_before)
{
    struct store_contract *now = calloc(1, sizeof(*now));
    assert_int_equal(store_contract_get(f->core.store, before->id, now, NULL), ERR_OK);
    assert_string_equal(now->state, before->state);
    assert_int_equal(now->log_index, before->log_index);
    assert_int_equal(now->updated_ms, before->updated_ms);
    assert_int_equal(event_count(f), events_before);
    free(now);
}

/* Reads k again from the store. */
static void reload(struct fixture *f, struct store_contract *k)
{
    char id[ID_MAX];
    snprintf(id, sizeof(id), "%s", k->id);
    assert_int_equal(store_contract_get(f->core.store, id, k, NULL), ERR_OK);
}

static void deliver(struct fixture *f, struct store_contract *k)
{
    struct store_delivery d;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_contract_deliver(&f->core, &f->provider.who, k->id, CONTENT_HASH, &d, k, &err),
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
        struct core_contract_terms t = terms(f, f->fixed_listing, 1000000);
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
        enum err rc = core_contract_propose(&f->core, who, &t, k, &err);
        if (rc != cases[i].want ||
            (cases[i].field != NULL && strcmp(err.field, cases[i].field) != 0)) {
            fail_msg("case '%s': got %s (field '%s': %s)", w, err_name(rc), err.field, err.msg);
        }
        free(k);
    }
    assert_int_equal(event_count(f), before);
    struct store_contract_filter filter = {NULL, NULL, NULL, 10};
    struct store_contract_page page;
    assert_int_equal(core_contract_list(&f->core, &f->operator, & filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 0);
    store_contract_page_release(&page);
}

/* ---- signatures and activation ---- */

static void test_contract__sign_activate(void **state)
{
    struct fixture *f = *state;
    deposit(f, &f->buyer, 1500000);
    struct core_contract_terms t = terms(f, f->fixed_listing, 1000000);
    struct store_contract *k = propose(f, &t);
    assert_string_equal(k->state, "proposed");
    assert_string_equal(k->fee_schedule_id, f->fee_id);
    struct errbuf err;
    errbuf_init(&err);
    int64_t before = event_count(f);
    char sig[STORE_SIGNATURE_MAX];
    int failed = 0;
    /* Signed by another key (the provider's, presented by the buyer). */
    sign_with(f->provider.sk, k->document, sig);
    expect(core_contract_sign(&f->core, &f->buyer.who, k->id, sig, k, &failed, &err), ERR_INVALID,
           &err, "signature");
    /* The buyer's key over other bytes. */
    sign_with(f->buyer.sk, "{\"price\":1}", sig);
    expect(core_contract_sign(&f->core, &f->buyer.who, k->id, sig, k, &failed, &err), ERR_INVALID,
           &err, "signature");
    expect(core_contract_sign(&f->core, &f->buyer.who, k->id, "not base64!", k, &failed, &err),
           ERR_INVALID, &err, "signature");
    /* Not a party: the broker, and a stranger cannot even see it. */
    sign_with(f->broker.sk, k->document, sig);
    expect(core_contract_sign(&f->core, &f->broker.who, k->id, sig, k, &failed, &err),
           ERR_NOT_FOUND, &err, "id");
    assert_unchanged(f, k, before);
    /* The buyer signs; again is refused. */
    expect(sign(f, &f->buyer, k, NULL, &err), ERR_OK, &err, NULL);
    assert_string_equal(k->state, "signed_one");
    int64_t after_one = event_count(f);
    assert_int_equal(after_one, before + 1);
    expect(sign(f, &f->buyer, k, NULL, &err), ERR_BAD_STATE, &err, "state");
    assert_unchanged(f, k, after_one);
    /* Accept, deliver, dispute before activation: wrong state. */
    struct store_delivery d;
    expect(core_contract_deliver(&f->core, &f->provider.who, k->id, CONTENT_HASH, &d, k, &err),
           ERR_BAD_STATE, &err, "state");
    expect(core_contract_accept(&f->core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "state");
    assert_unchanged(f, k, after_one);
    /* The provider signs: countersigned, active, escrow held. */
    expect(sign(f, &f->provider, k, &failed, &err), ERR_OK, &err, NULL);
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
    assert_int_equal(core_contract_signatures(&f->core, &f->buyer.who, k->id, sigs, &n, NULL),
                     ERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(sigs[0].role, "buyer");
    char statement[1024];
    assert_int_equal(
        core_contract_countersign_statement(k, sigs, n, statement, sizeof(statement), NULL),
        ERR_OK);
    assert_non_null(strstr(statement, k->document_sha256));
    expect(core_rights_verify(statement, k->countersignature, f->signer.public_key, &err), ERR_OK,
           &err, NULL);
    /* Cancelling an active contract is refused; so is a second activation. */
    int64_t events = event_count(f);
    expect(core_contract_cancel(&f->core, &f->buyer.who, k->id, "changed my mind", k, &err),
           ERR_BAD_STATE, &err, "state");
    expect(core_contract_activate(&f->core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "state");
    assert_unchanged(f, k, events);
    ledger_ok(f);
    free(k);
}

static void test_contract__insufficient_funds(void **state)
{
    struct fixture *f = *state;
    deposit(f, &f->buyer, 400000);
    struct core_contract_terms t = terms(f, f->fixed_listing, 1000000);
    struct store_contract *k = propose(f, &t);
    struct errbuf err;
    errbuf_init(&err);
    expect(sign(f, &f->buyer, k, NULL, &err), ERR_OK, &err, NULL);
    int failed = 0;
    expect(sign(f, &f->provider, k, &failed, &err), ERR_OK, &err, NULL);
    assert_int_equal(failed, 1);
    assert_string_equal(k->state, "signed_both");
    assert_non_null(strstr(k->note, "insufficient funds"));
    assert_string_equal(k->countersignature, "");
    struct store_contract_signature sigs[2];
    size_t n = 0;
    assert_int_equal(store_contract_signature_list(f->core.store, k->id, sigs, &n, NULL), ERR_OK);
    assert_int_equal(n, 2); /* the second signature stands */
    int64_t events = event_count(f);
    expect(core_contract_activate(&f->core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "amount");
    assert_unchanged(f, k, events);
    assert_int_equal(balance(f, f->buyer.who.id, "available", NULL), 400000);
    deposit(f, &f->buyer, 600000);
    expect(core_contract_activate(&f->core, &f->provider.who, k->id, k, &err), ERR_OK, &err, NULL);
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
    deposit(f, &f->buyer, 2000000);
    struct core_contract_terms t = terms(f, f->personal_listing, 987653);
    t.broker_count = 1;
    snprintf(t.brokers[0].entity_id, ID_MAX, "%s", f->broker.who.id);
    t.brokers[0].commission_bp = 333;
    struct store_contract *k = active_contract(f, &t);
    struct errbuf err;
    errbuf_init(&err);
    /* Only the provider delivers; a bad hash is refused. */
    struct store_delivery d;
    int64_t events = event_count(f);
    expect(core_contract_deliver(&f->core, &f->buyer.who, k->id, CONTENT_HASH, &d, k, &err),
           ERR_FORBIDDEN, &err, "id");
    expect(core_contract_deliver(&f->core, &f->provider.who, k->id, "ABC", &d, k, &err),
           ERR_INVALID, &err, "sha256");
    expect(core_contract_accept(&f->core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "state");
    assert_unchanged(f, k, events);
    deliver(f, k);
    assert_string_equal(k->state, "delivered");
    /* The same delivery again is a replay; other content is refused. */
    events = event_count(f);
    expect(core_contract_deliver(&f->core, &f->provider.who, k->id, CONTENT_HASH, &d, k, &err),
           ERR_OK, &err, NULL);
    expect(core_contract_deliver(&f->core, &f->provider.who, k->id, DOC_HASH, &d, k, &err),
           ERR_BAD_STATE, &err, "state");
    expect(core_contract_accept(&f->core, &f->provider.who, k->id, k, &err), ERR_FORBIDDEN, &err,
           "id");
    assert_unchanged(f, k, events);
    expect(core_contract_accept(&f->core, &f->buyer.who, k->id, k, &err), ERR_OK, &err, NULL);
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
    expect(core_contract_accept(&f->core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "state");
    assert_unchanged(f, k, events);
    ledger_ok(f);
    free(k);
}

/* ---- disputes ---- */

static struct store_contract *disputed(struct fixture *f, struct store_dispute *d)
{
    deposit(f, &f->buyer, 1000000);
    struct core_contract_terms t = terms(f, f->fixed_listing, 1000000);
    struct store_contract *k = active_contract(f, &t);
    deliver(f, k);
    struct errbuf err;
    errbuf_init(&err);
    int64_t events = event_count(f);
    expect(core_contract_reject(&f->core, &f->provider.who, k->id, "no", d, k, &err), ERR_FORBIDDEN,
           &err, "id");
    expect(core_contract_reject(&f->core, &f->buyer.who, k->id, " ", d, k, &err), ERR_INVALID, &err,
           "statement");
    assert_unchanged(f, k, events);
    expect(
        core_contract_reject(&f->core, &f->buyer.who, k->id, "the columns are empty", d, k, &err),
        ERR_OK, &err, NULL);
    assert_string_equal(k->state, "disputed");
    assert_string_equal(d->status, "open");
    /* Held while disputed: the clock does not accept it. */
    f->clock_state.now_ms += 30 * DAY;
    size_t done = 0;
    assert_int_equal(core_contract_sweep(&f->core, f->clock_state.now_ms, 10, &done, NULL), ERR_OK);
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
    expect(core_dispute_assign(&f->core, &f->buyer.who, d.id, f->arbitrator.who.id, &x, &err),
           ERR_FORBIDDEN, &err, NULL);
    expect(core_dispute_assign(&f->core, &f->operator, d.id, f->plain_firm.who.id, &x, &err),
           ERR_INVALID, &err, "arbitrator");
    assert_non_null(strstr(err.msg, "arbitration"));
    expect(core_dispute_assign(&f->core, &f->operator, d.id, f->broker.who.id, &x, &err),
           ERR_INVALID, &err, "arbitrator");
    /* Not yet assigned: the arbitrator cannot even see it. */
    expect(core_dispute_decide(&f->core, &f->arbitrator.who, d.id, "refund", 0, "r", &x, &err),
           ERR_NOT_FOUND, &err, "id");
    assert_int_equal(event_count(f), events);
    expect(core_dispute_assign(&f->core, &f->operator, d.id, f->arbitrator.who.id, &d, &err),
           ERR_OK, &err, NULL);
    assert_string_equal(d.status, "assigned");
    events = event_count(f);
    expect(core_dispute_decide(&f->core, &f->buyer.who, d.id, "refund", 0, "r", &x, &err),
           ERR_FORBIDDEN, &err, "id");
    expect(core_dispute_decide(&f->core, &f->arbitrator.who, d.id, "halve", 0, "r", &x, &err),
           ERR_INVALID, &err, "decision");
    expect(core_dispute_decide(&f->core, &f->arbitrator.who, d.id, "split", 1000000, "r", &x, &err),
           ERR_INVALID, &err, "provider_amount");
    expect(core_dispute_decide(&f->core, &f->arbitrator.who, d.id, "split", 0, "r", &x, &err),
           ERR_INVALID, &err, "provider_amount");
    expect(core_dispute_decide(&f->core, &f->arbitrator.who, d.id, "split", 400000, "", &x, &err),
           ERR_INVALID, &err, "reason");
    assert_int_equal(event_count(f), events);
    int64_t buyer_before = balance(f, f->buyer.who.id, "available", NULL);
    expect(core_dispute_decide(&f->core, &f->arbitrator.who, d.id, "split", 400001,
                               "half the columns were delivered", &d, &err),
           ERR_OK, &err, NULL);
    assert_string_equal(d.status, "decided");
    reload(f, k);
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
    expect(core_dispute_decide(&f->core, &f->arbitrator.who, d.id, "refund", 0, "again", &x, &err),
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
    expect(core_dispute_assign(&f->core, &f->operator, d.id, f->arbitrator.who.id, &d, &err),
           ERR_OK, &err, NULL);
    expect(core_dispute_decide(&f->core, &f->arbitrator.who, d.id, "refund", 0, "nothing came", &d,
                               &err),
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
    deposit(f, &f->buyer, 1000000);
    struct core_contract_terms t = terms(f, f->fixed_listing, 1000000);
    struct store_contract *k = active_contract(f, &t);
    struct errbuf err;
    errbuf_init(&err);
    struct store_dispute d;
    int64_t ev[2] = {k->log_index, 0};
    int64_t events = event_count(f);
    /* Not integrated yet: not citable. */
    expect(core_dispute_open(&f->core, &f->provider.who, k->id, "unpaid", ev, 1, &d, &err),
           ERR_INVALID, &err, "evidence[0]");
    expect(core_dispute_open(&f->core, &f->broker.who, k->id, "x", NULL, 0, &d, &err),
           ERR_NOT_FOUND, &err, "id");
    assert_unchanged(f, k, events);
    struct tlog_signer signer;
    uint8_t seed[TLOG_SEED_LEN] = {7};
    assert_int_equal(tlog_signer_from_seed("bourse.test/log", seed, &signer, NULL), ERR_OK);
    f->core.log_signer = &signer;
    int64_t size = 0;
    assert_int_equal(core_log_integrate(&f->core, CORE_LOG_BATCH_MAX, &size, NULL), ERR_OK);
    expect(core_dispute_open(&f->core, &f->provider.who, k->id, "unpaid", ev, 2, &d, &err), ERR_OK,
           &err, NULL);
    struct store_event e;
    assert_int_equal(core_log_entry(&f->core, k->log_index, &e, NULL), ERR_OK);
    uint8_t leaf[TLOG_HASH_LEN];
    char hex[2 * TLOG_HASH_LEN + 1];
    tlog_leaf_hash(e.leaf, e.leaf_len, leaf);
    sodium_bin2hex(hex, sizeof(hex), leaf, sizeof(leaf));
    store_event_release(&e);
    assert_non_null(strstr(d.evidence, hex));
    f->core.log_signer = NULL;
    tlog_signer_release(&signer);
    free(k);
}

/* ---- the clock ---- */

static void test_contract__sweep_expire_accept(void **state)
{
    struct fixture *f = *state;
    deposit(f, &f->buyer, 1000000);
    struct core_contract_terms t = terms(f, f->fixed_listing, 1000000);
    struct store_contract *late = propose(f, &t);
    struct errbuf err;
    errbuf_init(&err);
    expect(sign(f, &f->buyer, late, NULL, &err), ERR_OK, &err, NULL);
    struct store_contract *k = active_contract(f, &t);
    deliver(f, k);
    size_t done = 0;
    assert_int_equal(core_contract_sweep(&f->core, f->clock_state.now_ms, 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 0);
    /* Past the signing deadline and the acceptance window (both 7 days). */
    f->clock_state.now_ms += 7 * DAY + 1000;
    int failed = 0;
    expect(sign(f, &f->provider, late, &failed, &err), ERR_BAD_STATE, &err, "state");
    expect(core_contract_accept(&f->core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "state");
    assert_int_equal(core_contract_sweep(&f->core, f->clock_state.now_ms, 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 2);
    reload(f, late);
    assert_string_equal(late->state, "expired");
    reload(f, k);
    assert_string_equal(k->state, "settled");
    assert_int_equal(balance(f, f->provider.who.id, "available", NULL), 1000000 - 25000);
    assert_int_equal(core_contract_sweep(&f->core, f->clock_state.now_ms, 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 0);
    ledger_ok(f);
    free(late);
    free(k);
}

static void test_contract__subscription_periods(void **state)
{
    struct fixture *f = *state;
    deposit(f, &f->buyer, 60000); /* two of three months */
    struct core_contract_terms t = terms(f, f->sub_listing, 30000);
    t.tier = "basic";
    t.periods = 3;
    struct store_contract *k = active_contract(f, &t);
    assert_string_equal(k->plan, "periodic");
    assert_int_equal(k->period_days, 30);
    struct errbuf err;
    errbuf_init(&err);
    size_t done = 0;
    int64_t pending = 0;
    assert_int_equal(balance(f, f->buyer.who.id, "escrow", &pending), 0);
    assert_int_equal(pending, 30000); /* one period at a time */
    f->clock_state.now_ms += 30 * DAY;
    assert_int_equal(core_contract_sweep(&f->core, f->clock_state.now_ms, 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 1);
    reload(f, k);
    assert_string_equal(k->state, "active");
    assert_int_equal(k->period, 1);
    assert_int_equal(balance(f, f->provider.who.id, "available", NULL), 30000 - 750);
    f->clock_state.now_ms += 30 * DAY;
    assert_int_equal(core_contract_sweep(&f->core, f->clock_state.now_ms, 10, &done, NULL), ERR_OK);
    reload(f, k);
    assert_string_equal(k->state, "suspended"); /* period 2's hold failed */
    assert_int_equal(k->period, 2);
    assert_int_equal(balance(f, f->provider.who.id, "available", NULL), 2 * (30000 - 750));
    int64_t events = event_count(f);
    expect(core_contract_activate(&f->core, &f->buyer.who, k->id, k, &err), ERR_BAD_STATE, &err,
           "amount");
    assert_unchanged(f, k, events);
    deposit(f, &f->buyer, 30000);
    expect(core_contract_activate(&f->core, &f->buyer.who, k->id, k, &err), ERR_OK, &err, NULL);
    assert_string_equal(k->state, "active");
    f->clock_state.now_ms += 30 * DAY;
    assert_int_equal(core_contract_sweep(&f->core, f->clock_state.now_ms, 10, &done, NULL), ERR_OK);
    reload(f, k);
    assert_string_equal(k->state, "settled");
    assert_int_equal(balance(f, f->provider.who.id, "available", NULL), 3 * (30000 - 750));
    assert_int_equal(balance(f, f->buyer.who.id, "available", &pending), 0);
    assert_int_equal(pending, 0);
    struct store_contract_period per[4];
    size_t n = 0;
    assert_int_equal(core_contract_periods(&f->core, &f->buyer.who, k->id, per, 4, &n, NULL),
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
    struct core_contract_terms t = terms(f, f->fixed_listing, 1000000);
    struct store_contract *k = propose(f, &t);
    struct errbuf err;
    errbuf_init(&err);
    struct store_contract *x = calloc(1, sizeof(*x));
    expect(core_contract_get(&f->core, &f->plain_firm.who, k->id, x, &err), ERR_NOT_FOUND, &err,
           "id");
    expect(core_contract_get(&f->core, &f->operator, k->id, x, &err), ERR_OK, &err, NULL);
    int64_t events = event_count(f);
    expect(core_contract_cancel(&f->core, &f->operator, k->id, NULL, k, &err), ERR_FORBIDDEN, &err,
           "id");
    assert_unchanged(f, k, events);
    expect(core_contract_cancel(&f->core, &f->provider.who, k->id, "price error", k, &err), ERR_OK,
           &err, NULL);
    assert_string_equal(k->state, "cancelled");
    expect(sign(f, &f->buyer, k, NULL, &err), ERR_BAD_STATE, &err, "state");
    struct store_contract_filter filter = {NULL, "cancelled", NULL, 10};
    struct store_contract_page page;
    assert_int_equal(core_contract_list(&f->core, &f->buyer.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 1);
    store_contract_page_release(&page);
    assert_int_equal(core_contract_list(&f->core, &f->plain_firm.who, &filter, &page, NULL),
                     ERR_OK);
    assert_int_equal(page.count, 0);
    store_contract_page_release(&page);
    filter.state = "lost";
    expect(core_contract_list(&f->core, &f->buyer.who, &filter, &page, &err), ERR_INVALID, &err,
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
