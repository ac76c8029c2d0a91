/*
 * index.c: the chained price index of cleared trades (pricing.h, "the price index";
 * docs/pricing.md works its example). The caller groups trade values by period; this file
 * sorts each period's run, takes its count, sum and median, and chains the medians from the
 * first period with trades, which stands at 10000 basis points.
 *
 * Chaining, rather than dividing each period's median by the base's, is what statistical
 * offices do for indexes whose basket changes: a period links only to the last period that
 * had trades, so an empty month leaves a gap in the series instead of breaking it, and the
 * rounding of every link is shown and reproducible.
 */
#include "util/compat.h"
#include "pricing/pricing.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The inputs' shape (period_count already checked): counts that add up to at most
 * PRICING_INDEX_TRADES_MAX values, each in range. *total receives the number of values. */
static enum err index_check(const int64_t *values, const int64_t *counts, size_t period_count,
                            size_t *total, struct errbuf *err)
{
    int64_t n = 0;
    for (size_t i = 0; i < period_count; i++) {
        if (counts[i] < 0) {
            return err_set(err, ERR_INVALID, "", "period %zu has a negative count", i);
        }
        if (counts[i] > PRICING_INDEX_TRADES_MAX - n) {
            return err_set(err, ERR_LIMIT, "", "more than %d trades", PRICING_INDEX_TRADES_MAX);
        }
        n += counts[i];
    }
    for (int64_t i = 0; i < n; i++) {
        if (values[i] < 1 || values[i] > PRICING_AMOUNT_MAX) {
            return err_set(err, ERR_INVALID, "", "trade value %" PRId64 " is out of range", i);
        }
    }
    *total = (size_t)n;
    return ERR_OK;
}

/* Count, sum and median of one period's run (sorted here). */
static enum err period_stats(int64_t *run, int64_t count, struct pricing_index_period *p,
                             struct errbuf *err)
{
    p->count = count;
    if (count == 0) {
        return ERR_OK;
    }
    qsort(run, (size_t)count, sizeof(run[0]), compare_int64);
    for (int64_t i = 0; i < count; i++) {
        /* Each value is at most 10^15, so the sum overflows only past ~9,000 such trades. */
        if (run[i] > INT64_MAX - p->sum) {
            return err_set(err, ERR_LIMIT, "", "a period's total exceeds %" PRId64, INT64_MAX);
        }
        p->sum += run[i];
    }
    p->median = pricing_median(run, (size_t)count);
    ASSERT(p->median >= run[0] && p->median <= run[count - 1]);
    return ERR_OK;
}

enum err pricing_index(int64_t *values, const int64_t *counts, size_t period_count,
                       struct pricing_index_period *out, struct errbuf *err)
{
    ASSERT(counts != NULL && out != NULL);
    if (period_count < 1 || period_count > PRICING_INDEX_PERIODS_MAX) {
        return err_set(err, ERR_LIMIT, "periods", "an index covers 1 to %d periods",
                       PRICING_INDEX_PERIODS_MAX);
    }
    memset(out, 0, sizeof(*out) * period_count);
    size_t total = 0;
    enum err rc = index_check(values, counts, period_count, &total, err);
    ASSERT(values != NULL || total == 0);
    size_t at = 0;
    const struct pricing_index_period *prev = NULL; /* the last period with trades */
    for (size_t i = 0; rc == ERR_OK && i < period_count; i++) {
        rc = period_stats(values + at, counts[i], &out[i], err);
        at += (size_t)counts[i];
        if (rc != ERR_OK || counts[i] == 0) {
            continue;
        }
        if (prev == NULL) {
            out[i].index_bp = PRICING_INDEX_BASE_BP;
        } else {
            rc = pricing_mul_div(prev->index_bp, out[i].median, prev->median, &out[i].index_bp);
        }
        if (rc == ERR_OK && out[i].index_bp > PRICING_INDEX_BP_MAX) {
            rc = ERR_LIMIT;
        }
        if (rc == ERR_LIMIT) {
            rc = err_set(err, ERR_LIMIT, "", "the index exceeds %" PRId64 " bp in period %zu",
                         PRICING_INDEX_BP_MAX, i);
        }
        prev = &out[i];
    }
    if (rc != ERR_OK) {
        memset(out, 0, sizeof(*out) * period_count);
    }
    ASSERT(rc != ERR_OK || at == total);
    return rc;
}
