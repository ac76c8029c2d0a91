/*
 * clearing_int.h: declarations shared by the clearing module's own files.
 *
 * Shape of the module:
 *   names.c     vocabulary, ISO 4217 currencies, derived ids, request hashes, JSON renderings
 *   split.c     the fee and the settlement split (pure integer arithmetic)
 *   op.c        the mutation engine: one transaction, an account cache, the balance rules,
 *               and the commit that appends the event and writes the rows
 *   transfer.c  deposits, withdrawals, batches, hold / post / void, the timeout sweep
 *   fees.c      fee schedules and membership charges
 *   read.c      balances, history, statements
 *   check.c     the offline integrity check against the transfers and against the log
 */
#ifndef BOURSE_CLEARING_INT_H
#define BOURSE_CLEARING_INT_H

#include <sodium.h>
#include <stddef.h>

#include "clearing/clearing.h"

/* Accounts one mutation may touch: two per transfer, and the exchange's own. */
#define CLEARING__OP_ACCOUNTS_MAX (2 * CLEARING_BATCH_MAX + 2)
/* Open-addressing index over them: a power of two, at most half full. */
#define CLEARING__OP_INDEX_SLOTS 512
_Static_assert(2 * CLEARING__OP_ACCOUNTS_MAX <= CLEARING__OP_INDEX_SLOTS, "index half full");
#define CLEARING__HASH_BYTES 16

/* ---- names.c ---- */

/* An id with prefix derived from the parts (a hash, never random). Cannot fail. */
void clearing__derive_id(const char *prefix, const char *const *parts, size_t count,
                         char out[ID_MAX]);
/* The id of a caller's transfer: derived from (caller, key) with a key; without one, ordered
 * by time (10 characters of now_ms, then 10 random ones), so that the index of transfer ids
 * grows at its end instead of at a random page per insert. */
void clearing__transfer_id(const struct clearing *c, const char *caller, const char *key,
                           int64_t now_ms, char out[ID_MAX]);

/* Copies src into dst[cap] as snprintf(dst, cap, "%s", src) would (truncated, terminated),
 * without parsing a format: the hot paths copy a dozen fields per transfer. */
void clearing__copy(char *dst, size_t cap, const char *src);
/* "transfers[i]", the field that names item i of a batch in messages. */
#define CLEARING__ITEM_FIELD_MAX 32
void clearing__item_field(char out[CLEARING__ITEM_FIELD_MAX], size_t i);

/* Hex of a 16-byte hash over length-prefixed parts. Cannot fail. */
struct clearing__hash {
    crypto_generichash_state state;
};
void clearing__hash_init(struct clearing__hash *h, const char *what);
void clearing__hash_str(struct clearing__hash *h, const char *s); /* NULL hashes as absent */
void clearing__hash_int(struct clearing__hash *h, int64_t v);
void clearing__hash_final(struct clearing__hash *h, char out[STORE_LEDGER_HASH_MAX]);

/* Field checks; each returns ERR_INVALID naming field. */
enum err clearing__check_code(const char *code, const char *field, struct errbuf *err);
enum err clearing__check_key(const char *key, const char *field, struct errbuf *err);
enum err clearing__check_reference(const char *ref, int required, const char *field,
                                   struct errbuf *err);
enum err clearing__check_amount(int64_t amount, const char *field, struct errbuf *err);

/* ERR_FORBIDDEN unless who's role is one of the allowed ones (a bit set of 1 << role). */
enum err clearing__require(const struct clearing_actor *who, unsigned roles, const char *what,
                           struct errbuf *err);
#define CLEARING__OPERATOR (1u << CLEARING_ROLE_OPERATOR)
#define CLEARING__SYSTEM (1u << CLEARING_ROLE_SYSTEM)

/* Checks a stored account's shape and balance rules (pair of the asserts before a write);
 * with derived, also that its id is the hash of its owner, kind and currency (the check tool;
 * writes skip it, for speed). ERR_CORRUPT naming the account. */
enum err clearing__account_valid(const struct store_ledger_account *a, int derived,
                                 struct errbuf *err);

/* ---- op.c: one mutation ---- */

struct clearing__slot {
    struct store_ledger_account a;
    int is_new; /* opened by this mutation */
    int dirty;
};

struct clearing__resolution {
    char pending_id[ID_MAX];
    char state[STORE_KIND_MAX];
    int64_t timeout_ms; /* the timeout row to delete, 0 when none */
};

struct clearing__op {
    struct clearing *c;
    const char *event_type;
    const char *actor;
    char subject[ID_MAX];
    int64_t now_ms;
    int64_t last_ms; /* the ledger clock before this mutation */
    int tx_open;
    int deferring; /* between store_defer_begin and store_defer_end */
    json_t *extra; /* more members of the event body, or NULL; owned */
    size_t naccounts;
    size_t ntransfers;
    size_t nresolutions;
    size_t nmarks;                            /* the history marks the commit writes */
    uint16_t index[CLEARING__OP_INDEX_SLOTS]; /* 1 + slot number by hash of the id; 0: empty */
    /* The arrays, read only below their counts: clearing__op_begin zeroes everything above
     * (CLEARING__OP_ZEROED) but not these 80 KB, which a one-transfer mutation barely uses. */
    struct clearing__slot accounts[CLEARING__OP_ACCOUNTS_MAX];
    struct store_ledger_transfer transfers[CLEARING_BATCH_MAX];
    struct clearing__resolution resolutions[CLEARING_BATCH_MAX];
    struct store_ledger_mark marks[2 * CLEARING_BATCH_MAX]; /* at most one per side */
};
#define CLEARING__OP_ZEROED offsetof(struct clearing__op, accounts)

/*
 * Opens a mutation: allocates the op, begins the store transaction and reads the ledger clock
 * (now = max(clock, the last mutation's time), so that ledger time never runs backwards and
 * statements by time agree with ledger order). The caller frees it with clearing__op_free,
 * which rolls back unless clearing__op_commit succeeded.
 */
enum err clearing__op_begin(struct clearing *c, const char *event_type, const char *actor,
                            struct clearing__op **out, struct errbuf *err);
/* Appends the event, writes every row and commits; on failure everything is rolled back.
 * The op (its transfers now with seq and log_index) stays readable until freed. */
enum err clearing__op_commit(struct clearing__op *op, struct errbuf *err);
/* Rolls back an open transaction and frees; accepts NULL. */
void clearing__op_free(struct clearing__op *op);

/* Loads accounts by id into the cache (missing ones are simply not loaded). */
enum err clearing__op_load(struct clearing__op *op, const char *const *ids, size_t count,
                           struct errbuf *err);
/* The cached account with this id, or NULL. */
struct clearing__slot *clearing__op_find(struct clearing__op *op, const char *id);
/* The account of (owner, kind, currency), opened in this mutation when absent. */
enum err clearing__op_open(struct clearing__op *op, const char *owner,
                           enum clearing_account_kind kind, const char *currency,
                           struct clearing__slot **out, struct errbuf *err);

/*
 * Applies t (kind, accounts, amount, currency, code, ... filled; id too) to the cached
 * accounts under the balance rules and queues it: fills its snapshots, state, time and
 * caller. For post and void, `pending` is the pending transfer resolved. Errors: ERR_INVALID
 * (same account, currency mismatch), ERR_BAD_STATE "insufficient funds" or a flag, ERR_LIMIT
 * (a counter would overflow, or the batch is full), ERR_CORRUPT (a pending counter short of a
 * pending amount). `field` names the transfer in messages ("" or "transfers[3]"). On error the
 * cached accounts are unchanged.
 */
enum err clearing__op_apply(struct clearing__op *op, struct store_ledger_transfer *t,
                            const struct store_ledger_transfer *pending, const char *field,
                            struct errbuf *err);

/* ---- event_text.c: the event body as canonical JSON text ---- */

/* Append what json_dumps(JSON_COMPACT | JSON_SORT_KEYS) writes for clearing_transfer_json(t),
 * clearing_account_json(a), and for the body of op's event (its transfers, the accounts it
 * opened, its extra members). ERR_NOMEM, ERR_LIMIT (the buffer's max), ERR_INVALID (a text
 * that is not UTF-8). */
enum err clearing__transfer_text(struct buf *b, const struct store_ledger_transfer *t);
enum err clearing__account_text(struct buf *b, const struct store_ledger_account *a);
enum err clearing__event_text(const struct clearing__op *op, struct buf *b);

/* Looks up transfers by id (count <= STORE_LEDGER_IDS_MAX). */
enum err clearing__transfers_get(struct clearing *c, const char *const *ids, size_t count,
                                 struct store_ledger_transfer *out, int *found, struct errbuf *err);

/* The entity's status for a rule ("verified", ...). ERR_NOT_FOUND (field) if absent. */
enum err clearing__entity_status(struct clearing *c, const char *entity_id, const char *field,
                                 char status[STORE_KIND_MAX], struct errbuf *err);

/* ---- balances ---- */

/* Net balances of an account (credits - debits), which never overflow int64. */
int64_t clearing__posted_net(const struct store_ledger_account *a);
int64_t clearing__pending_net(const struct store_ledger_account *a);

#if defined(BOURSE_DEBUG) || defined(BOURSE_TEST)
/* For DEBUG_ASSERT after every mutation (O(accounts)): 1 if debits equal credits per
 * currency over every stored account, else 0. */
int clearing__totals_balanced(struct store *s);
#endif

#endif
