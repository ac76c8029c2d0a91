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
};

struct http_response {
    int status;
    json_t *body; /* owned; rendered as JSON */
    char *text;   /* owned; sent as is with content_type (used when body is NULL) */
    size_t text_len;
    const char *content_type;
    const char *cache_control; /* NULL: "no-store" */
    char location[256];
};

struct http_server;

typedef enum err http_handler_fn(struct http_server *srv, struct http_request *req,
                                 struct http_response *res, struct errbuf *err);

enum http_route_flags {
    HTTP_ROUTE_AUTH = 1 << 0,     /* an authenticated principal is required */
    HTTP_ROUTE_MUTATION = 1 << 1, /* changes state: honours Idempotency-Key */
    HTTP_ROUTE_BODY = 1 << 2,     /* expects a JSON object body */
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
/* catalogue.c */
http_handler_fn http__pricing_inputs_get, http__pricing_inputs_set, http__price_reference,
    http__listing_create, http__listing_search, http__listing_get, http__listing_delist,
    http__demand_post, http__demand_list, http__demand_get, http__demand_matches,
    http__demand_close, http__inbox_list, http__inbox_read;
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
};

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
