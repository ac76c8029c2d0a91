/*
 * apikey.c: `bourse apikey ...`, an entity's API keys. The server stores only a keyed hash of
 * each secret (design §4), so a secret is shown once, in the answer to `create`; --save-key
 * writes it to a 0600 file instead of the terminal.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include "util/banned.h"

static void apikey_print_created(struct cli *c, const json_t *key)
{
    cli__print_field(c, "entity", cli__json_str(key, "entity_id"));
    cli__print_field(c, "label", cli__json_str(key, "label"));
    cli__print_field(c, "created at", cli__json_str(key, "created_at"));
}

static void apikey_print_revoked(struct cli *c, const json_t *key)
{
    cli__print_field(c, "api key", cli__json_str(key, "id"));
    cli__print_field(c, "revoked at", cli__json_str(key, "revoked_at"));
}

/* Checks --save-key and builds the request; returns the exit code. */
static int create_prepare(struct cli *c, const struct cli_args *a, struct buf *path, json_t **body)
{
    const char *save_to = cli__arg(a, "save-key");
    struct errbuf err;
    errbuf_init(&err);
    if (save_to != NULL && cli__file_absent(save_to, &err) != ERR_OK) {
        cli__error(c, "--save-key: %s", err.msg);
        return CLI_EXIT_CONFLICT;
    }
    const char *parts[] = {"/v1/entities/", a->positional[0], "/keys"};
    *body = json_object();
    if (*body == NULL || cli__json_put(*body, "label", cli__arg(a, "label")) != ERR_OK ||
        cli__path(path, parts, ARRAY_LEN(parts)) != ERR_OK) {
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

static int apikey_create(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    struct errbuf err;
    errbuf_init(&err);
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    json_t *body = NULL;
    struct cli_response resp;
    cli__response_init(&resp);
    int code = create_prepare(c, a, &path, &body);
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    enum err rc = cli__request(c, "POST", path.data, body, &resp, &err);
    code = cli__response_check(c, rc, &err, &resp);
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    if (!json_is_object(resp.json)) {
        cli__error(c, "the server's answer is not a JSON object; its body follows");
        cli__print_body(c, &resp);
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    code = cli__api_key_deliver(c, resp.json, resp.json, cli__arg(a, "save-key"),
                                apikey_print_created);
out:
    json_decref(body);
    buf_release(&path);
    cli__response_release(&resp);
    return code;
}

static int apikey_revoke(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/keys/", a->positional[0]};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__path(&path, parts, ARRAY_LEN(parts)) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, "DELETE", path.data, NULL, apikey_print_revoked);
    }
    buf_release(&path);
    return code;
}

static const char *const create_positional[] = {"ENTITY_ID", NULL};
static const char *const revoke_positional[] = {"KEY_ID", NULL};

static const struct cli_option create_options[] = {
    {"label", CLI_OPT_VALUE, NULL, NULL},
    {"save-key", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__apikey_commands[] = {
    {"apikey", "create", apikey_create, NULL, create_options, create_positional, 0,
     "ENTITY_ID [--label LABEL] [--save-key FILE]",
     "make a new API key for an entity; prints its secret once"},
    {"apikey", "revoke", apikey_revoke, NULL, NULL, revoke_positional, 0, "KEY_ID",
     "revoke an API key"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
