#!/usr/bin/env bash
# Prices from cleared trades: before any contract settles, the reference price's market method
# stands on other products' listing prices and says so; once three contracts in the category
# and kind have settled, it uses their values (price * periods) and says "cleared trades" with
# how many. The price index of the category then shows this month's volume (count and sum),
# median and the base level of 10000 bp, through raw HTTP and `bourse price index`, for the
# operator and a regulator only. Refusals are problem+json naming the field, with nothing
# changed.
. "$(dirname "$0")/lib.sh"
start_server
B=$BOURSE_BIN
P=https://bourse.dev/problems/

# state: the log, the contracts and the ledger as the operator sees them.
state() {
    local out=""
    for path in "/v1/events?from=0&limit=1000" "/v1/contracts?limit=100"; do
        req GET "$path" "" "$OPKEY"
        out="$out$(jq -S -c . <"$BODY_FILE")"
    done
    echo "$out"
}

# refused DESC PATH KEY STATUS FIELD TYPE: a GET that is refused and changes nothing.
refused() {
    local desc=$1 path=$2 key=$3 status=$4 field=$5 type=$6 before after
    before=$(state)
    req GET "$path" "" "$key"
    is "$STATUS" "$status" "$desc: status $status"
    is "$(jbody '.field // "none"')" "$field" "$desc: field"
    is "$(jbody .type)" "$P$type" "$desc: problem type"
    after=$(state)
    is "$after" "$before" "$desc: nothing changed"
}

# party KIND NAME VAR [SPECIALITY]: a verified entity with key file $T_TMP/VAR.key; sets VAR
# and VAR_KEY.
party() {
    local body pk id key
    pk=$(new_pubkey "$3")
    body=$(apply_json "$1" "$2" "$(uscc_random)" "$pk")
    [ -n "${4:-}" ] && body=$(echo "$body" | jq -c --arg s "$4" '.specialities=[$s]')
    req POST /v1/entities "$body" -
    [ "$STATUS" = 201 ] || bail "apply failed: $(cat "$BODY_FILE")"
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
party regulator '上海市数据局' REG
party service_firm '上海数据质量评估中心' QFIRM quality
party service_firm '广东广和律师事务所' CFIRM compliance

echo "报告 report" >"$T_TMP/report.pdf"
# listed TITLE AMOUNT: a listable energy dataset listed at a fixed price; sets LST and PRD.
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
    PRD=$(jbody .id) rev=$(jbody .revision.id)
    req POST /v1/rights "{\"revision_id\":\"$rev\",\"right\":\"operation\"}"
    req POST /v1/assessments "{\"revision_id\":\"$rev\",\"kind\":\"quality\",\"firm_id\":\"$QFIRM\"}" "$PROV_KEY"
    q=$(jbody .id)
    req POST /v1/assessments "{\"revision_id\":\"$rev\",\"kind\":\"compliance\",\"firm_id\":\"$CFIRM\"}" "$PROV_KEY"
    c=$(jbody .id)
    "$B" --key "$QFIRM_KEY" assessment submit "$q" --verdict pass --document "$T_TMP/report.pdf" \
        --signing-key "$T_TMP/QFIRM.key" >/dev/null || bail "quality report failed"
    "$B" --key "$CFIRM_KEY" assessment submit "$c" --verdict pass --document "$T_TMP/report.pdf" \
        --signing-key "$T_TMP/CFIRM.key" >/dev/null || bail "compliance report failed"
    req POST /v1/listings "$(jq -cn --arg r "$rev" --argjson a "$2" '{revision_id:$r,
      price:{model:"fixed", currency:"CNY", amount:$a},
      terms:{purpose:"信贷评估 credit assessment", term_days:365, territory:["CN"],
      redistribution:"none", exclusive:false, delivery:["file"]}}')" "$PROV_KEY"
    [ "$STATUS" = 201 ] || bail "listing failed: $(cat "$BODY_FILE")"
    LST=$(jbody .id)
}
listed '企业用电画像 priced' 1000000
PRICED=$PRD
LISTINGS=()
for t in A B C; do
    listed "企业用电画像 $t" 1000000
    LISTINGS+=("$LST")
done

# --- before any trade: listing prices ----------------------------------------------------------
req GET "/v1/products/$PRICED/reference-price?currency=CNY" "" "$PROV_KEY"
is "$STATUS" 200 "a reference price before any trade"
is "$(jbody .methods.market.basis)" listings "the market method stands on listing prices"
is "$(jbody .methods.market.comparables)" 3 "three of them"
is "$(jbody .methods.market.cleared_trades)" 0 "and says no trade has cleared"
is "$(jbody .methods.market.value)" 1000000 "their median"

# --- three contracts settle, at 800000, 900000 and 9500000 (an outlier) ------------------------
req POST /v1/ledger/deposits "{\"entity\":\"$BUYER\",\"currency\":\"CNY\",\"amount\":20000000,\"reference\":\"ICBC-1\"}"
[ "$STATUS" = 201 ] || bail "deposit: $(cat "$BODY_FILE")"
echo "the delivered data" >"$T_TMP/data.csv"
PRICES=(800000 900000 9500000)
for i in 0 1 2; do
    body=$(jq -cn --arg l "${LISTINGS[$i]}" --arg b "$BUYER" --argjson p "${PRICES[$i]}" \
        '{listing_id:$l, buyer_id:$b, origin:"order", origin_id:"ord_aaaaaaaaaaaaaaaaaaaa",
          price:$p, currency:"CNY"}')
    req POST /v1/contracts "$body"
    [ "$STATUS" = 201 ] || bail "contract: $(cat "$BODY_FILE")"
    K=$(jbody .id)
    if [ "$i" = 1 ]; then
        req GET "/v1/products/$PRICED/reference-price?currency=CNY" "" "$PROV_KEY"
        is "$(jbody .methods.market.cleared_trades)" 1 "one settled trade is counted"
        is "$(jbody .methods.market.basis)" listings "but too few: listings still stand in"
    fi
    "$B" --key "$BUYER_KEY" contract sign "$K" --signing-key "$T_TMP/BUYER.key" >/dev/null || bail "buyer sign"
    "$B" --key "$PROV_KEY" contract sign "$K" --signing-key "$T_TMP/PROV.key" >/dev/null || bail "provider sign"
    "$B" --key "$PROV_KEY" contract deliver "$K" --file "$T_TMP/data.csv" >/dev/null || bail "deliver"
    req POST "/v1/contracts/$K/accept" "" "$BUYER_KEY"
    [ "$STATUS" = 200 ] || bail "accept: $(cat "$BODY_FILE")"
    req GET "/v1/contracts/$K" "" "$BUYER_KEY"
    is "$(jbody .state)" settled "contract $((i + 1)) settled"
done
# A fourth contract on the priced product itself, signed but never settled, counts nowhere.
body=$(jq -cn --arg l "$LST" --arg b "$BUYER" '{listing_id:$l, buyer_id:$b, origin:"order",
    origin_id:"ord_aaaaaaaaaaaaaaaaaaaa", price:100, currency:"CNY"}')
req POST /v1/contracts "$body"
is "$STATUS" 201 "an unsettled contract"

req GET "/v1/products/$PRICED/reference-price?currency=CNY" "" "$PROV_KEY"
is "$(jbody .methods.market.basis)" "cleared trades" "after three settle, the market method uses cleared trades"
is "$(jbody .methods.market.comparables)" 3 "all three"
is "$(jbody .methods.market.cleared_trades)" 3 "and counts them"
# Sorted 800000 900000 9500000: Q1 = 800000, Q3 = 9500000; nothing falls outside the wide
# fences of three values, so the median 900000 is the market price, not the mean 3733333.
is "$(jbody .methods.market.value)" 900000 "their median, not their mean"
jbody '.methods.market.steps[0]' | grep -q "3 comparable cleared trades"
is $? 0 "the arithmetic names its basis"
"$B" --key "$PROV_KEY" price reference "$PRICED" --currency CNY >"$T_TMP/ref.txt"
grep -q "cleared trades" "$T_TMP/ref.txt"
is $? 0 "bourse price reference shows the basis"

# --- the price index ----------------------------------------------------------------------------
MONTH=$(date -u +%Y-%m-01T00:00:00.000Z)
req GET "/v1/price-index?category=energy&currency=CNY&period=month&periods=3"
is "$STATUS" 200 "the operator reads the price index"
is "$(jbody '.periods | length')" 3 "three monthly periods"
is "$(jbody '.periods[2].start')" "$MONTH" "ending with this month"
is "$(jbody '.periods[2].count')" 3 "this month's volume: three trades"
is "$(jbody '.periods[2].sum')" 11200000 "worth 800000 + 900000 + 9500000"
is "$(jbody '.periods[2].median')" 900000 "at a median of 900000"
is "$(jbody '.periods[2].index_bp')" 10000 "the base period stands at 10000 bp"
is "$(jbody '.periods[0].count')" 0 "an earlier month without trades"
is "$(jbody '.periods[0].index_bp')" null "has no index"
is "$(jbody .base_start)" "$MONTH" "the base is this month"
is "$(jbody .trades)" 3 "three trades in all"
req GET "/v1/price-index?category=energy&kind=api" "" "$REG_KEY"
is "$STATUS" 200 "a regulator reads it too"
is "$(jbody .trades)" 0 "no API trades"
is "$(jbody .base_start)" null "so no base"
is "$(jbody '.periods | length')" 12 "twelve months by default"
req GET "/v1/price-index?category=energy&period=year&periods=1" "" "$REG_KEY"
is "$(jbody '.periods[0].start')" "$(date -u +%Y)-01-01T00:00:00.000Z" "a yearly period starts in January"
is "$(jbody '.periods[0].count')" 3 "and holds the year's trades"
"$B" --key "$OPKEY" price index --category energy --periods 2 >"$T_TMP/idx.txt"
is $? 0 "bourse price index"
grep -E "^${MONTH:0:7} +3 +112000.00 +9000.00 +10000$" "$T_TMP/idx.txt" >/dev/null
is $? 0 "prints this month's row: trades, total, median, index"
"$B" --key "$OPKEY" --json price index --category energy --periods 2 | jq -e '.periods[1].count == 3' >/dev/null
is $? 0 "and its JSON with --json"

refused "a buyer asking for the index" "/v1/price-index?category=energy" "$BUYER_KEY" 403 none forbidden
refused "an anonymous caller" "/v1/price-index?category=energy" - 401 Authorization unauthorized
refused "no category" "/v1/price-index" "$OPKEY" 400 category invalid
refused "an unknown category" "/v1/price-index?category=weather" "$OPKEY" 400 category invalid
refused "an unknown kind" "/v1/price-index?category=energy&kind=film" "$OPKEY" 400 kind invalid
refused "a bad currency" "/v1/price-index?category=energy&currency=cny" "$OPKEY" 400 currency invalid
refused "a weekly period" "/v1/price-index?category=energy&period=week" "$OPKEY" 400 period invalid
refused "zero periods" "/v1/price-index?category=energy&periods=0" "$OPKEY" 400 periods invalid
refused "too many periods" "/v1/price-index?category=energy&periods=121" "$OPKEY" 400 periods invalid
refused "an unknown parameter" "/v1/price-index?category=energy&from=2020" "$OPKEY" 400 from invalid
"$B" --key "$OPKEY" price index --category energy --period week >/dev/null 2>&1
isnt $? 0 "the CLI refuses a weekly period"
done_testing
