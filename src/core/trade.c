/*
 * trade.c: the qualification rules every trade passes (core.h, "trading"), orders at the
 * listed price, how a trade is concluded (an order row and a proposed contract, in one
 * transaction), and the trading clock's sweep. Negotiations and auctions are negotiation.c
 * and auction.c; they reach the rules through core_int.h.
 *
 * The rules read what the catalogue stored: a listing's price model and terms are its
 * canonical JSON, parsed back here, so that a trade is always checked against exactly what
 * the buyer was shown. Each refusal names its rule (enum core_trade_rule) so that the HTTP
 * layer can answer with the rule's own problem type.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static const char *const rule_names[CORE_RULE__COUNT] = {
    "",
    "not-qualified",
    "self-trade",
    "private-offer",
    "exclusivity-sold",
    "classification",
    "price-outside-terms",
};

const char *core_trade_rule_name(enum core_trade_rule rule)
{
    return (unsigned)rule < CORE_RULE__COUNT ? rule_names[rule] : "";
}

enum err core__trade_refuse(enum core_trade_rule *rule, enum core_trade_rule which,
                            struct errbuf *err, enum err code, const char *field, const char *fmt,
                            ...)
{
    ASSERT(code != ERR_OK);
    char msg[ERRBUF_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (rule != NULL) {
        *rule = which;
    }
    return err_set(err, code, field, "%s", msg);
}

int core__trade_party_view(const struct core_principal *who, const char *buyer_id,
                           const char *provider_id)
{
    if (who->id[0] == '\0') {
        return 0;
    }
    return core__supervisor(who) || strcmp(who->id, buyer_id) == 0 ||
           strcmp(who->id, provider_id) == 0;
}

enum err core__principal_of(struct core *c, const char *entity_id, struct core_principal *out,
                            struct errbuf *err)
{
    struct store_entity e;
    enum err rc = store_entity_get(c->store, entity_id, &e, err);
    memset(out, 0, sizeof(*out));
    if (rc == ERR_OK) {
        snprintf(out->id, sizeof(out->id), "%s", e.id);
        rc = core_kind_parse(e.kind, &out->kind);
    }
    if (rc == ERR_OK) {
        rc = core_status_parse(e.status, &out->status);
    }
    if (rc == ERR_INVALID) {
        rc = err_set(err, ERR_CORRUPT, "", "entity '%s' has a bad kind or status", entity_id);
    }
    return rc;
}

/* ---- the listing as traded ---- */

void core__trade_listing_release(struct core__trade_listing *t)
{
    if (t != NULL) {
        store_listing_release(&t->l);
    }
}

static int64_t json_int_or(const json_t *obj, const char *name, int64_t fallback)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : fallback;
}

static enum err tiers_read(const json_t *price, struct core__trade_listing *t)
{
    const json_t *tiers = json_object_get(price, "tiers");
    if (pricing_period_parse(json_string_value(json_object_get(price, "period")), &t->period) !=
            ERR_OK ||
        json_array_size(tiers) > PRICING_TIERS_MAX) {
        return ERR_CORRUPT;
    }
    for (size_t i = 0; i < json_array_size(tiers); i++) {
        const json_t *tier = json_array_get(tiers, i);
        const char *name = json_string_value(json_object_get(tier, "name"));
        if (name == NULL || strlen(name) >= PRICING_TIER_NAME_MAX) {
            return ERR_CORRUPT;
        }
        snprintf(t->tiers[i].name, sizeof(t->tiers[i].name), "%s", name);
        t->tiers[i].qps = json_int_or(tier, "qps", 0);
        t->tiers[i].price = json_int_or(tier, "price", 0);
    }
    t->tier_count = json_array_size(tiers);
    return t->tier_count > 0 ? ERR_OK : ERR_CORRUPT;
}

/* Reads the stored price model and terms back; what core wrote, so a fault is corruption. */
static enum err listing_parse(struct core__trade_listing *t, struct errbuf *err)
{
    json_t *price = json_loads(t->l.price_json != NULL ? t->l.price_json : "", 0, NULL);
    json_t *terms = json_loads(t->l.terms_json != NULL ? t->l.terms_json : "", 0, NULL);
    enum err rc = price != NULL && terms != NULL ? ERR_OK : ERR_CORRUPT;
    if (rc == ERR_OK) {
        rc = pricing_model_parse(json_string_value(json_object_get(price, "model")), &t->model);
        rc = rc == ERR_OK ? ERR_OK : ERR_CORRUPT;
    }
    if (rc == ERR_OK) {
        t->amount = json_int_or(price,
                                t->model == PRICING_MODEL_NEGOTIABLE ? "ask"
                                : t->model == PRICING_MODEL_PER_CALL ? "price_per_call"
                                                                     : "amount",
                                0);
        t->floor = json_int_or(price, "floor", 0);
        t->reserve = json_int_or(price, "reserve", 0);
        t->monthly_minimum = json_int_or(price, "monthly_minimum", 0);
        t->term_days = json_int_or(terms, "term_days", 0);
        t->exclusive = json_is_true(json_object_get(terms, "exclusive"));
    }
    if (rc == ERR_OK && t->model == PRICING_MODEL_SUBSCRIPTION) {
        rc = tiers_read(price, t);
    }
    const char *deadline = json_string_value(json_object_get(price, "deadline"));
    if (rc == ERR_OK && t->model == PRICING_MODEL_AUCTION &&
        (deadline == NULL || clock_parse_rfc3339(deadline, &t->deadline_ms) != ERR_OK)) {
        rc = ERR_CORRUPT;
    }
    json_decref(price);
    json_decref(terms);
    return rc == ERR_OK ? ERR_OK
                        : err_set(err, ERR_CORRUPT, "",
                                  "listing '%s' has a malformed price or terms", t->l.id);
}

enum err core__trade_listing_load(struct core *c, const struct core_principal *who,
                                  const char *listing_id, struct core__trade_listing *t,
                                  enum core_trade_rule *rule, struct errbuf *err)
{
    memset(t, 0, sizeof(*t));
    if (!id_valid(listing_id, "lst")) {
        return err_set(err, ERR_INVALID, "listing_id", "'listing_id' must be a listing id");
    }
    enum err rc = store_listing_get(c->store, listing_id, &t->l, err);
    if (rc == ERR_NOT_FOUND) {
        return err_set(err, ERR_NOT_FOUND, "listing_id", "no listing '%s'", listing_id);
    }
    if (rc == ERR_OK) {
        rc = core__listing_visible(c, who, &t->l, err);
    }
    if (rc == ERR_NOT_FOUND) {
        return core__trade_refuse(rule, CORE_RULE_PRIVATE_OFFER, err, ERR_FORBIDDEN, "listing_id",
                                  "listing '%s' is a private offer to other buyers", listing_id);
    }
    if (rc == ERR_OK && strcmp(t->l.status, "active") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "listing_id", "listing '%s' is %s", listing_id,
                     t->l.status);
    }
    return rc == ERR_OK ? listing_parse(t, err) : rc;
}

/* ---- the buyer's rules ---- */

static enum err cert_needed(struct core *c, const struct core_principal *who,
                            enum core_cert_type type, const char *why, enum core_trade_rule *rule,
                            struct errbuf *err)
{
    int active = 0;
    enum err rc = core_cert_active(c, who->id, type, &active, err);
    if (rc == ERR_OK && !active) {
        rc = core__trade_refuse(rule, CORE_RULE_NOT_QUALIFIED, err, ERR_FORBIDDEN, "buyer",
                                "trading %s needs an active %s certificate", why,
                                core_cert_type_name(type));
    }
    return rc;
}

/* "missing assessment cross_border" from a gate's answer. */
static void missing_text(const struct core_listable *g, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < g->missing_count && used < cap; i++) {
        int n = snprintf(out + used, cap - used, "%s%s %s", i > 0 ? ", " : "", g->missing[i].item,
                         g->missing[i].kind);
        used += n > 0 ? (size_t)n : 0;
    }
}

/* Qualification: verified, trading certificate, cross-border certificate and assessment. */
static enum err qualify(struct core *c, const struct core_principal *who,
                        const struct core__trade_listing *t, enum core_trade_rule *rule,
                        struct errbuf *err)
{
    int buyer_kind = who->kind == CORE_KIND_BUYER || who->kind == CORE_KIND_PROVIDER ||
                     who->kind == CORE_KIND_BROKER;
    if (!buyer_kind || !core_principal_active(who)) {
        return core__trade_refuse(rule, CORE_RULE_NOT_QUALIFIED, err, ERR_FORBIDDEN, "buyer",
                                  "only a verified buyer, provider or broker trades");
    }
    enum err rc = cert_needed(c, who, CORE_CERT_TRADING, "data", rule, err);
    struct store_entity e;
    if (rc == ERR_OK) {
        rc = store_entity_get(c->store, who->id, &e, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    int abroad = strcmp(e.country, "CN") != 0;
    if (abroad || strcmp(t->l.board, "international") == 0) {
        rc = cert_needed(c, who, CORE_CERT_CROSS_BORDER,
                         abroad ? "from abroad" : "on the international board", rule, err);
    }
    if (rc != ERR_OK || !abroad) {
        return rc;
    }
    struct core_listable gate;
    rc = core_revision_cross_border(c, t->l.revision_id, &gate, err);
    if (rc == ERR_OK && !gate.listable) {
        char text[160];
        missing_text(&gate, text, sizeof(text));
        rc = core__trade_refuse(rule, CORE_RULE_CLASSIFICATION, err, ERR_FORBIDDEN, "listing_id",
                                "this data may not go to a buyer abroad: missing %s", text);
    }
    return rc;
}

/* Whether a contract still binds: not cancelled, not expired. */
static enum err contract_live(struct core *c, const char *contract_id, int *live,
                              struct errbuf *err)
{
    *live = 1;
    if (contract_id[0] == '\0') {
        return ERR_OK;
    }
    struct store_contract *k = mem_alloc(sizeof(*k));
    if (k == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = store_contract_get(c->store, contract_id, k, err);
    if (rc == ERR_OK) {
        *live = strcmp(k->state, "cancelled") != 0 && strcmp(k->state, "expired") != 0;
    }
    mem_free(k);
    return rc;
}

/* The exclusivity of t: free, freed here (its contract lapsed), or sold. */
static enum err exclusivity_check(struct core *c, const struct core__trade_listing *t,
                                  int64_t now_ms, enum core_trade_rule *rule, struct errbuf *err)
{
    if (!t->exclusive) {
        return ERR_OK;
    }
    struct store_order holder;
    int found = 0, live = 1;
    enum err rc = store_order_exclusive_holder(c->store, t->l.id, &holder, &found, err);
    if (rc == ERR_OK && found) {
        rc = contract_live(c, holder.contract_id, &live, err);
    }
    if (rc != ERR_OK || !found) {
        return rc;
    }
    if (live) {
        return core__trade_refuse(rule, CORE_RULE_EXCLUSIVITY_SOLD, err, ERR_CONFLICT, "listing_id",
                                  "the exclusive licence of '%s' is sold (order %s)", t->l.id,
                                  holder.id);
    }
    json_t *body = json_pack("{s:s, s:s, s:s}", "order_id", holder.id, "listing_id", t->l.id,
                             "contract_id", holder.contract_id);
    int64_t seq = 0;
    rc = body != NULL ? store_event_append(c->store, "order.exclusivity_released", CORE__SWEEPER,
                                           holder.id, now_ms, body, &seq, err)
                      : err_set(err, ERR_NOMEM, "", "out of memory");
    json_decref(body);
    return rc == ERR_OK ? store_order_exclusive_release(c->store, holder.id, err) : rc;
}

enum err core__trade_buyer_check(struct core *c, const struct core_principal *who,
                                 const struct core__trade_listing *t, enum core_trade_rule *rule,
                                 struct errbuf *err)
{
    if (who->id[0] != '\0' && strcmp(who->id, t->l.provider_id) == 0) {
        return core__trade_refuse(rule, CORE_RULE_SELF_TRADE, err, ERR_FORBIDDEN, "listing_id",
                                  "a provider does not trade with itself");
    }
    enum err rc = qualify(c, who, t, rule, err);
    return rc == ERR_OK ? exclusivity_check(c, t, clock_now(c->clock), rule, err) : rc;
}

/* ---- concluding a trade ---- */

static json_t *order_event_body(const struct store_order *o, int public_price)
{
    json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "order_id", o->id,
                          "listing_id", o->listing_id, "revision_id", o->revision_id, "buyer_id",
                          o->buyer_id, "provider_id", o->provider_id, "source", o->source,
                          "source_id", o->source_id, "contract_id", o->contract_id, "currency",
                          o->currency, "exclusive", (int)o->exclusive);
    if (b != NULL && public_price &&
        (json_object_set_new(b, "price", json_integer(o->price)) != 0 ||
         json_object_set_new(b, "periods", json_integer(o->periods)) != 0)) {
        json_decref(b);
        b = NULL;
    }
    return b;
}

static enum err contract_make(struct core *c, const struct core__trade_listing *t,
                              const struct core__deal *d, const char *order_id,
                              char contract_id[ID_MAX], struct errbuf *err)
{
    struct core_contract_terms k;
    memset(&k, 0, sizeof(k));
    snprintf(k.listing_id, sizeof(k.listing_id), "%s", t->l.id);
    snprintf(k.buyer_id, sizeof(k.buyer_id), "%s", d->buyer->id);
    k.origin = d->source;
    /* An order is its own origin; a negotiation or an auction names itself. */
    snprintf(k.origin_id, sizeof(k.origin_id), "%s",
             d->source_id[0] != '\0' ? d->source_id : order_id);
    k.price = d->unit_price;
    snprintf(k.currency, sizeof(k.currency), "%s", t->l.currency);
    k.tier = d->tier;
    k.periods = d->periods;
    k.purpose = d->purpose;
    k.term_days = d->term_days;
    k.exclusive = -1;
    struct store_contract *out = mem_alloc(sizeof(*out));
    if (out == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = core_contract_propose(c, d->buyer, &k, out, err);
    if (rc == ERR_OK) {
        snprintf(contract_id, ID_MAX, "%s", out->id);
    }
    mem_free(out);
    return rc;
}

enum err core__trade_conclude(struct core *c, const struct core__trade_listing *t,
                              const struct core__deal *d, struct store_order *o, struct errbuf *err)
{
    ASSERT(d->price >= 0 && d->unit_price >= 0);
    ASSERT(d->periods >= 1);
    memset(o, 0, sizeof(*o));
    id_new(c->rng, "ord", o->id);
    snprintf(o->listing_id, sizeof(o->listing_id), "%s", t->l.id);
    snprintf(o->product_id, sizeof(o->product_id), "%s", t->l.product_id);
    snprintf(o->revision_id, sizeof(o->revision_id), "%s", t->l.revision_id);
    snprintf(o->provider_id, sizeof(o->provider_id), "%s", t->l.provider_id);
    snprintf(o->buyer_id, sizeof(o->buyer_id), "%s", d->buyer->id);
    snprintf(o->source, sizeof(o->source), "%s", d->source);
    snprintf(o->source_id, sizeof(o->source_id), "%s", d->source_id);
    snprintf(o->price_model, sizeof(o->price_model), "%s", t->l.price_model);
    snprintf(o->tier, sizeof(o->tier), "%s", d->tier != NULL ? d->tier : "");
    snprintf(o->currency, sizeof(o->currency), "%s", t->l.currency);
    snprintf(o->status, sizeof(o->status), "placed");
    if (strlen(d->terms) >= sizeof(o->terms)) {
        return err_set(err, ERR_LIMIT, "terms", "the terms agreed are too long");
    }
    snprintf(o->terms, sizeof(o->terms), "%s", d->terms);
    o->periods = d->periods;
    o->unit_price = d->unit_price;
    o->price = d->price;
    o->exclusive = t->exclusive;
    o->created_ms = d->now_ms;
    enum err rc = contract_make(c, t, d, o->id, o->contract_id, err);
    json_t *body = rc == ERR_OK ? order_event_body(o, d->public_price) : NULL;
    if (rc == ERR_OK && body == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK) {
        rc = store_event_append(c->store, "order.placed",
                                d->actor->id[0] != '\0' ? d->actor->id : CORE__SWEEPER, o->id,
                                o->created_ms, body, &o->log_index, err);
    }
    json_decref(body);
    return rc == ERR_OK ? store_order_insert(c->store, o, err) : rc;
}

/* ---- orders ---- */

/* Whole price = unit x periods, within PRICING_AMOUNT_MAX. */
static enum err times(int64_t unit, int64_t periods, int64_t *out, struct errbuf *err)
{
    if (periods > 0 && unit > PRICING_AMOUNT_MAX / periods) {
        return err_set(err, ERR_LIMIT, "periods", "the price of %" PRId64 " periods is too large",
                       periods);
    }
    *out = unit * periods;
    return ERR_OK;
}

/* Periods the licence term covers, or the buyer's choice within the contract's limit. */
static enum err periods_for(const struct core__trade_listing *t, int64_t asked, int64_t days,
                            int64_t *out, struct errbuf *err)
{
    if (asked < 0 || asked > CORE_CONTRACT_PERIODS_MAX) {
        return err_set(err, ERR_INVALID, "periods", "'periods' must be 1 to %d",
                       CORE_CONTRACT_PERIODS_MAX);
    }
    int64_t p = asked > 0 ? asked : pricing_periods(t->term_days > 0 ? t->term_days : 1, days);
    *out = p > CORE_CONTRACT_PERIODS_MAX ? CORE_CONTRACT_PERIODS_MAX : p;
    return ERR_OK;
}

/* The listed price of what r asks for: unit price, periods and whole price. */
static enum err order_price(const struct core__trade_listing *t, const struct core_order_request *r,
                            int64_t *unit, int64_t *periods, enum core_trade_rule *rule,
                            struct errbuf *err)
{
    if (t->model != PRICING_MODEL_SUBSCRIPTION && r->tier != NULL) {
        return err_set(err, ERR_INVALID, "tier", "a %s listing has no tiers", t->l.price_model);
    }
    switch (t->model) {
    case PRICING_MODEL_FIXED:
        if (r->periods > 1) {
            return err_set(err, ERR_INVALID, "periods", "a fixed price buys the whole term");
        }
        *unit = t->amount;
        *periods = 1;
        return ERR_OK;
    case PRICING_MODEL_SUBSCRIPTION:
        for (size_t i = 0; r->tier != NULL && i < t->tier_count; i++) {
            if (strcmp(t->tiers[i].name, r->tier) == 0) {
                *unit = t->tiers[i].price;
                return periods_for(t, r->periods, pricing_period_days(t->period), periods, err);
            }
        }
        return err_set(err, ERR_INVALID, "tier", "'tier' must name one of the listing's %zu tiers",
                       t->tier_count);
    case PRICING_MODEL_PER_CALL:
        /* A monthly minimum (or one call) a month; the gateway bills the calls. */
        *unit = t->monthly_minimum > 0 ? t->monthly_minimum : t->amount;
        return periods_for(t, r->periods, PRICING_DAYS_PER_MONTH, periods, err);
    default:
        return core__trade_refuse(rule, CORE_RULE_PRICE_OUTSIDE_TERMS, err, ERR_INVALID,
                                  "listing_id", "a %s listing is not ordered: %s", t->l.price_model,
                                  t->model == PRICING_MODEL_AUCTION ? "bid in its auction"
                                                                    : "open a negotiation");
    }
}

static enum err order_request_check(const struct core__trade_listing *t,
                                    const struct core_order_request *r, int64_t total,
                                    enum core_trade_rule *rule, struct errbuf *err)
{
    if (r->currency != NULL && strcmp(r->currency, t->l.currency) != 0) {
        return core__trade_refuse(rule, CORE_RULE_PRICE_OUTSIDE_TERMS, err, ERR_INVALID, "currency",
                                  "the listing is priced in %s", t->l.currency);
    }
    if (r->price >= 0 && r->price != total) {
        return core__trade_refuse(rule, CORE_RULE_PRICE_OUTSIDE_TERMS, err, ERR_INVALID, "price",
                                  "the listed price is %" PRId64 " %s, not %" PRId64, total,
                                  t->l.currency, r->price);
    }
    return ERR_OK;
}

static enum err order_make(struct core *c, const struct core_principal *who,
                           const struct core_order_request *r, struct core__trade_listing *t,
                           struct store_order *out, enum core_trade_rule *rule, struct errbuf *err)
{
    enum err rc = core__trade_listing_load(c, who, r->listing_id, t, rule, err);
    if (rc == ERR_OK) {
        rc = core__trade_buyer_check(c, who, t, rule, err);
    }
    int64_t unit = 0, periods = 1, total = 0;
    if (rc == ERR_OK) {
        rc = order_price(t, r, &unit, &periods, rule, err);
    }
    if (rc == ERR_OK) {
        rc = times(unit, periods, &total, err);
    }
    if (rc == ERR_OK) {
        rc = order_request_check(t, r, total, rule, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct core__deal d = {
        .buyer = who,
        .actor = who,
        .source = "order",
        .source_id = "",
        .tier = t->model == PRICING_MODEL_SUBSCRIPTION ? r->tier : NULL,
        .periods = periods,
        .unit_price = unit,
        .price = total,
        .terms = t->l.terms_json,
        .public_price = !t->l.private_offer,
        .now_ms = clock_now(c->clock),
    };
    return core__trade_conclude(c, t, &d, out, err);
}

enum err core_order_place(struct core *c, const struct core_principal *who,
                          const struct core_order_request *r, struct store_order *out,
                          enum core_trade_rule *rule, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && r != NULL && out != NULL);
    if (rule != NULL) {
        *rule = CORE_RULE_NONE;
    }
    struct core__trade_listing *t = mem_calloc(1, sizeof(*t));
    if (t == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = store_tx_begin(c->store, err);
    if (rc == ERR_OK) {
        rc = order_make(c, who, r, t, out, rule, err);
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

enum err core_order_get(struct core *c, const struct core_principal *who, const char *id,
                        struct store_order *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (!id_valid(id, "ord")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not an order id", id != NULL ? id : "");
    }
    enum err rc = store_order_get(c->store, id, out, err);
    if (rc == ERR_OK && !core__trade_party_view(who, out->buyer_id, out->provider_id)) {
        rc = err_set(err, ERR_NOT_FOUND, "id", "no order '%s'", id);
    }
    return rc;
}

enum err core_order_list(struct core *c, const struct core_principal *who,
                         const struct store_order_filter *filter, struct store_order_page *page,
                         struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && filter != NULL && page != NULL);
    memset(page, 0, sizeof(*page));
    if (who->id[0] == '\0') {
        return err_set(err, ERR_FORBIDDEN, "", "orders are their parties'");
    }
    struct store_order_filter f = *filter;
    if (f.listing_id != NULL && !id_valid(f.listing_id, "lst")) {
        return err_set(err, ERR_INVALID, "listing_id", "'listing_id' must be a listing id");
    }
    if (!core__supervisor(who)) {
        f.party_id = who->id;
    }
    return store_order_list(c->store, &f, page, err);
}

/* ---- the trading clock ---- */

enum err core_trade_sweep(struct core *c, int64_t now_ms, size_t max, size_t *done,
                          struct errbuf *err)
{
    ASSERT(c != NULL && done != NULL);
    ASSERT(max >= 1 && max <= CORE_TRADE_SWEEP_MAX);
    *done = 0;
    char(*ids)[ID_MAX] = mem_calloc(max, ID_MAX);
    if (ids == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    size_t n = 0;
    enum err rc = store_negotiation_due(c->store, now_ms, max, ids, &n, err);
    for (size_t i = 0; i < n && rc == ERR_OK; i++) {
        rc = core__negotiation_expire(c, ids[i], now_ms, err);
        *done += rc == ERR_OK;
    }
    if (rc == ERR_OK) {
        rc = store_auction_due(c->store, now_ms, max, ids, &n, err);
    }
    for (size_t i = 0; i < n && rc == ERR_OK; i++) {
        rc = core__auction_close_due(c, ids[i], now_ms, err);
        *done += rc == ERR_OK;
    }
    mem_free(ids);
    return rc;
}
