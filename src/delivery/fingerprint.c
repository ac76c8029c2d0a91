/*
 * fingerprint.c: the keyed scheme and the embedding of a buyer's copy.
 *
 * From the dataset's secret four keys are derived (BLAKE2b keyed by the secret, one label
 * each): a SipHash key over each row's key values (the row's identity), a SipHash key that
 * decides for each (row, marked column) whether the cell carries a mark and which codeword
 * position it carries with which mask bit (Agrawal-Kiernan's keyed selection), a ChaCha20 key
 * for the Tardos biases, and a BLAKE2b key from which each contract's ChaCha20 stream - and so
 * its codeword - follows. Nothing per buyer is stored, and without the secret the marked cells
 * cannot be told from the others.
 *
 * Embedding streams the input through: the bytes between changed cells are copied as they are,
 * so a copy differs from the original only in the cells whose bit had to change (about half of
 * the selected ones), each within its declared tolerance.
 */
#include "util/compat.h"
#include "delivery/delivery.h"
#include "delivery/fingerprint_int.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

#include "util/banned.h"

_Static_assert(crypto_shorthash_KEYBYTES == 16, "SipHash keys are 16 bytes");
_Static_assert(crypto_shorthash_BYTES == 8, "SipHash outputs 64 bits");
_Static_assert(crypto_stream_chacha20_KEYBYTES == 32, "ChaCha20 keys are 32 bytes");
_Static_assert(DELIVERY_FP_CODE_LENGTH_MAX <= (1 << 16) * 1024, "positions fit the PRF bits");

/* A row key's encoded values, at most (the values with a length each). */
#define KEY_BYTES_MAX ((size_t)1 << 20)
/* A decoded or rewritten value, at most. */
#define VALUE_BYTES_MAX ((size_t)1 << 31)

void delivery_fp_params_default(struct delivery_fp_params *p, uint64_t admissible_cells)
{
    p->mark_per_mille = 500;
    p->cutoff = 1.0 / 300.0;
    uint64_t per_position = admissible_cells * p->mark_per_mille / 1000 / 16;
    uint32_t length = 256;
    while (length < 8192 && (uint64_t)length * 2 <= per_position) {
        length *= 2;
    }
    p->code_length = length;
}

enum err delivery_fp_params_check(const struct delivery_fp_params *p, struct errbuf *err)
{
    if (p->code_length < DELIVERY_FP_CODE_LENGTH_MIN ||
        p->code_length > DELIVERY_FP_CODE_LENGTH_MAX) {
        return err_set(err, ERR_INVALID, "code_length", "code_length must be %d to %d",
                       DELIVERY_FP_CODE_LENGTH_MIN, DELIVERY_FP_CODE_LENGTH_MAX);
    }
    if (p->mark_per_mille < 1 || p->mark_per_mille > 1000) {
        return err_set(err, ERR_INVALID, "mark_per_mille", "mark_per_mille must be 1 to 1000");
    }
    if (!(p->cutoff > 0 && p->cutoff < 0.5)) {
        return err_set(err, ERR_INVALID, "cutoff", "cutoff must lie strictly between 0 and 0.5");
    }
    return ERR_OK;
}

static void derive(const unsigned char secret[DELIVERY_FP_SECRET_LEN], const char *label,
                   unsigned char *out, size_t len)
{
    int rc = crypto_generichash(out, len, (const unsigned char *)label, strlen(label), secret,
                                DELIVERY_FP_SECRET_LEN);
    ASSERT(rc == 0);
}

/* Fills n bytes of the ChaCha20 stream of key, starting at byte 64 * block. */
static void stream_at(const unsigned char key[32], uint64_t block, unsigned char *out, size_t n)
{
    static const unsigned char nonce[crypto_stream_chacha20_NONCEBYTES];
    memset(out, 0, n);
    int rc = crypto_stream_chacha20_xor_ic(out, out, n, nonce, block, key);
    ASSERT(rc == 0);
}

static uint64_t load64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

/*
 * The Tardos biases: p_j = sin^2(r_j), r_j uniform on [t', pi/2 - t'] with sin^2(t') = cutoff,
 * which is the arcsine density cut to [cutoff, 1 - cutoff]. Stored as the 16-bit threshold a
 * codeword's uniform 16-bit draw is compared with, so that P[bit = 1] is exactly
 * threshold / 2^16 and the accusation bound uses that exact value. (16 bits quantise p by at
 * most 2^-16, far below the cutoff, and halve the stream each candidate's codeword costs.)
 */
static void biases(struct delivery_fp *fp, const unsigned char secret[DELIVERY_FP_SECRET_LEN])
{
    unsigned char key[32];
    derive(secret, "bourse fingerprint v1 biases", key, sizeof(key));
    const double t = asin(sqrt(fp->params.cutoff));
    const double span = M_PI / 2 - 2 * t;
    unsigned char chunk[512];
    for (uint32_t j = 0; j < fp->params.code_length; j++) {
        size_t at = (size_t)(j % 64) * 8;
        if (at == 0) {
            stream_at(key, (uint64_t)j / 64 * (sizeof(chunk) / 64), chunk, sizeof(chunk));
        }
        double u = (double)(load64(chunk + at) >> 11) * 0x1p-53;
        double s = sin(t + span * u);
        double thr = floor(s * s * DELIVERY__DRAWS);
        fp->thresholds[j] = thr < 1                     ? 1
                            : thr > DELIVERY__DRAWS - 1 ? DELIVERY__DRAWS - 1
                                                        : (uint32_t)thr;
    }
    sodium_memzero(key, sizeof(key));
}

enum err delivery_fp_new(const unsigned char secret[DELIVERY_FP_SECRET_LEN],
                         const struct delivery_fp_params *params,
                         const struct delivery_fp_decl *decl, struct delivery_fp **out,
                         struct errbuf *err)
{
    ASSERT(secret != NULL && decl != NULL);
    *out = NULL;
    enum err rc = delivery_fp_params_check(params, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct delivery_fp *fp = mem_calloc(1, sizeof(*fp));
    if (fp == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    fp->thresholds = mem_calloc(params->code_length, sizeof(*fp->thresholds));
    if (fp->thresholds == NULL) {
        mem_free(fp);
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    fp->params = *params;
    fp->decl = decl;
    derive(secret, "bourse fingerprint v1 rows", fp->row_key, sizeof(fp->row_key));
    derive(secret, "bourse fingerprint v1 cells", fp->cell_key, sizeof(fp->cell_key));
    derive(secret, "bourse fingerprint v1 codes", fp->code_key, sizeof(fp->code_key));
    biases(fp, secret);
    *out = fp;
    return ERR_OK;
}

void delivery_fp_free(struct delivery_fp *fp)
{
    if (fp == NULL) {
        return;
    }
    mem_free(fp->thresholds);
    sodium_memzero(fp, sizeof(*fp));
    mem_free(fp);
}

void delivery__codeword(const struct delivery_fp *fp, const char *contract_id, uint8_t *bits)
{
    unsigned char key[32];
    int rc = crypto_generichash(key, sizeof(key), (const unsigned char *)contract_id,
                                strlen(contract_id), fp->code_key, sizeof(fp->code_key));
    ASSERT(rc == 0);
    unsigned char chunk[1024];
    for (uint32_t j = 0; j < fp->params.code_length; j++) {
        size_t at = (size_t)(j % 512) * 2;
        if (at == 0) {
            stream_at(key, (uint64_t)j / 512 * (sizeof(chunk) / 64), chunk, sizeof(chunk));
        }
        bits[j] = (uint32_t)(chunk[at] | chunk[at + 1] << 8) < fp->thresholds[j];
    }
    sodium_memzero(key, sizeof(key));
}

static enum err append_u32(struct buf *b, uint32_t v, struct errbuf *err)
{
    unsigned char le[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24)};
    enum err rc = buf_append(b, le, sizeof(le));
    return rc == ERR_OK ? ERR_OK : err_set(err, rc, "key", "a row key is too long");
}

enum err delivery__row_hash(const struct delivery_fp *fp, const struct delivery__layout *layout,
                            const struct delivery_reader *r, struct buf *keybuf, uint64_t *hash,
                            struct errbuf *err)
{
    buf_reset(keybuf);
    for (size_t k = 0; k < layout->key_count; k++) {
        const struct delivery_field *f = &r->fields[layout->key_cols[k]];
        size_t at = keybuf->len;
        enum err rc = append_u32(keybuf, 0, err); /* the value's length, filled in below */
        if (rc != ERR_OK) {
            return rc;
        }
        rc = delivery_field_value_append(f, keybuf, err);
        if (rc != ERR_OK) {
            return rc;
        }
        uint32_t n = (uint32_t)(keybuf->len - at - 4);
        unsigned char le[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                               (unsigned char)(n >> 24)};
        memcpy(keybuf->data + at, le, 4);
    }
    unsigned char out[8];
    crypto_shorthash(out, (const unsigned char *)keybuf->data, keybuf->len, fp->row_key);
    *hash = load64(out);
    return ERR_OK;
}

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3)                                                                  \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = ROTL64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = ROTL64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = ROTL64(v2, 32);                                                                       \
    } while (0)

/*
 * SipHash-2-4 of the 9 bytes row_hash (little-endian) || m, the same function as libsodium's
 * crypto_shorthash over those bytes (the unit test checks it), written out for this one input
 * length because it runs for every admissible cell and the generic call costs half as much
 * again. m < DELIVERY_FP_MARKED_MAX fits the one byte.
 */
uint64_t delivery__cell_prf(const struct delivery_fp *fp, uint64_t row_hash, size_t m)
{
    ASSERT(m < 256);
    const uint64_t k0 = load64(fp->cell_key);
    const uint64_t k1 = load64(fp->cell_key + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575u;
    uint64_t v1 = k1 ^ 0x646f72616e646f6du;
    uint64_t v2 = k0 ^ 0x6c7967656e657261u;
    uint64_t v3 = k1 ^ 0x7465646279746573u;
    const uint64_t last = (uint64_t)9 << 56 | (uint64_t)m; /* length byte, then the tail */
    v3 ^= row_hash;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= row_hash;
    v3 ^= last;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

/* PRF bits: 0-15 selection, 16-47 position, 48 mask, 49 direction. */
int delivery__cell_pick(const struct delivery_fp *fp, uint64_t prf, uint32_t *position, int *mask,
                        int *up)
{
    if ((prf & 0xffff) * 1000 >= (uint64_t)fp->params.mark_per_mille << 16) {
        return 0;
    }
    *position = (uint32_t)((prf >> 16) & 0xffffffffu) % fp->params.code_length;
    *mask = (int)((prf >> 48) & 1);
    *up = (int)((prf >> 49) & 1);
    return 1;
}

/* ---- embedding ---- */

struct splice {
    size_t start; /* offsets in the input */
    size_t end;
    size_t repl; /* offset and length in the embedder's replacement buffer */
    size_t repl_len;
};

struct embedder {
    const struct delivery_fp *fp;
    struct delivery_reader reader;
    struct delivery__layout layout;
    uint8_t *code;
    struct buf keybuf;
    struct buf scratch;
    struct buf value; /* a rewritten value */
    struct buf repl;  /* this row's encoded replacements */
    struct splice splices[DELIVERY_FP_MARKED_MAX];
    size_t splice_count;
    size_t copied; /* input bytes up to here are written */
    struct delivery__out out;
    struct delivery_fp_stats stats;
};

/* Encodes a rewritten value the way the original field was written. */
static enum err encode_like(struct embedder *e, const struct delivery_field *f, const char *value,
                            size_t len, struct errbuf *err)
{
    char sep = e->reader.format == DELIVERY_FORMAT_TSV ? '\t' : ',';
    switch (f->kind) {
    case DELIVERY_FIELD_JSON_STRING:
    case DELIVERY_FIELD_JSON_ESCAPED:
        return delivery__json_string_encode(&e->repl, value, len, err);
    case DELIVERY_FIELD_QUOTED:
    case DELIVERY_FIELD_QUOTED_ESCAPED:
        return delivery__csv_field_encode(&e->repl, sep, value, len, 1, err);
    case DELIVERY_FIELD_PLAIN:
        return delivery__csv_field_encode(&e->repl, sep, value, len, 0, err);
    case DELIVERY_FIELD_JSON_LITERAL: {
        enum err rc = buf_append(&e->repl, value, len);
        return rc == ERR_OK ? ERR_OK : err_set(err, rc, "", "out of memory");
    }
    case DELIVERY_FIELD_ABSENT:
    case DELIVERY_FIELD_JSON_NULL:
    case DELIVERY_FIELD_JSON_NESTED:
        break;
    }
    ASSERT(0 && "not markable");
    return ERR_INVALID;
}

static enum err embed_cell(struct embedder *e, size_t m, uint64_t row_hash, struct errbuf *err)
{
    const struct delivery__marked *mk = &e->fp->decl->marked[m];
    int col = e->layout.marked_cols[m];
    const struct delivery_field *f = col >= 0 ? &e->reader.fields[col] : NULL;
    if (f == NULL || !delivery__field_markable(mk, f)) {
        return ERR_OK;
    }
    const char *value;
    size_t len;
    enum err rc = delivery_field_value(f, &e->scratch, &value, &len, err);
    if (rc != ERR_OK) {
        return rc;
    }
    size_t at;
    size_t width;
    int variant;
    if (delivery__mark_get(mk, value, len, &at, &width, &variant) < 0) {
        return ERR_OK;
    }
    e->stats.cells_admissible++;
    uint32_t position;
    int mask;
    int up;
    if (!delivery__cell_pick(e->fp, delivery__cell_prf(e->fp, row_hash, m), &position, &mask,
                             &up)) {
        return ERR_OK;
    }
    e->stats.cells_selected++;
    int changed = 0;
    buf_reset(&e->value);
    rc = delivery__mark_set(mk, value, len, e->code[position] ^ mask, up, &e->value, &changed, err);
    if (rc != ERR_OK || !changed) {
        return rc;
    }
    size_t repl = e->repl.len;
    rc = encode_like(e, f, e->value.data, e->value.len, err);
    if (rc != ERR_OK) {
        return rc;
    }
    ASSERT(e->splice_count < DELIVERY_FP_MARKED_MAX);
    size_t start = (size_t)(f->raw - e->reader.data);
    e->splices[e->splice_count++] =
        (struct splice){start, start + f->raw_len, repl, e->repl.len - repl};
    e->stats.cells_changed++;
    return ERR_OK;
}

/* Writes the input up to each changed cell, then the cell's new text, in input order. */
static enum err emit_splices(struct embedder *e, struct errbuf *err)
{
    for (size_t i = 1; i < e->splice_count; i++) {
        struct splice s = e->splices[i];
        size_t j = i;
        for (; j > 0 && e->splices[j - 1].start > s.start; j--) {
            e->splices[j] = e->splices[j - 1];
        }
        e->splices[j] = s;
    }
    for (size_t i = 0; i < e->splice_count; i++) {
        const struct splice *s = &e->splices[i];
        ASSERT(s->start >= e->copied);
        enum err rc =
            delivery__out_put(&e->out, e->reader.data + e->copied, s->start - e->copied, err);
        if (rc == ERR_OK) {
            rc = delivery__out_put(&e->out, e->repl.data + s->repl, s->repl_len, err);
        }
        if (rc != ERR_OK) {
            return rc;
        }
        e->copied = s->end;
    }
    return ERR_OK;
}

static enum err embed_rows(struct embedder *e, struct errbuf *err)
{
    int has_row = 1;
    for (;;) {
        enum err rc = delivery_reader_next(&e->reader, &has_row, err);
        if (rc != ERR_OK || !has_row) {
            return rc;
        }
        e->stats.rows++;
        uint64_t row_hash;
        rc = delivery__row_hash(e->fp, &e->layout, &e->reader, &e->keybuf, &row_hash, err);
        e->splice_count = 0;
        buf_reset(&e->repl);
        for (size_t m = 0; rc == ERR_OK && m < e->fp->decl->marked_count; m++) {
            rc = embed_cell(e, m, row_hash, err);
        }
        if (rc == ERR_OK && e->splice_count > 0) {
            rc = emit_splices(e, err);
        }
        if (rc != ERR_OK) {
            return rc;
        }
    }
}

static void embedder_release(struct embedder *e)
{
    delivery_reader_release(&e->reader);
    delivery__out_release(&e->out);
    buf_release(&e->keybuf);
    buf_release(&e->scratch);
    buf_release(&e->value);
    buf_release(&e->repl);
    mem_free(e->code);
}

enum err delivery_fp_embed(const struct delivery_fp *fp, const char *contract_id,
                           enum delivery_format format, const char *data, size_t len,
                           delivery_write_fn *write_cb, void *ctx, struct delivery_fp_stats *stats,
                           struct errbuf *err)
{
    ASSERT(fp != NULL && contract_id != NULL && write_cb != NULL);
    struct embedder *e = mem_calloc(1, sizeof(*e));
    if (e == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    e->fp = fp;
    buf_init(&e->keybuf, KEY_BYTES_MAX);
    buf_init(&e->scratch, VALUE_BYTES_MAX);
    buf_init(&e->value, VALUE_BYTES_MAX);
    buf_init(&e->repl, VALUE_BYTES_MAX);
    enum err rc = ERR_OK;
    e->code = mem_alloc(fp->params.code_length);
    if (e->code == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK) {
        rc = delivery__out_init(&e->out, write_cb, ctx, err);
    }
    if (rc == ERR_OK) {
        rc = delivery_reader_open(&e->reader, format, data, len, err);
    }
    if (rc == ERR_OK) {
        rc = delivery__layout_resolve(fp->decl, &e->reader, &e->layout, err);
    }
    if (rc == ERR_OK) {
        delivery__codeword(fp, contract_id, e->code);
        rc = embed_rows(e, err);
    }
    if (rc == ERR_OK) {
        rc = delivery__out_put(&e->out, data + e->copied, len - e->copied, err);
    }
    if (rc == ERR_OK) {
        rc = delivery__out_flush(&e->out, err);
    }
    if (rc == ERR_OK && stats != NULL) {
        *stats = e->stats;
    }
    embedder_release(e);
    mem_free(e);
    return rc;
}
