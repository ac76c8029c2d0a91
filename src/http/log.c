/*
 * log.c: the transparency log over HTTP, and the event loop's integration tick.
 *
 * /log/ is the C2SP tlog-tiles interface (checkpoint, hash tiles, entry bundles) plus the
 * log's verifier key, so that existing tile clients and witnesses can read the log; /v1/log/
 * adds JSON conveniences (entries, inclusion and consistency proofs, also as files for the
 * offline verifier). Everything under both is public: anyone may check the log.
 */
#include "util/compat.h"
#include "http/http.h"
#include "http/http_int.h"

#include "clearing/clearing.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

#define LOG_IMMUTABLE "public, max-age=31536000, immutable"
#define LOG_FRESH "public, max-age=1, no-cache"
#define LOG_EVENTS_PAGE_MAX 1000

/* Asks the store whether this node sequences the log, and logs every change of role. Several
 * nodes on one PostgreSQL database follow the one leader; followers serve /log/ from the
 * shared tables all the same. */
static int log_leader_check(struct http_server *srv)
{
    struct errbuf err;
    errbuf_init(&err);
    int leader = 0;
    enum err rc = store_leader_try(srv->core.store, &leader, &err);
    if (leader == srv->log_leader) {
        return leader;
    }
    if (leader) {
        log_msg(LOG_INFO, "log: this node is the leader and sequences the log");
    } else if (rc != ERR_OK) {
        log_msg(LOG_WARN, "log: cannot tell whether this node leads the log: %s", err.msg);
    } else {
        log_msg(LOG_INFO, "log: another node sequences the log; this node follows");
    }
    srv->log_leader = leader;
    return leader;
}

/* Opens the transaction of one piece of the leader's work and checks, under the writer lock,
 * that this node's session still holds the leadership. A leader frozen long enough for the
 * database to end its session (postgres.c, idle_session_timeout) reconnects silently at its
 * next BEGIN; this check keeps it from sweeping or integrating beside the new leader. */
static enum err leader_begin(struct http_server *srv, struct errbuf *err)
{
    enum err rc = store_tx_begin(srv->core.store, err);
    if (rc != ERR_OK) {
        return rc;
    }
    if (!store_leader_held(srv->core.store)) {
        store_tx_rollback(srv->core.store);
        log_msg(LOG_WARN, "log: this node's database session was replaced; it no longer leads");
        srv->log_leader = 0;
        return err_set(err, ERR_BAD_STATE, "", "this node lost the log leadership");
    }
    return ERR_OK;
}

/* Ends what leader_begin opened: commits after rc == ERR_OK, else rolls back. */
static enum err leader_end(struct http_server *srv, enum err rc, struct errbuf *err)
{
    if (rc != ERR_OK) {
        store_tx_rollback(srv->core.store);
        return rc;
    }
    return store_tx_commit(srv->core.store, err);
}

void http__log_tick(struct http_server *srv, int force)
{
    if (srv->core.log_signer == NULL) {
        return;
    }
    int64_t now = clock_monotonic_ns() / 1000000;
    if (!force && now - srv->log_last_ms < HTTP_LOG_TICK_MS) {
        return;
    }
    srv->log_last_ms = now;
    if (!log_leader_check(srv)) {
        return;
    }
    /* Expired idempotency keys and old rate-limit rounds (limits.c). */
    http__limits_purge(srv);
    /* Escrow holds past their timeout are voided by the leader, once per tick. */
    struct clearing ledger = {srv->core.store, srv->core.clock, srv->core.rng};
    size_t voided = 0;
    struct errbuf sweep_err;
    errbuf_init(&sweep_err);
    enum err sweep_rc = leader_begin(srv, &sweep_err);
    if (sweep_rc == ERR_BAD_STATE) {
        return;
    }
    if (sweep_rc == ERR_OK) {
        sweep_rc = clearing_sweep(&ledger, CLEARING_BATCH_MAX, &voided, &sweep_err);
        sweep_rc = leader_end(srv, sweep_rc, &sweep_err);
    }
    if (sweep_rc != ERR_OK) {
        log_msg(LOG_ERROR, "escrow sweep failed: %s", sweep_err.msg);
    } else if (voided > 0) {
        log_msg(LOG_INFO, "escrow sweep voided %zu expired holds", voided);
    }
    /* The contract clock: expiries, automatic acceptances, subscription periods. */
    size_t moved = 0;
    errbuf_init(&sweep_err);
    if (core_contract_sweep(&srv->core, clock_now(srv->core.clock), CLEARING_BATCH_MAX, &moved,
                            &sweep_err) != ERR_OK) {
        log_msg(LOG_ERROR, "contract sweep failed: %s", sweep_err.msg);
    } else if (moved > 0) {
        log_msg(LOG_INFO, "contract sweep moved %zu contracts", moved);
    }
    /* Negotiations and auctions past their deadlines: expired and closed (core/trade.c). */
    size_t traded = 0;
    errbuf_init(&sweep_err);
    sweep_rc = leader_begin(srv, &sweep_err);
    if (sweep_rc == ERR_BAD_STATE) {
        return;
    }
    if (sweep_rc == ERR_OK) {
        sweep_rc = core_trade_sweep(&srv->core, clock_now(srv->core.clock), CORE_TRADE_SWEEP_MAX,
                                    &traded, &sweep_err);
        sweep_rc = leader_end(srv, sweep_rc, &sweep_err);
    }
    if (sweep_rc != ERR_OK) {
        log_msg(LOG_ERROR, "trading sweep failed: %s", sweep_err.msg);
    } else if (traded > 0) {
        log_msg(LOG_INFO, "trading sweep closed %zu negotiations and auctions", traded);
    }
    int64_t deadline = now + HTTP_LOG_TICK_BUDGET_MS;
    for (;;) {
        struct errbuf err;
        errbuf_init(&err);
        int64_t before = srv->log_size;
        enum err rc = leader_begin(srv, &err);
        if (rc == ERR_BAD_STATE) {
            return;
        }
        if (rc == ERR_OK) {
            rc = core_log_integrate(&srv->core, CORE_LOG_BATCH_MAX, &srv->log_size, &err);
            rc = leader_end(srv, rc, &err);
        }
        if (rc != ERR_OK) {
            log_msg(LOG_ERROR, "log integration failed: %s: %s", err_name(rc), err.msg);
            return;
        }
        if (srv->log_size == before || clock_monotonic_ns() / 1000000 > deadline) {
            return;
        }
    }
}

static enum err text_response(struct http_response *res, const char *text, size_t len,
                              const char *type, const char *cache, struct errbuf *err)
{
    res->text = mem_strndup(text, len);
    if (res->text == NULL) {
        return err_set(err, ERR_NOMEM, "", "out of memory");
    }
    res->text_len = len;
    res->status = 200;
    res->content_type = type;
    res->cache_control = cache;
    return ERR_OK;
}

/* GET /log/checkpoint */
enum err http__log_checkpoint_text(struct http_server *srv, struct http_request *req,
                                   struct http_response *res, struct errbuf *err)
{
    (void)req;
    struct store_checkpoint cp;
    enum err rc = core_log_checkpoint(&srv->core, &cp, err);
    if (rc != ERR_OK) {
        return rc;
    }
    rc = text_response(res, cp.note, strlen(cp.note), "text/plain; charset=utf-8", LOG_FRESH, err);
    store_checkpoint_release(&cp);
    return rc;
}

/* GET /log/key */
enum err http__log_key(struct http_server *srv, struct http_request *req, struct http_response *res,
                       struct errbuf *err)
{
    (void)req;
    char line[TLOG_VERIFIER_KEY_MAX + 1];
    int n = snprintf(line, sizeof(line), "%s\n", srv->log_verifier);
    return text_response(res, line, (size_t)n, "text/plain; charset=utf-8", LOG_IMMUTABLE, err);
}

/* GET /log/tile/... */
enum err http__log_tile(struct http_server *srv, struct http_request *req,
                        struct http_response *res, struct errbuf *err)
{
    const char *path = req->params[0].value;
    struct tlog_tile tile;
    enum err rc = tlog_tile_parse_path(path, strlen(path), &tile, err);
    if (rc != ERR_OK) {
        return err_set(err, ERR_NOT_FOUND, "path", "no log resource '%s'", path);
    }
    struct buf b;
    buf_init(&b, 256 * (TLOG_ENTRY_MAX + 2));
    rc = core_log_tile(&srv->core, &tile, &b, err);
    if (rc != ERR_OK) {
        buf_release(&b);
        return rc;
    }
    res->status = 200;
    res->text = buf_detach(&b, &res->text_len);
    if (res->text == NULL) {
        res->text = mem_strdup("");
    }
    res->content_type = "application/octet-stream";
    res->cache_control = LOG_IMMUTABLE;
    return res->text != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
}

static json_t *b64_json(const uint8_t *data, size_t len)
{
    char out[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
    ASSERT(len <= 64);
    sodium_bin2base64(out, sizeof(out), data, len, sodium_base64_VARIANT_ORIGINAL);
    return json_string(out);
}

static json_t *proof_json(const struct tlog_proof *proof)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < proof->count; i++) {
        if (json_array_append_new(a, b64_json(proof->hashes[i], TLOG_HASH_LEN)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* GET /v1/log/checkpoint */
enum err http__log_checkpoint(struct http_server *srv, struct http_request *req,
                              struct http_response *res, struct errbuf *err)
{
    (void)req;
    struct store_checkpoint cp;
    enum err rc = core_log_checkpoint(&srv->core, &cp, err);
    if (rc != ERR_OK) {
        return rc;
    }
    res->body = json_pack("{s:s, s:I, s:o, s:s, s:s, s:o*}", "origin",
                          srv->core.log_signer != NULL ? srv->core.log_signer->name : "",
                          "tree_size", (json_int_t)cp.tree_size, "root_hash",
                          b64_json(cp.root_hash, TLOG_HASH_LEN), "note", cp.note, "verifier_key",
                          srv->log_verifier, "created_at", http__time_json(cp.created_ms));
    store_checkpoint_release(&cp);
    res->status = 200;
    res->cache_control = LOG_FRESH;
    return res->body != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
}

/* Parses a non-negative decimal query parameter; absent leaves *out alone. */
static enum err query_int(const struct http_request *req, const char *name, int required,
                          int64_t *out, struct errbuf *err)
{
    const char *v = http__query_get(req, name);
    if (v == NULL) {
        return required ? err_set(err, ERR_INVALID, name, "'%s' is required", name) : ERR_OK;
    }
    int64_t n = 0;
    if (v[0] == '\0' || strlen(v) > 18) {
        return err_set(err, ERR_INVALID, name, "'%s' must be a non-negative integer", name);
    }
    for (const char *p = v; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return err_set(err, ERR_INVALID, name, "'%s' must be a non-negative integer", name);
        }
        n = n * 10 + (*p - '0');
    }
    *out = n;
    return ERR_OK;
}

/* GET /v1/log/entries/{index} */
enum err http__log_entry(struct http_server *srv, struct http_request *req,
                         struct http_response *res, struct errbuf *err)
{
    struct http_request q;
    memset(&q, 0, sizeof(q));
    snprintf(q.query[0].name, sizeof(q.query[0].name), "index");
    snprintf(q.query[0].value, sizeof(q.query[0].value), "%s", req->params[0].value);
    q.nquery = 1;
    int64_t index = 0;
    enum err rc = query_int(&q, "index", 1, &index, err);
    if (rc != ERR_OK) {
        return rc;
    }
    struct store_event ev;
    rc = core_log_entry(&srv->core, index, &ev, err);
    if (rc != ERR_OK) {
        return rc;
    }
    uint8_t leaf_hash[TLOG_HASH_LEN];
    tlog_leaf_hash(ev.leaf, ev.leaf_len, leaf_hash);
    res->body = json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:o}", "index", (json_int_t)ev.seq,
                          "type", ev.type, "actor", ev.actor, "subject", ev.subject, "time",
                          http__time_json(ev.time_ms), "leaf", ev.leaf, "leaf_hash",
                          b64_json(leaf_hash, TLOG_HASH_LEN));
    store_event_release(&ev);
    res->status = 200;
    res->cache_control = LOG_IMMUTABLE;
    return res->body != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
}

static enum err proof_format(const struct http_request *req, int *file, struct errbuf *err)
{
    const char *f = http__query_get(req, "format");
    *file = 0;
    if (f == NULL || strcmp(f, "json") == 0) {
        return ERR_OK;
    }
    if (strcmp(f, "file") == 0) {
        *file = 1;
        return ERR_OK;
    }
    return err_set(err, ERR_INVALID, "format", "format must be json or file");
}

/* Renders a proof as a file for the offline verifier, with the checkpoint of its tree. */
static enum err proof_file(struct http_server *srv, int inclusion, int64_t index, int64_t tree_size,
                           const struct tlog_proof *proof, struct http_response *res,
                           struct errbuf *err)
{
    struct store_checkpoint cp;
    enum err rc = store_checkpoint_get(srv->core.store, tree_size, &cp, err);
    if (rc == ERR_NOT_FOUND) {
        return err_set(err, ERR_NOT_FOUND, "tree_size",
                       "no checkpoint was signed at size %lld; use the newest",
                       (long long)tree_size);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    struct buf b;
    buf_init(&b, TLOG_PROOF_FILE_MAX);
    rc = inclusion
             ? tlog_inclusion_file_format((uint64_t)index, proof, cp.note, strlen(cp.note), &b, err)
             : tlog_consistency_file_format((uint64_t)index, proof, cp.note, strlen(cp.note), &b,
                                            err);
    store_checkpoint_release(&cp);
    if (rc != ERR_OK) {
        buf_release(&b);
        return rc;
    }
    res->status = 200;
    res->text = buf_detach(&b, &res->text_len);
    res->content_type = "text/plain; charset=utf-8";
    res->cache_control = LOG_IMMUTABLE;
    return ERR_OK;
}

/*
 * Both proof routes take a required position (`index` or `from`), an optional tree size
 * (`tree_size` or `to`, 0 = the newest) and `format`; they answer JSON or a proof file.
 */
static enum err proof_route(struct http_server *srv, struct http_request *req,
                            struct http_response *res, int inclusion, struct errbuf *err)
{
    const char *first = inclusion ? "index" : "from";
    const char *second = inclusion ? "tree_size" : "to";
    const char *const allowed[] = {first, second, "format", NULL};
    int64_t a = 0, b = 0;
    int file = 0;
    enum err rc = http__query_only(req, allowed, err);
    if (rc == ERR_OK) {
        rc = query_int(req, first, 1, &a, err);
    }
    if (rc == ERR_OK) {
        rc = query_int(req, second, 0, &b, err);
    }
    if (rc == ERR_OK) {
        rc = proof_format(req, &file, err);
    }
    struct tlog_proof proof;
    if (rc == ERR_OK) {
        rc = inclusion ? core_log_prove_inclusion(&srv->core, a, &b, &proof, err)
                       : core_log_prove_consistency(&srv->core, a, &b, &proof, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    if (file) {
        return proof_file(srv, inclusion, a, b, &proof, res, err);
    }
    res->body = json_pack("{s:I, s:I, s:o*}", first, (json_int_t)a, second, (json_int_t)b, "hashes",
                          proof_json(&proof));
    res->status = 200;
    res->cache_control = LOG_IMMUTABLE;
    return res->body != NULL ? ERR_OK : err_set(err, ERR_NOMEM, "", "out of memory");
}

/* GET /v1/log/proofs/inclusion?index=&tree_size=&format= */
enum err http__log_inclusion(struct http_server *srv, struct http_request *req,
                             struct http_response *res, struct errbuf *err)
{
    return proof_route(srv, req, res, 1, err);
}

/* GET /v1/log/proofs/consistency?from=&to=&format= */
enum err http__log_consistency(struct http_server *srv, struct http_request *req,
                               struct http_response *res, struct errbuf *err)
{
    return proof_route(srv, req, res, 0, err);
}

/* GET /v1/events?from=&limit= (operator, regulator): the database's events, for audits. */
enum err http__events(struct http_server *srv, struct http_request *req, struct http_response *res,
                      struct errbuf *err)
{
    static const char *const allowed[] = {"from", "limit", NULL};
    if (req->who.kind != CORE_KIND_OPERATOR &&
        !(req->who.kind == CORE_KIND_REGULATOR && core_principal_active(&req->who))) {
        return err_set(err, ERR_FORBIDDEN, "", "only the operator and regulators read events");
    }
    int64_t from = 0, limit = 100;
    enum err rc = http__query_only(req, allowed, err);
    if (rc == ERR_OK) {
        rc = query_int(req, "from", 0, &from, err);
    }
    if (rc == ERR_OK) {
        rc = query_int(req, "limit", 0, &limit, err);
    }
    if (rc == ERR_OK && (limit < 1 || limit > LOG_EVENTS_PAGE_MAX)) {
        rc = err_set(err, ERR_INVALID, "limit", "limit must be 1 to %d", LOG_EVENTS_PAGE_MAX);
    }
    struct store_event *evs = NULL;
    size_t n = 0;
    if (rc == ERR_OK) {
        rc = store_event_range(srv->core.store, from, (size_t)limit, &evs, &n, err);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        if (items != NULL &&
            json_array_append_new(items, json_pack("{s:I, s:s, s:s, s:s, s:o, s:s}", "index",
                                                   (json_int_t)evs[i].seq, "type", evs[i].type,
                                                   "actor", evs[i].actor, "subject", evs[i].subject,
                                                   "time", http__time_json(evs[i].time_ms), "leaf",
                                                   evs[i].leaf)) != 0) {
            json_decref(items);
            items = NULL;
        }
        store_event_release(&evs[i]);
    }
    mem_free(evs);
    int64_t next = n == (size_t)limit ? from + limit : -1;
    res->body = json_pack("{s:o*, s:o}", "items", items, "next_from",
                          next >= 0 ? json_integer(next) : json_null());
    res->status = 200;
    return res->body != NULL && items != NULL ? ERR_OK
                                              : err_set(err, ERR_NOMEM, "", "out of memory");
}
