#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the demo: a simulated Kashima fleet on loopback, the real daemon,
# the embedded store, and the map and reports written to ./demo-out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# In a terminal the console stays up after the scripted run (--keep), so there is something to open.
if [ -t 1 ]; then set -- --keep "$@"; fi
exec .venv/bin/wifiwatch demo "$@"
