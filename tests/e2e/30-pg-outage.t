#!/usr/bin/env bash
# PostgreSQL outages: while the database is down a request answers 503 problem+json and
# changes nothing; when it returns the server recovers without a restart; a connection killed
# between requests is replaced unseen; the log stays gapless throughout.
# The script stops and starts the database, so it runs on a private cluster of its own
# rather than the shared one of `make e2e-pg`.
if [ "${BOURSE_TEST_PG:-0}" != 1 ]; then
    echo "1..0 # SKIP postgres only"
    exit 0
fi
. "$(dirname "$0")/lib.sh"
PG_SH="$(cd "$(dirname "$0")/../.." && pwd)/scripts/pg.sh"
PG_DIR="$T_TMP/pg"
BOURSE_TEST_PG_URL=$("$PG_SH" start "$PG_DIR") || bail "cannot start a private cluster"
export BOURSE_TEST_PG_URL
at_exit '"$PG_SH" destroy "$PG_DIR" >/dev/null 2>&1'
start_server

entity_count() {
    req GET "/v1/entities?limit=100"
    [ "$STATUS" = 200 ] || bail "cannot list entities: $STATUS"
    jbody '.items | length'
}

# wait_up: polls a read until the server answers 200 again (at most 30 s).
wait_up() {
    for _ in $(seq 1 150); do
        req GET "/v1/entities?limit=1"
        [ "$STATUS" = 200 ] && return 0
        sleep 0.2
    done
    return 1
}

new_entity provider 'Before the outage' verify
LAST=$(jbody .log_index)
BEFORE=$(entity_count)

# --- the database goes away ------------------------------------------------------------------
"$PG_SH" stop "$PG_DIR" || bail "cannot stop the cluster"
CT=$(curl -s -o "$BODY_FILE" -w '%{http_code} %{content_type}' -X POST \
    -H 'Content-Type: application/json' --data-binary "$(apply_json buyer 'During the outage')" \
    "$BOURSE_URL/v1/entities")
is "$CT" "503 application/problem+json" "a mutation while the database is down answers 503"
is "$(jbody .type)" "https://bourse.dev/problems/unavailable" "unavailable problem type"
req POST "/v1/entities/$EID/certificates" '{"type":"data_provider"}'
is "$STATUS" 503 "an authenticated mutation answers 503 too"
req GET "/v1/entities"
is "$STATUS" 503 "a read answers 503"
ok "the server is still running" kill -0 "$SERVER_PID"

# --- the database returns ----------------------------------------------------------------------
"$PG_SH" start "$PG_DIR" >/dev/null || bail "cannot restart the cluster"
ok "service recovers without restarting the server" wait_up
is "$(entity_count)" "$BEFORE" "the refused mutations wrote nothing"
req GET "/v1/entities?q=During"
is "$(jbody '.items | length')" 0 "no half-written applicant"
req GET "/v1/entities/$EID"
is "$(jbody '.certificates | length')" 0 "no half-written certificate"
req POST /v1/entities "$(apply_json buyer 'After the outage')" -
is "$STATUS" 201 "a mutation succeeds after recovery"
is "$(jbody .log_index)" "$((LAST + 1))" "the log continues without a gap"
LAST=$(jbody .log_index)
is "$(entity_count)" "$((BEFORE + 1))" "exactly one entity was added"

# --- a quick database restart -------------------------------------------------------------------
"$PG_SH" stop "$PG_DIR" >/dev/null && "$PG_SH" start "$PG_DIR" >/dev/null || bail "cannot restart"
ok "service recovers after a database restart" wait_up
req POST /v1/entities "$(apply_json buyer 'After a restart')" -
is "$STATUS" 201 "a mutation after a database restart succeeds"
is "$(jbody .log_index)" "$((LAST + 1))" "and takes the next log index"
LAST=$(jbody .log_index)

# --- a killed connection between requests is invisible -------------------------------------------
pg_admin "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '$T_PG_DB'" >/dev/null
req GET "/v1/entities/$EID"
is "$STATUS" 200 "a read after the connection was killed succeeds"
pg_admin "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '$T_PG_DB'" >/dev/null
req POST /v1/entities "$(apply_json buyer 'After a kill')" -
is "$STATUS" 201 "a mutation after the connection was killed succeeds"
is "$(jbody .log_index)" "$((LAST + 1))" "and takes the next log index"
is "$(entity_count)" "$((BEFORE + 3))" "every acknowledged entity is there"

# --- committed data survives a server and database restart ----------------------------------------
kill9_server
"$PG_SH" stop "$PG_DIR" >/dev/null && "$PG_SH" start "$PG_DIR" >/dev/null || bail "cannot restart"
start_server
is "$(entity_count)" "$((BEFORE + 3))" "everything acknowledged survives restarts"

done_testing
