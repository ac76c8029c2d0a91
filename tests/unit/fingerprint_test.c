/*
 * fingerprint_test.c: the delivery module's fingerprint section. Tabular parsing of CSV, TSV
 * and JSON Lines with every RFC 4180 edge case and every refusal (each error names its line
 * and changes nothing), conversions that keep every value, the tolerance declaration's
 * refusals (each naming its field), the per-value mark rules at their edges, and the scheme
 * end to end on a generated dataset: a copy differs from the original only in declared cells
 * and only within tolerance (every cell checked), copies are deterministic per contract and
 * differ between contracts, a damaged copy (half the rows deleted, a tenth of the marked values
 * altered, rows and columns shuffled, re-encoded) names its buyer with a bound below 1e-9, an
 * unmarked original and an outsider's copy name nobody, two colluders' mix names a colluder
 * and no innocent, the stated bound is a valid p-value for innocents, and allocation failures
 * at every step return ERR_NOMEM without leaks.
 */
#include "util/compat.h"
#include "delivery/delivery.h"
#include "delivery/fingerprint_int.h"

#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- helpers ---- */

static enum err to_buf(void *ctx, const char *data, size_t len, struct errbuf *err)
{
    enum err rc = buf_append(ctx, data, len);
    return rc == ERR_OK ? ERR_OK : err_set(err, rc, "", "output too large");
}

static void expect(enum err got, enum err want, const struct errbuf *err, const char *field)
{
    if (got != want || (field != NULL && strcmp(err->field, field) != 0)) {
        fail_msg("got %s (field '%s': %s), wanted %s (field '%s')", err_name(got), err->field,
                 err->msg, err_name(want), field != NULL ? field : "");
    }
}

/* Reads a whole file; rows[r][c] are the decoded values (NUL-terminated, caller frees). */
struct table {
    size_t columns;
    char *names[DELIVERY_COLUMNS_MAX];
    size_t rows;
    char ***cells;
    enum delivery_field_kind **kinds;
    size_t *lines;
};

static void table_free(struct table *t)
{
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < t->columns; c++) {
            free(t->cells[r][c]);
        }
        free(t->cells[r]);
        free(t->kinds[r]);
    }
    for (size_t c = 0; c < t->columns; c++) {
        free(t->names[c]);
    }
    free(t->cells);
    free(t->kinds);
    free(t->lines);
    memset(t, 0, sizeof(*t));
}

static enum err table_read(enum delivery_format format, const char *data, size_t len,
                           struct table *t, struct errbuf *err)
{
    memset(t, 0, sizeof(*t));
    struct delivery_reader *r = calloc(1, sizeof(*r));
    enum err rc = delivery_reader_open(r, format, data, len, err);
    if (rc != ERR_OK) {
        free(r);
        return rc;
    }
    t->columns = r->columns;
    for (size_t c = 0; c < r->columns; c++) {
        assert_int_equal(strlen(r->names[c]), r->name_lens[c]);
        t->names[c] = strdup(r->names[c]);
    }
    struct buf scratch;
    buf_init(&scratch, 1 << 24);
    int has_row = 1;
    size_t cap = 0;
    for (;;) {
        rc = delivery_reader_next(r, &has_row, err);
        if (rc != ERR_OK || !has_row) {
            break;
        }
        if (t->rows == cap) {
            cap = cap ? cap * 2 : 16;
            t->cells = realloc(t->cells, cap * sizeof(*t->cells));
            t->kinds = realloc(t->kinds, cap * sizeof(*t->kinds));
            t->lines = realloc(t->lines, cap * sizeof(*t->lines));
        }
        t->cells[t->rows] = calloc(t->columns, sizeof(char *));
        t->kinds[t->rows] = calloc(t->columns, sizeof(enum delivery_field_kind));
        t->lines[t->rows] = r->line;
        for (size_t c = 0; c < t->columns; c++) {
            const char *v;
            size_t n;
            assert_int_equal(delivery_field_value(&r->fields[c], &scratch, &v, &n, NULL), ERR_OK);
            t->cells[t->rows][c] = strndup(v, n);
            t->kinds[t->rows][c] = r->fields[c].kind;
        }
        t->rows++;
    }
    buf_release(&scratch);
    delivery_reader_release(r);
    free(r);
    if (rc != ERR_OK) {
        table_free(t);
    }
    return rc;
}

/* ---- tabular parsing ---- */

static void test_fingerprint__csv_rfc4180(void **state)
{
    (void)state;
    /* BOM; quoted header; an embedded comma, LF, CRLF and doubled quotes; empty quoted and
     * unquoted fields; spaces kept; CRLF and LF mixed; a blank line skipped; no final line end. */
    static const char csv[] = "\xef\xbb\xbf"
                              "id,\"na,me\",note\r\n"
                              "1,\"a,b\",plain\r\n"
                              "2,\"line\nbreak\",\"crlf\r\ninside\"\n"
                              "\n"
                              "3,\"say \"\"hi\"\"\",\"\"\n"
                              "4,, spaced \n"
                              "5,北京,\"\"\"\"";
    struct table t;
    struct errbuf err;
    errbuf_init(&err);
    expect(table_read(DELIVERY_FORMAT_CSV, csv, sizeof(csv) - 1, &t, &err), ERR_OK, &err, NULL);
    assert_int_equal(t.columns, 3);
    assert_string_equal(t.names[0], "id");
    assert_string_equal(t.names[1], "na,me");
    assert_int_equal(t.rows, 5);
    assert_string_equal(t.cells[0][1], "a,b");
    assert_int_equal(t.kinds[0][1], DELIVERY_FIELD_QUOTED);
    assert_int_equal(t.kinds[0][2], DELIVERY_FIELD_PLAIN);
    assert_string_equal(t.cells[1][1], "line\nbreak");
    assert_string_equal(t.cells[1][2], "crlf\r\ninside");
    assert_string_equal(t.cells[2][1], "say \"hi\"");
    assert_int_equal(t.kinds[2][1], DELIVERY_FIELD_QUOTED_ESCAPED);
    assert_string_equal(t.cells[2][2], "");
    assert_int_equal(t.kinds[2][2], DELIVERY_FIELD_QUOTED);
    assert_string_equal(t.cells[3][1], "");
    assert_int_equal(t.kinds[3][1], DELIVERY_FIELD_PLAIN);
    assert_string_equal(t.cells[3][2], " spaced ");
    assert_string_equal(t.cells[4][1], "北京");
    assert_string_equal(t.cells[4][2], "\"");
    /* Line numbers count the line breaks inside quoted fields and the blank line. */
    assert_int_equal(t.lines[0], 2);
    assert_int_equal(t.lines[1], 3);
    assert_int_equal(t.lines[2], 7);
    assert_int_equal(t.lines[4], 9);
    table_free(&t);

    /* A one-column file: an empty line is a record with one empty field. */
    static const char one[] = "v\na\n\nb\n";
    expect(table_read(DELIVERY_FORMAT_CSV, one, sizeof(one) - 1, &t, &err), ERR_OK, &err, NULL);
    assert_int_equal(t.rows, 3);
    assert_string_equal(t.cells[1][0], "");
    table_free(&t);

    /* Header only: no rows. A trailing comma is an empty last field. */
    static const char header_only[] = "a,b\r\n";
    expect(table_read(DELIVERY_FORMAT_CSV, header_only, sizeof(header_only) - 1, &t, &err), ERR_OK,
           &err, NULL);
    assert_int_equal(t.rows, 0);
    table_free(&t);
    static const char trailing[] = "a,b\n1,\n";
    expect(table_read(DELIVERY_FORMAT_CSV, trailing, sizeof(trailing) - 1, &t, &err), ERR_OK, &err,
           NULL);
    assert_string_equal(t.cells[0][1], "");
    table_free(&t);
}

static void test_fingerprint__tsv_and_jsonl(void **state)
{
    (void)state;
    static const char tsv[] = "a\tb\n1,2\t\"x\ty\"\n";
    struct table t;
    struct errbuf err;
    errbuf_init(&err);
    expect(table_read(DELIVERY_FORMAT_TSV, tsv, sizeof(tsv) - 1, &t, &err), ERR_OK, &err, NULL);
    assert_int_equal(t.columns, 2);
    assert_string_equal(t.cells[0][0], "1,2");
    assert_string_equal(t.cells[0][1], "x\ty");
    table_free(&t);

    /* Keys in another order, a missing key, an extra key, escapes, literals, nesting, blank
     * and CRLF lines. */
    static const char jsonl[] =
        "{\"id\": 1, \"name\": \"caf\\u00e9 \\ud83d\\ude00\", \"ok\": true}\r\n"
        "\n"
        "{\"ok\":null,\"id\":-2.5e3,\"name\":\"a\\\"b\\\\c\\n\"}\n"
        "  {\"name\": \"x\", \"extra\": [1, {\"k\": \"v\"}]}  \n"
        "{\"id\": {\"a\": [1, 2]}, \"name\": \"北京\"}";
    expect(table_read(DELIVERY_FORMAT_JSONL, jsonl, sizeof(jsonl) - 1, &t, &err), ERR_OK, &err,
           NULL);
    assert_int_equal(t.columns, 3);
    assert_string_equal(t.names[1], "name");
    assert_int_equal(t.rows, 4);
    assert_string_equal(t.cells[0][0], "1");
    assert_int_equal(t.kinds[0][0], DELIVERY_FIELD_JSON_LITERAL);
    assert_string_equal(t.cells[0][1], "café 😀");
    assert_int_equal(t.kinds[0][1], DELIVERY_FIELD_JSON_ESCAPED);
    assert_string_equal(t.cells[0][2], "true");
    assert_string_equal(t.cells[1][0], "-2.5e3");
    assert_string_equal(t.cells[1][1], "a\"b\\c\n");
    assert_int_equal(t.kinds[1][2], DELIVERY_FIELD_JSON_NULL);
    assert_int_equal(t.kinds[2][0], DELIVERY_FIELD_ABSENT);
    assert_int_equal(t.kinds[2][2], DELIVERY_FIELD_ABSENT);
    assert_string_equal(t.cells[2][1], "x");
    assert_int_equal(t.kinds[2][1], DELIVERY_FIELD_JSON_STRING);
    assert_string_equal(t.cells[3][0], "{\"a\": [1, 2]}");
    assert_int_equal(t.kinds[3][0], DELIVERY_FIELD_JSON_NESTED);
    assert_int_equal(t.lines[1], 3);
    table_free(&t);

    assert_int_equal(delivery_format_sniff(jsonl, sizeof(jsonl) - 1), DELIVERY_FORMAT_JSONL);
    assert_int_equal(delivery_format_sniff(tsv, sizeof(tsv) - 1), DELIVERY_FORMAT_TSV);
    assert_int_equal(delivery_format_sniff("\"a\tb\",c\n", 8), DELIVERY_FORMAT_CSV);
    enum delivery_format f;
    expect(delivery_format_parse("tsv", &f, &err), ERR_OK, &err, NULL);
    assert_int_equal(f, DELIVERY_FORMAT_TSV);
    f = DELIVERY_FORMAT_CSV;
    expect(delivery_format_parse("xlsx", &f, &err), ERR_INVALID, &err, "format");
    assert_int_equal(f, DELIVERY_FORMAT_CSV);
    assert_string_equal(delivery_format_name(DELIVERY_FORMAT_JSONL), "jsonl");
}

struct bad_input {
    enum delivery_format format;
    const char *data;
    size_t len;          /* 0: strlen */
    const char *message; /* a part of the message: the line and what is wrong */
};

static void test_fingerprint__malformed_inputs(void **state)
{
    (void)state;
    static char wide[DELIVERY_COLUMNS_MAX * 3 + 8];
    size_t w = 0;
    for (int i = 0; i <= DELIVERY_COLUMNS_MAX; i++) {
        w += (size_t)snprintf(wide + w, sizeof(wide) - w, "%s%c", i ? "," : "", 'a' + i % 26);
    }
    static char deep[DELIVERY_JSON_DEPTH_MAX * 2 + 32];
    size_t d = (size_t)snprintf(deep, sizeof(deep), "{\"a\": ");
    for (int i = 0; i <= DELIVERY_JSON_DEPTH_MAX; i++) {
        deep[d++] = '[';
    }
    for (int i = 0; i <= DELIVERY_JSON_DEPTH_MAX; i++) {
        deep[d++] = ']';
    }
    deep[d++] = '}';
    const struct bad_input cases[] = {
        {DELIVERY_FORMAT_CSV, "", 0, "no header row"},
        {DELIVERY_FORMAT_CSV, "\xef\xbb\xbf", 0, "no header row"},
        {DELIVERY_FORMAT_CSV, "a,b\n1,\"open\n", 0, "line 2: unterminated quoted field"},
        {DELIVERY_FORMAT_CSV, "a,b\n1,x\"y\n", 0, "line 2: quote inside an unquoted field"},
        {DELIVERY_FORMAT_CSV, "a,b\n1,\"x\"y\n", 0, "line 2: bytes after a closing quote"},
        {DELIVERY_FORMAT_CSV, "a,b\n1,\"x\" \n", 0, "line 2: bytes after a closing quote"},
        {DELIVERY_FORMAT_CSV, "a,b\n1,x\ry\n", 0, "line 2: bare carriage return"},
        {DELIVERY_FORMAT_CSV, "a,b\n1,2\n3\n", 0, "line 3: has 1 fields, the header has 2"},
        {DELIVERY_FORMAT_CSV, "a,b\n1,2,3\n", 0, "line 2: has 3 fields, the header has 2"},
        {DELIVERY_FORMAT_CSV, "a,b\n1,\xff\n", 0, "line 2: not valid UTF-8"},
        {DELIVERY_FORMAT_CSV, "a,b\n1,\xc0\xaf\n", 0, "line 2: not valid UTF-8"},
        {DELIVERY_FORMAT_CSV, "a,b\n1,\xed\xa0\x80\n", 0, "line 2: not valid UTF-8"},
        {DELIVERY_FORMAT_CSV, "a,b\n\n1,\xe5\x8c\n", 0, "line 3: not valid UTF-8"},
        {DELIVERY_FORMAT_CSV, "a,b\n1,x\0y\n", 10, "line 2: not valid UTF-8"},
        {DELIVERY_FORMAT_CSV, "a,b\n1,\x01\n", 0, "line 2: not valid UTF-8"},
        {DELIVERY_FORMAT_CSV, "a,a\n1,2\n", 0, "line 1: column 'a' appears twice"},
        {DELIVERY_FORMAT_CSV, "\"a\",\"b\n", 0, "line 1: unterminated quoted field"},
        {DELIVERY_FORMAT_CSV, wide, 0, "line 1: more than 256 columns"},
        {DELIVERY_FORMAT_TSV, "a\tb\n1\t2\t3\n", 0, "line 2: has 3 fields"},
        {DELIVERY_FORMAT_JSONL, "", 0, "no rows"},
        {DELIVERY_FORMAT_JSONL, "\n  \n", 0, "no rows"},
        {DELIVERY_FORMAT_JSONL, "{}\n", 0, "line 1: the first object has no keys"},
        {DELIVERY_FORMAT_JSONL, "[1, 2]\n", 0, "line 1: the line is not a JSON object"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": 1, \"a\": 2}\n", 0, "line 1: column 'a' appears twice"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": 1}\n{\"a\": 1, \"a\": 2}\n", 0,
         "line 2: a key appears twice"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": 1}\n{\"a\": }\n", 0, "line 2: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": 1}\n\n{\"a\": 1} x\n", 0,
         "line 3: bytes after the object"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": 1,}\n", 0, "line 1: a comma before '}'"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": 1\n", 0, "line 1: expected ',' or '}'"},
        {DELIVERY_FORMAT_JSONL, "{\"a\" 1}\n", 0, "line 1: expected ':' after a key"},
        {DELIVERY_FORMAT_JSONL, "{a: 1}\n", 0, "line 1: malformed key"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": \"\\x\"}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": \"\\ud800\"}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": \"\\udc00\"}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": \"\\u0000\"}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": \"\\u001f\"}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": \"\\u007F\"}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": \"\\f\"}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\\b\": 1}\n", 0, "line 1: malformed key"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": \"\\u12\"}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": \"tab\there\"}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": 01}\n", 0, "line 1: expected ',' or '}'"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": 1.}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": tru}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": [1, }\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": [1}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": {\"k\": 1, \"k\": 2}}\n", 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, deep, 0, "line 1: malformed value"},
        {DELIVERY_FORMAT_JSONL, "{\"a\": \"\xff\"}\n", 0, "line 1: not valid UTF-8"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct bad_input *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->data);
        struct errbuf err;
        errbuf_init(&err);
        struct table t;
        enum err rc = table_read(c->format, c->data, len, &t, &err);
        if (rc != ERR_INVALID || strcmp(err.field, "data") != 0 ||
            strstr(err.msg, c->message) == NULL) {
            fail_msg("case %zu: got %s '%s' (field '%s'), wanted '%s'", i, err_name(rc), err.msg,
                     err.field, c->message);
        }
        /* Nothing is written for input that is refused. */
        struct buf out;
        buf_init(&out, 1 << 20);
        errbuf_init(&err);
        rc = delivery_tabular_convert(c->format, c->data, len, DELIVERY_FORMAT_CSV, to_buf, &out,
                                      &err);
        assert_int_equal(rc, ERR_INVALID);
        assert_int_equal(out.len, 0);
        buf_release(&out);
    }
}

static void tables_equal(const struct table *a, const struct table *b)
{
    assert_int_equal(a->columns, b->columns);
    assert_int_equal(a->rows, b->rows);
    for (size_t c = 0; c < a->columns; c++) {
        assert_string_equal(a->names[c], b->names[c]);
    }
    for (size_t r = 0; r < a->rows; r++) {
        for (size_t c = 0; c < a->columns; c++) {
            assert_string_equal(a->cells[r][c], b->cells[r][c]);
        }
    }
}

static void test_fingerprint__conversions_keep_values(void **state)
{
    (void)state;
    static const char csv[] = "id,\"text, quoted\",n\r\n"
                              "1,\"a \"\"b\"\"\r\nc\",12.50\r\n"
                              "2,\tπ\\/,007\r\n"
                              "3,,-0.5e3\r\n";
    struct table original;
    struct errbuf err;
    errbuf_init(&err);
    expect(table_read(DELIVERY_FORMAT_CSV, csv, sizeof(csv) - 1, &original, &err), ERR_OK, &err,
           NULL);
    /* CSV -> TSV -> JSON Lines -> CSV keeps every value. */
    struct buf a;
    struct buf b;
    struct buf c;
    buf_init(&a, 1 << 20);
    buf_init(&b, 1 << 20);
    buf_init(&c, 1 << 20);
    expect(delivery_tabular_convert(DELIVERY_FORMAT_CSV, csv, sizeof(csv) - 1, DELIVERY_FORMAT_TSV,
                                    to_buf, &a, &err),
           ERR_OK, &err, NULL);
    expect(delivery_tabular_convert(DELIVERY_FORMAT_TSV, a.data, a.len, DELIVERY_FORMAT_JSONL,
                                    to_buf, &b, &err),
           ERR_OK, &err, NULL);
    expect(delivery_tabular_convert(DELIVERY_FORMAT_JSONL, b.data, b.len, DELIVERY_FORMAT_CSV,
                                    to_buf, &c, &err),
           ERR_OK, &err, NULL);
    struct table back;
    expect(table_read(DELIVERY_FORMAT_CSV, c.data, c.len, &back, &err), ERR_OK, &err, NULL);
    tables_equal(&original, &back);
    table_free(&back);
    /* Numbers stay numbers in JSON Lines; text that only looks numeric ("007") stays text. */
    assert_non_null(strstr(b.data, "\"n\":12.50"));
    assert_non_null(strstr(b.data, "\"n\":\"007\""));
    assert_non_null(strstr(b.data, "\"n\":-0.5e3"));
    assert_non_null(strstr(b.data, "\"text, quoted\":\"a \\\"b\\\"\\r\\nc\""));
    /* A minimally quoted CRLF CSV converts to itself byte for byte. */
    buf_reset(&a);
    expect(delivery_tabular_convert(DELIVERY_FORMAT_CSV, c.data, c.len, DELIVERY_FORMAT_CSV, to_buf,
                                    &a, &err),
           ERR_OK, &err, NULL);
    assert_int_equal(a.len, c.len);
    assert_memory_equal(a.data, c.data, c.len);
    /* JSON Lines keep null as null and absent keys absent. */
    static const char jsonl[] = "{\"a\": null, \"b\": [1]}\n{\"b\": 2}\n";
    buf_reset(&a);
    expect(delivery_tabular_convert(DELIVERY_FORMAT_JSONL, jsonl, sizeof(jsonl) - 1,
                                    DELIVERY_FORMAT_JSONL, to_buf, &a, &err),
           ERR_OK, &err, NULL);
    assert_string_equal(a.data, "{\"a\":null,\"b\":[1]}\n{\"b\":2}\n");
    buf_release(&a);
    buf_release(&b);
    buf_release(&c);
    table_free(&original);
}

/* ---- the tolerance declaration ---- */

static const char declaration[] =
    "{\"key\": [\"id\"],"
    " \"columns\": [{\"name\": \"amount\", \"kind\": \"digit\", \"decimals\": 2},"
    "  {\"name\": \"count\", \"kind\": \"digit\"},"
    "  {\"name\": \"street\", \"kind\": \"spelling\", \"variants\":"
    "   [[\"Street\", \"St.\"], [\"Road\", \"Rd.\", \"Rd\"]]}]}";

static struct delivery_fp_decl *decl_new(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (j == NULL) {
        fail_msg("bad test JSON: %s", jerr.text);
    }
    struct delivery_fp_decl *d = NULL;
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_fp_decl_parse(j, &d, &err), ERR_OK, &err, NULL);
    json_decref(j);
    return d;
}

static void test_fingerprint__declaration_errors(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *field;
    } cases[] = {
        {"[]", ""},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"digit\"}], \"extra\": 1}", "extra"},
        {"{}", "columns"},
        {"{\"columns\": []}", "columns"},
        {"{\"columns\": {}}", "columns"},
        {"{\"key\": \"id\", \"columns\": [{\"name\": \"a\", \"kind\": \"digit\"}]}", "key"},
        {"{\"key\": [\"id\", \"\"], \"columns\": [{\"name\": \"a\", \"kind\": \"digit\"}]}",
         "key[1]"},
        {"{\"key\": [\"id\", 3], \"columns\": [{\"name\": \"a\", \"kind\": \"digit\"}]}", "key[1]"},
        {"{\"key\": [\"id\", \"id\"], \"columns\": [{\"name\": \"a\", \"kind\": \"digit\"}]}",
         "key[1]"},
        {"{\"key\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"], \"columns\": "
         "[{\"name\": \"x\", \"kind\": \"digit\"}]}",
         "key"},
        {"{\"columns\": [7]}", "columns[0]"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"digit\", \"tolerance\": 1}]}",
         "columns[0].tolerance"},
        {"{\"columns\": [{\"kind\": \"digit\"}]}", "columns[0].name"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"digit\"}, {\"name\": \"a\", \"kind\": "
         "\"digit\"}]}",
         "columns[1].name"},
        {"{\"key\": [\"a\"], \"columns\": [{\"name\": \"a\", \"kind\": \"digit\"}]}",
         "columns[0].name"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"round\"}]}", "columns[0].kind"},
        {"{\"columns\": [{\"name\": \"a\"}]}", "columns[0].kind"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"digit\", \"decimals\": 19}]}",
         "columns[0].decimals"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"digit\", \"decimals\": \"2\"}]}",
         "columns[0].decimals"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"spelling\", \"decimals\": 2, "
         "\"variants\": [[\"x\", \"y\"]]}]}",
         "columns[0].decimals"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"digit\", \"variants\": [[\"x\", "
         "\"y\"]]}]}",
         "columns[0].variants"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"spelling\"}]}", "columns[0].variants"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"spelling\", \"variants\": []}]}",
         "columns[0].variants"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"spelling\", \"variants\": [[\"x\"]]}]}",
         "columns[0].variants[0]"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"spelling\", \"variants\": [\"x\"]}]}",
         "columns[0].variants[0]"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"spelling\", \"variants\": [[\"x\", "
         "\"\"]]}]}",
         "columns[0].variants[0][1]"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"spelling\", \"variants\": [[\"x\", "
         "\"y\"], [\"z\", \"x\"]]}]}",
         "columns[0].variants[1][1]"},
        {"{\"columns\": [{\"name\": \"a\", \"kind\": \"spelling\", \"variants\": [[\"x\", "
         "\"y\\nz\"]]}]}",
         "columns[0].variants[0][1]"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        json_t *j = json_loads(cases[i].json, 0, NULL);
        assert_non_null(j);
        struct delivery_fp_decl *d = (struct delivery_fp_decl *)&cases; /* must become NULL */
        struct errbuf err;
        errbuf_init(&err);
        enum err rc = delivery_fp_decl_parse(j, &d, &err);
        json_decref(j);
        if (rc != ERR_INVALID || strcmp(err.field, cases[i].field) != 0 || d != NULL) {
            fail_msg("case %zu: got %s field '%s' (%s), wanted field '%s'", i, err_name(rc),
                     err.field, err.msg, cases[i].field);
        }
    }
    struct delivery_fp_params p;
    delivery_fp_params_default(&p, 1000000);
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_fp_params_check(&p, &err), ERR_OK, &err, NULL);
    struct delivery_fp_params bad = p;
    bad.code_length = DELIVERY_FP_CODE_LENGTH_MIN - 1;
    expect(delivery_fp_params_check(&bad, &err), ERR_INVALID, &err, "code_length");
    bad = p;
    bad.mark_per_mille = 1001;
    expect(delivery_fp_params_check(&bad, &err), ERR_INVALID, &err, "mark_per_mille");
    bad = p;
    bad.cutoff = 0.5;
    expect(delivery_fp_params_check(&bad, &err), ERR_INVALID, &err, "cutoff");
    bad.cutoff = NAN;
    expect(delivery_fp_params_check(&bad, &err), ERR_INVALID, &err, "cutoff");
    struct delivery_fp *fp = (struct delivery_fp *)&bad;
    struct delivery_fp_decl *d = decl_new(declaration);
    unsigned char secret[DELIVERY_FP_SECRET_LEN] = {1};
    expect(delivery_fp_new(secret, &bad, d, &fp, &err), ERR_INVALID, &err, "cutoff");
    assert_null(fp);
    delivery_fp_decl_free(d);
}

/* ---- marks on one value ---- */

static const struct delivery__marked *marked(const struct delivery_fp_decl *d, size_t m)
{
    return &d->marked[m];
}

/* The value rewritten to carry bit (moving `up`), or the value itself when it already does. */
static char *mark(const struct delivery__marked *m, const char *v, int bit, int up)
{
    struct buf out;
    buf_init(&out, 1024);
    int changed = -1;
    assert_int_equal(delivery__mark_set(m, v, strlen(v), bit, up, &out, &changed, NULL), ERR_OK);
    char *s = strdup(changed ? out.data : v);
    buf_release(&out);
    size_t at;
    size_t width;
    int variant;
    assert_int_equal(delivery__mark_get(m, s, strlen(s), &at, &width, &variant), bit);
    return s;
}

static void expect_mark(const struct delivery__marked *m, const char *v, int bit, int up,
                        const char *want)
{
    char *got = mark(m, v, bit, up);
    if (strcmp(got, want) != 0) {
        fail_msg("'%s' with bit %d (%s) became '%s', wanted '%s'", v, bit, up ? "up" : "down", got,
                 want);
    }
    free(got);
}

static void test_fingerprint__mark_rules(void **state)
{
    (void)state;
    struct delivery_fp_decl *d = decl_new(declaration);
    const struct delivery__marked *amount = marked(d, 0); /* 2 decimals */
    const struct delivery__marked *count = marked(d, 1);  /* as written */
    const struct delivery__marked *street = marked(d, 2);
    expect_mark(amount, "12.34", 0, 1, "12.34");
    expect_mark(amount, "12.34", 1, 1, "12.35");
    expect_mark(amount, "12.34", 1, 0, "12.33");
    expect_mark(amount, "0.99", 0, 1, "1.00");
    expect_mark(amount, "10.00", 1, 0, "9.99");
    expect_mark(amount, "12.5", 1, 1, "12.51"); /* read as 12.50 */
    expect_mark(amount, "12.5", 0, 1, "12.5");
    expect_mark(amount, "7", 1, 0, "6.99");
    expect_mark(amount, "0.00", 1, 0, "0.01"); /* zero moves away from zero */
    expect_mark(amount, "-0.01", 0, 0, "0.00");
    expect_mark(amount, "-3.21", 0, 1, "-3.22");
    expect_mark(amount, "+3.21", 0, 0, "+3.20");
    expect_mark(count, "100", 1, 0, "99");
    expect_mark(count, "0010", 1, 0, "0009"); /* zero padding kept */
    expect_mark(count, "99", 0, 1, "100");
    expect_mark(count, "0", 1, 0, "1");
    expect_mark(count, "-1", 0, 0, "0");
    expect_mark(count, "1.5", 0, 1, "1.6"); /* the last written place */
    expect_mark(street, "12 Main Street", 1, 1, "12 Main St.");
    expect_mark(street, "12 Main St.", 0, 1, "12 Main Street");
    expect_mark(street, "Rd, Station Road", 1, 1, "Rd., Station Road"); /* first occurrence */
    expect_mark(street, "Rd", 1, 1, "Rd."); /* the last of an odd group: its neighbour */
    expect_mark(street, "Rd", 0, 1, "Rd");
    const struct {
        const struct delivery__marked *m;
        const char *v;
    } refused[] = {
        {amount, "12.345"},
        {amount, "1e5"},
        {amount, "abc"},
        {amount, ""},
        {amount, "+"},
        {amount, ".5"},
        {amount, "5."},
        {amount, "1,5"},
        {amount, " 1.5"},
        {count, "--1"},
        {count, "1.2.3"},
        {count, "0x1f"},
        {street, "Streetcar Lane"},
        {street, "Mainst."},
        {street, "ROAD"},
    };
    for (size_t i = 0; i < ARRAY_LEN(refused); i++) {
        size_t at;
        size_t width;
        int variant;
        if (delivery__mark_get(refused[i].m, refused[i].v, strlen(refused[i].v), &at, &width,
                               &variant) != -1) {
            fail_msg("'%s' should carry no mark", refused[i].v);
        }
    }
    /* 40 digits are admissible, 41 are not. */
    char big[64];
    memset(big, '9', 41);
    big[41] = '\0';
    size_t at;
    size_t width;
    int variant;
    assert_int_equal(delivery__mark_get(count, big, 41, &at, &width, &variant), -1);
    big[40] = '\0';
    expect_mark(count, big, 0, 1, "9999999999999999999999999999999999999998");
    big[39] = '\0';
    expect_mark(count, big, 0, 1, "1000000000000000000000000000000000000000");
    delivery_fp_decl_free(d);
}

/* ---- the scheme ---- */

#define ROWS 20000
#define CANDIDATES 200

static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A dataset with quoting, non-ASCII text and every kind of markable value. */
static char *dataset(size_t rows, size_t *len)
{
    struct buf b;
    buf_init(&b, 1 << 28);
    assert_int_equal(buf_append_str(&b, "id,name,amount,count,street,note\r\n"), ERR_OK);
    static const char *const streets[] = {"Street", "St.", "Road", "Rd.", "Rd", "Lane"};
    uint64_t s = 42;
    for (size_t i = 0; i < rows; i++) {
        uint64_t r = next_random(&s);
        assert_int_equal(
            buf_appendf(&b, "R%05zu,\"Name %zu, \"\"Ltd\"\"\",%u.%02u,%u,%u %s %s,%s\r\n", i, i,
                        (unsigned)(r % 5000), (unsigned)(r >> 20) % 100, (unsigned)(r >> 30) % 900,
                        (unsigned)(r >> 40) % 99 + 1, i % 3 ? "Harbour" : "北京",
                        streets[(r >> 50) % 6], i % 7 ? "ok" : "\"multi\nline\""),
            ERR_OK);
    }
    return buf_detach(&b, len);
}

struct fixture {
    char *data;
    size_t len;
    struct delivery_fp_decl *decl;
    struct delivery_fp *fp;
    char ids[CANDIDATES][ID_MAX];
    const char *id_ptrs[CANDIDATES];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->data = dataset(ROWS, &f->len);
    f->decl = decl_new(declaration);
    uint64_t cells = 0;
    assert_int_equal(
        delivery_fp_count_admissible(f->decl, DELIVERY_FORMAT_CSV, f->data, f->len, &cells, NULL),
        ERR_OK);
    assert_true(cells > 2 * ROWS);
    struct delivery_fp_params p;
    delivery_fp_params_default(&p, cells);
    assert_int_equal(p.code_length, 1024);
    unsigned char secret[DELIVERY_FP_SECRET_LEN];
    memset(secret, 0x5a, sizeof(secret));
    assert_int_equal(delivery_fp_new(secret, &p, f->decl, &f->fp, NULL), ERR_OK);
    for (size_t i = 0; i < CANDIDATES; i++) {
        snprintf(f->ids[i], ID_MAX, "ctr_t%019u", (unsigned)i);
        f->id_ptrs[i] = f->ids[i];
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    delivery_fp_free(f->fp);
    delivery_fp_decl_free(f->decl);
    mem_free(f->data);
    free(f);
    return 0;
}

static void embed(struct fixture *f, const char *id, struct buf *out,
                  struct delivery_fp_stats *stats)
{
    buf_init(out, 1 << 28);
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_fp_embed(f->fp, id, DELIVERY_FORMAT_CSV, f->data, f->len, to_buf, out, stats,
                             &err),
           ERR_OK, &err, NULL);
}

/* "12.5" with 2 decimals -> 1250 units. */
static long long units(const char *v, int decimals)
{
    long long n = 0;
    int places = -1;
    int neg = *v == '-';
    for (const char *p = v + (*v == '-' || *v == '+'); *p; p++) {
        if (*p == '.') {
            places = 0;
            continue;
        }
        n = n * 10 + (*p - '0');
        places += places >= 0;
    }
    for (int i = places < 0 ? 0 : places; i < decimals; i++) {
        n *= 10;
    }
    return neg ? -n : n;
}

/* old and new differ by one spelling of the same group at the same place. */
static int same_but_spelling(const char *a, const char *b)
{
    static const char *const groups[][4] = {{"Street", "St.", NULL}, {"Road", "Rd.", "Rd", NULL}};
    size_t pre = 0;
    while (a[pre] && a[pre] == b[pre]) {
        pre++;
    }
    for (size_t g = 0; g < 2; g++) {
        for (size_t i = 0; groups[g][i]; i++) {
            for (size_t j = 0; groups[g][j]; j++) {
                const char *x = groups[g][i];
                const char *y = groups[g][j];
                for (size_t k = 0; k <= pre; k++) {
                    if (i != j && strncmp(a + k, x, strlen(x)) == 0 &&
                        strncmp(b + k, y, strlen(y)) == 0 && memcmp(a, b, k) == 0 &&
                        strcmp(a + k + strlen(x), b + k + strlen(y)) == 0) {
                        return 1;
                    }
                }
            }
        }
    }
    return 0;
}

static void test_fingerprint__embed_only_within_tolerance(void **state)
{
    struct fixture *f = *state;
    struct buf copy;
    struct delivery_fp_stats stats;
    embed(f, f->ids[3], &copy, &stats);
    assert_int_equal(stats.rows, ROWS);
    assert_true(stats.cells_selected > stats.cells_admissible / 3);
    assert_true(stats.cells_selected < stats.cells_admissible * 2 / 3);
    assert_true(stats.cells_changed > stats.cells_selected / 3);
    assert_true(stats.cells_changed < stats.cells_selected * 2 / 3);
    struct table a;
    struct table b;
    assert_int_equal(table_read(DELIVERY_FORMAT_CSV, f->data, f->len, &a, NULL), ERR_OK);
    assert_int_equal(table_read(DELIVERY_FORMAT_CSV, copy.data, copy.len, &b, NULL), ERR_OK);
    assert_int_equal(a.rows, b.rows);
    uint64_t changed = 0;
    long long drift = 0;
    for (size_t r = 0; r < a.rows; r++) {
        for (size_t c = 0; c < a.columns; c++) {
            const char *x = a.cells[r][c];
            const char *y = b.cells[r][c];
            assert_int_equal(a.kinds[r][c], b.kinds[r][c]); /* written as it was */
            if (strcmp(x, y) == 0) {
                continue;
            }
            changed++;
            if (c == 2 || c == 3) {
                long long dx = units(y, c == 2 ? 2 : 0) - units(x, c == 2 ? 2 : 0);
                if (dx != 1 && dx != -1) {
                    fail_msg("row %zu: '%s' became '%s'", r, x, y);
                }
                drift += dx;
            } else if (c == 4) {
                if (!same_but_spelling(x, y)) {
                    fail_msg("row %zu: '%s' became '%s'", r, x, y);
                }
            } else {
                fail_msg("row %zu column %zu is not marked but changed", r, c);
            }
        }
    }
    assert_int_equal(changed, stats.cells_changed);
    /* Up or down by a keyed coin: the sum moves by far less than the number of changes. */
    assert_true(llabs(drift) < (long long)changed / 4);
    /* Everything else is byte for byte the original: the copy is exactly as long as the
     * original plus the length changes of the changed cells, and identical outside them. */
    size_t i = 0;
    size_t j = 0;
    size_t diffs = 0;
    while (i < f->len && j < copy.len) {
        if (f->data[i] == copy.data[j]) {
            i++;
            j++;
            continue;
        }
        diffs++;
        /* skip to the next field end on both sides */
        while (i < f->len && f->data[i] != ',' && f->data[i] != '\n') {
            i++;
        }
        while (j < copy.len && copy.data[j] != ',' && copy.data[j] != '\n') {
            j++;
        }
    }
    assert_int_equal(i, f->len);
    assert_int_equal(j, copy.len);
    assert_true(diffs <= stats.cells_changed);
    table_free(&a);
    table_free(&b);
    buf_release(&copy);
}

static void test_fingerprint__copies_per_contract(void **state)
{
    struct fixture *f = *state;
    /* The inlined cell PRF is SipHash-2-4 over row hash || column, as libsodium computes it. */
    for (uint64_t i = 0; i < 100; i++) {
        uint64_t row = i * 0x9e3779b97f4a7c15u;
        unsigned char in[9];
        for (int b = 0; b < 8; b++) {
            in[b] = (unsigned char)(row >> (8 * b));
        }
        in[8] = (unsigned char)(i % 16);
        unsigned char out[8];
        crypto_shorthash(out, in, sizeof(in), f->fp->cell_key);
        uint64_t want = 0;
        for (int b = 7; b >= 0; b--) {
            want = want << 8 | out[b];
        }
        assert_int_equal(delivery__cell_prf(f->fp, row, (size_t)(i % 16)), want);
    }
    struct buf a;
    struct buf b;
    struct buf c;
    embed(f, f->ids[1], &a, NULL);
    embed(f, f->ids[1], &b, NULL);
    embed(f, f->ids[2], &c, NULL);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_true(a.len != c.len || memcmp(a.data, c.data, a.len) != 0);
    /* The same scheme from the same secret gives the same copy; another secret, another. */
    struct delivery_fp_params p;
    struct delivery_fp *other = NULL;
    delivery_fp_params_default(&p, 3 * ROWS);
    unsigned char secret[DELIVERY_FP_SECRET_LEN];
    memset(secret, 0x5b, sizeof(secret));
    assert_int_equal(delivery_fp_new(secret, &p, f->decl, &other, NULL), ERR_OK);
    struct buf d;
    buf_init(&d, 1 << 28);
    assert_int_equal(delivery_fp_embed(other, f->ids[1], DELIVERY_FORMAT_CSV, f->data, f->len,
                                       to_buf, &d, NULL, NULL),
                     ERR_OK);
    assert_true(a.len != d.len || memcmp(a.data, d.data, a.len) != 0);
    delivery_fp_free(other);
    buf_release(&a);
    buf_release(&b);
    buf_release(&c);
    buf_release(&d);
}

/* Writes a table as CSV with every field quoted, rows in `order`, columns in `cols`. */
static void write_csv(const struct table *t, const size_t *order, size_t rows, const size_t *cols,
                      struct buf *out)
{
    for (size_t r = 0; r <= rows; r++) {
        for (size_t k = 0; k < t->columns; k++) {
            const char *v = r == 0 ? t->names[cols[k]] : t->cells[order[r - 1]][cols[k]];
            buf_append_str(out, k ? ",\"" : "\"");
            for (const char *p = v; *p; p++) {
                buf_append(out, p, *p == '"' ? 1 : 1);
                if (*p == '"') {
                    buf_append(out, "\"", 1);
                }
            }
            buf_append_str(out, "\"");
        }
        buf_append_str(out, "\n");
    }
}

/* Deletes `delete_pct` of the rows, alters `alter_pct` of the marked values, shuffles rows
 * and columns, and re-encodes in `format`. */
static void attack(const struct table *t, int delete_pct, int alter_pct,
                   enum delivery_format format, uint64_t seed, struct buf *out)
{
    uint64_t s = seed;
    size_t *order = calloc(t->rows, sizeof(*order));
    size_t kept = 0;
    for (size_t r = 0; r < t->rows; r++) {
        if (next_random(&s) % 100 >= (uint64_t)delete_pct) {
            order[kept++] = r;
        }
    }
    for (size_t i = kept; i > 1; i--) {
        size_t j = next_random(&s) % i;
        size_t x = order[i - 1];
        order[i - 1] = order[j];
        order[j] = x;
    }
    size_t cols[DELIVERY_COLUMNS_MAX];
    for (size_t c = 0; c < t->columns; c++) {
        cols[c] = t->columns - 1 - c;
    }
    for (size_t i = 0; i < kept; i++) {
        for (size_t c = 2; c <= 4; c++) {
            if (next_random(&s) % 100 >= (uint64_t)alter_pct) {
                continue;
            }
            char **cell = &t->cells[order[i]][c];
            char v[64];
            if (c == 4) {
                snprintf(v, sizeof(v), "%s", next_random(&s) & 1 ? "1 Harbour St." : "2 Rd");
            } else {
                snprintf(v, sizeof(v), "%u", (unsigned)(next_random(&s) % 10000));
            }
            free(*cell);
            *cell = strdup(v);
        }
    }
    struct buf csv;
    buf_init(&csv, 1 << 28);
    write_csv(t, order, kept, cols, &csv);
    assert_int_equal(
        delivery_tabular_convert(DELIVERY_FORMAT_CSV, csv.data, csv.len, format, to_buf, out, NULL),
        ERR_OK);
    buf_release(&csv);
    free(order);
}

static void trace(struct fixture *f, const struct buf *suspect, const char *const *candidates,
                  size_t count, struct delivery_fp_verdict *v)
{
    struct delivery_fp_observation *obs = NULL;
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_fp_observe(f->fp, delivery_format_sniff(suspect->data, suspect->len),
                               suspect->data, suspect->len, &obs, &err),
           ERR_OK, &err, NULL);
    expect(delivery_fp_accuse(f->fp, obs, candidates, count, DELIVERY_FP_BOUND_DEFAULT, v, &err),
           ERR_OK, &err, NULL);
    delivery_fp_observation_free(obs);
}

static void test_fingerprint__trace_damaged_copy(void **state)
{
    struct fixture *f = *state;
    for (int format = 0; format < DELIVERY__FORMAT_COUNT; format++) {
        struct buf copy;
        size_t buyer = 17 + (size_t)format * 50;
        embed(f, f->ids[buyer], &copy, NULL);
        struct table t;
        assert_int_equal(table_read(DELIVERY_FORMAT_CSV, copy.data, copy.len, &t, NULL), ERR_OK);
        struct buf suspect;
        buf_init(&suspect, 1 << 28);
        attack(&t, 50, 10, (enum delivery_format)format, 7 + (uint64_t)format, &suspect);
        assert_int_equal(delivery_format_sniff(suspect.data, suspect.len), format);
        struct delivery_fp_verdict v;
        trace(f, &suspect, f->id_ptrs, CANDIDATES, &v);
        assert_int_equal(v.accused_count, 1);
        assert_int_equal(v.accused[0].candidate, buyer);
        assert_true(v.accused[0].false_accusation <= 1e-9);
        assert_true(v.accused[0].log10_false_accusation <= -9);
        assert_true(v.accused[0].score > 0);
        assert_int_equal(v.best.candidate, buyer);
        assert_true(v.positions_decided > 1000);
        delivery_fp_verdict_release(&v);
        table_free(&t);
        buf_release(&suspect);
        buf_release(&copy);
    }
}

static void test_fingerprint__trace_names_nobody(void **state)
{
    struct fixture *f = *state;
    /* The unmarked original. */
    struct buf original = {.data = f->data, .len = f->len};
    struct delivery_fp_verdict v;
    trace(f, &original, f->id_ptrs, CANDIDATES, &v);
    assert_int_equal(v.accused_count, 0);
    assert_null(v.accused);
    assert_true(v.best.false_accusation > 1e-9);
    delivery_fp_verdict_release(&v);
    /* The copy of a buyer who is not among the candidates (the others are). */
    struct buf copy;
    embed(f, "ctr_outsider0000000000000", &copy, NULL);
    trace(f, &copy, f->id_ptrs, CANDIDATES, &v);
    assert_int_equal(v.accused_count, 0);
    delivery_fp_verdict_release(&v);
    /* The same copy with its buyer added to the candidates is named. */
    const char *with[CANDIDATES + 1];
    memcpy(with, f->id_ptrs, sizeof(f->id_ptrs));
    with[CANDIDATES] = "ctr_outsider0000000000000";
    trace(f, &copy, with, CANDIDATES + 1, &v);
    assert_int_equal(v.accused_count, 1);
    assert_int_equal(v.accused[0].candidate, CANDIDATES);
    delivery_fp_verdict_release(&v);
    /* No candidates: nobody, and no best either. */
    trace(f, &copy, NULL, 0, &v);
    assert_int_equal(v.accused_count, 0);
    assert_int_equal(v.best.score, 0);
    delivery_fp_verdict_release(&v);
    buf_release(&copy);
}

static void test_fingerprint__two_colluders(void **state)
{
    struct fixture *f = *state;
    struct buf a;
    struct buf b;
    embed(f, f->ids[5], &a, NULL);
    embed(f, f->ids[6], &b, NULL);
    struct table ta;
    struct table tb;
    assert_int_equal(table_read(DELIVERY_FORMAT_CSV, a.data, a.len, &ta, NULL), ERR_OK);
    assert_int_equal(table_read(DELIVERY_FORMAT_CSV, b.data, b.len, &tb, NULL), ERR_OK);
    /* Each cell from either copy at random: where the copies differ the colluders see a mark,
     * and choose freely. */
    uint64_t s = 99;
    int mixed = 0;
    for (size_t r = 0; r < ta.rows; r++) {
        for (size_t c = 0; c < ta.columns; c++) {
            if (strcmp(ta.cells[r][c], tb.cells[r][c]) != 0 && (next_random(&s) & 1)) {
                char *x = ta.cells[r][c];
                ta.cells[r][c] = tb.cells[r][c];
                tb.cells[r][c] = x;
                mixed++;
            }
        }
    }
    assert_true(mixed > 100);
    struct buf suspect;
    buf_init(&suspect, 1 << 28);
    attack(&ta, 0, 0, DELIVERY_FORMAT_TSV, 3, &suspect);
    struct delivery_fp_verdict v;
    trace(f, &suspect, f->id_ptrs, CANDIDATES, &v);
    assert_true(v.accused_count >= 1);
    for (size_t i = 0; i < v.accused_count; i++) {
        assert_true(v.accused[i].candidate == 5 || v.accused[i].candidate == 6);
        assert_true(v.accused[i].false_accusation <= 1e-9);
        assert_true(i == 0 || v.accused[i].score <= v.accused[i - 1].score);
    }
    delivery_fp_verdict_release(&v);
    table_free(&ta);
    table_free(&tb);
    buf_release(&suspect);
    buf_release(&a);
    buf_release(&b);
}

/* For innocents the stated bound is a valid p-value: P[bound <= x] <= x. */
static void test_fingerprint__bound_is_conservative(void **state)
{
    struct fixture *f = *state;
    struct buf copy;
    embed(f, "ctr_someone0000000000000", &copy, NULL);
    struct delivery_fp_observation *obs = NULL;
    assert_int_equal(
        delivery_fp_observe(f->fp, DELIVERY_FORMAT_CSV, copy.data, copy.len, &obs, NULL), ERR_OK);
    struct delivery_fp_stats stats;
    uint32_t decided;
    delivery_fp_observation_stats(obs, &stats, &decided);
    assert_int_equal(stats.rows, ROWS);
    assert_true(decided > 1000);
    enum { INNOCENTS = 4000 };
    int below[3] = {0};
    static const double levels[3] = {0.3, 0.1, 0.02};
    for (int i = 0; i < INNOCENTS; i++) {
        char id[ID_MAX];
        snprintf(id, sizeof(id), "ctr_innocent%012d", i);
        const char *one = id;
        struct delivery_fp_verdict v;
        assert_int_equal(delivery_fp_accuse(f->fp, obs, &one, 1, 0.5, &v, NULL), ERR_OK);
        for (int k = 0; k < 3; k++) {
            below[k] += v.best.false_accusation <= levels[k];
        }
        delivery_fp_verdict_release(&v);
    }
    for (int k = 0; k < 3; k++) {
        /* Allow three standard deviations of sampling noise above the level. */
        double limit = levels[k] + 3 * sqrt(levels[k] * (1 - levels[k]) / INNOCENTS);
        if ((double)below[k] / INNOCENTS > limit) {
            fail_msg("%d of %d innocents had a bound <= %g", below[k], INNOCENTS, levels[k]);
        }
    }
    /* And the bound is not vacuous: some innocents score positive with a bound below 1. */
    assert_true(below[0] > 0);
    struct delivery_fp_verdict v;
    struct errbuf err;
    errbuf_init(&err);
    static const double bad_bounds[] = {0, 1, -1, NAN, 2};
    for (size_t i = 0; i < ARRAY_LEN(bad_bounds); i++) {
        memset(&v, 0x55, sizeof(v));
        expect(delivery_fp_accuse(f->fp, obs, f->id_ptrs, CANDIDATES, bad_bounds[i], &v, &err),
               ERR_INVALID, &err, "bound");
        assert_null(v.accused);
        assert_int_equal(v.accused_count, 0);
    }
    delivery_fp_observation_free(obs);
    buf_release(&copy);
}

static void test_fingerprint__input_errors(void **state)
{
    struct fixture *f = *state;
    struct errbuf err;
    errbuf_init(&err);
    struct buf out;
    buf_init(&out, 1 << 20);
    /* A file without the key column: refused before anything is written. */
    static const char keyless[] = "name,amount\nx,1.00\n";
    expect(delivery_fp_embed(f->fp, f->ids[0], DELIVERY_FORMAT_CSV, keyless, sizeof(keyless) - 1,
                             to_buf, &out, NULL, &err),
           ERR_INVALID, &err, "key");
    assert_int_equal(out.len, 0);
    struct delivery_fp_observation *obs = (struct delivery_fp_observation *)&out;
    expect(
        delivery_fp_observe(f->fp, DELIVERY_FORMAT_CSV, keyless, sizeof(keyless) - 1, &obs, &err),
        ERR_INVALID, &err, "key");
    assert_null(obs);
    uint64_t cells = 7;
    expect(delivery_fp_count_admissible(f->decl, DELIVERY_FORMAT_CSV, keyless, sizeof(keyless) - 1,
                                        &cells, &err),
           ERR_INVALID, &err, "key");
    assert_int_equal(cells, 0);
    /* Malformed text: refused with its line, no observation. */
    static const char broken[] = "id,amount\nR1,\"1.00\n";
    obs = (struct delivery_fp_observation *)&out;
    expect(delivery_fp_observe(f->fp, DELIVERY_FORMAT_CSV, broken, sizeof(broken) - 1, &obs, &err),
           ERR_INVALID, &err, "data");
    assert_non_null(strstr(err.msg, "line 2"));
    assert_null(obs);
    /* A file whose marked columns are all missing is traced to nobody. */
    static const char bare[] = "id,other\nR00001,1\nR00002,2\n";
    obs = NULL;
    expect(delivery_fp_observe(f->fp, DELIVERY_FORMAT_CSV, bare, sizeof(bare) - 1, &obs, &err),
           ERR_OK, &err, NULL);
    struct delivery_fp_verdict v;
    expect(delivery_fp_accuse(f->fp, obs, f->id_ptrs, CANDIDATES, 1e-9, &v, &err), ERR_OK, &err,
           NULL);
    assert_int_equal(v.positions_decided, 0);
    assert_int_equal(v.accused_count, 0);
    assert_true(v.best.false_accusation >= 1);
    delivery_fp_verdict_release(&v);
    delivery_fp_observation_free(obs);
    /* A write callback's error stops the copy and is returned as it is. */
    expect(delivery_fp_embed(f->fp, f->ids[0], DELIVERY_FORMAT_CSV, f->data, f->len, to_buf,
                             &(struct buf){.max = 10}, NULL, &err),
           ERR_LIMIT, &err, NULL);
    buf_release(&out);
}

static void test_fingerprint__no_key_declared(void **state)
{
    (void)state;
    /* Without a key the unmarked columns identify a row, whatever their order. */
    struct delivery_fp_decl *d =
        decl_new("{\"columns\": [{\"name\": \"amount\", \"kind\": \"digit\"}]}");
    size_t len;
    char *data = dataset(ROWS, &len);
    struct delivery_fp_params p;
    delivery_fp_params_default(&p, ROWS);
    struct delivery_fp *fp = NULL;
    unsigned char secret[DELIVERY_FP_SECRET_LEN] = {9};
    assert_int_equal(delivery_fp_new(secret, &p, d, &fp, NULL), ERR_OK);
    struct buf copy;
    buf_init(&copy, 1 << 28);
    assert_int_equal(delivery_fp_embed(fp, "ctr_k0000000000000000001", DELIVERY_FORMAT_CSV, data,
                                       len, to_buf, &copy, NULL, NULL),
                     ERR_OK);
    struct table t;
    assert_int_equal(table_read(DELIVERY_FORMAT_CSV, copy.data, copy.len, &t, NULL), ERR_OK);
    struct buf suspect;
    buf_init(&suspect, 1 << 28);
    attack(&t, 30, 0, DELIVERY_FORMAT_JSONL, 5, &suspect);
    struct delivery_fp_observation *obs = NULL;
    assert_int_equal(
        delivery_fp_observe(fp, DELIVERY_FORMAT_JSONL, suspect.data, suspect.len, &obs, NULL),
        ERR_OK);
    const char *ids[2] = {"ctr_k0000000000000000000", "ctr_k0000000000000000001"};
    struct delivery_fp_verdict v;
    assert_int_equal(delivery_fp_accuse(fp, obs, ids, 2, 1e-9, &v, NULL), ERR_OK);
    assert_int_equal(v.accused_count, 1);
    assert_int_equal(v.accused[0].candidate, 1);
    delivery_fp_verdict_release(&v);
    delivery_fp_observation_free(obs);
    table_free(&t);
    buf_release(&suspect);
    buf_release(&copy);
    delivery_fp_free(fp);
    mem_free(data);
    /* A declaration that marks every column leaves nothing to identify rows. */
    struct delivery_fp_decl *all =
        decl_new("{\"columns\": [{\"name\": \"v\", \"kind\": \"digit\"}]}");
    uint64_t cells = 0;
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_fp_count_admissible(all, DELIVERY_FORMAT_CSV, "v\n1\n", 4, &cells, &err),
           ERR_INVALID, &err, "key");
    delivery_fp_decl_free(all);
    delivery_fp_decl_free(d);
}

static void test_fingerprint__allocation_failures(void **state)
{
    struct fixture *f = *state;
    size_t small_len;
    char *small = dataset(300, &small_len);
    long n;
    for (n = 1;; n++) {
        json_t *j = json_loads(declaration, 0, NULL);
        struct delivery_fp_decl *d = NULL;
        struct delivery_fp *fp = NULL;
        struct delivery_fp_observation *obs = NULL;
        struct delivery_fp_verdict v = {0};
        struct buf out;
        buf_init(&out, 1 << 24);
        struct delivery_fp_params p;
        delivery_fp_params_default(&p, 0);
        unsigned char secret[DELIVERY_FP_SECRET_LEN] = {3};
        mem_fail_after(n);
        enum err rc = delivery_fp_decl_parse(j, &d, NULL);
        if (rc == ERR_OK) {
            rc = delivery_fp_new(secret, &p, d, &fp, NULL);
        }
        if (rc == ERR_OK) {
            rc = delivery_fp_embed(fp, f->ids[0], DELIVERY_FORMAT_CSV, small, small_len, to_buf,
                                   &out, NULL, NULL);
        }
        if (rc == ERR_OK) {
            rc = delivery_fp_observe(fp, DELIVERY_FORMAT_CSV, out.data, out.len, &obs, NULL);
        }
        if (rc == ERR_OK) {
            rc = delivery_fp_accuse(fp, obs, f->id_ptrs, 3, 1e-9, &v, NULL);
        }
        if (rc == ERR_OK) {
            struct buf conv;
            buf_init(&conv, 1 << 24);
            rc = delivery_tabular_convert(DELIVERY_FORMAT_CSV, small, small_len,
                                          DELIVERY_FORMAT_JSONL, to_buf, &conv, NULL);
            buf_release(&conv);
        }
        mem_fail_after(0);
        json_decref(j);
        int done = rc == ERR_OK;
        if (done) {
            assert_int_equal(v.accused_count, 1);
            assert_int_equal(v.accused[0].candidate, 0);
        } else {
            assert_int_equal(rc, ERR_NOMEM);
        }
        delivery_fp_verdict_release(&v);
        delivery_fp_observation_free(obs);
        delivery_fp_free(fp);
        delivery_fp_decl_free(d);
        buf_release(&out);
        if (done) {
            break;
        }
    }
    assert_true(n > 10);
    mem_free(small);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint__csv_rfc4180),
        cmocka_unit_test(test_fingerprint__tsv_and_jsonl),
        cmocka_unit_test(test_fingerprint__malformed_inputs),
        cmocka_unit_test(test_fingerprint__conversions_keep_values),
        cmocka_unit_test(test_fingerprint__declaration_errors),
        cmocka_unit_test(test_fingerprint__mark_rules),
        T(test_fingerprint__embed_only_within_tolerance),
        T(test_fingerprint__copies_per_contract),
        T(test_fingerprint__trace_damaged_copy),
        T(test_fingerprint__trace_names_nobody),
        T(test_fingerprint__two_colluders),
        T(test_fingerprint__bound_is_conservative),
        T(test_fingerprint__input_errors),
        cmocka_unit_test(test_fingerprint__no_key_declared),
        T(test_fingerprint__allocation_failures),
    };
#undef T
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests_name("fingerprint", tests, NULL, NULL);
}
