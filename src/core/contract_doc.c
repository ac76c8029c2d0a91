/*
 * contract_doc.c: the canonical contract document (docs/contract-format.md) and the
 * exchange's countersignature statement.
 *
 * The document is the exact byte string both parties sign, so it must be reproducible by
 * anyone from its parsed form: jansson's compact, key-sorted, UTF-8 output (core__canonical,
 * the log's leaf encoding), integers only, times as RFC 3339 UTC strings. To let an
 * independent implementation (Python's json.dumps(sort_keys=True, separators=(',', ':'),
 * ensure_ascii=False)) write the same bytes, the document refuses the one place where the two
 * differ: control characters other than \n, \r and \t, which jansson escapes with upper-case
 * hex and Python with lower-case.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* ERR_INVALID naming field when s holds a control character the format refuses. */
static enum err text_portable(const char *s, const char *field, struct errbuf *err)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 && *p != '\n' && *p != '\r' && *p != '\t') {
            return err_set(err, ERR_INVALID, field,
                           "'%s' holds a control character a contract document cannot carry",
                           field);
        }
    }
    return ERR_OK;
}

static json_t *party_json(const struct store_entity *e)
{
    return json_pack("{s:s, s:s, s:s}", "id", e->id, "name", e->name, "public_key", e->public_key);
}

static json_t *fee_json(const struct store_fee_schedule *f)
{
    if (f == NULL) {
        return json_null();
    }
    return json_pack("{s:I, s:s, s:I, s:s, s:s, s:I, s:s, s:I, s:I}", "cap", (json_int_t)f->cap,
                     "currency", f->currency, "fixed_amount", (json_int_t)f->fixed_amount, "id",
                     f->id, "kind", f->kind, "minimum", (json_int_t)f->minimum, "name", f->name,
                     "rate_bp", (json_int_t)f->rate_bp, "version", (json_int_t)f->version);
}

static json_t *brokers_json(const struct core__contract_doc *d)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < d->broker_count; i++) {
        json_t *b = party_json(&d->brokers[i]);
        if (b == NULL || json_object_set_new(b, "commission_bp", json_integer(d->broker_bp[i])) ||
            json_array_append_new(a, b)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *shares_json(const struct core__contract_doc *d)
{
    json_t *a = json_array();
    if (a != NULL && d->pool_bp > 0) {
        json_t *s = json_pack("{s:I, s:s, s:s}", "bp", (json_int_t)d->pool_bp, "kind",
                              "data_subjects", "recipient", d->k->product_id);
        if (s == NULL || json_array_append_new(a, s)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *payment_json(const struct core__contract_doc *d)
{
    const struct store_contract *k = d->k;
    return json_pack("{s:I, s:s?, s:I, s:s, s:s?, s:I}", "amount", (json_int_t)k->price, "period",
                     d->period, "periods", (json_int_t)k->periods, "plan", k->plan, "tier", d->tier,
                     "total", (json_int_t)(k->price * k->periods));
}

/* The document as JSON; NULL when out of memory. */
static json_t *document_json(const struct core__contract_doc *d)
{
    const struct store_contract *k = d->k;
    char created[CLOCK_RFC3339_LEN], deadline[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(k->created_ms, created);
    clock_format_rfc3339(k->signing_deadline_ms, deadline);
    json_t *licence = json_pack("{s:b, s:s, s:s, s:I, s:O}", "exclusive", d->exclusive, "purpose",
                                d->purpose, "redistribution", d->redistribution, "term_days",
                                (json_int_t)d->term_days, "territory", d->territory);
    json_t *product =
        json_pack("{s:s, s:s, s:I, s:s, s:s}", "content_hash", d->revision->content_hash, "id",
                  k->product_id, "revision", (json_int_t)d->revision->number, "revision_id",
                  k->revision_id, "title", d->revision->title);
    json_t *parties =
        json_pack("{s:o, s:o}", "buyer", party_json(d->buyer), "provider", party_json(d->provider));
    return json_pack("{s:I, s:o, s:s, s:s, s:s, s:{s:s}, s:o, s:s, s:o, s:s, s:{s:s, s:s}, "
                     "s:o, s:o, s:I, s:o, s:o, s:s, s:s}",
                     "acceptance_days", (json_int_t)(k->acceptance_ms / 86400000), "brokers",
                     brokers_json(d), "created", created, "currency", k->currency, "delivery",
                     k->delivery, "exchange", "public_key", d->exchange_public_key, "fee_schedule",
                     fee_json(d->fee), "id", k->id, "licence", licence, "listing_id", k->listing_id,
                     "origin", "id", k->origin_id, "kind", k->origin, "parties", parties, "payment",
                     payment_json(d), "price", (json_int_t)(k->price * k->periods), "product",
                     product, "revenue_shares", shares_json(d), "signing_deadline", deadline,
                     "version", CORE_CONTRACT_VERSION);
}

enum err core__contract_document(const struct core__contract_doc *d, struct store_contract *k,
                                 struct errbuf *err)
{
    ASSERT(d->k == k);
    ASSERT(k->price > 0 && k->periods >= 1);
    enum err rc = text_portable(d->purpose, "purpose", err);
    if (rc == ERR_OK) {
        rc = text_portable(d->provider->name, "provider", err);
    }
    if (rc == ERR_OK) {
        rc = text_portable(d->buyer->name, "buyer_id", err);
    }
    if (rc == ERR_OK) {
        rc = text_portable(d->revision->title, "listing_id", err);
    }
    for (size_t i = 0; i < d->broker_count && rc == ERR_OK; i++) {
        rc = text_portable(d->brokers[i].name, "brokers", err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *doc = document_json(d);
    char *text = doc != NULL ? core__canonical(doc) : NULL;
    json_decref(doc);
    if (text == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    size_t len = strlen(text);
    if (len >= sizeof(k->document)) {
        mem_free(text);
        return err_set(err, ERR_LIMIT, "purpose", "the contract document is %zu bytes, over %zu",
                       len, sizeof(k->document) - 1);
    }
    memcpy(k->document, text, len + 1);
    core__sha256_hex(text, len, k->document_sha256);
    mem_free(text);
    return ERR_OK;
}

/* ---- reading a stored document back ---- */

static enum err shares_read(const json_t *a, const char *id_key, const char *bp_key,
                            char (*ids)[ID_MAX], int64_t *bp, size_t *count, struct errbuf *err)
{
    *count = 0;
    if (!json_is_array(a) || json_array_size(a) > CORE_CONTRACT_BROKERS_MAX) {
        return err_set(err, ERR_CORRUPT, "", "contract document has a malformed share list");
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *s = json_array_get(a, i);
        const char *id = json_string_value(json_object_get(s, id_key));
        const json_t *v = json_object_get(s, bp_key);
        if (id == NULL || strlen(id) >= ID_MAX || !json_is_integer(v)) {
            return err_set(err, ERR_CORRUPT, "", "contract document has a malformed share");
        }
        snprintf(ids[i], ID_MAX, "%s", id);
        bp[i] = json_integer_value(v);
    }
    *count = json_array_size(a);
    return ERR_OK;
}

enum err core__contract_split_read(const struct store_contract *k, struct core__contract_split *s,
                                   struct errbuf *err)
{
    memset(s, 0, sizeof(*s));
    json_t *doc = json_loads(k->document, 0, NULL);
    if (doc == NULL) {
        return err_set(err, ERR_CORRUPT, "", "contract '%s' has a malformed document", k->id);
    }
    enum err rc = shares_read(json_object_get(doc, "brokers"), "id", "commission_bp", s->brokers,
                              s->broker_bp, &s->broker_count, err);
    if (rc == ERR_OK) {
        rc = shares_read(json_object_get(doc, "revenue_shares"), "recipient", "bp", s->revenue,
                         s->revenue_bp, &s->revenue_count, err);
    }
    json_decref(doc);
    return rc;
}

int core__contract_broker(const struct store_contract *k, const char *entity_id)
{
    struct core__contract_split s;
    struct errbuf err;
    errbuf_init(&err);
    if (entity_id == NULL || core__contract_split_read(k, &s, &err) != ERR_OK) {
        return 0;
    }
    for (size_t i = 0; i < s.broker_count; i++) {
        if (strcmp(s.brokers[i], entity_id) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- the countersignature ---- */

enum err core_contract_countersign_statement(const struct store_contract *k,
                                             const struct store_contract_signature *sigs,
                                             size_t sig_count, char *out, size_t cap,
                                             struct errbuf *err)
{
    const struct store_contract_signature *buyer = NULL, *provider = NULL;
    for (size_t i = 0; i < sig_count; i++) {
        if (strcmp(sigs[i].role, "buyer") == 0) {
            buyer = &sigs[i];
        } else if (strcmp(sigs[i].role, "provider") == 0) {
            provider = &sigs[i];
        }
    }
    if (buyer == NULL || provider == NULL || k->activated_ms <= 0) {
        return err_set(err, ERR_BAD_STATE, "state", "contract '%s' is not countersigned", k->id);
    }
    char at[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(k->activated_ms, at);
    json_t *j = json_pack("{s:{s:s, s:s}, s:s, s:s, s:{s:s, s:s}, s:s, s:s}", "buyer", "id",
                          buyer->party_id, "signature", buyer->signature, "contract_id", k->id,
                          "document_sha256", k->document_sha256, "provider", "id",
                          provider->party_id, "signature", provider->signature, "signed_at", at,
                          "version", CORE_COUNTERSIGN_VERSION);
    char *text = j != NULL ? core__canonical(j) : NULL;
    json_decref(j);
    if (text == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    size_t len = strlen(text);
    enum err rc = ERR_OK;
    if (len >= cap) {
        rc = err_set(err, ERR_LIMIT, "", "countersignature statement is %zu bytes", len);
    } else {
        memcpy(out, text, len + 1);
    }
    mem_free(text);
    return rc;
}
