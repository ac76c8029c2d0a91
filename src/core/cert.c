/*
 * cert.c: the operator's qualification certificates (data-provider, trading, cross-border)
 * and the rules for who may hold which.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* Which kinds may hold each certificate type. */
static int cert_allowed(enum core_cert_type type, enum core_kind kind)
{
    switch (type) {
    case CORE_CERT_DATA_PROVIDER:
        return kind == CORE_KIND_PROVIDER || kind == CORE_KIND_BROKER;
    case CORE_CERT_TRADING:
    case CORE_CERT_CROSS_BORDER:
        return kind == CORE_KIND_PROVIDER || kind == CORE_KIND_BUYER || kind == CORE_KIND_BROKER;
    default:
        return 0;
    }
}

enum err core_cert_active(struct core *c, const char *entity_id, enum core_cert_type type,
                          int *active, struct errbuf *err)
{
    struct store_cert *certs = NULL;
    size_t n = 0;
    *active = 0;
    enum err rc = store_cert_list(c->store, entity_id, &certs, &n, err);
    if (rc != ERR_OK) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(certs[i].type, core_cert_type_name(type)) == 0 &&
            strcmp(certs[i].status, "active") == 0) {
            *active = 1;
        }
    }
    mem_free(certs);
    return ERR_OK;
}

static enum err issue_checks(struct core *c, const struct store_entity *e, enum core_cert_type type,
                             struct errbuf *err)
{
    enum core_kind kind;
    if (core_kind_parse(e->kind, &kind) != ERR_OK) {
        return err_set(err, ERR_CORRUPT, "", "entity '%s' has unknown kind", e->id);
    }
    if (strcmp(e->status, core_status_name(CORE_STATUS_VERIFIED)) != 0) {
        return err_set(err, ERR_BAD_STATE, "id", "certificates go to verified entities; '%s' is %s",
                       e->id, e->status);
    }
    if (!cert_allowed(type, kind)) {
        return err_set(err, ERR_INVALID, "type", "a %s cannot hold a %s certificate", e->kind,
                       core_cert_type_name(type));
    }
    int active = 0;
    enum err rc = core_cert_active(c, e->id, type, &active, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (active) {
        return err_set(err, ERR_CONFLICT, "type", "'%s' already holds an active %s certificate",
                       e->id, core_cert_type_name(type));
    }
    if (type == CORE_CERT_CROSS_BORDER) {
        rc = core_cert_active(c, e->id, CORE_CERT_TRADING, &active, err);
        if (rc != ERR_OK) {
            return rc;
        }
        if (!active) {
            return err_set(err, ERR_BAD_STATE, "type",
                           "a cross_border certificate needs an active trading certificate");
        }
    }
    return ERR_OK;
}

enum err core_cert_issue(struct core *c, const struct core_principal *who, const char *entity_id,
                         const char *type, struct store_cert *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (who->kind != CORE_KIND_OPERATOR) {
        return err_set(err, ERR_FORBIDDEN, "", "only the operator issues certificates");
    }
    if (!id_valid(entity_id, "ent")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not an entity id",
                       entity_id ? entity_id : "");
    }
    enum core_cert_type t;
    if (type == NULL || core_cert_type_parse(type, &t) != ERR_OK) {
        return err_set(err, ERR_INVALID, "type",
                       "type must be data_provider, trading or cross_border");
    }
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_entity e;
    struct store_cert cert;
    memset(&cert, 0, sizeof(cert));
    json_t *body = NULL;
    rc = store_entity_get(c->store, entity_id, &e, err);
    if (rc == ERR_OK) {
        rc = issue_checks(c, &e, t, err);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    id_new(c->rng, "crt", cert.id);
    snprintf(cert.entity_id, sizeof(cert.entity_id), "%s", e.id);
    snprintf(cert.type, sizeof(cert.type), "%s", type);
    snprintf(cert.status, sizeof(cert.status), "%s", "active");
    cert.issued_ms = clock_now(c->clock);
    cert.revoke_log_index = -1;
    body = json_pack("{s:s, s:s, s:s}", "id", cert.id, "entity_id", e.id, "type", type);
    if (body == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    rc = store_event_append(c->store, "certificate.issued", who->id, e.id, cert.issued_ms, body,
                            &cert.log_index, err);
    if (rc == ERR_OK) {
        rc = store_cert_insert(c->store, &cert, err);
    }
out:
    json_decref(body);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc == ERR_OK) {
        *out = cert;
    }
    return rc;
}

enum err core_cert_revoke(struct core *c, const struct core_principal *who, const char *entity_id,
                          const char *cert_id, const char *reason, struct store_cert *out,
                          struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (who->kind != CORE_KIND_OPERATOR) {
        return err_set(err, ERR_FORBIDDEN, "", "only the operator revokes certificates");
    }
    if (!id_valid(entity_id, "ent")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not an entity id",
                       entity_id ? entity_id : "");
    }
    if (!id_valid(cert_id, "crt")) {
        return err_set(err, ERR_INVALID, "cert_id", "'%s' is not a certificate id",
                       cert_id ? cert_id : "");
    }
    reason = reason != NULL ? reason : "";
    if (strlen(reason) >= STORE_REASON_MAX || !text_valid_utf8(reason, strlen(reason)) ||
        text_utf8_chars(reason, strlen(reason)) > CORE_REASON_CHARS_MAX) {
        return err_set(err, ERR_INVALID, "reason", "reason must be UTF-8 of at most %d characters",
                       CORE_REASON_CHARS_MAX);
    }
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_cert cert;
    json_t *body = NULL;
    rc = store_cert_get(c->store, cert_id, &cert, err);
    if (rc == ERR_OK && strcmp(cert.entity_id, entity_id) != 0) {
        rc = err_set(err, ERR_NOT_FOUND, "cert_id", "entity '%s' has no certificate '%s'",
                     entity_id, cert_id);
    }
    if (rc == ERR_OK && strcmp(cert.status, "active") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "cert_id", "certificate '%s' is already revoked", cert_id);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    cert.revoked_ms = clock_now(c->clock);
    snprintf(cert.status, sizeof(cert.status), "%s", "revoked");
    snprintf(cert.reason, sizeof(cert.reason), "%s", reason);
    body = json_pack("{s:s, s:s, s:s, s:s}", "id", cert.id, "entity_id", cert.entity_id, "type",
                     cert.type, "reason", reason);
    if (body == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    rc = store_event_append(c->store, "certificate.revoked", who->id, cert.entity_id,
                            cert.revoked_ms, body, &cert.revoke_log_index, err);
    if (rc == ERR_OK) {
        rc = store_cert_update(c->store, &cert, err);
    }
out:
    json_decref(body);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc == ERR_OK) {
        *out = cert;
    }
    return rc;
}
