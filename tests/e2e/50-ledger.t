#!/usr/bin/env bash
# The clearing ledger end to end: deposits and withdrawals recorded by the operator, balances,
# history and the CSV statement, fee schedules, escrow (hold, settle with the split, void,
# timeout sweep), every kind of bad input answered with problem+json and no change, idempotent
# retries, the CLI, and a kill -9 in the middle of a burst of money movements after which every
# acknowledged transfer is there and `bourse ledger check` passes.
. "$(dirname "$0")/lib.sh"
start_server
B=$BOURSE_BIN
export BOURSE_KEY_FILE="$T_DATA/operator.key"

new_entity buyer '买方数据科技有限公司' verify
BUYER=$EID
BUYERKEY=$EKEY
new_entity provider '提供方数据服务有限公司' verify
PROV=$EID
PROVKEY=$EKEY
new_entity broker '数据经纪有限公司' verify
BROKER=$EID
new_entity buyer '未审核公司'
APPLIED=$EID

# The state of every ledger view a failed request must leave alone.
ledger_snapshot() {
    local e
    for e in "$BUYER" "$PROV" "$BROKER"; do
        req GET "/v1/entities/$e/accounts"
        jq -S . <"$BODY_FILE"
        req GET "/v1/entities/$e/ledger?limit=100"
        jq -S . <"$BODY_FILE"
    done
    req GET "/v1/events?from=0&limit=1000"
    jq '.items | length' <"$BODY_FILE"
}

# --- deposits -------------------------------------------------------------------------------
req POST /v1/ledger/deposits "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":1000000,\"reference\":\"ICBC-2026-0001\"}"
is "$STATUS" 201 "operator records a deposit"
is "$(jbody .kind)" transfer "a deposit is a transfer"
is "$(jbody .code)" deposit "with code deposit"
is "$(jbody .amount)" 1000000 "amount in minor units"
is "$(jbody .replayed)" false "not a replay"
DEP1=$(jbody .id)
isnt "$(jbody .log_index)" null "the deposit is in the log"
req GET "/v1/entities/$BUYER/accounts" "" "$BUYERKEY"
is "$STATUS" 200 "the buyer reads its accounts"
is "$(jbody '.items[0].kind')" available "an available account"
is "$(jbody '.items[0].balance')" 1000000 "balance is the deposit"
is "$(jbody '.items[0].available')" 1000000 "all of it available"
is "$(jbody '.items[0].exponent')" 2 "CNY has two decimals"
req GET "/v1/ledger/transfers/$DEP1" "" "$BUYERKEY"
is "$STATUS" 200 "the buyer reads its deposit"
req GET "/v1/ledger/transfers/$DEP1" "" "$PROVKEY"
is "$STATUS" 404 "another entity does not see it"
req GET "/v1/entities/$BUYER/accounts" "" "$PROVKEY"
is "$STATUS" 404 "nor the buyer's accounts"
req POST /v1/ledger/deposits "{\"entity\":\"$PROV\",\"currency\":\"JPY\",\"amount\":5000,\"reference\":\"MUFG-1\"}"
is "$STATUS" 201 "a JPY deposit"

# --- bad input changes nothing --------------------------------------------------------------
BEFORE=$(ledger_snapshot)
bad() { # bad STATUS FIELD DESC BODY [KEY] [PATH]
    req POST "${6:-/v1/ledger/deposits}" "$4" "${5:-$OPKEY}"
    is "$STATUS" "$1" "$3: status $1"
    if [ -n "$2" ]; then is "$(jbody .field)" "$2" "$3: names $2"; fi
    is "$(jq -r .type <"$BODY_FILE" | sed 's|.*/||')" "$(case $1 in 400) echo invalid ;; 403) echo forbidden ;; 404) echo not-found ;; 409) echo "${7:-wrong-state}" ;; esac)" "$3: problem type"
}
bad 400 amount "a float amount" "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":10.5,\"reference\":\"r\"}"
bad 400 amount "a float with no fraction" "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":10.0,\"reference\":\"r\"}"
bad 400 amount "an exponent amount" "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":1e3,\"reference\":\"r\"}"
bad 400 amount "a string amount" "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":\"100\",\"reference\":\"r\"}"
bad 400 amount "a negative amount" "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":-100,\"reference\":\"r\"}"
bad 400 amount "a zero amount" "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":0,\"reference\":\"r\"}"
bad 400 amount "a missing amount" "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"reference\":\"r\"}"
bad 400 "" "an amount beyond int64" "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":99999999999999999999,\"reference\":\"r\"}"
bad 400 currency "an unknown currency" "{\"entity\":\"$BUYER\",\"currency\":\"XXX\",\"amount\":1,\"reference\":\"r\"}"
bad 400 currency "a lowercase currency" "{\"entity\":\"$BUYER\",\"currency\":\"cny\",\"amount\":1,\"reference\":\"r\"}"
bad 400 currency "gold is not money here" "{\"entity\":\"$BUYER\",\"currency\":\"XAU\",\"amount\":1,\"reference\":\"r\"}"
bad 400 reference "no bank reference" "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":1}"
bad 400 entity "a malformed entity" "{\"entity\":\"nobody\",\"currency\":\"CNY\",\"amount\":1,\"reference\":\"r\"}"
bad 400 bank "an unknown field" "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":1,\"reference\":\"r\",\"bank\":\"x\"}"
bad 404 entity "an unknown entity" "{\"entity\":\"ent_aaaaaaaaaaaaaaaaaaaa\",\"currency\":\"CNY\",\"amount\":1,\"reference\":\"r\"}"
bad 409 entity "an unverified entity" "{\"entity\":\"$APPLIED\",\"currency\":\"CNY\",\"amount\":1,\"reference\":\"r\"}"
bad 403 "" "an entity recording its own deposit" "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":1,\"reference\":\"r\"}" "$BUYERKEY"
bad 409 amount "an overdraft" "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":1000001,\"reference\":\"r\"}" "" /v1/ledger/withdrawals
grep -q "insufficient funds" "$BODY_FILE"
is $? 0 "the overdraft says insufficient funds"
bad 409 amount "a withdrawal in a currency never deposited" "{\"entity\":\"$BUYER\",\"currency\":\"USD\",\"amount\":1,\"reference\":\"r\"}" "" /v1/ledger/withdrawals
is "$(ledger_snapshot)" "$BEFORE" "none of the bad requests changed the ledger"

# --- withdrawals and idempotency ------------------------------------------------------------
W='{"entity":"'$BUYER'","currency":"CNY","amount":250000,"reference":"ICBC-OUT-1","idempotency_key":"wd-0001"}'
req POST /v1/ledger/withdrawals "$W"
is "$STATUS" 201 "a withdrawal"
WD=$(jbody .id)
req POST /v1/ledger/withdrawals "$W"
is "$STATUS" 200 "the same withdrawal again is a replay"
is "$(jbody .id)" "$WD" "with the same transfer"
is "$(jbody .replayed)" true "marked as a replay"
BEFORE=$(ledger_snapshot)
req POST /v1/ledger/withdrawals '{"entity":"'$BUYER'","currency":"CNY","amount":250001,"reference":"ICBC-OUT-1","idempotency_key":"wd-0001"}'
is "$STATUS" 409 "the key with other content conflicts"
is "$(jbody .field)" idempotency_key "and names the key"
is "$(ledger_snapshot)" "$BEFORE" "the conflict changed nothing"
curl -s -o "$BODY_FILE" -w '%{http_code}' -H "Authorization: Bearer $OPKEY" -H 'Content-Type: application/json' \
    -H 'Idempotency-Key: hdr-1' --data-binary '{"entity":"'$BUYER'","currency":"CNY","amount":1,"reference":"h"}' \
    "$BOURSE_URL/v1/ledger/deposits" >"$T_TMP/s1"
H1=$(jbody .id)
curl -s -o "$BODY_FILE" -w '%{http_code}' -H "Authorization: Bearer $OPKEY" -H 'Content-Type: application/json' \
    -H 'Idempotency-Key: hdr-1' --data-binary '{"entity":"'$BUYER'","currency":"CNY","amount":1,"reference":"h"}' \
    "$BOURSE_URL/v1/ledger/deposits" >"$T_TMP/s2"
is "$(jbody .id)" "$H1" "an HTTP Idempotency-Key replay returns the same deposit"
req GET "/v1/entities/$BUYER/accounts" "" "$BUYERKEY"
is "$(jbody '.items[0].balance')" 750001 "balance after the withdrawal and one deposit"

# --- fee schedules --------------------------------------------------------------------------
req POST /v1/fee-schedules '{"name":"standard","kind":"percentage","currency":"CNY","rate_bp":250,"minimum":100,"cap":500000}'
is "$STATUS" 201 "operator sets a fee schedule"
FEE1=$(jbody .id)
is "$(jbody .version)" 1 "version 1"
req POST /v1/fee-schedules '{"name":"standard","kind":"percentage","currency":"CNY","rate_bp":300,"minimum":100}'
is "$(jbody .version)" 2 "a new version under the same name"
req POST /v1/fee-schedules '{"name":"x","kind":"percentage","currency":"CNY","rate_bp":2.5}'
is "$STATUS" 400 "a float rate is refused"
req POST /v1/fee-schedules '{"name":"x","kind":"percentage","currency":"CNY","rate_bp":20000}'
is "$(jbody .field)" rate_bp "a rate over 100% is refused"
req POST /v1/fee-schedules '{"name":"x","kind":"fixed","currency":"CNY","fixed_amount":1}' "$BUYERKEY"
is "$STATUS" 403 "entities do not set fees"
req GET /v1/fee-schedules "" "$BUYERKEY"
is "$(jbody '.items | length')" 2 "anyone authenticated lists the schedules"
req GET "/v1/fee-schedules/$FEE1" "" "$PROVKEY"
is "$(jbody .rate_bp)" 250 "a contract's recorded version stays readable"

# --- escrow: hold, settle with the split, void, timeout --------------------------------------
req POST /v1/ledger/holds '{"buyer":"'$BUYER'","currency":"CNY","amount":100000,"timeout_seconds":3600,"reference":"ctr-1","idempotency_key":"ctr-1-hold"}'
is "$STATUS" 201 "the buyer's funds are held in escrow"
is "$(jbody .kind)" pending "as a pending transfer"
HOLD=$(jbody .id)
req GET "/v1/entities/$BUYER/accounts" "" "$BUYERKEY"
is "$(jbody '[.items[] | select(.kind=="available")][0].available')" 650001 "the hold is no longer available"
is "$(jbody '[.items[] | select(.kind=="escrow")][0].pending')" 100000 "the escrow shows it pending"
BEFORE=$(ledger_snapshot)
req POST /v1/ledger/withdrawals '{"entity":"'$BUYER'","currency":"CNY","amount":650002,"reference":"x"}'
is "$STATUS" 409 "held funds cannot be withdrawn"
req POST /v1/ledger/holds '{"buyer":"'$BUYER'","currency":"CNY","amount":100,"timeout_seconds":1.5}'
is "$STATUS" 400 "a fractional timeout is refused"
req POST /v1/ledger/holds '{"buyer":"'$BUYER'","currency":"CNY","amount":100}' "$BUYERKEY"
is "$STATUS" 403 "an entity cannot place holds itself"
is "$(ledger_snapshot)" "$BEFORE" "refused holds changed nothing"
SETTLE='{"provider":"'$PROV'","fee_schedule":"'$FEE1'","brokers":[{"recipient":"'$BROKER'","bp":500}],"revenue":[{"recipient":"prd_aaaaaaaaaaaaaaaaaaaa","bp":1000}],"reference":"ctr-1","idempotency_key":"ctr-1-post"}'
req POST "/v1/ledger/holds/$HOLD/post" "$SETTLE"
is "$STATUS" 201 "the hold is settled"
is "$(jbody '.transfers | length')" 5 "post, fee, broker, pool and provider"
is "$(jbody .split.fee)" 2500 "fee 2.5% of 1000.00"
is "$(jbody '.split.brokers[0]')" 5000 "broker 5%"
is "$(jbody '.split.revenue[0]')" 10000 "data subjects' pool 10%"
is "$(jbody .split.provider)" 82500 "the provider gets the rest"
req POST "/v1/ledger/holds/$HOLD/post" "$SETTLE"
is "$STATUS" 200 "settling again with the same key is a replay"
req POST "/v1/ledger/holds/$HOLD/void" '{"reference":"too late"}'
is "$STATUS" 409 "a settled hold cannot be voided"
req GET "/v1/entities/$PROV/accounts" "" "$PROVKEY"
is "$(jbody '[.items[] | select(.currency=="CNY")][0].balance')" 82500 "the provider is paid"
req GET "/v1/entities/$BUYER/accounts" "" "$BUYERKEY"
is "$(jbody '[.items[] | select(.kind=="escrow")][0].balance')" 0 "the escrow nets to zero"
is "$(jbody '[.items[] | select(.kind=="available")][0].balance')" 650001 "the buyer paid 1000.00"
req POST /v1/ledger/holds '{"buyer":"'$BUYER'","currency":"CNY","amount":40000,"reference":"ctr-2"}'
HOLD2=$(jbody .id)
req POST "/v1/ledger/holds/$HOLD2/void" '{"reference":"contract cancelled"}'
is "$STATUS" 201 "a hold is voided"
is "$(jbody .kind)" void "by a void transfer"
req POST /v1/ledger/holds '{"buyer":"'$BUYER'","currency":"CNY","amount":30000,"timeout_seconds":1,"reference":"ctr-3"}'
HOLD3=$(jbody .id)
sleep 1.2
req POST "/v1/ledger/holds/$HOLD3/post" '{"provider":"'$PROV'"}'
is "$STATUS" 409 "an expired hold cannot be settled"
# The leader's tick sweeps expired holds by itself; a manual sweep finds nothing left.
for _ in $(seq 30); do
    req GET "/v1/ledger/transfers/$HOLD3"
    [ "$(jbody .state)" = voided ] && break
    sleep 0.1
done
is "$(jbody .state)" voided "the server's own sweep voids the expired hold"
req POST /v1/ledger/sweep ""
is "$(jbody .voided)" 0 "a manual sweep then finds nothing due"
req GET "/v1/entities/$BUYER/accounts" "" "$BUYERKEY"
is "$(jbody '[.items[] | select(.kind=="available")][0].available')" 650001 "every release returned the funds"

# --- history and statement ------------------------------------------------------------------
req GET "/v1/entities/$BUYER/ledger?limit=2" "" "$BUYERKEY"
is "$STATUS" 200 "history"
is "$(jbody '.items | length')" 2 "a page of two"
CUR=$(jbody .next_cursor)
N=2
while [ "$CUR" != null ]; do
    req GET "/v1/entities/$BUYER/ledger?limit=2&cursor=$CUR" "" "$BUYERKEY"
    N=$((N + $(jbody '.items | length')))
    CUR=$(jbody .next_cursor)
done
# deposit, withdrawal, deposit, hold, post and its 4 legs out of the escrow, hold, void, hold,
# timeout void
is "$N" 13 "paging reaches every transfer of the buyer once"
req GET "/v1/entities/$BUYER/ledger?cursor=bogus" "" "$BUYERKEY"
is "$STATUS" 400 "a malformed cursor"
FROM=2000-01-01T00:00:00Z
TO=2100-01-01T00:00:00Z
curl -s -D "$T_TMP/h" -o "$T_TMP/st.csv" -H "Authorization: Bearer $BUYERKEY" \
    "$BOURSE_URL/v1/entities/$BUYER/statement?from=$FROM&to=$TO&currency=CNY"
grep -qi '^content-type: text/csv' "$T_TMP/h"
is $? 0 "the statement is text/csv"
is "$(head -n 1 "$T_TMP/st.csv" | tr -d '\r')" "record,time,account,account_kind,currency,transfer,kind,code,reference,debit,credit,pending_change,balance,pending_balance" "with a header"
is "$(grep '^opening' "$T_TMP/st.csv" | grep ',available,' | cut -d, -f13)" 0 "opening balance 0"
is "$(grep '^closing' "$T_TMP/st.csv" | grep ',available,' | cut -d, -f13)" 650001 "closing balance matches the account"
SUMC=$(grep '^entry' "$T_TMP/st.csv" | grep ',available,' | awk -F, '{c+=$(NF-3); d+=$(NF-4)} END {print c-d}')
is "$SUMC" 650001 "opening plus the entries is the closing balance"
req GET "/v1/entities/$BUYER/statement?from=$TO&to=$FROM" "" "$BUYERKEY"
is "$STATUS" 400 "a period that ends before it starts"
req GET "/v1/entities/$BUYER/statement?from=yesterday&to=$TO" "" "$BUYERKEY"
is "$(jbody .field)" from "an unparseable time names its field"
req GET "/v1/entities/$BUYER/statement?from=$FROM&to=$TO" "" "$PROVKEY"
is "$STATUS" 404 "another entity's statement is not visible"

# --- the CLI --------------------------------------------------------------------------------
OUT=$("$B" ledger deposit "$PROV" --currency CNY --amount 123456 --reference 'BOC 77')
is $? 0 "ledger deposit"
echo "$OUT" | grep -q "1234.56 CNY"
is $? 0 "shows the amount in major units"
"$B" ledger deposit "$PROV" --currency CNY --amount 12.5 --reference x >/dev/null 2>&1
is $? 2 "a fractional amount is a usage error"
"$B" ledger deposit "$PROV" --currency ABC --amount 1 --reference x >/dev/null 2>&1
is $? 2 "an unknown currency is a usage error"
"$B" ledger withdraw "$PROV" --currency CNY --amount 99999999 --reference x >/dev/null 2>&1
is $? 4 "an overdraft exits 4"
"$B" --key-file /dev/null ledger balance "$PROV" >/dev/null 2>&1
isnt $? 0 "balance needs a key"
echo "$PROVKEY" >"$T_TMP/prov.apikey"
"$B" --key-file "$T_TMP/prov.apikey" --json ledger balance "$PROV" >"$T_TMP/bal"
is "$(jq '[.items[] | select(.currency=="CNY")][0].balance' <"$T_TMP/bal")" 205956 "ledger balance --json"
"$B" --key-file "$T_TMP/prov.apikey" ledger history "$PROV" --all >"$T_TMP/hist"
is "$(wc -l <"$T_TMP/hist")" 3 "ledger history lists every transfer"
ok "ledger statement --out" "$B" --key-file "$T_TMP/prov.apikey" ledger statement "$PROV" --from "$FROM" --to "$TO" --out "$T_TMP/prov.csv"
is "$(grep -c '^entry' "$T_TMP/prov.csv")" 3 "the statement file has the entries"
ok "fee schedule create" "$B" fee schedule create --name members --kind membership --currency CNY --fixed-amount 9900 --period month
is "$("$B" --json fee schedule list --name members | jq '.items | length')" 1 "fee schedule list --name"
"$B" fee schedule create --name m --kind membership --currency CNY --fixed-amount 1 --period week >/dev/null 2>&1
is $? 2 "an unknown period is a usage error"

if [ "${BOURSE_TEST_PG:-0}" != 1 ]; then
    "$B" ledger check --data "$T_DATA" >"$T_TMP/o" 2>&1
    is $? 7 "ledger check refuses while a server holds the SQLite database"
fi

# --- kill -9 in a burst of money movements ---------------------------------------------------
: >"$T_TMP/acked"
burst() { # burst WORKER COUNT KIND
    local w=$1 n=$2 kind=$3 i code body path
    for ((i = 0; i < n; i++)); do
        case $kind in
        deposit) path=/v1/ledger/deposits
            body='{"entity":"'$BUYER'","currency":"CNY","amount":'$((1 + RANDOM % 500))',"reference":"burst","idempotency_key":"b'$w-$i'"}' ;;
        withdrawal) path=/v1/ledger/withdrawals
            body='{"entity":"'$BUYER'","currency":"CNY","amount":'$((1 + RANDOM % 300))',"reference":"burst"}' ;;
        hold) path=/v1/ledger/holds
            body='{"buyer":"'$BUYER'","currency":"CNY","amount":'$((1 + RANDOM % 200))',"timeout_seconds":1,"reference":"burst"}' ;;
        esac
        code=$(curl -s -o "$T_TMP/b$w" -w '%{http_code}' --max-time 5 -X POST \
            -H "Authorization: Bearer $OPKEY" -H 'Content-Type: application/json' \
            --data-binary "$body" "$BOURSE_URL$path")
        [ "$code" = 201 ] && jq -r .id <"$T_TMP/b$w" >>"$T_TMP/acked"
        [ "$code" = 000 ] && return 0
    done
}
check_ledger() {
    if [ "${BOURSE_TEST_PG:-0}" = 1 ]; then
        "$B" ledger check --db "$BOURSE_DB"
    else
        "$B" ledger check --data "$T_DATA"
    fi
}
for ROUND in 1 2; do
    burst "d$ROUND" 600 deposit & P1=$!
    burst "w$ROUND" 600 withdrawal & P2=$!
    burst "h$ROUND" 600 hold & P3=$!
    sleep "1.$((RANDOM % 5))"
    kill9_server
    wait $P1 $P2 $P3 2>/dev/null
    check_ledger >"$T_TMP/check.out" 2>&1
    is $? 0 "round $ROUND: ledger check passes after kill -9 ($(grep transfers: "$T_TMP/check.out"))"
    start_server
    MISSING=0
    while read -r id; do
        req GET "/v1/ledger/transfers/$id"
        [ "$STATUS" = 200 ] || MISSING=$((MISSING + 1))
    done <"$T_TMP/acked"
    is "$MISSING" 0 "round $ROUND: all $(wc -l <"$T_TMP/acked") acknowledged transfers survive kill -9"
    sleep 1.1
    req POST /v1/ledger/sweep ""
    is "$STATUS" 200 "round $ROUND: the sweep releases the burst's expired holds"
done
ok "a clean stop" stop_server
ok "ledger check passes on the stopped server" check_ledger
start_server
done_testing
