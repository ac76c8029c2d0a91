/*
 * contract_term.c: when a contract's licence to use the data ends.
 *
 * The licence's term (term_days) is written only in the signed document, and no state of the
 * contract row says that it ran out: a single-payment contract stays "active" until it is
 * delivered, and "delivered" until it is accepted (the acceptance window may be longer than
 * the term), and a subscription stays "active" after its last period ends until the contract
 * clock's next tick settles it. So whoever grants a use of the data (the delivery module's
 * download tokens) asks this function at the moment of the use, which makes an ended term
 * stop deliveries at once rather than at the next state change.
 */
#include "util/compat.h"
#include "core/core.h"

#include <string.h>

#include "util/banned.h"

#define DAY_MS ((int64_t)86400000)

/* The licence's term_days as the stored document says. */
static enum err document_term_days(const struct store_contract *k, int64_t *days,
                                   struct errbuf *err)
{
    json_error_t jerr;
    json_t *doc = json_loads(k->document, 0, &jerr);
    if (doc == NULL) {
        return err_set(err, ERR_CORRUPT, "", "contract '%s' has a malformed document", k->id);
    }
    json_t *term = json_object_get(json_object_get(doc, "licence"), "term_days");
    *days = json_is_integer(term) ? (int64_t)json_integer_value(term) : 0;
    json_decref(doc);
    /* Proposals refuse any other term, so another value here is damage, not a licence. */
    if (*days < 1 || *days > CORE_TERM_DAYS_MAX) {
        return err_set(err, ERR_CORRUPT, "", "contract '%s' has no licence term in its document",
                       k->id);
    }
    return ERR_OK;
}

enum err core_contract_licence_end(const struct store_contract *k, int64_t *end_ms,
                                   struct errbuf *err)
{
    ASSERT(k != NULL && end_ms != NULL);
    *end_ms = 0;
    if (k->activated_ms <= 0) {
        return ERR_OK; /* never active: nothing was licensed */
    }
    int64_t days = 0;
    enum err rc = document_term_days(k, &days, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int64_t end = k->activated_ms + days * DAY_MS;
    /* A subscription in its last period is licensed until that period ends, if sooner. */
    int last_period = strcmp(k->plan, "periodic") == 0 && k->period + 1 >= k->periods;
    if (last_period && k->period_end_ms > 0 && k->period_end_ms < end) {
        end = k->period_end_ms;
    }
    ASSERT(end > 0);
    *end_ms = end;
    return ERR_OK;
}
