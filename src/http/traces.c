/*
 * traces.c: the handlers of fingerprinted delivery: a provider's tolerance declaration for an
 * object (PUT /v1/objects/{id}/fingerprint), the trace of a suspect file by the operator or a
 * regulator (POST /v1/traces, the file as a raw body), and the hook that records a buyer's
 * completed download of its copy as the contract's delivery. The work is delivery's
 * (src/delivery/copies.c); these parse, check the caller's role and render.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/delivery.h"
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

static enum err answer(struct http_response *res, json_t *body, int status, struct errbuf *err)
{
    res->body = body;
    res->status = status;
    return body != NULL ? ERR_OK : oom(err);
}

enum err http__trace_bound_parse(const char *text, double *out, struct errbuf *err)
{
    *out = DELIVERY_FP_BOUND_DEFAULT;
    if (text == NULL || text[0] == '\0') {
        return ERR_OK;
    }
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || !(v > 0 && v < 1)) {
        return err_set(err, ERR_INVALID, "trace_fp_bound",
                       "trace_fp_bound must be a probability in (0, 1), such as 1e-9");
    }
    *out = v;
    return ERR_OK;
}

/* ---- declarations ---- */

static json_t *fingerprint_json(const struct store_fingerprint *f)
{
    json_t *decl = json_loads(f->declaration, 0, NULL);
    return decl == NULL
               ? NULL
               : json_pack("{s:s, s:o, s:I, s:I, s:f, s:I, s:s, s:o*, s:I}", "object_id",
                           f->object_id, "declaration", decl, "code_length",
                           (json_int_t)f->code_length, "mark_per_mille",
                           (json_int_t)f->mark_per_mille, "cutoff", strtod(f->cutoff, NULL),
                           "admissible_cells", (json_int_t)f->admissible_cells, "declared_by",
                           f->actor, "declared_at", http__time_json(f->declared_ms), "log_index",
                           (json_int_t)f->log_index);
}

/* PUT /v1/objects/{id}/fingerprint: the body is the declaration (docs/fingerprinting.md). */
enum err http__object_fingerprint(struct http_server *srv, struct http_request *req,
                                  struct http_response *res, struct errbuf *err)
{
    struct delivery_actor who = {req->who.id,
                                 req->who.kind == CORE_KIND_OPERATOR ? DELIVERY_ROLE_OPERATOR
                                                                     : DELIVERY_ROLE_ENTITY,
                                 core_principal_active(&req->who)};
    struct store_fingerprint *f = mem_alloc(sizeof(*f));
    if (f == NULL) {
        return oom(err);
    }
    enum err rc = delivery_fp_declare(srv->custody, &who, param(req, "id"), req->body, f, err);
    if (rc == ERR_OK) {
        rc = answer(res, fingerprint_json(f), 200, err);
    }
    mem_free(f);
    return rc;
}

/* ---- traces ---- */

static json_t *named_json(const struct delivery_trace_named *n)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:f}", "contract_id", n->contract_id, "buyer_id",
                  n->buyer_id, "object_id", n->object_id, "copy_id", n->copy_id, "match",
                  n->exact ? "exact" : "fingerprint", "false_accusation", n->false_accusation);
    if (o != NULL && !n->exact &&
        (json_object_set_new(o, "score", json_real(n->score)) != 0 ||
         json_object_set_new(o, "log10_false_accusation", json_real(n->log10_false_accusation)) !=
             0)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static json_t *trace_json(const struct delivery_trace_result *r)
{
    json_t *named = json_array();
    for (size_t i = 0; named != NULL && i < r->named_count; i++) {
        if (json_array_append_new(named, named_json(&r->named[i])) != 0) {
            json_decref(named);
            named = NULL;
        }
    }
    json_t *originals = json_array();
    for (size_t i = 0; originals != NULL && i < r->original_count; i++) {
        if (json_array_append_new(originals, json_string(r->originals[i])) != 0) {
            json_decref(originals);
            originals = NULL;
        }
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:f, s:o*, s:o*, s:I, s:o, s:o*, s:I}", "id", r->id,
                     "sha256", r->sha256, "requester_id", r->requester_id, "object_id",
                     r->object_id[0] != '\0' ? json_string(r->object_id) : json_null(), "bound",
                     r->bound, "named", named, "originals", originals, "objects_examined",
                     (json_int_t)r->objects_examined, "reason",
                     r->named_count == 0 ? json_string(r->reason) : json_null(), "created_at",
                     http__time_json(r->created_ms), "log_index", (json_int_t)r->log_index);
}

/* POST /v1/traces[?object_id=obj_...]: the suspect file is the raw body. */
enum err http__trace(struct http_server *srv, struct http_request *req, struct http_response *res,
                     struct errbuf *err)
{
    static const char *const allowed[] = {"object_id", NULL};
    int regulator = req->who.kind == CORE_KIND_REGULATOR && core_principal_active(&req->who);
    if (req->who.kind != CORE_KIND_OPERATOR && !regulator) {
        return err_set(err, ERR_FORBIDDEN, "", "only the operator and regulators trace files");
    }
    enum err rc = http__query_only(req, allowed, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct delivery_trace_result r;
    rc = delivery_trace(srv->custody, req->who.id, req->raw, req->raw_len,
                        http__query_get(req, "object_id"), srv->trace_fp_bound, &r, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = answer(res, trace_json(&r), 200, err);
    delivery_trace_result_release(&r);
    return rc;
}

/* ---- the delivery of a copy ---- */

void http__copy_delivered(struct http_server *srv, const struct store_download_token *tok,
                          const struct store_object *copy)
{
    struct store_contract *k = mem_alloc(sizeof(*k));
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = k == NULL ? err_set(&err, ERR_NOMEM, "", "out of memory")
                            : store_contract_get(srv->core.store, tok->contract_id, k, &err);
    struct store_contract *after = rc == ERR_OK ? mem_alloc(sizeof(*after)) : NULL;
    if (rc == ERR_OK && after == NULL) {
        rc = err_set(&err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK) {
        /* The exchange delivers the provider's file on its behalf: the provider's act. */
        struct core_principal provider;
        memset(&provider, 0, sizeof(provider));
        snprintf(provider.id, sizeof(provider.id), "%s", k->provider_id);
        provider.kind = CORE_KIND_PROVIDER;
        provider.status = CORE_STATUS_VERIFIED;
        struct store_delivery d;
        rc = core_contract_deliver(&srv->core, &provider, tok->contract_id, copy->sha256, &d, after,
                                   &err);
    }
    if (rc != ERR_OK) {
        log_msg(LOG_WARN, "cannot record the delivery of '%s' on '%s': %s", copy->id,
                tok->contract_id, err.msg);
    }
    mem_free(after);
    mem_free(k);
}
