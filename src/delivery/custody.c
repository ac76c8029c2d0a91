/*
 * custody.c: the exchange's keys for data at rest and the files they protect: the master key
 * and its subkeys, wrapped object keys, content-addressed object file names, the object file
 * format (written as a stream, read at any offset), sealed upload chunks, and Range arithmetic.
 * delivery.h has the byte layout and docs/decisions/0007-custody.md the reasons.
 *
 * Records are sealed through OpenSSL's AEADs (see "record sealing" below): AES-256-GCM in
 * format 2, and format 1's XChaCha20-Poly1305 computed as the same bytes libsodium wrote.
 *
 * Files are written the way util's file_write_atomic writes small ones, but as a stream: a
 * temporary file in the target directory, fsync, rename over the final name, fsync of the
 * directory. A crash leaves either the old state or the complete new file, plus at worst a
 * temporary that nothing names.
 */
#include "util/compat.h"
#include "delivery/delivery.h"
#include "delivery/delivery_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"

#define KDF_CONTEXT "custody_"
enum { SUBKEY_WRAP = 1, SUBKEY_NAME = 2, SUBKEY_TOKEN = 3, SUBKEY_CHECK = 4 };
#define WRAPPED_BYTES                                                                              \
    (crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define RECORD_CIPHER_BYTES (DELIVERY_RECORD_BYTES + DELIVERY_TAG_BYTES)
/* Whole records read with one pread on the download path. Measured: 1, 2, 4 and 16 records
 * per read (and 128 KiB to 4 MiB stream buffers) cost the server the same CPU per byte within
 * the noise of this machine; 4 keeps syscalls few and each open file's buffer at 256 KiB. */
#define RECORD_BATCH 4
#define CHUNK_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define META_MASTER_CHECK "key.master_check"

_Static_assert(DELIVERY_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(sodium_base64_ENCODED_LEN(WRAPPED_BYTES, sodium_base64_VARIANT_ORIGINAL) <=
                   STORE_WRAPPED_KEY_MAX,
               "a wrapped key fits its column");
_Static_assert(crypto_kdf_CONTEXTBYTES == sizeof(KDF_CONTEXT) - 1, "kdf context size");
_Static_assert(crypto_core_hchacha20_INPUTBYTES == 16, "the nonce prefix is HChaCha20's input");
_Static_assert(sizeof(DELIVERY_MAGIC) == 8 && sizeof(DELIVERY_MAGIC_V1) == 8, "magic and NUL");
_Static_assert(RECORD_CIPHER_BYTES <= INT_MAX, "a record fits OpenSSL's int lengths");

/* ---- helpers ---- */

static void le64_put(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint64_t le64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static enum err io_error(struct errbuf *err, const char *what, const char *path)
{
    int e = errno;
    return err_set(err, e == ENOENT ? ERR_NOT_FOUND : ERR_IO, "", "cannot %s '%s': %s", what, path,
                   strerror(e));
}

static enum err write_all(int fd, const void *data, size_t len, const char *path,
                          struct errbuf *err)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return io_error(err, "write", path);
        }
        p += w;
        len -= (size_t)w;
    }
    return ERR_OK;
}

/* Reads exactly len bytes at offset; a short file is ERR_CORRUPT. */
static enum err pread_all(int fd, void *out, size_t len, int64_t offset, const char *what,
                          struct errbuf *err)
{
    unsigned char *p = out;
    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)offset);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return err_set(err, ERR_IO, "", "cannot read %s: %s", what, strerror(errno));
        }
        if (r == 0) {
            return err_set(err, ERR_CORRUPT, "", "%s is truncated", what);
        }
        p += r;
        len -= (size_t)r;
        offset += r;
    }
    return ERR_OK;
}

static enum err fsync_dir(const char *dir, struct errbuf *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return io_error(err, "open directory", dir);
    }
    enum err rc = fsync(fd) == 0 ? ERR_OK : io_error(err, "sync directory", dir);
    close(fd);
    return rc;
}

/* The directory part of path (up to the last '/') into out. */
static void dir_of(const char *path, char out[DELIVERY_PATH_MAX])
{
    snprintf(out, DELIVERY_PATH_MAX, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
}

/* A temporary name next to path, unique per call. ERR_LIMIT. */
static enum err temp_path(const struct delivery_custody *d, const char *path,
                          char out[DELIVERY_PATH_MAX], struct errbuf *err)
{
    unsigned char r[8];
    char hex[17];
    rng_fill(d->rng, r, sizeof(r));
    sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
    int n = snprintf(out, DELIVERY_PATH_MAX, "%s.tmp-%s", path, hex);
    if (n < 0 || n >= DELIVERY_PATH_MAX) {
        return err_set(err, ERR_LIMIT, "", "path '%s' is too long", path);
    }
    return ERR_OK;
}

/* Makes a temporary file durable under path. Removes it on failure. */
static enum err temp_commit(int fd, const char *tmp, const char *path, struct errbuf *err)
{
    enum err rc = fsync(fd) == 0 ? ERR_OK : io_error(err, "sync", tmp);
    if (close(fd) != 0 && rc == ERR_OK) {
        rc = io_error(err, "close", tmp);
    }
    if (rc == ERR_OK && rename(tmp, path) != 0) {
        rc = io_error(err, "rename to", path);
    }
    if (rc != ERR_OK) {
        unlink(tmp);
        return rc;
    }
    char dir[DELIVERY_PATH_MAX];
    dir_of(path, dir);
    return fsync_dir(dir, err);
}

/* ---- SHA-256 ---- */

enum err delivery__sha256_init(struct delivery__sha256 *h, struct errbuf *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        h->ctx = NULL;
        return err_set(err, ERR_NOMEM, "", "cannot start a SHA-256");
    }
    h->ctx = ctx;
    return ERR_OK;
}

void delivery__sha256_update(struct delivery__sha256 *h, const void *data, size_t len)
{
    ASSERT(h->ctx != NULL);
    /* EVP_DigestUpdate of an initialised SHA-256 context cannot fail. */
    int ok = EVP_DigestUpdate(h->ctx, data, len);
    ASSERT(ok == 1);
}

void delivery__sha256_final(struct delivery__sha256 *h, unsigned char out[32])
{
    ASSERT(h->ctx != NULL);
    unsigned int n = 0;
    int ok = EVP_DigestFinal_ex(h->ctx, out, &n);
    ASSERT(ok == 1 && n == 32);
    delivery__sha256_discard(h);
}

void delivery__sha256_discard(struct delivery__sha256 *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

enum err delivery__sha256_hex(const void *data, size_t len, char out[STORE_HASH_HEX_MAX],
                              struct errbuf *err)
{
    struct delivery__sha256 h;
    enum err rc = delivery__sha256_init(&h, err);
    if (rc != ERR_OK) {
        return rc;
    }
    unsigned char digest[32];
    delivery__sha256_update(&h, data, len);
    delivery__sha256_final(&h, digest);
    sodium_bin2hex(out, STORE_HASH_HEX_MAX, digest, sizeof(digest));
    return ERR_OK;
}

int delivery__hex64_valid(const char *s)
{
    if (s == NULL || strlen(s) != 64) {
        return 0;
    }
    for (size_t i = 0; i < 64; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* ---- the master key ---- */

enum err delivery_master_key_load(const char *path, int create, unsigned char key[32],
                                  struct errbuf *err)
{
    ASSERT(path != NULL && key != NULL);
    char *data = NULL;
    size_t len = 0;
    enum err rc = file_read(path, 64, &data, &len, err);
    if (rc == ERR_NOT_FOUND && create) {
        randombytes_buf(key, 32);
        return file_write_atomic(path, key, 32, 0600, FILE_EXCL, err);
    }
    if (rc == ERR_LIMIT) {
        return err_set(err, ERR_CORRUPT, "master_key", "'%s' must hold exactly 32 bytes", path);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (len != 32) {
        rc = err_set(err, ERR_CORRUPT, "master_key", "'%s' must hold exactly 32 bytes", path);
    } else {
        memcpy(key, data, 32);
    }
    sodium_memzero(data, len);
    mem_free(data);
    return rc;
}

static enum err dir_path(char out[DELIVERY_PATH_MAX], const char *data_dir, const char *name,
                         struct errbuf *err)
{
    int n = snprintf(out, DELIVERY_PATH_MAX, "%s/%s", data_dir, name);
    if (n < 0 || n >= DELIVERY_PATH_MAX - 128) {
        return err_set(err, ERR_LIMIT, "data", "data directory path is too long");
    }
    return file_mkdirs(out, 0700, err);
}

enum err delivery_custody_init(struct delivery_custody *d, struct store *store,
                               const struct clock *clock, const struct rng *rng,
                               const char *data_dir, const unsigned char master[32],
                               int64_t object_bytes_max, struct errbuf *err)
{
    ASSERT(d != NULL && clock != NULL && rng != NULL && data_dir != NULL && master != NULL);
    memset(d, 0, sizeof(*d));
    if (object_bytes_max < 1 || object_bytes_max > DELIVERY_OBJECT_BYTES_LIMIT) {
        return err_set(err, ERR_INVALID, "max_object_size",
                       "the object size limit must be 1 to %lld bytes",
                       (long long)DELIVERY_OBJECT_BYTES_LIMIT);
    }
    d->store = store;
    d->clock = clock;
    d->rng = rng;
    d->object_bytes_max = object_bytes_max;
    crypto_kdf_derive_from_key(d->wrap_key, sizeof(d->wrap_key), SUBKEY_WRAP, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(d->name_key, sizeof(d->name_key), SUBKEY_NAME, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(d->token_key, sizeof(d->token_key), SUBKEY_TOKEN, KDF_CONTEXT,
                               master);
    unsigned char check_key[32], check[32];
    crypto_kdf_derive_from_key(check_key, sizeof(check_key), SUBKEY_CHECK, KDF_CONTEXT, master);
    static const char label[] = "bourse master.key check v1";
    crypto_generichash(check, sizeof(check), (const unsigned char *)label, sizeof(label) - 1,
                       check_key, sizeof(check_key));
    sodium_bin2hex(d->master_check, sizeof(d->master_check), check, sizeof(check));
    sodium_memzero(check_key, sizeof(check_key));
    enum err rc = dir_path(d->objects_dir, data_dir, "objects", err);
    if (rc == ERR_OK) {
        rc = dir_path(d->uploads_dir, data_dir, "uploads", err);
    }
    if (rc != ERR_OK) {
        delivery_custody_release(d);
    }
    return rc;
}

void delivery_custody_release(struct delivery_custody *d)
{
    if (d == NULL) {
        return;
    }
    sodium_memzero(d->wrap_key, sizeof(d->wrap_key));
    sodium_memzero(d->name_key, sizeof(d->name_key));
    sodium_memzero(d->token_key, sizeof(d->token_key));
}

enum err delivery_custody_check_store(struct delivery_custody *d, struct errbuf *err)
{
    enum err rc = store_tx_begin(d->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    char *stored = NULL;
    rc = store_meta_get(d->store, META_MASTER_CHECK, &stored, err);
    if (rc == ERR_NOT_FOUND) {
        rc = store_meta_put(d->store, META_MASTER_CHECK, d->master_check, err);
    } else if (rc == ERR_OK && strcmp(stored, d->master_check) != 0) {
        rc = err_set(err, ERR_CONFLICT, "master_key",
                     "the master key is not the one this exchange's objects are sealed with; "
                     "every node on one database needs the same master.key");
    }
    mem_free(stored);
    if (rc != ERR_OK) {
        store_tx_rollback(d->store);
        return rc;
    }
    return store_tx_commit(d->store, err);
}

/* ---- wrapped keys and names ---- */

void delivery__key_wrap(const struct delivery_custody *d, const char *id,
                        const unsigned char key[32], char out[STORE_WRAPPED_KEY_MAX])
{
    unsigned char wrapped[WRAPPED_BYTES];
    unsigned char *nonce = wrapped;
    rng_fill(d->rng, nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        wrapped + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen, key, 32,
        (const unsigned char *)id, strlen(id), NULL, nonce, d->wrap_key);
    ASSERT(clen == 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    sodium_bin2base64(out, STORE_WRAPPED_KEY_MAX, wrapped, sizeof(wrapped),
                      sodium_base64_VARIANT_ORIGINAL);
}

enum err delivery__key_unwrap(const struct delivery_custody *d, const char *id, const char *wrapped,
                              unsigned char key[32], struct errbuf *err)
{
    unsigned char raw[WRAPPED_BYTES];
    size_t len = 0;
    if (sodium_base642bin(raw, sizeof(raw), wrapped, strlen(wrapped), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len != sizeof(raw)) {
        return err_set(err, ERR_CORRUPT, "", "the wrapped key of '%s' is malformed", id);
    }
    unsigned long long klen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            key, &klen, NULL, raw + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            sizeof(raw) - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, (const unsigned char *)id,
            strlen(id), raw, d->wrap_key) != 0 ||
        klen != 32) {
        return err_set(err, ERR_CORRUPT, "",
                       "the key of '%s' does not unwrap: another master key, or tampered", id);
    }
    return ERR_OK;
}

void delivery__blob_name(const struct delivery_custody *d, const unsigned char sha256[32],
                         char out[STORE_HASH_HEX_MAX])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), sha256, 32, d->name_key, sizeof(d->name_key));
    sodium_bin2hex(out, STORE_HASH_HEX_MAX, h, sizeof(h));
}

enum err delivery__object_path(const struct delivery_custody *d, const char *blob,
                               char out[DELIVERY_PATH_MAX], struct errbuf *err)
{
    ASSERT(delivery__hex64_valid(blob));
    int n = snprintf(out, DELIVERY_PATH_MAX, "%s/%.2s/%s", d->objects_dir, blob, blob);
    if (n < 0 || n >= DELIVERY_PATH_MAX) {
        return err_set(err, ERR_LIMIT, "", "object path is too long");
    }
    return ERR_OK;
}

enum err delivery__chunk_path(const struct delivery_custody *d, const char *upload_id, int64_t n,
                              char out[DELIVERY_PATH_MAX], struct errbuf *err)
{
    ASSERT(id_valid(upload_id, "upl"));
    int len = n < 0 ? snprintf(out, DELIVERY_PATH_MAX, "%s/%s", d->uploads_dir, upload_id)
                    : snprintf(out, DELIVERY_PATH_MAX, "%s/%s/%lld", d->uploads_dir, upload_id,
                               (long long)n);
    if (len < 0 || len >= DELIVERY_PATH_MAX) {
        return err_set(err, ERR_LIMIT, "", "upload path is too long");
    }
    return ERR_OK;
}

/* ---- staged chunks ---- */

static void chunk_ad(const char *upload_id, int64_t n, unsigned char ad[ID_MAX + 8], size_t *len)
{
    size_t idl = strlen(upload_id);
    ASSERT(idl < ID_MAX);
    memcpy(ad, upload_id, idl);
    le64_put(ad + idl, (uint64_t)n);
    *len = idl + 8;
}

enum err delivery__chunk_write(const struct delivery_custody *d, const unsigned char key[32],
                               const char *upload_id, int64_t n, const void *data, size_t len,
                               struct errbuf *err)
{
    ASSERT(len <= DELIVERY_CHUNK_BYTES_MAX);
    char dir[DELIVERY_PATH_MAX], path[DELIVERY_PATH_MAX], tmp[DELIVERY_PATH_MAX];
    enum err rc = delivery__chunk_path(d, upload_id, -1, dir, err);
    if (rc == ERR_OK) {
        rc = delivery__chunk_path(d, upload_id, n, path, err);
    }
    if (rc == ERR_OK) {
        rc = file_mkdirs(dir, 0700, err);
    }
    if (rc == ERR_OK) {
        rc = temp_path(d, path, tmp, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    size_t sealed_len = CHUNK_NONCE_BYTES + len + DELIVERY_TAG_BYTES;
    unsigned char *sealed = mem_alloc(sealed_len);
    if (sealed == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory sealing a chunk");
    }
    unsigned char ad[ID_MAX + 8];
    size_t ad_len = 0;
    chunk_ad(upload_id, n, ad, &ad_len);
    rng_fill(d->rng, sealed, CHUNK_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + CHUNK_NONCE_BYTES, NULL, data, len, ad,
                                               ad_len, NULL, sealed, key);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        mem_free(sealed);
        return io_error(err, "create", tmp);
    }
    rc = write_all(fd, sealed, sealed_len, tmp, err);
    mem_free(sealed);
    if (rc != ERR_OK) {
        close(fd);
        unlink(tmp);
        return rc;
    }
    return temp_commit(fd, tmp, path, err);
}

enum err delivery__chunk_read(const struct delivery_custody *d, const unsigned char key[32],
                              const char *upload_id, int64_t n, void *out, size_t len,
                              struct errbuf *err)
{
    char path[DELIVERY_PATH_MAX];
    enum err rc = delivery__chunk_path(d, upload_id, n, path, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return io_error(err, "open", path);
    }
    size_t sealed_len = CHUNK_NONCE_BYTES + len + DELIVERY_TAG_BYTES;
    unsigned char *sealed = mem_alloc(sealed_len + 1);
    if (sealed == NULL) {
        close(fd);
        return err_set(err, ERR_NOMEM, "", "out of memory opening a chunk");
    }
    char what[64];
    snprintf(what, sizeof(what), "chunk %lld", (long long)n);
    rc = pread_all(fd, sealed, sealed_len, 0, what, err);
    unsigned char extra = 0;
    if (rc == ERR_OK && pread(fd, &extra, 1, (off_t)sealed_len) != 0) {
        rc = err_set(err, ERR_CORRUPT, "", "chunk %lld is longer than it should be", (long long)n);
    }
    close(fd);
    unsigned char ad[ID_MAX + 8];
    size_t ad_len = 0;
    chunk_ad(upload_id, n, ad, &ad_len);
    if (rc == ERR_OK && crypto_aead_xchacha20poly1305_ietf_decrypt(
                            out, NULL, NULL, sealed + CHUNK_NONCE_BYTES,
                            sealed_len - CHUNK_NONCE_BYTES, ad, ad_len, sealed, key) != 0) {
        rc = err_set(err, ERR_CORRUPT, "", "staged chunk %lld of '%s' fails to open", (long long)n,
                     upload_id);
    }
    mem_free(sealed);
    return rc;
}

void delivery__chunks_remove(const struct delivery_custody *d, const char *upload_id,
                             int64_t chunk_count)
{
    char path[DELIVERY_PATH_MAX];
    for (int64_t n = 0; n < chunk_count; n++) {
        if (delivery__chunk_path(d, upload_id, n, path, NULL) == ERR_OK) {
            unlink(path);
        }
    }
    if (delivery__chunk_path(d, upload_id, -1, path, NULL) == ERR_OK) {
        rmdir(path);
    }
}

/* ---- object files ---- */

static uint64_t record_count(int64_t size)
{
    return size == 0 ? 1 : (uint64_t)((size + DELIVERY_RECORD_BYTES - 1) / DELIVERY_RECORD_BYTES);
}

/*
 * ---- record sealing ----
 *
 * Both formats go through OpenSSL's EVP AEADs, whose code for this CPU's AES, carry-less
 * multiply and AVX-512 instructions is what makes a download fast (ADR 0007), with the same
 * per-record calls: the record key is derived once per file, and a record's nonce is
 * 0^4 || its index (8 bytes little endian).
 *
 * Format 2 is AES-256-GCM under a record key derived from the object key and the file's
 * random prefix. Format 1 is XChaCha20-Poly1305 (IETF) with nonce prefix || index, which by
 * its definition (and libsodium's code) is ChaCha20-Poly1305 of RFC 8439 under the subkey
 * HChaCha20(key, prefix) with nonce 0^4 || index: the same bytes libsodium wrote, which
 * custody_test checks against libsodium itself.
 */

/* "bourse object records v2": the BLAKE2b message that derives a format 2 record key. */
static const char RECORD_KEY_LABEL[] = "bourse object records v2";

/* 2 or 1 for a header of that format, 0 for anything else. */
static int header_format(const unsigned char header[DELIVERY_HEADER_BYTES])
{
    if (memcmp(header, DELIVERY_MAGIC, sizeof(DELIVERY_MAGIC)) == 0) {
        return 2;
    }
    return memcmp(header, DELIVERY_MAGIC_V1, sizeof(DELIVERY_MAGIC_V1)) == 0 ? 1 : 0;
}

/* The record key of a file and its cipher, from the header's format and prefix. */
static const EVP_CIPHER *record_key(const unsigned char key[32],
                                    const unsigned char header[DELIVERY_HEADER_BYTES],
                                    unsigned char subkey[32])
{
    const unsigned char *prefix = header + 24;
    if (header_format(header) == 1) {
        crypto_core_hchacha20(subkey, prefix, key, NULL);
        return EVP_chacha20_poly1305();
    }
    ASSERT(header_format(header) == 2);
    unsigned char msg[sizeof(RECORD_KEY_LABEL) - 1 + 16];
    memcpy(msg, RECORD_KEY_LABEL, sizeof(RECORD_KEY_LABEL) - 1);
    memcpy(msg + sizeof(RECORD_KEY_LABEL) - 1, prefix, 16);
    crypto_generichash(subkey, 32, msg, sizeof(msg), key, 32);
    return EVP_aes_256_gcm();
}

/* A cipher context keyed with the file's record key; enc 1 seals, 0 opens. NULL when out of
 * memory. Free with EVP_CIPHER_CTX_free (which wipes the key). */
static EVP_CIPHER_CTX *record_cipher_new(const unsigned char key[32],
                                         const unsigned char header[DELIVERY_HEADER_BYTES], int enc)
{
    unsigned char subkey[32];
    const EVP_CIPHER *cipher = record_key(key, header, subkey);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    /* Both ciphers take a 12-byte nonce by default; say so for GCM rather than rely on it. */
    if (ctx != NULL && (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
                        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1 ||
                        EVP_CipherInit_ex(ctx, NULL, NULL, subkey, NULL, enc) != 1)) {
        EVP_CIPHER_CTX_free(ctx);
        ctx = NULL;
    }
    sodium_memzero(subkey, sizeof(subkey));
    return ctx;
}

/* Starts record index: its nonce and its associated data (the header || the last flag). */
static int record_begin(EVP_CIPHER_CTX *ctx, const unsigned char header[DELIVERY_HEADER_BYTES],
                        uint64_t index, int last)
{
    unsigned char nonce[12] = {0}, ad[DELIVERY_HEADER_BYTES + 1];
    le64_put(nonce + 4, index);
    memcpy(ad, header, DELIVERY_HEADER_BYTES);
    ad[DELIVERY_HEADER_BYTES] = (unsigned char)(last ? 1 : 0);
    int n = 0;
    return EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, -1) == 1 &&
           EVP_CipherUpdate(ctx, NULL, &n, ad, (int)sizeof(ad)) == 1;
}

/* Seals len (<= DELIVERY_RECORD_BYTES) bytes of plain into out: the ciphertext, then the tag.
 * Cannot fail on a keyed context (asserted). */
static void record_seal(EVP_CIPHER_CTX *ctx, const unsigned char header[DELIVERY_HEADER_BYTES],
                        uint64_t index, int last, const unsigned char *plain, size_t len,
                        unsigned char *out)
{
    ASSERT(len <= DELIVERY_RECORD_BYTES);
    int n = 0, fin = 0;
    int ok = record_begin(ctx, header, index, last) &&
             EVP_CipherUpdate(ctx, out, &n, plain, (int)len) == 1 &&
             EVP_CipherFinal_ex(ctx, out + n, &fin) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, DELIVERY_TAG_BYTES, out + len) == 1;
    ASSERT(ok);
    ASSERT((size_t)n + (size_t)fin == len);
}

/* Opens one record (len plaintext bytes, then the tag, at cipher) into plain, which must not
 * overlap cipher. 0 when it fails to authenticate: OpenSSL writes plaintext before it checks
 * the tag, so plain is wiped then and nothing unauthenticated leaves. */
static int record_unseal(EVP_CIPHER_CTX *ctx, const unsigned char header[DELIVERY_HEADER_BYTES],
                         uint64_t index, int last, const unsigned char *cipher, size_t len,
                         unsigned char *plain)
{
    ASSERT(len <= DELIVERY_RECORD_BYTES);
    int n = 0, fin = 0;
    int ok = record_begin(ctx, header, index, last) &&
             EVP_CipherUpdate(ctx, plain, &n, cipher, (int)len) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, DELIVERY_TAG_BYTES,
                                 (void *)(cipher + len)) == 1 &&
             EVP_CipherFinal_ex(ctx, plain + n, &fin) == 1;
    if (!ok) {
        sodium_memzero(plain, len);
        return 0;
    }
    ASSERT((size_t)n + (size_t)fin == len);
    return 1;
}

struct delivery__writer {
    int fd;
    char tmp[DELIVERY_PATH_MAX];
    char path[DELIVERY_PATH_MAX];
    EVP_CIPHER_CTX *cipher; /* keyed with the file's record subkey */
    unsigned char header[DELIVERY_HEADER_BYTES];
    int64_t size;
    int64_t fed;
    uint64_t index;
    size_t pending; /* plaintext bytes in rec */
    unsigned char rec[DELIVERY_RECORD_BYTES];
    unsigned char out[RECORD_CIPHER_BYTES];
};

static enum err writer_record(struct delivery__writer *w, int last, struct errbuf *err)
{
    record_seal(w->cipher, w->header, w->index, last, w->rec, w->pending, w->out);
    size_t len = w->pending + DELIVERY_TAG_BYTES;
    w->index++;
    w->pending = 0;
    return write_all(w->fd, w->out, len, w->tmp, err);
}

enum err delivery__writer_open(const struct delivery_custody *d, const char *blob, int64_t size,
                               const unsigned char key[32], struct delivery__writer **out,
                               struct errbuf *err)
{
    ASSERT(size >= 0);
    *out = NULL;
    struct delivery__writer *w = mem_calloc(1, sizeof(*w));
    if (w == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory writing an object");
    }
    w->fd = -1;
    char dir[DELIVERY_PATH_MAX];
    enum err rc = delivery__object_path(d, blob, w->path, err);
    if (rc == ERR_OK) {
        dir_of(w->path, dir);
        rc = file_mkdirs(dir, 0700, err);
    }
    if (rc == ERR_OK) {
        rc = temp_path(d, w->path, w->tmp, err);
    }
    if (rc == ERR_OK) {
        w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        rc = w->fd >= 0 ? ERR_OK : io_error(err, "create", w->tmp);
    }
    if (rc != ERR_OK) {
        mem_free(w);
        return rc;
    }
    memcpy(w->header, DELIVERY_MAGIC, sizeof(DELIVERY_MAGIC));
    uint32_t r = DELIVERY_RECORD_BYTES;
    for (int i = 0; i < 4; i++) {
        w->header[8 + i] = (unsigned char)(r >> (8 * i));
    }
    le64_put(w->header + 16, (uint64_t)size);
    rng_fill(d->rng, w->header + 24, 16);
    w->size = size;
    w->cipher = record_cipher_new(key, w->header, 1);
    rc =
        w->cipher != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory sealing an object");
    if (rc == ERR_OK) {
        rc = write_all(w->fd, w->header, sizeof(w->header), w->tmp, err);
    }
    if (rc != ERR_OK) {
        delivery__writer_abort(w);
        return rc;
    }
    *out = w;
    return ERR_OK;
}

enum err delivery__writer_feed(struct delivery__writer *w, const void *data, size_t len,
                               struct errbuf *err)
{
    ASSERT(w->fed + (int64_t)len <= w->size);
    const unsigned char *p = data;
    while (len > 0) {
        /* A full record is sealed only when more data follows: the last one is flagged. */
        if (w->pending == DELIVERY_RECORD_BYTES) {
            enum err rc = writer_record(w, 0, err);
            if (rc != ERR_OK) {
                return rc;
            }
        }
        size_t take = DELIVERY_RECORD_BYTES - w->pending;
        take = take < len ? take : len;
        memcpy(w->rec + w->pending, p, take);
        w->pending += take;
        w->fed += (int64_t)take;
        p += take;
        len -= take;
    }
    return ERR_OK;
}

enum err delivery__writer_finish(struct delivery__writer *w, struct errbuf *err)
{
    ASSERT(w->fed == w->size);
    enum err rc = writer_record(w, 1, err);
    ASSERT(rc != ERR_OK || w->index == record_count(w->size));
    if (rc == ERR_OK) {
        rc = temp_commit(w->fd, w->tmp, w->path, err);
        w->fd = -1;
        w->tmp[0] = '\0';
    }
    if (rc != ERR_OK) {
        delivery__writer_abort(w);
        return rc;
    }
    EVP_CIPHER_CTX_free(w->cipher);
    sodium_memzero(w, sizeof(*w));
    mem_free(w);
    return ERR_OK;
}

void delivery__writer_abort(struct delivery__writer *w)
{
    if (w == NULL) {
        return;
    }
    if (w->fd >= 0) {
        close(w->fd);
    }
    if (w->tmp[0] != '\0') {
        unlink(w->tmp);
    }
    EVP_CIPHER_CTX_free(w->cipher);
    sodium_memzero(w, sizeof(*w));
    mem_free(w);
}

struct delivery_object_file {
    int fd;
    EVP_CIPHER_CTX *cipher_ctx; /* keyed with the file's record subkey */
    unsigned char header[DELIVERY_HEADER_BYTES];
    int64_t size;
    uint64_t count;
    int64_t cached; /* index of the record in plain, -1 for none */
    unsigned char cipher[RECORD_BATCH * RECORD_CIPHER_BYTES];
    unsigned char plain[DELIVERY_RECORD_BYTES];
};

static enum err header_check(struct delivery_object_file *r, const struct store_object *o,
                             struct errbuf *err)
{
    uint32_t rec = 0;
    for (int i = 3; i >= 0; i--) {
        rec = rec << 8 | r->header[8 + i];
    }
    static const unsigned char zero[4] = {0, 0, 0, 0};
    if (header_format(r->header) == 0 || rec != DELIVERY_RECORD_BYTES ||
        memcmp(r->header + 12, zero, 4) != 0 || le64_get(r->header + 16) != (uint64_t)o->size) {
        return err_set(err, ERR_CORRUPT, "", "the file of object '%s' is not its object file",
                       o->id);
    }
    r->size = o->size;
    r->count = record_count(o->size);
    struct stat st;
    int64_t want = DELIVERY_HEADER_BYTES + (int64_t)r->count * DELIVERY_TAG_BYTES + o->size;
    if (fstat(r->fd, &st) != 0 || st.st_size != want) {
        return err_set(err, ERR_CORRUPT, "", "the file of object '%s' has the wrong length", o->id);
    }
    return ERR_OK;
}

enum err delivery_object_open(const struct delivery_custody *d, const struct store_object *o,
                              struct delivery_object_file **out, struct errbuf *err)
{
    *out = NULL;
    char path[DELIVERY_PATH_MAX];
    enum err rc = delivery__object_path(d, o->blob, path, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct delivery_object_file *r = mem_alloc(sizeof(*r));
    if (r == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory opening an object");
    }
    r->cached = -1;
    r->cipher_ctx = NULL;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = io_error(err, "open", path);
        mem_free(r);
        return rc;
    }
    unsigned char key[32];
    rc = delivery__key_unwrap(d, o->id, o->wrapped_key, key, err);
    if (rc == ERR_OK) {
        rc = pread_all(r->fd, r->header, sizeof(r->header), 0, "an object header", err);
    }
    if (rc == ERR_OK) {
        rc = header_check(r, o, err);
    }
    if (rc == ERR_OK) {
        r->cipher_ctx = record_cipher_new(key, r->header, 0);
        rc = r->cipher_ctx != NULL ? ERR_OK
                                   : err_set(err, ERR_NOMEM, "", "out of memory opening an object");
    }
    sodium_memzero(key, sizeof(key));
    if (rc != ERR_OK) {
        delivery_object_close(r);
        return rc;
    }
    *out = r;
    return ERR_OK;
}

/* Plaintext bytes of record index. */
static size_t record_plain_bytes(const struct delivery_object_file *r, uint64_t index)
{
    int64_t left = r->size - (int64_t)index * DELIVERY_RECORD_BYTES;
    return left < DELIVERY_RECORD_BYTES ? (size_t)left : DELIVERY_RECORD_BYTES;
}

/*
 * Decrypts the records [index, index + n) (n <= RECORD_BATCH) into dst, which has room for
 * their plaintext (returned in *len): one pread of their ciphertext into r->cipher, then each
 * record straight into its place in dst, so the bytes are copied once (by pread) before the
 * cipher reads them and written once, where the caller wants them.
 */
static enum err records_open(struct delivery_object_file *r, uint64_t index, uint64_t n,
                             unsigned char *dst, size_t *len, struct errbuf *err)
{
    ASSERT(n >= 1 && n <= RECORD_BATCH);
    ASSERT(index + n <= r->count);
    size_t plain_total =
        (size_t)(n - 1) * DELIVERY_RECORD_BYTES + record_plain_bytes(r, index + n - 1);
    int64_t at = DELIVERY_HEADER_BYTES + (int64_t)index * RECORD_CIPHER_BYTES;
    enum err rc = pread_all(r->fd, r->cipher, plain_total + (size_t)n * DELIVERY_TAG_BYTES, at,
                            "an object record", err);
    for (uint64_t i = 0; rc == ERR_OK && i < n; i++) {
        uint64_t k = index + i;
        if (!record_unseal(r->cipher_ctx, r->header, k, k + 1 == r->count,
                           r->cipher + i * RECORD_CIPHER_BYTES, record_plain_bytes(r, k),
                           dst + i * DELIVERY_RECORD_BYTES)) {
            /* What the earlier records of the batch decrypted goes too. */
            sodium_memzero(dst, (size_t)i * DELIVERY_RECORD_BYTES);
            rc = err_set(err, ERR_CORRUPT, "", "record %llu of an object fails to authenticate",
                         (unsigned long long)k);
        }
    }
    *len = rc == ERR_OK ? plain_total : 0;
    return rc;
}

/* Records of the read at offset (record-aligned) that are whole in [offset, offset + len). */
static uint64_t whole_records(const struct delivery_object_file *r, int64_t offset, size_t len)
{
    uint64_t index = (uint64_t)(offset / DELIVERY_RECORD_BYTES);
    uint64_t n = 0;
    while (n < RECORD_BATCH && index + n < r->count && record_plain_bytes(r, index + n) <= len) {
        len -= record_plain_bytes(r, index + n);
        n++;
    }
    return n;
}

/* Copies the part of record index at skip (at most len bytes) out of the one-record cache,
 * decrypting it first unless it is there; *took says how many bytes. */
static enum err record_part(struct delivery_object_file *r, uint64_t index, size_t skip,
                            unsigned char *dst, size_t len, size_t *took, struct errbuf *err)
{
    if (r->cached != (int64_t)index) {
        size_t plain = 0;
        r->cached = -1;
        enum err rc = records_open(r, index, 1, r->plain, &plain, err);
        if (rc != ERR_OK) {
            return rc;
        }
        r->cached = (int64_t)index;
    }
    size_t plain = record_plain_bytes(r, index);
    ASSERT(skip < plain);
    *took = plain - skip < len ? plain - skip : len;
    memcpy(dst, r->plain + skip, *took);
    return ERR_OK;
}

enum err delivery_object_read(struct delivery_object_file *r, int64_t offset, void *out, size_t len,
                              struct errbuf *err)
{
    ASSERT(offset >= 0 && offset + (int64_t)len <= r->size);
    unsigned char *p = out;
    while (len > 0) {
        uint64_t index = (uint64_t)(offset / DELIVERY_RECORD_BYTES);
        size_t skip = (size_t)(offset % DELIVERY_RECORD_BYTES);
        uint64_t n = skip == 0 ? whole_records(r, offset, len) : 0;
        size_t took = 0;
        /* Whole records go straight into the caller's buffer; a part goes through the cache,
         * so a read of small pieces decrypts each record once. */
        enum err rc = n > 0 ? records_open(r, index, n, p, &took, err)
                            : record_part(r, index, skip, p, len, &took, err);
        if (rc != ERR_OK) {
            return rc;
        }
        ASSERT(took > 0 && took <= len);
        p += took;
        offset += (int64_t)took;
        len -= took;
    }
    return ERR_OK;
}

void delivery_object_close(struct delivery_object_file *r)
{
    if (r == NULL) {
        return;
    }
    if (r->fd >= 0) {
        close(r->fd);
    }
    EVP_CIPHER_CTX_free(r->cipher_ctx);
    sodium_memzero(r->plain, sizeof(r->plain));
    mem_free(r);
}

/* ---- ranges ---- */

/* Parses digits [p, end) as a non-negative int64; 0 when empty, not digits or too large. */
static int digits(const char *p, const char *end, int64_t *out)
{
    if (p == end || end - p > 18) {
        return 0;
    }
    int64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 1;
}

enum delivery_range delivery_range_parse(const char *value, size_t len, int64_t size,
                                         int64_t *first, int64_t *last)
{
    static const char unit[] = "bytes=";
    if (value == NULL || len < sizeof(unit) || strncasecmp(value, unit, sizeof(unit) - 1) != 0) {
        return DELIVERY_RANGE_WHOLE;
    }
    const char *p = value + sizeof(unit) - 1;
    const char *end = value + len;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    const char *dash = memchr(p, '-', (size_t)(end - p));
    /* Several ranges would need multipart/byteranges: RFC 9110 lets a server ignore them. */
    if (dash == NULL || memchr(p, ',', (size_t)(end - p)) != NULL) {
        return DELIVERY_RANGE_WHOLE;
    }
    int64_t a = 0, b = 0;
    if (dash == p) { /* "-N": the last N bytes */
        if (!digits(dash + 1, end, &b)) {
            return DELIVERY_RANGE_WHOLE;
        }
        if (b == 0 || size == 0) {
            return DELIVERY_RANGE_UNSATISFIABLE;
        }
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return DELIVERY_RANGE_PARTIAL;
    }
    if (!digits(p, dash, &a)) {
        return DELIVERY_RANGE_WHOLE;
    }
    if (dash + 1 == end) {
        b = INT64_MAX;
    } else if (!digits(dash + 1, end, &b) || b < a) {
        return DELIVERY_RANGE_WHOLE; /* an invalid range is ignored, not refused */
    }
    if (a >= size) {
        return DELIVERY_RANGE_UNSATISFIABLE;
    }
    *first = a;
    *last = b >= size ? size - 1 : b;
    return DELIVERY_RANGE_PARTIAL;
}

/* ---- events ---- */

enum err delivery__event(struct delivery_custody *d, const char *type, const char *actor,
                         const char *subject, int64_t time_ms, json_t *body, int64_t *seq,
                         struct errbuf *err)
{
    if (body == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory building an event");
    }
    return store_event_append(d->store, type, actor, subject, time_ms, body, seq, err);
}
