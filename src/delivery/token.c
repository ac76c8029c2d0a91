/*
 * token.c: download tokens and the record of downloads (delivery.h, custody).
 *
 * A token is a bearer secret in a URL path, so it is short-lived, scoped to exactly one
 * (contract, revision, object, buyer), and stored only as a keyed hash (BLAKE2b under a key
 * derived from the master key), as API keys are. Whether the contract still allows delivery
 * is asked again at every download, so that a contract's expiry, cancellation or revocation,
 * or the end of its licence term, stops deliveries at once whatever tokens are out. The contract
 * lifecycle is core's: callers read the contract and hand its facts here.
 */
#include "util/compat.h"
#include "delivery/delivery.h"
#include "delivery/delivery_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

#define TOKEN_RANDOM_BYTES 32
_Static_assert(sizeof(DELIVERY_TOKEN_PREFIX) - 1 + 43 == DELIVERY_TOKEN_LEN, "token length");
_Static_assert(DELIVERY_TOKEN_LEN < DELIVERY_TOKEN_MAX, "a token fits its buffer");

static void token_hash(const struct delivery_custody *d, const char *secret,
                       char out[STORE_HASH_HEX_MAX])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), (const unsigned char *)secret, strlen(secret), d->token_key,
                       sizeof(d->token_key));
    sodium_bin2hex(out, STORE_HASH_HEX_MAX, h, sizeof(h));
}

static int token_well_formed(const char *secret)
{
    size_t prefix = sizeof(DELIVERY_TOKEN_PREFIX) - 1;
    if (secret == NULL || strlen(secret) != DELIVERY_TOKEN_LEN ||
        strncmp(secret, DELIVERY_TOKEN_PREFIX, prefix) != 0) {
        return 0;
    }
    for (size_t i = prefix; i < DELIVERY_TOKEN_LEN; i++) {
        char c = secret[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

enum err delivery_contract_allows(const struct delivery_contract *k, int64_t now_ms,
                                  struct errbuf *err)
{
    if (strcmp(k->state, "active") != 0 && strcmp(k->state, "delivered") != 0) {
        return err_set(err, ERR_BAD_STATE, "contract",
                       "contract '%s' is %s: only an active or delivered contract is delivered",
                       k->id, k->state);
    }
    if (strcmp(k->delivery, "file") != 0) {
        return err_set(err, ERR_BAD_STATE, "contract",
                       "contract '%s' is delivered by %s, not as a file", k->id, k->delivery);
    }
    /* The state lags an ended term until the contract clock moves the contract (or never
     * moves it: an undelivered single payment stays active), so the time decides here. */
    if (now_ms >= k->licence_end_ms) {
        char at[CLOCK_RFC3339_LEN];
        clock_format_rfc3339(k->licence_end_ms, at);
        return err_set(err, ERR_BAD_STATE, "contract",
                       "the licence term of contract '%s' ended at %s", k->id, at);
    }
    return ERR_OK;
}

/* The object a token names: the one given, of the contract's revision, or the newest. */
static enum err mint_object(struct delivery_custody *d, const struct delivery_contract *k,
                            const char *object_id, struct store_object *o, struct errbuf *err)
{
    if (object_id == NULL) {
        enum err rc = store_object_newest(d->store, k->revision_id, o, err);
        if (rc == ERR_NOT_FOUND) {
            return err_set(err, ERR_NOT_FOUND, "object_id",
                           "revision '%s' has no uploaded file yet", k->revision_id);
        }
        return rc;
    }
    if (!id_valid(object_id, "obj")) {
        return err_set(err, ERR_INVALID, "object_id", "object_id must be an object id");
    }
    enum err rc = store_object_get(d->store, object_id, o, err);
    if (rc == ERR_NOT_FOUND) {
        return err_set(err, ERR_NOT_FOUND, "object_id", "no object '%s'", object_id);
    }
    if (rc == ERR_OK && strcmp(o->revision_id, k->revision_id) != 0) {
        rc = err_set(err, ERR_INVALID, "object_id",
                     "object '%s' is a file of revision %s, not of the contract's %s", object_id,
                     o->revision_id, k->revision_id);
    }
    return rc;
}

static enum err mint_checks(const struct delivery_actor *who, const struct delivery_contract *k,
                            int64_t ttl_ms, int64_t now_ms, struct errbuf *err)
{
    if (strcmp(who->id, k->buyer_id) != 0 || !who->active) {
        return err_set(err, ERR_FORBIDDEN, "contract",
                       "only the buyer of contract '%s' takes its downloads", k->id);
    }
    if (ttl_ms < DELIVERY_TOKEN_TTL_MIN_MS || ttl_ms > DELIVERY_TOKEN_TTL_MAX_MS) {
        return err_set(err, ERR_INVALID, "ttl_seconds", "ttl_seconds must be %lld to %lld",
                       (long long)(DELIVERY_TOKEN_TTL_MIN_MS / 1000),
                       (long long)(DELIVERY_TOKEN_TTL_MAX_MS / 1000));
    }
    return delivery_contract_allows(k, now_ms, err);
}

enum err delivery_token_mint(struct delivery_custody *d, const struct delivery_actor *who,
                             const struct delivery_contract *k, const char *object_id,
                             int64_t ttl_ms, struct store_download_token *out,
                             char secret[DELIVERY_TOKEN_MAX], struct errbuf *err)
{
    ASSERT(d != NULL && who != NULL && k != NULL && out != NULL && secret != NULL);
    memset(out, 0, sizeof(*out));
    ttl_ms = ttl_ms == 0 ? DELIVERY_TOKEN_TTL_DEFAULT_MS : ttl_ms;
    int64_t now = clock_now(d->clock);
    enum err rc = mint_checks(who, k, ttl_ms, now, err);
    struct store_object o;
    if (rc == ERR_OK) {
        rc = mint_object(d, k, object_id, &o, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    unsigned char raw[TOKEN_RANDOM_BYTES];
    rng_fill(d->rng, raw, sizeof(raw));
    memcpy(secret, DELIVERY_TOKEN_PREFIX, sizeof(DELIVERY_TOKEN_PREFIX) - 1);
    sodium_bin2base64(secret + sizeof(DELIVERY_TOKEN_PREFIX) - 1,
                      DELIVERY_TOKEN_MAX - (sizeof(DELIVERY_TOKEN_PREFIX) - 1), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    ASSERT(token_well_formed(secret));
    id_new(d->rng, "dtk", out->id);
    token_hash(d, secret, out->secret_hash);
    snprintf(out->contract_id, sizeof(out->contract_id), "%s", k->id);
    snprintf(out->revision_id, sizeof(out->revision_id), "%s", k->revision_id);
    snprintf(out->object_id, sizeof(out->object_id), "%s", o.id);
    snprintf(out->buyer_id, sizeof(out->buyer_id), "%s", k->buyer_id);
    out->created_ms = now;
    out->expires_ms = out->created_ms + ttl_ms;
    char expires[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(out->expires_ms, expires);
    rc = store_tx_begin(d->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "token_id", out->id, "contract_id", out->contract_id,
                  "object_id", out->object_id, "buyer_id", out->buyer_id, "expires_at", expires);
    rc = delivery__event(d, "download.token_minted", who->id, out->contract_id, out->created_ms,
                         body, &out->log_index, err);
    json_decref(body);
    if (rc == ERR_OK) {
        rc = store_download_token_insert(d->store, out, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(d->store);
        sodium_memzero(secret, DELIVERY_TOKEN_MAX);
        return rc;
    }
    return store_tx_commit(d->store, err);
}

enum err delivery_token_revoke(struct delivery_custody *d, const struct delivery_actor *who,
                               const char *token_id, struct store_download_token *out,
                               struct errbuf *err)
{
    if (!id_valid(token_id, "dtk")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not a download token id",
                       token_id != NULL ? token_id : "");
    }
    enum err rc = store_download_token_get(d->store, token_id, out, err);
    if (rc == ERR_OK && who->role != DELIVERY_ROLE_OPERATOR &&
        strcmp(who->id, out->buyer_id) != 0) {
        rc = err_set(err, ERR_NOT_FOUND, "id", "no download token '%s'", token_id);
    }
    if (rc == ERR_OK && out->revoked_ms != 0) {
        rc = err_set(err, ERR_BAD_STATE, "id", "download token '%s' is revoked already", token_id);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_tx_begin(d->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    out->revoked_ms = clock_now(d->clock);
    json_t *body = json_pack("{s:s, s:s}", "token_id", out->id, "contract_id", out->contract_id);
    rc = delivery__event(d, "download.token_revoked", who->id, out->contract_id, out->revoked_ms,
                         body, &out->log_index, err);
    json_decref(body);
    if (rc == ERR_OK) {
        rc = store_download_token_update(d->store, out, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(d->store);
        return rc;
    }
    return store_tx_commit(d->store, err);
}

/* The verdict on a token found by its hash, given the time, caller and contract. */
static enum err token_judge(const struct store_download_token *t, const char *caller_id,
                            int64_t now_ms, const struct delivery_contract *k,
                            enum delivery_token_verdict *verdict, struct errbuf *err)
{
    if (t->revoked_ms != 0) {
        *verdict = DELIVERY_TOKEN_REVOKED;
        return err_set(err, ERR_FORBIDDEN, "token", "this download token was revoked");
    }
    if (now_ms >= t->expires_ms) {
        char at[CLOCK_RFC3339_LEN];
        clock_format_rfc3339(t->expires_ms, at);
        *verdict = DELIVERY_TOKEN_EXPIRED;
        return err_set(err, ERR_FORBIDDEN, "token", "this download token expired at %s", at);
    }
    if (caller_id != NULL && strcmp(caller_id, t->buyer_id) != 0) {
        *verdict = DELIVERY_TOKEN_FOREIGN;
        return err_set(err, ERR_FORBIDDEN, "token", "this download token belongs to another buyer");
    }
    if (k != NULL && delivery_contract_allows(k, now_ms, err) != ERR_OK) {
        *verdict = DELIVERY_TOKEN_CONTRACT;
        return ERR_BAD_STATE;
    }
    *verdict = DELIVERY_TOKEN_VALID;
    return ERR_OK;
}

enum err
delivery_token_check(struct delivery_custody *d, const char *secret, const char *caller_id,
                     int64_t now_ms,
                     enum err (*contract_read)(void *ctx, const char *contract_id,
                                               struct delivery_contract *out, struct errbuf *err),
                     void *contract_ctx, struct store_download_token *tok, struct store_object *obj,
                     enum delivery_token_verdict *verdict, struct errbuf *err)
{
    ASSERT(d != NULL && tok != NULL && obj != NULL && verdict != NULL);
    *verdict = DELIVERY_TOKEN_UNKNOWN;
    if (!token_well_formed(secret)) {
        err_set(err, ERR_NOT_FOUND, "token", "no such download token");
        return ERR_OK;
    }
    char hash[STORE_HASH_HEX_MAX];
    token_hash(d, secret, hash);
    enum err rc = store_download_token_find_hash(d->store, hash, tok, err);
    if (rc == ERR_NOT_FOUND) {
        err_set(err, ERR_NOT_FOUND, "token", "no such download token");
        return ERR_OK;
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct delivery_contract k;
    memset(&k, 0, sizeof(k));
    if (contract_read != NULL) {
        rc = contract_read(contract_ctx, tok->contract_id, &k, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    struct errbuf why;
    errbuf_init(&why);
    if (token_judge(tok, caller_id, now_ms, contract_read != NULL ? &k : NULL, verdict, &why) !=
        ERR_OK) {
        if (err != NULL) {
            *err = why;
        }
        return ERR_OK;
    }
    return store_object_get(d->store, tok->object_id, obj, err);
}

enum err delivery_download_record(struct delivery_custody *d,
                                  const struct store_download_token *tok,
                                  const struct store_object *obj, int64_t first, int64_t last,
                                  struct errbuf *err)
{
    ASSERT(first >= 0 && (last < obj->size || obj->size == 0));
    enum err rc = store_tx_begin(d->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int64_t now = clock_now(d->clock);
    int64_t seq = 0;
    int64_t bytes = obj->size == 0 ? 0 : last - first + 1;
    /* The buyer's copy is the object's bytes (fingerprinted copies will name their own). */
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b}", "token_id", tok->id,
                             "contract_id", tok->contract_id, "buyer_id", tok->buyer_id,
                             "object_id", obj->id, "sha256", obj->sha256, "first_byte",
                             (json_int_t)first, "last_byte", (json_int_t)last, "bytes",
                             (json_int_t)bytes, "complete", first == 0 && bytes == obj->size);
    rc = delivery__event(d, "delivery.downloaded", tok->buyer_id, tok->contract_id, now, body, &seq,
                         err);
    json_decref(body);
    if (rc != ERR_OK) {
        store_tx_rollback(d->store);
        return rc;
    }
    return store_tx_commit(d->store, err);
}
