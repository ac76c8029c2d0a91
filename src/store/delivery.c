/*
 * delivery.c: the rows of custody, in portable SQL: uploads and the chunks received for them,
 * the stored objects, and download tokens (migration 7). The bytes themselves are encrypted
 * files under the data directory (src/delivery/custody.c); these rows say what they are.
 *
 * Each record type has one column list and one row parser, and every text column is copied
 * into the record's fixed buffer with a bound (a longer value is ERR_CORRUPT, never a cut).
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* ---- helpers ---- */

/* A single-row read: the parser fills out; an id left empty means no row. */
static enum err one_row(struct store *s, const char *sql, const char *key,
                        store__row_parse_fn *parse, void *out, size_t size, const char *what,
                        struct errbuf *err)
{
    /* key may point into out (a record read again by its own id): copy it first. */
    char copy[STORE_HASH_HEX_MAX];
    snprintf(copy, sizeof(copy), "%s", key);
    memset(out, 0, size);
    struct store__rows r = {NULL, 0, 0, size, 1, 16, parse};
    void *items = NULL;
    size_t n = 0;
    struct store_value v[] = {store_text(copy)};
    enum err rc = store__rows_query(s, sql, v, 1, &r, &items, &n, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (n == 0) {
        return err_set(err, ERR_NOT_FOUND, "id", "no %s '%s'", what, copy);
    }
    memcpy(out, items, size);
    mem_free(items);
    return ERR_OK;
}

/* ---- uploads ---- */

#define UPLOAD_COLS                                                                                \
    "id, product_id, revision_id, provider_id, name, size, sha256, chunk_size, chunk_count, "      \
    "status, wrapped_key, object_id, created_ms, updated_ms, log_index"
#define UPLOAD_NCOLS 15

static enum err upload_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_upload *u = item;
    const struct store__col cols[] = {
        STORE__TEXT_COL(u->id),          STORE__TEXT_COL(u->product_id),
        STORE__TEXT_COL(u->revision_id), STORE__TEXT_COL(u->provider_id),
        STORE__TEXT_COL(u->name),        STORE__INT_COL(u->size),
        STORE__TEXT_COL(u->sha256),      STORE__INT_COL(u->chunk_size),
        STORE__INT_COL(u->chunk_count),  STORE__TEXT_COL(u->status),
        STORE__TEXT_COL(u->wrapped_key), STORE__TEXT_COL(u->object_id),
        STORE__INT_COL(u->created_ms),   STORE__INT_COL(u->updated_ms),
        STORE__INT_COL(u->log_index),
    };
    _Static_assert(ARRAY_LEN(cols) == UPLOAD_NCOLS, "one parser per column");
    return store__cols_read(cols, ARRAY_LEN(cols), v, n, "upload", err);
}

enum err store_upload_insert(struct store *s, const struct store_upload *u, struct errbuf *err)
{
    ASSERT(u->id[0] != '\0');
    ASSERT(u->size >= 0 && u->chunk_size > 0);
    struct store_value v[] = {
        store_text(u->id),          store_text(u->product_id),  store_text(u->revision_id),
        store_text(u->provider_id), store_text(u->name),        store_int(u->size),
        store_text(u->sha256),      store_int(u->chunk_size),   store_int(u->chunk_count),
        store_text(u->status),      store_text(u->wrapped_key), store_text(u->object_id),
        store_int(u->created_ms),   store_int(u->updated_ms),   store_int(u->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == UPLOAD_NCOLS, "one parameter per column");
    return store_query(s,
                       "INSERT INTO uploads (" UPLOAD_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7,"
                       " $8, $9, $10, $11, $12, $13, $14, $15)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_upload_update(struct store *s, const struct store_upload *u, struct errbuf *err)
{
    struct store_value v[] = {store_text(u->id), store_text(u->status), store_text(u->object_id),
                              store_int(u->updated_ms), store_int(u->log_index)};
    int64_t changes = 0;
    enum err rc = store_query(s,
                              "UPDATE uploads SET status = $2, object_id = $3, updated_ms = $4,"
                              " log_index = $5 WHERE id = $1",
                              v, ARRAY_LEN(v), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes == 0) {
        return err_set(err, ERR_NOT_FOUND, "id", "no upload '%s'", u->id);
    }
    return rc;
}

enum err store_upload_get(struct store *s, const char *id, struct store_upload *out,
                          struct errbuf *err)
{
    return one_row(s, "SELECT " UPLOAD_COLS " FROM uploads WHERE id = $1", id, upload_parse, out,
                   sizeof(*out), "upload", err);
}

enum err store_upload_find_open(struct store *s, const char *provider_id, const char *sha256,
                                const char *product_id, size_t max, struct store_upload **out,
                                size_t *count, struct errbuf *err)
{
    ASSERT(max > 0);
    struct store__rows r = {NULL, 0, 0, sizeof(struct store_upload), max, 16, upload_parse};
    struct store_value v[] = {store_text(provider_id), store_text(sha256),
                              store_text_or_null(product_id)};
    /* Two statements rather than "$3 IS NULL OR ...": PostgreSQL cannot type a lone NULL. */
    return store__rows_query(
        s,
        product_id != NULL ? "SELECT " UPLOAD_COLS " FROM uploads WHERE provider_id = $1 AND"
                             " sha256 = $2 AND status = 'open' AND product_id = $3"
                             " ORDER BY created_ms DESC, id DESC"
                           : "SELECT " UPLOAD_COLS " FROM uploads WHERE provider_id = $1 AND"
                             " sha256 = $2 AND status = 'open' ORDER BY created_ms DESC, id DESC",
        v, product_id != NULL ? 3 : 2, &r, (void **)out, count, err);
}

/* ---- chunks ---- */

#define CHUNK_COLS "n, size, sha256, received_ms"
#define CHUNK_NCOLS 4

static enum err chunk_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_upload_chunk *c = item;
    const struct store__col cols[] = {STORE__INT_COL(c->n), STORE__INT_COL(c->size),
                                      STORE__TEXT_COL(c->sha256), STORE__INT_COL(c->received_ms)};
    _Static_assert(ARRAY_LEN(cols) == CHUNK_NCOLS, "one parser per column");
    return store__cols_read(cols, ARRAY_LEN(cols), v, n, "upload chunk", err);
}

enum err store_upload_chunk_insert(struct store *s, const char *upload_id,
                                   const struct store_upload_chunk *c, struct errbuf *err)
{
    ASSERT(c->n >= 0 && c->size >= 0);
    struct store_value v[] = {store_text(upload_id), store_int(c->n), store_int(c->size),
                              store_text(c->sha256), store_int(c->received_ms)};
    return store_query(s,
                       "INSERT INTO upload_chunks (upload_id, " CHUNK_COLS ")"
                       " VALUES ($1, $2, $3, $4, $5)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_upload_chunk_get(struct store *s, const char *upload_id, int64_t n,
                                struct store_upload_chunk *out, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    out->n = -1;
    struct store__rows r = {NULL, 0, 0, sizeof(*out), 1, 16, chunk_parse};
    struct store_upload_chunk *items = NULL;
    size_t count = 0;
    struct store_value v[] = {store_text(upload_id), store_int(n)};
    enum err rc = store__rows_query(
        s, "SELECT " CHUNK_COLS " FROM upload_chunks WHERE upload_id = $1 AND n = $2", v,
        ARRAY_LEN(v), &r, (void **)&items, &count, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (count == 0) {
        return err_set(err, ERR_NOT_FOUND, "n", "chunk %lld of '%s' was not received", (long long)n,
                       upload_id);
    }
    *out = items[0];
    mem_free(items);
    return ERR_OK;
}

enum err store_upload_chunk_list(struct store *s, const char *upload_id, size_t max,
                                 struct store_upload_chunk **out, size_t *count, struct errbuf *err)
{
    ASSERT(max > 0);
    struct store__rows r = {NULL, 0, 0, sizeof(struct store_upload_chunk), max, 16, chunk_parse};
    struct store_value v[] = {store_text(upload_id)};
    return store__rows_query(
        s, "SELECT " CHUNK_COLS " FROM upload_chunks WHERE upload_id = $1 ORDER BY n", v, 1, &r,
        (void **)out, count, err);
}

/* ---- objects ---- */

#define OBJECT_COLS                                                                                \
    "id, product_id, revision_id, provider_id, upload_id, name, size, sha256, format, "            \
    "row_count, blob_name, wrapped_key, created_ms, log_index"
#define OBJECT_NCOLS 14

static enum err object_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_object *o = item;
    const struct store__col cols[] = {
        STORE__TEXT_COL(o->id),          STORE__TEXT_COL(o->product_id),
        STORE__TEXT_COL(o->revision_id), STORE__TEXT_COL(o->provider_id),
        STORE__TEXT_COL(o->upload_id),   STORE__TEXT_COL(o->name),
        STORE__INT_COL(o->size),         STORE__TEXT_COL(o->sha256),
        STORE__TEXT_COL(o->format),      STORE__INT_COL(o->rows),
        STORE__TEXT_COL(o->blob),        STORE__TEXT_COL(o->wrapped_key),
        STORE__INT_COL(o->created_ms),   STORE__INT_COL(o->log_index),
    };
    _Static_assert(ARRAY_LEN(cols) == OBJECT_NCOLS, "one parser per column");
    return store__cols_read(cols, ARRAY_LEN(cols), v, n, "object", err);
}

enum err store_object_insert(struct store *s, const struct store_object *o, struct errbuf *err)
{
    ASSERT(o->id[0] != '\0' && o->blob[0] != '\0');
    struct store_value v[] = {
        store_text(o->id),          store_text(o->product_id), store_text(o->revision_id),
        store_text(o->provider_id), store_text(o->upload_id),  store_text(o->name),
        store_int(o->size),         store_text(o->sha256),     store_text(o->format),
        store_int(o->rows),         store_text(o->blob),       store_text(o->wrapped_key),
        store_int(o->created_ms),   store_int(o->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == OBJECT_NCOLS, "one parameter per column");
    return store_query(s,
                       "INSERT INTO objects (" OBJECT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7,"
                       " $8, $9, $10, $11, $12, $13, $14)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_object_get(struct store *s, const char *id, struct store_object *out,
                          struct errbuf *err)
{
    return one_row(s, "SELECT " OBJECT_COLS " FROM objects WHERE id = $1", id, object_parse, out,
                   sizeof(*out), "object", err);
}

enum err store_object_newest(struct store *s, const char *revision_id, struct store_object *out,
                             struct errbuf *err)
{
    return one_row(s,
                   "SELECT " OBJECT_COLS " FROM objects WHERE revision_id = $1"
                   " ORDER BY created_ms DESC, id DESC",
                   revision_id, object_parse, out, sizeof(*out), "object of revision", err);
}

enum err store_object_find_blob(struct store *s, const char *blob, struct store_object *out,
                                struct errbuf *err)
{
    return one_row(s,
                   "SELECT " OBJECT_COLS " FROM objects WHERE blob_name = $1"
                   " ORDER BY created_ms, id",
                   blob, object_parse, out, sizeof(*out), "object in file", err);
}

/* ---- download tokens ---- */

#define TOKEN_COLS                                                                                 \
    "id, secret_hash, contract_id, revision_id, object_id, buyer_id, created_ms, expires_ms, "     \
    "revoked_ms, log_index"
#define TOKEN_NCOLS 10

static enum err token_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_download_token *t = item;
    const struct store__col cols[] = {
        STORE__TEXT_COL(t->id),          STORE__TEXT_COL(t->secret_hash),
        STORE__TEXT_COL(t->contract_id), STORE__TEXT_COL(t->revision_id),
        STORE__TEXT_COL(t->object_id),   STORE__TEXT_COL(t->buyer_id),
        STORE__INT_COL(t->created_ms),   STORE__INT_COL(t->expires_ms),
        STORE__INT_COL(t->revoked_ms),   STORE__INT_COL(t->log_index),
    };
    _Static_assert(ARRAY_LEN(cols) == TOKEN_NCOLS, "one parser per column");
    return store__cols_read(cols, ARRAY_LEN(cols), v, n, "download token", err);
}

enum err store_download_token_insert(struct store *s, const struct store_download_token *t,
                                     struct errbuf *err)
{
    ASSERT(t->id[0] != '\0' && t->secret_hash[0] != '\0');
    struct store_value v[] = {
        store_text(t->id),          store_text(t->secret_hash), store_text(t->contract_id),
        store_text(t->revision_id), store_text(t->object_id),   store_text(t->buyer_id),
        store_int(t->created_ms),   store_int(t->expires_ms),   store_int(t->revoked_ms),
        store_int(t->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == TOKEN_NCOLS, "one parameter per column");
    return store_query(s,
                       "INSERT INTO download_tokens (" TOKEN_COLS ") VALUES ($1, $2, $3, $4, $5,"
                       " $6, $7, $8, $9, $10)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_download_token_update(struct store *s, const struct store_download_token *t,
                                     struct errbuf *err)
{
    struct store_value v[] = {store_text(t->id), store_int(t->revoked_ms), store_int(t->log_index)};
    int64_t changes = 0;
    enum err rc =
        store_query(s, "UPDATE download_tokens SET revoked_ms = $2, log_index = $3 WHERE id = $1",
                    v, ARRAY_LEN(v), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes == 0) {
        return err_set(err, ERR_NOT_FOUND, "id", "no download token '%s'", t->id);
    }
    return rc;
}

enum err store_download_token_get(struct store *s, const char *id, struct store_download_token *out,
                                  struct errbuf *err)
{
    return one_row(s, "SELECT " TOKEN_COLS " FROM download_tokens WHERE id = $1", id, token_parse,
                   out, sizeof(*out), "download token", err);
}

enum err store_download_token_find_hash(struct store *s, const char *secret_hash,
                                        struct store_download_token *out, struct errbuf *err)
{
    return one_row(s, "SELECT " TOKEN_COLS " FROM download_tokens WHERE secret_hash = $1",
                   secret_hash, token_parse, out, sizeof(*out), "download token", err);
}
