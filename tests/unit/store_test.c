/*
 * store_test.c: the store's own contract on the SQLite backend: migrations and reopening,
 * nested transactions, gapless event numbering with canonical leaves, conflicts, paging.
 */
#include "util/compat.h"
#include "store/store.h"

#include "test_support.h"

#include <stdio.h>
#include <unistd.h>

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

static void test_store__nested_transactions(void **state)
{
    (void)state;
    struct store *s = NULL;
    assert_int_equal(store_open(":memory:", &s, NULL), ERR_OK);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "a", 0);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "b", 1);
    store_tx_rollback(s); /* the inner level only */
    assert_int_equal(store_tx_depth(s), 1);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "c", 1); /* numbering stays gapless after a rollback */
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    assert_int_equal(count_events(s), 2);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "d", 2);
    store_tx_rollback(s);
    assert_int_equal(count_events(s), 2);
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
    store_close(s);
}

static void test_store__reopen_keeps_schema_and_data(void **state)
{
    (void)state;
    char dir[] = "/tmp/bourse-store-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/db", dir);
    struct store *s = NULL;
    assert_int_equal(store_open(path, &s, NULL), ERR_OK);
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "x", 0);
    assert_int_equal(store_meta_put(s, "k", "v1", NULL), ERR_OK);
    assert_int_equal(store_meta_put(s, "k", "v2", NULL), ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
    store_close(s);
    assert_int_equal(store_open(path, &s, NULL), ERR_OK);
    int version = 0;
    assert_int_equal(store_schema_version(s, &version, NULL), ERR_OK);
    assert_int_equal(version, store_schema_version_latest());
    assert_int_equal(count_events(s), 1);
    char *v = NULL;
    assert_int_equal(store_meta_get(s, "k", &v, NULL), ERR_OK);
    assert_string_equal(v, "v2");
    mem_free(v);
    assert_int_equal(store_meta_get(s, "none", &v, NULL), ERR_NOT_FOUND);
    /* A schema newer than this binary is refused. */
    assert_int_equal(store_exec(s, "INSERT INTO schema_migrations VALUES (999)", NULL), ERR_OK);
    store_close(s);
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(store_open(path, &s, &err), ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "newer"));
    unlink(path);
}

static void test_store__conflicts_and_paging(void **state)
{
    (void)state;
    struct store *s = NULL;
    assert_int_equal(store_open(":memory:", &s, NULL), ERR_OK);
    struct store_entity e;
    memset(&e, 0, sizeof(e));
    for (int i = 0; i < 7; i++) {
        snprintf(e.id, sizeof(e.id), "ent_%020d", i);
        snprintf(e.kind, sizeof(e.kind), "%s", i % 2 ? "buyer" : "provider");
        snprintf(e.status, sizeof(e.status), "verified");
        snprintf(e.name, sizeof(e.name), "名字 %d%%_", i);
        snprintf(e.country, sizeof(e.country), "CN");
        e.created_ms = 100 + i / 2; /* ties in time are broken by id */
        assert_int_equal(store_entity_insert(s, &e, NULL), ERR_OK);
    }
    assert_int_equal(store_entity_insert(s, &e, NULL), ERR_CONFLICT);
    struct store_entity_filter f = {.limit = 3};
    struct store_entity_page page;
    int seen = 0;
    char cursor[STORE_CURSOR_MAX] = "";
    do {
        f.cursor = cursor[0] != '\0' ? cursor : NULL;
        assert_int_equal(store_entity_list(s, &f, &page, NULL), ERR_OK);
        for (size_t i = 0; i < page.count; i++) {
            char want[ID_MAX];
            snprintf(want, sizeof(want), "ent_%020d", seen++);
            assert_string_equal(page.items[i].id, want);
        }
        snprintf(cursor, sizeof(cursor), "%s", page.next_cursor);
        store_entity_page_release(&page);
    } while (cursor[0] != '\0');
    assert_int_equal(seen, 7);
    /* LIKE metacharacters in q are literal. */
    f.cursor = NULL;
    f.q = "%_";
    assert_int_equal(store_entity_list(s, &f, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 3);
    store_entity_page_release(&page);
    f.q = "6%";
    assert_int_equal(store_entity_list(s, &f, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 1);
    store_entity_page_release(&page);
    f.q = NULL;
    f.kind = "buyer";
    f.limit = 100;
    assert_int_equal(store_entity_list(s, &f, &page, NULL), ERR_OK);
    assert_int_equal(page.count, 3);
    store_entity_page_release(&page);
    const char *bad[] = {"x", "1.", ".ent_00000000000000000001", "1.ent_bad", "-1.x"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        f.cursor = bad[i];
        struct errbuf err;
        errbuf_init(&err);
        assert_int_equal(store_entity_list(s, &f, &page, &err), ERR_INVALID);
        assert_string_equal(err.field, "cursor");
    }
    store_close(s);
}

/* A store with one row in the log tables, an entity, metadata and an idempotent response. */
static void fill(struct store *s)
{
    assert_int_equal(store_tx_begin(s, NULL), ERR_OK);
    append(s, "x", 0);
    append(s, "y", 1);
    struct store_entity e;
    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "ent_%020d", 1);
    snprintf(e.kind, sizeof(e.kind), "buyer");
    snprintf(e.status, sizeof(e.status), "verified");
    snprintf(e.name, sizeof(e.name), "名字 'quoted'");
    snprintf(e.country, sizeof(e.country), "CN");
    assert_int_equal(store_entity_insert(s, &e, NULL), ERR_OK);
    assert_int_equal(store_meta_put(s, "k", "v", NULL), ERR_OK);
    uint8_t hash[STORE_TLOG_HASH_LEN];
    memset(hash, 0xab, sizeof(hash));
    assert_int_equal(store_tlog_hash_write(s, 0, hash, NULL), ERR_OK);
    char note[] = "origin\n2\nroot\n\n— sig\n";
    struct store_checkpoint cp = {2, {0}, note, 77};
    memcpy(cp.root_hash, hash, sizeof(hash));
    assert_int_equal(store_checkpoint_put(s, &cp, NULL), ERR_OK);
    char body[] = "{\"a\":1}";
    struct store_idem idem = {"h", 201, body, 5};
    assert_int_equal(store_idem_put(s, "ent_p", "key-1", &idem, NULL), ERR_OK);
    assert_int_equal(store_tx_commit(s, NULL), ERR_OK);
}

/* The copy moves every table the migrations create: a migration that adds a table the copy
 * does not know fails here. Values arrive unchanged, and a non-empty target is refused. */
static void test_store__copy_knows_every_table(void **state)
{
    (void)state;
    struct store *from = NULL;
    struct store *to = NULL;
    assert_int_equal(store_open(":memory:", &from, NULL), ERR_OK);
    assert_int_equal(store_open(":memory:", &to, NULL), ERR_OK);
    fill(from);
    int64_t rows = 0;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = store_copy(from, to, &rows, &err);
    if (rc != ERR_OK) {
        fail_msg("copy of a fresh schema failed: %s", err.msg);
    }
    assert_int_equal(rows, 7);
    struct store_event *evs = NULL;
    size_t n = 0;
    assert_int_equal(store_event_range(to, 0, 10, &evs, &n, NULL), ERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(evs[1].type, "y");
    assert_non_null(strstr(evs[1].leaf, "\"seq\":1"));
    for (size_t i = 0; i < n; i++) {
        store_event_release(&evs[i]);
    }
    mem_free(evs);
    struct store_checkpoint cp;
    assert_int_equal(store_checkpoint_latest(to, &cp, NULL), ERR_OK);
    assert_int_equal(cp.tree_size, 2);
    assert_string_equal(cp.note, "origin\n2\nroot\n\n— sig\n");
    assert_int_equal(cp.root_hash[31], 0xab);
    store_checkpoint_release(&cp);
    struct store_entity e;
    assert_int_equal(store_entity_get(to, "ent_00000000000000000001", &e, NULL), ERR_OK);
    assert_string_equal(e.name, "名字 'quoted'");
    struct store_idem idem;
    assert_int_equal(store_idem_get(to, "ent_p", "key-1", &idem, NULL), ERR_OK);
    assert_string_equal(idem.body, "{\"a\":1}");
    mem_free(idem.body);
    /* A second copy into the now non-empty target is refused and changes nothing. */
    assert_int_equal(store_copy(from, to, &rows, &err), ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "not empty"));
    int64_t count = 0;
    assert_int_equal(store_event_count(to, &count, NULL), ERR_OK);
    assert_int_equal(count, 2);
    store_close(to);
    /* A table the copy does not know is refused rather than left behind. */
    assert_int_equal(store_open(":memory:", &to, NULL), ERR_OK);
    assert_int_equal(store_exec(from, "CREATE TABLE unknown_table (id BIGINT)", NULL), ERR_OK);
    assert_int_equal(store_copy(from, to, &rows, &err), ERR_INVALID);
    assert_non_null(strstr(err.msg, "unknown_table"));
    assert_int_equal(store_event_count(to, &count, NULL), ERR_OK);
    assert_int_equal(count, 0);
    store_close(to);
    store_close(from);
}

/* One process holds a SQLite database, so it always leads the log. */
static void test_store__leader_sqlite(void **state)
{
    (void)state;
    struct store *s = NULL;
    assert_int_equal(store_open(":memory:", &s, NULL), ERR_OK);
    for (int i = 0; i < 2; i++) {
        int leader = -1;
        assert_int_equal(store_leader_try(s, &leader, NULL), ERR_OK);
        assert_int_equal(leader, 1);
    }
    store_close(s);
}

/* Status of a never-migrated, a migrated and a filled database. */
/* A read-only connection (the server's read pool; on SQLite only tools would open one, as
 * the server holds its file exclusively) reads, and refuses every write. */
static void test_store__read_only(void **state)
{
    (void)state;
    char path[] = "/tmp/bourse-store-ro-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct store *s = NULL;
    assert_int_equal(store_open(path, &s, NULL), ERR_OK);
    assert_int_equal(store_meta_put(s, "seen", "1", NULL), ERR_OK);
    store_close(s);
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(store_open_with(path, STORE_OPEN_NO_MIGRATE | STORE_OPEN_READ_ONLY, &s, &err),
                     ERR_OK);
    char *v = NULL;
    assert_int_equal(store_meta_get(s, "seen", &v, NULL), ERR_OK);
    assert_string_equal(v, "1");
    mem_free(v);
    assert_int_equal(store_tx_begin(s, &err), ERR_IO);
    assert_int_equal(store_tx_depth(s), 0);
    assert_int_not_equal(store_meta_put(s, "written", "1", NULL), ERR_OK);
    assert_int_equal(store_meta_get(s, "written", &v, NULL), ERR_NOT_FOUND);
    assert_int_equal(count_events(s), 0);
    store_close(s);
    unlink(path);
}

static void test_store__status(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct store_status st;
    assert_int_equal(store_open_with(":memory:", STORE_OPEN_NO_MIGRATE, &s, NULL), ERR_OK);
    assert_int_equal(store_status_read(s, &st, NULL), ERR_OK);
    assert_string_equal(st.backend, "sqlite");
    assert_int_equal(st.schema_version, 0);
    assert_int_equal(st.schema_latest, store_schema_version_latest());
    assert_int_equal(st.event_count, -1);
    int applied = 0;
    assert_int_equal(store_migrate(s, &applied, NULL), ERR_OK);
    assert_int_equal(applied, store_schema_version_latest());
    assert_int_equal(store_migrate(s, &applied, NULL), ERR_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(store_status_read(s, &st, NULL), ERR_OK);
    assert_int_equal(st.schema_version, st.schema_latest);
    assert_int_equal(st.event_count, 0);
    assert_int_equal(st.checkpoint_size, 0);
    fill(s);
    assert_int_equal(store_status_read(s, &st, NULL), ERR_OK);
    assert_int_equal(st.event_count, 2);
    assert_int_equal(st.checkpoint_size, 2);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store__nested_transactions),
        cmocka_unit_test(test_store__reopen_keeps_schema_and_data),
        cmocka_unit_test(test_store__conflicts_and_paging),
        cmocka_unit_test(test_store__copy_knows_every_table),
        cmocka_unit_test(test_store__leader_sqlite),
        cmocka_unit_test(test_store__status),
        cmocka_unit_test(test_store__read_only),
    };
    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
