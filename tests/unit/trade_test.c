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

#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define CONTENT_HASH "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define DOC_HASH "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define T0 ((int64_t)1795305540000) /* 2026-11-21T19:19:00Z */
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
    struct core_principal operator;
    unsigned char operator_sk[crypto_sign_SECRETKEYBYTES];
    struct core_signer signer;
    int party_count;
    struct party quality, legal, security;
    char pg_db[64]; /* the PostgreSQL database of this test, "" on SQLite */
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
    assert_int_equal(store_event_count(f->core.store, &n, NULL), ERR_OK);
    return n;
}

static int64_t order_count(struct fixture *f)
{
    int64_t n = -1;
    assert_int_equal(store_order_count(f->core.store, &n, NULL), ERR_OK);
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
    assert_int_equal(store_tx_depth(f->core.store), 0);
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
    assert_int_equal(store_event_range(f->core.store, seq, 1, &ev, &n, NULL), ERR_OK);
    assert_int_equal(n, 1);
    char *leaf = mem_strdup(ev[0].leaf);
    store_event_release(&ev[0]);
    mem_free(ev);
    return leaf;
}

/* A valid unified social credit code, distinct for each n (GB 32100-2015's check). */
static void uscc_make(int n, char out[CORE_USCC_LEN + 1])
{
    static const char cs[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    snprintf(out, CORE_USCC_LEN + 1, "91110000%09d", n);
    int sum = 0, w = 1;
    for (int i = 0; i < CORE_USCC_LEN - 1; i++) {
        sum += (int)(strchr(cs, out[i]) - cs) * w;
        w = w * 3 % 31;
    }
    out[CORE_USCC_LEN - 1] = cs[(31 - sum % 31) % 31];
    out[CORE_USCC_LEN] = '\0';
}

/* A verified entity of kind in country; certs NULL-ended certificate types. */
static void party_new(struct fixture *f, const char *kind, const char *country,
                      const char *const *certs, const char *spec, struct party *p)
{
    memset(p, 0, sizeof(*p));
    keypair(p->pk, p->sk);
    char name[64];
    snprintf(name, sizeof(name), "交易公司 %d Trading Co", ++f->party_count);
    const char *specs[1] = {spec};
    struct core_application app = {
        .kind = kind,
        .name = name,
        .country = country,
        .contact_name = "李雷",
        .contact_email = "ops@example.cn",
        .public_key = p->pk,
        .specialities = spec != NULL ? specs : NULL,
        .specialities_count = spec != NULL ? 1 : 0,
    };
    char uscc[CORE_USCC_LEN + 1];
    if (strcmp(country, "CN") == 0) {
        uscc_make(f->party_count, uscc);
        app.uscc = uscc;
    }
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

static const char *const seller_certs[] = {"data_provider", NULL};
static const char *const buyer_certs[] = {"trading", NULL};
static const char *const border_certs[] = {"trading", "cross_border", NULL};

/* ---- the store: SQLite in memory, or a fresh PostgreSQL database ---- */

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

/* The admin URL with its database replaced by db. */
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
    static int serial;
    const char *admin = getenv("BOURSE_TEST_PG_URL");
    if (admin == NULL || admin[0] == '\0') {
        assert_int_equal(store_open(":memory:", &f->core.store, NULL), ERR_OK);
        return;
    }
    char sql[128], url[1024];
    snprintf(f->pg_db, sizeof(f->pg_db), "t_trade_%ld_%d", (long)getpid(), ++serial);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->pg_db);
    assert_true(pg_admin_exec(admin, sql));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->pg_db);
    assert_true(pg_admin_exec(admin, sql));
    pg_url_for(admin, f->pg_db, url, sizeof(url));
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
    f->clock.now_ms = test_clock_now;
    f->clock.ctx = &f->clock_state;
    f->rng.fill = test_rng_fill;
    f->rng.ctx = &f->rng_state;
    f->core.clock = &f->clock;
    f->core.rng = &f->rng;
    store_for_test(f);
    keypair(f->signer.public_key, f->operator_sk);
    f->signer.sign = test_sign;
    f->signer.ctx = f->operator_sk;
    f->core.operator_signer = &f->signer;
    int created = 0;
    struct core_new_key key;
    assert_int_equal(core_bootstrap(&f->core, f->signer.public_key, &created, &key, NULL), ERR_OK);
    assert_int_equal(core_authenticate(&f->core, key.secret, &f->operator, NULL), ERR_OK);
    party_new(f, "service_firm", "CN", NULL, "quality", &f->quality);
    party_new(f, "service_firm", "CN", NULL, "compliance", &f->legal);
    party_new(f, "service_firm", "CN", NULL, "security", &f->security);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->core.store);
    if (f->pg_db[0] != '\0') {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->pg_db);
        pg_admin_exec(getenv("BOURSE_TEST_PG_URL"), sql);
    }
    free(f);
    return 0;
}

/* ---- a market ---- */

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

/* A listable product of the given sensitivity ("general", "important"); its revision in rev. */
static void product_new(struct fixture *f, const struct party *prov, const char *title,
                        const char *sensitivity, char rev[ID_MAX])
{
    json_t *md = json_pack(
        "{s:s, s:s, s:s, s:s, s:[s], s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:{s:s, s:s, s:s, "
        "s:{s:b}}}",
        "kind", "dataset", "title", title, "description", "企业用电画像 electricity profile",
        "category", "energy", "use_cases", "信贷评估", "update_frequency", "monthly",
        "classification", "corporate", "sensitivity", sensitivity, "content_hash", CONTENT_HASH,
        "schema", "name", "id", "type", "string", "source", "method", "collected", "legal_basis",
        "contracts", "processing", "aggregated", "personal_information", "contained", 0);
    struct store_product p;
    struct store_revision r;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_product_register(&f->core, &prov->who, md, &p, &r, &err), ERR_OK, &err, NULL);
    json_decref(md);
    snprintf(rev, ID_MAX, "%s", r.id);
    store_revision_release(&r);
    struct store_rights right;
    expect(core_rights_issue(&f->core, &f->operator, rev, "operation", NULL, &right, &err), ERR_OK,
           &err, NULL);
    assess(f, prov, rev, "quality", &f->quality);
    assess(f, prov, rev, "compliance", &f->legal);
    if (strcmp(sensitivity, "important") == 0) {
        assess(f, prov, rev, "security", &f->security);
    }
}

/* Lists rev with a price model (JSON text) and exclusivity; extra (JSON object text or NULL)
 * is merged into the body. The listing's id goes to id. */
static void list(struct fixture *f, const struct party *prov, const char *rev, const char *price,
                 int exclusive, const char *extra, char id[ID_MAX])
{
    json_t *b = json_pack("{s:s, s:o, s:{s:s, s:i, s:[s], s:s, s:b, s:[s]}}", "revision_id", rev,
                          "price", json_loads(price, 0, NULL), "terms", "purpose", "信贷评估",
                          "term_days", 365, "territory", "CN", "redistribution", "none",
                          "exclusive", exclusive, "delivery", "file");
    assert_non_null(b);
    if (extra != NULL) {
        json_t *x = json_loads(extra, 0, NULL);
        assert_non_null(x);
        json_object_update(b, x);
        json_decref(x);
    }
    struct store_listing l;
    size_t m = 0;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_listing_create(&f->core, &prov->who, b, &l, &m, &err), ERR_OK, &err, NULL);
    json_decref(b);
    snprintf(id, ID_MAX, "%s", l.id);
    store_listing_release(&l);
}

#define FIXED "{\"model\":\"fixed\",\"currency\":\"CNY\",\"amount\":500000}"

static void order_ok(struct fixture *f, const struct party *buyer, const char *listing,
                     struct store_order *o)
{
    struct core_order_request r = {listing, NULL, 0, -1, NULL};
    struct errbuf err;
    errbuf_init(&err);
    enum core_trade_rule rule = CORE_RULE__COUNT;
    expect(core_order_place(&f->core, &buyer->who, &r, o, &rule, &err), ERR_OK, &err, NULL);
    assert_int_equal(rule, CORE_RULE_NONE);
}

/* ---- orders and the rules ---- */

static void test_trade__order_at_the_listed_price(void **state)
{
    struct fixture *f = *state;
    struct party prov, bank;
    party_new(f, "provider", "CN", seller_certs, NULL, &prov);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &bank);
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
        enum err rc = core_order_place(&f->core, &bank.who, &cases[i].r, &o, &rule, &err);
        expect_rule(rc, &rule, cases[i].want, cases[i].rule, &err, cases[i].field);
        unchanged(f, before);
    }
    /* The order, at 500000, and its contract proposed in the same transaction. */
    int64_t before = event_count(f);
    struct core_order_request r = {lst, NULL, 0, 500000, "CNY"};
    expect(core_order_place(&f->core, &bank.who, &r, &o, &rule, &err), ERR_OK, &err, NULL);
    assert_int_equal(o.price, 500000);
    assert_int_equal(o.periods, 1);
    assert_string_equal(o.source, "order");
    assert_string_equal(o.buyer_id, bank.who.id);
    assert_string_equal(o.provider_id, prov.who.id);
    assert_true(id_valid(o.contract_id, "ctr"));
    assert_int_equal(event_count(f), before + 2); /* contract.proposed, order.placed */
    struct store_contract *k = calloc(1, sizeof(*k));
    assert_int_equal(core_contract_get(&f->core, &bank.who, o.contract_id, k, NULL), ERR_OK);
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
    assert_int_equal(core_order_get(&f->core, &prov.who, o.id, &got, NULL), ERR_OK);
    assert_int_equal(core_order_get(&f->core, &f->operator, o.id, &got, NULL), ERR_OK);
    struct party other;
    party_new(f, "buyer", "CN", buyer_certs, NULL, &other);
    assert_int_equal(core_order_get(&f->core, &other.who, o.id, &got, NULL), ERR_NOT_FOUND);
    struct store_order_filter filter = {NULL, NULL, NULL, 10};
    struct store_order_page page;
    assert_int_equal(core_order_list(&f->core, &other.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 0);
    store_order_page_release(&page);
    filter.limit = 1;
    assert_int_equal(core_order_list(&f->core, &bank.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.items[0].id, again.id);
    char cursor[STORE_CURSOR_MAX];
    snprintf(cursor, sizeof(cursor), "%s", page.next_cursor);
    store_order_page_release(&page);
    filter.cursor = cursor;
    assert_int_equal(core_order_list(&f->core, &bank.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 1);
    assert_string_equal(page.items[0].id, o.id);
    assert_string_equal(page.next_cursor, "");
    store_order_page_release(&page);
}

static void test_trade__qualification(void **state)
{
    struct fixture *f = *state;
    struct party prov, nocert, abroad, abroad_border, border_cn, bank, firm;
    party_new(f, "provider", "CN",
              (const char *const[]){"data_provider", "trading", "cross_border", NULL}, NULL, &prov);
    party_new(f, "buyer", "CN", NULL, NULL, &nocert);
    party_new(f, "buyer", "DE", buyer_certs, NULL, &abroad);
    party_new(f, "buyer", "DE", border_certs, NULL, &abroad_border);
    party_new(f, "buyer", "CN", border_certs, NULL, &border_cn);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &bank);
    firm = f->quality;
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
        {&f->operator, lst, ERR_FORBIDDEN, CORE_RULE_NOT_QUALIFIED, "buyer"},
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
        enum err rc = core_order_place(&f->core, cases[i].who, &r, &o, &rule, &err);
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
    assess(f, &prov, important, "cross_border", &f->security);
    order_ok(f, &abroad_border, imp_lst, &o);
    /* A revoked trading certificate disqualifies. */
    struct store_cert *certs = NULL;
    size_t n = 0;
    assert_int_equal(store_cert_list(f->core.store, bank.who.id, &certs, &n, NULL), ERR_OK);
    assert_int_equal(n, 1);
    struct store_cert revoked;
    assert_int_equal(core_cert_revoke(&f->core, &f->operator, bank.who.id, certs[0].id, "lapsed",
                                      &revoked, NULL),
                     ERR_OK);
    mem_free(certs);
    struct snapshot before = snap(f);
    struct core_order_request r = {lst, NULL, 0, -1, NULL};
    struct errbuf err;
    errbuf_init(&err);
    enum core_trade_rule rule = CORE_RULE_NONE;
    expect_rule(core_order_place(&f->core, &bank.who, &r, &o, &rule, &err), &rule, ERR_FORBIDDEN,
                CORE_RULE_NOT_QUALIFIED, &err, "buyer");
    unchanged(f, before);
    /* A delisted listing is not traded. */
    struct store_listing l;
    assert_int_equal(core_listing_delist(&f->core, &prov.who, lst, NULL, &l, NULL), ERR_OK);
    store_listing_release(&l);
    before = snap(f);
    expect(core_order_place(&f->core, &abroad_border.who, &r, &o, &rule, &err), ERR_BAD_STATE, &err,
           "listing_id");
    unchanged(f, before);
}

static void test_trade__subscription_tiers(void **state)
{
    struct fixture *f = *state;
    struct party prov, bank;
    party_new(f, "provider", "CN", seller_certs, NULL, &prov);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &bank);
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
    expect(core_order_place(&f->core, &bank.who, &r, &o, &rule, &err), ERR_INVALID, &err, "tier");
    r.tier = "platinum";
    expect(core_order_place(&f->core, &bank.who, &r, &o, &rule, &err), ERR_INVALID, &err, "tier");
    r.tier = "pro";
    r.periods = CORE_CONTRACT_PERIODS_MAX + 1;
    expect(core_order_place(&f->core, &bank.who, &r, &o, &rule, &err), ERR_INVALID, &err,
           "periods");
    r.periods = 3;
    r.price = 1900000; /* one period's price is not the whole */
    expect_rule(core_order_place(&f->core, &bank.who, &r, &o, &rule, &err), &rule, ERR_INVALID,
                CORE_RULE_PRICE_OUTSIDE_TERMS, &err, "price");
    unchanged(f, before);
    r.price = 5700000;
    expect(core_order_place(&f->core, &bank.who, &r, &o, &rule, &err), ERR_OK, &err, NULL);
    assert_string_equal(o.tier, "pro");
    assert_int_equal(o.unit_price, 1900000);
    assert_int_equal(o.periods, 3);
    assert_int_equal(o.price, 5700000);
    /* Without periods: the licence term, 365 days, is 13 months of 30 days. */
    struct core_order_request whole = {lst, "basic", 0, -1, NULL};
    expect(core_order_place(&f->core, &bank.who, &whole, &o, &rule, &err), ERR_OK, &err, NULL);
    assert_int_equal(o.periods, 13);
    assert_int_equal(o.price, 13 * 300000);
}

static void test_trade__exclusive_licence_sold_once(void **state)
{
    struct fixture *f = *state;
    struct party prov, a, b;
    party_new(f, "provider", "CN", seller_certs, NULL, &prov);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &a);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &b);
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
        expect_rule(core_order_place(&f->core, i == 0 ? &b.who : &a.who, &r, &o, &rule, &err),
                    &rule, ERR_CONFLICT, CORE_RULE_EXCLUSIVITY_SOLD, &err, "listing_id");
        unchanged(f, before);
    }
    /* The store refuses a second holder even if a rule were skipped. */
    struct store_order dup = first;
    snprintf(dup.id, sizeof(dup.id), "ord_00000000000000000000");
    assert_int_equal(store_tx_begin(f->core.store, NULL), ERR_OK);
    assert_int_equal(store_order_insert(f->core.store, &dup, &err), ERR_CONFLICT);
    store_tx_rollback(f->core.store);
    /* Cancelling the holder's contract gives the exclusivity back. */
    struct store_contract *k = calloc(1, sizeof(*k));
    expect(core_contract_cancel(&f->core, &a.who, first.contract_id, "changed plans", k, &err),
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
    assert_int_equal(store_order_exclusive_holder(f->core.store, lst, &holder, &found, NULL),
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
    struct party prov, bank, other;
    party_new(f, "provider", "CN", seller_certs, NULL, &prov);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &bank);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &other);
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
        expect_rule(core_negotiation_open(&f->core, &bank.who, lst, &o1, 0, &n, &rule, &err), &rule,
                    bad[i].want, bad[i].rule, &err, bad[i].field);
        assert_null(strstr(err.msg, "700000")); /* the floor stays the provider's secret */
        unchanged(f, before);
    }
    struct core_offer o1 = {750000, "CNY", NULL, 0};
    expect(core_negotiation_open(&f->core, &bank.who, lst, &o1, 10, &n, &rule, &err), ERR_INVALID,
           &err, "expires_in");
    struct core_order_request r = {lst, NULL, 0, -1, NULL};
    expect_rule(core_order_place(&f->core, &bank.who, &r, &o, &rule, &err), &rule, ERR_INVALID,
                CORE_RULE_PRICE_OUTSIDE_TERMS, &err, "listing_id");
    /* Buyer 750000; the buyer cannot counter itself, nor accept its own offer. */
    expect(core_negotiation_open(&f->core, &bank.who, lst, &o1, 0, &n, &rule, &err), ERR_OK, &err,
           NULL);
    assert_string_equal(n.status, "open");
    assert_int_equal(n.offers, 1);
    char *leaf = leaf_of(f, n.log_index);
    assert_non_null(strstr(leaf, "\"negotiation.opened\""));
    assert_null(strstr(leaf, "750000")); /* the log shows the steps, not the prices */
    mem_free(leaf);
    struct snapshot before = snap(f);
    struct core_offer o2 = {800000, NULL, NULL, 0};
    expect(core_negotiation_offer(&f->core, &bank.who, n.id, &o2, &got, &rule, &err), ERR_BAD_STATE,
           &err, "id");
    expect(core_negotiation_accept(&f->core, &bank.who, n.id, &got, &o, &rule, &err), ERR_BAD_STATE,
           &err, "id");
    expect(core_negotiation_offer(&f->core, &other.who, n.id, &o2, &got, &rule, &err),
           ERR_NOT_FOUND, &err, "id");
    unchanged(f, before);
    /* The provider counters at 900000 with a shorter term; then the buyer at 850000. */
    struct core_offer o3 = {900000, NULL, NULL, 180};
    expect(core_negotiation_offer(&f->core, &prov.who, n.id, &o3, &got, &rule, &err), ERR_OK, &err,
           NULL);
    assert_int_equal(got.offers, 2);
    assert_string_equal(got.last_by, prov.who.id);
    assert_non_null(strstr(got.terms, "\"term_days\":180"));
    expect(core_negotiation_accept(&f->core, &prov.who, n.id, &got, &o, &rule, &err), ERR_BAD_STATE,
           &err, "id");
    struct core_offer o4 = {850000, NULL, "贷后管理 loan monitoring", 0};
    expect(core_negotiation_offer(&f->core, &bank.who, n.id, &o4, &got, &rule, &err), ERR_OK, &err,
           NULL);
    assert_non_null(strstr(got.terms, "\"term_days\":180"));
    assert_non_null(strstr(got.terms, "loan monitoring"));
    /* Others do not see it; the operator does. */
    assert_int_equal(core_negotiation_get(&f->core, &other.who, n.id, &got, NULL), ERR_NOT_FOUND);
    assert_int_equal(core_negotiation_get(&f->core, &f->operator, n.id, &got, NULL), ERR_OK);
    struct store_negotiation_filter filter = {NULL, NULL, NULL, 10};
    struct store_negotiation_page page;
    assert_int_equal(core_negotiation_list(&f->core, &other.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 0);
    store_negotiation_page_release(&page);
    assert_int_equal(core_negotiation_list(&f->core, &prov.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 1);
    store_negotiation_page_release(&page);
    /* The provider accepts: the order at 850000 on the agreed terms. */
    int64_t events = event_count(f);
    expect(core_negotiation_accept(&f->core, &prov.who, n.id, &got, &o, &rule, &err), ERR_OK, &err,
           NULL);
    assert_string_equal(got.status, "accepted");
    assert_string_equal(got.order_id, o.id);
    assert_string_equal(o.source, "negotiation");
    assert_string_equal(o.source_id, n.id);
    assert_string_equal(o.buyer_id, bank.who.id);
    assert_int_equal(o.price, 850000);
    assert_non_null(strstr(o.terms, "loan monitoring"));
    assert_int_equal(event_count(f), events + 3); /* contract, order, negotiation.accepted */
    struct store_contract *k = calloc(1, sizeof(*k));
    assert_int_equal(core_contract_get(&f->core, &bank.who, o.contract_id, k, NULL), ERR_OK);
    assert_int_equal(k->price, 850000);
    assert_string_equal(k->origin, "negotiation");
    assert_non_null(strstr(k->document, "loan monitoring"));
    free(k);
    struct store_negotiation_offer *offers = NULL;
    size_t count = 0;
    assert_int_equal(core_negotiation_offers(&f->core, &bank.who, n.id, &offers, &count, NULL),
                     ERR_OK);
    assert_int_equal(count, 3);
    assert_int_equal(offers[0].price, 750000);
    assert_int_equal(offers[1].price, 900000);
    assert_string_equal(offers[2].by_id, bank.who.id);
    mem_free(offers);
    /* Closed: no more steps. A second negotiation is rejected by the buyer. */
    before = snap(f);
    expect(core_negotiation_offer(&f->core, &prov.who, n.id, &o2, &got, &rule, &err), ERR_BAD_STATE,
           &err, "id");
    expect(core_negotiation_reject(&f->core, &bank.who, n.id, NULL, &got, &err), ERR_BAD_STATE,
           &err, "id");
    unchanged(f, before);
    expect(core_negotiation_open(&f->core, &other.who, lst, &o1, 0, &n, &rule, &err), ERR_OK, &err,
           NULL);
    expect(core_negotiation_reject(&f->core, &other.who, n.id, "价格太高 too dear", &got, &err),
           ERR_OK, &err, NULL);
    assert_string_equal(got.status, "rejected");
    assert_string_equal(got.closed_by, other.who.id);
}

static void test_trade__negotiation_expires(void **state)
{
    struct fixture *f = *state;
    struct party prov, bank;
    party_new(f, "provider", "CN", seller_certs, NULL, &prov);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &bank);
    char rev[ID_MAX], lst[ID_MAX];
    product_new(f, &prov, "智慧停车 Smart parking", "general", rev);
    list(f, &prov, rev, NEGOTIABLE, 0, NULL, lst);
    struct errbuf err;
    errbuf_init(&err);
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct store_negotiation n, got;
    struct core_offer o1 = {800000, NULL, NULL, 0};
    expect(core_negotiation_open(&f->core, &bank.who, lst, &o1, 60, &n, &rule, &err), ERR_OK, &err,
           NULL);
    size_t done = 9;
    assert_int_equal(core_trade_sweep(&f->core, T0 + 30000, 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 0);
    f->clock_state.now_ms += 61000;
    struct snapshot before = snap(f);
    struct core_offer o2 = {900000, NULL, NULL, 0};
    expect(core_negotiation_offer(&f->core, &prov.who, n.id, &o2, &got, &rule, &err), ERR_BAD_STATE,
           &err, "id");
    struct store_order o;
    expect(core_negotiation_accept(&f->core, &prov.who, n.id, &got, &o, &rule, &err), ERR_BAD_STATE,
           &err, "id");
    unchanged(f, before);
    assert_int_equal(core_trade_sweep(&f->core, clock_now(&f->clock), 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 1);
    assert_int_equal(core_negotiation_get(&f->core, &bank.who, n.id, &got, NULL), ERR_OK);
    assert_string_equal(got.status, "expired");
    assert_string_equal(got.closed_by, "trading");
    char *leaf = leaf_of(f, got.log_index);
    assert_non_null(strstr(leaf, "\"negotiation.expired\""));
    mem_free(leaf);
    assert_int_equal(core_trade_sweep(&f->core, clock_now(&f->clock), 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 0);
}

/* ---- auctions ---- */

/* An auction listing with reserve, closing in ten days, and its open auction. */
static void auction_new(struct fixture *f, const struct party *prov, const char *title,
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
    expect(core_auction_open(&f->core, &prov->who, lst, -1, NULL, 0, a, &err), ERR_OK, &err, NULL);
    assert_int_equal(a->reserve, reserve);
    assert_int_equal(a->closes_ms, T0 + 10 * DAY);
}

static void bid_ok(struct fixture *f, const struct party *p, const char *auction, int64_t amount,
                   struct store_bid *b)
{
    struct errbuf err;
    errbuf_init(&err);
    enum core_trade_rule rule = CORE_RULE_NONE;
    expect(core_auction_bid(&f->core, &p->who, auction, amount, b, &rule, &err), ERR_OK, &err,
           NULL);
}

static void past_deadline(struct fixture *f)
{
    if (f->clock_state.now_ms < T0 + 10 * DAY) {
        f->clock_state.now_ms = T0 + 10 * DAY;
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
    assert_int_equal(store_bid_list(f->core.store, a->id, NULL, 100, &stored, &n, NULL), ERR_OK);
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
    struct party prov, a, b, c, nocert;
    party_new(f, "provider", "CN", seller_certs, NULL, &prov);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &a);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &b);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &c);
    party_new(f, "buyer", "CN", NULL, NULL, &nocert);
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
    expect(core_auction_open(&f->core, &a.who, lst, -1, NULL, 0, &auc, &err), ERR_FORBIDDEN, &err,
           "listing_id");
    expect(core_auction_open(&f->core, &prov.who, lst, 400000, NULL, 0, &auc, &err), ERR_INVALID,
           &err, "reserve");
    expect(core_auction_open(&f->core, &prov.who, lst, -1, "USD", 0, &auc, &err), ERR_INVALID, &err,
           "currency");
    expect(core_auction_open(&f->core, &prov.who, lst, -1, NULL, T0 + DAY, &auc, &err), ERR_INVALID,
           &err, "closes_at");
    unchanged(f, before);
    expect(core_auction_open(&f->core, &prov.who, lst, 500000, "CNY", T0 + 10 * DAY, &auc, &err),
           ERR_OK, &err, NULL);
    expect(core_auction_open(&f->core, &prov.who, lst, -1, NULL, 0, &got, &err), ERR_CONFLICT, &err,
           "listing_id");
    assert_int_equal(core_auction_for_listing(&f->core, &a.who, lst, &got, NULL), ERR_OK);
    assert_string_equal(got.id, auc.id);
    /* Refused bids. */
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct store_bid bid;
    before = snap(f);
    expect_rule(core_auction_bid(&f->core, &nocert.who, auc.id, 600000, &bid, &rule, &err), &rule,
                ERR_FORBIDDEN, CORE_RULE_NOT_QUALIFIED, &err, "buyer");
    expect_rule(core_auction_bid(&f->core, &prov.who, auc.id, 600000, &bid, &rule, &err), &rule,
                ERR_FORBIDDEN, CORE_RULE_SELF_TRADE, &err, "listing_id");
    expect(core_auction_bid(&f->core, &a.who, auc.id, 0, &bid, &rule, &err), ERR_INVALID, &err,
           "amount");
    unchanged(f, before);
    /* A 700000 then 900000; B 800000; C 300000 (under the reserve); A's lower bid refused. */
    struct store_bid ba1, ba2, bb, bc;
    bid_ok(f, &a, auc.id, 700000, &ba1);
    bid_ok(f, &b, auc.id, 800000, &bb);
    bid_ok(f, &c, auc.id, 300000, &bc);
    before = snap(f);
    expect(core_auction_bid(&f->core, &a.who, auc.id, 700000, &bid, &rule, &err), ERR_INVALID, &err,
           "amount");
    unchanged(f, before);
    bid_ok(f, &a, auc.id, 900000, &ba2);
    /* Sealed: each bidder sees its own bids only; nobody else any. */
    assert_int_equal(core_auction_get(&f->core, &b.who, auc.id, &got, NULL), ERR_OK);
    assert_int_equal(got.bid_count, 4);
    struct store_bid *seen = NULL;
    size_t n = 0;
    assert_int_equal(core_auction_bids(&f->core, &b.who, &got, &seen, &n, NULL), ERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(seen[0].amount, 800000);
    mem_free(seen);
    assert_int_equal(core_auction_bids(&f->core, &a.who, &got, &seen, &n, NULL), ERR_OK);
    assert_int_equal(n, 2);
    mem_free(seen);
    assert_int_equal(core_auction_bids(&f->core, &f->operator, & got, &seen, &n, NULL), ERR_OK);
    assert_int_equal(n, 0);
    mem_free(seen);
    assert_int_equal(core_auction_bids(&f->core, &prov.who, &got, &seen, &n, NULL), ERR_OK);
    assert_int_equal(n, 0);
    mem_free(seen);
    /* Not closed before the deadline; no bids after it. */
    before = snap(f);
    struct store_order won;
    expect(core_auction_close(&f->core, &b.who, auc.id, &got, &won, &err), ERR_BAD_STATE, &err,
           "id");
    past_deadline(f);
    expect(core_auction_bid(&f->core, &b.who, auc.id, 2000000, &bid, &rule, &err), ERR_BAD_STATE,
           &err, "id");
    unchanged(f, before);
    /* Closed by anyone: A wins with 900000 and pays B's 800000. */
    expect(core_auction_close(&f->core, &c.who, auc.id, &got, &won, &err), ERR_OK, &err, NULL);
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
    assert_int_equal(core_auction_bids(&f->core, &b.who, &got, &seen, &n, NULL), ERR_OK);
    assert_int_equal(n, 4);
    mem_free(seen);
    commitments_verify(f, &got, 4);
    expect(core_auction_close(&f->core, &c.who, auc.id, &got, &won, &err), ERR_BAD_STATE, &err,
           "id");
    /* The listing's exclusivity is sold. */
    struct store_order holder;
    int found = 0;
    assert_int_equal(store_order_exclusive_holder(f->core.store, lst, &holder, &found, NULL),
                     ERR_OK);
    assert_true(found);
    assert_string_equal(holder.id, won.id);
}

static void test_trade__auction_reserve_single_and_ties(void **state)
{
    struct fixture *f = *state;
    struct party prov, a, b;
    party_new(f, "provider", "CN", seller_certs, NULL, &prov);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &a);
    party_new(f, "buyer", "CN", buyer_certs, NULL, &b);
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
    assert_int_equal(core_trade_sweep(&f->core, clock_now(&f->clock), 10, &done, NULL), ERR_OK);
    assert_int_equal(done, 4);
    assert_int_equal(core_auction_get(&f->core, &a.who, x.id, &got, NULL), ERR_OK);
    assert_string_equal(got.winner_id, a.who.id);
    assert_int_equal(got.clearing_price, 500000);
    assert_string_equal(got.closed_by, "trading");
    commitments_verify(f, &got, 1);
    assert_int_equal(core_auction_get(&f->core, &a.who, y.id, &got, NULL), ERR_OK);
    assert_string_equal(got.status, "closed");
    assert_string_equal(got.winner_id, "");
    assert_string_equal(got.order_id, "");
    char *leaf = leaf_of(f, got.log_index);
    assert_non_null(strstr(leaf, "no bid reached the reserve"));
    mem_free(leaf);
    commitments_verify(f, &got, 2);
    assert_int_equal(core_auction_get(&f->core, &a.who, z.id, &got, NULL), ERR_OK);
    assert_string_equal(got.winner_id, b.who.id);
    assert_string_equal(got.winning_bid_id, b4.id);
    assert_int_equal(got.clearing_price, 600000);
    assert_int_equal(core_auction_get(&f->core, &a.who, w.id, &got, NULL), ERR_OK);
    assert_string_equal(got.status, "closed");
    assert_string_equal(got.winner_id, "");
    /* Nothing left to close. */
    assert_int_equal(core_trade_sweep(&f->core, clock_now(&f->clock), 10, &done, NULL), ERR_OK);
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
