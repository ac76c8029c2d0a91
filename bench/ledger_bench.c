/*
 * ledger_bench.c: the clearing ledger's throughput on this machine, side by side with the
 * store's bare insert rate for the same rows, in one run:
 *
 *   setup     `accounts` verified entities, each with one deposit (clearing_deposit)
 *   batched   `transfers` random transfers between those accounts through
 *             clearing_transfer_batch, CLEARING_BATCH_MAX per call (one event each), `per_tx`
 *             per store transaction with a durable commit, the new events integrated into the
 *             transparency log after every commit; wall time includes everything
 *   single    the same with one transfer per call (one event per transfer), for contrast
 *   ceiling   the batched phase's transfer rows, read back, then inserted as they are
 *             (store_ledger_transfers_insert, CLEARING_BATCH_MAX rows per call as the ledger
 *             writes them, same table and indexes, `per_tx` per durable commit) into a fresh
 *             store at CEILING_URI: what the store can write at best
 *   check     clearing_check over the whole ledger: transfers replayed per second
 *
 * Usage: ledger_bench URI CEILING_URI [accounts] [transfers] [per_tx]
 * URI is a SQLite path or a postgres:// URL (an empty database). Prints one `name value` line
 * per figure for bench/ledger.sh, which adds pgbench and the ratios.
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "core/core.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPERATOR_ID "ent_benchoperator0000000"

static double now_s(void)
{
    return (double)clock_monotonic_ns() / 1e9;
}

static void die(const char *what, const struct errbuf *err)
{
    fprintf(stderr, "ledger_bench: %s: %s\n", what, err->msg);
    exit(1);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state >> 12;
    rnd_state ^= rnd_state << 25;
    rnd_state ^= rnd_state >> 27;
    return rnd_state * 2685821657736338717u;
}

struct bench {
    struct core core;
    struct clearing c;
    struct clearing_actor sys;
    long accounts;
    char (*acc)[ID_MAX];
    int64_t log_size;
};

static void setup(struct bench *b)
{
    struct errbuf err;
    errbuf_init(&err);
    struct clearing_actor op = {OPERATOR_ID, CLEARING_ROLE_OPERATOR};
    b->acc = calloc((size_t)b->accounts, ID_MAX);
    for (long i = 0; i < b->accounts; i += 1000) {
        if (store_tx_begin(b->core.store, &err) != ERR_OK) {
            die("begin", &err);
        }
        for (long j = i; j < i + 1000 && j < b->accounts; j++) {
            struct store_entity e;
            memset(&e, 0, sizeof(e));
            id_new(&rng_system, "ent", e.id);
            snprintf(e.kind, sizeof(e.kind), "buyer");
            snprintf(e.status, sizeof(e.status), "verified");
            snprintf(e.name, sizeof(e.name), "bench %ld", j);
            snprintf(e.country, sizeof(e.country), "CN");
            e.created_ms = clock_now(&clock_system);
            if (store_entity_insert(b->core.store, &e, &err) != ERR_OK) {
                die("entity", &err);
            }
            struct clearing_movement m = {e.id, "CNY", (int64_t)1 << 40, "bench", NULL};
            struct store_ledger_transfer t;
            int replayed = 0;
            if (clearing_deposit(&b->c, &op, &m, &t, &replayed, &err) != ERR_OK) {
                die("deposit", &err);
            }
            snprintf(b->acc[j], ID_MAX, "%s", t.credit_account);
        }
        if (store_tx_commit(b->core.store, &err) != ERR_OK) {
            die("commit", &err);
        }
    }
}

static void integrate(struct bench *b)
{
    struct errbuf err;
    errbuf_init(&err);
    int64_t count = 0;
    if (store_event_count(b->core.store, &count, &err) != ERR_OK) {
        die("count", &err);
    }
    while (b->log_size < count) {
        if (core_log_integrate(&b->core, CORE_LOG_BATCH_MAX, &b->log_size, &err) != ERR_OK) {
            die("integrate", &err);
        }
    }
}

/* Runs `transfers` random transfers, `per_call` per clearing call, `per_tx` per commit.
 * Returns transfers per second. */
static double run(struct bench *b, long transfers, long per_call, long per_tx)
{
    struct errbuf err;
    errbuf_init(&err);
    struct clearing_transfer_in in[CLEARING_BATCH_MAX];
    struct store_ledger_transfer out[CLEARING_BATCH_MAX];
    integrate(b);
    double t0 = now_s();
    long done = 0;
    while (done < transfers) {
        if (store_tx_begin(b->core.store, &err) != ERR_OK) {
            die("begin", &err);
        }
        for (long k = 0; k < per_tx && done < transfers;) {
            long n = per_call;
            n = n > per_tx - k ? per_tx - k : n;
            n = n > transfers - done ? transfers - done : n;
            for (long i = 0; i < n; i++) {
                long from = (long)(rnd() % (uint64_t)b->accounts);
                long to = (long)(rnd() % (uint64_t)(b->accounts - 1));
                to += to >= from;
                in[i] = (struct clearing_transfer_in){
                    b->acc[from], b->acc[to], 1 + (int64_t)(rnd() % 100000), "CNY", "bench.trade",
                    NULL,         NULL};
            }
            int replayed = 0;
            if (clearing_transfer_batch(&b->c, &b->sys, in, (size_t)n, out, &replayed, &err) !=
                ERR_OK) {
                die("transfer", &err);
            }
            k += n;
            done += n;
        }
        if (store_tx_commit(b->core.store, &err) != ERR_OK) {
            die("commit", &err);
        }
        integrate(b);
    }
    return (double)transfers / (now_s() - t0);
}

/* Reads every transfer with seq > after_seq (at most max) from s. */
static struct store_ledger_transfer *rows_read(struct store *s, int64_t after_seq, long max,
                                               long *count)
{
    struct store_ledger_transfer *all = calloc((size_t)max, sizeof(*all));
    struct errbuf err;
    errbuf_init(&err);
    *count = 0;
    while (*count < max) {
        struct store_ledger_transfer *page = NULL;
        size_t n = 0;
        if (store_ledger_transfer_scan(s, after_seq, STORE_LEDGER_PAGE_MAX, &page, &n, &err) !=
            ERR_OK) {
            die("scan", &err);
        }
        for (size_t i = 0; i < n && *count < max; i++) {
            all[(*count)++] = page[i];
        }
        if (n > 0) {
            after_seq = page[n - 1].seq;
        }
        mem_free(page);
        if (n < STORE_LEDGER_PAGE_MAX) {
            break;
        }
    }
    return all;
}

/* The same rows inserted bare, per_tx per durable commit. Returns rows per second. */
static double ceiling(const char *uri, const struct store_ledger_transfer *rows, long count,
                      long per_tx)
{
    struct store *s = NULL;
    struct errbuf err;
    errbuf_init(&err);
    if (store_open(uri, &s, &err) != ERR_OK) {
        die("open ceiling", &err);
    }
    double t0 = now_s();
    for (long i = 0; i < count; i += per_tx) {
        if (store_tx_begin(s, &err) != ERR_OK) {
            die("begin", &err);
        }
        for (long j = i; j < i + per_tx && j < count; j += CLEARING_BATCH_MAX) {
            long n = count - j < CLEARING_BATCH_MAX ? count - j : CLEARING_BATCH_MAX;
            n = n < i + per_tx - j ? n : i + per_tx - j;
            if (store_ledger_transfers_insert(s, &rows[j], (size_t)n, &err) != ERR_OK) {
                die("insert", &err);
            }
        }
        if (store_tx_commit(s, &err) != ERR_OK) {
            die("commit", &err);
        }
    }
    double rate = (double)count / (now_s() - t0);
    store_close(s);
    return rate;
}

int main(int argc, char **argv)
{
    if (argc < 3 || sodium_init() < 0) {
        fprintf(stderr, "usage: ledger_bench URI CEILING_URI [accounts] [transfers] [per_tx]\n");
        return 2;
    }
    struct bench b;
    memset(&b, 0, sizeof(b));
    b.accounts = argc > 3 ? strtol(argv[3], NULL, 10) : 10000;
    long transfers = argc > 4 ? strtol(argv[4], NULL, 10) : 200000;
    long per_tx = argc > 5 ? strtol(argv[5], NULL, 10) : 1000;
    if (b.accounts < 2 || transfers < 1 || per_tx < 1) {
        fprintf(stderr, "ledger_bench: accounts >= 2, transfers >= 1, per_tx >= 1\n");
        return 2;
    }
    log_set_level(LOG_ERROR);
    struct errbuf err;
    errbuf_init(&err);
    b.core.clock = &clock_system;
    b.core.rng = &rng_system;
    if (store_open(argv[1], &b.core.store, &err) != ERR_OK) {
        die("open", &err);
    }
    uint8_t seed[TLOG_SEED_LEN] = {7};
    struct tlog_signer signer;
    if (tlog_signer_from_seed("bench.local/ledger", seed, &signer, &err) != ERR_OK) {
        die("signer", &err);
    }
    b.core.log_signer = &signer;
    b.c = (struct clearing){b.core.store, &clock_system, &rng_system};
    b.sys = (struct clearing_actor){CLEARING_SWEEPER, CLEARING_ROLE_SYSTEM};

    double t0 = now_s();
    setup(&b);
    double setup_s = now_s() - t0;
    int64_t events_before = 0;
    if (store_event_count(b.core.store, &events_before, &err) != ERR_OK) {
        die("count", &err);
    }
    int64_t first_seq = events_before * CLEARING_BATCH_MAX - 1;
    double batched = run(&b, transfers, CLEARING_BATCH_MAX, per_tx);
    long single_n = transfers / 4 > 0 ? transfers / 4 : 1;
    double single = run(&b, single_n, 1, per_tx);

    long nrows = 0;
    struct store_ledger_transfer *rows = rows_read(b.core.store, first_seq, transfers, &nrows);
    double bare = ceiling(argv[2], rows, nrows, per_tx);
    free(rows);

    struct clearing_check_report *report = calloc(1, sizeof(*report));
    t0 = now_s();
    if (clearing_check(b.core.store, report, &err) != ERR_OK) {
        die("check", &err);
    }
    double check_rate = (double)report->transfers / (now_s() - t0);

    printf("backend %s\n", store_backend_name(b.core.store));
    printf("accounts %ld\n", b.accounts);
    printf("setup_seconds %.1f\n", setup_s);
    printf("transfers %ld\n", transfers);
    printf("per_tx %ld\n", per_tx);
    printf("per_call %d\n", CLEARING_BATCH_MAX);
    printf("ledger_batched_tps %.0f\n", batched);
    printf("ledger_single_tps %.0f\n", single);
    printf("ceiling_rows_per_s %.0f\n", bare);
    printf("check_transfers_per_s %.0f\n", check_rate);
    printf("check_transfers %lld\n", (long long)report->transfers);
    printf("log_size %lld\n", (long long)b.log_size);
    free(report);
    free(b.acc);
    tlog_signer_release(&signer);
    store_close(b.core.store);
    return 0;
}
