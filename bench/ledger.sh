#!/usr/bin/env bash
# The clearing ledger's throughput (bench/ledger_bench.c) on this machine, in one run:
#
#   SQLite      ledger transfers/s through clearing (batched, and one per mutation) with
#               durable commits of PER_TX transfers, beside the store's bare insert rate of
#               the same rows (the ceiling), and the 50,000/s target
#   PostgreSQL  (when scripts/pg.sh can start a private cluster) the same, beside pgbench
#               running a plain SQL double-entry transfer (bench/ledger_pgbench.sql: one
#               transaction per transfer, synchronous_commit on) on the same cluster, with
#               1 and PG_CLIENTS connections; the target is bourse >= 2x the plain rate
#
# Usage: bench/ledger.sh [accounts] [transfers] [per_tx]
# Env: PG_TRANSFERS (default transfers / 4), PG_CLIENTS (default 8), PGBENCH_SECONDS
#      (default 20), PG_DIR (default build/pg-bench; stopped at exit), SKIP_PG=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ACCOUNTS=${1:-10000}
TRANSFERS=${2:-200000}
PER_TX=${3:-1000}
PG_TRANSFERS=${PG_TRANSFERS:-$((TRANSFERS / 4))}
PG_CLIENTS=${PG_CLIENTS:-8}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-20}
PG_DIR=${PG_DIR:-build/pg-bench}
TARGET=50000

make -s build/bench/ledger_bench >/dev/null
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bourse-ledgerbench.XXXXXX")
PG_STARTED=0
cleanup() {
    if [ "$PG_STARTED" = 1 ]; then ./scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1 || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

val() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "# $(date -u +%FT%TZ)  $(uname -sr)  cpus=$(nproc)  disk=$(df -P "$TMP" | awk 'NR==2{print $1}')"
PER_CALL=$(awk '/^#define CLEARING_BATCH_MAX / {print $3; exit}' src/clearing/clearing.h)
echo "# $ACCOUNTS accounts, $PER_TX transfers per durable commit, $PER_CALL per ledger call"

echo "## SQLite: $TRANSFERS transfers"
build/bench/ledger_bench "$TMP/ledger.db" "$TMP/ceiling.db" "$ACCOUNTS" "$TRANSFERS" "$PER_TX" >"$TMP/sqlite.out"
B=$(val ledger_batched_tps "$TMP/sqlite.out")
S=$(val ledger_single_tps "$TMP/sqlite.out")
C=$(val ceiling_rows_per_s "$TMP/sqlite.out")
printf "%-52s %10s /s\n" "ledger, batched (one event per $(val per_call "$TMP/sqlite.out") transfers)" "$B"
printf "%-52s %10s /s\n" "ledger, one transfer per mutation (one event each)" "$S"
printf "%-52s %10s /s\n" "ceiling: bare insert of the same rows" "$C"
printf "%-52s %10s /s\n" "ledger check (replay of every transfer)" "$(val check_transfers_per_s "$TMP/sqlite.out")"
printf "%-52s %10s\n" "ratio ledger/ceiling" "$(ratio "$B" "$C")"
printf "%-52s %10s\n" "ratio ledger/target $TARGET" "$(ratio "$B" "$TARGET")"

if [ "${SKIP_PG:-0}" = 1 ]; then exit 0; fi
if ! URL=$(./scripts/pg.sh start "$PG_DIR" 2>"$TMP/pg.err"); then
    echo "## PostgreSQL: skipped (scripts/pg.sh cannot start a cluster: $(tail -n 1 "$TMP/pg.err"))"
    exit 0
fi
PG_STARTED=1
PSQL=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)/psql
[ -x "$PSQL" ] || PSQL=psql
PGBENCH=$(command -v pgbench || echo "$(dirname "$PSQL")/pgbench")
base=${URL%/*}
SUFFIX=$$
for db in ledger ceiling plain; do
    "$PSQL" -X -q -d "$URL" -c "DROP DATABASE IF EXISTS bench_${db}_$SUFFIX" -c "CREATE DATABASE bench_${db}_$SUFFIX"
done
drop_dbs() {
    for db in ledger ceiling plain; do
        "$PSQL" -X -q -d "$URL" -c "DROP DATABASE IF EXISTS bench_${db}_$SUFFIX WITH (FORCE)" >/dev/null 2>&1 || true
    done
}
trap 'drop_dbs; cleanup' EXIT
echo "## PostgreSQL $("$PSQL" -X -t -A -d "$URL" -c 'SHOW server_version'): $PG_TRANSFERS transfers, synchronous_commit $("$PSQL" -X -t -A -d "$URL" -c 'SHOW synchronous_commit'), fsync $("$PSQL" -X -t -A -d "$URL" -c 'SHOW fsync')"
build/bench/ledger_bench "$base/bench_ledger_$SUFFIX" "$base/bench_ceiling_$SUFFIX" "$ACCOUNTS" "$PG_TRANSFERS" "$PER_TX" >"$TMP/pg.out"
PB=$(val ledger_batched_tps "$TMP/pg.out")
PS=$(val ledger_single_tps "$TMP/pg.out")
PC=$(val ceiling_rows_per_s "$TMP/pg.out")

"$PSQL" -X -q -d "$base/bench_plain_$SUFFIX" <<SQL
CREATE TABLE accounts (id BIGINT PRIMARY KEY, debits_posted BIGINT NOT NULL, credits_posted BIGINT NOT NULL);
CREATE TABLE transfers (id BIGSERIAL PRIMARY KEY, debit_account BIGINT NOT NULL,
  credit_account BIGINT NOT NULL, amount BIGINT NOT NULL, code TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now());
INSERT INTO accounts SELECT i, 0, 1099511627776 FROM generate_series(1, $ACCOUNTS) AS i;
VACUUM ANALYZE accounts;
SQL
plain() { # plain CLIENTS: tps of pgbench with that many connections
    "$PGBENCH" -n -f bench/ledger_pgbench.sql -D accounts="$ACCOUNTS" -c "$1" -j "$1" \
        -T "$PGBENCH_SECONDS" "$base/bench_plain_$SUFFIX" 2>&1 | tee "$TMP/pgbench-$1.out" |
        awk '/^tps = / {printf "%.0f", $3}'
}
P1=$(plain 1)
PN=$(plain "$PG_CLIENTS")
BEST=$(awk -v a="$P1" -v b="$PN" 'BEGIN {print (a > b ? a : b)}')
printf "%-52s %10s /s\n" "ledger, batched, one connection" "$PB"
printf "%-52s %10s /s\n" "ledger, one transfer per mutation" "$PS"
printf "%-52s %10s /s\n" "ceiling: bare insert of the same rows" "$PC"
printf "%-52s %10s /s\n" "plain SQL (pgbench), 1 connection" "$P1"
printf "%-52s %10s /s\n" "plain SQL (pgbench), $PG_CLIENTS connections" "$PN"
printf "%-52s %10s\n" "ratio ledger/plain (best of the two; target >= 2)" "$(ratio "$PB" "$BEST")"
printf "%-52s %10s\n" "ratio ledger/ceiling" "$(ratio "$PB" "$PC")"
