/*
 * util: the small shared pieces every module uses. Each piece has its own noun prefix:
 *
 *   err_    the error codes every fallible function returns, and the caller-owned errbuf
 *   mem_    the only allocator (tests can make the Nth allocation fail)
 *   buf_    a growable byte buffer with a hard maximum
 *   clock_  injectable wall clock (UTC, milliseconds) and RFC 3339 formatting
 *   rng_    injectable random source (libsodium's CSPRNG by default)
 *   id_     prefixed random identifiers ("ent_0123...")
 *   log_    structured (JSON lines) logging to stderr
 *
 * Nothing here knows about the domain; util includes no other module.
 */
#ifndef BOURSE_UTIL_H
#define BOURSE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- assertions ------------------------------------------------------------------------- */

/* ASSERT is always compiled in: it checks programmer errors, never input. */
#define ASSERT(x)                                                                                  \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            util_assert_fail(#x, __FILE__, __LINE__);                                              \
        }                                                                                          \
    } while (0)

#if defined(BOURSE_DEBUG) || defined(BOURSE_TEST)
#define DEBUG_ASSERT(x) ASSERT(x)
#else
#define DEBUG_ASSERT(x)                                                                            \
    do {                                                                                           \
    } while (0)
#endif

_Noreturn void util_assert_fail(const char *expr, const char *file, int line);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors ----------------------------------------------------------------------------- */

/* Every fallible function returns one of these. Only http/ maps them to statuses. */
enum err {
    ERR_OK = 0,
    ERR_NOMEM,        /* an allocation failed */
    ERR_IO,           /* the operating system or a database refused an operation */
    ERR_CORRUPT,      /* stored or received bytes fail an integrity check */
    ERR_INVALID,      /* the input is malformed or breaks a rule about its form */
    ERR_NOT_FOUND,    /* the named object does not exist */
    ERR_CONFLICT,     /* the object exists already, or a concurrent change won */
    ERR_LIMIT,        /* a size or count limit was reached */
    ERR_UNAUTHORIZED, /* no or unknown credentials */
    ERR_FORBIDDEN,    /* the credentials are known but may not do this */
    ERR_BAD_STATE,    /* the object's state does not allow this transition */
    ERR_UNAVAILABLE,  /* a dependency (database, disk) is unreachable for now */
    ERR__COUNT
};

#define ERRBUF_MSG_MAX 256
#define ERRBUF_FIELD_MAX 64

/*
 * Caller-owned detail for an error: a human message (lowercase, no final period) and, for
 * input errors, the name of the offending field (a JSON pointer-ish path, "" when none).
 * Functions leave it alone on success.
 */
struct errbuf {
    char msg[ERRBUF_MSG_MAX];
    char field[ERRBUF_FIELD_MAX];
};

void errbuf_init(struct errbuf *err);

/* Fills err (if non-NULL) and returns code, so that callers can `return err_set(...)`. */
enum err err_set(struct errbuf *err, enum err code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Stable lowercase name of an error code ("invalid", "not_found", ...). Cannot fail. */
const char *err_name(enum err code);

/* ---- memory ----------------------------------------------------------------------------- */

/* The only allocator. mem_alloc/mem_realloc return NULL on failure; mem_free accepts NULL. */
void *mem_alloc(size_t size);
void *mem_calloc(size_t count, size_t size);
void *mem_realloc(void *ptr, size_t size);
void mem_free(void *ptr);
/* Copies of strings; the caller frees with mem_free. NULL on allocation failure. */
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t len);

#ifdef BOURSE_TEST
/* Test hook: make the allocation numbered `n` (1-based, counted from now) and every later one
 * fail; n = 0 disables. mem_alloc_count() says how many allocations happened since. */
void mem_fail_after(long n);
long mem_alloc_count(void);
#endif

/* ---- buffers ---------------------------------------------------------------------------- */

/*
 * A growable byte buffer, always NUL-terminated when data is non-NULL. `max` bounds len;
 * growing past it is ERR_LIMIT and leaves the buffer unchanged.
 */
struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b); /* frees data; accepts an initialised empty buffer */
enum err buf_append(struct buf *b, const void *data, size_t len);
enum err buf_append_str(struct buf *b, const char *s);
enum err buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (free with mem_free) and re-initialises b. NULL if empty. */
char *buf_detach(struct buf *b, size_t *len);
void buf_reset(struct buf *b); /* len = 0, memory kept */

/* JSON text appended byte for byte as jansson's json_dumps writes it (compact, UTF-8 kept,
 * '/' unescaped; json_text.c). A string is quoted and escaped; ERR_INVALID (buffer unchanged)
 * when it is not well-formed UTF-8, which jansson refuses to dump too. ERR_LIMIT past max. */
enum err buf_append_json_string(struct buf *b, const char *s, size_t len);
enum err buf_append_json_cstr(struct buf *b, const char *s);
enum err buf_append_i64(struct buf *b, int64_t v); /* decimal, as "%" PRId64 */

/* ---- clock ------------------------------------------------------------------------------ */

/* Milliseconds since the Unix epoch, UTC. Injected into core, tlog and clearing. */
typedef int64_t clock_now_fn(void *ctx);

struct clock {
    clock_now_fn *now_ms;
    void *ctx;
};

/* The system clock (CLOCK_REALTIME). Cannot fail. */
extern const struct clock clock_system;
int64_t clock_now(const struct clock *c);
/* Monotonic milliseconds for timeouts and latencies. */
int64_t clock_monotonic_ns(void);

#define CLOCK_RFC3339_LEN 25 /* "2026-11-21T19:19:00.123Z" + NUL */
/* Formats ms as RFC 3339 UTC with milliseconds. Cannot fail for years 0..9999. */
void clock_format_rfc3339(int64_t ms, char out[CLOCK_RFC3339_LEN]);
/* Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC only). ERR_INVALID otherwise. */
enum err clock_parse_rfc3339(const char *s, int64_t *ms);
/* The UTC calendar month holding ms, as a count of months since year 0 (year * 12 + month - 1),
 * so that consecutive months are consecutive integers. Cannot fail. */
int64_t clock_month_of(int64_t ms);
/* Milliseconds at 00:00 UTC on the first day of the month clock_month_of returned. */
int64_t clock_month_start(int64_t month);

/* ---- random ----------------------------------------------------------------------------- */

typedef void rng_fill_fn(void *ctx, void *out, size_t len);

struct rng {
    rng_fill_fn *fill;
    void *ctx;
};

/* libsodium's CSPRNG; sodium_init() must have run. */
extern const struct rng rng_system;
void rng_fill(const struct rng *r, void *out, size_t len);

/* ---- ids -------------------------------------------------------------------------------- */

/* "<prefix>_" then 20 lowercase base32 characters (100 random bits). */
#define ID_RANDOM_CHARS 20
#define ID_PREFIX_MAX 4
#define ID_MAX (ID_PREFIX_MAX + 1 + ID_RANDOM_CHARS + 1)

/* prefix is 2..4 lowercase letters. Cannot fail. */
void id_new(const struct rng *r, const char *prefix, char out[ID_MAX]);
/* 1 if s is a well-formed id with this prefix (prefix NULL: any valid prefix), else 0. */
int id_valid(const char *s, const char *prefix);

/* ---- logging ---------------------------------------------------------------------------- */

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
/* One JSON object per line on stderr: {"time":...,"level":...,"msg":...}. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- files ----------------------------------------------------------------------------- */

/* Reads a whole file of at most max bytes into *out (NUL-terminated; caller frees with
 * mem_free). ERR_NOT_FOUND if absent, ERR_LIMIT if larger, ERR_IO otherwise. */
enum err file_read(const char *path, size_t max, char **out, size_t *len, struct errbuf *err);
/* Writes a file atomically and durably: a temporary file in the same directory, fsync,
 * rename over path, fsync of the directory. `mode` applies to the new file. With
 * FILE_EXCL the call fails with ERR_CONFLICT if path exists. */
enum file_write_flags { FILE_EXCL = 1 << 0 };
enum err file_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                           unsigned flags, struct errbuf *err);
/* Creates a directory (and its parents) with mode if absent. */
enum err file_mkdirs(const char *path, unsigned mode, struct errbuf *err);

/* ---- text ------------------------------------------------------------------------------- */

/* 1 if the len bytes are valid UTF-8 with no NUL and no C0 control other than \t \n \r. */
int text_valid_utf8(const char *s, size_t len);
/* Number of Unicode code points in valid UTF-8. */
size_t text_utf8_chars(const char *s, size_t len);

#endif
