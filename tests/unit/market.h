/*
 * market.h: the one market fixture of the unit tests, so that no test copies another's setup.
 *
 *   - a store for each test: in-memory SQLite, or, when BOURSE_TEST_PG_URL names a cluster's
 *     admin database, a fresh PostgreSQL database created for the test and dropped after it;
 *   - a market on it (struct market): the injected clock and random source, core and the
 *     clearing ledger on the same store, and a bootstrapped operator with an Ed25519 key;
 *   - parties made through core as an exchange makes them (apply, verify, certificates,
 *     authenticate), the assessment firms, products registered and made listable with signed
 *     assessment reports, listings, and contracts proposed, signed and activated;
 *   - rows written straight to the store for the tests below core (custody), and custody on a
 *     data directory of its own;
 *   - expect(), the assertion on an error code and the field it names.
 *
 * Header-only with static inline functions, as test_support.h: each test binary stays one
 * translation unit built by the one unit rule (which lists the headers of tests/unit as
 * prerequisites, so an edit here rebuilds the tests), and a test that uses only part of the fixture
 * compiles without unused-function warnings. Every helper asserts its own success, so a test reads
 * as its steps. Party names are numbered, contacts follow the country (a CN entity has a USCC); no
 * test asserts on them.
 */
#ifndef BOURSE_TEST_MARKET_H
#define BOURSE_TEST_MARKET_H

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clearing/clearing.h"
#include "core/core.h"
#include "delivery/delivery.h"

#include "test_support.h"

#define MARKET_CONTENT_HASH "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define MARKET_DOC_HASH "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define MARKET_PG_DB_MAX 64 /* "t_<name>_<pid>_<serial>" */
#define MARKET_URL_MAX 1024
#define MARKET_DIR_MAX 256

/* ---- errors ---- */

/* Fails the test unless got is want and, when field is not NULL, err names that field. */
static inline void expect(enum err got, enum err want, const struct errbuf *err, const char *field)
{
    if (got != want || (field != NULL && strcmp(err->field, field) != 0)) {
        fail_msg("got %s (field '%s': %s), wanted %s (field '%s')", err_name(got), err->field,
                 err->msg, err_name(want), field != NULL ? field : "");
    }
}

/* ---- keys and signatures ---- */

/* A new Ed25519 key pair; the public key in base64, as the API takes it. */
static inline void market_keypair(char pk_b64[STORE_PUBKEY_MAX],
                                  unsigned char sk[crypto_sign_SECRETKEYBYTES])
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_keypair(pk, sk);
    sodium_bin2base64(pk_b64, STORE_PUBKEY_MAX, pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
}

/* The detached Ed25519 signature of text under sk, in base64. */
static inline void market_signature(const unsigned char *sk, const char *text,
                                    char out[STORE_SIGNATURE_MAX])
{
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), sk);
    sodium_bin2base64(out, STORE_SIGNATURE_MAX, sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
}

/* The operator's core_sign_fn: ctx is its secret key. Cannot fail. */
static inline enum err market_sign_cb(void *ctx, const unsigned char *msg, size_t len,
                                      unsigned char sig[64], struct errbuf *err)
{
    (void)err;
    crypto_sign_detached(sig, NULL, msg, len, ctx);
    return ERR_OK;
}

/* ---- what "nothing changed" compares ---- */

/* The events in the store's log. */
static inline int64_t market_event_count(struct store *s)
{
    int64_t n = -1;
    assert_int_equal(store_event_count(s, &n, NULL), ERR_OK);
    return n;
}

/* A store_query row callback folding every column (type, integer, text) into the BLAKE2b
 * state ctx: a digest of a table's rows before and after compares them all. */
static inline enum err market_digest_cb(void *ctx, const struct store_value *c, size_t n,
                                        struct errbuf *err)
{
    (void)err;
    crypto_generichash_state *st = ctx;
    for (size_t i = 0; i < n; i++) {
        char v[32];
        int len = snprintf(v, sizeof(v), "|%d:%" PRId64 ":", (int)c[i].type, c[i].i);
        crypto_generichash_update(st, (const unsigned char *)v, (size_t)len);
        if (c[i].type == STORE_TEXT) {
            crypto_generichash_update(st, (const unsigned char *)c[i].s, c[i].len);
        }
    }
    return ERR_OK;
}

/* ---- a store: SQLite in memory, or a fresh PostgreSQL database ---- */

/* BOURSE_TEST_PG_URL, the admin URL of a cluster; NULL when unset or empty. */
static inline const char *market_pg_admin_url(void)
{
    const char *admin = getenv("BOURSE_TEST_PG_URL");
    return admin != NULL && admin[0] != '\0' ? admin : NULL;
}

/* Runs sql on the admin database through the backend itself; says why on stderr if it fails. */
static inline enum err market_pg_admin(const char *admin, const char *sql)
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
    return rc;
}

/* The admin URL with its database replaced by db (the query string kept). */
static inline void market_pg_url(const char *admin, const char *db, char *out, size_t cap)
{
    const char *host = strstr(admin, "://");
    host = host != NULL ? host + 3 : admin;
    const char *query = strchr(host, '?');
    if (query == NULL) {
        query = host + strlen(host);
    }
    const char *path = memchr(host, '/', (size_t)(query - host));
    size_t prefix = (size_t)((path != NULL ? path : query) - admin);
    int n = snprintf(out, cap, "%.*s/%s%s", (int)prefix, admin, db, query);
    assert_true(n > 0 && (size_t)n < cap);
}

/* Creates the database "t_<name>_<pid>_<serial>" (dropping a leftover of that name first) and
 * gives its name and URL. The serial makes each call of a test binary a database of its own. */
static inline enum err market_pg_db_create(const char *admin, const char *name,
                                           char db[MARKET_PG_DB_MAX], char *url, size_t url_cap)
{
    static unsigned serial;
    snprintf(db, MARKET_PG_DB_MAX, "t_%s_%ld_%u", name, (long)getpid(), ++serial);
    market_pg_url(admin, db, url, url_cap);
    char sql[160];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    enum err rc = market_pg_admin(admin, sql);
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    return market_pg_admin(admin, sql);
}

/* Drops db, closing its connections. */
static inline enum err market_pg_db_drop(const char *admin, const char *db)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    return market_pg_admin(admin, sql);
}

/* Opens the test's store in *s: in-memory SQLite when name is NULL or no cluster is named,
 * otherwise a fresh PostgreSQL database for this test, whose name goes to pg_db ("" on SQLite).
 * Close it with market_store_close. */
static inline void market_store_open(const char *name, struct store **s,
                                     char pg_db[MARKET_PG_DB_MAX])
{
    pg_db[0] = '\0';
    const char *admin = market_pg_admin_url();
    if (name == NULL || admin == NULL) {
        assert_int_equal(store_open(":memory:", s, NULL), ERR_OK);
        return;
    }
    char url[MARKET_URL_MAX];
    assert_int_equal(market_pg_db_create(admin, name, pg_db, url, sizeof(url)), ERR_OK);
    struct errbuf err;
    errbuf_init(&err);
    if (store_open(url, s, &err) != ERR_OK) {
        fail_msg("cannot open '%s': %s", url, err.msg);
    }
}

/* Closes s and drops its PostgreSQL database, if it has one. */
static inline void market_store_close(struct store *s, const char *pg_db)
{
    store_close(s);
    if (pg_db[0] != '\0') {
        market_pg_db_drop(market_pg_admin_url(), pg_db);
    }
}

/* ---- the market: a store, core, the ledger and an operator ---- */

struct market_party {
    struct core_principal who;
    char secret[CORE_API_SECRET_MAX]; /* its API key */
    char pk[STORE_PUBKEY_MAX];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

struct market {
    struct test_clock_state clock_state;
    struct test_rng_state rng_state;
    struct clock clock;
    struct rng rng;
    struct core core;
    struct clearing ledger; /* on core's store, with the same clock and random source */
    struct core_principal operator;
    unsigned char operator_sk[crypto_sign_SECRETKEYBYTES];
    struct core_signer signer;
    int party_count;
    char pg_db[MARKET_PG_DB_MAX]; /* the PostgreSQL database of this test, "" on SQLite */
    struct market_party quality, legal, security; /* the firms of market_firms_new */
};

/* Opens a market at now_ms on the store market_store_open(pg_name) opens, and bootstraps and
 * authenticates the operator, whose signing key is m->operator_sk. Close it with market_close. */
static inline void market_open(struct market *m, const char *pg_name, int64_t now_ms)
{
    m->clock_state.now_ms = now_ms;
    m->clock = (struct clock){test_clock_now, &m->clock_state};
    m->rng = (struct rng){test_rng_fill, &m->rng_state};
    m->core.clock = &m->clock;
    m->core.rng = &m->rng;
    market_store_open(pg_name, &m->core.store, m->pg_db);
    m->ledger.store = m->core.store;
    m->ledger.clock = &m->clock;
    m->ledger.rng = &m->rng;
    market_keypair(m->signer.public_key, m->operator_sk);
    m->signer.sign = market_sign_cb;
    m->signer.ctx = m->operator_sk;
    m->core.operator_signer = &m->signer;
    int created = 0;
    struct core_new_key key;
    assert_int_equal(core_bootstrap(&m->core, m->signer.public_key, &created, &key, NULL), ERR_OK);
    assert_int_equal(core_authenticate(&m->core, key.secret, &m->operator, NULL), ERR_OK);
}

static inline void market_close(struct market *m)
{
    market_store_close(m->core.store, m->pg_db);
}

/* ---- parties ---- */

/* A valid unified social credit code, distinct for each n (GB 32100-2015's check). */
static inline void market_uscc(int n, char out[CORE_USCC_LEN + 1])
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

/* An application for an entity of kind registered in country (with a USCC in CN) with
 * speciality spec (or NULL), signed up with a new key pair: p gets the key pair and the API
 * secret, entity_id the entity. Not yet authenticated: see market_party_login. */
static inline void market_party_apply(struct market *m, const char *kind, const char *country,
                                      const char *spec, struct market_party *p,
                                      char entity_id[ID_MAX])
{
    memset(p, 0, sizeof(*p));
    market_keypair(p->pk, p->sk);
    char name[64];
    snprintf(name, sizeof(name), "数据公司 %d Data Co", ++m->party_count);
    int china = strcmp(country, "CN") == 0;
    const char *specs[1] = {spec};
    char uscc[CORE_USCC_LEN + 1];
    struct core_application app = {
        .kind = kind,
        .name = name,
        .country = country,
        .contact_name = china ? "李雷" : "王芳",
        .contact_email = china ? "ops@example.cn" : "ops@example.de",
        .public_key = p->pk,
        .specialities = spec != NULL ? specs : NULL,
        .specialities_count = spec != NULL ? 1 : 0,
    };
    if (china) {
        market_uscc(m->party_count, uscc);
        app.uscc = uscc;
    }
    struct store_entity e;
    struct core_new_key key;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_entity_apply(&m->core, &app, &e, &key, &err), ERR_OK, &err, NULL);
    snprintf(p->secret, sizeof(p->secret), "%s", key.secret);
    snprintf(entity_id, ID_MAX, "%s", e.id);
}

/* p->who as its API key authenticates it now. */
static inline void market_party_login(struct market *m, struct market_party *p)
{
    assert_int_equal(core_authenticate(&m->core, p->secret, &p->who, NULL), ERR_OK);
}

/* A verified entity (market_party_apply) given each certificate type of certs (NULL-ended, or
 * NULL for none) by the operator, then authenticated. */
static inline void market_party_new(struct market *m, const char *kind, const char *country,
                                    const char *const *certs, const char *spec,
                                    struct market_party *p)
{
    char id[ID_MAX];
    market_party_apply(m, kind, country, spec, p, id);
    struct store_entity e;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_entity_review(&m->core, &m->operator, id, "verify", "checked", &e, &err), ERR_OK,
           &err, NULL);
    for (size_t i = 0; certs != NULL && certs[i] != NULL; i++) {
        struct store_cert c;
        expect(core_cert_issue(&m->core, &m->operator, id, certs[i], &c, &err), ERR_OK, &err, NULL);
    }
    market_party_login(m, p);
}

/* The assessment firms m->quality and m->legal (compliance), and m->security when asked, in
 * that order, registered in country. */
static inline void market_firms_new(struct market *m, const char *country, int security)
{
    market_party_new(m, "service_firm", country, NULL, "quality", &m->quality);
    market_party_new(m, "service_firm", country, NULL, "compliance", &m->legal);
    if (security) {
        market_party_new(m, "service_firm", country, NULL, "security", &m->security);
    }
}

/* ---- products and listings ---- */

/* An assessment of kind on rev, requested by prov from firm, and firm's signed passing report. */
static inline void market_assess(struct market *m, const struct market_party *prov, const char *rev,
                                 const char *kind, const struct market_party *firm)
{
    struct store_assessment a, out;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_assessment_request(&m->core, &prov->who, rev, kind, firm->who.id, &a, &err), ERR_OK,
           &err, NULL);
    json_t *r =
        json_pack("{s:s, s:[], s:s, s:{s:s, s:i}, s:[], s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
                  "assessment_id", a.id, "conditions", "content_hash", a.content_hash, "document",
                  "sha256", MARKET_DOC_HASH, "size", 100, "findings", "firm_id", a.firm_id, "kind",
                  a.kind, "product_id", a.product_id, "revision_id", a.revision_id, "type",
                  "bourse/assessment-report", "v", 1, "verdict", "pass");
    char *text = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(r);
    char sig[STORE_SIGNATURE_MAX];
    market_signature(firm->sk, text, sig);
    expect(core_assessment_submit(&m->core, &firm->who, a.id, text, sig, &out, &err), ERR_OK, &err,
           NULL);
    store_assessment_release(&a);
    store_assessment_release(&out);
    free(text);
}

/* What a test product declares; a NULL member takes the default in brackets. Every one is
 * corporate unless personal, collected under contracts, aggregated, with MARKET_CONTENT_HASH
 * and a one-column schema (id: string). */
struct market_product {
    const char *title;
    const char *kind;        /* ("dataset") */
    const char *category;    /* ("energy") */
    const char *description; /* ("企业用电数据") */
    const char *use_case_en; /* a second use case after "信贷评估", or NULL */
    const char *sensitivity; /* ("general") */
    int personal;            /* declares personal information, collected with consent */
};

static inline const char *market__or(const char *value, const char *otherwise)
{
    return value != NULL ? value : otherwise;
}

/* The metadata spec declares (caller frees with json_decref). */
static inline json_t *market_metadata(const struct market_product *spec)
{
    json_t *uses = json_pack("[s]", "信贷评估");
    if (spec->use_case_en != NULL) {
        json_array_append_new(uses, json_string(spec->use_case_en));
    }
    json_t *md = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:{s:s, s:s, s:s}}", "kind",
        market__or(spec->kind, "dataset"), "title", spec->title, "description",
        market__or(spec->description, "企业用电数据"), "category",
        market__or(spec->category, "energy"), "use_cases", uses, "update_frequency", "monthly",
        "classification", spec->personal ? "personal" : "corporate", "sensitivity",
        market__or(spec->sensitivity, "general"), "content_hash", MARKET_CONTENT_HASH, "schema",
        "name", "id", "type", "string", "source", "method", "collected", "legal_basis", "contracts",
        "processing", "aggregated");
    assert_non_null(md);
    json_t *pi = spec->personal ? json_pack("{s:b, s:s, s:s}", "contained", 1, "basis", "consent",
                                            "evidence", "signed consent forms, archive 2026-11")
                                : json_pack("{s:b}", "contained", 0);
    json_object_set_new(json_object_get(md, "source"), "personal_information", pi);
    return md;
}

/* Registers spec's product as prov: the product in p (unless NULL), its revision's id in rev.
 * When listable, gives the revision what listing needs: the operator's rights certificate and
 * passing reports of m's quality and compliance firms, and of its security firm for personal
 * or important data. */
static inline void market_product_new(struct market *m, const struct market_party *prov,
                                      const struct market_product *spec, int listable,
                                      struct store_product *p, char rev[ID_MAX])
{
    json_t *md = market_metadata(spec);
    struct store_product ignored;
    struct store_revision r;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_product_register(&m->core, &prov->who, md, p != NULL ? p : &ignored, &r, &err),
           ERR_OK, &err, NULL);
    json_decref(md);
    snprintf(rev, ID_MAX, "%s", r.id);
    store_revision_release(&r);
    if (!listable) {
        return;
    }
    struct store_rights right;
    expect(core_rights_issue(&m->core, &m->operator, rev, "operation", NULL, &right, &err), ERR_OK,
           &err, NULL);
    market_assess(m, prov, rev, "quality", &m->quality);
    market_assess(m, prov, rev, "compliance", &m->legal);
    if (spec->personal || strcmp(market__or(spec->sensitivity, "general"), "important") == 0) {
        market_assess(m, prov, rev, "security", &m->security);
    }
}

/* A listing's price and terms: for the purpose, 365 days in CN, no redistribution. */
struct market_terms {
    const char *price;    /* the price model, JSON text */
    const char *purpose;  /* ("信贷评估") */
    const char *delivery; /* the delivery methods, JSON array text (["file"]) */
    int exclusive;
};

/* The listing body for rev on terms t (caller frees with json_decref). */
static inline json_t *market_listing_body(const char *rev, const struct market_terms *t)
{
    json_t *b = json_pack("{s:s, s:o, s:{s:s, s:i, s:[s], s:s, s:b, s:o}}", "revision_id", rev,
                          "price", json_loads(t->price, 0, NULL), "terms", "purpose",
                          market__or(t->purpose, "信贷评估"), "term_days", 365, "territory", "CN",
                          "redistribution", "none", "exclusive", t->exclusive, "delivery",
                          json_loads(market__or(t->delivery, "[\"file\"]"), 0, NULL));
    assert_non_null(b);
    return b;
}

/* Lists body (taken, freed) as prov: the listing in out (release with store_listing_release),
 * the number of demands it matched in matched unless NULL. */
static inline void market_list(struct market *m, const struct market_party *prov, json_t *body,
                               struct store_listing *out, size_t *matched)
{
    struct errbuf err;
    errbuf_init(&err);
    size_t n = 0;
    expect(core_listing_create(&m->core, &prov->who, body, out, &n, &err), ERR_OK, &err, NULL);
    json_decref(body);
    if (matched != NULL) {
        *matched = n;
    }
}

/* spec's product made listable and listed by prov on terms t; the listing's id in listing. */
static inline void market_listed_product(struct market *m, const struct market_party *prov,
                                         const struct market_product *spec,
                                         const struct market_terms *t, char listing[ID_MAX])
{
    char rev[ID_MAX];
    market_product_new(m, prov, spec, 1, NULL, rev);
    struct store_listing l;
    market_list(m, prov, market_listing_body(rev, t), &l, NULL);
    snprintf(listing, ID_MAX, "%s", l.id);
    store_listing_release(&l);
}

/* ---- money and contracts ---- */

/* A deposit of amount CNY into p's account, by the operator. */
static inline void market_deposit(struct market *m, const struct market_party *p, int64_t amount)
{
    static int n;
    char ref[32];
    snprintf(ref, sizeof(ref), "bank-%d", ++n);
    struct clearing_actor op = {m->operator.id, CLEARING_ROLE_OPERATOR};
    struct clearing_movement mv = {p->who.id, "CNY", amount, ref, NULL};
    struct store_ledger_transfer t;
    int replayed = 0;
    struct errbuf err;
    errbuf_init(&err);
    expect(clearing_deposit(&m->ledger, &op, &mv, &t, &replayed, &err), ERR_OK, &err, NULL);
}

/* The terms of an order by buyer_id on listing at price CNY, with the listing's exclusivity. */
static inline struct core_contract_terms market_contract_terms(const char *buyer_id,
                                                               const char *listing, int64_t price)
{
    struct core_contract_terms t;
    memset(&t, 0, sizeof(t));
    snprintf(t.listing_id, sizeof(t.listing_id), "%s", listing);
    snprintf(t.buyer_id, sizeof(t.buyer_id), "%s", buyer_id);
    t.origin = "order";
    snprintf(t.origin_id, sizeof(t.origin_id), "ord_aaaaaaaaaaaaaaaaaaaa");
    t.price = price;
    snprintf(t.currency, sizeof(t.currency), "CNY");
    t.exclusive = -1;
    return t;
}

/* The contract t proposes, proposed by buyer (caller frees with free). */
static inline struct store_contract *market_contract_propose(struct market *m,
                                                             const struct market_party *buyer,
                                                             const struct core_contract_terms *t)
{
    struct store_contract *k = calloc(1, sizeof(*k));
    struct errbuf err;
    errbuf_init(&err);
    expect(core_contract_propose(&m->core, &buyer->who, t, k, &err), ERR_OK, &err, NULL);
    return k;
}

/* p signs k's document; k is updated. hold_failed (may be NULL) as core_contract_sign. */
static inline enum err market_contract_sign(struct market *m, const struct market_party *p,
                                            struct store_contract *k, int *hold_failed,
                                            struct errbuf *err)
{
    char sig[STORE_SIGNATURE_MAX];
    market_signature(p->sk, k->document, sig);
    int ignored = 0;
    return core_contract_sign(&m->core, &p->who, k->id, sig, k,
                              hold_failed != NULL ? hold_failed : &ignored, err);
}

/* Proposed by buyer and signed by buyer then provider: active, its hold taken (buyer must have
 * the funds). Caller frees with free. */
static inline struct store_contract *market_contract_active(struct market *m,
                                                            const struct market_party *buyer,
                                                            const struct market_party *provider,
                                                            const struct core_contract_terms *t)
{
    struct store_contract *k = market_contract_propose(m, buyer, t);
    struct errbuf err;
    errbuf_init(&err);
    int failed = 0;
    expect(market_contract_sign(m, buyer, k, &failed, &err), ERR_OK, &err, NULL);
    assert_int_equal(failed, 0);
    expect(market_contract_sign(m, provider, k, &failed, &err), ERR_OK, &err, NULL);
    assert_int_equal(failed, 0);
    assert_string_equal(k->state, "active");
    return k;
}

/* Reads k again from the store. */
static inline void market_contract_reload(struct market *m, struct store_contract *k)
{
    char id[ID_MAX];
    snprintf(id, sizeof(id), "%s", k->id);
    assert_int_equal(store_contract_get(m->core.store, id, k, NULL), ERR_OK);
}

/* ---- below core: rows written straight to the store, and custody ---- */

/* A verified entity of kind in CN, inserted as a row (no event); its id in id. */
static inline void market_entity_row(struct store *s, const struct rng *rng, const char *kind,
                                     char id[ID_MAX])
{
    struct store_entity e;
    memset(&e, 0, sizeof(e));
    id_new(rng, "ent", e.id);
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    snprintf(e.status, sizeof(e.status), "verified");
    snprintf(e.name, sizeof(e.name), "%s %s", kind, e.id);
    snprintf(e.country, sizeof(e.country), "CN");
    assert_int_equal(store_entity_insert(s, &e, NULL), ERR_OK);
    memcpy(id, e.id, ID_MAX);
}

/* A dataset product of provider, inserted as a row, whose latest revision is number latest with
 * a new id (in latest_id); its own id in id. Insert the revisions with market_revision_row. */
static inline void market_product_row(struct store *s, const struct rng *rng, const char *provider,
                                      int64_t latest, char latest_id[ID_MAX], char id[ID_MAX])
{
    struct store_product p;
    memset(&p, 0, sizeof(p));
    id_new(rng, "prd", p.id);
    snprintf(p.provider_id, sizeof(p.provider_id), "%s", provider);
    snprintf(p.kind, sizeof(p.kind), "dataset");
    id_new(rng, "rev", latest_id);
    p.latest_revision = latest;
    memcpy(p.latest_revision_id, latest_id, ID_MAX);
    assert_int_equal(store_product_insert(s, &p, NULL), ERR_OK);
    memcpy(id, p.id, ID_MAX);
}

/* Revision number of product by provider, inserted as a row with metadata "{}": its id is given
 * (not NULL) or new; either way it goes to id. */
static inline void market_revision_row(struct store *s, const struct rng *rng, const char *product,
                                       const char *provider, int64_t number, const char *given,
                                       char id[ID_MAX])
{
    struct store_revision r;
    memset(&r, 0, sizeof(r));
    if (given != NULL) {
        snprintf(r.id, sizeof(r.id), "%s", given);
    } else {
        id_new(rng, "rev", r.id);
    }
    snprintf(r.product_id, sizeof(r.product_id), "%s", product);
    r.number = number;
    snprintf(r.provider_id, sizeof(r.provider_id), "%s", provider);
    snprintf(r.kind, sizeof(r.kind), "dataset");
    r.metadata = (char *)"{}";
    assert_int_equal(store_revision_insert(s, &r, NULL), ERR_OK);
    memmove(id, r.id, ID_MAX); /* id may be given itself */
}

/* Custody in d on store s, over a new data directory /tmp/<name>-test-XXXXXX (its path in dir)
 * with a random master key (in master). Release it with market_custody_release. */
static inline void market_custody_init(struct delivery_custody *d, struct store *s,
                                       const struct clock *clock, const struct rng *rng,
                                       const char *name, char dir[MARKET_DIR_MAX],
                                       unsigned char master[32], int64_t object_bytes_max)
{
    snprintf(dir, MARKET_DIR_MAX, "/tmp/%s-test-XXXXXX", name);
    assert_non_null(mkdtemp(dir));
    randombytes_buf(master, 32);
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_custody_init(d, s, clock, rng, dir, master, object_bytes_max, &err), ERR_OK,
           &err, NULL);
}

/* Removes the data directory, then releases d. */
static inline void market_custody_release(struct delivery_custody *d, const char *dir)
{
    char cmd[MARKET_DIR_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    delivery_custody_release(d);
}

/* The fixture of the tests below core: custody (objects up to 4 MiB) on the test's own store,
 * with the injected clock and random source, and three entity rows to act as. */
struct market_custody {
    struct test_clock_state clock_state;
    struct clock clock;
    struct test_rng_state rng_state;
    struct rng rng;
    struct store *store;
    char pg_db[MARKET_PG_DB_MAX]; /* as market_store_open */
    char dir[MARKET_DIR_MAX];
    unsigned char master[32];
    struct delivery_custody d;
    char provider[ID_MAX], other[ID_MAX], buyer[ID_MAX]; /* two providers and a buyer */
};

/* Opens c at now_ms on the store market_store_open(name) opens, over the data directory of
 * market_custody_init(name). Close it with market_custody_close. */
static inline void market_custody_open(struct market_custody *c, const char *name, int64_t now_ms)
{
    c->clock_state.now_ms = now_ms;
    c->clock = (struct clock){test_clock_now, &c->clock_state};
    c->rng = (struct rng){test_rng_fill, &c->rng_state};
    market_store_open(name, &c->store, c->pg_db);
    market_custody_init(&c->d, c->store, &c->clock, &c->rng, name, c->dir, c->master,
                        4 * 1024 * 1024);
    market_entity_row(c->store, &c->rng, "provider", c->provider);
    market_entity_row(c->store, &c->rng, "provider", c->other);
    market_entity_row(c->store, &c->rng, "buyer", c->buyer);
}

static inline void market_custody_close(struct market_custody *c)
{
    market_custody_release(&c->d, c->dir);
    market_store_close(c->store, c->pg_db);
}

#endif
