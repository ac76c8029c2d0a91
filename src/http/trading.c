/*
 * trading.c: the handlers of the trading half: orders, negotiations and sealed-bid auctions
 * (docs/api.md, "Trading"). Each checks the request's shape, calls one core function and
 * renders the answer. A refusal by one of core's trading rules is answered with the rule's
 * own problem type (https://bourse.dev/problems/not-qualified, ...), so that a client can
 * tell "you may not buy this" from a malformed request.
 *
 * An auction's bids are rendered as core_auction_bids returns them: before the close only the
 * caller's own, after it every bid with its amount and salt.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* ---- helpers ---- */

static enum err oom(struct errbuf *err)
{
    return err_set(err, ERR_NOMEM, "", "out of memory rendering the response");
}

static const char *param(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nparams; i++) {
        if (strcmp(req->params[i].name, name) == 0) {
            return req->params[i].value;
        }
    }
    ASSERT(0 && "route pattern lacks the parameter");
    return NULL;
}

/* Names the rule of a refusal in the problem type. Returns rc. */
static enum err refused(struct http_response *res, enum err rc, const enum core_trade_rule *rule)
{
    /* rule by address: it is read after the call that sets it has run. */
    if (rc != ERR_OK && *rule != CORE_RULE_NONE) {
        res->problem_type = core_trade_rule_name(*rule);
    }
    return rc;
}

/* An optional integer member (left alone when absent or null). */
static enum err body_int(json_t *body, const char *name, int64_t min, int64_t max, int64_t *out,
                         struct errbuf *err)
{
    const json_t *v = json_object_get(body, name);
    if (v == NULL || json_is_null(v)) {
        return ERR_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        return err_set(err, ERR_INVALID, name, "'%s' must be an integer from %lld to %lld", name,
                       (long long)min, (long long)max);
    }
    *out = json_integer_value(v);
    return ERR_OK;
}

static enum err page_query(const struct http_request *req, const char *const *allowed,
                           size_t *limit, struct errbuf *err)
{
    enum err rc = http__query_only(req, allowed, err);
    const char *s = http__query_get(req, "limit");
    *limit = HTTP_PAGE_DEFAULT;
    if (rc != ERR_OK || s == NULL) {
        return rc;
    }
    size_t v = 0, n = strlen(s);
    for (size_t i = 0; i < n && n <= 3; i++) {
        v = s[i] >= '0' && s[i] <= '9' ? v * 10 + (size_t)(s[i] - '0') : 0;
    }
    if (n > 3 || v < 1 || v > STORE_PAGE_MAX) {
        return err_set(err, ERR_INVALID, "limit", "limit must be an integer from 1 to %d",
                       STORE_PAGE_MAX);
    }
    *limit = v;
    return ERR_OK;
}

static json_t *time_or_null(int64_t ms)
{
    return ms > 0 ? http__time_json(ms) : json_null();
}

static json_t *text_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *stored_json(const char *text)
{
    json_t *v = text != NULL ? json_loads(text, 0, NULL) : NULL;
    return v != NULL ? v : json_null();
}

static json_t *page_json(json_t *items, const char *next_cursor)
{
    return json_pack("{s:o*, s:s*}", "items", items, "next_cursor",
                     next_cursor[0] != '\0' ? next_cursor : NULL);
}

/* ---- renderings ---- */

static json_t *order_json(const struct store_order *o)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:I, s:s, s:I, s:I}",
                          "id", o->id, "listing_id", o->listing_id, "product_id", o->product_id,
                          "revision_id", o->revision_id, "provider_id", o->provider_id, "buyer_id",
                          o->buyer_id, "source", o->source, "source_id", text_or_null(o->source_id),
                          "price_model", o->price_model, "tier", text_or_null(o->tier), "periods",
                          (json_int_t)o->periods, "currency", o->currency, "unit_price",
                          (json_int_t)o->unit_price, "price", (json_int_t)o->price);
    if (j == NULL) {
        return NULL;
    }
    int bad = json_object_set_new(j, "terms", stored_json(o->terms));
    bad |= json_object_set_new(j, "exclusive", json_boolean(o->exclusive));
    bad |= json_object_set_new(j, "contract_id", text_or_null(o->contract_id));
    bad |= json_object_set_new(j, "status", json_string(o->status));
    bad |= json_object_set_new(j, "created_at", http__time_json(o->created_ms));
    bad |= json_object_set_new(j, "log_index", json_integer(o->log_index));
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static json_t *negotiation_json(const struct store_negotiation *n)
{
    int open = strcmp(n->status, "open") == 0;
    const char *turn = strcmp(n->last_by, n->buyer_id) == 0 ? n->provider_id : n->buyer_id;
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:s, s:I, s:o*}", "id", n->id,
                  "listing_id", n->listing_id, "product_id", n->product_id, "revision_id",
                  n->revision_id, "provider_id", n->provider_id, "buyer_id", n->buyer_id, "status",
                  n->status, "currency", n->currency, "price", (json_int_t)n->price, "terms",
                  stored_json(n->terms), "last_offer_by", n->last_by, "offers",
                  (json_int_t)n->offers, "turn", open ? json_string(turn) : json_null());
    if (j == NULL) {
        return NULL;
    }
    int bad = json_object_set_new(j, "expires_at", http__time_json(n->expires_ms));
    bad |= json_object_set_new(j, "created_at", http__time_json(n->created_ms));
    bad |= json_object_set_new(j, "updated_at", http__time_json(n->updated_ms));
    bad |= json_object_set_new(j, "closed_at", time_or_null(n->closed_ms));
    bad |= json_object_set_new(j, "closed_by", text_or_null(n->closed_by));
    bad |= json_object_set_new(j, "order_id", text_or_null(n->order_id));
    bad |= json_object_set_new(j, "log_index", json_integer(n->log_index));
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static json_t *offers_json(const struct store_negotiation_offer *o, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        json_t *x = json_pack("{s:I, s:s, s:I, s:o, s:o, s:I}", "seq", (json_int_t)o[i].seq, "by",
                              o[i].by_id, "price", (json_int_t)o[i].price, "terms",
                              stored_json(o[i].terms), "at", http__time_json(o[i].created_ms),
                              "log_index", (json_int_t)o[i].log_index);
        if (json_array_append_new(a, x) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

static json_t *bids_json(const struct store_bid *b, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        json_t *x = json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:I}", "id", b[i].id, "bidder_id",
                              b[i].bidder_id, "amount", (json_int_t)b[i].amount, "salt", b[i].salt,
                              "commitment", b[i].commitment, "at", http__time_json(b[i].created_ms),
                              "log_index", (json_int_t)b[i].log_index);
        if (json_array_append_new(a, x) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

static json_t *auction_json(const struct store_auction *a, json_t *bids)
{
    int won = a->winner_id[0] != '\0';
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:s, s:o, s:I, s:o*}",
                          "id", a->id, "listing_id", a->listing_id, "product_id", a->product_id,
                          "revision_id", a->revision_id, "provider_id", a->provider_id, "status",
                          a->status, "currency", a->currency, "reserve", (json_int_t)a->reserve,
                          "closes_at", http__time_json(a->closes_ms), "opened_by", a->opened_by,
                          "created_at", http__time_json(a->created_ms), "bid_count",
                          (json_int_t)a->bid_count, "bids", bids);
    if (j == NULL) {
        return NULL;
    }
    int bad = json_object_set_new(j, "closed_at", time_or_null(a->closed_ms));
    bad |= json_object_set_new(j, "closed_by", text_or_null(a->closed_by));
    bad |= json_object_set_new(j, "winner_id", text_or_null(a->winner_id));
    bad |= json_object_set_new(j, "winning_bid_id", text_or_null(a->winning_bid_id));
    bad |= json_object_set_new(j, "price", won ? json_integer(a->clearing_price) : json_null());
    bad |= json_object_set_new(j, "order_id", text_or_null(a->order_id));
    bad |= json_object_set_new(j, "log_index", json_integer(a->log_index));
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static enum err answer(struct http_response *res, json_t *body, int status, const char *location,
                       const char *id, struct errbuf *err)
{
    if (body == NULL) {
        return oom(err);
    }
    res->body = body;
    res->status = status;
    if (status == 201 && location != NULL) {
        snprintf(res->location, sizeof(res->location), "%s%s", location, id);
    }
    return ERR_OK;
}

/* ---- orders ---- */

/* POST /v1/orders {listing_id, tier?, periods?, price?, currency?} */
enum err http__order_place(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"listing_id", "tier", "periods", "price", "currency", NULL};
    struct core_order_request r = {NULL, NULL, 0, -1, NULL};
    enum err rc = http__json_only(req->body, names, err);
    if (rc == ERR_OK) {
        rc = http__json_str(req->body, "listing_id", &r.listing_id, err);
    }
    if (rc == ERR_OK) {
        rc = http__json_str(req->body, "tier", &r.tier, err);
    }
    if (rc == ERR_OK) {
        rc = http__json_str(req->body, "currency", &r.currency, err);
    }
    if (rc == ERR_OK) {
        rc = body_int(req->body, "periods", 1, CORE_CONTRACT_PERIODS_MAX, &r.periods, err);
    }
    if (rc == ERR_OK) {
        rc = body_int(req->body, "price", 0, PRICING_AMOUNT_MAX, &r.price, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct store_order o;
    rc = refused(res, core_order_place(&srv->core, &req->who, &r, &o, &rule, err), &rule);
    return rc == ERR_OK ? answer(res, order_json(&o), 201, "/v1/orders/", o.id, err) : rc;
}

/* GET /v1/orders/{id} */
enum err http__order_get(struct http_server *srv, struct http_request *req,
                         struct http_response *res, struct errbuf *err)
{
    struct store_order o;
    enum err rc = core_order_get(&srv->core, &req->who, param(req, "id"), &o, err);
    return rc == ERR_OK ? answer(res, order_json(&o), 200, NULL, NULL, err) : rc;
}

/* GET /v1/orders?listing_id=&cursor=&limit= */
enum err http__order_list(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"listing_id", "cursor", "limit", NULL};
    struct store_order_filter f = {NULL, http__query_get(req, "listing_id"),
                                   http__query_get(req, "cursor"), 0};
    enum err rc = page_query(req, names, &f.limit, err);
    struct store_order_page page;
    if (rc == ERR_OK) {
        rc = core_order_list(&srv->core, &req->who, &f, &page, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < page.count; i++) {
        if (json_array_append_new(items, order_json(&page.items[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    json_t *body = page_json(items, page.next_cursor);
    store_order_page_release(&page);
    return answer(res, body, 200, NULL, NULL, err);
}

/* ---- negotiations ---- */

/* {price, currency?, terms?: {purpose?, term_days?}} into o. */
static enum err offer_parse(json_t *body, const char *const *names, struct core_offer *o,
                            struct errbuf *err)
{
    static const char *const term_names[] = {"purpose", "term_days", NULL};
    memset(o, 0, sizeof(*o));
    o->price = -1;
    enum err rc = http__json_only(body, names, err);
    if (rc == ERR_OK) {
        rc = body_int(body, "price", 1, PRICING_AMOUNT_MAX, &o->price, err);
    }
    if (rc == ERR_OK && o->price < 0) {
        rc = err_set(err, ERR_INVALID, "price", "'price' is required");
    }
    if (rc == ERR_OK) {
        rc = http__json_str(body, "currency", &o->currency, err);
    }
    json_t *terms = json_object_get(body, "terms");
    if (rc != ERR_OK || terms == NULL || json_is_null(terms)) {
        return rc;
    }
    if (!json_is_object(terms)) {
        return err_set(err, ERR_INVALID, "terms", "'terms' must be an object");
    }
    rc = http__json_only(terms, term_names, err);
    if (rc == ERR_OK) {
        rc = http__json_str(terms, "purpose", &o->purpose, err);
    }
    if (rc == ERR_OK) {
        rc = body_int(terms, "term_days", 1, CORE_TERM_DAYS_MAX, &o->term_days, err);
    }
    if (rc != ERR_OK && strncmp(err->field, "terms.", 6) != 0 && strcmp(err->field, "terms")) {
        /* The members are named without their object: "purpose" is "terms.purpose". */
        char field[ERRBUF_FIELD_MAX];
        size_t n = strlen(err->field);
        n = n < sizeof(field) - 7 ? n : sizeof(field) - 7;
        memcpy(field, "terms.", 6);
        memcpy(field + 6, err->field, n);
        field[6 + n] = '\0';
        memcpy(err->field, field, 7 + n);
    }
    return rc;
}

/* The negotiation with its offers, as its parties see it. */
static enum err negotiation_answer(struct http_server *srv, struct http_request *req,
                                   const struct store_negotiation *n, int status,
                                   struct http_response *res, struct errbuf *err)
{
    struct store_negotiation_offer *offers = NULL;
    size_t count = 0;
    enum err rc = core_negotiation_offers(&srv->core, &req->who, n->id, &offers, &count, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *body = negotiation_json(n);
    if (body != NULL && json_object_set_new(body, "history", offers_json(offers, count)) != 0) {
        json_decref(body);
        body = NULL;
    }
    mem_free(offers);
    return answer(res, body, status, "/v1/negotiations/", n->id, err);
}

/* POST /v1/negotiations {listing_id, price, currency?, terms?, expires_in?} */
enum err http__negotiation_open(struct http_server *srv, struct http_request *req,
                                struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"listing_id", "price",      "currency",
                                        "terms",      "expires_in", NULL};
    struct core_offer o;
    const char *listing_id = NULL;
    int64_t expires_s = 0;
    enum err rc = offer_parse(req->body, names, &o, err);
    if (rc == ERR_OK) {
        rc = http__json_str(req->body, "listing_id", &listing_id, err);
    }
    if (rc == ERR_OK) {
        rc = body_int(req->body, "expires_in", CORE_NEGOTIATION_SECONDS_MIN,
                      CORE_NEGOTIATION_SECONDS_MAX, &expires_s, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct store_negotiation n;
    rc = refused(
        res,
        core_negotiation_open(&srv->core, &req->who, listing_id, &o, expires_s, &n, &rule, err),
        &rule);
    return rc == ERR_OK ? negotiation_answer(srv, req, &n, 201, res, err) : rc;
}

/* GET /v1/negotiations/{id} */
enum err http__negotiation_get(struct http_server *srv, struct http_request *req,
                               struct http_response *res, struct errbuf *err)
{
    struct store_negotiation n;
    enum err rc = core_negotiation_get(&srv->core, &req->who, param(req, "id"), &n, err);
    return rc == ERR_OK ? negotiation_answer(srv, req, &n, 200, res, err) : rc;
}

/* GET /v1/negotiations?status=&cursor=&limit= */
enum err http__negotiation_list(struct http_server *srv, struct http_request *req,
                                struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"status", "cursor", "limit", NULL};
    struct store_negotiation_filter f = {NULL, http__query_get(req, "status"),
                                         http__query_get(req, "cursor"), 0};
    enum err rc = page_query(req, names, &f.limit, err);
    struct store_negotiation_page page;
    if (rc == ERR_OK) {
        rc = core_negotiation_list(&srv->core, &req->who, &f, &page, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < page.count; i++) {
        if (json_array_append_new(items, negotiation_json(&page.items[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    json_t *body = page_json(items, page.next_cursor);
    store_negotiation_page_release(&page);
    return answer(res, body, 200, NULL, NULL, err);
}

/* POST /v1/negotiations/{id}/offers {price, currency?, terms?} */
enum err http__negotiation_offer(struct http_server *srv, struct http_request *req,
                                 struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"price", "currency", "terms", NULL};
    struct core_offer o;
    enum err rc = offer_parse(req->body, names, &o, err);
    if (rc != ERR_OK) {
        return rc;
    }
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct store_negotiation n;
    rc = refused(
        res, core_negotiation_offer(&srv->core, &req->who, param(req, "id"), &o, &n, &rule, err),
        &rule);
    return rc == ERR_OK ? negotiation_answer(srv, req, &n, 200, res, err) : rc;
}

/* POST /v1/negotiations/{id}/accept: the negotiation, with the order it made. */
enum err http__negotiation_accept(struct http_server *srv, struct http_request *req,
                                  struct http_response *res, struct errbuf *err)
{
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct store_negotiation n;
    struct store_order o;
    enum err rc = refused(
        res, core_negotiation_accept(&srv->core, &req->who, param(req, "id"), &n, &o, &rule, err),
        &rule);
    if (rc == ERR_OK) {
        rc = negotiation_answer(srv, req, &n, 200, res, err);
    }
    if (rc == ERR_OK && json_object_set_new(res->body, "order", order_json(&o)) != 0) {
        rc = oom(err);
    }
    return rc;
}

/* POST /v1/negotiations/{id}/reject {reason?} */
enum err http__negotiation_reject(struct http_server *srv, struct http_request *req,
                                  struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"reason", NULL};
    const char *reason = NULL;
    enum err rc = ERR_OK;
    if (req->body != NULL) {
        rc = http__json_only(req->body, names, err);
        if (rc == ERR_OK) {
            rc = http__json_str(req->body, "reason", &reason, err);
        }
    }
    struct store_negotiation n;
    if (rc == ERR_OK) {
        rc = core_negotiation_reject(&srv->core, &req->who, param(req, "id"), reason, &n, err);
    }
    return rc == ERR_OK ? negotiation_answer(srv, req, &n, 200, res, err) : rc;
}

/* ---- auctions ---- */

static enum err auction_answer(struct http_server *srv, struct http_request *req,
                               const struct store_auction *a, int status, struct http_response *res,
                               struct errbuf *err)
{
    struct store_bid *bids = NULL;
    size_t count = 0;
    enum err rc = core_auction_bids(&srv->core, &req->who, a, &bids, &count, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *body = auction_json(a, bids_json(bids, count));
    mem_free(bids);
    return answer(res, body, status, "/v1/auctions/", a->id, err);
}

/* POST /v1/auctions {listing_id, reserve?, currency?, closes_at?} */
enum err http__auction_open(struct http_server *srv, struct http_request *req,
                            struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"listing_id", "reserve", "currency", "closes_at", NULL};
    const char *listing_id = NULL, *currency = NULL, *closes = NULL;
    int64_t reserve = -1, closes_ms = 0;
    enum err rc = http__json_only(req->body, names, err);
    if (rc == ERR_OK) {
        rc = http__json_str(req->body, "listing_id", &listing_id, err);
    }
    if (rc == ERR_OK) {
        rc = http__json_str(req->body, "currency", &currency, err);
    }
    if (rc == ERR_OK) {
        rc = body_int(req->body, "reserve", 1, PRICING_AMOUNT_MAX, &reserve, err);
    }
    if (rc == ERR_OK) {
        rc = http__json_str(req->body, "closes_at", &closes, err);
    }
    if (rc == ERR_OK && closes != NULL && clock_parse_rfc3339(closes, &closes_ms) != ERR_OK) {
        rc = err_set(err, ERR_INVALID, "closes_at", "'closes_at' must be an RFC 3339 UTC time");
    }
    struct store_auction a;
    if (rc == ERR_OK) {
        rc = core_auction_open(&srv->core, &req->who, listing_id, reserve, currency, closes_ms, &a,
                               err);
    }
    return rc == ERR_OK ? auction_answer(srv, req, &a, 201, res, err) : rc;
}

/* GET /v1/auctions/{id} */
enum err http__auction_get(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    struct store_auction a;
    enum err rc = core_auction_get(&srv->core, &req->who, param(req, "id"), &a, err);
    return rc == ERR_OK ? auction_answer(srv, req, &a, 200, res, err) : rc;
}

/* GET /v1/listings/{id}/auction */
enum err http__listing_auction(struct http_server *srv, struct http_request *req,
                               struct http_response *res, struct errbuf *err)
{
    struct store_auction a;
    enum err rc = core_auction_for_listing(&srv->core, &req->who, param(req, "id"), &a, err);
    return rc == ERR_OK ? auction_answer(srv, req, &a, 200, res, err) : rc;
}

/* POST /v1/auctions/{id}/bids {amount}: the bid, with its salt and commitment. */
enum err http__auction_bid(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"amount", NULL};
    int64_t amount = 0;
    enum err rc = http__json_only(req->body, names, err);
    if (rc == ERR_OK) {
        rc = body_int(req->body, "amount", 1, PRICING_AMOUNT_MAX, &amount, err);
    }
    if (rc == ERR_OK && amount == 0) {
        rc = err_set(err, ERR_INVALID, "amount", "'amount' is required");
    }
    if (rc != ERR_OK) {
        return rc;
    }
    enum core_trade_rule rule = CORE_RULE_NONE;
    struct store_bid b;
    rc = refused(res,
                 core_auction_bid(&srv->core, &req->who, param(req, "id"), amount, &b, &rule, err),
                 &rule);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = bids_json(&b, 1);
    json_t *body = json_incref(json_array_get(items, 0));
    json_decref(items);
    return answer(res, body, 201, "/v1/auctions/", b.auction_id, err);
}

/* POST /v1/auctions/{id}/close: the closed auction, every bid revealed. */
enum err http__auction_close(struct http_server *srv, struct http_request *req,
                             struct http_response *res, struct errbuf *err)
{
    struct store_auction a;
    enum err rc = core_auction_close(&srv->core, &req->who, param(req, "id"), &a, NULL, err);
    return rc == ERR_OK ? auction_answer(srv, req, &a, 200, res, err) : rc;
}
