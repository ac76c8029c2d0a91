/*
 * util_test.c: clock formatting and parsing, buffers and their limits, ids, UTF-8 checks.
 */
#include "util/compat.h"
#include "util/util.h"

#include "test_support.h"

#include <stdio.h>

static void test_util__rfc3339_round_trip(void **state)
{
    (void)state;
    const int64_t samples[] = {0,
                               1,
                               999,
                               86399999,
                               951782400000 /* 2000-02-29 */,
                               1795305540123 /* 2026-11-21 */,
                               253402300799999};
    for (size_t i = 0; i < ARRAY_LEN(samples); i++) {
        char t[CLOCK_RFC3339_LEN];
        clock_format_rfc3339(samples[i], t);
        int64_t back = -1;
        assert_int_equal(clock_parse_rfc3339(t, &back), ERR_OK);
        assert_int_equal(back, samples[i]);
    }
    char t[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");
    clock_format_rfc3339(951782400000, t);
    assert_string_equal(t, "2000-02-29T00:00:00.000Z");
}

/* Calendar months for the price index: consecutive integers, starting at 00:00 UTC on the 1st. */
static void test_util__calendar_months(void **state)
{
    (void)state;
    int64_t leap_day = 951782400000 + 43200000; /* 2000-02-29T12:00Z */
    assert_int_equal(clock_month_of(leap_day), 2000 * 12 + 1);
    char t[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(clock_month_start(2000 * 12 + 1), t);
    assert_string_equal(t, "2000-02-01T00:00:00.000Z");
    clock_format_rfc3339(clock_month_start(2000 * 12 + 2), t);
    assert_string_equal(t, "2000-03-01T00:00:00.000Z");
    clock_format_rfc3339(clock_month_start(2025 * 12 + 12), t); /* December + 1: January */
    assert_string_equal(t, "2026-01-01T00:00:00.000Z");
    int64_t jan1 = clock_month_start(2026 * 12);
    assert_int_equal(clock_month_of(jan1), 2026 * 12);
    assert_int_equal(clock_month_of(jan1 - 1), 2025 * 12 + 11); /* the last ms of 2025 */
    assert_int_equal(clock_month_of(0), 1970 * 12);
}

static void test_util__rfc3339_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "2026-11-21",
                         "2026-11-21T19:19:00",
                         "2026-11-21T19:19:00+08:00",
                         "2026-13-01T00:00:00Z",
                         "2026-02-29T00:00:00Z",
                         "2026-11-31T00:00:00Z",
                         "2026-11-21T24:00:00Z",
                         "2026-11-21T19:19:00.Z",
                         "2026-11-21T19:19:00ZZ",
                         "20x6-11-21T19:19:00Z"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int64_t ms = 42;
        assert_int_equal(clock_parse_rfc3339(bad[i], &ms), ERR_INVALID);
        assert_int_equal(ms, 42);
    }
}

static void test_util__buf_limit_leaves_buffer_unchanged(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_append_str(&b, "12345"), ERR_OK);
    assert_int_equal(buf_append_str(&b, "6789"), ERR_LIMIT);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "12345");
    assert_int_equal(buf_appendf(&b, "%d", 678), ERR_OK);
    assert_string_equal(b.data, "12345678");
    assert_int_equal(buf_appendf(&b, "%d", 9), ERR_LIMIT);
    size_t len = 0;
    char *p = buf_detach(&b, &len);
    assert_int_equal(len, 8);
    assert_null(b.data);
    mem_free(p);
    buf_release(&b);
}

static void test_util__buf_nomem(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    mem_fail_after(1);
    assert_int_equal(buf_append_str(&b, "x"), ERR_NOMEM);
    mem_fail_after(0);
    assert_int_equal(b.len, 0);
    assert_null(b.data);
}

static void test_util__ids(void **state)
{
    (void)state;
    char id[ID_MAX];
    id_new(&rng_system, "ent", id);
    assert_int_equal(strlen(id), 4 + ID_RANDOM_CHARS);
    assert_true(id_valid(id, "ent"));
    assert_true(id_valid(id, NULL));
    assert_false(id_valid(id, "prd"));
    assert_false(id_valid("ent_", "ent"));
    assert_false(id_valid("ent_0123456789abcdefghjI", "ent"));
    assert_false(id_valid("ent_0123456789abcdefghjk0", "ent"));
    assert_false(id_valid("ENT_0123456789abcdefghjk", NULL));
    assert_false(id_valid("e_0123456789abcdefghjk", NULL));
    assert_false(id_valid(NULL, NULL));
    char other[ID_MAX];
    id_new(&rng_system, "ent", other);
    assert_string_not_equal(id, other);
}

static void test_util__utf8(void **state)
{
    (void)state;
    const char *good[] = {"plain", "企业用电画像", "tab\there", "emoji \xf0\x9f\x98\x80"};
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        assert_true(text_valid_utf8(good[i], strlen(good[i])));
    }
    const char *bad[] = {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "\xe4\xbc", "bell\x07",     "\x7f"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_false(text_valid_utf8(bad[i], strlen(bad[i])));
    }
    assert_int_equal(text_utf8_chars("企业a", strlen("企业a")), 3);
}

static void test_util__file_atomic(void **state)
{
    (void)state;
    char dir[] = "/tmp/bourse-util-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/a/b/f", dir);
    char sub[256];
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    assert_int_equal(file_mkdirs(sub, 0700, NULL), ERR_OK);
    assert_int_equal(file_write_atomic(path, "hello", 5, 0600, FILE_EXCL, NULL), ERR_OK);
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(file_write_atomic(path, "x", 1, 0600, FILE_EXCL, &err), ERR_CONFLICT);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(file_read(path, 100, &data, &len, NULL), ERR_OK);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    mem_free(data);
    assert_int_equal(file_read(path, 3, &data, &len, NULL), ERR_LIMIT);
    snprintf(path, sizeof(path), "%s/none", dir);
    assert_int_equal(file_read(path, 3, &data, &len, NULL), ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util__rfc3339_round_trip),
        cmocka_unit_test(test_util__rfc3339_rejects),
        cmocka_unit_test(test_util__calendar_months),
        cmocka_unit_test(test_util__buf_limit_leaves_buffer_unchanged),
        cmocka_unit_test(test_util__buf_nomem),
        cmocka_unit_test(test_util__ids),
        cmocka_unit_test(test_util__utf8),
        cmocka_unit_test(test_util__file_atomic),
    };
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
