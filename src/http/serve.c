/*
 * serve.c: `bourse serve`. Reads the configuration (flags beat environment, environment beats
 * the config file), prepares the data directory and its secrets, opens the store, creates
 * the operator on first start, and runs the server.
 *
 * Data directory layout (all files 0600, the directory 0700):
 *   bourse.db         the SQLite store (embedded default)
 *   secret.key        32 random bytes: the root of keyed hashes (API keys) and later of
 *                     encryption keys; a copy of the database without it cannot authenticate
 *   operator.ed25519  the operator's Ed25519 seed (base64), the exchange's signing identity
 *   operator.key      the operator's first API key, written before the store commits it
 *   log.key           the transparency log's signing key (Go note signer format); its name
 *                     is the log's origin, fixed at first start by log_origin
 *   master.key        32 random bytes: the root of the keys that seal uploaded files at rest
 *                     (delivery.h); --master-key FILE keeps it elsewhere (then it is not created)
 *   objects/, uploads/  sealed object files and staged upload chunks (src/delivery/custody.c)
 *
 * Several nodes on one PostgreSQL database are one exchange, so they need the same secret.key,
 * log.key and operator.ed25519 (copy them from the first node's data directory). The first
 * start records in the store's meta table what each key is (the log's verifier key, a keyed
 * hash under secret.key, the operator's public key), and every start compares: a node with
 * other keys refuses to start instead of signing a divergent log or rejecting every API key.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"

#define SERVE_PATH_MAX 4096
#define SERVE_CONFIG_MAX (64 * 1024)

struct serve_config {
    char listen[256];
    char data[SERVE_PATH_MAX];
    char db[SERVE_PATH_MAX];
    char log_level[16];
    char log_origin[TLOG_ORIGIN_MAX + 1];
    char rate_limit[24]; /* limits.c: requests a second per caller, "0" off */
    char rate_burst[24];
    char idempotency_ttl[24];
    char master_key[SERVE_PATH_MAX]; /* custody: the master key file ("": <data>/master.key) */
    char max_object_size[24];        /* custody: the largest upload in bytes */
    char trace_fp_bound[32];         /* traces: the largest false-accusation probability */
    char db_pool[24];                /* pool.c: store connections ("": the backend's default) */
};

static enum err config_set(struct serve_config *cfg, const char *name, const char *value,
                           struct errbuf *err)
{
    struct {
        const char *name;
        char *dst;
        size_t cap;
    } keys[] = {
        {"listen", cfg->listen, sizeof(cfg->listen)},
        {"data", cfg->data, sizeof(cfg->data)},
        {"db", cfg->db, sizeof(cfg->db)},
        {"log_level", cfg->log_level, sizeof(cfg->log_level)},
        {"log_origin", cfg->log_origin, sizeof(cfg->log_origin)},
        {"rate_limit", cfg->rate_limit, sizeof(cfg->rate_limit)},
        {"rate_burst", cfg->rate_burst, sizeof(cfg->rate_burst)},
        {"idempotency_ttl", cfg->idempotency_ttl, sizeof(cfg->idempotency_ttl)},
        {"master_key", cfg->master_key, sizeof(cfg->master_key)},
        {"max_object_size", cfg->max_object_size, sizeof(cfg->max_object_size)},
        {"trace_fp_bound", cfg->trace_fp_bound, sizeof(cfg->trace_fp_bound)},
        {"db_pool", cfg->db_pool, sizeof(cfg->db_pool)},
    };
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        if (strcmp(keys[i].name, name) == 0) {
            if (strlen(value) >= keys[i].cap) {
                return err_set(err, ERR_LIMIT, name, "value of '%s' is too long", name);
            }
            snprintf(keys[i].dst, keys[i].cap, "%s", value);
            return ERR_OK;
        }
    }
    return ERR_NOT_FOUND;
}

/* Config file: `name = value` lines, '#' comments; client-only names are ignored. */
static enum err config_file(struct serve_config *cfg, const char *path, struct errbuf *err)
{
    char *text = NULL;
    size_t len = 0;
    enum err rc = file_read(path, SERVE_CONFIG_MAX, &text, &len, err);
    if (rc != ERR_OK) {
        return rc;
    }
    int lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL && rc == ERR_OK;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        while (*line == ' ' || *line == '\t') {
            line++;
        }
        if (*line == '#' || *line == '\0' || *line == '\r') {
            continue;
        }
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            rc =
                err_set(err, ERR_INVALID, "config", "%s:%d: expected 'name = value'", path, lineno);
            break;
        }
        char *name_end = eq;
        while (name_end > line && (name_end[-1] == ' ' || name_end[-1] == '\t')) {
            name_end--;
        }
        *name_end = '\0';
        char *value = eq + 1;
        while (*value == ' ' || *value == '\t') {
            value++;
        }
        size_t vl = strlen(value);
        while (vl > 0 && (value[vl - 1] == ' ' || value[vl - 1] == '\r')) {
            value[--vl] = '\0';
        }
        rc = config_set(cfg, line, value, err);
        if (rc == ERR_NOT_FOUND) {
            rc = strcmp(line, "url") == 0 || strcmp(line, "key") == 0
                     ? ERR_OK
                     : err_set(err, ERR_INVALID, "config", "%s:%d: unknown setting '%s'", path,
                               lineno, line);
        }
    }
    mem_free(text);
    return rc;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bourse serve [--listen HOST:PORT] [--data DIR] [--db URI]\n"
            "                    [--config FILE] [--log-level debug|info|warn|error]\n"
            "                    [--log-origin NAME]\n"
            "                    [--rate-limit N] [--rate-burst N] [--idempotency-ttl 24h]\n"
            "                    [--master-key FILE] [--max-object-size BYTES]\n"
            "                    [--trace-fp-bound P] [--db-pool N]\n"
            "environment: BOURSE_LISTEN, BOURSE_DATA, BOURSE_DB, BOURSE_CONFIG,\n"
            "             BOURSE_LOG_ORIGIN, BOURSE_RATE_LIMIT, BOURSE_RATE_BURST,\n"
            "             BOURSE_IDEMPOTENCY_TTL, BOURSE_MASTER_KEY_FILE,\n"
            "             BOURSE_MAX_OBJECT_SIZE, BOURSE_TRACE_FP_BOUND, BOURSE_DB_POOL\n");
}

static enum err config_load(int argc, char **argv, struct serve_config *cfg, struct errbuf *err)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"data", required_argument, NULL, 'd'},
        {"db", required_argument, NULL, 'b'},
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'v'},
        {"rate-limit", required_argument, NULL, 'r'},
        {"rate-burst", required_argument, NULL, 'u'},
        {"idempotency-ttl", required_argument, NULL, 't'},
        {"master-key", required_argument, NULL, 'm'},
        {"max-object-size", required_argument, NULL, 's'},
        {"trace-fp-bound", required_argument, NULL, 'f'},
        {"db-pool", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct serve_config flags;
    memset(&flags, 0, sizeof(flags));
    memset(cfg, 0, sizeof(*cfg));
    const char *config_path = getenv("BOURSE_CONFIG");
    optind = 1;
    for (;;) {
        int c = getopt_long(argc, argv, "", opts, NULL);
        if (c == -1) {
            break;
        }
        enum err rc = ERR_OK;
        switch (c) {
        case 'l':
            rc = config_set(&flags, "listen", optarg, err);
            break;
        case 'd':
            rc = config_set(&flags, "data", optarg, err);
            break;
        case 'b':
            rc = config_set(&flags, "db", optarg, err);
            break;
        case 'v':
            rc = config_set(&flags, "log_level", optarg, err);
            break;
        case 'o':
            rc = config_set(&flags, "log_origin", optarg, err);
            break;
        case 'r':
            rc = config_set(&flags, "rate_limit", optarg, err);
            break;
        case 'u':
            rc = config_set(&flags, "rate_burst", optarg, err);
            break;
        case 't':
            rc = config_set(&flags, "idempotency_ttl", optarg, err);
            break;
        case 'm':
            rc = config_set(&flags, "master_key", optarg, err);
            break;
        case 's':
            rc = config_set(&flags, "max_object_size", optarg, err);
            break;
        case 'f':
            rc = config_set(&flags, "trace_fp_bound", optarg, err);
            break;
        case 'p':
            rc = config_set(&flags, "db_pool", optarg, err);
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            usage();
            exit(0);
        default:
            usage();
            return err_set(err, ERR_INVALID, "", "bad arguments to serve");
        }
        if (rc != ERR_OK) {
            return rc;
        }
    }
    if (optind < argc) {
        usage();
        return err_set(err, ERR_INVALID, "", "unexpected argument '%s'", argv[optind]);
    }
    /* Lowest precedence first: defaults, file, environment, flags. */
    config_set(cfg, "listen", "127.0.0.1:8080", err);
    config_set(cfg, "data", "./data", err);
    config_set(cfg, "log_level", "info", err);
    if (config_path != NULL) {
        enum err rc = config_file(cfg, config_path, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    const char *env[][2] = {{"BOURSE_LISTEN", "listen"},
                            {"BOURSE_DATA", "data"},
                            {"BOURSE_DB", "db"},
                            {"BOURSE_LOG_LEVEL", "log_level"},
                            {"BOURSE_RATE_LIMIT", "rate_limit"},
                            {"BOURSE_RATE_BURST", "rate_burst"},
                            {"BOURSE_IDEMPOTENCY_TTL", "idempotency_ttl"},
                            {"BOURSE_MASTER_KEY_FILE", "master_key"},
                            {"BOURSE_MAX_OBJECT_SIZE", "max_object_size"},
                            {"BOURSE_TRACE_FP_BOUND", "trace_fp_bound"},
                            {"BOURSE_DB_POOL", "db_pool"}};
    for (size_t i = 0; i < ARRAY_LEN(env); i++) {
        const char *v = getenv(env[i][0]);
        if (v != NULL && v[0] != '\0' && config_set(cfg, env[i][1], v, err) != ERR_OK) {
            return ERR_LIMIT;
        }
    }
    const char *names[] = {"listen",
                           "data",
                           "db",
                           "log_level",
                           "log_origin",
                           "rate_limit",
                           "rate_burst",
                           "idempotency_ttl",
                           "master_key",
                           "max_object_size",
                           "trace_fp_bound",
                           "db_pool"};
    const char *values[] = {flags.listen,
                            flags.data,
                            flags.db,
                            flags.log_level,
                            flags.log_origin,
                            flags.rate_limit,
                            flags.rate_burst,
                            flags.idempotency_ttl,
                            flags.master_key,
                            flags.max_object_size,
                            flags.trace_fp_bound,
                            flags.db_pool};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        if (values[i][0] != '\0') {
            config_set(cfg, names[i], values[i], err);
        }
    }
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < ARRAY_LEN(levels); i++) {
        if (strcmp(levels[i], cfg->log_level) == 0) {
            log_set_level((enum log_level)i);
            return ERR_OK;
        }
    }
    return err_set(err, ERR_INVALID, "log_level", "unknown log level '%s'", cfg->log_level);
}

static enum err data_path(char *out, const struct serve_config *cfg, const char *name,
                          struct errbuf *err)
{
    int n = snprintf(out, SERVE_PATH_MAX, "%s/%s", cfg->data, name);
    if (n < 0 || n >= SERVE_PATH_MAX) {
        return err_set(err, ERR_LIMIT, "data", "data directory path is too long");
    }
    return ERR_OK;
}

/* Reads the limits of limits.c into srv: the rate (default HTTP_RATE_DEFAULT, 0 turns them
 * off), the burst (default twice the rate) and the idempotency retention (default 24 h).
 * ERR_INVALID naming the setting. */
static enum err config_limits(const struct serve_config *cfg, struct http_server *srv,
                              struct errbuf *err)
{
    srv->rate_limit = HTTP_RATE_DEFAULT;
    srv->idem_ttl_ms = HTTP_IDEM_TTL_DEFAULT_MS;
    enum err rc = ERR_OK;
    if (cfg->rate_limit[0] != '\0') {
        rc = http__limit_parse(cfg->rate_limit, "rate_limit", 0, HTTP_RATE_MAX, &srv->rate_limit,
                               err);
    }
    srv->rate_burst = srv->rate_limit > 0 ? 2 * srv->rate_limit : 0;
    if (rc == ERR_OK && cfg->rate_burst[0] != '\0') {
        rc = http__limit_parse(cfg->rate_burst, "rate_burst", 1, HTTP_BURST_MAX, &srv->rate_burst,
                               err);
    }
    if (rc == ERR_OK && cfg->idempotency_ttl[0] != '\0') {
        rc = http__duration_parse(cfg->idempotency_ttl, "idempotency_ttl", &srv->idem_ttl_ms, err);
    }
    return rc;
}

/* The number of store connections (pool.c): db_pool, or the backend's default (PostgreSQL
 * HTTP_DB_POOL_PG_DEFAULT, SQLite 1). SQLite is always one: the server holds the database file
 * exclusively (locking_mode EXCLUSIVE, decision 0003), so no second connection could read. */
static enum err config_pool(const struct serve_config *cfg, const char *db, struct http_server *srv,
                            struct errbuf *err)
{
    int shared = store_uri_shared(db);
    srv->db_pool = shared ? HTTP_DB_POOL_PG_DEFAULT : 1;
    if (cfg->db_pool[0] == '\0') {
        return ERR_OK;
    }
    enum err rc =
        http__limit_parse(cfg->db_pool, "db_pool", 1, HTTP_DB_POOL_MAX, &srv->db_pool, err);
    if (rc == ERR_OK && !shared && srv->db_pool != 1) {
        rc = err_set(err, ERR_INVALID, "db_pool",
                     "the SQLite store has one connection (the server holds its file "
                     "exclusively); --db-pool %lld needs PostgreSQL",
                     (long long)srv->db_pool);
    }
    return rc;
}

/* Loads `<data>/secret.key`, creating it with 32 random bytes on first start. */
static enum err load_secret(const struct serve_config *cfg, unsigned char secret[32],
                            struct errbuf *err)
{
    char path[SERVE_PATH_MAX];
    enum err rc = data_path(path, cfg, "secret.key", err);
    if (rc != ERR_OK) {
        return rc;
    }
    char *data = NULL;
    size_t len = 0;
    rc = file_read(path, 64, &data, &len, err);
    if (rc == ERR_NOT_FOUND) {
        randombytes_buf(secret, 32);
        return file_write_atomic(path, secret, 32, 0600, FILE_EXCL, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (len != 32) {
        mem_free(data);
        return err_set(err, ERR_CORRUPT, "", "'%s' must hold exactly 32 bytes", path);
    }
    memcpy(secret, data, 32);
    sodium_memzero(data, len);
    mem_free(data);
    return ERR_OK;
}

/* Loads or creates the operator's Ed25519 key; returns its public half in base64. */
static enum err load_operator_key(const struct serve_config *cfg, char pk_b64[STORE_PUBKEY_MAX],
                                  struct errbuf *err)
{
    char path[SERVE_PATH_MAX];
    enum err rc = data_path(path, cfg, "operator.ed25519", err);
    if (rc != ERR_OK) {
        return rc;
    }
    unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    char *data = NULL;
    size_t len = 0;
    rc = file_read(path, 256, &data, &len, err);
    if (rc == ERR_NOT_FOUND) {
        randombytes_buf(seed, sizeof(seed));
        char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof(b64), seed, sizeof(seed), sodium_base64_VARIANT_ORIGINAL);
        size_t bl = strlen(b64);
        b64[bl] = '\n';
        rc = file_write_atomic(path, b64, bl + 1, 0600, FILE_EXCL, err);
        sodium_memzero(b64, sizeof(b64));
    } else if (rc == ERR_OK) {
        size_t seed_len = 0;
        if (sodium_base642bin(seed, sizeof(seed), data, len, "\n", &seed_len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            seed_len != sizeof(seed)) {
            rc = err_set(err, ERR_CORRUPT, "", "'%s' is not a base64 Ed25519 seed", path);
        }
        sodium_memzero(data, len);
        mem_free(data);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(sk, sizeof(sk));
    sodium_bin2base64(pk_b64, STORE_PUBKEY_MAX, pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
    return ERR_OK;
}

/*
 * Loads `<data>/log.key`, creating it on first start with the configured origin (default
 * "bourse.local/log/<16 random hex>", unique per exchange) as its name. The origin of an
 * existing log never changes: a different configured origin is an error.
 */
static enum err load_log_key(const struct serve_config *cfg, struct tlog_signer *signer,
                             struct errbuf *err)
{
    char path[SERVE_PATH_MAX];
    enum err rc = data_path(path, cfg, "log.key", err);
    if (rc != ERR_OK) {
        return rc;
    }
    char *data = NULL;
    size_t len = 0;
    rc = file_read(path, TLOG_SIGNER_KEY_MAX + 2, &data, &len, err);
    if (rc == ERR_OK) {
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r')) {
            len--;
        }
        rc = tlog_signer_parse(data, len, signer, err);
        sodium_memzero(data, len);
        mem_free(data);
        if (rc == ERR_OK && cfg->log_origin[0] != '\0' &&
            strcmp(cfg->log_origin, signer->name) != 0) {
            rc = err_set(err, ERR_INVALID, "log_origin",
                         "the log's origin is '%s' and cannot become '%s'", signer->name,
                         cfg->log_origin);
        }
        return rc;
    }
    if (rc != ERR_NOT_FOUND) {
        return rc;
    }
    char name[TLOG_ORIGIN_MAX + 1];
    if (cfg->log_origin[0] != '\0') {
        snprintf(name, sizeof(name), "%s", cfg->log_origin);
    } else {
        unsigned char r[8];
        char hex[17];
        randombytes_buf(r, sizeof(r));
        sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
        snprintf(name, sizeof(name), "bourse.local/log/%s", hex);
    }
    uint8_t seed[TLOG_SEED_LEN];
    randombytes_buf(seed, sizeof(seed));
    rc = tlog_signer_from_seed(name, seed, signer, err);
    sodium_memzero(seed, sizeof(seed));
    if (rc != ERR_OK) {
        return err_set(err, ERR_INVALID, "log_origin", "bad log origin '%s': %s", name, err->msg);
    }
    char line[TLOG_SIGNER_KEY_MAX + 1];
    tlog_signer_format(signer, line);
    size_t n = strlen(line);
    line[n] = '\n';
    rc = file_write_atomic(path, line, n + 1, 0600, FILE_EXCL, err);
    sodium_memzero(line, sizeof(line));
    return rc;
}

/* What this node's key files are, as recorded in the meta table. */
struct key_marks {
    char secret_check[2 * crypto_generichash_BYTES + 1]; /* hex of a keyed hash under secret.key */
    const char *log_verifier;                            /* the log's verifier key (public) */
    const char *operator_key;                            /* the operator's public key, base64 */
};

/* The keyed hash of a constant under secret.key: equal for equal keys, and reveals nothing. */
static void secret_check_make(const unsigned char secret[32],
                              char out[2 * crypto_generichash_BYTES + 1])
{
    static const char label[] = "bourse secret.key check v1";
    unsigned char h[crypto_generichash_BYTES];
    crypto_generichash(h, sizeof(h), (const unsigned char *)label, sizeof(label) - 1, secret, 32);
    sodium_bin2hex(out, 2 * crypto_generichash_BYTES + 1, h, sizeof(h));
}

/* Records the marks of the key files on first start and compares them on every later one,
 * inside the caller's transaction (which on PostgreSQL serialises nodes starting together).
 * ERR_CONFLICT naming the file when this node's key differs from the exchange's. */
static enum err keys_check(struct store *s, const struct serve_config *cfg,
                           const struct key_marks *marks, struct errbuf *err)
{
    ASSERT(store_tx_depth(s) > 0);
    const struct {
        const char *meta;
        const char *file;
        const char *value;
    } checks[] = {
        {"key.secret_check", "secret.key", marks->secret_check},
        {"key.log_verifier", "log.key", marks->log_verifier},
        {"key.operator_public", "operator.ed25519", marks->operator_key},
    };
    for (size_t i = 0; i < ARRAY_LEN(checks); i++) {
        char *stored = NULL;
        enum err rc = store_meta_get(s, checks[i].meta, &stored, err);
        if (rc == ERR_NOT_FOUND) {
            rc = store_meta_put(s, checks[i].meta, checks[i].value, err);
        } else if (rc == ERR_OK && strcmp(stored, checks[i].value) != 0) {
            rc = err_set(err, ERR_CONFLICT, "data",
                         "'%s/%s' is not the key this exchange's database was started with; "
                         "every node on one database needs the same secret.key, log.key and "
                         "operator.ed25519",
                         cfg->data, checks[i].file);
        }
        mem_free(stored);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return ERR_OK;
}

/* Checks the key files against the database, then creates the operator on an empty exchange,
 * in one transaction: of several nodes starting together on an empty PostgreSQL database, the
 * first creates the operator and records its keys, and the others wait (writer lock), then
 * find both. The key file is written and synced inside the store transaction, before the
 * commit, so a crash leaves either both or (harmlessly) a key file for an operator that a
 * restart creates afresh. */
static enum err bootstrap(struct http_server *srv, const struct serve_config *cfg,
                          const struct key_marks *marks, int *created, struct errbuf *err)
{
    char path[SERVE_PATH_MAX];
    enum err rc = data_path(path, cfg, "operator.key", err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = store_tx_begin(srv->core.store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct core_new_key key;
    rc = keys_check(srv->core.store, cfg, marks, err);
    if (rc == ERR_OK) {
        rc = core_bootstrap(&srv->core, marks->operator_key, created, &key, err);
    }
    if (rc == ERR_OK && *created) {
        char line[CORE_API_SECRET_MAX + 2];
        int n = snprintf(line, sizeof(line), "%s\n", key.secret);
        rc = file_write_atomic(path, line, (size_t)n, 0600, 0, err);
        sodium_memzero(line, sizeof(line));
        sodium_memzero(key.secret, sizeof(key.secret));
    }
    if (rc != ERR_OK) {
        store_tx_rollback(srv->core.store);
        return rc;
    }
    return store_tx_commit(srv->core.store, err);
}

int http_serve_main(int argc, char **argv)
{
    struct serve_config cfg;
    struct errbuf err;
    errbuf_init(&err);
    struct http_server srv;
    memset(&srv, 0, sizeof(srv));
    int code = 1;
    if (sodium_init() < 0) {
        fprintf(stderr, "error: cannot initialise libsodium\n");
        return 1;
    }
    enum err rc = config_load(argc, argv, &cfg, &err);
    if (rc != ERR_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 2;
    }
    rc = config_limits(&cfg, &srv, &err);
    if (rc == ERR_OK) {
        rc = config_pool(&cfg, cfg.db, &srv, &err); /* cfg.db "": <data>/bourse.db, SQLite */
    }
    if (rc != ERR_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 2;
    }
    char db[SERVE_PATH_MAX];
    unsigned char secret[32];
    char pk_b64[STORE_PUBKEY_MAX];
    int created = 0;
    struct tlog_signer log_signer;
    memset(&log_signer, 0, sizeof(log_signer));
    rc = file_mkdirs(cfg.data, 0700, &err);
    if (rc == ERR_OK) {
        rc = load_secret(&cfg, secret, &err);
    }
    if (rc == ERR_OK) {
        rc = load_operator_key(&cfg, pk_b64, &err);
    }
    if (rc == ERR_OK) {
        rc = load_log_key(&cfg, &log_signer, &err);
    }
    if (rc == ERR_OK && cfg.db[0] == '\0') {
        rc = data_path(db, &cfg, "bourse.db", &err);
    } else if (rc == ERR_OK) {
        snprintf(db, sizeof(db), "%s", cfg.db);
    }
    if (rc == ERR_OK) {
        srv.db_uri = db;
        rc = store_open(db, &srv.core.store, &err);
    }
    if (rc != ERR_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        goto out;
    }
    srv.core.clock = &clock_system;
    srv.core.rng = &rng_system;

    if (srv.rate_limit > 0) {
        rc = http__limits_new(srv.rate_limit, srv.rate_burst, store_shared(srv.core.store),
                              srv.core.rng, &srv.limits, &err);
        if (rc != ERR_OK) {
            fprintf(stderr, "error: %s\n", err.msg);
            goto out;
        }
    }
    crypto_kdf_derive_from_key(srv.core.api_key_hash_key, sizeof(srv.core.api_key_hash_key), 1,
                               "apikeys_", secret);
    struct key_marks marks;
    secret_check_make(secret, marks.secret_check);
    sodium_memzero(secret, sizeof(secret));
    srv.log_leader = -1;
    srv.data_dir = cfg.data;
    srv.listen = cfg.listen;
    rc = http__products_init(&srv, &err);
    if (rc != ERR_OK) {
        fprintf(stderr, "error: cannot load the operator's signing key: %s\n", err.msg);
        goto out;
    }
    srv.core.log_signer = &log_signer;
    struct tlog_verifier verifier;
    tlog_signer_verifier(&log_signer, &verifier);
    tlog_verifier_format(&verifier, srv.log_verifier);
    marks.log_verifier = srv.log_verifier;
    marks.operator_key = pk_b64;
    rc = bootstrap(&srv, &cfg, &marks, &created, &err);
    if (rc != ERR_OK) {
        fprintf(stderr, "error: cannot start the exchange: %s\n", err.msg);
        goto out;
    }
    rc = http__custody_init(&srv, cfg.data, cfg.master_key, cfg.max_object_size, &err);
    if (rc == ERR_OK) {
        rc = http__trace_bound_parse(cfg.trace_fp_bound, &srv.trace_fp_bound, &err);
    }
    if (rc != ERR_OK) {
        fprintf(stderr, "error: cannot open the object store: %s\n", err.msg);
        goto out;
    }
    printf("bourse: exchange listening on http://%s (store %s, data %s)\n", cfg.listen,
           store_backend_name(srv.core.store), cfg.data);
    char key_path[SERVE_PATH_MAX];
    if (created || (data_path(key_path, &cfg, "operator.key", &err) == ERR_OK &&
                    access(key_path, F_OK) == 0)) {
        printf("bourse: operator api key %s %s/operator.key\n", created ? "written to" : "is in",
               cfg.data);
    } else {
        printf("bourse: operator api key: in the data directory of the node that created the "
               "operator\n");
    }
    http__log_tick(&srv, 1);
    printf("bourse: transparency log %s, key %s\n", log_signer.name, srv.log_verifier);
    printf("bourse: stop with Ctrl-C or kill -TERM %ld\n", (long)getpid());
    fflush(stdout);
    code = http__run(&srv, &err);
    if (code != 0) {
        fprintf(stderr, "error: %s\n", err.msg);
    }
out:
    http__custody_free(srv.custody);
    http__limits_free(srv.limits);
    store_close(srv.core.store);
    tlog_signer_release(&log_signer);
    return code;
}
