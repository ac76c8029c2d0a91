/*
 * custody_test.c: the custody part of the delivery module: object files sealed and read back
 * at any offset, a wrong master key and a tampered byte refused, content addressing, Range
 * arithmetic, format detection, the upload protocol with its refusals (each leaving the store
 * and the data directory as they were), and download tokens. On PostgreSQL too when
 * BOURSE_TEST_PG_URL names a cluster's admin database.
 */
#include "util/compat.h"
#include "delivery/delivery.h"
#include "delivery/delivery_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "market.h"

#include "util/banned.h"

struct fixture {
    struct market_custody c;
    char product[ID_MAX], revision[ID_MAX], revision2[ID_MAX];
};

/* ---- rows the custody tables refer to ---- */

/* The product's latest revision (2) is f->revision; its first, f->revision2. */
static void product_add(struct fixture *f)
{
    market_product_row(f->c.store, &f->c.rng, f->c.provider, 2, f->revision, f->product);
    market_revision_row(f->c.store, &f->c.rng, f->product, f->c.provider, 1, NULL, f->revision2);
    market_revision_row(f->c.store, &f->c.rng, f->product, f->c.provider, 2, f->revision,
                        f->revision);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    market_custody_open(&f->c, "custody", 1790000000000);
    product_add(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    market_custody_close(&f->c);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static struct delivery_actor as(const char *id)
{
    struct delivery_actor a = {id, DELIVERY_ROLE_ENTITY, 1};
    return a;
}

static void sha_hex(const void *data, size_t len, char out[STORE_HASH_HEX_MAX])
{
    assert_int_equal(delivery__sha256_hex(data, len, out, NULL), ERR_OK);
}

static unsigned char *random_bytes(size_t len, unsigned seed)
{
    unsigned char *p = malloc(len + 1);
    unsigned char key[32] = {0};
    key[0] = (unsigned char)seed;
    unsigned char nonce[8] = {0};
    crypto_stream_chacha20(p, len, nonce, key);
    return p;
}

/* Uploads data through the whole protocol as the provider; returns the object. */
static void upload_all(struct fixture *f, const void *data, size_t len, int64_t chunk,
                       struct store_object *o)
{
    char sha[STORE_HASH_HEX_MAX];
    sha_hex(data, len, sha);
    struct delivery_upload_request r = {f->product, NULL, "data.bin", (int64_t)len, sha, chunk};
    struct delivery_actor who = as(f->c.provider);
    struct store_upload u;
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_upload_start(&f->c.d, &who, &r, &u, &err), ERR_OK, &err, NULL);
    for (int64_t n = 0; n < u.chunk_count; n++) {
        size_t off = (size_t)(n * u.chunk_size);
        size_t cl = len - off < (size_t)u.chunk_size ? len - off : (size_t)u.chunk_size;
        char csha[STORE_HASH_HEX_MAX];
        sha_hex((const char *)data + off, cl, csha);
        struct store_upload_chunk c;
        int again = 0;
        expect(delivery_upload_chunk(&f->c.d, &who, u.id, n, (const char *)data + off, cl, csha, &c,
                                     &again, &err),
               ERR_OK, &err, NULL);
    }
    expect(delivery_upload_complete(&f->c.d, &who, u.id, o, &err), ERR_OK, &err, NULL);
}

static void read_all(struct fixture *f, const struct store_object *o, unsigned char *out)
{
    struct delivery_object_file *file = NULL;
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_object_open(&f->c.d, o, &file, &err), ERR_OK, &err, NULL);
    expect(delivery_object_read(file, 0, out, (size_t)o->size, &err), ERR_OK, &err, NULL);
    delivery_object_close(file);
}

static int64_t events(struct fixture *f)
{
    int64_t n = 0;
    assert_int_equal(store_event_count(f->c.store, &n, NULL), ERR_OK);
    return n;
}

/* Every regular file under dir, concatenated into one buffer. */
static void files_under(const char *dir, struct buf *all)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            files_under(path, all);
            continue;
        }
        char *data = NULL;
        size_t len = 0;
        assert_int_equal(file_read(path, 64u << 20, &data, &len, NULL), ERR_OK);
        assert_int_equal(buf_append(all, data, len), ERR_OK);
        mem_free(data);
    }
    closedir(d);
}

/* ---- objects ---- */

static void test_custody__round_trip_and_random_access(void **state)
{
    struct fixture *f = *state;
    /* Sizes around the record boundary, and an empty file. */
    const size_t sizes[] = {0,
                            1,
                            DELIVERY_RECORD_BYTES - 1,
                            DELIVERY_RECORD_BYTES,
                            DELIVERY_RECORD_BYTES + 1,
                            3 * DELIVERY_RECORD_BYTES + 17};
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
        unsigned char *data = random_bytes(sizes[i], (unsigned)i + 1);
        struct store_object o;
        upload_all(f, data, sizes[i], DELIVERY_CHUNK_BYTES_MIN, &o);
        assert_int_equal(o.size, (int64_t)sizes[i]);
        unsigned char *back = malloc(sizes[i] + 1);
        read_all(f, &o, back);
        assert_memory_equal(back, data, sizes[i]);
        /* Any offset and length, straddling records, through one open file. */
        struct delivery_object_file *file = NULL;
        assert_int_equal(delivery_object_open(&f->c.d, &o, &file, NULL), ERR_OK);
        for (size_t k = 0; k < 50 && sizes[i] > 0; k++) {
            size_t off = (size_t)randombytes_uniform((uint32_t)sizes[i]);
            size_t len = (size_t)randombytes_uniform((uint32_t)(sizes[i] - off)) + 1;
            memset(back, 0, len);
            assert_int_equal(delivery_object_read(file, (int64_t)off, back, len, NULL), ERR_OK);
            assert_memory_equal(back, data + off, len);
        }
        delivery_object_close(file);
        free(back);
        free(data);
    }
}

static void test_custody__wrong_master_key_fails(void **state)
{
    struct fixture *f = *state;
    unsigned char *data = random_bytes(200000, 9);
    struct store_object o;
    upload_all(f, data, 200000, DELIVERY_CHUNK_BYTES_MIN, &o);
    unsigned char other[32];
    memcpy(other, f->c.master, 32);
    other[0] ^= 1;
    struct delivery_custody d2;
    assert_int_equal(delivery_custody_init(&d2, f->c.store, &f->c.clock, &f->c.rng, f->c.dir, other,
                                           1 << 20, NULL),
                     ERR_OK);
    struct delivery_object_file *file = NULL;
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_object_open(&d2, &o, &file, &err), ERR_CORRUPT, &err, NULL);
    assert_null(file);
    /* The store remembers the exchange's key: another one is refused at start. */
    expect(delivery_custody_check_store(&f->c.d, &err), ERR_OK, &err, NULL);
    expect(delivery_custody_check_store(&d2, &err), ERR_CONFLICT, &err, "master_key");
    expect(delivery_custody_check_store(&f->c.d, &err), ERR_OK, &err, NULL);
    /* A key moved to another object's row does not open either. */
    struct store_object moved = o;
    id_new(&f->c.rng, "obj", moved.id);
    expect(delivery_object_open(&f->c.d, &moved, &file, &err), ERR_CORRUPT, &err, NULL);
    delivery_custody_release(&d2);
    free(data);
}

static void test_custody__tamper_detected(void **state)
{
    struct fixture *f = *state;
    size_t len = DELIVERY_RECORD_BYTES + 100; /* two records */
    unsigned char *data = random_bytes(len, 3);
    struct store_object o;
    upload_all(f, data, len, DELIVERY_CHUNK_BYTES_MIN, &o);
    char path[DELIVERY_PATH_MAX];
    assert_int_equal(delivery__object_path(&f->c.d, o.blob, path, NULL), ERR_OK);
    char *file_bytes = NULL;
    size_t file_len = 0;
    assert_int_equal(file_read(path, 1 << 20, &file_bytes, &file_len, NULL), ERR_OK);
    unsigned char *back = malloc(len);
    /* Flip each byte of the file in turn (every header byte, and a stride through the
     * records, tags included): reading the whole object must fail every time. */
    for (size_t i = 0; i < file_len; i += i < DELIVERY_HEADER_BYTES + 64 ? 1 : 97) {
        file_bytes[i] ^= 0x20;
        assert_int_equal(file_write_atomic(path, file_bytes, file_len, 0600, 0, NULL), ERR_OK);
        struct delivery_object_file *file = NULL;
        enum err rc = delivery_object_open(&f->c.d, &o, &file, NULL);
        if (rc == ERR_OK) {
            rc = delivery_object_read(file, 0, back, len, NULL);
        }
        delivery_object_close(file);
        if (rc != ERR_CORRUPT) {
            fail_msg("a flipped byte %zu went unnoticed (%s)", i, err_name(rc));
        }
        file_bytes[i] ^= 0x20;
    }
    /* Truncation and extension too. */
    assert_int_equal(file_write_atomic(path, file_bytes, file_len - 1, 0600, 0, NULL), ERR_OK);
    struct delivery_object_file *file = NULL;
    assert_int_equal(delivery_object_open(&f->c.d, &o, &file, NULL), ERR_CORRUPT);
    assert_int_equal(file_write_atomic(path, file_bytes, file_len, 0600, 0, NULL), ERR_OK);
    read_all(f, &o, back);
    assert_memory_equal(back, data, len);
    mem_free(file_bytes);
    free(back);
    free(data);
}

static void test_custody__content_addressing_dedups(void **state)
{
    struct fixture *f = *state;
    unsigned char *data = random_bytes(150000, 5);
    struct store_object a, b, c;
    upload_all(f, data, 150000, DELIVERY_CHUNK_BYTES_MIN, &a);
    upload_all(f, data, 150000, DELIVERY_CHUNK_BYTES_MIN * 2, &b);
    assert_string_not_equal(a.id, b.id);
    assert_string_equal(a.blob, b.blob); /* one file */
    assert_string_not_equal(a.wrapped_key, b.wrapped_key);
    unsigned char *back = malloc(150000);
    read_all(f, &b, back);
    assert_memory_equal(back, data, 150000);
    data[0] ^= 1;
    upload_all(f, data, 150000, DELIVERY_CHUNK_BYTES_MIN, &c);
    assert_string_not_equal(a.blob, c.blob);
    /* The file name is not the plaintext's SHA-256 (it is keyed). */
    assert_string_not_equal(a.blob, a.sha256);
    /* Nothing under the data directory shows the plaintext (the staged chunks are gone). */
    struct buf all;
    buf_init(&all, 64u << 20);
    files_under(f->c.dir, &all);
    assert_null(memmem(all.data, all.len, data + 1000, 32));
    assert_null(memmem(all.data, all.len, a.sha256, 64));
    buf_release(&all);
    free(back);
    free(data);
}

/* ---- the object file formats, checked against independent code ---- */

#define R DELIVERY_RECORD_BYTES
#define OBJ_LEN (5 * R + 17) /* two read batches' worth, and a short last record */

static void le64_write(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static size_t record_len(uint64_t i, size_t size)
{
    return size - i * R < (size_t)R ? size - i * R : (size_t)R;
}

/* The object key of o, unwrapped as the server does. */
static void object_key(struct fixture *f, const struct store_object *o, unsigned char key[32])
{
    assert_int_equal(delivery__key_unwrap(&f->c.d, o->id, o->wrapped_key, key, NULL), ERR_OK);
}

/* The 41 bytes of a record's associated data. */
static void record_ad(const unsigned char *header, int last, unsigned char ad[41])
{
    memcpy(ad, header, 40);
    ad[40] = (unsigned char)last;
}

/* Reads the whole object and a stride of ranges through one open file; all must be data. */
static void object_reads_as(struct fixture *f, const struct store_object *o,
                            const unsigned char *data)
{
    unsigned char *back = malloc(OBJ_LEN);
    read_all(f, o, back);
    assert_memory_equal(back, data, OBJ_LEN);
    struct delivery_object_file *file = NULL;
    assert_int_equal(delivery_object_open(&f->c.d, o, &file, NULL), ERR_OK);
    for (size_t off = 0; off < OBJ_LEN; off += 40961) {
        size_t len = OBJ_LEN - off < 3 * R ? OBJ_LEN - off : 3 * R;
        assert_int_equal(delivery_object_read(file, (int64_t)off, back, len, NULL), ERR_OK);
        assert_memory_equal(back, data + off, len);
    }
    delivery_object_close(file);
    free(back);
}

/* Format 2 as delivery.h's byte table says: AES-256-GCM under BLAKE2b(object key,
 * "bourse object records v2" || prefix), decrypted here with OpenSSL's one-shot calls. */
static void test_custody__format_2_matches_byte_table(void **state)
{
    struct fixture *f = *state;
    unsigned char *data = random_bytes(OBJ_LEN, 21);
    struct store_object o;
    upload_all(f, data, OBJ_LEN, DELIVERY_CHUNK_BYTES_MIN, &o);
    char path[DELIVERY_PATH_MAX];
    assert_int_equal(delivery__object_path(&f->c.d, o.blob, path, NULL), ERR_OK);
    char *file = NULL;
    size_t file_len = 0;
    assert_int_equal(file_read(path, 1 << 20, &file, &file_len, NULL), ERR_OK);
    const unsigned char *h = (const unsigned char *)file;
    assert_memory_equal(h, "BRSOBJ2\0", 8);
    assert_int_equal(file_len, 40 + OBJ_LEN + 6 * 16);
    unsigned char key[32], rkey[32], msg[24 + 16];
    object_key(f, &o, key);
    memcpy(msg, "bourse object records v2", 24);
    memcpy(msg + 24, h + 24, 16);
    crypto_generichash(rkey, 32, msg, sizeof(msg), key, 32);
    unsigned char *plain = malloc(R);
    const unsigned char *rec = h + 40;
    for (uint64_t i = 0; i < 6; i++) {
        size_t len = record_len(i, OBJ_LEN);
        unsigned char nonce[12] = {0}, ad[41];
        le64_write(nonce + 4, i);
        record_ad(h, i == 5, ad);
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int n = 0;
        assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, rkey, nonce), 1);
        assert_int_equal(EVP_DecryptUpdate(c, NULL, &n, ad, 41), 1);
        assert_int_equal(EVP_DecryptUpdate(c, plain, &n, rec, (int)len), 1);
        assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(rec + len)), 1);
        assert_int_equal(EVP_DecryptFinal_ex(c, plain + n, &n), 1);
        EVP_CIPHER_CTX_free(c);
        assert_memory_equal(plain, data + i * R, len);
        rec += len + 16;
    }
    free(plain);
    mem_free(file);
    free(data);
}

/* Writes o's file in format 1 with libsodium's XChaCha20-Poly1305, as files were first
 * written, under the object's own key. */
static void write_format_1(struct fixture *f, const struct store_object *o,
                           const unsigned char *data, size_t size)
{
    unsigned char key[32];
    object_key(f, o, key);
    size_t count = (size + R - 1) / R;
    size_t file_len = 40 + size + count * 16;
    unsigned char *file = calloc(1, file_len);
    memcpy(file, "BRSOBJ1\0", 8);
    le64_write(file + 8, R); /* 4 bytes of R, then 4 zero bytes */
    le64_write(file + 16, size);
    randombytes_buf(file + 24, 16);
    unsigned char *rec = file + 40;
    for (uint64_t i = 0; i < count; i++) {
        size_t len = record_len(i, size);
        unsigned char nonce[24], ad[41];
        memcpy(nonce, file + 24, 16);
        le64_write(nonce + 16, i);
        record_ad(file, i + 1 == count, ad);
        crypto_aead_xchacha20poly1305_ietf_encrypt(rec, NULL, data + i * R, len, ad, 41, NULL,
                                                   nonce, key);
        rec += len + 16;
    }
    char path[DELIVERY_PATH_MAX];
    assert_int_equal(delivery__object_path(&f->c.d, o->blob, path, NULL), ERR_OK);
    assert_int_equal(file_write_atomic(path, file, file_len, 0600, 0, NULL), ERR_OK);
    free(file);
}

/* Files of format 1 (written by libsodium before format 2) read as they did, and a tampered
 * record fails without any plaintext of its read batch reaching the caller. */
static void test_custody__format_1_still_read(void **state)
{
    struct fixture *f = *state;
    unsigned char *data = random_bytes(OBJ_LEN, 22);
    struct store_object o;
    upload_all(f, data, OBJ_LEN, DELIVERY_CHUNK_BYTES_MIN, &o);
    write_format_1(f, &o, data, OBJ_LEN);
    object_reads_as(f, &o, data);
    /* Flip a byte in record 1's ciphertext: the read fails and the caller's buffer holds no
     * plaintext of any record (record 0 decrypted in the same batch included). */
    char path[DELIVERY_PATH_MAX];
    assert_int_equal(delivery__object_path(&f->c.d, o.blob, path, NULL), ERR_OK);
    char *file = NULL;
    size_t file_len = 0;
    assert_int_equal(file_read(path, 1 << 20, &file, &file_len, NULL), ERR_OK);
    file[40 + R + 16 + 5] ^= 1;
    assert_int_equal(file_write_atomic(path, file, file_len, 0600, 0, NULL), ERR_OK);
    unsigned char *back = malloc(OBJ_LEN);
    memset(back, 0xAA, OBJ_LEN);
    struct delivery_object_file *of = NULL;
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_object_open(&f->c.d, &o, &of, &err), ERR_OK, &err, NULL);
    expect(delivery_object_read(of, 0, back, OBJ_LEN, &err), ERR_CORRUPT, &err, NULL);
    for (uint64_t i = 0; i < 6; i++) {
        assert_int_not_equal(memcmp(back + i * R, data + i * R, record_len(i, OBJ_LEN)), 0);
    }
    /* Reads that avoid the bad record still work. */
    expect(delivery_object_read(of, 2 * R, back, 3 * R, &err), ERR_OK, &err, NULL);
    assert_memory_equal(back, data + 2 * R, 3 * R);
    delivery_object_close(of);
    /* Uploading the same bytes again keeps the file (content addressing): still format 1. */
    file[40 + R + 16 + 5] ^= 1;
    assert_int_equal(file_write_atomic(path, file, file_len, 0600, 0, NULL), ERR_OK);
    struct store_object again;
    upload_all(f, data, OBJ_LEN, DELIVERY_CHUNK_BYTES_MIN, &again);
    assert_string_equal(again.blob, o.blob);
    object_reads_as(f, &again, data);
    mem_free(file);
    assert_int_equal(file_read(path, 1 << 20, &file, &file_len, NULL), ERR_OK);
    assert_memory_equal(file, "BRSOBJ1\0", 8);
    mem_free(file);
    free(back);
    free(data);
}

#undef R

/* ---- ranges ---- */

static void test_custody__range_arithmetic(void **state)
{
    (void)state;
    struct {
        const char *header;
        int64_t size;
        enum delivery_range want;
        int64_t first, last;
    } cases[] = {
        {"bytes=0-99", 1000, DELIVERY_RANGE_PARTIAL, 0, 99},
        {"bytes=100-", 1000, DELIVERY_RANGE_PARTIAL, 100, 999},
        {"bytes=-100", 1000, DELIVERY_RANGE_PARTIAL, 900, 999},
        {"bytes=-5000", 1000, DELIVERY_RANGE_PARTIAL, 0, 999},
        {"bytes=990-5000", 1000, DELIVERY_RANGE_PARTIAL, 990, 999},
        {"bytes=999-999", 1000, DELIVERY_RANGE_PARTIAL, 999, 999},
        {"BYTES=1-2", 1000, DELIVERY_RANGE_PARTIAL, 1, 2},
        {"bytes=1000-", 1000, DELIVERY_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=5000-6000", 1000, DELIVERY_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-0", 1000, DELIVERY_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-", 0, DELIVERY_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-1", 0, DELIVERY_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=5-1", 1000, DELIVERY_RANGE_WHOLE, 0, 0},
        {"bytes=0-1,5-6", 1000, DELIVERY_RANGE_WHOLE, 0, 0},
        {"items=0-1", 1000, DELIVERY_RANGE_WHOLE, 0, 0},
        {"bytes=a-b", 1000, DELIVERY_RANGE_WHOLE, 0, 0},
        {"bytes=-", 1000, DELIVERY_RANGE_WHOLE, 0, 0},
        {"bytes=", 1000, DELIVERY_RANGE_WHOLE, 0, 0},
        {"bytes=99999999999999999999-", 1000, DELIVERY_RANGE_WHOLE, 0, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int64_t first = -7, last = -7;
        enum delivery_range r = delivery_range_parse(cases[i].header, strlen(cases[i].header),
                                                     cases[i].size, &first, &last);
        if (r != cases[i].want) {
            fail_msg("'%s' of %lld: got %d, want %d", cases[i].header, (long long)cases[i].size, r,
                     cases[i].want);
        }
        if (r == DELIVERY_RANGE_PARTIAL) {
            assert_int_equal(first, cases[i].first);
            assert_int_equal(last, cases[i].last);
        }
    }
    int64_t first = 0, last = 0;
    assert_int_equal(delivery_range_parse(NULL, 0, 10, &first, &last), DELIVERY_RANGE_WHOLE);
}

/* ---- formats ---- */

static const char *sniff(const char *text, size_t split, int64_t *rows)
{
    struct delivery_sniff *s = delivery_sniff_new();
    size_t len = strlen(text);
    split = split < len ? split : len;
    delivery_sniff_feed(s, (const unsigned char *)text, split);
    delivery_sniff_feed(s, (const unsigned char *)text + split, len - split);
    return delivery_sniff_finish(s, rows);
}

static void test_custody__format_detection(void **state)
{
    (void)state;
    struct {
        const char *text;
        const char *format;
        int64_t rows;
    } cases[] = {
        {"id,name\n1,a\n2,\"b, \"\"quoted\"\"\nline\"\n", "csv", 2},
        {"id,name\r\n1,a\r\n2,b", "csv", 2},
        {"城市,人口\n上海,24870895\n", "csv", 1},
        {"id\tname\n1\ta\n", "tsv", 1},
        {"{\"a\":1}\n{\"a\":2}\n\n{\"b\":[1,2]}\n", "jsonl", 3},
        {"id,name\n1,a,extra\n", "opaque", -1}, /* ragged */
        {"id,name\n1,\"a\n", "opaque", -1},     /* an unclosed quote */
        {"id,name\n1,a\"b\n", "opaque", -1},    /* a quote inside a bare field */
        {"just one column\nvalue\n", "opaque", -1},
        {"{\"a\":1}\nnot json\n", "opaque", -1},
        {"id,name\n1,\xff\n", "opaque", -1},     /* not UTF-8 */
        {"id,name\n1,\xe4\xb8\n", "opaque", -1}, /* a truncated character */
        {"", "opaque", -1},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        /* Every split point: the stream may be cut anywhere. */
        for (size_t split = 0; split <= strlen(cases[i].text); split++) {
            int64_t rows = 0;
            const char *got = sniff(cases[i].text, split, &rows);
            if (strcmp(got, cases[i].format) != 0 || rows != cases[i].rows) {
                fail_msg("case %zu split %zu: %s/%lld, want %s/%lld", i, split, got,
                         (long long)rows, cases[i].format, (long long)cases[i].rows);
            }
        }
    }
}

/* ---- uploads ---- */

/* What a refused call must leave alone: the events, the upload's received chunks, and the
 * files under the data directory. */
struct snapshot {
    int64_t events;
    size_t chunks;
    struct buf files;
};

static void snap(struct fixture *f, const char *upload_id, struct snapshot *s)
{
    s->events = events(f);
    s->chunks = 0;
    struct store_upload_chunk *c = NULL;
    if (upload_id != NULL) {
        assert_int_equal(store_upload_chunk_list(f->c.store, upload_id, 1000, &c, &s->chunks, NULL),
                         ERR_OK);
    }
    mem_free(c);
    buf_init(&s->files, 64u << 20);
    files_under(f->c.dir, &s->files);
}

static void snap_same(struct fixture *f, const char *upload_id, struct snapshot *before)
{
    struct snapshot after;
    snap(f, upload_id, &after);
    assert_int_equal(after.events, before->events);
    assert_int_equal(after.chunks, before->chunks);
    assert_int_equal(after.files.len, before->files.len);
    if (before->files.len > 0) {
        assert_memory_equal(after.files.data, before->files.data, before->files.len);
    }
    buf_release(&after.files);
    buf_release(&before->files);
}

static void test_custody__upload_refusals(void **state)
{
    struct fixture *f = *state;
    size_t len = 3 * DELIVERY_CHUNK_BYTES_MIN + 10;
    unsigned char *data = random_bytes(len, 11);
    char sha[STORE_HASH_HEX_MAX];
    sha_hex(data, len, sha);
    struct delivery_actor prov = as(f->c.provider), other = as(f->c.other);
    struct errbuf err;
    errbuf_init(&err);
    struct store_upload u;
    struct snapshot s;
    /* The start's refusals. */
    struct {
        struct delivery_upload_request r;
        const struct delivery_actor *who;
        enum err want;
        const char *field;
    } starts[] = {
        {{f->product, NULL, "a.bin", (int64_t)len, sha, 0}, &other, ERR_FORBIDDEN, "product_id"},
        {{"prd_aaaaaaaaaaaaaaaaaaaa", NULL, "a.bin", 1, sha, 0},
         &prov,
         ERR_NOT_FOUND,
         "product_id"},
        {{f->product, "rev_aaaaaaaaaaaaaaaaaaaa", "a", 1, sha, 0},
         &prov,
         ERR_NOT_FOUND,
         "revision_id"},
        {{f->product, NULL, "a.bin", 5000000, sha, 0}, &prov, ERR_LIMIT, "size"},
        {{f->product, NULL, "a.bin", -1, sha, 0}, &prov, ERR_INVALID, "size"},
        {{f->product, NULL, "a.bin", 10, "ABC", 0}, &prov, ERR_INVALID, "sha256"},
        {{f->product, NULL, "../a", 10, sha, 0}, &prov, ERR_INVALID, "name"},
        {{f->product, NULL, "", 10, sha, 0}, &prov, ERR_INVALID, "name"},
        {{f->product, NULL, "a", 10, sha, 1000}, &prov, ERR_INVALID, "chunk_size"},
        {{f->product, NULL, "a", 10, sha, 9 << 20}, &prov, ERR_LIMIT, "chunk_size"},
        {{"x", NULL, "a", 10, sha, 0}, &prov, ERR_INVALID, "product_id"},
    };
    for (size_t i = 0; i < ARRAY_LEN(starts); i++) {
        snap(f, NULL, &s);
        expect(delivery_upload_start(&f->c.d, starts[i].who, &starts[i].r, &u, &err),
               starts[i].want, &err, starts[i].field);
        snap_same(f, NULL, &s);
    }
    struct delivery_upload_request r = {f->product,   f->revision2, "a.bin",
                                        (int64_t)len, sha,          DELIVERY_CHUNK_BYTES_MIN};
    expect(delivery_upload_start(&f->c.d, &prov, &r, &u, &err), ERR_OK, &err, NULL);
    assert_string_equal(u.revision_id, f->revision2);
    assert_int_equal(u.chunk_count, 4);
    char c0[STORE_HASH_HEX_MAX];
    sha_hex(data, DELIVERY_CHUNK_BYTES_MIN, c0);
    struct store_upload_chunk c;
    int again = 0;
    /* Chunk refusals: nothing stored, no file written. */
    struct {
        const struct delivery_actor *who;
        int64_t n;
        size_t off, len;
        const char *digest;
        enum err want;
        const char *field;
    } puts[] = {
        {&prov, 4, 0, 10, NULL, ERR_INVALID, "n"},
        {&prov, -1, 0, 10, NULL, ERR_INVALID, "n"},
        {&prov, 0, 0, DELIVERY_CHUNK_BYTES_MIN - 1, NULL, ERR_INVALID, "body"},
        {&prov, 3, 0, 11, NULL, ERR_INVALID, "body"},
        {&prov, 0, 0, DELIVERY_CHUNK_BYTES_MIN, "0000", ERR_INVALID, "Chunk-SHA256"},
        {&prov, 1, DELIVERY_CHUNK_BYTES_MIN, DELIVERY_CHUNK_BYTES_MIN, c0, ERR_INVALID,
         "Chunk-SHA256"},
        {&other, 0, 0, DELIVERY_CHUNK_BYTES_MIN, c0, ERR_NOT_FOUND, "id"},
    };
    for (size_t i = 0; i < ARRAY_LEN(puts); i++) {
        char digest[STORE_HASH_HEX_MAX];
        sha_hex(data + puts[i].off, puts[i].len, digest);
        snap(f, u.id, &s);
        expect(delivery_upload_chunk(&f->c.d, puts[i].who, u.id, puts[i].n, data + puts[i].off,
                                     puts[i].len, puts[i].digest ? puts[i].digest : digest, &c,
                                     &again, &err),
               puts[i].want, &err, puts[i].field);
        snap_same(f, u.id, &s);
    }
    expect(delivery_upload_chunk(&f->c.d, &prov, u.id, 0, data, DELIVERY_CHUNK_BYTES_MIN, c0, &c,
                                 &again, &err),
           ERR_OK, &err, NULL);
    assert_int_equal(again, 0);
    /* The same chunk again changes nothing; another one under n 0 is a conflict. */
    snap(f, u.id, &s);
    expect(delivery_upload_chunk(&f->c.d, &prov, u.id, 0, data, DELIVERY_CHUNK_BYTES_MIN, c0, &c,
                                 &again, &err),
           ERR_OK, &err, NULL);
    assert_int_equal(again, 1);
    snap_same(f, u.id, &s);
    unsigned char *changed = malloc(DELIVERY_CHUNK_BYTES_MIN);
    memcpy(changed, data, DELIVERY_CHUNK_BYTES_MIN);
    changed[5] ^= 1;
    char cx[STORE_HASH_HEX_MAX];
    sha_hex(changed, DELIVERY_CHUNK_BYTES_MIN, cx);
    snap(f, u.id, &s);
    expect(delivery_upload_chunk(&f->c.d, &prov, u.id, 0, changed, DELIVERY_CHUNK_BYTES_MIN, cx, &c,
                                 &again, &err),
           ERR_CONFLICT, &err, "n");
    snap_same(f, u.id, &s);
    /* Staged chunks are sealed: the plaintext is nowhere under the data directory. */
    struct buf all;
    buf_init(&all, 64u << 20);
    files_under(f->c.dir, &all);
    assert_null(memmem(all.data, all.len, data + 100, 32));
    buf_release(&all);
    /* Completion with chunks missing is refused and changes nothing. */
    struct store_object o;
    snap(f, u.id, &s);
    expect(delivery_upload_complete(&f->c.d, &prov, u.id, &o, &err), ERR_BAD_STATE, &err, "chunks");
    snap_same(f, u.id, &s);
    /* The open upload is found by its SHA-256 (to resume), and lists what it has. */
    struct store_upload *found = NULL;
    size_t n = 0;
    expect(delivery_upload_find(&f->c.d, &prov, sha, f->product, 10, &found, &n, &err), ERR_OK,
           &err, NULL);
    assert_int_equal(n, 1);
    assert_string_equal(found[0].id, u.id);
    mem_free(found);
    expect(delivery_upload_find(&f->c.d, &other, sha, NULL, 10, &found, &n, &err), ERR_OK, &err,
           NULL);
    assert_int_equal(n, 0);
    mem_free(found);
    /* Chunks whose whole is not the declared file: refused at completion, nothing recorded. */
    for (int64_t k = 1; k < 4; k++) {
        size_t off = (size_t)k * DELIVERY_CHUNK_BYTES_MIN;
        size_t cl = k < 3 ? DELIVERY_CHUNK_BYTES_MIN : 10;
        unsigned char *part = malloc(cl);
        memcpy(part, data + off, cl);
        part[0] ^= k == 2 ? 1 : 0;
        char d2[STORE_HASH_HEX_MAX];
        sha_hex(part, cl, d2);
        expect(delivery_upload_chunk(&f->c.d, &prov, u.id, k, part, cl, d2, &c, &again, &err),
               ERR_OK, &err, NULL);
        free(part);
    }
    int64_t before = events(f);
    expect(delivery_upload_complete(&f->c.d, &prov, u.id, &o, &err), ERR_INVALID, &err, "sha256");
    assert_int_equal(events(f), before);
    assert_int_equal(store_object_newest(f->c.store, f->revision2, &o, NULL), ERR_NOT_FOUND);
    /* Abandoned: its chunks are removed, and nothing more is accepted. */
    expect(delivery_upload_abandon(&f->c.d, &prov, u.id, &u, &err), ERR_OK, &err, NULL);
    assert_string_equal(u.status, "abandoned");
    assert_int_equal(events(f), before + 1);
    expect(delivery_upload_chunk(&f->c.d, &prov, u.id, 0, data, DELIVERY_CHUNK_BYTES_MIN, c0, &c,
                                 &again, &err),
           ERR_BAD_STATE, &err, "status");
    expect(delivery_upload_complete(&f->c.d, &prov, u.id, &o, &err), ERR_BAD_STATE, &err, "status");
    char dir[DELIVERY_PATH_MAX];
    assert_int_equal(delivery__chunk_path(&f->c.d, u.id, -1, dir, NULL), ERR_OK);
    assert_int_equal(access(dir, F_OK), -1);
    free(changed);
    free(data);
}

static void test_custody__upload_records_events(void **state)
{
    struct fixture *f = *state;
    const char *csv = "id,value\n1,10\n2,20\n3,30\n";
    int64_t before = events(f);
    struct store_object o;
    upload_all(f, csv, strlen(csv), 0, &o);
    assert_string_equal(o.format, "csv");
    assert_int_equal(o.rows, 3);
    assert_string_equal(o.revision_id, f->revision); /* the newest by default */
    assert_int_equal(events(f), before + 2);         /* upload.started, object.stored */
    struct store_event *evs = NULL;
    size_t n = 0;
    assert_int_equal(store_event_range(f->c.store, before, 2, &evs, &n, NULL), ERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(evs[0].type, "upload.started");
    assert_string_equal(evs[1].type, "object.stored");
    assert_non_null(strstr(evs[1].leaf, o.sha256));
    assert_non_null(strstr(evs[1].leaf, "\"size\":24"));
    for (size_t i = 0; i < n; i++) {
        store_event_release(&evs[i]);
    }
    mem_free(evs);
    struct store_object got;
    struct delivery_actor op = {"ent_operator", DELIVERY_ROLE_OPERATOR, 1};
    struct delivery_actor other = as(f->c.other);
    assert_int_equal(delivery_object_get(&f->c.d, &op, o.id, &got, NULL), ERR_OK);
    assert_int_equal(delivery_object_get(&f->c.d, &other, o.id, &got, NULL), ERR_NOT_FOUND);
}

/* ---- tokens ---- */

static struct delivery_contract contract_of(struct fixture *f, const char *state, const char *mode)
{
    struct delivery_contract k;
    memset(&k, 0, sizeof(k));
    snprintf(k.id, sizeof(k.id), "ctr_aaaaaaaaaaaaaaaaaaaa");
    memcpy(k.buyer_id, f->c.buyer, ID_MAX);
    memcpy(k.revision_id, f->revision, ID_MAX);
    snprintf(k.state, sizeof(k.state), "%s", state);
    snprintf(k.delivery, sizeof(k.delivery), "%s", mode);
    k.licence_end_ms = f->c.clock_state.now_ms + (int64_t)365 * 86400000; /* a year's licence */
    return k;
}

static struct delivery_contract contract_now;

static enum err contract_read(void *ctx, const char *id, struct delivery_contract *out,
                              struct errbuf *err)
{
    (void)ctx;
    (void)err;
    assert_string_equal(id, contract_now.id);
    *out = contract_now;
    return ERR_OK;
}

static enum delivery_token_verdict check(struct fixture *f, const char *secret, const char *caller,
                                         int64_t now, struct store_download_token *t,
                                         struct errbuf *err)
{
    struct store_object o;
    enum delivery_token_verdict v = DELIVERY_TOKEN_VALID;
    assert_int_equal(
        delivery_token_check(&f->c.d, secret, caller, now, contract_read, NULL, t, &o, &v, err),
        ERR_OK);
    return v;
}

static void test_custody__tokens(void **state)
{
    struct fixture *f = *state;
    const char *csv = "a,b\n1,2\n";
    struct store_object o, old;
    upload_all(f, csv, strlen(csv), 0, &o);
    struct delivery_actor buyer = as(f->c.buyer), prov = as(f->c.provider);
    struct delivery_contract k = contract_of(f, "active", "file");
    contract_now = k;
    struct store_download_token t;
    char secret[DELIVERY_TOKEN_MAX];
    struct errbuf err;
    errbuf_init(&err);
    /* Mint refusals, each appending nothing. */
    int64_t before = events(f);
    expect(delivery_token_mint(&f->c.d, &prov, &k, NULL, 0, &t, secret, &err), ERR_FORBIDDEN, &err,
           "contract");
    struct delivery_contract bad = contract_of(f, "proposed", "file");
    expect(delivery_token_mint(&f->c.d, &buyer, &bad, NULL, 0, &t, secret, &err), ERR_BAD_STATE,
           &err, "contract");
    bad = contract_of(f, "active", "api");
    expect(delivery_token_mint(&f->c.d, &buyer, &bad, NULL, 0, &t, secret, &err), ERR_BAD_STATE,
           &err, "contract");
    expect(delivery_token_mint(&f->c.d, &buyer, &k, NULL, 5, &t, secret, &err), ERR_INVALID, &err,
           "ttl_seconds");
    expect(
        delivery_token_mint(&f->c.d, &buyer, &k, "obj_aaaaaaaaaaaaaaaaaaaa", 0, &t, secret, &err),
        ERR_NOT_FOUND, &err, "object_id");
    assert_int_equal(events(f), before);
    /* An object of another revision is not this contract's. */
    const char *v1 = "x,y\n1,2\n3,4\n";
    char sha[STORE_HASH_HEX_MAX];
    sha_hex(v1, strlen(v1), sha);
    struct delivery_upload_request r = {f->product,          f->revision2, "v1.csv",
                                        (int64_t)strlen(v1), sha,          0};
    struct store_upload u;
    assert_int_equal(delivery_upload_start(&f->c.d, &prov, &r, &u, NULL), ERR_OK);
    struct store_upload_chunk c;
    int again = 0;
    assert_int_equal(
        delivery_upload_chunk(&f->c.d, &prov, u.id, 0, v1, strlen(v1), sha, &c, &again, NULL),
        ERR_OK);
    assert_int_equal(delivery_upload_complete(&f->c.d, &prov, u.id, &old, NULL), ERR_OK);
    before = events(f);
    expect(delivery_token_mint(&f->c.d, &buyer, &k, old.id, 0, &t, secret, &err), ERR_INVALID, &err,
           "object_id");
    assert_int_equal(events(f), before);
    /* Minted: the newest object of the contract's revision; the secret is not stored. */
    expect(delivery_token_mint(&f->c.d, &buyer, &k, NULL, 0, &t, secret, &err), ERR_OK, &err, NULL);
    assert_int_equal(events(f), before + 1);
    assert_string_equal(t.object_id, o.id);
    assert_int_equal(strlen(secret), DELIVERY_TOKEN_LEN);
    assert_string_not_equal(t.secret_hash, secret);
    int64_t now = f->c.clock_state.now_ms;
    struct store_download_token seen;
    assert_int_equal(check(f, secret, NULL, now, &seen, &err), DELIVERY_TOKEN_VALID);
    assert_string_equal(seen.id, t.id);
    assert_int_equal(check(f, secret, f->c.buyer, now, &seen, &err), DELIVERY_TOKEN_VALID);
    /* Distinct verdicts. */
    assert_int_equal(check(f, secret, f->c.other, now, &seen, &err), DELIVERY_TOKEN_FOREIGN);
    assert_int_equal(check(f, secret, NULL, t.expires_ms, &seen, &err), DELIVERY_TOKEN_EXPIRED);
    assert_int_equal(check(f, "bdt_nope", NULL, now, &seen, &err), DELIVERY_TOKEN_UNKNOWN);
    char forged[DELIVERY_TOKEN_MAX];
    snprintf(forged, sizeof(forged), "%s", secret);
    forged[10] = forged[10] == 'A' ? 'B' : 'A';
    assert_int_equal(check(f, forged, NULL, now, &seen, &err), DELIVERY_TOKEN_UNKNOWN);
    contract_now = contract_of(f, "cancelled", "file");
    assert_int_equal(check(f, secret, NULL, now, &seen, &err), DELIVERY_TOKEN_CONTRACT);
    assert_string_equal(err.field, "contract");
    /* The licence term ends while the state still says active: refused from its end on, and
     * no token is minted (nothing logged). */
    contract_now = k;
    contract_now.licence_end_ms = now + 1;
    assert_int_equal(check(f, secret, NULL, now, &seen, &err), DELIVERY_TOKEN_VALID);
    assert_int_equal(check(f, secret, NULL, now + 1, &seen, &err), DELIVERY_TOKEN_CONTRACT);
    assert_string_equal(err.field, "contract");
    bad = k;
    bad.licence_end_ms = f->c.clock_state.now_ms;
    before = events(f);
    struct store_download_token t2;
    char secret2[DELIVERY_TOKEN_MAX];
    expect(delivery_token_mint(&f->c.d, &buyer, &bad, NULL, 0, &t2, secret2, &err), ERR_BAD_STATE,
           &err, "contract");
    assert_int_equal(events(f), before);
    contract_now = k;
    /* Revocation: someone else's is not found; the buyer's works once. */
    expect(delivery_token_revoke(&f->c.d, &prov, t.id, &seen, &err), ERR_NOT_FOUND, &err, "id");
    expect(delivery_token_revoke(&f->c.d, &buyer, t.id, &seen, &err), ERR_OK, &err, NULL);
    expect(delivery_token_revoke(&f->c.d, &buyer, t.id, &seen, &err), ERR_BAD_STATE, &err, "id");
    assert_int_equal(check(f, secret, NULL, now, &seen, &err), DELIVERY_TOKEN_REVOKED);
    /* A download is recorded with the bytes' hash. */
    before = events(f);
    assert_int_equal(delivery_download_record(&f->c.d, &t, &o, 0, o.size - 1, NULL), ERR_OK);
    struct store_event *evs = NULL;
    size_t n = 0;
    assert_int_equal(store_event_range(f->c.store, before, 1, &evs, &n, NULL), ERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(evs[0].type, "delivery.downloaded");
    assert_non_null(strstr(evs[0].leaf, o.sha256));
    assert_non_null(strstr(evs[0].leaf, "\"complete\":true"));
    store_event_release(&evs[0]);
    mem_free(evs);
}

static void test_custody__master_key_file(void **state)
{
    struct fixture *f = *state;
    char path[300];
    snprintf(path, sizeof(path), "%s/mk", f->c.dir);
    unsigned char a[32], b[32];
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_master_key_load(path, 0, a, &err), ERR_NOT_FOUND, &err, NULL);
    expect(delivery_master_key_load(path, 1, a, &err), ERR_OK, &err, NULL);
    expect(delivery_master_key_load(path, 0, b, &err), ERR_OK, &err, NULL);
    assert_memory_equal(a, b, 32);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(file_write_atomic(path, "short", 5, 0600, 0, NULL), ERR_OK);
    expect(delivery_master_key_load(path, 1, b, &err), ERR_CORRUPT, &err, "master_key");
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_custody__round_trip_and_random_access, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_custody__wrong_master_key_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custody__tamper_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custody__content_addressing_dedups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custody__format_2_matches_byte_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custody__format_1_still_read, setup, teardown),
        cmocka_unit_test(test_custody__range_arithmetic),
        cmocka_unit_test(test_custody__format_detection),
        cmocka_unit_test_setup_teardown(test_custody__upload_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custody__upload_records_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custody__tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custody__master_key_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
