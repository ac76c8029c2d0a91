#!/bin/sh
# Starts an exchange on the embedded default (SQLite in ./data unless BOURSE_DATA says
# otherwise). A second run reuses the data. Called by `make run` after the build.
set -eu
cd "$(dirname "$0")/.."
: "${BOURSE_DATA:=./data}"
: "${BOURSE_LISTEN:=127.0.0.1:8080}"
export BOURSE_DATA BOURSE_LISTEN
echo "bourse: use the CLI with: export BOURSE_URL=http://$BOURSE_LISTEN BOURSE_KEY_FILE=$BOURSE_DATA/operator.key"
exec ./build/bourse serve
