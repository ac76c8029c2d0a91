/*
 * demand.c: buyers' demands, the exchange's matchmaking, and the inbox that tells both sides
 * (design §2 step 6).
 *
 * Matching uses the catalogue's own search engine, so a buyer and a provider see the same
 * relevance the catalogue shows: a demand's text is an any-word query (its Chinese runs cut
 * into three-character fragments, store/search.c) over active listings of the demand's
 * category, and kind when it names one, as the buyer sees the catalogue (so a private offer
 * to someone else never matches). Posting a demand matches the CORE_MATCHES_MAX best listings;
 * a new listing runs each open demand of its category (at most CORE_MATCH_DEMANDS_MAX, the
 * newest) against itself alone. A pair is matched once: its row in demand_matches, one
 * "demand.matched" event per demand and operation, and a notification to the buyer and one to
 * the provider, all in the transaction of the post or listing that caused it.
 */
#include "util/compat.h"
#include "core/core.h"
#include "core/core_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clearing/clearing.h"
#include "util/banned.h"

#define DAY_MS ((int64_t)86400000)
#define NOTE_TEXT_CHARS 80 /* a title or demand text quoted in a notification */

/* Copies at most max_chars characters of UTF-8 s into out, ending in "…" when cut. */
static void text_prefix(const char *s, size_t max_chars, char *out, size_t cap)
{
    size_t i = 0, chars = 0;
    while (s[i] != '\0' && chars < max_chars) {
        size_t len = 1;
        while (((unsigned char)s[i + len] & 0xc0) == 0x80) {
            len++;
        }
        if (i + len + 4 > cap) {
            break;
        }
        i += len;
        chars++;
    }
    memcpy(out, s, i);
    if (s[i] != '\0') {
        memcpy(out + i, "\xe2\x80\xa6", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* ---- matches ---- */

struct match_item {
    const struct store_listing *listing;
    int64_t score;
};

static enum err notify(struct core *c, const char *recipient, const char *type, const char *subject,
                       json_t *body, int64_t now, int64_t log_index, struct errbuf *err)
{
    struct store_notification n;
    memset(&n, 0, sizeof(n));
    char *text = body != NULL ? core__canonical(body) : NULL;
    json_decref(body);
    if (text == NULL || strlen(text) >= sizeof(n.body)) {
        mem_free(text);
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    id_new(c->rng, "ntf", n.id);
    snprintf(n.recipient_id, sizeof(n.recipient_id), "%s", recipient);
    snprintf(n.type, sizeof(n.type), "%s", type);
    snprintf(n.subject_id, sizeof(n.subject_id), "%s", subject);
    snprintf(n.body, sizeof(n.body), "%s", text);
    mem_free(text);
    n.created_ms = now;
    n.log_index = log_index;
    return store_notification_insert(c->store, &n, err);
}

/* Tells the buyer and the provider of one new match. */
static enum err notify_pair(struct core *c, const struct store_demand *d,
                            const struct match_item *m, int64_t now, int64_t log_index,
                            struct errbuf *err)
{
    const struct store_listing *l = m->listing;
    char title[NOTE_TEXT_CHARS * 4 + 4], text[NOTE_TEXT_CHARS * 4 + 4];
    text_prefix(l->title, NOTE_TEXT_CHARS, title, sizeof(title));
    text_prefix(d->text, NOTE_TEXT_CHARS, text, sizeof(text));
    json_t *to_buyer = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:o*, s:s}", "demand_id", d->id, "listing_id", l->id, "title",
        title, "provider_id", l->provider_id, "score", (json_int_t)m->score, "headline_price",
        l->price >= 0 ? json_integer(l->price) : json_null(), "currency", l->currency);
    enum err rc = notify(c, d->buyer_id, "demand.match", l->id, to_buyer, now, log_index, err);
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *to_provider =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "listing_id", l->id, "demand_id", d->id,
                  "buyer_id", d->buyer_id, "text", text, "score", (json_int_t)m->score, "budget",
                  (json_int_t)d->budget, "currency", d->currency);
    return notify(c, l->provider_id, "listing.match", d->id, to_provider, now, log_index, err);
}

/* Records the pairs of demand d not matched before: one event, rows, notifications. */
static enum err matches_record(struct core *c, const char *actor, const struct store_demand *d,
                               const struct match_item *items, size_t n, size_t *recorded,
                               struct errbuf *err)
{
    ASSERT(n <= CORE_MATCHES_MAX);
    struct match_item fresh[CORE_MATCHES_MAX];
    size_t k = 0;
    *recorded = 0;
    for (size_t i = 0; i < n; i++) {
        int before = 0;
        enum err rc = store_demand_matched(c->store, d->id, items[i].listing->id, &before, err);
        if (rc != ERR_OK) {
            return rc;
        }
        if (!before) {
            fresh[k++] = items[i];
        }
    }
    if (k == 0) {
        return ERR_OK;
    }
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < k; i++) {
        if (json_array_append_new(list,
                                  json_pack("{s:s, s:s, s:I}", "listing_id", fresh[i].listing->id,
                                            "provider_id", fresh[i].listing->provider_id, "score",
                                            (json_int_t)fresh[i].score)) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    json_t *body =
        json_pack("{s:s, s:s, s:o*}", "demand_id", d->id, "buyer_id", d->buyer_id, "matches", list);
    int64_t now = clock_now(c->clock);
    int64_t seq = -1;
    enum err rc = body != NULL ? store_event_append(c->store, "demand.matched", actor, d->id, now,
                                                    body, &seq, err)
                               : err_set(err, ERR_NOMEM, "", "out of memory");
    json_decref(body);
    for (size_t i = 0; i < k && rc == ERR_OK; i++) {
        struct store_demand_match m;
        memset(&m, 0, sizeof(m));
        snprintf(m.demand_id, sizeof(m.demand_id), "%s", d->id);
        snprintf(m.listing_id, sizeof(m.listing_id), "%s", fresh[i].listing->id);
        m.score = fresh[i].score;
        m.created_ms = now;
        m.log_index = seq;
        int inserted = 0;
        rc = store_demand_match_insert(c->store, &m, &inserted, err);
        ASSERT(rc != ERR_OK || inserted); /* checked above, in this transaction */
        if (rc == ERR_OK) {
            rc = notify_pair(c, d, &fresh[i], now, seq, err);
        }
    }
    if (rc == ERR_OK) {
        *recorded = k;
    }
    return rc;
}

/* The catalogue query of a demand, as its buyer sees the catalogue. */
static void demand_query(const struct store_demand *d, struct store_listing_query *q)
{
    memset(q, 0, sizeof(*q));
    q->text = d->text;
    q->any_term = 1;
    q->category = d->category;
    q->kind = d->kind[0] != '\0' ? d->kind : NULL;
    q->status = "active";
    q->price_min = -1;
    q->price_max = -1;
    q->viewer_id = d->buyer_id;
    q->only_docid = -1;
    q->limit = CORE_MATCHES_MAX;
    q->candidates_max = STORE_SEARCH_CANDIDATES_MAX;
}

/* Runs q; a text with nothing to search for matches nothing rather than failing. */
static enum err query_run(struct core *c, const struct store_listing_query *q,
                          struct store_listing_results *r, struct errbuf *err)
{
    struct errbuf local;
    errbuf_init(&local);
    enum err rc = store_listing_search(c->store, q, r, &local);
    if (rc == ERR_INVALID && strcmp(local.field, "q") == 0) {
        memset(r, 0, sizeof(*r));
        return ERR_OK;
    }
    if (rc != ERR_OK && err != NULL) {
        *err = local;
    }
    return rc;
}

/* Matches a freshly posted demand with the best listings. */
static enum err demand_match_listings(struct core *c, const char *actor,
                                      const struct store_demand *d, size_t *matched,
                                      struct errbuf *err)
{
    struct store_listing_query q;
    demand_query(d, &q);
    struct store_listing_results *r = mem_calloc(1, sizeof(*r));
    if (r == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    enum err rc = query_run(c, &q, r, err);
    struct match_item items[CORE_MATCHES_MAX];
    size_t n = 0;
    for (size_t i = 0; rc == ERR_OK && i < r->count && n < CORE_MATCHES_MAX; i++) {
        if (strcmp(r->items[i].provider_id, d->buyer_id) != 0) {
            items[n].listing = &r->items[i];
            items[n].score = r->scores[i];
            n++;
        }
    }
    if (rc == ERR_OK) {
        rc = matches_record(c, actor, d, items, n, matched, err);
    }
    store_listing_results_release(r);
    mem_free(r);
    return rc;
}

static int buyer_named(const char *id, const char (*buyers)[ID_MAX], size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(buyers[i], id) == 0) {
            return 1;
        }
    }
    return 0;
}

enum err core__listing_match_demands(struct core *c, const struct core_principal *who,
                                     const struct store_listing *l, const char (*buyers)[ID_MAX],
                                     size_t buyer_count, size_t *matched, struct errbuf *err)
{
    ASSERT(l->docid >= 0);
    *matched = 0;
    struct store_demand *demands = NULL;
    size_t count = 0;
    enum err rc = store_demand_open_for(c->store, l->category, l->kind, clock_now(c->clock),
                                        CORE_MATCH_DEMANDS_MAX, &demands, &count, err);
    struct store_listing_results *r = mem_calloc(1, sizeof(*r));
    if (rc == ERR_OK && r == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory");
    }
    for (size_t i = 0; rc == ERR_OK && i < count; i++) {
        const struct store_demand *d = &demands[i];
        if (strcmp(d->buyer_id, l->provider_id) == 0 ||
            (l->private_offer && !buyer_named(d->buyer_id, buyers, buyer_count))) {
            continue;
        }
        struct store_listing_query q;
        demand_query(d, &q);
        q.only_docid = l->docid;
        q.limit = 1;
        q.candidates_max = 1;
        rc = query_run(c, &q, r, err);
        if (rc == ERR_OK && r->count == 1) {
            struct match_item item = {l, r->scores[0]};
            size_t recorded = 0;
            rc = matches_record(c, who->id, d, &item, 1, &recorded, err);
            *matched += recorded;
        }
        store_listing_results_release(r);
    }
    mem_free(r);
    mem_free(demands);
    return rc;
}

/* ---- demands ---- */

static enum err buyer_check(struct core *c, const struct core_principal *who, struct errbuf *err)
{
    if (who->kind != CORE_KIND_BUYER && who->kind != CORE_KIND_BROKER) {
        return err_set(err, ERR_FORBIDDEN, "", "only buyers and brokers post demands");
    }
    if (!core_principal_active(who)) {
        return err_set(err, ERR_FORBIDDEN, "", "only a verified entity posts demands");
    }
    int active = 0;
    enum err rc = core_cert_active(c, who->id, CORE_CERT_TRADING, &active, err);
    if (rc == ERR_OK && !active) {
        rc = err_set(err, ERR_FORBIDDEN, "", "posting demands needs an active trading certificate");
    }
    return rc;
}

static enum err budget_parse(const json_t *body, struct store_demand *d, struct errbuf *err)
{
    static const char *const names[] = {"amount", "currency"};
    const json_t *b = json_object_get(body, "budget");
    if (!json_is_object(b)) {
        return err_set(err, ERR_INVALID, "budget", "'budget' must be {\"amount\", \"currency\"}");
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)b, key, value)
    {
        (void)value;
        if (strcmp(key, names[0]) != 0 && strcmp(key, names[1]) != 0) {
            return err_set(err, ERR_INVALID, "budget", "unknown field 'budget.%s'", key);
        }
    }
    enum err rc = core__json_int(b, "budget.", "amount", 1, PRICING_AMOUNT_MAX, 1, &d->budget, err);
    const char *currency = json_string_value(json_object_get(b, "currency"));
    if (rc == ERR_OK) {
        rc = clearing_currency_check(currency, "budget.currency", err);
    }
    if (rc == ERR_OK) {
        snprintf(d->currency, sizeof(d->currency), "%s", currency);
    }
    return rc;
}

static enum err demand_parse(const json_t *body, int64_t now, struct store_demand *d,
                             struct errbuf *err)
{
    static const char *const names[] = {"text",    "category", "kind",
                                        "purpose", "budget",   "deadline"};
    if (!json_is_object(body)) {
        return err_set(err, ERR_INVALID, "", "the demand must be a JSON object");
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)body, key, value)
    {
        (void)value;
        int ok = 0;
        for (size_t i = 0; i < ARRAY_LEN(names); i++) {
            ok |= strcmp(names[i], key) == 0;
        }
        if (!ok) {
            return err_set(err, ERR_INVALID, key, "unknown field '%s'", key);
        }
    }
    const char *text = NULL, *purpose = NULL, *category = NULL, *kind = NULL;
    enum err rc = core__json_text(body, "", "text", CORE_DEMAND_CHARS_MAX, 1, &text, err);
    if (rc == ERR_OK) {
        rc = core__json_text(body, "", "purpose", CORE_PURPOSE_CHARS_MAX, 1, &purpose, err);
    }
    if (rc == ERR_OK) {
        rc = core__json_text(body, "", "category", STORE_CATEGORY_MAX, 1, &category, err);
    }
    if (rc == ERR_OK && !core__category_known(category)) {
        rc = err_set(err, ERR_INVALID, "category",
                     "category must be one of the taxonomy's codes (GET /v1/categories)");
    }
    if (rc == ERR_OK) {
        rc = core__json_text(body, "", "kind", STORE_KIND_MAX, 0, &kind, err);
    }
    enum core_product_kind k;
    if (rc == ERR_OK && kind != NULL && core_product_kind_parse(kind, &k) != ERR_OK) {
        rc = err_set(err, ERR_INVALID, "kind",
                     "kind must be dataset, api, report, model or compute");
    }
    if (rc == ERR_OK) {
        rc = budget_parse(body, d, err);
    }
    const char *deadline = json_string_value(json_object_get(body, "deadline"));
    if (rc == ERR_OK &&
        (deadline == NULL || clock_parse_rfc3339(deadline, &d->deadline_ms) != ERR_OK)) {
        rc = err_set(err, ERR_INVALID, "deadline", "'deadline' must be an RFC 3339 UTC time");
    }
    if (rc == ERR_OK &&
        (d->deadline_ms <= now || d->deadline_ms > now + CORE_DEMAND_DAYS_MAX * DAY_MS)) {
        rc = err_set(err, ERR_INVALID, "deadline", "the deadline is in the future, within %d days",
                     CORE_DEMAND_DAYS_MAX);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    snprintf(d->text, sizeof(d->text), "%s", text);
    snprintf(d->purpose, sizeof(d->purpose), "%s", purpose);
    snprintf(d->category, sizeof(d->category), "%s", category);
    snprintf(d->kind, sizeof(d->kind), "%s", kind != NULL ? kind : "");
    return ERR_OK;
}

static json_t *demand_event_body(const struct store_demand *d)
{
    char deadline[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(d->deadline_ms, deadline);
    return json_pack("{s:s, s:s, s:s, s:s, s:s*, s:s, s:{s:I, s:s}, s:s}", "demand_id", d->id,
                     "buyer_id", d->buyer_id, "text", d->text, "category", d->category, "kind",
                     d->kind[0] != '\0' ? d->kind : NULL, "purpose", d->purpose, "budget", "amount",
                     (json_int_t)d->budget, "currency", d->currency, "deadline", deadline);
}

enum err core_demand_post(struct core *c, const struct core_principal *who, const json_t *body,
                          struct store_demand *out, size_t *matched, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL && matched != NULL);
    memset(out, 0, sizeof(*out));
    *matched = 0;
    int64_t now = clock_now(c->clock);
    enum err rc = buyer_check(c, who, err);
    if (rc == ERR_OK) {
        rc = demand_parse(body, now, out, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    id_new(c->rng, "dmd", out->id);
    snprintf(out->buyer_id, sizeof(out->buyer_id), "%s", who->id);
    snprintf(out->status, sizeof(out->status), "open");
    out->created_ms = now;
    out->updated_ms = now;
    json_t *ev = demand_event_body(out);
    if (ev == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    rc = store_tx_begin(c->store, err);
    if (rc == ERR_OK) {
        rc = store_event_append(c->store, "demand.posted", who->id, out->id, now, ev,
                                &out->log_index, err);
        if (rc == ERR_OK) {
            rc = store_demand_insert(c->store, out, err);
        }
        if (rc == ERR_OK) {
            rc = demand_match_listings(c, who->id, out, matched, err);
        }
        if (rc == ERR_OK) {
            rc = store_tx_commit(c->store, err);
        } else {
            store_tx_rollback(c->store);
        }
    }
    json_decref(ev);
    if (rc != ERR_OK) {
        *matched = 0;
    }
    return rc;
}

static enum err demand_visible(const struct core_principal *who, const struct store_demand *d,
                               struct errbuf *err)
{
    if (core__supervisor(who) || strcmp(d->buyer_id, who->id) == 0 || core_principal_active(who)) {
        return ERR_OK;
    }
    return err_set(err, ERR_NOT_FOUND, "id", "no demand '%s'", d->id);
}

enum err core_demand_get(struct core *c, const struct core_principal *who, const char *id_in,
                         struct store_demand *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (!id_valid(id_in, "dmd")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not a demand id",
                       id_in != NULL ? id_in : "");
    }
    char id[ID_MAX]; /* id_in may point into out */
    snprintf(id, sizeof(id), "%s", id_in);
    enum err rc = store_demand_get(c->store, id, out, err);
    return rc == ERR_OK ? demand_visible(who, out, err) : rc;
}

enum err core_demand_list(struct core *c, const struct core_principal *who,
                          const struct store_demand_filter *filter, struct store_demand_page *page,
                          struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && filter != NULL && page != NULL);
    memset(page, 0, sizeof(*page));
    enum core_product_kind k;
    if (filter->buyer_id != NULL && !id_valid(filter->buyer_id, "ent")) {
        return err_set(err, ERR_INVALID, "buyer", "'%s' is not an entity id", filter->buyer_id);
    }
    if (filter->category != NULL && !core__category_known(filter->category)) {
        return err_set(err, ERR_INVALID, "category", "unknown category '%s'", filter->category);
    }
    if (filter->kind != NULL && core_product_kind_parse(filter->kind, &k) != ERR_OK) {
        return err_set(err, ERR_INVALID, "kind", "unknown product kind '%s'", filter->kind);
    }
    if (filter->status != NULL && strcmp(filter->status, "open") != 0 &&
        strcmp(filter->status, "closed") != 0) {
        return err_set(err, ERR_INVALID, "status", "status must be open or closed");
    }
    struct store_demand_filter f = *filter;
    if (!core__supervisor(who) && !core_principal_active(who)) {
        f.buyer_id = who->id; /* an unverified caller sees only its own */
    }
    return store_demand_list(c->store, &f, page, err);
}

enum err core_demand_close(struct core *c, const struct core_principal *who, const char *id,
                           const char *reason, struct store_demand *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    enum err rc = core__text_check("reason", reason, CORE_DEMAND_CHARS_MAX, 0, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_tx_begin(c->store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = core_demand_get(c, who, id, out, err);
    if (rc == ERR_OK && who->kind != CORE_KIND_OPERATOR && strcmp(out->buyer_id, who->id) != 0) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "only the demand's buyer or the operator closes it");
    }
    if (rc == ERR_OK && strcmp(out->status, "open") != 0) {
        rc = err_set(err, ERR_BAD_STATE, "id", "demand '%s' is %s already", out->id, out->status);
    }
    json_t *body = NULL;
    if (rc == ERR_OK) {
        int64_t now = clock_now(c->clock);
        snprintf(out->status, sizeof(out->status), "closed");
        snprintf(out->close_reason, sizeof(out->close_reason), "%s", reason != NULL ? reason : "");
        out->updated_ms = now;
        out->closed_ms = now;
        body = json_pack("{s:s, s:s, s:s*}", "demand_id", out->id, "buyer_id", out->buyer_id,
                         "reason", reason != NULL && reason[0] != '\0' ? reason : NULL);
        rc = body != NULL ? store_event_append(c->store, "demand.closed", who->id, out->id, now,
                                               body, &out->log_index, err)
                          : err_set(err, ERR_NOMEM, "", "out of memory");
    }
    json_decref(body);
    if (rc == ERR_OK) {
        rc = store_demand_update(c->store, out, err);
    }
    if (rc != ERR_OK) {
        store_tx_rollback(c->store);
        return rc;
    }
    return store_tx_commit(c->store, err);
}

enum err core_demand_matches(struct core *c, const struct core_principal *who, const char *id,
                             const char *cursor, size_t limit, struct store_listing_results *out,
                             struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    struct store_demand d;
    enum err rc = core_demand_get(c, who, id, &d, err);
    if (rc == ERR_OK && !core__supervisor(who) && strcmp(d.buyer_id, who->id) != 0) {
        rc = err_set(err, ERR_FORBIDDEN, "id", "only the demand's buyer sees its matches");
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_listing_query q;
    demand_query(&d, &q);
    q.cursor = cursor;
    q.limit = limit;
    return query_run(c, &q, out, err);
}

/* ---- the inbox ---- */

enum err core_inbox_list(struct core *c, const struct core_principal *who, const char *status,
                         const char *cursor, size_t limit, struct store_notification_page *page,
                         struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && page != NULL);
    memset(page, 0, sizeof(*page));
    if (who->id[0] == '\0') {
        return err_set(err, ERR_UNAUTHORIZED, "Authorization", "the inbox needs an api key");
    }
    struct store_notification_filter f = {who->id, 0, 0, cursor, limit};
    if (status != NULL && strcmp(status, "unread") == 0) {
        f.unread_only = 1;
    } else if (status != NULL && strcmp(status, "read") == 0) {
        f.read_only = 1;
    } else if (status != NULL && strcmp(status, "all") != 0) {
        return err_set(err, ERR_INVALID, "status", "status must be unread, read or all");
    }
    return store_notification_list(c->store, &f, page, err);
}

enum err core_inbox_read(struct core *c, const struct core_principal *who, const char *id_in,
                         struct store_notification *out, struct errbuf *err)
{
    ASSERT(c != NULL && who != NULL && out != NULL);
    if (!id_valid(id_in, "ntf")) {
        return err_set(err, ERR_INVALID, "id", "'%s' is not a notification id",
                       id_in != NULL ? id_in : "");
    }
    char id[ID_MAX]; /* id_in may point into out */
    snprintf(id, sizeof(id), "%s", id_in);
    enum err rc = store_notification_get(c->store, id, out, err);
    if (rc == ERR_OK && strcmp(out->recipient_id, who->id) != 0) {
        rc = err_set(err, ERR_NOT_FOUND, "id", "no notification '%s'", id);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    int changed = 0;
    int64_t now = clock_now(c->clock);
    rc = store_notification_mark_read(c->store, id, now, &changed, err);
    if (rc == ERR_OK && changed) {
        out->read_ms = now;
    }
    return rc;
}
