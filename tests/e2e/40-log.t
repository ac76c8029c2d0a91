#!/usr/bin/env bash
# The transparency log through the CLI (docs/cli.md, docs/log-format.md): the key and the
# checkpoint; an entry's inclusion proof verified offline with the server stopped, and refused
# when the leaf, the proof, the checkpoint or the key is wrong; consistency between two saved
# checkpoints; a monitor (`log watch`) that follows the log and raises an ALERT against a
# forked log signed with the same key; a full audit; and an independent check of the tree
# and of a proof by a Python script written from RFC 9162 alone.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || bail "python3 is missing (scripts/deps.sh installs it)"
start_server
B=$BOURSE_BIN
W=$T_TMP/w
mkdir -p "$W"
export BOURSE_KEY_FILE="$T_DATA/operator.key"
# A test key of docs/log-format.md: well-formed, but not this log's.
OTHER_KEY='bourse.example/log+278006fc+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS'

# log_size [URL]: the tree size of the newest checkpoint.
log_size() { curl -sf "${1:-$BOURSE_URL}/log/checkpoint" | sed -n 2p; }

# wait_covers INDEX [URL]: waits at most 5 s for a checkpoint that includes entry INDEX.
wait_covers() {
    local size
    for _ in $(seq 1 50); do
        size=$(log_size "${2:-}")
        [ -n "$size" ] && [ "$size" -gt "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# apply_logged NAME: registers a provider; sets LOG_INDEX from the answer's log_index.
apply_logged() {
    req POST /v1/entities "$(apply_json provider "$1")" -
    [ "$STATUS" = 201 ] || bail "apply failed: $STATUS $(cat "$BODY_FILE")"
    LOG_INDEX=$(jbody .log_index)
}

# flip_line FILE N: a copy of FILE with the first character of line N changed, on stdout.
flip_line() {
    awk -v n="$2" 'NR == n { $0 = (substr($0, 1, 1) == "A" ? "B" : "A") substr($0, 2) } { print }' "$1"
}

for i in 1 2 3; do new_entity provider "日志测试 $i" verify; done
apply_logged "logged provider"
I=$LOG_INDEX
isnt "$I" null "an application's answer names its log index"

# ---- key and checkpoint ----
ok "log key saves the verifier key" "$B" log key --out "$W/log.key"
is "$(cat "$W/log.key")" "$(curl -sf "$BOURSE_URL/log/key")" "the saved key is the served key"
KEY="@$W/log.key"
"$B" log key --out "$W/log.key" >/dev/null 2>&1
is $? 4 "log key --out refuses to overwrite"
ok "log checkpoint verifies under the pinned key" "$B" log checkpoint --log-key "$KEY"
ORIGIN=$(cut -d+ -f1 "$W/log.key")
is "$("$B" log checkpoint --log-key "$(cat "$W/log.key")" | head -n 1)" "$ORIGIN" \
    "the checkpoint's origin is the key's name"
"$B" log checkpoint --log-key "$OTHER_KEY" >"$W/out" 2>&1
is $? 1 "a checkpoint under another key exits 1"
grep -q "^error: signature: " "$W/out"
is $? 0 "and names the signature"

# ---- inclusion, verified offline with the server stopped ----
wait_covers "$I" || bail "no checkpoint covered entry $I within 5 s"
ok "log prove downloads the inclusion proof" "$B" log prove --index "$I" --out "$W/proof"
ok "log entry --out saves the leaf" "$B" log entry "$I" --out "$W/leaf"
is "$(jq -r .seq "$W/leaf")" "$I" "the leaf is the event at that index"
is "$(jq -r .type "$W/leaf")" "entity.applied" "of the application"
stop_server
# A URL where nothing listens: a verification that tried the network would exit 7.
OFF=(--url http://127.0.0.1:1)
verify_off() { "$B" "${OFF[@]}" log verify --log-key "${VKEY:-$KEY}" "$@" >"$W/out" 2>&1; }
verify_off --proof "$W/proof" --leaf "$W/leaf"
is $? 0 "the proof verifies offline with the server stopped"
grep -q "^verified: *entry $I is in the log" "$W/out"
is $? 0 "and says which entry"
verify_off --proof "$W/proof" --leaf-hash "$(python3 -c 'import base64,hashlib,sys
print(base64.b64encode(hashlib.sha256(b"\0" + open(sys.argv[1], "rb").read()).digest()).decode())' "$W/leaf")"
is $? 0 "--leaf-hash of the same leaf verifies"

sed 's/"entity.applied"/"entity.applieD"/' "$W/leaf" >"$W/leaf.bad"
verify_off --proof "$W/proof" --leaf "$W/leaf.bad"
is $? 1 "a tampered leaf exits 1"
grep -q "^error: proof: " "$W/out"
is $? 0 "and names the proof"
flip_line "$W/proof" 3 >"$W/proof.bad"
verify_off --proof "$W/proof.bad" --leaf "$W/leaf"
is $? 1 "a tampered proof hash exits 1"
BLANK=$(grep -n '^$' "$W/proof" | head -n 1 | cut -d: -f1)
flip_line "$W/proof" $((BLANK + 3)) >"$W/proof.bad"
verify_off --proof "$W/proof.bad" --leaf "$W/leaf"
is $? 1 "a tampered checkpoint root exits 1"
grep -q "^error: signature: " "$W/out"
is $? 0 "and names the signature"
VKEY=$OTHER_KEY verify_off --proof "$W/proof" --leaf "$W/leaf"
is $? 1 "the wrong key exits 1"
sed "s/^index $I\$/index 99999/" "$W/proof" >"$W/proof.bad"
verify_off --proof "$W/proof.bad" --leaf "$W/leaf"
is $? 1 "an index beyond the tree exits 1"
grep -q "^error: index beyond size" "$W/out"
is $? 0 "and says so"
"$B" "${OFF[@]}" log verify --proof "$W/proof" --leaf "$W/leaf" >/dev/null 2>&1
is $? 2 "offline verification without --log-key is a usage error"

# ---- consistency between two checkpoints ----
start_server
ok "save checkpoint A" "$B" log checkpoint --log-key "$KEY" --out "$W/cpA"
SIZE_A=$(sed -n 2p "$W/cpA")
for i in 4 5; do new_entity provider "日志测试 $i" verify; done
apply_logged "later provider"
wait_covers "$LOG_INDEX" || bail "no checkpoint covered entry $LOG_INDEX within 5 s"
ok "save checkpoint B" "$B" log checkpoint --log-key "$KEY" --out "$W/cpB"
SIZE_B=$(sed -n 2p "$W/cpB")
ok "log prove --from A --to B" "$B" log prove --from "$SIZE_A" --to "$SIZE_B" --out "$W/consAB"
verify_off --old-checkpoint "$W/cpA" --consistency "$W/consAB"
is $? 0 "A to B verifies offline"
grep -q "the tree of $SIZE_A entries is a prefix of the tree of $SIZE_B" "$W/out"
is $? 0 "and says so"
verify_off --old-checkpoint "$W/cpB" --consistency "$W/consAB"
is $? 1 "B to A is refused"
not_ok "the server has no proof from B back to A" \
    "$B" log prove --from "$SIZE_B" --to "$SIZE_A" --out "$W/consBA"
ok "online: entry and consistency against the newest checkpoint" \
    "$B" log verify --log-key "$KEY" --index "$I" --old-checkpoint "$W/cpA"
"$B" log verify --index "$I" >"$W/out" 2>&1
is $? 0 "online verification with the served key works"
grep -q "^warning: the log key was not pinned" "$W/out"
is $? 0 "but warns that the key was not pinned"

# ---- watch: follows the log, and alerts on a fork ----
ok "watch pins the key and the checkpoint" "$B" log watch --state "$W/watch" --log-key "$KEY" --once
new_entity provider "日志测试 6" verify
apply_logged "watched provider"
wait_covers "$LOG_INDEX" || bail "no checkpoint covered entry $LOG_INDEX within 5 s"
"$B" log watch --state "$W/watch" --once >"$W/out" 2>&1
is $? 0 "watch follows new writes"
grep -q " ok: grew from " "$W/out"
is $? 0 "and reports the growth"
ok "watch again: unchanged or grown" "$B" log watch --state "$W/watch" --once
cp "$W/watch" "$W/watch.before"

# A second exchange with the same log key and origin but its own history.
F_DATA=$T_TMP/fork
mkdir -p "$F_DATA"
cp "$T_DATA/log.key" "$F_DATA/log.key"
F_PORT=$(free_port) || bail "no free port"
F_URL="http://127.0.0.1:$F_PORT"
env -u BOURSE_DB "$B" serve --listen "127.0.0.1:$F_PORT" --data "$F_DATA" >>"$T_TMP/fork.log" 2>&1 &
F_PID=$!
at_exit "kill -9 $F_PID 2>/dev/null; wait $F_PID 2>/dev/null"
for _ in $(seq 1 100); do curl -sf "$F_URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
is "$(curl -sf "$F_URL/log/key")" "$(cat "$W/log.key")" "the fork serves the same log key"
MAIN_SIZE=$(log_size)
for i in $(seq 1 $((MAIN_SIZE + 2))); do
    BOURSE_URL=$F_URL req POST /v1/entities "$(apply_json provider "fork $i")" -
    [ "$STATUS" = 201 ] || bail "fork apply failed: $STATUS"
done
wait_covers "$((MAIN_SIZE + 1))" "$F_URL" || bail "the fork's log did not grow"
# The fork does not know the operator's API key, and the log needs none.
BOURSE_KEY_FILE="" "$B" --url "$F_URL" log watch --state "$W/watch" --once >"$W/out" 2>"$W/alert"
is $? 1 "watch against the forked log exits 1"
grep -q "^ALERT: " "$W/alert"
is $? 0 "with an ALERT"
cmp -s "$W/watch" "$W/watch.before"
is $? 0 "and leaves the state file alone"
BOURSE_KEY_FILE="" "$B" --url "$F_URL" log verify --log-key "$KEY" --old-checkpoint "$W/cpB" >/dev/null 2>&1
is $? 1 "verify --old-checkpoint against the fork exits 1"
kill -TERM "$F_PID"
wait "$F_PID"

kill9_server
start_server
ok "after kill -9 and a restart the real log still passes watch" \
    "$B" log watch --state "$W/watch" --once
"$B" log watch --state "$W/watch" --interval 1 >"$W/loop" 2>&1 &
WATCH_PID=$!
sleep 1.5
kill -TERM "$WATCH_PID"
wait "$WATCH_PID"
is $? 0 "watch in a loop stops cleanly on SIGTERM"
ROUNDS=$(grep -c ' ok: ' "$W/loop")
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 3 ]
is $? 0 "after a round a second ($ROUNDS rounds)"

# ---- audit ----
ok "log audit with the operator key" "$B" log audit --log-key "$KEY"
"$B" log audit --log-key "$KEY" >"$W/out" 2>&1
grep -q "^verified: .* match /v1/events and the root; [0-9]* hash tiles match" "$W/out"
is $? 0 "audit reports what it checked"
BOURSE_KEY_FILE="" "$B" log audit --log-key "$KEY" >/dev/null 2>&1
is $? 5 "audit without a key exits 5"

# ---- an independent check ----
ok "Python recomputes the root and verifies a proof by RFC 9162" \
    python3 "$(dirname "$0")/tools/log_check.py" "$BOURSE_URL" "$I"

done_testing
