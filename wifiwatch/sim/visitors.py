"""The demo's visitors: simulated session history in the store, and live RADIUS accounting and syslog
sent to the daemon while it runs. Everything here is 模擬データ: sessions are stored with
``simulated=True`` (history written directly; live ones marked by the RADIUS Class and the syslog
APP-NAME the receivers recognise), so every figure built on them says so.

The history is shaped to exercise every figure of the 利用分析 page and report: daily and hourly
curves with weekend and festival peaks, dwell across all bands, a portal-language mix at the tourist
street, residents who come back (new vs returning), randomised and vendor MACs, and visitors who walk
from one spot to the next (flows, enough of them to pass k-suppression).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.inventory import Inventory
from core.visitors.keys import ImportKeys
from core.visitors.model import VisitorSession
from core.visitors.store import VisitorStore

RADIUS_SECRET_ENV = "WIFIWATCH_DEMO_RADIUS_SECRET"
SSID = "Kashima_Free_Wi-Fi"
SIM_CLASS = "wifiwatch:simulated"
SIM_APP = "wifiwatch-sim"
JST = dt.timezone(dt.timedelta(hours=9))
# portal languages at a tourist street (shares), after Okinawa's reported mix scaled to a Japanese majority
LANGS_TOURIST = (("ja", 0.58), ("zh-Hant", 0.12), ("en", 0.12), ("ko", 0.10), ("zh-Hans", 0.08))
LANGS_LOCAL = (("ja", 0.93), ("en", 0.05), ("ko", 0.02))
FESTIVAL_EVERY_DAYS = 11  # a festival / match day now and then: event uplift has something to show


def bssid(n: int) -> str:
    return f"02:00:5e:10:00:{n:02x}"


def demo_visitor_config(text: str) -> str:
    """The demo config with [visitors] on loopback (free ports) and visitor_ids on every AP."""
    import tomlkit

    doc = tomlkit.parse(text)
    vis = tomlkit.table()
    vis["radius_bind"] = f"127.0.0.1:{_free_udp_port()}"
    vis["radius_secret"] = f"env:{RADIUS_SECRET_ENV}"
    vis["syslog_bind"] = f"127.0.0.1:{_free_udp_port()}"
    vis["returning"] = True
    doc["visitors"] = vis
    os.environ.setdefault(RADIUS_SECRET_ENV, secrets.token_hex(16))
    n = 0
    for site in doc.get("sites", []):
        for ap in site.get("aps", []):
            n += 1
            ap["visitor_ids"] = [bssid(n), str(ap["id"])]
    return tomlkit.dumps(doc)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mac(rnd: random.Random, randomized: bool) -> str:
    first = (rnd.randrange(256) & 0xFC) | 0x02 if randomized else rnd.choice((0xF0, 0x3C, 0xA4, 0x00))
    return ":".join(f"{b:02x}" for b in (first, *(rnd.randrange(256) for _ in range(5))))


def _pick(rnd: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    x, acc = rnd.random(), 0.0
    for value, share in table:
        acc += share
        if x < acc:
            return value
    return table[-1][0]


def _arrival_hour(rnd: random.Random) -> float:
    """JST hour of arrival: a day curve from 8 to 21 h with a lunch and an early-evening peak."""
    while True:
        h = rnd.uniform(7.0, 22.0)
        w = math.sin(math.pi * (h - 7) / 15) * (1.0 + 0.35 * math.exp(-((h - 12.5) ** 2)) +
                                                  0.3 * math.exp(-((h - 17.5) ** 2) / 2))
        if rnd.random() < w / 1.5:
            return h


def _dwell_s(rnd: random.Random, median_min: float) -> float:
    return max(20.0, min(5 * 3600.0, rnd.lognormvariate(math.log(median_min * 60), 0.95)))


def simulated_sessions(inv: Inventory, start: dt.date, days: int, seed: int = 20261207) -> Iterator[VisitorSession]:
    """Sessions for ``days`` JST days from ``start``, in time order per day (not globally sorted)."""
    rnd = random.Random(seed)
    keys = ImportKeys(returning=True)
    sites = [s for s in inv.sites if s.aps]
    if not sites:
        return
    residents = [(_mac(rnd, rnd.random() < 0.6), rnd.choice(sites)) for _ in range(260)]
    for d in range(days):
        day = start + dt.timedelta(days=d)
        weekend = day.weekday() >= 5
        festival = (day.toordinal() % FESTIVAL_EVERY_DAYS) == 0
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=JST).timestamp()
        for site in sites:
            tourist = site.kind.value in ("tourist_spot", "commercial", "station", "park")
            base = (170 if tourist else 60) * (1.7 if weekend else 1.0) * (2.2 if festival else 1.0)
            visitors: list[tuple[str, bool]] = [(_mac(rnd, rnd.random() < 0.72), False)
                                                for _ in range(int(rnd.gauss(base, base * 0.1)))]
            visitors += [(mac, True) for mac, home in residents if home is site and rnd.random() < 0.35]
            for mac, resident in visitors:
                arrive = midnight + _arrival_hour(rnd) * 3600
                median = 14.0 if tourist else 40.0
                lang = _pick(rnd, LANGS_LOCAL if resident or not tourist else LANGS_TOURIST)
                t = arrive
                aps = list(site.aps)
                for _ in range(1 if len(aps) == 1 or rnd.random() < 0.6 else 2):  # some walk along the street
                    ap = rnd.choice(aps)
                    dwell = _dwell_s(rnd, median)
                    yield _session(keys, mac, site.id, ap.id, t, dwell, lang)
                    t += dwell + rnd.uniform(30, 300)
                # a share goes on to another spot the same day: the flows between spots
                others = [s for s in sites if s is not site]
                if others and rnd.random() < (0.22 if tourist else 0.12):
                    nxt = rnd.choice(others)
                    t += rnd.uniform(600, 3 * 3600)
                    yield _session(keys, mac, nxt.id, rnd.choice(nxt.aps).id, t, _dwell_s(rnd, 25.0), lang)


def _session(keys: ImportKeys, mac: str, site_id: str, ap_id: str, start: float, dwell: float,
             lang: str) -> VisitorSession:
    device, device30, randomized = keys.device(mac, start)
    return VisitorSession(ap_id, site_id, device, device30, start, start + dwell, "sim", lang, randomized, True)


def seed_sessions(inv: Inventory, days: int, end: dt.datetime | None = None) -> int:
    """Write ``days`` days of simulated sessions ending yesterday (JST) into the demo's store."""
    end = end or dt.datetime.now(JST)
    start = (end - dt.timedelta(days=days)).date()
    store = VisitorStore(inv.store.path)
    try:
        return store.add_many((s, None) for s in simulated_sessions(inv, start, days))
    finally:
        store.close()


class LiveVisitors:
    """While the demo runs: a few simulated devices come and go, as real RADIUS accounting (Start,
    Interim-Update, Stop with Acct-Session-Time) to the daemon's accounting port and as syslog
    association lines (hostapd wording, RFC 5424) to its syslog port, for every AP in turn."""

    def __init__(self, inv: Inventory, seed: int = 7, interval_s: float = 1.0):
        from collector.visitors.radius import RadiusSender
        from core.inventory import split_host_port

        v = inv.visitors
        assert v.radius_bind and v.syslog_bind
        self.radius_addr = split_host_port(v.radius_bind)
        self.syslog_addr = split_host_port(v.syslog_bind)
        self.secret = os.environ[RADIUS_SECRET_ENV].encode()
        self.dictionary = RadiusSender.load().dictionary
        self.aps = [(n + 1, ap.id) for n, (_s, ap) in enumerate(inv.aps())]
        self.rnd = random.Random(seed)
        self.interval_s = interval_s
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(1.0)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-visitors", daemon=True)
        self.sent = {"radius": 0, "answered": 0, "syslog": 0}

    def start(self) -> LiveVisitors:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)
        self.sock.close()

    def _acct(self, status: str, ap_n: int, mac: str, sid: str, elapsed: int | None = None) -> None:
        from pyrad import packet as rp

        pkt = rp.AcctPacket(code=rp.AccountingRequest, secret=self.secret, dict=self.dictionary)
        pkt["Acct-Status-Type"] = status
        pkt["Calling-Station-Id"] = mac.upper().replace(":", "-")
        pkt["Called-Station-Id"] = f"{bssid(ap_n).upper().replace(':', '-')}:{SSID}"
        pkt["Acct-Session-Id"] = sid
        pkt["Class"] = SIM_CLASS.encode()
        if elapsed is not None:
            pkt["Acct-Session-Time"] = elapsed
        raw = pkt.RequestPacket()
        self.sock.sendto(raw, self.radius_addr)
        self.sent["radius"] += 1
        try:
            reply, _ = self.sock.recvfrom(4096)
            if pkt.VerifyReply(pkt.CreateReply(packet=reply), reply):
                self.sent["answered"] += 1
        except (TimeoutError, OSError, Exception):  # noqa: BLE001 - the demo carries on without an answer
            pass

    def _syslog(self, ap_id: str, text: str) -> None:
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = f"<30>1 {stamp} {ap_id} {SIM_APP} - - - {text}"
        self.sock.sendto(line.encode(), self.syslog_addr)
        self.sent["syslog"] += 1

    def _run(self) -> None:
        active: list[tuple[str, int, str, str, float]] = []  # (kind, ap n / id, mac, session id, start)
        n = 0
        while not self.stop_event.wait(self.interval_s):
            now = time.time()
            if len(active) < 12 and self.rnd.random() < 0.8:
                n += 1
                ap_n, ap_id = self.rnd.choice(self.aps)
                mac = _mac(self.rnd, self.rnd.random() < 0.7)
                if self.rnd.random() < 0.6:
                    sid = f"{secrets.token_hex(4).upper()}-{n:08X}"
                    self._acct("Start", ap_n, mac, sid)
                    active.append(("radius", ap_n, mac, sid, now))
                else:
                    self._syslog(ap_id, f"wlan0: AP-STA-CONNECTED {mac}")
                    active.append(("syslog", ap_n, mac, ap_id, now))
            for item in list(active):
                kind, ap_n, mac, sid, t0 = item
                if now - t0 > self.rnd.uniform(8, 60) * self.interval_s:
                    if kind == "radius":
                        self._acct("Stop", ap_n, mac, sid, int(now - t0))
                    else:
                        self._syslog(sid, f"wlan0: AP-STA-DISCONNECTED {mac}")
                    active.remove(item)
                elif kind == "radius" and self.rnd.random() < 0.05:
                    self._acct("Interim-Update", ap_n, mac, sid, int(now - t0))


def summary(store_path: Path | str) -> dict[str, Any]:
    """Sessions by source in the demo's store (for the demo's printout)."""
    store = VisitorStore(store_path)
    try:
        out: dict[str, Any] = {"sessions": store.count()}
        out["open"] = sum(store.open_counts(time.time()).values())
        return out
    finally:
        store.close()
