# tests/e2e/lib.sh: the shared end-to-end test library (sourced by every *.t script).
#
# Each script starts a real `bourse serve` on a random loopback port with a temporary data
# directory, drives it with the CLI and curl, and prints TAP for prove. Helpers:
#   start_server / stop_server / kill9_server   lifecycle (restart keeps the data directory)
#   req METHOD PATH [BODY] [KEY]                 raw HTTP; sets STATUS and writes $BODY_FILE
#   jbody FILTER                                 jq over the last response body
#   is GOT WANT DESC / ok DESC CMD... / not_ok DESC CMD...
#   done_testing                                 prints the plan; exits non-zero on failure
#   at_exit CMD                                  runs CMD at exit, after the server is gone
#
# Backends: SQLite in the data directory by default. With BOURSE_TEST_PG=1 the server runs on
# PostgreSQL instead: the first start_server creates a fresh database t_<random> on the
# cluster whose admin URL is BOURSE_TEST_PG_URL (`make e2e-pg` starts one with scripts/pg.sh),
# restarts reuse it, and it is dropped at exit. BOURSE_DB is exported with its URL too, so
# that a script starting `bourse serve` by hand gets the same database.
set -u

BOURSE_BIN=${BOURSE_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bourse}
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/bourse-e2e.XXXXXX")
T_DATA="$T_TMP/data"
BODY_FILE="$T_TMP/body"
T_COUNT=0
T_FAILED=0
SERVER_PID=""
PORT=""
STATUS=""
T_PG_DB=""
T_DB_ARGS=()
T_AT_EXIT=()

at_exit() { T_AT_EXIT+=("$*"); }

# pg_bin NAME: a PostgreSQL client program, from PATH or Debian's newest server directory.
pg_bin() {
    local d
    if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/$1" ] && { echo "$d/$1"; return; }
    return 1
}

# pg_admin SQL: runs SQL on the cluster's admin database.
pg_admin() {
    "$(pg_bin psql)" -X -q -t -A -v ON_ERROR_STOP=1 -d "$BOURSE_TEST_PG_URL" -c "$1"
}

# pg_url_for DB: BOURSE_TEST_PG_URL with its database replaced by DB.
pg_url_for() {
    local base=${BOURSE_TEST_PG_URL%%\?*} rest
    local query=${BOURSE_TEST_PG_URL#"$base"}
    rest=${base#*://}
    case $rest in */*) base=${base%/*} ;; esac
    echo "$base/$1$query"
}

# pg_db_create: the script's own database, made once (restarts keep it).
pg_db_create() {
    [ -n "$T_PG_DB" ] && return 0
    [ -n "${BOURSE_TEST_PG_URL:-}" ] || bail "BOURSE_TEST_PG=1 needs BOURSE_TEST_PG_URL"
    T_PG_DB="t_$(date +%s)_$$_$RANDOM"
    pg_admin "CREATE DATABASE $T_PG_DB" || bail "cannot create database $T_PG_DB"
    BOURSE_DB=$(pg_url_for "$T_PG_DB")
    export BOURSE_DB
    T_DB_ARGS=(--db "$BOURSE_DB")
}

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -9 "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [ -n "$T_PG_DB" ]; then
        pg_admin "DROP DATABASE IF EXISTS $T_PG_DB WITH (FORCE)" >/dev/null 2>&1 ||
            echo "# cannot drop database $T_PG_DB" >&2
    fi
    local c
    for c in "${T_AT_EXIT[@]}"; do eval "$c"; done
    if [ "$T_FAILED" -eq 0 ]; then
        rm -rf "$T_TMP"
    else
        echo "# kept $T_TMP for inspection" >&2
        [ -f "$T_TMP/server.log" ] && tail -n 20 "$T_TMP/server.log" | sed 's/^/# server: /' >&2
    fi
}
trap cleanup EXIT

pass() { T_COUNT=$((T_COUNT + 1)); echo "ok $T_COUNT - $1"; }
fail() {
    T_COUNT=$((T_COUNT + 1)); T_FAILED=$((T_FAILED + 1))
    echo "not ok $T_COUNT - $1"
    shift
    for line in "$@"; do echo "#   $line"; done
}

is() {
    if [ "$1" = "$2" ]; then pass "$3"; else fail "$3" "got:      '$1'" "expected: '$2'"; fi
}

isnt() {
    if [ "$1" != "$2" ]; then pass "$3"; else fail "$3" "got '$1', wanted anything else"; fi
}

ok() {
    local desc=$1; shift
    if "$@" >"$T_TMP/ok.out" 2>&1; then pass "$desc"; else fail "$desc" "command failed: $*" "$(tail -n 5 "$T_TMP/ok.out")"; fi
}

not_ok() {
    local desc=$1; shift
    if "$@" >"$T_TMP/ok.out" 2>&1; then fail "$desc" "command succeeded: $*"; else pass "$desc"; fi
}

done_testing() {
    echo "1..$T_COUNT"
    [ "$T_FAILED" -eq 0 ]
    exit $?
}

bail() { echo "Bail out! $*"; exit 1; }

free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((15000 + RANDOM % 15000)) # below the ephemeral range (32768-)
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    return 1
}

# start_server [extra serve args...]: starts on a fresh port, waits for /healthz.
start_server() {
    PORT=$(free_port) || bail "no free port"
    if [ "${BOURSE_TEST_PG:-0}" = 1 ]; then pg_db_create; fi
    "$BOURSE_BIN" serve --listen "127.0.0.1:$PORT" --data "$T_DATA" "${T_DB_ARGS[@]}" "$@" \
        >>"$T_TMP/server.out" 2>>"$T_TMP/server.log" &
    SERVER_PID=$!
    export BOURSE_URL="http://127.0.0.1:$PORT"
    for _ in $(seq 1 100); do
        if curl -sf "$BOURSE_URL/healthz" >/dev/null 2>&1; then
            OPKEY=$(cat "$T_DATA/operator.key")
            export OPKEY
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || bail "server exited: $(tail -n 3 "$T_TMP/server.log")"
        sleep 0.1
    done
    bail "server did not answer /healthz"
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID"
    local rc=$?
    SERVER_PID=""
    return $rc
}

kill9_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -9 "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}

# req METHOD PATH [BODY] [KEY]: KEY "-" means no Authorization header.
req() {
    local method=$1 path=$2 body=${3:-} key=${4:-$OPKEY}
    local args=(-s -o "$BODY_FILE" -w '%{http_code}' -X "$method" --max-time 30)
    [ "$key" != "-" ] && args+=(-H "Authorization: Bearer $key")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    STATUS=$(curl "${args[@]}" "$BOURSE_URL$path")
}

jbody() { jq -r "$1" <"$BODY_FILE"; }

# A count of every table that a failed request must leave alone, via /metrics-free means:
# the operator lists entities and reads one entity's full record.
snapshot() { req GET "/v1/entities?limit=100" "" "$OPKEY"; jq -S . <"$BODY_FILE"; }

# uscc_make BASE17: appends the GB 32100-2015 check character.
uscc_make() {
    local cs="0123456789ABCDEFGHJKLMNPQRTUWXY" s=$1 sum=0 w=1 i c v
    for ((i = 0; i < 17; i++)); do
        c=${s:i:1}; v=${cs%%"$c"*}; v=${#v}
        sum=$((sum + v * w)); w=$((w * 3 % 31))
    done
    echo "$s${cs:$(((31 - sum % 31) % 31)):1}"
}

# uscc_random: a fresh valid code for a company registered in Beijing.
uscc_random() {
    local d="" i
    for ((i = 0; i < 9; i++)); do d="$d$((RANDOM % 10))"; done
    uscc_make "91110000$d"
}

# new_pubkey NAME: makes a key pair with the CLI; prints the public key (base64).
new_pubkey() {
    "$BOURSE_BIN" key gen --out "$T_TMP/$1.key" >/dev/null || bail "key gen failed"
    cat "$T_TMP/$1.key.pub"
}

# apply_json KIND NAME [USCC] [PUBKEY]: an application body.
apply_json() {
    local kind=$1 name=$2 uscc=${3:-$(uscc_random)} pk=${4:-$(new_pubkey "k$RANDOM$RANDOM")}
    jq -cn --arg k "$kind" --arg n "$name" --arg u "$uscc" --arg p "$pk" \
        '{kind:$k, name:$n, uscc:$u, country:"CN", public_key:$p,
          contact:{name:"联系人", email:"ops@example.cn", phone:"+86 10 1234 5678"}}'
}

# new_entity KIND NAME [verify]: applies (and verifies); sets EID and EKEY.
new_entity() {
    req POST /v1/entities "$(apply_json "$1" "$2")" -
    [ "$STATUS" = 201 ] || bail "apply failed: $STATUS $(cat "$BODY_FILE")"
    EID=$(jbody .id)
    EKEY=$(jbody .api_key.secret)
    if [ "${3:-}" = verify ]; then
        req POST "/v1/entities/$EID/review" '{"decision":"verify","reason":"documents checked"}'
        [ "$STATUS" = 200 ] || bail "verify failed: $STATUS $(cat "$BODY_FILE")"
    fi
}
