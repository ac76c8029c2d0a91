#!/usr/bin/env bash
# A frozen log leader (SIGSTOP: its process stops but its connection stays open, so the kernel
# keeps answering TCP keepalives) loses the leadership within seconds, because the server ends
# its idle session (idle_session_timeout, postgres.c); the other node takes over and integrates
# the writes made meanwhile. When the old leader resumes (SIGCONT) it finds its session gone,
# follows, and never integrates beside the new leader: exactly one node leads, and every
# checkpoint stays consistent (docs/decisions/0002-postgres-isolation.md).
if [ "${BOURSE_TEST_PG:-0}" != 1 ]; then
    echo "1..0 # SKIP postgres only"
    exit 0
fi
. "$(dirname "$0")/lib.sh"
B=$BOURSE_BIN
W=$T_TMP/w
mkdir -p "$W"

leads() { curl -sf --max-time 2 "$1/healthz" | jq -r .log_leader; }
log_size() { curl -sf --max-time 2 "$1/log/checkpoint" | sed -n 2p; }
wait_covers() { # INDEX URL [TRIES]
    local size
    for _ in $(seq 1 "${3:-50}"); do
        size=$(log_size "$2")
        [ -n "$size" ] && [ "$size" -gt "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

start_server
A_URL=$BOURSE_URL
A_PID=$SERVER_PID
mkdir -p -m 700 "$T_TMP/node-b"
cp -p "$T_DATA"/*.key "$T_DATA"/*.ed25519 "$T_TMP/node-b/" # every node needs the same keys
P=$(free_port) || bail "no free port"
"$B" serve --listen "127.0.0.1:$P" --data "$T_TMP/node-b" --db "$BOURSE_DB" \
    >>"$T_TMP/b.out" 2>>"$T_TMP/b.log" &
B_PID=$!
at_exit "kill -CONT $A_PID 2>/dev/null; kill -9 $B_PID 2>/dev/null; wait $B_PID 2>/dev/null"
B_URL="http://127.0.0.1:$P"
for _ in $(seq 1 100); do curl -sf "$B_URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
is "$(leads "$A_URL") $(leads "$B_URL")" "true false" "A leads, B follows"
curl -sf "$A_URL/log/key" >"$W/log.key"
KEY="@$W/log.key"
export BOURSE_KEY_FILE="$T_DATA/operator.key"

BOURSE_URL=$A_URL new_entity provider "冻结前 before the freeze"
LAST=$(jbody .log_index)
wait_covers "$LAST" "$A_URL" || bail "no checkpoint covered entry $LAST"
ok "save the leader's checkpoint" "$B" --url "$A_URL" log checkpoint --log-key "$KEY" --out "$W/cp1"

# ---- freeze the leader ----------------------------------------------------------------------
kill -STOP "$A_PID"
T0=$(date +%s%N)
for i in 1 2 3; do
    BOURSE_URL=$B_URL new_entity buyer "冻结中 during the freeze $i"
done
LAST=$(jbody .log_index)
pass "writes go on through B while A is frozen"
TOOK=""
for _ in $(seq 1 100); do
    if [ "$(leads "$B_URL")" = true ]; then TOOK=$((($(date +%s%N) - T0) / 1000000)); break; fi
    sleep 0.1
done
echo "# B took over $TOOK ms after A froze"
ok "B takes over within 6 s of the freeze" test -n "$TOOK" -a "${TOOK:-99999}" -le 6000
wait_covers "$LAST" "$B_URL" 50
is $? 0 "and integrates the writes made meanwhile"
ok "save the new leader's checkpoint" "$B" --url "$B_URL" log checkpoint --log-key "$KEY" \
    --out "$W/cp2"
ok "which is consistent with the frozen leader's last one" \
    "$B" --url "$B_URL" log verify --log-key "$KEY" --old-checkpoint "$W/cp1"

# ---- resume it -------------------------------------------------------------------------------
kill -CONT "$A_PID"
ROLES=""
for _ in $(seq 1 30); do
    ROLES="$(leads "$A_URL") $(leads "$B_URL")"
    [ "$ROLES" = "false true" ] && break
    sleep 0.1
done
is "$ROLES" "false true" "after SIGCONT the old leader follows: exactly one leads"
# Whatever it was doing when frozen, it says it lost the lock and takes it no more.
grep -q "released the log leader lock\|no longer leads\|another node sequences the log" \
    "$T_TMP/server.log"
is $? 0 "the old leader logs that it lost the leadership"
BOURSE_URL=$A_URL new_entity provider "解冻后 after the thaw" verify
LAST=$(jbody .log_index)
wait_covers "$LAST" "$A_URL" 50
is $? 0 "writes through the resumed node are integrated by the new leader"
for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ "$(leads "$A_URL") $(leads "$B_URL")" = "false true" ] || { fail "roles changed"; break; }
    sleep 0.2
done
pass "for two seconds the roles stay put"
for cp in cp1 cp2; do
    ok "checkpoint $cp is consistent with the newest (through A)" \
        "$B" --url "$A_URL" log verify --log-key "$KEY" --old-checkpoint "$W/$cp"
done
ok "the log passes the audit" "$B" --url "$B_URL" log audit --log-key "$KEY"
N=$(grep -c "this node is the leader" "$T_TMP/server.log")
is "$N" 1 "A led once, and never again after it resumed"
done_testing
