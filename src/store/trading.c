/*
 * trading.c: the rows of the trading half, in portable SQL: orders (every agreed trade),
 * negotiations and their offers, auctions and their sealed bids. What they may hold is
 * core/trade.c's to decide; this file only reads and writes them.
 *
 * A listing's exclusivity is held by at most one order: the orders.exclusive_key column is the
 * listing id while an exclusive order holds it and NULL otherwise, under a unique index (both
 * engines let NULLs repeat). Core checks the holder before it writes, inside the writer's
 * transaction; the index is the last word should two writers ever race.
 *
 * Lists are newest first, paged with a "<ms>.<id>" cursor of the last row, as the catalogue's.
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

struct int_col {
    int64_t *dst;
    size_t index;
};

/* Copies the text and integer columns of one row; NULL integers read as 0. */
static enum err cols_copy(const struct text_col *texts, size_t text_count,
                          const struct int_col *ints, size_t int_count, const struct store_value *v,
                          struct errbuf *err)
{
    enum err rc = ERR_OK;
    for (size_t i = 0; i < text_count && rc == ERR_OK; i++) {
        rc = store__copy_text(texts[i].dst, texts[i].cap, &v[texts[i].index], err);
    }
    for (size_t i = 0; i < int_count && rc == ERR_OK; i++) {
        const struct store_value *c = &v[ints[i].index];
        if (c->type == STORE_TEXT) {
            rc = err_set(err, ERR_CORRUPT, "", "an integer column holds text");
        } else {
            *ints[i].dst = c->type == STORE_INT ? c->i : 0;
        }
    }
    return rc;
}

/* Reads one row into out with parse; ERR_NOT_FOUND naming what when there is none. */
static enum err one_row(struct store *s, const char *sql, const char *id,
                        store__row_parse_fn *parse, void *out, size_t size, const char *what,
                        struct errbuf *err)
{
    struct store_value v[] = {store_text(id)};
    struct store__rows r = {NULL, 0, 0, size, 1, 4, parse};
    enum err rc = store_query(s, sql, v, ARRAY_LEN(v), store__rows_cb, &r, NULL, err);
    if (rc == ERR_OK && r.count == 0) {
        rc = err_set(err, ERR_NOT_FOUND, "id", "no %s '%s'", what, id);
    }
    if (rc == ERR_OK) {
        memcpy(out, r.items, size);
    }
    mem_free(r.items);
    return rc;
}

/* Runs an UPDATE that must change exactly one row. */
static enum err update_one(struct store *s, const char *sql, const struct store_value *v,
                           size_t count, const char *what, const char *id, struct errbuf *err)
{
    int64_t changes = 0;
    enum err rc = store_query(s, sql, v, count, NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        rc = err_set(err, ERR_NOT_FOUND, "id", "no %s '%s'", what, id);
    }
    return rc;
}

/* Parses the page cursor (or none) into the (before_ms, before_id) bound. */
static enum err cursor_bound(const char *cursor, int64_t *before_ms, char before_id[ID_MAX],
                             struct errbuf *err)
{
    *before_ms = INT64_MAX;
    before_id[0] = '\0';
    return cursor != NULL ? store__cursor_parse(cursor, before_ms, before_id, err) : ERR_OK;
}

/* Trims a page read with limit + 1 rows and sets its cursor from the last row kept. */
static size_t page_finish(struct store__rows *r, size_t limit,
                          int64_t last_ms_of_kept(const void *),
                          const char *(*last_id_of_kept)(const void *), char *cursor, size_t cap)
{
    if (r->count <= limit) {
        return r->count;
    }
    const void *last = r->items + (limit - 1) * r->size;
    snprintf(cursor, cap, "%" PRId64 ".%s", last_ms_of_kept(last), last_id_of_kept(last));
    return limit;
}

/* Reads ids (first column) into a fixed array. */
struct ids_ctx {
    char (*ids)[ID_MAX];
    size_t max;
    size_t count;
};

static enum err ids_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct ids_ctx *x = ctx;
    if (n != 1) {
        return err_set(err, ERR_CORRUPT, "", "an id row has %zu columns", n);
    }
    if (x->count == x->max) {
        return ERR_OK;
    }
    enum err rc = store__copy_text(x->ids[x->count], ID_MAX, &v[0], err);
    x->count += rc == ERR_OK;
    return rc;
}

static enum err due_ids(struct store *s, const char *sql, int64_t now_ms, size_t max,
                        char (*ids)[ID_MAX], size_t *count, struct errbuf *err)
{
    struct ids_ctx x = {ids, max, 0};
    struct store_value v[] = {store_int(now_ms), store_int((int64_t)max)};
    enum err rc = store_query(s, sql, v, ARRAY_LEN(v), ids_cb, &x, NULL, err);
    *count = rc == ERR_OK ? x.count : 0;
    return rc;
}

/* ---- orders ---- */

#define ORDER_COLS                                                                                 \
    "id, listing_id, product_id, revision_id, provider_id, buyer_id, source, source_id, "          \
    "price_model, tier, periods, currency, unit_price, price, terms, exclusive_key, contract_id, " \
    "status, created_ms, log_index"
#define ORDER_NCOLS 20

static enum err order_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_order *o = item;
    if (n != ORDER_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "order row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {o->id, sizeof(o->id), 0},
        {o->listing_id, sizeof(o->listing_id), 1},
        {o->product_id, sizeof(o->product_id), 2},
        {o->revision_id, sizeof(o->revision_id), 3},
        {o->provider_id, sizeof(o->provider_id), 4},
        {o->buyer_id, sizeof(o->buyer_id), 5},
        {o->source, sizeof(o->source), 6},
        {o->source_id, sizeof(o->source_id), 7},
        {o->price_model, sizeof(o->price_model), 8},
        {o->tier, sizeof(o->tier), 9},
        {o->currency, sizeof(o->currency), 11},
        {o->terms, sizeof(o->terms), 14},
        {o->contract_id, sizeof(o->contract_id), 16},
        {o->status, sizeof(o->status), 17},
    };
    const struct int_col ints[] = {
        {&o->periods, 10},    {&o->unit_price, 12}, {&o->price, 13},
        {&o->created_ms, 18}, {&o->log_index, 19},
    };
    o->exclusive = v[15].type == STORE_TEXT;
    return cols_copy(texts, ARRAY_LEN(texts), ints, ARRAY_LEN(ints), v, err);
}

void store_order_page_release(struct store_order_page *page)
{
    if (page == NULL) {
        return;
    }
    mem_free(page->items);
    page->items = NULL;
    page->count = 0;
}

enum err store_order_insert(struct store *s, const struct store_order *o, struct errbuf *err)
{
    ASSERT(o->id[0] != '\0');
    ASSERT(o->exclusive == 0 || o->exclusive == 1);
    struct store_value v[] = {
        store_text(o->id),          store_text(o->listing_id),
        store_text(o->product_id),  store_text(o->revision_id),
        store_text(o->provider_id), store_text(o->buyer_id),
        store_text(o->source),      store_text(o->source_id),
        store_text(o->price_model), store_text(o->tier),
        store_int(o->periods),      store_text(o->currency),
        store_int(o->unit_price),   store_int(o->price),
        store_text(o->terms),       o->exclusive ? store_text(o->listing_id) : store_null(),
        store_text(o->contract_id), store_text(o->status),
        store_int(o->created_ms),   store_int(o->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == ORDER_NCOLS, "one parameter per column");
    enum err rc = store_query(s,
                              "INSERT INTO orders (" ORDER_COLS ") VALUES ($1, $2, $3, $4, $5, $6,"
                              " $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
                              v, ARRAY_LEN(v), NULL, NULL, NULL, err);
    if (rc == ERR_CONFLICT) {
        rc = err_set(err, ERR_CONFLICT, "listing_id",
                     "the exclusive licence of listing '%s' is held already", o->listing_id);
    }
    return rc;
}

enum err store_order_get(struct store *s, const char *id, struct store_order *out,
                         struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    return one_row(s, "SELECT " ORDER_COLS " FROM orders WHERE id = $1", id, order_parse, out,
                   sizeof(*out), "order", err);
}

static int64_t order_ms(const void *p)
{
    return ((const struct store_order *)p)->created_ms;
}

static const char *order_id(const void *p)
{
    return ((const struct store_order *)p)->id;
}

enum err store_order_list(struct store *s, const struct store_order_filter *f,
                          struct store_order_page *page, struct errbuf *err)
{
    ASSERT(f->limit >= 1 && f->limit <= STORE_PAGE_MAX);
    memset(page, 0, sizeof(*page));
    int64_t before_ms = 0;
    char before_id[ID_MAX];
    enum err rc = cursor_bound(f->cursor, &before_ms, before_id, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_value v[] = {
        store_text_or_null(f->party_id), store_text_or_null(f->listing_id), store_int(before_ms),
        store_text(before_id),           store_int((int64_t)f->limit + 1),
    };
    struct store__rows r = {NULL, 0, 0, sizeof(struct store_order), f->limit + 1, 4, order_parse};
    rc = store_query(s,
                     "SELECT " ORDER_COLS " FROM orders"
                     " WHERE (CAST($1 AS TEXT) IS NULL OR buyer_id = $1 OR provider_id = $1)"
                     " AND (CAST($2 AS TEXT) IS NULL OR listing_id = $2)"
                     " AND (created_ms < $3 OR (created_ms = $3 AND id < $4))"
                     " ORDER BY created_ms DESC, id DESC LIMIT $5",
                     v, ARRAY_LEN(v), store__rows_cb, &r, NULL, err);
    if (rc != ERR_OK) {
        mem_free(r.items);
        return rc;
    }
    page->count =
        page_finish(&r, f->limit, order_ms, order_id, page->next_cursor, sizeof(page->next_cursor));
    page->items = (struct store_order *)r.items;
    return ERR_OK;
}

enum err store_order_exclusive_holder(struct store *s, const char *listing_id,
                                      struct store_order *out, int *found, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    enum err rc = one_row(s, "SELECT " ORDER_COLS " FROM orders WHERE exclusive_key = $1",
                          listing_id, order_parse, out, sizeof(*out), "holder", err);
    *found = rc == ERR_OK;
    return rc == ERR_NOT_FOUND ? ERR_OK : rc;
}

enum err store_order_exclusive_release(struct store *s, const char *id, struct errbuf *err)
{
    struct store_value v[] = {store_text(id)};
    return update_one(s, "UPDATE orders SET exclusive_key = NULL WHERE id = $1", v, ARRAY_LEN(v),
                      "order", id, err);
}

enum err store_order_count(struct store *s, int64_t *count, struct errbuf *err)
{
    *count = 0;
    return store_query(s, "SELECT COUNT(*) FROM orders", NULL, 0, store__count_cb, count, NULL,
                       err);
}

/* ---- negotiations ---- */

#define NEGOTIATION_COLS                                                                           \
    "id, listing_id, product_id, revision_id, provider_id, buyer_id, status, currency, price, "    \
    "terms, last_by, offers, expires_ms, created_ms, updated_ms, closed_ms, closed_by, order_id, " \
    "log_index"
#define NEGOTIATION_NCOLS 19

static enum err negotiation_parse(void *item, const struct store_value *v, size_t n,
                                  struct errbuf *err)
{
    struct store_negotiation *x = item;
    if (n != NEGOTIATION_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "negotiation row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {x->id, sizeof(x->id), 0},
        {x->listing_id, sizeof(x->listing_id), 1},
        {x->product_id, sizeof(x->product_id), 2},
        {x->revision_id, sizeof(x->revision_id), 3},
        {x->provider_id, sizeof(x->provider_id), 4},
        {x->buyer_id, sizeof(x->buyer_id), 5},
        {x->status, sizeof(x->status), 6},
        {x->currency, sizeof(x->currency), 7},
        {x->terms, sizeof(x->terms), 9},
        {x->last_by, sizeof(x->last_by), 10},
        {x->closed_by, sizeof(x->closed_by), 16},
        {x->order_id, sizeof(x->order_id), 17},
    };
    const struct int_col ints[] = {
        {&x->price, 8},       {&x->offers, 11},    {&x->expires_ms, 12}, {&x->created_ms, 13},
        {&x->updated_ms, 14}, {&x->closed_ms, 15}, {&x->log_index, 18},
    };
    return cols_copy(texts, ARRAY_LEN(texts), ints, ARRAY_LEN(ints), v, err);
}

void store_negotiation_page_release(struct store_negotiation_page *page)
{
    if (page == NULL) {
        return;
    }
    mem_free(page->items);
    page->items = NULL;
    page->count = 0;
}

enum err store_negotiation_insert(struct store *s, const struct store_negotiation *x,
                                  struct errbuf *err)
{
    ASSERT(x->id[0] != '\0');
    struct store_value v[] = {
        store_text(x->id),          store_text(x->listing_id),  store_text(x->product_id),
        store_text(x->revision_id), store_text(x->provider_id), store_text(x->buyer_id),
        store_text(x->status),      store_text(x->currency),    store_int(x->price),
        store_text(x->terms),       store_text(x->last_by),     store_int(x->offers),
        store_int(x->expires_ms),   store_int(x->created_ms),   store_int(x->updated_ms),
        store_int(x->closed_ms),    store_text(x->closed_by),   store_text(x->order_id),
        store_int(x->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == NEGOTIATION_NCOLS, "one parameter per column");
    return store_query(s,
                       "INSERT INTO negotiations (" NEGOTIATION_COLS ") VALUES ($1, $2, $3, $4,"
                       " $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_negotiation_update(struct store *s, const struct store_negotiation *x,
                                  struct errbuf *err)
{
    struct store_value v[] = {
        store_text(x->id),        store_text(x->status),   store_int(x->price),
        store_text(x->terms),     store_text(x->last_by),  store_int(x->offers),
        store_int(x->updated_ms), store_int(x->closed_ms), store_text(x->closed_by),
        store_text(x->order_id),  store_int(x->log_index),
    };
    return update_one(s,
                      "UPDATE negotiations SET status = $2, price = $3, terms = $4, last_by = $5,"
                      " offers = $6, updated_ms = $7, closed_ms = $8, closed_by = $9,"
                      " order_id = $10, log_index = $11 WHERE id = $1",
                      v, ARRAY_LEN(v), "negotiation", x->id, err);
}

enum err store_negotiation_get(struct store *s, const char *id, struct store_negotiation *out,
                               struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    return one_row(s, "SELECT " NEGOTIATION_COLS " FROM negotiations WHERE id = $1", id,
                   negotiation_parse, out, sizeof(*out), "negotiation", err);
}

static int64_t negotiation_ms(const void *p)
{
    return ((const struct store_negotiation *)p)->created_ms;
}

static const char *negotiation_id(const void *p)
{
    return ((const struct store_negotiation *)p)->id;
}

enum err store_negotiation_list(struct store *s, const struct store_negotiation_filter *f,
                                struct store_negotiation_page *page, struct errbuf *err)
{
    ASSERT(f->limit >= 1 && f->limit <= STORE_PAGE_MAX);
    memset(page, 0, sizeof(*page));
    int64_t before_ms = 0;
    char before_id[ID_MAX];
    enum err rc = cursor_bound(f->cursor, &before_ms, before_id, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_value v[] = {
        store_text_or_null(f->party_id), store_text_or_null(f->status),    store_int(before_ms),
        store_text(before_id),           store_int((int64_t)f->limit + 1),
    };
    struct store__rows r = {
        NULL, 0, 0, sizeof(struct store_negotiation), f->limit + 1, 4, negotiation_parse};
    rc = store_query(s,
                     "SELECT " NEGOTIATION_COLS " FROM negotiations"
                     " WHERE (CAST($1 AS TEXT) IS NULL OR buyer_id = $1 OR provider_id = $1)"
                     " AND (CAST($2 AS TEXT) IS NULL OR status = $2)"
                     " AND (created_ms < $3 OR (created_ms = $3 AND id < $4))"
                     " ORDER BY created_ms DESC, id DESC LIMIT $5",
                     v, ARRAY_LEN(v), store__rows_cb, &r, NULL, err);
    if (rc != ERR_OK) {
        mem_free(r.items);
        return rc;
    }
    page->count = page_finish(&r, f->limit, negotiation_ms, negotiation_id, page->next_cursor,
                              sizeof(page->next_cursor));
    page->items = (struct store_negotiation *)r.items;
    return ERR_OK;
}

#define OFFER_COLS "negotiation_id, seq, by_id, price, terms, created_ms, log_index"
#define OFFER_NCOLS 7

static enum err offer_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_negotiation_offer *o = item;
    if (n != OFFER_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "offer row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {o->negotiation_id, sizeof(o->negotiation_id), 0},
        {o->by_id, sizeof(o->by_id), 2},
        {o->terms, sizeof(o->terms), 4},
    };
    const struct int_col ints[] = {
        {&o->seq, 1}, {&o->price, 3}, {&o->created_ms, 5}, {&o->log_index, 6}};
    return cols_copy(texts, ARRAY_LEN(texts), ints, ARRAY_LEN(ints), v, err);
}

enum err store_negotiation_offer_insert(struct store *s, const struct store_negotiation_offer *o,
                                        struct errbuf *err)
{
    ASSERT(o->seq >= 1);
    struct store_value v[] = {
        store_text(o->negotiation_id), store_int(o->seq),    store_text(o->by_id),
        store_int(o->price),           store_text(o->terms), store_int(o->created_ms),
        store_int(o->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == OFFER_NCOLS, "one parameter per column");
    return store_query(s,
                       "INSERT INTO negotiation_offers (" OFFER_COLS ") VALUES ($1, $2, $3, $4,"
                       " $5, $6, $7)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_negotiation_offer_list(struct store *s, const char *negotiation_id, size_t max,
                                      struct store_negotiation_offer **out, size_t *count,
                                      struct errbuf *err)
{
    struct store_value v[] = {store_text(negotiation_id), store_int((int64_t)max)};
    struct store__rows r = {NULL, 0, 0,          sizeof(struct store_negotiation_offer),
                            max,  4, offer_parse};
    enum err rc = store_query(s,
                              "SELECT " OFFER_COLS " FROM negotiation_offers"
                              " WHERE negotiation_id = $1 ORDER BY seq LIMIT $2",
                              v, ARRAY_LEN(v), store__rows_cb, &r, NULL, err);
    if (rc != ERR_OK) {
        mem_free(r.items);
        return rc;
    }
    *out = (struct store_negotiation_offer *)r.items;
    *count = r.count;
    return ERR_OK;
}

enum err store_negotiation_due(struct store *s, int64_t now_ms, size_t max, char (*ids)[ID_MAX],
                               size_t *count, struct errbuf *err)
{
    return due_ids(s,
                   "SELECT id FROM negotiations WHERE status = 'open' AND expires_ms <= $1"
                   " ORDER BY expires_ms, id LIMIT $2",
                   now_ms, max, ids, count, err);
}

/* ---- auctions and bids ---- */

#define AUCTION_COLS                                                                               \
    "id, listing_id, product_id, revision_id, provider_id, status, currency, reserve, "            \
    "closes_ms, opened_by, created_ms, closed_ms, closed_by, winner_id, winning_bid_id, "          \
    "clearing_price, bid_count, order_id, log_index"
#define AUCTION_NCOLS 19

static enum err auction_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_auction *a = item;
    if (n != AUCTION_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "auction row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {a->id, sizeof(a->id), 0},
        {a->listing_id, sizeof(a->listing_id), 1},
        {a->product_id, sizeof(a->product_id), 2},
        {a->revision_id, sizeof(a->revision_id), 3},
        {a->provider_id, sizeof(a->provider_id), 4},
        {a->status, sizeof(a->status), 5},
        {a->currency, sizeof(a->currency), 6},
        {a->opened_by, sizeof(a->opened_by), 9},
        {a->closed_by, sizeof(a->closed_by), 12},
        {a->winner_id, sizeof(a->winner_id), 13},
        {a->winning_bid_id, sizeof(a->winning_bid_id), 14},
        {a->order_id, sizeof(a->order_id), 17},
    };
    const struct int_col ints[] = {
        {&a->reserve, 7},         {&a->closes_ms, 8},  {&a->created_ms, 10}, {&a->closed_ms, 11},
        {&a->clearing_price, 15}, {&a->bid_count, 16}, {&a->log_index, 18},
    };
    return cols_copy(texts, ARRAY_LEN(texts), ints, ARRAY_LEN(ints), v, err);
}

enum err store_auction_insert(struct store *s, const struct store_auction *a, struct errbuf *err)
{
    ASSERT(a->id[0] != '\0');
    struct store_value v[] = {
        store_text(a->id),
        store_text(a->listing_id),
        store_text(a->product_id),
        store_text(a->revision_id),
        store_text(a->provider_id),
        store_text(a->status),
        store_text(a->currency),
        store_int(a->reserve),
        store_int(a->closes_ms),
        store_text(a->opened_by),
        store_int(a->created_ms),
        store_int(a->closed_ms),
        store_text(a->closed_by),
        store_text(a->winner_id),
        store_text(a->winning_bid_id),
        store_int(a->clearing_price),
        store_int(a->bid_count),
        store_text(a->order_id),
        store_int(a->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == AUCTION_NCOLS, "one parameter per column");
    enum err rc = store_query(s,
                              "INSERT INTO auctions (" AUCTION_COLS ") VALUES ($1, $2, $3, $4, $5,"
                              " $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                              v, ARRAY_LEN(v), NULL, NULL, NULL, err);
    if (rc == ERR_CONFLICT) {
        rc = err_set(err, ERR_CONFLICT, "listing_id", "listing '%s' has an auction already",
                     a->listing_id);
    }
    return rc;
}

enum err store_auction_update(struct store *s, const struct store_auction *a, struct errbuf *err)
{
    struct store_value v[] = {
        store_text(a->id),
        store_text(a->status),
        store_int(a->closed_ms),
        store_text(a->closed_by),
        store_text(a->winner_id),
        store_text(a->winning_bid_id),
        store_int(a->clearing_price),
        store_int(a->bid_count),
        store_text(a->order_id),
        store_int(a->log_index),
    };
    return update_one(s,
                      "UPDATE auctions SET status = $2, closed_ms = $3, closed_by = $4,"
                      " winner_id = $5, winning_bid_id = $6, clearing_price = $7, bid_count = $8,"
                      " order_id = $9, log_index = $10 WHERE id = $1",
                      v, ARRAY_LEN(v), "auction", a->id, err);
}

enum err store_auction_get(struct store *s, const char *id, struct store_auction *out,
                           struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    return one_row(s, "SELECT " AUCTION_COLS " FROM auctions WHERE id = $1", id, auction_parse, out,
                   sizeof(*out), "auction", err);
}

enum err store_auction_get_by_listing(struct store *s, const char *listing_id,
                                      struct store_auction *out, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    enum err rc = one_row(s, "SELECT " AUCTION_COLS " FROM auctions WHERE listing_id = $1",
                          listing_id, auction_parse, out, sizeof(*out), "auction", err);
    if (rc == ERR_NOT_FOUND) {
        rc = err_set(err, ERR_NOT_FOUND, "id", "listing '%s' has no auction", listing_id);
    }
    return rc;
}

enum err store_auction_due(struct store *s, int64_t now_ms, size_t max, char (*ids)[ID_MAX],
                           size_t *count, struct errbuf *err)
{
    return due_ids(s,
                   "SELECT id FROM auctions WHERE status = 'open' AND closes_ms <= $1"
                   " ORDER BY closes_ms, id LIMIT $2",
                   now_ms, max, ids, count, err);
}

#define BID_COLS "id, auction_id, bidder_id, amount, salt, commitment, created_ms, log_index"
#define BID_NCOLS 8

static enum err bid_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_bid *b = item;
    if (n != BID_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "bid row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {b->id, sizeof(b->id), 0},
        {b->auction_id, sizeof(b->auction_id), 1},
        {b->bidder_id, sizeof(b->bidder_id), 2},
        {b->salt, sizeof(b->salt), 4},
        {b->commitment, sizeof(b->commitment), 5},
    };
    const struct int_col ints[] = {{&b->amount, 3}, {&b->created_ms, 6}, {&b->log_index, 7}};
    return cols_copy(texts, ARRAY_LEN(texts), ints, ARRAY_LEN(ints), v, err);
}

enum err store_bid_insert(struct store *s, const struct store_bid *b, struct errbuf *err)
{
    ASSERT(b->id[0] != '\0');
    struct store_value v[] = {
        store_text(b->id),        store_text(b->auction_id), store_text(b->bidder_id),
        store_int(b->amount),     store_text(b->salt),       store_text(b->commitment),
        store_int(b->created_ms), store_int(b->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == BID_NCOLS, "one parameter per column");
    return store_query(s, "INSERT INTO bids (" BID_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_bid_list(struct store *s, const char *auction_id, const char *bidder_id, size_t max,
                        struct store_bid **out, size_t *count, struct errbuf *err)
{
    struct store_value v[] = {store_text(auction_id), store_text_or_null(bidder_id),
                              store_int((int64_t)max)};
    struct store__rows r = {NULL, 0, 0, sizeof(struct store_bid), max, 4, bid_parse};
    enum err rc = store_query(s,
                              "SELECT " BID_COLS " FROM bids WHERE auction_id = $1"
                              " AND (CAST($2 AS TEXT) IS NULL OR bidder_id = $2)"
                              " ORDER BY log_index LIMIT $3",
                              v, ARRAY_LEN(v), store__rows_cb, &r, NULL, err);
    if (rc != ERR_OK) {
        mem_free(r.items);
        return rc;
    }
    *out = (struct store_bid *)r.items;
    *count = r.count;
    return ERR_OK;
}
