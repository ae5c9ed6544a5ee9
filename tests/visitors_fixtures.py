"""Shared set-up of the visitor tests: a two-site inventory with visitor_ids, and a running VisitorService."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

from collector.visitors.service import VisitorService
from core.config import parse_config
from core.inventory import Inventory
from core.secrets import SecretResolver

SECRET = "test-radius-secret-0123"


def inventory(tmp: Path, radius: bool = True, syslog: bool = False, returning: bool = False,
              extra: str = "", st1_ids: tuple[str, ...] = ()) -> Inventory:
    return parse_config(inventory_text(tmp, radius, syslog, returning, extra, st1_ids), "test.toml")


def inventory_text(tmp: Path, radius: bool = True, syslog: bool = False, returning: bool = False,
                   extra: str = "", st1_ids: tuple[str, ...] = ()) -> str:
    """Two sites (station: st-1, st-2; shrine: sh-1) whose APs carry visitor_ids; [visitors] as asked."""
    lines = ["[visitors]"]
    if radius:
        lines += ['radius_bind = "127.0.0.1:0"', 'radius_secret = "env:WW_TEST_RADIUS_SECRET"']
    if syslog:
        lines += ['syslog_bind = "127.0.0.1:0"']
    lines += [f"returning = {'true' if returning else 'false'}", f'key_file = "{tmp}/keys.json"', extra]
    text = f"""
[snmp]
version = "2c"
community = "env:WW_TEST_COMMUNITY"

[store]
path = "{tmp}/w.sqlite3"

{chr(10).join(lines)}

[[sites]]
id = "station"
name_ja = "駅"
name_en = "Station"
kind = "station"
lat = 35.96
lon = 140.62

[[sites.aps]]
id = "st-1"
host = "127.0.0.1"
port = 16101
vendor = "yamaha_wlx"
visitor_ids = {json.dumps(["AA-BB-CC-00-00-01", "st-1-nas", *st1_ids])}

[[sites.aps]]
id = "st-2"
host = "127.0.0.1"
port = 16102
vendor = "yamaha_wlx"
visitor_ids = ["aabb.cc00.0002", "wlx-st2"]

[[sites]]
id = "shrine"
name_ja = "神宮"
name_en = "Shrine"
kind = "tourist_spot"
lat = 35.97
lon = 140.63

[[sites.aps]]
id = "sh-1"
host = "127.0.0.1"
port = 16103
vendor = "yamaha_wlx"
visitor_ids = ["aa:bb:cc:00:00:03", "shrine-ap1"]
"""
    return text


@contextlib.contextmanager
def running(inv: Inventory, monkeypatch, clock=None) -> Iterator[VisitorService]:
    monkeypatch.setenv("WW_TEST_RADIUS_SECRET", SECRET)
    kwargs = {"clock": clock} if clock is not None else {}
    svc = VisitorService(inv, SecretResolver(), **kwargs).start()
    stop = threading.Event()
    t = threading.Thread(target=svc.run, args=(stop,), daemon=True)
    t.start()
    try:
        yield svc
    finally:
        stop.set()
        t.join(5)
        svc.store.close()
