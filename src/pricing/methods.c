/*
 * methods.c: the three reference-price methods, the corridor, the flag, and the headline price
 * of an offer. Each method writes the lines of arithmetic it did into its result, in minor
 * units, so that the answer shows how it was reached (design §2 step 5; docs/pricing.md).
 */
#include "util/compat.h"
#include "pricing/pricing.h"
#include "pricing/pricing_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* ---- names ---- */

static const char *const method_names[PRICING_METHOD__COUNT] = {"cost", "income", "market"};
static const char *const model_names[PRICING_MODEL__COUNT] = {
    "fixed", "negotiable", "subscription", "per_call", "auction",
};
static const char *const period_names[PRICING_PERIOD__COUNT] = {"month", "year"};

const char *pricing_method_name(enum pricing_method m)
{
    ASSERT((unsigned)m < PRICING_METHOD__COUNT);
    return method_names[m];
}

const char *pricing_model_name(enum pricing_model m)
{
    ASSERT((unsigned)m < PRICING_MODEL__COUNT);
    return model_names[m];
}

enum err pricing_model_parse(const char *name, enum pricing_model *out)
{
    for (size_t i = 0; name != NULL && i < PRICING_MODEL__COUNT; i++) {
        if (strcmp(model_names[i], name) == 0) {
            *out = (enum pricing_model)i;
            return ERR_OK;
        }
    }
    return ERR_INVALID;
}

const char *pricing_period_name(enum pricing_period p)
{
    ASSERT((unsigned)p < PRICING_PERIOD__COUNT);
    return period_names[p];
}

enum err pricing_period_parse(const char *name, enum pricing_period *out)
{
    for (size_t i = 0; name != NULL && i < PRICING_PERIOD__COUNT; i++) {
        if (strcmp(period_names[i], name) == 0) {
            *out = (enum pricing_period)i;
            return ERR_OK;
        }
    }
    return ERR_INVALID;
}

int64_t pricing_period_days(enum pricing_period p)
{
    ASSERT((unsigned)p < PRICING_PERIOD__COUNT);
    return p == PRICING_PERIOD_MONTH ? PRICING_DAYS_PER_MONTH : PRICING_DAYS_PER_YEAR;
}

const char *pricing_flag_name(enum pricing_flag f)
{
    switch (f) {
    case PRICING_FLAG_ABOVE:
        return "above_reference";
    case PRICING_FLAG_BELOW:
        return "below_reference";
    default:
        return "";
    }
}

/* ---- shown arithmetic ---- */

static void result_init(struct pricing_result *r)
{
    memset(r, 0, sizeof(*r));
}

/* Appends a line; a line longer than the buffer ends in "..." (the value is in the result). */
static void step_add(struct pricing_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void step_add(struct pricing_result *r, const char *fmt, ...)
{
    ASSERT(r->step_count < PRICING_STEPS_MAX);
    char *text = r->steps[r->step_count].text;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, PRICING_STEP_TEXT_MAX, fmt, ap);
    va_end(ap);
    if (n >= PRICING_STEP_TEXT_MAX) {
        memcpy(text + PRICING_STEP_TEXT_MAX - 4, "...", 4);
    }
    r->step_count++;
}

static enum err unavailable(struct pricing_result *r, const char *reason)
{
    r->available = 0;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    return ERR_OK;
}

static enum err amount_check(int64_t v, const char *field, struct errbuf *err)
{
    if (v < 0) {
        return err_set(err, ERR_INVALID, field, "'%s' must not be negative", field);
    }
    if (v > PRICING_AMOUNT_MAX) {
        return err_set(err, ERR_LIMIT, field, "'%s' is over %" PRId64 " minor units", field,
                       PRICING_AMOUNT_MAX);
    }
    return ERR_OK;
}

static enum err over_limit(const char *what, struct errbuf *err)
{
    return err_set(err, ERR_LIMIT, "", "%s is over %" PRId64 " minor units", what,
                   PRICING_AMOUNT_MAX);
}

/* ---- cost ---- */

enum err pricing_cost(const struct pricing_cost_inputs *in, struct pricing_result *out,
                      struct errbuf *err)
{
    ASSERT(in != NULL && out != NULL);
    result_init(out);
    const int64_t parts[] = {in->collection, in->processing, in->storage, in->labour};
    static const char *const fields[] = {"cost.collection", "cost.processing", "cost.storage",
                                         "cost.labour"};
    int64_t total = 0;
    for (size_t i = 0; i < ARRAY_LEN(parts); i++) {
        enum err rc = amount_check(parts[i], fields[i], err);
        if (rc == ERR_OK && pricing_add(total, parts[i], &total) != ERR_OK) {
            rc = over_limit("the total cost", err);
        }
        if (rc != ERR_OK) {
            return rc;
        }
    }
    if (in->margin_bp < 0 || in->margin_bp > PRICING_MARGIN_BP_MAX) {
        return err_set(err, ERR_INVALID, "cost.margin_bp", "'cost.margin_bp' must be 0 to %d",
                       PRICING_MARGIN_BP_MAX);
    }
    int64_t margin = 0;
    enum err rc = pricing_mul_div(total, in->margin_bp, PRICING_BP, &margin);
    int64_t price = 0;
    if (rc != ERR_OK || margin > PRICING_AMOUNT_MAX ||
        pricing_add(total, margin, &price) != ERR_OK) {
        return over_limit("the cost price", err);
    }
    step_add(out,
             "C = collection + processing + storage + labour = %" PRId64 " + %" PRId64 " + %" PRId64
             " + %" PRId64 " = %" PRId64,
             parts[0], parts[1], parts[2], parts[3], total);
    step_add(out,
             "margin = round(C * %" PRId64 " bp / 10000) = round(%" PRId64 " * %" PRId64
             " / 10000) = %" PRId64,
             in->margin_bp, total, in->margin_bp, margin);
    step_add(out, "cost price = C + margin = %" PRId64 " + %" PRId64 " = %" PRId64, total, margin,
             price);
    out->available = 1;
    out->value = price;
    out->low = price;
    out->high = price;
    return ERR_OK;
}

/* ---- income ---- */

/* Formats the factors F_1..F_n, eliding the middle of a long list. */
static void factors_step(struct pricing_result *out, const int64_t *shown, size_t shown_count,
                         int64_t last, int64_t n)
{
    char list[PRICING_STEP_TEXT_MAX];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < shown_count; i++) {
        int w = snprintf(list + used, sizeof(list) - used, "%sF_%zu = %" PRId64, i > 0 ? ", " : "",
                         i + 1, shown[i]);
        if (w < 0 || (size_t)w >= sizeof(list) - used) {
            break;
        }
        used += (size_t)w;
    }
    if (n > (int64_t)shown_count) {
        snprintf(list + used, sizeof(list) - used, ", ..., F_%" PRId64 " = %" PRId64, n, last);
    }
    step_add(out, "%s", list);
}

enum err pricing_income(const struct pricing_income_inputs *in, struct pricing_result *out,
                        struct errbuf *err)
{
    ASSERT(in != NULL && out != NULL);
    result_init(out);
    enum err rc = amount_check(in->benefit_per_period, "income.benefit_per_period", err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (in->periods < 1 || in->periods > PRICING_PERIODS_MAX) {
        return err_set(err, ERR_INVALID, "income.periods", "'income.periods' must be 1 to %d",
                       PRICING_PERIODS_MAX);
    }
    if (in->discount_rate_bp < 0 || in->discount_rate_bp > PRICING_RATE_BP_MAX) {
        return err_set(err, ERR_INVALID, "income.discount_rate_bp",
                       "'income.discount_rate_bp' must be 0 to %d", PRICING_RATE_BP_MAX);
    }
    enum { SHOWN = 4 };
    int64_t shown[SHOWN];
    size_t shown_count = 0;
    int64_t factor = PRICING_SCALE;
    int64_t factor_sum = 0; /* at most 1200 * 10^6: fits easily */
    for (int64_t t = 1; t <= in->periods; t++) {
        rc = pricing_mul_div(factor, PRICING_BP, PRICING_BP + in->discount_rate_bp, &factor);
        ASSERT(rc == ERR_OK); /* factor <= 10^6, so the product is below 10^10 */
        ASSERT(factor >= 0 && factor <= PRICING_SCALE);
        factor_sum += factor;
        if (shown_count < SHOWN && (t <= SHOWN - 1 || t == in->periods)) {
            shown[shown_count++] = factor;
        }
    }
    int64_t pv = 0;
    rc = pricing_mul_div(in->benefit_per_period, factor_sum, PRICING_SCALE, &pv);
    if (rc != ERR_OK || pv > PRICING_AMOUNT_MAX) {
        return over_limit("the income price", err);
    }
    step_add(out,
             "B = %" PRId64 " per period, n = %" PRId64 " periods, r = %" PRId64 " bp per period",
             in->benefit_per_period, in->periods, in->discount_rate_bp);
    step_add(out,
             "F_0 = 10^6; F_t = round(F_(t-1) * 10000 / (10000 + %" PRId64
             ")): the value of 1 after t periods, in millionths",
             in->discount_rate_bp);
    int64_t last = shown[shown_count - 1];
    factors_step(out, shown, shown_count == SHOWN && in->periods > SHOWN ? SHOWN - 1 : shown_count,
                 last, in->periods);
    step_add(out,
             "A = F_1 + ... + F_%" PRId64 " = %" PRId64 " (annuity factor %" PRId64 ".%06" PRId64
             ")",
             in->periods, factor_sum, factor_sum / PRICING_SCALE, factor_sum % PRICING_SCALE);
    step_add(out,
             "income price = round(B * A / 10^6) = round(%" PRId64 " * %" PRId64
             " / 1000000) = %" PRId64,
             in->benefit_per_period, factor_sum, pv);
    out->available = 1;
    out->value = pv;
    out->low = pv;
    out->high = pv;
    return ERR_OK;
}

/* ---- market ---- */

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Appends values[0..count) to a step line as "v1, v2, ..."; elides past the buffer. */
static void values_step(struct pricing_result *out, const char *head, const int64_t *values,
                        size_t count)
{
    char line[PRICING_STEP_TEXT_MAX];
    int used = snprintf(line, sizeof(line), "%s", head);
    for (size_t i = 0; i < count && used >= 0 && (size_t)used < sizeof(line); i++) {
        int w = snprintf(line + used, sizeof(line) - (size_t)used, "%s%" PRId64, i > 0 ? ", " : "",
                         values[i]);
        if (w < 0 || (size_t)w >= sizeof(line) - (size_t)used) {
            break;
        }
        used += w;
    }
    step_add(out, "%s", line);
}

enum err pricing_market(int64_t *values, size_t count, const char *basis,
                        struct pricing_result *out, struct errbuf *err)
{
    ASSERT(out != NULL && basis != NULL);
    ASSERT(values != NULL || count == 0);
    result_init(out);
    if (count > PRICING_COMPARABLES_MAX) {
        return err_set(err, ERR_LIMIT, "", "more than %d comparables", PRICING_COMPARABLES_MAX);
    }
    for (size_t i = 0; i < count; i++) {
        if (values[i] < 1 || values[i] > PRICING_AMOUNT_MAX) {
            return err_set(err, ERR_INVALID, "", "comparable %zu is out of range", i);
        }
    }
    if (count < PRICING_COMPARABLES_MIN) {
        char reason[96];
        snprintf(reason, sizeof(reason), "%zu comparable %s in this category and kind, %d needed",
                 count, basis, PRICING_COMPARABLES_MIN);
        return unavailable(out, reason);
    }
    qsort(values, count, sizeof(values[0]), compare_int64);
    char head[96];
    snprintf(head, sizeof(head), "%zu comparable %s, sorted: ", count, basis);
    values_step(out, head, values, count);
    /* Tukey's hinges: the medians of the lower and upper halves, without the middle value
     * when the count is odd. */
    size_t half = count / 2;
    int64_t q1 = pricing_median(values, half);
    int64_t q3 = pricing_median(values + (count - half), half);
    int64_t iqr = q3 - q1;
    int64_t fence = 0;
    enum err rc = pricing_mul_div(iqr, 3, 2, &fence);
    ASSERT(rc == ERR_OK); /* iqr <= 10^15 */
    int64_t lo = q1 - fence;
    int64_t hi = q3 + fence;
    step_add(out,
             "Q1 = %" PRId64 ", Q3 = %" PRId64 ", IQR = %" PRId64 ", fences = [Q1 - 1.5 IQR, Q3 + "
             "1.5 IQR] = [%" PRId64 ", %" PRId64 "]",
             q1, q3, iqr, lo, hi);
    /* The kept values are a contiguous run of the sorted array. */
    size_t first = 0;
    size_t end = count;
    while (first < count && values[first] < lo) {
        first++;
    }
    while (end > first && values[end - 1] > hi) {
        end--;
    }
    out->used = end - first;
    out->dropped = count - out->used;
    ASSERT(out->used >= 1); /* the median lies within the fences */
    if (out->dropped == 0) {
        step_add(out, "no value lies outside the fences");
    } else {
        int64_t outliers[PRICING_COMPARABLES_MAX];
        size_t k = 0;
        for (size_t i = 0; i < count; i++) {
            if (i < first || i >= end) {
                outliers[k++] = values[i];
            }
        }
        snprintf(head, sizeof(head), "dropped %zu outlier(s): ", out->dropped);
        values_step(out, head, outliers, k);
    }
    out->value = pricing_median(values + first, out->used);
    out->low = values[first];
    out->high = values[end - 1];
    step_add(out,
             "market price = median of the %zu kept = %" PRId64 "; trimmed range [%" PRId64
             ", %" PRId64 "]",
             out->used, out->value, out->low, out->high);
    out->available = 1;
    return ERR_OK;
}

/* ---- corridor and flag ---- */

void pricing_corridor(struct pricing_reference *r)
{
    ASSERT(r != NULL);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    size_t n = 0;
    char names[64] = "";
    size_t used = 0;
    for (size_t m = 0; m < PRICING_METHOD__COUNT; m++) {
        const struct pricing_result *res = &r->method[m];
        if (!res->available) {
            continue;
        }
        lo = res->value < lo ? res->value : lo;
        hi = res->value > hi ? res->value : hi;
        int w = snprintf(names + used, sizeof(names) - used, "%s%s", n > 0 ? ", " : "",
                         pricing_method_name((enum pricing_method)m));
        if (w > 0 && (size_t)w < sizeof(names) - used) {
            used += (size_t)w;
        }
        n++;
    }
    r->corridor_available = n > 0;
    if (n == 0) {
        r->corridor_low = 0;
        r->corridor_high = 0;
        snprintf(r->corridor_basis, sizeof(r->corridor_basis), "no method could be applied");
        return;
    }
    if (n == 1 && r->method[PRICING_MARKET].available) {
        r->corridor_low = r->method[PRICING_MARKET].low;
        r->corridor_high = r->method[PRICING_MARKET].high;
        snprintf(r->corridor_basis, sizeof(r->corridor_basis), "market band (trimmed range)");
        return;
    }
    r->corridor_low = lo;
    r->corridor_high = hi;
    snprintf(r->corridor_basis, sizeof(r->corridor_basis), "%s of %s",
             n > 1 ? "min/max" : "the single method", names);
    ASSERT(r->corridor_low <= r->corridor_high);
}

enum pricing_flag pricing_flag_of(int64_t price, int64_t low, int64_t high)
{
    ASSERT(price >= 0 && price <= PRICING_AMOUNT_MAX);
    ASSERT(low >= 0 && low <= high && high <= PRICING_AMOUNT_MAX);
    if (price > high * PRICING_FLAG_FACTOR) {
        return PRICING_FLAG_ABOVE;
    }
    if (price * PRICING_FLAG_FACTOR < low) {
        return PRICING_FLAG_BELOW;
    }
    return PRICING_FLAG_NONE;
}

/* ---- headline ---- */

enum err pricing_headline(const struct pricing_offer *o, int64_t term_days, int64_t *out,
                          int *known, struct errbuf *err)
{
    ASSERT(o != NULL && out != NULL && known != NULL);
    ASSERT(term_days >= 1);
    *out = 0;
    *known = 0;
    int64_t unit = 0;
    int64_t periods = 1;
    switch (o->model) {
    case PRICING_MODEL_FIXED:
    case PRICING_MODEL_NEGOTIABLE:
    case PRICING_MODEL_AUCTION:
        unit = o->amount;
        break;
    case PRICING_MODEL_SUBSCRIPTION:
        ASSERT(o->tier_count >= 1);
        unit = o->tiers[0].price;
        for (size_t i = 1; i < o->tier_count; i++) {
            unit = o->tiers[i].price < unit ? o->tiers[i].price : unit;
        }
        periods = pricing_periods(term_days, pricing_period_days(o->period));
        break;
    case PRICING_MODEL_PER_CALL:
        if (o->monthly_minimum <= 0) {
            return ERR_OK;
        }
        unit = o->monthly_minimum;
        periods = pricing_periods(term_days, PRICING_DAYS_PER_MONTH);
        break;
    default:
        ASSERT(0 && "unknown price model");
    }
    int64_t total = 0;
    if (pricing_mul_div(unit, periods, 1, &total) != ERR_OK || total > PRICING_AMOUNT_MAX) {
        return over_limit("the price for the whole term", err);
    }
    *out = total;
    *known = 1;
    return ERR_OK;
}
