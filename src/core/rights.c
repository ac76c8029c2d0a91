/*
 * rights.c: the three rights certificates of a product revision (design §2 step 3: holding of
 * the data resource, processing and use, commercial operation) and what can happen to them:
 * licensing, transfer, pledge as collateral and release, revocation.
 *
 * A certificate is a canonical JSON document bound to the revision's content hash and signed
 * with the operator's Ed25519 key, so that anyone holding the exchange's public key (GET
 * /v1/exchange) can check it offline, without trusting the server that shows it. The key
 * itself never reaches core: signing goes through the injected c->operator_signer. Each
 * signature is verified again before it is stored (a signer that returns garbage is caught
 * here, not by a bank months later). The document names its holder, so a transfer issues a
 * new version chained to the old one by its SHA-256; the other steps do not change who
 * holds what and are recorded as events and history rows only, as a certificate registry
 * records them.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

_Static_assert(crypto_sign_BYTES == 64, "Ed25519 signatures are 64 bytes");
_Static_assert(sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL) == STORE_SIGNATURE_MAX,
               "a base64 signature fills its column");

#define RIGHTS_DOC_TYPE "bourse/rights-certificate"

enum entity_role_flags {
    ROLE_HOLDER = 1 << 0,   /* providers, brokers, buyers: whoever may hold data */
    ROLE_CREDITOR = 1 << 1, /* any verified market entity but the operator and regulators */
};

static int role_allows(unsigned roles, enum core_kind kind)
{
    if (roles & ROLE_HOLDER) {
        return kind == CORE_KIND_PROVIDER || kind == CORE_KIND_BROKER || kind == CORE_KIND_BUYER;
    }
    return kind != CORE_KIND_OPERATOR && kind != CORE_KIND_REGULATOR;
}

/* Loads a verified entity that may take the role. */
static enum err party_load(struct core *c, const char *id, const char *field, unsigned roles,
                           struct store_entity *out, struct errbuf *err)
{
    if (!id_valid(id, "ent")) {
        return err_set(err, ERR_INVALID, field, "'%s' is not an entity id", id != NULL ? id : "");
    }
    enum err rc = store_entity_get(c->store, id, out, err);
    if (rc == ERR_NOT_FOUND) {
        return err_set(err, ERR_NOT_FOUND, field, "no entity '%s'", id);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    enum core_kind kind;
    if (core_kind_parse(out->kind, &kind) != ERR_OK) {
        return err_set(err, ERR_CORRUPT, "", "entity '%s' has unknown kind", id);
    }
    if (strcmp(out->status, core_status_name(CORE_STATUS_VERIFIED)) != 0) {
        return err_set(err, ERR_BAD_STATE, field, "entity '%s' is %s, not verified", id,
                       out->status);
    }
    if (!role_allows(roles, kind)) {
        return err_set(err, ERR_INVALID, field, "a %s cannot take this part", out->kind);
    }
    return ERR_OK;
}

enum err core_rights_verify(const char *document, const char *signature_b64,
                            const char *public_key_b64, struct errbuf *err)
{
    if (document == NULL || signature_b64 == NULL || public_key_b64 == NULL) {
        return err_set(err, ERR_INVALID, "", "document, signature and key are required");
    }
    json_t *doc = json_loads(document, JSON_REJECT_DUPLICATES, NULL);
    char *canonical = json_is_object(doc) ? core__canonical(doc) : NULL;
    int oom = json_is_object(doc) && canonical == NULL;
    int same = canonical != NULL && strcmp(canonical, document) == 0;
    json_decref(doc);
    mem_free(canonical);
    if (oom) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (!same) {
        return err_set(err, ERR_INVALID, "document", "the document is not canonical JSON");
    }
    unsigned char sig[crypto_sign_BYTES], pk[crypto_sign_PUBLICKEYBYTES];
    size_t sig_len = 0, pk_len = 0;
    if (sodium_base642bin(sig, sizeof(sig), signature_b64, strlen(signature_b64), NULL, &sig_len,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        sig_len != sizeof(sig)) {
        return err_set(err, ERR_INVALID, "signature", "signature must be base64 of 64 bytes");
    }
    if (sodium_base642bin(pk, sizeof(pk), public_key_b64, strlen(public_key_b64), NULL, &pk_len,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        pk_len != sizeof(pk)) {
        return err_set(err, ERR_INVALID, "public_key", "public key must be base64 of 32 bytes");
    }
    if (crypto_sign_verify_detached(sig, (const unsigned char *)document, strlen(document), pk) !=
        0) {
        return err_set(err, ERR_CORRUPT, "signature", "the signature does not verify");
    }
    return ERR_OK;
}

/* The parts of a document that do not come from the certificate row. */
struct doc_parts {
    const struct store_entity *holder;
    const char *issuer_id;
    int64_t revision_number;
    const char *previous_sha256; /* NULL for version 1 */
    int64_t at_ms;
};

/* Builds r's document for r->version from its row and parts, signs it with the operator's key
 * and checks the signature before anything is stored. */
static enum err document_sign(struct core *c, struct store_rights *r, const struct doc_parts *dp,
                              struct errbuf *err)
{
    const struct core_signer *signer = c->operator_signer;
    if (signer == NULL) {
        return err_set(err, ERR_UNAVAILABLE, "",
                       "this node holds no operator signing key and cannot issue certificates");
    }
    char at[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(dp->at_ms, at);
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:{s:s, s:s}, s:s?, s:s, s:I, s:s, s:s, s:s, s:i, "
        "s:I}",
        "content_hash", r->content_hash, "holder", "id", dp->holder->id, "name", dp->holder->name,
        "uscc", dp->holder->uscc, "id", r->id, "issued_at", at, "issuer", "id", dp->issuer_id,
        "public_key", signer->public_key, "previous", dp->previous_sha256, "product_id",
        r->product_id, "revision", (json_int_t)dp->revision_number, "revision_id", r->revision_id,
        "right", r->right, "type", RIGHTS_DOC_TYPE, "v", 1, "version", (json_int_t)r->version);
    char *text = doc != NULL ? core__canonical(doc) : NULL;
    json_decref(doc);
    if (text == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    size_t len = strlen(text);
    if (len >= sizeof(r->document)) {
        mem_free(text);
        return err_set(err, ERR_LIMIT, "", "certificate document is %zu bytes, over %zu", len,
                       sizeof(r->document) - 1);
    }
    unsigned char sig[crypto_sign_BYTES];
    enum err rc = signer->sign(signer->ctx, (const unsigned char *)text, len, sig, err);
    if (rc == ERR_OK) {
        memcpy(r->document, text, len + 1);
        sodium_bin2base64(r->signature, sizeof(r->signature), sig, sizeof(sig),
                          sodium_base64_VARIANT_ORIGINAL);
        rc = core_rights_verify(r->document, r->signature, signer->public_key, err);
        if (rc != ERR_OK) {
            rc = err_set(err, ERR_CORRUPT, "", "the operator signer made a bad signature");
        }
    }
    mem_free(text);
    return rc;
}

/* Appends the event of a step, then writes the row and its history. Inside a transaction;
 * body is borrowed. */
static enum err step_record(struct core *c, const struct core_principal *who,
                            struct store_rights *r, const char *action, json_t *body,
                            const char *counterparty, const char *terms, struct errbuf *err)
{
    char type[STORE_EVENT_TYPE_MAX];
    snprintf(type, sizeof(type), "rights.%s", action);
    int64_t now = clock_now(c->clock);
    int64_t seq = -1;
    if (body == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = store_event_append(c->store, type, who->id, r->id, now, body, &seq, err);
    if (rc != ERR_OK) {
        return rc;
    }
    r->updated_ms = now;
    r->log_index = seq;
    if (strcmp(action, "issued") == 0) {
        r->issued_ms = now;
        r->issue_log_index = seq;
        rc = store_rights_insert(c->store, r, err);
    } else {
        rc = store_rights_update(c->store, r, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_rights_event *e = mem_calloc(1, sizeof(*e));
    if (e == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    e->log_index = seq;
    snprintf(e->rights_id, sizeof(e->rights_id), "%s", r->id);
    snprintf(e->action, sizeof(e->action), "%s", action);
    snprintf(e->actor, sizeof(e->actor), "%s", who->id);
    snprintf(e->holder_id, sizeof(e->holder_id), "%s", r->holder_id);
    snprintf(e->counterparty, sizeof(e->counterparty), "%s", counterparty ? counterparty : "");
    snprintf(e->terms, sizeof(e->terms), "%s", terms != NULL ? terms : "");
    e->version = r->version;
    e->at_ms = now;
    rc = store_rights_event_insert(c->store, e, err);
    mem_free(e);
    return rc;
}

/* Ends a step's transaction: commits and copies r out, or rolls back. */
static enum err step_end(struct core *c, enum err rc, const struct store_rights *r,
                         struct store_rights *out, struct errbuf *err)
{
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc == ERR_OK) {
        *out = *r;
    }
    return rc;
}

static enum err issue_checks(struct core *c, const struct store_revision *rev, const char *right,
                             struct errbuf *err)
{
    enum core_sensitivity s;
    if (core_sensitivity_parse(rev->sensitivity, &s) != ERR_OK || s == CORE_SENS_CORE) {
        return err_set(err, ERR_FORBIDDEN, "revision_id", "core data carries no tradable rights");
    }
    int64_t live = 0;
    enum err rc = store_rights_count_live(c->store, rev->id, right, &live, err);
    if (rc == ERR_OK && live > 0) {
        rc = err_set(err, ERR_CONFLICT, "right",
                     "revision '%s' already has a live %s right certificate", rev->id, right);
    }
    return rc;
}

enum err core_rights_issue(struct core *c, const struct core_principal *who,
                           const char *revision_id, const char *right, const char *holder_id,
                           struct store_rights *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (who->kind != CORE_KIND_OPERATOR) {
        return err_set(err, ERR_FORBIDDEN, "", "only the operator issues rights certificates");
    }
    enum core_right rt;
    if (right == NULL || core_right_parse(right, &rt) != ERR_OK) {
        return err_set(err, ERR_INVALID, "right", "right must be holding, processing or operation");
    }
    if (!id_valid(revision_id, "rev")) {
        return err_set(err, ERR_INVALID, "revision_id", "'%s' is not a revision id",
                       revision_id != NULL ? revision_id : "");
    }
    struct store_revision rev;
    memset(&rev, 0, sizeof(rev));
    struct store_rights *r = mem_calloc(1, sizeof(*r));
    struct store_entity *holder = mem_calloc(1, sizeof(*holder));
    json_t *body = NULL;
    if (r == NULL || holder == NULL) {
        mem_free(r);
        mem_free(holder);
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        goto out_free;
    }
    rc = store_revision_get(c->store, revision_id, &rev, err);
    if (rc == ERR_OK) {
        rc = issue_checks(c, &rev, right, err);
    }
    if (rc == ERR_OK) {
        rc = party_load(c, holder_id != NULL ? holder_id : rev.provider_id, "holder_id",
                        ROLE_HOLDER, holder, err);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    id_new(c->rng, "rgt", r->id);
    snprintf(r->product_id, sizeof(r->product_id), "%s", rev.product_id);
    snprintf(r->revision_id, sizeof(r->revision_id), "%s", rev.id);
    snprintf(r->content_hash, sizeof(r->content_hash), "%s", rev.content_hash);
    snprintf(r->right, sizeof(r->right), "%s", right);
    snprintf(r->holder_id, sizeof(r->holder_id), "%s", holder->id);
    snprintf(r->status, sizeof(r->status), "%s", "active");
    r->version = 1;
    struct doc_parts dp = {holder, who->id, rev.number, NULL, clock_now(c->clock)};
    rc = document_sign(c, r, &dp, err);
    if (rc != ERR_OK) {
        goto out;
    }
    body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "id", r->id, "right", right,
                     "product_id", r->product_id, "revision_id", r->revision_id, "content_hash",
                     r->content_hash, "holder_id", r->holder_id, "version", (json_int_t)r->version,
                     "document", r->document, "signature", r->signature);
    rc = step_record(c, who, r, "issued", body, holder->id, NULL, err);
out:
    json_decref(body);
    rc = step_end(c, rc, r, out, err);
out_free:
    store_revision_release(&rev);
    mem_free(holder);
    mem_free(r);
    return rc;
}

/* Opens a step: checks the id, begins the transaction and loads the certificate, which must
 * not be revoked. On failure nothing is left open. */
static enum err step_begin(struct core *c, const char *id, struct store_rights *r,
                           struct errbuf *err)
{
    if (!id_valid(id, "rgt")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not a rights certificate id",
                       id != NULL ? id : "");
    }
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_rights_get(c->store, id, r, err);
    if (rc == ERR_OK && strcmp(r->status, "revoked") == 0) {
        rc = err_set(err, ERR_BAD_STATE, "id", "certificate '%s' is revoked", id);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
    }
    return rc;
}

static enum err terms_check(const char *field, const char *terms, int required, struct errbuf *err)
{
    if (terms != NULL && strlen(terms) >= STORE_REASON_MAX) {
        return err_set(err, ERR_INVALID, field, "'%s' is too long", field);
    }
    return core__text_check(field, terms, CORE_TERMS_CHARS_MAX, required, err);
}

enum err core_rights_license(struct core *c, const struct core_principal *who, const char *id,
                             const char *licensee_id, const char *terms, struct store_rights *out,
                             struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    enum err rc = terms_check("terms", terms, 1, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_rights *r = mem_calloc(1, sizeof(*r));
    struct store_entity *licensee = mem_calloc(1, sizeof(*licensee));
    json_t *body = NULL;
    if (r == NULL || licensee == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
        goto out_free;
    }
    rc = step_begin(c, id, r, err);
    if (rc != ERR_OK) {
        goto out_free;
    }
    if (strcmp(r->holder_id, who->id) != 0) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "only the holder licenses a right");
    }
    if (rc == ERR_OK) {
        rc = party_load(c, licensee_id, "licensee_id", ROLE_HOLDER, licensee, err);
    }
    if (rc == ERR_OK && strcmp(licensee->id, r->holder_id) == 0) {
        rc = err_set(err, ERR_INVALID, "licensee_id", "the holder cannot license itself");
    }
    if (rc == ERR_OK) {
        body = json_pack("{s:s, s:s, s:s, s:s}", "id", r->id, "holder_id", r->holder_id,
                         "licensee_id", licensee->id, "terms", terms);
        rc = step_record(c, who, r, "licensed", body, licensee->id, terms, err);
    }
    json_decref(body);
    rc = step_end(c, rc, r, out, err);
out_free:
    mem_free(licensee);
    mem_free(r);
    return rc;
}

/* The issuer and revision number recorded in the current document. */
static enum err document_origin(const struct store_rights *r, char issuer[ID_MAX],
                                int64_t *revision, struct errbuf *err)
{
    json_t *doc = json_loads(r->document, JSON_REJECT_DUPLICATES, NULL);
    const char *id = json_string_value(json_object_get(json_object_get(doc, "issuer"), "id"));
    json_t *n = json_object_get(doc, "revision");
    enum err rc = ERR_OK;
    if (id == NULL || !json_is_integer(n) || strlen(id) >= ID_MAX) {
        rc = err_set(err, ERR_CORRUPT, "", "certificate '%s' has a malformed document", r->id);
    } else {
        snprintf(issuer, ID_MAX, "%s", id);
        *revision = json_integer_value(n);
    }
    json_decref(doc);
    return rc;
}

static enum err transfer_apply(struct core *c, const struct core_principal *who,
                               struct store_rights *r, const struct store_entity *to,
                               struct errbuf *err)
{
    char issuer[ID_MAX];
    int64_t number = 0;
    char previous[STORE_HASH_HEX_MAX];
    char from[ID_MAX];
    enum err rc = document_origin(r, issuer, &number, err);
    if (rc != ERR_OK) {
        return rc;
    }
    core__sha256_hex(r->document, strlen(r->document), previous);
    snprintf(from, sizeof(from), "%s", r->holder_id);
    snprintf(r->holder_id, sizeof(r->holder_id), "%s", to->id);
    r->version++;
    struct doc_parts dp = {to, issuer, number, previous, clock_now(c->clock)};
    rc = document_sign(c, r, &dp, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "id", r->id, "from", from, "to",
                             to->id, "version", (json_int_t)r->version, "previous", previous,
                             "document", r->document, "signature", r->signature);
    rc = step_record(c, who, r, "transferred", body, to->id, NULL, err);
    json_decref(body);
    return rc;
}

enum err core_rights_transfer(struct core *c, const struct core_principal *who, const char *id,
                              const char *to_id, struct store_rights *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    struct store_rights *r = mem_calloc(1, sizeof(*r));
    struct store_entity *to = mem_calloc(1, sizeof(*to));
    enum err rc = ERR_OK;
    if (r == NULL || to == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
        goto out_free;
    }
    rc = step_begin(c, id, r, err);
    if (rc != ERR_OK) {
        goto out_free;
    }
    if (strcmp(r->holder_id, who->id) != 0 && who->kind != CORE_KIND_OPERATOR) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "only the holder or the operator transfers a right");
    }
    if (rc == ERR_OK && strcmp(r->status, "pledged") == 0) {
        rc = err_set(err, ERR_BAD_STATE, "id",
                     "certificate '%s' is pledged to '%s': release the pledge before a transfer",
                     r->id, r->pledgee_id);
    }
    if (rc == ERR_OK) {
        rc = party_load(c, to_id, "to", ROLE_HOLDER, to, err);
    }
    if (rc == ERR_OK && strcmp(to->id, r->holder_id) == 0) {
        rc = err_set(err, ERR_INVALID, "to", "'%s' already holds this certificate", to->id);
    }
    if (rc == ERR_OK) {
        rc = transfer_apply(c, who, r, to, err);
    }
    rc = step_end(c, rc, r, out, err);
out_free:
    mem_free(to);
    mem_free(r);
    return rc;
}

enum err core_rights_pledge(struct core *c, const struct core_principal *who, const char *id,
                            const char *creditor_id, const char *terms, struct store_rights *out,
                            struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    enum err rc = terms_check("terms", terms, 0, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_rights *r = mem_calloc(1, sizeof(*r));
    struct store_entity *creditor = mem_calloc(1, sizeof(*creditor));
    json_t *body = NULL;
    if (r == NULL || creditor == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
        goto out_free;
    }
    rc = step_begin(c, id, r, err);
    if (rc != ERR_OK) {
        goto out_free;
    }
    if (strcmp(r->holder_id, who->id) != 0) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "only the holder pledges a right");
    }
    if (rc == ERR_OK && strcmp(r->status, "active") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "id", "certificate '%s' is already pledged to '%s'", r->id,
                     r->pledgee_id);
    }
    if (rc == ERR_OK) {
        rc = party_load(c, creditor_id, "creditor_id", ROLE_CREDITOR, creditor, err);
    }
    if (rc == ERR_OK && strcmp(creditor->id, r->holder_id) == 0) {
        rc = err_set(err, ERR_INVALID, "creditor_id", "the holder cannot be its own creditor");
    }
    if (rc == ERR_OK) {
        snprintf(r->status, sizeof(r->status), "%s", "pledged");
        snprintf(r->pledgee_id, sizeof(r->pledgee_id), "%s", creditor->id);
        body = json_pack("{s:s, s:s, s:s, s:s}", "id", r->id, "holder_id", r->holder_id,
                         "creditor_id", creditor->id, "terms", terms != NULL ? terms : "");
        rc = step_record(c, who, r, "pledged", body, creditor->id, terms, err);
    }
    json_decref(body);
    rc = step_end(c, rc, r, out, err);
out_free:
    mem_free(creditor);
    mem_free(r);
    return rc;
}

enum err core_rights_release(struct core *c, const struct core_principal *who, const char *id,
                             struct store_rights *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    struct store_rights *r = mem_calloc(1, sizeof(*r));
    if (r == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    json_t *body = NULL;
    enum err rc = step_begin(c, id, r, err);
    if (rc != ERR_OK) {
        mem_free(r);
        return rc;
    }
    if (strcmp(r->status, "pledged") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "id", "certificate '%s' is not pledged", r->id);
    } else if (strcmp(r->pledgee_id, who->id) != 0 && who->kind != CORE_KIND_OPERATOR) {
        rc = err_set(err, ERR_FORBIDDEN, "id",
                     "only the creditor or the operator releases a pledge");
    }
    if (rc == ERR_OK) {
        char creditor[ID_MAX];
        snprintf(creditor, sizeof(creditor), "%s", r->pledgee_id);
        snprintf(r->status, sizeof(r->status), "%s", "active");
        r->pledgee_id[0] = '\0';
        body = json_pack("{s:s, s:s, s:s}", "id", r->id, "holder_id", r->holder_id, "creditor_id",
                         creditor);
        rc = step_record(c, who, r, "released", body, creditor, NULL, err);
    }
    json_decref(body);
    rc = step_end(c, rc, r, out, err);
    mem_free(r);
    return rc;
}

enum err core_rights_revoke(struct core *c, const struct core_principal *who, const char *id,
                            const char *reason, struct store_rights *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (who->kind != CORE_KIND_OPERATOR) {
        return err_set(err, ERR_FORBIDDEN, "", "only the operator revokes rights certificates");
    }
    enum err rc = terms_check("reason", reason, 1, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_rights *r = mem_calloc(1, sizeof(*r));
    if (r == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    rc = step_begin(c, id, r, err);
    if (rc != ERR_OK) {
        mem_free(r);
        return rc;
    }
    snprintf(r->status, sizeof(r->status), "%s", "revoked");
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "id", r->id, "holder_id", r->holder_id,
                             "pledgee_id", r->pledgee_id, "reason", reason);
    rc = step_record(c, who, r, "revoked", body, NULL, reason, err);
    json_decref(body);
    rc = step_end(c, rc, r, out, err);
    mem_free(r);
    return rc;
}

enum err core_rights_get(struct core *c, const char *id, struct store_rights *out,
                         struct errbuf *err)
{
    ASSERT(c != NULL && out != NULL);
    if (!id_valid(id, "rgt")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not a rights certificate id",
                       id != NULL ? id : "");
    }
    return store_rights_get(c->store, id, out, err);
}

enum err core_rights_list(struct core *c, const struct core_principal *who,
                          const struct store_rights_filter *filter, struct store_rights_page *page,
                          struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && filter != NULL && page != NULL);
    enum core_right rt;
    if (filter->right != NULL && core_right_parse(filter->right, &rt) != ERR_OK) {
        return err_set(err, ERR_INVALID, "right", "unknown right '%s'", filter->right);
    }
    static const char *const statuses[] = {"active", "pledged", "revoked"};
    int status_ok = filter->status == NULL;
    for (size_t i = 0; i < ARRAY_LEN(statuses) && !status_ok; i++) {
        status_ok = strcmp(statuses[i], filter->status) == 0;
    }
    if (!status_ok) {
        return err_set(err, ERR_INVALID, "status", "status must be active, pledged or revoked");
    }
    const struct {
        const char *value;
        const char *prefix;
        const char *field;
    } ids[] = {{filter->revision_id, "rev", "revision_id"},
               {filter->product_id, "prd", "product_id"},
               {filter->holder_id, "ent", "holder_id"}};
    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        if (ids[i].value != NULL && !id_valid(ids[i].value, ids[i].prefix)) {
            return err_set(err, ERR_INVALID, ids[i].field, "'%s' is not a valid id", ids[i].value);
        }
    }
    struct store_rights_filter f = *filter;
    f.visible_to = core__sees_all(who) ? NULL : who->id;
    return store_rights_list(c->store, &f, page, err);
}
