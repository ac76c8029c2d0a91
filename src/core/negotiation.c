/*
 * negotiation.c: negotiations on negotiable listings (core.h, "trading"). The buyer opens
 * with an offer; the parties then alternate counter-offers, each a whole price within the
 * listing's [floor, ask] and optionally a new purpose or term; the party that did not make
 * the last offer accepts it (the trade is concluded at its price and terms) or either party
 * rejects; the trading clock expires it at its deadline.
 *
 * The latest offer lives on the negotiation row and every offer in negotiation_offers. The
 * public log records each step without its price or terms (the two parties alone see them);
 * the contract the acceptance proposes is where the agreed price is recorded.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static const char *const statuses[] = {"open", "accepted", "rejected", "expired"};

/* ---- offers ---- */

/* An offer's price, currency and term changes against the listing's terms. The floor is the
 * provider's secret: the refusal does not say it. */
static enum err offer_check(const struct core__trade_listing *t, const struct core_offer *o,
                            enum core_trade_rule *rule, struct errbuf *err)
{
    if (o->currency != NULL && strcmp(o->currency, t->l.currency) != 0) {
        return core__trade_refuse(rule, CORE_RULE_PRICE_OUTSIDE_TERMS, err, ERR_INVALID, "currency",
                                  "the listing is priced in %s", t->l.currency);
    }
    if (o->price < 1 || o->price > t->amount || o->price < t->floor) {
        return core__trade_refuse(rule, CORE_RULE_PRICE_OUTSIDE_TERMS, err, ERR_INVALID, "price",
                                  "an offer is at most the ask (%" PRId64
                                  " %s) and not below the provider's floor",
                                  t->amount, t->l.currency);
    }
    enum err rc = core__text_check("terms.purpose", o->purpose, CORE_PURPOSE_CHARS_MAX, 0, err);
    if (rc == ERR_OK && (o->term_days < 0 || o->term_days > CORE_TERM_DAYS_MAX)) {
        rc = err_set(err, ERR_INVALID, "terms.term_days", "'terms.term_days' must be 1 to %d",
                     CORE_TERM_DAYS_MAX);
    }
    return rc;
}

/* The terms after an offer: base (canonical JSON) with its purpose and term changed. */
static enum err terms_apply(const char *base, const struct core_offer *o,
                            char out[STORE_TERMS_JSON_MAX], struct errbuf *err)
{
    json_t *t = json_loads(base, 0, NULL);
    if (t == NULL) {
        return err_set(err, ERR_CORRUPT, "", "stored terms are not JSON");
    }
    int bad = 0;
    if (o->purpose != NULL) {
        bad |= json_object_set_new(t, "purpose", json_string(o->purpose));
    }
    if (o->term_days > 0) {
        bad |= json_object_set_new(t, "term_days", json_integer(o->term_days));
    }
    char *text = bad ? NULL : core__canonical(t);
    json_decref(t);
    enum err rc = ERR_OK;
    if (text == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    } else if (strlen(text) >= STORE_TERMS_JSON_MAX) {
        rc = err_set(err, ERR_LIMIT, "terms.purpose", "the terms are too long");
    } else {
        snprintf(out, STORE_TERMS_JSON_MAX, "%s", text);
    }
    mem_free(text);
    return rc;
}

/* The row of the latest offer (seq = n->offers), recorded by the step's event. */
static enum err offer_record(struct core *c, const char *actor, const struct store_negotiation *n,
                             int64_t now_ms, struct errbuf *err)
{
    struct store_negotiation_offer o;
    memset(&o, 0, sizeof(o));
    snprintf(o.negotiation_id, sizeof(o.negotiation_id), "%s", n->id);
    o.seq = n->offers;
    snprintf(o.by_id, sizeof(o.by_id), "%s", actor);
    o.price = n->price;
    snprintf(o.terms, sizeof(o.terms), "%s", n->terms);
    o.created_ms = now_ms;
    o.log_index = n->log_index;
    return store_negotiation_offer_insert(c->store, &o, err);
}

/* Appends the event of one step; n->log_index becomes its index. */
static enum err step_record(struct core *c, const char *type, const char *actor,
                            struct store_negotiation *n, const char *reason, int64_t now_ms,
                            struct errbuf *err)
{
    char expires[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(n->expires_ms, expires);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s*}", "negotiation_id", n->id,
                             "listing_id", n->listing_id, "buyer_id", n->buyer_id, "provider_id",
                             n->provider_id, "status", n->status, "offers", (json_int_t)n->offers,
                             "expires_at", expires, "reason", reason);
    if (body != NULL && n->order_id[0] != '\0' &&
        json_object_set_new(body, "order_id", json_string(n->order_id)) != 0) {
        json_decref(body);
        body = NULL;
    }
    if (body == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc =
        store_event_append(c->store, type, actor, n->id, now_ms, body, &n->log_index, err);
    json_decref(body);
    return rc;
}

/* ---- opening ---- */

static enum err open_in_tx(struct core *c, const struct core_principal *who, const char *listing_id,
                           const struct core_offer *o, int64_t expires_s,
                           struct core__trade_listing *t, struct store_negotiation *n,
                           enum core_trade_rule *rule, struct errbuf *err)
{
    enum err rc = core__trade_listing_load(c, who, listing_id, t, rule, err);
    if (rc == ERR_OK) {
        rc = core__trade_buyer_check(c, who, t, rule, err);
    }
    if (rc == ERR_OK && t->model != PRICING_MODEL_NEGOTIABLE) {
        rc = core__trade_refuse(rule, CORE_RULE_PRICE_OUTSIDE_TERMS, err, ERR_INVALID, "listing_id",
                                "a %s listing is not negotiated", t->l.price_model);
    }
    if (rc == ERR_OK) {
        rc = offer_check(t, o, rule, err);
    }
    if (rc == ERR_OK) {
        rc = terms_apply(t->l.terms_json, o, n->terms, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    int64_t now = clock_now(c->clock);
    id_new(c->rng, "neg", n->id);
    snprintf(n->listing_id, sizeof(n->listing_id), "%s", t->l.id);
    snprintf(n->product_id, sizeof(n->product_id), "%s", t->l.product_id);
    snprintf(n->revision_id, sizeof(n->revision_id), "%s", t->l.revision_id);
    snprintf(n->provider_id, sizeof(n->provider_id), "%s", t->l.provider_id);
    snprintf(n->buyer_id, sizeof(n->buyer_id), "%s", who->id);
    snprintf(n->status, sizeof(n->status), "open");
    snprintf(n->currency, sizeof(n->currency), "%s", t->l.currency);
    snprintf(n->last_by, sizeof(n->last_by), "%s", who->id);
    n->price = o->price;
    n->offers = 1;
    n->expires_ms = now + expires_s * 1000;
    n->created_ms = now;
    n->updated_ms = now;
    rc = step_record(c, "negotiation.opened", who->id, n, NULL, now, err);
    if (rc == ERR_OK) {
        rc = store_negotiation_insert(c->store, n, err);
    }
    return rc == ERR_OK ? offer_record(c, who->id, n, now, err) : rc;
}

enum err core_negotiation_open(struct core *c, const struct core_principal *who,
                               const char *listing_id, const struct core_offer *o,
                               int64_t expires_s, struct store_negotiation *out,
                               enum core_trade_rule *rule, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && o != NULL && out != NULL);
    if (rule != NULL) {
        *rule = CORE_RULE_NONE;
    }
    memset(out, 0, sizeof(*out));
    expires_s = expires_s == 0 ? CORE_NEGOTIATION_SECONDS_DEFAULT : expires_s;
    if (expires_s < CORE_NEGOTIATION_SECONDS_MIN || expires_s > CORE_NEGOTIATION_SECONDS_MAX) {
        return err_set(err, ERR_INVALID, "expires_in", "'expires_in' must be %d to %d seconds",
                       CORE_NEGOTIATION_SECONDS_MIN, CORE_NEGOTIATION_SECONDS_MAX);
    }
    struct core__trade_listing *t = mem_calloc(1, sizeof(*t));
    if (t == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = store_tx_begin(c->store, err);
    if (rc == ERR_OK) {
        rc = open_in_tx(c, who, listing_id, o, expires_s, t, out, rule, err);
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

/* ---- reading ---- */

static enum err load_visible(struct core *c, const struct core_principal *who, const char *id,
                             struct store_negotiation *n, struct errbuf *err)
{
    if (!id_valid(id, "neg")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not a negotiation id",
                       id != NULL ? id : "");
    }
    enum err rc = store_negotiation_get(c->store, id, n, err);
    if (rc == ERR_OK && !core__trade_party_view(who, n->buyer_id, n->provider_id)) {
        rc = err_set(err, ERR_NOT_FOUND, "id", "no negotiation '%s'", id);
    }
    return rc;
}

enum err core_negotiation_get(struct core *c, const struct core_principal *who, const char *id,
                              struct store_negotiation *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    return load_visible(c, who, id, out, err);
}

enum err core_negotiation_offers(struct core *c, const struct core_principal *who, const char *id,
                                 struct store_negotiation_offer **out, size_t *count,
                                 struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL && count != NULL);
    *out = NULL;
    *count = 0;
    struct store_negotiation n;
    enum err rc = load_visible(c, who, id, &n, err);
    return rc == ERR_OK ? store_negotiation_offer_list(c->store, n.id, CORE_NEGOTIATION_OFFERS_MAX,
                                                       out, count, err)
                        : rc;
}

enum err core_negotiation_list(struct core *c, const struct core_principal *who,
                               const struct store_negotiation_filter *filter,
                               struct store_negotiation_page *page, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && filter != NULL && page != NULL);
    memset(page, 0, sizeof(*page));
    if (who->id[0] == '\0') {
        return err_set(err, ERR_FORBIDDEN, "", "negotiations are their parties'");
    }
    int known = filter->status == NULL;
    for (size_t i = 0; !known && i < ARRAY_LEN(statuses); i++) {
        known = strcmp(statuses[i], filter->status) == 0;
    }
    if (!known) {
        return err_set(err, ERR_INVALID, "status",
                       "status must be open, accepted, rejected or expired");
    }
    struct store_negotiation_filter f = *filter;
    if (!core__supervisor(who)) {
        f.party_id = who->id;
    }
    return store_negotiation_list(c->store, &f, page, err);
}

/* ---- the steps ---- */

/* A party's step on an open negotiation: visible, a party, open and not past its deadline;
 * answering (offer, accept) also means it is not the caller's own offer that is last. */
static enum err step_check(const struct core_principal *who, const struct store_negotiation *n,
                           int answering, int64_t now_ms, struct errbuf *err)
{
    if (strcmp(who->id, n->buyer_id) != 0 && strcmp(who->id, n->provider_id) != 0) {
        return err_set(err, ERR_FORBIDDEN, "id", "only the buyer and the provider negotiate");
    }
    if (!core_principal_active(who)) {
        return err_set(err, ERR_FORBIDDEN, "", "only a verified entity negotiates");
    }
    if (strcmp(n->status, "open") != 0) {
        return err_set(err, ERR_BAD_STATE, "id", "negotiation '%s' is %s", n->id, n->status);
    }
    if (now_ms >= n->expires_ms) {
        return err_set(err, ERR_BAD_STATE, "id", "negotiation '%s' has expired", n->id);
    }
    if (answering && strcmp(who->id, n->last_by) == 0) {
        return err_set(err, ERR_BAD_STATE, "id",
                       "the last offer is yours: wait for the other party's answer");
    }
    return ERR_OK;
}

typedef enum err step_fn(struct core *c, const struct core_principal *who,
                         struct store_negotiation *n, const void *arg,
                         struct core__trade_listing *t, struct store_order *order,
                         enum core_trade_rule *rule, struct errbuf *err);

/* Runs one step in a transaction: loads the negotiation for who, then step. */
static enum err step_run(struct core *c, const struct core_principal *who, const char *id,
                         step_fn *step, const void *arg, struct store_negotiation *out,
                         struct store_order *order, enum core_trade_rule *rule, struct errbuf *err)
{
    if (rule != NULL) {
        *rule = CORE_RULE_NONE;
    }
    struct core__trade_listing *t = mem_calloc(1, sizeof(*t));
    if (t == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = store_tx_begin(c->store, err);
    if (rc == ERR_OK) {
        rc = load_visible(c, who, id, out, err);
        if (rc == ERR_OK) {
            rc = step(c, who, out, arg, t, order, rule, err);
        }
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

static enum err offer_step(struct core *c, const struct core_principal *who,
                           struct store_negotiation *n, const void *arg,
                           struct core__trade_listing *t, struct store_order *order,
                           enum core_trade_rule *rule, struct errbuf *err)
{
    (void)order;
    const struct core_offer *o = arg;
    int64_t now = clock_now(c->clock);
    enum err rc = step_check(who, n, 1, now, err);
    if (rc == ERR_OK && n->offers >= CORE_NEGOTIATION_OFFERS_MAX) {
        rc = err_set(err, ERR_LIMIT, "price", "a negotiation takes at most %d offers",
                     CORE_NEGOTIATION_OFFERS_MAX);
    }
    if (rc == ERR_OK) {
        rc = core__trade_listing_load(c, who, n->listing_id, t, rule, err);
    }
    if (rc == ERR_OK) {
        rc = offer_check(t, o, rule, err);
    }
    char terms[STORE_TERMS_JSON_MAX];
    if (rc == ERR_OK) {
        rc = terms_apply(n->terms, o, terms, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(n->terms, sizeof(n->terms), "%s", terms);
    snprintf(n->last_by, sizeof(n->last_by), "%s", who->id);
    n->price = o->price;
    n->offers++;
    n->updated_ms = now;
    rc = step_record(c, "negotiation.offered", who->id, n, NULL, now, err);
    if (rc == ERR_OK) {
        rc = store_negotiation_update(c->store, n, err);
    }
    return rc == ERR_OK ? offer_record(c, who->id, n, now, err) : rc;
}

enum err core_negotiation_offer(struct core *c, const struct core_principal *who, const char *id,
                                const struct core_offer *o, struct store_negotiation *out,
                                enum core_trade_rule *rule, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && o != NULL && out != NULL);
    return step_run(c, who, id, offer_step, o, out, NULL, rule, err);
}

/* The purpose and term of the agreed terms, for the contract. */
static void terms_read(const char *terms, char *purpose, size_t cap, int64_t *term_days)
{
    json_t *t = json_loads(terms, 0, NULL);
    const char *p = json_string_value(json_object_get(t, "purpose"));
    snprintf(purpose, cap, "%s", p != NULL ? p : "");
    *term_days = json_is_integer(json_object_get(t, "term_days"))
                     ? (int64_t)json_integer_value(json_object_get(t, "term_days"))
                     : 0;
    json_decref(t);
}

static enum err accept_step(struct core *c, const struct core_principal *who,
                            struct store_negotiation *n, const void *arg,
                            struct core__trade_listing *t, struct store_order *order,
                            enum core_trade_rule *rule, struct errbuf *err)
{
    (void)arg;
    int64_t now = clock_now(c->clock);
    struct core_principal buyer;
    enum err rc = step_check(who, n, 1, now, err);
    if (rc == ERR_OK) {
        rc = core__principal_of(c, n->buyer_id, &buyer, err);
    }
    /* The buyer must still qualify when the trade is concluded, whoever accepts. */
    if (rc == ERR_OK) {
        rc = core__trade_listing_load(c, &buyer, n->listing_id, t, rule, err);
    }
    if (rc == ERR_OK) {
        rc = core__trade_buyer_check(c, &buyer, t, rule, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    char purpose[STORE_TERMS_JSON_MAX];
    int64_t term_days = 0;
    terms_read(n->terms, purpose, sizeof(purpose), &term_days);
    struct core__deal d = {
        .buyer = &buyer,
        .actor = who,
        .source = "negotiation",
        .source_id = n->id,
        .periods = 1,
        .unit_price = n->price,
        .price = n->price,
        .terms = n->terms,
        .purpose = purpose[0] != '\0' ? purpose : NULL,
        .term_days = term_days,
        .now_ms = now,
    };
    rc = core__trade_conclude(c, t, &d, order, err);
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(n->status, sizeof(n->status), "accepted");
    snprintf(n->closed_by, sizeof(n->closed_by), "%s", who->id);
    snprintf(n->order_id, sizeof(n->order_id), "%s", order->id);
    n->closed_ms = now;
    n->updated_ms = now;
    rc = step_record(c, "negotiation.accepted", who->id, n, NULL, now, err);
    return rc == ERR_OK ? store_negotiation_update(c->store, n, err) : rc;
}

enum err core_negotiation_accept(struct core *c, const struct core_principal *who, const char *id,
                                 struct store_negotiation *out, struct store_order *order,
                                 enum core_trade_rule *rule, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    struct store_order local;
    return step_run(c, who, id, accept_step, NULL, out, order != NULL ? order : &local, rule, err);
}

static enum err reject_step(struct core *c, const struct core_principal *who,
                            struct store_negotiation *n, const void *arg,
                            struct core__trade_listing *t, struct store_order *order,
                            enum core_trade_rule *rule, struct errbuf *err)
{
    (void)t;
    (void)order;
    (void)rule;
    const char *reason = arg;
    int64_t now = clock_now(c->clock);
    enum err rc = core__text_check("reason", reason, CORE_REASON_CHARS_MAX, 0, err);
    if (rc == ERR_OK) {
        rc = step_check(who, n, 0, now, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(n->status, sizeof(n->status), "rejected");
    snprintf(n->closed_by, sizeof(n->closed_by), "%s", who->id);
    n->closed_ms = now;
    n->updated_ms = now;
    rc = step_record(c, "negotiation.rejected", who->id, n,
                     reason != NULL && reason[0] != '\0' ? reason : NULL, now, err);
    return rc == ERR_OK ? store_negotiation_update(c->store, n, err) : rc;
}

enum err core_negotiation_reject(struct core *c, const struct core_principal *who, const char *id,
                                 const char *reason, struct store_negotiation *out,
                                 struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    return step_run(c, who, id, reject_step, reason, out, NULL, NULL, err);
}

enum err core__negotiation_expire(struct core *c, const char *id, int64_t now_ms,
                                  struct errbuf *err)
{
    struct store_negotiation n;
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_negotiation_get(c->store, id, &n, err);
    if (rc == ERR_OK && strcmp(n.status, "open") == 0 && n.expires_ms <= now_ms) {
        snprintf(n.status, sizeof(n.status), "expired");
        snprintf(n.closed_by, sizeof(n.closed_by), "%s", CORE__SWEEPER);
        n.closed_ms = now_ms;
        n.updated_ms = now_ms;
        rc = step_record(c, "negotiation.expired", CORE__SWEEPER, &n, NULL, now_ms, err);
        if (rc == ERR_OK) {
            rc = store_negotiation_update(c->store, &n, err);
        }
    }
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    return store_tx_commit(c->store, err);
}
