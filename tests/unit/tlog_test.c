/*
 * tlog_test.c: unit tests of the transparency log module.
 *
 * Known answers come from elsewhere so that the tests check interoperability, not just
 * self-consistency: the RFC 6962 8-leaf tree with its roots and proofs from
 * transparency-dev/merkle (testonly/constants.go, proof/verify_test.go), the signed-note vectors
 * of Go's golang.org/x/mod/sumdb/note (note_test.go), the checkpoint golden of
 * golang.org/x/mod/sumdb/tlog (note_test.go), and the tile counts of the c2sp.org/tlog-tiles
 * example. Beyond those, a naive recursive RFC 9162 MTH/PATH/PROOF and the RFC's own verification
 * algorithms serve as oracles for every tree up to 300 leaves and for tampered proofs.
 */
#include "util/compat.h"
#include "tlog/tlog.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tlog/tlog_int.h"
#include "util/util.h"
#include "util/banned.h"

#define EM_DASH "\xe2\x80\x94"

/* ---- helpers ---------------------------------------------------------------------------- */

static void hex_decode(const char *hex, uint8_t *out, size_t out_len)
{
    assert_int_equal(strlen(hex), 2 * out_len);
    for (size_t i = 0; i < out_len; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void assert_hash_hex(const uint8_t h[TLOG_HASH_LEN], const char *hex)
{
    uint8_t want[TLOG_HASH_LEN];
    hex_decode(hex, want, sizeof(want));
    assert_memory_equal(h, want, TLOG_HASH_LEN);
}

/* An in-memory hash store behind the reader interface. */
struct mem_store {
    uint8_t (*hashes)[TLOG_HASH_LEN];
    uint64_t count;
    uint64_t cap;
    uint64_t limit; /* reads at or past this index fail, to catch reads beyond a tree */
    long reads;
    enum err fail; /* when not ERR_OK, every read fails with it */
};

static enum err mem_read(void *ctx, const uint64_t *indexes, size_t count,
                         uint8_t (*out)[TLOG_HASH_LEN], struct errbuf *err)
{
    struct mem_store *s = ctx;
    s->reads++;
    assert_true(count >= 1 && count <= TLOG_READ_MAX);
    if (s->fail != ERR_OK) {
        return err_set(err, s->fail, "", "injected read failure");
    }
    for (size_t i = 0; i < count; i++) {
        if (indexes[i] >= s->count || indexes[i] >= s->limit) {
            return err_set(err, ERR_NOT_FOUND, "", "no hash at %llu",
                           (unsigned long long)indexes[i]);
        }
        memcpy(out[i], s->hashes[indexes[i]], TLOG_HASH_LEN);
    }
    return ERR_OK;
}

static struct tlog_hash_reader store_reader(struct mem_store *s)
{
    struct tlog_hash_reader r = {mem_read, s};
    return r;
}

static void store_init(struct mem_store *s, uint64_t leaves)
{
    memset(s, 0, sizeof(*s));
    s->cap = 2 * leaves + 64;
    s->hashes = mem_calloc(s->cap, TLOG_HASH_LEN);
    assert_non_null(s->hashes);
    s->limit = UINT64_MAX;
}

static void store_release(struct mem_store *s)
{
    mem_free(s->hashes);
    s->hashes = NULL;
}

/* Appends leaf number leaf_index (the store holds exactly leaf_index leaves). */
static void store_append_hash(struct mem_store *s, uint64_t leaf_index,
                              const uint8_t leaf_hash[TLOG_HASH_LEN])
{
    struct tlog_hash_reader r = store_reader(s);
    uint8_t out[TLOG_STORED_HASHES_MAX][TLOG_HASH_LEN];
    size_t count = 0;
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(tlog_stored_hashes(leaf_index, leaf_hash, &r, out, &count, &err), ERR_OK);
    assert_int_equal(s->count, tlog_stored_hash_index(0, leaf_index));
    assert_true(s->count + count <= s->cap);
    memcpy(s->hashes[s->count], out, count * TLOG_HASH_LEN);
    s->count += count;
    assert_int_equal(s->count, tlog_stored_hash_count(leaf_index + 1));
}

/* ---- the RFC 6962 test tree ------------------------------------------------------------- */

static const char *const rfc_leaves_hex[8] = {
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

/* transparency-dev/merkle testonly/constants.go RootHashes(), sizes 0..8. */
static const char *const rfc_roots_hex[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* testonly/constants.go NodeHashes(): level 0 (leaf hashes) and level 1. */
static const char *const rfc_leaf_hashes_hex[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};
static const char *const rfc_level1_hex[4] = {
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
};

/* proof/verify_test.go: inclusionProofs (leaf is 1-based there) and consistencyProofs. */
struct vector {
    uint64_t a; /* inclusion: leaf index (0-based); consistency: old size */
    uint64_t b; /* tree size */
    size_t count;
    const char *hashes[3];
};

static const struct vector rfc_inclusion[] = {
    {0, 1, 0, {NULL}},
    {0,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     3,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     3,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

static const struct vector rfc_consistency[] = {
    {1, 1, 0, {NULL}},
    {1,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     2,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

static void rfc_leaf_hash(size_t i, uint8_t out[TLOG_HASH_LEN])
{
    uint8_t data[16];
    size_t len = strlen(rfc_leaves_hex[i]) / 2;
    hex_decode(rfc_leaves_hex[i], data, len);
    tlog_leaf_hash(data, len, out);
}

static void rfc_store(struct mem_store *s)
{
    store_init(s, 8);
    for (size_t i = 0; i < 8; i++) {
        uint8_t h[TLOG_HASH_LEN];
        rfc_leaf_hash(i, h);
        store_append_hash(s, i, h);
    }
}

static void vector_proof(const struct vector *v, struct tlog_proof *p)
{
    p->count = v->count;
    for (size_t i = 0; i < v->count; i++) {
        hex_decode(v->hashes[i], p->hashes[i], TLOG_HASH_LEN);
    }
}

/* ---- naive RFC 9162 reference ----------------------------------------------------------- */

#define REF_N 300

static uint8_t ref_leaf[REF_N][TLOG_HASH_LEN];
static uint8_t ref_memo[REF_N + 1][REF_N + 1][TLOG_HASH_LEN];
static uint8_t ref_memo_set[REF_N + 1][REF_N + 1];

static uint64_t ref_k(uint64_t n)
{
    uint64_t k = 1;
    while (k * 2 < n) {
        k *= 2;
    }
    return k;
}

/* MTH(D[lo:hi]) straight from RFC 9162 section 2.1.1, memoised. */
static const uint8_t *ref_mth(uint64_t lo, uint64_t hi)
{
    if (!ref_memo_set[lo][hi]) {
        uint64_t n = hi - lo;
        if (n == 0) {
            crypto_hash_sha256(ref_memo[lo][hi], (const unsigned char *)"", 0);
        } else if (n == 1) {
            memcpy(ref_memo[lo][hi], ref_leaf[lo], TLOG_HASH_LEN);
        } else {
            uint64_t k = ref_k(n);
            uint8_t buf[1 + 2 * TLOG_HASH_LEN];
            buf[0] = 1;
            memcpy(buf + 1, ref_mth(lo, lo + k), TLOG_HASH_LEN);
            memcpy(buf + 1 + TLOG_HASH_LEN, ref_mth(lo + k, hi), TLOG_HASH_LEN);
            crypto_hash_sha256(ref_memo[lo][hi], buf, sizeof(buf));
        }
        ref_memo_set[lo][hi] = 1;
    }
    return ref_memo[lo][hi];
}

static void ref_push(struct tlog_proof *p, const uint8_t *h)
{
    assert_true(p->count < TLOG_PROOF_MAX);
    memcpy(p->hashes[p->count], h, TLOG_HASH_LEN);
    p->count++;
}

/* PATH(m, D[lo:hi]) of RFC 9162 section 2.1.3.1, m absolute. */
static void ref_path(uint64_t m, uint64_t lo, uint64_t hi, struct tlog_proof *p)
{
    uint64_t n = hi - lo;
    if (n == 1) {
        return;
    }
    uint64_t k = ref_k(n);
    if (m < lo + k) {
        ref_path(m, lo, lo + k, p);
        ref_push(p, ref_mth(lo + k, hi));
    } else {
        ref_path(m, lo + k, hi, p);
        ref_push(p, ref_mth(lo, lo + k));
    }
}

/* SUBPROOF(m, D[lo:hi], b) of RFC 9162 section 2.1.4.1, m relative to lo. */
static void ref_subproof(uint64_t m, uint64_t lo, uint64_t hi, int b, struct tlog_proof *p)
{
    uint64_t n = hi - lo;
    if (m == n) {
        if (!b) {
            ref_push(p, ref_mth(lo, hi));
        }
        return;
    }
    uint64_t k = ref_k(n);
    if (m <= k) {
        ref_subproof(m, lo, lo + k, b, p);
        ref_push(p, ref_mth(lo + k, hi));
    } else {
        ref_subproof(m - k, lo + k, hi, 0, p);
        ref_push(p, ref_mth(lo, lo + k));
    }
}

/* The verification algorithm of RFC 9162 section 2.1.3.2, verbatim. */
static int rfc_verify_inclusion(uint64_t index, uint64_t size, const uint8_t *leaf,
                                const struct tlog_proof *p, const uint8_t *root)
{
    if (index >= size || p->count > TLOG_PROOF_MAX) {
        return 0;
    }
    uint64_t fn = index;
    uint64_t sn = size - 1;
    uint8_t r[TLOG_HASH_LEN];
    memcpy(r, leaf, TLOG_HASH_LEN);
    for (size_t i = 0; i < p->count; i++) {
        if (sn == 0) {
            return 0;
        }
        if ((fn & 1) || fn == sn) {
            tlog_node_hash(p->hashes[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            tlog_node_hash(r, p->hashes[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, TLOG_HASH_LEN) == 0;
}

/* The verification algorithm of RFC 9162 section 2.1.4.2, verbatim (0 < first <= second). */
static int rfc_verify_consistency(uint64_t first, uint64_t second, const uint8_t *first_hash,
                                  const uint8_t *second_hash, const struct tlog_proof *p)
{
    if (first == 0 || first > second || p->count > TLOG_PROOF_MAX) {
        return 0;
    }
    if (first == second) {
        return p->count == 0 && memcmp(first_hash, second_hash, TLOG_HASH_LEN) == 0;
    }
    if (p->count == 0) {
        return 0;
    }
    uint8_t path[TLOG_PROOF_MAX + 1][TLOG_HASH_LEN];
    size_t n = 0;
    if ((first & (first - 1)) == 0) {
        memcpy(path[n++], first_hash, TLOG_HASH_LEN);
    }
    for (size_t i = 0; i < p->count; i++) {
        memcpy(path[n++], p->hashes[i], TLOG_HASH_LEN);
    }
    uint64_t fn = first - 1;
    uint64_t sn = second - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[TLOG_HASH_LEN];
    uint8_t sr[TLOG_HASH_LEN];
    memcpy(fr, path[0], TLOG_HASH_LEN);
    memcpy(sr, path[0], TLOG_HASH_LEN);
    for (size_t i = 1; i < n; i++) {
        if (sn == 0) {
            return 0;
        }
        if ((fn & 1) || fn == sn) {
            tlog_node_hash(path[i], fr, fr);
            tlog_node_hash(path[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            tlog_node_hash(sr, path[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(fr, first_hash, TLOG_HASH_LEN) == 0 &&
           memcmp(sr, second_hash, TLOG_HASH_LEN) == 0;
}

/* A store of REF_N leaves "leaf <i>" and the reference built on the same leaves. */
static void ref_store(struct mem_store *s)
{
    store_init(s, REF_N);
    memset(ref_memo_set, 0, sizeof(ref_memo_set));
    for (uint64_t i = 0; i < REF_N; i++) {
        char data[32];
        int n = snprintf(data, sizeof(data), "leaf %llu", (unsigned long long)i);
        tlog_leaf_hash(data, (size_t)n, ref_leaf[i]);
        store_append_hash(s, i, ref_leaf[i]);
    }
}

/* ---- hashing and the stored-hash model -------------------------------------------------- */

static void test_tlog__hashes_match_rfc6962_vectors(void **state)
{
    (void)state;
    uint8_t h[TLOG_HASH_LEN];
    tlog_empty_hash(h);
    assert_hash_hex(h, rfc_roots_hex[0]);
    uint8_t leaves[8][TLOG_HASH_LEN];
    for (size_t i = 0; i < 8; i++) {
        rfc_leaf_hash(i, leaves[i]);
        assert_hash_hex(leaves[i], rfc_leaf_hashes_hex[i]);
    }
    for (size_t i = 0; i < 4; i++) {
        tlog_node_hash(leaves[2 * i], leaves[2 * i + 1], h);
        assert_hash_hex(h, rfc_level1_hex[i]);
    }
}

static void test_tlog__tree_hash_matches_rfc6962_roots(void **state)
{
    (void)state;
    struct mem_store s;
    rfc_store(&s);
    struct tlog_hash_reader r = store_reader(&s);
    for (uint64_t n = 0; n <= 8; n++) {
        uint8_t root[TLOG_HASH_LEN];
        s.limit = tlog_stored_hash_count(n);
        assert_int_equal(tlog_tree_hash(n, &r, root, NULL), ERR_OK);
        assert_hash_hex(root, rfc_roots_hex[n]);
    }
    store_release(&s);
}

static void test_tlog__stored_hash_index_is_dense(void **state)
{
    (void)state;
    /* Go's ordering: leaf 0, leaf 1, (1,0), leaf 2, leaf 3, (1,1), (2,0), leaf 4, ... */
    assert_int_equal(tlog_stored_hash_index(0, 0), 0);
    assert_int_equal(tlog_stored_hash_index(0, 1), 1);
    assert_int_equal(tlog_stored_hash_index(1, 0), 2);
    assert_int_equal(tlog_stored_hash_index(0, 2), 3);
    assert_int_equal(tlog_stored_hash_index(0, 3), 4);
    assert_int_equal(tlog_stored_hash_index(1, 1), 5);
    assert_int_equal(tlog_stored_hash_index(2, 0), 6);
    assert_int_equal(tlog_stored_hash_index(0, 4), 7);
    assert_int_equal(tlog_stored_hash_count(0), 0);
    assert_int_equal(tlog_stored_hash_count(1), 1);
    assert_int_equal(tlog_stored_hash_count(4), 7);
    assert_int_equal(tlog_stored_hash_count(5), 8);

    /* Every complete subtree of a 1000-leaf tree has its own index, and they fill the range. */
    enum { N = 1000 };
    uint64_t total = tlog_stored_hash_count(N);
    uint8_t *seen = mem_calloc(total, 1);
    assert_non_null(seen);
    for (unsigned level = 0; (UINT64_C(1) << level) <= N; level++) {
        for (uint64_t n = 0; (n + 1) << level <= N; n++) {
            uint64_t i = tlog_stored_hash_index(level, n);
            assert_true(i < total);
            assert_false(seen[i]);
            seen[i] = 1;
        }
    }
    for (uint64_t i = 0; i < total; i++) {
        assert_true(seen[i]);
    }
    mem_free(seen);
}

static void test_tlog__matches_reference_for_every_size_to_300(void **state)
{
    (void)state;
    struct mem_store s;
    ref_store(&s);
    struct tlog_hash_reader r = store_reader(&s);
    struct tlog_proof got;
    struct tlog_proof want;
    for (uint64_t n = 1; n <= REF_N; n++) {
        /* Proofs for a tree of n leaves must not read anything stored after it. */
        s.limit = tlog_stored_hash_count(n);
        uint8_t root[TLOG_HASH_LEN];
        assert_int_equal(tlog_tree_hash(n, &r, root, NULL), ERR_OK);
        assert_memory_equal(root, ref_mth(0, n), TLOG_HASH_LEN);
        for (uint64_t i = 0; i < n; i++) {
            assert_int_equal(tlog_prove_record(n, i, &r, &got, NULL), ERR_OK);
            want.count = 0;
            ref_path(i, 0, n, &want);
            assert_int_equal(got.count, want.count);
            assert_memory_equal(got.hashes, want.hashes, want.count * TLOG_HASH_LEN);
            assert_int_equal(tlog_check_record(&got, n, root, i, ref_leaf[i], NULL), ERR_OK);
            assert_true(rfc_verify_inclusion(i, n, ref_leaf[i], &got, root));
        }
        for (uint64_t m = 1; m <= n; m++) {
            assert_int_equal(tlog_prove_tree(n, m, &r, &got, NULL), ERR_OK);
            want.count = 0;
            ref_subproof(m, 0, n, 1, &want);
            assert_int_equal(got.count, want.count);
            assert_memory_equal(got.hashes, want.hashes, want.count * TLOG_HASH_LEN);
            const uint8_t *old_root = ref_mth(0, m);
            assert_int_equal(tlog_check_tree(&got, n, root, m, old_root, NULL), ERR_OK);
            assert_true(rfc_verify_consistency(m, n, old_root, root, &got));
        }
    }
    uint8_t empty[TLOG_HASH_LEN];
    assert_int_equal(tlog_tree_hash(0, &r, empty, NULL), ERR_OK);
    assert_memory_equal(empty, ref_mth(0, 0), TLOG_HASH_LEN);
    store_release(&s);
}

static void test_tlog__rfc6962_inclusion_vectors(void **state)
{
    (void)state;
    struct mem_store s;
    rfc_store(&s);
    struct tlog_hash_reader r = store_reader(&s);
    uint8_t some[TLOG_HASH_LEN];
    hex_decode("abacaba000000000000000000000000000000000000000000060061e00123456", some, 32);
    for (size_t v = 0; v < ARRAY_LEN(rfc_inclusion); v++) {
        const struct vector *vec = &rfc_inclusion[v];
        uint64_t i = vec->a;
        uint64_t n = vec->b;
        struct tlog_proof want;
        vector_proof(vec, &want);
        struct tlog_proof got;
        assert_int_equal(tlog_prove_record(n, i, &r, &got, NULL), ERR_OK);
        assert_int_equal(got.count, want.count);
        assert_memory_equal(got.hashes, want.hashes, want.count * TLOG_HASH_LEN);
        uint8_t root[TLOG_HASH_LEN];
        uint8_t leaf[TLOG_HASH_LEN];
        hex_decode(rfc_roots_hex[n], root, 32);
        rfc_leaf_hash((size_t)i, leaf);
        assert_int_equal(tlog_check_record(&want, n, root, i, leaf, NULL), ERR_OK);

        /* The corruptions of verify_test.go's corruptInclusionProof. */
        uint64_t bad_index[] = {i - 1, i + 1, i ^ 2};
        for (size_t k = 0; k < ARRAY_LEN(bad_index); k++) {
            assert_int_not_equal(tlog_check_record(&want, n, root, bad_index[k], leaf, NULL),
                                 ERR_OK);
        }
        assert_int_not_equal(tlog_check_record(&want, n * 2, root, i, leaf, NULL), ERR_OK);
        assert_int_not_equal(tlog_check_record(&want, n / 2, root, i, leaf, NULL), ERR_OK);
        assert_int_equal(tlog_check_record(&want, n, root, i, some, NULL), ERR_CORRUPT);
        assert_int_equal(tlog_check_record(&want, n, some, i, leaf, NULL), ERR_CORRUPT);
        uint8_t empty[TLOG_HASH_LEN];
        tlog_empty_hash(empty);
        assert_int_equal(tlog_check_record(&want, n, empty, i, leaf, NULL), ERR_CORRUPT);
        struct tlog_proof bad = want;
        memcpy(bad.hashes[bad.count++], root, TLOG_HASH_LEN);
        assert_int_equal(tlog_check_record(&bad, n, root, i, leaf, NULL), ERR_CORRUPT);
        for (size_t k = 0; k < want.count; k++) {
            bad = want;
            bad.hashes[k][0] ^= 8;
            assert_int_equal(tlog_check_record(&bad, n, root, i, leaf, NULL), ERR_CORRUPT);
        }
        if (want.count > 0) {
            bad = want;
            bad.count--;
            assert_int_equal(tlog_check_record(&bad, n, root, i, leaf, NULL), ERR_CORRUPT);
        }
    }
    store_release(&s);
}

static void test_tlog__rfc6962_consistency_vectors(void **state)
{
    (void)state;
    struct mem_store s;
    rfc_store(&s);
    struct tlog_hash_reader r = store_reader(&s);
    for (size_t v = 0; v < ARRAY_LEN(rfc_consistency); v++) {
        const struct vector *vec = &rfc_consistency[v];
        uint64_t m = vec->a;
        uint64_t n = vec->b;
        struct tlog_proof want;
        vector_proof(vec, &want);
        struct tlog_proof got;
        assert_int_equal(tlog_prove_tree(n, m, &r, &got, NULL), ERR_OK);
        assert_int_equal(got.count, want.count);
        assert_memory_equal(got.hashes, want.hashes, want.count * TLOG_HASH_LEN);
        uint8_t root1[TLOG_HASH_LEN];
        uint8_t root2[TLOG_HASH_LEN];
        hex_decode(rfc_roots_hex[m], root1, 32);
        hex_decode(rfc_roots_hex[n], root2, 32);
        assert_int_equal(tlog_check_tree(&want, n, root2, m, root1, NULL), ERR_OK);
        if (want.count == 0) {
            continue;
        }
        /* The corruptions of verify_test.go's corruptConsistencyProof. */
        uint64_t bad_old[] = {m - 1, m + 1, m ^ 2};
        for (size_t k = 0; k < ARRAY_LEN(bad_old); k++) {
            assert_int_not_equal(tlog_check_tree(&want, n, root2, bad_old[k], root1, NULL), ERR_OK);
        }
        assert_int_not_equal(tlog_check_tree(&want, n * 2, root2, m, root1, NULL), ERR_OK);
        assert_int_not_equal(tlog_check_tree(&want, n / 2, root2, m, root1, NULL), ERR_OK);
        assert_int_equal(tlog_check_tree(&want, n, root1, m, root2, NULL), ERR_CORRUPT);
        struct tlog_proof bad = want;
        bad.count = 0;
        assert_int_equal(tlog_check_tree(&bad, n, root2, m, root1, NULL), ERR_CORRUPT);
        const uint8_t *extra[] = {root1, root2, want.hashes[0]};
        for (size_t k = 0; k < ARRAY_LEN(extra); k++) {
            bad = want;
            memcpy(bad.hashes[bad.count++], extra[k], TLOG_HASH_LEN);
            assert_int_equal(tlog_check_tree(&bad, n, root2, m, root1, NULL), ERR_CORRUPT);
            bad.count = 0;
            memcpy(bad.hashes[bad.count++], extra[k], TLOG_HASH_LEN);
            memcpy(bad.hashes[1], want.hashes, want.count * TLOG_HASH_LEN);
            bad.count += want.count;
            assert_int_equal(tlog_check_tree(&bad, n, root2, m, root1, NULL), ERR_CORRUPT);
        }
        bad = want;
        bad.count--;
        assert_int_equal(tlog_check_tree(&bad, n, root2, m, root1, NULL), ERR_CORRUPT);
        for (size_t k = 0; k < want.count; k++) {
            bad = want;
            bad.hashes[k][0] ^= 16;
            assert_int_equal(tlog_check_tree(&bad, n, root2, m, root1, NULL), ERR_CORRUPT);
        }
    }
    store_release(&s);
}

/* Tree sizes and leaves sampled for the tampering tests. */
static const uint64_t sample_sizes[] = {1,  2,  3,  4,   5,   7,   8,   9,
                                        13, 31, 64, 100, 255, 256, 257, 300};

static void test_tlog__tampered_inclusion_proofs_rejected(void **state)
{
    (void)state;
    struct mem_store s;
    ref_store(&s);
    struct tlog_hash_reader r = store_reader(&s);
    long rejected = 0;
    for (size_t si = 0; si < ARRAY_LEN(sample_sizes); si++) {
        uint64_t n = sample_sizes[si];
        uint64_t leaves[] = {0, 1, n / 2, n - 2, n - 1};
        for (size_t li = 0; li < ARRAY_LEN(leaves); li++) {
            uint64_t i = leaves[li];
            if (i >= n) {
                continue;
            }
            struct tlog_proof p;
            assert_int_equal(tlog_prove_record(n, i, &r, &p, NULL), ERR_OK);
            const uint8_t *root = ref_mth(0, n);
            const uint8_t *leaf = ref_leaf[i];
            struct tlog_proof bad;
            /* Every bit of every byte of every hash. */
            for (size_t h = 0; h < p.count; h++) {
                for (size_t b = 0; b < TLOG_HASH_LEN; b++) {
                    for (unsigned bit = 0; bit < 8; bit++) {
                        bad = p;
                        bad.hashes[h][b] ^= (uint8_t)(1u << bit);
                        assert_int_equal(tlog_check_record(&bad, n, root, i, leaf, NULL),
                                         ERR_CORRUPT);
                        rejected++;
                    }
                }
            }
            /* Drop each hash; add one at each position. */
            for (size_t h = 0; h < p.count; h++) {
                bad = p;
                memmove(bad.hashes[h], bad.hashes[h + 1], (p.count - h - 1) * TLOG_HASH_LEN);
                bad.count--;
                assert_int_equal(tlog_check_record(&bad, n, root, i, leaf, NULL), ERR_CORRUPT);
            }
            for (size_t h = 0; h <= p.count; h++) {
                bad = p;
                memmove(bad.hashes[h + 1], bad.hashes[h], (p.count - h) * TLOG_HASH_LEN);
                memcpy(bad.hashes[h], root, TLOG_HASH_LEN);
                bad.count++;
                assert_int_equal(tlog_check_record(&bad, n, root, i, leaf, NULL), ERR_CORRUPT);
            }
            bad = p;
            bad.count = TLOG_PROOF_MAX + 1;
            assert_int_equal(tlog_check_record(&bad, n, root, i, leaf, NULL), ERR_INVALID);
            /* Other indexes and sizes: the RFC's own algorithm is the judge, since a proof
             * can hold for a different size when the tree's shape along the path is equal. */
            uint64_t idx[] = {i - 1, i + 1, i ^ 1, i ^ 2, 0, n - 1, n, UINT64_MAX};
            uint64_t sizes[] = {n - 1, n + 1, n * 2, n / 2, i, i + 1, TLOG_TREE_SIZE_MAX};
            for (size_t a = 0; a < ARRAY_LEN(idx); a++) {
                for (size_t b = 0; b < ARRAY_LEN(sizes); b++) {
                    uint64_t i2 = idx[a];
                    uint64_t n2 = sizes[b];
                    if (i2 == i && n2 == n) {
                        continue;
                    }
                    enum err rc = tlog_check_record(&p, n2, root, i2, leaf, NULL);
                    int ok = rfc_verify_inclusion(i2, n2, leaf, &p, root);
                    assert_int_equal(rc == ERR_OK, ok);
                    assert_true(rc == ERR_OK || rc == ERR_CORRUPT || rc == ERR_INVALID);
                    rejected += rc != ERR_OK;
                }
            }
        }
    }
    assert_true(rejected > 10000);
    store_release(&s);
}

static void test_tlog__tampered_consistency_proofs_rejected(void **state)
{
    (void)state;
    struct mem_store s;
    ref_store(&s);
    struct tlog_hash_reader r = store_reader(&s);
    for (size_t si = 0; si < ARRAY_LEN(sample_sizes); si++) {
        uint64_t n = sample_sizes[si];
        uint64_t olds[] = {1, 2, 3, n / 2, n - 1, n};
        for (size_t oi = 0; oi < ARRAY_LEN(olds); oi++) {
            uint64_t m = olds[oi];
            if (m < 1 || m > n) {
                continue;
            }
            struct tlog_proof p;
            assert_int_equal(tlog_prove_tree(n, m, &r, &p, NULL), ERR_OK);
            const uint8_t *root = ref_mth(0, n);
            const uint8_t *old_root = ref_mth(0, m);
            struct tlog_proof bad;
            for (size_t h = 0; h < p.count; h++) {
                for (size_t b = 0; b < TLOG_HASH_LEN; b++) {
                    bad = p;
                    bad.hashes[h][b] ^= 0x01;
                    assert_int_equal(tlog_check_tree(&bad, n, root, m, old_root, NULL),
                                     ERR_CORRUPT);
                    bad.hashes[h][b] ^= 0x81;
                    assert_int_equal(tlog_check_tree(&bad, n, root, m, old_root, NULL),
                                     ERR_CORRUPT);
                }
            }
            for (size_t h = 0; h < p.count; h++) {
                bad = p;
                memmove(bad.hashes[h], bad.hashes[h + 1], (p.count - h - 1) * TLOG_HASH_LEN);
                bad.count--;
                assert_int_equal(tlog_check_tree(&bad, n, root, m, old_root, NULL), ERR_CORRUPT);
            }
            for (size_t h = 0; h <= p.count; h++) {
                bad = p;
                memmove(bad.hashes[h + 1], bad.hashes[h], (p.count - h) * TLOG_HASH_LEN);
                memcpy(bad.hashes[h], old_root, TLOG_HASH_LEN);
                bad.count++;
                assert_int_equal(tlog_check_tree(&bad, n, root, m, old_root, NULL), ERR_CORRUPT);
            }
            if (m != n) {
                assert_int_equal(tlog_check_tree(&p, n, old_root, m, root, NULL), ERR_CORRUPT);
            }
            uint64_t olds2[] = {0, m - 1, m + 1, m ^ 1, m ^ 2, n, n + 1};
            uint64_t sizes[] = {n - 1, n, n + 1, n * 2, n / 2, m, TLOG_TREE_SIZE_MAX};
            for (size_t a = 0; a < ARRAY_LEN(olds2); a++) {
                for (size_t b = 0; b < ARRAY_LEN(sizes); b++) {
                    uint64_t m2 = olds2[a];
                    uint64_t n2 = sizes[b];
                    if (m2 == m && n2 == n) {
                        continue;
                    }
                    enum err rc = tlog_check_tree(&p, n2, root, m2, old_root, NULL);
                    int ok = rfc_verify_consistency(m2, n2, old_root, root, &p);
                    assert_int_equal(rc == ERR_OK, ok);
                    assert_true(rc == ERR_OK || rc == ERR_CORRUPT || rc == ERR_INVALID);
                }
            }
        }
    }
    store_release(&s);
}

static void test_tlog__proof_arguments_out_of_range(void **state)
{
    (void)state;
    struct mem_store s;
    rfc_store(&s);
    struct tlog_hash_reader r = store_reader(&s);
    struct tlog_proof p;
    struct errbuf err;
    errbuf_init(&err);
    uint8_t h[TLOG_HASH_LEN] = {0};
    assert_int_equal(tlog_prove_record(0, 0, &r, &p, &err), ERR_INVALID);
    assert_int_equal(tlog_prove_record(8, 8, &r, &p, &err), ERR_INVALID);
    assert_int_equal(tlog_prove_record(TLOG_TREE_SIZE_MAX + 1, 0, &r, &p, &err), ERR_INVALID);
    assert_int_equal(tlog_prove_tree(8, 0, &r, &p, &err), ERR_INVALID);
    assert_int_equal(tlog_prove_tree(8, 9, &r, &p, &err), ERR_INVALID);
    assert_int_equal(tlog_prove_tree(0, 0, &r, &p, &err), ERR_INVALID);
    assert_int_equal(tlog_tree_hash(TLOG_TREE_SIZE_MAX + 1, &r, h, &err), ERR_INVALID);
    p.count = 0;
    assert_int_equal(tlog_check_record(&p, 0, h, 0, h, &err), ERR_INVALID);
    assert_int_equal(tlog_check_tree(&p, 1, h, 0, h, &err), ERR_INVALID);
    assert_int_equal(tlog_check_tree(&p, 1, h, 2, h, &err), ERR_INVALID);
    p.count = SIZE_MAX;
    assert_int_equal(tlog_check_record(&p, 1, h, 0, h, &err), ERR_INVALID);
    assert_int_equal(tlog_check_tree(&p, 1, h, 1, h, &err), ERR_INVALID);
    assert_string_not_equal(err.msg, "");
    /* A tree of size 8 only reads hashes of the first 8 leaves; more leaves are not there. */
    assert_int_equal(tlog_prove_record(9, 0, &r, &p, &err), ERR_NOT_FOUND);
    store_release(&s);
}

static void test_tlog__reader_errors_pass_through(void **state)
{
    (void)state;
    struct mem_store s;
    rfc_store(&s);
    s.fail = ERR_IO;
    struct tlog_hash_reader r = store_reader(&s);
    struct tlog_proof p;
    struct errbuf err;
    errbuf_init(&err);
    uint8_t h[TLOG_HASH_LEN] = {0};
    size_t count;
    uint8_t out[TLOG_STORED_HASHES_MAX][TLOG_HASH_LEN];
    assert_int_equal(tlog_prove_record(8, 3, &r, &p, &err), ERR_IO);
    assert_string_equal(err.msg, "injected read failure");
    assert_int_equal(tlog_prove_tree(8, 3, &r, &p, &err), ERR_IO);
    assert_int_equal(tlog_tree_hash(5, &r, h, &err), ERR_IO);
    assert_int_equal(tlog_stored_hashes(7, h, &r, out, &count, &err), ERR_IO);
    /* Nothing to read: the reader is not called. */
    long reads = s.reads;
    assert_int_equal(tlog_prove_record(1, 0, &r, &p, &err), ERR_OK);
    assert_int_equal(p.count, 0);
    assert_int_equal(tlog_prove_tree(8, 8, &r, &p, &err), ERR_OK);
    assert_int_equal(p.count, 0);
    assert_int_equal(tlog_tree_hash(0, &r, h, &err), ERR_OK);
    assert_int_equal(tlog_stored_hashes(8, h, &r, out, &count, &err), ERR_OK);
    assert_int_equal(count, 1);
    assert_int_equal(s.reads, reads);
    store_release(&s);
}

/* A virtual tree of identical leaves: every complete subtree at level l has hash H[l], so a
 * reader can answer for trees of 2^63 - 1 leaves without storing them. */
static uint8_t uniform_hash[64][TLOG_HASH_LEN];

/* Go's SplitStoredHashIndex: the level of a stored index. */
static unsigned split_level(uint64_t index)
{
    uint64_t n = index / 2;
    uint64_t at = tlog_stored_hash_index(0, n);
    assert_true(at <= index);
    for (;;) {
        uint64_t next = at + 1 + (uint64_t)__builtin_ctzll(n + 1);
        if (next > index) {
            break;
        }
        n++;
        at = next;
    }
    return (unsigned)(index - at);
}

static enum err uniform_read(void *ctx, const uint64_t *indexes, size_t count,
                             uint8_t (*out)[TLOG_HASH_LEN], struct errbuf *err)
{
    (void)ctx;
    (void)err;
    for (size_t i = 0; i < count; i++) {
        unsigned level = split_level(indexes[i]);
        assert_true(level < 64);
        memcpy(out[i], uniform_hash[level], TLOG_HASH_LEN);
    }
    return ERR_OK;
}

static void test_tlog__huge_trees_prove_and_verify(void **state)
{
    (void)state;
    tlog_leaf_hash("x", 1, uniform_hash[0]);
    for (size_t l = 1; l < 64; l++) {
        tlog_node_hash(uniform_hash[l - 1], uniform_hash[l - 1], uniform_hash[l]);
    }
    struct tlog_hash_reader r = {uniform_read, NULL};
    const uint64_t max = TLOG_TREE_SIZE_MAX;
    const uint64_t sizes[] = {max, max - 1, (max >> 1) + 2, UINT64_C(1) << 62,
                              (UINT64_C(1) << 40) + 12345};
    for (size_t si = 0; si < ARRAY_LEN(sizes); si++) {
        uint64_t n = sizes[si];
        uint8_t root[TLOG_HASH_LEN];
        assert_int_equal(tlog_tree_hash(n, &r, root, NULL), ERR_OK);
        uint64_t leaves[] = {0, 1, n / 3, n / 2, n - 2, n - 1};
        for (size_t li = 0; li < ARRAY_LEN(leaves); li++) {
            struct tlog_proof p;
            assert_int_equal(tlog_prove_record(n, leaves[li], &r, &p, NULL), ERR_OK);
            assert_true(p.count <= 63);
            assert_int_equal(tlog_check_record(&p, n, root, leaves[li], uniform_hash[0], NULL),
                             ERR_OK);
            assert_true(rfc_verify_inclusion(leaves[li], n, uniform_hash[0], &p, root));
        }
        uint64_t olds[] = {1, 2, 3, n / 3, n / 2 + 1, n - 1, n};
        for (size_t oi = 0; oi < ARRAY_LEN(olds); oi++) {
            uint64_t m = olds[oi];
            uint8_t old_root[TLOG_HASH_LEN];
            assert_int_equal(tlog_tree_hash(m, &r, old_root, NULL), ERR_OK);
            struct tlog_proof p;
            assert_int_equal(tlog_prove_tree(n, m, &r, &p, NULL), ERR_OK);
            assert_true(p.count <= TLOG_PROOF_MAX);
            assert_int_equal(tlog_check_tree(&p, n, root, m, old_root, NULL), ERR_OK);
            assert_true(rfc_verify_consistency(m, n, old_root, root, &p));
        }
    }
    /* Appending: leaf 2^62 - 1 completes 62 subtrees; the last possible leaf completes none. */
    uint8_t out[TLOG_STORED_HASHES_MAX][TLOG_HASH_LEN];
    size_t count;
    uint64_t leaf = (UINT64_C(1) << 62) - 1;
    assert_int_equal(tlog_stored_hashes(leaf, uniform_hash[0], &r, out, &count, NULL), ERR_OK);
    assert_int_equal(count, 63);
    assert_memory_equal(out[62], uniform_hash[62], TLOG_HASH_LEN);
    assert_int_equal(tlog_stored_hashes(max - 1, uniform_hash[0], &r, out, &count, NULL), ERR_OK);
    assert_int_equal(count, 1);
    assert_int_equal(tlog_stored_hashes(max, uniform_hash[0], &r, out, &count, NULL), ERR_LIMIT);
}

/* ---- tiles ------------------------------------------------------------------------------ */

static void test_tlog__tile_paths_round_trip(void **state)
{
    (void)state;
    struct {
        struct tlog_tile tile;
        const char *path;
    } cases[] = {
        {{0, 0, 256}, "tile/0/000"},
        {{0, 1234067, 256}, "tile/0/x001/x234/067"},
        {{1, 0, 17}, "tile/1/000.p/17"},
        {{2, 999, 1}, "tile/2/999.p/1"},
        {{0, 1000, 255}, "tile/0/x001/000.p/255"},
        {{63, 5, 256}, "tile/63/005"},
        {{TLOG_TILE_LEVEL_ENTRIES, 5, 255}, "tile/entries/005.p/255"},
        {{TLOG_TILE_LEVEL_ENTRIES, 1234067, 256}, "tile/entries/x001/x234/067"},
        {{10, TLOG_TILE_INDEX_MAX, 256}, "tile/10/x036/x028/x797/x018/x963/967"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char path[TLOG_TILE_PATH_MAX];
        tlog_tile_format_path(&cases[i].tile, path);
        assert_string_equal(path, cases[i].path);
        struct tlog_tile t;
        assert_int_equal(tlog_tile_parse_path(path, strlen(path), &t, NULL), ERR_OK);
        assert_int_equal(t.level, cases[i].tile.level);
        assert_int_equal(t.index, cases[i].tile.index);
        assert_int_equal(t.width, cases[i].tile.width);
    }
    /* A sweep of indexes around every power of ten and of two. */
    for (uint64_t base = 1; base <= TLOG_TILE_INDEX_MAX / 10; base *= 10) {
        for (int shift = 0; shift < 2; shift++) {
            uint64_t b = shift ? (UINT64_C(1) << (base % 55)) : base;
            for (uint64_t d = 0; d < 3; d++) {
                struct tlog_tile in = {(int)(base % 64), b - 1 + d, (unsigned)(b % 256) + 1};
                char path[TLOG_TILE_PATH_MAX];
                tlog_tile_format_path(&in, path);
                struct tlog_tile out;
                assert_int_equal(tlog_tile_parse_path(path, strlen(path), &out, NULL), ERR_OK);
                assert_int_equal(out.level, in.level);
                assert_int_equal(out.index, in.index);
                assert_int_equal(out.width, in.width);
            }
        }
    }
}

static void test_tlog__tile_paths_rejected(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "tile",
        "tile/",
        "tile/0",
        "tile/0/",
        "/tile/0/000",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/+1/000",
        "tile/1000/000",
        "tile/0/0",
        "tile/0/00",
        "tile/0/0000",
        "tile/0/x000/001",
        "tile/0/x001",
        "tile/0/x001/",
        "tile/0/x1/000",
        "tile/0/x0001/000",
        "tile/0/001/002",
        "tile/0/000/",
        "tile/0/000.p",
        "tile/0/000.p/",
        "tile/0/000.p/0",
        "tile/0/000.p/00",
        "tile/0/000.p/010",
        "tile/0/000.p/256",
        "tile/0/000.p/1000",
        "tile/0/000.p/1/",
        "tile/0/000.p/1x",
        "tile/0/000.P/1",
        "tile/0/000.q/1",
        "tile/0/000?x",
        "tile/0/ 00",
        "tile/0/x00a/000",
        "tile//000",
        "tile/entries",
        "tile/entries/",
        "tile/entries/0",
        "tile/entry/000",
        "tile/Entries/000",
        "tile/entries/000.p/1/2",
        "tile/0/x036/x028/x797/x018/x963/968",           /* 2^55, one past the max index */
        "tile/0/x999/x999/x999/x999/x999/999",           /* over the max index */
        "tile/0/x001/x001/x001/x001/x001/x001/x001/001", /* too many groups */
        "tile/0/000.p/1tile/0/000.p/1tile/0/000.p/1tile/0/000.p/1tile/0/000.p/1",
        "TILE/0/000",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct tlog_tile t = {7, 7, 7};
        struct errbuf err;
        errbuf_init(&err);
        assert_int_equal(tlog_tile_parse_path(bad[i], strlen(bad[i]), &t, &err), ERR_INVALID);
        assert_int_equal(t.level, 7); /* left alone */
        assert_string_equal(err.field, "path");
    }
    /* A NUL inside the path, and a valid path followed by junk bytes beyond len. */
    struct tlog_tile t;
    assert_int_equal(tlog_tile_parse_path("tile/0/0\0000", 10, &t, NULL), ERR_INVALID);
    assert_int_equal(tlog_tile_parse_path("tile/0/000junk", 10, &t, NULL), ERR_OK);
    assert_int_equal(tlog_tile_parse_path(NULL, 0, &t, NULL), ERR_INVALID);
}

/* The Merkle tree hash of count leaf hashes (count a power of two), for tile checks. */
static void fold_hashes(uint8_t (*hashes)[TLOG_HASH_LEN], size_t count, uint8_t out[32])
{
    uint8_t(*tmp)[TLOG_HASH_LEN] = mem_alloc(count * TLOG_HASH_LEN);
    assert_non_null(tmp);
    memcpy(tmp, hashes, count * TLOG_HASH_LEN);
    for (size_t n = count; n > 1; n /= 2) {
        for (size_t i = 0; i < n / 2; i++) {
            tlog_node_hash(tmp[2 * i], tmp[2 * i + 1], tmp[i]);
        }
    }
    memcpy(out, tmp[0], TLOG_HASH_LEN);
    mem_free(tmp);
}

static void test_tlog__tiles_of_a_70000_leaf_tree(void **state)
{
    (void)state;
    enum { N = 70000 };
    struct mem_store s;
    store_init(&s, N);
    uint8_t(*leaves)[TLOG_HASH_LEN] = mem_alloc((size_t)N * TLOG_HASH_LEN);
    assert_non_null(leaves);
    for (uint64_t i = 0; i < N; i++) {
        uint8_t data[8];
        for (int k = 0; k < 8; k++) {
            data[k] = (uint8_t)(i >> (8 * k));
        }
        tlog_leaf_hash(data, sizeof(data), leaves[i]);
        store_append_hash(&s, i, leaves[i]);
    }
    struct tlog_hash_reader r = store_reader(&s);
    s.limit = tlog_stored_hash_count(N);

    /* The example of c2sp.org/tlog-tiles: 273 full level 0 tiles, a partial one of width 112,
     * one full level 1 tile, a partial one of width 17, a partial level 2 tile of width 1. */
    struct {
        struct tlog_tile tile;
        int in_tree;
    } cases[] = {
        {{0, 272, 256}, 1}, {{0, 273, 256}, 0},  {{0, 273, 112}, 1},  {{0, 273, 113}, 0},
        {{0, 274, 1}, 0},   {{1, 0, 256}, 1},    {{1, 1, 17}, 1},     {{1, 1, 18}, 0},
        {{1, 2, 1}, 0},     {{2, 0, 1}, 1},      {{2, 0, 2}, 0},      {{3, 0, 1}, 0},
        {{63, 0, 1}, 0},    {{-1, 273, 112}, 1}, {{-1, 273, 113}, 0}, {{-1, 0, 256}, 1},
        {{0, 0, 0}, 0},     {{0, 0, 257}, 0},    {{-2, 0, 1}, 0},     {{64, 0, 1}, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        assert_int_equal(tlog_tile_in_tree(&cases[i].tile, N), cases[i].in_tree);
    }
    struct tlog_tile size256 = {1, 0, 1};
    assert_true(tlog_tile_in_tree(&size256, 256));
    assert_false(tlog_tile_in_tree(&size256, 255));

    uint8_t *buf = mem_alloc(TLOG_TILE_BYTES_MAX);
    assert_non_null(buf);
    struct tlog_tile t0 = {0, 3, 256};
    assert_int_equal(tlog_tile_read(&t0, N, &r, buf, TLOG_TILE_BYTES_MAX, NULL), ERR_OK);
    assert_memory_equal(buf, leaves[(size_t)3 * 256], TLOG_TILE_BYTES_MAX);
    struct tlog_tile tp = {0, 273, 112};
    assert_int_equal(tlog_tile_read(&tp, N, &r, buf, (size_t)112 * 32, NULL), ERR_OK);
    assert_memory_equal(buf, leaves[(size_t)273 * 256], (size_t)112 * 32);
    /* Level 1: hash i is the root of leaves [(256 + i) * 256, ...) for tile 1. */
    struct tlog_tile t1 = {1, 1, 17};
    assert_int_equal(tlog_tile_read(&t1, N, &r, buf, TLOG_TILE_BYTES_MAX, NULL), ERR_OK);
    for (size_t i = 0; i < 17; i++) {
        uint8_t want[TLOG_HASH_LEN];
        fold_hashes(leaves + (256 + i) * 256, 256, want);
        assert_memory_equal(buf + i * 32, want, 32);
    }
    struct tlog_tile t2 = {2, 0, 1};
    assert_int_equal(tlog_tile_read(&t2, N, &r, buf, 32, NULL), ERR_OK);
    uint8_t root65536[TLOG_HASH_LEN];
    assert_int_equal(tlog_tree_hash(65536, &r, root65536, NULL), ERR_OK);
    assert_memory_equal(buf, root65536, 32);

    struct errbuf err;
    errbuf_init(&err);
    struct tlog_tile entries = {TLOG_TILE_LEVEL_ENTRIES, 0, 256};
    assert_int_equal(tlog_tile_read(&entries, N, &r, buf, TLOG_TILE_BYTES_MAX, &err), ERR_INVALID);
    struct tlog_tile missing = {0, 273, 256};
    assert_int_equal(tlog_tile_read(&missing, N, &r, buf, TLOG_TILE_BYTES_MAX, &err),
                     ERR_NOT_FOUND);
    assert_int_equal(tlog_tile_read(&t0, N, &r, buf, TLOG_TILE_BYTES_MAX - 1, &err), ERR_LIMIT);
    mem_free(buf);
    mem_free(leaves);
    store_release(&s);
}

static void test_tlog__entry_bundles_round_trip(void **state)
{
    (void)state;
    static uint8_t big[TLOG_ENTRY_MAX + 1];
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (uint8_t)(i * 7);
    }
    size_t lens[] = {0, 1, 300, 0, TLOG_ENTRY_MAX, 5};
    struct buf b;
    buf_init(&b, 1 << 20);
    for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
        assert_int_equal(tlog_bundle_append(&b, big, lens[i], NULL), ERR_OK);
    }
    assert_int_equal(tlog_bundle_append(&b, big, TLOG_ENTRY_MAX + 1, NULL), ERR_LIMIT);
    size_t total = b.len;
    struct tlog_bundle_entry entries[TLOG_TILE_WIDTH];
    size_t count = 0;
    assert_int_equal(tlog_bundle_parse((const uint8_t *)b.data, b.len, entries, ARRAY_LEN(entries),
                                       &count, NULL),
                     ERR_OK);
    assert_int_equal(count, ARRAY_LEN(lens));
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(entries[i].len, lens[i]);
        assert_memory_equal(entries[i].data, big, lens[i]);
    }
    assert_int_equal(tlog_bundle_parse((const uint8_t *)b.data, b.len, entries, 5, &count, NULL),
                     ERR_INVALID);
    /* Every prefix: valid only when it ends on an entry boundary. */
    size_t boundaries[ARRAY_LEN(lens) + 1];
    boundaries[0] = 0;
    for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
        boundaries[i + 1] = boundaries[i] + 2 + lens[i];
    }
    for (size_t len = 0; len < total; len++) {
        int boundary = 0;
        for (size_t i = 1; i < ARRAY_LEN(boundaries); i++) {
            boundary |= boundaries[i] == len;
        }
        enum err rc = tlog_bundle_parse((const uint8_t *)b.data, len, entries, ARRAY_LEN(entries),
                                        &count, NULL);
        assert_int_equal(rc, boundary ? ERR_OK : ERR_INVALID);
    }
    /* A full buffer is ERR_LIMIT and leaves the bundle as it was. */
    struct buf small;
    buf_init(&small, 10);
    assert_int_equal(tlog_bundle_append(&small, big, 5, NULL), ERR_OK);
    assert_int_equal(tlog_bundle_append(&small, big, 5, NULL), ERR_LIMIT);
    assert_int_equal(small.len, 7);
    buf_release(&small);
    buf_release(&b);
}

/* ---- keys and notes: Go's golang.org/x/mod/sumdb/note vectors --------------------------- */

static const char peter_vkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char peter_skey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char enoch_vkey[] = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
static const char peter_text[] = "If you think cryptography is the answer to your problem,\n"
                                 "then you don't know what your problem is.\n";
static const char peter_sig[] =
    EM_DASH " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdng"
            "otpRZb6KE6RyyBwJnAM=\n";
static const char enoch_sig[] =
    EM_DASH " EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwn"
            "WLox33WWd1RvMc+QQ=\n";

/* Joins up to four strings into a fresh buf (caller releases). */
static void join(struct buf *b, const char *a, const char *b2, const char *c, const char *d)
{
    buf_init(b, 1 << 20);
    const char *parts[] = {a, b2, c, d};
    for (size_t i = 0; i < ARRAY_LEN(parts); i++) {
        if (parts[i] != NULL) {
            assert_int_equal(buf_append_str(b, parts[i]), ERR_OK);
        }
    }
}

static void test_tlog__go_note_vectors_verify_byte_for_byte(void **state)
{
    (void)state;
    struct tlog_verifier peter;
    assert_int_equal(tlog_verifier_parse(peter_vkey, strlen(peter_vkey), &peter, NULL), ERR_OK);
    assert_string_equal(peter.name, "PeterNeumann");
    assert_int_equal(peter.key_hash, 0xc74f20a3);
    char vkey[TLOG_VERIFIER_KEY_MAX];
    tlog_verifier_format(&peter, vkey);
    assert_string_equal(vkey, peter_vkey);

    struct tlog_signer signer;
    assert_int_equal(tlog_signer_parse(peter_skey, strlen(peter_skey), &signer, NULL), ERR_OK);
    char skey[TLOG_SIGNER_KEY_MAX];
    tlog_signer_format(&signer, skey);
    assert_string_equal(skey, peter_skey);
    struct tlog_verifier derived;
    tlog_signer_verifier(&signer, &derived);
    tlog_verifier_format(&derived, vkey);
    assert_string_equal(vkey, peter_vkey);

    /* Signing is deterministic (Ed25519): the same bytes as Go's TestSign. */
    struct buf want;
    join(&want, peter_text, "\n", peter_sig, NULL);
    struct buf got;
    buf_init(&got, TLOG_NOTE_MAX);
    assert_int_equal(tlog_note_sign(peter_text, strlen(peter_text), &signer, &got, NULL), ERR_OK);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    tlog_signer_release(&signer);

    size_t text_len = 0;
    assert_int_equal(tlog_note_open(want.data, want.len, &peter, &text_len, NULL), ERR_OK);
    assert_int_equal(text_len, strlen(peter_text));

    /* Go's TestOpen: two signatures, each key verifies its own and ignores the other. */
    struct tlog_verifier enoch;
    assert_int_equal(tlog_verifier_parse(enoch_vkey, strlen(enoch_vkey), &enoch, NULL), ERR_OK);
    struct buf both;
    join(&both, peter_text, "\n", peter_sig, enoch_sig);
    assert_int_equal(tlog_note_open(both.data, both.len, &peter, &text_len, NULL), ERR_OK);
    assert_int_equal(tlog_note_open(both.data, both.len, &enoch, &text_len, NULL), ERR_OK);
    assert_int_equal(text_len, strlen(peter_text));
    struct buf only_enoch;
    join(&only_enoch, peter_text, "\n", enoch_sig, NULL);
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(tlog_note_open(only_enoch.data, only_enoch.len, &peter, &text_len, &err),
                     ERR_CORRUPT);

    /* Go: an invalid signature by a known key rejects the note. */
    char mangled[256];
    snprintf(mangled, sizeof(mangled), "%.60sABCD%s", peter_sig, peter_sig + 60);
    struct buf bad;
    join(&bad, peter_text, "\n", mangled, NULL);
    assert_int_equal(tlog_note_open(bad.data, bad.len, &peter, &text_len, &err), ERR_CORRUPT);
    buf_release(&bad);
    /* Go's badMsgs: all malformed. */
    char no_nl[256];
    snprintf(no_nl, sizeof(no_nl), "%.*s", (int)strlen(peter_sig) - 1, peter_sig);
    const char *bad_msgs[][4] = {
        {peter_text, NULL, NULL, NULL},
        {peter_text, "\n", NULL, NULL},
        {peter_text, "\n", no_nl, NULL},
        {"\x01", peter_text, "\n", peter_sig},
        {"\xff", peter_text, "\n", peter_sig},
        {peter_text, "\n",
         EM_DASH " Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqd"
                 "ngotpRZb6KE6RyyBwJnAM=",
         NULL},
        {peter_text, "\n", peter_sig, "Unexpected line.\n"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad_msgs); i++) {
        join(&bad, bad_msgs[i][0], bad_msgs[i][1], bad_msgs[i][2], bad_msgs[i][3]);
        assert_int_equal(tlog_note_open(bad.data, bad.len, &peter, &text_len, &err), ERR_INVALID);
        buf_release(&bad);
    }
    /* Go: 101 signatures is too many (even if all are valid). */
    buf_init(&bad, 2 * (size_t)TLOG_NOTE_MAX);
    assert_int_equal(buf_append_str(&bad, peter_text), ERR_OK);
    assert_int_equal(buf_append_str(&bad, "\n"), ERR_OK);
    for (int i = 0; i < 101; i++) {
        assert_int_equal(buf_append_str(&bad, peter_sig), ERR_OK);
    }
    assert_int_equal(tlog_note_open(bad.data, bad.len, &peter, &text_len, &err), ERR_INVALID);
    bad.len -= strlen(peter_sig);
    assert_int_equal(tlog_note_open(bad.data, bad.len, &peter, &text_len, &err), ERR_OK);
    buf_release(&bad);

    buf_release(&only_enoch);
    buf_release(&both);
    buf_release(&got);
    buf_release(&want);
}

static void test_tlog__key_manglings_rejected(void **state)
{
    (void)state;
    /* Go's TestNewVerifier and TestNewSigner: every proper substring and every byte + 1. */
    const char *keys[] = {peter_vkey, peter_skey};
    for (size_t k = 0; k < ARRAY_LEN(keys); k++) {
        char b[128];
        size_t len = strlen(keys[k]);
        memcpy(b, keys[k], len + 1);
        for (size_t i = 0; i <= len; i++) {
            for (size_t j = i + 1; j <= len; j++) {
                if (i == 0 && j == len) {
                    continue;
                }
                struct tlog_verifier v;
                struct tlog_signer s;
                assert_int_equal(tlog_verifier_parse(b + i, j - i, &v, NULL), ERR_INVALID);
                assert_int_equal(tlog_signer_parse(b + i, j - i, &s, NULL), ERR_INVALID);
            }
        }
        for (size_t i = 0; i < len; i++) {
            b[i]++;
            struct tlog_verifier v;
            struct tlog_signer s;
            assert_int_equal(tlog_verifier_parse(b, len, &v, NULL), ERR_INVALID);
            assert_int_equal(tlog_signer_parse(b, len, &s, NULL), ERR_INVALID);
            b[i]--;
        }
    }
    /* Wrong key length and unknown algorithm, each with an adjusted key hash. */
    const char *bad[] = {
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct tlog_verifier v;
        assert_int_equal(tlog_verifier_parse(bad[i], strlen(bad[i]), &v, NULL), ERR_INVALID);
    }
    /* Key hashes in upper case are the same key. */
    struct tlog_verifier v;
    const char upper[] = "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    assert_int_equal(tlog_verifier_parse(upper, strlen(upper), &v, NULL), ERR_OK);
    assert_int_equal(v.key_hash, 0xc74f20a3);
}

static void test_tlog__signer_from_seed_round_trips(void **state)
{
    (void)state;
    uint8_t seed[TLOG_SEED_LEN];
    for (size_t i = 0; i < sizeof(seed); i++) {
        seed[i] = (uint8_t)(i + 1);
    }
    struct tlog_signer s;
    assert_int_equal(tlog_signer_from_seed("bourse.example/log", seed, &s, NULL), ERR_OK);
    char skey[TLOG_SIGNER_KEY_MAX];
    tlog_signer_format(&s, skey);
    struct tlog_signer s2;
    assert_int_equal(tlog_signer_parse(skey, strlen(skey), &s2, NULL), ERR_OK);
    assert_memory_equal(&s, &s2, sizeof(s));
    struct tlog_verifier v;
    tlog_signer_verifier(&s, &v);
    char vkey[TLOG_VERIFIER_KEY_MAX];
    tlog_verifier_format(&v, vkey);
    struct tlog_verifier v2;
    assert_int_equal(tlog_verifier_parse(vkey, strlen(vkey), &v2, NULL), ERR_OK);
    assert_memory_equal(&v, &v2, sizeof(v));
    const char *bad_names[] = {"",     "a b",  "a+b",
                               "a\tb", "a\nb", "a\xe3\x80\x80\x62", /* U+3000 IDEOGRAPHIC SPACE */
                               "\xff"};
    for (size_t i = 0; i < ARRAY_LEN(bad_names); i++) {
        assert_int_equal(tlog_signer_from_seed(bad_names[i], seed, &s2, NULL), ERR_INVALID);
    }
    char longest[TLOG_KEY_NAME_MAX + 2];
    memset(longest, 'n', sizeof(longest));
    longest[TLOG_KEY_NAME_MAX] = '\0';
    assert_int_equal(tlog_signer_from_seed(longest, seed, &s2, NULL), ERR_OK);
    tlog_signer_format(&s2, skey);
    assert_int_equal(tlog_signer_parse(skey, strlen(skey), &s2, NULL), ERR_OK);
    longest[TLOG_KEY_NAME_MAX] = 'n';
    longest[TLOG_KEY_NAME_MAX + 1] = '\0';
    assert_int_equal(tlog_signer_from_seed(longest, seed, &s2, NULL), ERR_INVALID);
    tlog_signer_release(&s);
    tlog_signer_release(&s2);
    tlog_signer_release(NULL);
    uint8_t zero[sizeof(s)] = {0};
    assert_memory_equal(&s, zero, sizeof(s));
}

/* ---- checkpoints ------------------------------------------------------------------------ */

static void test_signer(struct tlog_signer *s, struct tlog_verifier *v)
{
    uint8_t seed[TLOG_SEED_LEN];
    memset(seed, 0x42, sizeof(seed));
    assert_int_equal(tlog_signer_from_seed("bourse.example/log", seed, s, NULL), ERR_OK);
    tlog_signer_verifier(s, v);
}

static void test_tlog__checkpoint_matches_go_golden(void **state)
{
    (void)state;
    static const char golden[] =
        "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n";
    struct tlog_checkpoint c = {"go.sum database tree", 123456789012, {0}};
    tlog_leaf_hash("hello world", 11, c.root_hash);
    struct buf b;
    buf_init(&b, TLOG_NOTE_MAX);
    assert_int_equal(tlog_checkpoint_format(&c, &b, NULL), ERR_OK);
    assert_string_equal(b.data, golden);
    struct tlog_checkpoint p;
    assert_int_equal(tlog_checkpoint_parse(golden, strlen(golden), &p, NULL), ERR_OK);
    assert_string_equal(p.origin, c.origin);
    assert_int_equal(p.tree_size, c.tree_size);
    assert_memory_equal(p.root_hash, c.root_hash, TLOG_HASH_LEN);
    /* Go's badTrees. */
    const char *bad[] = {
        "go.sum database tree\n0xabcdef\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",
        "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(tlog_checkpoint_parse(bad[i], strlen(bad[i]), &p, NULL), ERR_INVALID);
    }
    /* Extension lines are accepted and ignored. */
    buf_reset(&b);
    assert_int_equal(buf_append_str(&b, golden), ERR_OK);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(buf_append_str(&b, "JOE\n"), ERR_OK);
    }
    assert_int_equal(tlog_checkpoint_parse(b.data, b.len, &p, NULL), ERR_OK);
    assert_int_equal(p.tree_size, c.tree_size);
    buf_release(&b);
}

static void test_tlog__checkpoint_sign_and_open(void **state)
{
    (void)state;
    struct tlog_signer s;
    struct tlog_verifier v;
    test_signer(&s, &v);
    struct tlog_checkpoint c = {"bourse.example/log", 20852163, {0}};
    tlog_leaf_hash("root", 4, c.root_hash);
    struct buf note;
    buf_init(&note, TLOG_NOTE_MAX);
    assert_int_equal(tlog_checkpoint_sign(&c, &s, &note, NULL), ERR_OK);
    struct tlog_checkpoint got;
    assert_int_equal(tlog_checkpoint_open(note.data, note.len, &v, &got, NULL), ERR_OK);
    assert_memory_equal(&got, &c, sizeof(c));

    /* Signatures by other keys around ours are ignored: Peter's (over another text), one with
     * our name but another key hash, one with our key hash but another name. */
    struct tlog_signer other;
    uint8_t seed[TLOG_SEED_LEN];
    memset(seed, 0x43, sizeof(seed));
    assert_int_equal(tlog_signer_from_seed("bourse.example/log", seed, &other, NULL), ERR_OK);
    struct buf other_note;
    buf_init(&other_note, TLOG_NOTE_MAX);
    assert_int_equal(tlog_checkpoint_sign(&c, &other, &other_note, NULL), ERR_OK);
    const char *other_line = strstr(other_note.data, "\n\n") + 2;
    const char *our_line = strstr(note.data, "\n\n") + 2;
    /* Our signature bytes (key hash included) under another name. */
    char renamed[256];
    snprintf(renamed, sizeof(renamed), EM_DASH " someone.else/log %s",
             strchr(our_line + 4, ' ') + 1);
    struct buf mixed;
    buf_init(&mixed, TLOG_NOTE_MAX);
    assert_int_equal(buf_append(&mixed, note.data, (size_t)(our_line - note.data)), ERR_OK);
    assert_int_equal(buf_append_str(&mixed, peter_sig), ERR_OK);
    assert_int_equal(buf_append_str(&mixed, other_line), ERR_OK);
    assert_int_equal(buf_append_str(&mixed, our_line), ERR_OK);
    assert_int_equal(buf_append_str(&mixed, renamed), ERR_OK);
    assert_int_equal(tlog_checkpoint_open(mixed.data, mixed.len, &v, &got, NULL), ERR_OK);
    assert_memory_equal(&got, &c, sizeof(c));
    /* Only the others: no signature by our key. */
    buf_reset(&mixed);
    assert_int_equal(buf_append(&mixed, note.data, (size_t)(our_line - note.data)), ERR_OK);
    assert_int_equal(buf_append_str(&mixed, other_line), ERR_OK);
    assert_int_equal(buf_append_str(&mixed, renamed), ERR_OK);
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(tlog_checkpoint_open(mixed.data, mixed.len, &v, &got, &err), ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "no signature"));
    /* Our key's signature twice is fine; a second one that fails is not. */
    buf_reset(&mixed);
    assert_int_equal(buf_append_str(&mixed, note.data), ERR_OK);
    assert_int_equal(buf_append_str(&mixed, our_line), ERR_OK);
    assert_int_equal(tlog_checkpoint_open(mixed.data, mixed.len, &v, &got, NULL), ERR_OK);
    size_t at = mixed.len - 10;
    mixed.data[at] = mixed.data[at] == 'A' ? 'B' : 'A';
    assert_int_equal(tlog_checkpoint_open(mixed.data, mixed.len, &v, &got, &err), ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "invalid signature"));

    /* Extension lines under the signature are accepted. */
    struct buf body;
    buf_init(&body, TLOG_NOTE_MAX);
    assert_int_equal(tlog_checkpoint_format(&c, &body, NULL), ERR_OK);
    assert_int_equal(buf_append_str(&body, "ext one\next two\n"), ERR_OK);
    buf_reset(&mixed);
    assert_int_equal(tlog_note_sign(body.data, body.len, &s, &mixed, NULL), ERR_OK);
    assert_int_equal(tlog_checkpoint_open(mixed.data, mixed.len, &v, &got, NULL), ERR_OK);
    assert_memory_equal(&got, &c, sizeof(c));

    buf_release(&body);
    buf_release(&mixed);
    buf_release(&other_note);
    buf_release(&note);
    tlog_signer_release(&other);
    tlog_signer_release(&s);
}

/* Signs body (a valid note text) and expects tlog_checkpoint_open to reject it with code. */
static void expect_signed_body_rejected(const char *body, size_t len, const struct tlog_signer *s,
                                        const struct tlog_verifier *v, enum err code)
{
    struct buf note;
    buf_init(&note, 1 << 20);
    struct tlog_checkpoint got;
    if (tlog_note_sign(body, len, s, &note, NULL) == ERR_OK) {
        assert_int_equal(tlog_checkpoint_open(note.data, note.len, v, &got, NULL), code);
    } else {
        /* The body is not even a valid note text; the parser must reject it too. */
        assert_int_equal(tlog_checkpoint_parse(body, len, &got, NULL), ERR_INVALID);
    }
    buf_release(&note);
}

/* Copies tmpl to out with each '$' replaced by a valid base64 root hash; returns the length. */
static size_t expand_root(const char *tmpl, char *out, size_t out_max)
{
    static const char root[] = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    size_t n = 0;
    for (const char *p = tmpl; *p != '\0'; p++) {
        const char *piece = *p == '$' ? root : p;
        size_t len = *p == '$' ? strlen(root) : 1;
        assert_true(n + len < out_max);
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = '\0';
    return n;
}

static void test_tlog__checkpoint_bodies_rejected(void **state)
{
    (void)state;
    struct tlog_signer s;
    struct tlog_verifier v;
    test_signer(&s, &v);
    const char *bodies[] = {
        "log\n007\n$\n",                  /* non-canonical size */
        "log\n00\n$\n",                   /* non-canonical zero */
        "log\n-1\n$\n",                   /* sign */
        "log\n+1\n$\n",                   /* sign */
        "log\n 1\n$\n",                   /* space */
        "log\n1 \n$\n",                   /* space */
        "log\n\n$\n",                     /* empty size */
        "log\n9223372036854775808\n$\n",  /* 2^63 */
        "log\n18446744073709551616\n$\n", /* 2^64 */
        "log\n99999999999999999999999\n$\n",
        "log\n1e3\n$\n",
        "\n1\n$\n",             /* empty origin */
        " log\n1\n$\n",         /* leading space */
        "log \n1\n$\n",         /* trailing space */
        "\xe3\x80\x80\n1\n$\n", /* ideographic space only */
        "log\n1\n$",            /* no final newline (note_sign refuses) */
        "log\n1\n$\n\n",        /* empty extension line */
        "log\n1\n$\n\next\n",   /* empty extension line */
        "log\n1\n",             /* no root */
        "log\n1\n$=\n",         /* root too long */
        "log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",  /* no padding */
        "log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", /* unused bits set */
        "log\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n", /* URL alphabet */
        "log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=x\n",
        "log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2==\n", /* 31 bytes */
        "log\n1\nQUJD\n",                                         /* 3 bytes */
        "log\n1\n$ \n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
        char body[256];
        size_t n = expand_root(bodies[i], body, sizeof(body));
        expect_signed_body_rejected(body, n, &s, &v, ERR_INVALID);
        struct tlog_checkpoint got;
        assert_int_equal(tlog_checkpoint_parse(body, n, &got, NULL), ERR_INVALID);
    }
    /* The largest size is fine, zero too. */
    const char *good[] = {"log\n9223372036854775807\n$\n", "log\n0\n$\n", "a b\n1\n$\n"};
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        char body[256];
        size_t n = expand_root(good[i], body, sizeof(body));
        struct tlog_checkpoint got;
        assert_int_equal(tlog_checkpoint_parse(body, n, &got, NULL), ERR_OK);
    }
    /* An origin of TLOG_ORIGIN_MAX bytes is fine, one more is not. */
    struct tlog_checkpoint c;
    memset(&c, 0, sizeof(c));
    memset(c.origin, 'o', TLOG_ORIGIN_MAX);
    struct buf b;
    buf_init(&b, TLOG_NOTE_MAX);
    assert_int_equal(tlog_checkpoint_format(&c, &b, NULL), ERR_OK);
    struct tlog_checkpoint got;
    assert_int_equal(tlog_checkpoint_parse(b.data, b.len, &got, NULL), ERR_OK);
    buf_reset(&b);
    assert_int_equal(buf_append(&b, "o", 1), ERR_OK);
    assert_int_equal(tlog_checkpoint_format(&c, &b, NULL), ERR_OK);
    assert_int_equal(tlog_checkpoint_parse(b.data, b.len, &got, NULL), ERR_INVALID);
    c.tree_size = TLOG_TREE_SIZE_MAX + 1;
    assert_int_equal(tlog_checkpoint_format(&c, &b, NULL), ERR_INVALID);
    c.tree_size = 0;
    c.origin[0] = ' ';
    assert_int_equal(tlog_checkpoint_format(&c, &b, NULL), ERR_INVALID);
    buf_release(&b);
    tlog_signer_release(&s);
}

static void test_tlog__tampered_checkpoints_rejected(void **state)
{
    (void)state;
    struct tlog_signer s;
    struct tlog_verifier v;
    test_signer(&s, &v);
    struct tlog_checkpoint c = {"bourse.example/log", 12345, {0}};
    tlog_leaf_hash("root", 4, c.root_hash);
    struct buf note;
    buf_init(&note, TLOG_NOTE_MAX);
    assert_int_equal(tlog_checkpoint_sign(&c, &s, &note, NULL), ERR_OK);
    struct tlog_checkpoint got;
    char *m = mem_alloc(note.len + 64);
    assert_non_null(m);
    /* Every byte, three ways: flip the low bit, flip the high bit, make it a newline. */
    static const uint8_t masks[] = {0x01, 0x80, 0x20};
    for (size_t i = 0; i < note.len; i++) {
        for (size_t k = 0; k < ARRAY_LEN(masks) + 1; k++) {
            memcpy(m, note.data, note.len);
            if (k < ARRAY_LEN(masks)) {
                m[i] = (char)(m[i] ^ masks[k]);
            } else if (m[i] != '\n') {
                m[i] = '\n';
            } else {
                continue;
            }
            enum err rc = tlog_checkpoint_open(m, note.len, &v, &got, NULL);
            assert_true(rc == ERR_CORRUPT || rc == ERR_INVALID);
        }
    }
    /* Every truncation; junk appended; the blank line removed or doubled. */
    for (size_t len = 0; len < note.len; len++) {
        enum err rc = tlog_checkpoint_open(note.data, len, &v, &got, NULL);
        assert_true(rc == ERR_CORRUPT || rc == ERR_INVALID);
    }
    const char *junk[] = {"x", "\n", "junk\n", EM_DASH " x\n", "\0", EM_DASH " x AAAA\n"};
    for (size_t i = 0; i < ARRAY_LEN(junk); i++) {
        memcpy(m, note.data, note.len);
        size_t jl = i == 4 ? 1 : strlen(junk[i]);
        memcpy(m + note.len, junk[i], jl);
        assert_int_equal(tlog_checkpoint_open(m, note.len + jl, &v, &got, NULL), ERR_INVALID);
    }
    char *blank = strstr(note.data, "\n\n");
    size_t before = (size_t)(blank - note.data) + 1;
    memcpy(m, note.data, before);
    memcpy(m + before, blank + 2, note.len - before - 1);
    assert_int_equal(tlog_checkpoint_open(m, note.len - 1, &v, &got, NULL), ERR_INVALID);
    memcpy(m, note.data, before + 1);
    memcpy(m + before + 1, blank + 1, note.len - before);
    /* Two blank lines: the text gains an empty extension line and the signature fails. */
    enum err rc = tlog_checkpoint_open(m, note.len + 1, &v, &got, NULL);
    assert_true(rc == ERR_CORRUPT || rc == ERR_INVALID);

    /* A wrong name or key hash in the verifier: no signature by that key. */
    struct tlog_verifier wrong = v;
    wrong.key_hash ^= 1;
    assert_int_equal(tlog_checkpoint_open(note.data, note.len, &wrong, &got, NULL), ERR_CORRUPT);
    wrong = v;
    wrong.name[0] = 'B';
    assert_int_equal(tlog_checkpoint_open(note.data, note.len, &wrong, &got, NULL), ERR_CORRUPT);
    wrong = v;
    wrong.public_key[0] ^= 1;
    assert_int_equal(tlog_checkpoint_open(note.data, note.len, &wrong, &got, NULL), ERR_CORRUPT);

    /* Oversized: a note over TLOG_NOTE_MAX bytes, even with a valid signature. */
    struct buf body;
    buf_init(&body, 1 << 20);
    assert_int_equal(tlog_checkpoint_format(&c, &body, NULL), ERR_OK);
    while (body.len < TLOG_NOTE_MAX) {
        assert_int_equal(buf_append_str(&body, "extension\n"), ERR_OK);
    }
    struct buf big;
    buf_init(&big, 1 << 20);
    assert_int_equal(tlog_note_sign(body.data, body.len, &s, &big, NULL), ERR_INVALID);
    assert_int_equal(buf_append(&big, body.data, body.len), ERR_OK);
    assert_int_equal(buf_append_str(&big, "\n"), ERR_OK);
    assert_int_equal(buf_append(&big, blank + 2, strlen(blank + 2)), ERR_OK);
    assert_int_equal(tlog_checkpoint_open(big.data, big.len, &v, &got, NULL), ERR_INVALID);
    assert_int_equal(tlog_checkpoint_open(NULL, 0, &v, &got, NULL), ERR_INVALID);
    buf_release(&big);
    buf_release(&body);
    mem_free(m);
    buf_release(&note);
    tlog_signer_release(&s);
}

/* ---- proof files ------------------------------------------------------------------------ */

struct file_fixture {
    struct mem_store store;
    struct tlog_signer signer;
    struct tlog_verifier verifier;
    struct tlog_checkpoint checkpoints[21]; /* by tree size */
    struct buf notes[21];
};

static void file_fixture_init(struct file_fixture *f)
{
    test_signer(&f->signer, &f->verifier);
    store_init(&f->store, 20);
    struct tlog_hash_reader r = store_reader(&f->store);
    for (uint64_t n = 0; n <= 20; n++) {
        if (n > 0) {
            uint8_t h[TLOG_HASH_LEN];
            tlog_leaf_hash(&n, sizeof(n), h);
            store_append_hash(&f->store, n - 1, h);
        }
        struct tlog_checkpoint *c = &f->checkpoints[n];
        memset(c, 0, sizeof(*c));
        snprintf(c->origin, sizeof(c->origin), "%s", "bourse.example/log");
        c->tree_size = n;
        assert_int_equal(tlog_tree_hash(n, &r, c->root_hash, NULL), ERR_OK);
        buf_init(&f->notes[n], TLOG_NOTE_MAX);
        assert_int_equal(tlog_checkpoint_sign(c, &f->signer, &f->notes[n], NULL), ERR_OK);
    }
}

static void file_fixture_release(struct file_fixture *f)
{
    for (size_t n = 0; n <= 20; n++) {
        buf_release(&f->notes[n]);
    }
    store_release(&f->store);
    tlog_signer_release(&f->signer);
}

static void test_tlog__inclusion_files_verify(void **state)
{
    (void)state;
    static struct file_fixture f;
    file_fixture_init(&f);
    struct tlog_hash_reader r = store_reader(&f.store);
    struct buf file;
    buf_init(&file, TLOG_PROOF_FILE_MAX);
    for (uint64_t i = 0; i < 20; i++) {
        uint64_t leaf_number = i + 1;
        uint8_t leaf[TLOG_HASH_LEN];
        tlog_leaf_hash(&leaf_number, sizeof(leaf_number), leaf);
        struct tlog_proof p;
        assert_int_equal(tlog_prove_record(20, i, &r, &p, NULL), ERR_OK);
        buf_reset(&file);
        assert_int_equal(
            tlog_inclusion_file_format(i, &p, f.notes[20].data, f.notes[20].len, &file, NULL),
            ERR_OK);
        struct tlog_checkpoint got;
        assert_int_equal(
            tlog_inclusion_file_verify(file.data, file.len, &f.verifier, leaf, &got, NULL), ERR_OK);
        assert_memory_equal(&got, &f.checkpoints[20], sizeof(got));
        /* Parse and format again: the same bytes. */
        struct tlog_proof_file pf;
        assert_int_equal(tlog_inclusion_file_parse(file.data, file.len, &pf, NULL), ERR_OK);
        assert_int_equal(pf.index, i);
        struct buf again;
        buf_init(&again, TLOG_PROOF_FILE_MAX);
        assert_int_equal(tlog_inclusion_file_format(pf.index, &pf.proof, pf.checkpoint,
                                                    pf.checkpoint_len, &again, NULL),
                         ERR_OK);
        assert_int_equal(again.len, file.len);
        assert_memory_equal(again.data, file.data, file.len);
        buf_release(&again);
        /* Another leaf's hash does not verify. */
        leaf[0] ^= 1;
        assert_int_equal(
            tlog_inclusion_file_verify(file.data, file.len, &f.verifier, leaf, &got, NULL),
            ERR_CORRUPT);
    }
    /* The file for leaf 7, tampered byte by byte and truncated: never accepted. */
    uint64_t seven = 8;
    uint8_t leaf[TLOG_HASH_LEN];
    tlog_leaf_hash(&seven, sizeof(seven), leaf);
    struct tlog_proof p;
    assert_int_equal(tlog_prove_record(20, 7, &r, &p, NULL), ERR_OK);
    buf_reset(&file);
    assert_int_equal(
        tlog_inclusion_file_format(7, &p, f.notes[20].data, f.notes[20].len, &file, NULL), ERR_OK);
    char *m = mem_alloc(file.len);
    assert_non_null(m);
    struct tlog_checkpoint got;
    for (size_t i = 0; i < file.len; i++) {
        memcpy(m, file.data, file.len);
        m[i] ^= 0x01;
        enum err rc = tlog_inclusion_file_verify(m, file.len, &f.verifier, leaf, &got, NULL);
        assert_true(rc == ERR_CORRUPT || rc == ERR_INVALID);
    }
    for (size_t len = 0; len < file.len; len++) {
        enum err rc = tlog_inclusion_file_verify(file.data, len, &f.verifier, leaf, &got, NULL);
        assert_true(rc == ERR_CORRUPT || rc == ERR_INVALID);
    }
    mem_free(m);
    /* An "extra" line is accepted; a bad one is not. */
    struct buf extra;
    buf_init(&extra, TLOG_PROOF_FILE_MAX);
    const char *nl = strchr(file.data, '\n');
    assert_int_equal(buf_append(&extra, file.data, (size_t)(nl - file.data) + 1), ERR_OK);
    assert_int_equal(buf_append_str(&extra, "extra YWdlLXYxLjIuMS1kYXJ3aW4=\n"), ERR_OK);
    assert_int_equal(buf_append_str(&extra, nl + 1), ERR_OK);
    assert_int_equal(
        tlog_inclusion_file_verify(extra.data, extra.len, &f.verifier, leaf, &got, NULL), ERR_OK);
    buf_reset(&extra);
    assert_int_equal(buf_append(&extra, file.data, (size_t)(nl - file.data) + 1), ERR_OK);
    assert_int_equal(buf_append_str(&extra, "extra YWdl!\n"), ERR_OK);
    assert_int_equal(buf_append_str(&extra, nl + 1), ERR_OK);
    assert_int_equal(
        tlog_inclusion_file_verify(extra.data, extra.len, &f.verifier, leaf, &got, NULL),
        ERR_INVALID);
    buf_release(&extra);
    /* An index at or past the checkpoint's size. */
    buf_reset(&file);
    p.count = 0;
    assert_int_equal(
        tlog_inclusion_file_format(20, &p, f.notes[20].data, f.notes[20].len, &file, NULL), ERR_OK);
    assert_int_equal(tlog_inclusion_file_verify(file.data, file.len, &f.verifier, leaf, &got, NULL),
                     ERR_CORRUPT);
    /* 64 hashes parse; 65 do not. */
    buf_reset(&file);
    p.count = TLOG_PROOF_MAX;
    memset(p.hashes, 7, sizeof(p.hashes));
    assert_int_equal(
        tlog_inclusion_file_format(3, &p, f.notes[20].data, f.notes[20].len, &file, NULL), ERR_OK);
    struct tlog_proof_file pf;
    assert_int_equal(tlog_inclusion_file_parse(file.data, file.len, &pf, NULL), ERR_OK);
    assert_int_equal(pf.proof.count, TLOG_PROOF_MAX);
    assert_int_equal(tlog_inclusion_file_verify(file.data, file.len, &f.verifier, leaf, &got, NULL),
                     ERR_CORRUPT);
    p.count = TLOG_PROOF_MAX + 1;
    assert_int_equal(
        tlog_inclusion_file_format(3, &p, f.notes[20].data, f.notes[20].len, &file, NULL),
        ERR_INVALID);
    struct buf over;
    buf_init(&over, TLOG_PROOF_FILE_MAX);
    const char *blank = strstr(file.data, "\n\n");
    assert_int_equal(buf_append(&over, file.data, (size_t)(blank - file.data) + 1), ERR_OK);
    assert_int_equal(buf_append_str(&over, "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"),
                     ERR_OK);
    assert_int_equal(buf_append_str(&over, blank + 1), ERR_OK);
    assert_int_equal(tlog_inclusion_file_parse(over.data, over.len, &pf, NULL), ERR_INVALID);
    buf_release(&over);
    const char *bad[] = {
        "",
        "c2sp.org/tlog-proof@v1\n",
        "c2sp.org/tlog-proof@v1\nindex 1\n",
        "c2sp.org/tlog-proof@v1\nindex 1\n\n",
        "c2sp.org/tlog-proof@v1\nindex 01\n\nx",
        "c2sp.org/tlog-proof@v1\nindex -1\n\nx",
        "c2sp.org/tlog-proof@v1\nindex 9223372036854775807\n\nx",
        "c2sp.org/tlog-proof@v1\nindex  1\n\nx",
        "c2sp.org/tlog-proof@v1\nindex\n\nx",
        "c2sp.org/tlog-proof@v1\nextra \nindex 1\n\nx",
        "c2sp.org/tlog-proof@v1\nextra AAAA\nextra AAAA\nindex 1\n\nx",
        "c2sp.org/tlog-proof@v2\nindex 1\n\nx",
        "c2sp.org/tlog-proof@v1\r\nindex 1\n\nx",
        "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nx",
        "c2sp.org/tlog-proof@v1\nindex 1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc\n\nx",
        "bourse/tlog-consistency-proof@v1\nold 1\n\nx",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(tlog_inclusion_file_parse(bad[i], strlen(bad[i]), &pf, NULL), ERR_INVALID);
    }
    buf_release(&file);
    file_fixture_release(&f);
}

static void test_tlog__consistency_files_verify(void **state)
{
    (void)state;
    static struct file_fixture f;
    file_fixture_init(&f);
    struct tlog_hash_reader r = store_reader(&f.store);
    struct buf file;
    buf_init(&file, TLOG_PROOF_FILE_MAX);
    for (uint64_t m = 1; m <= 20; m++) {
        struct tlog_proof p;
        assert_int_equal(tlog_prove_tree(20, m, &r, &p, NULL), ERR_OK);
        buf_reset(&file);
        assert_int_equal(
            tlog_consistency_file_format(m, &p, f.notes[20].data, f.notes[20].len, &file, NULL),
            ERR_OK);
        struct tlog_checkpoint got;
        assert_int_equal(tlog_consistency_file_verify(file.data, file.len, &f.verifier,
                                                      &f.checkpoints[m], &got, NULL),
                         ERR_OK);
        assert_memory_equal(&got, &f.checkpoints[20], sizeof(got));
        struct tlog_proof_file pf;
        assert_int_equal(tlog_consistency_file_parse(file.data, file.len, &pf, NULL), ERR_OK);
        assert_int_equal(pf.index, m);
        /* Against another old checkpoint: rejected. */
        uint64_t other = m == 1 ? 2 : m - 1;
        assert_int_equal(tlog_consistency_file_verify(file.data, file.len, &f.verifier,
                                                      &f.checkpoints[other], &got, NULL),
                         ERR_CORRUPT);
        struct tlog_checkpoint forged = f.checkpoints[m];
        forged.root_hash[5] ^= 1;
        if (m < 20) {
            assert_int_equal(
                tlog_consistency_file_verify(file.data, file.len, &f.verifier, &forged, &got, NULL),
                ERR_CORRUPT);
        }
        forged = f.checkpoints[m];
        forged.origin[0] = 'X';
        assert_int_equal(
            tlog_consistency_file_verify(file.data, file.len, &f.verifier, &forged, &got, NULL),
            ERR_CORRUPT);
    }
    /* Tampered byte by byte: never accepted. */
    struct tlog_proof p;
    assert_int_equal(tlog_prove_tree(20, 7, &r, &p, NULL), ERR_OK);
    buf_reset(&file);
    assert_int_equal(
        tlog_consistency_file_format(7, &p, f.notes[20].data, f.notes[20].len, &file, NULL),
        ERR_OK);
    char *m = mem_alloc(file.len);
    assert_non_null(m);
    struct tlog_checkpoint got;
    for (size_t i = 0; i < file.len; i++) {
        memcpy(m, file.data, file.len);
        m[i] ^= 0x01;
        enum err rc =
            tlog_consistency_file_verify(m, file.len, &f.verifier, &f.checkpoints[7], &got, NULL);
        assert_true(rc == ERR_CORRUPT || rc == ERR_INVALID);
    }
    for (size_t len = 0; len < file.len; len++) {
        enum err rc = tlog_consistency_file_verify(file.data, len, &f.verifier, &f.checkpoints[7],
                                                   &got, NULL);
        assert_true(rc == ERR_CORRUPT || rc == ERR_INVALID);
    }
    mem_free(m);
    /* An old size past the new tree, an empty old tree, a zero old size. */
    buf_reset(&file);
    p.count = 0;
    assert_int_equal(
        tlog_consistency_file_format(20, &p, f.notes[12].data, f.notes[12].len, &file, NULL),
        ERR_OK);
    assert_int_equal(tlog_consistency_file_verify(file.data, file.len, &f.verifier,
                                                  &f.checkpoints[20], &got, NULL),
                     ERR_CORRUPT);
    assert_int_equal(tlog_consistency_file_verify(file.data, file.len, &f.verifier,
                                                  &f.checkpoints[0], &got, NULL),
                     ERR_INVALID);
    assert_int_equal(
        tlog_consistency_file_format(0, &p, f.notes[12].data, f.notes[12].len, &file, NULL),
        ERR_INVALID);
    const char zero[] = "bourse/tlog-consistency-proof@v1\nold 0\n\nx";
    struct tlog_proof_file pf;
    assert_int_equal(tlog_consistency_file_parse(zero, strlen(zero), &pf, NULL), ERR_INVALID);
    const char extra[] = "bourse/tlog-consistency-proof@v1\nextra AAAA\nold 1\n\nx";
    assert_int_equal(tlog_consistency_file_parse(extra, strlen(extra), &pf, NULL), ERR_INVALID);
    buf_release(&file);
    file_fixture_release(&f);
}

/* ---- allocation failures ---------------------------------------------------------------- */

static void test_tlog__allocation_failures_return_nomem(void **state)
{
    (void)state;
    struct tlog_signer s;
    struct tlog_verifier v;
    test_signer(&s, &v);
    struct tlog_checkpoint c = {"bourse.example/log", 5, {0}};
    struct tlog_proof p = {3, {{0}}};
    int succeeded = 0;
    for (long n = 1; n < 100 && !succeeded; n++) {
        struct buf note;
        struct buf file;
        buf_init(&note, TLOG_NOTE_MAX);
        buf_init(&file, TLOG_PROOF_FILE_MAX);
        mem_fail_after(n);
        enum err rc = tlog_checkpoint_sign(&c, &s, &note, NULL);
        if (rc == ERR_OK) {
            rc = tlog_inclusion_file_format(1, &p, note.data, note.len, &file, NULL);
        }
        mem_fail_after(0);
        if (rc == ERR_OK) {
            succeeded = 1;
        } else {
            assert_int_equal(rc, ERR_NOMEM);
            assert_int_equal(file.len, 0);
        }
        buf_release(&file);
        buf_release(&note);
    }
    assert_true(succeeded);
    tlog_signer_release(&s);
}

/* ---- internal text helpers (white box) -------------------------------------------------- */

static void test_tlog__base64_is_canonical(void **state)
{
    (void)state;
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < ARRAY_LEN(plain); i++) {
        char out[16];
        tlog__base64_encode((const uint8_t *)plain[i], strlen(plain[i]), out);
        assert_string_equal(out, coded[i]);
        uint8_t back[16];
        size_t n;
        assert_true(tlog__base64_decode(coded[i], strlen(coded[i]), back, sizeof(back), &n));
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(back, plain[i], n);
    }
    const char *bad[] = {"Zh==",     "Zm9=",  "Zg=",    "Zg",   "Z===", "====", "=Zg=",
                         "Zg==Zg==", "Zm 9v", "Zm9v\n", "Zm-v", "Zm_v", "Zg=A"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        uint8_t back[16];
        size_t n;
        assert_false(tlog__base64_decode(bad[i], strlen(bad[i]), back, sizeof(back), &n));
    }
    /* Decoding into a short buffer still validates everything and reports the length. */
    uint8_t two[2];
    size_t n;
    assert_true(tlog__base64_decode("Zm9vYmFy", 8, two, sizeof(two), &n));
    assert_int_equal(n, 6);
    assert_memory_equal(two, "fo", 2);
}

static void test_tlog__decimals_are_canonical(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(tlog__parse_decimal("0", 1, TLOG_TREE_SIZE_MAX, &v));
    assert_int_equal(v, 0);
    assert_true(tlog__parse_decimal("9223372036854775807", 19, TLOG_TREE_SIZE_MAX, &v));
    assert_int_equal(v, TLOG_TREE_SIZE_MAX);
    assert_true(tlog__parse_decimal("18446744073709551615", 20, UINT64_MAX, &v));
    assert_int_equal(v, UINT64_MAX);
    const char *bad[] = {
        "",   "00", "01", "9223372036854775808", "18446744073709551616", "1a", "-0",
        "+1", " 1", "1 "};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_false(tlog__parse_decimal(bad[i], strlen(bad[i]), TLOG_TREE_SIZE_MAX, &v));
    }
    assert_false(tlog__parse_decimal("18446744073709551616", 20, UINT64_MAX, &v));
    assert_false(tlog__parse_decimal("256", 3, 255, &v));
    assert_false(tlog__parse_decimal("5", 1, 4, &v));
    assert_true(tlog__parse_decimal("4", 1, 4, &v));
    struct tlog_verifier ver;
    assert_int_equal(tlog_verifier_parse(NULL, 0, &ver, NULL), ERR_INVALID);
    struct tlog_signer sig;
    assert_int_equal(tlog_signer_parse(NULL, 0, &sig, NULL), ERR_INVALID);
    size_t text_len;
    assert_int_equal(tlog_note_open(NULL, 0, &ver, &text_len, NULL), ERR_INVALID);
    struct tlog_proof_file pf;
    assert_int_equal(tlog_inclusion_file_parse(NULL, 0, &pf, NULL), ERR_INVALID);
    struct tlog_checkpoint cp;
    assert_int_equal(tlog_checkpoint_parse(NULL, 0, &cp, NULL), ERR_INVALID);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlog__hashes_match_rfc6962_vectors),
        cmocka_unit_test(test_tlog__tree_hash_matches_rfc6962_roots),
        cmocka_unit_test(test_tlog__stored_hash_index_is_dense),
        cmocka_unit_test(test_tlog__matches_reference_for_every_size_to_300),
        cmocka_unit_test(test_tlog__rfc6962_inclusion_vectors),
        cmocka_unit_test(test_tlog__rfc6962_consistency_vectors),
        cmocka_unit_test(test_tlog__tampered_inclusion_proofs_rejected),
        cmocka_unit_test(test_tlog__tampered_consistency_proofs_rejected),
        cmocka_unit_test(test_tlog__proof_arguments_out_of_range),
        cmocka_unit_test(test_tlog__reader_errors_pass_through),
        cmocka_unit_test(test_tlog__huge_trees_prove_and_verify),
        cmocka_unit_test(test_tlog__tile_paths_round_trip),
        cmocka_unit_test(test_tlog__tile_paths_rejected),
        cmocka_unit_test(test_tlog__tiles_of_a_70000_leaf_tree),
        cmocka_unit_test(test_tlog__entry_bundles_round_trip),
        cmocka_unit_test(test_tlog__go_note_vectors_verify_byte_for_byte),
        cmocka_unit_test(test_tlog__key_manglings_rejected),
        cmocka_unit_test(test_tlog__signer_from_seed_round_trips),
        cmocka_unit_test(test_tlog__checkpoint_matches_go_golden),
        cmocka_unit_test(test_tlog__checkpoint_sign_and_open),
        cmocka_unit_test(test_tlog__checkpoint_bodies_rejected),
        cmocka_unit_test(test_tlog__tampered_checkpoints_rejected),
        cmocka_unit_test(test_tlog__inclusion_files_verify),
        cmocka_unit_test(test_tlog__consistency_files_verify),
        cmocka_unit_test(test_tlog__allocation_failures_return_nomem),
        cmocka_unit_test(test_tlog__base64_is_canonical),
        cmocka_unit_test(test_tlog__decimals_are_canonical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
