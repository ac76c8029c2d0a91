/*
 * quality.c: the declared schema of a product and the quality checks the exchange runs
 * itself on a sample (design §2 step 4: completeness and conformance to the declared
 * schema): nulls per column, type conformance of every value, duplicate rows, and the
 * observed range of numeric and date columns.
 *
 * Samples are CSV as RFC 4180 defines it (a header line, fields separated by commas, fields
 * quoted with '"' and quotes doubled inside them, CRLF or LF line ends; a UTF-8 byte order
 * mark is skipped, as spreadsheet exports write one) or JSON Lines (one object per line). A
 * sample is at most CORE_SAMPLE_BYTES_MAX bytes, which bounds every loop here. Malformed rows
 * are counted and reported, never refused: the report is the product's, the decision the
 * assessors'. Numbers are compared as decimal text, so CSV values need no floating point.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static const char *const col_type_names[CORE__COL__COUNT] = {
    "string", "integer", "decimal", "boolean", "date", "timestamp", "enum",
};

/* Problems listed in a report, at most (the counts are always complete). */
#define QUALITY_PROBLEMS_MAX 32
/* Names of unknown columns listed, at most. */
#define QUALITY_UNKNOWN_MAX 32
#define ROW_HASH_BYTES 16

/* ---- schema ---- */

static enum err column_values(const json_t *col, const char *prefix, struct core__column *out,
                              struct errbuf *err)
{
    char field[ERRBUF_FIELD_MAX];
    snprintf(field, sizeof(field), "%.24s.values", prefix);
    const json_t *values = json_object_get(col, "values");
    if (out->type != CORE__COL_ENUM) {
        if (values != NULL && !json_is_null(values)) {
            return err_set(err, ERR_INVALID, field, "only enum columns list values");
        }
        return ERR_OK;
    }
    if (!json_is_array(values) || json_array_size(values) == 0 ||
        json_array_size(values) > CORE_ENUM_VALUES_MAX) {
        return err_set(err, ERR_INVALID, field, "an enum column lists 1 to %d values",
                       CORE_ENUM_VALUES_MAX);
    }
    for (size_t i = 0; i < json_array_size(values); i++) {
        const json_t *v = json_array_get(values, i);
        if (!json_is_string(v) || core__text_check(field, json_string_value(v),
                                                   CORE_COLUMN_NAME_CHARS_MAX, 1, err) != ERR_OK) {
            return err_set(err, ERR_INVALID, field,
                           "enum values are non-empty texts of at most %d "
                           "characters",
                           CORE_COLUMN_NAME_CHARS_MAX);
        }
        for (size_t j = 0; j < i; j++) {
            if (json_equal(v, json_array_get(values, j))) {
                return err_set(err, ERR_INVALID, field, "enum value '%s' is repeated",
                               json_string_value(v));
            }
        }
    }
    out->values = values;
    return ERR_OK;
}

/* "0", "0.5", "12.25": a non-negative decimal without exponent. */
static int decimal_nonnegative(const char *s)
{
    size_t digits = strspn(s, "0123456789");
    if (digits == 0 || digits > 18) {
        return 0;
    }
    if (s[digits] == '\0') {
        return 1;
    }
    if (s[digits] != '.') {
        return 0;
    }
    size_t frac = strspn(s + digits + 1, "0123456789");
    return frac > 0 && frac <= 18 && s[digits + 1 + frac] == '\0';
}

static enum err column_tolerance(const json_t *col, const char *prefix,
                                 const struct core__column *c, struct errbuf *err)
{
    char field[ERRBUF_FIELD_MAX];
    snprintf(field, sizeof(field), "%.24s.fingerprint_tolerance", prefix);
    const json_t *t = json_object_get(col, "fingerprint_tolerance");
    if (t == NULL || json_is_null(t)) {
        return ERR_OK;
    }
    const char *s = json_string_value(t);
    if (s == NULL || !decimal_nonnegative(s)) {
        return err_set(err, ERR_INVALID, field,
                       "fingerprint_tolerance is a non-negative decimal in a string, such as "
                       "\"0.5\"");
    }
    int numeric = c->type == CORE__COL_INTEGER || c->type == CORE__COL_DECIMAL;
    if (!numeric && strspn(s, "0.") != strlen(s)) {
        return err_set(err, ERR_INVALID, field,
                       "only numeric columns tolerate changes; others take \"0\"");
    }
    return ERR_OK;
}

static enum err column_check(const json_t *col, size_t index, struct core__column *out,
                             struct errbuf *err)
{
    static const char *const fields[] = {
        "name", "type", "unit", "description", "values", "fingerprint_tolerance", NULL};
    char prefix[24];
    snprintf(prefix, sizeof(prefix), "schema[%u]", (unsigned)index);
    if (!json_is_object(col)) {
        return err_set(err, ERR_INVALID, prefix, "'%s' must be an object", prefix);
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)col, key, value)
    {
        int ok = 0;
        for (const char *const *a = fields; *a != NULL; a++) {
            ok |= strcmp(*a, key) == 0;
        }
        int text = strcmp(key, "values") != 0;
        char field[ERRBUF_FIELD_MAX];
        snprintf(field, sizeof(field), "%s.%.32s", prefix, key);
        if (!ok) {
            return err_set(err, ERR_INVALID, field, "unknown field '%s'", field);
        }
        if (text && !json_is_string(value) && !json_is_null(value)) {
            return err_set(err, ERR_INVALID, field, "'%s' must be a string", field);
        }
    }
    char field[ERRBUF_FIELD_MAX];
    snprintf(field, sizeof(field), "%s.name", prefix);
    out->name = json_string_value(json_object_get(col, "name"));
    enum err rc = core__text_check(field, out->name, CORE_COLUMN_NAME_CHARS_MAX, 1, err);
    if (rc == ERR_OK && out->name == NULL) {
        rc = err_set(err, ERR_INVALID, field, "'%s' is required", field);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(field, sizeof(field), "%s.type", prefix);
    const char *type = json_string_value(json_object_get(col, "type"));
    int t = -1;
    for (int i = 0; type != NULL && i < CORE__COL__COUNT; i++) {
        t = strcmp(col_type_names[i], type) == 0 ? i : t;
    }
    if (t < 0) {
        return err_set(err, ERR_INVALID, field,
                       "type must be string, integer, decimal, boolean, date, timestamp or enum");
    }
    out->type = (enum core__col_type)t;
    snprintf(field, sizeof(field), "%s.unit", prefix);
    rc = core__text_check(field, json_string_value(json_object_get(col, "unit")),
                          CORE_COLUMN_NAME_CHARS_MAX, 0, err);
    if (rc == ERR_OK) {
        snprintf(field, sizeof(field), "%s.description", prefix);
        rc = core__text_check(field, json_string_value(json_object_get(col, "description")),
                              CORE_COLUMN_TEXT_CHARS_MAX, 0, err);
    }
    if (rc == ERR_OK) {
        rc = column_values(col, prefix, out, err);
    }
    if (rc == ERR_OK) {
        rc = column_tolerance(col, prefix, out, err);
    }
    return rc;
}

enum err core__schema_check(const json_t *schema, struct core__column *cols, size_t *count,
                            struct errbuf *err)
{
    *count = 0;
    if (schema == NULL || json_is_null(schema)) {
        return ERR_OK;
    }
    if (!json_is_array(schema) || json_array_size(schema) > CORE_COLUMNS_MAX) {
        return err_set(err, ERR_INVALID, "schema",
                       "'schema' must be an array of at most %d columns", CORE_COLUMNS_MAX);
    }
    for (size_t i = 0; i < json_array_size(schema); i++) {
        memset(&cols[i], 0, sizeof(cols[i]));
        enum err rc = column_check(json_array_get(schema, i), i, &cols[i], err);
        if (rc != ERR_OK) {
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cols[i].name, cols[j].name) == 0) {
                return err_set(err, ERR_INVALID, "schema", "column '%s' is declared twice",
                               cols[i].name);
            }
        }
    }
    *count = json_array_size(schema);
    return ERR_OK;
}

/* ---- value checks ---- */

static int all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return len > 0;
}

static int is_integer(const char *s, size_t len)
{
    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        s++;
        len--;
    }
    return len <= 18 && all_digits(s, len);
}

static int is_decimal(const char *s, size_t len)
{
    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        s++;
        len--;
    }
    const char *dot = memchr(s, '.', len);
    if (dot == NULL) {
        return len <= 38 && all_digits(s, len);
    }
    size_t ip = (size_t)(dot - s);
    return ip <= 38 && all_digits(s, ip) && all_digits(dot + 1, len - ip - 1) && len - ip - 1 <= 38;
}

static int is_boolean(const char *s, size_t len)
{
    static const char *const names[] = {"true", "false", "TRUE", "FALSE",
                                        "True", "False", "1",    "0"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
            return 1;
        }
    }
    return 0;
}

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* YYYY-MM-DD with a real day of that month. */
static int is_date(const char *s, size_t len)
{
    if (len != 10 || s[4] != '-' || s[7] != '-' || !all_digits(s, 4) || !all_digits(s + 5, 2) ||
        !all_digits(s + 8, 2)) {
        return 0;
    }
    int year = two(s) * 100 + two(s + 2);
    int month = two(s + 5);
    int day = two(s + 8);
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12 || day < 1) {
        return 0;
    }
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return day <= days[month - 1] + (month == 2 && leap);
}

/* RFC 3339 date-time; the zone may be left out (local time of the data's source). */
static int is_timestamp(const char *s, size_t len)
{
    if (len < 19 || !is_date(s, 10) || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':' || !all_digits(s + 11, 2) || !all_digits(s + 14, 2) ||
        !all_digits(s + 17, 2) || two(s + 11) > 23 || two(s + 14) > 59 || two(s + 17) > 60) {
        return 0;
    }
    size_t i = 19;
    if (i < len && s[i] == '.') {
        size_t f = 0;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            f++;
        }
        if (f == 0 || f > 9) {
            return 0;
        }
    }
    if (i == len) {
        return 1;
    }
    if (len - i == 1 && (s[i] == 'Z' || s[i] == 'z')) {
        return 1;
    }
    return len - i == 6 && (s[i] == '+' || s[i] == '-') && all_digits(s + i + 1, 2) &&
           s[i + 3] == ':' && all_digits(s + i + 4, 2) && two(s + i + 1) <= 23 &&
           two(s + i + 4) <= 59;
}

static int enum_member(const json_t *values, const char *s, size_t len)
{
    for (size_t i = 0; i < json_array_size(values); i++) {
        const json_t *v = json_array_get(values, i);
        if (json_string_length(v) == len && memcmp(json_string_value(v), s, len) == 0) {
            return 1;
        }
    }
    return 0;
}

static int value_conforms(const struct core__column *col, const char *s, size_t len)
{
    switch (col->type) {
    case CORE__COL_STRING:
        return 1;
    case CORE__COL_INTEGER:
        return is_integer(s, len);
    case CORE__COL_DECIMAL:
        return is_decimal(s, len);
    case CORE__COL_BOOLEAN:
        return is_boolean(s, len);
    case CORE__COL_DATE:
        return is_date(s, len);
    case CORE__COL_TIMESTAMP:
        return is_timestamp(s, len);
    case CORE__COL_ENUM:
        return enum_member(col->values, s, len);
    default:
        return 0;
    }
}

/* Compares two valid decimal texts by value: <0, 0, >0. */
static int decimal_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int aneg = alen > 0 && a[0] == '-';
    int bneg = blen > 0 && b[0] == '-';
    if (alen > 0 && (a[0] == '-' || a[0] == '+')) {
        a++;
        alen--;
    }
    if (blen > 0 && (b[0] == '-' || b[0] == '+')) {
        b++;
        blen--;
    }
    /* Integer parts without leading zeros, fractions without trailing zeros. */
    const char *ad = memchr(a, '.', alen);
    const char *bd = memchr(b, '.', blen);
    size_t ai = ad != NULL ? (size_t)(ad - a) : alen;
    size_t bi = bd != NULL ? (size_t)(bd - b) : blen;
    size_t af = ad != NULL ? alen - ai - 1 : 0;
    size_t bf = bd != NULL ? blen - bi - 1 : 0;
    while (ai > 0 && a[0] == '0') {
        a++;
        ai--;
    }
    while (bi > 0 && b[0] == '0') {
        b++;
        bi--;
    }
    while (af > 0 && a[ai + af] == '0') {
        af--;
    }
    while (bf > 0 && b[bi + bf] == '0') {
        bf--;
    }
    int zero_a = ai == 0 && af == 0;
    int zero_b = bi == 0 && bf == 0;
    aneg = aneg && !zero_a;
    bneg = bneg && !zero_b;
    if (aneg != bneg) {
        return aneg ? -1 : 1;
    }
    int sign = aneg ? -1 : 1;
    if (ai != bi) {
        return ai < bi ? -sign : sign;
    }
    int c = memcmp(a, b, ai);
    if (c != 0) {
        return c < 0 ? -sign : sign;
    }
    /* Fractions start one past the dot. */
    const char *fa = a + ai + 1;
    const char *fb = b + bi + 1;
    size_t n = af < bf ? af : bf;
    c = n > 0 ? memcmp(fa, fb, n) : 0;
    if (c != 0) {
        return c < 0 ? -sign : sign;
    }
    if (af != bf) {
        return af < bf ? -sign : sign;
    }
    return 0;
}

/* ---- the accumulating report ---- */

struct column_stats {
    int64_t nulls;
    int64_t type_errors;
    char *min; /* owned, NUL-terminated; NULL until a value is seen */
    char *max;
};

struct quality {
    const struct core__column *cols;
    size_t ncols;
    struct column_stats *stats;
    int64_t rows; /* well-formed data rows */
    int64_t malformed;
    unsigned char *hashes; /* ROW_HASH_BYTES per well-formed row */
    size_t hashes_cap;
    json_t *missing;
    json_t *unknown;
    json_t *problems;
    int oom;
};

static void quality_problem(struct quality *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void quality_problem(struct quality *q, const char *fmt, ...)
{
    if (json_array_size(q->problems) >= QUALITY_PROBLEMS_MAX) {
        return;
    }
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (json_array_append_new(q->problems, json_string(text)) != 0) {
        q->oom = 1;
    }
}

static void range_update(struct quality *q, struct column_stats *st, const struct core__column *c,
                         const char *s, size_t len)
{
    int numeric = c->type == CORE__COL_INTEGER || c->type == CORE__COL_DECIMAL;
    if (!numeric && c->type != CORE__COL_DATE) {
        return;
    }
    int lower = st->min == NULL || (numeric ? decimal_cmp(s, len, st->min, strlen(st->min)) < 0
                                            : strncmp(s, st->min, len) < 0);
    int higher = st->max == NULL || (numeric ? decimal_cmp(s, len, st->max, strlen(st->max)) > 0
                                             : strncmp(s, st->max, len) > 0);
    if (lower) {
        mem_free(st->min);
        st->min = mem_strndup(s, len);
        q->oom |= st->min == NULL;
    }
    if (higher) {
        mem_free(st->max);
        st->max = mem_strndup(s, len);
        q->oom |= st->max == NULL;
    }
}

/* One value of column j; NULL s is a null. */
static void value_observe(struct quality *q, size_t j, const char *s, size_t len)
{
    ASSERT(j < q->ncols);
    struct column_stats *st = &q->stats[j];
    if (s == NULL) {
        st->nulls++;
        return;
    }
    if (!value_conforms(&q->cols[j], s, len)) {
        st->type_errors++;
        return;
    }
    range_update(q, st, &q->cols[j], s, len);
}

static void row_hash_add(struct quality *q, const unsigned char hash[ROW_HASH_BYTES])
{
    size_t n = (size_t)q->rows;
    if (n == q->hashes_cap) {
        size_t cap = q->hashes_cap == 0 ? 256 : q->hashes_cap * 2;
        unsigned char *p = mem_realloc(q->hashes, cap * ROW_HASH_BYTES);
        if (p == NULL) {
            q->oom = 1;
            return;
        }
        q->hashes = p;
        q->hashes_cap = cap;
    }
    memcpy(q->hashes + n * ROW_HASH_BYTES, hash, ROW_HASH_BYTES);
    q->rows++;
}

static int hash_cmp(const void *a, const void *b)
{
    return memcmp(a, b, ROW_HASH_BYTES);
}

static int64_t duplicates_count(struct quality *q)
{
    if (q->rows < 2) {
        return 0;
    }
    qsort(q->hashes, (size_t)q->rows, ROW_HASH_BYTES, hash_cmp);
    int64_t dup = 0;
    for (size_t i = 1; i < (size_t)q->rows; i++) {
        if (memcmp(q->hashes + i * ROW_HASH_BYTES, q->hashes + (i - 1) * ROW_HASH_BYTES,
                   ROW_HASH_BYTES) == 0) {
            dup++;
        }
    }
    return dup;
}

static void name_add(struct quality *q, json_t *list, const char *name, size_t len)
{
    if (json_array_size(list) >= QUALITY_UNKNOWN_MAX) {
        return;
    }
    json_t *s = json_stringn(name, len);
    for (size_t i = 0; s != NULL && i < json_array_size(list); i++) {
        if (json_equal(s, json_array_get(list, i))) {
            json_decref(s);
            return;
        }
    }
    if (s == NULL || json_array_append_new(list, s) != 0) {
        q->oom = 1;
    }
}

/* ---- CSV ---- */

/* A field of the current record: its unescaped bytes in the scratch buffer. */
struct csv_field {
    size_t start;
    size_t len;
    int quoted;
};

#define CSV_FIELDS_MAX (CORE_COLUMNS_MAX * 2)

struct csv {
    const char *s;
    size_t len;
    size_t pos;
    char *scratch; /* len bytes: fields are never longer than their text */
    size_t used;
    struct csv_field fields[CSV_FIELDS_MAX];
    size_t nfields;
    int malformed;
};

/* Reads one quoted field starting at the opening quote. */
static void csv_quoted(struct csv *p, struct csv_field *f)
{
    p->pos++;
    f->quoted = 1;
    for (;;) {
        if (p->pos >= p->len) {
            p->malformed = 1; /* unterminated quote */
            return;
        }
        char ch = p->s[p->pos++];
        if (ch == '"') {
            if (p->pos < p->len && p->s[p->pos] == '"') {
                p->scratch[p->used++] = '"';
                p->pos++;
                continue;
            }
            break;
        }
        p->scratch[p->used++] = ch;
    }
    /* After the closing quote: a separator, a line end or the end. */
    if (p->pos < p->len && p->s[p->pos] != ',' && p->s[p->pos] != '\n' && p->s[p->pos] != '\r') {
        p->malformed = 1;
    }
}

/* Reads the next record; returns 0 at the end of the text. */
static int csv_next(struct csv *p)
{
    if (p->pos >= p->len) {
        return 0;
    }
    p->nfields = 0;
    p->used = 0;
    p->malformed = 0;
    for (;;) {
        struct csv_field f = {p->used, 0, 0};
        if (p->pos < p->len && p->s[p->pos] == '"') {
            csv_quoted(p, &f);
        }
        while (p->pos < p->len && p->s[p->pos] != ',' && p->s[p->pos] != '\n' &&
               p->s[p->pos] != '\r') {
            if (p->s[p->pos] == '"' || f.quoted) {
                p->malformed = 1;
            }
            p->scratch[p->used++] = p->s[p->pos++];
        }
        f.len = p->used - f.start;
        if (p->nfields < CSV_FIELDS_MAX) {
            p->fields[p->nfields++] = f;
        } else {
            p->malformed = 1;
        }
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        break;
    }
    if (p->pos < p->len && p->s[p->pos] == '\r') {
        p->pos++;
    }
    if (p->pos < p->len && p->s[p->pos] == '\n') {
        p->pos++;
    }
    return 1;
}

static void csv_row_hash(const struct csv *p, unsigned char out[ROW_HASH_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, ROW_HASH_BYTES);
    for (size_t i = 0; i < p->nfields; i++) {
        unsigned char len[8];
        uint64_t n = p->fields[i].len;
        for (int b = 0; b < 8; b++) {
            len[b] = (unsigned char)(n >> (8 * b));
        }
        crypto_generichash_update(&st, len, sizeof(len));
        crypto_generichash_update(&st, (const unsigned char *)p->scratch + p->fields[i].start,
                                  p->fields[i].len);
    }
    crypto_generichash_final(&st, out, ROW_HASH_BYTES);
}

/* Maps header field i to a schema column (or -1) into map. */
static void csv_header(struct quality *q, const struct csv *p, int *map)
{
    for (size_t i = 0; i < p->nfields; i++) {
        const char *name = p->scratch + p->fields[i].start;
        size_t len = p->fields[i].len;
        map[i] = -1;
        for (size_t j = 0; j < q->ncols; j++) {
            if (strlen(q->cols[j].name) == len && memcmp(q->cols[j].name, name, len) == 0) {
                map[i] = (int)j;
            }
        }
        for (size_t k = 0; k < i && map[i] >= 0; k++) {
            if (map[k] == map[i]) {
                quality_problem(q, "the header repeats column '%s'", q->cols[map[i]].name);
                map[i] = -1;
            }
        }
        if (map[i] < 0) {
            name_add(q, q->unknown, name, len);
        }
    }
    for (size_t j = 0; j < q->ncols; j++) {
        int seen = 0;
        for (size_t i = 0; i < p->nfields; i++) {
            seen |= map[i] == (int)j;
        }
        if (!seen) {
            name_add(q, q->missing, q->cols[j].name, strlen(q->cols[j].name));
        }
    }
}

static void csv_run(struct quality *q, const char *sample, size_t len)
{
    struct csv *p = mem_calloc(1, sizeof(*p));
    int *map = mem_calloc(CSV_FIELDS_MAX, sizeof(*map));
    char *scratch = mem_alloc(len + 1);
    if (p == NULL || map == NULL || scratch == NULL) {
        q->oom = 1;
        goto out;
    }
    p->s = sample;
    p->len = len;
    p->scratch = scratch;
    if (len >= 3 && memcmp(sample, "\xef\xbb\xbf", 3) == 0) {
        p->pos = 3;
    }
    if (!csv_next(p) || p->malformed) {
        quality_problem(q, "the CSV sample has no readable header line");
        q->malformed++;
        goto out;
    }
    size_t header_fields = p->nfields;
    csv_header(q, p, map);
    while (!q->oom && csv_next(p)) {
        if (p->malformed || p->nfields != header_fields) {
            q->malformed++;
            continue;
        }
        for (size_t i = 0; i < p->nfields; i++) {
            if (map[i] >= 0) {
                const struct csv_field *f = &p->fields[i];
                value_observe(q, (size_t)map[i], f->len == 0 ? NULL : p->scratch + f->start,
                              f->len);
            }
        }
        for (size_t j = 0; j < q->ncols; j++) {
            int seen = 0;
            for (size_t i = 0; i < p->nfields; i++) {
                seen |= map[i] == (int)j;
            }
            if (!seen) {
                q->stats[j].nulls++;
            }
        }
        unsigned char h[ROW_HASH_BYTES];
        csv_row_hash(p, h);
        row_hash_add(q, h);
    }
out:
    mem_free(scratch);
    mem_free(map);
    mem_free(p);
}

/* ---- JSON Lines ---- */

/* A JSON scalar as the text the value checks take (in buf for numbers); NULL when it has no
 * such text (arrays, objects, reals with an exponent). */
static const char *json_value_text(const json_t *v, char buf[64])
{
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_integer(v)) {
        snprintf(buf, 64, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, 64, "%.15g", json_real_value(v));
        return strpbrk(buf, "eEn") == NULL ? buf : NULL;
    }
    if (json_is_boolean(v)) {
        return json_is_true(v) ? "true" : "false";
    }
    return NULL;
}

/* Checks one JSON value of column j against its type, JSON type included. */
static void jsonl_value(struct quality *q, size_t j, const json_t *v)
{
    if (v == NULL || json_is_null(v)) {
        value_observe(q, j, NULL, 0);
        return;
    }
    enum core__col_type t = q->cols[j].type;
    int type_ok = 1;
    switch (t) {
    case CORE__COL_INTEGER:
        type_ok = json_is_integer(v);
        break;
    case CORE__COL_DECIMAL:
        type_ok = json_is_number(v) || json_is_string(v);
        break;
    case CORE__COL_BOOLEAN:
        type_ok = json_is_boolean(v);
        break;
    default:
        type_ok = json_is_string(v);
        break;
    }
    char buf[64];
    const char *text = type_ok ? json_value_text(v, buf) : NULL;
    if (text == NULL) {
        q->stats[j].type_errors++;
        return;
    }
    value_observe(q, j, text, strlen(text));
}

static void jsonl_line(struct quality *q, const char *line, size_t len)
{
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        q->malformed++;
        return;
    }
    for (size_t j = 0; j < q->ncols; j++) {
        jsonl_value(q, j, json_object_get(o, q->cols[j].name));
    }
    const char *key;
    json_t *value;
    json_object_foreach(o, key, value)
    {
        (void)value;
        int known = 0;
        for (size_t j = 0; j < q->ncols; j++) {
            known |= strcmp(q->cols[j].name, key) == 0;
        }
        if (!known) {
            name_add(q, q->unknown, key, strlen(key));
        }
    }
    char *canonical = core__canonical(o);
    json_decref(o);
    if (canonical == NULL) {
        q->oom = 1;
        return;
    }
    unsigned char h[ROW_HASH_BYTES];
    crypto_generichash(h, sizeof(h), (const unsigned char *)canonical, strlen(canonical), NULL, 0);
    mem_free(canonical);
    row_hash_add(q, h);
}

static void jsonl_run(struct quality *q, const char *sample, size_t len)
{
    size_t pos = 0;
    while (pos < len && !q->oom) {
        const char *nl = memchr(sample + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - sample) : len;
        size_t n = end - pos;
        if (n > 0 && sample[pos + n - 1] == '\r') {
            n--;
        }
        size_t blank = 0;
        while (blank < n && (sample[pos + blank] == ' ' || sample[pos + blank] == '\t')) {
            blank++;
        }
        if (blank < n) {
            jsonl_line(q, sample + pos, n);
        }
        pos = end + 1;
    }
}

/* ---- the report ---- */

static json_t *column_report(const struct quality *q, size_t j)
{
    const struct column_stats *st = &q->stats[j];
    int64_t filled = q->rows - st->nulls;
    int64_t permille = q->rows > 0 ? filled * 1000 / q->rows : 0;
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s?, s:s?}", "name", q->cols[j].name, "type",
                     col_type_names[q->cols[j].type], "nulls", (json_int_t)st->nulls,
                     "completeness_permille", (json_int_t)permille, "type_errors",
                     (json_int_t)st->type_errors, "min", st->min, "max", st->max);
}

static json_t *report_build(struct quality *q, const char *format)
{
    int64_t dup = duplicates_count(q);
    json_t *columns = json_array();
    int64_t nulls = 0, type_errors = 0;
    for (size_t j = 0; columns != NULL && j < q->ncols; j++) {
        nulls += q->stats[j].nulls;
        type_errors += q->stats[j].type_errors;
        if (q->stats[j].type_errors > 0) {
            quality_problem(q, "column '%s' has %lld values that do not conform to its type",
                            q->cols[j].name, (long long)q->stats[j].type_errors);
        }
        if (json_array_append_new(columns, column_report(q, j)) != 0) {
            q->oom = 1;
        }
    }
    if (q->malformed > 0) {
        quality_problem(q, "%lld rows are malformed", (long long)q->malformed);
    }
    if (dup > 0) {
        quality_problem(q, "%lld rows repeat an earlier row", (long long)dup);
    }
    for (size_t i = 0; i < json_array_size(q->missing); i++) {
        quality_problem(q, "column '%s' is missing from the sample",
                        json_string_value(json_array_get(q->missing, i)));
    }
    if (json_array_size(q->unknown) > 0) {
        quality_problem(q, "the sample has columns the schema does not declare");
    }
    if (q->rows == 0) {
        quality_problem(q, "the sample has no well-formed rows");
    }
    int64_t cells = q->rows * (int64_t)q->ncols;
    int64_t completeness = cells > 0 ? (cells - nulls) * 1000 / cells : 0;
    int passed = q->rows > 0 && q->malformed == 0 && dup == 0 && type_errors == 0 &&
                 json_array_size(q->missing) == 0 && json_array_size(q->unknown) == 0;
    return json_pack("{s:s, s:I, s:I, s:I, s:O, s:O, s:o*, s:I, s:b, s:O}", "format", format,
                     "rows", (json_int_t)q->rows, "malformed_rows", (json_int_t)q->malformed,
                     "duplicate_rows", (json_int_t)dup, "missing_columns", q->missing,
                     "unknown_columns", q->unknown, "columns", columns, "completeness_permille",
                     (json_int_t)completeness, "passed", passed, "problems", q->problems);
}

enum err core_quality_check(const json_t *schema, const char *format, const char *sample,
                            size_t sample_len, json_t **report, struct errbuf *err)
{
    ASSERT(report != NULL);
    *report = NULL;
    int csv = format != NULL && strcmp(format, "csv") == 0;
    if (!csv && (format == NULL || strcmp(format, "jsonl") != 0)) {
        return err_set(err, ERR_INVALID, "sample.format", "sample format must be csv or jsonl");
    }
    if (sample == NULL || sample_len > CORE_SAMPLE_BYTES_MAX) {
        return err_set(err, ERR_LIMIT, "sample.data", "sample is over %d bytes",
                       CORE_SAMPLE_BYTES_MAX);
    }
    if (!text_valid_utf8(sample, sample_len)) {
        return err_set(err, ERR_INVALID, "sample.data",
                       "a sample is UTF-8 text without control characters but tab and line ends");
    }
    struct core__column *cols = mem_calloc(CORE_COLUMNS_MAX, sizeof(*cols));
    if (cols == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    struct quality q;
    memset(&q, 0, sizeof(q));
    enum err rc = core__schema_check(schema, cols, &q.ncols, err);
    if (rc == ERR_OK && q.ncols == 0) {
        rc = err_set(err, ERR_INVALID, "schema", "quality checks need a declared schema");
    }
    if (rc != ERR_OK) {
        mem_free(cols);
        return rc;
    }
    q.cols = cols;
    q.stats = mem_calloc(q.ncols, sizeof(*q.stats));
    q.missing = json_array();
    q.unknown = json_array();
    q.problems = json_array();
    q.oom = q.stats == NULL || q.missing == NULL || q.unknown == NULL || q.problems == NULL;
    if (!q.oom) {
        if (csv) {
            csv_run(&q, sample, sample_len);
        } else {
            jsonl_run(&q, sample, sample_len);
        }
    }
    json_t *r = q.oom ? NULL : report_build(&q, format);
    for (size_t j = 0; q.stats != NULL && j < q.ncols; j++) {
        mem_free(q.stats[j].min);
        mem_free(q.stats[j].max);
    }
    mem_free(q.stats);
    mem_free(q.hashes);
    json_decref(q.missing);
    json_decref(q.unknown);
    json_decref(q.problems);
    mem_free(cols);
    if (r == NULL || q.oom) {
        json_decref(r);
        return err_set(err, ERR_NOMEM, "", "out of memory checking the sample");
    }
    *report = r;
    return ERR_OK;
}
