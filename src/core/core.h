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

#include "pricing/pricing.h"
#include "store/store.h"
#include "tlog/tlog.h"
#include "util/util.h"

/* ---- vocabulary ------------------------------------------------------------------------- */

/* The operator is deliberately not 0: a zeroed (anonymous) principal must never read as it.
 * A zeroed principal is an applied provider with no id, which may do nothing. */
enum core_kind {
    CORE_KIND_PROVIDER,
    CORE_KIND_BUYER,
    CORE_KIND_BROKER,
    CORE_KIND_SERVICE_FIRM,
    CORE_KIND_REGULATOR,
    CORE_KIND_OPERATOR,
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
    /* The exchange operator's Ed25519 signing identity, for rights certificates (see the
     * products section). NULL: this node cannot issue or re-sign certificates. */
    const struct core_signer *operator_signer;
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

/* ---- products, revisions, rights, assessments -------------------------------------------- */

/*
 * A data product (prd_) is registered by a verified provider (or a broker acting for one)
 * holding an active data_provider certificate. Its metadata lives in immutable revisions
 * (rev_, numbered 1, 2, ... per product): a change of metadata makes a new revision and old
 * ones never change, so that rights certificates, assessments and later listings can name
 * exactly what they are about. Rules, all enforced at registration and revision:
 *
 *   - core data (sensitivity "core") is never registered for trading;
 *   - personal data, and any product declaring personal information, names its basis
 *     (consent or anonymisation) and the evidence for it;
 *   - important data is flagged for supervision; offering it across the border needs a
 *     passed cross_border assessment (core_revision_cross_border answers at listing time);
 *   - a derived product names its parent revisions and inherits their restrictions: its
 *     effective classification and sensitivity are the strictest of its own and its parents'.
 *
 * The metadata document (JSON, validated field by field; errors name the field, e.g.
 * "schema[2].type" or "source.personal_information.basis"):
 *   {"kind", "title", "description", "category", "use_cases": [...], "update_frequency",
 *    "classification", "sensitivity", "content_hash" (SHA-256 hex of the data),
 *    "schema": [{"name", "type", "unit", "description", "values" (enum), "fingerprint_tolerance"}],
 *    "sample": {"format": "csv" | "jsonl", "data": "..."},
 *    "source": {"method", "legal_basis", "processing",
 *               "personal_information": {"contained", "basis", "evidence"}},
 *    "parents": ["rev_..."]}
 * docs/api.md is the full reference.
 */

enum core_product_kind {
    CORE_PRODUCT_DATASET,
    CORE_PRODUCT_API,
    CORE_PRODUCT_REPORT,
    CORE_PRODUCT_MODEL,
    CORE_PRODUCT_COMPUTE,
    CORE_PRODUCT__COUNT
};

/* Ordered from least to most restricted: inheritance takes the maximum. */
enum core_classification {
    CORE_CLASS_PUBLIC,
    CORE_CLASS_CORPORATE,
    CORE_CLASS_PERSONAL,
    CORE_CLASS__COUNT
};

/* Ordered from least to most restricted. */
enum core_sensitivity { CORE_SENS_GENERAL, CORE_SENS_IMPORTANT, CORE_SENS_CORE, CORE_SENS__COUNT };

/* The three rights of the Data Twenty Measures (2022). */
enum core_right {
    CORE_RIGHT_HOLDING,    /* holding of the data resource */
    CORE_RIGHT_PROCESSING, /* processing and use */
    CORE_RIGHT_OPERATION,  /* commercial operation of the product */
    CORE_RIGHT__COUNT
};

enum core_assessment_kind {
    CORE_ASSESS_COMPLIANCE,
    CORE_ASSESS_SECURITY,
    CORE_ASSESS_QUALITY,
    CORE_ASSESS_VALUATION,
    CORE_ASSESS_CROSS_BORDER, /* outbound data security assessment; not a listing-policy kind */
    CORE_ASSESS__COUNT
};

const char *core_product_kind_name(enum core_product_kind kind);
enum err core_product_kind_parse(const char *name, enum core_product_kind *out);
const char *core_classification_name(enum core_classification c);
enum err core_classification_parse(const char *name, enum core_classification *out);
const char *core_sensitivity_name(enum core_sensitivity s);
enum err core_sensitivity_parse(const char *name, enum core_sensitivity *out);
const char *core_right_name(enum core_right right);
enum err core_right_parse(const char *name, enum core_right *out);
const char *core_assessment_kind_name(enum core_assessment_kind kind);
enum err core_assessment_kind_parse(const char *name, enum core_assessment_kind *out);

/* The industry taxonomy, maintained in code (product.c). */
struct core_category {
    const char *code;     /* "credit_inquiry" */
    const char *label_zh; /* "征信" */
    const char *label_en; /* "Credit inquiry" */
};

/* The categories in display order; *count receives their number. Cannot fail. */
const struct core_category *core_categories(size_t *count);

/* Limits on product metadata, with the reason. */
#define CORE_TITLE_CHARS_MAX 200        /* a catalogue line */
#define CORE_DESCRIPTION_CHARS_MAX 5000 /* a page of prose; documents go in files */
#define CORE_USE_CASES_MAX 20
#define CORE_USE_CASE_CHARS_MAX 200
#define CORE_COLUMNS_MAX 256 /* wide tables exist; wider ones are split into products */
#define CORE_COLUMN_NAME_CHARS_MAX 64
#define CORE_COLUMN_TEXT_CHARS_MAX 500
#define CORE_ENUM_VALUES_MAX 100
#define CORE_PARENTS_MAX 16
#define CORE_DECLARATION_CHARS_MAX 2000   /* legal basis, processing, evidence: a paragraph */
#define CORE_SAMPLE_BYTES_MAX (64 * 1024) /* a sample, not the data: fits one request */
#define CORE_TERMS_CHARS_MAX 2000

/*
 * The operator's Ed25519 signing function, injected so that core holds no key file: signs
 * len bytes of msg into sig (64 bytes). public_key is the base64 of the 32-byte public key.
 * Errors are the signer's (ERR_UNAVAILABLE when a remote signer is down).
 */
typedef enum err core_sign_fn(void *ctx, const unsigned char *msg, size_t len,
                              unsigned char sig[64], struct errbuf *err);

struct core_signer {
    core_sign_fn *sign;
    void *ctx;
    char public_key[STORE_PUBKEY_MAX];
};

/*
 * Runs the exchange's own quality checks over a sample against a declared schema (the JSON
 * array of the metadata's "schema"): completeness (nulls per column), conformance of every
 * value to its column's type, duplicate rows, and the range (min, max) of each numeric
 * column. format is "csv" (RFC 4180 with a header line) or "jsonl" (one JSON object per
 * line). Malformed rows are counted, not refused. *report receives a new JSON object (caller
 * decrefs): {"format", "rows", "malformed_rows", "duplicate_rows", "missing_columns",
 * "unknown_columns", "columns": [{"name", "type", "nulls", "completeness_permille",
 * "type_errors", "min", "max"}], "completeness_permille", "passed", "problems": [...]}.
 * Ratios are integers in permille. Errors: ERR_INVALID (a bad schema or format, or a sample
 * that is not UTF-8 text; field named), ERR_LIMIT (sample over CORE_SAMPLE_BYTES_MAX),
 * ERR_NOMEM.
 */
enum err core_quality_check(const json_t *schema, const char *format, const char *sample,
                            size_t sample_len, json_t **report, struct errbuf *err);

/*
 * Registers a product: validates metadata (borrowed), applies the classification rules, runs
 * the quality checks on a sample, and records the product and its revision 1 with one event
 * "product.registered". Fills *product and *revision (release the revision with
 * store_revision_release). Errors: ERR_FORBIDDEN (not a verified provider or broker, or no
 * active data_provider certificate, or a parent revision the caller has no processing right
 * on), ERR_INVALID (a field, named; core data is refused here with field "sensitivity"),
 * ERR_NOT_FOUND (a parent revision), store errors.
 */
enum err core_product_register(struct core *c, const struct core_principal *who,
                               const json_t *metadata, struct store_product *product,
                               struct store_revision *revision, struct errbuf *err);

/*
 * Makes revision n+1 of a product from a complete new metadata document (the same shape as
 * registration; "kind" cannot change). Only the product's provider may revise. Metadata
 * identical to the newest revision's is ERR_CONFLICT. Errors as for registration, and
 * ERR_NOT_FOUND for a product the caller cannot see.
 */
enum err core_product_revise(struct core *c, const struct core_principal *who,
                             const char *product_id, const json_t *metadata,
                             struct store_product *product, struct store_revision *revision,
                             struct errbuf *err);

/* Visibility of products: the operator and a verified regulator see all; the provider its
 * own; a service firm the products it was asked to assess; an entity holding or licensed a
 * right on the product that product. Anything else is ERR_NOT_FOUND. */
enum err core_product_get(struct core *c, const struct core_principal *who, const char *id,
                          struct store_product *out, struct errbuf *err);
/* A revision by id (rev_) or, with product_id non-NULL, by number ("3"). Same visibility.
 * Release *out with store_revision_release. */
enum err core_revision_get(struct core *c, const struct core_principal *who, const char *product_id,
                           const char *revision, struct store_revision *out, struct errbuf *err);
/* Lists products: the operator and a verified regulator see all, anyone else only its own
 * (the provider filter is forced). Filter values are validated. */
enum err core_product_list(struct core *c, const struct core_principal *who,
                           const struct store_product_filter *filter,
                           struct store_product_page *page, struct errbuf *err);

/* Why a revision may not be listed or offered across the border: one missing item. */
#define CORE_MISSING_MAX 12
struct core_missing {
    char item[24]; /* "assessment", "right", "classification", "revision" */
    char kind[24]; /* "security", "operation", "core", ... ("" when none) */
    char reason[160];
};

struct core_listable {
    int listable;           /* 1 when missing_count == 0 */
    int64_t policy_version; /* the listing policy applied (0: the built-in default) */
    size_t missing_count;
    struct core_missing missing[CORE_MISSING_MAX];
};

/*
 * Answers whether a revision may be listed: it is not core data; it is its product's newest
 * revision; an operation right certificate on it is active (or pledged); and every assessment
 * kind the current listing policy requires for its (classification, sensitivity) has a
 * submitted report on this very revision with verdict pass or conditions. Otherwise names
 * each missing item. For the listing module. Errors: ERR_INVALID (bad id), ERR_NOT_FOUND,
 * store errors.
 */
enum err core_product_listable(struct core *c, const char *revision_id, struct core_listable *out,
                               struct errbuf *err);

/*
 * Answers whether a revision may be offered across the border (design §2 step 12): never for
 * core data; important data and personal data only with a submitted cross_border assessment
 * (pass or conditions) of this revision; general non-personal data freely. The entity's own
 * cross_border certificate is the listing module's check. out->listable says yes or no.
 */
enum err core_revision_cross_border(struct core *c, const char *revision_id,
                                    struct core_listable *out, struct errbuf *err);

/*
 * Rights certificates (rgt_). Each is a canonical JSON document (keys sorted, compact,
 * UTF-8: the log's leaf encoding) signed with the operator's key through c->operator_signer:
 *   {"content_hash", "holder": {"id", "name", "uscc"}, "id", "issued_at", "issuer":
 *    {"id", "public_key"}, "previous" (SHA-256 hex of the version it replaces, or null),
 *    "product_id", "revision", "revision_id", "right", "type": "bourse/rights-certificate",
 *    "v": 1, "version"}
 * A transfer re-issues the document (version + 1, the new holder, "previous" chaining it);
 * licences, pledges, releases and revocation are events and history rows. Every operation
 * appends one event carrying the document where it changed. Statuses: active <-> pledged,
 * either -> revoked.
 */

/* Issues a certificate for one right on a revision to holder_id (NULL: the product's
 * provider). Operator only. One live (active or pledged) certificate per revision and right
 * (ERR_CONFLICT). The holder is a verified provider, broker or buyer. ERR_UNAVAILABLE when
 * no operator signer is configured. */
enum err core_rights_issue(struct core *c, const struct core_principal *who,
                           const char *revision_id, const char *right, const char *holder_id,
                           struct store_rights *out, struct errbuf *err);
/* The holder licenses the right to a verified licensee with terms (1..CORE_TERMS_CHARS_MAX
 * characters). Allowed while pledged. */
enum err core_rights_license(struct core *c, const struct core_principal *who, const char *id,
                             const char *licensee_id, const char *terms, struct store_rights *out,
                             struct errbuf *err);
/* The holder (or the operator) transfers the certificate to another verified provider,
 * broker or buyer; the document is re-signed. A pledged certificate cannot be transferred
 * (ERR_BAD_STATE). */
enum err core_rights_transfer(struct core *c, const struct core_principal *who, const char *id,
                              const char *to_id, struct store_rights *out, struct errbuf *err);
/* The holder pledges an active certificate as collateral to a verified creditor entity. */
enum err core_rights_pledge(struct core *c, const struct core_principal *who, const char *id,
                            const char *creditor_id, const char *terms, struct store_rights *out,
                            struct errbuf *err);
/* The creditor (or the operator) releases a pledge. */
enum err core_rights_release(struct core *c, const struct core_principal *who, const char *id,
                             struct store_rights *out, struct errbuf *err);
/* The operator revokes a live certificate; the reason is required. */
enum err core_rights_revoke(struct core *c, const struct core_principal *who, const char *id,
                            const char *reason, struct store_rights *out, struct errbuf *err);
/* Reads a certificate; certificates are public records (anyone may verify them). */
enum err core_rights_get(struct core *c, const char *id, struct store_rights *out,
                         struct errbuf *err);
/* Lists certificates: the operator and a verified regulator see all, anyone else those it
 * holds, is pledged, or that are on its own products. */
enum err core_rights_list(struct core *c, const struct core_principal *who,
                          const struct store_rights_filter *filter, struct store_rights_page *page,
                          struct errbuf *err);
/*
 * Checks a certificate document: parses document, checks it is canonical, and verifies
 * signature_b64 (Ed25519, base64 of 64 bytes) with public_key_b64. ERR_INVALID when it is
 * not a canonical JSON object, ERR_CORRUPT when the signature does not verify. For tests and
 * tools; the same check anyone can run offline.
 */
enum err core_rights_verify(const char *document, const char *signature_b64,
                            const char *public_key_b64, struct errbuf *err);

/*
 * The listing policy: which assessment kinds (compliance, security, quality, valuation) each
 * (classification, sensitivity) needs, sensitivity general or important (core is never
 * listed). Versioned: each set makes version n+1; version 0 is the built-in default
 * (compliance and quality for all, plus security for personal or important data).
 * The JSON is {"rules": [{"classification", "sensitivity", "kinds": [...]}]} with exactly
 * one rule for each of the six pairs.
 */
enum err core_policy_set(struct core *c, const struct core_principal *who, const json_t *policy,
                         struct store_policy *out, struct errbuf *err);
/* The policy of that version: CORE_POLICY_CURRENT for the one in force (the newest, or the
 * default when none was set), 0 for the built-in default, n for version n (ERR_NOT_FOUND if
 * there is none). Release with store_policy_release. */
#define CORE_POLICY_CURRENT (-1)
enum err core_policy_get(struct core *c, int64_t version, struct store_policy *out,
                         struct errbuf *err);

/*
 * Assessments (asm_). The product's provider requests one kind of assessment of its newest
 * revision from a verified service firm with that speciality (cross_border needs
 * "security"); one open request per revision and kind (ERR_CONFLICT).
 */
enum err core_assessment_request(struct core *c, const struct core_principal *who,
                                 const char *revision_id, const char *kind, const char *firm_id,
                                 struct store_assessment *out, struct errbuf *err);
/*
 * The firm submits its report: report is the exact canonical JSON text it signed (keys
 * sorted, compact, integers only) and signature_b64 the base64 Ed25519 signature over those
 * bytes with the firm's own key, verified against the public key it registered. The report:
 *   {"assessment_id", "content_hash", "document": {"sha256", "size"}, "findings":
 *    [{"severity": "info"|"minor"|"major"|"critical", "text"}], "conditions": [...],
 *    "firm_id", "kind", "product_id", "revision_id", "type": "bourse/assessment-report",
 *    "v": 1, "verdict": "pass"|"fail"|"conditions"}
 * and must name this assessment, its firm, kind and revision and that revision's content
 * hash. "conditions" is required (non-empty) for verdict conditions. Errors: ERR_FORBIDDEN
 * (not the assigned firm), ERR_BAD_STATE (already submitted), ERR_INVALID (field named;
 * "signature" when it does not verify).
 */
enum err core_assessment_submit(struct core *c, const struct core_principal *who, const char *id,
                                const char *report, const char *signature_b64,
                                struct store_assessment *out, struct errbuf *err);
/* Visibility: the operator and a verified regulator, the provider, the assigned firm. */
enum err core_assessment_get(struct core *c, const struct core_principal *who, const char *id,
                             struct store_assessment *out, struct errbuf *err);
enum err core_assessment_list(struct core *c, const struct core_principal *who,
                              const struct store_assessment_filter *filter,
                              struct store_assessment_page *page, struct errbuf *err);

/* ---- pricing, listings, the catalogue, demands, the inbox -------------------------------- */

/*
 * The demand side (design §2 steps 5 and 6, core/listing.c and core/demand.c).
 *
 * Pricing inputs: a product's provider declares what the cost and income methods need, as
 *   {"currency", "cost": {"collection", "processing", "storage", "labour", "margin_bp"},
 *    "income": {"benefit_per_period", "period": "month"|"year", "periods",
 *               "discount_rate_bp"}}
 * (either part may be left out; integers are minor units or basis points). Each set makes
 * version n+1 and one event "pricing.inputs_set".
 *
 * Listings (lst_) offer a product revision at a price model with licence terms:
 *   {"revision_id", "board": "main"|"international",
 *    "price": {"model": "fixed", "currency", "amount"}
 *           | {"model": "negotiable", "currency", "ask", "floor"?}
 *           | {"model": "subscription", "currency", "period": "month"|"year",
 *              "tiers": [{"name", "qps", "price"}]}
 *           | {"model": "per_call", "currency", "price_per_call", "monthly_minimum"?}
 *           | {"model": "auction", "currency", "reserve", "deadline"},
 *    "terms": {"purpose", "term_days", "territory": "worldwide" | ["CN", ...],
 *              "redistribution": "none"|"internal"|"with_attribution", "exclusive",
 *              "delivery": ["file", "api", "compute"]},
 *    "buyers": ["ent_...", ...] (a private offer, visible only to them)}
 * Rules: the caller is the product's provider, verified, with an active data_provider
 * certificate; the revision passes core_product_listable (refused naming every missing item);
 * a listing on the international board, or whose territory reaches beyond CN, also passes
 * core_revision_cross_border and needs the provider's active cross_border certificate; an
 * auction sells an exclusive licence; one active public listing per product and board. The
 * reference corridor (core_price_reference) is stored on the listing, and a headline price
 * over 3x its top or under a third of its bottom is flagged for supervision. Creating a
 * listing also matches it against open demands in its category. Delisting is a status change:
 * the record, its revision and any contract made on it stay.
 *
 * Demands (dmd_) are posted by verified buyers (or brokers) with an active trading
 * certificate: {"text", "category", "kind"?, "purpose", "budget": {"amount", "currency"},
 * "deadline"}. Posting ranks the matching listings with the catalogue's search engine (the
 * demand's text as an any-word query in its category and kind) and tells both sides through
 * their inbox; a new listing is checked against open demands the same way. Events:
 * "listing.created", "listing.delisted", "demand.posted", "demand.matched" (one per demand
 * that got new matches), "demand.closed". A private offer's event carries hashes of its price,
 * terms and buyers rather than the values, since the log is public.
 */

/* Delivery modes, as a bit set (the catalogue's "delivery" filter and facet). */
enum core_delivery_flags {
    CORE_DELIVERY_FILE = 1 << 0,
    CORE_DELIVERY_API = 1 << 1,
    CORE_DELIVERY_COMPUTE = 1 << 2,
};
#define CORE_DELIVERY__COUNT 3

/* "file", "api", "compute"; NULL past the last. */
const char *core_delivery_name(unsigned bit_index);

/* Limits on listings and demands, with the reason. */
#define CORE_TERM_DAYS_MAX 3650 /* ten years: longer is a sale, not a licence */
#define CORE_TERRITORIES_MAX 50
#define CORE_PURPOSE_CHARS_MAX 500 /* a paragraph */
#define CORE_DEMAND_CHARS_MAX 500
#define CORE_AUCTION_DAYS_MAX 365 /* an auction closes within a year */
#define CORE_DEMAND_DAYS_MAX 730  /* a demand lapses within two years */
#define CORE_MATCHES_MAX 5        /* listings a demand is told about when posted */
#define CORE_MATCH_DEMANDS_MAX 50 /* open demands a new listing is checked against */
#define CORE_QUERY_CHARS_MAX 100  /* a search box */

/* The provider's pricing inputs (replace the previous version). ERR_FORBIDDEN unless the
 * caller is the product's provider; ERR_INVALID naming the field. */
enum err core_pricing_inputs_set(struct core *c, const struct core_principal *who,
                                 const char *product_id, const json_t *inputs,
                                 struct store_pricing_inputs *out, struct errbuf *err);
/* The inputs, for whoever may see the product. ERR_NOT_FOUND when none were declared. */
enum err core_pricing_inputs_get(struct core *c, const struct core_principal *who,
                                 const char *product_id, struct store_pricing_inputs *out,
                                 struct errbuf *err);

/* A reference price and what it was computed from. */
struct core_reference {
    char product_id[ID_MAX];
    char category[STORE_CATEGORY_MAX];
    char kind[STORE_KIND_MAX];
    int64_t term_days;          /* the licence term the income method covered (0: the inputs') */
    int64_t inputs_version;     /* 0 when the product declares no inputs */
    char comparables_basis[32]; /* "cleared trades", or "listings" with too few of them */
    size_t comparables;         /* values the basis offered the market method */
    size_t cleared_trades;      /* cleared trades found (at most PRICING_COMPARABLES_MAX) */
    struct pricing_reference ref;
};

/*
 * The reference price of a product for whoever may see it: the cost and income methods from
 * its pricing inputs (when declared in this currency), the market method from the headline
 * prices of other products' active public listings in the same category, kind and currency,
 * and the corridor. currency NULL: the inputs' (CNY without inputs); term_days 0: the inputs'
 * periods. Errors: ERR_INVALID (field "currency", "term_days"), ERR_NOT_FOUND, ERR_LIMIT
 * (an overflow in the arithmetic), store errors.
 */
enum err core_price_reference(struct core *c, const struct core_principal *who,
                              const char *product_id, const char *currency, int64_t term_days,
                              struct core_reference *out, struct errbuf *err);

/* What a price index is asked for (text borrowed; src/core/price_index.c). */
struct core_price_index_query {
    const char *category; /* required: a category of the taxonomy */
    const char *kind;     /* NULL: every kind */
    const char *currency; /* NULL: CNY */
    const char *period;   /* "month" or "year"; NULL: month */
    int64_t periods;      /* how many periods, ending with the current one; 0: 12 */
};

struct core_price_index_row {
    int64_t start_ms; /* the period is [start_ms, end_ms), UTC calendar months or years */
    int64_t end_ms;
    struct pricing_index_period p;
};

struct core_price_index {
    char category[STORE_CATEGORY_MAX];
    char kind[STORE_KIND_MAX]; /* "" for every kind */
    char currency[STORE_CURRENCY_MAX];
    char period[8];
    int64_t base_start_ms; /* the base period's start; -1 when no period had trades */
    int64_t trades;        /* cleared trades over all the periods */
    struct core_price_index_row rows[PRICING_INDEX_PERIODS_MAX];
    size_t row_count;
};

/*
 * The chained price index of cleared trades in a category (docs/pricing.md, "Price index"),
 * oldest period first, for the operator and a verified regulator: a period's count, sum and
 * median can be one or two contracts' confidential prices. Errors: ERR_FORBIDDEN for anyone
 * else, ERR_INVALID (fields "category", "kind", "currency", "period", "periods"), ERR_LIMIT
 * (more than PRICING_INDEX_TRADES_MAX trades in the range: field "periods"), store errors.
 */
enum err core_price_index(struct core *c, const struct core_principal *who,
                          const struct core_price_index_query *q, struct core_price_index *out,
                          struct errbuf *err);

/* Creates a listing from its JSON (see above); *matched receives the number of open demands
 * it matched. Release out with store_listing_release. Errors: ERR_INVALID (field named),
 * ERR_FORBIDDEN (not the provider, no certificate, cross-border without a cross_border
 * certificate), ERR_BAD_STATE (field "revision_id": not listable, the missing items named),
 * ERR_CONFLICT (an active public listing of the product on that board), ERR_NOT_FOUND. */
enum err core_listing_create(struct core *c, const struct core_principal *who, const json_t *body,
                             struct store_listing *out, size_t *matched, struct errbuf *err);

/* A listing for whoever may see it: a public one anyone (even anonymous), a private offer its
 * provider, its named buyers, the operator and a verified regulator. ERR_NOT_FOUND otherwise.
 * Release out with store_listing_release. */
enum err core_listing_get(struct core *c, const struct core_principal *who, const char *id,
                          struct store_listing *out, struct errbuf *err);

/* 1 when who sees a listing's private details (a negotiable floor, the named buyers): its
 * provider, the operator and a verified regulator. Cannot fail. */
int core_listing_owner_view(const struct core_principal *who, const struct store_listing *l);

/* Delists an active listing (its provider or the operator; reason optional, at most
 * CORE_REASON_CHARS_MAX characters). ERR_BAD_STATE when already delisted. */
enum err core_listing_delist(struct core *c, const struct core_principal *who, const char *id,
                             const char *reason, struct store_listing *out, struct errbuf *err);

/* A catalogue query as the caller gives it; NULL (or -1) means no filter. */
struct core_listing_search {
    const char *q;
    const char *category;
    const char *kind;
    const char *classification;
    const char *board;
    const char *provider_id;
    const char *currency;
    const char *delivery; /* a delivery mode name */
    const char *status;   /* "active" (the default), "delisted", "all" */
    int64_t price_min;
    int64_t price_max;
    const char *cursor;
    size_t limit;
};

/* Searches the catalogue (store_listing_search) with the caller's visibility. Errors:
 * ERR_INVALID naming the bad filter (a price range needs a currency), the store's. */
enum err core_listing_search(struct core *c, const struct core_principal *who,
                             const struct core_listing_search *s, struct store_listing_results *out,
                             struct errbuf *err);

/* Posts a demand and matches it; *matched receives the listings it was matched with. Errors:
 * ERR_FORBIDDEN (not a verified buyer or broker with an active trading certificate),
 * ERR_INVALID (field named), store errors. */
enum err core_demand_post(struct core *c, const struct core_principal *who, const json_t *body,
                          struct store_demand *out, size_t *matched, struct errbuf *err);
/* Demands are seen by every verified entity (providers answer them) and their buyer. */
enum err core_demand_get(struct core *c, const struct core_principal *who, const char *id,
                         struct store_demand *out, struct errbuf *err);
enum err core_demand_list(struct core *c, const struct core_principal *who,
                          const struct store_demand_filter *filter, struct store_demand_page *page,
                          struct errbuf *err);
/* Closes an open demand (its buyer or the operator). ERR_BAD_STATE when closed already. */
enum err core_demand_close(struct core *c, const struct core_principal *who, const char *id,
                           const char *reason, struct store_demand *out, struct errbuf *err);
/* The listings matching a demand now, best first (its buyer, the operator, a verified
 * regulator): the same query that matched it when posted, paged. */
enum err core_demand_matches(struct core *c, const struct core_principal *who, const char *id,
                             const char *cursor, size_t limit, struct store_listing_results *out,
                             struct errbuf *err);

/* The caller's notifications, newest first; status "unread", "read" or "all" (NULL). */
enum err core_inbox_list(struct core *c, const struct core_principal *who, const char *status,
                         const char *cursor, size_t limit, struct store_notification_page *page,
                         struct errbuf *err);
/*
 * Marks one of the caller's notifications read (again: no change). Someone else's is
 * ERR_NOT_FOUND. Reading is the recipient's own state, not the exchange's: it appends no
 * event (the notification itself names the event that caused it).
 */
enum err core_inbox_read(struct core *c, const struct core_principal *who, const char *id,
                         struct store_notification *out, struct errbuf *err);

/* ---- contracts -------------------------------------------------------------------------- */

/*
 * Digital trading contracts (ctr_), escrow, delivery acceptance, settlement and disputes
 * (design §2 steps 7, 8 and 13; core/contract.c, core/contract_doc.c, core/dispute.c).
 *
 * A trade (an order, an accepted negotiation, a closed auction: the trading module) ends in
 * core_contract_propose, which writes a contract in state "proposed" with its canonical
 * document (docs/contract-format.md): the exact bytes each party signs with its own Ed25519
 * key on its own machine. The server verifies each signature against the party's registered
 * public key; when both have signed, the exchange countersigns the document's hash and both
 * signatures with the operator's key and, in the same transaction, holds the buyer's price
 * (one period of a subscription) in escrow (clearing_hold, no timeout). States:
 *
 *   proposed -> signed_one -> signed_both -> active -> delivered -> settled
 *   proposed | signed_one | signed_both -> cancelled (either party), expired (the sweep)
 *   signed_both: the hold failed (insufficient funds); core_contract_activate retries
 *   active (periodic) -> each period settles at its end -> settled after the last;
 *                        a failed hold of the next period -> suspended (activate retries)
 *   active | delivered -> disputed -> resolved (the arbitrator's decision moves the money)
 *
 * Events: contract.proposed, contract.signed, contract.activated (carrying the
 * countersignature), contract.hold_failed, contract.cancelled, contract.expired,
 * contract.delivered, contract.accepted, contract.rejected, contract.period_settled,
 * contract.suspended, contract.settled, dispute.opened, dispute.assigned, dispute.decided.
 * The money moves through clearing in the same transaction, with its own events.
 */

#define CORE_CONTRACT_VERSION "bourse-contract/1"
#define CORE_COUNTERSIGN_VERSION "bourse-countersignature/1"
#define CORE_CONTRACT_BROKERS_MAX 4
#define CORE_CONTRACT_PERIODS_MAX 120         /* ten years of months */
#define CORE_CONTRACT_SIGNING_DAYS_DEFAULT 7  /* a week to sign */
#define CORE_CONTRACT_SIGNING_DAYS_MAX 90     /* a quarter */
#define CORE_CONTRACT_ACCEPT_DAYS_DEFAULT 7   /* a week to check a delivery */
#define CORE_CONTRACT_ACCEPT_DAYS_MAX 90      /* a quarter */
#define CORE_CONTRACT_POOL_BP 1000            /* the data subjects' share of personal data */
#define CORE_CONTRACT_FEE_SCHEDULE "standard" /* the schedule whose newest version applies */
#define CORE_EVIDENCE_MAX 32                  /* log entries cited by one dispute */

/* A broker named in a contract and its commission (basis points of each settlement). */
struct core_contract_broker {
    char entity_id[ID_MAX];
    int64_t commission_bp;
};

/*
 * What a trade agreed; core_contract_propose turns it into a contract in state "proposed".
 * Strings are borrowed for the call. Every licence term left unset (NULL, 0 or -1 as noted)
 * is the listing's; a negotiation may have agreed others.
 */
struct core_contract_terms {
    char listing_id[ID_MAX];
    char buyer_id[ID_MAX];
    const char *origin; /* "order", "negotiation", "auction" */
    char origin_id[ID_MAX];
    int64_t price;                     /* minor units: the total, or per period */
    char currency[STORE_CURRENCY_MAX]; /* the listing's currency */
    const char *tier;                  /* a subscription tier of the listing, else NULL */
    int64_t periods;                   /* subscriptions: 1..PERIODS_MAX; else 1 (0 means 1) */
    const char *purpose;               /* NULL: the listing's */
    int64_t term_days;                 /* 0: the listing's */
    const char *territory;             /* NULL: the listing's; "worldwide" or "CN,HK,..." */
    const char *redistribution;        /* NULL: the listing's */
    int exclusive;                     /* -1: the listing's; else 0 or 1 */
    const char *delivery;              /* NULL: the listing's first mode; else one of them */
    int64_t acceptance_days;           /* 0: CORE_CONTRACT_ACCEPT_DAYS_DEFAULT */
    int64_t signing_days;              /* 0: CORE_CONTRACT_SIGNING_DAYS_DEFAULT */
    struct core_contract_broker brokers[CORE_CONTRACT_BROKERS_MAX];
    size_t broker_count;
};

/*
 * Proposes a contract: checks the listing (active, visible to the buyer: a private offer names
 * it), its revision and the terms against it, reads both parties (verified, distinct) and the
 * brokers (verified brokers), records the fee schedule in force (the newest version of
 * CORE_CONTRACT_FEE_SCHEDULE in the contract's currency, none when there is none), computes
 * the canonical document and inserts the contract with event contract.proposed. The caller is
 * the buyer, the provider or the operator (the trading module acting on an order, a
 * negotiation or an auction). Runs in its own transaction, a savepoint of the caller's when
 * there is one. Errors: ERR_FORBIDDEN, ERR_INVALID (field named: "listing_id", "buyer_id",
 * "price", "tier", "periods", "delivery", "brokers[0].entity_id", ...), ERR_NOT_FOUND (listing),
 * ERR_BAD_STATE (listing delisted, party not verified), store errors.
 */
enum err core_contract_propose(struct core *c, const struct core_principal *who,
                               const struct core_contract_terms *t, struct store_contract *out,
                               struct errbuf *err);

/* A contract for its parties, its brokers, the operator and a verified regulator; anyone else
 * ERR_NOT_FOUND. */
enum err core_contract_get(struct core *c, const struct core_principal *who, const char *id,
                           struct store_contract *out, struct errbuf *err);
/* The caller's contracts (the operator and a regulator: all), newest first; state filter. */
enum err core_contract_list(struct core *c, const struct core_principal *who,
                            const struct store_contract_filter *filter,
                            struct store_contract_page *page, struct errbuf *err);
/* The signatures recorded on a contract (visibility as core_contract_get). */
enum err core_contract_signatures(struct core *c, const struct core_principal *who, const char *id,
                                  struct store_contract_signature out[2], size_t *count,
                                  struct errbuf *err);
/* The payment periods of a contract, at most max (visibility as core_contract_get). */
enum err core_contract_periods(struct core *c, const struct core_principal *who, const char *id,
                               struct store_contract_period *out, size_t max, size_t *count,
                               struct errbuf *err);

/*
 * The caller (a party) signs: signature_b64 is the base64 Ed25519 signature of the exact
 * document bytes, verified against the caller's registered public key. The second signature
 * countersigns and activates (see above). When the hold fails for want of funds, the
 * signature is still recorded, the contract stays "signed_both" with a note, and *hold_failed
 * is set to 1 and err describes the shortfall (core_contract_activate retries). Errors:
 * ERR_FORBIDDEN (not a party), ERR_BAD_STATE (not awaiting this party's signature, past the
 * signing deadline), ERR_INVALID (field "signature": malformed or does not verify),
 * ERR_UNAVAILABLE (no operator signer), store and clearing errors.
 */
enum err core_contract_sign(struct core *c, const struct core_principal *who, const char *id,
                            const char *signature_b64, struct store_contract *out, int *hold_failed,
                            struct errbuf *err);

/* Retries the escrow hold of a "signed_both" or "suspended" contract (a party or the
 * operator). ERR_BAD_STATE "insufficient funds" (field "amount") when it fails again, with
 * nothing changed. */
enum err core_contract_activate(struct core *c, const struct core_principal *who, const char *id,
                                struct store_contract *out, struct errbuf *err);

/* Either party cancels a contract that is not active yet (or a suspended subscription);
 * reason optional. ERR_BAD_STATE otherwise. */
enum err core_contract_cancel(struct core *c, const struct core_principal *who, const char *id,
                              const char *reason, struct store_contract *out, struct errbuf *err);

/*
 * The provider (or the operator, for the delivery module) records a delivery of what hashes
 * to sha256_hex: a single-payment contract becomes "delivered" and the acceptance window
 * starts; a subscription records it against the current period. The same hash again is a
 * replay (nothing written). Errors: ERR_FORBIDDEN, ERR_INVALID (field "sha256"),
 * ERR_BAD_STATE (not active; delivered already with another hash).
 */
enum err core_contract_deliver(struct core *c, const struct core_principal *who, const char *id,
                               const char *sha256_hex, struct store_delivery *delivery,
                               struct store_contract *out, struct errbuf *err);

/* The buyer accepts a delivered single-payment contract within its window: settles it
 * (clearing_post under the recorded fee schedule and split) and the contract is "settled".
 * ERR_FORBIDDEN (not the buyer), ERR_BAD_STATE (not delivered, window passed). */
enum err core_contract_accept(struct core *c, const struct core_principal *who, const char *id,
                              struct store_contract *out, struct errbuf *err);

/* The buyer rejects a delivery within its window with a statement: opens a dispute (escrow
 * stays held). Errors as core_contract_accept, and ERR_INVALID (field "statement"). */
enum err core_contract_reject(struct core *c, const struct core_principal *who, const char *id,
                              const char *statement, struct store_dispute *dispute,
                              struct store_contract *out, struct errbuf *err);

/*
 * Either party opens a dispute on an active or delivered contract: statement (required) and
 * evidence, indexes of integrated log entries whose leaf hashes are recorded with them (a
 * client fetches their inclusion proofs from /v1/log/proofs/inclusion). The contract becomes
 * "disputed"; the escrow stays held. Errors: ERR_FORBIDDEN (not a party), ERR_BAD_STATE,
 * ERR_INVALID (field "statement", "evidence[i]": not in the log).
 */
enum err core_dispute_open(struct core *c, const struct core_principal *who,
                           const char *contract_id, const char *statement, const int64_t *evidence,
                           size_t evidence_count, struct store_dispute *out, struct errbuf *err);
/* A dispute for the contract's parties, its arbitrator, the operator and a regulator. */
enum err core_dispute_get(struct core *c, const struct core_principal *who, const char *id,
                          struct store_dispute *out, struct errbuf *err);
/* The operator assigns (or reassigns before a decision) an arbitrator: a verified service firm
 * with the arbitration speciality, not a party. ERR_INVALID (field "arbitrator") naming the
 * rule it breaks, ERR_BAD_STATE once decided. */
enum err core_dispute_assign(struct core *c, const struct core_principal *who, const char *id,
                             const char *arbitrator_id, struct store_dispute *out,
                             struct errbuf *err);
/*
 * The assigned arbitrator decides: "release" (settle all of the held period to the provider
 * under the contract's split), "refund" (void the hold) or "split" (settle provider_amount,
 * 0 < provider_amount < held, under the split; the rest returns to the buyer). The contract
 * is "resolved". Errors: ERR_FORBIDDEN (not the arbitrator), ERR_BAD_STATE (not assigned,
 * decided), ERR_INVALID (field "decision", "provider_amount", "reason").
 */
enum err core_dispute_decide(struct core *c, const struct core_principal *who, const char *id,
                             const char *decision, int64_t provider_amount, const char *reason,
                             struct store_dispute *out, struct errbuf *err);

/*
 * The contract clock, run by the log leader's tick: expires contracts not fully signed by
 * their signing deadline, accepts deliveries whose window passed, and settles subscription
 * periods that ended (holding the next period's price, or suspending the contract when the
 * hold fails). Up to max (1..CORE_LOG_BATCH_MAX) contracts, each in its own transaction;
 * *done says how many changed. Call until it returns 0.
 */
enum err core_contract_sweep(struct core *c, int64_t now_ms, size_t max, size_t *done,
                             struct errbuf *err);

/*
 * When the contract's licence to use the data ends (core/contract_term.c): its activation
 * plus the document's licence term_days, or the end of a subscription's last period when
 * that comes first. *end_ms is 0 for a contract never activated. No state records an ended
 * term (the clock moves contracts by their payment deadlines), so whoever grants a use of the
 * data compares this with the time at each use. ERR_CORRUPT when the stored document does
 * not parse or holds no valid term.
 */
enum err core_contract_licence_end(const struct store_contract *k, int64_t *end_ms,
                                   struct errbuf *err);

/* Verifies a countersignature offline: the statement the exchange signed for a contract is
 * CORE_COUNTERSIGN_VERSION's canonical JSON (docs/contract-format.md), written into out
 * (cap bytes) by core_contract_countersign_statement. ERR_LIMIT when out is too small. */
enum err core_contract_countersign_statement(const struct store_contract *k,
                                             const struct store_contract_signature *sigs,
                                             size_t sig_count, char *out, size_t cap,
                                             struct errbuf *err);

/* ---- trading: orders, negotiations, auctions ------------------------------------------ */

/*
 * The trading half (design §2 step 7; core/trade.c, core/negotiation.c, core/auction.c). A
 * qualified buyer orders at the listed price, negotiates a negotiable listing, or bids in the
 * sealed-bid auction of an exclusive licence; every agreed trade becomes an order (ord_, its
 * source naming how) and a contract proposed through core_contract_propose, in the same
 * transaction. The qualification rules, checked on every trade and each refused as its own
 * rule (enum core_trade_rule, named in the error's problem type):
 *
 *   not-qualified        the buyer is verified, holds an active trading certificate, and an
 *                        active cross_border certificate when its country is not CN or the
 *                        listing is on the international board;
 *   self-trade           a provider does not trade with itself;
 *   private-offer        a private offer is traded only by its named buyers;
 *   exclusivity-sold     an exclusive licence is sold once: no other order holds it (an
 *                        order whose contract was cancelled or expired gives it back);
 *   classification       a buyer abroad gets personal or important data only with a passed
 *                        cross_border assessment of the revision (core_revision_cross_border);
 *   price-outside-terms  the price is the listing's: a fixed amount, a subscription tier's
 *                        price per period, a negotiable offer within [floor, ask] in the
 *                        listing's currency; auctions and negotiations are not ordered.
 *
 * Negotiations (neg_) alternate offers between the buyer and the provider (nobody answers its
 * own offer); the party that did not make the last offer accepts or either rejects; at the
 * deadline core_trade_sweep expires it. Only the parties, the operator and a verified
 * regulator see one, and the public log records its steps without prices.
 *
 * Auctions (auc_) are sealed-bid second-price: the listing's provider opens the auction of an
 * auction listing (reserve, currency and deadline are the listing's); qualified bidders bid
 * until the deadline; a bid's event carries only a commitment, SHA-256 of
 * "<amount>\n<bidder id>\n<salt hex>" (core_auction_commitment), and the close event reveals
 * every amount and salt so that anyone can check the commitments. At the deadline (the sweep,
 * or anyone's core_auction_close) each bidder's highest bid counts; the highest at or above the
 * reserve wins (the earlier on a tie) and pays the second-highest bidder's amount, or the
 * reserve when that is lower or there is none. No bid at the reserve: closed without winner.
 * Before the close a caller sees only its own bids.
 *
 * Events: order.placed, order.exclusivity_released, negotiation.opened, negotiation.offered,
 * negotiation.accepted, negotiation.rejected, negotiation.expired, auction.opened,
 * auction.bid, auction.closed.
 */
enum core_trade_rule {
    CORE_RULE_NONE,
    CORE_RULE_NOT_QUALIFIED,
    CORE_RULE_SELF_TRADE,
    CORE_RULE_PRIVATE_OFFER,
    CORE_RULE_EXCLUSIVITY_SOLD,
    CORE_RULE_CLASSIFICATION,
    CORE_RULE_PRICE_OUTSIDE_TERMS,
    CORE_RULE__COUNT
};

/* "not-qualified", ...: the problem type of a refusal; "" for CORE_RULE_NONE. */
const char *core_trade_rule_name(enum core_trade_rule rule);

#define CORE_NEGOTIATION_SECONDS_DEFAULT (7 * 86400) /* a week to agree */
#define CORE_NEGOTIATION_SECONDS_MIN 60
#define CORE_NEGOTIATION_SECONDS_MAX (90 * 86400) /* a quarter */
#define CORE_NEGOTIATION_OFFERS_MAX 100           /* haggling has to end */
#define CORE_AUCTION_BIDS_MAX 200 /* the close event reveals them all within a log leaf */
#define CORE_AUCTION_SALT_BYTES 16
#define CORE_TRADE_SWEEP_MAX 256 /* negotiations or auctions one sweep call handles */

/* An order as the buyer asks for it. Strings borrowed; NULL (or -1, 0) when not given. */
struct core_order_request {
    const char *listing_id;
    const char *tier;     /* a subscription's tier */
    int64_t periods;      /* subscription and per-call periods, 0: the listing's term */
    int64_t price;        /* -1, or the whole price the buyer expects to pay */
    const char *currency; /* NULL, or the currency it expects */
};

/*
 * Places an order at the listed price, proposes its contract and records both, with event
 * order.placed. A refused rule sets *rule (which may be NULL) and returns: ERR_FORBIDDEN
 * (not-qualified "buyer", self-trade, private-offer, classification: field "listing_id"),
 * ERR_CONFLICT (exclusivity-sold, "listing_id"), ERR_INVALID (price-outside-terms: "price",
 * "currency", "listing_id"). Other errors: ERR_INVALID ("listing_id", "tier", "periods"),
 * ERR_NOT_FOUND ("listing_id"), ERR_BAD_STATE (the listing is delisted), the contract
 * module's and the store's.
 */
enum err core_order_place(struct core *c, const struct core_principal *who,
                          const struct core_order_request *r, struct store_order *out,
                          enum core_trade_rule *rule, struct errbuf *err);
/* An order for its buyer and provider, the operator and a verified regulator. */
enum err core_order_get(struct core *c, const struct core_principal *who, const char *id,
                        struct store_order *out, struct errbuf *err);
/* The caller's orders (as buyer or provider; the operator and a regulator see all). The
 * filter's party_id is forced for the others. */
enum err core_order_list(struct core *c, const struct core_principal *who,
                         const struct store_order_filter *filter, struct store_order_page *page,
                         struct errbuf *err);

/* One offer: the whole price in the listing's currency and optional changes to the terms. */
struct core_offer {
    int64_t price;
    const char *currency; /* NULL: the listing's (open) or the negotiation's (counter) */
    const char *purpose;  /* NULL: unchanged */
    int64_t term_days;    /* 0: unchanged */
};

/* The buyer opens a negotiation with its offer; expires_s 0 is the default. Errors as
 * core_order_place, and ERR_INVALID ("expires_in", "terms.purpose", "terms.term_days"). */
enum err core_negotiation_open(struct core *c, const struct core_principal *who,
                               const char *listing_id, const struct core_offer *o,
                               int64_t expires_s, struct store_negotiation *out,
                               enum core_trade_rule *rule, struct errbuf *err);
/* A counter-offer by the party that did not make the last one. ERR_BAD_STATE (closed,
 * expired, or the caller's own offer is the last), ERR_LIMIT (too many offers), rules. */
enum err core_negotiation_offer(struct core *c, const struct core_principal *who, const char *id,
                                const struct core_offer *o, struct store_negotiation *out,
                                enum core_trade_rule *rule, struct errbuf *err);
/* The party that did not make the last offer accepts it: the order and contract are made at
 * its price and terms (order may be NULL). Errors as core_negotiation_offer and the rules. */
enum err core_negotiation_accept(struct core *c, const struct core_principal *who, const char *id,
                                 struct store_negotiation *out, struct store_order *order,
                                 enum core_trade_rule *rule, struct errbuf *err);
/* Either party rejects an open negotiation. ERR_BAD_STATE when it is closed. */
enum err core_negotiation_reject(struct core *c, const struct core_principal *who, const char *id,
                                 const char *reason, struct store_negotiation *out,
                                 struct errbuf *err);
/* Visibility: the two parties, the operator and a verified regulator; else ERR_NOT_FOUND. */
enum err core_negotiation_get(struct core *c, const struct core_principal *who, const char *id,
                              struct store_negotiation *out, struct errbuf *err);
/* The offers of a visible negotiation, oldest first; caller frees *out with mem_free. */
enum err core_negotiation_offers(struct core *c, const struct core_principal *who, const char *id,
                                 struct store_negotiation_offer **out, size_t *count,
                                 struct errbuf *err);
enum err core_negotiation_list(struct core *c, const struct core_principal *who,
                               const struct store_negotiation_filter *filter,
                               struct store_negotiation_page *page, struct errbuf *err);

/*
 * The listing's provider (or the operator) opens the auction of an auction listing. reserve
 * (-1), currency (NULL) and closes_ms (0) may be left out; given, they must be the listing's
 * (ERR_INVALID naming "reserve", "currency", "closes_at"). ERR_CONFLICT when it is open
 * already, ERR_INVALID ("listing_id") for a listing of another price model.
 */
enum err core_auction_open(struct core *c, const struct core_principal *who, const char *listing_id,
                           int64_t reserve, const char *currency, int64_t closes_ms,
                           struct store_auction *out, struct errbuf *err);
/* A qualified bidder bids: ERR_BAD_STATE after the deadline or the close, ERR_INVALID
 * ("amount": not a raise of the bidder's own highest bid), ERR_LIMIT, the rules. */
enum err core_auction_bid(struct core *c, const struct core_principal *who, const char *id,
                          int64_t amount, struct store_bid *out, enum core_trade_rule *rule,
                          struct errbuf *err);
/* Closes an auction past its deadline (anyone authenticated): see above. order (may be NULL)
 * receives the winner's order; its id is "" without a winner. ERR_BAD_STATE before the
 * deadline or when closed. */
enum err core_auction_close(struct core *c, const struct core_principal *who, const char *id,
                            struct store_auction *out, struct store_order *order,
                            struct errbuf *err);
/* An auction for whoever may see its listing; by listing with core_auction_for_listing. */
enum err core_auction_get(struct core *c, const struct core_principal *who, const char *id,
                          struct store_auction *out, struct errbuf *err);
enum err core_auction_for_listing(struct core *c, const struct core_principal *who,
                                  const char *listing_id, struct store_auction *out,
                                  struct errbuf *err);
/* The bids who may see: all after the close, before it only the caller's own. Caller frees
 * *out with mem_free. */
enum err core_auction_bids(struct core *c, const struct core_principal *who,
                           const struct store_auction *a, struct store_bid **out, size_t *count,
                           struct errbuf *err);
/* The commitment of a bid: SHA-256 hex of "<amount>\n<bidder_id>\n<salt_hex>". Cannot
 * fail. */
void core_auction_commitment(int64_t amount, const char *bidder_id, const char *salt_hex,
                             char out[STORE_HASH_HEX_MAX]);

/*
 * The trading clock, run by the log leader's tick: expires open negotiations past their
 * deadline and closes open auctions past theirs (actor "trading"), up to max (1..
 * CORE_TRADE_SWEEP_MAX) of each, each in its own transaction; *done counts them. A failure
 * of one stops the sweep with its error (what was done stays done).
 */
enum err core_trade_sweep(struct core *c, int64_t now_ms, size_t max, size_t *done,
                          struct errbuf *err);

/* ---- bootstrap -------------------------------------------------------------------------- */

/*
 * On an empty exchange, creates the operator entity (verified) and its first API key, and
 * returns 1 in *created with the secret in key; otherwise *created = 0 and nothing changes.
 */
enum err core_bootstrap(struct core *c, const char *public_key_b64, int *created,
                        struct core_new_key *key, struct errbuf *err);

#endif
