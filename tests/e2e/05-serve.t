#!/usr/bin/env bash
# The server's life: first start creates the operator and its key file (0600), a restart
# reuses the data, SIGTERM drains and exits 0, kill -9 loses nothing acknowledged, /healthz,
# /metrics, idempotency keys, configuration precedence.
. "$(dirname "$0")/lib.sh"
start_server

is "$(stat -c %a "$T_DATA/operator.key")" 600 "operator.key is mode 0600"
is "$(stat -c %a "$T_DATA/secret.key")" 600 "secret.key is mode 0600"
is "$(stat -c %a "$T_DATA")" 700 "data directory is mode 0700"
grep -q "listening on http://127.0.0.1:$PORT" "$T_TMP/server.out"
is $? 0 "banner prints the URL"
grep -q "operator.key" "$T_TMP/server.out"
is $? 0 "banner says where the operator key is"
grep -q "kill -TERM" "$T_TMP/server.out"
is $? 0 "banner says how to stop"

req GET /healthz "" -
is "$STATUS" 200 "healthz answers"
is "$(jbody .status)" ok "healthz says ok"

req GET "/v1/entities"
is "$(jbody '.items | length')" 1 "a new exchange holds only the operator"
is "$(jbody '.items[0].kind')" operator "the operator entity exists"
OPID=$(jbody '.items[0].id')

# Acknowledged writes survive kill -9.
new_entity provider 'Durable Co' verify
DURABLE=$EID
FIRSTKEY=$OPKEY
kill9_server
start_server
is "$OPKEY" "$FIRSTKEY" "restart keeps the operator key"
req GET "/v1/entities/$DURABLE"
is "$STATUS" 200 "entity acknowledged before kill -9 is there"
is "$(jbody .status)" verified "its verification is there"
req GET "/v1/entities"
is "$(jbody '[.items[] | select(.kind=="operator")] | length')" 1 "no second operator after restart"

# Idempotency: same key and body replays, same key and other body conflicts.
BODY='{"type":"data_provider"}'
idem() {
    STATUS=$(curl -s -o "$BODY_FILE" -D "$T_TMP/headers" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $OPKEY" -H 'Content-Type: application/json' \
        -H "Idempotency-Key: $1" --data-binary "$2" "$BOURSE_URL$3")
}
idem k-1 "$BODY" "/v1/entities/$DURABLE/certificates"
is "$STATUS" 201 "first idempotent request runs"
CID=$(jbody .id)
idem k-1 "$BODY" "/v1/entities/$DURABLE/certificates"
is "$STATUS" 201 "replay answers the same status"
is "$(jbody .id)" "$CID" "replay answers the same certificate"
grep -qi '^idempotency-replayed: true' "$T_TMP/headers"
is $? 0 "replay is marked"
req GET "/v1/entities/$DURABLE"
is "$(jbody '.certificates | length')" 1 "replay created nothing"
idem k-1 '{"type":"trading"}' "/v1/entities/$DURABLE/certificates"
is "$STATUS" 409 "same key with another body conflicts"
is "$(jbody .field)" Idempotency-Key "conflict names the header"
idem "bad key" "$BODY" "/v1/entities/$DURABLE/certificates"
is "$STATUS" 400 "a key with a space is refused"
idem k-2 '{"type":"trading"}' "/v1/entities/$DURABLE/certificates"
is "$STATUS" 201 "a new key runs"
kill9_server
start_server
idem k-2 '{"type":"trading"}' "/v1/entities/$DURABLE/certificates"
is "$STATUS" 201 "replay survives a restart"
grep -qi '^idempotency-replayed: true' "$T_TMP/headers"
is $? 0 "replay after restart is marked"
idem k-3 "{}" "/v1/entities/$DURABLE/keys"
is "$(jbody '.secret | startswith("bsk_")')" true "key creation shows the secret"
idem k-3 "{}" "/v1/entities/$DURABLE/keys"
is "$(jbody .secret)" null "a replay never shows a secret again"

# Metrics in Prometheus text format.
curl -s "$BOURSE_URL/metrics" >"$T_TMP/metrics"
grep -q '^bourse_http_requests_total{method="GET",route="/healthz",status="200"} ' "$T_TMP/metrics"
is $? 0 "request counter by route and status"
grep -q '^bourse_http_request_duration_seconds_bucket{method="POST",route="/v1/entities/{id}/certificates",le="+Inf"} ' "$T_TMP/metrics"
is $? 0 "latency histogram by route"
grep -q '# TYPE bourse_http_request_duration_seconds histogram' "$T_TMP/metrics"
is $? 0 "histogram type line"

# SIGTERM drains and exits cleanly.
stop_server
is $? 0 "SIGTERM exits 0"

# Configuration precedence: flag > environment > file.
P1=$(free_port); P2=$(free_port)
printf 'listen = 127.0.0.1:%s\ndata = %s\n' "$P1" "$T_DATA" >"$T_TMP/bourse.conf"
BOURSE_CONFIG="$T_TMP/bourse.conf" "$BOURSE_BIN" serve >"$T_TMP/c.out" 2>&1 &
PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$P1/healthz" >/dev/null && break; sleep 0.1; done
ok "config file sets the listen address" curl -sf "http://127.0.0.1:$P1/healthz"
kill -TERM $PID; wait $PID
BOURSE_CONFIG="$T_TMP/bourse.conf" BOURSE_LISTEN="127.0.0.1:$P2" "$BOURSE_BIN" serve >"$T_TMP/c.out" 2>&1 &
PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$P2/healthz" >/dev/null && break; sleep 0.1; done
ok "environment beats the config file" curl -sf "http://127.0.0.1:$P2/healthz"
kill -TERM $PID; wait $PID
P3=$(free_port)
BOURSE_LISTEN="127.0.0.1:$P2" "$BOURSE_BIN" serve --listen "127.0.0.1:$P3" --data "$T_DATA" >"$T_TMP/c.out" 2>&1 &
PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$P3/healthz" >/dev/null && break; sleep 0.1; done
ok "a flag beats the environment" curl -sf "http://127.0.0.1:$P3/healthz"
kill -TERM $PID; wait $PID
printf 'colour = red\n' >"$T_TMP/bad.conf"
"$BOURSE_BIN" serve --config "$T_TMP/bad.conf" >"$T_TMP/c.out" 2>&1
is $? 2 "an unknown config setting is a usage error"
grep -q "unknown setting 'colour'" "$T_TMP/c.out"
is $? 0 "and names the setting"
"$BOURSE_BIN" serve --listen nonsense --data "$T_DATA" >"$T_TMP/c.out" 2>&1
is $? 1 "a bad listen address fails"

done_testing
