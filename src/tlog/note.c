/*
 * note.c: Ed25519 keys and C2SP signed notes (c2sp.org/signed-note), compatible with Go's
 * golang.org/x/mod/sumdb/note, plus the small text helpers the other formats share.
 *
 * Parsing is strict on purpose: base64 must be canonical (padded, unused bits zero) so that a
 * signature has exactly one spelling, names follow the note rules, and every loop over input is
 * bounded by TLOG_NOTE_MAX bytes and TLOG_NOTE_SIGS_MAX lines. Secrets (the signer) are wiped
 * with sodium_memzero, including temporary copies.
 */
#include "util/compat.h"
#include "tlog/tlog.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "tlog/tlog_int.h"
#include "util/banned.h"

#define ALG_ED25519 0x01
#define KEY_HASH_HEX_LEN 8
#define SIGNER_PREFIX "PRIVATE+KEY+"
#define SIGNER_PREFIX_LEN (sizeof(SIGNER_PREFIX) - 1)
/* "— ": U+2014 EM DASH then a space. */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN 4
/* A signature line's base64: key hash and signature, 68 bytes for Ed25519. */
#define SIG_BYTES (4 + TLOG_SIGNATURE_LEN)
#define SIG_B64_LEN ((size_t)(SIG_BYTES + 2) / 3 * 4) /* 92 */

_Static_assert(sizeof(sig_prefix) - 1 == SIG_PREFIX_LEN, "em dash is 3 bytes, then a space");
_Static_assert(TLOG_PUBLIC_KEY_LEN == crypto_sign_PUBLICKEYBYTES, "Ed25519 public key");
_Static_assert(TLOG_SEED_LEN == crypto_sign_SEEDBYTES, "Ed25519 seed");
_Static_assert(TLOG_SIGNATURE_LEN == crypto_sign_BYTES, "Ed25519 signature");
_Static_assert(sizeof(((struct tlog_signer *)0)->secret_key) == crypto_sign_SECRETKEYBYTES,
               "libsodium secret key");

/* ---- base64 ---- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Length of the base64 encoding of n bytes. Used only by an assert. */
static size_t base64_len(size_t n)
{
    ASSERT(n <= SIZE_MAX / 4 - 2);
    return (n + 2) / 3 * 4;
}

void tlog__base64_encode(const uint8_t *in, size_t n, char *out)
{
    ASSERT(in != NULL || n == 0);
    ASSERT(out != NULL);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= in[i + 2];
        }
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = (char)(i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=');
        out[o++] = (char)(i + 2 < n ? b64_alphabet[v & 63] : '=');
    }
    out[o] = '\0';
    ASSERT(o == base64_len(n));
}

/* The 6-bit value of a base64 character, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

int tlog__base64_decode(const char *s, size_t len, uint8_t *out, size_t out_max,
                        size_t *decoded_len)
{
    ASSERT(s != NULL || len == 0);
    ASSERT(out != NULL || out_max == 0);
    ASSERT(decoded_len != NULL);
    if (len % 4 != 0) {
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        int v[4];
        for (size_t k = 0; k < 4; k++) {
            v[k] = b64_value((unsigned char)s[i + k]);
        }
        /* Padding: only in the last quad, "xx==" or "xxx=". */
        size_t bytes = 3;
        if (last && s[i + 3] == '=') {
            bytes = s[i + 2] == '=' ? 1 : 2;
        }
        if (v[0] < 0 || v[1] < 0 || (bytes >= 2 && v[2] < 0) || (bytes == 3 && v[3] < 0)) {
            return 0;
        }
        /* Unused bits must be zero: one spelling per byte string. */
        if ((bytes == 1 && (v[1] & 15) != 0) || (bytes == 2 && (v[2] & 3) != 0)) {
            return 0;
        }
        uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12);
        if (bytes >= 2) {
            w |= (uint32_t)v[2] << 6;
        }
        if (bytes == 3) {
            w |= (uint32_t)v[3];
        }
        for (size_t k = 0; k < bytes; k++) {
            if (n < out_max) {
                out[n] = (uint8_t)(w >> (16 - 8 * k));
            }
            n++;
        }
    }
    *decoded_len = n;
    return 1;
}

/* ---- text ---- */

int tlog__note_text_valid(const char *s, size_t len)
{
    ASSERT(s != NULL || len == 0);
    if (len == 0) {
        return 1;
    }
    /* text_valid_utf8 also admits tab and carriage return, which notes forbid. */
    if (memchr(s, '\t', len) != NULL || memchr(s, '\r', len) != NULL) {
        return 0;
    }
    return text_valid_utf8(s, len);
}

/*
 * Decodes the code point at s[*i] of valid UTF-8 and advances *i. The caller has checked the
 * whole string with text_valid_utf8.
 */
static uint32_t utf8_next(const char *s, size_t len, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[*i];
    size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    ASSERT(*i + n <= len);
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1fu) : n == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (size_t k = 1; k < n; k++) {
        cp = (cp << 6) | (p[*i + k] & 0x3fu);
    }
    *i += n;
    return cp;
}

/* Go's unicode.IsSpace. */
static int is_space(uint32_t cp)
{
    switch (cp) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200a;
    }
}

int tlog__key_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > TLOG_KEY_NAME_MAX || !tlog__note_text_valid(s, len)) {
        return 0;
    }
    size_t i = 0;
    while (i < len) {
        uint32_t cp = utf8_next(s, len, &i);
        if (cp == '+' || cp == '\n' || is_space(cp)) {
            return 0;
        }
    }
    return 1;
}

int tlog__origin_valid(const char *s, size_t len)
{
    if (len == 0 || len > TLOG_ORIGIN_MAX || !tlog__note_text_valid(s, len) ||
        memchr(s, '\n', len) != NULL) {
        return 0;
    }
    /* No leading or trailing space of any kind, so an origin is never blank or padded. */
    size_t i = 0;
    uint32_t cp = utf8_next(s, len, &i);
    if (is_space(cp)) {
        return 0;
    }
    while (i < len) {
        cp = utf8_next(s, len, &i);
    }
    return !is_space(cp);
}

int tlog__parse_decimal(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    ASSERT(out != NULL);
    if (len == 0 || len > 20 || (len > 1 && s[0] == '0')) {
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (d > max || v > (max - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* ---- keys ---- */

static uint32_t key_hash(const char *name, size_t name_len,
                         const uint8_t public_key[TLOG_PUBLIC_KEY_LEN])
{
    static const uint8_t sep[2] = {'\n', ALG_ED25519};
    uint8_t sum[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)name, name_len);
    crypto_hash_sha256_update(&st, sep, sizeof(sep));
    crypto_hash_sha256_update(&st, public_key, TLOG_PUBLIC_KEY_LEN);
    crypto_hash_sha256_final(&st, sum);
    return ((uint32_t)sum[0] << 24) | ((uint32_t)sum[1] << 16) | ((uint32_t)sum[2] << 8) |
           (uint32_t)sum[3];
}

/* Builds the signer for a valid name of name_len bytes. Cannot fail. */
static void signer_build(const char *name, size_t name_len, const uint8_t seed[TLOG_SEED_LEN],
                         struct tlog_signer *signer)
{
    ASSERT(name != NULL);
    ASSERT(tlog__key_name_valid(name, name_len));
    /* The whole struct is defined, so it can be compared and copied byte for byte. */
    memset(signer->name, 0, sizeof(signer->name));
    memcpy(signer->name, name, name_len);
    signer->name[name_len] = '\0';
    /* crypto_sign_seed_keypair cannot fail for a 32-byte seed. */
    int rc = crypto_sign_seed_keypair(signer->public_key, signer->secret_key, seed);
    ASSERT(rc == 0);
    signer->key_hash = key_hash(name, name_len, signer->public_key);
}

enum err tlog_signer_from_seed(const char *name, const uint8_t seed[TLOG_SEED_LEN],
                               struct tlog_signer *signer, struct errbuf *err)
{
    ASSERT(name != NULL);
    ASSERT(seed != NULL);
    ASSERT(signer != NULL);
    size_t name_len = strlen(name);
    if (!tlog__key_name_valid(name, name_len)) {
        return err_set(err, ERR_INVALID, "name", "invalid key name '%.64s'", name);
    }
    signer_build(name, name_len, seed, signer);
    return ERR_OK;
}

void tlog_signer_release(struct tlog_signer *signer)
{
    if (signer == NULL) {
        return;
    }
    sodium_memzero(signer, sizeof(*signer));
}

void tlog_signer_verifier(const struct tlog_signer *signer, struct tlog_verifier *verifier)
{
    ASSERT(signer != NULL);
    ASSERT(verifier != NULL);
    memcpy(verifier->name, signer->name, sizeof(verifier->name));
    verifier->key_hash = signer->key_hash;
    memcpy(verifier->public_key, signer->public_key, TLOG_PUBLIC_KEY_LEN);
}

/* Writes "<name>+<hash>+base64(0x01 || key)" to out (room for out_max bytes). */
static void key_format(const char *name, uint32_t hash, const uint8_t key[32], char *out,
                       size_t out_max)
{
    uint8_t raw[1 + 32];
    raw[0] = ALG_ED25519;
    memcpy(raw + 1, key, 32);
    char b64[45];
    tlog__base64_encode(raw, sizeof(raw), b64);
    int n = snprintf(out, out_max, "%s+%08lx+%s", name, (unsigned long)hash, b64);
    ASSERT(n > 0 && (size_t)n < out_max);
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(b64, sizeof(b64));
}

void tlog_verifier_format(const struct tlog_verifier *verifier, char out[TLOG_VERIFIER_KEY_MAX])
{
    ASSERT(verifier != NULL);
    ASSERT(out != NULL);
    key_format(verifier->name, verifier->key_hash, verifier->public_key, out,
               TLOG_VERIFIER_KEY_MAX);
}

void tlog_signer_format(const struct tlog_signer *signer, char out[TLOG_SIGNER_KEY_MAX])
{
    ASSERT(signer != NULL);
    ASSERT(out != NULL);
    memcpy(out, SIGNER_PREFIX, SIGNER_PREFIX_LEN);
    /* libsodium's secret key starts with the 32-byte seed. */
    key_format(signer->name, signer->key_hash, signer->secret_key, out + SIGNER_PREFIX_LEN,
               TLOG_SIGNER_KEY_MAX - SIGNER_PREFIX_LEN);
}

/* A key string split at its two "+": name, key hash and decoded key. */
struct key_parts {
    const char *name;
    size_t name_len;
    uint32_t hash;
    uint8_t key[32];
};

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Parses "<name>+<8 hex>+base64(0x01 || 32 bytes)". Returns ERR_OK or ERR_INVALID. */
static enum err key_split(const char *s, size_t len, struct key_parts *parts, struct errbuf *err)
{
    ASSERT(parts != NULL);
    const char *plus1 = len > 0 ? memchr(s, '+', len) : NULL;
    if (plus1 == NULL) {
        return err_set(err, ERR_INVALID, "key", "malformed key: no '+'");
    }
    size_t name_len = (size_t)(plus1 - s);
    const char *rest = plus1 + 1;
    size_t rest_len = len - name_len - 1;
    if (rest_len < KEY_HASH_HEX_LEN + 1 || rest[KEY_HASH_HEX_LEN] != '+') {
        return err_set(err, ERR_INVALID, "key", "malformed key: want 8 hex digits of key hash");
    }
    if (!tlog__key_name_valid(s, name_len)) {
        return err_set(err, ERR_INVALID, "key", "malformed key: invalid key name");
    }
    uint32_t hash = 0;
    for (size_t i = 0; i < KEY_HASH_HEX_LEN; i++) {
        int v = hex_value(rest[i]);
        if (v < 0) {
            return err_set(err, ERR_INVALID, "key", "malformed key: bad hex in key hash");
        }
        hash = (hash << 4) | (uint32_t)v;
    }
    const char *b64 = rest + KEY_HASH_HEX_LEN + 1;
    size_t b64_len = rest_len - KEY_HASH_HEX_LEN - 1;
    uint8_t raw[1 + 32];
    size_t raw_len;
    if (!tlog__base64_decode(b64, b64_len, raw, sizeof(raw), &raw_len) || raw_len == 0) {
        return err_set(err, ERR_INVALID, "key", "malformed key: bad base64");
    }
    if (raw[0] != ALG_ED25519) {
        sodium_memzero(raw, sizeof(raw));
        return err_set(err, ERR_INVALID, "key", "unknown key algorithm %u", raw[0]);
    }
    if (raw_len != sizeof(raw)) {
        sodium_memzero(raw, sizeof(raw));
        return err_set(err, ERR_INVALID, "key", "malformed key: %zu bytes, want 33", raw_len);
    }
    parts->name = s;
    parts->name_len = name_len;
    parts->hash = hash;
    memcpy(parts->key, raw + 1, 32);
    sodium_memzero(raw, sizeof(raw));
    return ERR_OK;
}

enum err tlog_verifier_parse(const char *s, size_t len, struct tlog_verifier *verifier,
                             struct errbuf *err)
{
    ASSERT(s != NULL || len == 0);
    ASSERT(verifier != NULL);
    struct key_parts parts = {NULL, 0, 0, {0}};
    enum err rc = key_split(s, len, &parts, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (key_hash(parts.name, parts.name_len, parts.key) != parts.hash) {
        return err_set(err, ERR_INVALID, "key", "key hash does not match the key");
    }
    memset(verifier->name, 0, sizeof(verifier->name));
    memcpy(verifier->name, parts.name, parts.name_len);
    verifier->key_hash = parts.hash;
    memcpy(verifier->public_key, parts.key, TLOG_PUBLIC_KEY_LEN);
    return ERR_OK;
}

enum err tlog_signer_parse(const char *s, size_t len, struct tlog_signer *signer,
                           struct errbuf *err)
{
    ASSERT(s != NULL || len == 0);
    ASSERT(signer != NULL);
    if (len < SIGNER_PREFIX_LEN || memcmp(s, SIGNER_PREFIX, SIGNER_PREFIX_LEN) != 0) {
        return err_set(err, ERR_INVALID, "key", "malformed signer key: want 'PRIVATE+KEY+'");
    }
    struct key_parts parts = {NULL, 0, 0, {0}};
    enum err rc = key_split(s + SIGNER_PREFIX_LEN, len - SIGNER_PREFIX_LEN, &parts, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct tlog_signer tmp;
    signer_build(parts.name, parts.name_len, parts.key, &tmp);
    sodium_memzero(parts.key, sizeof(parts.key));
    if (tmp.key_hash != parts.hash) {
        tlog_signer_release(&tmp);
        return err_set(err, ERR_INVALID, "key", "key hash does not match the key");
    }
    *signer = tmp;
    tlog_signer_release(&tmp);
    return ERR_OK;
}

/* ---- signed notes ---- */

enum err tlog_note_sign(const char *text, size_t len, const struct tlog_signer *signer,
                        struct buf *out, struct errbuf *err)
{
    ASSERT(text != NULL || len == 0);
    ASSERT(signer != NULL);
    ASSERT(out != NULL);
    size_t name_len = strlen(signer->name);
    ASSERT(tlog__key_name_valid(signer->name, name_len));
    if (len == 0 || text[len - 1] != '\n' || !tlog__note_text_valid(text, len)) {
        return err_set(err, ERR_INVALID, "text", "note text must be UTF-8 ending in a newline");
    }
    size_t sig_line = SIG_PREFIX_LEN + name_len + 1 + SIG_B64_LEN + 1;
    if (len > TLOG_NOTE_MAX || TLOG_NOTE_MAX - len < 1 + sig_line) {
        return err_set(err, ERR_INVALID, "text", "note text of %zu bytes is too long", len);
    }
    uint8_t sig[SIG_BYTES];
    sig[0] = (uint8_t)(signer->key_hash >> 24);
    sig[1] = (uint8_t)(signer->key_hash >> 16);
    sig[2] = (uint8_t)(signer->key_hash >> 8);
    sig[3] = (uint8_t)signer->key_hash;
    int rc =
        crypto_sign_detached(sig + 4, NULL, (const unsigned char *)text, len, signer->secret_key);
    ASSERT(rc == 0);
    char b64[SIG_B64_LEN + 1];
    tlog__base64_encode(sig, sizeof(sig), b64);

    size_t len0 = out->len;
    enum err e = buf_append(out, text, len);
    if (e == ERR_OK) {
        e = buf_append(out, "\n", 1);
    }
    if (e == ERR_OK) {
        e = buf_append(out, sig_prefix, SIG_PREFIX_LEN);
    }
    if (e == ERR_OK) {
        e = buf_appendf(out, "%s %s\n", signer->name, b64);
    }
    if (e != ERR_OK) {
        out->len = len0;
        if (out->data != NULL) {
            out->data[len0] = '\0';
        }
        return err_set(err, e, "", "cannot append signed note: %s", err_name(e));
    }
    return ERR_OK;
}

/* Finds the blank line that ends the text: the last "\n\n". Returns the text's length or 0. */
static size_t note_split(const char *note, size_t len)
{
    for (size_t i = len - 1; i > 0; i--) {
        if (note[i] == '\n' && note[i - 1] == '\n') {
            return i;
        }
    }
    return 0;
}

/* The state of one note check: the verifier and how many of its signatures verified. */
struct note_check {
    const struct tlog_verifier *verifier;
    size_t verifier_name_len;
    const char *text;
    size_t text_len;
    size_t verified;
};

/* Checks one signature line line[0..len) (without its newline). */
static enum err note_check_line(struct note_check *c, const char *line, size_t len,
                                struct errbuf *err)
{
    if (len < SIG_PREFIX_LEN || memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0) {
        return err_set(err, ERR_INVALID, "note", "malformed note: signature line without '— '");
    }
    line += SIG_PREFIX_LEN;
    len -= SIG_PREFIX_LEN;
    const char *space = memchr(line, ' ', len);
    if (space == NULL) {
        return err_set(err, ERR_INVALID, "note", "malformed note: signature line without key");
    }
    size_t name_len = (size_t)(space - line);
    const char *b64 = space + 1;
    size_t b64_len = len - name_len - 1;
    uint8_t sig[SIG_BYTES];
    size_t sig_len;
    if (!tlog__key_name_valid(line, name_len) ||
        !tlog__base64_decode(b64, b64_len, sig, sizeof(sig), &sig_len) || sig_len < 5) {
        return err_set(err, ERR_INVALID, "note", "malformed note: bad signature line");
    }
    uint32_t hash = ((uint32_t)sig[0] << 24) | ((uint32_t)sig[1] << 16) | ((uint32_t)sig[2] << 8) |
                    (uint32_t)sig[3];
    const struct tlog_verifier *v = c->verifier;
    if (name_len != c->verifier_name_len || memcmp(line, v->name, name_len) != 0 ||
        hash != v->key_hash) {
        return ERR_OK; /* another key's signature: ignored, as the note spec requires */
    }
    if (sig_len != SIG_BYTES || crypto_sign_verify_detached(sig + 4, (const unsigned char *)c->text,
                                                            c->text_len, v->public_key) != 0) {
        return err_set(err, ERR_CORRUPT, "note", "invalid signature by key '%s+%08lx'", v->name,
                       (unsigned long)v->key_hash);
    }
    c->verified++;
    return ERR_OK;
}

enum err tlog_note_open(const char *note, size_t len, const struct tlog_verifier *verifier,
                        size_t *text_len, struct errbuf *err)
{
    ASSERT(note != NULL || len == 0);
    ASSERT(verifier != NULL);
    ASSERT(text_len != NULL);
    if (len > TLOG_NOTE_MAX) {
        return err_set(err, ERR_INVALID, "note", "note of %zu bytes is over %d", len,
                       TLOG_NOTE_MAX);
    }
    if (len == 0 || !tlog__note_text_valid(note, len)) {
        return err_set(err, ERR_INVALID, "note", "malformed note: not UTF-8 text");
    }
    size_t split = note_split(note, len);
    if (split == 0 || split + 1 == len || note[len - 1] != '\n') {
        return err_set(err, ERR_INVALID, "note", "malformed note: no signature block");
    }
    struct note_check c = {verifier, strlen(verifier->name), note, split, 0};
    const char *p = note + split + 1;
    const char *end = note + len;
    size_t lines = 0;
    while (p < end) {
        if (lines == TLOG_NOTE_SIGS_MAX) {
            return err_set(err, ERR_INVALID, "note", "malformed note: over %d signatures",
                           TLOG_NOTE_SIGS_MAX);
        }
        /* The note ends in a newline, so every line has one. */
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        ASSERT(nl != NULL);
        enum err rc = note_check_line(&c, p, (size_t)(nl - p), err);
        if (rc != ERR_OK) {
            return rc;
        }
        lines++;
        p = nl + 1;
    }
    if (c.verified == 0) {
        return err_set(err, ERR_CORRUPT, "note", "note has no signature by key '%s+%08lx'",
                       verifier->name, (unsigned long)verifier->key_hash);
    }
    *text_len = split;
    return ERR_OK;
}
