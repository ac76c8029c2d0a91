/*
 * delivery.c: the handlers of custody: chunked uploads (raw chunk bodies), stored objects and
 * their content, download tokens and the token-authorised download. docs/api.md describes every
 * route. Content is streamed (struct http_stream): the object file is decrypted a buffer at a
 * time as the connection drains, with single-range Range support (RFC 9110: 206, 416,
 * If-Range against the strong ETag, which is the content's SHA-256).
 *
 * A token download that sent every byte it was asked for is recorded in the log
 * (delivery.downloaded) when its last byte is handed to the connection; one cut short is not.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/delivery.h"
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

static struct delivery_actor actor_of(const struct http_request *req)
{
    struct delivery_actor a = {req->who.id,
                               req->who.kind == CORE_KIND_OPERATOR && req->who.id[0] != '\0'
                                   ? DELIVERY_ROLE_OPERATOR
                                   : DELIVERY_ROLE_ENTITY,
                               core_principal_active(&req->who)};
    return a;
}

/* A decimal integer of at most 18 digits in [0, max]; ERR_INVALID naming field. */
static enum err int_text(const char *s, int64_t max, const char *field, int64_t *out,
                         struct errbuf *err)
{
    size_t n = s != NULL ? strlen(s) : 0;
    int64_t v = 0;
    for (size_t i = 0; i < n && n <= 18; i++) {
        if (s[i] < '0' || s[i] > '9') {
            n = 0;
            break;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (n == 0 || n > 18 || v > max) {
        return err_set(err, ERR_INVALID, field, "%s must be an integer from 0 to %lld", field,
                       (long long)max);
    }
    *out = v;
    return ERR_OK;
}

/* An optional integer member; absent or null leaves *out. */
static enum err json_int(json_t *body, const char *name, int64_t *out, struct errbuf *err)
{
    json_t *v = json_object_get(body, name);
    if (v == NULL || json_is_null(v)) {
        return ERR_OK;
    }
    if (!json_is_integer(v)) {
        return err_set(err, ERR_INVALID, name, "'%s' must be an integer", name);
    }
    *out = json_integer_value(v);
    return ERR_OK;
}

static enum err header_add(struct http_response *res, const char *name, const char *value)
{
    ASSERT(res->nheaders < HTTP_HEADERS_EXTRA_MAX);
    struct http_header_extra *h = &res->headers[res->nheaders];
    int n = snprintf(h->value, sizeof(h->value), "%s", value);
    if (n < 0 || (size_t)n >= sizeof(h->value)) {
        return ERR_LIMIT;
    }
    h->name = name;
    res->nheaders++;
    return ERR_OK;
}

/* ---- renderings ---- */

static json_t *upload_json(const struct store_upload *u)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:s, s:o*, s:o*, s:o*, s:I}",
                     "id", u->id, "product_id", u->product_id, "revision_id", u->revision_id,
                     "provider_id", u->provider_id, "name", u->name, "size", (json_int_t)u->size,
                     "sha256", u->sha256, "chunk_size", (json_int_t)u->chunk_size, "chunk_count",
                     (json_int_t)u->chunk_count, "status", u->status, "object_id",
                     u->object_id[0] != '\0' ? json_string(u->object_id) : json_null(),
                     "created_at", http__time_json(u->created_ms), "updated_at",
                     http__time_json(u->updated_ms), "log_index", (json_int_t)u->log_index);
}

static json_t *object_json(const struct store_object *o)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:o*, s:o*, s:I}", "id", o->id,
                     "product_id", o->product_id, "revision_id", o->revision_id, "provider_id",
                     o->provider_id, "upload_id", o->upload_id, "name", o->name, "size",
                     (json_int_t)o->size, "sha256", o->sha256, "format", o->format, "rows",
                     o->rows >= 0 ? json_integer(o->rows) : json_null(), "created_at",
                     http__time_json(o->created_ms), "log_index", (json_int_t)o->log_index);
}

static json_t *token_json(const struct store_download_token *t)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o*, s:o*, s:o*, s:I}", "id", t->id, "contract_id",
                     t->contract_id, "revision_id", t->revision_id, "object_id", t->object_id,
                     "buyer_id", t->buyer_id, "created_at", http__time_json(t->created_ms),
                     "expires_at", http__time_json(t->expires_ms), "revoked_at",
                     http__time_json(t->revoked_ms), "log_index", (json_int_t)t->log_index);
}

static enum err answer(struct http_response *res, json_t *body, int status, struct errbuf *err)
{
    res->body = body;
    res->status = status;
    return body != NULL ? ERR_OK : oom(err);
}

/* ---- uploads ---- */

/* POST /v1/uploads {product_id, revision_id?, name, size, sha256, chunk_size?} */
enum err http__upload_start(struct http_server *srv, struct http_request *req,
                            struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"product_id", "revision_id", "name", "size",
                                          "sha256",     "chunk_size",  NULL};
    struct delivery_upload_request r;
    memset(&r, 0, sizeof(r));
    r.size = -1;
    enum err rc = http__json_only(req->body, allowed, err);
    const char *names[] = {"product_id", "revision_id", "name", "sha256"};
    const char **dst[] = {&r.product_id, &r.revision_id, &r.name, &r.sha256};
    for (size_t i = 0; i < ARRAY_LEN(names) && rc == ERR_OK; i++) {
        rc = http__json_str(req->body, names[i], dst[i], err);
    }
    if (rc == ERR_OK) {
        rc = json_int(req->body, "size", &r.size, err);
    }
    if (rc == ERR_OK) {
        rc = json_int(req->body, "chunk_size", &r.chunk_size, err);
    }
    if (rc == ERR_OK && r.size < 0) {
        rc = err_set(err, ERR_INVALID, "size", "'size' is required: the file's bytes");
    }
    struct delivery_actor who = actor_of(req);
    struct store_upload u;
    if (rc == ERR_OK) {
        rc = delivery_upload_start(srv->custody, &who, &r, &u, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(res->location, sizeof(res->location), "/v1/uploads/%s", u.id);
    return answer(res, upload_json(&u), 201, err);
}

/* GET /v1/uploads?sha256=..[&product_id=..]: the caller's open uploads of that file. */
enum err http__upload_find(struct http_server *srv, struct http_request *req,
                           struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"sha256", "product_id", NULL};
    enum err rc = http__query_only(req, allowed, err);
    const char *sha = http__query_get(req, "sha256");
    if (rc == ERR_OK && sha == NULL) {
        rc = err_set(err, ERR_INVALID, "sha256", "sha256 is required");
    }
    struct delivery_actor who = actor_of(req);
    struct store_upload *items = NULL;
    size_t n = 0;
    if (rc == ERR_OK) {
        rc = delivery_upload_find(srv->custody, &who, sha, http__query_get(req, "product_id"),
                                  STORE_PAGE_MAX, &items, &n, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < n; i++) {
        if (json_array_append_new(list, upload_json(&items[i])) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    mem_free(items);
    return answer(res, list != NULL ? json_pack("{s:o}", "items", list) : NULL, 200, err);
}

/* GET /v1/uploads/{id}: the upload and the chunks received, for resuming. */
enum err http__upload_get(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    struct delivery_actor who = actor_of(req);
    struct store_upload u;
    struct store_upload_chunk *chunks = NULL;
    size_t n = 0;
    enum err rc = delivery_upload_get(srv->custody, &who, param(req, "id"), &u, &chunks, &n, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *body = upload_json(&u);
    json_t *received = json_array();
    int64_t bytes = 0;
    for (size_t i = 0; received != NULL && i < n; i++) {
        bytes += chunks[i].size;
        if (json_array_append_new(received, json_integer(chunks[i].n)) != 0) {
            json_decref(received);
            received = NULL;
        }
    }
    mem_free(chunks);
    if (body == NULL || received == NULL || json_object_set_new(body, "received", received) != 0 ||
        json_object_set_new(body, "received_bytes", json_integer(bytes)) != 0) {
        json_decref(body);
        return oom(err);
    }
    return answer(res, body, 200, err);
}

/* PUT /v1/uploads/{id}/chunks/{n}: the raw chunk, its SHA-256 in Chunk-SHA256. */
enum err http__upload_chunk(struct http_server *srv, struct http_request *req,
                            struct http_response *res, struct errbuf *err)
{
    int64_t n = 0;
    enum err rc = int_text(param(req, "n"), DELIVERY_CHUNKS_MAX, "n", &n, err);
    size_t len = 0;
    const char *hdr = http__header(req, "chunk-sha256", &len);
    char digest[STORE_HASH_HEX_MAX] = "";
    if (rc == ERR_OK && hdr == NULL) {
        rc = err_set(err, ERR_INVALID, "Chunk-SHA256",
                     "the Chunk-SHA256 header (hex SHA-256 of the chunk) is required");
    }
    if (rc == ERR_OK) {
        snprintf(digest, sizeof(digest), "%.*s", len < 65 ? (int)len : 65, hdr);
    }
    struct delivery_actor who = actor_of(req);
    struct store_upload_chunk c;
    int again = 0;
    if (rc == ERR_OK) {
        rc = delivery_upload_chunk(srv->custody, &who, param(req, "id"), n, req->raw, req->raw_len,
                                   digest, &c, &again, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    return answer(res,
                  json_pack("{s:s, s:I, s:I, s:s, s:o*, s:b}", "upload_id", param(req, "id"), "n",
                            (json_int_t)c.n, "size", (json_int_t)c.size, "sha256", c.sha256,
                            "received_at", http__time_json(c.received_ms), "again", again),
                  again ? 200 : 201, err);
}

/* POST /v1/uploads/{id}/complete */
enum err http__upload_complete(struct http_server *srv, struct http_request *req,
                               struct http_response *res, struct errbuf *err)
{
    struct delivery_actor who = actor_of(req);
    struct store_object o;
    enum err rc = delivery_upload_complete(srv->custody, &who, param(req, "id"), &o, err);
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(res->location, sizeof(res->location), "/v1/objects/%s", o.id);
    return answer(res, object_json(&o), 201, err);
}

/* DELETE /v1/uploads/{id} */
enum err http__upload_abandon(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    struct delivery_actor who = actor_of(req);
    struct store_upload u;
    enum err rc = delivery_upload_abandon(srv->custody, &who, param(req, "id"), &u, err);
    return rc == ERR_OK ? answer(res, upload_json(&u), 200, err) : rc;
}

/* ---- objects and their content ---- */

/* GET /v1/objects/{id} */
enum err http__object_get(struct http_server *srv, struct http_request *req,
                          struct http_response *res, struct errbuf *err)
{
    struct delivery_actor who = actor_of(req);
    struct store_object o;
    enum err rc = delivery_object_get(srv->custody, &who, param(req, "id"), &o, err);
    return rc == ERR_OK ? answer(res, object_json(&o), 200, err) : rc;
}

/* The decrypted bytes [first, last] of an object, read as the connection drains. */
struct object_stream {
    struct http_stream base; /* first: the server hands it back */
    struct http_server *srv;
    struct delivery_object_file *file;
    int64_t offset;
    int64_t first;
    int64_t last;
    int record; /* a token download: log it when complete */
    struct store_download_token tok;
    struct store_object obj;
};

static enum err object_stream_read(struct http_stream *s, void *buf, size_t len, struct errbuf *err)
{
    struct object_stream *o = (struct object_stream *)s;
    enum err rc = delivery_object_read(o->file, o->offset, buf, len, err);
    o->offset += (int64_t)len;
    return rc;
}

static void object_stream_done(struct http_stream *s, int complete)
{
    struct object_stream *o = (struct object_stream *)s;
    if (complete && o->record) {
        struct errbuf err;
        errbuf_init(&err);
        if (delivery_download_record(o->srv->custody, &o->tok, &o->obj, o->first, o->last, &err) !=
            ERR_OK) {
            log_msg(LOG_ERROR, "cannot record the download of '%s' under '%s': %s", o->obj.id,
                    o->tok.id, err.msg);
        }
        /* The last byte reached the buyer: the copy is delivered (traces.c). */
        if (o->obj.size == 0 || o->last == o->obj.size - 1) {
            http__copy_delivered(o->srv, &o->tok, &o->obj);
        }
    }
    delivery_object_close(o->file);
    mem_free(o);
}

static const char *media_type(const char *format)
{
    if (strcmp(format, "csv") == 0) {
        return "text/csv; charset=utf-8";
    }
    if (strcmp(format, "tsv") == 0) {
        return "text/tab-separated-values; charset=utf-8";
    }
    return strcmp(format, "jsonl") == 0 ? "application/jsonl" : "application/octet-stream";
}

/* The range to send, from Range and If-Range; *status 200, 206 or 416. */
static void range_of(const struct http_request *req, const struct store_object *o, const char *etag,
                     int64_t *first, int64_t *last, int *status)
{
    size_t len = 0, if_len = 0;
    const char *range = http__header(req, "range", &len);
    const char *if_range = http__header(req, "if-range", &if_len);
    *first = 0;
    *last = o->size - 1;
    *status = 200;
    /* If-Range with another validator (or a date: our validator is the ETag) means "the
     * representation changed": send it whole. */
    if (range == NULL ||
        (if_range != NULL && (if_len != strlen(etag) || memcmp(if_range, etag, if_len) != 0))) {
        return;
    }
    enum delivery_range r = delivery_range_parse(range, len, o->size, first, last);
    if (r == DELIVERY_RANGE_PARTIAL) {
        *status = 206;
    } else if (r == DELIVERY_RANGE_UNSATISFIABLE) {
        *status = 416;
    } else {
        *first = 0;
        *last = o->size - 1;
    }
}

/* Answers with the object's content, whole or one range; tok non-NULL records the download. */
static enum err content_answer(struct http_server *srv, struct http_request *req,
                               struct http_response *res, const struct store_object *o,
                               const struct store_download_token *tok, struct errbuf *err)
{
    char etag[STORE_HASH_HEX_MAX + 2], v[96];
    snprintf(etag, sizeof(etag), "\"%s\"", o->sha256);
    int64_t first = 0, last = 0;
    int status = 200;
    range_of(req, o, etag, &first, &last, &status);
    header_add(res, "accept-ranges", "bytes");
    header_add(res, "etag", etag);
    if (status == 416) {
        snprintf(v, sizeof(v), "bytes */%lld", (long long)o->size);
        header_add(res, "content-range", v);
        res->problem_type = "range-not-satisfiable";
        http__problem(res, ERR_INVALID, NULL);
        res->status = 416;
        json_object_set_new(res->body, "status", json_integer(416));
        json_object_set_new(res->body, "detail",
                            json_string("the range is outside the object's bytes"));
        json_object_set_new(res->body, "field", json_string("Range"));
        return ERR_OK;
    }
    struct object_stream *s = mem_calloc(1, sizeof(*s));
    if (s == NULL) {
        return oom(err);
    }
    enum err rc = delivery_object_open(srv->custody, o, &s->file, err);
    if (rc != ERR_OK) {
        mem_free(s);
        return rc;
    }
    if (status == 206) {
        snprintf(v, sizeof(v), "bytes %lld-%lld/%lld", (long long)first, (long long)last,
                 (long long)o->size);
        header_add(res, "content-range", v);
    }
    s->base.length = o->size == 0 ? 0 : last - first + 1;
    s->base.read = object_stream_read;
    s->base.done = object_stream_done;
    s->srv = srv;
    s->offset = first;
    s->first = first;
    s->last = last;
    s->obj = *o;
    if (tok != NULL) {
        s->record = 1;
        s->tok = *tok;
    }
    res->stream = &s->base;
    res->status = status;
    res->content_type = media_type(o->format);
    res->cache_control = "private, no-store";
    return ERR_OK;
}

/* GET /v1/objects/{id}/content: the provider's (or operator's) own copy. */
enum err http__object_content(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    struct delivery_actor who = actor_of(req);
    struct store_object o;
    enum err rc = delivery_object_get(srv->custody, &who, param(req, "id"), &o, err);
    return rc == ERR_OK ? content_answer(srv, req, res, &o, NULL, err) : rc;
}

/* ---- download tokens ---- */

enum err http__contract_facts(struct store *s, const char *contract_id,
                              struct delivery_contract *out, struct errbuf *err)
{
    struct store_contract *k = mem_alloc(sizeof(*k));
    if (k == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory reading a contract");
    }
    enum err rc = store_contract_get(s, contract_id, k, err);
    if (rc == ERR_OK) {
        memset(out, 0, sizeof(*out));
        rc = core_contract_licence_end(k, &out->licence_end_ms, err);
    }
    if (rc == ERR_OK) {
        snprintf(out->id, sizeof(out->id), "%s", k->id);
        snprintf(out->buyer_id, sizeof(out->buyer_id), "%s", k->buyer_id);
        snprintf(out->revision_id, sizeof(out->revision_id), "%s", k->revision_id);
        snprintf(out->state, sizeof(out->state), "%s", k->state);
        snprintf(out->delivery, sizeof(out->delivery), "%s", k->delivery);
    }
    mem_free(k);
    return rc;
}

static enum err contract_read(void *ctx, const char *contract_id, struct delivery_contract *out,
                              struct errbuf *err)
{
    struct http_server *srv = ctx;
    return http__contract_facts(srv->core.store, contract_id, out, err);
}

/* POST /v1/contracts/{id}/download-tokens [{object_id?, ttl_seconds?}] */
enum err http__download_token_mint(struct http_server *srv, struct http_request *req,
                                   struct http_response *res, struct errbuf *err)
{
    static const char *const allowed[] = {"object_id", "ttl_seconds", NULL};
    const char *object_id = NULL;
    int64_t ttl_s = 0;
    enum err rc = ERR_OK;
    if (req->body != NULL) {
        rc = http__json_only(req->body, allowed, err);
        if (rc == ERR_OK) {
            rc = http__json_str(req->body, "object_id", &object_id, err);
        }
        if (rc == ERR_OK) {
            rc = json_int(req->body, "ttl_seconds", &ttl_s, err);
        }
        if (rc == ERR_OK && (ttl_s < 1 || ttl_s > DELIVERY_TOKEN_TTL_MAX_MS / 1000) && ttl_s != 0) {
            rc = err_set(err, ERR_INVALID, "ttl_seconds", "ttl_seconds must be %lld to %lld",
                         (long long)(DELIVERY_TOKEN_TTL_MIN_MS / 1000),
                         (long long)(DELIVERY_TOKEN_TTL_MAX_MS / 1000));
        }
    }
    struct store_contract *k = rc == ERR_OK ? mem_alloc(sizeof(*k)) : NULL;
    if (rc == ERR_OK && k == NULL) {
        rc = oom(err);
    }
    if (rc == ERR_OK) {
        rc = core_contract_get(&srv->core, &req->who, param(req, "id"), k, err);
    }
    struct delivery_contract view;
    memset(&view, 0, sizeof(view));
    if (rc == ERR_OK) {
        mem_free(k);
        k = NULL;
        rc = contract_read(srv, param(req, "id"), &view, err);
    }
    mem_free(k);
    struct delivery_actor who = actor_of(req);
    struct store_download_token t;
    char secret[DELIVERY_TOKEN_MAX];
    if (rc == ERR_OK) {
        rc = delivery_token_mint(srv->custody, &who, &view, object_id, ttl_s * 1000, &t, secret,
                                 err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *body = token_json(&t);
    /* "secret": the one member idempotent replays never store (server.c redacts it). */
    if (body != NULL && json_object_set_new(body, "secret", json_string(secret)) != 0) {
        json_decref(body);
        body = NULL;
    }
    sodium_memzero(secret, sizeof(secret));
    return answer(res, body, 201, err);
}

/* DELETE /v1/download-tokens/{id} */
enum err http__download_token_revoke(struct http_server *srv, struct http_request *req,
                                     struct http_response *res, struct errbuf *err)
{
    struct delivery_actor who = actor_of(req);
    struct store_download_token t;
    enum err rc = delivery_token_revoke(srv->custody, &who, param(req, "id"), &t, err);
    return rc == ERR_OK ? answer(res, token_json(&t), 200, err) : rc;
}

/* GET /v1/downloads/{token}: the buyer's copy, with the token as the only credential (an API
 * key, if sent, must be the buyer's). */
enum err http__download(struct http_server *srv, struct http_request *req,
                        struct http_response *res, struct errbuf *err)
{
    static const char *const types[] = {
        [DELIVERY_TOKEN_UNKNOWN] = "download-token-unknown",
        [DELIVERY_TOKEN_EXPIRED] = "download-token-expired",
        [DELIVERY_TOKEN_REVOKED] = "download-token-revoked",
        [DELIVERY_TOKEN_FOREIGN] = "download-token-foreign",
        [DELIVERY_TOKEN_CONTRACT] = "contract-not-deliverable",
    };
    static const enum err codes[] = {
        [DELIVERY_TOKEN_UNKNOWN] = ERR_NOT_FOUND,  [DELIVERY_TOKEN_EXPIRED] = ERR_FORBIDDEN,
        [DELIVERY_TOKEN_REVOKED] = ERR_FORBIDDEN,  [DELIVERY_TOKEN_FOREIGN] = ERR_FORBIDDEN,
        [DELIVERY_TOKEN_CONTRACT] = ERR_BAD_STATE,
    };
    struct store_download_token t;
    struct store_object o;
    enum delivery_token_verdict verdict = DELIVERY_TOKEN_UNKNOWN;
    enum err rc = delivery_token_check(
        srv->custody, param(req, "token"), req->authenticated ? req->who.id : NULL,
        clock_now(srv->core.clock), contract_read, srv, &t, &o, &verdict, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (verdict != DELIVERY_TOKEN_VALID) {
        ASSERT((size_t)verdict < ARRAY_LEN(types));
        res->problem_type = types[verdict];
        return codes[verdict];
    }
    /* The buyer gets the contract's own copy (fingerprinted when declared; copies.c). */
    struct store_object copy;
    int made = 0;
    rc = delivery_copy_get(srv->custody, &t, &o, &copy, &made, err);
    return rc == ERR_OK ? content_answer(srv, req, res, &copy, &t, err) : rc;
}

/* ---- set-up ---- */

enum err http__custody_init(struct http_server *srv, const char *data_dir,
                            const char *master_key_path, const char *max_object_size,
                            struct errbuf *err)
{
    char path[DELIVERY_PATH_MAX];
    int n = master_key_path != NULL && master_key_path[0] != '\0'
                ? snprintf(path, sizeof(path), "%s", master_key_path)
                : snprintf(path, sizeof(path), "%s/master.key", data_dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return err_set(err, ERR_LIMIT, "master_key", "master key path is too long");
    }
    int64_t max = DELIVERY_OBJECT_BYTES_DEFAULT;
    if (max_object_size != NULL && max_object_size[0] != '\0') {
        enum err rc =
            int_text(max_object_size, DELIVERY_OBJECT_BYTES_LIMIT, "max_object_size", &max, err);
        if (rc == ERR_OK && max < 1) {
            rc = err_set(err, ERR_INVALID, "max_object_size", "max_object_size must be positive");
        }
        if (rc != ERR_OK) {
            return rc;
        }
    }
    /* A key given by path is the operator's to create; the default one is made on first
     * start, like the other key files of the data directory. */
    int create = master_key_path == NULL || master_key_path[0] == '\0';
    unsigned char master[32];
    enum err rc = delivery_master_key_load(path, create, master, err);
    if (rc == ERR_NOT_FOUND) {
        rc = err_set(err, ERR_NOT_FOUND, "master_key", "no master key at '%s'", path);
    }
    struct delivery_custody *d = rc == ERR_OK ? mem_alloc(sizeof(*d)) : NULL;
    if (rc == ERR_OK && d == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK) {
        rc = delivery_custody_init(d, srv->core.store, srv->core.clock, srv->core.rng, data_dir,
                                   master, max, err);
        if (rc != ERR_OK) {
            mem_free(d);
            d = NULL;
        }
    }
    sodium_memzero(master, sizeof(master));
    if (rc == ERR_OK) {
        rc = delivery_custody_check_store(d, err);
    }
    if (rc != ERR_OK) {
        http__custody_free(d);
        return rc;
    }
    srv->custody = d;
    return ERR_OK;
}

void http__custody_free(struct delivery_custody *d)
{
    delivery_custody_release(d);
    mem_free(d);
}
