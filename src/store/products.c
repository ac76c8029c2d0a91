/*
 * products.c: the rows of the supply side (products, their immutable revisions, rights
 * certificates and their history, listing policy versions, assessments), written once on top
 * of the backend interface in portable SQL.
 *
 * Revisions are only ever inserted: there is no UPDATE of product_revisions anywhere, which
 * is what makes a revision immutable. Lists page with a cursor "<ms>.<id>" of the last row of
 * the previous page, like the entity list.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* ---- shared helpers ---- */

struct text_col {
    char *dst;
    size_t cap;
};

static enum err copy_texts(const struct text_col *cols, const struct store_value *v,
                           const size_t *index, size_t count, struct errbuf *err)
{
    enum err rc = ERR_OK;
    for (size_t i = 0; i < count && rc == ERR_OK; i++) {
        rc = store__copy_text(cols[i].dst, cols[i].cap, &v[index[i]], err);
    }
    return rc;
}

/* An owned copy of a text column, NULL for SQL NULL. */
static enum err dup_text(char **dst, const struct store_value *v, struct errbuf *err)
{
    *dst = NULL;
    if (v->type == STORE_NULL) {
        return ERR_OK;
    }
    if (v->type != STORE_TEXT) {
        return err_set(err, ERR_CORRUPT, "", "stored text column has the wrong type");
    }
    *dst = mem_strndup(v->s, v->len);
    return *dst != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
}

/* store__rows_cb, with a query bounded by max in its SQL: a row past max is a bug here. */
static enum err rows_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    const struct store__rows *r = ctx;
    ASSERT(r->count < r->max);
    return store__rows_cb(ctx, v, n, err);
}

/* Runs a paged query: params[cursor_at] and [cursor_at + 1] receive the cursor's ms and id,
 * params[cursor_at + 2] the limit + 1. On success *items holds up to limit rows and
 * next_cursor is set when there are more. ms_of gives a row's ordering time. */
static enum err page_query(struct store *s, const char *sql, struct store_value *params,
                           size_t nparams, size_t cursor_at, const char *cursor, size_t limit,
                           size_t size, store__row_parse_fn *parse, int64_t (*ms_of)(const void *),
                           void **items, size_t *count, char next_cursor[STORE_CURSOR_MAX],
                           struct errbuf *err)
{
    ASSERT(limit >= 1 && limit <= STORE_PAGE_MAX);
    ASSERT(cursor_at + 2 < nparams);
    int64_t after_ms = 0;
    char after_id[ID_MAX] = "";
    next_cursor[0] = '\0';
    if (cursor != NULL) {
        enum err rc = store__cursor_parse(cursor, &after_ms, after_id, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    params[cursor_at] = cursor != NULL ? store_int(after_ms) : store_null();
    params[cursor_at + 1] = store_text(after_id);
    params[cursor_at + 2] = store_int((int64_t)limit + 1);
    struct store__rows r = {NULL, 0, 0, size, limit + 1, 8, parse};
    enum err rc = store_query(s, sql, params, nparams, rows_cb, &r, NULL, err);
    if (rc != ERR_OK) {
        mem_free(r.items);
        return rc;
    }
    if (r.count > limit) {
        r.count = limit;
        const char *last = r.items + (limit - 1) * size;
        /* Every row struct starts with its id. */
        snprintf(next_cursor, STORE_CURSOR_MAX, "%" PRId64 ".%s", ms_of(last), last);
    }
    *items = r.items;
    *count = r.count;
    return ERR_OK;
}

/* ---- products ---- */

#define PRODUCT_COLS                                                                               \
    "id, provider_id, kind, latest_revision, latest_revision_id, title, category, "                \
    "classification, sensitivity, created_ms, updated_ms, log_index"
#define PRODUCT_NCOLS 12

static enum err product_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_product *p = item;
    if (n != PRODUCT_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "product row has %zu columns", n);
    }
    const struct text_col cols[] = {
        {p->id, sizeof(p->id)},
        {p->provider_id, sizeof(p->provider_id)},
        {p->kind, sizeof(p->kind)},
        {p->latest_revision_id, sizeof(p->latest_revision_id)},
        {p->title, sizeof(p->title)},
        {p->category, sizeof(p->category)},
        {p->classification, sizeof(p->classification)},
        {p->sensitivity, sizeof(p->sensitivity)},
    };
    static const size_t index[] = {0, 1, 2, 4, 5, 6, 7, 8};
    _Static_assert(ARRAY_LEN(index) == 8, "one index per text column");
    p->latest_revision = v[3].i;
    p->created_ms = v[9].i;
    p->updated_ms = v[10].i;
    p->log_index = v[11].i;
    return copy_texts(cols, v, index, ARRAY_LEN(cols), err);
}

static enum err product_one_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    return product_parse(ctx, v, n, err);
}

enum err store_product_insert(struct store *s, const struct store_product *p, struct errbuf *err)
{
    ASSERT(p->id[0] != '\0');
    ASSERT(p->latest_revision >= 1);
    struct store_value v[] = {
        store_text(p->id),
        store_text(p->provider_id),
        store_text(p->kind),
        store_int(p->latest_revision),
        store_text(p->latest_revision_id),
        store_text(p->title),
        store_text(p->category),
        store_text(p->classification),
        store_text(p->sensitivity),
        store_int(p->created_ms),
        store_int(p->updated_ms),
        store_int(p->log_index),
    };
    return store_query(s,
                       "INSERT INTO products (" PRODUCT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, "
                       "$7, $8, $9, $10, $11, $12)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_product_update(struct store *s, const struct store_product *p, struct errbuf *err)
{
    struct store_value v[] = {
        store_text(p->id),
        store_int(p->latest_revision),
        store_text(p->latest_revision_id),
        store_text(p->title),
        store_text(p->category),
        store_text(p->classification),
        store_text(p->sensitivity),
        store_int(p->updated_ms),
        store_int(p->log_index),
    };
    int64_t changes = 0;
    enum err rc = store_query(s,
                              "UPDATE products SET latest_revision = $2, latest_revision_id = $3,"
                              " title = $4, category = $5, classification = $6, sensitivity = $7,"
                              " updated_ms = $8, log_index = $9 WHERE id = $1",
                              v, ARRAY_LEN(v), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        return err_set(err, ERR_NOT_FOUND, "id", "no product '%s'", p->id);
    }
    return rc;
}

enum err store_product_get(struct store *s, const char *id, struct store_product *out,
                           struct errbuf *err)
{
    struct store_value v[] = {store_text(id)};
    out->id[0] = '\0';
    enum err rc = store_query(s, "SELECT " PRODUCT_COLS " FROM products WHERE id = $1", v, 1,
                              product_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "id", "no product '%s'", id);
    }
    return rc;
}

void store_product_page_release(struct store_product_page *page)
{
    if (page == NULL) {
        return;
    }
    mem_free(page->items);
    page->items = NULL;
    page->count = 0;
}

static int64_t product_ms(const void *item)
{
    return ((const struct store_product *)item)->created_ms;
}

enum err store_product_list(struct store *s, const struct store_product_filter *f,
                            struct store_product_page *page, struct errbuf *err)
{
    page->items = NULL;
    page->count = 0;
    struct store_value v[] = {
        store_text_or_null(f->provider_id),
        store_text_or_null(f->kind),
        store_text_or_null(f->category),
        store_text_or_null(f->classification),
        store_text_or_null(f->sensitivity),
        store_null(),
        store_null(),
        store_null(),
    };
    void *items = NULL;
    enum err rc = page_query(
        s,
        "SELECT " PRODUCT_COLS " FROM products"
        " WHERE (CAST($1 AS TEXT) IS NULL OR provider_id = $1)"
        " AND (CAST($2 AS TEXT) IS NULL OR kind = $2)"
        " AND (CAST($3 AS TEXT) IS NULL OR category = $3)"
        " AND (CAST($4 AS TEXT) IS NULL OR classification = $4)"
        " AND (CAST($5 AS TEXT) IS NULL OR sensitivity = $5)"
        " AND (CAST($6 AS BIGINT) IS NULL OR created_ms > $6 OR (created_ms = $6 AND id > $7))"
        " ORDER BY created_ms, id LIMIT $8",
        v, ARRAY_LEN(v), 5, f->cursor, f->limit, sizeof(struct store_product), product_parse,
        product_ms, &items, &page->count, page->next_cursor, err);
    page->items = items;
    return rc;
}

enum err store_product_access(struct store *s, const char *product_id, const char *entity_id,
                              int *has, struct errbuf *err)
{
    struct store_value v[] = {store_text(product_id), store_text(entity_id)};
    int64_t n = 0;
    *has = 0;
    enum err rc = store_query(
        s,
        "SELECT COUNT(*) FROM ("
        " SELECT id FROM assessments WHERE product_id = $1 AND firm_id = $2"
        " UNION ALL SELECT id FROM rights WHERE product_id = $1"
        "  AND (holder_id = $2 OR pledgee_id = $2)"
        " UNION ALL SELECT h.rights_id FROM rights_history h JOIN rights r ON r.id = h.rights_id"
        "  WHERE r.product_id = $1 AND h.counterparty = $2) AS access",
        v, ARRAY_LEN(v), store__count_cb, &n, NULL, err);
    if (rc == ERR_OK) {
        *has = n > 0;
    }
    return rc;
}

/* ---- revisions ---- */

#define REVISION_COLS                                                                              \
    "id, product_id, number, provider_id, kind, title, category, classification, sensitivity, "    \
    "supervised, content_hash, metadata_hash, metadata, sample_format, sample, quality, actor, "   \
    "created_ms, log_index"
/* The same columns with the three large texts left out, for lists. */
#define REVISION_SUMMARY_COLS                                                                      \
    "id, product_id, number, provider_id, kind, title, category, classification, sensitivity, "    \
    "supervised, content_hash, metadata_hash, NULL, sample_format, NULL, NULL, actor, "            \
    "created_ms, log_index"
#define REVISION_NCOLS 19

void store_revision_release(struct store_revision *r)
{
    if (r == NULL) {
        return;
    }
    mem_free(r->metadata);
    mem_free(r->sample);
    mem_free(r->quality);
    r->metadata = NULL;
    r->sample = NULL;
    r->quality = NULL;
}

static enum err revision_parse(void *item, const struct store_value *v, size_t n,
                               struct errbuf *err)
{
    struct store_revision *r = item;
    if (n != REVISION_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "revision row has %zu columns", n);
    }
    const struct text_col cols[] = {
        {r->id, sizeof(r->id)},
        {r->product_id, sizeof(r->product_id)},
        {r->provider_id, sizeof(r->provider_id)},
        {r->kind, sizeof(r->kind)},
        {r->title, sizeof(r->title)},
        {r->category, sizeof(r->category)},
        {r->classification, sizeof(r->classification)},
        {r->sensitivity, sizeof(r->sensitivity)},
        {r->content_hash, sizeof(r->content_hash)},
        {r->metadata_hash, sizeof(r->metadata_hash)},
        {r->sample_format, sizeof(r->sample_format)},
        {r->actor, sizeof(r->actor)},
    };
    static const size_t index[] = {0, 1, 3, 4, 5, 6, 7, 8, 10, 11, 13, 16};
    _Static_assert(ARRAY_LEN(index) == 12, "one index per text column");
    r->number = v[2].i;
    r->supervised = v[9].i;
    r->created_ms = v[17].i;
    r->log_index = v[18].i;
    enum err rc = copy_texts(cols, v, index, ARRAY_LEN(cols), err);
    if (rc == ERR_OK) {
        rc = dup_text(&r->metadata, &v[12], err);
    }
    if (rc == ERR_OK) {
        rc = dup_text(&r->sample, &v[14], err);
    }
    if (rc == ERR_OK) {
        rc = dup_text(&r->quality, &v[15], err);
    }
    if (rc != ERR_OK) {
        store_revision_release(r);
    }
    return rc;
}

static enum err revision_one_cb(void *ctx, const struct store_value *v, size_t n,
                                struct errbuf *err)
{
    struct store_revision *r = ctx;
    store_revision_release(r);
    return revision_parse(r, v, n, err);
}

enum err store_revision_insert(struct store *s, const struct store_revision *r, struct errbuf *err)
{
    ASSERT(r->id[0] != '\0');
    ASSERT(r->metadata != NULL);
    ASSERT(r->number >= 1);
    struct store_value v[] = {
        store_text(r->id),
        store_text(r->product_id),
        store_int(r->number),
        store_text(r->provider_id),
        store_text(r->kind),
        store_text(r->title),
        store_text(r->category),
        store_text(r->classification),
        store_text(r->sensitivity),
        store_int(r->supervised),
        store_text(r->content_hash),
        store_text(r->metadata_hash),
        store_text(r->metadata),
        store_text(r->sample_format),
        r->sample != NULL ? store_text(r->sample) : store_null(),
        r->quality != NULL ? store_text(r->quality) : store_null(),
        store_text(r->actor),
        store_int(r->created_ms),
        store_int(r->log_index),
    };
    return store_query(s,
                       "INSERT INTO product_revisions (" REVISION_COLS ") VALUES ($1, $2, $3, $4,"
                       " $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_revision_get(struct store *s, const char *id, struct store_revision *out,
                            struct errbuf *err)
{
    struct store_value v[] = {store_text(id)};
    memset(out, 0, sizeof(*out));
    enum err rc = store_query(s, "SELECT " REVISION_COLS " FROM product_revisions WHERE id = $1", v,
                              1, revision_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "revision_id", "no revision '%s'", id);
    }
    return rc;
}

enum err store_revision_get_number(struct store *s, const char *product_id, int64_t number,
                                   struct store_revision *out, struct errbuf *err)
{
    struct store_value v[] = {store_text(product_id), store_int(number)};
    memset(out, 0, sizeof(*out));
    enum err rc = store_query(s,
                              "SELECT " REVISION_COLS " FROM product_revisions"
                              " WHERE product_id = $1 AND number = $2",
                              v, 2, revision_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "revision", "product '%s' has no revision %" PRId64,
                       product_id, number);
    }
    return rc;
}

enum err store_revision_list(struct store *s, const char *product_id, struct store_revision **out,
                             size_t *count, struct errbuf *err)
{
    struct store_value v[] = {store_text(product_id), store_int(STORE_REVISIONS_MAX)};
    struct store__rows r = {
        NULL, 0, 0, sizeof(struct store_revision), STORE_REVISIONS_MAX, 8, revision_parse};
    enum err rc = store_query(s,
                              "SELECT " REVISION_SUMMARY_COLS " FROM"
                              " (SELECT * FROM product_revisions WHERE product_id = $1"
                              "  ORDER BY number DESC LIMIT $2) AS newest ORDER BY number",
                              v, ARRAY_LEN(v), rows_cb, &r, NULL, err);
    if (rc != ERR_OK) {
        mem_free(r.items);
        return rc;
    }
    *out = (struct store_revision *)(void *)r.items;
    *count = r.count;
    return ERR_OK;
}

/* ---- rights ---- */

#define RIGHTS_COLS                                                                                \
    "id, product_id, revision_id, content_hash, right_type, holder_id, status, pledgee_id, "       \
    "version, document, signature, issued_ms, updated_ms, issue_log_index, log_index"
#define RIGHTS_NCOLS 15

static enum err rights_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_rights *r = item;
    if (n != RIGHTS_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "rights row has %zu columns", n);
    }
    const struct text_col cols[] = {
        {r->id, sizeof(r->id)},
        {r->product_id, sizeof(r->product_id)},
        {r->revision_id, sizeof(r->revision_id)},
        {r->content_hash, sizeof(r->content_hash)},
        {r->right, sizeof(r->right)},
        {r->holder_id, sizeof(r->holder_id)},
        {r->status, sizeof(r->status)},
        {r->pledgee_id, sizeof(r->pledgee_id)},
        {r->document, sizeof(r->document)},
        {r->signature, sizeof(r->signature)},
    };
    static const size_t index[] = {0, 1, 2, 3, 4, 5, 6, 7, 9, 10};
    _Static_assert(ARRAY_LEN(index) == 10, "one index per text column");
    r->version = v[8].i;
    r->issued_ms = v[11].i;
    r->updated_ms = v[12].i;
    r->issue_log_index = v[13].i;
    r->log_index = v[14].i;
    return copy_texts(cols, v, index, ARRAY_LEN(cols), err);
}

static enum err rights_one_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    return rights_parse(ctx, v, n, err);
}

enum err store_rights_insert(struct store *s, const struct store_rights *r, struct errbuf *err)
{
    ASSERT(r->id[0] != '\0');
    ASSERT(r->document[0] == '{');
    struct store_value v[] = {
        store_text(r->id),           store_text(r->product_id),     store_text(r->revision_id),
        store_text(r->content_hash), store_text(r->right),          store_text(r->holder_id),
        store_text(r->status),       store_text(r->pledgee_id),     store_int(r->version),
        store_text(r->document),     store_text(r->signature),      store_int(r->issued_ms),
        store_int(r->updated_ms),    store_int(r->issue_log_index), store_int(r->log_index),
    };
    return store_query(s,
                       "INSERT INTO rights (" RIGHTS_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7,"
                       " $8, $9, $10, $11, $12, $13, $14, $15)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_rights_update(struct store *s, const struct store_rights *r, struct errbuf *err)
{
    ASSERT(r->document[0] == '{');
    struct store_value v[] = {
        store_text(r->id),         store_text(r->holder_id), store_text(r->status),
        store_text(r->pledgee_id), store_int(r->version),    store_text(r->document),
        store_text(r->signature),  store_int(r->updated_ms), store_int(r->log_index),
    };
    int64_t changes = 0;
    enum err rc = store_query(s,
                              "UPDATE rights SET holder_id = $2, status = $3, pledgee_id = $4,"
                              " version = $5, document = $6, signature = $7, updated_ms = $8,"
                              " log_index = $9 WHERE id = $1",
                              v, ARRAY_LEN(v), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        return err_set(err, ERR_NOT_FOUND, "id", "no rights certificate '%s'", r->id);
    }
    return rc;
}

enum err store_rights_get(struct store *s, const char *id, struct store_rights *out,
                          struct errbuf *err)
{
    struct store_value v[] = {store_text(id)};
    out->id[0] = '\0';
    enum err rc = store_query(s, "SELECT " RIGHTS_COLS " FROM rights WHERE id = $1", v, 1,
                              rights_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "id", "no rights certificate '%s'", id);
    }
    return rc;
}

void store_rights_page_release(struct store_rights_page *page)
{
    if (page == NULL) {
        return;
    }
    mem_free(page->items);
    page->items = NULL;
    page->count = 0;
}

static int64_t rights_ms(const void *item)
{
    return ((const struct store_rights *)item)->issued_ms;
}

enum err store_rights_list(struct store *s, const struct store_rights_filter *f,
                           struct store_rights_page *page, struct errbuf *err)
{
    page->items = NULL;
    page->count = 0;
    struct store_value v[] = {
        store_text_or_null(f->revision_id),
        store_text_or_null(f->product_id),
        store_text_or_null(f->holder_id),
        store_text_or_null(f->right),
        store_text_or_null(f->status),
        store_text_or_null(f->visible_to),
        store_null(),
        store_null(),
        store_null(),
    };
    void *items = NULL;
    enum err rc = page_query(
        s,
        "SELECT " RIGHTS_COLS " FROM rights"
        " WHERE (CAST($1 AS TEXT) IS NULL OR revision_id = $1)"
        " AND (CAST($2 AS TEXT) IS NULL OR product_id = $2)"
        " AND (CAST($3 AS TEXT) IS NULL OR holder_id = $3)"
        " AND (CAST($4 AS TEXT) IS NULL OR right_type = $4)"
        " AND (CAST($5 AS TEXT) IS NULL OR status = $5)"
        " AND (CAST($6 AS TEXT) IS NULL OR holder_id = $6 OR pledgee_id = $6"
        "  OR product_id IN (SELECT id FROM products WHERE provider_id = $6))"
        " AND (CAST($7 AS BIGINT) IS NULL OR issued_ms > $7 OR (issued_ms = $7 AND id > $8))"
        " ORDER BY issued_ms, id LIMIT $9",
        v, ARRAY_LEN(v), 6, f->cursor, f->limit, sizeof(struct store_rights), rights_parse,
        rights_ms, &items, &page->count, page->next_cursor, err);
    page->items = items;
    return rc;
}

enum err store_rights_count_live(struct store *s, const char *revision_id, const char *right,
                                 int64_t *count, struct errbuf *err)
{
    struct store_value v[] = {store_text(revision_id), store_text(right)};
    *count = 0;
    return store_query(s,
                       "SELECT COUNT(*) FROM rights WHERE revision_id = $1 AND right_type = $2"
                       " AND status <> 'revoked'",
                       v, ARRAY_LEN(v), store__count_cb, count, NULL, err);
}

enum err store_rights_entitled(struct store *s, const char *revision_id, const char *right,
                               const char *entity_id, int *has, struct errbuf *err)
{
    struct store_value v[] = {store_text(revision_id), store_text(right), store_text(entity_id)};
    int64_t n = 0;
    *has = 0;
    enum err rc = store_query(
        s,
        "SELECT COUNT(*) FROM rights r WHERE r.revision_id = $1 AND r.right_type = $2"
        " AND r.status <> 'revoked' AND (r.holder_id = $3 OR EXISTS (SELECT 1 FROM rights_history"
        " h WHERE h.rights_id = r.id AND h.action = 'licensed' AND h.counterparty = $3))",
        v, ARRAY_LEN(v), store__count_cb, &n, NULL, err);
    if (rc == ERR_OK) {
        *has = n > 0;
    }
    return rc;
}

#define RIGHTS_EVENT_COLS                                                                          \
    "log_index, rights_id, action, actor, holder_id, counterparty, terms, version, at_ms"

static enum err rights_event_parse(void *item, const struct store_value *v, size_t n,
                                   struct errbuf *err)
{
    struct store_rights_event *e = item;
    if (n != 9) {
        return err_set(err, ERR_CORRUPT, "", "rights history row has %zu columns", n);
    }
    const struct text_col cols[] = {
        {e->rights_id, sizeof(e->rights_id)},
        {e->action, sizeof(e->action)},
        {e->actor, sizeof(e->actor)},
        {e->holder_id, sizeof(e->holder_id)},
        {e->counterparty, sizeof(e->counterparty)},
        {e->terms, sizeof(e->terms)},
    };
    static const size_t index[] = {1, 2, 3, 4, 5, 6};
    e->log_index = v[0].i;
    e->version = v[7].i;
    e->at_ms = v[8].i;
    return copy_texts(cols, v, index, ARRAY_LEN(cols), err);
}

enum err store_rights_event_insert(struct store *s, const struct store_rights_event *e,
                                   struct errbuf *err)
{
    ASSERT(e->log_index >= 0);
    struct store_value v[] = {
        store_int(e->log_index), store_text(e->rights_id), store_text(e->action),
        store_text(e->actor),    store_text(e->holder_id), store_text(e->counterparty),
        store_text(e->terms),    store_int(e->version),    store_int(e->at_ms),
    };
    return store_query(s,
                       "INSERT INTO rights_history (" RIGHTS_EVENT_COLS ") VALUES ($1, $2, $3,"
                       " $4, $5, $6, $7, $8, $9)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_rights_event_list(struct store *s, const char *rights_id,
                                 struct store_rights_event **out, size_t *count, struct errbuf *err)
{
    struct store_value v[] = {store_text(rights_id), store_int(STORE_RIGHTS_EVENTS_MAX)};
    struct store__rows r = {NULL,
                            0,
                            0,
                            sizeof(struct store_rights_event),
                            STORE_RIGHTS_EVENTS_MAX,
                            8,
                            rights_event_parse};
    enum err rc = store_query(s,
                              "SELECT " RIGHTS_EVENT_COLS " FROM"
                              " (SELECT * FROM rights_history WHERE rights_id = $1"
                              "  ORDER BY log_index DESC LIMIT $2) AS newest ORDER BY log_index",
                              v, ARRAY_LEN(v), rows_cb, &r, NULL, err);
    if (rc != ERR_OK) {
        mem_free(r.items);
        return rc;
    }
    *out = (struct store_rights_event *)(void *)r.items;
    *count = r.count;
    return ERR_OK;
}

/* ---- listing policy ---- */

void store_policy_release(struct store_policy *p)
{
    if (p == NULL) {
        return;
    }
    mem_free(p->rules);
    p->rules = NULL;
}

static enum err policy_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_policy *p = ctx;
    if (n != 5) {
        return err_set(err, ERR_CORRUPT, "", "policy row has %zu columns", n);
    }
    store_policy_release(p);
    p->version = v[0].i;
    p->created_ms = v[3].i;
    p->log_index = v[4].i;
    enum err rc = store__copy_text(p->actor, sizeof(p->actor), &v[2], err);
    if (rc == ERR_OK) {
        rc = dup_text(&p->rules, &v[1], err);
    }
    return rc;
}

enum err store_policy_insert(struct store *s, const struct store_policy *p, struct errbuf *err)
{
    ASSERT(p->version >= 1);
    ASSERT(p->rules != NULL);
    struct store_value v[] = {store_int(p->version), store_text(p->rules), store_text(p->actor),
                              store_int(p->created_ms), store_int(p->log_index)};
    return store_query(s,
                       "INSERT INTO listing_policies (version, rules, actor, created_ms,"
                       " log_index) VALUES ($1, $2, $3, $4, $5)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_policy_get(struct store *s, int64_t version, struct store_policy *out,
                          struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    struct store_value v[] = {store_int(version)};
    enum err rc = store_query(s,
                              "SELECT version, rules, actor, created_ms, log_index FROM"
                              " listing_policies WHERE $1 = 0 OR version = $1"
                              " ORDER BY version DESC LIMIT 1",
                              v, 1, policy_cb, out, NULL, err);
    if (rc == ERR_OK && out->rules == NULL) {
        return err_set(err, ERR_NOT_FOUND, "version", "no listing policy version %" PRId64,
                       version);
    }
    if (rc != ERR_OK) {
        store_policy_release(out);
    }
    return rc;
}

/* ---- assessments ---- */

#define ASSESSMENT_COLS                                                                            \
    "id, product_id, revision_id, content_hash, kind, firm_id, provider_id, status, verdict, "     \
    "report, signature, document_sha256, document_size, requested_ms, submitted_ms, "              \
    "log_index, submit_log_index"
#define ASSESSMENT_SUMMARY_COLS                                                                    \
    "id, product_id, revision_id, content_hash, kind, firm_id, provider_id, status, verdict, "     \
    "NULL, signature, document_sha256, document_size, requested_ms, submitted_ms, "                \
    "log_index, submit_log_index"
#define ASSESSMENT_NCOLS 17

void store_assessment_release(struct store_assessment *a)
{
    if (a == NULL) {
        return;
    }
    mem_free(a->report);
    a->report = NULL;
}

static enum err assessment_parse(void *item, const struct store_value *v, size_t n,
                                 struct errbuf *err)
{
    struct store_assessment *a = item;
    if (n != ASSESSMENT_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "assessment row has %zu columns", n);
    }
    const struct text_col cols[] = {
        {a->id, sizeof(a->id)},
        {a->product_id, sizeof(a->product_id)},
        {a->revision_id, sizeof(a->revision_id)},
        {a->content_hash, sizeof(a->content_hash)},
        {a->kind, sizeof(a->kind)},
        {a->firm_id, sizeof(a->firm_id)},
        {a->provider_id, sizeof(a->provider_id)},
        {a->status, sizeof(a->status)},
        {a->verdict, sizeof(a->verdict)},
        {a->signature, sizeof(a->signature)},
        {a->document_sha256, sizeof(a->document_sha256)},
    };
    static const size_t index[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11};
    _Static_assert(ARRAY_LEN(index) == 11, "one index per text column");
    a->document_size = v[12].i;
    a->requested_ms = v[13].i;
    a->submitted_ms = v[14].i;
    a->log_index = v[15].i;
    a->submit_log_index = v[16].i;
    enum err rc = copy_texts(cols, v, index, ARRAY_LEN(cols), err);
    if (rc == ERR_OK) {
        rc = dup_text(&a->report, &v[9], err);
    }
    return rc;
}

static enum err assessment_one_cb(void *ctx, const struct store_value *v, size_t n,
                                  struct errbuf *err)
{
    struct store_assessment *a = ctx;
    store_assessment_release(a);
    return assessment_parse(a, v, n, err);
}

enum err store_assessment_insert(struct store *s, const struct store_assessment *a,
                                 struct errbuf *err)
{
    ASSERT(a->id[0] != '\0');
    struct store_value v[] = {
        store_text(a->id),
        store_text(a->product_id),
        store_text(a->revision_id),
        store_text(a->content_hash),
        store_text(a->kind),
        store_text(a->firm_id),
        store_text(a->provider_id),
        store_text(a->status),
        store_text(a->verdict),
        a->report != NULL ? store_text(a->report) : store_null(),
        store_text(a->signature),
        store_text(a->document_sha256),
        store_int(a->document_size),
        store_int(a->requested_ms),
        store_int(a->submitted_ms),
        store_int(a->log_index),
        store_int(a->submit_log_index),
    };
    return store_query(s,
                       "INSERT INTO assessments (" ASSESSMENT_COLS ") VALUES ($1, $2, $3, $4, $5,"
                       " $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_assessment_update(struct store *s, const struct store_assessment *a,
                                 struct errbuf *err)
{
    ASSERT(a->report != NULL);
    struct store_value v[] = {
        store_text(a->id),           store_text(a->status),      store_text(a->verdict),
        store_text(a->report),       store_text(a->signature),   store_text(a->document_sha256),
        store_int(a->document_size), store_int(a->submitted_ms), store_int(a->submit_log_index),
    };
    int64_t changes = 0;
    enum err rc = store_query(s,
                              "UPDATE assessments SET status = $2, verdict = $3, report = $4,"
                              " signature = $5, document_sha256 = $6, document_size = $7,"
                              " submitted_ms = $8, submit_log_index = $9 WHERE id = $1",
                              v, ARRAY_LEN(v), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        return err_set(err, ERR_NOT_FOUND, "id", "no assessment '%s'", a->id);
    }
    return rc;
}

enum err store_assessment_get(struct store *s, const char *id, struct store_assessment *out,
                              struct errbuf *err)
{
    struct store_value v[] = {store_text(id)};
    memset(out, 0, sizeof(*out));
    enum err rc = store_query(s, "SELECT " ASSESSMENT_COLS " FROM assessments WHERE id = $1", v, 1,
                              assessment_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "id", "no assessment '%s'", id);
    }
    if (rc != ERR_OK) {
        store_assessment_release(out);
    }
    return rc;
}

void store_assessment_page_release(struct store_assessment_page *page)
{
    if (page == NULL) {
        return;
    }
    for (size_t i = 0; i < page->count; i++) {
        store_assessment_release(&page->items[i]);
    }
    mem_free(page->items);
    page->items = NULL;
    page->count = 0;
}

static int64_t assessment_ms(const void *item)
{
    return ((const struct store_assessment *)item)->requested_ms;
}

enum err store_assessment_list(struct store *s, const struct store_assessment_filter *f,
                               struct store_assessment_page *page, struct errbuf *err)
{
    page->items = NULL;
    page->count = 0;
    struct store_value v[] = {
        store_text_or_null(f->revision_id),
        store_text_or_null(f->product_id),
        store_text_or_null(f->firm_id),
        store_text_or_null(f->kind),
        store_text_or_null(f->status),
        store_text_or_null(f->visible_to),
        store_null(),
        store_null(),
        store_null(),
    };
    void *items = NULL;
    enum err rc =
        page_query(s,
                   "SELECT " ASSESSMENT_SUMMARY_COLS " FROM assessments"
                   " WHERE (CAST($1 AS TEXT) IS NULL OR revision_id = $1)"
                   " AND (CAST($2 AS TEXT) IS NULL OR product_id = $2)"
                   " AND (CAST($3 AS TEXT) IS NULL OR firm_id = $3)"
                   " AND (CAST($4 AS TEXT) IS NULL OR kind = $4)"
                   " AND (CAST($5 AS TEXT) IS NULL OR status = $5)"
                   " AND (CAST($6 AS TEXT) IS NULL OR provider_id = $6 OR firm_id = $6)"
                   " AND (CAST($7 AS BIGINT) IS NULL OR requested_ms > $7"
                   "  OR (requested_ms = $7 AND id > $8))"
                   " ORDER BY requested_ms, id LIMIT $9",
                   v, ARRAY_LEN(v), 6, f->cursor, f->limit, sizeof(struct store_assessment),
                   assessment_parse, assessment_ms, &items, &page->count, page->next_cursor, err);
    page->items = items;
    return rc;
}
