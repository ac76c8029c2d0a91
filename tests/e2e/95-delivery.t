#!/usr/bin/env bash
# Fingerprinted delivery end to end (issue #6, "done when"): a provider uploads a CSV with a
# tolerance declaration; two buyers order it, sign locally, and each downloads its own copy with
# `bourse download` (checksum verified). The copies differ from each other and from the original
# only in declared cells; the log's delivery.downloaded carries each copy's hash and the contract
# records it, so the buyer's acceptance settles on it. The operator traces a damaged copy of
# buyer 1 (half its rows deleted, a tenth of marked values altered, rows shuffled, converted to
# JSON Lines) and names buyer 1's contract within the bound, not buyer 2's; the original and a
# file from no buyer name nobody; an opaque file's exact copy names its contract. Refusals: a
# declaration after a copy exists, a bad declaration, a download after settlement or a dispute,
# a trace by a buyer; tokens expired, revoked, presented with another buyer's key, asked for
# another buyer's contract, another revision's object or a contract not (or no longer)
# delivering, and a dispute resolved by refund; each with its problem and nothing changed.
. "$(dirname "$0")/lib.sh"
start_server
B=$BOURSE_BIN
P=https://bourse.dev/problems/

state() {
    req GET "/v1/events?from=0&limit=1000" "" "$OPKEY"
    jq -S -c '[.items[] | .type]' <"$BODY_FILE"
    find "$T_DATA/objects" -type f | sort
}
refused() {
    local desc=$1 status=$2 field=$3 type=$4 before after
    shift 4
    before=$(state)
    "$@"
    is "$STATUS" "$status" "$desc: status $status"
    is "$(jbody '.field // "none"')" "$field" "$desc: field"
    is "$(jbody .type)" "$P$type" "$desc: problem type"
    after=$(state)
    is "$after" "$before" "$desc: nothing changed"
}

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
party buyer '宁波银行深圳分行' BUY1
cert "$BUY1" trading
party buyer '中国工商银行上海市分行' BUY2
cert "$BUY2" trading
party regulator '上海市数据局' REG
party service_firm '上海数据质量评估中心' QFIRM quality
party service_firm '广东广和律师事务所' CFIRM compliance
party service_firm '上海仲裁委员会' ARB arbitration
echo "报告 report" >"$T_TMP/report.pdf"
req POST /v1/fee-schedules '{"name":"standard","kind":"percentage","currency":"CNY","rate_bp":250,"minimum":100}'
[ "$STATUS" = 201 ] || bail "fee schedule: $(cat "$BODY_FILE")"
for b in "$BUY1" "$BUY2"; do
    req POST /v1/ledger/deposits "{\"entity\":\"$b\",\"currency\":\"CNY\",\"amount\":30000000,\"reference\":\"D-$b\"}"
    [ "$STATUS" = 201 ] || bail "deposit: $(cat "$BODY_FILE")"
done

# listed TITLE: a listed file product; sets REV, PRD and LST.
listed() {
    local md q c
    md=$(jq -cn --arg t "$1" '{kind:"dataset", title:$t, description:"企业用电数据",
      category:"energy", use_cases:["信贷评估"], update_frequency:"monthly",
      classification:"corporate", sensitivity:"general",
      content_hash:"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      schema:[{name:"id",type:"string"}],
      source:{method:"collected", legal_basis:"contracts", processing:"aggregated",
              personal_information:{contained:false}}}')
    req POST /v1/products "$md" "$PROV_KEY"
    [ "$STATUS" = 201 ] || bail "register failed: $(cat "$BODY_FILE")"
    PRD=$(jbody .id) REV=$(jbody .revision.id)
    req POST /v1/rights "{\"revision_id\":\"$REV\",\"right\":\"operation\"}"
    req POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"quality\",\"firm_id\":\"$QFIRM\"}" "$PROV_KEY"
    q=$(jbody .id)
    req POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"compliance\",\"firm_id\":\"$CFIRM\"}" "$PROV_KEY"
    c=$(jbody .id)
    "$B" --key "$QFIRM_KEY" assessment submit "$q" --verdict pass --document "$T_TMP/report.pdf" \
        --signing-key "$T_TMP/QFIRM.key" >/dev/null || bail "quality report failed"
    "$B" --key "$CFIRM_KEY" assessment submit "$c" --verdict pass --document "$T_TMP/report.pdf" \
        --signing-key "$T_TMP/CFIRM.key" >/dev/null || bail "compliance report failed"
    req POST /v1/listings "$(jq -cn --arg r "$REV" '{revision_id:$r,
      price:{model:"fixed",currency:"CNY",amount:1000000},
      terms:{purpose:"信贷评估 credit assessment", term_days:365, territory:["CN"],
      redistribution:"none", exclusive:false, delivery:["file"]}}')" "$PROV_KEY"
    [ "$STATUS" = 201 ] || bail "listing failed: $(cat "$BODY_FILE")"
    LST=$(jbody .id)
}

# buy KEYVAR: the buyer orders LST, both sign locally; prints the active contract's id.
buy() {
    local key=${1}_KEY out ctr
    out=$("$B" --key "${!key}" --json order place "$LST") || bail "order failed: $out"
    ctr=$(echo "$out" | jq -r .contract_id)
    "$B" --key "${!key}" contract sign "$ctr" --signing-key "$T_TMP/$1.key" >/dev/null || bail "buyer sign"
    "$B" --key "$PROV_KEY" contract sign "$ctr" --signing-key "$T_TMP/PROV.key" >/dev/null || bail "provider sign"
    echo "$ctr"
}

# fetch KEYVAR CONTRACT OUT: a token and `bourse download`; sets TOKEN.
fetch() {
    local key=${1}_KEY
    TOKEN=$("$B" --key "${!key}" --json download-token create "$2" | jq -r .secret)
    "$B" --key "${!key}" download "$TOKEN" -o "$3" >"$T_TMP/dl.out" 2>&1
}

# --- the dataset, uploaded and declared --------------------------------------------------------------
listed '企业用电画像'
F=$T_TMP/usage.csv
python3 - "$F" <<'PY'
import random, sys
r = random.Random(7)
with open(sys.argv[1], "w") as f:
    f.write("meter_id,day,kwh,peak_kw,district\n")
    for i in range(6000):
        f.write("M%05d,2026-%02d-%02d,%d.%02d,%d.%d,%s\n" % (i, i % 12 + 1, i % 28 + 1,
                r.randint(10, 9999), r.randint(0, 99), r.randint(1, 500), r.randint(0, 9),
                r.choice(["Pudong Road", "Xuhui Rd.", "Minhang Road", "Jingan Rd."])))
PY
SHA=$(sha256sum "$F" | cut -d' ' -f1)
OUT=$("$B" --key "$PROV_KEY" --json upload "$F" --product "$PRD")
is $? 0 "the provider uploads the CSV"
OBJ=$(echo "$OUT" | jq -r .id)
is "$(echo "$OUT" | jq -r .format)" csv "stored as csv"
cat >"$T_TMP/decl.json" <<'J'
{"key": ["meter_id", "day"],
 "columns": [{"name": "kwh", "kind": "digit", "decimals": 2},
             {"name": "peak_kw", "kind": "digit", "decimals": 1},
             {"name": "district", "kind": "spelling", "variants": [["Road", "Rd."]]}]}
J
refused "a declaration naming no such column" 400 key invalid \
    req PUT "/v1/objects/$OBJ/fingerprint" '{"key":["nope"],"columns":[{"name":"kwh","kind":"digit"}]}' "$PROV_KEY"
refused "a declaration with an unknown kind" 400 'columns[0].kind' invalid \
    req PUT "/v1/objects/$OBJ/fingerprint" '{"columns":[{"name":"kwh","kind":"colour"}]}' "$PROV_KEY"
refused "a declaration by a buyer" 404 id not-found \
    req PUT "/v1/objects/$OBJ/fingerprint" "$(cat "$T_TMP/decl.json")" "$BUY1_KEY"
OUT=$("$B" --key "$PROV_KEY" --json object fingerprint "$OBJ" "$T_TMP/decl.json")
is $? 0 "the provider declares the tolerance with the CLI"
ok "with a code length chosen" test "$(echo "$OUT" | jq -r .code_length)" -ge 256
req GET "/v1/events?from=0&limit=1000" "" "$OPKEY"
is "$(jbody '[.items[] | select(.type == "object.fingerprint_declared")] | length')" 1 "event object.fingerprint_declared"

# --- two buyers, two copies ------------------------------------------------------------------------------
K1=$(buy BUY1)
K2=$(buy BUY2)
# A token of the shortest life (60 s), checked once it has expired at the end of the script.
req POST "/v1/contracts/$K2/download-tokens" '{"ttl_seconds":60}' "$BUY2_KEY"
is "$STATUS" 201 "a one-minute token"
SHORT=$(jbody .secret) SHORT_DONE=$(($(date +%s) + 62))
req GET "/v1/contracts/$K1" "" "$BUY1_KEY"
is "$(jbody .state)" active "buyer 1's contract is active"
fetch BUY1 "$K1" "$T_TMP/copy1.csv"
is $? 0 "buyer 1 downloads with bourse download (checksum verified)"
TOK1=$TOKEN
fetch BUY2 "$K2" "$T_TMP/copy2.csv"
is $? 0 "buyer 2 downloads"
S1=$(sha256sum "$T_TMP/copy1.csv" | cut -d' ' -f1)
S2=$(sha256sum "$T_TMP/copy2.csv" | cut -d' ' -f1)
isnt "$S1" "$S2" "the two copies differ"
isnt "$S1" "$SHA" "and differ from the original"
python3 - "$F" "$T_TMP/copy1.csv" "$T_TMP/copy2.csv" >"$T_TMP/diff.out" <<'PY'
import csv, sys
orig = list(csv.reader(open(sys.argv[1])))
bad = changed = 0
for path in sys.argv[2:]:
    rows = list(csv.reader(open(path)))
    assert len(rows) == len(orig)
    for a, b in zip(orig, rows):
        for j, (x, y) in enumerate(zip(a, b)):
            if x != y:
                changed += 1
                if j in (0, 1):
                    bad += 1
                elif j in (2, 3) and abs(float(x) - float(y)) > (0.011 if j == 2 else 0.11):
                    bad += 1
                elif j == 4 and x.replace("Rd.", "Road") != y.replace("Rd.", "Road"):
                    bad += 1
print(bad, changed > 100)
PY
is "$(cat "$T_TMP/diff.out")" "0 True" "the copies differ only in declared cells, within tolerance"
"$B" --key "$BUY1_KEY" download "$TOK1" -o "$T_TMP/copy1b.csv" >/dev/null 2>&1
ok "a second download serves the same copy" cmp "$T_TMP/copy1.csv" "$T_TMP/copy1b.csv"
refused "buyer 1's token with buyer 2's API key" 403 token download-token-foreign \
    req GET "/v1/downloads/$TOK1" "" "$BUY2_KEY"
refused "a token on buyer 2's contract asked by buyer 1" 404 id not-found \
    req POST "/v1/contracts/$K2/download-tokens" '{}' "$BUY1_KEY"
req POST "/v1/contracts/$K2/download-tokens" '{}' "$BUY2_KEY"
RTOK=$(jbody .id) RSECRET=$(jbody .secret)
refused "revoking another buyer's token" 404 id not-found req DELETE "/v1/download-tokens/$RTOK" "" "$BUY1_KEY"
req DELETE "/v1/download-tokens/$RTOK" "" "$BUY2_KEY"
is "$STATUS,$(jbody '.revoked_at != null')" "200,true" "buyer 2 revokes a token"
refused "a revoked token" 403 token download-token-revoked req GET "/v1/downloads/$RSECRET" "" -
refused "revoking it again" 409 id wrong-state req DELETE "/v1/download-tokens/$RTOK" "" "$BUY2_KEY"
STATUS=$(curl -s -o "$T_TMP/part" -w '%{http_code}' -H 'Range: bytes=100-199' "$BOURSE_URL/v1/downloads/$TOK1")
is "$STATUS" 206 "a Range request on the copy"
ok "serves the copy's bytes" cmp "$T_TMP/part" <(tail -c +101 "$T_TMP/copy1.csv" | head -c 100)
req GET "/v1/events?from=0&limit=1000" "" "$OPKEY"
is "$(jq -r --arg k "$K1" '[.items[] | select(.type == "delivery.downloaded" and .subject == $k) | .leaf | fromjson | .body.sha256] | unique | join(",")' <"$BODY_FILE")" "$S1" "delivery.downloaded carries the copy's hash"
is "$(jbody '[.items[] | select(.type == "delivery.copy_made")] | length')" 2 "one copy made per contract"
req GET "/v1/contracts/$K1" "" "$BUY1_KEY"
is "$(jbody .state)" delivered "the contract records the delivery"
refused "a declaration after a copy exists" 409 object_id wrong-state \
    req PUT "/v1/objects/$OBJ/fingerprint" "$(cat "$T_TMP/decl.json")" "$PROV_KEY"
"$B" --key "$BUY1_KEY" contract accept "$K1" >/dev/null 2>&1 || req POST "/v1/contracts/$K1/accept" "" "$BUY1_KEY"
req GET "/v1/contracts/$K1" "" "$BUY1_KEY"
is "$(jbody .state)" settled "buyer 1 accepts the delivery and the contract settles"
refused "a download after the contract settled" 409 contract contract-not-deliverable \
    req GET "/v1/downloads/$TOK1" "" -
refused "a new token after the contract settled" 409 contract wrong-state \
    req POST "/v1/contracts/$K1/download-tokens" '{}' "$BUY1_KEY"

# --- traces --------------------------------------------------------------------------------------------------
python3 - "$T_TMP/copy1.csv" "$T_TMP/leak.jsonl" <<'PY'
import csv, json, random, sys
r = random.Random(11)
rows = list(csv.DictReader(open(sys.argv[1])))
rows = [x for x in rows if r.random() < 0.5]             # delete half the rows
for x in rows:                                           # alter a tenth of marked values
    if r.random() < 0.1:
        v = x["kwh"]; x["kwh"] = v[:-1] + str((int(v[-1]) + r.randint(1, 9)) % 10)
    if r.random() < 0.1:
        v = x["peak_kw"]; x["peak_kw"] = v[:-1] + str((int(v[-1]) + r.randint(1, 9)) % 10)
    if r.random() < 0.1:
        x["district"] = x["district"].replace("Rd.", "Road") if "Rd." in x["district"] else x["district"].replace("Road", "Rd.")
r.shuffle(rows)
with open(sys.argv[2], "w") as f:
    for x in rows:
        f.write(json.dumps({k: x[k] for k in ["district", "peak_kw", "kwh", "day", "meter_id"]}) + "\n")
PY
OUT=$("$B" --key "$OPKEY" --json trace "$T_TMP/leak.jsonl")
is $? 0 "the operator traces a damaged partial copy"
is "$(echo "$OUT" | jq -r '[.named[].contract_id] | join(",")')" "$K1" "naming buyer 1's contract only"
ok "with a false-accusation probability within 1e-9" python3 -c "import sys; sys.exit(not ($(echo "$OUT" | jq -r '.named[0].false_accusation') <= 1e-9))"
"$B" --key "$OPKEY" trace "$T_TMP/leak.jsonl" | grep -q "$K1"
is $? 0 "the CLI prints the table"
OUT=$("$B" --key "$REG_KEY" --json trace "$F")
is "$(echo "$OUT" | jq -r '.named | length')" 0 "a regulator traces the original: nobody named"
is "$(echo "$OUT" | jq -r '.originals[0]')" "$OBJ" "recognised as the provider's object"
python3 - "$F" "$T_TMP/other.csv" <<'PY'
import random, sys
r = random.Random(99)
lines = open(sys.argv[1]).read().splitlines()
out = [lines[0]]
for l in lines[1:]:
    c = l.split(",")
    c[2] = c[2][:-1] + str(r.randint(0, 9)); c[3] = c[3][:-1] + str(r.randint(0, 9))
    out.append(",".join(c))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
OUT=$("$B" --key "$OPKEY" --json trace "$T_TMP/other.csv" --object "$OBJ")
is "$(echo "$OUT" | jq -r '.named | length')" 0 "a file from no buyer: nobody named"
is "$("$B" --key "$OPKEY" trace "$T_TMP/other.csv" | grep -c 'no buyer can be named')" 1 "and the CLI says so"
refused "a trace by a buyer" 403 none forbidden \
    eval 'STATUS=$(curl -s -o "$BODY_FILE" -w "%{http_code}" -X POST -H "Authorization: Bearer $BUY2_KEY" --data-binary "@$T_TMP/leak.jsonl" "$BOURSE_URL/v1/traces")'
"$B" --key "$BUY2_KEY" trace "$T_TMP/leak.jsonl" >/dev/null 2>&1
isnt $? 0 "bourse trace by a buyer fails"
req GET "/v1/events?from=0&limit=1000" "" "$OPKEY"
is "$(jbody '[.items[] | select(.type == "trace.performed")] | length')" 5 "each trace is logged"
is "$(jbody '[.items[] | select(.type == "trace.performed")][0].leaf | fromjson | .body.sha256')" "$(sha256sum "$T_TMP/leak.jsonl" | cut -d' ' -f1)" "with the file's SHA-256"

# --- an opaque file: recognised by its exact copy ----------------------------------------------------------
listed '电力报告 report'
head -c 50000 /dev/urandom >"$T_TMP/report.bin"
OUT=$("$B" --key "$PROV_KEY" --json upload "$T_TMP/report.bin" --product "$PRD")
OBJ2=$(echo "$OUT" | jq -r .id)
is "$(echo "$OUT" | jq -r .format)" opaque "an opaque object"
refused "a declaration on an opaque object" 400 format invalid \
    req PUT "/v1/objects/$OBJ2/fingerprint" "$(cat "$T_TMP/decl.json")" "$PROV_KEY"
K3=$(buy BUY2)
refused "a token for an object of another revision" 400 object_id invalid \
    req POST "/v1/contracts/$K3/download-tokens" "{\"object_id\":\"$OBJ\"}" "$BUY2_KEY"
UNSIGNED=$("$B" --key "$BUY1_KEY" --json order place "$LST" | jq -r .contract_id)
refused "a token for a contract not yet signed" 409 contract wrong-state \
    req POST "/v1/contracts/$UNSIGNED/download-tokens" '{}' "$BUY1_KEY"
fetch BUY2 "$K3" "$T_TMP/report.got"
ok "the opaque file is served as is" cmp "$T_TMP/report.got" "$T_TMP/report.bin"
OUT=$("$B" --key "$OPKEY" --json trace "$T_TMP/report.got")
is "$(echo "$OUT" | jq -r '[.named[] | .contract_id + ":" + .match] | join(",")')" "$K3:exact" "its exact copy names its contract"
K4=$(buy BUY1)
TOKEN=$("$B" --key "$BUY1_KEY" --json download-token create "$K4" | jq -r .secret)
req POST "/v1/contracts/$K4/disputes" '{"statement":"the report is not what was described"}' "$BUY1_KEY"
is "$STATUS" 201 "buyer 1 opens a dispute"
DSP=$(jbody .id)
refused "a download after the contract went to dispute" 409 contract contract-not-deliverable \
    req GET "/v1/downloads/$TOKEN" "" -
req POST "/v1/disputes/$DSP/assign" "{\"arbitrator\":\"$ARB\"}"
is "$STATUS" 200 "the operator assigns an arbitrator"
req POST "/v1/disputes/$DSP/decision" '{"decision":"refund","reason":"not as described"}' "$ARB_KEY"
is "$STATUS" 200 "who refunds the buyer"
req GET "/v1/contracts/$K4" "" "$BUY1_KEY"
is "$(jbody .state)" resolved "the contract is resolved"
refused "a download after the refund" 409 contract contract-not-deliverable req GET "/v1/downloads/$TOKEN" "" -
refused "a new token after the refund" 409 contract wrong-state \
    req POST "/v1/contracts/$K4/download-tokens" '{}' "$BUY1_KEY"

# --- the one-minute token, expired ---------------------------------------------------------------------------
while [ "$(date +%s)" -lt "$SHORT_DONE" ]; do sleep 1; done
refused "an expired token" 403 token download-token-expired req GET "/v1/downloads/$SHORT" "" -

done_testing
