/*
 * misc.c: the random source, prefixed ids, structured logging and UTF-8 checks.
 *
 * Ids use Crockford-style lowercase base32 without i, l, o, u so that they survive being read
 * aloud or typed; 20 characters carry 100 bits, enough that collisions never happen in practice.
 */
#include "util/compat.h"
#include "util/util.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static void rng_system_fill(void *ctx, void *out, size_t len)
{
    (void)ctx;
    randombytes_buf(out, len);
}

const struct rng rng_system = {rng_system_fill, NULL};

void rng_fill(const struct rng *r, void *out, size_t len)
{
    ASSERT(r != NULL);
    ASSERT(out != NULL);
    r->fill(r->ctx, out, len);
}

static const char id_alphabet[32] = "0123456789abcdefghjkmnpqrstvwxyz";

static int id_prefix_valid(const char *p, size_t n)
{
    if (n < 2 || n > ID_PREFIX_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 'a' || p[i] > 'z') {
            return 0;
        }
    }
    return 1;
}

void id_new(const struct rng *r, const char *prefix, char out[ID_MAX])
{
    size_t n = strlen(prefix);
    ASSERT(id_prefix_valid(prefix, n));
    unsigned char raw[ID_RANDOM_CHARS];
    rng_fill(r, raw, sizeof(raw));
    memcpy(out, prefix, n);
    out[n] = '_';
    for (size_t i = 0; i < ID_RANDOM_CHARS; i++) {
        out[n + 1 + i] = id_alphabet[raw[i] & 31];
    }
    out[n + 1 + ID_RANDOM_CHARS] = '\0';
}

int id_valid(const char *s, const char *prefix)
{
    if (s == NULL) {
        return 0;
    }
    const char *us = strchr(s, '_');
    if (us == NULL) {
        return 0;
    }
    size_t n = (size_t)(us - s);
    if (!id_prefix_valid(s, n)) {
        return 0;
    }
    if (prefix != NULL && (strlen(prefix) != n || memcmp(prefix, s, n) != 0)) {
        return 0;
    }
    const char *r = us + 1;
    if (strlen(r) != ID_RANDOM_CHARS) {
        return 0;
    }
    for (size_t i = 0; i < ID_RANDOM_CHARS; i++) {
        if (memchr(id_alphabet, r[i], sizeof(id_alphabet)) == NULL || r[i] == '\0') {
            return 0;
        }
    }
    return 1;
}

static enum log_level log_threshold = LOG_INFO;

void log_set_level(enum log_level level)
{
    log_threshold = level;
}

/* Appends s JSON-escaped to out[*n..cap), truncating silently at the end. */
static void log_escape(char *out, size_t *n, size_t cap, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && *n + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            out[(*n)++] = '\\';
            out[(*n)++] = (char)*p;
        } else if (*p < 0x20) {
            *n += (size_t)snprintf(out + *n, cap - *n, "\\u%04x", *p);
        } else {
            out[(*n)++] = (char)*p;
        }
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (level < log_threshold) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char t[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(clock_now(&clock_system), t);
    /* One write per line, so that lines from a busy server stay whole and cheap. */
    char line[2560];
    size_t n = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"",
                                t, names[level]);
    log_escape(line, &n, sizeof(line) - 4, msg);
    line[n++] = '"';
    line[n++] = '}';
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}

int text_valid_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c < 0x80) {
            if (c == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
                return 0;
            }
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) {
            n = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n > len) {
            return 0;
        }
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += n;
    }
    return 1;
}

size_t text_utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            n++;
        }
    }
    return n;
}
