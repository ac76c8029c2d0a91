/*
 * pricing_test.c: the reference-price arithmetic against examples computed by hand (each is
 * worked in docs/pricing.md): the cost method with its margin, the income method's discount
 * factors and present value, the market method's hinges, fences and trimmed median, the
 * corridor and the flag, the headline price of each offer model; ties rounded to even at
 * every division, the 128-bit products, and overflow reported as ERR_LIMIT.
 */
#include "util/compat.h"
#include "pricing/pricing.h"
#include "pricing/pricing_int.h"

#include "test_support.h"

#include <stdio.h>

static int has_step(const struct pricing_result *r, const char *needle)
{
    for (size_t i = 0; i < r->step_count; i++) {
        if (strstr(r->steps[i].text, needle) != NULL) {
            return 1;
        }
    }
    return 0;
}

static void test_pricing__mul_div_rounds_half_to_even(void **state)
{
    (void)state;
    int64_t v = -1;
    assert_int_equal(pricing_mul_div(1, 1, 2, &v), ERR_OK); /* 0.5 -> 0 */
    assert_int_equal(v, 0);
    assert_int_equal(pricing_mul_div(3, 1, 2, &v), ERR_OK); /* 1.5 -> 2 */
    assert_int_equal(v, 2);
    assert_int_equal(pricing_mul_div(5, 1, 2, &v), ERR_OK); /* 2.5 -> 2 */
    assert_int_equal(v, 2);
    assert_int_equal(pricing_mul_div(7, 1, 2, &v), ERR_OK); /* 3.5 -> 4 */
    assert_int_equal(v, 4);
    assert_int_equal(pricing_mul_div(333, 1250, 10000, &v), ERR_OK); /* 41.625 -> 42 */
    assert_int_equal(v, 42);
    assert_int_equal(pricing_mul_div(2, 1, 3, &v), ERR_OK); /* 0.667 -> 1 */
    assert_int_equal(v, 1);
    assert_int_equal(pricing_mul_div(1, 1, 3, &v), ERR_OK); /* 0.333 -> 0 */
    assert_int_equal(v, 0);
    assert_int_equal(pricing_mul_div(-1, 1, 3, &v), ERR_INVALID);
    assert_int_equal(pricing_mul_div(1, 1, 0, &v), ERR_INVALID);
}

static void test_pricing__mul_div_uses_128_bits(void **state)
{
    (void)state;
    int64_t v = 0;
    /* 10^15 * 10^15 = 10^30 does not fit 64 bits; divided back it is exact. */
    assert_int_equal(
        pricing_mul_div(PRICING_AMOUNT_MAX, PRICING_AMOUNT_MAX, PRICING_AMOUNT_MAX, &v), ERR_OK);
    assert_int_equal(v, PRICING_AMOUNT_MAX);
    assert_int_equal(pricing_mul_div(INT64_MAX, INT64_MAX, INT64_MAX, &v), ERR_OK);
    assert_int_equal(v, INT64_MAX);
    /* (2^63 - 1) * 2 / 1 overflows the result. */
    v = 7;
    assert_int_equal(pricing_mul_div(INT64_MAX, 2, 1, &v), ERR_LIMIT);
    assert_int_equal(v, 7);
    struct pricing__u128 p = pricing__mul(UINT64_MAX, UINT64_MAX);
    assert_true(p.hi == UINT64_MAX - 1 && p.lo == 1); /* (2^64-1)^2 = 2^128 - 2^65 + 1 */
    p = pricing__mul(UINT64_C(0x100000000), UINT64_C(0x100000000));
    assert_true(p.hi == 1 && p.lo == 0);
    /* A quotient that rounds up past INT64_MAX. */
    struct pricing__u128 x = pricing__mul((uint64_t)INT64_MAX, 2);
    x.lo += 1; /* 2 * (2^63 - 1) + 1: / 2 = 2^63 - 0.5, a tie rounding to 2^63 */
    assert_int_equal(pricing__div_round(x, 2, &v), ERR_LIMIT);
}

static void test_pricing__median_and_periods(void **state)
{
    (void)state;
    const int64_t a[] = {1, 2};
    const int64_t b[] = {1, 4};
    const int64_t c[] = {-3, 0};
    const int64_t d[] = {5, 9, 100};
    assert_int_equal(pricing_median(a, 2), 2);  /* 1.5 -> 2 */
    assert_int_equal(pricing_median(b, 2), 2);  /* 2.5 -> 2 */
    assert_int_equal(pricing_median(c, 2), -2); /* -1.5 -> -2 */
    assert_int_equal(pricing_median(d, 3), 9);
    assert_int_equal(pricing_periods(365, PRICING_DAYS_PER_MONTH), 13);
    assert_int_equal(pricing_periods(360, PRICING_DAYS_PER_MONTH), 12);
    assert_int_equal(pricing_periods(1, PRICING_DAYS_PER_YEAR), 1);
    assert_int_equal(pricing_periods(366, PRICING_DAYS_PER_YEAR), 2);
}

static void test_pricing__cost_method(void **state)
{
    (void)state;
    struct pricing_result r;
    struct pricing_cost_inputs in = {120000, 30000, 10000, 40000, 2500};
    assert_int_equal(pricing_cost(&in, &r, NULL), ERR_OK);
    assert_true(r.available);
    assert_int_equal(r.value, 250000);
    assert_true(has_step(&r, "120000 + 30000 + 10000 + 40000 = 200000"));
    assert_true(has_step(&r, "round(200000 * 2500 / 10000) = 50000"));
    /* A margin that lands on half a fen rounds to even. */
    struct pricing_cost_inputs tie = {1, 0, 0, 0, 5000};
    assert_int_equal(pricing_cost(&tie, &r, NULL), ERR_OK);
    assert_int_equal(r.value, 1); /* 1 + round(0.5) = 1 + 0 */
    struct pricing_cost_inputs tie3 = {3, 0, 0, 0, 5000};
    assert_int_equal(pricing_cost(&tie3, &r, NULL), ERR_OK);
    assert_int_equal(r.value, 5); /* 3 + round(1.5) = 3 + 2 */
}

static void test_pricing__cost_refuses_bad_input_and_overflow(void **state)
{
    (void)state;
    struct pricing_result r;
    struct errbuf err;
    errbuf_init(&err);
    struct pricing_cost_inputs neg = {1, -1, 0, 0, 0};
    assert_int_equal(pricing_cost(&neg, &r, &err), ERR_INVALID);
    assert_string_equal(err.field, "cost.processing");
    struct pricing_cost_inputs margin = {1, 1, 0, 0, PRICING_MARGIN_BP_MAX + 1};
    assert_int_equal(pricing_cost(&margin, &r, &err), ERR_INVALID);
    assert_string_equal(err.field, "cost.margin_bp");
    int64_t big = 400000000000000; /* 4 x 10^14: four of them exceed 10^15 */
    struct pricing_cost_inputs sum = {big, big, big, big, 0};
    assert_int_equal(pricing_cost(&sum, &r, &err), ERR_LIMIT);
    struct pricing_cost_inputs one = {PRICING_AMOUNT_MAX + 1, 0, 0, 0, 0};
    assert_int_equal(pricing_cost(&one, &r, &err), ERR_LIMIT);
    /* 10^13 + 100x margin = 1.01 x 10^15 */
    struct pricing_cost_inputs up = {10000000000000, 0, 0, 0, PRICING_MARGIN_BP_MAX};
    assert_int_equal(pricing_cost(&up, &r, &err), ERR_LIMIT);
    assert_false(r.available);
}

static void test_pricing__income_method(void **state)
{
    (void)state;
    struct pricing_result r;
    /* CNY 1,000.00 a month for 3 months at 1% a month. F_1 = round(10^10 / 10100) = 990099,
     * F_2 = round(9900990000 / 10100) = 980296, F_3 = round(9802960000 / 10100) = 970590;
     * A = 2940985; PV = 100000 * 2940985 / 10^6 = 294098.5, a tie rounding to 294098. */
    struct pricing_income_inputs in = {100000, 3, 100};
    assert_int_equal(pricing_income(&in, &r, NULL), ERR_OK);
    assert_int_equal(r.value, 294098);
    assert_true(has_step(&r, "F_1 = 990099, F_2 = 980296, F_3 = 970590"));
    assert_true(has_step(&r, "= 2940985 (annuity factor 2.940985)"));
    /* No discount: exactly B * n. */
    struct pricing_income_inputs flat = {123457, 12, 0};
    assert_int_equal(pricing_income(&flat, &r, NULL), ERR_OK);
    assert_int_equal(r.value, 123457 * 12);
    /* A long term elides the middle factors. */
    struct pricing_income_inputs longer = {100000, 36, 50};
    assert_int_equal(pricing_income(&longer, &r, NULL), ERR_OK);
    assert_true(has_step(&r, ", ..., F_36 = "));
    /* The exact annuity 100000 * (1 - 1.005^-36) / 0.005 = 3287101.4; fixed point is within
     * the bound docs/pricing.md derives (n(n+1)/4 millionths of B, here 33.3 fen). */
    assert_true(r.value >= 3287101 - 34 && r.value <= 3287101 + 34);
}

static void test_pricing__income_refuses_bad_input_and_overflow(void **state)
{
    (void)state;
    struct pricing_result r;
    struct errbuf err;
    errbuf_init(&err);
    struct pricing_income_inputs periods = {1, 0, 0};
    assert_int_equal(pricing_income(&periods, &r, &err), ERR_INVALID);
    assert_string_equal(err.field, "income.periods");
    struct pricing_income_inputs rate = {1, 1, PRICING_RATE_BP_MAX + 1};
    assert_int_equal(pricing_income(&rate, &r, &err), ERR_INVALID);
    assert_string_equal(err.field, "income.discount_rate_bp");
    struct pricing_income_inputs neg = {-5, 1, 0};
    assert_int_equal(pricing_income(&neg, &r, &err), ERR_INVALID);
    /* 10^15 a period for 1200 periods undiscounted: 1.2 x 10^18 > 10^15. */
    struct pricing_income_inputs big = {PRICING_AMOUNT_MAX, PRICING_PERIODS_MAX, 0};
    assert_int_equal(pricing_income(&big, &r, &err), ERR_LIMIT);
}

static void test_pricing__market_method_trims_outliers(void **state)
{
    (void)state;
    struct pricing_result r;
    /* Halves {280000, 300000, 310000} and {320000, 350000, 9000000}: Q1 = 300000,
     * Q3 = 350000, IQR = 50000, fences [225000, 425000]; 9000000 is dropped and the median of
     * the five kept is 310000. */
    int64_t v[] = {9000000, 310000, 280000, 350000, 300000, 320000};
    assert_int_equal(pricing_market(v, ARRAY_LEN(v), "listings", &r, NULL), ERR_OK);
    assert_true(r.available);
    assert_int_equal(r.value, 310000);
    assert_int_equal(r.low, 280000);
    assert_int_equal(r.high, 350000);
    assert_int_equal(r.used, 5);
    assert_int_equal(r.dropped, 1);
    assert_true(has_step(&r, "6 comparable listings, sorted: 280000, 300000"));
    assert_true(has_step(&r, "[225000, 425000]"));
    assert_true(has_step(&r, "dropped 1 outlier(s): 9000000"));
    /* Three is enough; an odd count leaves the median out of both halves. */
    int64_t three[] = {100, 300, 200};
    assert_int_equal(pricing_market(three, 3, "cleared trades", &r, NULL), ERR_OK);
    assert_int_equal(r.value, 200);
    assert_int_equal(r.dropped, 0);
    /* An even count of kept values averages the middle two, ties to even: (101 + 104) / 2. */
    int64_t four[] = {100, 101, 104, 105};
    assert_int_equal(pricing_market(four, 4, "listings", &r, NULL), ERR_OK);
    assert_int_equal(r.value, 102); /* 102.5 -> 102 */
    /* Too few comparables: not available, and the reason says how many there are. */
    int64_t two[] = {100, 200};
    assert_int_equal(pricing_market(two, 2, "listings", &r, NULL), ERR_OK);
    assert_false(r.available);
    assert_non_null(strstr(r.reason, "2 comparable listings"));
    struct errbuf err;
    int64_t bad[] = {100, 0, 300};
    assert_int_equal(pricing_market(bad, 3, "listings", &r, &err), ERR_INVALID);
}

static void test_pricing__corridor_and_flag(void **state)
{
    (void)state;
    struct pricing_reference ref;
    memset(&ref, 0, sizeof(ref));
    pricing_corridor(&ref);
    assert_false(ref.corridor_available);
    ref.method[PRICING_MARKET].available = 1;
    ref.method[PRICING_MARKET].value = 310000;
    ref.method[PRICING_MARKET].low = 280000;
    ref.method[PRICING_MARKET].high = 350000;
    pricing_corridor(&ref);
    assert_true(ref.corridor_available);
    assert_int_equal(ref.corridor_low, 280000); /* the market alone gives its band */
    assert_int_equal(ref.corridor_high, 350000);
    ref.method[PRICING_COST].available = 1;
    ref.method[PRICING_COST].value = 250000;
    ref.method[PRICING_INCOME].available = 1;
    ref.method[PRICING_INCOME].value = 294098;
    pricing_corridor(&ref);
    assert_int_equal(ref.corridor_low, 250000);
    assert_int_equal(ref.corridor_high, 310000);
    assert_string_equal(ref.corridor_basis, "min/max of cost, income, market");
    assert_int_equal(pricing_flag_of(930001, 250000, 310000), PRICING_FLAG_ABOVE);
    assert_int_equal(pricing_flag_of(930000, 250000, 310000), PRICING_FLAG_NONE); /* exactly 3x */
    assert_int_equal(pricing_flag_of(83333, 250000, 310000), PRICING_FLAG_BELOW);
    assert_int_equal(pricing_flag_of(83334, 250000, 310000), PRICING_FLAG_NONE);
    assert_string_equal(pricing_flag_name(PRICING_FLAG_ABOVE), "above_reference");
}

static void test_pricing__headline_of_each_model(void **state)
{
    (void)state;
    struct pricing_offer o;
    memset(&o, 0, sizeof(o));
    int64_t h = 0;
    int known = 0;
    o.model = PRICING_MODEL_FIXED;
    o.amount = 500000;
    assert_int_equal(pricing_headline(&o, 365, &h, &known, NULL), ERR_OK);
    assert_true(known && h == 500000);
    /* A face-comparison API: CNY 3,000 to 19,000 a month by QPS tier, for a year. */
    o.model = PRICING_MODEL_SUBSCRIPTION;
    o.period = PRICING_PERIOD_MONTH;
    o.tier_count = 3;
    o.tiers[0].price = 800000;
    o.tiers[1].price = 300000;
    o.tiers[2].price = 1900000;
    assert_int_equal(pricing_headline(&o, 365, &h, &known, NULL), ERR_OK);
    assert_int_equal(h, 300000 * 13); /* 365 days are 13 months of 30 days */
    o.period = PRICING_PERIOD_YEAR;
    assert_int_equal(pricing_headline(&o, 365, &h, &known, NULL), ERR_OK);
    assert_int_equal(h, 300000);
    o.model = PRICING_MODEL_PER_CALL;
    o.amount = 5;
    assert_int_equal(pricing_headline(&o, 365, &h, &known, NULL), ERR_OK);
    assert_false(known); /* no minimum: nothing to compare */
    o.monthly_minimum = 100000;
    assert_int_equal(pricing_headline(&o, 90, &h, &known, NULL), ERR_OK);
    assert_true(known && h == 300000);
    o.monthly_minimum = PRICING_AMOUNT_MAX;
    assert_int_equal(pricing_headline(&o, 90, &h, &known, NULL), ERR_LIMIT);
    enum pricing_model m;
    assert_int_equal(pricing_model_parse("per_call", &m), ERR_OK);
    assert_int_equal(m, PRICING_MODEL_PER_CALL);
    assert_int_equal(pricing_model_parse("barter", &m), ERR_INVALID);
}

/* The worked example of docs/pricing.md, "Price index": four months, the second empty. */
static void test_pricing__index_worked_example(void **state)
{
    (void)state;
    int64_t values[] = {400000, 200000,  300000,         /* January */
                        310000, 5000000, 330000, 320000, /* March */
                        360000, 300000,  350000};        /* April */
    const int64_t counts[] = {3, 0, 4, 3};
    struct pricing_index_period p[4];
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(pricing_index(values, counts, 4, p, &err), ERR_OK);
    assert_int_equal(p[0].count, 3);
    assert_int_equal(p[0].sum, 900000);
    assert_int_equal(p[0].median, 300000);
    assert_int_equal(p[0].index_bp, 10000); /* the base */
    assert_int_equal(p[1].count, 0);        /* no trades: no index, the chain passes over */
    assert_int_equal(p[1].sum, 0);
    assert_int_equal(p[1].index_bp, 0);
    assert_int_equal(p[2].count, 4);
    assert_int_equal(p[2].sum, 5960000);
    assert_int_equal(p[2].median, 325000);  /* (320000 + 330000) / 2 */
    assert_int_equal(p[2].index_bp, 10833); /* round(10000 * 325000 / 300000 = 10833.33) */
    assert_int_equal(p[3].median, 350000);
    assert_int_equal(p[3].sum, 1010000);
    assert_int_equal(p[3].index_bp, 11666); /* round(10833 * 350000 / 325000 = 11666.31) */
    /* Chaining carries each link's rounding: the direct ratio would be 11667. */
    int64_t direct = 0;
    assert_int_equal(pricing_mul_div(10000, 350000, 300000, &direct), ERR_OK);
    assert_int_equal(direct, 11667);
    /* Each period's run was sorted in place. */
    assert_int_equal(values[0], 200000);
    assert_int_equal(values[6], 5000000);
}

/* One wild trade moves a period's median by at most one rank, never by its size. */
static void test_pricing__index_is_robust_to_outliers(void **state)
{
    (void)state;
    const int64_t counts[] = {3, 4};
    struct pricing_index_period p[2];
    struct errbuf err;
    errbuf_init(&err);
    int64_t tame[] = {200000, 300000, 400000, 310000, 320000, 330000, 340000};
    assert_int_equal(pricing_index(tame, counts, 2, p, &err), ERR_OK);
    assert_int_equal(p[1].index_bp, 10833); /* median 325000 */
    int64_t wild[] = {200000, 300000, 400000, 310000, 320000, 330000, PRICING_AMOUNT_MAX};
    assert_int_equal(pricing_index(wild, counts, 2, p, &err), ERR_OK);
    assert_int_equal(p[1].median, 325000); /* the outlier replaced the top value only */
    assert_int_equal(p[1].index_bp, 10833);
    assert_true(p[1].sum > PRICING_AMOUNT_MAX); /* the volume does count it */
    int64_t low[] = {200000, 300000, 400000, 1, 320000, 330000, 340000};
    assert_int_equal(pricing_index(low, counts, 2, p, &err), ERR_OK);
    assert_int_equal(p[1].median, 325000); /* 1, 320000, 330000, 340000 */
    /* A base period of one trade: its value is the base, whatever it is. */
    int64_t one[] = {7, 14};
    const int64_t ones[] = {1, 1};
    assert_int_equal(pricing_index(one, ones, 2, p, &err), ERR_OK);
    assert_int_equal(p[0].index_bp, 10000);
    assert_int_equal(p[1].index_bp, 20000);
}

static void test_pricing__index_refuses_bad_input_and_overflow(void **state)
{
    (void)state;
    struct pricing_index_period p[2];
    struct errbuf err;
    errbuf_init(&err);
    const int64_t counts[] = {1, 1};
    int64_t zero[] = {100, 0};
    assert_int_equal(pricing_index(zero, counts, 2, p, &err), ERR_INVALID);
    assert_int_equal(p[0].count, 0); /* out is zeroed on error */
    int64_t big[] = {100, PRICING_AMOUNT_MAX + 1};
    assert_int_equal(pricing_index(big, counts, 2, p, &err), ERR_INVALID);
    const int64_t negative[] = {-1, 1};
    int64_t two[] = {100, 200};
    assert_int_equal(pricing_index(two, negative, 2, p, &err), ERR_INVALID);
    assert_int_equal(pricing_index(two, counts, 0, p, &err), ERR_LIMIT);
    assert_int_equal(pricing_index(two, counts, PRICING_INDEX_PERIODS_MAX + 1, p, &err), ERR_LIMIT);
    assert_string_equal(err.field, "periods");
    const int64_t too_many[] = {PRICING_INDEX_TRADES_MAX, 1};
    assert_int_equal(pricing_index(two, too_many, 2, p, &err), ERR_LIMIT);
    /* The index may reach PRICING_INDEX_BP_MAX, 10^8 times the base, and no further. */
    int64_t edge[] = {1, 100000000};
    assert_int_equal(pricing_index(edge, counts, 2, p, &err), ERR_OK);
    assert_int_equal(p[1].index_bp, PRICING_INDEX_BP_MAX);
    int64_t past[] = {1, 100000001};
    assert_int_equal(pricing_index(past, counts, 2, p, &err), ERR_LIMIT);
    assert_int_equal(p[1].index_bp, 0);
    int64_t far[] = {1, PRICING_AMOUNT_MAX}; /* 10^19 bp: past INT64_MAX in the link itself */
    assert_int_equal(pricing_index(far, counts, 2, p, &err), ERR_LIMIT);
    /* A period's total past INT64_MAX: 9300 trades of 10^15. */
    static int64_t heavy[9300];
    for (size_t i = 0; i < ARRAY_LEN(heavy); i++) {
        heavy[i] = PRICING_AMOUNT_MAX;
    }
    const int64_t heavy_count[] = {9300};
    assert_int_equal(pricing_index(heavy, heavy_count, 1, p, &err), ERR_LIMIT);
    const int64_t fewer[] = {9000};
    assert_int_equal(pricing_index(heavy, fewer, 1, p, &err), ERR_OK);
    assert_int_equal(p[0].sum, 9000 * PRICING_AMOUNT_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pricing__mul_div_rounds_half_to_even),
        cmocka_unit_test(test_pricing__mul_div_uses_128_bits),
        cmocka_unit_test(test_pricing__median_and_periods),
        cmocka_unit_test(test_pricing__cost_method),
        cmocka_unit_test(test_pricing__cost_refuses_bad_input_and_overflow),
        cmocka_unit_test(test_pricing__income_method),
        cmocka_unit_test(test_pricing__income_refuses_bad_input_and_overflow),
        cmocka_unit_test(test_pricing__market_method_trims_outliers),
        cmocka_unit_test(test_pricing__corridor_and_flag),
        cmocka_unit_test(test_pricing__headline_of_each_model),
        cmocka_unit_test(test_pricing__index_worked_example),
        cmocka_unit_test(test_pricing__index_is_robust_to_outliers),
        cmocka_unit_test(test_pricing__index_refuses_bad_input_and_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
