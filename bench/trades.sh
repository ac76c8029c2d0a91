#!/usr/bin/env bash
# Complete trades per second through the HTTP API (bench/trades_bench.c), beside this
# machine's bare SQLite insert rate for the same rows, measured in the same run:
#
#   bourse     TRADES trades, CONC at once over keep-alive connections, each the whole
#              lifecycle: order -> document -> buyer's signature -> provider's signature
#              (countersigned, escrow held) -> delivery -> acceptance (settled: escrow posted,
#              fee and provider share paid). Six requests a trade; every one durable before it
#              is answered (group commit), every state change a log event.
#   ceiling    the rows those trades left in the database (every ordinary table, with the
#              setup's few), inserted again into an empty database with the same schema,
#              indexes and durability (WAL, synchronous=FULL), ROWS_PER_COMMIT rows per
#              commit, from memory: no HTTP, no JSON, no rules, no signatures.
#
# With PG=1 the server runs on PostgreSQL instead (a private cluster of scripts/pg.sh in
# PG_DIR, default build/pg-bench-trades, stopped at exit; the server's default --db-pool), and
# the ceiling line is left out: bench/ledger.sh compares the ledger with plain SQL (pgbench).
#
# Usage: bench/trades.sh [trades] [concurrency] [buyers]
# Env: BOURSE_BIN (default build/bourse), PG=1, PG_DIR. The target is 2,000 complete trades/s.
set -euo pipefail
cd "$(dirname "$0")/.."
TRADES=${1:-3000}
CONC=${2:-64}
NBUYERS=${3:-16}
TARGET=2000
make -s all build/bench/trades_bench >/dev/null
export BOURSE_BIN=${BOURSE_BIN:-$PWD/build/bourse}
unset BOURSE_TEST_PG
PG_DIR=${PG_DIR:-build/pg-bench-trades}
if [ "${PG:-0}" = 1 ]; then
    BOURSE_TEST_PG_URL=$(./scripts/pg.sh start "$PG_DIR") || exit 1
    export BOURSE_TEST_PG=1 BOURSE_TEST_PG_URL
fi
# lib.sh gives the e2e helpers (a server in a temporary directory, req, entity applications)
# and removes the directory (and on PostgreSQL the database) at exit.
. tests/e2e/lib.sh
[ "${PG:-0}" = 1 ] && at_exit "./scripts/pg.sh stop $PG_DIR >/dev/null 2>&1"
start_server --rate-limit 0

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
party() {
    local pk body id
    pk=$(new_pubkey "$3")
    body=$(apply_json "$1" "$2" "$(uscc_random)" "$pk")
    [ -n "${4:-}" ] && body=$(echo "$body" | jq -c --arg s "$4" '.specialities=[$s]')
    req POST /v1/entities "$body" -
    [ "$STATUS" = 201 ] || bail "apply failed: $(cat "$BODY_FILE")"
    id=$(jbody .id)
    eval "$3=$id; ${3}_KEY=$(jbody .api_key.secret)"
    req POST "/v1/entities/$id/review" '{"decision":"verify"}'
    [ "$STATUS" = 200 ] || bail "verify failed: $(cat "$BODY_FILE")"
}
cert() { req POST "/v1/entities/$1/certificates" "{\"type\":\"$2\"}"; [ "$STATUS" = 201 ] || bail "cert: $(cat "$BODY_FILE")"; }

party provider '国网上海市电力公司' PROV
cert "$PROV" data_provider
party service_firm '上海数据质量评估中心' QFIRM quality
party service_firm '广东广和律师事务所' CFIRM compliance
md=$(jq -cn '{kind:"dataset", title:"企业用电画像 bench", description:"企业用电数据",
  category:"energy", use_cases:["信贷评估"], update_frequency:"monthly",
  classification:"corporate", sensitivity:"general",
  content_hash:"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  schema:[{name:"id",type:"string"}],
  source:{method:"collected", legal_basis:"contracts", processing:"aggregated",
          personal_information:{contained:false}}}')
req POST /v1/products "$md" "$PROV_KEY"
[ "$STATUS" = 201 ] || bail "register failed: $(cat "$BODY_FILE")"
REV=$(jbody .revision.id)
req POST /v1/rights "{\"revision_id\":\"$REV\",\"right\":\"operation\"}"
echo "report" >"$T_TMP/report.pdf"
for kind in quality:QFIRM compliance:CFIRM; do
    k=${kind%%:*} f=${kind##*:}
    fid=${!f} fkey=${f}_KEY
    req POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"$k\",\"firm_id\":\"$fid\"}" "$PROV_KEY"
    aid=$(jbody .id)
    "$BOURSE_BIN" --key "${!fkey}" assessment submit "$aid" --verdict pass \
        --document "$T_TMP/report.pdf" --signing-key "$T_TMP/$f.key" >/dev/null || bail "report"
done
req POST /v1/listings "$(jq -cn --arg r "$REV" '{revision_id:$r,
  price:{model:"fixed", currency:"CNY", amount:100000},
  terms:{purpose:"信贷评估", term_days:365, territory:["CN"], redistribution:"none",
         exclusive:false, delivery:["file"]}}')" "$PROV_KEY"
[ "$STATUS" = 201 ] || bail "listing failed: $(cat "$BODY_FILE")"
LISTING=$(jbody .id)
req POST /v1/fee-schedules '{"name":"standard","kind":"percentage","currency":"CNY","rate_bp":250,"minimum":100}'
[ "$STATUS" = 201 ] || bail "fee schedule: $(cat "$BODY_FILE")"
: >"$T_TMP/buyers"
for i in $(seq 1 "$NBUYERS"); do
    party buyer "买方银行 $i" "BUY$i"
    id_var=BUY$i key_var=BUY${i}_KEY
    cert "${!id_var}" trading
    req POST /v1/ledger/deposits "{\"entity\":\"${!id_var}\",\"currency\":\"CNY\",\"amount\":100000000000,\"reference\":\"bench-$i\"}"
    [ "$STATUS" = 201 ] || bail "deposit: $(cat "$BODY_FILE")"
    echo "${!key_var} $T_TMP/BUY$i.key" >>"$T_TMP/buyers"
done

echo "# $(date -u +%FT%TZ)  $(uname -sr)  cpus=$(nproc)  $TRADES trades, $CONC at once, $NBUYERS buyers, server pid $SERVER_PID, store $(curl -sf "$BOURSE_URL/healthz" | jq -r '"\(.store), \(.db_pool) connection(s)"')"
build/bench/trades_bench run "$BOURSE_URL" "$LISTING" "$PROV_KEY" "$T_TMP/PROV.key" \
    "$T_TMP/buyers" "$TRADES" "$CONC" >"$T_TMP/run.out" || bail "trade run failed"
# The server's own CPU time (user + system) over the whole run, setup included: on a shared
# machine the rate depends on what else runs, the CPU per trade much less.
TICKS=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
CPU_US=$(awk -v t="$TICKS" -v hz="$(getconf CLK_TCK)" -v n="$TRADES" 'BEGIN{printf "%.0f", t / hz * 1e6 / n}')
TPS=$(awk '$1=="trades_per_s"{print $2}' "$T_TMP/run.out")
RPS=$(awk '$1=="requests_per_s"{print $2}' "$T_TMP/run.out")
stop_server || bail "server did not stop cleanly"
if [ "${PG:-0}" = 1 ]; then
    "$BOURSE_BIN" ledger check --db "$BOURSE_DB" >/dev/null || bail "ledger check failed after the run"
    printf "%-58s %10s /s\n" "bourse on PostgreSQL: complete trades (6 HTTP requests each)" "$TPS"
    printf "%-58s %10s /s\n" "bourse: HTTP requests" "$RPS"
    printf "%-58s %10s us\n" "bourse: server CPU per trade (user+system, one core)" "$CPU_US"
    printf "%-58s %10s\n" "ratio bourse/target $TARGET" "$(ratio "$TPS" "$TARGET")"
    exit 0
fi
"$BOURSE_BIN" ledger check --data "$T_DATA" >/dev/null || bail "ledger check failed after the run"
# The ceiling commits as often as the server could at best: once per CONC trades' rows (every
# trade in flight finishing a step in one group commit).
build/bench/trades_bench ceiling "$T_DATA/bourse.db" "$T_TMP/ceiling.db" "$TRADES" "$CONC" \
    >"$T_TMP/ceil.out" || bail "ceiling failed"
CROWS=$(awk '$1=="rows"{print $2}' "$T_TMP/ceil.out")
CTPS=$(awk '$1=="ceiling_trades_per_s"{print $2}' "$T_TMP/ceil.out")
printf "%-58s %10s /s\n" "bourse: complete trades (6 HTTP requests each)" "$TPS"
printf "%-58s %10s /s\n" "bourse: HTTP requests" "$RPS"
printf "%-58s %10s us\n" "bourse: server CPU per trade (user+system, one core)" "$CPU_US"
printf "%-58s %10s /s\n" "bourse: trades one core could serve at that CPU cost" "$(awk -v c="$CPU_US" 'BEGIN{printf "%.0f", 1e6 / c}')"
printf "%-58s %10s\n" "rows written per trade (all tables, setup included)" "$(awk -v n="$CROWS" -v t="$TRADES" 'BEGIN{printf "%.1f", n/t}')"
printf "%-58s %10s /s\n" "ceiling: bare insert of the same rows, as trades" "$CTPS"
printf "%-58s %10s\n" "ratio bourse/ceiling" "$(ratio "$TPS" "$CTPS")"
printf "%-58s %10s\n" "ratio bourse/target $TARGET" "$(ratio "$TPS" "$TARGET")"
