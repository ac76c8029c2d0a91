/*
 * pricing: reference prices for data products (design §2 step 5), by the three methods the
 * China Appraisal Society's guidance and the NDRC's Price Monitoring Center recognise, each
 * shown with its inputs and its arithmetic so that a provider, a buyer or a regulator can redo
 * it by hand:
 *
 *   - cost: the declared collection, processing, storage and labour costs plus a margin in
 *     basis points;
 *   - income: the buyer's expected benefit per period over the licence term, discounted at a
 *     rate in basis points per period (present value of an annuity, in fixed point);
 *   - market: comparable prices in the same category and kind (cleared trades once there are
 *     PRICING_TRADES_MIN of them, listing prices until then): their median and a range trimmed
 *     of outliers by the interquartile fence.
 *
 * and a suggested corridor over the methods that could be applied, and the chained price index
 * of a category's cleared trades (index.c). It also computes the
 * "headline" price of a price model (what a buyer pays for the whole licence term at the entry
 * level), which the catalogue filters on and compares with the corridor.
 *
 * Money is an int64 count of minor units of one ISO 4217 currency; the module never sees two
 * currencies at once and never uses floating point. Every intermediate product is computed in
 * 128 bits, and every result is checked against PRICING_AMOUNT_MAX: past it is ERR_LIMIT.
 * Divisions round half to even ("banker's rounding"), once, at the end of each quantity.
 * docs/pricing.md derives each formula and works the examples of tests/unit/pricing_test.c.
 *
 * The module is pure: no I/O, no clock, no allocation. Callers own every struct.
 */
#ifndef BOURSE_PRICING_H
#define BOURSE_PRICING_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- limits ----------------------------------------------------------------------------- */

/* Largest amount of money, in minor units: 10^15 fen is CNY 10 trillion, far above any data
 * trade, and small enough that three of them and a 10^6 scale still fit 128 bits easily. */
#define PRICING_AMOUNT_MAX ((int64_t)1000000000000000)
#define PRICING_BP 10000              /* basis points in 1 */
#define PRICING_MARGIN_BP_MAX 1000000 /* a margin of 100x the cost */
#define PRICING_RATE_BP_MAX 100000    /* a discount rate of 1000% per period */
#define PRICING_PERIODS_MAX 1200      /* 100 years of months */
#define PRICING_SCALE 1000000         /* fixed point of the discount factors: 10^-6 */
#define PRICING_COMPARABLES_MAX 2000  /* comparables the market method reads at most */
#define PRICING_COMPARABLES_MIN 3     /* fewer is not a market */
#define PRICING_FLAG_FACTOR 3         /* a price over 3x the corridor, or under 1/3, is flagged */
#define PRICING_TIERS_MAX 10          /* subscription tiers of one offer */
#define PRICING_TIER_NAME_MAX 33      /* bytes with the NUL */
#define PRICING_QPS_MAX 1000000
#define PRICING_DAYS_PER_MONTH 30 /* a licence term in days counts months of 30 days */
#define PRICING_DAYS_PER_YEAR 365
#define PRICING_STEPS_MAX 8       /* lines of arithmetic shown per method */
#define PRICING_STEP_TEXT_MAX 240 /* bytes of one line, with the NUL */
#define PRICING_CURRENCY_MAX 4

_Static_assert(PRICING_AMOUNT_MAX < INT64_MAX / 4, "sums of four costs fit int64");
_Static_assert((int64_t)PRICING_AMOUNT_MAX *PRICING_FLAG_FACTOR < INT64_MAX, "flag test fits");

/* ---- arithmetic ------------------------------------------------------------------------- */

/*
 * round(a * b / d) with ties to even, for a, b >= 0 and d > 0, computed in 128 bits. Errors:
 * ERR_LIMIT when the result exceeds INT64_MAX. ERR_INVALID for a negative operand or d <= 0.
 * *out is written only on success.
 */
enum err pricing_mul_div(int64_t a, int64_t b, int64_t d, int64_t *out);

/* a + b, ERR_LIMIT when the sum exceeds PRICING_AMOUNT_MAX (a, b in 0..PRICING_AMOUNT_MAX). */
enum err pricing_add(int64_t a, int64_t b, int64_t *out);

/* Median of sorted values (count >= 1); an even count averages the middle two, rounded half
 * to even. Cannot fail for values within +-PRICING_AMOUNT_MAX. */
int64_t pricing_median(const int64_t *sorted, size_t count);

/* Number of periods a licence of term_days covers, rounded up: a 31-day term is 2 months.
 * period_days is PRICING_DAYS_PER_MONTH or _YEAR; term_days >= 1. Cannot fail. */
int64_t pricing_periods(int64_t term_days, int64_t period_days);

/* ---- the methods ------------------------------------------------------------------------ */

enum pricing_method { PRICING_COST, PRICING_INCOME, PRICING_MARKET, PRICING_METHOD__COUNT };

/* "cost", "income", "market". */
const char *pricing_method_name(enum pricing_method m);

/* One line of shown arithmetic: "total cost = 120000 + 30000 + 10000 + 40000 = 200000". */
struct pricing_step {
    char text[PRICING_STEP_TEXT_MAX];
};

/* What one method found. When available is 0, reason says why (and value is 0). */
struct pricing_result {
    int available;
    int64_t value; /* the method's price for the whole licence, minor units */
    int64_t low;   /* market: the trimmed range; cost and income: value */
    int64_t high;
    size_t used;    /* market: comparables kept after trimming; else 0 */
    size_t dropped; /* market: outliers dropped */
    char reason[96];
    struct pricing_step steps[PRICING_STEPS_MAX];
    size_t step_count;
};

struct pricing_cost_inputs {
    int64_t collection;
    int64_t processing;
    int64_t storage;
    int64_t labour;
    int64_t margin_bp; /* 0..PRICING_MARGIN_BP_MAX */
};

struct pricing_income_inputs {
    int64_t benefit_per_period; /* minor units, 0..PRICING_AMOUNT_MAX */
    int64_t periods;            /* 1..PRICING_PERIODS_MAX */
    int64_t discount_rate_bp;   /* per period, 0..PRICING_RATE_BP_MAX */
};

/*
 * cost = C + round(C * margin_bp / 10000) where C is the sum of the four costs. Fills out with
 * the steps. Errors: ERR_INVALID (field named: "cost.labour") for a negative or out-of-range
 * input, ERR_LIMIT when a sum or the price exceeds PRICING_AMOUNT_MAX. out is always written.
 */
enum err pricing_cost(const struct pricing_cost_inputs *in, struct pricing_result *out,
                      struct errbuf *err);

/*
 * income = round(sum for t = 1..n of B * F_t / 10^6), where F_0 = 10^6 and
 * F_t = round(F_(t-1) * 10000 / (10000 + r)) is the discount factor after t periods in
 * fixed point (docs/pricing.md bounds the error). Errors as for pricing_cost.
 */
enum err pricing_income(const struct pricing_income_inputs *in, struct pricing_result *out,
                        struct errbuf *err);

/*
 * The market method over count comparable prices (borrowed; sorted here in place), each in
 * 1..PRICING_AMOUNT_MAX, at most PRICING_COMPARABLES_MAX. basis names where they came from
 * ("cleared trades", "listings") and is printed in the steps. Tukey's hinges give Q1 and Q3;
 * values outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR] are dropped; value is the median of the rest and
 * (low, high) their range. Fewer than PRICING_COMPARABLES_MIN values: not available (ERR_OK).
 * Errors: ERR_INVALID for a value out of range, ERR_LIMIT for too many values.
 */
enum err pricing_market(int64_t *values, size_t count, const char *basis,
                        struct pricing_result *out, struct errbuf *err);

/* The reference: each method's result and the suggested corridor. */
struct pricing_reference {
    char currency[PRICING_CURRENCY_MAX];
    struct pricing_result method[PRICING_METHOD__COUNT];
    int corridor_available;
    int64_t corridor_low;
    int64_t corridor_high;
    char corridor_basis[96]; /* "min/max of cost, income, market", "market band", ... */
};

/*
 * Sets the corridor from the methods already in r: with two or more methods available, the
 * minimum and maximum of their values; with the market method alone, its trimmed range; with
 * cost or income alone, that single value. Not available when no method is. Cannot fail.
 */
void pricing_corridor(struct pricing_reference *r);

/* Where a price sits against the corridor. */
enum pricing_flag {
    PRICING_FLAG_NONE,  /* within a factor of PRICING_FLAG_FACTOR, or nothing to compare */
    PRICING_FLAG_ABOVE, /* price > 3 x corridor high */
    PRICING_FLAG_BELOW, /* 3 x price < corridor low */
};

/* "", "above_reference", "below_reference". */
const char *pricing_flag_name(enum pricing_flag f);

/* Compares a price with a corridor (all within 0..PRICING_AMOUNT_MAX). Cannot fail. */
enum pricing_flag pricing_flag_of(int64_t price, int64_t low, int64_t high);

/* ---- price models ----------------------------------------------------------------------- */

enum pricing_model {
    PRICING_MODEL_FIXED,        /* one amount for the licence */
    PRICING_MODEL_NEGOTIABLE,   /* an ask, and optionally a floor the exchange keeps private */
    PRICING_MODEL_SUBSCRIPTION, /* a price per period for each QPS tier */
    PRICING_MODEL_PER_CALL,     /* a price per call, optionally a monthly minimum */
    PRICING_MODEL_AUCTION,      /* a reserve price and a deadline, for an exclusive licence */
    PRICING_MODEL__COUNT
};

enum pricing_period { PRICING_PERIOD_MONTH, PRICING_PERIOD_YEAR, PRICING_PERIOD__COUNT };

/* Names in JSON: "fixed", "negotiable", "subscription", "per_call", "auction"; "month",
 * "year". Parses return ERR_INVALID for an unknown name and leave *out alone. */
const char *pricing_model_name(enum pricing_model m);
enum err pricing_model_parse(const char *name, enum pricing_model *out);
const char *pricing_period_name(enum pricing_period p);
enum err pricing_period_parse(const char *name, enum pricing_period *out);
/* PRICING_DAYS_PER_MONTH or PRICING_DAYS_PER_YEAR. */
int64_t pricing_period_days(enum pricing_period p);

struct pricing_tier {
    char name[PRICING_TIER_NAME_MAX];
    int64_t qps;
    int64_t price; /* per period */
};

/* A validated price model (core parses it from JSON). Unused members are 0. */
struct pricing_offer {
    enum pricing_model model;
    char currency[PRICING_CURRENCY_MAX];
    int64_t amount;             /* fixed: the amount; negotiable: the ask; auction: the reserve;
                                   per_call: the price of one call */
    int64_t floor;              /* negotiable: the lowest acceptable, 0 when none */
    int64_t monthly_minimum;    /* per_call: 0 when none */
    enum pricing_period period; /* subscription */
    struct pricing_tier tiers[PRICING_TIERS_MAX];
    size_t tier_count;
    int64_t deadline_ms; /* auction */
};

/*
 * The headline price of an offer for a licence of term_days (1..): fixed, negotiable and
 * auction: their amount; subscription: the cheapest tier times the periods of the term;
 * per_call: the monthly minimum times the months of the term. *known is 0 (and *out 0) when
 * there is no headline (per_call without a minimum). Errors: ERR_LIMIT when it exceeds
 * PRICING_AMOUNT_MAX.
 */
enum err pricing_headline(const struct pricing_offer *o, int64_t term_days, int64_t *out,
                          int *known, struct errbuf *err);

/* ---- the price index ------------------------------------------------------------------ */

/*
 * A chained index of the prices of cleared trades, period by period (docs/pricing.md, "Price
 * index"). The base period is the first with a trade and stands at PRICING_INDEX_BASE_BP; each
 * later period with trades links to the previous period with trades by the ratio of their
 * medians: I_t = round(I_p * M_t / M_p), half to even. Periods without trades have no index and
 * the chain passes over them. Medians, not means, so that one outlying trade moves a period's
 * level by at most one rank.
 */
#define PRICING_INDEX_BASE_BP 10000
#define PRICING_INDEX_PERIODS_MAX 120   /* ten years of months */
#define PRICING_INDEX_TRADES_MAX 200000 /* trades one index reads: 1.6 MB of values */
#define PRICING_INDEX_BP_MAX                                                                       \
    ((int64_t)1000000000000) /* 10^8 times the base: past it is ERR_LIMIT */
/* Cleared trades the market method needs before it prefers them to listing prices: with fewer,
 * the interquartile fence has nothing to stand on (PRICING_COMPARABLES_MIN for the same
 * reason). */
#define PRICING_TRADES_MIN PRICING_COMPARABLES_MIN

/* I_p * M_t is at most 10^12 * 10^15 < 2^100: pricing_mul_div forms it exactly in 128 bits. */
_Static_assert(PRICING_INDEX_BP_MAX < INT64_MAX, "an index fits int64");

struct pricing_index_period {
    int64_t count;    /* trades in the period */
    int64_t sum;      /* their total value, minor units */
    int64_t median;   /* of their values; 0 when count is 0 */
    int64_t index_bp; /* the chained index; 0 (none) when count is 0 */
};

/*
 * The index over period_count periods (1..PRICING_INDEX_PERIODS_MAX). values holds each
 * period's trade values one period after another, counts[i] of them for period i (values is
 * borrowed and each period's run is sorted here in place). Fills out[0..period_count). Errors:
 * ERR_INVALID for a value outside 1..PRICING_AMOUNT_MAX or a negative count, ERR_LIMIT for
 * more than PRICING_INDEX_TRADES_MAX values, a sum past INT64_MAX, an index past
 * PRICING_INDEX_BP_MAX or a period_count outside 1..PRICING_INDEX_PERIODS_MAX (field
 * "periods"; out is then left alone). Otherwise out is written, zeros on error.
 */
enum err pricing_index(int64_t *values, const int64_t *counts, size_t period_count,
                       struct pricing_index_period *out, struct errbuf *err);

#endif
