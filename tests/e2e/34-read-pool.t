#!/usr/bin/env bash
# The read pool (`bourse serve --db-pool N`, docs/decisions/0008-connection-pool.md): on
# PostgreSQL the server opens N connections, its loop's own and N - 1 read-only ones whose
# threads serve the routes flagged as reads. Reads answered by the pool see every acknowledged
# write at once (a listing delisted and read back, twelve times), many concurrent reads beside
# a stream of writes all succeed, the log stays verifiable, and the server drains and stops
# cleanly. Bad sizes, and a pool on SQLite (which one connection holds exclusively), are
# refused before anything is created.
. "$(dirname "$0")/lib.sh"
B=$BOURSE_BIN

# --- refusals, on either backend ------------------------------------------------------------------
for v in 0 65 x -1 2.5; do
    "$B" serve --listen 127.0.0.1:1 --data "$T_TMP/nodata" --db-pool "$v" >"$T_TMP/o" 2>&1
    is $? 2 "--db-pool $v is refused"
done
ok "naming the setting and its range" grep -q "db_pool must be an integer from 1 to 64" "$T_TMP/o"
BOURSE_DB_POOL=0 "$B" serve --listen 127.0.0.1:1 --data "$T_TMP/nodata" >"$T_TMP/o" 2>&1
is $? 2 "BOURSE_DB_POOL=0 is refused too"
"$B" serve --listen 127.0.0.1:1 --data "$T_TMP/nodata" --db "$T_TMP/nodata.db" --db-pool 2 \
    >"$T_TMP/o" 2>&1
is $? 2 "a pool on SQLite is refused"
ok "saying why" grep -q "SQLite store has one connection" "$T_TMP/o"
not_ok "and nothing was created" test -e "$T_TMP/nodata" -o -e "$T_TMP/nodata.db"

if [ "${BOURSE_TEST_PG:-0}" != 1 ]; then
    start_server --db-pool 1
    req GET /healthz "" -
    is "$(jbody .db_pool)" 1 "SQLite runs with its one connection"
    stop_server
    is $? 0 "and stops cleanly"
    done_testing
fi

# --- PostgreSQL: N connections ----------------------------------------------------------------------
start_server --db-pool 3 --rate-limit 0
req GET /healthz "" -
is "$(jbody .db_pool)" 3 "/healthz shows the pool's size"
is "$(pg_admin "SELECT count(*) FROM pg_stat_activity WHERE datname = '$T_PG_DB'")" 3 \
    "the server holds three connections to its database"
is "$(pg_admin "SELECT count(*) FROM pg_stat_activity WHERE datname = '$T_PG_DB'
                  AND query ILIKE '%default_transaction_read_only%'")" 2 \
    "two of them set read-only"
ok "the log says so" grep -q "read pool: 2 read-only connections" "$T_TMP/server.log"

OUT=$("$B" --key "$OPKEY" --json demo load --keys "$T_TMP/demo-keys.json" \
    --signing-keys "$T_TMP/demo-signing")
is $? 0 "the demo market loads through the server"
req GET "/v1/listings?limit=50" "" -
is "$STATUS" 200 "the catalogue is read through the pool"
LISTINGS=$(jbody '[.items[] | select(.status == "active") | .id] | join(" ")')
N_LISTED=$(echo "$LISTINGS" | wc -w)
ok "the demo's public listings, $N_LISTED of $(echo "$OUT" | jq .listings)" test "$N_LISTED" -ge 8

# Read-your-writes: a reader's connection sees each delisting as soon as it is acknowledged.
seen=0
for id in $LISTINGS; do
    req POST "/v1/listings/$id/delist" '{"reason":"read pool test"}' "$OPKEY"
    [ "$STATUS" = 200 ] || continue
    req GET "/v1/listings/$id" "" -
    [ "$STATUS" = 200 ] && [ "$(jbody .status)" = delisted ] && seen=$((seen + 1))
done
is "$seen" "$(echo "$LISTINGS" | wc -w)" "each delisting is read back at once through the pool"

curl -sf "$BOURSE_URL/log/checkpoint" >"$T_TMP/cp-before" || bail "no checkpoint"

# Concurrent reads beside a stream of writes: every answer is whole and right.
reader() {
    local i
    for i in $(seq 1 60); do
        curl -s -o /dev/null -w '%{http_code}\n' "$BOURSE_URL/v1/listings?q=$(printf '%s' 数据 | jq -sRr @uri)"
        curl -s -o /dev/null -w '%{http_code}\n' "$BOURSE_URL/v1/log/checkpoint"
        curl -s -o /dev/null -w '%{http_code}\n' "$BOURSE_URL/v1/categories"
    done >"$T_TMP/reader.$1"
}
writer() {
    local i
    for i in $(seq 1 30); do
        curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
            --data-binary "$(apply_json provider "并发写入 $i")" "$BOURSE_URL/v1/entities"
    done >"$T_TMP/writer"
}
PIDS=()
for r in 1 2 3 4; do
    reader "$r" &
    PIDS+=($!)
done
writer &
PIDS+=($!)
wait "${PIDS[@]}" # not a bare wait: the server is a child too
is "$(cat "$T_TMP"/reader.* | sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')" "200:720 " \
    "720 concurrent reads, all 200"
is "$(sort "$T_TMP/writer" | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')" "201:30 " \
    "30 writes beside them, all 201"
req GET "/v1/entities?limit=100" "" "$OPKEY"
is "$(jbody '[.items[] | select(.name | startswith("并发写入"))] | length')" 30 "and every write is there"

KEY=$(curl -sf "$BOURSE_URL/log/key")
for _ in $(seq 1 50); do
    size=$(curl -sf "$BOURSE_URL/log/checkpoint" | sed -n 2p)
    [ -n "$size" ] && [ "$size" -gt 30 ] && break
    sleep 0.1
done
ok "the log served by the pool verifies: an entry, and the old checkpoint against the new" \
    "$B" log verify --log-key "$KEY" --index 3 --old-checkpoint "$T_TMP/cp-before"
not_ok "no reader met a refused write" grep -Eq "read-only (store connection|transaction)" \
    "$T_TMP/server.log"
stop_server
is $? 0 "the server drains the pool and stops cleanly"

done_testing
