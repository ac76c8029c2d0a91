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

#endif
