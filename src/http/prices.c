/*
 * prices.c: GET /v1/price-index, the chained index of cleared trades in a category
 * (docs/api.md, docs/pricing.md "Price index"). The route needs a key and core answers only
 * the operator and regulators: with few trades in a month, its count, sum and median are
 * individual contracts' prices, which the parties did not agree to publish. A public index
 * would need a disclosure threshold per period; see docs/pricing.md.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include <string.h>

#include "util/banned.h"

/* ?periods=N: 0 when absent; ERR_INVALID unless 1 to 3 digits (core checks the range). */
static enum err periods_param(const struct http_request *req, int64_t *out, struct errbuf *err)
{
    const char *s = http__query_get(req, "periods");
    *out = 0;
    if (s == NULL) {
        return ERR_OK;
    }
    size_t n = strlen(s);
    int64_t v = 0;
    for (size_t i = 0; i < n && n <= 3; i++) {
        v = s[i] >= '0' && s[i] <= '9' ? v * 10 + (s[i] - '0') : -1;
        if (v < 0) {
            break;
        }
    }
    if (n == 0 || n > 3 || v < 1) {
        return err_set(err, ERR_INVALID, "periods", "'periods' must be 1 to %d",
                       PRICING_INDEX_PERIODS_MAX);
    }
    *out = v;
    return ERR_OK;
}

static json_t *row_json(const struct core_price_index_row *r)
{
    const struct pricing_index_period *p = &r->p;
    int any = p->count > 0;
    return json_pack("{s:o*, s:o*, s:I, s:I, s:o*, s:o*}", "start", http__time_json(r->start_ms),
                     "end", http__time_json(r->end_ms), "count", (json_int_t)p->count, "sum",
                     (json_int_t)p->sum, "median", any ? json_integer(p->median) : json_null(),
                     "index_bp", any ? json_integer(p->index_bp) : json_null());
}

static json_t *index_json(const struct core_price_index *x)
{
    json_t *rows = json_array();
    for (size_t i = 0; rows != NULL && i < x->row_count; i++) {
        if (json_array_append_new(rows, row_json(&x->rows[i])) != 0) {
            json_decref(rows);
            rows = NULL;
        }
    }
    if (rows == NULL) {
        return NULL;
    }
    return json_pack("{s:s, s:o*, s:s, s:s, s:s, s:I, s:o*, s:I, s:o}", "category", x->category,
                     "kind", x->kind[0] ? json_string(x->kind) : json_null(), "currency",
                     x->currency, "period", x->period, "measure",
                     "price * periods of settled contracts", "base_bp",
                     (json_int_t)PRICING_INDEX_BASE_BP, "base_start",
                     x->base_start_ms >= 0 ? http__time_json(x->base_start_ms) : json_null(),
                     "trades", (json_int_t)x->trades, "periods", rows);
}

/* GET /v1/price-index?category=C[&kind=K][&currency=CNY][&period=month|year][&periods=N] */
enum err http__price_index(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"category", "kind",    "currency",
                                          "period",   "periods", NULL};
    struct core_price_index_query q = {
        http__query_get(req, "category"),
        http__query_get(req, "kind"),
        http__query_get(req, "currency"),
        http__query_get(req, "period"),
        0,
    };
    enum err rc = http__query_only(req, allowed, err);
    if (rc == ERR_OK) {
        rc = periods_param(req, &q.periods, err);
    }
    struct core_price_index *x = rc == ERR_OK ? mem_calloc(1, sizeof(*x)) : NULL;
    if (rc == ERR_OK && x == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK) {
        rc = core_price_index(&srv->core, &req->who, &q, x, err);
    }
    if (rc == ERR_OK) {
        res->body = index_json(x);
        res->status = 200;
        rc = res->body != NULL
                 ? ERR_OK
                 : err_set(err, ERR_NOMEM, "", "out of memory rendering the response");
    }
    mem_free(x);
    return rc;
}
