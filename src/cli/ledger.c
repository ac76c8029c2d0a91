/*
 * ledger.c: `bourse ledger ...` and `bourse fee schedule ...`, the clearing ledger (design §2
 * step 8): the operator records bank deposits and withdrawals, entities read balances, history
 * and a CSV statement per period, the operator sets fee schedules.
 *
 * Amounts on the command line are integers of minor units (fen for CNY, yen for JPY), as in the
 * API; balances are printed in major units with the currency's ISO 4217 exponent, so 123456 CNY
 * shows as 1234.56.
 *
 * `bourse ledger check` is the one command here that talks to no server: like `bourse db`, it
 * opens the database itself (--db URI, or --data DIR for its bourse.db) and runs the ledger's
 * integrity checks against the transfers and against the transparency log. A running server
 * holds its SQLite database exclusively, so stop it first (exit 7 otherwise); a PostgreSQL
 * database can be checked beside running nodes, though writes landing meanwhile may be seen
 * half-way between its two passes: check a quiet database.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clearing/clearing.h"
#include "store/store.h"
#include "util/banned.h"

#define LEDGER_DB_MAX 4096
#define LEDGER_SCHEMA_VERSION 3 /* the migration that created the ledger */

static const char *const fee_kinds[] = {"percentage", "fixed", "membership", NULL};
static const char *const periods[] = {"month", "year", NULL};

/* ---- value checks ---- */

/* A whole number 0..INT64_MAX written in digits only. */
static int digits_int64(const char *value, int64_t *out)
{
    if (value[0] == '\0' || strlen(value) > 19) {
        return 0;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(value, &end, 10);
    if (errno != 0 || *end != '\0') {
        return 0;
    }
    *out = (int64_t)v;
    return 1;
}

static enum err check_amount(const char *option, const char *value, struct errbuf *err)
{
    int64_t v = 0;
    if (!digits_int64(value, &v) || v < 1) {
        return err_set(err, ERR_INVALID, option,
                       "--%s must be a whole number of minor units (123456 for 1234.56 CNY)",
                       option);
    }
    return ERR_OK;
}

static enum err check_whole(const char *option, const char *value, struct errbuf *err)
{
    int64_t v = 0;
    if (!digits_int64(value, &v)) {
        return err_set(err, ERR_INVALID, option, "--%s must be a whole number", option);
    }
    return ERR_OK;
}

static enum err check_currency(const char *option, const char *value, struct errbuf *err)
{
    if (clearing_currency_exponent(value) < 0) {
        return err_set(err, ERR_INVALID, option,
                       "--%s must be an active ISO 4217 code such as CNY, USD or JPY", option);
    }
    return ERR_OK;
}

static enum err check_time(const char *option, const char *value, struct errbuf *err)
{
    int64_t ms = 0;
    if (clock_parse_rfc3339(value, &ms) != ERR_OK) {
        return err_set(err, ERR_INVALID, option,
                       "--%s must be an RFC 3339 UTC time such as 2026-11-01T00:00:00Z", option);
    }
    return ERR_OK;
}

/* ---- rendering ---- */

/* "1234.56 CNY" from 123456 minor units; the sign of negative balances kept. */
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

static void transfer_print(struct cli *c, const json_t *t)
{
    static const char *const fields[][2] = {
        {"transfer", "id"},         {"kind", "kind"},          {"state", "state"},
        {"code", "code"},           {"from", "debit_account"}, {"to", "credit_account"},
        {"reference", "reference"}, {"at", "created_at"},
    };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        cli__print_field(c, fields[i][0], cli__json_str(t, fields[i][1]));
    }
    fputs("amount:       ", c->out);
    money_print(c->out, json_i64(t, "amount"), cli__json_str(t, "currency"));
    fputc('\n', c->out);
    cli__print_field_int(c, "log index", t, "log_index");
    if (json_is_true(json_object_get(t, "replayed"))) {
        fputs("(an earlier request with this idempotency key; nothing new was recorded)\n", c->out);
    }
}

static void balance_print(struct cli *c, const json_t *body)
{
    const json_t *items = json_object_get(body, "items");
    if (!json_is_array(items) || json_array_size(items) == 0) {
        fputs("no accounts\n", c->out);
        return;
    }
    fputs("ACCOUNT                   KIND       BALANCE              AVAILABLE            "
          "PENDING\n",
          c->out);
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *a = json_array_get(items, i);
        const char *cur = cli__json_str(a, "currency");
        cli__print_cell(c->out, cli__json_str(a, "id"), 26);
        cli__print_cell(c->out, cli__json_str(a, "kind"), 11);
        money_print(c->out, json_i64(a, "balance"), cur);
        fputs("  ", c->out);
        money_print(c->out, json_i64(a, "available"), cur);
        fputs("  ", c->out);
        money_print(c->out, json_i64(a, "pending"), cur);
        fputc('\n', c->out);
    }
}

static void history_rows(struct cli *c, const json_t *items)
{
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *t = json_array_get(items, i);
        cli__print_cell(c->out, cli__json_str(t, "created_at"), 26);
        cli__print_cell(c->out, cli__json_str(t, "id"), 26);
        cli__print_cell(c->out, cli__json_str(t, "kind"), 9);
        cli__print_cell(c->out, cli__json_str(t, "code"), 20);
        money_print(c->out, json_i64(t, "amount"), cli__json_str(t, "currency"));
        fputc('\n', c->out);
    }
}

static void schedule_print(struct cli *c, const json_t *f)
{
    static const char *const fields[][2] = {
        {"schedule", "id"},       {"name", "name"},     {"kind", "kind"},
        {"currency", "currency"}, {"period", "period"}, {"created at", "created_at"},
    };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        cli__print_field(c, fields[i][0], cli__json_str(f, fields[i][1]));
    }
    static const char *const ints[][2] = {{"version", "version"},
                                          {"rate (bp)", "rate_bp"},
                                          {"minimum", "minimum"},
                                          {"cap", "cap"},
                                          {"fixed amount", "fixed_amount"}};
    for (size_t i = 0; i < ARRAY_LEN(ints); i++) {
        cli__print_field_int(c, ints[i][0], f, ints[i][1]);
    }
}

static void schedules_print(struct cli *c, const json_t *body)
{
    const json_t *items = json_object_get(body, "items");
    if (!json_is_array(items) || json_array_size(items) == 0) {
        fputs("no fee schedules\n", c->out);
        return;
    }
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *f = json_array_get(items, i);
        cli__print_cell(c->out, cli__json_str(f, "id"), 26);
        cli__print_cell(c->out, cli__json_str(f, "name"), 20);
        fprintf(c->out, "v%-4" PRId64 " ", json_i64(f, "version"));
        cli__print_cell(c->out, cli__json_str(f, "kind"), 11);
        cli__print_cell(c->out, cli__json_str(f, "currency"), 4);
        fprintf(c->out,
                "rate %" PRId64 " bp, min %" PRId64 ", cap %" PRId64 ", fixed %" PRId64 "\n",
                json_i64(f, "rate_bp"), json_i64(f, "minimum"), json_i64(f, "cap"),
                json_i64(f, "fixed_amount"));
    }
}

/* ---- requests ---- */

/* Sends a request to the path made of parts and renders the answer. Takes body. */
static int ledger_send(struct cli *c, const char *method, const char *const *parts, size_t count,
                       json_t *body, int need_body, cli_render_fn *render)
{
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if ((need_body && body == NULL) || cli__path(&path, parts, count) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, method, path.data, body, render);
    }
    buf_release(&path);
    json_decref(body);
    return code;
}

static int ledger_movement(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    int64_t amount = 0;
    ASSERT(digits_int64(cli__arg(a, "amount"), &amount)); /* checked by check_amount */
    json_t *body = json_pack("{s:s, s:s, s:I, s:s}", "entity", a->positional[0], "currency",
                             cli__arg(a, "currency"), "amount", (json_int_t)amount, "reference",
                             cli__arg(a, "reference"));
    if (body != NULL &&
        cli__json_put(body, "idempotency_key", cli__arg(a, "idempotency-key")) != ERR_OK) {
        json_decref(body);
        body = NULL;
    }
    const char *parts[] = {cmd->preset};
    return ledger_send(c, "POST", parts, 1, body, 1, transfer_print);
}

static int ledger_balance(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/entities/", a->positional[0], "/accounts"};
    return ledger_send(c, "GET", parts, ARRAY_LEN(parts), NULL, 0, balance_print);
}

/* One page of history; *next is the next cursor (owned) or NULL at the end. */
static int history_page(struct cli *c, const struct cli_args *a, const char *cursor, json_t *all,
                        char **next)
{
    *next = NULL;
    const char *parts[] = {"/v1/entities/", a->positional[0], "/ledger?limit="};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    struct cli_response resp;
    cli__response_init(&resp);
    struct errbuf err;
    errbuf_init(&err);
    int code = CLI_EXIT_FAILURE;
    const char *limit = cli__arg(a, "limit");
    enum err rc = cli__path(&path, parts, ARRAY_LEN(parts));
    if (rc == ERR_OK) {
        rc = buf_append_str(&path, limit != NULL ? limit : "100");
    }
    if (rc == ERR_OK && cursor != NULL) {
        rc = buf_append_str(&path, "&cursor=");
        if (rc == ERR_OK) {
            rc = cli__url_escape_append(&path, cursor);
        }
    }
    if (rc != ERR_OK) {
        cli__error(c, "out of memory");
        goto out;
    }
    rc = cli__request(c, "GET", path.data, NULL, &resp, &err);
    code = cli__response_check(c, rc, &err, &resp);
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    json_t *items = json_object_get(resp.json, "items");
    const char *n = cli__json_str(resp.json, "next_cursor");
    if (!json_is_array(items)) {
        cli__error(c, "the server's answer has no items");
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    if (all != NULL) {
        json_array_extend(all, items);
    } else {
        history_rows(c, items);
    }
    if (n != NULL && n[0] != '\0') {
        *next = mem_strdup(n);
    }
out:
    buf_release(&path);
    cli__response_release(&resp);
    return code;
}

static int ledger_history(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    int follow = cli__arg_given(a, "all");
    json_t *all = c->json ? json_array() : NULL;
    char *cursor = cli__arg(a, "cursor") != NULL ? mem_strdup(cli__arg(a, "cursor")) : NULL;
    int code = CLI_EXIT_OK;
    for (long page = 0; code == CLI_EXIT_OK; page++) {
        if (page == CLI_PAGES_MAX) {
            cli__error(c, "stopped after %d pages", CLI_PAGES_MAX);
            code = CLI_EXIT_FAILURE;
            break;
        }
        char *next = NULL;
        code = history_page(c, a, cursor, all, &next);
        mem_free(cursor);
        cursor = next;
        if (cursor == NULL || !follow) {
            break;
        }
    }
    if (code == CLI_EXIT_OK && all != NULL) {
        json_t *doc = json_pack("{s:O, s:s*}", "items", all, "next_cursor", cursor);
        cli__json_print(c, doc);
        json_decref(doc);
    } else if (code == CLI_EXIT_OK && cursor != NULL) {
        fprintf(c->out, "more: --cursor %s\n", cursor);
    }
    mem_free(cursor);
    json_decref(all);
    return code;
}

static int ledger_statement(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/entities/", a->positional[0], "/statement?from="};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    enum err rc = cli__path(&path, parts, ARRAY_LEN(parts));
    if (rc == ERR_OK) {
        rc = cli__url_escape_append(&path, cli__arg(a, "from"));
    }
    if (rc == ERR_OK) {
        rc = buf_append_str(&path, "&to=");
    }
    if (rc == ERR_OK) {
        rc = cli__url_escape_append(&path, cli__arg(a, "to"));
    }
    if (rc == ERR_OK && cli__arg(a, "currency") != NULL) {
        rc = buf_appendf(&path, "&currency=%s", cli__arg(a, "currency"));
    }
    struct cli_response resp;
    cli__response_init(&resp);
    struct errbuf err;
    errbuf_init(&err);
    int code = CLI_EXIT_FAILURE;
    if (rc != ERR_OK) {
        cli__error(c, "out of memory");
        goto out;
    }
    rc = cli__request(c, "GET", path.data, NULL, &resp, &err);
    code = cli__response_check(c, rc, &err, &resp);
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    const char *out = cli__arg(a, "out");
    if (out != NULL) {
        rc = cli__file_create(out, 0644, resp.raw.data != NULL ? resp.raw.data : "", resp.raw.len,
                              &err);
        if (rc != ERR_OK) {
            cli__error(c, "%s", err.msg);
            code = cli__exit_from_err(rc);
        }
    } else if (resp.raw.len > 0 && fwrite(resp.raw.data, 1, resp.raw.len, c->out) != resp.raw.len) {
        code = CLI_EXIT_FAILURE;
    }
out:
    buf_release(&path);
    cli__response_release(&resp);
    return code;
}

/* ---- ledger check (no server) ---- */

/* Where the database is, as `bourse db` finds it: --db, --data, BOURSE_DB, BOURSE_DATA,
 * ./data; a directory means its bourse.db. Returns an exit code. */
static int check_locate(struct cli *c, const struct cli_command *cmd, const struct cli_args *a,
                        char out[LEDGER_DB_MAX])
{
    const char *db = cli__arg(a, "db");
    const char *data = cli__arg(a, "data");
    if (db != NULL && data != NULL) {
        return cli__usage_error(c, cmd, "give --db or --data, not both");
    }
    if (db == NULL && data == NULL) {
        db = c->env(c->env_ctx, "BOURSE_DB");
        db = db != NULL && db[0] != '\0' ? db : NULL;
    }
    if (db == NULL && data == NULL) {
        data = c->env(c->env_ctx, "BOURSE_DATA");
        data = data != NULL && data[0] != '\0' ? data : "./data";
    }
    const char *where = db != NULL ? db : data;
    int pg = strncmp(where, "postgres://", 11) == 0 || strncmp(where, "postgresql://", 13) == 0;
    struct stat st;
    int n = !pg && stat(where, &st) == 0 && S_ISDIR(st.st_mode)
                ? snprintf(out, LEDGER_DB_MAX, "%s/bourse.db", where)
                : snprintf(out, LEDGER_DB_MAX, "%s", where);
    if (n < 0 || n >= LEDGER_DB_MAX) {
        cli__error(c, "the database location is too long");
        return CLI_EXIT_USAGE;
    }
    if (!pg && stat(out, &st) != 0) {
        cli__error(c, "no database at '%s': %s", out, strerror(errno));
        return CLI_EXIT_NOT_FOUND;
    }
    return CLI_EXIT_OK;
}

static json_t *report_json(const struct clearing_check_report *r,
                           const struct clearing_check_report *l)
{
    json_t *totals = json_array();
    for (size_t i = 0; totals != NULL && i < r->currencies; i++) {
        json_array_append_new(totals, json_pack("{s:s, s:I, s:I}", "currency", r->totals[i].code,
                                                "posted", (json_int_t)r->totals[i].posted,
                                                "pending", (json_int_t)r->totals[i].pending));
    }
    json_t *problems = json_array();
    const struct clearing_check_report *both[] = {r, l};
    for (size_t k = 0; problems != NULL && k < 2; k++) {
        for (size_t i = 0; i < both[k]->problems && i < CLEARING_CHECK_PROBLEMS_MAX; i++) {
            json_array_append_new(problems, json_string(both[k]->problem[i]));
        }
    }
    return json_pack(
        "{s:b, s:I, s:I, s:I, s:I, s:I, s:o*, s:o*}", "ok", r->problems + l->problems == 0,
        "accounts", (json_int_t)r->accounts, "transfers", (json_int_t)r->transfers, "open_holds",
        (json_int_t)r->pending_open, "log_events", (json_int_t)l->events, "problem_count",
        (json_int_t)(r->problems + l->problems), "totals", totals, "problems", problems);
}

static void report_print(struct cli *c, const struct clearing_check_report *r,
                         const struct clearing_check_report *l)
{
    size_t problems = r->problems + l->problems;
    fprintf(c->out, "ledger: %s\n", problems == 0 ? "ok" : "PROBLEMS FOUND");
    fprintf(c->out, "accounts:     %" PRId64 "\n", r->accounts);
    fprintf(c->out,
            "transfers:    %" PRId64 " replayed in ledger order, %" PRId64 " matched to the log\n",
            r->transfers, l->transfers);
    fprintf(c->out, "open holds:   %" PRId64 "\n", r->pending_open);
    fprintf(c->out, "log events:   %" PRId64 " clearing events compared\n", l->events);
    for (size_t i = 0; i < r->currencies; i++) {
        fprintf(c->out, "%s:          debits = credits: posted %" PRId64 ", pending %" PRId64 "\n",
                r->totals[i].code, r->totals[i].posted, r->totals[i].pending);
    }
    const struct clearing_check_report *both[] = {r, l};
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < both[k]->problems && i < CLEARING_CHECK_PROBLEMS_MAX; i++) {
            fputs("problem: ", c->out);
            cli__print_text(c->out, both[k]->problem[i]);
            fputc('\n', c->out);
        }
        if (both[k]->problems > CLEARING_CHECK_PROBLEMS_MAX) {
            fprintf(c->out, "... and %zu more\n", both[k]->problems - CLEARING_CHECK_PROBLEMS_MAX);
        }
    }
}

static int ledger_check(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    char where[LEDGER_DB_MAX];
    int code = check_locate(c, cmd, a, where);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    struct store *s = NULL;
    struct errbuf err;
    errbuf_init(&err);
    int version = 0;
    enum err rc = store_open_with(where, STORE_OPEN_NO_MIGRATE, &s, &err);
    if (rc == ERR_OK) {
        rc = store_schema_version(s, &version, &err);
    }
    if (rc == ERR_OK && version < LEDGER_SCHEMA_VERSION) {
        rc = err_set(&err, ERR_INVALID, "",
                     "the database (schema %d) has no ledger yet; "
                     "`bourse db migrate` adds it",
                     version);
    }
    struct clearing_check_report *r = mem_calloc(2, sizeof(*r));
    if (rc == ERR_OK && r == NULL) {
        rc = err_set(&err, ERR_NOMEM, "", "out of memory");
    }
    enum err r1 = ERR_OK, r2 = ERR_OK;
    if (rc == ERR_OK) {
        r1 = clearing_check(s, &r[0], &err);
        r2 = r1 == ERR_OK || r1 == ERR_CORRUPT ? clearing_check_log(s, &r[1], &err) : r1;
        rc = r1 != ERR_OK && r1 != ERR_CORRUPT ? r1 : r2 != ERR_CORRUPT ? r2 : ERR_OK;
    }
    store_close(s);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        mem_free(r);
        return cli__exit_from_err(rc);
    }
    if (c->json) {
        json_t *o = report_json(&r[0], &r[1]);
        cli__json_print(c, o);
        json_decref(o);
    } else {
        report_print(c, &r[0], &r[1]);
    }
    code = r[0].problems + r[1].problems == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    mem_free(r);
    return code;
}

/* ---- fee schedules ---- */

static int fee_schedule(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    const char *action = a->positional[0];
    static const char *const create_only[] = {"kind", "currency",     "rate-bp", "minimum",
                                              "cap",  "fixed-amount", "period"};
    if (strcmp(action, "list") == 0) {
        for (size_t i = 0; i < ARRAY_LEN(create_only); i++) {
            if (cli__arg_given(a, create_only[i])) {
                return cli__usage_error(c, cmd, "--%s is for `fee schedule create`",
                                        create_only[i]);
            }
        }
        const char *name = cli__arg(a, "name");
        const char *parts[] = {name != NULL ? "/v1/fee-schedules?name=" : "/v1/fee-schedules",
                               name};
        return ledger_send(c, "GET", parts, name != NULL ? 2 : 1, NULL, 0, schedules_print);
    }
    if (strcmp(action, "create") != 0) {
        return cli__usage_error(c, cmd, "unknown action '%s' (create or list)", action);
    }
    if (cli__arg(a, "name") == NULL || cli__arg(a, "kind") == NULL) {
        return cli__usage_error(c, cmd, "`fee schedule create` needs --name and --kind");
    }
    json_t *body = json_object();
    static const char *const strs[][2] = {
        {"name", "name"}, {"kind", "kind"}, {"currency", "currency"}, {"period", "period"}};
    static const char *const ints[][2] = {{"rate-bp", "rate_bp"},
                                          {"minimum", "minimum"},
                                          {"cap", "cap"},
                                          {"fixed-amount", "fixed_amount"}};
    int bad = body == NULL;
    for (size_t i = 0; !bad && i < ARRAY_LEN(strs); i++) {
        bad = cli__json_put(body, strs[i][1], cli__arg(a, strs[i][0])) != ERR_OK;
    }
    for (size_t i = 0; !bad && i < ARRAY_LEN(ints); i++) {
        int64_t v = 0;
        if (cli__arg(a, ints[i][0]) != NULL && digits_int64(cli__arg(a, ints[i][0]), &v)) {
            bad = json_object_set_new(body, ints[i][1], json_integer(v)) != 0;
        }
    }
    if (bad) {
        json_decref(body);
        body = NULL;
    }
    const char *parts[] = {"/v1/fee-schedules"};
    return ledger_send(c, "POST", parts, 1, body, 1, schedule_print);
}

/* ---- the tables ---- */

static const char *const one_entity[] = {"ENTITY_ID", NULL};
static const char *const one_action[] = {"create|list", NULL};

static const struct cli_option movement_options[] = {
    {"currency", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, check_currency},
    {"amount", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, check_amount},
    {"reference", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"idempotency-key", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option history_options[] = {
    {"limit", CLI_OPT_VALUE, NULL, cli__check_limit},
    {"cursor", CLI_OPT_VALUE, NULL, NULL},
    {"all", 0, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option statement_options[] = {
    {"from", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, check_time},
    {"to", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, check_time},
    {"currency", CLI_OPT_VALUE, NULL, check_currency},
    {"out", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option check_options[] = {
    {"data", CLI_OPT_VALUE, NULL, NULL},
    {"db", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option schedule_options[] = {
    {"name", CLI_OPT_VALUE, NULL, NULL},
    {"kind", CLI_OPT_VALUE, fee_kinds, NULL},
    {"currency", CLI_OPT_VALUE, NULL, check_currency},
    {"rate-bp", CLI_OPT_VALUE, NULL, check_whole},
    {"minimum", CLI_OPT_VALUE, NULL, check_whole},
    {"cap", CLI_OPT_VALUE, NULL, check_whole},
    {"fixed-amount", CLI_OPT_VALUE, NULL, check_whole},
    {"period", CLI_OPT_VALUE, periods, NULL},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__ledger_commands[] = {
    {"ledger", "deposit", ledger_movement, "/v1/ledger/deposits", movement_options, one_entity, 0,
     "ENTITY_ID --currency CNY --amount MINOR_UNITS --reference BANK_REF [--idempotency-key K]",
     "record a bank deposit to an entity (operator)"},
    {"ledger", "withdraw", ledger_movement, "/v1/ledger/withdrawals", movement_options, one_entity,
     0, "ENTITY_ID --currency CNY --amount MINOR_UNITS --reference BANK_REF [--idempotency-key K]",
     "record a bank withdrawal from an entity (operator)"},
    {"ledger", "balance", ledger_balance, NULL, NULL, one_entity, 0, "ENTITY_ID",
     "show an entity's accounts and balances"},
    {"ledger", "history", ledger_history, NULL, history_options, one_entity, 0,
     "ENTITY_ID [--limit N] [--cursor C] [--all]", "list an entity's transfers, newest first"},
    {"ledger", "statement", ledger_statement, NULL, statement_options, one_entity, 0,
     "ENTITY_ID --from RFC3339 --to RFC3339 [--currency CNY] [--out FILE]",
     "export an entity's statement for a period as CSV"},
    {"ledger", "check", ledger_check, NULL, check_options, NULL, CLI_CMD_LOCAL,
     "[--data DIR | --db URI]",
     "check the ledger against itself and the log (server stopped, or PostgreSQL)"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

const struct cli_command cli__fee_commands[] = {
    {"fee", "schedule", fee_schedule, NULL, schedule_options, one_action, 0,
     "create --name NAME --kind percentage|fixed|membership [--currency CNY] [--rate-bp N] "
     "[--minimum N] [--cap N] [--fixed-amount N] [--period month|year] | list [--name NAME]",
     "set or list the operator's fee schedules"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
