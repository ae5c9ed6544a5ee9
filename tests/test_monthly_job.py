"""The daemon's scheduled jobs: last month's report written once (given a clock, not waiting for the 1st), and the
nightly/monthly jobs scheduled as cron triggers in Japan time by the real daemon."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.monthly_job import previous_month, write_previous_month
from analytics.synthetic import synthetic_history
from collector.daemon import cron_trigger
from core.config import load_config
from core.inventory import Inventory, ReportSettings, StoreSettings
from core.secrets import SecretResolver
from core.store.sqlite_store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
INV = load_config(ROOT / "config" / "sites.toml")
JST = dt.timezone(dt.timedelta(hours=9))


def at(y: int, m: int, d: int, h: int = 0, mi: int = 15) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=JST)


@given(st.datetimes(dt.datetime(2001, 1, 1), dt.datetime(2099, 12, 31), timezones=st.just(dt.UTC)))
def test_previous_month_is_the_month_before_in_japan_time(now: dt.datetime) -> None:
    local = now.astimezone(JST)
    y, m = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    assert previous_month(now) == f"{y:04d}-{m:02d}"


def test_previous_month_uses_japan_time_not_utc() -> None:
    # 2026-11-30 15:30 UTC is already 1 December in Kashima.
    assert previous_month(dt.datetime(2026, 11, 30, 15, 30, tzinfo=dt.UTC)) == "2026-11"
    assert previous_month(dt.datetime(2026, 11, 30, 14, 30, tzinfo=dt.UTC)) == "2026-10"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SqliteStore:
    s = SqliteStore(tmp_path_factory.mktemp("mj") / "s.sqlite3", StoreSettings(min_free_mb=0))
    s.write(list(synthetic_history(INV, at(2026, 10, 20), at(2026, 11, 3), seed=7)))
    return s


def _inv(tmp_path: Path, langs: tuple[str, ...] = ("ja",)) -> Inventory:
    return INV.model_copy(update={"reports": ReportSettings(dir=str(tmp_path / "reports"), langs=langs)})  # type: ignore[arg-type]


def test_writes_last_month_once_and_never_rewrites_it(tmp_path: Path, store: SqliteStore) -> None:
    inv = _inv(tmp_path, ("ja", "en"))
    files = write_previous_month(inv, store, at(2026, 11, 1))
    folder = tmp_path / "reports" / "2026-10"
    assert {f.name for f in files} == {"monthly-2026-10-ja.html", "monthly-2026-10-en.html", "availability-2026-10.csv",
                                       "usage-2026-10.csv", "capacity-2026-10.csv", "radio-2026-10.csv",
                                       "monthly-2026-10-ja.xlsx",
                                       "monthly-2026-10-en.xlsx", "monthly-2026-10-ja.pdf", "monthly-2026-10-en.pdf"}
    assert all(f.parent == folder for f in files)
    html = folder / "monthly-2026-10-ja.html"
    assert "2026年10月" in html.read_text(encoding="utf-8") and "大町通り" in html.read_text(encoding="utf-8")
    html.write_text("as sent to the city", encoding="utf-8")
    # Later the same month (the nightly check runs every day): nothing is rewritten.
    for day in (1, 2, 15, 30):
        assert write_previous_month(inv, store, at(2026, 11, day, 23, 59)) == []
    assert html.read_text(encoding="utf-8") == "as sent to the city"
    # Next month: November's report, October untouched; no temporary folders left behind.
    nov = write_previous_month(inv, store, at(2026, 12, 1))
    assert {f.parent.name for f in nov} == {"2026-11"}
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["2026-10", "2026-11"]


def test_a_failed_report_leaves_nothing_so_the_next_night_retries(tmp_path: Path, store: SqliteStore) -> None:
    class Broken:
        def query(self, *a: object, **k: object) -> list[object]:
            raise OSError("disk gone")

    inv = _inv(tmp_path)
    with pytest.raises(OSError):
        write_previous_month(inv, Broken(), at(2026, 11, 1))  # type: ignore[arg-type]
    assert list((tmp_path / "reports").iterdir()) == []
    assert write_previous_month(inv, store, at(2026, 11, 2)) != []


def test_cron_triggers_fire_in_japan_time() -> None:
    after = dt.datetime(2026, 10, 31, 15, 20, tzinfo=dt.UTC)  # 1 Nov 00:20 JST, just after the report time
    nxt = cron_trigger("15 0 * * *").get_next_fire_time(None, after)
    assert nxt is not None and nxt.astimezone(JST) == at(2026, 11, 2, 0, 15)
    nxt = cron_trigger("30 2 * * *").get_next_fire_time(None, after)
    assert nxt is not None and nxt.astimezone(JST) == at(2026, 11, 1, 2, 30)


def test_the_daemon_schedules_the_nightly_and_monthly_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from apscheduler.triggers.cron import CronTrigger

    from wifiwatch.commands.collect import build_daemon

    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "sites.toml"
    cfg.write_text('[store]\npath = "var/s.sqlite3"\nmin_free_mb = 0\n[reports]\ndir = "out"\n', encoding="utf-8")
    inv = load_config(cfg)
    daemon = build_daemon(inv, cfg, SecretResolver(), duration=1.0, http=False)
    seen: dict[str, Any] = {}

    def look() -> None:  # while the daemon runs
        seen.update({j.id: j for j in daemon.scheduler.get_jobs()})

    timer = threading.Timer(0.5, look)
    timer.start()
    assert daemon.run() == 0
    timer.join()
    jobs = seen
    for name, hour, minute in (("extra:monthly-report", "0", "15"), ("extra:nightly-prune", "2", "30")):
        trig = jobs[name].trigger
        assert isinstance(trig, CronTrigger) and str(trig.timezone) == "Asia/Tokyo"
        fields = {f.name: str(f) for f in trig.fields}
        assert (fields["hour"], fields["minute"], fields["day"]) == (hour, minute, "*")
    assert jobs["extra:rollup"].trigger.interval == dt.timedelta(hours=1)
