/*
 * db.c: `bourse db status|migrate|copy`, the administrator's database commands. Unlike the
 * other client commands they talk to no server: they open the database itself through the
 * store module, as one does before starting nodes, to upgrade a schema, or to move an exchange
 * from SQLite to PostgreSQL. They never create a SQLite file by accident (a missing one is
 * "not found"), and since a running server holds its SQLite database exclusively, they fail
 * (exit 7, "in use by another process") while one serves it. A PostgreSQL database may have
 * nodes running meanwhile: migrate and copy write under the store's writer lock.
 *
 * Where the database is: --db URI (a postgres:// URL or a SQLite file), else --data DIR (its
 * bourse.db), else BOURSE_DB, else BOURSE_DATA, else ./data, as `bourse serve` resolves it. A
 * directory given as a location means its bourse.db.
 */
#include "util/compat.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "util/banned.h"

#define DB_LOCATION_MAX 4096
#define DB_FILE "bourse.db"

static int db_is_postgres(const char *where)
{
    return strncmp(where, "postgres://", 11) == 0 || strncmp(where, "postgresql://", 13) == 0;
}

/*
 * Turns a location into what store_open takes: a postgres URL as it is, a directory into its
 * bourse.db, a file path as it is. With must_exist a SQLite file that is not there is
 * CLI_EXIT_NOT_FOUND. Returns an exit code, CLI_EXIT_OK on success.
 */
static int db_locate(struct cli *c, const char *where, int must_exist, char out[DB_LOCATION_MAX])
{
    ASSERT(where != NULL);
    struct stat st;
    int n = 0;
    if (db_is_postgres(where)) {
        n = snprintf(out, DB_LOCATION_MAX, "%s", where);
    } else if (stat(where, &st) == 0 && S_ISDIR(st.st_mode)) {
        n = snprintf(out, DB_LOCATION_MAX, "%s/%s", where, DB_FILE);
    } else {
        n = snprintf(out, DB_LOCATION_MAX, "%s", where);
    }
    if (n < 0 || n >= DB_LOCATION_MAX) {
        cli__error(c, "the database location is too long");
        return CLI_EXIT_USAGE;
    }
    if (must_exist && !db_is_postgres(out) && stat(out, &st) != 0) {
        cli__error(c, "no database at '%s': %s", out, strerror(errno));
        return CLI_EXIT_NOT_FOUND;
    }
    return CLI_EXIT_OK;
}

/* The database of status and migrate (see the file comment). Returns an exit code. */
static int db_resolve(struct cli *c, const struct cli_command *cmd, const struct cli_args *a,
                      char out[DB_LOCATION_MAX])
{
    const char *db = cli__arg(a, "db");
    const char *data = cli__arg(a, "data");
    if (db != NULL && data != NULL) {
        return cli__usage_error(c, cmd, "give --db or --data, not both");
    }
    if (db == NULL && data == NULL) {
        db = c->env(c->env_ctx, "BOURSE_DB");
        db = db != NULL && db[0] != '\0' ? db : NULL;
    }
    if (db == NULL && data == NULL) {
        data = c->env(c->env_ctx, "BOURSE_DATA");
        data = data != NULL && data[0] != '\0' ? data : "./data";
    }
    return db_locate(c, db != NULL ? db : data, 1, out);
}

/* Opens the store at where; prints the failure and returns its exit code. */
static int db_open(struct cli *c, const char *where, unsigned flags, struct store **s)
{
    struct errbuf err;
    errbuf_init(&err);
    *s = NULL;
    enum err rc = store_open_with(where, flags, s, &err);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    return CLI_EXIT_OK;
}

static int db_status(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    char where[DB_LOCATION_MAX];
    int code = db_resolve(c, cmd, a, where);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    struct store *s = NULL;
    code = db_open(c, where, STORE_OPEN_NO_MIGRATE, &s);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    struct errbuf err;
    errbuf_init(&err);
    struct store_status st;
    enum err rc = store_status_read(s, &st, &err);
    store_close(s);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    json_t *o =
        json_pack("{s:s, s:i, s:i, s:I, s:I}", "backend", st.backend, "schema_version",
                  st.schema_version, "schema_latest", st.schema_latest, "events",
                  (json_int_t)st.event_count, "checkpoint_size", (json_int_t)st.checkpoint_size);
    if (o == NULL) {
        cli__error(c, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    if (st.event_count < 0) {
        json_object_set_new(o, "events", json_null());
    }
    if (c->json) {
        cli__json_print(c, o);
        json_decref(o);
        return CLI_EXIT_OK;
    }
    char schema[96];
    snprintf(schema, sizeof(schema), "%d (latest %d%s)", st.schema_version, st.schema_latest,
             st.schema_version < st.schema_latest ? "; run 'bourse db migrate'" : "");
    cli__print_field(c, "backend", st.backend);
    cli__print_field(c, "schema", schema);
    cli__print_field_int(c, "events", o, "events");
    cli__print_field_int(c, "checkpoint", o, "checkpoint_size");
    json_decref(o);
    return CLI_EXIT_OK;
}

static int db_migrate(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    char where[DB_LOCATION_MAX];
    int code = db_resolve(c, cmd, a, where);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    struct store *s = NULL;
    code = db_open(c, where, STORE_OPEN_NO_MIGRATE, &s);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    struct errbuf err;
    errbuf_init(&err);
    int before = 0;
    int applied = 0;
    int after = 0;
    struct store_status st;
    enum err rc = store_status_read(s, &st, &err);
    before = st.schema_version;
    if (rc == ERR_OK) {
        rc = store_migrate(s, &applied, &err);
    }
    if (rc == ERR_OK) {
        rc = store_schema_version(s, &after, &err);
    }
    store_close(s);
    if (rc != ERR_OK) {
        cli__error(c, "%s", err.msg);
        return cli__exit_from_err(rc);
    }
    if (applied == 0) {
        fprintf(c->out, "the schema is up to date (version %d)\n", after);
    } else {
        fprintf(c->out, "migrated the schema from version %d to %d\n", before, after);
    }
    return CLI_EXIT_OK;
}

static int db_copy(struct cli *c, const struct cli_command *cmd, const struct cli_args *a)
{
    char from_where[DB_LOCATION_MAX];
    char to_where[DB_LOCATION_MAX];
    int code = db_locate(c, cli__arg(a, "from"), 1, from_where);
    if (code == CLI_EXIT_OK) {
        code = db_locate(c, cli__arg(a, "to"), 0, to_where);
    }
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (strcmp(from_where, to_where) == 0) {
        return cli__usage_error(c, cmd, "--from and --to name the same database");
    }
    struct store *from = NULL;
    struct store *to = NULL;
    code = db_open(c, from_where, STORE_OPEN_NO_MIGRATE, &from);
    if (code == CLI_EXIT_OK) {
        code = db_open(c, to_where, 0, &to);
    }
    struct errbuf err;
    errbuf_init(&err);
    int64_t rows = 0;
    struct store_status st;
    enum err rc = ERR_OK;
    if (code == CLI_EXIT_OK) {
        rc = store_copy(from, to, &rows, &err);
    }
    if (code == CLI_EXIT_OK && rc == ERR_OK) {
        rc = store_status_read(to, &st, &err);
    }
    store_close(from);
    store_close(to);
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (rc != ERR_OK) {
        cli__error(c, "cannot copy the database: %s", err.msg);
        return cli__exit_from_err(rc);
    }
    fprintf(c->out,
            "copied %lld rows into the %s database: %lld events, the newest checkpoint at "
            "size %lld\n",
            (long long)rows, st.backend, (long long)st.event_count, (long long)st.checkpoint_size);
    return CLI_EXIT_OK;
}

static const struct cli_option db_where_options[] = {
    {"db", CLI_OPT_VALUE, NULL, NULL},
    {"data", CLI_OPT_VALUE, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

static const struct cli_option db_copy_options[] = {
    {"from", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {"to", CLI_OPT_VALUE | CLI_OPT_REQUIRED, NULL, NULL},
    {NULL, 0, NULL, NULL},
};

const struct cli_command cli__db_commands[] = {
    {"db", "status", db_status, NULL, db_where_options, NULL, CLI_CMD_LOCAL,
     "[--db URI | --data DIR]",
     "show the database's backend, schema version, event count and newest checkpoint"},
    {"db", "migrate", db_migrate, NULL, db_where_options, NULL, CLI_CMD_LOCAL,
     "[--db URI | --data DIR]", "apply the pending schema migrations to the database"},
    {"db", "copy", db_copy, NULL, db_copy_options, NULL, CLI_CMD_LOCAL,
     "--from SQLITE_FILE|DATA_DIR|URL --to postgres://...",
     "copy an exchange, log intact, into an empty database (SQLite to PostgreSQL)"},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL},
};
