/*
 * http_test.c: the request parsing the server does before any handler runs: routing, query
 * strings, JSON bodies and their limits, and the error-to-problem mapping.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>

static void test_http__routes(void **state)
{
    (void)state;
    struct http_request req;
    memset(&req, 0, sizeof(req));
    int matched = 0;
    int r = http__route_find("DELETE", "/v1/entities/ent_a/certificates/crt_b", &req, &matched);
    assert_true(r >= 0);
    assert_int_equal(req.nparams, 2);
    assert_string_equal(req.params[0].name, "id");
    assert_string_equal(req.params[0].value, "ent_a");
    assert_string_equal(req.params[1].value, "crt_b");
    assert_int_equal(http__route_find("PUT", "/v1/entities", &req, &matched), -1);
    assert_true(matched);
    const char *missing[] = {
        "/v1/entities/", "/v1/entities//review", "/v1/entities/x/y/z/w", "/v1", "", "/healthz/",
        "//healthz"};
    for (size_t i = 0; i < ARRAY_LEN(missing); i++) {
        assert_int_equal(http__route_find("GET", missing[i], &req, &matched), -1);
    }
}

static void test_http__query(void **state)
{
    (void)state;
    struct http_request req;
    memset(&req, 0, sizeof(req));
    const char *qs = "q=%E7%94%A8%E7%94%B5&limit=5&kind=buyer+x&empty=";
    assert_int_equal(http__query_parse(qs, strlen(qs), &req, NULL), ERR_OK);
    assert_string_equal(http__query_get(&req, "q"), "用电");
    assert_string_equal(http__query_get(&req, "kind"), "buyer x");
    assert_string_equal(http__query_get(&req, "empty"), "");
    assert_null(http__query_get(&req, "nope"));
    static const char *const allowed[] = {"q", "limit", NULL};
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(http__query_only(&req, allowed, &err), ERR_INVALID);
    assert_string_equal(err.field, "kind");
    const char *bad[] = {"a=%zz", "a=%4", "a=%00", "a=1&a=2", "a=%ff%fe"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(http__query_parse(bad[i], strlen(bad[i]), &req, NULL), ERR_INVALID);
    }
    char many[512] = "";
    for (int i = 0; i < 20; i++) {
        char part[16];
        snprintf(part, sizeof(part), "p%d=1&", i);
        memcpy(many + strlen(many), part, strlen(part) + 1);
    }
    assert_int_equal(http__query_parse(many, strlen(many), &req, NULL), ERR_LIMIT);
}

static void test_http__json_limits(void **state)
{
    (void)state;
    json_t *v = NULL;
    struct errbuf err;
    assert_int_equal(http__json_parse("{\"a\":1}", 7, &v, NULL), ERR_OK);
    json_decref(v);
    const char *bad[] = {"", "{", "[]", "1", "{\"a\":1,\"a\":2}", "{\"a\":1}x", "nul"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        errbuf_init(&err);
        assert_int_equal(http__json_parse(bad[i], strlen(bad[i]), &v, &err), ERR_INVALID);
        assert_null(v);
    }
    char deep[200];
    size_t n = 0;
    deep[n++] = '{';
    deep[n++] = '"';
    deep[n++] = 'a';
    deep[n++] = '"';
    deep[n++] = ':';
    for (int i = 0; i < 40; i++) {
        deep[n++] = '[';
    }
    for (int i = 0; i < 40; i++) {
        deep[n++] = ']';
    }
    deep[n++] = '}';
    assert_int_equal(http__json_parse(deep, n, &v, NULL), ERR_INVALID);
    /* Brackets inside strings do not count as depth. */
    const char *quoted = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[\"}";
    assert_int_equal(http__json_parse(quoted, strlen(quoted), &v, NULL), ERR_OK);
    json_decref(v);
    char *big = malloc(HTTP_BODY_MAX + 2);
    memset(big, ' ', HTTP_BODY_MAX + 1);
    assert_int_equal(http__json_parse(big, HTTP_BODY_MAX + 1, &v, NULL), ERR_LIMIT);
    free(big);
    json_t *obj = json_pack("{s:s, s:i, s:s}", "a", "x", "b", 1, "nul", "x");
    const char *s = NULL;
    assert_int_equal(http__json_str(obj, "a", &s, NULL), ERR_OK);
    assert_string_equal(s, "x");
    assert_int_equal(http__json_str(obj, "b", &s, NULL), ERR_INVALID);
    assert_int_equal(http__json_str(obj, "missing", &s, NULL), ERR_OK);
    assert_null(s);
    static const char *const only[] = {"a", "b", NULL};
    errbuf_init(&err);
    assert_int_equal(http__json_only(obj, only, &err), ERR_INVALID);
    assert_string_equal(err.field, "nul");
    json_decref(obj);
}

static void test_http__problems(void **state)
{
    (void)state;
    assert_int_equal(http_status_for(ERR_INVALID), 400);
    assert_int_equal(http_status_for(ERR_UNAUTHORIZED), 401);
    assert_int_equal(http_status_for(ERR_FORBIDDEN), 403);
    assert_int_equal(http_status_for(ERR_NOT_FOUND), 404);
    assert_int_equal(http_status_for(ERR_CONFLICT), 409);
    assert_int_equal(http_status_for(ERR_BAD_STATE), 409);
    assert_int_equal(http_status_for(ERR_LIMIT), 413);
    assert_int_equal(http_status_for(ERR_UNAVAILABLE), 503);
    struct http_response res;
    memset(&res, 0, sizeof(res));
    struct errbuf err;
    errbuf_init(&err);
    err_set(&err, ERR_INVALID, "uscc", "wrong check character");
    http__problem(&res, ERR_INVALID, &err);
    assert_int_equal(res.status, 400);
    assert_string_equal(res.content_type, "application/problem+json");
    assert_string_equal(json_string_value(json_object_get(res.body, "field")), "uscc");
    assert_string_equal(json_string_value(json_object_get(res.body, "type")),
                        "https://bourse.dev/problems/invalid");
    /* Internal details of server faults stay in the log. */
    err_set(&err, ERR_IO, "", "disk /secret/path failed");
    http__problem(&res, ERR_IO, &err);
    assert_int_equal(res.status, 500);
    assert_null(strstr(json_string_value(json_object_get(res.body, "detail")), "/secret"));
    json_decref(res.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http__routes),
        cmocka_unit_test(test_http__query),
        cmocka_unit_test(test_http__json_limits),
        cmocka_unit_test(test_http__problems),
    };
    log_set_level(LOG_ERROR + 1);
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
