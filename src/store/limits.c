/*
 * limits.c: the rows behind two limits that must hold across nodes: the retention of stored
 * idempotent responses, and the rate-limit counters that nodes sharing one PostgreSQL
 * database exchange (docs/decisions/0006-rate-limits.md).
 *
 * Both are operational data, not the exchange's state: an idempotent response is a cache of
 * an answer whose effect is already in the log, and a counter says only how many requests a
 * node admitted. Neither emits a log event. The counters are written outside transactions
 * (no writer lock: they need no order and must not queue behind the writes); purges run in
 * bounded batches, so that a large backlog never holds the database for long.
 *
 * Deleting "the oldest max rows" uses a row-value IN over a LIMITed subquery, which both
 * engines accept (SQLite since 3.15) and which walks the created_ms / at_ms indexes of
 * migration 8.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <string.h>

#include "util/banned.h"

enum err store_idem_delete(struct store *s, const char *principal, const char *key,
                           struct errbuf *err)
{
    ASSERT(principal != NULL);
    ASSERT(key != NULL);
    struct store_value p[] = {store_text(principal), store_text(key)};
    return store_query(s, "DELETE FROM idempotency WHERE principal = $1 AND key = $2", p, 2, NULL,
                       NULL, NULL, err);
}

enum err store_idem_purge(struct store *s, int64_t before_ms, size_t max, int64_t *deleted,
                          struct errbuf *err)
{
    ASSERT(max > 0 && max <= STORE_PURGE_MAX);
    ASSERT(deleted != NULL);
    *deleted = 0;
    struct store_value p[] = {store_int(before_ms), store_int((int64_t)max)};
    return store_query(s,
                       "DELETE FROM idempotency WHERE (principal, key) IN"
                       " (SELECT principal, key FROM idempotency WHERE created_ms < $1"
                       " ORDER BY created_ms LIMIT $2)",
                       p, 2, NULL, NULL, deleted, err);
}

int store_shared(const struct store *s)
{
    ASSERT(s != NULL);
    /* SQLite's database is held exclusively by the process that opened it (sqlite.c). */
    return s->ops != &store_sqlite_ops;
}

enum err store_rate_publish(struct store *s, const struct store_rate_usage *u, struct errbuf *err)
{
    ASSERT(u != NULL && u->node != NULL && u->counts != NULL);
    ASSERT(u->round >= 0 && u->part >= 0);
    struct store_value p[] = {store_text(u->node), store_int(u->round), store_int(u->part),
                              store_int(u->at_ms), store_text(u->counts)};
    p[4].len = u->counts_len;
    return store_query(s,
                       "INSERT INTO rate_usage (node, round, part, at_ms, counts)"
                       " VALUES ($1, $2, $3, $4, $5)",
                       p, ARRAY_LEN(p), NULL, NULL, NULL, err);
}

struct rate_read {
    store_rate_usage_cb *cb;
    void *ctx;
};

static enum err rate_row_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct rate_read *r = ctx;
    if (n != 5 || c[0].type != STORE_TEXT || c[1].type != STORE_INT || c[2].type != STORE_INT ||
        c[3].type != STORE_INT || c[4].type != STORE_TEXT) {
        return err_set(err, ERR_CORRUPT, "", "rate_usage row is malformed");
    }
    /* Column text is not NUL-terminated by contract; the node id is short, copy it. */
    char node[ID_MAX];
    enum err rc = store__copy_text(node, sizeof(node), &c[0], err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_rate_usage u = {node, c[1].i, c[2].i, c[3].i, c[4].s, c[4].len};
    return r->cb(r->ctx, &u, err);
}

enum err store_rate_read(struct store *s, const char *node, int64_t since_ms, size_t max,
                         store_rate_usage_cb *cb, void *ctx, struct errbuf *err)
{
    ASSERT(node != NULL && cb != NULL);
    ASSERT(max > 0 && max <= STORE_PURGE_MAX);
    struct rate_read r = {cb, ctx};
    struct store_value p[] = {store_int(since_ms), store_text(node), store_int((int64_t)max)};
    return store_query(s,
                       "SELECT node, round, part, at_ms, counts FROM rate_usage"
                       " WHERE at_ms > $1 AND node <> $2 ORDER BY node, round, part LIMIT $3",
                       p, ARRAY_LEN(p), rate_row_cb, &r, NULL, err);
}

enum err store_rate_purge(struct store *s, int64_t before_ms, size_t max, int64_t *deleted,
                          struct errbuf *err)
{
    ASSERT(max > 0 && max <= STORE_PURGE_MAX);
    ASSERT(deleted != NULL);
    *deleted = 0;
    struct store_value p[] = {store_int(before_ms), store_int((int64_t)max)};
    return store_query(s,
                       "DELETE FROM rate_usage WHERE (node, round, part) IN"
                       " (SELECT node, round, part FROM rate_usage WHERE at_ms < $1"
                       " ORDER BY at_ms LIMIT $2)",
                       p, 2, NULL, NULL, deleted, err);
}
