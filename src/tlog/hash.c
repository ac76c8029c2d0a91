/*
 * hash.c: RFC 9162 hashing and the stored-hash model.
 *
 * The log stores the hash of every complete subtree exactly once, at a dense index (Crosby and
 * Wallach's ordering, as in Go's golang.org/x/mod/sumdb/tlog): leaf n's hash is followed by the
 * hashes of the subtrees that leaf n completes, bottom up. Storage is then append-only and any
 * root or proof needs only O(log n) stored hashes, fetched in a single read. Everything is
 * iterative: the tree's depth is at most 63, and loops carry that bound explicitly.
 */
#include "util/compat.h"
#include "tlog/tlog.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "tlog/tlog_int.h"
#include "util/banned.h"

/* SHA-256(0x00 || data) through OpenSSL, which uses the CPU's SHA extensions where it has
 * them: a ledger event's leaf is kilobytes, and libsodium's portable SHA-256 was a tenth of a
 * batched ledger write (docs/decisions/0004-ledger.md). 0 if OpenSSL failed (no memory). */
static int leaf_hash_openssl(const void *data, size_t len, uint8_t out[TLOG_HASH_LEN])
{
    static const uint8_t prefix = 0x00;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, &prefix, 1) == 1 &&
             (len == 0 || EVP_DigestUpdate(ctx, data, len) == 1) &&
             EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == TLOG_HASH_LEN;
    EVP_MD_CTX_free(ctx);
    return ok;
}

void tlog_leaf_hash(const void *data, size_t len, uint8_t out[TLOG_HASH_LEN])
{
    ASSERT(data != NULL || len == 0);
    ASSERT(out != NULL);
    if (leaf_hash_openssl(data, len, out)) {
        return;
    }
    /* The same hash from libsodium, which cannot fail. */
    static const uint8_t prefix = 0x00;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    if (len > 0) {
        crypto_hash_sha256_update(&st, data, len);
    }
    crypto_hash_sha256_final(&st, out);
}

void tlog_node_hash(const uint8_t left[TLOG_HASH_LEN], const uint8_t right[TLOG_HASH_LEN],
                    uint8_t out[TLOG_HASH_LEN])
{
    ASSERT(left != NULL);
    ASSERT(right != NULL);
    ASSERT(out != NULL);
    uint8_t in[1 + 2 * TLOG_HASH_LEN];
    in[0] = 0x01;
    memcpy(in + 1, left, TLOG_HASH_LEN);
    memcpy(in + 1 + TLOG_HASH_LEN, right, TLOG_HASH_LEN);
    crypto_hash_sha256(out, in, sizeof(in));
}

void tlog_empty_hash(uint8_t out[TLOG_HASH_LEN])
{
    ASSERT(out != NULL);
    crypto_hash_sha256(out, (const unsigned char *)"", 0);
}

/* Number of the highest set bit of n (n > 0): floor(log2(n)). */
static unsigned log2_floor(uint64_t n)
{
    ASSERT(n > 0);
    return 63u - (unsigned)__builtin_clzll(n);
}

uint64_t tlog__pow2_below(uint64_t n)
{
    ASSERT(n >= 2);
    return UINT64_C(1) << log2_floor(n - 1);
}

uint64_t tlog_stored_hash_index(unsigned level, uint64_t n)
{
    ASSERT(level <= 63);
    /* The subtree must end within 2^63 leaves: (n + 1) << level <= 2^63. */
    ASSERT(n < (UINT64_C(1) << (63 - level)));
    /* Level l's n-th hash is stored right after level l+1's (2n+1)-th leaf... down to level 0,
     * where leaf n's hash is at n + n/2 + n/4 + ...; the level is added back at the end. */
    uint64_t leaf = (n << level) | ((UINT64_C(1) << level) - 1);
    uint64_t index = 0;
    for (uint64_t m = leaf; m > 0; m >>= 1) {
        index += m;
    }
    return index + level;
}

uint64_t tlog_stored_hash_count(uint64_t tree_size)
{
    ASSERT(tree_size <= TLOG_TREE_SIZE_MAX);
    if (tree_size == 0) {
        return 0;
    }
    uint64_t last = tree_size - 1;
    uint64_t count = tlog_stored_hash_index(0, last) + 1;
    /* Plus the hashes of the subtrees that the last leaf completes. */
    for (uint64_t m = last; (m & 1) != 0; m >>= 1) {
        count++;
    }
    return count;
}

enum err tlog__read(const struct tlog_hash_reader *reader, const uint64_t *indexes, size_t count,
                    uint8_t (*out)[TLOG_HASH_LEN], struct errbuf *err)
{
    ASSERT(reader != NULL);
    ASSERT(reader->read_hashes_cb != NULL);
    ASSERT(count >= 1);
    ASSERT(count <= TLOG_READ_MAX);
    return reader->read_hashes_cb(reader->ctx, indexes, count, out, err);
}

enum err tlog_stored_hashes(uint64_t leaf_index, const uint8_t leaf_hash[TLOG_HASH_LEN],
                            const struct tlog_hash_reader *reader, uint8_t (*out)[TLOG_HASH_LEN],
                            size_t *count, struct errbuf *err)
{
    ASSERT(leaf_hash != NULL);
    ASSERT(out != NULL);
    ASSERT(count != NULL);
    if (leaf_index >= TLOG_TREE_SIZE_MAX) {
        return err_set(err, ERR_LIMIT, "", "log is full at %llu leaves",
                       (unsigned long long)TLOG_TREE_SIZE_MAX);
    }
    /* Each trailing one bit of leaf_index completes a subtree, whose left half is stored. */
    unsigned completed = (unsigned)__builtin_ctzll(leaf_index + 1);
    ASSERT(completed + 1 <= TLOG_STORED_HASHES_MAX);
    uint64_t indexes[TLOG_STORED_HASHES_MAX];
    uint8_t left[TLOG_STORED_HASHES_MAX][TLOG_HASH_LEN];
    for (unsigned i = 0; i < completed; i++) {
        /* Sorted ascending: the highest level's sibling was stored first. */
        indexes[completed - 1 - i] = tlog_stored_hash_index(i, (leaf_index >> i) - 1);
    }
    if (completed > 0) {
        enum err rc = tlog__read(reader, indexes, completed, left, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    memcpy(out[0], leaf_hash, TLOG_HASH_LEN);
    for (unsigned i = 0; i < completed; i++) {
        tlog_node_hash(left[completed - 1 - i], out[i], out[i + 1]);
    }
    *count = completed + 1;
    return ERR_OK;
}

/*
 * Appends the stored indexes of the complete subtrees that make up [lo, hi), left to right,
 * largest first. Returns how many were appended (at most 64).
 */
static size_t subtree_indexes(uint64_t lo, uint64_t hi, uint64_t *out, size_t room)
{
    size_t n = 0;
    while (lo < hi) {
        unsigned level = log2_floor(hi - lo);
        uint64_t size = UINT64_C(1) << level;
        /* The RFC split only produces ranges whose decomposition is aligned. */
        ASSERT((lo & (size - 1)) == 0);
        ASSERT(n < room);
        out[n] = tlog_stored_hash_index(level, lo >> level);
        n++;
        lo += size;
    }
    return n;
}

enum err tlog__hash_ranges(const struct tlog__range *ranges, size_t count,
                           const struct tlog_hash_reader *reader, uint8_t (*out)[TLOG_HASH_LEN],
                           struct errbuf *err)
{
    ASSERT(ranges != NULL || count == 0);
    ASSERT(count <= TLOG_PROOF_MAX);
    if (count == 0) {
        return ERR_OK;
    }
    uint64_t indexes[TLOG_READ_MAX];
    uint8_t hashes[TLOG_READ_MAX][TLOG_HASH_LEN];
    size_t parts[TLOG_PROOF_MAX];
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        ASSERT(ranges[i].lo < ranges[i].hi);
        ASSERT(ranges[i].hi <= TLOG_TREE_SIZE_MAX);
        parts[i] =
            subtree_indexes(ranges[i].lo, ranges[i].hi, indexes + total, TLOG_READ_MAX - total);
        total += parts[i];
    }
    enum err rc = tlog__read(reader, indexes, total, hashes, err);
    if (rc != ERR_OK) {
        return rc;
    }
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        /* MTH of [lo, hi) folds its complete subtrees right to left. */
        uint8_t h[TLOG_HASH_LEN];
        memcpy(h, hashes[at + parts[i] - 1], TLOG_HASH_LEN);
        for (size_t k = parts[i] - 1; k > 0; k--) {
            tlog_node_hash(hashes[at + k - 1], h, h);
        }
        memcpy(out[i], h, TLOG_HASH_LEN);
        at += parts[i];
    }
    ASSERT(at == total);
    return ERR_OK;
}

enum err tlog_tree_hash(uint64_t tree_size, const struct tlog_hash_reader *reader,
                        uint8_t out[TLOG_HASH_LEN], struct errbuf *err)
{
    ASSERT(out != NULL);
    if (tree_size > TLOG_TREE_SIZE_MAX) {
        return err_set(err, ERR_INVALID, "tree_size", "tree size %llu is too large",
                       (unsigned long long)tree_size);
    }
    if (tree_size == 0) {
        tlog_empty_hash(out);
        return ERR_OK;
    }
    struct tlog__range all = {0, tree_size};
    uint8_t root[1][TLOG_HASH_LEN];
    enum err rc = tlog__hash_ranges(&all, 1, reader, root, err);
    if (rc != ERR_OK) {
        return rc;
    }
    memcpy(out, root[0], TLOG_HASH_LEN);
    return ERR_OK;
}
