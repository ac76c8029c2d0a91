/*
 * log.c: the transparency log's sequencing and reading. Events are numbered when they are
 * committed (store_event_append); integration turns the numbered events into leaves of the
 * RFC 9162 Merkle tree in batches, storing the tree's hashes and a signed C2SP checkpoint in
 * the same transaction. Proofs and tiles are computed from the stored hashes by tlog.
 *
 * Only one node integrates at a time (on SQLite there is one node; on PostgreSQL the leader).
 * Integration is deterministic: the same events always give the same tree, so a batch lost
 * to a crash is simply done again.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <string.h>

#include "util/banned.h"

static enum err read_hashes(void *ctx, const uint64_t *indexes, size_t count,
                            uint8_t (*out)[TLOG_HASH_LEN], struct errbuf *err)
{
    return store_tlog_hashes_read(ctx, indexes, count, out, err);
}

static struct tlog_hash_reader reader_for(struct core *c)
{
    struct tlog_hash_reader r = {read_hashes, c->store};
    return r;
}

static enum err newest_size(struct core *c, int64_t *size, struct errbuf *err)
{
    struct store_checkpoint cp;
    enum err rc = store_checkpoint_latest(c->store, &cp, err);
    if (rc == ERR_NOT_FOUND) {
        *size = 0;
        return ERR_OK;
    }
    if (rc == ERR_OK) {
        *size = cp.tree_size;
        store_checkpoint_release(&cp);
    }
    return rc;
}

/* Hashes one event into the tree at leaf index seq and stores the new hashes. */
static enum err integrate_one(struct core *c, const struct store_event *ev,
                              const struct tlog_hash_reader *reader, struct errbuf *err)
{
    uint8_t leaf[TLOG_HASH_LEN];
    tlog_leaf_hash(ev->leaf, ev->leaf_len, leaf);
    uint8_t hashes[TLOG_STORED_HASHES_MAX][TLOG_HASH_LEN];
    size_t count = 0;
    enum err rc = tlog_stored_hashes((uint64_t)ev->seq, leaf, reader, hashes, &count, err);
    uint64_t base = tlog_stored_hash_index(0, (uint64_t)ev->seq);
    for (size_t i = 0; i < count && rc == ERR_OK; i++) {
        rc = store_tlog_hash_write(c->store, base + i, hashes[i], err);
    }
    return rc;
}

static enum err sign_checkpoint(struct core *c, int64_t size, const struct tlog_hash_reader *reader,
                                struct errbuf *err)
{
    struct tlog_checkpoint cp;
    memset(&cp, 0, sizeof(cp));
    ASSERT(strlen(c->log_signer->name) <= TLOG_ORIGIN_MAX);
    memcpy(cp.origin, c->log_signer->name, strlen(c->log_signer->name) + 1);
    cp.tree_size = (uint64_t)size;
    enum err rc = tlog_tree_hash(cp.tree_size, reader, cp.root_hash, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct buf note;
    buf_init(&note, TLOG_NOTE_MAX);
    rc = tlog_checkpoint_sign(&cp, c->log_signer, &note, err);
    if (rc == ERR_OK) {
        struct store_checkpoint row;
        row.tree_size = size;
        memcpy(row.root_hash, cp.root_hash, TLOG_HASH_LEN);
        row.note = note.data;
        row.created_ms = clock_now(c->clock);
        rc = store_checkpoint_put(c->store, &row, err);
    }
    buf_release(&note);
    return rc;
}

enum err core_log_integrate(struct core *c, size_t batch_max, int64_t *tree_size,
                            struct errbuf *err)
{
    ASSERT(c != NULL && c->log_signer != NULL);
    ASSERT(batch_max > 0 && batch_max <= CORE_LOG_BATCH_MAX);
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_event *evs = NULL;
    size_t n = 0;
    int64_t size = 0;
    rc = newest_size(c, &size, err);
    if (rc == ERR_OK) {
        rc = store_event_range(c->store, size, batch_max, &evs, &n, err);
    }
    struct tlog_hash_reader reader = reader_for(c);
    for (size_t i = 0; i < n && rc == ERR_OK; i++) {
        if (evs[i].seq != size + (int64_t)i) {
            rc = err_set(err, ERR_CORRUPT, "", "event %lld is missing from the log",
                         (long long)(size + (int64_t)i));
            break;
        }
        rc = integrate_one(c, &evs[i], &reader, err);
    }
    if (rc == ERR_OK && n > 0) {
        rc = sign_checkpoint(c, size + (int64_t)n, &reader, err);
    }
    for (size_t i = 0; i < n; i++) {
        store_event_release(&evs[i]);
    }
    mem_free(evs);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc == ERR_OK) {
        *tree_size = size + (int64_t)n;
    }
    return rc;
}

enum err core_log_checkpoint(struct core *c, struct store_checkpoint *out, struct errbuf *err)
{
    ASSERT(c != NULL && out != NULL);
    return store_checkpoint_latest(c->store, out, err);
}

enum err core_log_prove_inclusion(struct core *c, int64_t index, int64_t *tree_size,
                                  struct tlog_proof *proof, struct errbuf *err)
{
    int64_t newest = 0;
    enum err rc = newest_size(c, &newest, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int64_t size = *tree_size != 0 ? *tree_size : newest;
    if (size < 1 || size > newest) {
        return err_set(err, ERR_INVALID, "tree_size", "tree_size must be 1 to %lld",
                       (long long)newest);
    }
    if (index < 0 || index >= size) {
        return err_set(err, ERR_INVALID, "index", "index must be below the tree size %lld",
                       (long long)size);
    }
    struct tlog_hash_reader reader = reader_for(c);
    rc = tlog_prove_record((uint64_t)size, (uint64_t)index, &reader, proof, err);
    if (rc == ERR_OK) {
        *tree_size = size;
    }
    return rc;
}

enum err core_log_prove_consistency(struct core *c, int64_t old_size, int64_t *new_size,
                                    struct tlog_proof *proof, struct errbuf *err)
{
    int64_t newest = 0;
    enum err rc = newest_size(c, &newest, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int64_t size = *new_size != 0 ? *new_size : newest;
    if (size < 1 || size > newest) {
        return err_set(err, ERR_INVALID, "to", "the new size must be 1 to %lld", (long long)newest);
    }
    if (old_size < 1 || old_size > size) {
        return err_set(err, ERR_INVALID, "from", "the old size must be 1 to %lld", (long long)size);
    }
    struct tlog_hash_reader reader = reader_for(c);
    rc = tlog_prove_tree((uint64_t)size, (uint64_t)old_size, &reader, proof, err);
    if (rc == ERR_OK) {
        *new_size = size;
    }
    return rc;
}

static enum err entry_bundle(struct core *c, const struct tlog_tile *tile, struct buf *out,
                             struct errbuf *err)
{
    struct store_event *evs = NULL;
    size_t n = 0;
    int64_t from = (int64_t)(tile->index * TLOG_TILE_WIDTH);
    enum err rc = store_event_range(c->store, from, tile->width, &evs, &n, err);
    if (rc == ERR_OK && n != tile->width) {
        rc = err_set(err, ERR_CORRUPT, "", "entries %lld.. are missing", (long long)from);
    }
    for (size_t i = 0; i < n && rc == ERR_OK; i++) {
        rc = tlog_bundle_append(out, evs[i].leaf, evs[i].leaf_len, err);
    }
    for (size_t i = 0; i < n; i++) {
        store_event_release(&evs[i]);
    }
    mem_free(evs);
    return rc;
}

enum err core_log_tile(struct core *c, const struct tlog_tile *tile, struct buf *out,
                       struct errbuf *err)
{
    int64_t newest = 0;
    enum err rc = newest_size(c, &newest, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (!tlog_tile_in_tree(tile, (uint64_t)newest)) {
        return err_set(err, ERR_NOT_FOUND, "path", "tile is beyond the newest checkpoint (%lld)",
                       (long long)newest);
    }
    if (tile->level == TLOG_TILE_LEVEL_ENTRIES) {
        return entry_bundle(c, tile, out, err);
    }
    uint8_t bytes[TLOG_TILE_BYTES_MAX];
    struct tlog_hash_reader reader = reader_for(c);
    rc = tlog_tile_read(tile, (uint64_t)newest, &reader, bytes, sizeof(bytes), err);
    if (rc == ERR_OK) {
        rc = buf_append(out, bytes, (size_t)tile->width * TLOG_HASH_LEN);
        if (rc != ERR_OK) {
            rc = err_set(err, rc, "", "cannot hold the tile");
        }
    }
    return rc;
}

enum err core_log_entry(struct core *c, int64_t index, struct store_event *out, struct errbuf *err)
{
    int64_t newest = 0;
    enum err rc = newest_size(c, &newest, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (index < 0 || index >= newest) {
        return err_set(err, ERR_NOT_FOUND, "index", "no entry %lld in the log of %lld",
                       (long long)index, (long long)newest);
    }
    struct store_event *evs = NULL;
    size_t n = 0;
    rc = store_event_range(c->store, index, 1, &evs, &n, err);
    if (rc == ERR_OK && n != 1) {
        rc = err_set(err, ERR_CORRUPT, "", "entry %lld is missing", (long long)index);
    }
    if (rc == ERR_OK) {
        *out = evs[0];
    } else if (n == 1) {
        store_event_release(&evs[0]);
    }
    mem_free(evs);
    return rc;
}
