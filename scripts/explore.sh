#!/usr/bin/env bash
# Search for counterexamples to the property tests with fresh random seeds (the suite itself, scripts/test.sh,
# draws the same examples every run so that CI is reproducible). Usage: bash scripts/explore.sh [ROUNDS]
# A failure prints the seed and a @reproduce_failure blob; pin the example with @example in the test.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
export WIFIWATCH_HYPOTHESIS_PROFILE=explore
for ((i = 1; i <= rounds; i++)); do
  seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
  echo "== round $i/$rounds: --hypothesis-seed=$seed"
  .venv/bin/pytest -q -p no:cacheprovider -m hypothesis --hypothesis-seed="$seed" -x tests/
done
