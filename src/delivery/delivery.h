/*
 * delivery: how a licensed product reaches its buyer (design §2 steps 9-10): the blob store
 * with encryption at rest, chunked resumable uploads, download tokens, and the per-buyer
 * fingerprints of tabular data that let `bourse trace` name the source of a leak.
 *
 * Two parts, each in its own section below:
 *   - fingerprint: tabular parsing (CSV/TSV per RFC 4180, JSON Lines), keyed marks embedded
 *     only where the provider declared tolerance, Tardos codes against collusion, and the
 *     accusation test with its false-positive bound (docs/fingerprinting.md);
 *   - custody: content-addressed encrypted objects in the data directory (independently
 *     sealed records, a key per object wrapped by the exchange's master key), uploads in
 *     checksummed chunks that resume where they stopped.
 */
#ifndef BOURSE_DELIVERY_H
#define BOURSE_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"
#include "util/util.h"

/* ---- fingerprint ------------------------------------------------------------------------ */

/*
 * Tabular data. A file is CSV or TSV as RFC 4180 defines it (a header row of column names,
 * fields separated by ',' or TAB, fields quoted with '"' with quotes doubled inside them, quoted
 * fields may hold separators and line breaks, CRLF or LF line ends, a UTF-8 byte order mark
 * skipped), or JSON Lines (one JSON object per line; the keys of the first object name the
 * columns). Every file is UTF-8 without NUL, DEL or C0 controls other than TAB, CR and LF, and
 * so is every decoded value (JSON escapes for other controls, such as \b, are refused). Blank
 * lines between records are skipped (copied verbatim when a file is rewritten), except in a
 * one-column CSV/TSV where an empty line is a record with one empty field.
 *
 * The reader works over one buffer held by the caller and hands out each field as a span of
 * that buffer (no per-field allocation), which is what lets a copy be fingerprinted at millions
 * of rows per second. Decoding (doubled quotes, JSON escapes) happens only for the few fields
 * that are read.
 */
enum delivery_format {
    DELIVERY_FORMAT_CSV,
    DELIVERY_FORMAT_TSV,
    DELIVERY_FORMAT_JSONL,
    DELIVERY__FORMAT_COUNT
};

/* Columns of one file, at most: a bound on every per-row loop and on the reader's size. */
#define DELIVERY_COLUMNS_MAX 256
/* JSON Lines: arrays and objects nested in a value, at most (values are opaque to us). */
#define DELIVERY_JSON_DEPTH_MAX 32

/* "csv", "tsv", "jsonl". Cannot fail (asserts a valid format). */
const char *delivery_format_name(enum delivery_format format);
/* Parses "csv", "tsv" or "jsonl". ERR_INVALID (field "format") otherwise. */
enum err delivery_format_parse(const char *name, enum delivery_format *out, struct errbuf *err);
/* Guesses the format of a file from its first line: JSON Lines if it opens with '{', TSV if
 * the header row has more TABs than commas outside quotes, else CSV. Cannot fail. */
enum delivery_format delivery_format_sniff(const char *data, size_t len);

enum delivery_field_kind {
    DELIVERY_FIELD_ABSENT,         /* JSON Lines: the row lacks this key; value "" */
    DELIVERY_FIELD_PLAIN,          /* CSV/TSV unquoted: the value is raw */
    DELIVERY_FIELD_QUOTED,         /* CSV/TSV quoted, no doubled quote: raw minus the quotes */
    DELIVERY_FIELD_QUOTED_ESCAPED, /* CSV/TSV quoted with doubled quotes: needs decoding */
    DELIVERY_FIELD_JSON_STRING,    /* a JSON string without escapes: raw minus the quotes */
    DELIVERY_FIELD_JSON_ESCAPED,   /* a JSON string with escapes: needs decoding */
    DELIVERY_FIELD_JSON_LITERAL,   /* a JSON number, true or false: the value is raw */
    DELIVERY_FIELD_JSON_NULL,      /* null: value "" */
    DELIVERY_FIELD_JSON_NESTED,    /* an array or object: the value is its raw JSON text */
};

/* One field of the current row: a span of the caller's buffer (quotes included). */
struct delivery_field {
    const char *raw; /* borrowed from the input; NULL when absent */
    size_t raw_len;
    enum delivery_field_kind kind;
};

/*
 * A reader over a whole file in memory. All members are read-only for the caller. Header names
 * are decoded, NUL-terminated and owned by the reader. fields[] holds the current row by header
 * column (a JSON Lines row's keys are matched to the header by name; keys the first row lacks
 * are skipped, missing keys are DELIVERY_FIELD_ABSENT).
 */
struct delivery_reader {
    enum delivery_format format;
    const char *data; /* borrowed until delivery_reader_release */
    size_t len;
    size_t pos;         /* offset of the next unread byte */
    size_t body_offset; /* offset of the first data row (after the BOM and CSV/TSV header) */
    size_t line;        /* 1-based line on which the current row starts */
    size_t next_line;   /* 1-based line at pos */
    size_t columns;
    char *names[DELIVERY_COLUMNS_MAX];
    size_t name_lens[DELIVERY_COLUMNS_MAX];
    const char *row; /* the current row's raw bytes, its line end included */
    size_t row_len;
    struct delivery_field fields[DELIVERY_COLUMNS_MAX];
    uint32_t seen[DELIVERY_COLUMNS_MAX]; /* JSON Lines: duplicate-key detection per row */
    uint32_t row_serial;
    struct buf scratch; /* JSON Lines: decoded keys that carry escapes */
};

/*
 * Validates data as UTF-8 text and reads the header (CSV/TSV: the first record, names unique;
 * JSON Lines: the keys of the first object, which stays the first row). data is borrowed until
 * delivery_reader_release. ERR_INVALID (field "data", the message names the line) for bytes
 * that are not valid text, an empty file, a malformed or repeated header, more than
 * DELIVERY_COLUMNS_MAX columns; ERR_NOMEM. On error r needs no release.
 */
enum err delivery_reader_open(struct delivery_reader *r, enum delivery_format format,
                              const char *data, size_t len, struct errbuf *err);
/* Frees the header names and scratch. Accepts a zeroed reader. */
void delivery_reader_release(struct delivery_reader *r);
/*
 * Reads the next row into r->fields (and r->row, r->line); *has_row is 0 at the end.
 * ERR_INVALID (field "data", "line N: ...") for a malformed row: an unterminated quote, a quote
 * inside an unquoted field, bytes after a closing quote, a bare CR, a field count other than
 * the header's, a line that is not one JSON object, a repeated key, nesting deeper than
 * DELIVERY_JSON_DEPTH_MAX. After an error the reader is spent (release it).
 */
enum err delivery_reader_next(struct delivery_reader *r, int *has_row, struct errbuf *err);
/* Index of the header column called name (len bytes), or -1. Cannot fail. */
int delivery_reader_column(const struct delivery_reader *r, const char *name, size_t len);
/*
 * The decoded value of a field. Zero-copy when the field needs no decoding (*value then points
 * into the input); otherwise the value is decoded into scratch (reset first) and *value points
 * there, valid until scratch next changes. ERR_NOMEM, ERR_LIMIT (scratch's maximum).
 */
enum err delivery_field_value(const struct delivery_field *f, struct buf *scratch,
                              const char **value, size_t *len, struct errbuf *err);
/* Appends the decoded value of a field to out. ERR_NOMEM, ERR_LIMIT (out's maximum). */
enum err delivery_field_value_append(const struct delivery_field *f, struct buf *out,
                                     struct errbuf *err);

/* Receives output bytes in order; an error stops the writer and is returned as is. */
typedef enum err delivery_write_fn(void *ctx, const char *data, size_t len, struct errbuf *err);

/*
 * Rewrites a file in another format (or the same), value for value: header names and rows in
 * the same column order; CSV/TSV fields are quoted only when they must be; JSON Lines values
 * are strings, except JSON literals read from JSON Lines and values that are JSON numbers
 * without leading zeros, which stay numbers; null and absent become "" in CSV/TSV (absent keys
 * stay absent in JSON Lines). Output goes to write_cb in chunks. The errors of
 * delivery_reader_open and _next; whatever write_cb returns; ERR_NOMEM. On error the output
 * written so far is incomplete.
 */
enum err delivery_tabular_convert(enum delivery_format from, const char *data, size_t len,
                                  enum delivery_format to, delivery_write_fn *write_cb, void *ctx,
                                  struct errbuf *err);

/*
 * Fingerprints (docs/fingerprinting.md). The provider declares where a copy may differ from
 * the original (struct delivery_fp_decl, parsed from JSON):
 *
 *   {"key": ["meter_id", "day"],          row identity; optional, default: every unmarked column
 *    "columns": [                         the marked columns, 1..DELIVERY_FP_MARKED_MAX
 *      {"name": "kwh", "kind": "digit", "decimals": 2},
 *      {"name": "address", "kind": "spelling",
 *       "variants": [["Street", "St."], ["Road", "Rd."]]}]}
 *
 * A "digit" column holds decimals ("-12.30", "7"; no exponent) whose last digit may move by one
 * unit: of the declared "decimals" places (values with fewer places are read as zero-padded,
 * values with more are left alone), or of the last written digit when "decimals" is absent. A
 * "spelling" column holds text in which the first whole-word occurrence of any declared variant
 * may be replaced by another member of its group (case-sensitive; list case variants as
 * members). Other values of a marked column are left alone and carry nothing.
 *
 * The exchange holds a secret per dataset. From it and the declaration, a keyed PRF over each
 * row's key picks about mark_per_mille of the admissible cells, each carrying one position of
 * the buyer's Tardos codeword (symmetric variant, biases from the arcsine distribution cut at
 * `cutoff`), masked by a keyed bit. Codewords derive from (secret, contract id), so none is
 * stored. A trace reads the suspect file, takes a majority vote per codeword position, scores
 * every candidate contract and accuses only those whose false-accusation probability (a
 * Chernoff bound from the actual biases and symbols, times the number of candidates) is at most
 * the caller's bound.
 */
#define DELIVERY_FP_SECRET_LEN 32
#define DELIVERY_FP_KEY_MAX 8        /* key columns in a declaration */
#define DELIVERY_FP_MARKED_MAX 16    /* marked columns in a declaration */
#define DELIVERY_FP_GROUPS_MAX 64    /* spelling groups of one column */
#define DELIVERY_FP_GROUP_SIZE_MAX 8 /* spellings in one group */
#define DELIVERY_FP_VARIANT_BYTES_MAX 64
#define DELIVERY_FP_DECIMALS_MAX 18
#define DELIVERY_FP_CODE_LENGTH_MIN 64
#define DELIVERY_FP_CODE_LENGTH_MAX 65536
#define DELIVERY_FP_BOUND_DEFAULT 1e-9

struct delivery_fp_decl;

/*
 * Parses and validates a tolerance declaration (the shape above; unknown members refused).
 * The caller frees *out with delivery_fp_decl_free. ERR_INVALID with the field at fault
 * ("key[1]", "columns[0].kind", "columns[2].variants[1][0]", ...): a repeated or empty name, a
 * key column that is also marked, an unknown kind, variants on a digit column or none on a
 * spelling column, a spelling repeated across groups, a limit above exceeded; ERR_NOMEM.
 */
enum err delivery_fp_decl_parse(const json_t *decl, struct delivery_fp_decl **out,
                                struct errbuf *err);
void delivery_fp_decl_free(struct delivery_fp_decl *decl);

/*
 * Counts the admissible cells of a file under a declaration (the values of marked columns that
 * could carry a mark), to choose the code length before the first copy is sold. It reads the
 * whole file, so calling it when the file is registered also guarantees that embedding will
 * never meet malformed input half-way through a download. The errors of
 * delivery_reader_open/_next; ERR_INVALID (field "key") if a key column is missing.
 */
enum err delivery_fp_count_admissible(const struct delivery_fp_decl *decl,
                                      enum delivery_format format, const char *data, size_t len,
                                      uint64_t *cells, struct errbuf *err);

/* The scheme's parameters; fixed per dataset once a copy is sold (codewords depend on them). */
struct delivery_fp_params {
    uint32_t code_length;    /* Tardos positions, DELIVERY_FP_CODE_LENGTH_MIN.._MAX */
    uint32_t mark_per_mille; /* admissible cells that carry a mark, 1..1000 */
    double cutoff;           /* biases lie in [cutoff, 1 - cutoff], 0 < cutoff < 0.5 */
};

/* Defaults for a dataset with this many admissible cells: half the cells marked, about 16 marked
 * cells per position, code length a power of two in [256, 8192], cutoff 1/300. Cannot fail. */
void delivery_fp_params_default(struct delivery_fp_params *p, uint64_t admissible_cells);
/* ERR_INVALID naming the member ("code_length", "mark_per_mille", "cutoff"). */
enum err delivery_fp_params_check(const struct delivery_fp_params *p, struct errbuf *err);

/* Derived keys, biases and the declaration of one dataset; immutable, so shareable by threads. */
struct delivery_fp;

/*
 * Derives the scheme for one dataset. secret and params are copied; decl is borrowed until
 * delivery_fp_free. Free with delivery_fp_free. ERR_INVALID (delivery_fp_params_check),
 * ERR_NOMEM.
 */
enum err delivery_fp_new(const unsigned char secret[DELIVERY_FP_SECRET_LEN],
                         const struct delivery_fp_params *params,
                         const struct delivery_fp_decl *decl, struct delivery_fp **out,
                         struct errbuf *err);
void delivery_fp_free(struct delivery_fp *fp);

struct delivery_fp_stats {
    uint64_t rows;
    uint64_t cells_admissible; /* marked-column values that can carry a mark */
    uint64_t cells_selected;   /* of those, chosen by the PRF (embed: marked; trace: read) */
    uint64_t cells_changed;    /* embed: values rewritten (about half of those selected) */
};

/*
 * Writes the copy of data (a file in format) for contract_id to write_cb: the input's bytes
 * unchanged except the selected cells, each moved within its declared tolerance so that its
 * parity (digit) or spelling (member index) carries one codeword bit. The same contract always
 * gets the same bytes. stats may be NULL. The errors of delivery_reader_open/_next (the input
 * is validated as it is read, so on error the output so far is incomplete and must be
 * discarded); ERR_INVALID (field "key") if a key column is missing; ERR_NOMEM; whatever
 * write_cb returns.
 */
enum err delivery_fp_embed(const struct delivery_fp *fp, const char *contract_id,
                           enum delivery_format format, const char *data, size_t len,
                           delivery_write_fn *write_cb, void *ctx, struct delivery_fp_stats *stats,
                           struct errbuf *err);

/* What a suspect file says: a vote count per codeword position. */
struct delivery_fp_observation;

/*
 * Reads a suspect file (any row order, column order, subset of rows; format as given, or use
 * delivery_format_sniff) and tallies the marks it carries. Free *out with
 * delivery_fp_observation_free. The errors of delivery_reader_open/_next; ERR_INVALID (field
 * "key") if a key column is missing; ERR_NOMEM.
 */
enum err delivery_fp_observe(const struct delivery_fp *fp, enum delivery_format format,
                             const char *data, size_t len, struct delivery_fp_observation **out,
                             struct errbuf *err);
void delivery_fp_observation_free(struct delivery_fp_observation *obs);
/* Rows and cells read; positions the vote decided (the rest are erased). Cannot fail. */
void delivery_fp_observation_stats(const struct delivery_fp_observation *obs,
                                   struct delivery_fp_stats *stats, uint32_t *positions_decided);

struct delivery_fp_accusation {
    size_t candidate;              /* index into the candidates array */
    double score;                  /* symmetric Tardos score */
    double false_accusation;       /* union-bounded probability an innocent scores this high */
    double log10_false_accusation; /* the same, in log10 (exact where the double underflows) */
};

struct delivery_fp_verdict {
    struct delivery_fp_accusation *accused; /* owned; sorted by score, highest first */
    size_t accused_count;
    struct delivery_fp_accusation best; /* the top candidate, accused or not (count > 0) */
    uint32_t positions_decided;
};

/*
 * Scores each of count candidate contract ids against obs and accuses those whose
 * false-accusation probability is at most bound (0 < bound < 1; DELIVERY_FP_BOUND_DEFAULT).
 * accused_count 0 means no buyer can be named. candidates are borrowed for the call. Release
 * *out with delivery_fp_verdict_release. ERR_INVALID (field "bound") for a bound outside
 * (0, 1); ERR_NOMEM.
 */
enum err delivery_fp_accuse(const struct delivery_fp *fp, const struct delivery_fp_observation *obs,
                            const char *const *candidates, size_t count, double bound,
                            struct delivery_fp_verdict *out, struct errbuf *err);
/* Frees the accusations. Accepts a zeroed verdict. */
void delivery_fp_verdict_release(struct delivery_fp_verdict *v);

/* ---- custody ---------------------------------------------------------------------------- */

/*
 * Custody (custody.c, upload.c, token.c; docs/decisions/0007-custody.md).
 *
 * Keys. The exchange's master key (32 random bytes, `<data>/master.key` or a file of the
 * operator's choosing) never encrypts data itself: libsodium's KDF derives from it a key that
 * wraps object keys, a key that names object files, and a key that hashes download tokens.
 * Every object (and every upload's staged chunks) has its own random key, stored in its row
 * wrapped with XChaCha20-Poly1305 whose associated data is the object's (upload's) id, so a
 * wrapped key moved to another row does not open.
 *
 * Object files. `<data>/objects/xx/<name>`, where name is the hex BLAKE2b-256, keyed by the
 * naming key, of the plaintext's SHA-256: identical uploads share one file (content
 * addressing) without the file names revealing plaintext hashes. Byte layout:
 *
 *   offset  size  field
 *   0       8     magic "BRSOBJ2\0" (format 2, written now) or "BRSOBJ1\0" (format 1, read)
 *   8       4     record size R, little endian (DELIVERY_RECORD_BYTES)
 *   12      4     zero
 *   16      8     plaintext size, little endian
 *   24      16    nonce prefix (random)
 *   40      ...   records: record i is the ciphertext of plaintext bytes
 *                 [i*R, min((i+1)*R, size)) followed by its 16-byte tag, with associated
 *                 data = the 40 header bytes || one byte, 1 for the last record and 0
 *                 otherwise, sealed with
 *                   format 2: AES-256-GCM under the file's record key, the keyed
 *                             BLAKE2b-256 (key: the object key) of "bourse object records v2"
 *                             || prefix, with nonce = 4 zero bytes || i (8 bytes little endian)
 *                   format 1: XChaCha20-Poly1305 (IETF) under the object key, with nonce =
 *                             prefix || i (8 bytes little endian)
 *
 * An empty object has one empty record. Records have a fixed size so Range reads seek
 * straight to the record holding an offset; each record authenticates its index, the header
 * (so the size and the format) and whether it is last, so reordering, truncation, extension
 * and tampering of any byte are all detected. This is the STREAM construction (Hoang,
 * Reyhanitabar, Rogaway, Vizár 2015); secretstream instead chains its state through every
 * record, so a read at offset x must first decrypt all of [0, x) (the decision record
 * measures it). Format 2 changed only the primitive, for download speed: AES-GCM on the
 * CPU's AES and carry-less multiply instructions opens records about 1.3 times as fast as
 * OpenSSL's ChaCha20-Poly1305 and 3 times libsodium's XChaCha20-Poly1305 (ADR 0007). The
 * record key is derived from the random prefix, as XChaCha20 derives its subkey, so even an
 * object file rewritten under the same object key never repeats a (key, nonce) pair.
 *
 * Staged chunks. `<data>/uploads/<upload id>/<n>`: a 24-byte random nonce, then the chunk
 * sealed with the upload's key, associated data the upload id || n (8 bytes little endian).
 */

#define DELIVERY_KEY_BYTES 32
#define DELIVERY_RECORD_BYTES (64 * 1024)
#define DELIVERY_TAG_BYTES 16
#define DELIVERY_HEADER_BYTES 40
#define DELIVERY_MAGIC "BRSOBJ2"    /* what object files are written as */
#define DELIVERY_MAGIC_V1 "BRSOBJ1" /* still read */
/* h2o holds a request body whole and refuses more than 8 MiB (HTTP_BODY_HARD_MAX). */
#define DELIVERY_CHUNK_BYTES_MAX (8 * 1024 * 1024)
#define DELIVERY_CHUNK_BYTES_MIN (64 * 1024) /* smaller chunks only add round trips */
#define DELIVERY_CHUNK_BYTES_DEFAULT (4 * 1024 * 1024)
/* Chunks of one upload: bounds the received list a client reads to resume. */
#define DELIVERY_CHUNKS_MAX 16384
#define DELIVERY_OBJECT_BYTES_DEFAULT ((int64_t)1 << 30) /* --max-object-size default: 1 GiB */
#define DELIVERY_OBJECT_BYTES_LIMIT ((int64_t)DELIVERY_CHUNKS_MAX * DELIVERY_CHUNK_BYTES_MAX)
#define DELIVERY_NAME_CHARS_MAX 200
#define DELIVERY_PATH_MAX 4096
#define DELIVERY_CHECK_HEX 65 /* hex of the master key's 32-byte check value, with NUL */
/* Download tokens: "bdt_" and 43 base64url characters of 32 random bytes. */
#define DELIVERY_TOKEN_PREFIX "bdt_"
#define DELIVERY_TOKEN_LEN 47
#define DELIVERY_TOKEN_MAX 64
#define DELIVERY_TOKEN_TTL_DEFAULT_MS ((int64_t)15 * 60 * 1000) /* long enough to resume */
#define DELIVERY_TOKEN_TTL_MAX_MS ((int64_t)24 * 3600 * 1000)   /* "short-lived" */
#define DELIVERY_TOKEN_TTL_MIN_MS ((int64_t)60 * 1000)
_Static_assert(DELIVERY_CHUNK_BYTES_MAX % DELIVERY_RECORD_BYTES == 0, "whole records per chunk");
_Static_assert(DELIVERY_HEADER_BYTES == 8 + 4 + 4 + 8 + 16, "the header's byte table");

/* The bytes of a master key file, and the check value recorded in the store's meta table. */
/*
 * Loads a master key file (exactly 32 bytes). With create, a missing file is made with 32
 * random bytes, mode 0600, durably. ERR_NOT_FOUND (missing, not create), ERR_CORRUPT (not 32
 * bytes), ERR_IO.
 */
enum err delivery_master_key_load(const char *path, int create, unsigned char key[32],
                                  struct errbuf *err);

/* Everything custody needs, borrowed (store, clock, rng) or owned (paths, derived keys) for
 * the lifetime of the struct. Fill it with delivery_custody_init. */
struct delivery_custody {
    struct store *store;
    const struct clock *clock;
    const struct rng *rng;
    char objects_dir[DELIVERY_PATH_MAX];
    char uploads_dir[DELIVERY_PATH_MAX];
    int64_t object_bytes_max;
    unsigned char wrap_key[DELIVERY_KEY_BYTES];
    unsigned char name_key[DELIVERY_KEY_BYTES];
    unsigned char token_key[DELIVERY_KEY_BYTES];
    char master_check[DELIVERY_CHECK_HEX];
};

/*
 * Derives the subkeys of master and sets the directories (<data_dir>/objects, /uploads,
 * created 0700 if absent). object_bytes_max is the largest upload accepted (1 ..
 * DELIVERY_OBJECT_BYTES_LIMIT). ERR_LIMIT (a path too long), ERR_INVALID (the limit), ERR_IO.
 */
enum err delivery_custody_init(struct delivery_custody *d, struct store *store,
                               const struct clock *clock, const struct rng *rng,
                               const char *data_dir, const unsigned char master[32],
                               int64_t object_bytes_max, struct errbuf *err);
/* Wipes the keys. Accepts NULL. */
void delivery_custody_release(struct delivery_custody *d);

/*
 * Records the master key's check value in the store's meta table on first use, and compares it
 * on every later start, in its own transaction: nodes sharing a database must share the key.
 * ERR_CONFLICT (field "master_key") when this key is not the exchange's; store errors.
 */
enum err delivery_custody_check_store(struct delivery_custody *d, struct errbuf *err);

/* Who asks: the http layer maps its principal here. */
enum delivery_role { DELIVERY_ROLE_ENTITY, DELIVERY_ROLE_OPERATOR };

struct delivery_actor {
    const char *id;
    enum delivery_role role;
    int active; /* a verified entity (the operator is always active) */
};

/* ---- uploads ---- */

/* What POST /v1/uploads asks for; strings borrowed. revision_id NULL: the newest revision;
 * chunk_size 0: DELIVERY_CHUNK_BYTES_DEFAULT. */
struct delivery_upload_request {
    const char *product_id;
    const char *revision_id;
    const char *name;
    int64_t size;
    const char *sha256;
    int64_t chunk_size;
};

/*
 * Starts an upload for the product's provider (verified), with event "upload.started".
 * Errors: ERR_INVALID (field named: product_id, revision_id, name, sha256, size, chunk_size),
 * ERR_LIMIT (field "size" over the limit, "chunk_size" over DELIVERY_CHUNK_BYTES_MAX or too
 * many chunks), ERR_NOT_FOUND (product or revision), ERR_FORBIDDEN (not its provider), store
 * and I/O errors.
 */
enum err delivery_upload_start(struct delivery_custody *d, const struct delivery_actor *who,
                               const struct delivery_upload_request *req, struct store_upload *out,
                               struct errbuf *err);

/*
 * Stores chunk n (len bytes of data) of an open upload after checking its size (every chunk
 * but the last is chunk_size) and its SHA-256 against sha256_hex. A chunk received before
 * with the same digest changes nothing (*again = 1). The chunk is sealed at rest before its
 * row is written. Errors: ERR_INVALID (field "n" out of range, "body" wrong size,
 * "Chunk-SHA256" malformed or not the data's digest), ERR_CONFLICT (field "n": received with
 * another digest), ERR_NOT_FOUND, ERR_FORBIDDEN, ERR_BAD_STATE (not open), I/O errors.
 */
enum err delivery_upload_chunk(struct delivery_custody *d, const struct delivery_actor *who,
                               const char *upload_id, int64_t n, const void *data, size_t len,
                               const char *sha256_hex, struct store_upload_chunk *out, int *again,
                               struct errbuf *err);

/* An upload and its received chunks (caller frees *chunks with mem_free), for its provider
 * and the operator. ERR_NOT_FOUND otherwise. */
enum err delivery_upload_get(struct delivery_custody *d, const struct delivery_actor *who,
                             const char *upload_id, struct store_upload *out,
                             struct store_upload_chunk **chunks, size_t *count, struct errbuf *err);

/* The caller's open uploads of a file with this SHA-256 (product_id NULL: any), newest first,
 * at most max; caller frees *out. ERR_INVALID (field "sha256", "product_id"). */
enum err delivery_upload_find(struct delivery_custody *d, const struct delivery_actor *who,
                              const char *sha256, const char *product_id, size_t max,
                              struct store_upload **out, size_t *count, struct errbuf *err);

/*
 * Completes an upload whose every chunk was received: checks each chunk's digest again as it
 * is read back, checks the whole file's SHA-256 against the declared one, detects the format
 * (csv, tsv, jsonl or opaque; see below), writes the encrypted object file (or finds the same
 * content stored already), and records the object bound to the upload's revision with event
 * "object.stored" (its SHA-256, size and format). The staged chunks are removed. Errors:
 * ERR_BAD_STATE (not open, or chunks missing: field "chunks"), ERR_INVALID (field "sha256":
 * the chunks do not make the declared file), ERR_CORRUPT (a staged chunk fails to open),
 * ERR_FORBIDDEN, ERR_NOT_FOUND, I/O and store errors. On error nothing is recorded.
 */
enum err delivery_upload_complete(struct delivery_custody *d, const struct delivery_actor *who,
                                  const char *upload_id, struct store_object *out,
                                  struct errbuf *err);

/* Abandons an open upload (its provider or the operator), event "upload.abandoned"; its staged
 * chunks are removed. ERR_BAD_STATE when not open. */
enum err delivery_upload_abandon(struct delivery_custody *d, const struct delivery_actor *who,
                                 const char *upload_id, struct store_upload *out,
                                 struct errbuf *err);

/*
 * Format detection over a stream of plaintext. csv / tsv: valid UTF-8, RFC 4180 quoting, a
 * header row of at least two fields separated by ',' (csv) or a tab (tsv), and every record
 * with as many fields as the header; jsonl: valid UTF-8 and every non-empty line a JSON object
 * (lines up to DELIVERY_JSONL_LINE_MAX bytes); anything else is opaque.
 */
#define DELIVERY_JSONL_LINE_MAX (1024 * 1024)
struct delivery_sniff;
/* NULL when out of memory. */
struct delivery_sniff *delivery_sniff_new(void);
void delivery_sniff_feed(struct delivery_sniff *s, const unsigned char *data, size_t len);
/* The format name ("csv", "tsv", "jsonl", "opaque") and, for tabular formats, the data rows
 * (header excluded), else -1. Frees s. */
const char *delivery_sniff_finish(struct delivery_sniff *s, int64_t *rows);

/* ---- objects ---- */

/* An object's record for its product's provider and the operator; ERR_NOT_FOUND otherwise. */
enum err delivery_object_get(struct delivery_custody *d, const struct delivery_actor *who,
                             const char *object_id, struct store_object *out, struct errbuf *err);

/* An open object file, for reading plaintext at any offset. */
struct delivery_object_file;

/* Opens the object's file and unwraps its key. ERR_CORRUPT (the key does not unwrap, the file
 * is not an object file or not of the recorded size), ERR_NOT_FOUND (no file), ERR_IO,
 * ERR_NOMEM. Free with delivery_object_close. */
enum err delivery_object_open(const struct delivery_custody *d, const struct store_object *o,
                              struct delivery_object_file **out, struct errbuf *err);
/* Reads exactly len plaintext bytes at offset (offset + len <= size) into out, decrypting the
 * records that hold them. ERR_CORRUPT when a record fails to authenticate, ERR_IO. */
enum err delivery_object_read(struct delivery_object_file *r, int64_t offset, void *out, size_t len,
                              struct errbuf *err);
void delivery_object_close(struct delivery_object_file *r);

/* Byte ranges (RFC 9110 section 14): one "bytes=" range of a representation of size bytes. */
enum delivery_range {
    DELIVERY_RANGE_WHOLE,        /* no Range, or one to ignore (malformed, several ranges) */
    DELIVERY_RANGE_PARTIAL,      /* answer 206 with bytes [*first, *last] */
    DELIVERY_RANGE_UNSATISFIABLE /* answer 416 */
};
/* value is the Range header (len bytes, NULL for none). Cannot fail. */
enum delivery_range delivery_range_parse(const char *value, size_t len, int64_t size,
                                         int64_t *first, int64_t *last);

/* ---- download tokens ---- */

/* What a contract says, as the caller read it (the contract lifecycle is core's). */
struct delivery_contract {
    char id[ID_MAX];
    char buyer_id[ID_MAX];
    char revision_id[ID_MAX];
    char state[STORE_KIND_MAX];    /* "active" and "delivered" allow downloads */
    char delivery[STORE_KIND_MAX]; /* the delivery mode: "file" allows downloads */
    int64_t licence_end_ms;        /* no downloads from then on (core_contract_licence_end) */
};

/* ERR_OK when the contract allows file deliveries at now_ms (its state, its mode, and its
 * licence term not ended), else ERR_BAD_STATE (field "contract") saying why. Cannot fail
 * otherwise. */
enum err delivery_contract_allows(const struct delivery_contract *k, int64_t now_ms,
                                  struct errbuf *err);

/*
 * Mints a download token for the contract's buyer: who must be the buyer, the contract must
 * allow file deliveries, and the object (object_id, or NULL for the newest object of the
 * contract's revision) must be of the contract's revision. ttl_ms 0 means
 * DELIVERY_TOKEN_TTL_DEFAULT_MS. The secret (DELIVERY_TOKEN_LEN characters) is written to
 * secret and exists nowhere else: the row holds its keyed hash. Event "download.token_minted".
 * Errors: ERR_FORBIDDEN (not the buyer), ERR_BAD_STATE (field "contract"), ERR_INVALID (field
 * "object_id", "ttl_seconds"), ERR_NOT_FOUND (field "object_id": no object), store errors.
 */
enum err delivery_token_mint(struct delivery_custody *d, const struct delivery_actor *who,
                             const struct delivery_contract *k, const char *object_id,
                             int64_t ttl_ms, struct store_download_token *out,
                             char secret[DELIVERY_TOKEN_MAX], struct errbuf *err);

/* Revokes a token (its buyer or the operator), event "download.token_revoked". ERR_NOT_FOUND
 * for someone else's, ERR_BAD_STATE when revoked already. */
enum err delivery_token_revoke(struct delivery_custody *d, const struct delivery_actor *who,
                               const char *token_id, struct store_download_token *out,
                               struct errbuf *err);

/* Why a token does not open a download (each has its own problem type). */
enum delivery_token_verdict {
    DELIVERY_TOKEN_VALID,
    DELIVERY_TOKEN_UNKNOWN,  /* malformed, or no such token */
    DELIVERY_TOKEN_EXPIRED,  /* past its expiry */
    DELIVERY_TOKEN_REVOKED,  /* revoked by its buyer or the operator */
    DELIVERY_TOKEN_FOREIGN,  /* presented with another entity's credentials */
    DELIVERY_TOKEN_CONTRACT, /* the contract no longer allows deliveries */
};

/*
 * Resolves a token secret presented for a download: caller_id is the entity whose API key came
 * with it (NULL: none), and k the token's contract as read now (NULL: not checked). Fills *tok
 * and *obj when the verdict is VALID; else err says why. Store errors only (the verdict is
 * not an error).
 */
enum err
delivery_token_check(struct delivery_custody *d, const char *secret, const char *caller_id,
                     int64_t now_ms,
                     enum err (*contract_read)(void *ctx, const char *contract_id,
                                               struct delivery_contract *out, struct errbuf *err),
                     void *contract_ctx, struct store_download_token *tok, struct store_object *obj,
                     enum delivery_token_verdict *verdict, struct errbuf *err);

/* Records a download that sent every byte of [first, last] of the object under the token:
 * event "delivery.downloaded" with the buyer, the contract, the object, the range, and the
 * SHA-256 of the buyer's copy. Store errors. */
enum err delivery_download_record(struct delivery_custody *d,
                                  const struct store_download_token *tok,
                                  const struct store_object *obj, int64_t first, int64_t last,
                                  struct errbuf *err);

/* ---- fingerprinted delivery and traces (copies.c) ---------------------------------------- */

/*
 * Ties fingerprinting to custody (docs/fingerprinting.md, "Delivery and tracing"). A provider
 * declares the tolerance of a tabular object before any buyer has a copy; the scheme's
 * parameters are fixed then. The secret of an object is a keyed BLAKE2b of its id under the
 * wrapping key the KDF derived from the master key (personal "bourse fp secret"): never
 * stored, the same on every node holding the master key. A buyer's first download through a
 * token makes the contract's copy (decrypt, embed with the contract id, encrypt as a file of
 * its own); later downloads serve the same bytes. Copies of undeclared or opaque objects are
 * the object's bytes, recorded all the same so that a trace recognises their exact copies.
 */
/* Whole objects are fingerprinted in memory (reader and copy): the largest accepted. */
#define DELIVERY_FP_OBJECT_BYTES_MAX ((int64_t)256 << 20)
/* Objects examined by one trace without --object, and candidate copies of one object. */
#define DELIVERY_TRACE_OBJECTS_MAX 256
#define DELIVERY_TRACE_COPIES_MAX 100000
/* Exact matches reported (copies of one opaque file, originals of one hash). */
#define DELIVERY_TRACE_EXACT_MAX 1000

/*
 * The object's provider declares its tolerance (decl, the JSON of delivery_fp_decl_parse):
 * validated, checked against the file (key columns present, at least one admissible cell),
 * parameters chosen (delivery_fp_params_default), stored, event "object.fingerprint_declared".
 * A declaration may be replaced until the first buyer copy exists. Errors: ERR_INVALID (the
 * declaration's fields; "format" for an opaque object; "columns" when no cell is admissible),
 * ERR_LIMIT (field "size": larger than DELIVERY_FP_OBJECT_BYTES_MAX; "fingerprint": the
 * declaration's text), ERR_BAD_STATE (field "object_id": a buyer has a copy already),
 * ERR_NOT_FOUND (not the provider's object), ERR_FORBIDDEN (the operator: providers declare),
 * store and custody errors. *out is the stored row.
 */
enum err delivery_fp_declare(struct delivery_custody *d, const struct delivery_actor *who,
                             const char *object_id, const json_t *decl,
                             struct store_fingerprint *out, struct errbuf *err);

/*
 * The buyer's copy of src under tok's contract, made on the first call (event
 * "delivery.copy_made": contract, buyer, object, copy id, SHA-256, size, marks). *copy is an
 * object record for delivery_object_open and content answers: the copy's id, file, key, size,
 * SHA-256 and format, and src's product, revision and provider. *made says whether this call
 * made it. Errors: store and custody errors, the reader's (a declared object that no longer
 * parses), ERR_NOMEM.
 */
enum err delivery_copy_get(struct delivery_custody *d, const struct store_download_token *tok,
                           const struct store_object *src, struct store_object *copy, int *made,
                           struct errbuf *err);

/* A contract named by a trace. */
struct delivery_trace_named {
    char contract_id[ID_MAX];
    char buyer_id[ID_MAX];
    char object_id[ID_MAX]; /* the source object */
    char copy_id[ID_MAX];
    int exact;                     /* the file is the copy, byte for byte */
    double score;                  /* fingerprint accusations: the Tardos score */
    double false_accusation;       /* 0 for exact matches (a SHA-256 collision aside) */
    double log10_false_accusation; /* -inf reads as "exact" */
};

struct delivery_trace_result {
    char id[ID_MAX]; /* "trc_" */
    char sha256[STORE_HASH_HEX_MAX];
    char requester_id[ID_MAX];
    char object_id[ID_MAX]; /* as asked, or "" */
    double bound;
    struct delivery_trace_named *named; /* owned */
    size_t named_count;
    char (*originals)[ID_MAX]; /* objects whose original bytes the file is; owned */
    size_t original_count;
    size_t objects_examined;     /* fingerprinted objects whose marks were read */
    char reason[ERRBUF_MSG_MAX]; /* why nobody is named, when nobody is */
    int64_t created_ms;
    int64_t log_index;
};

/*
 * Traces a suspect file (len bytes): (a) byte-exact copies of buyers by SHA-256; otherwise (b)
 * the fingerprint of object_id (NULL: of every declared object whose key and marked columns
 * the file's header has), accusing among the contracts holding a fingerprinted copy those
 * whose false-accusation probability is at most bound. Logs event "trace.performed" (the
 * file's SHA-256, the requester, the result). Release *out with
 * delivery_trace_result_release. Errors: ERR_INVALID (field "object_id": no such object or
 * no declaration; "bound" outside (0, 1)), store errors, ERR_NOMEM.
 */
enum err delivery_trace(struct delivery_custody *d, const char *requester_id, const void *data,
                        size_t len, const char *object_id, double bound,
                        struct delivery_trace_result *out, struct errbuf *err);
void delivery_trace_result_release(struct delivery_trace_result *r);

#endif
