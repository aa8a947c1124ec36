#!/usr/bin/env bash
# Start the whole system on this machine with demo data, on the embedded database: the central server, one
# canteen terminal (cashier screen + elder display) with a virtual card reader and a receipt printer that writes
# decoded receipts to files, syncing with the server. Ctrl-C stops everything; the data stays in ./data/.
# Options go to `ruyi demo` (e.g. `bash scripts/start.sh --canteen 3`; `--reader auto` uses a plugged-in reader).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export RUYI_DATA_DIR="${RUYI_DATA_DIR:-$PWD/data}"
mkdir -p "$RUYI_DATA_DIR"

for f in deploy/rules/*.yaml; do
    ruyi rules check "$f" | sed -n 1p   # the full table: ruyi rules check FILE
done
exec ruyi demo --host "${RUYI_HOST:-127.0.0.1}" --port "${RUYI_PORT:-8000}" "$@"
