/*
 * key.c: local key files and `bourse key gen`. An entity signs contracts with its own Ed25519
 * key so that the exchange cannot forge consent (design §4); the key is made and kept here, on
 * the client's machine, and only the public half is ever sent (with `entity apply`).
 *
 * Files:
 *   PATH      mode 0600, one line: standard padded base64 of the 32-byte seed (44 characters)
 *   PATH.pub  mode 0644, one line: standard padded base64 of the 32-byte public key
 * Storing the seed rather than libsodium's 64-byte secret key keeps the file minimal; the key
 * pair is derived again on load. Files are created with O_EXCL so a key is never overwritten.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"

_Static_assert(crypto_sign_SEEDBYTES == 32, "a seed is 32 bytes");
_Static_assert(crypto_sign_PUBLICKEYBYTES == 32, "a public key is 32 bytes");
_Static_assert(sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL) == CLI_KEY_B64_LEN + 1,
               "44 base64 characters and a NUL");

/* ---- files ---- */

enum err cli__file_read(const char *path, size_t max, char **out, size_t *len, struct errbuf *err)
{
    ASSERT(path != NULL);
    ASSERT(out != NULL && len != NULL);
    enum err rc = ERR_OK;
    char *data = NULL;
    size_t used = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return err_set(err, ERR_IO, NULL, "cannot open '%s': %s", path, strerror(errno));
    }
    data = mem_alloc(max + 1);
    if (data == NULL) {
        rc = err_set(err, ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (;;) {
        /* Ask for one byte more than max so that a larger file is noticed. */
        ssize_t n = read(fd, data + used, max + 1 - used);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = err_set(err, ERR_IO, NULL, "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (n == 0) {
            break;
        }
        used += (size_t)n;
        if (used > max) {
            rc = err_set(err, ERR_LIMIT, NULL, "'%s' is larger than %zu bytes", path, max);
            goto out;
        }
    }
    data[used] = '\0';
    *out = data;
    *len = used;
    data = NULL;
out:
    if (data != NULL) {
        sodium_memzero(data, max + 1);
        mem_free(data);
    }
    close(fd);
    return rc;
}

static enum err write_all(int fd, const char *path, const void *data, size_t len,
                          struct errbuf *err)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return err_set(err, ERR_IO, NULL, "cannot write '%s': %s", path, strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0) {
        return err_set(err, ERR_IO, NULL, "cannot sync '%s': %s", path, strerror(errno));
    }
    return ERR_OK;
}

enum err cli__file_create(const char *path, unsigned mode, const void *data, size_t len,
                          struct errbuf *err)
{
    ASSERT(path != NULL);
    ASSERT(data != NULL || len == 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
    if (fd < 0 && errno == EEXIST) {
        return err_set(err, ERR_CONFLICT, NULL, "'%s' exists; refusing to overwrite it", path);
    }
    if (fd < 0) {
        return err_set(err, ERR_IO, NULL, "cannot create '%s': %s", path, strerror(errno));
    }
    enum err rc = write_all(fd, path, data, len, err);
    if (close(fd) != 0 && rc == ERR_OK) {
        rc = err_set(err, ERR_IO, NULL, "cannot close '%s': %s", path, strerror(errno));
    }
    if (rc != ERR_OK) {
        unlink(path);
    }
    return rc;
}

enum err cli__file_absent(const char *path, struct errbuf *err)
{
    ASSERT(path != NULL);
    struct stat st;
    if (lstat(path, &st) == 0) {
        return err_set(err, ERR_CONFLICT, NULL, "'%s' exists; refusing to overwrite it", path);
    }
    return ERR_OK;
}

/* ---- keys ---- */

void cli_key_encode(const unsigned char key[crypto_sign_PUBLICKEYBYTES],
                    char out[CLI_KEY_B64_LEN + 1])
{
    ASSERT(key != NULL);
    ASSERT(out != NULL);
    sodium_bin2base64(out, CLI_KEY_B64_LEN + 1, key, 32, sodium_base64_VARIANT_ORIGINAL);
    DEBUG_ASSERT(strlen(out) == CLI_KEY_B64_LEN);
}

/* Decodes base64 text (blanks and newlines around it ignored) of exactly 32 bytes. */
static int decode32(const char *text, size_t len, unsigned char out[32])
{
    while (len > 0 && strchr(" \t\r\n", text[len - 1]) != NULL) {
        len--;
    }
    while (len > 0 && strchr(" \t\r\n", text[0]) != NULL) {
        text++;
        len--;
    }
    size_t bin_len = 0;
    const char *end = NULL;
    if (len != CLI_KEY_B64_LEN || sodium_base642bin(out, 32, text, len, NULL, &bin_len, &end,
                                                    sodium_base64_VARIANT_ORIGINAL) != 0) {
        return -1;
    }
    return bin_len == 32 && end == text + len ? 0 : -1;
}

enum err cli_key_public_decode(const char *text, size_t len,
                               unsigned char pk[crypto_sign_PUBLICKEYBYTES], struct errbuf *err)
{
    ASSERT(text != NULL);
    ASSERT(pk != NULL);
    if (decode32(text, len, pk) != 0) {
        return err_set(err, ERR_INVALID, "public_key",
                       "a public key is the base64 of 32 bytes (44 characters)");
    }
    if (crypto_core_ed25519_is_valid_point(pk) != 1) {
        return err_set(err, ERR_INVALID, "public_key", "the public key is not an Ed25519 key");
    }
    return ERR_OK;
}

enum err cli_key_generate(const char *path, unsigned char pk[crypto_sign_PUBLICKEYBYTES],
                          struct errbuf *err)
{
    ASSERT(path != NULL);
    ASSERT(pk != NULL);
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    unsigned char seed[crypto_sign_SEEDBYTES];
    char line[CLI_KEY_B64_LEN + 2];
    struct buf pub_path;
    buf_init(&pub_path, strlen(path) + 8);
    enum err rc = buf_appendf(&pub_path, "%s.pub", path);
    if (rc != ERR_OK) {
        rc = err_set(err, ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    rc = cli__file_absent(pub_path.data, err);
    if (rc != ERR_OK) {
        goto out;
    }
    crypto_sign_keypair(pk, sk);
    crypto_sign_ed25519_sk_to_seed(seed, sk);
    cli_key_encode(seed, line);
    line[CLI_KEY_B64_LEN] = '\n';
    rc = cli__file_create(path, 0600, line, CLI_KEY_B64_LEN + 1, err);
    if (rc != ERR_OK) {
        goto out;
    }
    cli_key_encode(pk, line);
    line[CLI_KEY_B64_LEN] = '\n';
    rc = cli__file_create(pub_path.data, 0644, line, CLI_KEY_B64_LEN + 1, err);
    if (rc != ERR_OK) {
        unlink(path); /* leave nothing half made */
    }
out:
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(line, sizeof(line));
    buf_release(&pub_path);
    return rc;
}

enum err cli_key_load(const char *path, unsigned char sk[crypto_sign_SECRETKEYBYTES],
                      unsigned char pk[crypto_sign_PUBLICKEYBYTES], struct errbuf *err)
{
    ASSERT(path != NULL);
    ASSERT(sk != NULL && pk != NULL);
    unsigned char seed[crypto_sign_SEEDBYTES];
    char *text = NULL;
    size_t len = 0;
    enum err rc = cli__file_read(path, CLI_KEY_FILE_BYTES_MAX, &text, &len, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (decode32(text, len, seed) != 0) {
        rc = err_set(err, ERR_INVALID, NULL, "'%s' does not hold a base64 Ed25519 seed", path);
        goto out;
    }
    if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
        rc = err_set(err, ERR_INVALID, NULL, "'%s' does not hold a usable Ed25519 seed", path);
    }
out:
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(text, len);
    mem_free(text);
    return rc;
}

enum err cli_key_load_public(const char *path, unsigned char pk[crypto_sign_PUBLICKEYBYTES],
                             struct errbuf *err)
{
    ASSERT(path != NULL);
    ASSERT(pk != NULL);
    char *text = NULL;
    size_t len = 0;
    enum err rc = cli__file_read(path, CLI_KEY_FILE_BYTES_MAX, &text, &len, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct errbuf why;
    errbuf_init(&why);
    rc = cli_key_public_decode(text, len, pk, &why);
    if (rc != ERR_OK) {
        rc = err_set(err, rc, NULL, "'%s': %s", path, why.msg);
    }
    mem_free(text);
    return rc;
}

/* ---- bourse key gen ---- */

static int key_gen(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *path = cli__arg(a, "out");
    ASSERT(path != NULL); /* required */
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    char pk_text[CLI_KEY_B64_LEN + 1];
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = cli_key_generate(path, pk, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    cli_key_encode(pk, pk_text);
    if (c->json) {
        fprintf(c->out, "{\n  \"public_key\": \"%s\"\n}\n", pk_text);
        return CLI_EXIT_OK;
    }
    cli__print_field(c, "public key", pk_text);
    fputs("secret key written to '", c->out);
    cli__print_text(c->out, path);
    fputs("' (keep it private), public key to '", c->out);
    cli__print_text(c->out, path);
    fputs(".pub'\n", c->out);
    return CLI_EXIT_OK;
}

static const struct cli_option key_gen_options[] = {
    {"out", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__key_commands[] = {
    {"key", "gen", key_gen, NULL, key_gen_options, NULL, CLI_CMD_LOCAL, "--out FILE",
     "make an Ed25519 signing key pair locally: FILE (secret, 0600) and FILE.pub"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
