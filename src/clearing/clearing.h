/*
 * clearing: the exchange's money. It owns the ledger (accounts, transfers, escrow as two-phase
 * pending / post / void transfers with timeouts), the operator's fee schedules, the settlement
 * split (exchange fee, broker commissions, revenue shares, the provider's remainder), balances,
 * history and statements, and the offline integrity check of the ledger against the
 * transparency log (design §2 step 8; docs/decisions/0004-ledger.md).
 *
 * The model is TigerBeetle's. An account belongs to an owner (an entity, a product's pool of
 * data subjects, or the exchange itself) and holds one currency; it keeps four counters,
 * debits_posted, credits_posted, debits_pending and credits_pending, all int64 minor units and
 * never negative. A transfer moves amount > 0 from a debit account to a credit account of the
 * same currency, so every transfer adds the same amount to one debit and one credit counter:
 * debits equal credits, per currency, after every commit. Money is integers only; no float is
 * ever near it.
 *
 *   transfer   single-phase: debits_posted(debit) += amount, credits_posted(credit) += amount
 *   pending    reserves: debits_pending(debit) += amount, credits_pending(credit) += amount
 *   post       resolves a pending P with amount a <= P.amount: the pending counters drop by
 *              P.amount and the posted ones rise by a (the rest is released)
 *   void       resolves a pending P: the pending counters drop by P.amount, nothing is posted
 *
 * Escrow is a pending transfer from the buyer's `available` account to its `escrow` account
 * (clearing_hold). Settlement (clearing_post) posts it and, in the same linked batch, pays the
 * escrow out to the exchange's fee account, the brokers, the revenue-share recipients and the
 * provider, so the escrow nets to zero; a void (clearing_void, or the timeout sweep) releases
 * the hold. Entity accounts carry DEBITS_MUST_NOT_EXCEED_CREDITS: debits_posted +
 * debits_pending + amount <= credits_posted, so no available balance ever goes negative. Bank
 * movements happen outside: a deposit debits the exchange's `cash` account and credits the
 * entity, a withdrawal the reverse.
 *
 * Every mutation runs in one store transaction (a savepoint inside a caller's transaction) and
 * appends exactly one event to the transparency log (clearing.deposit, clearing.withdrawal,
 * clearing.transfer, clearing.pending, clearing.posted, clearing.voided, clearing.membership,
 * clearing.fee_schedule) whose body lists every transfer and every account it created, so the
 * ledger can be rebuilt from the log alone. A transfer's ledger order is
 * seq = log_index * CLEARING_BATCH_MAX + its position in the event. On any error nothing is
 * written. Writers are serialised by the store (SQLite's single writer, PostgreSQL's writer
 * lock), so a balance read inside the transaction is the balance the write is checked against.
 *
 * Idempotency: a caller names a transfer with an idempotency key; the transfer id is derived
 * from (caller, key), so a retry with the same key and the same content returns the original
 * (replayed = 1) and one with other content is ERR_CONFLICT. Without a key the id is random.
 *
 * Clearing decides and does no I/O of its own: persistence through store.h, time and
 * randomness from the clock and rng injected into struct clearing.
 */
#ifndef BOURSE_CLEARING_H
#define BOURSE_CLEARING_H

#include <jansson.h>
#include <stdint.h>

#include "store/store.h"
#include "util/util.h"

/* ---- limits ------------------------------------------------------------------------------ */

/* Transfers in one mutation (one event): the leaf of the largest event stays under the log's
 * 64 KiB entry limit (see CLEARING_TRANSFER_JSON_MAX below). */
#define CLEARING_BATCH_MAX 64
/* Brokers, and revenue-share recipients, per settlement. */
#define CLEARING_SHARES_MAX 8
/* A settlement: the post, the fee, the shares and the provider's remainder. */
#define CLEARING_LEGS_MAX (3 + 2 * CLEARING_SHARES_MAX)
/* Basis points in a whole: shares and fee rates are bp of the amount. */
#define CLEARING_BP_ONE 10000
/* A hold expires after at most this long: a contract's delivery window, not forever. */
#define CLEARING_TIMEOUT_MAX_MS ((int64_t)400 * 24 * 3600 * 1000)
/* Entries per history page, and statement lines per export (ask for a shorter period). */
#define CLEARING_PAGE_MAX 100
#define CLEARING_STATEMENT_LINES_MAX 100000
#define CLEARING_STATEMENT_BYTES_MAX (64u << 20)
/* The last instant RFC 3339 can write: 9999-12-31T23:59:59.999Z. */
#define CLEARING_TIME_MAX_MS ((int64_t)253402300799999)
/* Free-text and key lengths (bytes): a bank reference or contract id; an idempotency key. */
#define CLEARING_REFERENCE_MAX (STORE_LEDGER_REF_MAX - 1)
#define CLEARING_KEY_MAX (STORE_LEDGER_KEY_MAX - 1)
#define CLEARING_CODE_MAX (STORE_LEDGER_CODE_MAX - 1)

/* The worst-case JSON of one transfer in an event (every text at its limit, escaped). */
#define CLEARING_TRANSFER_JSON_MAX 900
_Static_assert(CLEARING_BATCH_MAX *CLEARING_TRANSFER_JSON_MAX + 4096 <= STORE_LEAF_MAX,
               "a full batch fits one log entry");
_Static_assert(CLEARING_LEGS_MAX <= CLEARING_BATCH_MAX, "a settlement is one batch");
_Static_assert(CLEARING_LEGS_MAX <= STORE_LEDGER_IDS_MAX, "a settlement's legs are one multi-get");

/* The owner of the exchange's own accounts, and the caller of timeout voids. */
#define CLEARING_EXCHANGE "exchange"
#define CLEARING_SWEEPER "clearing"

/* ---- vocabulary -------------------------------------------------------------------------- */

enum clearing_account_kind {
    CLEARING_ACCOUNT_AVAILABLE, /* an entity's spendable money */
    CLEARING_ACCOUNT_ESCROW,    /* an entity's money held for contracts (pending credits) */
    CLEARING_ACCOUNT_FEES,      /* the exchange's fee income */
    CLEARING_ACCOUNT_CASH,      /* the exchange's bank: the counterpart of deposits */
    CLEARING_ACCOUNT_POOL,      /* a product's revenue share for its data subjects */
    CLEARING_ACCOUNT__COUNT
};

enum clearing_account_flags {
    CLEARING_DEBITS_MUST_NOT_EXCEED_CREDITS = 1 << 0,
    CLEARING_CREDITS_MUST_NOT_EXCEED_DEBITS = 1 << 1,
};

enum clearing_transfer_kind {
    CLEARING_TRANSFER, /* single-phase */
    CLEARING_PENDING,
    CLEARING_POST,
    CLEARING_VOID,
    CLEARING_TRANSFER__COUNT
};

/* Names as stored and shown ("available", "pending", ...). Parse returns ERR_INVALID for an
 * unknown name and leaves *out alone. */
const char *clearing_account_kind_name(enum clearing_account_kind kind);
enum err clearing_account_kind_parse(const char *name, enum clearing_account_kind *out);
const char *clearing_transfer_kind_name(enum clearing_transfer_kind kind);
enum err clearing_transfer_kind_parse(const char *name, enum clearing_transfer_kind *out);
/* The flags an account of this kind is opened with. Cannot fail. */
int64_t clearing_account_kind_flags(enum clearing_account_kind kind);

/* ISO 4217: the minor-unit exponent of an active currency code ("CNY" -> 2, "JPY" -> 0), or
 * -1 for anything else (funds, metals, withdrawn codes, lowercase). Cannot fail. */
int clearing_currency_exponent(const char *code);
/* ERR_INVALID (field) unless code is an active ISO 4217 currency. */
enum err clearing_currency_check(const char *code, const char *field, struct errbuf *err);

/* The account id of (owner, kind, currency): "acc_" and 20 characters derived from a hash, so
 * that an account is found without an index and opened at most once. Cannot fail. */
void clearing_account_id(const char *owner, enum clearing_account_kind kind, const char *currency,
                         char out[ID_MAX]);

/* ---- the split (pure) -------------------------------------------------------------------- */

enum clearing_fee_kind {
    CLEARING_FEE_PERCENTAGE, /* clamp(floor(amount * rate_bp / 10000), minimum, cap) */
    CLEARING_FEE_FIXED,      /* fixed_amount per settlement */
    CLEARING_FEE_MEMBERSHIP, /* fixed_amount per period from each member; 0 per settlement */
    CLEARING_FEE__COUNT
};

const char *clearing_fee_kind_name(enum clearing_fee_kind kind);
enum err clearing_fee_kind_parse(const char *name, enum clearing_fee_kind *out);

struct clearing_fee_rule {
    enum clearing_fee_kind kind;
    int64_t rate_bp;      /* 0..10000 */
    int64_t minimum;      /* >= 0 */
    int64_t cap;          /* 0: none; else >= minimum */
    int64_t fixed_amount; /* >= 0 */
};

struct clearing_split {
    int64_t fee;
    int64_t brokers[CLEARING_SHARES_MAX];
    int64_t revenue[CLEARING_SHARES_MAX];
    int64_t provider;
};

/*
 * The exchange's fee on a settlement of `amount` under rule, never more than amount:
 * percentage: min(amount, clamp(floor(amount * rate_bp / 10000), minimum, cap or +inf));
 * fixed: min(amount, fixed_amount); membership: 0. Pure integer arithmetic without overflow.
 * ERR_INVALID for amount <= 0 or a malformed rule.
 */
enum err clearing_fee_of(int64_t amount, const struct clearing_fee_rule *rule, int64_t *fee,
                         struct errbuf *err);

/*
 * Splits amount (> 0) into legs that sum to exactly amount:
 *   fee        = clearing_fee_of(amount, rule)
 *   brokers[i] = floor(amount * broker_bp[i] / 10000)
 *   revenue[i] = floor(amount * revenue_bp[i] / 10000)
 *   provider   = amount - fee - sum(brokers) - sum(revenue)   (it takes every rounding unit)
 * Each bp is 0..10000 and together at most 10000. ERR_INVALID (field "brokers", "revenue" or
 * "amount") for bad shares, more than CLEARING_SHARES_MAX of either, or when the fee and
 * shares leave the provider less than zero. Pure: no allocation, no I/O.
 */
enum err clearing_split(int64_t amount, const struct clearing_fee_rule *rule,
                        const int64_t *broker_bp, size_t broker_count, const int64_t *revenue_bp,
                        size_t revenue_count, struct clearing_split *out, struct errbuf *err);

/* ---- the context ------------------------------------------------------------------------- */

/* Borrowed for the lifetime of struct clearing. */
struct clearing {
    struct store *store;
    const struct clock *clock;
    const struct rng *rng;
};

/* Who asks. Operators record bank movements and fee schedules; the system role is for
 * in-process callers (the trading module, the timeout sweep) that applied their own rules;
 * regulators read everything; an entity reads only itself. */
enum clearing_role {
    CLEARING_ROLE_ENTITY,
    CLEARING_ROLE_OPERATOR,
    CLEARING_ROLE_REGULATOR,
    CLEARING_ROLE_SYSTEM,
};

struct clearing_actor {
    const char *id; /* an entity id, or CLEARING_SWEEPER for the system */
    enum clearing_role role;
};

/* ---- bank movements (operator) ----------------------------------------------------------- */

/* Strings borrowed for the call; idempotency_key may be NULL. */
struct clearing_movement {
    const char *entity_id;
    const char *currency;
    int64_t amount;
    const char *reference; /* the bank's reference, required */
    const char *idempotency_key;
};

/*
 * Records a deposit: cash(exchange) -> available(entity), opening the entity's account on
 * first use; event clearing.deposit. The entity must be verified. Fills *out with the
 * transfer (the original on a replay, *replayed = 1). Errors: ERR_FORBIDDEN (not the
 * operator), ERR_INVALID (field named), ERR_NOT_FOUND (entity), ERR_BAD_STATE (entity not
 * verified), ERR_CONFLICT (key reused with other content), ERR_LIMIT (a counter would
 * overflow int64), store errors.
 */
enum err clearing_deposit(struct clearing *c, const struct clearing_actor *who,
                          const struct clearing_movement *m, struct store_ledger_transfer *out,
                          int *replayed, struct errbuf *err);

/* Records a withdrawal: available(entity) -> cash(exchange); event clearing.withdrawal. The
 * entity must be verified or suspended. ERR_BAD_STATE "insufficient funds" (field "amount")
 * when it would overdraw; otherwise as clearing_deposit. */
enum err clearing_withdraw(struct clearing *c, const struct clearing_actor *who,
                           const struct clearing_movement *m, struct store_ledger_transfer *out,
                           int *replayed, struct errbuf *err);

/* ---- transfers (system, operator) -------------------------------------------------------- */

struct clearing_transfer_in {
    const char *debit_account;
    const char *credit_account;
    int64_t amount;
    const char *currency;
    const char *code; /* purpose: [a-z0-9._-], 1..32 */
    const char *reference;
    const char *idempotency_key;
};

/*
 * A linked batch of 1..CLEARING_BATCH_MAX single-phase transfers between existing accounts:
 * all apply, in order, or none; one event clearing.transfer. out has room for count. A replay
 * needs every transfer's key to match with the same content; a batch of which only some
 * transfers exist is ERR_CONFLICT. Errors: ERR_FORBIDDEN (not operator or system),
 * ERR_INVALID / ERR_NOT_FOUND (field "transfers[i].…"), ERR_BAD_STATE (insufficient funds),
 * ERR_LIMIT (overflow, or count out of range), ERR_CONFLICT.
 */
enum err clearing_transfer_batch(struct clearing *c, const struct clearing_actor *who,
                                 const struct clearing_transfer_in *in, size_t count,
                                 struct store_ledger_transfer *out, int *replayed,
                                 struct errbuf *err);

/* ---- escrow: hold, post (settle), void --------------------------------------------------- */

struct clearing_hold {
    const char *buyer_id;
    const char *currency;
    int64_t amount;
    int64_t timeout_ms; /* how long from now until the sweep voids it: 1..TIMEOUT_MAX; 0 never */
    const char *reference;
    const char *idempotency_key;
};

/*
 * Holds a buyer's funds in escrow: a pending transfer available(buyer) -> escrow(buyer);
 * event clearing.pending. The buyer must be verified. Errors as clearing_withdraw, and
 * ERR_FORBIDDEN unless operator or system.
 */
enum err clearing_hold(struct clearing *c, const struct clearing_actor *who,
                       const struct clearing_hold *h, struct store_ledger_transfer *out,
                       int *replayed, struct errbuf *err);

/* A revenue recipient: an entity id ("ent_…", paid to its available account) or a product id
 * ("prd_…", paid to the product's pool for its data subjects). */
struct clearing_share {
    const char *recipient;
    int64_t bp;
};

struct clearing_release {
    const char *pending_id;
    const char *provider_id;     /* an entity */
    const char *fee_schedule_id; /* the version the contract recorded; NULL: no fee */
    const struct clearing_share *brokers;
    size_t broker_count;
    const struct clearing_share *revenue;
    size_t revenue_count;
    int64_t amount; /* what to settle, <= the held amount (the rest goes back); 0: all */
    const char *reference;
    const char *idempotency_key;
};

struct clearing_settlement {
    struct clearing_split split;
    struct store_ledger_transfer transfers[CLEARING_LEGS_MAX]; /* the post, then paid legs */
    size_t count;
    int replayed;
};

/*
 * Settles a hold in one linked batch (event clearing.posted): posts the pending transfer for
 * amount, then pays escrow(buyer) -> fees(exchange), each broker, each revenue recipient and
 * the provider per clearing_split (legs of 0 are omitted). Accounts are opened as needed.
 * Errors: ERR_FORBIDDEN (not operator or system), ERR_INVALID (field named),
 * ERR_NOT_FOUND (pending, schedule, an entity), ERR_BAD_STATE (the hold is already resolved
 * or has expired, an entity may not be paid), ERR_CONFLICT, ERR_LIMIT.
 */
enum err clearing_post(struct clearing *c, const struct clearing_actor *who,
                       const struct clearing_release *r, struct clearing_settlement *out,
                       struct errbuf *err);

/* Releases a hold (event clearing.voided): a void transfer for the pending's amount. An
 * expired but not yet swept hold may be voided. Errors as clearing_post. */
enum err clearing_void(struct clearing *c, const struct clearing_actor *who, const char *pending_id,
                       const char *reference, const char *idempotency_key,
                       struct store_ledger_transfer *out, int *replayed, struct errbuf *err);

/*
 * Voids up to max (1..CLEARING_BATCH_MAX) holds whose timeout has passed at the injected
 * clock's now, in one mutation (event clearing.voided, actor CLEARING_SWEEPER); *voided says
 * how many (0: nothing due, nothing written). Call until it returns 0.
 */
enum err clearing_sweep(struct clearing *c, size_t max, size_t *voided, struct errbuf *err);

/* ---- fee schedules (operator) ------------------------------------------------------------ */

#define CLEARING_SCHEDULE_NAME_MAX (STORE_LEDGER_CODE_MAX - 1)

struct clearing_fee_schedule_in {
    const char *name;     /* [a-z0-9._-], 1..32; a new version when the name exists */
    const char *kind;     /* "percentage", "fixed", "membership" */
    const char *currency; /* required unless a percentage without minimum and cap */
    int64_t rate_bp;
    int64_t minimum;
    int64_t cap;
    int64_t fixed_amount;
    const char *period; /* membership: "month" or "year"; otherwise NULL */
};

/* Records a new immutable version of a schedule (event clearing.fee_schedule); its id is what
 * a contract records. Errors: ERR_FORBIDDEN, ERR_INVALID (field named), store errors. */
enum err clearing_fee_schedule_create(struct clearing *c, const struct clearing_actor *who,
                                      const struct clearing_fee_schedule_in *in,
                                      struct store_fee_schedule *out, struct errbuf *err);
/* Anyone authenticated may read schedules: they are the exchange's public price list. */
enum err clearing_fee_schedule_get(struct clearing *c, const char *id,
                                   struct store_fee_schedule *out, struct errbuf *err);
/* Newest first; name NULL lists all. Caller frees *out with mem_free. */
enum err clearing_fee_schedule_list(struct clearing *c, const char *name,
                                    struct store_fee_schedule **out, size_t *count,
                                    struct errbuf *err);
/* The rule of a stored schedule. ERR_CORRUPT for a malformed row. */
enum err clearing_fee_schedule_rule(const struct store_fee_schedule *f,
                                    struct clearing_fee_rule *rule, struct errbuf *err);

/*
 * Charges a membership schedule's fixed_amount for the period (month or year, UTC) containing
 * now: available(entity) -> fees(exchange), code "fee.membership"; event clearing.membership.
 * Charging the same entity for the same schedule and period again returns the original
 * (*replayed = 1). Errors: ERR_FORBIDDEN (not operator or system), ERR_INVALID (not a
 * membership schedule), ERR_NOT_FOUND, ERR_BAD_STATE (insufficient funds).
 */
enum err clearing_membership_charge(struct clearing *c, const struct clearing_actor *who,
                                    const char *schedule_id, const char *entity_id,
                                    struct store_ledger_transfer *out, int *replayed,
                                    struct errbuf *err);

/* ---- reading ----------------------------------------------------------------------------- */

/* An entity's accounts (ERR_NOT_FOUND when the entity is absent or not visible to who), or
 * for the operator, a regulator or the system the exchange's own (entity_id CLEARING_EXCHANGE).
 * Caller frees *out with mem_free. */
enum err clearing_accounts(struct clearing *c, const struct clearing_actor *who,
                           const char *entity_id, struct store_ledger_account **out, size_t *count,
                           struct errbuf *err);

/* One transfer, visible to the operator, regulators, the system and the owners of its
 * accounts (ERR_NOT_FOUND otherwise). */
enum err clearing_transfer_get(struct clearing *c, const struct clearing_actor *who, const char *id,
                               struct store_ledger_transfer *out, struct errbuf *err);

#define CLEARING_CURSOR_MAX 48

struct clearing_history {
    struct store_ledger_transfer *items; /* owned: release with clearing_history_release */
    size_t count;
    char next_cursor[CLEARING_CURSOR_MAX]; /* "" on the last page */
};

void clearing_history_release(struct clearing_history *h);

/* The transfers touching any of an entity's accounts, newest first, limit 1..PAGE_MAX per
 * page from cursor (NULL: the newest). ERR_INVALID (field "cursor") for a malformed cursor. */
enum err clearing_entity_history(struct clearing *c, const struct clearing_actor *who,
                                 const char *entity_id, const char *cursor, size_t limit,
                                 struct clearing_history *out, struct errbuf *err);

/*
 * Appends an RFC 4180 CSV statement of an entity's accounts (one currency, or all when
 * currency is NULL) for transfers with from_ms <= time < to_ms. Columns:
 *   record,time,account,account_kind,currency,transfer,kind,code,reference,
 *   debit,credit,pending_change,balance,pending_balance
 * `record` is opening, entry or closing; per account an opening line at from, its entries in
 * ledger order and a closing line at to. balance is credits_posted - debits_posted and
 * pending_balance credits_pending - debits_pending of the account after the line; debit and
 * credit are the posted movement, pending_change the pending one; amounts in minor units.
 * Text that a spreadsheet would run as a formula is prefixed with "'". Errors: ERR_INVALID
 * (from >= to, bad currency), ERR_NOT_FOUND (not visible), ERR_LIMIT (more than
 * CLEARING_STATEMENT_LINES_MAX lines: ask for a shorter period). 0 <= from < to <=
 * CLEARING_TIME_MAX_MS.
 */
enum err clearing_statement(struct clearing *c, const struct clearing_actor *who,
                            const char *entity_id, const char *currency, int64_t from_ms,
                            int64_t to_ms, struct buf *csv, struct errbuf *err);

/* The JSON of a transfer as its event records it (immutable fields only), and of an account
 * as opened; the HTTP layer adds the mutable ones. NULL on allocation failure. */
json_t *clearing_transfer_json(const struct store_ledger_transfer *t);
json_t *clearing_account_json(const struct store_ledger_account *a);
json_t *clearing_fee_schedule_json(const struct store_fee_schedule *f);

/* ---- integrity --------------------------------------------------------------------------- */

#define CLEARING_CHECK_PROBLEMS_MAX 16
#define CLEARING_CHECK_CURRENCIES_MAX 64

struct clearing_check_report {
    int64_t accounts;
    int64_t transfers;
    int64_t pending_open;
    int64_t events; /* clearing events compared (clearing_check_log only) */
    size_t currencies;
    struct {
        char code[STORE_CURRENCY_MAX];
        int64_t posted; /* sum of debits_posted = sum of credits_posted when balanced */
        int64_t pending;
    } totals[CLEARING_CHECK_CURRENCIES_MAX];
    size_t problems; /* how many were found; the first ones are described below */
    char problem[CLEARING_CHECK_PROBLEMS_MAX][ERRBUF_MSG_MAX];
};

/*
 * Recomputes every balance from the transfers in ledger order and compares it with the stored
 * counters and each transfer's balance snapshot; checks that debits equal credits per currency,
 * that no account breaks its flags (no entity balance is negative), that every pending is open,
 * posted or voided exactly once, and that open timeouts match open pendings. Fills report;
 * ERR_CORRUPT (message: the first problem) when anything is wrong, store errors otherwise.
 * Reads only.
 */
enum err clearing_check(struct store *s, struct clearing_check_report *report, struct errbuf *err);

/*
 * Compares the ledger with the transparency log: every transfer, account and fee schedule row
 * is recorded by exactly one clearing event whose body matches it (same position, same fields,
 * same actor and time), and every transfer an event records is stored. ERR_CORRUPT as above.
 */
enum err clearing_check_log(struct store *s, struct clearing_check_report *report,
                            struct errbuf *err);

#endif
