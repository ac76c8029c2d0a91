/*
 * entity.c: `bourse entity ...`, the registry of organisations (design §2 step 1): apply with
 * an identity and a public signing key, list and show entities, and the operator's review
 * (verify, reject, suspend, reinstate). The application's answer carries the entity's first API
 * key, whose secret the server shows only once.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <string.h>

#include "util/banned.h"

/* Column widths of `entity list`: an id is "ent_" and 20 characters; the longest kind is
 * service_firm and the longest status suspended. Longer values push the row, never cut. */
#define LIST_ID_WIDTH 26
#define LIST_KIND_WIDTH 14
#define LIST_STATUS_WIDTH 11
#define LIST_COUNTRY_WIDTH 9

static const char *const review_decisions[] = {"verify", "reject", "suspend", "reinstate", NULL};

/* ---- rendering ---- */

static void contact_print(struct cli *c, const json_t *contact)
{
    cli__print_field(c, "contact", cli__json_str(contact, "name"));
    cli__print_field(c, "email", cli__json_str(contact, "email"));
    cli__print_field(c, "phone", cli__json_str(contact, "phone"));
}

static void specialities_print(struct cli *c, const json_t *list)
{
    if (!json_is_array(list) || json_array_size(list) == 0) {
        return;
    }
    fputs("specialities: ", c->out);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *v = json_array_get(list, i);
        fputs(i > 0 ? ", " : "", c->out);
        cli__print_text(c->out, json_string_value(v));
    }
    fputc('\n', c->out);
}

static void certificates_print(struct cli *c, const json_t *list)
{
    fputs("certificates:", c->out);
    if (!json_is_array(list) || json_array_size(list) == 0) {
        fputs(" none\n", c->out);
        return;
    }
    fputc('\n', c->out);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *crt = json_array_get(list, i);
        fputs("  ", c->out);
        cli__print_cell(c->out, cli__json_str(crt, "id"), LIST_ID_WIDTH);
        cli__print_cell(c->out, cli__json_str(crt, "type"), 14);
        cli__print_cell(c->out, cli__json_str(crt, "status"), 9);
        fputs("issued ", c->out);
        cli__print_text(c->out, cli__json_str(crt, "issued_at"));
        const char *revoked = cli__json_str(crt, "revoked_at");
        if (revoked != NULL) {
            fputs("  revoked ", c->out);
            cli__print_text(c->out, revoked);
        }
        fputc('\n', c->out);
    }
}

static void history_print(struct cli *c, const json_t *list)
{
    fputs("history:", c->out);
    if (!json_is_array(list) || json_array_size(list) == 0) {
        fputs(" none\n", c->out);
        return;
    }
    fputc('\n', c->out);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *h = json_array_get(list, i);
        fputs("  ", c->out);
        cli__print_cell(c->out, cli__json_str(h, "at"), 26);
        cli__print_cell(c->out, cli__json_str(h, "decision"), 11);
        fputs("by ", c->out);
        cli__print_text(c->out, cli__json_str(h, "actor"));
        json_t *idx = json_object_get(h, "log_index");
        if (json_is_integer(idx)) {
            fprintf(c->out, "  (log %" JSON_INTEGER_FORMAT ")", json_integer_value(idx));
        }
        const char *reason = cli__json_str(h, "reason");
        if (reason != NULL && reason[0] != '\0') {
            fputs("\n      reason: ", c->out);
            cli__print_text(c->out, reason);
        }
        fputc('\n', c->out);
    }
}

static void entity_print(struct cli *c, const json_t *e)
{
    static const char *const fields[][2] = {
        {"id", "id"},     {"kind", "kind"},       {"name", "name"},
        {"uscc", "uscc"}, {"country", "country"}, {"status", "status"},
    };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        cli__print_field(c, fields[i][0], cli__json_str(e, fields[i][1]));
    }
    contact_print(c, json_object_get(e, "contact"));
    cli__print_field(c, "public key", cli__json_str(e, "public_key"));
    specialities_print(c, json_object_get(e, "specialities"));
    cli__print_field(c, "created at", cli__json_str(e, "created_at"));
    cli__print_field(c, "updated at", cli__json_str(e, "updated_at"));
    cli__print_field_int(c, "log index", e, "log_index");
    certificates_print(c, json_object_get(e, "certificates"));
    history_print(c, json_object_get(e, "history"));
}

static void entity_print_brief(struct cli *c, const json_t *e)
{
    cli__print_field(c, "entity", cli__json_str(e, "id"));
    cli__print_field(c, "status", cli__json_str(e, "status"));
}

/* ---- entity apply ---- */

/* The public key from --public-key or --public-key-file, as canonical base64. */
static int apply_public_key(struct cli *c, const struct cli_command *cmd, const struct cli_args *a,
                            char out[CLI_KEY_B64_LEN + 1])
{
    const char *text = cli__arg(a, "public-key");
    const char *file = cli__arg(a, "public-key-file");
    if (text != NULL && file != NULL) {
        return cli__usage_error(c, cmd, "give only one of --public-key and --public-key-file");
    }
    if (text == NULL && file == NULL) {
        return cli__usage_error(c, cmd, "missing --public-key or --public-key-file");
    }
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = text != NULL ? cli_key_public_decode(text, strlen(text), pk, &err)
                               : cli_key_load_public(file, pk, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    cli_key_encode(pk, out);
    return CLI_EXIT_OK;
}

static enum err apply_specialities(json_t *body, const struct cli_args *a)
{
    json_t *list = json_array();
    if (list == NULL || json_object_set_new(body, "specialities", list) != 0) {
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < a->item_count; i++) {
        if (strcmp(a->items[i].option->name, "speciality") == 0 &&
            json_array_append_new(list, json_string(a->items[i].value)) != 0) {
            return ERR_NOMEM;
        }
    }
    return ERR_OK;
}

/* Builds {"kind","name","uscc","country","contact":{...},"public_key","specialities"}. */
static enum err apply_body_build(const struct cli_args *a, const char *public_key, json_t *body)
{
    static const char *const plain[][2] = {
        {"kind", "kind"}, {"name", "name"}, {"uscc", "uscc"}, {"country", "country"}};
    static const char *const contact_fields[][2] = {
        {"name", "contact-name"}, {"email", "contact-email"}, {"phone", "contact-phone"}};
    for (size_t i = 0; i < ARRAY_LEN(plain); i++) {
        if (cli__json_put(body, plain[i][0], cli__arg(a, plain[i][1])) != ERR_OK) {
            return ERR_NOMEM;
        }
    }
    json_t *contact = json_object();
    if (contact == NULL || json_object_set_new(body, "contact", contact) != 0) {
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < ARRAY_LEN(contact_fields); i++) {
        if (cli__json_put(contact, contact_fields[i][0], cli__arg(a, contact_fields[i][1])) !=
            ERR_OK) {
            return ERR_NOMEM;
        }
    }
    if (cli__json_put(body, "public_key", public_key) != ERR_OK) {
        return ERR_NOMEM;
    }
    if (strcmp(cli__arg(a, "kind"), "service_firm") == 0) {
        return apply_specialities(body, a);
    }
    return ERR_OK;
}

/* Checks what the option table cannot, then builds the body into *out. */
static int apply_prepare(struct cli *c, const struct cli_command *cmd, const struct cli_args *a,
                         json_t **out)
{
    if (cli__arg_given(a, "speciality") && strcmp(cli__arg(a, "kind"), "service_firm") != 0) {
        return cli__usage_error(c, cmd, "--speciality is only for --kind service_firm");
    }
    char public_key[CLI_KEY_B64_LEN + 1];
    int code = apply_public_key(c, cmd, a, public_key);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    const char *save_to = cli__arg(a, "save-key");
    struct errbuf err;
    errbuf_init(&err);
    if (save_to != NULL && cli__file_absent(save_to, &err) != ERR_OK) {
        cli__error(c, "--save-key: %s", err.msg);
        return CLI_EXIT_CONFLICT;
    }
    json_t *body = json_object();
    if (body == NULL || apply_body_build(a, public_key, body) != ERR_OK) {
        json_decref(body);
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    *out = body;
    return CLI_EXIT_OK;
}

static int entity_apply(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    json_t *body = NULL;
    struct errbuf err;
    errbuf_init(&err);
    struct cli_response resp;
    cli__response_init(&resp);
    int code = apply_prepare(c, cmd, a, &body);
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    enum err rc = cli__request(c, "POST", "/v1/entities", body, &resp, &err);
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
    code = cli__api_key_deliver(c, resp.json, json_object_get(resp.json, "api_key"),
                                cli__arg(a, "save-key"), entity_print_brief);
out:
    json_decref(body);
    cli__response_release(&resp);
    return code;
}

/* ---- entity list ---- */

/* "/v1/entities?kind=...&..." from the filters given, and the cursor of the page wanted. */
static enum err list_path(const struct cli_args *a, const char *cursor, struct buf *path)
{
    static const char *const params[] = {"kind", "status", "country", "q", "limit"};
    char sep = '?';
    enum err rc = buf_append_str(path, "/v1/entities");
    for (size_t i = 0; rc == ERR_OK && i <= ARRAY_LEN(params); i++) {
        const char *name = i < ARRAY_LEN(params) ? params[i] : "cursor";
        const char *value = i < ARRAY_LEN(params) ? cli__arg(a, name) : cursor;
        if (value == NULL) {
            continue;
        }
        rc = buf_appendf(path, "%c%s=", sep, name);
        if (rc == ERR_OK) {
            rc = cli__url_escape_append(path, value);
        }
        sep = '&';
    }
    return rc;
}

static void list_rows(struct cli *c, const json_t *items, size_t *shown)
{
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *e = json_array_get(items, i);
        if (*shown == 0) {
            fprintf(c->out, "%-*s%-*s%-*s%-*s%s\n", LIST_ID_WIDTH, "ID", LIST_KIND_WIDTH, "KIND",
                    LIST_STATUS_WIDTH, "STATUS", LIST_COUNTRY_WIDTH, "COUNTRY", "NAME");
        }
        cli__print_cell(c->out, cli__json_str(e, "id"), LIST_ID_WIDTH);
        cli__print_cell(c->out, cli__json_str(e, "kind"), LIST_KIND_WIDTH);
        cli__print_cell(c->out, cli__json_str(e, "status"), LIST_STATUS_WIDTH);
        cli__print_cell(c->out, cli__json_str(e, "country"), LIST_COUNTRY_WIDTH);
        cli__print_text(c->out, cli__json_str(e, "name"));
        fputc('\n', c->out);
        (*shown)++;
    }
}

/* State of `entity list` across pages. */
struct list_state {
    int follow;   /* --all */
    json_t *all;  /* items gathered for --json --all, else NULL */
    char *cursor; /* of the next page; owned */
    size_t shown; /* rows printed */
    int done;
};

/* Handles one page's answer: prints or gathers its items and moves the cursor on. */
static int list_page(struct cli *c, const struct cli_response *resp, struct list_state *st)
{
    json_t *items = json_object_get(resp->json, "items");
    if (!json_is_array(items)) {
        cli__error(c, "the server's answer has no list of items");
        return CLI_EXIT_FAILURE;
    }
    const char *next = cli__json_str(resp->json, "next_cursor");
    if (!st->follow) {
        if (c->json) {
            cli__print_body(c, resp);
        } else {
            list_rows(c, items, &st->shown);
            fputs(st->shown == 0 ? "no entities\n" : "", c->out);
            if (next != NULL) {
                fputs("next cursor: ", c->out);
                cli__print_text(c->out, next);
                fputs(" (use --cursor, or --all for every page)\n", c->out);
            }
        }
        st->done = 1;
        return CLI_EXIT_OK;
    }
    if (st->all != NULL && json_array_extend(st->all, items) != 0) {
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    if (st->all == NULL) {
        list_rows(c, items, &st->shown);
    }
    if (next == NULL || next[0] == '\0') {
        st->done = 1;
        return CLI_EXIT_OK;
    }
    if (st->cursor != NULL && strcmp(st->cursor, next) == 0) {
        cli__error(c, "the server returned the same cursor twice");
        return CLI_EXIT_FAILURE;
    }
    mem_free(st->cursor);
    st->cursor = mem_strdup(next);
    if (st->cursor == NULL) {
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

/* Prints the end of an --all listing. */
static int list_finish(struct cli *c, struct list_state *st)
{
    if (st->all == NULL) {
        fputs(st->shown == 0 ? "no entities\n" : "", c->out);
        return CLI_EXIT_OK;
    }
    json_t *doc = json_object();
    if (doc == NULL || json_object_set(doc, "items", st->all) != 0 ||
        json_object_set_new(doc, "next_cursor", json_null()) != 0) {
        json_decref(doc);
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    cli__json_print(c, doc);
    json_decref(doc);
    return CLI_EXIT_OK;
}

static int list_fetch(struct cli *c, const struct cli_args *a, struct list_state *st)
{
    struct errbuf err;
    errbuf_init(&err);
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    struct cli_response resp;
    cli__response_init(&resp);
    int code = CLI_EXIT_FAILURE;
    if (list_path(a, st->cursor, &path) != ERR_OK) {
        cli__error(c, "the list filters are too long");
        goto out;
    }
    enum err rc = cli__request(c, "GET", path.data, NULL, &resp, &err);
    code = cli__response_check(c, rc, &err, &resp);
    if (code == CLI_EXIT_OK) {
        code = list_page(c, &resp, st);
    }
out:
    buf_release(&path);
    cli__response_release(&resp);
    return code;
}

static int entity_list(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    struct list_state st = {cli__arg_given(a, "all"), NULL, NULL, 0, 0};
    int code = CLI_EXIT_OK;
    const char *first = cli__arg(a, "cursor");
    if (first != NULL) {
        st.cursor = mem_strdup(first);
    }
    if (st.follow && c->json) {
        st.all = json_array();
    }
    if ((first != NULL && st.cursor == NULL) || (st.follow && c->json && st.all == NULL)) {
        cli__error(c, "out of memory");
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    for (long page = 0; code == CLI_EXIT_OK && !st.done; page++) {
        if (page == CLI_PAGES_MAX) {
            cli__error(c, "stopped after %d pages", CLI_PAGES_MAX);
            code = CLI_EXIT_FAILURE;
            break;
        }
        code = list_fetch(c, a, &st);
    }
    if (code == CLI_EXIT_OK && st.follow) {
        code = list_finish(c, &st);
    }
out:
    mem_free(st.cursor);
    json_decref(st.all);
    return code;
}

/* ---- entity show, review ---- */

static int entity_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/entities/", a->positional[0]};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__path(&path, parts, ARRAY_LEN(parts)) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, "GET", path.data, NULL, entity_print);
    }
    buf_release(&path);
    return code;
}

static int entity_review(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    const char *decision = cmd->preset != NULL ? cmd->preset : cli__arg(a, "decision");
    ASSERT(decision != NULL); /* required unless preset */
    const char *parts[] = {"/v1/entities/", a->positional[0], "/review"};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    json_t *body = json_object();
    int code = CLI_EXIT_FAILURE;
    if (body == NULL || cli__json_put(body, "decision", decision) != ERR_OK ||
        cli__json_put(body, "reason", cli__arg(a, "reason")) != ERR_OK ||
        cli__path(&path, parts, ARRAY_LEN(parts)) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, "POST", path.data, body, entity_print_brief);
    }
    json_decref(body);
    buf_release(&path);
    return code;
}

/* ---- the table ---- */

static const char *const one_id[] = {"ID", NULL};

static const struct cli_option apply_options[] = {
    {"kind", CLI_OPT_VALUE | CLI_OPT_REQUIRED, cli__entity_kinds, NULL},
    {"name", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"uscc", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"country", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, cli__check_country},
    {"contact-name", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"contact-email", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, cli__check_email},
    {"contact-phone", CLI_OPT_VALUE, NULL, NULL},
    {"public-key", CLI_OPT_VALUE, NULL, cli__check_public_key},
    {"public-key-file", CLI_OPT_VALUE, NULL, NULL},
    {"speciality", CLI_OPT_VALUE | CLI_OPT_REPEAT, NULL, NULL},
    {"save-key", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option list_options[] = {
    {"kind", CLI_OPT_VALUE, cli__entity_kinds, NULL},
    {"status", CLI_OPT_VALUE, cli__entity_statuses, NULL},
    {"country", CLI_OPT_VALUE, NULL, cli__check_country},
    {"q", CLI_OPT_VALUE, NULL, NULL},
    {"limit", CLI_OPT_VALUE, NULL, cli__check_limit},
    {"cursor", CLI_OPT_VALUE, NULL, NULL},
    {"all", 0, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option review_options[] = {
    {"decision", CLI_OPT_VALUE | CLI_OPT_REQUIRED, review_decisions, NULL},
    {"reason", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option shortcut_options[] = {
    {"reason", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__entity_commands[] = {
    {"entity", "apply", entity_apply, NULL, apply_options, NULL, 0,
     "--kind KIND --name NAME --uscc USCC --country CC --contact-name NAME --contact-email EMAIL "
     "[--contact-phone PHONE] (--public-key B64 | --public-key-file FILE.pub) "
     "[--speciality S]... [--save-key FILE]",
     "apply to register an organisation; prints its first API key secret once"},
    {"entity", "list", entity_list, NULL, list_options, NULL, 0,
     "[--kind KIND] [--status STATUS] [--country CC] [--q TEXT] [--limit N] [--cursor C] [--all]",
     "list entities, one page or --all"},
    {"entity", "show", entity_show, NULL, NULL, one_id, 0, "ID",
     "show an entity with its certificates and history"},
    {"entity", "review", entity_review, NULL, review_options, one_id, 0,
     "ID --decision verify|reject|suspend|reinstate [--reason TEXT]",
     "record the operator's decision on an entity"},
    {"entity", "verify", entity_review, "verify", shortcut_options, one_id, 0, "ID [--reason TEXT]",
     "same as review --decision verify"},
    {"entity", "reject", entity_review, "reject", shortcut_options, one_id, 0, "ID [--reason TEXT]",
     "same as review --decision reject"},
    {"entity", "suspend", entity_review, "suspend", shortcut_options, one_id, 0,
     "ID [--reason TEXT]", "same as review --decision suspend"},
    {"entity", "reinstate", entity_review, "reinstate", shortcut_options, one_id, 0,
     "ID [--reason TEXT]", "same as review --decision reinstate"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
