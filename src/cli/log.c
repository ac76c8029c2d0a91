/*
 * log.c: `bourse log ...`, the client side of the transparency log (design §2 step 10). It
 * fetches the log's key, checkpoints, entries and proof files; verifies proofs offline from
 * files; watches the log as a monitor that alerts when it stops being append-only; and audits
 * the whole log against the exchange's database.
 *
 * Every hash, proof, note, checkpoint, tile, bundle and proof file is handled by tlog
 * (src/tlog/tlog.h): this file only moves bytes between the server, files and tlog, and says
 * what was verified or what failed. Whatever the server sends is untrusted. A checkpoint counts
 * only when its signature verifies under the key the user pinned with --log-key and its origin
 * is that key's name (Bourse's origin is its log key's name, docs/log-format.md §5). Where no
 * key is pinned, online commands fetch /log/key and say loudly that this proves nothing.
 *
 * Exit codes: any failed check (signature, proof, origin, index beyond the tree, malformed
 * evidence, a server whose answers disagree) is 1; a malformed --log-key is 6; the rest maps as
 * for every command. `watch` prints "ALERT: ..." on stderr and exits 1 when the log is forked,
 * rewritten or badly signed, and then never touches its state file.
 *
 * Watch state file (text, replaced atomically after every verified change):
 *   bourse/log-watch-state@v1\n
 *   key <verifier key>\n
 *   <the last verified signed checkpoint note, verbatim>
 * The note is verified again on every load, so a damaged state file is an error, not a pin.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "tlog/tlog.h"
#include "util/banned.h"

/* ---- limits ----------------------------------------------------------------------------- */

/* A verifier key file is one key line; room for blanks and a newline around it. */
#define LOG_KEY_FILE_BYTES_MAX (TLOG_VERIFIER_KEY_MAX + 64)
#define LOG_STATE_HEADER "bourse/log-watch-state@v1\n"
/* The watch state: its header, the key line and one signed note. */
#define LOG_STATE_BYTES_MAX (64 + TLOG_VERIFIER_KEY_MAX + TLOG_NOTE_MAX)
/* audit keeps every stored hash in memory, about 64 bytes a leaf: 2^24 leaves take 1 GiB. A
 * larger log needs an auditor with its own storage. */
#define LOG_AUDIT_LEAVES_MAX ((uint64_t)1 << 24)
#define LOG_WATCH_INTERVAL_DEFAULT_S 60u
/* A day: a monitor that looks less often than that is not watching. */
#define LOG_WATCH_INTERVAL_MAX_S 86400u
/* How often the watch loop's sleep looks at the stop flag. */
#define LOG_WATCH_TICK_NS 100000000L
#define LOG_HASH_B64_LEN 44
/* The longest decimal of a tree size, 2^63 - 1: 19 digits. */
#define LOG_NUMBER_DIGITS_MAX 19

_Static_assert(sodium_base64_ENCODED_LEN(TLOG_HASH_LEN, sodium_base64_VARIANT_ORIGINAL) ==
                   LOG_HASH_B64_LEN + 1,
               "a hash is 44 base64 characters and a NUL");
_Static_assert(TLOG_TILE_WIDTH <= CLI_LIST_LIMIT_MAX, "one page of /v1/events covers a bundle");
_Static_assert(TLOG_PROOF_FILE_MAX <= CLI_RESPONSE_BYTES_MAX, "a proof file fits a response");

/* ---- small helpers ---------------------------------------------------------------------- */

/* Parses a decimal index or size (no sign, no leading zeros) of at most TLOG_TREE_SIZE_MAX.
 * Errors: ERR_INVALID. */
static enum err number_parse(const char *s, uint64_t *out)
{
    ASSERT(s != NULL);
    ASSERT(out != NULL);
    size_t len = strlen(s);
    if (len == 0 || len > LOG_NUMBER_DIGITS_MAX || (s[0] == '0' && len > 1)) {
        return ERR_INVALID;
    }
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return ERR_INVALID;
        }
        n = n * 10 + (uint64_t)(s[i] - '0'); /* 19 digits cannot overflow 64 bits */
    }
    if (n > TLOG_TREE_SIZE_MAX) {
        return ERR_INVALID;
    }
    *out = n;
    return ERR_OK;
}

static enum err check_number(const char *option, const char *value, struct errbuf *err)
{
    uint64_t n = 0;
    if (number_parse(value, &n) != ERR_OK) {
        return err_set(err, ERR_INVALID, option,
                       "--%s must be a whole number from 0 to 2^63-1 (got '%s')", option, value);
    }
    return ERR_OK;
}

static enum err check_interval(const char *option, const char *value, struct errbuf *err)
{
    uint64_t n = 0;
    if (number_parse(value, &n) != ERR_OK || n < 1 || n > LOG_WATCH_INTERVAL_MAX_S) {
        return err_set(err, ERR_INVALID, option, "--%s must be 1 to %u seconds (got '%s')", option,
                       LOG_WATCH_INTERVAL_MAX_S, value);
    }
    return ERR_OK;
}

/* The value of a number option the parser already checked, or dflt when absent. */
static uint64_t arg_number(const struct cli_args *a, const char *name, uint64_t dflt)
{
    const char *value = cli__arg(a, name);
    uint64_t n = dflt;
    if (value != NULL) {
        enum err rc = number_parse(value, &n);
        ASSERT(rc == ERR_OK); /* check_number ran on it */
    }
    return n;
}

static void hash_b64(const uint8_t hash[TLOG_HASH_LEN], char out[LOG_HASH_B64_LEN + 1])
{
    sodium_bin2base64(out, LOG_HASH_B64_LEN + 1, hash, TLOG_HASH_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
}

/* Decodes a canonical base64 hash. Errors: ERR_INVALID. */
static enum err hash_decode(const char *text, uint8_t out[TLOG_HASH_LEN])
{
    ASSERT(text != NULL);
    size_t bin_len = 0;
    const char *end = NULL;
    size_t len = strlen(text);
    if (len != LOG_HASH_B64_LEN ||
        sodium_base642bin(out, TLOG_HASH_LEN, text, len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text + len || bin_len != TLOG_HASH_LEN) {
        return ERR_INVALID;
    }
    char again[LOG_HASH_B64_LEN + 1];
    hash_b64(out, again);
    return strcmp(again, text) == 0 ? ERR_OK : ERR_INVALID; /* unused bits must be zero */
}

/* Length of s[0..len) without blanks at either end; *start skips the leading ones. */
static size_t trim(const char *s, size_t len, size_t *start)
{
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", s[i]) != NULL) {
        i++;
    }
    while (len > i && strchr(" \t\r\n", s[len - 1]) != NULL) {
        len--;
    }
    *start = i;
    return len - i;
}

/* Prints data[0..len) line by line with control characters replaced, so that text from the
 * server cannot drive the terminal; a well-formed note comes out byte for byte. */
static int lines_print(struct cli *c, const char *data, size_t len)
{
    size_t at = 0;
    while (at < len) {
        const char *nl = memchr(data + at, '\n', len - at);
        size_t line_len = nl != NULL ? (size_t)(nl - (data + at)) : len - at;
        char *line = mem_strndup(data + at, line_len);
        if (line == NULL) {
            cli__error(c, "out of memory");
            return CLI_EXIT_FAILURE;
        }
        cli__print_text(c->out, line);
        fputc('\n', c->out);
        mem_free(line);
        at += line_len + 1;
    }
    return CLI_EXIT_OK;
}

/* When --out names a file, refuses early if it exists, before anything is fetched. */
static int out_absent(struct cli *c, const char *path)
{
    struct errbuf err;
    errbuf_init(&err);
    if (path != NULL && cli__file_absent(path, &err) != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return CLI_EXIT_CONFLICT;
    }
    return CLI_EXIT_OK;
}

/* Writes --out (mode 0644, created exclusively). */
static int out_write(struct cli *c, const char *path, const void *data, size_t len)
{
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = cli__file_create(path, 0644, data, len, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    return CLI_EXIT_OK;
}

/* Reads a file of evidence; a failure is reported and is exit 1. */
static int evidence_read(struct cli *c, const char *path, size_t max, char **data, size_t *len)
{
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = cli__file_read(path, max, data, len, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

/* ---- requests --------------------------------------------------------------------------- */

/* The body of a response; "" rather than NULL when it is empty. */
static const char *body_of(const struct cli_response *resp)
{
    return resp->raw.data != NULL ? resp->raw.data : "";
}

/* GETs path; on 2xx leaves the body in resp (freshly initialised by the caller) and returns
 * CLI_EXIT_OK, else prints why and returns the exit code. */
static int get(struct cli *c, const char *path, struct cli_response *resp)
{
    ASSERT(path != NULL && path[0] == '/');
    ASSERT(resp != NULL);
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = cli__request(c, "GET", path, NULL, resp, &err);
    return cli__response_check(c, rc, &err, resp);
}

/* GETs the path made by printf-style fmt. */
static int getf(struct cli *c, struct cli_response *resp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int getf(struct cli *c, struct cli_response *resp, const char *fmt, ...)
{
    char path[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    ASSERT(n > 0 && (size_t)n < sizeof(path)); /* paths here are a few numbers long */
    return get(c, path, resp);
}

/* ---- keys and checkpoints --------------------------------------------------------------- */

/* Parses --log-key: the key itself, or "@FILE" naming a file whose one line is the key.
 * Errors: ERR_INVALID (not a key), ERR_IO and ERR_LIMIT (the file), ERR_NOMEM. */
static enum err verifier_load(const char *arg, struct tlog_verifier *v, struct errbuf *err)
{
    ASSERT(arg != NULL);
    ASSERT(v != NULL);
    char *text = NULL;
    const char *s = arg;
    size_t len = strlen(arg);
    if (arg[0] == '@') {
        enum err rc = cli__file_read(arg + 1, LOG_KEY_FILE_BYTES_MAX, &text, &len, err);
        if (rc != ERR_OK) {
            return rc;
        }
        s = text;
    }
    size_t start = 0;
    len = trim(s, len, &start);
    struct errbuf why;
    errbuf_init(&why);
    enum err rc = tlog_verifier_parse(s + start, len, v, &why);
    mem_free(text);
    if (rc != ERR_OK) {
        return err_set(err, rc, "log-key", "--log-key is not a log verifier key: %s", why.msg);
    }
    return ERR_OK;
}

/* Fetches the server's own key from /log/key; text gets it in its canonical spelling. */
static int key_fetch(struct cli *c, struct tlog_verifier *v, char text[TLOG_VERIFIER_KEY_MAX])
{
    struct cli_response resp;
    cli__response_init(&resp);
    int code = get(c, "/log/key", &resp);
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    size_t start = 0;
    size_t len = trim(body_of(&resp), resp.raw.len, &start);
    struct errbuf why;
    errbuf_init(&why);
    if (tlog_verifier_parse(body_of(&resp) + start, len, v, &why) != ERR_OK) {
        cli__error(c, "the server's log key is malformed: %s", why.msg);
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    tlog_verifier_format(v, text);
out:
    cli__response_release(&resp);
    return code;
}

/*
 * The key to check against: --log-key, or else the key the server serves, with a warning that
 * such a key is not pinned (a server can sign anything with a key it chose). *pinned says which.
 */
static int key_resolve(struct cli *c, const struct cli_args *a, struct tlog_verifier *v,
                       int *pinned)
{
    const char *arg = cli__arg(a, "log-key");
    *pinned = arg != NULL;
    if (arg != NULL) {
        struct errbuf err;
        errbuf_init(&err);
        enum err rc = verifier_load(arg, v, &err);
        if (rc != ERR_OK) {
            cli__error(c, "%s", err.msg);
            return cli__exit_from_err(rc);
        }
        return CLI_EXIT_OK;
    }
    char text[TLOG_VERIFIER_KEY_MAX];
    int code = key_fetch(c, v, text);
    if (code == CLI_EXIT_OK) {
        fputs("warning: the log key was not pinned: using the one the server sent, '", c->errout);
        cli__print_text(c->errout, text);
        fputs("'; pass --log-key to check against a key you trust\n", c->errout);
    }
    return code;
}

/*
 * Opens a signed checkpoint note with v and checks that its origin is the key's name.
 * Errors: ERR_INVALID (malformed), ERR_CORRUPT (signature or origin), with what failed first.
 */
static enum err checkpoint_open(const char *note, size_t len, const struct tlog_verifier *v,
                                struct tlog_checkpoint *cp, struct errbuf *err)
{
    ASSERT(v != NULL);
    ASSERT(cp != NULL);
    struct errbuf why;
    errbuf_init(&why);
    struct tlog_checkpoint got = {.tree_size = 0};
    enum err rc = tlog_checkpoint_open(note, len, v, &got, &why);
    if (rc == ERR_CORRUPT) {
        return err_set(err, rc, "signature", "signature: %s", why.msg);
    }
    if (rc != ERR_OK) {
        return err_set(err, rc, "checkpoint", "checkpoint: %s", why.msg);
    }
    if (strcmp(got.origin, v->name) != 0) {
        return err_set(err, ERR_CORRUPT, "origin",
                       "origin mismatch: the checkpoint is of '%.80s', the key of '%.80s'",
                       got.origin, v->name);
    }
    *cp = got;
    return ERR_OK;
}

/*
 * Verifies the inclusion proof file data[0..len) for leaf_hash under v: the checkpoint's
 * signature and origin, the index below its size, then the proof (tlog_inclusion_file_verify,
 * which checks all of it again). Fills *index and *cp. Errors: ERR_INVALID, ERR_CORRUPT.
 */
static enum err inclusion_verify(const char *data, size_t len, const struct tlog_verifier *v,
                                 const uint8_t leaf_hash[TLOG_HASH_LEN], uint64_t *index,
                                 struct tlog_checkpoint *cp, struct errbuf *err)
{
    struct errbuf why;
    errbuf_init(&why);
    struct tlog_proof_file file = {.index = 0};
    enum err rc = tlog_inclusion_file_parse(data, len, &file, &why);
    if (rc != ERR_OK) {
        return err_set(err, rc, "proof", "malformed inclusion proof file: %s", why.msg);
    }
    struct tlog_checkpoint got = {.tree_size = 0};
    rc = checkpoint_open(file.checkpoint, file.checkpoint_len, v, &got, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (file.index >= got.tree_size) {
        return err_set(err, ERR_CORRUPT, "index",
                       "index beyond size: entry %" PRIu64 " is not in a tree of %" PRIu64
                       " entries",
                       file.index, got.tree_size);
    }
    rc = tlog_inclusion_file_verify(data, len, v, leaf_hash, &got, &why);
    if (rc != ERR_OK) {
        return err_set(err, rc, "proof", "proof: %s", why.msg);
    }
    *index = file.index;
    *cp = got;
    return ERR_OK;
}

/*
 * Verifies the consistency proof file data[0..len) under v against old, a checkpoint already
 * trusted: the new checkpoint's signature and origin, the sizes, then the proof
 * (tlog_consistency_file_verify). Fills *cp with the new checkpoint.
 * Errors: ERR_INVALID, ERR_CORRUPT.
 */
static enum err consistency_verify(const char *data, size_t len, const struct tlog_verifier *v,
                                   const struct tlog_checkpoint *old, struct tlog_checkpoint *cp,
                                   struct errbuf *err)
{
    struct errbuf why;
    errbuf_init(&why);
    struct tlog_proof_file file = {.index = 0};
    enum err rc = tlog_consistency_file_parse(data, len, &file, &why);
    if (rc != ERR_OK) {
        return err_set(err, rc, "proof", "malformed consistency proof file: %s", why.msg);
    }
    struct tlog_checkpoint got = {.tree_size = 0};
    rc = checkpoint_open(file.checkpoint, file.checkpoint_len, v, &got, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (got.tree_size < old->tree_size) {
        return err_set(err, ERR_CORRUPT, "size",
                       "the new checkpoint has %" PRIu64
                       " entries, fewer than the old one's %" PRIu64,
                       got.tree_size, old->tree_size);
    }
    if (file.index != old->tree_size) {
        return err_set(err, ERR_CORRUPT, "proof",
                       "proof: it starts at size %" PRIu64 " but the old checkpoint has %" PRIu64
                       " entries",
                       file.index, old->tree_size);
    }
    rc = tlog_consistency_file_verify(data, len, v, old, &got, &why);
    if (rc != ERR_OK) {
        return err_set(err, rc, "proof", "proof: %s", why.msg);
    }
    *cp = got;
    return ERR_OK;
}

/* ---- rendering -------------------------------------------------------------------------- */

static void checkpoint_print(struct cli *c, const struct tlog_checkpoint *cp)
{
    char root[LOG_HASH_B64_LEN + 1];
    char size[24];
    hash_b64(cp->root_hash, root);
    snprintf(size, sizeof(size), "%" PRIu64, cp->tree_size);
    cli__print_field(c, "origin", cp->origin);
    cli__print_field(c, "tree size", size);
    cli__print_field(c, "root hash", root);
}

/* Prints what was verified: `kind` for scripts (inclusion, consistency, checkpoint) and
 * `detail` for people, then the checkpoint it was verified against. */
static int verified_print(struct cli *c, const char *kind, const char *detail,
                          const struct tlog_checkpoint *cp)
{
    if (!c->json) {
        cli__print_field(c, "verified", detail);
        checkpoint_print(c, cp);
        return CLI_EXIT_OK;
    }
    char root[LOG_HASH_B64_LEN + 1];
    hash_b64(cp->root_hash, root);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s}", "verified", kind, "detail", detail, "origin",
                          cp->origin, "tree_size", (json_int_t)cp->tree_size, "root_hash", root);
    if (o == NULL) {
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    cli__json_print(c, o);
    json_decref(o);
    return CLI_EXIT_OK;
}

/* ---- log key, log checkpoint ------------------------------------------------------------ */

static int log_key(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *out = cli__arg(a, "out");
    int code = out_absent(c, out);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    struct tlog_verifier v = {.key_hash = 0};
    char text[TLOG_VERIFIER_KEY_MAX + 1];
    code = key_fetch(c, &v, text);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    size_t len = strlen(text);
    if (out != NULL) {
        text[len] = '\n';
        code = out_write(c, out, text, len + 1);
        text[len] = '\0';
    }
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (c->json) {
        json_t *o = json_pack("{s:s, s:s}", "verifier_key", text, "origin", v.name);
        if (o == NULL) {
            cli__error(c, "out of memory");
            return CLI_EXIT_FAILURE;
        }
        cli__json_print(c, o);
        json_decref(o);
    } else if (out != NULL) {
        cli__print_field(c, "log key", text);
        fprintf(c->out, "written to '%s'\n", out);
    } else {
        cli__print_text(c->out, text);
        fputc('\n', c->out);
    }
    return CLI_EXIT_OK;
}

/* Renders `log checkpoint`: the note as is (so that stdout is the note), or JSON. */
static int checkpoint_render(struct cli *c, const struct cli_response *resp, const char *out,
                             const struct tlog_checkpoint *cp)
{
    if (c->json) {
        char root[LOG_HASH_B64_LEN + 1];
        json_t *o =
            json_pack("{s:s%, s:b}", "note", body_of(resp), resp->raw.len, "verified", cp != NULL);
        if (o != NULL && cp != NULL) {
            hash_b64(cp->root_hash, root);
            json_t *extra = json_pack("{s:s, s:I, s:s}", "origin", cp->origin, "tree_size",
                                      (json_int_t)cp->tree_size, "root_hash", root);
            if (extra == NULL || json_object_update(o, extra) != 0) {
                json_decref(o);
                o = NULL;
            }
            json_decref(extra);
        }
        if (o == NULL) {
            cli__error(c, "out of memory or a note that is not UTF-8");
            return CLI_EXIT_FAILURE;
        }
        cli__json_print(c, o);
        json_decref(o);
        return CLI_EXIT_OK;
    }
    if (out == NULL) {
        return lines_print(c, body_of(resp), resp->raw.len);
    }
    if (cp != NULL) {
        cli__print_field(c, "verified", "signature and origin");
        checkpoint_print(c, cp);
    }
    fprintf(c->out, "checkpoint written to '%s'\n", out);
    return CLI_EXIT_OK;
}

static int log_checkpoint(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *out = cli__arg(a, "out");
    int code = out_absent(c, out);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    struct tlog_verifier v = {.key_hash = 0};
    int pinned = 0;
    if (cli__arg_given(a, "log-key")) {
        code = key_resolve(c, a, &v, &pinned);
        if (code != CLI_EXIT_OK) {
            return code;
        }
    }
    struct cli_response resp;
    cli__response_init(&resp);
    code = get(c, "/log/checkpoint", &resp);
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    struct tlog_checkpoint cp = {.tree_size = 0};
    if (pinned) {
        struct errbuf err;
        errbuf_init(&err);
        if (checkpoint_open(body_of(&resp), resp.raw.len, &v, &cp, &err) != ERR_OK) {
            cli__error(c, "%s", err.msg);
            code = CLI_EXIT_FAILURE;
            goto out;
        }
    }
    if (out != NULL) {
        code = out_write(c, out, body_of(&resp), resp.raw.len);
    }
    if (code == CLI_EXIT_OK) {
        code = checkpoint_render(c, &resp, out, pinned ? &cp : NULL);
    }
out:
    cli__response_release(&resp);
    return code;
}

/* ---- log entry -------------------------------------------------------------------------- */

/* Checks that the entry's leaf hashes to the leaf_hash the server states, if it states one. */
static int entry_check(struct cli *c, const json_t *body, uint64_t index, const char **leaf,
                       size_t *leaf_len)
{
    const json_t *leaf_json = json_object_get(body, "leaf");
    const json_t *index_json = json_object_get(body, "index");
    if (!json_is_string(leaf_json) ||
        (index_json != NULL &&
         (!json_is_integer(index_json) || (uint64_t)json_integer_value(index_json) != index))) {
        cli__error(c, "the server's answer is not log entry %" PRIu64, index);
        return CLI_EXIT_FAILURE;
    }
    *leaf = json_string_value(leaf_json);
    *leaf_len = json_string_length(leaf_json);
    const char *stated = cli__json_str(body, "leaf_hash");
    uint8_t want[TLOG_HASH_LEN];
    uint8_t got[TLOG_HASH_LEN];
    tlog_leaf_hash(*leaf, *leaf_len, got);
    if (stated != NULL &&
        (hash_decode(stated, want) != ERR_OK || sodium_memcmp(want, got, TLOG_HASH_LEN) != 0)) {
        cli__error(c, "the server's leaf_hash of entry %" PRIu64 " does not match its leaf", index);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

static void entry_print(struct cli *c, const json_t *body, const char *leaf, const char *out)
{
    static const char *const fields[][2] = {
        {"type", "type"}, {"actor", "actor"},         {"subject", "subject"},
        {"time", "time"}, {"leaf hash", "leaf_hash"},
    };
    cli__print_field_int(c, "index", body, "index");
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        cli__print_field(c, fields[i][0], cli__json_str(body, fields[i][1]));
    }
    if (out != NULL) {
        fprintf(c->out, "leaf written to '%s'\n", out);
        return;
    }
    cli__print_field(c, "leaf", leaf);
}

static int log_entry(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    uint64_t index = 0;
    if (number_parse(a->positional[0], &index) != ERR_OK) {
        return cli__usage_error(c, cmd, "INDEX must be a whole number from 0 to 2^63-1 (got '%s')",
                                a->positional[0]);
    }
    const char *out = cli__arg(a, "out");
    int code = out_absent(c, out);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    struct cli_response resp;
    cli__response_init(&resp);
    code = getf(c, &resp, "/v1/log/entries/%" PRIu64, index);
    const char *leaf = NULL;
    size_t leaf_len = 0;
    if (code == CLI_EXIT_OK) {
        code = entry_check(c, resp.json, index, &leaf, &leaf_len);
    }
    if (code == CLI_EXIT_OK && out != NULL) {
        code = out_write(c, out, leaf, leaf_len);
    }
    if (code == CLI_EXIT_OK && c->json) {
        cli__print_body(c, &resp);
    } else if (code == CLI_EXIT_OK) {
        entry_print(c, resp.json, leaf, out);
    }
    cli__response_release(&resp);
    return code;
}

/* ---- log prove -------------------------------------------------------------------------- */

/* Checks that the downloaded proof file parses (it is verified later, offline). */
static int proof_file_check(struct cli *c, int inclusion, const struct cli_response *resp)
{
    struct errbuf why;
    errbuf_init(&why);
    struct tlog_proof_file file = {.index = 0};
    enum err rc = inclusion
                      ? tlog_inclusion_file_parse(body_of(resp), resp->raw.len, &file, &why)
                      : tlog_consistency_file_parse(body_of(resp), resp->raw.len, &file, &why);
    if (rc != ERR_OK) {
        cli__error(c, "the server's proof file is malformed: %s", why.msg);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

static int log_prove(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    int inclusion = cli__arg_given(a, "index");
    if (inclusion == cli__arg_given(a, "from")) {
        return cli__usage_error(c, cmd, "give one of --index (inclusion) and --from (consistency)");
    }
    if (inclusion ? cli__arg_given(a, "to") : cli__arg_given(a, "tree-size")) {
        return cli__usage_error(c, cmd, "--tree-size goes with --index, --to with --from");
    }
    const char *out = cli__arg(a, "out");
    int code = out_absent(c, out);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    const char *bound = cli__arg(a, inclusion ? "tree-size" : "to");
    char path[160];
    snprintf(path, sizeof(path), "/v1/log/proofs/%s?%s=%s%s%s%s&format=file",
             inclusion ? "inclusion" : "consistency", inclusion ? "index" : "from",
             cli__arg(a, inclusion ? "index" : "from"), bound == NULL ? "" : "&",
             bound == NULL ? "" : (inclusion ? "tree_size=" : "to="), bound == NULL ? "" : bound);
    struct cli_response resp;
    cli__response_init(&resp);
    code = get(c, path, &resp);
    if (code == CLI_EXIT_OK) {
        code = proof_file_check(c, inclusion, &resp);
    }
    if (code == CLI_EXIT_OK) {
        code = out_write(c, out, body_of(&resp), resp.raw.len);
    }
    if (code == CLI_EXIT_OK) {
        fprintf(c->out, "%s proof %s %s written to '%s'\n", inclusion ? "inclusion" : "consistency",
                inclusion ? "of entry" : "from size", cli__arg(a, inclusion ? "index" : "from"),
                out);
    }
    cli__response_release(&resp);
    return code;
}

/* ---- following the log: shared by verify --old-checkpoint and watch ---------------------- */

/*
 * Fetches the newest checkpoint, checks it under v and, when old is not NULL, that the log
 * only grew since old: the same size must have the same root, a larger one a consistency
 * proof (fetched as a file with the checkpoint at the new size) that verifies. Fills note
 * with the newest signed note and *cp. Returns CLI_EXIT_OK; or CLI_EXIT_FAILURE with *alert
 * set and the reason in why when the log fails a check; or the exit code of a failed request,
 * already reported, with *alert 0.
 */
static int log_advance(struct cli *c, const struct tlog_verifier *v,
                       const struct tlog_checkpoint *old, struct buf *note,
                       struct tlog_checkpoint *cp, int *alert, struct errbuf *why)
{
    ASSERT(note != NULL && note->len == 0);
    *alert = 0;
    struct cli_response resp;
    cli__response_init(&resp);
    int code = get(c, "/log/checkpoint", &resp);
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    if (checkpoint_open(body_of(&resp), resp.raw.len, v, cp, why) != ERR_OK) {
        goto alert;
    }
    if (buf_append(note, body_of(&resp), resp.raw.len) != ERR_OK) {
        cli__error(c, "out of memory");
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    if (old == NULL || old->tree_size == 0) {
        goto out; /* nothing to compare with; the empty tree is a prefix of every tree */
    }
    char was[LOG_HASH_B64_LEN + 1];
    char now[LOG_HASH_B64_LEN + 1];
    hash_b64(old->root_hash, was);
    hash_b64(cp->root_hash, now);
    if (cp->tree_size < old->tree_size) {
        err_set(why, ERR_CORRUPT, "size",
                "the log shrank from %" PRIu64 " to %" PRIu64 " entries (root %s, was %s)",
                old->tree_size, cp->tree_size, now, was);
        goto alert;
    }
    if (cp->tree_size == old->tree_size) {
        if (sodium_memcmp(cp->root_hash, old->root_hash, TLOG_HASH_LEN) != 0) {
            err_set(why, ERR_CORRUPT, "root",
                    "fork: two signed roots for tree size %" PRIu64 ": %s and %s", cp->tree_size,
                    was, now);
            goto alert;
        }
        goto out;
    }
    cli__response_release(&resp);
    code = getf(c, &resp, "/v1/log/proofs/consistency?from=%" PRIu64 "&to=%" PRIu64 "&format=file",
                old->tree_size, cp->tree_size);
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    struct tlog_checkpoint proved = {.tree_size = 0};
    struct errbuf detail;
    errbuf_init(&detail);
    if (consistency_verify(body_of(&resp), resp.raw.len, v, old, &proved, &detail) != ERR_OK) {
        err_set(why, ERR_CORRUPT, "proof",
                "the tree of %" PRIu64 " entries is not a prefix of the tree of %" PRIu64 ": %s",
                old->tree_size, cp->tree_size, detail.msg);
        goto alert;
    }
    if (proved.tree_size != cp->tree_size ||
        sodium_memcmp(proved.root_hash, cp->root_hash, TLOG_HASH_LEN) != 0) {
        err_set(why, ERR_CORRUPT, "root", "fork: two signed roots for tree size %" PRIu64,
                cp->tree_size);
        goto alert;
    }
    goto out;
alert:
    *alert = 1;
    code = CLI_EXIT_FAILURE;
out:
    cli__response_release(&resp);
    return code;
}

/* ---- log verify ------------------------------------------------------------------------- */

enum verify_mode {
    VERIFY_INCLUSION,   /* offline: --proof with --leaf or --leaf-hash */
    VERIFY_CONSISTENCY, /* offline: --old-checkpoint with --consistency */
    VERIFY_CHECKPOINT,  /* offline: --checkpoint */
    VERIFY_ONLINE,      /* --index and/or --old-checkpoint against the server */
};

/* Decides what to verify from the options given; a contradiction is a usage error. */
static int verify_mode_pick(struct cli *c, const struct cli_command *cmd, const struct cli_args *a,
                            enum verify_mode *mode)
{
    int proof = cli__arg_given(a, "proof");
    int leaves = cli__arg_given(a, "leaf") + cli__arg_given(a, "leaf-hash");
    int consistency = cli__arg_given(a, "consistency");
    int old = cli__arg_given(a, "old-checkpoint");
    int checkpoint = cli__arg_given(a, "checkpoint");
    int index = cli__arg_given(a, "index");
    if (proof != 0 && leaves != 1) {
        return cli__usage_error(c, cmd, "--proof needs one of --leaf and --leaf-hash");
    }
    if (proof == 0 && leaves != 0) {
        return cli__usage_error(c, cmd, "--leaf and --leaf-hash go with --proof");
    }
    if (proof + consistency + checkpoint + (index || old) == 0) {
        return cli__usage_error(c, cmd, "nothing to verify");
    }
    if (proof + consistency + checkpoint > 1 || (proof + checkpoint > 0 && (index || old)) ||
        (consistency && (index || !old))) {
        return cli__usage_error(c, cmd,
                                "give one check: --proof, --old-checkpoint with --consistency, "
                                "--checkpoint, or --index and/or --old-checkpoint online");
    }
    *mode = proof         ? VERIFY_INCLUSION
            : consistency ? VERIFY_CONSISTENCY
            : checkpoint  ? VERIFY_CHECKPOINT
                          : VERIFY_ONLINE;
    if (*mode != VERIFY_ONLINE && !cli__arg_given(a, "log-key")) {
        return cli__usage_error(c, cmd, "offline verification needs the key: --log-key KEY|@FILE");
    }
    return CLI_EXIT_OK;
}

/* The leaf hash from --leaf FILE (hashing the file's exact bytes) or --leaf-hash BASE64. */
static int verify_leaf_hash(struct cli *c, const struct cli_args *a, uint8_t out[TLOG_HASH_LEN])
{
    const char *stated = cli__arg(a, "leaf-hash");
    if (stated != NULL) {
        if (hash_decode(stated, out) != ERR_OK) {
            cli__error(c, "--leaf-hash must be the base64 of 32 bytes (got '%s')", stated);
            return CLI_EXIT_INVALID;
        }
        return CLI_EXIT_OK;
    }
    char *leaf = NULL;
    size_t len = 0;
    int code = evidence_read(c, cli__arg(a, "leaf"), TLOG_ENTRY_MAX, &leaf, &len);
    if (code == CLI_EXIT_OK) {
        tlog_leaf_hash(leaf, len, out);
    }
    mem_free(leaf);
    return code;
}

/* Verifies proof file data for leaf_hash and reports the outcome. */
static int verify_inclusion_report(struct cli *c, const struct tlog_verifier *v, const char *data,
                                   size_t len, const uint8_t leaf_hash[TLOG_HASH_LEN])
{
    struct errbuf err;
    errbuf_init(&err);
    uint64_t index = 0;
    struct tlog_checkpoint cp = {.tree_size = 0};
    if (inclusion_verify(data, len, v, leaf_hash, &index, &cp, &err) != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return CLI_EXIT_FAILURE;
    }
    char detail[96];
    snprintf(detail, sizeof(detail), "entry %" PRIu64 " is in the log", index);
    return verified_print(c, "inclusion", detail, &cp);
}

static int verify_inclusion_offline(struct cli *c, const struct cli_args *a,
                                    const struct tlog_verifier *v)
{
    uint8_t leaf_hash[TLOG_HASH_LEN];
    int code = verify_leaf_hash(c, a, leaf_hash);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    char *data = NULL;
    size_t len = 0;
    code = evidence_read(c, cli__arg(a, "proof"), TLOG_PROOF_FILE_MAX, &data, &len);
    if (code == CLI_EXIT_OK) {
        code = verify_inclusion_report(c, v, data, len, leaf_hash);
    }
    mem_free(data);
    return code;
}

/* Reads and opens a checkpoint file; `what` names it in errors. */
static int checkpoint_file_open(struct cli *c, const char *what, const char *path,
                                const struct tlog_verifier *v, struct tlog_checkpoint *cp)
{
    char *note = NULL;
    size_t len = 0;
    int code = evidence_read(c, path, TLOG_NOTE_MAX, &note, &len);
    struct errbuf err;
    errbuf_init(&err);
    if (code == CLI_EXIT_OK && checkpoint_open(note, len, v, cp, &err) != ERR_OK) {
        cli__error(c, "%s '%s': %s", what, path, err.msg);
        code = CLI_EXIT_FAILURE;
    }
    mem_free(note);
    return code;
}

static int consistency_report(struct cli *c, const struct tlog_checkpoint *old,
                              const struct tlog_checkpoint *cp)
{
    char detail[128];
    snprintf(detail, sizeof(detail),
             "the tree of %" PRIu64 " entries is a prefix of the tree of %" PRIu64, old->tree_size,
             cp->tree_size);
    return verified_print(c, "consistency", detail, cp);
}

static int verify_consistency_offline(struct cli *c, const struct cli_args *a,
                                      const struct tlog_verifier *v)
{
    struct tlog_checkpoint old = {.tree_size = 0};
    int code = checkpoint_file_open(c, "old checkpoint", cli__arg(a, "old-checkpoint"), v, &old);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    char *data = NULL;
    size_t len = 0;
    code = evidence_read(c, cli__arg(a, "consistency"), TLOG_PROOF_FILE_MAX, &data, &len);
    struct tlog_checkpoint cp = {.tree_size = 0};
    struct errbuf err;
    errbuf_init(&err);
    if (code == CLI_EXIT_OK && consistency_verify(data, len, v, &old, &cp, &err) != ERR_OK) {
        cli__error(c, "%s", err.msg);
        code = CLI_EXIT_FAILURE;
    }
    if (code == CLI_EXIT_OK) {
        code = consistency_report(c, &old, &cp);
    }
    mem_free(data);
    return code;
}

static int verify_checkpoint_offline(struct cli *c, const struct cli_args *a,
                                     const struct tlog_verifier *v)
{
    struct tlog_checkpoint cp = {.tree_size = 0};
    int code = checkpoint_file_open(c, "checkpoint", cli__arg(a, "checkpoint"), v, &cp);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    return verified_print(c, "checkpoint", "signature and origin", &cp);
}

/* Online: fetches entry `index` and its inclusion proof in the newest tree, verifies both. */
static int verify_online_entry(struct cli *c, const struct tlog_verifier *v, uint64_t index)
{
    struct cli_response entry;
    struct cli_response proof;
    cli__response_init(&entry);
    cli__response_init(&proof);
    const char *leaf = NULL;
    size_t leaf_len = 0;
    int code = getf(c, &entry, "/v1/log/entries/%" PRIu64, index);
    if (code == CLI_EXIT_OK) {
        code = entry_check(c, entry.json, index, &leaf, &leaf_len);
    }
    if (code == CLI_EXIT_OK) {
        code = getf(c, &proof, "/v1/log/proofs/inclusion?index=%" PRIu64 "&format=file", index);
    }
    if (code == CLI_EXIT_OK) {
        uint8_t leaf_hash[TLOG_HASH_LEN];
        tlog_leaf_hash(leaf, leaf_len, leaf_hash);
        code = verify_inclusion_report(c, v, body_of(&proof), proof.raw.len, leaf_hash);
    }
    cli__response_release(&entry);
    cli__response_release(&proof);
    return code;
}

/* Online: checks that the newest checkpoint extends the old one in `path`. */
static int verify_online_consistency(struct cli *c, const struct tlog_verifier *v, const char *path)
{
    struct tlog_checkpoint old = {.tree_size = 0};
    int code = checkpoint_file_open(c, "old checkpoint", path, v, &old);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    struct buf note;
    buf_init(&note, TLOG_NOTE_MAX);
    struct tlog_checkpoint cp = {.tree_size = 0};
    struct errbuf why;
    errbuf_init(&why);
    int alert = 0;
    code = log_advance(c, v, &old, &note, &cp, &alert, &why);
    if (alert) {
        cli__error(c, "%s", why.msg);
    } else if (code == CLI_EXIT_OK) {
        code = consistency_report(c, &old, &cp);
    }
    buf_release(&note);
    return code;
}

static int log_verify(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    enum verify_mode mode = VERIFY_ONLINE;
    int code = verify_mode_pick(c, cmd, a, &mode);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    struct tlog_verifier v = {.key_hash = 0};
    int pinned = 0;
    code = key_resolve(c, a, &v, &pinned);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    ASSERT(pinned || mode == VERIFY_ONLINE); /* offline modes make no request */
    switch (mode) {
    case VERIFY_INCLUSION:
        return verify_inclusion_offline(c, a, &v);
    case VERIFY_CONSISTENCY:
        return verify_consistency_offline(c, a, &v);
    case VERIFY_CHECKPOINT:
        return verify_checkpoint_offline(c, a, &v);
    case VERIFY_ONLINE:
        break;
    }
    if (cli__arg_given(a, "index")) {
        code = verify_online_entry(c, &v, arg_number(a, "index", 0));
    }
    if (code == CLI_EXIT_OK && cli__arg_given(a, "old-checkpoint")) {
        code = verify_online_consistency(c, &v, cli__arg(a, "old-checkpoint"));
    }
    return code;
}

/* ---- log watch -------------------------------------------------------------------------- */

struct watch_state {
    struct tlog_verifier v; /* the pinned key */
    int has_checkpoint;     /* 0 until the first round verified a checkpoint */
    struct tlog_checkpoint cp;
};

/* Parses state file text[0..len) into st. Errors: ERR_CORRUPT naming what is wrong. */
static enum err state_parse(const char *text, size_t len, struct watch_state *st,
                            struct errbuf *err)
{
    size_t header = strlen(LOG_STATE_HEADER);
    if (len < header + 4 || memcmp(text, LOG_STATE_HEADER, header) != 0 ||
        memcmp(text + header, "key ", 4) != 0) {
        return err_set(err, ERR_CORRUPT, "state", "not a log watch state file");
    }
    const char *key = text + header + 4;
    const char *nl = memchr(key, '\n', len - header - 4);
    if (nl == NULL) {
        return err_set(err, ERR_CORRUPT, "state", "no checkpoint after the key line");
    }
    struct errbuf why;
    errbuf_init(&why);
    if (tlog_verifier_parse(key, (size_t)(nl - key), &st->v, &why) != ERR_OK) {
        return err_set(err, ERR_CORRUPT, "state", "bad key line: %s", why.msg);
    }
    const char *note = nl + 1;
    if (checkpoint_open(note, len - (size_t)(note - text), &st->v, &st->cp, &why) != ERR_OK) {
        return err_set(err, ERR_CORRUPT, "state", "bad checkpoint: %s", why.msg);
    }
    st->has_checkpoint = 1;
    return ERR_OK;
}

/* Loads the state file at path into st; a missing file leaves st->has_checkpoint 0. */
static int state_load(struct cli *c, const char *path, struct watch_state *st)
{
    struct errbuf err;
    errbuf_init(&err);
    st->has_checkpoint = 0;
    if (cli__file_absent(path, &err) == ERR_OK) {
        return CLI_EXIT_OK;
    }
    char *text = NULL;
    size_t len = 0;
    int code = evidence_read(c, path, LOG_STATE_BYTES_MAX, &text, &len);
    if (code == CLI_EXIT_OK && state_parse(text, len, st, &err) != ERR_OK) {
        cli__error(c, "state file '%s' is damaged: %s", path, err.msg);
        code = CLI_EXIT_FAILURE;
    }
    mem_free(text);
    return code;
}

/* Replaces the state file atomically with the key and the verified note. */
static enum err state_save(const char *path, const struct tlog_verifier *v, const struct buf *note,
                           struct errbuf *err)
{
    char key[TLOG_VERIFIER_KEY_MAX];
    tlog_verifier_format(v, key);
    struct buf b;
    buf_init(&b, LOG_STATE_BYTES_MAX);
    enum err rc = buf_appendf(&b, "%skey %s\n", LOG_STATE_HEADER, key);
    if (rc == ERR_OK) {
        rc = buf_append(&b, note->data, note->len);
    }
    if (rc != ERR_OK) {
        rc = err_set(err, rc, "state", "cannot build the state: %s", err_name(rc));
    } else {
        rc = file_write_atomic(path, b.data, b.len, 0644, 0, err);
    }
    buf_release(&b);
    return rc;
}

/* Chooses the key to pin: the state's, else --log-key, else the server's (trust on first use). */
static int watch_key(struct cli *c, const struct cli_args *a, struct watch_state *st)
{
    if (!st->has_checkpoint) {
        int pinned = 0;
        return key_resolve(c, a, &st->v, &pinned);
    }
    const char *arg = cli__arg(a, "log-key");
    if (arg == NULL) {
        return CLI_EXIT_OK;
    }
    struct tlog_verifier given = {.key_hash = 0};
    struct errbuf err;
    errbuf_init(&err);
    enum err rc = verifier_load(arg, &given, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    if (strcmp(given.name, st->v.name) != 0 || given.key_hash != st->v.key_hash ||
        memcmp(given.public_key, st->v.public_key, TLOG_PUBLIC_KEY_LEN) != 0) {
        cli__error(c, "--log-key is not the key the state file pinned ('%s+%08lx')", st->v.name,
                   (unsigned long)st->v.key_hash);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

static void watch_alert(struct cli *c, const char *url, const char *why)
{
    fputs("ALERT: ", c->errout);
    cli__print_text(c->errout, why);
    fputs("\nALERT: the log at '", c->errout);
    cli__print_text(c->errout, url);
    fputs("' is not an append-only log signed by the pinned key; the state file was not "
          "changed\n",
          c->errout);
}

/* One round of watch: fetch, verify, and record progress. *alert is set on an inconsistency. */
static int watch_round(struct cli *c, const char *path, struct watch_state *st, int *alert)
{
    struct buf note;
    buf_init(&note, TLOG_NOTE_MAX);
    struct tlog_checkpoint cp = {.tree_size = 0};
    struct errbuf why;
    errbuf_init(&why);
    int code = log_advance(c, &st->v, st->has_checkpoint ? &st->cp : NULL, &note, &cp, alert, &why);
    if (*alert) {
        watch_alert(c, c->url, why.msg);
    }
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    char now[CLOCK_RFC3339_LEN];
    char root[LOG_HASH_B64_LEN + 1];
    clock_format_rfc3339(clock_now(&clock_system), now);
    hash_b64(cp.root_hash, root);
    if (st->has_checkpoint && cp.tree_size == st->cp.tree_size) {
        fprintf(c->out, "%s ok: unchanged at %" PRIu64 " entries, root %s\n", now, cp.tree_size,
                root);
        goto out;
    }
    if (state_save(path, &st->v, &note, &why) != ERR_OK) {
        cli__error(c, "cannot save the state: %s", why.msg);
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    if (st->has_checkpoint) {
        fprintf(c->out, "%s ok: grew from %" PRIu64 " to %" PRIu64 " entries, root %s\n", now,
                st->cp.tree_size, cp.tree_size, root);
    } else {
        fprintf(c->out, "%s ok: pinned key of '", now);
        cli__print_text(c->out, st->v.name);
        fprintf(c->out, "' at %" PRIu64 " entries, root %s\n", cp.tree_size, root);
    }
    st->cp = cp;
    st->has_checkpoint = 1;
out:
    buf_release(&note);
    fflush(c->out);
    return code;
}

static volatile sig_atomic_t watch_stop_flag;

static void watch_stop_cb(int sig)
{
    (void)sig;
    watch_stop_flag = 1;
}

/* Sleeps for `seconds`, or less when SIGINT or SIGTERM arrives. */
static void watch_sleep(uint64_t seconds)
{
    int64_t end = clock_monotonic_ns() + (int64_t)seconds * 1000000000;
    while (!watch_stop_flag && clock_monotonic_ns() < end) {
        struct timespec tick = {0, LOG_WATCH_TICK_NS};
        nanosleep(&tick, NULL); /* an early return by a signal is what we want */
    }
}

/* Rounds until a signal, an alert, or after one round with --once. */
static int watch_loop(struct cli *c, const char *path, struct watch_state *st, int once,
                      uint64_t interval_s)
{
    struct sigaction sa;
    struct sigaction old_int;
    struct sigaction old_term;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = watch_stop_cb;
    sigemptyset(&sa.sa_mask);
    watch_stop_flag = 0;
    if (!once &&
        (sigaction(SIGINT, &sa, &old_int) != 0 || sigaction(SIGTERM, &sa, &old_term) != 0)) {
        cli__error(c, "cannot install the signal handlers");
        return CLI_EXIT_FAILURE;
    }
    int code = CLI_EXIT_OK;
    for (;;) {
        int alert = 0;
        code = watch_round(c, path, st, &alert);
        if (alert || once || watch_stop_flag) {
            break;
        }
        watch_sleep(interval_s);
        if (watch_stop_flag) {
            code = CLI_EXIT_OK; /* stopped on request */
            break;
        }
    }
    if (!once) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    return code;
}

static int log_watch(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    const char *path = cli__arg(a, "state");
    struct watch_state st;
    memset(&st, 0, sizeof(st));
    int code = state_load(c, path, &st);
    if (code == CLI_EXIT_OK) {
        code = watch_key(c, a, &st);
    }
    if (code != CLI_EXIT_OK) {
        return code;
    }
    return watch_loop(c, path, &st, cli__arg_given(a, "once"),
                      arg_number(a, "interval", LOG_WATCH_INTERVAL_DEFAULT_S));
}

/* ---- log audit -------------------------------------------------------------------------- */

struct audit {
    struct buf hashes; /* every stored hash of the tree rebuilt so far, in stored order */
    uint64_t bundles;
    uint64_t tiles;
};

static enum err audit_read_hashes_cb(void *ctx, const uint64_t *indexes, size_t count,
                                     uint8_t (*hashes)[TLOG_HASH_LEN], struct errbuf *err)
{
    const struct buf *b = ctx;
    ASSERT(count >= 1 && count <= TLOG_READ_MAX);
    for (size_t i = 0; i < count; i++) {
        if (indexes[i] >= b->len / TLOG_HASH_LEN) {
            return err_set(err, ERR_NOT_FOUND, "", "no stored hash %" PRIu64, indexes[i]);
        }
        memcpy(hashes[i], b->data + indexes[i] * TLOG_HASH_LEN, TLOG_HASH_LEN);
    }
    return ERR_OK;
}

static void audit_mismatch(struct cli *c, uint64_t index, const char *what)
{
    cli__error(c, "audit failed at entry %" PRIu64 ": %s", index, what);
}

/* Checks the entries [from, from + count) against /v1/events, one for one. */
static int audit_events(struct cli *c, uint64_t from, const struct tlog_bundle_entry *entries,
                        size_t count)
{
    struct cli_response resp;
    cli__response_init(&resp);
    int code = getf(c, &resp, "/v1/events?from=%" PRIu64 "&limit=%zu", from, count);
    const json_t *items = json_object_get(resp.json, "items");
    for (size_t i = 0; code == CLI_EXIT_OK && i < count; i++) {
        const json_t *item = json_array_get(items, i);
        const json_t *index = json_object_get(item, "index");
        const json_t *leaf = json_object_get(item, "leaf");
        if (item == NULL) {
            audit_mismatch(c, from + i, "/v1/events has no such event");
            code = CLI_EXIT_FAILURE;
        } else if (!json_is_integer(index) || (uint64_t)json_integer_value(index) != from + i ||
                   !json_is_string(leaf)) {
            audit_mismatch(c, from + i, "/v1/events lists another event in its place");
            code = CLI_EXIT_FAILURE;
        } else if (json_string_length(leaf) != entries[i].len ||
                   memcmp(json_string_value(leaf), entries[i].data, entries[i].len) != 0) {
            audit_mismatch(c, from + i, "the log's entry differs from the database's event");
            code = CLI_EXIT_FAILURE;
        }
    }
    cli__response_release(&resp);
    return code;
}

/* Adds the leaves of one checked bundle to the rebuilt tree. */
static int audit_append(struct cli *c, struct audit *au, uint64_t first,
                        const struct tlog_bundle_entry *entries, size_t count)
{
    struct tlog_hash_reader reader = {audit_read_hashes_cb, &au->hashes};
    uint8_t stored[TLOG_STORED_HASHES_MAX][TLOG_HASH_LEN];
    for (size_t i = 0; i < count; i++) {
        uint8_t leaf_hash[TLOG_HASH_LEN];
        tlog_leaf_hash(entries[i].data, entries[i].len, leaf_hash);
        size_t n = 0;
        struct errbuf err;
        errbuf_init(&err);
        enum err rc = tlog_stored_hashes(first + i, leaf_hash, &reader, stored, &n, &err);
        if (rc == ERR_OK) {
            rc = buf_append(&au->hashes, stored, n * TLOG_HASH_LEN);
        }
        if (rc != ERR_OK) {
            cli__error(c, "cannot rebuild the tree at entry %" PRIu64 ": %s", first + i,
                       err_name(rc));
            return CLI_EXIT_FAILURE;
        }
        DEBUG_ASSERT(au->hashes.len / TLOG_HASH_LEN == tlog_stored_hash_count(first + i + 1));
    }
    return CLI_EXIT_OK;
}

/* Fetches entry bundle n (width entries), checks it against /v1/events, adds its leaves. */
static int audit_bundle(struct cli *c, struct audit *au, uint64_t n, unsigned width)
{
    struct tlog_tile tile = {TLOG_TILE_LEVEL_ENTRIES, n, width};
    char tile_path[TLOG_TILE_PATH_MAX];
    tlog_tile_format_path(&tile, tile_path);
    struct cli_response resp;
    cli__response_init(&resp);
    int code = getf(c, &resp, "/log/%s", tile_path);
    struct tlog_bundle_entry entries[TLOG_TILE_WIDTH];
    size_t count = 0;
    uint64_t first = n * TLOG_TILE_WIDTH;
    struct errbuf why;
    errbuf_init(&why);
    if (code == CLI_EXIT_OK && (tlog_bundle_parse((const uint8_t *)body_of(&resp), resp.raw.len,
                                                  entries, width, &count, &why) != ERR_OK ||
                                count != width)) {
        audit_mismatch(c, first, "its entry bundle is malformed or short");
        code = CLI_EXIT_FAILURE;
    }
    if (code == CLI_EXIT_OK) {
        code = audit_events(c, first, entries, count);
    }
    if (code == CLI_EXIT_OK) {
        code = audit_append(c, au, first, entries, count);
    }
    au->bundles += code == CLI_EXIT_OK;
    cli__response_release(&resp);
    return code;
}

/* Fetches hash tile (level, n) of width hashes and compares it with the rebuilt tree. */
static int audit_tile(struct cli *c, struct audit *au, unsigned level, uint64_t n, unsigned width)
{
    struct tlog_tile tile = {(int)level, n, width};
    char tile_path[TLOG_TILE_PATH_MAX];
    tlog_tile_format_path(&tile, tile_path);
    struct cli_response resp;
    cli__response_init(&resp);
    int code = getf(c, &resp, "/log/%s", tile_path);
    uint64_t span = (uint64_t)1 << (level * TLOG_TILE_HEIGHT); /* leaves under one hash */
    if (code == CLI_EXIT_OK && resp.raw.len != (size_t)width * TLOG_HASH_LEN) {
        audit_mismatch(c, n * TLOG_TILE_WIDTH * span, "its hash tile has the wrong size");
        code = CLI_EXIT_FAILURE;
    }
    for (unsigned i = 0; code == CLI_EXIT_OK && i < width; i++) {
        uint64_t at = tlog_stored_hash_index(level * TLOG_TILE_HEIGHT, n * TLOG_TILE_WIDTH + i);
        if (memcmp(body_of(&resp) + (size_t)i * TLOG_HASH_LEN, au->hashes.data + at * TLOG_HASH_LEN,
                   TLOG_HASH_LEN) != 0) {
            char what[TLOG_TILE_PATH_MAX + 64];
            snprintf(what, sizeof(what), "hash tile '%s' differs from the rebuilt tree", tile_path);
            audit_mismatch(c, (n * TLOG_TILE_WIDTH + i) * span, what);
            code = CLI_EXIT_FAILURE;
        }
    }
    au->tiles += code == CLI_EXIT_OK;
    cli__response_release(&resp);
    return code;
}

/* Checks every hash tile of every level within tree_size against the rebuilt tree. */
static int audit_tiles(struct cli *c, struct audit *au, uint64_t tree_size)
{
    for (unsigned level = 0; level * TLOG_TILE_HEIGHT < 63; level++) {
        uint64_t count = tree_size >> (level * TLOG_TILE_HEIGHT); /* hashes on this level */
        for (uint64_t n = 0; n * TLOG_TILE_WIDTH < count; n++) {
            uint64_t left = count - n * TLOG_TILE_WIDTH;
            unsigned width = left < TLOG_TILE_WIDTH ? (unsigned)left : TLOG_TILE_WIDTH;
            int code = audit_tile(c, au, level, n, width);
            if (code != CLI_EXIT_OK) {
                return code;
            }
        }
    }
    return CLI_EXIT_OK;
}

/* Rebuilds the tree from every entry bundle and compares its root with the checkpoint's. */
static int audit_rebuild(struct cli *c, struct audit *au, const struct tlog_checkpoint *cp)
{
    for (uint64_t n = 0; n * TLOG_TILE_WIDTH < cp->tree_size; n++) {
        uint64_t left = cp->tree_size - n * TLOG_TILE_WIDTH;
        int code =
            audit_bundle(c, au, n, left < TLOG_TILE_WIDTH ? (unsigned)left : TLOG_TILE_WIDTH);
        if (code != CLI_EXIT_OK) {
            return code;
        }
    }
    struct tlog_hash_reader reader = {audit_read_hashes_cb, &au->hashes};
    uint8_t root[TLOG_HASH_LEN];
    struct errbuf err;
    errbuf_init(&err);
    if (tlog_tree_hash(cp->tree_size, &reader, root, &err) != ERR_OK) {
        cli__error(c, "cannot compute the root: %s", err.msg);
        return CLI_EXIT_FAILURE;
    }
    if (sodium_memcmp(root, cp->root_hash, TLOG_HASH_LEN) != 0) {
        char got[LOG_HASH_B64_LEN + 1];
        hash_b64(root, got);
        cli__error(c, "audit failed: the entries hash to root %s, not the checkpoint's", got);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

static int audit_report(struct cli *c, const struct audit *au, const struct tlog_checkpoint *cp)
{
    char detail[160];
    snprintf(detail, sizeof(detail),
             "%" PRIu64 " entries in %" PRIu64 " bundles match /v1/events and the root; %" PRIu64
             " hash tiles match",
             cp->tree_size, au->bundles, au->tiles);
    return verified_print(c, "audit", detail, cp);
}

static int log_audit(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    (void)cmd;
    struct tlog_verifier v = {.key_hash = 0};
    int pinned = 0;
    int code = key_resolve(c, a, &v, &pinned);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    struct cli_response resp;
    cli__response_init(&resp);
    struct audit au;
    memset(&au, 0, sizeof(au));
    buf_init(&au.hashes, TLOG_HASH_LEN); /* re-initialised with its real bound below */
    code = get(c, "/log/checkpoint", &resp);
    if (code != CLI_EXIT_OK) {
        goto out;
    }
    struct tlog_checkpoint cp = {.tree_size = 0};
    struct errbuf err;
    errbuf_init(&err);
    if (checkpoint_open(body_of(&resp), resp.raw.len, &v, &cp, &err) != ERR_OK) {
        cli__error(c, "%s", err.msg);
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    if (cp.tree_size > LOG_AUDIT_LEAVES_MAX) {
        cli__error(c, "the log has %" PRIu64 " entries; audit holds at most %" PRIu64, cp.tree_size,
                   LOG_AUDIT_LEAVES_MAX);
        code = CLI_EXIT_FAILURE;
        goto out;
    }
    /* buf_init wants a positive bound, and the empty tree stores no hash. */
    buf_init(&au.hashes, (size_t)(tlog_stored_hash_count(cp.tree_size) + 1) * TLOG_HASH_LEN);
    code = audit_rebuild(c, &au, &cp);
    if (code == CLI_EXIT_OK) {
        code = audit_tiles(c, &au, cp.tree_size);
    }
    if (code == CLI_EXIT_OK) {
        code = audit_report(c, &au, &cp);
    }
out:
    buf_release(&au.hashes);
    cli__response_release(&resp);
    return code;
}

/* ---- the command table ------------------------------------------------------------------ */

static const char *const entry_positional[] = {"INDEX", NULL};

static const struct cli_option out_options[] = {
    {"out", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option checkpoint_options[] = {
    {"out", CLI_OPT_VALUE, NULL, NULL},
    {"log-key", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option prove_options[] = {
    {"index", CLI_OPT_VALUE, NULL, check_number},
    {"tree-size", CLI_OPT_VALUE, NULL, check_number},
    {"from", CLI_OPT_VALUE, NULL, check_number},
    {"to", CLI_OPT_VALUE, NULL, check_number},
    {"out", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option verify_options[] = {
    {"log-key", CLI_OPT_VALUE, NULL, NULL},
    {"proof", CLI_OPT_VALUE, NULL, NULL},
    {"leaf", CLI_OPT_VALUE, NULL, NULL},
    {"leaf-hash", CLI_OPT_VALUE, NULL, NULL},
    {"old-checkpoint", CLI_OPT_VALUE, NULL, NULL},
    {"consistency", CLI_OPT_VALUE, NULL, NULL},
    {"checkpoint", CLI_OPT_VALUE, NULL, NULL},
    {"index", CLI_OPT_VALUE, NULL, check_number},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option watch_options[] = {
    {"state", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"log-key", CLI_OPT_VALUE, NULL, NULL},
    {"interval", CLI_OPT_VALUE, NULL, check_interval},
    {"once", 0, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option audit_options[] = {
    {"log-key", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__log_commands[] = {
    {"log", "key", log_key, NULL, out_options, NULL, 0, "[--out FILE]",
     "fetch the log's verifier key"},
    {"log", "checkpoint", log_checkpoint, NULL, checkpoint_options, NULL, 0,
     "[--log-key KEY|@FILE] [--out FILE]", "fetch the newest signed checkpoint"},
    {"log", "entry", log_entry, NULL, out_options, entry_positional, 0, "INDEX [--out FILE]",
     "fetch a log entry; --out saves its exact leaf bytes"},
    {"log", "prove", log_prove, NULL, prove_options, NULL, 0,
     "(--index I [--tree-size N] | --from M [--to N]) --out FILE",
     "download an inclusion or consistency proof file"},
    {"log", "verify", log_verify, NULL, verify_options, NULL, 0,
     "--log-key KEY|@FILE (--proof FILE (--leaf FILE | --leaf-hash B64) |\n"
     "      --old-checkpoint FILE --consistency FILE | --checkpoint FILE)\n"
     "      or online: [--log-key KEY|@FILE] [--index I] [--old-checkpoint FILE]",
     "verify proofs and checkpoints, offline from files or against the server"},
    {"log", "watch", log_watch, NULL, watch_options, NULL, 0,
     "--state FILE [--log-key KEY|@FILE] [--interval SECONDS] [--once]",
     "monitor the log; ALERT and exit 1 if it is not append-only"},
    {"log", "audit", log_audit, NULL, audit_options, NULL, 0, "[--log-key KEY|@FILE]",
     "replay the whole log from its tiles against the database's events"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
