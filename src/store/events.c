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

/* The canonical leaf bytes {"actor","body","seq","subject","time","type","v":1} around a
 * body that is already canonical JSON text: the bytes jansson's json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS) writes for the same object (store_test compares them). */
static enum err event_leaf(struct buf *leaf, int64_t seq, const char *type, const char *actor,
                           const char *subject, int64_t time_ms, const char *body, size_t body_len)
{
    char t[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(time_ms, t);
    enum err rc = buf_append_str(leaf, "{\"actor\":");
    rc = rc == ERR_OK ? buf_append_json_cstr(leaf, actor) : rc;
    rc = rc == ERR_OK ? buf_append_str(leaf, ",\"body\":") : rc;
    rc = rc == ERR_OK ? buf_append(leaf, body, body_len) : rc;
    rc = rc == ERR_OK ? buf_append_str(leaf, ",\"seq\":") : rc;
    rc = rc == ERR_OK ? buf_append_i64(leaf, seq) : rc;
    rc = rc == ERR_OK ? buf_append_str(leaf, ",\"subject\":") : rc;
    rc = rc == ERR_OK ? buf_append_json_cstr(leaf, subject) : rc;
    rc = rc == ERR_OK ? buf_append_str(leaf, ",\"time\":") : rc;
    rc = rc == ERR_OK ? buf_append_json_cstr(leaf, t) : rc;
    rc = rc == ERR_OK ? buf_append_str(leaf, ",\"type\":") : rc;
    rc = rc == ERR_OK ? buf_append_json_cstr(leaf, type) : rc;
    return rc == ERR_OK ? buf_append_str(leaf, ",\"v\":1}") : rc;
}

enum err store_event_append_text(struct store *s, const char *type, const char *actor,
                                 const char *subject, int64_t time_ms, const char *body,
                                 size_t body_len, int64_t *seq, struct errbuf *err)
{
    ASSERT(s->depth > 0);
    ASSERT(body_len >= 2 && body[0] == '{' && body[body_len - 1] == '}');
    ASSERT(strlen(type) < STORE_EVENT_TYPE_MAX);
    int64_t next = -1;
    enum err rc = store_query(s, "SELECT COALESCE(MAX(seq) + 1, 0) FROM events", NULL, 0, int_cb,
                              &next, NULL, err);
    if (rc != ERR_OK) {
        return rc;
    }
    ASSERT(next >= 0);
    struct buf leaf;
    buf_init(&leaf, STORE_LEAF_MAX);
    rc = event_leaf(&leaf, next, type, actor, subject, time_ms, body, body_len);
    if (rc == ERR_LIMIT) {
        rc = err_set(err, ERR_LIMIT, "", "event '%s' is over %d bytes", type, STORE_LEAF_MAX);
    } else if (rc != ERR_OK) {
        /* Out of memory, or a text that is not UTF-8, which jansson refused alike. */
        rc = err_set(err, ERR_NOMEM, "", "cannot encode event '%s'", type);
    }
    if (rc == ERR_OK) {
        struct store_value p[] = {store_int(next),    store_text(type),
                                  store_text(actor),  store_text(subject),
                                  store_int(time_ms), {STORE_TEXT, 0, leaf.data, leaf.len}};
        rc = store_query(s,
                         "INSERT INTO events (seq, type, actor, subject, time_ms, leaf)"
                         " VALUES ($1, $2, $3, $4, $5, $6)",
                         p, ARRAY_LEN(p), NULL, NULL, NULL, err);
    }
    buf_release(&leaf);
    if (rc == ERR_OK) {
        *seq = next;
    }
    return rc;
}

enum err store_event_append(struct store *s, const char *type, const char *actor,
                            const char *subject, int64_t time_ms, json_t *body, int64_t *seq,
                            struct errbuf *err)
{
    ASSERT(json_is_object(body));
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL) {
        return err_set(err, ERR_NOMEM, "", "cannot encode event '%s'", type);
    }
    enum err rc =
        store_event_append_text(s, type, actor, subject, time_ms, text, strlen(text), seq, err);
    free(text);
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
