/*
 * arith.c: the integer arithmetic under every price: 64 x 64 -> 128-bit products and a
 * 128 / 64-bit division with ties rounded to even. Written with 32-bit limbs rather than a
 * compiler's __int128 so that it is plain C11; the divisor is below 2^63, which keeps every
 * step of the long division inside 64 bits.
 */
#include "util/compat.h"
#include "pricing/pricing.h"
#include "pricing/pricing_int.h"

#include "util/banned.h"

#define LOW32 UINT64_C(0xffffffff)

struct pricing__u128 pricing__mul(uint64_t a, uint64_t b)
{
    uint64_t a0 = a & LOW32, a1 = a >> 32;
    uint64_t b0 = b & LOW32, b1 = b >> 32;
    uint64_t p00 = a0 * b0;
    uint64_t p01 = a0 * b1;
    uint64_t p10 = a1 * b0;
    uint64_t p11 = a1 * b1;
    /* Each term is below 2^32, so the middle sum is below 3 * 2^32: no overflow. */
    uint64_t mid = (p00 >> 32) + (p01 & LOW32) + (p10 & LOW32);
    struct pricing__u128 r;
    r.lo = (p00 & LOW32) | (mid << 32);
    r.hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return r;
}

enum err pricing__div_round(struct pricing__u128 x, uint64_t d, int64_t *out)
{
    ASSERT(d > 0);
    ASSERT(d <= (uint64_t)INT64_MAX);
    if (x.hi >= d) {
        return ERR_LIMIT; /* the quotient needs more than 64 bits */
    }
    /* Long division, one bit of x.lo at a time; rem < d < 2^63 before each shift. */
    uint64_t rem = x.hi;
    uint64_t quo = 0;
    for (int i = 63; i >= 0; i--) {
        rem = (rem << 1) | ((x.lo >> i) & 1);
        quo <<= 1;
        if (rem >= d) {
            rem -= d;
            quo |= 1;
        }
    }
    ASSERT(rem < d);
    /* Ties to even: round up when the remainder is over half, or exactly half and q odd. */
    uint64_t rest = d - rem;
    if (rem > rest || (rem == rest && (quo & 1) != 0)) {
        if (quo == UINT64_MAX) {
            return ERR_LIMIT;
        }
        quo++;
    }
    if (quo > (uint64_t)INT64_MAX) {
        return ERR_LIMIT;
    }
    *out = (int64_t)quo;
    return ERR_OK;
}

enum err pricing_mul_div(int64_t a, int64_t b, int64_t d, int64_t *out)
{
    ASSERT(out != NULL);
    if (a < 0 || b < 0 || d <= 0) {
        return ERR_INVALID;
    }
    return pricing__div_round(pricing__mul((uint64_t)a, (uint64_t)b), (uint64_t)d, out);
}

enum err pricing_add(int64_t a, int64_t b, int64_t *out)
{
    ASSERT(a >= 0 && a <= PRICING_AMOUNT_MAX);
    ASSERT(b >= 0 && b <= PRICING_AMOUNT_MAX);
    int64_t sum = a + b; /* both at most 10^15: cannot overflow int64 */
    if (sum > PRICING_AMOUNT_MAX) {
        return ERR_LIMIT;
    }
    *out = sum;
    return ERR_OK;
}

int64_t pricing_median(const int64_t *sorted, size_t count)
{
    ASSERT(sorted != NULL);
    ASSERT(count >= 1);
    if (count % 2 == 1) {
        return sorted[count / 2];
    }
    int64_t a = sorted[count / 2 - 1];
    int64_t b = sorted[count / 2];
    DEBUG_ASSERT(a <= b);
    /* (a + b) / 2 with ties to even, written so that it works for negative fences too. */
    int64_t sum = a + b;
    int64_t half = sum / 2; /* truncates toward zero */
    int64_t rem = sum - half * 2;
    if (rem == 0) {
        return half;
    }
    /* sum is odd: the exact value is half + rem/2, a tie; pick the even neighbour. */
    int64_t other = rem > 0 ? half + 1 : half - 1;
    return half % 2 == 0 ? half : other;
}

int64_t pricing_periods(int64_t term_days, int64_t period_days)
{
    ASSERT(term_days >= 1);
    ASSERT(period_days >= 1);
    return (term_days + period_days - 1) / period_days;
}
