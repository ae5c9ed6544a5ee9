#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite: lint, types, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy core collector analytics maps console wifiwatch
echo "== pytest"
.venv/bin/pytest -q -p no:cacheprovider "$@"
