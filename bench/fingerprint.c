/*
 * fingerprint.c: fingerprint embedding and tracing speed on this machine, for comparison with a
 * plain copy of the same file (bench/fingerprint.sh times `cat` in the same run).
 *
 *   fingerprint gen FILE ROWS          writes the synthetic CSV (bench/fingerprint_data.h)
 *   fingerprint embed FILE OUT [N]     N times (best kept): read FILE, write a buyer's copy to
 *                                      OUT; prints rows/s and MB/s, wall time of the whole copy
 *   fingerprint trace FILE CANDIDATES  reads a buyer's copy, scores CANDIDATES contracts (the
 *                                      buyer among them); prints rows/s of the read and the
 *                                      scoring time, and checks that the buyer is named
 *
 * The secret and contract ids are fixed so that runs compare.
 */
#include "util/compat.h"
#include "delivery/delivery.h"

#include "fingerprint_data.h"

#include <sodium.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#define FILE_BYTES_MAX ((size_t)4 << 30)

static double now_s(void)
{
    return (double)clock_monotonic_ns() / 1e9;
}

/* CPU seconds of this process (user + system): what the work costs on a shared machine. */
static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void die(const char *what, const struct errbuf *err)
{
    fprintf(stderr, "fingerprint: %s: %s\n", what, err != NULL ? err->msg : "failed");
    exit(1);
}

static enum err write_file(void *ctx, const char *data, size_t len, struct errbuf *err)
{
    if (fwrite(data, 1, len, ctx) != len) {
        return err_set(err, ERR_IO, "", "cannot write");
    }
    return ERR_OK;
}

struct scheme {
    struct delivery_fp_decl *decl;
    struct delivery_fp *fp;
};

static void scheme_open(struct scheme *s, const char *data, size_t len)
{
    struct errbuf err;
    errbuf_init(&err);
    json_t *j = json_loads(fp_data_declaration, 0, NULL);
    if (j == NULL || delivery_fp_decl_parse(j, &s->decl, &err) != ERR_OK) {
        die("declaration", &err);
    }
    json_decref(j);
    uint64_t cells = 0;
    if (delivery_fp_count_admissible(s->decl, DELIVERY_FORMAT_CSV, data, len, &cells, &err) !=
        ERR_OK) {
        die("count", &err);
    }
    struct delivery_fp_params params;
    delivery_fp_params_default(&params, cells);
    unsigned char secret[DELIVERY_FP_SECRET_LEN];
    memset(secret, 7, sizeof(secret));
    if (delivery_fp_new(secret, &params, s->decl, &s->fp, &err) != ERR_OK) {
        die("scheme", &err);
    }
    fprintf(stderr, "# admissible cells %llu, code length %u\n", (unsigned long long)cells,
            params.code_length);
}

static void scheme_close(struct scheme *s)
{
    delivery_fp_free(s->fp);
    delivery_fp_decl_free(s->decl);
}

static char *read_all(const char *path, size_t *len)
{
    char *data = NULL;
    struct errbuf err;
    errbuf_init(&err);
    if (file_read(path, FILE_BYTES_MAX, &data, len, &err) != ERR_OK) {
        die(path, &err);
    }
    return data;
}

static int cmd_gen(const char *path, size_t rows)
{
    struct buf b;
    buf_init(&b, FILE_BYTES_MAX);
    if (fp_data_generate(&b, rows, 1) != ERR_OK) {
        die("generate", NULL);
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
        die(path, NULL);
    }
    buf_release(&b);
    return 0;
}

/* Reading the original is part of both the copy and the `cat`, so it is timed here too. */
static int cmd_embed(const char *in, const char *out, int repeat)
{
    size_t len;
    char *data = read_all(in, &len);
    struct scheme s;
    scheme_open(&s, data, len);
    mem_free(data);
    double best = 1e30;
    double best_cpu = 1e30;
    struct delivery_fp_stats stats = {0};
    for (int i = 0; i < repeat; i++) {
        double c0 = cpu_s();
        double t0 = now_s();
        data = read_all(in, &len);
        FILE *f = fopen(out, "wb");
        struct errbuf err;
        errbuf_init(&err);
        if (f == NULL || delivery_fp_embed(s.fp, "ctr_b0000000000000000001", DELIVERY_FORMAT_CSV,
                                           data, len, write_file, f, &stats, &err) != ERR_OK) {
            die("embed", &err);
        }
        if (fclose(f) != 0) {
            die(out, NULL);
        }
        mem_free(data);
        double t = now_s() - t0;
        double c = cpu_s() - c0;
        best = t < best ? t : best;
        best_cpu = c < best_cpu ? c : best_cpu;
    }
    printf("embed rows %llu selected %llu changed %llu seconds %.4f rows_per_s %.0f "
           "mb_per_s %.1f cpu_seconds %.4f cpu_rows_per_s %.0f\n",
           (unsigned long long)stats.rows, (unsigned long long)stats.cells_selected,
           (unsigned long long)stats.cells_changed, best, (double)stats.rows / best,
           (double)len / best / 1e6, best_cpu, (double)stats.rows / best_cpu);
    scheme_close(&s);
    return 0;
}

static int cmd_trace(const char *original, const char *copy, size_t candidates)
{
    size_t len;
    char *data = read_all(original, &len);
    struct scheme s;
    scheme_open(&s, data, len);
    mem_free(data);
    char(*ids)[ID_MAX] = calloc(candidates, ID_MAX);
    const char **ptrs = calloc(candidates, sizeof(*ptrs));
    for (size_t i = 0; i < candidates; i++) {
        snprintf(ids[i], ID_MAX, "ctr_b%019u", (unsigned)i);
        ptrs[i] = ids[i];
    }
    struct errbuf err;
    errbuf_init(&err);
    double t0 = now_s();
    data = read_all(copy, &len);
    struct delivery_fp_observation *obs = NULL;
    if (delivery_fp_observe(s.fp, delivery_format_sniff(data, len), data, len, &obs, &err) !=
        ERR_OK) {
        die("observe", &err);
    }
    double t1 = now_s();
    struct delivery_fp_verdict v;
    if (delivery_fp_accuse(s.fp, obs, ptrs, candidates, DELIVERY_FP_BOUND_DEFAULT, &v, &err) !=
        ERR_OK) {
        die("accuse", &err);
    }
    double t2 = now_s();
    struct delivery_fp_stats stats;
    uint32_t decided;
    delivery_fp_observation_stats(obs, &stats, &decided);
    int named = v.accused_count == 1 && v.accused[0].candidate == 1;
    printf("trace rows %llu seconds %.4f rows_per_s %.0f candidates %zu score_seconds %.4f "
           "named %s log10_bound %.1f\n",
           (unsigned long long)stats.rows, t1 - t0, (double)stats.rows / (t1 - t0), candidates,
           t2 - t1, named ? "yes" : "NO", v.best.log10_false_accusation);
    delivery_fp_verdict_release(&v);
    delivery_fp_observation_free(obs);
    mem_free(data);
    free(ids);
    free(ptrs);
    scheme_close(&s);
    return named ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0 || argc < 3) {
        fprintf(stderr, "usage: fingerprint gen FILE ROWS | embed FILE OUT [N] | trace FILE COPY "
                        "CANDIDATES\n");
        return 2;
    }
    if (strcmp(argv[1], "gen") == 0 && argc == 4) {
        return cmd_gen(argv[2], (size_t)strtoull(argv[3], NULL, 10));
    }
    if (strcmp(argv[1], "embed") == 0 && argc >= 4) {
        return cmd_embed(argv[2], argv[3], argc > 4 ? (int)strtol(argv[4], NULL, 10) : 3);
    }
    if (strcmp(argv[1], "trace") == 0 && argc == 5) {
        return cmd_trace(argv[2], argv[3], (size_t)strtoull(argv[4], NULL, 10));
    }
    fprintf(stderr, "fingerprint: unknown command\n");
    return 2;
}
