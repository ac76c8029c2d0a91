/*
 * postgres.c: the scale-out backend, on libpq. Several `bourse serve` nodes may share one
 * database (PostgreSQL, or an engine that speaks its protocol).
 *
 * One connection per store. The server is single-threaded and runs one request at a time, so
 * a pool would only hold idle connections; a `pool_size` is therefore not offered. Nodes scale
 * out by running more nodes, each with its own connection.
 *
 * Writers are serialised across nodes. `begin_sql` opens a READ COMMITTED transaction and
 * takes a transaction-scoped advisory lock (PG_WRITER_LOCK) before anything else, so that a
 * write transaction behaves like SQLite's BEGIN IMMEDIATE: one writer at a time, and every
 * statement after the lock sees everything committed before it. That is what makes
 * events.seq = MAX(seq) + 1 gapless and in commit order. READ COMMITTED is required, not just
 * allowed: under REPEATABLE READ or SERIALIZABLE the snapshot would be taken by the statement
 * that waits for the lock, and would miss the commit of the writer it waited for. The
 * reasoning and the alternatives are in docs/decisions/0002-postgres-isolation.md. Writes
 * outside store_tx_begin are not serialised; the store makes none besides idempotent DDL and
 * the rate-limit counters of limits.c, which need no order.
 *
 * Statements: exec runs PQexec (several statements allowed). query prepares each distinct SQL
 * text once per connection under a generated name and runs it with PQexecPrepared. Parameters
 * travel in text format (integers as decimal, typed int8; text and NULL typed by the server
 * from context, which is why the store's SQL writes CAST($1 AS TEXT) IS NULL). Result columns
 * of type int2, int4 and int8 become STORE_INT, NULLs STORE_NULL, everything else STORE_TEXT.
 * Results are read whole; every query of the store has a LIMIT or returns one row.
 *
 * Errors, by SQLSTATE: class 23 (integrity) is ERR_CONFLICT; 40001 and 40P01 (serialization
 * failure, deadlock) are ERR_CONFLICT with "retry" in the message; a lost connection, class
 * 08, 53 (insufficient resources), 57P01-57P03 (shutdown) and 55P03 (lock timeout, like
 * SQLite's busy) are ERR_UNAVAILABLE; anything else is ERR_IO.
 *
 * Recovery. A statement outside a transaction is retried (at most PG_ATTEMPTS_MAX times) after
 * a serialization failure or deadlock, which the server rolled back, and after a lost
 * connection only if it has no effect (SELECT, begin_sql): a write whose reply was lost may
 * have committed. Inside a transaction nothing is retried; the caller rolls back and may try
 * the whole transaction again. A connection lost inside a transaction is never silently
 * replaced: every statement fails until the store rolls back, so that the rest of the
 * transaction cannot run in autocommit mode on a new connection. Otherwise a broken
 * connection is reset (PQreset) at the start of the next call; after a failed reset, calls
 * fail fast for PG_RESET_BACKOFF_MS so that a down database does not stall every request.
 *
 * Log leadership (store_leader_try). The node that sequences the transparency log holds a
 * session-level advisory lock (PG_LEADER_LOCK), taken with pg_try_advisory_lock, so it is
 * released when the node's connection ends: a node that dies or loses its connection gives
 * the log up at once, and another node takes it at its next try. A reset opens a new session
 * that does not hold the lock, so every (re)connection gets a new session number and the lock
 * is known held only by the session that took it. While it believes itself leader a node
 * runs a trivial statement on each try, which notices a dead connection (and reconnects)
 * before the node integrates again. Two nodes may still both integrate for one tick around a
 * takeover (the old leader's connection dies after that statement) only if the old leader
 * skipped store_leader_held, which the leader's work calls inside its transaction: a session
 * replaced since the last try fails it. Even without it two integrations would be harmless,
 * because each runs under the writer lock from the newest stored checkpoint and is
 * deterministic (docs/decisions/0002-postgres-isolation.md). A node that asks for leadership
 * also gets idle timeouts on its sessions (PG_IDLE_SESSION_SQL): a leader frozen with its
 * connection open (SIGSTOP) loses its session, and so the lock, after 3 s.
 */
#include "util/compat.h"
#include "store/store.h"
#include "store/store_int.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define PG_STMT_CACHE 160 /* more than the distinct statements the store issues */
#define PG_STMT_NAME_MAX 24
#define PG_PARAMS_MAX 32
#define PG_COLS_MAX 32
#define PG_INT_TEXT_MAX 21 /* "-9223372036854775808" and the NUL */
#define PG_ATTEMPTS_MAX 3  /* of a statement outside a transaction */
#define PG_RESET_BACKOFF_NS ((int64_t)1000 * 1000 * 1000)
/* Default connect timeout in seconds; a connect_timeout in the URL wins. It bounds how long
 * a reset can stall the (single-threaded) server when the database host does not answer. */
#define PG_CONNECT_TIMEOUT_S "5"
#define PG_SERVER_VERSION_MIN 90500 /* INSERT ... ON CONFLICT */

/* Type OIDs from the server's pg_type.h (not shipped with libpq-dev); fixed since 7.x. */
#define PG_OID_INT8 20
#define PG_OID_INT2 21
#define PG_OID_INT4 23

/* The writer lock: "bourse" in ASCII followed by 0x0001. Other advisory locks of Bourse use
 * the same prefix with another suffix (docs/decisions/0002-postgres-isolation.md). */
#define PG_WRITER_LOCK "7093017072554541057"
_Static_assert(0x626F757273650001 == 7093017072554541057, "writer lock key");

/* The log leader lock: the same prefix, then 0x0002. Held for the whole session. */
#define PG_LEADER_LOCK "7093017072554541058"
_Static_assert(0x626F757273650002 == 7093017072554541058, "leader lock key");

#define PG_BEGIN_SQL                                                                               \
    "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(" PG_WRITER_LOCK ")"

/* Run after every (re)connect: the settings the store's SQL and error handling rely on.
 * lock_timeout matches SQLite's busy timeout: a writer waits at most 5 s for another node.
 * The keepalives make the server notice within about 10 s that a node's machine vanished
 * (the kernel's default is two hours), so that its session ends and the log leader lock
 * passes on; a node queries every 100 ms, so only a dead or frozen one goes quiet for 5 s. */
#define PG_SESSION_SQL                                                                             \
    "SET standard_conforming_strings = on; SET client_min_messages = warning; "                    \
    "SET lock_timeout = 5000; SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 1; "      \
    "SET tcp_keepalives_count = 5"

/* Set on the sessions of a node that asks for the log leadership (a serving node, which runs a
 * statement every 100 ms tick): the server ends a session idle for 3 s, or idle inside a
 * transaction for 4 s (less than lock_timeout, so that writers queued behind a frozen holder
 * of the writer lock get it before they give up). A leader frozen by SIGSTOP or a hung disk
 * keeps its TCP connection alive (the kernel answers keepalives), so only the server's own
 * timer can end its session and free the leader lock. idle_session_timeout exists since
 * PostgreSQL 14, idle_in_transaction_session_timeout since 9.6. */
#define PG_IDLE_SESSION_SQL "SET idle_session_timeout = 3000"
/* A read connection of the server's pool: the server refuses its writes (SQLSTATE 25006). */
#define PG_READ_ONLY_SQL "SET default_transaction_read_only = on"
#define PG_IDLE_TX_SQL "SET idle_in_transaction_session_timeout = 4000"
#define PG_IDLE_SESSION_VERSION_MIN 140000
#define PG_IDLE_TX_VERSION_MIN 90600

struct pg_stmt {
    char *sql; /* owned copy: the cache must not depend on the caller's string living on */
    char name[PG_STMT_NAME_MAX];
};

struct pg_db {
    PGconn *conn;
    struct pg_stmt cache[PG_STMT_CACHE];
    size_t cached;
    uint64_t next_name;
    int tx_lost;               /* the connection broke inside a transaction */
    uint64_t session;          /* numbers the connections: 1 at open, +1 on each reset */
    uint64_t leader_session;   /* the session that holds PG_LEADER_LOCK; 0 when none does */
    int live;                  /* a serving node: sessions end when it goes quiet (above) */
    int defer;                 /* store_defer_begin: writes may wait in the pipeline */
    size_t queued;             /* statements sent in pipeline mode, answers not yet read */
    int read_only;             /* STORE_OPEN_READ_ONLY: every session refuses writes */
    int64_t reset_after_ns;    /* monotonic time before which no reset is tried */
    char down[ERRBUF_MSG_MAX]; /* why the last reset failed */
};

/* Text parameters copied NUL-terminated (libpq's text format needs it) and integers rendered. */
struct pg_params {
    const char *values[PG_PARAMS_MAX];
    Oid types[PG_PARAMS_MAX];
    char ints[PG_PARAMS_MAX][PG_INT_TEXT_MAX];
    char *texts; /* one allocation holding every text parameter */
};

/* Copies the first line of msg into out, without trailing blanks. Cannot fail. */
static void pg_first_line(const char *msg, char *out, size_t cap)
{
    ASSERT(cap > 0);
    size_t n = 0;
    while (msg != NULL && msg[n] != '\0' && msg[n] != '\n' && n + 1 < cap) {
        out[n] = msg[n] == '\t' || msg[n] == '\r' ? ' ' : msg[n];
        n++;
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
}

/* The one-line reason for a failure: the server's primary message, else libpq's. */
static void pg_message(PGconn *conn, const PGresult *res, char *out, size_t cap)
{
    const char *m = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (m == NULL && res != NULL && PQresultErrorMessage(res)[0] != '\0') {
        m = PQresultErrorMessage(res);
    }
    if (m == NULL) {
        m = conn != NULL ? PQerrorMessage(conn) : "out of memory";
    }
    pg_first_line(m, out, cap);
    if (out[0] == '\0') {
        snprintf(out, cap, "unknown error");
    }
}

static int pg_state_unavailable(const char *state)
{
    static const char *const exact[] = {"57P01", "57P02", "57P03", "55P03"};
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0) {
        return 1;
    }
    for (size_t i = 0; i < ARRAY_LEN(exact); i++) {
        if (strcmp(state, exact[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int pg_state_retry(const char *state)
{
    return state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
}

/* Maps a failed result (NULL: libpq could not allocate or send) to an error code. */
static enum err pg_classify(struct pg_db *d, const PGresult *res, const char *what,
                            struct errbuf *err)
{
    char msg[ERRBUF_MSG_MAX];
    pg_message(d->conn, res, msg, sizeof(msg));
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(d->conn) != CONNECTION_OK || (state != NULL && pg_state_unavailable(state))) {
        return err_set(err, ERR_UNAVAILABLE, "", "%s: database unavailable: %s", what, msg);
    }
    if (state == NULL) {
        if (res == NULL) {
            return err_set(err, ERR_NOMEM, "", "%s: out of memory", what);
        }
        return err_set(err, ERR_IO, "", "%s: %s", what, msg);
    }
    if (pg_state_retry(state)) {
        return err_set(err, ERR_CONFLICT, "", "%s: concurrent update, retry the transaction: %s",
                       what, msg);
    }
    if (strncmp(state, "23", 2) == 0) {
        return err_set(err, ERR_CONFLICT, "", "%s: %s", what, msg);
    }
    return err_set(err, ERR_IO, "", "%s: %s (sqlstate %s)", what, msg, state);
}

static void pg_notice_cb(void *arg, const char *message)
{
    (void)arg;
    char line[ERRBUF_MSG_MAX];
    pg_first_line(message, line, sizeof(line));
    log_msg(LOG_WARN, "store: postgres: %s", line);
}

static void pg_cache_clear(struct pg_db *d)
{
    for (size_t i = 0; i < d->cached; i++) {
        mem_free(d->cache[i].sql);
        d->cache[i].sql = NULL;
    }
    d->cached = 0;
}

static enum err pg_setup_one(struct pg_db *d, const char *sql, struct errbuf *err)
{
    PGresult *res = PQexec(d->conn, sql);
    enum err rc = ERR_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = pg_classify(d, res, "cannot configure the database session", err);
    }
    PQclear(res);
    return rc;
}

/* Applies the idle timeouts of a serving node (PG_IDLE_SESSION_SQL) that the server has. */
static enum err pg_setup_live(struct pg_db *d, struct errbuf *err)
{
    int version = PQserverVersion(d->conn);
    enum err rc = ERR_OK;
    if (version >= PG_IDLE_TX_VERSION_MIN) {
        rc = pg_setup_one(d, PG_IDLE_TX_SQL, err);
    }
    if (rc == ERR_OK && version >= PG_IDLE_SESSION_VERSION_MIN) {
        rc = pg_setup_one(d, PG_IDLE_SESSION_SQL, err);
    }
    return rc;
}

/* Applies PG_SESSION_SQL on a fresh connection, and a serving node's timeouts. */
static enum err pg_setup(struct pg_db *d, struct errbuf *err)
{
    ASSERT(PQstatus(d->conn) == CONNECTION_OK);
    enum err rc = pg_setup_one(d, PG_SESSION_SQL, err);
    if (rc == ERR_OK && d->live) {
        rc = pg_setup_live(d, err);
    }
    if (rc == ERR_OK && d->read_only) {
        rc = pg_setup_one(d, PG_READ_ONLY_SQL, err);
    }
    return rc;
}

static enum err pg_read_only(void *db, struct errbuf *err)
{
    struct pg_db *d = db;
    d->read_only = 1;
    return pg_setup_one(d, PG_READ_ONLY_SQL, err);
}

/* Makes sure there is a usable connection, resetting a broken one (see the file comment). */
static enum err pg_ensure(struct pg_db *d, struct errbuf *err)
{
    if (d->tx_lost) {
        return err_set(err, ERR_UNAVAILABLE, "",
                       "cannot run statement: the database connection was lost inside the "
                       "transaction, which must be rolled back");
    }
    if (PQstatus(d->conn) == CONNECTION_OK) {
        return ERR_OK;
    }
    int64_t now = clock_monotonic_ns();
    if (now < d->reset_after_ns) {
        return err_set(err, ERR_UNAVAILABLE, "", "cannot reach the database: %s", d->down);
    }
    pg_cache_clear(d);
    PQreset(d->conn);
    d->session++; /* a new session, even if it fails: session locks are gone */
    if (PQstatus(d->conn) != CONNECTION_OK) {
        pg_message(d->conn, NULL, d->down, sizeof(d->down));
        d->reset_after_ns = now + PG_RESET_BACKOFF_NS;
        return err_set(err, ERR_UNAVAILABLE, "", "cannot reconnect to the database: %s", d->down);
    }
    enum err rc = pg_setup(d, err);
    if (rc == ERR_OK) {
        log_msg(LOG_INFO, "store: reconnected to postgres database '%s'", PQdb(d->conn));
    }
    return rc;
}

/* 1 if running sql again after its reply was lost cannot apply anything twice. */
static int pg_repeatable(const char *sql)
{
    return strcmp(sql, PG_BEGIN_SQL) == 0 || strncmp(sql, "SELECT ", 7) == 0;
}

static struct pg_stmt *pg_cache_find(struct pg_db *d, const char *sql)
{
    for (size_t i = 0; i < d->cached; i++) {
        if (strcmp(d->cache[i].sql, sql) == 0) {
            return &d->cache[i];
        }
    }
    return NULL;
}

/* One try at a statement: PQexec for exec (p == NULL), an unnamed statement (planned with its
 * parameters) for SQL that starts with STORE_SQL_UNPREPARED, else the cached prepared statement
 * (prepared now if new; unnamed when the cache is full or cannot grow). NULL only when libpq
 * is out of memory. */
static PGresult *pg_attempt(struct pg_db *d, const char *sql, const struct pg_params *p,
                            size_t count)
{
    if (p == NULL) {
        return PQexec(d->conn, sql);
    }
    if (strncmp(sql, STORE_SQL_UNPREPARED, sizeof(STORE_SQL_UNPREPARED) - 1) == 0) {
        return PQexecParams(d->conn, sql, (int)count, p->types, p->values, NULL, NULL, 0);
    }
    const struct pg_stmt *st = pg_cache_find(d, sql);
    char name[PG_STMT_NAME_MAX];
    if (st == NULL && d->cached < PG_STMT_CACHE) {
        snprintf(name, sizeof(name), "bourse_%" PRIu64, d->next_name++);
        PGresult *res = PQprepare(d->conn, name, sql, (int)count, p->types);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            return res;
        }
        PQclear(res);
        char *copy = mem_strdup(sql);
        if (copy == NULL) {
            /* Run it by name this once; the server-side statement is simply never reused. */
            return PQexecPrepared(d->conn, name, (int)count, p->values, NULL, NULL, 0);
        }
        d->cache[d->cached].sql = copy;
        snprintf(d->cache[d->cached].name, PG_STMT_NAME_MAX, "%s", name);
        st = &d->cache[d->cached];
        d->cached++;
    }
    if (st == NULL) {
        return PQexecParams(d->conn, sql, (int)count, p->types, p->values, NULL, NULL, 0);
    }
    return PQexecPrepared(d->conn, st->name, (int)count, p->values, NULL, NULL, 0);
}

/* After a failure: remembers a transaction lost with its connection, and returns a
 * connection that was idle before the call to idle (a failed begin_sql leaves the BEGIN it
 * ran open and aborted). */
static void pg_after_failure(struct pg_db *d, PGTransactionStatusType before)
{
    if (PQstatus(d->conn) != CONNECTION_OK) {
        if (before != PQTRANS_IDLE) {
            d->tx_lost = 1;
        }
        return;
    }
    if (before == PQTRANS_IDLE && PQtransactionStatus(d->conn) != PQTRANS_IDLE) {
        PQclear(PQexec(d->conn, "ROLLBACK"));
    }
}

/* Runs a statement with the retries described in the file comment. On success *out is the
 * result (caller frees with PQclear); on failure err says why and *out is NULL. */
static enum err pg_run(struct pg_db *d, const char *sql, const struct pg_params *p, size_t count,
                       PGresult **out, struct errbuf *err)
{
    ASSERT(d != NULL);
    ASSERT(sql != NULL);
    *out = NULL;
    for (int attempt = 1;; attempt++) {
        enum err rc = pg_ensure(d, err);
        if (rc != ERR_OK) {
            return rc;
        }
        PGTransactionStatusType before = PQtransactionStatus(d->conn);
        PGresult *res = pg_attempt(d, sql, p, count);
        ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            *out = res;
            return ERR_OK;
        }
        struct errbuf local;
        errbuf_init(&local);
        rc = pg_classify(d, res, p == NULL ? "cannot execute statement" : "cannot run statement",
                         &local);
        int lost = PQstatus(d->conn) != CONNECTION_OK;
        const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        int retry = attempt < PG_ATTEMPTS_MAX && before == PQTRANS_IDLE &&
                    (lost ? pg_repeatable(sql) : pg_state_retry(state));
        PQclear(res);
        pg_after_failure(d, before);
        if (!retry) {
            if (err != NULL) {
                *err = local;
            }
            return rc;
        }
        log_msg(LOG_WARN, "store: retrying a statement after: %s", local.msg);
    }
}

static enum err pg_params_build(struct pg_params *p, const struct store_value *params, size_t count,
                                struct errbuf *err)
{
    ASSERT(count <= PG_PARAMS_MAX);
    p->texts = NULL;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if (params[i].type != STORE_TEXT) {
            continue;
        }
        if (memchr(params[i].s, '\0', params[i].len) != NULL) {
            return err_set(err, ERR_INVALID, "", "text parameter $%zu contains a NUL byte", i + 1);
        }
        total += params[i].len + 1;
    }
    if (total > 0) {
        p->texts = mem_alloc(total);
        if (p->texts == NULL) {
            return err_set(err, ERR_NOMEM, "", "out of memory binding parameters");
        }
    }
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        p->types[i] = 0;
        p->values[i] = NULL;
        if (params[i].type == STORE_INT) {
            snprintf(p->ints[i], PG_INT_TEXT_MAX, "%" PRId64, params[i].i);
            p->values[i] = p->ints[i];
            p->types[i] = PG_OID_INT8;
        } else if (params[i].type == STORE_TEXT) {
            char *dst = p->texts + used;
            memcpy(dst, params[i].s, params[i].len);
            dst[params[i].len] = '\0';
            p->values[i] = dst;
            used += params[i].len + 1;
        }
    }
    ASSERT(used == total);
    return ERR_OK;
}

static enum err pg_int(const char *text, int64_t *out, struct errbuf *err)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') {
        return err_set(err, ERR_CORRUPT, "", "integer column holds '%s'", text);
    }
    *out = (int64_t)v;
    return ERR_OK;
}

static enum err pg_rows(const PGresult *res, store_row_cb *row_cb, void *ctx, struct errbuf *err)
{
    int nrows = PQntuples(res);
    int ncols = PQnfields(res);
    ASSERT(ncols >= 0 && ncols <= PG_COLS_MAX);
    int is_int[PG_COLS_MAX];
    for (int c = 0; c < ncols; c++) {
        Oid t = PQftype(res, c);
        is_int[c] = t == PG_OID_INT8 || t == PG_OID_INT4 || t == PG_OID_INT2;
    }
    struct store_value cols[PG_COLS_MAX];
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            if (PQgetisnull(res, r, c)) {
                cols[c] = store_null();
                continue;
            }
            const char *v = PQgetvalue(res, r, c);
            if (is_int[c]) {
                cols[c] = store_int(0);
                enum err rc = pg_int(v, &cols[c].i, err);
                if (rc != ERR_OK) {
                    return rc;
                }
                continue;
            }
            cols[c].type = STORE_TEXT;
            cols[c].i = 0;
            cols[c].s = v;
            cols[c].len = (size_t)PQgetlength(res, r, c);
        }
        enum err rc = row_cb(ctx, cols, (size_t)ncols, err);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return ERR_OK;
}

/* ---- deferred writes (pipeline mode) ----
 *
 * Between store_defer_begin and store_defer_end, inside a transaction, a statement that
 * returns nothing the caller reads (no row callback, no change count), and is prepared
 * already, is sent in libpq's pipeline mode without waiting for its answer; so is a
 * SAVEPOINT. The next statement that needs an answer joins the same pipeline when it can (a
 * prepared query), and one Sync then brings every answer back: a ledger mutation's writes take
 * one round trip instead of one each. The first failure among them is that statement's error;
 * the server skips the rest of the pipeline (PGRES_PIPELINE_ABORTED), and the transaction is
 * left for the caller to roll back, exactly as after a failed statement outside the pipeline.
 * A statement that cannot join (unprepared SQL, exec) first settles the pipeline, and fails
 * with its error, except a ROLLBACK, which must run whatever happened before it. */

/* 1 when a statement may be sent now without waiting for its answer. */
static int pg_deferrable(struct pg_db *d)
{
    if (!d->defer || d->tx_lost || PQstatus(d->conn) != CONNECTION_OK) {
        return 0;
    }
    /* In pipeline mode the transaction status reads "active" while answers are pending. */
    return d->queued > 0 || PQtransactionStatus(d->conn) == PQTRANS_INTRANS;
}

/* Sends one statement into the pipeline: a prepared one by name, else sql with no
 * parameters (SAVEPOINT, RELEASE). */
static enum err pg_send(struct pg_db *d, const struct pg_stmt *st, const char *sql,
                        const struct pg_params *p, size_t count, struct errbuf *err)
{
    if (d->queued == 0 && PQenterPipelineMode(d->conn) != 1) {
        return pg_classify(d, NULL, "cannot enter pipeline mode", err);
    }
    int sent = st != NULL
                   ? PQsendQueryPrepared(d->conn, st->name, (int)count, p->values, NULL, NULL, 0)
                   : PQsendQueryParams(d->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    if (sent != 1) {
        enum err rc = pg_classify(d, NULL, "cannot send statement", err);
        if (d->queued == 0) {
            PQexitPipelineMode(d->conn);
        }
        if (PQstatus(d->conn) != CONNECTION_OK) {
            d->tx_lost = 1; /* only sent inside a transaction */
        }
        return rc;
    }
    d->queued++;
    return ERR_OK;
}

/* Reads one statement's answer off the pipeline into *rc (the first failure wins); returns
 * the result when it succeeded, else NULL. 0 in *more when the connection gave out. */
static PGresult *pg_pipeline_answer(struct pg_db *d, enum err *rc, int *more, struct errbuf *err)
{
    PGresult *res = PQgetResult(d->conn);
    if (res == NULL) {
        *more = 0;
        if (*rc == ERR_OK) {
            *rc = pg_classify(d, NULL, "cannot run statement", err);
        }
        return NULL;
    }
    ExecStatusType st = PQresultStatus(res);
    PQclear(PQgetResult(d->conn)); /* the NULL that ends each statement's answer */
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        return res;
    }
    if (st != PGRES_PIPELINE_ABORTED && *rc == ERR_OK) {
        *rc = pg_classify(d, res, "cannot run statement", err);
    }
    PQclear(res);
    return NULL;
}

/* Sends a Sync, reads every answer and leaves pipeline mode. The last statement's result
 * goes to *last (when last is set and everything succeeded); the first failure is returned. */
static enum err pg_pipeline_end(struct pg_db *d, PGresult **last, struct errbuf *err)
{
    ASSERT(d->queued > 0);
    size_t n = d->queued;
    d->queued = 0;
    enum err rc = ERR_OK;
    int more = PQpipelineSync(d->conn) == 1;
    if (!more) {
        rc = pg_classify(d, NULL, "cannot send statements", err);
    }
    for (size_t i = 0; i < n && more; i++) {
        PGresult *res = pg_pipeline_answer(d, &rc, &more, err);
        if (res != NULL && last != NULL && i + 1 == n && rc == ERR_OK) {
            *last = res;
        } else {
            PQclear(res);
        }
    }
    if (more) {
        PGresult *sync = PQgetResult(d->conn);
        if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC && rc == ERR_OK) {
            rc = pg_classify(d, sync, "cannot finish a pipeline", err);
        }
        PQclear(sync);
    }
    if (PQexitPipelineMode(d->conn) != 1) {
        if (rc == ERR_OK) {
            rc = pg_classify(d, NULL, "cannot leave pipeline mode", err);
        }
        if (PQstatus(d->conn) == CONNECTION_OK) {
            /* Answers nobody will read are left on a live connection (never seen): start a
             * new session rather than misread them; the transaction is lost with the old. */
            pg_cache_clear(d);
            PQreset(d->conn);
            d->session++;
            d->tx_lost = 1;
            if (PQstatus(d->conn) == CONNECTION_OK) {
                (void)pg_setup(d, NULL);
            }
        }
    }
    if (PQstatus(d->conn) != CONNECTION_OK) {
        d->tx_lost = 1; /* only sent inside a transaction */
    }
    if (rc != ERR_OK && last != NULL) {
        PQclear(*last);
        *last = NULL;
    }
    return rc;
}

static enum err pg_defer(void *handle, int on, struct errbuf *err)
{
    struct pg_db *d = handle;
    ASSERT(d != NULL);
    ASSERT(d->defer != on);
    d->defer = on;
    return !on && d->queued > 0 ? pg_pipeline_end(d, NULL, err) : ERR_OK;
}

static enum err pg_exec(void *handle, const char *sql, struct errbuf *err)
{
    struct pg_db *d = handle;
    ASSERT(d != NULL);
    ASSERT(sql != NULL);
    if (strncmp(sql, "SAVEPOINT ", 10) == 0 && pg_deferrable(d)) {
        return pg_send(d, NULL, sql, NULL, 0, err);
    }
    if (d->queued > 0) {
        int rollback = strncmp(sql, "ROLLBACK", 8) == 0; /* runs whatever failed before it */
        enum err rc = pg_pipeline_end(d, NULL, rollback ? NULL : err);
        if (rc != ERR_OK && !rollback) {
            return rc;
        }
    }
    if (strcmp(sql, "ROLLBACK") == 0 && (d->tx_lost || PQstatus(d->conn) != CONNECTION_OK ||
                                         PQtransactionStatus(d->conn) == PQTRANS_IDLE)) {
        /* Nothing is open: the server rolled back when the connection went, or a failed
         * COMMIT ended the transaction. Sending ROLLBACK would only earn a warning. */
        d->tx_lost = 0;
        return ERR_OK;
    }
    int is_commit = strcmp(sql, "COMMIT") == 0;
    int was_lost = d->tx_lost;
    PGresult *res = NULL;
    enum err rc = pg_run(d, sql, NULL, 0, &res, err);
    if (rc != ERR_OK && is_commit && !was_lost && d->tx_lost) {
        rc = err_set(err, ERR_UNAVAILABLE, "",
                     "cannot commit: the database connection was lost during the commit, which "
                     "may or may not have taken effect");
    }
    if (rc == ERR_OK && is_commit && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        rc = err_set(err, ERR_IO, "",
                     "cannot commit: a statement of the transaction failed, so it was rolled back");
    }
    PQclear(res);
    return rc;
}

static enum err pg_query(void *handle, const char *sql, const struct store_value *params,
                         size_t count, store_row_cb *row_cb, void *ctx, int64_t *changes,
                         struct errbuf *err)
{
    struct pg_db *d = handle;
    ASSERT(d != NULL);
    ASSERT(count == 0 || params != NULL);
    PGresult *res = NULL;
    struct pg_params p;
    enum err rc = pg_params_build(&p, params, count, err);
    if (rc != ERR_OK) {
        goto out;
    }
    const struct pg_stmt *st = pg_deferrable(d) ? pg_cache_find(d, sql) : NULL;
    if (st != NULL && row_cb == NULL && changes == NULL) {
        rc = pg_send(d, st, sql, &p, count, err); /* its answer is read with a later one's */
        goto out;
    }
    if (st != NULL && d->queued > 0) {
        rc = pg_send(d, st, sql, &p, count, err);
        if (d->queued > 0) {
            enum err end =
                pg_pipeline_end(d, rc == ERR_OK ? &res : NULL, rc == ERR_OK ? err : NULL);
            rc = rc == ERR_OK ? end : rc;
        }
    } else {
        if (d->queued > 0) { /* it cannot join the pipeline: settle that first */
            rc = pg_pipeline_end(d, NULL, err);
        }
        if (rc == ERR_OK) {
            rc = pg_run(d, sql, &p, count, &res, err);
        }
    }
    if (rc != ERR_OK) {
        goto out;
    }
    if (row_cb != NULL) {
        rc = pg_rows(res, row_cb, ctx, err);
    }
    if (rc == ERR_OK && changes != NULL) {
        const char *n = PQcmdTuples(res);
        *changes = 0;
        if (n[0] != '\0') {
            rc = pg_int(n, changes, err);
        }
    }
out:
    PQclear(res);
    mem_free(p.texts);
    return rc;
}

/* 1 when a one-row, one-column result holds boolean true. */
static int pg_result_true(const PGresult *res)
{
    return PQntuples(res) == 1 && PQnfields(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
}

static enum err pg_leader_try(void *handle, int *is_leader, struct errbuf *err)
{
    struct pg_db *d = handle;
    ASSERT(d != NULL);
    ASSERT(PQstatus(d->conn) != CONNECTION_OK || PQtransactionStatus(d->conn) == PQTRANS_IDLE);
    *is_leader = 0;
    PGresult *res = NULL;
    enum err rc = ERR_OK;
    if (!d->live && PQstatus(d->conn) == CONNECTION_OK) {
        /* A node that asks for leadership asks every tick from now on (file comment). */
        rc = pg_setup_live(d, err);
        if (rc != ERR_OK) {
            return rc;
        }
        d->live = 1;
        if (PQserverVersion(d->conn) < PG_IDLE_SESSION_VERSION_MIN) {
            log_msg(LOG_WARN,
                    "store: postgres %d has no idle_session_timeout: a frozen log "
                    "leader keeps the leadership until it resumes or dies",
                    PQserverVersion(d->conn));
        }
    }
    if (d->leader_session != 0) {
        /* Held since an earlier call, unless the connection was replaced in between; this
         * statement finds a connection that died since then, and pg_run reconnects. */
        rc = pg_run(d, "SELECT 1", NULL, 0, &res, err);
        PQclear(res);
        res = NULL;
        if (rc != ERR_OK) {
            d->leader_session = 0;
            return rc;
        }
        if (d->leader_session == d->session) {
            *is_leader = 1;
            return ERR_OK;
        }
        log_msg(LOG_WARN, "store: the database connection was reset, which released the log "
                          "leader lock");
        d->leader_session = 0;
    }
    rc = pg_run(d, "SELECT pg_try_advisory_lock(" PG_LEADER_LOCK ")", NULL, 0, &res, err);
    if (rc == ERR_OK && pg_result_true(res)) {
        d->leader_session = d->session;
        *is_leader = 1;
    }
    PQclear(res);
    return rc;
}

static int pg_leader_held(void *handle)
{
    struct pg_db *d = handle;
    ASSERT(d != NULL);
    return d->leader_session != 0 && d->leader_session == d->session && !d->tx_lost &&
           PQstatus(d->conn) == CONNECTION_OK;
}

static void pg_close(void *handle)
{
    struct pg_db *d = handle;
    if (d == NULL) {
        return;
    }
    pg_cache_clear(d);
    PQfinish(d->conn);
    mem_free(d);
}

static enum err pg_open(const char *uri, void **out, struct errbuf *err)
{
    ASSERT(uri != NULL);
    ASSERT(out != NULL);
    struct pg_db *d = NULL;
    char *parse_msg = NULL;
    char msg[ERRBUF_MSG_MAX];
    enum err rc = ERR_OK;
    PQconninfoOption *opts = PQconninfoParse(uri, &parse_msg);
    if (opts == NULL) {
        pg_first_line(parse_msg != NULL ? parse_msg : "out of memory", msg, sizeof(msg));
        rc = err_set(err, ERR_INVALID, "db", "cannot use the database url: %s", msg);
        goto out;
    }
    PQconninfoFree(opts);
    d = mem_calloc(1, sizeof(*d));
    if (d == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory opening the database");
        goto out;
    }
    /* Defaults first: the URL (expanded from dbname) overrides them. */
    const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *const values[] = {PG_CONNECT_TIMEOUT_S, "bourse", uri, NULL};
    d->conn = PQconnectdbParams(keys, values, 1);
    if (d->conn == NULL) {
        rc = err_set(err, ERR_NOMEM, "", "out of memory connecting to the database");
        goto out;
    }
    if (PQstatus(d->conn) != CONNECTION_OK) {
        pg_message(d->conn, NULL, msg, sizeof(msg));
        rc = err_set(err, ERR_UNAVAILABLE, "db", "cannot connect to the database: %s", msg);
        goto out;
    }
    PQsetNoticeProcessor(d->conn, pg_notice_cb, NULL);
    if (PQserverVersion(d->conn) < PG_SERVER_VERSION_MIN) {
        rc = err_set(err, ERR_IO, "db", "postgres server version %d is older than %d",
                     PQserverVersion(d->conn), PG_SERVER_VERSION_MIN);
        goto out;
    }
    rc = pg_setup(d, err);
    if (rc != ERR_OK) {
        goto out;
    }
    d->session = 1;
    *out = d;
    d = NULL;
out:
    PQfreemem(parse_msg);
    pg_close(d);
    return rc;
}

const struct store_ops store_postgres_ops = {
    .name = "postgres",
    .version = 1,
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .query = pg_query,
    .begin_sql = PG_BEGIN_SQL,
    .leader_try = pg_leader_try,
    .leader_held = pg_leader_held,
    .defer = pg_defer,
    .read_only = pg_read_only,
    .columns_sql = "SELECT c.table_name::text, c.column_name::text"
                   " FROM information_schema.columns AS c"
                   " JOIN information_schema.tables AS t"
                   " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
                   " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
                   " ORDER BY c.table_name, c.ordinal_position",
    .search = &store__search_pg,
};
