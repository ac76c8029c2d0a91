/*
 * tolerance.c: the provider's tolerance declaration (which columns identify a row, which may
 * carry marks and how far) and the two ways a value carries one bit:
 *
 *   digit     the parity of the value's last digit (of its declared decimal places, if any).
 *             To flip it the value moves by one unit, up or down by a keyed coin so that sums
 *             do not drift, never through zero and never past the declared places;
 *   spelling  the parity of the member index, within its group, of the value's first
 *             whole-word occurrence of a declared variant. To flip it that occurrence is
 *             replaced by a neighbouring member of the group.
 *
 * Either way a copy differs from the original only inside the declared tolerance, and a
 * reader needs nothing but the value itself to read the bit back (no original at hand), which
 * is what survives re-encoding, reordering and sampling.
 */
#include "util/compat.h"
#include "delivery/delivery.h"
#include "delivery/fingerprint_int.h"

#include <string.h>

#include "util/banned.h"

/* A column name in a declaration, at most (bytes). */
#define NAME_BYTES_MAX 256

static void decl_release(struct delivery_fp_decl *d)
{
    for (size_t i = 0; i < d->key_count; i++) {
        mem_free(d->key[i]);
    }
    for (size_t i = 0; i < d->marked_count; i++) {
        struct delivery__marked *m = &d->marked[i];
        mem_free(m->name);
        for (size_t v = 0; v < m->variant_count; v++) {
            mem_free(m->variants[v].text);
        }
        mem_free(m->variants);
    }
}

void delivery_fp_decl_free(struct delivery_fp_decl *decl)
{
    if (decl == NULL) {
        return;
    }
    decl_release(decl);
    mem_free(decl);
}

static enum err nomem(struct errbuf *err)
{
    return err_set(err, ERR_NOMEM, "", "out of memory");
}

/* A non-empty name of at most NAME_BYTES_MAX bytes of text; copied into *out. */
static enum err name_check(const json_t *v, const char *field, char **out, size_t *len,
                           struct errbuf *err)
{
    const char *s = json_string_value(v);
    size_t n = s != NULL ? json_string_length(v) : 0;
    if (s == NULL || n == 0 || n > NAME_BYTES_MAX || !text_valid_utf8(s, n) ||
        memchr(s, '\n', n) != NULL) {
        return err_set(err, ERR_INVALID, field,
                       "'%s' must be a column name: non-empty text of at most %d bytes", field,
                       NAME_BYTES_MAX);
    }
    *out = mem_strndup(s, n);
    *len = n;
    return *out == NULL ? nomem(err) : ERR_OK;
}

/* 1 if name is already a key or marked column of d. */
static int name_taken(const struct delivery_fp_decl *d, const char *name)
{
    for (size_t i = 0; i < d->key_count; i++) {
        if (strcmp(d->key[i], name) == 0) {
            return 1;
        }
    }
    for (size_t i = 0; i < d->marked_count; i++) {
        if (strcmp(d->marked[i].name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

static enum err parse_key(const json_t *key, struct delivery_fp_decl *d, struct errbuf *err)
{
    if (key == NULL || json_is_null(key)) {
        return ERR_OK;
    }
    if (!json_is_array(key) || json_array_size(key) > DELIVERY_FP_KEY_MAX) {
        return err_set(err, ERR_INVALID, "key", "'key' must be an array of at most %d names",
                       DELIVERY_FP_KEY_MAX);
    }
    for (size_t i = 0; i < json_array_size(key); i++) {
        char field[ERRBUF_FIELD_MAX];
        snprintf(field, sizeof(field), "key[%zu]", i);
        char *name = NULL;
        size_t len = 0;
        enum err rc = name_check(json_array_get(key, i), field, &name, &len, err);
        if (rc != ERR_OK) {
            return rc;
        }
        if (name_taken(d, name)) {
            mem_free(name);
            return err_set(err, ERR_INVALID, field, "key column '%s' is named twice",
                           json_string_value(json_array_get(key, i)));
        }
        d->key[d->key_count] = name;
        d->key_lens[d->key_count] = len;
        d->key_count++;
    }
    return ERR_OK;
}

/* Only the listed members may appear in obj. */
static enum err members_known(const json_t *obj, const char *const *allowed, const char *prefix,
                              struct errbuf *err)
{
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)obj, name, value)
    {
        int ok = 0;
        for (size_t i = 0; allowed[i] != NULL; i++) {
            ok |= strcmp(allowed[i], name) == 0;
        }
        if (!ok) {
            char field[ERRBUF_FIELD_MAX];
            snprintf(field, sizeof(field), "%.23s%s%.32s", prefix, *prefix ? "." : "", name);
            return err_set(err, ERR_INVALID, field, "unknown member '%s'", field);
        }
    }
    return ERR_OK;
}

/* Finds a variant text among those already parsed; -1 if new. */
static int variant_find(const struct delivery__marked *m, const char *s, size_t len)
{
    for (size_t i = 0; i < m->variant_count; i++) {
        if (m->variants[i].len == len && memcmp(m->variants[i].text, s, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static enum err parse_group(const json_t *group, size_t g, const char *prefix,
                            struct delivery__marked *m, struct errbuf *err)
{
    char field[ERRBUF_FIELD_MAX];
    snprintf(field, sizeof(field), "%.23s.variants[%zu]", prefix, g);
    size_t n = json_array_size(group);
    if (!json_is_array(group) || n < 2 || n > DELIVERY_FP_GROUP_SIZE_MAX) {
        return err_set(err, ERR_INVALID, field, "a group lists 2 to %d equivalent spellings",
                       DELIVERY_FP_GROUP_SIZE_MAX);
    }
    m->group_first[g] = (uint16_t)m->variant_count;
    m->group_size[g] = (uint8_t)n;
    for (size_t k = 0; k < n; k++) {
        snprintf(field, sizeof(field), "%.23s.variants[%zu][%zu]", prefix, g, k);
        const json_t *v = json_array_get(group, k);
        const char *s = json_string_value(v);
        size_t len = s != NULL ? json_string_length(v) : 0;
        if (s == NULL || len == 0 || len > DELIVERY_FP_VARIANT_BYTES_MAX ||
            !text_valid_utf8(s, len) || strpbrk(s, "\r\n") != NULL) {
            return err_set(err, ERR_INVALID, field,
                           "a spelling is non-empty text of at most %d bytes on one line",
                           DELIVERY_FP_VARIANT_BYTES_MAX);
        }
        if (variant_find(m, s, len) >= 0) {
            return err_set(err, ERR_INVALID, field, "spelling '%s' is listed twice", s);
        }
        char *text = mem_strndup(s, len);
        if (text == NULL) {
            return nomem(err);
        }
        m->variants[m->variant_count++] =
            (struct delivery__variant){text, len, (uint8_t)g, (uint8_t)k};
        m->first_bytes[(unsigned char)s[0] >> 3] |= (uint8_t)(1u << (s[0] & 7));
    }
    return ERR_OK;
}

static enum err parse_variants(const json_t *variants, const char *prefix,
                               struct delivery__marked *m, struct errbuf *err)
{
    char field[ERRBUF_FIELD_MAX];
    snprintf(field, sizeof(field), "%.23s.variants", prefix);
    if (m->kind == DELIVERY__MARK_DIGIT) {
        return variants == NULL
                   ? ERR_OK
                   : err_set(err, ERR_INVALID, field, "only spelling columns list variants");
    }
    size_t groups = json_array_size(variants);
    if (!json_is_array(variants) || groups == 0 || groups > DELIVERY_FP_GROUPS_MAX) {
        return err_set(err, ERR_INVALID, field,
                       "a spelling column lists 1 to %d groups of equivalent spellings",
                       DELIVERY_FP_GROUPS_MAX);
    }
    m->variants = mem_calloc(groups * DELIVERY_FP_GROUP_SIZE_MAX, sizeof(*m->variants));
    if (m->variants == NULL) {
        return nomem(err);
    }
    for (size_t g = 0; g < groups; g++) {
        enum err rc = parse_group(json_array_get(variants, g), g, prefix, m, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return ERR_OK;
}

static enum err parse_kind(const json_t *col, const char *prefix, struct delivery__marked *m,
                           struct errbuf *err)
{
    char field[ERRBUF_FIELD_MAX];
    snprintf(field, sizeof(field), "%.23s.kind", prefix);
    const char *kind = json_string_value(json_object_get(col, "kind"));
    if (kind != NULL && strcmp(kind, "digit") == 0) {
        m->kind = DELIVERY__MARK_DIGIT;
    } else if (kind != NULL && strcmp(kind, "spelling") == 0) {
        m->kind = DELIVERY__MARK_SPELLING;
    } else {
        return err_set(err, ERR_INVALID, field, "kind must be digit or spelling");
    }
    snprintf(field, sizeof(field), "%.23s.decimals", prefix);
    const json_t *decimals = json_object_get(col, "decimals");
    m->decimals = -1;
    if (decimals == NULL) {
        return ERR_OK;
    }
    if (m->kind != DELIVERY__MARK_DIGIT) {
        return err_set(err, ERR_INVALID, field, "only digit columns declare decimals");
    }
    json_int_t d = json_integer_value(decimals);
    if (!json_is_integer(decimals) || d < 0 || d > DELIVERY_FP_DECIMALS_MAX) {
        return err_set(err, ERR_INVALID, field, "decimals is an integer from 0 to %d",
                       DELIVERY_FP_DECIMALS_MAX);
    }
    m->decimals = (int)d;
    return ERR_OK;
}

static enum err parse_column(const json_t *col, size_t index, struct delivery_fp_decl *d,
                             struct errbuf *err)
{
    static const char *const members[] = {"name", "kind", "decimals", "variants", NULL};
    char prefix[24];
    snprintf(prefix, sizeof(prefix), "columns[%u]", (unsigned)(index % 100));
    if (!json_is_object(col)) {
        return err_set(err, ERR_INVALID, prefix, "'%s' must be an object", prefix);
    }
    enum err rc = members_known(col, members, prefix, err);
    if (rc != ERR_OK) {
        return rc;
    }
    char field[ERRBUF_FIELD_MAX];
    snprintf(field, sizeof(field), "%.23s.name", prefix);
    struct delivery__marked *m = &d->marked[d->marked_count];
    memset(m, 0, sizeof(*m));
    rc = name_check(json_object_get(col, "name"), field, &m->name, &m->name_len, err);
    if (rc != ERR_OK) {
        return rc;
    }
    d->marked_count++; /* owned by d from here, so released with it on error */
    for (size_t i = 0; i + 1 < d->marked_count; i++) {
        if (strcmp(d->marked[i].name, m->name) == 0) {
            return err_set(err, ERR_INVALID, field, "column '%s' is marked twice", m->name);
        }
    }
    for (size_t i = 0; i < d->key_count; i++) {
        if (strcmp(d->key[i], m->name) == 0) {
            return err_set(err, ERR_INVALID, field,
                           "key column '%s' cannot be marked: marks would change row identity",
                           m->name);
        }
    }
    rc = parse_kind(col, prefix, m, err);
    if (rc != ERR_OK) {
        return rc;
    }
    return parse_variants(json_object_get(col, "variants"), prefix, m, err);
}

enum err delivery_fp_decl_parse(const json_t *decl, struct delivery_fp_decl **out,
                                struct errbuf *err)
{
    static const char *const members[] = {"key", "columns", NULL};
    *out = NULL;
    if (!json_is_object(decl)) {
        return err_set(err, ERR_INVALID, "", "the declaration must be a JSON object");
    }
    enum err rc = members_known(decl, members, "", err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct delivery_fp_decl *d = mem_calloc(1, sizeof(*d));
    if (d == NULL) {
        return nomem(err);
    }
    rc = parse_key(json_object_get(decl, "key"), d, err);
    const json_t *columns = json_object_get(decl, "columns");
    if (rc == ERR_OK && (!json_is_array(columns) || json_array_size(columns) == 0 ||
                         json_array_size(columns) > DELIVERY_FP_MARKED_MAX)) {
        rc = err_set(err, ERR_INVALID, "columns", "'columns' must list 1 to %d marked columns",
                     DELIVERY_FP_MARKED_MAX);
    }
    for (size_t i = 0; rc == ERR_OK && i < json_array_size(columns); i++) {
        rc = parse_column(json_array_get(columns, i), i, d, err);
    }
    if (rc != ERR_OK) {
        delivery_fp_decl_free(d);
        return rc;
    }
    *out = d;
    return ERR_OK;
}

/* ---- digit ---- */

/* A decimal split into parts: [sign] int_digits [. frac_digits]. */
struct decimal {
    char sign; /* '+', '-' or 0 */
    const char *int_digits;
    size_t int_len;
    const char *frac_digits;
    size_t frac_len;
    int has_point;
};

static size_t digit_run(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
    }
    return i;
}

/* 1 if value is an admissible decimal for m (parts in *d), else 0. */
static int decimal_parse(const struct delivery__marked *m, const char *s, size_t len,
                         struct decimal *d)
{
    memset(d, 0, sizeof(*d));
    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        d->sign = s[0];
        s++;
        len--;
    }
    d->int_digits = s;
    d->int_len = digit_run(s, len);
    if (d->int_len == 0) {
        return 0;
    }
    if (d->int_len < len) {
        if (s[d->int_len] != '.') {
            return 0;
        }
        d->has_point = 1;
        d->frac_digits = s + d->int_len + 1;
        d->frac_len = digit_run(d->frac_digits, len - d->int_len - 1);
        if (d->frac_len == 0 || d->int_len + 1 + d->frac_len != len) {
            return 0;
        }
    }
    if (m->decimals >= 0 && d->frac_len > (size_t)m->decimals) {
        return 0;
    }
    size_t places = m->decimals >= 0 ? (size_t)m->decimals : d->frac_len;
    return d->int_len + places <= DELIVERY__DIGITS_MAX;
}

/* The parity of the last digit, reading missing declared places as zeros. */
static int decimal_bit(const struct delivery__marked *m, const struct decimal *d)
{
    if (m->decimals >= 0 && d->frac_len < (size_t)m->decimals) {
        return 0;
    }
    char last = d->frac_len > 0 ? d->frac_digits[d->frac_len - 1] : d->int_digits[d->int_len - 1];
    return (last - '0') & 1;
}

/* Moves the digit string by one unit (up or down); returns 1 on a carry out of the top. */
static int digits_step(char *digits, size_t n, int up)
{
    for (size_t i = n; i-- > 0;) {
        if (up && digits[i] != '9') {
            digits[i]++;
            return 0;
        }
        if (!up && digits[i] != '0') {
            digits[i]--;
            return 0;
        }
        digits[i] = up ? '0' : '9';
    }
    return up;
}

static enum err digit_set(const struct delivery__marked *m, const struct decimal *d, int up,
                          struct buf *out, struct errbuf *err)
{
    size_t places = m->decimals >= 0 ? (size_t)m->decimals : d->frac_len;
    char digits[DELIVERY__DIGITS_MAX + 1];
    memcpy(digits, d->int_digits, d->int_len);
    memset(digits + d->int_len, '0', places);
    if (d->frac_len > 0) {
        memcpy(digits + d->int_len, d->frac_digits, d->frac_len);
    }
    size_t n = d->int_len + places;
    digits[n] = '\0';
    if (strspn(digits, "0") >= n) {
        up = 1; /* zero only moves away from zero */
    } else if (n == DELIVERY__DIGITS_MAX && strspn(digits, "9") >= n) {
        up = 0; /* a carry would make the value too long to read back */
    }
    int carry = digits_step(digits, n, up);
    size_t int_len = d->int_len;
    const char *p = digits;
    /* 100 - 1 is 99, not 099, unless the original was zero-padded. */
    if (!up && int_len > 1 && digits[0] == '0' && d->int_digits[0] != '0') {
        p++;
        int_len--;
    }
    char text[DELIVERY__VALUE_BYTES_MAX];
    size_t t = 0;
    int zero = strspn(p, "0") >= (size_t)(digits + n - p);
    if (d->sign != 0 && !(zero && d->sign == '-')) {
        text[t++] = d->sign;
    }
    if (carry) {
        text[t++] = '1';
    }
    memcpy(text + t, p, int_len);
    t += int_len;
    if (places > 0 || d->has_point) {
        text[t++] = '.';
        memcpy(text + t, p + int_len, places);
        t += places;
    }
    ASSERT(t <= sizeof(text));
    enum err rc = buf_append(out, text, t);
    return rc == ERR_OK ? ERR_OK : err_set(err, rc, "", "cannot hold a marked value");
}

/* ---- spelling ---- */

static int word_byte(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The longest variant that occurs at s[i] as a whole word; -1 if none. */
static int variant_at(const struct delivery__marked *m, const char *s, size_t len, size_t i)
{
    int best = -1;
    for (size_t v = 0; v < m->variant_count; v++) {
        const struct delivery__variant *var = &m->variants[v];
        if (var->text[0] != s[i] || var->len > len - i || memcmp(s + i, var->text, var->len) != 0) {
            continue;
        }
        int starts_word = i == 0 || !word_byte(s[i - 1]) || !word_byte(var->text[0]);
        size_t after = i + var->len;
        int ends_word = after == len || !word_byte(s[after]) || !word_byte(var->text[var->len - 1]);
        if (starts_word && ends_word && (best < 0 || var->len > m->variants[best].len)) {
            best = (int)v;
        }
    }
    return best;
}

static int spelling_find(const struct delivery__marked *m, const char *s, size_t len, size_t *at)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(m->first_bytes[c >> 3] & (1u << (c & 7)))) {
            continue;
        }
        int v = variant_at(m, s, len, i);
        if (v >= 0) {
            *at = i;
            return v;
        }
    }
    return -1;
}

int delivery__field_markable(const struct delivery__marked *m, const struct delivery_field *f)
{
    switch (f->kind) {
    case DELIVERY_FIELD_PLAIN:
    case DELIVERY_FIELD_QUOTED:
    case DELIVERY_FIELD_QUOTED_ESCAPED:
    case DELIVERY_FIELD_JSON_STRING:
    case DELIVERY_FIELD_JSON_ESCAPED:
        return 1;
    case DELIVERY_FIELD_JSON_LITERAL:
        return m->kind == DELIVERY__MARK_DIGIT; /* a number; true/false never parse */
    case DELIVERY_FIELD_ABSENT:
    case DELIVERY_FIELD_JSON_NULL:
    case DELIVERY_FIELD_JSON_NESTED:
        break;
    }
    return 0;
}

int delivery__mark_get(const struct delivery__marked *m, const char *value, size_t len, size_t *at,
                       size_t *width, int *variant)
{
    if (m->kind == DELIVERY__MARK_DIGIT) {
        struct decimal d;
        return decimal_parse(m, value, len, &d) ? decimal_bit(m, &d) : -1;
    }
    size_t pos = 0;
    int v = spelling_find(m, value, len, &pos);
    if (v < 0) {
        return -1;
    }
    *at = pos;
    *width = m->variants[v].len;
    *variant = v;
    return m->variants[v].member & 1;
}

static enum err spelling_set(const struct delivery__marked *m, const char *value, size_t len,
                             size_t at, size_t width, int variant, struct buf *out, int *changed,
                             struct errbuf *err)
{
    const struct delivery__variant *from = &m->variants[variant];
    size_t target = from->member ^ 1u;
    if (target >= m->group_size[from->group]) {
        target = from->member - 1u; /* the last of an odd group: its left neighbour */
    }
    const struct delivery__variant *to = &m->variants[m->group_first[from->group] + target];
    size_t start = out->len;
    enum err rc = buf_append(out, value, at);
    if (rc == ERR_OK) {
        rc = buf_append(out, to->text, to->len);
    }
    if (rc == ERR_OK) {
        rc = buf_append(out, value + at + width, len - at - width);
    }
    if (rc != ERR_OK) {
        return err_set(err, rc, "", "cannot hold a marked value");
    }
    /* A replacement that makes an earlier variant appear (overlapping declarations) would
     * carry a different bit: keep the original then. */
    size_t at2 = 0;
    size_t width2 = 0;
    int v2 = -1;
    int bit = delivery__mark_get(m, out->data + start, out->len - start, &at2, &width2, &v2);
    if (bit != (int)(to->member & 1) || at2 != at) {
        out->len = start;
        return ERR_OK;
    }
    *changed = 1;
    return ERR_OK;
}

enum err delivery__mark_set(const struct delivery__marked *m, const char *value, size_t len,
                            int bit, int up, struct buf *out, int *changed, struct errbuf *err)
{
    ASSERT(bit == 0 || bit == 1);
    *changed = 0;
    if (m->kind == DELIVERY__MARK_DIGIT) {
        struct decimal d;
        ASSERT(decimal_parse(m, value, len, &d));
        if (decimal_bit(m, &d) == bit) {
            return ERR_OK;
        }
        *changed = 1;
        return digit_set(m, &d, up, out, err);
    }
    size_t at = 0;
    size_t width = 0;
    int variant = -1;
    int now = delivery__mark_get(m, value, len, &at, &width, &variant);
    ASSERT(now >= 0);
    if (now == bit) {
        return ERR_OK;
    }
    return spelling_set(m, value, len, at, width, variant, out, changed, err);
}

/* ---- layout ---- */

static int name_before(const struct delivery_reader *r, int a, int b)
{
    size_t la = r->name_lens[a];
    size_t lb = r->name_lens[b];
    int c = memcmp(r->names[a], r->names[b], la < lb ? la : lb);
    return c < 0 || (c == 0 && la < lb);
}

enum err delivery__layout_resolve(const struct delivery_fp_decl *decl,
                                  const struct delivery_reader *r, struct delivery__layout *out,
                                  struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    for (size_t m = 0; m < decl->marked_count; m++) {
        out->marked_cols[m] =
            delivery_reader_column(r, decl->marked[m].name, decl->marked[m].name_len);
    }
    for (size_t k = 0; k < decl->key_count; k++) {
        int col = delivery_reader_column(r, decl->key[k], decl->key_lens[k]);
        if (col < 0) {
            return err_set(err, ERR_INVALID, "key", "the file lacks key column '%s'", decl->key[k]);
        }
        out->key_cols[out->key_count++] = col;
    }
    if (decl->key_count > 0) {
        return ERR_OK;
    }
    /* No declared key: every unmarked column, in name order so column order does not matter. */
    for (size_t c = 0; c < r->columns; c++) {
        int marked = 0;
        for (size_t m = 0; m < decl->marked_count; m++) {
            marked |= out->marked_cols[m] == (int)c;
        }
        if (marked) {
            continue;
        }
        size_t i = out->key_count++;
        while (i > 0 && name_before(r, (int)c, out->key_cols[i - 1])) {
            out->key_cols[i] = out->key_cols[i - 1];
            i--;
        }
        out->key_cols[i] = (int)c;
    }
    if (out->key_count == 0) {
        return err_set(err, ERR_INVALID, "key", "no unmarked column can identify rows");
    }
    return ERR_OK;
}

/* ---- survey ---- */

enum err delivery_fp_count_admissible(const struct delivery_fp_decl *decl,
                                      enum delivery_format format, const char *data, size_t len,
                                      uint64_t *cells, struct errbuf *err)
{
    *cells = 0;
    struct delivery_reader *r = mem_alloc(sizeof(*r));
    if (r == NULL) {
        return nomem(err);
    }
    enum err rc = delivery_reader_open(r, format, data, len, err);
    if (rc != ERR_OK) {
        mem_free(r);
        return rc;
    }
    struct delivery__layout layout;
    struct buf scratch;
    buf_init(&scratch, (size_t)1 << 31);
    rc = delivery__layout_resolve(decl, r, &layout, err);
    int has_row = 1;
    uint64_t n = 0;
    while (rc == ERR_OK && has_row) {
        rc = delivery_reader_next(r, &has_row, err);
        for (size_t m = 0; rc == ERR_OK && has_row && m < decl->marked_count; m++) {
            int col = layout.marked_cols[m];
            const struct delivery_field *f = col >= 0 ? &r->fields[col] : NULL;
            if (f == NULL || !delivery__field_markable(&decl->marked[m], f)) {
                continue;
            }
            const char *value;
            size_t vlen;
            rc = delivery_field_value(f, &scratch, &value, &vlen, err);
            size_t at;
            size_t width;
            int variant;
            n += rc == ERR_OK &&
                 delivery__mark_get(&decl->marked[m], value, vlen, &at, &width, &variant) >= 0;
        }
    }
    buf_release(&scratch);
    delivery_reader_release(r);
    mem_free(r);
    if (rc == ERR_OK) {
        *cells = n;
    }
    return rc;
}
