/*
 * server.c: the h2o event loop and the request dispatcher.
 *
 * One thread runs the loop; every handler but the pool's reads runs to completion inside it
 * (SQLite is a local call), so no request waits on a lock and nothing needs a mutex. A request
 * goes: route -> query -> authentication -> body -> (idempotency) -> handler -> response ->
 * metrics.
 * Any failure on the way is one RFC 9457 problem and changes nothing.
 *
 * Group commit: the first mutation in a loop iteration opens one store transaction; every
 * mutation runs inside it as a savepoint (core's own transactions nest), and every response of
 * the iteration, reads included, waits until that transaction commits at the end of the
 * iteration (or when HTTP_BATCH_MAX responses are waiting). One fsync then makes a whole
 * batch durable, and nothing is acknowledged before it is durable. If the commit fails, every
 * waiting request is answered 503 and nothing of the batch is kept.
 *
 * Reads of routes flagged HTTP_ROUTE_READ go to the read pool when there is one (pool.c,
 * --db-pool on PostgreSQL): they run on reader threads with their own connections, and only
 * their responses come back through the loop.
 *
 * SIGTERM and SIGINT stop accepting, ask h2o to close idle keep-alive connections, and let
 * in-flight requests finish for up to HTTP_DRAIN_MS before the process exits.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <h2o.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/banned.h"

#define HTTP_DRAIN_MS 10000

static h2o_globalconf_t h2o_config;
static h2o_context_t h2o_ctx;
static h2o_accept_ctx_t h2o_accept_ctx;
static struct http_server *server;
static volatile sig_atomic_t stop_requested;

/* A response waiting for its batch to commit. */
struct pending {
    h2o_req_t *req; /* NULL once h2o has disposed of the request (client gone) */
    struct pending_ref *ref;
    int status;
    int replayed;
    int route;
    int logged_error;
    char method[16];
    char path[512];
    char who[ID_MAX];
    const char *content_type;
    const char *cache_control;
    char location[256];
    int64_t retry_after_s;                  /* > 0: a Retry-After header */
    char digest_sha256[STORE_HASH_HEX_MAX]; /* non-empty: an X-Bourse-Document-Sha256 header */
    struct http_stream *stream;             /* owned: a streamed body instead of text */
    struct http_header_extra headers[HTTP_HEADERS_EXTRA_MAX];
    size_t nheaders;
    char *text; /* owned */
    size_t len;
    int64_t t0_ns;
};

/* Lives in the request's memory pool: tells us when h2o frees the request. */
struct pending_ref {
    struct pending *p;
};

static struct pending *batch[HTTP_BATCH_MAX];
static size_t batch_count;
static int batch_open;

static const char *reason_for(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 206:
        return "Partial Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "OK";
    }
}

static h2o_iovec_t header_value(h2o_req_t *req, const h2o_token_t *token, const char *name)
{
    ssize_t i = token != NULL ? h2o_find_header(&req->headers, token, -1)
                              : h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (i < 0) {
        return h2o_iovec_init(NULL, 0);
    }
    return req->headers.entries[i].value;
}

static enum err authenticate(h2o_req_t *hreq, struct http_request *req, struct errbuf *err)
{
    h2o_iovec_t auth = header_value(hreq, H2O_TOKEN_AUTHORIZATION, NULL);
    if (auth.base == NULL) {
        return ERR_OK;
    }
    static const char bearer[] = "Bearer ";
    char secret[CORE_API_SECRET_MAX];
    if (auth.len <= sizeof(bearer) - 1 || auth.len - (sizeof(bearer) - 1) >= sizeof(secret) ||
        strncasecmp(auth.base, bearer, sizeof(bearer) - 1) != 0) {
        return err_set(err, ERR_UNAUTHORIZED, "Authorization",
                       "the Authorization header must be 'Bearer <api key>'");
    }
    size_t n = auth.len - (sizeof(bearer) - 1);
    memcpy(secret, auth.base + sizeof(bearer) - 1, n);
    secret[n] = '\0';
    enum err rc = core_authenticate(&server->core, secret, &req->who, err);
    sodium_memzero(secret, sizeof(secret));
    if (rc == ERR_OK) {
        req->authenticated = 1;
    }
    return rc;
}

static enum err parse_body(h2o_req_t *hreq, const struct http_route *route,
                           struct http_request *req, struct errbuf *err)
{
    size_t len = hreq->entity.base != NULL ? hreq->entity.len : 0;
    if (route->flags & HTTP_ROUTE_RAW) {
        /* Raw bytes (upload chunks): h2o already refused anything over HTTP_BODY_HARD_MAX. */
        ASSERT(len <= HTTP_BODY_HARD_MAX);
        req->raw = len > 0 ? hreq->entity.base : "";
        req->raw_len = len;
        return ERR_OK;
    }
    if (len == 0 && !(route->flags & HTTP_ROUTE_BODY)) {
        return ERR_OK;
    }
    if (len > HTTP_BODY_MAX) {
        return err_set(err, ERR_LIMIT, "", "body is %zu bytes, over the %d byte limit", len,
                       HTTP_BODY_MAX);
    }
    h2o_iovec_t ct = header_value(hreq, H2O_TOKEN_CONTENT_TYPE, NULL);
    static const char json_type[] = "application/json";
    if (len > 0 && (ct.base == NULL || ct.len < sizeof(json_type) - 1 ||
                    strncasecmp(ct.base, json_type, sizeof(json_type) - 1) != 0 ||
                    (ct.len > sizeof(json_type) - 1 && ct.base[sizeof(json_type) - 1] != ';' &&
                     ct.base[sizeof(json_type) - 1] != ' '))) {
        return err_set(err, ERR_INVALID, "Content-Type", "the body must be application/json");
    }
    return http__json_parse(hreq->entity.base, len, &req->body, err);
}

/* Stored replays never contain a secret: those are shown once. */
static void redact_secrets(json_t *body)
{
    if (json_is_object(body) && json_object_get(body, "secret") != NULL) {
        json_object_set_new(body, "secret", json_null());
    }
    json_t *k = json_is_object(body) ? json_object_get(body, "api_key") : NULL;
    if (json_is_object(k)) {
        json_object_set_new(k, "secret", json_null());
    }
}

static enum err request_hash(h2o_req_t *hreq, const struct http_request *req,
                             char out[STORE_HASH_HEX_MAX])
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)req->method, strlen(req->method));
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)hreq->path.base, hreq->path.len);
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    if (hreq->entity.base != NULL) {
        crypto_hash_sha256_update(&st, (const unsigned char *)hreq->entity.base, hreq->entity.len);
    }
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(out, STORE_HASH_HEX_MAX, h, sizeof(h));
    return ERR_OK;
}

/* Runs a mutation under an Idempotency-Key: a replay returns the stored response, a new key
 * runs the handler and stores its response in the same transaction. */
static enum err run_idempotent(h2o_req_t *hreq, const struct http_route *route,
                               struct http_request *req, struct http_response *res,
                               h2o_iovec_t key_hdr, int *replayed, struct errbuf *err)
{
    char key[HTTP_IDEM_KEY_MAX + 1];
    if (key_hdr.len == 0 || key_hdr.len > HTTP_IDEM_KEY_MAX) {
        return err_set(err, ERR_INVALID, "Idempotency-Key",
                       "Idempotency-Key must be 1 to %d printable characters", HTTP_IDEM_KEY_MAX);
    }
    for (size_t i = 0; i < key_hdr.len; i++) {
        if (key_hdr.base[i] < 0x21 || key_hdr.base[i] > 0x7e) {
            return err_set(err, ERR_INVALID, "Idempotency-Key",
                           "Idempotency-Key must be printable ASCII without spaces");
        }
    }
    memcpy(key, key_hdr.base, key_hdr.len);
    key[key_hdr.len] = '\0';
    char hash[STORE_HASH_HEX_MAX];
    request_hash(hreq, req, hash);
    struct store *s = server->core.store;
    struct store_idem idem;
    enum err rc = store_idem_get(s, req->who.id, key, &idem, err);
    if (rc == ERR_OK && idem.created_ms < clock_now(server->core.clock) - server->idem_ttl_ms) {
        /* Past the retention but not purged yet: the key is free, as after the purge. */
        mem_free(idem.body);
        rc = store_idem_delete(s, req->who.id, key, err);
        if (rc != ERR_OK) {
            return rc;
        }
        rc = ERR_NOT_FOUND;
    }
    if (rc == ERR_OK) {
        int same = strcmp(idem.request_hash, hash) == 0;
        if (same) {
            json_error_t jerr;
            res->body = json_loads(idem.body, 0, &jerr);
            res->status = (int)idem.status;
            *replayed = 1;
        }
        mem_free(idem.body);
        if (!same) {
            return err_set(err, ERR_CONFLICT, "Idempotency-Key",
                           "Idempotency-Key '%s' was used for a different request", key);
        }
        return res->body != NULL ? ERR_OK : err_set(err, ERR_CORRUPT, "", "bad stored reply");
    }
    if (rc != ERR_NOT_FOUND) {
        return rc;
    }
    rc = store_tx_begin(s, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = route->handler(server, req, res, err);
    if (rc == ERR_OK) {
        json_t *copy = json_deep_copy(res->body);
        redact_secrets(copy);
        char *text = copy != NULL ? json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(copy);
        memset(&idem, 0, sizeof(idem));
        snprintf(idem.request_hash, sizeof(idem.request_hash), "%s", hash);
        idem.status = res->status;
        idem.body = text;
        idem.created_ms = clock_now(server->core.clock);
        rc = text != NULL ? store_idem_put(s, req->who.id, key, &idem, err)
                          : err_set(err, ERR_NOMEM, "", "out of memory");
        free(text);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(s);
        return rc;
    }
    return store_tx_commit(s, err);
}

/* The rate-limit subject of a request: its entity, else its client's address. */
static void limit_subject(h2o_req_t *hreq, const struct http_request *req,
                          char out[HTTP_SUBJECT_MAX])
{
    if (req->authenticated) {
        snprintf(out, HTTP_SUBJECT_MAX, "%s", req->who.id);
        return;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    char addr[INET6_ADDRSTRLEN] = "unknown";
    socklen_t len = hreq->conn->callbacks->get_peername(hreq->conn, (struct sockaddr *)&ss);
    if (len > 0 && ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
    } else if (len > 0 && ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
    }
    snprintf(out, HTTP_SUBJECT_MAX, "ip:%s", addr);
}

/* Opens the iteration's batch transaction before the first mutation runs. */
static enum err batch_begin(struct errbuf *err)
{
    if (batch_open) {
        return ERR_OK;
    }
    enum err rc = store_tx_begin(server->core.store, err);
    if (rc == ERR_OK) {
        batch_open = 1;
    }
    return rc;
}

static enum err dispatch(h2o_req_t *hreq, struct http_request *req, struct http_response *res,
                         int *route_index, int *replayed, int *pooled, struct errbuf *err)
{
    size_t plen = hreq->query_at != SIZE_MAX ? hreq->query_at : hreq->path.len;
    if (plen >= sizeof(req->path)) {
        return err_set(err, ERR_LIMIT, "path", "request path is too long");
    }
    memcpy(req->path, hreq->path.base, plen);
    req->path[plen] = '\0';
    int path_matched = 0;
    int r = http__route_find(req->method, req->path, req, &path_matched);
    *route_index = r;
    if (r < 0) {
        if (path_matched) {
            res->status = 405;
            return err_set(err, ERR_INVALID, "method", "method %s is not allowed on '%s'",
                           req->method, req->path);
        }
        return err_set(err, ERR_NOT_FOUND, "path", "no route '%s'", req->path);
    }
    const struct http_route *route = &http__routes[r];
    enum err rc = ERR_OK;
    if (hreq->query_at != SIZE_MAX) {
        rc = http__query_parse(hreq->path.base + hreq->query_at + 1,
                               hreq->path.len - hreq->query_at - 1, req, err);
    }
    if (rc == ERR_OK) {
        rc = authenticate(hreq, req, err);
    }
    /* Before anything is read or written for it; a bad key counts against its address. */
    if ((rc == ERR_OK || rc == ERR_UNAUTHORIZED) && !(route->flags & HTTP_ROUTE_UNLIMITED)) {
        char subject[HTTP_SUBJECT_MAX];
        limit_subject(hreq, req, subject);
        if (http__limits_refuse(server, subject, res)) {
            return ERR_OK;
        }
    }
    if (rc == ERR_OK && (route->flags & HTTP_ROUTE_AUTH) && !req->authenticated) {
        rc = err_set(err, ERR_UNAUTHORIZED, "Authorization", "this route needs an api key");
    }
    if (rc == ERR_OK) {
        rc = parse_body(hreq, route, req, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if ((route->flags & HTTP_ROUTE_READ) && server->pool != NULL) {
        *pooled = 1; /* on_req hands it to a reader */
        return ERR_OK;
    }
    if (route->flags & HTTP_ROUTE_MUTATION) {
        rc = batch_begin(err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    h2o_iovec_t idem = header_value(hreq, NULL, "idempotency-key");
    if ((route->flags & HTTP_ROUTE_MUTATION) && idem.base != NULL && req->authenticated) {
        return run_idempotent(hreq, route, req, res, idem, replayed, err);
    }
    return route->handler(server, req, res, err);
}

static void pending_disposed(void *mem)
{
    struct pending_ref *ref = mem;
    if (ref->p != NULL) {
        ref->p->req = NULL;
    }
}

static void pending_free(struct pending *p)
{
    if (p == NULL) {
        return;
    }
    if (p->ref != NULL) {
        p->ref->p = NULL;
    }
    if (p->stream != NULL) {
        p->stream->done(p->stream, 0); /* never sent */
    }
    mem_free(p->text);
    mem_free(p);
}

/* ---- streamed bodies ---- */

/* The generator of a streamed body; lives in the request's pool, so h2o's disposal of the
 * request (client gone, or response done) is when its stream is told the outcome. */
struct stream_gen {
    h2o_generator_t super; /* first: h2o hands it back as its generator */
    struct http_stream *stream;
    int64_t left;
    char *buf; /* HTTP_STREAM_BUF_BYTES from the request's pool */
};

static void stream_end(struct stream_gen *g, int complete)
{
    if (g->stream != NULL) {
        struct http_stream *s = g->stream;
        g->stream = NULL;
        s->done(s, complete);
    }
}

static void stream_proceed(h2o_generator_t *self, h2o_req_t *hreq)
{
    struct stream_gen *g = (struct stream_gen *)self;
    if (g->stream == NULL) {
        return;
    }
    size_t n = g->left < HTTP_STREAM_BUF_BYTES ? (size_t)g->left : HTTP_STREAM_BUF_BYTES;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = n > 0 ? g->stream->read(g->stream, g->buf, n, &err) : ERR_OK;
    if (rc != ERR_OK) {
        log_msg(LOG_ERROR, "streamed response cut short: %s", err.msg);
        stream_end(g, 0);
        h2o_send(hreq, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    g->left -= (int64_t)n;
    h2o_iovec_t v = h2o_iovec_init(g->buf, n);
    if (g->left == 0) {
        /* Every byte is the connection's now: the outcome is known before h2o may free us. */
        stream_end(g, 1);
        h2o_send(hreq, &v, n > 0 ? 1 : 0, H2O_SEND_STATE_FINAL);
        return;
    }
    h2o_send(hreq, &v, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static void stream_stop(h2o_generator_t *self, h2o_req_t *hreq)
{
    (void)hreq;
    stream_end((struct stream_gen *)self, 0);
}

static void stream_disposed(void *mem)
{
    stream_end(mem, 0);
}

/* Starts a streamed response; the stream passes to the generator. */
static void stream_start(h2o_req_t *hreq, struct pending *p)
{
    struct stream_gen *g = h2o_mem_alloc_shared(&hreq->pool, sizeof(*g), stream_disposed);
    g->super.proceed = stream_proceed;
    g->super.stop = stream_stop;
    g->stream = p->stream;
    g->left = p->stream->length;
    g->buf = h2o_mem_alloc_pool(&hreq->pool, HTTP_STREAM_BUF_BYTES);
    p->stream = NULL;
    hreq->res.content_length = (size_t)g->left;
    h2o_start_response(hreq, &g->super);
    stream_proceed(&g->super, hreq);
}

/* A pending entry for a request, not yet holding its response; loop thread only (it ties
 * the entry to the request's memory pool). */
static struct pending *pending_open(h2o_req_t *hreq, const struct http_request *req, int route,
                                    int64_t t0)
{
    struct pending *p = mem_calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->req = hreq;
    p->route = route;
    p->t0_ns = t0;
    snprintf(p->method, sizeof(p->method), "%s", req->method);
    snprintf(p->path, sizeof(p->path), "%s", req->path);
    snprintf(p->who, sizeof(p->who), "%s", req->authenticated ? req->who.id : "anonymous");
    p->ref = h2o_mem_alloc_shared(&hreq->pool, sizeof(*p->ref), pending_disposed);
    p->ref->p = p;
    return p;
}

/* Renders a response into a pending entry (text, headers), ready to be sent later. Touches no
 * h2o object, so a reader thread may call it (pool.c). -1 when out of memory. */
static int pending_fill(struct pending *p, struct http_response *res, int replayed)
{
    p->status = res->status;
    p->replayed = replayed;
    p->content_type = res->content_type != NULL ? res->content_type : "application/json";
    p->cache_control = res->cache_control != NULL ? res->cache_control : "no-store";
    snprintf(p->location, sizeof(p->location), "%s", res->location);
    p->retry_after_s = res->retry_after_s;
    snprintf(p->digest_sha256, sizeof(p->digest_sha256), "%s", res->digest_sha256);
    memcpy(p->headers, res->headers, sizeof(p->headers));
    p->nheaders = res->nheaders;
    if (res->body != NULL) {
        char *text = json_dumps(res->body, JSON_COMPACT | JSON_SORT_KEYS);
        if (text != NULL) {
            p->len = strlen(text);
            p->text = mem_strndup(text, p->len);
            free(text);
        }
    } else if (res->text != NULL) {
        p->text = res->text;
        p->len = res->text_len;
        res->text = NULL;
    } else {
        p->text = mem_strdup("");
    }
    if (p->text == NULL) {
        return -1;
    }
    p->stream = res->stream;
    res->stream = NULL;
    return 0;
}

/* Replaces a waiting success with the 503 of a failed group commit. */
static void pending_fail(struct pending *p, const struct errbuf *err)
{
    struct http_response res;
    memset(&res, 0, sizeof(res));
    http__problem(&res, ERR_UNAVAILABLE, err);
    char *text = json_dumps(res.body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(res.body);
    mem_free(p->text);
    p->text = text != NULL ? mem_strdup(text) : mem_strdup("");
    free(text);
    p->len = p->text != NULL ? strlen(p->text) : 0;
    p->status = 503;
    p->content_type = "application/problem+json";
    p->cache_control = "no-store";
    p->location[0] = '\0';
    p->replayed = 0;
    p->nheaders = 0;
    if (p->stream != NULL) {
        p->stream->done(p->stream, 0);
        p->stream = NULL;
    }
}

static void pending_send(struct pending *p)
{
    h2o_req_t *hreq = p->req;
    int64_t elapsed_ns = clock_monotonic_ns() - p->t0_ns;
    http__metrics_record(p->route, p->method, p->status, elapsed_ns);
    int change = strcmp(p->method, "GET") != 0 && strcmp(p->method, "HEAD") != 0;
    log_msg(p->status >= 400 || change ? LOG_INFO : LOG_DEBUG, "%s %s %d %.3fms by %s", p->method,
            p->path, p->status, (double)elapsed_ns / 1e6, p->who);
    if (hreq == NULL) {
        return; /* the client went away; the outcome stands and is in the log */
    }
    hreq->res.status = p->status;
    hreq->res.reason = reason_for(p->status);
    h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, p->content_type,
                   strlen(p->content_type));
    h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, p->cache_control,
                   strlen(p->cache_control));
    if (p->location[0] != '\0') {
        h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_LOCATION, NULL,
                       h2o_strdup(&hreq->pool, p->location, SIZE_MAX).base, strlen(p->location));
    }
    if (p->retry_after_s > 0) {
        char v[24];
        int n = snprintf(v, sizeof(v), "%lld", (long long)p->retry_after_s);
        h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       h2o_strdup(&hreq->pool, v, (size_t)n).base, (size_t)n);
    }
    if (p->digest_sha256[0] != '\0') {
        h2o_add_header_by_str(
            &hreq->pool, &hreq->res.headers, H2O_STRLIT("x-bourse-document-sha256"), 0, NULL,
            h2o_strdup(&hreq->pool, p->digest_sha256, SIZE_MAX).base, strlen(p->digest_sha256));
    }
    if (p->replayed) {
        h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, H2O_STRLIT("idempotency-replayed"),
                              0, NULL, H2O_STRLIT("true"));
    }
    for (size_t i = 0; i < p->nheaders; i++) {
        h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, p->headers[i].name,
                              strlen(p->headers[i].name), 0, NULL,
                              h2o_strdup(&hreq->pool, p->headers[i].value, SIZE_MAX).base,
                              strlen(p->headers[i].value));
    }
    if (p->stream != NULL) {
        stream_start(hreq, p);
        return;
    }
    /* h2o_send_inline leaves the length unset, and h2o then ends any response but a 200 by
     * closing the connection: a 201 or a 4xx would cost the client a new connection. */
    hreq->res.content_length = p->len;
    h2o_send_inline(hreq, p->text, p->len);
}

/* Commits the batch (if one is open) and answers every waiting request. */
static void batch_flush(void)
{
    if (batch_open) {
        struct errbuf err;
        errbuf_init(&err);
        batch_open = 0;
        if (store_tx_commit(server->core.store, &err) != ERR_OK) {
            log_msg(LOG_ERROR, "group commit of %zu requests failed: %s", batch_count, err.msg);
            for (size_t i = 0; i < batch_count; i++) {
                if (batch[i]->status < 400) {
                    pending_fail(batch[i], &err);
                }
            }
        }
    }
    for (size_t i = 0; i < batch_count; i++) {
        pending_send(batch[i]);
        pending_free(batch[i]);
        batch[i] = NULL;
    }
    batch_count = 0;
}

/* Turns a handler's or the dispatcher's error into its problem response. */
static void response_refusal(enum err rc, const struct errbuf *err, const struct http_request *req,
                             struct http_response *res)
{
    if (rc == ERR_OK) {
        return;
    }
    int forced = res->status == 405 ? 405 : 0;
    http__problem(res, rc, err);
    if (forced) {
        res->status = forced;
        json_object_set_new(res->body, "status", json_integer(forced));
    }
    if (res->status < 500) {
        log_msg(LOG_DEBUG, "%s %s refused: %s", req->method, req->path, err->msg);
    }
    res->nheaders = 0;
    if (res->stream != NULL) {
        res->stream->done(res->stream, 0);
        res->stream = NULL;
    }
}

/* ---- reads on the pool (pool.c) ---- */

struct read_job {
    struct http_pool_job super; /* first */
    struct http_request req;    /* a copy; native is NULL: a reader never touches h2o */
    char method[16];
    int route;
    struct pending *p; /* opened on the loop, filled by the reader */
    int failed;        /* out of memory while rendering */
};

static void read_job_run(struct http_pool_job *job, struct http_server *reader)
{
    struct read_job *j = (struct read_job *)job;
    struct http_response res;
    struct errbuf err;
    memset(&res, 0, sizeof(res));
    errbuf_init(&err);
    enum err rc = http__routes[j->route].handler(reader, &j->req, &res, &err);
    response_refusal(rc, &err, &j->req, &res);
    ASSERT(res.stream == NULL); /* HTTP_ROUTE_READ: nothing streamed */
    j->failed = pending_fill(j->p, &res, 0) != 0;
    json_decref(res.body);
    mem_free(res.text);
}

static void read_job_finish(struct http_pool_job *job)
{
    struct read_job *j = (struct read_job *)job;
    if (j->failed) {
        if (j->p->req != NULL) {
            h2o_send_error_503(j->p->req, "Service Unavailable", "out of memory", 0);
        }
    } else {
        pending_send(j->p);
    }
    pending_free(j->p);
    mem_free(j);
}

/* Hands a read to the pool; 0 when out of memory (the caller runs it itself). */
static int pool_submit(h2o_req_t *hreq, const struct http_request *req, int route, int64_t t0)
{
    struct read_job *j = mem_calloc(1, sizeof(*j));
    if (j == NULL) {
        return 0;
    }
    j->req = *req;
    snprintf(j->method, sizeof(j->method), "%s", req->method);
    j->req.method = j->method;
    j->req.native = NULL;
    j->route = route;
    j->super.run = read_job_run;
    j->super.finish = read_job_finish;
    j->p = pending_open(hreq, req, route, t0);
    if (j->p == NULL) {
        mem_free(j);
        return 0;
    }
    if (!http__pool_submit(server->pool, &j->super)) {
        pending_free(j->p);
        mem_free(j);
        return 0;
    }
    return 1;
}

static int on_req(h2o_handler_t *self, h2o_req_t *hreq)
{
    (void)self;
    int64_t t0 = clock_monotonic_ns();
    struct http_request req;
    struct http_response res;
    struct errbuf err;
    memset(&req, 0, sizeof(req));
    memset(&res, 0, sizeof(res));
    errbuf_init(&err);
    char method[16];
    size_t mlen = hreq->method.len < sizeof(method) - 1 ? hreq->method.len : sizeof(method) - 1;
    memcpy(method, hreq->method.base, mlen);
    method[mlen] = '\0';
    req.method = method;
    req.native = hreq;
    int route = -1, replayed = 0, pooled = 0;
    enum err rc = dispatch(hreq, &req, &res, &route, &replayed, &pooled, &err);
    if (pooled && pool_submit(hreq, &req, route, t0)) {
        return 0;
    }
    if (pooled) {
        rc = http__routes[route].handler(server, &req, &res, &err); /* the pool had no memory */
    }
    response_refusal(rc, &err, &req, &res);
    struct pending *p = pending_open(hreq, &req, route, t0);
    if (p != NULL && pending_fill(p, &res, replayed) != 0) {
        pending_free(p);
        p = NULL;
    }
    json_decref(req.body);
    json_decref(res.body);
    mem_free(res.text);
    if (res.stream != NULL) {
        res.stream->done(res.stream, 0); /* pending_fill failed */
    }
    if (p == NULL) {
        h2o_send_error_503(hreq, "Service Unavailable", "out of memory", 0);
        return 0;
    }
    if (!batch_open) {
        pending_send(p);
        pending_free(p);
        return 0;
    }
    batch[batch_count++] = p;
    if (batch_count == HTTP_BATCH_MAX) {
        batch_flush();
    }
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL) {
        return;
    }
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock == NULL) {
        return;
    }
    h2o_accept(&h2o_accept_ctx, sock);
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static enum err listen_on(const char *addr_text, int *out_fd, struct errbuf *err)
{
    char host[256];
    const char *colon = strrchr(addr_text, ':');
    if (colon == NULL || (size_t)(colon - addr_text) >= sizeof(host)) {
        return err_set(err, ERR_INVALID, "listen", "listen address must be HOST:PORT, not '%s'",
                       addr_text);
    }
    memcpy(host, addr_text, (size_t)(colon - addr_text));
    host[colon - addr_text] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port < 0 || port > 65535) {
        return err_set(err, ERR_INVALID, "listen", "bad port in '%s'", addr_text);
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host[0] != '\0' ? host : "0.0.0.0", &addr.sin_addr) != 1) {
        return err_set(err, ERR_INVALID, "listen", "'%s' is not an IPv4 address", host);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        return err_set(err, ERR_IO, "listen", "cannot listen on '%s': %s", addr_text, strerror(e));
    }
    *out_fd = fd;
    return ERR_OK;
}

int http__run(struct http_server *srv, struct errbuf *err)
{
    server = srv;
    int fd = -1;
    if (listen_on(srv->listen, &fd, err) != ERR_OK) {
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    h2o_config_init(&h2o_config);
    h2o_config.max_request_entity_size = HTTP_BODY_HARD_MAX;
    h2o_hostconf_t *host =
        h2o_config_register_host(&h2o_config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = on_req;
    h2o_context_init(&h2o_ctx, h2o_evloop_create(), &h2o_config);
    h2o_accept_ctx.ctx = &h2o_ctx;
    h2o_accept_ctx.hosts = h2o_config.hosts;
    if (srv->db_pool > 1) {
        if (http__pool_new(srv, srv->db_uri, (size_t)srv->db_pool - 1, h2o_ctx.loop, &srv->pool,
                           err) != ERR_OK) {
            close(fd);
            return 1;
        }
        log_msg(LOG_INFO, "read pool: %zu read-only connections", http__pool_readers(srv->pool));
    }
    h2o_socket_t *listener = h2o_evloop_socket_create(h2o_ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(listener, on_accept);

    while (!stop_requested) {
        h2o_evloop_run(h2o_ctx.loop, HTTP_LOG_TICK_MS);
        batch_flush();
        http__log_tick(srv, 0);
        http__limits_tick(srv);
    }
    log_msg(LOG_INFO, "shutting down: draining connections");
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);
    h2o_context_request_shutdown(&h2o_ctx);
    int64_t deadline = clock_monotonic_ns() + (int64_t)HTTP_DRAIN_MS * 1000000;
    while (clock_monotonic_ns() < deadline &&
           (!h2o_linklist_is_empty(&h2o_ctx.http1._conns) ||
            !h2o_linklist_is_empty(&h2o_ctx.http2._conns) || http__pool_inflight(srv->pool) > 0)) {
        h2o_evloop_run(h2o_ctx.loop, 100);
        batch_flush();
    }
    http__pool_free(srv->pool, h2o_ctx.loop); /* finishes what is still queued */
    srv->pool = NULL;
    batch_flush();
    http__log_tick(srv, 1);
    log_msg(LOG_INFO, "stopped");
    return 0;
}
