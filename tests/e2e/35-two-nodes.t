#!/usr/bin/env bash
# Two `bourse serve` nodes on one PostgreSQL database are one exchange (README, "Several nodes
# on PostgreSQL"): writes through either are read through both, an idempotency key holds
# across them, exactly one node sequences the log and the other serves it all the same; when
# the leader is killed the other takes over within seconds, and every checkpoint issued before
# stays consistent with the later ones. A node with other key files refuses to start, and two
# nodes starting together on an empty database create one operator.
if [ "${BOURSE_TEST_PG:-0}" != 1 ]; then
    echo "1..0 # SKIP postgres only"
    exit 0
fi
. "$(dirname "$0")/lib.sh"
B=$BOURSE_BIN
W=$T_TMP/w
mkdir -p "$W"
KEY_FILES=(secret.key log.key operator.ed25519 master.key)

# start_node NAME DATA [DB]: starts another server on the script's database (or DB); sets
# NODE_PID and NODE_URL; bails if it does not answer /healthz within 10 s.
start_node() {
    local port
    port=$(free_port) || bail "no free port"
    "$B" serve --listen "127.0.0.1:$port" --data "$2" --db "${3:-$BOURSE_DB}" \
        >>"$T_TMP/$1.out" 2>>"$T_TMP/$1.log" &
    NODE_PID=$!
    NODE_URL="http://127.0.0.1:$port"
    at_exit "kill -9 $NODE_PID 2>/dev/null; wait $NODE_PID 2>/dev/null"
    for _ in $(seq 1 100); do
        curl -sf "$NODE_URL/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$NODE_PID" 2>/dev/null || bail "node $1 exited: $(tail -n 3 "$T_TMP/$1.log")"
        sleep 0.1
    done
    bail "node $1 did not answer /healthz"
}

# keys_to DIR: a data directory holding copies of node A's key files.
keys_to() {
    mkdir -p -m 700 "$1"
    local f
    for f in "${KEY_FILES[@]}"; do cp -p "$T_DATA/$f" "$1/$f"; done
}

leads() { curl -sf "$1/healthz" | jq -r .log_leader; }
log_size() { curl -sf "$1/log/checkpoint" | sed -n 2p; }

# wait_covers INDEX URL [TRIES]: waits (0.1 s a try, default 50) for a checkpoint covering INDEX.
wait_covers() {
    local size
    for _ in $(seq 1 "${3:-50}"); do
        size=$(log_size "$2")
        [ -n "$size" ] && [ "$size" -gt "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# ---- node A, then node B with A's key files ---------------------------------------------------
start_server
A_URL=$BOURSE_URL
B_DATA=$T_TMP/node-b
keys_to "$B_DATA"
start_node b "$B_DATA"
B_PID=$NODE_PID
B_URL=$NODE_URL
is "$(curl -sf "$B_URL/healthz" | jq -r .store)" postgres "node B runs on the same PostgreSQL"
ok "node B found the operator instead of creating one" \
    grep -q "in the data directory of the node that created the operator" "$T_TMP/b.out"
is "$(leads "$A_URL") $(leads "$B_URL")" "true false" "exactly one node leads the log: A, first up"
grep -q "this node is the leader" "$T_TMP/server.log"
is $? 0 "A logs that it leads"
grep -q "another node sequences the log" "$T_TMP/b.log"
is $? 0 "B logs that it follows"
is "$(curl -sf "$B_URL/log/key")" "$(curl -sf "$A_URL/log/key")" "both serve the same log key"
curl -sf "$A_URL/log/key" >"$W/log.key"
KEY="@$W/log.key"
export BOURSE_KEY_FILE="$T_DATA/operator.key"

# ---- writes through both, alternately; reads through both -------------------------------------
URLS=("$A_URL" "$B_URL")
IDS=()
for i in 0 1 2 3 4 5; do
    BOURSE_URL=${URLS[$((i % 2))]} new_entity provider "两节点 $i"
    IDS+=("$EID")
    BOURSE_URL=${URLS[$(((i + 1) % 2))]} req POST "/v1/entities/$EID/review" \
        '{"decision":"verify","reason":"checked on the other node"}'
    [ "$STATUS" = 200 ] || bail "verify through the other node failed: $STATUS"
    LAST=$(jbody .log_index)
done
pass "six entities applied and verified, each through both nodes"
SAME=0
for id in "${IDS[@]}"; do
    a=$(BOURSE_URL=$A_URL req GET "/v1/entities/$id" && jq -S . <"$BODY_FILE")
    b=$(BOURSE_URL=$B_URL req GET "/v1/entities/$id" && jq -S . <"$BODY_FILE")
    [ "$a" = "$b" ] && [ "$(jq -r .status <<<"$a")" = verified ] && SAME=$((SAME + 1))
done
is "$SAME" 6 "both nodes serve the same, verified entities"
LIST_A=$(BOURSE_URL=$A_URL snapshot)
LIST_B=$(BOURSE_URL=$B_URL snapshot)
is "$LIST_B" "$LIST_A" "and the same entity list"

# An Idempotency-Key used through A replays through B.
IDEM_BODY=$(apply_json buyer "幂等 buyer")
idem_post() {
    curl -s -D "$W/h$2" -o "$W/b$2" -w '%{http_code}' -X POST -H "Idempotency-Key: two-nodes-1" \
        -H "Authorization: Bearer $OPKEY" -H 'Content-Type: application/json' \
        --data-binary "$IDEM_BODY" "$1/v1/entities"
}
is "$(idem_post "$A_URL" 1)" 201 "a keyed application through A"
is "$(idem_post "$B_URL" 2)" 201 "the same key through B answers the stored 201"
grep -qi '^idempotency-replayed: true' "$W/h2"
is $? 0 "as a replay"
is "$(jq -r .id "$W/b2")" "$(jq -r .id "$W/b1")" "of the same entity"

# ---- the follower serves the log and proofs ---------------------------------------------------
wait_covers "$LAST" "$B_URL" || bail "no checkpoint covered entry $LAST within 5 s"
ok "the follower's checkpoint verifies" "$B" --url "$B_URL" log checkpoint --log-key "$KEY" \
    --out "$W/cp1"
ok "the follower proves an entry's inclusion" "$B" --url "$B_URL" log verify --log-key "$KEY" \
    --index "$LAST"
ok "the leader's newest checkpoint is consistent with the follower's" \
    "$B" --url "$A_URL" log verify --log-key "$KEY" --old-checkpoint "$W/cp1"

# ---- kill -9 the leader ----------------------------------------------------------------------
BOURSE_URL=$A_URL new_entity provider "before the kill" verify
LAST=$(jbody .log_index)
wait_covers "$LAST" "$A_URL" || bail "no checkpoint covered entry $LAST within 5 s"
ok "save a checkpoint from the leader" "$B" --url "$A_URL" log checkpoint --log-key "$KEY" \
    --out "$W/cp2"
kill9_server
T0=$(date +%s%N)
for i in 1 2 3; do
    BOURSE_URL=$B_URL new_entity buyer "after the kill $i" verify
done
LAST=$(jbody .log_index)
wait_covers "$LAST" "$B_URL" 50
is $? 0 "within 5 s of the kill, writes through the survivor are in a new checkpoint"
MS=$((($(date +%s%N) - T0) / 1000000))
echo "# takeover and integration of 6 writes: $MS ms after the kill"
is "$(leads "$B_URL")" true "the survivor now leads the log"
grep -q "this node is the leader" "$T_TMP/b.log"
is $? 0 "and says so in its log"
ok "save the survivor's checkpoint" "$B" --url "$B_URL" log checkpoint --log-key "$KEY" \
    --out "$W/cp3"
for cp in cp1 cp2 cp3; do
    ok "checkpoint $cp is consistent with the newest" \
        "$B" --url "$B_URL" log verify --log-key "$KEY" --old-checkpoint "$W/$cp"
done
ok "log audit passes on the survivor" "$B" --url "$B_URL" log audit --log-key "$KEY"

# ---- the old leader returns as a follower -----------------------------------------------------
start_server
A_URL=$BOURSE_URL
is "$(leads "$A_URL") $(leads "$B_URL")" "false true" "the restarted node follows"
BOURSE_URL=$A_URL new_entity provider "through the returned node"
LAST=$(jbody .log_index)
wait_covers "$LAST" "$A_URL" 50
is $? 0 "its writes are integrated by the leader"
ok "and every checkpoint stays consistent" \
    "$B" --url "$A_URL" log verify --log-key "$KEY" --old-checkpoint "$W/cp3"

# ---- a node with other key files refuses to start ----------------------------------------------
# refused NAME FILE: a node whose FILE is its own (made afresh) must exit non-zero naming it.
refused() {
    local dir=$T_TMP/node-$1 port rc
    keys_to "$dir"
    rm "$dir/$2"
    port=$(free_port) || bail "no free port"
    timeout 20 "$B" serve --listen "127.0.0.1:$port" --data "$dir" --db "$BOURSE_DB" \
        >"$T_TMP/$1.out" 2>"$T_TMP/$1.log"
    rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "'$dir/$2' is not the key" "$T_TMP/$1.log"
}
ok "a node with another log.key refuses to start, naming it" refused other-log log.key
ok "a node with another secret.key refuses to start, naming it" refused other-secret secret.key
ok "a node with another operator key refuses to start, naming it" \
    refused other-operator operator.ed25519
ok "the exchange serves on" curl -sf "$B_URL/healthz"
ok "and its log still passes the audit" "$B" --url "$B_URL" log audit --log-key "$KEY"

# ---- two nodes starting together on an empty database ------------------------------------------
FRESH="${T_PG_DB}_fresh"
pg_admin "CREATE DATABASE $FRESH" || bail "cannot create $FRESH"
at_exit "pg_admin 'DROP DATABASE IF EXISTS $FRESH WITH (FORCE)' >/dev/null 2>&1"
FRESH_URL=$(pg_url_for "$FRESH")
FRESH_URLS=()
PIDS=()
for n in 1 2; do
    keys_to "$T_TMP/fresh-$n"
    P=$(free_port) || bail "no free port"
    "$B" serve --listen "127.0.0.1:$P" --data "$T_TMP/fresh-$n" --db "$FRESH_URL" \
        >>"$T_TMP/fresh-$n.out" 2>>"$T_TMP/fresh-$n.log" &
    PIDS+=($!)
    at_exit "kill -9 $! 2>/dev/null; wait $! 2>/dev/null"
    FRESH_URLS+=("http://127.0.0.1:$P")
done
UP=0
for _ in $(seq 1 100); do
    UP=0
    for u in "${FRESH_URLS[@]}"; do curl -sf "$u/healthz" >/dev/null 2>&1 && UP=$((UP + 1)); done
    [ "$UP" = 2 ] && break
    sleep 0.1
done
is "$UP" 2 "two nodes started together on an empty database both serve"
is "$(ls "$T_TMP"/fresh-*/operator.key 2>/dev/null | wc -l)" 1 \
    "exactly one of them created the operator and its key"
FRESH_KEY=$(cat "$T_TMP"/fresh-*/operator.key)
for u in "${FRESH_URLS[@]}"; do
    N=$(BOURSE_URL=$u OPKEY=$FRESH_KEY snapshot | jq '[.items[] | select(.kind == "operator")] | length')
    is "$N" 1 "$u sees one operator"
done
ROLES=$(for u in "${FRESH_URLS[@]}"; do leads "$u"; done | sort | tr '\n' ' ')
is "$ROLES" "false true " "one of them leads the log"

done_testing
