#!/bin/sh
# One-shot job of the compose stack (service `init`): schema migrations, then the demo warehouse loaded
# into PostgreSQL. Safe to re-run: the warehouse is built once per volume, migrations skip what is applied,
# and a load replaces the previous one atomically.
set -eu
: "${SHOPLENS_DATABASE_URL:?SHOPLENS_DATABASE_URL is not set}"
data="${SHOPLENS_DATA_DIR:-/data}"
raw="$data/demo"
warehouse="$data/warehouse"

if [ ! -f "$warehouse/report.json" ]; then
    shoplens generate --out "$raw" --scale "${DEMO_SCALE:-0.05}" --seed "${DEMO_SEED:-42}"
    shoplens build --raw "$raw" --out "$warehouse"
    shoplens experiment --warehouse "$warehouse"
fi
shoplens db migrate
shoplens db load --warehouse "$warehouse"
shoplens db status
