/*
 * events.c: the event table that feeds the transparency log, idempotent responses and the
 * small metadata table.
 *
 * An event's sequence number is assigned inside the writing transaction as one more than the
 * largest so far: writers are serialised (SQLite's single writer; on PostgreSQL the writer
 * lock that begin_sql takes, see postgres.c), so the numbers have no gaps and follow commit
 * order, which is what a Merkle log needs.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <string.h>

#include "util/banned.h"

static enum err int_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    (void)err;
    ASSERT(n == 1);
    *(int64_t *)ctx = c[0].type == STORE_INT ? c[0].i : -1;
    return ERR_OK;
}

/* Builds the canonical leaf bytes; caller frees with free() (jansson's allocator). */
static char *event_leaf(int64_t seq, const char *type, const char *actor, const char *subject,
                        int64_t time_ms, json_t *body)
{
    char t[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(time_ms, t);
    json_t *o =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:O, s:i}", "seq", (json_int_t)seq, "type", type,
                  "actor", actor, "subject", subject, "time", t, "body", body, "v", 1);
    if (o == NULL) {
        return NULL;
    }
    char *leaf = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return leaf;
}

enum err store_event_append(struct store *s, const char *type, const char *actor,
                            const char *subject, int64_t time_ms, json_t *body, int64_t *seq,
                            struct errbuf *err)
{
    ASSERT(s->depth > 0);
    ASSERT(json_is_object(body));
    ASSERT(strlen(type) < STORE_EVENT_TYPE_MAX);
    int64_t next = -1;
    enum err rc = store_query(s, "SELECT COALESCE(MAX(seq) + 1, 0) FROM events", NULL, 0, int_cb,
                              &next, NULL, err);
    if (rc != ERR_OK) {
        return rc;
    }
    ASSERT(next >= 0);
    char *leaf = event_leaf(next, type, actor, subject, time_ms, body);
    if (leaf == NULL) {
        return err_set(err, ERR_NOMEM, "", "cannot encode event '%s'", type);
    }
    size_t len = strlen(leaf);
    if (len > STORE_LEAF_MAX) {
        free(leaf);
        return err_set(err, ERR_LIMIT, "", "event '%s' is %zu bytes, over %d", type, len,
                       STORE_LEAF_MAX);
    }
    struct store_value p[] = {store_int(next),     store_text(type),   store_text(actor),
                              store_text(subject), store_int(time_ms), store_text(leaf)};
    rc = store_query(s,
                     "INSERT INTO events (seq, type, actor, subject, time_ms, leaf)"
                     " VALUES ($1, $2, $3, $4, $5, $6)",
                     p, ARRAY_LEN(p), NULL, NULL, NULL, err);
    free(leaf);
    if (rc == ERR_OK) {
        *seq = next;
    }
    return rc;
}

void store_event_release(struct store_event *ev)
{
    if (ev == NULL) {
        return;
    }
    mem_free(ev->leaf);
    ev->leaf = NULL;
}

enum err store_event_count(struct store *s, int64_t *count, struct errbuf *err)
{
    int64_t next = -1;
    enum err rc = store_query(s, "SELECT COALESCE(MAX(seq) + 1, 0) FROM events", NULL, 0, int_cb,
                              &next, NULL, err);
    if (rc == ERR_OK) {
        *count = next;
    }
    return rc;
}

struct range_ctx {
    struct store_event *items;
    size_t count;
    size_t max;
};

static enum err range_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct range_ctx *r = ctx;
    if (n != 6 || c[5].type != STORE_TEXT) {
        return err_set(err, ERR_CORRUPT, "", "event row is malformed");
    }
    ASSERT(r->count < r->max);
    struct store_event *ev = &r->items[r->count];
    ev->seq = c[0].i;
    enum err rc = store__copy_text(ev->type, sizeof(ev->type), &c[1], err);
    if (rc == ERR_OK) {
        rc = store__copy_text(ev->actor, sizeof(ev->actor), &c[2], err);
    }
    if (rc == ERR_OK) {
        rc = store__copy_text(ev->subject, sizeof(ev->subject), &c[3], err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    ev->time_ms = c[4].i;
    ev->leaf = mem_strndup(c[5].s, c[5].len);
    if (ev->leaf == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory reading events");
    }
    ev->leaf_len = c[5].len;
    r->count++;
    return ERR_OK;
}

enum err store_event_range(struct store *s, int64_t from, size_t max, struct store_event **out,
                           size_t *count, struct errbuf *err)
{
    ASSERT(from >= 0);
    ASSERT(max > 0);
    struct range_ctx r = {mem_calloc(max, sizeof(struct store_event)), 0, max};
    if (r.items == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory reading events");
    }
    struct store_value p[] = {store_int(from), store_int((int64_t)max)};
    enum err rc = store_query(s,
                              "SELECT seq, type, actor, subject, time_ms, leaf FROM events"
                              " WHERE seq >= $1 ORDER BY seq LIMIT $2",
                              p, 2, range_cb, &r, NULL, err);
    if (rc != ERR_OK) {
        for (size_t i = 0; i < r.count; i++) {
            store_event_release(&r.items[i]);
        }
        mem_free(r.items);
        return rc;
    }
    *out = r.items;
    *count = r.count;
    return ERR_OK;
}

/* ---- idempotency ---- */

static enum err idem_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct store_idem *idem = ctx;
    if (n != 4 || c[2].type != STORE_TEXT) {
        return err_set(err, ERR_CORRUPT, "", "idempotency row is malformed");
    }
    enum err rc = store__copy_text(idem->request_hash, sizeof(idem->request_hash), &c[0], err);
    if (rc != ERR_OK) {
        return rc;
    }
    idem->status = c[1].i;
    idem->body = mem_strndup(c[2].s, c[2].len);
    idem->created_ms = c[3].i;
    if (idem->body == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    return ERR_OK;
}

enum err store_idem_get(struct store *s, const char *principal, const char *key,
                        struct store_idem *out, struct errbuf *err)
{
    struct store_value p[] = {store_text(principal), store_text(key)};
    out->body = NULL;
    enum err rc = store_query(s,
                              "SELECT request_hash, status, body, created_ms FROM idempotency"
                              " WHERE principal = $1 AND key = $2",
                              p, 2, idem_cb, out, NULL, err);
    if (rc == ERR_OK && out->body == NULL) {
        return err_set(err, ERR_NOT_FOUND, "", "no stored response");
    }
    return rc;
}

enum err store_idem_put(struct store *s, const char *principal, const char *key,
                        const struct store_idem *idem, struct errbuf *err)
{
    struct store_value p[] = {store_text(principal),          store_text(key),
                              store_text(idem->request_hash), store_int(idem->status),
                              store_text(idem->body),         store_int(idem->created_ms)};
    return store_query(s,
                       "INSERT INTO idempotency (principal, key, request_hash, status, body,"
                       " created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
                       p, ARRAY_LEN(p), NULL, NULL, NULL, err);
}

/* ---- metadata ---- */

static enum err meta_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    ASSERT(n == 1);
    char **out = ctx;
    *out = mem_strndup(c[0].s != NULL ? c[0].s : "", c[0].len);
    if (*out == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    return ERR_OK;
}

enum err store_meta_get(struct store *s, const char *name, char **out, struct errbuf *err)
{
    struct store_value p[] = {store_text(name)};
    *out = NULL;
    enum err rc =
        store_query(s, "SELECT value FROM meta WHERE name = $1", p, 1, meta_cb, out, NULL, err);
    if (rc == ERR_OK && *out == NULL) {
        return err_set(err, ERR_NOT_FOUND, "", "no meta value '%s'", name);
    }
    return rc;
}

enum err store_meta_put(struct store *s, const char *name, const char *value, struct errbuf *err)
{
    struct store_value p[] = {store_text(name), store_text(value)};
    return store_query(s,
                       "INSERT INTO meta (name, value) VALUES ($1, $2)"
                       " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                       p, 2, NULL, NULL, NULL, err);
}
