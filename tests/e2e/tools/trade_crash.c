/*
 * trade_crash.c: the trade driver of tests/e2e/87-trade-crash.t. It runs a stream of trades
 * over HTTP against a server that the test kills with kill -9 at a random instant, and writes
 * a journal of what was sent and what was acknowledged, so that the test can check after the
 * restart that every acknowledged step survived.
 *
 *   trade_crash URL LISTING PROVIDER_KEY PROVIDER_SEED_FILE BUYERS_FILE CONC TRADES SEED JOURNAL
 *
 * CONC trades run at once (libcurl multi), at most TRADES in all. Each trade follows a plan
 * drawn from SEED: most run the whole lifecycle
 *   POST /v1/orders -> GET document -> buyer's signature -> provider's signature (active,
 *   escrow held) -> delivery -> acceptance (settled),
 * some are cancelled (by the buyer after the order, by the provider after the buyer signed)
 * and some stop mid-way, after any step. Both parties sign the document bytes here with their
 * own Ed25519 keys, as each would on its own machine (`bourse contract sign`).
 *
 * Journal lines (appended, flushed one by one; CTR is "-" before the order's answer):
 *   try STEP CTR               before a state-changing request is sent
 *   ack STEP CTR [SIGNATURE]   a 2xx answer (with the signature that was acknowledged)
 *   bad STEP CTR HTTP BODY     any other answer: the server refused a valid step
 *   lost STEP CTR              no answer (the server died); the trade stops there
 * STEP is order, sign_buyer, sign_provider, deliver, accept or cancel. A trade stops at its
 * first lost request; the driver exits when every trade has finished or stopped: 0 when no
 * answer was bad, 1 otherwise. Standalone (libcurl, libsodium) so the test can build it.
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX 512
#define RESP_MAX (1 << 20) /* a contract with its signatures is a few KiB */

struct party {
    char auth[160]; /* "Authorization: Bearer ..." */
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

enum step { S_ORDER, S_DOC, S_SIGN_BUYER, S_SIGN_PROVIDER, S_DELIVER, S_ACCEPT, S_CANCEL, S_END };
static const char *const step_names[] = {"order",   "document", "sign_buyer", "sign_provider",
                                         "deliver", "accept",   "cancel",     "end"};

/* What a trade does after each step: the step that follows it (S_END: stop there). */
struct plan {
    enum step next[S_END];
};

struct flow {
    CURL *h;
    struct curl_slist *hdrs;
    struct plan plan;
    enum step step;
    const struct party *buyer;
    char contract[64];
    char *resp;
    size_t resp_len;
    char body[BODY_MAX];
    char provider_body[BODY_MAX];
    char url[512];
};

static const char *base_url, *listing;
static struct party provider;
static struct party *buyers;
static size_t nbuyers;
static FILE *journal;
static uint64_t rng_state;

static void die(const char *what)
{
    fprintf(stderr, "trade_crash: %s\n", what);
    exit(2);
}

/* splitmix64: a small, seedable generator, so that a seed replays the same plans. */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned rng_below(unsigned n)
{
    return (unsigned)(rng_next() % n);
}

/* A trade's plan: 70 % complete, 10 % cancelled by the buyer after the order, 5 % cancelled
 * by the provider after the buyer's signature, 15 % left after a random step. */
static struct plan plan_draw(void)
{
    struct plan p = {{S_DOC, S_SIGN_BUYER, S_SIGN_PROVIDER, S_DELIVER, S_ACCEPT, S_END, S_END}};
    unsigned r = rng_below(100);
    if (r < 70) {
        return p;
    }
    if (r < 80) {
        p.next[S_ORDER] = S_CANCEL;
        return p;
    }
    if (r < 85) {
        p.next[S_SIGN_BUYER] = S_CANCEL;
        return p;
    }
    static const enum step stops[] = {S_ORDER, S_SIGN_BUYER, S_SIGN_PROVIDER, S_DELIVER};
    p.next[stops[rng_below(4)]] = S_END;
    return p;
}

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    struct flow *f = ud;
    size_t len = size * n;
    if (f->resp_len + len >= RESP_MAX) {
        return 0; /* an answer this long is wrong anyway; curl reports the error */
    }
    if (f->resp == NULL) {
        f->resp = malloc(RESP_MAX);
        if (f->resp == NULL) {
            die("out of memory");
        }
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
    unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    size_t n = 0;
    if (sodium_base642bin(seed, sizeof(seed), line, strcspn(line, "\r\n"), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != sizeof(seed)) {
        die("a key file does not hold a base64 seed");
    }
    crypto_sign_seed_keypair(pk, p->sk, seed);
}

/* The value of the first "name":"..." in a JSON text. */
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

static void note(const char *what, const struct flow *f, const char *extra)
{
    fprintf(journal, "%s %s %s%s%s\n", what, step_names[f->step],
            f->contract[0] != '\0' ? f->contract : "-", extra != NULL ? " " : "",
            extra != NULL ? extra : "");
    fflush(journal);
}

/* A party's signature over the document bytes, as the JSON body that carries it. */
static void sign_into(const struct party *p, const char *doc, size_t len, char *out, size_t cap)
{
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)doc, len, p->sk);
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "{\"signature\":\"%s\"}", b64);
}

/* Prepares the flow's request for its current step on its handle. */
static void flow_request(struct flow *f)
{
    const struct party *who = f->buyer;
    const char *path = NULL;
    f->resp_len = 0;
    switch (f->step) {
    case S_ORDER:
        snprintf(f->url, sizeof(f->url), "%s/v1/orders", base_url);
        snprintf(f->body, sizeof(f->body), "{\"listing_id\":\"%s\"}", listing);
        break;
    case S_DOC:
        path = "document";
        break;
    case S_SIGN_BUYER:
        path = "signatures"; /* f->body holds the buyer's signature (flow_done) */
        break;
    case S_SIGN_PROVIDER:
        path = "signatures";
        snprintf(f->body, sizeof(f->body), "%s", f->provider_body);
        who = &provider;
        break;
    case S_DELIVER:
        path = "deliveries";
        snprintf(f->body, sizeof(f->body), "{\"sha256\":\"%s\"}",
                 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
        who = &provider;
        break;
    case S_ACCEPT:
        path = "accept";
        f->body[0] = '\0';
        break;
    case S_CANCEL:
        path = "cancel";
        snprintf(f->body, sizeof(f->body), "{\"reason\":\"crash test\"}");
        /* the buyer cancels an order it changed its mind about; the provider one it signed */
        who = f->plan.next[S_ORDER] == S_CANCEL ? f->buyer : &provider;
        break;
    case S_END:
        return;
    }
    if (path != NULL) {
        snprintf(f->url, sizeof(f->url), "%s/v1/contracts/%s/%s", base_url, f->contract, path);
    }
    curl_slist_free_all(f->hdrs);
    f->hdrs = curl_slist_append(NULL, who->auth);
    f->hdrs = curl_slist_append(f->hdrs, "Content-Type: application/json");
    curl_easy_setopt(f->h, CURLOPT_URL, f->url);
    curl_easy_setopt(f->h, CURLOPT_HTTPHEADER, f->hdrs);
    if (f->step == S_DOC) {
        curl_easy_setopt(f->h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(f->h, CURLOPT_POSTFIELDS, f->body);
        note("try", f, NULL);
    }
}

static void flow_start(struct flow *f)
{
    f->plan = plan_draw();
    f->step = S_ORDER;
    f->buyer = &buyers[rng_below((unsigned)nbuyers)];
    f->contract[0] = '\0';
    flow_request(f);
}

/* What a 2xx answer of a step must say, or NULL when it needs no check. */
static const char *expected_state(enum step s)
{
    switch (s) {
    case S_SIGN_PROVIDER:
        return "\"state\":\"active\"";
    case S_ACCEPT:
        return "\"state\":\"settled\"";
    case S_CANCEL:
        return "\"state\":\"cancelled\"";
    default:
        return NULL;
    }
}

/* Records an answer and moves the flow on; returns 0, or -1 for an answer that is wrong. */
static int flow_done(struct flow *f, long status)
{
    const char *resp = f->resp != NULL && f->resp_len > 0 ? f->resp : "";
    const char *state = expected_state(f->step);
    if (status < 200 || status > 299 || (state != NULL && strstr(resp, state) == NULL)) {
        char extra[600];
        snprintf(extra, sizeof(extra), "%ld %.500s", status, resp);
        for (char *p = extra; *p != '\0'; p++) {
            *p = *p == '\n' || *p == '\r' ? ' ' : *p;
        }
        note("bad", f, extra);
        f->step = S_END;
        return -1;
    }
    if (f->step == S_ORDER && json_str(resp, "contract_id", f->contract, sizeof(f->contract))) {
        note("bad", f, "no contract_id");
        f->step = S_END;
        return -1;
    }
    if (f->step == S_DOC) {
        sign_into(f->buyer, resp, f->resp_len, f->body, sizeof(f->body));
        sign_into(&provider, resp, f->resp_len, f->provider_body, sizeof(f->provider_body));
    } else {
        char sig[128] = "";
        if (f->step == S_SIGN_BUYER || f->step == S_SIGN_PROVIDER) {
            json_str(f->body, "signature", sig, sizeof(sig));
        }
        note("ack", f, sig[0] != '\0' ? sig : NULL);
    }
    f->step = f->plan.next[f->step];
    flow_request(f);
    return 0;
}

static void load_parties(const char *provider_key, const char *provider_seed, const char *file)
{
    snprintf(provider.auth, sizeof(provider.auth), "Authorization: Bearer %s", provider_key);
    load_seed(provider_seed, &provider);
    FILE *bf = fopen(file, "r");
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
}

/* Handles one finished transfer: records it, then re-adds the handle for the flow's next
 * request or its next trade. Returns 1 when the handle was re-added. */
static int handle_done(CURLM *m, CURLMsg *msg, long *started, long trades, int *bad)
{
    struct flow *f = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
    long status = 0;
    curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(m, f->h);
    if (msg->data.result != CURLE_OK) {
        if (f->step != S_DOC) {
            note("lost", f, NULL);
        }
        return 0; /* the server is gone: this trade stops here */
    }
    if (flow_done(f, status) != 0) {
        *bad = 1;
    }
    if (f->step == S_END) {
        if (*started >= trades) {
            return 0;
        }
        (*started)++;
        flow_start(f);
    }
    curl_multi_add_handle(m, f->h);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        die("usage: trade_crash URL LISTING PROVIDER_KEY PROVIDER_SEED_FILE BUYERS_FILE CONC "
            "TRADES SEED JOURNAL");
    }
    if (sodium_init() < 0) {
        die("libsodium failed to start");
    }
    base_url = argv[1];
    listing = argv[2];
    load_parties(argv[3], argv[4], argv[5]);
    long conc = atol(argv[6]), trades = atol(argv[7]);
    rng_state = strtoull(argv[8], NULL, 10);
    journal = fopen(argv[9], "a");
    if (conc <= 0 || trades <= 0 || journal == NULL) {
        die("CONC and TRADES must be positive and JOURNAL writable");
    }
    conc = conc > trades ? trades : conc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, conc);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, conc);
    struct flow *flows = calloc((size_t)conc, sizeof(*flows));
    if (flows == NULL) {
        die("out of memory");
    }
    long started = 0;
    for (long i = 0; i < conc; i++) {
        struct flow *f = &flows[i];
        f->h = curl_easy_init();
        curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(f->h, CURLOPT_WRITEDATA, f);
        curl_easy_setopt(f->h, CURLOPT_PRIVATE, f);
        curl_easy_setopt(f->h, CURLOPT_TIMEOUT, 30L);
        started++;
        flow_start(f);
        curl_multi_add_handle(m, f->h);
    }
    int bad = 0, running = 1;
    while (running > 0) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left = 0, readded = 0;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE) {
                readded |= handle_done(m, msg, &started, trades, &bad);
            }
        }
        if (readded) {
            running = 1; /* started by the next curl_multi_perform */
        } else if (running > 0) {
            curl_multi_poll(m, NULL, 0, 100, NULL);
        }
    }
    for (long i = 0; i < conc; i++) {
        curl_multi_remove_handle(m, flows[i].h);
        curl_easy_cleanup(flows[i].h);
        curl_slist_free_all(flows[i].hdrs);
        free(flows[i].resp);
    }
    curl_multi_cleanup(m);
    curl_global_cleanup();
    free(flows);
    free(buyers);
    fclose(journal);
    printf("trades started %ld\n", started);
    return bad;
}
