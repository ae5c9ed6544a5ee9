"""Shared pytest set-up: each area keeps its fixtures in tests/fixtures_<area>.py, loaded here if present."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import settings

_HERE = Path(__file__).parent
pytest_plugins = sorted(f"tests.{p.stem}" for p in _HERE.glob("fixtures_*.py"))

# Hypothesis: the suite (scripts/test.sh, what CI runs) draws the same examples on every run, so a red CI is
# reproducible rather than a roll of the dice; `bash scripts/explore.sh` hunts with fresh random seeds, and what
# it finds is pinned with @example in the test.
# No deadline: speed is measured in bench/, never asserted in a test; a per-example deadline only fails on a
# loaded CI machine.
settings.register_profile("suite", derandomize=True, print_blob=True, deadline=None)
settings.register_profile("explore", derandomize=False, print_blob=True, deadline=None)
settings.load_profile(os.environ.get("WIFIWATCH_HYPOTHESIS_PROFILE", "suite"))
