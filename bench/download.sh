#!/usr/bin/env bash
# bench/download.sh - download throughput of bourse against nginx serving the same bytes
# (issue #6: target >= 0.8x nginx; docs/decisions/0007-custody.md).
#
# Uploads one file of SIZE_MB random bytes to a fresh `bourse serve` (SQLite, temp data dir),
# then, in the same run, fetches it REPEAT times each way, one client at a time, loopback:
#   nginx   one worker, the plaintext file as a static file (sendfile on): the baseline
#   bourse  GET /v1/objects/{id}/content: the object file decrypted on the fly (one event-loop
#           thread), the same bytes
# with two clients:
#   curl    `curl -o /dev/null`: the servers' own speed
#   file    what a buyer runs: bourse with `bourse object fetch -o FILE` (writes the file and
#           checks its SHA-256 as it arrives); nginx with `curl -o FILE`, which writes the file
#           and checks nothing (so this row favours nginx)
# and prints the median MB/s of each and the ratio bourse/nginx.
#
# Env: SIZE_MB (default 512), REPEAT (default 5), BOURSE_BIN (default build/bourse).
set -euo pipefail

SIZE_MB=${SIZE_MB:-512}
REPEAT=${REPEAT:-5}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BOURSE_BIN=${BOURSE_BIN:-$HERE/../build/bourse}

die() { echo "download.sh: $*" >&2; exit 1; }
[[ $SIZE_MB =~ ^[1-9][0-9]{0,4}$ ]] || die "SIZE_MB must be 1..99999"
[[ $REPEAT =~ ^[1-9][0-9]?$ ]] || die "REPEAT must be 1..99"
for tool in nginx curl jq sha256sum; do
    command -v "$tool" >/dev/null || die "missing $tool (apt-get install -y nginx-light curl jq)"
done
[[ -x $BOURSE_BIN ]] || die "no bourse binary at $BOURSE_BIN (make first)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bourse-dlbench.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    die "no free port"
}

wait_up() { # URL
    for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
    die "nothing answers $1"
}

# --- the bytes ------------------------------------------------------------------------------------
mkdir -p "$TMP/www" "$TMP/nginx"
head -c $((SIZE_MB * 1048576)) /dev/urandom >"$TMP/www/data.bin"
BYTES=$(stat -c %s "$TMP/www/data.bin")

# --- nginx: one worker, sendfile --------------------------------------------------------------------
NGINX_PORT=$(free_port)
USER_LINE=""
[[ $EUID -eq 0 ]] && USER_LINE="user $(id -un) $(id -gn);"
chmod 755 "$TMP" "$TMP/www"
chmod 644 "$TMP/www/data.bin"
cat >"$TMP/nginx/nginx.conf" <<EOF
$USER_LINE
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $TMP/www;
        default_type application/octet-stream;
    }
}
EOF
nginx -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" &
PIDS+=($!)
NGINX_URL="http://127.0.0.1:$NGINX_PORT/data.bin"
wait_up "$NGINX_URL"

# --- bourse: a provider uploads the file ------------------------------------------------------------
BPORT=$(free_port)
export BOURSE_URL="http://127.0.0.1:$BPORT"
"$BOURSE_BIN" serve --listen "127.0.0.1:$BPORT" --data "$TMP/data" --log-level warn \
    --rate-limit 0 --max-object-size $((BYTES + 1)) >"$TMP/serve.out" 2>"$TMP/serve.log" &
PIDS+=($!)
wait_up "$BOURSE_URL/healthz"
OPKEY=$(cat "$TMP/data/operator.key")
api() { # METHOD PATH BODY KEY
    curl -sf -X "$1" -H "Authorization: Bearer $4" -H 'Content-Type: application/json' \
        ${3:+--data-binary "$3"} "$BOURSE_URL$2"
}
"$BOURSE_BIN" key gen --out "$TMP/p.key" >/dev/null
APP=$(jq -cn --arg p "$(cat "$TMP/p.key.pub")" '{kind:"provider", name:"Bench Provider",
  uscc:"91110000600037341L", country:"CN", public_key:$p,
  contact:{name:"n", email:"b@example.cn", phone:"+86 10 1234 5678"}}')
OUT=$(curl -sf -H 'Content-Type: application/json' --data-binary "$APP" "$BOURSE_URL/v1/entities")
PROV=$(jq -r .id <<<"$OUT") PKEY=$(jq -r .api_key.secret <<<"$OUT")
api POST "/v1/entities/$PROV/review" '{"decision":"verify"}' "$OPKEY" >/dev/null
api POST "/v1/entities/$PROV/certificates" '{"type":"data_provider"}' "$OPKEY" >/dev/null
MD=$(jq -cn '{kind:"dataset", title:"bench", description:"bench", category:"energy",
  use_cases:["bench"], update_frequency:"monthly", classification:"corporate",
  sensitivity:"general", content_hash:"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  schema:[{name:"id",type:"string"}], source:{method:"collected", legal_basis:"contracts",
  processing:"none", personal_information:{contained:false}}}')
PRD=$(api POST /v1/products "$MD" "$PKEY" | jq -r .id)
OBJ=$("$BOURSE_BIN" --key "$PKEY" --json upload "$TMP/www/data.bin" --product "$PRD" \
    --chunk-size 8388608 | jq -r .id)
[[ $OBJ == obj_* ]] || die "upload failed"
BOURSE_OBJ_URL="$BOURSE_URL/v1/objects/$OBJ/content"

# --- measurements -----------------------------------------------------------------------------------
now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mbps() { awk -v b="$BYTES" -v ns="$1" 'BEGIN {printf "%.0f", b / 1e6 / (ns / 1e9)}'; }

# run NAME CMD...: REPEAT timed runs (after one warm-up), the median MB/s on stdout.
run() {
    local i t0 t1
    shift
    "$@" >/dev/null
    for ((i = 0; i < REPEAT; i++)); do
        t0=$(now_ns)
        "$@" >/dev/null
        t1=$(now_ns)
        mbps $((t1 - t0))
        echo
    done | median
}

curl_null() { curl -sf -o /dev/null -H "Authorization: Bearer $2" "$1"; }
curl_file() { rm -f "$TMP/out.bin"; curl -sf -o "$TMP/out.bin" "$1"; }
bourse_fetch() { rm -f "$TMP/out.bin"; "$BOURSE_BIN" --key "$PKEY" object fetch "$OBJ" -o "$TMP/out.bin"; }

N_CURL=$(run nginx curl_null "$NGINX_URL" none)
B_CURL=$(run bourse curl_null "$BOURSE_OBJ_URL" "$PKEY")
N_FILE=$(run nginx curl_file "$NGINX_URL")
B_FILE=$(run bourse bourse_fetch)
cmp "$TMP/out.bin" "$TMP/www/data.bin" || die "bourse served other bytes"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "# download of $SIZE_MB MiB, median of $REPEAT, loopback, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg);" \
    "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), one worker, sendfile"
printf '%-44s %10s %10s %7s\n' "client" "nginx MB/s" "bourse MB/s" "ratio"
printf '%-44s %10s %10s %7s\n' "curl -o /dev/null (server speed)" "$N_CURL" "$B_CURL" "$(ratio "$B_CURL" "$N_CURL")"
printf '%-44s %10s %10s %7s\n' "to a file (curl; bourse object fetch + SHA)" "$N_FILE" "$B_FILE" "$(ratio "$B_FILE" "$N_FILE")"
