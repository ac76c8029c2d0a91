/*
 * rights.c: `bourse rights ...`, the three rights certificates of a product revision (design
 * §2 step 3): the operator issues and revokes them; the holder licenses, transfers and
 * pledges them; the creditor releases a pledge.
 *
 * `rights show` checks the certificate's signature here, on the client, with the operator
 * key the exchange publishes at /v1/exchange: the check a bank or a court would run, which
 * needs no trust in the server that delivered the document. (Pin the key out of band for
 * that to mean something; the CLI prints the one it used.)
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <string.h>

#include "util/banned.h"

static const char *const rights_names[] = {"holding", "processing", "operation", NULL};
static const char *const rights_statuses[] = {"active", "pledged", "revoked", NULL};

static void history_print(struct cli *c, const json_t *list)
{
    if (json_array_size(list) == 0) {
        return;
    }
    fputs("history:\n", c->out);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *h = json_array_get(list, i);
        fputs("  ", c->out);
        cli__print_cell(c->out, cli__json_str(h, "at"), 26);
        cli__print_cell(c->out, cli__json_str(h, "action"), 13);
        fputs("by ", c->out);
        cli__print_text(c->out, cli__json_str(h, "actor"));
        const char *other = cli__json_str(h, "counterparty");
        if (other != NULL) {
            fputs(" -> ", c->out);
            cli__print_text(c->out, other);
        }
        const char *terms = cli__json_str(h, "terms");
        if (terms != NULL) {
            fputs("\n      ", c->out);
            cli__print_text(c->out, terms);
        }
        fputc('\n', c->out);
    }
}

static void rights_print(struct cli *c, const json_t *r)
{
    static const char *const fields[][2] = {
        {"certificate", "id"},
        {"right", "right"},
        {"product", "product_id"},
        {"revision", "revision_id"},
        {"content hash", "content_hash"},
        {"holder", "holder_id"},
        {"status", "status"},
        {"pledged to", "pledgee_id"},
        {"issued at", "issued_at"},
    };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        if (strcmp(fields[i][1], "pledgee_id") != 0 || cli__json_str(r, "pledgee_id") != NULL) {
            cli__print_field(c, fields[i][0], cli__json_str(r, fields[i][1]));
        }
    }
    cli__print_field_int(c, "version", r, "version");
    cli__print_field_int(c, "log index", r, "log_index");
    history_print(c, json_object_get(r, "history"));
}

static void rights_row(struct cli *c, const json_t *r)
{
    cli__print_cell(c->out, cli__json_str(r, "id"), 26);
    cli__print_cell(c->out, cli__json_str(r, "right"), 11);
    cli__print_cell(c->out, cli__json_str(r, "status"), 8);
    cli__print_cell(c->out, cli__json_str(r, "holder_id"), 26);
    cli__print_text(c->out, cli__json_str(r, "revision_id"));
    fputc('\n', c->out);
}

/* Checks the Ed25519 signature over the exact document bytes with the published key. */
static int signature_check(struct cli *c, const json_t *cert, const char *pk_b64)
{
    const char *doc = cli__json_str(cert, "document");
    const char *sig_b64 = cli__json_str(cert, "signature");
    unsigned char sig[crypto_sign_BYTES], pk[crypto_sign_PUBLICKEYBYTES];
    size_t sig_len = 0;
    struct errbuf err;
    errbuf_init(&err);
    if (doc == NULL || sig_b64 == NULL || pk_b64 == NULL ||
        sodium_base642bin(sig, sizeof(sig), sig_b64, strlen(sig_b64), NULL, &sig_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        sig_len != sizeof(sig) ||
        cli_key_public_decode(pk_b64, strlen(pk_b64), pk, &err) != ERR_OK) {
        cli__error(c, "the certificate or the exchange key is malformed");
        return CLI_EXIT_FAILURE;
    }
    if (crypto_sign_verify_detached(sig, (const unsigned char *)doc, strlen(doc), pk) != 0) {
        cli__error(c, "the certificate's signature does NOT verify with operator key %s", pk_b64);
        return CLI_EXIT_FAILURE;
    }
    if (!c->json) {
        fputs("signature:    valid (operator key ", c->out);
        cli__print_text(c->out, pk_b64);
        fputs(")\n", c->out);
    }
    return CLI_EXIT_OK;
}

/* GETs path into resp; returns the exit code. */
static int get_json(struct cli *c, const char *path, struct cli_response *resp)
{
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = cli__request(c, "GET", path, NULL, resp, &err);
    int code = cli__response_check(c, rc, &err, resp);
    if (code == CLI_EXIT_OK && !json_is_object(resp->json)) {
        cli__error(c, "the server's answer is not a JSON object");
        code = CLI_EXIT_FAILURE;
    }
    return code;
}

static int rights_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/rights/", a->positional[0]};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    struct cli_response cert, exchange;
    cli__response_init(&cert);
    cli__response_init(&exchange);
    int code = CLI_EXIT_FAILURE;
    if (cli__path(&path, parts, ARRAY_LEN(parts)) != ERR_OK) {
        cli__error(c, "out of memory");
        goto out;
    }
    code = get_json(c, path.data, &cert);
    if (code == CLI_EXIT_OK) {
        code = get_json(c, "/v1/exchange", &exchange);
    }
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    if (c->json) {
        cli__print_body(c, &cert);
    } else {
        rights_print(c, cert.json);
    }
    code = signature_check(c, cert.json,
                           cli__json_str(json_object_get(exchange.json, "operator"), "public_key"));
out:
    buf_release(&path);
    cli__response_release(&cert);
    cli__response_release(&exchange);
    return code;
}

/* POSTs {name: value, ...} of the given options to /v1/rights/ID/<action>. */
static int rights_step(struct cli *c, const struct cli_args *a, const char *action,
                       const char *const *pairs, size_t count)
{
    json_t *body = json_object();
    for (size_t i = 0; body != NULL && i + 1 < count; i += 2) {
        if (cli__json_put(body, pairs[i + 1], cli__arg(a, pairs[i])) != ERR_OK) {
            json_decref(body);
            body = NULL;
        }
    }
    const char *parts[] = {"/v1/rights/", a->positional[0], action};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (body == NULL || cli__path(&path, parts, ARRAY_LEN(parts)) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, "POST", path.data, body, rights_print);
    }
    buf_release(&path);
    json_decref(body);
    return code;
}

static int rights_issue(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    json_t *body = json_object();
    if (body == NULL || cli__json_put(body, "revision_id", a->positional[0]) != ERR_OK ||
        cli__json_put(body, "right", cli__arg(a, "right")) != ERR_OK ||
        cli__json_put(body, "holder_id", cli__arg(a, "holder")) != ERR_OK) {
        json_decref(body);
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    int code = cli__call(c, "POST", "/v1/rights", body, rights_print);
    json_decref(body);
    return code;
}

static int rights_license(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"licensee", "licensee_id", "terms", "terms"};
    return rights_step(c, a, "/licenses", pairs, ARRAY_LEN(pairs));
}

static int rights_transfer(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"to", "to"};
    return rights_step(c, a, "/transfer", pairs, ARRAY_LEN(pairs));
}

static int rights_pledge(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"creditor", "creditor_id", "terms", "terms"};
    return rights_step(c, a, "/pledge", pairs, ARRAY_LEN(pairs));
}

static int rights_release(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    return rights_step(c, a, "/release", NULL, 0);
}

static int rights_revoke(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"reason", "reason"};
    return rights_step(c, a, "/revoke", pairs, ARRAY_LEN(pairs));
}

static int rights_list(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {
        "revision", "revision_id", "product", "product_id", "holder", "holder_id", "right",
        "right",    "status",      "status",  "limit",      "limit",  "cursor",    "cursor",
    };
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__query_path(&path, "/v1/rights", pairs, ARRAY_LEN(pairs), a) != ERR_OK) {
        cli__error(c, "the list filters are too long");
    } else {
        code = cli__list_call(c, path.data, rights_row,
                              "ID                        RIGHT      STATUS  HOLDER                 "
                              "   REVISION",
                              "no rights certificates");
    }
    buf_release(&path);
    return code;
}

static const char *const one_id[] = {"ID", NULL};
static const char *const one_revision[] = {"REVISION_ID", NULL};

static const struct cli_option issue_options[] = {
    {"right", CLI_OPT_VALUE | CLI_OPT_REQUIRED, rights_names, NULL},
    {"holder", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option license_options[] = {
    {"licensee", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"terms", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option transfer_options[] = {
    {"to", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option pledge_options[] = {
    {"creditor", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"terms", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option revoke_options[] = {
    {"reason", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option list_options[] = {
    {"revision", CLI_OPT_VALUE, NULL, NULL},
    {"product", CLI_OPT_VALUE, NULL, NULL},
    {"holder", CLI_OPT_VALUE, NULL, NULL},
    {"right", CLI_OPT_VALUE, rights_names, NULL},
    {"status", CLI_OPT_VALUE, rights_statuses, NULL},
    {"limit", CLI_OPT_VALUE, NULL, cli__check_limit},
    {"cursor", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__rights_commands[] = {
    {"rights", "issue", rights_issue, NULL, issue_options, one_revision, 0,
     "REVISION_ID --right holding|processing|operation [--holder ENTITY_ID]",
     "issue a signed rights certificate on a revision (operator)"},
    {"rights", "show", rights_show, NULL, NULL, one_id, 0, "ID",
     "show a certificate with its history and check its signature locally"},
    {"rights", "list", rights_list, NULL, list_options, NULL, 0,
     "[--revision ID] [--product ID] [--holder ID] [--right R] [--status S] [--limit N] "
     "[--cursor C]",
     "list rights certificates"},
    {"rights", "license", rights_license, NULL, license_options, one_id, 0,
     "ID --licensee ENTITY_ID --terms TEXT", "license the right to another entity (holder)"},
    {"rights", "transfer", rights_transfer, NULL, transfer_options, one_id, 0, "ID --to ENTITY_ID",
     "transfer the certificate; it is re-signed for the new holder"},
    {"rights", "pledge", rights_pledge, NULL, pledge_options, one_id, 0,
     "ID --creditor ENTITY_ID [--terms TEXT]", "pledge the certificate as collateral (holder)"},
    {"rights", "release", rights_release, NULL, NULL, one_id, 0, "ID",
     "release a pledge (creditor or operator)"},
    {"rights", "revoke", rights_revoke, NULL, revoke_options, one_id, 0, "ID --reason TEXT",
     "revoke a certificate (operator)"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
