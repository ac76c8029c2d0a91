/*
 * price_index.c: `bourse price index --category C`, the chained price index of cleared trades
 * (GET /v1/price-index; docs/pricing.md "Price index"), for the operator and regulators. One
 * line per period: its start, the trades settled in it, their total and median value, and the
 * index in basis points of the base period (10000 = the base's level).
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <inttypes.h>
#include <stdio.h>

#include "clearing/clearing.h"
#include "util/banned.h"

static const char *const kinds[] = {"dataset", "api", "report", "model", "compute", NULL};
static const char *const periods[] = {"month", "year", NULL};

const struct cli_option cli__price_index_options[] = {
    {"category", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"kind", CLI_OPT_VALUE, kinds, NULL},
    {"currency", CLI_OPT_VALUE, NULL, NULL},
    {"period", CLI_OPT_VALUE, periods, NULL},
    {"periods", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

/* An amount in major units with the currency's exponent ("3100.00"), or "-" when absent. */
static void amount_cell(FILE *f, const json_t *v, const char *currency, int width)
{
    char text[48] = "-";
    /* ISO 4217 exponents are 0 to 4; the mask tells the compiler the width is small. */
    int e = clearing_currency_exponent(currency);
    e = e > 0 ? e & 7 : 0;
    if (json_is_integer(v) && e > 0) {
        int64_t minor = (int64_t)json_integer_value(v);
        int64_t unit = 1;
        for (int i = 0; i < e; i++) {
            unit *= 10;
        }
        snprintf(text, sizeof(text), "%" PRId64 ".%0*" PRId64, minor / unit, e, minor % unit);
    } else if (json_is_integer(v)) {
        snprintf(text, sizeof(text), "%" PRId64, (int64_t)json_integer_value(v));
    }
    fprintf(f, "%*s", width, text);
}

static void index_print(struct cli *c, const json_t *x)
{
    const char *cur = cli__json_str(x, "currency");
    cli__print_field(c, "category", cli__json_str(x, "category"));
    cli__print_field(c, "kind",
                     json_is_string(json_object_get(x, "kind")) ? cli__json_str(x, "kind") : "all");
    cli__print_field(c, "currency", cur);
    cli__print_field(c, "measure", cli__json_str(x, "measure"));
    cli__print_field(c, "base",
                     json_is_string(json_object_get(x, "base_start"))
                         ? cli__json_str(x, "base_start")
                         : "none (no cleared trades in the range)");
    cli__print_field_int(c, "trades", x, "trades");
    fprintf(c->out, "%-10s %7s %20s %18s %10s\n", "period", "trades", "total", "median",
            "index bp");
    const json_t *rows = json_object_get(x, "periods");
    for (size_t i = 0; i < json_array_size(rows); i++) {
        const json_t *r = json_array_get(rows, i);
        const char *start = cli__json_str(r, "start");
        /* "2026-03-01T00:00:00.000Z": the month is the first 7 characters. */
        fprintf(c->out, "%-10.7s %7" PRId64 " ", start != NULL ? start : "-",
                (int64_t)json_integer_value(json_object_get(r, "count")));
        amount_cell(c->out, json_object_get(r, "sum"), cur, 20);
        fputc(' ', c->out);
        amount_cell(c->out, json_object_get(r, "median"), cur, 18);
        const json_t *bp = json_object_get(r, "index_bp");
        if (json_is_integer(bp)) {
            fprintf(c->out, " %10" PRId64 "\n", (int64_t)json_integer_value(bp));
        } else {
            fprintf(c->out, " %10s\n", "-");
        }
    }
}

int cli__price_index(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"category", "category", "kind",   "kind",    "currency",
                                        "currency", "period",   "period", "periods", "periods"};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__query_path(&path, "/v1/price-index", pairs, ARRAY_LEN(pairs), a) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, "GET", path.data, NULL, index_print);
    }
    buf_release(&path);
    return code;
}
