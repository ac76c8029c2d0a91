#!/usr/bin/env bash
# Catalogue search latency at scale (bench/search_bench.c; docs/decisions/0005-search.md):
# p50 and p99 of GET /v1/listings' core path (core_listing_search: validation, the SQLite
# FTS5 candidate query under the 2,000-candidate guard, facets, ranking, the page read back)
# over LISTINGS synthetic bilingual listings, for selective and very common terms in Chinese
# (one, two and four characters) and English, beside the bare FTS5 query on the same index
# (SELECT rowid ... MATCH ... ORDER BY rank LIMIT 20), with the ratio of the p99s. The target
# is a p99 under 20 ms for every query. 1,000 rounds by default: this machine has bursts of
# ~0.1 s in which all work runs 5-10x slower (the control row shows them), and a p99 of 200
# rounds is their second-worst round (docs/decisions/0005-search.md, "The common-term tail").
#
# Usage: bench/search.sh [listings] [rounds]
# Env: KEEP_DIR=DIR keeps (and reuses) the built catalogue there instead of a temporary one.
#      PG_URL=postgres://... runs it on PostgreSQL instead, in that (empty, or earlier built)
#      database, beside the bare pg_trgm query (e.g. a database of scripts/pg.sh's cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
LISTINGS=${1:-100000}
ROUNDS=${2:-1000}

make -s build/bench/search_bench >/dev/null
if [ -n "${KEEP_DIR:-}" ]; then
    DIR=$KEEP_DIR
    mkdir -p "$DIR"
else
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/bourse-searchbench.XXXXXX")
    trap 'rm -rf "$DIR"' EXIT
fi
echo "# $(date -u +%FT%TZ)  $(uname -sr)  cpus=$(nproc)  sqlite $(pkg-config --modversion sqlite3)  load $(cut -d' ' -f1-3 /proc/loadavg)"
./build/bench/search_bench "${PG_URL:-$DIR}" "$LISTINGS" "$ROUNDS"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
