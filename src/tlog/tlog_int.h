/*
 * tlog_int.h: declarations shared by the tlog module's own files. Nothing outside src/tlog
 * includes it (the unit test may, for white-box checks).
 */
#ifndef BOURSE_TLOG_INT_H
#define BOURSE_TLOG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tlog/tlog.h"

_Static_assert(TLOG_HASH_LEN == 32, "SHA-256");
_Static_assert(TLOG_TILE_WIDTH == 1 << TLOG_TILE_HEIGHT, "tile width is 2^height");
_Static_assert(TLOG_TILE_BYTES_MAX == TLOG_TILE_WIDTH * TLOG_HASH_LEN, "a full tile: 8192 bytes");
_Static_assert(TLOG_READ_MAX >= TLOG_TILE_WIDTH, "a tile is one read");
_Static_assert(TLOG_ENTRY_MAX == UINT16_MAX, "bundle length prefix is a uint16");
_Static_assert(TLOG_PROOF_MAX >= 63, "a proof over 2^63 - 1 leaves has at most 63 hashes");

/* A half-open range of leaves [lo, hi). */
struct tlog__range {
    uint64_t lo;
    uint64_t hi;
};

/* Largest power of two strictly below n (n >= 2). */
uint64_t tlog__pow2_below(uint64_t n);

/*
 * Hashes each range (a subtree of the RFC 9162 split, so its complete-subtree decomposition is
 * aligned) with one read of stored hashes: out[i] = MTH(leaves[ranges[i]]). count may be 0.
 */
enum err tlog__hash_ranges(const struct tlog__range *ranges, size_t count,
                           const struct tlog_hash_reader *reader, uint8_t (*out)[TLOG_HASH_LEN],
                           struct errbuf *err);

/* Calls the reader and checks its contract: count 1..TLOG_READ_MAX. */
enum err tlog__read(const struct tlog_hash_reader *reader, const uint64_t *indexes, size_t count,
                    uint8_t (*out)[TLOG_HASH_LEN], struct errbuf *err);

/* ---- text helpers (note.c) ---- */

/* Writes the padded base64 of n bytes, (n + 2) / 3 * 4 characters, and a NUL to out. */
void tlog__base64_encode(const uint8_t *in, size_t n, char *out);
/*
 * Decodes canonical padded base64 s[0..len): length a multiple of 4, "=" only as final
 * padding, unused bits zero. Writes the first min(decoded, out_max) bytes to out and sets
 * *decoded_len to the full decoded length. Returns 1 if valid, 0 otherwise.
 */
int tlog__base64_decode(const char *s, size_t len, uint8_t *out, size_t out_max,
                        size_t *decoded_len);

/* 1 if s[0..len) is valid UTF-8 with no control character other than newline (and no DEL). */
int tlog__note_text_valid(const char *s, size_t len);
/* 1 if s[0..len) is a valid key name: 1..TLOG_KEY_NAME_MAX bytes, UTF-8, no space, no "+". */
int tlog__key_name_valid(const char *s, size_t len);
/* 1 if s[0..len) is a valid origin (see struct tlog_checkpoint). */
int tlog__origin_valid(const char *s, size_t len);
/*
 * Parses a decimal s[0..len) without sign or leading zeros (except "0") and at most max.
 * Returns 1 and sets *out if valid, else 0.
 */
int tlog__parse_decimal(const char *s, size_t len, uint64_t max, uint64_t *out);
/*
 * Takes the next newline-terminated line of text[*at..len): sets *line and *line_len (without
 * the newline) and moves *at past the newline. Returns 0, changing nothing, if there is none.
 */
int tlog__next_line(const char *text, size_t len, size_t *at, const char **line, size_t *line_len);

#endif
