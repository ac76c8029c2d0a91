/*
 * core: the exchange's domain. It owns the market entities (organisations that apply, are
 * verified by the operator and hold certificates), their state machine and rules, API key
 * issuance and authorisation, and the event recorded for every state change.
 *
 * Core decides; it does no I/O of its own. Persistence goes through the store interface
 * (store.h), time and randomness come from the clock and rng injected into struct core, so
 * that every rule can be tested with a fixed clock and a seeded random source.
 *
 * Every mutating function runs in one store transaction (nested as a savepoint when the caller
 * already holds one) and appends exactly one event describing the change in that same
 * transaction; on any error nothing is written.
 */
#ifndef BOURSE_CORE_H
#define BOURSE_CORE_H

#include <stdint.h>

#include "store/store.h"
#include "tlog/tlog.h"
#include "util/util.h"

/* ---- vocabulary ------------------------------------------------------------------------- */

enum core_kind {
    CORE_KIND_OPERATOR,
    CORE_KIND_PROVIDER,
    CORE_KIND_BUYER,
    CORE_KIND_BROKER,
    CORE_KIND_SERVICE_FIRM,
    CORE_KIND_REGULATOR,
    CORE_KIND__COUNT
};

enum core_status {
    CORE_STATUS_APPLIED,
    CORE_STATUS_VERIFIED,
    CORE_STATUS_REJECTED,
    CORE_STATUS_SUSPENDED,
    CORE_STATUS__COUNT
};

enum core_decision {
    CORE_DECISION_VERIFY,
    CORE_DECISION_REJECT,
    CORE_DECISION_SUSPEND,
    CORE_DECISION_REINSTATE,
    CORE_DECISION__COUNT
};

enum core_cert_type {
    CORE_CERT_DATA_PROVIDER,
    CORE_CERT_TRADING,
    CORE_CERT_CROSS_BORDER,
    CORE_CERT__COUNT
};

/* Service firm specialities, as a bit set. */
enum core_speciality_flags {
    CORE_SPEC_COMPLIANCE = 1 << 0,
    CORE_SPEC_SECURITY = 1 << 1,
    CORE_SPEC_QUALITY = 1 << 2,
    CORE_SPEC_VALUATION = 1 << 3,
    CORE_SPEC_LEGAL = 1 << 4,
    CORE_SPEC_CUSTODY = 1 << 5,
    CORE_SPEC_ARBITRATION = 1 << 6,
};
#define CORE_SPEC__COUNT 7

/* Names as they appear in JSON and in the store ("provider", "verified", ...). Each parse
 * returns ERR_INVALID for an unknown name and leaves *out alone. */
const char *core_kind_name(enum core_kind kind);
enum err core_kind_parse(const char *name, enum core_kind *out);
const char *core_status_name(enum core_status status);
enum err core_status_parse(const char *name, enum core_status *out);
const char *core_decision_name(enum core_decision decision);
enum err core_decision_parse(const char *name, enum core_decision *out);
const char *core_cert_type_name(enum core_cert_type type);
enum err core_cert_type_parse(const char *name, enum core_cert_type *out);
const char *core_speciality_name(unsigned bit_index);
enum err core_speciality_parse(const char *name, unsigned *flag);

/* ---- validators (pure) ------------------------------------------------------------------ */

#define CORE_USCC_LEN 18
/*
 * Checks an 18-character unified social credit code as GB 32100-2015 defines it: registration
 * authority code, entity type code, six-digit administrative division code, nine-character
 * organisation code and the check character (weights 3^i mod 31 over the 31-character set
 * without I, O, Z, S, V). ERR_INVALID with a message naming the first fault.
 */
enum err core_uscc_validate(const char *uscc, struct errbuf *err);

/* Limits on application fields, with the reason: names fit a business licence line. */
#define CORE_NAME_CHARS_MAX 200    /* longest registered Chinese company names are ~60 */
#define CORE_CONTACT_CHARS_MAX 100 /* a person's name */
#define CORE_EMAIL_BYTES_MAX 254   /* RFC 5321 path limit */
#define CORE_PHONE_BYTES_MAX 32    /* E.164 is 15 digits; leave room for formatting */
#define CORE_REASON_CHARS_MAX 2000 /* a review note, not a document */
#define CORE_LABEL_CHARS_MAX 100

/* ---- the core context ------------------------------------------------------------------- */

/* Everything core needs from outside, borrowed for the lifetime of struct core. */
struct core {
    struct store *store;
    const struct clock *clock;
    const struct rng *rng;
    /* Key for the keyed hash (BLAKE2b) under which API key secrets are stored. */
    unsigned char api_key_hash_key[32];
    /* The log's signing key; its name is the checkpoint origin. NULL: the log is read-only
     * on this node (another node sequences it, or a tool reads the store). */
    const struct tlog_signer *log_signer;
};

/* The authenticated caller of an operation. An anonymous caller has id[0] == '\0'. */
struct core_principal {
    char id[ID_MAX];
    enum core_kind kind;
    enum core_status status;
};

/* ---- entities --------------------------------------------------------------------------- */

/* What an applicant submits. Strings are borrowed for the call; NULL means absent. */
struct core_application {
    const char *kind;
    const char *name;
    const char *uscc;
    const char *country;
    const char *contact_name;
    const char *contact_email;
    const char *contact_phone;
    const char *public_key; /* base64 of the 32-byte Ed25519 public key */
    const char *const *specialities;
    size_t specialities_count;
};

#define CORE_API_SECRET_MAX 64

/* A freshly created API key. The secret exists only here and in the response. */
struct core_new_key {
    struct store_api_key key;
    char secret[CORE_API_SECRET_MAX];
};

/*
 * Validates an application and records the entity with status "applied" together with its first
 * API key (so the applicant can read its own record while it waits). Errors: ERR_INVALID (field
 * named in err), ERR_CONFLICT (an entity with that USCC is applied, verified or suspended),
 * ERR_IO/ERR_NOMEM/ERR_UNAVAILABLE from the store. Operators cannot be applied for.
 */
enum err core_entity_apply(struct core *c, const struct core_application *app,
                           struct store_entity *out, struct core_new_key *key, struct errbuf *err);

/*
 * Applies an operator's review decision. The reason is required for reject and suspend.
 * Transitions: applied -verify-> verified, applied -reject-> rejected, verified -suspend->
 * suspended, suspended -reinstate-> verified. Anything else is ERR_BAD_STATE. The operator's own
 * record cannot be reviewed (ERR_FORBIDDEN). Only the operator may review (ERR_FORBIDDEN).
 */
enum err core_entity_review(struct core *c, const struct core_principal *who, const char *id,
                            const char *decision, const char *reason, struct store_entity *out,
                            struct errbuf *err);

/* Reads one entity if `who` may see it: the operator and a verified regulator see all,
 * a verified entity sees verified entities and itself, anyone else only itself. Errors:
 * ERR_INVALID (bad id), ERR_NOT_FOUND (absent or not visible: existence is not revealed). */
enum err core_entity_get(struct core *c, const struct core_principal *who, const char *id,
                         struct store_entity *out, struct errbuf *err);

/* Lists entities visible to `who` with the filter; see store_entity_list for paging. An
 * unverified caller may list nothing (ERR_FORBIDDEN). Filter values are validated. */
enum err core_entity_list(struct core *c, const struct core_principal *who,
                          const struct store_entity_filter *filter, struct store_entity_page *page,
                          struct errbuf *err);

/* ---- certificates ----------------------------------------------------------------------- */

/*
 * Issues a certificate (operator only). Rules: the entity is verified; data_provider goes to
 * providers (and brokers acting for them); trading to providers, buyers and brokers;
 * cross_border needs an active trading certificate first. One active certificate per type
 * (ERR_CONFLICT).
 */
enum err core_cert_issue(struct core *c, const struct core_principal *who, const char *entity_id,
                         const char *type, struct store_cert *out, struct errbuf *err);

/* Revokes an active certificate (operator only); revoking a cross_border certificate's
 * trading prerequisite does not cascade. ERR_BAD_STATE when already revoked. */
enum err core_cert_revoke(struct core *c, const struct core_principal *who, const char *entity_id,
                          const char *cert_id, const char *reason, struct store_cert *out,
                          struct errbuf *err);

/* 1 if the entity holds an active certificate of this type. */
enum err core_cert_active(struct core *c, const char *entity_id, enum core_cert_type type,
                          int *active, struct errbuf *err);

/* ---- API keys and authentication -------------------------------------------------------- */

/*
 * Creates an API key for an entity: the operator for anyone, a verified entity for itself.
 * The secret is returned once in key->secret; only its keyed hash is stored.
 */
enum err core_key_create(struct core *c, const struct core_principal *who, const char *entity_id,
                         const char *label, struct core_new_key *key, struct errbuf *err);

/* Revokes a key: the operator any, a verified entity its own (a suspended entity asks the
 * operator). Someone else's key is ERR_NOT_FOUND; ERR_BAD_STATE when already revoked. */
enum err core_key_revoke(struct core *c, const struct core_principal *who, const char *key_id,
                         struct store_api_key *out, struct errbuf *err);

/* Resolves a bearer secret to its principal. ERR_UNAUTHORIZED for unknown, malformed or revoked
 * keys (one message for all, so that probing learns nothing). */
enum err core_authenticate(struct core *c, const char *secret, struct core_principal *out,
                           struct errbuf *err);

/* 1 if the principal is verified (suspended and unverified entities may only read themselves). */
int core_principal_active(const struct core_principal *who);

/* ---- the transparency log ---------------------------------------------------------------- */

/* How many events one integration takes at most: bounds the transaction and the latency. */
#define CORE_LOG_BATCH_MAX 4096

/*
 * Integrates events that are not yet in the Merkle tree: in one store transaction, hashes up to
 * batch_max new leaves (RFC 9162), stores the tree's new hashes, and signs and stores a
 * checkpoint for the new size. *tree_size is the size of the newest checkpoint afterwards
 * (unchanged when nothing was pending). Needs c->log_signer. Deterministic: a crash before
 * the commit leaves nothing, and the retried batch produces the same tree.
 */
enum err core_log_integrate(struct core *c, size_t batch_max, int64_t *tree_size,
                            struct errbuf *err);

/* The newest checkpoint; ERR_NOT_FOUND before the first integration. Caller releases it. */
enum err core_log_checkpoint(struct core *c, struct store_checkpoint *out, struct errbuf *err);

/* Inclusion proof of leaf index in the tree of tree_size leaves (0: the newest checkpoint's
 * size, returned in *tree_size). ERR_INVALID unless index < tree_size <= newest size. */
enum err core_log_prove_inclusion(struct core *c, int64_t index, int64_t *tree_size,
                                  struct tlog_proof *proof, struct errbuf *err);

/* Consistency proof from old_size to new_size (0: the newest size). ERR_INVALID unless
 * 1 <= old_size <= new_size <= newest size. */
enum err core_log_prove_consistency(struct core *c, int64_t old_size, int64_t *new_size,
                                    struct tlog_proof *proof, struct errbuf *err);

/* The bytes of a hash tile or an entry bundle (c2sp tlog-tiles) within the newest checkpoint.
 * ERR_NOT_FOUND if the tile is beyond it. Appends to out. */
enum err core_log_tile(struct core *c, const struct tlog_tile *tile, struct buf *out,
                       struct errbuf *err);

/* One integrated entry by index; ERR_NOT_FOUND beyond the newest checkpoint. */
enum err core_log_entry(struct core *c, int64_t index, struct store_event *out, struct errbuf *err);

/* ---- bootstrap -------------------------------------------------------------------------- */

/*
 * On an empty exchange, creates the operator entity (verified) and its first API key, and
 * returns 1 in *created with the secret in key; otherwise *created = 0 and nothing changes.
 */
enum err core_bootstrap(struct core *c, const char *public_key_b64, int *created,
                        struct core_new_key *key, struct errbuf *err);

#endif
