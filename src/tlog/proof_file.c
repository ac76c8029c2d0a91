/*
 * proof_file.c: self-contained proof files for the offline verifier.
 *
 * Inclusion proofs use C2SP tlog-proof (c2sp.org/tlog-proof@v1): header, optional "extra"
 * line, "index <i>", one base64 hash per line, a blank line, then the signed checkpoint. There
 * is no C2SP format for consistency proofs, so Bourse defines the analogous one with header
 * "bourse/tlog-consistency-proof@v1" and an "old <size>" line in place of the index (see
 * docs/log-format.md). Both are plain text so that a court or a regulator can read them.
 */
#include "util/compat.h"
#include "tlog/tlog.h"

#include <string.h>

#include "tlog/tlog_int.h"
#include "util/banned.h"

#define INCLUSION_HEADER "c2sp.org/tlog-proof@v1"
#define CONSISTENCY_HEADER "bourse/tlog-consistency-proof@v1"
#define HASH_B64_LEN 44

_Static_assert(HASH_B64_LEN == (TLOG_HASH_LEN + 2) / 3 * 4, "hash in base64");

/* What tells the two formats apart. */
struct file_kind {
    const char *header;
    const char *keyword; /* "index" or "old", followed by a space and a decimal */
    int extra_allowed;
    uint64_t min; /* bounds of the decimal */
    uint64_t max;
};

static const struct file_kind inclusion_kind = {
    INCLUSION_HEADER, "index", 1, 0, TLOG_TREE_SIZE_MAX - 1,
};
static const struct file_kind consistency_kind = {
    CONSISTENCY_HEADER, "old", 0, 1, TLOG_TREE_SIZE_MAX,
};

static enum err file_format(const struct file_kind *kind, uint64_t value,
                            const struct tlog_proof *proof, const char *checkpoint,
                            size_t checkpoint_len, struct buf *out, struct errbuf *err)
{
    ASSERT(proof != NULL);
    ASSERT(out != NULL);
    if (proof->count > TLOG_PROOF_MAX) {
        return err_set(err, ERR_INVALID, "proof", "proof has %zu hashes, more than %d",
                       proof->count, TLOG_PROOF_MAX);
    }
    if (value < kind->min || value > kind->max) {
        return err_set(err, ERR_INVALID, kind->keyword, "%s %llu is out of range", kind->keyword,
                       (unsigned long long)value);
    }
    if (checkpoint == NULL || checkpoint_len == 0 || checkpoint_len > TLOG_NOTE_MAX) {
        return err_set(err, ERR_INVALID, "checkpoint", "proof file needs a checkpoint note");
    }
    size_t len0 = out->len;
    enum err rc =
        buf_appendf(out, "%s\n%s %llu\n", kind->header, kind->keyword, (unsigned long long)value);
    for (size_t i = 0; i < proof->count && rc == ERR_OK; i++) {
        char b64[HASH_B64_LEN + 1];
        tlog__base64_encode(proof->hashes[i], TLOG_HASH_LEN, b64);
        rc = buf_appendf(out, "%s\n", b64);
    }
    if (rc == ERR_OK) {
        rc = buf_append(out, "\n", 1);
    }
    if (rc == ERR_OK) {
        rc = buf_append(out, checkpoint, checkpoint_len);
    }
    if (rc != ERR_OK) {
        out->len = len0;
        if (out->data != NULL) {
            out->data[len0] = '\0';
        }
        return err_set(err, rc, "", "cannot append proof file: %s", err_name(rc));
    }
    return ERR_OK;
}

/* 1 if line[0..len) is "<keyword> <decimal>" with the decimal in [min, max]. */
static int keyword_line(const struct file_kind *kind, const char *line, size_t len, uint64_t *value)
{
    size_t kw = strlen(kind->keyword);
    if (len <= kw + 1 || memcmp(line, kind->keyword, kw) != 0 || line[kw] != ' ') {
        return 0;
    }
    uint64_t v;
    if (!tlog__parse_decimal(line + kw + 1, len - kw - 1, kind->max, &v) || v < kind->min) {
        return 0;
    }
    *value = v;
    return 1;
}

static enum err file_parse(const struct file_kind *kind, const char *data, size_t len,
                           struct tlog_proof_file *file, struct errbuf *err)
{
    ASSERT(data != NULL || len == 0);
    ASSERT(file != NULL);
    if (len > TLOG_PROOF_FILE_MAX) {
        return err_set(err, ERR_INVALID, "proof", "proof file of %zu bytes is over %d", len,
                       TLOG_PROOF_FILE_MAX);
    }
    size_t at = 0;
    const char *line;
    size_t line_len;
    if (!tlog__next_line(data, len, &at, &line, &line_len) || line_len != strlen(kind->header) ||
        memcmp(line, kind->header, line_len) != 0) {
        return err_set(err, ERR_INVALID, "proof", "malformed proof file: want '%s'", kind->header);
    }
    if (!tlog__next_line(data, len, &at, &line, &line_len)) {
        return err_set(err, ERR_INVALID, "proof", "malformed proof file: truncated");
    }
    if (kind->extra_allowed && line_len >= 6 && memcmp(line, "extra ", 6) == 0) {
        /* Opaque and unauthenticated: checked for form, then ignored. */
        size_t extra_len;
        if (line_len == 6 || !tlog__base64_decode(line + 6, line_len - 6, NULL, 0, &extra_len) ||
            !tlog__next_line(data, len, &at, &line, &line_len)) {
            return err_set(err, ERR_INVALID, "proof", "malformed proof file: bad extra line");
        }
    }
    struct tlog_proof_file f;
    if (!keyword_line(kind, line, line_len, &f.index)) {
        return err_set(err, ERR_INVALID, "proof", "malformed proof file: bad %s line",
                       kind->keyword);
    }
    f.proof.count = 0;
    for (;;) {
        if (!tlog__next_line(data, len, &at, &line, &line_len)) {
            return err_set(err, ERR_INVALID, "proof", "malformed proof file: no checkpoint");
        }
        if (line_len == 0) {
            break;
        }
        if (f.proof.count == TLOG_PROOF_MAX) {
            return err_set(err, ERR_INVALID, "proof", "proof has more than %d hashes",
                           TLOG_PROOF_MAX);
        }
        size_t hash_len;
        if (line_len != HASH_B64_LEN ||
            !tlog__base64_decode(line, line_len, f.proof.hashes[f.proof.count], TLOG_HASH_LEN,
                                 &hash_len) ||
            hash_len != TLOG_HASH_LEN) {
            return err_set(err, ERR_INVALID, "proof", "malformed proof file: bad hash line %zu",
                           f.proof.count + 1);
        }
        f.proof.count++;
    }
    if (at == len) {
        return err_set(err, ERR_INVALID, "proof", "malformed proof file: empty checkpoint");
    }
    f.checkpoint = data + at;
    f.checkpoint_len = len - at;
    *file = f;
    return ERR_OK;
}

enum err tlog_inclusion_file_format(uint64_t leaf_index, const struct tlog_proof *proof,
                                    const char *checkpoint, size_t checkpoint_len, struct buf *out,
                                    struct errbuf *err)
{
    return file_format(&inclusion_kind, leaf_index, proof, checkpoint, checkpoint_len, out, err);
}

enum err tlog_inclusion_file_parse(const char *data, size_t len, struct tlog_proof_file *file,
                                   struct errbuf *err)
{
    return file_parse(&inclusion_kind, data, len, file, err);
}

enum err tlog_consistency_file_format(uint64_t old_size, const struct tlog_proof *proof,
                                      const char *checkpoint, size_t checkpoint_len,
                                      struct buf *out, struct errbuf *err)
{
    return file_format(&consistency_kind, old_size, proof, checkpoint, checkpoint_len, out, err);
}

enum err tlog_consistency_file_parse(const char *data, size_t len, struct tlog_proof_file *file,
                                     struct errbuf *err)
{
    return file_parse(&consistency_kind, data, len, file, err);
}

enum err tlog_inclusion_file_verify(const char *data, size_t len,
                                    const struct tlog_verifier *verifier,
                                    const uint8_t leaf_hash[TLOG_HASH_LEN],
                                    struct tlog_checkpoint *checkpoint, struct errbuf *err)
{
    ASSERT(verifier != NULL);
    ASSERT(leaf_hash != NULL);
    ASSERT(checkpoint != NULL);
    struct tlog_proof_file file = {0, {0, {{0}}}, NULL, 0};
    enum err rc = tlog_inclusion_file_parse(data, len, &file, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct tlog_checkpoint cp;
    rc = tlog_checkpoint_open(file.checkpoint, file.checkpoint_len, verifier, &cp, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (file.index >= cp.tree_size) {
        return err_set(err, ERR_CORRUPT, "proof", "leaf %llu is not in a tree of %llu leaves",
                       (unsigned long long)file.index, (unsigned long long)cp.tree_size);
    }
    rc = tlog_check_record(&file.proof, cp.tree_size, cp.root_hash, file.index, leaf_hash, err);
    if (rc != ERR_OK) {
        return rc;
    }
    *checkpoint = cp;
    return ERR_OK;
}

enum err tlog_consistency_file_verify(const char *data, size_t len,
                                      const struct tlog_verifier *verifier,
                                      const struct tlog_checkpoint *old,
                                      struct tlog_checkpoint *checkpoint, struct errbuf *err)
{
    ASSERT(verifier != NULL);
    ASSERT(old != NULL);
    ASSERT(checkpoint != NULL);
    if (old->tree_size == 0 || old->tree_size > TLOG_TREE_SIZE_MAX) {
        return err_set(err, ERR_INVALID, "old", "old tree of %llu leaves has no proof",
                       (unsigned long long)old->tree_size);
    }
    struct tlog_proof_file file = {0, {0, {{0}}}, NULL, 0};
    enum err rc = tlog_consistency_file_parse(data, len, &file, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct tlog_checkpoint cp;
    rc = tlog_checkpoint_open(file.checkpoint, file.checkpoint_len, verifier, &cp, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (strncmp(cp.origin, old->origin, sizeof(cp.origin)) != 0) {
        return err_set(err, ERR_CORRUPT, "proof", "checkpoints are of different logs");
    }
    if (file.index != old->tree_size || file.index > cp.tree_size) {
        return err_set(err, ERR_CORRUPT, "proof",
                       "proof is from %llu leaves, checkpoints have %llu and %llu",
                       (unsigned long long)file.index, (unsigned long long)old->tree_size,
                       (unsigned long long)cp.tree_size);
    }
    rc = tlog_check_tree(&file.proof, cp.tree_size, cp.root_hash, old->tree_size, old->root_hash,
                         err);
    if (rc != ERR_OK) {
        return rc;
    }
    *checkpoint = cp;
    return ERR_OK;
}
