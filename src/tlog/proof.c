/*
 * proof.c: RFC 9162 inclusion and consistency proofs over stored hashes.
 *
 * Generation and verification walk the same RFC 9162 split of [0, tree_size) top down: at each
 * node the left child holds the largest power of two of leaves below the node's size. The walk
 * records which way it went (one bit per depth; the depth is at most 63) and the sibling
 * ranges; generation reads the siblings' hashes in one call, verification folds the proof
 * bottom up along the recorded directions. Proof order is the RFC's: closest to the leaf first.
 * This is the same arithmetic as Go's sumdb/tlog, written as loops instead of recursion.
 */
#include "util/compat.h"
#include "tlog/tlog.h"

#include <string.h>

#include "tlog/tlog_int.h"
#include "util/banned.h"

/* The walk's depth is at most 63 for trees of at most 2^63 - 1 leaves. */
#define WALK_DEPTH_MAX 64

static int hash_equal(const uint8_t a[TLOG_HASH_LEN], const uint8_t b[TLOG_HASH_LEN])
{
    return memcmp(a, b, TLOG_HASH_LEN) == 0;
}

/*
 * Walks from the root to leaf leaf_index. Fills siblings (top down) and sets bit d of
 * *went_right when the walk went right at depth d. Returns the depth, the proof's length.
 */
static size_t record_walk(uint64_t tree_size, uint64_t leaf_index, struct tlog__range *siblings,
                          uint64_t *went_right)
{
    ASSERT(leaf_index < tree_size);
    uint64_t lo = 0;
    uint64_t hi = tree_size;
    size_t depth = 0;
    *went_right = 0;
    while (hi - lo > 1) {
        ASSERT(depth < WALK_DEPTH_MAX);
        uint64_t k = tlog__pow2_below(hi - lo);
        if (leaf_index < lo + k) {
            siblings[depth] = (struct tlog__range){lo + k, hi};
            hi = lo + k;
        } else {
            siblings[depth] = (struct tlog__range){lo, lo + k};
            lo += k;
            *went_right |= UINT64_C(1) << depth;
        }
        depth++;
    }
    ASSERT(lo == leaf_index);
    return depth;
}

/*
 * Walks from the root of [0, tree_size) until old_size is the right edge of the current node.
 * Fills siblings (top down) and *went_right as record_walk; *lo is the node's left edge (0
 * when the old tree is itself a complete subtree on the left edge). Returns the depth.
 */
static size_t tree_walk(uint64_t tree_size, uint64_t old_size, struct tlog__range *siblings,
                        uint64_t *went_right, uint64_t *lo_out)
{
    ASSERT(old_size >= 1);
    ASSERT(old_size <= tree_size);
    uint64_t lo = 0;
    uint64_t hi = tree_size;
    size_t depth = 0;
    *went_right = 0;
    while (old_size != hi) {
        /* lo < old_size < hi, so the node has at least two leaves. */
        ASSERT(depth < WALK_DEPTH_MAX);
        uint64_t k = tlog__pow2_below(hi - lo);
        if (old_size <= lo + k) {
            siblings[depth] = (struct tlog__range){lo + k, hi};
            hi = lo + k;
        } else {
            siblings[depth] = (struct tlog__range){lo, lo + k};
            lo += k;
            *went_right |= UINT64_C(1) << depth;
        }
        depth++;
    }
    *lo_out = lo;
    return depth;
}

static enum err check_proof_struct(const struct tlog_proof *proof, struct errbuf *err)
{
    ASSERT(proof != NULL);
    if (proof->count > TLOG_PROOF_MAX) {
        return err_set(err, ERR_INVALID, "proof", "proof has %zu hashes, more than %d",
                       proof->count, TLOG_PROOF_MAX);
    }
    return ERR_OK;
}

enum err tlog_prove_record(uint64_t tree_size, uint64_t leaf_index,
                           const struct tlog_hash_reader *reader, struct tlog_proof *proof,
                           struct errbuf *err)
{
    ASSERT(reader != NULL);
    ASSERT(proof != NULL);
    if (tree_size > TLOG_TREE_SIZE_MAX || leaf_index >= tree_size) {
        return err_set(err, ERR_INVALID, "leaf_index",
                       "cannot prove leaf %llu in a tree of %llu leaves",
                       (unsigned long long)leaf_index, (unsigned long long)tree_size);
    }
    struct tlog__range siblings[WALK_DEPTH_MAX];
    uint64_t went_right;
    size_t depth = record_walk(tree_size, leaf_index, siblings, &went_right);
    ASSERT(depth <= TLOG_PROOF_MAX);
    struct tlog__range ordered[WALK_DEPTH_MAX];
    for (size_t i = 0; i < depth; i++) {
        ordered[i] = siblings[depth - 1 - i];
    }
    enum err rc = tlog__hash_ranges(ordered, depth, reader, proof->hashes, err);
    if (rc != ERR_OK) {
        return rc;
    }
    proof->count = depth;
    return ERR_OK;
}

enum err tlog_check_record(const struct tlog_proof *proof, uint64_t tree_size,
                           const uint8_t root_hash[TLOG_HASH_LEN], uint64_t leaf_index,
                           const uint8_t leaf_hash[TLOG_HASH_LEN], struct errbuf *err)
{
    ASSERT(root_hash != NULL);
    ASSERT(leaf_hash != NULL);
    enum err rc = check_proof_struct(proof, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (tree_size > TLOG_TREE_SIZE_MAX || leaf_index >= tree_size) {
        return err_set(err, ERR_INVALID, "leaf_index",
                       "leaf %llu cannot be in a tree of %llu leaves",
                       (unsigned long long)leaf_index, (unsigned long long)tree_size);
    }
    struct tlog__range siblings[WALK_DEPTH_MAX];
    uint64_t went_right;
    size_t depth = record_walk(tree_size, leaf_index, siblings, &went_right);
    if (proof->count != depth) {
        return err_set(err, ERR_CORRUPT, "proof",
                       "inclusion proof has %zu hashes, leaf %llu of %llu needs %zu", proof->count,
                       (unsigned long long)leaf_index, (unsigned long long)tree_size, depth);
    }
    uint8_t h[TLOG_HASH_LEN];
    memcpy(h, leaf_hash, TLOG_HASH_LEN);
    for (size_t i = 0; i < depth; i++) {
        size_t d = depth - 1 - i;
        if ((went_right >> d) & 1) {
            tlog_node_hash(proof->hashes[i], h, h);
        } else {
            tlog_node_hash(h, proof->hashes[i], h);
        }
    }
    if (!hash_equal(h, root_hash)) {
        return err_set(err, ERR_CORRUPT, "proof",
                       "inclusion proof of leaf %llu does not match the root of %llu leaves",
                       (unsigned long long)leaf_index, (unsigned long long)tree_size);
    }
    return ERR_OK;
}

enum err tlog_prove_tree(uint64_t tree_size, uint64_t old_size,
                         const struct tlog_hash_reader *reader, struct tlog_proof *proof,
                         struct errbuf *err)
{
    ASSERT(reader != NULL);
    ASSERT(proof != NULL);
    if (tree_size > TLOG_TREE_SIZE_MAX || old_size < 1 || old_size > tree_size) {
        return err_set(err, ERR_INVALID, "old_size",
                       "cannot prove a tree of %llu leaves consistent with %llu leaves",
                       (unsigned long long)old_size, (unsigned long long)tree_size);
    }
    struct tlog__range siblings[WALK_DEPTH_MAX];
    uint64_t went_right;
    uint64_t lo;
    size_t depth = tree_walk(tree_size, old_size, siblings, &went_right, &lo);
    /* The node where the walk stopped is a complete subtree the verifier cannot know unless it
     * is the whole old tree; then it goes first. */
    struct tlog__range ordered[WALK_DEPTH_MAX + 1];
    size_t count = 0;
    if (lo != 0) {
        ordered[count] = (struct tlog__range){lo, old_size};
        count++;
    }
    for (size_t i = 0; i < depth; i++) {
        ordered[count] = siblings[depth - 1 - i];
        count++;
    }
    ASSERT(count <= TLOG_PROOF_MAX);
    enum err rc = tlog__hash_ranges(ordered, count, reader, proof->hashes, err);
    if (rc != ERR_OK) {
        return rc;
    }
    proof->count = count;
    return ERR_OK;
}

enum err tlog_check_tree(const struct tlog_proof *proof, uint64_t tree_size,
                         const uint8_t root_hash[TLOG_HASH_LEN], uint64_t old_size,
                         const uint8_t old_root[TLOG_HASH_LEN], struct errbuf *err)
{
    ASSERT(root_hash != NULL);
    ASSERT(old_root != NULL);
    enum err rc = check_proof_struct(proof, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (tree_size > TLOG_TREE_SIZE_MAX || old_size < 1 || old_size > tree_size) {
        return err_set(err, ERR_INVALID, "old_size",
                       "a tree of %llu leaves cannot extend one of %llu leaves",
                       (unsigned long long)tree_size, (unsigned long long)old_size);
    }
    struct tlog__range siblings[WALK_DEPTH_MAX];
    uint64_t went_right;
    uint64_t lo;
    size_t depth = tree_walk(tree_size, old_size, siblings, &went_right, &lo);
    size_t first = lo != 0 ? 1 : 0;
    if (proof->count != depth + first) {
        return err_set(err, ERR_CORRUPT, "proof",
                       "consistency proof has %zu hashes, %llu to %llu leaves needs %zu",
                       proof->count, (unsigned long long)old_size, (unsigned long long)tree_size,
                       depth + first);
    }
    /* old_hash rebuilds the old root, new_hash the new one, from the same proof. */
    uint8_t old_hash[TLOG_HASH_LEN];
    uint8_t new_hash[TLOG_HASH_LEN];
    memcpy(old_hash, first ? proof->hashes[0] : old_root, TLOG_HASH_LEN);
    memcpy(new_hash, old_hash, TLOG_HASH_LEN);
    for (size_t i = 0; i < depth; i++) {
        size_t d = depth - 1 - i;
        const uint8_t *p = proof->hashes[first + i];
        if ((went_right >> d) & 1) {
            tlog_node_hash(p, old_hash, old_hash);
            tlog_node_hash(p, new_hash, new_hash);
        } else {
            tlog_node_hash(new_hash, p, new_hash);
        }
    }
    if (!hash_equal(old_hash, old_root) || !hash_equal(new_hash, root_hash)) {
        return err_set(err, ERR_CORRUPT, "proof",
                       "consistency proof from %llu to %llu leaves does not match the roots",
                       (unsigned long long)old_size, (unsigned long long)tree_size);
    }
    return ERR_OK;
}
