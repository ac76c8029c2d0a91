/*
 * tlog_bench.c: the transparency log's throughput on this machine, side by side with its
 * physical ceiling, in one run:
 *
 *   ceiling   raw SHA-256 leaf hashes per second of the same leaf bytes (tlog_leaf_hash)
 *   appends   durable appends per second through the store: events appended in transactions
 *             of `batch` (group commit: one fsync per batch, synchronous=FULL), then
 *             integrated into the Merkle tree and checkpointed (core_log_integrate),
 *             wall time including every commit
 *   proofs    inclusion proofs per second from the stored tree (random leaves)
 *
 * Usage: tlog_bench DIR [events] [batch]
 */
#include "util/compat.h"
#include "core/core.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double now_s(void)
{
    return (double)clock_monotonic_ns() / 1e9;
}

static void die(const char *what, const struct errbuf *err)
{
    fprintf(stderr, "tlog_bench: %s: %s\n", what, err->msg);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 2 || sodium_init() < 0) {
        fprintf(stderr, "usage: tlog_bench DIR [events] [batch]\n");
        return 2;
    }
    long events = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
    long batch = argc > 3 ? strtol(argv[3], NULL, 10) : 1000;
    log_set_level(LOG_ERROR);
    struct errbuf err;
    errbuf_init(&err);
    char path[4096];
    snprintf(path, sizeof(path), "%s/bench.db", argv[1]);
    struct core c;
    memset(&c, 0, sizeof(c));
    c.clock = &clock_system;
    c.rng = &rng_system;
    if (store_open(path, &c.store, &err) != ERR_OK) {
        die("open", &err);
    }
    uint8_t seed[TLOG_SEED_LEN] = {1};
    struct tlog_signer signer;
    if (tlog_signer_from_seed("bench.local/log", seed, &signer, &err) != ERR_OK) {
        die("signer", &err);
    }
    c.log_signer = &signer;

    /* A leaf of realistic size: an entity event body. */
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", "ent_0123456789abcdefghjk", "kind", "provider",
                  "name", "国网电力数据服务有限公司", "uscc", "91110000802100433B", "public_key",
                  "AVuhxjxip1jHecZ6MAKpxzRxpAzps75kdx3o4WLGn/+6");

    double t0 = now_s();
    long done = 0;
    int64_t size = 0;
    while (done < events) {
        if (store_tx_begin(c.store, &err) != ERR_OK) {
            die("begin", &err);
        }
        for (long i = 0; i < batch && done < events; i++, done++) {
            int64_t seq;
            if (store_event_append(c.store, "entity.applied", "ent_a", "ent_b",
                                   clock_now(&clock_system), body, &seq, &err) != ERR_OK) {
                die("append", &err);
            }
        }
        if (store_tx_commit(c.store, &err) != ERR_OK) {
            die("commit", &err);
        }
        while (size < done) {
            if (core_log_integrate(&c, CORE_LOG_BATCH_MAX, &size, &err) != ERR_OK) {
                die("integrate", &err);
            }
        }
    }
    double append_s = now_s() - t0;

    struct store_event *ev = NULL;
    size_t n = 0;
    if (store_event_range(c.store, 0, 1, &ev, &n, &err) != ERR_OK || n != 1) {
        die("read", &err);
    }
    long hashes = 2000000;
    uint8_t h[TLOG_HASH_LEN];
    t0 = now_s();
    for (long i = 0; i < hashes; i++) {
        tlog_leaf_hash(ev[0].leaf, ev[0].leaf_len, h);
    }
    double hash_s = now_s() - t0;
    size_t leaf_len = ev[0].leaf_len;
    store_event_release(&ev[0]);
    mem_free(ev);

    long proofs = 20000;
    t0 = now_s();
    for (long i = 0; i < proofs; i++) {
        struct tlog_proof proof;
        int64_t ts = 0;
        int64_t idx = (int64_t)(randombytes_uniform((uint32_t)size));
        if (core_log_prove_inclusion(&c, idx, &ts, &proof, &err) != ERR_OK) {
            die("prove", &err);
        }
    }
    double proof_s = now_s() - t0;

    double append_rate = (double)events / append_s;
    double hash_rate = (double)hashes / hash_s;
    double proof_rate = (double)proofs / proof_s;
    printf("leaf bytes                 %zu\n", leaf_len);
    printf("raw sha256 leaf hashes/s   %.0f   (ceiling)\n", hash_rate);
    printf("durable appends/s          %.0f   (batch %ld, %ld events, log size %lld)\n",
           append_rate, batch, events, (long long)size);
    printf("inclusion proofs/s         %.0f\n", proof_rate);
    printf("ratio appends/ceiling      %.4f\n", append_rate / hash_rate);
    printf("ratio appends/target 20000 %.2f\n", append_rate / 20000.0);
    json_decref(body);
    tlog_signer_release(&signer);
    store_close(c.store);
    return 0;
}
