/*
 * tlog_state.c: rows of the transparency log's state: stored tree hashes (hex) and signed
 * checkpoints. Written in the same transaction as the integration that computes them, so a
 * crash leaves the tree either wholly before or wholly after a batch.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <sodium.h>
#include <string.h>

#include "util/banned.h"

#define HEX_LEN (2 * STORE_TLOG_HASH_LEN)

static enum err hex_decode(const struct store_value *v, uint8_t out[STORE_TLOG_HASH_LEN],
                           struct errbuf *err)
{
    size_t len = 0;
    if (v->type != STORE_TEXT || v->len != HEX_LEN ||
        sodium_hex2bin(out, STORE_TLOG_HASH_LEN, v->s, v->len, NULL, &len, NULL) != 0 ||
        len != STORE_TLOG_HASH_LEN) {
        return err_set(err, ERR_CORRUPT, "", "stored log hash is malformed");
    }
    return ERR_OK;
}

struct hash_ctx {
    uint8_t *out;
    int found;
};

static enum err hash_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct hash_ctx *h = ctx;
    ASSERT(n == 1);
    h->found = 1;
    return hex_decode(&c[0], h->out, err);
}

enum err store_tlog_hashes_read(struct store *s, const uint64_t *ids, size_t count,
                                uint8_t (*out)[STORE_TLOG_HASH_LEN], struct errbuf *err)
{
    for (size_t i = 0; i < count; i++) {
        ASSERT(ids[i] <= (uint64_t)INT64_MAX);
        struct hash_ctx h = {out[i], 0};
        struct store_value p[] = {store_int((int64_t)ids[i])};
        enum err rc = store_query(s, "SELECT hash FROM tlog_hashes WHERE id = $1", p, 1, hash_cb,
                                  &h, NULL, err);
        if (rc != ERR_OK) {
            return rc;
        }
        if (!h.found) {
            return err_set(err, ERR_CORRUPT, "", "log hash %llu is missing",
                           (unsigned long long)ids[i]);
        }
    }
    return ERR_OK;
}

enum err store_tlog_hash_write(struct store *s, uint64_t id,
                               const uint8_t hash[STORE_TLOG_HASH_LEN], struct errbuf *err)
{
    ASSERT(id <= (uint64_t)INT64_MAX);
    char hex[HEX_LEN + 1];
    sodium_bin2hex(hex, sizeof(hex), hash, STORE_TLOG_HASH_LEN);
    struct store_value p[] = {store_int((int64_t)id), store_text(hex)};
    return store_query(s, "INSERT INTO tlog_hashes (id, hash) VALUES ($1, $2)", p, 2, NULL, NULL,
                       NULL, err);
}

void store_checkpoint_release(struct store_checkpoint *c)
{
    if (c == NULL) {
        return;
    }
    mem_free(c->note);
    c->note = NULL;
}

enum err store_checkpoint_put(struct store *s, const struct store_checkpoint *c, struct errbuf *err)
{
    ASSERT(c->note != NULL);
    char hex[HEX_LEN + 1];
    sodium_bin2hex(hex, sizeof(hex), c->root_hash, STORE_TLOG_HASH_LEN);
    struct store_value p[] = {store_int(c->tree_size), store_text(hex), store_text(c->note),
                              store_int(c->created_ms)};
    return store_query(s,
                       "INSERT INTO tlog_checkpoints (tree_size, root_hash, note, created_ms)"
                       " VALUES ($1, $2, $3, $4)",
                       p, ARRAY_LEN(p), NULL, NULL, NULL, err);
}

static enum err checkpoint_cb(void *ctx, const struct store_value *c, size_t n, struct errbuf *err)
{
    struct store_checkpoint *cp = ctx;
    if (n != 4 || c[2].type != STORE_TEXT) {
        return err_set(err, ERR_CORRUPT, "", "checkpoint row is malformed");
    }
    cp->tree_size = c[0].i;
    enum err rc = hex_decode(&c[1], cp->root_hash, err);
    if (rc != ERR_OK) {
        return rc;
    }
    cp->note = mem_strndup(c[2].s, c[2].len);
    cp->created_ms = c[3].i;
    return cp->note != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
}

static enum err checkpoint_query(struct store *s, const char *sql, const struct store_value *p,
                                 size_t count, struct store_checkpoint *out, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    enum err rc = store_query(s, sql, p, count, checkpoint_cb, out, NULL, err);
    if (rc != ERR_OK) {
        store_checkpoint_release(out);
        return rc;
    }
    if (out->note == NULL) {
        return err_set(err, ERR_NOT_FOUND, "", "no such checkpoint");
    }
    return ERR_OK;
}

enum err store_checkpoint_latest(struct store *s, struct store_checkpoint *out, struct errbuf *err)
{
    return checkpoint_query(s,
                            "SELECT tree_size, root_hash, note, created_ms FROM tlog_checkpoints"
                            " ORDER BY tree_size DESC LIMIT 1",
                            NULL, 0, out, err);
}

enum err store_checkpoint_get(struct store *s, int64_t tree_size, struct store_checkpoint *out,
                              struct errbuf *err)
{
    struct store_value p[] = {store_int(tree_size)};
    return checkpoint_query(s,
                            "SELECT tree_size, root_hash, note, created_ms FROM tlog_checkpoints"
                            " WHERE tree_size = $1",
                            p, 1, out, err);
}
