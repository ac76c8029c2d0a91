/*
 * catalogue.c: `bourse price ...` (a provider's pricing inputs and the reference price with its
 * arithmetic), `bourse listing ...` (create, show, delist, search the catalogue), `bourse demand
 * ...` (post, list, show, its matches, close) and `bourse inbox ...` (design §2 steps 5 and 6).
 *
 * Amounts on the command line are integers of minor units, as in the API (500000 is CNY
 * 5,000.00); the human rendering prints them in major units with the currency's ISO 4217
 * exponent. A listing is written as a JSON file (docs/api.md, "Listings") because a price model
 * with tiers and licence terms with territories do not fit flags.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clearing/clearing.h"
#include "util/banned.h"

#define LISTING_FILE_BYTES_MAX (256u << 10)

static const char *const product_kinds[] = {"dataset", "api", "report", "model", "compute", NULL};
static const char *const classifications[] = {"public", "corporate", "personal", NULL};
static const char *const boards[] = {"main", "international", NULL};
static const char *const deliveries[] = {"file", "api", "compute", NULL};
static const char *const listing_statuses[] = {"active", "delisted", "all", NULL};
static const char *const demand_statuses[] = {"open", "closed", NULL};
static const char *const inbox_statuses[] = {"unread", "read", "all", NULL};
static const char *const periods[] = {"month", "year", NULL};

/* ---- helpers ---- */

/* "1234.56 CNY" from 123456 minor units. */
static void money_print(FILE *f, int64_t minor, const char *currency)
{
    int e = clearing_currency_exponent(currency);
    uint64_t mag = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    const char *sign = minor < 0 ? "-" : "";
    if (e <= 0) {
        fprintf(f, "%s%" PRIu64 " %s", sign, mag, currency != NULL ? currency : "");
        return;
    }
    uint64_t unit = 1;
    for (int i = 0; i < e; i++) {
        unit *= 10;
    }
    fprintf(f, "%s%" PRIu64 ".%0*" PRIu64 " %s", sign, mag / unit, e, mag % unit, currency);
}

static int64_t json_i64(const json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

/* "label:" then the money member key of o, or "-" when it is null. */
static void money_field(struct cli *c, const char *label, const json_t *o, const char *key,
                        const char *currency)
{
    char head[64];
    snprintf(head, sizeof(head), "%s:", label);
    cli__print_cell(c->out, head, 14);
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        money_print(c->out, (int64_t)json_integer_value(v), currency);
    } else {
        fputc('-', c->out);
    }
    fputc('\n', c->out);
}

/* Builds a path from parts (see cli__path) and runs cli__call on it. body is borrowed. */
static int call_parts(struct cli *c, const char *method, const char *const *parts, size_t count,
                      const json_t *body, cli_render_fn *render)
{
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__path(&path, parts, count) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, method, path.data, body, render);
    }
    buf_release(&path);
    return code;
}

/* Reads a JSON object file. */
static int json_file(struct cli *c, const char *path, json_t **out)
{
    struct errbuf err;
    errbuf_init(&err);
    char *text = NULL;
    size_t len = 0;
    enum err rc = cli__file_read(path, LISTING_FILE_BYTES_MAX, &text, &len, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    json_error_t jerr;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    mem_free(text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        cli__error(c, "'%s' is not a JSON object: %s", path, jerr.text);
        return CLI_EXIT_INVALID;
    }
    return CLI_EXIT_OK;
}

/* Sets obj[key] to the integer value of option name when given. */
static int int_put(struct cli *c, const struct cli_command *cmd, const struct cli_args *a,
                   json_t *obj, const char *name, const char *key)
{
    const char *v = cli__arg(a, name);
    if (v == NULL) {
        return CLI_EXIT_OK;
    }
    int64_t n = 0;
    for (const char *p = v; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || p - v > 16) {
            return cli__usage_error(c, cmd, "--%s must be a whole number (of minor units)", name);
        }
        n = n * 10 + (*p - '0');
    }
    return json_object_set_new(obj, key, json_integer(n)) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

/* ---- price ---- */

static void inputs_print(struct cli *c, const json_t *in)
{
    const char *cur = cli__json_str(in, "currency");
    cli__print_field(c, "product", cli__json_str(in, "product_id"));
    cli__print_field_int(c, "version", in, "version");
    cli__print_field(c, "currency", cur);
    const json_t *cost = json_object_get(in, "cost");
    if (json_is_object(cost)) {
        money_field(c, "collection", cost, "collection", cur);
        money_field(c, "processing", cost, "processing", cur);
        money_field(c, "storage", cost, "storage", cur);
        money_field(c, "labour", cost, "labour", cur);
        cli__print_field_int(c, "margin (bp)", cost, "margin_bp");
    }
    const json_t *income = json_object_get(in, "income");
    if (json_is_object(income)) {
        money_field(c, "benefit", income, "benefit_per_period", cur);
        cli__print_field(c, "per", cli__json_str(income, "period"));
        cli__print_field_int(c, "periods", income, "periods");
        cli__print_field_int(c, "discount (bp)", income, "discount_rate_bp");
    }
    cli__print_field_int(c, "log index", in, "log_index");
}

static int price_inputs(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    static const char *const cost_names[][2] = {
        {"collection", "collection"}, {"processing", "processing"}, {"storage", "storage"},
        {"labour", "labour"},         {"margin-bp", "margin_bp"},
    };
    static const char *const income_names[][2] = {
        {"benefit", "benefit_per_period"},
        {"periods", "periods"},
        {"discount-bp", "discount_rate_bp"},
    };
    json_t *cost = json_object();
    json_t *income = json_object();
    json_t *body = json_pack("{s:s}", "currency", cli__arg(a, "currency"));
    int code = cost != NULL && income != NULL && body != NULL ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    for (size_t i = 0; i < ARRAY_LEN(cost_names) && code == CLI_EXIT_OK; i++) {
        code = int_put(c, cmd, a, cost, cost_names[i][0], cost_names[i][1]);
    }
    for (size_t i = 0; i < ARRAY_LEN(income_names) && code == CLI_EXIT_OK; i++) {
        code = int_put(c, cmd, a, income, income_names[i][0], income_names[i][1]);
    }
    if (code == CLI_EXIT_OK && cli__arg(a, "period") != NULL) {
        code = cli__json_put(income, "period", cli__arg(a, "period")) == ERR_OK ? CLI_EXIT_OK
                                                                                : CLI_EXIT_FAILURE;
    }
    if (code == CLI_EXIT_OK && json_object_size(cost) > 0) {
        code = json_object_set(body, "cost", cost) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    }
    if (code == CLI_EXIT_OK && json_object_size(income) > 0) {
        code = json_object_set(body, "income", income) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    }
    if (code == CLI_EXIT_OK) {
        const char *parts[] = {"/v1/products/", a->positional[0], "/pricing-inputs"};
        code = call_parts(c, "PUT", parts, ARRAY_LEN(parts), body, inputs_print);
    }
    json_decref(cost);
    json_decref(income);
    json_decref(body);
    return code;
}

static int price_show_inputs(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/products/", a->positional[0], "/pricing-inputs"};
    return call_parts(c, "GET", parts, ARRAY_LEN(parts), NULL, inputs_print);
}

static void method_print(struct cli *c, const char *name, const json_t *m, const char *cur)
{
    if (!json_is_true(json_object_get(m, "available"))) {
        char head[32];
        snprintf(head, sizeof(head), "%s:", name);
        cli__print_cell(c->out, head, 14);
        fputs("not available: ", c->out);
        cli__print_text(c->out, cli__json_str(m, "reason"));
        fputc('\n', c->out);
        return;
    }
    money_field(c, name, m, "value", cur);
    const json_t *steps = json_object_get(m, "steps");
    for (size_t i = 0; i < json_array_size(steps); i++) {
        fputs("    ", c->out);
        cli__print_text(c->out, json_string_value(json_array_get(steps, i)));
        fputc('\n', c->out);
    }
}

static void reference_print(struct cli *c, const json_t *r)
{
    const char *cur = cli__json_str(r, "currency");
    cli__print_field(c, "product", cli__json_str(r, "product_id"));
    cli__print_field(c, "currency", cur);
    cli__print_field(c, "amounts", "in minor units in the arithmetic below");
    const json_t *methods = json_object_get(r, "methods");
    static const char *const names[] = {"cost", "income", "market"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        method_print(c, names[i], json_object_get(methods, names[i]), cur);
    }
    const json_t *corridor = json_object_get(r, "corridor");
    cli__print_cell(c->out, "corridor:", 14);
    if (!json_is_object(corridor)) {
        fputs("none (no method could be applied)\n", c->out);
        return;
    }
    money_print(c->out, json_i64(corridor, "low"), cur);
    fputs(" .. ", c->out);
    money_print(c->out, json_i64(corridor, "high"), cur);
    fputs(" (", c->out);
    cli__print_text(c->out, cli__json_str(corridor, "basis"));
    fputs(")\n", c->out);
}

static int price_reference(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"currency", "currency", "term-days", "term_days"};
    struct buf base, path;
    buf_init(&base, CLI_PATH_BYTES_MAX);
    buf_init(&path, CLI_PATH_BYTES_MAX);
    const char *parts[] = {"/v1/products/", a->positional[0], "/reference-price"};
    int code = CLI_EXIT_FAILURE;
    if (cli__path(&base, parts, ARRAY_LEN(parts)) != ERR_OK ||
        cli__query_path(&path, base.data, pairs, ARRAY_LEN(pairs), a) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, "GET", path.data, NULL, reference_print);
    }
    buf_release(&base);
    buf_release(&path);
    return code;
}

/* ---- listing ---- */

static void price_model_print(struct cli *c, const json_t *p)
{
    const char *model = cli__json_str(p, "model");
    const char *cur = cli__json_str(p, "currency");
    cli__print_cell(c->out, "price:", 14);
    cli__print_text(c->out, model);
    fputc(' ', c->out);
    if (model != NULL && strcmp(model, "subscription") == 0) {
        fputs("per ", c->out);
        cli__print_text(c->out, cli__json_str(p, "period"));
        const json_t *tiers = json_object_get(p, "tiers");
        for (size_t i = 0; i < json_array_size(tiers); i++) {
            const json_t *t = json_array_get(tiers, i);
            fputs(i > 0 ? ", " : ": ", c->out);
            cli__print_text(c->out, cli__json_str(t, "name"));
            fprintf(c->out, " (%" PRId64 " qps) ", json_i64(t, "qps"));
            money_print(c->out, json_i64(t, "price"), cur);
        }
    } else {
        static const char *const keys[] = {"amount", "ask", "price_per_call", "reserve"};
        for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
            if (json_is_integer(json_object_get(p, keys[i]))) {
                money_print(c->out, json_i64(p, keys[i]), cur);
            }
        }
        if (json_is_integer(json_object_get(p, "floor"))) {
            fputs(", floor ", c->out);
            money_print(c->out, json_i64(p, "floor"), cur);
        }
        if (json_is_integer(json_object_get(p, "monthly_minimum"))) {
            fputs(" a call, monthly minimum ", c->out);
            money_print(c->out, json_i64(p, "monthly_minimum"), cur);
        }
        if (cli__json_str(p, "deadline") != NULL) {
            fputs(", closes ", c->out);
            cli__print_text(c->out, cli__json_str(p, "deadline"));
        }
    }
    fputc('\n', c->out);
}

static void terms_print(struct cli *c, const json_t *t)
{
    cli__print_field(c, "purpose", cli__json_str(t, "purpose"));
    cli__print_field_int(c, "term (days)", t, "term_days");
    cli__print_cell(c->out, "territory:", 14);
    const json_t *ter = json_object_get(t, "territory");
    if (json_is_string(ter)) {
        cli__print_text(c->out, json_string_value(ter));
    }
    for (size_t i = 0; i < json_array_size(ter); i++) {
        fputs(i > 0 ? ", " : "", c->out);
        cli__print_text(c->out, json_string_value(json_array_get(ter, i)));
    }
    fputc('\n', c->out);
    cli__print_field(c, "redistribution", cli__json_str(t, "redistribution"));
    cli__print_field(c, "exclusive", json_is_true(json_object_get(t, "exclusive")) ? "yes" : "no");
    cli__print_cell(c->out, "delivery:", 14);
    const json_t *d = json_object_get(t, "delivery");
    for (size_t i = 0; i < json_array_size(d); i++) {
        fputs(i > 0 ? ", " : "", c->out);
        cli__print_text(c->out, json_string_value(json_array_get(d, i)));
    }
    fputc('\n', c->out);
}

static void listing_print(struct cli *c, const json_t *l)
{
    static const char *const fields[][2] = {
        {"listing", "id"},           {"title", "title"},        {"status", "status"},
        {"board", "board"},          {"product", "product_id"}, {"revision", "revision_id"},
        {"provider", "provider_id"}, {"category", "category"},  {"kind", "kind"},
        {"class", "classification"},
    };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        cli__print_field(c, fields[i][0], cli__json_str(l, fields[i][1]));
    }
    const char *cur = cli__json_str(l, "currency");
    price_model_print(c, json_object_get(l, "price"));
    money_field(c, "headline", l, "headline_price", cur);
    const json_t *ref = json_object_get(l, "reference");
    cli__print_cell(c->out, "reference:", 14);
    if (json_is_object(ref)) {
        money_print(c->out, json_i64(ref, "low"), cur);
        fputs(" .. ", c->out);
        money_print(c->out, json_i64(ref, "high"), cur);
        fputs(" (", c->out);
        cli__print_text(c->out, cli__json_str(ref, "basis"));
        fputs(")\n", c->out);
    } else {
        fputs("none\n", c->out);
    }
    if (cli__json_str(l, "price_flag") != NULL) {
        cli__print_field(c, "flag", cli__json_str(l, "price_flag"));
    }
    terms_print(c, json_object_get(l, "terms"));
    const json_t *buyers = json_object_get(l, "buyers");
    if (json_is_true(json_object_get(l, "private"))) {
        cli__print_cell(c->out, "offered to:", 14);
        for (size_t i = 0; i < json_array_size(buyers); i++) {
            fputs(i > 0 ? ", " : "", c->out);
            cli__print_text(c->out, json_string_value(json_array_get(buyers, i)));
        }
        fputs(json_array_size(buyers) == 0 ? "you (a private offer)\n" : "\n", c->out);
    }
    if (json_is_integer(json_object_get(l, "matched_demands"))) {
        cli__print_field_int(c, "matched", l, "matched_demands");
    }
    cli__print_field_int(c, "log index", l, "log_index");
}

static void listing_row(struct cli *c, const json_t *l)
{
    cli__print_cell(c->out, cli__json_str(l, "id"), 26);
    char score[24];
    snprintf(score, sizeof(score), "%" PRId64, json_i64(l, "score"));
    cli__print_cell(c->out, score, 10);
    if (json_is_integer(json_object_get(l, "headline_price"))) {
        money_print(c->out, json_i64(l, "headline_price"), cli__json_str(l, "currency"));
        fputs("  ", c->out);
    } else {
        fputs("-  ", c->out);
    }
    cli__print_cell(c->out, cli__json_str(l, "category"), 14);
    cli__print_cell(c->out, cli__json_str(l, "kind"), 9);
    cli__print_text(c->out, cli__json_str(l, "title"));
    fputc('\n', c->out);
}

static int listing_create(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    json_t *body = NULL;
    int code = json_file(c, cli__arg(a, "file"), &body);
    if (code == CLI_EXIT_OK) {
        code = cli__call(c, "POST", "/v1/listings", body, listing_print);
    }
    json_decref(body);
    return code;
}

static int listing_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/listings/", a->positional[0]};
    return call_parts(c, "GET", parts, ARRAY_LEN(parts), NULL, listing_print);
}

static int reason_call(struct cli *c, const struct cli_args *a, const char *base,
                       const char *suffix, cli_render_fn *render)
{
    json_t *body = json_object();
    if (body == NULL || cli__json_put(body, "reason", cli__arg(a, "reason")) != ERR_OK) {
        json_decref(body);
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    const char *parts[] = {base, a->positional[0], suffix};
    int code = call_parts(c, "POST", parts, ARRAY_LEN(parts), body, render);
    json_decref(body);
    return code;
}

static int listing_delist(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    return reason_call(c, a, "/v1/listings/", "/delist", listing_print);
}

/* Prints a ranked page with its facets. */
static int results_call(struct cli *c, const char *path)
{
    struct errbuf err;
    errbuf_init(&err);
    struct cli_response resp;
    cli__response_init(&resp);
    enum err rc = cli__request(c, "GET", path, NULL, &resp, &err);
    int code = cli__response_check(c, rc, &err, &resp);
    const json_t *items = json_object_get(resp.json, "items");
    if (code == CLI_EXIT_OK && !json_is_array(items)) {
        cli__error(c, "the server's answer has no list of items");
        code = CLI_EXIT_FAILURE;
    }
    if (code != CLI_EXIT_OK || c->json) {
        if (code == CLI_EXIT_OK) {
            cli__print_body(c, &resp);
        }
        cli__response_release(&resp);
        return code;
    }
    fprintf(c->out, "%" PRId64 " match%s%s\n", json_i64(resp.json, "total"),
            json_i64(resp.json, "total") == 1 ? "" : "es",
            json_is_true(json_object_get(resp.json, "truncated"))
                ? " (the newest ranked; refine the query to see the rest)"
                : "");
    if (json_array_size(items) > 0) {
        fputs("ID                        SCORE     PRICE (TERM)  CATEGORY      KIND     TITLE\n",
              c->out);
    }
    for (size_t i = 0; i < json_array_size(items); i++) {
        listing_row(c, json_array_get(items, i));
    }
    const json_t *facets = json_object_get(resp.json, "facets");
    const char *key;
    json_t *list;
    json_object_foreach((json_t *)facets, key, list)
    {
        if (json_array_size(list) == 0) {
            continue;
        }
        fprintf(c->out, "%s:", key);
        for (size_t i = 0; i < json_array_size(list); i++) {
            const json_t *f = json_array_get(list, i);
            fputc(' ', c->out);
            cli__print_text(c->out, cli__json_str(f, "value"));
            fprintf(c->out, " (%" PRId64 ")", json_i64(f, "count"));
        }
        fputc('\n', c->out);
    }
    const char *next = cli__json_str(resp.json, "next_cursor");
    if (next != NULL) {
        fputs("next cursor: ", c->out);
        cli__print_text(c->out, next);
        fputs(" (use --cursor)\n", c->out);
    }
    cli__response_release(&resp);
    return CLI_EXIT_OK;
}

static int listing_search(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {
        "query",     "q",         "category",       "category",       "kind",     "kind",
        "price-min", "price_min", "price-max",      "price_max",      "currency", "currency",
        "provider",  "provider",  "delivery",       "delivery",       "board",    "board",
        "status",    "status",    "classification", "classification", "limit",    "limit",
        "cursor",    "cursor",
    };
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__query_path(&path, "/v1/listings", pairs, ARRAY_LEN(pairs), a) != ERR_OK) {
        cli__error(c, "the search filters are too long");
    } else {
        code = results_call(c, path.data);
    }
    buf_release(&path);
    return code;
}

/* ---- demand ---- */

static void demand_print(struct cli *c, const json_t *d)
{
    static const char *const fields[][2] = {
        {"demand", "id"},       {"buyer", "buyer_id"},    {"status", "status"},
        {"text", "text"},       {"category", "category"}, {"kind", "kind"},
        {"purpose", "purpose"}, {"deadline", "deadline"}, {"posted at", "created_at"},
    };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        cli__print_field(c, fields[i][0], cli__json_str(d, fields[i][1]));
    }
    const json_t *b = json_object_get(d, "budget");
    money_field(c, "budget", b, "amount", cli__json_str(b, "currency"));
    if (json_is_integer(json_object_get(d, "matched_listings"))) {
        cli__print_field_int(c, "matched", d, "matched_listings");
    }
    const json_t *m = json_object_get(d, "matches");
    for (size_t i = 0; i < json_array_size(m); i++) {
        const json_t *x = json_array_get(m, i);
        fputs(i == 0 ? "matches:\n" : "", c->out);
        fputs("  ", c->out);
        cli__print_cell(c->out, cli__json_str(x, "listing_id"), 26);
        fprintf(c->out, "score %" PRId64 "\n", json_i64(x, "score"));
    }
    cli__print_field_int(c, "log index", d, "log_index");
}

static void demand_row(struct cli *c, const json_t *d)
{
    cli__print_cell(c->out, cli__json_str(d, "id"), 26);
    cli__print_cell(c->out, cli__json_str(d, "status"), 8);
    cli__print_cell(c->out, cli__json_str(d, "category"), 18);
    const json_t *b = json_object_get(d, "budget");
    money_print(c->out, json_i64(b, "amount"), cli__json_str(b, "currency"));
    fputs("  ", c->out);
    cli__print_text(c->out, cli__json_str(d, "text"));
    fputc('\n', c->out);
}

static int demand_post(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:{s:s}, s:s}", "text", cli__arg(a, "text"), "category",
                  cli__arg(a, "category"), "purpose", cli__arg(a, "purpose"), "budget", "currency",
                  cli__arg(a, "currency"), "deadline", cli__arg(a, "deadline"));
    int code = body != NULL ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    if (code == CLI_EXIT_OK) {
        code = int_put(c, cmd, a, json_object_get(body, "budget"), "budget", "amount");
    }
    if (code == CLI_EXIT_OK && cli__json_put(body, "kind", cli__arg(a, "kind")) != ERR_OK) {
        code = CLI_EXIT_FAILURE;
    }
    if (code == CLI_EXIT_OK) {
        code = cli__call(c, "POST", "/v1/demands", body, demand_print);
    } else if (body == NULL) {
        cli__error(c, "out of memory");
    }
    json_decref(body);
    return code;
}

static int demand_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/demands/", a->positional[0]};
    return call_parts(c, "GET", parts, ARRAY_LEN(parts), NULL, demand_print);
}

static int demand_list(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"buyer", "buyer", "category", "category",
                                        "kind",  "kind",  "status",   "status",
                                        "limit", "limit", "cursor",   "cursor"};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__query_path(&path, "/v1/demands", pairs, ARRAY_LEN(pairs), a) != ERR_OK) {
        cli__error(c, "the list filters are too long");
    } else {
        code = cli__list_call(c, path.data, demand_row,
                              "ID                        STATUS  CATEGORY          BUDGET  TEXT",
                              "no demands");
    }
    buf_release(&path);
    return code;
}

static int demand_matches(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"limit", "limit", "cursor", "cursor"};
    struct buf base, path;
    buf_init(&base, CLI_PATH_BYTES_MAX);
    buf_init(&path, CLI_PATH_BYTES_MAX);
    const char *parts[] = {"/v1/demands/", a->positional[0], "/matches"};
    int code = CLI_EXIT_FAILURE;
    if (cli__path(&base, parts, ARRAY_LEN(parts)) != ERR_OK ||
        cli__query_path(&path, base.data, pairs, ARRAY_LEN(pairs), a) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = results_call(c, path.data);
    }
    buf_release(&base);
    buf_release(&path);
    return code;
}

static int demand_close(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    return reason_call(c, a, "/v1/demands/", "/close", demand_print);
}

/* ---- inbox ---- */

static void note_print(struct cli *c, const json_t *n)
{
    cli__print_field(c, "notification", cli__json_str(n, "id"));
    cli__print_field(c, "type", cli__json_str(n, "type"));
    cli__print_field(c, "about", cli__json_str(n, "subject_id"));
    cli__print_field(c, "read", json_is_true(json_object_get(n, "read")) ? "yes" : "no");
    cli__print_field(c, "at", cli__json_str(n, "created_at"));
}

static void note_row(struct cli *c, const json_t *n)
{
    cli__print_cell(c->out, cli__json_str(n, "id"), 26);
    cli__print_cell(c->out, json_is_true(json_object_get(n, "read")) ? "read" : "unread", 8);
    cli__print_cell(c->out, cli__json_str(n, "type"), 15);
    cli__print_cell(c->out, cli__json_str(n, "created_at"), 26);
    const json_t *body = json_object_get(n, "body");
    const char *what = cli__json_str(body, "title");
    cli__print_text(c->out, what != NULL ? what : cli__json_str(body, "text"));
    fputc('\n', c->out);
}

static int inbox_list(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"status", "status", "limit", "limit", "cursor", "cursor"};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__query_path(&path, "/v1/inbox", pairs, ARRAY_LEN(pairs), a) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__list_call(c, path.data, note_row,
                              "ID                        STATE   TYPE           AT             "
                              "            ABOUT",
                              "no notifications");
    }
    buf_release(&path);
    return code;
}

static int inbox_read(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/inbox/", a->positional[0], "/read"};
    return call_parts(c, "POST", parts, ARRAY_LEN(parts), NULL, note_print);
}

/* ---- the tables ---- */

static const char *const one_id[] = {"ID", NULL};
static const char *const one_product[] = {"PRODUCT_ID", NULL};

static const struct cli_option inputs_options[] = {
    {"currency", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"collection", CLI_OPT_VALUE, NULL, NULL},
    {"processing", CLI_OPT_VALUE, NULL, NULL},
    {"storage", CLI_OPT_VALUE, NULL, NULL},
    {"labour", CLI_OPT_VALUE, NULL, NULL},
    {"margin-bp", CLI_OPT_VALUE, NULL, NULL},
    {"benefit", CLI_OPT_VALUE, NULL, NULL},
    {"period", CLI_OPT_VALUE, periods, NULL},
    {"periods", CLI_OPT_VALUE, NULL, NULL},
    {"discount-bp", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option reference_options[] = {
    {"currency", CLI_OPT_VALUE, NULL, NULL},
    {"term-days", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option file_options[] = {
    {"file", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option reason_options[] = {
    {"reason", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option search_options[] = {
    {"query", CLI_OPT_VALUE, NULL, NULL},
    {"category", CLI_OPT_VALUE, NULL, NULL},
    {"kind", CLI_OPT_VALUE, product_kinds, NULL},
    {"price-min", CLI_OPT_VALUE, NULL, NULL},
    {"price-max", CLI_OPT_VALUE, NULL, NULL},
    {"currency", CLI_OPT_VALUE, NULL, NULL},
    {"provider", CLI_OPT_VALUE, NULL, NULL},
    {"delivery", CLI_OPT_VALUE, deliveries, NULL},
    {"board", CLI_OPT_VALUE, boards, NULL},
    {"status", CLI_OPT_VALUE, listing_statuses, NULL},
    {"classification", CLI_OPT_VALUE, classifications, NULL},
    {"limit", CLI_OPT_VALUE, NULL, cli__check_limit},
    {"cursor", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option post_options[] = {
    {"text", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"category", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"kind", CLI_OPT_VALUE, product_kinds, NULL},
    {"purpose", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"budget", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"currency", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"deadline", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option demand_list_options[] = {
    {"buyer", CLI_OPT_VALUE, NULL, NULL},
    {"category", CLI_OPT_VALUE, NULL, NULL},
    {"kind", CLI_OPT_VALUE, product_kinds, NULL},
    {"status", CLI_OPT_VALUE, demand_statuses, NULL},
    {"limit", CLI_OPT_VALUE, NULL, cli__check_limit},
    {"cursor", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option page_options[] = {
    {"limit", CLI_OPT_VALUE, NULL, cli__check_limit},
    {"cursor", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option inbox_options[] = {
    {"status", CLI_OPT_VALUE, inbox_statuses, NULL},
    {"limit", CLI_OPT_VALUE, NULL, cli__check_limit},
    {"cursor", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__price_commands[] = {
    {"price", "inputs", price_inputs, NULL, inputs_options, one_product, 0,
     "PRODUCT_ID --currency C [--collection N --processing N --storage N --labour N "
     "--margin-bp BP] [--benefit N --period month|year --periods N --discount-bp BP]",
     "declare a product's pricing inputs, in minor units (provider)"},
    {"price", "show-inputs", price_show_inputs, NULL, NULL, one_product, 0, "PRODUCT_ID",
     "show a product's pricing inputs"},
    {"price", "reference", price_reference, NULL, reference_options, one_product, 0,
     "PRODUCT_ID [--currency C] [--term-days N]",
     "the reference price by the cost, income and market methods, with the arithmetic"},
    {"price", "index", cli__price_index, NULL, cli__price_index_options, NULL, 0,
     "--category C [--kind K] [--currency C] [--period month|year] [--periods N]",
     "the chained price index of cleared trades, per period (operator, regulator)"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

const struct cli_command cli__listing_commands[] = {
    {"listing", "create", listing_create, NULL, file_options, NULL, 0, "--file LISTING.json",
     "list a product revision with a price model and licence terms (provider)"},
    {"listing", "show", listing_show, NULL, NULL, one_id, 0, "ID", "show a listing"},
    {"listing", "delist", listing_delist, NULL, reason_options, one_id, 0, "ID [--reason TEXT]",
     "withdraw a listing; contracts made on it stay (provider, operator)"},
    {"listing", "search", listing_search, NULL, search_options, NULL, 0,
     "[--query WORDS] [--category C] [--kind K] [--price-min N --price-max N --currency C] "
     "[--provider ID] [--delivery D] [--board B] [--classification C] [--status S] [--limit N] "
     "[--cursor C]",
     "search the catalogue, ranked by relevance, with facets"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

const struct cli_command cli__demand_commands[] = {
    {"demand", "post", demand_post, NULL, post_options, NULL, 0,
     "--text TEXT --category C [--kind K] --purpose TEXT --budget N --currency C "
     "--deadline RFC3339",
     "post what data you need; the exchange matches it with listings (buyer)"},
    {"demand", "list", demand_list, NULL, demand_list_options, NULL, 0,
     "[--buyer ID] [--category C] [--kind K] [--status open|closed] [--limit N] [--cursor C]",
     "list demands, newest first"},
    {"demand", "show", demand_show, NULL, NULL, one_id, 0, "ID",
     "show a demand (and, for its buyer, the matches made)"},
    {"demand", "matches", demand_matches, NULL, page_options, one_id, 0,
     "ID [--limit N] [--cursor C]", "the listings that match a demand now, ranked (buyer)"},
    {"demand", "close", demand_close, NULL, reason_options, one_id, 0, "ID [--reason TEXT]",
     "close a demand (buyer, operator)"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

const struct cli_command cli__inbox_commands[] = {
    {"inbox", "list", inbox_list, NULL, inbox_options, NULL, 0,
     "[--status unread|read|all] [--limit N] [--cursor C]", "your notifications, newest first"},
    {"inbox", "read", inbox_read, NULL, NULL, one_id, 0, "ID", "mark a notification read"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
