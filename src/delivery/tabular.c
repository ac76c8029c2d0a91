/*
 * tabular.c: CSV/TSV (RFC 4180) and JSON Lines, read in place and written back.
 *
 * The reader never copies a field: each one is a span of the caller's buffer with a kind that
 * says how to decode it, and only the few fields a caller reads are decoded. That, a class
 * table for the unquoted-field scan and memchr for quoted ones, is what makes fingerprinting a
 * copy run at millions of rows per second. JSON Lines are scanned by a small validating
 * scanner for flat objects (strings, numbers, literals), since one jansson parse per line
 * would cost more than the whole rest of the work; nested arrays and objects, which the
 * fingerprint never reads, are delimited here and validated by jansson.
 *
 * The whole buffer is checked as UTF-8 text once, up front, eight bytes at a time where it is
 * ASCII, so that the field scanners need not look at encodings.
 */
#include "util/compat.h"
#include "delivery/delivery.h"
#include "delivery/fingerprint_int.h"

#include <string.h>

#include "util/banned.h"

/* A decoded header name or JSON key, at most: far beyond any real column name. */
#define NAME_BYTES_MAX 4096
/* Bytes of one decoded value held in scratch, at most (bounded by the input anyway). */
#define SCRATCH_BYTES_MAX ((size_t)1 << 31)

static const char *const format_names[DELIVERY__FORMAT_COUNT] = {"csv", "tsv", "jsonl"};

const char *delivery_format_name(enum delivery_format format)
{
    ASSERT((unsigned)format < DELIVERY__FORMAT_COUNT);
    return format_names[format];
}

enum err delivery_format_parse(const char *name, enum delivery_format *out, struct errbuf *err)
{
    for (int i = 0; name != NULL && i < DELIVERY__FORMAT_COUNT; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *out = (enum delivery_format)i;
            return ERR_OK;
        }
    }
    return err_set(err, ERR_INVALID, "format", "format must be csv, tsv or jsonl");
}

enum delivery_format delivery_format_sniff(const char *data, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        i = 3;
    }
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) {
        i++;
    }
    if (i < len && data[i] == '{') {
        return DELIVERY_FORMAT_JSONL;
    }
    size_t tabs = 0;
    size_t commas = 0;
    int quoted = 0;
    for (; i < len && (quoted || data[i] != '\n'); i++) {
        quoted ^= data[i] == '"';
        tabs += !quoted && data[i] == '\t';
        commas += !quoted && data[i] == ',';
    }
    return tabs > commas ? DELIVERY_FORMAT_TSV : DELIVERY_FORMAT_CSV;
}

/* ---- text validation ---- */

#define ONES ((uint64_t)0x0101010101010101)
#define HIGHS ((uint64_t)0x8080808080808080)

/* 1 if any byte of w is below 0x20, is 0x7f or has its high bit set. */
static int word_needs_look(uint64_t w)
{
    uint64_t below_space = (w - ONES * 0x20) & ~w;
    uint64_t x = w ^ (ONES * 0x7f);
    uint64_t del = (x - ONES) & ~x;
    return ((below_space | del | w) & HIGHS) != 0;
}

/* Length of the valid character at p (1..4), or 0 if it is not valid text. */
static size_t char_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        int control = c < 0x20 && c != '\t' && c != '\n' && c != '\r';
        return control || c == 0x7f ? 0 : 1;
    }
    size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || n > avail) {
        return 0;
    }
    uint32_t cp = c & (0x7f >> n);
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return n;
}

/* Offset of the first byte that is not valid text, or len. */
static size_t text_bad_offset(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!word_needs_look(w)) {
                i += 8;
                continue;
            }
        }
        size_t n = char_len(p + i, len - i);
        if (n == 0) {
            return i;
        }
        i += n;
    }
    return len;
}

static size_t line_of(const char *data, size_t offset)
{
    size_t line = 1;
    const char *p = data;
    const char *end = data + offset;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        line++;
        p++;
    }
    return line;
}

static enum err bad_row(struct delivery_reader *r, size_t line, const char *what,
                        struct errbuf *err)
{
    r->pos = r->len; /* spent */
    return err_set(err, ERR_INVALID, "data", "line %zu: %s", line, what);
}

/* ---- CSV/TSV ---- */

/* Bytes that end an unquoted field: the separator, CR, LF, and '"' (refused there). */
static const uint8_t stop_comma[256] = {['\n'] = 1, ['\r'] = 1, ['"'] = 1, [','] = 1};
static const uint8_t stop_tab[256] = {['\n'] = 1, ['\r'] = 1, ['"'] = 1, ['\t'] = 1};

static size_t count_newlines(const char *p, size_t len)
{
    size_t n = 0;
    const char *end = p + len;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* Scans a quoted field at p (on its opening quote); returns the byte after the closing quote. */
static const char *csv_quoted(struct delivery_reader *r, const char *p, const char *end,
                              struct delivery_field *f, struct errbuf *err)
{
    const char *q = p + 1;
    f->kind = DELIVERY_FIELD_QUOTED;
    for (;;) {
        q = memchr(q, '"', (size_t)(end - q));
        if (q == NULL) {
            bad_row(r, r->line, "unterminated quoted field", err);
            return NULL;
        }
        if (q + 1 < end && q[1] == '"') {
            f->kind = DELIVERY_FIELD_QUOTED_ESCAPED;
            q += 2;
            continue;
        }
        break;
    }
    f->raw = p;
    f->raw_len = (size_t)(q + 1 - p);
    r->next_line += count_newlines(p, f->raw_len);
    return q + 1;
}

/*
 * Parses one record at r->pos into fields[0..max) and sets *count to its field count (fields
 * past max are scanned and counted, not stored). Advances pos past the line end.
 */
static enum err csv_record(struct delivery_reader *r, struct delivery_field *fields, size_t max,
                           size_t *count, struct errbuf *err)
{
    const char sep = r->format == DELIVERY_FORMAT_TSV ? '\t' : ',';
    const uint8_t *stop = r->format == DELIVERY_FORMAT_TSV ? stop_tab : stop_comma;
    const char *p = r->data + r->pos;
    const char *end = r->data + r->len;
    size_t n = 0;
    for (;;) {
        struct delivery_field scanned;
        struct delivery_field *f = n < max ? &fields[n] : &scanned;
        if (p < end && *p == '"') {
            p = csv_quoted(r, p, end, f, err);
            if (p == NULL) {
                return ERR_INVALID;
            }
        } else {
            const char *q = p;
            while (q < end && !stop[(unsigned char)*q]) {
                q++;
            }
            if (q < end && *q == '"') {
                return bad_row(r, r->line, "quote inside an unquoted field", err);
            }
            f->raw = p;
            f->raw_len = (size_t)(q - p);
            f->kind = DELIVERY_FIELD_PLAIN;
            p = q;
        }
        n++;
        if (p == end) {
            break;
        }
        if (*p == sep) {
            p++;
            continue;
        }
        if (*p == '\n') {
            p++;
            r->next_line++;
            break;
        }
        if (*p == '\r' && p + 1 < end && p[1] == '\n') {
            p += 2;
            r->next_line++;
            break;
        }
        return bad_row(r, r->line,
                       *p == '\r' ? "bare carriage return" : "bytes after a closing quote", err);
    }
    r->pos = (size_t)(p - r->data);
    *count = n;
    return ERR_OK;
}

/* Skips empty lines at pos (not in a one-column file, where they are records). */
static void skip_blank_lines(struct delivery_reader *r, int one_column)
{
    while (r->pos < r->len && !one_column) {
        const char *p = r->data + r->pos;
        size_t n = *p == '\n' ? 1 : (*p == '\r' && r->pos + 1 < r->len && p[1] == '\n') ? 2 : 0;
        if (n == 0) {
            return;
        }
        r->pos += n;
        r->next_line++;
    }
}

static enum err csv_next(struct delivery_reader *r, int *has_row, struct errbuf *err)
{
    skip_blank_lines(r, r->columns == 1);
    *has_row = 0;
    if (r->pos >= r->len) {
        return ERR_OK;
    }
    size_t start = r->pos;
    r->line = r->next_line;
    size_t count = 0;
    enum err rc = csv_record(r, r->fields, r->columns, &count, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (count != r->columns) {
        char what[96];
        snprintf(what, sizeof(what), "has %zu fields, the header has %zu", count, r->columns);
        return bad_row(r, r->line, what, err);
    }
    r->row = r->data + start;
    r->row_len = r->pos - start;
    *has_row = 1;
    return ERR_OK;
}

/* ---- decoding ---- */

static enum err append(struct buf *out, const char *s, size_t len, struct errbuf *err)
{
    enum err rc = buf_append(out, s, len);
    if (rc != ERR_OK) {
        return err_set(err, rc, "", rc == ERR_LIMIT ? "value too long" : "out of memory");
    }
    return ERR_OK;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int hex4(const char *p, const char *end)
{
    if (end - p < 4) {
        return -1;
    }
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(p[i]);
        if (h < 0) {
            return -1;
        }
        v = v * 16 + h;
    }
    return v;
}

/* 1 if the code point may appear in decoded text (the rule the whole file obeys). */
static int text_code_point(long cp)
{
    return (cp >= 0x20 || cp == '\t' || cp == '\n' || cp == '\r') && cp != 0x7f;
}

/* Reads one \uXXXX escape (p on the 'u') or a surrogate pair; returns the code point and sets
 * *next, or -1 if malformed, unpaired, or a control that decoded text may not hold. */
static long json_unicode_escape(const char *p, const char *end, const char **next)
{
    int hi = hex4(p + 1, end);
    if (hi < 0 || !text_code_point(hi) || (hi >= 0xdc00 && hi <= 0xdfff)) {
        return -1;
    }
    if (hi < 0xd800 || hi > 0xdbff) {
        *next = p + 5;
        return hi;
    }
    if (end - (p + 5) < 6 || p[5] != '\\' || p[6] != 'u') {
        return -1;
    }
    int lo = hex4(p + 7, end);
    if (lo < 0xdc00 || lo > 0xdfff) {
        return -1;
    }
    *next = p + 11;
    return 0x10000 + (((long)hi - 0xd800) << 10) + (lo - 0xdc00);
}

static enum err put_utf8(struct buf *out, long cp, struct errbuf *err)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return append(out, b, n, err);
}

/* Decodes the inside of a JSON string already validated by json_string_end. */
static enum err json_unescape(const char *p, const char *end, struct buf *out, struct errbuf *err)
{
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        const char *stop = bs != NULL ? bs : end;
        enum err rc = append(out, p, (size_t)(stop - p), err);
        if (rc != ERR_OK || bs == NULL) {
            return rc;
        }
        static const char from[] = "\"\\/nrt";
        static const char to[] = "\"\\/\n\r\t";
        const char *hit = memchr(from, bs[1], sizeof(from) - 1);
        if (hit != NULL) {
            rc = append(out, &to[hit - from], 1, err);
            if (rc != ERR_OK) {
                return rc;
            }
            p = bs + 2;
            continue;
        }
        long cp = json_unicode_escape(bs + 1, end, &p);
        ASSERT(cp > 0); /* validated when the row was read */
        rc = put_utf8(out, cp, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return ERR_OK;
}

static enum err csv_unescape(const char *p, const char *end, struct buf *out, struct errbuf *err)
{
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        const char *stop = q != NULL ? q + 1 : end; /* keep one quote of each pair */
        enum err rc = append(out, p, (size_t)(stop - p), err);
        if (rc != ERR_OK) {
            return rc;
        }
        p = q != NULL ? q + 2 : end;
    }
    return ERR_OK;
}

enum err delivery_field_value(const struct delivery_field *f, struct buf *scratch,
                              const char **value, size_t *len, struct errbuf *err)
{
    switch (f->kind) {
    case DELIVERY_FIELD_PLAIN:
    case DELIVERY_FIELD_JSON_LITERAL:
    case DELIVERY_FIELD_JSON_NESTED:
        *value = f->raw;
        *len = f->raw_len;
        return ERR_OK;
    case DELIVERY_FIELD_QUOTED:
    case DELIVERY_FIELD_JSON_STRING:
        ASSERT(f->raw_len >= 2);
        *value = f->raw + 1;
        *len = f->raw_len - 2;
        return ERR_OK;
    case DELIVERY_FIELD_ABSENT:
    case DELIVERY_FIELD_JSON_NULL:
        *value = "";
        *len = 0;
        return ERR_OK;
    case DELIVERY_FIELD_QUOTED_ESCAPED:
    case DELIVERY_FIELD_JSON_ESCAPED:
        break;
    }
    ASSERT(f->raw_len >= 2);
    buf_reset(scratch);
    const char *inner = f->raw + 1;
    const char *end = f->raw + f->raw_len - 1;
    enum err rc = f->kind == DELIVERY_FIELD_QUOTED_ESCAPED
                      ? csv_unescape(inner, end, scratch, err)
                      : json_unescape(inner, end, scratch, err);
    if (rc != ERR_OK) {
        return rc;
    }
    /* An empty buffer has no data yet; the value is then empty. */
    *value = scratch->data != NULL ? scratch->data : "";
    *len = scratch->len;
    return ERR_OK;
}

enum err delivery_field_value_append(const struct delivery_field *f, struct buf *out,
                                     struct errbuf *err)
{
    if (f->kind == DELIVERY_FIELD_QUOTED_ESCAPED) {
        return csv_unescape(f->raw + 1, f->raw + f->raw_len - 1, out, err);
    }
    if (f->kind == DELIVERY_FIELD_JSON_ESCAPED) {
        return json_unescape(f->raw + 1, f->raw + f->raw_len - 1, out, err);
    }
    const char *value;
    size_t len;
    enum err rc = delivery_field_value(f, NULL, &value, &len, err);
    return rc == ERR_OK ? append(out, value, len, err) : rc;
}

/* ---- JSON Lines ---- */

static const char *json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) {
        p++;
    }
    return p;
}

/* p on an opening quote: returns the byte after the closing quote, or NULL if malformed.
 * *escaped says whether the string holds escapes. */
static const char *json_string_end(const char *p, const char *end, int *escaped)
{
    *escaped = 0;
    const char *q = p + 1;
    while (q < end) {
        unsigned char c = (unsigned char)*q;
        if (c == '"') {
            return q + 1;
        }
        if (c < 0x20) {
            return NULL;
        }
        if (c != '\\') {
            q++;
            continue;
        }
        *escaped = 1;
        if (q + 1 >= end) {
            return NULL;
        }
        if (q[1] == 'u') {
            if (json_unicode_escape(q + 1, end, &q) < 0) {
                return NULL;
            }
            continue;
        }
        /* \b and \f decode to controls that decoded text may not hold. */
        if (memchr("\"\\/nrt", q[1], 6) == NULL) {
            return NULL;
        }
        q += 2;
    }
    return NULL;
}

static const char *digits_end(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9') {
        p++;
    }
    return p;
}

/* The end of a JSON number at p, or NULL. */
static const char *json_number_end(const char *p, const char *end)
{
    if (p < end && *p == '-') {
        p++;
    }
    if (p == end || *p < '0' || *p > '9') {
        return NULL;
    }
    p = *p == '0' ? p + 1 : digits_end(p, end);
    if (p < end && *p == '.') {
        const char *d = digits_end(p + 1, end);
        if (d == p + 1) {
            return NULL;
        }
        p = d;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        const char *d = digits_end(p, end);
        if (d == p) {
            return NULL;
        }
        p = d;
    }
    return p;
}

int delivery__json_number(const char *s, size_t len)
{
    return len > 0 && json_number_end(s, s + len) == s + len;
}

/* An array or object at p: delimits it (bounded depth, no recursion), then lets jansson
 * validate it. Returns its end or NULL. */
static const char *json_nested_end(const char *p, const char *end)
{
    char closers[DELIVERY_JSON_DEPTH_MAX];
    size_t depth = 0;
    const char *q = p;
    while (q < end) {
        char c = *q;
        if (c == '"') {
            int escaped;
            q = json_string_end(q, end, &escaped);
            if (q == NULL) {
                return NULL;
            }
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth == DELIVERY_JSON_DEPTH_MAX) {
                return NULL;
            }
            closers[depth++] = c == '{' ? '}' : ']';
        } else if (c == '}' || c == ']') {
            if (closers[depth - 1] != c) {
                return NULL;
            }
            if (--depth == 0) {
                q++;
                break;
            }
        }
        q++;
    }
    if (depth != 0) {
        return NULL;
    }
    json_t *v = json_loadb(p, (size_t)(q - p), JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (v == NULL) {
        return NULL;
    }
    json_decref(v);
    return q;
}

/* One JSON value at p: sets its kind and returns its end, or NULL if malformed. */
static const char *json_value_end(const char *p, const char *end, enum delivery_field_kind *kind)
{
    if (p == end) {
        return NULL;
    }
    switch (*p) {
    case '"': {
        int escaped;
        const char *q = json_string_end(p, end, &escaped);
        *kind = escaped ? DELIVERY_FIELD_JSON_ESCAPED : DELIVERY_FIELD_JSON_STRING;
        return q;
    }
    case '{':
    case '[':
        *kind = DELIVERY_FIELD_JSON_NESTED;
        return json_nested_end(p, end);
    case 't':
        *kind = DELIVERY_FIELD_JSON_LITERAL;
        return end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
        *kind = DELIVERY_FIELD_JSON_LITERAL;
        return end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n':
        *kind = DELIVERY_FIELD_JSON_NULL;
        return end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default:
        *kind = DELIVERY_FIELD_JSON_LITERAL;
        return json_number_end(p, end);
    }
}

/* The decoded name of a key (raw includes the quotes); decoded ones go to r->scratch. */
static enum err key_name(struct delivery_reader *r, const char *raw, size_t raw_len, int escaped,
                         const char **name, size_t *len, struct errbuf *err)
{
    struct delivery_field f = {raw, raw_len,
                               escaped ? DELIVERY_FIELD_JSON_ESCAPED : DELIVERY_FIELD_JSON_STRING};
    return delivery_field_value(&f, &r->scratch, name, len, err);
}

static enum err add_column(struct delivery_reader *r, const char *name, size_t len,
                           struct errbuf *err)
{
    if (r->columns == DELIVERY_COLUMNS_MAX) {
        return err_set(err, ERR_INVALID, "data", "line %zu: more than %d columns", r->line,
                       DELIVERY_COLUMNS_MAX);
    }
    if (len > NAME_BYTES_MAX) {
        return err_set(err, ERR_INVALID, "data", "line %zu: a column name exceeds %d bytes",
                       r->line, NAME_BYTES_MAX);
    }
    if (delivery_reader_column(r, name, len) >= 0) {
        return err_set(err, ERR_INVALID, "data", "line %zu: column '%.*s' appears twice", r->line,
                       (int)(len < 64 ? len : 64), name);
    }
    char *copy = mem_strndup(name, len);
    if (copy == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    r->names[r->columns] = copy;
    r->name_lens[r->columns] = len;
    r->columns++;
    return ERR_OK;
}

/* Which column a key names: the k-th column first (rows usually keep the header's order). */
static int key_column(const struct delivery_reader *r, size_t k, const char *name, size_t len)
{
    if (k < r->columns && r->name_lens[k] == len && memcmp(r->names[k], name, len) == 0) {
        return (int)k;
    }
    return delivery_reader_column(r, name, len);
}

/* Stores one member of the current object: in header mode it defines a column. */
static enum err json_member(struct delivery_reader *r, int header, size_t k, const char *key,
                            size_t key_len, int escaped, const struct delivery_field *value,
                            struct errbuf *err)
{
    const char *name;
    size_t len;
    enum err rc = key_name(r, key, key_len, escaped, &name, &len, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (header) {
        return add_column(r, name, len, err);
    }
    int col = key_column(r, k, name, len);
    if (col < 0) {
        return ERR_OK; /* a key the first row lacks: carried along, never read */
    }
    if (r->seen[col] == r->row_serial) {
        return bad_row(r, r->line, "a key appears twice", err);
    }
    r->seen[col] = r->row_serial;
    r->fields[col] = *value;
    return ERR_OK;
}

/* Parses the object on one line [p, end) (end before the LF). */
static enum err json_row(struct delivery_reader *r, const char *p, const char *end, int header,
                         struct errbuf *err)
{
    r->row_serial++;
    for (size_t c = 0; c < r->columns; c++) {
        r->fields[c] = (struct delivery_field){NULL, 0, DELIVERY_FIELD_ABSENT};
    }
    p = json_ws(p, end);
    if (p == end || *p != '{') {
        return bad_row(r, r->line, "the line is not a JSON object", err);
    }
    p = json_ws(p + 1, end);
    for (size_t k = 0; p < end && *p != '}'; k++) {
        int escaped = 0;
        const char *key_end = *p == '"' ? json_string_end(p, end, &escaped) : NULL;
        if (key_end == NULL) {
            return bad_row(r, r->line, "malformed key", err);
        }
        const char *colon = json_ws(key_end, end);
        if (colon == end || *colon != ':') {
            return bad_row(r, r->line, "expected ':' after a key", err);
        }
        struct delivery_field value;
        value.raw = json_ws(colon + 1, end);
        const char *value_end = json_value_end(value.raw, end, &value.kind);
        if (value_end == NULL) {
            return bad_row(r, r->line, "malformed value", err);
        }
        value.raw_len = (size_t)(value_end - value.raw);
        enum err rc = json_member(r, header, k, p, (size_t)(key_end - p), escaped, &value, err);
        if (rc != ERR_OK) {
            r->pos = r->len;
            return rc;
        }
        p = json_ws(value_end, end);
        if (p < end && *p == ',') {
            p = json_ws(p + 1, end);
            if (p < end && *p == '}') {
                return bad_row(r, r->line, "a comma before '}'", err);
            }
        } else if (p == end || *p != '}') {
            return bad_row(r, r->line, "expected ',' or '}'", err);
        }
    }
    if (p == end) {
        return bad_row(r, r->line, "unterminated object", err);
    }
    if (json_ws(p + 1, end) != end) {
        return bad_row(r, r->line, "bytes after the object", err);
    }
    return ERR_OK;
}

/* Finds the next non-blank line at pos: [*start, *stop) without its LF; 0 at the end. */
static int json_next_line(struct delivery_reader *r, const char **start, const char **stop)
{
    for (;;) {
        if (r->pos >= r->len) {
            return 0;
        }
        const char *p = r->data + r->pos;
        const char *end = r->data + r->len;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl != NULL ? nl : end;
        r->line = r->next_line;
        r->pos = nl != NULL ? (size_t)(nl + 1 - r->data) : r->len;
        r->next_line += nl != NULL;
        if (json_ws(p, line_end) != line_end) {
            *start = p;
            *stop = line_end;
            return 1;
        }
    }
}

static enum err jsonl_next(struct delivery_reader *r, int *has_row, struct errbuf *err)
{
    const char *start;
    const char *stop;
    *has_row = json_next_line(r, &start, &stop);
    if (!*has_row) {
        return ERR_OK;
    }
    enum err rc = json_row(r, start, stop, 0, err);
    if (rc != ERR_OK) {
        return rc;
    }
    r->row = start;
    r->row_len = (size_t)(r->data + r->pos - start);
    return ERR_OK;
}

/* ---- the reader ---- */

static enum err header_csv(struct delivery_reader *r, struct errbuf *err)
{
    struct delivery_field *names = mem_calloc(DELIVERY_COLUMNS_MAX, sizeof(*names));
    if (names == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    size_t count = 0;
    r->line = r->next_line;
    enum err rc = csv_record(r, names, DELIVERY_COLUMNS_MAX, &count, err);
    if (rc == ERR_OK && count > DELIVERY_COLUMNS_MAX) {
        rc = err_set(err, ERR_INVALID, "data", "line %zu: more than %d columns", r->line,
                     DELIVERY_COLUMNS_MAX);
    }
    for (size_t i = 0; rc == ERR_OK && i < count; i++) {
        const char *name;
        size_t len;
        rc = delivery_field_value(&names[i], &r->scratch, &name, &len, err);
        if (rc == ERR_OK) {
            rc = add_column(r, name, len, err);
        }
    }
    mem_free(names);
    return rc;
}

static enum err header_jsonl(struct delivery_reader *r, struct errbuf *err)
{
    size_t first = r->pos;
    size_t first_line = r->next_line;
    const char *start;
    const char *stop;
    if (!json_next_line(r, &start, &stop)) {
        return err_set(err, ERR_INVALID, "data", "the file has no rows");
    }
    enum err rc = json_row(r, start, stop, 1, err);
    if (rc == ERR_OK && r->columns == 0) {
        rc = err_set(err, ERR_INVALID, "data", "line %zu: the first object has no keys", r->line);
    }
    /* The first object is also the first row: read it again from next. */
    r->pos = first;
    r->next_line = first_line;
    return rc;
}

enum err delivery_reader_open(struct delivery_reader *r, enum delivery_format format,
                              const char *data, size_t len, struct errbuf *err)
{
    ASSERT((unsigned)format < DELIVERY__FORMAT_COUNT);
    ASSERT(data != NULL || len == 0);
    memset(r, 0, sizeof(*r));
    r->format = format;
    r->data = data;
    r->len = len;
    r->next_line = 1;
    buf_init(&r->scratch, SCRATCH_BYTES_MAX);
    size_t bad = text_bad_offset(data, len);
    if (bad < len) {
        return err_set(err, ERR_INVALID, "data", "line %zu: not valid UTF-8 text",
                       line_of(data, bad));
    }
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        r->pos = 3;
    }
    enum err rc;
    if (format == DELIVERY_FORMAT_JSONL) {
        rc = header_jsonl(r, err);
    } else if (r->pos == len) {
        rc = err_set(err, ERR_INVALID, "data", "the file has no header row");
    } else {
        rc = header_csv(r, err);
    }
    if (rc != ERR_OK) {
        delivery_reader_release(r);
        return rc;
    }
    r->body_offset = r->pos;
    return ERR_OK;
}

void delivery_reader_release(struct delivery_reader *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->columns; i++) {
        mem_free(r->names[i]);
        r->names[i] = NULL;
    }
    r->columns = 0;
    buf_release(&r->scratch);
}

enum err delivery_reader_next(struct delivery_reader *r, int *has_row, struct errbuf *err)
{
    if (r->format == DELIVERY_FORMAT_JSONL) {
        return jsonl_next(r, has_row, err);
    }
    return csv_next(r, has_row, err);
}

int delivery_reader_column(const struct delivery_reader *r, const char *name, size_t len)
{
    for (size_t i = 0; i < r->columns; i++) {
        if (r->name_lens[i] == len && memcmp(r->names[i], name, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* ---- output ---- */

enum err delivery__out_init(struct delivery__out *o, delivery_write_fn *write_cb, void *ctx,
                            struct errbuf *err)
{
    o->write_cb = write_cb;
    o->ctx = ctx;
    o->used = 0;
    o->buf = mem_alloc(DELIVERY__OUT_BYTES);
    return o->buf == NULL ? err_set(err, ERR_NOMEM, "", "out of memory") : ERR_OK;
}

void delivery__out_release(struct delivery__out *o)
{
    mem_free(o->buf);
    o->buf = NULL;
}

enum err delivery__out_flush(struct delivery__out *o, struct errbuf *err)
{
    if (o->used == 0) {
        return ERR_OK;
    }
    size_t n = o->used;
    o->used = 0;
    return o->write_cb(o->ctx, o->buf, n, err);
}

enum err delivery__out_put(struct delivery__out *o, const char *data, size_t len,
                           struct errbuf *err)
{
    if (len == 0) {
        return ERR_OK; /* data may be NULL then (an empty buffer) */
    }
    if (len <= DELIVERY__OUT_BYTES - o->used) {
        memcpy(o->buf + o->used, data, len);
        o->used += len;
        return ERR_OK;
    }
    enum err rc = delivery__out_flush(o, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (len >= DELIVERY__OUT_BYTES / 2) {
        return o->write_cb(o->ctx, data, len, err);
    }
    memcpy(o->buf, data, len);
    o->used = len;
    return ERR_OK;
}

/* ---- encoders ---- */

enum err delivery__csv_field_encode(struct buf *out, char sep, const char *value, size_t len,
                                    int force_quote, struct errbuf *err)
{
    int quote = force_quote;
    for (size_t i = 0; i < len && !quote; i++) {
        char c = value[i];
        quote = c == sep || c == '"' || c == '\r' || c == '\n';
    }
    if (!quote) {
        return append(out, value, len, err);
    }
    enum err rc = append(out, "\"", 1, err);
    const char *p = value;
    const char *end = value + len;
    while (rc == ERR_OK && p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        const char *stop = q != NULL ? q + 1 : end;
        rc = append(out, p, (size_t)(stop - p), err);
        if (rc == ERR_OK && q != NULL) {
            rc = append(out, "\"", 1, err);
        }
        p = stop;
    }
    return rc == ERR_OK ? append(out, "\"", 1, err) : rc;
}

enum err delivery__json_string_encode(struct buf *out, const char *value, size_t len,
                                      struct errbuf *err)
{
    enum err rc = append(out, "\"", 1, err);
    size_t run = 0;
    for (size_t i = 0; rc == ERR_OK && i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)value[i] : 0;
        if (i < len && c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        rc = append(out, value + run, i - run, err);
        run = i + 1;
        if (rc != ERR_OK || i == len) {
            break;
        }
        char esc[8];
        const char *short_esc = c == '"'    ? "\\\""
                                : c == '\\' ? "\\\\"
                                : c == '\n' ? "\\n"
                                : c == '\r' ? "\\r"
                                : c == '\t' ? "\\t"
                                            : NULL;
        if (short_esc == NULL) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            short_esc = esc;
        }
        rc = append(out, short_esc, strlen(short_esc), err);
    }
    return rc == ERR_OK ? append(out, "\"", 1, err) : rc;
}

/* ---- conversion ---- */

struct converter {
    struct delivery_reader reader;
    enum delivery_format to;
    struct buf line;
    struct buf keys[DELIVERY_COLUMNS_MAX]; /* JSON Lines: each column's key, encoded, with ':' */
};

static enum err convert_header(struct converter *c, struct errbuf *err)
{
    const struct delivery_reader *r = &c->reader;
    enum err rc = ERR_OK;
    char sep = c->to == DELIVERY_FORMAT_TSV ? '\t' : ',';
    for (size_t i = 0; rc == ERR_OK && i < r->columns; i++) {
        if (c->to == DELIVERY_FORMAT_JSONL) {
            rc = delivery__json_string_encode(&c->keys[i], r->names[i], r->name_lens[i], err);
            if (rc == ERR_OK) {
                rc = append(&c->keys[i], ":", 1, err);
            }
            continue;
        }
        if (i > 0) {
            rc = append(&c->line, &sep, 1, err);
        }
        /* A first name that opens with U+FEFF would read back as a byte order mark. */
        int bom = i == 0 && r->name_lens[0] >= 3 && memcmp(r->names[0], "\xef\xbb\xbf", 3) == 0;
        if (rc == ERR_OK) {
            rc = delivery__csv_field_encode(&c->line, sep, r->names[i], r->name_lens[i], bom, err);
        }
    }
    if (rc == ERR_OK && c->to != DELIVERY_FORMAT_JSONL) {
        rc = append(&c->line, "\r\n", 2, err);
    }
    return rc;
}

static enum err convert_field_jsonl(struct converter *c, size_t col, const char *value, size_t len,
                                    int *first, struct errbuf *err)
{
    const struct delivery_field *f = &c->reader.fields[col];
    if (f->kind == DELIVERY_FIELD_ABSENT) {
        return ERR_OK;
    }
    enum err rc = append(&c->line, *first ? "{" : ",", 1, err);
    *first = 0;
    if (rc == ERR_OK) {
        rc = append(&c->line, c->keys[col].data, c->keys[col].len, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    int bare = f->kind == DELIVERY_FIELD_JSON_LITERAL || f->kind == DELIVERY_FIELD_JSON_NESTED ||
               (f->kind == DELIVERY_FIELD_PLAIN && delivery__json_number(value, len));
    if (f->kind == DELIVERY_FIELD_JSON_NULL) {
        return append(&c->line, "null", 4, err);
    }
    return bare ? append(&c->line, value, len, err)
                : delivery__json_string_encode(&c->line, value, len, err);
}

static enum err convert_row(struct converter *c, struct buf *scratch, struct errbuf *err)
{
    const struct delivery_reader *r = &c->reader;
    char sep = c->to == DELIVERY_FORMAT_TSV ? '\t' : ',';
    int first = 1;
    enum err rc = ERR_OK;
    for (size_t i = 0; rc == ERR_OK && i < r->columns; i++) {
        const char *value;
        size_t len;
        rc = delivery_field_value(&r->fields[i], scratch, &value, &len, err);
        if (rc != ERR_OK) {
            break;
        }
        if (c->to == DELIVERY_FORMAT_JSONL) {
            rc = convert_field_jsonl(c, i, value, len, &first, err);
            continue;
        }
        if (i > 0) {
            rc = append(&c->line, &sep, 1, err);
        }
        if (rc == ERR_OK) {
            rc = delivery__csv_field_encode(&c->line, sep, value, len, 0, err);
        }
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (c->to == DELIVERY_FORMAT_JSONL) {
        return append(&c->line, first ? "{}\n" : "}\n", first ? 3 : 2, err);
    }
    /* A one-column row whose value is empty would read back as a blank line: quote it. */
    if (r->columns == 1 && c->line.len == 0) {
        rc = append(&c->line, "\"\"", 2, err);
    }
    return rc == ERR_OK ? append(&c->line, "\r\n", 2, err) : rc;
}

static enum err convert_rows(struct converter *c, struct delivery__out *out, struct errbuf *err)
{
    struct buf scratch;
    buf_init(&scratch, SCRATCH_BYTES_MAX);
    enum err rc = convert_header(c, err);
    if (rc == ERR_OK) {
        rc = delivery__out_put(out, c->line.data, c->line.len, err);
    }
    int has_row = 1;
    while (rc == ERR_OK) {
        rc = delivery_reader_next(&c->reader, &has_row, err);
        if (rc != ERR_OK || !has_row) {
            break;
        }
        buf_reset(&c->line);
        rc = convert_row(c, &scratch, err);
        if (rc == ERR_OK) {
            rc = delivery__out_put(out, c->line.data, c->line.len, err);
        }
    }
    buf_release(&scratch);
    return rc == ERR_OK ? delivery__out_flush(out, err) : rc;
}

enum err delivery_tabular_convert(enum delivery_format from, const char *data, size_t len,
                                  enum delivery_format to, delivery_write_fn *write_cb, void *ctx,
                                  struct errbuf *err)
{
    ASSERT((unsigned)to < DELIVERY__FORMAT_COUNT);
    ASSERT(write_cb != NULL);
    struct converter *c = mem_calloc(1, sizeof(*c));
    if (c == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    c->to = to;
    buf_init(&c->line, SCRATCH_BYTES_MAX);
    for (size_t i = 0; i < DELIVERY_COLUMNS_MAX; i++) {
        buf_init(&c->keys[i], NAME_BYTES_MAX * 8);
    }
    struct delivery__out out = {0};
    enum err rc = delivery_reader_open(&c->reader, from, data, len, err);
    if (rc == ERR_OK) {
        rc = delivery__out_init(&out, write_cb, ctx, err);
        if (rc == ERR_OK) {
            rc = convert_rows(c, &out, err);
        }
        delivery_reader_release(&c->reader);
    }
    delivery__out_release(&out);
    buf_release(&c->line);
    for (size_t i = 0; i < DELIVERY_COLUMNS_MAX; i++) {
        buf_release(&c->keys[i]);
    }
    mem_free(c);
    return rc;
}
