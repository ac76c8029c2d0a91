/*
 * cert.c: `bourse cert ...`, the operator's qualification certificates for an entity (design §2
 * step 1): data provider, trading and cross-border trading. Issuing and revoking each become an
 * entry of the transparency log; the answer says at which index.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include "util/banned.h"

static const char *const cert_types[] = {"data_provider", "trading", "cross_border", NULL};

static void cert_print(struct cli *c, const json_t *crt)
{
    static const char *const fields[][2] = {
        {"certificate", "id"}, {"entity", "entity_id"},    {"type", "type"},
        {"status", "status"},  {"issued at", "issued_at"}, {"revoked at", "revoked_at"},
    };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        cli__print_field(c, fields[i][0], cli__json_str(crt, fields[i][1]));
    }
    cli__print_field_int(c, "log index", crt, "log_index");
}

/* Sends body to the path made of parts and prints the certificate in the answer. */
static int cert_send(struct cli *c, const char *method, const char *const *parts, size_t count,
                     json_t *body)
{
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (body == NULL || cli__path(&path, parts, count) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, method, path.data, body, cert_print);
    }
    buf_release(&path);
    json_decref(body);
    return code;
}

static int cert_issue(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/entities/", a->positional[0], "/certificates"};
    json_t *body = json_object();
    if (body != NULL && cli__json_put(body, "type", cli__arg(a, "type")) != ERR_OK) {
        json_decref(body);
        body = NULL;
    }
    return cert_send(c, "POST", parts, ARRAY_LEN(parts), body);
}

static int cert_revoke(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/entities/", a->positional[0], "/certificates/", a->positional[1]};
    json_t *body = json_object();
    if (body != NULL && cli__json_put(body, "reason", cli__arg(a, "reason")) != ERR_OK) {
        json_decref(body);
        body = NULL;
    }
    return cert_send(c, "DELETE", parts, ARRAY_LEN(parts), body);
}

static const char *const issue_positional[] = {"ENTITY_ID", NULL};
static const char *const revoke_positional[] = {"ENTITY_ID", "CERT_ID", NULL};

static const struct cli_option issue_options[] = {
    {"type", CLI_OPT_VALUE | CLI_OPT_REQUIRED, cert_types, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option revoke_options[] = {
    {"reason", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__cert_commands[] = {
    {"cert", "issue", cert_issue, NULL, issue_options, issue_positional, 0,
     "ENTITY_ID --type data_provider|trading|cross_border", "issue a certificate to an entity"},
    {"cert", "revoke", cert_revoke, NULL, revoke_options, revoke_positional, 0,
     "ENTITY_ID CERT_ID [--reason TEXT]", "revoke an entity's certificate"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
