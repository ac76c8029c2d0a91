#!/usr/bin/env bash
# `bourse db` on SQLite (docs/cli.md): status and migrate act on the database file directly
# and are refused while a server holds it; a copy into another file keeps the log, so that the
# old checkpoints verify against the copy's newest. (36-db-copy.t moves to PostgreSQL.)
. "$(dirname "$0")/lib.sh"
export BOURSE_TEST_PG=0
unset BOURSE_DB
B=$BOURSE_BIN
W=$T_TMP/w
mkdir -p "$W"
export BOURSE_KEY_FILE="$T_DATA/operator.key"

"$B" db status --data "$T_TMP/none" >"$W/out" 2>&1
is $? 3 "db status on a missing database is not found"
ok "and creates nothing" test ! -e "$T_TMP/none/bourse.db"
"$B" db status --db x.db --data y >/dev/null 2>&1
is $? 2 "--db and --data together are a usage error"

start_server
"$B" log key --out "$W/log.key" >/dev/null || bail "log key"
for i in 1 2; do new_entity provider "数据库 $i" verify; done
LAST=$(jbody .log_index)
for _ in $(seq 1 50); do
    [ "$(curl -sf "$BOURSE_URL/log/checkpoint" | sed -n 2p)" -gt "$LAST" ] && break
    sleep 0.1
done
ok "save a checkpoint" "$B" log checkpoint --log-key "@$W/log.key" --out "$W/cp1"
"$B" db migrate --data "$T_DATA" >"$W/out" 2>&1
is $? 7 "db migrate is refused while the server holds the database"
grep -q "in use by another process" "$W/out"
is $? 0 "and says why"
SNAP=$(snapshot)
stop_server

BOURSE_DATA=$T_DATA "$B" --json db status >"$W/st" 2>"$W/err"
is $? 0 "db status finds the database through BOURSE_DATA"
is "$(jq -r .backend "$W/st")" sqlite "on SQLite"
is "$(jq -r '.schema_version == .schema_latest' "$W/st")" true "with a current schema"
is "$(jq -r .events "$W/st")" "$((LAST + 1))" "and every event"
ok "db migrate: nothing to do" "$B" db migrate --db "$T_DATA/bourse.db"

ok "db copy into a new SQLite file" "$B" db copy --from "$T_DATA" --to "$T_TMP/copy.db"
"$B" db copy --from "$T_DATA" --to "$T_TMP/copy.db" >"$W/out" 2>&1
is $? 4 "a second copy into it is refused"
start_server --db "$T_TMP/copy.db"
is "$(snapshot)" "$SNAP" "a server on the copy has every entity"
new_entity buyer "数据库 after the copy"
LAST=$(jbody .log_index)
for _ in $(seq 1 50); do
    [ "$(curl -sf "$BOURSE_URL/log/checkpoint" | sed -n 2p)" -gt "$LAST" ] && break
    sleep 0.1
done
ok "the old checkpoint is consistent with the copy's newest" \
    "$B" log verify --log-key "@$W/log.key" --old-checkpoint "$W/cp1"
ok "log audit passes on the copy" "$B" log audit --log-key "@$W/log.key"

done_testing
