#!/usr/bin/env bash
# The whole test suite: set-up, lint, types, then every test (pytest starts the services its tests need).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy
echo "== pytest"
# pytest exits 5 when it collected no test: that is a failure here too.
exec pytest "$@"
