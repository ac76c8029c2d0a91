#!/usr/bin/env bash
# Crash test for the transparency log: kill -9 the server in the middle of a burst of
# appends, restart, and check that every acknowledged entry is present, every checkpoint
# issued before the crash is consistent with the new one, and `bourse log audit` passes.
. "$(dirname "$0")/lib.sh"
start_server
B=$BOURSE_BIN
export BOURSE_KEY_FILE="$T_DATA/operator.key"
"$B" log key --out "$T_TMP/log.vkey" >/dev/null || bail "log key"
mkdir -p "$T_TMP/cps"

# burst WORKER COUNT: applies COUNT entities, recording each acknowledged id.
burst() {
    local w=$1 n=$2 i body code
    for ((i = 0; i < n; i++)); do
        body=$(jq -cn --arg u "$(uscc_random)" --arg n "crash $w-$i" --arg p "$PK" \
            '{kind:"buyer", name:$n, uscc:$u, country:"CN", public_key:$p,
              contact:{name:"x", email:"x@example.cn"}}')
        code=$(curl -s -o "$T_TMP/b$w" -w '%{http_code}' --max-time 5 -X POST \
            -H 'Content-Type: application/json' --data-binary "$body" "$BOURSE_URL/v1/entities")
        [ "$code" = 201 ] && jq -r .id <"$T_TMP/b$w" >>"$T_TMP/acked"
        [ "$code" = 000 ] && return 0
    done
}

# saver: keeps every checkpoint it sees until the server dies.
saver() {
    local k=0
    while curl -sf --max-time 1 "$BOURSE_URL/log/checkpoint" -o "$T_TMP/cps/$ROUND-$k"; do
        k=$((k + 1)); sleep 0.05
    done
    rm -f "$T_TMP/cps/$ROUND-$k"
}

PK=$(new_pubkey crash)
: >"$T_TMP/acked"
for ROUND in 1 2 3; do
    burst a 400 & A=$!
    burst b 400 & Bp=$!
    saver & S=$!
    sleep "0.$((3 + RANDOM % 7))"
    kill9_server
    wait $A $Bp $S 2>/dev/null
    start_server
    ACKED=$(wc -l <"$T_TMP/acked")
    MISSING=0
    while read -r id; do
        req GET "/v1/entities/$id"
        [ "$STATUS" = 200 ] || MISSING=$((MISSING + 1))
    done <"$T_TMP/acked"
    is "$MISSING" 0 "round $ROUND: all $ACKED acknowledged entries survive kill -9"
    # The restarted server integrates what was committed; wait for the log to cover it.
    for _ in $(seq 50); do
        SIZE=$(curl -s "$BOURSE_URL/v1/log/checkpoint" | jq -r .tree_size)
        N=$(curl -s -H "Authorization: Bearer $OPKEY" "$BOURSE_URL/v1/events?from=$((SIZE > 0 ? SIZE - 1 : 0))&limit=1000" | jq '.items | length')
        [ "$N" -le 1 ] && break
        sleep 0.1
    done
    BAD=0
    for cp in "$T_TMP"/cps/*; do
        [ -s "$cp" ] || continue
        "$B" log verify --log-key @"$T_TMP/log.vkey" --old-checkpoint "$cp" >/dev/null 2>&1 || BAD=$((BAD + 1))
    done
    is "$BAD" 0 "round $ROUND: every checkpoint issued before is consistent with the new one ($(ls "$T_TMP/cps" | wc -l) checked)"
    ok "round $ROUND: log audit passes" "$B" log audit --log-key @"$T_TMP/log.vkey"
done

done_testing
