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

/* The schema version this binary migrates to, and the version of an open store. */
int store_schema_version_latest(void);
enum err store_schema_version(struct store *s, int *version, struct errbuf *err);

/* Nested transactions (see above). Commit of the outermost level makes everything durable
 * before it returns. Rollback of a level undoes only that level; it cannot fail. */
enum err store_tx_begin(struct store *s, struct errbuf *err);
enum err store_tx_commit(struct store *s, struct errbuf *err);
void store_tx_rollback(struct store *s);
int store_tx_depth(const struct store *s);

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

/* ---- metadata ---------------------------------------------------------------------------- */

/* Small named values (log state, instance settings). ERR_NOT_FOUND when absent; *out is
 * caller-freed with mem_free. */
enum err store_meta_get(struct store *s, const char *name, char **out, struct errbuf *err);
enum err store_meta_put(struct store *s, const char *name, const char *value, struct errbuf *err);

#endif
