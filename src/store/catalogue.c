/*
 * catalogue.c: the rows of the demand side, in portable SQL: pricing inputs, listings with the
 * buyers of private offers and their search documents, demands, the matches the exchange made
 * and the notifications of the inbox. The search itself is search.c and the backends'.
 *
 * Listing documents are only ever inserted (a delisted listing keeps its document and is
 * filtered by status), so that the backends' indexes never need an update. Demand and
 * notification lists are newest first, paged with a "<ms>.<id>" cursor of the last row.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* ---- helpers ---- */

struct text_col {
    char *dst;
    size_t cap;
    size_t index;
};

static enum err texts_copy(const struct text_col *cols, size_t count, const struct store_value *v,
                           struct errbuf *err)
{
    enum err rc = ERR_OK;
    for (size_t i = 0; i < count && rc == ERR_OK; i++) {
        rc = store__copy_text(cols[i].dst, cols[i].cap, &v[cols[i].index], err);
    }
    return rc;
}

/* An integer column, or fallback for NULL. ERR_CORRUPT for text. */
static enum err int_col(const struct store_value *v, int64_t fallback, int64_t *out,
                        struct errbuf *err)
{
    if (v->type == STORE_NULL) {
        *out = fallback;
        return ERR_OK;
    }
    if (v->type != STORE_INT) {
        return err_set(err, ERR_CORRUPT, "", "an integer column holds text");
    }
    *out = v->i;
    return ERR_OK;
}

static enum err dup_col(char **dst, const struct store_value *v, struct errbuf *err)
{
    *dst = NULL;
    if (v->type != STORE_TEXT) {
        return err_set(err, ERR_CORRUPT, "", "a text column holds no text");
    }
    *dst = mem_strndup(v->s, v->len);
    return *dst != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
}

/* ---- pricing inputs ---- */

#define INPUTS_COLS                                                                                \
    "product_id, version, currency, has_cost, collection, processing, storage, labour, "           \
    "margin_bp, has_income, benefit_per_period, period, periods, discount_rate_bp, actor, "        \
    "updated_ms, log_index"
#define INPUTS_NCOLS 17

enum err store_pricing_inputs_put(struct store *s, const struct store_pricing_inputs *in,
                                  struct errbuf *err)
{
    ASSERT(in->product_id[0] != '\0');
    ASSERT(in->version >= 1);
    struct store_value v[] = {
        store_text(in->product_id),
        store_int(in->version),
        store_text(in->currency),
        store_int(in->has_cost),
        store_int(in->collection),
        store_int(in->processing),
        store_int(in->storage),
        store_int(in->labour),
        store_int(in->margin_bp),
        store_int(in->has_income),
        store_int(in->benefit_per_period),
        store_text(in->period),
        store_int(in->periods),
        store_int(in->discount_rate_bp),
        store_text(in->actor),
        store_int(in->updated_ms),
        store_int(in->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == INPUTS_NCOLS, "one parameter per column");
    return store_query(
        s,
        "INSERT INTO pricing_inputs (" INPUTS_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
        " $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (product_id) DO UPDATE SET"
        " version = $2, currency = $3, has_cost = $4, collection = $5, processing = $6,"
        " storage = $7, labour = $8, margin_bp = $9, has_income = $10, benefit_per_period = $11,"
        " period = $12, periods = $13, discount_rate_bp = $14, actor = $15, updated_ms = $16,"
        " log_index = $17",
        v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

static enum err inputs_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_pricing_inputs *in = ctx;
    if (n != INPUTS_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "pricing inputs row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {in->product_id, sizeof(in->product_id), 0},
        {in->currency, sizeof(in->currency), 2},
        {in->period, sizeof(in->period), 11},
        {in->actor, sizeof(in->actor), 14},
    };
    int64_t *ints[] = {&in->version,    &in->has_cost,         &in->collection,
                       &in->processing, &in->storage,          &in->labour,
                       &in->margin_bp,  &in->has_income,       &in->benefit_per_period,
                       &in->periods,    &in->discount_rate_bp, &in->updated_ms,
                       &in->log_index};
    static const size_t at[] = {1, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 15, 16};
    _Static_assert(ARRAY_LEN(at) == 13, "one index per integer column");
    enum err rc = texts_copy(texts, ARRAY_LEN(texts), v, err);
    for (size_t i = 0; i < ARRAY_LEN(at) && rc == ERR_OK; i++) {
        rc = int_col(&v[at[i]], 0, ints[i], err);
    }
    return rc;
}

enum err store_pricing_inputs_get(struct store *s, const char *product_id,
                                  struct store_pricing_inputs *out, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    struct store_value v[] = {store_text(product_id)};
    enum err rc = store_query(s, "SELECT " INPUTS_COLS " FROM pricing_inputs WHERE product_id = $1",
                              v, 1, inputs_cb, out, NULL, err);
    if (rc == ERR_OK && out->product_id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "id", "product '%s' declares no pricing inputs",
                       product_id);
    }
    return rc;
}

/* ---- listings ---- */

#define LISTING_COLS                                                                               \
    "id, product_id, revision_id, provider_id, status, board, title, category, kind, "             \
    "classification, price_model, currency, price, price_json, terms_json, delivery, "             \
    "private_offer, ref_low, ref_high, ref_basis, price_flag, docid, created_ms, updated_ms, "     \
    "delisted_ms, delist_reason, log_index"
#define LISTING_NCOLS 27

void store_listing_release(struct store_listing *l)
{
    if (l == NULL) {
        return;
    }
    mem_free(l->price_json);
    mem_free(l->terms_json);
    l->price_json = NULL;
    l->terms_json = NULL;
}

static enum err listing_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_listing *l = item;
    if (n != LISTING_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "listing row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {l->id, sizeof(l->id), 0},
        {l->product_id, sizeof(l->product_id), 1},
        {l->revision_id, sizeof(l->revision_id), 2},
        {l->provider_id, sizeof(l->provider_id), 3},
        {l->status, sizeof(l->status), 4},
        {l->board, sizeof(l->board), 5},
        {l->title, sizeof(l->title), 6},
        {l->category, sizeof(l->category), 7},
        {l->kind, sizeof(l->kind), 8},
        {l->classification, sizeof(l->classification), 9},
        {l->price_model, sizeof(l->price_model), 10},
        {l->currency, sizeof(l->currency), 11},
        {l->ref_basis, sizeof(l->ref_basis), 19},
        {l->price_flag, sizeof(l->price_flag), 20},
        {l->delist_reason, sizeof(l->delist_reason), 25},
    };
    enum err rc = texts_copy(texts, ARRAY_LEN(texts), v, err);
    const struct {
        int64_t *dst;
        size_t index;
        int64_t null_value;
    } ints[] = {
        {&l->price, 12, -1},     {&l->delivery, 15, 0},   {&l->private_offer, 16, 0},
        {&l->ref_low, 17, -1},   {&l->ref_high, 18, -1},  {&l->docid, 21, 0},
        {&l->created_ms, 22, 0}, {&l->updated_ms, 23, 0}, {&l->delisted_ms, 24, 0},
        {&l->log_index, 26, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(ints) && rc == ERR_OK; i++) {
        rc = int_col(&v[ints[i].index], ints[i].null_value, ints[i].dst, err);
    }
    if (rc == ERR_OK) {
        rc = dup_col(&l->price_json, &v[13], err);
    }
    if (rc == ERR_OK) {
        rc = dup_col(&l->terms_json, &v[14], err);
    }
    return rc;
}

static struct store_value int_or_null(int64_t v)
{
    return v >= 0 ? store_int(v) : store_null();
}

static enum err doc_insert(struct store *s, const struct store_listing *l,
                           const struct store_listing_doc *doc, struct errbuf *err)
{
    struct buf title, terms;
    buf_init(&title, 64u << 10);
    buf_init(&terms, 1u << 20);
    enum err rc = s->ops->search->index_text(doc, &title, &terms);
    if (rc == ERR_OK && title.data == NULL) {
        rc = buf_append(&title, "", 0);
    }
    if (rc == ERR_OK && terms.data == NULL) {
        rc = buf_append(&terms, "", 0);
    }
    if (rc != ERR_OK) {
        buf_release(&title);
        buf_release(&terms);
        return err_set(err, rc, "", "cannot build the search document of '%s'", l->id);
    }
    struct store_value v[] = {store_int(l->docid),    store_text(l->id),
                              store_text(doc->title), store_text(doc->body),
                              store_text(title.data), store_text(terms.data)};
    rc = store_query(s,
                     "INSERT INTO listing_docs (docid, listing_id, title, body, title_terms, terms)"
                     " VALUES ($1, $2, $3, $4, $5, $6)",
                     v, ARRAY_LEN(v), NULL, NULL, NULL, err);
    buf_release(&title);
    buf_release(&terms);
    return rc;
}

enum err store_listing_insert(struct store *s, const struct store_listing *l,
                              const char (*buyers)[ID_MAX], size_t buyer_count,
                              const struct store_listing_doc *doc, struct errbuf *err)
{
    ASSERT(l->id[0] != '\0' && l->price_json != NULL && l->terms_json != NULL);
    ASSERT(buyer_count <= STORE_LISTING_BUYERS_MAX);
    ASSERT(doc != NULL && doc->title != NULL && doc->body != NULL);
    struct store_value v[] = {
        store_text(l->id),           store_text(l->product_id),
        store_text(l->revision_id),  store_text(l->provider_id),
        store_text(l->status),       store_text(l->board),
        store_text(l->title),        store_text(l->category),
        store_text(l->kind),         store_text(l->classification),
        store_text(l->price_model),  store_text(l->currency),
        int_or_null(l->price),       store_text(l->price_json),
        store_text(l->terms_json),   store_int(l->delivery),
        store_int(l->private_offer), int_or_null(l->ref_low),
        int_or_null(l->ref_high),    store_text(l->ref_basis),
        store_text(l->price_flag),   store_int(l->docid),
        store_int(l->created_ms),    store_int(l->updated_ms),
        store_int(l->delisted_ms),   store_text(l->delist_reason),
        store_int(l->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == LISTING_NCOLS, "one parameter per column");
    enum err rc = store_query(
        s,
        "INSERT INTO listings (" LISTING_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
        " $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)",
        v, ARRAY_LEN(v), NULL, NULL, NULL, err);
    for (size_t i = 0; i < buyer_count && rc == ERR_OK; i++) {
        struct store_value b[] = {store_text(l->id), store_text(buyers[i])};
        rc = store_query(s, "INSERT INTO listing_buyers (listing_id, buyer_id) VALUES ($1, $2)", b,
                         2, NULL, NULL, NULL, err);
    }
    if (rc == ERR_OK) {
        rc = doc_insert(s, l, doc, err);
    }
    return rc;
}

enum err store_listing_update_status(struct store *s, const struct store_listing *l,
                                     struct errbuf *err)
{
    struct store_value v[] = {
        store_text(l->id),         store_text(l->status),        store_int(l->updated_ms),
        store_int(l->delisted_ms), store_text(l->delist_reason), store_int(l->log_index)};
    int64_t changes = 0;
    enum err rc = store_query(s,
                              "UPDATE listings SET status = $2, updated_ms = $3, delisted_ms = $4,"
                              " delist_reason = $5, log_index = $6 WHERE id = $1",
                              v, ARRAY_LEN(v), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        return err_set(err, ERR_NOT_FOUND, "id", "no listing '%s'", l->id);
    }
    return rc;
}

static enum err listing_one_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_listing *l = ctx;
    store_listing_release(l);
    return listing_parse(l, v, n, err);
}

enum err store_listing_get(struct store *s, const char *id, struct store_listing *out,
                           struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    struct store_value v[] = {store_text(id)};
    enum err rc = store_query(s, "SELECT " LISTING_COLS " FROM listings WHERE id = $1", v, 1,
                              listing_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "id", "no listing '%s'", id);
    }
    return rc;
}

struct buyers_ctx {
    char (*out)[ID_MAX];
    size_t count;
};

static enum err buyer_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct buyers_ctx *b = ctx;
    if (n != 1 || b->count == STORE_LISTING_BUYERS_MAX) {
        return err_set(err, ERR_CORRUPT, "", "a listing names too many buyers");
    }
    enum err rc = store__copy_text(b->out[b->count], ID_MAX, &v[0], err);
    if (rc == ERR_OK) {
        b->count++;
    }
    return rc;
}

enum err store_listing_buyers(struct store *s, const char *listing_id, char (*out)[ID_MAX],
                              size_t *count, struct errbuf *err)
{
    struct store_value v[] = {store_text(listing_id)};
    struct buyers_ctx b = {out, 0};
    enum err rc = store_query(s,
                              "SELECT buyer_id FROM listing_buyers WHERE listing_id = $1"
                              " ORDER BY buyer_id LIMIT 21",
                              v, 1, buyer_cb, &b, NULL, err);
    *count = b.count;
    return rc;
}

enum err store_listing_buyer_named(struct store *s, const char *listing_id, const char *entity_id,
                                   int *named, struct errbuf *err)
{
    struct store_value v[] = {store_text(listing_id), store_text(entity_id)};
    int64_t n = 0;
    enum err rc = store_query(s,
                              "SELECT COUNT(*) FROM listing_buyers WHERE listing_id = $1"
                              " AND buyer_id = $2",
                              v, 2, store__count_cb, &n, NULL, err);
    *named = rc == ERR_OK && n > 0;
    return rc;
}

enum err store_listing_count_active(struct store *s, const char *product_id, const char *board,
                                    int64_t *count, struct errbuf *err)
{
    struct store_value v[] = {store_text(product_id), store_text(board)};
    *count = 0;
    return store_query(s,
                       "SELECT COUNT(*) FROM listings WHERE product_id = $1 AND board = $2"
                       " AND status = 'active' AND private_offer = 0",
                       v, 2, store__count_cb, count, NULL, err);
}

struct values_ctx {
    int64_t *values;
    size_t count;
    size_t max;
};

static enum err value_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct values_ctx *c = ctx;
    if (n != 1 || v[0].type != STORE_INT) {
        return err_set(err, ERR_CORRUPT, "", "a listing price is not an integer");
    }
    if (c->count < c->max) {
        c->values[c->count++] = v[0].i;
    }
    return ERR_OK;
}

enum err store_listing_comparables(struct store *s, const char *category, const char *kind,
                                   const char *currency, const char *exclude_product_id,
                                   int64_t *values, size_t max, size_t *count, struct errbuf *err)
{
    struct store_value v[] = {store_text(category), store_text(kind), store_text(currency),
                              store_text(exclude_product_id), store_int((int64_t)max)};
    struct values_ctx c = {values, 0, max};
    enum err rc = store_query(s,
                              "SELECT price FROM listings WHERE category = $1 AND kind = $2"
                              " AND currency = $3 AND status = 'active' AND private_offer = 0"
                              " AND price IS NOT NULL AND price > 0 AND product_id <> $4"
                              " ORDER BY docid DESC LIMIT $5",
                              v, ARRAY_LEN(v), value_cb, &c, NULL, err);
    *count = c.count;
    return rc;
}

/* ---- demands ---- */

#define DEMAND_COLS                                                                                \
    "id, buyer_id, status, wanted, category, kind, purpose, budget, currency, deadline_ms, "       \
    "created_ms, updated_ms, closed_ms, close_reason, log_index"
#define DEMAND_NCOLS 15

static enum err demand_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_demand *d = item;
    if (n != DEMAND_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "demand row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {d->id, sizeof(d->id), 0},
        {d->buyer_id, sizeof(d->buyer_id), 1},
        {d->status, sizeof(d->status), 2},
        {d->text, sizeof(d->text), 3},
        {d->category, sizeof(d->category), 4},
        {d->kind, sizeof(d->kind), 5},
        {d->purpose, sizeof(d->purpose), 6},
        {d->currency, sizeof(d->currency), 8},
        {d->close_reason, sizeof(d->close_reason), 13},
    };
    enum err rc = texts_copy(texts, ARRAY_LEN(texts), v, err);
    int64_t *ints[] = {&d->budget,     &d->deadline_ms, &d->created_ms,
                       &d->updated_ms, &d->closed_ms,   &d->log_index};
    static const size_t at[] = {7, 9, 10, 11, 12, 14};
    for (size_t i = 0; i < ARRAY_LEN(at) && rc == ERR_OK; i++) {
        rc = int_col(&v[at[i]], 0, ints[i], err);
    }
    return rc;
}

enum err store_demand_insert(struct store *s, const struct store_demand *d, struct errbuf *err)
{
    ASSERT(d->id[0] != '\0');
    struct store_value v[] = {
        store_text(d->id),         store_text(d->buyer_id),     store_text(d->status),
        store_text(d->text),       store_text(d->category),     store_text(d->kind),
        store_text(d->purpose),    store_int(d->budget),        store_text(d->currency),
        store_int(d->deadline_ms), store_int(d->created_ms),    store_int(d->updated_ms),
        store_int(d->closed_ms),   store_text(d->close_reason), store_int(d->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == DEMAND_NCOLS, "one parameter per column");
    return store_query(s,
                       "INSERT INTO demands (" DEMAND_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7,"
                       " $8, $9, $10, $11, $12, $13, $14, $15)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_demand_update(struct store *s, const struct store_demand *d, struct errbuf *err)
{
    struct store_value v[] = {store_text(d->id),           store_text(d->status),
                              store_int(d->updated_ms),    store_int(d->closed_ms),
                              store_text(d->close_reason), store_int(d->log_index)};
    int64_t changes = 0;
    enum err rc = store_query(s,
                              "UPDATE demands SET status = $2, updated_ms = $3, closed_ms = $4,"
                              " close_reason = $5, log_index = $6 WHERE id = $1",
                              v, ARRAY_LEN(v), NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        return err_set(err, ERR_NOT_FOUND, "id", "no demand '%s'", d->id);
    }
    return rc;
}

static enum err demand_one_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    return demand_parse(ctx, v, n, err);
}

enum err store_demand_get(struct store *s, const char *id, struct store_demand *out,
                          struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    struct store_value v[] = {store_text(id)};
    enum err rc = store_query(s, "SELECT " DEMAND_COLS " FROM demands WHERE id = $1", v, 1,
                              demand_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "id", "no demand '%s'", id);
    }
    return rc;
}

void store_demand_page_release(struct store_demand_page *page)
{
    if (page == NULL) {
        return;
    }
    mem_free(page->items);
    page->items = NULL;
    page->count = 0;
}

enum err store_demand_list(struct store *s, const struct store_demand_filter *f,
                           struct store_demand_page *page, struct errbuf *err)
{
    ASSERT(f->limit >= 1 && f->limit <= STORE_PAGE_MAX);
    memset(page, 0, sizeof(*page));
    int64_t before_ms = INT64_MAX;
    char before_id[ID_MAX] = "";
    if (f->cursor != NULL) {
        enum err rc = store__cursor_parse(f->cursor, &before_ms, before_id, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    struct store_value v[] = {
        store_text_or_null(f->buyer_id),
        store_text_or_null(f->category),
        store_text_or_null(f->kind),
        store_text_or_null(f->status),
        store_int(before_ms),
        store_text(before_id),
        store_int(f->cursor != NULL),
        store_int((int64_t)f->limit + 1),
    };
    struct store__rows r = {NULL, 0, 0, sizeof(struct store_demand), f->limit + 1, 8, demand_parse};
    enum err rc = store_query(s,
                              "SELECT " DEMAND_COLS " FROM demands"
                              " WHERE (CAST($1 AS TEXT) IS NULL OR buyer_id = $1)"
                              " AND (CAST($2 AS TEXT) IS NULL OR category = $2)"
                              " AND (CAST($3 AS TEXT) IS NULL OR kind = $3)"
                              " AND (CAST($4 AS TEXT) IS NULL OR status = $4)"
                              " AND ($7 = 0 OR created_ms < $5 OR (created_ms = $5 AND id < $6))"
                              " ORDER BY created_ms DESC, id DESC LIMIT $8",
                              v, ARRAY_LEN(v), store__rows_cb, &r, NULL, err);
    if (rc != ERR_OK) {
        mem_free(r.items);
        return rc;
    }
    if (r.count > f->limit) {
        r.count = f->limit;
        const struct store_demand *last = (const struct store_demand *)r.items + f->limit - 1;
        snprintf(page->next_cursor, sizeof(page->next_cursor), "%" PRId64 ".%s", last->created_ms,
                 last->id);
    }
    page->items = (struct store_demand *)r.items;
    page->count = r.count;
    return ERR_OK;
}

enum err store_demand_open_for(struct store *s, const char *category, const char *kind,
                               int64_t now_ms, size_t max, struct store_demand **out, size_t *count,
                               struct errbuf *err)
{
    struct store_value v[] = {store_text(category), store_text(kind), store_int(now_ms),
                              store_int((int64_t)max)};
    struct store__rows r = {NULL, 0, 0, sizeof(struct store_demand), max, 8, demand_parse};
    enum err rc = store_query(s,
                              "SELECT " DEMAND_COLS " FROM demands WHERE category = $1"
                              " AND status = 'open' AND (kind = '' OR kind = $2)"
                              " AND deadline_ms > $3 ORDER BY created_ms DESC, id DESC LIMIT $4",
                              v, ARRAY_LEN(v), store__rows_cb, &r, NULL, err);
    if (rc != ERR_OK) {
        mem_free(r.items);
        return rc;
    }
    *out = (struct store_demand *)r.items;
    *count = r.count;
    return ERR_OK;
}

enum err store_demand_match_insert(struct store *s, const struct store_demand_match *m,
                                   int *inserted, struct errbuf *err)
{
    struct store_value v[] = {store_text(m->demand_id), store_text(m->listing_id),
                              store_int(m->score), store_int(m->created_ms),
                              store_int(m->log_index)};
    int64_t changes = 0;
    enum err rc =
        store_query(s,
                    "INSERT INTO demand_matches (demand_id, listing_id, score, created_ms,"
                    " log_index) VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT (demand_id, listing_id) DO NOTHING",
                    v, ARRAY_LEN(v), NULL, NULL, &changes, err);
    *inserted = rc == ERR_OK && changes == 1;
    return rc;
}

enum err store_demand_matched(struct store *s, const char *demand_id, const char *listing_id,
                              int *matched, struct errbuf *err)
{
    struct store_value v[] = {store_text(demand_id), store_text(listing_id)};
    int64_t n = 0;
    enum err rc = store_query(s,
                              "SELECT COUNT(*) FROM demand_matches WHERE demand_id = $1"
                              " AND listing_id = $2",
                              v, 2, store__count_cb, &n, NULL, err);
    *matched = rc == ERR_OK && n > 0;
    return rc;
}

static enum err match_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_demand_match *m = item;
    if (n != 5) {
        return err_set(err, ERR_CORRUPT, "", "match row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {m->demand_id, sizeof(m->demand_id), 0},
        {m->listing_id, sizeof(m->listing_id), 1},
    };
    enum err rc = texts_copy(texts, ARRAY_LEN(texts), v, err);
    if (rc == ERR_OK) {
        rc = int_col(&v[2], 0, &m->score, err);
    }
    if (rc == ERR_OK) {
        rc = int_col(&v[3], 0, &m->created_ms, err);
    }
    if (rc == ERR_OK) {
        rc = int_col(&v[4], 0, &m->log_index, err);
    }
    return rc;
}

enum err store_demand_match_list(struct store *s, const char *demand_id, size_t max,
                                 struct store_demand_match **out, size_t *count, struct errbuf *err)
{
    struct store_value v[] = {store_text(demand_id), store_int((int64_t)max)};
    struct store__rows r = {NULL, 0, 0, sizeof(struct store_demand_match), max, 8, match_parse};
    enum err rc = store_query(s,
                              "SELECT demand_id, listing_id, score, created_ms, log_index"
                              " FROM demand_matches WHERE demand_id = $1"
                              " ORDER BY score DESC, listing_id LIMIT $2",
                              v, 2, store__rows_cb, &r, NULL, err);
    if (rc != ERR_OK) {
        mem_free(r.items);
        return rc;
    }
    *out = (struct store_demand_match *)r.items;
    *count = r.count;
    return ERR_OK;
}

/* ---- notifications ---- */

#define NOTE_COLS "id, recipient_id, type, subject_id, body, created_ms, read_ms, log_index"
#define NOTE_NCOLS 8

static enum err note_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_notification *x = item;
    if (n != NOTE_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "notification row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {x->id, sizeof(x->id), 0},     {x->recipient_id, sizeof(x->recipient_id), 1},
        {x->type, sizeof(x->type), 2}, {x->subject_id, sizeof(x->subject_id), 3},
        {x->body, sizeof(x->body), 4},
    };
    enum err rc = texts_copy(texts, ARRAY_LEN(texts), v, err);
    if (rc == ERR_OK) {
        rc = int_col(&v[5], 0, &x->created_ms, err);
    }
    if (rc == ERR_OK) {
        rc = int_col(&v[6], 0, &x->read_ms, err);
    }
    if (rc == ERR_OK) {
        rc = int_col(&v[7], 0, &x->log_index, err);
    }
    return rc;
}

enum err store_notification_insert(struct store *s, const struct store_notification *x,
                                   struct errbuf *err)
{
    struct store_value v[] = {store_text(x->id),     store_text(x->recipient_id),
                              store_text(x->type),   store_text(x->subject_id),
                              store_text(x->body),   store_int(x->created_ms),
                              store_int(x->read_ms), store_int(x->log_index)};
    _Static_assert(ARRAY_LEN(v) == NOTE_NCOLS, "one parameter per column");
    return store_query(s,
                       "INSERT INTO notifications (" NOTE_COLS ") VALUES ($1, $2, $3, $4, $5, $6,"
                       " $7, $8)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

static enum err note_one_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    return note_parse(ctx, v, n, err);
}

enum err store_notification_get(struct store *s, const char *id, struct store_notification *out,
                                struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    struct store_value v[] = {store_text(id)};
    enum err rc = store_query(s, "SELECT " NOTE_COLS " FROM notifications WHERE id = $1", v, 1,
                              note_one_cb, out, NULL, err);
    if (rc == ERR_OK && out->id[0] == '\0') {
        return err_set(err, ERR_NOT_FOUND, "id", "no notification '%s'", id);
    }
    return rc;
}

enum err store_notification_mark_read(struct store *s, const char *id, int64_t read_ms,
                                      int *changed, struct errbuf *err)
{
    struct store_value v[] = {store_text(id), store_int(read_ms)};
    int64_t changes = 0;
    enum err rc =
        store_query(s, "UPDATE notifications SET read_ms = $2 WHERE id = $1 AND read_ms = 0", v, 2,
                    NULL, NULL, &changes, err);
    *changed = rc == ERR_OK && changes == 1;
    return rc;
}

void store_notification_page_release(struct store_notification_page *page)
{
    if (page == NULL) {
        return;
    }
    mem_free(page->items);
    page->items = NULL;
    page->count = 0;
}

enum err store_notification_list(struct store *s, const struct store_notification_filter *f,
                                 struct store_notification_page *page, struct errbuf *err)
{
    ASSERT(f->recipient_id != NULL);
    ASSERT(f->limit >= 1 && f->limit <= STORE_PAGE_MAX);
    memset(page, 0, sizeof(*page));
    int64_t before_ms = INT64_MAX;
    char before_id[ID_MAX] = "";
    if (f->cursor != NULL) {
        enum err rc = store__cursor_parse(f->cursor, &before_ms, before_id, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    struct store_value v[] = {store_text(f->recipient_id),     store_int(f->unread_only),
                              store_int(f->read_only),         store_int(before_ms),
                              store_text(before_id),           store_int(f->cursor != NULL),
                              store_int((int64_t)f->limit + 1)};
    struct store__rows r = {NULL,         0, 0,         sizeof(struct store_notification),
                            f->limit + 1, 8, note_parse};
    enum err rc = store_query(s,
                              "SELECT " NOTE_COLS " FROM notifications WHERE recipient_id = $1"
                              " AND ($2 = 0 OR read_ms = 0) AND ($3 = 0 OR read_ms <> 0)"
                              " AND ($6 = 0 OR created_ms < $4 OR (created_ms = $4 AND id < $5))"
                              " ORDER BY created_ms DESC, id DESC LIMIT $7",
                              v, ARRAY_LEN(v), store__rows_cb, &r, NULL, err);
    if (rc == ERR_OK) {
        struct store_value u[] = {store_text(f->recipient_id)};
        rc = store_query(s,
                         "SELECT COUNT(*) FROM notifications WHERE recipient_id = $1"
                         " AND read_ms = 0",
                         u, 1, store__count_cb, &page->unread, NULL, err);
    }
    if (rc != ERR_OK) {
        mem_free(r.items);
        return rc;
    }
    if (r.count > f->limit) {
        r.count = f->limit;
        const struct store_notification *last =
            (const struct store_notification *)r.items + f->limit - 1;
        snprintf(page->next_cursor, sizeof(page->next_cursor), "%" PRId64 ".%s", last->created_ms,
                 last->id);
    }
    page->items = (struct store_notification *)r.items;
    page->count = r.count;
    return ERR_OK;
}
