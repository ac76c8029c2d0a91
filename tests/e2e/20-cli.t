#!/usr/bin/env bash
# The entity lifecycle through the CLI, with its exit codes and --json output.
. "$(dirname "$0")/lib.sh"
start_server
B=$BOURSE_BIN
export BOURSE_KEY_FILE="$T_DATA/operator.key"

ok "key gen makes a key pair" "$B" key gen --out "$T_TMP/acme.key"
is "$(stat -c %a "$T_TMP/acme.key")" 600 "private key is 0600"
"$B" key gen --out "$T_TMP/acme.key" >/dev/null 2>&1
is $? 4 "key gen refuses to overwrite"

USCC=$(uscc_random)
OUT=$(BOURSE_KEY_FILE= "$B" --json entity apply --kind provider --name '企业用电数据公司' --uscc "$USCC" \
    --country CN --contact-name '李雷' --contact-email li@acme.example \
    --public-key-file "$T_TMP/acme.key.pub" --save-key "$T_TMP/acme.apikey")
is $? 0 "entity apply succeeds"
ID=$(echo "$OUT" | jq -r .id)
is "$(echo "$ID" | cut -c1-4)" ent_ "apply prints the id"
is "$(stat -c %a "$T_TMP/acme.apikey")" 600 "saved api key is 0600"

BOURSE_KEY_FILE= "$B" entity apply --kind provider --name X --uscc 91110000802100433A --country CN \
    --contact-name a --contact-email a@b.cn --public-key-file "$T_TMP/acme.key.pub" >"$T_TMP/o" 2>&1
is $? 6 "a wrong check character exits 6"
grep -q "check character" "$T_TMP/o"
is $? 0 "and says why"
"$B" entity apply --kind provider >"$T_TMP/o" 2>&1
is $? 2 "missing flags exit 2"

ok "operator lists entities" "$B" entity list
"$B" entity list --json | jq -e --arg id "$ID" '.items | map(.id) | index($id) != null' >/dev/null
is $? 0 "the new entity is listed"
"$B" --key-file "$T_TMP/acme.apikey" entity list >/dev/null 2>&1
is $? 5 "an unverified entity listing exits 5"
ok "operator verifies" "$B" entity verify "$ID" --reason 'licence checked'
"$B" entity verify "$ID" >/dev/null 2>&1
is $? 4 "verifying twice exits 4"
ok "certificate issued" "$B" cert issue "$ID" --type data_provider
CID=$("$B" --json entity show "$ID" | jq -r '.certificates[0].id')
ok "certificate revoked" "$B" cert revoke "$ID" "$CID" --reason lapsed
is "$("$B" --json entity show "$ID" | jq -r '.certificates[0].status')" revoked "revocation shows"
"$B" entity show ent_00000000000000000000 >/dev/null 2>&1
is $? 3 "unknown entity exits 3"
KOUT=$("$B" --json apikey create "$ID" --label ci)
KID=$(echo "$KOUT" | jq -r .id)
ok "the new key works" "$B" --key "$(echo "$KOUT" | jq -r .secret)" entity show "$ID"
ok "apikey revoke" "$B" apikey revoke "$KID"
"$B" --key "$(echo "$KOUT" | jq -r .secret)" entity show "$ID" >/dev/null 2>&1
is $? 5 "a revoked key exits 5"
"$B" --url http://127.0.0.1:1 health >/dev/null 2>&1
is $? 7 "an unreachable server exits 7"
ok "health" "$B" health
"$B" frobnicate >/dev/null 2>&1
is $? 2 "an unknown command exits 2"

done_testing
