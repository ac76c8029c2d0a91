#!/usr/bin/env bash
# Complete trades through two `bourse serve` nodes on one PostgreSQL database (issue #7, "a
# two-node test"). Workers run whole trades at once, each step on alternating nodes (order on
# one, both signatures on the other, delivery back on the first, acceptance on the other);
# meanwhile two buyers race through the two nodes for one exclusive licence and one
# Idempotency-Key is sent to both nodes at once. Mid-stream the log leader is killed (-9): the
# other node takes over within seconds, the workers carry on through it (a step whose node
# did not answer is sent again, with the same Idempotency-Key, to the other node, as a load
# balancer would), and more trades go through the survivor alone. Then every checkpoint
# collected from either node during the run is consistent with the final one, the log audit
# passes, every acknowledged trade is settled exactly once, each party's balance is what the
# trades made it, the balances of every currency sum to zero and `bourse ledger check` passes.
if [ "${BOURSE_TEST_PG:-0}" != 1 ]; then
    echo "1..0 # SKIP postgres only"
    exit 0
fi
. "$(dirname "$0")/lib.sh"
B=$BOURSE_BIN
W=$T_TMP/w
mkdir -p "$W/cp"
P=https://bourse.dev/problems/
WORKERS=4
TRADES_EACH=6  # per worker, spread over the kill
AFTER_KILL=3   # trades through the survivor alone, once the workers are done
KILL_AFTER=6   # acknowledged trades before the leader is killed
PRICE=100000   # CNY minor units; fee 2.5 % = 2500
FEE_EACH=2500
DEPOSIT=10000000

leads() { curl -sf --max-time 2 "$1/healthz" | jq -r .log_leader; }
log_size() { curl -sf --max-time 2 "$1/log/checkpoint" | sed -n 2p; }
wait_covers() { # INDEX URL [TRIES]
    local size
    for _ in $(seq 1 "${3:-50}"); do
        size=$(log_size "$2")
        [ -n "$size" ] && [ "$size" -gt "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# ---- two nodes ----------------------------------------------------------------------------------
start_server
A_URL=$BOURSE_URL
mkdir -p -m 700 "$T_TMP/node-b"
cp -p "$T_DATA"/*.key "$T_DATA"/*.ed25519 "$T_TMP/node-b/" # every node needs the same keys
PB=$(free_port) || bail "no free port"
"$B" serve --listen "127.0.0.1:$PB" --data "$T_TMP/node-b" --db "$BOURSE_DB" \
    >>"$T_TMP/b.out" 2>>"$T_TMP/b.log" &
B_PID=$!
at_exit "kill -9 $B_PID 2>/dev/null; wait $B_PID 2>/dev/null"
B_URL="http://127.0.0.1:$PB"
for _ in $(seq 1 100); do curl -sf "$B_URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
is "$(leads "$A_URL") $(leads "$B_URL")" "true false" "A leads the log, B follows"
NODES=("$A_URL" "$B_URL")
curl -sf "$A_URL/log/key" >"$W/log.key"
KEY="@$W/log.key"

# ---- parties, a fee schedule, a listing (set up through both nodes) -------------------------------
cert() { req POST "/v1/entities/$1/certificates" "{\"type\":\"$2\"}"; [ "$STATUS" = 201 ] || bail "cert $2: $(cat "$BODY_FILE")"; }
# party KIND NAME VAR [SPECIALITY]: a verified entity (applied through A, verified through B)
# whose key file is $T_TMP/VAR.key; sets VAR (the id) and VAR_KEY (its API key).
party() {
    local body pk id key
    pk=$(new_pubkey "$3")
    body=$(apply_json "$1" "$2" "$(uscc_random)" "$pk")
    [ -n "${4:-}" ] && body=$(echo "$body" | jq -c --arg s "$4" '.specialities=[$s]')
    BOURSE_URL=$A_URL req POST /v1/entities "$body" -
    [ "$STATUS" = 201 ] || bail "apply failed: $(cat "$BODY_FILE")"
    id=$(jbody .id) key=$(jbody .api_key.secret)
    BOURSE_URL=$B_URL req POST "/v1/entities/$id/review" '{"decision":"verify"}'
    [ "$STATUS" = 200 ] || bail "verify failed: $(cat "$BODY_FILE")"
    eval "$3=$id; ${3}_KEY=$key"
}
party provider '国网上海市电力公司' PROV
cert "$PROV" data_provider
party service_firm '上海数据质量评估中心' QFIRM quality
party service_firm '广东广和律师事务所' CFIRM compliance
BUYERS=()
for i in $(seq 0 $((WORKERS + 2))); do # one buyer a worker, two racers, one idempotent buyer
    party buyer "两节点买方 buyer $i" "BUYER$i"
    id=BUYER$i
    BUYERS+=("${!id}")
    BOURSE_URL=${NODES[$((i % 2))]} cert "${!id}" trading
    BOURSE_URL=${NODES[$(((i + 1) % 2))]} req POST /v1/ledger/deposits \
        "{\"entity\":\"${!id}\",\"currency\":\"CNY\",\"amount\":$DEPOSIT,\"reference\":\"ICBC-$i\"}"
    [ "$STATUS" = 201 ] || bail "deposit: $(cat "$BODY_FILE")"
done
RACER1=$BUYER4 RACER1_KEY=$BUYER4_KEY
RACER2=$BUYER5 RACER2_KEY=$BUYER5_KEY
IDEM_KEY=$BUYER6_KEY
req POST /v1/fee-schedules '{"name":"standard","kind":"percentage","currency":"CNY","rate_bp":250,"minimum":100}'
[ "$STATUS" = 201 ] || bail "fee schedule: $(cat "$BODY_FILE")"

echo "报告 report" >"$T_TMP/report.pdf"
# listed TITLE EXCLUSIVE: a listable product of PROV at PRICE, registered through A and listed
# through B; sets LST.
listed() {
    local md q c rev
    md=$(jq -cn --arg t "$1" '{kind:"dataset", title:$t, description:"企业用电数据",
      category:"energy", use_cases:["信贷评估"], update_frequency:"monthly",
      classification:"corporate", sensitivity:"general",
      content_hash:"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      schema:[{name:"id",type:"string"}],
      source:{method:"collected", legal_basis:"contracts", processing:"aggregated",
              personal_information:{contained:false}}}')
    BOURSE_URL=$A_URL req POST /v1/products "$md" "$PROV_KEY"
    [ "$STATUS" = 201 ] || bail "register failed: $(cat "$BODY_FILE")"
    rev=$(jbody .revision.id)
    req POST /v1/rights "{\"revision_id\":\"$rev\",\"right\":\"operation\"}"
    req POST /v1/assessments "{\"revision_id\":\"$rev\",\"kind\":\"quality\",\"firm_id\":\"$QFIRM\"}" "$PROV_KEY"
    q=$(jbody .id)
    req POST /v1/assessments "{\"revision_id\":\"$rev\",\"kind\":\"compliance\",\"firm_id\":\"$CFIRM\"}" "$PROV_KEY"
    c=$(jbody .id)
    "$B" --url "$B_URL" --key "$QFIRM_KEY" assessment submit "$q" --verdict pass \
        --document "$T_TMP/report.pdf" --signing-key "$T_TMP/QFIRM.key" >/dev/null ||
        bail "quality report failed"
    "$B" --url "$A_URL" --key "$CFIRM_KEY" assessment submit "$c" --verdict pass \
        --document "$T_TMP/report.pdf" --signing-key "$T_TMP/CFIRM.key" >/dev/null ||
        bail "compliance report failed"
    BOURSE_URL=$B_URL req POST /v1/listings "$(jq -cn --arg r "$rev" --argjson p "$PRICE" \
        --argjson x "$2" '{revision_id:$r, price:{model:"fixed", currency:"CNY", amount:$p},
      terms:{purpose:"信贷评估 credit assessment", term_days:365, territory:["CN"],
      redistribution:"none", exclusive:$x, delivery:["file"]}}')" "$PROV_KEY"
    [ "$STATUS" = 201 ] || bail "listing failed: $(cat "$BODY_FILE")"
    LST=$(jbody .id)
}
listed '企业用电画像 two-node trades' false
FIXED=$LST
listed '独家授权 two-node exclusive' true
EXCL=$LST
pass "parties, fee schedule and listings set up through both nodes"

# ---- one trade, step by step across the nodes ------------------------------------------------------
echo "the delivered data" >"$W/data.csv"
SHA_D=$(sha256sum "$W/data.csv" | cut -d' ' -f1)

# post_fo N PATH BODY KEY IDEM OUT: POSTs with an Idempotency-Key through node N; when that
# node does not answer at all, sends the same request again through the other node. Prints
# the final status; logs each failover to $W/failovers.
post_fo() {
    local n=$1 path=$2 body=$3 key=$4 idem=$5 out=$6 st="" try u
    local args=(-s -o "$out" -D "$out.h" -w '%{http_code}' --max-time 30 -X POST
        -H "Authorization: Bearer $key" -H "Idempotency-Key: $idem")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    for try in 0 1 2 3; do
        u=${NODES[$(((n + try) % 2))]}
        st=$(curl "${args[@]}" "$u$path")
        [ "$st" != 000 ] && break
        echo "POST $path $idem: no answer from $u" >>"$W/failovers"
        sleep 0.1
    done
    # A replay after a failover: the dead node had committed the step but not answered.
    [ "$try" -gt 0 ] && grep -qi '^idempotency-replayed: true' "$out.h" &&
        echo "POST $path $idem" >>"$W/replays"
    echo "$st"
}

# sign_fo N CONTRACT ROLE API_KEY KEY_FILE: `bourse contract sign` through node N, locally
# with the party's key file; when the node does not answer (exit 7), again through the other.
# A retry refused as already signed (exit 4) is a success if the contract holds ROLE's
# signature: the first attempt committed before its node died.
sign_fo() {
    local n=$1 ctr=$2 role=$3 key=$4 kf=$5 rc try u
    for try in 0 1 2 3; do
        u=${NODES[$(((n + try) % 2))]}
        "$B" --url "$u" --key "$key" --json contract sign "$ctr" --signing-key "$kf" \
            >"$W/sign.$BASHPID" 2>&1
        rc=$?
        [ "$rc" = 0 ] && return 0
        if [ "$rc" = 4 ] && [ "$try" -gt 0 ]; then
            curl -sf -H "Authorization: Bearer $key" "$u/v1/contracts/$ctr" |
                jq -e --arg r "$role" '[.signatures[] | select(.role == $r)] | length == 1' \
                    >/dev/null && { echo "sign $ctr $role" >>"$W/replays"; return 0; }
        fi
        [ "$rc" != 7 ] && { cat "$W/sign.$BASHPID"; return 1; }
        echo "sign $ctr $role: no answer from $u" >>"$W/failovers"
        sleep 0.1
    done
    return 1
}

# trade TAG X BUYER_KEY BUYER_KEY_FILE: one complete trade; the order and the delivery through
# node X, the signatures and the acceptance through the other. Appends the contract id to
# $W/acked once its acceptance answered "settled"; anything else goes to $W/failed.
trade() {
    local tag=$1 x=$2 bkey=$3 bkf=$4 y=$((1 - $2)) st ctr o=$W/t.$BASHPID
    st=$(post_fo "$x" /v1/orders "{\"listing_id\":\"$FIXED\"}" "$bkey" "order-$tag" "$o")
    ctr=$(jq -r '.contract_id // empty' <"$o" 2>/dev/null)
    if [ "$st" != 201 ] || [ -z "$ctr" ]; then
        echo "$tag order: $st $(cat "$o")" >>"$W/failed"
        return 1
    fi
    sign_fo "$y" "$ctr" buyer "$bkey" "$bkf" >"$o" ||
        { echo "$tag buyer signature: $(cat "$o")" >>"$W/failed"; return 1; }
    sign_fo "$y" "$ctr" provider "$PROV_KEY" "$T_TMP/PROV.key" >"$o" ||
        { echo "$tag provider signature: $(cat "$o")" >>"$W/failed"; return 1; }
    st=$(post_fo "$x" "/v1/contracts/$ctr/deliveries" "{\"sha256\":\"$SHA_D\"}" "$PROV_KEY" \
        "deliver-$tag" "$o")
    [ "$st" = 201 ] || { echo "$tag delivery: $st $(cat "$o")" >>"$W/failed"; return 1; }
    st=$(post_fo "$y" "/v1/contracts/$ctr/accept" "" "$bkey" "accept-$tag" "$o")
    if [ "$st" = 200 ] && [ "$(jq -r .state <"$o")" = settled ]; then
        echo "$ctr" >>"$W/acked"
    else
        echo "$tag acceptance: $st $(cat "$o")" >>"$W/failed"
        return 1
    fi
}

# worker W: TRADES_EACH trades by buyer W, starting on alternating nodes.
worker() {
    local w=$1 t id=BUYER$1 key=BUYER${1}_KEY
    for t in $(seq 1 "$TRADES_EACH"); do
        trade "w$w-$t" $(((w + t) % 2)) "${!key}" "$T_TMP/$id.key"
    done
}

# collector: saves the newest checkpoint of each node that answers, every 0.2 s, verified
# against the log key as it is fetched, until $W/stop exists.
collector() {
    local i=0 n
    while [ ! -e "$W/stop" ]; do
        for n in 0 1; do
            if "$B" --url "${NODES[$n]}" log checkpoint --log-key "$KEY" --out "$W/cp.tmp" \
                >/dev/null 2>&1; then
                mv "$W/cp.tmp" "$W/cp/$(printf '%04d' $i)-$n"
                i=$((i + 1))
            fi
        done
        sleep 0.2
    done
}

ok "a first trade: order on A, signatures on B, delivery on A, acceptance on B" \
    trade first 0 "$BUYER0_KEY" "$T_TMP/BUYER0.key"
ok "a second one the other way round" trade second 1 "$BUYER1_KEY" "$T_TMP/BUYER1.key"
PRE=2

# ---- trades at once through both nodes ---------------------------------------------------------------
collector &
COLLECTOR=$!
at_exit "touch $W/stop; wait $COLLECTOR 2>/dev/null"
WPIDS=()
for w in $(seq 0 $((WORKERS - 1))); do
    worker "$w" &
    WPIDS+=($!)
done

# Meanwhile: two buyers race through the two nodes for the exclusive licence.
race() { # N KEY TAG
    curl -s -o "$W/race$3" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $2" \
        -H 'Content-Type: application/json' --data-binary "{\"listing_id\":\"$EXCL\"}" \
        "${NODES[$1]}/v1/orders" >"$W/race$3.status"
}
race 0 "$RACER1_KEY" 1 &
R1=$!
race 1 "$RACER2_KEY" 2 &
R2=$!
wait "$R1" "$R2"
is "$(cat "$W/race1.status" "$W/race2.status" | sort | tr '\n' ' ')" "201 409 " \
    "two buyers racing through A and B for one exclusive licence: one gets it, one is refused"
LOSER=$([ "$(cat "$W/race1.status")" = 409 ] && echo 1 || echo 2)
is "$(jq -r .type,.field <"$W/race$LOSER" | tr '\n' ' ')" "${P}exclusivity-sold listing_id " \
    "the loser is told the licence is sold"
BOURSE_URL=$B_URL req GET "/v1/orders?listing_id=$EXCL&limit=100" "" "$OPKEY"
is "$(jbody '.items | length'),$(jbody '[.items[].contract_id | select(startswith("ctr_"))] | length')" \
    "1,1" "one order, one contract"
BOURSE_URL=$A_URL req GET "/v1/contracts?limit=100" "" "$OPKEY"
is "$(jq --arg l "$EXCL" '[.items[] | select(.listing_id == $l)] | length' <"$BODY_FILE")" 1 \
    "and the contracts list holds one for the exclusive listing"

# And one Idempotency-Key sent to both nodes at once (one curl, both transfers in parallel),
# five times over.
idem_both() { # ROUND
    local n args=()
    for n in 0 1; do
        [ "$n" = 1 ] && args+=(--next)
        args+=(-s -X POST -H "Authorization: Bearer $IDEM_KEY" -H "Idempotency-Key: both-nodes-$1"
            -H 'Content-Type: application/json' --data-binary "{\"listing_id\":\"$FIXED\"}"
            -D "$W/idem$1-$n.h" -o "$W/idem$1-$n" -w "%{http_code}\n" "${NODES[$n]}/v1/orders")
    done
    curl -Z --parallel-immediate "${args[@]}" 2>/dev/null | sort | tr '\n' ' '
}
ROUNDS=5
SAME=0
for r in $(seq 1 $ROUNDS); do
    s=$(idem_both "$r")
    a=$(jq -r .id <"$W/idem$r-0") b=$(jq -r .id <"$W/idem$r-1")
    replays=$(cat "$W/idem$r-0.h" "$W/idem$r-1.h" | grep -ci '^idempotency-replayed: true')
    if [ "$s" = "201 201 " ] && [ "$a" = "$b" ] && [ "$replays" = 1 ]; then
        SAME=$((SAME + 1))
    else
        echo "# round $r: $s, ids $a $b, $replays replays: $(cat "$W/idem$r-0" "$W/idem$r-1")"
    fi
done
is "$SAME" $ROUNDS "one Idempotency-Key through both nodes at once: both answer the same 201 order, one as a replay"
BOURSE_URL=$B_URL req GET "/v1/orders?listing_id=$FIXED&limit=100" "" "$IDEM_KEY"
is "$(jbody '.items | length')" $ROUNDS "$ROUNDS keys made $ROUNDS orders"

is "$(cat "$W/failovers" 2>/dev/null | wc -l)" 0 "while both nodes live, every step goes where it is sent"

# ---- kill -9 the leader mid-stream ----------------------------------------------------------------
for _ in $(seq 1 300); do
    [ "$(cat "$W/acked" 2>/dev/null | wc -l)" -ge $((PRE + KILL_AFTER)) ] && break
    sleep 0.1
done
ACKED_AT_KILL=$(($(wc -l <"$W/acked") - PRE))
ok "the leader is killed mid-stream ($ACKED_AT_KILL of $((WORKERS * TRADES_EACH)) done)" \
    test "$ACKED_AT_KILL" -ge "$KILL_AFTER" -a "$ACKED_AT_KILL" -lt $((WORKERS * TRADES_EACH))
kill9_server
T0=$(date +%s%N)
TOOK=""
for _ in $(seq 1 100); do
    if [ "$(leads "$B_URL")" = true ]; then TOOK=$((($(date +%s%N) - T0) / 1000000)); break; fi
    sleep 0.05
done
echo "# B leads the log $TOOK ms after A was killed"
ok "the survivor leads the log within 5 s" test -n "$TOOK" -a "${TOOK:-99999}" -le 5000

for p in "${WPIDS[@]}"; do wait "$p"; done
[ -s "$W/failed" ] && sed 's/^/# failed: /' "$W/failed"
is "$(cat "$W/failed" 2>/dev/null | wc -l)" 0 "every worker's trade completed, through the kill"
is "$(($(wc -l <"$W/acked") - PRE))" $((WORKERS * TRADES_EACH)) "$((WORKERS * TRADES_EACH)) trades acknowledged by the workers"
FAILOVERS=$(cat "$W/failovers" 2>/dev/null | wc -l)
echo "# $FAILOVERS steps were sent again to the survivor;" \
    "$(cat "$W/replays" 2>/dev/null | wc -l) of them the dead node had committed (replays)"
ok "steps meant for the dead node went to the survivor instead" test "$FAILOVERS" -gt 0
grep -q "this node is the leader" "$T_TMP/b.log"
is $? 0 "the survivor logs that it leads"

# ---- more trades through the survivor alone ----------------------------------------------------------
NODES=("$B_URL" "$B_URL")
SURV=0
for t in $(seq 1 "$AFTER_KILL"); do
    trade "survivor-$t" 0 "$BUYER0_KEY" "$T_TMP/BUYER0.key" && SURV=$((SURV + 1))
done
is "$SURV" "$AFTER_KILL" "$AFTER_KILL more trades through the survivor"
TOTAL=$((PRE + WORKERS * TRADES_EACH + AFTER_KILL))
is "$(sort -u "$W/acked" | wc -l)" "$TOTAL" "$TOTAL distinct contracts acknowledged in all"

# ---- every acknowledged trade is settled, once -----------------------------------------------------
SETTLED=0
while read -r ctr; do
    BOURSE_URL=$B_URL req GET "/v1/contracts/$ctr" "" "$OPKEY"
    [ "$(jbody .state),$(jbody '.escrow[0].state')" = settled,settled ] && SETTLED=$((SETTLED + 1))
done <"$W/acked"
is "$SETTLED" "$TOTAL" "every acknowledged trade's contract and escrow are settled"
: >"$W/events"
FROM=0
while [ -n "$FROM" ] && [ "$FROM" != null ]; do
    BOURSE_URL=$B_URL req GET "/v1/events?from=$FROM&limit=1000" "" "$OPKEY"
    [ "$STATUS" = 200 ] || bail "events: $STATUS"
    jq -c '.items[]' <"$BODY_FILE" >>"$W/events"
    FROM=$(jbody '.next_from // empty')
done
jq -r 'select(.type == "contract.settled") | .subject' <"$W/events" | sort >"$W/settled"
is "$(sort "$W/acked" | uniq | diff - <(uniq "$W/settled") >/dev/null && echo same)" same \
    "the log's contract.settled events name exactly the acknowledged contracts"
is "$(uniq -d "$W/settled" | wc -l)" 0 "each settled once"
LAST=$(tail -n 1 "$W/events" | jq -r .index)
is "$(jq -r .index <"$W/events" | awk 'BEGIN{n=0} $1!=n{bad=1} {n++} END{print bad ? "gap" : "gapless"}')" \
    gapless "the events are numbered without gaps or repeats"

# ---- the log: every checkpoint seen is consistent with the final one -----------------------------
touch "$W/stop"
wait "$COLLECTOR"
wait_covers "$LAST" "$B_URL" 50 || bail "no checkpoint covered entry $LAST within 5 s"
ok "the final checkpoint" "$B" --url "$B_URL" log checkpoint --log-key "$KEY" --out "$W/final"
FROM_A=$(ls "$W/cp" | grep -c -- '-0$')
FROM_B=$(ls "$W/cp" | grep -c -- '-1$')
echo "# $FROM_A checkpoints collected from A, $FROM_B from B"
ok "checkpoints were collected from both nodes" test "$FROM_A" -gt 0 -a "$FROM_B" -gt 0
SIZES=$(for f in "$W"/cp/*; do sed -n 2p "$f"; done | sort -n | uniq | wc -l)
ok "of several tree sizes ($SIZES)" test "$SIZES" -gt 2
BAD=""
for f in $(for f in "$W"/cp/*; do echo "$(sha256sum <"$f" | cut -c1-64) $f"; done | sort -u -k1,1 | cut -d' ' -f2); do
    "$B" --url "$B_URL" log verify --log-key "$KEY" --old-checkpoint "$f" >"$W/verify.out" 2>&1 ||
        BAD="$BAD $(basename "$f")"
done
is "$BAD" "" "every checkpoint collected from either node is consistent with the final one"
ok "the log audit passes" "$B" --url "$B_URL" --key-file "$T_DATA/operator.key" log audit --log-key "$KEY"

# ---- the ledger balances ---------------------------------------------------------------------------
avail() {
    BOURSE_URL=$B_URL req GET "/v1/entities/$1/accounts" "" "$OPKEY"
    jq -r '[.items[] | select(.kind=="available" and .currency=="CNY") | .available][0] // 0' <"$BODY_FILE"
}
# per buyer, the trades it paid for: the workers' and the first two, the survivor's for buyer 0.
GOOD=0
for w in $(seq 0 $((WORKERS - 1))); do
    n=$TRADES_EACH
    [ "$w" -le 1 ] && n=$((n + 1))
    [ "$w" = 0 ] && n=$((n + AFTER_KILL))
    [ "$(avail "${BUYERS[$w]}")" = $((DEPOSIT - n * PRICE)) ] && GOOD=$((GOOD + 1))
done
is "$GOOD" "$WORKERS" "each buyer paid once for each of its trades"
# The racing winner's and the idempotent buyer's contracts are proposed only: nothing held.
is "$(avail "$RACER1") $(avail "$RACER2") $(avail "$BUYER6")" "$DEPOSIT $DEPOSIT $DEPOSIT" \
    "orders without signatures hold nothing"
is "$(avail "$PROV")" $((TOTAL * (PRICE - FEE_EACH))) "the provider got each price less the fee"
SQL="SELECT currency, SUM(credits_posted - debits_posted), SUM(credits_pending - debits_pending)
     FROM ledger_accounts GROUP BY currency ORDER BY currency"
SUMS=$("$(pg_bin psql)" -X -q -t -A -F ' ' -v ON_ERROR_STOP=1 -d "$BOURSE_DB" -c "$SQL")
is "$SUMS" "CNY 0 0" "the balances of every currency sum to zero, posted and pending"
FEES=$("$(pg_bin psql)" -X -q -t -A -v ON_ERROR_STOP=1 -d "$BOURSE_DB" -c \
    "SELECT credits_posted - debits_posted FROM ledger_accounts WHERE owner = 'exchange' AND kind = 'fees'")
is "$FEES" $((TOTAL * FEE_EACH)) "the exchange's fees account holds one fee a trade"
kill -TERM "$B_PID"
wait "$B_PID"
is $? 0 "the survivor stops cleanly"
ok "bourse ledger check passes" "$B" ledger check --db "$BOURSE_DB"
done_testing
