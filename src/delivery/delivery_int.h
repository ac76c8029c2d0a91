/*
 * delivery_int.h: declarations shared by the delivery module's own files (custody part:
 * custody.c, upload.c, token.c).
 */
#ifndef BOURSE_DELIVERY_INT_H
#define BOURSE_DELIVERY_INT_H

#include <jansson.h>

#include "delivery/delivery.h"

/* A SHA-256 computed over a stream (OpenSSL's, which uses the CPU's SHA extensions: several
 * times libsodium's portable one on the bulk of uploads). */
struct delivery__sha256 {
    void *ctx; /* EVP_MD_CTX */
};

/* ERR_NOMEM. */
enum err delivery__sha256_init(struct delivery__sha256 *h, struct errbuf *err);
void delivery__sha256_update(struct delivery__sha256 *h, const void *data, size_t len);
/* Writes the digest (32 bytes) and frees the context. */
void delivery__sha256_final(struct delivery__sha256 *h, unsigned char out[32]);
/* Frees the context without a digest. Accepts a finished one. */
void delivery__sha256_discard(struct delivery__sha256 *h);
/* One-shot digest as 64 lowercase hex characters. ERR_NOMEM. */
enum err delivery__sha256_hex(const void *data, size_t len, char out[STORE_HASH_HEX_MAX],
                              struct errbuf *err);

/* 1 when s is 64 lowercase hex characters. */
int delivery__hex64_valid(const char *s);

/* Wraps a 32-byte key for the row of `id` (associated data): base64 into out. Cannot fail. */
void delivery__key_wrap(const struct delivery_custody *d, const char *id,
                        const unsigned char key[32], char out[STORE_WRAPPED_KEY_MAX]);
/* Unwraps; ERR_CORRUPT when the text is not a key wrapped for this id by this master key. */
enum err delivery__key_unwrap(const struct delivery_custody *d, const char *id, const char *wrapped,
                              unsigned char key[32], struct errbuf *err);

/* The object file name of a plaintext SHA-256 (hex of the keyed BLAKE2b). Cannot fail. */
void delivery__blob_name(const struct delivery_custody *d, const unsigned char sha256[32],
                         char out[STORE_HASH_HEX_MAX]);
/* <objects>/<xx>/<blob>, and <uploads>/<upload id>[/<n>] (n < 0: the directory). ERR_LIMIT. */
enum err delivery__object_path(const struct delivery_custody *d, const char *blob,
                               char out[DELIVERY_PATH_MAX], struct errbuf *err);
enum err delivery__chunk_path(const struct delivery_custody *d, const char *upload_id, int64_t n,
                              char out[DELIVERY_PATH_MAX], struct errbuf *err);

/* Seals a chunk with the upload's key and writes it durably (temp file, fsync, rename). */
enum err delivery__chunk_write(const struct delivery_custody *d, const unsigned char key[32],
                               const char *upload_id, int64_t n, const void *data, size_t len,
                               struct errbuf *err);
/* Reads and opens chunk n, which must hold exactly len bytes, into out. ERR_CORRUPT when it
 * does not open (tampered, another upload's, another key), ERR_NOT_FOUND, ERR_IO. */
enum err delivery__chunk_read(const struct delivery_custody *d, const unsigned char key[32],
                              const char *upload_id, int64_t n, void *out, size_t len,
                              struct errbuf *err);
/* Removes an upload's staged chunks (chunk_count files) and its directory; best effort. */
void delivery__chunks_remove(const struct delivery_custody *d, const char *upload_id,
                             int64_t chunk_count);

/* Writes an object file from a stream of plaintext: open, feed exactly size bytes, finish
 * (which makes it durable under its final name) or abort (which removes the temporary). */
struct delivery__writer;
enum err delivery__writer_open(const struct delivery_custody *d, const char *blob, int64_t size,
                               const unsigned char key[32], struct delivery__writer **out,
                               struct errbuf *err);
enum err delivery__writer_feed(struct delivery__writer *w, const void *data, size_t len,
                               struct errbuf *err);
/* Frees w whatever happens. */
enum err delivery__writer_finish(struct delivery__writer *w, struct errbuf *err);
void delivery__writer_abort(struct delivery__writer *w); /* accepts NULL */

/* Appends an event in the caller's transaction (body borrowed). */
enum err delivery__event(struct delivery_custody *d, const char *type, const char *actor,
                         const char *subject, int64_t time_ms, json_t *body, int64_t *seq,
                         struct errbuf *err);

#endif
