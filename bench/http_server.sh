#!/usr/bin/env bash
# bench/http_server.sh - choose the HTTP server library by measurement
# (docs/decisions/0001-http-server.md, design.md section 5).
#
# Serves the 15-byte body {"status":"ok"} at GET /healthz from:
#   nginx  one worker process, static file (the baseline)
#   h2o    bench/http_spike/h2o_hello.c  (libh2o-evloop 2.2.5, one thread)
#   mhd    bench/http_spike/mhd_hello.c  (libmicrohttpd, one epoll thread)
#   bourse $BOURSE_BIN serve ... (only if BOURSE_BIN is set)
#   bourse-auth  the same server: GET /v1/entities/<operator> with the operator's API key (an
#          authenticated read: key lookup, rate-limit check, one row read)
# and runs wrk -t1 -c32 -d${DURATION}s against each in turn, never two at once.
# Loopback only; everything it starts is stopped on exit.
#
# Env: DURATION (seconds per target, default 10), WARMUP (seconds, default 1),
#      BOURSE_BIN (optional path to the bourse binary), BOURSE_RATE_LIMIT (passed to bourse:
#      default 1000000 a second, so that the limiter runs on every request but refuses none;
#      0 turns it off; docs/decisions/0006-rate-limits.md), ONLY_BOURSE=1 (skip the others).
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
CONNS=32
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPIKE=$HERE/http_spike
BODY='{"status":"ok"}'

die() { echo "http_server.sh: $*" >&2; exit 1; }

[[ $DURATION =~ ^[1-9][0-9]{0,2}$ ]] || die "DURATION must be 1..999 seconds"
[[ $WARMUP =~ ^[0-9]{1,2}$ ]] || die "WARMUP must be 0..99 seconds"
for tool in gcc wrk nginx curl timeout; do
    command -v "$tool" >/dev/null || die "missing $tool (apt-get install -y gcc wrk nginx-light curl coreutils)"
done
[[ -r /usr/include/h2o.h ]] || die "missing libh2o-evloop-dev"
[[ -r /usr/include/microhttpd.h ]] || die "missing libmicrohttpd-dev"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bourse-httpbench.XXXXXX")
PIDS=()
WRK_PID=
cleanup() {
    local pid
    if [[ -n $WRK_PID ]]; then
        kill -TERM "$WRK_PID" 2>/dev/null || true
        wait "$WRK_PID" 2>/dev/null || true
    fi
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        # bounded wait, then force
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build -----------------------------------------------------------------
gcc -O2 -Wall -DH2O_USE_LIBUV=0 -o "$TMP/h2o_hello" "$SPIKE/h2o_hello.c" \
    -lh2o-evloop -lssl -lcrypto -lz -lpthread
gcc -O2 -Wall -o "$TMP/mhd_hello" "$SPIKE/mhd_hello.c" -lmicrohttpd -lpthread

# --- ports -----------------------------------------------------------------
# A free port below the ephemeral range (so wrk's own client ports never
# collide): nothing answers a connect on it, and we have not handed it out.
USED_PORTS=" "
PORT=
free_port() { # sets PORT (no subshell, so USED_PORTS sticks)
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        [[ $USED_PORTS == *" $p "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            USED_PORTS+="$p "
            PORT=$p
            return 0
        fi
    done
    die "no free loopback port found"
}

# --- nginx config ----------------------------------------------------------
free_port
NGINX_PORT=$PORT
mkdir -p "$TMP/nginx/www" "$TMP/nginx/tmp"
printf '%s' "$BODY" >"$TMP/nginx/www/healthz"
USER_LINE=""
if [[ $EUID -eq 0 ]]; then
    USER_LINE="user $(id -un) $(id -gn);" # workers must read the 0700 temp dir
fi
cat >"$TMP/nginx/nginx.conf" <<EOF
$USER_LINE
worker_processes 1;
daemon off;
master_process on;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path $TMP/nginx/tmp/proxy;
    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
    scgi_temp_path $TMP/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $TMP/nginx/www;
        location = /healthz { default_type application/json; }
    }
}
EOF

# --- targets ---------------------------------------------------------------
NAMES=()
URLS=()
HDRS=()
start() { # name port cmd...
    local name=$1 port=$2
    shift 2
    "$@" >"$TMP/$name.log" 2>&1 &
    PIDS+=($!)
    NAMES+=("$name")
    URLS+=("http://127.0.0.1:$port/healthz")
    HDRS+=("X-Bench: 1")
}

if [[ ${ONLY_BOURSE:-0} != 1 ]]; then
    start nginx "$NGINX_PORT" nginx -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf"
    free_port; start h2o "$PORT" "$TMP/h2o_hello" "$PORT"
    free_port; start mhd "$PORT" "$TMP/mhd_hello" "$PORT"
fi
BOURSE_I=
if [[ -n ${BOURSE_BIN:-} ]]; then
    if [[ -x $BOURSE_BIN ]]; then
        mkdir -p "$TMP/bourse-data"
        free_port
        BOURSE_I=${#NAMES[@]}
        BOURSE_RATE_LIMIT=${BOURSE_RATE_LIMIT:-1000000} \
            start bourse "$PORT" "$BOURSE_BIN" serve --listen "127.0.0.1:$PORT" --data "$TMP/bourse-data"
    else
        echo "http_server.sh: BOURSE_BIN=$BOURSE_BIN is not executable; skipping it" >&2
    fi
fi

wait_ready() { # index
    local i=$1
    for _ in $(seq 1 100); do
        if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
            cat "$TMP/${NAMES[$i]}.log" >&2 || true
            die "${NAMES[$i]} exited before answering"
        fi
        if [[ $(curl -sf --max-time 1 "${URLS[$i]}" 2>/dev/null) == *'"status":"ok"'* ]]; then
            return 0
        fi
        sleep 0.1
    done
    die "${NAMES[$i]} did not answer ${URLS[$i]} with $BODY within 10s"
}

# The authenticated read: the operator reads its own entity with its key.
if [[ -n $BOURSE_I ]]; then
    wait_ready "$BOURSE_I"
    BURL=${URLS[$BOURSE_I]%/healthz}
    OPKEY=$(<"$TMP/bourse-data/operator.key")
    OPID=$(curl -sf -H "Authorization: Bearer $OPKEY" "$BURL/v1/entities?kind=operator&limit=1" |
        sed -n 's/.*"id":"\(ent_[a-z0-9]*\)".*/\1/p')
    [[ -n $OPID ]] || die "cannot find the operator's entity"
    NAMES+=("bourse-auth")
    URLS+=("$BURL/v1/entities/$OPID")
    HDRS+=("Authorization: Bearer $OPKEY")
    PIDS+=("${PIDS[$BOURSE_I]}")
fi

# --- run -------------------------------------------------------------------
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(uname -sr)  cpus=$(nproc)"
echo "# nginx $(nginx -v 2>&1 | sed 's/.*nginx\///')," \
    "h2o $(dpkg-query -W -f='${Version}' libh2o-evloop-dev 2>/dev/null || echo '?')," \
    "libmicrohttpd $(dpkg-query -W -f='${Version}' libmicrohttpd-dev 2>/dev/null || echo '?')," \
    "$(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}')"
echo "# wrk -t1 -c$CONNS -d${DURATION}s (after a ${WARMUP}s warm-up), one target at a time"

run_wrk() { # seconds url outfile header; in the background so a signal stops it at once
    timeout $(($1 + 30)) wrk -t1 -c"$CONNS" -d"$1s" -H "$4" "$2" >"$3" &
    WRK_PID=$!
    wait "$WRK_PID" || die "wrk failed against $2"
    WRK_PID=
}

RPS=()
ERRS=()
for i in "${!NAMES[@]}"; do
    [[ ${NAMES[$i]} == bourse-auth ]] || wait_ready "$i"
    if ((WARMUP > 0)); then
        run_wrk "$WARMUP" "${URLS[$i]}" /dev/null "${HDRS[$i]}"
    fi
    run_wrk "$DURATION" "${URLS[$i]}" "$TMP/${NAMES[$i]}.wrk" "${HDRS[$i]}"
    out=$(<"$TMP/${NAMES[$i]}.wrk")
    RPS+=("$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")")
    # non-2xx answers and socket errors would make a fast number meaningless
    ERRS+=("$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/[^0-9 ]/, " "); n += $1 + $2 + $3 + $4} END {print n + 0}' <<<"$out")")
    [[ -n ${RPS[$i]} ]] || { echo "$out" >&2; die "could not parse wrk output for ${NAMES[$i]}"; }
done

printf '%-12s %12s %9s %8s\n' target 'req/s' "vs ${NAMES[0]}" errors
for i in "${!NAMES[@]}"; do
    printf '%-12s %12.0f %9s %8s\n' "${NAMES[$i]}" "${RPS[$i]}" \
        "$(awk -v a="${RPS[$i]}" -v b="${RPS[0]}" 'BEGIN {printf "%.2f", a / b}')" "${ERRS[$i]}"
done
