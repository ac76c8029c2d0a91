/*
 * clearing.c: the handlers of the ledger: the operator's record of bank movements, balances,
 * history and statements, fee schedules, and operator routes over escrow (hold, settle, void,
 * sweep) and memberships that the trading module will drive in process. Each parses and checks
 * the request's shape, calls one clearing function, and renders the result.
 *
 * Money in JSON is an integer count of minor units with an ISO 4217 `currency`; a float (even
 * 10.0) or a string amount is ERR_INVALID, so no binary fraction ever reaches the ledger.
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "http/http.h"
#include "http/http_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

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

static struct clearing ledger(struct http_server *srv)
{
    struct clearing c = {srv->core.store, srv->core.clock, srv->core.rng};
    return c;
}

/* The caller as clearing sees it. */
static struct clearing_actor actor(const struct http_request *req)
{
    struct clearing_actor a = {req->who.id, CLEARING_ROLE_ENTITY};
    if (req->who.kind == CORE_KIND_OPERATOR) {
        a.role = CLEARING_ROLE_OPERATOR;
    } else if (req->who.kind == CORE_KIND_REGULATOR && req->who.status == CORE_STATUS_VERIFIED) {
        a.role = CLEARING_ROLE_REGULATOR;
    }
    return a;
}

/* An integer member: absent (or null) leaves *out and *given = 0; anything but a JSON integer
 * (a float, a string, a boolean) is ERR_INVALID. */
static enum err json_int(json_t *obj, const char *name, int64_t *out, int *given,
                         struct errbuf *err)
{
    json_t *v = json_object_get(obj, name);
    if (given != NULL) {
        *given = 0;
    }
    if (v == NULL || json_is_null(v)) {
        return ERR_OK;
    }
    if (!json_is_integer(v)) {
        return err_set(err, ERR_INVALID, name, "'%s' must be an integer (minor units, no fraction)",
                       name);
    }
    *out = (int64_t)json_integer_value(v);
    if (given != NULL) {
        *given = 1;
    }
    return ERR_OK;
}

static enum err json_strs(json_t *obj, const char *const *names, const char **const *dst, size_t n,
                          struct errbuf *err)
{
    enum err rc = ERR_OK;
    for (size_t i = 0; i < n && rc == ERR_OK; i++) {
        rc = http__json_str(obj, names[i], dst[i], err);
    }
    return rc;
}

static json_t *time_json(int64_t ms)
{
    return http__time_json(ms);
}

static json_t *transfer_json(const struct store_ledger_transfer *t)
{
    json_t *o = clearing_transfer_json(t);
    if (o == NULL) {
        return NULL;
    }
    json_t *extra = json_pack("{s:s, s:I, s:I, s:o*, s:s}", "state", t->state, "seq",
                              (json_int_t)t->seq, "log_index", (json_int_t)t->log_index,
                              "created_at", time_json(t->created_ms), "caller", t->caller);
    if (extra == NULL || json_object_update(o, extra) != 0) {
        json_decref(extra);
        json_decref(o);
        return NULL;
    }
    json_decref(extra);
    return o;
}

static json_t *account_json(const struct store_ledger_account *a)
{
    json_t *flags = json_array();
    if (flags != NULL && (a->flags & CLEARING_DEBITS_MUST_NOT_EXCEED_CREDITS)) {
        json_array_append_new(flags, json_string("debits_must_not_exceed_credits"));
    }
    if (flags != NULL && (a->flags & CLEARING_CREDITS_MUST_NOT_EXCEED_DEBITS)) {
        json_array_append_new(flags, json_string("credits_must_not_exceed_debits"));
    }
    int64_t balance = a->credits_posted - a->debits_posted;
    int64_t pending = a->credits_pending - a->debits_pending;
    int64_t available = balance - a->debits_pending;
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:o*, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o*}",
                     "id", a->id, "owner", a->owner, "kind", a->kind, "currency", a->currency,
                     "exponent", clearing_currency_exponent(a->currency), "flags", flags,
                     "debits_posted", (json_int_t)a->debits_posted, "credits_posted",
                     (json_int_t)a->credits_posted, "debits_pending", (json_int_t)a->debits_pending,
                     "credits_pending", (json_int_t)a->credits_pending, "balance",
                     (json_int_t)balance, "pending", (json_int_t)pending, "available",
                     (json_int_t)available, "opened_at", time_json(a->created_ms));
}

static json_t *schedule_json(const struct store_fee_schedule *f)
{
    json_t *o = clearing_fee_schedule_json(f);
    json_t *extra = json_pack("{s:s, s:o*, s:I}", "actor", f->actor, "created_at",
                              time_json(f->created_ms), "log_index", (json_int_t)f->log_index);
    if (o == NULL || extra == NULL || json_object_update(o, extra) != 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(extra);
    return o;
}

/* A transfer answer: 201 when it was made now, 200 for a retry of an earlier one. */
static enum err transfer_reply(struct http_response *res, const struct store_ledger_transfer *t,
                               int replayed, struct errbuf *err)
{
    res->body = transfer_json(t);
    if (res->body == NULL ||
        json_object_set_new(res->body, "replayed", json_boolean(replayed)) != 0) {
        return oom(err);
    }
    res->status = replayed ? 200 : 201;
    snprintf(res->location, sizeof(res->location), "/v1/ledger/transfers/%s", t->id);
    return ERR_OK;
}

/* ---- bank movements ---- */

static enum err movement(struct http_server *srv, struct http_request *req,
                         struct http_response *res, int deposit, struct errbuf *err)
{
    static const char *const fields[] = {"entity",    "currency",        "amount",
                                         "reference", "idempotency_key", NULL};
    struct clearing_movement m;
    memset(&m, 0, sizeof(m));
    int given = 0;
    static const char *const names[] = {"entity", "currency", "reference", "idempotency_key"};
    const char **dst[] = {&m.entity_id, &m.currency, &m.reference, &m.idempotency_key};
    enum err rc = http__json_only(req->body, fields, err);
    if (rc == ERR_OK) {
        rc = json_strs(req->body, names, dst, ARRAY_LEN(names), err);
    }
    if (rc == ERR_OK) {
        rc = json_int(req->body, "amount", &m.amount, &given, err);
    }
    if (rc == ERR_OK && !given) {
        rc = err_set(err, ERR_INVALID, "amount", "'amount' is required");
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing c = ledger(srv);
    struct clearing_actor who = actor(req);
    struct store_ledger_transfer t;
    int replayed = 0;
    rc = deposit ? clearing_deposit(&c, &who, &m, &t, &replayed, err)
                 : clearing_withdraw(&c, &who, &m, &t, &replayed, err);
    return rc == ERR_OK ? transfer_reply(res, &t, replayed, err) : rc;
}

/* POST /v1/ledger/deposits */
enum err http__ledger_deposit(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    return movement(srv, req, res, 1, err);
}

/* POST /v1/ledger/withdrawals */
enum err http__ledger_withdrawal(struct http_server *srv, struct http_request *req,
                                 struct http_response *res, struct errbuf *err)
{
    return movement(srv, req, res, 0, err);
}

/* ---- reading ---- */

/* GET /v1/entities/{id}/accounts */
enum err http__ledger_accounts(struct http_server *srv, struct http_request *req,
                               struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {NULL};
    enum err rc = http__query_only(req, allowed, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing c = ledger(srv);
    struct clearing_actor who = actor(req);
    struct store_ledger_account *acc = NULL;
    size_t n = 0;
    rc = clearing_accounts(&c, &who, param(req, "id"), &acc, &n, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < n; i++) {
        if (json_array_append_new(items, account_json(&acc[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    mem_free(acc);
    res->body = json_pack("{s:s, s:o*}", "entity", param(req, "id"), "items", items);
    if (items == NULL || res->body == NULL) {
        return oom(err);
    }
    res->status = 200;
    return ERR_OK;
}

static enum err limit_parse(const struct http_request *req, size_t max, size_t *out,
                            struct errbuf *err)
{
    const char *limit = http__query_get(req, "limit");
    *out = HTTP_PAGE_DEFAULT;
    if (limit == NULL) {
        return ERR_OK;
    }
    size_t v = 0;
    for (const char *p = limit; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > max) {
            v = 0;
            break;
        }
        v = v * 10 + (size_t)(*p - '0');
    }
    if (v < 1 || v > max) {
        return err_set(err, ERR_INVALID, "limit", "limit must be an integer from 1 to %zu", max);
    }
    *out = v;
    return ERR_OK;
}

/* GET /v1/entities/{id}/ledger?cursor=&limit= */
enum err http__ledger_history(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"cursor", "limit", NULL};
    size_t limit = 0;
    enum err rc = http__query_only(req, allowed, err);
    if (rc == ERR_OK) {
        rc = limit_parse(req, CLEARING_PAGE_MAX, &limit, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing c = ledger(srv);
    struct clearing_actor who = actor(req);
    struct clearing_history h;
    rc = clearing_entity_history(&c, &who, param(req, "id"), http__query_get(req, "cursor"), limit,
                                 &h, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < h.count; i++) {
        if (json_array_append_new(items, transfer_json(&h.items[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    res->body = json_pack("{s:o*, s:s*}", "items", items, "next_cursor",
                          h.next_cursor[0] != '\0' ? h.next_cursor : NULL);
    clearing_history_release(&h);
    if (items == NULL || res->body == NULL) {
        return oom(err);
    }
    res->status = 200;
    return ERR_OK;
}

/* GET /v1/entities/{id}/statement?from=&to=[&currency=] */
enum err http__ledger_statement(struct http_server *srv, struct http_request *req,
                                struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"from", "to", "currency", NULL};
    enum err rc = http__query_only(req, allowed, err);
    int64_t from = 0, to = 0;
    static const char *const bounds[] = {"from", "to"};
    int64_t *dst[] = {&from, &to};
    for (size_t i = 0; i < ARRAY_LEN(bounds) && rc == ERR_OK; i++) {
        const char *v = http__query_get(req, bounds[i]);
        if (v == NULL || clock_parse_rfc3339(v, dst[i]) != ERR_OK) {
            rc = err_set(err, ERR_INVALID, bounds[i],
                         "'%s' must be an RFC 3339 UTC time such as 2026-11-01T00:00:00Z",
                         bounds[i]);
        }
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing c = ledger(srv);
    struct clearing_actor who = actor(req);
    struct buf csv;
    buf_init(&csv, CLEARING_STATEMENT_BYTES_MAX);
    rc = clearing_statement(&c, &who, param(req, "id"), http__query_get(req, "currency"), from, to,
                            &csv, err);
    if (rc != ERR_OK) {
        buf_release(&csv);
        return rc;
    }
    res->text = buf_detach(&csv, &res->text_len);
    if (res->text == NULL) {
        return oom(err);
    }
    res->status = 200;
    res->content_type = "text/csv; charset=utf-8";
    return ERR_OK;
}

/* GET /v1/ledger/transfers/{id} */
enum err http__ledger_transfer_get(struct http_server *srv, struct http_request *req,
                                   struct http_response *res, struct errbuf *err)
{
    struct clearing c = ledger(srv);
    struct clearing_actor who = actor(req);
    struct store_ledger_transfer t;
    enum err rc = clearing_transfer_get(&c, &who, param(req, "id"), &t, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = transfer_json(&t);
    res->status = 200;
    return res->body != NULL ? ERR_OK : oom(err);
}

/* ---- fee schedules ---- */

/* POST /v1/fee-schedules */
enum err http__fee_schedule_create(struct http_server *srv, struct http_request *req,
                                   struct http_response *res, struct errbuf *err)
{
    static const char *const fields[] = {"name", "kind",         "currency", "rate_bp", "minimum",
                                         "cap",  "fixed_amount", "period",   NULL};
    struct clearing_fee_schedule_in in;
    memset(&in, 0, sizeof(in));
    static const char *const names[] = {"name", "kind", "currency", "period"};
    const char **strs[] = {&in.name, &in.kind, &in.currency, &in.period};
    static const char *const ints[] = {"rate_bp", "minimum", "cap", "fixed_amount"};
    int64_t *vals[] = {&in.rate_bp, &in.minimum, &in.cap, &in.fixed_amount};
    enum err rc = http__json_only(req->body, fields, err);
    if (rc == ERR_OK) {
        rc = json_strs(req->body, names, strs, ARRAY_LEN(names), err);
    }
    for (size_t i = 0; i < ARRAY_LEN(ints) && rc == ERR_OK; i++) {
        rc = json_int(req->body, ints[i], vals[i], NULL, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing c = ledger(srv);
    struct clearing_actor who = actor(req);
    struct store_fee_schedule f;
    rc = clearing_fee_schedule_create(&c, &who, &in, &f, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = schedule_json(&f);
    res->status = 201;
    snprintf(res->location, sizeof(res->location), "/v1/fee-schedules/%s", f.id);
    return res->body != NULL ? ERR_OK : oom(err);
}

/* GET /v1/fee-schedules[?name=] */
enum err http__fee_schedule_list(struct http_server *srv, struct http_request *req,
                                 struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"name", NULL};
    enum err rc = http__query_only(req, allowed, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing c = ledger(srv);
    struct store_fee_schedule *list = NULL;
    size_t n = 0;
    rc = clearing_fee_schedule_list(&c, http__query_get(req, "name"), &list, &n, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < n; i++) {
        if (json_array_append_new(items, schedule_json(&list[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    mem_free(list);
    res->body = json_pack("{s:o*}", "items", items);
    if (items == NULL || res->body == NULL) {
        return oom(err);
    }
    res->status = 200;
    return ERR_OK;
}

/* GET /v1/fee-schedules/{id} */
enum err http__fee_schedule_get(struct http_server *srv, struct http_request *req,
                                struct http_response *res, struct errbuf *err)
{
    struct clearing c = ledger(srv);
    struct store_fee_schedule f;
    enum err rc = clearing_fee_schedule_get(&c, param(req, "id"), &f, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = schedule_json(&f);
    res->status = 200;
    return res->body != NULL ? ERR_OK : oom(err);
}

/* POST /v1/ledger/memberships */
enum err http__ledger_membership(struct http_server *srv, struct http_request *req,
                                 struct http_response *res, struct errbuf *err)
{
    static const char *const fields[] = {"entity", "fee_schedule", NULL};
    const char *entity = NULL, *schedule = NULL;
    static const char *const names[] = {"entity", "fee_schedule"};
    const char **dst[] = {&entity, &schedule};
    enum err rc = http__json_only(req->body, fields, err);
    if (rc == ERR_OK) {
        rc = json_strs(req->body, names, dst, ARRAY_LEN(names), err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing c = ledger(srv);
    struct clearing_actor who = actor(req);
    struct store_ledger_transfer t;
    int replayed = 0;
    rc = clearing_membership_charge(&c, &who, schedule, entity, &t, &replayed, err);
    return rc == ERR_OK ? transfer_reply(res, &t, replayed, err) : rc;
}

/* ---- escrow (operator routes over what the trading module calls in process) ---- */

/* POST /v1/ledger/holds */
enum err http__ledger_hold(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    static const char *const fields[] = {
        "buyer", "currency", "amount", "timeout_seconds", "reference", "idempotency_key", NULL};
    struct clearing_hold h;
    memset(&h, 0, sizeof(h));
    static const char *const names[] = {"buyer", "currency", "reference", "idempotency_key"};
    const char **dst[] = {&h.buyer_id, &h.currency, &h.reference, &h.idempotency_key};
    int given = 0;
    int64_t timeout_s = 0;
    enum err rc = http__json_only(req->body, fields, err);
    if (rc == ERR_OK) {
        rc = json_strs(req->body, names, dst, ARRAY_LEN(names), err);
    }
    if (rc == ERR_OK) {
        rc = json_int(req->body, "amount", &h.amount, &given, err);
    }
    if (rc == ERR_OK && !given) {
        rc = err_set(err, ERR_INVALID, "amount", "'amount' is required");
    }
    if (rc == ERR_OK) {
        rc = json_int(req->body, "timeout_seconds", &timeout_s, NULL, err);
    }
    if (rc == ERR_OK && (timeout_s < 0 || timeout_s > CLEARING_TIMEOUT_MAX_MS / 1000)) {
        rc = err_set(err, ERR_INVALID, "timeout_seconds",
                     "'timeout_seconds' must be 0 (never) to %" PRId64,
                     CLEARING_TIMEOUT_MAX_MS / 1000);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    h.timeout_ms = timeout_s * 1000;
    struct clearing c = ledger(srv);
    struct clearing_actor who = actor(req);
    struct store_ledger_transfer t;
    int replayed = 0;
    rc = clearing_hold(&c, &who, &h, &t, &replayed, err);
    return rc == ERR_OK ? transfer_reply(res, &t, replayed, err) : rc;
}

/* Reads [{"recipient": id, "bp": n}, ...] into shares. */
static enum err shares_parse(json_t *body, const char *name, struct clearing_share *out,
                             size_t *count, struct errbuf *err)
{
    static const char *const fields[] = {"recipient", "bp", NULL};
    json_t *a = json_object_get(body, name);
    *count = 0;
    if (a == NULL || json_is_null(a)) {
        return ERR_OK;
    }
    if (!json_is_array(a) || json_array_size(a) > CLEARING_SHARES_MAX) {
        return err_set(err, ERR_INVALID, name, "'%s' must be an array of at most %d shares", name,
                       CLEARING_SHARES_MAX);
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *s = json_array_get(a, i);
        int given = 0;
        enum err rc = json_is_object(s) ? http__json_only(s, fields, err) : ERR_INVALID;
        if (rc == ERR_OK) {
            rc = http__json_str(s, "recipient", &out[i].recipient, err);
        }
        if (rc == ERR_OK) {
            rc = json_int(s, "bp", &out[i].bp, &given, err);
        }
        if (rc != ERR_OK || !given || out[i].recipient == NULL) {
            return err_set(err, ERR_INVALID, name,
                           "'%s' shares are objects {\"recipient\": id, \"bp\": integer}", name);
        }
    }
    *count = json_array_size(a);
    return ERR_OK;
}

static json_t *split_json(const struct clearing_split *s, size_t nb, size_t nr)
{
    json_t *b = json_array();
    json_t *r = json_array();
    for (size_t i = 0; b != NULL && i < nb; i++) {
        json_array_append_new(b, json_integer(s->brokers[i]));
    }
    for (size_t i = 0; r != NULL && i < nr; i++) {
        json_array_append_new(r, json_integer(s->revenue[i]));
    }
    return json_pack("{s:I, s:I, s:o*, s:o*}", "fee", (json_int_t)s->fee, "provider",
                     (json_int_t)s->provider, "brokers", b, "revenue", r);
}

/* POST /v1/ledger/holds/{id}/post */
enum err http__ledger_post(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    static const char *const fields[] = {"provider", "fee_schedule", "brokers",         "revenue",
                                         "amount",   "reference",    "idempotency_key", NULL};
    struct clearing_share brokers[CLEARING_SHARES_MAX], revenue[CLEARING_SHARES_MAX];
    struct clearing_release r;
    memset(&r, 0, sizeof(r));
    r.pending_id = param(req, "id");
    r.brokers = brokers;
    r.revenue = revenue;
    static const char *const names[] = {"provider", "fee_schedule", "reference", "idempotency_key"};
    const char **dst[] = {&r.provider_id, &r.fee_schedule_id, &r.reference, &r.idempotency_key};
    enum err rc = http__json_only(req->body, fields, err);
    if (rc == ERR_OK) {
        rc = json_strs(req->body, names, dst, ARRAY_LEN(names), err);
    }
    if (rc == ERR_OK) {
        rc = json_int(req->body, "amount", &r.amount, NULL, err);
    }
    if (rc == ERR_OK) {
        rc = shares_parse(req->body, "brokers", brokers, &r.broker_count, err);
    }
    if (rc == ERR_OK) {
        rc = shares_parse(req->body, "revenue", revenue, &r.revenue_count, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing c = ledger(srv);
    struct clearing_actor who = actor(req);
    struct clearing_settlement *s = mem_alloc(sizeof(*s));
    if (s == NULL) {
        return oom(err);
    }
    rc = clearing_post(&c, &who, &r, s, err);
    json_t *list = rc == ERR_OK ? json_array() : NULL;
    for (size_t i = 0; list != NULL && i < s->count; i++) {
        if (json_array_append_new(list, transfer_json(&s->transfers[i])) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    if (rc == ERR_OK) {
        res->body = json_pack("{s:o*, s:o*, s:b}", "transfers", list, "split",
                              split_json(&s->split, r.broker_count, r.revenue_count), "replayed",
                              s->replayed);
        res->status = s->replayed ? 200 : 201;
        rc = list != NULL && res->body != NULL ? ERR_OK : oom(err);
    }
    mem_free(s);
    return rc;
}

/* POST /v1/ledger/holds/{id}/void */
enum err http__ledger_void(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    static const char *const fields[] = {"reference", "idempotency_key", NULL};
    const char *reference = NULL, *key = NULL;
    enum err rc = ERR_OK;
    if (req->body != NULL) {
        static const char *const names[] = {"reference", "idempotency_key"};
        const char **dst[] = {&reference, &key};
        rc = http__json_only(req->body, fields, err);
        if (rc == ERR_OK) {
            rc = json_strs(req->body, names, dst, ARRAY_LEN(names), err);
        }
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing c = ledger(srv);
    struct clearing_actor who = actor(req);
    struct store_ledger_transfer t;
    int replayed = 0;
    rc = clearing_void(&c, &who, param(req, "id"), reference, key, &t, &replayed, err);
    return rc == ERR_OK ? transfer_reply(res, &t, replayed, err) : rc;
}

/* POST /v1/ledger/sweep: voids every hold whose time is up (the operator, or a timer). */
enum err http__ledger_sweep(struct http_server *srv, struct http_request *req,
                            struct http_response *res, struct errbuf *err)
{
    if (req->body != NULL && json_object_size(req->body) > 0) {
        return err_set(err, ERR_INVALID, "", "this request takes no body");
    }
    struct clearing_actor who = actor(req);
    if (who.role != CLEARING_ROLE_OPERATOR) {
        return err_set(err, ERR_FORBIDDEN, "", "only the operator sweeps expired holds");
    }
    struct clearing c = ledger(srv);
    size_t total = 0, n = 0;
    enum err rc = ERR_OK;
    /* Bounded: a request does at most a few batches; call again for more. */
    for (int i = 0; i < 16 && rc == ERR_OK; i++) {
        rc = clearing_sweep(&c, CLEARING_BATCH_MAX, &n, err);
        total += rc == ERR_OK ? n : 0;
        if (n == 0) {
            break;
        }
    }
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = json_pack("{s:I}", "voided", (json_int_t)total);
    res->status = 200;
    return res->body != NULL ? ERR_OK : oom(err);
}
