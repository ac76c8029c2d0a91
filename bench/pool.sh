#!/usr/bin/env bash
# The read pool on PostgreSQL (`bourse serve --db-pool N`; docs/decisions/0008-connection-pool.md):
# the same server and database with 1 connection (every read on the event loop's thread, behind
# the group commit) and with N connections (reads on N - 1 reader threads), side by side in one
# run, printing each against pool 1:
#
#   reads        wrk -t1 -c$CONNS GET /v1/listings?q=data (catalogue search) for $DURATION s
#   mixed        the same reads while a second wrk posts ledger deposits (durable writes, one
#                group commit per loop iteration) for the same time: reads/s, read p99, writes/s
#
# The catalogue is `bourse demo load`'s market. Loopback only; the cluster (scripts/pg.sh) and
# servers it starts are stopped on exit.
#
# Usage: bench/pool.sh [pool sizes...]   (default: 1 2 4)
# Env: DURATION (default 10), CONNS (default 16), PG_DIR (default build/pg-bench-pool).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-16}
PG_DIR=${PG_DIR:-build/pg-bench-pool}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1 2 4)
command -v wrk >/dev/null || { echo "pool.sh: needs wrk (apt-get install -y wrk)" >&2; exit 1; }
make -s build/bourse >/dev/null
B=$PWD/build/bourse
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bourse-poolbench.XXXXXX")
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    ./scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
URL=$(./scripts/pg.sh start "$PG_DIR")
PSQL=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/psql
DB=bench_pool_$$
"$PSQL" -X -q -d "$URL" -c "CREATE DATABASE $DB"
DB_URL=${URL%/*}/$DB
PORT=18$((RANDOM % 900 + 100))
BASE=http://127.0.0.1:$PORT

serve() {
    "$B" serve --listen "127.0.0.1:$PORT" --data "$TMP/data" --db "$DB_URL" --db-pool "$1" \
        --rate-limit 0 --log-level warn >"$TMP/server.out" 2>>"$TMP/server.log" &
    SERVER=$!
    for _ in $(seq 1 100); do
        curl -sf "$BASE/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "pool.sh: the server did not start: $(tail -n 3 "$TMP/server.log")" >&2
    exit 1
}
unserve() {
    kill -TERM "$SERVER"
    wait "$SERVER" || true
    SERVER=
}

# wrk's figures: requests/s and the 99th percentile in ms.
rps() { awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$1"; }
p99() {
    awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         m = (u == "us") ? 0.001 : (u == "s") ? 1000 : 1; printf "%.2f", v * m }' "$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

serve 1
OPKEY=$(cat "$TMP/data/operator.key")
"$B" --url "$BASE" --key "$OPKEY" --json demo load --keys "$TMP/keys.json" \
    --signing-keys "$TMP/signing" >/dev/null
ENT=$(jq -r '.entities[] | select(.key == "icbc") | .id' "$TMP/keys.json")
unserve
cat >"$TMP/deposit.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $OPKEY"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"entity":"$ENT","currency":"CNY","amount":100,"reference":"bench"}'
LUA
READ="$BASE/v1/listings?q=data"

echo "# $(date -u +%FT%TZ)  $(uname -sr)  cpus=$(nproc)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# PostgreSQL $("$PSQL" -X -t -A -d "$URL" -c 'SHOW server_version'), demo market, wrk -t1 -c$CONNS, ${DURATION}s per run"
printf "%-6s %12s %10s %12s %12s %12s %10s %10s\n" pool "reads/s" "p99 ms" "mixed rd/s" "mixed p99" "writes/s" "reads x" "mixed x"
R1=; M1=
for n in "${SIZES[@]}"; do
    serve "$n"
    wrk -t1 -c4 -d1s "$READ" >/dev/null # warm-up
    wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$READ" >"$TMP/reads.$n"
    wrk -t1 -c4 -d"${DURATION}s" -s "$TMP/deposit.lua" "$BASE/v1/ledger/deposits" >"$TMP/writes.$n" &
    W=$!
    wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$READ" >"$TMP/mixed.$n"
    wait "$W"
    unserve
    r=$(rps "$TMP/reads.$n")
    m=$(rps "$TMP/mixed.$n")
    [ -n "$R1" ] || { R1=$r; M1=$m; }
    printf "%-6s %12s %10s %12s %12s %12s %10s %10s\n" "$n" "$r" "$(p99 "$TMP/reads.$n")" "$m" \
        "$(p99 "$TMP/mixed.$n")" "$(rps "$TMP/writes.$n")" "$(ratio "$r" "$R1")" "$(ratio "$m" "$M1")"
    if grep -q "Non-2xx" "$TMP/reads.$n" "$TMP/mixed.$n" "$TMP/writes.$n"; then
        echo "#   pool $n: some answers were not 2xx:"
        grep -h "Non-2xx" "$TMP/reads.$n" "$TMP/mixed.$n" "$TMP/writes.$n" | sed 's/^/#     /'
    fi
done
echo "# reads x, mixed x: reads/s against pool ${SIZES[0]}; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
