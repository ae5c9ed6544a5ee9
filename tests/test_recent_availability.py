"""analytics.recent: 7- and 30-day availability per AP and site from the hourly rollups, one grouped query."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.recent import pooled, read_recent, recent_availability
from core.config import load_config
from core.inventory import StoreSettings
from core.schema import Point
from core.store.sqlite_store import SqliteStore

INV = load_config(Path(__file__).resolve().parents[1] / "config" / "sites.toml")
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC).timestamp()


def _pings(ap: str, site: str, start: float, hours: int, up: float, vendor: str = "") -> list[Point]:
    """One ping a minute; the first ``up`` share of each hour answered."""
    out = []
    for h in range(hours):
        for m in range(60):
            tags = {"site": site, "ap": ap, "role": "ap"} | ({"vendor": vendor} if vendor else {})
            out.append(Point("ap_ping", tags, {"reachable": m < 60 * up}, int((start + h * 3600 + m * 60) * 1e9)))
    return out


def test_seven_and_thirty_days_per_ap_and_site(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0))
    start = NOW - 20 * 86400
    s.write(_pings("omachi-1", "omachi", start, 20 * 24, 1.0))
    s.write(_pings("omachi-2", "omachi", NOW - 2 * 86400, 24, 0.5, vendor="auto"))  # a tag change: one AP still
    s.write(_pings("omachi-2", "omachi", NOW - 86400, 24, 0.5, vendor="generic"))
    s.rollup(int(NOW * 1e9))
    r7 = read_recent(INV, s, NOW, 7)
    r30 = read_recent(INV, s, NOW, 30)
    assert r7["omachi-1"].pct == 100.0 and r7["omachi-1"].samples == 7 * 24 * 60
    assert abs(r7["omachi-2"].pct - 50.0) < 1e-9 and r7["omachi-2"].samples == 2 * 24 * 60
    assert r30["omachi-1"].samples == 20 * 24 * 60
    site = r7["omachi"]  # pooled over its APs' heartbeats
    assert abs(site.pct - 100 * (7 * 24 * 60 + 24 * 60) / (9 * 24 * 60)) < 1e-9
    assert "kominkan-1" not in r7 and "kominkan" not in r7  # no data is no figure, never 0 %
    s.close()


@settings(max_examples=50)
@given(st.lists(st.tuples(st.sampled_from(["omachi-1", "omachi-2", "omachi-3"]), st.integers(0, 100),
                          st.integers(1, 100)), max_size=12))
def test_site_figure_lies_between_its_aps(parts: list[tuple[str, int, int]]) -> None:
    rows = [({"ap": ap, "site": "omachi", "vendor": str(i)}, float(min(up, n)), n) for i, (ap, up, n) in
            enumerate(parts)]
    per_ap = pooled(rows)
    figs = recent_availability(INV, rows)
    if not per_ap:
        assert figs == {}
        return
    aps = [figs[a].pct for a in per_ap]
    assert min(aps) - 1e-9 <= figs["omachi"].pct <= max(aps) + 1e-9
    assert figs["omachi"].samples == sum(n for _, _, n in rows)


def test_maps_draw_the_same_figures_from_the_rollups(tmp_path: Path) -> None:
    from maps.figures import availability_30d, usage_heat

    s = SqliteStore(tmp_path / "s.sqlite3", StoreSettings(min_free_mb=0))
    s.write(_pings("omachi-1", "omachi", NOW - 3 * 86400, 48, 0.75))
    for ap, clients in (("omachi-1", 10), ("omachi-2", 40)):
        for vendor in ("auto", "generic"):  # two series of one AP in the same hours: counted once
            s.write([Point("ap_status", {"site": "omachi", "ap": ap, "vendor": vendor}, {"clients": clients},
                           int((NOW - 3 * 86400 + h * 3600 + 60) * 1e9)) for h in range(24)])
    s.rollup(int(NOW * 1e9))
    assert availability_30d(INV, s, NOW)["omachi-1"] == 75.0 == read_recent(INV, s, NOW, 30)["omachi-1"].pct
    heat = {round(w, 3) for _, _, w in usage_heat(INV, s, NOW)}
    assert heat == {0.25, 1.0}  # 240 vs 960 client-hours, scaled to the busiest; not doubled by the tag change
    s.close()
