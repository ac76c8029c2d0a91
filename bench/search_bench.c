/*
 * search_bench.c: catalogue search latency at scale (docs/decisions/0005-search.md).
 *
 * Builds a catalogue of N listings (default 100,000) in a SQLite store in DIR, with synthetic
 * bilingual documents, then times queries through core_listing_search (validation, the
 * backend's candidate query under the 2,000-candidate guard, facets, ranking, reading the page
 * back) beside the bare FTS5 query a hand-written search would run on the same index: the
 * ranked top 20 of every match (`ORDER BY rank LIMIT 20`), the ceiling a layer over FTS5
 * could hope to reach. Queries cover selective and very common terms, Chinese of one, two and
 * four characters, and English. Prints p50 and p99 of each (wall time, and the p99 of the
 * thread's CPU time, which other jobs on the machine do not inflate) and the ratio of the
 * wall-time p99s. The bare query runs min(ROUNDS, 100) rounds: it takes 0.1-0.4 s each.
 *
 *   search_bench DIR|postgres://URL [LISTINGS] [ROUNDS]
 *
 * Env: SEARCH_BENCH_QUERIES="data,企业数据" runs only the queries whose q is listed (for
 * profiling one path: perf record --call-graph dwarf build/bench/search_bench ...);
 * SEARCH_BENCH_BARE=0 skips the bare query (minutes for the common terms).
 * SEARCH_BENCH_SLOW_MS=N prints each round of ours slower than N ms to stderr (when, wall, CPU,
 * page faults).
 *
 * With a PostgreSQL URL the catalogue is built in (and reused from) that database, and the
 * bare query is the hand-written pg_trgm one (see bare_make).
 *
 * The documents: a title of two Chinese and two English words from a vocabulary of 60 each,
 * a body of 25 Chinese and 15 English words; "企业数据" and "data" are in 80% of the bodies,
 * "方言语音" and "dialect" in 0.1%. The store is built once per DIR and reused.
 */
#include "util/compat.h"
#include "core/core.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define PAGE 20
#define BATCH 5000
/* Rounds of the bare query at most (each ranks every match). */
#define BARE_ROUNDS 100

static const char *const zh[] = {
    "企业", "用电", "画像", "停车", "泊位", "专利", "征信", "语音", "人脸", "比对", "信贷", "风险",
    "交通", "气象", "医疗", "农业", "物流", "零售", "金融", "电力", "能源", "客户", "评分", "预测",
    "监测", "分析", "统计", "报告", "指数", "地图", "导航", "港口", "航运", "仓储", "电商", "消费",
    "税务", "司法", "工商", "社保", "公积", "水务", "燃气", "通信", "基站", "卫星", "遥感", "土地",
    "房产", "教育", "就业", "人口", "旅游", "餐饮", "车辆", "保险", "证券", "债券", "汇率", "价格",
};
static const char *const en[] = {
    "enterprise", "electricity", "profile",   "parking",   "space",    "patent",     "credit",
    "speech",     "face",        "matching",  "loan",      "risk",     "traffic",    "weather",
    "health",     "farm",        "logistics", "retail",    "finance",  "power",      "energy",
    "customer",   "score",       "forecast",  "monitor",   "analysis", "statistics", "report",
    "index",      "map",         "route",     "port",      "shipping", "storage",    "commerce",
    "spending",   "tax",         "court",     "registry",  "pension",  "housing",    "water",
    "gas",        "telecom",     "tower",     "satellite", "imagery",  "land",       "property",
    "school",     "jobs",        "census",    "tourism",   "dining",   "vehicle",    "insurance",
    "securities", "bonds",       "exchange",  "prices",
};
_Static_assert(sizeof(zh) / sizeof(zh[0]) == 60, "60 Chinese words");
_Static_assert(sizeof(en) / sizeof(en[0]) == 60, "60 English words");

static const char *const categories[] = {"credit_inquiry", "finance",    "transport",
                                         "energy",         "healthcare", "ai_training_data",
                                         "geospatial",     "retail",     "patents"};
static const char *const kinds[] = {"dataset", "api", "report", "model", "compute"};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t pick(size_t n)
{
    return (size_t)(next_random() % n);
}

static void die(const char *what, enum err rc, const struct errbuf *err)
{
    fprintf(stderr, "search_bench: %s: %s: %s\n", what, err_name(rc), err->msg);
    exit(1);
}

/* The parents every listing row needs (foreign keys): one provider, one product, one
 * revision. */
static void parents_make(struct store *s)
{
    struct errbuf err;
    errbuf_init(&err);
    struct store_entity e;
    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "ent_bench000000000000001");
    snprintf(e.kind, sizeof(e.kind), "provider");
    snprintf(e.status, sizeof(e.status), "verified");
    snprintf(e.name, sizeof(e.name), "基准数据公司 Bench Data Co");
    snprintf(e.country, sizeof(e.country), "CN");
    enum err rc = store_entity_insert(s, &e, &err);
    struct store_product p;
    memset(&p, 0, sizeof(p));
    snprintf(p.id, sizeof(p.id), "prd_bench000000000000001");
    snprintf(p.provider_id, sizeof(p.provider_id), "%s", e.id);
    snprintf(p.kind, sizeof(p.kind), "dataset");
    p.latest_revision = 1;
    snprintf(p.latest_revision_id, sizeof(p.latest_revision_id), "rev_bench000000000000001");
    snprintf(p.title, sizeof(p.title), "bench");
    snprintf(p.category, sizeof(p.category), "energy");
    snprintf(p.classification, sizeof(p.classification), "corporate");
    snprintf(p.sensitivity, sizeof(p.sensitivity), "general");
    if (rc == ERR_OK) {
        rc = store_product_insert(s, &p, &err);
    }
    struct store_revision r;
    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "%s", p.latest_revision_id);
    snprintf(r.product_id, sizeof(r.product_id), "%s", p.id);
    r.number = 1;
    snprintf(r.provider_id, sizeof(r.provider_id), "%s", e.id);
    snprintf(r.kind, sizeof(r.kind), "dataset");
    snprintf(r.title, sizeof(r.title), "bench");
    snprintf(r.category, sizeof(r.category), "energy");
    snprintf(r.classification, sizeof(r.classification), "corporate");
    snprintf(r.sensitivity, sizeof(r.sensitivity), "general");
    snprintf(r.actor, sizeof(r.actor), "%s", e.id);
    r.metadata = (char *)"{}";
    if (rc == ERR_OK) {
        rc = store_revision_insert(s, &r, &err);
    }
    if (rc != ERR_OK) {
        die("cannot make the parent rows", rc, &err);
    }
}

static void document(size_t i, struct buf *title, struct buf *body)
{
    buf_reset(title);
    buf_reset(body);
    (void)buf_appendf(title, "%s%s %s %s #%zu", zh[pick(60)], zh[pick(60)], en[pick(60)],
                      en[pick(60)], i);
    for (int w = 0; w < 25; w++) {
        (void)buf_appendf(body, "%s%s", zh[pick(60)], w % 5 == 4 ? "，" : "");
    }
    (void)buf_append_str(body, "\n");
    for (int w = 0; w < 15; w++) {
        (void)buf_appendf(body, "%s ", en[pick(60)]);
    }
    if (pick(100) < 80) {
        (void)buf_append_str(body, "\n企业数据 data");
    }
    if (pick(1000) == 0) {
        (void)buf_append_str(body, "\n方言语音 dialect");
    }
    (void)buf_append_str(body, "\n基准数据公司 Bench Data Co");
}

static void listing_row(size_t i, struct store_listing *l)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->id, sizeof(l->id), "lst_b%019zu", i);
    snprintf(l->product_id, sizeof(l->product_id), "prd_bench000000000000001");
    snprintf(l->revision_id, sizeof(l->revision_id), "rev_bench000000000000001");
    snprintf(l->provider_id, sizeof(l->provider_id), "ent_bench000000000000001");
    snprintf(l->status, sizeof(l->status), "active");
    snprintf(l->board, sizeof(l->board), "%s", pick(20) == 0 ? "international" : "main");
    snprintf(l->category, sizeof(l->category), "%s", categories[pick(ARRAY_LEN(categories))]);
    snprintf(l->kind, sizeof(l->kind), "%s", kinds[pick(ARRAY_LEN(kinds))]);
    snprintf(l->classification, sizeof(l->classification), "corporate");
    snprintf(l->price_model, sizeof(l->price_model), "fixed");
    snprintf(l->currency, sizeof(l->currency), "CNY");
    l->price = (int64_t)(10000 + pick(10000000));
    l->price_json = (char *)"{}";
    l->terms_json = (char *)"{}";
    l->delivery = (int64_t)(1 + pick(7));
    l->ref_low = -1;
    l->ref_high = -1;
    l->docid = (int64_t)i;
    l->created_ms = 1795305540000 + (int64_t)i;
    l->updated_ms = l->created_ms;
}

static void catalogue_build(struct store *s, size_t n)
{
    struct errbuf err;
    errbuf_init(&err);
    parents_make(s);
    struct buf title, body;
    buf_init(&title, 4096);
    buf_init(&body, 16384);
    int64_t t0 = clock_monotonic_ns();
    for (size_t i = 0; i < n; i++) {
        if (i % BATCH == 0) {
            enum err rc = store_tx_begin(s, &err);
            if (rc != ERR_OK) {
                die("begin", rc, &err);
            }
        }
        struct store_listing l;
        listing_row(i, &l);
        document(i, &title, &body);
        snprintf(l.title, sizeof(l.title), "%s", title.data);
        struct store_listing_doc doc = {title.data, body.data};
        enum err rc = store_listing_insert(s, &l, NULL, 0, &doc, &err);
        if (rc == ERR_OK && (i % BATCH == BATCH - 1 || i == n - 1)) {
            rc = store_tx_commit(s, &err);
        }
        if (rc != ERR_OK) {
            die("insert", rc, &err);
        }
    }
    buf_release(&title);
    buf_release(&body);
    fprintf(stderr, "built %zu listings in %.1f s\n", n, (double)(clock_monotonic_ns() - t0) / 1e9);
}

static enum err count_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    (void)err;
    *(int64_t *)ctx = n == 1 && v[0].type == STORE_INT ? v[0].i : -1;
    return ERR_OK;
}

static enum err nothing_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    (void)v;
    (void)n;
    (void)err;
    (*(int64_t *)ctx)++;
    return ERR_OK;
}

/* CPU time of this thread: the work a query did, whatever else the machine ran meanwhile. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Page faults of this thread so far (minor and major). */
static long faults(void)
{
    struct rusage u;
    getrusage(RUSAGE_THREAD, &u);
    return u.ru_minflt + u.ru_majflt;
}

static int compare_ns(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

struct query {
    const char *label;
    const char *q;
    const char *bare_table; /* the FTS5 table a hand-written query would use */
    const char *bare_match;
};

static const struct query queries[] = {
    {"Chinese, selective, 4 chars", "方言语音", "listing_fts", "\"方言语音\""},
    {"Chinese, common, 4 chars", "企业数据", "listing_fts", "\"企业数据\""},
    {"Chinese, common, 2 chars", "数据", "listing_grams", "\"数据\" *"},
    {"Chinese, 2 chars", "用电", "listing_grams", "\"用电\" *"},
    {"Chinese, 1 char", "电", "listing_grams", "\"电\" *"},
    {"English, selective", "dialect", "listing_fts", "\"dialect\""},
    {"English, common", "data", "listing_fts", "\"data\""},
    {"English, two words", "parking credit", "listing_fts", "\"parking\" AND \"credit\""},
};

/*
 * On PostgreSQL the bare query is the hand-written pg_trgm one over the same GIN index: every
 * match of every word (`terms LIKE '%word%'`, the words spelt as search_pg.c spells them),
 * scored by where the words are as the catalogue scores them, the top 20. Like the FTS5 one
 * it ranks every match.
 */
struct bare {
    char sql[1024];
    char count_sql[512];
    struct store_value params[2 * 2];
    char spelt[2][128];
    char patterns[2][130];
    size_t count;
};

/* search_pg.c's spelling: ASCII lowercased, other ASCII a space, any other character 'Z' and
 * its code point in six letters A-P. The bench's words are letters and Han only. */
static void pg_spell(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; s[i] != '\0' && n + 8 < cap;) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x80) {
            out[n++] = b >= 'A' && b <= 'Z' ? (char)(b - 'A' + 'a') : (char)b;
            i++;
            continue;
        }
        uint32_t cp = (uint32_t)(b & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 |
                      (uint32_t)(s[i + 2] & 0x3f); /* three-byte UTF-8: the bench's Han */
        i += 3;
        out[n++] = 'Z';
        for (int d = 5; d >= 0; d--) {
            out[n++] = (char)('A' + ((cp >> (4 * d)) & 0xf));
        }
    }
    out[n] = '\0';
}

static void bare_make(int pg, const struct query *qu, struct bare *b)
{
    memset(b, 0, sizeof(*b));
    if (!pg) {
        snprintf(b->sql, sizeof(b->sql),
                 "SELECT rowid FROM %s WHERE %s MATCH $1 ORDER BY rank LIMIT %d", qu->bare_table,
                 qu->bare_table, PAGE);
        snprintf(b->count_sql, sizeof(b->count_sql), "SELECT COUNT(*) FROM %s WHERE %s MATCH $1",
                 qu->bare_table, qu->bare_table);
        b->params[0] = store_text(qu->bare_match);
        b->count = 1;
        return;
    }
    char words[2][64] = {"", ""};
    int nwords = sscanf(qu->q, "%63s %63s", words[0], words[1]);
    char score[256] = "0", where[256] = "1 = 1", count_where[256] = "1 = 1";
    for (int w = 0; w < nwords; w++) {
        pg_spell(words[w], b->spelt[w], sizeof(b->spelt[w]));
        snprintf(b->patterns[w], sizeof(b->patterns[w]), "%%%s%%", b->spelt[w]);
        b->params[w] = store_text(b->spelt[w]);
        b->params[nwords + w] = store_text(b->patterns[w]);
        size_t used = strlen(score), wused = strlen(where), cused = strlen(count_where);
        snprintf(score + used, sizeof(score) - used,
                 " + CASE WHEN position($%d in title_terms) > 0 THEN 4 ELSE 1 END", w + 1);
        snprintf(where + wused, sizeof(where) - wused, " AND terms LIKE $%d", nwords + w + 1);
        snprintf(count_where + cused, sizeof(count_where) - cused, " AND terms LIKE $%d", w + 1);
    }
    snprintf(b->sql, sizeof(b->sql),
             "SELECT docid FROM listing_docs WHERE %s ORDER BY %s DESC, docid DESC LIMIT %d", where,
             score, PAGE);
    snprintf(b->count_sql, sizeof(b->count_sql), "SELECT COUNT(*) FROM listing_docs WHERE %s",
             count_where);
    b->count = (size_t)(2 * nwords);
}

struct timing {
    int64_t p50_ns;
    int64_t p99_ns;
};

static struct timing percentiles(int64_t *ns, size_t n)
{
    qsort(ns, n, sizeof(ns[0]), compare_ns);
    struct timing t = {ns[n / 2], ns[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1]};
    return t;
}

/* Whether q is in the comma-separated list, or there is no list. */
static int query_chosen(const char *list, const char *q)
{
    if (list == NULL || list[0] == '\0') {
        return 1;
    }
    size_t n = strlen(q);
    for (const char *p = list; p != NULL; p = strchr(p, ',')) {
        p += *p == ',';
        if (strncmp(p, q, n) == 0 && (p[n] == ',' || p[n] == '\0')) {
            return 1;
        }
    }
    return 0;
}

static void run(struct core *c, int pg, const struct query *qu, size_t rounds, int with_bare,
                int64_t *ns, int64_t *cpu)
{
    const char *slow_env = getenv("SEARCH_BENCH_SLOW_MS");
    long slow_ms = slow_env != NULL ? strtol(slow_env, NULL, 10) : 0;
    struct core_principal anonymous;
    memset(&anonymous, 0, sizeof(anonymous));
    struct core_listing_search s = {.q = qu->q, .price_min = -1, .price_max = -1, .limit = PAGE};
    struct store_listing_results r;
    struct errbuf err;
    errbuf_init(&err);
    struct bare bare_q;
    bare_make(pg, qu, &bare_q);
    size_t total = 0;
    int truncated = 0;
    int64_t all = 0;
    /* The count takes the patterns only (PostgreSQL), numbered from $1. */
    size_t skip = pg ? bare_q.count / 2 : 0;
    (void)store_query(c->store, bare_q.count_sql, bare_q.params + skip, bare_q.count - skip,
                      count_cb, &all, NULL, &err);
    struct timing ours, bare = {0, 0}, ours_cpu;
    for (int pass = 0; pass < (with_bare ? 2 : 1); pass++) {
        /* The bare query ranks every match (0.1-0.4 s each): at most BARE_ROUNDS of it. */
        size_t n = pass == 0 || rounds < BARE_ROUNDS ? rounds : BARE_ROUNDS;
        for (size_t i = 0; i < n + 3; i++) {
            int64_t t0 = clock_monotonic_ns();
            int64_t c0 = cpu_ns();
            long f0 = slow_ms > 0 ? faults() : 0;
            enum err rc;
            if (pass == 0) {
                rc = core_listing_search(c, &anonymous, &s, &r, &err);
                total = r.total;
                truncated = r.truncated;
                store_listing_results_release(&r);
            } else {
                int64_t rows = 0;
                rc = store_query(c->store, bare_q.sql, bare_q.params, bare_q.count, nothing_cb,
                                 &rows, NULL, &err);
            }
            if (rc != ERR_OK) {
                die(qu->label, rc, &err);
            }
            if (i >= 3) { /* three warm-up rounds */
                ns[i - 3] = clock_monotonic_ns() - t0;
                cpu[i - 3] = cpu_ns() - c0;
                if (slow_ms > 0 && pass == 0 && ns[i - 3] > slow_ms * 1000000) {
                    fprintf(
                        stderr,
                        "slow round %zu of %s at %.3f s: %.2f ms, cpu %.2f ms, %ld page faults\n",
                        i - 3, qu->q, (double)t0 / 1e9, (double)ns[i - 3] / 1e6,
                        (double)cpu[i - 3] / 1e6, faults() - f0);
                }
            }
        }
        if (pass == 0) {
            ours = percentiles(ns, rounds);
            ours_cpu = percentiles(cpu, rounds);
        } else {
            bare = percentiles(ns, n);
        }
    }
    double ratio = bare.p99_ns > 0 ? (double)ours.p99_ns / (double)bare.p99_ns : 0;
    printf("%-28s %-14s %7" PRId64 " %5zu%s %8.2f %8.2f %8.2f %8.2f   %8.2f %8.2f   %6.2f  %s\n",
           qu->label, qu->q, all, total, truncated ? "+" : " ", (double)ours.p50_ns / 1e6,
           (double)ours.p99_ns / 1e6, (double)ours_cpu.p50_ns / 1e6, (double)ours_cpu.p99_ns / 1e6,
           (double)bare.p50_ns / 1e6, (double)bare.p99_ns / 1e6, ratio,
           ours.p99_ns < 20 * 1000000 ? "ok" : "OVER 20 ms");
}

/* The control: a fixed piece of pure CPU work (SHA-256 of 2 MB, a few ms) timed the same way.
 * Its p99 over its p50 is what the machine itself adds to any query's tail. */
static void control(size_t rounds, int64_t *ns, int64_t *cpu)
{
    enum { BYTES = 2 * 1024 * 1024 };
    unsigned char *data = calloc(1, BYTES);
    unsigned char h[crypto_hash_sha256_BYTES];
    for (size_t i = 0; i < rounds; i++) {
        int64_t t0 = clock_monotonic_ns();
        int64_t c0 = cpu_ns();
        crypto_hash_sha256(h, data, BYTES);
        data[i % BYTES] = h[0];
        ns[i] = clock_monotonic_ns() - t0;
        cpu[i] = cpu_ns() - c0;
    }
    free(data);
    struct timing wall = percentiles(ns, rounds);
    struct timing work = percentiles(cpu, rounds);
    printf("%-28s %-14s %7s %6s %8.2f %8.2f %8.2f %8.2f\n", "control: SHA-256 of 2 MB", "-", "-",
           "-", (double)wall.p50_ns / 1e6, (double)wall.p99_ns / 1e6, (double)work.p50_ns / 1e6,
           (double)work.p99_ns / 1e6);
}

int main(int argc, char **argv)
{
    if (argc < 2 || sodium_init() < 0) {
        fprintf(stderr, "usage: search_bench DIR|postgres://... [LISTINGS] [ROUNDS]\n");
        return 2;
    }
    size_t n = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 100000;
    size_t rounds = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 200;
    log_set_level(LOG_WARN);
    /* A PostgreSQL URL: that database (empty, or holding this bench's catalogue of n). */
    int pg = strncmp(argv[1], "postgres://", 11) == 0 || strncmp(argv[1], "postgresql://", 13) == 0;
    char path[4096];
    snprintf(path, sizeof(path), pg ? "%s" : "%s/catalogue-%zu.db", argv[1], n);
    struct errbuf err;
    errbuf_init(&err);
    struct core c;
    memset(&c, 0, sizeof(c));
    c.clock = &clock_system;
    c.rng = &rng_system;
    enum err rc = store_open(path, &c.store, &err);
    if (rc != ERR_OK) {
        die("open", rc, &err);
    }
    int64_t have = 0;
    (void)store_query(c.store, "SELECT COUNT(*) FROM listings", NULL, 0, count_cb, &have, NULL,
                      &err);
    if (have != (int64_t)n) {
        catalogue_build(c.store, n);
    }
    int64_t *ns = malloc(sizeof(int64_t) * (rounds + 3));
    int64_t *cpu = malloc(sizeof(int64_t) * (rounds + 3));
    printf("catalogue search over %zu listings (%s; a page of %d; guard %d candidates; "
           "%zu rounds)\n",
           n, pg ? "PostgreSQL pg_trgm" : "SQLite FTS5", PAGE, STORE_SEARCH_CANDIDATES_MAX, rounds);
    printf("%-28s %-14s %7s %6s %8s %8s %8s %8s   %8s %8s   %6s\n", "query", "q", "matches",
           "ranked", "p50 ms", "p99 ms", "cpu p50", "cpu p99", "bare p50", "bare p99", "ratio");
    const char *chosen = getenv("SEARCH_BENCH_QUERIES");
    const char *bare_env = getenv("SEARCH_BENCH_BARE");
    int with_bare = bare_env == NULL || strcmp(bare_env, "0") != 0;
    for (size_t i = 0; i < ARRAY_LEN(queries); i++) {
        if (query_chosen(chosen, queries[i].q)) {
            run(&c, pg, &queries[i], rounds, with_bare, ns, cpu);
        }
    }
    control(rounds, ns, cpu);
    printf("ranked: candidates the catalogue ranked (+: the guard cut; the rest are not scored); "
           "cpu: this thread's CPU time (the work, without waits for other jobs; on PostgreSQL "
           "the client's share only); bare: %s LIMIT %d on the same index; ratio: catalogue p99 "
           "/ bare p99; control: fixed CPU work, whose tail is the machine's\n",
           pg ? "SELECT docid ... WHERE terms LIKE ... ORDER BY <title score> DESC, docid DESC"
              : "SELECT rowid ... MATCH ... ORDER BY rank",
           PAGE);
    free(ns);
    free(cpu);
    store_close(c.store);
    return 0;
}
