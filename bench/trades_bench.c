/*
 * trades_bench: complete trades per second through the HTTP API, and the ceiling of this
 * machine's bare SQLite insert rate for the same rows. Run by bench/trades.sh.
 *
 *   trades_bench run URL LISTING PROVIDER_KEY PROVIDER_SEED_FILE BUYERS_FILE TRADES CONC
 *       drives CONC trades at once (libcurl multi, keep-alive), each the whole lifecycle:
 *         POST /v1/orders                       (buyer)     -> a proposed contract
 *         GET  /v1/contracts/{id}/document      (buyer)     the canonical bytes
 *         POST /v1/contracts/{id}/signatures    (buyer)     signed here with the buyer's key
 *         POST /v1/contracts/{id}/signatures    (provider)  -> countersigned, escrow held
 *         POST /v1/contracts/{id}/deliveries    (provider)  the delivered bytes' SHA-256
 *         POST /v1/contracts/{id}/accept        (buyer)     -> settled: escrow posted, fees
 *       BUYERS_FILE has one "API_KEY SEED_FILE" line per buyer; buyer i runs trades i, i+n...
 *       Prints "trades N", "seconds S", "trades_per_s R", "requests_per_s Q".
 *
 *   trades_bench ceiling SRC_DB DST_DB TRADES TRADES_PER_COMMIT
 *       copies every row of SRC_DB's ordinary tables (the rows the TRADES trades wrote, with
 *       the setup's few) into DST_DB with the same schema, indexes and durability as the
 *       server (WAL, synchronous=FULL), a commit per TRADES_PER_COMMIT trades' worth of rows,
 *       from memory: the rate at which this machine can store these rows at all. Prints
 *       "rows N", "ceiling_rows_per_s R", "ceiling_trades_per_s T".
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "trades_bench: %s\n", what);
    exit(1);
}

/* ---- run ------------------------------------------------------------------------------- */

struct party {
    char auth[160]; /* "Authorization: Bearer ..." */
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

enum step { S_ORDER, S_DOC, S_SIGN_BUYER, S_SIGN_PROVIDER, S_DELIVER, S_ACCEPT, S_DONE };

struct flow {
    CURL *h;
    struct curl_slist *hdrs;
    enum step step;
    const struct party *buyer;
    char contract[64];
    char *resp;
    size_t resp_len, resp_cap;
    char body[512];
    char url[512];
};

static const char *base_url, *listing;
static struct party provider;
static struct party *buyers;
static size_t nbuyers;
static long started, finished, requests;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    struct flow *f = ud;
    size_t len = size * n;
    if (f->resp_len + len + 1 > f->resp_cap) {
        size_t cap = (f->resp_len + len + 1) * 2;
        char *p = realloc(f->resp, cap);
        if (p == NULL) {
            die("out of memory");
        }
        f->resp = p;
        f->resp_cap = cap;
    }
    memcpy(f->resp + f->resp_len, ptr, len);
    f->resp_len += len;
    f->resp[f->resp_len] = '\0';
    return len;
}

static void load_seed(const char *path, struct party *p)
{
    FILE *fp = fopen(path, "r");
    char line[128];
    if (fp == NULL || fgets(line, sizeof(line), fp) == NULL) {
        die("cannot read a key file");
    }
    fclose(fp);
    unsigned char seed[crypto_sign_SEEDBYTES];
    size_t n = 0;
    if (sodium_base642bin(seed, sizeof(seed), line, strcspn(line, "\r\n"), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != sizeof(seed)) {
        die("a key file does not hold a base64 seed");
    }
    crypto_sign_seed_keypair(p->pk, p->sk, seed);
}

/* The value of "name":"..." in a JSON text (the first one). */
static int json_str(const char *text, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":\"", name);
    const char *p = text != NULL ? strstr(text, pat) : NULL;
    if (p == NULL) {
        return -1;
    }
    p += strlen(pat);
    size_t n = strcspn(p, "\"");
    if (n >= cap) {
        return -1;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* Prepares the flow's next request on its handle. */
static void flow_request(struct flow *f)
{
    const struct party *who = f->buyer;
    int post = 1;
    f->resp_len = 0;
    switch (f->step) {
    case S_ORDER:
        snprintf(f->url, sizeof(f->url), "%s/v1/orders", base_url);
        snprintf(f->body, sizeof(f->body), "{\"listing_id\":\"%s\"}", listing);
        break;
    case S_DOC:
        snprintf(f->url, sizeof(f->url), "%s/v1/contracts/%s/document", base_url, f->contract);
        f->body[0] = '\0';
        post = 0;
        break;
    case S_SIGN_BUYER:
    case S_SIGN_PROVIDER:
        /* f->body holds the signature (flow_done) */
        snprintf(f->url, sizeof(f->url), "%s/v1/contracts/%s/signatures", base_url, f->contract);
        who = f->step == S_SIGN_BUYER ? f->buyer : &provider;
        break;
    case S_DELIVER:
        snprintf(f->url, sizeof(f->url), "%s/v1/contracts/%s/deliveries", base_url, f->contract);
        snprintf(
            f->body, sizeof(f->body),
            "{\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}");
        who = &provider;
        break;
    case S_ACCEPT:
        snprintf(f->url, sizeof(f->url), "%s/v1/contracts/%s/accept", base_url, f->contract);
        f->body[0] = '\0';
        break;
    case S_DONE:
        return;
    }
    curl_slist_free_all(f->hdrs);
    f->hdrs = curl_slist_append(NULL, who->auth);
    f->hdrs = curl_slist_append(f->hdrs, "Content-Type: application/json");
    curl_easy_setopt(f->h, CURLOPT_URL, f->url);
    curl_easy_setopt(f->h, CURLOPT_HTTPHEADER, f->hdrs);
    if (post) {
        curl_easy_setopt(f->h, CURLOPT_POSTFIELDS, f->body);
    } else {
        curl_easy_setopt(f->h, CURLOPT_HTTPGET, 1L);
    }
}

/* A party's signature over the document bytes, as the JSON body that carries it. Both
 * parties sign the bytes they fetched, as each would on its own machine. */
static void sign_into(const struct party *p, const char *doc, size_t len, char *out, size_t cap)
{
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)doc, len, p->sk);
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "{\"signature\":\"%s\"}", b64);
}

struct flow_extra {
    char provider_body[128];
};

static void flow_start(struct flow *f, long n)
{
    f->step = S_ORDER;
    f->buyer = &buyers[(size_t)n % nbuyers];
    f->contract[0] = '\0';
    flow_request(f);
}

/* Handles a finished request; returns 0 to go on, -1 on an unexpected answer. */
static int flow_done(struct flow *f, struct flow_extra *x, long status)
{
    int ok = f->step == S_DOC ? status == 200 : status == 200 || status == 201;
    if (!ok) {
        fprintf(stderr, "step %d of %s: HTTP %ld %s\n", (int)f->step, f->contract, status,
                f->resp != NULL ? f->resp : "");
        return -1;
    }
    switch (f->step) {
    case S_ORDER:
        if (json_str(f->resp, "contract_id", f->contract, sizeof(f->contract)) != 0) {
            fprintf(stderr, "no contract_id in %s\n", f->resp);
            return -1;
        }
        f->step = S_DOC;
        break;
    case S_DOC:
        sign_into(f->buyer, f->resp, f->resp_len, f->body, sizeof(f->body));
        sign_into(&provider, f->resp, f->resp_len, x->provider_body, sizeof(x->provider_body));
        f->step = S_SIGN_BUYER;
        break;
    case S_SIGN_BUYER:
        snprintf(f->body, sizeof(f->body), "%s", x->provider_body);
        f->step = S_SIGN_PROVIDER;
        break;
    case S_SIGN_PROVIDER:
        if (strstr(f->resp, "\"active\"") == NULL) {
            fprintf(stderr, "contract %s not active after both signatures: %s\n", f->contract,
                    f->resp);
            return -1;
        }
        f->step = S_DELIVER;
        break;
    case S_DELIVER:
        f->step = S_ACCEPT;
        break;
    case S_ACCEPT:
        if (strstr(f->resp, "\"settled\"") == NULL) {
            fprintf(stderr, "contract %s not settled: %s\n", f->contract, f->resp);
            return -1;
        }
        f->step = S_DONE;
        return 0;
    case S_DONE:
        break;
    }
    flow_request(f);
    return 0;
}

static int run(int argc, char **argv)
{
    if (argc != 9) {
        die("usage: run URL LISTING PROVIDER_KEY PROVIDER_SEED_FILE BUYERS_FILE TRADES CONC");
    }
    base_url = argv[2];
    listing = argv[3];
    snprintf(provider.auth, sizeof(provider.auth), "Authorization: Bearer %s", argv[4]);
    load_seed(argv[5], &provider);
    FILE *bf = fopen(argv[6], "r");
    if (bf == NULL) {
        die("cannot open the buyers file");
    }
    char key[128], path[512];
    while (fscanf(bf, "%127s %511s", key, path) == 2) {
        buyers = realloc(buyers, (nbuyers + 1) * sizeof(*buyers));
        if (buyers == NULL) {
            die("out of memory");
        }
        snprintf(buyers[nbuyers].auth, sizeof(buyers[nbuyers].auth), "Authorization: Bearer %s",
                 key);
        load_seed(path, &buyers[nbuyers]);
        nbuyers++;
    }
    fclose(bf);
    if (nbuyers == 0) {
        die("no buyers");
    }
    long trades = atol(argv[7]);
    long conc = atol(argv[8]);
    if (trades <= 0 || conc <= 0) {
        die("TRADES and CONC must be positive");
    }
    if (conc > trades) {
        conc = trades;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, conc);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, conc); /* keep every connection alive */
    struct flow *flows = calloc((size_t)conc, sizeof(*flows));
    struct flow_extra *extra = calloc((size_t)conc, sizeof(*extra));
    if (flows == NULL || extra == NULL) {
        die("out of memory");
    }
    double t0 = now_s();
    for (long i = 0; i < conc; i++) {
        struct flow *f = &flows[i];
        f->h = curl_easy_init();
        curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(f->h, CURLOPT_WRITEDATA, f);
        curl_easy_setopt(f->h, CURLOPT_PRIVATE, f);
        curl_easy_setopt(f->h, CURLOPT_TIMEOUT, 60L);
        flow_start(f, started++);
        curl_multi_add_handle(m, f->h);
    }
    int failed = 0;
    while (finished < trades && !failed) {
        int running = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left, readded = 0;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            struct flow *f = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
            long status = 0;
            curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(m, f->h);
            requests++;
            if (msg->data.result != CURLE_OK) {
                fprintf(stderr, "curl: %s\n", curl_easy_strerror(msg->data.result));
                failed = 1;
                break;
            }
            if (flow_done(f, &extra[f - flows], status) != 0) {
                failed = 1;
                break;
            }
            if (f->step == S_DONE) {
                finished++;
                if (started >= trades) {
                    continue;
                }
                flow_start(f, started++);
            }
            curl_multi_add_handle(m, f->h);
            readded = 1; /* started by the next curl_multi_perform, not by a poll */
        }
        if (!readded && running > 0 && !failed) {
            curl_multi_poll(m, NULL, 0, 100, NULL);
        }
    }
    double secs = now_s() - t0;
    for (long i = 0; i < conc; i++) {
        curl_multi_remove_handle(m, flows[i].h);
        curl_easy_cleanup(flows[i].h);
        curl_slist_free_all(flows[i].hdrs);
        free(flows[i].resp);
    }
    curl_multi_cleanup(m);
    free(flows);
    free(extra);
    free(buyers);
    curl_global_cleanup();
    if (failed) {
        return 1;
    }
    printf("trades %ld\nseconds %.3f\ntrades_per_s %.0f\nrequests_per_s %.0f\n", finished, secs,
           (double)finished / secs, (double)requests / secs);
    return 0;
}

/* ---- ceiling --------------------------------------------------------------------------- */

struct table {
    char name[128];
    int ncols;
    sqlite3_value **cells; /* rows * ncols, protected copies */
    long rows;
};

static void check(int rc, sqlite3 *db, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "trades_bench: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static int ceiling(int argc, char **argv)
{
    if (argc != 6) {
        die("usage: ceiling SRC_DB DST_DB TRADES TRADES_PER_COMMIT");
    }
    long trades = atol(argv[4]), trades_per_commit = atol(argv[5]);
    if (trades <= 0 || trades_per_commit <= 0) {
        die("TRADES and TRADES_PER_COMMIT must be positive");
    }
    sqlite3 *src, *dst;
    check(sqlite3_open_v2(argv[2], &src, SQLITE_OPEN_READONLY, NULL), NULL, "open source");
    check(sqlite3_open(argv[3], &dst), NULL, "open destination");
    check(sqlite3_exec(dst, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL),
          dst, "pragmas");
    /* Ordinary tables only: not the search module's virtual tables nor their shadows. */
    sqlite3_stmt *st;
    check(sqlite3_prepare_v2(src,
                             "SELECT name, sql FROM sqlite_master WHERE type='table' AND sql LIKE "
                             "'CREATE TABLE%' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE "
                             "'listing_fts%' AND name NOT LIKE 'listing_grams%'",
                             -1, &st, NULL),
          src, "list tables");
    struct table *tables = NULL;
    size_t ntables = 0;
    long total = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        tables = realloc(tables, (ntables + 1) * sizeof(*tables));
        struct table *t = &tables[ntables++];
        memset(t, 0, sizeof(*t));
        snprintf(t->name, sizeof(t->name), "%s", (const char *)sqlite3_column_text(st, 0));
        check(sqlite3_exec(dst, (const char *)sqlite3_column_text(st, 1), NULL, NULL, NULL), dst,
              "create table");
        char q[256];
        snprintf(q, sizeof(q), "SELECT * FROM \"%s\"", t->name);
        sqlite3_stmt *rows;
        check(sqlite3_prepare_v2(src, q, -1, &rows, NULL), src, "select rows");
        t->ncols = sqlite3_column_count(rows);
        long cap = 0;
        while (sqlite3_step(rows) == SQLITE_ROW) {
            if (t->rows == cap) {
                cap = cap ? cap * 2 : 1024;
                t->cells = realloc(t->cells, (size_t)cap * (size_t)t->ncols * sizeof(*t->cells));
                if (t->cells == NULL) {
                    die("out of memory");
                }
            }
            for (int c = 0; c < t->ncols; c++) {
                t->cells[t->rows * t->ncols + c] = sqlite3_value_dup(sqlite3_column_value(rows, c));
            }
            t->rows++;
        }
        sqlite3_finalize(rows);
        total += t->rows;
    }
    sqlite3_finalize(st);
    /* The same indexes as the server keeps. */
    check(sqlite3_prepare_v2(src,
                             "SELECT sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
                             "AND tbl_name NOT LIKE 'listing_fts%' AND tbl_name NOT LIKE "
                             "'listing_grams%'",
                             -1, &st, NULL),
          src, "list indexes");
    while (sqlite3_step(st) == SQLITE_ROW) {
        check(sqlite3_exec(dst, (const char *)sqlite3_column_text(st, 0), NULL, NULL, NULL), dst,
              "create index");
    }
    sqlite3_finalize(st);
    long per_commit = total * trades_per_commit / trades;
    per_commit = per_commit > 0 ? per_commit : 1;
    double t0 = now_s();
    long in_tx = 0;
    check(sqlite3_exec(dst, "BEGIN", NULL, NULL, NULL), dst, "begin");
    for (size_t i = 0; i < ntables; i++) {
        struct table *t = &tables[i];
        char q[4096];
        int n = snprintf(q, sizeof(q), "INSERT INTO \"%s\" VALUES (", t->name);
        for (int c = 0; c < t->ncols; c++) {
            n += snprintf(q + n, sizeof(q) - (size_t)n, c ? ",?" : "?");
        }
        snprintf(q + n, sizeof(q) - (size_t)n, ")");
        sqlite3_stmt *ins;
        check(sqlite3_prepare_v2(dst, q, -1, &ins, NULL), dst, "prepare insert");
        for (long r = 0; r < t->rows; r++) {
            for (int c = 0; c < t->ncols; c++) {
                sqlite3_bind_value(ins, c + 1, t->cells[r * t->ncols + c]);
            }
            check(sqlite3_step(ins), dst, "insert");
            sqlite3_reset(ins);
            if (++in_tx == per_commit) {
                check(sqlite3_exec(dst, "COMMIT; BEGIN", NULL, NULL, NULL), dst, "commit");
                in_tx = 0;
            }
        }
        sqlite3_finalize(ins);
    }
    check(sqlite3_exec(dst, "COMMIT", NULL, NULL, NULL), dst, "commit");
    double secs = now_s() - t0;
    printf("rows %ld\nceiling_rows_per_s %.0f\nceiling_trades_per_s %.0f\n", total,
           (double)total / secs, (double)trades / secs);
    for (size_t i = 0; i < ntables; i++) {
        for (long k = 0; k < tables[i].rows * tables[i].ncols; k++) {
            sqlite3_value_free(tables[i].cells[k]);
        }
        free(tables[i].cells);
    }
    free(tables);
    sqlite3_close(src);
    sqlite3_close(dst);
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        die("libsodium failed to start");
    }
    if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        return run(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "ceiling") == 0) {
        return ceiling(argc, argv);
    }
    die("usage: trades_bench run|ceiling ...");
    return 1;
}
