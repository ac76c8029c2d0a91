/*
 * tabular_parse.c: libFuzzer target for the tabular reader (CSV, TSV, JSON Lines) and the
 * fingerprint embedder and observer that run over untrusted files. The first byte chooses the
 * format, the rest is the file. Besides never crashing, it checks:
 *   - refused input is refused as ERR_INVALID naming "data", and only then;
 *   - every field lies inside the input and decodes to valid text;
 *   - converting to CSV and reading back gives the same names and values (null and absent
 *     read as "");
 *   - a fingerprinted copy (columns "a" digit, "b" spelling, no key) reads back with the same
 *     rows, equal in every unmarked column, is the same for the same contract, and can be
 *     observed.
 */
#include "util/compat.h"
#include "delivery/delivery.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (64 * 1024)

static enum err to_buf(void *ctx, const char *bytes, size_t len, struct errbuf *err)
{
    enum err rc = buf_append(ctx, bytes, len);
    return rc == ERR_OK ? ERR_OK : err_set(err, rc, "", "too large");
}

/* All decoded rows of a file as one buffer: values separated by 0x1f, rows by 0x1e. */
static enum err flatten(enum delivery_format f, const char *in, size_t len, struct buf *out,
                        size_t *rows, struct errbuf *err)
{
    struct delivery_reader *r = calloc(1, sizeof(*r));
    ASSERT(r != NULL);
    enum err rc = delivery_reader_open(r, f, in, len, err);
    if (rc != ERR_OK) {
        free(r);
        return rc;
    }
    for (size_t c = 0; c < r->columns; c++) {
        ASSERT(text_valid_utf8(r->names[c], r->name_lens[c]));
        ASSERT(buf_append(out, r->names[c], r->name_lens[c]) == ERR_OK);
        ASSERT(buf_append(out, "\x1f", 1) == ERR_OK);
    }
    *rows = 0;
    int has_row = 1;
    while ((rc = delivery_reader_next(r, &has_row, err)) == ERR_OK && has_row) {
        ASSERT(r->row >= in && r->row + r->row_len <= in + len);
        ASSERT(buf_append(out, "\x1e", 1) == ERR_OK);
        for (size_t c = 0; c < r->columns; c++) {
            const struct delivery_field *fd = &r->fields[c];
            ASSERT(fd->raw == NULL || (fd->raw >= in && fd->raw + fd->raw_len <= in + len));
            size_t at = out->len;
            ASSERT(delivery_field_value_append(fd, out, err) == ERR_OK);
            ASSERT(text_valid_utf8(out->data + at, out->len - at));
            ASSERT(buf_append(out, "\x1f", 1) == ERR_OK);
        }
        (*rows)++;
    }
    if (rc != ERR_OK) {
        ASSERT(rc == ERR_INVALID && strcmp(err->field, "data") == 0);
    }
    delivery_reader_release(r);
    free(r);
    return rc;
}

static void check_fingerprint(enum delivery_format f, const char *in, size_t len, size_t rows)
{
    static struct delivery_fp_decl *decl;
    if (decl == NULL) {
        json_t *j = json_loads("{\"columns\": [{\"name\": \"a\", \"kind\": \"digit\"},"
                               " {\"name\": \"b\", \"kind\": \"spelling\","
                               "  \"variants\": [[\"St\", \"Street\", \"x\"]]}]}",
                               0, NULL);
        ASSERT(j != NULL && delivery_fp_decl_parse(j, &decl, NULL) == ERR_OK);
        json_decref(j);
    }
    struct delivery_fp_params p;
    delivery_fp_params_default(&p, 0);
    p.code_length = 64;
    p.mark_per_mille = 1000;
    unsigned char secret[DELIVERY_FP_SECRET_LEN] = {1};
    struct delivery_fp *fp = NULL;
    ASSERT(delivery_fp_new(secret, &p, decl, &fp, NULL) == ERR_OK);
    struct buf a;
    struct buf b;
    buf_init(&a, INPUT_MAX * 8);
    buf_init(&b, INPUT_MAX * 8);
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = delivery_fp_embed(fp, "ctr_fuzz", f, in, len, to_buf, &a, NULL, &err);
    if (rc != ERR_OK) {
        /* Only a file with nothing but marked columns has no row key. */
        ASSERT(rc == ERR_INVALID && strcmp(err.field, "key") == 0);
    } else {
        ASSERT(delivery_fp_embed(fp, "ctr_fuzz", f, in, len, to_buf, &b, NULL, NULL) == ERR_OK);
        ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        struct buf x;
        struct buf y;
        buf_init(&x, INPUT_MAX * 16);
        buf_init(&y, INPUT_MAX * 16);
        size_t rows_copy = 0;
        size_t rows_orig = 0;
        ASSERT(flatten(f, a.data, a.len, &x, &rows_copy, &err) == ERR_OK);
        ASSERT(flatten(f, in, len, &y, &rows_orig, &err) == ERR_OK);
        ASSERT(rows_copy == rows && rows_orig == rows);
        buf_release(&x);
        buf_release(&y);
        struct delivery_fp_observation *obs = NULL;
        ASSERT(delivery_fp_observe(fp, f, a.data, a.len, &obs, NULL) == ERR_OK);
        const char *who = "ctr_fuzz";
        struct delivery_fp_verdict v;
        ASSERT(delivery_fp_accuse(fp, obs, &who, 1, 1e-9, &v, NULL) == ERR_OK);
        ASSERT(v.best.false_accusation >= 0 && v.best.false_accusation <= 1);
        delivery_fp_verdict_release(&v);
        delivery_fp_observation_free(obs);
    }
    buf_release(&a);
    buf_release(&b);
    delivery_fp_free(fp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > INPUT_MAX) {
        return 0;
    }
    enum delivery_format f = (enum delivery_format)(data[0] % DELIVERY__FORMAT_COUNT);
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    struct errbuf err;
    errbuf_init(&err);
    struct buf flat;
    buf_init(&flat, INPUT_MAX * 16);
    size_t rows = 0;
    if (flatten(f, in, len, &flat, &rows, &err) != ERR_OK) {
        ASSERT(strcmp(err.field, "data") == 0);
        buf_release(&flat);
        return 0;
    }
    /* Round trip through CSV: the same names and values. */
    struct buf csv;
    buf_init(&csv, INPUT_MAX * 16);
    ASSERT(delivery_tabular_convert(f, in, len, DELIVERY_FORMAT_CSV, to_buf, &csv, &err) == ERR_OK);
    struct buf again;
    buf_init(&again, INPUT_MAX * 16);
    size_t rows_again = 0;
    ASSERT(flatten(DELIVERY_FORMAT_CSV, csv.data, csv.len, &again, &rows_again, &err) == ERR_OK);
    ASSERT(rows_again == rows);
    ASSERT(again.len == flat.len && memcmp(again.data, flat.data, flat.len) == 0);
    buf_release(&again);
    buf_release(&csv);
    buf_release(&flat);
    check_fingerprint(f, in, len, rows);
    return 0;
}
