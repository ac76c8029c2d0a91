/*
 * tile.c: C2SP tlog-tiles (c2sp.org/tlog-tiles): tile paths, hash tiles and entry bundles.
 *
 * A hash tile at level L is a run of stored hashes at tree level 8 * L, so reading one is a
 * single call of the hash reader. Tile paths arrive from URLs, so the parser accepts exactly
 * one spelling per tile (the one tlog_tile_format_path writes) and rejects the rest: a cache
 * or a file store keyed by path then never holds two copies of one tile.
 */
#include "util/compat.h"
#include "tlog/tlog.h"

#include <stdio.h>
#include <string.h>

#include "tlog/tlog_int.h"
#include "util/banned.h"

#define TILE_PREFIX "tile/"
#define ENTRIES_SEGMENT "entries/"
#define PARTIAL_SUFFIX ".p/"
/* TLOG_TILE_INDEX_MAX = 2^55 - 1 has 17 decimal digits: 6 groups of 3. */
#define INDEX_GROUPS_MAX 6

_Static_assert(TLOG_TILE_INDEX_MAX < UINT64_C(1000000000000000000), "6 groups of 3 digits");

static int tile_well_formed(const struct tlog_tile *tile)
{
    return tile->level >= TLOG_TILE_LEVEL_ENTRIES && tile->level <= TLOG_TILE_LEVEL_MAX &&
           tile->width >= 1 && tile->width <= TLOG_TILE_WIDTH && tile->index <= TLOG_TILE_INDEX_MAX;
}

void tlog_tile_format_path(const struct tlog_tile *tile, char out[TLOG_TILE_PATH_MAX])
{
    ASSERT(tile != NULL);
    ASSERT(out != NULL);
    ASSERT(tile_well_formed(tile));
    unsigned groups[INDEX_GROUPS_MAX];
    size_t ngroups = 0;
    uint64_t n = tile->index;
    do {
        ASSERT(ngroups < INDEX_GROUPS_MAX);
        groups[ngroups] = (unsigned)(n % 1000);
        ngroups++;
        n /= 1000;
    } while (n > 0);

    size_t at = 0;
    int w;
    if (tile->level == TLOG_TILE_LEVEL_ENTRIES) {
        w = snprintf(out, TLOG_TILE_PATH_MAX, TILE_PREFIX ENTRIES_SEGMENT);
    } else {
        w = snprintf(out, TLOG_TILE_PATH_MAX, TILE_PREFIX "%d/", tile->level);
    }
    ASSERT(w > 0 && (size_t)w < TLOG_TILE_PATH_MAX);
    at += (size_t)w;
    for (size_t i = ngroups; i > 1; i--) {
        w = snprintf(out + at, TLOG_TILE_PATH_MAX - at, "x%03u/", groups[i - 1]);
        ASSERT(w > 0 && (size_t)w < TLOG_TILE_PATH_MAX - at);
        at += (size_t)w;
    }
    w = snprintf(out + at, TLOG_TILE_PATH_MAX - at, "%03u", groups[0]);
    ASSERT(w > 0 && (size_t)w < TLOG_TILE_PATH_MAX - at);
    at += (size_t)w;
    if (tile->width < TLOG_TILE_WIDTH) {
        w = snprintf(out + at, TLOG_TILE_PATH_MAX - at, PARTIAL_SUFFIX "%u", tile->width);
        ASSERT(w > 0 && (size_t)w < TLOG_TILE_PATH_MAX - at);
    }
}

/* Reads exactly three digits at s[*at]. Returns the value or -1. */
static int three_digits(const char *s, size_t len, size_t *at)
{
    if (len - *at < 3) {
        return -1;
    }
    int v = 0;
    for (size_t i = 0; i < 3; i++) {
        char c = s[*at + i];
        if (c < '0' || c > '9') {
            return -1;
        }
        v = v * 10 + (c - '0');
    }
    *at += 3;
    return v;
}

/* Reads 1..3 digits without leading zero up to the next '/' or the end. Returns value or -1. */
static int small_decimal(const char *s, size_t len, size_t *at)
{
    size_t end = *at;
    while (end < len && s[end] != '/' && end - *at < 4) {
        end++;
    }
    uint64_t v;
    if (end - *at > 3 || !tlog__parse_decimal(s + *at, end - *at, 999, &v)) {
        return -1;
    }
    *at = end;
    return (int)v;
}

/* Parses <N>: "x" groups then the last group. Returns 1 and sets *index if canonical. */
static int parse_index(const char *s, size_t len, size_t *at, uint64_t *index)
{
    uint64_t n = 0;
    for (size_t group = 0; group < INDEX_GROUPS_MAX; group++) {
        int last = *at >= len || s[*at] != 'x';
        if (!last) {
            (*at)++;
        }
        int v = three_digits(s, len, at);
        if (v < 0) {
            return 0;
        }
        /* A leading "x000/" group would be a second spelling of the same index. */
        if (!last && group == 0 && v == 0) {
            return 0;
        }
        n = n * 1000 + (uint64_t)v;
        if (last) {
            if (n > TLOG_TILE_INDEX_MAX) {
                return 0;
            }
            *index = n;
            return 1;
        }
        if (*at >= len || s[*at] != '/') {
            return 0;
        }
        (*at)++;
    }
    return 0;
}

enum err tlog_tile_parse_path(const char *path, size_t len, struct tlog_tile *tile,
                              struct errbuf *err)
{
    ASSERT(path != NULL || len == 0);
    ASSERT(tile != NULL);
    static const size_t prefix_len = sizeof(TILE_PREFIX) - 1;
    static const size_t entries_len = sizeof(ENTRIES_SEGMENT) - 1;
    static const size_t suffix_len = sizeof(PARTIAL_SUFFIX) - 1;
    if (len >= TLOG_TILE_PATH_MAX || len < prefix_len ||
        memcmp(path, TILE_PREFIX, prefix_len) != 0) {
        goto invalid;
    }
    size_t at = prefix_len;
    struct tlog_tile t = {0, 0, TLOG_TILE_WIDTH};
    if (len - at >= entries_len && memcmp(path + at, ENTRIES_SEGMENT, entries_len) == 0) {
        t.level = TLOG_TILE_LEVEL_ENTRIES;
        at += entries_len;
    } else {
        int level = small_decimal(path, len, &at);
        if (level < 0 || level > TLOG_TILE_LEVEL_MAX || at >= len || path[at] != '/') {
            goto invalid;
        }
        t.level = level;
        at++;
    }
    if (!parse_index(path, len, &at, &t.index)) {
        goto invalid;
    }
    if (at < len) {
        if (len - at < suffix_len || memcmp(path + at, PARTIAL_SUFFIX, suffix_len) != 0) {
            goto invalid;
        }
        at += suffix_len;
        int width = small_decimal(path, len, &at);
        if (width < 1 || width >= TLOG_TILE_WIDTH || at != len) {
            goto invalid;
        }
        t.width = (unsigned)width;
    }
    ASSERT(tile_well_formed(&t));
    *tile = t;
    return ERR_OK;
invalid:
    return err_set(err, ERR_INVALID, "path", "malformed tile path");
}

int tlog_tile_in_tree(const struct tlog_tile *tile, uint64_t tree_size)
{
    ASSERT(tile != NULL);
    if (!tile_well_formed(tile) || tree_size > TLOG_TREE_SIZE_MAX) {
        return 0;
    }
    unsigned shift = tile->level < 0 ? 0 : (unsigned)tile->level * TLOG_TILE_HEIGHT;
    if (shift >= 64) {
        return 0;
    }
    /* The number of complete subtrees at the tile's tree level. */
    uint64_t available = tree_size >> shift;
    if (available < tile->width) {
        return 0;
    }
    return tile->index <= (available - tile->width) / TLOG_TILE_WIDTH;
}

enum err tlog_tile_read(const struct tlog_tile *tile, uint64_t tree_size,
                        const struct tlog_hash_reader *reader, uint8_t *out, size_t out_len,
                        struct errbuf *err)
{
    ASSERT(tile != NULL);
    ASSERT(reader != NULL);
    ASSERT(out != NULL);
    if (!tile_well_formed(tile) || tile->level == TLOG_TILE_LEVEL_ENTRIES) {
        return err_set(err, ERR_INVALID, "tile", "not a hash tile");
    }
    if (!tlog_tile_in_tree(tile, tree_size)) {
        return err_set(err, ERR_NOT_FOUND, "tile", "tile is not in a tree of %llu leaves",
                       (unsigned long long)tree_size);
    }
    if (out_len / TLOG_HASH_LEN < tile->width) {
        return err_set(err, ERR_LIMIT, "tile", "%zu bytes cannot hold a tile of width %u", out_len,
                       tile->width);
    }
    unsigned level = (unsigned)tile->level * TLOG_TILE_HEIGHT;
    uint64_t indexes[TLOG_TILE_WIDTH];
    for (unsigned i = 0; i < tile->width; i++) {
        indexes[i] = tlog_stored_hash_index(level, tile->index * TLOG_TILE_WIDTH + i);
    }
    return tlog__read(reader, indexes, tile->width, (uint8_t(*)[TLOG_HASH_LEN])out, err);
}

enum err tlog_bundle_append(struct buf *bundle, const void *entry, size_t len, struct errbuf *err)
{
    ASSERT(bundle != NULL);
    ASSERT(entry != NULL || len == 0);
    if (len > TLOG_ENTRY_MAX) {
        return err_set(err, ERR_LIMIT, "entry", "entry of %zu bytes is over %d", len,
                       TLOG_ENTRY_MAX);
    }
    size_t len0 = bundle->len;
    uint8_t prefix[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    enum err rc = buf_append(bundle, prefix, sizeof(prefix));
    if (rc == ERR_OK) {
        rc = buf_append(bundle, entry, len);
    }
    if (rc != ERR_OK) {
        bundle->len = len0;
        if (bundle->data != NULL) {
            bundle->data[len0] = '\0';
        }
        return err_set(err, rc, "entry", "cannot append to entry bundle: %s", err_name(rc));
    }
    return ERR_OK;
}

enum err tlog_bundle_parse(const uint8_t *data, size_t len, struct tlog_bundle_entry *entries,
                           size_t entries_max, size_t *count, struct errbuf *err)
{
    ASSERT(data != NULL || len == 0);
    ASSERT(entries != NULL || entries_max == 0);
    ASSERT(count != NULL);
    if (len == 0) {
        return err_set(err, ERR_INVALID, "bundle", "empty entry bundle");
    }
    size_t at = 0;
    size_t n = 0;
    while (at < len) {
        if (len - at < 2) {
            return err_set(err, ERR_INVALID, "bundle", "entry bundle truncated at byte %zu", at);
        }
        size_t entry_len = ((size_t)data[at] << 8) | data[at + 1];
        at += 2;
        if (len - at < entry_len) {
            return err_set(err, ERR_INVALID, "bundle", "entry bundle truncated at byte %zu", at);
        }
        if (n == entries_max) {
            return err_set(err, ERR_INVALID, "bundle", "entry bundle has over %zu entries",
                           entries_max);
        }
        entries[n].data = data + at;
        entries[n].len = entry_len;
        n++;
        at += entry_len;
    }
    *count = n;
    return ERR_OK;
}
