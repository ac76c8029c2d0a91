#!/usr/bin/env bash
# The demand side end to end, through raw HTTP and the CLI: pricing inputs and a reference price
# with its arithmetic; listings refused with problem+json and nothing changed (not listable,
# cross-border without a certificate, bad price models and terms, duplicates, someone else's
# revision); a listing flagged far above its reference; the catalogue searched in Chinese (one,
# two and more characters) and English, with filters, facets and cursor paging; private offers
# seen only by their buyers; delisting; demands matched to listings both ways, into the
# parties' inboxes; the market method once comparables exist; a kill -9; and the demo market
# with its history: settled trades by order, negotiation and auction signed with the parties'
# saved keys, a running subscription, a dispute decided with a split, an open negotiation, an
# open auction with bids, money moved exactly, and `bourse ledger check` passing.
. "$(dirname "$0")/lib.sh"
start_server
B=$BOURSE_BIN
P=https://bourse.dev/problems/

# state: what a refused request must leave alone, as the operator sees it.
state() {
    local out=""
    for path in "/v1/events?from=0&limit=1000" "/v1/listings?status=all&limit=100" \
        "/v1/demands?limit=100"; do
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

# search QUERYSTRING [KEY]: GET /v1/listings?QUERYSTRING
search() { req GET "/v1/listings?$1" "" "${2:--}"; }
uri() { jq -rn --arg q "$1" '$q|@uri'; }

# --- parties --------------------------------------------------------------------------------------
cert() { req POST "/v1/entities/$1/certificates" "{\"type\":\"$2\"}"; [ "$STATUS" = 201 ] || bail "cert $2: $(cat "$BODY_FILE")"; }
new_entity provider '国网上海市电力公司' verify
PROV=$EID PKEY=$EKEY
cert "$PROV" data_provider
new_entity provider '北京金融大数据有限公司' verify
PROV2=$EID P2KEY=$EKEY
cert "$PROV2" data_provider
new_entity buyer '宁波银行深圳分行' verify
BANK=$EID BANKKEY=$EKEY
cert "$BANK" trading
new_entity buyer '中国工商银行上海市分行' verify
BANK2=$EID BANK2KEY=$EKEY
cert "$BANK2" trading
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

# product KEY TITLE CATEGORY KIND DESCRIPTION [listable]: registers a corporate, general
# product; with "listable", issues its operation right and has both firms sign pass reports.
# Sets PRD and REV.
product() {
    local key=$1 md q c
    md=$(jq -cn --arg t "$2" --arg c "$3" --arg k "$4" --arg d "$5" '{kind:$k, title:$t, description:$d,
      category:$c, use_cases:["信贷评估","credit scoring"], update_frequency:"monthly",
      classification:"corporate", sensitivity:"general",
      content_hash:"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      schema:[{name:"id",type:"string"}],
      source:{method:"collected", legal_basis:"contracts", processing:"aggregated",
              personal_information:{contained:false}}}')
    req POST /v1/products "$md" "$key"
    [ "$STATUS" = 201 ] || bail "register failed: $(cat "$BODY_FILE")"
    PRD=$(jbody .id) REV=$(jbody .revision.id)
    [ "${6:-}" = listable ] || return 0
    req POST /v1/rights "{\"revision_id\":\"$REV\",\"right\":\"operation\"}"
    [ "$STATUS" = 201 ] || bail "right failed: $(cat "$BODY_FILE")"
    req POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"quality\",\"firm_id\":\"$QFIRM\"}" "$key"
    q=$(jbody .id)
    req POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"compliance\",\"firm_id\":\"$CFIRM\"}" "$key"
    c=$(jbody .id)
    "$B" --key "$QFIRM_KEY" assessment submit "$q" --verdict pass --document "$T_TMP/report.pdf" \
        --signing-key "$T_TMP/QFIRM.key" >/dev/null || bail "quality report failed"
    "$B" --key "$CFIRM_KEY" assessment submit "$c" --verdict pass --document "$T_TMP/report.pdf" \
        --signing-key "$T_TMP/CFIRM.key" >/dev/null || bail "compliance report failed"
}

# listing REV PRICE_JSON [EXTRA_JQ]: a listing body, main board, one year in CN.
listing() {
    jq -cn --arg r "$1" --argjson p "$2" '{revision_id:$r, price:$p, terms:{purpose:"信贷评估 credit assessment",
      term_days:365, territory:["CN"], redistribution:"none", exclusive:false, delivery:["api","file"]}}' |
        jq -c "${3:-.}"
}
FIXED='{"model":"fixed","currency":"CNY","amount":5000000}'

# --- pricing inputs and the reference price ---------------------------------------------------------
product "$PKEY" '企业用电画像' energy dataset '基于用电数据的企业画像，供银行信贷评估。Enterprise electricity profile for bank credit.' listable
ELEC=$PRD ELEC_REV=$REV
OUT=$("$B" --key "$PKEY" --json price inputs "$ELEC" --currency CNY --collection 120000 --processing 30000 \
    --storage 10000 --labour 40000 --margin-bp 2500 --benefit 100000 --period month --periods 12 --discount-bp 100)
is $? 0 "price inputs through the CLI"
is "$(echo "$OUT" | jq .version)" 1 "inputs version 1"
refused "a negative cost" PUT "/v1/products/$ELEC/pricing-inputs" \
    '{"currency":"CNY","cost":{"collection":-1,"processing":0,"storage":0,"labour":0,"margin_bp":0}}' "$PKEY" 400 cost.collection invalid
refused "an unknown currency" PUT "/v1/products/$ELEC/pricing-inputs" '{"currency":"XYZ","income":{}}' "$PKEY" 400 currency invalid
refused "inputs of a cost overflowing" PUT "/v1/products/$ELEC/pricing-inputs" \
    '{"currency":"CNY","cost":{"collection":900000000000000,"processing":900000000000000,"storage":0,"labour":0,"margin_bp":0}}' "$PKEY" 413 none too-large
refused "another provider's product" PUT "/v1/products/$ELEC/pricing-inputs" '{"currency":"CNY","cost":{"collection":1,"processing":0,"storage":0,"labour":0,"margin_bp":0}}' "$P2KEY" 404 id not-found
req GET "/v1/products/$ELEC/reference-price" "" "$PKEY"
is "$STATUS" 200 "the reference price"
is "$(jbody .methods.cost.value)" 250000 "cost: 200000 + 25% margin"
is "$(jbody '.methods.cost.steps[0]')" "C = collection + processing + storage + labour = 120000 + 30000 + 10000 + 40000 = 200000" "with its arithmetic"
is "$(jbody .methods.income.value)" 1125508 "income: 12 months of 1000.00 at 1% a month"
is "$(jbody .methods.market.available)" false "no market yet"
is "$(jbody .methods.market.basis)" listings "comparables would be listings"
is "$(jbody .corridor.low),$(jbody .corridor.high)" 250000,1125508 "the corridor spans the methods"
OUT=$("$B" --key "$PKEY" price reference "$ELEC" --term-days 90)
is $? 0 "price reference through the CLI"
echo "$OUT" | grep -q "annuity factor 2.940985"
is $? 0 "a 90-day term discounts three months"

# --- listing refusals -------------------------------------------------------------------------------
product "$PKEY" '未评估的数据 Unassessed data' energy dataset 'not yet assessed'
UNLISTED=$REV
refused "a revision without assessments" POST /v1/listings "$(listing "$UNLISTED" "$FIXED")" "$PKEY" 409 revision_id wrong-state
req POST /v1/listings "$(listing "$UNLISTED" "$FIXED")" "$PKEY"
jbody .detail | grep -q "missing right operation, assessment compliance, assessment quality"
is $? 0 "the refusal names every missing item"
refused "the international board without a cross_border certificate" POST /v1/listings \
    "$(listing "$ELEC_REV" "$FIXED" '.board="international"')" "$PKEY" 403 board forbidden
refused "a territory beyond CN without a certificate" POST /v1/listings \
    "$(listing "$ELEC_REV" "$FIXED" '.terms.territory="worldwide"')" "$PKEY" 403 board forbidden
refused "a buyer cannot list" POST /v1/listings "$(listing "$ELEC_REV" "$FIXED")" "$BANKKEY" 403 none forbidden
refused "someone else's revision" POST /v1/listings "$(listing "$ELEC_REV" "$FIXED")" "$P2KEY" 404 revision_id not-found
refused "an unknown price model" POST /v1/listings "$(listing "$ELEC_REV" '{"model":"barter","currency":"CNY"}')" "$PKEY" 400 price.model invalid
refused "a price in no currency" POST /v1/listings "$(listing "$ELEC_REV" '{"model":"fixed","currency":"RMB","amount":1}')" "$PKEY" 400 price.currency invalid
refused "a zero price" POST /v1/listings "$(listing "$ELEC_REV" '{"model":"fixed","currency":"CNY","amount":0}')" "$PKEY" 400 price.amount invalid
refused "a floor above the ask" POST /v1/listings "$(listing "$ELEC_REV" '{"model":"negotiable","currency":"CNY","ask":100,"floor":200}')" "$PKEY" 400 price.floor invalid
refused "tiers out of order" POST /v1/listings \
    "$(listing "$ELEC_REV" '{"model":"subscription","currency":"CNY","period":"month","tiers":[{"name":"a","qps":20,"price":1},{"name":"b","qps":5,"price":2}]}')" \
    "$PKEY" 400 price.tiers invalid
SOON=$(date -u -d '+10 days' +%Y-%m-%dT%H:%M:%SZ)
refused "an auction of a non-exclusive licence" POST /v1/listings \
    "$(listing "$ELEC_REV" "{\"model\":\"auction\",\"currency\":\"CNY\",\"reserve\":100,\"deadline\":\"$SOON\"}")" "$PKEY" 400 terms.exclusive invalid
refused "an auction closing in two years" POST /v1/listings \
    "$(listing "$ELEC_REV" '{"model":"auction","currency":"CNY","reserve":100,"deadline":"2099-01-01T00:00:00Z"}' '.terms.exclusive=true')" "$PKEY" 400 price.deadline invalid
refused "a bad territory" POST /v1/listings "$(listing "$ELEC_REV" "$FIXED" '.terms.territory=["China"]')" "$PKEY" 400 terms.territory invalid
refused "no delivery mode" POST /v1/listings "$(listing "$ELEC_REV" "$FIXED" '.terms.delivery=[]')" "$PKEY" 400 terms.delivery invalid
refused "a term of eleven years" POST /v1/listings "$(listing "$ELEC_REV" "$FIXED" '.terms.term_days=4017')" "$PKEY" 400 terms.term_days invalid
refused "an unknown member" POST /v1/listings "$(listing "$ELEC_REV" "$FIXED" '.discount=5')" "$PKEY" 400 discount invalid
refused "a private offer to a provider" POST /v1/listings "$(listing "$ELEC_REV" "$FIXED" ".buyers=[\"$PROV2\"]")" "$PKEY" 400 'buyers[0]' invalid

# --- listings -------------------------------------------------------------------------------------
listing "$ELEC_REV" "$FIXED" >"$T_TMP/l1.json"
OUT=$("$B" --key "$PKEY" --json listing create --file "$T_TMP/l1.json")
is $? 0 "listing create through the CLI"
L1=$(echo "$OUT" | jq -r .id)
is "$(echo "$OUT" | jq -r .status)" active "an active listing"
is "$(echo "$OUT" | jq -c '[.reference.low, .reference.high]')" "[250000,1213374]" "it shows the reference corridor for its 13-month term"
is "$(echo "$OUT" | jq -r .price_flag)" above_reference "CNY 50,000 is over 3x the corridor: flagged"
req GET "/v1/listings/$L1" "" -
is "$STATUS" 200 "a public listing is public"
is "$(jbody .price_flag)" null "the flag is for the provider and supervisors"
is "$(jbody .headline_price)" 5000000 "the headline price"
refused "a second active listing on the board" POST /v1/listings "$(listing "$ELEC_REV" "$FIXED")" "$PKEY" 409 revision_id conflict
req POST /v1/listings "$(listing "$ELEC_REV" '{"model":"fixed","currency":"CNY","amount":3000000}' ".buyers=[\"$BANK\"] | .terms.purpose=\"宁波银行专属 private offer\"")" "$PKEY"
is "$STATUS" 201 "a private offer to one bank"
PRIV=$(jbody .id)
is "$(jbody '.buyers[0]')" "$BANK" "naming it"

product "$PKEY" '上海智慧停车数据 Shanghai smart parking data' transport dataset '4,700 garages and 890,000 parking spaces, cleansed for navigation platforms.' listable
PARK_REV=$REV
req POST /v1/listings "$(listing "$PARK_REV" '{"model":"negotiable","currency":"CNY","ask":12000000,"floor":9000000}' '.terms.delivery=["file"]')" "$PKEY"
is "$STATUS" 201 "a negotiable listing"
PARK=$(jbody .id)
req GET "/v1/listings/$PARK" "" "$BANKKEY"
is "$(jbody .price.floor)" null "the floor is hidden from buyers"
req GET "/v1/listings/$PARK" "" "$PKEY"
is "$(jbody .price.floor)" 9000000 "and shown to the provider"

product "$PKEY" '人脸比对 Face comparison API' other api '比对两张人脸图像给出相似度 compares two faces for identity verification' listable
FACE_REV=$REV
TIERS='{"model":"subscription","currency":"CNY","period":"month","tiers":[{"name":"basic","qps":5,"price":300000},{"name":"standard","qps":20,"price":800000},{"name":"pro","qps":50,"price":1900000}]}'
req POST /v1/listings "$(listing "$FACE_REV" "$TIERS" '.terms.delivery=["api"]')" "$PKEY"
is "$STATUS" 201 "a QPS-tiered subscription"
FACE=$(jbody .id)
is "$(jbody .headline_price)" 3900000 "its headline: the cheapest tier for 13 months"
is "$(jbody '.price.tiers[2].price')" 1900000 "the tiers are kept"

product "$PKEY" '全球专利数据 Global patent data' patents dataset 'USPTO and EPO patents, cleansed' listable
PAT_REV=$REV
cert "$PROV" trading
cert "$PROV" cross_border
req POST /v1/listings "$(listing "$PAT_REV" '{"model":"fixed","currency":"USD","amount":5000000}' '.board="international" | .terms.delivery=["compute"]')" "$PKEY"
is "$STATUS" 201 "with a cross_border certificate the international board takes general data"
PAT=$(jbody .id)

# --- the catalogue --------------------------------------------------------------------------------
search "q=$(uri 用电)"
is "$STATUS" 200 "anonymous search"
is "$(jbody '[.items[].title] | join(",")')" 企业用电画像 "用电 (two characters) finds 企业用电画像"
search "q=$(uri 企业用电画)"
is "$(jbody '.items[0].id')" "$L1" "a longer Chinese query finds it too"
search "q=$(uri 电)"
is "$(jbody .total),$(jbody '.items[0].id')" "4,$L1" "one character finds it (and the provider's name, 国网上海市电力公司), the title first"
search "q=$(uri '停车 parking')"
is "$(jbody '.items[0].id')" "$PARK" "a mixed Chinese and English query"
search "q=PARKING"
is "$(jbody '.items[0].id')" "$PARK" "English, case-insensitively"
search "q=$(uri 'face comparison')"
is "$(jbody '[.items[].id] | join(",")')" "$FACE" "every word must match"
search "q=$(uri 'face elephant')"
is "$(jbody .total)" 0 "a word found nowhere matches nothing"
search "q=$(uri 信贷评估)"
is "$(jbody .total)" 4 "use cases are searched"
search "q=$(uri 国网上海)"
is "$(jbody .total)" 4 "the provider's name is searched"
search "q=$(uri 能源电力)"
is "$(jbody '.items[0].id')" "$L1" "category labels are searched"
search "q=$(uri '!!!')"
is "$STATUS,$(jbody .field)" 400,q "a query with no word is refused"
search ""
is "$(jbody .total)" 4 "browsing: the four public listings"
is "$(jbody '.facets.category | map("\(.value)=\(.count)") | join(",")')" "energy=1,other=1,patents=1,transport=1" "category facets"
is "$(jbody '.facets.delivery | map("\(.value)=\(.count)") | sort | join(",")')" "api=2,compute=1,file=2" "delivery facets"
is "$(jbody '.facets.board | map("\(.value)=\(.count)") | join(",")')" "main=3,international=1" "board facets"
search "category=transport"
is "$(jbody '[.items[].id] | join(",")')" "$PARK" "filter by category"
search "kind=api"
is "$(jbody '[.items[].id] | join(",")')" "$FACE" "filter by kind"
search "board=international"
is "$(jbody '[.items[].id] | join(",")')" "$PAT" "filter by board"
search "delivery=compute"
is "$(jbody '[.items[].id] | join(",")')" "$PAT" "filter by delivery mode"
search "currency=CNY&price_min=3900000&price_max=5000000"
is "$(jbody '[.items[].id] | sort | join(",")')" "$(printf '%s\n' "$L1" "$FACE" | sort | paste -sd,)" "filter by price range"
search "price_max=100"
is "$STATUS,$(jbody .field)" 400,currency "a price range needs a currency"
search "provider=$PROV2"
is "$(jbody .total)" 0 "filter by provider"
search "classification=personal"
is "$(jbody .total)" 0 "filter by classification"
search "kind=spaceship"
is "$STATUS,$(jbody .field)" 400,kind "an unknown kind is refused"
search "limit=2"
P1=$(jbody '[.items[].id] | join(",")')
CUR=$(jbody .next_cursor)
isnt "$CUR" null "a first page of two has a cursor"
search "limit=2&cursor=$CUR"
P2=$(jbody '[.items[].id] | join(",")')
is "$(jbody .next_cursor)" null "the second page is the last"
is "$(echo "$P1,$P2" | tr , '\n' | sort -u | wc -l)" 4 "two pages hold the four listings, none twice"
search "cursor=x.y"
is "$STATUS,$(jbody .field)" 400,cursor "a malformed cursor is refused"
OUT=$("$B" listing search --query 停车)
is $? 0 "listing search through the CLI"
echo "$OUT" | grep -q "上海智慧停车数据"
is $? 0 "it prints the match"

# --- private offers -------------------------------------------------------------------------------
search "q=$(uri 企业用电)" "$BANKKEY"
is "$(jbody '[.items[].id] | sort | join(",")')" "$(printf '%s\n' "$L1" "$PRIV" | sort | paste -sd,)" "the named bank sees its private offer"
search "q=$(uri 企业用电)" "$BANK2KEY"
is "$(jbody '[.items[].id] | join(",")')" "$L1" "another bank does not"
search "q=$(uri 企业用电)"
is "$(jbody .total)" 1 "nor does an anonymous caller"
req GET "/v1/listings/$PRIV" "" "$BANK2KEY"
is "$STATUS" 404 "a private offer is not found by others"
req GET "/v1/listings/$PRIV" "" "$BANKKEY"
is "$STATUS,$(jbody .buyers)" 200,null "the named bank reads it, without the buyer list"
search "q=$(uri 企业用电)" "$OPKEY"
is "$(jbody .total)" 2 "the operator sees everything"

# --- delisting ------------------------------------------------------------------------------------
refused "another provider cannot delist" POST "/v1/listings/$PARK/delist" '{}' "$P2KEY" 403 id forbidden
OUT=$("$B" --key "$PKEY" --json listing delist "$PARK" --reason '数据源更新 source update')
is $? 0 "the provider delists"
is "$(echo "$OUT" | jq -r .status)" delisted "the listing is delisted"
refused "delisting twice" POST "/v1/listings/$PARK/delist" '{}' "$PKEY" 409 id wrong-state
search "q=parking"
is "$(jbody .total)" 0 "the catalogue no longer shows it"
search "q=parking&status=delisted"
is "$(jbody '.items[0].delist_reason')" '数据源更新 source update' "it is still on record, with the reason"
req GET "/v1/listings/$PARK" "" -
is "$(jbody .status),$(jbody .revision_id)" "delisted,$PARK_REV" "the record and its revision stay"

# --- demands and the inbox ---------------------------------------------------------------------------
DEADLINE=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
demand() { jq -cn --arg t "$1" --arg c "$2" --arg d "${3:-$DEADLINE}" '{text:$t, category:$c, purpose:"贷款审批 loan approval",
    budget:{amount:30000000, currency:"CNY"}, deadline:$d}'; }
refused "a buyer without a trading certificate" POST /v1/demands "$(demand 用电 energy)" "$NOTRADE_KEY" 403 none forbidden
refused "a provider cannot post demands" POST /v1/demands "$(demand 用电 energy)" "$PKEY" 403 none forbidden
refused "a deadline in the past" POST /v1/demands "$(demand 用电 energy 2020-01-01T00:00:00Z)" "$BANKKEY" 400 deadline invalid
refused "an unknown category" POST /v1/demands "$(demand 用电 astrology)" "$BANKKEY" 400 category invalid
refused "a budget without currency" POST /v1/demands "$(demand 用电 energy | jq -c '.budget={amount:5}')" "$BANKKEY" 400 budget.currency invalid
OUT=$("$B" --key "$BANKKEY" --json demand post --text '企业用电数据 用于小微企业贷款审批' --category energy \
    --purpose '小微企业信贷审批' --budget 30000000 --currency CNY --deadline "$DEADLINE")
is $? 0 "a bank posts a demand through the CLI"
DMD=$(echo "$OUT" | jq -r .id)
is "$(echo "$OUT" | jq .matched_listings)" 2 "matched with the public listing and its own private offer"
req GET /v1/inbox "" "$BANKKEY"
is "$(jbody '[.items[] | select(.type=="demand.match") | .subject_id] | sort | join(",")')" \
    "$(printf '%s\n' "$L1" "$PRIV" | sort | paste -sd,)" "the bank's inbox names both listings"
is "$(jbody .unread)" 2 "both unread"
NTF=$(jbody '.items[0].id')
req GET /v1/inbox "" "$PKEY"
is "$(jbody '[.items[] | select(.type=="listing.match") | .subject_id] | unique | join(",")')" "$DMD" "the provider is told of the demand"
is "$(jbody '.items[0].body.budget')" 30000000 "with its budget"
req POST "/v1/inbox/$NTF/read" "" "$PKEY"
is "$STATUS" 404 "no one reads another's notification"
OUT=$("$B" --key "$BANKKEY" --json inbox read "$NTF")
is "$(echo "$OUT" | jq .read)" true "the bank marks one read"
req GET "/v1/inbox?status=unread" "" "$BANKKEY"
is "$(jbody '.items | length'),$(jbody .unread)" 1,1 "one left unread"
req GET "/v1/demands/$DMD/matches" "" "$BANKKEY"
is "$(jbody '.items | length')" 2 "the demand's matches, ranked"
req GET "/v1/demands/$DMD/matches" "" "$PKEY"
is "$STATUS" 403 "a provider does not read a buyer's matches"
req GET "/v1/demands/$DMD" "" "$BANKKEY"
is "$(jbody '.matches | length')" 2 "the matches made are on the demand"

# A demand first, then a listing that matches it.
req POST /v1/demands "$(demand '停车场实时泊位 real-time parking availability' transport)" "$BANK2KEY"
is "$(jbody .matched_listings)" 0 "nothing matches a new demand for parking data yet"
DMD2=$(jbody .id)
product "$PKEY" '停车场实时泊位接口 Real-time parking availability API' transport api '上海公共停车场实时空余泊位' listable
req POST /v1/listings "$(listing "$REV" '{"model":"per_call","currency":"CNY","price_per_call":5,"monthly_minimum":100000}' '.terms.delivery=["api"]')" "$PKEY"
is "$(jbody .matched_demands)" 1 "a new listing matches the open demand"
LIVE=$(jbody .id)
req GET /v1/inbox "" "$BANK2KEY"
is "$(jbody '.items[0].type'),$(jbody '.items[0].subject_id')" "demand.match,$LIVE" "the bank that asked is told"
refused "only the buyer closes a demand" POST "/v1/demands/$DMD2/close" '{}' "$BANKKEY" 403 id forbidden
ok "the buyer closes it" "$B" --key "$BANK2KEY" demand close "$DMD2" --reason '已采购 bought'
refused "closing twice" POST "/v1/demands/$DMD2/close" '{}' "$BANK2KEY" 409 id wrong-state
req GET "/v1/events?from=0&limit=1000"
is "$(jbody '[.items[].type | select(startswith("demand."))] | unique | join(",")')" demand.closed,demand.matched,demand.posted "demand events are logged"
is "$(jbody '[.items[] | select(.type=="listing.created")] | length')" 6 "one event per listing"
PRIV_EV=$(jq -c --arg id "$PRIV" '.items[] | select(.type=="listing.created") | .leaf | fromjson | .body | select(.listing_id==$id)' <"$BODY_FILE")
is "$(echo "$PRIV_EV" | jq -r '.buyers_sha256 | length'),$(echo "$PRIV_EV" | jq -r .terms)" 64,null "a private offer's event hashes its buyers and terms"

# --- the market method ---------------------------------------------------------------------------
for price in 400000 420000 450000 480000 500000 9000000; do
    product "$P2KEY" "企业涉诉信息 $price" credit_inquiry api '京云征信 litigation information' listable
    req POST /v1/listings "$(listing "$REV" "{\"model\":\"fixed\",\"currency\":\"CNY\",\"amount\":$price}")" "$P2KEY"
    [ "$STATUS" = 201 ] || bail "credit listing failed: $(cat "$BODY_FILE")"
done
product "$P2KEY" '欠税公告信息 Notice of tax arrears' credit_inquiry api '京云征信 tax arrears'
req GET "/v1/products/$PRD/reference-price" "" "$P2KEY"
is "$(jbody .methods.market.available),$(jbody .methods.market.comparables)" true,6 "six comparable listings make a market"
is "$(jbody .methods.market.value)" 450000 "their median, without the outlier"
is "$(jbody .methods.market.dropped)" 1 "CNY 90,000 is dropped by the fence"
is "$(jbody .corridor.basis)" "market band (trimmed range)" "alone, the market gives the corridor"

# --- restart ---------------------------------------------------------------------------------------
kill9_server
start_server
search "q=$(uri 用电)"
is "$(jbody '.items[0].id')" "$L1" "the index survives a kill -9"

# --- the demo market --------------------------------------------------------------------------------
"$B" --key "$OPKEY" demo load >"$T_TMP/o" 2>&1
is $? 4 "demo load refuses a non-empty exchange"
mkdir "$T_TMP/taken"
req GET "/v1/entities?limit=100" "" "$OPKEY"
BEFORE=$(jq -S -c . <"$BODY_FILE")
"$B" --key "$OPKEY" demo load --force --signing-keys "$T_TMP/taken" >"$T_TMP/o" 2>&1
is $? 4 "demo load refuses a signing-key directory that exists"
grep -q "taken' exists" "$T_TMP/o"
is $? 0 "naming it"
req GET "/v1/entities?limit=100" "" "$OPKEY"
is "$(jq -S -c . <"$BODY_FILE")" "$BEFORE" "and loads nothing"
OUT=$("$B" --key "$OPKEY" --json demo load --force --keys "$T_TMP/demo-keys.json" \
    --signing-keys "$T_TMP/demo-signing")
is $? 0 "demo load --force"
is "$(echo "$OUT" | jq -c '[.entities, .products, .listings, .demands]')" "[16,10,12,4]" "a market of 16 entities, 10 products, 12 listings, 4 demands"
is "$(echo "$OUT" | jq -S -c '.history')" \
    '{"decided_disputes":1,"open_auctions":1,"open_negotiations":1,"running_subscriptions":1,"settled_contracts":3}' \
    "and a history"
search "q=$(uri 人车交互)"
is "$(jbody '.items[0].title')" "人车交互方言对话语音 Human-vehicle Dialogue Speech in Dialects" "the dialect speech data is found"
search "q=$(uri 'face comparison')"
is "$(jbody '.items[] | select(.title=="人脸比对 Face Comparison API") | .price.tiers | map("\(.qps):\(.price)") | join(",")')" \
    "5:300000,20:800000,50:1900000" "the face-comparison API is priced CNY 3,000 to 19,000 a month by QPS tier"
search "board=international&q=patent"
is "$(jbody '[.items[].currency] | unique | join(",")')" USD "patent data is on the international board"
DXM=$(jq -r '.entities[] | select(.key=="dxm") | .api_key' "$T_TMP/demo-keys.json")
req GET /v1/inbox "" "$DXM"
is "$(jbody '[.items[].type] | unique | join(",")')" demand.match "a demo bank has matches in its inbox"

# --- the demo market's history --------------------------------------------------------------------
demo() { jq -r --arg k "$1" --arg f "$2" '.entities[] | select(.key==$k) | .[$f]' "$T_TMP/demo-keys.json"; }
IDS=$(jq -c '[.entities[].id]' "$T_TMP/demo-keys.json")
# The demo parties' contracts (the market was loaded beside this test's own parties).
req GET "/v1/contracts?limit=100" "" "$OPKEY"
jq --argjson ids "$IDS" '[.items[] | select(.buyer_id as $b | $ids | index($b))]' <"$BODY_FILE" >"$T_TMP/dk.json"
is "$(jq -c '[.[] | select(.state=="settled") | .origin] | sort' "$T_TMP/dk.json")" '["auction","negotiation","order"]' \
    "settled contracts: one by order, one by negotiation, one by auction"
is "$(jq -r '[.[] | select(.plan=="periodic") | "\(.state),\(.periods),\(.price)"] | join(" ")' "$T_TMP/dk.json")" \
    "active,12,800000" "a year's subscription to the standard tier, running"
is "$(jq '[.[] | select(.state=="resolved")] | length' "$T_TMP/dk.json")" 1 "one contract resolved by a dispute"
is "$(jq 'length' "$T_TMP/dk.json")" 5 "and no other contract"

# Each party signed with the key file the load saved: openssl checks the buyer's signature of
# the fixed-price contract over the document's exact bytes with ICBC's saved public key.
K_FIXED=$(jq -r '.[] | select(.origin=="order" and .state=="settled") | .id' "$T_TMP/dk.json")
ICBC_KEY=$(demo icbc api_key)
is "$(demo icbc signing_key)" "$T_TMP/demo-signing/icbc.key" "the keys file names each party's key file"
is "$(stat -c %a "$T_TMP/demo-signing/icbc.key")" 600 "which only its owner reads"
curl -s -o "$T_TMP/kdoc.json" -H "Authorization: Bearer $ICBC_KEY" "$BOURSE_URL/v1/contracts/$K_FIXED/document"
req GET "/v1/contracts/$K_FIXED" "" "$ICBC_KEY"
is "$(jbody '.signatures[] | select(.role=="buyer") | .public_key')" "$(cat "$T_TMP/demo-signing/icbc.key.pub")" \
    "the buyer signed with its saved key"
jbody '.signatures[] | select(.role=="buyer") | .signature' | base64 -d >"$T_TMP/ksig"
{ printf '302a300506032b6570032100' | xxd -r -p; base64 -d <"$T_TMP/demo-signing/icbc.key.pub"; } |
    openssl pkey -pubin -inform DER -out "$T_TMP/icbc.pem" 2>/dev/null
openssl pkeyutl -verify -pubin -inkey "$T_TMP/icbc.pem" -rawin -in "$T_TMP/kdoc.json" -sigfile "$T_TMP/ksig" >/dev/null 2>&1
is $? 0 "openssl verifies that signature over the document"
{ printf '302e020100300506032b657004220420' | xxd -r -p; base64 -d <"$T_TMP/demo-signing/icbc.key"; } |
    openssl pkey -inform DER -pubout -outform DER 2>/dev/null | tail -c 32 | base64 >"$T_TMP/icbc.derived"
is "$(cat "$T_TMP/icbc.derived")" "$(cat "$T_TMP/demo-signing/icbc.key.pub")" "the saved secret key is that public key's"

# The negotiation left open: two offers, the buyer's turn.
req GET "/v1/negotiations?status=open&limit=100" "" "$OPKEY"
is "$(jq -r --argjson ids "$IDS" '[.items[] | select(.buyer_id as $b | $ids | index($b)) | "\(.offers),\(.turn == .buyer_id)"] | join(" ")' <"$BODY_FILE")" \
    "2,true" "one open negotiation, countered, waiting for the buyer"

# The auctions: the public one running with bids, the invited one closed at the second price.
search "q=$(uri 'Real-time Parking Availability')"
PARK=$(jbody '.items[] | select(.title=="停车场实时泊位接口 Real-time Parking Availability API") | .id')
req GET "/v1/listings/$PARK/auction" "" "$(demo navi api_key)"
is "$(jbody .status),$(jbody .bid_count),$(jbody '.bids | length'),$(jbody .winner_id)" "open,3,2,null" \
    "the parking API's auction is open with three sealed bids, the bidder seeing its own two"
AUC=$(jq -r '.[] | select(.origin=="auction") | .origin_id' "$T_TMP/dk.json")
req GET "/v1/auctions/$AUC" "" "$(demo llm api_key)"
is "$(jbody .status),$(jbody '.bids | length'),$(jbody .winner_id),$(jbody .price)" "closed,3,$(demo llm id),24500000" \
    "the speech licence's auction closed: the highest of three bids won at the second price"

# The dispute, found through the log: assigned to the arbitration centre, decided with a split.
FROM=0
: >"$T_TMP/events"
while [ "$FROM" != null ]; do
    req GET "/v1/events?from=$FROM&limit=1000" "" "$OPKEY"
    jq -c '.items[]' <"$BODY_FILE" >>"$T_TMP/events"
    FROM=$(jbody .next_from)
    [ "$(jbody '.items | length')" = 0 ] && break
done
DSP=$(jq -r 'select(.type=="dispute.decided") | .subject' "$T_TMP/events")
is "$(echo "$DSP" | wc -w)" 1 "one dispute decided"
req GET "/v1/disputes/$DSP" "" "$OPKEY"
is "$(jbody .status),$(jbody .decision),$(jbody .provider_amount),$(jbody .arbitrator_id)" \
    "decided,split,7200000,$(demo arbitration id)" "split by the arbitration centre: 60 % to the provider"

# Money, exactly: each settlement under the fee schedule the contract records.
FEE_ID=$(jq -r '.[0].fee_schedule_id' "$T_TMP/dk.json")
req GET "/v1/fee-schedules/$FEE_ID" "" "$OPKEY"
RATE=$(jbody .rate_bp) MIN=$(jbody .minimum)
fee() { local f=$(($1 * RATE / 10000)); [ "$f" -lt "$MIN" ] && f=$MIN; echo "$f"; }
avail() {
    req GET "/v1/entities/$(demo "$1" id)/accounts" "" "$OPKEY"
    jbody '[.items[] | select(.kind=="available" and .currency=="CNY") | .available][0] // 0'
}
is "$RATE,$(jq '[.[].fee_schedule_id] | unique | length' "$T_TMP/dk.json")" 250,1 "every contract records the standard schedule"
is "$(avail icbc)" $((30000000 - 18000000)) "ICBC paid the fixed price from its deposit"
is "$(avail nbcb)" $((25000000 - 17500000)) "Bank of Ningbo the negotiated price"
is "$(avail sgcc)" $((18000000 - $(fee 18000000) + 17500000 - $(fee 17500000))) "State Grid got both less the fees"
is "$(avail llm)" $((50000000 - 24500000)) "Xingyu paid the auction's second price"
# The speech corpus is built on personal data: 10 % of the price goes to its data subjects' pool.
is "$(avail speech)" $((24500000 - $(fee 24500000) - 2450000)) "the speech provider got it less the fee and the pool's share"
is "$(avail navi)" $((20000000 - 7200000)) "Tutu Navigation got back what the arbitrator did not award"
is "$(avail ssx)" $((7200000 - $(fee 7200000))) "Suishenxing the award less the fee"
is "$(avail dxm)" $((10000000 - 800000)) "Duxiaoman has one month held"

stop_server
if [ "${BOURSE_TEST_PG:-0}" = 1 ]; then
    "$B" ledger check --db "$BOURSE_DB" >"$T_TMP/check.out" 2>&1
else
    "$B" ledger check --data "$T_DATA" >"$T_TMP/check.out" 2>&1
fi
is $? 0 "bourse ledger check passes after the demo load"

done_testing
