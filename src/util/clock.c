/*
 * clock.c: the injectable wall clock, RFC 3339 UTC formatting and parsing, and the
 * monotonic clock for latencies. Civil-date conversion uses Howard Hinnant's days-from-civil
 * algorithm so that no libc time zone state is touched (gmtime is banned).
 */
#include "util/compat.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"

static int64_t clock_system_now(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    ASSERT(rc == 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const struct clock clock_system = {clock_system_now, NULL};

int64_t clock_now(const struct clock *c)
{
    ASSERT(c != NULL);
    ASSERT(c->now_ms != NULL);
    return c->now_ms(c->ctx);
}

int64_t clock_monotonic_ns(void)
{
    struct timespec ts;
    int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
    ASSERT(rc == 0);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }
    return q;
}

void clock_format_rfc3339(int64_t ms, char out[CLOCK_RFC3339_LEN])
{
    int64_t secs = floor_div(ms, 1000);
    int64_t milli = ms - secs * 1000;
    int64_t days = floor_div(secs, 86400);
    int64_t rem = secs - days * 86400;
    int64_t y, m, d;
    civil_from_days(days, &y, &m, &d);
    ASSERT(y >= 0 && y <= 9999);
    /* Digits written by hand: snprintf cannot prove to the compiler that they fit. */
    const int fields[7] = {
        (int)y,          (int)m,    (int)d, (int)(rem / 3600), (int)(rem / 60 % 60),
        (int)(rem % 60), (int)milli};
    const int widths[7] = {4, 2, 2, 2, 2, 2, 3};
    const char seps[7] = {'-', '-', 'T', ':', ':', '.', 'Z'};
    size_t pos = 0;
    for (int f = 0; f < 7; f++) {
        int v = fields[f];
        for (int k = widths[f] - 1; k >= 0; k--) {
            out[pos + (size_t)k] = (char)('0' + v % 10);
            v /= 10;
        }
        pos += (size_t)widths[f];
        out[pos++] = seps[f];
    }
    ASSERT(pos == CLOCK_RFC3339_LEN - 1);
    out[pos] = '\0';
}

int64_t clock_month_of(int64_t ms)
{
    int64_t y, m, d;
    civil_from_days(floor_div(ms, 86400000), &y, &m, &d);
    return y * 12 + m - 1;
}

int64_t clock_month_start(int64_t month)
{
    int64_t y = floor_div(month, 12);
    return days_from_civil(y, month - y * 12 + 1, 1) * 86400000;
}

static int parse_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

enum err clock_parse_rfc3339(const char *s, int64_t *ms)
{
    ASSERT(s != NULL);
    ASSERT(ms != NULL);
    size_t len = strlen(s);
    int y, mo, d, h, mi, se, milli = 0;
    if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
        return ERR_INVALID;
    }
    if (parse_digits(s, 4, &y) || parse_digits(s + 5, 2, &mo) || parse_digits(s + 8, 2, &d) ||
        parse_digits(s + 11, 2, &h) || parse_digits(s + 14, 2, &mi) ||
        parse_digits(s + 17, 2, &se)) {
        return ERR_INVALID;
    }
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3) {
                milli = milli * 10 + (*p - '0');
            }
            digits++;
            p++;
        }
        if (digits == 0 || digits > 9) {
            return ERR_INVALID;
        }
        for (int i = digits; i < 3; i++) {
            milli *= 10;
        }
    }
    if (p[0] != 'Z' || p[1] != '\0') {
        return ERR_INVALID;
    }
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59) {
        return ERR_INVALID;
    }
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap) {
        return ERR_INVALID;
    }
    int64_t days = days_from_civil(y, mo, d);
    *ms = ((days * 86400) + h * 3600 + mi * 60 + se) * 1000 + milli;
    return ERR_OK;
}
