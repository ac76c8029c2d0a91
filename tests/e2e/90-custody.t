#!/usr/bin/env bash
# Custody end to end, through raw HTTP and the CLI: a multi-chunk upload interrupted halfway and
# resumed by `bourse upload` (which sends only the missing chunks), bad chunks and sizes refused
# with problem+json and nothing changed, the stored object's content streamed whole and by Range
# (206, 416), a resumed `bourse object fetch` with its checksum verified (and a corrupt partial
# file caught), the data directory holding no plaintext, a restart with another master key
# refused, download-token errors, and abandonment.
. "$(dirname "$0")/lib.sh"
start_server --max-object-size 8000000
B=$BOURSE_BIN
P=https://bourse.dev/problems/
MiB=1048576

# state UPLOAD: what a refused request must leave alone: the log and the upload's record.
state() {
    local out
    req GET "/v1/events?from=0&limit=1000" "" "$OPKEY"
    out=$(jq -S -c . <"$BODY_FILE")
    if [ -n "${1:-}" ]; then
        req GET "/v1/uploads/$1" "" "$OPKEY"
        out="$out$(jq -S -c . <"$BODY_FILE")"
    fi
    echo "$out$(find "$T_DATA/objects" "$T_DATA/uploads" -type f | sort | xargs -r sha256sum)"
}

# refused DESC UPLOAD STATUS FIELD TYPE CMD...: runs CMD (which sets STATUS and the body) and
# checks the problem and that nothing changed.
refused() {
    local desc=$1 upl=$2 status=$3 field=$4 type=$5 before after
    shift 5
    before=$(state "$upl")
    "$@"
    is "$STATUS" "$status" "$desc: status $status"
    is "$(jbody '.field // "none"')" "$field" "$desc: field"
    is "$(jbody .type)" "$P$type" "$desc: problem type"
    after=$(state "$upl")
    is "$after" "$before" "$desc: nothing changed"
}

# put_chunk UPLOAD N FILE [DIGEST] [KEY]: PUT a chunk's bytes with its (or the given) digest.
put_chunk() {
    local digest=${4:-$(sha256sum "$3" | cut -d' ' -f1)}
    STATUS=$(curl -s -o "$BODY_FILE" -w '%{http_code}' -X PUT -H "Authorization: Bearer ${5:-$PKEY}" \
        -H "Chunk-SHA256: $digest" -H 'Content-Type: application/octet-stream' \
        --data-binary "@$3" "$BOURSE_URL/v1/uploads/$1/chunks/$2")
}

chunk_of() { dd if="$1" of="$3" bs=$MiB skip="$2" count=1 status=none; }

# --- parties and a product ----------------------------------------------------------------------
new_entity provider '国网上海市电力公司' verify
PROV=$EID PKEY=$EKEY
req POST "/v1/entities/$PROV/certificates" '{"type":"data_provider"}'
new_entity provider '北京金融大数据有限公司' verify
P2KEY=$EKEY
md=$(jq -cn '{kind:"dataset", title:"企业用电画像", description:"用电数据", category:"energy",
  use_cases:["信贷评估"], update_frequency:"monthly", classification:"corporate", sensitivity:"general",
  content_hash:"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  schema:[{name:"id",type:"string"}],
  source:{method:"collected", legal_basis:"contracts", processing:"aggregated",
          personal_information:{contained:false}}}')
req POST /v1/products "$md" "$PKEY"
[ "$STATUS" = 201 ] || bail "register failed: $(cat "$BODY_FILE")"
PRD=$(jbody .id) REV=$(jbody .revision.id)

# A 3.7 MB CSV (four 1 MiB chunks) with a marker that must never appear at rest.
F=$T_TMP/usage.csv
{
    echo 'meter_id,month,kwh,district'
    awk 'BEGIN { for (i = 1; i <= 100000; i++) printf "M%d,2026-%d,%d,\"浦东, 新区\"\n", i, i % 12 + 1, i * 37 % 100000 }'
    echo 'M-END,2026-12,1,SECRET-MARKER-7f3a'
} >"$F"
SIZE=$(stat -c %s "$F")
SHA=$(sha256sum "$F" | cut -d' ' -f1)
[ "$SIZE" -gt $((3 * MiB)) ] && [ "$SIZE" -lt $((4 * MiB)) ] || bail "test file is $SIZE bytes"

# --- an upload interrupted halfway ------------------------------------------------------------------
req POST /v1/uploads "{\"product_id\":\"$PRD\",\"name\":\"usage.csv\",\"size\":$SIZE,\"sha256\":\"$SHA\",\"chunk_size\":$MiB}" "$PKEY"
is "$STATUS" 201 "upload started"
UPL=$(jbody .id)
is "$(jbody .chunk_count)" 4 "four chunks of 1 MiB"
is "$(jbody .revision_id)" "$REV" "bound to the newest revision"
for n in 0 1; do chunk_of "$F" $n "$T_TMP/c$n"; put_chunk "$UPL" $n "$T_TMP/c$n"; is "$STATUS" 201 "chunk $n stored"; done
put_chunk "$UPL" 1 "$T_TMP/c1"
is "$STATUS" 200 "the same chunk again is a no-op"
is "$(jbody .again)" true "and says so"
req GET "/v1/uploads/$UPL" "" "$PKEY"
is "$(jq -c .received <"$BODY_FILE")" "[0,1]" "the server lists the chunks it has"
is "$(jbody .received_bytes)" $((2 * MiB)) "and their bytes"

# --- bad chunks and bad uploads, each refused with nothing changed -----------------------------------
chunk_of "$F" 2 "$T_TMP/c2"
head -c 1000 "$T_TMP/c2" >"$T_TMP/short"
cp "$T_TMP/c2" "$T_TMP/corrupt"; printf 'X' | dd of="$T_TMP/corrupt" bs=1 seek=500 conv=notrunc status=none
refused "a corrupt chunk" "$UPL" 400 Chunk-SHA256 invalid \
    put_chunk "$UPL" 2 "$T_TMP/corrupt" "$(sha256sum "$T_TMP/c2" | cut -d' ' -f1)"
refused "a short chunk" "$UPL" 400 body invalid put_chunk "$UPL" 2 "$T_TMP/short"
{ cat "$T_TMP/c2"; printf 'X'; } >"$T_TMP/long"
refused "a chunk longer than chunk_size" "$UPL" 400 body invalid put_chunk "$UPL" 2 "$T_TMP/long"
refused "a chunk out of range" "$UPL" 400 n invalid put_chunk "$UPL" 9 "$T_TMP/c2"
refused "a malformed digest" "$UPL" 400 Chunk-SHA256 invalid put_chunk "$UPL" 2 "$T_TMP/c2" xyz
refused "another provider's chunk" "$UPL" 404 id not-found put_chunk "$UPL" 2 "$T_TMP/c2" "" "$P2KEY"
refused "a different chunk 0" "$UPL" 409 n conflict put_chunk "$UPL" 0 "$T_TMP/c2"
refused "completing with chunks missing" "$UPL" 409 chunks wrong-state req POST "/v1/uploads/$UPL/complete" "" "$PKEY"
refused "a file over the size limit" "" 413 size too-large \
    req POST /v1/uploads "{\"product_id\":\"$PRD\",\"name\":\"big\",\"size\":9000000,\"sha256\":\"$SHA\"}" "$PKEY"
refused "chunks over 8 MiB" "" 413 chunk_size too-large \
    req POST /v1/uploads "{\"product_id\":\"$PRD\",\"name\":\"a\",\"size\":10,\"sha256\":\"$SHA\",\"chunk_size\":9000000}" "$PKEY"
refused "another provider's product" "" 403 product_id forbidden \
    req POST /v1/uploads "{\"product_id\":\"$PRD\",\"name\":\"a\",\"size\":10,\"sha256\":\"$SHA\"}" "$P2KEY"
refused "a bad digest" "" 400 sha256 invalid \
    req POST /v1/uploads "{\"product_id\":\"$PRD\",\"name\":\"a\",\"size\":10,\"sha256\":\"ABC\"}" "$PKEY"
refused "a name with a directory" "" 400 name invalid \
    req POST /v1/uploads "{\"product_id\":\"$PRD\",\"name\":\"../etc/passwd\",\"size\":10,\"sha256\":\"$SHA\"}" "$PKEY"
refused "an unknown field" "" 400 colour invalid \
    req POST /v1/uploads "{\"product_id\":\"$PRD\",\"name\":\"a\",\"size\":10,\"sha256\":\"$SHA\",\"colour\":1}" "$PKEY"

# --- `bourse upload` resumes: it finds the upload by SHA-256 and sends only chunks 2 and 3 ------------
OUT=$("$B" --key "$PKEY" --json upload "$F" --product "$PRD" --chunk-size $MiB 2>"$T_TMP/upload.err")
is $? 0 "bourse upload finishes the interrupted upload"
is "$(echo "$OUT" | jq -r .upload_id)" "$UPL" "the same upload"
is "$(echo "$OUT" | jq -c '[.resumed, .chunks_sent, .chunks_total]')" "[true,2,4]" "resumed, sending 2 of 4 chunks"
is "$(grep -c "PUT /v1/uploads/$UPL/chunks/[0-9]* 201" "$T_TMP/server.log")" 4 "the server stored each chunk once"
OBJ=$(echo "$OUT" | jq -r .id)
is "$(echo "$OUT" | jq -c '[.sha256 == "'"$SHA"'", .size, .format, .rows]')" "[true,$SIZE,\"csv\",100001]" "a csv object of the declared bytes"
req GET "/v1/uploads/$UPL" "" "$PKEY"
is "$(jbody .status),$(jbody .object_id)" "completed,$OBJ" "the upload is completed"
refused "a chunk after completion" "$UPL" 409 status wrong-state put_chunk "$UPL" 3 "$T_TMP/c2"
req GET "/v1/events?from=0&limit=1000" "" "$OPKEY"
is "$(jbody '[.items[] | select(.type == "object.stored")] | length')" 1 "one object.stored event"
is "$(jbody '[.items[] | select(.type == "object.stored")][0].leaf | fromjson | .body | [.sha256, .size] | @csv')" "\"$SHA\",$SIZE" "carrying the SHA-256 and size"
is "$(jbody '[.items[] | select(.type == "upload.started")] | length')" 1 "one upload.started event"

# --- the object and its content -------------------------------------------------------------------
req GET "/v1/objects/$OBJ" "" "$P2KEY"
is "$STATUS" 404 "another provider cannot see the object"
req GET "/v1/objects/$OBJ" "" "$OPKEY"
is "$STATUS,$(jbody .name)" "200,usage.csv" "the operator can"
STATUS=$(curl -s -D "$T_TMP/h" -o "$T_TMP/whole" -w '%{http_code}' -H "Authorization: Bearer $PKEY" "$BOURSE_URL/v1/objects/$OBJ/content")
is "$STATUS" 200 "the content, whole"
ok "is the uploaded file" cmp "$T_TMP/whole" "$F"
is "$(grep -i '^etag:' "$T_TMP/h" | tr -d '\r' | cut -d' ' -f2)" "\"$SHA\"" "with the SHA-256 as its ETag"
STATUS=$(curl -s -D "$T_TMP/h" -o "$T_TMP/part" -w '%{http_code}' -H "Range: bytes=1048000-1049999" -H "Authorization: Bearer $PKEY" "$BOURSE_URL/v1/objects/$OBJ/content")
is "$STATUS" 206 "a range across a chunk and record boundary"
dd if="$F" of="$T_TMP/want" bs=1000 skip=1048 count=2 status=none
ok "is those bytes" cmp "$T_TMP/part" "$T_TMP/want"
is "$(grep -i '^content-range:' "$T_TMP/h" | tr -d '\r' | cut -d' ' -f2-)" "bytes 1048000-1049999/$SIZE" "Content-Range"
STATUS=$(curl -s -o "$T_TMP/part" -w '%{http_code}' -H "Range: bytes=-19" -H "Authorization: Bearer $PKEY" "$BOURSE_URL/v1/objects/$OBJ/content")
is "$STATUS,$(cat "$T_TMP/part")" "206,SECRET-MARKER-7f3a" "a suffix range"
STATUS=$(curl -s -o "$T_TMP/part" -w '%{http_code}' -H "Range: bytes=0-9" -H 'If-Range: "0000"' -H "Authorization: Bearer $PKEY" "$BOURSE_URL/v1/objects/$OBJ/content")
is "$STATUS,$(stat -c %s "$T_TMP/part")" "200,$SIZE" "If-Range with another validator sends it whole"
STATUS=$(curl -s -D "$T_TMP/h" -o "$BODY_FILE" -w '%{http_code}' -H "Range: bytes=$SIZE-" -H "Authorization: Bearer $PKEY" "$BOURSE_URL/v1/objects/$OBJ/content")
is "$STATUS" 416 "a range past the end"
is "$(jbody .type)" "${P}range-not-satisfiable" "as a problem"
is "$(grep -i '^content-range:' "$T_TMP/h" | tr -d '\r' | cut -d' ' -f2-)" "bytes */$SIZE" "naming the size"

# --- resumable, verified fetches with the CLI --------------------------------------------------------
OUT=$("$B" --key "$PKEY" --json object fetch "$OBJ" -o "$T_TMP/fetched" 2>&1)
is "$?,$(echo "$OUT" | jq -c '[.verified, .resumed_from]')" "0,[true,0]" "object fetch, verified"
ok "the fetched file" cmp "$T_TMP/fetched" "$F"
head -c 1500000 "$F" >"$T_TMP/partial"
OUT=$("$B" --key "$PKEY" --json object fetch "$OBJ" -o "$T_TMP/partial" 2>&1)
is "$?,$(echo "$OUT" | jq -c '[.verified, .resumed_from]')" "0,[true,1500000]" "a partial file is continued with Range"
ok "into the whole file" cmp "$T_TMP/partial" "$F"
OUT=$("$B" --key "$PKEY" --json object fetch "$OBJ" -o "$T_TMP/partial" 2>&1)
is "$?,$(echo "$OUT" | jq -c .resumed_from)" "0,$SIZE" "a complete file is only verified"
head -c 1500000 "$F" | tr 'M' 'N' >"$T_TMP/bad"
"$B" --key "$PKEY" object fetch "$OBJ" -o "$T_TMP/bad" >"$T_TMP/out" 2>&1
is "$?" 1 "a corrupt partial file is caught"
ok "by its checksum" grep -q "is corrupt" "$T_TMP/out"
"$B" --key "$P2KEY" object fetch "$OBJ" -o "$T_TMP/none" >/dev/null 2>&1
is "$?" 3 "another provider's fetch: not found"

# --- identical content is stored once ------------------------------------------------------------
cp "$F" "$T_TMP/copy.csv"
OUT=$("$B" --key "$PKEY" --json upload "$T_TMP/copy.csv" --product "$PRD" --revision "$REV" 2>/dev/null)
OBJ2=$(echo "$OUT" | jq -r .id)
is "$(echo "$OUT" | jq -c '[.resumed, .chunks_total]')" "[false,1]" "a new upload (4 MiB default chunks)"
isnt "$OBJ2" "$OBJ" "makes a new object"
is "$(find "$T_DATA/objects" -type f | wc -l)" 1 "in the same file"

# --- nothing at rest reveals the data --------------------------------------------------------------
not_ok "no plaintext marker under the data directory" grep -r -a -q "SECRET-MARKER-7f3a" "$T_DATA"
not_ok "no plaintext row under the data directory" grep -r -a -q "M99999,2026" "$T_DATA"
not_ok "no file named by the content's SHA-256" sh -c "find '$T_DATA' | grep -q $SHA"

# --- another master key is refused; the right one still opens everything ---------------------------
stop_server
head -c 32 /dev/urandom >"$T_TMP/other.key"
"$BOURSE_BIN" serve --listen "127.0.0.1:$(free_port)" --data "$T_DATA" "${T_DB_ARGS[@]}" \
    --master-key "$T_TMP/other.key" >"$T_TMP/bad.out" 2>&1
is "$?" 1 "a server with another master key refuses to start"
ok "saying why" grep -q "not the one this exchange's objects are sealed with" "$T_TMP/bad.out"
"$BOURSE_BIN" serve --listen "127.0.0.1:$(free_port)" --data "$T_DATA" "${T_DB_ARGS[@]}" \
    --master-key "$T_TMP/absent.key" >"$T_TMP/bad.out" 2>&1
is "$?" 1 "a missing master key file is not created silently"
mv "$T_DATA/master.key" "$T_TMP/master.key"
start_server --master-key "$T_TMP/master.key"
STATUS=$(curl -s -o "$T_TMP/whole" -w '%{http_code}' -H "Authorization: Bearer $PKEY" "$BOURSE_URL/v1/objects/$OBJ/content")
is "$STATUS" 200 "with the key kept off the data directory"
ok "the content is intact" cmp "$T_TMP/whole" "$F"

# --- download tokens -------------------------------------------------------------------------------
TOK=bdt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
req GET "/v1/downloads/$TOK" "" -
is "$STATUS,$(jbody .type),$(jbody .field)" "404,${P}download-token-unknown,token" "an unknown token"
req GET "/v1/downloads/not-a-token" "" -
is "$STATUS,$(jbody .type)" "404,${P}download-token-unknown" "a malformed token"
"$B" download "$TOK" -o "$T_TMP/dl" >"$T_TMP/out" 2>&1
is "$?" 3 "bourse download reports an unknown token"
"$B" download "nonsense" -o "$T_TMP/dl" >/dev/null 2>&1
is "$?" 2 "and refuses what is neither a token nor a URL"
req POST /v1/contracts/ctr_aaaaaaaaaaaaaaaaaaaa/download-tokens '{}' "$PKEY"
is "$STATUS" 404 "no token for a contract that does not exist"
req DELETE /v1/download-tokens/dtk_aaaaaaaaaaaaaaaaaaaa "" "$PKEY"
is "$STATUS" 404 "nor a revocation of an unknown token"

# --- abandonment --------------------------------------------------------------------------------------
printf 'a,b\n1,2\n' >"$T_TMP/small.csv"
S2=$(sha256sum "$T_TMP/small.csv" | cut -d' ' -f1)
req POST /v1/uploads "{\"product_id\":\"$PRD\",\"name\":\"small.csv\",\"size\":8,\"sha256\":\"$S2\"}" "$PKEY"
UPL2=$(jbody .id)
put_chunk "$UPL2" 0 "$T_TMP/small.csv"
is "$STATUS" 201 "a chunk of a second upload"
ok "staged under uploads/" test -d "$T_DATA/uploads/$UPL2"
not_ok "sealed at rest" grep -r -a -q "1,2" "$T_DATA/uploads/$UPL2"
req DELETE "/v1/uploads/$UPL2" "" "$P2KEY"
is "$STATUS" 404 "another provider cannot abandon it"
req DELETE "/v1/uploads/$UPL2" "" "$PKEY"
is "$STATUS,$(jbody .status)" "200,abandoned" "abandoned"
not_ok "its chunks are removed" test -e "$T_DATA/uploads/$UPL2"
refused "completing an abandoned upload" "$UPL2" 409 status wrong-state req POST "/v1/uploads/$UPL2/complete" "" "$PKEY"
req GET "/v1/uploads?sha256=$S2" "" "$PKEY"
is "$(jbody '.items | length')" 0 "it is no longer offered for resuming"

done_testing
