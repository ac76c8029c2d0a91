/*
 * auction.c: sealed-bid second-price auctions of exclusive licences (core.h, "trading").
 *
 * Sealed means the amounts stay out of sight until the close: a bid's event in the public log
 * carries only a commitment, SHA-256 of "<amount>\n<bidder id>\n<salt hex>" with 16 random
 * bytes of salt, and a caller reading the auction sees only its own bids. The close event
 * reveals every amount and salt, so anyone can recompute each commitment and check that no
 * bid was changed after it was made, and redo the outcome: each bidder's highest bid counts,
 * the highest at or above the reserve wins (ties go to the earlier bid, by log index) and pays
 * the second-highest bidder's amount or the reserve, whichever is higher.
 *
 * A close that cannot conclude the winner's trade for a reason of rules or state (the winner
 * lost its certificate, the listing was delisted) closes without a winner and says why, so
 * that the trading clock never sticks on one auction.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

void core_auction_commitment(int64_t amount, const char *bidder_id, const char *salt_hex,
                             char out[STORE_HASH_HEX_MAX])
{
    char text[64 + ID_MAX + STORE_SALT_HEX_MAX];
    int n = snprintf(text, sizeof(text), "%" PRId64 "\n%s\n%s", amount, bidder_id, salt_hex);
    ASSERT(n > 0 && (size_t)n < sizeof(text));
    core__sha256_hex(text, (size_t)n, out);
}

/* ---- reading ---- */

/* The auction id's row, if who may see its listing. */
static enum err load_visible(struct core *c, const struct core_principal *who, const char *id,
                             struct store_auction *a, struct errbuf *err)
{
    if (!id_valid(id, "auc")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not an auction id", id != NULL ? id : "");
    }
    enum err rc = store_auction_get(c->store, id, a, err);
    struct store_listing l;
    memset(&l, 0, sizeof(l));
    if (rc == ERR_OK) {
        rc = store_listing_get(c->store, a->listing_id, &l, err);
    }
    if (rc == ERR_OK) {
        rc = core__listing_visible(c, who, &l, err);
    }
    store_listing_release(&l);
    if (rc == ERR_NOT_FOUND) {
        rc = err_set(err, ERR_NOT_FOUND, "id", "no auction '%s'", id);
    }
    return rc;
}

enum err core_auction_get(struct core *c, const struct core_principal *who, const char *id,
                          struct store_auction *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    return load_visible(c, who, id, out, err);
}

enum err core_auction_for_listing(struct core *c, const struct core_principal *who,
                                  const char *listing_id, struct store_auction *out,
                                  struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    struct store_listing l;
    enum err rc = core_listing_get(c, who, listing_id, &l, err);
    store_listing_release(&l);
    return rc == ERR_OK ? store_auction_get_by_listing(c->store, listing_id, out, err) : rc;
}

enum err core_auction_bids(struct core *c, const struct core_principal *who,
                           const struct store_auction *a, struct store_bid **out, size_t *count,
                           struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && a != NULL && out != NULL && count != NULL);
    *out = NULL;
    *count = 0;
    if (strcmp(a->status, "closed") == 0) {
        return store_bid_list(c->store, a->id, NULL, CORE_AUCTION_BIDS_MAX, out, count, err);
    }
    if (who->id[0] == '\0') {
        return ERR_OK;
    }
    return store_bid_list(c->store, a->id, who->id, CORE_AUCTION_BIDS_MAX, out, count, err);
}

/* ---- opening ---- */

static enum err open_check(const struct core_principal *who, const struct core__trade_listing *t,
                           int64_t reserve, const char *currency, int64_t closes_ms, int64_t now_ms,
                           struct errbuf *err)
{
    int owner = strcmp(who->id, t->l.provider_id) == 0 && core_principal_active(who);
    if (!owner && who->kind != CORE_KIND_OPERATOR) {
        return err_set(err, ERR_FORBIDDEN, "listing_id",
                       "only the listing's provider or the operator opens its auction");
    }
    if (t->model != PRICING_MODEL_AUCTION) {
        return err_set(err, ERR_INVALID, "listing_id", "listing '%s' is %s, not an auction",
                       t->l.id, t->l.price_model);
    }
    if (reserve >= 0 && reserve != t->reserve) {
        return err_set(err, ERR_INVALID, "reserve", "the listing's reserve is %" PRId64,
                       t->reserve);
    }
    if (currency != NULL && strcmp(currency, t->l.currency) != 0) {
        return err_set(err, ERR_INVALID, "currency", "the listing is priced in %s", t->l.currency);
    }
    char deadline[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(t->deadline_ms, deadline);
    if (closes_ms != 0 && closes_ms != t->deadline_ms) {
        return err_set(err, ERR_INVALID, "closes_at", "the listing's auction closes at %s",
                       deadline);
    }
    if (now_ms >= t->deadline_ms) {
        return err_set(err, ERR_BAD_STATE, "listing_id", "the auction's deadline %s has passed",
                       deadline);
    }
    return ERR_OK;
}

static enum err open_in_tx(struct core *c, const struct core_principal *who, const char *listing_id,
                           int64_t reserve, const char *currency, int64_t closes_ms,
                           struct core__trade_listing *t, struct store_auction *a,
                           struct errbuf *err)
{
    int64_t now = clock_now(c->clock);
    enum err rc = core__trade_listing_load(c, who, listing_id, t, NULL, err);
    if (rc == ERR_OK) {
        rc = open_check(who, t, reserve, currency, closes_ms, now, err);
    }
    if (rc == ERR_OK) {
        rc = store_auction_get_by_listing(c->store, t->l.id, a, err);
        rc = rc == ERR_OK
                 ? err_set(err, ERR_CONFLICT, "listing_id", "auction '%s' is open already", a->id)
             : rc == ERR_NOT_FOUND ? ERR_OK
                                   : rc;
    }
    if (rc != ERR_OK) {
        return rc;
    }
    memset(a, 0, sizeof(*a));
    id_new(c->rng, "auc", a->id);
    snprintf(a->listing_id, sizeof(a->listing_id), "%s", t->l.id);
    snprintf(a->product_id, sizeof(a->product_id), "%s", t->l.product_id);
    snprintf(a->revision_id, sizeof(a->revision_id), "%s", t->l.revision_id);
    snprintf(a->provider_id, sizeof(a->provider_id), "%s", t->l.provider_id);
    snprintf(a->status, sizeof(a->status), "open");
    snprintf(a->currency, sizeof(a->currency), "%s", t->l.currency);
    snprintf(a->opened_by, sizeof(a->opened_by), "%s", who->id);
    a->reserve = t->reserve;
    a->closes_ms = t->deadline_ms;
    a->created_ms = now;
    char closes[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(a->closes_ms, closes);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "auction_id", a->id, "listing_id",
                             a->listing_id, "provider_id", a->provider_id, "currency", a->currency,
                             "reserve", (json_int_t)a->reserve, "closes_at", closes);
    rc = body != NULL ? store_event_append(c->store, "auction.opened", who->id, a->id, now, body,
                                           &a->log_index, err)
                      : err_set(err, ERR_NOMEM, "", "out of memory");
    json_decref(body);
    return rc == ERR_OK ? store_auction_insert(c->store, a, err) : rc;
}

enum err core_auction_open(struct core *c, const struct core_principal *who, const char *listing_id,
                           int64_t reserve, const char *currency, int64_t closes_ms,
                           struct store_auction *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    struct core__trade_listing *t = mem_calloc(1, sizeof(*t));
    if (t == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = store_tx_begin(c->store, err);
    if (rc == ERR_OK) {
        rc = open_in_tx(c, who, listing_id, reserve, currency, closes_ms, t, out, err);
        if (rc == ERR_OK) {
            rc = store_tx_commit(c->store, err);
        } else {
            store_tx_rollback(c->store);
        }
    }
    core__trade_listing_release(t);
    mem_free(t);
    return rc;
}

/* ---- bidding ---- */

/* The bidder's own highest bid so far (0 for none); a new bid must raise it. */
static enum err own_highest(struct core *c, const struct store_auction *a, const char *bidder,
                            int64_t *highest, struct errbuf *err)
{
    struct store_bid *bids = NULL;
    size_t n = 0;
    *highest = 0;
    enum err rc = store_bid_list(c->store, a->id, bidder, CORE_AUCTION_BIDS_MAX, &bids, &n, err);
    for (size_t i = 0; i < n; i++) {
        *highest = bids[i].amount > *highest ? bids[i].amount : *highest;
    }
    mem_free(bids);
    return rc;
}

/* Bids are taken while the auction is open and before its deadline. */
static enum err bidding_open(const struct store_auction *a, int64_t now_ms, struct errbuf *err)
{
    if (strcmp(a->status, "open") != 0 || now_ms >= a->closes_ms) {
        char closes[CLOCK_RFC3339_LEN];
        clock_format_rfc3339(a->closes_ms, closes);
        return err_set(err, ERR_BAD_STATE, "id", "auction '%s' took bids until %s", a->id, closes);
    }
    return ERR_OK;
}

static enum err bid_check(struct core *c, const struct core_principal *who,
                          const struct store_auction *a, int64_t amount, struct errbuf *err)
{
    if (a->bid_count >= CORE_AUCTION_BIDS_MAX) {
        return err_set(err, ERR_LIMIT, "amount", "an auction takes at most %d bids",
                       CORE_AUCTION_BIDS_MAX);
    }
    int64_t highest = 0;
    enum err rc = own_highest(c, a, who->id, &highest, err);
    if (rc == ERR_OK && amount <= highest) {
        rc =
            err_set(err, ERR_INVALID, "amount", "a new bid raises your highest, %" PRId64, highest);
    }
    return rc;
}

static enum err bid_in_tx(struct core *c, const struct core_principal *who, const char *id,
                          int64_t amount, struct store_bid *b, struct core__trade_listing *t,
                          enum core_trade_rule *rule, struct errbuf *err)
{
    struct store_auction a;
    int64_t now = clock_now(c->clock);
    enum err rc = load_visible(c, who, id, &a, err);
    if (rc == ERR_OK) {
        rc = bidding_open(&a, now, err);
    }
    if (rc == ERR_OK) {
        rc = core__trade_listing_load(c, who, a.listing_id, t, rule, err);
    }
    if (rc == ERR_OK) {
        rc = core__trade_buyer_check(c, who, t, rule, err);
    }
    if (rc == ERR_OK) {
        rc = bid_check(c, who, &a, amount, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    unsigned char salt[CORE_AUCTION_SALT_BYTES];
    rng_fill(c->rng, salt, sizeof(salt));
    memset(b, 0, sizeof(*b));
    id_new(c->rng, "bid", b->id);
    snprintf(b->auction_id, sizeof(b->auction_id), "%s", a.id);
    snprintf(b->bidder_id, sizeof(b->bidder_id), "%s", who->id);
    sodium_bin2hex(b->salt, sizeof(b->salt), salt, sizeof(salt));
    b->amount = amount;
    b->created_ms = now;
    core_auction_commitment(amount, b->bidder_id, b->salt, b->commitment);
    /* The amount stays out of the public log until the close reveals it with the salt. */
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "auction_id", a.id, "listing_id", a.listing_id,
                  "bid_id", b->id, "bidder_id", b->bidder_id, "commitment", b->commitment);
    rc = body != NULL ? store_event_append(c->store, "auction.bid", who->id, a.id, now, body,
                                           &b->log_index, err)
                      : err_set(err, ERR_NOMEM, "", "out of memory");
    json_decref(body);
    if (rc == ERR_OK) {
        rc = store_bid_insert(c->store, b, err);
    }
    a.bid_count++;
    a.log_index = b->log_index;
    return rc == ERR_OK ? store_auction_update(c->store, &a, err) : rc;
}

enum err core_auction_bid(struct core *c, const struct core_principal *who, const char *id,
                          int64_t amount, struct store_bid *out, enum core_trade_rule *rule,
                          struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (rule != NULL) {
        *rule = CORE_RULE_NONE;
    }
    if (amount < 1 || amount > PRICING_AMOUNT_MAX) {
        return err_set(err, ERR_INVALID, "amount", "'amount' must be 1 to %" PRId64,
                       PRICING_AMOUNT_MAX);
    }
    struct core__trade_listing *t = mem_calloc(1, sizeof(*t));
    if (t == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = store_tx_begin(c->store, err);
    if (rc == ERR_OK) {
        rc = bid_in_tx(c, who, id, amount, out, t, rule, err);
        if (rc == ERR_OK) {
            rc = store_tx_commit(c->store, err);
        } else {
            store_tx_rollback(c->store);
        }
    }
    core__trade_listing_release(t);
    mem_free(t);
    return rc;
}

/* ---- closing ---- */

/* The outcome over bids in log order: each bidder's highest bid (the first one of that
 * amount: a bidder only raises) ranked by amount, then by time. */
struct outcome {
    const struct store_bid *winner; /* NULL: no bid reached the reserve */
    int64_t price;
};

static struct outcome outcome_of(const struct store_bid *bids, size_t n, int64_t reserve)
{
    const struct store_bid *best = NULL;   /* the leading bidder's best bid */
    const struct store_bid *second = NULL; /* the best bid of anyone else */
    for (size_t i = 0; i < n; i++) {
        const struct store_bid *b = &bids[i];
        if (best == NULL || b->amount > best->amount) {
            if (best != NULL && strcmp(best->bidder_id, b->bidder_id) != 0) {
                second = best;
            }
            best = b;
        } else if (strcmp(b->bidder_id, best->bidder_id) != 0 &&
                   (second == NULL || b->amount > second->amount)) {
            second = b; /* a tie with the leader stays behind it: the earlier bid wins */
        }
    }
    struct outcome o = {NULL, 0};
    if (best != NULL && best->amount >= reserve) {
        o.winner = best;
        o.price = second != NULL && second->amount > reserve ? second->amount : reserve;
    }
    return o;
}

static json_t *close_event_body(const struct store_auction *a, const struct store_bid *bids,
                                size_t n, const char *no_winner_reason)
{
    json_t *revealed = json_array();
    for (size_t i = 0; revealed != NULL && i < n; i++) {
        char at[CLOCK_RFC3339_LEN];
        clock_format_rfc3339(bids[i].created_ms, at);
        if (json_array_append_new(revealed,
                                  json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "bid_id", bids[i].id,
                                            "bidder_id", bids[i].bidder_id, "amount",
                                            (json_int_t)bids[i].amount, "salt", bids[i].salt,
                                            "commitment", bids[i].commitment, "at", at)) != 0) {
            json_decref(revealed);
            revealed = NULL;
        }
    }
    int won = a->winner_id[0] != '\0';
    return json_pack(
        "{s:s, s:s, s:s, s:I, s:s*, s:s*, s:o, s:s*, s:s*, s:o*}", "auction_id", a->id,
        "listing_id", a->listing_id, "currency", a->currency, "reserve", (json_int_t)a->reserve,
        "winner_id", won ? a->winner_id : NULL, "winning_bid_id", won ? a->winning_bid_id : NULL,
        "price", won ? json_integer(a->clearing_price) : json_null(), "order_id",
        won ? a->order_id : NULL, "no_winner_reason", no_winner_reason, "bids", revealed);
}

/* A trade the rules no longer allow closes the auction without a winner. */
static int refusal(enum err rc)
{
    return rc == ERR_FORBIDDEN || rc == ERR_BAD_STATE || rc == ERR_INVALID || rc == ERR_CONFLICT ||
           rc == ERR_NOT_FOUND;
}

/* Concludes the winner's trade in a savepoint; *refused (with why) when the rules say no. */
static enum err winner_conclude(struct core *c, const struct core_principal *actor,
                                struct store_auction *a, const struct outcome *o, int64_t now_ms,
                                char *why, size_t why_cap, struct errbuf *err)
{
    struct core_principal buyer;
    struct core__trade_listing *t = mem_calloc(1, sizeof(*t));
    if (t == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    struct errbuf local;
    errbuf_init(&local);
    enum err rc = store_tx_begin(c->store, err);
    if (rc == ERR_OK) {
        rc = core__principal_of(c, o->winner->bidder_id, &buyer, &local);
        if (rc == ERR_OK) {
            rc = core__trade_listing_load(c, &buyer, a->listing_id, t, NULL, &local);
        }
        if (rc == ERR_OK) {
            rc = core__trade_buyer_check(c, &buyer, t, NULL, &local);
        }
        struct store_order order;
        struct core__deal d = {
            .buyer = &buyer,
            .actor = actor,
            .source = "auction",
            .source_id = a->id,
            .periods = 1,
            .unit_price = o->price,
            .price = o->price,
            .terms = t->l.terms_json,
            .public_price = 1,
            .now_ms = now_ms,
        };
        if (rc == ERR_OK) {
            rc = core__trade_conclude(c, t, &d, &order, &local);
        }
        if (rc == ERR_OK) {
            snprintf(a->winner_id, sizeof(a->winner_id), "%s", buyer.id);
            snprintf(a->winning_bid_id, sizeof(a->winning_bid_id), "%s", o->winner->id);
            snprintf(a->order_id, sizeof(a->order_id), "%s", order.id);
            a->clearing_price = o->price;
            rc = store_tx_commit(c->store, &local);
        } else {
            store_tx_rollback(c->store);
        }
        if (refusal(rc)) {
            snprintf(why, why_cap, "%s", local.msg);
            rc = ERR_OK;
        } else if (rc != ERR_OK) {
            rc = err_set(err, rc, local.field, "%s", local.msg);
        }
    }
    core__trade_listing_release(t);
    mem_free(t);
    return rc;
}

static enum err close_in_tx(struct core *c, const struct core_principal *actor,
                            struct store_auction *a, int64_t now_ms, struct errbuf *err)
{
    if (strcmp(a->status, "open") != 0) {
        return err_set(err, ERR_BAD_STATE, "id", "auction '%s' is closed", a->id);
    }
    if (now_ms < a->closes_ms) {
        char closes[CLOCK_RFC3339_LEN];
        clock_format_rfc3339(a->closes_ms, closes);
        return err_set(err, ERR_BAD_STATE, "id", "auction '%s' closes at %s", a->id, closes);
    }
    struct store_bid *bids = NULL;
    size_t n = 0;
    enum err rc = store_bid_list(c->store, a->id, NULL, CORE_AUCTION_BIDS_MAX, &bids, &n, err);
    struct outcome o = outcome_of(bids, n, a->reserve);
    char why[ERRBUF_MSG_MAX] = "";
    if (rc == ERR_OK && o.winner != NULL) {
        rc = winner_conclude(c, actor, a, &o, now_ms, why, sizeof(why), err);
    } else if (rc == ERR_OK) {
        snprintf(why, sizeof(why), n > 0 ? "no bid reached the reserve" : "no bids");
    }
    json_t *body = NULL;
    if (rc == ERR_OK) {
        snprintf(a->status, sizeof(a->status), "closed");
        snprintf(a->closed_by, sizeof(a->closed_by), "%s",
                 actor->id[0] != '\0' ? actor->id : CORE__SWEEPER);
        a->closed_ms = now_ms;
        body = close_event_body(a, bids, n, why[0] != '\0' ? why : NULL);
        rc = body != NULL ? store_event_append(c->store, "auction.closed", a->closed_by, a->id,
                                               now_ms, body, &a->log_index, err)
                          : err_set(err, ERR_NOMEM, "", "out of memory");
    }
    json_decref(body);
    mem_free(bids);
    return rc == ERR_OK ? store_auction_update(c->store, a, err) : rc;
}

static enum err close_run(struct core *c, const struct core_principal *actor, const char *id,
                          int64_t now_ms, int visible_to_actor, struct store_auction *out,
                          struct errbuf *err)
{
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = visible_to_actor ? load_visible(c, actor, id, out, err)
                          : store_auction_get(c->store, id, out, err);
    if (rc == ERR_OK) {
        rc = close_in_tx(c, actor, out, now_ms, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    return store_tx_commit(c->store, err);
}

enum err core_auction_close(struct core *c, const struct core_principal *who, const char *id,
                            struct store_auction *out, struct store_order *order,
                            struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (who->id[0] == '\0') {
        return err_set(err, ERR_FORBIDDEN, "", "closing an auction needs an api key");
    }
    enum err rc = close_run(c, who, id, clock_now(c->clock), 1, out, err);
    if (rc == ERR_OK && order != NULL) {
        memset(order, 0, sizeof(*order));
        if (out->order_id[0] != '\0') {
            rc = store_order_get(c->store, out->order_id, order, err);
        }
    }
    return rc;
}

enum err core__auction_close_due(struct core *c, const char *id, int64_t now_ms, struct errbuf *err)
{
    struct core_principal sweeper;
    memset(&sweeper, 0, sizeof(sweeper));
    struct store_auction a;
    return close_run(c, &sweeper, id, now_ms, 0, &a, err);
}
