/*
 * routes.c: the server's one route table. The router tries rows in order and takes the first
 * whose pattern and method match, so a specific pattern goes before a wildcard one. Each
 * module's handlers are declared in http_int.h and listed here in its own section.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include "util/banned.h"

const struct http_route http__routes[] = {
    /* service (entities.c) */
    {"GET", "/healthz", http__healthz, 0},
    {"GET", "/metrics", http__metrics, 0},
    /* entities, certificates, api keys (entities.c) */
    {"POST", "/v1/entities", http__entity_apply, HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"GET", "/v1/entities", http__entity_list, HTTP_ROUTE_AUTH},
    {"GET", "/v1/entities/{id}", http__entity_get, HTTP_ROUTE_AUTH},
    {"POST", "/v1/entities/{id}/review", http__entity_review,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"POST", "/v1/entities/{id}/certificates", http__cert_issue,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"DELETE", "/v1/entities/{id}/certificates/{cid}", http__cert_revoke,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION},
    {"POST", "/v1/entities/{id}/keys", http__key_create, HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION},
    {"DELETE", "/v1/keys/{kid}", http__key_revoke, HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION},
    /* the transparency log (log.c); "/log/{path*}" must stay after the other /log/ routes */
    {"GET", "/log/checkpoint", http__log_checkpoint_text, 0},
    {"GET", "/log/key", http__log_key, 0},
    {"GET", "/log/{path*}", http__log_tile, 0},
    {"GET", "/v1/log/checkpoint", http__log_checkpoint, 0},
    {"GET", "/v1/log/entries/{index}", http__log_entry, 0},
    {"GET", "/v1/log/proofs/inclusion", http__log_inclusion, 0},
    {"GET", "/v1/log/proofs/consistency", http__log_consistency, 0},
    {"GET", "/v1/events", http__events, HTTP_ROUTE_AUTH},
    /* products, revisions, rights, assessments (products.c) */
    {"GET", "/v1/categories", http__categories, 0},
    {"GET", "/v1/exchange", http__exchange, 0},
    {"POST", "/v1/products", http__product_register,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"GET", "/v1/products", http__product_list, HTTP_ROUTE_AUTH},
    {"GET", "/v1/products/{id}", http__product_get, HTTP_ROUTE_AUTH},
    {"PUT", "/v1/products/{id}", http__product_revise,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"POST", "/v1/products/{id}/revisions", http__product_revise,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"GET", "/v1/products/{id}/revisions/{n}", http__revision_get_number, HTTP_ROUTE_AUTH},
    {"GET", "/v1/revisions/{rid}", http__revision_get, HTTP_ROUTE_AUTH},
    {"GET", "/v1/revisions/{rid}/listable", http__revision_listable, HTTP_ROUTE_AUTH},
    {"POST", "/v1/rights", http__rights_issue,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"GET", "/v1/rights", http__rights_list, HTTP_ROUTE_AUTH},
    {"GET", "/v1/rights/{id}", http__rights_get, 0},
    {"POST", "/v1/rights/{id}/licenses", http__rights_license,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"POST", "/v1/rights/{id}/transfer", http__rights_transfer,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"POST", "/v1/rights/{id}/pledge", http__rights_pledge,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"POST", "/v1/rights/{id}/release", http__rights_release,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION},
    {"POST", "/v1/rights/{id}/revoke", http__rights_revoke,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"GET", "/v1/policy/listing", http__policy_get, 0},
    {"POST", "/v1/policy/listing", http__policy_set,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"POST", "/v1/assessments", http__assessment_request,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    {"GET", "/v1/assessments", http__assessment_list, HTTP_ROUTE_AUTH},
    {"GET", "/v1/assessments/{id}", http__assessment_get, HTTP_ROUTE_AUTH},
    {"POST", "/v1/assessments/{id}/report", http__assessment_submit,
     HTTP_ROUTE_AUTH | HTTP_ROUTE_MUTATION | HTTP_ROUTE_BODY},
    /* clearing: accounts, transfers, escrow (clearing.c) */
    /* pricing, listings, catalogue, demands (catalogue.c) */
};

const size_t http__routes_count = ARRAY_LEN(http__routes);
