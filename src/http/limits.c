/*
 * limits.c: rate limits per caller that hold across nodes, and the retention of idempotent
 * responses (docs/decisions/0006-rate-limits.md).
 *
 * Rate limits. Each caller (an authenticated entity, or the client address of an anonymous
 * request) has a GCRA bucket: a "theoretical arrival time" tat. With interval T = 1 s / rate
 * and tolerance B = burst * T, a request at time now is admitted when max(tat, now) + T - now
 * <= B, which then becomes the new tat; else it is refused, to be retried after the excess.
 * That is a token bucket of `burst` tokens refilled at `rate` per second, kept in one
 * integer. Refused requests consume nothing.
 *
 * The check is a local hash-table lookup: no database round trip on any request. Nodes on one
 * PostgreSQL database agree through the rate_usage table instead: on its 100 ms tick each node
 * publishes how many requests it admitted per caller since its last round, and reads the other
 * nodes' rounds, charging them to its own buckets (tat += count * T). Every admitted request
 * is thus charged to every node's bucket within about two ticks, so the fleet's long-run rate
 * is the configured one, and its excess over any window is bounded by what the other nodes
 * admitted before they heard of each other: at most (nodes - 1) * (burst + rate * 0.2 s).
 * Rounds are numbered per node and applied once each (the last (round, part) seen per node).
 *
 * The table is open addressing with linear probing and backward-shift deletion, keyed by a
 * SipHash of the subject under a random key (callers choose their addresses, so the probe
 * sequence must not be predictable). Idle buckets (tat in the past, nothing to publish) are
 * swept every tick. A full table refuses new callers rather than admit untracked ones.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define NS_PER_S ((int64_t)1000 * 1000 * 1000)
#define LIMIT_SLOTS (1u << 15)                 /* a power of two */
#define LIMIT_LIVE_MAX (LIMIT_SLOTS / 4 * 3)   /* linear probing degrades past 3/4 */
#define LIMIT_PART_SUBJECTS 256                /* subjects per rate_usage row */
#define LIMIT_LINE_MAX (HTTP_SUBJECT_MAX + 24) /* "<subject> <count>\n" */
#define LIMIT_NODES_MAX 64                     /* other nodes remembered */
#define LIMIT_READ_MAX 1000                    /* rows read per tick */
#define LIMIT_WINDOW_MS 2000              /* rows this recent are read: two ticks plus clock skew */
#define LIMIT_KEEP_MS 60000               /* rows older than this are purged by the leader */
#define LIMIT_DEBT_MAX_NS (60 * NS_PER_S) /* remote charges never push tat further ahead */
#define PURGE_EVERY_MS 1000               /* the leader purges at most this often, unless behind */
#define PURGE_BATCH 1000                  /* rows per purge statement */
_Static_assert((LIMIT_SLOTS & (LIMIT_SLOTS - 1)) == 0, "slots are a power of two");
_Static_assert(LIMIT_READ_MAX <= STORE_PURGE_MAX && PURGE_BATCH <= STORE_PURGE_MAX, "bounds");

/* ---- bucket arithmetic ---- */

void http__gcra_init(struct http_gcra *g, int64_t per_s, int64_t burst)
{
    ASSERT(per_s > 0 && per_s <= HTTP_RATE_MAX);
    ASSERT(burst > 0 && burst <= HTTP_BURST_MAX);
    g->interval_ns = NS_PER_S / per_s;
    g->tolerance_ns = burst * g->interval_ns;
}

int http__gcra_take(const struct http_gcra *g, int64_t *tat_ns, int64_t now_ns, int64_t *retry_ns)
{
    ASSERT(g->interval_ns > 0 && g->tolerance_ns >= g->interval_ns);
    int64_t start = *tat_ns > now_ns ? *tat_ns : now_ns;
    int64_t next = start + g->interval_ns;
    if (next - now_ns > g->tolerance_ns) {
        *retry_ns = next - now_ns - g->tolerance_ns;
        ASSERT(*retry_ns > 0);
        return 0;
    }
    *tat_ns = next;
    *retry_ns = 0;
    return 1;
}

void http__gcra_charge(const struct http_gcra *g, int64_t *tat_ns, int64_t now_ns, int64_t count)
{
    ASSERT(count >= 0);
    int64_t start = *tat_ns > now_ns ? *tat_ns : now_ns;
    int64_t limit = now_ns + LIMIT_DEBT_MAX_NS;
    /* Compared as a quotient so that a huge count cannot overflow the product. */
    if (count > (limit - start) / g->interval_ns) {
        *tat_ns = limit > start ? limit : start;
        return;
    }
    *tat_ns = start + count * g->interval_ns;
}

int64_t http__retry_after_s(int64_t retry_ns)
{
    int64_t s = (retry_ns + NS_PER_S - 1) / NS_PER_S;
    return s < 1 ? 1 : s;
}

/* ---- configuration ---- */

enum err http__limit_parse(const char *text, const char *field, int64_t min, int64_t max,
                           int64_t *out, struct errbuf *err)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || errno != 0 || *end != '\0' || v < min || v > max) {
        return err_set(err, ERR_INVALID, field, "%s must be an integer from %lld to %lld, not '%s'",
                       field, (long long)min, (long long)max, text);
    }
    *out = v;
    return ERR_OK;
}

enum err http__duration_parse(const char *text, const char *field, int64_t *ms, struct errbuf *err)
{
    static const struct {
        const char *suffix;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000}};
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (text[0] >= '0' && text[0] <= '9' && errno == 0 && v > 0) {
        for (size_t i = 0; i < ARRAY_LEN(units); i++) {
            if (strcmp(end, units[i].suffix) == 0 && v <= HTTP_TTL_MAX_MS / units[i].ms &&
                v * units[i].ms >= HTTP_TTL_MIN_MS) {
                *ms = v * units[i].ms;
                return ERR_OK;
            }
        }
    }
    return err_set(err, ERR_INVALID, field,
                   "%s must be a duration from 1s to 365d such as 90s, 30m or 24h, not '%s'", field,
                   text);
}

/* ---- the table ---- */

struct limit_slot {
    char subject[HTTP_SUBJECT_MAX]; /* "" when the slot is free */
    int64_t tat_ns;
    int64_t unsent; /* admitted here since the last published round */
};

struct limit_seen {
    char node[ID_MAX];
    int64_t round;
    int64_t part;
    int64_t used_ms; /* when a row of it was last applied, to replace the stalest */
};

struct http_limits {
    struct http_gcra gcra;
    int shared; /* publish and read rounds: the store is shared with other nodes */
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    struct limit_slot *slots;
    size_t live;
    char node[ID_MAX];
    int64_t round;
    struct limit_seen seen[LIMIT_NODES_MAX];
    size_t seen_count;
    int64_t now_ns; /* of the sync in progress */
    int64_t wall_ms;
    int full_warned;
};

enum err http__limits_new(int64_t per_s, int64_t burst, int shared, const struct rng *rng,
                          struct http_limits **out, struct errbuf *err)
{
    ASSERT(out != NULL && rng != NULL);
    *out = NULL;
    struct http_limits *l = mem_calloc(1, sizeof(*l));
    if (l == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory for the rate limits");
    }
    l->slots = mem_calloc(LIMIT_SLOTS, sizeof(*l->slots));
    if (l->slots == NULL) {
        mem_free(l);
        return err_set(err, ERR_NOMEM, "", "out of memory for the rate limits");
    }
    http__gcra_init(&l->gcra, per_s, burst);
    l->shared = shared;
    rng_fill(rng, l->hash_key, sizeof(l->hash_key));
    id_new(rng, "nod", l->node);
    *out = l;
    return ERR_OK;
}

void http__limits_free(struct http_limits *l)
{
    if (l == NULL) {
        return;
    }
    mem_free(l->slots);
    mem_free(l);
}

const char *http__limits_node(const struct http_limits *l)
{
    return l->node;
}

static size_t slot_home(const struct http_limits *l, const char *subject, size_t len)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)subject, len, l->hash_key);
    uint64_t v = 0;
    memcpy(&v, h, sizeof(v));
    return (size_t)(v & (LIMIT_SLOTS - 1));
}

/* The slot of subject, inserted (tat = now, so a new caller has its whole burst) when absent
 * and room is left; NULL when the table is full. */
static struct limit_slot *slot_get(struct http_limits *l, const char *subject, int64_t now_ns)
{
    size_t len = strlen(subject);
    ASSERT(len > 0 && len < HTTP_SUBJECT_MAX);
    size_t i = slot_home(l, subject, len);
    for (size_t probes = 0; probes < LIMIT_SLOTS; probes++, i = (i + 1) & (LIMIT_SLOTS - 1)) {
        struct limit_slot *s = &l->slots[i];
        if (s->subject[0] == '\0') {
            if (l->live >= LIMIT_LIVE_MAX) {
                return NULL;
            }
            memcpy(s->subject, subject, len + 1);
            s->tat_ns = now_ns;
            s->unsent = 0;
            l->live++;
            return s;
        }
        if (strcmp(s->subject, subject) == 0) {
            return s;
        }
    }
    return NULL;
}

/* Frees slot i and shifts back the entries of its probe run that may move into the hole, so
 * that lookups never meet a gap before their entry (no tombstones to clean up). */
static void slot_delete(struct http_limits *l, size_t i)
{
    ASSERT(l->live > 0);
    l->slots[i].subject[0] = '\0';
    l->live--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & (LIMIT_SLOTS - 1);
        struct limit_slot *s = &l->slots[j];
        if (s->subject[0] == '\0') {
            return;
        }
        size_t k = slot_home(l, s->subject, strlen(s->subject));
        /* s may fill the hole at i unless its home lies cyclically in (i, j]. */
        int home_between = i <= j ? (k > i && k <= j) : (k > i || k <= j);
        if (!home_between) {
            l->slots[i] = *s;
            s->subject[0] = '\0';
            i = j;
        }
    }
}

/* Removes the buckets that carry no information: full again and nothing to publish. */
static void limits_sweep(struct http_limits *l, int64_t now_ns)
{
    for (size_t i = 0; i < LIMIT_SLOTS; i++) {
        struct limit_slot *s = &l->slots[i];
        /* After a delete, slot i may hold an entry shifted back: look at it again. */
        while (s->subject[0] != '\0' && s->tat_ns <= now_ns && s->unsent == 0) {
            slot_delete(l, i);
        }
    }
}

size_t http__limits_live(const struct http_limits *l)
{
    return l->live;
}

int http__limits_admit(struct http_limits *l, const char *subject, int64_t now_ns,
                       int64_t *retry_ns)
{
    ASSERT(l != NULL && subject != NULL);
    struct limit_slot *s = slot_get(l, subject, now_ns);
    if (s == NULL) {
        if (!l->full_warned) {
            log_msg(LOG_WARN, "limits: %d callers are tracked already; refusing new ones",
                    (int)LIMIT_LIVE_MAX);
            l->full_warned = 1;
        }
        *retry_ns = NS_PER_S;
        return 0;
    }
    if (!http__gcra_take(&l->gcra, &s->tat_ns, now_ns, retry_ns)) {
        return 0;
    }
    if (l->shared) {
        s->unsent++;
    }
    return 1;
}

/* ---- exchanging rounds between nodes ---- */

/* Publishes the subjects of slots idx[0..n) as part `part` of this round; clears their
 * unsent counts once the row is written. */
static enum err publish_part(struct http_limits *l, struct store *st, const size_t *idx, size_t n,
                             int64_t part, struct errbuf *err)
{
    struct buf b;
    buf_init(&b, (size_t)LIMIT_PART_SUBJECTS * LIMIT_LINE_MAX);
    enum err rc = ERR_OK;
    for (size_t i = 0; i < n && rc == ERR_OK; i++) {
        const struct limit_slot *s = &l->slots[idx[i]];
        rc = buf_appendf(&b, "%s %" PRId64 "\n", s->subject, s->unsent);
    }
    if (rc == ERR_OK) {
        struct store_rate_usage u = {l->node, l->round, part, l->wall_ms, b.data, b.len};
        rc = store_rate_publish(st, &u, err);
    } else {
        rc = err_set(err, rc, "", "cannot format a rate-limit round");
    }
    buf_release(&b);
    for (size_t i = 0; i < n && rc == ERR_OK; i++) {
        l->slots[idx[i]].unsent = 0;
    }
    return rc;
}

static enum err limits_publish(struct http_limits *l, struct store *st, struct errbuf *err)
{
    size_t idx[LIMIT_PART_SUBJECTS];
    size_t n = 0;
    int64_t part = 0;
    int any = 0;
    for (size_t i = 0; i < LIMIT_SLOTS; i++) {
        if (l->slots[i].subject[0] == '\0' || l->slots[i].unsent == 0) {
            continue;
        }
        if (!any) {
            l->round++; /* a round number is used once, even if its publication fails */
            any = 1;
        }
        idx[n++] = i;
        if (n == LIMIT_PART_SUBJECTS) {
            enum err rc = publish_part(l, st, idx, n, part++, err);
            if (rc != ERR_OK) {
                return rc;
            }
            n = 0;
        }
    }
    return n > 0 ? publish_part(l, st, idx, n, part, err) : ERR_OK;
}

/* 1 the first time (node, round, part) is seen, recording it; 0 for a row applied before. */
static int seen_first(struct http_limits *l, const struct store_rate_usage *u)
{
    struct limit_seen *slot = NULL;
    for (size_t i = 0; i < l->seen_count; i++) {
        if (strcmp(l->seen[i].node, u->node) == 0) {
            slot = &l->seen[i];
            break;
        }
    }
    if (slot != NULL &&
        (u->round < slot->round || (u->round == slot->round && u->part <= slot->part))) {
        return 0;
    }
    if (slot == NULL && l->seen_count < LIMIT_NODES_MAX) {
        slot = &l->seen[l->seen_count++];
    } else if (slot == NULL) {
        slot = &l->seen[0];
        for (size_t i = 1; i < l->seen_count; i++) {
            if (l->seen[i].used_ms < slot->used_ms) {
                slot = &l->seen[i];
            }
        }
    }
    snprintf(slot->node, sizeof(slot->node), "%s", u->node);
    slot->round = u->round;
    slot->part = u->part;
    slot->used_ms = l->wall_ms;
    return 1;
}

/* Parses one "<subject> <count>" line of [p, end) and charges it. ERR_CORRUPT if malformed. */
static enum err apply_line(struct http_limits *l, const char *p, size_t len, struct errbuf *err)
{
    const char *space = memchr(p, ' ', len);
    size_t subject_len = space != NULL ? (size_t)(space - p) : 0;
    size_t digits = space != NULL ? len - subject_len - 1 : 0;
    char subject[HTTP_SUBJECT_MAX];
    char num[20];
    if (subject_len == 0 || subject_len >= sizeof(subject) || digits == 0 ||
        digits >= sizeof(num)) {
        return err_set(err, ERR_CORRUPT, "", "malformed rate-limit line");
    }
    memcpy(subject, p, subject_len);
    subject[subject_len] = '\0';
    memcpy(num, space + 1, digits);
    num[digits] = '\0';
    int64_t count = 0;
    if (http__limit_parse(num, "count", 1, INT64_MAX / 2, &count, err) != ERR_OK) {
        return err_set(err, ERR_CORRUPT, "", "malformed rate-limit count");
    }
    struct limit_slot *s = slot_get(l, subject, l->now_ns);
    if (s != NULL) {
        http__gcra_charge(&l->gcra, &s->tat_ns, l->now_ns, count);
    }
    return ERR_OK;
}

static enum err apply_round(void *ctx, const struct store_rate_usage *u, struct errbuf *err)
{
    struct http_limits *l = ctx;
    if (!seen_first(l, u)) {
        return ERR_OK;
    }
    const char *p = u->counts;
    const char *end = u->counts + u->counts_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        enum err rc = apply_line(l, p, len, err);
        if (rc != ERR_OK) {
            /* One bad row (another version's format?) must not stop the others. */
            log_msg(LOG_WARN, "limits: skipping a round of node '%s': %s", u->node, err->msg);
            return ERR_OK;
        }
        p += len + 1;
    }
    return ERR_OK;
}

enum err http__limits_sync(struct http_limits *l, struct store *st, int64_t now_ns, int64_t wall_ms,
                           struct errbuf *err)
{
    ASSERT(l != NULL && st != NULL);
    ASSERT(store_tx_depth(st) == 0);
    l->now_ns = now_ns;
    l->wall_ms = wall_ms;
    enum err rc = ERR_OK;
    if (l->shared) {
        rc = limits_publish(l, st, err);
        if (rc == ERR_OK) {
            rc = store_rate_read(st, l->node, wall_ms - LIMIT_WINDOW_MS, LIMIT_READ_MAX,
                                 apply_round, l, err);
        }
    }
    limits_sweep(l, now_ns);
    return rc;
}

/* ---- the server's side ---- */

int http__limits_refuse(struct http_server *srv, const char *subject, struct http_response *res)
{
    if (srv->limits == NULL) {
        return 0;
    }
    int64_t retry_ns = 0;
    if (http__limits_admit(srv->limits, subject, clock_monotonic_ns(), &retry_ns)) {
        return 0;
    }
    int64_t retry_s = http__retry_after_s(retry_ns);
    char detail[160];
    snprintf(detail, sizeof(detail),
             "more than %" PRId64 " requests a second (burst %" PRId64 "); retry after %" PRId64
             " s",
             srv->rate_limit, srv->rate_burst, retry_s);
    res->status = 429;
    res->content_type = "application/problem+json";
    res->retry_after_s = retry_s;
    res->body = json_pack("{s:s, s:s, s:i, s:s, s:I}", "type",
                          "https://bourse.dev/problems/rate-limited", "title", "Too many requests",
                          "status", 429, "detail", detail, "retry_after", (json_int_t)retry_s);
    return 1;
}

void http__limits_tick(struct http_server *srv)
{
    if (srv->limits == NULL) {
        return;
    }
    int64_t now_ns = clock_monotonic_ns();
    if (now_ns - srv->limits_last_ns < (int64_t)HTTP_LOG_TICK_MS * 1000000) {
        return;
    }
    srv->limits_last_ns = now_ns;
    struct errbuf err;
    errbuf_init(&err);
    if (http__limits_sync(srv->limits, srv->core.store, now_ns, clock_now(srv->core.clock), &err) !=
        ERR_OK) {
        log_msg(LOG_WARN, "limits: cannot exchange rate-limit counters: %s", err.msg);
    }
}

/* Runs one bounded purge in its own transaction; *more is 1 when the batch was full. */
static enum err purge_one(struct store *s, int idem, int64_t before_ms, int *more,
                          struct errbuf *err)
{
    int64_t deleted = 0;
    enum err rc = store_tx_begin(s, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = idem ? store_idem_purge(s, before_ms, PURGE_BATCH, &deleted, err)
              : store_rate_purge(s, before_ms, PURGE_BATCH, &deleted, err);
    if (rc != ERR_OK) {
        store_tx_rollback(s);
        return rc;
    }
    rc = store_tx_commit(s, err);
    if (rc == ERR_OK && deleted > 0) {
        log_msg(LOG_INFO, "limits: purged %" PRId64 " expired %s", deleted,
                idem ? "idempotency keys" : "rate-limit rounds");
    }
    *more = rc == ERR_OK && deleted == PURGE_BATCH;
    return rc;
}

void http__limits_purge(struct http_server *srv)
{
    int64_t now_ms = clock_monotonic_ns() / 1000000;
    if (!srv->purge_behind && now_ms - srv->purge_last_ms < PURGE_EVERY_MS) {
        return;
    }
    srv->purge_last_ms = now_ms;
    int64_t wall = clock_now(srv->core.clock);
    struct errbuf err;
    errbuf_init(&err);
    int more_idem = 0, more_rate = 0;
    enum err rc = purge_one(srv->core.store, 1, wall - srv->idem_ttl_ms, &more_idem, &err);
    if (rc == ERR_OK && store_shared(srv->core.store)) {
        rc = purge_one(srv->core.store, 0, wall - LIMIT_KEEP_MS, &more_rate, &err);
    }
    if (rc != ERR_OK) {
        log_msg(LOG_WARN, "limits: purge failed: %s", err.msg);
    }
    /* A full batch means a backlog: go on next tick instead of waiting a second. */
    srv->purge_behind = more_idem || more_rate;
}
