/*
 * util.c: assertions, error buffers, the allocator and growable buffers.
 *
 * The allocator is a thin wrapper over malloc so that tests built with BOURSE_TEST can fail
 * the Nth allocation and prove that every failure path returns ERR_NOMEM without leaking.
 */
#include "util/compat.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

_Noreturn void util_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "assertion failed: %s (%s:%d)\n", expr, file, line);
    fflush(stderr);
    abort();
}

void errbuf_init(struct errbuf *err)
{
    ASSERT(err != NULL);
    err->msg[0] = '\0';
    err->field[0] = '\0';
}

enum err err_set(struct errbuf *err, enum err code, const char *field, const char *fmt, ...)
{
    ASSERT(code != ERR_OK);
    ASSERT(code < ERR__COUNT);
    if (err == NULL) {
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    snprintf(err->field, sizeof(err->field), "%s", field != NULL ? field : "");
    return code;
}

const char *err_name(enum err code)
{
    static const char *const names[ERR__COUNT] = {
        [ERR_OK] = "ok",
        [ERR_NOMEM] = "nomem",
        [ERR_IO] = "io",
        [ERR_CORRUPT] = "corrupt",
        [ERR_INVALID] = "invalid",
        [ERR_NOT_FOUND] = "not_found",
        [ERR_CONFLICT] = "conflict",
        [ERR_LIMIT] = "limit",
        [ERR_UNAUTHORIZED] = "unauthorized",
        [ERR_FORBIDDEN] = "forbidden",
        [ERR_BAD_STATE] = "state",
        [ERR_UNAVAILABLE] = "unavailable",
    };
    if ((unsigned)code >= ERR__COUNT) {
        return "unknown";
    }
    return names[code];
}

/* ---- memory ---- */

#ifdef BOURSE_TEST
/* Per thread: the server's read pool allocates on other threads than a test's. */
static _Thread_local long mem_fail_at;
static _Thread_local long mem_count;

void mem_fail_after(long n)
{
    mem_fail_at = n;
    mem_count = 0;
}

long mem_alloc_count(void)
{
    return mem_count;
}

static int mem_should_fail(void)
{
    mem_count++;
    return mem_fail_at > 0 && mem_count >= mem_fail_at;
}
#else
static int mem_should_fail(void)
{
    return 0;
}
#endif

void *mem_alloc(size_t size)
{
    if (mem_should_fail()) {
        return NULL;
    }
    return malloc(size == 0 ? 1 : size);
}

void *mem_calloc(size_t count, size_t size)
{
    if (mem_should_fail()) {
        return NULL;
    }
    return calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
}

void *mem_realloc(void *ptr, size_t size)
{
    if (mem_should_fail()) {
        return NULL;
    }
    return realloc(ptr, size == 0 ? 1 : size);
}

void mem_free(void *ptr)
{
    free(ptr);
}

char *mem_strndup(const char *s, size_t len)
{
    ASSERT(s != NULL);
    char *p = mem_alloc(len + 1);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *mem_strdup(const char *s)
{
    ASSERT(s != NULL);
    return mem_strndup(s, strlen(s));
}

/* ---- buffers ---- */

void buf_init(struct buf *b, size_t max)
{
    ASSERT(b != NULL);
    ASSERT(max > 0);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_release(struct buf *b)
{
    if (b == NULL) {
        return;
    }
    mem_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(struct buf *b)
{
    ASSERT(b != NULL);
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

static enum err buf_reserve(struct buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra) {
        return ERR_LIMIT;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return ERR_OK;
    }
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    if (cap > b->max + 1) {
        cap = b->max + 1;
    }
    char *p = mem_realloc(b->data, cap);
    if (p == NULL) {
        return ERR_NOMEM;
    }
    b->data = p;
    b->cap = cap;
    return ERR_OK;
}

enum err buf_append(struct buf *b, const void *data, size_t len)
{
    ASSERT(b != NULL);
    ASSERT(data != NULL || len == 0);
    enum err rc = buf_reserve(b, len);
    if (rc != ERR_OK) {
        return rc;
    }
    if (len > 0) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
    return ERR_OK;
}

enum err buf_append_str(struct buf *b, const char *s)
{
    ASSERT(s != NULL);
    return buf_append(b, s, strlen(s));
}

enum err buf_appendf(struct buf *b, const char *fmt, ...)
{
    ASSERT(b != NULL);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return ERR_INVALID;
    }
    enum err rc = buf_reserve(b, (size_t)n);
    if (rc != ERR_OK) {
        return rc;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return ERR_OK;
}

char *buf_detach(struct buf *b, size_t *len)
{
    ASSERT(b != NULL);
    char *p = b->data;
    if (len != NULL) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
