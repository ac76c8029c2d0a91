/*
 * core_test.c: the entity rules against a real in-memory SQLite store with a fixed clock and
 * a seeded random source: USCC validation, the review state machine, certificate rules,
 * API keys and authentication, visibility, and that every refusal and every allocation
 * failure leaves the store exactly as it was.
 */
#include "util/compat.h"
#include "core/core.h"

#include "test_support.h"

#include <stdio.h>

struct fixture {
    struct test_clock_state clock_state;
    struct test_rng_state rng_state;
    struct clock clock;
    struct rng rng;
    struct core core;
    struct core_principal operator;
    char pubkey[STORE_PUBKEY_MAX];
};

static void make_pubkey(char out[STORE_PUBKEY_MAX])
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    sodium_bin2base64(out, STORE_PUBKEY_MAX, pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->clock_state.now_ms = 1795305540000;
    f->clock.now_ms = test_clock_now;
    f->clock.ctx = &f->clock_state;
    f->rng.fill = test_rng_fill;
    f->rng.ctx = &f->rng_state;
    f->core.clock = &f->clock;
    f->core.rng = &f->rng;
    assert_int_equal(store_open(":memory:", &f->core.store, NULL), ERR_OK);
    make_pubkey(f->pubkey);
    int created = 0;
    struct core_new_key key;
    assert_int_equal(core_bootstrap(&f->core, f->pubkey, &created, &key, NULL), ERR_OK);
    assert_true(created);
    assert_int_equal(core_authenticate(&f->core, key.secret, &f->operator, NULL), ERR_OK);
    assert_int_equal(f->operator.kind, CORE_KIND_OPERATOR);
    /* A second bootstrap changes nothing. */
    assert_int_equal(core_bootstrap(&f->core, f->pubkey, &created, &key, NULL), ERR_OK);
    assert_false(created);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->core.store);
    free(f);
    return 0;
}

static int64_t event_count(struct fixture *f)
{
    int64_t n = -1;
    assert_int_equal(store_event_count(f->core.store, &n, NULL), ERR_OK);
    return n;
}

static struct core_application application(struct fixture *f, const char *kind, const char *uscc)
{
    struct core_application app;
    memset(&app, 0, sizeof(app));
    app.kind = kind;
    app.name = "上海数据交易示范公司";
    app.uscc = uscc;
    app.country = "CN";
    app.contact_name = "王芳";
    app.contact_email = "wang@example.cn";
    app.contact_phone = "+86 21 5555 0000";
    app.public_key = f->pubkey;
    return app;
}

static void apply_ok(struct fixture *f, const char *kind, const char *uscc, struct store_entity *e,
                     struct core_principal *who)
{
    struct core_application app = application(f, kind, uscc);
    struct core_new_key key;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = core_entity_apply(&f->core, &app, e, &key, &err);
    if (rc != ERR_OK) {
        fail_msg("apply failed: %s (%s)", err.msg, err.field);
    }
    assert_int_equal(core_authenticate(&f->core, key.secret, who, NULL), ERR_OK);
}

static void test_core__uscc(void **state)
{
    (void)state;
    const char *good[] = {"91110000802100433B", "91440300708461136T", "91350100M000100Y43"};
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        assert_int_equal(core_uscc_validate(good[i], NULL), ERR_OK);
    }
    struct {
        const char *code;
        const char *fragment;
    } bad[] = {
        {"91110000802100433A", "wrong check character"},
        {"91110000802100433", "18 characters"},
        {"911100008021004330B", "18 characters"},
        {"91110000802I00433B", "character set"},
        {"91110000802100433b", "character set"},
        {"B1110000802100433B", "registration authority"},
        {"911A0000802100433B", "administrative division"},
        {"", "missing"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct errbuf err;
        errbuf_init(&err);
        assert_int_equal(core_uscc_validate(bad[i].code, &err), ERR_INVALID);
        assert_string_equal(err.field, "uscc");
        if (strstr(err.msg, bad[i].fragment) == NULL) {
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].code, err.msg, bad[i].fragment);
        }
    }
    assert_int_equal(core_uscc_validate(NULL, NULL), ERR_INVALID);
}

static void test_core__apply_records_entity_key_and_event(void **state)
{
    struct fixture *f = *state;
    int64_t before = event_count(f);
    struct store_entity e;
    struct core_principal who;
    apply_ok(f, "provider", "91110000802100433B", &e, &who);
    assert_string_equal(e.status, "applied");
    assert_int_equal(e.log_index, before);
    assert_int_equal(event_count(f), before + 1);
    assert_string_equal(who.id, e.id);
    assert_int_equal(who.status, CORE_STATUS_APPLIED);
    struct store_event *evs = NULL;
    size_t n = 0;
    assert_int_equal(store_event_range(f->core.store, before, 10, &evs, &n, NULL), ERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(evs[0].type, "entity.applied");
    /* The leaf is canonical JSON with sorted keys and no contact details. */
    assert_non_null(strstr(evs[0].leaf, "{\"actor\":\""));
    assert_null(strstr(evs[0].leaf, "wang@example.cn"));
    assert_non_null(strstr(evs[0].leaf, "上海数据交易示范公司"));
    store_event_release(&evs[0]);
    mem_free(evs);
}

static void test_core__apply_refusals_change_nothing(void **state)
{
    struct fixture *f = *state;
    struct store_entity e;
    struct core_principal who;
    apply_ok(f, "buyer", "91440300708461136T", &e, &who);
    int64_t before = event_count(f);
    struct {
        const char *field;
        const char *value;
        const char *expect_field;
        enum err expect;
    } cases[] = {
        {"kind", "operator", "kind", ERR_INVALID},
        {"kind", "wizard", "kind", ERR_INVALID},
        {"kind", NULL, "kind", ERR_INVALID},
        {"name", "", "name", ERR_INVALID},
        {"name", "\xff\xfe", "name", ERR_INVALID},
        {"uscc", "91440300708461136X", "uscc", ERR_INVALID},
        {"uscc", "91440300708461136T", "uscc", ERR_CONFLICT},
        {"country", "cn", "country", ERR_INVALID},
        {"email", "a@b", "contact.email", ERR_INVALID},
        {"email", "a b@c.d", "contact.email", ERR_INVALID},
        {"phone", "12", "contact.phone", ERR_INVALID},
        {"public_key", "AAAA", "public_key", ERR_INVALID},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct core_application app = application(f, "buyer", "91350100M000100Y43");
        if (strcmp(cases[i].field, "kind") == 0) {
            app.kind = cases[i].value;
        } else if (strcmp(cases[i].field, "name") == 0) {
            app.name = cases[i].value;
        } else if (strcmp(cases[i].field, "uscc") == 0) {
            app.uscc = cases[i].value;
        } else if (strcmp(cases[i].field, "country") == 0) {
            app.country = cases[i].value;
        } else if (strcmp(cases[i].field, "email") == 0) {
            app.contact_email = cases[i].value;
        } else if (strcmp(cases[i].field, "phone") == 0) {
            app.contact_phone = cases[i].value;
        } else {
            app.public_key = cases[i].value;
        }
        struct store_entity out;
        struct core_new_key key;
        struct errbuf err;
        errbuf_init(&err);
        assert_int_equal(core_entity_apply(&f->core, &app, &out, &key, &err), cases[i].expect);
        assert_string_equal(err.field, cases[i].expect_field);
        assert_int_equal(event_count(f), before);
    }
    /* A foreign entity needs no USCC. */
    struct core_application app = application(f, "buyer", NULL);
    app.country = "DE";
    struct store_entity out;
    struct core_new_key key;
    assert_int_equal(core_entity_apply(&f->core, &app, &out, &key, NULL), ERR_OK);
    assert_string_equal(out.uscc, "");
}

static void test_core__review_state_machine(void **state)
{
    struct fixture *f = *state;
    struct store_entity e;
    struct core_principal who;
    apply_ok(f, "provider", "91110000802100433B", &e, &who);
    struct store_entity out;
    struct errbuf err;
    struct {
        const char *decision;
        const char *reason;
        enum err expect;
        const char *status_after;
    } steps[] = {
        {"suspend", "x", ERR_BAD_STATE, "applied"}, {"reinstate", "", ERR_BAD_STATE, "applied"},
        {"reject", "", ERR_INVALID, "applied"},     {"verify", "", ERR_OK, "verified"},
        {"verify", "", ERR_BAD_STATE, "verified"},  {"reject", "x", ERR_BAD_STATE, "verified"},
        {"suspend", "probe", ERR_OK, "suspended"},  {"suspend", "x", ERR_BAD_STATE, "suspended"},
        {"reinstate", "ok", ERR_OK, "verified"},    {"approve", "", ERR_INVALID, "verified"},
    };
    for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
        int64_t before = event_count(f);
        errbuf_init(&err);
        enum err rc = core_entity_review(&f->core, &f->operator, e.id, steps[i].decision,
                                         steps[i].reason, &out, &err);
        assert_int_equal(rc, steps[i].expect);
        assert_int_equal(event_count(f), before + (rc == ERR_OK ? 1 : 0));
        struct store_entity now;
        assert_int_equal(store_entity_get(f->core.store, e.id, &now, NULL), ERR_OK);
        assert_string_equal(now.status, steps[i].status_after);
    }
    struct store_review *reviews = NULL;
    size_t n = 0;
    assert_int_equal(store_review_list(f->core.store, e.id, &reviews, &n, NULL), ERR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(reviews[1].reason, "probe");
    assert_string_equal(reviews[1].actor, f->operator.id);
    mem_free(reviews);
    /* Only the operator reviews, and not itself. */
    assert_int_equal(core_entity_review(&f->core, &who, e.id, "verify", "", &out, NULL),
                     ERR_FORBIDDEN);
    assert_int_equal(
        core_entity_review(&f->core, &f->operator, f->operator.id, "suspend", "x", &out, NULL),
        ERR_FORBIDDEN);
    assert_int_equal(
        core_entity_review(&f->core, &f->operator, "ent_bad", "verify", "", &out, NULL),
        ERR_INVALID);
}

static void test_core__certificates(void **state)
{
    struct fixture *f = *state;
    struct store_entity p, b;
    struct core_principal pw, bw;
    apply_ok(f, "provider", "91110000802100433B", &p, &pw);
    apply_ok(f, "buyer", "91440300708461136T", &b, &bw);
    struct store_cert c;
    assert_int_equal(core_cert_issue(&f->core, &f->operator, p.id, "trading", &c, NULL),
                     ERR_BAD_STATE);
    struct store_entity out;
    assert_int_equal(core_entity_review(&f->core, &f->operator, p.id, "verify", "", &out, NULL),
                     ERR_OK);
    assert_int_equal(core_entity_review(&f->core, &f->operator, b.id, "verify", "", &out, NULL),
                     ERR_OK);
    assert_int_equal(core_cert_issue(&f->core, &pw, p.id, "trading", &c, NULL), ERR_FORBIDDEN);
    assert_int_equal(core_cert_issue(&f->core, &f->operator, b.id, "data_provider", &c, NULL),
                     ERR_INVALID);
    assert_int_equal(core_cert_issue(&f->core, &f->operator, p.id, "cross_border", &c, NULL),
                     ERR_BAD_STATE);
    assert_int_equal(core_cert_issue(&f->core, &f->operator, p.id, "trading", &c, NULL), ERR_OK);
    struct store_cert trading = c;
    assert_int_equal(core_cert_issue(&f->core, &f->operator, p.id, "trading", &c, NULL),
                     ERR_CONFLICT);
    assert_int_equal(core_cert_issue(&f->core, &f->operator, p.id, "cross_border", &c, NULL),
                     ERR_OK);
    int active = 0;
    assert_int_equal(core_cert_active(&f->core, p.id, CORE_CERT_CROSS_BORDER, &active, NULL),
                     ERR_OK);
    assert_true(active);
    assert_int_equal(core_cert_revoke(&f->core, &f->operator, b.id, trading.id, "x", &c, NULL),
                     ERR_NOT_FOUND);
    assert_int_equal(core_cert_revoke(&f->core, &f->operator, p.id, trading.id, "lapsed", &c, NULL),
                     ERR_OK);
    assert_string_equal(c.status, "revoked");
    assert_true(c.revoke_log_index > c.log_index);
    assert_int_equal(core_cert_revoke(&f->core, &f->operator, p.id, trading.id, "again", &c, NULL),
                     ERR_BAD_STATE);
    /* Revoked trading frees the slot for a new one. */
    assert_int_equal(core_cert_issue(&f->core, &f->operator, p.id, "trading", &c, NULL), ERR_OK);
}

static void test_core__keys_and_authentication(void **state)
{
    struct fixture *f = *state;
    struct store_entity e, out;
    struct core_principal who;
    apply_ok(f, "buyer", "91440300708461136T", &e, &who);
    struct core_new_key key;
    assert_int_equal(core_key_create(&f->core, &who, e.id, "mine", &key, NULL), ERR_FORBIDDEN);
    assert_int_equal(core_entity_review(&f->core, &f->operator, e.id, "verify", "", &out, NULL),
                     ERR_OK);
    assert_int_equal(core_authenticate(&f->core, key.secret, &who, NULL), ERR_UNAUTHORIZED);
    struct core_principal fresh;
    struct core_new_key first;
    /* Re-authenticate through a new operator-issued key to see the new status. */
    assert_int_equal(core_key_create(&f->core, &f->operator, e.id, "ops", &first, NULL), ERR_OK);
    assert_int_equal(core_authenticate(&f->core, first.secret, &fresh, NULL), ERR_OK);
    assert_int_equal(fresh.status, CORE_STATUS_VERIFIED);
    assert_int_equal(core_key_create(&f->core, &fresh, e.id, "mine", &key, NULL), ERR_OK);
    assert_int_equal(strlen(key.secret), 47);
    /* Only the hash is stored. */
    struct store_api_key stored;
    assert_int_equal(store_api_key_get(f->core.store, key.key.id, &stored, NULL), ERR_OK);
    assert_null(strstr(stored.secret_hash, key.secret + 4));
    struct store_api_key revoked;
    assert_int_equal(core_key_revoke(&f->core, &fresh, key.key.id, &revoked, NULL), ERR_OK);
    assert_int_equal(core_authenticate(&f->core, key.secret, &who, NULL), ERR_UNAUTHORIZED);
    assert_int_equal(core_key_revoke(&f->core, &fresh, key.key.id, &revoked, NULL), ERR_BAD_STATE);
    const char *bad[] = {"", "bsk_", "Bearer x", "bsk_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(core_authenticate(&f->core, bad[i], &who, NULL), ERR_UNAUTHORIZED);
    }
    /* Someone else's key is not even found. */
    struct store_entity other;
    struct core_principal ow;
    apply_ok(f, "provider", "91110000802100433B", &other, &ow);
    assert_int_equal(core_entity_review(&f->core, &f->operator, other.id, "verify", "", &out, NULL),
                     ERR_OK);
    struct core_new_key okey;
    assert_int_equal(core_key_create(&f->core, &f->operator, other.id, "", &okey, NULL), ERR_OK);
    assert_int_equal(core_authenticate(&f->core, okey.secret, &ow, NULL), ERR_OK);
    assert_int_equal(core_key_revoke(&f->core, &ow, first.key.id, &revoked, NULL), ERR_NOT_FOUND);
}

static void test_core__visibility(void **state)
{
    struct fixture *f = *state;
    struct store_entity a, b, out;
    struct core_principal aw, bw;
    apply_ok(f, "buyer", "91440300708461136T", &a, &aw);
    apply_ok(f, "provider", "91110000802100433B", &b, &bw);
    assert_int_equal(core_entity_get(&f->core, &aw, a.id, &out, NULL), ERR_OK);
    assert_int_equal(core_entity_get(&f->core, &aw, b.id, &out, NULL), ERR_NOT_FOUND);
    struct store_entity_filter filter = {.limit = 10};
    struct store_entity_page page;
    assert_int_equal(core_entity_list(&f->core, &aw, &filter, &page, NULL), ERR_FORBIDDEN);
    assert_int_equal(core_entity_list(&f->core, &f->operator, & filter, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 3);
    store_entity_page_release(&page);
    filter.kind = "pirate";
    assert_int_equal(core_entity_list(&f->core, &f->operator, & filter, &page, NULL), ERR_INVALID);
}

/* A zeroed principal (no credentials) must never act as the operator or see anything. */
static void test_core__anonymous_principal_has_no_power(void **state)
{
    struct fixture *f = *state;
    struct store_entity e, out;
    struct core_principal who;
    apply_ok(f, "provider", "91110000802100433B", &e, &who);
    struct core_principal anon;
    memset(&anon, 0, sizeof(anon));
    int64_t before = event_count(f);
    assert_int_not_equal(anon.kind, CORE_KIND_OPERATOR);
    assert_false(core_principal_active(&anon));
    assert_int_equal(core_entity_review(&f->core, &anon, e.id, "verify", "", &out, NULL),
                     ERR_FORBIDDEN);
    struct store_cert c;
    assert_int_equal(core_cert_issue(&f->core, &anon, e.id, "trading", &c, NULL), ERR_FORBIDDEN);
    struct core_new_key key;
    assert_int_equal(core_key_create(&f->core, &anon, e.id, "", &key, NULL), ERR_FORBIDDEN);
    assert_int_equal(core_entity_get(&f->core, &anon, e.id, &out, NULL), ERR_NOT_FOUND);
    struct store_entity_filter filter = {.limit = 10};
    struct store_entity_page page;
    assert_int_equal(core_entity_list(&f->core, &anon, &filter, &page, NULL), ERR_FORBIDDEN);
    assert_int_equal(event_count(f), before);
}

/* Every allocation failure in apply returns an error and writes nothing. */
static void test_core__apply_allocation_failures(void **state)
{
    struct fixture *f = *state;
    int64_t before = event_count(f);
    for (long n = 1; n < 200; n++) {
        struct core_application app = application(f, "provider", "91110000802100433B");
        struct store_entity out;
        struct core_new_key key;
        mem_fail_after(n);
        enum err rc = core_entity_apply(&f->core, &app, &out, &key, NULL);
        mem_fail_after(0);
        if (rc == ERR_OK) {
            assert_int_equal(event_count(f), before + 1);
            return;
        }
        assert_int_equal(rc, ERR_NOMEM);
        assert_int_equal(event_count(f), before);
        assert_int_equal(store_tx_depth(f->core.store), 0);
    }
    fail_msg("apply never succeeded");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core__uscc),
        cmocka_unit_test_setup_teardown(test_core__apply_records_entity_key_and_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_core__apply_refusals_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core__review_state_machine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core__certificates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core__keys_and_authentication, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core__visibility, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core__anonymous_principal_has_no_power, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_core__apply_allocation_failures, setup, teardown),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
