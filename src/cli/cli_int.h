/*
 * cli_int.h: declarations shared by the cli module's own files and by its white-box unit tests.
 * Nothing outside src/cli/ and tests/unit/cli_test.c includes it.
 *
 * Shape of the module:
 *   cli.c      cli_main, global options, the table of commands, dispatch, usage, exit codes
 *   args.c     the option parser each command runs over its arguments, and value checks
 *   config.c   the configuration file and the flag > environment > file precedence
 *   request.c  the one request function, the libcurl transport, problem reports, JSON output
 *   output.c   human rendering helpers (safe text, aligned fields)
 *   key.c      key files and `bourse key gen`
 *   health.c, entity.c, cert.c, apikey.c, log.c: one file per noun, each with its command rows
 *
 * Adding a noun: write its file with a `const struct cli_command cli__<noun>_commands[]` table
 * ended by an all-NULL row, and list the table in cli.c.
 */
#ifndef BOURSE_CLI_INT_H
#define BOURSE_CLI_INT_H

#include <jansson.h>
#include <stdio.h>

#include "cli/cli.h"

/* ---- limits ----------------------------------------------------------------------------- */

/* The largest response body accepted: far above a page of any list, and a bound on what a
 * broken or hostile server can make us hold in memory. */
#define CLI_RESPONSE_BYTES_MAX (16u << 20)
/* Request bodies are built from flags, so they are small. */
#define CLI_REQUEST_BYTES_MAX (1u << 20)
#define CLI_TIMEOUT_MS 30000L
#define CLI_CONNECT_TIMEOUT_MS 10000L
/* A configuration file is a handful of lines. */
#define CLI_CONFIG_BYTES_MAX (64u << 10)
/* Key files and API key files hold one short line. */
#define CLI_KEY_FILE_BYTES_MAX 4096u
/* One flag value or positional argument. */
#define CLI_VALUE_BYTES_MAX 4096u
#define CLI_URL_BYTES_MAX 2048u
/* A request path with its query: a few escaped values, each at most three times its length. */
#define CLI_PATH_BYTES_MAX (64u << 10)
#define CLI_API_KEY_BYTES_MAX 512u
/* Arguments after the verb; commands take a few dozen at most (repeated --speciality). */
#define CLI_ARGS_MAX 128
#define CLI_POSITIONAL_MAX 4
/* The largest --limit accepted for list pages. */
#define CLI_LIST_LIMIT_MAX 1000
/* --all stops after this many pages: a server whose cursors never end would loop forever. */
#define CLI_PAGES_MAX 100000
#define CLI_IDEMPOTENCY_KEY_BYTES 16
#define CLI_DEFAULT_URL "http://127.0.0.1:8080"

/* ---- injected environment and transport ------------------------------------------------- */

/* Looks up an environment variable; NULL when unset. The default wraps getenv(). */
typedef const char *cli_env_fn(void *ctx, const char *name);

/* One HTTP exchange as the transport sees it. All pointers are borrowed for the call. */
struct cli_http_request {
    const char *method;          /* "GET", "POST" or "DELETE" */
    const char *url;             /* absolute */
    const char *body;            /* JSON text, or NULL for none */
    size_t body_len;             /* bytes of body */
    const char *key;             /* API key for "Authorization: Bearer", or NULL */
    const char *idempotency_key; /* for "Idempotency-Key", or NULL */
};

/*
 * Sends one request and appends the response body to `body` (whose max bounds it). Sets *status
 * to the HTTP status. Errors: ERR_UNAVAILABLE when the server cannot be reached (err holds only
 * the transport's reason), ERR_LIMIT when the body is too large, ERR_NOMEM.
 */
typedef enum err cli_transport_fn(void *ctx, const struct cli_http_request *req, long *status,
                                  struct buf *body, struct errbuf *err);

/* The libcurl transport (ctx unused). */
enum err cli__transport_curl(void *ctx, const struct cli_http_request *req, long *status,
                             struct buf *body, struct errbuf *err);

/* ---- the client context ----------------------------------------------------------------- */

struct cli {
    FILE *out;    /* results, and JSON with --json; borrowed */
    FILE *errout; /* errors and usage; borrowed */
    cli_env_fn *env;
    void *env_ctx;
    cli_transport_fn *transport;
    void *transport_ctx;
    const struct rng *rng; /* Idempotency-Key source */
    int json;              /* --json was given */
    char *url;             /* base URL without trailing '/'; owned, set by cli__settings_resolve */
    char *key;             /* API key or NULL; owned, wiped on release */
};

/* Defaults: stdout, stderr, getenv, libcurl, libsodium's RNG, no settings. Cannot fail. */
void cli__init(struct cli *c);
/* Frees the settings (wiping the key) and re-initialises them. Accepts NULL. */
void cli__release(struct cli *c);
/* cli_main without the library set-up: parses argv, runs the command, returns the exit code. */
int cli__run(struct cli *c, int argc, char **argv);

/* Exit code for an HTTP status (2xx is CLI_EXIT_OK). Cannot fail. */
int cli__exit_from_status(long status);
/* Exit code for a local failure. Cannot fail. */
int cli__exit_from_err(enum err code);

/* ---- global options, configuration ------------------------------------------------------ */

/* The global options as given on the command line; values borrowed from argv, NULL if absent. */
struct cli_global {
    const char *url;
    const char *key;
    const char *key_file;
    const char *config;
    int json;
    int help;
};

/*
 * Takes the global options out of argv, wherever they are (up to a "--"), and copies the other
 * arguments in order to rest[0..*rest_count-1]; rest has room for argc pointers. Errors:
 * ERR_INVALID (a usage error: missing or repeated value), with the message in err.
 */
enum err cli__global_extract(int argc, char **argv, struct cli_global *g, char **rest,
                             int *rest_count, struct errbuf *err);

/* What a configuration file says; each string owned, NULL when the file does not set it. */
struct cli_config {
    char *url;
    char *key;
    char *key_file;
};

void cli__config_init(struct cli_config *cfg);
/* Frees (wiping the key) and re-initialises. Accepts NULL. */
void cli__config_release(struct cli_config *cfg);
/*
 * Parses configuration text: lines "name = value", blank lines, and lines starting with '#'.
 * Names: url, key, key_file. `origin` names the file in messages. On failure cfg is left as
 * it was. Errors: ERR_INVALID naming the line (no '=', unknown or repeated name, empty value,
 * bad characters), ERR_NOMEM.
 */
enum err cli__config_parse(const char *origin, const char *text, size_t len, struct cli_config *cfg,
                           struct errbuf *err);
/* Reads and parses the file at path. Errors: those of cli__config_parse, ERR_IO, ERR_LIMIT. */
enum err cli__config_load(const char *path, struct cli_config *cfg, struct errbuf *err);

/*
 * Fills c->url and c->key from flags, then the environment (BOURSE_URL, BOURSE_KEY,
 * BOURSE_KEY_FILE, BOURSE_CONFIG), then the configuration file, then the default URL. Flags
 * beat the environment and the environment beats the file; within one level a key beats a key
 * file. Errors: ERR_INVALID (a usage or configuration error), ERR_IO and ERR_LIMIT (a file
 * cannot be read), ERR_NOMEM. On failure c's settings are unchanged.
 */
enum err cli__settings_resolve(struct cli *c, const struct cli_global *g, struct errbuf *err);

/* ---- commands and their options --------------------------------------------------------- */

enum cli_option_flags {
    CLI_OPT_VALUE = 1 << 0,    /* takes a value: --name VALUE or --name=VALUE */
    CLI_OPT_REPEAT = 1 << 1,   /* may be given more than once */
    CLI_OPT_REQUIRED = 1 << 2, /* must be given */
};

/* Checks a flag value beyond "non-empty UTF-8 text"; `option` is its name without dashes. */
typedef enum err cli_check_fn(const char *option, const char *value, struct errbuf *err);

struct cli_option {
    const char *name;           /* without the leading "--" */
    unsigned flags;             /* enum cli_option_flags */
    const char *const *choices; /* NULL-terminated list of allowed values, or NULL */
    cli_check_fn *check;        /* or NULL */
};

/* The parsed arguments after the verb; values borrowed from argv. */
struct cli_args {
    const char *positional[CLI_POSITIONAL_MAX];
    size_t positional_count;
    struct cli_arg {
        const struct cli_option *option;
        const char *value; /* NULL for options without a value */
    } items[CLI_ARGS_MAX];
    size_t item_count;
};

struct cli_command;

/* Runs a parsed command and returns its exit code (enum cli_exit). */
typedef int cli_handler_fn(struct cli *c, const struct cli_command *cmd, const struct cli_args *a);

enum cli_command_flags {
    CLI_CMD_LOCAL = 1 << 0, /* never talks to the server, so needs no URL or key */
};

struct cli_command {
    const char *noun;
    const char *verb; /* NULL when the noun alone is the command ("health") */
    cli_handler_fn *run;
    const char *preset;               /* a constant for the handler (a shortcut's decision) */
    const struct cli_option *options; /* ended by a row with name NULL */
    const char *const *positional;    /* names of required positional arguments, NULL-ended */
    unsigned flags;                   /* enum cli_command_flags */
    const char *synopsis;             /* arguments after the verb, for usage */
    const char *summary;              /* one line for usage */
};

/* The commands of each noun, each table ended by a row with noun NULL. */
extern const struct cli_command cli__key_commands[];
extern const struct cli_command cli__health_commands[];
extern const struct cli_command cli__entity_commands[];
extern const struct cli_command cli__cert_commands[];
extern const struct cli_command cli__apikey_commands[];
extern const struct cli_command cli__log_commands[];
extern const struct cli_command cli__product_commands[];
extern const struct cli_command cli__policy_commands[];
extern const struct cli_command cli__rights_commands[];
extern const struct cli_command cli__assessment_commands[];
extern const struct cli_command cli__db_commands[];
extern const struct cli_command cli__ledger_commands[];
extern const struct cli_command cli__fee_commands[];
extern const struct cli_command cli__price_commands[];
/* `price index` (price_index.c): its handler and options, a row of cli__price_commands. */
extern const struct cli_option cli__price_index_options[];
cli_handler_fn cli__price_index;
extern const struct cli_command cli__listing_commands[];
extern const struct cli_command cli__demand_commands[];
extern const struct cli_command cli__inbox_commands[];
extern const struct cli_command cli__demo_commands[];
/* contract.c: contracts and disputes */
extern const struct cli_command cli__contract_commands[];
extern const struct cli_command cli__dispute_commands[];
/* trading (trade.c) */
extern const struct cli_command cli__order_commands[];
extern const struct cli_command cli__negotiation_commands[];
extern const struct cli_command cli__auction_commands[];
/* delivery.c: custody */
extern const struct cli_command cli__upload_commands[];
extern const struct cli_command cli__download_commands[];
/* trace.c: traces and fingerprint declarations */
extern const struct cli_command cli__trace_commands[];
extern const struct cli_command cli__object_commands[];
extern const struct cli_command cli__token_commands[];

/*
 * Parses argv[0..argc-1] (what follows the verb) against cmd's options and positional names:
 * checks every value, and that required options and positional arguments are there. Errors:
 * ERR_INVALID (a usage error, e.g. "missing --name"), with the message in err.
 */
enum err cli__args_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *a,
                         struct errbuf *err);
/* The (last) value of option `name`, or NULL when absent. Cannot fail. */
const char *cli__arg(const struct cli_args *a, const char *name);
/* 1 when option `name` was given. Cannot fail. */
int cli__arg_given(const struct cli_args *a, const char *name);

/* Value checks for options. Each returns ERR_OK or ERR_INVALID naming the option. The URL and
 * API key checks are for settings: their `option` is a description ("--url", "BOURSE_URL"). */
enum err cli__check_country(const char *option, const char *value, struct errbuf *err);
enum err cli__check_email(const char *option, const char *value, struct errbuf *err);
enum err cli__check_limit(const char *option, const char *value, struct errbuf *err);
enum err cli__check_public_key(const char *option, const char *value, struct errbuf *err);
enum err cli__check_url(const char *option, const char *value, struct errbuf *err);
enum err cli__check_api_key(const char *option, const char *value, struct errbuf *err);

/* Choice lists shared by several commands, NULL-ended. */
extern const char *const cli__entity_kinds[];
extern const char *const cli__entity_statuses[];

/* Prints "error: <msg>" (sanitised) on c->errout. Cannot fail. */
void cli__error(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the usage of one command on c->errout. Cannot fail. */
void cli__usage_command(struct cli *c, const struct cli_command *cmd);
/* Prints "error: <msg>" and the command's usage; returns CLI_EXIT_USAGE. Cannot fail. */
int cli__usage_error(struct cli *c, const struct cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- requests --------------------------------------------------------------------------- */

struct cli_response {
    long status;    /* HTTP status, 0 before a response */
    struct buf raw; /* the body bytes, at most CLI_RESPONSE_BYTES_MAX */
    json_t *json;   /* the parsed body; NULL when empty or not JSON; owned */
};

void cli__response_init(struct cli_response *r);
/* Frees the body and re-initialises. Accepts NULL. */
void cli__response_release(struct cli_response *r);

/*
 * Sends `method` `path` (absolute path with query, appended to c->url) with `body` (borrowed;
 * NULL for none) and the headers every request carries, and fills resp (which must be freshly
 * initialised or released). POST and DELETE get a fresh Idempotency-Key. A response with an
 * error status is not an error here: check resp->status. Errors: ERR_UNAVAILABLE ("cannot reach
 * '<url>': <reason>"), ERR_LIMIT (body too large), ERR_NOMEM.
 */
enum err cli__request(struct cli *c, const char *method, const char *path, const json_t *body,
                      struct cli_response *resp, struct errbuf *err);

/*
 * Turns the outcome of cli__request into an exit code: prints the local error, or the server's
 * problem (and with --json the problem body on c->out), and returns the mapped code; returns
 * CLI_EXIT_OK for a 2xx status and prints nothing then. Cannot fail.
 */
int cli__response_check(struct cli *c, enum err rc, const struct errbuf *err,
                        const struct cli_response *resp);

/* Prints the body of a 2xx response as pretty JSON (raw text if not JSON). Cannot fail. */
void cli__print_body(struct cli *c, const struct cli_response *resp);
/* Prints json pretty on c->out followed by a newline. Cannot fail. */
void cli__json_print(struct cli *c, const json_t *json);

/* Appends `s` percent-encoded (curl_easy_escape) to b. Errors: ERR_NOMEM, ERR_LIMIT. */
enum err cli__url_escape_append(struct buf *b, const char *s);
/*
 * Appends a path to b: parts[0], parts[2], ... as they are and parts[1], parts[3], ...
 * percent-encoded, so that ids from the command line stay one path segment. Errors: ERR_NOMEM,
 * ERR_LIMIT.
 */
enum err cli__path(struct buf *b, const char *const *parts, size_t count);

/* Renders the JSON object of a 2xx answer for a person. */
typedef void cli_render_fn(struct cli *c, const json_t *body);

/*
 * The whole life of a simple command: sends the request, reports failure, and prints the answer
 * (as JSON with --json, else through render, which gets a JSON object). Returns the exit code;
 * an answer that is not a JSON object is CLI_EXIT_FAILURE. Cannot fail otherwise.
 */
int cli__call(struct cli *c, const char *method, const char *path, const json_t *body,
              cli_render_fn *render);

/*
 * For answers that carry an API key secret (the server shows it once): saves key's "secret" to
 * save_to when not NULL (mode 0600, O_EXCL; on failure the secret is printed instead so it is
 * not lost), then prints the body with --json or else render(body) and the key. Returns the exit
 * code. Cannot fail otherwise.
 */
int cli__api_key_deliver(struct cli *c, const json_t *body, const json_t *key, const char *save_to,
                         cli_render_fn *render);

/* Sets obj[key] to the string value; nothing when value is NULL. Errors: ERR_NOMEM. */
enum err cli__json_put(json_t *obj, const char *key, const char *value);

/* ---- output ----------------------------------------------------------------------------- */

/* Writes s with control characters (C0, DEL, C1) replaced by '?', so that text from the
 * server cannot drive the terminal. NULL prints "-". Returns the columns written. */
size_t cli__print_text(FILE *f, const char *s);
/* cli__print_text padded with spaces to `width` columns. */
void cli__print_cell(FILE *f, const char *s, size_t width);
/* Prints "<label>:" padded to a fixed column, then the value and a newline. */
void cli__print_field(struct cli *c, const char *label, const char *value);
/* The string member `key` of obj, or NULL when absent or not a string. */
const char *cli__json_str(const json_t *obj, const char *key);
/* Prints "<label>: <value>" for an integer member, "-" when absent. */
void cli__print_field_int(struct cli *c, const char *label, const json_t *obj, const char *key);
/* Renders the 201 body of an API key creation (entity apply, apikey create): id and secret,
 * or where the secret was saved. Cannot fail. */
void cli__print_api_key(struct cli *c, const json_t *key, const char *saved_to);

/* ---- supply-side helpers (product.c) ---------------------------------------------------- */

/* SHA-256 of a file read in chunks (any size) as 64 hex digits, and its size. Errors: ERR_IO,
 * ERR_NOMEM. */
enum err cli__file_sha256(const char *path, char hex[65], int64_t *size, struct errbuf *err);
/* Appends base, then "?q=v&..." for each pair (option name, query name) of pairs whose option
 * was given, values escaped. Errors: ERR_NOMEM, ERR_LIMIT. */
enum err cli__query_path(struct buf *path, const char *base, const char *const *pairs, size_t count,
                         const struct cli_args *a);
/* GETs a list page and prints it: --json as is, else header and row(item) for each item (or
 * empty when there are none) and the next cursor. Returns the exit code. */
int cli__list_call(struct cli *c, const char *path, cli_render_fn *row, const char *header,
                   const char *empty);

/* ---- files ------------------------------------------------------------------------------ */

/*
 * Reads the whole file at path into a new NUL-terminated buffer (caller wipes if secret and
 * frees with mem_free). Errors: ERR_IO, ERR_LIMIT (more than max bytes), ERR_NOMEM.
 */
enum err cli__file_read(const char *path, size_t max, char **out, size_t *len, struct errbuf *err);
/*
 * Creates path with O_EXCL and `mode`, writes data, fsyncs and closes it; on failure removes
 * what it created. Errors: ERR_CONFLICT (the file exists), ERR_IO.
 */
enum err cli__file_create(const char *path, unsigned mode, const void *data, size_t len,
                          struct errbuf *err);
/* ERR_CONFLICT when something exists at path (so that a secret shown once is not lost to a
 * refused write after the server made it), else ERR_OK. */
enum err cli__file_absent(const char *path, struct errbuf *err);

#endif
