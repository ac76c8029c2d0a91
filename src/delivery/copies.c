/*
 * copies.c: fingerprinted delivery and traces, where custody meets fingerprinting. A provider
 * declares an object's tolerance (delivery_fp_declare); a buyer's first download makes the
 * contract's copy (delivery_copy_get): the object is decrypted whole in memory, the copy
 * embedded with the contract id (delivery_fp_embed), hashed and sealed as an object file of its
 * own, so every later download and every Range request serves the same bytes and the log's
 * delivery.downloaded carries their hash. A trace (delivery_trace) names contracts from a
 * suspect file: byte-exact copies by SHA-256 first (opaque files are recognised only this
 * way), then the fingerprint's accusation test, never above the caller's bound.
 *
 * Why in memory: the tabular reader works over one buffer (delivery.h), and a copy's file name
 * is its SHA-256 (content addressing), known only once the whole copy exists. Objects larger
 * than DELIVERY_FP_OBJECT_BYTES_MAX are refused at declaration, which bounds both buffers.
 */
#include "util/compat.h"
#include "delivery/delivery.h"
#include "delivery/delivery_int.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* ---- secrets, plaintext, schemes ---- */

static const char FP_PERSONAL[crypto_generichash_blake2b_PERSONALBYTES] = "bourse fp secret";

/* The object's fingerprint secret: never stored, derived again wherever it is needed. */
static void fp_secret(const struct delivery_custody *d, const char *object_id,
                      unsigned char out[DELIVERY_FP_SECRET_LEN])
{
    _Static_assert(sizeof(FP_PERSONAL) == 16, "BLAKE2b personal is 16 bytes");
    int rc = crypto_generichash_blake2b_salt_personal(
        out, DELIVERY_FP_SECRET_LEN, (const unsigned char *)object_id, strlen(object_id),
        d->wrap_key, sizeof(d->wrap_key), NULL, (const unsigned char *)FP_PERSONAL);
    ASSERT(rc == 0);
}

/* The whole plaintext of o in a fresh buffer (caller frees with mem_free). */
static enum err plain_load(const struct delivery_custody *d, const struct store_object *o,
                           char **out, struct errbuf *err)
{
    *out = NULL;
    if (o->size > DELIVERY_FP_OBJECT_BYTES_MAX) {
        return err_set(err, ERR_LIMIT, "size",
                       "object '%s' is %lld bytes; fingerprinting takes at most %lld", o->id,
                       (long long)o->size, (long long)DELIVERY_FP_OBJECT_BYTES_MAX);
    }
    char *buf = mem_alloc((size_t)o->size + 1);
    if (buf == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory reading object '%s'", o->id);
    }
    struct delivery_object_file *f = NULL;
    enum err rc = delivery_object_open(d, o, &f, err);
    if (rc == ERR_OK && o->size > 0) {
        rc = delivery_object_read(f, 0, buf, (size_t)o->size, err);
    }
    delivery_object_close(f);
    if (rc != ERR_OK) {
        mem_free(buf);
        return rc;
    }
    buf[o->size] = '\0';
    *out = buf;
    return ERR_OK;
}

/* The parsed declaration and scheme of a stored row; free both (scheme first). */
static enum err scheme_load(const struct delivery_custody *d, const struct store_fingerprint *f,
                            struct delivery_fp_decl **decl, struct delivery_fp **fp,
                            struct errbuf *err)
{
    *decl = NULL;
    *fp = NULL;
    json_error_t jerr;
    json_t *j = json_loads(f->declaration, 0, &jerr);
    if (j == NULL) {
        return err_set(err, ERR_CORRUPT, "", "the declaration of '%s' is not JSON", f->object_id);
    }
    enum err rc = delivery_fp_decl_parse(j, decl, err);
    json_decref(j);
    struct delivery_fp_params p = {(uint32_t)f->code_length, (uint32_t)f->mark_per_mille,
                                   strtod(f->cutoff, NULL)};
    unsigned char secret[DELIVERY_FP_SECRET_LEN];
    fp_secret(d, f->object_id, secret);
    if (rc == ERR_OK) {
        rc = delivery_fp_new(secret, &p, *decl, fp, err);
    }
    sodium_memzero(secret, sizeof(secret));
    if (rc != ERR_OK) {
        delivery_fp_decl_free(*decl);
        *decl = NULL;
    }
    return rc;
}

static void scheme_free(struct delivery_fp_decl *decl, struct delivery_fp *fp)
{
    delivery_fp_free(fp);
    delivery_fp_decl_free(decl);
}

static int tabular(const char *format, enum delivery_format *out)
{
    return delivery_format_parse(format, out, NULL) == ERR_OK;
}

/* ---- declarations ---- */

static enum err declare_check(struct delivery_custody *d, const struct delivery_actor *who,
                              const char *object_id, struct store_object *o, struct errbuf *err)
{
    if (who->role == DELIVERY_ROLE_OPERATOR) {
        return err_set(err, ERR_FORBIDDEN, "id", "the object's provider declares its tolerance");
    }
    enum err rc = delivery_object_get(d, who, object_id, o, err);
    enum delivery_format format;
    if (rc == ERR_OK && !tabular(o->format, &format)) {
        rc = err_set(err, ERR_INVALID, "format",
                     "object '%s' is %s, not tabular: only csv, tsv and jsonl carry fingerprints",
                     o->id, o->format);
    }
    struct store_buyer_copy *copies = NULL;
    size_t n = 0;
    if (rc == ERR_OK) {
        rc = store_buyer_copy_list_object(d->store, o->id, 1, &copies, &n, err);
    }
    mem_free(copies);
    if (rc == ERR_OK && n > 0) {
        rc = err_set(err, ERR_BAD_STATE, "object_id",
                     "a buyer has a copy of '%s' already: its tolerance is fixed", o->id);
    }
    return rc;
}

/* Counts the admissible cells of the object under decl: the declaration fits the file. */
static enum err declare_measure(struct delivery_custody *d, const struct store_object *o,
                                const struct delivery_fp_decl *decl, uint64_t *cells,
                                struct errbuf *err)
{
    enum delivery_format format = DELIVERY_FORMAT_CSV;
    ASSERT(tabular(o->format, &format));
    char *plain = NULL;
    enum err rc = plain_load(d, o, &plain, err);
    if (rc == ERR_OK) {
        rc = delivery_fp_count_admissible(decl, format, plain, (size_t)o->size, cells, err);
    }
    mem_free(plain);
    if (rc == ERR_OK && *cells == 0) {
        rc = err_set(err, ERR_INVALID, "columns",
                     "no value of the declared columns of '%s' can carry a mark", o->id);
    }
    return rc;
}

static enum err declare_record(struct delivery_custody *d, const struct delivery_actor *who,
                               const struct store_object *o, struct store_fingerprint *f,
                               struct errbuf *err)
{
    enum err rc = store_tx_begin(d->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *decl = json_loads(f->declaration, 0, NULL);
    json_t *body = decl == NULL
                       ? NULL
                       : json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:s, s:I}", "object_id", o->id,
                                   "product_id", o->product_id, "sha256", o->sha256, "declaration",
                                   decl, "code_length", (json_int_t)f->code_length,
                                   "mark_per_mille", (json_int_t)f->mark_per_mille, "cutoff",
                                   f->cutoff, "admissible_cells", (json_int_t)f->admissible_cells);
    rc = delivery__event(d, "object.fingerprint_declared", who->id, o->id, f->declared_ms, body,
                         &f->log_index, err);
    json_decref(body);
    if (rc == ERR_OK) {
        rc = store_fingerprint_put(d->store, f, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(d->store);
        return rc;
    }
    return store_tx_commit(d->store, err);
}

enum err delivery_fp_declare(struct delivery_custody *d, const struct delivery_actor *who,
                             const char *object_id, const json_t *decl,
                             struct store_fingerprint *out, struct errbuf *err)
{
    ASSERT(d != NULL && who != NULL && out != NULL);
    if (decl == NULL || !json_is_object(decl)) {
        return err_set(err, ERR_INVALID, "fingerprint", "the declaration must be a JSON object");
    }
    struct delivery_fp_decl *parsed = NULL;
    enum err rc = delivery_fp_decl_parse(decl, &parsed, err);
    struct store_object o;
    if (rc == ERR_OK) {
        rc = declare_check(d, who, object_id, &o, err);
    }
    uint64_t cells = 0;
    if (rc == ERR_OK) {
        rc = declare_measure(d, &o, parsed, &cells, err);
    }
    delivery_fp_decl_free(parsed);
    char *text = rc == ERR_OK ? json_dumps(decl, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (rc == ERR_OK && text == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK && strlen(text) >= sizeof(out->declaration)) {
        rc = err_set(err, ERR_LIMIT, "fingerprint", "the declaration is over %zu bytes",
                     sizeof(out->declaration) - 1);
    }
    if (rc != ERR_OK) {
        mem_free(text);
        return rc;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->object_id, sizeof(out->object_id), "%s", o.id);
    snprintf(out->declaration, sizeof(out->declaration), "%s", text);
    mem_free(text);
    struct delivery_fp_params p;
    delivery_fp_params_default(&p, cells);
    out->code_length = p.code_length;
    out->mark_per_mille = p.mark_per_mille;
    snprintf(out->cutoff, sizeof(out->cutoff), "%.17g", p.cutoff);
    out->admissible_cells = (int64_t)cells;
    snprintf(out->actor, sizeof(out->actor), "%s", who->id);
    out->declared_ms = clock_now(d->clock);
    return declare_record(d, who, &o, out, err);
}

/* ---- buyer copies ---- */

/* An object record for a copy row: what delivery_object_open and answers need. */
static void copy_object(const struct store_object *src, const struct store_buyer_copy *c,
                        struct store_object *out)
{
    *out = *src;
    snprintf(out->id, sizeof(out->id), "%s", c->id);
    snprintf(out->sha256, sizeof(out->sha256), "%s", c->sha256);
    snprintf(out->format, sizeof(out->format), "%s", c->format);
    snprintf(out->blob, sizeof(out->blob), "%s", c->blob);
    snprintf(out->wrapped_key, sizeof(out->wrapped_key), "%s", c->wrapped_key);
    out->size = c->size;
    out->created_ms = c->created_ms;
    out->log_index = c->log_index;
}

/* Seals the copy's bytes as an object file named by their hash; c->blob and key are set. */
static enum err copy_seal(struct delivery_custody *d, const char *data, size_t len,
                          struct store_buyer_copy *c, unsigned char key[32], struct errbuf *err)
{
    unsigned char sha[32];
    struct delivery__sha256 h;
    enum err rc = delivery__sha256_init(&h, err);
    if (rc != ERR_OK) {
        return rc;
    }
    delivery__sha256_update(&h, data, len);
    delivery__sha256_final(&h, sha);
    sodium_bin2hex(c->sha256, sizeof(c->sha256), sha, sizeof(sha));
    delivery__blob_name(d, sha, c->blob);
    /* The same bytes stored as an object already (content addressing): share its file. */
    struct store_object same;
    rc = store_object_find_blob(d->store, c->blob, &same, err);
    if (rc == ERR_OK) {
        return delivery__key_unwrap(d, same.id, same.wrapped_key, key, err);
    }
    if (rc != ERR_NOT_FOUND) {
        return rc;
    }
    rng_fill(d->rng, key, 32);
    struct delivery__writer *w = NULL;
    rc = delivery__writer_open(d, c->blob, (int64_t)len, key, &w, err);
    if (rc == ERR_OK) {
        rc = delivery__writer_feed(w, data, len, err);
        if (rc == ERR_OK) {
            rc = delivery__writer_finish(w, err);
        } else {
            delivery__writer_abort(w);
        }
    }
    return rc;
}

static enum err write_buf(void *ctx, const char *data, size_t len, struct errbuf *err)
{
    enum err rc = buf_append(ctx, data, len);
    return rc == ERR_OK ? ERR_OK : err_set(err, rc, "", "cannot hold the buyer's copy");
}

/* The fingerprinted copy's file: decrypt, embed for the contract, seal. */
static enum err copy_embed(struct delivery_custody *d, const struct store_object *src,
                           const struct store_fingerprint *f, struct store_buyer_copy *c,
                           unsigned char key[32], struct delivery_fp_stats *stats,
                           struct errbuf *err)
{
    enum delivery_format format = DELIVERY_FORMAT_CSV;
    ASSERT(tabular(src->format, &format));
    struct delivery_fp_decl *decl = NULL;
    struct delivery_fp *fp = NULL;
    char *plain = NULL;
    enum err rc = scheme_load(d, f, &decl, &fp, err);
    if (rc == ERR_OK) {
        rc = plain_load(d, src, &plain, err);
    }
    struct buf out;
    /* A copy moves digits and spellings within the declared tolerance: a spelling may grow
     * by at most DELIVERY_FP_VARIANT_BYTES_MAX per cell, and at most one cell per column. */
    buf_init(&out, (size_t)src->size * 2 + 4096);
    if (rc == ERR_OK) {
        rc = delivery_fp_embed(fp, c->contract_id, format, plain, (size_t)src->size, write_buf,
                               &out, stats, err);
    }
    mem_free(plain);
    scheme_free(decl, fp);
    if (rc == ERR_OK) {
        c->size = (int64_t)out.len;
        rc = copy_seal(d, out.data != NULL ? out.data : "", out.len, c, key, err);
    }
    buf_release(&out);
    return rc;
}

static enum err copy_record(struct delivery_custody *d, const struct store_download_token *tok,
                            struct store_buyer_copy *c, const struct delivery_fp_stats *stats,
                            struct errbuf *err)
{
    enum err rc = store_tx_begin(d->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *body = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:I, s:I}", "copy_id", c->id, "contract_id",
        c->contract_id, "buyer_id", c->buyer_id, "object_id", c->object_id, "sha256", c->sha256,
        "size", (json_int_t)c->size, "fingerprinted", (int)c->fingerprinted, "rows",
        (json_int_t)stats->rows, "cells_changed", (json_int_t)stats->cells_changed);
    rc = delivery__event(d, "delivery.copy_made", tok->buyer_id, c->contract_id, c->created_ms,
                         body, &c->log_index, err);
    json_decref(body);
    if (rc == ERR_OK) {
        rc = store_buyer_copy_insert(d->store, c, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(d->store);
        return rc;
    }
    return store_tx_commit(d->store, err);
}

/* Makes and records the contract's copy of src. */
static enum err copy_make(struct delivery_custody *d, const struct store_download_token *tok,
                          const struct store_object *src, struct store_buyer_copy *c,
                          struct errbuf *err)
{
    memset(c, 0, sizeof(*c));
    id_new(d->rng, "cpy", c->id);
    snprintf(c->contract_id, sizeof(c->contract_id), "%s", tok->contract_id);
    snprintf(c->object_id, sizeof(c->object_id), "%s", src->id);
    snprintf(c->buyer_id, sizeof(c->buyer_id), "%s", tok->buyer_id);
    snprintf(c->format, sizeof(c->format), "%s", src->format);
    c->created_ms = clock_now(d->clock);
    struct store_fingerprint *f = mem_alloc(sizeof(*f));
    if (f == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum delivery_format format;
    enum err rc = tabular(src->format, &format) ? store_fingerprint_get(d->store, src->id, f, err)
                                                : ERR_NOT_FOUND;
    unsigned char key[32];
    struct delivery_fp_stats stats;
    memset(&stats, 0, sizeof(stats));
    if (rc == ERR_OK) {
        c->fingerprinted = 1;
        rc = copy_embed(d, src, f, c, key, &stats, err);
    } else if (rc == ERR_NOT_FOUND) {
        /* Served as is: the object's file under its key, wrapped again for the copy. */
        snprintf(c->sha256, sizeof(c->sha256), "%s", src->sha256);
        snprintf(c->blob, sizeof(c->blob), "%s", src->blob);
        c->size = src->size;
        rc = delivery__key_unwrap(d, src->id, src->wrapped_key, key, err);
    }
    mem_free(f);
    if (rc == ERR_OK) {
        delivery__key_wrap(d, c->id, key, c->wrapped_key);
        rc = copy_record(d, tok, c, &stats, err);
    }
    sodium_memzero(key, sizeof(key));
    return rc;
}

enum err delivery_copy_get(struct delivery_custody *d, const struct store_download_token *tok,
                           const struct store_object *src, struct store_object *copy, int *made,
                           struct errbuf *err)
{
    ASSERT(d != NULL && tok != NULL && src != NULL && copy != NULL && made != NULL);
    ASSERT(strcmp(tok->object_id, src->id) == 0);
    *made = 0;
    struct store_buyer_copy c;
    enum err rc = store_buyer_copy_get(d->store, tok->contract_id, src->id, &c, err);
    if (rc == ERR_NOT_FOUND) {
        rc = copy_make(d, tok, src, &c, err);
        *made = rc == ERR_OK;
        if (rc == ERR_CONFLICT) {
            /* Another node made it meanwhile: serve that one. */
            rc = store_buyer_copy_get(d->store, tok->contract_id, src->id, &c, err);
        }
    }
    if (rc == ERR_OK) {
        copy_object(src, &c, copy);
    }
    return rc;
}

/* ---- traces ---- */

void delivery_trace_result_release(struct delivery_trace_result *r)
{
    if (r == NULL) {
        return;
    }
    mem_free(r->named);
    mem_free(r->originals);
    r->named = NULL;
    r->originals = NULL;
    r->named_count = 0;
    r->original_count = 0;
}

static enum err named_add(struct delivery_trace_result *r, const struct store_buyer_copy *c,
                          int exact, const struct delivery_fp_accusation *a, struct errbuf *err)
{
    void *p = mem_realloc(r->named, (r->named_count + 1) * sizeof(*r->named));
    if (p == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    r->named = p;
    struct delivery_trace_named *n = &r->named[r->named_count++];
    memset(n, 0, sizeof(*n));
    snprintf(n->contract_id, sizeof(n->contract_id), "%s", c->contract_id);
    snprintf(n->buyer_id, sizeof(n->buyer_id), "%s", c->buyer_id);
    snprintf(n->object_id, sizeof(n->object_id), "%s", c->object_id);
    snprintf(n->copy_id, sizeof(n->copy_id), "%s", c->id);
    n->exact = exact;
    if (a != NULL) {
        n->score = a->score;
        n->false_accusation = a->false_accusation;
        n->log10_false_accusation = a->log10_false_accusation;
    } else {
        n->log10_false_accusation = -INFINITY;
    }
    return ERR_OK;
}

/* (a) Buyers' copies and objects whose bytes are the file's. */
static enum err trace_exact(struct delivery_custody *d, struct delivery_trace_result *r,
                            struct errbuf *err)
{
    struct store_buyer_copy *copies = NULL;
    size_t n = 0;
    enum err rc =
        store_buyer_copy_find_sha(d->store, r->sha256, DELIVERY_TRACE_EXACT_MAX, &copies, &n, err);
    for (size_t i = 0; rc == ERR_OK && i < n; i++) {
        rc = named_add(r, &copies[i], 1, NULL, err);
    }
    mem_free(copies);
    if (rc == ERR_OK) {
        rc = store_object_ids_by_sha(d->store, r->sha256, DELIVERY_TRACE_EXACT_MAX, &r->originals,
                                     &r->original_count, err);
    }
    return rc;
}

/* 1 when the header of the suspect has every column the declaration names. */
static int header_fits(const struct delivery_reader *rd, const char *declaration)
{
    json_t *j = json_loads(declaration, 0, NULL);
    int fits = j != NULL;
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(j, "key"), i, v)
    {
        const char *s = json_string_value(v);
        fits = fits && s != NULL && delivery_reader_column(rd, s, strlen(s)) >= 0;
    }
    json_array_foreach(json_object_get(j, "columns"), i, v)
    {
        const char *s = json_string_value(json_object_get(v, "name"));
        fits = fits && s != NULL && delivery_reader_column(rd, s, strlen(s)) >= 0;
    }
    json_decref(j);
    return fits;
}

/* The contracts holding a fingerprinted copy of the object, as candidates. */
static enum err candidates_of(struct delivery_custody *d, const char *object_id,
                              struct store_buyer_copy **copies, const char ***ids, size_t *n,
                              struct errbuf *err)
{
    size_t all = 0;
    *ids = NULL;
    *n = 0;
    enum err rc = store_buyer_copy_list_object(d->store, object_id, DELIVERY_TRACE_COPIES_MAX,
                                               copies, &all, err);
    if (rc != ERR_OK || all == 0) {
        return rc;
    }
    *ids = mem_alloc(all * sizeof(**ids));
    if (*ids == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    /* Keep fingerprinted copies only, compacting in place so ids[i] is copies[i]'s. */
    for (size_t i = 0; i < all; i++) {
        if ((*copies)[i].fingerprinted) {
            (*copies)[*n] = (*copies)[i];
            (*ids)[*n] = (*copies)[*n].contract_id;
            (*n)++;
        }
    }
    return ERR_OK;
}

/* (b) One declared object's marks in the file, against its copies' contracts. */
static enum err trace_object(struct delivery_custody *d, const struct store_fingerprint *f,
                             enum delivery_format format, const void *data, size_t len,
                             struct delivery_trace_result *r, struct errbuf *err)
{
    struct store_buyer_copy *copies = NULL;
    const char **ids = NULL;
    size_t n = 0;
    enum err rc = candidates_of(d, f->object_id, &copies, &ids, &n, err);
    struct delivery_fp_decl *decl = NULL;
    struct delivery_fp *fp = NULL;
    if (rc == ERR_OK && n > 0) {
        rc = scheme_load(d, f, &decl, &fp, err);
    }
    struct delivery_fp_observation *obs = NULL;
    struct delivery_fp_verdict v;
    memset(&v, 0, sizeof(v));
    if (rc == ERR_OK && n > 0) {
        struct errbuf why;
        errbuf_init(&why);
        /* A file this declaration cannot read carries none of its marks: not an error. */
        enum err orc = delivery_fp_observe(fp, format, data, len, &obs, &why);
        if (orc == ERR_NOMEM) {
            rc = err_set(err, orc, "", "%s", why.msg);
        } else if (orc != ERR_OK) {
            snprintf(r->reason, sizeof(r->reason),
                     "the file does not read as '%s' declares: %.160s", f->object_id, why.msg);
        }
    }
    if (rc == ERR_OK && obs != NULL) {
        r->objects_examined++;
        rc = delivery_fp_accuse(fp, obs, ids, n, r->bound, &v, err);
    }
    for (size_t i = 0; rc == ERR_OK && i < v.accused_count; i++) {
        rc = named_add(r, &copies[v.accused[i].candidate], 0, &v.accused[i], err);
    }
    delivery_fp_verdict_release(&v);
    delivery_fp_observation_free(obs);
    scheme_free(decl, fp);
    mem_free(ids);
    mem_free(copies);
    return rc;
}

/* The declarations to read the file against: the one asked for, or those it fits. */
static enum err trace_declared(struct delivery_custody *d, const void *data, size_t len,
                               struct delivery_trace_result *r, struct errbuf *err)
{
    struct store_fingerprint *fs = NULL;
    size_t n = 0;
    enum err rc = ERR_OK;
    if (r->object_id[0] != '\0') {
        fs = mem_alloc(sizeof(*fs));
        rc = fs == NULL ? err_set(err, ERR_NOMEM, "", "out of memory")
                        : store_fingerprint_get(d->store, r->object_id, fs, err);
        n = rc == ERR_OK ? 1 : 0;
        if (rc == ERR_NOT_FOUND) {
            rc = err_set(err, ERR_INVALID, "object_id",
                         "object '%s' has no fingerprint declaration", r->object_id);
        }
    } else {
        rc = store_fingerprint_list(d->store, DELIVERY_TRACE_OBJECTS_MAX, &fs, &n, err);
    }
    enum delivery_format format = delivery_format_sniff(data, len);
    struct delivery_reader rd;
    memset(&rd, 0, sizeof(rd));
    struct errbuf why;
    errbuf_init(&why);
    int readable = rc == ERR_OK && delivery_reader_open(&rd, format, data, len, &why) == ERR_OK;
    if (rc == ERR_OK && !readable) {
        snprintf(r->reason, sizeof(r->reason), "the file is not tabular data: %.180s", why.msg);
    }
    for (size_t i = 0; rc == ERR_OK && readable && i < n; i++) {
        if (r->object_id[0] == '\0' && !header_fits(&rd, fs[i].declaration)) {
            continue;
        }
        rc = trace_object(d, &fs[i], format, data, len, r, err);
    }
    if (readable) {
        delivery_reader_release(&rd);
    }
    mem_free(fs);
    return rc;
}

static json_t *trace_body(const struct delivery_trace_result *r)
{
    json_t *named = json_array();
    for (size_t i = 0; named != NULL && i < r->named_count; i++) {
        const struct delivery_trace_named *n = &r->named[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:f}", "contract_id", n->contract_id,
                              "buyer_id", n->buyer_id, "object_id", n->object_id, "exact", n->exact,
                              "false_accusation", n->false_accusation);
        if (o == NULL || json_array_append_new(named, o) != 0) {
            json_decref(named);
            named = NULL;
        }
    }
    json_t *originals = json_array();
    for (size_t i = 0; originals != NULL && i < r->original_count; i++) {
        if (json_array_append_new(originals, json_string(r->originals[i])) != 0) {
            json_decref(originals);
            originals = NULL;
        }
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:f, s:o*, s:o*, s:I}", "trace_id", r->id, "sha256",
                     r->sha256, "requester_id", r->requester_id, "object_id",
                     r->object_id[0] != '\0' ? json_string(r->object_id) : json_null(), "bound",
                     r->bound, "named", named, "originals", originals, "objects_examined",
                     (json_int_t)r->objects_examined);
}

static enum err trace_record(struct delivery_custody *d, struct delivery_trace_result *r,
                             struct errbuf *err)
{
    enum err rc = store_tx_begin(d->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *body = trace_body(r);
    rc = delivery__event(d, "trace.performed", r->requester_id, r->id, r->created_ms, body,
                         &r->log_index, err);
    json_decref(body);
    if (rc != ERR_OK) {
        store_tx_rollback(d->store);
        return rc;
    }
    return store_tx_commit(d->store, err);
}

enum err delivery_trace(struct delivery_custody *d, const char *requester_id, const void *data,
                        size_t len, const char *object_id, double bound,
                        struct delivery_trace_result *out, struct errbuf *err)
{
    ASSERT(d != NULL && requester_id != NULL && out != NULL);
    ASSERT(data != NULL || len == 0);
    memset(out, 0, sizeof(*out));
    if (!(bound > 0 && bound < 1)) {
        return err_set(err, ERR_INVALID, "bound", "the false-accusation bound must be in (0, 1)");
    }
    if (object_id != NULL && !id_valid(object_id, "obj")) {
        return err_set(err, ERR_INVALID, "object_id", "'%s' is not an object id", object_id);
    }
    out->bound = bound;
    snprintf(out->requester_id, sizeof(out->requester_id), "%s", requester_id);
    snprintf(out->object_id, sizeof(out->object_id), "%s", object_id != NULL ? object_id : "");
    enum err rc = delivery__sha256_hex(len > 0 ? data : "", len, out->sha256, err);
    if (rc == ERR_OK) {
        rc = trace_exact(d, out, err);
    }
    if (rc == ERR_OK && out->named_count == 0) {
        rc = trace_declared(d, data, len, out, err);
    }
    if (rc == ERR_OK && out->named_count == 0 && out->reason[0] == '\0') {
        snprintf(out->reason, sizeof(out->reason),
                 out->objects_examined == 0
                     ? "no buyer's copy has these bytes and no declared object's columns fit"
                     : "no contract's fingerprint is in the file within the bound");
    }
    if (rc == ERR_OK) {
        id_new(d->rng, "trc", out->id);
        out->created_ms = clock_now(d->clock);
        rc = trace_record(d, out, err);
    }
    if (rc != ERR_OK) {
        delivery_trace_result_release(out);
    }
    return rc;
}
