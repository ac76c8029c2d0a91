/*
 * pricing_int.h: declarations shared by the pricing module's own files and its white-box
 * tests: unsigned 128-bit arithmetic, written out in 64-bit halves so that it is portable C11
 * and can be tested against hand-computed products.
 */
#ifndef BOURSE_PRICING_INT_H
#define BOURSE_PRICING_INT_H

#include "pricing/pricing.h"

struct pricing__u128 {
    uint64_t hi;
    uint64_t lo;
};

/* a * b exactly. Cannot fail. */
struct pricing__u128 pricing__mul(uint64_t a, uint64_t b);

/*
 * round(x / d) with ties to even, for 0 < d <= INT64_MAX. ERR_LIMIT when the quotient exceeds
 * INT64_MAX; *out is written only on success.
 */
enum err pricing__div_round(struct pricing__u128 x, uint64_t d, int64_t *out);

#endif
