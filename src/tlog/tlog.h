/*
 * tlog: the transparency log's pure logic. It owns the bytes and the arithmetic of Bourse's
 * append-only event log, so that anyone holding a signed checkpoint can check offline that an
 * event is in the log and that the log was only ever appended to:
 *
 *   - RFC 9162 section 2.1 hashing (SHA-256 with 0x00 / 0x01 domain separation);
 *   - the stored-hash model of Go's golang.org/x/mod/sumdb/tlog: every complete subtree's hash
 *     is stored once at a dense "stored hash index", so that any root, inclusion proof or
 *     consistency proof is a handful of reads;
 *   - inclusion ("record") and consistency ("tree") proofs: generation and verification;
 *   - C2SP tlog-tiles: tile paths, tile contents and entry bundles;
 *   - C2SP signed notes with Ed25519 keys, and C2SP tlog-checkpoint bodies inside them;
 *   - proof files for the offline verifier: C2SP tlog-proof for inclusion, and the analogous
 *     Bourse format for consistency.
 *
 * It does no I/O and never calls the clock or the RNG: stored hashes come through an injected
 * reader, key material comes in as bytes. The store module persists hashes and entries; http
 * serves the bytes built here; cli verifies proof files with it. docs/log-format.md is the
 * normative description of every format; the tables below are the summary.
 *
 * Errors. Untrusted text (notes, checkpoints, keys, tile paths, bundles, proof files) that
 * breaks a rule of its form, including a size bound, is ERR_INVALID. Well-formed input whose
 * cryptography does not check out (a proof that does not verify, a signature that fails, a note
 * without a signature by the expected key) is ERR_CORRUPT. ERR_LIMIT is reserved for outputs
 * that would pass a limit (a full log, an entry too long for a bundle, a struct buf's max).
 * Errors from the hash reader are returned unchanged. Nothing ever asserts on input bytes.
 *
 * FORMAT SUMMARY (all integers in text are ASCII decimal without leading zeros)
 *
 *   leaf hash      SHA-256(0x00 || leaf bytes)                                   32 bytes
 *   node hash      SHA-256(0x01 || left hash || right hash)                      32 bytes
 *   empty tree     SHA-256("")                                                   32 bytes
 *
 *   hash tile      tile/<L>/<N>[.p/<W>]     W hashes of 32 bytes (full: 256, 8192 bytes)
 *                  hash i of tile (L, N) = root of the complete subtree of 256^L leaves
 *                  starting at leaf (N * 256 + i) * 256^L
 *   entry bundle   tile/entries/<N>[.p/<W>] W times: uint16 big-endian length, entry bytes
 *   <N>            groups of 3 digits, all but the last prefixed "x": 1234067 = x001/x234/067
 *
 *   checkpoint     <origin>\n<tree size>\n<base64 root hash>\n[<extension line>\n]*
 *   signed note    <text>\n<signature line>+         (text ends in \n, so a blank line)
 *   signature line "— " <key name> " " base64(key hash (4, big-endian) || signature (64)) \n
 *                  ("—" is U+2014, bytes e2 80 94)
 *   key hash       first 4 bytes of SHA-256(key name || "\n" || 0x01 || public key (32))
 *   verifier key   <name>+<key hash, 8 hex>+base64(0x01 || public key (32))
 *   signer key     PRIVATE+KEY+<name>+<key hash, 8 hex>+base64(0x01 || seed (32))
 *
 *   inclusion file c2sp.org/tlog-proof@v1\n[extra <base64>\n]index <i>\n
 *                  [<base64 hash>\n]*\n<signed checkpoint note>
 *   consistency    bourse/tlog-consistency-proof@v1\nold <old size>\n
 *   file           [<base64 hash>\n]*\n<signed checkpoint note of the new tree>
 */
#ifndef BOURSE_TLOG_H
#define BOURSE_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- limits ----------------------------------------------------------------------------- */

#define TLOG_HASH_LEN 32 /* SHA-256 */
/* A tree holds at most 2^63 - 1 leaves: sizes fit int64 everywhere (Go, SQL, JSON). */
#define TLOG_TREE_SIZE_MAX ((uint64_t)INT64_MAX)
/* A proof over a tree of at most 2^63 - 1 leaves has at most 63 hashes; one more for slack
 * costs nothing and keeps the bound a round number. */
#define TLOG_PROOF_MAX 64
/* Appending leaf n stores 1 + (trailing one bits of n) hashes: at most 63. */
#define TLOG_STORED_HASHES_MAX 64
/* The most indexes one call of the hash reader asks for (a full tile). */
#define TLOG_READ_MAX 256

#define TLOG_TILE_HEIGHT 8
#define TLOG_TILE_WIDTH 256          /* 1 << TLOG_TILE_HEIGHT */
#define TLOG_TILE_BYTES_MAX 8192     /* TLOG_TILE_WIDTH * TLOG_HASH_LEN */
#define TLOG_TILE_LEVEL_MAX 63       /* c2sp tlog-tiles: 0..63 */
#define TLOG_TILE_LEVEL_ENTRIES (-1) /* tile/entries/...: a bundle */
/* No tile starts at or past leaf 2^63: N * 256 <= TLOG_TREE_SIZE_MAX. */
#define TLOG_TILE_INDEX_MAX (TLOG_TREE_SIZE_MAX >> TLOG_TILE_HEIGHT)
/* The longest path, "tile/entries/x036/x028/x797/x018/x963/967.p/255", is 47 bytes. */
#define TLOG_TILE_PATH_MAX 64
#define TLOG_ENTRY_MAX 65535 /* a bundle's length prefix is a uint16 */

#define TLOG_NOTE_MAX 16384    /* bytes in a signed note, signatures included */
#define TLOG_NOTE_SIGS_MAX 100 /* signature lines in a note (Go's note package: 100) */
#define TLOG_KEY_NAME_MAX 255  /* bytes in a key name */
#define TLOG_ORIGIN_MAX 255    /* bytes in a checkpoint origin */
#define TLOG_PUBLIC_KEY_LEN 32 /* Ed25519 */
#define TLOG_SEED_LEN 32       /* Ed25519 private seed */
#define TLOG_SIGNATURE_LEN 64  /* Ed25519 */
/* name + "+" + 8 hex + "+" + base64 of 33 bytes (44) + NUL */
#define TLOG_VERIFIER_KEY_MAX (TLOG_KEY_NAME_MAX + 1 + 8 + 1 + 44 + 1)
#define TLOG_SIGNER_KEY_MAX (12 + TLOG_VERIFIER_KEY_MAX) /* "PRIVATE+KEY+" + the above */
/* header, index and 64 hash lines (45 bytes each) stay far below 8 KiB; plus one note. */
#define TLOG_PROOF_FILE_MAX (8192 + TLOG_NOTE_MAX)

/* ---- hashing ---------------------------------------------------------------------------- */

/* out = SHA-256(0x00 || data[0..len)). Cannot fail. */
void tlog_leaf_hash(const void *data, size_t len, uint8_t out[TLOG_HASH_LEN]);
/* out = SHA-256(0x01 || left || right). out may alias left or right. Cannot fail. */
void tlog_node_hash(const uint8_t left[TLOG_HASH_LEN], const uint8_t right[TLOG_HASH_LEN],
                    uint8_t out[TLOG_HASH_LEN]);
/* out = SHA-256(""), the root hash of the empty tree (RFC 9162 section 2.1.1). Cannot fail. */
void tlog_empty_hash(uint8_t out[TLOG_HASH_LEN]);

/* ---- stored hashes ---------------------------------------------------------------------- */

/*
 * Reads stored hashes: for i in [0, count), hashes[i] = the hash stored at indexes[i]. Must
 * fill every hash or return an error (ERR_NOT_FOUND when a hash is missing; whatever the
 * storage says otherwise), which tlog passes through. count is 1..TLOG_READ_MAX; indexes are
 * ascending for proofs and tiles but callers must not rely on it.
 */
typedef enum err tlog_read_hashes_fn(void *ctx, const uint64_t *indexes, size_t count,
                                     uint8_t (*hashes)[TLOG_HASH_LEN], struct errbuf *err);

struct tlog_hash_reader {
    tlog_read_hashes_fn *read_hashes_cb;
    void *ctx; /* borrowed; passed to read_hashes_cb */
};

/*
 * The dense storage index of the hash of the complete subtree at (level, n): the subtree of
 * 2^level leaves starting at leaf n * 2^level. Level 0 holds leaf hashes. The subtree must
 * fit in a tree of TLOG_TREE_SIZE_MAX leaves (asserted). Cannot fail.
 */
uint64_t tlog_stored_hash_index(unsigned level, uint64_t n);

/* How many hashes are stored for a tree of tree_size <= TLOG_TREE_SIZE_MAX leaves. */
uint64_t tlog_stored_hash_count(uint64_t tree_size);

/*
 * The hashes to store when appending leaf number leaf_index (0-based) with leaf_hash to a tree
 * of leaf_index leaves: out[0] is leaf_hash, then the hashes of the subtrees that this leaf
 * completes, bottom up. They go at consecutive stored indexes starting at
 * tlog_stored_hash_index(0, leaf_index). Reads up to 62 earlier hashes through reader, which
 * must already hold the hashes of leaves 0..leaf_index-1. To append a batch, call this for each
 * leaf in order and make each result readable before the next call.
 * out has room for TLOG_STORED_HASHES_MAX hashes; *count is set to how many were written.
 * Errors: ERR_LIMIT if the tree would pass TLOG_TREE_SIZE_MAX leaves; the reader's errors.
 */
enum err tlog_stored_hashes(uint64_t leaf_index, const uint8_t leaf_hash[TLOG_HASH_LEN],
                            const struct tlog_hash_reader *reader, uint8_t (*out)[TLOG_HASH_LEN],
                            size_t *count, struct errbuf *err);

/*
 * The root hash of the tree of the first tree_size leaves, in one read of at most 63 stored
 * hashes (none for sizes 0, where the root is tlog_empty_hash()).
 * Errors: ERR_INVALID if tree_size > TLOG_TREE_SIZE_MAX; the reader's errors.
 */
enum err tlog_tree_hash(uint64_t tree_size, const struct tlog_hash_reader *reader,
                        uint8_t out[TLOG_HASH_LEN], struct errbuf *err);

/* ---- proofs ----------------------------------------------------------------------------- */

/* An RFC 9162 inclusion or consistency proof: count hashes, in the RFC's order. */
struct tlog_proof {
    size_t count; /* 0..TLOG_PROOF_MAX */
    uint8_t hashes[TLOG_PROOF_MAX][TLOG_HASH_LEN];
};

/*
 * Fills proof with the inclusion proof (RFC 9162 section 2.1.3) of leaf leaf_index in the tree
 * of tree_size leaves, with one read of stored hashes (none when tree_size is 1).
 * Errors: ERR_INVALID unless leaf_index < tree_size <= TLOG_TREE_SIZE_MAX; the reader's.
 */
enum err tlog_prove_record(uint64_t tree_size, uint64_t leaf_index,
                           const struct tlog_hash_reader *reader, struct tlog_proof *proof,
                           struct errbuf *err);

/*
 * Checks that proof shows leaf_hash at leaf_index in the tree of tree_size leaves whose root
 * is root_hash. Errors: ERR_INVALID unless leaf_index < tree_size <= TLOG_TREE_SIZE_MAX and
 * proof->count <= TLOG_PROOF_MAX; ERR_CORRUPT if the proof does not verify.
 */
enum err tlog_check_record(const struct tlog_proof *proof, uint64_t tree_size,
                           const uint8_t root_hash[TLOG_HASH_LEN], uint64_t leaf_index,
                           const uint8_t leaf_hash[TLOG_HASH_LEN], struct errbuf *err);

/*
 * Fills proof with the consistency proof (RFC 9162 section 2.1.4) that the tree of old_size
 * leaves is a prefix of the tree of tree_size leaves, with one read of stored hashes (none
 * when the proof is empty, i.e. old_size == tree_size).
 * Errors: ERR_INVALID unless 1 <= old_size <= tree_size <= TLOG_TREE_SIZE_MAX; the reader's.
 */
enum err tlog_prove_tree(uint64_t tree_size, uint64_t old_size,
                         const struct tlog_hash_reader *reader, struct tlog_proof *proof,
                         struct errbuf *err);

/*
 * Checks that proof shows the tree of old_size leaves with root old_root to be a prefix of
 * the tree of tree_size leaves with root root_hash. When old_size == tree_size the proof must
 * be empty and the roots equal.
 * Errors: ERR_INVALID unless 1 <= old_size <= tree_size <= TLOG_TREE_SIZE_MAX and
 * proof->count <= TLOG_PROOF_MAX; ERR_CORRUPT if the proof does not verify.
 */
enum err tlog_check_tree(const struct tlog_proof *proof, uint64_t tree_size,
                         const uint8_t root_hash[TLOG_HASH_LEN], uint64_t old_size,
                         const uint8_t old_root[TLOG_HASH_LEN], struct errbuf *err);

/* ---- tiles (c2sp.org/tlog-tiles) -------------------------------------------------------- */

struct tlog_tile {
    int level;      /* 0..TLOG_TILE_LEVEL_MAX, or TLOG_TILE_LEVEL_ENTRIES for a bundle */
    uint64_t index; /* N: the tile's position within its level */
    unsigned width; /* 1..TLOG_TILE_WIDTH; TLOG_TILE_WIDTH is a full tile (no .p/ suffix) */
};

/*
 * Writes the tile's path, "tile/<L>/<N>[.p/<W>]" or "tile/entries/<N>[.p/<W>]", without a
 * leading slash, NUL-terminated. The tile must be well-formed (asserted): level and width in
 * range, index <= TLOG_TILE_INDEX_MAX. Cannot fail.
 */
void tlog_tile_format_path(const struct tlog_tile *tile, char out[TLOG_TILE_PATH_MAX]);

/*
 * Parses path[0..len) (untrusted, e.g. from a URL, starting at "tile/") into tile. Accepts
 * exactly the canonical paths tlog_tile_format_path writes: no leading zeros, no "x000/"
 * first group, no empty or extra segments, index <= TLOG_TILE_INDEX_MAX, width 1..255 after
 * ".p/". Errors: ERR_INVALID for anything else; tile is left alone then.
 */
enum err tlog_tile_parse_path(const char *path, size_t len, struct tlog_tile *tile,
                              struct errbuf *err);

/*
 * 1 if every hash (or entry) of the tile exists in a tree of tree_size leaves, else 0: a tile
 * is served only then. Works for any field values. Cannot fail.
 */
int tlog_tile_in_tree(const struct tlog_tile *tile, uint64_t tree_size);

/*
 * Writes the tile's width * 32 bytes to out (room for out_len bytes) in one read of stored
 * hashes, for a hash tile (level >= 0) of the tree of tree_size leaves.
 * Errors: ERR_INVALID for an entry bundle or a malformed tile; ERR_NOT_FOUND if
 * !tlog_tile_in_tree(tile, tree_size); ERR_LIMIT if out_len < width * 32; the reader's.
 */
enum err tlog_tile_read(const struct tlog_tile *tile, uint64_t tree_size,
                        const struct tlog_hash_reader *reader, uint8_t *out, size_t out_len,
                        struct errbuf *err);

/* One entry of a parsed bundle: borrowed from the bundle's bytes. */
struct tlog_bundle_entry {
    const uint8_t *data;
    size_t len;
};

/*
 * Appends one entry to an entry bundle being built in bundle (caller-initialised).
 * Errors: ERR_LIMIT if len > TLOG_ENTRY_MAX or bundle->max would be passed (bundle
 * unchanged); ERR_NOMEM.
 */
enum err tlog_bundle_append(struct buf *bundle, const void *entry, size_t len, struct errbuf *err);

/*
 * Splits the entry bundle data[0..len) into at most entries_max entries; *count is set to the
 * number found. The entries borrow from data.
 * Errors: ERR_INVALID if the bundle is empty, truncated, or has more than entries_max entries.
 */
enum err tlog_bundle_parse(const uint8_t *data, size_t len, struct tlog_bundle_entry *entries,
                           size_t entries_max, size_t *count, struct errbuf *err);

/* ---- keys and signed notes (c2sp.org/signed-note, Ed25519) ------------------------------- */

/* A public key that checks signatures. Plain data: copy freely. */
struct tlog_verifier {
    char name[TLOG_KEY_NAME_MAX + 1]; /* NUL-terminated */
    uint32_t key_hash;
    uint8_t public_key[TLOG_PUBLIC_KEY_LEN];
};

/* A private key that signs. Holds secrets: wipe with tlog_signer_release. */
struct tlog_signer {
    char name[TLOG_KEY_NAME_MAX + 1];
    uint32_t key_hash;
    uint8_t public_key[TLOG_PUBLIC_KEY_LEN];
    uint8_t secret_key[64]; /* libsodium's Ed25519 secret key: seed || public key */
};

/*
 * Builds the signer for key name (a NUL-terminated, valid key name: 1..TLOG_KEY_NAME_MAX bytes
 * of UTF-8, no spaces, no "+", no control characters) from 32 random bytes that the caller
 * got from its RNG. Errors: ERR_INVALID for a bad name; signer is left alone then.
 */
enum err tlog_signer_from_seed(const char *name, const uint8_t seed[TLOG_SEED_LEN],
                               struct tlog_signer *signer, struct errbuf *err);

/* Overwrites the signer with zeros (sodium_memzero). Accepts NULL. Cannot fail. */
void tlog_signer_release(struct tlog_signer *signer);

/* The verifier that checks this signer's signatures. Cannot fail. */
void tlog_signer_verifier(const struct tlog_signer *signer, struct tlog_verifier *verifier);

/* Writes "PRIVATE+KEY+<name>+<hash>+<base64>" (a secret), NUL-terminated. Cannot fail. */
void tlog_signer_format(const struct tlog_signer *signer, char out[TLOG_SIGNER_KEY_MAX]);

/* Writes "<name>+<hash>+<base64>", NUL-terminated. Cannot fail. */
void tlog_verifier_format(const struct tlog_verifier *verifier, char out[TLOG_VERIFIER_KEY_MAX]);

/*
 * Parses a signer key string s[0..len) (Go's note.NewSigner format). The key hash must match
 * the public key derived from the seed.
 * Errors: ERR_INVALID for any malformation, an algorithm other than Ed25519 (0x01) or a
 * mismatched key hash; signer is left alone then.
 */
enum err tlog_signer_parse(const char *s, size_t len, struct tlog_signer *signer,
                           struct errbuf *err);

/*
 * Parses a verifier key string s[0..len) (Go's note.NewVerifier format).
 * Errors: ERR_INVALID as for tlog_signer_parse; verifier is left alone then.
 */
enum err tlog_verifier_parse(const char *s, size_t len, struct tlog_verifier *verifier,
                             struct errbuf *err);

/*
 * Appends to out the signed note of text[0..len): the text, a blank line, and one signature
 * line by signer. The text must be non-empty valid UTF-8 without control characters other
 * than newline, end in a newline, and leave the note within TLOG_NOTE_MAX bytes.
 * Errors: ERR_INVALID for bad text; ERR_LIMIT, ERR_NOMEM from out. On error out is as it was
 * (this holds for every function here that appends to a struct buf).
 */
enum err tlog_note_sign(const char *text, size_t len, const struct tlog_signer *signer,
                        struct buf *out, struct errbuf *err);

/*
 * Parses the signed note note[0..len) (untrusted) and checks it against verifier. Signatures
 * by other keys (another name or another key hash) are ignored; every signature line with the
 * verifier's name and key hash must verify, and there must be at least one. On success
 * *text_len is the length of the signed text, which is note[0..*text_len).
 * Errors: ERR_INVALID if the note is malformed (over TLOG_NOTE_MAX bytes, bad UTF-8 or control
 * characters, no blank line before the signatures, a malformed signature line, more than
 * TLOG_NOTE_SIGS_MAX of them); ERR_CORRUPT if a signature by the verifier's key fails or none
 * is present.
 */
enum err tlog_note_open(const char *note, size_t len, const struct tlog_verifier *verifier,
                        size_t *text_len, struct errbuf *err);

/* ---- checkpoints (c2sp.org/tlog-checkpoint) --------------------------------------------- */

struct tlog_checkpoint {
    /* 1..TLOG_ORIGIN_MAX bytes of UTF-8, no control characters, no leading or trailing
     * space; NUL-terminated. Bourse's origin is its log key's name. */
    char origin[TLOG_ORIGIN_MAX + 1];
    uint64_t tree_size; /* <= TLOG_TREE_SIZE_MAX */
    uint8_t root_hash[TLOG_HASH_LEN];
};

/*
 * Appends the checkpoint body "<origin>\n<size>\n<base64 root>\n" to out (no extension lines).
 * Errors: ERR_INVALID for a bad origin or size; ERR_LIMIT, ERR_NOMEM from out.
 */
enum err tlog_checkpoint_format(const struct tlog_checkpoint *checkpoint, struct buf *out,
                                struct errbuf *err);

/*
 * Parses a checkpoint body text[0..len) (untrusted; e.g. the text of an opened note).
 * Extension lines after the root hash are accepted (non-empty) and ignored.
 * Errors: ERR_INVALID for anything malformed; checkpoint is left alone then.
 */
enum err tlog_checkpoint_parse(const char *text, size_t len, struct tlog_checkpoint *checkpoint,
                               struct errbuf *err);

/*
 * Appends the signed note of the checkpoint's body to out.
 * Errors: as tlog_checkpoint_format.
 */
enum err tlog_checkpoint_sign(const struct tlog_checkpoint *checkpoint,
                              const struct tlog_signer *signer, struct buf *out,
                              struct errbuf *err);

/*
 * tlog_note_open then tlog_checkpoint_parse on the signed text. The caller still decides
 * whether it trusts the origin (compare it with the expected one).
 * Errors: as those two functions; checkpoint is left alone on error.
 */
enum err tlog_checkpoint_open(const char *note, size_t len, const struct tlog_verifier *verifier,
                              struct tlog_checkpoint *checkpoint, struct errbuf *err);

/* ---- proof files for the offline verifier ----------------------------------------------- */

/* A parsed proof file. The checkpoint note borrows from the file's bytes. */
struct tlog_proof_file {
    uint64_t index; /* inclusion: the leaf index; consistency: the old tree size */
    struct tlog_proof proof;
    const char *checkpoint; /* the signed checkpoint note, not yet verified */
    size_t checkpoint_len;
};

/*
 * Appends a c2sp.org/tlog-proof@v1 file (no extra line) to out: leaf_index, the inclusion
 * proof, a blank line, then the signed checkpoint note checkpoint[0..checkpoint_len) verbatim.
 * Errors: ERR_INVALID if proof->count > TLOG_PROOF_MAX, leaf_index >= TLOG_TREE_SIZE_MAX, or
 * the checkpoint is empty or over TLOG_NOTE_MAX bytes; ERR_LIMIT, ERR_NOMEM from out.
 */
enum err tlog_inclusion_file_format(uint64_t leaf_index, const struct tlog_proof *proof,
                                    const char *checkpoint, size_t checkpoint_len, struct buf *out,
                                    struct errbuf *err);

/*
 * Parses a c2sp.org/tlog-proof@v1 file data[0..len) (untrusted). An "extra" line is accepted
 * (canonical base64) and ignored. Nothing is verified yet.
 * Errors: ERR_INVALID for anything malformed (over TLOG_PROOF_FILE_MAX bytes, more than
 * TLOG_PROOF_MAX hashes, ...); file is left alone then.
 */
enum err tlog_inclusion_file_parse(const char *data, size_t len, struct tlog_proof_file *file,
                                   struct errbuf *err);

/*
 * Parses the file, opens its checkpoint with verifier and checks the inclusion of leaf_hash
 * at the file's index. On success *checkpoint is the verified checkpoint (compare its origin).
 * Errors: those of the parsers; ERR_CORRUPT if a signature or the proof fails or the index is
 * not below the checkpoint's tree size.
 */
enum err tlog_inclusion_file_verify(const char *data, size_t len,
                                    const struct tlog_verifier *verifier,
                                    const uint8_t leaf_hash[TLOG_HASH_LEN],
                                    struct tlog_checkpoint *checkpoint, struct errbuf *err);

/*
 * Appends a bourse/tlog-consistency-proof@v1 file to out: old_size, the consistency proof,
 * a blank line, then the new tree's signed checkpoint note verbatim.
 * Errors: ERR_INVALID if proof->count > TLOG_PROOF_MAX, old_size is 0 or over
 * TLOG_TREE_SIZE_MAX, or the checkpoint is empty or over TLOG_NOTE_MAX bytes; ERR_LIMIT,
 * ERR_NOMEM from out.
 */
enum err tlog_consistency_file_format(uint64_t old_size, const struct tlog_proof *proof,
                                      const char *checkpoint, size_t checkpoint_len,
                                      struct buf *out, struct errbuf *err);

/* Parses a bourse/tlog-consistency-proof@v1 file. Errors: as tlog_inclusion_file_parse. */
enum err tlog_consistency_file_parse(const char *data, size_t len, struct tlog_proof_file *file,
                                     struct errbuf *err);

/*
 * Parses the file, opens its (new) checkpoint with verifier and checks that old, a checkpoint
 * the caller already trusts, is a prefix of it. On success *checkpoint is the new one.
 * Errors: those of the parsers; ERR_CORRUPT if a signature or the proof fails, the origins
 * differ, or the file's old size is not old->tree_size or is above the new tree size.
 */
enum err tlog_consistency_file_verify(const char *data, size_t len,
                                      const struct tlog_verifier *verifier,
                                      const struct tlog_checkpoint *old,
                                      struct tlog_checkpoint *checkpoint, struct errbuf *err);

#endif
