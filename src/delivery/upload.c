/*
 * upload.c: chunked, resumable uploads and the objects they become (delivery.h, custody).
 *
 * An upload declares the whole file first (size, SHA-256, chunk size), so every chunk's size is
 * known before it arrives and the file is checked twice: each chunk against the digest sent
 * with it, and the whole against the declared digest at completion, when the chunks are read
 * back (their own digests checked again) and sealed into the object file in one pass. Chunk
 * receipts are the upload's own staging state, not the exchange's: they append no event (a
 * 1 GiB file would otherwise put a thousand entries in the public log); the log records the
 * start, the abandonment, and the stored object with its digest and size.
 */
#include "util/compat.h"
#include "delivery/delivery.h"
#include "delivery/delivery_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* ---- who may ---- */

static int sees_upload(const struct delivery_actor *who, const char *provider_id)
{
    return who->role == DELIVERY_ROLE_OPERATOR || strcmp(who->id, provider_id) == 0;
}

/* The upload for its provider (or, with operator_ok, the operator); others get not found. */
static enum err upload_load(struct delivery_custody *d, const struct delivery_actor *who,
                            const char *id, int operator_ok, struct store_upload *out,
                            struct errbuf *err)
{
    if (!id_valid(id, "upl")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not an upload id", id != NULL ? id : "");
    }
    char copy[ID_MAX]; /* id may point into *out, which the read clears */
    snprintf(copy, sizeof(copy), "%s", id);
    id = copy;
    enum err rc = store_upload_get(d->store, id, out, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int allowed =
        operator_ok ? sees_upload(who, out->provider_id) : strcmp(who->id, out->provider_id) == 0;
    if (!allowed) {
        return err_set(err, ERR_NOT_FOUND, "id", "no upload '%s'", id);
    }
    return ERR_OK;
}

static enum err open_check(const struct store_upload *u, struct errbuf *err)
{
    if (strcmp(u->status, "open") != 0) {
        return err_set(err, ERR_BAD_STATE, "status", "upload '%s' is %s", u->id, u->status);
    }
    return ERR_OK;
}

/* ---- start ---- */

static enum err name_check(const char *name, struct errbuf *err)
{
    size_t len = name != NULL ? strlen(name) : 0;
    if (len == 0 || len >= STORE_FILE_NAME_MAX || !text_valid_utf8(name, len) ||
        text_utf8_chars(name, len) > DELIVERY_NAME_CHARS_MAX) {
        return err_set(err, ERR_INVALID, "name", "name must be 1 to %d characters of UTF-8",
                       DELIVERY_NAME_CHARS_MAX);
    }
    if (strchr(name, '/') != NULL || strchr(name, '\\') != NULL || strpbrk(name, "\t\r\n") ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        return err_set(err, ERR_INVALID, "name", "name must be a file name without a directory");
    }
    return ERR_OK;
}

/* The shape of the request, before anything is read. */
static enum err request_check(const struct delivery_custody *d,
                              const struct delivery_upload_request *r, int64_t *chunk_size,
                              struct errbuf *err)
{
    if (!id_valid(r->product_id, "prd")) {
        return err_set(err, ERR_INVALID, "product_id", "product_id must be a product id");
    }
    if (r->revision_id != NULL && !id_valid(r->revision_id, "rev")) {
        return err_set(err, ERR_INVALID, "revision_id", "revision_id must be a revision id");
    }
    enum err rc = name_check(r->name, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (!delivery__hex64_valid(r->sha256)) {
        return err_set(err, ERR_INVALID, "sha256", "sha256 must be 64 lowercase hex digits");
    }
    if (r->size < 0) {
        return err_set(err, ERR_INVALID, "size", "size must be a byte count");
    }
    if (r->size > d->object_bytes_max) {
        return err_set(err, ERR_LIMIT, "size", "size %lld is over this exchange's limit of %lld",
                       (long long)r->size, (long long)d->object_bytes_max);
    }
    *chunk_size = r->chunk_size != 0 ? r->chunk_size : DELIVERY_CHUNK_BYTES_DEFAULT;
    if (*chunk_size > DELIVERY_CHUNK_BYTES_MAX) {
        return err_set(err, ERR_LIMIT, "chunk_size", "chunk_size must be at most %d bytes",
                       DELIVERY_CHUNK_BYTES_MAX);
    }
    if (*chunk_size < DELIVERY_CHUNK_BYTES_MIN) {
        return err_set(err, ERR_INVALID, "chunk_size", "chunk_size must be at least %d bytes",
                       DELIVERY_CHUNK_BYTES_MIN);
    }
    if ((r->size + *chunk_size - 1) / *chunk_size > DELIVERY_CHUNKS_MAX) {
        return err_set(err, ERR_LIMIT, "chunk_size",
                       "a file of %lld bytes needs chunks larger than %lld bytes (at most %d "
                       "chunks)",
                       (long long)r->size, (long long)*chunk_size, DELIVERY_CHUNKS_MAX);
    }
    return ERR_OK;
}

/* The product's provider, verified; the revision of that product (default: its newest). */
static enum err product_check(struct delivery_custody *d, const struct delivery_actor *who,
                              const struct delivery_upload_request *r, struct store_upload *u,
                              struct errbuf *err)
{
    struct store_product p;
    enum err rc = store_product_get(d->store, r->product_id, &p, err);
    if (rc == ERR_NOT_FOUND) {
        return err_set(err, ERR_NOT_FOUND, "product_id", "no product '%s'", r->product_id);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (strcmp(p.provider_id, who->id) != 0 || !who->active) {
        return err_set(err, ERR_FORBIDDEN, "product_id",
                       "only the verified provider of '%s' uploads its files", r->product_id);
    }
    const char *rev_id = r->revision_id != NULL ? r->revision_id : p.latest_revision_id;
    struct store_revision rev;
    memset(&rev, 0, sizeof(rev));
    rc = store_revision_get(d->store, rev_id, &rev, err);
    int mine = rc == ERR_OK && strcmp(rev.product_id, p.id) == 0;
    store_revision_release(&rev);
    if ((rc == ERR_OK && !mine) || rc == ERR_NOT_FOUND) {
        return err_set(err, ERR_NOT_FOUND, "revision_id", "product '%s' has no revision '%s'", p.id,
                       rev_id);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(u->product_id, sizeof(u->product_id), "%s", p.id);
    snprintf(u->revision_id, sizeof(u->revision_id), "%s", rev_id);
    snprintf(u->provider_id, sizeof(u->provider_id), "%s", p.provider_id);
    return ERR_OK;
}

enum err delivery_upload_start(struct delivery_custody *d, const struct delivery_actor *who,
                               const struct delivery_upload_request *req, struct store_upload *out,
                               struct errbuf *err)
{
    ASSERT(d != NULL && who != NULL && req != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    int64_t chunk_size = 0;
    enum err rc = request_check(d, req, &chunk_size, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_tx_begin(d->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = product_check(d, who, req, out, err);
    if (rc == ERR_OK) {
        id_new(d->rng, "upl", out->id);
        snprintf(out->name, sizeof(out->name), "%s", req->name);
        snprintf(out->sha256, sizeof(out->sha256), "%s", req->sha256);
        snprintf(out->status, sizeof(out->status), "open");
        out->size = req->size;
        out->chunk_size = chunk_size;
        out->chunk_count = (req->size + chunk_size - 1) / chunk_size;
        unsigned char key[32];
        rng_fill(d->rng, key, sizeof(key));
        delivery__key_wrap(d, out->id, key, out->wrapped_key);
        sodium_memzero(key, sizeof(key));
        out->created_ms = clock_now(d->clock);
        out->updated_ms = out->created_ms;
        json_t *body =
            json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:I}", "upload_id", out->id, "product_id",
                      out->product_id, "revision_id", out->revision_id, "size",
                      (json_int_t)out->size, "sha256", out->sha256, "chunk_size",
                      (json_int_t)out->chunk_size, "chunk_count", (json_int_t)out->chunk_count);
        rc = delivery__event(d, "upload.started", who->id, out->id, out->created_ms, body,
                             &out->log_index, err);
        json_decref(body);
    }
    if (rc == ERR_OK) {
        rc = store_upload_insert(d->store, out, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(d->store);
        return rc;
    }
    return store_tx_commit(d->store, err);
}

/* ---- chunks ---- */

static int64_t chunk_len(const struct store_upload *u, int64_t n)
{
    return n + 1 < u->chunk_count ? u->chunk_size : u->size - n * u->chunk_size;
}

/* The chunk's number, size and digest against the upload. */
static enum err chunk_check(const struct store_upload *u, int64_t n, const void *data, size_t len,
                            const char *sha256_hex, char digest[STORE_HASH_HEX_MAX],
                            struct errbuf *err)
{
    if (n < 0 || n >= u->chunk_count) {
        return err_set(err, ERR_INVALID, "n", "chunk %lld is out of range: the upload has %lld",
                       (long long)n, (long long)u->chunk_count);
    }
    if ((int64_t)len != chunk_len(u, n)) {
        return err_set(err, ERR_INVALID, "body", "chunk %lld must be %lld bytes, not %zu",
                       (long long)n, (long long)chunk_len(u, n), len);
    }
    if (!delivery__hex64_valid(sha256_hex)) {
        return err_set(err, ERR_INVALID, "Chunk-SHA256",
                       "the Chunk-SHA256 header must be 64 lowercase hex digits");
    }
    enum err rc = delivery__sha256_hex(data, len, digest, err);
    if (rc == ERR_OK && strcmp(digest, sha256_hex) != 0) {
        rc = err_set(err, ERR_INVALID, "Chunk-SHA256",
                     "chunk %lld's SHA-256 is %s, not the declared %s", (long long)n, digest,
                     sha256_hex);
    }
    return rc;
}

enum err delivery_upload_chunk(struct delivery_custody *d, const struct delivery_actor *who,
                               const char *upload_id, int64_t n, const void *data, size_t len,
                               const char *sha256_hex, struct store_upload_chunk *out, int *again,
                               struct errbuf *err)
{
    ASSERT(d != NULL && who != NULL && out != NULL && again != NULL);
    *again = 0;
    struct store_upload u;
    enum err rc = upload_load(d, who, upload_id, 0, &u, err);
    if (rc == ERR_OK) {
        rc = open_check(&u, err);
    }
    char digest[STORE_HASH_HEX_MAX];
    if (rc == ERR_OK) {
        rc = chunk_check(&u, n, data, len, sha256_hex, digest, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_upload_chunk_get(d->store, u.id, n, out, err);
    if (rc == ERR_OK) {
        if (strcmp(out->sha256, digest) != 0) {
            return err_set(err, ERR_CONFLICT, "n",
                           "chunk %lld was received already with another SHA-256 (%s)",
                           (long long)n, out->sha256);
        }
        *again = 1;
        return ERR_OK;
    }
    if (rc != ERR_NOT_FOUND) {
        return rc;
    }
    unsigned char key[32];
    rc = delivery__key_unwrap(d, u.id, u.wrapped_key, key, err);
    if (rc == ERR_OK) {
        rc = delivery__chunk_write(d, key, u.id, n, data, len, err);
    }
    sodium_memzero(key, sizeof(key));
    if (rc != ERR_OK) {
        return rc;
    }
    memset(out, 0, sizeof(*out));
    out->n = n;
    out->size = (int64_t)len;
    snprintf(out->sha256, sizeof(out->sha256), "%s", digest);
    out->received_ms = clock_now(d->clock);
    return store_upload_chunk_insert(d->store, u.id, out, err);
}

enum err delivery_upload_get(struct delivery_custody *d, const struct delivery_actor *who,
                             const char *upload_id, struct store_upload *out,
                             struct store_upload_chunk **chunks, size_t *count, struct errbuf *err)
{
    *chunks = NULL;
    *count = 0;
    enum err rc = upload_load(d, who, upload_id, 1, out, err);
    if (rc != ERR_OK || out->chunk_count == 0) {
        return rc;
    }
    return store_upload_chunk_list(d->store, out->id, (size_t)out->chunk_count, chunks, count, err);
}

enum err delivery_upload_find(struct delivery_custody *d, const struct delivery_actor *who,
                              const char *sha256, const char *product_id, size_t max,
                              struct store_upload **out, size_t *count, struct errbuf *err)
{
    *out = NULL;
    *count = 0;
    if (!delivery__hex64_valid(sha256)) {
        return err_set(err, ERR_INVALID, "sha256", "sha256 must be 64 lowercase hex digits");
    }
    if (product_id != NULL && !id_valid(product_id, "prd")) {
        return err_set(err, ERR_INVALID, "product_id", "product_id must be a product id");
    }
    return store_upload_find_open(d->store, who->id, sha256, product_id, max, out, count, err);
}

/* ---- completion ---- */

/* Reads the chunks back in order, into the digest, the sniffer and (w non-NULL) the object
 * file; each chunk's digest is checked against its row as it is read. */
static enum err chunks_replay(struct delivery_custody *d, const struct store_upload *u,
                              const struct store_upload_chunk *chunks, struct delivery__writer *w,
                              struct delivery_sniff *sniff, unsigned char sha[32],
                              struct errbuf *err)
{
    unsigned char key[32];
    enum err rc = delivery__key_unwrap(d, u->id, u->wrapped_key, key, err);
    unsigned char *buf = rc == ERR_OK ? mem_alloc((size_t)u->chunk_size) : NULL;
    if (rc == ERR_OK && buf == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory reading chunks");
    }
    struct delivery__sha256 whole = {NULL};
    if (rc == ERR_OK) {
        rc = delivery__sha256_init(&whole, err);
    }
    for (int64_t n = 0; n < u->chunk_count && rc == ERR_OK; n++) {
        size_t len = (size_t)chunk_len(u, n);
        char digest[STORE_HASH_HEX_MAX];
        ASSERT(chunks[n].n == n);
        rc = delivery__chunk_read(d, key, u->id, n, buf, len, err);
        if (rc == ERR_NOT_FOUND) {
            /* Only a completion whose commit failed after the chunks were removed gets here. */
            rc = err_set(err, ERR_BAD_STATE, "chunks",
                         "staged chunk %lld is gone; abandon this upload and start again",
                         (long long)n);
        }
        if (rc == ERR_OK) {
            rc = delivery__sha256_hex(buf, len, digest, err);
        }
        if (rc == ERR_OK && strcmp(digest, chunks[n].sha256) != 0) {
            rc = err_set(err, ERR_CORRUPT, "", "staged chunk %lld changed since it was received",
                         (long long)n);
        }
        if (rc == ERR_OK) {
            delivery__sha256_update(&whole, buf, len);
            delivery_sniff_feed(sniff, buf, len);
            rc = w != NULL ? delivery__writer_feed(w, buf, len, err) : ERR_OK;
        }
    }
    if (rc == ERR_OK) {
        delivery__sha256_final(&whole, sha);
    }
    delivery__sha256_discard(&whole);
    sodium_memzero(key, sizeof(key));
    mem_free(buf);
    return rc;
}

/* The key of the object file: a fresh one, or that of an object already stored in the same
 * file (content addressing), unwrapped from its row. *exists says which. */
static enum err blob_key(struct delivery_custody *d, const char *blob, unsigned char key[32],
                         int *exists, struct errbuf *err)
{
    struct store_object same;
    enum err rc = store_object_find_blob(d->store, blob, &same, err);
    *exists = 0;
    if (rc == ERR_NOT_FOUND) {
        rng_fill(d->rng, key, 32);
        return ERR_OK;
    }
    char path[DELIVERY_PATH_MAX];
    if (rc == ERR_OK) {
        rc = delivery__key_unwrap(d, same.id, same.wrapped_key, key, err);
    }
    if (rc == ERR_OK) {
        rc = delivery__object_path(d, blob, path, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct delivery_object_file *r = NULL;
    rc = delivery_object_open(d, &same, &r, err);
    delivery_object_close(r);
    if (rc == ERR_NOT_FOUND || rc == ERR_CORRUPT) {
        /* The file went missing or bad: write it again under the same key. */
        log_msg(LOG_WARN, "custody: rewriting the file of object '%s': %s", same.id, err->msg);
        return ERR_OK;
    }
    *exists = rc == ERR_OK;
    return rc;
}

/* Verifies and seals the upload's content: fills o's sha256-derived fields. */
static enum err content_store(struct delivery_custody *d, const struct store_upload *u,
                              struct store_object *o, struct errbuf *err)
{
    unsigned char declared[32];
    size_t bin_len = 0;
    int ok = sodium_hex2bin(declared, sizeof(declared), u->sha256, 64, NULL, &bin_len, NULL);
    ASSERT(ok == 0 && bin_len == 32);
    delivery__blob_name(d, declared, o->blob);
    struct store_upload_chunk *chunks = NULL;
    size_t count = 0;
    enum err rc =
        u->chunk_count > 0
            ? store_upload_chunk_list(d->store, u->id, (size_t)u->chunk_count, &chunks, &count, err)
            : ERR_OK;
    if (rc == ERR_OK && (int64_t)count != u->chunk_count) {
        rc = err_set(err, ERR_BAD_STATE, "chunks", "%lld of %lld chunks are still missing",
                     (long long)(u->chunk_count - (int64_t)count), (long long)u->chunk_count);
    }
    unsigned char key[32];
    int exists = 0;
    if (rc == ERR_OK) {
        rc = blob_key(d, o->blob, key, &exists, err);
    }
    struct delivery__writer *w = NULL;
    if (rc == ERR_OK && !exists) {
        rc = delivery__writer_open(d, o->blob, u->size, key, &w, err);
    }
    struct delivery_sniff *sniff = rc == ERR_OK ? delivery_sniff_new() : NULL;
    if (rc == ERR_OK && sniff == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    }
    unsigned char sha[32];
    if (rc == ERR_OK) {
        rc = chunks_replay(d, u, chunks, w, sniff, sha, err);
    }
    if (rc == ERR_OK && sodium_memcmp(sha, declared, 32) != 0) {
        char got[STORE_HASH_HEX_MAX];
        sodium_bin2hex(got, sizeof(got), sha, sizeof(sha));
        rc = err_set(err, ERR_INVALID, "sha256",
                     "the chunks make a file whose SHA-256 is %s, "
                     "not the declared %s",
                     got, u->sha256);
    }
    const char *format = sniff != NULL ? delivery_sniff_finish(sniff, &o->rows) : "opaque";
    snprintf(o->format, sizeof(o->format), "%s", format);
    if (rc == ERR_OK && w != NULL) {
        rc = delivery__writer_finish(w, err);
        w = NULL;
    }
    delivery__writer_abort(w);
    if (rc == ERR_OK) {
        delivery__key_wrap(d, o->id, key, o->wrapped_key);
    }
    sodium_memzero(key, sizeof(key));
    mem_free(chunks);
    return rc;
}

static enum err object_record(struct delivery_custody *d, const struct delivery_actor *who,
                              struct store_upload *u, struct store_object *o, struct errbuf *err)
{
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I}", "object_id", o->id,
                             "upload_id", u->id, "product_id", o->product_id, "revision_id",
                             o->revision_id, "size", (json_int_t)o->size, "sha256", o->sha256,
                             "format", o->format, "rows", (json_int_t)o->rows);
    enum err rc = delivery__event(d, "object.stored", who->id, o->id, o->created_ms, body,
                                  &o->log_index, err);
    json_decref(body);
    if (rc == ERR_OK) {
        rc = store_object_insert(d->store, o, err);
    }
    if (rc == ERR_OK) {
        snprintf(u->status, sizeof(u->status), "completed");
        snprintf(u->object_id, sizeof(u->object_id), "%s", o->id);
        u->updated_ms = o->created_ms;
        u->log_index = o->log_index;
        rc = store_upload_update(d->store, u, err);
    }
    return rc;
}

enum err delivery_upload_complete(struct delivery_custody *d, const struct delivery_actor *who,
                                  const char *upload_id, struct store_object *out,
                                  struct errbuf *err)
{
    ASSERT(d != NULL && who != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    struct store_upload u;
    enum err rc = upload_load(d, who, upload_id, 0, &u, err);
    if (rc == ERR_OK) {
        rc = open_check(&u, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_tx_begin(d->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    id_new(d->rng, "obj", out->id);
    snprintf(out->product_id, sizeof(out->product_id), "%s", u.product_id);
    snprintf(out->revision_id, sizeof(out->revision_id), "%s", u.revision_id);
    snprintf(out->provider_id, sizeof(out->provider_id), "%s", u.provider_id);
    snprintf(out->upload_id, sizeof(out->upload_id), "%s", u.id);
    snprintf(out->name, sizeof(out->name), "%s", u.name);
    snprintf(out->sha256, sizeof(out->sha256), "%s", u.sha256);
    out->size = u.size;
    out->created_ms = clock_now(d->clock);
    rc = content_store(d, &u, out, err);
    if (rc == ERR_OK) {
        rc = object_record(d, who, &u, out, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(d->store);
        return rc;
    }
    rc = store_tx_commit(d->store, err);
    if (rc == ERR_OK) {
        /* The staged chunks are no longer needed once the object file and its row are. */
        delivery__chunks_remove(d, u.id, u.chunk_count);
    }
    return rc;
}

enum err delivery_upload_abandon(struct delivery_custody *d, const struct delivery_actor *who,
                                 const char *upload_id, struct store_upload *out,
                                 struct errbuf *err)
{
    ASSERT(d != NULL && who != NULL && out != NULL);
    enum err rc = upload_load(d, who, upload_id, 1, out, err);
    if (rc == ERR_OK) {
        rc = open_check(out, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_tx_begin(d->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(out->status, sizeof(out->status), "abandoned");
    out->updated_ms = clock_now(d->clock);
    json_t *body = json_pack("{s:s, s:s}", "upload_id", out->id, "product_id", out->product_id);
    rc = delivery__event(d, "upload.abandoned", who->id, out->id, out->updated_ms, body,
                         &out->log_index, err);
    json_decref(body);
    if (rc == ERR_OK) {
        rc = store_upload_update(d->store, out, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(d->store);
        return rc;
    }
    rc = store_tx_commit(d->store, err);
    if (rc == ERR_OK) {
        delivery__chunks_remove(d, out->id, out->chunk_count);
    }
    return rc;
}

/* ---- objects ---- */

enum err delivery_object_get(struct delivery_custody *d, const struct delivery_actor *who,
                             const char *object_id, struct store_object *out, struct errbuf *err)
{
    if (!id_valid(object_id, "obj")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not an object id",
                       object_id != NULL ? object_id : "");
    }
    enum err rc = store_object_get(d->store, object_id, out, err);
    if (rc == ERR_OK && !sees_upload(who, out->provider_id)) {
        rc = err_set(err, ERR_NOT_FOUND, "id", "no object '%s'", object_id);
    }
    return rc;
}
