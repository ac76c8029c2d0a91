#!/usr/bin/env bash
# Fingerprint embedding and tracing speed against a plain copy (`cat`) of the same file, in one
# run: a synthetic six-column CSV (bench/fingerprint_data.h) of ROWS rows is written to a temp
# directory; then, best of three each, `cat plain > copy`, a buyer's fingerprinted copy
# (read, embed, write), and a trace of that copy (read, observe) followed by scoring 10,000
# candidate contracts. Target: embedding at >= 1,000,000 rows/s. Wall-clock rates depend on what
# else the machine runs (the load average is printed); rows per CPU second are printed too.
#   bench/fingerprint.sh [rows]
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/bench/fingerprint >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ROWS=${1:-1000000}
echo "# $(date -u +%FT%TZ)  $(uname -sr)  cpus=$(nproc)  load=$(cut -d' ' -f1-3 /proc/loadavg)"
build/bench/fingerprint gen "$TMP/plain.csv" "$ROWS"
echo "# file: $ROWS rows, $(stat -c %s "$TMP/plain.csv") bytes"
cat "$TMP/plain.csv" >/dev/null # warm the page cache for both

best_cat=
for _ in 1 2 3; do
    t0=$(date +%s%N)
    cat "$TMP/plain.csv" >"$TMP/cat.csv"
    t1=$(date +%s%N)
    t=$((t1 - t0))
    if [ -z "$best_cat" ] || [ "$t" -lt "$best_cat" ]; then best_cat=$t; fi
done
embed=$(build/bench/fingerprint embed "$TMP/plain.csv" "$TMP/copy.csv" 3 2>/dev/null)
trace=$(build/bench/fingerprint trace "$TMP/plain.csv" "$TMP/copy.csv" 10000 2>/dev/null)
echo "$embed"
echo "$trace"
awk -v rows="$ROWS" -v cat_ns="$best_cat" -v embed="$embed" -v trace="$trace" 'BEGIN {
    split(embed, e, " "); split(trace, t, " ");
    for (i = 1; i in e; i++) { if (e[i] == "rows_per_s") er = e[i + 1]; if (e[i] == "cpu_rows_per_s") ec = e[i + 1] }
    for (i = 1; i in t; i++) { if (t[i] == "rows_per_s") tr = t[i + 1]; if (t[i] == "score_seconds") ss = t[i + 1] }
    cr = rows / (cat_ns / 1e9);
    printf "cat       %12.0f rows/s  (%.4f s)\n", cr, cat_ns / 1e9;
    printf "embed     %12.0f rows/s  ratio to cat %.3f  target 1000000: %s\n", er, er / cr, (er >= 1e6 ? "met" : "MISSED");
    printf "embed     %12.0f rows per CPU second (the same work, without other processes'"'"' share of the CPUs)\n", ec;
    printf "trace     %12.0f rows/s  ratio to cat %.3f  (+ %.3f s to score 10000 candidates)\n", tr, tr / cr, ss;
}'
