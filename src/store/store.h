/*
 * store: persistence behind one interface. It owns the schema, the numbered migrations, the
 * transactions, and the rows of every domain table; it knows nothing of the rules that decide
 * what may be written (those are core's).
 *
 * Two layers:
 *   - a backend, `const struct store_ops`, speaks one SQL engine: open, exec, parameterised
 *     query with a row callback: SQLite (embedded default) and PostgreSQL (scale-out). SQL above
 * the backend is the portable subset both engines accept: `$1` placeholders, BIGINT and TEXT
 * columns only, INSERT ... ON CONFLICT, no engine functions.
 *   - the record functions (store_entity_insert, store_event_append, ...) written once on
 *     top of the backend.
 *
 * Transactions nest: the outermost store_tx_begin opens a real transaction, inner ones are
 * savepoints, so that a caller (the HTTP layer storing an idempotent response, or a batch)
 * can wrap several core operations in one atomic unit.
 *
 * Every state change appends an event (store_event_append) in the same transaction. Events
 * are numbered 0, 1, 2, ... without gaps in commit order; that number is the transparency log
 * index, and the event's canonical bytes (the leaf) are fixed when it is appended.
 */
#ifndef BOURSE_STORE_H
#define BOURSE_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- backend interface ------------------------------------------------------------------ */

enum store_type { STORE_NULL, STORE_INT, STORE_TEXT };

/* A parameter or a column value. Text is borrowed: for parameters until the call returns,
 * for columns until the row callback returns. */
struct store_value {
    enum store_type type;
    int64_t i;
    const char *s;
    size_t len;
};

/* Called for each result row; returning an error stops the query with that error. */
typedef enum err store_row_cb(void *ctx, const struct store_value *cols, size_t ncols,
                              struct errbuf *err);

struct store_search_ops;

struct store_ops {
    const char *name; /* "sqlite", "postgres" */
    int version;
    /* Opens a connection for uri (a path for sqlite, a postgres:// URL for postgres). */
    enum err (*open)(const char *uri, void **db, struct errbuf *err);
    void (*close)(void *db);
    /* Runs one or more statements without parameters or results (DDL, BEGIN, SAVEPOINT). */
    enum err (*exec)(void *db, const char *sql, struct errbuf *err);
    /* Runs one statement with $1..$n parameters; row_cb may be NULL; *changes (if non-NULL)
     * receives the number of rows inserted, updated or deleted. Prepared statements are
     * cached by the backend. ERR_CONFLICT on a unique or primary key violation. */
    enum err (*query)(void *db, const char *sql, const struct store_value *params, size_t count,
                      store_row_cb *row_cb, void *ctx, int64_t *changes, struct errbuf *err);
    /* The statement that opens a write transaction. */
    const char *begin_sql;
    /* Takes the log leadership for this connection if no other connection holds it, or
     * confirms that this one still does; *is_leader is 1 then, else 0. A backend whose
     * database one process holds exclusively (SQLite) is always the leader. Called outside
     * transactions only. */
    enum err (*leader_try)(void *db, int *is_leader, struct errbuf *err);
    /* 1 while the connection that took the leadership is still the one in use, without a
     * round trip; NULL when leadership cannot be lost (SQLite). */
    int (*leader_held)(void *db);
    /* Makes the connection refuse every write, now and after any reconnect (PostgreSQL's
     * default_transaction_read_only, SQLite's query_only). */
    enum err (*read_only)(void *db, struct errbuf *err);
    /* Starts (on = 1) or ends (on = 0) deferred writes (store_defer_begin); ending sends what
     * waits and returns its first error. NULL when every statement runs at once (SQLite). */
    enum err (*defer)(void *db, int on, struct errbuf *err);
    /* A query of two text columns, (table, column), naming every column of every table of
     * the schema, each table's columns in their order. */
    const char *columns_sql;
    /* The full-text search of the catalogue, in the engine's own SQL (search.c; SQLite FTS5,
     * PostgreSQL pg_trgm): its DDL, run by migration 5, and its queries. */
    const struct store_search_ops *search;
};

extern const struct store_ops store_sqlite_ops;
/* PostgreSQL on libpq: one connection per store, writers serialised by an advisory lock;
 * see postgres.c and docs/decisions/0002-postgres-isolation.md. */
extern const struct store_ops store_postgres_ops;

struct store;

/*
 * Opens a store. `uri` is "postgres://..." / "postgresql://..." for PostgreSQL, otherwise the
 * path of the SQLite database file (created if absent). Applies pending migrations. Caller
 * frees with store_close. ERR_IO when the database cannot be opened, ERR_UNAVAILABLE when a
 * PostgreSQL server cannot be reached, ERR_INVALID (field "db") for a malformed postgres
 * URL, ERR_CORRUPT when its schema is newer than this binary knows.
 */
enum err store_open(const char *uri, struct store **out, struct errbuf *err);
void store_close(struct store *s); /* accepts NULL */
const char *store_backend_name(const struct store *s);

enum store_open_flags {
    /* Leave the schema as it is (`bourse db status`, the source of `bourse db copy`). */
    STORE_OPEN_NO_MIGRATE = 1 << 0,
    /* A connection that only reads (the server's read pool): the database refuses its writes
     * and store_tx_begin refuses to open a transaction (ERR_IO). */
    STORE_OPEN_READ_ONLY = 1 << 1,
};

/* store_open with flags (enum store_open_flags); the same errors. */
enum err store_open_with(const char *uri, unsigned flags, struct store **out, struct errbuf *err);

/* The schema version this binary migrates to, and the version of an open store. */
int store_schema_version_latest(void);
enum err store_schema_version(struct store *s, int *version, struct errbuf *err);

/* Applies the pending migrations (store_open does this unless told not to), each in its own
 * transaction; *applied (if non-NULL) receives how many. ERR_CORRUPT when the schema is newer
 * than this binary knows; the backend's errors otherwise. */
enum err store_migrate(struct store *s, int *applied, struct errbuf *err);

/*
 * Log leadership: several servers may share one PostgreSQL database, and exactly one of them
 * at a time integrates events into the transparency log. Sets *is_leader to 1 when this store
 * holds the leadership: always on SQLite (one process holds the database); on PostgreSQL
 * while its connection holds a session-level advisory lock, taken here when free. A
 * connection that was reset lost the lock with its session; the next call notices and tries
 * to take it again. Call it before each integration, outside transactions. On error
 * (ERR_UNAVAILABLE: the database is unreachable) *is_leader is 0.
 */
enum err store_leader_try(struct store *s, int *is_leader, struct errbuf *err);
/* 1 when the leadership taken by the last store_leader_try is still held by the session in
 * use: call it inside the transaction that does the leader's work, after store_tx_begin, so
 * that a node whose connection was replaced since (a frozen leader whose session the server
 * ended, then a silent reconnect by BEGIN) cannot do that work beside the new leader. The
 * session cannot end and come back inside one transaction, so a commit that follows proves
 * that the work ran under the lock. No round trip; cannot fail. */
int store_leader_held(struct store *s);

/* What `bourse db status` reports. */
struct store_status {
    const char *backend; /* static: "sqlite", "postgres" */
    int schema_version;  /* 0 for a database never migrated */
    int schema_latest;
    int64_t event_count;     /* -1 when there is no events table yet */
    int64_t checkpoint_size; /* the newest checkpoint's tree size, 0 before the first */
};

/* Reads the status of a store opened with or without migrations. Backend errors only. */
enum err store_status_read(struct store *s, struct store_status *out, struct errbuf *err);

/*
 * Copies every row of every table of `from` into `to`, unchanged (event sequence numbers,
 * leaves, tree hashes and signed checkpoints byte for byte, metadata, idempotent responses),
 * in one transaction of `to`: all or nothing. Moves an exchange between backends with its
 * log intact, so that every checkpoint issued before the move stays valid. Both stores must
 * be at this binary's schema version and have exactly the tables the store knows
 * (the list in copy.c). `from` is only read. Fills *rows with the number copied.
 * Errors: ERR_CONFLICT when `to` holds any row already (nothing is written), ERR_INVALID
 * when a schema version or the tables differ, the backends' errors otherwise.
 */
enum err store_copy(struct store *from, struct store *to, int64_t *rows, struct errbuf *err);

/* Nested transactions (see above). Commit of the outermost level makes everything durable
 * before it returns. Rollback of a level undoes only that level; it cannot fail. */
enum err store_tx_begin(struct store *s, struct errbuf *err);
enum err store_tx_commit(struct store *s, struct errbuf *err);
void store_tx_rollback(struct store *s);
int store_tx_depth(const struct store *s);

/*
 * Deferred writes: between store_defer_begin and store_defer_end (inside a transaction) the
 * backend may send a statement that returns nothing to the caller (no row callback, no change
 * count) without waiting for its answer, and bring the answers back with the next statement
 * that needs one: PostgreSQL's pipeline mode, so that a run of writes costs one round trip;
 * SQLite runs everything at once. A deferred write that fails makes that later statement (or
 * the transaction command, or store_defer_end) fail with its error, and the statements sent
 * after it in the same round trip do not run: the caller rolls back as after any failed
 * statement. So a caller that defers must not act on a write's success before the next
 * statement that waits. store_defer_end sends what waits and returns its first error; calls
 * do not nest.
 */
void store_defer_begin(struct store *s);
enum err store_defer_end(struct store *s, struct errbuf *err);

/* Raw access for record functions and tests: the same contract as store_ops.query/exec. */
enum err store_query(struct store *s, const char *sql, const struct store_value *params,
                     size_t count, store_row_cb *row_cb, void *ctx, int64_t *changes,
                     struct errbuf *err);
enum err store_exec(struct store *s, const char *sql, struct errbuf *err);

/* Helpers for building parameter lists. The text forms borrow s. */
struct store_value store_int(int64_t i);
struct store_value store_text(const char *s);
struct store_value store_null(void);
/* NULL when s is NULL or empty, else text. */
struct store_value store_text_or_null(const char *s);

/* ---- records ---------------------------------------------------------------------------- */

/* Field sizes in bytes including the NUL; the limits on characters are core's. */
#define STORE_KIND_MAX 16
#define STORE_NAME_MAX 801 /* 200 UTF-8 characters of up to 4 bytes */
#define STORE_USCC_MAX 19
#define STORE_COUNTRY_MAX 3
#define STORE_CONTACT_MAX 401
#define STORE_EMAIL_MAX 255
#define STORE_PHONE_MAX 33
#define STORE_PUBKEY_MAX 45 /* base64 of 32 bytes */
#define STORE_REASON_MAX 8001
#define STORE_HASH_HEX_MAX 65

struct store_entity {
    char id[ID_MAX];
    char kind[STORE_KIND_MAX];
    char status[STORE_KIND_MAX];
    char name[STORE_NAME_MAX];
    char uscc[STORE_USCC_MAX]; /* "" for entities registered outside China */
    char country[STORE_COUNTRY_MAX];
    char contact_name[STORE_CONTACT_MAX];
    char contact_email[STORE_EMAIL_MAX];
    char contact_phone[STORE_PHONE_MAX];
    char public_key[STORE_PUBKEY_MAX];
    int64_t specialities; /* bit set of core's speciality flags */
    int64_t created_ms;
    int64_t updated_ms;
    int64_t log_index; /* the latest event about this entity */
};

struct store_cert {
    char id[ID_MAX];
    char entity_id[ID_MAX];
    char type[STORE_KIND_MAX];
    char status[STORE_KIND_MAX]; /* "active", "revoked" */
    int64_t issued_ms;
    int64_t revoked_ms; /* 0 while active */
    char reason[STORE_REASON_MAX];
    int64_t log_index;        /* the issuing event */
    int64_t revoke_log_index; /* -1 while active */
};

struct store_review {
    int64_t log_index;
    char entity_id[ID_MAX];
    char decision[STORE_KIND_MAX];
    char reason[STORE_REASON_MAX];
    char actor[ID_MAX];
    int64_t at_ms;
};

struct store_api_key {
    char id[ID_MAX];
    char entity_id[ID_MAX];
    char label[STORE_CONTACT_MAX];
    char secret_hash[STORE_HASH_HEX_MAX];
    int64_t created_ms;
    int64_t revoked_ms; /* 0 while valid */
    int64_t log_index;
};

/* Listing entities: every non-NULL filter narrows; the page is ordered by creation. */
#define STORE_PAGE_MAX 100
#define STORE_CURSOR_MAX 64

struct store_entity_filter {
    const char *kind;
    const char *status;
    const char *country;
    const char *q; /* substring of the name */
    const char *cursor;
    size_t limit; /* 1..STORE_PAGE_MAX */
    /* Visibility: when visible_status is non-NULL only entities with that status, or the one
     * whose id is visible_self, are listed. */
    const char *visible_status;
    const char *visible_self;
};

struct store_entity_page {
    struct store_entity *items; /* owned; release with store_entity_page_release */
    size_t count;
    char next_cursor[STORE_CURSOR_MAX]; /* "" on the last page */
};

void store_entity_page_release(struct store_entity_page *page);

enum err store_entity_insert(struct store *s, const struct store_entity *e, struct errbuf *err);
/* Writes status, updated_ms and log_index of e->id. ERR_NOT_FOUND if absent. */
enum err store_entity_update_status(struct store *s, const struct store_entity *e,
                                    struct errbuf *err);
enum err store_entity_get(struct store *s, const char *id, struct store_entity *out,
                          struct errbuf *err);
/* Counts entities with this USCC whose status is not "rejected". */
enum err store_entity_count_uscc(struct store *s, const char *uscc, int64_t *count,
                                 struct errbuf *err);
enum err store_entity_count(struct store *s, int64_t *count, struct errbuf *err);
/* ERR_INVALID (field "cursor") for a malformed cursor. */
enum err store_entity_list(struct store *s, const struct store_entity_filter *filter,
                           struct store_entity_page *page, struct errbuf *err);

enum err store_cert_insert(struct store *s, const struct store_cert *c, struct errbuf *err);
enum err store_cert_update(struct store *s, const struct store_cert *c, struct errbuf *err);
enum err store_cert_get(struct store *s, const char *id, struct store_cert *out,
                        struct errbuf *err);
/* All certificates of an entity, oldest first; caller frees *out with mem_free. At most
 * STORE_CERTS_MAX are returned. */
#define STORE_CERTS_MAX 256
enum err store_cert_list(struct store *s, const char *entity_id, struct store_cert **out,
                         size_t *count, struct errbuf *err);

enum err store_review_insert(struct store *s, const struct store_review *r, struct errbuf *err);
/* The newest STORE_REVIEWS_MAX reviews, oldest first; caller frees *out with mem_free. */
#define STORE_REVIEWS_MAX 100
enum err store_review_list(struct store *s, const char *entity_id, struct store_review **out,
                           size_t *count, struct errbuf *err);

enum err store_api_key_insert(struct store *s, const struct store_api_key *k, struct errbuf *err);
enum err store_api_key_revoke(struct store *s, const struct store_api_key *k, struct errbuf *err);
enum err store_api_key_get(struct store *s, const char *id, struct store_api_key *out,
                           struct errbuf *err);
enum err store_api_key_find_hash(struct store *s, const char *secret_hash,
                                 struct store_api_key *out, struct errbuf *err);

/* ---- products, revisions, rights, assessments, listing policy ----------------------------- */

#define STORE_CATEGORY_MAX 32
#define STORE_SIGNATURE_MAX 89    /* base64 of a 64-byte Ed25519 signature */
#define STORE_RIGHTS_DOC_MAX 4096 /* a certificate document: ids, hashes, a holder's name */

/* A product; the summary columns copy its newest revision's, for lists and filters. */
struct store_product {
    char id[ID_MAX];
    char provider_id[ID_MAX];
    char kind[STORE_KIND_MAX];
    int64_t latest_revision; /* number of the newest revision, 1.. */
    char latest_revision_id[ID_MAX];
    char title[STORE_NAME_MAX];
    char category[STORE_CATEGORY_MAX];
    char classification[STORE_KIND_MAX]; /* effective, after inheritance */
    char sensitivity[STORE_KIND_MAX];    /* effective */
    int64_t created_ms;
    int64_t updated_ms;
    int64_t log_index; /* the latest event about this product */
};

/* One immutable revision. The text members are owned (NULL when absent, and in lists). */
struct store_revision {
    char id[ID_MAX];
    char product_id[ID_MAX];
    int64_t number;
    char provider_id[ID_MAX];
    char kind[STORE_KIND_MAX];
    char title[STORE_NAME_MAX];
    char category[STORE_CATEGORY_MAX];
    char classification[STORE_KIND_MAX]; /* effective */
    char sensitivity[STORE_KIND_MAX];    /* effective */
    int64_t supervised;                  /* 1: important data, flagged for supervision */
    char content_hash[STORE_HASH_HEX_MAX];
    char metadata_hash[STORE_HASH_HEX_MAX]; /* SHA-256 of the canonical metadata */
    char *metadata;                         /* canonical JSON as declared (sample by hash) */
    char sample_format[8];                  /* "csv", "jsonl" or "" */
    char *sample;                           /* the sample text, or NULL */
    char *quality;                          /* the automatic quality report (JSON), or NULL */
    char actor[ID_MAX];
    int64_t created_ms;
    int64_t log_index;
};

/* Frees the owned text members and sets them NULL. Accepts NULL. */
void store_revision_release(struct store_revision *r);

struct store_product_filter {
    const char *provider_id;
    const char *kind;
    const char *category;
    const char *classification;
    const char *sensitivity;
    const char *cursor;
    size_t limit; /* 1..STORE_PAGE_MAX */
};

struct store_product_page {
    struct store_product *items; /* owned; release with store_product_page_release */
    size_t count;
    char next_cursor[STORE_CURSOR_MAX];
};

void store_product_page_release(struct store_product_page *page);

enum err store_product_insert(struct store *s, const struct store_product *p, struct errbuf *err);
/* Writes the summary columns, latest_revision(_id), updated_ms and log_index. */
enum err store_product_update(struct store *s, const struct store_product *p, struct errbuf *err);
enum err store_product_get(struct store *s, const char *id, struct store_product *out,
                           struct errbuf *err);
enum err store_product_list(struct store *s, const struct store_product_filter *f,
                            struct store_product_page *page, struct errbuf *err);
/* 1 in *has when entity_id was asked to assess the product, holds a right on it, or was
 * licensed or pledged one. */
enum err store_product_access(struct store *s, const char *product_id, const char *entity_id,
                              int *has, struct errbuf *err);

enum err store_revision_insert(struct store *s, const struct store_revision *r, struct errbuf *err);
/* By id, or by (product_id, number) with store_revision_get_number. Release *out. */
enum err store_revision_get(struct store *s, const char *id, struct store_revision *out,
                            struct errbuf *err);
enum err store_revision_get_number(struct store *s, const char *product_id, int64_t number,
                                   struct store_revision *out, struct errbuf *err);
/* The newest STORE_REVISIONS_MAX revisions of a product, oldest first, without their text
 * members; caller frees *out with mem_free. */
#define STORE_REVISIONS_MAX 100
enum err store_revision_list(struct store *s, const char *product_id, struct store_revision **out,
                             size_t *count, struct errbuf *err);

struct store_rights {
    char id[ID_MAX];
    char product_id[ID_MAX];
    char revision_id[ID_MAX];
    char content_hash[STORE_HASH_HEX_MAX];
    char right[STORE_KIND_MAX];
    char holder_id[ID_MAX];
    char status[STORE_KIND_MAX]; /* "active", "pledged", "revoked" */
    char pledgee_id[ID_MAX];     /* "" unless pledged */
    int64_t version;             /* of the signed document */
    char document[STORE_RIGHTS_DOC_MAX];
    char signature[STORE_SIGNATURE_MAX];
    int64_t issued_ms;
    int64_t updated_ms;
    int64_t issue_log_index;
    int64_t log_index; /* the latest event */
};

/* One step in a certificate's history. */
struct store_rights_event {
    int64_t log_index;
    char rights_id[ID_MAX];
    char action[STORE_KIND_MAX]; /* issued, licensed, transferred, pledged, released, revoked */
    char actor[ID_MAX];
    char holder_id[ID_MAX];    /* the holder after the step */
    char counterparty[ID_MAX]; /* licensee, new holder, creditor; "" when none */
    char terms[STORE_REASON_MAX];
    int64_t version;
    int64_t at_ms;
};

struct store_rights_filter {
    const char *revision_id;
    const char *product_id;
    const char *holder_id;
    const char *right;
    const char *status;
    /* Visibility: when non-NULL, only certificates this entity holds, is pledged, or that
     * are on products it provides. */
    const char *visible_to;
    const char *cursor;
    size_t limit;
};

struct store_rights_page {
    struct store_rights *items; /* owned; release with store_rights_page_release */
    size_t count;
    char next_cursor[STORE_CURSOR_MAX];
};

void store_rights_page_release(struct store_rights_page *page);

enum err store_rights_insert(struct store *s, const struct store_rights *r, struct errbuf *err);
/* Writes holder, status, pledgee, version, document, signature, updated_ms, log_index. */
enum err store_rights_update(struct store *s, const struct store_rights *r, struct errbuf *err);
enum err store_rights_get(struct store *s, const char *id, struct store_rights *out,
                          struct errbuf *err);
enum err store_rights_list(struct store *s, const struct store_rights_filter *f,
                           struct store_rights_page *page, struct errbuf *err);
/* Number of certificates for (revision, right) whose status is not "revoked". */
enum err store_rights_count_live(struct store *s, const char *revision_id, const char *right,
                                 int64_t *count, struct errbuf *err);
/* 1 in *has when entity_id holds, or was licensed, a live certificate of `right` on the
 * revision. */
enum err store_rights_entitled(struct store *s, const char *revision_id, const char *right,
                               const char *entity_id, int *has, struct errbuf *err);

enum err store_rights_event_insert(struct store *s, const struct store_rights_event *e,
                                   struct errbuf *err);
/* The newest STORE_RIGHTS_EVENTS_MAX steps, oldest first; caller frees *out with mem_free. */
#define STORE_RIGHTS_EVENTS_MAX 100
enum err store_rights_event_list(struct store *s, const char *rights_id,
                                 struct store_rights_event **out, size_t *count,
                                 struct errbuf *err);

struct store_policy {
    int64_t version;
    char *rules; /* owned canonical JSON */
    char actor[ID_MAX];
    int64_t created_ms;
    int64_t log_index; /* -1 for the built-in default */
};

void store_policy_release(struct store_policy *p);
enum err store_policy_insert(struct store *s, const struct store_policy *p, struct errbuf *err);
/* version 0: the newest. ERR_NOT_FOUND when there is none (or not that version). */
enum err store_policy_get(struct store *s, int64_t version, struct store_policy *out,
                          struct errbuf *err);

#define STORE_REPORT_MAX (256 * 1024) /* a signed report: findings are text, documents hashed */

struct store_assessment {
    char id[ID_MAX];
    char product_id[ID_MAX];
    char revision_id[ID_MAX];
    char content_hash[STORE_HASH_HEX_MAX];
    char kind[STORE_KIND_MAX];
    char firm_id[ID_MAX];
    char provider_id[ID_MAX];
    char status[STORE_KIND_MAX];  /* "requested", "submitted" */
    char verdict[STORE_KIND_MAX]; /* "" until submitted; "pass", "fail", "conditions" */
    char *report;                 /* owned exact signed text, NULL until submitted */
    char signature[STORE_SIGNATURE_MAX];
    char document_sha256[STORE_HASH_HEX_MAX];
    int64_t document_size;
    int64_t requested_ms;
    int64_t submitted_ms;     /* 0 until submitted */
    int64_t log_index;        /* the request */
    int64_t submit_log_index; /* -1 until submitted */
};

void store_assessment_release(struct store_assessment *a);

struct store_assessment_filter {
    const char *revision_id;
    const char *product_id;
    const char *firm_id;
    const char *kind;
    const char *status;
    const char *visible_to; /* when non-NULL: only where it is the provider or the firm */
    const char *cursor;
    size_t limit;
};

struct store_assessment_page {
    struct store_assessment *items; /* owned, without report text; release with the next */
    size_t count;
    char next_cursor[STORE_CURSOR_MAX];
};

void store_assessment_page_release(struct store_assessment_page *page);

enum err store_assessment_insert(struct store *s, const struct store_assessment *a,
                                 struct errbuf *err);
/* Writes status, verdict, report, signature, document, submitted_ms, submit_log_index. */
enum err store_assessment_update(struct store *s, const struct store_assessment *a,
                                 struct errbuf *err);
enum err store_assessment_get(struct store *s, const char *id, struct store_assessment *out,
                              struct errbuf *err);
enum err store_assessment_list(struct store *s, const struct store_assessment_filter *f,
                               struct store_assessment_page *page, struct errbuf *err);

/* ---- events ----------------------------------------------------------------------------- */

/*
 * Appends an event inside the current transaction (there must be one) and returns its
 * sequence number, which is its transparency-log index. The leaf bytes are the canonical
 * JSON {"actor","body","seq","subject","time","type","v":1} (keys sorted, compact, UTF-8);
 * see docs/log-format.md. `body` is borrowed. ERR_LIMIT if the leaf exceeds
 * STORE_LEAF_MAX (the tile entry bundle stores lengths in 16 bits).
 */
#define STORE_LEAF_MAX 65535
#define STORE_EVENT_TYPE_MAX 48
enum err store_event_append(struct store *s, const char *type, const char *actor,
                            const char *subject, int64_t time_ms, json_t *body, int64_t *seq,
                            struct errbuf *err);
/* The same with the body given as its canonical JSON text (an object, compact, keys sorted:
 * what json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) writes), for writers that produce it
 * directly (the ledger). The leaf is byte for byte the one store_event_append makes. */
enum err store_event_append_text(struct store *s, const char *type, const char *actor,
                                 const char *subject, int64_t time_ms, const char *body,
                                 size_t body_len, int64_t *seq, struct errbuf *err);

struct store_event {
    int64_t seq;
    char type[STORE_EVENT_TYPE_MAX];
    char actor[ID_MAX];
    char subject[ID_MAX];
    int64_t time_ms;
    char *leaf; /* owned, NUL-terminated canonical bytes */
    size_t leaf_len;
};

void store_event_release(struct store_event *ev);
/* Number of events, i.e. the next sequence number. */
enum err store_event_count(struct store *s, int64_t *count, struct errbuf *err);
/* Reads events [from, from + max) in order into out (caller releases each with
 * store_event_release and frees the array with mem_free). */
enum err store_event_range(struct store *s, int64_t from, size_t max, struct store_event **out,
                           size_t *count, struct errbuf *err);

/* ---- transparency log state ---------------------------------------------------------------- */

/*
 * The Merkle tree's stored hashes (tlog's dense index of complete subtrees) and the signed
 * checkpoints. The store keeps bytes; the tree arithmetic is tlog's.
 */
#define STORE_TLOG_HASH_LEN 32

/* Reads count hashes by stored index. ERR_CORRUPT if one is missing or malformed. */
enum err store_tlog_hashes_read(struct store *s, const uint64_t *ids, size_t count,
                                uint8_t (*out)[STORE_TLOG_HASH_LEN], struct errbuf *err);
/* Writes one hash; ERR_CONFLICT if that index is already stored. */
enum err store_tlog_hash_write(struct store *s, uint64_t id,
                               const uint8_t hash[STORE_TLOG_HASH_LEN], struct errbuf *err);

struct store_checkpoint {
    int64_t tree_size;
    uint8_t root_hash[STORE_TLOG_HASH_LEN];
    char *note; /* owned: the signed note */
    int64_t created_ms;
};

void store_checkpoint_release(struct store_checkpoint *c);
enum err store_checkpoint_put(struct store *s, const struct store_checkpoint *c,
                              struct errbuf *err);
/* The newest checkpoint (largest tree), or ERR_NOT_FOUND on an empty log. */
enum err store_checkpoint_latest(struct store *s, struct store_checkpoint *out, struct errbuf *err);
/* The checkpoint issued for exactly tree_size, or ERR_NOT_FOUND. */
enum err store_checkpoint_get(struct store *s, int64_t tree_size, struct store_checkpoint *out,
                              struct errbuf *err);

/* ---- idempotency -------------------------------------------------------------------------- */

/* A stored response to a mutation that carried an Idempotency-Key. */
struct store_idem {
    char request_hash[STORE_HASH_HEX_MAX];
    int64_t status;
    char *body; /* owned */
    int64_t created_ms;
};

/* ERR_NOT_FOUND when (principal, key) has no stored response. Caller frees out->body. */
enum err store_idem_get(struct store *s, const char *principal, const char *key,
                        struct store_idem *out, struct errbuf *err);
enum err store_idem_put(struct store *s, const char *principal, const char *key,
                        const struct store_idem *idem, struct errbuf *err);

/* ---- limits: idempotency retention and rate-limit counters across nodes (limits.c) ------- */

/* Deletes the stored response of (principal, key), if any: an expired key is free again.
 * Backend errors only. */
enum err store_idem_delete(struct store *s, const char *principal, const char *key,
                           struct errbuf *err);
/* Deletes at most max (1..STORE_PURGE_MAX) stored responses created before before_ms, oldest
 * first; *deleted receives how many. Backend errors only. */
#define STORE_PURGE_MAX 10000
enum err store_idem_purge(struct store *s, int64_t before_ms, size_t max, int64_t *deleted,
                          struct errbuf *err);

/* 1 when other processes may share the database (PostgreSQL), so that a node must exchange
 * its rate-limit counters with them; 0 for SQLite, which one process holds. Cannot fail. */
int store_shared(const struct store *s);
/* store_shared of the store that uri would open, before opening it. */
int store_uri_shared(const char *uri);

/*
 * One node's admitted requests in one exchange round, as stored in rate_usage: `counts` is
 * lines "<subject> <count>\n" (subjects hold no blank). A round too large for one row is
 * split into parts 0, 1, ...; (node, round, part) is unique. Text is borrowed.
 */
struct store_rate_usage {
    const char *node;
    int64_t round;
    int64_t part;
    int64_t at_ms; /* the writing node's wall clock */
    const char *counts;
    size_t counts_len;
};

/* Writes one row. It runs outside any transaction on purpose: the counters need no order
 * between nodes, and taking the writer lock ten times a second per node would queue them
 * behind every write (docs/decisions/0006-rate-limits.md). ERR_CONFLICT on a repeated
 * (node, round, part), backend errors otherwise. */
enum err store_rate_publish(struct store *s, const struct store_rate_usage *u, struct errbuf *err);
/* Called for each row read; text is borrowed until it returns; an error stops the read. */
typedef enum err store_rate_usage_cb(void *ctx, const struct store_rate_usage *u,
                                     struct errbuf *err);
/* Reads at most max (1..STORE_PURGE_MAX) rows of nodes other than `node` written after
 * since_ms, ordered by node, round and part. Backend errors, or the callback's. */
enum err store_rate_read(struct store *s, const char *node, int64_t since_ms, size_t max,
                         store_rate_usage_cb *cb, void *ctx, struct errbuf *err);
/* Deletes at most max (1..STORE_PURGE_MAX) rows written before before_ms; *deleted receives
 * how many. Backend errors only. */
enum err store_rate_purge(struct store *s, int64_t before_ms, size_t max, int64_t *deleted,
                          struct errbuf *err);

/* ---- clearing: the ledger --------------------------------------------------------------- */

/*
 * The rows of the clearing ledger (clearing.h decides what they may hold): accounts with four
 * balance counters, immutable transfers in ledger order (`seq`), the open pending transfers
 * that can time out, and the operator's fee schedules. Text sizes include the NUL.
 *
 * An account's history is a chain: each transfer row holds, per side, the seq of the previous
 * transfer of that account (-1 for the first), and the account row the seq of its newest.
 * Every STORE_LEDGER_MARK_EVERY-th transfer of an account is also a mark (account, time, seq),
 * so a reader finds any point of a history in one indexed read and at most that many steps.
 * Writing a transfer thus appends in seq order and touches no per-account index, which keeps
 * a ledger write near the store's bare insert rate (docs/decisions/0004-ledger.md).
 */
#define STORE_CURRENCY_MAX 4       /* ISO 4217 alphabetic code */
#define STORE_LEDGER_CODE_MAX 33   /* a transfer's purpose, e.g. "settlement.fee" */
#define STORE_LEDGER_REF_MAX 129   /* free text: a bank reference, a contract id */
#define STORE_LEDGER_KEY_MAX 65    /* a caller's idempotency key */
#define STORE_LEDGER_HASH_MAX 33   /* hex of a 16-byte request hash */
#define STORE_LEDGER_IDS_MAX 32    /* ids per multi-get statement: the backends' parameter cap */
#define STORE_LEDGER_PAGE_MAX 1000 /* rows per ranged read */
#define STORE_LEDGER_OWNER_ACCOUNTS_MAX 64 /* accounts of one owner: 2 per currency in use */
#define STORE_FEE_SCHEDULES_MAX 1000       /* versions listed at most */
#define STORE_LEDGER_MARK_EVERY 32         /* a seek walks at most this many transfers */

struct store_ledger_account {
    char id[ID_MAX];
    char owner[ID_MAX]; /* an entity id, a product id, or "exchange" for system accounts */
    char kind[STORE_KIND_MAX];
    char currency[STORE_CURRENCY_MAX];
    int64_t flags;
    int64_t debits_posted;
    int64_t credits_posted;
    int64_t debits_pending;
    int64_t credits_pending;
    int64_t last_seq; /* its newest transfer, -1 before the first */
    int64_t entries;  /* how many transfers it is in */
    int64_t created_ms;
    int64_t log_index; /* the event that opened it */
};

struct store_ledger_transfer {
    int64_t seq; /* ledger order, unique; clearing derives it from log_index (clearing.h) */
    char id[ID_MAX];
    char kind[STORE_KIND_MAX];  /* "transfer", "pending", "post", "void" */
    char state[STORE_KIND_MAX]; /* "posted", "voided"; a pending is "pending" until resolved */
    char debit_account[ID_MAX];
    char credit_account[ID_MAX];
    int64_t amount;
    char currency[STORE_CURRENCY_MAX];
    char code[STORE_LEDGER_CODE_MAX];
    char reference[STORE_LEDGER_REF_MAX];
    char pending_id[ID_MAX]; /* post and void: the pending transfer they resolve, else "" */
    int64_t timeout_ms;      /* pending: when it expires (0: never), else 0 */
    char caller[ID_MAX];
    char idempotency_key[STORE_LEDGER_KEY_MAX]; /* "" when the caller gave none */
    char request_hash[STORE_LEDGER_HASH_MAX];
    /* Both accounts' net balances (credits - debits) just after this transfer applied. */
    int64_t debit_posted_after;
    int64_t debit_pending_after;
    int64_t credit_posted_after;
    int64_t credit_pending_after;
    /* Each account's previous transfer (its history chain), -1 for its first. */
    int64_t debit_prev_seq;
    int64_t credit_prev_seq;
    int64_t created_ms;
    int64_t log_index; /* the event that records it */
};

struct store_fee_schedule {
    char id[ID_MAX];
    char name[STORE_LEDGER_CODE_MAX];
    int64_t version; /* 1, 2, ... per name */
    char kind[STORE_KIND_MAX];
    char currency[STORE_CURRENCY_MAX]; /* "" when it applies to any currency */
    int64_t rate_bp;
    int64_t minimum;
    int64_t cap; /* 0: none */
    int64_t fixed_amount;
    char period[STORE_KIND_MAX];
    char actor[ID_MAX];
    int64_t created_ms;
    int64_t log_index;
};

/* Each of these returns ERR_CORRUPT for a stored row of the wrong shape. Multi-gets fill
 * out[i] and found[i] for ids[i]; count <= STORE_LEDGER_IDS_MAX unless said otherwise. Lists
 * are caller-freed with mem_free. */
enum err store_ledger_account_insert(struct store *s, const struct store_ledger_account *a,
                                     struct errbuf *err);
/* Writes the four balance counters, last_seq and entries of count distinct accounts (all
 * present: the caller read them in this transaction). SQLite runs a prepared one-row UPDATE
 * each; PostgreSQL one statement for all (array parameters, see clearing.c). ERR_NOT_FOUND
 * if one is absent. */
#define STORE_LEDGER_WRITE_MAX 256 /* rows per call of the batch reads and writes */
enum err store_ledger_accounts_update(struct store *s, const struct store_ledger_account *const *a,
                                      size_t count, struct errbuf *err);
/* count <= STORE_LEDGER_WRITE_MAX: one round trip on PostgreSQL, a prepared one-row read per
 * id on SQLite. */
enum err store_ledger_accounts_get(struct store *s, const char *const *ids, size_t count,
                                   struct store_ledger_account *out, int *found,
                                   struct errbuf *err);
/* The accounts of one owner ordered by currency and kind (at most
 * STORE_LEDGER_OWNER_ACCOUNTS_MAX). */
enum err store_ledger_account_list(struct store *s, const char *owner,
                                   struct store_ledger_account **out, size_t *count,
                                   struct errbuf *err);
/* Every account in id order after `after_id` ("" for the start), at most max. */
enum err store_ledger_account_scan(struct store *s, const char *after_id, size_t max,
                                   struct store_ledger_account **out, size_t *count,
                                   struct errbuf *err);

/* Inserts count (1..STORE_LEDGER_WRITE_MAX) transfers. SQLite runs a prepared insert per row
 * (a local call); PostgreSQL one prepared INSERT ... SELECT FROM unnest of an array per column,
 * one round trip instead of count. ERR_CONFLICT if one exists. */
enum err store_ledger_transfers_insert(struct store *s, const struct store_ledger_transfer *t,
                                       size_t count, struct errbuf *err);
enum err store_ledger_transfers_get(struct store *s, const char *const *ids, size_t count,
                                    struct store_ledger_transfer *out, int *found,
                                    struct errbuf *err);
/* Sets the state of a pending transfer. ERR_NOT_FOUND unless id is a transfer in state
 * "pending". */
enum err store_ledger_transfer_resolve(struct store *s, const char *id, const char *state,
                                       struct errbuf *err);
/* Transfers in seq order after after_seq, at most max. */
enum err store_ledger_transfer_scan(struct store *s, int64_t after_seq, size_t max,
                                    struct store_ledger_transfer **out, size_t *count,
                                    struct errbuf *err);
/* The time of the newest transfer (greatest seq), 0 when there is none: the ledger clock. */
enum err store_ledger_last_ms(struct store *s, int64_t *ms, struct errbuf *err);
/* Transfers by seq (count <= STORE_LEDGER_IDS_MAX), as the multi-gets above. */
enum err store_ledger_transfers_by_seq(struct store *s, const int64_t *seqs, size_t count,
                                       struct store_ledger_transfer *out, int *found,
                                       struct errbuf *err);

/* History marks (see above). */
enum err store_ledger_mark_insert(struct store *s, const char *account_id, int64_t created_ms,
                                  int64_t seq, struct errbuf *err);
struct store_ledger_mark {
    char account_id[ID_MAX];
    int64_t created_ms;
    int64_t seq;
};
/* Inserts count (0..STORE_LEDGER_WRITE_MAX) marks: one statement on PostgreSQL. */
enum err store_ledger_marks_insert(struct store *s, const struct store_ledger_mark *m, size_t count,
                                   struct errbuf *err);
/* The first mark of the account at or after (at_ms, at_seq) in ledger order: *seq, or -1
 * when there is none. */
enum err store_ledger_mark_seek(struct store *s, const char *account_id, int64_t at_ms,
                                int64_t at_seq, int64_t *seq, struct errbuf *err);
/* Marks in key order after (after_account, after_ms, after_seq), at most max; each row is
 * written to accounts[i], ms[i], seqs[i]. */
enum err store_ledger_mark_scan(struct store *s, const char *after_account, int64_t after_ms,
                                int64_t after_seq, size_t max, char (*accounts)[ID_MAX],
                                int64_t *ms, int64_t *seqs, size_t *count, struct errbuf *err);

/* Open pending transfers with a timeout, keyed by (timeout_ms, transfer_id). */
enum err store_ledger_timeout_insert(struct store *s, int64_t timeout_ms, const char *transfer_id,
                                     struct errbuf *err);
/* ERR_NOT_FOUND when the pair is absent. */
enum err store_ledger_timeout_delete(struct store *s, int64_t timeout_ms, const char *transfer_id,
                                     struct errbuf *err);
/* Up to max open timeouts with timeout_ms <= now_ms, in key order strictly after (after_ms,
 * after_id) (pass INT64_MIN and "" to start); ids and timeouts_ms hold max each. */
enum err store_ledger_timeouts_due(struct store *s, int64_t now_ms, int64_t after_ms,
                                   const char *after_id, size_t max, char (*ids)[ID_MAX],
                                   int64_t *timeouts_ms, size_t *count, struct errbuf *err);

enum err store_fee_schedule_insert(struct store *s, const struct store_fee_schedule *f,
                                   struct errbuf *err);
enum err store_fee_schedule_get(struct store *s, const char *id, struct store_fee_schedule *out,
                                struct errbuf *err);
/* The highest version stored under name, 0 when none. */
enum err store_fee_schedule_latest_version(struct store *s, const char *name, int64_t *version,
                                           struct errbuf *err);
/* Versions (all names when name is NULL), newest first, at most STORE_FEE_SCHEDULES_MAX. */
enum err store_fee_schedule_list(struct store *s, const char *name, struct store_fee_schedule **out,
                                 size_t *count, struct errbuf *err);

/* ---- catalogue: pricing inputs, listings and their search, demands, the inbox -------------- */

/*
 * The rows of the demand side (core's catalogue rules decide what they hold). A listing keeps
 * its price model and licence terms as canonical JSON written by core, plus the columns the
 * catalogue filters on. Each listing also has an immutable search document in listing_docs
 * (its title, a body of description, category labels, use cases and provider name, and the
 * backend's own index text), keyed by `docid`: the log index of the event that created the
 * listing, so unique and stable. The backend indexes it with its full-text engine
 * (store_ops.search: SQLite FTS5, PostgreSQL pg_trgm; docs/decisions/0005-search.md).
 */
#define STORE_DEMAND_TEXT_MAX 2001 /* 500 UTF-8 characters */
#define STORE_NOTE_BODY_MAX 2048   /* a notification's JSON: ids, a title, a score */
#define STORE_BASIS_MAX 96

struct store_pricing_inputs {
    char product_id[ID_MAX];
    int64_t version; /* 1, 2, ... per product */
    char currency[STORE_CURRENCY_MAX];
    int64_t has_cost; /* 1 when the cost inputs are declared */
    int64_t collection;
    int64_t processing;
    int64_t storage;
    int64_t labour;
    int64_t margin_bp;
    int64_t has_income; /* 1 when the income inputs are declared */
    int64_t benefit_per_period;
    char period[STORE_KIND_MAX]; /* "month", "year" */
    int64_t periods;
    int64_t discount_rate_bp;
    char actor[ID_MAX];
    int64_t updated_ms;
    int64_t log_index;
};

/* Inserts or replaces the inputs of in->product_id. */
enum err store_pricing_inputs_put(struct store *s, const struct store_pricing_inputs *in,
                                  struct errbuf *err);
/* ERR_NOT_FOUND when the product has none. */
enum err store_pricing_inputs_get(struct store *s, const char *product_id,
                                  struct store_pricing_inputs *out, struct errbuf *err);

struct store_listing {
    char id[ID_MAX];
    char product_id[ID_MAX];
    char revision_id[ID_MAX];
    char provider_id[ID_MAX];
    char status[STORE_KIND_MAX]; /* "active", "delisted" */
    char board[STORE_KIND_MAX];  /* "main", "international" */
    char title[STORE_NAME_MAX];
    char category[STORE_CATEGORY_MAX];
    char kind[STORE_KIND_MAX];
    char classification[STORE_KIND_MAX];
    char price_model[STORE_KIND_MAX];
    char currency[STORE_CURRENCY_MAX];
    int64_t price;         /* the headline price for the whole term; -1 when there is none */
    char *price_json;      /* owned canonical JSON of the price model */
    char *terms_json;      /* owned canonical JSON of the licence terms */
    int64_t delivery;      /* bit set of delivery modes (core names the bits) */
    int64_t private_offer; /* 1: visible only to the named buyers (listing_buyers) */
    int64_t ref_low;       /* the reference corridor in `currency`; -1 when none */
    int64_t ref_high;
    char ref_basis[STORE_BASIS_MAX];
    char price_flag[STORE_KIND_MAX]; /* "", "above_reference", "below_reference" */
    int64_t docid;
    int64_t created_ms;
    int64_t updated_ms;
    int64_t delisted_ms; /* 0 while active */
    char delist_reason[STORE_REASON_MAX];
    int64_t log_index; /* the latest event about this listing */
};

/* Frees the owned members and sets them NULL. Accepts NULL. */
void store_listing_release(struct store_listing *l);

/* The search document of a listing: borrowed text, indexed by the backend. */
struct store_listing_doc {
    const char *title;
    const char *body;
};

/* Inserts a listing (its JSON members are borrowed), the named buyers of a private offer
 * (count <= STORE_LISTING_BUYERS_MAX) and its search document. ERR_CONFLICT on a duplicate. */
#define STORE_LISTING_BUYERS_MAX 20
enum err store_listing_insert(struct store *s, const struct store_listing *l,
                              const char (*buyers)[ID_MAX], size_t buyer_count,
                              const struct store_listing_doc *doc, struct errbuf *err);
/* Writes status, updated_ms, delisted_ms, delist_reason and log_index. ERR_NOT_FOUND. */
enum err store_listing_update_status(struct store *s, const struct store_listing *l,
                                     struct errbuf *err);
/* Release *out with store_listing_release (also after an error). ERR_NOT_FOUND. */
enum err store_listing_get(struct store *s, const char *id, struct store_listing *out,
                           struct errbuf *err);
/* The buyers named by a private offer, at most STORE_LISTING_BUYERS_MAX. */
enum err store_listing_buyers(struct store *s, const char *listing_id, char (*out)[ID_MAX],
                              size_t *count, struct errbuf *err);
/* 1 in *named when entity_id is a named buyer of the listing. */
enum err store_listing_buyer_named(struct store *s, const char *listing_id, const char *entity_id,
                                   int *named, struct errbuf *err);
/* Active public listings of a product on a board. */
enum err store_listing_count_active(struct store *s, const char *product_id, const char *board,
                                    int64_t *count, struct errbuf *err);
/* Headline prices of the newest active public listings in (category, kind, currency) of
 * products other than exclude_product_id, at most max, into values. */
enum err store_listing_comparables(struct store *s, const char *category, const char *kind,
                                   const char *currency, const char *exclude_product_id,
                                   int64_t *values, size_t max, size_t *count, struct errbuf *err);

/* A catalogue query. Text members are borrowed; NULL means "any". */
struct store_listing_query {
    const char *text; /* the words searched for, or NULL to browse */
    int any_term;     /* 0: every term must match (search); 1: any term (matchmaking) */
    const char *category;
    const char *kind;
    const char *classification;
    const char *board;
    const char *provider_id;
    const char *currency;
    const char *status;    /* NULL: any status */
    int64_t price_min;     /* -1: none; else listings with a headline price >= it */
    int64_t price_max;     /* -1: none */
    int64_t delivery_mask; /* 0: any; else listings offering one of these modes */
    /* Visibility of private offers: all when viewer_sees_all, else the viewer's own and
     * those naming the viewer (viewer_id "" for an anonymous caller). */
    const char *viewer_id;
    int viewer_sees_all;
    int64_t only_docid; /* -1, or the one listing document to score (matchmaking) */
    const char *cursor;
    size_t limit;          /* 1..STORE_PAGE_MAX */
    size_t candidates_max; /* 1..STORE_SEARCH_CANDIDATES_MAX */
};

/*
 * The guard: a query ranks at most this many matching listings (the newest), so that a term
 * found in most of the catalogue still answers in bounded time; results say when it cut.
 */
#define STORE_SEARCH_CANDIDATES_MAX 2000
#define STORE_SEARCH_TERMS_MAX 8      /* words of a search query */
#define STORE_SEARCH_ANY_TERMS_MAX 24 /* fragments of a matchmaking query */
#define STORE_SEARCH_TEXT_MAX 512     /* bytes of the query text */

enum store_facet {
    STORE_FACET_CATEGORY,
    STORE_FACET_KIND,
    STORE_FACET_DELIVERY, /* values are bit indexes ("0", "1", ...) of the delivery set */
    STORE_FACET_CLASSIFICATION,
    STORE_FACET_BOARD,
    STORE_FACET__COUNT
};

#define STORE_FACET_VALUES_MAX 32

struct store_facet_count {
    char value[STORE_CATEGORY_MAX];
    int64_t count;
};

struct store_listing_results {
    struct store_listing *items; /* owned; release with store_listing_results_release */
    int64_t *scores;             /* owned; relevance per item, higher is better */
    size_t count;
    char next_cursor[STORE_CURSOR_MAX];
    size_t total;  /* candidates counted (at most candidates_max) */
    int truncated; /* 1 when more listings matched than were ranked */
    struct store_facet_count facets[STORE_FACET__COUNT][STORE_FACET_VALUES_MAX];
    size_t facet_count[STORE_FACET__COUNT];
};

void store_listing_results_release(struct store_listing_results *r);

/*
 * Runs a catalogue query: the backend's full-text engine finds the newest candidates_max
 * listings matching the text and filters (every listing matching the filters when text is
 * NULL), ranks them by relevance (newest first among equals), counts the facets over them and
 * returns the page after the cursor. Errors: ERR_INVALID (field "cursor" or "q") for a
 * malformed cursor or a query with no searchable term, ERR_LIMIT (field "q") for too many
 * terms, the backend's errors.
 */
enum err store_listing_search(struct store *s, const struct store_listing_query *q,
                              struct store_listing_results *out, struct errbuf *err);

struct store_demand {
    char id[ID_MAX];
    char buyer_id[ID_MAX];
    char status[STORE_KIND_MAX]; /* "open", "closed" */
    char text[STORE_DEMAND_TEXT_MAX];
    char category[STORE_CATEGORY_MAX];
    char kind[STORE_KIND_MAX]; /* "" when any kind will do */
    char purpose[STORE_DEMAND_TEXT_MAX];
    int64_t budget;
    char currency[STORE_CURRENCY_MAX];
    int64_t deadline_ms;
    int64_t created_ms;
    int64_t updated_ms;
    int64_t closed_ms; /* 0 while open */
    char close_reason[STORE_DEMAND_TEXT_MAX];
    int64_t log_index;
};

struct store_demand_filter {
    const char *buyer_id;
    const char *category;
    const char *kind;
    const char *status;
    const char *cursor;
    size_t limit;
};

struct store_demand_page {
    struct store_demand *items; /* owned; free with store_demand_page_release */
    size_t count;
    char next_cursor[STORE_CURSOR_MAX];
};

void store_demand_page_release(struct store_demand_page *page);
enum err store_demand_insert(struct store *s, const struct store_demand *d, struct errbuf *err);
/* Writes status, updated_ms, closed_ms, close_reason, log_index. ERR_NOT_FOUND. */
enum err store_demand_update(struct store *s, const struct store_demand *d, struct errbuf *err);
enum err store_demand_get(struct store *s, const char *id, struct store_demand *out,
                          struct errbuf *err);
/* Newest first. ERR_INVALID (field "cursor") for a malformed cursor. */
enum err store_demand_list(struct store *s, const struct store_demand_filter *f,
                           struct store_demand_page *page, struct errbuf *err);
/* Open demands in a category, with kind "" or equal to kind, whose deadline is after now_ms,
 * newest first, at most max; caller frees *out with mem_free. */
enum err store_demand_open_for(struct store *s, const char *category, const char *kind,
                               int64_t now_ms, size_t max, struct store_demand **out, size_t *count,
                               struct errbuf *err);

/* A match the exchange made between a demand and a listing. */
struct store_demand_match {
    char demand_id[ID_MAX];
    char listing_id[ID_MAX];
    int64_t score;
    int64_t created_ms;
    int64_t log_index;
};

/* Records a match once: *inserted is 0 when the pair was matched before (nothing written). */
enum err store_demand_match_insert(struct store *s, const struct store_demand_match *m,
                                   int *inserted, struct errbuf *err);
/* 1 in *matched when the pair was matched before. */
enum err store_demand_matched(struct store *s, const char *demand_id, const char *listing_id,
                              int *matched, struct errbuf *err);
/* The matches of a demand, best first, at most max; caller frees *out with mem_free. */
enum err store_demand_match_list(struct store *s, const char *demand_id, size_t max,
                                 struct store_demand_match **out, size_t *count,
                                 struct errbuf *err);

struct store_notification {
    char id[ID_MAX];
    char recipient_id[ID_MAX];
    char type[STORE_EVENT_TYPE_MAX];
    char subject_id[ID_MAX];
    char body[STORE_NOTE_BODY_MAX]; /* JSON object */
    int64_t created_ms;
    int64_t read_ms;   /* 0 while unread */
    int64_t log_index; /* the event that caused it */
};

struct store_notification_filter {
    const char *recipient_id; /* required */
    int unread_only;
    int read_only;
    const char *cursor;
    size_t limit;
};

struct store_notification_page {
    struct store_notification *items; /* owned; free with store_notification_page_release */
    size_t count;
    char next_cursor[STORE_CURSOR_MAX];
    int64_t unread; /* the recipient's unread notifications in all */
};

void store_notification_page_release(struct store_notification_page *page);
enum err store_notification_insert(struct store *s, const struct store_notification *n,
                                   struct errbuf *err);
enum err store_notification_get(struct store *s, const char *id, struct store_notification *out,
                                struct errbuf *err);
/* Sets read_ms of an unread notification; *changed is 0 when it was read already. */
enum err store_notification_mark_read(struct store *s, const char *id, int64_t read_ms,
                                      int *changed, struct errbuf *err);
/* Newest first. ERR_INVALID (field "cursor") for a malformed cursor. */
enum err store_notification_list(struct store *s, const struct store_notification_filter *f,
                                 struct store_notification_page *page, struct errbuf *err);
/* ---- contracts: documents, signatures, escrow periods, deliveries, disputes ------------- */

/*
 * The rows of the contract lifecycle (core/contract.c decides what they hold; migration 6).
 * A contract keeps its canonical document (the exact bytes the parties sign) and the columns
 * its state machine needs; each party's signature is a row of contract_signatures; each
 * payment period (one for a single payment) a row of contract_periods naming its escrow hold;
 * deliveries and disputes have their own rows.
 */
#define STORE_CONTRACT_DOC_MAX 16384 /* names, a purpose, 50 territories, 4 brokers: ~9 KiB */
#define STORE_CONTRACT_NOTE_MAX 256  /* why a contract waits: a shortfall, a failed hold */
#define STORE_EVIDENCE_MAX 4096      /* 32 log indexes with their leaf hashes, as JSON */

struct store_contract {
    char id[ID_MAX];
    char listing_id[ID_MAX];
    char product_id[ID_MAX];
    char revision_id[ID_MAX];
    char provider_id[ID_MAX];
    char buyer_id[ID_MAX];
    char origin[STORE_KIND_MAX]; /* "order", "negotiation", "auction" */
    char origin_id[ID_MAX];
    char state[STORE_KIND_MAX];
    char plan[STORE_KIND_MAX]; /* "single", "periodic" */
    int64_t price;             /* per period (the whole price for a single payment) */
    char currency[STORE_CURRENCY_MAX];
    int64_t periods;     /* 1 for a single payment */
    int64_t period_days; /* 0 for a single payment; 30 a month, 365 a year */
    char fee_schedule_id[ID_MAX];
    char delivery[STORE_KIND_MAX];
    int64_t acceptance_ms; /* the window a delivery may be rejected in */
    char document[STORE_CONTRACT_DOC_MAX];
    char document_sha256[STORE_HASH_HEX_MAX];
    char countersignature[STORE_SIGNATURE_MAX]; /* "" until countersigned */
    int64_t signing_deadline_ms;
    int64_t activated_ms;       /* 0 until active */
    int64_t period;             /* the current period, 0-based */
    int64_t period_end_ms;      /* periodic: when the current period settles; else 0 */
    int64_t accept_deadline_ms; /* delivered: when it is accepted by itself; else 0 */
    char note[STORE_CONTRACT_NOTE_MAX];
    int64_t created_ms;
    int64_t updated_ms;
    int64_t log_index; /* the latest event about this contract */
};

struct store_contract_signature {
    char contract_id[ID_MAX];
    char role[STORE_KIND_MAX]; /* "buyer", "provider" */
    char party_id[ID_MAX];
    char public_key[STORE_PUBKEY_MAX]; /* the key it verified with */
    char signature[STORE_SIGNATURE_MAX];
    int64_t signed_ms;
    int64_t log_index;
};

struct store_contract_period {
    char contract_id[ID_MAX];
    int64_t period;
    char hold_id[ID_MAX]; /* the pending transfer holding the period's price */
    int64_t amount;
    char state[STORE_KIND_MAX]; /* "held", "settled", "refunded", "split" */
    char post_id[ID_MAX];       /* the settlement's post transfer, "" when none */
    int64_t starts_ms;
    int64_t ends_ms; /* periodic: when it settles; single: 0 */
    int64_t log_index;
};

struct store_delivery {
    char id[ID_MAX];
    char contract_id[ID_MAX];
    int64_t period;
    char sha256[STORE_HASH_HEX_MAX];
    char actor[ID_MAX];
    char status[STORE_KIND_MAX]; /* "pending", "accepted", "rejected" */
    int64_t delivered_ms;
    int64_t decided_ms; /* 0 while pending */
    int64_t log_index;
};

struct store_dispute {
    char id[ID_MAX];
    char contract_id[ID_MAX];
    int64_t period; /* whose escrow it holds */
    char opened_by[ID_MAX];
    char status[STORE_KIND_MAX]; /* "open", "assigned", "decided" */
    char statement[STORE_REASON_MAX];
    char evidence[STORE_EVIDENCE_MAX]; /* JSON array of {"index", "leaf_hash"} */
    char arbitrator_id[ID_MAX];
    char decision[STORE_KIND_MAX]; /* "release", "refund", "split"; "" until decided */
    int64_t provider_amount;
    char reason[STORE_REASON_MAX];
    int64_t opened_ms;
    int64_t assigned_ms;
    int64_t decided_ms;
    int64_t log_index; /* the latest event about it */
};

struct store_contract_filter {
    const char *party_id; /* NULL: every contract (operator); else where it is a party */
    const char *state;
    const char *cursor;
    size_t limit; /* 1..STORE_PAGE_MAX */
};

struct store_contract_page {
    struct store_contract *items; /* owned; free with store_contract_page_release */
    size_t count;
    char next_cursor[STORE_CURSOR_MAX];
};

void store_contract_page_release(struct store_contract_page *page);

/* ERR_CONFLICT on a duplicate id. */
enum err store_contract_insert(struct store *s, const struct store_contract *k, struct errbuf *err);
/* Writes state, countersignature, activated_ms, period, period_end_ms, accept_deadline_ms,
 * note, updated_ms and log_index. ERR_NOT_FOUND. */
enum err store_contract_update(struct store *s, const struct store_contract *k, struct errbuf *err);
enum err store_contract_get(struct store *s, const char *id, struct store_contract *out,
                            struct errbuf *err);
/* Newest first. ERR_INVALID (field "cursor") for a malformed cursor. */
enum err store_contract_list(struct store *s, const struct store_contract_filter *f,
                             struct store_contract_page *page, struct errbuf *err);
/* Contracts in state whose column `due` ("signing_deadline_ms", "accept_deadline_ms" or
 * "period_end_ms") is > 0 and <= now_ms, oldest due first, at most max ids. */
enum err store_contract_due(struct store *s, const char *state, const char *due, int64_t now_ms,
                            size_t max, char (*ids)[ID_MAX], size_t *count, struct errbuf *err);

/* ERR_CONFLICT when the role has signed already. */
enum err store_contract_signature_insert(struct store *s, const struct store_contract_signature *g,
                                         struct errbuf *err);
/* The signatures of a contract (at most 2), buyer first. */
enum err store_contract_signature_list(struct store *s, const char *contract_id,
                                       struct store_contract_signature out[2], size_t *count,
                                       struct errbuf *err);

enum err store_contract_period_insert(struct store *s, const struct store_contract_period *p,
                                      struct errbuf *err);
/* Writes state, post_id and log_index of (contract_id, period). ERR_NOT_FOUND. */
enum err store_contract_period_update(struct store *s, const struct store_contract_period *p,
                                      struct errbuf *err);
enum err store_contract_period_get(struct store *s, const char *contract_id, int64_t period,
                                   struct store_contract_period *out, struct errbuf *err);
/* Periods of a contract in order, at most max. */
enum err store_contract_period_list(struct store *s, const char *contract_id, size_t max,
                                    struct store_contract_period *out, size_t *count,
                                    struct errbuf *err);

enum err store_delivery_insert(struct store *s, const struct store_delivery *d, struct errbuf *err);
/* Writes status, decided_ms and log_index. ERR_NOT_FOUND. */
enum err store_delivery_update(struct store *s, const struct store_delivery *d, struct errbuf *err);
/* The newest delivery of (contract, period). ERR_NOT_FOUND when none. */
enum err store_delivery_latest(struct store *s, const char *contract_id, int64_t period,
                               struct store_delivery *out, struct errbuf *err);

enum err store_dispute_insert(struct store *s, const struct store_dispute *d, struct errbuf *err);
/* Writes status, arbitrator_id, decision, provider_amount, reason, assigned_ms, decided_ms
 * and log_index. ERR_NOT_FOUND. */
enum err store_dispute_update(struct store *s, const struct store_dispute *d, struct errbuf *err);
enum err store_dispute_get(struct store *s, const char *id, struct store_dispute *out,
                           struct errbuf *err);
/* The dispute of a contract that is not decided. ERR_NOT_FOUND when none. */
enum err store_dispute_open_for(struct store *s, const char *contract_id, struct store_dispute *out,
                                struct errbuf *err);

/* ---- cleared trades for pricing (src/store/prices.c) ---- */

/*
 * A cleared trade is a contract in state "settled": every period accepted and paid to the
 * provider in full. Its value is what the buyer paid for the whole licence, price * periods,
 * the quantity of a listing's headline price; its time is when it settled (updated_ms: settled
 * is final). Category and kind are the listing's the contract was made on.
 */
struct store_trade_price {
    int64_t settled_ms;
    int64_t value;
};

/* Values of the newest cleared trades in (category, kind, currency) of products other than
 * exclude_product_id, at most max, into values; *count receives how many. */
enum err store_trade_comparables(struct store *s, const char *category, const char *kind,
                                 const char *currency, const char *exclude_product_id,
                                 int64_t *values, size_t max, size_t *count, struct errbuf *err);
/* The cleared trades in (category, currency[, kind]) settled in [from_ms, to_ms), oldest first,
 * at most max into out (kind NULL: any). *count receives how many were read; it is max when
 * there may be more. */
enum err store_trade_prices(struct store *s, const char *category, const char *kind,
                            const char *currency, int64_t from_ms, int64_t to_ms,
                            struct store_trade_price *out, size_t max, size_t *count,
                            struct errbuf *err);

/* ---- trading: orders, negotiations, auctions, bids ---------------------------------------- */

/*
 * The rows of the trading half (core/trade.c decides what they hold; src/store/trading.c).
 * An order is every agreed trade, whatever led to it: a purchase at the listed price, an
 * accepted negotiation or a closed auction (source names which). An exclusive order holds its
 * listing's exclusivity through a unique key, so that two trades can never both hold it, until
 * store_order_exclusive_release gives it back (its contract was cancelled or expired).
 * Negotiations keep their latest offer on the row and every offer in negotiation_offers;
 * auctions keep their sealed bids in bids. Lists are newest first, paged with a "<ms>.<id>"
 * cursor of the last row.
 */
#define STORE_TIER_MAX 33         /* a subscription tier's name (PRICING_TIER_NAME_MAX) */
#define STORE_TERMS_JSON_MAX 4096 /* canonical licence terms: a purpose and a few codes */
#define STORE_SALT_HEX_MAX 33     /* hex of a 16-byte salt */

struct store_order {
    char id[ID_MAX];
    char listing_id[ID_MAX];
    char product_id[ID_MAX];
    char revision_id[ID_MAX];
    char provider_id[ID_MAX];
    char buyer_id[ID_MAX];
    char source[STORE_KIND_MAX]; /* "order", "negotiation", "auction" */
    char source_id[ID_MAX];      /* the negotiation or auction; "" for an order */
    char price_model[STORE_KIND_MAX];
    char tier[STORE_TIER_MAX]; /* "" unless a subscription */
    int64_t periods;           /* subscription or per-call periods bought; 0 otherwise */
    char currency[STORE_CURRENCY_MAX];
    int64_t unit_price;               /* per period or per call; the price itself otherwise */
    int64_t price;                    /* the whole price agreed */
    char terms[STORE_TERMS_JSON_MAX]; /* canonical JSON of the licence terms agreed */
    int64_t exclusive;                /* 1: it holds the listing's exclusivity (while live) */
    char contract_id[ID_MAX];         /* the proposed contract; "" when none was made */
    char status[STORE_KIND_MAX];      /* "placed" */
    int64_t created_ms;
    int64_t log_index;
};

struct store_order_filter {
    const char *party_id;   /* orders where it is the buyer or the provider; NULL: all */
    const char *listing_id; /* NULL: any */
    const char *cursor;
    size_t limit; /* 1..STORE_PAGE_MAX */
};

struct store_order_page {
    struct store_order *items; /* owned; release with store_order_page_release */
    size_t count;
    char next_cursor[STORE_CURSOR_MAX];
};

void store_order_page_release(struct store_order_page *page);
/* ERR_CONFLICT when o is exclusive and another order holds the listing's exclusivity. */
enum err store_order_insert(struct store *s, const struct store_order *o, struct errbuf *err);
enum err store_order_get(struct store *s, const char *id, struct store_order *out,
                         struct errbuf *err);
enum err store_order_list(struct store *s, const struct store_order_filter *f,
                          struct store_order_page *page, struct errbuf *err);
/* The order holding a listing's exclusivity: *found 0 when none does. */
enum err store_order_exclusive_holder(struct store *s, const char *listing_id,
                                      struct store_order *out, int *found, struct errbuf *err);
/* Gives an order's exclusivity back (exclusive becomes 0). ERR_NOT_FOUND. */
enum err store_order_exclusive_release(struct store *s, const char *id, struct errbuf *err);
/* The number of orders (for checks that a refusal wrote nothing). */
enum err store_order_count(struct store *s, int64_t *count, struct errbuf *err);

struct store_negotiation {
    char id[ID_MAX];
    char listing_id[ID_MAX];
    char product_id[ID_MAX];
    char revision_id[ID_MAX];
    char provider_id[ID_MAX];
    char buyer_id[ID_MAX];
    char status[STORE_KIND_MAX]; /* "open", "accepted", "rejected", "expired" */
    char currency[STORE_CURRENCY_MAX];
    int64_t price;                    /* the latest offer's */
    char terms[STORE_TERMS_JSON_MAX]; /* the latest offer's licence terms (canonical JSON) */
    char last_by[ID_MAX];             /* who made the latest offer */
    int64_t offers;                   /* how many offers were made */
    int64_t expires_ms;
    int64_t created_ms;
    int64_t updated_ms;
    int64_t closed_ms;      /* 0 while open */
    char closed_by[ID_MAX]; /* "" while open; "trading" when it expired */
    char order_id[ID_MAX];  /* the order an acceptance made, else "" */
    int64_t log_index;      /* the latest event */
};

struct store_negotiation_offer {
    char negotiation_id[ID_MAX];
    int64_t seq; /* 1, 2, ... */
    char by_id[ID_MAX];
    int64_t price;
    char terms[STORE_TERMS_JSON_MAX];
    int64_t created_ms;
    int64_t log_index;
};

struct store_negotiation_filter {
    const char *party_id; /* the buyer or the provider; NULL: all */
    const char *status;   /* NULL: any */
    const char *cursor;
    size_t limit;
};

struct store_negotiation_page {
    struct store_negotiation *items; /* owned; release with store_negotiation_page_release */
    size_t count;
    char next_cursor[STORE_CURSOR_MAX];
};

void store_negotiation_page_release(struct store_negotiation_page *page);
enum err store_negotiation_insert(struct store *s, const struct store_negotiation *n,
                                  struct errbuf *err);
/* Writes status, price, terms, last_by, offers, updated_ms, closed_ms, closed_by, order_id
 * and log_index. ERR_NOT_FOUND. */
enum err store_negotiation_update(struct store *s, const struct store_negotiation *n,
                                  struct errbuf *err);
enum err store_negotiation_get(struct store *s, const char *id, struct store_negotiation *out,
                               struct errbuf *err);
enum err store_negotiation_list(struct store *s, const struct store_negotiation_filter *f,
                                struct store_negotiation_page *page, struct errbuf *err);
enum err store_negotiation_offer_insert(struct store *s, const struct store_negotiation_offer *o,
                                        struct errbuf *err);
/* The offers of a negotiation in order, at most max; caller frees *out with mem_free. */
enum err store_negotiation_offer_list(struct store *s, const char *negotiation_id, size_t max,
                                      struct store_negotiation_offer **out, size_t *count,
                                      struct errbuf *err);
/* Open negotiations whose deadline is at or before now_ms, earliest first, at most max ids. */
enum err store_negotiation_due(struct store *s, int64_t now_ms, size_t max, char (*ids)[ID_MAX],
                               size_t *count, struct errbuf *err);

struct store_auction {
    char id[ID_MAX];
    char listing_id[ID_MAX]; /* one auction per listing */
    char product_id[ID_MAX];
    char revision_id[ID_MAX];
    char provider_id[ID_MAX];
    char status[STORE_KIND_MAX]; /* "open", "closed" */
    char currency[STORE_CURRENCY_MAX];
    int64_t reserve;
    int64_t closes_ms;
    char opened_by[ID_MAX];
    int64_t created_ms;
    int64_t closed_ms;      /* 0 while open */
    char closed_by[ID_MAX]; /* "" while open */
    char winner_id[ID_MAX]; /* "" without a winner */
    char winning_bid_id[ID_MAX];
    int64_t clearing_price; /* what the winner pays; 0 without a winner */
    int64_t bid_count;
    char order_id[ID_MAX];
    int64_t log_index; /* the latest event */
};

struct store_bid {
    char id[ID_MAX];
    char auction_id[ID_MAX];
    char bidder_id[ID_MAX];
    int64_t amount;
    char salt[STORE_SALT_HEX_MAX];
    char commitment[STORE_HASH_HEX_MAX];
    int64_t created_ms;
    int64_t log_index; /* its event: orders bids in time */
};

/* ERR_CONFLICT when the listing has an auction already. */
enum err store_auction_insert(struct store *s, const struct store_auction *a, struct errbuf *err);
/* Writes status, closed_ms, closed_by, winner_id, winning_bid_id, clearing_price, bid_count,
 * order_id, log_index. ERR_NOT_FOUND. */
enum err store_auction_update(struct store *s, const struct store_auction *a, struct errbuf *err);
enum err store_auction_get(struct store *s, const char *id, struct store_auction *out,
                           struct errbuf *err);
enum err store_auction_get_by_listing(struct store *s, const char *listing_id,
                                      struct store_auction *out, struct errbuf *err);
/* Open auctions whose deadline is at or before now_ms, earliest first, at most max ids. */
enum err store_auction_due(struct store *s, int64_t now_ms, size_t max, char (*ids)[ID_MAX],
                           size_t *count, struct errbuf *err);
enum err store_bid_insert(struct store *s, const struct store_bid *b, struct errbuf *err);
/* The bids of an auction (only bidder_id's when not NULL) in time order, at most max;
 * caller frees *out with mem_free. */
enum err store_bid_list(struct store *s, const char *auction_id, const char *bidder_id, size_t max,
                        struct store_bid **out, size_t *count, struct errbuf *err);

/* ---- delivery: uploads, objects, download tokens (src/store/delivery.c) ----------------- */

/*
 * The rows of custody (src/delivery/): an upload in checksummed chunks, the encrypted object
 * it becomes, and the short-lived download tokens of buyers. Bytes never live here: chunks
 * and objects are files under the data directory; a row holds their sizes, SHA-256 digests
 * and the object's key wrapped by the master key (base64).
 */
#define STORE_FILE_NAME_MAX 256   /* a file name as the provider gave it (UTF-8) */
#define STORE_WRAPPED_KEY_MAX 128 /* base64 of a wrapped 32-byte key: 96 characters */
#define STORE_FORMAT_MAX 16       /* "csv", "tsv", "jsonl", "opaque" */

struct store_upload {
    char id[ID_MAX];
    char product_id[ID_MAX];
    char revision_id[ID_MAX];
    char provider_id[ID_MAX];
    char name[STORE_FILE_NAME_MAX];
    int64_t size;
    char sha256[STORE_HASH_HEX_MAX];
    int64_t chunk_size;
    int64_t chunk_count;
    char status[STORE_KIND_MAX];             /* "open", "completed", "abandoned" */
    char wrapped_key[STORE_WRAPPED_KEY_MAX]; /* the key of its staged chunks */
    char object_id[ID_MAX];                  /* "" until completed */
    int64_t created_ms;
    int64_t updated_ms;
    int64_t log_index; /* the latest event about this upload */
};

struct store_upload_chunk {
    int64_t n;
    int64_t size;
    char sha256[STORE_HASH_HEX_MAX];
    int64_t received_ms;
};

struct store_object {
    char id[ID_MAX];
    char product_id[ID_MAX];
    char revision_id[ID_MAX];
    char provider_id[ID_MAX];
    char upload_id[ID_MAX];
    char name[STORE_FILE_NAME_MAX];
    int64_t size;
    char sha256[STORE_HASH_HEX_MAX];
    char format[STORE_FORMAT_MAX];
    int64_t rows; /* data rows of a tabular file (header excluded), -1 for opaque */
    char blob[STORE_HASH_HEX_MAX]; /* the file's name under objects/ (a keyed hash) */
    char wrapped_key[STORE_WRAPPED_KEY_MAX];
    int64_t created_ms;
    int64_t log_index;
};

struct store_download_token {
    char id[ID_MAX];
    char secret_hash[STORE_HASH_HEX_MAX];
    char contract_id[ID_MAX];
    char revision_id[ID_MAX];
    char object_id[ID_MAX];
    char buyer_id[ID_MAX];
    int64_t created_ms;
    int64_t expires_ms;
    int64_t revoked_ms; /* 0 while valid */
    int64_t log_index;  /* the latest event about this token */
};

/* ERR_CONFLICT on a duplicate id. */
enum err store_upload_insert(struct store *s, const struct store_upload *u, struct errbuf *err);
/* Writes status, object_id, updated_ms and log_index. ERR_NOT_FOUND. */
enum err store_upload_update(struct store *s, const struct store_upload *u, struct errbuf *err);
enum err store_upload_get(struct store *s, const char *id, struct store_upload *out,
                          struct errbuf *err);
/* The open uploads of provider_id whose whole-file SHA-256 is sha256 (product_id NULL: any
 * product), newest first, at most max; caller frees *out with mem_free. */
enum err store_upload_find_open(struct store *s, const char *provider_id, const char *sha256,
                                const char *product_id, size_t max, struct store_upload **out,
                                size_t *count, struct errbuf *err);
/* ERR_CONFLICT when chunk n of the upload is there already. */
enum err store_upload_chunk_insert(struct store *s, const char *upload_id,
                                   const struct store_upload_chunk *c, struct errbuf *err);
/* ERR_NOT_FOUND when chunk n was not received. */
enum err store_upload_chunk_get(struct store *s, const char *upload_id, int64_t n,
                                struct store_upload_chunk *out, struct errbuf *err);
/* The received chunks in order of n, at most max; caller frees *out with mem_free. */
enum err store_upload_chunk_list(struct store *s, const char *upload_id, size_t max,
                                 struct store_upload_chunk **out, size_t *count,
                                 struct errbuf *err);

enum err store_object_insert(struct store *s, const struct store_object *o, struct errbuf *err);
enum err store_object_get(struct store *s, const char *id, struct store_object *out,
                          struct errbuf *err);
/* The newest object of a revision. ERR_NOT_FOUND when none. */
enum err store_object_newest(struct store *s, const char *revision_id, struct store_object *out,
                             struct errbuf *err);
/* Any object stored in the file named blob (the oldest). ERR_NOT_FOUND when none. */
enum err store_object_find_blob(struct store *s, const char *blob, struct store_object *out,
                                struct errbuf *err);

enum err store_download_token_insert(struct store *s, const struct store_download_token *t,
                                     struct errbuf *err);
/* Writes revoked_ms and log_index. ERR_NOT_FOUND. */
enum err store_download_token_update(struct store *s, const struct store_download_token *t,
                                     struct errbuf *err);
enum err store_download_token_get(struct store *s, const char *id, struct store_download_token *out,
                                  struct errbuf *err);
/* By the keyed hash of its secret. ERR_NOT_FOUND. */
enum err store_download_token_find_hash(struct store *s, const char *secret_hash,
                                        struct store_download_token *out, struct errbuf *err);

/* ---- fingerprinted delivery (src/store/fingerprints.c, migration 11) -------------------- */

/*
 * The tolerance a provider declared for a tabular object (compact JSON, as
 * delivery_fp_decl_parse reads it) with the scheme's parameters, fixed once a copy is made;
 * and each buyer's copy of an object (one per contract and object).
 */
#define STORE_FP_DECL_MAX (64 * 1024) /* a declaration's compact JSON, with NUL */
#define STORE_FP_CUTOFF_MAX 32        /* "%.17g" of the Tardos cutoff */

struct store_fingerprint {
    char object_id[ID_MAX];
    char declaration[STORE_FP_DECL_MAX];
    int64_t code_length;
    int64_t mark_per_mille;
    char cutoff[STORE_FP_CUTOFF_MAX];
    int64_t admissible_cells;
    char actor[ID_MAX];
    int64_t declared_ms;
    int64_t log_index;
};

struct store_buyer_copy {
    char id[ID_MAX]; /* "cpy_": the copy's key is wrapped for this id */
    char contract_id[ID_MAX];
    char object_id[ID_MAX]; /* the source object */
    char buyer_id[ID_MAX];
    int64_t fingerprinted; /* 1: its own file with the contract's marks; 0: the object's bytes */
    int64_t size;
    char sha256[STORE_HASH_HEX_MAX];
    char format[STORE_FORMAT_MAX];
    char blob[STORE_HASH_HEX_MAX];
    char wrapped_key[STORE_WRAPPED_KEY_MAX];
    int64_t created_ms;
    int64_t log_index;
};

/* Inserts or replaces the object's declaration. */
enum err store_fingerprint_put(struct store *s, const struct store_fingerprint *f,
                               struct errbuf *err);
/* ERR_NOT_FOUND when the object has none. */
enum err store_fingerprint_get(struct store *s, const char *object_id,
                               struct store_fingerprint *out, struct errbuf *err);
/* Every declaration, oldest first, at most max; caller frees *out with mem_free. */
enum err store_fingerprint_list(struct store *s, size_t max, struct store_fingerprint **out,
                                size_t *count, struct errbuf *err);
/* ERR_CONFLICT when the contract has a copy of the object already. */
enum err store_buyer_copy_insert(struct store *s, const struct store_buyer_copy *c,
                                 struct errbuf *err);
/* ERR_NOT_FOUND when none. */
enum err store_buyer_copy_get(struct store *s, const char *contract_id, const char *object_id,
                              struct store_buyer_copy *out, struct errbuf *err);
/* Copies whose bytes hash to sha256 / copies of an object, oldest first, at most max; caller
 * frees *out with mem_free. */
enum err store_buyer_copy_find_sha(struct store *s, const char *sha256, size_t max,
                                   struct store_buyer_copy **out, size_t *count,
                                   struct errbuf *err);
enum err store_buyer_copy_list_object(struct store *s, const char *object_id, size_t max,
                                      struct store_buyer_copy **out, size_t *count,
                                      struct errbuf *err);
/* Ids of the objects whose plaintext hashes to sha256, at most max; caller frees *out. */
enum err store_object_ids_by_sha(struct store *s, const char *sha256, size_t max,
                                 char (**out)[ID_MAX], size_t *count, struct errbuf *err);

/* ---- metadata ---------------------------------------------------------------------------- */

/* Small named values (log state, instance settings). ERR_NOT_FOUND when absent; *out is
 * caller-freed with mem_free. */
enum err store_meta_get(struct store *s, const char *name, char **out, struct errbuf *err);
enum err store_meta_put(struct store *s, const char *name, const char *value, struct errbuf *err);

#endif
