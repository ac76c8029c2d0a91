/*
 * contract.c: `bourse contract ...` and `bourse dispute ...` (design §2 steps 7, 8 and 13).
 *
 * `contract sign` is the point of the whole design: the party's key never leaves its machine.
 * It fetches the contract and its document, checks that the document's SHA-256 is the one the
 * contract names (so the server cannot show one text and record another), that the document
 * is this contract's and names the signer's public key as a party, shows the terms (or prints
 * the document with --json), signs the exact bytes locally and posts only the signature.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static int call_parts(struct cli *c, const char *method, const char *const *parts, size_t count,
                      const json_t *body, cli_render_fn *render)
{
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__path(&path, parts, count) != ERR_OK) {
        cli__error(c, "out of memory");
    } else {
        code = cli__call(c, method, path.data, body, render);
    }
    buf_release(&path);
    return code;
}

static void money_field(struct cli *c, const char *label, const json_t *obj, const char *key,
                        const char *currency)
{
    char v[64];
    const json_t *n = json_object_get(obj, key);
    snprintf(v, sizeof(v), "%lld %s", (long long)json_integer_value(n),
             currency != NULL ? currency : "");
    cli__print_field(c, label, json_is_integer(n) ? v : NULL);
}

/* ---- rendering ---- */

static void contract_print(struct cli *c, const json_t *k)
{
    const char *cur = cli__json_str(k, "currency");
    cli__print_field(c, "contract", cli__json_str(k, "id"));
    cli__print_field(c, "state", cli__json_str(k, "state"));
    cli__print_field(c, "listing", cli__json_str(k, "listing_id"));
    cli__print_field(c, "provider", cli__json_str(k, "provider_id"));
    cli__print_field(c, "buyer", cli__json_str(k, "buyer_id"));
    cli__print_field(c, "plan", cli__json_str(k, "plan"));
    money_field(c, "price", k, "price", cur);
    cli__print_field_int(c, "periods", k, "periods");
    cli__print_field(c, "delivery", cli__json_str(k, "delivery"));
    cli__print_field(c, "document sha256", cli__json_str(k, "document_sha256"));
    cli__print_field(c, "sign by", cli__json_str(k, "signing_deadline"));
    const json_t *sigs = json_object_get(k, "signatures");
    for (size_t i = 0; i < json_array_size(sigs); i++) {
        const json_t *s = json_array_get(sigs, i);
        char label[32];
        snprintf(label, sizeof(label), "signed (%s)", cli__json_str(s, "role"));
        cli__print_field(c, label, cli__json_str(s, "signed_at"));
    }
    if (json_is_object(json_object_get(k, "countersignature"))) {
        cli__print_field(c, "countersigned", cli__json_str(k, "activated_at"));
    }
    if (cli__json_str(k, "accept_by") != NULL) {
        cli__print_field(c, "accept by", cli__json_str(k, "accept_by"));
    }
    if (cli__json_str(k, "note") != NULL) {
        cli__print_field(c, "note", cli__json_str(k, "note"));
    }
    const json_t *problem = json_object_get(k, "problem");
    if (problem != NULL) {
        cli__print_field(c, "problem", cli__json_str(problem, "detail"));
    }
}

static void contract_row(struct cli *c, const json_t *k)
{
    cli__print_cell(c->out, cli__json_str(k, "id"), 26);
    cli__print_cell(c->out, cli__json_str(k, "state"), 12);
    char price[48];
    snprintf(price, sizeof(price), "%lld %s",
             (long long)json_integer_value(json_object_get(k, "price")),
             cli__json_str(k, "currency") != NULL ? cli__json_str(k, "currency") : "");
    cli__print_cell(c->out, price, 18);
    cli__print_cell(c->out, cli__json_str(k, "provider_id"), 26);
    cli__print_text(c->out, cli__json_str(k, "buyer_id"));
    fputc('\n', c->out);
}

static void dispute_print(struct cli *c, const json_t *d)
{
    cli__print_field(c, "dispute", cli__json_str(d, "id"));
    cli__print_field(c, "contract", cli__json_str(d, "contract_id"));
    cli__print_field(c, "status", cli__json_str(d, "status"));
    cli__print_field(c, "opened by", cli__json_str(d, "opened_by"));
    cli__print_field(c, "statement", cli__json_str(d, "statement"));
    const json_t *ev = json_object_get(d, "evidence");
    for (size_t i = 0; i < json_array_size(ev); i++) {
        char v[128];
        const json_t *e = json_array_get(ev, i);
        snprintf(v, sizeof(v), "log entry %lld, leaf %s",
                 (long long)json_integer_value(json_object_get(e, "index")),
                 cli__json_str(e, "leaf_hash") != NULL ? cli__json_str(e, "leaf_hash") : "");
        cli__print_field(c, "evidence", v);
    }
    cli__print_field(c, "arbitrator", cli__json_str(d, "arbitrator_id"));
    cli__print_field(c, "decision", cli__json_str(d, "decision"));
    if (cli__json_str(d, "decision") != NULL) {
        cli__print_field_int(c, "provider amount", d, "provider_amount");
        cli__print_field(c, "reason", cli__json_str(d, "reason"));
    }
}

/* ---- contract commands ---- */

static int contract_list(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    static const char *const pairs[] = {"state", "state", "limit", "limit", "cursor", "cursor"};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    int code = CLI_EXIT_FAILURE;
    if (cli__query_path(&path, "/v1/contracts", pairs, ARRAY_LEN(pairs), a) != ERR_OK) {
        cli__error(c, "the list filters are too long");
    } else {
        code = cli__list_call(c, path.data, contract_row,
                              "ID                        STATE       PRICE             PROVIDER  "
                              "                BUYER",
                              "no contracts");
    }
    buf_release(&path);
    return code;
}

static int contract_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/contracts/", a->positional[0]};
    return call_parts(c, "GET", parts, ARRAY_LEN(parts), NULL, contract_print);
}

/* GETs /v1/contracts/{id}[suffix] into resp; returns the exit code (CLI_EXIT_OK on 2xx). */
static int get_contract_part(struct cli *c, const char *id, const char *suffix,
                             struct cli_response *resp)
{
    const char *parts[] = {"/v1/contracts/", id, suffix};
    struct buf path;
    buf_init(&path, CLI_PATH_BYTES_MAX);
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = cli__path(&path, parts, ARRAY_LEN(parts));
    if (rc == ERR_OK) {
        rc = cli__request(c, "GET", path.data, NULL, resp, &err);
    } else {
        err_set(&err, rc, "", "out of memory");
    }
    buf_release(&path);
    return cli__response_check(c, rc, &err, resp);
}

static int contract_document(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    struct cli_response resp;
    cli__response_init(&resp);
    int code = get_contract_part(c, a->positional[0], "/document", &resp);
    if (code == CLI_EXIT_OK) {
        fwrite(resp.raw.data, 1, resp.raw.len, c->out);
        fputc('\n', c->out);
    }
    cli__response_release(&resp);
    return code;
}

/* Checks what is about to be signed; prints why not and returns 0 when it must not be. */
static int document_check(struct cli *c, const char *id, const json_t *contract,
                          const struct buf *doc, const char *pk_b64)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    crypto_hash_sha256(h, (const unsigned char *)doc->data, doc->len);
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    const char *want = cli__json_str(contract, "document_sha256");
    if (want == NULL || strcmp(want, hex) != 0) {
        cli__error(c, "the document's sha256 %s is not the contract's %s: not signing", hex,
                   want != NULL ? want : "(none)");
        return 0;
    }
    json_t *d = json_loadb(doc->data, doc->len, 0, NULL);
    const json_t *parties = json_object_get(d, "parties");
    const char *buyer = cli__json_str(json_object_get(parties, "buyer"), "public_key");
    const char *provider = cli__json_str(json_object_get(parties, "provider"), "public_key");
    int ours = (buyer != NULL && strcmp(buyer, pk_b64) == 0) ||
               (provider != NULL && strcmp(provider, pk_b64) == 0);
    int same = cli__json_str(d, "id") != NULL && strcmp(cli__json_str(d, "id"), id) == 0;
    json_decref(d);
    if (!same) {
        cli__error(c, "the document is not contract '%s': not signing", id);
        return 0;
    }
    if (!ours) {
        cli__error(c, "the key's public key is neither party's in the document: not signing");
        return 0;
    }
    return 1;
}

static void terms_print(struct cli *c, const struct buf *doc)
{
    json_t *d = json_loadb(doc->data, doc->len, 0, NULL);
    const json_t *lic = json_object_get(d, "licence");
    const json_t *pay = json_object_get(d, "payment");
    const json_t *parties = json_object_get(d, "parties");
    cli__print_field(c, "provider", cli__json_str(json_object_get(parties, "provider"), "name"));
    cli__print_field(c, "buyer", cli__json_str(json_object_get(parties, "buyer"), "name"));
    cli__print_field(c, "product", cli__json_str(json_object_get(d, "product"), "title"));
    cli__print_field(c, "purpose", cli__json_str(lic, "purpose"));
    cli__print_field_int(c, "term (days)", lic, "term_days");
    cli__print_field(c, "redistribution", cli__json_str(lic, "redistribution"));
    cli__print_field(c, "exclusive",
                     json_is_true(json_object_get(lic, "exclusive")) ? "yes" : "no");
    money_field(c, "total price", d, "price", cli__json_str(d, "currency"));
    cli__print_field(c, "plan", cli__json_str(pay, "plan"));
    cli__print_field_int(c, "periods", pay, "periods");
    cli__print_field(c, "delivery", cli__json_str(d, "delivery"));
    cli__print_field_int(c, "accept within (days)", d, "acceptance_days");
    json_decref(d);
}

static int contract_sign(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *id = a->positional[0];
    unsigned char sk[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = cli_key_load(cli__arg(a, "signing-key"), sk, pk, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    char pk_b64[sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES,
                                          sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(pk_b64, sizeof(pk_b64), pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
    struct cli_response kresp, dresp;
    cli__response_init(&kresp);
    cli__response_init(&dresp);
    int code = get_contract_part(c, id, "", &kresp);
    if (code == CLI_EXIT_OK) {
        code = get_contract_part(c, id, "/document", &dresp);
    }
    if (code == CLI_EXIT_OK && !document_check(c, id, kresp.json, &dresp.raw, pk_b64)) {
        code = CLI_EXIT_FAILURE;
    }
    if (code == CLI_EXIT_OK) {
        if (!c->json) {
            terms_print(c, &dresp.raw);
        }
        unsigned char sig[crypto_sign_BYTES];
        crypto_sign_detached(sig, NULL, (const unsigned char *)dresp.raw.data, dresp.raw.len, sk);
        char sig_b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(sig_b64, sizeof(sig_b64), sig, sizeof(sig),
                          sodium_base64_VARIANT_ORIGINAL);
        json_t *body = json_pack("{s:s}", "signature", sig_b64);
        const char *parts[] = {"/v1/contracts/", id, "/signatures"};
        code = body != NULL ? call_parts(c, "POST", parts, ARRAY_LEN(parts), body, contract_print)
                            : CLI_EXIT_FAILURE;
        json_decref(body);
    }
    sodium_memzero(sk, sizeof(sk));
    cli__response_release(&kresp);
    cli__response_release(&dresp);
    return code;
}

/* POST /v1/contracts/{id}/<action> with an optional one-member body. */
static int contract_action(struct cli *c, const struct cli_args *a, const char *action,
                           const char *member, const char *option)
{
    json_t *body = json_object();
    if (body == NULL ||
        (member != NULL && cli__json_put(body, member, cli__arg(a, option)) != ERR_OK)) {
        json_decref(body);
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    const char *parts[] = {"/v1/contracts/", a->positional[0], action};
    int code = call_parts(c, "POST", parts, ARRAY_LEN(parts), body, contract_print);
    json_decref(body);
    return code;
}

static int contract_activate(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    return contract_action(c, a, "/activate", NULL, NULL);
}

static int contract_cancel(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    return contract_action(c, a, "/cancel", "reason", "reason");
}

static int contract_accept(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    return contract_action(c, a, "/accept", NULL, NULL);
}

static int contract_deliver(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    const char *sha = cli__arg(a, "sha256");
    char hex[65];
    if (cli__arg(a, "file") != NULL) {
        struct errbuf err;
        errbuf_init(&err);
        int64_t size = 0;
        enum err rc = cli__file_sha256(cli__arg(a, "file"), hex, &size, &err);
        if (rc != ERR_OK) {
            cli__error(c, "%s", err.msg);
            return cli__exit_from_err(rc);
        }
        sha = hex;
    }
    if (sha == NULL) {
        return cli__usage_error(c, cmd, "give --sha256 HEX or --file PATH");
    }
    json_t *body = json_pack("{s:s}", "sha256", sha);
    const char *parts[] = {"/v1/contracts/", a->positional[0], "/deliveries"};
    int code = body != NULL ? call_parts(c, "POST", parts, ARRAY_LEN(parts), body, contract_print)
                            : CLI_EXIT_FAILURE;
    json_decref(body);
    return code;
}

static int contract_reject(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    json_t *body = json_pack("{s:s}", "statement", cli__arg(a, "statement"));
    const char *parts[] = {"/v1/contracts/", a->positional[0], "/reject"};
    int code = body != NULL ? call_parts(c, "POST", parts, ARRAY_LEN(parts), body, dispute_print)
                            : CLI_EXIT_FAILURE;
    json_decref(body);
    return code;
}

/* ---- dispute commands ---- */

static int dispute_open(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    json_t *evidence = json_array();
    json_t *body =
        json_pack("{s:s, s:o}", "statement", cli__arg(a, "statement"), "evidence", evidence);
    if (body == NULL) {
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < a->item_count; i++) {
        if (strcmp(a->items[i].option->name, "evidence") != 0) {
            continue;
        }
        const char *v = a->items[i].value;
        long long index = 0;
        int ok = v[0] != '\0' && strlen(v) <= 18 && strspn(v, "0123456789") == strlen(v);
        for (const char *p = v; ok && *p != '\0'; p++) {
            index = index * 10 + (*p - '0');
        }
        if (!ok) {
            json_decref(body);
            return cli__usage_error(c, cmd, "--evidence takes a log index, not '%s'", v);
        }
        json_array_append_new(evidence, json_integer(index));
    }
    const char *parts[] = {"/v1/contracts/", a->positional[0], "/disputes"};
    int code = call_parts(c, "POST", parts, ARRAY_LEN(parts), body, dispute_print);
    json_decref(body);
    return code;
}

static int dispute_show(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *parts[] = {"/v1/disputes/", a->positional[0]};
    return call_parts(c, "GET", parts, ARRAY_LEN(parts), NULL, dispute_print);
}

static int dispute_assign(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    json_t *body = json_pack("{s:s}", "arbitrator", cli__arg(a, "arbitrator"));
    const char *parts[] = {"/v1/disputes/", a->positional[0], "/assign"};
    int code = body != NULL ? call_parts(c, "POST", parts, ARRAY_LEN(parts), body, dispute_print)
                            : CLI_EXIT_FAILURE;
    json_decref(body);
    return code;
}

static int dispute_decide(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    json_t *body = json_pack("{s:s, s:s}", "decision", cli__arg(a, "decision"), "reason",
                             cli__arg(a, "reason"));
    const char *amount = cli__arg(a, "provider-amount");
    if (body != NULL && amount != NULL) {
        long long v = 0;
        int ok = amount[0] != '\0' && strlen(amount) <= 18 &&
                 strspn(amount, "0123456789") == strlen(amount);
        for (const char *p = amount; ok && *p != '\0'; p++) {
            v = v * 10 + (*p - '0');
        }
        if (!ok) {
            json_decref(body);
            return cli__usage_error(c, cmd, "--provider-amount takes minor units, not '%s'",
                                    amount);
        }
        json_object_set_new(body, "provider_amount", json_integer(v));
    }
    const char *parts[] = {"/v1/disputes/", a->positional[0], "/decision"};
    int code = body != NULL ? call_parts(c, "POST", parts, ARRAY_LEN(parts), body, dispute_print)
                            : CLI_EXIT_FAILURE;
    json_decref(body);
    return code;
}

/* ---- tables ---- */

static const char *const id_arg[] = {"id", NULL};
static const char *const contract_states[] = {"proposed",  "signed_one", "signed_both", "active",
                                              "delivered", "settled",    "cancelled",   "expired",
                                              "suspended", "disputed",   "resolved",    NULL};
static const char *const decisions[] = {"release", "refund", "split", NULL};

static const struct cli_option list_opts[] = {
    {"state", CLI_OPT_VALUE, contract_states, NULL},
    {"limit", CLI_OPT_VALUE, NULL, cli__check_limit},
    {"cursor", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option no_opts[] = {{NULL, 0, NULL, NULL}};
static const struct cli_option sign_opts[] = {
    {"signing-key", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option cancel_opts[] = {
    {"reason", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option deliver_opts[] = {
    {"sha256", CLI_OPT_VALUE, NULL, NULL},
    {"file", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option reject_opts[] = {
    {"statement", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option open_opts[] = {
    {"statement", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"evidence", CLI_OPT_VALUE | CLI_OPT_REPEAT, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option assign_opts[] = {
    {"arbitrator", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};
static const struct cli_option decide_opts[] = {
    {"decision", CLI_OPT_VALUE | CLI_OPT_REQUIRED, decisions, NULL},
    {"provider-amount", CLI_OPT_VALUE, NULL, NULL},
    {"reason", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__contract_commands[] = {
    {"contract", "list", contract_list, NULL, list_opts, NULL, 0,
     "[--state STATE] [--limit N] [--cursor C]", "list your contracts (the operator: all)"},
    {"contract", "show", contract_show, NULL, no_opts, id_arg, 0, "ID",
     "show a contract, its signatures, countersignature and escrow"},
    {"contract", "document", contract_document, NULL, no_opts, id_arg, 0, "ID",
     "print the exact canonical document the parties sign"},
    {"contract", "sign", contract_sign, NULL, sign_opts, id_arg, 0, "ID --signing-key KEYFILE",
     "check the document, show its terms and sign it locally with your key"},
    {"contract", "activate", contract_activate, NULL, no_opts, id_arg, 0, "ID",
     "retry the escrow hold of a signed or suspended contract"},
    {"contract", "cancel", contract_cancel, NULL, cancel_opts, id_arg, 0, "ID [--reason TEXT]",
     "cancel a contract that is not active yet (a party)"},
    {"contract", "deliver", contract_deliver, NULL, deliver_opts, id_arg, 0,
     "ID (--sha256 HEX | --file PATH)", "record a delivery by its SHA-256 (the provider)"},
    {"contract", "accept", contract_accept, NULL, no_opts, id_arg, 0, "ID",
     "accept a delivery, settling the contract (the buyer)"},
    {"contract", "reject", contract_reject, NULL, reject_opts, id_arg, 0, "ID --statement TEXT",
     "reject a delivery, opening a dispute (the buyer)"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

const struct cli_command cli__dispute_commands[] = {
    {"dispute", "open", dispute_open, NULL, open_opts, id_arg, 0,
     "CONTRACT_ID --statement TEXT [--evidence LOG_INDEX]...",
     "open a dispute on an active or delivered contract (a party)"},
    {"dispute", "show", dispute_show, NULL, no_opts, id_arg, 0, "ID", "show a dispute"},
    {"dispute", "assign", dispute_assign, NULL, assign_opts, id_arg, 0, "ID --arbitrator ENTITY_ID",
     "assign an arbitrator (the operator)"},
    {"dispute", "decide", dispute_decide, NULL, decide_opts, id_arg, 0,
     "ID --decision release|refund|split [--provider-amount N] --reason TEXT",
     "decide a dispute; the decision moves the escrow (the arbitrator)"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
