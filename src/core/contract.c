/*
 * contract.c: digital trading contracts from proposal to activation (core.h, "contracts").
 *
 * A contract is proposed by the trading module with what a trade agreed; the terms it leaves
 * unset are the listing's. Its canonical document (contract_doc.c) is fixed at proposal and
 * never changes: each party signs those bytes on its own machine and the server only checks
 * the signature against the key the party registered, so the exchange can never forge a
 * party's consent. The second signature makes the exchange countersign (with the operator's
 * key, injected as c->operator_signer) and hold the buyer's price in escrow in the same
 * transaction; without funds the signature still stands and activation waits for a retry.
 *
 * Money, delivery and the clock are contract_money.c; disputes dispute.c.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "clearing/clearing.h"
#include "util/banned.h"

#define DAY_MS ((int64_t)86400000)

static const char *const origins[] = {"order", "negotiation", "auction"};
static const char *const redistributions[] = {"none", "internal", "with_attribution"};

static int name_in(const char *name, const char *const *names, size_t count)
{
    for (size_t i = 0; name != NULL && i < count; i++) {
        if (strcmp(names[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- shared helpers (core_int.h) ---- */

const char *core__contract_role(const struct core_principal *who, const struct store_contract *k)
{
    if (who->id[0] == '\0') {
        return NULL;
    }
    if (strcmp(who->id, k->buyer_id) == 0) {
        return "buyer";
    }
    return strcmp(who->id, k->provider_id) == 0 ? "provider" : NULL;
}

enum err core__contract_load(struct core *c, const struct core_principal *who, const char *id,
                             struct store_contract *out, struct errbuf *err)
{
    if (id == NULL || !id_valid(id, "ctr")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not a contract id", id ? id : "");
    }
    /* id may point into out (a caller re-reading its own row): read from a copy. */
    char copy[ID_MAX];
    snprintf(copy, sizeof(copy), "%s", id);
    id = copy;
    enum err rc = store_contract_get(c->store, id, out, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (who->id[0] != '\0' && (core__sees_all(who) || core__contract_role(who, out) != NULL ||
                               core__contract_broker(out, who->id))) {
        return ERR_OK;
    }
    return err_set(err, ERR_NOT_FOUND, "id", "no contract '%s'", id);
}

enum err core__contract_event(struct core *c, const char *actor, struct store_contract *k,
                              const char *type, json_t *body, struct errbuf *err)
{
    ASSERT(store_tx_depth(c->store) > 0);
    if (body == NULL || json_object_set_new(body, "contract_id", json_string(k->id)) != 0 ||
        json_object_set_new(body, "state", json_string(k->state)) != 0) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    int64_t now = clock_now(c->clock);
    int64_t seq = -1;
    enum err rc = store_event_append(c->store, type, actor, k->id, now, body, &seq, err);
    if (rc == ERR_OK) {
        k->updated_ms = now;
        k->log_index = seq;
        rc = store_contract_update(c->store, k, err);
    }
    return rc;
}

void core__clearing(struct core *c, struct clearing *out)
{
    out->store = c->store;
    out->clock = c->clock;
    out->rng = c->rng;
}

/* ---- proposal ---- */

/* Reads a verified entity for a party; ERR_INVALID / ERR_BAD_STATE naming field. */
static enum err party_read(struct core *c, const char *id, const char *field,
                           struct store_entity *out, struct errbuf *err)
{
    if (!id_valid(id, "ent")) {
        return err_set(err, ERR_INVALID, field, "'%s' must be an entity id", field);
    }
    enum err rc = store_entity_get(c->store, id, out, err);
    if (rc == ERR_NOT_FOUND) {
        return err_set(err, ERR_INVALID, field, "no entity '%s'", id);
    }
    if (rc == ERR_OK && strcmp(out->status, "verified") != 0) {
        return err_set(err, ERR_BAD_STATE, field, "entity '%s' is %s, not verified", id,
                       out->status);
    }
    return rc;
}

/* Everything a proposal gathers before it writes. */
struct proposal {
    struct store_listing listing;
    json_t *price;     /* the listing's price model */
    json_t *terms;     /* the listing's licence terms */
    json_t *territory; /* the agreed territory (owned) */
    struct store_revision revision;
    struct store_entity provider;
    struct store_entity buyer;
    struct store_entity brokers[CORE_CONTRACT_BROKERS_MAX];
    int64_t broker_bp[CORE_CONTRACT_BROKERS_MAX];
    struct store_fee_schedule fee;
    int has_fee;
    int64_t pool_bp;
    const char *period; /* periodic: "month" or "year" */
};

static void proposal_release(struct proposal *p)
{
    store_listing_release(&p->listing);
    store_revision_release(&p->revision);
    json_decref(p->price);
    json_decref(p->terms);
    json_decref(p->territory);
}

/* "worldwide" or "CN,HK": the agreed territory as the listing writes it. */
static enum err territory_parse(const char *text, json_t **out, struct errbuf *err)
{
    if (strcmp(text, "worldwide") == 0) {
        *out = json_string("worldwide");
        return *out != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
    }
    json_t *a = json_array();
    const char *p = text;
    enum err rc = a != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
    while (rc == ERR_OK) {
        size_t n = strcspn(p, ",");
        char code[3] = {p[0], n == 2 ? p[1] : '\0', '\0'};
        int ok = n == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z' &&
                 json_array_size(a) < CORE_TERRITORIES_MAX;
        for (size_t i = 0; ok && i < json_array_size(a); i++) {
            ok = strcmp(json_string_value(json_array_get(a, i)), code) != 0;
        }
        if (!ok) {
            rc = err_set(err, ERR_INVALID, "territory",
                         "'territory' is \"worldwide\" or up to %d distinct ISO 3166-1 codes "
                         "separated by commas",
                         CORE_TERRITORIES_MAX);
        } else if (json_array_append_new(a, json_string(code)) != 0) {
            rc = err_set(err, ERR_NOMEM, "", "out of memory");
        }
        if (p[n] == '\0') {
            break;
        }
        p += n + 1;
    }
    if (rc != ERR_OK) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return ERR_OK;
}

/* The listing: active, visible to the buyer, with parsable price and terms. */
static enum err listing_read(struct core *c, const struct core_contract_terms *t,
                             struct proposal *p, struct errbuf *err)
{
    if (!id_valid(t->listing_id, "lst")) {
        return err_set(err, ERR_INVALID, "listing_id", "'listing_id' must be a listing id");
    }
    enum err rc = store_listing_get(c->store, t->listing_id, &p->listing, err);
    if (rc != ERR_OK) {
        return rc == ERR_NOT_FOUND
                   ? err_set(err, ERR_NOT_FOUND, "listing_id", "no listing '%s'", t->listing_id)
                   : rc;
    }
    if (strcmp(p->listing.status, "active") != 0) {
        return err_set(err, ERR_BAD_STATE, "listing_id", "listing '%s' is %s", t->listing_id,
                       p->listing.status);
    }
    if (p->listing.private_offer) {
        int named = 0;
        rc = store_listing_buyer_named(c->store, t->listing_id, t->buyer_id, &named, err);
        if (rc == ERR_OK && !named) {
            return err_set(err, ERR_FORBIDDEN, "buyer_id",
                           "listing '%s' is a private offer that does not name '%s'", t->listing_id,
                           t->buyer_id);
        }
    }
    p->price = json_loads(p->listing.price_json, 0, NULL);
    p->terms = json_loads(p->listing.terms_json, 0, NULL);
    if (rc == ERR_OK && (!json_is_object(p->price) || !json_is_object(p->terms))) {
        rc = err_set(err, ERR_CORRUPT, "", "listing '%s' has malformed terms", t->listing_id);
    }
    return rc;
}

/* Price, currency and the payment plan against the listing's model. */
static enum err payment_check(const struct core_contract_terms *t, struct proposal *p,
                              struct store_contract *k, struct errbuf *err)
{
    if (strcmp(t->currency, p->listing.currency) != 0) {
        return err_set(err, ERR_INVALID, "currency", "the listing is priced in %s, not '%s'",
                       p->listing.currency, t->currency);
    }
    int64_t periods = t->periods == 0 ? 1 : t->periods;
    const char *model = json_string_value(json_object_get(p->price, "model"));
    int periodic = model != NULL && strcmp(model, "subscription") == 0;
    if (periods < 1 || periods > (periodic ? CORE_CONTRACT_PERIODS_MAX : 1)) {
        return err_set(err, ERR_INVALID, "periods", "'periods' must be %s",
                       periodic ? "1 to 120" : "1 for a single payment");
    }
    if (t->price < 1 || t->price > PRICING_AMOUNT_MAX / periods) {
        return err_set(err, ERR_INVALID, "price", "'price' must be a positive amount");
    }
    if (periodic != (t->tier != NULL)) {
        return err_set(err, ERR_INVALID, "tier", "a tier is named %s",
                       periodic ? "for a subscription" : "only for a subscription");
    }
    int found = !periodic;
    const json_t *tiers = json_object_get(p->price, "tiers");
    for (size_t i = 0; periodic && i < json_array_size(tiers); i++) {
        found |= strcmp(json_string_value(json_object_get(json_array_get(tiers, i), "name")),
                        t->tier) == 0;
    }
    if (!found) {
        return err_set(err, ERR_INVALID, "tier", "the listing has no tier '%s'", t->tier);
    }
    p->period = periodic ? json_string_value(json_object_get(p->price, "period")) : NULL;
    snprintf(k->plan, sizeof(k->plan), "%s", periodic ? "periodic" : "single");
    k->price = t->price;
    k->periods = periods;
    k->period_days = !periodic ? 0 : strcmp(p->period, "year") == 0 ? 365 : 30;
    snprintf(k->currency, sizeof(k->currency), "%s", t->currency);
    return ERR_OK;
}

/* The agreed licence terms: the listing's unless the trade set them. */
static enum err licence_check(const struct core_contract_terms *t, struct proposal *p,
                              struct store_contract *k, struct core__contract_doc *d,
                              struct errbuf *err)
{
    d->purpose =
        t->purpose != NULL ? t->purpose : json_string_value(json_object_get(p->terms, "purpose"));
    enum err rc = core__text_check("purpose", d->purpose, CORE_PURPOSE_CHARS_MAX, 1, err);
    d->term_days = t->term_days != 0 ? t->term_days
                                     : json_integer_value(json_object_get(p->terms, "term_days"));
    if (rc == ERR_OK && (d->term_days < 1 || d->term_days > CORE_TERM_DAYS_MAX)) {
        rc = err_set(err, ERR_INVALID, "term_days", "'term_days' must be 1 to %d",
                     CORE_TERM_DAYS_MAX);
    }
    if (rc == ERR_OK && t->territory != NULL) {
        rc = territory_parse(t->territory, &p->territory, err);
    } else if (rc == ERR_OK) {
        p->territory = json_incref(json_object_get(p->terms, "territory"));
    }
    d->territory = p->territory;
    d->redistribution = t->redistribution != NULL
                            ? t->redistribution
                            : json_string_value(json_object_get(p->terms, "redistribution"));
    if (rc == ERR_OK && !name_in(d->redistribution, redistributions, ARRAY_LEN(redistributions))) {
        rc = err_set(err, ERR_INVALID, "redistribution",
                     "'redistribution' must be none, internal or with_attribution");
    }
    d->exclusive = t->exclusive >= 0 ? t->exclusive != 0
                                     : json_is_true(json_object_get(p->terms, "exclusive"));
    const json_t *modes = json_object_get(p->terms, "delivery");
    const char *mode =
        t->delivery != NULL ? t->delivery : json_string_value(json_array_get(modes, 0));
    int offered = 0;
    for (size_t i = 0; mode != NULL && i < json_array_size(modes); i++) {
        offered |= strcmp(json_string_value(json_array_get(modes, i)), mode) == 0;
    }
    if (rc == ERR_OK && !offered) {
        rc = err_set(err, ERR_INVALID, "delivery", "the listing does not deliver by '%s'",
                     mode != NULL ? mode : "");
    }
    if (rc == ERR_OK) {
        snprintf(k->delivery, sizeof(k->delivery), "%s", mode);
    }
    return rc;
}

static enum err windows_check(const struct core_contract_terms *t, int64_t now,
                              struct store_contract *k, struct errbuf *err)
{
    int64_t accept =
        t->acceptance_days != 0 ? t->acceptance_days : CORE_CONTRACT_ACCEPT_DAYS_DEFAULT;
    int64_t signing = t->signing_days != 0 ? t->signing_days : CORE_CONTRACT_SIGNING_DAYS_DEFAULT;
    if (accept < 1 || accept > CORE_CONTRACT_ACCEPT_DAYS_MAX) {
        return err_set(err, ERR_INVALID, "acceptance_days", "'acceptance_days' must be 1 to %d",
                       CORE_CONTRACT_ACCEPT_DAYS_MAX);
    }
    if (signing < 1 || signing > CORE_CONTRACT_SIGNING_DAYS_MAX) {
        return err_set(err, ERR_INVALID, "signing_days", "'signing_days' must be 1 to %d",
                       CORE_CONTRACT_SIGNING_DAYS_MAX);
    }
    k->acceptance_ms = accept * DAY_MS;
    k->created_ms = now;
    k->updated_ms = now;
    k->signing_deadline_ms = now + signing * DAY_MS;
    return ERR_OK;
}

/* The brokers: verified brokers, distinct, not parties, commissions that leave room. */
static enum err brokers_check(struct core *c, const struct core_contract_terms *t,
                              struct proposal *p, struct errbuf *err)
{
    if (t->broker_count > CORE_CONTRACT_BROKERS_MAX) {
        return err_set(err, ERR_INVALID, "brokers", "at most %d brokers",
                       CORE_CONTRACT_BROKERS_MAX);
    }
    int64_t total = p->pool_bp;
    for (size_t i = 0; i < t->broker_count; i++) {
        char field[ERRBUF_FIELD_MAX];
        snprintf(field, sizeof(field), "brokers[%zu].entity_id", i);
        const struct core_contract_broker *b = &t->brokers[i];
        enum err rc = party_read(c, b->entity_id, field, &p->brokers[i], err);
        if (rc != ERR_OK) {
            return rc;
        }
        if (strcmp(p->brokers[i].kind, "broker") != 0) {
            return err_set(err, ERR_INVALID, field, "'%s' is a %s, not a broker", b->entity_id,
                           p->brokers[i].kind);
        }
        int dup = strcmp(b->entity_id, t->buyer_id) == 0 ||
                  strcmp(b->entity_id, p->listing.provider_id) == 0;
        for (size_t j = 0; j < i; j++) {
            dup |= strcmp(t->brokers[j].entity_id, b->entity_id) == 0;
        }
        if (dup) {
            return err_set(err, ERR_INVALID, field, "broker '%s' is named twice or is a party",
                           b->entity_id);
        }
        snprintf(field, sizeof(field), "brokers[%zu].commission_bp", i);
        if (b->commission_bp < 1 || b->commission_bp > CLEARING_BP_ONE) {
            return err_set(err, ERR_INVALID, field, "'%s' must be 1 to 10000", field);
        }
        p->broker_bp[i] = b->commission_bp;
        total += b->commission_bp;
    }
    if (total > CLEARING_BP_ONE / 2) {
        return err_set(err, ERR_INVALID, "brokers",
                       "commissions and revenue shares take %" PRId64
                       " bp, more than half of the price",
                       total);
    }
    return ERR_OK;
}

/* 1 when the revision is personal data or declares personal information. */
static int personal(const struct store_revision *r)
{
    if (strcmp(r->classification, "personal") == 0) {
        return 1;
    }
    json_t *m = r->metadata != NULL ? json_loads(r->metadata, 0, NULL) : NULL;
    const json_t *pi = json_object_get(json_object_get(m, "source"), "personal_information");
    int contained = json_is_true(json_object_get(pi, "contained"));
    json_decref(m);
    return contained;
}

/* The newest version of the standard schedule in the contract's currency (or any). */
static enum err fee_in_force(struct core *c, const char *currency, struct proposal *p,
                             struct errbuf *err)
{
    struct store_fee_schedule *list = NULL;
    size_t count = 0;
    enum err rc = store_fee_schedule_list(c->store, CORE_CONTRACT_FEE_SCHEDULE, &list, &count, err);
    for (size_t i = 0; rc == ERR_OK && i < count && !p->has_fee; i++) {
        if (strcmp(list[i].kind, "membership") != 0 &&
            (list[i].currency[0] == '\0' || strcmp(list[i].currency, currency) == 0)) {
            p->fee = list[i];
            p->has_fee = 1;
        }
    }
    mem_free(list);
    return rc;
}

static enum err parties_check(struct core *c, const struct core_principal *who,
                              const struct core_contract_terms *t, struct proposal *p,
                              struct errbuf *err)
{
    enum err rc = party_read(c, p->listing.provider_id, "listing_id", &p->provider, err);
    if (rc == ERR_OK) {
        rc = party_read(c, t->buyer_id, "buyer_id", &p->buyer, err);
    }
    if (rc == ERR_OK && strcmp(t->buyer_id, p->listing.provider_id) == 0) {
        rc = err_set(err, ERR_INVALID, "buyer_id", "a provider cannot buy its own listing");
    }
    if (rc == ERR_OK && who->kind != CORE_KIND_OPERATOR && strcmp(who->id, t->buyer_id) != 0 &&
        strcmp(who->id, p->listing.provider_id) != 0) {
        rc = err_set(err, ERR_FORBIDDEN, "",
                     "only the buyer, the provider or the operator proposes a contract");
    }
    if (rc == ERR_OK && (!core_principal_active(who) || who->id[0] == '\0')) {
        rc = err_set(err, ERR_FORBIDDEN, "", "a contract is proposed by a verified entity");
    }
    return rc;
}

static enum err origin_check(const struct core_contract_terms *t, struct store_contract *k,
                             struct errbuf *err)
{
    if (!name_in(t->origin, origins, ARRAY_LEN(origins))) {
        return err_set(err, ERR_INVALID, "origin",
                       "'origin' must be order, negotiation or auction");
    }
    if (!id_valid(t->origin_id, NULL)) {
        return err_set(err, ERR_INVALID, "origin_id", "'origin_id' must be an id");
    }
    snprintf(k->origin, sizeof(k->origin), "%s", t->origin);
    snprintf(k->origin_id, sizeof(k->origin_id), "%s", t->origin_id);
    return ERR_OK;
}

/* Checks everything and fills k (with its document) and p; writes nothing. */
static enum err proposal_build(struct core *c, const struct core_principal *who,
                               const struct core_contract_terms *t, struct proposal *p,
                               struct store_contract *k, struct errbuf *err)
{
    if (c->operator_signer == NULL) {
        return err_set(err, ERR_UNAVAILABLE, "",
                       "this node holds no operator key and cannot countersign contracts");
    }
    struct core__contract_doc d;
    memset(&d, 0, sizeof(d));
    enum err rc = origin_check(t, k, err);
    if (rc == ERR_OK) {
        rc = listing_read(c, t, p, err);
    }
    if (rc == ERR_OK) {
        rc = parties_check(c, who, t, p, err);
    }
    if (rc == ERR_OK) {
        rc = store_revision_get(c->store, p->listing.revision_id, &p->revision, err);
    }
    p->pool_bp = rc == ERR_OK && personal(&p->revision) ? CORE_CONTRACT_POOL_BP : 0;
    if (rc == ERR_OK) {
        rc = brokers_check(c, t, p, err);
    }
    if (rc == ERR_OK) {
        rc = payment_check(t, p, k, err);
    }
    if (rc == ERR_OK) {
        rc = licence_check(t, p, k, &d, err);
    }
    if (rc == ERR_OK) {
        rc = windows_check(t, clock_now(c->clock), k, err);
    }
    if (rc == ERR_OK) {
        rc = fee_in_force(c, k->currency, p, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    id_new(c->rng, "ctr", k->id);
    snprintf(k->listing_id, sizeof(k->listing_id), "%s", p->listing.id);
    snprintf(k->product_id, sizeof(k->product_id), "%s", p->listing.product_id);
    snprintf(k->revision_id, sizeof(k->revision_id), "%s", p->listing.revision_id);
    snprintf(k->provider_id, sizeof(k->provider_id), "%s", p->listing.provider_id);
    snprintf(k->buyer_id, sizeof(k->buyer_id), "%s", t->buyer_id);
    snprintf(k->state, sizeof(k->state), "proposed");
    snprintf(k->fee_schedule_id, sizeof(k->fee_schedule_id), "%s", p->has_fee ? p->fee.id : "");
    d.k = k;
    d.provider = &p->provider;
    d.buyer = &p->buyer;
    d.brokers = p->brokers;
    d.broker_bp = p->broker_bp;
    d.broker_count = t->broker_count;
    d.revision = &p->revision;
    d.fee = p->has_fee ? &p->fee : NULL;
    d.tier = t->tier;
    d.period = p->period;
    d.pool_bp = p->pool_bp;
    d.exchange_public_key = c->operator_signer->public_key;
    return core__contract_document(&d, k, err);
}

enum err core_contract_propose(struct core *c, const struct core_principal *who,
                               const struct core_contract_terms *t, struct store_contract *out,
                               struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && t != NULL && out != NULL);
    struct proposal *p = mem_calloc(1, sizeof(*p));
    struct store_contract *k = mem_calloc(1, sizeof(*k));
    if (p == NULL || k == NULL) {
        mem_free(p);
        mem_free(k);
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = proposal_build(c, who, t, p, k, err);
    if (rc == ERR_OK) {
        rc = store_tx_begin(c->store, err);
        if (rc == ERR_OK) {
            char deadline[CLOCK_RFC3339_LEN];
            clock_format_rfc3339(k->signing_deadline_ms, deadline);
            json_t *body =
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "listing_id", k->listing_id,
                          "provider_id", k->provider_id, "buyer_id", k->buyer_id, "origin",
                          k->origin, "origin_id", k->origin_id, "document_sha256",
                          k->document_sha256, "signing_deadline", deadline, "contract_id", k->id);
            int64_t seq = -1;
            rc = body != NULL ? store_event_append(c->store, "contract.proposed", who->id, k->id,
                                                   k->created_ms, body, &seq, err)
                              : err_set(err, ERR_NOMEM, "", "out of memory");
            json_decref(body);
            k->log_index = seq;
            if (rc == ERR_OK) {
                rc = store_contract_insert(c->store, k, err);
            }
            if (rc == ERR_OK) {
                rc = store_tx_commit(c->store, err);
            } else {
                store_tx_rollback(c->store);
            }
        }
    }
    if (rc == ERR_OK) {
        *out = *k;
    }
    proposal_release(p);
    mem_free(p);
    mem_free(k);
    return rc;
}

/* ---- reading ---- */

enum err core_contract_get(struct core *c, const struct core_principal *who, const char *id,
                           struct store_contract *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    return core__contract_load(c, who, id, out, err);
}

enum err core_contract_list(struct core *c, const struct core_principal *who,
                            const struct store_contract_filter *filter,
                            struct store_contract_page *page, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && filter != NULL && page != NULL);
    static const char *const states[] = {"proposed",  "signed_one", "signed_both", "active",
                                         "delivered", "settled",    "cancelled",   "expired",
                                         "suspended", "disputed",   "resolved"};
    if (who->id[0] == '\0') {
        return err_set(err, ERR_FORBIDDEN, "", "contracts are listed for their parties");
    }
    if (filter->state != NULL && !name_in(filter->state, states, ARRAY_LEN(states))) {
        return err_set(err, ERR_INVALID, "state", "unknown contract state '%s'", filter->state);
    }
    struct store_contract_filter f = *filter;
    f.party_id = core__sees_all(who) ? NULL : who->id;
    return store_contract_list(c->store, &f, page, err);
}

enum err core_contract_signatures(struct core *c, const struct core_principal *who, const char *id,
                                  struct store_contract_signature out[2], size_t *count,
                                  struct errbuf *err)
{
    struct store_contract *k = mem_calloc(1, sizeof(*k));
    if (k == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = core__contract_load(c, who, id, k, err);
    if (rc == ERR_OK) {
        rc = store_contract_signature_list(c->store, id, out, count, err);
    }
    mem_free(k);
    return rc;
}

enum err core_contract_periods(struct core *c, const struct core_principal *who, const char *id,
                               struct store_contract_period *out, size_t max, size_t *count,
                               struct errbuf *err)
{
    struct store_contract *k = mem_calloc(1, sizeof(*k));
    if (k == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = core__contract_load(c, who, id, k, err);
    if (rc == ERR_OK) {
        rc = store_contract_period_list(c->store, id, max, out, count, err);
    }
    mem_free(k);
    return rc;
}

/* ---- signing and activation ---- */

/* Verifies an Ed25519 signature (base64) of the document with a registered key. */
static enum err signature_verify(const struct store_contract *k, const char *signature_b64,
                                 const struct store_entity *signer, struct errbuf *err)
{
    unsigned char sig[crypto_sign_BYTES], pk[crypto_sign_PUBLICKEYBYTES];
    size_t sig_len = 0, pk_len = 0;
    if (signature_b64 == NULL || strlen(signature_b64) >= STORE_SIGNATURE_MAX ||
        sodium_base642bin(sig, sizeof(sig), signature_b64, strlen(signature_b64), NULL, &sig_len,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        sig_len != sizeof(sig)) {
        return err_set(err, ERR_INVALID, "signature", "'signature' must be base64 of 64 bytes");
    }
    if (sodium_base642bin(pk, sizeof(pk), signer->public_key, strlen(signer->public_key), NULL,
                          &pk_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        pk_len != sizeof(pk)) {
        return err_set(err, ERR_CORRUPT, "", "entity '%s' has a malformed public key", signer->id);
    }
    if (crypto_sign_verify_detached(sig, (const unsigned char *)k->document, strlen(k->document),
                                    pk) != 0) {
        return err_set(err, ERR_INVALID, "signature",
                       "the signature does not verify against the document (sha256 %s) and the "
                       "public key '%s' registers",
                       k->document_sha256, signer->id);
    }
    return ERR_OK;
}

/* The exchange's countersignature over the document hash and both signatures. */
static enum err countersign(struct core *c, struct store_contract *k, struct errbuf *err)
{
    const struct core_signer *signer = c->operator_signer;
    if (signer == NULL) {
        return err_set(err, ERR_UNAVAILABLE, "",
                       "this node holds no operator key and cannot countersign contracts");
    }
    struct store_contract_signature sigs[2];
    size_t count = 0;
    char statement[1024];
    enum err rc = store_contract_signature_list(c->store, k->id, sigs, &count, err);
    if (rc == ERR_OK) {
        rc = core_contract_countersign_statement(k, sigs, count, statement, sizeof(statement), err);
    }
    unsigned char sig[crypto_sign_BYTES];
    if (rc == ERR_OK) {
        rc = signer->sign(signer->ctx, (const unsigned char *)statement, strlen(statement), sig,
                          err);
    }
    if (rc == ERR_OK) {
        sodium_bin2base64(k->countersignature, sizeof(k->countersignature), sig, sizeof(sig),
                          sodium_base64_VARIANT_ORIGINAL);
    }
    return rc;
}

/* The hold of period k->period, its row, and the contract active. Inside a transaction.
 * ERR_BAD_STATE (field "amount") when the buyer lacks the funds: the caller decides. */
static enum err hold_period(struct core *c, struct store_contract *k, int64_t starts_ms,
                            struct store_ledger_transfer *hold, struct errbuf *err)
{
    struct clearing ledger;
    core__clearing(c, &ledger);
    const struct clearing_actor actor = {"contracts", CLEARING_ROLE_SYSTEM};
    char key[CLEARING_KEY_MAX + 1];
    snprintf(key, sizeof(key), "%s.p%" PRId64 ".hold", k->id, k->period);
    const struct clearing_hold h = {k->buyer_id, k->currency, k->price, 0, k->id, key};
    int replayed = 0;
    enum err rc = clearing_hold(&ledger, &actor, &h, hold, &replayed, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int periodic = strcmp(k->plan, "periodic") == 0;
    struct store_contract_period p;
    memset(&p, 0, sizeof(p));
    snprintf(p.contract_id, sizeof(p.contract_id), "%s", k->id);
    p.period = k->period;
    snprintf(p.hold_id, sizeof(p.hold_id), "%s", hold->id);
    p.amount = k->price;
    snprintf(p.state, sizeof(p.state), "held");
    p.starts_ms = starts_ms;
    p.ends_ms = periodic ? starts_ms + k->period_days * DAY_MS : 0;
    p.log_index = hold->log_index;
    k->period_end_ms = p.ends_ms;
    return store_contract_period_insert(c->store, &p, err);
}

/* Activates a signed_both or suspended contract: countersigns (first time only), holds the
 * period's price and records contract.activated. Inside a transaction. */
static enum err activate(struct core *c, const char *actor, struct store_contract *k,
                         struct errbuf *err)
{
    int64_t now = clock_now(c->clock);
    int first = strcmp(k->state, "signed_both") == 0;
    enum err rc = ERR_OK;
    if (first) {
        k->activated_ms = now;
        rc = countersign(c, k, err);
    }
    struct store_ledger_transfer hold;
    if (rc == ERR_OK) {
        rc = hold_period(c, k, now, &hold, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(k->state, sizeof(k->state), "active");
    k->note[0] = '\0';
    json_t *body = json_pack("{s:s, s:s, s:I, s:I, s:s}", "countersignature", k->countersignature,
                             "hold_id", hold.id, "period", (json_int_t)k->period, "amount",
                             (json_int_t)k->price, "currency", k->currency);
    rc = core__contract_event(c, actor, k, "contract.activated", body, err);
    json_decref(body);
    return rc;
}

/* Runs activate in a savepoint; a shortfall rolls it back and leaves a note on k. */
static enum err activate_or_note(struct core *c, const char *actor, struct store_contract *k,
                                 int *hold_failed, struct errbuf *err)
{
    struct store_contract before = *k;
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct errbuf why;
    errbuf_init(&why);
    rc = activate(c, actor, k, &why);
    if (rc == ERR_OK) {
        return store_tx_commit(c->store, err);
    }
    store_tx_rollback(c->store);
    *k = before;
    if (rc != ERR_BAD_STATE) {
        *err = why;
        return rc;
    }
    *hold_failed = 1;
    snprintf(k->note, sizeof(k->note), "escrow hold failed: %.200s", why.msg);
    *err = why;
    return ERR_OK;
}

enum err core_contract_sign(struct core *c, const struct core_principal *who, const char *id,
                            const char *signature_b64, struct store_contract *out, int *hold_failed,
                            struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL && hold_failed != NULL);
    *hold_failed = 0;
    enum err rc = core__contract_load(c, who, id, out, err);
    const char *role = rc == ERR_OK ? core__contract_role(who, out) : NULL;
    if (rc == ERR_OK && role == NULL) {
        return err_set(err, ERR_FORBIDDEN, "id", "only the buyer and the provider sign a contract");
    }
    if (rc == ERR_OK && !core_principal_active(who)) {
        return err_set(err, ERR_FORBIDDEN, "id", "a suspended party cannot sign");
    }
    struct store_contract_signature sigs[2];
    size_t count = 0;
    if (rc == ERR_OK) {
        rc = store_contract_signature_list(c->store, id, sigs, &count, err);
    }
    for (size_t i = 0; rc == ERR_OK && i < count; i++) {
        if (strcmp(sigs[i].role, role) == 0) {
            rc = err_set(err, ERR_BAD_STATE, "state", "the %s has signed contract '%s' already",
                         role, id);
        }
    }
    int64_t now = clock_now(c->clock);
    if (rc == ERR_OK && strcmp(out->state, "proposed") != 0 &&
        strcmp(out->state, "signed_one") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "state", "contract '%s' is %s and takes no signature", id,
                     out->state);
    }
    if (rc == ERR_OK && now > out->signing_deadline_ms) {
        rc = err_set(err, ERR_BAD_STATE, "state", "the signing deadline of '%s' has passed", id);
    }
    struct store_entity signer;
    if (rc == ERR_OK) {
        rc = store_entity_get(c->store, who->id, &signer, err);
    }
    if (rc == ERR_OK) {
        rc = signature_verify(out, signature_b64, &signer, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_contract_signature g;
    memset(&g, 0, sizeof(g));
    snprintf(g.contract_id, sizeof(g.contract_id), "%s", id);
    snprintf(g.role, sizeof(g.role), "%s", role);
    snprintf(g.party_id, sizeof(g.party_id), "%s", who->id);
    snprintf(g.public_key, sizeof(g.public_key), "%s", signer.public_key);
    snprintf(g.signature, sizeof(g.signature), "%s", signature_b64);
    g.signed_ms = now;
    snprintf(out->state, sizeof(out->state), "%s", count == 0 ? "signed_one" : "signed_both");
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "role", role, "party_id", who->id, "signature",
                             signature_b64, "document_sha256", out->document_sha256);
    rc = core__contract_event(c, who->id, out, "contract.signed", body, err);
    json_decref(body);
    g.log_index = out->log_index;
    if (rc == ERR_OK) {
        rc = store_contract_signature_insert(c->store, &g, err);
    }
    if (rc == ERR_OK && count == 1) {
        struct errbuf why;
        errbuf_init(&why);
        rc = activate_or_note(c, who->id, out, hold_failed, &why);
        if (rc == ERR_OK && *hold_failed) {
            rc = store_contract_update(c->store, out, err);
            if (rc == ERR_OK) {
                *err = why; /* the shortfall, for the caller to report */
            }
        } else if (rc != ERR_OK) {
            *err = why;
        }
    }
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    return store_tx_commit(c->store, err);
}

enum err core_contract_activate(struct core *c, const struct core_principal *who, const char *id,
                                struct store_contract *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    enum err rc = core__contract_load(c, who, id, out, err);
    if (rc == ERR_OK && core__contract_role(who, out) == NULL && who->kind != CORE_KIND_OPERATOR) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "only a party or the operator activates");
    }
    if (rc == ERR_OK && strcmp(out->state, "signed_both") != 0 &&
        strcmp(out->state, "suspended") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "state",
                     "contract '%s' is %s; only a signed_both or suspended contract activates", id,
                     out->state);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_contract before = *out;
    rc = activate(c, who->id, out, err);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        *out = before;
        return rc;
    }
    return store_tx_commit(c->store, err);
}

enum err core_contract_cancel(struct core *c, const struct core_principal *who, const char *id,
                              const char *reason, struct store_contract *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    static const char *const cancellable[] = {"proposed", "signed_one", "signed_both", "suspended"};
    enum err rc = core__contract_load(c, who, id, out, err);
    if (rc == ERR_OK && core__contract_role(who, out) == NULL) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "only the buyer or the provider cancels");
    }
    if (rc == ERR_OK && !name_in(out->state, cancellable, ARRAY_LEN(cancellable))) {
        rc = err_set(err, ERR_BAD_STATE, "state",
                     "contract '%s' is %s; only a contract not yet active (or suspended) is "
                     "cancelled",
                     id, out->state);
    }
    if (rc == ERR_OK) {
        rc = core__text_check("reason", reason, CORE_REASON_CHARS_MAX, 0, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_contract before = *out;
    snprintf(out->state, sizeof(out->state), "cancelled");
    out->period_end_ms = 0;
    json_t *body = json_pack("{s:s, s:s}", "by", core__contract_role(who, out), "reason",
                             reason != NULL ? reason : "");
    rc = core__contract_event(c, who->id, out, "contract.cancelled", body, err);
    json_decref(body);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        *out = before;
        return rc;
    }
    return store_tx_commit(c->store, err);
}
