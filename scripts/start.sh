#!/usr/bin/env bash
# Start the system. For now: check the shipped rule sets and show what sample elders would pay.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
for f in deploy/rules/*.yaml; do
    .venv/bin/ruyi rules check "$f"
done
