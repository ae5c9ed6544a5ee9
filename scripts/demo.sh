#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the demo: a simulated Kashima fleet on loopback, the real daemon,
# the embedded store, and the map and reports written to ./demo-out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/wifiwatch demo "$@"
