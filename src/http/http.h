/*
 * http: the server. It owns the listener and event loop (h2o, one thread, event-driven; see
 * docs/decisions/0001-http-server.md), routing, authentication, JSON request parsing with
 * hard limits, idempotency keys, RFC 9457 problem responses, /healthz and /metrics, and the
 * start-up of `bourse serve` (data directory, keys, store, operator bootstrap).
 *
 * Handlers are thin: parse the request, call core, render the result. Only this module maps
 * enum err to HTTP statuses and problem types.
 */
#ifndef BOURSE_HTTP_H
#define BOURSE_HTTP_H

#include "util/util.h"

/* Runs `bourse serve [options]` (argv[0] is "serve"); returns the process exit code after a
 * SIGTERM or SIGINT has drained in-flight requests. */
int http_serve_main(int argc, char **argv);

/* The status and stable problem type slug for an error code (e.g. ERR_INVALID -> 400,
 * "invalid"). Cannot fail. */
int http_status_for(enum err code);
const char *http_problem_slug(enum err code);

#endif
