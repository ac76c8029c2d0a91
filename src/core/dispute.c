/*
 * dispute.c: disputes over contracts (dsp_), their arbitrators and decisions.
 *
 * A dispute freezes a contract's escrow: the contract is "disputed" and neither the buyer's
 * acceptance nor the clock can settle it. Evidence is cited by transparency-log index; the
 * server checks that each entry is integrated and records its leaf hash, so the parties and
 * the arbitrator can each fetch an inclusion proof and know they are looking at the same
 * entry. Only the arbitrator the operator assigned decides, and the decision moves the money
 * (clearing_post of all or part of the hold, or clearing_void) in the transaction that
 * records it.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* The evidence as JSON [{"index", "leaf_hash"}], each entry checked against the log. */
static enum err evidence_json(struct core *c, const int64_t *evidence, size_t count, char *out,
                              size_t cap, struct errbuf *err)
{
    if (count > CORE_EVIDENCE_MAX) {
        return err_set(err, ERR_INVALID, "evidence", "at most %d log entries as evidence",
                       CORE_EVIDENCE_MAX);
    }
    json_t *a = json_array();
    enum err rc = a != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
    for (size_t i = 0; i < count && rc == ERR_OK; i++) {
        char field[ERRBUF_FIELD_MAX];
        snprintf(field, sizeof(field), "evidence[%zu]", i);
        struct store_event ev;
        memset(&ev, 0, sizeof(ev));
        rc = evidence[i] >= 0 ? core_log_entry(c, evidence[i], &ev, err) : ERR_NOT_FOUND;
        if (rc == ERR_NOT_FOUND) {
            rc = err_set(err, ERR_INVALID, field,
                         "log entry %" PRId64 " is not in the log (entries are cited once "
                         "integrated into a checkpoint)",
                         evidence[i]);
        }
        if (rc == ERR_OK) {
            uint8_t leaf[TLOG_HASH_LEN];
            char hex[2 * TLOG_HASH_LEN + 1];
            tlog_leaf_hash(ev.leaf, ev.leaf_len, leaf);
            sodium_bin2hex(hex, sizeof(hex), leaf, sizeof(leaf));
            json_t *e = json_pack("{s:I, s:s}", "index", (json_int_t)evidence[i], "leaf_hash", hex);
            if (e == NULL || json_array_append_new(a, e) != 0) {
                rc = err_set(err, ERR_NOMEM, "", "out of memory");
            }
        }
        store_event_release(&ev);
    }
    char *text = rc == ERR_OK ? core__canonical(a) : NULL;
    json_decref(a);
    if (rc == ERR_OK && text == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK && strlen(text) >= cap) {
        rc = err_set(err, ERR_LIMIT, "evidence", "the evidence list is too long");
    }
    if (rc == ERR_OK) {
        memcpy(out, text, strlen(text) + 1);
    }
    mem_free(text);
    return rc;
}

static enum err dispute_event(struct core *c, const char *actor, struct store_dispute *d,
                              const char *type, json_t *body, struct errbuf *err)
{
    if (body == NULL || json_object_set_new(body, "dispute_id", json_string(d->id)) != 0 ||
        json_object_set_new(body, "contract_id", json_string(d->contract_id)) != 0 ||
        json_object_set_new(body, "status", json_string(d->status)) != 0) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    int64_t seq = -1;
    enum err rc =
        store_event_append(c->store, type, actor, d->id, clock_now(c->clock), body, &seq, err);
    d->log_index = seq;
    return rc;
}

enum err core__dispute_create(struct core *c, const struct core_principal *who,
                              struct store_contract *k, const char *statement,
                              const int64_t *evidence, size_t evidence_count,
                              struct store_dispute *out, struct errbuf *err)
{
    ASSERT(store_tx_depth(c->store) > 0);
    memset(out, 0, sizeof(*out));
    enum err rc =
        evidence_json(c, evidence, evidence_count, out->evidence, sizeof(out->evidence), err);
    if (rc != ERR_OK) {
        return rc;
    }
    id_new(c->rng, "dsp", out->id);
    snprintf(out->contract_id, sizeof(out->contract_id), "%s", k->id);
    out->period = k->period;
    snprintf(out->opened_by, sizeof(out->opened_by), "%s", who->id);
    snprintf(out->status, sizeof(out->status), "open");
    snprintf(out->statement, sizeof(out->statement), "%s", statement);
    out->opened_ms = clock_now(c->clock);
    json_t *ev = json_loads(out->evidence, 0, NULL);
    char digest[STORE_HASH_HEX_MAX];
    core__sha256_hex(statement, strlen(statement), digest);
    /* The log is public: the statement is logged by its hash, the evidence as cited. */
    json_t *body = json_pack("{s:s, s:s, s:o*, s:I}", "opened_by", who->id, "statement_sha256",
                             digest, "evidence", ev, "period", (json_int_t)k->period);
    rc = dispute_event(c, who->id, out, "dispute.opened", body, err);
    json_decref(body);
    if (rc == ERR_OK) {
        rc = store_dispute_insert(c->store, out, err);
    }
    if (rc == ERR_OK) {
        snprintf(k->state, sizeof(k->state), "disputed");
        json_t *kb = json_pack("{s:s}", "dispute_id", out->id);
        rc = core__contract_event(c, who->id, k, "contract.disputed", kb, err);
        json_decref(kb);
    }
    return rc;
}

enum err core_dispute_open(struct core *c, const struct core_principal *who,
                           const char *contract_id, const char *statement, const int64_t *evidence,
                           size_t evidence_count, struct store_dispute *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    struct store_contract *k = mem_alloc(sizeof(*k));
    if (k == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = core__contract_load(c, who, contract_id, k, err);
    if (rc == ERR_OK && core__contract_role(who, k) == NULL) {
        rc = err_set(err, ERR_FORBIDDEN, "contract_id", "only a party opens a dispute");
    }
    if (rc == ERR_OK && strcmp(k->state, "active") != 0 && strcmp(k->state, "delivered") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "state",
                     "contract '%s' is %s; a dispute is opened on an active or delivered contract",
                     contract_id, k->state);
    }
    if (rc == ERR_OK) {
        rc = core__text_check("statement", statement, CORE_REASON_CHARS_MAX, 1, err);
    }
    if (rc == ERR_OK) {
        rc = store_tx_begin(c->store, err);
        if (rc == ERR_OK) {
            rc = core__dispute_create(c, who, k, statement, evidence, evidence_count, out, err);
            if (rc == ERR_OK) {
                rc = store_tx_commit(c->store, err);
            } else {
                store_tx_rollback(c->store);
            }
        }
    }
    mem_free(k);
    return rc;
}

/* Reads a dispute and checks who may see it: the contract's parties, its arbitrator, the
 * operator and a verified regulator. */
static enum err dispute_load(struct core *c, const struct core_principal *who, const char *id,
                             struct store_dispute *out, struct store_contract *k,
                             struct errbuf *err)
{
    if (id == NULL || !id_valid(id, "dsp")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not a dispute id", id ? id : "");
    }
    enum err rc = store_dispute_get(c->store, id, out, err);
    if (rc == ERR_OK) {
        rc = store_contract_get(c->store, out->contract_id, k, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (who->id[0] != '\0' && (core__sees_all(who) || core__contract_role(who, k) != NULL ||
                               strcmp(out->arbitrator_id, who->id) == 0)) {
        return ERR_OK;
    }
    return err_set(err, ERR_NOT_FOUND, "id", "no dispute '%s'", id);
}

enum err core_dispute_get(struct core *c, const struct core_principal *who, const char *id,
                          struct store_dispute *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    struct store_contract *k = mem_alloc(sizeof(*k));
    if (k == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = dispute_load(c, who, id, out, k, err);
    mem_free(k);
    return rc;
}

/* The arbitrator rule: a verified service firm with the arbitration speciality, no party. */
static enum err arbitrator_check(struct core *c, const char *id, const struct store_contract *k,
                                 struct errbuf *err)
{
    if (id == NULL || !id_valid(id, "ent")) {
        return err_set(err, ERR_INVALID, "arbitrator", "'arbitrator' must be an entity id");
    }
    struct store_entity e;
    enum err rc = store_entity_get(c->store, id, &e, err);
    if (rc == ERR_NOT_FOUND) {
        return err_set(err, ERR_INVALID, "arbitrator", "no entity '%s'", id);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (strcmp(e.kind, "service_firm") != 0) {
        return err_set(err, ERR_INVALID, "arbitrator",
                       "an arbitrator is a service firm; '%s' is a %s", id, e.kind);
    }
    if (strcmp(e.status, "verified") != 0) {
        return err_set(err, ERR_INVALID, "arbitrator", "arbitrator '%s' is %s, not verified", id,
                       e.status);
    }
    if ((e.specialities & CORE_SPEC_ARBITRATION) == 0) {
        return err_set(err, ERR_INVALID, "arbitrator",
                       "service firm '%s' lacks the arbitration speciality", id);
    }
    if (strcmp(id, k->buyer_id) == 0 || strcmp(id, k->provider_id) == 0 ||
        core__contract_broker(k, id)) {
        return err_set(err, ERR_INVALID, "arbitrator", "'%s' takes part in the contract", id);
    }
    return ERR_OK;
}

enum err core_dispute_assign(struct core *c, const struct core_principal *who, const char *id,
                             const char *arbitrator_id, struct store_dispute *out,
                             struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (who->kind != CORE_KIND_OPERATOR || who->id[0] == '\0') {
        return err_set(err, ERR_FORBIDDEN, "", "only the operator assigns an arbitrator");
    }
    struct store_contract *k = mem_alloc(sizeof(*k));
    if (k == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = dispute_load(c, who, id, out, k, err);
    if (rc == ERR_OK && strcmp(out->status, "decided") == 0) {
        rc = err_set(err, ERR_BAD_STATE, "status", "dispute '%s' is decided", id);
    }
    if (rc == ERR_OK) {
        rc = arbitrator_check(c, arbitrator_id, k, err);
    }
    mem_free(k);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_dispute before = *out;
    snprintf(out->arbitrator_id, sizeof(out->arbitrator_id), "%s", arbitrator_id);
    snprintf(out->status, sizeof(out->status), "assigned");
    out->assigned_ms = clock_now(c->clock);
    json_t *body = json_pack("{s:s}", "arbitrator_id", arbitrator_id);
    rc = dispute_event(c, who->id, out, "dispute.assigned", body, err);
    json_decref(body);
    if (rc == ERR_OK) {
        rc = store_dispute_update(c->store, out, err);
    }
    if (rc == ERR_OK) {
        return store_tx_commit(c->store, err);
    }
    store_tx_rollback(c->store);
    *out = before;
    return rc;
}

/* Moves the money of a decision and resolves the contract. Inside a transaction. */
static enum err decision_apply(struct core *c, const char *actor, struct store_dispute *d,
                               struct store_contract *k, struct errbuf *err)
{
    json_t *money = NULL;
    enum err rc = ERR_OK;
    if (strcmp(d->decision, "refund") == 0) {
        char void_id[ID_MAX];
        rc = core__contract_refund(c, k, void_id, err);
        money = rc == ERR_OK ? json_pack("{s:s}", "void_id", void_id) : NULL;
    } else {
        int split = strcmp(d->decision, "split") == 0;
        rc = core__contract_settle(c, k, split ? d->provider_amount : 0,
                                   split ? "split" : "settled", &money, err);
    }
    if (rc == ERR_OK) {
        d->decided_ms = clock_now(c->clock);
        snprintf(d->status, sizeof(d->status), "decided");
        json_t *body = json_pack(
            "{s:s, s:s, s:I, s:s, s:O}", "arbitrator_id", d->arbitrator_id, "decision", d->decision,
            "provider_amount", (json_int_t)d->provider_amount, "reason", d->reason, "money", money);
        rc = dispute_event(c, actor, d, "dispute.decided", body, err);
        json_decref(body);
    }
    json_decref(money);
    if (rc == ERR_OK) {
        rc = store_dispute_update(c->store, d, err);
    }
    if (rc == ERR_OK) {
        snprintf(k->state, sizeof(k->state), "resolved");
        k->period_end_ms = 0;
        k->accept_deadline_ms = 0;
        json_t *kb = json_pack("{s:s, s:s}", "dispute_id", d->id, "decision", d->decision);
        rc = core__contract_event(c, actor, k, "contract.resolved", kb, err);
        json_decref(kb);
    }
    return rc;
}

static enum err decision_check(const struct store_dispute *d, const struct store_contract *k,
                               const char *decision, int64_t provider_amount, const char *reason,
                               struct errbuf *err)
{
    static const char *const decisions[] = {"release", "refund", "split"};
    int known = 0;
    for (size_t i = 0; decision != NULL && i < ARRAY_LEN(decisions); i++) {
        known |= strcmp(decision, decisions[i]) == 0;
    }
    if (!known) {
        return err_set(err, ERR_INVALID, "decision", "'decision' must be release, refund or split");
    }
    int split = strcmp(decision, "split") == 0;
    if (split && (provider_amount < 1 || provider_amount >= k->price)) {
        return err_set(err, ERR_INVALID, "provider_amount",
                       "a split gives the provider 1 to %" PRId64 " of the %" PRId64 " held",
                       k->price - 1, k->price);
    }
    if (!split && provider_amount != 0) {
        return err_set(err, ERR_INVALID, "provider_amount",
                       "'provider_amount' is given only with a split");
    }
    (void)d;
    return core__text_check("reason", reason, CORE_REASON_CHARS_MAX, 1, err);
}

enum err core_dispute_decide(struct core *c, const struct core_principal *who, const char *id,
                             const char *decision, int64_t provider_amount, const char *reason,
                             struct store_dispute *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    struct store_contract *k = mem_alloc(sizeof(*k));
    if (k == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = dispute_load(c, who, id, out, k, err);
    if (rc == ERR_OK && (out->arbitrator_id[0] == '\0' || strcmp(out->arbitrator_id, who->id))) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "only the assigned arbitrator decides");
    }
    if (rc == ERR_OK && strcmp(out->status, "assigned") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "status", "dispute '%s' is %s", id, out->status);
    }
    if (rc == ERR_OK && !core_principal_active(who)) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "a suspended arbitrator does not decide");
    }
    if (rc == ERR_OK) {
        rc = decision_check(out, k, decision, provider_amount, reason, err);
    }
    if (rc == ERR_OK) {
        rc = store_tx_begin(c->store, err);
    }
    if (rc != ERR_OK) {
        mem_free(k);
        return rc;
    }
    struct store_dispute before = *out;
    snprintf(out->decision, sizeof(out->decision), "%s", decision);
    out->provider_amount = provider_amount;
    snprintf(out->reason, sizeof(out->reason), "%s", reason);
    rc = decision_apply(c, who->id, out, k, err);
    if (rc == ERR_OK) {
        rc = store_tx_commit(c->store, err);
    } else {
        store_tx_rollback(c->store);
        *out = before;
    }
    mem_free(k);
    return rc;
}
