/*
 * sniff.c: the format of an uploaded file, decided in one pass over a stream of any size
 * (delivery.h says what each format needs). Three recognisers run side by side over the same
 * bytes and each gives up at its first violation: a UTF-8 validator, an RFC 4180 record parser
 * for each of ',' and tab, and a JSON Lines checker that parses each line with jansson (run
 * only when the file starts with '{', so a CSV file never pays for it). Memory is bounded by
 * one JSON line (DELIVERY_JSONL_LINE_MAX).
 */
#include "util/compat.h"
#include "delivery/delivery.h"
#include "delivery/delivery_int.h"

#include <string.h>

#include "util/banned.h"

/* One RFC 4180 parser with a given delimiter. */
struct csv_state {
    char delim;
    int valid;
    int in_quotes;
    int after_quote; /* a closing quote was just seen (or the first of a doubled one) */
    int saw_cr;      /* a CR outside quotes, which must be followed by LF */
    int field_bytes; /* bytes in the current field (0: at its start) */
    int64_t fields;  /* fields of the current record so far (delimiters seen) */
    int64_t header;  /* fields of the header, 0 until it ends */
    int64_t rows;
};

struct delivery_sniff {
    /* UTF-8 */
    int utf8_valid;
    int need; /* continuation bytes still expected */
    unsigned char lo, hi;
    int64_t bytes;
    struct csv_state csv[2];
    /* JSON Lines */
    int jsonl_valid;
    int64_t jsonl_rows;
    struct buf line;
};

struct delivery_sniff *delivery_sniff_new(void)
{
    struct delivery_sniff *s = mem_calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->utf8_valid = 1;
    s->jsonl_valid = 1;
    for (int i = 0; i < 2; i++) {
        s->csv[i].delim = i == 0 ? ',' : '\t';
        s->csv[i].valid = 1;
    }
    buf_init(&s->line, DELIVERY_JSONL_LINE_MAX);
    return s;
}

/* The UTF-8 rules of util's text_valid_utf8 (no NUL, no C0 control but tab, CR and LF), as a
 * state machine that may stop anywhere. */
static void utf8_byte(struct delivery_sniff *s, unsigned char c)
{
    if (s->need > 0) {
        if (c < s->lo || c > s->hi) {
            s->utf8_valid = 0;
        }
        s->lo = 0x80;
        s->hi = 0xbf;
        s->need--;
        return;
    }
    s->lo = 0x80;
    s->hi = 0xbf;
    if (c < 0x80) {
        s->utf8_valid &= c >= 0x20 || c == '\t' || c == '\n' || c == '\r';
        s->utf8_valid &= c != 0x7f;
    } else if (c >= 0xc2 && c <= 0xdf) {
        s->need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        s->need = 2;
        s->lo = c == 0xe0 ? 0xa0 : 0x80;
        s->hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        s->need = 3;
        s->lo = c == 0xf0 ? 0x90 : 0x80;
        s->hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        s->utf8_valid = 0;
    }
}

/* Ends a record: the header sets the field count, and every later record must match it. */
static void csv_record_end(struct csv_state *c)
{
    int64_t fields = c->fields + 1;
    if (c->header == 0) {
        c->header = fields;
        c->valid &= fields >= 2;
    } else {
        c->valid &= fields == c->header;
        c->rows++;
    }
    c->fields = 0;
    c->field_bytes = 0;
}

static void csv_byte(struct csv_state *c, unsigned char ch)
{
    if (c->saw_cr) {
        c->saw_cr = 0;
        if (ch != '\n') {
            c->valid = 0;
            return;
        }
        csv_record_end(c);
        return;
    }
    if (c->in_quotes) {
        if (ch == '"') {
            c->in_quotes = 0;
            c->after_quote = 1;
        }
        return;
    }
    if (c->after_quote) {
        c->after_quote = 0;
        if (ch == '"') { /* a doubled quote inside a quoted field */
            c->in_quotes = 1;
            return;
        }
        if (ch != (unsigned char)c->delim && ch != '\n' && ch != '\r') {
            c->valid = 0; /* text after a closing quote */
            return;
        }
    }
    if (ch == '"') {
        c->valid &= c->field_bytes == 0; /* a quote opens a field or is an error */
        c->in_quotes = 1;
        c->field_bytes = 1;
    } else if (ch == (unsigned char)c->delim) {
        c->fields++;
        c->field_bytes = 0;
    } else if (ch == '\r') {
        c->saw_cr = 1;
    } else if (ch == '\n') {
        csv_record_end(c);
    } else {
        c->field_bytes = 1;
    }
}

static void jsonl_line(struct delivery_sniff *s)
{
    const char *p = s->line.data;
    size_t n = s->line.len;
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t')) {
        i++;
    }
    if (i < n) {
        json_error_t e;
        json_t *v = json_loadb(p + i, n - i, JSON_REJECT_DUPLICATES, &e);
        s->jsonl_valid &= json_is_object(v);
        json_decref(v);
        s->jsonl_rows++;
    }
    buf_reset(&s->line);
}

static void jsonl_feed(struct delivery_sniff *s, const unsigned char *data, size_t len)
{
    if (s->bytes == 0 && len > 0 && data[0] != '{') {
        s->jsonl_valid = 0;
    }
    size_t start = 0;
    for (size_t i = 0; i < len && s->jsonl_valid; i++) {
        if (data[i] != '\n') {
            continue;
        }
        if (buf_append(&s->line, data + start, i - start) != ERR_OK) {
            s->jsonl_valid = 0;
            break;
        }
        jsonl_line(s);
        start = i + 1;
    }
    if (s->jsonl_valid && buf_append(&s->line, data + start, len - start) != ERR_OK) {
        s->jsonl_valid = 0; /* a line over the limit (or out of memory): not JSON Lines here */
    }
}

void delivery_sniff_feed(struct delivery_sniff *s, const unsigned char *data, size_t len)
{
    for (size_t i = 0; i < len && s->utf8_valid; i++) {
        utf8_byte(s, data[i]);
    }
    for (int k = 0; k < 2; k++) {
        struct csv_state *c = &s->csv[k];
        for (size_t i = 0; i < len && c->valid && s->utf8_valid; i++) {
            csv_byte(c, data[i]);
        }
    }
    if (s->jsonl_valid && s->utf8_valid) {
        jsonl_feed(s, data, len);
    }
    s->bytes += (int64_t)len;
}

/* A last record without its line break still counts. */
static int csv_finish(struct csv_state *c)
{
    if (c->in_quotes || c->saw_cr) {
        return 0;
    }
    if (c->fields > 0 || c->field_bytes > 0 || c->after_quote) {
        csv_record_end(c);
    }
    return c->valid && c->header >= 2;
}

const char *delivery_sniff_finish(struct delivery_sniff *s, int64_t *rows)
{
    ASSERT(s != NULL && rows != NULL);
    const char *format = "opaque";
    *rows = -1;
    int text = s->utf8_valid && s->need == 0 && s->bytes > 0;
    if (text && s->jsonl_valid && s->line.len > 0) {
        jsonl_line(s);
    }
    if (text && s->jsonl_valid && s->jsonl_rows > 0) {
        format = "jsonl";
        *rows = s->jsonl_rows;
    } else if (text && csv_finish(&s->csv[0])) {
        format = "csv";
        *rows = s->csv[0].rows;
    } else if (text && csv_finish(&s->csv[1])) {
        format = "tsv";
        *rows = s->csv[1].rows;
    }
    buf_release(&s->line);
    mem_free(s);
    return format;
}
