/*
 * products.c: the handlers of the supply side: the category taxonomy, the exchange's public
 * keys, products and their revisions, rights certificates, the listing policy and
 * assessments. Each parses and checks the request's shape, calls one core function, and
 * renders the result.
 *
 * It also loads the operator's signing key (<data>/operator.ed25519, written by serve.c on
 * first start) and hands core a signing function over it, so that core signs rights
 * certificates without touching a file. The key stays in this file's memory for the life of
 * the process.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* ---- the operator's signer ---- */

static unsigned char operator_sk[crypto_sign_SECRETKEYBYTES];
static struct core_signer operator_signer;

static enum err operator_sign(void *ctx, const unsigned char *msg, size_t len,
                              unsigned char sig[64], struct errbuf *err)
{
    (void)ctx;
    (void)err;
    ASSERT(msg != NULL);
    crypto_sign_detached(sig, NULL, msg, len, operator_sk);
    return ERR_OK;
}

enum err http__products_init(struct http_server *srv, struct errbuf *err)
{
    ASSERT(srv != NULL && srv->data_dir != NULL);
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/operator.ed25519", srv->data_dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return err_set(err, ERR_LIMIT, "data", "data directory path is too long");
    }
    char *data = NULL;
    size_t len = 0;
    enum err rc = file_read(path, 256, &data, &len, err);
    if (rc != ERR_OK) {
        return rc;
    }
    unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    size_t seed_len = 0;
    if (sodium_base642bin(seed, sizeof(seed), data, len, "\n", &seed_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        seed_len != sizeof(seed)) {
        rc = err_set(err, ERR_CORRUPT, "", "'%s' is not a base64 Ed25519 seed", path);
    }
    sodium_memzero(data, len);
    mem_free(data);
    if (rc != ERR_OK) {
        return rc;
    }
    crypto_sign_seed_keypair(pk, operator_sk, seed);
    sodium_memzero(seed, sizeof(seed));
    operator_signer.sign = operator_sign;
    operator_signer.ctx = NULL;
    sodium_bin2base64(operator_signer.public_key, sizeof(operator_signer.public_key), pk,
                      sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
    srv->core.operator_signer = &operator_signer;
    return ERR_OK;
}

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

/* Reads the "limit" query parameter (1..STORE_PAGE_MAX, default HTTP_PAGE_DEFAULT). */
static enum err page_limit(const struct http_request *req, size_t *limit, struct errbuf *err)
{
    *limit = HTTP_PAGE_DEFAULT;
    const char *s = http__query_get(req, "limit");
    if (s == NULL) {
        return ERR_OK;
    }
    size_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
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
    *limit = v;
    return ERR_OK;
}

/* Reads the named string members of the body, in order, refusing any other member. A NULL
 * body reads as empty. */
static enum err body_strings(const struct http_request *req, const char *const *names,
                             const char **out[], size_t count, struct errbuf *err)
{
    for (size_t i = 0; i < count; i++) {
        *out[i] = NULL;
    }
    if (req->body == NULL) {
        return ERR_OK;
    }
    enum err rc = http__json_only(req->body, names, err);
    for (size_t i = 0; i < count && rc == ERR_OK; i++) {
        rc = http__json_str(req->body, names[i], out[i], err);
    }
    return rc;
}

static enum err required(const char *value, const char *name, struct errbuf *err)
{
    return value != NULL ? ERR_OK : err_set(err, ERR_INVALID, name, "'%s' is required", name);
}

/* A JSON value parsed from stored text; null if absent or unparsable. */
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

static json_t *product_json(const struct store_product *p)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:o*, s:o*, s:I}", "id", p->id,
                     "provider_id", p->provider_id, "kind", p->kind, "latest_revision",
                     (json_int_t)p->latest_revision, "latest_revision_id", p->latest_revision_id,
                     "title", p->title, "category", p->category, "classification",
                     p->classification, "sensitivity", p->sensitivity, "created_at",
                     http__time_json(p->created_ms), "updated_at", http__time_json(p->updated_ms),
                     "log_index", (json_int_t)p->log_index);
}

/* A revision; full adds the metadata, the sample and the quality report. */
static json_t *revision_json(const struct store_revision *r, int full)
{
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:o*, s:I}",
                  "id", r->id, "product_id", r->product_id, "revision", (json_int_t)r->number,
                  "provider_id", r->provider_id, "kind", r->kind, "title", r->title, "category",
                  r->category, "classification", r->classification, "sensitivity", r->sensitivity,
                  "supervised", (int)r->supervised, "content_hash", r->content_hash,
                  "metadata_hash", r->metadata_hash, "actor", r->actor, "created_at",
                  http__time_json(r->created_ms), "log_index", (json_int_t)r->log_index);
    if (o == NULL || !full) {
        return o;
    }
    json_t *sample = r->sample != NULL
                         ? json_pack("{s:s, s:s}", "format", r->sample_format, "data", r->sample)
                         : json_null();
    if (json_object_set_new(o, "metadata", stored_json(r->metadata)) != 0 ||
        json_object_set_new(o, "sample", sample) != 0 ||
        json_object_set_new(o, "quality", stored_json(r->quality)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *rights_event_json(const struct store_rights_event *e)
{
    return json_pack("{s:s, s:s, s:s, s:s*, s:s*, s:I, s:o*, s:I}", "action", e->action, "actor",
                     e->actor, "holder_id", e->holder_id, "counterparty",
                     e->counterparty[0] != '\0' ? e->counterparty : NULL, "terms",
                     e->terms[0] != '\0' ? e->terms : NULL, "version", (json_int_t)e->version, "at",
                     http__time_json(e->at_ms), "log_index", (json_int_t)e->log_index);
}

static json_t *rights_json(const struct store_rights *r)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s*, s:I, s:s, s:s, s:o*, s:o*, s:I, "
        "s:I}",
        "id", r->id, "product_id", r->product_id, "revision_id", r->revision_id, "content_hash",
        r->content_hash, "right", r->right, "holder_id", r->holder_id, "status", r->status,
        "pledgee_id", r->pledgee_id[0] != '\0' ? r->pledgee_id : NULL, "version",
        (json_int_t)r->version, "document", r->document, "signature", r->signature, "issued_at",
        http__time_json(r->issued_ms), "updated_at", http__time_json(r->updated_ms),
        "issue_log_index", (json_int_t)r->issue_log_index, "log_index", (json_int_t)r->log_index);
}

static json_t *assessment_json(const struct store_assessment *a)
{
    json_t *doc = a->document_sha256[0] != '\0'
                      ? json_pack("{s:s, s:I}", "sha256", a->document_sha256, "size",
                                  (json_int_t)a->document_size)
                      : json_null();
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s*, s:s*, s:s*, s:o*, s:o*, s:o*, s:I, s:o*}",
        "id", a->id, "product_id", a->product_id, "revision_id", a->revision_id, "content_hash",
        a->content_hash, "kind", a->kind, "firm_id", a->firm_id, "provider_id", a->provider_id,
        "status", a->status, "verdict", a->verdict[0] != '\0' ? a->verdict : NULL, "report",
        a->report, "signature", a->signature[0] != '\0' ? a->signature : NULL, "document", doc,
        "requested_at", http__time_json(a->requested_ms), "submitted_at",
        http__time_json(a->submitted_ms), "log_index", (json_int_t)a->log_index, "submit_log_index",
        a->submit_log_index >= 0 ? json_integer(a->submit_log_index) : json_null());
}

static json_t *policy_json(const struct store_policy *p)
{
    json_t *rules = stored_json(p->rules);
    json_t *o =
        json_pack("{s:I, s:O*, s:s*, s:o*, s:o*}", "version", (json_int_t)p->version, "rules",
                  json_object_get(rules, "rules"), "set_by", p->actor[0] != '\0' ? p->actor : NULL,
                  "created_at", http__time_json(p->created_ms), "log_index",
                  p->log_index >= 0 ? json_integer(p->log_index) : json_null());
    json_decref(rules);
    return o;
}

static json_t *missing_json(const struct core_listable *l)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < l->missing_count; i++) {
        const struct core_missing *m = &l->missing[i];
        if (json_array_append_new(a, json_pack("{s:s, s:s*, s:s}", "item", m->item, "kind",
                                               m->kind[0] != '\0' ? m->kind : NULL, "reason",
                                               m->reason)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* ---- exchange and taxonomy ---- */

/* GET /v1/categories */
enum err http__categories(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    (void)srv;
    (void)req;
    size_t n = 0;
    const struct core_category *cats = core_categories(&n);
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < n; i++) {
        if (json_array_append_new(items, json_pack("{s:s, s:{s:s, s:s}}", "code", cats[i].code,
                                                   "labels", "zh-CN", cats[i].label_zh, "en",
                                                   cats[i].label_en)) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    res->body = json_pack("{s:o*}", "items", items);
    res->status = 200;
    res->cache_control = "public, max-age=3600";
    return res->body != NULL && items != NULL ? ERR_OK : oom(err);
}

/* GET /v1/exchange */
enum err http__exchange(struct http_server *srv, struct http_request *req,
                        struct http_response *res, struct errbuf *err)
{
    (void)req;
    const struct core_signer *s = srv->core.operator_signer;
    const struct tlog_signer *log = srv->core.log_signer;
    res->body =
        json_pack("{s:{s:s*, s:s}, s:{s:s*, s:s}, s:s}", "operator", "public_key",
                  s != NULL ? s->public_key : NULL, "algorithm", "ed25519", "log", "origin",
                  log != NULL ? log->name : NULL, "verifier_key", srv->log_verifier,
                  "canonical_json", "keys sorted, no whitespace, UTF-8 (as the log's leaves)");
    res->status = 200;
    return res->body != NULL ? ERR_OK : oom(err);
}

/* ---- products ---- */

static enum err product_answer(const struct store_product *p, struct store_revision *r,
                               struct http_response *res, int status, struct errbuf *err)
{
    res->body = product_json(p);
    json_t *rev = revision_json(r, 1);
    store_revision_release(r);
    if (res->body == NULL || rev == NULL || json_object_set_new(res->body, "revision", rev) != 0) {
        return oom(err);
    }
    res->status = status;
    snprintf(res->location, sizeof(res->location), "/v1/products/%s/revisions/%" PRId64, p->id,
             p->latest_revision);
    return ERR_OK;
}

/* POST /v1/products: the body is the metadata document. */
enum err http__product_register(struct http_server *srv, struct http_request *req,
                                struct http_response *res, struct errbuf *err)
{
    struct store_product p;
    struct store_revision r;
    enum err rc = core_product_register(&srv->core, &req->who, req->body, &p, &r, err);
    if (rc != ERR_OK) {
        return rc;
    }
    return product_answer(&p, &r, res, 201, err);
}

/* POST /v1/products/{id}/revisions and PUT /v1/products/{id}: a complete new document. */
enum err http__product_revise(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    struct store_product p;
    struct store_revision r;
    enum err rc =
        core_product_revise(&srv->core, &req->who, param(req, "id"), req->body, &p, &r, err);
    if (rc != ERR_OK) {
        return rc;
    }
    return product_answer(&p, &r, res, 201, err);
}

/* GET /v1/products */
enum err http__product_list(struct http_server *srv, struct http_request *req,
                            struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"provider_id", "kind",  "category", "classification",
                                          "sensitivity", "limit", "cursor",   NULL};
    struct store_product_filter f;
    memset(&f, 0, sizeof(f));
    enum err rc = http__query_only(req, allowed, err);
    if (rc == ERR_OK) {
        rc = page_limit(req, &f.limit, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    f.provider_id = http__query_get(req, "provider_id");
    f.kind = http__query_get(req, "kind");
    f.category = http__query_get(req, "category");
    f.classification = http__query_get(req, "classification");
    f.sensitivity = http__query_get(req, "sensitivity");
    f.cursor = http__query_get(req, "cursor");
    struct store_product_page page;
    rc = core_product_list(&srv->core, &req->who, &f, &page, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < page.count; i++) {
        if (json_array_append_new(items, product_json(&page.items[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    res->body = page_json(items, page.next_cursor);
    store_product_page_release(&page);
    res->status = 200;
    return res->body != NULL && items != NULL ? ERR_OK : oom(err);
}

/* GET /v1/products/{id}: the product, its newest revision in full and every revision. */
enum err http__product_get(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    struct store_product p;
    struct store_revision r;
    memset(&r, 0, sizeof(r));
    struct store_revision *list = NULL;
    size_t n = 0;
    enum err rc = core_product_get(&srv->core, &req->who, param(req, "id"), &p, err);
    if (rc == ERR_OK) {
        rc = store_revision_get(srv->core.store, p.latest_revision_id, &r, err);
    }
    if (rc == ERR_OK) {
        rc = store_revision_list(srv->core.store, p.id, &list, &n, err);
    }
    if (rc != ERR_OK) {
        store_revision_release(&r);
        return rc;
    }
    json_t *revs = json_array();
    for (size_t i = 0; revs != NULL && i < n; i++) {
        if (json_array_append_new(revs, revision_json(&list[i], 0)) != 0) {
            json_decref(revs);
            revs = NULL;
        }
    }
    mem_free(list);
    rc = product_answer(&p, &r, res, 200, err);
    res->location[0] = '\0';
    if (rc != ERR_OK || revs == NULL || json_object_set_new(res->body, "revisions", revs) != 0) {
        return rc != ERR_OK ? rc : oom(err);
    }
    return ERR_OK;
}

static enum err revision_answer(struct http_server *srv, struct http_request *req,
                                const char *product_id, const char *revision,
                                struct http_response *res, struct errbuf *err)
{
    struct store_revision r;
    enum err rc = core_revision_get(&srv->core, &req->who, product_id, revision, &r, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = revision_json(&r, 1);
    store_revision_release(&r);
    res->status = 200;
    return res->body != NULL ? ERR_OK : oom(err);
}

/* GET /v1/products/{id}/revisions/{n} */
enum err http__revision_get_number(struct http_server *srv, struct http_request *req,
                                   struct http_response *res, struct errbuf *err)
{
    return revision_answer(srv, req, param(req, "id"), param(req, "n"), res, err);
}

/* GET /v1/revisions/{rid} */
enum err http__revision_get(struct http_server *srv, struct http_request *req,
                            struct http_response *res, struct errbuf *err)
{
    return revision_answer(srv, req, NULL, param(req, "rid"), res, err);
}

/* GET /v1/revisions/{rid}/listable: the listing gate and the cross-border answer. */
enum err http__revision_listable(struct http_server *srv, struct http_request *req,
                                 struct http_response *res, struct errbuf *err)
{
    struct store_revision r;
    enum err rc = core_revision_get(&srv->core, &req->who, NULL, param(req, "rid"), &r, err);
    if (rc != ERR_OK) {
        return rc;
    }
    store_revision_release(&r);
    struct core_listable *l = mem_calloc(2, sizeof(*l));
    if (l == NULL) {
        return oom(err);
    }
    rc = core_product_listable(&srv->core, param(req, "rid"), &l[0], err);
    if (rc == ERR_OK) {
        rc = core_revision_cross_border(&srv->core, param(req, "rid"), &l[1], err);
    }
    if (rc == ERR_OK) {
        res->body =
            json_pack("{s:s, s:b, s:I, s:o*, s:{s:b, s:o*}}", "revision_id", param(req, "rid"),
                      "listable", l[0].listable, "policy_version", (json_int_t)l[0].policy_version,
                      "missing", missing_json(&l[0]), "cross_border", "allowed", l[1].listable,
                      "missing", missing_json(&l[1]));
        res->status = 200;
        rc = res->body != NULL ? ERR_OK : oom(err);
    }
    mem_free(l);
    return rc;
}

/* ---- rights ---- */

static enum err rights_answer(const struct store_rights *r, int status, struct http_response *res,
                              struct errbuf *err)
{
    res->body = rights_json(r);
    res->status = status;
    if (status == 201) {
        snprintf(res->location, sizeof(res->location), "/v1/rights/%s", r->id);
    }
    return res->body != NULL ? ERR_OK : oom(err);
}

/* POST /v1/rights */
enum err http__rights_issue(struct http_server *srv, struct http_request *req,
                            struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"revision_id", "right", "holder_id", NULL};
    const char *revision_id, *right, *holder_id;
    const char **out[] = {&revision_id, &right, &holder_id};
    enum err rc = body_strings(req, names, out, ARRAY_LEN(out), err);
    if (rc == ERR_OK) {
        rc = required(revision_id, "revision_id", err);
    }
    if (rc == ERR_OK) {
        rc = required(right, "right", err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_rights *r = mem_calloc(1, sizeof(*r));
    if (r == NULL) {
        return oom(err);
    }
    rc = core_rights_issue(&srv->core, &req->who, revision_id, right, holder_id, r, err);
    if (rc == ERR_OK) {
        rc = rights_answer(r, 201, res, err);
    }
    mem_free(r);
    return rc;
}

/* GET /v1/rights */
enum err http__rights_list(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"revision_id", "product_id", "holder_id", "right",
                                          "status",      "limit",      "cursor",    NULL};
    struct store_rights_filter f;
    memset(&f, 0, sizeof(f));
    enum err rc = http__query_only(req, allowed, err);
    if (rc == ERR_OK) {
        rc = page_limit(req, &f.limit, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    f.revision_id = http__query_get(req, "revision_id");
    f.product_id = http__query_get(req, "product_id");
    f.holder_id = http__query_get(req, "holder_id");
    f.right = http__query_get(req, "right");
    f.status = http__query_get(req, "status");
    f.cursor = http__query_get(req, "cursor");
    struct store_rights_page page;
    rc = core_rights_list(&srv->core, &req->who, &f, &page, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < page.count; i++) {
        if (json_array_append_new(items, rights_json(&page.items[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    res->body = page_json(items, page.next_cursor);
    store_rights_page_release(&page);
    res->status = 200;
    return res->body != NULL && items != NULL ? ERR_OK : oom(err);
}

/* GET /v1/rights/{id}: public, with the history and the key to verify it with. */
enum err http__rights_get(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    struct store_rights *r = mem_calloc(1, sizeof(*r));
    struct store_rights_event *events = NULL;
    size_t n = 0;
    if (r == NULL) {
        return oom(err);
    }
    enum err rc = core_rights_get(&srv->core, param(req, "id"), r, err);
    if (rc == ERR_OK) {
        rc = store_rights_event_list(srv->core.store, r->id, &events, &n, err);
    }
    if (rc == ERR_OK) {
        res->body = rights_json(r);
        json_t *history = json_array();
        for (size_t i = 0; history != NULL && i < n; i++) {
            if (json_array_append_new(history, rights_event_json(&events[i])) != 0) {
                json_decref(history);
                history = NULL;
            }
        }
        const struct core_signer *s = srv->core.operator_signer;
        if (res->body == NULL || history == NULL ||
            json_object_set_new(res->body, "history", history) != 0 ||
            json_object_set_new(res->body, "operator_public_key",
                                s != NULL ? json_string(s->public_key) : json_null()) != 0) {
            rc = oom(err);
        }
        res->status = 200;
    }
    mem_free(events);
    mem_free(r);
    return rc;
}

/* The shared body of the certificate steps. */
enum rights_step { STEP_LICENSE, STEP_TRANSFER, STEP_PLEDGE, STEP_RELEASE, STEP_REVOKE };

static enum err rights_step(struct http_server *srv, struct http_request *req,
                            struct http_response *res, enum rights_step step, struct errbuf *err)
{
    static const char *const license_names[] = {"licensee_id", "terms", NULL};
    static const char *const transfer_names[] = {"to", NULL};
    static const char *const pledge_names[] = {"creditor_id", "terms", NULL};
    static const char *const release_names[] = {NULL};
    static const char *const revoke_names[] = {"reason", NULL};
    static const char *const *const names[] = {license_names, transfer_names, pledge_names,
                                               release_names, revoke_names};
    const char *a = NULL, *b = NULL;
    const char **out[] = {&a, &b};
    size_t count = 0;
    while (names[step][count] != NULL) {
        count++;
    }
    enum err rc = body_strings(req, names[step], out, count, err);
    if (rc == ERR_OK && count > 0 && step != STEP_REVOKE) {
        rc = required(a, names[step][0], err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_rights *r = mem_calloc(1, sizeof(*r));
    if (r == NULL) {
        return oom(err);
    }
    const char *id = param(req, "id");
    struct core *c = &srv->core;
    switch (step) {
    case STEP_LICENSE:
        rc = core_rights_license(c, &req->who, id, a, b, r, err);
        break;
    case STEP_TRANSFER:
        rc = core_rights_transfer(c, &req->who, id, a, r, err);
        break;
    case STEP_PLEDGE:
        rc = core_rights_pledge(c, &req->who, id, a, b, r, err);
        break;
    case STEP_RELEASE:
        rc = core_rights_release(c, &req->who, id, r, err);
        break;
    default:
        rc = core_rights_revoke(c, &req->who, id, a, r, err);
        break;
    }
    if (rc == ERR_OK) {
        rc = rights_answer(r, 200, res, err);
    }
    mem_free(r);
    return rc;
}

/* POST /v1/rights/{id}/licenses */
enum err http__rights_license(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    return rights_step(srv, req, res, STEP_LICENSE, err);
}

/* POST /v1/rights/{id}/transfer */
enum err http__rights_transfer(struct http_server *srv, struct http_request *req,
                               struct http_response *res, struct errbuf *err)
{
    return rights_step(srv, req, res, STEP_TRANSFER, err);
}

/* POST /v1/rights/{id}/pledge */
enum err http__rights_pledge(struct http_server *srv, struct http_request *req,
                             struct http_response *res, struct errbuf *err)
{
    return rights_step(srv, req, res, STEP_PLEDGE, err);
}

/* POST /v1/rights/{id}/release */
enum err http__rights_release(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    return rights_step(srv, req, res, STEP_RELEASE, err);
}

/* POST /v1/rights/{id}/revoke */
enum err http__rights_revoke(struct http_server *srv, struct http_request *req,
                             struct http_response *res, struct errbuf *err)
{
    return rights_step(srv, req, res, STEP_REVOKE, err);
}

/* ---- listing policy ---- */

/* GET /v1/policy/listing[?version=N]: the policy in force, or version N (0: the default). */
enum err http__policy_get(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"version", NULL};
    enum err rc = http__query_only(req, allowed, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int64_t version = 0;
    const char *s = http__query_get(req, "version");
    if (s == NULL) {
        version = CORE_POLICY_CURRENT;
    }
    for (const char *p = s; p != NULL && *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || version > 1000000000) {
            return err_set(err, ERR_INVALID, "version", "version is a non-negative integer");
        }
        version = version * 10 + (*p - '0');
    }
    if (s != NULL && s[0] == '\0') {
        return err_set(err, ERR_INVALID, "version", "version is a non-negative integer");
    }
    struct store_policy p;
    rc = core_policy_get(&srv->core, version, &p, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = policy_json(&p);
    store_policy_release(&p);
    res->status = 200;
    return res->body != NULL ? ERR_OK : oom(err);
}

/* POST /v1/policy/listing: the body is the policy. */
enum err http__policy_set(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    struct store_policy p;
    enum err rc = core_policy_set(&srv->core, &req->who, req->body, &p, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = policy_json(&p);
    store_policy_release(&p);
    res->status = 201;
    return res->body != NULL ? ERR_OK : oom(err);
}

/* ---- assessments ---- */

static enum err assessment_answer(struct store_assessment *a, int status, struct http_response *res,
                                  struct errbuf *err)
{
    res->body = assessment_json(a);
    store_assessment_release(a);
    res->status = status;
    if (status == 201) {
        snprintf(res->location, sizeof(res->location), "/v1/assessments/%s", a->id);
    }
    return res->body != NULL ? ERR_OK : oom(err);
}

/* POST /v1/assessments */
enum err http__assessment_request(struct http_server *srv, struct http_request *req,
                                  struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"revision_id", "kind", "firm_id", NULL};
    const char *revision_id, *kind, *firm_id;
    const char **out[] = {&revision_id, &kind, &firm_id};
    enum err rc = body_strings(req, names, out, ARRAY_LEN(out), err);
    for (size_t i = 0; i < ARRAY_LEN(out) && rc == ERR_OK; i++) {
        rc = required(*out[i], names[i], err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_assessment a;
    rc = core_assessment_request(&srv->core, &req->who, revision_id, kind, firm_id, &a, err);
    return rc == ERR_OK ? assessment_answer(&a, 201, res, err) : rc;
}

/* POST /v1/assessments/{id}/report */
enum err http__assessment_submit(struct http_server *srv, struct http_request *req,
                                 struct http_response *res, struct errbuf *err)
{
    static const char *const names[] = {"report", "signature", NULL};
    const char *report, *signature;
    const char **out[] = {&report, &signature};
    enum err rc = body_strings(req, names, out, ARRAY_LEN(out), err);
    for (size_t i = 0; i < ARRAY_LEN(out) && rc == ERR_OK; i++) {
        rc = required(*out[i], names[i], err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_assessment a;
    rc =
        core_assessment_submit(&srv->core, &req->who, param(req, "id"), report, signature, &a, err);
    return rc == ERR_OK ? assessment_answer(&a, 200, res, err) : rc;
}

/* GET /v1/assessments/{id} */
enum err http__assessment_get(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    struct store_assessment a;
    enum err rc = core_assessment_get(&srv->core, &req->who, param(req, "id"), &a, err);
    return rc == ERR_OK ? assessment_answer(&a, 200, res, err) : rc;
}

/* GET /v1/assessments */
enum err http__assessment_list(struct http_server *srv, struct http_request *req,
                               struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"revision_id", "product_id", "firm_id", "kind",
                                          "status",      "limit",      "cursor",  NULL};
    struct store_assessment_filter f;
    memset(&f, 0, sizeof(f));
    enum err rc = http__query_only(req, allowed, err);
    if (rc == ERR_OK) {
        rc = page_limit(req, &f.limit, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    f.revision_id = http__query_get(req, "revision_id");
    f.product_id = http__query_get(req, "product_id");
    f.firm_id = http__query_get(req, "firm_id");
    f.kind = http__query_get(req, "kind");
    f.status = http__query_get(req, "status");
    f.cursor = http__query_get(req, "cursor");
    struct store_assessment_page page;
    rc = core_assessment_list(&srv->core, &req->who, &f, &page, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < page.count; i++) {
        if (json_array_append_new(items, assessment_json(&page.items[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    res->body = page_json(items, page.next_cursor);
    store_assessment_page_release(&page);
    res->status = 200;
    return res->body != NULL && items != NULL ? ERR_OK : oom(err);
}
