/*
 * fingerprints.c: the rows of fingerprinted delivery (migration 11): the tolerance a provider
 * declared for a tabular object (object_fingerprints) and each buyer's copy of an object
 * (buyer_copies: one per contract and object, the bytes an encrypted file of their own when
 * fingerprinted, else the object's file under a key re-wrapped for the copy). The trace reads
 * both: copies by SHA-256 for exact matches, and the fingerprinted copies of an object as the
 * candidates of an accusation.
 *
 * Same shape as delivery.c: one column list and one parser per record, every text column
 * copied into its fixed buffer with a bound (a longer value is ERR_CORRUPT, never a cut).
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* ---- helpers ---- */

/* A single-row read keyed by params; ERR_NOT_FOUND naming what. */
static enum err one_row(struct store *s, const char *sql, const struct store_value *params,
                        size_t nparams, store__row_parse_fn *parse, void *out, size_t size,
                        const char *what, struct errbuf *err)
{
    struct store__rows r = {NULL, 0, 0, size, 1, 4, parse};
    void *items = NULL;
    size_t n = 0;
    enum err rc = store__rows_query(s, sql, params, nparams, &r, &items, &n, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (n == 0) {
        return err_set(err, ERR_NOT_FOUND, "id", "no %s", what);
    }
    memcpy(out, items, size);
    mem_free(items);
    return ERR_OK;
}

/* ---- declarations ---- */

#define FP_COLS                                                                                    \
    "object_id, declaration, code_length, mark_per_mille, cutoff, admissible_cells, actor, "       \
    "declared_ms, log_index"
#define FP_NCOLS 9

static enum err fp_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_fingerprint *f = item;
    const struct store__col cols[] = {
        STORE__TEXT_COL(f->object_id),  STORE__TEXT_COL(f->declaration),
        STORE__INT_COL(f->code_length), STORE__INT_COL(f->mark_per_mille),
        STORE__TEXT_COL(f->cutoff),     STORE__INT_COL(f->admissible_cells),
        STORE__TEXT_COL(f->actor),      STORE__INT_COL(f->declared_ms),
        STORE__INT_COL(f->log_index),
    };
    _Static_assert(ARRAY_LEN(cols) == FP_NCOLS, "one parser per column");
    return store__cols_read(cols, ARRAY_LEN(cols), v, n, "fingerprint", err);
}

enum err store_fingerprint_put(struct store *s, const struct store_fingerprint *f,
                               struct errbuf *err)
{
    ASSERT(f->object_id[0] != '\0' && f->declaration[0] != '\0');
    struct store_value key[] = {store_text(f->object_id)};
    enum err rc = store_query(s, "DELETE FROM object_fingerprints WHERE object_id = $1", key, 1,
                              NULL, NULL, NULL, err);
    struct store_value v[] = {
        store_text(f->object_id),     store_text(f->declaration), store_int(f->code_length),
        store_int(f->mark_per_mille), store_text(f->cutoff),      store_int(f->admissible_cells),
        store_text(f->actor),         store_int(f->declared_ms),  store_int(f->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == FP_NCOLS, "one parameter per column");
    if (rc == ERR_OK) {
        rc = store_query(s,
                         "INSERT INTO object_fingerprints (" FP_COLS ") VALUES ($1, $2, $3, $4,"
                         " $5, $6, $7, $8, $9)",
                         v, ARRAY_LEN(v), NULL, NULL, NULL, err);
    }
    return rc;
}

enum err store_fingerprint_get(struct store *s, const char *object_id,
                               struct store_fingerprint *out, struct errbuf *err)
{
    struct store_value v[] = {store_text(object_id)};
    return one_row(s, "SELECT " FP_COLS " FROM object_fingerprints WHERE object_id = $1", v, 1,
                   fp_parse, out, sizeof(*out), "fingerprint declaration", err);
}

enum err store_fingerprint_list(struct store *s, size_t max, struct store_fingerprint **out,
                                size_t *count, struct errbuf *err)
{
    ASSERT(max > 0);
    struct store__rows r = {NULL, 0, 0, sizeof(struct store_fingerprint), max, 4, fp_parse};
    return store__rows_query(
        s, "SELECT " FP_COLS " FROM object_fingerprints ORDER BY declared_ms, object_id", NULL, 0,
        &r, (void **)out, count, err);
}

/* ---- buyer copies ---- */

#define COPY_COLS                                                                                  \
    "id, contract_id, object_id, buyer_id, fingerprinted, size, sha256, format, blob_name, "       \
    "wrapped_key, created_ms, log_index"
#define COPY_NCOLS 12

static enum err copy_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_buyer_copy *c = item;
    const struct store__col cols[] = {
        STORE__TEXT_COL(c->id),           STORE__TEXT_COL(c->contract_id),
        STORE__TEXT_COL(c->object_id),    STORE__TEXT_COL(c->buyer_id),
        STORE__INT_COL(c->fingerprinted), STORE__INT_COL(c->size),
        STORE__TEXT_COL(c->sha256),       STORE__TEXT_COL(c->format),
        STORE__TEXT_COL(c->blob),         STORE__TEXT_COL(c->wrapped_key),
        STORE__INT_COL(c->created_ms),    STORE__INT_COL(c->log_index),
    };
    _Static_assert(ARRAY_LEN(cols) == COPY_NCOLS, "one parser per column");
    return store__cols_read(cols, ARRAY_LEN(cols), v, n, "buyer copy", err);
}

enum err store_buyer_copy_insert(struct store *s, const struct store_buyer_copy *c,
                                 struct errbuf *err)
{
    ASSERT(c->id[0] != '\0' && c->blob[0] != '\0');
    struct store_value v[] = {
        store_text(c->id),          store_text(c->contract_id),  store_text(c->object_id),
        store_text(c->buyer_id),    store_int(c->fingerprinted), store_int(c->size),
        store_text(c->sha256),      store_text(c->format),       store_text(c->blob),
        store_text(c->wrapped_key), store_int(c->created_ms),    store_int(c->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == COPY_NCOLS, "one parameter per column");
    return store_query(s,
                       "INSERT INTO buyer_copies (" COPY_COLS ") VALUES ($1, $2, $3, $4, $5, $6,"
                       " $7, $8, $9, $10, $11, $12)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_buyer_copy_get(struct store *s, const char *contract_id, const char *object_id,
                              struct store_buyer_copy *out, struct errbuf *err)
{
    struct store_value v[] = {store_text(contract_id), store_text(object_id)};
    return one_row(s,
                   "SELECT " COPY_COLS " FROM buyer_copies WHERE contract_id = $1 AND"
                   " object_id = $2",
                   v, 2, copy_parse, out, sizeof(*out), "buyer copy", err);
}

enum err store_buyer_copy_find_sha(struct store *s, const char *sha256, size_t max,
                                   struct store_buyer_copy **out, size_t *count, struct errbuf *err)
{
    ASSERT(max > 0);
    struct store__rows r = {NULL, 0, 0, sizeof(struct store_buyer_copy), max, 4, copy_parse};
    struct store_value v[] = {store_text(sha256)};
    return store__rows_query(s,
                             "SELECT " COPY_COLS " FROM buyer_copies WHERE sha256 = $1"
                             " ORDER BY created_ms, id",
                             v, 1, &r, (void **)out, count, err);
}

enum err store_buyer_copy_list_object(struct store *s, const char *object_id, size_t max,
                                      struct store_buyer_copy **out, size_t *count,
                                      struct errbuf *err)
{
    ASSERT(max > 0);
    struct store__rows r = {NULL, 0, 0, sizeof(struct store_buyer_copy), max, 4, copy_parse};
    struct store_value v[] = {store_text(object_id)};
    return store__rows_query(s,
                             "SELECT " COPY_COLS " FROM buyer_copies WHERE object_id = $1"
                             " ORDER BY created_ms, id",
                             v, 1, &r, (void **)out, count, err);
}

static enum err id_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    char *id = item;
    if (n != 1) {
        return err_set(err, ERR_CORRUPT, "", "object id row has %zu columns", n);
    }
    return store__copy_text(id, ID_MAX, &v[0], err);
}

enum err store_object_ids_by_sha(struct store *s, const char *sha256, size_t max,
                                 char (**out)[ID_MAX], size_t *count, struct errbuf *err)
{
    ASSERT(max > 0);
    struct store__rows r = {NULL, 0, 0, ID_MAX, max, 4, id_parse};
    struct store_value v[] = {store_text(sha256)};
    return store__rows_query(s, "SELECT id FROM objects WHERE sha256 = $1 ORDER BY created_ms, id",
                             v, 1, &r, (void **)out, count, err);
}
