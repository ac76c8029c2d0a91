#!/usr/bin/env bash
# The trade crash test (issue 5, "Reliability and measurements"): a stream of trades — order,
# document, both signatures (escrow held), delivery, acceptance (settled), with some cancelled
# and some left mid-way — runs concurrently (tools/trade_crash.c, built here) against a server
# that is killed with kill -9 at a random instant, ROUNDS times, restarted on the same data
# each time. The driver journals every step it sent and every step acknowledged with a 2xx.
# After each kill `bourse ledger check` runs on the crashed database, and after each restart:
#   - every acknowledged step is there: its contract is at least in the acknowledged state,
#     carries the acknowledged signatures, and is in no state its unsent steps would make;
#   - every escrow matches its contract's state (a held hold of the price while active or
#     delivered, posted once settled, none before activation or when cancelled);
#   - no transfer is half-applied: each buyer's, the provider's and the exchange's balances
#     are exactly what the settled and held contracts say, and all balances (and all pending
#     amounts) of the currency sum to zero;
#   - `bourse log audit` passes and every checkpoint saved before is consistent with the new.
# BOURSE_SEED=N replays the plans and the kill instants (timing aside); the seed is printed.
. "$(dirname "$0")/lib.sh"
B=$BOURSE_BIN
SEED=${BOURSE_SEED:-$(((RANDOM << 15) | RANDOM))}
echo "# seed $SEED (BOURSE_SEED=$SEED replays it)"
RANDOM=$SEED
ROUNDS=6
CONC=8            # trades in flight at once
TRADES=5000       # at most per round: the kill comes first on any machine
PRICE=100000      # the listing's fixed price, CNY minor units
FEE=2500          # 2.5 % of it, over the schedule's minimum of 100
DEPOSIT=100000000000
NBUYERS=4

DRIVER=$T_TMP/trade_crash
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -std=c11 -O2 -o "$DRIVER" "$(dirname "$0")/tools/trade_crash.c" \
    $(pkg-config --cflags --libs libcurl libsodium) || bail "cannot build the trade driver"

start_server --rate-limit 0
export BOURSE_KEY_FILE="$T_DATA/operator.key"
"$B" log key --out "$T_TMP/log.vkey" >/dev/null || bail "log key"

# --- the market: a provider, a listed product, a fee schedule, funded buyers --------------------
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
req POST /v1/products "$(jq -cn '{kind:"dataset", title:"企业用电画像 crash", description:"企业用电数据",
  category:"energy", use_cases:["信贷评估"], update_frequency:"monthly",
  classification:"corporate", sensitivity:"general",
  content_hash:"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  schema:[{name:"id",type:"string"}],
  source:{method:"collected", legal_basis:"contracts", processing:"aggregated",
          personal_information:{contained:false}}}')" "$PROV_KEY"
[ "$STATUS" = 201 ] || bail "register failed: $(cat "$BODY_FILE")"
REV=$(jbody .revision.id)
req POST /v1/rights "{\"revision_id\":\"$REV\",\"right\":\"operation\"}"
[ "$STATUS" = 201 ] || bail "right failed: $(cat "$BODY_FILE")"
echo "report" >"$T_TMP/report.pdf"
for kind in quality:QFIRM compliance:CFIRM; do
    k=${kind%%:*} f=${kind##*:}
    fid=${!f} fkey=${f}_KEY
    req POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"$k\",\"firm_id\":\"$fid\"}" "$PROV_KEY"
    "$B" --key "${!fkey}" assessment submit "$(jbody .id)" --verdict pass \
        --document "$T_TMP/report.pdf" --signing-key "$T_TMP/$f.key" >/dev/null || bail "report"
done
req POST /v1/listings "$(jq -cn --arg r "$REV" --argjson p "$PRICE" '{revision_id:$r,
  price:{model:"fixed", currency:"CNY", amount:$p},
  terms:{purpose:"信贷评估", term_days:365, territory:["CN"], redistribution:"none",
         exclusive:false, delivery:["file"]}}')" "$PROV_KEY"
[ "$STATUS" = 201 ] || bail "listing failed: $(cat "$BODY_FILE")"
LISTING=$(jbody .id)
req POST /v1/fee-schedules '{"name":"standard","kind":"percentage","currency":"CNY","rate_bp":250,"minimum":100}'
[ "$STATUS" = 201 ] || bail "fee schedule: $(cat "$BODY_FILE")"
: >"$T_TMP/buyers"
BUYER_IDS=()
for i in $(seq 1 "$NBUYERS"); do
    party buyer "买方银行 $i" "BUY$i"
    id_var=BUY$i key_var=BUY${i}_KEY
    cert "${!id_var}" trading
    req POST /v1/ledger/deposits "{\"entity\":\"${!id_var}\",\"currency\":\"CNY\",\"amount\":$DEPOSIT,\"reference\":\"crash-$i\"}"
    [ "$STATUS" = 201 ] || bail "deposit: $(cat "$BODY_FILE")"
    echo "${!key_var} $T_TMP/BUY$i.key" >>"$T_TMP/buyers"
    BUYER_IDS+=("${!id_var}")
done

# The exchange's own accounts are the operator's (and regulators') to read, not an entity's.
req GET /v1/entities/exchange/accounts "" "$BUY1_KEY"
is "$STATUS,$(jbody .type),$(jbody .field)" "404,https://bourse.dev/problems/not-found,id" \
    "an entity cannot read the exchange's accounts"
req GET /v1/entities/exchange/accounts "" "$OPKEY"
is "$STATUS,$(jbody '[.items[] | .owner + ":" + .kind] | sort | join(" ")')" "200,exchange:cash" \
    "the operator can: one cash account before any fee"

# --- reading the exchange back ---------------------------------------------------------------------
# fetch_all DIR < PATHS: GETs each path as the operator (one curl, keep-alive, 4 at once) into
# DIR/<line number>.json; prints the paths that did not answer 200.
fetch_all() {
    local dir=$1 path n=0
    rm -rf "$dir" && mkdir -p "$dir"
    while read -r path; do
        n=$((n + 1))
        printf 'url = "%s%s"\noutput = "%s/%d.json"\n' "$BOURSE_URL" "$path" "$dir" "$n"
    done >"$dir.cfg"
    [ -s "$dir.cfg" ] || return 0
    curl -s --no-progress-meter -Z --parallel-max 4 --max-time 60 -H "Authorization: Bearer $OPKEY" \
        -w '%{http_code} %{url}\n' -K "$dir.cfg" | awk '$1 != 200'
}

# contracts: every contract, as the operator lists them, then each in full (with signatures
# and escrow) into $T_TMP/contracts.json, an array.
contracts() {
    local cursor="" q
    : >"$T_TMP/ids"
    for _ in $(seq 1 1000); do
        q="/v1/contracts?limit=100${cursor:+&cursor=$cursor}"
        req GET "$q" "" "$OPKEY"
        [ "$STATUS" = 200 ] || { echo "contract list: $STATUS"; return; }
        jbody '.items[].id' >>"$T_TMP/ids"
        cursor=$(jbody '.next_cursor // empty')
        [ -n "$cursor" ] || break
    done
    sed 's|^|/v1/contracts/|' "$T_TMP/ids" | fetch_all "$T_TMP/c"
    find "$T_TMP/c" -name '*.json' -exec cat {} + | jq -s . >"$T_TMP/contracts.json"
}

# holds: every escrow hold the contracts name, into $T_TMP/holds.json ({id: transfer}).
holds() {
    jq -r '.[].escrow[]?.hold_id | select(. != null) | "/v1/ledger/transfers/" + .' \
        "$T_TMP/contracts.json" | fetch_all "$T_TMP/h"
    find "$T_TMP/h" -name '*.json' -exec cat {} + | jq -s 'map({(.id): .}) | add // {}' >"$T_TMP/holds.json"
}

# accounts: every account of the buyers, the provider and the exchange, as one array.
accounts() {
    printf '/v1/entities/%s/accounts\n' "${BUYER_IDS[@]}" "$PROV" exchange | fetch_all "$T_TMP/a"
    find "$T_TMP/a" -name '*.json' -exec cat {} + | jq -s '[.[].items[]?]' >"$T_TMP/accounts.json"
}

# journal_facts: the journal as {contract: {acked: {step: signature|true}, tried: {step: true}}}.
journal_facts() {
    jq -R -s '[split("\n")[] | select(length > 0) | split(" ")
              | select(.[0] == "ack" or .[0] == "try") | select(.[2] != "-")]
        | reduce .[] as $l ({};
            if $l[0] == "ack" then .[$l[2]].acked[$l[1]] = ($l[3] // true)
            else .[$l[2]].tried[$l[1]] = true end)' "$T_TMP/journal"
}

# The checks as one jq program over the contracts ($c), their holds ($h) and the journal ($j);
# prints one line per problem.
CHECK_CONTRACTS='
def rank: {proposed:0, signed_one:1, signed_both:2, active:3, delivered:4, settled:5}[.] // -1;
def step_rank: {order:0, sign_buyer:1, sign_provider:3, deliver:4, accept:5}[.] // 0;
def sig($k; $role): [$k.signatures[]? | select(.role == $role) | .signature][0];
($c | map({(.id): .}) | add // {}) as $by_id
| ($j | to_entries[] | select(.value.acked != null) | .key as $id
   | select($by_id[$id] == null) | "\($id): acknowledged \(.value.acked | keys) but missing"),
  ($c[] | . as $k | ($j[$k.id] // {}) as $f | ($f.acked // {}) as $a | ($f.tried // {}) as $t
   | ([$a | keys[] | step_rank] | max // 0) as $acked
   | ([$t | keys[] | step_rank] | max // 0) as $tried
   | (if $a.cancel then (if $k.state != "cancelled" then "\($k.id): cancel acknowledged, state \($k.state)" else empty end)
      elif $k.state == "cancelled" then (if $t.cancel then empty else "\($k.id): cancelled, never asked" end)
      elif ($k.state | rank) < $acked then "\($k.id): state \($k.state) below the acknowledged step"
      elif ($k.state | rank) > $tried then "\($k.id): state \($k.state) beyond any step sent"
      elif $k.state == "signed_both" then "\($k.id): signed_both though the buyer has funds"
      else empty end),
     (if $a.sign_buyer and sig($k; "buyer") != $a.sign_buyer then "\($k.id): acknowledged buyer signature differs or is gone" else empty end),
     (if $a.sign_provider and sig($k; "provider") != $a.sign_provider then "\($k.id): acknowledged provider signature differs or is gone" else empty end),
     (($k.signatures | length) as $n
      | ({proposed:0, signed_one:1}[$k.state] // (if $k.state == "cancelled" then null else 2 end)) as $want
      | if $want != null and $n != $want then "\($k.id): \($k.state) with \($n) signatures" else empty end),
     (if ($k.state | rank) >= 3 and $k.countersignature == null then "\($k.id): \($k.state) without a countersignature" else empty end),
     (($k.escrow // []) as $e | $h[$e[0].hold_id // ""] as $hold
      | if ($k.state | IN("active", "delivered", "disputed")) then
          (if ($e | length) != 1 or $e[0].state != "held" or $e[0].amount != $k.price
              or $hold.state != "pending" or $hold.amount != $k.price
           then "\($k.id): \($k.state) but escrow \($e | tojson), hold \($hold | tojson)" else empty end)
        elif $k.state == "settled" then
          (if ($e | length) != 1 or $e[0].state != "settled" or $e[0].post_id == null
              or $hold.state != "posted" or $hold.amount != $k.price
           then "\($k.id): settled but escrow \($e | tojson), hold \($hold | tojson)" else empty end)
        elif ($e | length) != 0 then "\($k.id): \($k.state) with escrow \($e | tojson)"
        else empty end))'

# The balances each account must have, from the contracts; prints one line per problem.
CHECK_BALANCES='
def bal: .credits_posted - .debits_posted;
def acct($o; $kind): [$a[] | select(.owner == $o and .kind == $kind and .currency == "CNY")][0]
                     // {credits_posted:0, debits_posted:0, credits_pending:0, debits_pending:0};
def chk($what; $got; $want): if $got == $want then empty else "\($what): \($got), expected \($want)" end;
($buyers | split(" ")) as $buyers
| ($c | map(select(.state == "settled"))) as $settled
| ($c | map(select(.state | IN("active", "delivered", "disputed")))) as $held
| ($buyers[] as $b
   | ([$settled[] | select(.buyer_id == $b) | .price] | add // 0) as $paid
   | ([$held[] | select(.buyer_id == $b) | .price] | add // 0) as $hold
   | chk("\($b) available balance"; acct($b; "available") | bal; $deposit - $paid),
     chk("\($b) held from available"; acct($b; "available").debits_pending; $hold),
     chk("\($b) escrow balance"; acct($b; "escrow") | bal; 0),
     chk("\($b) escrow pending"; acct($b; "escrow").credits_pending; $hold)),
  chk("provider balance"; acct($prov; "available") | bal; ($settled | length) * ($price - $fee)),
  chk("exchange fees"; acct("exchange"; "fees") | bal; ($settled | length) * $fee),
  chk("exchange cash"; acct("exchange"; "cash") | bal; -$deposit * ($buyers | length)),
  ($a | group_by(.currency)[] | .[0].currency as $cur
   | chk("sum of \($cur) balances"; map(bal) | add; 0),
     chk("sum of \($cur) pending"; map(.credits_pending - .debits_pending) | add; 0))'

# check_all ROUND: every check above, against the running server.
check_all() {
    local r=$1 problems
    problems=$(contracts)
    problems+=$(holds)
    is "$problems" "" "round $r: every contract and hold reads back ($(wc -l <"$T_TMP/ids") contracts)"
    journal_facts >"$T_TMP/facts.json"
    jq -r --slurpfile c "$T_TMP/contracts.json" --slurpfile h "$T_TMP/holds.json" \
        -n --slurpfile j "$T_TMP/facts.json" \
        "\$c[0] as \$c | \$h[0] as \$h | \$j[0] as \$j | $CHECK_CONTRACTS" >"$T_TMP/problems"
    is "$(wc -l <"$T_TMP/problems" | tr -d ' ')" 0 \
        "round $r: acknowledged steps intact, no state beyond what was sent, escrow matches state"
    head -n 5 "$T_TMP/problems" | sed 's/^/#   /'
    problems=$(accounts)
    jq -r -n --slurpfile c "$T_TMP/contracts.json" --slurpfile a "$T_TMP/accounts.json" \
        --arg buyers "${BUYER_IDS[*]}" \
        --arg prov "$PROV" --argjson deposit "$DEPOSIT" --argjson price "$PRICE" --argjson fee "$FEE" \
        "\$c[0] as \$c | \$a[0] as \$a | $CHECK_BALANCES" >"$T_TMP/problems"
    is "$problems$(cat "$T_TMP/problems")" "" \
        "round $r: every balance is what the contracts say; balances and pendings sum to zero"
    is "$(jq '[.[] | select(.state == "settled")] | length > 0' "$T_TMP/contracts.json")" true \
        "round $r: some trades have settled"
}

# log_caught_up: waits until the log has integrated every committed event.
log_caught_up() {
    local size n
    for _ in $(seq 1 100); do
        size=$(curl -s "$BOURSE_URL/v1/log/checkpoint" | jq -r .tree_size)
        n=$(curl -s -H "Authorization: Bearer $OPKEY" \
            "$BOURSE_URL/v1/events?from=$((size > 0 ? size - 1 : 0))&limit=1000" | jq '.items | length')
        [ "$n" -le 1 ] && return 0
        sleep 0.1
    done
    return 1
}

check_log() {
    local r=$1 cp bad=0
    ok "round $r: the log integrates every committed event" log_caught_up
    ok "round $r: log audit passes" "$B" log audit --log-key @"$T_TMP/log.vkey"
    for cp in "$T_TMP"/cp-*; do
        [ -s "$cp" ] || continue
        if ! "$B" log verify --log-key @"$T_TMP/log.vkey" --old-checkpoint "$cp" >"$T_TMP/verify.out" 2>&1; then
            bad=$((bad + 1))
            sed "s|^|# ${cp##*/}: |" "$T_TMP/verify.out"
        fi
    done
    is "$bad" 0 "round $r: every earlier checkpoint is consistent with the new one"
    curl -sf "$BOURSE_URL/log/checkpoint" -o "$T_TMP/cp-$r" || fail "round $r: save the checkpoint"
}

# ledger_check: `bourse ledger check` on the (stopped or crashed) server's database.
ledger_check() {
    if [ "${BOURSE_TEST_PG:-0}" = 1 ]; then
        "$B" ledger check --db "$BOURSE_DB"
    else
        "$B" ledger check --data "$T_DATA"
    fi
}

# acks: how many steps the driver has had acknowledged so far.
acks() { grep -c '^ack ' "$T_TMP/journal"; }

# --- the rounds --------------------------------------------------------------------------------------
: >"$T_TMP/journal"
check_log 0
for ROUND in $(seq 1 "$ROUNDS"); do
    before=$(acks)
    "$DRIVER" "$BOURSE_URL" "$LISTING" "$PROV_KEY" "$T_TMP/PROV.key" "$T_TMP/buyers" \
        "$CONC" "$TRADES" "$((SEED + ROUND))" "$T_TMP/journal" >"$T_TMP/driver.out" 2>&1 &
    DRIVER_PID=$!
    # The kill comes at a random instant once the stream is flowing: after some acknowledged
    # steps (so that a slow machine still crashes mid-stream), then 0-600 ms more.
    for _ in $(seq 1 600); do
        [ "$(acks)" -ge $((before + 20)) ] && break
        kill -0 "$DRIVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    DELAY=$((RANDOM % 600))
    sleep "$(printf '%d.%03d' $((DELAY / 1000)) $((DELAY % 1000)))"
    kill9_server
    wait "$DRIVER_PID"
    is "$?,$(grep -c '^bad ' "$T_TMP/journal")" "0,0" \
        "round $ROUND: the server refused no valid step before the kill at +${DELAY} ms"
    grep '^bad ' "$T_TMP/journal" | head -n 3 | sed 's/^/#   /'
    echo "# round $ROUND: $(($(acks) - before)) steps acknowledged, $(grep -c '^lost ' "$T_TMP/journal") lost in all"
    ok "round $ROUND: ledger check on the crashed database" ledger_check
    start_server --rate-limit 0
    check_all "$ROUND"
    check_log "$ROUND"
done

# A clean stop after the last round, and the offline check once more.
ok "the server stops cleanly" stop_server
ok "ledger check after a clean stop" ledger_check
echo "# $(jq 'group_by(.state) | map("\(.[0].state)=\(length)") | join(" ")' "$T_TMP/contracts.json")"

done_testing
