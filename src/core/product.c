/*
 * product.c: registering data products and their immutable revisions (design §2 step 2): the
 * vocabulary and the industry taxonomy, validation of the metadata document, the
 * classification rules (core data refused, personal data needs a basis, important data
 * flagged, derived products inherit the strictest restrictions of their parents), the
 * automatic quality report on a sample, and product visibility.
 *
 * A revision stores its metadata as canonical JSON (keys sorted, compact) with the sample
 * replaced by its format, size and SHA-256; metadata_hash is the SHA-256 of those bytes, so
 * that the event in the log commits to every declared detail without carrying it all.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* ---- vocabulary ---- */

static const char *const product_kind_names[CORE_PRODUCT__COUNT] = {
    "dataset", "api", "report", "model", "compute",
};
static const char *const classification_names[CORE_CLASS__COUNT] = {
    "public",
    "corporate",
    "personal",
};
static const char *const sensitivity_names[CORE_SENS__COUNT] = {
    "general",
    "important",
    "core",
};
static const char *const right_names[CORE_RIGHT__COUNT] = {
    "holding",
    "processing",
    "operation",
};
static const char *const assessment_kind_names[CORE_ASSESS__COUNT] = {
    "compliance", "security", "quality", "valuation", "cross_border",
};

static const char *const update_frequencies[] = {
    "once", "realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular",
};
static const char *const source_methods[] = {
    "collected",        "purchased", "generated", "public_source",
    "partner_exchange", "licensed",  "derived",
};
static const char *const personal_bases[] = {"consent", "anonymisation"};

static int name_index(const char *const *names, size_t count, const char *name)
{
    if (name == NULL) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

#define NAME_FUNCS(fn, type, names, count)                                                         \
    const char *core_##fn##_name(enum type v)                                                      \
    {                                                                                              \
        ASSERT((unsigned)v < (count));                                                             \
        return (names)[v];                                                                         \
    }                                                                                              \
    enum err core_##fn##_parse(const char *name, enum type *out)                                   \
    {                                                                                              \
        int i = name_index((names), (count), name);                                                \
        if (i < 0) {                                                                               \
            return ERR_INVALID;                                                                    \
        }                                                                                          \
        *out = (enum type)i;                                                                       \
        return ERR_OK;                                                                             \
    }

NAME_FUNCS(product_kind, core_product_kind, product_kind_names, CORE_PRODUCT__COUNT)
NAME_FUNCS(classification, core_classification, classification_names, CORE_CLASS__COUNT)
NAME_FUNCS(sensitivity, core_sensitivity, sensitivity_names, CORE_SENS__COUNT)
NAME_FUNCS(right, core_right, right_names, CORE_RIGHT__COUNT)
NAME_FUNCS(assessment_kind, core_assessment_kind, assessment_kind_names, CORE_ASSESS__COUNT)

/* The industry taxonomy. Codes are stable identifiers; labels may be reworded. */
static const struct core_category categories[] = {
    {"credit_inquiry", "征信", "Credit inquiry"},
    {"finance", "金融", "Finance"},
    {"transport", "交通运输", "Transport"},
    {"energy", "能源电力", "Energy"},
    {"meteorology", "气象", "Meteorology"},
    {"healthcare", "医疗健康", "Healthcare"},
    {"government_affairs", "政务", "Government affairs"},
    {"ai_training_data", "人工智能训练数据", "AI training data"},
    {"telecom", "通信", "Telecommunications"},
    {"agriculture", "农业", "Agriculture"},
    {"manufacturing", "工业制造", "Manufacturing"},
    {"retail", "商贸零售", "Retail"},
    {"geospatial", "地理空间", "Geospatial"},
    {"patents", "知识产权", "Patents"},
    {"other", "其他", "Other"},
};
_Static_assert(sizeof("government_affairs") <= STORE_CATEGORY_MAX, "category codes fit");

const struct core_category *core_categories(size_t *count)
{
    *count = ARRAY_LEN(categories);
    return categories;
}

static int category_known(const char *code)
{
    for (size_t i = 0; code != NULL && i < ARRAY_LEN(categories); i++) {
        if (strcmp(categories[i].code, code) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- shared helpers ---- */

enum err core__text_check(const char *field, const char *s, size_t max_chars, int required,
                          struct errbuf *err)
{
    if (s == NULL || s[0] == '\0') {
        return required ? err_set(err, ERR_INVALID, field, "'%s' is required", field) : ERR_OK;
    }
    size_t len = strlen(s);
    if (!text_valid_utf8(s, len)) {
        return err_set(err, ERR_INVALID, field, "'%s' is not valid UTF-8 text", field);
    }
    if (text_utf8_chars(s, len) > max_chars) {
        return err_set(err, ERR_INVALID, field, "'%s' is longer than %zu characters", field,
                       max_chars);
    }
    if (required && strspn(s, " \t\r\n") == len) {
        return err_set(err, ERR_INVALID, field, "'%s' is blank", field);
    }
    return ERR_OK;
}

char *core__canonical(const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (text == NULL) {
        return NULL;
    }
    char *copy = mem_strdup(text);
    free(text); /* jansson's allocator */
    return copy;
}

void core__sha256_hex(const void *data, size_t len, char out[STORE_HASH_HEX_MAX])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)data, len);
    sodium_bin2hex(out, STORE_HASH_HEX_MAX, h, sizeof(h));
}

int core__sha256_hex_valid(const char *s)
{
    if (s == NULL || strlen(s) != 64) {
        return 0;
    }
    return strspn(s, "0123456789abcdef") == 64;
}

int core__sees_all(const struct core_principal *who)
{
    return who->kind == CORE_KIND_OPERATOR ||
           (who->kind == CORE_KIND_REGULATOR && core_principal_active(who));
}

/* Reads the optional string member name of obj; ERR_INVALID naming prefix.name if it is not
 * a string. */
static enum err member_str(const json_t *obj, const char *prefix, const char *name,
                           const char **out, struct errbuf *err)
{
    *out = NULL;
    json_t *v = json_object_get(obj, name);
    if (v == NULL || json_is_null(v)) {
        return ERR_OK;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        char field[ERRBUF_FIELD_MAX];
        snprintf(field, sizeof(field), "%s%s", prefix, name);
        return err_set(err, ERR_INVALID, field, "'%s' must be a string without NUL", field);
    }
    *out = json_string_value(v);
    return ERR_OK;
}

/* ERR_INVALID naming the first member of obj not in allowed (NULL-terminated). */
static enum err members_only(const json_t *obj, const char *prefix, const char *const *allowed,
                             struct errbuf *err)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        (void)value;
        int ok = 0;
        for (const char *const *a = allowed; *a != NULL; a++) {
            ok |= strcmp(*a, key) == 0;
        }
        if (!ok) {
            char field[ERRBUF_FIELD_MAX];
            snprintf(field, sizeof(field), "%s%s", prefix, key);
            return err_set(err, ERR_INVALID, field, "unknown field '%s%s'", prefix, key);
        }
    }
    return ERR_OK;
}

/* ---- the metadata document ---- */

/* What registration takes from the metadata besides the canonical copy. */
struct declaration {
    enum core_product_kind kind;
    const char *title;
    const char *category;
    const char *content_hash;
    enum core_classification classification; /* declared */
    enum core_sensitivity sensitivity;       /* declared */
    int personal_information;                /* contained */
    const json_t *schema;
    const char *sample_format; /* NULL when no sample */
    const char *sample;
    size_t sample_len;
    const json_t *parents;
    int derived; /* source.method == "derived" */
};

static enum err check_choice(const char *field, const char *value, const char *const *names,
                             size_t count, const char *what, struct errbuf *err)
{
    if (value == NULL) {
        return err_set(err, ERR_INVALID, field, "'%s' is required", field);
    }
    if (name_index(names, count, value) < 0) {
        return err_set(err, ERR_INVALID, field, "unknown %s '%s'", what, value);
    }
    return ERR_OK;
}

static enum err check_use_cases(const json_t *md, struct errbuf *err)
{
    const json_t *a = json_object_get(md, "use_cases");
    if (a == NULL || json_is_null(a)) {
        return ERR_OK;
    }
    if (!json_is_array(a) || json_array_size(a) > CORE_USE_CASES_MAX) {
        return err_set(err, ERR_INVALID, "use_cases",
                       "'use_cases' must be an array of at most %d texts", CORE_USE_CASES_MAX);
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_array_get(a, i);
        char field[ERRBUF_FIELD_MAX];
        snprintf(field, sizeof(field), "use_cases[%zu]", i);
        if (!json_is_string(v)) {
            return err_set(err, ERR_INVALID, field, "'%s' must be a string", field);
        }
        enum err rc =
            core__text_check(field, json_string_value(v), CORE_USE_CASE_CHARS_MAX, 1, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return ERR_OK;
}

static enum err check_personal_information(const json_t *src, struct declaration *d,
                                           struct errbuf *err)
{
    static const char *const fields[] = {"contained", "basis", "evidence", NULL};
    static const char *const prefix = "source.personal_information.";
    const json_t *pi = json_object_get(src, "personal_information");
    if (!json_is_object(pi)) {
        return err_set(err, ERR_INVALID, "source.personal_information",
                       "'source.personal_information' must be an object with 'contained'");
    }
    enum err rc = members_only(pi, prefix, fields, err);
    if (rc != ERR_OK) {
        return rc;
    }
    const json_t *contained = json_object_get(pi, "contained");
    if (!json_is_boolean(contained)) {
        return err_set(err, ERR_INVALID, "source.personal_information.contained",
                       "'source.personal_information.contained' must be true or false");
    }
    d->personal_information = json_is_true(contained);
    const char *basis = NULL, *evidence = NULL;
    rc = member_str(pi, prefix, "basis", &basis, err);
    if (rc == ERR_OK) {
        rc = member_str(pi, prefix, "evidence", &evidence, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (!d->personal_information) {
        if (basis != NULL || evidence != NULL) {
            return err_set(err, ERR_INVALID, "source.personal_information.basis",
                           "a basis is declared only when personal information is contained");
        }
        return ERR_OK;
    }
    if (basis == NULL) {
        return err_set(err, ERR_INVALID, "source.personal_information.basis",
                       "personal information needs a consent or anonymisation basis");
    }
    rc = check_choice("source.personal_information.basis", basis, personal_bases,
                      ARRAY_LEN(personal_bases), "basis (consent or anonymisation)", err);
    if (rc == ERR_OK) {
        rc = core__text_check("source.personal_information.evidence", evidence,
                              CORE_DECLARATION_CHARS_MAX, 1, err);
    }
    if (rc == ERR_OK && evidence == NULL) {
        rc = err_set(err, ERR_INVALID, "source.personal_information.evidence",
                     "name the consent records or the anonymisation method");
    }
    return rc;
}

static enum err check_source(const json_t *md, struct declaration *d, struct errbuf *err)
{
    static const char *const fields[] = {"method", "legal_basis", "processing",
                                         "personal_information", NULL};
    const json_t *src = json_object_get(md, "source");
    if (!json_is_object(src)) {
        return err_set(err, ERR_INVALID, "source",
                       "'source' must be an object declaring how the data was obtained");
    }
    enum err rc = members_only(src, "source.", fields, err);
    const char *method = NULL, *legal = NULL, *processing = NULL;
    if (rc == ERR_OK) {
        rc = member_str(src, "source.", "method", &method, err);
    }
    if (rc == ERR_OK) {
        rc = member_str(src, "source.", "legal_basis", &legal, err);
    }
    if (rc == ERR_OK) {
        rc = member_str(src, "source.", "processing", &processing, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    rc = check_choice("source.method", method, source_methods, ARRAY_LEN(source_methods),
                      "source method", err);
    if (rc == ERR_OK) {
        rc = core__text_check("source.legal_basis", legal, CORE_DECLARATION_CHARS_MAX, 1, err);
    }
    if (rc == ERR_OK) {
        rc = core__text_check("source.processing", processing, CORE_DECLARATION_CHARS_MAX, 1, err);
    }
    if (rc == ERR_OK) {
        rc = check_personal_information(src, d, err);
    }
    d->derived = method != NULL && strcmp(method, "derived") == 0;
    return rc;
}

static enum err check_sample(const json_t *md, struct declaration *d, struct errbuf *err)
{
    static const char *const fields[] = {"format", "data", NULL};
    const json_t *s = json_object_get(md, "sample");
    if (s == NULL || json_is_null(s)) {
        return ERR_OK;
    }
    if (!json_is_object(s)) {
        return err_set(err, ERR_INVALID, "sample",
                       "'sample' must be an object with 'format' and 'data'");
    }
    enum err rc = members_only(s, "sample.", fields, err);
    if (rc == ERR_OK) {
        rc = member_str(s, "sample.", "format", &d->sample_format, err);
    }
    if (rc == ERR_OK) {
        rc = member_str(s, "sample.", "data", &d->sample, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (d->sample_format == NULL ||
        (strcmp(d->sample_format, "csv") != 0 && strcmp(d->sample_format, "jsonl") != 0)) {
        return err_set(err, ERR_INVALID, "sample.format", "sample format must be csv or jsonl");
    }
    if (d->sample == NULL || d->sample[0] == '\0') {
        return err_set(err, ERR_INVALID, "sample.data", "'sample.data' is required");
    }
    d->sample_len = strlen(d->sample);
    if (d->sample_len > CORE_SAMPLE_BYTES_MAX) {
        return err_set(err, ERR_LIMIT, "sample.data", "sample is %zu bytes, over %d", d->sample_len,
                       CORE_SAMPLE_BYTES_MAX);
    }
    return ERR_OK;
}

static enum err check_parents(const json_t *md, struct declaration *d, struct errbuf *err)
{
    const json_t *a = json_object_get(md, "parents");
    d->parents = NULL;
    if (a != NULL && !json_is_null(a)) {
        if (!json_is_array(a) || json_array_size(a) > CORE_PARENTS_MAX) {
            return err_set(err, ERR_INVALID, "parents",
                           "'parents' must be an array of at most %d revision ids",
                           CORE_PARENTS_MAX);
        }
        for (size_t i = 0; i < json_array_size(a); i++) {
            const char *id = json_string_value(json_array_get(a, i));
            if (!id_valid(id, "rev")) {
                return err_set(err, ERR_INVALID, "parents", "parents[%zu] is not a revision id", i);
            }
            for (size_t j = 0; j < i; j++) {
                if (strcmp(id, json_string_value(json_array_get(a, j))) == 0) {
                    return err_set(err, ERR_INVALID, "parents", "parent '%s' is repeated", id);
                }
            }
        }
        d->parents = json_array_size(a) > 0 ? a : NULL;
    }
    if (d->derived && d->parents == NULL) {
        return err_set(err, ERR_INVALID, "parents",
                       "a derived product names the revisions it was derived from");
    }
    return ERR_OK;
}

/* Enum fields of the document, each required. */
static enum err check_vocabulary(const json_t *md, struct declaration *d, struct errbuf *err)
{
    const char *kind = NULL, *cls = NULL, *sens = NULL, *freq = NULL;
    enum err rc = member_str(md, "", "kind", &kind, err);
    if (rc == ERR_OK) {
        rc = member_str(md, "", "classification", &cls, err);
    }
    if (rc == ERR_OK) {
        rc = member_str(md, "", "sensitivity", &sens, err);
    }
    if (rc == ERR_OK) {
        rc = member_str(md, "", "update_frequency", &freq, err);
    }
    if (rc == ERR_OK) {
        rc = member_str(md, "", "category", &d->category, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (kind == NULL || core_product_kind_parse(kind, &d->kind) != ERR_OK) {
        return err_set(err, ERR_INVALID, "kind",
                       "kind must be dataset, api, report, model or compute");
    }
    if (cls == NULL || core_classification_parse(cls, &d->classification) != ERR_OK) {
        return err_set(err, ERR_INVALID, "classification",
                       "classification must be public, corporate or personal");
    }
    if (sens == NULL || core_sensitivity_parse(sens, &d->sensitivity) != ERR_OK) {
        return err_set(err, ERR_INVALID, "sensitivity",
                       "sensitivity must be general, important or core");
    }
    if (d->category == NULL || !category_known(d->category)) {
        return err_set(err, ERR_INVALID, "category",
                       "category must be one of the taxonomy's codes (GET /v1/categories)");
    }
    return check_choice("update_frequency", freq, update_frequencies, ARRAY_LEN(update_frequencies),
                        "update frequency", err);
}

/* Validates the whole document into d (borrowing from md). */
static enum err declaration_check(const json_t *md, struct core__column *cols,
                                  struct declaration *d, struct errbuf *err)
{
    static const char *const fields[] = {
        "kind",           "title",       "description",
        "category",       "use_cases",   "update_frequency",
        "classification", "sensitivity", "content_hash",
        "schema",         "sample",      "source",
        "parents",        NULL,
    };
    memset(d, 0, sizeof(*d));
    if (!json_is_object(md)) {
        return err_set(err, ERR_INVALID, "", "the product metadata must be a JSON object");
    }
    const char *description = NULL;
    enum err rc = members_only(md, "", fields, err);
    if (rc == ERR_OK) {
        rc = check_vocabulary(md, d, err);
    }
    if (rc == ERR_OK) {
        rc = member_str(md, "", "title", &d->title, err);
    }
    if (rc == ERR_OK) {
        rc = core__text_check("title", d->title, CORE_TITLE_CHARS_MAX, 1, err);
    }
    if (rc == ERR_OK) {
        rc = member_str(md, "", "description", &description, err);
    }
    if (rc == ERR_OK) {
        rc = core__text_check("description", description, CORE_DESCRIPTION_CHARS_MAX, 1, err);
    }
    if (rc == ERR_OK) {
        rc = check_use_cases(md, err);
    }
    if (rc == ERR_OK) {
        rc = member_str(md, "", "content_hash", &d->content_hash, err);
    }
    if (rc == ERR_OK && !core__sha256_hex_valid(d->content_hash)) {
        rc = err_set(err, ERR_INVALID, "content_hash",
                     "content_hash must be the SHA-256 of the data as 64 lowercase hex digits");
    }
    size_t ncols = 0;
    if (rc == ERR_OK) {
        d->schema = json_object_get(md, "schema");
        rc = core__schema_check(d->schema, cols, &ncols, err);
    }
    if (rc == ERR_OK && ncols == 0 && d->kind == CORE_PRODUCT_DATASET) {
        rc = err_set(err, ERR_INVALID, "schema", "a dataset declares its schema's columns");
    }
    if (rc == ERR_OK) {
        rc = check_sample(md, d, err);
    }
    if (rc == ERR_OK && d->sample != NULL && ncols == 0) {
        rc = err_set(err, ERR_INVALID, "sample", "a sample needs a schema to be checked against");
    }
    if (rc == ERR_OK) {
        rc = check_source(md, d, err);
    }
    if (rc == ERR_OK) {
        rc = check_parents(md, d, err);
    }
    return rc;
}

/* ---- classification and inheritance ---- */

/* The effective restrictions after the parents, and the rules on them. */
struct effective {
    enum core_classification classification;
    enum core_sensitivity sensitivity;
    char personal_parent[ID_MAX]; /* a parent that made the product personal, or "" */
};

static enum err parent_check(struct core *c, const struct core_principal *who,
                             const char *parent_id, struct effective *eff, struct errbuf *err)
{
    struct store_revision p;
    enum err rc = store_revision_get(c->store, parent_id, &p, err);
    if (rc == ERR_NOT_FOUND) {
        return err_set(err, ERR_NOT_FOUND, "parents", "no revision '%s'", parent_id);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    int entitled = strcmp(p.provider_id, who->id) == 0;
    if (!entitled) {
        rc = store_rights_entitled(c->store, p.id, core_right_name(CORE_RIGHT_PROCESSING), who->id,
                                   &entitled, err);
    }
    enum core_classification pc = CORE_CLASS_PUBLIC;
    enum core_sensitivity ps = CORE_SENS_GENERAL;
    if (rc == ERR_OK && (core_classification_parse(p.classification, &pc) != ERR_OK ||
                         core_sensitivity_parse(p.sensitivity, &ps) != ERR_OK)) {
        rc = err_set(err, ERR_CORRUPT, "", "revision '%s' has an unknown classification", p.id);
    }
    if (rc == ERR_OK && !entitled) {
        rc = err_set(err, ERR_FORBIDDEN, "parents",
                     "revision '%s' is not yours and you hold no processing right on it", p.id);
    }
    if (rc == ERR_OK && ps == CORE_SENS_CORE) {
        rc =
            err_set(err, ERR_FORBIDDEN, "parents",
                    "parent revision '%s' is core data: nothing derived from it is tradable", p.id);
    }
    if (rc == ERR_OK) {
        if (pc > eff->classification) {
            eff->classification = pc;
        }
        if (pc == CORE_CLASS_PERSONAL && eff->personal_parent[0] == '\0') {
            snprintf(eff->personal_parent, sizeof(eff->personal_parent), "%s", p.id);
        }
        if (ps > eff->sensitivity) {
            eff->sensitivity = ps;
        }
    }
    store_revision_release(&p);
    return rc;
}

static enum err classification_rules(struct core *c, const struct core_principal *who,
                                     const struct declaration *d, struct effective *eff,
                                     struct errbuf *err)
{
    memset(eff, 0, sizeof(*eff));
    eff->classification = d->classification;
    eff->sensitivity = d->sensitivity;
    if (d->sensitivity == CORE_SENS_CORE) {
        return err_set(err, ERR_FORBIDDEN, "sensitivity",
                       "core data can never be registered for trading");
    }
    if (d->classification == CORE_CLASS_PERSONAL && !d->personal_information) {
        return err_set(err, ERR_INVALID, "source.personal_information.contained",
                       "personal data contains personal information: declare its basis");
    }
    for (size_t i = 0; d->parents != NULL && i < json_array_size(d->parents); i++) {
        enum err rc =
            parent_check(c, who, json_string_value(json_array_get(d->parents, i)), eff, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    if (eff->classification == CORE_CLASS_PERSONAL && !d->personal_information) {
        return err_set(err, ERR_INVALID, "source.personal_information.basis",
                       "parent revision '%s' is personal data: declare the consent or "
                       "anonymisation basis",
                       eff->personal_parent);
    }
    return ERR_OK;
}

/* ---- building the revision ---- */

/* The canonical metadata: the document with the sample's data replaced by its digest. */
static enum err metadata_canonical(const json_t *md, const struct declaration *d, char **out,
                                   struct errbuf *err)
{
    json_t *copy = json_deep_copy(md);
    if (copy == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    int bad = 0;
    if (d->sample != NULL) {
        char sha[STORE_HASH_HEX_MAX];
        core__sha256_hex(d->sample, d->sample_len, sha);
        bad = json_object_set_new(copy, "sample",
                                  json_pack("{s:s, s:s, s:I}", "format", d->sample_format, "sha256",
                                            sha, "bytes", (json_int_t)d->sample_len));
    }
    *out = bad ? NULL : core__canonical(copy);
    json_decref(copy);
    return *out != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
}

/* Fills everything of r but ids, number, times and log index. */
static enum err revision_build(const json_t *md, const struct declaration *d,
                               const struct effective *eff, struct store_revision *r,
                               struct errbuf *err)
{
    snprintf(r->kind, sizeof(r->kind), "%s", core_product_kind_name(d->kind));
    snprintf(r->title, sizeof(r->title), "%s", d->title);
    snprintf(r->category, sizeof(r->category), "%s", d->category);
    snprintf(r->classification, sizeof(r->classification), "%s",
             core_classification_name(eff->classification));
    snprintf(r->sensitivity, sizeof(r->sensitivity), "%s", core_sensitivity_name(eff->sensitivity));
    r->supervised = eff->sensitivity == CORE_SENS_IMPORTANT;
    snprintf(r->content_hash, sizeof(r->content_hash), "%s", d->content_hash);
    enum err rc = metadata_canonical(md, d, &r->metadata, err);
    if (rc != ERR_OK) {
        return rc;
    }
    core__sha256_hex(r->metadata, strlen(r->metadata), r->metadata_hash);
    if (d->sample == NULL) {
        return ERR_OK;
    }
    snprintf(r->sample_format, sizeof(r->sample_format), "%s", d->sample_format);
    r->sample = mem_strndup(d->sample, d->sample_len);
    if (r->sample == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    json_t *report = NULL;
    rc = core_quality_check(d->schema, d->sample_format, d->sample, d->sample_len, &report, err);
    if (rc != ERR_OK) {
        return rc;
    }
    r->quality = core__canonical(report);
    json_decref(report);
    return r->quality != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
}

static json_t *revision_event_body(const struct store_revision *r, const struct declaration *d)
{
    json_t *quality = json_null();
    if (r->quality != NULL) {
        json_t *q = json_loads(r->quality, 0, NULL);
        quality = json_pack("{s:O*, s:O*, s:s}", "rows", json_object_get(q, "rows"), "passed",
                            json_object_get(q, "passed"), "sha256", "");
        if (quality != NULL) {
            char sha[STORE_HASH_HEX_MAX];
            core__sha256_hex(r->quality, strlen(r->quality), sha);
            json_object_set_new(quality, "sha256", json_string(sha));
        }
        json_decref(q);
    }
    json_t *parents = d->parents != NULL ? json_deep_copy(d->parents) : json_array();
    return json_pack(
        "{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:b, s:b, s:s, s:s, s:o*, "
        "s:o*}",
        "product_id", r->product_id, "revision_id", r->id, "revision", (json_int_t)r->number,
        "provider_id", r->provider_id, "kind", r->kind, "title", r->title, "category", r->category,
        "classification", r->classification, "sensitivity", r->sensitivity, "declared",
        "classification", core_classification_name(d->classification), "sensitivity",
        core_sensitivity_name(d->sensitivity), "supervised", (int)r->supervised,
        "personal_information", d->personal_information, "content_hash", r->content_hash,
        "metadata_hash", r->metadata_hash, "parents", parents, "quality", quality);
}

/* Checks that who may register products now. */
static enum err provider_check(struct core *c, const struct core_principal *who, struct errbuf *err)
{
    if (who->kind != CORE_KIND_PROVIDER && who->kind != CORE_KIND_BROKER) {
        return err_set(err, ERR_FORBIDDEN, "", "only providers and brokers register products");
    }
    if (!core_principal_active(who)) {
        return err_set(err, ERR_FORBIDDEN, "", "only a verified entity registers products");
    }
    int active = 0;
    enum err rc = core_cert_active(c, who->id, CORE_CERT_DATA_PROVIDER, &active, err);
    if (rc == ERR_OK && !active) {
        rc = err_set(err, ERR_FORBIDDEN, "",
                     "registering products needs an active data_provider certificate");
    }
    return rc;
}

/* Validates, applies the rules and appends the event and rows of revision r of product p.
 * Runs inside the caller's transaction. */
static enum err revision_record(struct core *c, const struct core_principal *who, const json_t *md,
                                const char *event_type, const struct store_revision *previous,
                                struct store_product *p, struct store_revision *r,
                                struct errbuf *err)
{
    struct core__column *cols = mem_calloc(CORE_COLUMNS_MAX, sizeof(*cols));
    if (cols == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    struct declaration d;
    struct effective eff;
    json_t *body = NULL;
    enum err rc = declaration_check(md, cols, &d, err);
    if (rc == ERR_OK && previous != NULL && strcmp(core_product_kind_name(d.kind), p->kind) != 0) {
        rc = err_set(err, ERR_INVALID, "kind", "a %s product cannot become a %s", p->kind,
                     core_product_kind_name(d.kind));
    }
    if (rc == ERR_OK) {
        rc = classification_rules(c, who, &d, &eff, err);
    }
    if (rc == ERR_OK) {
        rc = revision_build(md, &d, &eff, r, err);
    }
    if (rc == ERR_OK && previous != NULL &&
        strcmp(previous->metadata_hash, r->metadata_hash) == 0) {
        rc = err_set(err, ERR_CONFLICT, "",
                     "revision %lld already has exactly this metadata: nothing to revise",
                     (long long)previous->number);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    r->number = previous != NULL ? previous->number + 1 : 1;
    id_new(c->rng, "rev", r->id);
    snprintf(r->product_id, sizeof(r->product_id), "%s", p->id);
    snprintf(r->provider_id, sizeof(r->provider_id), "%s", p->provider_id);
    snprintf(r->actor, sizeof(r->actor), "%s", who->id);
    r->created_ms = clock_now(c->clock);
    body = revision_event_body(r, &d);
    if (body == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
        goto out;
    }
    rc = store_event_append(c->store, event_type, who->id, p->id, r->created_ms, body,
                            &r->log_index, err);
    if (rc != ERR_OK) {
        goto out;
    }
    p->latest_revision = r->number;
    snprintf(p->latest_revision_id, sizeof(p->latest_revision_id), "%s", r->id);
    snprintf(p->title, sizeof(p->title), "%s", r->title);
    snprintf(p->category, sizeof(p->category), "%s", r->category);
    snprintf(p->classification, sizeof(p->classification), "%s", r->classification);
    snprintf(p->sensitivity, sizeof(p->sensitivity), "%s", r->sensitivity);
    p->updated_ms = r->created_ms;
    p->log_index = r->log_index;
    if (previous == NULL) {
        snprintf(p->kind, sizeof(p->kind), "%s", r->kind);
        p->created_ms = r->created_ms;
        rc = store_product_insert(c->store, p, err);
    } else {
        rc = store_product_update(c->store, p, err);
    }
    if (rc == ERR_OK) {
        rc = store_revision_insert(c->store, r, err);
    }
out:
    json_decref(body);
    mem_free(cols);
    return rc;
}

enum err core_product_register(struct core *c, const struct core_principal *who,
                               const json_t *metadata, struct store_product *product,
                               struct store_revision *revision, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && metadata != NULL);
    ASSERT(product != NULL && revision != NULL);
    memset(revision, 0, sizeof(*revision));
    struct store_product p;
    memset(&p, 0, sizeof(p));
    enum err rc = provider_check(c, who, err);
    if (rc != ERR_OK) {
        return rc;
    }
    id_new(c->rng, "prd", p.id);
    snprintf(p.provider_id, sizeof(p.provider_id), "%s", who->id);
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = revision_record(c, who, metadata, "product.registered", NULL, &p, revision, err);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        store_revision_release(revision);
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc != ERR_OK) {
        store_revision_release(revision);
        return rc;
    }
    *product = p;
    return ERR_OK;
}

static enum err product_visible(struct core *c, const struct core_principal *who,
                                const struct store_product *p, struct errbuf *err)
{
    if (core__sees_all(who) || strcmp(p->provider_id, who->id) == 0) {
        return ERR_OK;
    }
    int has = 0;
    if (core_principal_active(who)) {
        enum err rc = store_product_access(c->store, p->id, who->id, &has, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return has ? ERR_OK : err_set(err, ERR_NOT_FOUND, "id", "no product '%s'", p->id);
}

enum err core_product_revise(struct core *c, const struct core_principal *who,
                             const char *product_id, const json_t *metadata,
                             struct store_product *product, struct store_revision *revision,
                             struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && metadata != NULL);
    ASSERT(product != NULL && revision != NULL);
    memset(revision, 0, sizeof(*revision));
    if (!id_valid(product_id, "prd")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not a product id",
                       product_id ? product_id : "");
    }
    struct store_product p;
    struct store_revision previous;
    memset(&previous, 0, sizeof(previous));
    enum err rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_product_get(c->store, product_id, &p, err);
    if (rc == ERR_OK) {
        rc = product_visible(c, who, &p, err);
    }
    if (rc == ERR_OK && strcmp(p.provider_id, who->id) != 0) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "only the product's provider revises it");
    }
    if (rc == ERR_OK) {
        rc = provider_check(c, who, err);
    }
    if (rc == ERR_OK) {
        rc = store_revision_get_number(c->store, p.id, p.latest_revision, &previous, err);
    }
    if (rc == ERR_OK) {
        rc = revision_record(c, who, metadata, "product.revised", &previous, &p, revision, err);
    }
    store_revision_release(&previous);
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        store_revision_release(revision);
        return rc;
    }
    rc = store_tx_commit(c->store, err);
    if (rc != ERR_OK) {
        store_revision_release(revision);
        return rc;
    }
    *product = p;
    return ERR_OK;
}

enum err core_product_get(struct core *c, const struct core_principal *who, const char *id,
                          struct store_product *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (!id_valid(id, "prd")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not a product id", id ? id : "");
    }
    struct store_product p;
    enum err rc = store_product_get(c->store, id, &p, err);
    if (rc == ERR_OK) {
        rc = product_visible(c, who, &p, err);
    }
    if (rc == ERR_OK) {
        *out = p;
    }
    return rc;
}

enum err core__revision_visible(struct core *c, const struct core_principal *who,
                                const char *revision_id, struct store_revision *out,
                                struct errbuf *err)
{
    if (!id_valid(revision_id, "rev")) {
        return err_set(err, ERR_INVALID, "revision_id", "'%s' is not a revision id",
                       revision_id ? revision_id : "");
    }
    enum err rc = store_revision_get(c->store, revision_id, out, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_product p;
    rc = store_product_get(c->store, out->product_id, &p, err);
    if (rc == ERR_OK) {
        rc = product_visible(c, who, &p, err);
    }
    if (rc != ERR_OK) {
        store_revision_release(out);
        if (rc == ERR_NOT_FOUND) {
            rc = err_set(err, ERR_NOT_FOUND, "revision_id", "no revision '%s'", revision_id);
        }
    }
    return rc;
}

enum err core_revision_get(struct core *c, const struct core_principal *who, const char *product_id,
                           const char *revision, struct store_revision *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    if (product_id == NULL) {
        return core__revision_visible(c, who, revision, out, err);
    }
    int64_t number = 0;
    for (const char *p = revision; p != NULL && *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || number > 1000000000) {
            number = 0;
            break;
        }
        number = number * 10 + (*p - '0');
    }
    if (number < 1) {
        return err_set(err, ERR_INVALID, "revision", "a revision number is 1 or more");
    }
    struct store_product p;
    enum err rc = core_product_get(c, who, product_id, &p, err);
    if (rc == ERR_OK) {
        rc = store_revision_get_number(c->store, p.id, number, out, err);
    }
    return rc;
}

enum err core_product_list(struct core *c, const struct core_principal *who,
                           const struct store_product_filter *filter,
                           struct store_product_page *page, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && filter != NULL && page != NULL);
    enum core_product_kind k;
    enum core_classification cl;
    enum core_sensitivity se;
    if (filter->kind != NULL && core_product_kind_parse(filter->kind, &k) != ERR_OK) {
        return err_set(err, ERR_INVALID, "kind", "unknown product kind '%s'", filter->kind);
    }
    if (filter->category != NULL && !category_known(filter->category)) {
        return err_set(err, ERR_INVALID, "category", "unknown category '%s'", filter->category);
    }
    if (filter->classification != NULL &&
        core_classification_parse(filter->classification, &cl) != ERR_OK) {
        return err_set(err, ERR_INVALID, "classification", "unknown classification '%s'",
                       filter->classification);
    }
    if (filter->sensitivity != NULL && core_sensitivity_parse(filter->sensitivity, &se) != ERR_OK) {
        return err_set(err, ERR_INVALID, "sensitivity", "unknown sensitivity '%s'",
                       filter->sensitivity);
    }
    if (filter->provider_id != NULL && !id_valid(filter->provider_id, "ent")) {
        return err_set(err, ERR_INVALID, "provider_id", "'%s' is not an entity id",
                       filter->provider_id);
    }
    struct store_product_filter f = *filter;
    if (!core__sees_all(who)) {
        f.provider_id = who->id;
    }
    return store_product_list(c->store, &f, page, err);
}
