/*
 * fingerprint_int.h: what the fingerprint files of the delivery module (tabular.c,
 * tolerance.c, fingerprint.c, trace.c) share and nothing outside the module may include: the
 * buffered writer, field encoders, the compiled tolerance declaration, the per-value mark
 * rules and the scheme's derived state. (Named for its section so that the custody files
 * keep their own internal header.)
 */
#ifndef BOURSE_DELIVERY_FINGERPRINT_INT_H
#define BOURSE_DELIVERY_FINGERPRINT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "delivery/delivery.h"

/* ---- buffered output ---- */

/* Bytes gathered before write_cb is called: large enough that the callback's cost vanishes. */
#define DELIVERY__OUT_BYTES (256 * 1024)

struct delivery__out {
    delivery_write_fn *write_cb;
    void *ctx;
    char *buf;
    size_t used;
};

/* ERR_NOMEM. Release with delivery__out_release (which does not flush). */
enum err delivery__out_init(struct delivery__out *o, delivery_write_fn *write_cb, void *ctx,
                            struct errbuf *err);
void delivery__out_release(struct delivery__out *o);
/* Appends bytes; large runs go straight to write_cb. Whatever write_cb returns. */
enum err delivery__out_put(struct delivery__out *o, const char *data, size_t len,
                           struct errbuf *err);
enum err delivery__out_flush(struct delivery__out *o, struct errbuf *err);

/* ---- encoders ---- */

/* Appends value as one CSV/TSV field, quoted when it holds sep, '"', CR or LF, or when
 * force_quote is set. ERR_NOMEM, ERR_LIMIT (out's maximum). */
enum err delivery__csv_field_encode(struct buf *out, char sep, const char *value, size_t len,
                                    int force_quote, struct errbuf *err);
/* Appends value as a JSON string (quotes, escapes for '"', '\\' and controls). */
enum err delivery__json_string_encode(struct buf *out, const char *value, size_t len,
                                      struct errbuf *err);
/* 1 if the bytes are a JSON number ("-0.5", "12e3"; no leading zeros), else 0. */
int delivery__json_number(const char *s, size_t len);

/* ---- the tolerance declaration ---- */

enum delivery__mark_kind { DELIVERY__MARK_DIGIT, DELIVERY__MARK_SPELLING };

struct delivery__variant {
    char *text; /* owned, NUL-terminated */
    size_t len;
    uint8_t group;
    uint8_t member;
};

struct delivery__marked {
    char *name; /* owned */
    size_t name_len;
    enum delivery__mark_kind kind;
    int decimals; /* digit: declared places, or -1 for "as written" */
    struct delivery__variant *variants;
    size_t variant_count;
    uint8_t group_size[DELIVERY_FP_GROUPS_MAX];
    /* group_first[g] + m indexes the member m of group g in variants */
    uint16_t group_first[DELIVERY_FP_GROUPS_MAX];
    uint8_t first_bytes[32]; /* bitmap of variants' first bytes: a cheap prefilter */
};

struct delivery_fp_decl {
    char *key[DELIVERY_FP_KEY_MAX]; /* owned */
    size_t key_lens[DELIVERY_FP_KEY_MAX];
    size_t key_count;
    struct delivery__marked marked[DELIVERY_FP_MARKED_MAX];
    size_t marked_count;
};

/* ---- marks on one value ---- */

/* A digit value's longest text: sign, 40 digits, a point, one carry digit. */
#define DELIVERY__DIGITS_MAX 40
#define DELIVERY__VALUE_BYTES_MAX 48

/* 1 if a field of this kind can carry a mark of m's kind: strings and plain fields, and JSON
 * numbers for digit columns; never null, absent or nested values. Cannot fail. */
int delivery__field_markable(const struct delivery__marked *m, const struct delivery_field *f);
/*
 * Reads the bit a value of a marked column carries: 0 or 1, or -1 when the value is not
 * admissible (not a decimal, too many places; no variant). For spelling columns *at and *width
 * locate the variant found (used by delivery__mark_set). Cannot fail.
 */
int delivery__mark_get(const struct delivery__marked *m, const char *value, size_t len, size_t *at,
                       size_t *width, int *variant);
/*
 * Writes into out the value rewritten to carry bit (it must be admissible): digit values move
 * one unit, up or down as `up` says unless that would cross zero or leave the declared places;
 * spelling values take the other member of the variant's group. Returns 1 when the value
 * changed (out holds the new text), 0 when it already carries the bit. ERR_NOMEM, ERR_LIMIT
 * from out.
 */
enum err delivery__mark_set(const struct delivery__marked *m, const char *value, size_t len,
                            int bit, int up, struct buf *out, int *changed, struct errbuf *err);

/* ---- the scheme ---- */

/* The columns of one file that the declaration names, resolved against its header. */
struct delivery__layout {
    int key_cols[DELIVERY_COLUMNS_MAX]; /* header indexes hashed for the row key, in order */
    size_t key_count;
    int marked_cols[DELIVERY_FP_MARKED_MAX]; /* header index of each marked column, or -1 */
};

/* A codeword bit is 1 when a uniform draw below DELIVERY__DRAWS falls under its threshold. */
#define DELIVERY__DRAWS 65536u

struct delivery_fp {
    struct delivery_fp_params params;
    const struct delivery_fp_decl *decl; /* borrowed */
    unsigned char row_key[16];           /* SipHash key over the row key's values */
    unsigned char cell_key[16];          /* SipHash key choosing cells, positions and masks */
    unsigned char code_key[32];          /* BLAKE2b key deriving each contract's stream key */
    uint32_t *thresholds;                /* P[codeword bit = 1] = thresholds[j] / 2^16 */
};

/* Resolves the declaration against a reader's header. ERR_INVALID (field "key") if a declared
 * key column is missing, or if no key is declared and no unmarked column exists. */
enum err delivery__layout_resolve(const struct delivery_fp_decl *decl,
                                  const struct delivery_reader *r, struct delivery__layout *out,
                                  struct errbuf *err);
/* The keyed hash of the current row's key values. keybuf is scratch. ERR_NOMEM, ERR_LIMIT. */
enum err delivery__row_hash(const struct delivery_fp *fp, const struct delivery__layout *layout,
                            const struct delivery_reader *r, struct buf *keybuf, uint64_t *hash,
                            struct errbuf *err);
/* The PRF output for marked column m of a row: selection, position, mask, direction. */
uint64_t delivery__cell_prf(const struct delivery_fp *fp, uint64_t row_hash, size_t m);
/* Decodes a PRF output: 1 if the cell is selected; then its position, mask bit and direction. */
int delivery__cell_pick(const struct delivery_fp *fp, uint64_t prf, uint32_t *position, int *mask,
                        int *up);
/* The contract's codeword, one 0/1 byte per position (code_length bytes). Cannot fail. */
void delivery__codeword(const struct delivery_fp *fp, const char *contract_id, uint8_t *bits);

#endif
