/*
 * http_int.h: declarations shared by the http module's own files.
 */
#ifndef BOURSE_HTTP_INT_H
#define BOURSE_HTTP_INT_H

#include <jansson.h>

#include "core/core.h"
#include "http/http.h"

/* Limits, with the reason beside each. */
#define HTTP_BODY_MAX (1024 * 1024)          /* JSON mutations are small; files go elsewhere */
#define HTTP_BODY_HARD_MAX (8 * 1024 * 1024) /* h2o's own cut-off, answered 413 by h2o */
#define HTTP_JSON_DEPTH_MAX 32               /* deeper nesting is never legitimate here */
#define HTTP_PARAMS_MAX 8                    /* path captures */
#define HTTP_QUERY_MAX 16                    /* query parameters */
#define HTTP_QUERY_BYTES_MAX 2048
#define HTTP_IDEM_KEY_MAX 64
#define HTTP_PAGE_DEFAULT 20
#define HTTP_BATCH_MAX 512 /* responses waiting for one group commit, at most */

#define HTTP_HEADERS_EXTRA_MAX 6
#define HTTP_STREAM_BUF_BYTES (1024 * 1024) /* one read of a streamed body: 16 records */

struct http_param {
    char name[16];
    char value[128];
};

struct http_request {
    const char *method;
    char path[512];
    struct http_param params[HTTP_PARAMS_MAX];
    size_t nparams;
    struct http_param query[HTTP_QUERY_MAX];
    size_t nquery;
    json_t *body; /* parsed JSON object or NULL; owned by the dispatcher */
    struct core_principal who;
    int authenticated;
    /* HTTP_ROUTE_RAW: the body as received, borrowed from the server until the response. */
    const char *raw;
    size_t raw_len;
    void *native; /* the server's own request, for http__header */
};

struct http_response {
    int status;
    json_t *body; /* owned; rendered as JSON */
    char *text;   /* owned; sent as is with content_type (used when body is NULL) */
    size_t text_len;
    const char *content_type;
    const char *cache_control; /* NULL: "no-store" */
    char location[256];
    int64_t retry_after_s;                  /* > 0: sent as Retry-After (a 429 of limits.c) */
    char digest_sha256[STORE_HASH_HEX_MAX]; /* non-empty: sent as X-Bourse-Document-Sha256 */
    /* A refusal's own problem type slug (a trading rule: "not-qualified"), set by a handler
     * before it returns the error; NULL: the error code's slug. Static text. */
    const char *problem_type;
    /* A body produced piece by piece (downloads); owned, sent instead of body or text. */
    struct http_stream *stream;
    /* Response headers beyond the fixed ones (Content-Range, ETag, ...); static names. */
    struct http_header_extra {
        const char *name;
        char value[160];
    } headers[HTTP_HEADERS_EXTRA_MAX];
    size_t nheaders;
};

/*
 * A streamed response body: the server asks for the next bytes each time the connection has
 * sent the previous ones, so a file of any size goes out in HTTP_STREAM_BUF_BYTES of memory.
 */
struct http_stream {
    int64_t length; /* bytes the body has: its Content-Length */
    /* Writes the next len bytes (len = min(cap, what is left)) into buf. An error cuts the
     * response short (the client sees a truncated body). */
    enum err (*read)(struct http_stream *s, void *buf, size_t len, struct errbuf *err);
    /* Called exactly once, last: complete is 1 when every byte was handed to the connection,
     * 0 when the client went away, a read failed or the response was never sent. Frees s. */
    void (*done)(struct http_stream *s, int complete);
};

/* The value of a request header (name in lowercase), or NULL; *len its length. Borrowed
 * until the response. */
const char *http__header(const struct http_request *req, const char *name, size_t *len);

struct http_server;

typedef enum err http_handler_fn(struct http_server *srv, struct http_request *req,
                                 struct http_response *res, struct errbuf *err);

enum http_route_flags {
    HTTP_ROUTE_AUTH = 1 << 0,      /* an authenticated principal is required */
    HTTP_ROUTE_MUTATION = 1 << 1,  /* changes state: honours Idempotency-Key */
    HTTP_ROUTE_BODY = 1 << 2,      /* expects a JSON object body */
    HTTP_ROUTE_UNLIMITED = 1 << 3, /* exempt from rate limits: health checks, scrapes (limits.c) */
    HTTP_ROUTE_RAW = 1 << 4,       /* the body is raw bytes (req->raw), up to HTTP_BODY_HARD_MAX */
    /* A pure read: may run on a reader thread of the pool (pool.c), on its own read-only
     * connection, outside the group commit. Its handler touches only srv->core (and constant
     * fields), reads no request header (req->native is NULL there) and streams nothing. */
    HTTP_ROUTE_READ = 1 << 5,
};

struct http_route {
    const char *method;
    const char *pattern; /* "/v1/entities/{id}" */
    http_handler_fn *handler;
    unsigned flags;
};

extern const struct http_route http__routes[];
/* Handlers, by the file that defines them; routes.c lists them. */
/* entities.c */
http_handler_fn http__healthz, http__metrics, http__entity_apply, http__entity_list,
    http__entity_get, http__entity_review, http__cert_issue, http__cert_revoke, http__key_create,
    http__key_revoke;
/* log.c */
http_handler_fn http__log_checkpoint_text, http__log_key, http__log_tile, http__log_checkpoint,
    http__log_entry, http__log_inclusion, http__log_consistency, http__events;
/* products.c */
http_handler_fn http__categories, http__exchange, http__product_register, http__product_list,
    http__product_get, http__product_revise, http__revision_get_number, http__revision_get,
    http__revision_listable, http__rights_issue, http__rights_list, http__rights_get,
    http__rights_license, http__rights_transfer, http__rights_pledge, http__rights_release,
    http__rights_revoke, http__policy_get, http__policy_set, http__assessment_request,
    http__assessment_list, http__assessment_get, http__assessment_submit;
/* clearing.c */
http_handler_fn http__ledger_deposit, http__ledger_withdrawal, http__ledger_accounts,
    http__ledger_history, http__ledger_statement, http__ledger_transfer_get,
    http__fee_schedule_create, http__fee_schedule_list, http__fee_schedule_get,
    http__ledger_membership, http__ledger_hold, http__ledger_post, http__ledger_void,
    http__ledger_sweep;
/* trading.c */
http_handler_fn http__order_place, http__order_list, http__order_get, http__negotiation_open,
    http__negotiation_list, http__negotiation_get, http__negotiation_offer,
    http__negotiation_accept, http__negotiation_reject, http__auction_open, http__auction_get,
    http__auction_bid, http__auction_close, http__listing_auction;
/* delivery.c */
http_handler_fn http__upload_start, http__upload_find, http__upload_get, http__upload_chunk,
    http__upload_complete, http__upload_abandon, http__object_get, http__object_content,
    http__download_token_mint, http__download_token_revoke, http__download;
/* traces.c: fingerprint declarations and traces */
http_handler_fn http__object_fingerprint, http__trace;
/* Records on the token's contract the delivery of the copy whose last byte was sent, as the
 * contract's provider (the exchange delivers on its behalf); failures are logged. */
void http__copy_delivered(struct http_server *srv, const struct store_download_token *tok,
                          const struct store_object *copy);
/* What the contract store says of a contract, for custody (delivery.h), with the end of its
 * licence term (core's reading of the signed document). The store's errors, ERR_CORRUPT for
 * a document without a term. */
struct delivery_contract;
enum err http__contract_facts(struct store *s, const char *contract_id,
                              struct delivery_contract *out, struct errbuf *err);
/* Parses --trace-fp-bound (NULL or "": DELIVERY_FP_BOUND_DEFAULT), a number in (0, 1).
 * ERR_INVALID (field "trace_fp_bound"). */
enum err http__trace_bound_parse(const char *text, double *out, struct errbuf *err);
/* catalogue.c */
http_handler_fn http__pricing_inputs_get, http__pricing_inputs_set, http__price_reference,
    http__listing_create, http__listing_search, http__listing_get, http__listing_delist,
    http__demand_post, http__demand_list, http__demand_get, http__demand_matches,
    http__demand_close, http__inbox_list, http__inbox_read;
/* prices.c */
http_handler_fn http__price_index;
/* contracts.c */
http_handler_fn http__contract_propose, http__contract_list, http__contract_get,
    http__contract_document, http__contract_sign, http__contract_activate, http__contract_cancel,
    http__contract_deliver, http__contract_accept, http__contract_reject, http__dispute_open,
    http__dispute_get, http__dispute_assign, http__dispute_decide;
extern const size_t http__routes_count;

struct http_server {
    struct core core;
    const char *data_dir;
    const char *listen;
    char log_verifier[TLOG_VERIFIER_KEY_MAX]; /* published at /log/key */
    /* The tree size this node last integrated to: a progress mark for http__log_tick only.
     * Readers ask the store, whose newest checkpoint another node may have written. */
    int64_t log_size;
    int64_t log_last_ms; /* monotonic ms of the last integration */
    int log_leader;      /* 1 while this node sequences the log, 0 not, -1 not yet known */
    /* Rate limits and idempotency retention (limits.c); limits is NULL when disabled. */
    struct http_limits *limits;
    int64_t rate_limit; /* requests a second per caller, 0: off */
    int64_t rate_burst;
    int64_t idem_ttl_ms;
    int64_t limits_last_ns; /* monotonic time of the last exchange of counters */
    int64_t purge_last_ms;  /* monotonic ms of the last purge */
    int purge_behind;       /* the last purge filled its batch */
    /* Encrypted custody of uploaded files (delivery.c); set up by serve.c. */
    struct delivery_custody *custody;
    /* The largest false-accusation probability a trace accuses at (--trace-fp-bound). */
    double trace_fp_bound;
    /* Store connections (--db-pool): the loop's own, plus db_pool - 1 read-only ones, each
     * with a reader thread (pool.c); pool is NULL when db_pool is 1. */
    const char *db_uri;
    int64_t db_pool;
    struct http_pool *pool;
};

/* ---- the read pool (pool.c) ---- */

#define HTTP_DB_POOL_MAX 64
#define HTTP_DB_POOL_PG_DEFAULT 4

struct http_pool;

/* A read handed to the pool; owned by the submitter, which frees it in finish. */
struct http_pool_job {
    struct http_pool_job *next; /* the pool's queue */
    void *msg;                  /* the pool's: carries the job back to the loop */
    void (*run)(struct http_pool_job *job, struct http_server *reader); /* on a reader */
    void (*finish)(struct http_pool_job *job); /* on the loop thread, after run */
};

/* Opens `readers` read-only connections to db_uri, each with a thread; loop is the h2o event
 * loop to which finished jobs return. */
enum err http__pool_new(const struct http_server *srv, const char *db_uri, size_t readers,
                        void *loop, struct http_pool **out, struct errbuf *err);
/* Queues a job; 0 when out of memory (the caller runs it itself). Loop thread only. */
int http__pool_submit(struct http_pool *p, struct http_pool_job *job);
size_t http__pool_inflight(const struct http_pool *p);
size_t http__pool_readers(const struct http_pool *p);
/* Stops the readers after the queued jobs, finishes every job, closes the connections. */
void http__pool_free(struct http_pool *p, void *loop);

/* Loads the master key (master_key_path, or <data_dir>/master.key created on first start),
 * sets up custody with the object size limit (max_object_size: decimal bytes, NULL or "" for
 * the default) and checks the key against the store (delivery.c). Sets srv->custody. Errors
 * name the setting (field "master_key", "max_object_size"). */
enum err http__custody_init(struct http_server *srv, const char *data_dir,
                            const char *master_key_path, const char *max_object_size,
                            struct errbuf *err);
/* Accepts NULL. */
void http__custody_free(struct delivery_custody *d);

/* Loads the operator's signing key from <data_dir>/operator.ed25519 and gives core its
 * signer (products.c). ERR_NOT_FOUND, ERR_IO, ERR_CORRUPT for a missing or bad key file. */
enum err http__products_init(struct http_server *srv, struct errbuf *err);

/* How often the event loop integrates new events into the log, at most. */
#define HTTP_LOG_TICK_MS 100
/* Time one tick may spend catching up before it lets requests in again. */
#define HTTP_LOG_TICK_BUDGET_MS 50

/* Integrates pending events when HTTP_LOG_TICK_MS has passed (force: now), if this node is
 * the log's leader (store_leader_try, asked every tick so that a follower takes over within
 * a tick of the leader's connection closing). */
void http__log_tick(struct http_server *srv, int force);

/* ---- limits.c: rate limits across nodes, idempotency retention ---- */

#define HTTP_SUBJECT_MAX 64 /* "ent_..." or "ip:" and an IPv6 address, with the NUL */
#define HTTP_RATE_MAX 1000000
#define HTTP_BURST_MAX 10000000
#define HTTP_RATE_DEFAULT 100 /* requests a second per caller: far above an interactive client */
#define HTTP_TTL_MIN_MS ((int64_t)1000)
#define HTTP_TTL_MAX_MS ((int64_t)365 * 86400000)
#define HTTP_IDEM_TTL_DEFAULT_MS ((int64_t)24 * 3600000)

/* GCRA: interval_ns = 1 s / rate, tolerance_ns = burst * interval_ns. */
struct http_gcra {
    int64_t interval_ns;
    int64_t tolerance_ns;
};

/* per_s 1..HTTP_RATE_MAX, burst 1..HTTP_BURST_MAX (asserted). Cannot fail. */
void http__gcra_init(struct http_gcra *g, int64_t per_s, int64_t burst);
/* Admits a request at now_ns against the bucket *tat_ns: 1 and *tat_ns advanced, or 0 with
 * *retry_ns > 0, the wait until it would be admitted (nothing consumed). Cannot fail. */
int http__gcra_take(const struct http_gcra *g, int64_t *tat_ns, int64_t now_ns, int64_t *retry_ns);
/* Charges count requests admitted elsewhere, capped 60 s ahead of now_ns. Cannot fail. */
void http__gcra_charge(const struct http_gcra *g, int64_t *tat_ns, int64_t now_ns, int64_t count);
/* Whole seconds for Retry-After: retry_ns rounded up, at least 1. */
int64_t http__retry_after_s(int64_t retry_ns);
/* Parses a decimal integer in [min, max]; ERR_INVALID naming field otherwise. */
enum err http__limit_parse(const char *text, const char *field, int64_t min, int64_t max,
                           int64_t *out, struct errbuf *err);
/* Parses "<n>[ms|s|m|h|d]" (no unit: seconds) of 1 s .. 365 d into *ms; ERR_INVALID naming
 * field otherwise. */
enum err http__duration_parse(const char *text, const char *field, int64_t *ms, struct errbuf *err);

/* The buckets of one node. shared: exchange rounds through the store (http__limits_sync).
 * Caller frees with http__limits_free. ERR_NOMEM. */
struct http_limits;
enum err http__limits_new(int64_t per_s, int64_t burst, int shared, const struct rng *rng,
                          struct http_limits **out, struct errbuf *err);
void http__limits_free(struct http_limits *l); /* accepts NULL */
const char *http__limits_node(const struct http_limits *l);
size_t http__limits_live(const struct http_limits *l); /* buckets tracked */
/* Admits one request of subject at now_ns (monotonic): 1, or 0 with *retry_ns. A full table
 * refuses new subjects. Cannot fail. */
int http__limits_admit(struct http_limits *l, const char *subject, int64_t now_ns,
                       int64_t *retry_ns);
/* One round: publishes this node's admitted counts and charges the other nodes' recent
 * rounds (when shared), then drops idle buckets. Outside transactions. Store errors; the
 * unpublished counts are kept for the next round. */
enum err http__limits_sync(struct http_limits *l, struct store *st, int64_t now_ns, int64_t wall_ms,
                           struct errbuf *err);
/* 1 with a 429 problem (and retry_after_s) in res when subject is over its limit. */
int http__limits_refuse(struct http_server *srv, const char *subject, struct http_response *res);
/* Every HTTP_LOG_TICK_MS on every node: http__limits_sync. Logs failures. */
void http__limits_tick(struct http_server *srv);
/* On the log leader's tick: deletes expired idempotency keys and old rate rounds in bounded
 * batches, once a second (every tick while behind). Logs failures. */
void http__limits_purge(struct http_server *srv);

/* Router: finds the route for (method, path), filling req->params. Returns the index, or -1
 * with *path_matched set when only the method is wrong. */
int http__route_find(const char *method, const char *path, struct http_request *req,
                     int *path_matched);

/* Parses a query string into req->query. ERR_INVALID / ERR_LIMIT on malformed input. */
enum err http__query_parse(const char *qs, size_t len, struct http_request *req,
                           struct errbuf *err);
const char *http__query_get(const struct http_request *req, const char *name);
/* ERR_INVALID naming the first query parameter not in allowed (NULL-terminated). */
enum err http__query_only(const struct http_request *req, const char *const *allowed,
                          struct errbuf *err);

/* Parses a JSON object body with the limits above. */
enum err http__json_parse(const char *data, size_t len, json_t **out, struct errbuf *err);
/* ERR_INVALID naming the first member of obj not in allowed (NULL-terminated). */
enum err http__json_only(json_t *obj, const char *const *allowed, struct errbuf *err);
/* Reads an optional string member (NULL when absent or null). ERR_INVALID if not a string. */
enum err http__json_str(json_t *obj, const char *name, const char **out, struct errbuf *err);

/* Renders a problem document for an error. */
void http__problem(struct http_response *res, enum err code, const struct errbuf *err);

/* Serves until SIGTERM/SIGINT; srv must be fully initialised. Returns 0 after a clean
 * drain, 1 (with err filled) when the listener cannot be opened. */
int http__run(struct http_server *srv, struct errbuf *err);

/* Metrics. */
void http__metrics_record(int route, const char *method, int status, int64_t duration_ns);
enum err http__metrics_render(struct buf *out);

/* JSON renderings of records. NULL on allocation failure. */
json_t *http__entity_json(const struct store_entity *e);
json_t *http__time_json(int64_t ms);

#endif
