#!/usr/bin/env bash
# The trading half end to end, through raw HTTP and the CLI: an order at the fixed listed
# price and each rule's refusal (not-qualified, self-trade, private-offer, price-outside-terms,
# exclusivity-sold) with its problem type, field and nothing changed; the same order twice
# under one Idempotency-Key makes one order; two buyers racing for one exclusive licence get
# exactly one contract; a negotiation with counter-offers accepted into a contract; and a
# sealed-bid auction with three bidders: bids hidden until the close, a late bid refused, the
# clock closing it at the deadline, the winner paying the second price, and every commitment
# in the log checked against the amounts and salts the close revealed.
. "$(dirname "$0")/lib.sh"
start_server
B=$BOURSE_BIN
P=https://bourse.dev/problems/

# state: what a refused request must leave alone, as the operator sees it.
state() {
    local out=""
    for path in "/v1/events?from=0&limit=1000" "/v1/orders?limit=100" "/v1/negotiations?limit=100"; do
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

# --- parties --------------------------------------------------------------------------------------
cert() { req POST "/v1/entities/$1/certificates" "{\"type\":\"$2\"}"; [ "$STATUS" = 201 ] || bail "cert $2: $(cat "$BODY_FILE")"; }
new_entity provider '国网上海市电力公司' verify
PROV=$EID PKEY=$EKEY
cert "$PROV" data_provider
new_entity buyer '宁波银行深圳分行' verify
BANK=$EID BANKKEY=$EKEY
cert "$BANK" trading
new_entity buyer '中国工商银行上海市分行' verify
BANK2=$EID BANK2KEY=$EKEY
cert "$BANK2" trading
new_entity buyer '招商银行 China Merchants Bank' verify
BANK3=$EID BANK3KEY=$EKEY
cert "$BANK3" trading
new_entity buyer 'No Trading Certificate Bank' verify
NOTRADE_KEY=$EKEY

firm() {
    "$B" key gen --out "$T_TMP/$3.key" >/dev/null || bail "key gen failed"
    req POST /v1/entities "$(apply_json service_firm "$1" "$(uscc_random)" "$(cat "$T_TMP/$3.key.pub")" |
        jq -c --arg s "$2" '.specialities=[$s]')" -
    [ "$STATUS" = 201 ] || bail "firm apply failed: $(cat "$BODY_FILE")"
    local id key
    id=$(jbody .id) key=$(jbody .api_key.secret)
    req POST "/v1/entities/$id/review" '{"decision":"verify"}'
    eval "$3=$id; ${3}_KEY=$key"
}
firm '上海数据质量评估中心' quality QFIRM
firm '广东广和律师事务所' compliance CFIRM
echo "报告 report" >"$T_TMP/report.pdf"

# product TITLE: a listable corporate, general product of the provider; sets REV.
product() {
    local md q c
    md=$(jq -cn --arg t "$1" '{kind:"dataset", title:$t, description:"企业画像 enterprise profile",
      category:"energy", use_cases:["信贷评估"], update_frequency:"monthly",
      classification:"corporate", sensitivity:"general",
      content_hash:"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      schema:[{name:"id",type:"string"}],
      source:{method:"collected", legal_basis:"contracts", processing:"aggregated",
              personal_information:{contained:false}}}')
    req POST /v1/products "$md" "$PKEY"
    [ "$STATUS" = 201 ] || bail "register failed: $(cat "$BODY_FILE")"
    REV=$(jbody .revision.id)
    req POST /v1/rights "{\"revision_id\":\"$REV\",\"right\":\"operation\"}"
    [ "$STATUS" = 201 ] || bail "right failed: $(cat "$BODY_FILE")"
    req POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"quality\",\"firm_id\":\"$QFIRM\"}" "$PKEY"
    q=$(jbody .id)
    req POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"compliance\",\"firm_id\":\"$CFIRM\"}" "$PKEY"
    c=$(jbody .id)
    "$B" --key "$QFIRM_KEY" assessment submit "$q" --verdict pass --document "$T_TMP/report.pdf" \
        --signing-key "$T_TMP/QFIRM.key" >/dev/null || bail "quality report failed"
    "$B" --key "$CFIRM_KEY" assessment submit "$c" --verdict pass --document "$T_TMP/report.pdf" \
        --signing-key "$T_TMP/CFIRM.key" >/dev/null || bail "compliance report failed"
}

# list TITLE PRICE_JSON [EXCLUSIVE] [EXTRA_JQ]: a new product listed; sets LST.
list() {
    product "$1"
    local body
    body=$(jq -cn --arg r "$REV" --argjson p "$2" --argjson x "${3:-false}" '{revision_id:$r, price:$p,
      terms:{purpose:"信贷评估 credit assessment", term_days:365, territory:["CN"],
             redistribution:"none", exclusive:$x, delivery:["file"]}}' | jq -c "${4:-.}")
    req POST /v1/listings "$body" "$PKEY"
    [ "$STATUS" = 201 ] || bail "listing failed: $(cat "$BODY_FILE")"
    LST=$(jbody .id)
}

# --- a fixed-price order --------------------------------------------------------------------------
list '企业用电画像' '{"model":"fixed","currency":"CNY","amount":5000000}'
FIXED=$LST
list '私有报价 Private offer' '{"model":"fixed","currency":"CNY","amount":3000000}' false ".buyers=[\"$BANK\"]"
PRIV=$LST
list '智慧停车 Smart parking' '{"model":"negotiable","currency":"CNY","ask":12000000,"floor":9000000}'
NEG=$LST

refused "a buyer without a trading certificate" POST /v1/orders "{\"listing_id\":\"$FIXED\"}" "$NOTRADE_KEY" 403 buyer not-qualified
refused "the provider buying its own listing" POST /v1/orders "{\"listing_id\":\"$FIXED\"}" "$PKEY" 403 listing_id self-trade
refused "another buyer's private offer" POST /v1/orders "{\"listing_id\":\"$PRIV\"}" "$BANK2KEY" 403 listing_id private-offer
refused "a price other than the listed one" POST /v1/orders "{\"listing_id\":\"$FIXED\",\"price\":4000000}" "$BANKKEY" 400 price price-outside-terms
refused "ordering a negotiable listing" POST /v1/orders "{\"listing_id\":\"$NEG\"}" "$BANKKEY" 400 listing_id price-outside-terms
refused "a tier on a fixed price" POST /v1/orders "{\"listing_id\":\"$FIXED\",\"tier\":\"pro\"}" "$BANKKEY" 400 tier invalid
refused "an unknown member" POST /v1/orders "{\"listing_id\":\"$FIXED\",\"discount\":1}" "$BANKKEY" 400 discount invalid
refused "no such listing" POST /v1/orders '{"listing_id":"lst_00000000000000000000"}' "$BANKKEY" 404 listing_id not-found

OUT=$("$B" --key "$BANKKEY" --json order place "$FIXED" --price 5000000 --currency CNY)
is $? 0 "order place through the CLI"
ORDER=$(echo "$OUT" | jq -r .id)
CTR=$(echo "$OUT" | jq -r .contract_id)
is "$(echo "$OUT" | jq -r .price),$(echo "$OUT" | jq -r .source)" "5000000,order" "at the listed price"
is "${CTR:0:4}" ctr_ "with a proposed contract"
req GET "/v1/contracts/$CTR" "" "$BANKKEY"
is "$STATUS,$(jbody .state),$(jbody .price)" "200,proposed,5000000" "the contract is proposed at that price"
"$B" --key "$PKEY" order show "$ORDER" | grep -q "contract: *$CTR"
is $? 0 "the provider sees the order"
req GET "/v1/orders/$ORDER" "" "$BANK2KEY"
is "$STATUS" 404 "another buyer does not"
OUT=$("$B" --key "$BANKKEY" order list)
echo "$OUT" | grep -q "$ORDER"
is $? 0 "order list"
req POST /v1/orders "{\"listing_id\":\"$PRIV\"}" "$BANKKEY"
is "$STATUS" 201 "the named buyer takes its private offer"

# --- one Idempotency-Key, one order ------------------------------------------------------------------
idem_order() {
    curl -s -o "$T_TMP/idem$1" -w '%{http_code}' -X POST -H "Authorization: Bearer $BANK2KEY" \
        -H 'Content-Type: application/json' -H 'Idempotency-Key: order-once-85' \
        --data-binary "{\"listing_id\":\"$FIXED\"}" "$BOURSE_URL/v1/orders"
}
req GET "/v1/orders?listing_id=$FIXED" "" "$OPKEY"
N0=$(jbody '.items | length')
is "$(idem_order 1),$(idem_order 2)" "201,201" "the same order twice under one key"
is "$(jq -r .id <"$T_TMP/idem1")" "$(jq -r .id <"$T_TMP/idem2")" "the replay is the same order"
req GET "/v1/orders?listing_id=$FIXED" "" "$OPKEY"
is "$(jbody '.items | length')" "$((N0 + 1))" "one order was made"

# --- two buyers racing for one exclusive licence ----------------------------------------------------
list '独家授权 Exclusive licence' '{"model":"fixed","currency":"CNY","amount":8000000}' true
EXCL=$LST
race() {
    curl -s -o "$T_TMP/race$1" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $2" \
        -H 'Content-Type: application/json' --data-binary "{\"listing_id\":\"$EXCL\"}" \
        "$BOURSE_URL/v1/orders" >"$T_TMP/race$1.status"
}
race a "$BANKKEY" &
RA=$!
race b "$BANK2KEY" &
RB=$!
race c "$BANK3KEY" &
RC=$!
wait "$RA" "$RB" "$RC"
is "$(cat "$T_TMP"/race?.status | grep -c 201)" 1 "exactly one of three racing buyers gets it"
is "$(cat "$T_TMP"/race?.status | grep -c 409)" 2 "the others are refused"
for r in a b c; do
    if [ "$(cat "$T_TMP/race$r.status")" = 409 ]; then
        is "$(jq -r .type <"$T_TMP/race$r")" "${P}exclusivity-sold" "a loser is told the licence is sold"
    fi
done
req GET "/v1/orders?listing_id=$EXCL" "" "$OPKEY"
is "$(jbody '.items | length'),$(jbody '[.items[].contract_id | select(startswith("ctr_"))] | length')" "1,1" "one order, one contract"
refused "a fourth buyer after the race" POST /v1/orders "{\"listing_id\":\"$EXCL\"}" "$BANK3KEY" 409 listing_id exclusivity-sold

# --- a negotiation with counter-offers ----------------------------------------------------------------
refused "an offer below the floor" POST /v1/negotiations "{\"listing_id\":\"$NEG\",\"price\":8000000}" "$BANKKEY" 400 price price-outside-terms
req POST /v1/negotiations "{\"listing_id\":\"$NEG\",\"price\":8000000}" "$BANKKEY"
jbody .detail | grep -q 9000000
is $? 1 "the refusal does not reveal the floor"
OUT=$("$B" --key "$BANKKEY" --json negotiation open "$NEG" --price 9500000 --purpose '贷前审查 pre-loan review')
is $? 0 "negotiation open through the CLI"
NID=$(echo "$OUT" | jq -r .id)
is "$(echo "$OUT" | jq -r .turn)" "$PROV" "the provider's turn"
refused "the buyer countering its own offer" POST "/v1/negotiations/$NID/offers" '{"price":9600000}' "$BANKKEY" 409 id wrong-state
refused "the buyer accepting its own offer" POST "/v1/negotiations/$NID/accept" "" "$BANKKEY" 409 id wrong-state
refused "a stranger's counter-offer" POST "/v1/negotiations/$NID/offers" '{"price":9600000}' "$BANK2KEY" 404 id not-found
refused "a counter-offer above the ask" POST "/v1/negotiations/$NID/offers" '{"price":13000000}' "$PKEY" 400 price price-outside-terms
req POST "/v1/negotiations/$NID/offers" '{"price":11000000,"terms":{"term_days":180}}' "$PKEY"
is "$STATUS,$(jbody .offers),$(jbody .terms.term_days)" "200,2,180" "the provider counters with a shorter term"
OUT=$("$B" --key "$BANKKEY" --json negotiation offer "$NID" --price 10000000)
is "$(echo "$OUT" | jq -r .price),$(echo "$OUT" | jq -r .turn)" "10000000,$PROV" "the buyer counters through the CLI"
OUT=$("$B" --key "$PKEY" --json negotiation accept "$NID")
is $? 0 "the provider accepts through the CLI"
is "$(echo "$OUT" | jq -r .status),$(echo "$OUT" | jq -r .order.price),$(echo "$OUT" | jq -r .order.source)" "accepted,10000000,negotiation" "an order at the agreed price"
NCTR=$(echo "$OUT" | jq -r .order.contract_id)
req GET "/v1/contracts/$NCTR" "" "$PKEY"
is "$STATUS,$(jbody .price)" "200,10000000" "its contract at the agreed price"
req GET "/v1/negotiations/$NID" "" "$BANK2KEY"
is "$STATUS" 404 "others do not see the negotiation"
OUT=$("$B" --key "$BANKKEY" negotiation show "$NID")
echo "$OUT" | grep -q "status: *accepted"
is $? 0 "negotiation show"
is "$(echo "$OUT" | grep -c "$PROV\|$BANK")" 6 "with its three offers and both parties"
req GET "/v1/events?from=0&limit=1000" "" "$OPKEY"
is "$(jq -r '[.items[] | select(.type | startswith("negotiation.")) | .leaf] | map(test("10000000|9500000|11000000")) | any' <"$BODY_FILE")" false "the log records the steps without the prices"

# --- a sealed-bid auction with three bidders ----------------------------------------------------------
# Long enough for the bids below on a loaded machine; the clock closes it at the deadline.
DEADLINE=$(date -u -d '+15 seconds' +%Y-%m-%dT%H:%M:%SZ)
list '独家语音语料 Speech corpus' "{\"model\":\"auction\",\"currency\":\"CNY\",\"reserve\":1000000,\"deadline\":\"$DEADLINE\"}" true
ALST=$LST
refused "a buyer opening the auction" POST /v1/auctions "{\"listing_id\":\"$ALST\"}" "$BANKKEY" 403 listing_id forbidden
OUT=$("$B" --key "$PKEY" --json auction open "$ALST")
is $? 0 "auction open through the CLI"
AUC=$(echo "$OUT" | jq -r .id)
is "$(echo "$OUT" | jq -r .reserve),$(echo "$OUT" | jq -r .status)" "1000000,open" "open at the listed reserve"
refused "a bid without a trading certificate" POST "/v1/auctions/$AUC/bids" '{"amount":2000000}' "$NOTRADE_KEY" 403 buyer not-qualified
refused "the provider bidding" POST "/v1/auctions/$AUC/bids" '{"amount":2000000}' "$PKEY" 403 listing_id self-trade
OUT=$("$B" --key "$BANKKEY" --json auction bid "$AUC" --amount 1500000)
is $? 0 "a bid through the CLI"
req POST "/v1/auctions/$AUC/bids" '{"amount":2500000}' "$BANK2KEY"
is "$STATUS" 201 "a second bidder"
req POST "/v1/auctions/$AUC/bids" '{"amount":1800000}' "$BANK3KEY"
is "$STATUS" 201 "a third bidder"
req POST "/v1/auctions/$AUC/bids" '{"amount":2200000}' "$BANKKEY"
is "$STATUS" 201 "the first bidder raises"
req GET "/v1/auctions/$AUC" "" "$BANK3KEY"
is "$(jbody .bid_count),$(jbody '.bids | length'),$(jbody '.bids[0].amount')" "4,1,1800000" "a bidder sees its own bid only"
req GET "/v1/listings/$ALST/auction" "" "$PKEY"
is "$(jbody .id),$(jbody '.bids | length')" "$AUC,0" "the provider sees no amounts before the close"
is "$(jbody .winner_id)" null "no winner yet"
req POST "/v1/auctions/$AUC/close" "" "$BANK3KEY"
is "$STATUS,$(jbody .type)" "409,${P}wrong-state" "no close before the deadline"
req GET "/v1/events?from=0&limit=1000" "" "$OPKEY"
is "$(jq -r '[.items[] | select(.type == "auction.bid") | .leaf | test("1500000|2500000|1800000|2200000")] | any' <"$BODY_FILE")" false "bid events carry no amounts"
# The trading clock closes it at the deadline.
for _ in $(seq 1 150); do
    req GET "/v1/auctions/$AUC" "" "$BANK3KEY"
    [ "$(jbody .status)" = closed ] && break
    sleep 0.2
done
is "$(jbody .status),$(jbody .closed_by)" "closed,trading" "closed by the clock at the deadline"
is "$(jbody .winner_id),$(jbody .price)" "$BANK2,2200000" "the highest bidder wins and pays the second price"
is "$(jbody '.bids | length')" 4 "every bid shows after the close"
AORDER=$(jbody .order_id)
req GET "/v1/orders/$AORDER" "" "$BANK2KEY"
is "$(jbody .source),$(jbody .price),$(jbody .exclusive)" "auction,2200000,true" "the winner's exclusive order"
refused "a late bid" POST "/v1/auctions/$AUC/bids" '{"amount":9000000}' "$BANK3KEY" 409 id wrong-state
OUT=$("$B" --key "$BANK3KEY" auction close "$AUC" 2>&1)
is $? 4 "closing again through the CLI is refused" # CLI_EXIT for a 409
OUT=$("$B" --key "$BANKKEY" auction show "$AUC")
echo "$OUT" | grep -q "winner: *$BANK2"
is $? 0 "auction show"
# Anyone can check every commitment against what the close revealed.
req GET "/v1/events?from=0&limit=1000" "" "$OPKEY"
jq -c '.items[] | select(.type == "auction.closed") | .leaf | fromjson | .body.bids[]' <"$BODY_FILE" >"$T_TMP/revealed"
jq -r '.items[] | select(.type == "auction.bid") | .leaf | fromjson | .body.commitment' <"$BODY_FILE" >"$T_TMP/committed"
is "$(wc -l <"$T_TMP/revealed" | tr -d ' ')" 4 "the close reveals four bids"
GOOD=0
while read -r bid; do
    sum=$(printf '%s\n%s\n%s' "$(echo "$bid" | jq -r .amount)" "$(echo "$bid" | jq -r .bidder_id)" \
        "$(echo "$bid" | jq -r .salt)" | sha256sum | cut -d' ' -f1)
    [ "$sum" = "$(echo "$bid" | jq -r .commitment)" ] && grep -qx "$sum" "$T_TMP/committed" && GOOD=$((GOOD + 1))
done <"$T_TMP/revealed"
is "$GOOD" 4 "each revealed bid matches the commitment its bid event logged"

# --- a restart keeps it all ----------------------------------------------------------------------------
kill9_server
start_server
req GET "/v1/auctions/$AUC" "" "$BANKKEY"
is "$(jbody .status),$(jbody .winner_id)" "closed,$BANK2" "after kill -9 the auction is as it closed"
req GET "/v1/negotiations/$NID" "" "$BANKKEY"
is "$(jbody .status)" accepted "and the negotiation"

done_testing
