/*
 * contract_money.c: delivery, acceptance, settlement and the contract clock.
 *
 * An active contract's escrow is one pending transfer per payment period (contract_periods).
 * Acceptance posts it through clearing_post with the fee schedule the document recorded and
 * the split it names (brokers, the data subjects' pool, the provider's remainder), so the
 * amounts are the clearing module's exact integer split. Refusal never moves money here: a
 * rejection opens a dispute and the escrow stays held until the arbitrator decides.
 *
 * The sweep (core_contract_sweep) is the only code that acts without a caller: it expires
 * contracts not signed in time, accepts deliveries whose window passed without an answer, and
 * rolls subscription periods. Each contract it touches is its own transaction, so one failure
 * stops only that contract, and a contract it already moved is no longer due.
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
#define SWEEPER "contracts" /* the actor of the clock's events and of in-process ledger calls */

static const struct clearing_actor ledger_actor = {SWEEPER, CLEARING_ROLE_SYSTEM};

/* ---- settlement ---- */

static json_t *split_json(const struct clearing_settlement *s,
                          const struct core__contract_split *sp)
{
    json_t *brokers = json_array();
    json_t *revenue = json_array();
    for (size_t i = 0; brokers != NULL && i < sp->broker_count; i++) {
        json_array_append_new(brokers, json_pack("{s:s, s:I}", "recipient", sp->brokers[i],
                                                 "amount", (json_int_t)s->split.brokers[i]));
    }
    for (size_t i = 0; revenue != NULL && i < sp->revenue_count; i++) {
        json_array_append_new(revenue, json_pack("{s:s, s:I}", "recipient", sp->revenue[i],
                                                 "amount", (json_int_t)s->split.revenue[i]));
    }
    return json_pack("{s:s, s:I, s:I, s:o, s:o}", "post_id", s->transfers[0].id, "fee",
                     (json_int_t)s->split.fee, "provider", (json_int_t)s->split.provider, "brokers",
                     brokers, "revenue", revenue);
}

enum err core__contract_settle(struct core *c, struct store_contract *k, int64_t amount,
                               const char *state, json_t **out_json, struct errbuf *err)
{
    ASSERT(store_tx_depth(c->store) > 0);
    struct store_contract_period p;
    enum err rc = store_contract_period_get(c->store, k->id, k->period, &p, err);
    if (rc == ERR_OK && strcmp(p.state, "held") != 0) {
        return err_set(err, ERR_BAD_STATE, "state", "period %" PRId64 " of '%s' is %s", k->period,
                       k->id, p.state);
    }
    struct core__contract_split sp;
    if (rc == ERR_OK) {
        rc = core__contract_split_read(k, &sp, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing_share brokers[CORE_CONTRACT_BROKERS_MAX], revenue[CORE_CONTRACT_BROKERS_MAX];
    for (size_t i = 0; i < sp.broker_count; i++) {
        brokers[i] = (struct clearing_share){sp.brokers[i], sp.broker_bp[i]};
    }
    for (size_t i = 0; i < sp.revenue_count; i++) {
        revenue[i] = (struct clearing_share){sp.revenue[i], sp.revenue_bp[i]};
    }
    char key[CLEARING_KEY_MAX + 1];
    snprintf(key, sizeof(key), "%s.p%" PRId64 ".settle", k->id, k->period);
    const struct clearing_release r = {
        p.hold_id,
        k->provider_id,
        k->fee_schedule_id[0] ? k->fee_schedule_id : NULL,
        brokers,
        sp.broker_count,
        revenue,
        sp.revenue_count,
        amount,
        k->id,
        key,
    };
    struct clearing ledger;
    core__clearing(c, &ledger);
    struct clearing_settlement *s = mem_calloc(1, sizeof(*s));
    if (s == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    rc = clearing_post(&ledger, &ledger_actor, &r, s, err);
    if (rc == ERR_OK) {
        snprintf(p.state, sizeof(p.state), "%s", state);
        snprintf(p.post_id, sizeof(p.post_id), "%s", s->transfers[0].id);
        p.log_index = s->transfers[0].log_index;
        rc = store_contract_period_update(c->store, &p, err);
    }
    if (rc == ERR_OK && out_json != NULL) {
        *out_json = split_json(s, &sp);
        rc = *out_json != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
    }
    mem_free(s);
    return rc;
}

enum err core__contract_refund(struct core *c, struct store_contract *k, char void_id[ID_MAX],
                               struct errbuf *err)
{
    ASSERT(store_tx_depth(c->store) > 0);
    struct store_contract_period p;
    enum err rc = store_contract_period_get(c->store, k->id, k->period, &p, err);
    if (rc == ERR_OK && strcmp(p.state, "held") != 0) {
        return err_set(err, ERR_BAD_STATE, "state", "period %" PRId64 " of '%s' is %s", k->period,
                       k->id, p.state);
    }
    char key[CLEARING_KEY_MAX + 1];
    snprintf(key, sizeof(key), "%s.p%" PRId64 ".refund", k->id, k->period);
    struct clearing ledger;
    core__clearing(c, &ledger);
    struct store_ledger_transfer t;
    int replayed = 0;
    if (rc == ERR_OK) {
        rc = clearing_void(&ledger, &ledger_actor, p.hold_id, k->id, key, &t, &replayed, err);
    }
    if (rc == ERR_OK) {
        snprintf(p.state, sizeof(p.state), "refunded");
        snprintf(p.post_id, sizeof(p.post_id), "%s", t.id);
        snprintf(void_id, ID_MAX, "%s", t.id);
        p.log_index = t.log_index;
        rc = store_contract_period_update(c->store, &p, err);
    }
    return rc;
}

/* Settles a delivered single-payment contract (the buyer's acceptance, or the clock's):
 * contract.accepted then contract.settled. Inside a transaction. */
static enum err accept_settle(struct core *c, const char *actor, int automatic,
                              struct store_contract *k, struct errbuf *err)
{
    struct store_delivery d;
    enum err rc = store_delivery_latest(c->store, k->id, k->period, &d, err);
    json_t *split = NULL;
    if (rc == ERR_OK) {
        rc = core__contract_settle(c, k, 0, "settled", &split, err);
    }
    if (rc == ERR_OK) {
        snprintf(d.status, sizeof(d.status), "accepted");
        d.decided_ms = clock_now(c->clock);
        k->accept_deadline_ms = 0;
        json_t *body = json_pack("{s:s, s:s, s:b}", "delivery_id", d.id, "sha256", d.sha256,
                                 "automatic", automatic);
        rc = core__contract_event(c, actor, k, "contract.accepted", body, err);
        json_decref(body);
        d.log_index = k->log_index;
    }
    if (rc == ERR_OK) {
        rc = store_delivery_update(c->store, &d, err);
    }
    if (rc == ERR_OK) {
        snprintf(k->state, sizeof(k->state), "settled");
        json_t *body = json_pack("{s:I, s:s, s:O}", "amount", (json_int_t)k->price, "currency",
                                 k->currency, "split", split);
        rc = core__contract_event(c, actor, k, "contract.settled", body, err);
        json_decref(body);
    }
    json_decref(split);
    return rc;
}

/* Runs fn in a transaction of its own (a savepoint of the caller's) and restores *k on
 * failure. */
typedef enum err step_fn(struct core *c, void *ctx, struct store_contract *k, struct errbuf *err);

static enum err in_tx(struct core *c, step_fn *fn, void *ctx, struct store_contract *k,
                      struct errbuf *err)
{
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_contract *before = mem_alloc(sizeof(*before));
    if (before == NULL) {
        store_tx_rollback(c->store);
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    *before = *k;
    rc = fn(c, ctx, k, err);
    if (rc == ERR_OK) {
        rc = store_tx_commit(c->store, err);
    } else {
        store_tx_rollback(c->store);
    }
    if (rc != ERR_OK) {
        *k = *before;
    }
    mem_free(before);
    return rc;
}

/* ---- delivery ---- */

struct deliver_ctx {
    const char *actor;
    const char *sha256;
    struct store_delivery *out;
};

static enum err deliver_step(struct core *c, void *ctx, struct store_contract *k,
                             struct errbuf *err)
{
    struct deliver_ctx *d = ctx;
    struct store_delivery *v = d->out;
    memset(v, 0, sizeof(*v));
    id_new(c->rng, "dlv", v->id);
    snprintf(v->contract_id, sizeof(v->contract_id), "%s", k->id);
    v->period = k->period;
    snprintf(v->sha256, sizeof(v->sha256), "%s", d->sha256);
    snprintf(v->actor, sizeof(v->actor), "%s", d->actor);
    snprintf(v->status, sizeof(v->status), "pending");
    v->delivered_ms = clock_now(c->clock);
    if (strcmp(k->plan, "single") == 0) {
        snprintf(k->state, sizeof(k->state), "delivered");
        k->accept_deadline_ms = v->delivered_ms + k->acceptance_ms;
    }
    char deadline[CLOCK_RFC3339_LEN] = "";
    if (k->accept_deadline_ms > 0) {
        clock_format_rfc3339(k->accept_deadline_ms, deadline);
    }
    json_t *body = json_pack("{s:s, s:s, s:I, s:s}", "delivery_id", v->id, "sha256", v->sha256,
                             "period", (json_int_t)v->period, "accept_by", deadline);
    enum err rc = core__contract_event(c, d->actor, k, "contract.delivered", body, err);
    json_decref(body);
    v->log_index = k->log_index;
    return rc == ERR_OK ? store_delivery_insert(c->store, v, err) : rc;
}

enum err core_contract_deliver(struct core *c, const struct core_principal *who, const char *id,
                               const char *sha256_hex, struct store_delivery *delivery,
                               struct store_contract *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && delivery != NULL && out != NULL);
    enum err rc = core__contract_load(c, who, id, out, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (strcmp(who->id, out->provider_id) != 0 && who->kind != CORE_KIND_OPERATOR) {
        return err_set(err, ERR_FORBIDDEN, "id", "only the provider records a delivery");
    }
    if (!core__sha256_hex_valid(sha256_hex)) {
        return err_set(err, ERR_INVALID, "sha256",
                       "'sha256' must be 64 lowercase hex characters of the delivered bytes");
    }
    int delivered = strcmp(out->state, "delivered") == 0;
    int active = strcmp(out->state, "active") == 0;
    struct store_delivery prior;
    rc = delivered || active ? store_delivery_latest(c->store, id, out->period, &prior, err)
                             : ERR_NOT_FOUND;
    if (rc != ERR_OK && rc != ERR_NOT_FOUND) {
        return rc;
    }
    if (rc == ERR_OK && strcmp(prior.sha256, sha256_hex) == 0) {
        *delivery = prior; /* the same delivery again: a replay, nothing written */
        return ERR_OK;
    }
    if (!active) {
        return err_set(err, ERR_BAD_STATE, "state",
                       delivered ? "contract '%s' was delivered already with other content"
                                 : "contract '%s' is not active",
                       id);
    }
    struct deliver_ctx ctx = {who->id, sha256_hex, delivery};
    return in_tx(c, deliver_step, &ctx, out, err);
}

/* ---- acceptance and rejection ---- */

static enum err buyer_window(const struct core_principal *who, const struct store_contract *k,
                             int64_t now, struct errbuf *err)
{
    if (strcmp(who->id, k->buyer_id) != 0) {
        return err_set(err, ERR_FORBIDDEN, "id", "only the buyer accepts or rejects a delivery");
    }
    if (strcmp(k->state, "delivered") != 0) {
        return err_set(err, ERR_BAD_STATE, "state",
                       "contract '%s' is %s; only a delivered contract is accepted or rejected",
                       k->id, k->state);
    }
    if (now > k->accept_deadline_ms) {
        return err_set(err, ERR_BAD_STATE, "state",
                       "the acceptance window of '%s' has closed: it is accepted", k->id);
    }
    return ERR_OK;
}

static enum err accept_step(struct core *c, void *ctx, struct store_contract *k, struct errbuf *err)
{
    return accept_settle(c, ctx, 0, k, err);
}

enum err core_contract_accept(struct core *c, const struct core_principal *who, const char *id,
                              struct store_contract *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    enum err rc = core__contract_load(c, who, id, out, err);
    if (rc == ERR_OK) {
        rc = buyer_window(who, out, clock_now(c->clock), err);
    }
    return rc == ERR_OK ? in_tx(c, accept_step, (void *)who->id, out, err) : rc;
}

struct reject_ctx {
    const struct core_principal *who;
    const char *statement;
    struct store_dispute *dispute;
};

static enum err reject_step(struct core *c, void *ctx, struct store_contract *k, struct errbuf *err)
{
    struct reject_ctx *r = ctx;
    struct store_delivery d;
    enum err rc = store_delivery_latest(c->store, k->id, k->period, &d, err);
    if (rc == ERR_OK) {
        snprintf(d.status, sizeof(d.status), "rejected");
        d.decided_ms = clock_now(c->clock);
        k->accept_deadline_ms = 0;
        json_t *body = json_pack("{s:s, s:s}", "delivery_id", d.id, "sha256", d.sha256);
        rc = core__contract_event(c, r->who->id, k, "contract.rejected", body, err);
        json_decref(body);
        d.log_index = k->log_index;
    }
    if (rc == ERR_OK) {
        rc = store_delivery_update(c->store, &d, err);
    }
    if (rc == ERR_OK) {
        rc = core__dispute_create(c, r->who, k, r->statement, NULL, 0, r->dispute, err);
    }
    return rc;
}

enum err core_contract_reject(struct core *c, const struct core_principal *who, const char *id,
                              const char *statement, struct store_dispute *dispute,
                              struct store_contract *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && dispute != NULL && out != NULL);
    enum err rc = core__contract_load(c, who, id, out, err);
    if (rc == ERR_OK) {
        rc = buyer_window(who, out, clock_now(c->clock), err);
    }
    if (rc == ERR_OK) {
        rc = core__text_check("statement", statement, CORE_REASON_CHARS_MAX, 1, err);
    }
    struct reject_ctx ctx = {who, statement, dispute};
    return rc == ERR_OK ? in_tx(c, reject_step, &ctx, out, err) : rc;
}

/* ---- the clock ---- */

static enum err expire_step(struct core *c, void *ctx, struct store_contract *k, struct errbuf *err)
{
    (void)ctx;
    snprintf(k->state, sizeof(k->state), "expired");
    json_t *body = json_pack("{s:I}", "signing_deadline_ms", (json_int_t)k->signing_deadline_ms);
    enum err rc = core__contract_event(c, SWEEPER, k, "contract.expired", body, err);
    json_decref(body);
    return rc;
}

static enum err auto_accept_step(struct core *c, void *ctx, struct store_contract *k,
                                 struct errbuf *err)
{
    (void)ctx;
    return accept_settle(c, SWEEPER, 1, k, err);
}

/* Holds the next period from the end of this one; without funds, suspends the contract. */
static enum err next_period(struct core *c, struct store_contract *k, int64_t starts_ms,
                            struct errbuf *err)
{
    struct clearing ledger;
    core__clearing(c, &ledger);
    char key[CLEARING_KEY_MAX + 1];
    snprintf(key, sizeof(key), "%s.p%" PRId64 ".hold", k->id, k->period);
    const struct clearing_hold h = {k->buyer_id, k->currency, k->price, 0, k->id, key};
    struct store_ledger_transfer hold;
    int replayed = 0;
    struct errbuf why;
    errbuf_init(&why);
    enum err rc = clearing_hold(&ledger, &ledger_actor, &h, &hold, &replayed, &why);
    if (rc == ERR_BAD_STATE) {
        snprintf(k->state, sizeof(k->state), "suspended");
        snprintf(k->note, sizeof(k->note), "escrow hold of period %" PRId64 " failed: %.180s",
                 k->period, why.msg);
        k->period_end_ms = 0;
        json_t *body = json_pack("{s:I, s:s}", "period", (json_int_t)k->period, "reason", why.msg);
        rc = core__contract_event(c, SWEEPER, k, "contract.suspended", body, err);
        json_decref(body);
        return rc;
    }
    if (rc != ERR_OK) {
        *err = why;
        return rc;
    }
    struct store_contract_period p;
    memset(&p, 0, sizeof(p));
    snprintf(p.contract_id, sizeof(p.contract_id), "%s", k->id);
    p.period = k->period;
    snprintf(p.hold_id, sizeof(p.hold_id), "%s", hold.id);
    p.amount = k->price;
    snprintf(p.state, sizeof(p.state), "held");
    p.starts_ms = starts_ms;
    p.ends_ms = starts_ms + k->period_days * DAY_MS;
    p.log_index = hold.log_index;
    k->period_end_ms = p.ends_ms;
    return store_contract_period_insert(c->store, &p, err);
}

/* A subscription period ended: settle it, then hold the next or finish. */
static enum err period_step(struct core *c, void *ctx, struct store_contract *k, struct errbuf *err)
{
    (void)ctx;
    json_t *split = NULL;
    enum err rc = core__contract_settle(c, k, 0, "settled", &split, err);
    int64_t ended = k->period_end_ms;
    int64_t settled = k->period;
    int last = k->period + 1 >= k->periods;
    if (rc == ERR_OK) {
        k->period = last ? k->period : k->period + 1;
        k->period_end_ms = 0;
        if (last) {
            snprintf(k->state, sizeof(k->state), "settled");
        }
        json_t *body = json_pack("{s:I, s:I, s:s, s:O}", "period", (json_int_t)settled, "amount",
                                 (json_int_t)k->price, "currency", k->currency, "split", split);
        rc = core__contract_event(c, SWEEPER, k,
                                  last ? "contract.settled" : "contract.period_settled", body, err);
        json_decref(body);
    }
    json_decref(split);
    if (rc == ERR_OK && !last) {
        rc = next_period(c, k, ended, err);
    }
    if (rc == ERR_OK && !last) {
        rc = store_contract_update(c->store, k, err);
    }
    return rc;
}

/* Runs step on up to max contracts of state due by column at now. */
static enum err sweep_kind(struct core *c, const char *state, const char *column, int64_t now_ms,
                           size_t max, step_fn *step, size_t *done, struct errbuf *err)
{
    char(*ids)[ID_MAX] = mem_calloc(max, ID_MAX);
    struct store_contract *k = mem_alloc(sizeof(*k));
    enum err rc = ids != NULL && k != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
    size_t count = 0;
    if (rc == ERR_OK) {
        rc = store_contract_due(c->store, state, column, now_ms, max, ids, &count, err);
    }
    for (size_t i = 0; rc == ERR_OK && i < count; i++) {
        rc = store_contract_get(c->store, ids[i], k, err);
        if (rc == ERR_OK) {
            rc = in_tx(c, step, NULL, k, err);
        }
        *done += rc == ERR_OK;
    }
    mem_free(ids);
    mem_free(k);
    return rc;
}

enum err core_contract_sweep(struct core *c, int64_t now_ms, size_t max, size_t *done,
                             struct errbuf *err)
{
    ASSERT(c != NULL && done != NULL);
    ASSERT(max >= 1 && max <= CORE_LOG_BATCH_MAX);
    *done = 0;
    enum err rc =
        sweep_kind(c, "proposed", "signing_deadline_ms", now_ms, max, expire_step, done, err);
    if (rc == ERR_OK && *done < max) {
        rc = sweep_kind(c, "signed_one", "signing_deadline_ms", now_ms, max - *done, expire_step,
                        done, err);
    }
    if (rc == ERR_OK && *done < max) {
        rc = sweep_kind(c, "delivered", "accept_deadline_ms", now_ms, max - *done, auto_accept_step,
                        done, err);
    }
    if (rc == ERR_OK && *done < max) {
        rc = sweep_kind(c, "active", "period_end_ms", now_ms, max - *done, period_step, done, err);
    }
    return rc;
}
