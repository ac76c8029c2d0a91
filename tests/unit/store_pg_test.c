/*
 * store_pg_test.c: the store's contract on the PostgreSQL backend, against a real server:
 * migrations and reopening, nested transactions, gapless event numbering and the writer lock
 * between two connections, unique conflicts, column types and LIKE escaping, bad input, and
 * recovery from a lost connection.
 *
 * Needs BOURSE_TEST_PG_URL, the admin URL of a cluster (`make unit-pg` starts one with
 * scripts/pg.sh); without it every test is skipped. Each test runs in a database of its own,
 * created by its setup and dropped by its teardown.
 */
#include "util/compat.h"
#include "store/store.h"

#include "market.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

struct pg_fixture {
    const char *admin; /* BOURSE_TEST_PG_URL, NULL when unset */
    char db[MARKET_PG_DB_MAX];
    char url[MARKET_URL_MAX];
    struct store *s;
};

static struct pg_fixture fx;

/* Runs sql on the admin database through the backend itself. */
static enum err admin_exec(const char *sql)
{
    return market_pg_admin(fx.admin, sql);
}

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    fx.admin = market_pg_admin_url();
    if (fx.admin == NULL) {
        return 0;
    }
    if (market_pg_db_create(fx.admin, "unit", fx.db, fx.url, sizeof(fx.url)) != ERR_OK) {
        return -1;
    }
    struct errbuf err;
    errbuf_init(&err);
    if (store_open(fx.url, &fx.s, &err) != ERR_OK) {
        fprintf(stderr, "# cannot open '%s': %s\n", fx.url, err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (fx.admin == NULL) {
        return 0;
    }
    if (fx.s != NULL && store_tx_depth(fx.s) == 0) {
        store_close(fx.s);
    }
    fx.s = NULL;
    return market_pg_db_drop(fx.admin, fx.db) == ERR_OK ? 0 : -1;
}

/* Every test starts with this: skips without a server. */
#define NEED_PG()                                                                                  \
    do {                                                                                           \
        (void)state;                                                                               \
        if (fx.admin == NULL) {                                                                    \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Kills the store's server connection from outside, as a database restart would. */
static void kill_connection(void)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '%s'",
             fx.db);
    assert_int_equal(admin_exec(sql), ERR_OK);
}

static int64_t count_events(struct store *s)
{
    int64_t n = -1;
    assert_int_equal(store_event_count(s, &n, NULL), ERR_OK);
    return n;
}

static void append(struct store *s, const char *type, int64_t expect_seq)
{
    json_t *body = json_pack("{s:s}", "k", "值");
    int64_t seq = -1;
    assert_int_equal(store_event_append(s, type, "ent_a", "ent_b", 1000, body, &seq, NULL), ERR_OK);
    assert_int_equal(seq, expect_seq);
    json_decref(body);
}

static enum err count_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    (void)err;
    assert_int_equal(n, 1);
    assert_int_equal(c[0].type, STORE_INT);
    *(int64_t *)ctx = c[0].i;
    return ERR_OK;
}

static void entity_make(struct store_entity *e, int i, const char *name)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "ent_%020d", i);
    snprintf(e->kind, sizeof(e->kind), "buyer");
    snprintf(e->status, sizeof(e->status), "verified");
    snprintf(e->name, sizeof(e->name), "%s", name);
    snprintf(e->country, sizeof(e->country), "CN");
    e->created_ms = 100 + i;
}

static void test_store__pg_migrations(void **state)
{
    NEED_PG();
    assert_string_equal(store_backend_name(fx.s), "postgres");
    int version = 0;
    assert_int_equal(store_schema_version(fx.s, &version, NULL), ERR_OK);
    assert_int_equal(version, store_schema_version_latest());
    assert_int_equal(store_meta_put(fx.s, "k", "v1", NULL), ERR_OK);
    assert_int_equal(store_meta_put(fx.s, "k", "v2", NULL), ERR_OK); /* ON CONFLICT upsert */
    store_close(fx.s);
    fx.s = NULL;
    /* Reopening applies nothing twice and keeps the data. */
    assert_int_equal(store_open(fx.url, &fx.s, NULL), ERR_OK);
    assert_int_equal(store_schema_version(fx.s, &version, NULL), ERR_OK);
    assert_int_equal(version, store_schema_version_latest());
    char *v = NULL;
    assert_int_equal(store_meta_get(fx.s, "k", &v, NULL), ERR_OK);
    assert_string_equal(v, "v2");
    mem_free(v);
    /* A schema newer than this binary is refused. */
    assert_int_equal(store_exec(fx.s, "INSERT INTO schema_migrations VALUES (999)", NULL), ERR_OK);
    store_close(fx.s);
    fx.s = NULL;
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(store_open(fx.url, &fx.s, &err), ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "newer"));
}

/* Several servers starting at once on a new database: each open succeeds, and the schema is
 * migrated once. */
static void test_store__pg_concurrent_first_open(void **state)
{
    NEED_PG();
    enum { NODES = 4 };
    char db[80];
    char url[MARKET_URL_MAX];
    char sql[128];
    snprintf(db, sizeof(db), "%s_race", fx.db);
    market_pg_url(fx.admin, db, url, sizeof(url));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    assert_int_equal(admin_exec(sql), ERR_OK);
    pid_t pids[NODES];
    for (int i = 0; i < NODES; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            struct store *s = NULL;
            struct errbuf err;
            errbuf_init(&err);
            enum err rc = store_open(url, &s, &err);
            if (rc != ERR_OK) {
                fprintf(stderr, "# node %d: %s\n", i, err.msg);
            }
            store_close(s);
            _exit(rc == ERR_OK ? 0 : 1);
        }
    }
    int failed = 0;
    for (int i = 0; i < NODES; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    struct store *s = NULL;
    assert_int_equal(store_open(url, &s, NULL), ERR_OK);
    int64_t n = 0;
    assert_int_equal(
        store_query(s, "SELECT COUNT(*) FROM schema_migrations", NULL, 0, count_cb, &n, NULL, NULL),
        ERR_OK);
    store_close(s);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db);
    assert_int_equal(admin_exec(sql), ERR_OK);
    assert_int_equal(failed, 0);
    assert_int_equal(n, store_schema_version_latest());
}

static void test_store__pg_nested_transactions(void **state)
{
    NEED_PG();
    struct store *s = fx.s;
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "a", 0);
    assert_int_equal(store_meta_put(s, "outer", "kept", NULL), ERR_OK);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "b", 1);
    assert_int_equal(store_meta_put(s, "inner", "lost", NULL), ERR_OK);
    store_tx_rollback(s); /* the savepoint only */
    assert_int_equal(store_tx_depth(s), 1);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "c", 1); /* numbering stays gapless after a rollback */
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    assert_int_equal(store_tx_depth(s), 0);
    assert_int_equal(count_events(s), 2);
    char *v = NULL;
    assert_int_equal(store_meta_get(s, "outer", &v, NULL), ERR_OK);
    assert_string_equal(v, "kept");
    mem_free(v);
    assert_int_equal(store_meta_get(s, "inner", &v, NULL), ERR_NOT_FOUND);
    /* Rolling back the outermost level undoes the inner committed levels too. */
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "d", 2);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    store_tx_rollback(s);
    assert_int_equal(count_events(s), 2);
    /* The leaf bytes are the same canonical JSON as on SQLite. */
    struct store_event *evs = NULL;
    size_t n = 0;
    assert_int_equal(store_event_range(s, 0, 10, &evs, &n, NULL), ERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(evs[1].type, "c");
    assert_string_equal(evs[1].leaf,
                        "{\"actor\":\"ent_a\",\"body\":{\"k\":\"值\"},\"seq\":1,\"subject\":"
                        "\"ent_b\",\"time\":\"1970-01-01T00:00:01.000Z\",\"type\":\"c\",\"v\":1}");
    for (size_t i = 0; i < n; i++) {
        store_event_release(&evs[i]);
    }
    mem_free(evs);
}

/* Two stores are two nodes: the writer lock makes the second wait for the first, so that the
 * sequence stays gapless across nodes. */
static void test_store__pg_event_numbering_across_nodes(void **state)
{
    NEED_PG();
    struct store *a = fx.s;
    struct store *b = NULL;
    assert_int_equal(store_open(fx.url, &b, NULL), ERR_OK);
    for (int64_t i = 0; i < 3; i++) {
        struct store *w = i % 2 ? b : a;
        assert_int_equal(store_tx_begin(w, NULL), ERR_OK);
        append(w, "n", i);
        assert_int_equal(store_tx_commit(w, NULL), ERR_OK);
    }
    assert_int_equal(store_tx_begin(a, NULL), ERR_OK);
    append(a, "held", 3);
    /* b cannot start writing while a holds the lock; it gives up after the lock timeout. */
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(store_tx_begin(b, &err), ERR_UNAVAILABLE);
    assert_int_equal(store_tx_depth(b), 0);
    assert_int_equal(count_events(b), 3); /* readers are not blocked */
    assert_int_equal(store_tx_commit(a, NULL), ERR_OK);
    /* The failed begin left b's connection usable and outside any transaction. */
    assert_int_equal(store_tx_begin(b, NULL), ERR_OK);
    append(b, "after", 4);
    assert_int_equal(store_tx_commit(b, NULL), ERR_OK);
    assert_int_equal(count_events(a), 5);
    store_close(b);
}

static void test_store__pg_unique_conflicts(void **state)
{
    NEED_PG();
    struct store *s = fx.s;
    struct store_entity e;
    entity_make(&e, 1, "first");
    assert_int_equal(store_entity_insert(s, &e, NULL), ERR_OK);
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(store_entity_insert(s, &e, &err), ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "duplicate key"));
    int64_t n = 0;
    assert_int_equal(store_entity_count(s, &n, NULL), ERR_OK); /* nothing left aborted */
    assert_int_equal(n, 1);
    /* Inside a transaction: the failed savepoint is rolled back and the outer work goes on. */
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "x", 0);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    assert_int_equal(store_entity_insert(s, &e, NULL), ERR_CONFLICT);
    store_tx_rollback(s);
    struct store_entity e2;
    entity_make(&e2, 2, "second");
    assert_int_equal(store_entity_insert(s, &e2, NULL), ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    assert_int_equal(store_entity_count(s, &n, NULL), ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(count_events(s), 1);
    /* A transaction whose statement failed cannot be committed as if nothing happened. */
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "y", 1);
    assert_int_equal(store_entity_insert(s, &e, NULL), ERR_CONFLICT);
    assert_int_not_equal(store_tx_commit(s, NULL), ERR_OK);
    assert_int_equal(store_tx_depth(s), 0);
    assert_int_equal(count_events(s), 1);
    /* A foreign key is an integrity violation too. */
    struct store_api_key k;
    memset(&k, 0, sizeof(k));
    snprintf(k.id, sizeof(k.id), "key_00000000000000000001");
    snprintf(k.entity_id, sizeof(k.entity_id), "ent_nobody");
    snprintf(k.secret_hash, sizeof(k.secret_hash), "00");
    assert_int_equal(store_api_key_insert(s, &k, NULL), ERR_CONFLICT);
}

struct cols_ctx {
    int rows;
    struct store_value v[8];
    char text[2][32];
};

static enum err cols_cb(void *ctx, const struct store_value *cols, size_t n, struct errbuf *err)
{
    (void)err;
    struct cols_ctx *c = ctx;
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++) {
        c->v[i] = cols[i];
    }
    snprintf(c->text[0], sizeof(c->text[0]), "%.*s", (int)cols[4].len, cols[4].s);
    snprintf(c->text[1], sizeof(c->text[1]), "%.*s", (int)cols[5].len, cols[5].s);
    c->rows++;
    return ERR_OK;
}

static void test_store__pg_types_and_like(void **state)
{
    NEED_PG();
    struct store *s = fx.s;
    struct cols_ctx c;
    memset(&c, 0, sizeof(c));
    struct store_value p[] = {store_text("héllo"), store_int(INT64_MIN)};
    assert_int_equal(
        store_query(s,
                    "SELECT CAST(1 AS SMALLINT), CAST(2 AS INTEGER), CAST(-3 AS BIGINT),"
                    " NULL, 'x', CAST($1 AS TEXT), $2",
                    p, ARRAY_LEN(p), cols_cb, &c, NULL, NULL),
        ERR_OK);
    assert_int_equal(c.rows, 1);
    assert_int_equal(c.v[0].type, STORE_INT);
    assert_int_equal(c.v[0].i, 1);
    assert_int_equal(c.v[1].type, STORE_INT);
    assert_int_equal(c.v[1].i, 2);
    assert_int_equal(c.v[2].type, STORE_INT);
    assert_int_equal(c.v[2].i, -3);
    assert_int_equal(c.v[3].type, STORE_NULL);
    assert_int_equal(c.v[4].type, STORE_TEXT);
    assert_string_equal(c.text[0], "x");
    assert_string_equal(c.text[1], "héllo");
    assert_int_equal(c.v[6].type, STORE_INT);
    assert_true(c.v[6].i == INT64_MIN);
    /* A text parameter is bound by length, not by a terminating NUL. */
    memset(&c, 0, sizeof(c));
    struct store_value p2[] = {{STORE_TEXT, 0, "abcdef", 3}, store_null()};
    assert_int_equal(store_query(s, "SELECT 1, 2, 3, NULL, 'x', CAST($1 AS TEXT), $2", p2, 2,
                                 cols_cb, &c, NULL, NULL),
                     ERR_OK);
    assert_string_equal(c.text[1], "abc");
    assert_int_equal(c.v[6].type, STORE_NULL);
    /* LIKE metacharacters in q are literal (standard_conforming_strings and ESCAPE '\'). */
    const char *names[] = {"100% pure", "1000 pure", "a_b", "axb", "back\\slash"};
    for (int i = 0; i < (int)ARRAY_LEN(names); i++) {
        struct store_entity e;
        entity_make(&e, i, names[i]);
        assert_int_equal(store_entity_insert(s, &e, NULL), ERR_OK);
    }
    struct {
        const char *q;
        size_t count;
    } cases[] = {{"0%", 1}, {"a_b", 1}, {"\\", 1}, {"pure", 2}, {"_", 1}, {"%", 1}};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct store_entity_filter f = {.limit = 10, .q = cases[i].q};
        struct store_entity_page page;
        assert_int_equal(store_entity_list(s, &f, &page, NULL), ERR_OK);
        assert_int_equal(page.count, cases[i].count);
        store_entity_page_release(&page);
    }
    /* Cursor paging and filters with typed NULL parameters. */
    struct store_entity_filter f = {.limit = 2, .kind = "buyer", .country = "CN"};
    struct store_entity_page page;
    assert_int_equal(store_entity_list(s, &f, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 2);
    char cursor[STORE_CURSOR_MAX];
    snprintf(cursor, sizeof(cursor), "%s", page.next_cursor);
    store_entity_page_release(&page);
    f.cursor = cursor;
    f.limit = 10;
    assert_int_equal(store_entity_list(s, &f, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 3);
    assert_string_equal(page.next_cursor, "");
    store_entity_page_release(&page);
}

static void test_store__pg_bad_input(void **state)
{
    NEED_PG();
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(store_exec(fx.s, "SELEC 1", &err), ERR_IO);
    assert_non_null(strstr(err.msg, "syntax error"));
    struct store_value nul = {STORE_TEXT, 0, "a\0b", 3};
    assert_int_equal(store_query(fx.s, "SELECT CAST($1 AS TEXT)", &nul, 1, NULL, NULL, NULL, &err),
                     ERR_INVALID);
    struct store *other = NULL;
    errbuf_init(&err);
    assert_int_equal(store_open("postgres://bourse@127.0.0.1/x?colour=red", &other, &err),
                     ERR_INVALID);
    assert_string_equal(err.field, "db");
    errbuf_init(&err);
    assert_int_equal(
        store_open("postgresql://bourse@127.0.0.1:1/x?connect_timeout=2", &other, &err),
        ERR_UNAVAILABLE);
    assert_null(other);
    /* The store still works. */
    int64_t n = -1;
    assert_int_equal(store_entity_count(fx.s, &n, NULL), ERR_OK);
    assert_int_equal(n, 0);
}

static void test_store__pg_lost_connection(void **state)
{
    NEED_PG();
    struct store *s = fx.s;
    /* Between statements: the next one reconnects unseen. */
    kill_connection();
    int64_t n = -1;
    assert_int_equal(store_entity_count(s, &n, NULL), ERR_OK);
    assert_int_equal(n, 0);
    kill_connection();
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "kept", 0);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    /* Inside a transaction: everything fails until the rollback, nothing is half-written,
     * and no statement of the lost transaction runs on the new connection. */
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "lost", 1);
    assert_int_equal(store_meta_put(s, "lost", "1", NULL), ERR_OK);
    kill_connection();
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(store_meta_put(s, "after", "1", &err), ERR_UNAVAILABLE);
    char *v = NULL;
    assert_int_equal(store_meta_get(s, "lost", &v, NULL), ERR_UNAVAILABLE);
    assert_int_not_equal(store_tx_commit(s, NULL), ERR_OK);
    assert_int_equal(store_tx_depth(s), 0);
    assert_int_equal(count_events(s), 1);
    assert_int_equal(store_meta_get(s, "lost", &v, NULL), ERR_NOT_FOUND);
    assert_int_equal(store_meta_get(s, "after", &v, NULL), ERR_NOT_FOUND);
    /* A lost savepoint level: its rollback and the outer rollback close the transaction. */
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "lost", 1);
    kill_connection();
    assert_int_equal(store_meta_put(s, "x", "1", NULL), ERR_UNAVAILABLE);
    store_tx_rollback(s);
    store_tx_rollback(s);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "next", 1);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    assert_int_equal(count_events(s), 2);
}

/* The server's read pool: a read-only connection reads what the writer committed at once, and
 * refuses every write (the database's 25006, and store_tx_begin itself), also after it
 * reconnects; nothing it tried is stored. */
static void test_store__pg_read_only(void **state)
{
    NEED_PG();
    struct store *r = NULL;
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(
        store_open_with(fx.url, STORE_OPEN_NO_MIGRATE | STORE_OPEN_READ_ONLY, &r, &err), ERR_OK);
    assert_int_equal(store_meta_put(fx.s, "seen", "1", NULL), ERR_OK);
    char *v = NULL;
    assert_int_equal(store_meta_get(r, "seen", &v, NULL), ERR_OK);
    assert_string_equal(v, "1");
    mem_free(v);
    assert_int_equal(store_tx_begin(r, &err), ERR_IO);
    assert_non_null(strstr(err.msg, "read-only"));
    assert_int_equal(store_tx_depth(r), 0);
    for (int round = 0; round < 2; round++) {
        errbuf_init(&err);
        assert_int_not_equal(store_meta_put(r, "written", "1", &err), ERR_OK);
        assert_non_null(strstr(err.msg, "read-only"));
        v = NULL;
        assert_int_equal(store_meta_get(fx.s, "written", &v, NULL), ERR_NOT_FOUND);
        kill_connection(); /* the next statement reconnects: the setting must come back */
        assert_int_equal(store_meta_get(r, "seen", &v, NULL), ERR_OK);
        mem_free(v);
    }
    assert_int_equal(count_events(fx.s), 0);
    store_close(r);
}

static int leader(struct store *s)
{
    int is_leader = -1;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = store_leader_try(s, &is_leader, &err);
    if (rc != ERR_OK) {
        fail_msg("store_leader_try: %s", err.msg);
    }
    return is_leader;
}

/* Takes over within a bound: PostgreSQL releases a closed session's locks asynchronously,
 * when its backend process exits, so the next node may have to ask a few times. */
static int leader_within(struct store *s, int tries)
{
    for (int i = 0; i < tries; i++) {
        if (leader(s)) {
            return 1;
        }
        usleep(50 * 1000);
    }
    return 0;
}

/* Two connections are two nodes: one leads; the other takes over when the leader's connection
 * closes or is killed, and a leader whose connection was reset notices that it lost the lock. */
static void test_store__pg_leader(void **state)
{
    NEED_PG();
    struct store *a = fx.s;
    struct store *b = NULL;
    assert_int_equal(store_open(fx.url, &b, NULL), ERR_OK);
    assert_int_equal(leader(a), 1);
    assert_int_equal(leader(b), 0);
    assert_int_equal(leader(a), 1); /* asking again keeps it */
    assert_int_equal(leader(b), 0);
    /* The leader closes: the other takes over at its next try. */
    store_close(a);
    fx.s = NULL;
    assert_int_equal(leader_within(b, 100), 1);
    assert_int_equal(store_open(fx.url, &a, NULL), ERR_OK);
    fx.s = a;
    assert_int_equal(leader(a), 0);
    /* Both connections are killed: b reconnects without the lock and must not believe it
     * still leads; whoever asks first after the kill leads. */
    kill_connection();
    assert_int_equal(leader(a), 1);
    assert_int_equal(leader(b), 0);
    /* Only the leader's connection is killed (b is idle in another session). */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(l.pid, 5000) FROM pg_locks AS l JOIN pg_database AS d"
             " ON d.oid = l.database WHERE d.datname = '%s' AND l.locktype = 'advisory'"
             " AND l.objid = %u AND l.granted",
             fx.db, (unsigned)(0x626F757273650002 & 0xffffffffu));
    assert_int_equal(admin_exec(sql), ERR_OK);
    assert_int_equal(leader_within(b, 100), 1);
    assert_int_equal(leader(a), 0);
    store_close(b);
    assert_int_equal(leader_within(a, 100), 1);
}

/* An exchange moves from SQLite to PostgreSQL with its log byte for byte; a second copy into
 * the now non-empty database is refused. */
static void test_store__pg_copy_from_sqlite(void **state)
{
    NEED_PG();
    struct store *from = NULL;
    assert_int_equal(store_open(":memory:", &from, NULL), ERR_OK);
    assert_int_equal(store_tx_begin(from, NULL), ERR_OK);
    for (int64_t i = 0; i < 5; i++) {
        append(from, "e", i);
    }
    struct store_entity e;
    entity_make(&e, 1, "名字 'quoted' \\ %_");
    assert_int_equal(store_entity_insert(from, &e, NULL), ERR_OK);
    uint8_t hash[STORE_TLOG_HASH_LEN];
    memset(hash, 0xcd, sizeof(hash));
    assert_int_equal(store_tlog_hash_write(from, 7, hash, NULL), ERR_OK);
    char note[] = "example.org/log\n5\nzc3NzQ==\n\n— example.org/log abcd\n";
    struct store_checkpoint cp = {5, {0}, note, 99};
    memcpy(cp.root_hash, hash, sizeof(hash));
    assert_int_equal(store_checkpoint_put(from, &cp, NULL), ERR_OK);
    assert_int_equal(store_tx_commit(from, NULL), ERR_OK);
    int64_t rows = 0;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = store_copy(from, fx.s, &rows, &err);
    if (rc != ERR_OK) {
        fail_msg("copy: %s", err.msg);
    }
    assert_int_equal(rows, 8);
    struct store_event *a = NULL;
    struct store_event *b = NULL;
    size_t na = 0;
    size_t nb = 0;
    assert_int_equal(store_event_range(from, 0, 10, &a, &na, NULL), ERR_OK);
    assert_int_equal(store_event_range(fx.s, 0, 10, &b, &nb, NULL), ERR_OK);
    assert_int_equal(na, 5);
    assert_int_equal(nb, 5);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(a[i].seq, b[i].seq);
        assert_int_equal(a[i].leaf_len, b[i].leaf_len);
        assert_memory_equal(a[i].leaf, b[i].leaf, a[i].leaf_len);
        store_event_release(&a[i]);
        store_event_release(&b[i]);
    }
    mem_free(a);
    mem_free(b);
    struct store_checkpoint got;
    assert_int_equal(store_checkpoint_get(fx.s, 5, &got, NULL), ERR_OK);
    assert_string_equal(got.note, note);
    assert_memory_equal(got.root_hash, hash, sizeof(hash));
    assert_int_equal(got.created_ms, 99);
    store_checkpoint_release(&got);
    uint64_t id = 7;
    uint8_t read[1][STORE_TLOG_HASH_LEN];
    assert_int_equal(store_tlog_hashes_read(fx.s, &id, 1, read, NULL), ERR_OK);
    assert_memory_equal(read[0], hash, sizeof(hash));
    struct store_entity got_e;
    assert_int_equal(store_entity_get(fx.s, e.id, &got_e, NULL), ERR_OK);
    assert_string_equal(got_e.name, e.name);
    /* The target is not empty any more. */
    assert_int_equal(store_copy(from, fx.s, &rows, &err), ERR_CONFLICT);
    assert_int_equal(count_events(fx.s), 5);
    store_close(from);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store__pg_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__pg_concurrent_first_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__pg_nested_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__pg_event_numbering_across_nodes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__pg_unique_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__pg_types_and_like, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__pg_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__pg_lost_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__pg_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__pg_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__pg_copy_from_sqlite, setup, teardown),
    };
    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests_name("store_pg", tests, NULL, NULL);
}
