"""Fault injection: slow and garbage-speaking agents, counter resets and reboots, wall-clock jumps, SIGKILL.

Each test states what must survive the fault (nothing already accepted is lost) and how quickly the
collector is back to normal; docs/reliability.md tabulates the outcomes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import logging
import os
import random
import selectors
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import apscheduler.executors.base
import apscheduler.schedulers.base
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.availability import Sample, availability
from collector.alerts.engine import AlertEngine
from collector.alerts.state import DeviceState, Heartbeat, State, Thresholds, step
from collector.daemon import Daemon
from collector.engine import FleetEngine
from collector.snmp.client import V3, SnmpClient, Target, V2c
from collector.snmp.poller import ApPoller, PollResult, snmp_heartbeat, to_points
from collector.snmp.profiles import load_profiles
from core.inventory import StoreSettings
from core.schema import Point
from core.secrets import Secret, SecretResolver
from core.store.sqlite_store import SqliteStore
from tests.fixtures_sim import SimHandle
from tests.test_daemon import fast_config
from tests.test_hostile_agents import HostileAgent
from tests.test_snmp_agents import AUTH_KEY, PRIV_KEY, V3_USER, poll, start_agent

ROOT = Path(__file__).resolve().parent.parent

ONE_AP = """
[defaults]
heartbeat_s = 1
interval_s = 2
timeout_s = 0.5
retries = 0

[snmp]
version = "2c"
community = "env:WIFIWATCH_SNMP_COMMUNITY"

[alerts]
down_after = 3
up_after = 2

[[sites]]
id = "s1"
name_ja = "試験"
name_en = "Test"
kind = "park"
lat = 35.97
lon = 140.63

[[sites.aps]]
id = "ap1"
host = "127.0.0.1"
vendor = "generic"
"""


class Recorder:
    """A PointWriter that keeps what it is given."""

    def __init__(self) -> None:
        self.points: list[Point] = []
        self.lock = threading.Lock()

    def write(self, points: Sequence[Point]) -> None:
        with self.lock:
            self.points.extend(points)


# -- wall clock jumps ---------------------------------------------------------------------------------------

@dataclass
class ShiftedClock:
    """time.time() plus an offset the test moves: a wall clock stepped by NTP or an operator."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _shift_scheduler(monkeypatch: pytest.MonkeyPatch, clock: ShiftedClock) -> None:
    """APScheduler reads datetime.now() (scheduler and executor); give both the daemon's shifted wall clock."""
    class Shifted(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return dt.datetime.fromtimestamp(clock(), tz)

    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", Shifted)
    monkeypatch.setattr(apscheduler.executors.base, "datetime", Shifted)


@pytest.mark.parametrize("jump_s", [-3600.0, 3600.0])
def test_daemon_keeps_its_rhythm_when_the_wall_clock_jumps(sim_fleet, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                            caplog: pytest.LogCaptureFixture, jump_s: float) -> None:
    """A step of an hour either way: heartbeats and polls go on every interval, timestamped by the new clock."""
    h: SimHandle = sim_fleet(ONE_AP)
    clock = ShiftedClock()
    _shift_scheduler(monkeypatch, clock)
    rec = Recorder()
    d = Daemon(h.config_path, h.inventory, SecretResolver(), rec, http=False, use_icmp=False, run_for_s=9.0,
               clock=clock)
    jumped_at: list[float] = []

    def jump() -> None:
        time.sleep(3.5)
        clock.offset = jump_s
        jumped_at.append(time.monotonic())

    threading.Thread(target=jump, daemon=True).start()
    caplog.set_level(logging.INFO, "wifiwatch")
    t0 = time.monotonic()
    assert d.run() == 0
    wall_at_jump = time.time() - (time.monotonic() - jumped_at[0])
    before = [p for p in rec.points if p.measurement == "ap_ping" and p.time_ns / 1e9 < wall_at_jump + 1
              and p.time_ns / 1e9 > wall_at_jump - 10]
    after = [p for p in rec.points if p.measurement == "ap_ping" and abs(p.time_ns / 1e9 - (wall_at_jump + jump_s))
             < 10]
    assert len(before) >= 2, "heartbeats before the jump"
    # ~5.5 s of run left at 1 s heartbeats: the rhythm goes on (without the fix a step back froze it for an hour)
    assert len(after) >= 4, (len(after), time.monotonic() - t0)
    assert all(p.fields["reachable"] is True for p in [*before, *after])
    polls_after = [p for p in rec.points if p.measurement == "ap_status"
                   and abs(p.time_ns / 1e9 - (wall_at_jump + jump_s)) < 10]
    assert len(polls_after) >= 2
    assert "wall clock jumped" in caplog.text


@settings(max_examples=200, deadline=None)
@given(n=st.integers(10, 200), at=st.integers(1, 199), jump=st.floats(-86400, 86400), interval=st.sampled_from(
    [1.0, 10.0, 60.0]))
def test_availability_never_counts_a_clock_jump_as_an_outage(n: int, at: int, jump: float, interval: float) -> None:
    """Heartbeats all up, stamped by a wall clock that steps by ``jump`` once: no downtime, no outage."""
    at = min(at, n - 1)
    t0 = 1_790_000_000.0
    samples = [Sample(t0 + i * interval + (jump if i >= at else 0.0), True) for i in range(n)]
    lo = min(s.t for s in samples) - 100
    hi = max(s.t for s in samples) + 100
    a = availability(samples, lo, hi, interval)
    assert a.down_s == 0 and a.n_outages == 0
    assert a.up_s >= 0 and a.unknown_s >= 0
    assert a.up_s + a.down_s + a.unknown_s + a.maintenance_s == pytest.approx(hi - lo, abs=1e-3)
    if jump > 0:  # a step forward is time nobody watched: unknown, never down
        assert a.unknown_s >= jump - 3 * interval


@settings(max_examples=200, deadline=None)
@given(beats=st.lists(st.tuples(st.booleans(), st.floats(-7200, 7200)), min_size=1, max_size=60))
def test_alert_state_under_any_clock_gives_sane_durations(beats: list[tuple[bool, float]]) -> None:
    """Heartbeats 10 s apart whose wall-clock stamps jump arbitrarily: transitions still follow the heartbeats
    alone, and no outage duration is negative."""
    t = Thresholds()
    s = DeviceState()
    now = 1_790_000_000.0
    fails = oks = 0
    for reachable, jump in beats:
        now += 10.0 + jump
        prev = s.confirmed
        s, out = step(s, Heartbeat(reachable), now, t)
        fails, oks = (fails + 1, 0) if not reachable else (0, oks + 1)
        for tr in out:
            assert tr.duration_s is None or tr.duration_s >= 0
            if tr.kind == "down":
                assert fails >= t.down_after and prev != State.DOWN
            if tr.kind == "up":
                assert oks >= t.up_after and prev == State.DOWN


def test_engine_with_stepping_clock_gives_true_rates_and_no_alerts(sim_fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """FleetEngine with an injected wall clock that steps back an hour, then forward two, between cycles:
    traffic rates come from the monotonic clock (no negative or huge values), no incident is opened, and the
    stored heartbeats give 100 % availability."""
    h: SimHandle = sim_fleet(ONE_AP)
    clock = ShiftedClock()
    store = SqliteStore(tmp_path / "jump.sqlite3", h.inventory.store)
    alerts = AlertEngine(h.inventory, tmp_path / "jump.sqlite3", SecretResolver(), clock=clock)

    async def run() -> list[PollResult]:
        eng = FleetEngine(h.inventory, SecretResolver(), store, alerts, use_icmp=False, clock=clock)
        polls = []
        try:
            for step_s in (0.0, 0.0, -3600.0, 0.0, 7200.0, 0.0):
                clock.offset += step_s
                await eng.heartbeat_once()
                polls.append((await eng.poll_once())["ap1"])
                await asyncio.sleep(1.0)
        finally:
            await eng.close()
        return polls

    polls = asyncio.run(run())
    assert all(p.ok for p in polls)
    rx = [p.rx_bps for p in polls[1:]]
    # The generic recording's ifInOctets grow by 200 + 300 kB/s: 4 Mbit/s in all.
    assert all(r is not None and 1e6 < r < 1e7 for r in rx), rx
    assert alerts.store.incidents() == []
    assert alerts.states["ap1"].confirmed == State.UP
    pings = store.query("ap_ping", 0, int((time.time() + 10_000) * 1e9))
    samples = [Sample(p.time_ns / 1e9, bool(p.fields["reachable"])) for p in pings]
    a = availability(samples, min(s.t for s in samples), max(s.t for s in samples) + 1, 1.0)
    assert a.down_s == 0 and a.n_outages == 0 and a.pct == 100.0
    store.close()


# -- agents that misbehave on the wire --------------------------------------------------------------------------

STEPS = {  # one device's successive readings: (sysUpTime ticks, ifHCInOctets, ifHCOutOctets)
    "s1": (100_000, 5_000_000_000, 7_000_000_000),
    "s2": (100_100, 4_000, 7_000_100_000),  # rx counter reset without uptime going back
    "s3": (100_200, 104_000, 7_000_200_000),
    "s4": (50, 10, 10),  # reboot: uptime and counters start again
    "s5": (150, 100_010, 100_010),
}


def _step_recording(uptime: int, rx: int, tx: int) -> str:
    return "\n".join([
        "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10", f"1.3.6.1.2.1.1.3.0|67|{uptime}",
        "1.3.6.1.2.1.2.2.1.2.1|4|eth0", "1.3.6.1.2.1.2.2.1.8.1|2|1",
        "1.3.6.1.2.1.31.1.1.1.1.1|4|eth0", f"1.3.6.1.2.1.31.1.1.1.6.1|70|{rx}",
        f"1.3.6.1.2.1.31.1.1.1.10.1|70|{tx}", ""])


@pytest.fixture(scope="module")
def fault_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """One snmpsim agent: the generic recording and the counter steps (communities s1..s5)."""
    data = tmp_path_factory.mktemp("faultdata")
    generic = (ROOT / "wifiwatch" / "sim" / "data" / "generic.snmprec").read_text(encoding="utf-8")
    for name in ("generic", GENERIC_COMMUNITY):  # start_agent's readiness probe asks for "generic"
        (data / f"{name}.snmprec").write_text(generic, encoding="utf-8")
    for name, vals in STEPS.items():
        (data / f"{name}.snmprec").write_text(_step_recording(*vals), encoding="utf-8")
    agent = start_agent(data, tmp_path_factory.mktemp("faultcache"))
    yield agent.endpoints[0]
    agent.stop()


class DelayProxy:
    """A UDP relay on loopback that holds every reply from the agent for ``delay`` seconds: a slow AP."""

    def __init__(self, upstream: tuple[str, int], delay: float = 0.0):
        self.upstream = upstream
        self.delay = delay
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.addr = self.front.getsockname()
        self.backs: dict[tuple[str, int], socket.socket] = {}
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.front, selectors.EVENT_READ, None)
        self.due: list[tuple[float, int, bytes, tuple[str, int]]] = []
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        n = 0
        while not self.stopped:
            wait = max(0.0, min((d[0] for d in self.due), default=time.monotonic() + 0.05) - time.monotonic())
            for key, _ in self.sel.select(min(wait, 0.05)):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                data, src = sock.recvfrom(65535)
                if key.data is None:  # from a client: relay to the agent through that client's own socket
                    back = self.backs.get(src)
                    if back is None:
                        back = self.backs[src] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        back.bind(("127.0.0.1", 0))
                        self.sel.register(back, selectors.EVENT_READ, src)
                    back.sendto(data, self.upstream)
                else:  # a reply: hold it
                    n += 1
                    heapq.heappush(self.due, (time.monotonic() + self.delay, n, data, key.data))
            while self.due and self.due[0][0] <= time.monotonic():
                _, _, data, client = heapq.heappop(self.due)
                self.front.sendto(data, client)

    def close(self) -> None:
        self.stopped = True
        self.thread.join(2)
        for s in [self.front, *self.backs.values()]:
            s.close()


def _run_polls(targets: list[tuple[str, Target, str]]) -> list[list[PollResult]]:
    return poll(load_profiles(), targets)


# Not a word: every Secret joins the log redactor, which would then mask it in later tests' output.
GENERIC_COMMUNITY = "fault-generic-5d2c"


def _v2c(addr: tuple[str, int], community: str = GENERIC_COMMUNITY, timeout: float = 1.0,
         retries: int = 0) -> Target:
    return Target(addr[0], addr[1], V2c(Secret(community, "test:c")), timeout, retries)


def test_slow_agent_within_timeout_is_polled_and_beyond_it_times_out_then_recovers(
        fault_agent: tuple[str, int]) -> None:
    proxy = DelayProxy(fault_agent, delay=0.4)
    try:
        slow = _v2c(proxy.addr, timeout=1.0, retries=0)
        fast = _v2c(fault_agent)
        [[res, ref]] = _run_polls([("slow", slow, "generic"), ("fast", fast, "generic")])
        assert res.ok and res.error is None, res.error
        assert res.poll_ms >= 400 * res.pdus * 0.9 and ref.poll_ms < res.poll_ms
        assert res.interfaces.keys() == ref.interfaces.keys()  # same data, only later

        proxy.delay = 2.5  # beyond timeout x (retries + 1): every reply arrives after its request gave up
        t0 = time.perf_counter()
        [[late, other]] = _run_polls([("slow", slow, "generic"), ("fast", fast, "generic")])
        assert not late.ok and late.error_kind == "timeout" and "no SNMP response" in (late.error or "")
        assert time.perf_counter() - t0 < slow.attempt_budget_s * 3 + 1
        assert other.ok and other.poll_ms < 1000  # a slow AP holds no one else up

        time.sleep(2.6)  # the stale replies are still on their way
        proxy.delay = 0.0
        [[again]] = _run_polls([("slow", slow, "generic")])  # recovery: the very next poll
        assert again.ok and again.error is None, again.error

        async def beats() -> list[tuple[bool, float | None]]:
            client = SnmpClient()
            try:
                proxy.delay = 0.5
                near = await snmp_heartbeat(client, slow)
                proxy.delay = 2.5
                far = await snmp_heartbeat(client, slow)
                return [near, far]
            finally:
                await client.close()

        (near_ok, near_rtt), (far_ok, far_rtt) = asyncio.run(beats())
        assert near_ok and near_rtt is not None and near_rtt >= 450
        assert (far_ok, far_rtt) == (False, None)
    finally:
        proxy.close()


GARBAGE: dict[str, Callable[[bytes], bytes]] = {
    "random": lambda req: random.randbytes(random.randint(1, 300)),
    "empty": lambda req: b"",
    "truncated_echo": lambda req: req[: max(1, len(req) // 2)],
    "echo": lambda req: req,  # a GET request is not a response
    "lying_length": lambda req: b"\x30\x84\x7f\xff\xff\xff" + random.randbytes(20),
    "deep_nesting": lambda req: b"\x30\x80" * 2000,
}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_agent_answering_garbage_is_an_error_for_that_ap_only(fault_agent: tuple[str, int], kind: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    make = GARBAGE[kind]
    bad = HostileAgent(lambda request: [make(request)] * 2)  # and a duplicate, for good measure
    caplog.set_level(logging.DEBUG)
    try:
        v2 = _v2c(bad.addr, timeout=0.5)
        v3 = Target(bad.addr[0], bad.addr[1], V3(V3_USER, "sha256", Secret(AUTH_KEY, "test:a"), "aes128",
                                                 Secret(PRIV_KEY, "test:p")), 0.5, 0)
        t0 = time.perf_counter()
        [[r2, r3, good]] = _run_polls([("bad2", v2, "generic"), ("bad3", v3, "generic"),
                                       ("good", _v2c(fault_agent), "generic")])
        elapsed = time.perf_counter() - t0
    finally:
        bad.close()
    assert bad.requests >= 1
    for r in (r2, r3):
        assert not r.ok and r.error_kind in ("timeout", "bad_data", "protocol"), (r.error_kind, r.error)
        assert r.clients is None and not r.interfaces
    assert good.ok and good.error is None
    assert elapsed < 0.5 * 3 + 2
    # Nothing of ours logs a traceback. (pysnmp's v3 receive path lets some pyasn1 TypeErrors out to asyncio,
    # which logs them at ERROR: upstream pysnmp/pysnmp#82; the request still ends as a timeout.)
    ours = [r for r in caplog.records if r.name.startswith("wifiwatch") and r.levelno >= logging.ERROR]
    assert not ours, [r.getMessage() for r in ours]


def test_counter_reset_and_reboot_give_no_rate_never_a_negative_or_huge_one(fault_agent: tuple[str, int]) -> None:
    """One device read five times (a community per reading): a reset rx counter, then a reboot."""
    async def run() -> list[PollResult]:
        client = SnmpClient()
        poller = ApPoller(client, load_profiles())
        out = []
        try:
            for name in STEPS:
                out.append(await poller.poll("ap1", _v2c(fault_agent, name), "generic"))
                await asyncio.sleep(0.3)
        finally:
            await client.close()
        return out

    s1, s2, s3, s4, s5 = asyncio.run(run())
    assert all(r.ok for r in (s1, s2, s3, s4, s5)), [r.error for r in (s1, s2, s3, s4, s5)]
    eth = [r.interfaces["eth0"] for r in (s1, s2, s3, s4, s5)]
    assert eth[0].rx_bps is None  # first sample
    assert eth[1].rx_bps is None and eth[1].tx_bps is not None and eth[1].tx_bps > 0  # rx reset: no rx rate
    assert eth[2].rx_bps is not None and 0 < eth[2].rx_bps < 100_000 * 8 / 0.25  # next poll: rates again
    assert s4.rebooted and eth[3].rx_bps is None and eth[3].tx_bps is None  # reboot: no rate at all
    assert not s5.rebooted and eth[4].rx_bps is not None and eth[4].tx_bps is not None
    for r in (s1, s2, s3, s4, s5):
        for p in to_points("s", "ap1", "ap", r, 1_790_000_000_000_000_000, None):
            for k in ("rx_bps", "tx_bps"):
                assert k not in p.fields or 0 <= float(p.fields[k]) < 1e9  # type: ignore[arg-type]
            if p.measurement == "ap_traffic":
                assert "rx_bytes" in p.fields  # the raw counters are kept even when no rate is given


# -- SIGKILL during SQLite writes ---------------------------------------------------------------------------

_WRITER = """
import sys
from pathlib import Path
from core.schema import Point
from core.store.sqlite_store import SqliteStore
from core.inventory import StoreSettings
store = SqliteStore(Path(sys.argv[1]), StoreSettings(path=sys.argv[1]))
start = int(sys.argv[2])
for b in range(start, start + 100000):
    store.write([Point("ap_clients", {"site": "s", "ap": f"ap-{i % 7}", "radio": "2g"},
                       {"clients": i % 50, "batch": b}, 1_790_000_000_000_000_000 + (b * 200 + i) * 1000)
                 for i in range(200)])
    print(b, flush=True)  # after write() returned: this batch is committed
"""


def test_sigkill_during_sqlite_writes_loses_no_committed_batch(tmp_path: Path) -> None:
    path = tmp_path / "kill.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    acked: set[int] = set()
    start = 0
    for _ in range(3):  # killed three times at different moments, restarted each time
        child = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(start)], stdout=subprocess.PIPE,
                                 env=env, text=True)
        assert child.stdout is not None
        want = start + random.randint(20, 60)
        for line in child.stdout:
            acked.add(int(line))
            if int(line) >= want:
                break
        time.sleep(random.uniform(0, 0.02))  # land somewhere inside a following write
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert child.returncode == -signal.SIGKILL
        with sqlite3.connect(path) as c:
            assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        store = SqliteStore(path, StoreSettings(path=str(path)))  # opens fine, recovers the WAL
        pts = store.query("ap_clients", 0, 2**62)
        batches = {int(p.fields["batch"]) for p in pts}  # type: ignore[arg-type]
        assert acked <= batches, sorted(acked - batches)[:5]
        assert all(sum(1 for p in pts if p.fields["batch"] == b) == 200 for b in batches)  # whole batches only
        store.close()
        start = max(batches) + 1



@pytest.mark.slow
def test_daemon_sigkilled_while_writing_restarts_with_every_committed_row(sim_fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The real daemon, SIGKILLed mid-run (it writes every second), then started again on the same store."""
    h: SimHandle = sim_fleet(fast_config())
    env = {**os.environ, **h.env}
    store_path = Path(h.inventory.store.path)
    cmd = [sys.executable, "-m", "wifiwatch.cli", "run", "--config", str(h.config_path), "--no-icmp"]

    def rows() -> int:
        with sqlite3.connect(store_path, timeout=10) as c:
            return int(c.execute("SELECT COUNT(*) FROM store_points").fetchone()[0])

    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while (not store_path.exists() or rows() < 40) and time.monotonic() < deadline:
            time.sleep(0.2)
        seen = rows()  # committed: visible to another connection
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert seen >= 40
    with sqlite3.connect(store_path) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert rows() >= seen
    t0 = time.monotonic()
    again = subprocess.run([*cmd, "--duration", "4"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Traceback" not in again.stderr and "malformed" not in again.stderr
    assert rows() > seen + 10  # it carried on writing into the same store
    assert time.monotonic() - t0 < 20
