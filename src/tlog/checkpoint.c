/*
 * checkpoint.c: C2SP tlog-checkpoint bodies (c2sp.org/tlog-checkpoint) and their signed notes.
 *
 * The body is three lines, origin, tree size and base64 root hash, then optional extension
 * lines. Bourse emits none but accepts them, as the spec requires, without giving them any
 * meaning. Each field has exactly one spelling (decimal without leading zeros, canonical
 * padded base64), so a parsed checkpoint formats back to the same bytes.
 */
#include "util/compat.h"
#include "tlog/tlog.h"

#include <string.h>

#include "tlog/tlog_int.h"
#include "util/banned.h"

#define ROOT_B64_LEN 44 /* base64 of 32 bytes, one "=" */

_Static_assert(ROOT_B64_LEN == (TLOG_HASH_LEN + 2) / 3 * 4, "root hash in base64");

enum err tlog_checkpoint_format(const struct tlog_checkpoint *checkpoint, struct buf *out,
                                struct errbuf *err)
{
    ASSERT(checkpoint != NULL);
    ASSERT(out != NULL);
    size_t origin_len = strnlen(checkpoint->origin, sizeof(checkpoint->origin));
    if (!tlog__origin_valid(checkpoint->origin, origin_len)) {
        return err_set(err, ERR_INVALID, "origin", "invalid checkpoint origin");
    }
    if (checkpoint->tree_size > TLOG_TREE_SIZE_MAX) {
        return err_set(err, ERR_INVALID, "tree_size", "tree size %llu is too large",
                       (unsigned long long)checkpoint->tree_size);
    }
    char root[ROOT_B64_LEN + 1];
    tlog__base64_encode(checkpoint->root_hash, TLOG_HASH_LEN, root);
    enum err rc = buf_appendf(out, "%s\n%llu\n%s\n", checkpoint->origin,
                              (unsigned long long)checkpoint->tree_size, root);
    if (rc != ERR_OK) {
        return err_set(err, rc, "", "cannot append checkpoint: %s", err_name(rc));
    }
    return ERR_OK;
}

int tlog__next_line(const char *text, size_t len, size_t *at, const char **line, size_t *line_len)
{
    ASSERT(at != NULL);
    ASSERT(line != NULL);
    if (*at >= len) {
        return 0;
    }
    const char *nl = memchr(text + *at, '\n', len - *at);
    if (nl == NULL) {
        return 0;
    }
    *line = text + *at;
    *line_len = (size_t)(nl - *line);
    *at += *line_len + 1;
    return 1;
}

enum err tlog_checkpoint_parse(const char *text, size_t len, struct tlog_checkpoint *checkpoint,
                               struct errbuf *err)
{
    ASSERT(text != NULL || len == 0);
    ASSERT(checkpoint != NULL);
    if (len > TLOG_NOTE_MAX || len == 0 || text[len - 1] != '\n' ||
        !tlog__note_text_valid(text, len)) {
        return err_set(err, ERR_INVALID, "checkpoint", "malformed checkpoint: not text lines");
    }
    size_t at = 0;
    const char *origin;
    size_t origin_len;
    const char *size;
    size_t size_len;
    const char *root;
    size_t root_len;
    if (!tlog__next_line(text, len, &at, &origin, &origin_len) ||
        !tlog__next_line(text, len, &at, &size, &size_len) ||
        !tlog__next_line(text, len, &at, &root, &root_len)) {
        return err_set(err, ERR_INVALID, "checkpoint", "malformed checkpoint: under 3 lines");
    }
    if (!tlog__origin_valid(origin, origin_len)) {
        return err_set(err, ERR_INVALID, "checkpoint", "malformed checkpoint: bad origin");
    }
    uint64_t tree_size;
    if (!tlog__parse_decimal(size, size_len, TLOG_TREE_SIZE_MAX, &tree_size)) {
        return err_set(err, ERR_INVALID, "checkpoint", "malformed checkpoint: bad tree size");
    }
    uint8_t root_hash[TLOG_HASH_LEN];
    size_t root_hash_len;
    if (root_len != ROOT_B64_LEN ||
        !tlog__base64_decode(root, root_len, root_hash, sizeof(root_hash), &root_hash_len) ||
        root_hash_len != TLOG_HASH_LEN) {
        return err_set(err, ERR_INVALID, "checkpoint", "malformed checkpoint: bad root hash");
    }
    /* Extension lines: opaque, but non-empty. The loop ends: each line consumes a byte. */
    const char *ext;
    size_t ext_len;
    while (tlog__next_line(text, len, &at, &ext, &ext_len)) {
        if (ext_len == 0) {
            return err_set(err, ERR_INVALID, "checkpoint",
                           "malformed checkpoint: empty extension line");
        }
    }
    ASSERT(at == len);
    memset(checkpoint->origin, 0, sizeof(checkpoint->origin));
    memcpy(checkpoint->origin, origin, origin_len);
    checkpoint->tree_size = tree_size;
    memcpy(checkpoint->root_hash, root_hash, TLOG_HASH_LEN);
    return ERR_OK;
}

enum err tlog_checkpoint_sign(const struct tlog_checkpoint *checkpoint,
                              const struct tlog_signer *signer, struct buf *out, struct errbuf *err)
{
    ASSERT(checkpoint != NULL);
    ASSERT(signer != NULL);
    ASSERT(out != NULL);
    struct buf body;
    buf_init(&body, TLOG_NOTE_MAX);
    enum err rc = tlog_checkpoint_format(checkpoint, &body, err);
    if (rc != ERR_OK) {
        goto out;
    }
    rc = tlog_note_sign(body.data, body.len, signer, out, err);
out:
    buf_release(&body);
    return rc;
}

enum err tlog_checkpoint_open(const char *note, size_t len, const struct tlog_verifier *verifier,
                              struct tlog_checkpoint *checkpoint, struct errbuf *err)
{
    ASSERT(verifier != NULL);
    ASSERT(checkpoint != NULL);
    size_t text_len;
    enum err rc = tlog_note_open(note, len, verifier, &text_len, err);
    if (rc != ERR_OK) {
        return rc;
    }
    return tlog_checkpoint_parse(note, text_len, checkpoint, err);
}
