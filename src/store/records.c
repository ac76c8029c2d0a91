/*
 * records.c: the domain rows (entities, certificates, reviews, API keys), written once on top
 * of the backend interface in portable SQL.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* ---- entities ---- */

#define ENTITY_COLS                                                                                \
    "id, kind, status, name, uscc, country, contact_name, contact_email, contact_phone, "          \
    "public_key, specialities, created_ms, updated_ms, log_index"
#define ENTITY_NCOLS 14

static enum err entity_from_row(struct store_entity *e, const struct store_value *c, size_t n,
                                struct errbuf *err)
{
    if (n != ENTITY_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "entity row has %zu columns", n);
    }
    enum err rc = ERR_OK;
    struct {
        char *dst;
        size_t cap;
    } texts[] = {
        {e->id, sizeof(e->id)},
        {e->kind, sizeof(e->kind)},
        {e->status, sizeof(e->status)},
        {e->name, sizeof(e->name)},
        {e->uscc, sizeof(e->uscc)},
        {e->country, sizeof(e->country)},
        {e->contact_name, sizeof(e->contact_name)},
        {e->contact_email, sizeof(e->contact_email)},
        {e->contact_phone, sizeof(e->contact_phone)},
        {e->public_key, sizeof(e->public_key)},
    };
    for (size_t i = 0; i < ARRAY_LEN(texts) && rc == ERR_OK; i++) {
        rc = store__copy_text(texts[i].dst, texts[i].cap, &c[i], err);
    }
    e->specialities = c[10].i;
    e->created_ms = c[11].i;
    e->updated_ms = c[12].i;
    e->log_index = c[13].i;
    return rc;
}

static enum err entity_one_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct store_entity *e = ctx;
    enum err rc = entity_from_row(e, c, n, err);
    if (rc == ERR_OK) {
        /* Mark the row found: id is never empty for a stored entity. */
        ASSERT(e->id[0] != '\0');
    }
    return rc;
}

enum err store_entity_insert(struct store *s, const struct store_entity *e, struct errbuf *err)
{
    ASSERT(e->id[0] != '\0');
    struct store_value p[] = {
        store_text(e->id),           store_text(e->kind),          store_text(e->status),
        store_text(e->name),         store_text(e->uscc),          store_text(e->country),
        store_text(e->contact_name), store_text(e->contact_email), store_text(e->contact_phone),
        store_text(e->public_key),   store_int(e->specialities),   store_int(e->created_ms),
        store_int(e->updated_ms),    store_int(e->log_index),
    };
    return store_query(s,
                       "INSERT INTO entities (" ENTITY_COLS ") VALUES ($1, $2, $3, $4, $5, $6, "
                       "$7, $8, $9, $10, $11, $12, $13, $14)",
                       p, ARRAY_LEN(p), NULL, NULL, NULL, err);
}

enum err store_entity_update_status(struct store *s, const struct store_entity *e,
                                    struct errbuf *err)
{
    struct store_value p[] = {store_text(e->id), store_text(e->status), store_int(e->updated_ms),
                              store_int(e->log_index)};
    int64_t changes = 0;
    enum err rc = store_query(
        s, "UPDATE entities SET status = $2, updated_ms = $3, log_index = $4 WHERE id = $1", p,
        ARRAY_LEN(p), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        return err_set(err, ERR_NOT_FOUND, "id", "no entity '%s'", e->id);
    }
    return rc;
}

enum err store_entity_get(struct store *s, const char *id, struct store_entity *out,
                          struct errbuf *err)
{
    struct store_value p[] = {store_text(id)};
    out->id[0] = '\0';
    enum err rc = store_query(s, "SELECT " ENTITY_COLS " FROM entities WHERE id = $1", p, 1,
                              entity_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "id", "no entity '%s'", id);
    }
    return rc;
}

enum err store_entity_count_uscc(struct store *s, const char *uscc, int64_t *count,
                                 struct errbuf *err)
{
    struct store_value p[] = {store_text(uscc)};
    *count = 0;
    return store_query(s, "SELECT COUNT(*) FROM entities WHERE uscc = $1 AND status <> 'rejected'",
                       p, 1, store__count_cb, count, NULL, err);
}

enum err store_entity_count(struct store *s, int64_t *count, struct errbuf *err)
{
    *count = 0;
    return store_query(s, "SELECT COUNT(*) FROM entities", NULL, 0, store__count_cb, count, NULL,
                       err);
}

void store_entity_page_release(struct store_entity_page *page)
{
    if (page == NULL) {
        return;
    }
    mem_free(page->items);
    page->items = NULL;
    page->count = 0;
}

struct page_ctx {
    struct store_entity_page *page;
    size_t cap;
};

static enum err entity_page_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct page_ctx *pc = ctx;
    ASSERT(pc->page->count < pc->cap);
    enum err rc = entity_from_row(&pc->page->items[pc->page->count], c, n, err);
    if (rc == ERR_OK) {
        pc->page->count++;
    }
    return rc;
}

/* Escapes LIKE metacharacters with backslash. out must hold 2 * strlen(q) + 1 bytes. */
static void like_escape(const char *q, char *out)
{
    size_t j = 0;
    for (const char *p = q; *p != '\0'; p++) {
        if (*p == '%' || *p == '_' || *p == '\\') {
            out[j++] = '\\';
        }
        out[j++] = *p;
    }
    out[j] = '\0';
}

enum err store_entity_list(struct store *s, const struct store_entity_filter *f,
                           struct store_entity_page *page, struct errbuf *err)
{
    ASSERT(f->limit >= 1 && f->limit <= STORE_PAGE_MAX);
    page->items = NULL;
    page->count = 0;
    page->next_cursor[0] = '\0';
    int64_t after_ms = 0;
    char after_id[ID_MAX] = "";
    if (f->cursor != NULL) {
        enum err rc = store__cursor_parse(f->cursor, &after_ms, after_id, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    char *q = NULL;
    if (f->q != NULL) {
        q = mem_alloc(2 * strlen(f->q) + 1);
        if (q == NULL) {
            return err_set(err, ERR_NOMEM, "", "out of memory");
        }
        like_escape(f->q, q);
    }
    struct page_ctx pc = {page, f->limit + 1};
    page->items = mem_calloc(pc.cap, sizeof(*page->items));
    if (page->items == NULL) {
        mem_free(q);
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    struct store_value p[] = {
        store_text_or_null(f->kind),
        store_text_or_null(f->status),
        store_text_or_null(f->country),
        q != NULL ? store_text(q) : store_null(),
        store_text_or_null(f->visible_status),
        store_text_or_null(f->visible_self),
        f->cursor != NULL ? store_int(after_ms) : store_null(),
        store_text(after_id),
        store_int((int64_t)pc.cap),
    };
    enum err rc = store_query(
        s,
        "SELECT " ENTITY_COLS " FROM entities"
        " WHERE (CAST($1 AS TEXT) IS NULL OR kind = $1)"
        " AND (CAST($2 AS TEXT) IS NULL OR status = $2)"
        " AND (CAST($3 AS TEXT) IS NULL OR country = $3)"
        " AND (CAST($4 AS TEXT) IS NULL OR name LIKE '%' || $4 || '%' ESCAPE '\\')"
        " AND (CAST($5 AS TEXT) IS NULL OR status = $5 OR id = $6)"
        " AND (CAST($7 AS BIGINT) IS NULL OR created_ms > $7 OR (created_ms = $7 AND id > $8))"
        " ORDER BY created_ms, id LIMIT $9",
        p, ARRAY_LEN(p), entity_page_cb, &pc, NULL, err);
    mem_free(q);
    if (rc != ERR_OK) {
        store_entity_page_release(page);
        return rc;
    }
    if (page->count > f->limit) {
        page->count = f->limit;
        const struct store_entity *last = &page->items[page->count - 1];
        snprintf(page->next_cursor, sizeof(page->next_cursor), "%" PRId64 ".%s", last->created_ms,
                 last->id);
    }
    return ERR_OK;
}

/* ---- certificates ---- */

#define CERT_COLS                                                                                  \
    "id, entity_id, type, status, issued_ms, revoked_ms, reason, log_index, revoke_log_index"

static enum err cert_from_row(struct store_cert *c, const struct store_value *v, size_t n,
                              struct errbuf *err)
{
    if (n != 9) {
        return err_set(err, ERR_CORRUPT, "", "certificate row has %zu columns", n);
    }
    enum err rc = store__copy_text(c->id, sizeof(c->id), &v[0], err);
    if (rc == ERR_OK) {
        rc = store__copy_text(c->entity_id, sizeof(c->entity_id), &v[1], err);
    }
    if (rc == ERR_OK) {
        rc = store__copy_text(c->type, sizeof(c->type), &v[2], err);
    }
    if (rc == ERR_OK) {
        rc = store__copy_text(c->status, sizeof(c->status), &v[3], err);
    }
    if (rc == ERR_OK) {
        rc = store__copy_text(c->reason, sizeof(c->reason), &v[6], err);
    }
    c->issued_ms = v[4].i;
    c->revoked_ms = v[5].i;
    c->log_index = v[7].i;
    c->revoke_log_index = v[8].i;
    return rc;
}

enum err store_cert_insert(struct store *s, const struct store_cert *c, struct errbuf *err)
{
    struct store_value p[] = {
        store_text(c->id),     store_text(c->entity_id), store_text(c->type),
        store_text(c->status), store_int(c->issued_ms),  store_int(c->revoked_ms),
        store_text(c->reason), store_int(c->log_index),  store_int(c->revoke_log_index),
    };
    return store_query(s,
                       "INSERT INTO certificates (" CERT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, "
                       "$7, $8, $9)",
                       p, ARRAY_LEN(p), NULL, NULL, NULL, err);
}

enum err store_cert_update(struct store *s, const struct store_cert *c, struct errbuf *err)
{
    struct store_value p[] = {store_text(c->id), store_text(c->status), store_int(c->revoked_ms),
                              store_text(c->reason), store_int(c->revoke_log_index)};
    int64_t changes = 0;
    enum err rc = store_query(s,
                              "UPDATE certificates SET status = $2, revoked_ms = $3, reason = $4,"
                              " revoke_log_index = $5 WHERE id = $1",
                              p, ARRAY_LEN(p), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        return err_set(err, ERR_NOT_FOUND, "cert_id", "no certificate '%s'", c->id);
    }
    return rc;
}

static enum err cert_one_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    return cert_from_row(ctx, v, n, err);
}

enum err store_cert_get(struct store *s, const char *id, struct store_cert *out, struct errbuf *err)
{
    struct store_value p[] = {store_text(id)};
    out->id[0] = '\0';
    enum err rc = store_query(s, "SELECT " CERT_COLS " FROM certificates WHERE id = $1", p, 1,
                              cert_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "cert_id", "no certificate '%s'", id);
    }
    return rc;
}

struct array_ctx {
    void *items;
    size_t count;
    size_t cap;
    size_t size;
};

static enum err array_grow(struct array_ctx *a, struct errbuf *err)
{
    if (a->count < a->cap) {
        return ERR_OK;
    }
    size_t cap = a->cap == 0 ? 8 : a->cap * 2;
    void *p = mem_realloc(a->items, cap * a->size);
    if (p == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    a->items = p;
    a->cap = cap;
    return ERR_OK;
}

static enum err cert_list_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct array_ctx *a = ctx;
    enum err rc = array_grow(a, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_cert *c = (struct store_cert *)a->items + a->count;
    rc = cert_from_row(c, v, n, err);
    if (rc == ERR_OK) {
        a->count++;
    }
    return rc;
}

enum err store_cert_list(struct store *s, const char *entity_id, struct store_cert **out,
                         size_t *count, struct errbuf *err)
{
    struct array_ctx a = {NULL, 0, 0, sizeof(struct store_cert)};
    struct store_value p[] = {store_text(entity_id), store_int(STORE_CERTS_MAX)};
    enum err rc = store_query(s,
                              "SELECT " CERT_COLS " FROM certificates WHERE entity_id = $1"
                              " ORDER BY issued_ms, id LIMIT $2",
                              p, ARRAY_LEN(p), cert_list_cb, &a, NULL, err);
    if (rc != ERR_OK) {
        mem_free(a.items);
        return rc;
    }
    *out = a.items;
    *count = a.count;
    return ERR_OK;
}

/* ---- reviews ---- */

enum err store_review_insert(struct store *s, const struct store_review *r, struct errbuf *err)
{
    struct store_value p[] = {store_int(r->log_index), store_text(r->entity_id),
                              store_text(r->decision), store_text(r->reason),
                              store_text(r->actor),    store_int(r->at_ms)};
    return store_query(s,
                       "INSERT INTO reviews (log_index, entity_id, decision, reason, actor, at_ms)"
                       " VALUES ($1, $2, $3, $4, $5, $6)",
                       p, ARRAY_LEN(p), NULL, NULL, NULL, err);
}

static enum err review_list_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct array_ctx *a = ctx;
    if (n != 6) {
        return err_set(err, ERR_CORRUPT, "", "review row has %zu columns", n);
    }
    enum err rc = array_grow(a, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_review *r = (struct store_review *)a->items + a->count;
    r->log_index = v[0].i;
    rc = store__copy_text(r->entity_id, sizeof(r->entity_id), &v[1], err);
    if (rc == ERR_OK) {
        rc = store__copy_text(r->decision, sizeof(r->decision), &v[2], err);
    }
    if (rc == ERR_OK) {
        rc = store__copy_text(r->reason, sizeof(r->reason), &v[3], err);
    }
    if (rc == ERR_OK) {
        rc = store__copy_text(r->actor, sizeof(r->actor), &v[4], err);
    }
    r->at_ms = v[5].i;
    if (rc == ERR_OK) {
        a->count++;
    }
    return rc;
}

enum err store_review_list(struct store *s, const char *entity_id, struct store_review **out,
                           size_t *count, struct errbuf *err)
{
    struct array_ctx a = {NULL, 0, 0, sizeof(struct store_review)};
    struct store_value p[] = {store_text(entity_id), store_int(STORE_REVIEWS_MAX)};
    enum err rc = store_query(s,
                              "SELECT log_index, entity_id, decision, reason, actor, at_ms FROM"
                              " (SELECT * FROM reviews WHERE entity_id = $1"
                              "  ORDER BY log_index DESC LIMIT $2) AS newest"
                              " ORDER BY log_index",
                              p, ARRAY_LEN(p), review_list_cb, &a, NULL, err);
    if (rc != ERR_OK) {
        mem_free(a.items);
        return rc;
    }
    *out = a.items;
    *count = a.count;
    return ERR_OK;
}

/* ---- API keys ---- */

#define KEY_COLS "id, entity_id, label, secret_hash, created_ms, revoked_ms, log_index"

static enum err key_one_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_api_key *k = ctx;
    if (n != 7) {
        return err_set(err, ERR_CORRUPT, "", "api key row has %zu columns", n);
    }
    enum err rc = store__copy_text(k->id, sizeof(k->id), &v[0], err);
    if (rc == ERR_OK) {
        rc = store__copy_text(k->entity_id, sizeof(k->entity_id), &v[1], err);
    }
    if (rc == ERR_OK) {
        rc = store__copy_text(k->label, sizeof(k->label), &v[2], err);
    }
    if (rc == ERR_OK) {
        rc = store__copy_text(k->secret_hash, sizeof(k->secret_hash), &v[3], err);
    }
    k->created_ms = v[4].i;
    k->revoked_ms = v[5].i;
    k->log_index = v[6].i;
    return rc;
}

enum err store_api_key_insert(struct store *s, const struct store_api_key *k, struct errbuf *err)
{
    struct store_value p[] = {store_text(k->id),        store_text(k->entity_id),
                              store_text(k->label),     store_text(k->secret_hash),
                              store_int(k->created_ms), store_int(k->revoked_ms),
                              store_int(k->log_index)};
    return store_query(s, "INSERT INTO api_keys (" KEY_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7)",
                       p, ARRAY_LEN(p), NULL, NULL, NULL, err);
}

enum err store_api_key_revoke(struct store *s, const struct store_api_key *k, struct errbuf *err)
{
    struct store_value p[] = {store_text(k->id), store_int(k->revoked_ms)};
    int64_t changes = 0;
    enum err rc = store_query(s, "UPDATE api_keys SET revoked_ms = $2 WHERE id = $1", p, 2, NULL,
                              NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        return err_set(err, ERR_NOT_FOUND, "key_id", "no api key '%s'", k->id);
    }
    return rc;
}

enum err store_api_key_get(struct store *s, const char *id, struct store_api_key *out,
                           struct errbuf *err)
{
    struct store_value p[] = {store_text(id)};
    out->id[0] = '\0';
    enum err rc = store_query(s, "SELECT " KEY_COLS " FROM api_keys WHERE id = $1", p, 1,
                              key_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "key_id", "no api key '%s'", id);
    }
    return rc;
}

enum err store_api_key_find_hash(struct store *s, const char *secret_hash,
                                 struct store_api_key *out, struct errbuf *err)
{
    struct store_value p[] = {store_text(secret_hash)};
    out->id[0] = '\0';
    enum err rc = store_query(s, "SELECT " KEY_COLS " FROM api_keys WHERE secret_hash = $1", p, 1,
                              key_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "", "no such api key");
    }
    return rc;
}
