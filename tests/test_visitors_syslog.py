"""Syslog association events: every vendor pattern against its examples, and util-linux `logger` on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from collector.metrics import REGISTRY
from collector.visitors.syslog_events import load_patterns, parse
from tests.visitors_fixtures import inventory, running


def test_every_pattern_matches_its_examples_as_its_own_event_and_says_where_it_comes_from():
    pats = load_patterns()
    vendors = {p.vendor for p in pats}
    assert {"hostapd", "unifi", "aruba_instant", "cisco_aireos", "cisco_9800", "ruckus", "mikrotik",
            "yamaha_wlx", "nec", "buffalo", "allied_telesis"} <= vendors
    for p in pats:
        assert p.definition.origin and p.definition.source
        for ex in p.definition.examples:
            assert p.rx.search(ex) is not None, (p.vendor, ex)
            first = next(q for q in pats if q.rx.search(ex))  # what the receiver will decide
            assert first.event == p.event, (p.vendor, ex, first.vendor)
            mac = first.rx.search(ex)["mac"]  # type: ignore[index]
            assert mac.replace(":", "").replace("-", "").replace(".", "").lower() in ex.replace(":", "").replace(
                "-", "").replace(".", "").lower()


def test_headers_of_both_rfcs_and_junk():
    assert parse(b"<13>Dec  7 08:50:00 ap1 hostapd[12]: wlan0: AP-STA-CONNECTED aa:bb:cc:dd:ee:ff").host == "ap1"
    p = parse(b'<13>1 2026-12-07T08:50:00Z ap2 hostapd 12 - [x@1 a="\\]"] wlan0: hello')
    assert p is not None and (p.host, p.app, p.message) == ("ap2", "hostapd", "wlan0: hello")
    assert parse(b"no pri at all") is None
    assert parse(b"<999>Dec  7 08:50:00 h t: m") is None
    assert parse(b"<13>" + b"\xff" * 100000) is None  # bounded, undecodable, no header: dropped


def count(result: str) -> float:
    return REGISTRY.get_sample_value("wifiwatch_visitor_events_total", {"source": "syslog", "result": result}) or 0.0


def total() -> float:
    return sum(count(r) for r in ("start", "stop", "stop_without_start", "unknown_ap", "unmatched", "malformed"))


def logger(port: int, rfc: str, tag: str, message: str) -> None:
    before = total()
    subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(port), "-d", f"--{rfc}", "-t", tag, message],
                   check=True, timeout=30)
    deadline = time.monotonic() + 10
    while total() == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert total() > before, "the receiver never handled the datagram"


@pytest.mark.skipif(shutil.which("logger") is None, reason="logger (bsdutils) missing")
def test_logger_events_give_sessions_with_their_dwell(tmp_path, monkeypatch):
    now = [1_796_000_000.0]
    inv = inventory(tmp_path, radius=False, syslog=True, st1_ids=(socket.gethostname(),))
    unknown0 = count("unknown_ap")
    with running(inv, monkeypatch, clock=lambda: now[0]) as svc:
        port = svc.port("syslog")
        # hostapd on st-1 (named by the syslog HOSTNAME: this machine's), RFC 3164 and 5424
        logger(port, "rfc3164", "hostapd", "wlan0: AP-STA-CONNECTED 3a:1b:4c:5d:6e:7f")
        logger(port, "rfc5424", "hostapd", "wlan0: AP-STA-CONNECTED f0:99:b6:12:34:56")
        # Aruba Instant on st-2, named by the AP MAC inside the message
        logger(port, "rfc3164", "stm", "<501100> <NOTI> |AP aa:bb:cc:00:00:02@10.0.0.5 stm|  Assoc success @ "
                                       "20:30:58.606562: 88:63:df:ae:d3:83: AP 10.0.0.5-x")
        # Ruckus on the shrine's AP by name; and one from an AP nobody configured
        logger(port, "rfc5424", "ruckus", "User[f0:99:b6:12:34:56] joins WLAN[Free] from AP[shrine-ap1@24:79:2a:0:0:1]")
        logger(port, "rfc5424", "ruckus", "User[f0:99:b6:12:34:57] joins WLAN[Free] from AP[nowhere]")
        logger(port, "rfc3164", "dnsmasq", "DHCPACK(br-lan) 10.0.0.9 3a:1b:4c:5d:6e:7f phone")  # not an event
        assert svc.open_counts() == {"st-1": 2, "st-2": 1, "sh-1": 1}
        now[0] += 600
        logger(port, "rfc5424", "hostapd", "wlan0: AP-STA-DISCONNECTED 3a:1b:4c:5d:6e:7f")
        now[0] += 300
        logger(port, "rfc3164", "stm", "<501080> <NOTI> <wcp2>  Deauth to sta: 88:63:df:ae:d3:83: Ageout "
                                       "|AP aa:bb:cc:00:00:02@10.0.0.5 stm|")
        logger(port, "rfc3164", "hostapd", "wlan0: AP-STA-DISCONNECTED 00:00:5e:00:53:01")  # never associated
        sessions = list(svc.store.iter_sessions(0, 4e9))
        assert svc.open_counts() == {"st-1": 1, "st-2": 1, "sh-1": 1}
    # the Aruba deauth carries no AP group in that pattern and the HOSTNAME is this machine (st-1): it closes
    # nothing at st-1 (the device was never there); st-2's session stays open: never guessed across APs
    dwell = sorted((s.ap_id, s.dwell_s) for s in sessions if s.end is not None)
    assert dwell == [("st-1", 600.0)]
    assert count("unknown_ap") - unknown0 == 1
    assert all(s.source == "syslog" and len(s.device) == 64 for s in sessions)
    assert sum(s.randomized for s in sessions) == 1  # 3a:... is locally administered
