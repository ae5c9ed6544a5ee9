"""What the CLI prints: Japanese headers in every table by default (--lang en), bracketed text from configs,
stores and errors printed as written (never eaten as rich markup), maintenance remove|end, strict dates."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

import pytest

from collector.alerts.store import AlertStore
from core.inventory import StoreSettings
from core.schema import Point
from core.store.sqlite_store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
MARK = "[bold]x[/] [influxdb]"

CONFIG = """
[store]
path = "{store}"
min_free_mb = 0

[snmp]
version = "2c"
community = "env:WW_TEST_COMMUNITY"

[[sites]]
id = "center"
name_ja = "中央公民館 [bold]x[/] [influxdb]"
name_en = "Community Center [bold]x[/] [influxdb]"
kind = "public_facility"
lat = 35.9655
lon = 140.6335
[[sites.aps]]
id = "ap1"
host = "127.0.0.2"
port = {port}
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A config with bracketed names and a store holding bracketed values in every table the CLI shows."""
    from tests.fixtures_alerts import free_port

    tmp = tmp_path_factory.mktemp("cli-text")
    store = tmp / "ww.sqlite3"
    cfg = tmp / "sites.toml"
    cfg.write_text(CONFIG.format(store=store, port=free_port()), encoding="utf-8")
    now = time.time()
    with SqliteStore(store, StoreSettings(min_free_mb=0), reserve_bytes=0) as s:
        s.write([Point("ap_ping", {"site": "center", "ap": "ap1", "role": "ap"},
                       {"reachable": True, "rtt_ms": 1.5}, int(now * 1e9)),
                 Point("ap_status", {"site": "center", "ap": "ap1", "vendor": MARK},
                       {"snmp_ok": True, "clients": 7}, int(now * 1e9))])
        s.dead_letter(1, 2, 400, f"server says {MARK}", ["m a=1 1"])
        s.set_meta("last_error", f"2026-11-29T00:00:00Z {MARK}")
    alerts = AlertStore(store)
    with alerts.tx() as c:
        c.execute("INSERT INTO alert_incidents (device, site, kind, start, end, duration_s, cause, notified, "
                  "suppressed_by) VALUES ('ap1', 'center', 'down', ?, ?, 60, 'no heartbeat reply', 1, ?)",
                  (now - 600, now - 540, MARK))
    alerts.add_maintenance("adhoc-1", "ap1", "2026-12-01T02:00:00+09:00", "2026-12-01T04:00:00+09:00", MARK)
    alerts.close()
    return cfg, store


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_main(*argv: str) -> Result:
    """``wifiwatch ARGV`` in this process (the real entry point, its error handling and consoles), captured:
    a subprocess per call would cost seconds of start-up each."""
    import contextlib
    import io

    from wifiwatch import cli as entry
    from wifiwatch.common import console, err

    out, errs = io.StringIO(), io.StringIO()
    # The consoles' own setting (None: whatever sys.stdout is at print time), not the stream it resolves to now.
    saved = (sys.argv, console._file, err._file, console._width)
    sys.argv = ["wifiwatch", *argv]
    console.file, err.file, console.width = out, errs, 250
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(errs):
            entry.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv, console.file, err.file, console._width = saved
    return Result(code, out.getvalue(), errs.getvalue())


def cli(cfg: Path, *args: str) -> Result:
    os.environ.setdefault("WW_TEST_COMMUNITY", "c0mmunity-for-tests")
    return run_main(*args, "-c", str(cfg))


TABLES = {  # command -> (Japanese headers, English headers)
    ("status",): (["拠点", "AP", "状態", "最終確認 (JST)", "接続数", "メーカー"], ["site", "state", "last heartbeat"]),
    ("alerts", "list"): (["拠点", "機器", "種類", "開始 (JST)", "継続時間", "原因", "通知", "抑止理由"],
                         ["site", "device", "kind", "start (JST)", "duration", "cause", "suppressed by"]),
    ("maintenance", "list"): (["対象", "期間", "理由", "登録元"], ["target", "when", "reason", "source"]),
    ("store", "status"): (["保存先", "生データ行数", "InfluxDB 未転送", "転送拒否 (dead letter)", "直近のエラー"],
                          ["raw rows", "forwarding backlog", "dead letters", "last error"]),
    ("store", "dead-letter", "list"): (["日時", "行範囲", "点数", "サーバーのメッセージ"],
                                       ["when", "rows", "points", "server message"]),
}


@pytest.mark.parametrize("cmd", list(TABLES), ids=["-".join(c) for c in TABLES])
def test_tables_have_japanese_headers_english_on_request_and_print_brackets_as_written(
        setup: tuple[Path, Path], cmd: tuple[str, ...]) -> None:
    cfg, _ = setup
    ja_headers, en_headers = TABLES[cmd]
    ja = cli(cfg, *cmd)
    assert ja.returncode == 0 and not ja.stderr, ja.stderr
    for h in ja_headers:
        assert h in ja.stdout, (h, ja.stdout)
    assert MARK in ja.stdout, ja.stdout  # a value from the config or the store, not read as markup
    en = cli(cfg, *cmd, "--lang", "en")
    assert en.returncode == 0, en.stderr
    for h in en_headers:
        assert h in en.stdout, (h, en.stdout)


def test_incidents_are_worded_in_japanese(setup: tuple[Path, Path]) -> None:
    out = cli(setup[0], "alerts", "list").stdout
    assert "停止" in out and "ハートビート (ping/SNMP) に応答がありません" in out and "1分0秒" in out


@pytest.mark.parametrize(("args", "shown"), [
    (("maintenance", "add", "--target", MARK, "--start", "2026-12-01T02:00", "--end", "2026-12-01T03:00"),
     f"--target: no site or AP with id '{MARK}'"),
    (("maintenance", "remove", MARK), f"no added maintenance window '{MARK}'"),
    (("report", "monthly", "--month", "2026-10", "--out", "/tmp/never", "--source", "influx"),
     "needs an [influxdb] section"),
    (("alerts", "test", "--channel", MARK), f"no alert channel '{MARK}'"),
])
def test_error_messages_print_brackets_as_written(setup: tuple[Path, Path], args: tuple[str, ...],
                                                  shown: str) -> None:
    r = cli(setup[0], *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert shown in r.stderr.replace("\n", ""), r.stderr


def test_config_problems_print_brackets_as_written(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(CONFIG.format(store=tmp_path / "s", port=161).replace('host = "127.0.0.2"',
                                                                           f'host = "127.0.0.2"\nvendor = "{MARK}"'))
    r = cli(cfg, "check-config", "--lang", "en")
    assert r.returncode == 2 and f"unknown vendor profile '{MARK}'" in r.stderr, r.stderr


def test_maintenance_remove_and_end(tmp_path: Path) -> None:
    store = tmp_path / "ww.sqlite3"
    cfg = tmp_path / "sites.toml"
    cfg.write_text(CONFIG.format(store=store, port=161) + '\n[[maintenance]]\nid = "weekly"\ntarget = "ap1"\n'
                   'weekday = "mon"\nstart_time = 02:00:00\nend_time = 03:00:00\n', encoding="utf-8")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    iso = lambda d: d.isoformat()  # noqa: E731
    for start, end in ((now + dt.timedelta(days=1), now + dt.timedelta(days=1, hours=2)),
                       (now - dt.timedelta(hours=1), now + dt.timedelta(hours=1))):
        r = cli(cfg, "maintenance", "add", "--target", "ap1", "--start", iso(start), "--end", iso(end))
        assert r.returncode == 0, r.stderr
    future, running = [w[0] for w in sorted(AlertStore(store).maintenance(), key=lambda w: w[2], reverse=True)]
    r = cli(cfg, "maintenance", "end", future)
    assert r.returncode == 2 and "has not started yet" in r.stderr and "maintenance remove" in r.stderr
    r = cli(cfg, "maintenance", "remove", future)
    assert r.returncode == 0 and f"maintenance {future} removed" in r.stdout, r.stderr
    r = cli(cfg, "maintenance", "end", running)
    assert r.returncode == 0 and "ended at" in r.stdout, r.stderr
    windows = AlertStore(store).maintenance()
    assert [w[0] for w in windows] == [running]
    assert dt.datetime.fromisoformat(windows[0][3]).timestamp() <= time.time()
    r = cli(cfg, "maintenance", "end", running)
    assert r.returncode == 2 and "already ended" in r.stderr
    r = cli(cfg, "maintenance", "remove", "weekly")
    assert r.returncode == 2 and "defined in the config file" in r.stderr
    from collector.alerts.engine import AlertEngine
    from core.config import parse_config
    from core.secrets import SecretResolver

    eng = AlertEngine(parse_config(cfg.read_text(), str(cfg)), store, SecretResolver())
    try:  # what the daemon silences: the ended window no longer covers now
        from core.maintenance import covering

        assert covering(eng.windows(), "ap1", "center", time.time()) is None
    finally:
        eng.close()


BAD_DATES = [("report", "monthly", "--month", "9999-12"), ("report", "monthly", "--month", "0001-01"),
             ("report", "monthly", "--month", "2026-0_1"), ("report", "monthly", "--month", " 2026-11"),
             ("report", "monthly", "--month", "2026-13"),
             ("report", "availability", "--from", "9999-12-30", "--to", "9999-12-31"),
             ("report", "usage", "--from", "2026-11-01", "--to", "+2026-12-01"),
             ("opendata", "export", "--usage", "--month", "9999-12"),
             ("maintenance", "add", "--target", "ap1", "--start", "9999-12-30T00:00", "--end", "9999-12-31T00:00")]


@pytest.mark.parametrize("args", BAD_DATES, ids=[" ".join(a) for a in BAD_DATES])
def test_dates_outside_a_sane_range_or_shape_are_one_line_errors(setup: tuple[Path, Path], tmp_path: Path,
                                                                 args: tuple[str, ...]) -> None:
    out = tmp_path / "out"
    extra = ("--out", str(out / "x.csv")) if args[0] == "opendata" else ("--out", str(out)) if "monthly" in args \
        else ()
    r = cli(setup[0], *args, *extra)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists() or not any(out.rglob("*")), list(out.rglob("*"))  # never a file named after it


def test_core_dates() -> None:
    from core.dates import DateError, parse_day, parse_month

    assert parse_month("2026-11") == (2026, 11)
    assert parse_day("2026-11-01", "--from").isoformat() == "2026-11-01T00:00:00+09:00"
    assert parse_day("2026-11-01T09:30Z", "--from").hour == 9
    for bad in ("2026-1", "2026-011", "２０２６-11", "2026-11 ", "-2026-11", "2101-01", "1999-12"):
        with pytest.raises(DateError):
            parse_month(bad)
    for bad in ("2026-11-31", "2026-11-01T25:00", "11/01/2026", "2026-11-01junk", "0001-01-01"):
        with pytest.raises(DateError):
            parse_day(bad, "--from")


def test_poll_table_is_in_japanese(tmp_path: Path) -> None:
    """One real poll (of an address nobody answers on, so it is quick) printed with Japanese headers."""
    from tests.fixtures_alerts import free_port

    cfg = tmp_path / "sites.toml"
    cfg.write_text(CONFIG.format(store=tmp_path / "s.sqlite3", port=free_port())
                   + "\n[defaults]\ntimeout_s = 0.2\nretries = 0\n", encoding="utf-8")
    ja = cli(cfg, "poll", "--no-icmp")
    assert ja.returncode == 0, ja.stderr
    for h in ("拠点", "AP", "疎通", "SNMP", "応答時間 ms", "接続数", "受信 bps", "メーカー", "ポーリング結果"):
        assert h in ja.stdout, (h, ja.stdout)
    en = cli(cfg, "poll", "--no-icmp", "--lang", "en")
    assert "reachable" in en.stdout and "clients" in en.stdout


def test_help_prints_toml_section_names_as_written() -> None:
    r = run_main("opendata", "import", "--help")
    assert r.returncode == 0 and "inventory [[sites]] blocks" in r.stdout.replace("\n  ", " "), r.stdout
    assert "Write the [[sites]] TOML here" in r.stdout


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.text(max_size=12))
def test_parse_month_accepts_exactly_the_canonical_months(text: str) -> None:
    """Whatever is typed: either a canonical 'YYYY-MM' within the years, or a one-line DateError."""
    from core.dates import YEARS, DateError, parse_month

    try:
        y, m = parse_month(text)
    except DateError as e:
        assert "\n" not in str(e) and str(e).startswith("--month: ")
        return
    assert text == f"{y:04d}-{m:02d}" and YEARS[0] <= y <= YEARS[1] and 1 <= m <= 12


@given(st.integers(1, 9999), st.integers(0, 13))
def test_parse_month_range(y: int, m: int) -> None:
    from core.dates import YEARS, DateError, parse_month

    ok = YEARS[0] <= y <= YEARS[1] and 1 <= m <= 12
    try:
        assert parse_month(f"{y:04d}-{m:02d}") == (y, m) and ok
    except DateError:
        assert not ok


def test_report_tables_have_japanese_headers(setup: tuple[Path, Path]) -> None:
    day = time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400))
    end = time.strftime("%Y-%m-%d", time.localtime(time.time() + 2 * 86400))
    r = cli(setup[0], "report", "availability", "--from", day, "--to", end)
    assert "拠点名 (英)" in r.stdout and "AP 名" in r.stdout and "site_name_en" not in r.stdout, r.stdout + r.stderr
    en = cli(setup[0], "report", "availability", "--from", day, "--to", end, "--lang", "en")
    assert "site name en" in en.stdout, en.stdout + en.stderr
