/*
 * limits_test.c: the rate limiter and idempotency retention of http/limits.c and
 * store/limits.c: the GCRA arithmetic (burst, refill, exact retry times, refusals that consume
 * nothing, capped remote charges), the configuration parsers, the bucket table (independent
 * callers, a full table refusing newcomers, idle buckets swept), the exchange of rounds
 * between two nodes (each admitted request charged to the other node once, never to its own,
 * rounds split into parts, a malformed round skipped), the bounded purges, and the guard that
 * keeps a leader whose database session was replaced from working beside the new leader.
 *
 * The exchange and the purges run on SQLite and, when BOURSE_TEST_PG_URL names a cluster, on
 * PostgreSQL with two connections standing for two nodes, in a database of the test's own.
 */
#include "util/compat.h"
#include "http/http_int.h"
#include "store/store_int.h"

#include "market.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NS ((int64_t)1000 * 1000 * 1000)
#define T0 ((int64_t)1000 * NS) /* an arbitrary monotonic time */
#define WALL0 ((int64_t)1795305540000)

static struct test_rng_state rng_state;
static const struct rng test_rng = {test_rng_fill, &rng_state};

/* ---- the arithmetic ---- */

static void test_limits__gcra_burst_then_rate(void **state)
{
    (void)state;
    struct http_gcra g;
    http__gcra_init(&g, 10, 3); /* T = 100 ms, a burst of 3 */
    assert_int_equal(g.interval_ns, NS / 10);
    int64_t tat = 0, retry = -1;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(http__gcra_take(&g, &tat, T0, &retry), 1);
        assert_int_equal(retry, 0);
    }
    assert_int_equal(tat, T0 + 3 * g.interval_ns);
    /* The fourth at once is refused, told to wait exactly one interval, and consumes nothing. */
    assert_int_equal(http__gcra_take(&g, &tat, T0, &retry), 0);
    assert_int_equal(retry, g.interval_ns);
    assert_int_equal(tat, T0 + 3 * g.interval_ns);
    assert_int_equal(http__gcra_take(&g, &tat, T0 + retry - 1, &retry), 0);
    assert_int_equal(retry, 1);
    assert_int_equal(http__gcra_take(&g, &tat, T0 + g.interval_ns, &retry), 1);
    assert_int_equal(http__gcra_take(&g, &tat, T0 + g.interval_ns, &retry), 0);
    /* A steady 10/s is admitted for ever. */
    int64_t now = T0 + g.interval_ns;
    for (int i = 0; i < 100; i++) {
        now += g.interval_ns;
        assert_int_equal(http__gcra_take(&g, &tat, now, &retry), 1);
    }
    /* After a long pause the whole burst is back, and no more. */
    now += 60 * NS;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(http__gcra_take(&g, &tat, now, &retry), 1);
    }
    assert_int_equal(http__gcra_take(&g, &tat, now, &retry), 0);
}

static void test_limits__gcra_charge(void **state)
{
    (void)state;
    struct http_gcra g;
    http__gcra_init(&g, 4, 8); /* T = 250 ms */
    int64_t tat = T0 - 10 * NS, retry = 0;
    /* Remote requests are charged from now, not from a stale past tat. */
    http__gcra_charge(&g, &tat, T0, 6);
    assert_int_equal(tat, T0 + 6 * g.interval_ns);
    assert_int_equal(http__gcra_take(&g, &tat, T0, &retry), 1);
    assert_int_equal(http__gcra_take(&g, &tat, T0, &retry), 1);
    assert_int_equal(http__gcra_take(&g, &tat, T0, &retry), 0);
    http__gcra_charge(&g, &tat, T0, 0);
    assert_int_equal(tat, T0 + 8 * g.interval_ns);
    /* A huge count is capped 60 s ahead (no overflow), and keeps refusing until then. */
    http__gcra_charge(&g, &tat, T0, INT64_MAX / 2);
    assert_int_equal(tat, T0 + 60 * NS);
    assert_int_equal(http__gcra_take(&g, &tat, T0 + 50 * NS, &retry), 0);
    assert_int_equal(retry, 10 * NS + g.interval_ns - 8 * g.interval_ns);
    assert_int_equal(http__retry_after_s(retry), 9); /* 8.25 s rounds up */
    assert_int_equal(http__retry_after_s(1), 1);
    assert_int_equal(http__retry_after_s(NS), 1);
    assert_int_equal(http__retry_after_s(NS + 1), 2);
}

static void expect_invalid(enum err rc, const struct errbuf *err, const char *field)
{
    assert_int_equal(rc, ERR_INVALID);
    assert_string_equal(err->field, field);
}

static void test_limits__parse(void **state)
{
    (void)state;
    struct errbuf err;
    errbuf_init(&err);
    int64_t v = -1;
    assert_int_equal(http__limit_parse("0", "rate_limit", 0, 10, &v, &err), ERR_OK);
    assert_int_equal(v, 0);
    assert_int_equal(http__limit_parse("10", "rate_limit", 0, 10, &v, &err), ERR_OK);
    assert_int_equal(v, 10);
    const char *bad[] = {"", "11", "-1", "+1", " 1", "1 ", "1e3", "abc", "99999999999999999999"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        v = 7;
        expect_invalid(http__limit_parse(bad[i], "rate_limit", 0, 10, &v, &err), &err,
                       "rate_limit");
        assert_int_equal(v, 7); /* untouched */
    }
    const struct {
        const char *text;
        int64_t ms;
    } good[] = {{"24h", 86400000}, {"90", 90000},    {"90s", 90000},
                {"30m", 1800000},  {"1500ms", 1500}, {"365d", (int64_t)365 * 86400000}};
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        assert_int_equal(http__duration_parse(good[i].text, "idempotency_ttl", &v, &err), ERR_OK);
        assert_int_equal(v, good[i].ms);
    }
    const char *bad_d[] = {"0", "0s", "999ms", "366d", "-5s", "5x", "5 s", "h", "", "s5"};
    for (size_t i = 0; i < ARRAY_LEN(bad_d); i++) {
        v = 7;
        expect_invalid(http__duration_parse(bad_d[i], "idempotency_ttl", &v, &err), &err,
                       "idempotency_ttl");
        assert_int_equal(v, 7);
    }
}

/* ---- the table ---- */

static void test_limits__callers_are_independent_and_swept(void **state)
{
    (void)state;
    struct store *s = NULL;
    assert_int_equal(store_open(":memory:", &s, NULL), ERR_OK);
    struct http_limits *l = NULL;
    assert_int_equal(http__limits_new(1, 2, 0, &test_rng, &l, NULL), ERR_OK);
    assert_true(id_valid(http__limits_node(l), "nod"));
    int64_t retry = 0;
    const char *who[] = {"ent_aaaaaaaaaaaaaaaaaaaa", "ent_bbbbbbbbbbbbbbbbbbbb", "ip:127.0.0.1",
                         "ip:2001:db8::1"};
    for (size_t i = 0; i < ARRAY_LEN(who); i++) {
        assert_int_equal(http__limits_admit(l, who[i], T0, &retry), 1);
        assert_int_equal(http__limits_admit(l, who[i], T0, &retry), 1);
        assert_int_equal(http__limits_admit(l, who[i], T0, &retry), 0);
        assert_int_equal(retry, NS);
    }
    assert_int_equal(http__limits_live(l), ARRAY_LEN(who));
    /* One second later each has one request again; the sweep keeps buckets not yet full. */
    assert_int_equal(http__limits_sync(l, s, T0 + NS, WALL0, NULL), ERR_OK);
    assert_int_equal(http__limits_live(l), ARRAY_LEN(who));
    assert_int_equal(http__limits_admit(l, who[0], T0 + NS, &retry), 1);
    assert_int_equal(http__limits_admit(l, who[0], T0 + NS, &retry), 0);
    /* Two seconds on, all are full again and carry nothing: swept. */
    assert_int_equal(http__limits_sync(l, s, T0 + 3 * NS, WALL0, NULL), ERR_OK);
    assert_int_equal(http__limits_live(l), 0);
    assert_int_equal(http__limits_admit(l, who[0], T0 + 3 * NS, &retry), 1);
    http__limits_free(l);
    store_close(s);
}

static void test_limits__full_table_refuses_newcomers(void **state)
{
    (void)state;
    struct store *s = NULL;
    assert_int_equal(store_open(":memory:", &s, NULL), ERR_OK);
    struct http_limits *l = NULL;
    assert_int_equal(http__limits_new(10, 2, 0, &test_rng, &l, NULL), ERR_OK);
    char subject[HTTP_SUBJECT_MAX];
    int64_t retry = 0;
    size_t n = 0;
    for (;; n++) {
        snprintf(subject, sizeof(subject), "ip:10.%zu.%zu.%zu", n >> 16, (n >> 8) & 255, n & 255);
        if (!http__limits_admit(l, subject, T0, &retry)) {
            break;
        }
        assert_true(n < 100000);
    }
    /* Three quarters of 2^15 slots, then newcomers wait a second; known callers go on. */
    assert_int_equal(n, 24576);
    assert_int_equal(http__limits_live(l), n);
    assert_int_equal(retry, NS);
    assert_int_equal(http__limits_admit(l, "ip:10.0.0.0", T0, &retry), 1);
    assert_int_equal(http__limits_admit(l, "ip:10.0.0.0", T0, &retry), 0);
    /* Every bucket is still found after the sweep deletes its neighbours in any order. */
    assert_int_equal(http__limits_sync(l, s, T0 + NS / 10, WALL0, NULL), ERR_OK);
    assert_int_equal(http__limits_live(l), 1); /* ip:10.0.0.0 is still owed: one interval */
    assert_int_equal(http__limits_admit(l, "ip:10.0.0.0", T0 + NS / 10, &retry), 1);
    assert_int_equal(http__limits_admit(l, "ip:10.0.0.0", T0 + NS / 10, &retry), 0);
    assert_int_equal(http__limits_admit(l, subject, T0 + NS / 10, &retry), 1);
    http__limits_free(l);
    store_close(s);
}

/* ---- two nodes ---- */

/* Stores for two nodes: on SQLite one connection serves both (the rows are what matter). */
struct nodes {
    const char *admin;
    char db[MARKET_PG_DB_MAX];
    char url[MARKET_URL_MAX];
    struct store *a;
    struct store *b;
};

/* pg 0: SQLite; pg 1: PostgreSQL, or 0 (skip) without BOURSE_TEST_PG_URL. */
static int nodes_open(struct nodes *n, int pg)
{
    memset(n, 0, sizeof(*n));
    if (!pg) {
        assert_int_equal(store_open(":memory:", &n->a, NULL), ERR_OK);
        n->b = n->a;
        return 1;
    }
    n->admin = market_pg_admin_url();
    if (n->admin == NULL) {
        return 0;
    }
    assert_int_equal(market_pg_db_create(n->admin, "limits", n->db, n->url, sizeof(n->url)),
                     ERR_OK);
    assert_int_equal(store_open(n->url, &n->a, NULL), ERR_OK);
    assert_int_equal(store_open(n->url, &n->b, NULL), ERR_OK);
    assert_true(store_shared(n->a));
    return 1;
}

static void nodes_close(struct nodes *n)
{
    if (n->b != n->a) {
        store_close(n->b);
    }
    store_close(n->a);
    if (n->admin != NULL) {
        assert_int_equal(market_pg_db_drop(n->admin, n->db), ERR_OK);
    }
}

static int64_t rows(struct store *s, const char *table)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    int64_t n = -1;
    assert_int_equal(store_query(s, sql, NULL, 0, store__count_cb, &n, NULL, NULL), ERR_OK);
    return n;
}

static void sync_ok(struct http_limits *l, struct store *s, int64_t now)
{
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = http__limits_sync(l, s, now, WALL0, &err);
    if (rc != ERR_OK) {
        fail_msg("sync: %s", err.msg);
    }
}

static void exchange(int pg)
{
    struct nodes n;
    if (!nodes_open(&n, pg)) {
        skip();
    }
    assert_int_equal(store_shared(n.a), pg);
    struct http_limits *a = NULL, *b = NULL;
    assert_int_equal(http__limits_new(10, 5, 1, &test_rng, &a, NULL), ERR_OK);
    assert_int_equal(http__limits_new(10, 5, 1, &test_rng, &b, NULL), ERR_OK);
    const int64_t T = NS / 10;
    const char *x = "ent_xxxxxxxxxxxxxxxxxxxx";
    int64_t retry = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(http__limits_admit(a, x, T0, &retry), 1);
    }
    assert_int_equal(http__limits_admit(b, x, T0, &retry), 1); /* B has not heard yet */
    sync_ok(a, n.a, T0);                                       /* publishes {x 4} */
    assert_int_equal(rows(n.a, "rate_usage"), 1);
    sync_ok(a, n.a, T0); /* nothing new to say; its own round is not charged to itself */
    assert_int_equal(rows(n.a, "rate_usage"), 1);
    assert_int_equal(http__limits_admit(a, x, T0, &retry), 1); /* A's fifth */
    sync_ok(b, n.b, T0); /* publishes {x 1}, charges A's 4: B's burst is spent */
    assert_int_equal(http__limits_admit(b, x, T0, &retry), 0);
    assert_int_equal(retry, T);
    sync_ok(a, n.a, T0); /* publishes {x 1}, charges B's 1 */
    assert_int_equal(rows(n.a, "rate_usage"), 3);
    sync_ok(b, n.b, T0); /* charges A's second round, not its first again */
    sync_ok(b, n.b, T0);
    /* Both have seen all 6 (T0 + 6T): two intervals later each admits exactly one. */
    assert_int_equal(http__limits_admit(a, x, T0 + 2 * T, &retry), 1);
    assert_int_equal(http__limits_admit(a, x, T0 + 2 * T, &retry), 0);
    assert_int_equal(http__limits_admit(b, x, T0 + 2 * T, &retry), 1);
    assert_int_equal(http__limits_admit(b, x, T0 + 2 * T, &retry), 0);
    http__limits_free(a);
    http__limits_free(b);
    nodes_close(&n);
}

static void test_limits__exchange_sqlite(void **state)
{
    (void)state;
    exchange(0);
}

static void test_limits__exchange_pg(void **state)
{
    (void)state;
    exchange(1);
}

/* A round of 300 callers goes out in two parts, each applied; a malformed round (another
 * version's, a hand edit) is skipped without stopping the others. */
static void parts(int pg)
{
    struct nodes n;
    if (!nodes_open(&n, pg)) {
        skip();
    }
    struct http_limits *a = NULL, *b = NULL;
    assert_int_equal(http__limits_new(1, 1, 1, &test_rng, &a, NULL), ERR_OK);
    assert_int_equal(http__limits_new(1, 1, 1, &test_rng, &b, NULL), ERR_OK);
    char subject[HTTP_SUBJECT_MAX];
    int64_t retry = 0;
    for (int i = 0; i < 300; i++) {
        snprintf(subject, sizeof(subject), "ip:192.0.2.%d:%d", i % 256, i);
        assert_int_equal(http__limits_admit(a, subject, T0, &retry), 1);
    }
    const char *bad[] = {"ent_x\n", "ent_x notanumber\n", "ent_x 0\n", " 5\n", "ent_x -3\n"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct store_rate_usage u = {
            "nod_aaaaaaaaaaaaaaaaaaaa", (int64_t)i + 1, 0, WALL0, bad[i], strlen(bad[i])};
        assert_int_equal(store_rate_publish(n.a, &u, NULL), ERR_OK);
    }
    struct store_rate_usage dup = {"nod_aaaaaaaaaaaaaaaaaaaa", 1, 0, WALL0, "x 1\n", 4};
    assert_int_equal(store_rate_publish(n.a, &dup, NULL), ERR_CONFLICT);
    sync_ok(a, n.a, T0);
    assert_int_equal(rows(n.a, "rate_usage"), 2 + (int64_t)ARRAY_LEN(bad));
    sync_ok(b, n.b, T0);
    assert_int_equal(http__limits_live(b), 300);
    for (int i = 0; i < 300; i += 299) {
        snprintf(subject, sizeof(subject), "ip:192.0.2.%d:%d", i % 256, i);
        assert_int_equal(http__limits_admit(b, subject, T0, &retry), 0);
    }
    assert_int_equal(http__limits_admit(b, "ent_x", T0, &retry), 1); /* bad rows charged nothing */
    http__limits_free(a);
    http__limits_free(b);
    nodes_close(&n);
}

static void test_limits__parts_sqlite(void **state)
{
    (void)state;
    parts(0);
}

static void test_limits__parts_pg(void **state)
{
    (void)state;
    parts(1);
}

/* ---- purges ---- */

static void idem_put(struct store *s, const char *key, int64_t created_ms)
{
    struct store_idem idem;
    memset(&idem, 0, sizeof(idem));
    snprintf(idem.request_hash, sizeof(idem.request_hash), "%064d", 0);
    idem.status = 201;
    idem.body = (char *)"{}";
    idem.created_ms = created_ms;
    assert_int_equal(store_idem_put(s, "ent_p", key, &idem, NULL), ERR_OK);
}

static int idem_there(struct store *s, const char *key)
{
    struct store_idem idem;
    enum err rc = store_idem_get(s, "ent_p", key, &idem, NULL);
    assert_true(rc == ERR_OK || rc == ERR_NOT_FOUND);
    mem_free(rc == ERR_OK ? idem.body : NULL);
    return rc == ERR_OK;
}

static void purges(int pg)
{
    struct nodes n;
    if (!nodes_open(&n, pg)) {
        skip();
    }
    idem_put(n.a, "k300", 300);
    idem_put(n.a, "k100", 100);
    idem_put(n.a, "k200", 200);
    int64_t deleted = -1;
    /* Oldest first, at most max at a time, only before the cut. */
    assert_int_equal(store_idem_purge(n.a, 250, 1, &deleted, NULL), ERR_OK);
    assert_int_equal(deleted, 1);
    assert_false(idem_there(n.a, "k100"));
    assert_true(idem_there(n.a, "k200"));
    assert_int_equal(store_idem_purge(n.a, 250, 10, &deleted, NULL), ERR_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_idem_purge(n.a, 250, 10, &deleted, NULL), ERR_OK);
    assert_int_equal(deleted, 0);
    assert_true(idem_there(n.a, "k300"));
    /* A purged or deleted key is free: the same key can be stored again. */
    idem_put(n.a, "k100", 400);
    assert_int_equal(store_idem_delete(n.a, "ent_p", "k300", NULL), ERR_OK);
    assert_false(idem_there(n.a, "k300"));
    assert_int_equal(store_idem_delete(n.a, "ent_p", "k300", NULL), ERR_OK); /* absent: fine */
    assert_int_equal(rows(n.a, "idempotency"), 1);

    for (int64_t r = 1; r <= 5; r++) {
        struct store_rate_usage u = {"nod_bbbbbbbbbbbbbbbbbbbb", r, 0, r * 1000, "ent_x 1\n", 8};
        assert_int_equal(store_rate_publish(n.a, &u, NULL), ERR_OK);
    }
    assert_int_equal(store_rate_purge(n.b, 3500, 2, &deleted, NULL), ERR_OK);
    assert_int_equal(deleted, 2);
    assert_int_equal(store_rate_purge(n.b, 3500, 2, &deleted, NULL), ERR_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_rate_purge(n.b, 3500, 2, &deleted, NULL), ERR_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(rows(n.a, "rate_usage"), 2);
    nodes_close(&n);
}

static void test_limits__purges_sqlite(void **state)
{
    (void)state;
    purges(0);
}

static void test_limits__purges_pg(void **state)
{
    (void)state;
    purges(1);
}

/* ---- the frozen leader's guard (postgres.c, store_leader_held) ---- */

static enum err text_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    (void)err;
    assert_int_equal(n, 1);
    snprintf(ctx, 32, "%.*s", (int)c[0].len, c[0].s);
    return ERR_OK;
}

static void show(struct store *s, const char *setting, char out[32])
{
    char sql[64];
    snprintf(sql, sizeof(sql), "SHOW %s", setting);
    out[0] = '\0';
    assert_int_equal(store_query(s, sql, NULL, 0, text_cb, out, NULL, NULL), ERR_OK);
}

/* A serving node's sessions end when it goes quiet, other sessions do not; a leader whose
 * session was replaced (by the server ending it) finds out inside its next transaction, even
 * though BEGIN reconnected silently, while the node that took over holds the leadership. */
static void test_limits__pg_leader_guard(void **state)
{
    (void)state;
    struct nodes n;
    if (!nodes_open(&n, 1)) {
        skip();
    }
    char v[32];
    show(n.a, "idle_session_timeout", v);
    assert_string_equal(v, "0"); /* a CLI's store: never ended for idleness */
    int leader = -1;
    assert_int_equal(store_leader_try(n.a, &leader, NULL), ERR_OK);
    assert_int_equal(leader, 1);
    show(n.a, "idle_session_timeout", v);
    assert_string_equal(v, "3s");
    show(n.a, "idle_in_transaction_session_timeout", v);
    assert_string_equal(v, "4s");
    assert_int_equal(store_tx_begin(n.a, NULL), ERR_OK);
    assert_int_equal(store_leader_held(n.a), 1);
    assert_int_equal(store_tx_commit(n.a, NULL), ERR_OK);
    /* The server ends A's session, as idle_session_timeout does to a frozen node. */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '%s'"
             " AND pid <> pg_backend_pid() AND state = 'idle'",
             n.db);
    assert_int_equal(store_exec(n.b, sql, NULL), ERR_OK);
    /* B takes the lock that A's session released. */
    leader = 0;
    for (int i = 0; i < 50 && leader != 1; i++) {
        leader = -1;
        enum err rc = store_leader_try(n.b, &leader, NULL);
        assert_true(rc == ERR_OK || rc == ERR_UNAVAILABLE);
        if (leader != 1) {
            usleep(100 * 1000);
        }
    }
    assert_int_equal(leader, 1);
    assert_int_equal(store_tx_begin(n.a, NULL), ERR_OK); /* reconnects without a word */
    assert_int_equal(store_leader_held(n.a), 0);
    store_tx_rollback(n.a);
    assert_int_equal(store_leader_try(n.a, &leader, NULL), ERR_OK);
    assert_int_equal(leader, 0);
    show(n.a, "idle_session_timeout", v); /* the new session got the timeouts again */
    assert_string_equal(v, "3s");
    assert_int_equal(store_tx_begin(n.b, NULL), ERR_OK);
    assert_int_equal(store_leader_held(n.b), 1);
    assert_int_equal(store_tx_commit(n.b, NULL), ERR_OK);
    nodes_close(&n);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits__gcra_burst_then_rate),
        cmocka_unit_test(test_limits__gcra_charge),
        cmocka_unit_test(test_limits__parse),
        cmocka_unit_test(test_limits__callers_are_independent_and_swept),
        cmocka_unit_test(test_limits__full_table_refuses_newcomers),
        cmocka_unit_test(test_limits__exchange_sqlite),
        cmocka_unit_test(test_limits__exchange_pg),
        cmocka_unit_test(test_limits__parts_sqlite),
        cmocka_unit_test(test_limits__parts_pg),
        cmocka_unit_test(test_limits__purges_sqlite),
        cmocka_unit_test(test_limits__purges_pg),
        cmocka_unit_test(test_limits__pg_leader_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
