"""The RADIUS accounting server against Debian's radclient (freeradius-utils) on loopback."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from collector.metrics import REGISTRY
from tests.visitors_fixtures import SECRET, inventory, running

pytestmark = pytest.mark.skipif(shutil.which("radclient") is None, reason="radclient (freeradius-utils) missing")


def radclient(port: int, packets: list[dict[str, str]], tmp_path, secret: str = SECRET,
              ok: bool = True) -> subprocess.CompletedProcess[str]:
    body = "\n\n".join("\n".join(f'{k} = "{v}"' for k, v in p.items()) for p in packets) + "\n"
    f = tmp_path / "packets.txt"
    f.write_text(body)
    res = subprocess.run(["radclient", "-p", "1", "-r", "1", "-t", "1", "-f", str(f), f"127.0.0.1:{port}",
                          "acct", secret], capture_output=True, text=True, timeout=60)
    assert (res.returncode == 0) == ok, res.stdout + res.stderr
    return res


def count(result: str) -> float:
    return REGISTRY.get_sample_value("wifiwatch_visitor_events_total",
                                     {"source": "radius", "result": result}) or 0.0


def acct(status: str, mac: str, sid: str, called: str = "AA-BB-CC-00-00-01:KashimaFree", **more: str):
    p = {"Acct-Status-Type": status, "Calling-Station-Id": mac, "Called-Station-Id": called,
         "Acct-Session-Id": sid, "NAS-Identifier": "ignored-when-called-matches"}
    p.update(more)
    return p


def test_start_interim_stop_give_sessions_and_exact_dwell(tmp_path, monkeypatch):
    inv = inventory(tmp_path)
    unknown0, bad0 = count("unknown_ap"), count("bad_authenticator")
    with running(inv, monkeypatch) as svc:
        port = svc.port("radius")
        radclient(port, [
            acct("Start", "02-11-22-33-44-55", "s1"),  # randomised (locally administered)
            acct("Start", "F0-99-B6-00-00-01", "s2"),
            acct("Interim-Update", "F0-99-B6-00-00-01", "s2", **{"Acct-Session-Time": "300"}),
            # colon form of the same AP, other spelling of the same device as s1 on a second session
            acct("Start", "02:11:22:33:44:55", "s3", called="aa:bb:cc:00:00:01"),
            acct("Stop", "02-11-22-33-44-55", "s1", **{"Acct-Session-Time": "600"}),
            acct("Stop", "F0-99-B6-00-00-01", "s2", **{"Acct-Session-Time": "1200"}),
            # by NAS-Identifier alone (no Called-Station-Id): the shrine's AP
            {"Acct-Status-Type": "Start", "Calling-Station-Id": "F0-99-B6-00-00-02", "Acct-Session-Id": "x1",
             "NAS-Identifier": "Shrine-AP1"},
            {"Acct-Status-Type": "Stop", "Calling-Station-Id": "F0-99-B6-00-00-02", "Acct-Session-Id": "x1",
             "NAS-Identifier": "shrine-ap1", "Acct-Session-Time": "45"},
            # an AP nobody configured: answered, counted, never guessed or stored
            acct("Start", "F0-99-B6-00-00-09", "u1", called="11-22-33-44-55-66:Other", **{"NAS-Identifier": "x"}),
        ], tmp_path)
        # the wrong secret: no answer (radclient gives up), counted
        radclient(port, [acct("Start", "F0-99-B6-00-00-07", "b1")], tmp_path, secret="wrong-secret-xyz", ok=False)
        assert svc.open_counts() == {"st-1": 1}  # s3 still open
        sessions = list(svc.store.iter_sessions(0, 4e9))
    assert count("unknown_ap") - unknown0 == 1
    assert count("bad_authenticator") - bad0 >= 1
    by_ap = sorted((s.ap_id, s.site_id, s.dwell_s or -1.0, s.randomized) for s in sessions)
    assert by_ap == [("sh-1", "shrine", 45.0, False), ("st-1", "station", -1.0, True),  # s3: open
                     ("st-1", "station", 600.0, True), ("st-1", "station", 1200.0, False)]
    # one device, two sessions, two spellings: one hash; hashes are 64 hex characters, never the MAC
    randomized = {s.device for s in sessions if s.randomized}
    assert len(randomized) == 1 and all(len(s.device) == 64 for s in sessions)
    assert all(s.device30 is None and s.source == "radius" and not s.simulated for s in sessions)


def test_retransmission_counted_once_and_accounting_on_closes_the_aps_sessions(tmp_path, monkeypatch):
    inv = inventory(tmp_path)
    with running(inv, monkeypatch) as svc:
        port = svc.port("radius")
        radclient(port, [acct("Start", "F0-99-B6-00-00-01", "a"), acct("Start", "F0-99-B6-00-00-02", "b"),
                         acct("Start", "F0-99-B6-00-00-03", "c", called="AABB.CC00.0002:ssid")], tmp_path)
        assert svc.open_counts() == {"st-1": 2, "st-2": 1}
        radclient(port, [{"Acct-Status-Type": "Accounting-On", "NAS-Identifier": "st-1-nas"}], tmp_path)
        assert svc.open_counts() == {"st-2": 1}
        # a Stop whose Start was lost: stored closed, its dwell from Acct-Session-Time; the NAS's retry of it
        # (a new Acct-Delay-Time, so another packet) is not a second session
        radclient(port, [acct("Stop", "F0-99-B6-00-00-04", "d", **{"Acct-Session-Time": "90"}),
                         acct("Stop", "F0-99-B6-00-00-04", "d", **{"Acct-Session-Time": "90",
                                                                   "Acct-Delay-Time": "5"})], tmp_path)
        dwell = sorted(s.dwell_s for s in svc.store.iter_sessions(0, 4e9) if s.dwell_s is not None)
    assert 90.0 in dwell and len(dwell) == 3


def test_status_server_is_answered(tmp_path, monkeypatch):
    inv = inventory(tmp_path)
    before = count("status_server")
    with running(inv, monkeypatch) as svc:
        f = tmp_path / "status.txt"
        f.write_text("Message-Authenticator = 0x00\n")
        res = subprocess.run(["radclient", "-r", "1", "-t", "1", "-f", str(f), f"127.0.0.1:{svc.port('radius')}",
                              "status", SECRET], capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        bad = subprocess.run(["radclient", "-r", "1", "-t", "1", "-f", str(f), f"127.0.0.1:{svc.port('radius')}",
                              "status", "not-the-secret"], capture_output=True, text=True, timeout=60)
        assert bad.returncode != 0
    assert count("status_server") - before == 1
