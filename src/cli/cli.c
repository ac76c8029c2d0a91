/*
 * cli.c: the entry point of every client subcommand. It takes the global options out of the
 * arguments (they may sit before the noun or after the verb), finds the command in the tables
 * of the noun files, parses the command's own options, resolves the server settings and runs the
 * handler. Usage errors are reported before anything touches the network.
 *
 * Exit codes are chosen here, from HTTP statuses and from local errors, so that every command
 * maps them the same way (docs/cli.md lists them).
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* Every noun's command table; usage lists them in this order. */
static const struct cli_command *const command_tables[] = {
    cli__key_commands,
    cli__health_commands,
    cli__entity_commands,
    cli__cert_commands,
    cli__apikey_commands,
    cli__log_commands,
    cli__db_commands,
    cli__product_commands,
    cli__rights_commands,
    cli__assessment_commands,
    cli__policy_commands,
    cli__ledger_commands,
    cli__fee_commands,
    cli__price_commands,
    cli__listing_commands,
    cli__demand_commands,
    cli__inbox_commands,
    cli__demo_commands,
    cli__upload_commands,
    cli__download_commands,
    cli__object_commands,
    cli__token_commands,
    cli__trace_commands,
    /* trading (trade.c) */
    cli__order_commands,
    cli__negotiation_commands,
    cli__auction_commands,
    /* contracts and disputes (contract.c) */
    cli__contract_commands,
    cli__dispute_commands,
};

static const char *env_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

void cli__init(struct cli *c)
{
    ASSERT(c != NULL);
    c->out = stdout;
    c->errout = stderr;
    c->env = env_getenv;
    c->env_ctx = NULL;
    c->transport = cli__transport_curl;
    c->transport_ctx = NULL;
    c->rng = &rng_system;
    c->json = 0;
    c->url = NULL;
    c->key = NULL;
}

void cli__release(struct cli *c)
{
    if (c == NULL) {
        return;
    }
    mem_free(c->url);
    c->url = NULL;
    if (c->key != NULL) {
        sodium_memzero(c->key, strlen(c->key));
        mem_free(c->key);
        c->key = NULL;
    }
}

int cli__exit_from_status(long status)
{
    if (status >= 200 && status <= 299) {
        return CLI_EXIT_OK;
    }
    switch (status) {
    case 400:
    case 413:
    case 415:
    case 422:
        return CLI_EXIT_INVALID;
    case 401:
    case 403:
        return CLI_EXIT_AUTH;
    case 404:
    case 410:
        return CLI_EXIT_NOT_FOUND;
    case 409:
    case 412:
        return CLI_EXIT_CONFLICT;
    default:
        break;
    }
    if (status >= 500 && status <= 599) {
        return CLI_EXIT_UNAVAILABLE;
    }
    return CLI_EXIT_FAILURE;
}

int cli__exit_from_err(enum err code)
{
    ASSERT(code != ERR_OK);
    switch (code) {
    case ERR_INVALID:
        return CLI_EXIT_INVALID;
    case ERR_NOT_FOUND:
        return CLI_EXIT_NOT_FOUND;
    case ERR_CONFLICT:
    case ERR_BAD_STATE:
        return CLI_EXIT_CONFLICT;
    case ERR_UNAUTHORIZED:
    case ERR_FORBIDDEN:
        return CLI_EXIT_AUTH;
    case ERR_UNAVAILABLE:
        return CLI_EXIT_UNAVAILABLE;
    default:
        return CLI_EXIT_FAILURE;
    }
}

void cli__error(struct cli *c, const char *fmt, ...)
{
    ASSERT(c != NULL);
    ASSERT(fmt != NULL);
    char msg[ERRBUF_MSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fputs("error: ", c->errout);
    cli__print_text(c->errout, msg);
    fputc('\n', c->errout);
}

int cli__usage_error(struct cli *c, const struct cli_command *cmd, const char *fmt, ...)
{
    ASSERT(cmd != NULL);
    char msg[ERRBUF_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cli__error(c, "%s", msg);
    cli__usage_command(c, cmd);
    return CLI_EXIT_USAGE;
}

/* ---- global options ---- */

enum global_kind {
    GLOBAL_URL,
    GLOBAL_KEY,
    GLOBAL_KEY_FILE,
    GLOBAL_CONFIG,
    GLOBAL_JSON,
    GLOBAL_HELP
};

static const struct {
    const char *name;
    enum global_kind kind;
    int has_value;
} global_options[] = {
    {"url", GLOBAL_URL, 1},       {"key", GLOBAL_KEY, 1},   {"key-file", GLOBAL_KEY_FILE, 1},
    {"config", GLOBAL_CONFIG, 1}, {"json", GLOBAL_JSON, 0}, {"help", GLOBAL_HELP, 0},
};

static const char **global_slot(struct cli_global *g, enum global_kind kind)
{
    switch (kind) {
    case GLOBAL_URL:
        return &g->url;
    case GLOBAL_KEY:
        return &g->key;
    case GLOBAL_KEY_FILE:
        return &g->key_file;
    case GLOBAL_CONFIG:
        return &g->config;
    default:
        return NULL;
    }
}

/* Index in global_options of "--name" or "--name=...", or -1. */
static int global_find(const char *arg)
{
    const char *name = NULL;
    size_t len = 0;
    if (strcmp(arg, "-h") == 0) {
        name = "help";
        len = 4;
    } else if (strncmp(arg, "--", 2) == 0) {
        name = arg + 2;
        len = strcspn(name, "=");
    } else {
        return -1;
    }
    for (size_t i = 0; i < ARRAY_LEN(global_options); i++) {
        if (strlen(global_options[i].name) == len &&
            memcmp(global_options[i].name, name, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Takes global option i from argv[*pos] (and its value), advancing *pos past what it used. */
static enum err global_take(int i, int argc, char **argv, int *pos, struct cli_global *g,
                            struct errbuf *err)
{
    const char *arg = argv[*pos];
    const char *name = global_options[i].name;
    const char *eq = strchr(arg, '=');
    if (!global_options[i].has_value) {
        if (eq != NULL) {
            return err_set(err, ERR_INVALID, name, "option '--%s' takes no value", name);
        }
        *(global_options[i].kind == GLOBAL_JSON ? &g->json : &g->help) = 1;
        *pos += 1;
        return ERR_OK;
    }
    const char *value = NULL;
    if (eq != NULL) {
        value = eq + 1;
        *pos += 1;
    } else if (*pos + 1 < argc && strncmp(argv[*pos + 1], "--", 2) != 0) {
        value = argv[*pos + 1];
        *pos += 2;
    }
    if (value == NULL || value[0] == '\0') {
        return err_set(err, ERR_INVALID, name, "option '--%s' needs a value", name);
    }
    const char **slot = global_slot(g, global_options[i].kind);
    if (*slot != NULL) {
        return err_set(err, ERR_INVALID, name, "option '--%s' given twice", name);
    }
    *slot = value;
    return ERR_OK;
}

enum err cli__global_extract(int argc, char **argv, struct cli_global *g, char **rest,
                             int *rest_count, struct errbuf *err)
{
    ASSERT(argc >= 0);
    ASSERT(rest != NULL);
    memset(g, 0, sizeof(*g));
    int n = 0;
    int pos = 0;
    int options_end = 0;
    while (pos < argc) {
        const char *arg = argv[pos];
        int i = options_end ? -1 : global_find(arg);
        if (i < 0) {
            if (strcmp(arg, "--") == 0) {
                options_end = 1;
            }
            rest[n++] = argv[pos++];
            continue;
        }
        enum err rc = global_take(i, argc, argv, &pos, g, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    ASSERT(n <= argc);
    *rest_count = n;
    return ERR_OK;
}

/* ---- usage ---- */

static void usage_line(FILE *f, const struct cli_command *cmd)
{
    char head[64];
    snprintf(head, sizeof(head), "%s%s%s", cmd->noun, cmd->verb != NULL ? " " : "",
             cmd->verb != NULL ? cmd->verb : "");
    fprintf(f, "  bourse %s%s%s\n      %s\n", head, cmd->synopsis[0] != '\0' ? " " : "",
            cmd->synopsis, cmd->summary);
}

void cli__usage_command(struct cli *c, const struct cli_command *cmd)
{
    fputs("usage:\n", c->errout);
    usage_line(c->errout, cmd);
}

/* Prints the usage of every command of `noun`, or of all commands when noun is NULL. */
static void usage(struct cli *c, const char *noun)
{
    FILE *f = c->errout;
    fputs("usage: bourse [global options] <noun> <verb> [arguments]\n\ncommands:\n", f);
    for (size_t t = 0; t < ARRAY_LEN(command_tables); t++) {
        for (const struct cli_command *cmd = command_tables[t]; cmd->noun != NULL; cmd++) {
            if (noun == NULL || strcmp(noun, cmd->noun) == 0) {
                usage_line(f, cmd);
            }
        }
    }
    fputs("\nglobal options (before the noun or after the verb):\n"
          "  --url URL        server (env BOURSE_URL, config url, default " CLI_DEFAULT_URL ")\n"
          "  --key KEY        API key (env BOURSE_KEY, config key)\n"
          "  --key-file FILE  file holding the API key (env BOURSE_KEY_FILE, config key_file)\n"
          "  --config FILE    configuration file (env BOURSE_CONFIG)\n"
          "  --json           print the server's JSON instead of the human rendering\n"
          "\nexit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 conflict or state,\n"
          "5 authentication or permission, 6 invalid input, 7 server unreachable or 5xx\n",
          f);
}

static int noun_known(const char *noun)
{
    for (size_t t = 0; t < ARRAY_LEN(command_tables); t++) {
        if (strcmp(command_tables[t][0].noun, noun) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The command for noun and verb (verb may be NULL), or NULL. *takes_verb says whether the match
 * consumed the verb. */
static const struct cli_command *command_find(const char *noun, const char *verb, int *takes_verb)
{
    for (size_t t = 0; t < ARRAY_LEN(command_tables); t++) {
        for (const struct cli_command *cmd = command_tables[t]; cmd->noun != NULL; cmd++) {
            if (strcmp(cmd->noun, noun) != 0) {
                continue;
            }
            if (cmd->verb == NULL) {
                *takes_verb = 0;
                return cmd;
            }
            if (verb != NULL && strcmp(cmd->verb, verb) == 0) {
                *takes_verb = 1;
                return cmd;
            }
        }
    }
    return NULL;
}

/* ---- running ---- */

/* Parses the command's arguments, resolves the settings and runs the handler. */
static int run_command(struct cli *c, const struct cli_command *cmd, const struct cli_global *g,
                       int argc, char **argv)
{
    struct errbuf err;
    errbuf_init(&err);
    if (g->help) {
        cli__usage_command(c, cmd);
        return CLI_EXIT_USAGE;
    }
    struct cli_args *args = mem_calloc(1, sizeof(*args));
    if (args == NULL) {
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    int code = CLI_EXIT_USAGE;
    enum err rc = cli__args_parse(cmd, argc, argv, args, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        cli__usage_command(c, cmd);
        goto out;
    }
    if ((cmd->flags & CLI_CMD_LOCAL) == 0) {
        rc = cli__settings_resolve(c, g, &err);
        if (rc != ERR_OK) {
            cli__error(c, "%s", err.msg);
            code = rc == ERR_INVALID ? CLI_EXIT_USAGE : cli__exit_from_err(rc);
            goto out;
        }
    }
    code = cmd->run(c, cmd, args);
out:
    mem_free(args);
    return code;
}

int cli__run(struct cli *c, int argc, char **argv)
{
    ASSERT(c != NULL);
    ASSERT(argc >= 0);
    struct errbuf err;
    errbuf_init(&err);
    struct cli_global g;
    int code = CLI_EXIT_USAGE;
    int n = 0;
    char **rest = mem_calloc((size_t)argc + 1, sizeof(*rest));
    if (rest == NULL) {
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    if (cli__global_extract(argc, argv, &g, rest, &n, &err) != ERR_OK) {
        cli__error(c, "%s", err.msg);
        usage(c, NULL);
        goto out;
    }
    c->json = g.json;
    if (n == 0 || strcmp(rest[0], "help") == 0) {
        usage(c, n > 1 && noun_known(rest[1]) ? rest[1] : NULL);
        goto out;
    }
    if (!noun_known(rest[0])) {
        cli__error(c, "unknown command '%s'", rest[0]);
        usage(c, NULL);
        goto out;
    }
    int takes_verb = 0;
    const struct cli_command *cmd = command_find(rest[0], n > 1 ? rest[1] : NULL, &takes_verb);
    if (cmd == NULL) {
        if (n > 1 && !g.help) {
            cli__error(c, "unknown command '%s %s'", rest[0], rest[1]);
        }
        usage(c, rest[0]);
        goto out;
    }
    int used = 1 + takes_verb;
    code = run_command(c, cmd, &g, n - used, rest + used);
out:
    mem_free(rest);
    if (fflush(c->out) != 0 || ferror(c->out)) {
        fputs("error: cannot write the output\n", c->errout);
        if (code == CLI_EXIT_OK) {
            code = CLI_EXIT_FAILURE;
        }
    }
    return code;
}

int cli_main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fputs("error: cannot initialise libsodium\n", stderr);
        return CLI_EXIT_FAILURE;
    }
    /* Route the libraries' allocations through mem_* like ours (house style). */
    json_set_alloc_funcs(mem_alloc, mem_free);
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, mem_alloc, mem_free, mem_realloc, mem_strdup,
                             mem_calloc) != CURLE_OK) {
        fputs("error: cannot initialise libcurl\n", stderr);
        return CLI_EXIT_FAILURE;
    }
    struct cli c;
    cli__init(&c);
    int code = cli__run(&c, argc, argv);
    cli__release(&c);
    curl_global_cleanup();
    return code;
}
