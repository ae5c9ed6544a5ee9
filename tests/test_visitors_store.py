"""The visitor session store: open/close by link, overlap queries, live counts, retention with rollups."""

from __future__ import annotations

import hashlib
import sqlite3

from core.inventory import StoreSettings
from core.store.sqlite_store import SqliteStore
from core.visitors.model import VisitorSession
from core.visitors.store import MAX_SESSION_S, VisitorStore

T0 = 1_796_000_000.0  # 2026-11-28 (JST)


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sess(dev: str, start: float, end: float | None, ap: str = "ap1", site: str = "s1", **kw) -> VisitorSession:
    return VisitorSession(ap, site, h(dev), None, start, end, "radius", **kw)


def test_open_interim_stop_and_dwell(tmp_path):
    st = VisitorStore(tmp_path / "w.sqlite3")
    assert st.begin(sess("a", T0, None), [h("link-a")], now=T0)
    assert not st.begin(sess("a", T0 + 5, None), [h("link-a")], now=T0 + 5)  # retransmitted Start
    assert st.open_counts(T0 + 10) == {"ap1": 1}
    assert st.touch([h("new-key-link"), h("link-a")], now=T0 + 60)  # found under the older key, re-linked
    assert st.finish([h("new-key-link")], sess("a", T0 + 900 - 600, T0 + 900), exact_start=True)
    [s] = st.iter_sessions(T0, T0 + 3600)
    assert s.dwell_s == 600 and s.device == h("a") and s.end == T0 + 900
    assert st.open_counts(T0 + 1000) == {}
    # a Stop without a Start (lost, or before a restart) is stored closed as it is
    assert not st.finish([h("link-b")], sess("b", T0 + 100, T0 + 400))
    assert [x.dwell_s for x in st.iter_sessions(T0, T0 + 3600)] == [300, 600]


def test_iter_sessions_overlap_order_sites_and_long_open(tmp_path):
    st = VisitorStore(tmp_path / "w.sqlite3")
    st.add(sess("before", T0 - 7200, T0 - 3600))
    st.add(sess("across", T0 - 600, T0 + 600, site="s2"))
    st.add(sess("inside", T0 + 100, T0 + 200))
    st.add(sess("after", T0 + 3600, T0 + 3700))
    st.begin(sess("old-open", T0 - 3 * MAX_SESSION_S, None), [h("l-old")], now=T0)
    got = list(st.iter_sessions(T0, T0 + 3600))
    assert [s.device for s in got] == [h("old-open"), h("across"), h("inside")]
    assert [s.device for s in st.iter_sessions(T0, T0 + 3600, site_ids=["s2"])] == [h("across")]
    assert list(st.iter_sessions(T0, T0 + 3600, site_ids=[])) == []
    # a closed stay longer than MAX_SESSION_S is kept as its last MAX_SESSION_S
    st.add(sess("camera", T0 - 10 * MAX_SESSION_S, T0 + 50))
    cam = next(s for s in st.iter_sessions(T0, T0 + 60) if s.device == h("camera"))
    assert cam.dwell_s == MAX_SESSION_S


def test_ext_key_makes_reimport_idempotent_and_expire_closes_idle(tmp_path):
    st = VisitorStore(tmp_path / "w.sqlite3")
    rows = [(sess("a", T0, T0 + 60), h("row1")), (sess("b", T0, T0 + 60), h("row2"))]
    assert st.add_many(rows) == 2
    assert st.add_many(rows) == 0
    assert st.count() == 2
    st.begin(sess("c", T0, None), [h("lc")], now=T0)
    assert st.open_counts(T0 + 100, idle_s=50) == {}  # not heard of within idle_s: not counted
    assert st.expire(T0 + 10) == 1
    assert st.open_counts(T0 + 5) == {}


def test_prune_keeps_daily_aggregates_only(tmp_path):
    st = VisitorStore(tmp_path / "w.sqlite3")
    day0 = T0 - 5 * 86400
    st.add(sess("a", day0, day0 + 60, randomized=True))  # 1 min
    st.add(sess("a", day0 + 100, day0 + 100 + 20 * 60, randomized=True))  # 20 min
    st.add(sess("b", day0 + 200, day0 + 200 + 90 * 60))  # 90 min
    st.add(sess("c", T0, T0 + 60))
    assert st.prune(T0 - 86400) == 3
    assert st.count() == 1
    [d] = st.daily("2000-01-01", "2100-01-01")
    assert (d["sessions"], d["devices"], d["randomized_devices"]) == (3, 2, 1)
    assert (d["band_lt3"], d["band_3_15"], d["band_15_60"], d["band_gt60"]) == (1, 0, 1, 1)


def test_shares_the_store_file_with_other_components(tmp_path):
    path = tmp_path / "w.sqlite3"
    SqliteStore(path, StoreSettings()).close()  # the measurement store opens the same file first
    st = VisitorStore(path)
    st.add(sess("a", T0, T0 + 1))
    st.close()
    st2 = VisitorStore(path)  # reopening migrates nothing and keeps the rows
    assert st2.count() == 1
    names = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"visitors_sessions", "visitors_daily"} <= names


def test_service_housekeeping_closes_idle_sessions_then_prunes_past_retention(tmp_path, monkeypatch):
    from collector.visitors.service import VisitorService
    from core.secrets import SecretResolver
    from tests.visitors_fixtures import SECRET, inventory

    monkeypatch.setenv("WW_TEST_RADIUS_SECRET", SECRET)
    now = [T0]
    svc = VisitorService(inventory(tmp_path, radius=False), SecretResolver(), clock=lambda: now[0])
    svc.store.begin(sess("a", T0, None), [h("la")], now=T0)
    svc.store.add(sess("b", T0, T0 + 60))
    now[0] = T0 + 7 * 3600  # past idle_timeout_min (6 h): closed at its last sign of life
    svc.housekeeping(force=True)
    assert svc.open_counts() == {} and svc.store.count() == 2
    now[0] = T0 + 92 * 86400  # past session_retention_days (90): only the daily aggregate is left
    svc.housekeeping(force=True)
    assert svc.store.count() == 0 and svc.store.daily("2000-01-01", "2100-01-01")[0]["sessions"] == 2
    svc.close()
    svc.store.close()
