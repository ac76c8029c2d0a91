/*
 * test_support.h: deterministic clock and random source for unit tests, and a fresh
 * in-memory store. Header-only so that each test binary stays one file.
 */
#ifndef BOURSE_TEST_SUPPORT_H
#define BOURSE_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "util/util.h"

struct test_clock_state {
    int64_t now_ms;
};

static inline int64_t test_clock_now(void *ctx)
{
    struct test_clock_state *s = ctx;
    s->now_ms += 1; /* strictly increasing, as real commits are */
    return s->now_ms;
}

struct test_rng_state {
    uint64_t counter;
    unsigned char key[crypto_stream_chacha20_KEYBYTES];
};

static inline void test_rng_fill(void *ctx, void *out, size_t len)
{
    struct test_rng_state *s = ctx;
    unsigned char nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    memcpy(nonce, &s->counter, sizeof(s->counter));
    s->counter++;
    crypto_stream_chacha20(out, len, nonce, s->key);
}

#endif
