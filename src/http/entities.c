/*
 * entities.c: the handlers for market entities, their certificates and API keys. Each one
 * parses and checks the request's shape, calls one core function, and renders the result.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

json_t *http__time_json(int64_t ms)
{
    if (ms == 0) {
        return json_null();
    }
    char t[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(ms, t);
    return json_string(t);
}

json_t *http__entity_json(const struct store_entity *e)
{
    json_t *specs = json_array();
    for (unsigned i = 0; specs != NULL && i < CORE_SPEC__COUNT; i++) {
        if (e->specialities & (1 << i)) {
            json_array_append_new(specs, json_string(core_speciality_name(i)));
        }
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s*, s:s, s:{s:s, s:s, s:s*}, s:s, s:o*, s:o*, "
                     "s:o*, s:I}",
                     "id", e->id, "kind", e->kind, "status", e->status, "name", e->name, "uscc",
                     e->uscc[0] != '\0' ? e->uscc : NULL, "country", e->country, "contact", "name",
                     e->contact_name, "email", e->contact_email, "phone",
                     e->contact_phone[0] != '\0' ? e->contact_phone : NULL, "public_key",
                     e->public_key, "specialities", specs, "created_at",
                     http__time_json(e->created_ms), "updated_at", http__time_json(e->updated_ms),
                     "log_index", (json_int_t)e->log_index);
}

static json_t *cert_json(const struct store_cert *c)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o*, s:o*, s:s*, s:I, s:o*}", "id", c->id, "entity_id",
                     c->entity_id, "type", c->type, "status", c->status, "issued_at",
                     http__time_json(c->issued_ms), "revoked_at", http__time_json(c->revoked_ms),
                     "revoke_reason", c->revoked_ms != 0 ? c->reason : NULL, "log_index",
                     (json_int_t)c->log_index, "revoke_log_index",
                     c->revoke_log_index >= 0 ? json_integer(c->revoke_log_index) : json_null());
}

static json_t *review_json(const struct store_review *r)
{
    return json_pack("{s:s, s:s, s:s, s:o*, s:I}", "decision", r->decision, "reason", r->reason,
                     "actor", r->actor, "at", http__time_json(r->at_ms), "log_index",
                     (json_int_t)r->log_index);
}

static json_t *key_json(const struct store_api_key *k, const char *secret)
{
    return json_pack("{s:s, s:s, s:s, s:o*, s:o*, s:I, s:s*}", "id", k->id, "entity_id",
                     k->entity_id, "label", k->label, "created_at", http__time_json(k->created_ms),
                     "revoked_at", http__time_json(k->revoked_ms), "log_index",
                     (json_int_t)k->log_index, "secret", secret);
}

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

/* POST /v1/entities */
enum err http__entity_apply(struct http_server *srv, struct http_request *req,
                            struct http_response *res, struct errbuf *err)
{
    static const char *const fields[] = {"kind",    "name",       "uscc",         "country",
                                         "contact", "public_key", "specialities", NULL};
    static const char *const contact_fields[] = {"name", "email", "phone", NULL};
    struct core_application app;
    memset(&app, 0, sizeof(app));
    enum err rc = http__json_only(req->body, fields, err);
    const char *names[] = {"kind", "name", "uscc", "country", "public_key"};
    const char **dst[] = {&app.kind, &app.name, &app.uscc, &app.country, &app.public_key};
    for (size_t i = 0; i < ARRAY_LEN(names) && rc == ERR_OK; i++) {
        rc = http__json_str(req->body, names[i], dst[i], err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *contact = json_object_get(req->body, "contact");
    if (!json_is_object(contact)) {
        return err_set(err, ERR_INVALID, "contact",
                       "'contact' must be an object with name, email and phone");
    }
    rc = http__json_only(contact, contact_fields, err);
    if (rc == ERR_OK) {
        rc = http__json_str(contact, "name", &app.contact_name, err);
    }
    if (rc == ERR_OK) {
        rc = http__json_str(contact, "email", &app.contact_email, err);
    }
    if (rc == ERR_OK) {
        rc = http__json_str(contact, "phone", &app.contact_phone, err);
    }
    if (rc != ERR_OK) {
        /* Name the nested field. */
        char field[ERRBUF_FIELD_MAX + 8];
        snprintf(field, sizeof(field), "contact.%s", err->field);
        memcpy(err->field, field, sizeof(err->field) - 1);
        err->field[sizeof(err->field) - 1] = '\0';
        return rc;
    }
    const char *specs[CORE_SPEC__COUNT];
    json_t *sa = json_object_get(req->body, "specialities");
    if (sa != NULL && !json_is_null(sa)) {
        if (!json_is_array(sa) || json_array_size(sa) > CORE_SPEC__COUNT) {
            return err_set(err, ERR_INVALID, "specialities",
                           "'specialities' must be an array of at most %d names", CORE_SPEC__COUNT);
        }
        for (size_t i = 0; i < json_array_size(sa); i++) {
            if (!json_is_string(json_array_get(sa, i))) {
                return err_set(err, ERR_INVALID, "specialities",
                               "'specialities' must hold strings");
            }
            specs[i] = json_string_value(json_array_get(sa, i));
        }
        app.specialities = specs;
        app.specialities_count = json_array_size(sa);
    }
    struct store_entity e;
    struct core_new_key key;
    rc = core_entity_apply(&srv->core, &app, &e, &key, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->status = 201;
    res->body = http__entity_json(&e);
    json_t *k = json_pack("{s:s, s:s}", "id", key.key.id, "secret", key.secret);
    if (res->body == NULL || k == NULL || json_object_set_new(res->body, "api_key", k) != 0) {
        return oom(err);
    }
    snprintf(res->location, sizeof(res->location), "/v1/entities/%s", e.id);
    return ERR_OK;
}

/* GET /v1/entities */
enum err http__entity_list(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"kind",  "status", "country", "q",
                                          "limit", "cursor", NULL};
    enum err rc = http__query_only(req, allowed, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_entity_filter f;
    memset(&f, 0, sizeof(f));
    f.kind = http__query_get(req, "kind");
    f.status = http__query_get(req, "status");
    f.country = http__query_get(req, "country");
    f.q = http__query_get(req, "q");
    f.cursor = http__query_get(req, "cursor");
    f.limit = HTTP_PAGE_DEFAULT;
    const char *limit = http__query_get(req, "limit");
    if (limit != NULL) {
        size_t v = 0;
        for (const char *p = limit; *p != '\0'; p++) {
            if (*p < '0' || *p > '9' || v > STORE_PAGE_MAX) {
                v = 0;
                break;
            }
            v = v * 10 + (size_t)(*p - '0');
        }
        if (v < 1 || v > STORE_PAGE_MAX) {
            return err_set(err, ERR_INVALID, "limit", "limit must be an integer from 1 to %d",
                           STORE_PAGE_MAX);
        }
        f.limit = v;
    }
    struct store_entity_page page;
    rc = core_entity_list(&srv->core, &req->who, &f, &page, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < page.count; i++) {
        if (json_array_append_new(items, http__entity_json(&page.items[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    res->body = json_pack("{s:o*, s:s*}", "items", items, "next_cursor",
                          page.next_cursor[0] != '\0' ? page.next_cursor : NULL);
    store_entity_page_release(&page);
    if (items == NULL || res->body == NULL) {
        return oom(err);
    }
    res->status = 200;
    return ERR_OK;
}

/* The full view of one entity: the record, its certificates and its review history. */
static enum err entity_full(struct http_server *srv, const struct store_entity *e, json_t **out,
                            struct errbuf *err)
{
    struct store_cert *certs = NULL;
    struct store_review *reviews = NULL;
    size_t ncerts = 0, nreviews = 0;
    json_t *o = NULL;
    enum err rc = store_cert_list(srv->core.store, e->id, &certs, &ncerts, err);
    if (rc == ERR_OK) {
        rc = store_review_list(srv->core.store, e->id, &reviews, &nreviews, err);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    o = http__entity_json(e);
    json_t *ca = json_array();
    json_t *ha = json_array();
    if (o == NULL || json_object_set_new(o, "certificates", ca) != 0 ||
        json_object_set_new(o, "history", ha) != 0) {
        rc = oom(err);
        goto out;
    }
    for (size_t i = 0; i < ncerts && rc == ERR_OK; i++) {
        if (json_array_append_new(ca, cert_json(&certs[i])) != 0) {
            rc = oom(err);
        }
    }
    for (size_t i = 0; i < nreviews && rc == ERR_OK; i++) {
        if (json_array_append_new(ha, review_json(&reviews[i])) != 0) {
            rc = oom(err);
        }
    }
out:
    mem_free(certs);
    mem_free(reviews);
    if (rc != ERR_OK) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return ERR_OK;
}

/* GET /v1/entities/{id} */
enum err http__entity_get(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    struct store_entity e;
    enum err rc = core_entity_get(&srv->core, &req->who, param(req, "id"), &e, err);
    if (rc == ERR_OK) {
        rc = entity_full(srv, &e, &res->body, err);
    }
    if (rc == ERR_OK) {
        res->status = 200;
    }
    return rc;
}

/* POST /v1/entities/{id}/review */
enum err http__entity_review(struct http_server *srv, struct http_request *req,
                             struct http_response *res, struct errbuf *err)
{
    static const char *const fields[] = {"decision", "reason", NULL};
    const char *decision = NULL, *reason = NULL;
    enum err rc = http__json_only(req->body, fields, err);
    if (rc == ERR_OK) {
        rc = http__json_str(req->body, "decision", &decision, err);
    }
    if (rc == ERR_OK) {
        rc = http__json_str(req->body, "reason", &reason, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (decision == NULL) {
        return err_set(err, ERR_INVALID, "decision", "'decision' is required");
    }
    struct store_entity e;
    rc = core_entity_review(&srv->core, &req->who, param(req, "id"), decision, reason, &e, err);
    if (rc == ERR_OK) {
        rc = entity_full(srv, &e, &res->body, err);
    }
    if (rc == ERR_OK) {
        res->status = 200;
    }
    return rc;
}

/* POST /v1/entities/{id}/certificates */
enum err http__cert_issue(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    static const char *const fields[] = {"type", NULL};
    const char *type = NULL;
    enum err rc = http__json_only(req->body, fields, err);
    if (rc == ERR_OK) {
        rc = http__json_str(req->body, "type", &type, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (type == NULL) {
        return err_set(err, ERR_INVALID, "type", "'type' is required");
    }
    struct store_cert c;
    rc = core_cert_issue(&srv->core, &req->who, param(req, "id"), type, &c, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->status = 201;
    res->body = cert_json(&c);
    snprintf(res->location, sizeof(res->location), "/v1/entities/%s/certificates/%s", c.entity_id,
             c.id);
    return res->body != NULL ? ERR_OK : oom(err);
}

/* DELETE /v1/entities/{id}/certificates/{cid} */
enum err http__cert_revoke(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    static const char *const fields[] = {"reason", NULL};
    const char *reason = NULL;
    if (req->body != NULL) {
        enum err rc = http__json_only(req->body, fields, err);
        if (rc == ERR_OK) {
            rc = http__json_str(req->body, "reason", &reason, err);
        }
        if (rc != ERR_OK) {
            return rc;
        }
    }
    struct store_cert c;
    enum err rc = core_cert_revoke(&srv->core, &req->who, param(req, "id"), param(req, "cid"),
                                   reason, &c, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->status = 200;
    res->body = cert_json(&c);
    return res->body != NULL ? ERR_OK : oom(err);
}

/* POST /v1/entities/{id}/keys */
enum err http__key_create(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    static const char *const fields[] = {"label", NULL};
    const char *label = NULL;
    if (req->body != NULL) {
        enum err rc = http__json_only(req->body, fields, err);
        if (rc == ERR_OK) {
            rc = http__json_str(req->body, "label", &label, err);
        }
        if (rc != ERR_OK) {
            return rc;
        }
    }
    struct core_new_key key;
    enum err rc = core_key_create(&srv->core, &req->who, param(req, "id"), label, &key, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->status = 201;
    res->body = key_json(&key.key, key.secret);
    return res->body != NULL ? ERR_OK : oom(err);
}

/* DELETE /v1/keys/{kid} */
enum err http__key_revoke(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    if (req->body != NULL && json_object_size(req->body) > 0) {
        return err_set(err, ERR_INVALID, "", "this request takes no body");
    }
    struct store_api_key k;
    enum err rc = core_key_revoke(&srv->core, &req->who, param(req, "kid"), &k, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->status = 200;
    res->body = key_json(&k, NULL);
    return res->body != NULL ? ERR_OK : oom(err);
}

/* GET /healthz */
enum err http__healthz(struct http_server *srv, struct http_request *req, struct http_response *res,
                       struct errbuf *err)
{
    (void)req;
    /* A role older than a few ticks is stale: a node just resumed from a freeze (SIGSTOP)
     * answers before its first tick finds that another node took over. */
    int64_t age_ms = clock_monotonic_ns() / 1000000 - srv->log_last_ms;
    int leader = srv->log_leader == 1 && age_ms <= 5 * HTTP_LOG_TICK_MS;
    res->status = 200;
    res->body = json_pack("{s:s, s:s, s:b, s:I}", "status", "ok", "store",
                          store_backend_name(srv->core.store), "log_leader", leader, "db_pool",
                          (json_int_t)(srv->db_pool > 0 ? srv->db_pool : 1));
    return res->body != NULL ? ERR_OK : oom(err);
}

/* GET /metrics */
enum err http__metrics(struct http_server *srv, struct http_request *req, struct http_response *res,
                       struct errbuf *err)
{
    (void)srv;
    (void)req;
    struct buf b;
    buf_init(&b, 4 * 1024 * 1024);
    enum err rc = http__metrics_render(&b);
    if (rc != ERR_OK) {
        buf_release(&b);
        return err_set(err, rc, "", "cannot render metrics");
    }
    res->status = 200;
    res->text = buf_detach(&b, &res->text_len);
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return ERR_OK;
}
