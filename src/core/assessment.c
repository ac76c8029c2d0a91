/*
 * assessment.c: third-party assessment as the gate to listing (design §2 step 4, §4a): the
 * operator's versioned listing policy, requests to service firms, reports signed with the
 * firm's own key, and the two questions the listing module asks: may this revision be
 * listed (core_product_listable) and may it be offered across the border
 * (core_revision_cross_border).
 *
 * A report is the firm's statement, not the exchange's: the firm signs the canonical JSON
 * text with its own Ed25519 key (the CLI does it locally; the server never sees the private
 * key) and the server keeps the exact bytes it verified, so anyone can check them again with
 * the public key the firm registered. The report names the assessment, the revision and its
 * content hash, so it cannot be replayed onto another revision: a new revision needs new
 * assessments.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

#define REPORT_TYPE "bourse/assessment-report"
#define FINDINGS_MAX 200
#define CONDITIONS_MAX 50
#define DOCUMENT_BYTES_MAX ((int64_t)1 << 40) /* 1 TiB: a report document, not a data set */

/* The kinds a listing policy may require: cross_border is the law's, at offer time. */
#define POLICY_KINDS                                                                               \
    ((1u << CORE_ASSESS_COMPLIANCE) | (1u << CORE_ASSESS_SECURITY) | (1u << CORE_ASSESS_QUALITY) | \
     (1u << CORE_ASSESS_VALUATION))

/* needs[classification][sensitivity]: a bit set of assessment kinds; sensitivity general or
 * important only (core is never listed). */
typedef unsigned policy_needs[CORE_CLASS__COUNT][CORE_SENS_CORE];

#define C_ (1u << CORE_ASSESS_COMPLIANCE)
#define S_ (1u << CORE_ASSESS_SECURITY)
#define Q_ (1u << CORE_ASSESS_QUALITY)
static const policy_needs default_needs = {
    /* public */ {C_ | Q_, C_ | S_ | Q_},
    /* corporate */ {C_ | Q_, C_ | S_ | Q_},
    /* personal */ {C_ | S_ | Q_, C_ | S_ | Q_},
};
#undef C_
#undef S_
#undef Q_

/* Which speciality a firm needs for each kind of assessment. */
static unsigned speciality_for(enum core_assessment_kind kind)
{
    switch (kind) {
    case CORE_ASSESS_COMPLIANCE:
        return CORE_SPEC_COMPLIANCE;
    case CORE_ASSESS_SECURITY:
    case CORE_ASSESS_CROSS_BORDER:
        return CORE_SPEC_SECURITY;
    case CORE_ASSESS_QUALITY:
        return CORE_SPEC_QUALITY;
    case CORE_ASSESS_VALUATION:
        return CORE_SPEC_VALUATION;
    default:
        return 0;
    }
}

/* ---- the listing policy ---- */

static json_t *policy_json(const policy_needs needs)
{
    json_t *rules = json_array();
    for (int c = 0; rules != NULL && c < CORE_CLASS__COUNT; c++) {
        for (int s = 0; s < CORE_SENS_CORE; s++) {
            json_t *kinds = json_array();
            for (int k = 0; kinds != NULL && k < CORE_ASSESS__COUNT; k++) {
                if (needs[c][s] & (1u << k)) {
                    json_array_append_new(kinds, json_string(core_assessment_kind_name(
                                                     (enum core_assessment_kind)k)));
                }
            }
            json_array_append_new(
                rules,
                json_pack("{s:s, s:s, s:o*}", "classification",
                          core_classification_name((enum core_classification)c), "sensitivity",
                          core_sensitivity_name((enum core_sensitivity)s), "kinds", kinds));
        }
    }
    return json_pack("{s:o*}", "rules", rules);
}

static enum err rule_kinds(const json_t *kinds, const char *prefix, unsigned *bits,
                           struct errbuf *err)
{
    char field[ERRBUF_FIELD_MAX];
    snprintf(field, sizeof(field), "%.40s.kinds", prefix);
    if (!json_is_array(kinds) || json_array_size(kinds) > CORE_ASSESS__COUNT) {
        return err_set(err, ERR_INVALID, field, "'%s' must be an array of assessment kinds", field);
    }
    *bits = 0;
    for (size_t i = 0; i < json_array_size(kinds); i++) {
        enum core_assessment_kind k;
        const char *name = json_string_value(json_array_get(kinds, i));
        if (name == NULL || core_assessment_kind_parse(name, &k) != ERR_OK ||
            !(POLICY_KINDS & (1u << k))) {
            return err_set(err, ERR_INVALID, field,
                           "kinds are compliance, security, quality and valuation");
        }
        if (*bits & (1u << k)) {
            return err_set(err, ERR_INVALID, field, "kind '%s' is repeated", name);
        }
        *bits |= 1u << k;
    }
    return ERR_OK;
}

/* Parses {"rules": [...]} with exactly one rule for each of the six pairs. */
static enum err policy_parse(const json_t *policy, policy_needs needs, struct errbuf *err)
{
    const json_t *rules = json_object_get(policy, "rules");
    if (!json_is_object(policy) || json_object_size(policy) != 1 || !json_is_array(rules)) {
        return err_set(err, ERR_INVALID, "rules", "the policy is {\"rules\": [...]} only");
    }
    int seen[CORE_CLASS__COUNT][CORE_SENS_CORE];
    memset(seen, 0, sizeof(seen));
    if (json_array_size(rules) != CORE_CLASS__COUNT * CORE_SENS_CORE) {
        return err_set(err, ERR_INVALID, "rules",
                       "the policy has one rule for each classification and sensitivity (%d)",
                       CORE_CLASS__COUNT * CORE_SENS_CORE);
    }
    for (size_t i = 0; i < json_array_size(rules); i++) {
        const json_t *r = json_array_get(rules, i);
        char prefix[24];
        snprintf(prefix, sizeof(prefix), "rules[%u]", (unsigned)i);
        enum core_classification c;
        enum core_sensitivity s;
        if (!json_is_object(r) || json_object_size(r) != 3 ||
            core_classification_parse(json_string_value(json_object_get(r, "classification")),
                                      &c) != ERR_OK ||
            core_sensitivity_parse(json_string_value(json_object_get(r, "sensitivity")), &s) !=
                ERR_OK) {
            return err_set(err, ERR_INVALID, prefix,
                           "a rule is {\"classification\", \"sensitivity\", \"kinds\"}");
        }
        if (s == CORE_SENS_CORE) {
            return err_set(err, ERR_INVALID, prefix, "core data is never listed: no rule for it");
        }
        if (seen[c][s]) {
            return err_set(err, ERR_INVALID, prefix, "a second rule for %s %s data",
                           core_classification_name(c), core_sensitivity_name(s));
        }
        seen[c][s] = 1;
        enum err rc = rule_kinds(json_object_get(r, "kinds"), prefix, &needs[c][s], err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return ERR_OK;
}

static enum err policy_default(struct store_policy *out, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    json_t *j = policy_json(default_needs);
    out->rules = j != NULL ? core__canonical(j) : NULL;
    json_decref(j);
    out->log_index = -1;
    return out->rules != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
}

enum err core_policy_get(struct core *c, int64_t version, struct store_policy *out,
                         struct errbuf *err)
{
    ASSERT(c != NULL && out != NULL);
    if (version < CORE_POLICY_CURRENT) {
        return err_set(err, ERR_INVALID, "version", "a policy version is 0 or more");
    }
    if (version == 0) {
        return policy_default(out, err);
    }
    enum err rc =
        store_policy_get(c->store, version == CORE_POLICY_CURRENT ? 0 : version, out, err);
    if (rc == ERR_NOT_FOUND && version == CORE_POLICY_CURRENT) {
        return policy_default(out, err);
    }
    return rc;
}

/* The needs of the current policy, and its version. */
static enum err policy_current(struct core *c, policy_needs needs, int64_t *version,
                               struct errbuf *err)
{
    struct store_policy p;
    enum err rc = core_policy_get(c, CORE_POLICY_CURRENT, &p, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *j = json_loads(p.rules, JSON_REJECT_DUPLICATES, NULL);
    memset(needs, 0, sizeof(policy_needs));
    rc = j != NULL ? policy_parse(j, needs, err) : ERR_CORRUPT;
    json_decref(j);
    *version = p.version;
    store_policy_release(&p);
    if (rc != ERR_OK) {
        return err_set(err, ERR_CORRUPT, "", "stored listing policy is malformed");
    }
    return ERR_OK;
}

enum err core_policy_set(struct core *c, const struct core_principal *who, const json_t *policy,
                         struct store_policy *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    if (who->kind != CORE_KIND_OPERATOR) {
        return err_set(err, ERR_FORBIDDEN, "", "only the operator sets the listing policy");
    }
    policy_needs needs;
    memset(needs, 0, sizeof(needs));
    enum err rc = policy_parse(policy, needs, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *canonical = policy_json(needs);
    struct store_policy p;
    memset(&p, 0, sizeof(p));
    p.rules = canonical != NULL ? core__canonical(canonical) : NULL;
    json_t *body = NULL;
    if (p.rules == NULL) {
        json_decref(canonical);
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        goto out;
    }
    struct store_policy latest;
    rc = store_policy_get(c->store, 0, &latest, err);
    if (rc == ERR_OK) {
        p.version = latest.version + 1;
        store_policy_release(&latest);
    } else if (rc == ERR_NOT_FOUND) {
        p.version = 1;
        rc = ERR_OK;
    }
    snprintf(p.actor, sizeof(p.actor), "%s", who->id);
    p.created_ms = clock_now(c->clock);
    body = json_pack("{s:I, s:O}", "version", (json_int_t)p.version, "rules",
                     json_object_get(canonical, "rules"));
    if (rc == ERR_OK && body == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK) {
        rc = store_event_append(c->store, "policy.set", who->id, "listing_policy", p.created_ms,
                                body, &p.log_index, err);
    }
    if (rc == ERR_OK) {
        rc = store_policy_insert(c->store, &p, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        goto out;
    }
    rc = store_tx_commit(c->store, err);
out:
    json_decref(body);
    json_decref(canonical);
    if (rc != ERR_OK) {
        store_policy_release(&p);
        return rc;
    }
    *out = p;
    return ERR_OK;
}

/* ---- requests ---- */

/* Loads the firm and checks it is a verified service firm with the speciality. */
static enum err firm_check(struct core *c, const char *firm_id, enum core_assessment_kind kind,
                           struct errbuf *err)
{
    if (!id_valid(firm_id, "ent")) {
        return err_set(err, ERR_INVALID, "firm_id", "'%s' is not an entity id",
                       firm_id != NULL ? firm_id : "");
    }
    struct store_entity *f = mem_calloc(1, sizeof(*f));
    if (f == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = store_entity_get(c->store, firm_id, f, err);
    if (rc == ERR_NOT_FOUND) {
        rc = err_set(err, ERR_NOT_FOUND, "firm_id", "no entity '%s'", firm_id);
    }
    if (rc == ERR_OK && strcmp(f->kind, core_kind_name(CORE_KIND_SERVICE_FIRM)) != 0) {
        rc = err_set(err, ERR_INVALID, "firm_id", "'%s' is a %s, not a service firm", firm_id,
                     f->kind);
    }
    if (rc == ERR_OK && strcmp(f->status, core_status_name(CORE_STATUS_VERIFIED)) != 0) {
        rc = err_set(err, ERR_BAD_STATE, "firm_id", "service firm '%s' is %s, not verified",
                     firm_id, f->status);
    }
    unsigned need = speciality_for(kind);
    if (rc == ERR_OK && (f->specialities & need) == 0) {
        rc = err_set(err, ERR_INVALID, "firm_id",
                     "service firm '%s' has no speciality for a %s assessment", firm_id,
                     core_assessment_kind_name(kind));
    }
    mem_free(f);
    return rc;
}

/* Counts the assessments of a revision and kind in status (NULL: any). */
static enum err assessments_count(struct core *c, const char *revision_id, const char *kind,
                                  const char *status, int64_t *count, struct errbuf *err)
{
    struct store_assessment_filter f;
    memset(&f, 0, sizeof(f));
    f.revision_id = revision_id;
    f.kind = kind;
    f.status = status;
    f.limit = 1;
    struct store_assessment_page page;
    enum err rc = store_assessment_list(c->store, &f, &page, err);
    if (rc == ERR_OK) {
        *count = (int64_t)page.count;
        store_assessment_page_release(&page);
    }
    return rc;
}

static enum err request_checks(struct core *c, const struct core_principal *who,
                               const struct store_revision *rev, enum core_assessment_kind kind,
                               const char *firm_id, struct errbuf *err)
{
    if (strcmp(rev->provider_id, who->id) != 0) {
        return err_set(err, ERR_FORBIDDEN, "revision_id",
                       "only the product's provider requests assessments");
    }
    if (!core_principal_active(who)) {
        return err_set(err, ERR_FORBIDDEN, "", "only a verified provider requests assessments");
    }
    struct store_product p;
    enum err rc = store_product_get(c->store, rev->product_id, &p, err);
    if (rc == ERR_OK && p.latest_revision != rev->number) {
        rc =
            err_set(err, ERR_BAD_STATE, "revision_id",
                    "revision %" PRId64 " is superseded by revision %" PRId64 ": assess the newest",
                    rev->number, p.latest_revision);
    }
    if (rc == ERR_OK) {
        rc = firm_check(c, firm_id, kind, err);
    }
    int64_t open = 0;
    if (rc == ERR_OK) {
        rc =
            assessments_count(c, rev->id, core_assessment_kind_name(kind), "requested", &open, err);
    }
    if (rc == ERR_OK && open > 0) {
        rc = err_set(err, ERR_CONFLICT, "kind",
                     "a %s assessment of revision '%s' is already requested",
                     core_assessment_kind_name(kind), rev->id);
    }
    return rc;
}

enum err core_assessment_request(struct core *c, const struct core_principal *who,
                                 const char *revision_id, const char *kind, const char *firm_id,
                                 struct store_assessment *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    enum core_assessment_kind k;
    if (kind == NULL || core_assessment_kind_parse(kind, &k) != ERR_OK) {
        return err_set(err, ERR_INVALID, "kind",
                       "kind must be compliance, security, quality, valuation or cross_border");
    }
    struct store_revision rev;
    memset(&rev, 0, sizeof(rev));
    json_t *body = NULL;
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = core__revision_visible(c, who, revision_id, &rev, err);
    if (rc == ERR_OK) {
        rc = request_checks(c, who, &rev, k, firm_id, err);
    }
    struct store_assessment a;
    memset(&a, 0, sizeof(a));
    if (rc == ERR_OK) {
        id_new(c->rng, "asm", a.id);
        snprintf(a.product_id, sizeof(a.product_id), "%s", rev.product_id);
        snprintf(a.revision_id, sizeof(a.revision_id), "%s", rev.id);
        snprintf(a.content_hash, sizeof(a.content_hash), "%s", rev.content_hash);
        snprintf(a.kind, sizeof(a.kind), "%s", kind);
        snprintf(a.firm_id, sizeof(a.firm_id), "%s", firm_id);
        snprintf(a.provider_id, sizeof(a.provider_id), "%s", who->id);
        snprintf(a.status, sizeof(a.status), "%s", "requested");
        a.requested_ms = clock_now(c->clock);
        a.submit_log_index = -1;
        body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", a.id, "product_id",
                         a.product_id, "revision_id", a.revision_id, "content_hash", a.content_hash,
                         "kind", a.kind, "firm_id", a.firm_id, "provider_id", a.provider_id);
        rc = body != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
    }
    if (rc == ERR_OK) {
        rc = store_event_append(c->store, "assessment.requested", who->id, a.id, a.requested_ms,
                                body, &a.log_index, err);
    }
    if (rc == ERR_OK) {
        rc = store_assessment_insert(c->store, &a, err);
    }
    json_decref(body);
    store_revision_release(&rev);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc == ERR_OK) {
        *out = a;
    }
    return rc;
}

/* ---- reports ---- */

static enum err report_field_matches(const json_t *report, const char *name, const char *want,
                                     struct errbuf *err)
{
    const char *got = json_string_value(json_object_get(report, name));
    if (got == NULL || strcmp(got, want) != 0) {
        return err_set(err, ERR_INVALID, "report",
                       "the report's %s is '%s' but the assessment's is '%s'", name,
                       got != NULL ? got : "", want);
    }
    return ERR_OK;
}

static enum err texts_check(const json_t *list, const char *name, size_t max, struct errbuf *err)
{
    if (list != NULL && (!json_is_array(list) || json_array_size(list) > max)) {
        return err_set(err, ERR_INVALID, "report", "'%s' must be an array of at most %zu", name,
                       max);
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *text = json_string_value(json_array_get(list, i));
        if (text == NULL ||
            core__text_check("report", text, CORE_DECLARATION_CHARS_MAX, 1, err) != ERR_OK) {
            return err_set(err, ERR_INVALID, "report", "%s[%zu] must be text of 1 to %d characters",
                           name, i, CORE_DECLARATION_CHARS_MAX);
        }
    }
    return ERR_OK;
}

static enum err findings_check(const json_t *findings, struct errbuf *err)
{
    static const char *const severities[] = {"info", "minor", "major", "critical"};
    if (findings != NULL &&
        (!json_is_array(findings) || json_array_size(findings) > FINDINGS_MAX)) {
        return err_set(err, ERR_INVALID, "report", "'findings' must be an array of at most %d",
                       FINDINGS_MAX);
    }
    for (size_t i = 0; i < json_array_size(findings); i++) {
        const json_t *f = json_array_get(findings, i);
        const char *sev = json_string_value(json_object_get(f, "severity"));
        const char *text = json_string_value(json_object_get(f, "text"));
        int known = 0;
        for (size_t j = 0; sev != NULL && j < ARRAY_LEN(severities); j++) {
            known |= strcmp(sev, severities[j]) == 0;
        }
        if (!json_is_object(f) || json_object_size(f) != 2 || !known || text == NULL ||
            core__text_check("report", text, CORE_DECLARATION_CHARS_MAX, 1, err) != ERR_OK) {
            return err_set(err, ERR_INVALID, "report",
                           "findings[%zu] is {\"severity\": info|minor|major|critical, \"text\"}",
                           i);
        }
    }
    return ERR_OK;
}

/* Checks the content of a parsed report against the assessment; fills verdict and document. */
static enum err report_check(const json_t *r, struct store_assessment *a, struct errbuf *err)
{
    static const char *const names[] = {
        "assessment_id", "conditions", "content_hash", "document", "findings", "firm_id",
        "kind",          "product_id", "revision_id",  "type",     "v",        "verdict"};
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)r, key, value)
    {
        (void)value;
        int ok = 0;
        for (size_t i = 0; i < ARRAY_LEN(names); i++) {
            ok |= strcmp(names[i], key) == 0;
        }
        if (!ok) {
            return err_set(err, ERR_INVALID, "report", "unknown report field '%s'", key);
        }
    }
    const json_t *v = json_object_get(r, "v");
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        return err_set(err, ERR_INVALID, "report", "the report's \"v\" must be 1");
    }
    const char *pairs[][2] = {{"type", REPORT_TYPE},
                              {"assessment_id", a->id},
                              {"product_id", a->product_id},
                              {"revision_id", a->revision_id},
                              {"content_hash", a->content_hash},
                              {"firm_id", a->firm_id},
                              {"kind", a->kind}};
    for (size_t i = 0; i < ARRAY_LEN(pairs); i++) {
        enum err rc = report_field_matches(r, pairs[i][0], pairs[i][1], err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    const char *verdict = json_string_value(json_object_get(r, "verdict"));
    if (verdict == NULL || (strcmp(verdict, "pass") != 0 && strcmp(verdict, "fail") != 0 &&
                            strcmp(verdict, "conditions") != 0)) {
        return err_set(err, ERR_INVALID, "report", "verdict must be pass, fail or conditions");
    }
    const json_t *conditions = json_object_get(r, "conditions");
    enum err rc = texts_check(conditions, "conditions", CONDITIONS_MAX, err);
    if (rc == ERR_OK) {
        rc = findings_check(json_object_get(r, "findings"), err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    int with_conditions = json_array_size(conditions) > 0;
    if (with_conditions != (strcmp(verdict, "conditions") == 0)) {
        return err_set(err, ERR_INVALID, "report",
                       "conditions are listed exactly when the verdict is conditions");
    }
    const json_t *doc = json_object_get(r, "document");
    const char *sha = json_string_value(json_object_get(doc, "sha256"));
    const json_t *size = json_object_get(doc, "size");
    if (!json_is_object(doc) || json_object_size(doc) != 2 || !core__sha256_hex_valid(sha) ||
        !json_is_integer(size) || json_integer_value(size) < 1 ||
        json_integer_value(size) > DOCUMENT_BYTES_MAX) {
        return err_set(err, ERR_INVALID, "report",
                       "document is {\"sha256\": 64 hex digits, \"size\": bytes, at least 1}");
    }
    snprintf(a->verdict, sizeof(a->verdict), "%s", verdict);
    snprintf(a->document_sha256, sizeof(a->document_sha256), "%s", sha);
    a->document_size = json_integer_value(size);
    return ERR_OK;
}

/* Parses the report text, checks it is canonical, and verifies the firm's signature. */
static enum err report_verify(struct core *c, const char *report, const char *signature_b64,
                              struct store_assessment *a, struct errbuf *err)
{
    if (report == NULL || report[0] == '\0') {
        return err_set(err, ERR_INVALID, "report", "'report' is required");
    }
    if (strlen(report) > STORE_REPORT_MAX) {
        return err_set(err, ERR_LIMIT, "report", "report is over %d bytes", STORE_REPORT_MAX);
    }
    json_t *r = json_loads(report, JSON_REJECT_DUPLICATES, NULL);
    char *canonical = json_is_object(r) ? core__canonical(r) : NULL;
    enum err rc = ERR_OK;
    if (!json_is_object(r)) {
        rc = err_set(err, ERR_INVALID, "report", "'report' must be the text of a JSON object");
    } else if (canonical == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    } else if (strcmp(canonical, report) != 0) {
        rc = err_set(err, ERR_INVALID, "report",
                     "the report is not canonical JSON (keys sorted, no spaces)");
    }
    if (rc == ERR_OK) {
        rc = report_check(r, a, err);
    }
    json_decref(r);
    mem_free(canonical);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_entity *firm = mem_calloc(1, sizeof(*firm));
    if (firm == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    rc = store_entity_get(c->store, a->firm_id, firm, err);
    if (rc == ERR_OK) {
        rc = signature_b64 == NULL
                 ? ERR_INVALID
                 : core_rights_verify(report, signature_b64, firm->public_key, err);
        if (rc == ERR_INVALID || rc == ERR_CORRUPT) {
            rc = err_set(err, ERR_INVALID, "signature",
                         "the signature does not verify with the public key firm '%s' registered",
                         a->firm_id);
        }
    }
    mem_free(firm);
    return rc;
}

static enum err assessment_load(struct core *c, const struct core_principal *who, const char *id,
                                struct store_assessment *out, struct errbuf *err)
{
    if (!id_valid(id, "asm")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not an assessment id",
                       id != NULL ? id : "");
    }
    enum err rc = store_assessment_get(c->store, id, out, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (!core__sees_all(who) && strcmp(out->provider_id, who->id) != 0 &&
        strcmp(out->firm_id, who->id) != 0) {
        store_assessment_release(out);
        return err_set(err, ERR_NOT_FOUND, "id", "no assessment '%s'", id);
    }
    return ERR_OK;
}

enum err core_assessment_submit(struct core *c, const struct core_principal *who, const char *id,
                                const char *report, const char *signature_b64,
                                struct store_assessment *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    struct store_assessment a;
    json_t *body = NULL;
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = assessment_load(c, who, id, &a, err);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    if (strcmp(a.firm_id, who->id) != 0) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "only the assigned firm submits the report");
    } else if (!core_principal_active(who)) {
        rc = err_set(err, ERR_FORBIDDEN, "", "only a verified firm submits reports");
    } else if (strcmp(a.status, "requested") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "id", "assessment '%s' is already %s", a.id, a.status);
    }
    if (rc == ERR_OK) {
        rc = report_verify(c, report, signature_b64, &a, err);
    }
    if (rc == ERR_OK) {
        a.report = mem_strdup(report);
        snprintf(a.signature, sizeof(a.signature), "%s", signature_b64);
        snprintf(a.status, sizeof(a.status), "%s", "submitted");
        a.submitted_ms = clock_now(c->clock);
        char sha[STORE_HASH_HEX_MAX];
        core__sha256_hex(report, strlen(report), sha);
        body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", a.id, "revision_id",
                         a.revision_id, "kind", a.kind, "firm_id", a.firm_id, "verdict", a.verdict,
                         "report_sha256", sha, "signature", a.signature, "document_sha256",
                         a.document_sha256);
        if (a.report == NULL || body == NULL) {
            rc = err_set(err, ERR_NOMEM, "", "out of memory");
        }
    }
    if (rc == ERR_OK) {
        rc = store_event_append(c->store, "assessment.submitted", who->id, a.id, a.submitted_ms,
                                body, &a.submit_log_index, err);
    }
    if (rc == ERR_OK) {
        rc = store_assessment_update(c->store, &a, err);
    }
    json_decref(body);
    if (rc == ERR_OK) {
        rc = store_tx_commit(c->store, err);
    } else {
        store_tx_rollback(c->store);
    }
    if (rc != ERR_OK) {
        store_assessment_release(&a);
        return rc;
    }
    *out = a;
    return ERR_OK;
}

enum err core_assessment_get(struct core *c, const struct core_principal *who, const char *id,
                             struct store_assessment *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    return assessment_load(c, who, id, out, err);
}

enum err core_assessment_list(struct core *c, const struct core_principal *who,
                              const struct store_assessment_filter *filter,
                              struct store_assessment_page *page, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && filter != NULL && page != NULL);
    enum core_assessment_kind k;
    if (filter->kind != NULL && core_assessment_kind_parse(filter->kind, &k) != ERR_OK) {
        return err_set(err, ERR_INVALID, "kind", "unknown assessment kind '%s'", filter->kind);
    }
    if (filter->status != NULL && strcmp(filter->status, "requested") != 0 &&
        strcmp(filter->status, "submitted") != 0) {
        return err_set(err, ERR_INVALID, "status", "status must be requested or submitted");
    }
    const struct {
        const char *value;
        const char *prefix;
        const char *field;
    } ids[] = {{filter->revision_id, "rev", "revision_id"},
               {filter->product_id, "prd", "product_id"},
               {filter->firm_id, "ent", "firm_id"}};
    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        if (ids[i].value != NULL && !id_valid(ids[i].value, ids[i].prefix)) {
            return err_set(err, ERR_INVALID, ids[i].field, "'%s' is not a valid id", ids[i].value);
        }
    }
    struct store_assessment_filter f = *filter;
    f.visible_to = core__sees_all(who) ? NULL : who->id;
    return store_assessment_list(c->store, &f, page, err);
}

/* ---- the listing gate ---- */

enum assessment_state { STATE_NONE, STATE_FAILED, STATE_REQUESTED, STATE_SATISFIED };

/* The best state of each kind among a revision's assessments. */
static enum err assessment_states(struct core *c, const char *revision_id,
                                  enum assessment_state states[CORE_ASSESS__COUNT],
                                  struct errbuf *err)
{
    for (int k = 0; k < CORE_ASSESS__COUNT; k++) {
        states[k] = STATE_NONE;
    }
    struct store_assessment_filter f;
    memset(&f, 0, sizeof(f));
    f.revision_id = revision_id;
    f.limit = STORE_PAGE_MAX;
    char cursor[STORE_CURSOR_MAX] = "";
    /* A revision has a handful of assessments; the bound only stops a runaway loop. */
    for (int pages = 0; pages < 1000; pages++) {
        f.cursor = cursor[0] != '\0' ? cursor : NULL;
        struct store_assessment_page page;
        enum err rc = store_assessment_list(c->store, &f, &page, err);
        if (rc != ERR_OK) {
            return rc;
        }
        for (size_t i = 0; i < page.count; i++) {
            const struct store_assessment *a = &page.items[i];
            enum core_assessment_kind k;
            if (core_assessment_kind_parse(a->kind, &k) != ERR_OK) {
                continue;
            }
            enum assessment_state s = STATE_REQUESTED;
            if (strcmp(a->status, "submitted") == 0) {
                s = strcmp(a->verdict, "fail") == 0 ? STATE_FAILED : STATE_SATISFIED;
            }
            states[k] = s > states[k] ? s : states[k];
        }
        snprintf(cursor, sizeof(cursor), "%s", page.next_cursor);
        store_assessment_page_release(&page);
        if (cursor[0] == '\0') {
            return ERR_OK;
        }
    }
    return err_set(err, ERR_LIMIT, "", "revision '%s' has too many assessments", revision_id);
}

static void missing_add(struct core_listable *out, const char *item, const char *kind,
                        const char *reason)
{
    if (out->missing_count == CORE_MISSING_MAX) {
        return;
    }
    struct core_missing *m = &out->missing[out->missing_count++];
    snprintf(m->item, sizeof(m->item), "%s", item);
    snprintf(m->kind, sizeof(m->kind), "%s", kind);
    snprintf(m->reason, sizeof(m->reason), "%s", reason);
}

static const char *state_reason(enum assessment_state s)
{
    switch (s) {
    case STATE_NONE:
        return "not requested";
    case STATE_FAILED:
        return "the report's verdict is fail";
    case STATE_REQUESTED:
        return "requested; the firm has not submitted its report";
    default:
        return "";
    }
}

/* Loads a revision with its effective classification and sensitivity. */
static enum err revision_load(struct core *c, const char *revision_id, struct store_revision *rev,
                              enum core_classification *cls, enum core_sensitivity *sens,
                              struct errbuf *err)
{
    memset(rev, 0, sizeof(*rev));
    if (!id_valid(revision_id, "rev")) {
        return err_set(err, ERR_INVALID, "revision_id", "'%s' is not a revision id",
                       revision_id != NULL ? revision_id : "");
    }
    enum err rc = store_revision_get(c->store, revision_id, rev, err);
    if (rc == ERR_OK && (core_classification_parse(rev->classification, cls) != ERR_OK ||
                         core_sensitivity_parse(rev->sensitivity, sens) != ERR_OK)) {
        rc = err_set(err, ERR_CORRUPT, "", "revision '%s' has an unknown classification",
                     revision_id);
    }
    if (rc != ERR_OK) {
        store_revision_release(rev);
    }
    return rc;
}

static enum err listable_rest(struct core *c, const struct store_revision *rev,
                              enum core_classification cls, enum core_sensitivity sens,
                              struct core_listable *out, struct errbuf *err)
{
    struct store_product p;
    enum err rc = store_product_get(c->store, rev->product_id, &p, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (p.latest_revision != rev->number) {
        char reason[160];
        snprintf(reason, sizeof(reason), "superseded by revision %" PRId64, p.latest_revision);
        missing_add(out, "revision", "", reason);
    }
    int64_t live = 0;
    rc = store_rights_count_live(c->store, rev->id, core_right_name(CORE_RIGHT_OPERATION), &live,
                                 err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (live == 0) {
        missing_add(out, "right", "operation", "no live operation right certificate");
    }
    policy_needs needs;
    enum assessment_state states[CORE_ASSESS__COUNT];
    rc = policy_current(c, needs, &out->policy_version, err);
    if (rc == ERR_OK) {
        rc = assessment_states(c, rev->id, states, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    for (int k = 0; k < CORE_ASSESS__COUNT; k++) {
        if ((needs[cls][sens] & (1u << k)) && states[k] != STATE_SATISFIED) {
            missing_add(out, "assessment", core_assessment_kind_name((enum core_assessment_kind)k),
                        state_reason(states[k]));
        }
    }
    return ERR_OK;
}

enum err core_product_listable(struct core *c, const char *revision_id, struct core_listable *out,
                               struct errbuf *err)
{
    ASSERT(c != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    struct store_revision rev;
    enum core_classification cls = CORE_CLASS_PUBLIC;
    enum core_sensitivity sens = CORE_SENS_GENERAL;
    enum err rc = revision_load(c, revision_id, &rev, &cls, &sens, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (sens == CORE_SENS_CORE) {
        missing_add(out, "classification", "core", "core data is never tradable");
    } else {
        rc = listable_rest(c, &rev, cls, sens, out, err);
    }
    store_revision_release(&rev);
    out->listable = rc == ERR_OK && out->missing_count == 0;
    return rc;
}

enum err core_revision_cross_border(struct core *c, const char *revision_id,
                                    struct core_listable *out, struct errbuf *err)
{
    ASSERT(c != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    struct store_revision rev;
    enum core_classification cls = CORE_CLASS_PUBLIC;
    enum core_sensitivity sens = CORE_SENS_GENERAL;
    enum err rc = revision_load(c, revision_id, &rev, &cls, &sens, err);
    if (rc != ERR_OK) {
        return rc;
    }
    const char *kind = core_assessment_kind_name(CORE_ASSESS_CROSS_BORDER);
    if (sens == CORE_SENS_CORE) {
        missing_add(out, "classification", "core", "core data never leaves the border");
    } else if (sens == CORE_SENS_IMPORTANT || cls == CORE_CLASS_PERSONAL) {
        enum assessment_state states[CORE_ASSESS__COUNT];
        rc = assessment_states(c, rev.id, states, err);
        if (rc == ERR_OK && states[CORE_ASSESS_CROSS_BORDER] != STATE_SATISFIED) {
            char reason[160];
            snprintf(reason, sizeof(reason), "%s data needs an outbound security assessment: %s",
                     sens == CORE_SENS_IMPORTANT ? "important" : "personal",
                     state_reason(states[CORE_ASSESS_CROSS_BORDER]));
            missing_add(out, "assessment", kind, reason);
        }
    }
    store_revision_release(&rev);
    out->listable = rc == ERR_OK && out->missing_count == 0;
    return rc;
}
