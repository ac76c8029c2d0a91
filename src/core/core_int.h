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

#endif
