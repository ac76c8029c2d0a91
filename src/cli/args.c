/*
 * args.c: the option parser every command runs over the arguments after its verb, and the value
 * checks the option tables name.
 *
 * Written here rather than with getopt_long because getopt keeps global state between calls
 * (the unit tests run many commands in one process) and permutes argv. Only long options exist.
 * Every value is checked before anything is sent: it must be non-empty UTF-8 text without
 * control characters other than tab and newline, at most CLI_VALUE_BYTES_MAX bytes, and pass
 * the option's choice list or check function. A value may not start with "--" unless written
 * as --name=VALUE, so that a forgotten value ("--name --uscc X") is an error, not a name.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

const char *const cli__entity_kinds[] = {
    "provider", "buyer", "broker", "service_firm", "regulator", "operator", NULL,
};

const char *const cli__entity_statuses[] = {
    "applied", "verified", "rejected", "suspended", NULL,
};

/* Checks what every value must be: non-empty, bounded, UTF-8 text. `what` names it. */
static enum err value_check_text(const char *what, const char *value, struct errbuf *err)
{
    size_t len = strlen(value);
    if (len == 0) {
        return err_set(err, ERR_INVALID, what, "%s needs a non-empty value", what);
    }
    if (len > CLI_VALUE_BYTES_MAX) {
        return err_set(err, ERR_INVALID, what, "%s is longer than %u bytes", what,
                       CLI_VALUE_BYTES_MAX);
    }
    if (!text_valid_utf8(value, len)) {
        return err_set(err, ERR_INVALID, what, "%s is not UTF-8 text without control characters",
                       what);
    }
    return ERR_OK;
}

static enum err value_check_choice(const struct cli_option *opt, const char *value,
                                   struct errbuf *err)
{
    char list[256];
    size_t used = 0;
    list[0] = '\0';
    for (const char *const *ch = opt->choices; *ch != NULL; ch++) {
        if (strcmp(*ch, value) == 0) {
            return ERR_OK;
        }
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", used > 0 ? ", " : "", *ch);
        if (n > 0 && (size_t)n < sizeof(list) - used) {
            used += (size_t)n;
        }
    }
    return err_set(err, ERR_INVALID, opt->name, "--%s must be one of: %s (got '%s')", opt->name,
                   list, value);
}

static enum err value_check(const struct cli_option *opt, const char *value, struct errbuf *err)
{
    char what[64];
    snprintf(what, sizeof(what), "--%s", opt->name);
    enum err rc = value_check_text(what, value, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (opt->choices != NULL) {
        rc = value_check_choice(opt, value, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    if (opt->check != NULL) {
        return opt->check(opt->name, value, err);
    }
    return ERR_OK;
}

static const struct cli_option *option_find(const struct cli_command *cmd, const char *name,
                                            size_t len)
{
    for (const struct cli_option *opt = cmd->options; opt != NULL && opt->name != NULL; opt++) {
        if (strlen(opt->name) == len && memcmp(opt->name, name, len) == 0) {
            return opt;
        }
    }
    return NULL;
}

/* Parses the option at argv[*pos] ("--name", "--name=value" or "--name value") into a. */
static enum err option_take(const struct cli_command *cmd, int argc, char **argv, int *pos,
                            struct cli_args *a, struct errbuf *err)
{
    const char *arg = argv[*pos];
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    const char *eq = name[len] == '=' ? name + len + 1 : NULL;
    /* "-x" is the one-letter option named "x", where a command has one (download's -o). */
    if (arg[1] != '-') {
        name = arg + 1;
        len = strcspn(name, "=");
    }
    const struct cli_option *opt = arg[1] == '-' || len == 1 ? option_find(cmd, name, len) : NULL;
    if (opt == NULL) {
        return err_set(err, ERR_INVALID, NULL, "unknown option '%.*s'",
                       (int)(arg[1] == '-' ? len + 2 : strlen(arg)), arg);
    }
    const char *value = NULL;
    *pos += 1;
    if ((opt->flags & CLI_OPT_VALUE) == 0) {
        if (eq != NULL) {
            return err_set(err, ERR_INVALID, opt->name, "option '--%s' takes no value", opt->name);
        }
    } else if (eq != NULL) {
        value = eq;
    } else if (*pos < argc && strncmp(argv[*pos], "--", 2) != 0) {
        value = argv[*pos];
        *pos += 1;
    } else {
        return err_set(err, ERR_INVALID, opt->name, "option '--%s' needs a value", opt->name);
    }
    if ((opt->flags & CLI_OPT_REPEAT) == 0 && cli__arg_given(a, opt->name)) {
        return err_set(err, ERR_INVALID, opt->name, "option '--%s' given twice", opt->name);
    }
    if (value != NULL) {
        enum err rc = value_check(opt, value, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    if (a->item_count == CLI_ARGS_MAX) {
        return err_set(err, ERR_INVALID, NULL, "too many arguments (at most %d)", CLI_ARGS_MAX);
    }
    a->items[a->item_count].option = opt;
    a->items[a->item_count].value = value;
    a->item_count++;
    return ERR_OK;
}

static size_t positional_wanted(const struct cli_command *cmd)
{
    size_t n = 0;
    while (cmd->positional != NULL && cmd->positional[n] != NULL) {
        n++;
    }
    ASSERT(n <= CLI_POSITIONAL_MAX);
    return n;
}

static enum err positional_take(const struct cli_command *cmd, const char *arg, struct cli_args *a,
                                struct errbuf *err)
{
    size_t wanted = positional_wanted(cmd);
    if (a->positional_count == wanted) {
        return err_set(err, ERR_INVALID, NULL, "unexpected argument '%s'", arg);
    }
    enum err rc = value_check_text(cmd->positional[a->positional_count], arg, err);
    if (rc != ERR_OK) {
        return rc;
    }
    a->positional[a->positional_count++] = arg;
    return ERR_OK;
}

/* After parsing: every positional argument and required option is there. */
static enum err args_complete(const struct cli_command *cmd, const struct cli_args *a,
                              struct errbuf *err)
{
    size_t wanted = positional_wanted(cmd);
    if (a->positional_count < wanted) {
        return err_set(err, ERR_INVALID, NULL, "missing %s", cmd->positional[a->positional_count]);
    }
    for (const struct cli_option *opt = cmd->options; opt != NULL && opt->name != NULL; opt++) {
        if ((opt->flags & CLI_OPT_REQUIRED) != 0 && !cli__arg_given(a, opt->name)) {
            return err_set(err, ERR_INVALID, opt->name, "missing --%s", opt->name);
        }
    }
    return ERR_OK;
}

enum err cli__args_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *a,
                         struct errbuf *err)
{
    ASSERT(cmd != NULL);
    ASSERT(a != NULL);
    ASSERT(argc >= 0);
    memset(a, 0, sizeof(*a));
    int options_end = 0;
    int pos = 0;
    while (pos < argc) {
        const char *arg = argv[pos];
        enum err rc = ERR_OK;
        if (!options_end && strcmp(arg, "--") == 0) {
            options_end = 1;
            pos++;
        } else if (!options_end && arg[0] == '-' && arg[1] != '\0') {
            rc = option_take(cmd, argc, argv, &pos, a, err);
        } else {
            rc = positional_take(cmd, arg, a, err);
            pos++;
        }
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return args_complete(cmd, a, err);
}

const char *cli__arg(const struct cli_args *a, const char *name)
{
    ASSERT(a != NULL);
    ASSERT(name != NULL);
    const char *value = NULL;
    for (size_t i = 0; i < a->item_count; i++) {
        if (strcmp(a->items[i].option->name, name) == 0) {
            value = a->items[i].value;
        }
    }
    return value;
}

int cli__arg_given(const struct cli_args *a, const char *name)
{
    ASSERT(a != NULL);
    ASSERT(name != NULL);
    for (size_t i = 0; i < a->item_count; i++) {
        if (strcmp(a->items[i].option->name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- value checks ---- */

enum err cli__check_country(const char *option, const char *value, struct errbuf *err)
{
    if (strlen(value) == 2 && value[0] >= 'A' && value[0] <= 'Z' && value[1] >= 'A' &&
        value[1] <= 'Z') {
        return ERR_OK;
    }
    return err_set(err, ERR_INVALID, option,
                   "--%s must be an ISO 3166-1 alpha-2 code in capitals, such as CN (got '%s')",
                   option, value);
}

enum err cli__check_email(const char *option, const char *value, struct errbuf *err)
{
    const char *at = strchr(value, '@');
    if (at != NULL && at != value && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
        strpbrk(value, " \t\n\r") == NULL) {
        return ERR_OK;
    }
    return err_set(err, ERR_INVALID, option, "--%s must be an email address (got '%s')", option,
                   value);
}

enum err cli__check_limit(const char *option, const char *value, struct errbuf *err)
{
    char *end = NULL;
    long long n = 0;
    if (value[0] >= '0' && value[0] <= '9') {
        n = strtoll(value, &end, 10);
    }
    if (end == NULL || *end != '\0' || n < 1 || n > CLI_LIST_LIMIT_MAX) {
        return err_set(err, ERR_INVALID, option, "--%s must be a whole number from 1 to %d", option,
                       CLI_LIST_LIMIT_MAX);
    }
    return ERR_OK;
}

enum err cli__check_public_key(const char *option, const char *value, struct errbuf *err)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    struct errbuf why;
    errbuf_init(&why);
    enum err rc = cli_key_public_decode(value, strlen(value), pk, &why);
    if (rc != ERR_OK) {
        return err_set(err, rc, option, "--%s: %s", option, why.msg);
    }
    return ERR_OK;
}

enum err cli__check_url(const char *option, const char *value, struct errbuf *err)
{
    size_t len = strlen(value);
    int scheme = strncmp(value, "http://", 7) == 0 || strncmp(value, "https://", 8) == 0;
    int host = scheme && len > (value[4] == 's' ? 8u : 7u);
    int clean = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)value[i];
        if (ch <= ' ' || ch >= 0x7f) {
            clean = 0;
        }
    }
    if (!scheme || !host || !clean || len > CLI_URL_BYTES_MAX) {
        return err_set(err, ERR_INVALID, option,
                       "%s must be an http:// or https:// URL without spaces (got '%s')", option,
                       value);
    }
    return ERR_OK;
}

enum err cli__check_api_key(const char *option, const char *value, struct errbuf *err)
{
    size_t len = strlen(value);
    int clean = len > 0 && len <= CLI_API_KEY_BYTES_MAX;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)value[i];
        if (ch <= ' ' || ch >= 0x7f) {
            clean = 0;
        }
    }
    if (!clean) {
        return err_set(err, ERR_INVALID, option,
                       "%s must be 1 to %u printable characters without spaces", option,
                       CLI_API_KEY_BYTES_MAX);
    }
    return ERR_OK;
}
