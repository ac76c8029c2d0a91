/*
 * json_text.c: JSON text written directly into a buffer, byte for byte as jansson's
 * json_dumps writes it (JSON_COMPACT; no JSON_ENSURE_ASCII, no JSON_ESCAPE_SLASH). Hot paths
 * that emit a fixed shape (the ledger's event bodies, the event leaf) use it instead of
 * building a json_t tree and dumping it, which cost a fifth of a ledger write
 * (docs/decisions/0004-ledger.md). Their tests compare the bytes with jansson's.
 */
#include "util/compat.h"
#include "util/util.h"

#include <string.h>

#include "util/banned.h"

/* Length of the well-formed UTF-8 sequence at s (at most left bytes), 0 if malformed: the
 * same rules as jansson's utf8_check_full (no overlong forms, no surrogates, <= U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t left, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0; /* a continuation byte, 0xc0/0xc1 (overlong), or past U+10FFFF */
    }
    if (n > left) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
        (v >= 0xd800 && v <= 0xdfff)) {
        return 0;
    }
    *cp = v;
    return n;
}

/* The escape jansson writes for an ASCII character that needs one; NULL for the others. */
static const char *short_escape(uint32_t cp)
{
    switch (cp) {
    case '\\':
        return "\\\\";
    case '"':
        return "\\\"";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        return NULL;
    }
}

enum err buf_append_json_string(struct buf *b, const char *s, size_t len)
{
    ASSERT(b != NULL && (s != NULL || len == 0));
    size_t start_len = b->len;
    const unsigned char *p = (const unsigned char *)s;
    enum err rc = buf_append(b, "\"", 1);
    size_t run = 0; /* start of the bytes copied as they are */
    size_t i = 0;
    while (rc == ERR_OK && i < len) {
        if (p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\') {
            i++; /* the common case: printable ASCII, copied with the run */
            continue;
        }
        uint32_t cp = 0;
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0) {
            rc = ERR_INVALID;
            break;
        }
        if (cp >= 0x20 && cp != '"' && cp != '\\') {
            i += n;
            continue;
        }
        rc = buf_append(b, s + run, i - run);
        const char *esc = short_escape(cp);
        if (rc == ERR_OK && esc != NULL) {
            rc = buf_append(b, esc, 2);
        } else if (rc == ERR_OK) {
            static const char hex[] = "0123456789ABCDEF"; /* jansson writes \u%04X */
            char u[6] = {'\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 0xf]};
            rc = buf_append(b, u, sizeof(u));
        }
        i += n;
        run = i;
    }
    if (rc == ERR_OK) {
        rc = buf_append(b, s + run, len - run);
    }
    if (rc == ERR_OK) {
        rc = buf_append(b, "\"", 1);
    }
    if (rc != ERR_OK) {
        b->len = start_len; /* nothing of a failed string stays */
        if (b->data != NULL) {
            b->data[start_len] = '\0';
        }
    }
    return rc;
}

enum err buf_append_json_cstr(struct buf *b, const char *s)
{
    ASSERT(s != NULL);
    return buf_append_json_string(b, s, strlen(s));
}

enum err buf_append_i64(struct buf *b, int64_t v)
{
    char digits[20];
    size_t n = 0;
    /* Negated as unsigned so that INT64_MIN has a magnitude. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    char out[21];
    size_t k = 0;
    if (v < 0) {
        out[k++] = '-';
    }
    while (n > 0) {
        out[k++] = digits[--n];
    }
    return buf_append(b, out, k);
}
