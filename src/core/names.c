/*
 * names.c: the vocabulary tables (kinds, statuses, decisions, certificate types,
 * specialities) and the GB 32100-2015 unified social credit code check.
 */
#include "util/compat.h"
#include "core/core.h"

#include <string.h>

#include "util/banned.h"

static const char *const kind_names[CORE_KIND__COUNT] = {
    [CORE_KIND_PROVIDER] = "provider",   [CORE_KIND_BUYER] = "buyer",
    [CORE_KIND_BROKER] = "broker",       [CORE_KIND_SERVICE_FIRM] = "service_firm",
    [CORE_KIND_REGULATOR] = "regulator", [CORE_KIND_OPERATOR] = "operator",
};
static const char *const status_names[CORE_STATUS__COUNT] = {
    "applied",
    "verified",
    "rejected",
    "suspended",
};
static const char *const decision_names[CORE_DECISION__COUNT] = {
    "verify",
    "reject",
    "suspend",
    "reinstate",
};
static const char *const cert_names[CORE_CERT__COUNT] = {
    "data_provider",
    "trading",
    "cross_border",
};
static const char *const speciality_names[CORE_SPEC__COUNT] = {
    "compliance", "security", "quality", "valuation", "legal", "custody", "arbitration",
};

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

const char *core_kind_name(enum core_kind kind)
{
    ASSERT((unsigned)kind < CORE_KIND__COUNT);
    return kind_names[kind];
}

enum err core_kind_parse(const char *name, enum core_kind *out)
{
    int i = name_index(kind_names, CORE_KIND__COUNT, name);
    if (i < 0) {
        return ERR_INVALID;
    }
    *out = (enum core_kind)i;
    return ERR_OK;
}

const char *core_status_name(enum core_status status)
{
    ASSERT((unsigned)status < CORE_STATUS__COUNT);
    return status_names[status];
}

enum err core_status_parse(const char *name, enum core_status *out)
{
    int i = name_index(status_names, CORE_STATUS__COUNT, name);
    if (i < 0) {
        return ERR_INVALID;
    }
    *out = (enum core_status)i;
    return ERR_OK;
}

const char *core_decision_name(enum core_decision decision)
{
    ASSERT((unsigned)decision < CORE_DECISION__COUNT);
    return decision_names[decision];
}

enum err core_decision_parse(const char *name, enum core_decision *out)
{
    int i = name_index(decision_names, CORE_DECISION__COUNT, name);
    if (i < 0) {
        return ERR_INVALID;
    }
    *out = (enum core_decision)i;
    return ERR_OK;
}

const char *core_cert_type_name(enum core_cert_type type)
{
    ASSERT((unsigned)type < CORE_CERT__COUNT);
    return cert_names[type];
}

enum err core_cert_type_parse(const char *name, enum core_cert_type *out)
{
    int i = name_index(cert_names, CORE_CERT__COUNT, name);
    if (i < 0) {
        return ERR_INVALID;
    }
    *out = (enum core_cert_type)i;
    return ERR_OK;
}

const char *core_speciality_name(unsigned bit_index)
{
    ASSERT(bit_index < CORE_SPEC__COUNT);
    return speciality_names[bit_index];
}

enum err core_speciality_parse(const char *name, unsigned *flag)
{
    int i = name_index(speciality_names, CORE_SPEC__COUNT, name);
    if (i < 0) {
        return ERR_INVALID;
    }
    *flag = 1u << i;
    return ERR_OK;
}

/* GB 32100-2015: the code's character set, 31 characters without I, O, Z, S, V. */
static const char uscc_charset[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
/* Registration management authority codes (GB 32100-2015 table 1). */
static const char uscc_authorities[] = "123456789ANY";

static int uscc_value(char c)
{
    const char *p = c != '\0' ? strchr(uscc_charset, c) : NULL;
    return p == NULL ? -1 : (int)(p - uscc_charset);
}

enum err core_uscc_validate(const char *uscc, struct errbuf *err)
{
    static const char *const field = "uscc";
    if (uscc == NULL || uscc[0] == '\0') {
        return err_set(err, ERR_INVALID, field, "unified social credit code is missing");
    }
    size_t len = strlen(uscc);
    if (len != CORE_USCC_LEN) {
        return err_set(err, ERR_INVALID, field,
                       "unified social credit code must be 18 characters, not %zu", len);
    }
    for (size_t i = 0; i < CORE_USCC_LEN; i++) {
        if (uscc_value(uscc[i]) < 0) {
            return err_set(err, ERR_INVALID, field,
                           "character %zu of the unified social credit code is not in the "
                           "GB 32100 character set",
                           i + 1);
        }
    }
    if (strchr(uscc_authorities, uscc[0]) == NULL) {
        return err_set(err, ERR_INVALID, field,
                       "'%c' is not a registration authority code (GB 32100 table 1)", uscc[0]);
    }
    for (size_t i = 2; i < 8; i++) {
        if (uscc[i] < '0' || uscc[i] > '9') {
            return err_set(err, ERR_INVALID, field,
                           "characters 3 to 8 must be a six-digit administrative division code");
        }
    }
    int sum = 0;
    int weight = 1;
    for (size_t i = 0; i < CORE_USCC_LEN - 1; i++) {
        sum += uscc_value(uscc[i]) * weight;
        weight = weight * 3 % 31;
    }
    int check = (31 - sum % 31) % 31;
    if (uscc_charset[check] != uscc[CORE_USCC_LEN - 1]) {
        return err_set(err, ERR_INVALID, field,
                       "wrong check character '%c' in unified social credit code (expected '%c')",
                       uscc[CORE_USCC_LEN - 1], uscc_charset[check]);
    }
    return ERR_OK;
}
