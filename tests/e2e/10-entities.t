#!/usr/bin/env bash
# Entity lifecycle over raw HTTP: apply, review, certificates, API keys, visibility, paging,
# and every class of bad input answered with problem+json and no change.
. "$(dirname "$0")/lib.sh"
start_server

# --- apply ---------------------------------------------------------------------------------
USCC=$(uscc_random)
PK=$(new_pubkey prov)
req POST /v1/entities "$(apply_json provider '国网电力数据服务有限公司' "$USCC" "$PK")" -
is "$STATUS" 201 "apply answers 201"
is "$(jbody .status)" applied "new entity is applied"
is "$(jbody .name)" '国网电力数据服务有限公司' "Chinese name round-trips"
is "$(jbody '.api_key.secret | startswith("bsk_")')" true "first api key is returned"
isnt "$(jbody .log_index)" null "entity carries its log index"
PROV=$(jbody .id)
PROVKEY=$(jbody .api_key.secret)

# The applicant reads itself and nothing else.
req GET "/v1/entities/$PROV" "" "$PROVKEY"
is "$STATUS" 200 "applicant reads its own record"
is "$(jbody .history | jq length)" 0 "no reviews yet"
req GET "/v1/entities" "" "$PROVKEY"
is "$STATUS" 403 "unverified entity cannot list entities"
is "$(jbody .type)" "https://bourse.dev/problems/forbidden" "forbidden problem type"
req POST "/v1/entities/$PROV/keys" '{"label":"x"}' "$PROVKEY"
is "$STATUS" 403 "unverified entity cannot create keys"

# Same USCC again is a conflict while the first is live.
BEFORE=$(snapshot)
req POST /v1/entities "$(apply_json buyer 'Other' "$USCC")" -
is "$STATUS" 409 "duplicate USCC is a conflict"
is "$(jbody .field)" uscc "conflict names the uscc field"
is "$(snapshot)" "$BEFORE" "duplicate application changed nothing"

# --- review ----------------------------------------------------------------------------------
req POST "/v1/entities/$PROV/review" '{"decision":"verify"}' "$PROVKEY"
is "$STATUS" 403 "only the operator reviews"
req POST "/v1/entities/$PROV/review" '{"decision":"suspend","reason":"x"}'
is "$STATUS" 409 "cannot suspend an applied entity"
is "$(jbody .type)" "https://bourse.dev/problems/wrong-state" "wrong-state problem type"
req POST "/v1/entities/$PROV/review" '{"decision":"verify","reason":"licence checked"}'
is "$STATUS" 200 "operator verifies"
is "$(jbody .status)" verified "status is verified"
is "$(jbody '.history[0].reason')" "licence checked" "review reason kept"
is "$(jbody '.history[0].actor | startswith("ent_")')" true "review actor kept"
req POST "/v1/entities/$PROV/review" '{"decision":"verify"}'
is "$STATUS" 409 "verifying twice is wrong state"
req POST "/v1/entities/$PROV/review" '{"decision":"suspend"}'
is "$STATUS" 400 "suspend needs a reason"
is "$(jbody .field)" reason "missing reason names the field"

# --- certificates ----------------------------------------------------------------------------
req POST "/v1/entities/$PROV/certificates" '{"type":"cross_border"}'
is "$STATUS" 409 "cross_border needs trading first"
req POST "/v1/entities/$PROV/certificates" '{"type":"data_provider"}'
is "$STATUS" 201 "data_provider certificate issued"
CERT=$(jbody .id)
req POST "/v1/entities/$PROV/certificates" '{"type":"data_provider"}'
is "$STATUS" 409 "one active certificate per type"
req POST "/v1/entities/$PROV/certificates" '{"type":"trading"}'
is "$STATUS" 201 "trading certificate issued"
req POST "/v1/entities/$PROV/certificates" '{"type":"cross_border"}'
is "$STATUS" 201 "cross_border issued after trading"
req POST "/v1/entities/$PROV/certificates" '{"type":"gold"}'
is "$STATUS" 400 "unknown certificate type"
is "$(jbody .field)" type "unknown type names the field"
req POST "/v1/entities/$PROV/certificates" '{"type":"trading"}' "$PROVKEY"
is "$STATUS" 403 "entities cannot issue certificates"
req DELETE "/v1/entities/$PROV/certificates/$CERT" '{"reason":"licence lapsed"}'
is "$STATUS" 200 "certificate revoked"
is "$(jbody .status)" revoked "revoked status"
req DELETE "/v1/entities/$PROV/certificates/$CERT" '{"reason":"again"}'
is "$STATUS" 409 "revoking twice is wrong state"
req GET "/v1/entities/$PROV"
is "$(jbody '.certificates | length')" 3 "entity shows its certificates"

new_entity buyer '买方银行' verify
BUYER=$EID
req POST "/v1/entities/$BUYER/certificates" '{"type":"data_provider"}'
is "$STATUS" 400 "a buyer cannot hold data_provider"

# --- visibility ------------------------------------------------------------------------------
req POST /v1/entities "$(apply_json service_firm 'Firm' | jq -c '.specialities=["quality","legal"]')" -
is "$STATUS" 201 "service firm applies with specialities"
is "$(jbody '.specialities | join(",")')" "quality,legal" "specialities kept"
FIRM=$(jbody .id)
req GET "/v1/entities/$FIRM" "" "$PROVKEY"
is "$STATUS" 404 "a verified entity cannot see an unverified one"
req GET "/v1/entities/$BUYER" "" "$PROVKEY"
is "$STATUS" 200 "a verified entity sees a verified one"

# --- keys --------------------------------------------------------------------------------------
req POST "/v1/entities/$PROV/keys" '{"label":"ci"}' "$PROVKEY"
is "$STATUS" 201 "verified entity creates its own key"
K2=$(jbody .secret)
K2ID=$(jbody .id)
req GET "/v1/entities/$PROV" "" "$K2"
is "$STATUS" 200 "new key authenticates"
req DELETE "/v1/keys/$K2ID" "" "$PROVKEY"
is "$STATUS" 200 "key revoked"
req GET "/v1/entities/$PROV" "" "$K2"
is "$STATUS" 401 "revoked key is refused"
req DELETE "/v1/keys/$K2ID" "" "$PROVKEY"
is "$STATUS" 409 "revoking a key twice is wrong state"
req POST "/v1/entities/$BUYER/keys" '{}' "$PROVKEY"
is "$STATUS" 403 "cannot create keys for someone else"

# --- suspension --------------------------------------------------------------------------------
req POST "/v1/entities/$PROV/review" '{"decision":"suspend","reason":"investigation"}'
is "$STATUS" 200 "operator suspends"
req GET "/v1/entities/$PROV" "" "$PROVKEY"
is "$STATUS" 200 "suspended entity reads itself"
req GET "/v1/entities/$BUYER" "" "$PROVKEY"
is "$STATUS" 404 "suspended entity reads nothing else"
req GET "/v1/entities" "" "$PROVKEY"
is "$STATUS" 403 "suspended entity cannot list"
req POST "/v1/entities/$PROV/review" '{"decision":"reinstate","reason":"cleared"}'
is "$STATUS" 200 "operator reinstates"
is "$(jbody .status)" verified "reinstated entity is verified"
is "$(jbody '.history | length')" 3 "history holds verify, suspend, reinstate"

# --- listing and paging ------------------------------------------------------------------------
for i in 1 2 3 4 5; do new_entity buyer "Paging buyer $i" verify; done
req GET "/v1/entities?kind=buyer&limit=2"
is "$STATUS" 200 "filtered list"
is "$(jbody '.items | length')" 2 "page holds limit items"
C1=$(jbody .next_cursor)
SEEN=$(jbody '.items[].id')
while [ "$C1" != null ]; do
    req GET "/v1/entities?kind=buyer&limit=2&cursor=$C1"
    SEEN="$SEEN $(jbody '.items[].id')"
    C1=$(jbody .next_cursor)
done
is "$(echo $SEEN | wc -w)" 6 "cursor paging visits every buyer once"
is "$(echo $SEEN | tr ' ' '\n' | sort -u | wc -l)" 6 "no buyer is repeated"
req GET "/v1/entities?q=%E5%9B%BD%E7%BD%91"
is "$(jbody '.items[0].id')" "$PROV" "name search finds Chinese text"
req GET "/v1/entities?status=applied"
is "$(jbody '[.items[].status] | unique | join(",")')" applied "status filter"
req GET "/v1/entities" "" "$(cat "$T_DATA/operator.key")"
req GET "/v1/entities?limit=0"
is "$STATUS" 400 "limit 0 is refused"
req GET "/v1/entities?limit=101"
is "$STATUS" 400 "limit over 100 is refused"
req GET "/v1/entities?cursor=garbage"
is "$(jbody .field)" cursor "bad cursor names the field"
req GET "/v1/entities?colour=red"
is "$(jbody .field)" colour "unknown query parameter is refused"
req GET "/v1/entities?kind=wizard"
is "$STATUS" 400 "unknown kind filter is refused"

# --- bad input, each answered with a problem and no change ---------------------------------------
BEFORE=$(snapshot)
bad() {
    local desc=$1 body=$2 status=$3 field=$4
    req POST /v1/entities "$body" -
    is "$STATUS" "$status" "$desc: status"
    is "$(jq -r .field <"$BODY_FILE")" "$field" "$desc: field"
    is "$(jq -r '.type | startswith("https://bourse.dev/problems/")' <"$BODY_FILE")" true "$desc: problem type"
}
GOOD=$(apply_json provider 'Good Co')
bad "malformed JSON" '{"kind":' 400 null
bad "not an object" '[1,2]' 400 null
bad "duplicate keys" '{"kind":"buyer","kind":"provider"}' 400 null
bad "unknown field" "$(echo "$GOOD" | jq -c '.colour="red"')" 400 colour
bad "wrong type" "$(echo "$GOOD" | jq -c '.name=5')" 400 name
bad "missing name" "$(echo "$GOOD" | jq -c 'del(.name)')" 400 name
bad "blank name" "$(echo "$GOOD" | jq -c '.name="   "')" 400 name
bad "name too long" "$(echo "$GOOD" | jq -c '.name=("长" * 201)')" 400 name
bad "operator kind" "$(echo "$GOOD" | jq -c '.kind="operator"')" 400 kind
bad "unknown kind" "$(echo "$GOOD" | jq -c '.kind="wizard"')" 400 kind
bad "wrong check character" "$(echo "$GOOD" | jq -c --arg u "$(uscc_make 91110000123456789 | sed 's/.$/0/')" '.uscc=$u')" 400 uscc
bad "short uscc" "$(echo "$GOOD" | jq -c '.uscc="9111000012345"')" 400 uscc
bad "uscc with I" "$(echo "$GOOD" | jq -c '.uscc="91110000I23456789X"')" 400 uscc
bad "bad country" "$(echo "$GOOD" | jq -c '.country="China"')" 400 country
bad "missing contact" "$(echo "$GOOD" | jq -c 'del(.contact)')" 400 contact
bad "bad email" "$(echo "$GOOD" | jq -c '.contact.email="nobody"')" 400 contact.email
bad "unknown contact field" "$(echo "$GOOD" | jq -c '.contact.fax="1"')" 400 contact.fax
bad "bad phone" "$(echo "$GOOD" | jq -c '.contact.phone="call me"')" 400 contact.phone
bad "short public key" "$(echo "$GOOD" | jq -c '.public_key="AAAA"')" 400 public_key
bad "not a curve point" "$(echo "$GOOD" | jq -c '.public_key="AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="')" 400 public_key
bad "specialities on a buyer" "$(echo "$GOOD" | jq -c '.kind="buyer" | .specialities=["legal"]')" 400 specialities
bad "service firm without speciality" "$(echo "$GOOD" | jq -c '.kind="service_firm"')" 400 specialities
bad "unknown speciality" "$(echo "$GOOD" | jq -c '.kind="service_firm" | .specialities=["magic"]')" 400 specialities
bad "deep nesting" "$(printf '{"kind":%s1%s}' "$(printf '[%.0s' $(seq 40))" "$(printf ']%.0s' $(seq 40))")" 400 null
req POST /v1/entities "$GOOD" - && true
curl -s -o "$BODY_FILE" -w '%{http_code}' -X POST -H 'Content-Type: text/plain' --data-binary "$GOOD" "$BOURSE_URL/v1/entities" >"$T_TMP/st"
is "$(cat "$T_TMP/st")" 400 "wrong content type is refused"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T_TMP/big"
STATUS=$(curl -s -o "$BODY_FILE" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @"$T_TMP/big" "$BOURSE_URL/v1/entities")
is "$STATUS" 413 "oversize body is refused"
is "$(jbody .type)" "https://bourse.dev/problems/too-large" "oversize body problem type"
# The one good application above is the only change.
AFTER=$(snapshot)
is "$(echo "$AFTER" | jq '.items | length')" "$(( $(echo "$BEFORE" | jq '.items | length') + 1 ))" "bad applications added nothing"

BEFORE=$(snapshot)
req POST "/v1/entities/ent_nope/review" '{"decision":"verify"}'
is "$STATUS" 400 "malformed id is invalid"
req POST "/v1/entities/ent_0000000000000000000z/review" '{"decision":"verify"}'
is "$STATUS" 404 "unknown id is not found"
req POST "/v1/entities/$BUYER/review" '{"decision":"approve"}'
is "$STATUS" 400 "unknown decision"
req POST "/v1/entities/$BUYER/review" '{"decision":"suspend","reason":"x","extra":1}'
is "$(jbody .field)" extra "unknown review field"
req GET "/v1/entities" "" "bsk_wrong"
is "$STATUS" 401 "bad key is unauthorized"
req GET "/v1/entities" "" -
is "$STATUS" 401 "no key is unauthorized"
req PUT "/v1/entities" '{}'
is "$STATUS" 405 "wrong method is 405"
req GET "/v1/nothing"
is "$STATUS" 404 "unknown route is 404"
is "$(snapshot)" "$BEFORE" "refused requests changed nothing"

done_testing
