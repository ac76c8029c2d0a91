/*
 * trace.c: reading the marks in a suspect file and deciding whom they name.
 *
 * Observation: every cell the keyed PRF selected and whose value can carry a bit votes for its
 * codeword position (the bit, unmasked). The majority of each position is the observed symbol
 * y_j; positions without votes, or tied, are erased and count 0 in every score. Rows are found
 * by their key, never by their place, so order, sampling and re-encoding do not matter.
 *
 * Accusation (Skoric et al.'s symmetric Tardos score): a candidate with codeword X scores
 *   S = sum over decided j of  +sqrt((1-q_j)/q_j) if X_j = y_j,  -sqrt(q_j/(1-q_j)) otherwise,
 * where q_j = P[X_j = y_j] for a buyer who did not contribute: p_j if y_j = 1, 1 - p_j if not.
 * An innocent buyer's X is independent of y, so each term U_j takes those two values with
 * probabilities q_j and 1 - q_j, mean 0, variance 1, and the terms are independent. Hence, for
 * every lambda >= 0 (Chernoff),
 *   P[S >= Z] <= exp(-lambda Z) prod_j (q_j e^{lambda h_j} + (1 - q_j) e^{lambda m_j}),
 * minimised here over lambda numerically (any lambda gives a valid bound, so the minimiser's
 * precision affects only tightness). Multiplied by the number of candidates (union bound), that
 * is the probability that some innocent candidate scores as high: the accusation's stated error.
 */
#include "util/compat.h"
#include "delivery/delivery.h"
#include "delivery/fingerprint_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define VALUE_BYTES_MAX ((size_t)1 << 31)
#define KEY_BYTES_MAX ((size_t)1 << 20)
/* Steps of the search for the Chernoff exponent's minimiser (Newton converges in about 10). */
#define LAMBDA_STEPS 100
/* The largest lambda tried; beyond it the bound is evaluated at this lambda (still valid). */
#define LAMBDA_MAX 1e9

struct delivery_fp_observation {
    uint32_t code_length;
    int32_t *votes; /* + for bit 1, - for bit 0 */
    struct delivery_fp_stats stats;
};

void delivery_fp_observation_free(struct delivery_fp_observation *obs)
{
    if (obs == NULL) {
        return;
    }
    mem_free(obs->votes);
    mem_free(obs);
}

void delivery_fp_observation_stats(const struct delivery_fp_observation *obs,
                                   struct delivery_fp_stats *stats, uint32_t *positions_decided)
{
    *stats = obs->stats;
    uint32_t n = 0;
    for (uint32_t j = 0; j < obs->code_length; j++) {
        n += obs->votes[j] != 0;
    }
    *positions_decided = n;
}

struct observer {
    const struct delivery_fp *fp;
    struct delivery_reader reader;
    struct delivery__layout layout;
    struct buf keybuf;
    struct buf scratch;
};

static enum err observe_row(struct observer *o, struct delivery_fp_observation *obs,
                            struct errbuf *err)
{
    const struct delivery_fp_decl *decl = o->fp->decl;
    uint64_t row_hash;
    enum err rc = delivery__row_hash(o->fp, &o->layout, &o->reader, &o->keybuf, &row_hash, err);
    for (size_t m = 0; rc == ERR_OK && m < decl->marked_count; m++) {
        int col = o->layout.marked_cols[m];
        const struct delivery_field *f = col >= 0 ? &o->reader.fields[col] : NULL;
        if (f == NULL || !delivery__field_markable(&decl->marked[m], f)) {
            continue;
        }
        const char *value;
        size_t len;
        rc = delivery_field_value(f, &o->scratch, &value, &len, err);
        size_t at;
        size_t width;
        int variant;
        int bit = rc == ERR_OK
                      ? delivery__mark_get(&decl->marked[m], value, len, &at, &width, &variant)
                      : -1;
        if (bit < 0) {
            continue;
        }
        obs->stats.cells_admissible++;
        uint32_t position;
        int mask;
        int up;
        if (!delivery__cell_pick(o->fp, delivery__cell_prf(o->fp, row_hash, m), &position, &mask,
                                 &up)) {
            continue;
        }
        obs->stats.cells_selected++;
        obs->votes[position] += (bit ^ mask) ? 1 : -1;
    }
    return rc;
}

enum err delivery_fp_observe(const struct delivery_fp *fp, enum delivery_format format,
                             const char *data, size_t len, struct delivery_fp_observation **out,
                             struct errbuf *err)
{
    ASSERT(fp != NULL && out != NULL);
    *out = NULL;
    struct delivery_fp_observation *obs = mem_calloc(1, sizeof(*obs));
    struct observer *o = mem_calloc(1, sizeof(*o));
    int32_t *votes = mem_calloc(fp->params.code_length, sizeof(*votes));
    if (obs == NULL || o == NULL || votes == NULL) {
        mem_free(obs);
        mem_free(o);
        mem_free(votes);
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    obs->votes = votes;
    obs->code_length = fp->params.code_length;
    o->fp = fp;
    buf_init(&o->keybuf, KEY_BYTES_MAX);
    buf_init(&o->scratch, VALUE_BYTES_MAX);
    enum err rc = delivery_reader_open(&o->reader, format, data, len, err);
    if (rc == ERR_OK) {
        rc = delivery__layout_resolve(fp->decl, &o->reader, &o->layout, err);
    }
    int has_row = rc == ERR_OK;
    while (rc == ERR_OK && has_row) {
        rc = delivery_reader_next(&o->reader, &has_row, err);
        if (rc == ERR_OK && has_row) {
            obs->stats.rows++;
            rc = observe_row(o, obs, err);
        }
    }
    delivery_reader_release(&o->reader);
    buf_release(&o->keybuf);
    buf_release(&o->scratch);
    mem_free(o);
    if (rc != ERR_OK) {
        delivery_fp_observation_free(obs);
        return rc;
    }
    *out = obs;
    return ERR_OK;
}

/* ---- scoring ---- */

/* The decided positions, with each one's innocent hit probability and the two score values. */
struct decided {
    size_t count;
    uint32_t *position;
    uint8_t *symbol;
    double *q; /* P[an innocent's bit equals the symbol] */
    double *log_q;
    double *log_not_q;
    double *hit;  /* sqrt((1-q)/q) */
    double *miss; /* -sqrt(q/(1-q)) */
    /* By position j (all of them): the score term if the codeword bit is 0 or 1; 0 when erased.
     * Scoring then walks the codeword in order without a branch. */
    double (*term)[2];
};

static void decided_release(struct decided *d)
{
    mem_free(d->position);
    mem_free(d->symbol);
    mem_free(d->q);
    mem_free(d->log_q);
    mem_free(d->log_not_q);
    mem_free(d->hit);
    mem_free(d->miss);
    mem_free(d->term);
}

static enum err decided_init(const struct delivery_fp *fp,
                             const struct delivery_fp_observation *obs, struct decided *d,
                             struct errbuf *err)
{
    memset(d, 0, sizeof(*d));
    size_t n = obs->code_length;
    d->position = mem_calloc(n, sizeof(*d->position));
    d->symbol = mem_calloc(n, sizeof(*d->symbol));
    d->q = mem_calloc(n, sizeof(*d->q));
    d->log_q = mem_calloc(n, sizeof(*d->log_q));
    d->log_not_q = mem_calloc(n, sizeof(*d->log_not_q));
    d->hit = mem_calloc(n, sizeof(*d->hit));
    d->miss = mem_calloc(n, sizeof(*d->miss));
    d->term = mem_calloc(n, sizeof(*d->term));
    if (d->position == NULL || d->symbol == NULL || d->q == NULL || d->log_q == NULL ||
        d->log_not_q == NULL || d->hit == NULL || d->miss == NULL || d->term == NULL) {
        decided_release(d);
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    for (uint32_t j = 0; j < obs->code_length; j++) {
        if (obs->votes[j] == 0) {
            continue;
        }
        size_t k = d->count++;
        double p = (double)fp->thresholds[j] / DELIVERY__DRAWS; /* exact: P[bit = 1] */
        d->position[k] = j;
        d->symbol[k] = obs->votes[j] > 0;
        d->q[k] = d->symbol[k] ? p : 1 - p;
        d->log_q[k] = log(d->q[k]);
        d->log_not_q[k] = log1p(-d->q[k]);
        d->hit[k] = sqrt((1 - d->q[k]) / d->q[k]);
        d->miss[k] = -sqrt(d->q[k] / (1 - d->q[k]));
        d->term[j][d->symbol[k]] = d->hit[k];
        d->term[j][!d->symbol[k]] = d->miss[k];
    }
    return ERR_OK;
}

static double score(const struct decided *d, const uint8_t *code, uint32_t code_length)
{
    double s = 0;
    for (uint32_t j = 0; j < code_length; j++) {
        s += d->term[j][code[j]];
    }
    return s;
}

/* log E[e^{lambda S}] for an innocent, and its first two derivatives in lambda (the tilted
 * mean and variance). */
static double log_mgf(const struct decided *d, double lambda, double *slope, double *curvature)
{
    double sum = 0;
    double mean = 0;
    double var = 0;
    for (size_t k = 0; k < d->count; k++) {
        double a = d->log_q[k] + lambda * d->hit[k];
        double b = d->log_not_q[k] + lambda * d->miss[k];
        double top = a > b ? a : b;
        double lse = top + log1p(exp(-fabs(a - b)));
        double w = exp(a - lse); /* the tilted probability of a hit */
        double gap = d->hit[k] - d->miss[k];
        sum += lse;
        mean += d->miss[k] + w * gap;
        var += w * (1 - w) * gap * gap;
    }
    *slope = mean;
    *curvature = var;
    return sum;
}

/*
 * Natural log of a bound on P[an innocent's score >= z]: min over lambda >= 0 of
 * log_mgf(lambda) - lambda z, a convex function whose slope is increasing. Newton's method
 * kept inside a bracket [lo, hi] (slope < z at lo, >= z at hi), halving when a step leaves it.
 */
static double chernoff_log(const struct decided *d, double z)
{
    if (z <= 0 || d->count == 0) {
        return 0;
    }
    double top = 0;
    double all_hits = 0;
    for (size_t k = 0; k < d->count; k++) {
        top += d->hit[k];
        all_hits += d->log_q[k];
    }
    /* A miss costs hit - miss >= 2, so above top - 1 only the all-hit outcome remains. */
    if (z > top - 1) {
        return all_hits;
    }
    double lo = 0;
    double hi = LAMBDA_MAX;
    double lambda = 1;
    double best = 0;
    for (int i = 0; i < LAMBDA_STEPS; i++) {
        double slope;
        double curvature;
        double f = log_mgf(d, lambda, &slope, &curvature) - lambda * z;
        best = f < best ? f : best;
        if (fabs(slope - z) <= 1e-9 * z) {
            break;
        }
        if (slope < z) {
            lo = lambda;
        } else {
            hi = lambda;
        }
        double next = curvature > 0 ? lambda - (slope - z) / curvature : -1;
        if (!(next > lo && next < hi)) {
            next = hi < LAMBDA_MAX ? (lo + hi) / 2 : 2 * lambda;
        }
        if (next >= LAMBDA_MAX || hi - lo <= 1e-12 * hi) {
            break;
        }
        lambda = next;
    }
    return best;
}

struct ranked {
    double score;
    size_t candidate;
};

static int ranked_cmp(const void *a, const void *b)
{
    const struct ranked *x = a;
    const struct ranked *y = b;
    if (x->score != y->score) {
        return x->score < y->score ? 1 : -1;
    }
    return x->candidate < y->candidate ? -1 : x->candidate > y->candidate;
}

static void accusation_set(struct delivery_fp_accusation *a, const struct ranked *r,
                           const struct decided *d, double log_candidates)
{
    double ln = chernoff_log(d, r->score) + log_candidates;
    ln = ln < 0 ? ln : 0;
    a->candidate = r->candidate;
    a->score = r->score;
    a->false_accusation = exp(ln);
    a->log10_false_accusation = ln / M_LN10;
}

/* Accuses from the top down while the bound holds (it only grows as scores fall). */
static enum err accuse_ranked(const struct ranked *ranked, size_t count, const struct decided *d,
                              double bound, struct delivery_fp_verdict *out, struct errbuf *err)
{
    double log_candidates = log((double)count);
    for (size_t i = 0; i < count; i++) {
        struct delivery_fp_accusation a;
        accusation_set(&a, &ranked[i], d, log_candidates);
        if (i == 0) {
            out->best = a;
        }
        if (!(a.false_accusation <= bound && a.log10_false_accusation <= log10(bound))) {
            break;
        }
        if (out->accused == NULL) {
            out->accused = mem_calloc(count, sizeof(*out->accused));
            if (out->accused == NULL) {
                return err_set(err, ERR_NOMEM, "", "out of memory");
            }
        }
        out->accused[out->accused_count++] = a;
    }
    return ERR_OK;
}

enum err delivery_fp_accuse(const struct delivery_fp *fp, const struct delivery_fp_observation *obs,
                            const char *const *candidates, size_t count, double bound,
                            struct delivery_fp_verdict *out, struct errbuf *err)
{
    ASSERT(fp != NULL && obs != NULL && out != NULL);
    ASSERT(obs->code_length == fp->params.code_length);
    memset(out, 0, sizeof(*out));
    if (!(bound > 0 && bound < 1)) {
        return err_set(err, ERR_INVALID, "bound", "bound must lie strictly between 0 and 1");
    }
    struct decided d;
    enum err rc = decided_init(fp, obs, &d, err);
    if (rc != ERR_OK) {
        return rc;
    }
    out->positions_decided = (uint32_t)d.count;
    struct ranked *ranked = mem_calloc(count > 0 ? count : 1, sizeof(*ranked));
    uint8_t *code = mem_alloc(fp->params.code_length);
    if (ranked == NULL || code == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    }
    for (size_t i = 0; rc == ERR_OK && i < count; i++) {
        delivery__codeword(fp, candidates[i], code);
        ranked[i] = (struct ranked){score(&d, code, fp->params.code_length), i};
    }
    if (rc == ERR_OK && count > 0) {
        qsort(ranked, count, sizeof(*ranked), ranked_cmp);
        rc = accuse_ranked(ranked, count, &d, bound, out, err);
    }
    mem_free(ranked);
    mem_free(code);
    decided_release(&d);
    if (rc != ERR_OK) {
        delivery_fp_verdict_release(out);
    }
    return rc;
}

void delivery_fp_verdict_release(struct delivery_fp_verdict *v)
{
    if (v == NULL) {
        return;
    }
    mem_free(v->accused);
    v->accused = NULL;
    v->accused_count = 0;
}
