/*
 * cli_test.c: unit tests of the client subcommands. The network stays out: commands run through
 * cli__run with a fake transport that records each request and answers from a script, a fake
 * environment, and temporary files for stdout and stderr. Key files go to a temporary folder.
 */
#include "util/compat.h"
#include "cli/cli.h"
#include "cli/cli_int.h"
#include "tlog/tlog.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/banned.h"

#define FAKE_CALLS_MAX 8
#define TEXT_MAX 16384

/* ---- fakes ---- */

struct fake_call {
    char method[16];
    char url[1024];
    char body[4096];
    int has_body;
    char key[128];
    char idempotency_key[64];
};

struct fake_reply {
    long status;
    const char *body;
    enum err rc; /* ERR_OK, or the transport failure to simulate */
    const char *msg;
};

struct fake {
    int calls;
    struct fake_call call[FAKE_CALLS_MAX];
    struct fake_reply reply[FAKE_CALLS_MAX];
    int replies;
    const char *env[8][2];
};

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static enum err fake_transport(void *ctx, const struct cli_http_request *req, long *status,
                               struct buf *body, struct errbuf *err)
{
    struct fake *f = ctx;
    assert_true(f->calls < FAKE_CALLS_MAX);
    struct fake_call *call = &f->call[f->calls];
    copy_text(call->method, sizeof(call->method), req->method);
    copy_text(call->url, sizeof(call->url), req->url);
    copy_text(call->key, sizeof(call->key), req->key);
    copy_text(call->idempotency_key, sizeof(call->idempotency_key), req->idempotency_key);
    call->has_body = req->body != NULL;
    if (req->body != NULL) {
        assert_int_equal(strlen(req->body), req->body_len);
        copy_text(call->body, sizeof(call->body), req->body);
    }
    const struct fake_reply *r = &f->reply[f->calls < f->replies ? f->calls : f->replies - 1];
    f->calls++;
    if (r->rc != ERR_OK) {
        return err_set(err, r->rc, NULL, "%s", r->msg);
    }
    *status = r->status;
    if (r->body != NULL) {
        enum err rc = buf_append_str(body, r->body);
        if (rc != ERR_OK) {
            return err_set(err, rc, NULL, "cannot store the body");
        }
    }
    return ERR_OK;
}

static const char *fake_env(void *ctx, const char *name)
{
    struct fake *f = ctx;
    for (size_t i = 0; i < ARRAY_LEN(f->env) && f->env[i][0] != NULL; i++) {
        if (strcmp(f->env[i][0], name) == 0) {
            return f->env[i][1];
        }
    }
    return NULL;
}

static void fake_setenv(struct fake *f, const char *name, const char *value)
{
    for (size_t i = 0; i < ARRAY_LEN(f->env); i++) {
        if (f->env[i][0] == NULL) {
            f->env[i][0] = name;
            f->env[i][1] = value;
            return;
        }
    }
    fail_msg("too many environment variables");
}

static void fake_reply(struct fake *f, long status, const char *body)
{
    assert_true(f->replies < FAKE_CALLS_MAX);
    f->reply[f->replies].status = status;
    f->reply[f->replies].body = body;
    f->reply[f->replies].rc = ERR_OK;
    f->replies++;
}

/* ---- harness ---- */

struct run {
    int code;
    char out[TEXT_MAX];
    char err[TEXT_MAX];
};

static void read_back(FILE *f, char *text)
{
    fflush(f);
    rewind(f);
    size_t n = fread(text, 1, TEXT_MAX - 1, f);
    text[n] = '\0';
    fclose(f);
}

/* Runs `bourse <args...>` (NULL-ended) against the fake, with fresh settings. */
static void run_argv(struct fake *f, struct run *r, int argc, char **argv)
{
    struct cli c;
    cli__init(&c);
    c.out = tmpfile();
    c.errout = tmpfile();
    assert_non_null(c.out);
    assert_non_null(c.errout);
    c.env = fake_env;
    c.env_ctx = f;
    c.transport = fake_transport;
    c.transport_ctx = f;
    r->code = cli__run(&c, argc, argv);
    read_back(c.out, r->out);
    read_back(c.errout, r->err);
    cli__release(&c);
}

static void run_cmd(struct fake *f, struct run *r, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, r);
    for (const char *s = va_arg(ap, const char *); s != NULL; s = va_arg(ap, const char *)) {
        assert_true(argc < (int)ARRAY_LEN(argv));
        argv[argc++] = (char *)s;
    }
    va_end(ap);
    run_argv(f, r, argc, argv);
}

static void assert_contains(const char *text, const char *want)
{
    if (strstr(text, want) == NULL) {
        fail_msg("expected '%s' in:\n%s", want, text);
    }
}

/* A temporary folder per test, removed with its files by tmpdir_remove. */
static void tmpdir_make(char dir[64])
{
    snprintf(dir, 64, "/tmp/cli_test.XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void tmpdir_remove(const char *dir)
{
    static const char *const names[] = {"k", "k.pub", "secret", "cfg", "apikey", "other"};
    char path[128];
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(dir), 0);
}

static void file_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void file_slurp(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static const char entity_201[] =
    "{\"id\":\"ent_0123456789abcdefghjk\",\"kind\":\"provider\",\"name\":\"Acme\","
    "\"status\":\"applied\",\"api_key\":{\"id\":\"key_abc\",\"secret\":\"bsk_s3cr3t\"}}";

/* A valid public key (the Ed25519 base point). */
static const char public_key[] = "WGZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=";

/* ---- exit codes ---- */

static void test_cli__exit_code_from_status(void **state)
{
    (void)state;
    static const long statuses[][2] = {
        {200, CLI_EXIT_OK},          {201, CLI_EXIT_OK},       {204, CLI_EXIT_OK},
        {400, CLI_EXIT_INVALID},     {413, CLI_EXIT_INVALID},  {415, CLI_EXIT_INVALID},
        {422, CLI_EXIT_INVALID},     {401, CLI_EXIT_AUTH},     {403, CLI_EXIT_AUTH},
        {404, CLI_EXIT_NOT_FOUND},   {409, CLI_EXIT_CONFLICT}, {500, CLI_EXIT_UNAVAILABLE},
        {503, CLI_EXIT_UNAVAILABLE}, {302, CLI_EXIT_FAILURE},  {405, CLI_EXIT_FAILURE},
        {429, CLI_EXIT_FAILURE},     {0, CLI_EXIT_FAILURE},
    };
    for (size_t i = 0; i < ARRAY_LEN(statuses); i++) {
        assert_int_equal(cli__exit_from_status(statuses[i][0]), statuses[i][1]);
    }
    assert_int_equal(cli__exit_from_err(ERR_UNAVAILABLE), CLI_EXIT_UNAVAILABLE);
    assert_int_equal(cli__exit_from_err(ERR_CONFLICT), CLI_EXIT_CONFLICT);
    assert_int_equal(cli__exit_from_err(ERR_INVALID), CLI_EXIT_INVALID);
    assert_int_equal(cli__exit_from_err(ERR_IO), CLI_EXIT_FAILURE);
}

static void test_cli__server_statuses_become_exit_codes(void **state)
{
    (void)state;
    static const long statuses[][2] = {
        {404, CLI_EXIT_NOT_FOUND}, {409, CLI_EXIT_CONFLICT}, {401, CLI_EXIT_AUTH},
        {403, CLI_EXIT_AUTH},      {422, CLI_EXIT_INVALID},  {503, CLI_EXIT_UNAVAILABLE},
    };
    for (size_t i = 0; i < ARRAY_LEN(statuses); i++) {
        struct fake f = {0};
        struct run r;
        fake_reply(&f, statuses[i][0], "{\"type\":\"x\",\"title\":\"t\",\"detail\":\"no luck\"}");
        run_cmd(&f, &r, "entity", "show", "ent_1", NULL);
        assert_int_equal(r.code, statuses[i][1]);
        assert_contains(r.err, "error: no luck\n");
        assert_string_equal(r.out, "");
    }
}

static void test_cli__problem_prints_detail_and_field(void **state)
{
    (void)state;
    static const char problem[] = "{\"type\":\"https://bourse.dev/problems/invalid\","
                                  "\"title\":\"Invalid\",\"status\":422,"
                                  "\"detail\":\"uscc has a bad check digit\",\"field\":\"uscc\"}";
    struct fake f = {0};
    struct run r;
    fake_reply(&f, 422, problem);
    run_cmd(&f, &r, "entity", "show", "ent_1", NULL);
    assert_int_equal(r.code, CLI_EXIT_INVALID);
    assert_string_equal(r.err, "error: uscc has a bad check digit (field 'uscc')\n");
    assert_string_equal(r.out, "");

    /* --json: the problem body goes to stdout too, as JSON */
    struct fake g = {0};
    fake_reply(&g, 422, problem);
    run_cmd(&g, &r, "--json", "entity", "show", "ent_1", NULL);
    assert_int_equal(r.code, CLI_EXIT_INVALID);
    assert_contains(r.err, "(field 'uscc')");
    assert_contains(r.out, "\"status\": 422");

    /* no problem body at all */
    struct fake h = {0};
    fake_reply(&h, 500, "oops");
    run_cmd(&h, &r, "entity", "show", "ent_1", NULL);
    assert_int_equal(r.code, CLI_EXIT_UNAVAILABLE);
    assert_string_equal(r.err, "error: the server answered HTTP 500\n");
}

static void test_cli__unreachable_server_exits_7(void **state)
{
    (void)state;
    struct fake f = {0};
    struct run r;
    f.reply[0].rc = ERR_UNAVAILABLE;
    f.reply[0].msg = "Failed to connect to 127.0.0.1 port 1: Connection refused";
    f.replies = 1;
    run_cmd(&f, &r, "--url", "http://127.0.0.1:1/", "health", NULL);
    assert_int_equal(r.code, CLI_EXIT_UNAVAILABLE);
    assert_string_equal(r.err, "error: cannot reach 'http://127.0.0.1:1': Failed to connect to "
                               "127.0.0.1 port 1: Connection refused\n");

    struct fake g = {0};
    g.reply[0].rc = ERR_LIMIT;
    g.reply[0].msg = "the response is too large";
    g.replies = 1;
    run_cmd(&g, &r, "health", NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "error: the response is too large");
}

/* ---- configuration and precedence ---- */

static void test_cli__config_parses_names_comments_blanks(void **state)
{
    (void)state;
    static const char text[] = "# a comment\n"
                               "\n"
                               "  url =  https://exchange.example/  \r\n"
                               "\tkey=bsk_one\n"
                               "key_file = /tmp/k";
    struct cli_config cfg;
    cli__config_init(&cfg);
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(cli__config_parse("cfg", text, strlen(text), &cfg, &err), ERR_OK);
    assert_string_equal(cfg.url, "https://exchange.example/");
    assert_string_equal(cfg.key, "bsk_one");
    assert_string_equal(cfg.key_file, "/tmp/k");
    cli__config_release(&cfg);
    assert_null(cfg.url);
    cli__config_release(NULL);
}

static void test_cli__config_errors_name_the_line(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"url = http://a\nkeys = x\n", "config 'f' line 2: unknown name 'keys'"},
        {"# c\n\njust words\n", "config 'f' line 3: expected 'name = value'"},
        {"key =\n", "config 'f' line 1: 'key' needs a value"},
        {"key = a\nkey = b\n", "config 'f' line 2: 'key' is set twice"},
        {"url = ftp://x\n", "config 'f' line 1: url must be an http:// or https:// URL"},
        {"key = two words\n", "config 'f' line 1: key must be 1 to"},
        {"= x\n", "config 'f' line 1: unknown name ''"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct cli_config cfg;
        cli__config_init(&cfg);
        struct errbuf err;
        errbuf_init(&err);
        const char *text = cases[i][0];
        assert_int_equal(cli__config_parse("f", text, strlen(text), &cfg, &err), ERR_INVALID);
        assert_contains(err.msg, cases[i][1]);
        assert_null(cfg.url);
        assert_null(cfg.key);
    }
    struct cli_config cfg;
    cli__config_init(&cfg);
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(cli__config_load("/nonexistent/bourse.conf", &cfg, &err), ERR_IO);
    assert_contains(err.msg, "cannot open '/nonexistent/bourse.conf'");
}

static void test_cli__config_error_is_a_usage_error(void **state)
{
    (void)state;
    char dir[64];
    tmpdir_make(dir);
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "%s/cfg", dir);
    file_write(cfg, "url = http://x\ncolour = blue\n");
    struct fake f = {0};
    struct run r;
    fake_reply(&f, 200, "{\"status\":\"ok\"}");
    run_cmd(&f, &r, "health", "--config", cfg, NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "line 2: unknown name 'colour'");
    assert_int_equal(f.calls, 0);
    tmpdir_remove(dir);
}

/* Runs `bourse health` with the given extra flags and returns the URL and key it used. */
static void health_with(struct fake *f, struct run *r, const char *a1, const char *a2,
                        const char *a3, const char *a4)
{
    fake_reply(f, 200, "{\"status\":\"ok\"}");
    char *argv[5] = {(char *)"health"};
    int argc = 1;
    const char *extra[] = {a1, a2, a3, a4};
    for (size_t i = 0; i < ARRAY_LEN(extra) && extra[i] != NULL; i++) {
        argv[argc++] = (char *)extra[i];
    }
    run_argv(f, r, argc, argv);
}

static void test_cli__url_flag_beats_env_beats_config(void **state)
{
    (void)state;
    char dir[64];
    tmpdir_make(dir);
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "%s/cfg", dir);
    file_write(cfg, "url = http://from-config:1\n");
    struct run r;

    struct fake none = {0};
    health_with(&none, &r, NULL, NULL, NULL, NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_string_equal(none.call[0].url, "http://127.0.0.1:8080/healthz");
    assert_string_equal(r.out, "ok\n");

    struct fake conf = {0};
    fake_setenv(&conf, "BOURSE_CONFIG", cfg);
    health_with(&conf, &r, NULL, NULL, NULL, NULL);
    assert_string_equal(conf.call[0].url, "http://from-config:1/healthz");

    struct fake env = {0};
    fake_setenv(&env, "BOURSE_CONFIG", cfg);
    fake_setenv(&env, "BOURSE_URL", "http://from-env:2");
    health_with(&env, &r, NULL, NULL, NULL, NULL);
    assert_string_equal(env.call[0].url, "http://from-env:2/healthz");

    struct fake flag = {0};
    fake_setenv(&flag, "BOURSE_URL", "http://from-env:2");
    health_with(&flag, &r, "--url", "https://from-flag:3/", "--config", cfg);
    assert_string_equal(flag.call[0].url, "https://from-flag:3/healthz");

    struct fake empty = {0};
    fake_setenv(&empty, "BOURSE_URL", "");
    health_with(&empty, &r, "--config", cfg, NULL, NULL);
    assert_string_equal(empty.call[0].url, "http://from-config:1/healthz");

    struct fake bad = {0};
    fake_setenv(&bad, "BOURSE_URL", "localhost:8080");
    health_with(&bad, &r, NULL, NULL, NULL, NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "error: BOURSE_URL must be an http:// or https:// URL");
    assert_int_equal(bad.calls, 0);
    tmpdir_remove(dir);
}

static void test_cli__key_flag_beats_env_beats_config(void **state)
{
    (void)state;
    char dir[64];
    tmpdir_make(dir);
    char cfg[128];
    char secret[128];
    char other[128];
    snprintf(cfg, sizeof(cfg), "%s/cfg", dir);
    snprintf(secret, sizeof(secret), "%s/secret", dir);
    snprintf(other, sizeof(other), "%s/other", dir);
    file_write(cfg, "key = bsk_config\n");
    file_write(secret, "  bsk_from_file \n\n");
    file_write(other, "bsk_config_file\n");
    struct run r;

    struct fake none = {0};
    health_with(&none, &r, NULL, NULL, NULL, NULL);
    assert_string_equal(none.call[0].key, "");

    struct fake conf = {0};
    health_with(&conf, &r, "--config", cfg, NULL, NULL);
    assert_string_equal(conf.call[0].key, "bsk_config");

    struct fake env_file = {0};
    fake_setenv(&env_file, "BOURSE_KEY_FILE", secret);
    health_with(&env_file, &r, "--config", cfg, NULL, NULL);
    assert_string_equal(env_file.call[0].key, "bsk_from_file");

    struct fake env = {0};
    fake_setenv(&env, "BOURSE_KEY_FILE", secret);
    fake_setenv(&env, "BOURSE_KEY", "bsk_env");
    health_with(&env, &r, "--config", cfg, NULL, NULL);
    assert_string_equal(env.call[0].key, "bsk_env");

    struct fake flag_file = {0};
    fake_setenv(&flag_file, "BOURSE_KEY", "bsk_env");
    health_with(&flag_file, &r, "--key-file", secret, NULL, NULL);
    assert_string_equal(flag_file.call[0].key, "bsk_from_file");

    struct fake flag = {0};
    fake_setenv(&flag, "BOURSE_KEY", "bsk_env");
    health_with(&flag, &r, "--key", "bsk_flag", "--config", cfg);
    assert_string_equal(flag.call[0].key, "bsk_flag");

    /* a relative key_file in the configuration is relative to the file's folder */
    file_write(cfg, "key_file = other\n");
    struct fake rel = {0};
    health_with(&rel, &r, "--config", cfg, NULL, NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_string_equal(rel.call[0].key, "bsk_config_file");

    struct fake both = {0};
    health_with(&both, &r, "--key", "bsk_a", "--key-file", secret);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "give only one of --key and --key-file");
    assert_int_equal(both.calls, 0);

    struct fake missing = {0};
    health_with(&missing, &r, "--key-file", "/nonexistent/key", NULL, NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "error: cannot open '/nonexistent/key'");
    assert_int_equal(missing.calls, 0);
    tmpdir_remove(dir);
}

/* ---- keys ---- */

static void test_cli__key_gen_and_load_round_trip(void **state)
{
    (void)state;
    char dir[64];
    tmpdir_make(dir);
    char path[128];
    char pub_path[128];
    snprintf(path, sizeof(path), "%s/k", dir);
    snprintf(pub_path, sizeof(pub_path), "%s/k.pub", dir);
    struct errbuf err;
    errbuf_init(&err);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    assert_int_equal(cli_key_generate(path, pk, &err), ERR_OK);

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char text[128];
    file_slurp(path, text, sizeof(text));
    assert_int_equal(strlen(text), CLI_KEY_B64_LEN + 1);
    assert_int_equal(text[CLI_KEY_B64_LEN], '\n');

    unsigned char sk2[crypto_sign_SECRETKEYBYTES];
    unsigned char pk2[crypto_sign_PUBLICKEYBYTES];
    unsigned char pk3[crypto_sign_PUBLICKEYBYTES];
    assert_int_equal(cli_key_load(path, sk2, pk2, &err), ERR_OK);
    assert_memory_equal(pk, pk2, sizeof(pk));
    assert_int_equal(cli_key_load_public(pub_path, pk3, &err), ERR_OK);
    assert_memory_equal(pk, pk3, sizeof(pk));

    /* the loaded key signs, and the public key verifies */
    static const unsigned char msg[] = "contract";
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk2);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), pk3), 0);

    char encoded[CLI_KEY_B64_LEN + 1];
    cli_key_encode(pk, encoded);
    file_slurp(pub_path, text, sizeof(text));
    assert_memory_equal(text, encoded, CLI_KEY_B64_LEN);
    tmpdir_remove(dir);
}

static void test_cli__key_gen_refuses_to_overwrite(void **state)
{
    (void)state;
    char dir[64];
    tmpdir_make(dir);
    char path[128];
    char pub_path[128];
    snprintf(path, sizeof(path), "%s/k", dir);
    snprintf(pub_path, sizeof(pub_path), "%s/k.pub", dir);
    struct errbuf err;
    errbuf_init(&err);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];

    file_write(path, "precious\n");
    assert_int_equal(cli_key_generate(path, pk, &err), ERR_CONFLICT);
    assert_contains(err.msg, "exists; refusing to overwrite");
    char text[64];
    file_slurp(path, text, sizeof(text));
    assert_string_equal(text, "precious\n");
    assert_int_not_equal(access(pub_path, F_OK), 0);
    unlink(path);

    /* an existing .pub refuses too, and leaves no secret file behind */
    file_write(pub_path, "old\n");
    assert_int_equal(cli_key_generate(path, pk, &err), ERR_CONFLICT);
    assert_int_not_equal(access(path, F_OK), 0);

    /* the command exits 4 */
    struct fake f = {0};
    struct run r;
    run_cmd(&f, &r, "key", "gen", "--out", path, NULL);
    assert_int_equal(r.code, CLI_EXIT_CONFLICT);
    assert_contains(r.err, "refusing to overwrite");
    unlink(pub_path);

    run_cmd(&f, &r, "key", "gen", "--out", path, NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_contains(r.out, "public key:");
    file_slurp(pub_path, text, sizeof(text));
    text[CLI_KEY_B64_LEN] = '\0';
    assert_contains(r.out, text);
    assert_int_equal(f.calls, 0);
    tmpdir_remove(dir);
}

static void test_cli__key_load_rejects_bad_files(void **state)
{
    (void)state;
    char dir[64];
    tmpdir_make(dir);
    char path[128];
    snprintf(path, sizeof(path), "%s/k", dir);
    struct errbuf err;
    errbuf_init(&err);
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    static const char *const bad[] = {
        "",
        "not base64 at all\n",
        "AAAA\n",
        "WGZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=\nX\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        file_write(path, bad[i]);
        assert_int_equal(cli_key_load(path, sk, pk, &err), ERR_INVALID);
        unlink(path);
    }
    assert_int_equal(cli_key_load(path, sk, pk, &err), ERR_IO);
    /* all-zero bytes are not a valid public key */
    assert_int_equal(
        cli_key_public_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 44, pk, &err),
        ERR_INVALID);
    assert_int_equal(cli_key_public_decode(public_key, strlen(public_key), pk, &err), ERR_OK);
    tmpdir_remove(dir);
}

/* ---- usage errors ---- */

static void test_cli__missing_flags_exit_2_without_sending(void **state)
{
    (void)state;
    struct fake f = {0};
    struct run r;
    fake_reply(&f, 201, entity_201);
    run_cmd(&f, &r, "entity", "apply", "--kind", "provider", "--uscc", "91310000MA1FL0000X",
            "--country", "CN", "--contact-name", "Li", "--contact-email", "li@acme.cn",
            "--public-key", public_key, NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "error: missing --name\n");
    assert_contains(r.err, "usage:");
    assert_int_equal(f.calls, 0);

    run_cmd(&f, &r, "entity", "apply", "--kind", "provider", "--name", "Acme", "--uscc", "U",
            "--country", "CN", "--contact-name", "Li", "--contact-email", "li@acme.cn", NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "error: missing --public-key or --public-key-file\n");

    run_cmd(&f, &r, "cert", "issue", "ent_1", NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "error: missing --type\n");

    run_cmd(&f, &r, "cert", "revoke", "ent_1", NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "error: missing CERT_ID\n");

    run_cmd(&f, &r, "key", "gen", NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "error: missing --out\n");
    assert_int_equal(f.calls, 0);
}

static void test_cli__bad_values_exit_2_without_sending(void **state)
{
    (void)state;
    static const struct {
        const char *args[6];
        const char *want;
    } cases[] = {
        {{"entity", "list", "--kind", "bank"}, "--kind must be one of: provider, buyer"},
        {{"entity", "list", "--country", "cn"}, "--country must be an ISO 3166-1 alpha-2"},
        {{"entity", "list", "--limit", "0"}, "--limit must be a whole number from 1 to 1000"},
        {{"entity", "list", "--limit", "12x"}, "--limit must be a whole number"},
        {{"entity", "list", "--q"}, "option '--q' needs a value"},
        {{"entity", "list", "--q", "--all"}, "option '--q' needs a value"},
        {{"entity", "list", "--q="}, "--q needs a non-empty value"},
        {{"entity", "list", "--all=yes"}, "option '--all' takes no value"},
        {{"entity", "list", "--kind", "buyer", "--kind", "broker"}, "'--kind' given twice"},
        {{"entity", "list", "--colour", "red"}, "unknown option '--colour'"},
        {{"entity", "list", "-x"}, "unknown option '-x'"},
        {{"entity", "show", "ent_1", "ent_2"}, "unexpected argument 'ent_2'"},
        {{"entity", "show", "a\x1b[31m"}, "ID is not UTF-8 text without control characters"},
        {{"entity", "review", "ent_1", "--decision", "approve"}, "--decision must be one of"},
        {{"cert", "issue", "ent_1", "--type", "gold"}, "--type must be one of"},
        {{"entity", "list", "--url"}, "option '--url' needs a value"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct fake f = {0};
        struct run r;
        fake_reply(&f, 200, "{\"items\":[],\"next_cursor\":null}");
        char *argv[6];
        int argc = 0;
        while (argc < 6 && cases[i].args[argc] != NULL) {
            argv[argc] = (char *)cases[i].args[argc];
            argc++;
        }
        run_argv(&f, &r, argc, argv);
        assert_int_equal(r.code, CLI_EXIT_USAGE);
        assert_contains(r.err, cases[i].want);
        assert_int_equal(f.calls, 0);
    }
}

static void test_cli__apply_rules_checked_before_sending(void **state)
{
    (void)state;
    struct fake f = {0};
    struct run r;
    fake_reply(&f, 201, entity_201);
    run_cmd(&f, &r, "entity", "apply", "--kind", "provider", "--name", "Acme", "--uscc", "U",
            "--country", "CN", "--contact-name", "Li", "--contact-email", "li@acme.cn",
            "--public-key", public_key, "--speciality", "law", NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "--speciality is only for --kind service_firm");

    run_cmd(&f, &r, "entity", "apply", "--kind", "provider", "--name", "Acme", "--uscc", "U",
            "--country", "CN", "--contact-name", "Li", "--contact-email", "li@acme.cn",
            "--public-key", public_key, "--public-key-file", "/x.pub", NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "give only one of --public-key and --public-key-file");

    run_cmd(&f, &r, "entity", "apply", "--kind", "provider", "--name", "Acme", "--uscc", "U",
            "--country", "CN", "--contact-name", "Li", "--contact-email", "li.acme.cn",
            "--public-key", public_key, NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "--contact-email must be an email address");

    run_cmd(&f, &r, "entity", "apply", "--kind", "provider", "--name", "Acme", "--uscc", "U",
            "--country", "CN", "--contact-name", "Li", "--contact-email", "li@acme.cn",
            "--public-key", "AAAA", NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "--public-key: a public key is the base64 of 32 bytes");

    run_cmd(&f, &r, "entity", "apply", "--kind", "provider", "--name", "Acme", "--uscc", "U",
            "--country", "CN", "--contact-name", "Li", "--contact-email", "li@acme.cn",
            "--public-key-file", "/nonexistent.pub", NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "cannot open '/nonexistent.pub'");
    assert_int_equal(f.calls, 0);
}

static void test_cli__help_and_unknown_commands_exit_2(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        {"help", NULL, NULL},     {"--help", NULL, NULL},   {"entity", NULL, NULL},
        {"entity", "fly", NULL},  {"teleport", NULL, NULL}, {"entity", "apply", "--help"},
        {"help", "entity", NULL}, {"-h", NULL, NULL},       {NULL, NULL, NULL},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct fake f = {0};
        struct run r;
        char *argv[3];
        int argc = 0;
        while (argc < 3 && cases[i][argc] != NULL) {
            argv[argc] = (char *)cases[i][argc];
            argc++;
        }
        run_argv(&f, &r, argc, argv);
        assert_int_equal(r.code, CLI_EXIT_USAGE);
        assert_contains(r.err, "usage:");
        assert_string_equal(r.out, "");
        assert_int_equal(f.calls, 0);
    }
    struct fake f = {0};
    struct run r;
    run_cmd(&f, &r, "entity", "fly", NULL);
    assert_contains(r.err, "error: unknown command 'entity fly'");
    assert_contains(r.err, "bourse entity apply");
    run_cmd(&f, &r, "teleport", NULL);
    assert_contains(r.err, "error: unknown command 'teleport'");
    /* cli_main itself, which must not touch the network for usage either; its usage goes to
     * the real stderr, silenced here */
    char *argv[] = {(char *)"help"};
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    FILE *null = fopen("/dev/null", "w");
    assert_true(saved >= 0 && null != NULL);
    dup2(fileno(null), STDERR_FILENO);
    int code = cli_main(1, argv);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    fclose(null);
    assert_int_equal(code, CLI_EXIT_USAGE);
}

/* ---- requests ---- */

static void test_cli__apply_sends_body_and_headers(void **state)
{
    (void)state;
    struct fake f = {0};
    struct run r;
    fake_reply(&f, 201, entity_201);
    run_cmd(&f, &r, "--key", "bsk_operator", "entity", "apply", "--kind", "service_firm", "--name",
            "Acme Law", "--uscc", "91310000MA1FL0000X", "--country", "CN", "--contact-name",
            "Li Lei", "--contact-email", "li@acme.cn", "--public-key", public_key, "--speciality",
            "law_firm", "--speciality=arbitrator", NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_int_equal(f.calls, 1);
    assert_string_equal(f.call[0].method, "POST");
    assert_string_equal(f.call[0].url, "http://127.0.0.1:8080/v1/entities");
    assert_string_equal(f.call[0].key, "bsk_operator");
    assert_int_equal(strlen(f.call[0].idempotency_key), 2 * CLI_IDEMPOTENCY_KEY_BYTES);
    assert_int_equal(strspn(f.call[0].idempotency_key, "0123456789abcdef"),
                     2 * CLI_IDEMPOTENCY_KEY_BYTES);

    json_error_t jerr;
    json_t *body = json_loads(f.call[0].body, 0, &jerr);
    assert_non_null(body);
    assert_string_equal(cli__json_str(body, "kind"), "service_firm");
    assert_string_equal(cli__json_str(body, "name"), "Acme Law");
    assert_string_equal(cli__json_str(body, "uscc"), "91310000MA1FL0000X");
    assert_string_equal(cli__json_str(body, "country"), "CN");
    assert_string_equal(cli__json_str(body, "public_key"), public_key);
    json_t *contact = json_object_get(body, "contact");
    assert_string_equal(cli__json_str(contact, "name"), "Li Lei");
    assert_string_equal(cli__json_str(contact, "email"), "li@acme.cn");
    assert_null(json_object_get(contact, "phone"));
    json_t *specs = json_object_get(body, "specialities");
    assert_int_equal(json_array_size(specs), 2);
    assert_string_equal(json_string_value(json_array_get(specs, 1)), "arbitrator");
    json_decref(body);

    assert_contains(r.out, "ent_0123456789abcdefghjk");
    assert_contains(r.out, "applied");
    assert_contains(r.out, "bsk_s3cr3t");
    assert_contains(r.out, "shown only once");

    /* specialities only for service firms; a provider's body has none */
    struct fake g = {0};
    fake_reply(&g, 201, entity_201);
    run_cmd(&g, &r, "entity", "apply", "--kind", "provider", "--name", "Acme", "--uscc", "U",
            "--country", "CN", "--contact-name", "Li", "--contact-email", "li@acme.cn",
            "--contact-phone", "+86 21 0000", "--public-key", public_key, "--json", NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_null(strstr(g.call[0].body, "specialities"));
    assert_contains(g.call[0].body, "\"phone\":\"+86 21 0000\"");
    assert_contains(r.out, "\"secret\": \"bsk_s3cr3t\"");
}

static void test_cli__save_key_writes_secret_once(void **state)
{
    (void)state;
    char dir[64];
    tmpdir_make(dir);
    char path[128];
    char pub[128];
    snprintf(path, sizeof(path), "%s/apikey", dir);
    snprintf(pub, sizeof(pub), "%s/k", dir);
    struct errbuf err;
    errbuf_init(&err);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    assert_int_equal(cli_key_generate(pub, pk, &err), ERR_OK);
    snprintf(pub, sizeof(pub), "%s/k.pub", dir);

    struct fake f = {0};
    struct run r;
    fake_reply(&f, 201, entity_201);
    run_cmd(&f, &r, "entity", "apply", "--kind", "buyer", "--name", "Acme", "--uscc", "U",
            "--country", "CN", "--contact-name", "Li", "--contact-email", "li@acme.cn",
            "--public-key-file", pub, "--save-key", path, NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_null(strstr(r.out, "bsk_s3cr3t"));
    assert_contains(r.out, "saved to");
    char text[128];
    file_slurp(path, text, sizeof(text));
    assert_string_equal(text, "bsk_s3cr3t\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char encoded[CLI_KEY_B64_LEN + 1];
    cli_key_encode(pk, encoded);
    assert_contains(f.call[0].body, encoded);

    /* the saved secret works as --key-file */
    struct fake h = {0};
    fake_reply(&h, 200, "{\"status\":\"ok\"}");
    run_cmd(&h, &r, "health", "--key-file", path, NULL);
    assert_string_equal(h.call[0].key, "bsk_s3cr3t");

    /* an existing file is refused before anything is sent */
    struct fake g = {0};
    fake_reply(&g, 201, "{\"id\":\"key_2\",\"secret\":\"bsk_two\"}");
    run_cmd(&g, &r, "apikey", "create", "ent_1", "--save-key", path, NULL);
    assert_int_equal(r.code, CLI_EXIT_CONFLICT);
    assert_contains(r.err, "refusing to overwrite");
    assert_int_equal(g.calls, 0);
    tmpdir_remove(dir);
}

static void test_cli__list_follows_cursor_with_all(void **state)
{
    (void)state;
    static const char page1[] =
        "{\"items\":[{\"id\":\"ent_a\",\"kind\":\"provider\",\"status\":\"verified\","
        "\"country\":\"CN\",\"name\":\"Alpha\"}],\"next_cursor\":\"c/2\"}";
    static const char page2[] =
        "{\"items\":[{\"id\":\"ent_b\",\"kind\":\"buyer\",\"status\":\"applied\","
        "\"country\":\"SG\",\"name\":\"Beta\\u001b[2J\"}],\"next_cursor\":null}";
    struct fake f = {0};
    struct run r;
    fake_reply(&f, 200, page1);
    fake_reply(&f, 200, page2);
    run_cmd(&f, &r, "entity", "list", "--q", "a b&c", "--kind", "provider", "--all", NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_int_equal(f.calls, 2);
    assert_string_equal(f.call[0].url,
                        "http://127.0.0.1:8080/v1/entities?kind=provider&q=a%20b%26c");
    assert_string_equal(f.call[1].url,
                        "http://127.0.0.1:8080/v1/entities?kind=provider&q=a%20b%26c&cursor=c%2F2");
    assert_string_equal(f.call[0].idempotency_key, "");
    assert_contains(r.out, "ID");
    assert_contains(r.out, "ent_a");
    assert_contains(r.out, "Alpha\n");
    assert_contains(r.out, "Beta?[2J\n"); /* the escape character never reaches the terminal */

    struct fake g = {0};
    fake_reply(&g, 200, page1);
    fake_reply(&g, 200, page2);
    run_cmd(&g, &r, "entity", "list", "--all", "--json", NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    json_error_t jerr;
    json_t *doc = json_loads(r.out, 0, &jerr);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 2);
    assert_true(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);

    /* one page without --all names the next cursor */
    struct fake h = {0};
    fake_reply(&h, 200, page1);
    run_cmd(&h, &r, "entity", "list", "--limit", "1", NULL);
    assert_int_equal(h.calls, 1);
    assert_string_equal(h.call[0].url, "http://127.0.0.1:8080/v1/entities?limit=1");
    assert_contains(r.out, "next cursor: c/2");

    /* a server that repeats its cursor does not loop forever */
    struct fake k = {0};
    fake_reply(&k, 200, page1);
    run_cmd(&k, &r, "entity", "list", "--all", NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "same cursor twice");

    struct fake e = {0};
    fake_reply(&e, 200, "{\"items\":[],\"next_cursor\":null}");
    run_cmd(&e, &r, "entity", "list", NULL);
    assert_string_equal(r.out, "no entities\n");
}

static void test_cli__commands_send_the_right_requests(void **state)
{
    (void)state;
    static const struct {
        const char *args[7];
        const char *method;
        const char *path;
        const char *body; /* NULL: no body */
        const char *out;
    } cases[] = {
        {{"entity", "verify", "ent_1", "--reason", "documents ok"},
         "POST",
         "/v1/entities/ent_1/review",
         "{\"decision\":\"verify\",\"reason\":\"documents ok\"}",
         "status:"},
        {{"entity", "review", "ent_1", "--decision", "suspend"},
         "POST",
         "/v1/entities/ent_1/review",
         "{\"decision\":\"suspend\"}",
         "entity:"},
        {{"entity", "show", "ent/../x"}, "GET", "/v1/entities/ent%2F..%2Fx", NULL, "history:"},
        {{"cert", "issue", "ent_1", "--type", "trading"},
         "POST",
         "/v1/entities/ent_1/certificates",
         "{\"type\":\"trading\"}",
         "certificate:"},
        {{"cert", "revoke", "ent_1", "crt_2", "--reason", "expired"},
         "DELETE",
         "/v1/entities/ent_1/certificates/crt_2",
         "{\"reason\":\"expired\"}",
         "revoked at:"},
        {{"cert", "revoke", "ent_1", "crt_2"},
         "DELETE",
         "/v1/entities/ent_1/certificates/crt_2",
         "{}",
         "log index:"},
        {{"apikey", "create", "ent_1", "--label", "ci"},
         "POST",
         "/v1/entities/ent_1/keys",
         "{\"label\":\"ci\"}",
         "shown only once"},
        {{"apikey", "revoke", "key_9"}, "DELETE", "/v1/keys/key_9", NULL, "revoked at:"},
        {{"health"}, "GET", "/healthz", NULL, "ok"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct fake f = {0};
        struct run r;
        fake_reply(&f, 200, "{\"id\":\"x_1\",\"status\":\"ok\",\"secret\":\"bsk_1\"}");
        char *argv[7];
        int argc = 0;
        while (argc < 7 && cases[i].args[argc] != NULL) {
            argv[argc] = (char *)cases[i].args[argc];
            argc++;
        }
        run_argv(&f, &r, argc, argv);
        assert_int_equal(r.code, CLI_EXIT_OK);
        assert_int_equal(f.calls, 1);
        assert_string_equal(f.call[0].method, cases[i].method);
        assert_string_equal(f.call[0].url + strlen("http://127.0.0.1:8080"), cases[i].path);
        assert_int_equal(f.call[0].has_body, cases[i].body != NULL);
        if (cases[i].body != NULL) {
            assert_string_equal(f.call[0].body, cases[i].body);
        }
        int mutation = strcmp(cases[i].method, "GET") != 0;
        assert_int_equal(f.call[0].idempotency_key[0] != '\0', mutation);
        assert_contains(r.out, cases[i].out);
    }
}

static void test_cli__global_options_after_verb(void **state)
{
    (void)state;
    struct fake f = {0};
    struct run r;
    fake_reply(&f, 200, "{\"id\":\"ent_1\",\"status\":\"verified\"}");
    run_cmd(&f, &r, "entity", "show", "ent_1", "--url=http://h:9", "--json", "--key", "bsk_k",
            NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_string_equal(f.call[0].url, "http://h:9/v1/entities/ent_1");
    assert_string_equal(f.call[0].key, "bsk_k");
    assert_contains(r.out, "\"status\": \"verified\"");

    /* after "--" nothing is an option */
    struct fake g = {0};
    fake_reply(&g, 200, "{\"id\":\"--json\"}");
    run_cmd(&g, &r, "entity", "show", "--", "--json", NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_string_equal(g.call[0].url, "http://127.0.0.1:8080/v1/entities/--json");
}

static void test_cli__unexpected_answers_exit_1(void **state)
{
    (void)state;
    struct fake f = {0};
    struct run r;
    fake_reply(&f, 200, "[1,2]");
    run_cmd(&f, &r, "entity", "show", "ent_1", NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "not a JSON object");

    struct fake g = {0};
    fake_reply(&g, 200, "{\"items\":3}");
    run_cmd(&g, &r, "entity", "list", NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);

    struct fake h = {0};
    fake_reply(&h, 200, "ok\n");
    run_cmd(&h, &r, "health", NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_string_equal(r.out, "ok\n");
}

/* Every allocation failure on the way through a command fails cleanly (ASan checks leaks). */
static void test_cli__allocation_failures_fail_cleanly(void **state)
{
    (void)state;
    int code = -1;
    for (long n = 1; n < 1000 && code != CLI_EXIT_OK; n++) {
        struct fake f = {0};
        struct run r;
        fake_reply(&f, 201, entity_201);
        fake_reply(&f, 201, entity_201);
        mem_fail_after(n);
        run_cmd(&f, &r, "entity", "apply", "--kind", "service_firm", "--name", "Acme", "--uscc",
                "U", "--country", "CN", "--contact-name", "Li", "--contact-email", "li@acme.cn",
                "--public-key", public_key, "--speciality", "law", NULL);
        mem_fail_after(0);
        code = r.code;
        assert_true(code == CLI_EXIT_OK || code == CLI_EXIT_FAILURE || code == CLI_EXIT_INVALID);
    }
    assert_int_equal(code, CLI_EXIT_OK);
}

/* ---- log: a small signed tree built with tlog, and its files ---- */

#define TEST_LOG_ORIGIN "bourse.test/log"

struct test_log {
    struct tlog_signer signer;
    char key[TLOG_VERIFIER_KEY_MAX]; /* the verifier key string */
    uint8_t hashes[64][TLOG_HASH_LEN];
    uint64_t hash_count;
};

static enum err test_log_read_cb(void *ctx, const uint64_t *indexes, size_t count,
                                 uint8_t (*out)[TLOG_HASH_LEN], struct errbuf *err)
{
    const struct test_log *l = ctx;
    for (size_t i = 0; i < count; i++) {
        if (indexes[i] >= l->hash_count) {
            return err_set(err, ERR_NOT_FOUND, "", "no hash %llu", (unsigned long long)indexes[i]);
        }
        memcpy(out[i], l->hashes[indexes[i]], TLOG_HASH_LEN);
    }
    return ERR_OK;
}

/* A log of `leaves` leaves "<prefix> <i>", signed by the key made from 32 bytes seed_byte. */
static void test_log_build(struct test_log *l, uint64_t leaves, const char *prefix,
                           uint8_t seed_byte)
{
    memset(l, 0, sizeof(*l));
    uint8_t seed[TLOG_SEED_LEN];
    memset(seed, seed_byte, sizeof(seed));
    struct errbuf err;
    errbuf_init(&err);
    assert_int_equal(tlog_signer_from_seed(TEST_LOG_ORIGIN, seed, &l->signer, &err), ERR_OK);
    struct tlog_verifier v;
    tlog_signer_verifier(&l->signer, &v);
    tlog_verifier_format(&v, l->key);
    struct tlog_hash_reader reader = {test_log_read_cb, l};
    for (uint64_t i = 0; i < leaves; i++) {
        char leaf[32];
        int n = snprintf(leaf, sizeof(leaf), "%s %llu", prefix, (unsigned long long)i);
        uint8_t h[TLOG_HASH_LEN];
        tlog_leaf_hash(leaf, (size_t)n, h);
        uint8_t out[TLOG_STORED_HASHES_MAX][TLOG_HASH_LEN];
        size_t count = 0;
        assert_int_equal(tlog_stored_hashes(i, h, &reader, out, &count, &err), ERR_OK);
        assert_true(l->hash_count + count <= ARRAY_LEN(l->hashes));
        memcpy(l->hashes[l->hash_count], out, count * TLOG_HASH_LEN);
        l->hash_count += count;
    }
}

/* Appends the signed checkpoint of the first `size` leaves, claiming `origin`, to note. */
static void test_log_checkpoint(struct test_log *l, uint64_t size, const char *origin,
                                struct buf *note)
{
    struct errbuf err;
    errbuf_init(&err);
    struct tlog_checkpoint cp;
    memset(&cp, 0, sizeof(cp));
    snprintf(cp.origin, sizeof(cp.origin), "%s", origin);
    cp.tree_size = size;
    struct tlog_hash_reader reader = {test_log_read_cb, l};
    assert_int_equal(tlog_tree_hash(size, &reader, cp.root_hash, &err), ERR_OK);
    assert_int_equal(tlog_checkpoint_sign(&cp, &l->signer, note, &err), ERR_OK);
}

static void test_log_checkpoint_file(struct test_log *l, uint64_t size, const char *path)
{
    struct buf note;
    buf_init(&note, TLOG_NOTE_MAX);
    test_log_checkpoint(l, size, TEST_LOG_ORIGIN, &note);
    file_write(path, note.data);
    buf_release(&note);
}

/* Writes the inclusion proof file of leaf `index` in the tree of `size` leaves; the file
 * states file_index and its checkpoint claims `origin`. */
static void test_log_inclusion_file(struct test_log *l, uint64_t size, uint64_t index,
                                    uint64_t file_index, const char *origin, const char *path)
{
    struct errbuf err;
    errbuf_init(&err);
    struct buf note;
    struct buf file;
    buf_init(&note, TLOG_NOTE_MAX);
    buf_init(&file, TLOG_PROOF_FILE_MAX);
    test_log_checkpoint(l, size, origin, &note);
    struct tlog_hash_reader reader = {test_log_read_cb, l};
    struct tlog_proof proof;
    assert_int_equal(tlog_prove_record(size, index, &reader, &proof, &err), ERR_OK);
    assert_int_equal(
        tlog_inclusion_file_format(file_index, &proof, note.data, note.len, &file, &err), ERR_OK);
    file_write(path, file.data);
    buf_release(&note);
    buf_release(&file);
}

/* Appends the consistency proof file from old_size to size (with the checkpoint at size). */
static void test_log_consistency(struct test_log *l, uint64_t old_size, uint64_t size,
                                 struct buf *file)
{
    struct errbuf err;
    errbuf_init(&err);
    struct buf note;
    buf_init(&note, TLOG_NOTE_MAX);
    test_log_checkpoint(l, size, TEST_LOG_ORIGIN, &note);
    struct tlog_hash_reader reader = {test_log_read_cb, l};
    struct tlog_proof proof;
    assert_int_equal(tlog_prove_tree(size, old_size, &reader, &proof, &err), ERR_OK);
    assert_int_equal(
        tlog_consistency_file_format(old_size, &proof, note.data, note.len, file, &err), ERR_OK);
    buf_release(&note);
}

static void test_log_consistency_file(struct test_log *l, uint64_t old_size, uint64_t size,
                                      const char *path)
{
    struct buf file;
    buf_init(&file, TLOG_PROOF_FILE_MAX);
    test_log_consistency(l, old_size, size, &file);
    file_write(path, file.data);
    buf_release(&file);
}

/* Changes one base64 character `skip` bytes after the first `anchor` in the file. */
static void file_flip(const char *path, const char *anchor, size_t skip)
{
    char text[TEXT_MAX];
    file_slurp(path, text, sizeof(text));
    char *p = strstr(text, anchor);
    assert_non_null(p);
    p += strlen(anchor) + skip;
    *p = *p == 'A' ? 'B' : 'A';
    file_write(path, text);
}

/* The files of the log tests, in a temporary folder. */
struct log_files {
    char dir[64];
    char key[128];     /* the verifier key file */
    char key_arg[130]; /* "@" + key */
    char other[128];   /* another key */
    char other_arg[130];
    char leaf[128];
    char proof[128];
    char old[128];
    char cp[128];
    char cons[128];
    char state[128];
};

static void log_files_make(struct log_files *lf, const struct test_log *l)
{
    tmpdir_make(lf->dir);
    const struct {
        char *path;
        const char *name;
    } names[] = {{lf->key, "key"}, {lf->other, "other"}, {lf->leaf, "leaf"}, {lf->proof, "proof"},
                 {lf->old, "old"}, {lf->cp, "cp"},       {lf->cons, "cons"}, {lf->state, "state"}};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        snprintf(names[i].path, 128, "%s/%s", lf->dir, names[i].name);
    }
    snprintf(lf->key_arg, sizeof(lf->key_arg), "@%s", lf->key);
    snprintf(lf->other_arg, sizeof(lf->other_arg), "@%s", lf->other);
    char line[TLOG_VERIFIER_KEY_MAX + 2];
    snprintf(line, sizeof(line), "%s\n", l->key);
    file_write(lf->key, line);
    struct test_log stranger;
    test_log_build(&stranger, 0, "x", 0x43);
    snprintf(line, sizeof(line), "%s\n", stranger.key);
    file_write(lf->other, line);
}

static void log_files_remove(const struct log_files *lf)
{
    const char *const paths[] = {lf->key, lf->other, lf->leaf, lf->proof,
                                 lf->old, lf->cp,    lf->cons, lf->state};
    for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
        unlink(paths[i]);
    }
    assert_int_equal(rmdir(lf->dir), 0);
}

/* Runs an offline `log verify ARGS...` and checks that it sent nothing. */
#define log_verify_offline(r, ...)                                                                 \
    do {                                                                                           \
        struct fake offline_ = {0};                                                                \
        run_cmd(&offline_, (r), "log", "verify", __VA_ARGS__, NULL);                               \
        assert_int_equal(offline_.calls, 0);                                                       \
    } while (0)

static void test_cli__log_verify_inclusion_offline(void **state)
{
    (void)state;
    struct test_log l;
    test_log_build(&l, 7, "event", 0x42);
    struct log_files lf;
    log_files_make(&lf, &l);
    struct run r;
    file_write(lf.leaf, "event 5");
    test_log_inclusion_file(&l, 7, 5, 5, TEST_LOG_ORIGIN, lf.proof);

    log_verify_offline(&r, "--log-key", lf.key_arg, "--proof", lf.proof, "--leaf", lf.leaf);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_contains(r.out, "verified:     entry 5 is in the log\n");
    assert_contains(r.out, "origin:       " TEST_LOG_ORIGIN "\n");
    assert_contains(r.out, "tree size:    7\n");
    log_verify_offline(&r, "--log-key", l.key, "--proof", lf.proof, "--leaf", lf.leaf);
    assert_int_equal(r.code, CLI_EXIT_OK);

    /* --leaf-hash instead of the leaf's bytes */
    uint8_t h[TLOG_HASH_LEN];
    char b64[64];
    tlog_leaf_hash("event 5", 7, h);
    sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
    log_verify_offline(&r, "--log-key", lf.key_arg, "--proof", lf.proof, "--leaf-hash", b64);
    assert_int_equal(r.code, CLI_EXIT_OK);

    /* a flipped byte in the leaf */
    file_write(lf.leaf, "Event 5");
    log_verify_offline(&r, "--log-key", lf.key_arg, "--proof", lf.proof, "--leaf", lf.leaf);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "error: proof: ");
    file_write(lf.leaf, "event 5");

    /* a flipped byte in a proof hash */
    file_flip(lf.proof, "index 5\n", 3);
    log_verify_offline(&r, "--log-key", lf.key_arg, "--proof", lf.proof, "--leaf", lf.leaf);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "error: proof: ");

    /* a flipped byte in the checkpoint's root */
    test_log_inclusion_file(&l, 7, 5, 5, TEST_LOG_ORIGIN, lf.proof);
    file_flip(lf.proof, "\n\n" TEST_LOG_ORIGIN "\n7\n", 3);
    log_verify_offline(&r, "--log-key", lf.key_arg, "--proof", lf.proof, "--leaf", lf.leaf);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "error: signature: ");

    /* the wrong key */
    test_log_inclusion_file(&l, 7, 5, 5, TEST_LOG_ORIGIN, lf.proof);
    log_verify_offline(&r, "--log-key", lf.other_arg, "--proof", lf.proof, "--leaf", lf.leaf);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "error: signature: ");

    /* an index beyond the tree, and a checkpoint of another origin signed by the same key */
    test_log_inclusion_file(&l, 7, 5, 9, TEST_LOG_ORIGIN, lf.proof);
    log_verify_offline(&r, "--log-key", lf.key_arg, "--proof", lf.proof, "--leaf", lf.leaf);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "error: index beyond size: entry 9");
    test_log_inclusion_file(&l, 7, 5, 5, "other.test/log", lf.proof);
    log_verify_offline(&r, "--log-key", lf.key_arg, "--proof", lf.proof, "--leaf", lf.leaf);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "error: origin mismatch: ");

    /* a malformed key is invalid input; no key at all is a usage error */
    log_verify_offline(&r, "--log-key", "nonsense", "--proof", lf.proof, "--leaf", lf.leaf);
    assert_int_equal(r.code, CLI_EXIT_INVALID);
    assert_contains(r.err, "--log-key is not a log verifier key");
    log_verify_offline(&r, "--proof", lf.proof, "--leaf", lf.leaf, "--leaf-hash", b64);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    log_verify_offline(&r, "--proof", lf.proof, "--leaf", lf.leaf);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_contains(r.err, "offline verification needs the key");
    log_files_remove(&lf);
}

static void test_cli__log_verify_consistency_offline(void **state)
{
    (void)state;
    struct test_log l;
    test_log_build(&l, 7, "event", 0x42);
    struct log_files lf;
    log_files_make(&lf, &l);
    struct run r;
    test_log_checkpoint_file(&l, 3, lf.old);
    test_log_checkpoint_file(&l, 7, lf.cp);
    test_log_consistency_file(&l, 3, 7, lf.cons);

    log_verify_offline(&r, "--log-key", lf.key_arg, "--old-checkpoint", lf.old, "--consistency",
                       lf.cons);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_contains(r.out, "the tree of 3 entries is a prefix of the tree of 7\n");

    /* newer to older is refused */
    log_verify_offline(&r, "--log-key", lf.key_arg, "--old-checkpoint", lf.cp, "--consistency",
                       lf.cons);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "error: proof: ");

    /* a flipped proof hash, and a flipped old checkpoint */
    file_flip(lf.cons, "old 3\n", 3);
    log_verify_offline(&r, "--log-key", lf.key_arg, "--old-checkpoint", lf.old, "--consistency",
                       lf.cons);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "error: proof: ");
    test_log_consistency_file(&l, 3, 7, lf.cons);
    file_flip(lf.old, TEST_LOG_ORIGIN "\n3\n", 3);
    log_verify_offline(&r, "--log-key", lf.key_arg, "--old-checkpoint", lf.old, "--consistency",
                       lf.cons);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "error: old checkpoint '");
    assert_contains(r.err, "signature: ");

    /* a fork: another history under the same key does not extend the old checkpoint */
    test_log_checkpoint_file(&l, 3, lf.old);
    struct test_log fork;
    test_log_build(&fork, 7, "fork", 0x42);
    test_log_consistency_file(&fork, 3, 7, lf.cons);
    log_verify_offline(&r, "--log-key", lf.key_arg, "--old-checkpoint", lf.old, "--consistency",
                       lf.cons);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "error: proof: ");

    /* the wrong key */
    test_log_consistency_file(&l, 3, 7, lf.cons);
    log_verify_offline(&r, "--log-key", lf.other_arg, "--old-checkpoint", lf.old, "--consistency",
                       lf.cons);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);

    /* --consistency needs --old-checkpoint */
    log_verify_offline(&r, "--log-key", lf.key_arg, "--consistency", lf.cons);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    log_files_remove(&lf);
}

static void test_cli__log_verify_checkpoint_offline(void **state)
{
    (void)state;
    struct test_log l;
    test_log_build(&l, 5, "event", 0x42);
    struct log_files lf;
    log_files_make(&lf, &l);
    struct run r;
    test_log_checkpoint_file(&l, 5, lf.cp);
    log_verify_offline(&r, "--log-key", lf.key_arg, "--checkpoint", lf.cp);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_contains(r.out, "verified:     signature and origin\n");
    log_verify_offline(&r, "--log-key", lf.key_arg, "--checkpoint", lf.cp, "--proof", lf.cp);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    struct fake f = {0};
    run_cmd(&f, &r, "--json", "log", "verify", "--log-key", lf.key_arg, "--checkpoint", lf.cp,
            NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_int_equal(f.calls, 0);
    assert_contains(r.out, "\"verified\": \"checkpoint\"");
    assert_contains(r.out, "\"tree_size\": 5");
    run_cmd(&f, &r, "log", "verify", "--log-key", lf.other_arg, "--checkpoint", lf.cp, NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "signature: note has no signature by key");
    file_flip(lf.cp, TEST_LOG_ORIGIN "\n5\n", 0);
    run_cmd(&f, &r, "log", "verify", "--log-key", lf.key_arg, "--checkpoint", lf.cp, NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "signature: invalid signature");
    assert_int_equal(f.calls, 0);
    log_files_remove(&lf);
}

/* Runs `log watch --once` against one or two scripted answers. */
static void log_watch_once(struct run *r, const struct log_files *lf, const char *body1,
                           const char *body2)
{
    struct fake f = {0};
    fake_reply(&f, 200, body1);
    if (body2 != NULL) {
        fake_reply(&f, 200, body2);
    }
    run_cmd(&f, r, "log", "watch", "--state", lf->state, "--log-key", lf->key_arg, "--once", NULL);
    assert_string_equal(f.call[0].url, "http://127.0.0.1:8080/log/checkpoint");
    if (body2 != NULL) {
        assert_int_equal(f.calls, 2);
    }
}

static void test_cli__log_watch_alerts_and_keeps_state(void **state)
{
    (void)state;
    struct test_log l;
    struct test_log fork;
    test_log_build(&l, 7, "event", 0x42);
    test_log_build(&fork, 9, "fork", 0x42);
    struct log_files lf;
    log_files_make(&lf, &l);
    struct run r;
    struct buf a3, a7, fork3, fork9, cons37, cons79;
    struct buf *bufs[] = {&a3, &a7, &fork3, &fork9, &cons37, &cons79};
    for (size_t i = 0; i < ARRAY_LEN(bufs); i++) {
        buf_init(bufs[i], TLOG_PROOF_FILE_MAX);
    }
    test_log_checkpoint(&l, 3, TEST_LOG_ORIGIN, &a3);
    test_log_checkpoint(&l, 7, TEST_LOG_ORIGIN, &a7);
    test_log_checkpoint(&fork, 3, TEST_LOG_ORIGIN, &fork3);
    test_log_checkpoint(&fork, 9, TEST_LOG_ORIGIN, &fork9);
    test_log_consistency(&l, 3, 7, &cons37);
    test_log_consistency(&fork, 7, 9, &cons79);
    char saved[TEXT_MAX];
    char now[TEXT_MAX];

    /* the first round pins the key and the checkpoint */
    log_watch_once(&r, &lf, a3.data, NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_contains(r.out, "ok: pinned key of '" TEST_LOG_ORIGIN "' at 3 entries");
    file_slurp(lf.state, saved, sizeof(saved));
    assert_contains(saved, "bourse/log-watch-state@v1\nkey ");
    assert_contains(saved, a3.data);

    /* the same size with another root */
    log_watch_once(&r, &lf, fork3.data, NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "ALERT: fork: two signed roots for tree size 3");
    file_slurp(lf.state, now, sizeof(now));
    assert_string_equal(now, saved);

    /* growth with a good consistency proof */
    struct fake f = {0};
    fake_reply(&f, 200, a7.data);
    fake_reply(&f, 200, cons37.data);
    run_cmd(&f, &r, "log", "watch", "--state", lf.state, "--once", NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_string_equal(f.call[1].url, "http://127.0.0.1:8080/v1/log/proofs/"
                                       "consistency?from=3&to=7&format=file");
    assert_contains(r.out, "ok: grew from 3 to 7 entries");
    file_slurp(lf.state, saved, sizeof(saved));
    assert_contains(saved, a7.data);
    log_watch_once(&r, &lf, a7.data, NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_contains(r.out, "ok: unchanged at 7 entries");

    /* a shrunk log, a forked log that grew, and a checkpoint under another key */
    log_watch_once(&r, &lf, a3.data, NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "ALERT: the log shrank from 7 to 3 entries");
    log_watch_once(&r, &lf, fork9.data, cons79.data);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "ALERT: the tree of 7 entries is not a prefix of the tree of 9");
    struct test_log stranger;
    test_log_build(&stranger, 7, "event", 0x43);
    buf_reset(&a3);
    test_log_checkpoint(&stranger, 7, TEST_LOG_ORIGIN, &a3);
    log_watch_once(&r, &lf, a3.data, NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "ALERT: signature: ");
    file_slurp(lf.state, now, sizeof(now));
    assert_string_equal(now, saved);

    /* a --log-key other than the pinned one is refused; a damaged state file is an error */
    struct fake g = {0};
    run_cmd(&g, &r, "log", "watch", "--state", lf.state, "--log-key", lf.other_arg, "--once", NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "not the key the state file pinned");
    file_flip(lf.state, TEST_LOG_ORIGIN "\n7\n", 3);
    run_cmd(&g, &r, "log", "watch", "--state", lf.state, "--once", NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "is damaged");
    assert_int_equal(g.calls, 0);
    for (size_t i = 0; i < ARRAY_LEN(bufs); i++) {
        buf_release(bufs[i]);
    }
    log_files_remove(&lf);
}

static void test_cli__log_entry_and_prove(void **state)
{
    (void)state;
    struct test_log l;
    test_log_build(&l, 1, "event", 0x42);
    struct log_files lf;
    log_files_make(&lf, &l);
    struct run r;
    /* leaf_hash of "x\u00e9" is checked against the leaf's bytes, which --out writes */
    uint8_t h[TLOG_HASH_LEN];
    char b64[64];
    tlog_leaf_hash("x\xc3\xa9", 3, h);
    sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
    char body[256];
    snprintf(body, sizeof(body),
             "{\"index\":4,\"type\":\"t\",\"leaf\":\"x\\u00e9\",\"leaf_hash\":\"%s\"}", b64);
    struct fake f = {0};
    fake_reply(&f, 200, body);
    run_cmd(&f, &r, "log", "entry", "4", "--out", lf.leaf, NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_string_equal(f.call[0].url, "http://127.0.0.1:8080/v1/log/entries/4");
    char leaf[16];
    file_slurp(lf.leaf, leaf, sizeof(leaf));
    assert_string_equal(leaf, "x\xc3\xa9");
    run_cmd(&f, &r, "log", "entry", "4", "--out", lf.leaf, NULL);
    assert_int_equal(r.code, CLI_EXIT_CONFLICT); /* never overwrites */
    struct fake g = {0};
    fake_reply(&g, 200, "{\"index\":4,\"leaf\":\"y\",\"leaf_hash\":\"AAAA\"}");
    run_cmd(&g, &r, "log", "entry", "4", NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_contains(r.err, "does not match its leaf");
    run_cmd(&g, &r, "log", "entry", "-4", NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);

    /* prove: one of --index and --from, checked before sending */
    struct fake h2 = {0};
    run_cmd(&h2, &r, "log", "prove", "--out", lf.proof, NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    run_cmd(&h2, &r, "log", "prove", "--index", "1", "--to", "3", "--out", lf.proof, NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    run_cmd(&h2, &r, "log", "prove", "--index", "01", "--out", lf.proof, NULL);
    assert_int_equal(r.code, CLI_EXIT_USAGE);
    assert_int_equal(h2.calls, 0);
    struct buf cons;
    buf_init(&cons, TLOG_PROOF_FILE_MAX);
    test_log_build(&l, 7, "event", 0x42);
    test_log_consistency(&l, 3, 7, &cons);
    fake_reply(&h2, 200, cons.data);
    run_cmd(&h2, &r, "log", "prove", "--from", "3", "--to", "7", "--out", lf.cons, NULL);
    assert_int_equal(r.code, CLI_EXIT_OK);
    assert_string_equal(h2.call[0].url, "http://127.0.0.1:8080/v1/log/proofs/"
                                        "consistency?from=3&to=7&format=file");
    char saved[TEXT_MAX];
    file_slurp(lf.cons, saved, sizeof(saved));
    assert_string_equal(saved, cons.data);
    struct fake k = {0};
    fake_reply(&k, 200, "not a proof\n");
    run_cmd(&k, &r, "log", "prove", "--index", "2", "--out", lf.proof, NULL);
    assert_int_equal(r.code, CLI_EXIT_FAILURE);
    assert_string_equal(k.call[0].url, "http://127.0.0.1:8080/v1/log/proofs/"
                                       "inclusion?index=2&format=file");
    assert_int_not_equal(access(lf.proof, F_OK), 0);
    buf_release(&cons);
    log_files_remove(&lf);
}

/* Every allocation failure in an offline verification fails cleanly (ASan checks leaks). */
static void test_cli__log_verify_allocation_failures(void **state)
{
    (void)state;
    struct test_log l;
    test_log_build(&l, 7, "event", 0x42);
    struct log_files lf;
    log_files_make(&lf, &l);
    file_write(lf.leaf, "event 5");
    test_log_inclusion_file(&l, 7, 5, 5, TEST_LOG_ORIGIN, lf.proof);
    int code = -1;
    for (long n = 1; n < 1000 && code != CLI_EXIT_OK; n++) {
        struct run r;
        mem_fail_after(n);
        log_verify_offline(&r, "--log-key", lf.key_arg, "--proof", lf.proof, "--leaf", lf.leaf);
        mem_fail_after(0);
        code = r.code;
        assert_true(code == CLI_EXIT_OK || code == CLI_EXIT_FAILURE);
    }
    assert_int_equal(code, CLI_EXIT_OK);
    log_files_remove(&lf);
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0) {
        return -1;
    }
    json_set_alloc_funcs(mem_alloc, mem_free);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli__exit_code_from_status),
        cmocka_unit_test(test_cli__server_statuses_become_exit_codes),
        cmocka_unit_test(test_cli__problem_prints_detail_and_field),
        cmocka_unit_test(test_cli__unreachable_server_exits_7),
        cmocka_unit_test(test_cli__config_parses_names_comments_blanks),
        cmocka_unit_test(test_cli__config_errors_name_the_line),
        cmocka_unit_test(test_cli__config_error_is_a_usage_error),
        cmocka_unit_test(test_cli__url_flag_beats_env_beats_config),
        cmocka_unit_test(test_cli__key_flag_beats_env_beats_config),
        cmocka_unit_test(test_cli__key_gen_and_load_round_trip),
        cmocka_unit_test(test_cli__key_gen_refuses_to_overwrite),
        cmocka_unit_test(test_cli__key_load_rejects_bad_files),
        cmocka_unit_test(test_cli__missing_flags_exit_2_without_sending),
        cmocka_unit_test(test_cli__bad_values_exit_2_without_sending),
        cmocka_unit_test(test_cli__apply_rules_checked_before_sending),
        cmocka_unit_test(test_cli__help_and_unknown_commands_exit_2),
        cmocka_unit_test(test_cli__apply_sends_body_and_headers),
        cmocka_unit_test(test_cli__save_key_writes_secret_once),
        cmocka_unit_test(test_cli__list_follows_cursor_with_all),
        cmocka_unit_test(test_cli__commands_send_the_right_requests),
        cmocka_unit_test(test_cli__global_options_after_verb),
        cmocka_unit_test(test_cli__unexpected_answers_exit_1),
        cmocka_unit_test(test_cli__allocation_failures_fail_cleanly),
        cmocka_unit_test(test_cli__log_verify_inclusion_offline),
        cmocka_unit_test(test_cli__log_verify_consistency_offline),
        cmocka_unit_test(test_cli__log_verify_checkpoint_offline),
        cmocka_unit_test(test_cli__log_watch_alerts_and_keeps_state),
        cmocka_unit_test(test_cli__log_entry_and_prove),
        cmocka_unit_test(test_cli__log_verify_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
