/*
 * key.c: API keys. A key's secret is "bsk_" followed by 43 base64url characters (32 random
 * bytes); the store keeps only BLAKE2b(secret) keyed with the exchange's hash key, so a copy of
 * the database alone does not let anyone authenticate. A secret is shown exactly once.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

#define KEY_PREFIX "bsk_"
#define KEY_RANDOM_BYTES 32
#define KEY_SECRET_LEN (4 + 43)
_Static_assert(KEY_SECRET_LEN < CORE_API_SECRET_MAX, "secret fits its buffer");

static void key_hash(const struct core *c, const char *secret, char out[STORE_HASH_HEX_MAX])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), (const unsigned char *)secret, strlen(secret),
                       c->api_key_hash_key, sizeof(c->api_key_hash_key));
    sodium_bin2hex(out, STORE_HASH_HEX_MAX, h, sizeof(h));
}

void core__key_prepare(struct core *c, const char *entity_id, const char *label, int64_t now_ms,
                       struct core_new_key *key)
{
    memset(key, 0, sizeof(*key));
    id_new(c->rng, "key", key->key.id);
    snprintf(key->key.entity_id, sizeof(key->key.entity_id), "%s", entity_id);
    snprintf(key->key.label, sizeof(key->key.label), "%s", label);
    key->key.created_ms = now_ms;
    unsigned char raw[KEY_RANDOM_BYTES];
    rng_fill(c->rng, raw, sizeof(raw));
    memcpy(key->secret, KEY_PREFIX, 4);
    sodium_bin2base64(key->secret + 4, sizeof(key->secret) - 4, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    ASSERT(strlen(key->secret) == KEY_SECRET_LEN);
    key_hash(c, key->secret, key->key.secret_hash);
}

enum err core_key_create(struct core *c, const struct core_principal *who, const char *entity_id,
                         const char *label, struct core_new_key *key, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && key != NULL);
    if (!id_valid(entity_id, "ent")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not an entity id",
                       entity_id ? entity_id : "");
    }
    label = label != NULL ? label : "";
    size_t len = strlen(label);
    if (len >= STORE_CONTACT_MAX || !text_valid_utf8(label, len) ||
        text_utf8_chars(label, len) > CORE_LABEL_CHARS_MAX) {
        return err_set(err, ERR_INVALID, "label", "label must be UTF-8 of at most %d characters",
                       CORE_LABEL_CHARS_MAX);
    }
    int own = strcmp(who->id, entity_id) == 0;
    if (who->kind != CORE_KIND_OPERATOR && !(own && core_principal_active(who))) {
        return err_set(err, ERR_FORBIDDEN, "",
                       "only the operator or the verified entity itself creates its keys");
    }
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_entity e;
    json_t *body = NULL;
    rc = store_entity_get(c->store, entity_id, &e, err);
    if (rc != ERR_OK) {
        goto out;
    }
    core__key_prepare(c, e.id, label, clock_now(c->clock), key);
    body = json_pack("{s:s, s:s, s:s}", "id", key->key.id, "entity_id", e.id, "label", label);
    if (body == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    rc = store_event_append(c->store, "apikey.created", who->id, e.id, key->key.created_ms, body,
                            &key->key.log_index, err);
    if (rc == ERR_OK) {
        rc = store_api_key_insert(c->store, &key->key, err);
    }
out:
    json_decref(body);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        sodium_memzero(key->secret, sizeof(key->secret));
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc != ERR_OK) {
        sodium_memzero(key->secret, sizeof(key->secret));
    }
    return rc;
}

enum err core_key_revoke(struct core *c, const struct core_principal *who, const char *key_id,
                         struct store_api_key *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (!id_valid(key_id, "key")) {
        return err_set(err, ERR_INVALID, "key_id", "'%s' is not an api key id",
                       key_id ? key_id : "");
    }
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_api_key k;
    json_t *body = NULL;
    if (who->kind != CORE_KIND_OPERATOR && !core_principal_active(who)) {
        rc = err_set(err, ERR_FORBIDDEN, "",
                     "an entity that is not verified may read only its own record");
        goto out;
    }
    rc = store_api_key_get(c->store, key_id, &k, err);
    if (rc == ERR_OK && who->kind != CORE_KIND_OPERATOR && strcmp(k.entity_id, who->id) != 0) {
        /* Someone else's key: do not reveal that it exists. */
        rc = err_set(err, ERR_NOT_FOUND, "key_id", "no api key '%s'", key_id);
    }
    if (rc == ERR_OK && k.revoked_ms != 0) {
        rc = err_set(err, ERR_BAD_STATE, "key_id", "api key '%s' is already revoked", key_id);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    k.revoked_ms = clock_now(c->clock);
    body = json_pack("{s:s, s:s}", "id", k.id, "entity_id", k.entity_id);
    if (body == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    int64_t seq = -1;
    rc = store_event_append(c->store, "apikey.revoked", who->id, k.entity_id, k.revoked_ms, body,
                            &seq, err);
    if (rc == ERR_OK) {
        k.log_index = seq;
        rc = store_api_key_revoke(c->store, &k, err);
    }
out:
    json_decref(body);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc == ERR_OK) {
        *out = k;
    }
    return rc;
}

static int secret_well_formed(const char *s)
{
    if (s == NULL || strlen(s) != KEY_SECRET_LEN || memcmp(s, KEY_PREFIX, 4) != 0) {
        return 0;
    }
    for (const char *p = s + 4; *p != '\0'; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '-' || *p == '_';
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

enum err core_authenticate(struct core *c, const char *secret, struct core_principal *out,
                           struct errbuf *err)
{
    ASSERT(c != NULL && out != NULL);
    static const char *const msg = "unknown, malformed or revoked api key";
    if (!secret_well_formed(secret)) {
        return err_set(err, ERR_UNAUTHORIZED, "", "%s", msg);
    }
    char hash[STORE_HASH_HEX_MAX];
    key_hash(c, secret, hash);
    struct store_api_key k;
    enum err rc = store_api_key_find_hash(c->store, hash, &k, err);
    if (rc == ERR_NOT_FOUND || (rc == ERR_OK && k.revoked_ms != 0)) {
        return err_set(err, ERR_UNAUTHORIZED, "", "%s", msg);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_entity e;
    rc = store_entity_get(c->store, k.entity_id, &e, err);
    if (rc != ERR_OK) {
        return rc == ERR_NOT_FOUND ? err_set(err, ERR_CORRUPT, "", "key of a missing entity") : rc;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", e.id);
    if (core_kind_parse(e.kind, &out->kind) != ERR_OK ||
        core_status_parse(e.status, &out->status) != ERR_OK) {
        return err_set(err, ERR_CORRUPT, "", "entity '%s' has an unknown kind or status", e.id);
    }
    return ERR_OK;
}
