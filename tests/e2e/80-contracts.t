#!/usr/bin/env bash
# Contracts end to end, through raw HTTP and the CLI: the operator records a trade; each party
# signs the canonical document locally with its own key file (`bourse contract sign`), the
# exchange countersigns (checked here with openssl, independently of libsodium) and holds the
# price in escrow; a delivery is accepted and the money moves exactly as the split says; a
# shortfall leaves the contract signed_both until a deposit and `contract activate`; a rejected
# delivery becomes a dispute, assigned to an arbitrator and decided with a split. Refusals are
# problem+json naming the field, with nothing changed; the document's bytes are reproduced by
# Python's json.dumps; two concurrent acceptances settle once; an Idempotency-Key replays one
# outcome; `bourse ledger check` passes at the end.
. "$(dirname "$0")/lib.sh"
start_server
B=$BOURSE_BIN
P=https://bourse.dev/problems/

# state: what a refused request must leave alone, as the operator sees it.
state() {
    local out=""
    for path in "/v1/events?from=0&limit=1000" "/v1/contracts?limit=100"; do
        req GET "$path" "" "$OPKEY"
        out="$out$(jq -S -c . <"$BODY_FILE")"
    done
    echo "$out"
}

# refused DESC METHOD PATH BODY KEY STATUS FIELD TYPE
refused() {
    local desc=$1 method=$2 path=$3 body=$4 key=$5 status=$6 field=$7 type=$8
    local before after
    before=$(state)
    req "$method" "$path" "$body" "$key"
    is "$STATUS" "$status" "$desc: status $status"
    is "$(jbody '.field // "none"')" "$field" "$desc: field"
    is "$(jbody .type)" "$P$type" "$desc: problem type"
    after=$(state)
    is "$after" "$before" "$desc: nothing changed"
}

# party KIND NAME VAR [SPECIALITY]: a verified entity whose key file is $T_TMP/VAR.key; sets
# VAR (the id) and VAR_KEY (its API key).
party() {
    local body pk
    pk=$(new_pubkey "$3")
    body=$(apply_json "$1" "$2" "$(uscc_random)" "$pk")
    [ -n "${4:-}" ] && body=$(echo "$body" | jq -c --arg s "$4" '.specialities=[$s]')
    req POST /v1/entities "$body" -
    [ "$STATUS" = 201 ] || bail "apply failed: $(cat "$BODY_FILE")"
    local id key
    id=$(jbody .id) key=$(jbody .api_key.secret)
    req POST "/v1/entities/$id/review" '{"decision":"verify"}'
    [ "$STATUS" = 200 ] || bail "verify failed: $(cat "$BODY_FILE")"
    eval "$3=$id; ${3}_KEY=$key"
}
cert() { req POST "/v1/entities/$1/certificates" "{\"type\":\"$2\"}"; [ "$STATUS" = 201 ] || bail "cert $2: $(cat "$BODY_FILE")"; }

party provider '国网上海市电力公司' PROV
cert "$PROV" data_provider
party buyer '宁波银行深圳分行' BUYER
cert "$BUYER" trading
party buyer '上海农商银行' POOR
cert "$POOR" trading
party broker '中信经纪 Broker' BROKER
party service_firm '上海数据质量评估中心' QFIRM quality
party service_firm '广东广和律师事务所' CFIRM compliance
party service_firm '上海国际仲裁中心' ARB arbitration
party service_firm '普通律师事务所' LAW legal

echo "报告 report" >"$T_TMP/report.pdf"
# listed TITLE PRICE_JSON: a listable corporate product and its listing; sets LST.
listed() {
    local md q c rev
    md=$(jq -cn --arg t "$1" '{kind:"dataset", title:$t, description:"企业用电数据",
      category:"energy", use_cases:["信贷评估"], update_frequency:"monthly",
      classification:"corporate", sensitivity:"general",
      content_hash:"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      schema:[{name:"id",type:"string"}],
      source:{method:"collected", legal_basis:"contracts", processing:"aggregated",
              personal_information:{contained:false}}}')
    req POST /v1/products "$md" "$PROV_KEY"
    [ "$STATUS" = 201 ] || bail "register failed: $(cat "$BODY_FILE")"
    rev=$(jbody .revision.id)
    req POST /v1/rights "{\"revision_id\":\"$rev\",\"right\":\"operation\"}"
    req POST /v1/assessments "{\"revision_id\":\"$rev\",\"kind\":\"quality\",\"firm_id\":\"$QFIRM\"}" "$PROV_KEY"
    q=$(jbody .id)
    req POST /v1/assessments "{\"revision_id\":\"$rev\",\"kind\":\"compliance\",\"firm_id\":\"$CFIRM\"}" "$PROV_KEY"
    c=$(jbody .id)
    "$B" --key "$QFIRM_KEY" assessment submit "$q" --verdict pass --document "$T_TMP/report.pdf" \
        --signing-key "$T_TMP/QFIRM.key" >/dev/null || bail "quality report failed"
    "$B" --key "$CFIRM_KEY" assessment submit "$c" --verdict pass --document "$T_TMP/report.pdf" \
        --signing-key "$T_TMP/CFIRM.key" >/dev/null || bail "compliance report failed"
    req POST /v1/listings "$(jq -cn --arg r "$rev" --argjson p "$2" '{revision_id:$r, price:$p,
      terms:{purpose:"信贷评估 credit assessment", term_days:365, territory:["CN"],
      redistribution:"none", exclusive:false, delivery:["file","api"]}}')" "$PROV_KEY"
    [ "$STATUS" = 201 ] || bail "listing failed: $(cat "$BODY_FILE")"
    LST=$(jbody .id)
}
listed '企业用电画像' '{"model":"fixed","currency":"CNY","amount":1000000}'
FIXED=$LST

req POST /v1/fee-schedules '{"name":"standard","kind":"percentage","currency":"CNY","rate_bp":250,"minimum":100}'
[ "$STATUS" = 201 ] || bail "fee schedule: $(cat "$BODY_FILE")"
FEE=$(jbody .id)
req POST /v1/ledger/deposits "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":3000000,\"reference\":\"ICBC-1\"}"
[ "$STATUS" = 201 ] || bail "deposit: $(cat "$BODY_FILE")"

# available ENTITY: the entity's available CNY (balance less holds), as the ledger API says.
available() {
    req GET "/v1/entities/$1/accounts" "" "$OPKEY"
    jq -r '[.items[] | select(.kind=="available" and .currency=="CNY") | .available][0] // 0' <"$BODY_FILE"
}
balance_of() {
    req GET "/v1/entities/$1/accounts" "" "$OPKEY"
    jq -r --arg k "$2" '[.items[] | select(.kind==$k and .currency=="CNY") | .balance][0] // 0' <"$BODY_FILE"
}

# terms BUYER [EXTRA_JQ]: a proposal body for the fixed listing.
terms() {
    jq -cn --arg l "$FIXED" --arg b "$1" '{listing_id:$l, buyer_id:$b, origin:"order",
      origin_id:"ord_aaaaaaaaaaaaaaaaaaaa", price:1000000, currency:"CNY"}' | jq -c "${2:-.}"
}

# --- proposal ----------------------------------------------------------------------------------
refused "a buyer recording a contract directly" POST /v1/contracts "$(terms "$BUYER")" "$BUYER_KEY" 403 none forbidden
refused "a price of zero" POST /v1/contracts "$(terms "$BUYER" '.price=0')" "$OPKEY" 400 price invalid
refused "a broker who is a firm" POST /v1/contracts \
    "$(terms "$BUYER" ".brokers=[{entity_id:\"$LAW\",commission_bp:500}]")" "$OPKEY" 400 'brokers[0].entity_id' invalid
refused "a delivery the listing does not offer" POST /v1/contracts "$(terms "$BUYER" '.delivery="compute"')" "$OPKEY" 400 delivery invalid
refused "an unknown member" POST /v1/contracts "$(terms "$BUYER" '.colour="red"')" "$OPKEY" 400 colour invalid
req POST /v1/contracts "$(terms "$BUYER" ".brokers=[{entity_id:\"$BROKER\",commission_bp:500}]")"
is "$STATUS" 201 "the operator records a contract"
K1=$(jbody .id)
is "$(jbody .state)" proposed "it is proposed"
is "$(jbody .fee_schedule_id)" "$FEE" "with the fee schedule in force"

# --- the document ---------------------------------------------------------------------------------
curl -s -D "$T_TMP/doc.h" -o "$T_TMP/doc.json" -H "Authorization: Bearer $BUYER_KEY" \
    "$BOURSE_URL/v1/contracts/$K1/document"
SHA=$(sha256sum "$T_TMP/doc.json" | cut -d' ' -f1)
is "$(tr -d '\r' <"$T_TMP/doc.h" | awk -F': ' 'tolower($1)=="x-bourse-document-sha256"{print $2}')" "$SHA" \
    "the document's SHA-256 travels in a header"
req GET "/v1/contracts/$K1" "" "$BUYER_KEY"
is "$(jbody .document_sha256)" "$SHA" "and is the contract's"
python3 - "$T_TMP/doc.json" <<'EOF'
import json, sys
raw = open(sys.argv[1], 'rb').read()
again = json.dumps(json.loads(raw), sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode()
sys.exit(0 if again == raw else 1)
EOF
is $? 0 "python's json.dumps reproduces the document's bytes"
is "$(jq -r .version "$T_TMP/doc.json")" bourse-contract/1 "a versioned document"
# The worked example of docs/contract-format.md: its stated SHA-256, and Python's bytes.
DOCS=$(dirname "$0")/../../docs/contract-format.md
awk '/^```json$/{f=1;next} /^```$/{f=0} f' "$DOCS" | head -c -1 >"$T_TMP/example.json"
is "$(sha256sum "$T_TMP/example.json" | cut -d' ' -f1)" \
    "$(sed -n 's/^SHA-256: `\([0-9a-f]*\)`$/\1/p' "$DOCS")" "the documented example has its documented SHA-256"
python3 - "$T_TMP/example.json" <<'PY'
import json, sys
raw = open(sys.argv[1], 'rb').read()
again = json.dumps(json.loads(raw), sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode()
sys.exit(0 if again == raw else 1)
PY
is $? 0 "python reproduces the documented example's bytes"
is "$(jq -r .parties.buyer.public_key "$T_TMP/doc.json")" "$(cat "$T_TMP/BUYER.key.pub")" "naming the buyer's key"
is "$(jq -c .brokers[0].commission_bp "$T_TMP/doc.json")" 500 "and the broker's commission"
req GET "/v1/contracts/$K1/document" "" "$LAW_KEY"
is "$STATUS" 404 "a stranger does not see it"

# --- signatures -------------------------------------------------------------------------------------
# ossl_sign KEYFILE FILE: base64 Ed25519 signature by openssl from the CLI's seed file.
ossl_key() {
    { printf '302e020100300506032b657004220420' | xxd -r -p; base64 -d <"$1"; } |
        openssl pkey -inform DER -out "$1.pem" 2>/dev/null
}
ossl_sign() { ossl_key "$1"; openssl pkeyutl -sign -inkey "$1.pem" -rawin -in "$2" | base64 -w0; }
echo '{"price":1}' >"$T_TMP/other.json"
refused "a signature over other bytes" POST "/v1/contracts/$K1/signatures" \
    "{\"signature\":\"$(ossl_sign "$T_TMP/BUYER.key" "$T_TMP/other.json")\"}" "$BUYER_KEY" 400 signature invalid
refused "a signature by another key" POST "/v1/contracts/$K1/signatures" \
    "{\"signature\":\"$(ossl_sign "$T_TMP/PROV.key" "$T_TMP/doc.json")\"}" "$BUYER_KEY" 400 signature invalid
refused "a signature from a non-party" POST "/v1/contracts/$K1/signatures" \
    "{\"signature\":\"$(ossl_sign "$T_TMP/BROKER.key" "$T_TMP/doc.json")\"}" "$BROKER_KEY" 403 id forbidden
BEFORE=$(state)
"$B" --key "$BUYER_KEY" contract sign "$K1" --signing-key "$T_TMP/LAW.key" >"$T_TMP/o" 2>&1
isnt $? 0 "contract sign with a stranger's key file is refused locally"
grep -q "neither party" "$T_TMP/o"
is $? 0 "saying the key is neither party's"
"$B" --key "$BUYER_KEY" contract sign "$K1" --signing-key "$T_TMP/PROV.key" >"$T_TMP/o" 2>&1
isnt $? 0 "the provider's key file for the buyer is refused by the server"
grep -q "does not verify" "$T_TMP/o"
is $? 0 "saying the signature does not verify"
is "$(state)" "$BEFORE" "nothing changed"
OUT=$("$B" --key "$BUYER_KEY" contract sign "$K1" --signing-key "$T_TMP/BUYER.key")
is $? 0 "the buyer signs locally with the CLI"
echo "$OUT" | grep -q "信贷评估"
is $? 0 "after seeing the terms"
req GET "/v1/contracts/$K1" "" "$BUYER_KEY"
is "$(jbody .state)" signed_one "signed by one"
refused "signing twice" POST "/v1/contracts/$K1/signatures" \
    "{\"signature\":\"$(ossl_sign "$T_TMP/BUYER.key" "$T_TMP/doc.json")\"}" "$BUYER_KEY" 409 state wrong-state
"$B" --key "$PROV_KEY" --json contract sign "$K1" --signing-key "$T_TMP/PROV.key" >"$T_TMP/k1.json"
is $? 0 "the provider signs locally"
is "$(jq -r .state "$T_TMP/k1.json")" active "countersigned and active"
is "$(available "$BUYER")" 2000000 "the price is held in escrow"
is "$(jq -r '.escrow[0].state' "$T_TMP/k1.json")" held "one held period"

# The countersignature, checked with openssl: the statement names the document and both
# signatures, and verifies under the exchange's key.
jq -j .countersignature.statement "$T_TMP/k1.json" >"$T_TMP/stmt"
is "$(jq -r .document_sha256 "$T_TMP/stmt")" "$SHA" "the statement names the document"
is "$(jq -r .buyer.signature "$T_TMP/stmt")" "$(jq -r '.signatures[] | select(.role=="buyer") | .signature' "$T_TMP/k1.json")" \
    "and the buyer's signature"
{ printf '302a300506032b6570032100' | xxd -r -p; jq -r .countersignature.public_key "$T_TMP/k1.json" | base64 -d; } |
    openssl pkey -pubin -inform DER -out "$T_TMP/ex.pem" 2>/dev/null
jq -r .countersignature.signature "$T_TMP/k1.json" | base64 -d >"$T_TMP/ex.sig"
openssl pkeyutl -verify -pubin -inkey "$T_TMP/ex.pem" -rawin -in "$T_TMP/stmt" -sigfile "$T_TMP/ex.sig" >/dev/null 2>&1
is $? 0 "openssl verifies the exchange's countersignature"
req GET /v1/exchange "" -
is "$(jbody .operator.public_key)" "$(jq -r .countersignature.public_key "$T_TMP/k1.json")" "the key is the one the exchange publishes"
echo tampered >>"$T_TMP/stmt"
openssl pkeyutl -verify -pubin -inkey "$T_TMP/ex.pem" -rawin -in "$T_TMP/stmt" -sigfile "$T_TMP/ex.sig" >/dev/null 2>&1
isnt $? 0 "and refuses it over other bytes"

# --- delivery, acceptance, settlement -------------------------------------------------------------------
refused "acceptance before delivery" POST "/v1/contracts/$K1/accept" "" "$BUYER_KEY" 409 state wrong-state
refused "a delivery by the buyer" POST "/v1/contracts/$K1/deliveries" \
    '{"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}' "$BUYER_KEY" 403 id forbidden
refused "a malformed hash" POST "/v1/contracts/$K1/deliveries" '{"sha256":"xyz"}' "$PROV_KEY" 400 sha256 invalid
refused "cancelling an active contract" POST "/v1/contracts/$K1/cancel" "" "$BUYER_KEY" 409 state wrong-state
echo "the delivered data" >"$T_TMP/data.csv"
"$B" --key "$PROV_KEY" contract deliver "$K1" --file "$T_TMP/data.csv" >/dev/null
is $? 0 "the provider records a delivery with the CLI"
req GET "/v1/contracts/$K1" "" "$BUYER_KEY"
is "$(jbody .state)" delivered "delivered"
# Two acceptances at once: exactly one settles.
PIDS=()
for i in 1 2; do
    curl -s -o "$T_TMP/acc$i" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $BUYER_KEY" \
        "$BOURSE_URL/v1/contracts/$K1/accept" >"$T_TMP/acc$i.status" &
    PIDS+=($!)
done
wait "${PIDS[@]}"
is "$(cat "$T_TMP/acc1.status" "$T_TMP/acc2.status" | sort | tr '\n' ' ')" "200 409 " "two concurrent acceptances: one settles, one is refused"
req GET "/v1/contracts/$K1" "" "$BUYER_KEY"
is "$(jbody .state)" settled "settled"
is "$(jbody '.escrow[0].state')" settled "its escrow settled"
# 1000000: fee 2.5 % = 25000, broker 5 % = 50000, provider 925000.
is "$(balance_of "$PROV" available)" 925000 "the provider gets the rest"
is "$(balance_of "$BROKER" available)" 50000 "the broker its commission"
is "$(balance_of "$BUYER" escrow)" 0 "the escrow is empty"
is "$(available "$BUYER")" 2000000 "the buyer paid once"
req GET "/v1/events?from=0&limit=1000" "" "$OPKEY"
is "$(jq '[.items[] | select(.type=="contract.settled")] | length' <"$BODY_FILE")" 1 "one settlement in the log"

# --- a shortfall, then activation ----------------------------------------------------------------------
req POST /v1/contracts "$(terms "$POOR")"
K2=$(jbody .id)
"$B" --key "$POOR_KEY" contract sign "$K2" --signing-key "$T_TMP/POOR.key" >/dev/null || fail "poor signs"
"$B" --key "$PROV_KEY" --json contract sign "$K2" --signing-key "$T_TMP/PROV.key" >"$T_TMP/k2.json"
is $? 0 "the second signature is recorded without funds"
is "$(jq -r .state "$T_TMP/k2.json")" signed_both "signed by both, not active"
jq -r .problem.detail "$T_TMP/k2.json" | grep -q "insufficient funds"
is $? 0 "with a problem explaining the shortfall"
refused "activating without funds" POST "/v1/contracts/$K2/activate" "" "$POOR_KEY" 409 amount wrong-state
req POST /v1/ledger/deposits "{\"entity\":\"$POOR\",\"currency\":\"CNY\",\"amount\":1000000,\"reference\":\"BOC-7\"}"
OUT=$("$B" --key "$POOR_KEY" --json contract activate "$K2")
is $? 0 "activation after a deposit"
is "$(echo "$OUT" | jq -r .state)" active "active"

# --- a rejected delivery, a dispute, a split ------------------------------------------------------------
SHA_D=$(sha256sum "$T_TMP/data.csv" | cut -d' ' -f1)
# The same delivery under one Idempotency-Key twice: one outcome.
for i in 1 2; do
    curl -s -D "$T_TMP/idem$i.h" -o "$T_TMP/idem$i" -X POST -H "Authorization: Bearer $PROV_KEY" \
        -H 'Content-Type: application/json' -H 'Idempotency-Key: deliver-k2-once' \
        --data-binary "{\"sha256\":\"$SHA_D\"}" "$BOURSE_URL/v1/contracts/$K2/deliveries"
done
is "$(jq -r .delivery.id "$T_TMP/idem1")" "$(jq -r .delivery.id "$T_TMP/idem2")" "an Idempotency-Key replays the delivery"
grep -qi '^idempotency-replayed: true' "$T_TMP/idem2.h"
is $? 0 "and says so"
req GET "/v1/events?from=0&limit=1000" "" "$OPKEY"
is "$(jq --arg k "$K2" '[.items[] | select(.type=="contract.delivered" and .subject==$k)] | length' <"$BODY_FILE")" 1 "one delivery in the log"
refused "a rejection without a statement" POST "/v1/contracts/$K2/reject" '{"statement":" "}' "$POOR_KEY" 400 statement invalid
"$B" --key "$POOR_KEY" --json contract reject "$K2" --statement "两列全部为空 two columns are empty" >"$T_TMP/d.json"
is $? 0 "the buyer rejects with the CLI"
DSP=$(jq -r .id "$T_TMP/d.json")
is "$(jq -r .status "$T_TMP/d.json")" open "a dispute is open"
req GET "/v1/contracts/$K2" "" "$POOR_KEY"
is "$(jbody .state)" disputed "the contract is disputed"
refused "an arbitrator without the speciality" POST "/v1/disputes/$DSP/assign" "{\"arbitrator\":\"$LAW\"}" "$OPKEY" 400 arbitrator invalid
req POST "/v1/disputes/$DSP/assign" "{\"arbitrator\":\"$LAW\"}" "$OPKEY"
jbody .detail | grep -q "arbitration speciality"
is $? 0 "naming the rule"
refused "a party assigning" POST "/v1/disputes/$DSP/assign" "{\"arbitrator\":\"$ARB\"}" "$POOR_KEY" 403 none forbidden
"$B" --key "$OPKEY" dispute assign "$DSP" --arbitrator "$ARB" >/dev/null
is $? 0 "the operator assigns the arbitrator with the CLI"
refused "a split beyond the escrow" POST "/v1/disputes/$DSP/decision" \
    '{"decision":"split","provider_amount":1000000,"reason":"r"}' "$ARB_KEY" 400 provider_amount invalid
refused "a party deciding" POST "/v1/disputes/$DSP/decision" '{"decision":"refund","reason":"r"}' "$PROV_KEY" 403 id forbidden
PROV_BEFORE=$(balance_of "$PROV" available)
"$B" --key "$ARB_KEY" --json dispute decide "$DSP" --decision split --provider-amount 400000 \
    --reason "一半的列可用 half the columns are usable" >"$T_TMP/dd.json"
is $? 0 "the arbitrator decides a split with the CLI"
is "$(jq -r .status "$T_TMP/dd.json")" decided "decided"
req GET "/v1/contracts/$K2" "" "$POOR_KEY"
is "$(jbody .state)" resolved "the contract is resolved"
# 400000 settled: fee 10000, provider 390000; 600000 back to the buyer.
is "$(available "$POOR")" 600000 "the buyer gets the rest back"
is "$(( $(balance_of "$PROV" available) - PROV_BEFORE ))" 390000 "the provider its part less the fee"
is "$(balance_of "$POOR" escrow)" 0 "the escrow is empty"
"$B" --key "$POOR_KEY" dispute show "$DSP" | grep -q "split"
is $? 0 "dispute show"
"$B" --key "$BUYER_KEY" contract list --state settled | grep -q "$K1"
is $? 0 "contract list by state"

# --- the ledger, offline ------------------------------------------------------------------------------
stop_server
if [ "${BOURSE_TEST_PG:-0}" = 1 ]; then
    "$B" ledger check --db "$BOURSE_DB" >"$T_TMP/check.out" 2>&1
else
    "$B" ledger check --data "$T_DATA" >"$T_TMP/check.out" 2>&1
fi
is $? 0 "bourse ledger check passes"
done_testing
