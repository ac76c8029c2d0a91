#!/usr/bin/env bash
# Rate limits and idempotency retention (docs/decisions/0006-rate-limits.md): with a low limit
# a caller gets its burst, then 429 problems with Retry-After, and a refused mutation changes
# nothing; entities and anonymous addresses have separate buckets; /healthz is never limited;
# --rate-limit 0 turns limits off; bad settings stop the server. An idempotency key replays
# within --idempotency-ttl and is free after it, and the leader purges expired keys. On
# PostgreSQL, requests spread over two nodes are limited as one.
. "$(dirname "$0")/lib.sh"
B=$BOURSE_BIN

hdr() { curl -s -D - -o /dev/null "$@" | tr -d '\r'; }
# The log's size, read with the new entity's key so that neither the operator's bucket nor the
# address's is touched; a 429 of its own bucket is waited out.
log_size() {
    local size
    for _ in 1 2 3 4 5; do
        size=$(curl -sf -H "Authorization: Bearer $EKEY" "$BOURSE_URL/log/checkpoint" | sed -n 2p)
        [ -n "$size" ] && { echo "$size"; return; }
        sleep 1
    done
}
pg_admin_db() { "$(pg_bin psql)" -X -q -t -A -v ON_ERROR_STOP=1 -d "$BOURSE_DB" -c "$1"; }
# settle: waits until the log's checkpoint stops growing, then prints its size.
settle() {
    local a b
    a=$(log_size)
    for _ in $(seq 1 30); do
        sleep 0.3
        b=$(log_size)
        [ "$a" = "$b" ] && { echo "$b"; return; }
        a=$b
    done
    echo "$b"
}

# ---- bad settings stop the server, naming the setting ------------------------------------------
bad_start() { # DESC FIELD ENV... -- ARGS...
    local desc=$1 field=$2 out rc
    shift 2
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    out=$(env "${envs[@]}" timeout 10 "$B" serve --listen 127.0.0.1:1 --data "$T_TMP/bad" "$@" 2>&1)
    rc=$?
    if [ "$rc" = 2 ] && grep -q "$field" <<<"$out"; then pass "$desc"; else
        fail "$desc" "exit $rc: $out"
    fi
}
bad_start "--rate-limit -1 is refused" rate_limit -- --rate-limit -1
bad_start "--rate-limit 1e3 is refused" rate_limit -- --rate-limit 1e3
bad_start "BOURSE_RATE_LIMIT=abc is refused" rate_limit BOURSE_RATE_LIMIT=abc --
bad_start "--rate-burst 0 is refused" rate_burst -- --rate-burst 0
bad_start "--idempotency-ttl 5x is refused" idempotency_ttl -- --idempotency-ttl 5x
bad_start "--idempotency-ttl 0s is refused" idempotency_ttl -- --idempotency-ttl 0s
ok "no data directory was made by a refused start" test ! -e "$T_TMP/bad/bourse.db"

# ---- one node, 1 request a second with a burst of 3 ---------------------------------------------
start_server --rate-limit 1 --rate-burst 3
new_entity provider "限流 provider"
SIZE0=$(settle)
ok "the log has the application" test -n "$SIZE0"
sleep 3 # every bucket full again
for i in 1 2 3; do
    req GET "/v1/entities/$EID"
    [ "$STATUS" = 200 ] || fail "read $i of the burst" "status $STATUS"
done
ST0=$(jbody .status)
pass "a burst of 3 authenticated reads is served"
# A refused mutation changes nothing: the entity stays as it was and the log does not grow.
req POST "/v1/entities/$EID/review" '{"decision":"verify","reason":"refused by the limit"}'
is "$STATUS $(jbody .type)" "429 https://bourse.dev/problems/rate-limited" "a review over the limit is 429"
H=$(hdr -H "Authorization: Bearer $OPKEY" "$BOURSE_URL/v1/entities/$EID")
is "$(sed -n 1p <<<"$H" | awk '{print $2}')" 429 "a read is 429 too"
is "$(grep -i '^retry-after:' <<<"$H" | awk '{print $2}')" 1 "with Retry-After: 1"
grep -qi '^content-type: application/problem+json' <<<"$H"
is $? 0 "as application/problem+json"
req GET "/v1/entities/$EID"
is "$STATUS $(jbody .type) $(jbody .status) $(jbody .retry_after)" \
    "429 https://bourse.dev/problems/rate-limited 429 1" "the problem names the type and the wait"
is "$(settle)" "$SIZE0" "the refused review appended nothing to the log"
sleep 1.2
req GET "/v1/entities/$EID"
is "$STATUS $(jbody .status)" "200 $ST0" "after Retry-After the entity reads again, still $ST0"
isnt "$ST0" verified "(not verified)"

# Anonymous callers are limited by address, separately from entities.
sleep 3
for i in 1 2 3; do req GET /v1/categories "" -; done
is "$STATUS" 200 "3 anonymous reads are served"
req GET /v1/categories "" -
is "$STATUS $(jbody .type)" "429 https://bourse.dev/problems/rate-limited" "the 4th anonymous read is 429"
COUNT0=$(req GET "/v1/entities?limit=100" && jbody '.items | length')
req POST /v1/entities "$(apply_json buyer "限流 buyer")" -
is "$STATUS" 429 "an anonymous application over the limit is 429"
req GET "/v1/entities/$EID" "" "ent_bogus_key_that_does_not_exist_0000"
is "$STATUS" 429 "a request with a bad key counts against its address (429, not 401)"
for i in 1 2 3 4 5 6; do curl -sf "$BOURSE_URL/healthz" >/dev/null || break; done
is "$i" 6 "/healthz is never limited"
sleep 1.6
req GET "/v1/entities?limit=100"
is "$STATUS $(jbody '.items | length')" "200 $COUNT0" "and the refused application created no entity"
ok "the refusals are in /metrics" sh -c "curl -sf '$BOURSE_URL/metrics' | grep -q 'status=\"429\"'"
grep -q '"status":429\| 429 ' "$T_TMP/server.log"
is $? 0 "and in the access log"
stop_server

# ---- 0 turns limits off -----------------------------------------------------------------------
BOURSE_RATE_LIMIT=0 start_server
N=0
for i in $(seq 1 40); do req GET "/v1/entities/$EID"; [ "$STATUS" = 200 ] && N=$((N + 1)); done
is "$N" 40 "BOURSE_RATE_LIMIT=0: 40 reads at once are all served"
stop_server

# ---- idempotency retention -------------------------------------------------------------------
start_server --rate-limit 0 --idempotency-ttl 2s
idem_post() { # BODY -> STATUS, headers in $T_TMP/h, body in $BODY_FILE
    STATUS=$(curl -s -D "$T_TMP/h" -o "$BODY_FILE" -w '%{http_code}' -X POST \
        -H "Idempotency-Key: retention-1" -H "Authorization: Bearer $OPKEY" \
        -H 'Content-Type: application/json' --data-binary "$1" "$BOURSE_URL/v1/entities")
}
BODY1=$(apply_json provider "保留 one")
BODY2=$(apply_json provider "保留 two")
idem_post "$BODY1"
is "$STATUS" 201 "a keyed application"
ID1=$(jbody .id)
idem_post "$BODY1"
is "$STATUS $(jbody .id)" "201 $ID1" "replays within the retention"
grep -qi '^idempotency-replayed: true' "$T_TMP/h"
is $? 0 "marked as a replay"
idem_post "$BODY2"
is "$STATUS $(jbody .field)" "409 Idempotency-Key" "the key cannot be reused for another request yet"
sleep 2.5
idem_post "$BODY2"
ID2=$(jbody .id)
is "$STATUS" 201 "after the retention the key is free for another request"
isnt "$ID2" "$ID1" "which runs afresh"
grep -qi '^idempotency-replayed' "$T_TMP/h"
is $? 1 "and is no replay"
idem_post "$BODY2"
is "$STATUS $(jbody .id)" "201 $ID2" "the new response replays in turn"
PURGED=1
for _ in $(seq 1 50); do
    grep -q 'purged [0-9]* expired idempotency keys' "$T_TMP/server.log" && { PURGED=0; break; }
    sleep 0.1
done
is "$PURGED" 0 "the leader purges the expired key"
if [ "${BOURSE_TEST_PG:-0}" = 1 ]; then
    for _ in $(seq 1 50); do
        [ "$(pg_admin_db "SELECT COUNT(*) FROM idempotency")" = 0 ] && break
        sleep 0.1
    done
    is "$(pg_admin_db "SELECT COUNT(*) FROM idempotency")" 0 "no idempotency row is left"
fi
stop_server

if [ "${BOURSE_TEST_PG:-0}" != 1 ]; then
    done_testing
fi

# ---- PostgreSQL: two nodes limit as one ------------------------------------------------------
start_server --rate-limit 2 --rate-burst 4
A_URL=$BOURSE_URL
mkdir -p -m 700 "$T_TMP/node-b"
cp -p "$T_DATA"/*.key "$T_DATA"/*.ed25519 "$T_TMP/node-b/" # every node needs the same keys
P=$(free_port) || bail "no free port"
"$B" serve --listen "127.0.0.1:$P" --data "$T_TMP/node-b" --db "$BOURSE_DB" --rate-limit 2 \
    --rate-burst 4 >>"$T_TMP/b.out" 2>>"$T_TMP/b.log" &
B_PID=$!
at_exit "kill -9 $B_PID 2>/dev/null; wait $B_PID 2>/dev/null"
B_URL="http://127.0.0.1:$P"
for _ in $(seq 1 100); do curl -sf "$B_URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
ok "node B serves" curl -sf "$B_URL/healthz"
sleep 2.5 # full buckets, and each node has read the other's rounds of the start
URLS=("$A_URL" "$B_URL")
ADMITTED=0
REFUSED_A=0
REFUSED_B=0
T0=$(date +%s%N)
for i in $(seq 0 19); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OPKEY" \
        "${URLS[$((i % 2))]}/v1/entities/$EID")
    case "$code" in
    200) ADMITTED=$((ADMITTED + 1)) ;;
    429) if [ $((i % 2)) = 0 ]; then REFUSED_A=$((REFUSED_A + 1)); else REFUSED_B=$((REFUSED_B + 1)); fi ;;
    *) fail "request $i" "status $code" ;;
    esac
    sleep 0.1
done
MS=$((($(date +%s%N) - T0) / 1000000))
# One limit over the whole run admits the burst plus 2 a second; two separate ones would admit
# that on each node (every request here). The slack is what one node admits before it hears of
# the other's last requests: about one tick each way.
ONE=$((4 + 2 * MS / 1000))
echo "# 20 requests over $MS ms alternating two nodes: $ADMITTED admitted, one limit allows $ONE"
ok "the two nodes admitted about one limit's worth ($ADMITTED <= $ONE + 2)" test "$ADMITTED" -le $((ONE + 2))
ok "and at least the burst" test "$ADMITTED" -ge 4
ok "both nodes refused some ($REFUSED_A on A, $REFUSED_B on B)" test "$REFUSED_A" -gt 0 -a "$REFUSED_B" -gt 0
ok "the nodes exchange rounds through rate_usage" \
    test "$(pg_admin_db "SELECT COUNT(DISTINCT node) FROM rate_usage")" -ge 2
done_testing
