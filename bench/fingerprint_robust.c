/*
 * fingerprint_robust.c: the robustness table of docs/fingerprint-robustness.md.
 *
 * One synthetic dataset (bench/fingerprint_data.h, ROWS rows) is sold to 10,000 buyers
 * (contract ids ctr_r0...0 .. ctr_r...9999). For each attack, TRIALS times: traitors are drawn
 * at random among the buyers, their copies embedded, the attack applied, and the result traced
 * against all 10,000 candidates with the default bound (1e-9). An attack is a pipeline:
 *
 *   collude    2-5 copies mixed: per cell the majority value (ties at random), per cell a random
 *              copy's value, or per row a random copy's row (interleaving)
 *   delete     each row dropped with probability d
 *   alter      each value of a marked column changed with probability a (a digit value moved
 *              by 1-5 units either way, a street type replaced by a random spelling of it)
 *   shuffle    rows and columns in random order
 *   re-encode  written as CSV, TSV or JSON Lines at random
 *
 * Per attack the table gives how often the trace named at least one traitor and nobody else
 * ("identified"), how many trials accused an innocent buyer ("false"), the mean number of
 * traitors named, and the median log10 of the top accusation's stated false-accusation bound.
 * Two controls trace the unmarked original and a copy of a buyer outside the candidates.
 *
 * Usage: fingerprint_robust [ROWS] [TRIALS] [SEED]  (table on stdout, progress on stderr)
 * Scenarios run on two threads; each trial's randomness derives from (SEED, scenario, trial).
 */
#include "util/compat.h"
#include "delivery/delivery.h"

#include "fingerprint_data.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUYERS 10000
#define COLUMNS 6
#define MARKED_KWH 4
#define MARKED_PEAK 5
#define MARKED_ADDRESS 3
#define COPIES_MAX 10
#define THREADS 2

enum mix { MIX_NONE, MIX_MAJORITY, MIX_RANDOM, MIX_INTERLEAVE };
static const char *const mix_names[] = {"single", "majority", "random", "interleave"};

struct scenario {
    const char *label; /* controls only */
    int traitors;      /* 0: a control */
    enum mix mix;
    int delete_pct;
    int alter_pct;
    int control; /* 1: unmarked original, 2: a buyer outside the candidates */
    int beyond;  /* an attack beyond what the scheme is designed for: its limits */
    /* results */
    int trials;
    int identified;
    int false_trials;
    int traitors_named;
    double log10_bounds[64];
};

/* A decoded table: cell (row, col) is values.data + off[row * COLUMNS + col]. */
struct table {
    size_t rows;
    size_t *off;
    size_t *len;
    struct buf values;
};

static struct {
    char *original;
    size_t original_len;
    struct delivery_fp_decl *decl;
    struct delivery_fp *fp;
    char ids[BUYERS][ID_MAX];
    const char *id_ptrs[BUYERS];
    size_t rows;
    int trials;
    uint64_t seed;
    struct scenario *scenarios;
    size_t scenario_count;
    size_t next;
    pthread_mutex_t lock;
} g;

static void die(const char *what, const struct errbuf *err)
{
    fprintf(stderr, "fingerprint_robust: %s: %s\n", what, err != NULL ? err->msg : "failed");
    exit(1);
}

static uint64_t rnd(uint64_t *s)
{
    return fp_data_next(s);
}

static size_t rnd_below(uint64_t *s, size_t n)
{
    return (size_t)(rnd(s) % n);
}

static enum err to_buf(void *ctx, const char *data, size_t len, struct errbuf *err)
{
    enum err rc = buf_append(ctx, data, len);
    return rc == ERR_OK ? ERR_OK : err_set(err, rc, "", "output too large");
}

/* ---- tables ---- */

static void table_release(struct table *t)
{
    free(t->off);
    free(t->len);
    buf_release(&t->values);
    memset(t, 0, sizeof(*t));
}

static void table_read(const char *csv, size_t len, struct table *t)
{
    struct errbuf err;
    errbuf_init(&err);
    struct delivery_reader *r = calloc(1, sizeof(*r));
    if (r == NULL || delivery_reader_open(r, DELIVERY_FORMAT_CSV, csv, len, &err) != ERR_OK) {
        die("read copy", &err);
    }
    ASSERT(r->columns == COLUMNS);
    size_t cap = g.rows + 1;
    t->off = calloc(cap * COLUMNS, sizeof(size_t));
    t->len = calloc(cap * COLUMNS, sizeof(size_t));
    buf_init(&t->values, (size_t)1 << 32);
    t->rows = 0;
    int has_row = 1;
    for (;;) {
        if (delivery_reader_next(r, &has_row, &err) != ERR_OK) {
            die("read row", &err);
        }
        if (!has_row) {
            break;
        }
        ASSERT(t->rows < cap);
        for (size_t c = 0; c < COLUMNS; c++) {
            size_t at = t->values.len;
            if (delivery_field_value_append(&r->fields[c], &t->values, &err) != ERR_OK) {
                die("value", &err);
            }
            t->off[t->rows * COLUMNS + c] = at;
            t->len[t->rows * COLUMNS + c] = t->values.len - at;
        }
        t->rows++;
    }
    delivery_reader_release(r);
    free(r);
}

static const char *cell(const struct table *t, size_t row, size_t col, size_t *len)
{
    *len = t->len[row * COLUMNS + col];
    return t->values.data + t->off[row * COLUMNS + col];
}

/* ---- attacks on one value ---- */

/* "12.34" moved by delta units of its last place, same places, never below zero. */
static void alter_digit(const char *v, size_t len, uint64_t *s, struct buf *out)
{
    long long units = 0;
    int places = -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '.') {
            places = 0;
            continue;
        }
        units = units * 10 + (v[i] - '0');
        places += places >= 0;
    }
    long long delta = (long long)(1 + rnd_below(s, 5)) * (rnd(s) & 1 ? 1 : -1);
    units = units + delta < 0 ? units - delta : units + delta;
    long long scale = 1;
    for (int i = 0; i < places; i++) {
        scale *= 10;
    }
    if (places > 0) {
        buf_appendf(out, "%lld.%0*lld", units / scale, places, units % scale);
    } else {
        buf_appendf(out, "%lld", units);
    }
}

static void alter_spelling(const char *v, size_t len, uint64_t *s, struct buf *out)
{
    static const char *const groups[3][2] = {
        {"Street", "St."}, {"Road", "Rd."}, {"Avenue", "Ave."}};
    for (size_t g3 = 0; g3 < 3; g3++) {
        for (size_t m = 0; m < 2; m++) {
            const char *w = groups[g3][m];
            const char *hit = memmem(v, len, w, strlen(w));
            if (hit != NULL) {
                buf_append(out, v, (size_t)(hit - v));
                buf_append_str(out, groups[g3][rnd_below(s, 2)]);
                size_t after = (size_t)(hit - v) + strlen(w);
                buf_append(out, v + after, len - after);
                return;
            }
        }
    }
    buf_append(out, v, len);
}

/* ---- mixing, deleting, altering, shuffling, encoding ---- */

/* The value of (row, col) in the colluders' forged copy. */
static const char *mixed_cell(const struct table *copies, int n, enum mix mix, size_t row,
                              size_t col, int row_pick, uint64_t *s, size_t *len)
{
    if (mix == MIX_NONE || n == 1) {
        return cell(&copies[0], row, col, len);
    }
    if (mix == MIX_INTERLEAVE) {
        return cell(&copies[row_pick], row, col, len);
    }
    if (mix == MIX_RANDOM) {
        return cell(&copies[rnd_below(s, (size_t)n)], row, col, len);
    }
    /* Majority: count each distinct value; ties broken at random. */
    int votes[COPIES_MAX] = {0};
    for (int i = 0; i < n; i++) {
        size_t li;
        const char *vi = cell(&copies[i], row, col, &li);
        for (int j = 0; j < n; j++) {
            size_t lj;
            const char *vj = cell(&copies[j], row, col, &lj);
            votes[i] += li == lj && memcmp(vi, vj, li) == 0;
        }
    }
    int best = 0;
    for (int i = 1; i < n; i++) {
        best = votes[i] > votes[best] ? i : best;
    }
    int tied[COPIES_MAX];
    int nt = 0;
    for (int i = 0; i < n; i++) {
        if (votes[i] == votes[best]) {
            tied[nt++] = i;
        }
    }
    return cell(&copies[tied[rnd_below(s, (size_t)nt)]], row, col, len);
}

static void put_csv(struct buf *out, const char *v, size_t len)
{
    if (memchr(v, ',', len) == NULL && memchr(v, '"', len) == NULL) {
        buf_append(out, v, len);
        return;
    }
    buf_append(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        buf_append(out, v[i] == '"' ? "\"\"" : &v[i], v[i] == '"' ? 2 : 1);
    }
    buf_append(out, "\"", 1);
}

static const char *const column_names[COLUMNS] = {"meter_id", "day", "district",
                                                  "address",  "kwh", "peak_kw"};

/* Builds the attacked file as CSV in `csv` (rows and columns shuffled). */
static void forge(const struct table *copies, int n, const struct scenario *sc, uint64_t *s,
                  struct buf *csv)
{
    size_t rows = copies[0].rows;
    size_t *order = malloc(rows * sizeof(*order));
    size_t kept = 0;
    for (size_t r = 0; r < rows; r++) {
        if (rnd_below(s, 100) >= (size_t)sc->delete_pct) {
            order[kept++] = r;
        }
    }
    for (size_t i = kept; i > 1; i--) {
        size_t j = rnd_below(s, i);
        size_t tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
    size_t cols[COLUMNS] = {0, 1, 2, 3, 4, 5};
    for (size_t i = COLUMNS; i > 1; i--) {
        size_t j = rnd_below(s, i);
        size_t tmp = cols[i - 1];
        cols[i - 1] = cols[j];
        cols[j] = tmp;
    }
    for (size_t c = 0; c < COLUMNS; c++) {
        buf_append_str(csv, c > 0 ? "," : "");
        buf_append_str(csv, column_names[cols[c]]);
    }
    buf_append_str(csv, "\n");
    struct buf altered;
    buf_init(&altered, 1 << 20);
    for (size_t i = 0; i < kept; i++) {
        int row_pick = (int)rnd_below(s, (size_t)n);
        for (size_t c = 0; c < COLUMNS; c++) {
            size_t col = cols[c];
            size_t len;
            const char *v = mixed_cell(copies, n, sc->mix, order[i], col, row_pick, s, &len);
            int marked = col == MARKED_KWH || col == MARKED_PEAK || col == MARKED_ADDRESS;
            if (marked && rnd_below(s, 100) < (size_t)sc->alter_pct) {
                buf_reset(&altered);
                if (col == MARKED_ADDRESS) {
                    alter_spelling(v, len, s, &altered);
                } else {
                    alter_digit(v, len, s, &altered);
                }
                v = altered.data;
                len = altered.len;
            }
            buf_append_str(csv, c > 0 ? "," : "");
            put_csv(csv, v, len);
        }
        buf_append_str(csv, "\n");
    }
    buf_release(&altered);
    free(order);
}

/* ---- one trial ---- */

static void embed_copy(size_t buyer, const char *id, struct buf *out)
{
    (void)buyer;
    struct errbuf err;
    errbuf_init(&err);
    buf_reset(out);
    if (delivery_fp_embed(g.fp, id, DELIVERY_FORMAT_CSV, g.original, g.original_len, to_buf, out,
                          NULL, &err) != ERR_OK) {
        die("embed", &err);
    }
}

static void trial(struct scenario *sc, int t)
{
    uint64_t s = g.seed ^ ((uint64_t)(sc - g.scenarios) << 32) ^ (uint64_t)t * 0x9e3779b9u;
    rnd(&s);
    size_t traitors[COPIES_MAX];
    struct table copies[COPIES_MAX];
    int n = sc->traitors > 0 ? sc->traitors : 1;
    struct buf copy;
    buf_init(&copy, (size_t)1 << 32);
    for (int i = 0; i < n; i++) {
        int fresh;
        do {
            traitors[i] = rnd_below(&s, BUYERS);
            fresh = 1;
            for (int j = 0; j < i; j++) {
                fresh &= traitors[j] != traitors[i];
            }
        } while (!fresh);
        if (sc->control == 1) {
            buf_reset(&copy);
            buf_append(&copy, g.original, g.original_len);
        } else if (sc->control == 2) {
            char outsider[ID_MAX];
            snprintf(outsider, sizeof(outsider), "ctr_x%019u", (unsigned)(t + 1));
            embed_copy(0, outsider, &copy);
        } else {
            embed_copy(traitors[i], g.ids[traitors[i]], &copy);
        }
        table_read(copy.data, copy.len, &copies[i]);
    }
    buf_reset(&copy);
    forge(copies, n, sc, &s, &copy);
    for (int i = 0; i < n; i++) {
        table_release(&copies[i]);
    }
    struct buf encoded;
    buf_init(&encoded, (size_t)1 << 32);
    enum delivery_format format = (enum delivery_format)rnd_below(&s, DELIVERY__FORMAT_COUNT);
    struct errbuf err;
    errbuf_init(&err);
    if (delivery_tabular_convert(DELIVERY_FORMAT_CSV, copy.data, copy.len, format, to_buf, &encoded,
                                 &err) != ERR_OK) {
        die("convert", &err);
    }
    buf_release(&copy);
    struct delivery_fp_observation *obs = NULL;
    struct delivery_fp_verdict v;
    if (delivery_fp_observe(g.fp, delivery_format_sniff(encoded.data, encoded.len), encoded.data,
                            encoded.len, &obs, &err) != ERR_OK ||
        delivery_fp_accuse(g.fp, obs, g.id_ptrs, BUYERS, DELIVERY_FP_BOUND_DEFAULT, &v, &err) !=
            ERR_OK) {
        die("trace", &err);
    }
    int named = 0;
    int innocent = 0;
    for (size_t a = 0; a < v.accused_count; a++) {
        int guilty = 0;
        for (int i = 0; i < n && sc->control == 0; i++) {
            guilty |= v.accused[a].candidate == traitors[i];
        }
        named += guilty;
        innocent += !guilty;
    }
    pthread_mutex_lock(&g.lock);
    sc->trials++;
    sc->identified += named > 0 && innocent == 0;
    sc->false_trials += innocent > 0;
    sc->traitors_named += named;
    if (t < 64) {
        sc->log10_bounds[t] = v.best.log10_false_accusation;
    }
    pthread_mutex_unlock(&g.lock);
    delivery_fp_verdict_release(&v);
    delivery_fp_observation_free(obs);
    buf_release(&encoded);
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&g.lock);
        size_t i = g.next++;
        pthread_mutex_unlock(&g.lock);
        if (i >= g.scenario_count * (size_t)g.trials) {
            return NULL;
        }
        struct scenario *sc = &g.scenarios[i / (size_t)g.trials];
        trial(sc, (int)(i % (size_t)g.trials));
        if (i % (size_t)g.trials == (size_t)g.trials - 1) {
            fprintf(stderr, "# scenario %zu/%zu done\n", i / (size_t)g.trials + 1,
                    g.scenario_count);
        }
    }
}

/* ---- setup and report ---- */

static size_t scenarios_build(struct scenario *out)
{
    static const int deletes[] = {0, 25, 50, 75, 90};
    static const int alters[] = {0, 10, 20, 30};
    size_t n = 0;
    out[n++] = (struct scenario){.label = "unmarked original", .control = 1};
    out[n++] = (struct scenario){.label = "copy of a buyer not among the candidates", .control = 2};
    for (size_t d = 0; d < ARRAY_LEN(deletes); d++) {
        for (size_t a = 0; a < ARRAY_LEN(alters); a++) {
            out[n++] = (struct scenario){
                .traitors = 1, .mix = MIX_NONE, .delete_pct = deletes[d], .alter_pct = alters[a]};
        }
    }
    for (int hard = 0; hard < 2; hard++) {
        for (int c = 2; c <= 5; c++) {
            for (int m = MIX_MAJORITY; m <= MIX_INTERLEAVE; m++) {
                out[n++] = (struct scenario){.traitors = c,
                                             .mix = (enum mix)m,
                                             .delete_pct = hard ? 50 : 0,
                                             .alter_pct = hard ? 10 : 0};
            }
        }
    }
    /* Beyond the design: every marked value altered; ten colluders. */
    out[n++] = (struct scenario){
        .traitors = 1, .mix = MIX_NONE, .delete_pct = 0, .alter_pct = 100, .beyond = 1};
    out[n++] = (struct scenario){
        .traitors = 1, .mix = MIX_NONE, .delete_pct = 90, .alter_pct = 50, .beyond = 1};
    out[n++] = (struct scenario){
        .traitors = 10, .mix = MIX_MAJORITY, .delete_pct = 0, .alter_pct = 0, .beyond = 1};
    out[n++] = (struct scenario){
        .traitors = 10, .mix = MIX_INTERLEAVE, .delete_pct = 50, .alter_pct = 10, .beyond = 1};
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const struct delivery_fp_params *params, uint64_t cells, double seconds)
{
    int total_false = 0;
    int total_trials = 0;
    printf("| attack | colluders | mixing | rows deleted | values altered | trials | identified "
           "| false accusations | traitors named (mean) | median log10 bound |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < g.scenario_count; i++) {
        struct scenario *sc = &g.scenarios[i];
        size_t k = sc->trials < 64 ? (size_t)sc->trials : 64;
        qsort(sc->log10_bounds, k, sizeof(double), cmp_double);
        double median = k > 0 ? sc->log10_bounds[k / 2] : 0;
        total_false += sc->false_trials;
        total_trials += sc->trials;
        if (sc->control) {
            printf("| %s | - | - | - | - | %d | - | %d | 0 | %.1f |\n", sc->label, sc->trials,
                   sc->false_trials, median);
            continue;
        }
        printf("| %s | %d | %s | %d%% | %d%% | %d | %d/%d | %d | %.2f | %.1f |\n",
               sc->beyond          ? "beyond design"
               : sc->traitors == 1 ? "one buyer's copy"
                                   : "collusion",
               sc->traitors, mix_names[sc->mix], sc->delete_pct, sc->alter_pct, sc->trials,
               sc->identified, sc->trials, sc->false_trials,
               (double)sc->traitors_named / sc->trials, median);
    }
    printf("\nTrials: %d; trials with a false accusation: %d (each trial scores all %d "
           "candidates). Rows: %zu; admissible cells: %llu; code length %u; marked per mille %u; "
           "cutoff %.5f; bound 1e-9. Every attack also shuffles rows and columns and re-encodes "
           "as CSV, TSV or JSON Lines at random. Run time %.0f s on %d threads.\n",
           total_trials, total_false, BUYERS, g.rows, (unsigned long long)cells,
           params->code_length, params->mark_per_mille, params->cutoff, seconds, THREADS);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        return 1;
    }
    g.rows = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 100000;
    g.trials = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 10;
    g.seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    if (g.rows == 0 || g.trials < 1 || g.trials > 64) {
        fprintf(stderr, "usage: fingerprint_robust [ROWS] [TRIALS 1..64] [SEED]\n");
        return 2;
    }
    struct buf data;
    buf_init(&data, (size_t)1 << 32);
    if (fp_data_generate(&data, g.rows, g.seed) != ERR_OK) {
        die("generate", NULL);
    }
    g.original = data.data;
    g.original_len = data.len;
    struct errbuf err;
    errbuf_init(&err);
    json_t *j = json_loads(fp_data_declaration, 0, NULL);
    uint64_t cells = 0;
    if (j == NULL || delivery_fp_decl_parse(j, &g.decl, &err) != ERR_OK ||
        delivery_fp_count_admissible(g.decl, DELIVERY_FORMAT_CSV, g.original, g.original_len,
                                     &cells, &err) != ERR_OK) {
        die("declaration", &err);
    }
    json_decref(j);
    struct delivery_fp_params params;
    delivery_fp_params_default(&params, cells);
    unsigned char secret[DELIVERY_FP_SECRET_LEN];
    /* The exchange's secret for the dataset, derived from the seed so that a run replays. */
    crypto_generichash(secret, sizeof(secret), (const unsigned char *)&g.seed, sizeof(g.seed), NULL,
                       0);
    if (delivery_fp_new(secret, &params, g.decl, &g.fp, &err) != ERR_OK) {
        die("scheme", &err);
    }
    for (size_t i = 0; i < BUYERS; i++) {
        snprintf(g.ids[i], ID_MAX, "ctr_r%019u", (unsigned)i);
        g.id_ptrs[i] = g.ids[i];
    }
    static struct scenario scenarios[64];
    g.scenarios = scenarios;
    g.scenario_count = scenarios_build(scenarios);
    pthread_mutex_init(&g.lock, NULL);
    double t0 = (double)clock_monotonic_ns() / 1e9;
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        pthread_create(&threads[i], NULL, worker, NULL);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    report(&params, cells, (double)clock_monotonic_ns() / 1e9 - t0);
    delivery_fp_free(g.fp);
    delivery_fp_decl_free(g.decl);
    buf_release(&data);
    return 0;
}
