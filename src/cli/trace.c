/*
 * trace.c: `bourse trace FILE [--object ID]` (the operator or a regulator asks which contracts
 * a suspect file came from; POST /v1/traces with the file as the raw body) and `bourse object
 * fingerprint ID DECLARATION.json` (a provider declares where copies may differ; PUT
 * /v1/objects/{id}/fingerprint). docs/cli.md describes both.
 */
#include "util/compat.h"
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* The server takes a raw body of at most 8 MiB (h2o's cut-off, HTTP_BODY_HARD_MAX): refusing
 * a larger file here says why instead of a bare 413. */
#define TRACE_FILE_BYTES_MAX ((size_t)8 * 1024 * 1024)
/* A declaration is small JSON (STORE_FP_DECL_MAX on the server). */
#define DECLARATION_BYTES_MAX ((size_t)64 * 1024)

/* ---- trace ---- */

static void named_print(struct cli *c, const json_t *n)
{
    const char *match = cli__json_str(n, "match");
    char p[32];
    if (match != NULL && strcmp(match, "exact") == 0) {
        snprintf(p, sizeof(p), "%s", "exact copy");
    } else {
        snprintf(p, sizeof(p), "%.3g", json_real_value(json_object_get(n, "false_accusation")));
    }
    fprintf(c->out, "%-28s %-28s %-11s %s\n", cli__json_str(n, "contract_id"),
            cli__json_str(n, "buyer_id"), match != NULL ? match : "-", p);
}

static void trace_print(struct cli *c, const json_t *t)
{
    cli__print_field(c, "trace", cli__json_str(t, "id"));
    cli__print_field(c, "sha256", cli__json_str(t, "sha256"));
    char bound[32];
    snprintf(bound, sizeof(bound), "%.3g", json_real_value(json_object_get(t, "bound")));
    cli__print_field(c, "bound", bound);
    json_t *named = json_object_get(t, "named");
    if (json_array_size(named) == 0) {
        fprintf(c->out, "no buyer can be named: %s\n", cli__json_str(t, "reason"));
    } else {
        fprintf(c->out, "%-28s %-28s %-11s %s\n", "CONTRACT", "BUYER", "MATCH", "FALSE ACCUSATION");
        size_t i;
        json_t *n;
        json_array_foreach(named, i, n)
        {
            named_print(c, n);
        }
    }
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(t, "originals"), i, o)
    {
        fprintf(c->out, "the file is the original of object %s\n", json_string_value(o));
    }
}

/* The trace URL, with ?object_id= when asked. */
static enum err trace_url(struct cli *c, const char *object_id, struct buf *url)
{
    enum err rc = buf_append_str(url, c->url);
    if (rc == ERR_OK) {
        rc = buf_append_str(url, "/v1/traces");
    }
    if (rc == ERR_OK && object_id != NULL) {
        rc = buf_append_str(url, "?object_id=");
        if (rc == ERR_OK) {
            rc = cli__url_escape_append(url, object_id);
        }
    }
    return rc;
}

static int trace_run(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    char *data = NULL;
    size_t len = 0;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = cli__file_read(a->positional[0], TRACE_FILE_BYTES_MAX, &data, &len, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    struct buf url;
    buf_init(&url, CLI_URL_BYTES_MAX + CLI_PATH_BYTES_MAX);
    rc = trace_url(c, cli__arg(a, "object"), &url);
    struct cli_response resp;
    cli__response_init(&resp);
    /* The raw file goes as the body through the same transport as every request. */
    struct cli_http_request req = {"POST", url.data, data, len, c->key, NULL};
    if (rc == ERR_OK) {
        struct errbuf why;
        errbuf_init(&why);
        rc = c->transport(c->transport_ctx, &req, &resp.status, &resp.raw, &why);
        if (rc != ERR_OK) {
            err_set(&err, rc, NULL, "cannot reach '%s': %s", c->url, why.msg);
        }
    } else {
        err_set(&err, rc, NULL, "out of memory");
    }
    if (rc == ERR_OK && resp.raw.len > 0) {
        resp.json = json_loadb(resp.raw.data, resp.raw.len, JSON_REJECT_DUPLICATES, NULL);
    }
    int code = cli__response_check(c, rc, &err, &resp);
    if (code == CLI_EXIT_OK && !json_is_object(resp.json)) {
        cli__error(c, "the server's answer is not a JSON object");
        code = CLI_EXIT_FAILURE;
    }
    if (code == CLI_EXIT_OK) {
        if (c->json) {
            cli__json_print(c, resp.json);
        } else {
            trace_print(c, resp.json);
        }
    }
    cli__response_release(&resp);
    buf_release(&url);
    mem_free(data);
    return code;
}

/* ---- declarations ---- */

static void fingerprint_print(struct cli *c, const json_t *f)
{
    cli__print_field(c, "object", cli__json_str(f, "object_id"));
    cli__print_field_int(c, "code length", f, "code_length");
    cli__print_field_int(c, "marked per mille", f, "mark_per_mille");
    cli__print_field_int(c, "admissible cells", f, "admissible_cells");
    cli__print_field(c, "declared", cli__json_str(f, "declared_at"));
}

static int fingerprint_run(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    char *text = NULL;
    size_t len = 0;
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = cli__file_read(a->positional[1], DECLARATION_BYTES_MAX, &text, &len, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    json_error_t jerr;
    json_t *decl = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    mem_free(text);
    if (!json_is_object(decl)) {
        json_decref(decl);
        cli__error(c, "'%s' is not a JSON object: %s", a->positional[1], jerr.text);
        return CLI_EXIT_USAGE;
    }
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    const char *parts[] = {"/v1/objects/", a->positional[0], "/fingerprint", ""};
    int code = cli__path(&path, parts, 4) == ERR_OK
                   ? cli__call(c, "PUT", path.data, decl, fingerprint_print)
                   : CLI_EXIT_FAILURE;
    buf_release(&path);
    json_decref(decl);
    return code;
}

static const struct cli_option trace_options[] = {
    {"object", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const char *const file_arg[] = {"FILE", NULL};
static const char *const fingerprint_args[] = {"ID", "DECLARATION", NULL};

const struct cli_command cli__trace_commands[] = {
    {"trace", NULL, trace_run, NULL, trace_options, file_arg, 0, "FILE [--object ID]",
     "name the contracts a suspect file came from (operator, regulator)"},
    {"object", "fingerprint", fingerprint_run, NULL, NULL, fingerprint_args, 0,
     "ID DECLARATION.json", "declare where buyers' copies of an object may differ"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
