"""A device identifier (MAC, User-Name, Calling-Station-Id, an export's user column) never reaches the store
file, its WAL, the key file, or any log line: it is hashed as it is read. Keys rotate and old ones are gone."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.visitors.keys import KeyRing, jst_day
from tests.test_visitors_radius import acct, radclient
from tests.test_visitors_syslog import logger
from tests.visitors_fixtures import inventory, inventory_text, running
from wifiwatch.cli import app

MACS = ["5e:ca:1a:7e:00:42", "f0:99:b6:ab:cd:ef", "3a:1b:4c:5d:6e:7f"]
USER = "taro.yamada@example.jp"
EXPORT_USER = "portal-user-8c1d"


def spellings(mac: str) -> list[str]:
    h = mac.replace(":", "")
    forms = [mac, mac.replace(":", "-"), h, f"{h[0:4]}.{h[4:8]}.{h[8:12]}"]
    return [f for x in forms for f in (x.lower(), x.upper())]


@pytest.mark.skipif(shutil.which("radclient") is None or shutil.which("logger") is None,
                    reason="radclient/logger missing")
def test_raw_identifiers_never_stored_or_logged(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    inv = inventory(tmp_path, radius=True, syslog=True, returning=True, st1_ids=(socket.gethostname(),))
    with running(inv, monkeypatch) as svc:
        radclient(svc.port("radius"), [
            acct("Start", MACS[0].replace(":", "-").upper(), "p1", **{"User-Name": USER}),
            acct("Stop", MACS[0].replace(":", "-").upper(), "p1", **{"User-Name": USER, "Acct-Session-Time": "60"}),
            {"Acct-Status-Type": "Start", "User-Name": USER, "Acct-Session-Id": "p2", "NAS-Identifier": "st-1-nas"},
            # an unknown AP: its names are logged, the device is not
            acct("Start", MACS[1], "p3", called="11-22-33-44-55-66:Free", **{"User-Name": USER}),
        ], tmp_path)
        logger(svc.port("syslog"), "rfc3164", "hostapd", f"wlan0: AP-STA-CONNECTED {MACS[2]}")
        logger(svc.port("syslog"), "rfc5424", "ruckus", f"User[{MACS[1]}] joins WLAN[Free] from AP[nowhere]")
        logger(svc.port("syslog"), "rfc5424", "hostapd", f"wlan0: AP-STA-DISCONNECTED {MACS[2]}")
        n = svc.store.count()
    assert n == 3
    monkeypatch.setenv("WW_TEST_COMMUNITY", "x")
    cfg = tmp_path / "sites.toml"
    cfg.write_text(inventory_text(tmp_path, radius=False, returning=True), encoding="utf-8")
    csv = tmp_path / "export.csv"
    csv.write_text(f"time,spot,user,duration_s,lang\n2026-11-03 10:15:00,st-1,{EXPORT_USER},60,en\n"
                   f"2026-11-03 10:16:00,st-1,{MACS[0]},60,en\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["visitors", "import", str(csv), "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    secrets_ = [USER, EXPORT_USER, *[s for m in MACS for s in spellings(m)]]
    blobs = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and p.suffix != ".csv"
             and p.name not in ("packets.txt", "sites.toml")}
    assert any(name.startswith("w.sqlite3") for name in blobs) and "keys.json" in blobs
    for name, data in blobs.items():
        for s in secrets_:
            assert s.encode() not in data, (name, s)
            assert s.encode("utf-16-le") not in data, (name, s)
        for m in MACS:
            assert bytes.fromhex(m.replace(":", "")) not in data, (name, m)
    logs = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records) + r.output
    assert "not in visitor_ids" in logs  # the unknown AP was logged ...
    for s in secrets_:
        assert s not in logs, s  # ... without the device


def test_day_key_rotates_and_the_old_one_is_destroyed(tmp_path):
    path = tmp_path / "keys.json"
    t0 = 1_796_000_000.0
    ring = KeyRing(path, returning=True)
    d1, r1, _ = ring.device("f0:99:b6:ab:cd:ef", t0)
    assert ring.device("F0-99-B6-AB-CD-EF", t0 + 60)[0] == d1  # same day, any spelling: one hash
    day1 = json.loads(path.read_text())
    assert day1["day"] == jst_day(t0) and oct(path.stat().st_mode & 0o777) == "0o600"
    d2, r2, _ = ring.device("f0:99:b6:ab:cd:ef", t0 + 86400)
    assert d2 != d1  # a new day: the same device is not linkable to yesterday
    assert (r2 == r1) == (jst_day(t0) // 30 == jst_day(t0 + 86400) // 30)  # the 30-day key within its window
    day2 = json.loads(path.read_text())
    assert day1["day_key"] not in path.read_text()  # yesterday's day key is gone from the file
    assert day2["links"][1] == day1["links"][0]  # yesterday's link key kept one day for open sessions
    ring.device("x", t0 + 3 * 86400)
    assert day1["links"][0] not in path.read_text()  # and then destroyed too
    # turning `returning` off deletes the 30-day key
    KeyRing(path, returning=False).device("x", t0 + 3 * 86400 + 1)
    assert "d30_key" not in json.loads(path.read_text())


def test_two_processes_agree_on_one_day_key(tmp_path):
    path = tmp_path / "keys.json"
    code = ("import sys; from core.visitors.keys import KeyRing; "
            "print(KeyRing(sys.argv[1]).device('f0:99:b6:ab:cd:ef', 1796000000.0)[0])")
    root = Path(__file__).resolve().parent.parent
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True, cwd=root)
             for _ in range(4)]
    outs = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(outs) == 1 and len(outs.pop()) == 64
