/*
 * catalogue.c: the handlers of the demand side: pricing inputs and reference prices,
 * listings and the catalogue search, demands and their matches, the inbox. Each checks the
 * request's shape, calls one core function and renders the answer; docs/api.md describes
 * every route.
 *
 * The catalogue is public: GET /v1/listings and GET /v1/listings/{id} answer anonymous callers
 * too (with public listings only), as an exchange's website shows its catalogue. A listing's
 * private details (a negotiable floor, the named buyers of a private offer, the supervision
 * flag) are shown to its provider, the operator and regulators only.
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

/* A non-negative integer query parameter, or -1 when absent. */
static enum err query_int(const struct http_request *req, const char *name, int64_t max,
                          int64_t *out, struct errbuf *err)
{
    *out = -1;
    const char *s = http__query_get(req, name);
    if (s == NULL) {
        return ERR_OK;
    }
    int64_t v = 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || n > 16) {
            v = -1;
            break;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (n == 0 || v < 0 || v > max) {
        return err_set(err, ERR_INVALID, name, "%s must be an integer from 0 to %lld", name,
                       (long long)max);
    }
    *out = v;
    return ERR_OK;
}

static enum err page_limit(const struct http_request *req, size_t *limit, struct errbuf *err)
{
    int64_t v = -1;
    enum err rc = query_int(req, "limit", STORE_PAGE_MAX, &v, err);
    if (rc == ERR_OK && v == 0) {
        rc = err_set(err, ERR_INVALID, "limit", "limit must be an integer from 1 to %d",
                     STORE_PAGE_MAX);
    }
    *limit = v > 0 ? (size_t)v : HTTP_PAGE_DEFAULT;
    return rc;
}

static json_t *stored_json(const char *text)
{
    json_t *v = text != NULL ? json_loads(text, 0, NULL) : NULL;
    return v != NULL ? v : json_null();
}

static json_t *time_or_null(int64_t ms)
{
    return ms > 0 ? http__time_json(ms) : json_null();
}

static json_t *text_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* Appends items to a page object. */
static json_t *page_json(json_t *items, const char *next_cursor)
{
    return json_pack("{s:o*, s:s*}", "items", items, "next_cursor",
                     next_cursor[0] != '\0' ? next_cursor : NULL);
}

/* ---- renderings ---- */

static json_t *inputs_json(const struct store_pricing_inputs *in)
{
    json_t *cost =
        in->has_cost
            ? json_pack("{s:I, s:I, s:I, s:I, s:I}", "collection", (json_int_t)in->collection,
                        "processing", (json_int_t)in->processing, "storage",
                        (json_int_t)in->storage, "labour", (json_int_t)in->labour, "margin_bp",
                        (json_int_t)in->margin_bp)
            : json_null();
    json_t *income = in->has_income
                         ? json_pack("{s:I, s:s, s:I, s:I}", "benefit_per_period",
                                     (json_int_t)in->benefit_per_period, "period", in->period,
                                     "periods", (json_int_t)in->periods, "discount_rate_bp",
                                     (json_int_t)in->discount_rate_bp)
                         : json_null();
    return json_pack("{s:s, s:I, s:s, s:o*, s:o*, s:s, s:o*, s:I}", "product_id", in->product_id,
                     "version", (json_int_t)in->version, "currency", in->currency, "cost", cost,
                     "income", income, "set_by", in->actor, "updated_at",
                     http__time_json(in->updated_ms), "log_index", (json_int_t)in->log_index);
}

static json_t *method_json(const struct pricing_result *r)
{
    json_t *steps = json_array();
    for (size_t i = 0; steps != NULL && i < r->step_count; i++) {
        if (json_array_append_new(steps, json_string(r->steps[i].text)) != 0) {
            json_decref(steps);
            steps = NULL;
        }
    }
    if (!r->available) {
        json_decref(steps);
        return json_pack("{s:b, s:s}", "available", 0, "reason", r->reason);
    }
    return json_pack("{s:b, s:I, s:I, s:I, s:o*}", "available", 1, "value", (json_int_t)r->value,
                     "low", (json_int_t)r->low, "high", (json_int_t)r->high, "steps", steps);
}

static json_t *reference_json(const struct core_reference *r)
{
    const struct pricing_reference *ref = &r->ref;
    json_t *market = method_json(&ref->method[PRICING_MARKET]);
    if (market != NULL && ref->method[PRICING_MARKET].available) {
        json_object_set_new(market, "dropped",
                            json_integer((json_int_t)ref->method[PRICING_MARKET].dropped));
    }
    if (market != NULL) {
        /* Which basis was used and how many values it had, and the trades found (listings
         * stand in below PRICING_TRADES_MIN of them). */
        json_object_set_new(market, "basis", json_string(r->comparables_basis));
        json_object_set_new(market, "comparables", json_integer((json_int_t)r->comparables));
        json_object_set_new(market, "cleared_trades", json_integer((json_int_t)r->cleared_trades));
    }
    json_t *corridor =
        ref->corridor_available
            ? json_pack("{s:I, s:I, s:s}", "low", (json_int_t)ref->corridor_low, "high",
                        (json_int_t)ref->corridor_high, "basis", ref->corridor_basis)
            : json_null();
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:o*, s:o*, s:{s:o*, s:o*, s:o*}, s:o*}", "product_id", r->product_id,
        "category", r->category, "kind", r->kind, "currency", ref->currency, "term_days",
        r->term_days > 0 ? json_integer(r->term_days) : json_null(), "inputs_version",
        r->inputs_version > 0 ? json_integer(r->inputs_version) : json_null(), "methods", "cost",
        method_json(&ref->method[PRICING_COST]), "income",
        method_json(&ref->method[PRICING_INCOME]), "market", market, "corridor", corridor);
}

/* A listing as who may see it (core_listing_owner_view adds the private details). */
static json_t *listing_json(struct http_server *srv, const struct core_principal *who,
                            const struct store_listing *l)
{
    int owner = core_listing_owner_view(who, l);
    json_t *price = stored_json(l->price_json);
    if (!owner && json_is_object(price)) {
        json_object_del(price, "floor");
    }
    json_t *reference =
        l->ref_low >= 0
            ? json_pack("{s:I, s:I, s:s, s:s}", "low", (json_int_t)l->ref_low, "high",
                        (json_int_t)l->ref_high, "currency", l->currency, "basis", l->ref_basis)
            : json_null();
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o*, s:o*, s:s, s:o*, s:b, s:o*, "
        "s:o*, s:o*, s:o*, s:o*, s:I}",
        "id", l->id, "product_id", l->product_id, "revision_id", l->revision_id, "provider_id",
        l->provider_id, "status", l->status, "board", l->board, "title", l->title, "category",
        l->category, "kind", l->kind, "classification", l->classification, "price", price,
        "headline_price", l->price >= 0 ? json_integer(l->price) : json_null(), "currency",
        l->currency, "terms", stored_json(l->terms_json), "private", (int)l->private_offer,
        "reference", reference, "created_at", http__time_json(l->created_ms), "updated_at",
        http__time_json(l->updated_ms), "delisted_at", time_or_null(l->delisted_ms),
        "delist_reason", text_or_null(l->delist_reason), "log_index", (json_int_t)l->log_index);
    if (o == NULL || !owner) {
        return o;
    }
    json_t *buyers = json_array();
    char ids[STORE_LISTING_BUYERS_MAX][ID_MAX];
    size_t n = 0;
    if (l->private_offer && store_listing_buyers(srv->core.store, l->id, ids, &n, NULL) != ERR_OK) {
        n = 0;
    }
    for (size_t i = 0; buyers != NULL && i < n; i++) {
        json_array_append_new(buyers, json_string(ids[i]));
    }
    if (buyers == NULL || json_object_set_new(o, "buyers", buyers) != 0 ||
        json_object_set_new(o, "price_flag", text_or_null(l->price_flag)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *demand_json(const struct store_demand *d)
{
    char deadline[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(d->deadline_ms, deadline);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o*, s:s, s:{s:I, s:s}, s:s, s:o*, s:o*, s:o*, "
                     "s:o*, s:I}",
                     "id", d->id, "buyer_id", d->buyer_id, "status", d->status, "text", d->text,
                     "category", d->category, "kind", text_or_null(d->kind), "purpose", d->purpose,
                     "budget", "amount", (json_int_t)d->budget, "currency", d->currency, "deadline",
                     deadline, "created_at", http__time_json(d->created_ms), "updated_at",
                     http__time_json(d->updated_ms), "closed_at", time_or_null(d->closed_ms),
                     "close_reason", text_or_null(d->close_reason), "log_index",
                     (json_int_t)d->log_index);
}

static json_t *note_json(const struct store_notification *n)
{
    return json_pack("{s:s, s:s, s:s, s:o*, s:b, s:o*, s:o*, s:I}", "id", n->id, "type", n->type,
                     "subject_id", n->subject_id, "body", stored_json(n->body), "read",
                     n->read_ms > 0, "created_at", http__time_json(n->created_ms), "read_at",
                     time_or_null(n->read_ms), "log_index", (json_int_t)n->log_index);
}

static json_t *facets_json(const struct store_listing_results *r)
{
    static const char *const names[STORE_FACET__COUNT] = {"category", "kind", "delivery",
                                                          "classification", "board"};
    json_t *o = json_object();
    for (size_t f = 0; o != NULL && f < STORE_FACET__COUNT; f++) {
        json_t *list = json_array();
        for (size_t i = 0; list != NULL && i < r->facet_count[f]; i++) {
            const char *value = r->facets[f][i].value;
            if (f == STORE_FACET_DELIVERY) {
                value = core_delivery_name((unsigned)(value[0] - '0'));
                value = value != NULL ? value : "unknown";
            }
            json_array_append_new(list, json_pack("{s:s, s:I}", "value", value, "count",
                                                  (json_int_t)r->facets[f][i].count));
        }
        if (list == NULL || json_object_set_new(o, names[f], list) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

static enum err results_answer(struct http_server *srv, const struct core_principal *who,
                               struct store_listing_results *r, struct http_response *res,
                               struct errbuf *err)
{
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < r->count; i++) {
        json_t *l = listing_json(srv, who, &r->items[i]);
        if (l == NULL || json_object_set_new(l, "score", json_integer(r->scores[i])) != 0 ||
            json_array_append_new(items, l) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    res->body = page_json(items, r->next_cursor);
    json_t *facets = facets_json(r);
    if (res->body == NULL || items == NULL || facets == NULL ||
        json_object_set_new(res->body, "total", json_integer((json_int_t)r->total)) != 0 ||
        json_object_set_new(res->body, "truncated", json_boolean(r->truncated)) != 0 ||
        json_object_set_new(res->body, "facets", facets) != 0) {
        store_listing_results_release(r);
        return oom(err);
    }
    store_listing_results_release(r);
    res->status = 200;
    return ERR_OK;
}

/* ---- pricing ---- */

/* GET /v1/products/{id}/pricing-inputs */
enum err http__pricing_inputs_get(struct http_server *srv, struct http_request *req,
                                  struct http_response *res, struct errbuf *err)
{
    struct store_pricing_inputs in;
    enum err rc = core_pricing_inputs_get(&srv->core, &req->who, param(req, "id"), &in, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = inputs_json(&in);
    res->status = 200;
    return res->body != NULL ? ERR_OK : oom(err);
}

/* PUT /v1/products/{id}/pricing-inputs: the body is the inputs. */
enum err http__pricing_inputs_set(struct http_server *srv, struct http_request *req,
                                  struct http_response *res, struct errbuf *err)
{
    struct store_pricing_inputs in;
    enum err rc =
        core_pricing_inputs_set(&srv->core, &req->who, param(req, "id"), req->body, &in, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = inputs_json(&in);
    res->status = 200;
    return res->body != NULL ? ERR_OK : oom(err);
}

/* GET /v1/products/{id}/reference-price[?currency=CNY][&term_days=N] */
enum err http__price_reference(struct http_server *srv, struct http_request *req,
                               struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"currency", "term_days", NULL};
    int64_t term_days = -1;
    enum err rc = http__query_only(req, allowed, err);
    if (rc == ERR_OK) {
        rc = query_int(req, "term_days", CORE_TERM_DAYS_MAX, &term_days, err);
    }
    if (rc == ERR_OK && term_days == 0) {
        rc =
            err_set(err, ERR_INVALID, "term_days", "term_days must be 1 to %d", CORE_TERM_DAYS_MAX);
    }
    struct core_reference *r = rc == ERR_OK ? mem_calloc(1, sizeof(*r)) : NULL;
    if (rc == ERR_OK && r == NULL) {
        rc = oom(err);
    }
    if (rc == ERR_OK) {
        rc = core_price_reference(&srv->core, &req->who, param(req, "id"),
                                  http__query_get(req, "currency"), term_days > 0 ? term_days : 0,
                                  r, err);
    }
    if (rc == ERR_OK) {
        res->body = reference_json(r);
        res->status = 200;
        rc = res->body != NULL ? ERR_OK : oom(err);
    }
    mem_free(r);
    return rc;
}

/* ---- listings ---- */

static enum err listing_answer(struct http_server *srv, const struct core_principal *who,
                               struct store_listing *l, int status, struct http_response *res,
                               struct errbuf *err)
{
    res->body = listing_json(srv, who, l);
    res->status = status;
    if (status == 201) {
        snprintf(res->location, sizeof(res->location), "/v1/listings/%s", l->id);
    }
    store_listing_release(l);
    return res->body != NULL ? ERR_OK : oom(err);
}

/* POST /v1/listings */
enum err http__listing_create(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    struct store_listing l;
    size_t matched = 0;
    enum err rc = core_listing_create(&srv->core, &req->who, req->body, &l, &matched, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = listing_answer(srv, &req->who, &l, 201, res, err);
    if (rc == ERR_OK &&
        json_object_set_new(res->body, "matched_demands", json_integer((json_int_t)matched)) != 0) {
        rc = oom(err);
    }
    return rc;
}

/* GET /v1/listings/{id} */
enum err http__listing_get(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    struct store_listing l;
    enum err rc = core_listing_get(&srv->core, &req->who, param(req, "id"), &l, err);
    return rc == ERR_OK ? listing_answer(srv, &req->who, &l, 200, res, err) : rc;
}

/* The optional {"reason"} body of a delisting or a closing. */
static enum err reason_body(const struct http_request *req, const char **reason, struct errbuf *err)
{
    static const char *const names[] = {"reason", NULL};
    *reason = NULL;
    if (req->body == NULL) {
        return ERR_OK;
    }
    enum err rc = http__json_only(req->body, names, err);
    return rc == ERR_OK ? http__json_str(req->body, "reason", reason, err) : rc;
}

/* POST /v1/listings/{id}/delist */
enum err http__listing_delist(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    const char *reason = NULL;
    enum err rc = reason_body(req, &reason, err);
    struct store_listing l;
    if (rc == ERR_OK) {
        rc = core_listing_delist(&srv->core, &req->who, param(req, "id"), reason, &l, err);
    }
    return rc == ERR_OK ? listing_answer(srv, &req->who, &l, 200, res, err) : rc;
}

/* GET /v1/listings: the catalogue. */
enum err http__listing_search(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {
        "q",        "category", "kind",           "price_min", "price_max", "currency", "provider",
        "delivery", "status",   "classification", "board",     "limit",     "cursor",   NULL,
    };
    struct core_listing_search s;
    memset(&s, 0, sizeof(s));
    enum err rc = http__query_only(req, allowed, err);
    if (rc == ERR_OK) {
        rc = page_limit(req, &s.limit, err);
    }
    if (rc == ERR_OK) {
        rc = query_int(req, "price_min", PRICING_AMOUNT_MAX, &s.price_min, err);
    }
    if (rc == ERR_OK) {
        rc = query_int(req, "price_max", PRICING_AMOUNT_MAX, &s.price_max, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    s.q = http__query_get(req, "q");
    s.category = http__query_get(req, "category");
    s.kind = http__query_get(req, "kind");
    s.classification = http__query_get(req, "classification");
    s.board = http__query_get(req, "board");
    s.provider_id = http__query_get(req, "provider");
    s.currency = http__query_get(req, "currency");
    s.delivery = http__query_get(req, "delivery");
    s.status = http__query_get(req, "status");
    s.cursor = http__query_get(req, "cursor");
    struct store_listing_results *r = mem_calloc(1, sizeof(*r));
    if (r == NULL) {
        return oom(err);
    }
    rc = core_listing_search(&srv->core, &req->who, &s, r, err);
    if (rc == ERR_OK) {
        rc = results_answer(srv, &req->who, r, res, err);
    }
    mem_free(r);
    return rc;
}

/* ---- demands ---- */

/* POST /v1/demands */
enum err http__demand_post(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    struct store_demand d;
    size_t matched = 0;
    enum err rc = core_demand_post(&srv->core, &req->who, req->body, &d, &matched, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = demand_json(&d);
    res->status = 201;
    snprintf(res->location, sizeof(res->location), "/v1/demands/%s", d.id);
    if (res->body == NULL || json_object_set_new(res->body, "matched_listings",
                                                 json_integer((json_int_t)matched)) != 0) {
        return oom(err);
    }
    return ERR_OK;
}

/* GET /v1/demands/{id}: with the matches made, for the buyer and supervisors. */
enum err http__demand_get(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    struct store_demand d;
    enum err rc = core_demand_get(&srv->core, &req->who, param(req, "id"), &d, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = demand_json(&d);
    res->status = 200;
    if (res->body == NULL) {
        return oom(err);
    }
    const struct core_principal *who = &req->who;
    if (strcmp(who->id, d.buyer_id) != 0 && who->kind != CORE_KIND_OPERATOR &&
        who->kind != CORE_KIND_REGULATOR) {
        return ERR_OK;
    }
    struct store_demand_match *m = NULL;
    size_t n = 0;
    rc = store_demand_match_list(srv->core.store, d.id, STORE_PAGE_MAX, &m, &n, err);
    json_t *list = rc == ERR_OK ? json_array() : NULL;
    for (size_t i = 0; list != NULL && i < n; i++) {
        json_array_append_new(list, json_pack("{s:s, s:I, s:o*, s:I}", "listing_id",
                                              m[i].listing_id, "score", (json_int_t)m[i].score,
                                              "matched_at", http__time_json(m[i].created_ms),
                                              "log_index", (json_int_t)m[i].log_index));
    }
    mem_free(m);
    if (rc == ERR_OK && (list == NULL || json_object_set_new(res->body, "matches", list) != 0)) {
        rc = oom(err);
    }
    return rc;
}

/* GET /v1/demands */
enum err http__demand_list(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"buyer", "category", "kind", "status",
                                          "limit", "cursor",   NULL};
    struct store_demand_filter f;
    memset(&f, 0, sizeof(f));
    enum err rc = http__query_only(req, allowed, err);
    if (rc == ERR_OK) {
        rc = page_limit(req, &f.limit, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    f.buyer_id = http__query_get(req, "buyer");
    f.category = http__query_get(req, "category");
    f.kind = http__query_get(req, "kind");
    f.status = http__query_get(req, "status");
    f.cursor = http__query_get(req, "cursor");
    struct store_demand_page page;
    rc = core_demand_list(&srv->core, &req->who, &f, &page, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < page.count; i++) {
        if (json_array_append_new(items, demand_json(&page.items[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    res->body = page_json(items, page.next_cursor);
    store_demand_page_release(&page);
    res->status = 200;
    return res->body != NULL && items != NULL ? ERR_OK : oom(err);
}

/* GET /v1/demands/{id}/matches: the listings matching it now, ranked. */
enum err http__demand_matches(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    size_t limit = 0;
    enum err rc = http__query_only(req, allowed, err);
    if (rc == ERR_OK) {
        rc = page_limit(req, &limit, err);
    }
    struct store_listing_results *r = rc == ERR_OK ? mem_calloc(1, sizeof(*r)) : NULL;
    if (rc == ERR_OK && r == NULL) {
        rc = oom(err);
    }
    if (rc == ERR_OK) {
        rc = core_demand_matches(&srv->core, &req->who, param(req, "id"),
                                 http__query_get(req, "cursor"), limit, r, err);
    }
    if (rc == ERR_OK) {
        rc = results_answer(srv, &req->who, r, res, err);
    }
    mem_free(r);
    return rc;
}

/* POST /v1/demands/{id}/close */
enum err http__demand_close(struct http_server *srv, struct http_request *req,
                            struct http_response *res, struct errbuf *err)
{
    const char *reason = NULL;
    enum err rc = reason_body(req, &reason, err);
    struct store_demand d;
    if (rc == ERR_OK) {
        rc = core_demand_close(&srv->core, &req->who, param(req, "id"), reason, &d, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = demand_json(&d);
    res->status = 200;
    return res->body != NULL ? ERR_OK : oom(err);
}

/* ---- the inbox ---- */

/* GET /v1/inbox[?status=unread|read|all] */
enum err http__inbox_list(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"status", "limit", "cursor", NULL};
    size_t limit = 0;
    enum err rc = http__query_only(req, allowed, err);
    if (rc == ERR_OK) {
        rc = page_limit(req, &limit, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_notification_page page;
    rc = core_inbox_list(&srv->core, &req->who, http__query_get(req, "status"),
                         http__query_get(req, "cursor"), limit, &page, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < page.count; i++) {
        if (json_array_append_new(items, note_json(&page.items[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    res->body = page_json(items, page.next_cursor);
    if (res->body != NULL) {
        json_object_set_new(res->body, "unread", json_integer(page.unread));
    }
    store_notification_page_release(&page);
    res->status = 200;
    return res->body != NULL && items != NULL ? ERR_OK : oom(err);
}

/* POST /v1/inbox/{id}/read */
enum err http__inbox_read(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    struct store_notification n;
    enum err rc = core_inbox_read(&srv->core, &req->who, param(req, "id"), &n, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = note_json(&n);
    res->status = 200;
    return res->body != NULL ? ERR_OK : oom(err);
}
