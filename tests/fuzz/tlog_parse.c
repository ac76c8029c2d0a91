/*
 * tlog_parse.c: libFuzzer target over every tlog parser of untrusted bytes: signed notes and
 * checkpoints, verifier and signer keys, C2SP tlog-proof and Bourse consistency proof files,
 * tile paths and entry bundles.
 *
 * Each input goes to all parsers. Besides "no crash, no leak, no assert", the target checks
 * round trips where a parser promises one spelling per value: a parsed tile path, bundle,
 * checkpoint or key formats back to the input (or a prefix of it, for extension lines), and a
 * parsed proof file re-parses to the same proof. The fixture, a 10-leaf log signed with a fixed
 * key, is the one the seed corpus was made with, so seeds verify and mutations reach the
 * cryptographic checks.
 */
#include "util/compat.h"
#include "tlog/tlog.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/util.h"
#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXTURE_LEAVES 10

struct fixture {
    struct tlog_verifier verifier;
    uint8_t leaf_hashes[FIXTURE_LEAVES][TLOG_HASH_LEN];
    struct tlog_checkpoint old; /* the tree of 3 leaves: the consistency seeds start there */
};

static struct fixture fx;

/* The leaf hash of the fixture's leaf i: "event <i>" (what the corpus generator used). */
static void fixture_init(void)
{
    ASSERT(sodium_init() >= 0);
    uint8_t seed[TLOG_SEED_LEN];
    memset(seed, 0x42, sizeof(seed));
    struct tlog_signer signer;
    ASSERT(tlog_signer_from_seed("bourse.example/log", seed, &signer, NULL) == ERR_OK);
    tlog_signer_verifier(&signer, &fx.verifier);
    tlog_signer_release(&signer);
    for (int i = 0; i < FIXTURE_LEAVES; i++) {
        char event[16] = "event 0";
        event[6] = (char)('0' + i);
        tlog_leaf_hash(event, strlen(event), fx.leaf_hashes[i]);
    }
    /* The root of the first 3 leaves, by hand: MTH = H(H(l0, l1), l2). */
    memset(&fx.old, 0, sizeof(fx.old));
    memcpy(fx.old.origin, "bourse.example/log", sizeof("bourse.example/log"));
    fx.old.tree_size = 3;
    uint8_t left[TLOG_HASH_LEN];
    tlog_node_hash(fx.leaf_hashes[0], fx.leaf_hashes[1], left);
    tlog_node_hash(left, fx.leaf_hashes[2], fx.old.root_hash);
}

static void fuzz_note(const char *text, size_t size)
{
    size_t text_len = 0;
    if (tlog_note_open(text, size, &fx.verifier, &text_len, NULL) == ERR_OK) {
        ASSERT(text_len < size);
        ASSERT(text[text_len - 1] == '\n');
    }
    struct tlog_checkpoint cp;
    const char *body = text;
    size_t body_len = size;
    enum err rc = tlog_checkpoint_parse(text, size, &cp, NULL);
    if (rc != ERR_OK && tlog_checkpoint_open(text, size, &fx.verifier, &cp, NULL) == ERR_OK) {
        rc = ERR_OK;
        body_len = text_len;
    }
    if (rc == ERR_OK) {
        /* One spelling: the body starts with exactly what format writes. */
        struct buf b;
        buf_init(&b, TLOG_NOTE_MAX);
        ASSERT(tlog_checkpoint_format(&cp, &b, NULL) == ERR_OK);
        ASSERT(b.len <= body_len);
        ASSERT(memcmp(b.data, body, b.len) == 0);
        buf_release(&b);
    }
}

static void fuzz_keys(const char *text, size_t size)
{
    struct tlog_verifier v;
    if (tlog_verifier_parse(text, size, &v, NULL) == ERR_OK) {
        char out[TLOG_VERIFIER_KEY_MAX];
        tlog_verifier_format(&v, out);
        struct tlog_verifier again;
        ASSERT(tlog_verifier_parse(out, strlen(out), &again, NULL) == ERR_OK);
        ASSERT(memcmp(&v, &again, sizeof(v)) == 0);
    }
    struct tlog_signer s;
    if (tlog_signer_parse(text, size, &s, NULL) == ERR_OK) {
        char out[TLOG_SIGNER_KEY_MAX];
        tlog_signer_format(&s, out);
        struct tlog_signer again;
        ASSERT(tlog_signer_parse(out, strlen(out), &again, NULL) == ERR_OK);
        ASSERT(memcmp(&s, &again, sizeof(s)) == 0);
        tlog_signer_release(&again);
        tlog_signer_release(&s);
    }
}

/* Formats a parsed proof file again and checks that it parses to the same proof. */
static void proof_file_round_trip(const struct tlog_proof_file *f, int inclusion)
{
    struct buf b;
    buf_init(&b, TLOG_PROOF_FILE_MAX + 64);
    enum err rc = inclusion ? tlog_inclusion_file_format(f->index, &f->proof, f->checkpoint,
                                                         f->checkpoint_len, &b, NULL)
                            : tlog_consistency_file_format(f->index, &f->proof, f->checkpoint,
                                                           f->checkpoint_len, &b, NULL);
    if (rc == ERR_OK) {
        struct tlog_proof_file again;
        rc = inclusion ? tlog_inclusion_file_parse(b.data, b.len, &again, NULL)
                       : tlog_consistency_file_parse(b.data, b.len, &again, NULL);
        ASSERT(rc == ERR_OK);
        ASSERT(again.index == f->index);
        ASSERT(again.proof.count == f->proof.count);
        ASSERT(memcmp(again.proof.hashes, f->proof.hashes, f->proof.count * TLOG_HASH_LEN) == 0);
        ASSERT(again.checkpoint_len == f->checkpoint_len);
    } else {
        /* Only a checkpoint note over TLOG_NOTE_MAX bytes is refused by format. */
        ASSERT(rc == ERR_INVALID);
        ASSERT(f->checkpoint_len > TLOG_NOTE_MAX);
    }
    buf_release(&b);
}

static void fuzz_proof_files(const char *text, size_t size)
{
    static struct tlog_proof_file f; /* 2 KiB: off the stack */
    struct tlog_checkpoint cp;
    if (tlog_inclusion_file_parse(text, size, &f, NULL) == ERR_OK) {
        proof_file_round_trip(&f, 1);
        const uint8_t *leaf = fx.leaf_hashes[f.index < FIXTURE_LEAVES ? f.index : 0];
        enum err rc = tlog_inclusion_file_verify(text, size, &fx.verifier, leaf, &cp, NULL);
        ASSERT(rc == ERR_OK || rc == ERR_CORRUPT || rc == ERR_INVALID);
    }
    if (tlog_consistency_file_parse(text, size, &f, NULL) == ERR_OK) {
        proof_file_round_trip(&f, 0);
        enum err rc = tlog_consistency_file_verify(text, size, &fx.verifier, &fx.old, &cp, NULL);
        ASSERT(rc == ERR_OK || rc == ERR_CORRUPT || rc == ERR_INVALID);
    }
}

static void fuzz_tiles(const uint8_t *data, size_t size)
{
    struct tlog_tile tile;
    if (tlog_tile_parse_path((const char *)data, size, &tile, NULL) == ERR_OK) {
        char out[TLOG_TILE_PATH_MAX];
        tlog_tile_format_path(&tile, out);
        ASSERT(strlen(out) == size);
        ASSERT(memcmp(out, data, size) == 0);
        (void)tlog_tile_in_tree(&tile, size * UINT64_C(0x9e3779b97f4a7c15));
    }
    static struct tlog_bundle_entry entries[TLOG_TILE_WIDTH];
    size_t count = 0;
    if (tlog_bundle_parse(data, size, entries, TLOG_TILE_WIDTH, &count, NULL) == ERR_OK) {
        struct buf b;
        buf_init(&b, size + 1);
        for (size_t i = 0; i < count; i++) {
            ASSERT(tlog_bundle_append(&b, entries[i].data, entries[i].len, NULL) == ERR_OK);
        }
        ASSERT(b.len == size);
        ASSERT(memcmp(b.data, data, size) == 0);
        buf_release(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        fixture_init();
        ready = 1;
    }
    const char *text = (const char *)data;
    fuzz_note(text, size);
    fuzz_keys(text, size);
    fuzz_proof_files(text, size);
    fuzz_tiles(data, size);
    return 0;
}
