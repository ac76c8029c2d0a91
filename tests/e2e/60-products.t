#!/usr/bin/env bash
# The supply side end to end, through raw HTTP and the CLI: a verified provider with a
# data_provider certificate registers a product (Chinese text, a CSV sample checked by the
# exchange, a content hash computed locally), revises it, gets signed rights certificates
# (checked here with openssl, independently of Bourse), licenses, pledges, releases and
# transfers them; the operator sets the listing policy; service firms sign their reports with
# their own keys and the revision becomes listable. Every refusal is checked for its
# problem+json and for having changed nothing.
. "$(dirname "$0")/lib.sh"
start_server
B=$BOURSE_BIN
P=https://bourse.dev/problems/

# state: everything a refused request must leave alone, as the operator sees it.
state() {
    local out=""
    for path in "/v1/events?from=0&limit=1000" "/v1/products?limit=100" "/v1/rights?limit=100" \
        "/v1/assessments?limit=100" "/v1/policy/listing"; do
        req GET "$path" "" "$OPKEY"
        out="$out$(jq -S -c . <"$BODY_FILE")"
    done
    echo "$out"
}

# refused DESC METHOD PATH BODY KEY STATUS FIELD TYPE: the request is answered with that
# problem and changes nothing.
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

# --- parties ------------------------------------------------------------------------------------
new_entity provider '国网电力数据服务有限公司' verify
PROV=$EID PKEY=$EKEY
req POST "/v1/entities/$PROV/certificates" '{"type":"data_provider"}'
is "$STATUS" 201 "provider gets a data_provider certificate"
new_entity provider '衍生数据公司' verify
PROV3=$EID P3KEY=$EKEY
req POST "/v1/entities/$PROV3/certificates" '{"type":"data_provider"}'
new_entity provider 'No certificate Co' verify
NOCERT_KEY=$EKEY
new_entity provider 'Applied Co'
APPLIED=$EID APPLIED_KEY=$EKEY
new_entity provider '另一家数据公司' verify
PROV4_KEY=$EKEY
req POST "/v1/entities/$EID/certificates" '{"type":"data_provider"}'

new_entity buyer '买方银行' verify
BUYER=$EID BKEY=$EKEY
new_entity buyer '招商银行深圳分行' verify
BANK=$EID BANKKEY=$EKEY

# firm NAME SPECIALITY VAR: a verified service firm with its own key file $T_TMP/VAR.key.
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
firm 'Security Assessors Ltd' security SFIRM

# --- categories and exchange keys ----------------------------------------------------------------
req GET /v1/categories "" -
is "$STATUS" 200 "categories need no key"
is "$(jbody '.items | length')" 15 "the taxonomy has 15 categories"
is "$(jbody '.items[] | select(.code=="credit_inquiry") | .labels["zh-CN"]')" 征信 "zh-CN labels"
is "$(jbody '.items[] | select(.code=="ai_training_data") | .labels.en')" "AI training data" "English labels"
req GET /v1/exchange "" -
OPPK=$(jbody .operator.public_key)
is "$(echo -n "$OPPK" | base64 -d | wc -c)" 32 "the exchange publishes its operator key"
isnt "$(jbody .log.verifier_key)" null "and its log key"

# --- register ------------------------------------------------------------------------------------
printf 'uscc,month,kwh,grade\n91110000802100433B,2024-01-01,1200.5,A\n91440300708461136T,2024-01-01,98.25,B\n' >"$T_TMP/sample.csv"
head -c 300000 /dev/urandom >"$T_TMP/data.bin"
DATA_SHA=$(sha256sum "$T_TMP/data.bin" | cut -d' ' -f1)
jq -n --arg h "$DATA_SHA" '{kind:"dataset", title:"企业用电数据月度汇总", description:"按月汇总的企业用电量，用于信贷评估。Monthly electricity use per enterprise.",
    category:"energy", use_cases:["信贷评估","credit scoring"], update_frequency:"monthly",
    classification:"corporate", sensitivity:"general", content_hash:$h,
    schema:[{name:"uscc",type:"string",description:"统一社会信用代码"},{name:"month",type:"date"},
            {name:"kwh",type:"decimal",unit:"kWh",fingerprint_tolerance:"0.5"},
            {name:"grade",type:"enum",values:["A","B","C"]}],
    source:{method:"collected", legal_basis:"供电合同 supply contracts", processing:"aggregated per month",
            personal_information:{contained:false}}}' >"$T_TMP/md.json"
echo '{"content_hash":"0000000000000000000000000000000000000000000000000000000000000000"}' |
    jq -s '.[0] * .[1]' "$T_TMP/md.json" - >"$T_TMP/md-zero.json"

OUT=$("$B" --key "$PKEY" --json product register --file "$T_TMP/md-zero.json" \
    --sample "$T_TMP/sample.csv" --sample-format csv --data "$T_TMP/data.bin")
is $? 0 "product register through the CLI"
PRD=$(echo "$OUT" | jq -r .id)
REV1=$(echo "$OUT" | jq -r .revision.id)
is "$(echo "$PRD" | cut -c1-4)" prd_ "a product id"
is "$(echo "$OUT" | jq -r .revision.content_hash)" "$DATA_SHA" "--data hashes the data file locally"
is "$(echo "$OUT" | jq -r .title)" 企业用电数据月度汇总 "Chinese title round-trips"
is "$(echo "$OUT" | jq -r '.revision.metadata.description[0:8]')" 按月汇总的企业用 "Chinese description round-trips"
is "$(echo "$OUT" | jq -r .revision.quality.passed)" true "the exchange's quality check passed"
is "$(echo "$OUT" | jq -r '.revision.quality.columns[2].max')" 1200.5 "value range of a numeric column"
is "$(echo "$OUT" | jq -r .revision.revision)" 1 "revision 1"
is "$(echo "$OUT" | jq -r .revision.sample.data | head -1)" uscc,month,kwh,grade "the sample is kept"
META1=$(echo "$OUT" | jq -r .revision.metadata_hash)
req GET "/v1/events?from=$(echo "$OUT" | jq -r .log_index)&limit=1"
is "$(jbody '.items[0].type')" product.registered "one product.registered event"

GOOD=$(jq -c --arg h "$DATA_SHA" '.content_hash=$h' "$T_TMP/md.json")
refused "core data" POST /v1/products "$(echo "$GOOD" | jq -c '.sensitivity="core"')" "$PKEY" 403 sensitivity forbidden
refused "personal data without basis" POST /v1/products \
    "$(echo "$GOOD" | jq -c '.classification="personal" | .source.personal_information={contained:true}')" \
    "$PKEY" 400 source.personal_information.basis invalid
refused "personal data declared without personal information" POST /v1/products \
    "$(echo "$GOOD" | jq -c '.classification="personal"')" "$PKEY" 400 source.personal_information.contained invalid
refused "consent without evidence" POST /v1/products \
    "$(echo "$GOOD" | jq -c '.source.personal_information={contained:true, basis:"consent"}')" \
    "$PKEY" 400 source.personal_information.evidence invalid
refused "unknown category" POST /v1/products "$(echo "$GOOD" | jq -c '.category="astrology"')" "$PKEY" 400 category invalid
refused "bad content hash" POST /v1/products "$(echo "$GOOD" | jq -c '.content_hash="abc"')" "$PKEY" 400 content_hash invalid
refused "bad column type" POST /v1/products "$(echo "$GOOD" | jq -c '.schema[1].type="float"')" "$PKEY" 400 'schema[1].type' invalid
refused "unknown field" POST /v1/products "$(echo "$GOOD" | jq -c '.colour="red"')" "$PKEY" 400 colour invalid
refused "derived without parents" POST /v1/products "$(echo "$GOOD" | jq -c '.source.method="derived"')" "$PKEY" 400 parents invalid
refused "unverified provider" POST /v1/products "$GOOD" "$APPLIED_KEY" 403 none forbidden
refused "provider without certificate" POST /v1/products "$GOOD" "$NOCERT_KEY" 403 none forbidden
refused "a buyer" POST /v1/products "$GOOD" "$BKEY" 403 none forbidden
refused "no api key" POST /v1/products "$GOOD" - 401 Authorization unauthorized
head -c 70000 /dev/zero | tr '\0' 'x' >"$T_TMP/big.csv"
refused "sample over 64 KiB" POST /v1/products \
    "$(echo "$GOOD" | jq -c --rawfile s "$T_TMP/big.csv" '.sample={format:"csv", data:$s}')" "$PKEY" 413 sample.data too-large
"$B" --key "$PKEY" product register >/dev/null 2>&1
is $? 2 "register without --file exits 2"

# A sample with problems is registered with an honest report.
printf 'uscc,month,kwh,grade\nX,2024-13-01,abc,Z\nX,2024-13-01,abc,Z\n' >"$T_TMP/bad.csv"
req POST /v1/products "$(echo "$GOOD" | jq -c --rawfile s "$T_TMP/bad.csv" '.sample={format:"csv", data:$s} | .title="Weak sample"')" "$PKEY"
is "$STATUS" 201 "a product with a poor sample registers"
is "$(jbody .revision.quality.passed)" false "its quality report did not pass"
is "$(jbody .revision.quality.duplicate_rows)" 1 "duplicate rows found"
is "$(jbody '.revision.quality.columns[2].type_errors')" 2 "type errors found"

# --- revisions -----------------------------------------------------------------------------------
jq --arg h "$DATA_SHA" '.content_hash=$h | .title="企业用电数据月度汇总（2024版）"' "$T_TMP/md.json" >"$T_TMP/md2.json"
OUT=$("$B" --key "$PKEY" --json product revise "$PRD" --file "$T_TMP/md2.json" \
    --sample "$T_TMP/sample.csv" --sample-format csv)
is $? 0 "product revise through the CLI"
REV=$(echo "$OUT" | jq -r .revision.id)
is "$(echo "$OUT" | jq -r .latest_revision)" 2 "revision 2"
refused "identical metadata" PUT "/v1/products/$PRD" \
    "$(jq -c --rawfile s "$T_TMP/sample.csv" '.sample={format:"csv", data:$s}' "$T_TMP/md2.json")" "$PKEY" 409 none conflict
refused "kind cannot change" PUT "/v1/products/$PRD" "$(jq -c '.kind="api"' "$T_TMP/md2.json")" "$PKEY" 400 kind invalid
refused "another provider cannot revise" POST "/v1/products/$PRD/revisions" "$(cat "$T_TMP/md2.json")" "$P3KEY" 404 id not-found
req GET "/v1/products/$PRD/revisions/1" "" "$PKEY"
is "$(jbody .metadata_hash)" "$META1" "revision 1 is unchanged"
is "$(jbody .title)" 企业用电数据月度汇总 "revision 1 keeps its title"
req GET "/v1/products/$PRD" "" "$PKEY"
is "$(jbody '.revisions | length')" 2 "the product lists both revisions"
is "$(jbody .title)" '企业用电数据月度汇总（2024版）' "the product shows the newest title"
req GET "/v1/products/$PRD" "" "$BKEY"
is "$STATUS" 404 "a buyer cannot see an unlisted product"
"$B" --key "$PKEY" product show prd_00000000000000000000 >/dev/null 2>&1
is $? 3 "unknown product exits 3"
ok "product list" "$B" --key "$PKEY" product list
is "$("$B" --key "$PKEY" --json product list | jq '.items | length')" 2 "the provider lists its own products"

# --- rights ----------------------------------------------------------------------------------------
refused "only the operator issues rights" POST /v1/rights "{\"revision_id\":\"$REV\",\"right\":\"holding\"}" "$PKEY" 403 none forbidden
refused "unknown right" POST /v1/rights "{\"revision_id\":\"$REV\",\"right\":\"ownership\"}" "$OPKEY" 400 right invalid
refused "holder must be verified" POST /v1/rights "{\"revision_id\":\"$REV\",\"right\":\"holding\",\"holder_id\":\"$APPLIED\"}" "$OPKEY" 409 holder_id wrong-state
for r in holding operation processing; do
    OUT=$("$B" --key "$OPKEY" --json rights issue "$REV" --right $r)
    is $? 0 "operator issues the $r right"
    eval "RGT_$r=$(echo "$OUT" | jq -r .id)"
done
refused "one live certificate per right" POST /v1/rights "{\"revision_id\":\"$REV\",\"right\":\"holding\"}" "$OPKEY" 409 right conflict
"$B" --key "$PKEY" rights issue "$REV" --right holding >/dev/null 2>&1
is $? 5 "a provider issuing rights exits 5"
SHOW=$("$B" rights show "$RGT_holding")
is $? 0 "rights show needs no key"
echo "$SHOW" | grep -Eq "^signature: +valid"
is $? 0 "rights show checks the signature locally"

# Anyone can check a certificate with openssl and the published key.
req GET "/v1/rights/$RGT_holding" "" -
is "$STATUS" 200 "a certificate is public"
is "$(jbody .operator_public_key)" "$OPPK" "it names the key to check it with"
is "$(jbody '.document | fromjson | .content_hash')" "$DATA_SHA" "it is bound to the content hash"
is "$(jbody '.document | fromjson | .holder.name')" 国网电力数据服务有限公司 "it names the holder"
if command -v openssl >/dev/null && command -v xxd >/dev/null; then
    jbody .document | tr -d '\n' >"$T_TMP/doc"
    jbody .signature | base64 -d >"$T_TMP/sig"
    (printf '302a300506032b6570032100' | xxd -r -p; echo -n "$OPPK" | base64 -d) >"$T_TMP/op.der"
    ok "openssl verifies the certificate" openssl pkeyutl -verify -pubin -keyform DER -inkey "$T_TMP/op.der" -rawin -in "$T_TMP/doc" -sigfile "$T_TMP/sig"
    sed 's/国网/国电/' "$T_TMP/doc" >"$T_TMP/doc2"
    not_ok "a tampered certificate fails" openssl pkeyutl -verify -pubin -keyform DER -inkey "$T_TMP/op.der" -rawin -in "$T_TMP/doc2" -sigfile "$T_TMP/sig"
else
    pass "# skip openssl not installed"
    pass "# skip openssl not installed"
fi

# The processing right: license, pledge, (no transfer while pledged), release, transfer.
refused "only the holder licenses" POST "/v1/rights/$RGT_processing/licenses" "{\"licensee_id\":\"$PROV3\",\"terms\":\"x\"}" "$BKEY" 403 id forbidden
refused "a licence needs terms" POST "/v1/rights/$RGT_processing/licenses" "{\"licensee_id\":\"$PROV3\"}" "$PKEY" 400 terms invalid
ok "holder licenses the processing right" "$B" --key "$PKEY" rights license "$RGT_processing" --licensee "$PROV3" --terms '模型训练用途，期限12个月，限中国境内 model training, 12 months, mainland China'
ok "holder pledges it to a bank" "$B" --key "$PKEY" rights pledge "$RGT_processing" --creditor "$BANK" --terms '贷款合同 2026-001 CNY 10,000,000'
refused "a pledged certificate cannot be transferred" POST "/v1/rights/$RGT_processing/transfer" "{\"to\":\"$BUYER\"}" "$PKEY" 409 id wrong-state
refused "only the creditor releases" POST "/v1/rights/$RGT_processing/release" '{}' "$PKEY" 403 id forbidden
ok "the bank releases the pledge" "$B" --key "$BANKKEY" rights release "$RGT_processing"
OUT=$("$B" --key "$PKEY" --json rights transfer "$RGT_processing" --to "$BUYER")
is $? 0 "holder transfers the processing right"
is "$(echo "$OUT" | jq -r .holder_id)" "$BUYER" "the holder changed"
is "$(echo "$OUT" | jq -r .version)" 2 "the document was re-issued"
is "$(echo "$OUT" | jq -r '.document | fromjson | .previous | length')" 64 "chained to the previous version"
ok "the transferred certificate verifies" "$B" rights show "$RGT_processing"
req GET "/v1/rights/$RGT_processing" "" -
is "$(jbody '[.history[].action] | join(",")')" issued,licensed,pledged,released,transferred "the history is kept"
refused "revoking needs a reason" POST "/v1/rights/$RGT_holding/revoke" '{}' "$OPKEY" 400 reason invalid
is "$("$B" --key "$BKEY" --json rights list | jq '.items | length')" 1 "the new holder lists its certificate"

# --- derived products -------------------------------------------------------------------------------
DERIVED=$(echo "$GOOD" | jq -c --arg p "$REV" '.source.method="derived" | .parents=[$p] | .title="企业用电信用评分"')
refused "no processing right on someone else's parent" POST /v1/products "$DERIVED" "$PROV4_KEY" 403 parents forbidden
req POST /v1/products "$DERIVED" "$P3KEY"
is "$STATUS" 201 "a licensee of the processing right derives a product"
is "$(jbody '.revision.metadata.parents[0]')" "$REV" "the parent revision is recorded"
PERS=$(echo "$GOOD" | jq -c '.classification="personal" | .sensitivity="important" | .title="个人用电画像"
    | .source.personal_information={contained:true, basis:"consent", evidence:"电子授权书存档 signed consent records"}')
req POST /v1/products "$PERS" "$PKEY"
is "$STATUS" 201 "personal important data with a consent basis registers"
is "$(jbody .revision.supervised)" true "important data is flagged for supervision"
PERS_REV=$(jbody .revision.id)
CHILD=$(echo "$GOOD" | jq -c --arg p "$PERS_REV" '.source.method="derived" | .parents=[$p]')
refused "a derived product inherits the need for a basis" POST /v1/products "$CHILD" "$PKEY" 400 source.personal_information.basis invalid
req POST /v1/products "$(echo "$CHILD" | jq -c '.source.personal_information={contained:true, basis:"anonymisation", evidence:"k-anonymity, k=50"}')" "$PKEY"
is "$STATUS" 201 "with a basis it registers"
is "$(jbody .revision.classification),$(jbody .revision.sensitivity)" personal,important "it inherits the strictest class"
req GET "/v1/revisions/$PERS_REV/listable" "" "$PKEY"
is "$(jbody .cross_border.allowed)" false "important data may not cross the border without an assessment"
is "$(jbody '.cross_border.missing[0].kind')" cross_border "the missing item is named"

# --- listing policy ----------------------------------------------------------------------------------
is "$("$B" --json policy show | jq .version)" 0 "the default policy is version 0"
RULES=(--rule public/general=compliance --rule public/important=compliance,security
    --rule corporate/general=compliance,quality --rule corporate/important=compliance,security,quality
    --rule personal/general=compliance,security --rule personal/important=compliance,security,quality)
"$B" --key "$PKEY" policy set "${RULES[@]}" >/dev/null 2>&1
is $? 5 "a provider cannot set the policy"
refused "a policy without every class" POST /v1/policy/listing '{"rules":[{"classification":"public","sensitivity":"general","kinds":[]}]}' "$OPKEY" 400 rules invalid
refused "no rule for core data" POST /v1/policy/listing "$("$B" --key "$OPKEY" --json policy show | jq -c '{rules} | .rules[0].sensitivity="core"')" "$OPKEY" 400 'rules[0]' invalid
OUT=$("$B" --key "$OPKEY" --json policy set "${RULES[@]}")
is $? 0 "the operator sets the policy"
is "$(echo "$OUT" | jq .version)" 1 "version 1"
is "$("$B" --json policy show --version 0 | jq '.rules[0].kinds | length')" 2 "the default stays readable"

# --- assessments -------------------------------------------------------------------------------------
req GET "/v1/revisions/$REV/listable" "" "$PKEY"
is "$(jbody .listable)" false "not listable before assessments"
is "$(jbody '[.missing[].kind] | join(",")')" compliance,quality "compliance and quality are missing"
refused "a firm without the speciality" POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"quality\",\"firm_id\":\"$CFIRM\"}" "$PKEY" 400 firm_id invalid
refused "an unrelated entity cannot see the revision" POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"quality\",\"firm_id\":\"$QFIRM\"}" "$NOCERT_KEY" 404 revision_id not-found
refused "a rights holder is not the provider" POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"quality\",\"firm_id\":\"$QFIRM\"}" "$BKEY" 403 revision_id forbidden
refused "a superseded revision" POST /v1/assessments "{\"revision_id\":\"$REV1\",\"kind\":\"quality\",\"firm_id\":\"$QFIRM\"}" "$PKEY" 409 revision_id wrong-state
OUT=$("$B" --key "$PKEY" --json assessment request "$REV" --kind quality --firm "$QFIRM")
is $? 0 "the provider requests a quality assessment"
QASM=$(echo "$OUT" | jq -r .id)
refused "one open request per kind" POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"quality\",\"firm_id\":\"$QFIRM\"}" "$PKEY" 409 kind conflict
req POST /v1/assessments "{\"revision_id\":\"$REV\",\"kind\":\"compliance\",\"firm_id\":\"$CFIRM\"}" "$PKEY"
is "$STATUS" 201 "and a compliance assessment"
CASM=$(jbody .id)
is "$("$B" --key "$QFIRM_KEY" --json assessment list | jq -r '.items[0].id')" "$QASM" "the firm sees its assignment"

echo "报告正文 report body" >"$T_TMP/report.pdf"
BEFORE=$(state)
"$B" --key "$CFIRM_KEY" assessment submit "$CASM" --verdict pass --document "$T_TMP/report.pdf" \
    --signing-key "$T_TMP/QFIRM.key" >"$T_TMP/o" 2>&1
is $? 6 "a report signed with another firm's key exits 6"
grep -q "field 'signature'" "$T_TMP/o"
is $? 0 "and names the signature"
is "$(state)" "$BEFORE" "the forged report changed nothing"
"$B" --key "$QFIRM_KEY" assessment submit "$CASM" --verdict pass --document "$T_TMP/report.pdf" \
    --signing-key "$T_TMP/QFIRM.key" >/dev/null 2>&1
is $? 3 "another firm's assessment is not found"
"$B" --key "$QFIRM_KEY" assessment submit "$QASM" --verdict pass --finding 'bad finding' \
    --document "$T_TMP/report.pdf" --signing-key "$T_TMP/QFIRM.key" >/dev/null 2>&1
is $? 2 "a malformed --finding exits 2"
is "$(state)" "$BEFORE" "and changed nothing"
OUT=$("$B" --key "$QFIRM_KEY" --json assessment submit "$QASM" --verdict pass \
    --finding 'minor:字段 grade 的取值说明不完整' --document "$T_TMP/report.pdf" --signing-key "$T_TMP/QFIRM.key")
is $? 0 "the quality firm signs and submits its report"
is "$(echo "$OUT" | jq -r .verdict)" pass "verdict pass"
is "$(echo "$OUT" | jq -r .document.sha256)" "$(sha256sum "$T_TMP/report.pdf" | cut -d' ' -f1)" "the document is bound by its hash"
is "$(echo "$OUT" | jq -r '.report | fromjson | .content_hash')" "$DATA_SHA" "the report is bound to the content hash"
if command -v openssl >/dev/null && command -v xxd >/dev/null; then
    echo "$OUT" | jq -j .report >"$T_TMP/rep"
    echo "$OUT" | jq -r .signature | base64 -d >"$T_TMP/rsig"
    (printf '302a300506032b6570032100' | xxd -r -p; base64 -d "$T_TMP/QFIRM.key.pub") >"$T_TMP/q.der"
    ok "openssl verifies the firm's report" openssl pkeyutl -verify -pubin -keyform DER -inkey "$T_TMP/q.der" -rawin -in "$T_TMP/rep" -sigfile "$T_TMP/rsig"
else
    pass "# skip openssl not installed"
fi
refused "a second report" POST "/v1/assessments/$QASM/report" "$(echo "$OUT" | jq -c '{report, signature}')" "$QFIRM_KEY" 409 id wrong-state
refused "a report for another assessment" POST "/v1/assessments/$CASM/report" "$(echo "$OUT" | jq -c '{report, signature}')" "$CFIRM_KEY" 400 report invalid
"$B" --key "$PKEY" product listable "$REV" >"$T_TMP/o"
grep -Eq "^listable: +no" "$T_TMP/o"
is $? 0 "still not listable with compliance missing"
ok "the law firm submits with conditions" "$B" --key "$CFIRM_KEY" assessment submit "$CASM" --verdict conditions \
    --condition '上架前补充个人信息影响评估 file a PIA before listing' --document "$T_TMP/report.pdf" --signing-key "$T_TMP/CFIRM.key"
OUT=$("$B" --key "$PKEY" product listable "$REV")
echo "$OUT" | grep -Eq "^listable: +yes"
is $? 0 "the revision is listable"
req GET "/v1/revisions/$REV/listable" "" "$PKEY"
is "$(jbody .listable),$(jbody .policy_version)" true,1 "listable under policy version 1"
is "$(jbody .cross_border.allowed)" true "corporate general data may cross the border"
req GET "/v1/revisions/$REV1/listable" "" "$PKEY"
is "$(jbody '.missing[0].item')" revision "the old revision is superseded"

# The operator revokes the operation right: no longer listable.
ok "operator revokes the operation right" "$B" --key "$OPKEY" rights revoke "$RGT_operation" --reason '权属争议 ownership dispute'
req GET "/v1/revisions/$REV/listable" "" "$PKEY"
is "$(jbody '.missing[0].kind')" operation "without an operation right it is not listable"

# --- restart ----------------------------------------------------------------------------------------
kill9_server
start_server
req GET "/v1/products/$PRD" "" "$PKEY"
is "$(jbody .latest_revision)" 2 "products survive a kill -9"
ok "certificates verify after a restart" "$B" rights show "$RGT_holding"
req GET "/v1/assessments/$QASM" "" "$PKEY"
is "$(jbody .status)" submitted "assessments survive a kill -9"

done_testing
