/*
 * core_int.h: declarations shared by core's own files.
 */
#ifndef BOURSE_CORE_INT_H
#define BOURSE_CORE_INT_H

#include "core/core.h"

/* Checks a base64 Ed25519 public key (32 bytes, a valid point). ERR_INVALID otherwise. */
enum err core__public_key_check(const char *b64, struct errbuf *err);

/* The public JSON of an entity recorded in the log; NULL on allocation failure. */
json_t *core__entity_event_body(const struct store_entity *e);

/* Fills key with a new id, a fresh secret and its keyed hash. Cannot fail. */
void core__key_prepare(struct core *c, const char *entity_id, const char *label, int64_t now_ms,
                       struct core_new_key *key);

/* ---- products, rights, assessments (product.c, quality.c, rights.c, assessment.c) ---- */

/* Column types of a declared schema. */
enum core__col_type {
    CORE__COL_STRING,
    CORE__COL_INTEGER,
    CORE__COL_DECIMAL,
    CORE__COL_BOOLEAN,
    CORE__COL_DATE,
    CORE__COL_TIMESTAMP,
    CORE__COL_ENUM,
    CORE__COL__COUNT
};

/* One validated schema column; pointers borrow from the schema JSON. */
struct core__column {
    const char *name;
    enum core__col_type type;
    const json_t *values; /* the enum's values, or NULL */
};

/* Validates a "schema" array (NULL or empty is allowed: *count = 0) into cols, which has room
 * for CORE_COLUMNS_MAX. ERR_INVALID naming the field ("schema[2].type"). */
enum err core__schema_check(const json_t *schema, struct core__column *cols, size_t *count,
                            struct errbuf *err);

/* Checks optional or required UTF-8 text of at most max_chars characters, not blank when
 * required. ERR_INVALID naming field. */
enum err core__text_check(const char *field, const char *s, size_t max_chars, int required,
                          struct errbuf *err);

/* The canonical bytes of a JSON value (keys sorted, compact, UTF-8), in memory from mem_alloc
 * (caller frees with mem_free); NULL when out of memory. */
char *core__canonical(const json_t *v);

/* SHA-256 of len bytes as 64 lowercase hex characters. Cannot fail. */
void core__sha256_hex(const void *data, size_t len, char out[STORE_HASH_HEX_MAX]);

/* 1 when s is exactly 64 lowercase hex characters. */
int core__sha256_hex_valid(const char *s);

/* 1 for the operator and a verified regulator, who see every product. */
int core__sees_all(const struct core_principal *who);

/* Loads a revision and checks that who may see its product. ERR_NOT_FOUND otherwise. */
enum err core__revision_visible(struct core *c, const struct core_principal *who,
                                const char *revision_id, struct store_revision *out,
                                struct errbuf *err);

/* ---- the catalogue (listing.c, demand.c) ---- */

/* core__sees_all for a caller who may be anonymous (the catalogue is public): 0 for one. */
int core__supervisor(const struct core_principal *who);

/* 1 when code is a category of the taxonomy. */
int core__category_known(const char *code);

/* The market method of out (whose product_id, category, kind and currency are set), from
 * cleared trades when there are PRICING_TRADES_MIN of them, else from listing prices; sets
 * comparables_basis, comparables and cleared_trades (src/core/prices.c). Errors: ERR_NOMEM,
 * store errors. */
enum err core__market_method(struct core *c, struct core_reference *out, struct errbuf *err);

/* Reads the integer member prefix+name of obj into *out when present (left alone when absent
 * and not required). ERR_INVALID naming the field unless it is an integer in min..max. */
enum err core__json_int(const json_t *obj, const char *prefix, const char *name, int64_t min,
                        int64_t max, int required, int64_t *out, struct errbuf *err);
/* Reads a text member (borrowed from obj) and checks it with core__text_check. */
enum err core__json_text(const json_t *obj, const char *prefix, const char *name, size_t max_chars,
                         int required, const char **out, struct errbuf *err);

/* JSON of pricing inputs and of a price model; NULL when out of memory. */
json_t *core__inputs_json(const struct store_pricing_inputs *in);
json_t *core__offer_json(const struct pricing_offer *o);

/* ERR_NOT_FOUND unless who may see the listing (core_listing_get's rule). */
enum err core__listing_visible(struct core *c, const struct core_principal *who,
                               const struct store_listing *l, struct errbuf *err);

/*
 * Matches a new listing (written in the caller's transaction, with its document) against the
 * open demands of its category: each demand whose query matches it, and whose buyer may see
 * it (buyers: the named buyers of a private offer), gets the match recorded, a
 * "demand.matched" event and notifications to both sides. *matched receives how many.
 */
enum err core__listing_match_demands(struct core *c, const struct core_principal *who,
                                     const struct store_listing *l, const char (*buyers)[ID_MAX],
                                     size_t buyer_count, size_t *matched, struct errbuf *err);

/* ---- contracts (contract.c, contract_doc.c, contract_money.c, dispute.c) ---- */

/* Everything a contract document names, gathered and checked by core_contract_propose. The
 * pointers are borrowed for the call. */
struct core__contract_doc {
    const struct store_contract *k;
    const struct store_entity *provider;
    const struct store_entity *buyer;
    const struct store_entity *brokers; /* broker_count entities */
    const int64_t *broker_bp;
    size_t broker_count;
    const struct store_revision *revision;
    const struct store_fee_schedule *fee; /* NULL: no fee */
    const char *purpose;
    int64_t term_days;
    const json_t *territory; /* "worldwide" or an array of codes */
    const char *redistribution;
    int exclusive;
    const char *tier;   /* NULL unless periodic */
    const char *period; /* "month", "year"; NULL unless periodic */
    int64_t pool_bp;    /* the data subjects' share; 0 when none */
    const char *exchange_public_key;
};

/* Writes the canonical document of d into d->k's document and document_sha256 (via the const
 * cast of the caller's row). ERR_INVALID (field named) for text the format refuses (control
 * characters), ERR_LIMIT when it exceeds STORE_CONTRACT_DOC_MAX, ERR_NOMEM. */
enum err core__contract_document(const struct core__contract_doc *d, struct store_contract *k,
                                 struct errbuf *err);

/* The revenue shares and brokers a contract's document names, for settlement. */
struct core__contract_split {
    char brokers[CORE_CONTRACT_BROKERS_MAX][ID_MAX];
    int64_t broker_bp[CORE_CONTRACT_BROKERS_MAX];
    size_t broker_count;
    char revenue[CORE_CONTRACT_BROKERS_MAX][ID_MAX];
    int64_t revenue_bp[CORE_CONTRACT_BROKERS_MAX];
    size_t revenue_count;
};

/* Reads the brokers and revenue shares back from a stored document. ERR_CORRUPT when it is
 * not the shape contract_doc.c writes. */
enum err core__contract_split_read(const struct store_contract *k, struct core__contract_split *s,
                                   struct errbuf *err);

/* 1 when who is named in the document as a broker. Cannot fail (0 for a bad document). */
int core__contract_broker(const struct store_contract *k, const char *entity_id);

/* Reads a contract by id and checks who may see it (core_contract_get's rule). */
enum err core__contract_load(struct core *c, const struct core_principal *who, const char *id,
                             struct store_contract *out, struct errbuf *err);

/* "buyer" or "provider" when who is that party of k, else NULL. Cannot fail. */
const char *core__contract_role(const struct core_principal *who, const struct store_contract *k);

/* Appends event type about k (body borrowed; the contract id is added to it) and writes k
 * with updated_ms = now and log_index = the event. Inside a transaction. */
enum err core__contract_event(struct core *c, const char *actor, struct store_contract *k,
                              const char *type, json_t *body, struct errbuf *err);

/* The ledger as core drives it, and the actor of its in-process calls. */
struct clearing;
void core__clearing(struct core *c, struct clearing *out);

/* Settles the held period of k: amount 0 settles all (else amount < held, the rest returns).
 * Marks the period state ("settled", "split") with the post id; *out_json (may be NULL)
 * receives the settlement's split as JSON (caller decrefs). Inside a transaction. */
enum err core__contract_settle(struct core *c, struct store_contract *k, int64_t amount,
                               const char *state, json_t **out_json, struct errbuf *err);

/* Voids the held period of k (a refund) and marks it "refunded". Inside a transaction. */
enum err core__contract_refund(struct core *c, struct store_contract *k, char void_id[ID_MAX],
                               struct errbuf *err);

/* Opens a dispute on k (active or delivered, checked by the caller) and moves k to
 * "disputed". Inside a transaction. */
enum err core__dispute_create(struct core *c, const struct core_principal *who,
                              struct store_contract *k, const char *statement,
                              const int64_t *evidence, size_t evidence_count,
                              struct store_dispute *out, struct errbuf *err);

/* ---- trading (trade.c, negotiation.c, auction.c) ---- */

#define CORE__SWEEPER "trading" /* the actor of the trading clock's events */

/* A listing with its price model and licence terms read back from their canonical JSON. */
struct core__trade_listing {
    struct store_listing l; /* owned: release with core__trade_listing_release */
    enum pricing_model model;
    int64_t amount;  /* fixed: the amount; negotiable: the ask; per_call: per call */
    int64_t floor;   /* negotiable: 0 when none */
    int64_t reserve; /* auction */
    int64_t deadline_ms;
    int64_t monthly_minimum;
    enum pricing_period period;
    struct pricing_tier tiers[PRICING_TIERS_MAX];
    size_t tier_count;
    int64_t term_days;
    int exclusive;
};

void core__trade_listing_release(struct core__trade_listing *t);

/* Loads an active listing that who may trade on: ERR_INVALID/ERR_NOT_FOUND ("listing_id"),
 * the private-offer rule, ERR_BAD_STATE when delisted. Release t even after an error. */
enum err core__trade_listing_load(struct core *c, const struct core_principal *who,
                                  const char *listing_id, struct core__trade_listing *t,
                                  enum core_trade_rule *rule, struct errbuf *err);

/* The buyer's rules: self-trade, not-qualified, classification, then exclusivity-sold
 * (releasing an exclusivity whose contract was cancelled or expired, with its event). */
enum err core__trade_buyer_check(struct core *c, const struct core_principal *who,
                                 const struct core__trade_listing *t, enum core_trade_rule *rule,
                                 struct errbuf *err);

/* Sets *rule (when rule is non-NULL) and err; returns code. */
enum err core__trade_refuse(enum core_trade_rule *rule, enum core_trade_rule which,
                            struct errbuf *err, enum err code, const char *field, const char *fmt,
                            ...) __attribute__((format(printf, 6, 7)));

/* What a trade agreed, for core__trade_conclude. Strings borrowed. */
struct core__deal {
    const struct core_principal *buyer;
    const struct core_principal *actor; /* who concludes it: the buyer, provider or sweeper */
    const char *source;                 /* "order", "negotiation", "auction" */
    const char *source_id;              /* "" for an order */
    const char *tier;                   /* NULL unless a subscription */
    int64_t periods;                    /* 1 for a single payment */
    int64_t unit_price;                 /* per period; the whole price for a single payment */
    int64_t price;                      /* the whole price */
    const char *terms;                  /* canonical JSON of the terms agreed */
    const char *purpose;                /* NULL: the listing's */
    int64_t term_days;                  /* 0: the listing's */
    int public_price;                   /* 1: the event may show the price */
    int64_t now_ms;
};

/* Proposes the contract (core_contract_propose, as the buyer) and records the order with its
 * event order.placed, in the caller's transaction. */
enum err core__trade_conclude(struct core *c, const struct core__trade_listing *t,
                              const struct core__deal *d, struct store_order *out,
                              struct errbuf *err);

/* The principal of a stored entity, for acting on its behalf (the sweep closing an auction). */
enum err core__principal_of(struct core *c, const char *entity_id, struct core_principal *out,
                            struct errbuf *err);

/* 1 for the two parties, the operator and a verified regulator. */
int core__trade_party_view(const struct core_principal *who, const char *buyer_id,
                           const char *provider_id);

/* The sweep's halves (negotiation.c, auction.c): each expires or closes one due item. */
enum err core__negotiation_expire(struct core *c, const char *id, int64_t now_ms,
                                  struct errbuf *err);
enum err core__auction_close_due(struct core *c, const char *id, int64_t now_ms,
                                 struct errbuf *err);

#endif
