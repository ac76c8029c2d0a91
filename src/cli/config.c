/*
 * config.c: where the client finds the server and its API key. Three levels, highest first:
 * flags (--url, --key, --key-file), the environment (BOURSE_URL, BOURSE_KEY, BOURSE_KEY_FILE),
 * and a configuration file (--config or BOURSE_CONFIG) with lines "name = value". Within a
 * level a key given directly beats a key file. An empty environment variable counts as unset.
 *
 * The file format is deliberately tiny: names url, key and key_file; '#' starts a comment line;
 * anything else is an error that names the line, so that a typo never silently falls back to a
 * default server. A relative key_file is taken relative to the configuration file's folder.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <string.h>

#include "util/banned.h"

void cli__config_init(struct cli_config *cfg)
{
    ASSERT(cfg != NULL);
    cfg->url = NULL;
    cfg->key = NULL;
    cfg->key_file = NULL;
}

static void secret_free(char *s)
{
    if (s != NULL) {
        sodium_memzero(s, strlen(s));
        mem_free(s);
    }
}

void cli__config_release(struct cli_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    mem_free(cfg->url);
    secret_free(cfg->key);
    mem_free(cfg->key_file);
    cli__config_init(cfg);
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Trims blanks from both ends of [*s, *s + *len). */
static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_blank((*s)[0])) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_blank((*s)[*len - 1])) {
        (*len)--;
    }
}

/* The slot in cfg for a configuration name, or NULL when the name is unknown. */
static char **config_slot(struct cli_config *cfg, const char *name, size_t len)
{
    static const char *const names[] = {"url", "key", "key_file"};
    char **slots[] = {&cfg->url, &cfg->key, &cfg->key_file};
    _Static_assert(ARRAY_LEN(names) == 3, "one slot per name");
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) {
            return slots[i];
        }
    }
    return NULL;
}

/* Checks a value for the slot it goes to; `what` is e.g. "config 'f' line 3: url". */
static enum err config_value_check(struct cli_config *cfg, char **slot, const char *value,
                                   const char *what, struct errbuf *err)
{
    if (slot == &cfg->url) {
        return cli__check_url(what, value, err);
    }
    if (slot == &cfg->key) {
        return cli__check_api_key(what, value, err);
    }
    return ERR_OK;
}

/* Parses one line (without its '\n') into cfg. */
static enum err config_line(const char *origin, size_t line_no, const char *line, size_t len,
                            struct cli_config *cfg, struct errbuf *err)
{
    if (!text_valid_utf8(line, len)) {
        return err_set(err, ERR_INVALID, NULL, "config '%s' line %zu: not UTF-8 text", origin,
                       line_no);
    }
    trim(&line, &len);
    if (len == 0 || line[0] == '#') {
        return ERR_OK;
    }
    const char *eq = memchr(line, '=', len);
    if (eq == NULL) {
        return err_set(err, ERR_INVALID, NULL, "config '%s' line %zu: expected 'name = value'",
                       origin, line_no);
    }
    const char *name = line;
    size_t name_len = (size_t)(eq - line);
    const char *value = eq + 1;
    size_t value_len = len - name_len - 1;
    trim(&name, &name_len);
    trim(&value, &value_len);
    char **slot = config_slot(cfg, name, name_len);
    if (slot == NULL) {
        return err_set(err, ERR_INVALID, NULL, "config '%s' line %zu: unknown name '%.*s'", origin,
                       line_no, (int)name_len, name);
    }
    if (*slot != NULL) {
        return err_set(err, ERR_INVALID, NULL, "config '%s' line %zu: '%.*s' is set twice", origin,
                       line_no, (int)name_len, name);
    }
    if (value_len == 0) {
        return err_set(err, ERR_INVALID, NULL, "config '%s' line %zu: '%.*s' needs a value", origin,
                       line_no, (int)name_len, name);
    }
    char *copy = mem_strndup(value, value_len);
    if (copy == NULL) {
        return err_set(err, ERR_NOMEM, NULL, "out of memory");
    }
    char what[ERRBUF_MSG_MAX];
    snprintf(what, sizeof(what), "config '%s' line %zu: %.*s", origin, line_no, (int)name_len,
             name);
    enum err rc = config_value_check(cfg, slot, copy, what, err);
    if (rc != ERR_OK) {
        secret_free(copy);
        return rc;
    }
    *slot = copy;
    return ERR_OK;
}

enum err cli__config_parse(const char *origin, const char *text, size_t len, struct cli_config *cfg,
                           struct errbuf *err)
{
    ASSERT(origin != NULL);
    ASSERT(text != NULL || len == 0);
    ASSERT(cfg != NULL);
    struct cli_config parsed;
    cli__config_init(&parsed);
    size_t line_no = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t line_len = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
        line_no++;
        enum err rc = config_line(origin, line_no, text + pos, line_len, &parsed, err);
        if (rc != ERR_OK) {
            cli__config_release(&parsed);
            return rc;
        }
        pos += line_len + (nl != NULL ? 1 : 0);
    }
    cli__config_release(cfg);
    *cfg = parsed;
    return ERR_OK;
}

enum err cli__config_load(const char *path, struct cli_config *cfg, struct errbuf *err)
{
    ASSERT(path != NULL);
    ASSERT(cfg != NULL);
    char *text = NULL;
    size_t len = 0;
    enum err rc = cli__file_read(path, CLI_CONFIG_BYTES_MAX, &text, &len, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = cli__config_parse(path, text, len, cfg, err);
    sodium_memzero(text, len);
    mem_free(text);
    return rc;
}

/* ---- precedence ---- */

static const char *env_get(const struct cli *c, const char *name)
{
    const char *v = c->env(c->env_ctx, name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Reads an API key from a key file: one line, blanks around it ignored. */
static enum err key_file_read(const char *path, char **key, struct errbuf *err)
{
    char *text = NULL;
    size_t len = 0;
    enum err rc = cli__file_read(path, CLI_KEY_FILE_BYTES_MAX, &text, &len, err);
    if (rc != ERR_OK) {
        return rc;
    }
    const char *s = text;
    while (len > 0 && (s[len - 1] == '\n' || is_blank(s[len - 1]))) {
        len--;
    }
    while (len > 0 && is_blank(s[0])) {
        s++;
        len--;
    }
    char *copy = mem_strndup(s, len);
    sodium_memzero(text, len);
    mem_free(text);
    if (copy == NULL) {
        return err_set(err, ERR_NOMEM, NULL, "out of memory");
    }
    char what[ERRBUF_MSG_MAX];
    snprintf(what, sizeof(what), "the key in '%s'", path);
    rc = cli__check_api_key(what, copy, err);
    if (rc != ERR_OK) {
        secret_free(copy);
        return rc;
    }
    *key = copy;
    return ERR_OK;
}

/* A config key_file relative to the configuration file's folder, as a new string. */
static char *config_relative(const char *config_path, const char *file)
{
    const char *slash = strrchr(config_path, '/');
    if (file[0] == '/' || slash == NULL) {
        return mem_strdup(file);
    }
    struct buf b;
    buf_init(&b, CLI_URL_BYTES_MAX + CLI_VALUE_BYTES_MAX);
    if (buf_append(&b, config_path, (size_t)(slash - config_path) + 1) != ERR_OK ||
        buf_append_str(&b, file) != ERR_OK) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

/* Picks the API key by precedence; *key stays NULL when none is known. */
static enum err key_resolve(struct cli *c, const struct cli_global *g, const struct cli_config *cfg,
                            const char *config_path, char **key, struct errbuf *err)
{
    if (g->key != NULL && g->key_file != NULL) {
        return err_set(err, ERR_INVALID, NULL, "give only one of --key and --key-file");
    }
    const char *direct = g->key;
    const char *what = "--key";
    const char *file = g->key_file;
    if (direct == NULL && file == NULL) {
        direct = env_get(c, "BOURSE_KEY");
        what = "BOURSE_KEY";
        file = direct == NULL ? env_get(c, "BOURSE_KEY_FILE") : NULL;
    }
    if (direct == NULL && file == NULL && cfg->key != NULL) {
        direct = cfg->key;
        what = "config key";
    }
    if (direct != NULL) {
        enum err rc = cli__check_api_key(what, direct, err);
        if (rc != ERR_OK) {
            return rc;
        }
        *key = mem_strdup(direct);
        return *key == NULL ? err_set(err, ERR_NOMEM, NULL, "out of memory") : ERR_OK;
    }
    if (file != NULL) {
        return key_file_read(file, key, err);
    }
    if (cfg->key_file == NULL) {
        return ERR_OK;
    }
    char *path = config_relative(config_path, cfg->key_file);
    if (path == NULL) {
        return err_set(err, ERR_NOMEM, NULL, "out of memory");
    }
    enum err rc = key_file_read(path, key, err);
    mem_free(path);
    return rc;
}

/* Picks the base URL by precedence and copies it without trailing slashes. */
static enum err url_resolve(struct cli *c, const struct cli_global *g, const struct cli_config *cfg,
                            char **url, struct errbuf *err)
{
    const char *value = g->url;
    const char *what = "--url";
    if (value == NULL) {
        value = env_get(c, "BOURSE_URL");
        what = "BOURSE_URL";
    }
    if (value == NULL) {
        value = cfg->url != NULL ? cfg->url : CLI_DEFAULT_URL;
        what = "config url";
    }
    enum err rc = cli__check_url(what, value, err);
    if (rc != ERR_OK) {
        return rc;
    }
    size_t len = strlen(value);
    while (len > 0 && value[len - 1] == '/') {
        len--;
    }
    *url = mem_strndup(value, len);
    return *url == NULL ? err_set(err, ERR_NOMEM, NULL, "out of memory") : ERR_OK;
}

enum err cli__settings_resolve(struct cli *c, const struct cli_global *g, struct errbuf *err)
{
    ASSERT(c != NULL);
    ASSERT(g != NULL);
    struct cli_config cfg;
    cli__config_init(&cfg);
    char *url = NULL;
    char *key = NULL;
    const char *config_path = g->config != NULL ? g->config : env_get(c, "BOURSE_CONFIG");
    enum err rc = ERR_OK;
    if (config_path != NULL) {
        rc = cli__config_load(config_path, &cfg, err);
        if (rc != ERR_OK) {
            goto out;
        }
    }
    rc = url_resolve(c, g, &cfg, &url, err);
    if (rc != ERR_OK) {
        goto out;
    }
    rc = key_resolve(c, g, &cfg, config_path != NULL ? config_path : "", &key, err);
    if (rc != ERR_OK) {
        goto out;
    }
    cli__release(c);
    c->url = url;
    url = NULL;
    c->key = key;
    key = NULL;
out:
    mem_free(url);
    secret_free(key);
    cli__config_release(&cfg);
    return rc;
}
