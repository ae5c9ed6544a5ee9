"""`wifiwatch visitors import`: streamed CSV, bad rows by line, nothing stored lost, re-import idempotent."""

from __future__ import annotations

from typer.testing import CliRunner

from core.visitors.store import VisitorStore
from tests.visitors_fixtures import inventory_text
from wifiwatch.cli import app

GOOD = """time,spot,user,duration_s,lang
2026-11-03 10:15:00,st-1,u-001,1260,en
2026-11-03 10:20:00,Station,u-002,60,ja
2026-11-03 11:00:00,shrine-ap1,u-001,600,
2026-11-04 09:00:00,aa:bb:cc:00:00:02,u-001,3600,ko
"""
BAD = """time,spot,user,duration_s,lang
2026-11-05 10:00:00,st-1,u-003,120,en
2026-13-05 10:00:00,st-1,u-004,120,en
2026-11-05 10:00:00,nowhere,u-005,120,en
2026-11-05 10:00:00,st-1,,120,en
2026-11-05 10:00:00,st-1,u-006,-5,en
2026-11-05 10:00:00,st-1,u-007,abc,en
2026-11-05 10:00:00,st-1,u-008,60,Klingon!
2026-11-05 10:00:00,st-1
2026-11-05 12:00:00,sh-1,u-009,30,zh-Hant
"""


def write_config(tmp_path) -> str:
    path = tmp_path / "sites.toml"
    path.write_text(inventory_text(tmp_path, radius=False), encoding="utf-8")
    return str(path)


def run(args, monkeypatch):
    monkeypatch.setenv("WW_TEST_COMMUNITY", "x")
    return CliRunner().invoke(app, ["visitors", "import", *args])


def test_import_stores_sessions_and_a_second_run_stores_nothing_twice(tmp_path, monkeypatch):
    cfg = write_config(tmp_path)
    f = tmp_path / "good.csv"
    f.write_text(GOOD, encoding="utf-8")
    r = run([str(f), "--config", cfg, "--lang", "en"], monkeypatch)
    assert r.exit_code == 0, r.output
    assert "4 rows read, 4 stored, 0 already stored, 0 rows skipped (2026-11-03 to 2026-11-04 JST)" in r.output
    r = run([str(f), "--config", cfg, "--lang", "en"], monkeypatch)
    assert r.exit_code == 0 and "0 stored, 4 already stored" in r.output
    st = VisitorStore(tmp_path / "w.sqlite3")
    sessions = list(st.iter_sessions(0, 4e9))
    assert [(s.ap_id, s.site_id, s.dwell_s, s.lang, s.source) for s in sessions] == [
        ("st-1", "station", 1260.0, "en", "import"), ("st-1", "station", 60.0, "ja", "import"),
        ("sh-1", "shrine", 600.0, None, "import"), ("st-2", "station", 3600.0, "ko", "import")]
    # u-001 on one day is one device; on the next day it is not linkable (a new per-day key)
    assert sessions[0].device == sessions[2].device != sessions[3].device
    assert "u-001" not in {s.device for s in sessions}


def test_bad_rows_are_listed_by_line_and_the_good_ones_kept(tmp_path, monkeypatch):
    cfg = write_config(tmp_path)
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    assert run([str(good), "--config", cfg], monkeypatch).exit_code == 0
    f = tmp_path / "bad.csv"
    f.write_text(BAD, encoding="utf-8")
    r = run([str(f), "--config", cfg, "--lang", "en"], monkeypatch)
    assert r.exit_code == 1
    out = r.output
    for expected in (f"{f}:3: time: '2026-13-05 10:00:00' is not a time", f"{f}:4: spot: 'nowhere' is not an AP",
                     f"{f}:5: user: empty", f"{f}:6: duration_s: '-5' is not a duration",
                     f"{f}:7: duration_s: 'abc' is not a number", f"{f}:8: lang: 'Klingon!' is neither",
                     f"{f}:9: user: missing"):
        assert expected in out, (expected, out)
    assert "2 rows read, 2 stored" in out and "7 rows skipped" in out
    ja = run([str(f), "--config", cfg], monkeypatch).output  # Japanese by default
    assert f"{f}:4: spot: 'nowhere' は設定ファイルの AP" in ja and f"{f}:5: user: 空です" in ja
    assert VisitorStore(tmp_path / "w.sqlite3").count() == 4 + 2  # nothing stored before was lost


def test_portal_format_shift_jis_minutes_and_language_names(tmp_path, monkeypatch):
    cfg = write_config(tmp_path)
    f = tmp_path / "portal.csv"
    f.write_bytes(("利用開始日時,スポット名,利用者ID,利用時間(分),言語\n"
                   "2026/11/03 10:15,神宮,a1,21,English\n"
                   "2026/11/03 10:16,駅,a2,3,中文(繁體)\n").encode("cp932"))
    r = run([str(f), "--format", "portal_ja", "--config", cfg], monkeypatch)
    assert r.exit_code == 0, r.output
    assert "2 件を読み込み、2 件を保存" in r.output
    s = list(VisitorStore(tmp_path / "w.sqlite3").iter_sessions(0, 4e9))
    assert [(x.site_id, x.dwell_s, x.lang) for x in s] == [("shrine", 1260.0, "en"), ("station", 180.0, "zh-Hant")]
    r = run([str(f), "--format", "nope", "--config", cfg], monkeypatch)
    assert r.exit_code != 0 and "portal_ja" in str(r.exception)  # a UserError: `wifiwatch` exits 2 with it


def test_check_config_warns_about_visitor_settings_that_would_do_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("WW_TEST_COMMUNITY", "x")
    monkeypatch.setenv("WW_TEST_RADIUS_SECRET", "abc12345")
    text = inventory_text(tmp_path, radius=True)
    text = text.replace('visitor_ids = ["aabb', 'visitor_snmp = true\nvisitor_ids = ["aabb')
    cfg = tmp_path / "c.toml"
    cfg.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(app, ["check-config", "--config", str(cfg), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert "radius_secret: the shared secret is shorter than 16" in r.output
    assert "st-2: visitor_snmp = true but its profile (yamaha_wlx) has no client table" in r.output
    cfg.write_text(inventory_text(tmp_path, radius=False), encoding="utf-8")
    r = CliRunner().invoke(app, ["check-config", "--config", str(cfg)])
    assert "visitor_ids は [visitors] に radius_bind か syslog_bind があるときだけ使われます" in r.output
