/*
 * contracts.c: the handlers of contracts, escrow, delivery acceptance and disputes. Each
 * checks the request's shape, calls one core function and renders the answer; docs/api.md
 * ("Contracts") describes every route.
 *
 * GET /v1/contracts/{id}/document answers the document's exact stored bytes, never a
 * re-rendering, because those bytes are what the parties sign; its SHA-256 travels in the
 * X-Bourse-Document-Sha256 header so that a client can check what it signs before it signs.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define CONTRACT_PERIODS_SHOWN 120 /* CORE_CONTRACT_PERIODS_MAX: every period of a contract */
_Static_assert(CONTRACT_PERIODS_SHOWN >= CORE_CONTRACT_PERIODS_MAX, "every period is shown");

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

static json_t *text_or_null(const char *s)
{
    return s[0] != '\0' ? json_string(s) : json_null();
}

/* ---- renderings ---- */

static json_t *contract_json(const struct store_contract *k)
{
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:o, s:s, s:I, "
        "s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
        "id", k->id, "listing_id", k->listing_id, "product_id", k->product_id, "revision_id",
        k->revision_id, "provider_id", k->provider_id, "buyer_id", k->buyer_id, "origin", k->origin,
        "origin_id", k->origin_id, "state", k->state, "plan", k->plan, "price",
        (json_int_t)k->price, "currency", k->currency, "periods", (json_int_t)k->periods,
        "period_days", (json_int_t)k->period_days, "fee_schedule_id",
        text_or_null(k->fee_schedule_id), "delivery", k->delivery, "acceptance_days",
        (json_int_t)(k->acceptance_ms / 86400000), "document_sha256", k->document_sha256,
        "signing_deadline", http__time_json(k->signing_deadline_ms), "activated_at",
        http__time_json(k->activated_ms), "accept_by", http__time_json(k->accept_deadline_ms),
        "period_end", http__time_json(k->period_end_ms), "note", text_or_null(k->note),
        "created_at", http__time_json(k->created_ms));
    if (j == NULL || json_object_set_new(j, "updated_at", http__time_json(k->updated_ms)) != 0 ||
        json_object_set_new(j, "period", json_integer(k->period)) != 0 ||
        json_object_set_new(j, "log_index", json_integer(k->log_index)) != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static json_t *signatures_json(const struct store_contract_signature *s, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < count; i++) {
        if (json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:o, s:I}", "role", s[i].role,
                                               "party_id", s[i].party_id, "public_key",
                                               s[i].public_key, "signature", s[i].signature,
                                               "signed_at", http__time_json(s[i].signed_ms),
                                               "log_index", (json_int_t)s[i].log_index)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *periods_json(const struct store_contract_period *p, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < count; i++) {
        if (json_array_append_new(a, json_pack("{s:I, s:s, s:I, s:s, s:o, s:o, s:o}", "period",
                                               (json_int_t)p[i].period, "hold_id", p[i].hold_id,
                                               "amount", (json_int_t)p[i].amount, "state",
                                               p[i].state, "post_id", text_or_null(p[i].post_id),
                                               "starts_at", http__time_json(p[i].starts_ms),
                                               "ends_at", http__time_json(p[i].ends_ms))) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The exchange's countersignature with the exact statement it signed, or null. */
static json_t *countersignature_json(struct http_server *srv, const struct store_contract *k,
                                     const struct store_contract_signature *sigs, size_t count)
{
    char statement[1024];
    struct errbuf ignored;
    errbuf_init(&ignored);
    if (k->countersignature[0] == '\0' ||
        core_contract_countersign_statement(k, sigs, count, statement, sizeof(statement),
                                            &ignored) != ERR_OK) {
        return json_null();
    }
    const struct core_signer *signer = srv->core.operator_signer;
    return json_pack("{s:s, s:s, s:s, s:s}", "algorithm", "ed25519", "statement", statement,
                     "signature", k->countersignature, "public_key",
                     signer != NULL ? signer->public_key : "");
}

/* The full answer about one contract: row, signatures, countersignature, escrow periods. */
static enum err contract_answer(struct http_server *srv, const struct http_request *req,
                                const struct store_contract *k, int status,
                                struct http_response *res, struct errbuf *err)
{
    struct store_contract_signature sigs[2];
    size_t nsig = 0, nper = 0;
    struct store_contract_period *per = mem_calloc(CONTRACT_PERIODS_SHOWN, sizeof(*per));
    if (per == NULL) {
        return oom(err);
    }
    enum err rc = core_contract_signatures(&srv->core, &req->who, k->id, sigs, &nsig, err);
    if (rc == ERR_OK) {
        rc = core_contract_periods(&srv->core, &req->who, k->id, per, CONTRACT_PERIODS_SHOWN, &nper,
                                   err);
    }
    if (rc == ERR_OK) {
        res->body = contract_json(k);
        res->status = status;
        if (res->body == NULL ||
            json_object_set_new(res->body, "signatures", signatures_json(sigs, nsig)) != 0 ||
            json_object_set_new(res->body, "countersignature",
                                countersignature_json(srv, k, sigs, nsig)) != 0 ||
            json_object_set_new(res->body, "escrow", periods_json(per, nper)) != 0) {
            rc = oom(err);
        }
    }
    mem_free(per);
    return rc;
}

static json_t *dispute_json(const struct store_dispute *d)
{
    json_t *evidence = json_loads(d->evidence, 0, NULL);
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, "
                     "s:I}",
                     "id", d->id, "contract_id", d->contract_id, "period", (json_int_t)d->period,
                     "opened_by", d->opened_by, "status", d->status, "statement", d->statement,
                     "evidence", evidence != NULL ? evidence : json_array(), "arbitrator_id",
                     text_or_null(d->arbitrator_id), "decision", text_or_null(d->decision),
                     "provider_amount", (json_int_t)d->provider_amount, "reason",
                     text_or_null(d->reason), "opened_at", http__time_json(d->opened_ms),
                     "assigned_at", http__time_json(d->assigned_ms), "decided_at",
                     http__time_json(d->decided_ms), "log_index", (json_int_t)d->log_index);
}

static enum err dispute_answer(const struct store_dispute *d, int status, struct http_response *res,
                               struct errbuf *err)
{
    res->body = dispute_json(d);
    res->status = status;
    return res->body != NULL ? ERR_OK : oom(err);
}

/* ---- bodies ---- */

/* Reads the only allowed members of the body (which may be absent when none is required). */
static enum err body_only(const struct http_request *req, const char *const *names,
                          struct errbuf *err)
{
    if (req->body == NULL) {
        return ERR_OK;
    }
    return http__json_only(req->body, names, err);
}

static enum err body_str(const struct http_request *req, const char *name, const char **out,
                         struct errbuf *err)
{
    *out = NULL;
    return req->body != NULL ? http__json_str(req->body, name, out, err) : ERR_OK;
}

static enum err body_int(const struct http_request *req, const char *name, int64_t *out,
                         struct errbuf *err)
{
    const json_t *v = req->body != NULL ? json_object_get(req->body, name) : NULL;
    if (v == NULL || json_is_null(v)) {
        return ERR_OK;
    }
    if (!json_is_integer(v)) {
        return err_set(err, ERR_INVALID, name, "'%s' must be an integer", name);
    }
    *out = json_integer_value(v);
    return ERR_OK;
}

/* ---- contracts ---- */

static enum err brokers_parse(const json_t *a, struct core_contract_terms *t, struct errbuf *err)
{
    if (a == NULL || json_is_null(a)) {
        return ERR_OK;
    }
    if (!json_is_array(a) || json_array_size(a) > CORE_CONTRACT_BROKERS_MAX) {
        return err_set(err, ERR_INVALID, "brokers", "'brokers' is an array of at most %d",
                       CORE_CONTRACT_BROKERS_MAX);
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *b = json_array_get(a, i);
        const char *id = json_string_value(json_object_get(b, "entity_id"));
        const json_t *bp = json_object_get(b, "commission_bp");
        if (id == NULL || strlen(id) >= ID_MAX || !json_is_integer(bp) ||
            json_object_size(b) != 2) {
            return err_set(err, ERR_INVALID, "brokers",
                           "each broker is {\"entity_id\", \"commission_bp\"}");
        }
        snprintf(t->brokers[i].entity_id, ID_MAX, "%s", id);
        t->brokers[i].commission_bp = json_integer_value(bp);
    }
    t->broker_count = json_array_size(a);
    return ERR_OK;
}

static enum err fixed_text(const struct http_request *req, const char *name, char *out, size_t cap,
                           struct errbuf *err)
{
    const char *s = NULL;
    enum err rc = body_str(req, name, &s, err);
    if (rc == ERR_OK && (s == NULL || strlen(s) >= cap)) {
        rc = err_set(err, ERR_INVALID, name, "'%s' is required", name);
    }
    if (rc == ERR_OK) {
        snprintf(out, cap, "%s", s);
    }
    return rc;
}

static enum err terms_parse(const struct http_request *req, struct core_contract_terms *t,
                            struct errbuf *err)
{
    static const char *const names[] = {
        "listing_id", "buyer_id", "origin",          "origin_id",    "price",     "currency",
        "tier",       "periods",  "purpose",         "term_days",    "territory", "redistribution",
        "exclusive",  "delivery", "acceptance_days", "signing_days", "brokers",   NULL};
    memset(t, 0, sizeof(*t));
    t->exclusive = -1;
    enum err rc = body_only(req, names, err);
    if (rc == ERR_OK) {
        rc = fixed_text(req, "listing_id", t->listing_id, sizeof(t->listing_id), err);
    }
    if (rc == ERR_OK) {
        rc = fixed_text(req, "buyer_id", t->buyer_id, sizeof(t->buyer_id), err);
    }
    if (rc == ERR_OK) {
        rc = fixed_text(req, "origin_id", t->origin_id, sizeof(t->origin_id), err);
    }
    if (rc == ERR_OK) {
        rc = fixed_text(req, "currency", t->currency, sizeof(t->currency), err);
    }
    const char *const strs[] = {"origin",    "tier",           "purpose",
                                "territory", "redistribution", "delivery"};
    const char **dst[] = {&t->origin,    &t->tier,           &t->purpose,
                          &t->territory, &t->redistribution, &t->delivery};
    for (size_t i = 0; i < ARRAY_LEN(strs) && rc == ERR_OK; i++) {
        rc = body_str(req, strs[i], dst[i], err);
    }
    const char *const ints[] = {"price", "periods", "term_days", "acceptance_days", "signing_days"};
    int64_t *idst[] = {&t->price, &t->periods, &t->term_days, &t->acceptance_days,
                       &t->signing_days};
    for (size_t i = 0; i < ARRAY_LEN(ints) && rc == ERR_OK; i++) {
        rc = body_int(req, ints[i], idst[i], err);
    }
    const json_t *ex = json_object_get(req->body, "exclusive");
    if (rc == ERR_OK && ex != NULL && !json_is_boolean(ex)) {
        rc = err_set(err, ERR_INVALID, "exclusive", "'exclusive' must be true or false");
    }
    if (json_is_boolean(ex)) {
        t->exclusive = json_is_true(ex);
    }
    return rc == ERR_OK ? brokers_parse(json_object_get(req->body, "brokers"), t, err) : rc;
}

/* POST /v1/contracts: the operator records a trade agreed off the order book. */
enum err http__contract_propose(struct http_server *srv, struct http_request *req,
                                struct http_response *res, struct errbuf *err)
{
    if (req->who.kind != CORE_KIND_OPERATOR) {
        return err_set(err, ERR_FORBIDDEN, "",
                       "only the operator records a contract directly; buyers order a listing");
    }
    struct core_contract_terms t;
    enum err rc = terms_parse(req, &t, err);
    struct store_contract *k = mem_alloc(sizeof(*k));
    if (rc == ERR_OK && k == NULL) {
        rc = oom(err);
    }
    if (rc == ERR_OK) {
        rc = core_contract_propose(&srv->core, &req->who, &t, k, err);
    }
    if (rc == ERR_OK) {
        rc = contract_answer(srv, req, k, 201, res, err);
        snprintf(res->location, sizeof(res->location), "/v1/contracts/%s", k->id);
    }
    mem_free(k);
    return rc;
}

/* GET /v1/contracts[?state=&limit=&cursor=] */
enum err http__contract_list(struct http_server *srv, struct http_request *req,
                             struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"state", "limit", "cursor", NULL};
    struct store_contract_filter f;
    memset(&f, 0, sizeof(f));
    enum err rc = http__query_only(req, allowed, err);
    const char *limit = http__query_get(req, "limit");
    f.limit = HTTP_PAGE_DEFAULT;
    if (rc == ERR_OK && limit != NULL) {
        char *end = NULL;
        long v = strtol(limit, &end, 10);
        if (end == limit || *end != '\0' || v < 1 || v > STORE_PAGE_MAX) {
            rc = err_set(err, ERR_INVALID, "limit", "limit must be an integer from 1 to %d",
                         STORE_PAGE_MAX);
        }
        f.limit = (size_t)v;
    }
    if (rc != ERR_OK) {
        return rc;
    }
    f.state = http__query_get(req, "state");
    f.cursor = http__query_get(req, "cursor");
    struct store_contract_page page;
    rc = core_contract_list(&srv->core, &req->who, &f, &page, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < page.count; i++) {
        if (json_array_append_new(items, contract_json(&page.items[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    res->body = json_pack("{s:o*, s:s*}", "items", items, "next_cursor",
                          page.next_cursor[0] != '\0' ? page.next_cursor : NULL);
    store_contract_page_release(&page);
    res->status = 200;
    return res->body != NULL && items != NULL ? ERR_OK : oom(err);
}

/* Runs a getter into a heap contract and answers it. */
static enum err contract_get_answer(struct http_server *srv, struct http_request *req,
                                    struct http_response *res, struct errbuf *err)
{
    struct store_contract *k = mem_alloc(sizeof(*k));
    if (k == NULL) {
        return oom(err);
    }
    enum err rc = core_contract_get(&srv->core, &req->who, param(req, "id"), k, err);
    if (rc == ERR_OK) {
        rc = contract_answer(srv, req, k, 200, res, err);
    }
    mem_free(k);
    return rc;
}

/* GET /v1/contracts/{id} */
enum err http__contract_get(struct http_server *srv, struct http_request *req,
                            struct http_response *res, struct errbuf *err)
{
    return contract_get_answer(srv, req, res, err);
}

/* GET /v1/contracts/{id}/document: the exact signed bytes. */
enum err http__contract_document(struct http_server *srv, struct http_request *req,
                                 struct http_response *res, struct errbuf *err)
{
    struct store_contract *k = mem_alloc(sizeof(*k));
    if (k == NULL) {
        return oom(err);
    }
    enum err rc = core_contract_get(&srv->core, &req->who, param(req, "id"), k, err);
    if (rc == ERR_OK) {
        size_t len = strlen(k->document);
        res->text = mem_strndup(k->document, len);
        res->text_len = len;
        res->content_type = "application/json";
        res->status = 200;
        snprintf(res->digest_sha256, sizeof(res->digest_sha256), "%s", k->document_sha256);
        rc = res->text != NULL ? ERR_OK : oom(err);
    }
    mem_free(k);
    return rc;
}

/* A mutation that answers the contract: fn fills k. */
typedef enum err contract_op_fn(struct http_server *srv, struct http_request *req,
                                struct store_contract *k, struct http_response *res,
                                struct errbuf *err);

static enum err contract_op(struct http_server *srv, struct http_request *req,
                            struct http_response *res, contract_op_fn *fn, struct errbuf *err)
{
    struct store_contract *k = mem_alloc(sizeof(*k));
    if (k == NULL) {
        return oom(err);
    }
    enum err rc = fn(srv, req, k, res, err);
    if (rc == ERR_OK && res->body == NULL) {
        rc = contract_answer(srv, req, k, 200, res, err);
    }
    mem_free(k);
    return rc;
}

static enum err sign_op(struct http_server *srv, struct http_request *req, struct store_contract *k,
                        struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"signature", NULL};
    const char *signature = NULL;
    enum err rc = body_only(req, names, err);
    if (rc == ERR_OK) {
        rc = body_str(req, "signature", &signature, err);
    }
    if (rc == ERR_OK && signature == NULL) {
        rc = err_set(err, ERR_INVALID, "signature", "'signature' is required");
    }
    int hold_failed = 0;
    struct errbuf why;
    errbuf_init(&why);
    if (rc == ERR_OK) {
        rc = core_contract_sign(&srv->core, &req->who, param(req, "id"), signature, k, &hold_failed,
                                &why);
        if (rc != ERR_OK) {
            *err = why;
        }
    }
    if (rc == ERR_OK) {
        rc = contract_answer(srv, req, k, 201, res, err);
    }
    if (rc == ERR_OK && hold_failed) {
        /* Recorded, but the escrow could not be held: say why in the answer. */
        json_t *p = json_pack("{s:s, s:s, s:s}", "title", "escrow hold failed", "detail", why.msg,
                              "field", why.field);
        if (p == NULL || json_object_set_new(res->body, "problem", p) != 0) {
            rc = oom(err);
        }
    }
    return rc;
}

/* POST /v1/contracts/{id}/signatures {"signature"} */
enum err http__contract_sign(struct http_server *srv, struct http_request *req,
                             struct http_response *res, struct errbuf *err)
{
    return contract_op(srv, req, res, sign_op, err);
}

static enum err activate_op(struct http_server *srv, struct http_request *req,
                            struct store_contract *k, struct http_response *res, struct errbuf *err)
{
    (void)res;
    static const char *const names[] = {NULL};
    enum err rc = body_only(req, names, err);
    return rc == ERR_OK ? core_contract_activate(&srv->core, &req->who, param(req, "id"), k, err)
                        : rc;
}

/* POST /v1/contracts/{id}/activate */
enum err http__contract_activate(struct http_server *srv, struct http_request *req,
                                 struct http_response *res, struct errbuf *err)
{
    return contract_op(srv, req, res, activate_op, err);
}

static enum err cancel_op(struct http_server *srv, struct http_request *req,
                          struct store_contract *k, struct http_response *res, struct errbuf *err)
{
    (void)res;
    static const char *const names[] = {"reason", NULL};
    const char *reason = NULL;
    enum err rc = body_only(req, names, err);
    if (rc == ERR_OK) {
        rc = body_str(req, "reason", &reason, err);
    }
    return rc == ERR_OK
               ? core_contract_cancel(&srv->core, &req->who, param(req, "id"), reason, k, err)
               : rc;
}

/* POST /v1/contracts/{id}/cancel {"reason"?} */
enum err http__contract_cancel(struct http_server *srv, struct http_request *req,
                               struct http_response *res, struct errbuf *err)
{
    return contract_op(srv, req, res, cancel_op, err);
}

static enum err deliver_op(struct http_server *srv, struct http_request *req,
                           struct store_contract *k, struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"sha256", NULL};
    const char *sha = NULL;
    enum err rc = body_only(req, names, err);
    if (rc == ERR_OK) {
        rc = body_str(req, "sha256", &sha, err);
    }
    struct store_delivery d;
    if (rc == ERR_OK) {
        rc = core_contract_deliver(&srv->core, &req->who, param(req, "id"), sha, &d, k, err);
    }
    if (rc == ERR_OK) {
        rc = contract_answer(srv, req, k, 201, res, err);
    }
    json_t *dj = rc == ERR_OK ? json_pack("{s:s, s:I, s:s, s:s, s:s, s:o, s:I}", "id", d.id,
                                          "period", (json_int_t)d.period, "sha256", d.sha256,
                                          "actor", d.actor, "status", d.status, "delivered_at",
                                          http__time_json(d.delivered_ms), "log_index",
                                          (json_int_t)d.log_index)
                              : NULL;
    if (rc == ERR_OK && (dj == NULL || json_object_set_new(res->body, "delivery", dj) != 0)) {
        rc = oom(err);
    }
    return rc;
}

/* POST /v1/contracts/{id}/deliveries {"sha256"} */
enum err http__contract_deliver(struct http_server *srv, struct http_request *req,
                                struct http_response *res, struct errbuf *err)
{
    return contract_op(srv, req, res, deliver_op, err);
}

static enum err accept_op(struct http_server *srv, struct http_request *req,
                          struct store_contract *k, struct http_response *res, struct errbuf *err)
{
    (void)res;
    static const char *const names[] = {NULL};
    enum err rc = body_only(req, names, err);
    return rc == ERR_OK ? core_contract_accept(&srv->core, &req->who, param(req, "id"), k, err)
                        : rc;
}

/* POST /v1/contracts/{id}/accept */
enum err http__contract_accept(struct http_server *srv, struct http_request *req,
                               struct http_response *res, struct errbuf *err)
{
    return contract_op(srv, req, res, accept_op, err);
}

/* POST /v1/contracts/{id}/reject {"statement"}: answers the dispute it opens. */
enum err http__contract_reject(struct http_server *srv, struct http_request *req,
                               struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"statement", NULL};
    const char *statement = NULL;
    enum err rc = body_only(req, names, err);
    if (rc == ERR_OK) {
        rc = body_str(req, "statement", &statement, err);
    }
    struct store_contract *k = mem_alloc(sizeof(*k));
    struct store_dispute *d = mem_alloc(sizeof(*d));
    if (rc == ERR_OK && (k == NULL || d == NULL)) {
        rc = oom(err);
    }
    if (rc == ERR_OK) {
        rc = core_contract_reject(&srv->core, &req->who, param(req, "id"), statement, d, k, err);
    }
    if (rc == ERR_OK) {
        rc = dispute_answer(d, 201, res, err);
        snprintf(res->location, sizeof(res->location), "/v1/disputes/%s", d->id);
    }
    mem_free(k);
    mem_free(d);
    return rc;
}

/* ---- disputes ---- */

static enum err evidence_parse(const json_t *a, int64_t *out, size_t *count, struct errbuf *err)
{
    *count = 0;
    if (a == NULL || json_is_null(a)) {
        return ERR_OK;
    }
    if (!json_is_array(a) || json_array_size(a) > CORE_EVIDENCE_MAX) {
        return err_set(err, ERR_INVALID, "evidence",
                       "'evidence' is an array of at most %d log indexes", CORE_EVIDENCE_MAX);
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            char field[ERRBUF_FIELD_MAX];
            snprintf(field, sizeof(field), "evidence[%zu]", i);
            return err_set(err, ERR_INVALID, field, "'%s' must be a log index", field);
        }
        out[i] = json_integer_value(v);
    }
    *count = json_array_size(a);
    return ERR_OK;
}

/* POST /v1/contracts/{id}/disputes {"statement", "evidence": [index, ...]} */
enum err http__dispute_open(struct http_server *srv, struct http_request *req,
                            struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"statement", "evidence", NULL};
    const char *statement = NULL;
    int64_t evidence[CORE_EVIDENCE_MAX];
    size_t count = 0;
    enum err rc = body_only(req, names, err);
    if (rc == ERR_OK) {
        rc = body_str(req, "statement", &statement, err);
    }
    if (rc == ERR_OK) {
        rc = evidence_parse(json_object_get(req->body, "evidence"), evidence, &count, err);
    }
    struct store_dispute *d = mem_alloc(sizeof(*d));
    if (rc == ERR_OK && d == NULL) {
        rc = oom(err);
    }
    if (rc == ERR_OK) {
        rc = core_dispute_open(&srv->core, &req->who, param(req, "id"), statement, evidence, count,
                               d, err);
    }
    if (rc == ERR_OK) {
        rc = dispute_answer(d, 201, res, err);
        snprintf(res->location, sizeof(res->location), "/v1/disputes/%s", d->id);
    }
    mem_free(d);
    return rc;
}

/* GET /v1/disputes/{id} */
enum err http__dispute_get(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    struct store_dispute *d = mem_alloc(sizeof(*d));
    if (d == NULL) {
        return oom(err);
    }
    enum err rc = core_dispute_get(&srv->core, &req->who, param(req, "id"), d, err);
    if (rc == ERR_OK) {
        rc = dispute_answer(d, 200, res, err);
    }
    mem_free(d);
    return rc;
}

/* POST /v1/disputes/{id}/assign {"arbitrator"} */
enum err http__dispute_assign(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"arbitrator", NULL};
    const char *arbitrator = NULL;
    enum err rc = body_only(req, names, err);
    if (rc == ERR_OK) {
        rc = body_str(req, "arbitrator", &arbitrator, err);
    }
    struct store_dispute *d = mem_alloc(sizeof(*d));
    if (rc == ERR_OK && d == NULL) {
        rc = oom(err);
    }
    if (rc == ERR_OK) {
        rc = core_dispute_assign(&srv->core, &req->who, param(req, "id"), arbitrator, d, err);
    }
    if (rc == ERR_OK) {
        rc = dispute_answer(d, 200, res, err);
    }
    mem_free(d);
    return rc;
}

/* POST /v1/disputes/{id}/decision {"decision", "provider_amount"?, "reason"} */
enum err http__dispute_decide(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"decision", "provider_amount", "reason", NULL};
    const char *decision = NULL, *reason = NULL;
    int64_t amount = 0;
    enum err rc = body_only(req, names, err);
    if (rc == ERR_OK) {
        rc = body_str(req, "decision", &decision, err);
    }
    if (rc == ERR_OK) {
        rc = body_str(req, "reason", &reason, err);
    }
    if (rc == ERR_OK) {
        rc = body_int(req, "provider_amount", &amount, err);
    }
    struct store_dispute *d = mem_alloc(sizeof(*d));
    if (rc == ERR_OK && d == NULL) {
        rc = oom(err);
    }
    if (rc == ERR_OK) {
        rc = core_dispute_decide(&srv->core, &req->who, param(req, "id"), decision, amount, reason,
                                 d, err);
    }
    if (rc == ERR_OK) {
        rc = dispute_answer(d, 200, res, err);
    }
    mem_free(d);
    return rc;
}
