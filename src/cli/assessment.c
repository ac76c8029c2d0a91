/*
 * assessment.c: `bourse assessment ...` (design §2 step 4): a provider requests an assessment
 * of a revision from a service firm; the firm writes its report and signs it here, on its own
 * machine, with its own key file, so that the exchange stores a statement it could not have
 * forged; anyone lists and reads the reports they may see.
 *
 * `assessment submit` builds the report as canonical JSON (keys sorted, no whitespace: what
 * jansson's JSON_COMPACT | JSON_SORT_KEYS writes, the same bytes the server checks), binds it
 * to the assessment, the revision and its content hash as the server reports them, hashes
 * the report document locally (only its SHA-256 and size travel), and signs the exact bytes.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static const char *const assessment_kinds[] = {"compliance", "security",     "quality",
                                               "valuation",  "cross_border", NULL};
static const char *const verdicts[] = {"pass", "fail", "conditions", NULL};
static const char *const statuses[] = {"requested", "submitted", NULL};
static const char *const severities[] = {"info", "minor", "major", "critical"};

static void assessment_print(struct cli *c, const json_t *a)
{
    static const char *const fields[][2] = {
        {"assessment", "id"},
        {"kind", "kind"},
        {"status", "status"},
        {"verdict", "verdict"},
        {"firm", "firm_id"},
        {"provider", "provider_id"},
        {"product", "product_id"},
        {"revision", "revision_id"},
        {"content hash", "content_hash"},
        {"requested at", "requested_at"},
        {"submitted at", "submitted_at"},
    };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        cli__print_field(c, fields[i][0], cli__json_str(a, fields[i][1]));
    }
    const json_t *doc = json_object_get(a, "document");
    if (json_is_object(doc)) {
        cli__print_field(c, "document", cli__json_str(doc, "sha256"));
    }
    cli__print_field_int(c, "log index", a, "log_index");
}

static void assessment_row(struct cli *c, const json_t *a)
{
    cli__print_cell(c->out, cli__json_str(a, "id"), 26);
    cli__print_cell(c->out, cli__json_str(a, "kind"), 13);
    cli__print_cell(c->out, cli__json_str(a, "status"), 10);
    const char *verdict = cli__json_str(a, "verdict");
    cli__print_cell(c->out, verdict != NULL ? verdict : "-", 11);
    cli__print_cell(c->out, cli__json_str(a, "firm_id"), 26);
    cli__print_text(c->out, cli__json_str(a, "revision_id"));
    fputc('\n', c->out);
}

static int assessment_request(struct cli *c, const struct cli_command *cmd,
                              const struct cli_args *a)
{
    (void)cmd;
    json_t *body = json_object();
    if (body == NULL || cli__json_put(body, "revision_id", a->positional[0]) != ERR_OK ||
        cli__json_put(body, "kind", cli__arg(a, "kind")) != ERR_OK ||
        cli__json_put(body, "firm_id", cli__arg(a, "firm")) != ERR_OK) {
        json_decref(body);
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    int code = cli__call(c, "POST", "/v1/assessments", body, assessment_print);
    json_decref(body);
    return code;
}

static int assessment_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/assessments/", a->positional[0]};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__path(&path, parts, ARRAY_LEN(parts)) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, "GET", path.data, NULL, assessment_print);
    }
    buf_release(&path);
    return code;
}

static int assessment_list(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {
        "revision", "revision_id", "product", "product_id", "firm",  "firm_id", "kind",
        "kind",     "status",      "status",  "limit",      "limit", "cursor",  "cursor",
    };
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__query_path(&path, "/v1/assessments", pairs, ARRAY_LEN(pairs), a) != ERR_OK) {
        cli__error(c, "the list filters are too long");
    } else {
        code = cli__list_call(c, path.data, assessment_row,
                              "ID                        KIND         STATUS    VERDICT    FIRM    "
                              "                  REVISION",
                              "no assessments");
    }
    buf_release(&path);
    return code;
}

/* ---- assessment submit ---- */

/* The repeated --finding SEVERITY:TEXT and --condition TEXT options as JSON arrays. */
static int report_lists(struct cli *c, const struct cli_command *cmd, const struct cli_args *a,
                        json_t *findings, json_t *conditions)
{
    for (size_t i = 0; i < a->item_count; i++) {
        const char *name = a->items[i].option->name;
        const char *v = a->items[i].value;
        if (strcmp(name, "condition") == 0) {
            if (json_array_append_new(conditions, json_string(v)) != 0) {
                return CLI_EXIT_FAILURE;
            }
            continue;
        }
        if (strcmp(name, "finding") != 0) {
            continue;
        }
        const char *colon = strchr(v, ':');
        int known = 0;
        for (size_t s = 0; colon != NULL && s < ARRAY_LEN(severities); s++) {
            known |= strlen(severities[s]) == (size_t)(colon - v) &&
                     memcmp(severities[s], v, (size_t)(colon - v)) == 0;
        }
        if (!known || colon[1] == '\0') {
            return cli__usage_error(c, cmd, "--finding is info|minor|major|critical:TEXT, not '%s'",
                                    v);
        }
        json_t *f = json_pack("{s:s%, s:s}", "severity", v, (size_t)(colon - v), "text", colon + 1);
        if (f == NULL || json_array_append_new(findings, f) != 0) {
            return CLI_EXIT_FAILURE;
        }
    }
    return CLI_EXIT_OK;
}

/* Builds the canonical report text for the assessment the server described. */
static int report_build(struct cli *c, const struct cli_command *cmd, const struct cli_args *a,
                        const json_t *asm_json, char **out)
{
    struct errbuf err;
    errbuf_init(&err);
    char sha[65];
    int64_t size = 0;
    enum err rc = cli__file_sha256(cli__arg(a, "document"), sha, &size, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    json_t *findings = json_array();
    json_t *conditions = json_array();
    int code = findings != NULL && conditions != NULL
                   ? report_lists(c, cmd, a, findings, conditions)
                   : CLI_EXIT_FAILURE;
    if (code != CLI_EXIT_OK) {
        json_decref(findings);
        json_decref(conditions);
        return code;
    }
    static const char *const copied[] = {"content_hash", "firm_id", "kind", "product_id",
                                         "revision_id"};
    json_t *r = json_pack("{s:s, s:o, s:{s:s, s:I}, s:o, s:s, s:i, s:s}", "assessment_id",
                          a->positional[0], "conditions", conditions, "document", "sha256", sha,
                          "size", (json_int_t)size, "findings", findings, "type",
                          "bourse/assessment-report", "v", 1, "verdict", cli__arg(a, "verdict"));
    for (size_t i = 0; r != NULL && i < ARRAY_LEN(copied); i++) {
        const char *v = cli__json_str(asm_json, copied[i]);
        if (v == NULL || json_object_set_new(r, copied[i], json_string(v)) != 0) {
            json_decref(r);
            r = NULL;
        }
    }
    char *text = r != NULL ? json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(r);
    if (text == NULL) {
        cli__error(c, "cannot build the report from the server's answer");
        return CLI_EXIT_FAILURE;
    }
    *out = text;
    return CLI_EXIT_OK;
}

static int report_send(struct cli *c, const struct cli_args *a, const char *report)
{
    ASSERT(report != NULL);
    struct errbuf err;
    errbuf_init(&err);
    unsigned char sk[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    enum err rc = cli_key_load(cli__arg(a, "signing-key"), sk, pk, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)report, strlen(report), sk);
    sodium_memzero(sk, sizeof(sk));
    char sig_b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(sig_b64, sizeof(sig_b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
    const char *parts[] = {"/v1/assessments/", a->positional[0], "/report"};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    json_t *body = json_pack("{s:s, s:s}", "report", report, "signature", sig_b64);
    int code = CLI_EXIT_FAILURE;
    if (body == NULL || cli__path(&path, parts, ARRAY_LEN(parts)) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, "POST", path.data, body, assessment_print);
    }
    json_decref(body);
    buf_release(&path);
    return code;
}

static int assessment_submit(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    const char *parts[] = {"/v1/assessments/", a->positional[0]};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    struct cli_response resp;
    cli__response_init(&resp);
    struct errbuf err;
    errbuf_init(&err);
    char *report = NULL;
    int code = CLI_EXIT_FAILURE;
    if (cli__path(&path, parts, ARRAY_LEN(parts)) != ERR_OK) {
        cli__error(c, "out of memory");
        goto out;
    }
    enum err rc = cli__request(c, "GET", path.data, NULL, &resp, &err);
    code = cli__response_check(c, rc, &err, &resp);
    if (code == CLI_EXIT_OK && !json_is_object(resp.json)) {
        cli__error(c, "the server's answer is not a JSON object");
        code = CLI_EXIT_FAILURE;
    }
    if (code == CLI_EXIT_OK) {
        code = report_build(c, cmd, a, resp.json, &report);
    }
    if (code == CLI_EXIT_OK) {
        code = report_send(c, a, report);
    }
out:
    mem_free(report); /* jansson allocates with mem_alloc in the CLI (cli_main) */
    cli__response_release(&resp);
    buf_release(&path);
    return code;
}

static const char *const one_id[] = {"ID", NULL};
static const char *const one_revision[] = {"REVISION_ID", NULL};

static const struct cli_option request_options[] = {
    {"kind", CLI_OPT_VALUE | CLI_OPT_REQUIRED, assessment_kinds, NULL},
    {"firm", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option submit_options[] = {
    {"verdict", CLI_OPT_VALUE | CLI_OPT_REQUIRED, verdicts, NULL},
    {"finding", CLI_OPT_VALUE | CLI_OPT_REPEAT, NULL, NULL},
    {"condition", CLI_OPT_VALUE | CLI_OPT_REPEAT, NULL, NULL},
    {"document", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"signing-key", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option list_options[] = {
    {"revision", CLI_OPT_VALUE, NULL, NULL},   {"product", CLI_OPT_VALUE, NULL, NULL},
    {"firm", CLI_OPT_VALUE, NULL, NULL},       {"kind", CLI_OPT_VALUE, assessment_kinds, NULL},
    {"status", CLI_OPT_VALUE, statuses, NULL}, {"limit", CLI_OPT_VALUE, NULL, cli__check_limit},
    {"cursor", CLI_OPT_VALUE, NULL, NULL},     {NULL, 0, NULL, NULL},
};

const struct cli_command cli__assessment_commands[] = {
    {"assessment", "request", assessment_request, NULL, request_options, one_revision, 0,
     "REVISION_ID --kind compliance|security|quality|valuation|cross_border --firm ENTITY_ID",
     "ask a service firm to assess a revision (provider)"},
    {"assessment", "submit", assessment_submit, NULL, submit_options, one_id, 0,
     "ID --verdict pass|fail|conditions [--finding SEVERITY:TEXT]... [--condition TEXT]... "
     "--document FILE --signing-key KEYFILE",
     "sign a report locally with the firm's key and submit it (firm)"},
    {"assessment", "list", assessment_list, NULL, list_options, NULL, 0,
     "[--revision ID] [--product ID] [--firm ID] [--kind K] [--status S] [--limit N] "
     "[--cursor C]",
     "list the assessments you may see"},
    {"assessment", "show", assessment_show, NULL, NULL, one_id, 0, "ID", "show an assessment"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
