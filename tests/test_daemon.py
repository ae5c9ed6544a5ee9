"""The daemon against the simulated fleet over real UDP/ICMP, writing to the real embedded store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.daemon import Daemon
from collector.icmp import raw_sockets_permitted
from core.secrets import SecretResolver
from core.store.sqlite_store import SqliteStore
from tests.fixtures_sim import SAMPLE, SimHandle

FAST = (("heartbeat_s = 10", "heartbeat_s = 1"), ("interval_s = 60", "interval_s = 2"),
        ("timeout_s = 2.0", "timeout_s = 0.5"))


def fast_config(extra: str = "") -> str:
    text = SAMPLE.read_text(encoding="utf-8")
    for a, b in FAST:
        text = text.replace(a, b)
    return text + extra


def run_daemon(h: SimHandle, seconds: float, during: Callable[[], None] | None = None) -> SqliteStore:
    store = SqliteStore(Path(h.inventory.store.path), h.inventory.store)
    d = Daemon(h.config_path, h.inventory, SecretResolver(), store, http=False, run_for_s=seconds)
    if during is not None:
        threading.Thread(target=during, daemon=True).start()
    assert d.run() == 0
    return store


def test_daemon_writes_pings_status_clients_and_traffic(sim_fleet) -> None:  # type: ignore[no-untyped-def]
    h = sim_fleet(fast_config())
    store = run_daemon(h, 6.5)
    end = time.time_ns()
    pings = store.query("ap_ping", 0, end)
    status = store.query("ap_status", 0, end)
    ids = {"omachi-router", "omachi-1", "omachi-2", "omachi-3", "kominkan-1"}
    assert {p.tags["ap"] for p in pings} == ids
    assert all(p.fields["reachable"] is True for p in pings)
    # heartbeats every second for ~6 s per device, give or take jitter
    per = {i: sum(1 for p in pings if p.tags["ap"] == i) for i in ids}
    assert all(4 <= n <= 8 for n in per.values()), per
    assert {p.tags["ap"] for p in status if p.fields.get("snmp_ok")} == ids
    clients = {p.tags["ap"] for p in store.query("ap_clients", 0, end)}
    assert clients == {"omachi-1", "omachi-2", "omachi-3", "kominkan-1"}
    rates = [p for p in store.query("ap_traffic", 0, end) if "rx_bps" in p.fields]
    assert rates, "second poll must give traffic rates"
    assert {p.tags["vendor"] for p in status if p.tags["ap"] == "omachi-3"} == {"mikrotik"}  # auto-detected


@pytest.mark.skipif(not raw_sockets_permitted(), reason="needs ICMP and nft (root)")
def test_a_down_ap_is_seen_within_a_cycle_and_others_keep_their_timing(sim_fleet) -> None:  # type: ignore[no-untyped-def]
    h = sim_fleet(fast_config())
    marks: dict[str, float] = {}

    def unplug() -> None:
        time.sleep(2.0)
        marks["down"] = time.time()
        h.fleet.down("omachi-2")

    store = run_daemon(h, 7.0, unplug)
    end = time.time_ns()
    down_ns = int(marks["down"] * 1e9)
    after = [p for p in store.query("ap_ping", down_ns + int(1.2e9), end)]
    assert after and all(not p.fields["reachable"] for p in after if p.tags["ap"] == "omachi-2")
    assert all(p.fields["reachable"] for p in after if p.tags["ap"] != "omachi-2")
    failed = [p for p in store.query("ap_status", down_ns, end) if p.tags["ap"] == "omachi-2"]
    assert failed and not failed[-1].fields["snmp_ok"] and "no SNMP response" in str(failed[-1].fields["error"])
    # the others' heartbeats keep one-second spacing while omachi-2 times out
    times = sorted(p.time_ns for p in store.query("ap_ping", down_ns, end, {"ap": "omachi-1"}))
    gaps = [(b - a) / 1e9 for a, b in zip(times, times[1:], strict=False)]
    assert gaps and max(gaps) < 1.6, gaps
