/*
 * clearing_test.c: the ledger against a real in-memory SQLite store (and PostgreSQL when
 * BOURSE_TEST_PG_URL is set) with a fixed clock and a seeded random source:
 *
 *   - the split: worked examples, an exhaustive sweep of small amounts and a property test over
 *     many random inputs (legs sum to the amount, each share is the floor, never negative);
 *   - every rule and every refusal, each checked to change nothing (a digest of every ledger
 *     table and the event count before and after);
 *   - idempotent retries, linked batches, escrow hold / post / void / timeout, overflow;
 *   - history paging, the CSV statement, visibility;
 *   - the integrity checks, and that they catch tampering;
 *   - allocation failure N = 1, 2, ... for each mutation: ERR_NOMEM, nothing written;
 *   - a seeded random simulation of thousands of operations against an in-memory model, with
 *     clearing_check after each step. A failure prints the seed; BOURSE_SEED=N replays it.
 */
#include "util/compat.h"
#include "clearing/clearing.h"
#include "clearing/clearing_int.h"

#include "market.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define T0_MS 1795305540000 /* 2026-11-21T23:59:00Z */

struct fixture {
    struct test_clock_state clock_state;
    struct test_rng_state rng_state;
    struct clock clock;
    struct rng rng;
    struct clearing c;
    struct clearing_actor op;  /* the operator */
    struct clearing_actor sys; /* the trading module */
    char buyer[ID_MAX], provider[ID_MAX], broker[ID_MAX], other[ID_MAX], applied[ID_MAX];
    char product[ID_MAX];
    char op_id[ID_MAX];
    char target[ID_MAX]; /* the allocation tests' last hold, or schedule */
};

static uint64_t test_seed;

/* ---- helpers ---- */

static void entity_add(struct fixture *f, const char *status, char id[ID_MAX])
{
    struct store_entity e;
    memset(&e, 0, sizeof(e));
    id_new(&f->rng, "ent", e.id);
    snprintf(e.kind, sizeof(e.kind), "buyer");
    snprintf(e.status, sizeof(e.status), "%s", status);
    snprintf(e.name, sizeof(e.name), "实体 %s", e.id);
    snprintf(e.country, sizeof(e.country), "CN");
    e.created_ms = T0_MS;
    assert_int_equal(store_entity_insert(f->c.store, &e, NULL), ERR_OK);
    snprintf(id, ID_MAX, "%s", e.id);
}

static void fixture_init(struct fixture *f, struct store *s)
{
    f->clock_state.now_ms = T0_MS;
    f->clock.now_ms = test_clock_now;
    f->clock.ctx = &f->clock_state;
    f->rng.fill = test_rng_fill;
    f->rng.ctx = &f->rng_state;
    f->c.store = s;
    f->c.clock = &f->clock;
    f->c.rng = &f->rng;
    entity_add(f, "verified", f->op_id);
    f->op.id = f->op_id;
    f->op.role = CLEARING_ROLE_OPERATOR;
    f->sys.id = CLEARING_SWEEPER;
    f->sys.role = CLEARING_ROLE_SYSTEM;
    entity_add(f, "verified", f->buyer);
    entity_add(f, "verified", f->provider);
    entity_add(f, "verified", f->broker);
    entity_add(f, "verified", f->other);
    entity_add(f, "applied", f->applied);
    id_new(&f->rng, "prd", f->product);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct store *s = NULL;
    assert_int_equal(store_open(":memory:", &s, NULL), ERR_OK);
    fixture_init(f, s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->c.store);
    free(f);
    return 0;
}

/* A digest of every ledger table, the ledger clock and the event count. */
static void digest(struct store *s, char out[65])
{
    static const char *const sql[] = {
        "SELECT * FROM ledger_accounts ORDER BY id",
        "SELECT * FROM ledger_transfers ORDER BY seq",
        "SELECT * FROM ledger_timeouts ORDER BY timeout_ms, transfer_id",
        "SELECT * FROM ledger_marks ORDER BY account_id, created_ms, seq",
        "SELECT * FROM ledger_fee_schedules ORDER BY id",
        "SELECT name, value FROM meta ORDER BY name",
        "SELECT COUNT(*) FROM events",
    };
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (size_t i = 0; i < ARRAY_LEN(sql); i++) {
        assert_int_equal(store_query(s, sql[i], NULL, 0, market_digest_cb, &st, NULL, NULL),
                         ERR_OK);
    }
    unsigned char h[32];
    crypto_generichash_final(&st, h, sizeof(h));
    sodium_bin2hex(out, 65, h, sizeof(h));
}

static void check_ok(struct store *s)
{
    struct clearing_check_report r;
    struct errbuf err;
    errbuf_init(&err);
    if (clearing_check(s, &r, &err) != ERR_OK) {
        fail_msg("seed %" PRIu64 ": clearing_check: %s", test_seed, err.msg);
    }
    errbuf_init(&err);
    if (clearing_check_log(s, &r, &err) != ERR_OK) {
        fail_msg("seed %" PRIu64 ": clearing_check_log: %s", test_seed, err.msg);
    }
}

static struct store_ledger_account account(struct fixture *f, const char *owner,
                                           enum clearing_account_kind kind, const char *cur)
{
    struct store_ledger_account a;
    memset(&a, 0, sizeof(a));
    char id[ID_MAX];
    clearing_account_id(owner, kind, cur, id);
    const char *ids[] = {id};
    int found = 0;
    assert_int_equal(store_ledger_accounts_get(f->c.store, ids, 1, &a, &found, NULL), ERR_OK);
    if (!found) {
        memset(&a, 0, sizeof(a));
    }
    return a;
}

static int64_t posted(struct fixture *f, const char *owner, enum clearing_account_kind kind,
                      const char *cur)
{
    struct store_ledger_account a = account(f, owner, kind, cur);
    return a.credits_posted - a.debits_posted;
}

static int64_t held(struct fixture *f, const char *owner, const char *cur)
{
    struct store_ledger_account a = account(f, owner, CLEARING_ACCOUNT_AVAILABLE, cur);
    return a.debits_pending;
}

static struct store_ledger_transfer deposit(struct fixture *f, const char *entity, const char *cur,
                                            int64_t amount, const char *key)
{
    struct clearing_movement m = {entity, cur, amount, "BANK-REF-1", key};
    struct store_ledger_transfer t;
    int replayed = 0;
    struct errbuf err;
    errbuf_init(&err);
    if (clearing_deposit(&f->c, &f->op, &m, &t, &replayed, &err) != ERR_OK) {
        fail_msg("deposit failed: %s (%s)", err.msg, err.field);
    }
    return t;
}

static struct store_ledger_transfer hold(struct fixture *f, const char *buyer, const char *cur,
                                         int64_t amount, int64_t timeout_ms, const char *key)
{
    struct clearing_hold h = {buyer, cur, amount, timeout_ms, "ctr-1", key};
    struct store_ledger_transfer t;
    int replayed = 0;
    struct errbuf err;
    errbuf_init(&err);
    if (clearing_hold(&f->c, &f->sys, &h, &t, &replayed, &err) != ERR_OK) {
        fail_msg("hold failed: %s (%s)", err.msg, err.field);
    }
    return t;
}

static struct store_fee_schedule schedule(struct fixture *f, const char *name, const char *kind,
                                          const char *cur, int64_t rate_bp, int64_t min,
                                          int64_t cap, int64_t fixed, const char *period)
{
    struct clearing_fee_schedule_in in = {name, kind, cur, rate_bp, min, cap, fixed, period};
    struct store_fee_schedule s;
    struct errbuf err;
    errbuf_init(&err);
    if (clearing_fee_schedule_create(&f->c, &f->op, &in, &s, &err) != ERR_OK) {
        fail_msg("schedule failed: %s (%s)", err.msg, err.field);
    }
    return s;
}

static void assert_has(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL) {
        fail_msg("lacks '%s' in '%s'", needle, text);
    }
}

/* ---- vocabulary, currencies, ids ---- */

static void test_clearing__currencies_and_names(void **state)
{
    (void)state;
    struct {
        const char *code;
        int exponent;
    } cases[] = {{"CNY", 2},  {"USD", 2},  {"EUR", 2},  {"JPY", 0}, {"HKD", 2},   {"GBP", 2},
                 {"BHD", 3},  {"KWD", 3},  {"KRW", 0},  {"UYW", 4}, {"AED", 2},   {"ZWG", 2},
                 {"cny", -1}, {"XAU", -1}, {"XDR", -1}, {"CN", -1}, {"CNYY", -1}, {"", -1},
                 {"ABC", -1}, {"CLF", -1}, {"XTS", -1}};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        assert_int_equal(clearing_currency_exponent(cases[i].code), cases[i].exponent);
    }
    assert_int_equal(clearing_currency_exponent(NULL), -1);
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(clearing_currency_check("XAU", "currency", &err), ERR_INVALID);
    assert_string_equal(err.field, "currency");
    assert_int_equal(clearing_currency_check(NULL, "currency", NULL), ERR_INVALID);
    /* Names round-trip. */
    for (int k = 0; k < CLEARING_ACCOUNT__COUNT; k++) {
        enum clearing_account_kind out;
        assert_int_equal(clearing_account_kind_parse(clearing_account_kind_name(k), &out), ERR_OK);
        assert_int_equal(out, k);
    }
    for (int k = 0; k < CLEARING_TRANSFER__COUNT; k++) {
        enum clearing_transfer_kind out;
        assert_int_equal(clearing_transfer_kind_parse(clearing_transfer_kind_name(k), &out),
                         ERR_OK);
        assert_int_equal(out, k);
    }
    enum clearing_fee_kind fk;
    assert_int_equal(clearing_fee_kind_parse("bogus", &fk), ERR_INVALID);
    /* Account ids are derived: stable, distinct per part, well formed. */
    char a[ID_MAX], b[ID_MAX], c[ID_MAX];
    clearing_account_id("ent_x", CLEARING_ACCOUNT_AVAILABLE, "CNY", a);
    clearing_account_id("ent_x", CLEARING_ACCOUNT_AVAILABLE, "CNY", b);
    assert_string_equal(a, b);
    assert_true(id_valid(a, "acc"));
    clearing_account_id("ent_x", CLEARING_ACCOUNT_ESCROW, "CNY", c);
    assert_string_not_equal(a, c);
    clearing_account_id("ent_x", CLEARING_ACCOUNT_AVAILABLE, "USD", c);
    assert_string_not_equal(a, c);
    assert_int_equal(clearing_account_kind_flags(CLEARING_ACCOUNT_CASH),
                     CLEARING_CREDITS_MUST_NOT_EXCEED_DEBITS);
    assert_int_equal(clearing_account_kind_flags(CLEARING_ACCOUNT_AVAILABLE),
                     CLEARING_DEBITS_MUST_NOT_EXCEED_CREDITS);
}

/* ---- the split ---- */

static void test_clearing__split_examples(void **state)
{
    (void)state;
    struct clearing_fee_rule pct = {CLEARING_FEE_PERCENTAGE, 250, 100, 1000, 0};
    struct clearing_split s;
    int64_t brokers[] = {500};
    int64_t revenue[] = {1000, 333};
    /* 10,000.00: fee 2.5% = 250; broker 5% = 500; revenue 10% = 1000 and 3.33% = 333. */
    assert_int_equal(clearing_split(10000, &pct, brokers, 1, revenue, 2, &s, NULL), ERR_OK);
    assert_int_equal(s.fee, 250);
    assert_int_equal(s.brokers[0], 500);
    assert_int_equal(s.revenue[0], 1000);
    assert_int_equal(s.revenue[1], 333);
    assert_int_equal(s.provider, 10000 - 250 - 500 - 1000 - 333);
    /* Minimum and cap. */
    assert_int_equal(clearing_split(1000, &pct, NULL, 0, NULL, 0, &s, NULL), ERR_OK);
    assert_int_equal(s.fee, 100); /* 25 raised to the minimum */
    assert_int_equal(clearing_split(1000000, &pct, NULL, 0, NULL, 0, &s, NULL), ERR_OK);
    assert_int_equal(s.fee, 1000); /* 25000 capped */
    /* The fee never exceeds the amount; rounding units go to the provider. */
    assert_int_equal(clearing_split(50, &pct, NULL, 0, NULL, 0, &s, NULL), ERR_OK);
    assert_int_equal(s.fee, 50);
    assert_int_equal(s.provider, 0);
    struct clearing_fee_rule none = {CLEARING_FEE_PERCENTAGE, 0, 0, 0, 0};
    int64_t thirds[] = {3333, 3333, 3333};
    assert_int_equal(clearing_split(100, &none, thirds, 3, NULL, 0, &s, NULL), ERR_OK);
    assert_int_equal(s.brokers[0], 33);
    assert_int_equal(s.provider, 1);
    assert_int_equal(clearing_split(1, &none, thirds, 3, NULL, 0, &s, NULL), ERR_OK);
    assert_int_equal(s.brokers[2], 0);
    assert_int_equal(s.provider, 1);
    /* No overflow at the top of the range. */
    int64_t all[] = {10000};
    assert_int_equal(clearing_split(INT64_MAX, &none, all, 1, NULL, 0, &s, NULL), ERR_OK);
    assert_int_equal(s.brokers[0], INT64_MAX);
    assert_int_equal(s.provider, 0);
    struct clearing_fee_rule fixed = {CLEARING_FEE_FIXED, 0, 0, 0, 700};
    assert_int_equal(clearing_split(INT64_MAX, &fixed, brokers, 1, NULL, 0, &s, NULL), ERR_OK);
    assert_int_equal(s.fee, 700);
    struct clearing_fee_rule member = {CLEARING_FEE_MEMBERSHIP, 0, 0, 0, 9999};
    assert_int_equal(clearing_split(10, &member, NULL, 0, NULL, 0, &s, NULL), ERR_OK);
    assert_int_equal(s.fee, 0);
    assert_int_equal(s.provider, 10);
    /* Refusals. */
    struct errbuf err;
    errbuf_init(&err);
    int64_t too_much[] = {6000, 5000};
    assert_int_equal(clearing_split(100, &none, too_much, 2, NULL, 0, &s, &err), ERR_INVALID);
    assert_string_equal(err.field, "brokers");
    int64_t negative[] = {-1};
    assert_int_equal(clearing_split(100, &none, negative, 1, NULL, 0, &s, NULL), ERR_INVALID);
    int64_t over[] = {10001};
    assert_int_equal(clearing_split(100, &none, NULL, 0, over, 1, &s, NULL), ERR_INVALID);
    int64_t nine[CLEARING_SHARES_MAX + 1] = {0};
    assert_int_equal(clearing_split(100, &none, nine, CLEARING_SHARES_MAX + 1, NULL, 0, &s, NULL),
                     ERR_INVALID);
    /* A minimum fee plus shares above the amount leaves the provider less than nothing. */
    struct clearing_fee_rule big_min = {CLEARING_FEE_PERCENTAGE, 0, 90, 0, 0};
    int64_t half[] = {5000};
    errbuf_init(&err);
    assert_int_equal(clearing_split(100, &big_min, half, 1, NULL, 0, &s, &err), ERR_INVALID);
    assert_string_equal(err.field, "amount");
    assert_int_equal(clearing_split(0, &none, NULL, 0, NULL, 0, &s, NULL), ERR_INVALID);
    assert_int_equal(clearing_split(-5, &none, NULL, 0, NULL, 0, &s, NULL), ERR_INVALID);
    struct clearing_fee_rule bad_cap = {CLEARING_FEE_PERCENTAGE, 100, 50, 10, 0};
    assert_int_equal(clearing_split(100, &bad_cap, NULL, 0, NULL, 0, &s, NULL), ERR_INVALID);
    struct clearing_fee_rule bad_rate = {CLEARING_FEE_PERCENTAGE, 10001, 0, 0, 0};
    assert_int_equal(clearing_split(100, &bad_rate, NULL, 0, NULL, 0, &s, NULL), ERR_INVALID);
}

/* splitmix64: spreads a seed (1, 2, 3, ...) into a well-mixed nonzero state. */
static uint64_t rnd_seed(uint64_t seed)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return z != 0 ? z : 1;
}

/* xorshift64*: the tests' own deterministic stream. */
static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717u;
}

static int64_t rnd_range(uint64_t *s, int64_t lo, int64_t hi)
{
    ASSERT(lo <= hi);
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(span == 0 ? rnd_next(s) : rnd_next(s) % span);
}

/* An amount across every magnitude, edges included. */
static int64_t rnd_amount(uint64_t *s)
{
    switch (rnd_next(s) % 8) {
    case 0:
        return rnd_range(s, 1, 20);
    case 1:
        return INT64_MAX - rnd_range(s, 0, 20);
    case 2:
        return rnd_range(s, 1, INT64_MAX);
    default: {
        int64_t top = (int64_t)1 << rnd_range(s, 1, 62);
        return rnd_range(s, 1, top);
    }
    }
}

/* Checks one split against the rule computed independently in 128-bit arithmetic. */
static void split_verify(int64_t amount, const struct clearing_fee_rule *rule, const int64_t *b,
                         size_t nb, const int64_t *r, size_t nr)
{
    struct clearing_split s;
    enum err rc = clearing_split(amount, rule, b, nb, r, nr, &s, NULL);
    __int128 fee = 0;
    if (rule->kind == CLEARING_FEE_PERCENTAGE) {
        fee = (__int128)amount * rule->rate_bp / 10000;
        fee = fee < rule->minimum ? rule->minimum : fee;
        fee = rule->cap != 0 && fee > rule->cap ? rule->cap : fee;
    } else if (rule->kind == CLEARING_FEE_FIXED) {
        fee = rule->fixed_amount;
    }
    fee = fee > amount ? amount : fee;
    __int128 rest = (__int128)amount - fee;
    __int128 want_b[CLEARING_SHARES_MAX], want_r[CLEARING_SHARES_MAX];
    for (size_t i = 0; i < nb; i++) {
        want_b[i] = (__int128)amount * b[i] / 10000;
        rest -= want_b[i];
    }
    for (size_t i = 0; i < nr; i++) {
        want_r[i] = (__int128)amount * r[i] / 10000;
        rest -= want_r[i];
    }
    if (rest < 0) {
        if (rc != ERR_INVALID) {
            fail_msg("seed %" PRIu64 ": amount %" PRId64 " should not split", test_seed, amount);
        }
        return;
    }
    if (rc != ERR_OK) {
        struct errbuf err;
        errbuf_init(&err);
        clearing_split(amount, rule, b, nb, r, nr, &s, &err);
        fail_msg("seed %" PRIu64 ": amount %" PRId64 " failed to split: %s", test_seed, amount,
                 err.msg);
    }
    __int128 sum = s.fee + s.provider;
    assert_true(s.fee == fee);
    assert_true(s.provider == rest);
    assert_true(s.provider >= 0 && s.fee >= 0);
    for (size_t i = 0; i < nb; i++) {
        assert_true(s.brokers[i] == want_b[i]);
        assert_true(s.brokers[i] >= 0);
        sum += s.brokers[i];
    }
    for (size_t i = 0; i < nr; i++) {
        assert_true(s.revenue[i] == want_r[i]);
        sum += s.revenue[i];
    }
    /* No unit created or lost. */
    assert_true(sum == amount);
}

/* Random shares whose bp add up to at most 10000. */
static size_t rnd_shares(uint64_t *st, int64_t *bp, int64_t *budget)
{
    size_t n = (size_t)rnd_range(st, 0, CLEARING_SHARES_MAX);
    for (size_t i = 0; i < n; i++) {
        bp[i] = *budget > 0 ? rnd_range(st, 0, *budget > 3000 ? 3000 : *budget) : 0;
        *budget -= bp[i];
    }
    return n;
}

static void test_clearing__split_property(void **state)
{
    (void)state;
    uint64_t st = rnd_seed(test_seed);
    /* Random inputs over the whole range. */
    for (int iter = 0; iter < 300000; iter++) {
        struct clearing_fee_rule rule;
        rule.kind = (enum clearing_fee_kind)rnd_range(&st, 0, CLEARING_FEE__COUNT - 1);
        rule.rate_bp = rnd_range(&st, 0, 10000);
        rule.minimum = rnd_next(&st) % 3 == 0 ? 0 : rnd_amount(&st) / (1 + rnd_range(&st, 0, 1000));
        rule.cap = rnd_next(&st) % 2 == 0 || rule.minimum > INT64_MAX / 2
                       ? 0
                       : rule.minimum + rnd_range(&st, 0, 1000000);
        rule.fixed_amount = rnd_amount(&st) / (1 + rnd_range(&st, 0, 1000000));
        int64_t b[CLEARING_SHARES_MAX], r[CLEARING_SHARES_MAX];
        int64_t budget = rnd_range(&st, 0, 10000);
        size_t nb = rnd_shares(&st, b, &budget);
        size_t nr = rnd_shares(&st, r, &budget);
        split_verify(rnd_amount(&st), &rule, b, nb, r, nr);
    }
    /* Exhaustively: every amount 1..3000 against a grid of rates and share patterns. */
    static const int64_t rates[] = {0, 1, 33, 250, 3333, 9999, 10000};
    static const int64_t shares[][3] = {{0, 0, 0},       {1, 0, 0},    {3333, 3333, 3333},
                                        {5000, 4999, 1}, {9999, 0, 1}, {7, 13, 17}};
    for (int64_t amount = 1; amount <= 3000; amount++) {
        for (size_t i = 0; i < ARRAY_LEN(rates); i++) {
            for (size_t j = 0; j < ARRAY_LEN(shares); j++) {
                struct clearing_fee_rule rule = {CLEARING_FEE_PERCENTAGE, rates[i], amount % 7,
                                                 amount % 5 == 0 ? 0 : 40, 0};
                split_verify(amount, &rule, shares[j], 2, shares[j] + 2, 1);
            }
        }
    }
}

/* ---- deposits, withdrawals, refusals ---- */

static void test_clearing__deposit_withdraw(void **state)
{
    struct fixture *f = *state;
    int64_t ev = market_event_count(f->c.store);
    struct store_ledger_transfer t = deposit(f, f->buyer, "CNY", 100000, "dep-1");
    assert_true(id_valid(t.id, "trf"));
    assert_string_equal(t.kind, "transfer");
    assert_string_equal(t.state, "posted");
    assert_string_equal(t.code, "deposit");
    assert_int_equal(t.log_index, ev);
    assert_int_equal(t.seq, ev * CLEARING_BATCH_MAX);
    assert_int_equal(t.credit_posted_after, 100000);
    assert_int_equal(t.debit_posted_after, -100000);
    assert_int_equal(market_event_count(f->c.store), ev + 1);
    assert_int_equal(posted(f, f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 100000);
    assert_int_equal(posted(f, CLEARING_EXCHANGE, CLEARING_ACCOUNT_CASH, "CNY"), -100000);
    /* The event records the transfer and the two accounts it opened. */
    struct store_event *evs = NULL;
    size_t n = 0;
    assert_int_equal(store_event_range(f->c.store, ev, 1, &evs, &n, NULL), ERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(evs[0].type, "clearing.deposit");
    assert_string_equal(evs[0].subject, f->buyer);
    assert_string_equal(evs[0].actor, f->op_id);
    assert_non_null(strstr(evs[0].leaf, t.id));
    assert_non_null(strstr(evs[0].leaf, "\"accounts\":["));
    store_event_release(&evs[0]);
    mem_free(evs);
    /* A second deposit opens nothing. */
    deposit(f, f->buyer, "CNY", 5, NULL);
    assert_int_equal(posted(f, f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 100005);
    /* Withdraw part, then all. */
    struct clearing_movement w = {f->buyer, "CNY", 30000, "WD-1", NULL};
    int replayed = 0;
    assert_int_equal(clearing_withdraw(&f->c, &f->op, &w, &t, &replayed, NULL), ERR_OK);
    assert_string_equal(t.code, "withdrawal");
    assert_int_equal(posted(f, f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 70005);
    w.amount = 70005;
    assert_int_equal(clearing_withdraw(&f->c, &f->op, &w, &t, &replayed, NULL), ERR_OK);
    assert_int_equal(posted(f, f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 0);
    assert_int_equal(posted(f, CLEARING_EXCHANGE, CLEARING_ACCOUNT_CASH, "CNY"), 0);
    /* A suspended entity may withdraw what it has, not receive deposits. */
    deposit(f, f->other, "JPY", 500, NULL);
    assert_int_equal(store_exec(f->c.store,
                                "UPDATE entities SET status = 'suspended' WHERE kind = 'buyer'"
                                " AND status = 'verified'",
                                NULL),
                     ERR_OK);
    struct clearing_movement w2 = {f->other, "JPY", 500, "WD-2", NULL};
    assert_int_equal(clearing_withdraw(&f->c, &f->op, &w2, &t, &replayed, NULL), ERR_OK);
    struct clearing_movement d2 = {f->other, "JPY", 500, "DEP-2", NULL};
    assert_int_equal(clearing_deposit(&f->c, &f->op, &d2, &t, &replayed, NULL), ERR_BAD_STATE);
    check_ok(f->c.store);
}

static void test_clearing__refusals_change_nothing(void **state)
{
    struct fixture *f = *state;
    deposit(f, f->buyer, "CNY", 1000, NULL);
    struct store_ledger_transfer p = hold(f, f->buyer, "CNY", 400, 0, NULL);
    char before[65], after[65];
    digest(f->c.store, before);
    struct store_ledger_transfer t;
    int replayed = 0;
    struct clearing_actor entity = {f->buyer, CLEARING_ROLE_ENTITY};
    struct clearing_actor regulator = {f->other, CLEARING_ROLE_REGULATOR};
    struct clearing_actor nobody = {NULL, CLEARING_ROLE_OPERATOR};
    struct {
        const char *entity;
        const char *currency;
        int64_t amount;
        const char *reference;
        const char *key;
        const struct clearing_actor *who;
        int deposit;
        enum err expect;
        const char *field;
    } cases[] = {
        {f->buyer, "CNY", 1, "r", NULL, &entity, 1, ERR_FORBIDDEN, ""},
        {f->buyer, "CNY", 1, "r", NULL, &regulator, 1, ERR_FORBIDDEN, ""},
        {f->buyer, "CNY", 1, "r", NULL, &nobody, 1, ERR_FORBIDDEN, ""},
        {f->buyer, "CNY", 1, "r", NULL, &f->sys, 0, ERR_FORBIDDEN, ""},
        {"ent_nope", "CNY", 1, "r", NULL, &f->op, 1, ERR_INVALID, "entity"},
        {NULL, "CNY", 1, "r", NULL, &f->op, 1, ERR_INVALID, "entity"},
        {"ent_aaaaaaaaaaaaaaaaaaaa", "CNY", 1, "r", NULL, &f->op, 1, ERR_NOT_FOUND, "entity"},
        {f->applied, "CNY", 1, "r", NULL, &f->op, 1, ERR_BAD_STATE, "entity"},
        {f->applied, "CNY", 1, "r", NULL, &f->op, 0, ERR_BAD_STATE, "entity"},
        {f->buyer, "XXX", 1, "r", NULL, &f->op, 1, ERR_INVALID, "currency"},
        {f->buyer, "cny", 1, "r", NULL, &f->op, 1, ERR_INVALID, "currency"},
        {f->buyer, NULL, 1, "r", NULL, &f->op, 1, ERR_INVALID, "currency"},
        {f->buyer, "CNY", 0, "r", NULL, &f->op, 1, ERR_INVALID, "amount"},
        {f->buyer, "CNY", -5, "r", NULL, &f->op, 0, ERR_INVALID, "amount"},
        {f->buyer, "CNY", INT64_MIN, "r", NULL, &f->op, 1, ERR_INVALID, "amount"},
        {f->buyer, "CNY", 1, NULL, NULL, &f->op, 1, ERR_INVALID, "reference"},
        {f->buyer, "CNY", 1, "", NULL, &f->op, 1, ERR_INVALID, "reference"},
        {f->buyer, "CNY", 1, "\xff\xfe", NULL, &f->op, 1, ERR_INVALID, "reference"},
        {f->buyer, "CNY", 1, "r", "", &f->op, 1, ERR_INVALID, "idempotency_key"},
        {f->buyer, "CNY", 1, "r", "has space", &f->op, 1, ERR_INVALID, "idempotency_key"},
        /* Overdrafts: 1000 deposited, 400 held. */
        {f->buyer, "CNY", 601, "r", NULL, &f->op, 0, ERR_BAD_STATE, "amount"},
        {f->buyer, "JPY", 1, "r", NULL, &f->op, 0, ERR_BAD_STATE, "amount"},
        {f->provider, "CNY", 1, "r", NULL, &f->op, 0, ERR_BAD_STATE, "amount"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct clearing_movement m = {cases[i].entity, cases[i].currency, cases[i].amount,
                                      cases[i].reference, cases[i].key};
        struct errbuf err;
        errbuf_init(&err);
        enum err rc = cases[i].deposit
                          ? clearing_deposit(&f->c, cases[i].who, &m, &t, &replayed, &err)
                          : clearing_withdraw(&f->c, cases[i].who, &m, &t, &replayed, &err);
        if (rc != cases[i].expect || strcmp(err.field, cases[i].field) != 0) {
            fail_msg("case %zu: got %s (%s: %s)", i, err_name(rc), err.field, err.msg);
        }
        digest(f->c.store, after);
        assert_string_equal(before, after);
        assert_int_equal(store_tx_depth(f->c.store), 0);
    }
    /* The exact amount still available withdraws. */
    struct clearing_movement m = {f->buyer, "CNY", 600, "r", NULL};
    assert_int_equal(clearing_withdraw(&f->c, &f->op, &m, &t, &replayed, NULL), ERR_OK);
    /* Holds, posts and voids refused. */
    digest(f->c.store, before);
    struct clearing_hold bad_holds[] = {
        {f->buyer, "CNY", 1, 0, NULL, NULL},  /* no funds left */
        {f->buyer, "CNY", 1, -1, NULL, NULL}, /* negative timeout */
        {f->buyer, "CNY", 1, CLEARING_TIMEOUT_MAX_MS + 1, NULL, NULL},
        {f->applied, "CNY", 1, 0, NULL, NULL}, /* not verified */
        {f->buyer, "EUR", 1, 0, NULL, NULL},   /* no such account */
        {"ent_x", "CNY", 1, 0, NULL, NULL},
        {f->buyer, "CNY", 0, 0, NULL, NULL},
    };
    enum err hold_expect[] = {ERR_BAD_STATE, ERR_INVALID, ERR_INVALID, ERR_BAD_STATE,
                              ERR_BAD_STATE, ERR_INVALID, ERR_INVALID};
    for (size_t i = 0; i < ARRAY_LEN(bad_holds); i++) {
        assert_int_equal(clearing_hold(&f->c, &f->sys, &bad_holds[i], &t, &replayed, NULL),
                         hold_expect[i]);
    }
    struct clearing_hold ok_hold = {f->buyer, "CNY", 1, 0, NULL, NULL};
    assert_int_equal(clearing_hold(&f->c, &entity, &ok_hold, &t, &replayed, NULL), ERR_FORBIDDEN);
    assert_int_equal(clearing_void(&f->c, &f->sys, "trf_x", NULL, NULL, &t, &replayed, NULL),
                     ERR_INVALID);
    assert_int_equal(
        clearing_void(&f->c, &f->sys, "trf_aaaaaaaaaaaaaaaaaaaa", NULL, NULL, &t, &replayed, NULL),
        ERR_NOT_FOUND);
    /* Voiding a deposit: not a pending. */
    struct store_ledger_transfer d = deposit(f, f->other, "USD", 10, NULL);
    digest(f->c.store, before);
    assert_int_equal(clearing_void(&f->c, &f->sys, d.id, NULL, NULL, &t, &replayed, NULL),
                     ERR_INVALID);
    struct clearing_release rel = {p.id, f->provider, NULL, NULL, 0, NULL, 0, 0, NULL, NULL};
    struct clearing_settlement s;
    struct clearing_release bad = rel;
    bad.amount = 401;
    assert_int_equal(clearing_post(&f->c, &f->sys, &bad, &s, NULL), ERR_INVALID);
    bad = rel;
    bad.provider_id = f->applied;
    assert_int_equal(clearing_post(&f->c, &f->sys, &bad, &s, NULL), ERR_BAD_STATE);
    bad = rel;
    bad.fee_schedule_id = "fee_aaaaaaaaaaaaaaaaaaaa";
    assert_int_equal(clearing_post(&f->c, &f->sys, &bad, &s, NULL), ERR_NOT_FOUND);
    bad = rel;
    bad.pending_id = d.id;
    assert_int_equal(clearing_post(&f->c, &f->sys, &bad, &s, NULL), ERR_INVALID);
    struct clearing_share too_many[CLEARING_SHARES_MAX + 1];
    for (size_t i = 0; i < ARRAY_LEN(too_many); i++) {
        too_many[i].recipient = f->broker;
        too_many[i].bp = 1;
    }
    bad = rel;
    bad.brokers = too_many;
    bad.broker_count = ARRAY_LEN(too_many);
    assert_int_equal(clearing_post(&f->c, &f->sys, &bad, &s, NULL), ERR_INVALID);
    struct clearing_share odd[] = {{"acc_aaaaaaaaaaaaaaaaaaaa", 100}};
    bad = rel;
    bad.revenue = odd;
    bad.revenue_count = 1;
    assert_int_equal(clearing_post(&f->c, &f->sys, &bad, &s, NULL), ERR_INVALID);
    struct clearing_share big[] = {{f->broker, 6000}, {f->other, 5000}};
    bad = rel;
    bad.brokers = big;
    bad.broker_count = 2;
    assert_int_equal(clearing_post(&f->c, &f->sys, &bad, &s, NULL), ERR_INVALID);
    struct clearing_share suspended[] = {{f->applied, 100}};
    bad = rel;
    bad.brokers = suspended;
    bad.broker_count = 1;
    assert_int_equal(clearing_post(&f->c, &f->sys, &bad, &s, NULL), ERR_BAD_STATE);
    assert_int_equal(clearing_post(&f->c, &entity, &rel, &s, NULL), ERR_FORBIDDEN);
    digest(f->c.store, after);
    assert_string_equal(before, after);
    check_ok(f->c.store);
}

static void test_clearing__idempotency(void **state)
{
    struct fixture *f = *state;
    int64_t ev = market_event_count(f->c.store);
    struct store_ledger_transfer a = deposit(f, f->buyer, "CNY", 700, "bank-2026-0001");
    struct clearing_movement m = {f->buyer, "CNY", 700, "BANK-REF-1", "bank-2026-0001"};
    struct store_ledger_transfer b;
    int replayed = 0;
    assert_int_equal(clearing_deposit(&f->c, &f->op, &m, &b, &replayed, NULL), ERR_OK);
    assert_true(replayed);
    assert_string_equal(a.id, b.id);
    assert_int_equal(a.seq, b.seq);
    assert_int_equal(market_event_count(f->c.store), ev + 1);
    assert_int_equal(posted(f, f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 700);
    /* Same key, other content: conflict, nothing changed. */
    char before[65], after[65];
    digest(f->c.store, before);
    struct errbuf err;
    errbuf_init(&err);
    m.amount = 701;
    assert_int_equal(clearing_deposit(&f->c, &f->op, &m, &b, &replayed, &err), ERR_CONFLICT);
    assert_string_equal(err.field, "idempotency_key");
    m.amount = 700;
    m.reference = "other";
    assert_int_equal(clearing_deposit(&f->c, &f->op, &m, &b, &replayed, NULL), ERR_CONFLICT);
    /* The key is the caller's: a withdrawal under it is another request. */
    m.reference = "BANK-REF-1";
    assert_int_equal(clearing_withdraw(&f->c, &f->op, &m, &b, &replayed, NULL), ERR_CONFLICT);
    digest(f->c.store, after);
    assert_string_equal(before, after);
    /* Another caller's same key is another transfer. */
    char op2_id[ID_MAX];
    entity_add(f, "verified", op2_id);
    struct clearing_actor op2 = {op2_id, CLEARING_ROLE_OPERATOR};
    assert_int_equal(clearing_deposit(&f->c, &op2, &m, &b, &replayed, NULL), ERR_OK);
    assert_false(replayed);
    assert_string_not_equal(a.id, b.id);
    /* Holds and voids replay too. */
    struct store_ledger_transfer h1 = hold(f, f->buyer, "CNY", 100, 5000, "hold-1");
    struct store_ledger_transfer h2 = hold(f, f->buyer, "CNY", 100, 5000, "hold-1");
    assert_string_equal(h1.id, h2.id);
    assert_int_equal(held(f, f->buyer, "CNY"), 100);
    struct store_ledger_transfer v1, v2;
    assert_int_equal(clearing_void(&f->c, &f->sys, h1.id, "x", "void-1", &v1, &replayed, NULL),
                     ERR_OK);
    assert_false(replayed);
    assert_int_equal(clearing_void(&f->c, &f->sys, h1.id, "x", "void-1", &v2, &replayed, NULL),
                     ERR_OK);
    assert_true(replayed);
    assert_string_equal(v1.id, v2.id);
    /* A second, different void of the same hold: wrong state. */
    assert_int_equal(clearing_void(&f->c, &f->sys, h1.id, "x", "void-2", &v2, &replayed, NULL),
                     ERR_BAD_STATE);
    assert_int_equal(held(f, f->buyer, "CNY"), 0);
    check_ok(f->c.store);
}

/* ---- escrow ---- */

static void test_clearing__escrow_settlement(void **state)
{
    struct fixture *f = *state;
    deposit(f, f->buyer, "CNY", 1000000, NULL);
    struct store_fee_schedule fs =
        schedule(f, "standard", "percentage", "CNY", 250, 100, 50000, 0, NULL);
    struct store_ledger_transfer p = hold(f, f->buyer, "CNY", 123457, 3600 * 1000, "ctr-1-hold");
    assert_string_equal(p.kind, "pending");
    assert_string_equal(p.state, "pending");
    assert_true(p.timeout_ms > T0_MS);
    assert_int_equal(held(f, f->buyer, "CNY"), 123457);
    assert_int_equal(posted(f, f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 1000000);
    struct store_ledger_account esc = account(f, f->buyer, CLEARING_ACCOUNT_ESCROW, "CNY");
    assert_int_equal(esc.credits_pending, 123457);
    /* The held funds cannot be withdrawn. */
    struct clearing_movement w = {f->buyer, "CNY", 1000000 - 123457 + 1, "WD", NULL};
    struct store_ledger_transfer t;
    int replayed = 0;
    assert_int_equal(clearing_withdraw(&f->c, &f->op, &w, &t, &replayed, NULL), ERR_BAD_STATE);
    struct clearing_share brokers[] = {{f->broker, 300}};
    struct clearing_share revenue[] = {{f->product, 1000}, {f->other, 1}};
    struct clearing_release r = {p.id,    f->provider, fs.id, brokers, 1,
                                 revenue, 2,           0,     "ctr-1", "ctr-1-post"};
    struct clearing_settlement s;
    struct errbuf err;
    errbuf_init(&err);
    int64_t ev = market_event_count(f->c.store);
    if (clearing_post(&f->c, &f->sys, &r, &s, &err) != ERR_OK) {
        fail_msg("post: %s", err.msg);
    }
    assert_int_equal(market_event_count(f->c.store), ev + 1);
    assert_false(s.replayed);
    /* post, fee, broker, pool, other, provider */
    assert_int_equal(s.count, 6);
    assert_string_equal(s.transfers[0].kind, "post");
    assert_string_equal(s.transfers[0].pending_id, p.id);
    int64_t fee = 123457 * 250 / 10000;
    assert_int_equal(s.split.fee, fee);
    assert_int_equal(s.split.brokers[0], 123457 * 300 / 10000);
    assert_int_equal(s.split.revenue[0], 12345);
    assert_int_equal(s.split.revenue[1], 12);
    int64_t provider = 123457 - fee - 3703 - 12345 - 12;
    assert_int_equal(s.split.provider, provider);
    assert_int_equal(posted(f, f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 1000000 - 123457);
    assert_int_equal(held(f, f->buyer, "CNY"), 0);
    esc = account(f, f->buyer, CLEARING_ACCOUNT_ESCROW, "CNY");
    assert_int_equal(esc.credits_posted, 123457);
    assert_int_equal(esc.debits_posted, 123457);
    assert_int_equal(esc.credits_pending, 0);
    assert_int_equal(posted(f, f->provider, CLEARING_ACCOUNT_AVAILABLE, "CNY"), provider);
    assert_int_equal(posted(f, f->broker, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 3703);
    assert_int_equal(posted(f, f->product, CLEARING_ACCOUNT_POOL, "CNY"), 12345);
    assert_int_equal(posted(f, f->other, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 12);
    assert_int_equal(posted(f, CLEARING_EXCHANGE, CLEARING_ACCOUNT_FEES, "CNY"), fee);
    struct store_ledger_transfer got;
    struct clearing_actor sys = f->sys;
    assert_int_equal(clearing_transfer_get(&f->c, &sys, p.id, &got, NULL), ERR_OK);
    assert_string_equal(got.state, "posted");
    /* A retry returns the same settlement; a second settlement is refused. */
    struct clearing_settlement again;
    assert_int_equal(clearing_post(&f->c, &f->sys, &r, &again, NULL), ERR_OK);
    assert_true(again.replayed);
    assert_int_equal(again.count, s.count);
    for (size_t i = 0; i < s.count; i++) {
        assert_string_equal(again.transfers[i].id, s.transfers[i].id);
    }
    assert_int_equal(again.split.provider, s.split.provider);
    assert_int_equal(market_event_count(f->c.store), ev + 1);
    r.idempotency_key = "ctr-1-post-again";
    errbuf_init(&err);
    assert_int_equal(clearing_post(&f->c, &f->sys, &r, &s, &err), ERR_BAD_STATE);
    assert_non_null(strstr(err.msg, "already posted"));
    r.idempotency_key = "ctr-1-post";
    r.amount = 5;
    assert_int_equal(clearing_post(&f->c, &f->sys, &r, &s, NULL), ERR_CONFLICT);
    /* A partial settlement releases the rest to the buyer. */
    struct store_ledger_transfer p2 = hold(f, f->buyer, "CNY", 1000, 0, NULL);
    struct clearing_release r2 = {p2.id, f->provider, NULL, NULL, 0, NULL, 0, 600, NULL, NULL};
    assert_int_equal(clearing_post(&f->c, &f->sys, &r2, &s, NULL), ERR_OK);
    assert_int_equal(s.count, 2); /* no fee: post and provider */
    assert_int_equal(held(f, f->buyer, "CNY"), 0);
    assert_int_equal(posted(f, f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY"),
                     1000000 - 123457 - 600);
    /* A fee schedule in another currency is refused. */
    deposit(f, f->buyer, "USD", 1000, NULL);
    struct store_ledger_transfer p3 = hold(f, f->buyer, "USD", 1000, 0, NULL);
    struct clearing_release r3 = {p3.id, f->provider, fs.id, NULL, 0, NULL, 0, 0, NULL, NULL};
    errbuf_init(&err);
    assert_int_equal(clearing_post(&f->c, &f->sys, &r3, &s, &err), ERR_INVALID);
    assert_string_equal(err.field, "fee_schedule");
    check_ok(f->c.store);
}

static void test_clearing__void_and_timeout(void **state)
{
    struct fixture *f = *state;
    deposit(f, f->buyer, "EUR", 5000, NULL);
    struct store_ledger_transfer a = hold(f, f->buyer, "EUR", 1000, 0, NULL);
    struct store_ledger_transfer b = hold(f, f->buyer, "EUR", 2000, 60000, NULL);
    struct store_ledger_transfer c = hold(f, f->buyer, "EUR", 1500, 120000, NULL);
    assert_int_equal(held(f, f->buyer, "EUR"), 4500);
    struct store_ledger_transfer v;
    int replayed = 0;
    assert_int_equal(clearing_void(&f->c, &f->op, a.id, "cancelled", NULL, &v, &replayed, NULL),
                     ERR_OK);
    assert_string_equal(v.kind, "void");
    assert_string_equal(v.state, "voided");
    assert_int_equal(v.amount, 1000);
    assert_int_equal(held(f, f->buyer, "EUR"), 3500);
    /* Nothing due yet: the sweep writes nothing. */
    char before[65], after[65];
    digest(f->c.store, before);
    size_t n = 99;
    assert_int_equal(clearing_sweep(&f->c, CLEARING_BATCH_MAX, &n, NULL), ERR_OK);
    assert_int_equal(n, 0);
    digest(f->c.store, after);
    assert_string_equal(before, after);
    /* After a minute, b expires: posting it is refused, the sweep voids it. */
    f->clock_state.now_ms = b.timeout_ms;
    struct clearing_release r = {b.id, f->provider, NULL, NULL, 0, NULL, 0, 0, NULL, NULL};
    struct clearing_settlement s;
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(clearing_post(&f->c, &f->sys, &r, &s, &err), ERR_BAD_STATE);
    assert_non_null(strstr(err.msg, "expired"));
    int64_t ev = market_event_count(f->c.store);
    assert_int_equal(clearing_sweep(&f->c, CLEARING_BATCH_MAX, &n, NULL), ERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(market_event_count(f->c.store), ev + 1);
    assert_int_equal(held(f, f->buyer, "EUR"), 1500);
    struct store_ledger_transfer got;
    assert_int_equal(clearing_transfer_get(&f->c, &f->sys, b.id, &got, NULL), ERR_OK);
    assert_string_equal(got.state, "voided");
    assert_int_equal(clearing_sweep(&f->c, CLEARING_BATCH_MAX, &n, NULL), ERR_OK);
    assert_int_equal(n, 0);
    /* c can still be settled before its time, then the sweep has nothing. */
    struct clearing_release rc = {c.id, f->provider, NULL, NULL, 0, NULL, 0, 0, NULL, NULL};
    assert_int_equal(clearing_post(&f->c, &f->sys, &rc, &s, NULL), ERR_OK);
    f->clock_state.now_ms = c.timeout_ms + 1;
    assert_int_equal(clearing_sweep(&f->c, CLEARING_BATCH_MAX, &n, NULL), ERR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(posted(f, f->provider, CLEARING_ACCOUNT_AVAILABLE, "EUR"), 1500);
    /* Many due at once: swept in batches of max. */
    deposit(f, f->other, "EUR", 100000, NULL);
    for (int i = 0; i < 10; i++) {
        hold(f, f->other, "EUR", 10 + i, 1, NULL);
    }
    f->clock_state.now_ms += 10;
    size_t total = 0;
    do {
        assert_int_equal(clearing_sweep(&f->c, 4, &n, NULL), ERR_OK);
        assert_true(n <= 4);
        total += n;
    } while (n > 0);
    assert_int_equal(total, 10);
    assert_int_equal(held(f, f->other, "EUR"), 0);
    /* A clock that steps back does not move ledger time back. */
    f->clock_state.now_ms -= 1000000;
    struct store_ledger_transfer d = deposit(f, f->other, "EUR", 1, NULL);
    assert_true(d.created_ms >= got.created_ms);
    check_ok(f->c.store);
}

static void test_clearing__linked_batch(void **state)
{
    struct fixture *f = *state;
    deposit(f, f->buyer, "CNY", 1000, NULL);
    deposit(f, f->provider, "CNY", 10, NULL);
    char ab[ID_MAX], ap[ID_MAX], ao[ID_MAX], cash_usd[ID_MAX];
    clearing_account_id(f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY", ab);
    clearing_account_id(f->provider, CLEARING_ACCOUNT_AVAILABLE, "CNY", ap);
    clearing_account_id(f->other, CLEARING_ACCOUNT_AVAILABLE, "CNY", ao);
    clearing_account_id(CLEARING_EXCHANGE, CLEARING_ACCOUNT_CASH, "USD", cash_usd);
    struct clearing_transfer_in in[] = {
        {ab, ap, 600, "CNY", "trade.x", "r1", "b-1"},
        {ap, ab, 610, "CNY", "trade.x", "r2", "b-2"},  /* uses what the first brought */
        {ab, ap, 1011, "CNY", "trade.x", "r3", "b-3"}, /* one too many */
    };
    struct store_ledger_transfer out[3];
    int replayed = 0;
    char before[65], after[65];
    digest(f->c.store, before);
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(clearing_transfer_batch(&f->c, &f->sys, in, 3, out, &replayed, &err),
                     ERR_BAD_STATE);
    assert_string_equal(err.field, "transfers[2]");
    digest(f->c.store, after);
    assert_string_equal(before, after);
    in[2].amount = 1010;
    int64_t ev = market_event_count(f->c.store);
    assert_int_equal(clearing_transfer_batch(&f->c, &f->sys, in, 3, out, &replayed, NULL), ERR_OK);
    assert_int_equal(market_event_count(f->c.store), ev + 1);
    assert_int_equal(out[1].seq, out[0].seq + 1);
    assert_int_equal(out[2].log_index, ev);
    assert_int_equal(posted(f, f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 0);
    assert_int_equal(posted(f, f->provider, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 1010);
    /* The same batch again is a replay; a batch that only partly exists a conflict. */
    struct store_ledger_transfer again[3];
    assert_int_equal(clearing_transfer_batch(&f->c, &f->sys, in, 3, again, &replayed, NULL),
                     ERR_OK);
    assert_true(replayed);
    assert_string_equal(again[2].id, out[2].id);
    in[2].idempotency_key = "b-4";
    assert_int_equal(clearing_transfer_batch(&f->c, &f->sys, in, 3, again, &replayed, NULL),
                     ERR_CONFLICT);
    /* Shape refusals. */
    digest(f->c.store, before);
    struct clearing_transfer_in one = {ap, ao, 1, "CNY", "x", NULL, NULL};
    struct {
        struct clearing_transfer_in t;
        enum err expect;
    } cases[] = {
        {{ap, ap, 1, "CNY", "x", NULL, NULL}, ERR_INVALID},         /* same account */
        {{ap, ao, 1, "CNY", "x", NULL, NULL}, ERR_NOT_FOUND},       /* no such account */
        {{ap, cash_usd, 1, "CNY", "x", NULL, NULL}, ERR_NOT_FOUND}, /* nor that */
        {{ap, ab, 1, "USD", "x", NULL, NULL}, ERR_INVALID},         /* currency mismatch */
        {{ap, ab, 1, "CNY", "Bad Code", NULL, NULL}, ERR_INVALID},
        {{ap, ab, 1, "CNY", "", NULL, NULL}, ERR_INVALID},
        {{ap, "trf_aaaaaaaaaaaaaaaaaaaa", 1, "CNY", "x", NULL, NULL}, ERR_INVALID},
        {{ap, ab, 0, "CNY", "x", NULL, NULL}, ERR_INVALID},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        assert_int_equal(
            clearing_transfer_batch(&f->c, &f->sys, &cases[i].t, 1, out, &replayed, NULL),
            cases[i].expect);
    }
    struct clearing_transfer_in dup[] = {{ap, ab, 1, "CNY", "x", NULL, "k"},
                                         {ap, ab, 1, "CNY", "x", NULL, "k"}};
    assert_int_equal(clearing_transfer_batch(&f->c, &f->sys, dup, 2, out, &replayed, NULL),
                     ERR_INVALID);
    assert_int_equal(clearing_transfer_batch(&f->c, &f->sys, &one, 0, out, &replayed, NULL),
                     ERR_INVALID);
    struct clearing_transfer_in *many = calloc(CLEARING_BATCH_MAX + 1, sizeof(*many));
    struct store_ledger_transfer *mout = calloc(CLEARING_BATCH_MAX + 1, sizeof(*mout));
    for (size_t i = 0; i <= CLEARING_BATCH_MAX; i++) {
        many[i] = (struct clearing_transfer_in){ap, ab, 1, "CNY", "x", NULL, NULL};
    }
    assert_int_equal(clearing_transfer_batch(&f->c, &f->sys, many, CLEARING_BATCH_MAX + 1, mout,
                                             &replayed, NULL),
                     ERR_LIMIT);
    struct clearing_actor entity = {f->buyer, CLEARING_ROLE_ENTITY};
    assert_int_equal(clearing_transfer_batch(&f->c, &entity, &one, 1, out, &replayed, NULL),
                     ERR_FORBIDDEN);
    digest(f->c.store, after);
    assert_string_equal(before, after);
    /* A full batch fits one event. */
    deposit(f, f->buyer, "CNY", CLEARING_BATCH_MAX, NULL);
    for (size_t i = 0; i < CLEARING_BATCH_MAX; i++) {
        many[i] = (struct clearing_transfer_in){
            ab,
            ap,
            1,
            "CNY",
            "abcdefghijklmnopqrstuvwxyz012345",
            "\"引用\\ reference of 128 bytes, with quotes \" and backslashes \\\\\\ xxxxxxxxxxxxxx",
            NULL};
    }
    assert_int_equal(
        clearing_transfer_batch(&f->c, &f->sys, many, CLEARING_BATCH_MAX, mout, &replayed, NULL),
        ERR_OK);
    free(many);
    free(mout);
    check_ok(f->c.store);
}

static void test_clearing__overflow(void **state)
{
    struct fixture *f = *state;
    deposit(f, f->buyer, "JPY", INT64_MAX, NULL);
    assert_int_equal(posted(f, f->buyer, CLEARING_ACCOUNT_AVAILABLE, "JPY"), INT64_MAX);
    char before[65], after[65];
    digest(f->c.store, before);
    struct clearing_movement m = {f->provider, "JPY", 1, "r", NULL};
    struct store_ledger_transfer t;
    int replayed = 0;
    struct errbuf err;
    errbuf_init(&err);
    /* The cash account's debits would pass INT64_MAX. */
    assert_int_equal(clearing_deposit(&f->c, &f->op, &m, &t, &replayed, &err), ERR_LIMIT);
    assert_string_equal(err.field, "amount");
    digest(f->c.store, after);
    assert_string_equal(before, after);
    /* Holding everything, then settling it, stays in range. */
    struct store_ledger_transfer p = hold(f, f->buyer, "JPY", INT64_MAX, 0, NULL);
    struct clearing_share all[] = {{f->broker, 10000}};
    struct clearing_release r = {p.id, f->provider, NULL, all, 1, NULL, 0, 0, NULL, NULL};
    struct clearing_settlement s;
    assert_int_equal(clearing_post(&f->c, &f->sys, &r, &s, NULL), ERR_OK);
    assert_int_equal(posted(f, f->broker, CLEARING_ACCOUNT_AVAILABLE, "JPY"), INT64_MAX);
    check_ok(f->c.store);
}

/* ---- fee schedules and memberships ---- */

static void test_clearing__fee_schedules(void **state)
{
    struct fixture *f = *state;
    struct store_fee_schedule a =
        schedule(f, "standard", "percentage", "CNY", 250, 100, 0, 0, NULL);
    struct store_fee_schedule b =
        schedule(f, "standard", "percentage", "CNY", 200, 100, 0, 0, NULL);
    assert_int_equal(a.version, 1);
    assert_int_equal(b.version, 2);
    assert_string_not_equal(a.id, b.id);
    struct store_fee_schedule any = schedule(f, "open", "percentage", NULL, 10, 0, 0, 0, NULL);
    assert_string_equal(any.currency, "");
    schedule(f, "flat", "fixed", "USD", 0, 0, 0, 500, NULL);
    struct store_fee_schedule m =
        schedule(f, "members", "membership", "CNY", 0, 0, 0, 9900, "month");
    struct store_fee_schedule got;
    assert_int_equal(clearing_fee_schedule_get(&f->c, a.id, &got, NULL), ERR_OK);
    assert_int_equal(got.rate_bp, 250);
    assert_int_equal(got.version, 1);
    struct store_fee_schedule *list = NULL;
    size_t n = 0;
    assert_int_equal(clearing_fee_schedule_list(&f->c, "standard", &list, &n, NULL), ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].version, 2);
    mem_free(list);
    assert_int_equal(clearing_fee_schedule_list(&f->c, NULL, &list, &n, NULL), ERR_OK);
    assert_int_equal(n, 5);
    mem_free(list);
    /* Refusals, each naming its field and changing nothing. */
    char before[65], after[65];
    digest(f->c.store, before);
    struct {
        struct clearing_fee_schedule_in in;
        const char *field;
    } bad[] = {
        {{"Bad Name", "percentage", "CNY", 1, 0, 0, 0, NULL}, "name"},
        {{"", "percentage", "CNY", 1, 0, 0, 0, NULL}, "name"},
        {{"x", "bogus", "CNY", 1, 0, 0, 0, NULL}, "kind"},
        {{"x", NULL, "CNY", 1, 0, 0, 0, NULL}, "kind"},
        {{"x", "percentage", "CNY", 10001, 0, 0, 0, NULL}, "rate_bp"},
        {{"x", "percentage", "CNY", -1, 0, 0, 0, NULL}, "rate_bp"},
        {{"x", "percentage", "CNY", 1, 50, 10, 0, NULL}, "cap"},
        {{"x", "percentage", "CNY", 1, -1, 0, 0, NULL}, "minimum"},
        {{"x", "percentage", NULL, 1, 5, 0, 0, NULL}, "currency"},
        {{"x", "percentage", "XXX", 1, 0, 0, 0, NULL}, "currency"},
        {{"x", "percentage", "CNY", 1, 0, 0, 7, NULL}, "fixed_amount"},
        {{"x", "percentage", "CNY", 1, 0, 0, 0, "month"}, "period"},
        {{"x", "fixed", "CNY", 0, 0, 0, 0, NULL}, "fixed_amount"},
        {{"x", "fixed", "CNY", 5, 0, 0, 10, NULL}, "rate_bp"},
        {{"x", "fixed", NULL, 0, 0, 0, 10, NULL}, "currency"},
        {{"x", "membership", "CNY", 0, 0, 0, 10, NULL}, "period"},
        {{"x", "membership", "CNY", 0, 0, 0, 10, "week"}, "period"},
        {{"x", "membership", "CNY", 0, 0, 0, 0, "year"}, "fixed_amount"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct errbuf err;
        errbuf_init(&err);
        struct store_fee_schedule out;
        enum err rc = clearing_fee_schedule_create(&f->c, &f->op, &bad[i].in, &out, &err);
        if (rc != ERR_INVALID || strcmp(err.field, bad[i].field) != 0) {
            fail_msg("case %zu: got %s (%s: %s)", i, err_name(rc), err.field, err.msg);
        }
    }
    struct clearing_actor entity = {f->buyer, CLEARING_ROLE_ENTITY};
    struct store_fee_schedule out;
    assert_int_equal(clearing_fee_schedule_create(&f->c, &entity, &bad[0].in, &out, NULL),
                     ERR_FORBIDDEN);
    assert_int_equal(clearing_fee_schedule_get(&f->c, "fee_x", &out, NULL), ERR_INVALID);
    assert_int_equal(clearing_fee_schedule_get(&f->c, "fee_aaaaaaaaaaaaaaaaaaaa", &out, NULL),
                     ERR_NOT_FOUND);
    digest(f->c.store, after);
    assert_string_equal(before, after);
    /* Membership: charged once per period. */
    deposit(f, f->buyer, "CNY", 20000, NULL);
    struct store_ledger_transfer t1, t2;
    int replayed = 0;
    assert_int_equal(
        clearing_membership_charge(&f->c, &f->op, m.id, f->buyer, &t1, &replayed, NULL), ERR_OK);
    assert_false(replayed);
    assert_string_equal(t1.code, "fee.membership");
    assert_int_equal(
        clearing_membership_charge(&f->c, &f->op, m.id, f->buyer, &t2, &replayed, NULL), ERR_OK);
    assert_true(replayed);
    assert_string_equal(t1.id, t2.id);
    assert_int_equal(posted(f, CLEARING_EXCHANGE, CLEARING_ACCOUNT_FEES, "CNY"), 9900);
    f->clock_state.now_ms += (int64_t)31 * 24 * 3600 * 1000;
    assert_int_equal(
        clearing_membership_charge(&f->c, &f->op, m.id, f->buyer, &t2, &replayed, NULL), ERR_OK);
    assert_false(replayed);
    assert_int_equal(posted(f, f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 200);
    /* Next month: nothing left to pay with. */
    f->clock_state.now_ms += (int64_t)31 * 24 * 3600 * 1000;
    assert_int_equal(
        clearing_membership_charge(&f->c, &f->op, m.id, f->buyer, &t2, &replayed, NULL),
        ERR_BAD_STATE);
    assert_int_equal(
        clearing_membership_charge(&f->c, &f->op, a.id, f->buyer, &t2, &replayed, NULL),
        ERR_INVALID);
    assert_int_equal(
        clearing_membership_charge(&f->c, &entity, m.id, f->buyer, &t2, &replayed, NULL),
        ERR_FORBIDDEN);
    check_ok(f->c.store);
}

/* ---- reading: accounts, history, statements ---- */

static void test_clearing__history_and_statement(void **state)
{
    struct fixture *f = *state;
    int64_t t_start = f->clock_state.now_ms;
    deposit(f, f->buyer, "CNY", 10000, NULL); /* before the period */
    f->clock_state.now_ms += 1000;
    int64_t from = f->clock_state.now_ms;
    deposit(f, f->buyer, "CNY", 500, NULL);
    struct store_ledger_transfer p = hold(f, f->buyer, "CNY", 2000, 0, NULL);
    struct clearing_release r = {p.id, f->provider, NULL, NULL,         0,
                                 NULL, 0,           1500, "合同,\"1\"", NULL};
    struct clearing_settlement s;
    assert_int_equal(clearing_post(&f->c, &f->sys, &r, &s, NULL), ERR_OK);
    deposit(f, f->buyer, "USD", 77, NULL);
    struct clearing_movement m = {f->buyer, "CNY", 1000, "=HYPERLINK(\"x\")", NULL};
    struct store_ledger_transfer t;
    int replayed = 0;
    assert_int_equal(clearing_withdraw(&f->c, &f->op, &m, &t, &replayed, NULL), ERR_OK);
    f->clock_state.now_ms += 1000;
    int64_t to = f->clock_state.now_ms;
    deposit(f, f->buyer, "CNY", 3, NULL); /* after the period */

    struct clearing_actor self = {f->buyer, CLEARING_ROLE_ENTITY};
    struct store_ledger_account *acc = NULL;
    size_t n = 0;
    assert_int_equal(clearing_accounts(&f->c, &self, f->buyer, &acc, &n, NULL), ERR_OK);
    assert_int_equal(n, 3); /* CNY available and escrow, USD available */
    mem_free(acc);
    /* History: all 8 transfers touching the buyer, newest first, pages of 3, no repeats. */
    char cursor[CLEARING_CURSOR_MAX] = "";
    size_t total = 0;
    int64_t last_seq = INT64_MAX;
    for (int page = 0; page < 10; page++) {
        struct clearing_history h;
        assert_int_equal(clearing_entity_history(&f->c, &self, f->buyer,
                                                 cursor[0] != '\0' ? cursor : NULL, 3, &h, NULL),
                         ERR_OK);
        for (size_t i = 0; i < h.count; i++) {
            assert_true(h.items[i].seq < last_seq);
            last_seq = h.items[i].seq;
        }
        total += h.count;
        snprintf(cursor, sizeof(cursor), "%s", h.next_cursor);
        clearing_history_release(&h);
        if (cursor[0] == '\0') {
            break;
        }
    }
    /* deposit, deposit, hold, post, provider leg, deposit USD, withdrawal, deposit */
    assert_int_equal(total, 8);
    struct clearing_history h;
    assert_int_equal(clearing_entity_history(&f->c, &self, f->buyer, "12x", 3, &h, NULL),
                     ERR_INVALID);
    assert_int_equal(clearing_entity_history(&f->c, &self, f->buyer, ".5", 3, &h, NULL),
                     ERR_INVALID);
    /* Visibility. */
    struct clearing_actor stranger = {f->other, CLEARING_ROLE_ENTITY};
    struct clearing_actor regulator = {f->other, CLEARING_ROLE_REGULATOR};
    assert_int_equal(clearing_accounts(&f->c, &stranger, f->buyer, &acc, &n, NULL), ERR_NOT_FOUND);
    assert_int_equal(clearing_entity_history(&f->c, &stranger, f->buyer, NULL, 3, &h, NULL),
                     ERR_NOT_FOUND);
    assert_int_equal(clearing_accounts(&f->c, &regulator, f->buyer, &acc, &n, NULL), ERR_OK);
    mem_free(acc);
    assert_int_equal(clearing_accounts(&f->c, &f->op, "ent_aaaaaaaaaaaaaaaaaaaa", &acc, &n, NULL),
                     ERR_NOT_FOUND);
    /* The exchange's own accounts: the privileged read them, an entity does not; with every
     * entity's accounts they sum to zero. */
    assert_int_equal(clearing_accounts(&f->c, &self, CLEARING_EXCHANGE, &acc, &n, NULL),
                     ERR_NOT_FOUND);
    assert_null(acc);
    assert_int_equal(clearing_accounts(&f->c, &regulator, CLEARING_EXCHANGE, &acc, &n, NULL),
                     ERR_OK);
    mem_free(acc);
    const char *owners[] = {CLEARING_EXCHANGE, f->buyer, f->provider, f->other};
    int64_t cny_sum = 0;
    size_t exchange_accounts = 0;
    for (size_t o = 0; o < ARRAY_LEN(owners); o++) {
        assert_int_equal(clearing_accounts(&f->c, &f->op, owners[o], &acc, &n, NULL), ERR_OK);
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(acc[i].owner, owners[o]);
            if (strcmp(acc[i].currency, "CNY") == 0) {
                cny_sum += acc[i].credits_posted - acc[i].debits_posted;
            }
        }
        exchange_accounts += o == 0 ? n : 0;
        mem_free(acc);
    }
    assert_int_equal(exchange_accounts, 2); /* CNY and USD cash (no fee was charged) */
    assert_int_equal(cny_sum, 0);
    assert_int_equal(clearing_transfer_get(&f->c, &stranger, p.id, &t, NULL), ERR_NOT_FOUND);
    assert_int_equal(clearing_transfer_get(&f->c, &self, p.id, &t, NULL), ERR_OK);
    struct clearing_actor prov = {f->provider, CLEARING_ROLE_ENTITY};
    assert_int_equal(clearing_transfer_get(&f->c, &prov, s.transfers[1].id, &t, NULL), ERR_OK);
    /* The statement for CNY over the period. */
    struct buf csv;
    buf_init(&csv, CLEARING_STATEMENT_BYTES_MAX);
    struct errbuf err;
    errbuf_init(&err);
    if (clearing_statement(&f->c, &self, f->buyer, "CNY", from, to, &csv, &err) != ERR_OK) {
        fail_msg("statement: %s", err.msg);
    }
    const char *text = csv.data;
    assert_has(text, "record,time,account,account_kind,currency,transfer,kind,code,"
                     "reference,debit,credit,pending_change,balance,pending_balance\r\n");
    char ab[ID_MAX];
    clearing_account_id(f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY", ab);
    char line[256];
    char t_from[CLOCK_RFC3339_LEN], t_to[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(from, t_from);
    clock_format_rfc3339(to, t_to);
    snprintf(line, sizeof(line), "opening,%s,%s,available,CNY,,,,,0,0,0,10000,0\r\n", t_from, ab);
    assert_has(text, line);
    /* 10000 + 500 - 1500 - 1000 */
    snprintf(line, sizeof(line), "closing,%s,%s,available,CNY,,,,,0,0,0,8000,0\r\n", t_to, ab);
    assert_has(text, line);
    assert_has(text, ",pending,escrow.hold,ctr-1,0,0,-2000,10500,-2000\r\n");
    assert_has(text, ",post,escrow.post,\"合同,\"\"1\"\"\",1500,0,2000,9000,0\r\n");
    assert_has(text, ",withdrawal,\"'=HYPERLINK(\"\"x\"\")\",1000,0,0,8000,0\r\n");
    assert_null(strstr(text, "USD"));
    assert_null(strstr(text, ",3,"));
    /* The escrow account nets to zero in the period. */
    char ae[ID_MAX];
    clearing_account_id(f->buyer, CLEARING_ACCOUNT_ESCROW, "CNY", ae);
    snprintf(line, sizeof(line), "closing,%s,%s,escrow,CNY,,,,,0,0,0,0,0\r\n", t_to, ae);
    assert_has(text, line);
    buf_reset(&csv);
    /* All currencies, and refusals. */
    assert_int_equal(
        clearing_statement(&f->c, &regulator, f->buyer, NULL, t_start, to + 10, &csv, NULL),
        ERR_OK);
    assert_non_null(strstr(csv.data, "USD"));
    buf_reset(&csv);
    assert_int_equal(clearing_statement(&f->c, &self, f->buyer, NULL, to, from, &csv, NULL),
                     ERR_INVALID);
    assert_int_equal(clearing_statement(&f->c, &self, f->buyer, "XYZ", from, to, &csv, NULL),
                     ERR_INVALID);
    assert_int_equal(clearing_statement(&f->c, &self, f->buyer, NULL, -1, to, &csv, NULL),
                     ERR_INVALID);
    assert_int_equal(
        clearing_statement(&f->c, &self, f->buyer, NULL, 0, CLEARING_TIME_MAX_MS + 1, &csv, NULL),
        ERR_INVALID);
    assert_int_equal(clearing_statement(&f->c, &stranger, f->buyer, NULL, from, to, &csv, NULL),
                     ERR_NOT_FOUND);
    buf_release(&csv);
    /* A statement too large for its buffer is ERR_LIMIT. */
    buf_init(&csv, 300);
    assert_int_equal(clearing_statement(&f->c, &self, f->buyer, NULL, t_start, to, &csv, NULL),
                     ERR_LIMIT);
    buf_release(&csv);
    check_ok(f->c.store);
}

/* ---- the integrity checks ---- */

#define expect_corrupt(s, log, fragment) expect_corrupt_at(s, log, fragment, __LINE__)

static void expect_corrupt_at(struct store *s, int log, const char *fragment, int line)
{
    struct clearing_check_report r;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = log ? clearing_check_log(s, &r, &err) : clearing_check(s, &r, &err);
    if (rc != ERR_CORRUPT || strstr(err.msg, fragment) == NULL) {
        fail_msg("line %d: expected a problem with '%s', got %s: %s", line, fragment, err_name(rc),
                 err.msg);
    }
    assert_true(r.problems >= 1);
}

static void tamper(struct store *s, const char *sql)
{
    assert_int_equal(store_exec(s, sql, NULL), ERR_OK);
}

static void test_clearing__check_finds_tampering(void **state)
{
    struct fixture *f = *state;
    deposit(f, f->buyer, "CNY", 5000, NULL);
    struct store_ledger_transfer p = hold(f, f->buyer, "CNY", 1000, 60000, NULL);
    hold(f, f->buyer, "CNY", 500, 120000, NULL);
    schedule(f, "standard", "percentage", "CNY", 100, 0, 0, 0, NULL);
    struct clearing_release r = {p.id, f->provider, NULL, NULL, 0, NULL, 0, 0, NULL, NULL};
    struct clearing_settlement s;
    assert_int_equal(clearing_post(&f->c, &f->sys, &r, &s, NULL), ERR_OK);
    struct clearing_check_report rep;
    assert_int_equal(clearing_check(f->c.store, &rep, NULL), ERR_OK);
    assert_int_equal(rep.transfers, 5);
    assert_int_equal(rep.pending_open, 1);
    assert_int_equal(rep.currencies, 1);
    assert_int_equal(rep.totals[0].posted, 5000 + 1000 + 1000);
    assert_int_equal(rep.totals[0].pending, 500);
    assert_int_equal(clearing_check_log(f->c.store, &rep, NULL), ERR_OK);
    assert_int_equal(rep.transfers, 5);
    assert_int_equal(rep.events, 5);

    tamper(f->c.store, "UPDATE ledger_accounts SET credits_posted = credits_posted + 1"
                       " WHERE kind = 'available' AND credits_posted = 5000");
    expect_corrupt(f->c.store, 0, "balances its transfers do not add up to");
    tamper(f->c.store, "UPDATE ledger_accounts SET credits_posted = credits_posted - 1"
                       " WHERE kind = 'available' AND credits_posted = 5001");
    check_ok(f->c.store);

    tamper(f->c.store, "UPDATE ledger_transfers SET amount = amount + 1 WHERE code = 'deposit'");
    expect_corrupt(f->c.store, 0, "");
    expect_corrupt(f->c.store, 1, "differs from its event");
    tamper(f->c.store, "UPDATE ledger_transfers SET amount = amount - 1 WHERE code = 'deposit'");

    tamper(f->c.store, "UPDATE ledger_transfers SET state = 'pending' WHERE kind = 'pending'"
                       " AND amount = 1000");
    expect_corrupt(f->c.store, 0, "is stored as 'pending' but is posted");
    tamper(f->c.store, "UPDATE ledger_transfers SET state = 'posted' WHERE kind = 'pending'"
                       " AND amount = 1000");

    tamper(f->c.store, "DELETE FROM ledger_timeouts");
    expect_corrupt(f->c.store, 0, "has lost its timeout");
    tamper(f->c.store, "INSERT INTO ledger_timeouts SELECT timeout_ms + 1, id FROM ledger_transfers"
                       " WHERE kind = 'pending' AND state = 'pending'");
    expect_corrupt(f->c.store, 0, "names no open hold");
    tamper(f->c.store, "UPDATE ledger_timeouts SET timeout_ms = timeout_ms - 1");
    check_ok(f->c.store);

    tamper(f->c.store, "UPDATE events SET leaf = replace(leaf, '\"amount\":5000',"
                       " '\"amount\":5001') WHERE type = 'clearing.deposit'");
    expect_corrupt(f->c.store, 1, "differs from its event");
    tamper(f->c.store, "UPDATE events SET leaf = replace(leaf, '\"amount\":5001',"
                       " '\"amount\":5000') WHERE type = 'clearing.deposit'");

    tamper(f->c.store, "UPDATE ledger_fee_schedules SET rate_bp = 99");
    expect_corrupt(f->c.store, 1, "fee schedule");
    tamper(f->c.store, "UPDATE ledger_fee_schedules SET rate_bp = 100");

    /* A transfer without an event, with consistent balances: only the log check sees it. */
    tamper(f->c.store,
           "INSERT INTO ledger_transfers SELECT seq + 1000000, 'trf_zzzzzzzzzzzzzzzzzzzz', kind,"
           " state, debit_account, credit_account, amount, currency, code, reference, pending_id,"
           " timeout_ms, caller, idempotency_key, request_hash, debit_posted_after,"
           " debit_pending_after, credit_posted_after, credit_pending_after, debit_prev_seq,"
           " credit_prev_seq, created_ms, log_index + 15625 FROM ledger_transfers"
           " WHERE code = 'deposit'");
    expect_corrupt(f->c.store, 1, "is in no event of the log");
    expect_corrupt(f->c.store, 0, "");
    tamper(f->c.store, "DELETE FROM ledger_transfers WHERE id = 'trf_zzzzzzzzzzzzzzzzzzzz'");
    check_ok(f->c.store);

    /* History chains and marks. */
    for (int i = 0; i < 40; i++) {
        deposit(f, f->other, "CNY", 1, NULL);
    }
    check_ok(f->c.store);
    tamper(f->c.store, "UPDATE ledger_marks SET seq = seq + 1");
    expect_corrupt(f->c.store, 0, "is not where the replay puts one");
    tamper(f->c.store, "UPDATE ledger_marks SET seq = seq - 1");
    tamper(f->c.store, "CREATE TABLE saved_marks AS SELECT * FROM ledger_marks");
    tamper(f->c.store, "DELETE FROM ledger_marks");
    expect_corrupt(f->c.store, 0, "history marks are missing");
    tamper(f->c.store, "INSERT INTO ledger_marks SELECT * FROM saved_marks");
    check_ok(f->c.store);
    tamper(f->c.store, "UPDATE ledger_transfers SET credit_prev_seq = -1 WHERE code = 'deposit'"
                       " AND credit_posted_after = 5");
    expect_corrupt(f->c.store, 0, "breaks the history chain");
    struct clearing_actor self = {f->other, CLEARING_ROLE_ENTITY};
    struct clearing_history h;
    struct errbuf herr;
    errbuf_init(&herr);
    assert_int_equal(clearing_entity_history(&f->c, &self, f->other, NULL, 50, &h, &herr), ERR_OK);
    assert_int_equal(h.count, 36); /* the history now stops at the cut: what the chain says */
    clearing_history_release(&h);
    tamper(f->c.store,
           "UPDATE ledger_accounts SET last_seq = last_seq + 1 WHERE owner = 'exchange'");
    expect_corrupt(f->c.store, 0, "");

    /* An overdrawn account is caught even when the counters agree. */
    tamper(f->c.store, "UPDATE ledger_accounts SET flags = 2 WHERE kind = 'available'"
                       " AND credits_posted = 5000");
    expect_corrupt(f->c.store, 0, "overdraws an account");
}

/* ---- allocation failures ---- */

typedef enum err mutation_fn(struct fixture *f, int step);

static enum err m_deposit(struct fixture *f, int step)
{
    char key[32];
    snprintf(key, sizeof(key), "alloc-%d", step);
    struct clearing_movement m = {f->provider, "HKD", 100 + step, "r", key};
    struct store_ledger_transfer t;
    int replayed = 0;
    return clearing_deposit(&f->c, &f->op, &m, &t, &replayed, NULL);
}

static enum err m_hold(struct fixture *f, int step)
{
    struct clearing_hold h = {f->buyer, "CNY", 10 + step, 1000, "r", NULL};
    struct store_ledger_transfer t;
    int replayed = 0;
    enum err rc = clearing_hold(&f->c, &f->sys, &h, &t, &replayed, NULL);
    if (rc == ERR_OK) {
        snprintf(f->target, sizeof(f->target), "%s", t.id);
    }
    return rc;
}

static enum err m_post(struct fixture *f, int step)
{
    (void)step;
    struct clearing_share b[] = {{f->broker, 100}};
    struct clearing_share rv[] = {{f->product, 200}};
    struct clearing_release r = {f->target, f->provider, NULL, b, 1, rv, 1, 0, "x", "post-alloc"};
    struct clearing_settlement s;
    return clearing_post(&f->c, &f->sys, &r, &s, NULL);
}

static enum err m_batch(struct fixture *f, int step)
{
    char ab[ID_MAX], ap[ID_MAX];
    clearing_account_id(f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY", ab);
    clearing_account_id(f->provider, CLEARING_ACCOUNT_AVAILABLE, "CNY", ap);
    char k1[32], k2[32];
    snprintf(k1, sizeof(k1), "b1-%d", step);
    snprintf(k2, sizeof(k2), "b2-%d", step);
    struct clearing_transfer_in in[] = {{ab, ap, 3, "CNY", "x", NULL, k1},
                                        {ap, ab, 1, "CNY", "x", NULL, k2}};
    struct store_ledger_transfer out[2];
    int replayed = 0;
    return clearing_transfer_batch(&f->c, &f->sys, in, 2, out, &replayed, NULL);
}

static enum err m_void(struct fixture *f, int step)
{
    (void)step;
    struct store_ledger_transfer t;
    int replayed = 0;
    return clearing_void(&f->c, &f->sys, f->target, NULL, NULL, &t, &replayed, NULL);
}

static enum err m_sweep(struct fixture *f, int step)
{
    (void)step;
    size_t n = 0;
    enum err rc = clearing_sweep(&f->c, CLEARING_BATCH_MAX, &n, NULL);
    return rc == ERR_OK && n == 0 ? ERR_NOT_FOUND : rc;
}

static enum err m_schedule(struct fixture *f, int step)
{
    (void)step;
    struct clearing_fee_schedule_in in = {"alloc", "percentage", "CNY", 10, 1, 5, 0, NULL};
    struct store_fee_schedule s;
    return clearing_fee_schedule_create(&f->c, &f->op, &in, &s, NULL);
}

static enum err m_membership(struct fixture *f, int step)
{
    (void)step;
    struct store_ledger_transfer t;
    int replayed = 0;
    return clearing_membership_charge(&f->c, &f->op, f->target, f->buyer, &t, &replayed, NULL);
}

static void alloc_loop(struct fixture *f, const char *name, mutation_fn *fn, int expect_ok)
{
    for (long n = 1; n < 2000; n++) {
        char before[65], after[65];
        digest(f->c.store, before);
        int64_t ev = market_event_count(f->c.store);
        mem_fail_after(n);
        enum err rc = fn(f, (int)n);
        mem_fail_after(0);
        if (rc != ERR_NOMEM) {
            if (expect_ok && rc != ERR_OK) {
                fail_msg("%s: ended with %s after %ld allocations", name, err_name(rc), n);
            }
            assert_int_equal(market_event_count(f->c.store), ev + (rc == ERR_OK));
            check_ok(f->c.store);
            return;
        }
        digest(f->c.store, after);
        if (strcmp(before, after) != 0) {
            fail_msg("%s: allocation failure %ld changed the ledger", name, n);
        }
        assert_int_equal(store_tx_depth(f->c.store), 0);
    }
    fail_msg("%s never succeeded", name);
}

static void test_clearing__allocation_failures(void **state)
{
    struct fixture *f = *state;
    deposit(f, f->buyer, "CNY", 100000, NULL);
    deposit(f, f->provider, "CNY", 100, NULL);
    alloc_loop(f, "deposit", m_deposit, 1);
    alloc_loop(f, "hold", m_hold, 1);
    alloc_loop(f, "post", m_post, 1);
    alloc_loop(f, "hold again", m_hold, 1);
    alloc_loop(f, "void", m_void, 1);
    alloc_loop(f, "batch", m_batch, 1);
    alloc_loop(f, "schedule", m_schedule, 1);
    struct store_fee_schedule club = schedule(f, "club", "membership", "CNY", 0, 0, 0, 50, "year");
    snprintf(f->target, sizeof(f->target), "%s", club.id);
    alloc_loop(f, "membership", m_membership, 1);
    alloc_loop(f, "hold to expire", m_hold, 1);
    f->clock_state.now_ms += 5000;
    alloc_loop(f, "sweep", m_sweep, 1);
    /* Reads and the checks fail cleanly too. */
    for (long n = 1; n < 2000; n++) {
        struct clearing_check_report r;
        struct buf csv;
        buf_init(&csv, CLEARING_STATEMENT_BYTES_MAX);
        struct clearing_history h;
        mem_fail_after(n);
        enum err a = clearing_check(f->c.store, &r, NULL);
        enum err b = clearing_check_log(f->c.store, &r, NULL);
        enum err c =
            clearing_statement(&f->c, &f->op, f->buyer, NULL, 0, CLEARING_TIME_MAX_MS, &csv, NULL);
        enum err d = clearing_entity_history(&f->c, &f->op, f->buyer, NULL, 50, &h, NULL);
        mem_fail_after(0);
        buf_release(&csv);
        if (d == ERR_OK) {
            clearing_history_release(&h);
        }
        assert_true(a == ERR_OK || a == ERR_NOMEM);
        assert_true(b == ERR_OK || b == ERR_NOMEM);
        assert_true(c == ERR_OK || c == ERR_NOMEM);
        assert_true(d == ERR_OK || d == ERR_NOMEM);
        if (a == ERR_OK && b == ERR_OK && c == ERR_OK && d == ERR_OK) {
            return;
        }
    }
    fail_msg("reads never succeeded");
}

/* ---- the simulation ---- */

#define SIM_ENTITIES 6
#define SIM_MODEL_MAX 256
#define SIM_HOLDS_MAX 512
#define SIM_RETRIES 16

struct sim_account {
    char id[ID_MAX];
    int64_t posted;
    int64_t pending;
};

struct sim_hold {
    char id[ID_MAX];
    char buyer[ID_MAX];
    const char *currency;
    int64_t amount;
    int64_t timeout_ms;
};

struct sim_retry {
    struct clearing_movement m;
    char entity[ID_MAX];
    char key[32];
    char reference[32];
    char id[ID_MAX];
    int deposit;
};

struct sim {
    struct fixture *f;
    uint64_t rnd;
    char entities[SIM_ENTITIES][ID_MAX];
    char products[2][ID_MAX];
    struct store_fee_schedule schedules[3];
    struct sim_account model[SIM_MODEL_MAX];
    size_t nmodel;
    struct sim_hold holds[SIM_HOLDS_MAX];
    size_t nholds;
    struct sim_retry retries[SIM_RETRIES];
    size_t nretries;
    int64_t events;
    int step;
    long counts[12];
};

static const char *const sim_currencies[] = {"CNY", "JPY", "USD"};

static struct sim_account *sim_acc(struct sim *s, const char *owner,
                                   enum clearing_account_kind kind, const char *cur)
{
    char id[ID_MAX];
    clearing_account_id(owner, kind, cur, id);
    for (size_t i = 0; i < s->nmodel; i++) {
        if (strcmp(s->model[i].id, id) == 0) {
            return &s->model[i];
        }
    }
    assert_true(s->nmodel < SIM_MODEL_MAX);
    struct sim_account *a = &s->model[s->nmodel++];
    memset(a, 0, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "%s", id);
    /* The model starts from what is stored (the exchange's accounts may predate it). */
    struct store_ledger_account st = account(s->f, owner, kind, cur);
    a->posted = st.credits_posted - st.debits_posted;
    a->pending = st.credits_pending - st.debits_pending;
    return a;
}

static int64_t sim_available(struct sim *s, const char *owner, const char *cur)
{
    struct sim_account *a = sim_acc(s, owner, CLEARING_ACCOUNT_AVAILABLE, cur);
    return a->posted + a->pending;
}

static void sim_fail(struct sim *s, const char *what, enum err rc, const struct errbuf *err)
{
    fail_msg("seed %" PRIu64 " step %d: %s: %s (%s)", test_seed, s->step, what, err_name(rc),
             err != NULL ? err->msg : "");
}

static void sim_expect(struct sim *s, const char *what, enum err rc, enum err want,
                       const struct errbuf *err)
{
    if (rc != want) {
        char w[96];
        snprintf(w, sizeof(w), "%s (wanted %s)", what, err_name(want));
        sim_fail(s, w, rc, err);
    }
    s->events += rc == ERR_OK;
}

static int64_t sim_amount(struct sim *s)
{
    switch (rnd_next(&s->rnd) % 4) {
    case 0:
        return rnd_range(&s->rnd, 1, 10);
    case 1:
        return rnd_range(&s->rnd, 1, 1000);
    default:
        return rnd_range(&s->rnd, 1, 200000);
    }
}

static void sim_movement(struct sim *s, int deposit)
{
    struct fixture *f = s->f;
    const char *e = s->entities[rnd_next(&s->rnd) % SIM_ENTITIES];
    const char *cur = sim_currencies[rnd_next(&s->rnd) % 3];
    int64_t amount =
        deposit ? sim_amount(s) : rnd_range(&s->rnd, 1, 2 * sim_available(s, e, cur) + 2);
    struct sim_retry *r = &s->retries[s->nretries % SIM_RETRIES];
    struct sim_retry mine;
    memset(&mine, 0, sizeof(mine));
    snprintf(mine.entity, sizeof(mine.entity), "%s", e);
    snprintf(mine.key, sizeof(mine.key), "k-%d", s->step);
    snprintf(mine.reference, sizeof(mine.reference), "ref %d", s->step);
    int keyed = rnd_next(&s->rnd) % 2;
    struct clearing_movement m = {mine.entity, cur, amount, mine.reference,
                                  keyed ? mine.key : NULL};
    struct store_ledger_transfer t;
    int replayed = 0;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = deposit ? clearing_deposit(&f->c, &f->op, &m, &t, &replayed, &err)
                          : clearing_withdraw(&f->c, &f->op, &m, &t, &replayed, &err);
    enum err want = deposit || amount <= sim_available(s, e, cur) ? ERR_OK : ERR_BAD_STATE;
    sim_expect(s, deposit ? "deposit" : "withdrawal", rc, want, &err);
    if (rc != ERR_OK) {
        return;
    }
    int64_t sign = deposit ? 1 : -1;
    sim_acc(s, e, CLEARING_ACCOUNT_AVAILABLE, cur)->posted += sign * amount;
    sim_acc(s, CLEARING_EXCHANGE, CLEARING_ACCOUNT_CASH, cur)->posted -= sign * amount;
    if (keyed) {
        mine.m = m;
        mine.deposit = deposit;
        snprintf(mine.id, sizeof(mine.id), "%s", t.id);
        *r = mine;
        s->nretries++;
    }
}

static void sim_retry(struct sim *s)
{
    if (s->nretries == 0) {
        return;
    }
    struct fixture *f = s->f;
    struct sim_retry *r =
        &s->retries[rnd_next(&s->rnd) % (s->nretries < SIM_RETRIES ? s->nretries : SIM_RETRIES)];
    struct clearing_movement m = r->m;
    m.entity_id = r->entity;
    m.idempotency_key = r->key;
    m.reference = r->reference;
    int conflict = rnd_next(&s->rnd) % 3 == 0;
    m.amount += conflict;
    struct store_ledger_transfer t;
    int replayed = 0;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = r->deposit ? clearing_deposit(&f->c, &f->op, &m, &t, &replayed, &err)
                             : clearing_withdraw(&f->c, &f->op, &m, &t, &replayed, &err);
    if (rc != (conflict ? ERR_CONFLICT : ERR_OK) || (!conflict && !replayed) ||
        (!conflict && strcmp(t.id, r->id) != 0)) {
        sim_fail(s, "retry", rc, &err);
    }
}

static void sim_hold(struct sim *s)
{
    struct fixture *f = s->f;
    const char *e = s->entities[rnd_next(&s->rnd) % SIM_ENTITIES];
    const char *cur = sim_currencies[rnd_next(&s->rnd) % 3];
    int64_t avail = sim_available(s, e, cur);
    int64_t amount = rnd_range(&s->rnd, 1, avail > 0 && rnd_next(&s->rnd) % 4 ? avail : avail + 5);
    int64_t timeout = rnd_next(&s->rnd) % 3 == 0 ? 0 : rnd_range(&s->rnd, 1, 20000);
    struct clearing_hold h = {e, cur, amount, timeout, NULL, NULL};
    struct store_ledger_transfer t;
    int replayed = 0;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = clearing_hold(&f->c, &f->sys, &h, &t, &replayed, &err);
    sim_expect(s, "hold", rc, amount <= avail ? ERR_OK : ERR_BAD_STATE, &err);
    if (rc != ERR_OK || s->nholds == SIM_HOLDS_MAX) {
        return;
    }
    sim_acc(s, e, CLEARING_ACCOUNT_AVAILABLE, cur)->pending -= amount;
    sim_acc(s, e, CLEARING_ACCOUNT_ESCROW, cur)->pending += amount;
    struct sim_hold *sh = &s->holds[s->nholds++];
    snprintf(sh->id, sizeof(sh->id), "%s", t.id);
    memcpy(sh->buyer, e, strlen(e) + 1);
    sh->currency = cur;
    sh->amount = amount;
    sh->timeout_ms = t.timeout_ms;
}

static void sim_release(struct sim *s, struct sim_hold *h, int64_t amount)
{
    sim_acc(s, h->buyer, CLEARING_ACCOUNT_AVAILABLE, h->currency)->pending += h->amount;
    sim_acc(s, h->buyer, CLEARING_ACCOUNT_ESCROW, h->currency)->pending -= h->amount;
    sim_acc(s, h->buyer, CLEARING_ACCOUNT_AVAILABLE, h->currency)->posted -= amount;
    *h = s->holds[--s->nholds];
}

static void sim_post(struct sim *s)
{
    if (s->nholds == 0) {
        return;
    }
    struct fixture *f = s->f;
    struct sim_hold *h = &s->holds[rnd_next(&s->rnd) % s->nholds];
    const char *provider = s->entities[rnd_next(&s->rnd) % SIM_ENTITIES];
    struct clearing_share b[2], rv[2];
    size_t nb = (size_t)rnd_range(&s->rnd, 0, 2), nr = (size_t)rnd_range(&s->rnd, 0, 2);
    int64_t bp_b[2], bp_r[2];
    for (size_t i = 0; i < nb; i++) {
        b[i].recipient = s->entities[rnd_next(&s->rnd) % SIM_ENTITIES];
        b[i].bp = bp_b[i] = rnd_range(&s->rnd, 1, 2000);
    }
    for (size_t i = 0; i < nr; i++) {
        rv[i].recipient = s->products[rnd_next(&s->rnd) % 2];
        rv[i].bp = bp_r[i] = rnd_range(&s->rnd, 1, 2000);
    }
    const struct store_fee_schedule *fs = &s->schedules[rnd_next(&s->rnd) % 3];
    int use_fee = rnd_next(&s->rnd) % 2 &&
                  (fs->currency[0] == '\0' || strcmp(fs->currency, h->currency) == 0);
    int64_t amount = rnd_next(&s->rnd) % 3 == 0 ? rnd_range(&s->rnd, 1, h->amount) : 0;
    struct clearing_release r = {h->id, provider, use_fee ? fs->id : NULL, b, nb, rv, nr, amount,
                                 NULL,  NULL};
    struct clearing_fee_rule rule = {CLEARING_FEE_PERCENTAGE, 0, 0, 0, 0};
    if (use_fee) {
        assert_int_equal(clearing_fee_schedule_rule(fs, &rule, NULL), ERR_OK);
    }
    int64_t settled = amount != 0 ? amount : h->amount;
    struct clearing_split want;
    enum err split_rc = clearing_split(settled, &rule, bp_b, nb, bp_r, nr, &want, NULL);
    int expired = h->timeout_ms != 0 && f->clock_state.now_ms + 1 >= h->timeout_ms;
    struct clearing_settlement st;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = clearing_post(&f->c, &f->sys, &r, &st, &err);
    sim_expect(s, "post", rc,
               split_rc != ERR_OK ? split_rc
               : expired          ? ERR_BAD_STATE
                                  : ERR_OK,
               &err);
    if (rc != ERR_OK) {
        return;
    }
    const char *cur = h->currency;
    sim_acc(s, h->buyer, CLEARING_ACCOUNT_ESCROW, cur)->posted += 0; /* in, and out again */
    sim_acc(s, CLEARING_EXCHANGE, CLEARING_ACCOUNT_FEES, cur)->posted += want.fee;
    for (size_t i = 0; i < nb; i++) {
        sim_acc(s, b[i].recipient, CLEARING_ACCOUNT_AVAILABLE, cur)->posted += want.brokers[i];
    }
    for (size_t i = 0; i < nr; i++) {
        sim_acc(s, rv[i].recipient, CLEARING_ACCOUNT_POOL, cur)->posted += want.revenue[i];
    }
    sim_acc(s, provider, CLEARING_ACCOUNT_AVAILABLE, cur)->posted += want.provider;
    sim_release(s, h, settled);
}

static void sim_void(struct sim *s)
{
    if (s->nholds == 0) {
        return;
    }
    struct fixture *f = s->f;
    struct sim_hold *h = &s->holds[rnd_next(&s->rnd) % s->nholds];
    struct store_ledger_transfer t;
    int replayed = 0;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = clearing_void(&f->c, &f->sys, h->id, NULL, NULL, &t, &replayed, &err);
    sim_expect(s, "void", rc, ERR_OK, &err);
    sim_release(s, h, 0);
}

static void sim_sweep(struct sim *s)
{
    struct fixture *f = s->f;
    f->clock_state.now_ms += rnd_range(&s->rnd, 1, 8000);
    size_t n = 0;
    do {
        struct errbuf err;
        errbuf_init(&err);
        enum err rc =
            clearing_sweep(&f->c, (size_t)rnd_range(&s->rnd, 1, CLEARING_BATCH_MAX), &n, &err);
        sim_expect(s, "sweep", rc, ERR_OK, &err);
        s->events -= n == 0;
    } while (n > 0);
    int64_t now = f->clock_state.now_ms;
    for (size_t i = 0; i < s->nholds;) {
        if (s->holds[i].timeout_ms != 0 && s->holds[i].timeout_ms <= now) {
            sim_release(s, &s->holds[i], 0);
        } else {
            i++;
        }
    }
}

static int sim_account_exists(struct sim *s, const char *id)
{
    const char *q[] = {id};
    struct store_ledger_account a;
    int found = 0;
    assert_int_equal(store_ledger_accounts_get(s->f->c.store, q, 1, &a, &found, NULL), ERR_OK);
    return found;
}

static void sim_batch(struct sim *s)
{
    struct fixture *f = s->f;
    const char *cur = sim_currencies[rnd_next(&s->rnd) % 3];
    size_t n = (size_t)rnd_range(&s->rnd, 1, 6);
    struct clearing_transfer_in in[6];
    char ids[6][2][ID_MAX];
    int64_t avail[SIM_ENTITIES];
    for (size_t i = 0; i < SIM_ENTITIES; i++) {
        avail[i] = sim_available(s, s->entities[i], cur);
    }
    /* The first transfer that fails decides: a missing account, then an overdraft. */
    enum err want = ERR_OK;
    for (size_t i = 0; i < n; i++) {
        size_t from = rnd_next(&s->rnd) % SIM_ENTITIES;
        size_t to = (from + 1 + rnd_next(&s->rnd) % (SIM_ENTITIES - 1)) % SIM_ENTITIES;
        int64_t amount = rnd_range(&s->rnd, 1, avail[from] / 2 + 3);
        clearing_account_id(s->entities[from], CLEARING_ACCOUNT_AVAILABLE, cur, ids[i][0]);
        clearing_account_id(s->entities[to], CLEARING_ACCOUNT_AVAILABLE, cur, ids[i][1]);
        in[i] = (struct clearing_transfer_in){ids[i][0],   ids[i][1], amount, cur,
                                              "sim.trade", NULL,      NULL};
        if (want != ERR_OK) {
            continue;
        }
        if (!sim_account_exists(s, ids[i][0]) || !sim_account_exists(s, ids[i][1])) {
            want = ERR_NOT_FOUND;
            continue;
        }
        avail[from] -= amount;
        avail[to] += amount;
        want = avail[from] >= 0 ? ERR_OK : ERR_BAD_STATE;
    }
    struct store_ledger_transfer out[6];
    int replayed = 0;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = clearing_transfer_batch(&f->c, &f->sys, in, n, out, &replayed, &err);
    sim_expect(s, "batch", rc, want, &err);
    if (rc != ERR_OK) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < s->nmodel; k++) {
            if (strcmp(s->model[k].id, in[i].debit_account) == 0) {
                s->model[k].posted -= in[i].amount;
            }
            if (strcmp(s->model[k].id, in[i].credit_account) == 0) {
                s->model[k].posted += in[i].amount;
            }
        }
    }
}

/* The model against every stored account. */
static void sim_compare(struct sim *s)
{
    for (size_t i = 0; i < s->nmodel; i++) {
        const char *ids[] = {s->model[i].id};
        struct store_ledger_account a;
        int found = 0;
        assert_int_equal(store_ledger_accounts_get(s->f->c.store, ids, 1, &a, &found, NULL),
                         ERR_OK);
        int64_t p = found ? a.credits_posted - a.debits_posted : 0;
        int64_t q = found ? a.credits_pending - a.debits_pending : 0;
        if (p != s->model[i].posted || q != s->model[i].pending) {
            fail_msg("seed %" PRIu64 " step %d: account %s is %" PRId64 "/%" PRId64
                     ", the model says %" PRId64 "/%" PRId64,
                     test_seed, s->step, s->model[i].id, p, q, s->model[i].posted,
                     s->model[i].pending);
        }
    }
    if (market_event_count(s->f->c.store) != s->events) {
        fail_msg("seed %" PRIu64 " step %d: %" PRId64 " events, expected %" PRId64, test_seed,
                 s->step, market_event_count(s->f->c.store), s->events);
    }
}

static void simulate(struct fixture *f, uint64_t seed, int steps)
{
    struct sim *s = calloc(1, sizeof(*s));
    s->f = f;
    s->rnd = rnd_seed(seed);
    for (int i = 0; i < SIM_ENTITIES; i++) {
        entity_add(f, "verified", s->entities[i]);
    }
    id_new(&f->rng, "prd", s->products[0]);
    id_new(&f->rng, "prd", s->products[1]);
    s->schedules[0] = schedule(f, "sim-pct", "percentage", "CNY", 250, 10, 5000, 0, NULL);
    s->schedules[1] = schedule(f, "sim-any", "percentage", NULL, 100, 0, 0, 0, NULL);
    s->schedules[2] = schedule(f, "sim-fixed", "fixed", "JPY", 0, 0, 0, 300, NULL);
    s->events = market_event_count(f->c.store);
    /* Every account the simulation can touch enters the model now, from the store. */
    for (size_t k = 0; k < 3; k++) {
        const char *cur = sim_currencies[k];
        for (int i = 0; i < SIM_ENTITIES; i++) {
            sim_acc(s, s->entities[i], CLEARING_ACCOUNT_AVAILABLE, cur);
            sim_acc(s, s->entities[i], CLEARING_ACCOUNT_ESCROW, cur);
        }
        sim_acc(s, s->products[0], CLEARING_ACCOUNT_POOL, cur);
        sim_acc(s, s->products[1], CLEARING_ACCOUNT_POOL, cur);
        sim_acc(s, CLEARING_EXCHANGE, CLEARING_ACCOUNT_CASH, cur);
        sim_acc(s, CLEARING_EXCHANGE, CLEARING_ACCOUNT_FEES, cur);
    }
    size_t known = s->nmodel;
    for (s->step = 0; s->step < steps; s->step++) {
        int op = (int)(rnd_next(&s->rnd) % 100);
        s->counts[op / 10]++;
        if (op < 22) {
            sim_movement(s, 1);
        } else if (op < 32) {
            sim_movement(s, 0);
        } else if (op < 52) {
            sim_hold(s);
        } else if (op < 67) {
            sim_post(s);
        } else if (op < 74) {
            sim_void(s);
        } else if (op < 80) {
            sim_sweep(s);
        } else if (op < 92) {
            sim_batch(s);
        } else {
            sim_retry(s);
        }
        assert_int_equal(s->nmodel, known);
        sim_compare(s);
        if (s->step < 400 || s->step % 25 == 0) {
            check_ok(f->c.store);
        }
    }
    check_ok(f->c.store);
    struct clearing_check_report r;
    assert_int_equal(clearing_check(f->c.store, &r, NULL), ERR_OK);
    fprintf(stderr,
            "# %d steps: %" PRId64 " transfers, %" PRId64 " accounts, %" PRId64
            " open holds, %" PRId64 " events\n",
            steps, r.transfers, r.accounts, r.pending_open, s->events);
    free(s);
}

static void test_clearing__simulation(void **state)
{
    struct fixture *f = *state;
    const char *env = getenv("BOURSE_SIM_STEPS");
    int steps = env != NULL ? atoi(env) : 4000;
    fprintf(stderr,
            "# clearing simulation: seed %" PRIu64 ", %d steps (BOURSE_SEED=%" PRIu64 " replays)\n",
            test_seed, steps, test_seed);
    simulate(f, test_seed, steps);
}

/* ---- PostgreSQL ---- */

static void test_clearing__postgres(void **state)
{
    (void)state;
    const char *admin = market_pg_admin_url();
    if (admin == NULL) {
        skip();
    }
    char db[MARKET_PG_DB_MAX], url[MARKET_URL_MAX];
    assert_int_equal(market_pg_db_create(admin, "clearing", db, url, sizeof(url)), ERR_OK);
    struct fixture *f = calloc(1, sizeof(*f));
    struct store *s = NULL;
    struct errbuf err;
    errbuf_init(&err);
    if (store_open(url, &s, &err) != ERR_OK) {
        fail_msg("cannot open '%s': %s", url, err.msg);
    }
    fixture_init(f, s);
    /* The worked settlement, then the simulation, on PostgreSQL. */
    deposit(f, f->buyer, "CNY", 100000, "pg-dep");
    deposit(f, f->buyer, "CNY", 100000, "pg-dep");
    struct store_ledger_transfer p = hold(f, f->buyer, "CNY", 5000, 0, NULL);
    struct clearing_share b[] = {{f->broker, 500}};
    struct clearing_release r = {p.id, f->provider, NULL, b, 1, NULL, 0, 0, NULL, NULL};
    struct clearing_settlement st;
    assert_int_equal(clearing_post(&f->c, &f->sys, &r, &st, NULL), ERR_OK);
    assert_int_equal(posted(f, f->provider, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 4750);
    assert_int_equal(posted(f, f->buyer, CLEARING_ACCOUNT_AVAILABLE, "CNY"), 95000);
    /* Texts reach PostgreSQL as literals in the batch writes: quotes, backslashes and a
     * would-be injection come back byte for byte (check_ok compares them with the log). */
    const char *nasty = "O'Brien \\ \\' \"引号\" '); DROP TABLE ledger_accounts; --";
    struct clearing_movement m = {f->buyer, "CNY", 7, nasty, "k'ey"};
    struct store_ledger_transfer t;
    int replayed = 0;
    assert_int_equal(clearing_deposit(&f->c, &f->op, &m, &t, &replayed, NULL), ERR_INVALID);
    m.idempotency_key = "pg-nasty";
    assert_int_equal(clearing_deposit(&f->c, &f->op, &m, &t, &replayed, NULL), ERR_OK);
    struct store_ledger_transfer back;
    assert_int_equal(clearing_transfer_get(&f->c, &f->op, t.id, &back, NULL), ERR_OK);
    assert_string_equal(back.reference, nasty);
    struct buf csv;
    buf_init(&csv, CLEARING_STATEMENT_BYTES_MAX);
    assert_int_equal(
        clearing_statement(&f->c, &f->op, f->buyer, "CNY", 0, CLEARING_TIME_MAX_MS, &csv, NULL),
        ERR_OK);
    assert_non_null(strstr(csv.data, ",95007,0\r\n"));
    buf_release(&csv);
    check_ok(s);
    const char *env = getenv("BOURSE_SIM_STEPS");
    simulate(f, test_seed, env != NULL ? atoi(env) / 4 : 1000);
    store_close(s);
    free(f);
    assert_int_equal(market_pg_db_drop(admin, db), ERR_OK);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    /* jansson's allocations go through mem_* too, so that allocation failures reach them. */
    json_set_alloc_funcs(mem_alloc, mem_free);
    log_set_level(LOG_ERROR);
    const char *seed = getenv("BOURSE_SEED");
    test_seed = seed != NULL ? strtoull(seed, NULL, 10) : 20261121;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clearing__currencies_and_names),
        cmocka_unit_test(test_clearing__split_examples),
        cmocka_unit_test(test_clearing__split_property),
        cmocka_unit_test_setup_teardown(test_clearing__deposit_withdraw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clearing__refusals_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clearing__idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clearing__escrow_settlement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clearing__void_and_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clearing__linked_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clearing__overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clearing__fee_schedules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clearing__history_and_statement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clearing__check_finds_tampering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clearing__allocation_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clearing__simulation, setup, teardown),
        cmocka_unit_test(test_clearing__postgres),
    };
    return cmocka_run_group_tests_name("clearing", tests, NULL, NULL);
}
