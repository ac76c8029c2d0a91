/*
 * contracts.c: the rows of the contract lifecycle in portable SQL: contracts with their
 * canonical documents, the parties' signatures, payment periods (each naming its escrow hold
 * in the ledger), deliveries and disputes. core/contract.c decides every value written.
 *
 * Contract lists are newest first, paged with a "<ms>.<id>" cursor of the last row. The sweep
 * reads due contracts through one of three (state, due) indexes, so that a tick costs an index
 * range, not a scan.
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

static enum err cols_copy(const struct text_col *texts, size_t text_count,
                          const struct int_col *ints, size_t int_count, const struct store_value *v,
                          struct errbuf *err)
{
    enum err rc = ERR_OK;
    for (size_t i = 0; i < text_count && rc == ERR_OK; i++) {
        rc = store__copy_text(texts[i].dst, texts[i].cap, &v[texts[i].index], err);
    }
    for (size_t i = 0; i < int_count && rc == ERR_OK; i++) {
        if (v[ints[i].index].type != STORE_INT) {
            rc = err_set(err, ERR_CORRUPT, "", "an integer column holds no integer");
        } else {
            *ints[i].dst = v[ints[i].index].i;
        }
    }
    return rc;
}

/* Runs an UPDATE that must change exactly one row; ERR_NOT_FOUND naming what otherwise. */
static enum err update_one(struct store *s, const char *sql, const struct store_value *v,
                           size_t count, const char *what, const char *id, struct errbuf *err)
{
    int64_t changes = 0;
    enum err rc = store_query(s, sql, v, count, NULL, NULL, &changes, err);
    if (rc == ERR_OK && changes != 1) {
        return err_set(err, ERR_NOT_FOUND, "id", "no %s '%s'", what, id);
    }
    return rc;
}

/* ---- contracts ---- */

#define CONTRACT_COLS                                                                              \
    "id, listing_id, product_id, revision_id, provider_id, buyer_id, origin, origin_id, state, "   \
    "plan, price, currency, periods, period_days, fee_schedule_id, delivery, acceptance_ms, "      \
    "document, document_sha256, countersignature, signing_deadline_ms, activated_ms, period, "     \
    "period_end_ms, accept_deadline_ms, note, created_ms, updated_ms, log_index"
#define CONTRACT_NCOLS 29

static enum err contract_parse(void *item, const struct store_value *v, size_t n,
                               struct errbuf *err)
{
    struct store_contract *k = item;
    if (n != CONTRACT_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "contract row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {k->id, sizeof(k->id), 0},
        {k->listing_id, sizeof(k->listing_id), 1},
        {k->product_id, sizeof(k->product_id), 2},
        {k->revision_id, sizeof(k->revision_id), 3},
        {k->provider_id, sizeof(k->provider_id), 4},
        {k->buyer_id, sizeof(k->buyer_id), 5},
        {k->origin, sizeof(k->origin), 6},
        {k->origin_id, sizeof(k->origin_id), 7},
        {k->state, sizeof(k->state), 8},
        {k->plan, sizeof(k->plan), 9},
        {k->currency, sizeof(k->currency), 11},
        {k->fee_schedule_id, sizeof(k->fee_schedule_id), 14},
        {k->delivery, sizeof(k->delivery), 15},
        {k->document, sizeof(k->document), 17},
        {k->document_sha256, sizeof(k->document_sha256), 18},
        {k->countersignature, sizeof(k->countersignature), 19},
        {k->note, sizeof(k->note), 25},
    };
    const struct int_col ints[] = {
        {&k->price, 10},
        {&k->periods, 12},
        {&k->period_days, 13},
        {&k->acceptance_ms, 16},
        {&k->signing_deadline_ms, 20},
        {&k->activated_ms, 21},
        {&k->period, 22},
        {&k->period_end_ms, 23},
        {&k->accept_deadline_ms, 24},
        {&k->created_ms, 26},
        {&k->updated_ms, 27},
        {&k->log_index, 28},
    };
    return cols_copy(texts, ARRAY_LEN(texts), ints, ARRAY_LEN(ints), v, err);
}

enum err store_contract_insert(struct store *s, const struct store_contract *k, struct errbuf *err)
{
    ASSERT(k->id[0] != '\0');
    ASSERT(k->periods >= 1);
    struct store_value v[] = {
        store_text(k->id),
        store_text(k->listing_id),
        store_text(k->product_id),
        store_text(k->revision_id),
        store_text(k->provider_id),
        store_text(k->buyer_id),
        store_text(k->origin),
        store_text(k->origin_id),
        store_text(k->state),
        store_text(k->plan),
        store_int(k->price),
        store_text(k->currency),
        store_int(k->periods),
        store_int(k->period_days),
        store_text(k->fee_schedule_id),
        store_text(k->delivery),
        store_int(k->acceptance_ms),
        store_text(k->document),
        store_text(k->document_sha256),
        store_text(k->countersignature),
        store_int(k->signing_deadline_ms),
        store_int(k->activated_ms),
        store_int(k->period),
        store_int(k->period_end_ms),
        store_int(k->accept_deadline_ms),
        store_text(k->note),
        store_int(k->created_ms),
        store_int(k->updated_ms),
        store_int(k->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == CONTRACT_NCOLS, "one parameter per column");
    return store_query(s,
                       "INSERT INTO contracts (" CONTRACT_COLS ") VALUES ($1, $2, $3, $4, $5, $6,"
                       " $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,"
                       " $22, $23, $24, $25, $26, $27, $28, $29)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_contract_update(struct store *s, const struct store_contract *k, struct errbuf *err)
{
    struct store_value v[] = {
        store_text(k->id),
        store_text(k->state),
        store_text(k->countersignature),
        store_int(k->activated_ms),
        store_int(k->period),
        store_int(k->period_end_ms),
        store_int(k->accept_deadline_ms),
        store_text(k->note),
        store_int(k->updated_ms),
        store_int(k->log_index),
    };
    return update_one(s,
                      "UPDATE contracts SET state = $2, countersignature = $3, activated_ms = $4,"
                      " period = $5, period_end_ms = $6, accept_deadline_ms = $7, note = $8,"
                      " updated_ms = $9, log_index = $10 WHERE id = $1",
                      v, ARRAY_LEN(v), "contract", k->id, err);
}

enum err store_contract_get(struct store *s, const char *id, struct store_contract *out,
                            struct errbuf *err)
{
    ASSERT(id != out->id); /* the row overwrites its own key */
    struct store_value v[] = {store_text(id)};
    struct store__rows r = {(char *)out, 0, 1, sizeof(*out), 1, 4, contract_parse};
    enum err rc = store_query(s, "SELECT " CONTRACT_COLS " FROM contracts WHERE id = $1", v, 1,
                              store__rows_cb, &r, NULL, err);
    if (rc == ERR_OK && r.count == 0) {
        return err_set(err, ERR_NOT_FOUND, "id", "no contract '%s'", id);
    }
    return rc;
}

void store_contract_page_release(struct store_contract_page *page)
{
    if (page == NULL) {
        return;
    }
    mem_free(page->items);
    page->items = NULL;
    page->count = 0;
}

enum err store_contract_list(struct store *s, const struct store_contract_filter *f,
                             struct store_contract_page *page, struct errbuf *err)
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
        store_text_or_null(f->party_id),
        store_text_or_null(f->state),
        store_int(before_ms),
        store_text(before_id),
        store_int(f->cursor != NULL),
        store_int((int64_t)f->limit + 1),
    };
    struct store__rows r = {NULL,          0, 0, sizeof(struct store_contract), f->limit + 1, 4,
                            contract_parse};
    enum err rc =
        store_query(s,
                    "SELECT " CONTRACT_COLS " FROM contracts"
                    " WHERE (CAST($1 AS TEXT) IS NULL OR buyer_id = $1 OR provider_id = $1)"
                    " AND (CAST($2 AS TEXT) IS NULL OR state = $2)"
                    " AND ($5 = 0 OR created_ms < $3 OR (created_ms = $3 AND id < $4))"
                    " ORDER BY created_ms DESC, id DESC LIMIT $6",
                    v, ARRAY_LEN(v), store__rows_cb, &r, NULL, err);
    if (rc != ERR_OK) {
        mem_free(r.items);
        return rc;
    }
    if (r.count > f->limit) {
        r.count = f->limit;
        const struct store_contract *last = (const struct store_contract *)r.items + f->limit - 1;
        snprintf(page->next_cursor, sizeof(page->next_cursor), "%" PRId64 ".%s", last->created_ms,
                 last->id);
    }
    page->items = (struct store_contract *)r.items;
    page->count = r.count;
    return ERR_OK;
}

struct due_ids {
    char (*ids)[ID_MAX];
    size_t count;
    size_t max;
};

static enum err due_cb(void *ctx, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct due_ids *d = ctx;
    if (n != 1 || d->count == d->max) {
        return n == 1 ? ERR_OK : err_set(err, ERR_CORRUPT, "", "due row has %zu columns", n);
    }
    enum err rc = store__copy_text(d->ids[d->count], ID_MAX, &v[0], err);
    d->count += rc == ERR_OK;
    return rc;
}

enum err store_contract_due(struct store *s, const char *state, const char *due, int64_t now_ms,
                            size_t max, char (*ids)[ID_MAX], size_t *count, struct errbuf *err)
{
    /* The column is one of three fixed names: never caller text in the SQL. */
    static const char *const sql[] = {
        "SELECT id FROM contracts WHERE state = $1 AND signing_deadline_ms > 0"
        " AND signing_deadline_ms <= $2 ORDER BY signing_deadline_ms, id LIMIT $3",
        "SELECT id FROM contracts WHERE state = $1 AND accept_deadline_ms > 0"
        " AND accept_deadline_ms <= $2 ORDER BY accept_deadline_ms, id LIMIT $3",
        "SELECT id FROM contracts WHERE state = $1 AND period_end_ms > 0"
        " AND period_end_ms <= $2 ORDER BY period_end_ms, id LIMIT $3",
    };
    size_t which = strcmp(due, "signing_deadline_ms") == 0  ? 0
                   : strcmp(due, "accept_deadline_ms") == 0 ? 1
                                                            : 2;
    ASSERT(which != 2 || strcmp(due, "period_end_ms") == 0);
    ASSERT(max >= 1);
    struct store_value v[] = {store_text(state), store_int(now_ms), store_int((int64_t)max)};
    struct due_ids d = {ids, 0, max};
    enum err rc = store_query(s, sql[which], v, ARRAY_LEN(v), due_cb, &d, NULL, err);
    *count = d.count;
    return rc;
}

/* ---- signatures ---- */

#define SIGNATURE_COLS "contract_id, role, party_id, public_key, signature, signed_ms, log_index"

static enum err signature_parse(void *item, const struct store_value *v, size_t n,
                                struct errbuf *err)
{
    struct store_contract_signature *g = item;
    if (n != 7) {
        return err_set(err, ERR_CORRUPT, "", "signature row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {g->contract_id, sizeof(g->contract_id), 0}, {g->role, sizeof(g->role), 1},
        {g->party_id, sizeof(g->party_id), 2},       {g->public_key, sizeof(g->public_key), 3},
        {g->signature, sizeof(g->signature), 4},
    };
    const struct int_col ints[] = {{&g->signed_ms, 5}, {&g->log_index, 6}};
    return cols_copy(texts, ARRAY_LEN(texts), ints, ARRAY_LEN(ints), v, err);
}

enum err store_contract_signature_insert(struct store *s, const struct store_contract_signature *g,
                                         struct errbuf *err)
{
    struct store_value v[] = {
        store_text(g->contract_id), store_text(g->role),      store_text(g->party_id),
        store_text(g->public_key),  store_text(g->signature), store_int(g->signed_ms),
        store_int(g->log_index),
    };
    return store_query(s,
                       "INSERT INTO contract_signatures (" SIGNATURE_COLS ")"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_contract_signature_list(struct store *s, const char *contract_id,
                                       struct store_contract_signature out[2], size_t *count,
                                       struct errbuf *err)
{
    struct store_value v[] = {store_text(contract_id)};
    struct store__rows r = {(char *)out, 0, 2, sizeof(out[0]), 2, 4, signature_parse};
    /* "buyer" sorts before "provider". */
    enum err rc = store_query(s,
                              "SELECT " SIGNATURE_COLS " FROM contract_signatures"
                              " WHERE contract_id = $1 ORDER BY role",
                              v, 1, store__rows_cb, &r, NULL, err);
    *count = r.count;
    return rc;
}

/* ---- payment periods ---- */

#define PERIOD_COLS                                                                                \
    "contract_id, period, hold_id, amount, state, post_id, starts_ms, ends_ms, log_index"

static enum err period_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_contract_period *p = item;
    if (n != 9) {
        return err_set(err, ERR_CORRUPT, "", "period row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {p->contract_id, sizeof(p->contract_id), 0},
        {p->hold_id, sizeof(p->hold_id), 2},
        {p->state, sizeof(p->state), 4},
        {p->post_id, sizeof(p->post_id), 5},
    };
    const struct int_col ints[] = {
        {&p->period, 1}, {&p->amount, 3}, {&p->starts_ms, 6}, {&p->ends_ms, 7}, {&p->log_index, 8},
    };
    return cols_copy(texts, ARRAY_LEN(texts), ints, ARRAY_LEN(ints), v, err);
}

enum err store_contract_period_insert(struct store *s, const struct store_contract_period *p,
                                      struct errbuf *err)
{
    struct store_value v[] = {
        store_text(p->contract_id), store_int(p->period),  store_text(p->hold_id),
        store_int(p->amount),       store_text(p->state),  store_text(p->post_id),
        store_int(p->starts_ms),    store_int(p->ends_ms), store_int(p->log_index),
    };
    return store_query(s,
                       "INSERT INTO contract_periods (" PERIOD_COLS ")"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_contract_period_update(struct store *s, const struct store_contract_period *p,
                                      struct errbuf *err)
{
    struct store_value v[] = {store_text(p->contract_id), store_int(p->period),
                              store_text(p->state), store_text(p->post_id),
                              store_int(p->log_index)};
    return update_one(s,
                      "UPDATE contract_periods SET state = $3, post_id = $4, log_index = $5"
                      " WHERE contract_id = $1 AND period = $2",
                      v, ARRAY_LEN(v), "contract period of", p->contract_id, err);
}

enum err store_contract_period_get(struct store *s, const char *contract_id, int64_t period,
                                   struct store_contract_period *out, struct errbuf *err)
{
    struct store_value v[] = {store_text(contract_id), store_int(period)};
    struct store__rows r = {(char *)out, 0, 1, sizeof(*out), 1, 4, period_parse};
    enum err rc = store_query(s,
                              "SELECT " PERIOD_COLS " FROM contract_periods"
                              " WHERE contract_id = $1 AND period = $2",
                              v, ARRAY_LEN(v), store__rows_cb, &r, NULL, err);
    if (rc == ERR_OK && r.count == 0) {
        return err_set(err, ERR_NOT_FOUND, "period", "no period %" PRId64 " of '%s'", period,
                       contract_id);
    }
    return rc;
}

enum err store_contract_period_list(struct store *s, const char *contract_id, size_t max,
                                    struct store_contract_period *out, size_t *count,
                                    struct errbuf *err)
{
    struct store_value v[] = {store_text(contract_id), store_int((int64_t)max)};
    struct store__rows r = {(char *)out, 0, max, sizeof(*out), max, 4, period_parse};
    enum err rc = store_query(s,
                              "SELECT " PERIOD_COLS " FROM contract_periods"
                              " WHERE contract_id = $1 ORDER BY period LIMIT $2",
                              v, ARRAY_LEN(v), store__rows_cb, &r, NULL, err);
    *count = r.count;
    return rc;
}

/* ---- deliveries ---- */

#define DELIVERY_COLS                                                                              \
    "id, contract_id, period, sha256, actor, status, delivered_ms, decided_ms, log_index"

static enum err delivery_parse(void *item, const struct store_value *v, size_t n,
                               struct errbuf *err)
{
    struct store_delivery *d = item;
    if (n != 9) {
        return err_set(err, ERR_CORRUPT, "", "delivery row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {d->id, sizeof(d->id), 0},         {d->contract_id, sizeof(d->contract_id), 1},
        {d->sha256, sizeof(d->sha256), 3}, {d->actor, sizeof(d->actor), 4},
        {d->status, sizeof(d->status), 5},
    };
    const struct int_col ints[] = {
        {&d->period, 2}, {&d->delivered_ms, 6}, {&d->decided_ms, 7}, {&d->log_index, 8}};
    return cols_copy(texts, ARRAY_LEN(texts), ints, ARRAY_LEN(ints), v, err);
}

enum err store_delivery_insert(struct store *s, const struct store_delivery *d, struct errbuf *err)
{
    struct store_value v[] = {
        store_text(d->id),          store_text(d->contract_id), store_int(d->period),
        store_text(d->sha256),      store_text(d->actor),       store_text(d->status),
        store_int(d->delivered_ms), store_int(d->decided_ms),   store_int(d->log_index),
    };
    return store_query(s,
                       "INSERT INTO deliveries (" DELIVERY_COLS ")"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_delivery_update(struct store *s, const struct store_delivery *d, struct errbuf *err)
{
    struct store_value v[] = {store_text(d->id), store_text(d->status), store_int(d->decided_ms),
                              store_int(d->log_index)};
    return update_one(s,
                      "UPDATE deliveries SET status = $2, decided_ms = $3, log_index = $4"
                      " WHERE id = $1",
                      v, ARRAY_LEN(v), "delivery", d->id, err);
}

enum err store_delivery_latest(struct store *s, const char *contract_id, int64_t period,
                               struct store_delivery *out, struct errbuf *err)
{
    struct store_value v[] = {store_text(contract_id), store_int(period)};
    struct store__rows r = {(char *)out, 0, 1, sizeof(*out), 1, 4, delivery_parse};
    enum err rc = store_query(s,
                              "SELECT " DELIVERY_COLS " FROM deliveries"
                              " WHERE contract_id = $1 AND period = $2"
                              " ORDER BY delivered_ms DESC, id DESC LIMIT 1",
                              v, ARRAY_LEN(v), store__rows_cb, &r, NULL, err);
    if (rc == ERR_OK && r.count == 0) {
        return err_set(err, ERR_NOT_FOUND, "id", "no delivery on '%s'", contract_id);
    }
    return rc;
}

/* ---- disputes ---- */

#define DISPUTE_COLS                                                                               \
    "id, contract_id, period, opened_by, status, statement, evidence, arbitrator_id, decision, "   \
    "provider_amount, reason, opened_ms, assigned_ms, decided_ms, log_index"
#define DISPUTE_NCOLS 15

static enum err dispute_parse(void *item, const struct store_value *v, size_t n, struct errbuf *err)
{
    struct store_dispute *d = item;
    if (n != DISPUTE_NCOLS) {
        return err_set(err, ERR_CORRUPT, "", "dispute row has %zu columns", n);
    }
    const struct text_col texts[] = {
        {d->id, sizeof(d->id), 0},
        {d->contract_id, sizeof(d->contract_id), 1},
        {d->opened_by, sizeof(d->opened_by), 3},
        {d->status, sizeof(d->status), 4},
        {d->statement, sizeof(d->statement), 5},
        {d->evidence, sizeof(d->evidence), 6},
        {d->arbitrator_id, sizeof(d->arbitrator_id), 7},
        {d->decision, sizeof(d->decision), 8},
        {d->reason, sizeof(d->reason), 10},
    };
    const struct int_col ints[] = {
        {&d->period, 2},       {&d->provider_amount, 9}, {&d->opened_ms, 11},
        {&d->assigned_ms, 12}, {&d->decided_ms, 13},     {&d->log_index, 14},
    };
    return cols_copy(texts, ARRAY_LEN(texts), ints, ARRAY_LEN(ints), v, err);
}

enum err store_dispute_insert(struct store *s, const struct store_dispute *d, struct errbuf *err)
{
    struct store_value v[] = {
        store_text(d->id),         store_text(d->contract_id),
        store_int(d->period),      store_text(d->opened_by),
        store_text(d->status),     store_text(d->statement),
        store_text(d->evidence),   store_text(d->arbitrator_id),
        store_text(d->decision),   store_int(d->provider_amount),
        store_text(d->reason),     store_int(d->opened_ms),
        store_int(d->assigned_ms), store_int(d->decided_ms),
        store_int(d->log_index),
    };
    _Static_assert(ARRAY_LEN(v) == DISPUTE_NCOLS, "one parameter per column");
    return store_query(s,
                       "INSERT INTO disputes (" DISPUTE_COLS ") VALUES ($1, $2, $3, $4, $5, $6,"
                       " $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                       v, ARRAY_LEN(v), NULL, NULL, NULL, err);
}

enum err store_dispute_update(struct store *s, const struct store_dispute *d, struct errbuf *err)
{
    struct store_value v[] = {
        store_text(d->id),         store_text(d->status),         store_text(d->arbitrator_id),
        store_text(d->decision),   store_int(d->provider_amount), store_text(d->reason),
        store_int(d->assigned_ms), store_int(d->decided_ms),      store_int(d->log_index),
    };
    return update_one(s,
                      "UPDATE disputes SET status = $2, arbitrator_id = $3, decision = $4,"
                      " provider_amount = $5, reason = $6, assigned_ms = $7, decided_ms = $8,"
                      " log_index = $9 WHERE id = $1",
                      v, ARRAY_LEN(v), "dispute", d->id, err);
}

enum err store_dispute_get(struct store *s, const char *id, struct store_dispute *out,
                           struct errbuf *err)
{
    struct store_value v[] = {store_text(id)};
    struct store__rows r = {(char *)out, 0, 1, sizeof(*out), 1, 4, dispute_parse};
    enum err rc = store_query(s, "SELECT " DISPUTE_COLS " FROM disputes WHERE id = $1", v, 1,
                              store__rows_cb, &r, NULL, err);
    if (rc == ERR_OK && r.count == 0) {
        return err_set(err, ERR_NOT_FOUND, "id", "no dispute '%s'", id);
    }
    return rc;
}

enum err store_dispute_open_for(struct store *s, const char *contract_id, struct store_dispute *out,
                                struct errbuf *err)
{
    struct store_value v[] = {store_text(contract_id)};
    struct store__rows r = {(char *)out, 0, 1, sizeof(*out), 1, 4, dispute_parse};
    enum err rc = store_query(s,
                              "SELECT " DISPUTE_COLS " FROM disputes WHERE contract_id = $1"
                              " AND status <> 'decided' ORDER BY opened_ms DESC LIMIT 1",
                              v, 1, store__rows_cb, &r, NULL, err);
    if (rc == ERR_OK && r.count == 0) {
        return err_set(err, ERR_NOT_FOUND, "id", "no open dispute on '%s'", contract_id);
    }
    return rc;
}
