/*
 * copies_test.c: fingerprinted delivery (src/delivery/copies.c) and its rows
 * (src/store/fingerprints.c), through their public functions, on SQLite or, when
 * BOURSE_TEST_PG_URL names a cluster's admin database, on a fresh PostgreSQL database per test.
 *
 *   - a declaration is checked against the file and recorded with its event; every refusal
 *     (bad declarations, an opaque or oversized object, someone else's object, the operator, a
 *     declaration after a buyer has a copy) names its field and leaves the tables, the log and
 *     the data directory exactly as they were;
 *   - a buyer's copy differs from the original only in declared cells and only within the
 *     declared tolerance (checked cell by cell with code of its own, not the reader's); the same
 *     contract gets the same bytes again without a new row, event or file; two contracts get
 *     different copies; an undeclared or opaque object is served as is, under a key wrapped
 *     for the copy; a copy that cannot be made (a corrupt declaration, a missing file, another
 *     master key) records nothing;
 *   - a trace names an exact copy's contract, recognises the original, names the right buyer
 *     from a damaged re-encoded copy within the bound and nobody from a file no buyer had, and
 *     refuses a bad bound or object with nothing logged;
 *   - the store's rows: every column round trip, replacement, ordering and the max bound of
 *     each list, conflicts (duplicates, unknown objects and buyers), and a stored value longer
 *     than its buffer read as ERR_CORRUPT, never cut.
 */
#include "util/compat.h"
#include "delivery/delivery.h"
#include "delivery/delivery_int.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "market.h"

#include "util/banned.h"

#define ROWS 6000
#define DECL                                                                                       \
    "{\"key\": [\"meter_id\", \"day\"], \"columns\": ["                                            \
    "{\"name\": \"kwh\", \"kind\": \"digit\", \"decimals\": 2},"                                   \
    "{\"name\": \"peak_kw\", \"kind\": \"digit\", \"decimals\": 1},"                               \
    "{\"name\": \"district\", \"kind\": \"spelling\", \"variants\": [[\"Road\", \"Rd.\"]]}]}"

struct fixture {
    struct market_custody c;
    char buyer2[ID_MAX];
    char product[ID_MAX], revision[ID_MAX];
    char *csv; /* the dataset: ROWS rows, no quoting, so a plain split reads it */
    size_t csv_len;
    uint64_t admissible; /* its admissible cells under DECL, counted as it was written */
};

static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* ---- rows the custody tables refer to ---- */

static void product_add(struct fixture *f)
{
    market_product_row(f->c.store, &f->c.rng, f->c.provider, 1, f->revision, f->product);
    market_revision_row(f->c.store, &f->c.rng, f->product, f->c.provider, 1, f->revision,
                        f->revision);
}

/* Meter readings: two digit columns (2 and 1 decimals), a street whose suffix is Road, Rd. or
 * Lane (only the first two are variants), and an unmarked note. */
static void dataset(struct fixture *f)
{
    static const char *const suffixes[] = {"Road", "Rd.", "Lane"};
    struct buf b;
    buf_init(&b, 1 << 24);
    assert_int_equal(buf_append_str(&b, "meter_id,day,kwh,peak_kw,district,note\n"), ERR_OK);
    uint64_t s = 7;
    f->admissible = 0;
    for (unsigned i = 0; i < ROWS; i++) {
        uint64_t r = next_random(&s);
        const char *suffix = suffixes[(r >> 40) % 3];
        assert_int_equal(buf_appendf(&b, "M%05u,2026-%02u-%02u,%u.%02u,%u.%u,%u %s %s,%s\n", i,
                                     i % 12 + 1, i % 28 + 1, (unsigned)(r % 9990) + 10,
                                     (unsigned)(r >> 16) % 100, (unsigned)(r >> 24) % 500 + 1,
                                     (unsigned)(r >> 32) % 10, i % 97 + 1,
                                     i % 2 ? "Pudong" : "Xuhui", suffix, i % 5 ? "ok" : "checked"),
                         ERR_OK);
        f->admissible += 2 + (strcmp(suffix, "Lane") != 0);
    }
    f->csv = buf_detach(&b, &f->csv_len);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    market_custody_open(&f->c, "copies", 1790000000000);
    market_entity_row(f->c.store, &f->c.rng, "buyer", f->buyer2);
    product_add(f);
    dataset(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    market_custody_close(&f->c);
    mem_free(f->csv);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static struct delivery_actor as(const char *id)
{
    struct delivery_actor a = {id, DELIVERY_ROLE_ENTITY, 1};
    return a;
}

static int64_t events(struct fixture *f)
{
    int64_t n = 0;
    assert_int_equal(store_event_count(f->c.store, &n, NULL), ERR_OK);
    return n;
}

/* The type and leaf of event seq (the leaf is caller-freed). */
static char *event_leaf(struct fixture *f, int64_t seq, const char *type)
{
    struct store_event *evs = NULL;
    size_t n = 0;
    assert_int_equal(store_event_range(f->c.store, seq, 1, &evs, &n, NULL), ERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(evs[0].type, type);
    char *leaf = strdup(evs[0].leaf);
    store_event_release(&evs[0]);
    mem_free(evs);
    return leaf;
}

/* Uploads data through the whole protocol as the provider. */
static void upload(struct fixture *f, const void *data, size_t len, const char *name,
                   struct store_object *o)
{
    char sha[STORE_HASH_HEX_MAX];
    assert_int_equal(delivery__sha256_hex(len > 0 ? data : "", len, sha, NULL), ERR_OK);
    struct delivery_upload_request r = {f->product, NULL, name, (int64_t)len, sha, 0};
    struct delivery_actor who = as(f->c.provider);
    struct store_upload u;
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_upload_start(&f->c.d, &who, &r, &u, &err), ERR_OK, &err, NULL);
    assert_int_equal(u.chunk_count, 1);
    struct store_upload_chunk c;
    int again = 0;
    expect(delivery_upload_chunk(&f->c.d, &who, u.id, 0, data, len, sha, &c, &again, &err), ERR_OK,
           &err, NULL);
    expect(delivery_upload_complete(&f->c.d, &who, u.id, o, &err), ERR_OK, &err, NULL);
}

static void upload_csv(struct fixture *f, struct store_object *o)
{
    upload(f, f->csv, f->csv_len, "usage.csv", o);
    assert_string_equal(o->format, "csv");
    assert_int_equal(o->rows, ROWS);
}

static void declare(struct fixture *f, const char *object_id, const char *text,
                    struct store_fingerprint *out)
{
    json_t *decl = json_loads(text, 0, NULL);
    assert_non_null(decl);
    struct delivery_actor who = as(f->c.provider);
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_fp_declare(&f->c.d, &who, object_id, decl, out, &err), ERR_OK, &err, NULL);
    json_decref(decl);
}

/* What a download token names, as delivery_copy_get reads it. */
static struct store_download_token token_for(struct fixture *f, const char *contract_id,
                                             const char *buyer, const struct store_object *o)
{
    struct store_download_token t;
    memset(&t, 0, sizeof(t));
    id_new(&f->c.rng, "dtk", t.id);
    snprintf(t.contract_id, sizeof(t.contract_id), "%s", contract_id);
    snprintf(t.revision_id, sizeof(t.revision_id), "%s", o->revision_id);
    snprintf(t.object_id, sizeof(t.object_id), "%s", o->id);
    snprintf(t.buyer_id, sizeof(t.buyer_id), "%s", buyer);
    return t;
}

/* The buyer's copy under contract_id, and its bytes (caller frees *data with free). */
static void copy_of(struct fixture *f, const char *contract_id, const char *buyer,
                    const struct store_object *src, struct store_object *copy, int *made,
                    char **data)
{
    struct store_download_token t = token_for(f, contract_id, buyer, src);
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_copy_get(&f->c.d, &t, src, copy, made, &err), ERR_OK, &err, NULL);
    *data = malloc((size_t)copy->size + 1);
    struct delivery_object_file *file = NULL;
    expect(delivery_object_open(&f->c.d, copy, &file, &err), ERR_OK, &err, NULL);
    if (copy->size > 0) {
        expect(delivery_object_read(file, 0, *data, (size_t)copy->size, &err), ERR_OK, &err, NULL);
    }
    delivery_object_close(file);
    (*data)[copy->size] = '\0';
    char sha[STORE_HASH_HEX_MAX];
    assert_int_equal(delivery__sha256_hex(*data, (size_t)copy->size, sha, NULL), ERR_OK);
    assert_string_equal(sha, copy->sha256); /* the record says what the bytes are */
}

static enum err count_row(void *ctx, const struct store_value *cols, size_t ncols,
                          struct errbuf *err)
{
    (void)err;
    assert_int_equal(ncols, 1);
    assert_int_equal(cols[0].type, STORE_INT);
    *(int64_t *)ctx = cols[0].i;
    return ERR_OK;
}

static int64_t rows_of(struct fixture *f, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    int64_t n = -1;
    assert_int_equal(store_query(f->c.store, sql, NULL, 0, count_row, &n, NULL, NULL), ERR_OK);
    return n;
}

/* Hashes every value of a query's rows into the BLAKE2b state ctx. */
static enum err digest_row(void *ctx, const struct store_value *cols, size_t ncols,
                           struct errbuf *err)
{
    (void)err;
    crypto_generichash_state *h = ctx;
    for (size_t i = 0; i < ncols; i++) {
        unsigned char tag = (unsigned char)cols[i].type;
        crypto_generichash_update(h, &tag, 1);
        if (cols[i].type == STORE_INT) {
            crypto_generichash_update(h, (const unsigned char *)&cols[i].i, sizeof(cols[i].i));
        } else if (cols[i].type == STORE_TEXT) {
            uint64_t len = cols[i].len;
            crypto_generichash_update(h, (const unsigned char *)&len, sizeof(len));
            crypto_generichash_update(h, (const unsigned char *)cols[i].s, cols[i].len);
        }
    }
    return ERR_OK;
}

/* What a refused call must leave alone: every row of the delivery tables and of the log,
 * and every file under the data directory. */
struct snapshot {
    int64_t events;
    int64_t copies;
    int64_t fingerprints;
    unsigned char tables[32];
    unsigned char files[32];
};

static void files_digest(const char *dir, crypto_generichash_state *h)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort); /* sorted: the digest is of a set */
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        struct stat st;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0 && stat(path, &st) == 0) {
            crypto_generichash_update(h, (const unsigned char *)name, strlen(name) + 1);
            if (S_ISDIR(st.st_mode)) {
                files_digest(path, h);
            } else {
                char *data = NULL;
                size_t len = 0;
                assert_int_equal(file_read(path, 64u << 20, &data, &len, NULL), ERR_OK);
                crypto_generichash_update(h, (const unsigned char *)data, len);
                mem_free(data);
            }
        }
        free(names[i]);
    }
    free(names);
}

static void snap(struct fixture *f, struct snapshot *s)
{
    static const char *const tables[] = {"events", "objects", "object_fingerprints", "buyer_copies",
                                         "download_tokens"};
    s->events = events(f);
    s->copies = rows_of(f, "buyer_copies");
    s->fingerprints = rows_of(f, "object_fingerprints");
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, sizeof(s->tables));
    for (size_t i = 0; i < ARRAY_LEN(tables); i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT * FROM %s ORDER BY 1", tables[i]);
        assert_int_equal(store_query(f->c.store, sql, NULL, 0, digest_row, &h, NULL, NULL), ERR_OK);
    }
    crypto_generichash_final(&h, s->tables, sizeof(s->tables));
    crypto_generichash_init(&h, NULL, 0, sizeof(s->files));
    files_digest(f->c.dir, &h);
    crypto_generichash_final(&h, s->files, sizeof(s->files));
}

static void snap_same(struct fixture *f, const struct snapshot *before, const char *what)
{
    struct snapshot now;
    snap(f, &now);
    if (now.events != before->events || now.copies != before->copies ||
        now.fingerprints != before->fingerprints) {
        fail_msg("%s: events %lld -> %lld, copies %lld -> %lld, declarations %lld -> %lld", what,
                 (long long)before->events, (long long)now.events, (long long)before->copies,
                 (long long)now.copies, (long long)before->fingerprints,
                 (long long)now.fingerprints);
    }
    if (memcmp(now.tables, before->tables, sizeof(now.tables)) != 0) {
        fail_msg("%s: a row changed", what);
    }
    if (memcmp(now.files, before->files, sizeof(now.files)) != 0) {
        fail_msg("%s: the data directory changed", what);
    }
}

/* ---- comparing a copy with the original, independently of the tabular reader ---- */

/* The fields of one line of the dataset (no quoting), written into cells (NUL-separated). */
static size_t split_line(const char *line, size_t len, char *copy, const char *cells[8])
{
    memcpy(copy, line, len);
    copy[len] = '\0';
    size_t n = 0;
    cells[n++] = copy;
    for (size_t i = 0; i < len && n < 8; i++) {
        if (copy[i] == ',') {
            copy[i] = '\0';
            cells[n++] = copy + i + 1;
        }
    }
    return n;
}

/* "12.34" -> 1234: the value in units of its last place. */
static long long units(const char *v)
{
    long long n = 0;
    int neg = *v == '-';
    for (const char *p = v + neg; *p != '\0'; p++) {
        if (*p != '.') {
            n = n * 10 + (*p - '0');
        }
    }
    return neg ? -n : n;
}

static int decimals_of(const char *v)
{
    const char *dot = strchr(v, '.');
    return dot == NULL ? 0 : (int)strlen(dot + 1);
}

/* 1 when b is a with its one Road / Rd. swapped for the other. */
static int spelling_swapped(const char *a, const char *b)
{
    char want[128];
    const char *road = strstr(a, "Road");
    const char *rd = strstr(a, "Rd.");
    if (road != NULL) {
        snprintf(want, sizeof(want), "%.*sRd.%s", (int)(road - a), a, road + 4);
    } else if (rd != NULL) {
        snprintf(want, sizeof(want), "%.*sRoad%s", (int)(rd - a), a, rd + 3);
    } else {
        return 0;
    }
    return strcmp(want, b) == 0;
}

/* Checks copy against the original cell by cell; returns how many cells differ. */
static uint64_t changed_within_tolerance(const char *orig, size_t orig_len, const char *copy,
                                         size_t copy_len)
{
    uint64_t changed = 0;
    size_t i = 0, j = 0, line = 0;
    char a[256], b[256];
    while (i < orig_len && j < copy_len) {
        const char *ea = memchr(orig + i, '\n', orig_len - i);
        const char *eb = memchr(copy + j, '\n', copy_len - j);
        assert_non_null(ea);
        assert_non_null(eb);
        size_t la = (size_t)(ea - (orig + i)), lb = (size_t)(eb - (copy + j));
        assert_true(la < sizeof(a) && lb < sizeof(b));
        const char *x[8], *y[8];
        assert_int_equal(split_line(orig + i, la, a, x), 6);
        assert_int_equal(split_line(copy + j, lb, b, y), 6);
        for (size_t c = 0; c < 6; c++) {
            if (strcmp(x[c], y[c]) == 0) {
                continue;
            }
            changed++;
            int ok = 0;
            if (line > 0 && (c == 2 || c == 3)) {
                /* a digit: one unit of its declared place, the places kept */
                long long d = units(y[c]) - units(x[c]);
                ok = (d == 1 || d == -1) && decimals_of(x[c]) == (c == 2 ? 2 : 1) &&
                     decimals_of(y[c]) == decimals_of(x[c]);
            } else if (line > 0 && c == 4) {
                ok = spelling_swapped(x[c], y[c]);
            }
            if (!ok) {
                fail_msg("line %zu column %zu: '%s' became '%s'", line + 1, c, x[c], y[c]);
            }
        }
        i += la + 1;
        j += lb + 1;
        line++;
    }
    assert_int_equal(i, orig_len); /* the same number of lines */
    assert_int_equal(j, copy_len);
    assert_int_equal(line, ROWS + 1);
    return changed;
}

/* Every column of two rows, one by one. */
static void fp_same(const struct store_fingerprint *a, const struct store_fingerprint *b)
{
    assert_string_equal(a->object_id, b->object_id);
    assert_string_equal(a->declaration, b->declaration);
    assert_int_equal(a->code_length, b->code_length);
    assert_int_equal(a->mark_per_mille, b->mark_per_mille);
    assert_string_equal(a->cutoff, b->cutoff);
    assert_int_equal(a->admissible_cells, b->admissible_cells);
    assert_string_equal(a->actor, b->actor);
    assert_int_equal(a->declared_ms, b->declared_ms);
    assert_int_equal(a->log_index, b->log_index);
}

static void copy_same(const struct store_buyer_copy *a, const struct store_buyer_copy *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->contract_id, b->contract_id);
    assert_string_equal(a->object_id, b->object_id);
    assert_string_equal(a->buyer_id, b->buyer_id);
    assert_int_equal(a->fingerprinted, b->fingerprinted);
    assert_int_equal(a->size, b->size);
    assert_string_equal(a->sha256, b->sha256);
    assert_string_equal(a->format, b->format);
    assert_string_equal(a->blob, b->blob);
    assert_string_equal(a->wrapped_key, b->wrapped_key);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_int_equal(a->log_index, b->log_index);
}

/* ---- declarations ---- */

static void test_copies__declare_records(void **state)
{
    struct fixture *f = *state;
    struct store_object o;
    upload_csv(f, &o);
    int64_t before = events(f);
    struct store_fingerprint *fp = calloc(1, sizeof(*fp));
    declare(f, o.id, DECL, fp);
    assert_string_equal(fp->object_id, o.id);
    assert_string_equal(fp->actor, f->c.provider);
    assert_int_equal(fp->admissible_cells, (int64_t)f->admissible);
    struct delivery_fp_params p;
    delivery_fp_params_default(&p, f->admissible);
    assert_int_equal(fp->code_length, p.code_length);
    assert_int_equal(fp->mark_per_mille, p.mark_per_mille);
    assert_true(fabs(strtod(fp->cutoff, NULL) - p.cutoff) < 1e-15);
    /* Stored compact with sorted keys, as delivery_fp_decl_parse reads it back. */
    assert_non_null(strstr(fp->declaration, "{\"columns\":[{\"decimals\":2,\"kind\":\"digit\""));
    assert_int_equal(events(f), before + 1);
    assert_int_equal(fp->log_index, before);
    char *leaf = event_leaf(f, before, "object.fingerprint_declared");
    assert_non_null(strstr(leaf, o.sha256));
    char cells[64];
    snprintf(cells, sizeof(cells), "\"admissible_cells\":%llu", (unsigned long long)f->admissible);
    assert_non_null(strstr(leaf, cells));
    free(leaf);
    struct store_fingerprint *got = calloc(1, sizeof(*got));
    assert_int_equal(store_fingerprint_get(f->c.store, o.id, got, NULL), ERR_OK);
    fp_same(got, fp);
    /* Until a buyer has a copy, a declaration may be replaced: one row, the new one. */
    declare(f, o.id, "{\"columns\": [{\"name\": \"kwh\", \"kind\": \"digit\"}]}", fp);
    assert_int_equal(fp->admissible_cells, ROWS);
    assert_int_equal(rows_of(f, "object_fingerprints"), 1);
    assert_int_equal(store_fingerprint_get(f->c.store, o.id, got, NULL), ERR_OK);
    assert_string_equal(got->declaration, "{\"columns\":[{\"kind\":\"digit\",\"name\":\"kwh\"}]}");
    assert_int_equal(events(f), before + 2);
    free(got);
    free(fp);
}

/* A declaration whose compact JSON is over STORE_FP_DECL_MAX: two spelling columns of 64
 * groups of 8 spellings of 64 bytes, valid in every other way and fitting the file. */
static char *declaration_too_long(void)
{
    json_t *columns = json_array();
    const char *names[] = {"district", "note"};
    for (int c = 0; c < 2; c++) {
        json_t *groups = json_array();
        if (c == 0) {
            json_array_append_new(groups, json_pack("[s, s]", "Road", "Rd."));
        }
        for (int g = json_array_size(groups); g < DELIVERY_FP_GROUPS_MAX; g++) {
            json_t *group = json_array();
            for (int k = 0; k < DELIVERY_FP_GROUP_SIZE_MAX; k++) {
                char s[DELIVERY_FP_VARIANT_BYTES_MAX + 1];
                int n = snprintf(s, sizeof(s), "c%d-g%02d-v%d-", c, g, k);
                memset(s + n, 'x', sizeof(s) - 1 - (size_t)n);
                s[DELIVERY_FP_VARIANT_BYTES_MAX] = '\0';
                json_array_append_new(group, json_string(s));
            }
            json_array_append_new(groups, group);
        }
        json_array_append_new(columns, json_pack("{s:s, s:s, s:o}", "name", names[c], "kind",
                                                 "spelling", "variants", groups));
    }
    json_t *decl = json_pack("{s:[s, s], s:o}", "key", "meter_id", "day", "columns", columns);
    char *text = json_dumps(decl, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(decl);
    assert_true(strlen(text) >= STORE_FP_DECL_MAX);
    return text;
}

static void test_copies__declare_refusals(void **state)
{
    struct fixture *f = *state;
    struct store_object o, opaque, big;
    upload_csv(f, &o);
    unsigned char bytes[3000];
    randombytes_buf(bytes, sizeof(bytes));
    upload(f, bytes, sizeof(bytes), "report.bin", &opaque);
    assert_string_equal(opaque.format, "opaque");
    /* A tabular object over the in-memory bound (its row only: refused before any read). */
    big = o;
    id_new(&f->c.rng, "obj", big.id);
    big.size = DELIVERY_FP_OBJECT_BYTES_MAX + 1;
    assert_int_equal(store_object_insert(f->c.store, &big, NULL), ERR_OK);
    char *too_long = declaration_too_long();
    struct delivery_actor prov = as(f->c.provider), other = as(f->c.other);
    struct delivery_actor op = {"ent_operator", DELIVERY_ROLE_OPERATOR, 1};
    const struct {
        const struct delivery_actor *who;
        const char *object_id;
        const char *decl; /* NULL: JSON null */
        enum err want;
        const char *field;
    } cases[] = {
        {&prov, o.id, NULL, ERR_INVALID, "fingerprint"},
        {&prov, o.id, "[1, 2]", ERR_INVALID, "fingerprint"},
        {&prov, o.id, "{\"columns\": [{\"name\": \"kwh\", \"kind\": \"colour\"}]}", ERR_INVALID,
         "columns[0].kind"},
        {&prov, o.id, "{\"columns\": [{\"name\": \"kwh\", \"kind\": \"digit\"}], \"colour\": 1}",
         ERR_INVALID, "colour"},
        {&prov, o.id,
         "{\"key\": [\"nope\"], \"columns\": [{\"name\": \"kwh\", \"kind\": \"digit\"}]}",
         ERR_INVALID, "key"},
        /* Marked columns the file lacks, or whose values carry no mark. */
        {&prov, o.id, "{\"columns\": [{\"name\": \"watts\", \"kind\": \"digit\"}]}", ERR_INVALID,
         "columns"},
        {&prov, o.id, "{\"columns\": [{\"name\": \"note\", \"kind\": \"digit\"}]}", ERR_INVALID,
         "columns"},
        {&prov, opaque.id, DECL, ERR_INVALID, "format"},
        {&prov, big.id, DECL, ERR_LIMIT, "size"},
        {&prov, o.id, too_long, ERR_LIMIT, "fingerprint"},
        {&prov, "obj_aaaaaaaaaaaaaaaaaaaa", DECL, ERR_NOT_FOUND, "id"},
        {&prov, "not-an-object", DECL, ERR_INVALID, "id"},
        {&other, o.id, DECL, ERR_NOT_FOUND, "id"},
        {&op, o.id, DECL, ERR_FORBIDDEN, "id"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        json_t *decl = cases[i].decl != NULL ? json_loads(cases[i].decl, 0, NULL) : json_null();
        assert_non_null(decl);
        struct snapshot s;
        snap(f, &s);
        struct store_fingerprint *out = calloc(1, sizeof(*out));
        struct errbuf err;
        errbuf_init(&err);
        enum err rc =
            delivery_fp_declare(&f->c.d, cases[i].who, cases[i].object_id, decl, out, &err);
        if (rc != cases[i].want ||
            (cases[i].field != NULL && strcmp(err.field, cases[i].field) != 0)) {
            fail_msg("case %zu: got %s (field '%s': %s), wanted %s (field '%s')", i, err_name(rc),
                     err.field, err.msg, err_name(cases[i].want),
                     cases[i].field != NULL ? cases[i].field : "");
        }
        snap_same(f, &s, err.msg);
        json_decref(decl);
        free(out);
    }
    free(too_long);
    /* Once a buyer has a copy the tolerance is fixed: the same or another declaration is
     * refused, and the stored one (and the copy) stay. */
    struct store_fingerprint *fp = calloc(1, sizeof(*fp));
    declare(f, o.id, DECL, fp);
    struct store_object copy;
    int made = 0;
    char *data = NULL;
    copy_of(f, "ctr_aaaaaaaaaaaaaaaaaaaa", f->c.buyer, &o, &copy, &made, &data);
    free(data);
    const char *again[] = {DECL, "{\"columns\": [{\"name\": \"kwh\", \"kind\": \"digit\"}]}"};
    for (size_t i = 0; i < ARRAY_LEN(again); i++) {
        json_t *decl = json_loads(again[i], 0, NULL);
        struct snapshot s;
        snap(f, &s);
        struct errbuf err;
        errbuf_init(&err);
        expect(delivery_fp_declare(&f->c.d, &prov, o.id, decl, fp, &err), ERR_BAD_STATE, &err,
               "object_id");
        snap_same(f, &s, "a declaration after a copy");
        json_decref(decl);
    }
    free(fp);
}

/* ---- buyer copies ---- */

static void test_copies__copy_within_tolerance(void **state)
{
    struct fixture *f = *state;
    struct store_object o, copy;
    upload_csv(f, &o);
    struct store_fingerprint *fp = calloc(1, sizeof(*fp));
    declare(f, o.id, DECL, fp);
    int64_t before = events(f);
    int made = 0;
    char *data = NULL;
    copy_of(f, "ctr_aaaaaaaaaaaaaaaaaaaa", f->c.buyer, &o, &copy, &made, &data);
    assert_int_equal(made, 1);
    assert_true(id_valid(copy.id, "cpy"));
    /* An object record of its own bytes, of the source's product, revision and provider. */
    assert_string_not_equal(copy.sha256, o.sha256);
    assert_string_not_equal(copy.blob, o.blob);
    assert_string_not_equal(copy.wrapped_key, o.wrapped_key);
    assert_string_equal(copy.format, "csv");
    assert_string_equal(copy.product_id, o.product_id);
    assert_string_equal(copy.revision_id, o.revision_id);
    assert_string_equal(copy.provider_id, o.provider_id);
    uint64_t changed = changed_within_tolerance(f->csv, f->csv_len, data, (size_t)copy.size);
    /* About half the admissible cells are selected and about half of those change. */
    assert_true(changed > f->admissible / 8);
    assert_true(changed < f->admissible / 2);
    /* One row and one event, in the same transaction; the event says what was made. */
    struct store_buyer_copy row;
    assert_int_equal(store_buyer_copy_get(f->c.store, "ctr_aaaaaaaaaaaaaaaaaaaa", o.id, &row, NULL),
                     ERR_OK);
    assert_string_equal(row.id, copy.id);
    assert_int_equal(row.fingerprinted, 1);
    assert_string_equal(row.buyer_id, f->c.buyer);
    assert_int_equal(row.size, copy.size);
    assert_int_equal(events(f), before + 1);
    assert_int_equal(row.log_index, before);
    char *leaf = event_leaf(f, before, "delivery.copy_made");
    char want[128];
    snprintf(want, sizeof(want), "\"cells_changed\":%llu", (unsigned long long)changed);
    assert_non_null(strstr(leaf, want));
    assert_non_null(strstr(leaf, copy.sha256));
    assert_non_null(strstr(leaf, "\"fingerprinted\":true"));
    free(leaf);
    /* Sealed at rest: no file under the data directory is named by or holds the copy. */
    char path[DELIVERY_PATH_MAX];
    assert_int_equal(delivery__object_path(&f->c.d, copy.blob, path, NULL), ERR_OK);
    char *sealed = NULL;
    size_t sealed_len = 0;
    assert_int_equal(file_read(path, 64u << 20, &sealed, &sealed_len, NULL), ERR_OK);
    assert_null(memmem(sealed, sealed_len, data + 200, 40));
    mem_free(sealed);
    free(data);
    free(fp);
}

static void test_copies__per_contract_and_stable(void **state)
{
    struct fixture *f = *state;
    struct store_object o, a, a2, b;
    upload_csv(f, &o);
    struct store_fingerprint *fp = calloc(1, sizeof(*fp));
    declare(f, o.id, DECL, fp);
    int made = 0;
    char *da = NULL, *da2 = NULL, *db = NULL;
    copy_of(f, "ctr_aaaaaaaaaaaaaaaaaaaa", f->c.buyer, &o, &a, &made, &da);
    assert_int_equal(made, 1);
    /* The same contract again: the same record and bytes, nothing written. */
    struct snapshot s;
    snap(f, &s);
    copy_of(f, "ctr_aaaaaaaaaaaaaaaaaaaa", f->c.buyer, &o, &a2, &made, &da2);
    assert_int_equal(made, 0);
    snap_same(f, &s, "a second download of the same copy");
    assert_memory_equal(&a, &a2, sizeof(a));
    assert_int_equal(a.size, a2.size);
    assert_memory_equal(da, da2, (size_t)a.size);
    /* Any range of it reads as those bytes (downloads resume with Range). */
    struct delivery_object_file *file = NULL;
    assert_int_equal(delivery_object_open(&f->c.d, &a, &file, NULL), ERR_OK);
    char part[5000];
    assert_int_equal(delivery_object_read(file, 70001, part, sizeof(part), NULL), ERR_OK);
    assert_memory_equal(part, da + 70001, sizeof(part));
    delivery_object_close(file);
    /* Another contract, even of the same buyer, gets another copy; both stay in tolerance. */
    copy_of(f, "ctr_bbbbbbbbbbbbbbbbbbbb", f->c.buyer, &o, &b, &made, &db);
    assert_int_equal(made, 1);
    assert_string_not_equal(a.id, b.id);
    assert_string_not_equal(a.sha256, b.sha256);
    assert_true(a.size != b.size || memcmp(da, db, (size_t)a.size) != 0);
    changed_within_tolerance(f->csv, f->csv_len, db, (size_t)b.size);
    assert_int_equal(rows_of(f, "buyer_copies"), 2);
    free(da);
    free(da2);
    free(db);
    free(fp);
}

static void test_copies__undeclared_served_as_is(void **state)
{
    struct fixture *f = *state;
    struct store_object csv, opaque;
    upload_csv(f, &csv);
    unsigned char *bytes = malloc(200000);
    randombytes_buf(bytes, 200000);
    upload(f, bytes, 200000, "report.bin", &opaque);
    const struct store_object *srcs[] = {&csv, &opaque};
    const void *plain[] = {f->csv, bytes};
    for (size_t i = 0; i < ARRAY_LEN(srcs); i++) {
        struct snapshot s;
        snap(f, &s);
        int64_t before = events(f);
        struct store_object copy;
        int made = 0;
        char *data = NULL;
        copy_of(f, "ctr_aaaaaaaaaaaaaaaaaaaa", f->buyer2, srcs[i], &copy, &made, &data);
        assert_int_equal(made, 1);
        /* The object's bytes in the object's file, under its key wrapped for the copy. */
        assert_int_equal(copy.size, srcs[i]->size);
        assert_memory_equal(data, plain[i], (size_t)copy.size);
        assert_string_equal(copy.sha256, srcs[i]->sha256);
        assert_string_equal(copy.blob, srcs[i]->blob);
        assert_string_not_equal(copy.wrapped_key, srcs[i]->wrapped_key);
        struct store_buyer_copy row;
        assert_int_equal(
            store_buyer_copy_get(f->c.store, "ctr_aaaaaaaaaaaaaaaaaaaa", srcs[i]->id, &row, NULL),
            ERR_OK);
        assert_int_equal(row.fingerprinted, 0);
        assert_int_equal(events(f), before + 1);
        char *leaf = event_leaf(f, before, "delivery.copy_made");
        assert_non_null(strstr(leaf, "\"fingerprinted\":false"));
        free(leaf);
        /* No new file: the copy shares the object's. */
        struct snapshot now;
        snap(f, &now);
        assert_memory_equal(now.files, s.files, sizeof(now.files));
        free(data);
    }
    free(bytes);
}

static void test_copies__copy_refusals(void **state)
{
    struct fixture *f = *state;
    struct store_object o;
    upload_csv(f, &o);
    struct store_fingerprint *fp = calloc(1, sizeof(*fp));
    declare(f, o.id, DECL, fp);
    struct store_download_token t = token_for(f, "ctr_aaaaaaaaaaaaaaaaaaaa", f->c.buyer, &o);
    struct store_object copy;
    int made = 1;
    struct snapshot s;
    struct errbuf err;
    errbuf_init(&err);
    /* Another master key: the object's key does not unwrap; nothing recorded. */
    unsigned char other[32];
    memcpy(other, f->c.master, sizeof(other));
    other[0] ^= 1;
    struct delivery_custody d2;
    assert_int_equal(delivery_custody_init(&d2, f->c.store, &f->c.clock, &f->c.rng, f->c.dir, other,
                                           1 << 22, NULL),
                     ERR_OK);
    snap(f, &s);
    expect(delivery_copy_get(&d2, &t, &o, &copy, &made, &err), ERR_CORRUPT, &err, NULL);
    assert_int_equal(made, 0);
    snap_same(f, &s, "another master key");
    delivery_custody_release(&d2);
    /* The object's file gone: nothing recorded, no copy file left behind. */
    char path[DELIVERY_PATH_MAX], moved[DELIVERY_PATH_MAX + 8];
    assert_int_equal(delivery__object_path(&f->c.d, o.blob, path, NULL), ERR_OK);
    snprintf(moved, sizeof(moved), "%s.away", path);
    assert_int_equal(rename(path, moved), 0);
    snap(f, &s);
    expect(delivery_copy_get(&f->c.d, &t, &o, &copy, &made, &err), ERR_NOT_FOUND, &err, NULL);
    snap_same(f, &s, "a missing object file");
    assert_int_equal(rename(moved, path), 0);
    /* A stored declaration that no longer parses (damage at rest): refused as corrupt. */
    struct store_fingerprint *bad = calloc(1, sizeof(*bad));
    *bad = *fp;
    snprintf(bad->declaration, sizeof(bad->declaration), "{\"columns\": [");
    assert_int_equal(store_fingerprint_put(f->c.store, bad, NULL), ERR_OK);
    snap(f, &s);
    expect(delivery_copy_get(&f->c.d, &t, &o, &copy, &made, &err), ERR_CORRUPT, &err, NULL);
    snap_same(f, &s, "a corrupt declaration");
    /* Repaired, the same token makes the copy. */
    assert_int_equal(store_fingerprint_put(f->c.store, fp, NULL), ERR_OK);
    expect(delivery_copy_get(&f->c.d, &t, &o, &copy, &made, &err), ERR_OK, &err, NULL);
    assert_int_equal(made, 1);
    free(bad);
    free(fp);
}

/* ---- traces ---- */

static enum err to_buf(void *ctx, const char *data, size_t len, struct errbuf *err)
{
    enum err rc = buf_append(ctx, data, len);
    return rc == ERR_OK ? ERR_OK : err_set(err, rc, "", "output too large");
}

/* A leak: copy with delete_pct of its rows gone, the rest shuffled, re-encoded as JSON Lines
 * (a format the provider never uploaded). Caller frees with mem_free. */
static char *damaged(const char *copy, size_t len, int delete_pct, uint64_t seed, size_t *out_len)
{
    static const char *lines[ROWS + 1];
    static size_t lens[ROWS + 1], order[ROWS];
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        const char *e = memchr(copy + i, '\n', len - i);
        assert_non_null(e);
        assert_true(n <= ROWS);
        lines[n] = copy + i;
        lens[n] = (size_t)(e - (copy + i)) + 1;
        i += lens[n];
    }
    size_t kept = 0;
    uint64_t s = seed;
    for (size_t r = 1; r < n; r++) {
        if (next_random(&s) % 100 >= (uint64_t)delete_pct) {
            order[kept++] = r;
        }
    }
    for (size_t i = kept; i > 1; i--) {
        size_t j = next_random(&s) % i;
        size_t x = order[i - 1];
        order[i - 1] = order[j];
        order[j] = x;
    }
    struct buf csv, jsonl;
    buf_init(&csv, 1 << 24);
    buf_init(&jsonl, 1 << 25);
    assert_int_equal(buf_append(&csv, lines[0], lens[0]), ERR_OK);
    for (size_t i = 0; i < kept; i++) {
        assert_int_equal(buf_append(&csv, lines[order[i]], lens[order[i]]), ERR_OK);
    }
    assert_int_equal(delivery_tabular_convert(DELIVERY_FORMAT_CSV, csv.data, csv.len,
                                              DELIVERY_FORMAT_JSONL, to_buf, &jsonl, NULL),
                     ERR_OK);
    buf_release(&csv);
    return buf_detach(&jsonl, out_len);
}

/* The original with the last digit of every kwh and peak_kw value replaced at random: marks of
 * nobody's codeword, so a file no buyer received. Caller frees with mem_free. */
static char *unmarked_variant(const struct fixture *f, size_t *out_len)
{
    char *v = mem_alloc(f->csv_len);
    memcpy(v, f->csv, f->csv_len);
    uint64_t s = 99;
    int column = 0;
    for (size_t i = 0; i < f->csv_len; i++) {
        if (v[i] == '\n') {
            column = 0;
        } else if (v[i] == ',') {
            column++;
            if ((column == 3 || column == 4) && i > 0 && v[i - 1] >= '0' && v[i - 1] <= '9') {
                v[i - 1] = (char)('0' + next_random(&s) % 10);
            }
        }
    }
    *out_len = f->csv_len;
    return v;
}

/* A trace that must succeed, with its event checked. */
static void trace(struct fixture *f, const void *data, size_t len, const char *object_id,
                  struct delivery_trace_result *r)
{
    int64_t before = events(f);
    struct errbuf err;
    errbuf_init(&err);
    expect(delivery_trace(&f->c.d, f->c.other, data, len, object_id, DELIVERY_FP_BOUND_DEFAULT, r,
                          &err),
           ERR_OK, &err, NULL);
    assert_true(id_valid(r->id, "trc"));
    assert_int_equal(events(f), before + 1);
    assert_int_equal(r->log_index, before);
    char *leaf = event_leaf(f, before, "trace.performed");
    char sha[STORE_HASH_HEX_MAX];
    assert_int_equal(delivery__sha256_hex(len > 0 ? data : "", len, sha, NULL), ERR_OK);
    assert_string_equal(r->sha256, sha);
    assert_non_null(strstr(leaf, sha));
    free(leaf);
    assert_true(r->named_count > 0 || r->reason[0] != '\0'); /* nobody named: says why */
}

static void test_copies__trace(void **state)
{
    struct fixture *f = *state;
    struct store_object o, a, b, c;
    upload_csv(f, &o);
    struct store_fingerprint *fp = calloc(1, sizeof(*fp));
    declare(f, o.id, DECL, fp);
    int made = 0;
    char *da = NULL, *db = NULL, *dc = NULL;
    copy_of(f, "ctr_aaaaaaaaaaaaaaaaaaaa", f->c.buyer, &o, &a, &made, &da);
    copy_of(f, "ctr_bbbbbbbbbbbbbbbbbbbb", f->buyer2, &o, &b, &made, &db);
    copy_of(f, "ctr_cccccccccccccccccccc", f->c.buyer, &o, &c, &made, &dc);
    struct delivery_trace_result r;
    /* (a) An exact copy names its contract by SHA-256, without reading marks. */
    trace(f, db, (size_t)b.size, NULL, &r);
    assert_int_equal(r.named_count, 1);
    assert_string_equal(r.named[0].contract_id, "ctr_bbbbbbbbbbbbbbbbbbbb");
    assert_string_equal(r.named[0].buyer_id, f->buyer2);
    assert_string_equal(r.named[0].copy_id, b.id);
    assert_string_equal(r.named[0].object_id, o.id);
    assert_int_equal(r.named[0].exact, 1);
    assert_true(r.named[0].false_accusation == 0);
    assert_true(isinf(r.named[0].log10_false_accusation) && r.named[0].log10_false_accusation < 0);
    assert_int_equal(r.objects_examined, 0);
    delivery_trace_result_release(&r);
    /* The original: nobody named, recognised as the provider's object. */
    trace(f, f->csv, f->csv_len, NULL, &r);
    assert_int_equal(r.named_count, 0);
    assert_int_equal(r.original_count, 1);
    assert_string_equal(r.originals[0], o.id);
    assert_int_equal(r.objects_examined, 1);
    delivery_trace_result_release(&r);
    /* (b) Damaged leaks (30 % of rows gone, shuffled, as JSON Lines) name their buyer only,
     * within the bound, whether the object is named or found by the file's columns. */
    const struct {
        const char *data;
        size_t len;
        const char *contract;
        const char *object_id;
    } leaks[] = {
        {da, (size_t)a.size, "ctr_aaaaaaaaaaaaaaaaaaaa", NULL},
        {dc, (size_t)c.size, "ctr_cccccccccccccccccccc", o.id},
    };
    for (size_t i = 0; i < ARRAY_LEN(leaks); i++) {
        size_t len = 0;
        char *leak = damaged(leaks[i].data, leaks[i].len, 30, 11 + i, &len);
        assert_int_equal(delivery_format_sniff(leak, len), DELIVERY_FORMAT_JSONL);
        trace(f, leak, len, leaks[i].object_id, &r);
        assert_int_equal(r.named_count, 1);
        assert_string_equal(r.named[0].contract_id, leaks[i].contract);
        assert_int_equal(r.named[0].exact, 0);
        assert_true(r.named[0].score > 0);
        assert_true(r.named[0].false_accusation <= DELIVERY_FP_BOUND_DEFAULT);
        assert_true(r.named[0].log10_false_accusation <= -9);
        assert_int_equal(r.objects_examined, 1);
        assert_int_equal(r.original_count, 0);
        delivery_trace_result_release(&r);
        mem_free(leak);
    }
    /* A file no buyer received, and one that is not tabular: nobody named, with a reason. */
    size_t len = 0;
    char *stranger = unmarked_variant(f, &len);
    trace(f, stranger, len, o.id, &r);
    assert_int_equal(r.named_count, 0);
    assert_int_equal(r.objects_examined, 1);
    delivery_trace_result_release(&r);
    mem_free(stranger);
    unsigned char noise[4096];
    randombytes_buf(noise, sizeof(noise));
    trace(f, noise, sizeof(noise), NULL, &r);
    assert_int_equal(r.named_count, 0);
    assert_non_null(strstr(r.reason, "not tabular"));
    delivery_trace_result_release(&r);
    /* An opaque object's copy is recognised only as an exact copy. */
    struct store_object opaque, oc;
    upload(f, noise, sizeof(noise), "noise.bin", &opaque);
    char *dop = NULL;
    copy_of(f, "ctr_dddddddddddddddddddd", f->buyer2, &opaque, &oc, &made, &dop);
    trace(f, dop, (size_t)oc.size, NULL, &r);
    assert_int_equal(r.named_count, 1);
    assert_string_equal(r.named[0].contract_id, "ctr_dddddddddddddddddddd");
    assert_int_equal(r.named[0].exact, 1);
    assert_int_equal(r.original_count, 1);
    assert_string_equal(r.originals[0], opaque.id);
    delivery_trace_result_release(&r);
    /* Refusals: a bound outside (0, 1), an object that is malformed, unknown or undeclared;
     * no trace is logged. (The file is the original: an exact copy's trace never reads a
     * declaration, so it does not look the object up.) */
    const struct {
        double bound;
        const char *object_id;
        const char *field;
    } refusals[] = {
        {0, NULL, "bound"},
        {1, NULL, "bound"},
        {-1e-9, NULL, "bound"},
        {NAN, NULL, "bound"},
        {1e-9, "nope", "object_id"},
        {1e-9, "obj_aaaaaaaaaaaaaaaaaaaa", "object_id"},
        {1e-9, opaque.id, "object_id"},
    };
    for (size_t i = 0; i < ARRAY_LEN(refusals); i++) {
        struct snapshot s;
        snap(f, &s);
        struct errbuf err;
        errbuf_init(&err);
        expect(delivery_trace(&f->c.d, f->c.other, f->csv, f->csv_len, refusals[i].object_id,
                              refusals[i].bound, &r, &err),
               ERR_INVALID, &err, refusals[i].field);
        assert_int_equal(r.named_count, 0);
        assert_null(r.named);
        snap_same(f, &s, err.msg);
    }
    free(dop);
    free(da);
    free(db);
    free(dc);
    free(fp);
}

/* ---- the store's rows (src/store/fingerprints.c) ---- */

/* Small distinct CSV objects. */
static void small_objects(struct fixture *f, struct store_object *o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char csv[64];
        int len = snprintf(csv, sizeof(csv), "a,b\n%zu,%zu\n", i, i * 7);
        upload(f, csv, (size_t)len, "small.csv", &o[i]);
    }
}

/* Sets a stored text column to a value one byte longer than its buffer holds. */
static void overlong(struct fixture *f, const char *table, const char *column, const char *key,
                     const char *id, size_t buffer)
{
    char *v = malloc(buffer + 1);
    memset(v, 'x', buffer);
    v[buffer] = '\0';
    char sql[160];
    snprintf(sql, sizeof(sql), "UPDATE %s SET %s = $1 WHERE %s = $2", table, column, key);
    struct store_value p[] = {store_text(v), store_text(id)};
    int64_t changes = 0;
    assert_int_equal(store_query(f->c.store, sql, p, 2, NULL, NULL, &changes, NULL), ERR_OK);
    assert_int_equal(changes, 1);
    free(v);
}

static void test_copies__store_fingerprint_rows(void **state)
{
    struct fixture *f = *state;
    struct store_object o[3];
    small_objects(f, o, 3);
    struct store_fingerprint *fp = calloc(3, sizeof(*fp));
    struct store_fingerprint *got = calloc(1, sizeof(*got));
    struct store_fingerprint *list = NULL;
    size_t n = 99;
    struct errbuf err;
    errbuf_init(&err);
    expect(store_fingerprint_get(f->c.store, o[0].id, got, &err), ERR_NOT_FOUND, &err, "id");
    expect(store_fingerprint_list(f->c.store, 10, &list, &n, &err), ERR_OK, &err, NULL);
    assert_int_equal(n, 0);
    mem_free(list);
    for (size_t i = 0; i < 3; i++) {
        memcpy(fp[i].object_id, o[i].id, ID_MAX);
        snprintf(fp[i].declaration, sizeof(fp[i].declaration), "{\"columns\":[%zu]}", i);
        fp[i].code_length = (int64_t)256 << i;
        fp[i].mark_per_mille = 500 + (int64_t)i;
        snprintf(fp[i].cutoff, sizeof(fp[i].cutoff), "%.17g", 1.0 / 300);
        fp[i].admissible_cells = ((int64_t)1 << 40) + (int64_t)i; /* past 32 bits */
        memcpy(fp[i].actor, f->c.provider, ID_MAX);
        fp[i].declared_ms = i == 1 ? 4000 : 5000; /* 0 and 2 tie: then by object id */
        fp[i].log_index = 10 + (int64_t)i;
    }
    /* The longest declaration a row holds, in multi-byte UTF-8, round trips byte for byte. */
    size_t len = 0;
    len += (size_t)snprintf(fp[0].declaration, sizeof(fp[0].declaration), "{\"用电\":\"");
    const size_t end = STORE_FP_DECL_MAX - 1 - 2; /* room for the closing "} */
    while (len + 3 <= end) {
        memcpy(fp[0].declaration + len, "电", 3);
        len += 3;
    }
    memset(fp[0].declaration + len, 'x', end - len);
    memcpy(fp[0].declaration + end, "\"}", 3);
    assert_int_equal(strlen(fp[0].declaration), STORE_FP_DECL_MAX - 1);
    for (size_t i = 0; i < 3; i++) {
        expect(store_fingerprint_put(f->c.store, &fp[i], &err), ERR_OK, &err, NULL);
    }
    for (size_t i = 0; i < 3; i++) {
        memset(got, 0x55, sizeof(*got));
        expect(store_fingerprint_get(f->c.store, o[i].id, got, &err), ERR_OK, &err, NULL);
        fp_same(got, &fp[i]);
    }
    /* Oldest first, ties by object id; at most max. */
    size_t first_tie = strcmp(o[0].id, o[2].id) < 0 ? 0 : 2;
    const size_t want[] = {1, first_tie, 2 - first_tie};
    expect(store_fingerprint_list(f->c.store, 10, &list, &n, &err), ERR_OK, &err, NULL);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        fp_same(&list[i], &fp[want[i]]);
    }
    mem_free(list);
    expect(store_fingerprint_list(f->c.store, 2, &list, &n, &err), ERR_OK, &err, NULL);
    assert_int_equal(n, 2);
    assert_string_equal(list[1].object_id, o[first_tie].id);
    mem_free(list);
    /* Put replaces the object's row. */
    snprintf(fp[1].declaration, sizeof(fp[1].declaration), "{}");
    fp[1].code_length = 8192;
    fp[1].declared_ms = 6000;
    expect(store_fingerprint_put(f->c.store, &fp[1], &err), ERR_OK, &err, NULL);
    expect(store_fingerprint_get(f->c.store, o[1].id, got, &err), ERR_OK, &err, NULL);
    fp_same(got, &fp[1]);
    assert_int_equal(rows_of(f, "object_fingerprints"), 3);
    /* Rolled back with its transaction. */
    assert_int_equal(store_tx_begin(f->c.store, NULL), ERR_OK);
    fp[2].code_length = 64;
    expect(store_fingerprint_put(f->c.store, &fp[2], &err), ERR_OK, &err, NULL);
    store_tx_rollback(f->c.store);
    expect(store_fingerprint_get(f->c.store, o[2].id, got, &err), ERR_OK, &err, NULL);
    assert_int_equal(got->code_length, 1024);
    /* A declaration of no stored object violates the reference: a conflict, nothing stored. */
    struct store_fingerprint *stray = calloc(1, sizeof(*stray));
    *stray = fp[2];
    snprintf(stray->object_id, sizeof(stray->object_id), "obj_zzzzzzzzzzzzzzzzzzzz");
    expect(store_fingerprint_put(f->c.store, stray, &err), ERR_CONFLICT, &err, NULL);
    assert_int_equal(rows_of(f, "object_fingerprints"), 3);
    /* A stored value longer than its buffer reads as corrupt, never cut. */
    overlong(f, "object_fingerprints", "cutoff", "object_id", o[2].id, STORE_FP_CUTOFF_MAX);
    expect(store_fingerprint_get(f->c.store, o[2].id, got, &err), ERR_CORRUPT, &err, NULL);
    expect(store_fingerprint_list(f->c.store, 10, &list, &n, &err), ERR_CORRUPT, &err, NULL);
    overlong(f, "object_fingerprints", "declaration", "object_id", o[0].id, STORE_FP_DECL_MAX);
    expect(store_fingerprint_get(f->c.store, o[0].id, got, &err), ERR_CORRUPT, &err, NULL);
    expect(store_fingerprint_get(f->c.store, o[1].id, got, &err), ERR_OK, &err, NULL);
    free(stray);
    free(got);
    free(fp);
}

static void test_copies__store_buyer_copy_rows(void **state)
{
    struct fixture *f = *state;
    struct store_object o[2];
    small_objects(f, o, 2);
    const char *x = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *y = "2222222222222222222222222222222222222222222222222222222222222222";
    struct {
        const char *contract;
        size_t object;
        const char *sha;
        int64_t created_ms;
    } spec[] = {
        {"ctr_aaaaaaaaaaaaaaaaaaaa", 0, x, 100},
        {"ctr_bbbbbbbbbbbbbbbbbbbb", 0, x, 300},
        {"ctr_cccccccccccccccccccc", 0, y, 200},
        {"ctr_aaaaaaaaaaaaaaaaaaaa", 1, x, 50},
    };
    struct store_buyer_copy c[4], got;
    struct errbuf err;
    errbuf_init(&err);
    for (size_t i = 0; i < 4; i++) {
        memset(&c[i], 0, sizeof(c[i]));
        id_new(&f->c.rng, "cpy", c[i].id);
        snprintf(c[i].contract_id, sizeof(c[i].contract_id), "%s", spec[i].contract);
        memcpy(c[i].object_id, o[spec[i].object].id, ID_MAX);
        memcpy(c[i].buyer_id, i % 2 ? f->buyer2 : f->c.buyer, ID_MAX);
        c[i].fingerprinted = (int64_t)(i % 2);
        c[i].size = ((int64_t)5 << 32) + (int64_t)i;
        snprintf(c[i].sha256, sizeof(c[i].sha256), "%s", spec[i].sha);
        snprintf(c[i].format, sizeof(c[i].format), i == 2 ? "opaque" : "jsonl");
        snprintf(c[i].blob, sizeof(c[i].blob), "%s", o[spec[i].object].blob);
        snprintf(c[i].wrapped_key, sizeof(c[i].wrapped_key), "%s", o[spec[i].object].wrapped_key);
        c[i].created_ms = spec[i].created_ms;
        c[i].log_index = 40 + (int64_t)i;
        expect(store_buyer_copy_insert(f->c.store, &c[i], &err), ERR_OK, &err, NULL);
    }
    for (size_t i = 0; i < 4; i++) {
        memset(&got, 0x55, sizeof(got));
        expect(store_buyer_copy_get(f->c.store, spec[i].contract, o[spec[i].object].id, &got, &err),
               ERR_OK, &err, NULL);
        copy_same(&got, &c[i]);
    }
    expect(store_buyer_copy_get(f->c.store, "ctr_bbbbbbbbbbbbbbbbbbbb", o[1].id, &got, &err),
           ERR_NOT_FOUND, &err, "id");
    /* One copy per contract and object; ids unique; objects and buyers must exist. */
    struct store_buyer_copy dup = c[0];
    id_new(&f->c.rng, "cpy", dup.id);
    expect(store_buyer_copy_insert(f->c.store, &dup, &err), ERR_CONFLICT, &err, NULL);
    dup = c[0];
    snprintf(dup.contract_id, sizeof(dup.contract_id), "ctr_eeeeeeeeeeeeeeeeeeee");
    expect(store_buyer_copy_insert(f->c.store, &dup, &err), ERR_CONFLICT, &err, NULL);
    id_new(&f->c.rng, "cpy", dup.id);
    snprintf(dup.object_id, sizeof(dup.object_id), "obj_zzzzzzzzzzzzzzzzzzzz");
    expect(store_buyer_copy_insert(f->c.store, &dup, &err), ERR_CONFLICT, &err, NULL);
    memcpy(dup.object_id, o[0].id, ID_MAX);
    snprintf(dup.buyer_id, sizeof(dup.buyer_id), "ent_zzzzzzzzzzzzzzzzzzzz");
    expect(store_buyer_copy_insert(f->c.store, &dup, &err), ERR_CONFLICT, &err, NULL);
    assert_int_equal(rows_of(f, "buyer_copies"), 4);
    /* By SHA-256 and by object: oldest first, at most max, nothing for others. */
    struct store_buyer_copy *list = NULL;
    size_t n = 0;
    const struct {
        int by_sha;
        const char *key;
        size_t max;
        size_t want[4];
        size_t count;
    } lists[] = {
        {1, x, 10, {3, 0, 1}, 3},
        {1, x, 2, {3, 0}, 2},
        {1, y, 10, {2}, 1},
        {1, "3333333333333333333333333333333333333333333333333333333333333333", 10, {0}, 0},
        {0, o[0].id, 10, {0, 2, 1}, 3},
        {0, o[0].id, 1, {0}, 1},
        {0, o[1].id, 10, {3}, 1},
        {0, "obj_zzzzzzzzzzzzzzzzzzzz", 10, {0}, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(lists); i++) {
        enum err rc = lists[i].by_sha ? store_buyer_copy_find_sha(f->c.store, lists[i].key,
                                                                  lists[i].max, &list, &n, &err)
                                      : store_buyer_copy_list_object(f->c.store, lists[i].key,
                                                                     lists[i].max, &list, &n, &err);
        expect(rc, ERR_OK, &err, NULL);
        assert_int_equal(n, lists[i].count);
        for (size_t k = 0; k < n; k++) {
            copy_same(&list[k], &c[lists[i].want[k]]);
        }
        mem_free(list);
        list = NULL;
    }
    /* Objects by the SHA-256 of their plaintext: identical uploads are two objects. */
    struct store_object same[2];
    upload(f, "k,v\n1,2\n", 8, "a.csv", &same[0]);
    upload(f, "k,v\n1,2\n", 8, "b.csv", &same[1]);
    char(*ids)[ID_MAX] = NULL;
    expect(store_object_ids_by_sha(f->c.store, same[0].sha256, 10, &ids, &n, &err), ERR_OK, &err,
           NULL);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], same[0].id);
    assert_string_equal(ids[1], same[1].id);
    mem_free(ids);
    expect(store_object_ids_by_sha(f->c.store, same[0].sha256, 1, &ids, &n, &err), ERR_OK, &err,
           NULL);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], same[0].id);
    mem_free(ids);
    ids = NULL;
    expect(store_object_ids_by_sha(f->c.store, x, 10, &ids, &n, &err), ERR_OK, &err, NULL);
    assert_int_equal(n, 0);
    mem_free(ids);
    /* A stored value longer than its buffer reads as corrupt, never cut, wherever it is read. */
    overlong(f, "buyer_copies", "format", "id", c[2].id, STORE_FORMAT_MAX);
    expect(store_buyer_copy_get(f->c.store, spec[2].contract, o[0].id, &got, &err), ERR_CORRUPT,
           &err, NULL);
    expect(store_buyer_copy_list_object(f->c.store, o[0].id, 10, &list, &n, &err), ERR_CORRUPT,
           &err, NULL);
    expect(store_buyer_copy_find_sha(f->c.store, y, 10, &list, &n, &err), ERR_CORRUPT, &err, NULL);
    expect(store_buyer_copy_get(f->c.store, spec[0].contract, o[0].id, &got, &err), ERR_OK, &err,
           NULL);
    overlong(f, "objects", "id", "id", same[1].id, ID_MAX);
    expect(store_object_ids_by_sha(f->c.store, same[0].sha256, 10, &ids, &n, &err), ERR_CORRUPT,
           &err, NULL);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_copies__declare_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies__declare_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies__copy_within_tolerance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies__per_contract_and_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies__undeclared_served_as_is, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies__copy_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies__trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies__store_fingerprint_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copies__store_buyer_copy_rows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
