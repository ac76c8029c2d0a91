/*
 * product_test.c: the supply side against a real in-memory SQLite store with a fixed clock, a
 * seeded random source and a test operator key: product registration and its classification
 * rules, immutable revisions and inheritance by derived products, rights certificates (their
 * signatures verify and tampering fails), the listing policy, signed assessment reports and
 * the listing gate, and the quality checks on crafted samples. Every refusal is checked to
 * leave the event log (and so every table written with it) exactly as it was.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include "market.h"

#include <stdio.h>
#include <stdlib.h>

#define CONTENT_HASH MARKET_CONTENT_HASH
#define OTHER_HASH MARKET_DOC_HASH /* any hash but CONTENT_HASH */

struct fixture {
    struct market m; /* in-memory SQLite; no firms: each test makes the ones it needs */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    market_open(&f->m, NULL, 1795305540000);
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

static int64_t event_count(struct fixture *f)
{
    int64_t n = -1;
    assert_int_equal(store_event_count(f->m.core.store, &n, NULL), ERR_OK);
    return n;
}

/* The entities are registered abroad, so without a USCC. */
static const char *const seller_certs[] = {"data_provider", NULL};

/* An entity that applied and was never verified, authenticated with its key. */
static void applicant(struct fixture *f, const char *kind, struct market_party *p)
{
    char id[ID_MAX];
    market_party_apply(&f->m, kind, "DE", NULL, p, id);
    market_party_login(&f->m, p);
}

static const char *const base_metadata =
    "{\"kind\": \"dataset\", \"title\": \"企业用电数据月度汇总 Enterprise electricity use\","
    " \"description\": \"按月汇总的企业用电量。Monthly electricity use per enterprise.\","
    " \"category\": \"energy\", \"use_cases\": [\"信贷评估\", \"credit scoring\"],"
    " \"update_frequency\": \"monthly\", \"classification\": \"corporate\","
    " \"sensitivity\": \"general\", \"content_hash\": \"" CONTENT_HASH "\","
    " \"schema\": [{\"name\": \"uscc\", \"type\": \"string\", \"description\": "
    "\"统一社会信用代码\"},"
    "  {\"name\": \"month\", \"type\": \"date\"},"
    "  {\"name\": \"kwh\", \"type\": \"decimal\", \"unit\": \"kWh\","
    "   \"fingerprint_tolerance\": \"0.5\"},"
    "  {\"name\": \"grade\", \"type\": \"enum\", \"values\": [\"A\", \"B\", \"C\"]}],"
    " \"sample\": {\"format\": \"csv\", \"data\": \"uscc,month,kwh,grade\\n"
    "91110000802100433B,2024-01-01,1200.5,A\\n91440300708461136T,2024-01-01,98.25,B\\n\"},"
    " \"source\": {\"method\": \"collected\", \"legal_basis\": \"供电合同约定 supply contracts\","
    "  \"processing\": \"aggregated per month\","
    "  \"personal_information\": {\"contained\": false}}}";

static json_t *metadata(void)
{
    json_error_t jerr;
    json_t *md = json_loads(base_metadata, 0, &jerr);
    if (md == NULL) {
        fail_msg("bad test metadata: %s", jerr.text);
    }
    return md;
}

/* Sets (or with value NULL deletes) the member at a dotted path; numeric segments index
 * arrays. value is JSON text. */
static void set_path(json_t *root, const char *path, const char *value)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *node = root;
    char *seg = buf;
    for (;;) {
        char *dot = strchr(seg, '.');
        if (dot == NULL) {
            break;
        }
        *dot = '\0';
        node = seg[0] >= '0' && seg[0] <= '9' ? json_array_get(node, (size_t)strtol(seg, NULL, 10))
                                              : json_object_get(node, seg);
        assert_non_null(node);
        seg = dot + 1;
    }
    if (value == NULL) {
        json_object_del(node, seg);
        return;
    }
    json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    json_object_set_new(node, seg, v);
}

static void register_ok(struct fixture *f, const struct market_party *p, json_t *md,
                        struct store_product *prod, struct store_revision *rev)
{
    struct errbuf err;
    errbuf_init(&err);
    expect(core_product_register(&f->m.core, &p->who, md, prod, rev, &err), ERR_OK, &err, NULL);
    json_decref(md);
}

static void personal(json_t *md)
{
    set_path(md, "classification", "\"personal\"");
    set_path(md, "source.personal_information",
             "{\"contained\": true, \"basis\": \"anonymisation\","
             " \"evidence\": \"k-anonymity k=20 over every quasi-identifier\"}");
}

/* ---- registration ---- */

static void test_product__register_records_one_event(void **state)
{
    struct fixture *f = *state;
    struct market_party prov;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    int64_t before = event_count(f);
    struct store_product p;
    struct store_revision r;
    register_ok(f, &prov, metadata(), &p, &r);
    assert_int_equal(event_count(f), before + 1);
    assert_true(id_valid(p.id, "prd"));
    assert_true(id_valid(r.id, "rev"));
    assert_int_equal(r.number, 1);
    assert_int_equal(p.latest_revision, 1);
    assert_string_equal(p.latest_revision_id, r.id);
    assert_string_equal(r.title, "企业用电数据月度汇总 Enterprise electricity use");
    assert_string_equal(r.classification, "corporate");
    assert_string_equal(r.sensitivity, "general");
    assert_int_equal(r.supervised, 0);
    assert_string_equal(r.content_hash, CONTENT_HASH);
    assert_int_equal(r.log_index, before);
    /* The canonical metadata carries the sample by digest; the quality report passed. */
    assert_non_null(strstr(r.metadata, "\"sha256\":"));
    assert_null(strstr(r.metadata, "91110000802100433B"));
    char sha[65];
    core__sha256_hex(r.metadata, strlen(r.metadata), sha);
    assert_string_equal(sha, r.metadata_hash);
    assert_non_null(strstr(r.quality, "\"passed\":true"));
    store_revision_release(&r);
    struct store_event *evs = NULL;
    size_t n = 0;
    assert_int_equal(store_event_range(f->m.core.store, before, 5, &evs, &n, NULL), ERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(evs[0].type, "product.registered");
    assert_non_null(strstr(evs[0].leaf, "\"metadata_hash\""));
    store_event_release(&evs[0]);
    mem_free(evs);
    /* A round trip through the store gives the same revision. */
    struct store_revision again;
    assert_int_equal(core_revision_get(&f->m.core, &prov.who, p.id, "1", &again, NULL), ERR_OK);
    assert_string_equal(again.metadata_hash, sha);
    store_revision_release(&again);
}

static void test_product__refusals_change_nothing(void **state)
{
    struct fixture *f = *state;
    struct market_party prov;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    struct {
        const char *path;
        const char *value; /* NULL: delete */
        enum err expect;
        const char *field;
    } cases[] = {
        {"sensitivity", "\"core\"", ERR_FORBIDDEN, "sensitivity"},
        {"classification", "\"personal\"", ERR_INVALID, "source.personal_information.contained"},
        {"source.personal_information", "{\"contained\": true}", ERR_INVALID,
         "source.personal_information.basis"},
        {"source.personal_information",
         "{\"contained\": true, \"basis\": \"hope\", \"evidence\": \"x\"}", ERR_INVALID,
         "source.personal_information.basis"},
        {"source.personal_information", "{\"contained\": true, \"basis\": \"consent\"}",
         ERR_INVALID, "source.personal_information.evidence"},
        {"source.personal_information", "{\"contained\": false, \"basis\": \"consent\"}",
         ERR_INVALID, "source.personal_information.basis"},
        {"source.personal_information", NULL, ERR_INVALID, "source.personal_information"},
        {"source.method", "\"scraped\"", ERR_INVALID, "source.method"},
        {"source.method", "\"derived\"", ERR_INVALID, "parents"},
        {"source.legal_basis", "\"  \"", ERR_INVALID, "source.legal_basis"},
        {"source.colour", "\"red\"", ERR_INVALID, "source.colour"},
        {"source", NULL, ERR_INVALID, "source"},
        {"kind", "\"hologram\"", ERR_INVALID, "kind"},
        {"category", "\"astrology\"", ERR_INVALID, "category"},
        {"update_frequency", "\"sometimes\"", ERR_INVALID, "update_frequency"},
        {"title", "\"\"", ERR_INVALID, "title"},
        {"title", "42", ERR_INVALID, "title"},
        {"description", NULL, ERR_INVALID, "description"},
        {"content_hash", "\"ABC\"", ERR_INVALID, "content_hash"},
        {"use_cases", "[\"\"]", ERR_INVALID, "use_cases[0]"},
        {"schema", "[]", ERR_INVALID, "schema"},
        {"schema.2.type", "\"float\"", ERR_INVALID, "schema[2].type"},
        {"schema.3.values", NULL, ERR_INVALID, "schema[3].values"},
        {"schema.0.fingerprint_tolerance", "\"1\"", ERR_INVALID, "schema[0].fingerprint_tolerance"},
        {"schema.2.fingerprint_tolerance", "\"-1\"", ERR_INVALID,
         "schema[2].fingerprint_tolerance"},
        {"schema.1.name", "\"uscc\"", ERR_INVALID, "schema"},
        {"schema.1.colour", "\"red\"", ERR_INVALID, "schema[1].colour"},
        {"sample.format", "\"xlsx\"", ERR_INVALID, "sample.format"},
        {"parents", "[\"rev_00000000000000000000\"]", ERR_NOT_FOUND, "parents"},
        {"parents", "[\"prd_00000000000000000000\"]", ERR_INVALID, "parents"},
        {"colour", "\"red\"", ERR_INVALID, "colour"},
    };
    int64_t before = event_count(f);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        json_t *md = metadata();
        set_path(md, cases[i].path, cases[i].value);
        struct store_product p;
        struct store_revision r;
        struct errbuf err;
        errbuf_init(&err);
        enum err rc = core_product_register(&f->m.core, &prov.who, md, &p, &r, &err);
        json_decref(md);
        if (rc != cases[i].expect || strcmp(err.field, cases[i].field) != 0) {
            fail_msg("case %zu (%s): got %s field '%s' (%s)", i, cases[i].path, err_name(rc),
                     err.field, err.msg);
        }
        assert_int_equal(event_count(f), before);
        assert_int_equal(store_tx_depth(f->m.core.store), 0);
    }
    /* The sample is bounded. */
    json_t *md = metadata();
    char *big = malloc(CORE_SAMPLE_BYTES_MAX + 2);
    memset(big, 'a', CORE_SAMPLE_BYTES_MAX + 1);
    big[CORE_SAMPLE_BYTES_MAX + 1] = '\0';
    json_object_set_new(json_object_get(md, "sample"), "data", json_string(big));
    free(big);
    struct store_product p;
    struct store_revision r;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_product_register(&f->m.core, &prov.who, md, &p, &r, &err), ERR_LIMIT, &err,
           "sample.data");
    json_decref(md);
    struct store_product_filter filter = {.limit = 10};
    struct store_product_page page;
    assert_int_equal(core_product_list(&f->m.core, &f->m.operator, & filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 0);
    store_product_page_release(&page);
    assert_int_equal(event_count(f), before);
}

static void test_product__who_may_register(void **state)
{
    struct fixture *f = *state;
    struct market_party applied, nocert, buyer, broker;
    applicant(f, "provider", &applied);
    market_party_new(&f->m, "provider", "DE", NULL, NULL, &nocert);
    market_party_new(&f->m, "buyer", "DE", NULL, NULL, &buyer);
    market_party_new(&f->m, "broker", "DE", seller_certs, NULL, &broker);
    int64_t before = event_count(f);
    const struct market_party *refused[] = {&applied, &nocert, &buyer};
    for (size_t i = 0; i < ARRAY_LEN(refused); i++) {
        json_t *md = metadata();
        struct store_product p;
        struct store_revision r;
        assert_int_equal(core_product_register(&f->m.core, &refused[i]->who, md, &p, &r, NULL),
                         ERR_FORBIDDEN);
        json_decref(md);
    }
    json_t *md = metadata();
    struct store_product p;
    struct store_revision r;
    assert_int_equal(core_product_register(&f->m.core, &f->m.operator, md, &p, &r, NULL),
                     ERR_FORBIDDEN);
    assert_int_equal(event_count(f), before);
    /* A broker with a data_provider certificate registers for a provider. */
    register_ok(f, &broker, md, &p, &r);
    store_revision_release(&r);
    /* Visibility: the buyer does not see it, the operator does. */
    assert_int_equal(core_product_get(&f->m.core, &buyer.who, p.id, &p, NULL), ERR_NOT_FOUND);
    assert_int_equal(core_product_get(&f->m.core, &f->m.operator, p.id, &p, NULL), ERR_OK);
}

static void test_product__revisions_are_immutable(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, other;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &other);
    struct store_product p;
    struct store_revision r1, r2;
    register_ok(f, &prov, metadata(), &p, &r1);
    char hash1[65];
    snprintf(hash1, sizeof(hash1), "%s", r1.metadata_hash);
    int64_t before = event_count(f);
    struct errbuf err;
    errbuf_init(&err);
    /* Identical metadata is no revision. */
    json_t *md = metadata();
    expect(core_product_revise(&f->m.core, &prov.who, p.id, md, &p, &r2, &err), ERR_CONFLICT, &err,
           NULL);
    set_path(md, "kind", "\"api\"");
    expect(core_product_revise(&f->m.core, &prov.who, p.id, md, &p, &r2, &err), ERR_INVALID, &err,
           "kind");
    set_path(md, "kind", "\"dataset\"");
    set_path(md, "title", "\"企业用电数据（第二版） v2\"");
    set_path(md, "content_hash", "\"" OTHER_HASH "\"");
    expect(core_product_revise(&f->m.core, &other.who, p.id, md, &p, &r2, &err), ERR_NOT_FOUND,
           &err, NULL);
    expect(core_product_revise(&f->m.core, &f->m.operator, p.id, md, &p, &r2, &err), ERR_FORBIDDEN,
           &err, NULL);
    assert_int_equal(event_count(f), before);
    expect(core_product_revise(&f->m.core, &prov.who, p.id, md, &p, &r2, &err), ERR_OK, &err, NULL);
    json_decref(md);
    assert_int_equal(event_count(f), before + 1);
    assert_int_equal(r2.number, 2);
    assert_int_equal(p.latest_revision, 2);
    assert_string_equal(p.title, "企业用电数据（第二版） v2");
    assert_string_not_equal(r2.id, r1.id);
    /* Revision 1 is as it was. */
    struct store_revision again;
    assert_int_equal(core_revision_get(&f->m.core, &prov.who, NULL, r1.id, &again, NULL), ERR_OK);
    assert_string_equal(again.metadata_hash, hash1);
    assert_string_equal(again.content_hash, CONTENT_HASH);
    assert_string_equal(again.metadata, r1.metadata);
    store_revision_release(&again);
    store_revision_release(&r1);
    store_revision_release(&r2);
    assert_int_equal(core_revision_get(&f->m.core, &prov.who, p.id, "3", &again, NULL),
                     ERR_NOT_FOUND);
    assert_int_equal(core_revision_get(&f->m.core, &prov.who, p.id, "0", &again, NULL),
                     ERR_INVALID);
}

static void test_product__derived_inherits_restrictions(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, deriver;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &deriver);
    /* The parent is personal and important. */
    json_t *md = metadata();
    personal(md);
    set_path(md, "sensitivity", "\"important\"");
    struct store_product pp;
    struct store_revision parent;
    register_ok(f, &prov, md, &pp, &parent);
    assert_int_equal(parent.supervised, 1);
    char parents[64];
    snprintf(parents, sizeof(parents), "[\"%s\"]", parent.id);
    /* Someone without a processing right on it cannot derive from it. */
    int64_t before = event_count(f);
    md = metadata();
    set_path(md, "source.method", "\"derived\"");
    set_path(md, "parents", parents);
    struct store_product p;
    struct store_revision r;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_product_register(&f->m.core, &deriver.who, md, &p, &r, &err), ERR_FORBIDDEN, &err,
           "parents");
    /* The provider itself may; without a basis the inherited personal class refuses it. */
    expect(core_product_register(&f->m.core, &prov.who, md, &p, &r, &err), ERR_INVALID, &err,
           "source.personal_information.basis");
    assert_int_equal(event_count(f), before);
    /* A licensed processing right lets the deriver in, with a basis. */
    struct store_rights rights;
    expect(
        core_rights_issue(&f->m.core, &f->m.operator, parent.id, "processing", NULL, &rights, &err),
        ERR_OK, &err, NULL);
    expect(core_rights_license(&f->m.core, &prov.who, rights.id, deriver.who.id,
                               "用于信用模型训练 model training only, 12 months", &rights, &err),
           ERR_OK, &err, NULL);
    set_path(md, "source.personal_information",
             "{\"contained\": true, \"basis\": \"anonymisation\", \"evidence\": \"aggregated\"}");
    register_ok(f, &deriver, md, &p, &r);
    /* Declared corporate/general, effective personal/important, flagged. */
    assert_string_equal(r.classification, "personal");
    assert_string_equal(r.sensitivity, "important");
    assert_int_equal(r.supervised, 1);
    assert_non_null(strstr(r.metadata, "\"classification\":\"corporate\""));
    store_revision_release(&r);
    /* A core parent (only possible through a store written by other means) refuses. */
    struct store_revision core_rev = parent;
    id_new(f->m.core.rng, "rev", core_rev.id);
    core_rev.number = 99;
    snprintf(core_rev.sensitivity, sizeof(core_rev.sensitivity), "core");
    core_rev.metadata = mem_strdup("{}");
    core_rev.sample = NULL;
    core_rev.quality = NULL;
    assert_int_equal(store_revision_insert(f->m.core.store, &core_rev, NULL), ERR_OK);
    mem_free(core_rev.metadata);
    md = metadata();
    snprintf(parents, sizeof(parents), "[\"%s\"]", core_rev.id);
    set_path(md, "source.method", "\"derived\"");
    set_path(md, "parents", parents);
    before = event_count(f);
    expect(core_product_register(&f->m.core, &prov.who, md, &p, &r, &err), ERR_FORBIDDEN, &err,
           "parents");
    assert_int_equal(event_count(f), before);
    json_decref(md);
    struct core_listable l;
    assert_int_equal(core_product_listable(&f->m.core, core_rev.id, &l, NULL), ERR_OK);
    assert_false(l.listable);
    assert_string_equal(l.missing[0].item, "classification");
    assert_int_equal(core_revision_cross_border(&f->m.core, core_rev.id, &l, NULL), ERR_OK);
    assert_false(l.listable);
    store_revision_release(&parent);
}

/* ---- rights ---- */

static void test_rights__signatures_verify_and_tampering_fails(void **state)
{
    struct fixture *f = *state;
    struct market_party prov;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    struct store_product p;
    struct store_revision r;
    register_ok(f, &prov, metadata(), &p, &r);
    int64_t before = event_count(f);
    struct store_rights cert;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_rights_issue(&f->m.core, &prov.who, r.id, "holding", NULL, &cert, &err),
           ERR_FORBIDDEN, &err, NULL);
    expect(core_rights_issue(&f->m.core, &f->m.operator, r.id, "ownership", NULL, &cert, &err),
           ERR_INVALID, &err, "right");
    expect(core_rights_issue(&f->m.core, &f->m.operator, "rev_00000000000000000000", "holding",
                             NULL, &cert, &err),
           ERR_NOT_FOUND, &err, NULL);
    expect(core_rights_issue(&f->m.core, &f->m.operator, r.id, "holding", f->m.operator.id, &cert,
                             &err),
           ERR_INVALID, &err, "holder_id");
    f->m.core.operator_signer = NULL;
    expect(core_rights_issue(&f->m.core, &f->m.operator, r.id, "holding", NULL, &cert, &err),
           ERR_UNAVAILABLE, &err, NULL);
    f->m.core.operator_signer = &f->m.signer;
    assert_int_equal(event_count(f), before);
    expect(core_rights_issue(&f->m.core, &f->m.operator, r.id, "holding", NULL, &cert, &err),
           ERR_OK, &err, NULL);
    assert_int_equal(event_count(f), before + 1);
    assert_string_equal(cert.holder_id, prov.who.id);
    assert_string_equal(cert.content_hash, CONTENT_HASH);
    assert_int_equal(cert.version, 1);
    assert_non_null(strstr(cert.document, "\"content_hash\":\"" CONTENT_HASH "\""));
    assert_non_null(strstr(cert.document, "\"type\":\"bourse/rights-certificate\""));
    assert_non_null(strstr(cert.document, "\"previous\":null"));
    expect(core_rights_verify(cert.document, cert.signature, f->m.signer.public_key, &err), ERR_OK,
           &err, NULL);
    /* One live certificate per revision and right. */
    struct store_rights dup;
    expect(core_rights_issue(&f->m.core, &f->m.operator, r.id, "holding", NULL, &dup, &err),
           ERR_CONFLICT, &err, "right");
    /* Tampering: a byte of the document, the signature, or the key. */
    char doc[STORE_RIGHTS_DOC_MAX];
    snprintf(doc, sizeof(doc), "%s", cert.document);
    char *at = strstr(doc, CONTENT_HASH);
    at[0] = at[0] == '9' ? '8' : '9';
    assert_int_equal(core_rights_verify(doc, cert.signature, f->m.signer.public_key, NULL),
                     ERR_CORRUPT);
    char sig[STORE_SIGNATURE_MAX];
    snprintf(sig, sizeof(sig), "%s", cert.signature);
    sig[5] = sig[5] == 'A' ? 'B' : 'A';
    assert_int_equal(core_rights_verify(cert.document, sig, f->m.signer.public_key, NULL),
                     ERR_CORRUPT);
    char pk[STORE_PUBKEY_MAX];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    market_keypair(pk, sk);
    assert_int_equal(core_rights_verify(cert.document, cert.signature, pk, NULL), ERR_CORRUPT);
    /* A non-canonical rendering of the same document is refused before any signature check. */
    json_t *j = json_loads(cert.document, 0, NULL);
    char *pretty = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
    assert_int_equal(core_rights_verify(pretty, cert.signature, f->m.signer.public_key, NULL),
                     ERR_INVALID);
    free(pretty);
    json_decref(j);
    /* The stored certificate is the issued one. */
    struct store_rights got;
    assert_int_equal(core_rights_get(&f->m.core, cert.id, &got, NULL), ERR_OK);
    assert_string_equal(got.document, cert.document);
    assert_string_equal(got.signature, cert.signature);
    store_revision_release(&r);
}

static void test_rights__license_transfer_pledge_release_revoke(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, buyer, bank, stranger;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    market_party_new(&f->m, "buyer", "DE", NULL, NULL, &buyer);
    market_party_new(&f->m, "buyer", "DE", NULL, NULL, &bank);
    applicant(f, "buyer", &stranger);
    struct store_product p;
    struct store_revision r;
    register_ok(f, &prov, metadata(), &p, &r);
    struct store_rights c, out;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_rights_issue(&f->m.core, &f->m.operator, r.id, "operation", NULL, &c, &err), ERR_OK,
           &err, NULL);
    struct {
        int step; /* 0 license 1 transfer 2 pledge 3 release 4 revoke */
        const struct core_principal *who;
        const char *other;
        const char *text;
        enum err expect;
        const char *status_after;
    } steps[] = {
        {0, &buyer.who, bank.who.id, "terms", ERR_FORBIDDEN, "active"},
        {0, &prov.who, bank.who.id, "", ERR_INVALID, "active"},
        {0, &prov.who, stranger.who.id, "terms", ERR_BAD_STATE, "active"},
        {0, &prov.who, prov.who.id, "terms", ERR_INVALID, "active"},
        {0, &prov.who, buyer.who.id, "年度许可 annual licence, mainland China", ERR_OK, "active"},
        {3, &prov.who, NULL, NULL, ERR_BAD_STATE, "active"},
        {2, &buyer.who, bank.who.id, NULL, ERR_FORBIDDEN, "active"},
        {2, &prov.who, f->m.operator.id, NULL, ERR_INVALID, "active"},
        {2, &prov.who, bank.who.id, "loan 2026-001, CNY 10,000,000", ERR_OK, "pledged"},
        {2, &prov.who, bank.who.id, NULL, ERR_BAD_STATE, "pledged"},
        {1, &prov.who, buyer.who.id, NULL, ERR_BAD_STATE, "pledged"},
        {0, &prov.who, buyer.who.id, "a second licence while pledged", ERR_OK, "pledged"},
        {3, &prov.who, NULL, NULL, ERR_FORBIDDEN, "pledged"},
        {3, &bank.who, NULL, NULL, ERR_OK, "active"},
        {1, &buyer.who, buyer.who.id, NULL, ERR_FORBIDDEN, "active"},
        {1, &prov.who, prov.who.id, NULL, ERR_INVALID, "active"},
        {1, &prov.who, buyer.who.id, NULL, ERR_OK, "active"},
        {4, &prov.who, NULL, "x", ERR_FORBIDDEN, "active"},
        {4, &f->m.operator, NULL, "", ERR_INVALID, "active"},
        {4, &f->m.operator, NULL, "court order 2026-17", ERR_OK, "revoked"},
        {0, &buyer.who, bank.who.id, "terms", ERR_BAD_STATE, "revoked"},
        {4, &f->m.operator, NULL, "again", ERR_BAD_STATE, "revoked"},
    };
    for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
        int64_t before = event_count(f);
        errbuf_init(&err);
        enum err rc;
        switch (steps[i].step) {
        case 0:
            rc = core_rights_license(&f->m.core, steps[i].who, c.id, steps[i].other, steps[i].text,
                                     &out, &err);
            break;
        case 1:
            rc = core_rights_transfer(&f->m.core, steps[i].who, c.id, steps[i].other, &out, &err);
            break;
        case 2:
            rc = core_rights_pledge(&f->m.core, steps[i].who, c.id, steps[i].other, steps[i].text,
                                    &out, &err);
            break;
        case 3:
            rc = core_rights_release(&f->m.core, steps[i].who, c.id, &out, &err);
            break;
        default:
            rc = core_rights_revoke(&f->m.core, steps[i].who, c.id, steps[i].text, &out, &err);
            break;
        }
        if (rc != steps[i].expect) {
            fail_msg("step %zu: got %s (%s), wanted %s", i, err_name(rc), err.msg,
                     err_name(steps[i].expect));
        }
        assert_int_equal(event_count(f), before + (rc == ERR_OK ? 1 : 0));
        struct store_rights now;
        assert_int_equal(core_rights_get(&f->m.core, c.id, &now, NULL), ERR_OK);
        assert_string_equal(now.status, steps[i].status_after);
        if (i == 16) {
            /* The transfer re-signed the document for the new holder, chained to the old. */
            assert_string_equal(now.holder_id, buyer.who.id);
            assert_int_equal(now.version, 2);
            char prev[65];
            core__sha256_hex(c.document, strlen(c.document), prev);
            assert_non_null(strstr(now.document, prev));
            assert_non_null(strstr(now.document, buyer.who.id));
            assert_int_equal(
                core_rights_verify(now.document, now.signature, f->m.signer.public_key, NULL),
                ERR_OK);
        }
    }
    struct store_rights_event *hist = NULL;
    size_t n = 0;
    assert_int_equal(store_rights_event_list(f->m.core.store, c.id, &hist, &n, NULL), ERR_OK);
    const char *actions[] = {"issued",   "licensed",    "pledged", "licensed",
                             "released", "transferred", "revoked"};
    assert_int_equal(n, ARRAY_LEN(actions));
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(hist[i].action, actions[i]);
    }
    assert_string_equal(hist[2].counterparty, bank.who.id);
    assert_string_equal(hist[2].terms, "loan 2026-001, CNY 10,000,000");
    mem_free(hist);
    /* A revoked certificate frees the slot for a new one. */
    expect(core_rights_issue(&f->m.core, &f->m.operator, r.id, "operation", NULL, &c, &err), ERR_OK,
           &err, NULL);
    /* Lists follow visibility: the holder and the provider see theirs, a released creditor
     * and a stranger nothing. */
    struct store_rights_filter filter = {.limit = 10};
    struct store_rights_page page;
    assert_int_equal(core_rights_list(&f->m.core, &buyer.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 1);
    store_rights_page_release(&page);
    assert_int_equal(core_rights_list(&f->m.core, &prov.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 2);
    store_rights_page_release(&page);
    assert_int_equal(core_rights_list(&f->m.core, &bank.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 0);
    store_rights_page_release(&page);
    assert_int_equal(core_rights_list(&f->m.core, &stranger.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 0);
    store_rights_page_release(&page);
    assert_int_equal(core_rights_list(&f->m.core, &f->m.operator, & filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 2);
    store_rights_page_release(&page);
    store_revision_release(&r);
}

/* ---- policy and assessments ---- */

static void test_policy__default_and_versions(void **state)
{
    struct fixture *f = *state;
    struct store_policy p;
    assert_int_equal(core_policy_get(&f->m.core, CORE_POLICY_CURRENT, &p, NULL), ERR_OK);
    assert_int_equal(p.version, 0);
    assert_non_null(strstr(p.rules, "\"classification\":\"personal\""));
    store_policy_release(&p);
    const char *good =
        "{\"rules\": ["
        "{\"classification\": \"public\", \"sensitivity\": \"general\", \"kinds\": []},"
        "{\"classification\": \"public\", \"sensitivity\": \"important\", \"kinds\": "
        "[\"security\"]},"
        "{\"classification\": \"corporate\", \"sensitivity\": \"general\", \"kinds\": "
        "[\"quality\"]},"
        "{\"classification\": \"corporate\", \"sensitivity\": \"important\","
        " \"kinds\": [\"security\", \"quality\"]},"
        "{\"classification\": \"personal\", \"sensitivity\": \"general\","
        " \"kinds\": [\"compliance\"]},"
        "{\"classification\": \"personal\", \"sensitivity\": \"important\","
        " \"kinds\": [\"compliance\", \"security\", \"valuation\"]}]}";
    json_t *policy = json_loads(good, 0, NULL);
    int64_t before = event_count(f);
    struct errbuf err;
    struct market_party prov;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    before = event_count(f);
    assert_int_equal(core_policy_set(&f->m.core, &prov.who, policy, &p, NULL), ERR_FORBIDDEN);
    struct {
        const char *path;
        const char *value;
    } bad[] = {
        {"rules.0.sensitivity", "\"core\""},
        {"rules.0.kinds", "[\"astrology\"]"},
        {"rules.0.kinds", "[\"cross_border\"]"},
        {"rules.1.kinds", "[\"security\", \"security\"]"},
        {"rules.1.classification", "\"secret\""},
        {"rules.1.sensitivity", "\"general\""},
        {"rules.2.colour", "\"red\""},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        json_t *copy = json_deep_copy(policy);
        set_path(copy, bad[i].path, bad[i].value);
        errbuf_init(&err);
        enum err rc = core_policy_set(&f->m.core, &f->m.operator, copy, &p, &err);
        if (rc != ERR_INVALID) {
            fail_msg("bad policy %zu accepted: %s", i, err_name(rc));
        }
        json_decref(copy);
    }
    json_t *short_policy = json_deep_copy(policy);
    json_array_remove(json_object_get(short_policy, "rules"), 5);
    assert_int_equal(core_policy_set(&f->m.core, &f->m.operator, short_policy, &p, NULL),
                     ERR_INVALID);
    json_decref(short_policy);
    assert_int_equal(event_count(f), before);
    errbuf_init(&err);
    expect(core_policy_set(&f->m.core, &f->m.operator, policy, &p, &err), ERR_OK, &err, NULL);
    assert_int_equal(p.version, 1);
    assert_int_equal(p.log_index, before);
    store_policy_release(&p);
    expect(core_policy_set(&f->m.core, &f->m.operator, policy, &p, &err), ERR_OK, &err, NULL);
    assert_int_equal(p.version, 2);
    store_policy_release(&p);
    assert_int_equal(core_policy_get(&f->m.core, 1, &p, NULL), ERR_OK);
    assert_int_equal(p.version, 1);
    store_policy_release(&p);
    assert_int_equal(core_policy_get(&f->m.core, 7, &p, NULL), ERR_NOT_FOUND);
    assert_int_equal(core_policy_get(&f->m.core, CORE_POLICY_CURRENT, &p, NULL), ERR_OK);
    assert_int_equal(p.version, 2);
    store_policy_release(&p);
    assert_int_equal(core_policy_get(&f->m.core, 0, &p, NULL), ERR_OK);
    assert_int_equal(p.version, 0);
    assert_int_equal(p.log_index, -1);
    store_policy_release(&p);
    json_decref(policy);
}

/* The canonical report text a firm signs, and its signature. */
static void report_sign(const struct market_party *firm, const struct store_assessment *a,
                        const char *verdict, const char *content_hash, char **text,
                        char sig_b64[STORE_SIGNATURE_MAX])
{
    json_t *r = json_pack(
        "{s:s, s:[], s:s, s:{s:s, s:i}, s:[{s:s, s:s}], s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
        "assessment_id", a->id, "conditions", "content_hash", content_hash, "document", "sha256",
        OTHER_HASH, "size", 40960, "findings", "severity", "minor", "text",
        "字段 grade 的取值说明不完整 incomplete enum documentation", "firm_id", a->firm_id, "kind",
        a->kind, "product_id", a->product_id, "revision_id", a->revision_id, "type",
        "bourse/assessment-report", "v", 1, "verdict", verdict);
    assert_non_null(r);
    *text = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(r);
    market_signature(firm->sk, *text, sig_b64);
}

static void submit_ok(struct fixture *f, const struct market_party *firm,
                      const struct store_assessment *a, const char *verdict)
{
    char *text = NULL;
    char sig[STORE_SIGNATURE_MAX];
    report_sign(firm, a, verdict, a->content_hash, &text, sig);
    struct store_assessment out;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_assessment_submit(&f->m.core, &firm->who, a->id, text, sig, &out, &err), ERR_OK,
           &err, NULL);
    assert_string_equal(out.report, text);
    assert_string_equal(out.verdict, verdict);
    store_assessment_release(&out);
    free(text);
}

static void test_assessment__flow_and_listing_gate(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, firm, legal, other;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    market_party_new(&f->m, "service_firm", "DE", NULL, "compliance", &legal);
    market_party_new(&f->m, "service_firm", "DE", NULL, "quality", &firm);
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &other);
    struct store_product p;
    struct store_revision r;
    register_ok(f, &prov, metadata(), &p, &r);
    /* Corporate general data needs compliance and quality (the default), and a right. */
    struct core_listable l;
    assert_int_equal(core_product_listable(&f->m.core, r.id, &l, NULL), ERR_OK);
    assert_false(l.listable);
    assert_int_equal(l.policy_version, 0);
    assert_int_equal(l.missing_count, 3);
    assert_string_equal(l.missing[0].item, "right");
    assert_string_equal(l.missing[1].kind, "compliance");
    assert_string_equal(l.missing[1].reason, "not requested");
    assert_string_equal(l.missing[2].kind, "quality");
    struct store_rights cert;
    assert_int_equal(
        core_rights_issue(&f->m.core, &f->m.operator, r.id, "operation", NULL, &cert, NULL),
        ERR_OK);
    /* Refused requests change nothing. */
    int64_t before = event_count(f);
    struct store_assessment a, q, out;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_assessment_request(&f->m.core, &other.who, r.id, "quality", firm.who.id, &a, &err),
           ERR_NOT_FOUND, &err, NULL);
    expect(core_assessment_request(&f->m.core, &prov.who, r.id, "quality", legal.who.id, &a, &err),
           ERR_INVALID, &err, "firm_id");
    expect(core_assessment_request(&f->m.core, &prov.who, r.id, "quality", other.who.id, &a, &err),
           ERR_INVALID, &err, "firm_id");
    expect(core_assessment_request(&f->m.core, &prov.who, r.id, "astrology", firm.who.id, &a, &err),
           ERR_INVALID, &err, "kind");
    assert_int_equal(event_count(f), before);
    expect(core_assessment_request(&f->m.core, &prov.who, r.id, "quality", firm.who.id, &q, &err),
           ERR_OK, &err, NULL);
    expect(core_assessment_request(&f->m.core, &prov.who, r.id, "quality", firm.who.id, &a, &err),
           ERR_CONFLICT, &err, "kind");
    expect(
        core_assessment_request(&f->m.core, &prov.who, r.id, "compliance", legal.who.id, &a, &err),
        ERR_OK, &err, NULL);
    assert_int_equal(event_count(f), before + 2);
    assert_int_equal(core_product_listable(&f->m.core, r.id, &l, NULL), ERR_OK);
    assert_int_equal(l.missing_count, 2);
    assert_string_equal(l.missing[0].reason, "requested; the firm has not submitted its report");
    /* Report refusals. */
    before = event_count(f);
    char *text = NULL;
    char sig[STORE_SIGNATURE_MAX];
    report_sign(&firm, &q, "pass", q.content_hash, &text, sig);
    expect(core_assessment_submit(&f->m.core, &prov.who, q.id, text, sig, &out, &err),
           ERR_FORBIDDEN, &err, NULL);
    expect(core_assessment_submit(&f->m.core, &legal.who, q.id, text, sig, &out, &err),
           ERR_NOT_FOUND, &err, NULL);
    expect(core_assessment_submit(&f->m.core, &other.who, q.id, text, sig, &out, &err),
           ERR_NOT_FOUND, &err, NULL);
    char forged[STORE_SIGNATURE_MAX];
    snprintf(forged, sizeof(forged), "%s", sig);
    forged[3] = forged[3] == 'A' ? 'B' : 'A';
    expect(core_assessment_submit(&f->m.core, &firm.who, q.id, text, forged, &out, &err),
           ERR_INVALID, &err, "signature");
    /* Signed by someone else's key (the legal firm's) for this firm's assessment. */
    char *text2 = NULL;
    char sig2[STORE_SIGNATURE_MAX];
    report_sign(&legal, &q, "pass", q.content_hash, &text2, sig2);
    expect(core_assessment_submit(&f->m.core, &firm.who, q.id, text2, sig2, &out, &err),
           ERR_INVALID, &err, "signature");
    free(text2);
    /* Bound to another content hash: refused even with a good signature. */
    report_sign(&firm, &q, "pass", OTHER_HASH, &text2, sig2);
    expect(core_assessment_submit(&f->m.core, &firm.who, q.id, text2, sig2, &out, &err),
           ERR_INVALID, &err, "report");
    free(text2);
    /* Not canonical. */
    json_t *j = json_loads(text, 0, NULL);
    text2 = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    expect(core_assessment_submit(&f->m.core, &firm.who, q.id, text2, sig, &out, &err), ERR_INVALID,
           &err, "report");
    free(text2);
    /* Conditions without the verdict. */
    report_sign(&firm, &q, "conditions", q.content_hash, &text2, sig2);
    expect(core_assessment_submit(&f->m.core, &firm.who, q.id, text2, sig2, &out, &err),
           ERR_INVALID, &err, "report");
    free(text2);
    free(text);
    assert_int_equal(event_count(f), before);
    /* A fail is recorded and does not satisfy the policy. */
    submit_ok(f, &firm, &q, "fail");
    expect(core_assessment_submit(&f->m.core, &firm.who, q.id, "{}", sig, &out, &err),
           ERR_BAD_STATE, &err, NULL);
    assert_int_equal(core_product_listable(&f->m.core, r.id, &l, NULL), ERR_OK);
    assert_string_equal(l.missing[1].reason, "the report's verdict is fail");
    /* A second request, passed; and the compliance report. */
    expect(core_assessment_request(&f->m.core, &prov.who, r.id, "quality", firm.who.id, &q, &err),
           ERR_OK, &err, NULL);
    submit_ok(f, &firm, &q, "pass");
    assert_int_equal(core_assessment_get(&f->m.core, &prov.who, a.id, &out, NULL), ERR_OK);
    submit_ok(f, &legal, &out, "pass");
    store_assessment_release(&out);
    assert_int_equal(core_product_listable(&f->m.core, r.id, &l, NULL), ERR_OK);
    if (!l.listable) {
        fail_msg("not listable: %s %s: %s", l.missing[0].item, l.missing[0].kind,
                 l.missing[0].reason);
    }
    /* Corporate general data may be offered across the border freely. */
    assert_int_equal(core_revision_cross_border(&f->m.core, r.id, &l, NULL), ERR_OK);
    assert_true(l.listable);
    /* A new revision needs new assessments, and the old one is superseded. */
    json_t *md = metadata();
    set_path(md, "content_hash", "\"" OTHER_HASH "\"");
    struct store_revision r2;
    expect(core_product_revise(&f->m.core, &prov.who, p.id, md, &p, &r2, &err), ERR_OK, &err, NULL);
    json_decref(md);
    assert_int_equal(core_product_listable(&f->m.core, r.id, &l, NULL), ERR_OK);
    assert_false(l.listable);
    assert_string_equal(l.missing[0].item, "revision");
    assert_int_equal(core_product_listable(&f->m.core, r2.id, &l, NULL), ERR_OK);
    assert_false(l.listable);
    assert_int_equal(l.missing_count, 3);
    before = event_count(f);
    expect(core_assessment_request(&f->m.core, &prov.who, r.id, "quality", firm.who.id, &a, &err),
           ERR_BAD_STATE, &err, "revision_id");
    assert_int_equal(event_count(f), before);
    /* Lists follow visibility. */
    struct store_assessment_filter filter = {.limit = 10};
    struct store_assessment_page page;
    assert_int_equal(core_assessment_list(&f->m.core, &legal.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 1);
    store_assessment_page_release(&page);
    assert_int_equal(core_assessment_list(&f->m.core, &prov.who, &filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 3);
    store_assessment_page_release(&page);
    /* The firm now sees the product it assessed. */
    struct store_product seen;
    assert_int_equal(core_product_get(&f->m.core, &firm.who, p.id, &seen, NULL), ERR_OK);
    store_revision_release(&r);
    store_revision_release(&r2);
}

static void test_assessment__important_data_and_cross_border(void **state)
{
    struct fixture *f = *state;
    struct market_party prov, sec;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    market_party_new(&f->m, "service_firm", "DE", NULL, "security", &sec);
    json_t *md = metadata();
    set_path(md, "sensitivity", "\"important\"");
    struct store_product p;
    struct store_revision r;
    register_ok(f, &prov, md, &p, &r);
    assert_int_equal(r.supervised, 1);
    struct core_listable l;
    assert_int_equal(core_revision_cross_border(&f->m.core, r.id, &l, NULL), ERR_OK);
    assert_false(l.listable);
    assert_string_equal(l.missing[0].kind, "cross_border");
    /* Important data also needs a security assessment to be listed at all. */
    assert_int_equal(core_product_listable(&f->m.core, r.id, &l, NULL), ERR_OK);
    int security = 0;
    for (size_t i = 0; i < l.missing_count; i++) {
        security |= strcmp(l.missing[i].kind, "security") == 0;
    }
    assert_true(security);
    struct store_assessment a;
    struct errbuf err;
    errbuf_init(&err);
    expect(
        core_assessment_request(&f->m.core, &prov.who, r.id, "cross_border", sec.who.id, &a, &err),
        ERR_OK, &err, NULL);
    submit_ok(f, &sec, &a, "pass");
    assert_int_equal(core_revision_cross_border(&f->m.core, r.id, &l, NULL), ERR_OK);
    assert_true(l.listable);
    store_revision_release(&r);
}

/* ---- quality checks ---- */

static json_t *quality_run(const char *schema, const char *format, const char *sample)
{
    json_t *s = json_loads(schema, 0, NULL);
    assert_non_null(s);
    json_t *report = NULL;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_quality_check(s, format, sample, strlen(sample), &report, &err), ERR_OK, &err,
           NULL);
    json_decref(s);
    return report;
}

static json_int_t column_int(const json_t *report, size_t col, const char *key)
{
    return json_integer_value(
        json_object_get(json_array_get(json_object_get(report, "columns"), col), key));
}

static const char *column_str(const json_t *report, size_t col, const char *key)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(report, "columns"), col), key));
}

static json_int_t report_int(const json_t *report, const char *key)
{
    return json_integer_value(json_object_get(report, key));
}

static const char *const quality_schema =
    "[{\"name\": \"城市\", \"type\": \"string\"}, {\"name\": \"n\", \"type\": \"integer\"},"
    " {\"name\": \"price\", \"type\": \"decimal\"}, {\"name\": \"ok\", \"type\": \"boolean\"},"
    " {\"name\": \"day\", \"type\": \"date\"}, {\"name\": \"at\", \"type\": \"timestamp\"},"
    " {\"name\": \"grade\", \"type\": \"enum\", \"values\": [\"A\", \"B\"]}]";

static void test_quality__csv(void **state)
{
    (void)state;
    /* A BOM, CRLF, a quoted field with a comma and doubled quotes, nulls, a duplicate row,
     * type errors (n = 1.5, price = abc, day = 2023-02-29, grade = C), a short row. */
    const char *csv =
        "\xef\xbb\xbf"
        "城市,n,price,ok,day,at,grade\r\n"
        "上海,1,10.50,true,2024-01-31,2024-01-31T08:00:00Z,A\r\n"
        "\"Beijing, \"\"BJ\"\"\",-7,-0.25,0,2024-02-29,2024-02-29 23:59:59+08:00,B\r\n"
        "深圳,,100,false,,,\r\n"
        "深圳,,100,false,,,\r\n"
        "广州,1.5,abc,maybe,2023-02-29,yesterday,C\r\n"
        "short,row\r\n";
    json_t *r = quality_run(quality_schema, "csv", csv);
    assert_int_equal(report_int(r, "rows"), 5);
    assert_int_equal(report_int(r, "malformed_rows"), 1);
    assert_int_equal(report_int(r, "duplicate_rows"), 1);
    assert_false(json_is_true(json_object_get(r, "passed")));
    assert_int_equal(json_array_size(json_object_get(r, "missing_columns")), 0);
    assert_int_equal(column_int(r, 1, "nulls"), 2);
    assert_int_equal(column_int(r, 1, "type_errors"), 1);
    assert_int_equal(column_int(r, 1, "completeness_permille"), 600);
    assert_string_equal(column_str(r, 1, "min"), "-7");
    assert_string_equal(column_str(r, 1, "max"), "1");
    assert_int_equal(column_int(r, 2, "type_errors"), 1);
    assert_string_equal(column_str(r, 2, "min"), "-0.25");
    assert_string_equal(column_str(r, 2, "max"), "100");
    assert_int_equal(column_int(r, 3, "type_errors"), 1);
    assert_int_equal(column_int(r, 4, "type_errors"), 1);
    assert_string_equal(column_str(r, 4, "min"), "2024-01-31");
    assert_string_equal(column_str(r, 4, "max"), "2024-02-29");
    assert_int_equal(column_int(r, 5, "type_errors"), 1);
    assert_int_equal(column_int(r, 6, "type_errors"), 1);
    assert_int_equal(column_int(r, 0, "nulls"), 0);
    assert_null(column_str(r, 0, "min"));
    json_decref(r);
    /* A clean sample passes; header order need not follow the schema. */
    r = quality_run("[{\"name\": \"a\", \"type\": \"integer\"}, {\"name\": \"b\", \"type\": "
                    "\"string\"}]",
                    "csv", "b,a\nx,1\ny,2\n\"z\n2\",3");
    assert_int_equal(report_int(r, "rows"), 3);
    assert_true(json_is_true(json_object_get(r, "passed")));
    assert_int_equal(report_int(r, "completeness_permille"), 1000);
    json_decref(r);
    /* Missing and unknown columns; an unterminated quote. */
    r = quality_run("[{\"name\": \"a\", \"type\": \"integer\"}, {\"name\": \"b\", \"type\": "
                    "\"string\"}]",
                    "csv", "a,c\n1,x\n2,\"open\n");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "missing_columns"), 0)),
                        "b");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "unknown_columns"), 0)),
                        "c");
    assert_int_equal(report_int(r, "malformed_rows"), 1);
    assert_int_equal(column_int(r, 1, "nulls"), 1);
    json_decref(r);
}

static void test_quality__jsonl(void **state)
{
    (void)state;
    const char *jsonl =
        "{\"城市\": \"上海\", \"n\": 1, \"price\": 10.5, \"ok\": true,"
        " \"day\": \"2024-01-31\", \"at\": \"2024-01-31T08:00:00Z\", \"grade\": \"A\"}\n"
        "{\"城市\": \"北京\", \"n\": \"2\", \"price\": \"-3.75\", \"ok\": 1,"
        " \"day\": null, \"grade\": \"B\", \"extra\": 1}\n"
        "not json\n"
        "[1, 2]\n"
        "\n"
        "{\"城市\": \"上海\", \"n\": 1, \"price\": 10.5, \"ok\": true,"
        " \"day\": \"2024-01-31\", \"at\": \"2024-01-31T08:00:00Z\", \"grade\": \"A\"}\n";
    json_t *r = quality_run(quality_schema, "jsonl", jsonl);
    assert_int_equal(report_int(r, "rows"), 3);
    assert_int_equal(report_int(r, "malformed_rows"), 2);
    assert_int_equal(report_int(r, "duplicate_rows"), 1);
    assert_int_equal(column_int(r, 1, "type_errors"), 1); /* "2" is text, not an integer */
    assert_int_equal(column_int(r, 2, "type_errors"), 0); /* decimals may be text */
    assert_string_equal(column_str(r, 2, "min"), "-3.75");
    assert_string_equal(column_str(r, 2, "max"), "10.5");
    assert_int_equal(column_int(r, 3, "type_errors"), 1); /* 1 is not a boolean */
    assert_int_equal(column_int(r, 4, "nulls"), 1);
    assert_int_equal(column_int(r, 5, "nulls"), 1); /* absent is null */
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "unknown_columns"), 0)),
                        "extra");
    json_decref(r);
    /* Bad schemas and formats are refused. */
    json_t *s = json_loads("[{\"name\": \"a\", \"type\": \"blob\"}]", 0, NULL);
    json_t *report = NULL;
    struct errbuf err;
    errbuf_init(&err);
    expect(core_quality_check(s, "csv", "a\n1\n", 4, &report, &err), ERR_INVALID, &err,
           "schema[0].type");
    json_decref(s);
    s = json_loads("[{\"name\": \"a\", \"type\": \"string\"}]", 0, NULL);
    expect(core_quality_check(s, "xlsx", "a\n1\n", 4, &report, &err), ERR_INVALID, &err,
           "sample.format");
    json_decref(s);
}

/* Every allocation failure while registering or issuing returns ERR_NOMEM and writes
 * nothing. */
static void test_product__allocation_failures(void **state)
{
    struct fixture *f = *state;
    struct market_party prov;
    market_party_new(&f->m, "provider", "DE", seller_certs, NULL, &prov);
    int64_t before = event_count(f);
    struct store_product p;
    struct store_revision r;
    long n = 1;
    for (; n < 10000; n++) {
        json_t *md = metadata();
        mem_fail_after(n);
        enum err rc = core_product_register(&f->m.core, &prov.who, md, &p, &r, NULL);
        mem_fail_after(0);
        json_decref(md);
        if (rc == ERR_OK) {
            break;
        }
        assert_int_equal(rc, ERR_NOMEM);
        assert_int_equal(event_count(f), before);
        assert_int_equal(store_tx_depth(f->m.core.store), 0);
    }
    assert_int_equal(event_count(f), before + 1);
    before = event_count(f);
    for (n = 1; n < 10000; n++) {
        struct store_rights c;
        mem_fail_after(n);
        enum err rc =
            core_rights_issue(&f->m.core, &f->m.operator, r.id, "holding", NULL, &c, NULL);
        mem_fail_after(0);
        if (rc == ERR_OK) {
            break;
        }
        assert_int_equal(rc, ERR_NOMEM);
        assert_int_equal(event_count(f), before);
        assert_int_equal(store_tx_depth(f->m.core.store), 0);
    }
    assert_int_equal(event_count(f), before + 1);
    store_revision_release(&r);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_product__register_records_one_event),
        T(test_product__refusals_change_nothing),
        T(test_product__who_may_register),
        T(test_product__revisions_are_immutable),
        T(test_product__derived_inherits_restrictions),
        T(test_rights__signatures_verify_and_tampering_fails),
        T(test_rights__license_transfer_pledge_release_revoke),
        T(test_policy__default_and_versions),
        T(test_assessment__flow_and_listing_gate),
        T(test_assessment__important_data_and_cross_border),
        cmocka_unit_test(test_quality__csv),
        cmocka_unit_test(test_quality__jsonl),
        T(test_product__allocation_failures),
    };
#undef T
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests_name("product", tests, NULL, NULL);
}
