"""Shared pytest set-up: each area keeps its fixtures in tests/fixtures_<area>.py, loaded here if present."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent
pytest_plugins = sorted(f"tests.{p.stem}" for p in _HERE.glob("fixtures_*.py"))
