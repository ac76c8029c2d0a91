#!/usr/bin/env bash
# scripts/pg.sh start|stop|url|destroy DIR: a private PostgreSQL cluster for tests.
#
#   start    creates the cluster in DIR on first use (initdb, trust auth, superuser `bourse`,
#            UTF-8, C locale), starts it on a free loopback port (the same port again on a
#            restart) with DIR as the socket directory and fsync on, creates the database
#            `bourse`, and prints its URL. Starting a running cluster just prints the URL.
#   stop     stops it (pg_ctl -m fast); nothing to do if it is not running
#   url      prints postgres://bourse@127.0.0.1:PORT/bourse
#   destroy  stops it and removes its files
#
# The server binaries come from the newest /usr/lib/postgresql/*/bin (Debian's layout), or
# PG_BINDIR. PostgreSQL refuses to run as root, so as root the server commands run as the
# `postgres` user, on a directory it owns: DIR itself if `postgres` can reach it, otherwise a
# directory under /tmp whose path DIR/home records.
set -euo pipefail

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

[ $# -eq 2 ] || {
    echo "usage: scripts/pg.sh start|stop|url|destroy DIR" >&2
    exit 2
}
CMD=$1
case $CMD in start | stop | url | destroy) ;; *) die "unknown command '$CMD'" ;; esac
[ "$CMD" = start ] && mkdir -p "$2"
[ -d "$2" ] || die "no cluster in '$2'"
DIR=$(cd "$2" && pwd)
IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1

bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        echo "$PG_BINDIR"
        return
    fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        echo "$d"
        return
    fi
    d=$(command -v initdb 2>/dev/null) || die "cannot find initdb: install postgresql"
    dirname "$d"
}
BIN=$(bindir)

# as_pg CMD...: runs a server command as the user the cluster belongs to.
as_pg() {
    if [ "$IS_ROOT" -eq 1 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# home: the directory that holds data/, log and port (see the header); created by start.
home() {
    if [ -f "$DIR/home" ]; then
        cat "$DIR/home"
        return
    fi
    if [ "$IS_ROOT" -eq 0 ] || [ "$CMD" != start ]; then
        echo "$DIR"
        return
    fi
    getent passwd postgres >/dev/null || die "running as root needs the 'postgres' user"
    chown postgres: "$DIR"
    if runuser -u postgres -- test -w "$DIR" -a -x "$DIR" 2>/dev/null; then
        echo "$DIR"
        return
    fi
    local h
    h=$(mktemp -d /tmp/bourse-pg.XXXXXX)
    chown postgres: "$h"
    echo "$h" >"$DIR/home"
    echo "$h"
}
HOME_DIR=$(home)
DATA="$HOME_DIR/data"

running() {
    [ -f "$DATA/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

url() {
    [ -f "$HOME_DIR/port" ] || die "no cluster in '$DIR' (run start first)"
    echo "postgres://bourse@127.0.0.1:$(cat "$HOME_DIR/port")/bourse"
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

init_cluster() {
    as_pg "$BIN/initdb" -D "$DATA" --auth=trust -U bourse --encoding=UTF8 --locale=C \
        >"$HOME_DIR/initdb.log" 2>&1 || {
        cat "$HOME_DIR/initdb.log" >&2
        die "initdb failed"
    }
    cat >>"$DATA/postgresql.conf" <<EOF
# scripts/pg.sh: a private test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$HOME_DIR'
fsync = on
EOF
}

# start_on PORT: starts the server on PORT; non-zero if it did not come up.
start_on() {
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$HOME_DIR/log" -w -t 60 -o "-p $1" start >/dev/null 2>&1
}

start() {
    if running; then
        url
        return
    fi
    [ -f "$DATA/PG_VERSION" ] || init_cluster
    if [ -f "$HOME_DIR/port" ]; then
        # A restart: clients hold URLs with this port.
        start_on "$(cat "$HOME_DIR/port")" || {
            tail -n 5 "$HOME_DIR/log" >&2
            die "cannot start the cluster on port $(cat "$HOME_DIR/port")"
        }
    else
        local p started=0
        for _ in 1 2 3 4 5 6 7 8; do
            p=$((20000 + RANDOM % 30000))
            port_free "$p" || continue
            if start_on "$p"; then
                echo "$p" >"$HOME_DIR/port"
                started=1
                break
            fi
        done
        [ "$started" -eq 1 ] || {
            tail -n 5 "$HOME_DIR/log" >&2
            die "cannot start the cluster"
        }
    fi
    local port
    port=$(cat "$HOME_DIR/port")
    local psql=("$BIN/psql" -X -q -t -A -h 127.0.0.1 -p "$port" -U bourse)
    if [ "$("${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'bourse'")" != 1 ]; then
        "$BIN/createdb" -h 127.0.0.1 -p "$port" -U bourse bourse || die "cannot create database bourse"
    fi
    url
}

stop() {
    if running; then
        as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null || die "cannot stop the cluster"
    fi
}

case $CMD in
start) start ;;
stop) stop ;;
url) url ;;
destroy)
    stop
    rm -rf "$HOME_DIR"
    [ "$HOME_DIR" = "$DIR" ] || rm -rf "$DIR"
    ;;
esac
