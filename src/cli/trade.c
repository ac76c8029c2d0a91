/*
 * trade.c: `bourse order ...` (buy at the listed price), `bourse negotiation ...` (offer,
 * counter-offer, accept, reject) and `bourse auction ...` (open, sealed bids, close) (design
 * §2 step 7; docs/cli.md, "Trading"). Each trade ends in a proposed contract, which the parties
 * then sign with `bourse contract sign`.
 *
 * Amounts on the command line are integers of minor units, as in the API (500000 is CNY
 * 5,000.00). A refusal by a trading rule is printed with the rule's problem type, which names
 * it (not-qualified, private-offer, exclusivity-sold, classification, price-outside-terms,
 * self-trade).
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static const char *const negotiation_statuses[] = {"open", "accepted", "rejected", "expired", NULL};

/* ---- helpers ---- */

/* A whole number of at most 16 digits. */
static enum err check_whole(const char *option, const char *value, struct errbuf *err)
{
    size_t n = strlen(value);
    for (size_t i = 0; i < n; i++) {
        if (value[i] < '0' || value[i] > '9') {
            n = 0;
        }
    }
    if (n == 0 || n > 16) {
        return err_set(err, ERR_INVALID, option, "--%s must be a whole number", option);
    }
    return ERR_OK;
}

static int64_t whole(const char *v)
{
    int64_t n = 0;
    for (const char *p = v; *p != '\0'; p++) {
        n = n * 10 + (*p - '0');
    }
    return n;
}

/* Sets obj[key] from option name (checked by check_whole) when given. */
static int int_put(json_t *obj, const struct cli_args *a, const char *name, const char *key)
{
    const char *v = cli__arg(a, name);
    if (v == NULL) {
        return 0;
    }
    return json_object_set_new(obj, key, json_integer(whole(v)));
}

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

static int list_call(struct cli *c, const char *base, const char *const *pairs, size_t count,
                     const struct cli_args *a, cli_render_fn *row, const char *header,
                     const char *empty)
{
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__query_path(&path, base, pairs, count, a) != ERR_OK) {
        cli__error(c, "the list filters are too long");
    } else {
        code = cli__list_call(c, path.data, row, header, empty);
    }
    buf_release(&path);
    return code;
}

static void int_cell(struct cli *c, const json_t *o, const char *key, size_t width)
{
    char text[32];
    snprintf(text, sizeof(text), "%" PRId64, (int64_t)json_integer_value(json_object_get(o, key)));
    cli__print_cell(c->out, text, width);
}

/* ---- order ---- */

static void order_print(struct cli *c, const json_t *o)
{
    static const char *const fields[][2] = {
        {"order", "id"},
        {"listing", "listing_id"},
        {"buyer", "buyer_id"},
        {"provider", "provider_id"},
        {"source", "source"},
        {"source id", "source_id"},
        {"price model", "price_model"},
        {"tier", "tier"},
        {"currency", "currency"},
    };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        cli__print_field(c, fields[i][0], cli__json_str(o, fields[i][1]));
    }
    cli__print_field_int(c, "periods", o, "periods");
    cli__print_field_int(c, "unit price", o, "unit_price");
    cli__print_field_int(c, "price", o, "price");
    cli__print_field(c, "exclusive", json_is_true(json_object_get(o, "exclusive")) ? "yes" : "no");
    cli__print_field(c, "contract", cli__json_str(o, "contract_id"));
    cli__print_field(c, "placed at", cli__json_str(o, "created_at"));
    cli__print_field_int(c, "log index", o, "log_index");
}

static void order_row(struct cli *c, const json_t *o)
{
    cli__print_cell(c->out, cli__json_str(o, "id"), 26);
    cli__print_cell(c->out, cli__json_str(o, "source"), 12);
    cli__print_cell(c->out, cli__json_str(o, "listing_id"), 26);
    int_cell(c, o, "price", 14);
    cli__print_cell(c->out, cli__json_str(o, "currency"), 5);
    cli__print_text(c->out, cli__json_str(o, "contract_id"));
    fputc('\n', c->out);
}

static int order_place(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    json_t *body = json_pack("{s:s}", "listing_id", a->positional[0]);
    int bad = body == NULL;
    bad = bad || cli__json_put(body, "tier", cli__arg(a, "tier")) != ERR_OK;
    bad = bad || cli__json_put(body, "currency", cli__arg(a, "currency")) != ERR_OK;
    bad = bad || int_put(body, a, "periods", "periods") != 0;
    bad = bad || int_put(body, a, "price", "price") != 0;
    int code = CLI_EXIT_FAILURE;
    if (bad) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, "POST", "/v1/orders", body, order_print);
    }
    json_decref(body);
    return code;
}

static int order_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/orders/", a->positional[0]};
    return call_parts(c, "GET", parts, ARRAY_LEN(parts), NULL, order_print);
}

static int order_list(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"listing", "listing_id", "limit",
                                        "limit",   "cursor",     "cursor"};
    return list_call(c, "/v1/orders", pairs, ARRAY_LEN(pairs), a, order_row,
                     "ID                        SOURCE      LISTING                   PRICE"
                     "         CUR  CONTRACT",
                     "no orders");
}

/* ---- negotiation ---- */

static void negotiation_print(struct cli *c, const json_t *n)
{
    static const char *const fields[][2] = {
        {"negotiation", "id"},
        {"listing", "listing_id"},
        {"buyer", "buyer_id"},
        {"provider", "provider_id"},
        {"status", "status"},
        {"currency", "currency"},
        {"last offer by", "last_offer_by"},
        {"turn", "turn"},
        {"expires at", "expires_at"},
        {"order", "order_id"},
    };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        cli__print_field(c, fields[i][0], cli__json_str(n, fields[i][1]));
    }
    cli__print_field_int(c, "price", n, "price");
    cli__print_field_int(c, "offers", n, "offers");
    const json_t *h = json_object_get(n, "history");
    for (size_t i = 0; i < json_array_size(h); i++) {
        const json_t *x = json_array_get(h, i);
        fputs(i == 0 ? "history:\n" : "", c->out);
        fprintf(c->out, "  %" PRId64 "  ", (int64_t)json_integer_value(json_object_get(x, "seq")));
        cli__print_cell(c->out, cli__json_str(x, "by"), 26);
        int_cell(c, x, "price", 14);
        cli__print_text(c->out, cli__json_str(x, "at"));
        fputc('\n', c->out);
    }
    const json_t *o = json_object_get(n, "order");
    if (json_is_object(o)) {
        cli__print_field(c, "contract", cli__json_str(o, "contract_id"));
    }
    cli__print_field_int(c, "log index", n, "log_index");
}

static void negotiation_row(struct cli *c, const json_t *n)
{
    cli__print_cell(c->out, cli__json_str(n, "id"), 26);
    cli__print_cell(c->out, cli__json_str(n, "status"), 9);
    cli__print_cell(c->out, cli__json_str(n, "listing_id"), 26);
    int_cell(c, n, "price", 14);
    cli__print_text(c->out, cli__json_str(n, "turn"));
    fputc('\n', c->out);
}

/* {price, currency?, terms?: {purpose?, term_days?}} from the options. */
static json_t *offer_body(const struct cli_args *a)
{
    json_t *body = json_object();
    json_t *terms = json_object();
    int bad = body == NULL || terms == NULL;
    bad = bad || int_put(body, a, "price", "price") != 0;
    bad = bad || cli__json_put(body, "currency", cli__arg(a, "currency")) != ERR_OK;
    bad = bad || cli__json_put(terms, "purpose", cli__arg(a, "purpose")) != ERR_OK;
    bad = bad || int_put(terms, a, "term-days", "term_days") != 0;
    if (!bad && json_object_size(terms) > 0) {
        bad = json_object_set(body, "terms", terms) != 0;
    }
    json_decref(terms);
    if (bad) {
        json_decref(body);
        return NULL;
    }
    return body;
}

static int negotiation_open(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    json_t *body = offer_body(a);
    int bad =
        body == NULL || json_object_set_new(body, "listing_id", json_string(a->positional[0])) != 0;
    bad = bad || int_put(body, a, "expires-in", "expires_in") != 0;
    int code = CLI_EXIT_FAILURE;
    if (bad) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, "POST", "/v1/negotiations", body, negotiation_print);
    }
    json_decref(body);
    return code;
}

static int negotiation_offer(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    json_t *body = offer_body(a);
    if (body == NULL) {
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    const char *parts[] = {"/v1/negotiations/", a->positional[0], "/offers"};
    int code = call_parts(c, "POST", parts, ARRAY_LEN(parts), body, negotiation_print);
    json_decref(body);
    return code;
}

static int negotiation_accept(struct cli *c, const struct cli_command *cmd,
                              const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/negotiations/", a->positional[0], "/accept"};
    return call_parts(c, "POST", parts, ARRAY_LEN(parts), NULL, negotiation_print);
}

static int negotiation_reject(struct cli *c, const struct cli_command *cmd,
                              const struct cli_args *a)
{
    (void)cmd;
    json_t *body = json_object();
    if (body == NULL || cli__json_put(body, "reason", cli__arg(a, "reason")) != ERR_OK) {
        json_decref(body);
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    const char *parts[] = {"/v1/negotiations/", a->positional[0], "/reject"};
    int code = call_parts(c, "POST", parts, ARRAY_LEN(parts), body, negotiation_print);
    json_decref(body);
    return code;
}

static int negotiation_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/negotiations/", a->positional[0]};
    return call_parts(c, "GET", parts, ARRAY_LEN(parts), NULL, negotiation_print);
}

static int negotiation_list(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"status", "status", "limit", "limit", "cursor", "cursor"};
    return list_call(c, "/v1/negotiations", pairs, ARRAY_LEN(pairs), a, negotiation_row,
                     "ID                        STATUS   LISTING                   PRICE"
                     "         TURN",
                     "no negotiations");
}

/* ---- auction ---- */

static void bid_row(struct cli *c, const json_t *b)
{
    fputs("  ", c->out);
    cli__print_cell(c->out, cli__json_str(b, "id"), 26);
    cli__print_cell(c->out, cli__json_str(b, "bidder_id"), 26);
    int_cell(c, b, "amount", 14);
    cli__print_text(c->out, cli__json_str(b, "at"));
    fputc('\n', c->out);
}

static void auction_print(struct cli *c, const json_t *x)
{
    static const char *const fields[][2] = {
        {"auction", "id"},          {"listing", "listing_id"}, {"provider", "provider_id"},
        {"status", "status"},       {"currency", "currency"},  {"closes at", "closes_at"},
        {"closed at", "closed_at"}, {"winner", "winner_id"},   {"winning bid", "winning_bid_id"},
        {"order", "order_id"},
    };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        cli__print_field(c, fields[i][0], cli__json_str(x, fields[i][1]));
    }
    cli__print_field_int(c, "reserve", x, "reserve");
    cli__print_field_int(c, "price", x, "price");
    cli__print_field_int(c, "bids", x, "bid_count");
    const json_t *bids = json_object_get(x, "bids");
    fputs(json_array_size(bids) > 0 ? "bids shown:\n" : "", c->out);
    for (size_t i = 0; i < json_array_size(bids); i++) {
        bid_row(c, json_array_get(bids, i));
    }
    cli__print_field_int(c, "log index", x, "log_index");
}

static void bid_print(struct cli *c, const json_t *b)
{
    cli__print_field(c, "bid", cli__json_str(b, "id"));
    cli__print_field(c, "bidder", cli__json_str(b, "bidder_id"));
    cli__print_field_int(c, "amount", b, "amount");
    cli__print_field(c, "salt", cli__json_str(b, "salt"));
    cli__print_field(c, "commitment", cli__json_str(b, "commitment"));
    cli__print_field(c, "at", cli__json_str(b, "at"));
}

static int auction_open(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    json_t *body = json_pack("{s:s}", "listing_id", a->positional[0]);
    int bad = body == NULL || int_put(body, a, "reserve", "reserve") != 0;
    bad = bad || cli__json_put(body, "currency", cli__arg(a, "currency")) != ERR_OK;
    bad = bad || cli__json_put(body, "closes_at", cli__arg(a, "closes-at")) != ERR_OK;
    int code = CLI_EXIT_FAILURE;
    if (bad) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, "POST", "/v1/auctions", body, auction_print);
    }
    json_decref(body);
    return code;
}

static int auction_bid(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    json_t *body = json_object();
    if (body == NULL || int_put(body, a, "amount", "amount") != 0) {
        json_decref(body);
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    const char *parts[] = {"/v1/auctions/", a->positional[0], "/bids"};
    int code = call_parts(c, "POST", parts, ARRAY_LEN(parts), body, bid_print);
    json_decref(body);
    return code;
}

static int auction_close(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/auctions/", a->positional[0], "/close"};
    return call_parts(c, "POST", parts, ARRAY_LEN(parts), NULL, auction_print);
}

/* An auction by its id, or a listing's auction by the listing's id. */
static int auction_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *id = a->positional[0];
    if (strncmp(id, "lst_", 4) == 0) {
        const char *parts[] = {"/v1/listings/", id, "/auction"};
        return call_parts(c, "GET", parts, ARRAY_LEN(parts), NULL, auction_print);
    }
    const char *parts[] = {"/v1/auctions/", id};
    return call_parts(c, "GET", parts, ARRAY_LEN(parts), NULL, auction_print);
}

/* ---- tables ---- */

static const char *const one_listing[] = {"LISTING_ID", NULL};
static const char *const one_id[] = {"ID", NULL};

static const struct cli_option place_options[] = {
    {"tier", CLI_OPT_VALUE, NULL, NULL},
    {"periods", CLI_OPT_VALUE, NULL, check_whole},
    {"price", CLI_OPT_VALUE, NULL, check_whole},
    {"currency", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option order_list_options[] = {
    {"listing", CLI_OPT_VALUE, NULL, NULL},
    {"limit", CLI_OPT_VALUE, NULL, cli__check_limit},
    {"cursor", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option open_options[] = {
    {"price", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, check_whole},
    {"currency", CLI_OPT_VALUE, NULL, NULL},
    {"purpose", CLI_OPT_VALUE, NULL, NULL},
    {"term-days", CLI_OPT_VALUE, NULL, check_whole},
    {"expires-in", CLI_OPT_VALUE, NULL, check_whole},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option offer_options[] = {
    {"price", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, check_whole},
    {"currency", CLI_OPT_VALUE, NULL, NULL},
    {"purpose", CLI_OPT_VALUE, NULL, NULL},
    {"term-days", CLI_OPT_VALUE, NULL, check_whole},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option reject_options[] = {
    {"reason", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option negotiation_list_options[] = {
    {"status", CLI_OPT_VALUE, negotiation_statuses, NULL},
    {"limit", CLI_OPT_VALUE, NULL, cli__check_limit},
    {"cursor", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option auction_open_options[] = {
    {"reserve", CLI_OPT_VALUE, NULL, check_whole},
    {"currency", CLI_OPT_VALUE, NULL, NULL},
    {"closes-at", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option bid_options[] = {
    {"amount", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, check_whole},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__order_commands[] = {
    {"order", "place", order_place, NULL, place_options, one_listing, 0,
     "LISTING_ID [--tier T] [--periods N] [--price N --currency C]",
     "buy at the listed price; proposes the contract (buyer)"},
    {"order", "list", order_list, NULL, order_list_options, NULL, 0,
     "[--listing ID] [--limit N] [--cursor C]", "your orders, as buyer or provider, newest first"},
    {"order", "show", order_show, NULL, NULL, one_id, 0, "ID", "show an order"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

const struct cli_command cli__negotiation_commands[] = {
    {"negotiation", "open", negotiation_open, NULL, open_options, one_listing, 0,
     "LISTING_ID --price N [--currency C] [--purpose TEXT] [--term-days N] [--expires-in S]",
     "open a negotiation on a negotiable listing with your offer (buyer)"},
    {"negotiation", "offer", negotiation_offer, NULL, offer_options, one_id, 0,
     "ID --price N [--purpose TEXT] [--term-days N]", "counter the other party's offer"},
    {"negotiation", "accept", negotiation_accept, NULL, NULL, one_id, 0, "ID",
     "accept the other party's offer; proposes the contract"},
    {"negotiation", "reject", negotiation_reject, NULL, reject_options, one_id, 0,
     "ID [--reason TEXT]", "end a negotiation without a trade"},
    {"negotiation", "show", negotiation_show, NULL, NULL, one_id, 0, "ID",
     "show a negotiation and its offers (its parties)"},
    {"negotiation", "list", negotiation_list, NULL, negotiation_list_options, NULL, 0,
     "[--status S] [--limit N] [--cursor C]", "your negotiations, newest first"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

const struct cli_command cli__auction_commands[] = {
    {"auction", "open", auction_open, NULL, auction_open_options, one_listing, 0,
     "LISTING_ID [--reserve N] [--currency C] [--closes-at RFC3339]",
     "open the sealed-bid auction of an auction listing (provider)"},
    {"auction", "bid", auction_bid, NULL, bid_options, one_id, 0, "ID --amount N",
     "place a sealed bid (its amount stays hidden until the close)"},
    {"auction", "close", auction_close, NULL, NULL, one_id, 0, "ID",
     "close an auction past its deadline; reveals every bid"},
    {"auction", "show", auction_show, NULL, NULL, one_id, 0, "ID|LISTING_ID",
     "show an auction (before the close, only your own bids)"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
