#!/usr/bin/env bash
# Moving an exchange from SQLite to PostgreSQL with `bourse db copy` (docs/cli.md): the log
# comes across byte for byte, so checkpoints issued on SQLite verify as consistent with those
# the exchange signs on PostgreSQL; every entity, review and stored idempotent response is
# there; the copy refuses a database that is not empty; `bourse db status` and `bourse db
# migrate` work on both backends.
if [ "${BOURSE_TEST_PG:-0}" != 1 ]; then
    echo "1..0 # SKIP postgres only"
    exit 0
fi
. "$(dirname "$0")/lib.sh"
B=$BOURSE_BIN
W=$T_TMP/w
mkdir -p "$W"
export BOURSE_KEY_FILE="$T_DATA/operator.key"

log_size() { curl -sf "$BOURSE_URL/log/checkpoint" | sed -n 2p; }
wait_covers() {
    local size
    for _ in $(seq 1 50); do
        size=$(log_size)
        [ -n "$size" ] && [ "$size" -gt "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
status_json() { "$B" --json db status "$@" 2>"$W/status.err"; }

# ---- an exchange on SQLite ---------------------------------------------------------------------
BOURSE_TEST_PG=0 start_server
is "$(curl -sf "$BOURSE_URL/healthz" | jq -r .store)" sqlite "the exchange starts on SQLite"
"$B" log key --out "$W/log.key" >/dev/null || bail "log key"
KEY="@$W/log.key"
for i in 1 2 3; do new_entity provider "迁移 $i" verify; done
wait_covers "$(jbody .log_index)" || bail "no checkpoint within 5 s"
ok "save checkpoint 1 on SQLite" "$B" log checkpoint --log-key "$KEY" --out "$W/cp1"
new_entity buyer "迁移 buyer" verify
req POST /v1/entities "$(apply_json broker "迁移 broker")" -
BROKER=$(jbody .id)
req POST "/v1/entities/$BROKER/review" '{"decision":"reject","reason":"licence expired"}'
IDEM_REQ=$(apply_json buyer '幂等 move')
IDEM=$(curl -s -o "$W/idem1" -w '%{http_code}' -X POST -H "Idempotency-Key: move-1" \
    -H "Authorization: Bearer $OPKEY" -H 'Content-Type: application/json' \
    --data-binary "$IDEM_REQ" "$BOURSE_URL/v1/entities")
is "$IDEM" 201 "a keyed request on SQLite"
LAST=$(jq -r .log_index "$W/idem1")
wait_covers "$LAST" || bail "no checkpoint within 5 s"
ok "save checkpoint 2 on SQLite" "$B" log checkpoint --log-key "$KEY" --out "$W/cp2"
SNAP=$(snapshot)
req GET "/v1/entities/$BROKER"
BROKER_BEFORE=$(jq -S . <"$BODY_FILE")
"$B" db status --data "$T_DATA" >"$W/out" 2>&1
is $? 7 "db status is refused while a server holds the SQLite database"
grep -q "in use by another process" "$W/out"
is $? 0 "and says why"
stop_server

# ---- status and migrate ------------------------------------------------------------------------
status_json --data "$T_DATA" >"$W/st-sqlite" || bail "db status: $(cat "$W/status.err")"
is "$(jq -r .backend "$W/st-sqlite")" sqlite "db status names the backend"
is "$(jq -r '.schema_version == .schema_latest' "$W/st-sqlite")" true "and the schema is current"
EVENTS=$(jq -r .events "$W/st-sqlite")
CP=$(jq -r .checkpoint_size "$W/st-sqlite")
is "$CP" "$EVENTS" "every event is in the newest checkpoint ($CP)"
ok "db migrate on a current SQLite database" "$B" db migrate --data "$T_DATA"
grep -q "up to date" "$T_TMP/ok.out"
is $? 0 "says it is up to date"

pg_db_create # a fresh PostgreSQL database; BOURSE_DB is its URL
status_json --db "$BOURSE_DB" >"$W/st-empty" || bail "db status: $(cat "$W/status.err")"
is "$(jq -c '[.backend, .schema_version, .events]' "$W/st-empty")" '["postgres",0,null]' \
    "an empty PostgreSQL database has no schema yet"
"$B" db status --db "$BOURSE_DB" | grep -q "run 'bourse db migrate'"
is $? 0 "db status says what to do"
ok "db migrate creates the schema" "$B" db migrate --db "$BOURSE_DB"
grep -q "from version 0 to" "$T_TMP/ok.out"
is $? 0 "and says so"
ok "db migrate again" "$B" db migrate --db "$BOURSE_DB"
grep -q "up to date" "$T_TMP/ok.out"
is $? 0 "has nothing to do"

# ---- the copy -----------------------------------------------------------------------------------
"$B" db copy --from "$T_TMP/nowhere" --to "$BOURSE_DB" >"$W/out" 2>&1
is $? 3 "a missing source is not found"
ok "db copy from the data directory to PostgreSQL" \
    "$B" db copy --from "$T_DATA" --to "$BOURSE_DB"
grep -q "$EVENTS events" "$T_TMP/ok.out"
is $? 0 "reports the events copied"
status_json --db "$BOURSE_DB" >"$W/st-pg"
is "$(jq -c '[.events, .checkpoint_size]' "$W/st-pg")" "[$EVENTS,$CP]" \
    "PostgreSQL holds the same events and newest checkpoint"
"$B" db copy --from "$T_DATA" --to "$BOURSE_DB" >"$W/out" 2>&1
is $? 4 "a second copy into the now non-empty database is refused"
grep -q "not empty" "$W/out"
is $? 0 "and says why"
is "$(status_json --db "$BOURSE_DB" | jq -r .events)" "$EVENTS" "and changed nothing"

# ---- the exchange on PostgreSQL -----------------------------------------------------------------
start_server
is "$(curl -sf "$BOURSE_URL/healthz" | jq -r .store)" postgres "the exchange starts on PostgreSQL"
is "$(curl -sf "$BOURSE_URL/log/key")" "$(cat "$W/log.key")" "with the same log key"
is "$(snapshot)" "$SNAP" "every entity is there, unchanged"
req GET "/v1/entities/$BROKER"
is "$(jq -S . <"$BODY_FILE")" "$BROKER_BEFORE" "with its reviews"
REPLAY=$(curl -s -D "$W/h" -o "$W/idem2" -w '%{http_code}' -X POST -H "Idempotency-Key: move-1" \
    -H "Authorization: Bearer $OPKEY" -H 'Content-Type: application/json' \
    --data-binary "$IDEM_REQ" "$BOURSE_URL/v1/entities")
is "$REPLAY" 201 "an idempotency key used on SQLite replays on PostgreSQL"
grep -qi '^idempotency-replayed: true' "$W/h"
is $? 0 "as a replay"
for i in 1 2; do new_entity provider "after the move $i" verify; done
LAST=$(jbody .log_index)
wait_covers "$LAST" || bail "no checkpoint on PostgreSQL within 5 s"
is "$(log_size)" "$((LAST + 1))" "the log grows on PostgreSQL"
for cp in cp1 cp2; do
    ok "checkpoint $cp from SQLite is consistent with the newest on PostgreSQL" \
        "$B" log verify --log-key "$KEY" --old-checkpoint "$W/$cp"
done
ok "log audit passes" "$B" log audit --log-key "$KEY"

done_testing
