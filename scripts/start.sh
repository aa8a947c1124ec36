#!/usr/bin/env bash
# Start the system on the embedded database: check the rule books, migrate, create the first admin once,
# and serve the central API on http://127.0.0.1:8000 (Ctrl-C stops it). Data lives in ./data/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export RUYI_DATA_DIR="${RUYI_DATA_DIR:-$PWD/data}"
mkdir -p "$RUYI_DATA_DIR"

for f in deploy/rules/*.yaml; do
    ruyi rules check "$f" | sed -n 1p   # the full table: ruyi rules check FILE
done
ruyi db upgrade
if [ ! -f "$RUYI_DATA_DIR/.admin-created" ]; then
    ruyi admin create-staff --username admin --role bureau_admin
    touch "$RUYI_DATA_DIR/.admin-created"
fi
echo "API: http://${RUYI_HOST:-127.0.0.1}:${RUYI_PORT:-8000}/docs"
exec ruyi server --host "${RUYI_HOST:-127.0.0.1}" --port "${RUYI_PORT:-8000}"
