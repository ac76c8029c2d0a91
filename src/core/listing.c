/*
 * listing.c: pricing inputs, reference prices and listings (design §2 steps 5 and 6).
 *
 * The arithmetic is the pricing module's; this file gathers its inputs (the provider's
 * declared costs and expected buyer benefit, the prices of comparable listings) and applies
 * the listing rules in core.h: who may list, the listing gate of the supply side
 * (core_product_listable), the cross-border rules, the shape of a price model and of licence
 * terms. A listing stores its price model and terms as canonical JSON built here from the
 * validated values (never the caller's text), together with the reference corridor of the
 * moment and whether its price sits far from it, for supervision.
 *
 * Each listing has a search document (title; description, category labels, use cases,
 * provider name) that the store indexes; its docid is the log index of the event that created
 * the listing, which is unique and never changes.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clearing/clearing.h"
#include "util/banned.h"

#define DAY_MS ((int64_t)86400000)

static const char *const delivery_names[CORE_DELIVERY__COUNT] = {"file", "api", "compute"};
static const char *const boards[] = {"main", "international"};
static const char *const redistributions[] = {"none", "internal", "with_attribution"};

const char *core_delivery_name(unsigned bit_index)
{
    return bit_index < CORE_DELIVERY__COUNT ? delivery_names[bit_index] : NULL;
}

static int name_in(const char *name, const char *const *names, size_t count)
{
    for (size_t i = 0; name != NULL && i < count; i++) {
        if (strcmp(names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

int core__supervisor(const struct core_principal *who)
{
    /* An anonymous caller's principal is all zeros, whose kind reads as the operator's. */
    return who->id[0] != '\0' && core__sees_all(who);
}

int core__category_known(const char *code)
{
    size_t n = 0;
    const struct core_category *cats = core_categories(&n);
    for (size_t i = 0; code != NULL && i < n; i++) {
        if (strcmp(cats[i].code, code) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- JSON members ---- */

static enum err only_members(const json_t *obj, const char *prefix, const char *const *allowed,
                             struct errbuf *err)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        (void)value;
        int ok = 0;
        for (const char *const *a = allowed; *a != NULL; a++) {
            ok |= strcmp(*a, key) == 0;
        }
        if (!ok) {
            char field[ERRBUF_FIELD_MAX];
            snprintf(field, sizeof(field), "%s%s", prefix, key);
            return err_set(err, ERR_INVALID, field, "unknown field '%s'", field);
        }
    }
    return ERR_OK;
}

enum err core__json_int(const json_t *obj, const char *prefix, const char *name, int64_t min,
                        int64_t max, int required, int64_t *out, struct errbuf *err)
{
    char field[ERRBUF_FIELD_MAX];
    snprintf(field, sizeof(field), "%s%s", prefix, name);
    const json_t *v = json_object_get(obj, name);
    if (v == NULL || json_is_null(v)) {
        if (required) {
            return err_set(err, ERR_INVALID, field, "'%s' is required", field);
        }
        return ERR_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        return err_set(err, ERR_INVALID, field,
                       "'%s' must be an integer from %" PRId64 " to %" PRId64, field, min, max);
    }
    *out = json_integer_value(v);
    return ERR_OK;
}

enum err core__json_text(const json_t *obj, const char *prefix, const char *name, size_t max_chars,
                         int required, const char **out, struct errbuf *err)
{
    char field[ERRBUF_FIELD_MAX];
    snprintf(field, sizeof(field), "%s%s", prefix, name);
    *out = NULL;
    const json_t *v = json_object_get(obj, name);
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
            return err_set(err, ERR_INVALID, field, "'%s' must be a string", field);
        }
        *out = json_string_value(v);
    }
    return core__text_check(field, *out, max_chars, required, err);
}

static enum err object_member(const json_t *obj, const char *name, int required, const json_t **out,
                              struct errbuf *err)
{
    *out = json_object_get(obj, name);
    if (*out != NULL && json_is_null(*out)) {
        *out = NULL;
    }
    if (*out == NULL && required) {
        return err_set(err, ERR_INVALID, name, "'%s' is required", name);
    }
    if (*out != NULL && !json_is_object(*out)) {
        return err_set(err, ERR_INVALID, name, "'%s' must be an object", name);
    }
    return ERR_OK;
}

/* ---- principals ---- */

/* A verified provider or broker with an active data_provider certificate. */
static enum err seller_check(struct core *c, const struct core_principal *who, struct errbuf *err)
{
    if (who->kind != CORE_KIND_PROVIDER && who->kind != CORE_KIND_BROKER) {
        return err_set(err, ERR_FORBIDDEN, "", "only providers and brokers list products");
    }
    if (!core_principal_active(who)) {
        return err_set(err, ERR_FORBIDDEN, "", "only a verified entity lists products");
    }
    int active = 0;
    enum err rc = core_cert_active(c, who->id, CORE_CERT_DATA_PROVIDER, &active, err);
    if (rc == ERR_OK && !active) {
        rc = err_set(err, ERR_FORBIDDEN, "",
                     "listing products needs an active data_provider certificate");
    }
    return rc;
}

/* ---- pricing inputs ---- */

struct inputs_parsed {
    struct store_pricing_inputs in;
    struct pricing_result cost;
    struct pricing_result income;
};

static enum err cost_parse(const json_t *cost, struct inputs_parsed *p, struct errbuf *err)
{
    static const char *const names[] = {"collection", "processing", "storage",
                                        "labour",     "margin_bp",  NULL};
    int64_t *dst[] = {&p->in.collection, &p->in.processing, &p->in.storage, &p->in.labour,
                      &p->in.margin_bp};
    const int64_t max[] = {PRICING_AMOUNT_MAX, PRICING_AMOUNT_MAX, PRICING_AMOUNT_MAX,
                           PRICING_AMOUNT_MAX, PRICING_MARGIN_BP_MAX};
    enum err rc = only_members(cost, "cost.", names, err);
    for (size_t i = 0; i < ARRAY_LEN(dst) && rc == ERR_OK; i++) {
        rc = core__json_int(cost, "cost.", names[i], 0, max[i], 1, dst[i], err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct pricing_cost_inputs ci = {p->in.collection, p->in.processing, p->in.storage,
                                     p->in.labour, p->in.margin_bp};
    p->in.has_cost = 1;
    return pricing_cost(&ci, &p->cost, err);
}

static enum err income_parse(const json_t *income, struct inputs_parsed *p, struct errbuf *err)
{
    static const char *const names[] = {"benefit_per_period", "period", "periods",
                                        "discount_rate_bp", NULL};
    enum err rc = only_members(income, "income.", names, err);
    if (rc == ERR_OK) {
        rc = core__json_int(income, "income.", "benefit_per_period", 0, PRICING_AMOUNT_MAX, 1,
                            &p->in.benefit_per_period, err);
    }
    if (rc == ERR_OK) {
        rc = core__json_int(income, "income.", "periods", 1, PRICING_PERIODS_MAX, 1, &p->in.periods,
                            err);
    }
    if (rc == ERR_OK) {
        rc = core__json_int(income, "income.", "discount_rate_bp", 0, PRICING_RATE_BP_MAX, 1,
                            &p->in.discount_rate_bp, err);
    }
    enum pricing_period period;
    const char *name = json_string_value(json_object_get(income, "period"));
    if (rc == ERR_OK && pricing_period_parse(name, &period) != ERR_OK) {
        rc = err_set(err, ERR_INVALID, "income.period", "'income.period' must be month or year");
    }
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(p->in.period, sizeof(p->in.period), "%s", name);
    p->in.has_income = 1;
    struct pricing_income_inputs ii = {p->in.benefit_per_period, p->in.periods,
                                       p->in.discount_rate_bp};
    return pricing_income(&ii, &p->income, err);
}

static enum err inputs_parse(const json_t *body, struct inputs_parsed *p, struct errbuf *err)
{
    static const char *const names[] = {"currency", "cost", "income", NULL};
    memset(p, 0, sizeof(*p));
    if (!json_is_object(body)) {
        return err_set(err, ERR_INVALID, "", "the pricing inputs must be a JSON object");
    }
    const json_t *cost = NULL, *income = NULL;
    const char *currency = json_string_value(json_object_get(body, "currency"));
    enum err rc = only_members(body, "", names, err);
    if (rc == ERR_OK) {
        rc = clearing_currency_check(currency, "currency", err);
    }
    if (rc == ERR_OK) {
        rc = object_member(body, "cost", 0, &cost, err);
    }
    if (rc == ERR_OK) {
        rc = object_member(body, "income", 0, &income, err);
    }
    if (rc == ERR_OK && cost == NULL && income == NULL) {
        rc =
            err_set(err, ERR_INVALID, "cost", "declare the cost inputs, the income inputs or both");
    }
    if (rc == ERR_OK) {
        snprintf(p->in.currency, sizeof(p->in.currency), "%s", currency);
    }
    if (rc == ERR_OK && cost != NULL) {
        rc = cost_parse(cost, p, err);
    }
    if (rc == ERR_OK && income != NULL) {
        rc = income_parse(income, p, err);
    }
    if (rc == ERR_OK && !p->in.has_income) {
        snprintf(p->in.period, sizeof(p->in.period), "%s", "");
    }
    return rc;
}

json_t *core__inputs_json(const struct store_pricing_inputs *in)
{
    json_t *cost =
        in->has_cost
            ? json_pack("{s:I, s:I, s:I, s:I, s:I}", "collection", (json_int_t)in->collection,
                        "processing", (json_int_t)in->processing, "storage",
                        (json_int_t)in->storage, "labour", (json_int_t)in->labour, "margin_bp",
                        (json_int_t)in->margin_bp)
            : json_null();
    json_t *income = in->has_income
                         ? json_pack("{s:I, s:s, s:I, s:I}", "benefit_per_period",
                                     (json_int_t)in->benefit_per_period, "period", in->period,
                                     "periods", (json_int_t)in->periods, "discount_rate_bp",
                                     (json_int_t)in->discount_rate_bp)
                         : json_null();
    return json_pack("{s:s, s:I, s:s, s:o*, s:o*}", "product_id", in->product_id, "version",
                     (json_int_t)in->version, "currency", in->currency, "cost", cost, "income",
                     income);
}

/* The product for who: visible, and theirs when must_own. */
static enum err product_for(struct core *c, const struct core_principal *who, const char *id,
                            int must_own, struct store_product *out, struct errbuf *err)
{
    enum err rc = core_product_get(c, who, id, out, err);
    if (rc == ERR_OK && must_own && strcmp(out->provider_id, who->id) != 0) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "only the product's provider declares its inputs");
    }
    if (rc == ERR_OK && must_own && !core_principal_active(who)) {
        rc = err_set(err, ERR_FORBIDDEN, "", "only a verified provider declares pricing inputs");
    }
    return rc;
}

enum err core_pricing_inputs_set(struct core *c, const struct core_principal *who,
                                 const char *product_id, const json_t *inputs,
                                 struct store_pricing_inputs *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    struct store_product p;
    enum err rc = product_for(c, who, product_id, 1, &p, err);
    struct inputs_parsed *parsed = mem_calloc(1, sizeof(*parsed));
    if (rc == ERR_OK && parsed == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK) {
        rc = inputs_parse(inputs, parsed, err);
    }
    if (rc != ERR_OK) {
        mem_free(parsed);
        return rc;
    }
    struct store_pricing_inputs *in = &parsed->in;
    json_t *body = NULL;
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        mem_free(parsed);
        return rc;
    }
    struct store_pricing_inputs previous;
    struct errbuf local;
    errbuf_init(&local);
    enum err prc = store_pricing_inputs_get(c->store, p.id, &previous, &local);
    if (prc != ERR_OK && prc != ERR_NOT_FOUND) {
        rc = err_set(err, prc, "", "%s", local.msg);
        goto out;
    }
    snprintf(in->product_id, sizeof(in->product_id), "%s", p.id);
    in->version = prc == ERR_OK ? previous.version + 1 : 1;
    snprintf(in->actor, sizeof(in->actor), "%s", who->id);
    in->updated_ms = clock_now(c->clock);
    body = core__inputs_json(in);
    if (body == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    rc = store_event_append(c->store, "pricing.inputs_set", who->id, p.id, in->updated_ms, body,
                            &in->log_index, err);
    if (rc == ERR_OK) {
        rc = store_pricing_inputs_put(c->store, in, err);
    }
out:
    json_decref(body);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        mem_free(parsed);
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc == ERR_OK) {
        *out = *in;
    }
    mem_free(parsed);
    return rc;
}

enum err core_pricing_inputs_get(struct core *c, const struct core_principal *who,
                                 const char *product_id, struct store_pricing_inputs *out,
                                 struct errbuf *err)
{
    struct store_product p;
    enum err rc = product_for(c, who, product_id, 0, &p, err);
    return rc == ERR_OK ? store_pricing_inputs_get(c->store, p.id, out, err) : rc;
}

/* ---- reference prices ---- */

/* reason, then arg ("" or a currency code). */
static void method_unavailable(struct pricing_result *r, const char *reason, const char *arg)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->reason, sizeof(r->reason), "%s%s", reason, arg);
}

/* The cost and income methods from the declared inputs, in currency. */
static enum err reference_declared(const struct store_pricing_inputs *in, int has_inputs,
                                   const char *currency, int64_t term_days,
                                   struct pricing_reference *ref, struct errbuf *err)
{
    struct pricing_result *cost = &ref->method[PRICING_COST];
    struct pricing_result *income = &ref->method[PRICING_INCOME];
    if (!has_inputs) {
        method_unavailable(cost, "the provider declared no cost inputs", "");
        method_unavailable(income, "the provider declared no income inputs", "");
        return ERR_OK;
    }
    if (strcmp(in->currency, currency) != 0) {
        method_unavailable(cost, "the declared inputs are in ", in->currency);
        method_unavailable(income, "the declared inputs are in ", in->currency);
        return ERR_OK;
    }
    enum err rc = ERR_OK;
    if (in->has_cost) {
        struct pricing_cost_inputs ci = {in->collection, in->processing, in->storage, in->labour,
                                         in->margin_bp};
        rc = pricing_cost(&ci, cost, err);
    } else {
        method_unavailable(cost, "the provider declared no cost inputs", "");
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (!in->has_income) {
        method_unavailable(income, "the provider declared no income inputs", "");
        return ERR_OK;
    }
    struct pricing_income_inputs ii = {in->benefit_per_period, in->periods, in->discount_rate_bp};
    if (term_days > 0) {
        enum pricing_period period = PRICING_PERIOD_MONTH;
        (void)pricing_period_parse(in->period, &period);
        ii.periods = pricing_periods(term_days, pricing_period_days(period));
        ii.periods = ii.periods > PRICING_PERIODS_MAX ? PRICING_PERIODS_MAX : ii.periods;
    }
    return pricing_income(&ii, income, err);
}

/* Computes the reference of product p (visibility already checked). */
static enum err reference_compute(struct core *c, const struct store_product *p,
                                  const char *currency, int64_t term_days,
                                  struct core_reference *out, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->product_id, sizeof(out->product_id), "%s", p->id);
    snprintf(out->category, sizeof(out->category), "%s", p->category);
    snprintf(out->kind, sizeof(out->kind), "%s", p->kind);
    out->term_days = term_days;
    struct store_pricing_inputs in;
    struct errbuf local;
    errbuf_init(&local);
    enum err rc = store_pricing_inputs_get(c->store, p->id, &in, &local);
    if (rc != ERR_OK && rc != ERR_NOT_FOUND) {
        return err_set(err, rc, "", "%s", local.msg);
    }
    int has_inputs = rc == ERR_OK;
    out->inputs_version = has_inputs ? in.version : 0;
    if (currency == NULL) {
        currency = has_inputs ? in.currency : "CNY";
    }
    snprintf(out->ref.currency, sizeof(out->ref.currency), "%s", currency);
    rc = reference_declared(&in, has_inputs, out->ref.currency, term_days, &out->ref, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = core__market_method(c, out, err);
    if (rc == ERR_OK) {
        pricing_corridor(&out->ref);
    }
    return rc;
}

enum err core_price_reference(struct core *c, const struct core_principal *who,
                              const char *product_id, const char *currency, int64_t term_days,
                              struct core_reference *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (currency != NULL) {
        enum err rc = clearing_currency_check(currency, "currency", err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    if (term_days < 0 || term_days > CORE_TERM_DAYS_MAX) {
        return err_set(err, ERR_INVALID, "term_days", "'term_days' must be 1 to %d",
                       CORE_TERM_DAYS_MAX);
    }
    struct store_product p;
    enum err rc = product_for(c, who, product_id, 0, &p, err);
    return rc == ERR_OK ? reference_compute(c, &p, currency, term_days, out, err) : rc;
}

/* ---- the price model ---- */

static enum err tiers_parse(const json_t *price, struct pricing_offer *o, struct errbuf *err)
{
    static const char *const names[] = {"name", "qps", "price", NULL};
    const json_t *tiers = json_object_get(price, "tiers");
    if (!json_is_array(tiers) || json_array_size(tiers) < 1 ||
        json_array_size(tiers) > PRICING_TIERS_MAX) {
        return err_set(err, ERR_INVALID, "price.tiers",
                       "'price.tiers' must be an array of 1 to %d tiers", PRICING_TIERS_MAX);
    }
    for (size_t i = 0; i < json_array_size(tiers); i++) {
        const json_t *t = json_array_get(tiers, i);
        char prefix[48];
        snprintf(prefix, sizeof(prefix), "price.tiers[%zu].", i);
        if (!json_is_object(t)) {
            return err_set(err, ERR_INVALID, "price.tiers", "each tier is an object");
        }
        struct pricing_tier *tier = &o->tiers[i];
        const char *name = NULL;
        enum err rc = only_members(t, prefix, names, err);
        if (rc == ERR_OK) {
            rc = core__json_text(t, prefix, "name", 32, 1, &name, err);
        }
        if (rc == ERR_OK) {
            rc = core__json_int(t, prefix, "qps", 1, PRICING_QPS_MAX, 1, &tier->qps, err);
        }
        if (rc == ERR_OK) {
            rc = core__json_int(t, prefix, "price", 1, PRICING_AMOUNT_MAX, 1, &tier->price, err);
        }
        if (rc == ERR_OK && strlen(name) >= sizeof(tier->name)) {
            rc = err_set(err, ERR_INVALID, "price.tiers", "tier %zu's name is too long", i);
        }
        if (rc == ERR_OK && i > 0 && tier->qps <= o->tiers[i - 1].qps) {
            rc = err_set(err, ERR_INVALID, "price.tiers",
                         "tiers are listed by increasing qps (tier %zu)", i);
        }
        for (size_t j = 0; rc == ERR_OK && j < i; j++) {
            if (strcmp(o->tiers[j].name, name) == 0) {
                rc = err_set(err, ERR_INVALID, "price.tiers", "tier name '%s' is repeated", name);
            }
        }
        if (rc != ERR_OK) {
            return rc;
        }
        snprintf(tier->name, sizeof(tier->name), "%s", name);
        o->tier_count = i + 1;
    }
    const char *period = json_string_value(json_object_get(price, "period"));
    if (pricing_period_parse(period, &o->period) != ERR_OK) {
        return err_set(err, ERR_INVALID, "price.period", "'price.period' must be month or year");
    }
    return ERR_OK;
}

/* The model's own members: allowed names and the parse of each. */
static enum err model_parse(const json_t *price, struct pricing_offer *o, int64_t now_ms,
                            struct errbuf *err)
{
    static const char *const fixed[] = {"model", "currency", "amount", NULL};
    static const char *const negotiable[] = {"model", "currency", "ask", "floor", NULL};
    static const char *const subscription[] = {"model", "currency", "period", "tiers", NULL};
    static const char *const per_call[] = {"model", "currency", "price_per_call", "monthly_minimum",
                                           NULL};
    static const char *const auction[] = {"model", "currency", "reserve", "deadline", NULL};
    static const char *const *const allowed[PRICING_MODEL__COUNT] = {
        fixed, negotiable, subscription, per_call, auction};
    const int64_t max = PRICING_AMOUNT_MAX;
    enum err rc = only_members(price, "price.", allowed[o->model], err);
    if (rc != ERR_OK) {
        return rc;
    }
    switch (o->model) {
    case PRICING_MODEL_FIXED:
        return core__json_int(price, "price.", "amount", 1, max, 1, &o->amount, err);
    case PRICING_MODEL_NEGOTIABLE:
        rc = core__json_int(price, "price.", "ask", 1, max, 1, &o->amount, err);
        if (rc == ERR_OK) {
            rc = core__json_int(price, "price.", "floor", 1, o->amount, 0, &o->floor, err);
        }
        return rc;
    case PRICING_MODEL_SUBSCRIPTION:
        return tiers_parse(price, o, err);
    case PRICING_MODEL_PER_CALL:
        rc = core__json_int(price, "price.", "price_per_call", 1, max, 1, &o->amount, err);
        if (rc == ERR_OK) {
            rc = core__json_int(price, "price.", "monthly_minimum", 1, max, 0, &o->monthly_minimum,
                                err);
        }
        return rc;
    default: {
        ASSERT(o->model == PRICING_MODEL_AUCTION);
        rc = core__json_int(price, "price.", "reserve", 1, max, 1, &o->amount, err);
        const char *deadline = json_string_value(json_object_get(price, "deadline"));
        if (rc == ERR_OK &&
            (deadline == NULL || clock_parse_rfc3339(deadline, &o->deadline_ms) != ERR_OK)) {
            rc = err_set(err, ERR_INVALID, "price.deadline",
                         "'price.deadline' must be an RFC 3339 UTC time");
        }
        if (rc == ERR_OK && (o->deadline_ms <= now_ms ||
                             o->deadline_ms > now_ms + CORE_AUCTION_DAYS_MAX * DAY_MS)) {
            rc = err_set(err, ERR_INVALID, "price.deadline",
                         "an auction closes in the future, within %d days", CORE_AUCTION_DAYS_MAX);
        }
        return rc;
    }
    }
}

static enum err price_parse(const json_t *price, int64_t now_ms, struct pricing_offer *o,
                            struct errbuf *err)
{
    memset(o, 0, sizeof(*o));
    const char *model = json_string_value(json_object_get(price, "model"));
    if (pricing_model_parse(model, &o->model) != ERR_OK) {
        return err_set(err, ERR_INVALID, "price.model",
                       "'price.model' must be fixed, negotiable, subscription, per_call or "
                       "auction");
    }
    const char *currency = json_string_value(json_object_get(price, "currency"));
    enum err rc = clearing_currency_check(currency, "price.currency", err);
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(o->currency, sizeof(o->currency), "%s", currency);
    return model_parse(price, o, now_ms, err);
}

json_t *core__offer_json(const struct pricing_offer *o)
{
    json_t *j =
        json_pack("{s:s, s:s}", "model", pricing_model_name(o->model), "currency", o->currency);
    if (j == NULL) {
        return NULL;
    }
    int bad = 0;
    switch (o->model) {
    case PRICING_MODEL_FIXED:
        bad |= json_object_set_new(j, "amount", json_integer(o->amount));
        break;
    case PRICING_MODEL_NEGOTIABLE:
        bad |= json_object_set_new(j, "ask", json_integer(o->amount));
        if (o->floor > 0) {
            bad |= json_object_set_new(j, "floor", json_integer(o->floor));
        }
        break;
    case PRICING_MODEL_SUBSCRIPTION: {
        json_t *tiers = json_array();
        for (size_t i = 0; tiers != NULL && i < o->tier_count; i++) {
            bad |=
                json_array_append_new(tiers, json_pack("{s:s, s:I, s:I}", "name", o->tiers[i].name,
                                                       "qps", (json_int_t)o->tiers[i].qps, "price",
                                                       (json_int_t)o->tiers[i].price));
        }
        bad |= json_object_set_new(j, "period", json_string(pricing_period_name(o->period)));
        bad |= tiers == NULL || json_object_set_new(j, "tiers", tiers);
        break;
    }
    case PRICING_MODEL_PER_CALL:
        bad |= json_object_set_new(j, "price_per_call", json_integer(o->amount));
        if (o->monthly_minimum > 0) {
            bad |= json_object_set_new(j, "monthly_minimum", json_integer(o->monthly_minimum));
        }
        break;
    default: {
        char deadline[CLOCK_RFC3339_LEN];
        clock_format_rfc3339(o->deadline_ms, deadline);
        bad |= json_object_set_new(j, "reserve", json_integer(o->amount));
        bad |= json_object_set_new(j, "deadline", json_string(deadline));
        break;
    }
    }
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- licence terms ---- */

struct terms {
    const char *purpose;
    int64_t term_days;
    const json_t *territory; /* "worldwide" or an array of codes */
    int worldwide;
    int foreign; /* reaches beyond CN */
    const char *redistribution;
    int exclusive;
    int64_t delivery; /* bit set */
};

static enum err territory_parse(const json_t *t, struct terms *out, struct errbuf *err)
{
    out->territory = t;
    if (json_is_string(t) && strcmp(json_string_value(t), "worldwide") == 0) {
        out->worldwide = 1;
        out->foreign = 1;
        return ERR_OK;
    }
    if (!json_is_array(t) || json_array_size(t) < 1 || json_array_size(t) > CORE_TERRITORIES_MAX) {
        return err_set(err, ERR_INVALID, "terms.territory",
                       "'terms.territory' is \"worldwide\" or an array of 1 to %d ISO 3166-1 "
                       "alpha-2 codes",
                       CORE_TERRITORIES_MAX);
    }
    for (size_t i = 0; i < json_array_size(t); i++) {
        const char *code = json_string_value(json_array_get(t, i));
        if (code == NULL || strlen(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' ||
            code[1] > 'Z') {
            return err_set(err, ERR_INVALID, "terms.territory",
                           "territory %zu is not an ISO 3166-1 alpha-2 code such as CN", i);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(code, json_string_value(json_array_get(t, j))) == 0) {
                return err_set(err, ERR_INVALID, "terms.territory", "territory '%s' is repeated",
                               code);
            }
        }
        out->foreign |= strcmp(code, "CN") != 0;
    }
    return ERR_OK;
}

static enum err delivery_parse(const json_t *d, int64_t *mask, struct errbuf *err)
{
    *mask = 0;
    if (!json_is_array(d) || json_array_size(d) < 1 || json_array_size(d) > CORE_DELIVERY__COUNT) {
        return err_set(err, ERR_INVALID, "terms.delivery",
                       "'terms.delivery' must list file, api or compute");
    }
    for (size_t i = 0; i < json_array_size(d); i++) {
        const char *name = json_string_value(json_array_get(d, i));
        unsigned bit = 0;
        while (bit < CORE_DELIVERY__COUNT && (name == NULL || strcmp(delivery_names[bit], name))) {
            bit++;
        }
        if (bit == CORE_DELIVERY__COUNT || (*mask & (1 << bit)) != 0) {
            return err_set(err, ERR_INVALID, "terms.delivery",
                           "delivery %zu must be file, api or compute, each once", i);
        }
        *mask |= 1 << bit;
    }
    return ERR_OK;
}

static enum err terms_parse(const json_t *t, struct terms *out, struct errbuf *err)
{
    static const char *const names[] = {"purpose",   "term_days", "territory", "redistribution",
                                        "exclusive", "delivery",  NULL};
    memset(out, 0, sizeof(*out));
    enum err rc = only_members(t, "terms.", names, err);
    if (rc == ERR_OK) {
        rc = core__json_text(t, "terms.", "purpose", CORE_PURPOSE_CHARS_MAX, 1, &out->purpose, err);
    }
    if (rc == ERR_OK) {
        rc = core__json_int(t, "terms.", "term_days", 1, CORE_TERM_DAYS_MAX, 1, &out->term_days,
                            err);
    }
    if (rc == ERR_OK) {
        rc = territory_parse(json_object_get(t, "territory"), out, err);
    }
    out->redistribution = json_string_value(json_object_get(t, "redistribution"));
    if (rc == ERR_OK &&
        !name_in(out->redistribution, redistributions, ARRAY_LEN(redistributions))) {
        rc = err_set(err, ERR_INVALID, "terms.redistribution",
                     "'terms.redistribution' must be none, internal or with_attribution");
    }
    const json_t *exclusive = json_object_get(t, "exclusive");
    if (rc == ERR_OK && !json_is_boolean(exclusive)) {
        rc =
            err_set(err, ERR_INVALID, "terms.exclusive", "'terms.exclusive' must be true or false");
    }
    out->exclusive = json_is_true(exclusive);
    if (rc == ERR_OK) {
        rc = delivery_parse(json_object_get(t, "delivery"), &out->delivery, err);
    }
    return rc;
}

static json_t *terms_json(const struct terms *t)
{
    json_t *delivery = json_array();
    for (unsigned bit = 0; delivery != NULL && bit < CORE_DELIVERY__COUNT; bit++) {
        if ((t->delivery >> bit) & 1) {
            json_array_append_new(delivery, json_string(delivery_names[bit]));
        }
    }
    return json_pack("{s:s, s:I, s:O, s:s, s:b, s:o*}", "purpose", t->purpose, "term_days",
                     (json_int_t)t->term_days, "territory", t->territory, "redistribution",
                     t->redistribution, "exclusive", t->exclusive, "delivery", delivery);
}

/* ---- listing ---- */

/* Everything a new listing is made of, gathered before the transaction writes. */
struct draft {
    struct store_revision rev;
    struct store_entity provider;
    struct pricing_offer offer;
    struct terms terms;
    const char *board;
    char buyers[STORE_LISTING_BUYERS_MAX][ID_MAX];
    size_t buyer_count;
    struct core_reference reference;
    struct core_listable gate;
};

static enum err buyers_parse(struct core *c, const struct core_principal *who, const json_t *b,
                             struct draft *d, struct errbuf *err)
{
    if (b == NULL || json_is_null(b)) {
        return ERR_OK;
    }
    if (!json_is_array(b) || json_array_size(b) < 1 ||
        json_array_size(b) > STORE_LISTING_BUYERS_MAX) {
        return err_set(err, ERR_INVALID, "buyers",
                       "'buyers' must name 1 to %d entities (or be left out for a public listing)",
                       STORE_LISTING_BUYERS_MAX);
    }
    for (size_t i = 0; i < json_array_size(b); i++) {
        char field[32];
        snprintf(field, sizeof(field), "buyers[%zu]", i);
        const char *id = json_string_value(json_array_get(b, i));
        if (!id_valid(id, "ent")) {
            return err_set(err, ERR_INVALID, field, "'%s' is not an entity id", field);
        }
        for (size_t j = 0; j < d->buyer_count; j++) {
            if (strcmp(d->buyers[j], id) == 0) {
                return err_set(err, ERR_INVALID, field, "buyer '%s' is named twice", id);
            }
        }
        struct store_entity e;
        enum err rc = store_entity_get(c->store, id, &e, err);
        if (rc == ERR_NOT_FOUND) {
            return err_set(err, ERR_NOT_FOUND, field, "no entity '%s'", id);
        }
        if (rc != ERR_OK) {
            return rc;
        }
        if (strcmp(e.status, "verified") != 0 || strcmp(e.id, who->id) == 0 ||
            (strcmp(e.kind, "buyer") != 0 && strcmp(e.kind, "broker") != 0)) {
            return err_set(err, ERR_INVALID, field,
                           "'%s' is not a verified buyer or broker other than you", id);
        }
        snprintf(d->buyers[d->buyer_count++], ID_MAX, "%s", id);
    }
    return ERR_OK;
}

/* "missing assessment compliance, right operation" from a gate's answer. */
static void missing_text(const struct core_listable *l, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < l->missing_count; i++) {
        const struct core_missing *m = &l->missing[i];
        int n = snprintf(out + used, cap - used, "%s%s%s%s", i > 0 ? ", " : "", m->item,
                         m->kind[0] != '\0' ? " " : "", m->kind);
        if (n < 0 || (size_t)n >= cap - used) {
            break;
        }
        used += (size_t)n;
    }
}

/* The gates: listable, and across the border when the listing goes there. */
static enum err gates_check(struct core *c, const struct core_principal *who, struct draft *d,
                            struct errbuf *err)
{
    char text[200];
    enum err rc = core_product_listable(c, d->rev.id, &d->gate, err);
    if (rc == ERR_OK && !d->gate.listable) {
        missing_text(&d->gate, text, sizeof(text));
        return err_set(err, ERR_BAD_STATE, "revision_id",
                       "revision '%s' may not be listed: missing %s", d->rev.id, text);
    }
    int cross = strcmp(d->board, "international") == 0 || d->terms.foreign;
    if (rc != ERR_OK || !cross) {
        return rc;
    }
    rc = core_revision_cross_border(c, d->rev.id, &d->gate, err);
    if (rc == ERR_OK && !d->gate.listable) {
        missing_text(&d->gate, text, sizeof(text));
        return err_set(err, ERR_BAD_STATE, "revision_id",
                       "revision '%s' may not be offered across the border: missing %s", d->rev.id,
                       text);
    }
    int active = 0;
    if (rc == ERR_OK) {
        rc = core_cert_active(c, who->id, CORE_CERT_CROSS_BORDER, &active, err);
    }
    if (rc == ERR_OK && !active) {
        rc = err_set(err, ERR_FORBIDDEN, "board",
                     "the international board and territories beyond CN need an active "
                     "cross_border certificate");
    }
    return rc;
}

/* Validates the request into d. */
static enum err draft_build(struct core *c, const struct core_principal *who, const json_t *body,
                            int64_t now_ms, struct draft *d, struct errbuf *err)
{
    static const char *const names[] = {"revision_id", "board", "price", "terms", "buyers", NULL};
    if (!json_is_object(body)) {
        return err_set(err, ERR_INVALID, "", "the listing must be a JSON object");
    }
    const json_t *price = NULL, *terms = NULL;
    enum err rc = only_members(body, "", names, err);
    if (rc == ERR_OK) {
        rc = object_member(body, "price", 1, &price, err);
    }
    if (rc == ERR_OK) {
        rc = object_member(body, "terms", 1, &terms, err);
    }
    d->board = json_string_value(json_object_get(body, "board"));
    d->board = d->board != NULL || json_object_get(body, "board") != NULL ? d->board : "main";
    if (rc == ERR_OK && !name_in(d->board, boards, ARRAY_LEN(boards))) {
        rc = err_set(err, ERR_INVALID, "board", "'board' must be main or international");
    }
    if (rc == ERR_OK) {
        rc = price_parse(price, now_ms, &d->offer, err);
    }
    if (rc == ERR_OK) {
        rc = terms_parse(terms, &d->terms, err);
    }
    if (rc == ERR_OK && d->offer.model == PRICING_MODEL_AUCTION && !d->terms.exclusive) {
        rc = err_set(err, ERR_INVALID, "terms.exclusive", "an auction sells an exclusive licence");
    }
    if (rc == ERR_OK) {
        rc = core__revision_visible(c, who, json_string_value(json_object_get(body, "revision_id")),
                                    &d->rev, err);
    }
    if (rc == ERR_OK && strcmp(d->rev.provider_id, who->id) != 0) {
        rc = err_set(err, ERR_FORBIDDEN, "revision_id", "only the product's provider lists it");
    }
    if (rc == ERR_OK) {
        rc = buyers_parse(c, who, json_object_get(body, "buyers"), d, err);
    }
    if (rc == ERR_OK) {
        rc = gates_check(c, who, d, err);
    }
    if (rc == ERR_OK) {
        rc = store_entity_get(c->store, who->id, &d->provider, err);
    }
    return rc;
}

/* The search document's body: what a buyer might type to find the listing. */
static enum err doc_body(const struct draft *d, struct buf *out)
{
    json_t *md = json_loads(d->rev.metadata, 0, NULL);
    const char *description = json_string_value(json_object_get(md, "description"));
    size_t n = 0;
    const struct core_category *cats = core_categories(&n);
    enum err rc = buf_appendf(out, "%s\n", description != NULL ? description : "");
    for (size_t i = 0; i < n && rc == ERR_OK; i++) {
        if (strcmp(cats[i].code, d->rev.category) == 0) {
            rc = buf_appendf(out, "%s %s\n", cats[i].label_zh, cats[i].label_en);
        }
    }
    const json_t *uses = json_object_get(md, "use_cases");
    for (size_t i = 0; i < json_array_size(uses) && rc == ERR_OK; i++) {
        rc = buf_appendf(out, "%s\n", json_string_value(json_array_get(uses, i)));
    }
    if (rc == ERR_OK) {
        rc = buf_appendf(out, "%s", d->provider.name);
    }
    json_decref(md);
    return rc;
}

/* Fills the listing row from the draft (everything but the log index and docid). */
static enum err listing_fill(struct core *c, const struct draft *d, int64_t now_ms,
                             struct store_listing *l, struct errbuf *err)
{
    id_new(c->rng, "lst", l->id);
    snprintf(l->product_id, sizeof(l->product_id), "%s", d->rev.product_id);
    snprintf(l->revision_id, sizeof(l->revision_id), "%s", d->rev.id);
    snprintf(l->provider_id, sizeof(l->provider_id), "%s", d->rev.provider_id);
    snprintf(l->status, sizeof(l->status), "active");
    snprintf(l->board, sizeof(l->board), "%s", d->board);
    snprintf(l->title, sizeof(l->title), "%s", d->rev.title);
    snprintf(l->category, sizeof(l->category), "%s", d->rev.category);
    snprintf(l->kind, sizeof(l->kind), "%s", d->rev.kind);
    snprintf(l->classification, sizeof(l->classification), "%s", d->rev.classification);
    snprintf(l->price_model, sizeof(l->price_model), "%s", pricing_model_name(d->offer.model));
    snprintf(l->currency, sizeof(l->currency), "%s", d->offer.currency);
    l->delivery = d->terms.delivery;
    l->private_offer = d->buyer_count > 0;
    l->created_ms = now_ms;
    l->updated_ms = now_ms;
    int known = 0;
    enum err rc = pricing_headline(&d->offer, d->terms.term_days, &l->price, &known, err);
    if (rc != ERR_OK) {
        return rc;
    }
    l->price = known ? l->price : -1;
    const struct pricing_reference *ref = &d->reference.ref;
    l->ref_low = ref->corridor_available ? ref->corridor_low : -1;
    l->ref_high = ref->corridor_available ? ref->corridor_high : -1;
    snprintf(l->ref_basis, sizeof(l->ref_basis), "%s", ref->corridor_basis);
    enum pricing_flag flag = PRICING_FLAG_NONE;
    if (known && ref->corridor_available) {
        flag = pricing_flag_of(l->price, ref->corridor_low, ref->corridor_high);
    }
    snprintf(l->price_flag, sizeof(l->price_flag), "%s", pricing_flag_name(flag));
    json_t *offer = core__offer_json(&d->offer);
    json_t *terms = terms_json(&d->terms);
    l->price_json = offer != NULL ? core__canonical(offer) : NULL;
    l->terms_json = terms != NULL ? core__canonical(terms) : NULL;
    json_decref(offer);
    json_decref(terms);
    return l->price_json != NULL && l->terms_json != NULL
               ? ERR_OK
               : err_set(err, ERR_NOMEM, "", "out of memory");
}

/* SHA-256 of buyers (sorted ids joined by ",") for a private offer's event. */
static void buyers_digest(const struct draft *d, char out[STORE_HASH_HEX_MAX])
{
    char sorted[STORE_LISTING_BUYERS_MAX][ID_MAX];
    memcpy(sorted, d->buyers, sizeof(sorted));
    for (size_t i = 1; i < d->buyer_count; i++) {
        for (size_t j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
            char t[ID_MAX];
            memcpy(t, sorted[j], ID_MAX);
            memcpy(sorted[j], sorted[j - 1], ID_MAX);
            memcpy(sorted[j - 1], t, ID_MAX);
        }
    }
    char joined[STORE_LISTING_BUYERS_MAX * ID_MAX];
    size_t used = 0;
    for (size_t i = 0; i < d->buyer_count; i++) {
        used += (size_t)snprintf(joined + used, sizeof(joined) - used, "%s%s", i > 0 ? "," : "",
                                 sorted[i]);
    }
    core__sha256_hex(joined, used, out);
}

static json_t *listing_event_body(const struct store_listing *l, const struct draft *d)
{
    json_t *reference = l->ref_low >= 0
                            ? json_pack("{s:I, s:I, s:s}", "low", (json_int_t)l->ref_low, "high",
                                        (json_int_t)l->ref_high, "basis", l->ref_basis)
                            : json_null();
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o*, s:s, s:s, s:b}",
                          "listing_id", l->id, "product_id", l->product_id, "revision_id",
                          l->revision_id, "provider_id", l->provider_id, "board", l->board, "title",
                          l->title, "category", l->category, "kind", l->kind, "currency",
                          l->currency, "reference", reference, "price_model", l->price_model,
                          "price_flag", l->price_flag, "private", (int)l->private_offer);
    if (o == NULL) {
        return NULL;
    }
    int bad = 0;
    if (!l->private_offer) {
        bad |= json_object_set_new(o, "headline_price",
                                   l->price >= 0 ? json_integer(l->price) : json_null());
        bad |= json_object_set_new(o, "price", json_loads(l->price_json, 0, NULL));
        bad |= json_object_set_new(o, "terms", json_loads(l->terms_json, 0, NULL));
    } else {
        /* The log is public; a private offer commits to its terms and buyers by hash. */
        char offer_sha[STORE_HASH_HEX_MAX], buyers_sha[STORE_HASH_HEX_MAX];
        char *both = mem_alloc(strlen(l->price_json) + strlen(l->terms_json) + 2);
        if (both == NULL) {
            json_decref(o);
            return NULL;
        }
        size_t n = (size_t)snprintf(both, strlen(l->price_json) + strlen(l->terms_json) + 2,
                                    "%s\n%s", l->price_json, l->terms_json);
        core__sha256_hex(both, n, offer_sha);
        mem_free(both);
        buyers_digest(d, buyers_sha);
        bad |= json_object_set_new(o, "offer_sha256", json_string(offer_sha));
        bad |= json_object_set_new(o, "buyers_sha256", json_string(buyers_sha));
        bad |= json_object_set_new(o, "buyers", json_integer((json_int_t)d->buyer_count));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Writes the listing, its document and its event; matches it against open demands. */
static enum err listing_record(struct core *c, const struct core_principal *who,
                               const struct draft *d, struct store_listing *l, size_t *matched,
                               struct errbuf *err)
{
    int64_t active = 0;
    enum err rc = ERR_OK;
    if (!l->private_offer) {
        rc = store_listing_count_active(c->store, l->product_id, l->board, &active, err);
    }
    if (rc == ERR_OK && active > 0) {
        return err_set(err, ERR_CONFLICT, "revision_id",
                       "the product already has an active listing on the %s board: delist it "
                       "first",
                       l->board);
    }
    json_t *body = rc == ERR_OK ? listing_event_body(l, d) : NULL;
    if (rc == ERR_OK && body == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK) {
        rc = store_event_append(c->store, "listing.created", who->id, l->id, l->created_ms, body,
                                &l->log_index, err);
    }
    json_decref(body);
    if (rc != ERR_OK) {
        return rc;
    }
    l->docid = l->log_index;
    struct buf doc_text;
    buf_init(&doc_text, 64 * 1024);
    rc = doc_body(d, &doc_text);
    if (rc != ERR_OK) {
        buf_release(&doc_text);
        return err_set(err, rc, "", "cannot build the search document");
    }
    struct store_listing_doc doc = {l->title, doc_text.data};
    rc = store_listing_insert(c->store, l, (const char(*)[ID_MAX])d->buyers, d->buyer_count, &doc,
                              err);
    buf_release(&doc_text);
    if (rc == ERR_OK) {
        rc = core__listing_match_demands(c, who, l, (const char(*)[ID_MAX])d->buyers,
                                         d->buyer_count, matched, err);
    }
    return rc;
}

enum err core_listing_create(struct core *c, const struct core_principal *who, const json_t *body,
                             struct store_listing *out, size_t *matched, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL && matched != NULL);
    memset(out, 0, sizeof(*out));
    *matched = 0;
    enum err rc = seller_check(c, who, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct draft *d = mem_calloc(1, sizeof(*d));
    if (d == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    int64_t now = clock_now(c->clock);
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        mem_free(d);
        return rc;
    }
    rc = draft_build(c, who, body, now, d, err);
    if (rc == ERR_OK) {
        struct store_product p;
        rc = store_product_get(c->store, d->rev.product_id, &p, err);
        if (rc == ERR_OK) {
            rc =
                reference_compute(c, &p, d->offer.currency, d->terms.term_days, &d->reference, err);
        }
    }
    if (rc == ERR_OK) {
        rc = listing_fill(c, d, now, out, err);
    }
    if (rc == ERR_OK) {
        rc = listing_record(c, who, d, out, matched, err);
    }
    store_revision_release(&d->rev);
    mem_free(d);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        store_listing_release(out);
        *matched = 0;
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc != ERR_OK) {
        store_listing_release(out);
        *matched = 0;
    }
    return rc;
}

int core_listing_owner_view(const struct core_principal *who, const struct store_listing *l)
{
    return core__supervisor(who) || (who->id[0] != '\0' && strcmp(who->id, l->provider_id) == 0);
}

enum err core__listing_visible(struct core *c, const struct core_principal *who,
                               const struct store_listing *l, struct errbuf *err)
{
    if (!l->private_offer || core_listing_owner_view(who, l)) {
        return ERR_OK;
    }
    int named = 0;
    if (who->id[0] != '\0') {
        enum err rc = store_listing_buyer_named(c->store, l->id, who->id, &named, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return named ? ERR_OK : err_set(err, ERR_NOT_FOUND, "id", "no listing '%s'", l->id);
}

enum err core_listing_get(struct core *c, const struct core_principal *who, const char *id_in,
                          struct store_listing *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (!id_valid(id_in, "lst")) {
        memset(out, 0, sizeof(*out));
        return err_set(err, ERR_INVALID, "id", "'%s' is not a listing id",
                       id_in != NULL ? id_in : "");
    }
    char id[ID_MAX]; /* id_in may point into out */
    snprintf(id, sizeof(id), "%s", id_in);
    memset(out, 0, sizeof(*out));
    enum err rc = store_listing_get(c->store, id, out, err);
    if (rc == ERR_OK) {
        rc = core__listing_visible(c, who, out, err);
    }
    if (rc != ERR_OK) {
        store_listing_release(out);
    }
    return rc;
}

enum err core_listing_delist(struct core *c, const struct core_principal *who, const char *id_in,
                             const char *reason, struct store_listing *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    char id[ID_MAX]; /* id_in may point into out */
    snprintf(id, sizeof(id), "%s", id_in != NULL ? id_in : "");
    enum err rc = core__text_check("reason", reason, CORE_REASON_CHARS_MAX, 0, err);
    if (rc != ERR_OK) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    rc = core_listing_get(c, who, id, out, err);
    int operator= who->kind == CORE_KIND_OPERATOR;
    if (rc == ERR_OK &&
        !operator&&(strcmp(out->provider_id, who->id) != 0 || !core_principal_active(who))) {
        rc = err_set(err, ERR_FORBIDDEN, "id",
                     "only the listing's provider or the operator delists");
    }
    if (rc == ERR_OK && strcmp(out->status, "active") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "id", "listing '%s' is %s already", out->id, out->status);
    }
    json_t *body = NULL;
    if (rc == ERR_OK) {
        int64_t now = clock_now(c->clock);
        snprintf(out->status, sizeof(out->status), "delisted");
        snprintf(out->delist_reason, sizeof(out->delist_reason), "%s",
                 reason != NULL ? reason : "");
        out->updated_ms = now;
        out->delisted_ms = now;
        body = json_pack("{s:s, s:s, s:s, s:s*}", "listing_id", out->id, "provider_id",
                         out->provider_id, "status", out->status, "reason",
                         reason != NULL && reason[0] != '\0' ? reason : NULL);
        rc = body != NULL ? store_event_append(c->store, "listing.delisted", who->id, out->id, now,
                                               body, &out->log_index, err)
                          : err_set(err, ERR_NOMEM, "", "out of memory");
    }
    json_decref(body);
    if (rc == ERR_OK) {
        rc = store_listing_update_status(c->store, out, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        store_listing_release(out);
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc != ERR_OK) {
        store_listing_release(out);
    }
    return rc;
}

/* ---- the catalogue ---- */

static enum err search_filters_check(const struct core_listing_search *s, int64_t *delivery,
                                     struct errbuf *err)
{
    enum core_product_kind k;
    enum core_classification cl;
    enum err rc = core__text_check("q", s->q, CORE_QUERY_CHARS_MAX, 0, err);
    if (rc == ERR_OK && s->category != NULL && !core__category_known(s->category)) {
        rc = err_set(err, ERR_INVALID, "category", "unknown category '%s'", s->category);
    }
    if (rc == ERR_OK && s->kind != NULL && core_product_kind_parse(s->kind, &k) != ERR_OK) {
        rc = err_set(err, ERR_INVALID, "kind", "unknown product kind '%s'", s->kind);
    }
    if (rc == ERR_OK && s->classification != NULL &&
        core_classification_parse(s->classification, &cl) != ERR_OK) {
        rc = err_set(err, ERR_INVALID, "classification", "unknown classification '%s'",
                     s->classification);
    }
    if (rc == ERR_OK && s->board != NULL && !name_in(s->board, boards, ARRAY_LEN(boards))) {
        rc = err_set(err, ERR_INVALID, "board", "board must be main or international");
    }
    if (rc == ERR_OK && s->provider_id != NULL && !id_valid(s->provider_id, "ent")) {
        rc = err_set(err, ERR_INVALID, "provider", "'%s' is not an entity id", s->provider_id);
    }
    if (rc == ERR_OK && s->currency != NULL) {
        rc = clearing_currency_check(s->currency, "currency", err);
    }
    *delivery = 0;
    for (unsigned bit = 0; rc == ERR_OK && s->delivery != NULL && bit < CORE_DELIVERY__COUNT;
         bit++) {
        *delivery |= strcmp(s->delivery, delivery_names[bit]) == 0 ? 1 << bit : 0;
    }
    if (rc == ERR_OK && s->delivery != NULL && *delivery == 0) {
        rc = err_set(err, ERR_INVALID, "delivery", "delivery must be file, api or compute");
    }
    if (rc == ERR_OK && (s->price_min >= 0 || s->price_max >= 0) && s->currency == NULL) {
        rc = err_set(err, ERR_INVALID, "currency", "a price range needs a currency");
    }
    if (rc == ERR_OK && s->price_min >= 0 && s->price_max >= 0 && s->price_min > s->price_max) {
        rc = err_set(err, ERR_INVALID, "price_min", "price_min is above price_max");
    }
    return rc;
}

enum err core_listing_search(struct core *c, const struct core_principal *who,
                             const struct core_listing_search *s, struct store_listing_results *out,
                             struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && s != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    int64_t delivery = 0;
    enum err rc = search_filters_check(s, &delivery, err);
    const char *status = s->status != NULL ? s->status : "active";
    if (rc == ERR_OK && strcmp(status, "active") != 0 && strcmp(status, "delisted") != 0 &&
        strcmp(status, "all") != 0) {
        rc = err_set(err, ERR_INVALID, "status", "status must be active, delisted or all");
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_listing_query q = {
        .text = s->q != NULL && s->q[0] != '\0' ? s->q : NULL,
        .category = s->category,
        .kind = s->kind,
        .classification = s->classification,
        .board = s->board,
        .provider_id = s->provider_id,
        .currency = s->currency,
        .status = strcmp(status, "all") == 0 ? NULL : status,
        .price_min = s->price_min,
        .price_max = s->price_max,
        .delivery_mask = delivery,
        .viewer_id = who->id,
        .viewer_sees_all = core__supervisor(who),
        .only_docid = -1,
        .cursor = s->cursor,
        .limit = s->limit,
        .candidates_max = STORE_SEARCH_CANDIDATES_MAX,
    };
    return store_listing_search(c->store, &q, out, err);
}
