/*
 * limits_bench.c: what the rate limiter costs a request (docs/decisions/0006-rate-limits.md).
 *
 * Times http__limits_admit, the only limiter work on a request's path, over N distinct callers
 * in turn (the table's SipHash, probe and GCRA step), and the tick's sweep of the whole table,
 * which every node runs every 100 ms. The HTTP-level figures come from bench/http_server.sh;
 * on a shared machine their noise (±20 %) is far larger than this cost, hence this bench.
 *
 * usage: limits_bench [CALLERS]   (default 1000)
 */
#include "util/compat.h"
#include "http/http_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/banned.h"

#define ADMITS 10000000L
#define SWEEPS 200

int main(int argc, char **argv)
{
    long callers = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    if (sodium_init() < 0 || callers < 1 || callers > 20000) {
        fprintf(stderr, "usage: limits_bench [CALLERS 1..20000]\n");
        return 2;
    }
    struct store *s = NULL;
    struct http_limits *l = NULL;
    if (store_open(":memory:", &s, NULL) != ERR_OK ||
        http__limits_new(HTTP_RATE_MAX, HTTP_BURST_MAX, 0, &rng_system, &l, NULL) != ERR_OK) {
        fprintf(stderr, "limits_bench: setup failed\n");
        return 1;
    }
    char(*subjects)[HTTP_SUBJECT_MAX] = mem_calloc((size_t)callers, HTTP_SUBJECT_MAX);
    if (subjects == NULL) {
        return 1;
    }
    for (long i = 0; i < callers; i++) {
        id_new(&rng_system, "ent", subjects[i]);
    }
    int64_t t0 = clock_monotonic_ns();
    long admitted = 0;
    int64_t retry = 0;
    for (long i = 0; i < ADMITS; i++) {
        /* Time advances 1 us a request, as at a million requests a second. */
        admitted += http__limits_admit(l, subjects[i % callers], t0 + i * 1000, &retry);
    }
    int64_t t1 = clock_monotonic_ns();
    int64_t s0 = clock_monotonic_ns();
    for (int i = 0; i < SWEEPS; i++) {
        /* Nothing is idle at t0: each sweep walks every slot and keeps every bucket. */
        http__limits_sync(l, s, t0, 0, NULL);
    }
    int64_t s1 = clock_monotonic_ns();
    printf("callers %ld: admit %.1f ns a request (%ld of %ld admitted); sweep of %zu buckets "
           "%.0f us a tick (%.2f%% of a core at 10 ticks a second)\n",
           callers, (double)(t1 - t0) / ADMITS, admitted, ADMITS, http__limits_live(l),
           (double)(s1 - s0) / SWEEPS / 1000, (double)(s1 - s0) / SWEEPS * 10 / 1e9 * 100);
    mem_free(subjects);
    http__limits_free(l);
    store_close(s);
    return 0;
}
