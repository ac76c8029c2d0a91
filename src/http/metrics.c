/*
 * metrics.c: request counts by route and status, and latency histograms by route, rendered
 * in the Prometheus text exposition format (version 0.0.4). The server is one thread, so
 * plain counters suffice.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include <inttypes.h>
#include <string.h>

#include "util/banned.h"

#define METRICS_ROUTES_MAX 256  /* routes + one slot for unmatched paths (70 in 2026-11) */
#define METRICS_STATUSES_MAX 16 /* distinct statuses seen per route */

static const double bucket_bounds_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
#define METRICS_BUCKETS ARRAY_LEN(bucket_bounds_s)

struct route_metrics {
    int statuses[METRICS_STATUSES_MAX];
    uint64_t counts[METRICS_STATUSES_MAX];
    size_t nstatuses;
    uint64_t buckets[METRICS_BUCKETS]; /* cumulative at render time, per bucket here */
    uint64_t total;
    double sum_s;
};

static struct route_metrics routes[METRICS_ROUTES_MAX];

void http__metrics_record(int route, const char *method, int status, int64_t duration_ns)
{
    (void)method;
    ASSERT(http__routes_count < METRICS_ROUTES_MAX);
    size_t slot = route >= 0 ? (size_t)route : http__routes_count;
    struct route_metrics *m = &routes[slot];
    size_t i = 0;
    while (i < m->nstatuses && m->statuses[i] != status) {
        i++;
    }
    if (i == m->nstatuses) {
        if (m->nstatuses == METRICS_STATUSES_MAX) {
            i = METRICS_STATUSES_MAX - 1; /* fold rare statuses into the last slot */
        } else {
            m->statuses[i] = status;
            m->nstatuses++;
        }
    }
    m->counts[i]++;
    double s = (double)duration_ns / 1e9;
    for (size_t b = 0; b < METRICS_BUCKETS; b++) {
        if (s <= bucket_bounds_s[b]) {
            m->buckets[b]++;
            break;
        }
    }
    m->total++;
    m->sum_s += s;
}

static void route_labels(size_t slot, const char **method, const char **pattern)
{
    if (slot < http__routes_count) {
        *method = http__routes[slot].method;
        *pattern = http__routes[slot].pattern;
    } else {
        *method = "ANY";
        *pattern = "unmatched";
    }
}

enum err http__metrics_render(struct buf *out)
{
    enum err rc = buf_append_str(out, "# HELP bourse_http_requests_total HTTP requests by route "
                                      "and status.\n# TYPE bourse_http_requests_total counter\n");
    for (size_t r = 0; r <= http__routes_count && rc == ERR_OK; r++) {
        const char *method, *pattern;
        route_labels(r, &method, &pattern);
        for (size_t i = 0; i < routes[r].nstatuses && rc == ERR_OK; i++) {
            rc = buf_appendf(out,
                             "bourse_http_requests_total{method=\"%s\",route=\"%s\","
                             "status=\"%d\"} %" PRIu64 "\n",
                             method, pattern, routes[r].statuses[i], routes[r].counts[i]);
        }
    }
    if (rc == ERR_OK) {
        rc = buf_append_str(out, "# HELP bourse_http_request_duration_seconds Time to answer "
                                 "a request.\n# TYPE bourse_http_request_duration_seconds "
                                 "histogram\n");
    }
    for (size_t r = 0; r <= http__routes_count && rc == ERR_OK; r++) {
        if (routes[r].total == 0) {
            continue;
        }
        const char *method, *pattern;
        route_labels(r, &method, &pattern);
        uint64_t cumulative = 0;
        for (size_t b = 0; b < METRICS_BUCKETS && rc == ERR_OK; b++) {
            cumulative += routes[r].buckets[b];
            rc = buf_appendf(out,
                             "bourse_http_request_duration_seconds_bucket{method=\"%s\","
                             "route=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                             method, pattern, bucket_bounds_s[b], cumulative);
        }
        if (rc == ERR_OK) {
            rc = buf_appendf(out,
                             "bourse_http_request_duration_seconds_bucket{method=\"%s\","
                             "route=\"%s\",le=\"+Inf\"} %" PRIu64 "\n"
                             "bourse_http_request_duration_seconds_sum{method=\"%s\","
                             "route=\"%s\"} %.6f\n"
                             "bourse_http_request_duration_seconds_count{method=\"%s\","
                             "route=\"%s\"} %" PRIu64 "\n",
                             method, pattern, routes[r].total, method, pattern, routes[r].sum_s,
                             method, pattern, routes[r].total);
        }
    }
    return rc;
}
