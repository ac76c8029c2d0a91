#!/bin/sh
# Installs the Debian packages Bourse needs to build, run and test, if any is missing.
# Idempotent and quiet when everything is present; needs root (or sudo) only to install.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev clang-format
libh2o-evloop-dev libssl-dev zlib1g-dev libjansson-dev libsodium-dev libsqlite3-dev
libcurl4-openssl-dev libpq-dev libcmocka-dev
postgresql postgresql-contrib curl jq perl python3 wrk nginx-light sqlite3 valgrind"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
