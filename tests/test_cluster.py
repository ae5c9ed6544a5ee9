"""A collector group end to end: 3 `wifiwatch run` processes, a real redis-server and the simulated fleet.

One module-scoped group walks through the faults of issue 25 in order (each step starts from the last):
SIGKILL a member while one of its APs is down -> the others take its devices within a lease and two
heartbeats, the duty phone gets one DOWN, one UP and one "member lost"; the member restarts -> the group
rebalances; Redis stops -> the members keep polling (fail static) and /healthz says why; Redis returns ->
they resynchronise. Leases are 3 s and heartbeats 1 s so the module stays well under a minute.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomlkit

from collector.cluster.assignment import devices_by_member
from core.config import parse_config
from core.inventory import Inventory
from core.paths import known_vendors
from core.secrets import SecretResolver
from tests.fixtures_cluster import RedisServer, free_port, wait_for
from wifiwatch.sim.fleet import Fleet
from wifiwatch.sim.process import stop_process
from wifiwatch.sim.webhook import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent
HOOK_ENV = "WIFIWATCH_TEST_CLUSTER_HOOK"
LEASE_S = 3.0
HEARTBEAT_S = 1.0

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


@dataclass
class Member:
    name: str
    config: Path
    url: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def health(self) -> dict[str, Any]:
        try:
            return dict(httpx.get(self.url + "/healthz", timeout=2).json())
        except (httpx.HTTPError, ValueError):
            return {}


@dataclass
class Group:
    inv: Inventory
    fleet: Fleet
    redis: RedisServer
    hook: WebhookReceiver
    members: dict[str, Member]
    env: dict[str, str]
    devices: set[str] = field(default_factory=set)
    influx: Any = None  # tests.fixtures_influx.InfluxServer: the shared store
    database: str = ""

    def ping_times(self, device: str, since: float) -> list[float]:
        """When the group's shared store has an ap_ping of ``device`` (seconds), from ``since`` on."""
        doc = self.influx.query(f"SELECT reachable FROM ap_ping WHERE ap = '{device}' AND time >= {int(since * 1e9)}",
                                self.database)
        series = doc["results"][0].get("series", [])
        return sorted(row[0] / 1e9 for s in series for row in s["values"])

    def start(self, m: Member) -> None:
        m.proc = subprocess.Popen(
            [sys.executable, "-m", "wifiwatch.cli", "--log-level", "info", "run", "--config", str(m.config)],
            stdout=m.log.open("ab"), stderr=subprocess.STDOUT, env=self.env, cwd=ROOT)

    def kinds(self, device: str) -> list[str]:
        return [b["kind"] for b in self.hook.bodies if isinstance(b, dict) and b.get("device_id") == device]

    def polled(self) -> dict[str, int]:
        """Devices each running member polls, from its /healthz."""
        out = {}
        for name, m in self.members.items():
            if m.proc is not None and m.proc.poll() is None:
                out[name] = int(m.health().get("devices", -1))
        return out

    def status(self, member: Member) -> dict[str, Any]:
        r = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "cluster", "status", "--config",
                            str(member.config), "--format", "json"], capture_output=True, text=True, env=self.env,
                           cwd=ROOT, timeout=30)
        assert r.returncode == 0, r.stderr
        return dict(json.loads(r.stdout))

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n" + m.log.read_text(errors="replace")[-2500:] for n, m in self.members.items())


def pick_names(inv: Inventory) -> list[str]:
    """Three member names under which every member polls something and the first has an AP of its own."""
    aps = {ap.id for _s, ap in inv.aps()}
    for i in range(500):
        names = [f"wwc{i}-a", f"wwc{i}-b", f"wwc{i}-c"]
        by = devices_by_member(inv, names)
        if all(by[n] for n in names) and aps & set(by[names[0]]):
            return names
    raise AssertionError("no spread assignment found")


def member_config(base: str, tmp: Path, name: str, redis_url: str) -> tuple[str, str]:
    doc = tomlkit.parse(base)
    port = free_port()
    doc["store"]["path"] = str(tmp / f"{name}.sqlite3")  # type: ignore[index]
    doc["http"].update({"bind": "127.0.0.1", "port": port})  # type: ignore[union-attr]
    doc["console"] = {"enabled": False}
    doc["cluster"] = {"redis": redis_url, "name": name, "lease_s": LEASE_S}
    return tomlkit.dumps(doc), f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory, influxd: Any) -> Iterator[Group]:
    """The group, forwarding to one InfluxDB database (the shared store)."""
    import uuid

    from tests.fixtures_sim import SAMPLE, SECRET_ENV, readdress

    tmp = tmp_path_factory.mktemp("cluster")
    if influxd.proc is None or influxd.proc.poll() is not None:
        influxd.start()
    database = "cluster_" + uuid.uuid4().hex[:10]
    influxd.create_db(database)
    hook = WebhookReceiver()
    env = {**os.environ, **{k: secrets.token_hex(10) for k in SECRET_ENV}, HOOK_ENV: hook.url}
    saved = {k: os.environ.get(k) for k in SECRET_ENV}
    os.environ.update({k: env[k] for k in SECRET_ENV})  # the fleet reads the keys from this process's env
    doc = tomlkit.parse(readdress(SAMPLE.read_text(encoding="utf-8"), tmp))
    doc["defaults"].update({"heartbeat_s": HEARTBEAT_S, "interval_s": 3.0, "timeout_s": 0.3,  # type: ignore[union-attr]
                            "retries": 0})
    doc.pop("maintenance", None)
    chan = tomlkit.aot()
    chan.append(tomlkit.item({"name": "duty-phone", "type": "webhook", "url": f"env:{HOOK_ENV}",
                              "min_severity": "info"}))
    doc["alerts"]["channels"] = chan  # type: ignore[index]
    doc["influxdb"] = {"url": influxd.url, "database": database}
    base = tomlkit.dumps(doc)
    inv = parse_config(base, str(tmp / "base.toml"), known_vendors())
    fleet = Fleet(inv, SecretResolver(), tmp / "sim")
    redis_server = RedisServer(tmp)
    members: dict[str, Member] = {}
    g = Group(inv, fleet, redis_server, hook, members, env, influx=influxd, database=database)
    try:
        fleet.start()
        redis_server.start()
        for name in pick_names(inv):
            text, url = member_config(base, tmp, name, redis_server.url)
            cfg = tmp / f"{name}.toml"
            cfg.write_text(text, encoding="utf-8")
            members[name] = Member(name, cfg, url, tmp / f"{name}.log")
        g.devices = set().union(*devices_by_member(inv, list(members)).values())
        for m in members.values():
            g.start(m)
        yield g
    finally:
        for m in members.values():
            stop_process(m.proc, 10)
        redis_server.stop()
        fleet.stop()
        hook.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_members_share_the_fleet_exactly_once(group: Group) -> None:
    """Each device is polled by exactly one member, and `cluster status` lists every member and its APs."""
    n = len(group.devices)
    want = {m: len(d) for m, d in devices_by_member(group.inv, list(group.members)).items()}
    assert wait_for(lambda: group.polled() == want, 40, 0.3), (group.polled(), want, group.logs())
    aps = {ap.id for _s, ap in group.inv.aps() if ap.availability_from != "controller"}

    def listed() -> dict[str, Any] | None:
        doc = group.status(next(iter(group.members.values())))
        return doc if sum(m["aps"] for m in doc["members"]) == len(aps) else None

    doc = wait_for(listed, 10, 0.5)
    assert doc, group.status(next(iter(group.members.values())))
    assert sorted(m["name"] for m in doc["members"]) == sorted(group.members)
    assert all(0 <= m["lease_age_s"] <= LEASE_S for m in doc["members"])
    assert sum(want.values()) == n


def test_status_from_any_member_shows_every_ap(group: Group) -> None:
    """`wifiwatch status` on one member: every AP of the group with its data, read from the shared store."""
    member = list(group.members.values())[1]
    mine = set(devices_by_member(group.inv, list(group.members))[member.name])
    others = {ap.id for _s, ap in group.inv.aps()} - mine
    assert others

    def doc() -> dict[str, Any]:
        r = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "status", "--config", str(member.config),
                            "--format", "json"], capture_output=True, text=True, env=group.env, cwd=ROOT, timeout=30)
        assert r.returncode == 0, r.stderr
        return dict(json.loads(r.stdout))

    def seen() -> bool:
        d = doc()
        got = {x["device"]: x for x in d["devices"]}
        return d["cluster"]["source"] == "influxdb" and all(got[a]["last_heartbeat_ts"] for a in others)

    assert wait_for(seen, 25, 1.0), (doc(), group.logs())


def test_killed_member_fails_over_with_one_down_and_one_up(group: Group) -> None:
    victim = group.members[next(iter(group.members))]
    mine = devices_by_member(group.inv, list(group.members))[victim.name]
    ap = next(a.id for _s, a in group.inv.aps() if a.id in mine)
    group.fleet.down(ap)
    try:
        assert wait_for(lambda: "down" in group.kinds(ap), 20, 0.2), (group.kinds(ap), group.logs())
        assert victim.proc is not None
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(5)
        killed = time.time()
        others = [n for n in group.members if n != victim.name]
        want = {m: len(d) for m, d in devices_by_member(group.inv, others).items()}
        assert wait_for(lambda: group.polled() == want, LEASE_S + 4 * HEARTBEAT_S + 3, 0.1), \
            (group.polled(), want, group.logs())
        took = time.time() - killed
        assert took <= LEASE_S + 2 * HEARTBEAT_S + 3, took  # a lease, two heartbeats, scheduling slack
    finally:
        group.fleet.up(ap)
    # the shared store: every device the victim polled has heartbeats again, with no gap over 30 s (issue 25)
    watched = sorted(set(mine) & {a.id for _s, a in group.inv.aps()})

    def gaps() -> dict[str, float] | None:
        out = {}
        for dev in watched:
            times = [killed - 10, *group.ping_times(dev, killed - 10)]
            if times[-1] < killed + took:
                return None  # the forwarder has not delivered the survivors' first heartbeats yet
            out[dev] = max(b - a for a, b in zip(times, times[1:], strict=False))
        return out

    found = wait_for(gaps, 15, 0.5)
    assert found is not None and all(g <= 30 for g in found.values()), (found, watched)
    assert wait_for(lambda: "up" in group.kinds(ap), 20, 0.2), (group.kinds(ap), group.logs())
    lost = [b for b in group.hook.bodies if isinstance(b, dict) and b.get("kind") == "member_lost"]
    assert wait_for(lambda: [b for b in group.hook.bodies if isinstance(b, dict) and b.get("kind") == "member_lost"],
                    10, 0.2)
    time.sleep(2 * HEARTBEAT_S)  # a duplicate would arrive within a heartbeat or two
    assert group.kinds(ap) == ["down", "up"], (group.kinds(ap), group.logs())
    lost = [b for b in group.hook.bodies if isinstance(b, dict) and b.get("kind") == "member_lost"]
    assert len(lost) == 1 and lost[0]["member"] == victim.name, lost
    assert all(n in lost[0]["moved"] for n in others if want[n] and set(mine) & set(
        devices_by_member(group.inv, others)[n])), lost[0]


def test_restarted_member_rebalances(group: Group) -> None:
    victim = group.members[next(iter(group.members))]
    group.start(victim)
    want = {m: len(d) for m, d in devices_by_member(group.inv, list(group.members)).items()}
    assert wait_for(lambda: group.polled() == want, 40, 0.3), (group.polled(), want, group.logs())
    assert len(group.status(victim)["members"]) == 3


def test_console_page_lists_the_members(group: Group, tmp_path: Path) -> None:
    """収集グループ in the console: every member with its APs and lease age; absent without [cluster] redis."""
    from console.context import open_context
    from tests.fixtures_console import ServedConsole

    member = list(group.members.values())[2]
    for cfg, clustered in ((member.config.read_text(encoding="utf-8"), True), (None, False)):
        inv = parse_config(cfg, str(member.config), known_vendors()) if cfg else group.inv
        inv = inv.model_copy(update={"store": inv.store.model_copy(update={"path": str(tmp_path / f"{clustered}.db")})})
        ctx = open_context(inv, SecretResolver())
        try:
            with ServedConsole(ctx) as c:
                r = c.get("/cluster")
                home = c.get("/").text
        finally:
            ctx.close()
        if clustered:
            assert r.status_code == 200, r.text[:500]
            assert "収集グループ" in r.text and 'href="/cluster"' in home
            assert all(f'data-member="{n}"' in r.text for n in group.members), r.text
        else:
            assert r.status_code == 404 and 'href="/cluster"' not in home


def test_redis_down_fail_static_then_resync(group: Group) -> None:
    want = {m: len(d) for m, d in devices_by_member(group.inv, list(group.members)).items()}
    group.redis.stop()
    try:
        def failing() -> bool:
            hs = [m.health() for m in group.members.values()]
            return all("cluster" in h.get("failing", {}) for h in hs)

        assert wait_for(failing, LEASE_S * 2, 0.2), [m.health() for m in group.members.values()]
        reason = next(iter(group.members.values())).health()["failing"]["cluster"]
        assert "Redis" in reason and "fail static" in reason, reason
        time.sleep(LEASE_S * 1.5)  # past a lease: still polling the last assignment, nobody took anything
        assert group.polled() == want
        hs = [m.health() for m in group.members.values()]
        assert all(h["last_heartbeat_age_s"] is not None and h["last_heartbeat_age_s"] < 3 * HEARTBEAT_S
                   for h in hs), hs
    finally:
        group.redis.start()

    def synced() -> bool:
        hs = [m.health() for m in group.members.values()]
        return all("cluster" not in h.get("failing", {"cluster": "?"}) and
                   sorted(h.get("cluster", {}).get("members", [])) == sorted(group.members) for h in hs)

    assert wait_for(synced, LEASE_S * 3, 0.2), [m.health() for m in group.members.values()]
    assert group.polled() == want
    assert len(group.status(next(iter(group.members.values())))["members"]) == 3
