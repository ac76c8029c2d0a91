/*
 * fees.c: the operator's fee schedules and membership charges.
 *
 * A schedule is named ("standard", "members-2027") and versioned: creating one under an
 * existing name records version n + 1 and leaves the earlier versions as they were, because a
 * signed contract records the id of the version in force and must be settled under it.
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "clearing/clearing_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static enum err zero(int64_t v, const char *field, const char *kind, struct errbuf *err)
{
    if (v != 0) {
        return err_set(err, ERR_INVALID, field, "a %s schedule takes no '%s'", kind, field);
    }
    return ERR_OK;
}

/* The checks of each kind; the rule's own (ranges) are clearing_fee_of's. */
static enum err schedule_check(const struct clearing_fee_schedule_in *in,
                               enum clearing_fee_kind kind, struct errbuf *err)
{
    enum err rc = clearing__check_code(in->name, "name", err);
    const char *k = clearing_fee_kind_name(kind);
    int needs_currency = kind != CLEARING_FEE_PERCENTAGE || in->minimum != 0 || in->cap != 0;
    if (rc == ERR_OK && (needs_currency || in->currency != NULL)) {
        rc = clearing_currency_check(in->currency, "currency", err);
    }
    if (rc == ERR_OK && kind == CLEARING_FEE_MEMBERSHIP) {
        int ok = in->period != NULL &&
                 (strcmp(in->period, "month") == 0 || strcmp(in->period, "year") == 0);
        rc = ok ? ERR_OK
                : err_set(err, ERR_INVALID, "period", "a membership period is month or year");
    } else if (rc == ERR_OK && in->period != NULL) {
        rc = err_set(err, ERR_INVALID, "period", "only membership schedules have a period");
    }
    if (rc == ERR_OK && kind != CLEARING_FEE_PERCENTAGE) {
        rc = zero(in->rate_bp, "rate_bp", k, err);
        if (rc == ERR_OK) {
            rc = zero(in->minimum, "minimum", k, err);
        }
        if (rc == ERR_OK) {
            rc = zero(in->cap, "cap", k, err);
        }
        if (rc == ERR_OK && in->fixed_amount <= 0) {
            rc = err_set(err, ERR_INVALID, "fixed_amount", "a %s schedule needs 'fixed_amount' > 0",
                         k);
        }
    }
    if (rc == ERR_OK && kind == CLEARING_FEE_PERCENTAGE) {
        rc = zero(in->fixed_amount, "fixed_amount", k, err);
    }
    if (rc == ERR_OK) {
        /* The rule's own range checks, on a probe amount. */
        struct clearing_fee_rule rule = {kind, in->rate_bp, in->minimum, in->cap, in->fixed_amount};
        int64_t fee = 0;
        rc = clearing_fee_of(1, &rule, &fee, err);
    }
    return rc;
}

enum err clearing_fee_schedule_rule(const struct store_fee_schedule *f,
                                    struct clearing_fee_rule *rule, struct errbuf *err)
{
    enum clearing_fee_kind kind;
    if (clearing_fee_kind_parse(f->kind, &kind) != ERR_OK) {
        return err_set(err, ERR_CORRUPT, "", "fee schedule '%s' has kind '%s'", f->id, f->kind);
    }
    struct clearing_fee_rule r = {kind, f->rate_bp, f->minimum, f->cap, f->fixed_amount};
    int64_t fee = 0;
    if (clearing_fee_of(1, &r, &fee, NULL) != ERR_OK) {
        return err_set(err, ERR_CORRUPT, "", "fee schedule '%s' is malformed", f->id);
    }
    *rule = r;
    return ERR_OK;
}

enum err clearing_fee_schedule_create(struct clearing *c, const struct clearing_actor *who,
                                      const struct clearing_fee_schedule_in *in,
                                      struct store_fee_schedule *out, struct errbuf *err)
{
    ASSERT(c != NULL && in != NULL && out != NULL);
    enum err rc = clearing__require(who, CLEARING__OPERATOR, "sets fee schedules", err);
    enum clearing_fee_kind kind = CLEARING_FEE_PERCENTAGE;
    if (rc == ERR_OK && clearing_fee_kind_parse(in->kind, &kind) != ERR_OK) {
        rc = err_set(err, ERR_INVALID, "kind", "'kind' must be percentage, fixed or membership");
    }
    if (rc == ERR_OK) {
        rc = schedule_check(in, kind, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_fee_schedule f;
    memset(&f, 0, sizeof(f));
    id_new(c->rng, "fee", f.id);
    snprintf(f.name, sizeof(f.name), "%s", in->name);
    snprintf(f.kind, sizeof(f.kind), "%s", clearing_fee_kind_name(kind));
    snprintf(f.currency, sizeof(f.currency), "%s", in->currency != NULL ? in->currency : "");
    f.rate_bp = in->rate_bp;
    f.minimum = in->minimum;
    f.cap = in->cap;
    f.fixed_amount = in->fixed_amount;
    snprintf(f.period, sizeof(f.period), "%s", in->period != NULL ? in->period : "");
    snprintf(f.actor, sizeof(f.actor), "%s", who->id);
    f.created_ms = clock_now(c->clock);
    json_t *body = NULL;
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_fee_schedule_latest_version(c->store, f.name, &f.version, err);
    if (rc == ERR_OK) {
        f.version++;
        body = clearing_fee_schedule_json(&f);
        rc = body != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK) {
        rc = store_event_append(c->store, "clearing.fee_schedule", who->id, f.id, f.created_ms,
                                body, &f.log_index, err);
    }
    if (rc == ERR_OK) {
        rc = store_fee_schedule_insert(c->store, &f, err);
    }
    json_decref(body);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc == ERR_OK) {
        *out = f;
    }
    return rc;
}

enum err clearing_fee_schedule_get(struct clearing *c, const char *id,
                                   struct store_fee_schedule *out, struct errbuf *err)
{
    if (!id_valid(id, "fee")) {
        return err_set(err, ERR_INVALID, "fee_schedule", "'%.32s' is not a fee schedule id",
                       id != NULL ? id : "");
    }
    return store_fee_schedule_get(c->store, id, out, err);
}

enum err clearing_fee_schedule_list(struct clearing *c, const char *name,
                                    struct store_fee_schedule **out, size_t *count,
                                    struct errbuf *err)
{
    if (name != NULL) {
        enum err rc = clearing__check_code(name, "name", err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return store_fee_schedule_list(c->store, name, out, count, err);
}

/* ---- membership ---- */

/* "2026-11" or "2026" for the period of a schedule that contains ms. */
static void period_key(const char *period, int64_t ms, char out[16])
{
    char t[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(ms, t);
    size_t n = strcmp(period, "year") == 0 ? 4 : 7;
    memcpy(out, t, n);
    out[n] = '\0';
}

enum err clearing_membership_charge(struct clearing *c, const struct clearing_actor *who,
                                    const char *schedule_id, const char *entity_id,
                                    struct store_ledger_transfer *out, int *replayed,
                                    struct errbuf *err)
{
    ASSERT(c != NULL && out != NULL && replayed != NULL);
    *replayed = 0;
    struct store_fee_schedule f;
    enum err rc =
        clearing__require(who, CLEARING__OPERATOR | CLEARING__SYSTEM, "charges memberships", err);
    if (rc == ERR_OK && !id_valid(entity_id, "ent")) {
        rc = err_set(err, ERR_INVALID, "entity", "'entity' must be an entity id");
    }
    if (rc == ERR_OK) {
        rc = clearing_fee_schedule_get(c, schedule_id, &f, err);
    }
    if (rc == ERR_OK && strcmp(f.kind, "membership") != 0) {
        rc = err_set(err, ERR_INVALID, "fee_schedule", "'%s' is not a membership schedule", f.id);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct clearing__op *op = NULL;
    rc = clearing__op_begin(c, "clearing.membership", who->id, &op, err);
    if (rc != ERR_OK) {
        return rc;
    }
    char period[16], key[STORE_LEDGER_KEY_MAX], hash[STORE_LEDGER_HASH_MAX], id[ID_MAX];
    period_key(f.period, op->now_ms, period);
    snprintf(key, sizeof(key), "m/%s/%s/%s", f.id, entity_id, period);
    struct clearing__hash h;
    clearing__hash_init(&h, "membership");
    clearing__hash_str(&h, f.id);
    clearing__hash_str(&h, entity_id);
    clearing__hash_str(&h, period);
    clearing__hash_final(&h, hash);
    clearing__transfer_id(c, who->id, key, op->now_ms, id);
    const char *ids[] = {id};
    int found = 0;
    rc = clearing__transfers_get(c, ids, 1, out, &found, err);
    if (rc != ERR_OK || found) {
        *replayed = found;
        goto out;
    }
    char status[STORE_KIND_MAX];
    rc = clearing__entity_status(c, entity_id, "entity", status, err);
    if (rc == ERR_OK && strcmp(status, "verified") != 0 && strcmp(status, "suspended") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "entity", "entity '%s' is %s", entity_id, status);
    }
    struct clearing__slot *fees = NULL;
    char avail[ID_MAX];
    clearing_account_id(entity_id, CLEARING_ACCOUNT_AVAILABLE, f.currency, avail);
    const char *acc[] = {avail};
    if (rc == ERR_OK) {
        rc = clearing__op_load(op, acc, 1, err);
    }
    if (rc == ERR_OK && clearing__op_find(op, avail) == NULL) {
        rc = err_set(err, ERR_BAD_STATE, "amount", "insufficient funds: '%s' has no %s account",
                     entity_id, f.currency);
    }
    if (rc == ERR_OK) {
        rc =
            clearing__op_open(op, CLEARING_EXCHANGE, CLEARING_ACCOUNT_FEES, f.currency, &fees, err);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    struct store_ledger_transfer t;
    memset(&t, 0, sizeof(t));
    snprintf(t.id, sizeof(t.id), "%s", id);
    snprintf(t.kind, sizeof(t.kind), "%s", "transfer");
    snprintf(t.debit_account, sizeof(t.debit_account), "%s", avail);
    snprintf(t.credit_account, sizeof(t.credit_account), "%s", fees->a.id);
    t.amount = f.fixed_amount;
    snprintf(t.currency, sizeof(t.currency), "%s", f.currency);
    snprintf(t.code, sizeof(t.code), "%s", "fee.membership");
    snprintf(t.reference, sizeof(t.reference), "%s v%" PRId64 " %s", f.name, f.version, period);
    snprintf(t.idempotency_key, sizeof(t.idempotency_key), "%s", key);
    snprintf(t.request_hash, sizeof(t.request_hash), "%s", hash);
    snprintf(op->subject, sizeof(op->subject), "%s", entity_id);
    rc = clearing__op_apply(op, &t, NULL, "amount", err);
    if (rc == ERR_OK) {
        op->extra = json_pack("{s:s, s:s}", "fee_schedule", f.id, "period", period);
        rc = op->extra != NULL ? clearing__op_commit(op, err)
                               : err_set(err, ERR_NOMEM, "", "out of memory in the ledger");
    }
    if (rc == ERR_OK) {
        *out = op->transfers[0];
    }
out:
    clearing__op_free(op);
    return rc;
}
