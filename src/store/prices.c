/*
 * prices.c: cleared trades as pricing sees them (store.h, "cleared trades for pricing"): the
 * comparables of the market method and the trades of the price index. A contract settles once
 * and never changes again, so its updated_ms is its settlement time; its category and kind
 * are the listing's, since a contract names the listing it was made on. Portable SQL: the
 * value price * periods is at most PRICING_AMOUNT_MAX (core checks it at proposal), so the
 * product fits a BIGINT on both back-ends.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <string.h>

#include "util/banned.h"

#define CLEARED_FROM                                                                               \
    " FROM contracts k JOIN listings l ON l.id = k.listing_id"                                     \
    " WHERE k.state = 'settled' AND l.category = $1 AND k.currency = $2"

struct values_ctx {
    int64_t *values;
    size_t count;
    size_t max;
};

static enum err value_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct values_ctx *c = ctx;
    if (n != 1 || v[0].type != STORE_INT || v[0].i < 1) {
        return err_set(err, ERR_CORRUPT, "", "a cleared trade's value is not a positive integer");
    }
    if (c->count < c->max) {
        c->values[c->count++] = v[0].i;
    }
    return ERR_OK;
}

enum err store_trade_comparables(struct store *s, const char *category, const char *kind,
                                 const char *currency, const char *exclude_product_id,
                                 int64_t *values, size_t max, size_t *count, struct errbuf *err)
{
    ASSERT(category != NULL && kind != NULL && currency != NULL && exclude_product_id != NULL);
    ASSERT(values != NULL || max == 0);
    struct store_value v[] = {store_text(category), store_text(currency), store_text(kind),
                              store_text(exclude_product_id), store_int((int64_t)max)};
    struct values_ctx c = {values, 0, max};
    enum err rc = store_query(s,
                              "SELECT k.price * k.periods" CLEARED_FROM " AND l.kind = $3"
                              " AND k.product_id <> $4 ORDER BY k.updated_ms DESC, k.id DESC"
                              " LIMIT $5",
                              v, ARRAY_LEN(v), value_cb, &c, NULL, err);
    *count = c.count;
    return rc;
}

struct prices_ctx {
    struct store_trade_price *out;
    size_t count;
    size_t max;
};

static enum err price_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct prices_ctx *c = ctx;
    if (n != 2 || v[0].type != STORE_INT || v[1].type != STORE_INT || v[1].i < 1) {
        return err_set(err, ERR_CORRUPT, "", "a cleared trade's time or value is not an integer");
    }
    if (c->count < c->max) {
        c->out[c->count++] = (struct store_trade_price){v[0].i, v[1].i};
    }
    return ERR_OK;
}

enum err store_trade_prices(struct store *s, const char *category, const char *kind,
                            const char *currency, int64_t from_ms, int64_t to_ms,
                            struct store_trade_price *out, size_t max, size_t *count,
                            struct errbuf *err)
{
    ASSERT(category != NULL && currency != NULL);
    ASSERT(out != NULL || max == 0);
    /* $3 NULL matches any kind: one statement for both cases, portable to both back-ends. */
    struct store_value v[] = {store_text(category), store_text(currency), store_text_or_null(kind),
                              store_int(from_ms),   store_int(to_ms),     store_int((int64_t)max)};
    struct prices_ctx c = {out, 0, max};
    enum err rc = store_query(s,
                              "SELECT k.updated_ms, k.price * k.periods" CLEARED_FROM
                              " AND (CAST($3 AS TEXT) IS NULL OR l.kind = $3) AND k.updated_ms >= "
                              "$4 AND k.updated_ms < $5"
                              " ORDER BY k.updated_ms, k.id LIMIT $6",
                              v, ARRAY_LEN(v), price_cb, &c, NULL, err);
    *count = c.count;
    return rc;
}
