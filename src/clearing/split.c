/*
 * split.c: the exchange fee and the settlement split, in integers only.
 *
 * Rounding rule: every recipient but the provider gets floor(amount * bp / 10000) (the fee is
 * clamped to its minimum and cap, and to the amount); the provider gets the remainder,
 * amount - fee - sum(shares). The legs therefore sum to the amount by construction: no unit is
 * created or lost, and every rounding unit (at most one per share) goes to the provider.
 * Each term is >= 0, and the provider's remainder is checked to be >= 0, so every leg is a
 * valid amount. Proof sketch in docs/decisions/0004-ledger.md; property tests in
 * tests/unit/clearing_test.c.
 *
 * floor(a * bp / 10000) is computed without overflow as q * bp + floor(r * bp / 10000) with
 * a = q * 10000 + r: q * bp <= a because bp <= 10000, and r * bp < 10^8.
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "clearing/clearing_int.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* floor(amount * bp / 10000) for amount >= 0, 0 <= bp <= 10000. Cannot fail or overflow. */
static int64_t bp_of(int64_t amount, int64_t bp)
{
    ASSERT(amount >= 0);
    ASSERT(bp >= 0 && bp <= CLEARING_BP_ONE);
    int64_t q = amount / CLEARING_BP_ONE;
    int64_t r = amount % CLEARING_BP_ONE;
    int64_t v = q * bp + (r * bp) / CLEARING_BP_ONE;
    ASSERT(v >= 0 && v <= amount);
    return v;
}

static enum err rule_valid(const struct clearing_fee_rule *rule, struct errbuf *err)
{
    if ((unsigned)rule->kind >= CLEARING_FEE__COUNT) {
        return err_set(err, ERR_INVALID, "kind", "unknown fee kind");
    }
    if (rule->rate_bp < 0 || rule->rate_bp > CLEARING_BP_ONE) {
        return err_set(err, ERR_INVALID, "rate_bp", "'rate_bp' must be 0 to %d", CLEARING_BP_ONE);
    }
    if (rule->minimum < 0 || rule->cap < 0 || rule->fixed_amount < 0) {
        return err_set(err, ERR_INVALID, "minimum",
                       "'minimum', 'cap' and 'fixed_amount' must not be negative");
    }
    if (rule->cap != 0 && rule->cap < rule->minimum) {
        return err_set(err, ERR_INVALID, "cap", "'cap' must be 0 (none) or at least 'minimum'");
    }
    return ERR_OK;
}

enum err clearing_fee_of(int64_t amount, const struct clearing_fee_rule *rule, int64_t *fee,
                         struct errbuf *err)
{
    ASSERT(rule != NULL && fee != NULL);
    if (amount <= 0) {
        return err_set(err, ERR_INVALID, "amount", "'amount' must be positive");
    }
    enum err rc = rule_valid(rule, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int64_t f = 0;
    switch (rule->kind) {
    case CLEARING_FEE_PERCENTAGE:
        f = bp_of(amount, rule->rate_bp);
        f = f < rule->minimum ? rule->minimum : f;
        f = rule->cap != 0 && f > rule->cap ? rule->cap : f;
        break;
    case CLEARING_FEE_FIXED:
        f = rule->fixed_amount;
        break;
    case CLEARING_FEE_MEMBERSHIP:
    default:
        f = 0;
        break;
    }
    /* The fee never exceeds what is settled. */
    f = f > amount ? amount : f;
    ASSERT(f >= 0 && f <= amount);
    *fee = f;
    return ERR_OK;
}

/* Checks one list of shares and adds its bp to *total_bp. */
static enum err shares_valid(const int64_t *bp, size_t count, const char *field, int64_t *total_bp,
                             struct errbuf *err)
{
    if (count > CLEARING_SHARES_MAX) {
        return err_set(err, ERR_INVALID, field, "at most %d '%s' shares", CLEARING_SHARES_MAX,
                       field);
    }
    for (size_t i = 0; i < count; i++) {
        if (bp[i] < 0 || bp[i] > CLEARING_BP_ONE) {
            return err_set(err, ERR_INVALID, field, "'%s' shares must be 0 to %d basis points",
                           field, CLEARING_BP_ONE);
        }
        *total_bp += bp[i];
    }
    return ERR_OK;
}

enum err clearing_split(int64_t amount, const struct clearing_fee_rule *rule,
                        const int64_t *broker_bp, size_t broker_count, const int64_t *revenue_bp,
                        size_t revenue_count, struct clearing_split *out, struct errbuf *err)
{
    ASSERT(rule != NULL && out != NULL);
    ASSERT(broker_count == 0 || broker_bp != NULL);
    ASSERT(revenue_count == 0 || revenue_bp != NULL);
    struct clearing_split s;
    memset(&s, 0, sizeof(s));
    int64_t total_bp = 0;
    enum err rc = shares_valid(broker_bp, broker_count, "brokers", &total_bp, err);
    if (rc == ERR_OK) {
        rc = shares_valid(revenue_bp, revenue_count, "revenue", &total_bp, err);
    }
    if (rc == ERR_OK && total_bp > CLEARING_BP_ONE) {
        rc = err_set(err, ERR_INVALID, "brokers", "shares add up to %lld basis points, over %d",
                     (long long)total_bp, CLEARING_BP_ONE);
    }
    if (rc == ERR_OK) {
        rc = clearing_fee_of(amount, rule, &s.fee, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    /* Each term is at most amount * its bp / 10000, so their sum is at most amount and the
     * running remainder below never leaves [0, amount]. */
    int64_t rest = amount - s.fee;
    for (size_t i = 0; i < broker_count; i++) {
        s.brokers[i] = bp_of(amount, broker_bp[i]);
        rest -= s.brokers[i];
    }
    for (size_t i = 0; i < revenue_count; i++) {
        s.revenue[i] = bp_of(amount, revenue_bp[i]);
        rest -= s.revenue[i];
    }
    if (rest < 0) {
        return err_set(err, ERR_INVALID, "amount",
                       "a fee of %lld and shares of %lld leave the provider less than nothing",
                       (long long)s.fee, (long long)(amount - s.fee - rest));
    }
    s.provider = rest;
    /* The pair assertion of the rule above: the legs sum to the amount exactly. */
    int64_t sum = s.fee + s.provider;
    for (size_t i = 0; i < broker_count; i++) {
        sum += s.brokers[i];
    }
    for (size_t i = 0; i < revenue_count; i++) {
        sum += s.revenue[i];
    }
    ASSERT(sum == amount);
    *out = s;
    return ERR_OK;
}
