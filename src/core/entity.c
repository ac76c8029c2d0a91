/*
 * entity.c: applying as a market entity, the operator's review state machine, visibility of
 * entities, and the bootstrap of the operator on an empty exchange.
 *
 * Data Security Law art. 33 asks the exchange to verify both parties' identities and keep the
 * records: every review is a row (who, when, decision, reason) and an event in the log.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static enum err check_text(const char *field, const char *s, size_t max_chars, int required,
                           struct errbuf *err)
{
    if (s == NULL || s[0] == '\0') {
        if (required) {
            return err_set(err, ERR_INVALID, field, "'%s' is required", field);
        }
        return ERR_OK;
    }
    size_t len = strlen(s);
    if (!text_valid_utf8(s, len)) {
        return err_set(err, ERR_INVALID, field, "'%s' is not valid UTF-8 text", field);
    }
    if (text_utf8_chars(s, len) > max_chars) {
        return err_set(err, ERR_INVALID, field, "'%s' is longer than %zu characters", field,
                       max_chars);
    }
    int blank = 1;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            blank = 0;
            break;
        }
    }
    if (blank && required) {
        return err_set(err, ERR_INVALID, field, "'%s' is blank", field);
    }
    return ERR_OK;
}

static enum err check_email(const char *s, struct errbuf *err)
{
    static const char *const field = "contact.email";
    if (s == NULL || s[0] == '\0') {
        return err_set(err, ERR_INVALID, field, "'%s' is required", field);
    }
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    if (len > CORE_EMAIL_BYTES_MAX || at == NULL || at == s || strchr(at + 1, '@') != NULL ||
        strchr(at + 1, '.') == NULL || at[1] == '.' || s[len - 1] == '.') {
        return err_set(err, ERR_INVALID, field, "'%s' is not an email address", s);
    }
    for (const char *p = s; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            return err_set(err, ERR_INVALID, field, "email address contains a space or control");
        }
    }
    return ERR_OK;
}

static enum err check_phone(const char *s, struct errbuf *err)
{
    static const char *const field = "contact.phone";
    if (s == NULL || s[0] == '\0') {
        return ERR_OK;
    }
    if (strlen(s) > CORE_PHONE_BYTES_MAX) {
        return err_set(err, ERR_INVALID, field, "phone number is longer than %d characters",
                       CORE_PHONE_BYTES_MAX);
    }
    int digits = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
        } else if (strchr("+-() ", *p) == NULL) {
            return err_set(err, ERR_INVALID, field, "phone number may hold digits, + - ( ) only");
        }
    }
    if (digits < 3) {
        return err_set(err, ERR_INVALID, field, "phone number has too few digits");
    }
    return ERR_OK;
}

static enum err check_country(const char *s, struct errbuf *err)
{
    if (s == NULL || s[0] == '\0') {
        return err_set(err, ERR_INVALID, "country", "'country' is required");
    }
    if (strlen(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z') {
        return err_set(err, ERR_INVALID, "country",
                       "country must be an ISO 3166-1 alpha-2 code such as CN");
    }
    return ERR_OK;
}

enum err core__public_key_check(const char *b64, struct errbuf *err)
{
    if (b64 == NULL || b64[0] == '\0') {
        return err_set(err, ERR_INVALID, "public_key", "'public_key' is required");
    }
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    size_t len = 0;
    if (strlen(b64) >= STORE_PUBKEY_MAX ||
        sodium_base642bin(pk, sizeof(pk), b64, strlen(b64), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len != sizeof(pk)) {
        return err_set(err, ERR_INVALID, "public_key",
                       "public key must be base64 of 32 raw Ed25519 bytes");
    }
    if (!crypto_core_ed25519_is_valid_point(pk)) {
        return err_set(err, ERR_INVALID, "public_key", "public key is not a valid Ed25519 point");
    }
    return ERR_OK;
}

static enum err check_specialities(enum core_kind kind, const struct core_application *app,
                                   int64_t *flags, struct errbuf *err)
{
    *flags = 0;
    if (kind != CORE_KIND_SERVICE_FIRM) {
        if (app->specialities_count > 0) {
            return err_set(err, ERR_INVALID, "specialities",
                           "only service firms declare specialities");
        }
        return ERR_OK;
    }
    if (app->specialities_count == 0) {
        return err_set(err, ERR_INVALID, "specialities",
                       "a service firm declares at least one speciality");
    }
    for (size_t i = 0; i < app->specialities_count; i++) {
        unsigned flag = 0;
        if (core_speciality_parse(app->specialities[i], &flag) != ERR_OK) {
            return err_set(err, ERR_INVALID, "specialities", "unknown speciality '%s'",
                           app->specialities[i]);
        }
        if (*flags & flag) {
            return err_set(err, ERR_INVALID, "specialities", "speciality '%s' is repeated",
                           app->specialities[i]);
        }
        *flags |= flag;
    }
    return ERR_OK;
}

/* Validates every field of an application and fills the entity row (all but ids and times). */
static enum err application_check(const struct core_application *app, struct store_entity *e,
                                  struct errbuf *err)
{
    enum core_kind kind;
    if (app->kind == NULL || app->kind[0] == '\0') {
        return err_set(err, ERR_INVALID, "kind", "'kind' is required");
    }
    if (core_kind_parse(app->kind, &kind) != ERR_OK) {
        return err_set(err, ERR_INVALID, "kind",
                       "kind must be provider, buyer, broker, service_firm or regulator");
    }
    if (kind == CORE_KIND_OPERATOR) {
        return err_set(err, ERR_INVALID, "kind", "nobody can apply as the operator");
    }
    enum err rc = check_text("name", app->name, CORE_NAME_CHARS_MAX, 1, err);
    if (rc == ERR_OK) {
        rc = check_country(app->country, err);
    }
    if (rc == ERR_OK && (strcmp(app->country, "CN") == 0 || (app->uscc && app->uscc[0]))) {
        rc = core_uscc_validate(app->uscc, err);
    }
    if (rc == ERR_OK) {
        rc = check_text("contact.name", app->contact_name, CORE_CONTACT_CHARS_MAX, 1, err);
    }
    if (rc == ERR_OK) {
        rc = check_email(app->contact_email, err);
    }
    if (rc == ERR_OK) {
        rc = check_phone(app->contact_phone, err);
    }
    if (rc == ERR_OK) {
        rc = core__public_key_check(app->public_key, err);
    }
    if (rc == ERR_OK) {
        rc = check_specialities(kind, app, &e->specialities, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(e->kind, sizeof(e->kind), "%s", app->kind);
    snprintf(e->name, sizeof(e->name), "%s", app->name);
    snprintf(e->uscc, sizeof(e->uscc), "%s", app->uscc != NULL ? app->uscc : "");
    snprintf(e->country, sizeof(e->country), "%s", app->country);
    snprintf(e->contact_name, sizeof(e->contact_name), "%s", app->contact_name);
    snprintf(e->contact_email, sizeof(e->contact_email), "%s", app->contact_email);
    snprintf(e->contact_phone, sizeof(e->contact_phone), "%s",
             app->contact_phone != NULL ? app->contact_phone : "");
    snprintf(e->public_key, sizeof(e->public_key), "%s", app->public_key);
    return ERR_OK;
}

/* The public part of an entity, as recorded in the log. Contacts are personal information
 * and stay out of the public log. */
json_t *core__entity_event_body(const struct store_entity *e)
{
    json_t *specs = json_array();
    for (unsigned i = 0; specs != NULL && i < CORE_SPEC__COUNT; i++) {
        if (e->specialities & (1 << i)) {
            json_array_append_new(specs, json_string(core_speciality_name(i)));
        }
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o*}", "id", e->id, "kind", e->kind, "name",
                     e->name, "uscc", e->uscc, "country", e->country, "public_key", e->public_key,
                     "specialities", specs);
}

enum err core_entity_apply(struct core *c, const struct core_application *app,
                           struct store_entity *out, struct core_new_key *key, struct errbuf *err)
{
    ASSERT(c != NULL && app != NULL && out != NULL && key != NULL);
    struct store_entity e;
    memset(&e, 0, sizeof(e));
    enum err rc = application_check(app, &e, err);
    if (rc != ERR_OK) {
        return rc;
    }
    id_new(c->rng, "ent", e.id);
    snprintf(e.status, sizeof(e.status), "%s", core_status_name(CORE_STATUS_APPLIED));
    e.created_ms = clock_now(c->clock);
    e.updated_ms = e.created_ms;
    json_t *body = NULL;
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (e.uscc[0] != '\0') {
        int64_t n = 0;
        rc = store_entity_count_uscc(c->store, e.uscc, &n, err);
        if (rc == ERR_OK && n > 0) {
            rc = err_set(err, ERR_CONFLICT, "uscc",
                         "an entity with unified social credit code '%s' is already registered",
                         e.uscc);
        }
        if (rc != ERR_OK) {
            goto out;
        }
    }
    core__key_prepare(c, e.id, "initial", e.created_ms, key);
    body = core__entity_event_body(&e);
    if (body == NULL || json_object_set_new(body, "api_key_id", json_string(key->key.id)) != 0) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    rc = store_event_append(c->store, "entity.applied", e.id, e.id, e.created_ms, body,
                            &e.log_index, err);
    if (rc != ERR_OK) {
        goto out;
    }
    key->key.log_index = e.log_index;
    rc = store_entity_insert(c->store, &e, err);
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
    if (rc == ERR_OK) {
        *out = e;
    }
    return rc;
}

struct transition {
    enum core_decision decision;
    enum core_status from;
    enum core_status to;
    const char *event;
};

static const struct transition transitions[] = {
    {CORE_DECISION_VERIFY, CORE_STATUS_APPLIED, CORE_STATUS_VERIFIED, "entity.verified"},
    {CORE_DECISION_REJECT, CORE_STATUS_APPLIED, CORE_STATUS_REJECTED, "entity.rejected"},
    {CORE_DECISION_SUSPEND, CORE_STATUS_VERIFIED, CORE_STATUS_SUSPENDED, "entity.suspended"},
    {CORE_DECISION_REINSTATE, CORE_STATUS_SUSPENDED, CORE_STATUS_VERIFIED, "entity.reinstated"},
};

static enum err review_apply(struct core *c, const struct core_principal *who,
                             struct store_entity *e, enum core_decision decision,
                             const char *reason, struct errbuf *err)
{
    enum core_status from;
    if (core_status_parse(e->status, &from) != ERR_OK) {
        return err_set(err, ERR_CORRUPT, "", "entity '%s' has unknown status '%s'", e->id,
                       e->status);
    }
    const struct transition *t = NULL;
    for (size_t i = 0; i < ARRAY_LEN(transitions); i++) {
        if (transitions[i].decision == decision && transitions[i].from == from) {
            t = &transitions[i];
        }
    }
    if (t == NULL) {
        return err_set(err, ERR_BAD_STATE, "decision", "cannot %s an entity that is %s",
                       core_decision_name(decision), e->status);
    }
    int64_t now = clock_now(c->clock);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", e->id, "decision",
                             core_decision_name(decision), "reason", reason, "from", e->status,
                             "to", core_status_name(t->to));
    if (body == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    int64_t seq = -1;
    enum err rc = store_event_append(c->store, t->event, who->id, e->id, now, body, &seq, err);
    json_decref(body);
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(e->status, sizeof(e->status), "%s", core_status_name(t->to));
    e->updated_ms = now;
    e->log_index = seq;
    rc = store_entity_update_status(c->store, e, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_review r;
    memset(&r, 0, sizeof(r));
    r.log_index = seq;
    snprintf(r.entity_id, sizeof(r.entity_id), "%s", e->id);
    snprintf(r.decision, sizeof(r.decision), "%s", core_decision_name(decision));
    snprintf(r.reason, sizeof(r.reason), "%s", reason);
    snprintf(r.actor, sizeof(r.actor), "%s", who->id);
    r.at_ms = now;
    return store_review_insert(c->store, &r, err);
}

enum err core_entity_review(struct core *c, const struct core_principal *who, const char *id,
                            const char *decision, const char *reason, struct store_entity *out,
                            struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (who->kind != CORE_KIND_OPERATOR) {
        return err_set(err, ERR_FORBIDDEN, "", "only the operator reviews entities");
    }
    if (!id_valid(id, "ent")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not an entity id", id ? id : "");
    }
    enum core_decision d;
    if (decision == NULL || core_decision_parse(decision, &d) != ERR_OK) {
        return err_set(err, ERR_INVALID, "decision",
                       "decision must be verify, reject, suspend or reinstate");
    }
    reason = reason != NULL ? reason : "";
    int need_reason = d == CORE_DECISION_REJECT || d == CORE_DECISION_SUSPEND;
    enum err rc = check_text("reason", reason, CORE_REASON_CHARS_MAX, need_reason, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_entity e;
    rc = store_entity_get(c->store, id, &e, err);
    if (rc == ERR_OK && strcmp(e.kind, core_kind_name(CORE_KIND_OPERATOR)) == 0) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "the operator's own record cannot be reviewed");
    }
    if (rc == ERR_OK) {
        rc = review_apply(c, who, &e, d, reason, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc == ERR_OK) {
        *out = e;
    }
    return rc;
}

int core_principal_active(const struct core_principal *who)
{
    return who != NULL && who->id[0] != '\0' && who->status == CORE_STATUS_VERIFIED;
}

static int sees_everything(const struct core_principal *who)
{
    return who->kind == CORE_KIND_OPERATOR ||
           (who->kind == CORE_KIND_REGULATOR && core_principal_active(who));
}

enum err core_entity_get(struct core *c, const struct core_principal *who, const char *id,
                         struct store_entity *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (!id_valid(id, "ent")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not an entity id", id ? id : "");
    }
    struct store_entity e;
    enum err rc = store_entity_get(c->store, id, &e, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int own = strcmp(who->id, e.id) == 0;
    int visible = own || sees_everything(who) ||
                  (core_principal_active(who) &&
                   strcmp(e.status, core_status_name(CORE_STATUS_VERIFIED)) == 0);
    if (!visible) {
        return err_set(err, ERR_NOT_FOUND, "id", "no entity '%s'", id);
    }
    *out = e;
    return ERR_OK;
}

enum err core_entity_list(struct core *c, const struct core_principal *who,
                          const struct store_entity_filter *filter, struct store_entity_page *page,
                          struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && filter != NULL && page != NULL);
    if (!core_principal_active(who) && who->kind != CORE_KIND_OPERATOR) {
        return err_set(err, ERR_FORBIDDEN, "",
                       "an entity that is not verified may read only its own record");
    }
    enum core_kind k;
    enum core_status st;
    if (filter->kind != NULL && core_kind_parse(filter->kind, &k) != ERR_OK) {
        return err_set(err, ERR_INVALID, "kind", "unknown kind '%s'", filter->kind);
    }
    if (filter->status != NULL && core_status_parse(filter->status, &st) != ERR_OK) {
        return err_set(err, ERR_INVALID, "status", "unknown status '%s'", filter->status);
    }
    if (filter->country != NULL && check_country(filter->country, err) != ERR_OK) {
        return ERR_INVALID;
    }
    if (filter->q != NULL && check_text("q", filter->q, CORE_NAME_CHARS_MAX, 0, err) != ERR_OK) {
        return ERR_INVALID;
    }
    struct store_entity_filter f = *filter;
    if (!sees_everything(who)) {
        f.visible_status = core_status_name(CORE_STATUS_VERIFIED);
        f.visible_self = who->id;
    }
    return store_entity_list(c->store, &f, page, err);
}

enum err core_bootstrap(struct core *c, const char *public_key_b64, int *created,
                        struct core_new_key *key, struct errbuf *err)
{
    ASSERT(c != NULL && created != NULL && key != NULL);
    *created = 0;
    enum err rc = core__public_key_check(public_key_b64, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int64_t n = 0;
    json_t *body = NULL;
    rc = store_entity_count(c->store, &n, err);
    if (rc != ERR_OK || n > 0) {
        goto out;
    }
    struct store_entity e;
    memset(&e, 0, sizeof(e));
    id_new(c->rng, "ent", e.id);
    snprintf(e.kind, sizeof(e.kind), "%s", core_kind_name(CORE_KIND_OPERATOR));
    snprintf(e.status, sizeof(e.status), "%s", core_status_name(CORE_STATUS_VERIFIED));
    snprintf(e.name, sizeof(e.name), "%s", "Exchange operator");
    snprintf(e.country, sizeof(e.country), "%s", "CN");
    snprintf(e.contact_name, sizeof(e.contact_name), "%s", "operator");
    snprintf(e.contact_email, sizeof(e.contact_email), "%s", "operator@localhost.invalid");
    snprintf(e.public_key, sizeof(e.public_key), "%s", public_key_b64);
    e.created_ms = clock_now(c->clock);
    e.updated_ms = e.created_ms;
    core__key_prepare(c, e.id, "operator", e.created_ms, key);
    body = core__entity_event_body(&e);
    if (body == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    rc = store_event_append(c->store, "operator.created", e.id, e.id, e.created_ms, body,
                            &e.log_index, err);
    key->key.log_index = e.log_index;
    if (rc == ERR_OK) {
        rc = store_entity_insert(c->store, &e, err);
    }
    if (rc == ERR_OK) {
        rc = store_api_key_insert(c->store, &key->key, err);
    }
    if (rc == ERR_OK) {
        *created = 1;
    }
out:
    json_decref(body);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        *created = 0;
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc != ERR_OK) {
        *created = 0;
    }
    return rc;
}
