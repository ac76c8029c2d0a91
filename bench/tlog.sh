#!/usr/bin/env bash
# The transparency log's durable append rate through the store (group commit), proof rate,
# and this machine's raw SHA-256 leaf-hash rate as the ceiling, measured in one run.
# Also the same appends with one commit (one fsync) per event, for contrast.
#   bench/tlog.sh [events] [batch]
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/bench/tlog_bench >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
EVENTS=${1:-100000}
BATCH=${2:-1000}
echo "# $(date -u +%FT%TZ)  $(uname -sr)  cpus=$(nproc)  disk=$(df -P "$TMP" | awk 'NR==2{print $1}')"
echo "## group commit: $BATCH events per transaction"
mkdir -p "$TMP/a" "$TMP/b"
build/bench/tlog_bench "$TMP/a" "$EVENTS" "$BATCH"
echo "## no group commit: one transaction (one fsync) per event"
build/bench/tlog_bench "$TMP/b" 2000 1
