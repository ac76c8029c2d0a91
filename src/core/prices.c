/*
 * prices.c: prices from cleared trades (docs/pricing.md): the comparables of the reference
 * price's market method and the chained price index of a category.
 *
 * The market method prefers what buyers actually paid to what providers ask: once
 * PRICING_TRADES_MIN contracts of other products in the same category, kind and currency have
 * settled, their values are the comparables; before that the headline prices of active public
 * listings stand in, and the answer says which basis it used and how many values it had. A
 * settled contract's value is price * periods, what its buyer paid for the whole licence, the
 * same quantity as a listing's headline price, so the two bases give comparable answers.
 *
 * "Settled" and not "resolved": a dispute's decision pays the provider what an arbitrator
 * found the delivery was worth, not a price the parties agreed, so a resolved contract is not
 * a market price. The arithmetic is the pricing module's; this file reads the store and
 * buckets trades into UTC calendar periods.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <stdio.h>
#include <string.h>

#include "clearing/clearing.h"
#include "util/banned.h"

#define INDEX_PERIODS_DEFAULT 12 /* a year of months */

/* ---- the market method ---- */

enum err core__market_method(struct core *c, struct core_reference *out, struct errbuf *err)
{
    ASSERT(c != NULL && out != NULL);
    ASSERT(out->ref.currency[0] != '\0');
    int64_t *values = mem_alloc(sizeof(int64_t) * PRICING_COMPARABLES_MAX);
    if (values == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    size_t n = 0;
    enum err rc =
        store_trade_comparables(c->store, out->category, out->kind, out->ref.currency,
                                out->product_id, values, PRICING_COMPARABLES_MAX, &n, err);
    out->cleared_trades = n;
    const char *basis = "cleared trades";
    if (rc == ERR_OK && n < PRICING_TRADES_MIN) {
        /* Too few trades for a fence: other products' asking prices stand in. */
        basis = "listings";
        rc = store_listing_comparables(c->store, out->category, out->kind, out->ref.currency,
                                       out->product_id, values, PRICING_COMPARABLES_MAX, &n, err);
    }
    snprintf(out->comparables_basis, sizeof(out->comparables_basis), "%s", basis);
    out->comparables = n;
    if (rc == ERR_OK) {
        rc = pricing_market(values, n, basis, &out->ref.method[PRICING_MARKET], err);
    }
    mem_free(values);
    return rc;
}

/* ---- the price index ---- */

/* The query's values checked, defaults applied, into out's names; *yearly for years. */
static enum err index_query_check(const struct core_price_index_query *q,
                                  struct core_price_index *out, int *yearly, struct errbuf *err)
{
    if (q->category == NULL || !core__category_known(q->category)) {
        return err_set(err, ERR_INVALID, "category", "'category' must be a category code");
    }
    enum core_product_kind kind;
    if (q->kind != NULL && core_product_kind_parse(q->kind, &kind) != ERR_OK) {
        return err_set(err, ERR_INVALID, "kind", "'kind' must be a product kind");
    }
    const char *currency = q->currency != NULL ? q->currency : "CNY";
    enum err rc = clearing_currency_check(currency, "currency", err);
    if (rc != ERR_OK) {
        return rc;
    }
    enum pricing_period period = PRICING_PERIOD_MONTH;
    if (q->period != NULL && pricing_period_parse(q->period, &period) != ERR_OK) {
        return err_set(err, ERR_INVALID, "period", "'period' must be month or year");
    }
    int64_t periods = q->periods == 0 ? INDEX_PERIODS_DEFAULT : q->periods;
    if (periods < 1 || periods > PRICING_INDEX_PERIODS_MAX) {
        return err_set(err, ERR_INVALID, "periods", "'periods' must be 1 to %d",
                       PRICING_INDEX_PERIODS_MAX);
    }
    snprintf(out->category, sizeof(out->category), "%s", q->category);
    snprintf(out->kind, sizeof(out->kind), "%s", q->kind != NULL ? q->kind : "");
    snprintf(out->currency, sizeof(out->currency), "%s", currency);
    snprintf(out->period, sizeof(out->period), "%s", pricing_period_name(period));
    out->row_count = (size_t)periods;
    *yearly = period == PRICING_PERIOD_YEAR;
    return ERR_OK;
}

/* The rows' bounds: row_count calendar periods ending with the one holding now_ms. */
static void index_rows_frame(struct core_price_index *out, int yearly, int64_t now_ms)
{
    int64_t step = yearly ? 12 : 1;
    int64_t month = clock_month_of(now_ms);
    month -= yearly ? month - (month / 12) * 12 : 0; /* January of the year (month >= 0) */
    int64_t first = month - (int64_t)(out->row_count - 1) * step;
    for (size_t i = 0; i < out->row_count; i++) {
        int64_t m = first + (int64_t)i * step;
        out->rows[i].start_ms = clock_month_start(m);
        out->rows[i].end_ms = clock_month_start(m + step);
    }
}

/* Groups the trades (oldest first) by row into values and counts. */
static void index_group(const struct core_price_index *out, const struct store_trade_price *t,
                        size_t n, int64_t *values, int64_t *counts)
{
    size_t row = 0;
    for (size_t i = 0; i < n; i++) {
        while (t[i].settled_ms >= out->rows[row].end_ms) {
            row++;
            ASSERT(row < out->row_count); /* the store read only [first start, last end) */
        }
        values[i] = t[i].value;
        counts[row]++;
    }
}

/* Reads the trades of out's frame and computes the rows. */
static enum err index_compute(struct core *c, struct core_price_index *out, struct errbuf *err)
{
    size_t max = PRICING_INDEX_TRADES_MAX + 1; /* one more tells that there are too many */
    struct store_trade_price *trades = mem_alloc(sizeof(*trades) * max);
    int64_t *values = mem_alloc(sizeof(*values) * max);
    int64_t counts[PRICING_INDEX_PERIODS_MAX] = {0};
    struct pricing_index_period *periods = mem_calloc(out->row_count, sizeof(*periods));
    enum err rc = trades != NULL && values != NULL && periods != NULL
                      ? ERR_OK
                      : err_set(err, ERR_NOMEM, "", "out of memory");
    size_t n = 0;
    if (rc == ERR_OK) {
        rc = store_trade_prices(c->store, out->category, out->kind[0] ? out->kind : NULL,
                                out->currency, out->rows[0].start_ms,
                                out->rows[out->row_count - 1].end_ms, trades, max, &n, err);
    }
    if (rc == ERR_OK && n > PRICING_INDEX_TRADES_MAX) {
        rc = err_set(err, ERR_LIMIT, "periods",
                     "more than %d cleared trades in the range: ask for fewer periods",
                     PRICING_INDEX_TRADES_MAX);
    }
    if (rc == ERR_OK) {
        index_group(out, trades, n, values, counts);
        rc = pricing_index(values, counts, out->row_count, periods, err);
    }
    out->base_start_ms = -1;
    for (size_t i = 0; rc == ERR_OK && i < out->row_count; i++) {
        out->rows[i].p = periods[i];
        out->trades += periods[i].count;
        if (out->base_start_ms < 0 && periods[i].count > 0) {
            out->base_start_ms = out->rows[i].start_ms;
        }
    }
    mem_free(trades);
    mem_free(values);
    mem_free(periods);
    return rc;
}

enum err core_price_index(struct core *c, const struct core_principal *who,
                          const struct core_price_index_query *q, struct core_price_index *out,
                          struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL);
    ASSERT(q != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    if (!core__supervisor(who)) {
        return err_set(err, ERR_FORBIDDEN, "",
                       "the price index is for the operator and regulators");
    }
    int yearly = 0;
    enum err rc = index_query_check(q, out, &yearly, err);
    if (rc != ERR_OK) {
        return rc;
    }
    index_rows_frame(out, yearly, clock_now(c->clock));
    return index_compute(c, out, err);
}
