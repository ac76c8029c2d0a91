/*
 * product.c: `bourse product ...` (design §2 step 2: register a data product, revise it, show
 * and list products, ask whether a revision may be listed) and `bourse policy ...` (the
 * operator's listing policy), with the helpers the supply-side nouns share (file digests,
 * filtered list paths, list pages).
 *
 * The product metadata is a JSON file written by the provider (docs/api.md describes it);
 * --sample adds a CSV or JSON Lines sample from a file, and --data computes the content hash
 * locally from the data file itself, so the data never has to travel to the exchange for the
 * revision to be bound to it.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"

/* A metadata file holds text and a schema, plus at most a 64 KiB inline sample. */
#define PRODUCT_FILE_BYTES_MAX (512u << 10)
#define SAMPLE_FILE_BYTES_MAX (64u << 10)
#define HASH_CHUNK_BYTES (64u << 10)

static const char *const product_kinds[] = {"dataset", "api", "report", "model", "compute", NULL};
static const char *const classifications[] = {"public", "corporate", "personal", NULL};
static const char *const sensitivities[] = {"general", "important", "core", NULL};
static const char *const sample_formats[] = {"csv", "jsonl", NULL};

/* ---- shared helpers ---- */

enum err cli__file_sha256(const char *path, char hex[65], int64_t *size, struct errbuf *err)
{
    ASSERT(path != NULL && hex != NULL && size != NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return err_set(err, ERR_IO, NULL, "cannot open '%s': %s", path, strerror(errno));
    }
    unsigned char *chunk = mem_alloc(HASH_CHUNK_BYTES);
    if (chunk == NULL) {
        close(fd);
        return err_set(err, ERR_NOMEM, NULL, "out of memory");
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    int64_t total = 0;
    enum err rc = ERR_OK;
    for (;;) {
        ssize_t n = read(fd, chunk, HASH_CHUNK_BYTES);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = err_set(err, ERR_IO, NULL, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (n == 0) {
            break;
        }
        crypto_hash_sha256_update(&st, chunk, (unsigned long long)n);
        total += n;
    }
    close(fd);
    mem_free(chunk);
    if (rc != ERR_OK) {
        return rc;
    }
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof(h));
    *size = total;
    return ERR_OK;
}

enum err cli__query_path(struct buf *path, const char *base, const char *const *pairs, size_t count,
                         const struct cli_args *a)
{
    char sep = '?';
    enum err rc = buf_append_str(path, base);
    for (size_t i = 0; rc == ERR_OK && i + 1 < count; i += 2) {
        const char *value = cli__arg(a, pairs[i]);
        if (value == NULL) {
            continue;
        }
        rc = buf_appendf(path, "%c%s=", sep, pairs[i + 1]);
        if (rc == ERR_OK) {
            rc = cli__url_escape_append(path, value);
        }
        sep = '&';
    }
    return rc;
}

int cli__list_call(struct cli *c, const char *path, cli_render_fn *row, const char *header,
                   const char *empty)
{
    struct errbuf err;
    errbuf_init(&err);
    struct cli_response resp;
    cli__response_init(&resp);
    enum err rc = cli__request(c, "GET", path, NULL, &resp, &err);
    int code = cli__response_check(c, rc, &err, &resp);
    json_t *items = json_object_get(resp.json, "items");
    if (code == CLI_EXIT_OK && !json_is_array(items)) {
        cli__error(c, "the server's answer has no list of items");
        code = CLI_EXIT_FAILURE;
    }
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    if (c->json) {
        cli__print_body(c, &resp);
        goto out;
    }
    if (json_array_size(items) == 0) {
        fprintf(c->out, "%s\n", empty);
    } else {
        fprintf(c->out, "%s\n", header);
    }
    for (size_t i = 0; i < json_array_size(items); i++) {
        row(c, json_array_get(items, i));
    }
    const char *next = cli__json_str(resp.json, "next_cursor");
    if (next != NULL) {
        fputs("next cursor: ", c->out);
        cli__print_text(c->out, next);
        fputs(" (use --cursor)\n", c->out);
    }
out:
    cli__response_release(&resp);
    return code;
}

/* Builds a path from parts (see cli__path) and runs cli__call on it. Takes body. */
static int call_parts(struct cli *c, const char *method, const char *const *parts, size_t count,
                      json_t *body, int body_wanted, cli_render_fn *render)
{
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if ((body_wanted && body == NULL) || cli__path(&path, parts, count) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, method, path.data, body, render);
    }
    buf_release(&path);
    json_decref(body);
    return code;
}

/* ---- rendering ---- */

static void quality_print(struct cli *c, const json_t *q)
{
    if (!json_is_object(q)) {
        cli__print_field(c, "quality", "no sample checked");
        return;
    }
    fprintf(c->out,
            "%-14s%s, %" JSON_INTEGER_FORMAT " rows, %" JSON_INTEGER_FORMAT
            " malformed, %" JSON_INTEGER_FORMAT " duplicate, completeness %" JSON_INTEGER_FORMAT
            "\xe2\x80\xb0\n",
            "quality:", json_is_true(json_object_get(q, "passed")) ? "passed" : "not passed",
            json_integer_value(json_object_get(q, "rows")),
            json_integer_value(json_object_get(q, "malformed_rows")),
            json_integer_value(json_object_get(q, "duplicate_rows")),
            json_integer_value(json_object_get(q, "completeness_permille")));
    const json_t *problems = json_object_get(q, "problems");
    for (size_t i = 0; i < json_array_size(problems); i++) {
        fputs("  - ", c->out);
        cli__print_text(c->out, json_string_value(json_array_get(problems, i)));
        fputc('\n', c->out);
    }
}

static void revision_print(struct cli *c, const json_t *r)
{
    static const char *const fields[][2] = {
        {"revision id", "id"},
        {"title", "title"},
        {"kind", "kind"},
        {"category", "category"},
        {"classification", "classification"},
        {"sensitivity", "sensitivity"},
        {"content hash", "content_hash"},
        {"metadata hash", "metadata_hash"},
        {"created at", "created_at"},
    };
    cli__print_field_int(c, "revision", r, "revision");
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        cli__print_field(c, fields[i][0], cli__json_str(r, fields[i][1]));
    }
    if (json_is_true(json_object_get(r, "supervised"))) {
        cli__print_field(c, "supervision", "important data: flagged for supervision");
    }
    cli__print_field_int(c, "log index", r, "log_index");
    if (json_object_get(r, "quality") != NULL) {
        quality_print(c, json_object_get(r, "quality"));
    }
}

static void product_print(struct cli *c, const json_t *p)
{
    cli__print_field(c, "product", cli__json_str(p, "id"));
    cli__print_field(c, "provider", cli__json_str(p, "provider_id"));
    const json_t *rev = json_object_get(p, "revision");
    if (json_is_object(rev)) {
        revision_print(c, rev);
    }
    const json_t *revs = json_object_get(p, "revisions");
    for (size_t i = 0; i < json_array_size(revs); i++) {
        const json_t *r = json_array_get(revs, i);
        if (i == 0) {
            fputs("revisions:\n", c->out);
        }
        fprintf(c->out, "  %4" JSON_INTEGER_FORMAT "  ",
                json_integer_value(json_object_get(r, "revision")));
        cli__print_cell(c->out, cli__json_str(r, "id"), 26);
        cli__print_cell(c->out, cli__json_str(r, "created_at"), 26);
        cli__print_text(c->out, cli__json_str(r, "content_hash"));
        fputc('\n', c->out);
    }
}

static void product_row(struct cli *c, const json_t *p)
{
    cli__print_cell(c->out, cli__json_str(p, "id"), 26);
    cli__print_cell(c->out, cli__json_str(p, "kind"), 9);
    cli__print_cell(c->out, cli__json_str(p, "category"), 20);
    cli__print_cell(c->out, cli__json_str(p, "classification"), 11);
    cli__print_cell(c->out, cli__json_str(p, "sensitivity"), 11);
    cli__print_text(c->out, cli__json_str(p, "title"));
    fputc('\n', c->out);
}

static void missing_print(struct cli *c, const json_t *list)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *m = json_array_get(list, i);
        fputs("  - ", c->out);
        cli__print_text(c->out, cli__json_str(m, "item"));
        const char *kind = cli__json_str(m, "kind");
        if (kind != NULL) {
            fputc(' ', c->out);
            cli__print_text(c->out, kind);
        }
        fputs(": ", c->out);
        cli__print_text(c->out, cli__json_str(m, "reason"));
        fputc('\n', c->out);
    }
}

static void listable_print(struct cli *c, const json_t *l)
{
    cli__print_field(c, "revision", cli__json_str(l, "revision_id"));
    cli__print_field(c, "listable", json_is_true(json_object_get(l, "listable")) ? "yes" : "no");
    cli__print_field_int(c, "policy", l, "policy_version");
    missing_print(c, json_object_get(l, "missing"));
    const json_t *cb = json_object_get(l, "cross_border");
    cli__print_field(c, "cross-border",
                     json_is_true(json_object_get(cb, "allowed")) ? "allowed" : "not allowed");
    missing_print(c, json_object_get(cb, "missing"));
}

/* ---- product register, revise ---- */

/* Reads --file, then applies --sample/--sample-format and --data. */
static int metadata_load(struct cli *c, const struct cli_command *cmd, const struct cli_args *a,
                         json_t **out)
{
    const char *sample_file = cli__arg(a, "sample");
    const char *format = cli__arg(a, "sample-format");
    if ((sample_file == NULL) != (format == NULL)) {
        return cli__usage_error(c, cmd, "--sample and --sample-format go together");
    }
    struct errbuf err;
    errbuf_init(&err);
    char *text = NULL;
    size_t len = 0;
    enum err rc = cli__file_read(cli__arg(a, "file"), PRODUCT_FILE_BYTES_MAX, &text, &len, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    json_error_t jerr;
    json_t *md = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    mem_free(text);
    if (!json_is_object(md)) {
        json_decref(md);
        cli__error(c, "'%s' is not a JSON object: %s", cli__arg(a, "file"), jerr.text);
        return CLI_EXIT_INVALID;
    }
    int code = CLI_EXIT_OK;
    if (sample_file != NULL) {
        rc = cli__file_read(sample_file, SAMPLE_FILE_BYTES_MAX, &text, &len, &err);
        json_t *sample =
            rc == ERR_OK ? json_pack("{s:s, s:s%}", "format", format, "data", text, len) : NULL;
        mem_free(text);
        if (rc == ERR_OK && (sample == NULL || json_object_set_new(md, "sample", sample) != 0)) {
            rc = err_set(&err, ERR_INVALID, NULL, "the sample is not UTF-8 text");
        }
    }
    const char *data = cli__arg(a, "data");
    if (rc == ERR_OK && data != NULL) {
        char hex[65];
        int64_t size = 0;
        rc = cli__file_sha256(data, hex, &size, &err);
        if (rc == ERR_OK && json_object_set_new(md, "content_hash", json_string(hex)) != 0) {
            rc = err_set(&err, ERR_NOMEM, NULL, "out of memory");
        }
    }
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        code = cli__exit_from_err(rc);
        json_decref(md);
        md = NULL;
    }
    *out = md;
    return code;
}

static int product_register(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    json_t *md = NULL;
    int code = metadata_load(c, cmd, a, &md);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    code = cli__call(c, "POST", "/v1/products", md, product_print);
    json_decref(md);
    return code;
}

static int product_revise(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    json_t *md = NULL;
    int code = metadata_load(c, cmd, a, &md);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    const char *parts[] = {"/v1/products/", a->positional[0], "/revisions"};
    return call_parts(c, "POST", parts, ARRAY_LEN(parts), md, 1, product_print);
}

/* ---- product show, list, listable ---- */

static int product_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *n = cli__arg(a, "revision");
    if (n != NULL) {
        const char *parts[] = {"/v1/products/", a->positional[0], "/revisions/", n};
        return call_parts(c, "GET", parts, ARRAY_LEN(parts), NULL, 0, revision_print);
    }
    const char *parts[] = {"/v1/products/", a->positional[0]};
    return call_parts(c, "GET", parts, ARRAY_LEN(parts), NULL, 0, product_print);
}

static int product_list(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {
        "provider", "provider_id",    "kind",           "kind",        "category",
        "category", "classification", "classification", "sensitivity", "sensitivity",
        "limit",    "limit",          "cursor",         "cursor",
    };
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__query_path(&path, "/v1/products", pairs, ARRAY_LEN(pairs), a) != ERR_OK) {
        cli__error(c, "the list filters are too long");
    } else {
        code = cli__list_call(c, path.data, product_row,
                              "ID                        KIND     CATEGORY            CLASS      "
                              "SENSITIVITY TITLE",
                              "no products");
    }
    buf_release(&path);
    return code;
}

static int product_listable(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/revisions/", a->positional[0], "/listable"};
    return call_parts(c, "GET", parts, ARRAY_LEN(parts), NULL, 0, listable_print);
}

/* ---- policy ---- */

static void policy_print(struct cli *c, const json_t *p)
{
    cli__print_field_int(c, "policy version", p, "version");
    const char *by = cli__json_str(p, "set_by");
    cli__print_field(c, "set by", by != NULL ? by : "built-in default");
    const json_t *rules = json_object_get(p, "rules");
    for (size_t i = 0; i < json_array_size(rules); i++) {
        const json_t *r = json_array_get(rules, i);
        fputs("  ", c->out);
        cli__print_cell(c->out, cli__json_str(r, "classification"), 10);
        cli__print_cell(c->out, cli__json_str(r, "sensitivity"), 10);
        const json_t *kinds = json_object_get(r, "kinds");
        for (size_t k = 0; k < json_array_size(kinds); k++) {
            fputs(k > 0 ? ", " : "", c->out);
            cli__print_text(c->out, json_string_value(json_array_get(kinds, k)));
        }
        fputs(json_array_size(kinds) == 0 ? "(none)\n" : "\n", c->out);
    }
}

/* One --rule CLASS/SENSITIVITY=KIND,KIND as a policy rule. */
static json_t *rule_parse(const char *text)
{
    const char *slash = strchr(text, '/');
    const char *eq = strchr(text, '=');
    if (slash == NULL || eq == NULL || eq < slash) {
        return NULL;
    }
    json_t *kinds = json_array();
    const char *p = eq + 1;
    while (kinds != NULL && *p != '\0') {
        size_t n = strcspn(p, ",");
        if (n == 0 || json_array_append_new(kinds, json_stringn(p, n)) != 0) {
            json_decref(kinds);
            return NULL;
        }
        p += n + (p[n] == ',');
    }
    return json_pack("{s:s%, s:s%, s:o*}", "classification", text, (size_t)(slash - text),
                     "sensitivity", slash + 1, (size_t)(eq - slash - 1), "kinds", kinds);
}

static int policy_set(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    const char *file = cli__arg(a, "file");
    if ((file != NULL) == cli__arg_given(a, "rule")) {
        return cli__usage_error(c, cmd, "give either --file or --rule");
    }
    json_t *body = NULL;
    if (file != NULL) {
        struct errbuf err;
        errbuf_init(&err);
        char *text = NULL;
        size_t len = 0;
        enum err rc = cli__file_read(file, PRODUCT_FILE_BYTES_MAX, &text, &len, &err);
        if (rc != ERR_OK) {
            cli__error(c, "%s", err.msg);
            return cli__exit_from_err(rc);
        }
        body = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
        mem_free(text);
        if (!json_is_object(body)) {
            json_decref(body);
            cli__error(c, "'%s' is not a JSON object", file);
            return CLI_EXIT_INVALID;
        }
    } else {
        json_t *rules = json_array();
        body = json_pack("{s:o*}", "rules", rules);
        for (size_t i = 0; body != NULL && i < a->item_count; i++) {
            if (strcmp(a->items[i].option->name, "rule") != 0) {
                continue;
            }
            json_t *r = rule_parse(a->items[i].value);
            if (r == NULL) {
                json_decref(body);
                return cli__usage_error(c, cmd, "--rule is CLASSIFICATION/SENSITIVITY=KIND,...");
            }
            json_array_append_new(rules, r);
        }
    }
    int code = cli__call(c, "POST", "/v1/policy/listing", body, policy_print);
    json_decref(body);
    return code;
}

static int policy_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"version", "version"};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__query_path(&path, "/v1/policy/listing", pairs, ARRAY_LEN(pairs), a) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, "GET", path.data, NULL, policy_print);
    }
    buf_release(&path);
    return code;
}

/* ---- the tables ---- */

static const char *const one_id[] = {"ID", NULL};
static const char *const one_revision[] = {"REVISION_ID", NULL};

static const struct cli_option register_options[] = {
    {"file", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"sample", CLI_OPT_VALUE, NULL, NULL},
    {"sample-format", CLI_OPT_VALUE, sample_formats, NULL},
    {"data", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option show_options[] = {
    {"revision", CLI_OPT_VALUE, NULL, cli__check_limit},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option list_options[] = {
    {"provider", CLI_OPT_VALUE, NULL, NULL},
    {"kind", CLI_OPT_VALUE, product_kinds, NULL},
    {"category", CLI_OPT_VALUE, NULL, NULL},
    {"classification", CLI_OPT_VALUE, classifications, NULL},
    {"sensitivity", CLI_OPT_VALUE, sensitivities, NULL},
    {"limit", CLI_OPT_VALUE, NULL, cli__check_limit},
    {"cursor", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option policy_set_options[] = {
    {"rule", CLI_OPT_VALUE | CLI_OPT_REPEAT, NULL, NULL},
    {"file", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option policy_show_options[] = {
    {"version", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__product_commands[] = {
    {"product", "register", product_register, NULL, register_options, NULL, 0,
     "--file METADATA.json [--sample FILE --sample-format csv|jsonl] [--data FILE]",
     "register a data product (revision 1); --data hashes the data file locally"},
    {"product", "revise", product_revise, NULL, register_options, one_id, 0,
     "ID --file METADATA.json [--sample FILE --sample-format csv|jsonl] [--data FILE]",
     "make a new revision of a product from complete new metadata"},
    {"product", "show", product_show, NULL, show_options, one_id, 0, "ID [--revision N]",
     "show a product with its newest revision, or one revision"},
    {"product", "list", product_list, NULL, list_options, NULL, 0,
     "[--provider ID] [--kind K] [--category C] [--classification C] [--sensitivity S] "
     "[--limit N] [--cursor C]",
     "list products (your own unless you are the operator or a regulator)"},
    {"product", "listable", product_listable, NULL, NULL, one_revision, 0, "REVISION_ID",
     "say whether a revision may be listed, and offered across the border"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

const struct cli_command cli__policy_commands[] = {
    {"policy", "set", policy_set, NULL, policy_set_options, NULL, 0,
     "(--rule CLASSIFICATION/SENSITIVITY=KIND,...)... | --file POLICY.json",
     "set the listing policy (operator): the assessments each class of product needs"},
    {"policy", "show", policy_show, NULL, policy_show_options, NULL, 0, "[--version N]",
     "show the listing policy in force, or an earlier version"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
