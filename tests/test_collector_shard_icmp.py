"""Sharding splits the fleet exactly; ICMP batching matches replies to the right host, at fleet size."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.engine import FleetEngine
from collector.icmp import ECHO_REPLY, _Batch, _checksum, echo_request, ping_batch, raw_sockets_permitted, summarize
from collector.shard import in_shard, shard_of
from core.config import parse_config
from core.secrets import SecretResolver

needs_raw = pytest.mark.skipif(not raw_sockets_permitted(), reason="raw ICMP sockets need root or CAP_NET_RAW")

ids = st.lists(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True), unique=True, max_size=200)


@given(ids, st.integers(min_value=1, max_value=16))
def test_every_device_in_exactly_one_shard(devices: list[str], n: int) -> None:
    for d in devices:
        owners = [i for i in range(n) if in_shard(d, i, n)]
        assert owners == [shard_of(d, n)]


def test_shards_are_balanced_and_stable() -> None:
    devices = [f"ap-{i}" for i in range(10000)]
    counts = [sum(1 for d in devices if shard_of(d, 4) == i) for i in range(4)]
    assert all(2300 < c < 2700 for c in counts), counts
    # adding devices never moves existing ones
    assert [shard_of(d, 4) for d in devices[:100]] == [shard_of(d, 4) for d in devices[:100]]


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "zz"]), st.integers(1, 6),
                          st.floats(0, 1000, allow_nan=False)), max_size=30),
       st.integers(1, 5))
def test_summarize_counts_each_probe_once(answers: list[tuple[str, int, float]], probes: int) -> None:
    hosts = ["a", "b", "c"]
    out = summarize(hosts, probes, answers)
    assert [r.host for r in out] == hosts
    for r in out:
        distinct = {seq for h, seq, _ in answers if h == r.host}
        assert r.received == min(len(distinct), probes)
        assert 0.0 <= r.loss_pct <= 100.0
        assert r.reachable == (r.received > 0)
        assert (r.rtt_ms is None) == (r.received == 0)


@needs_raw
def test_real_icmp_on_loopback_addresses() -> None:
    res = ping_batch(["127.0.0.1", "127.0.9.7", "127.0.0.1", "::1", "localhost"], timeout_s=1.0, probes=2)
    assert [r.host for r in res] == ["127.0.0.1", "127.0.9.7", "::1", "localhost"]
    assert all(r.reachable and r.loss_pct == 0.0 and r.rtt_ms is not None for r in res), res


@needs_raw
def test_unresolvable_host_is_down_and_the_rest_answer() -> None:
    res = ping_batch(["no-such-host.invalid", "127.0.9.8"], timeout_s=0.5)
    assert [(r.host, r.reachable, r.loss_pct) for r in res] == [("no-such-host.invalid", False, 100.0),
                                                              ("127.0.9.8", True, 0.0)]


def test_echo_request_checksum_verifies() -> None:
    for ident, seq in [(0, 0), (0xFFFF, 0xFFFF), (0x1234, 0xABCD)]:
        pkt = echo_request(ident, seq)
        assert _checksum(pkt) == 0  # a correct checksum sums to zero
        assert struct.unpack_from("!BBxxHH", pkt) == (8, 0, ident, seq)


def _fleet_config(n: int) -> str:
    """``n`` APs on 127.10.x.y (loopback answers ICMP on every address), 250 to a site."""
    lines = ['[defaults]', 'heartbeat_s = 10', 'timeout_s = 2.0', 'retries = 0',
             '[snmp]', 'version = "2c"', 'community = "env:WW_ICMP_FLEET"']
    for s in range(0, n, 250):
        lines += ['[[sites]]', f'id = "s{s // 250}"', f'name_ja = "拠点{s // 250}"', f'name_en = "Site {s // 250}"',
                  'kind = "park"', 'lat = 35.9', 'lon = 140.6']
        for i in range(s, min(n, s + 250)):
            lines += ['[[sites.aps]]', f'id = "ap-{i}"', f'host = "127.10.{i // 250}.{1 + i % 250}"',
                      'vendor = "generic"']
    return "\n".join(lines)


@needs_raw
def test_heartbeat_of_1000_aps_finds_every_one_reachable() -> None:
    """The daemon's heartbeat job (FleetEngine.heartbeat_once) over 1,000 answering APs: none is down.

    A batch that sends everything before reading replies loses all but ~128 of them in the receive buffer
    (issue 23: 746 of 1,000 APs reported down); two beats, so the second runs on a warm engine.
    """
    inv = parse_config(_fleet_config(1000))
    engine = FleetEngine(inv, SecretResolver(), writer=None, use_icmp=True)
    assert engine.use_icmp and len(engine.devices) == 1000
    for _ in range(2):
        res = asyncio.run(engine.heartbeat_once())
        down = sorted(k for k, p in res.items() if not p.reachable)
        assert len(res) == 1000 and down == [], f"{len(down)} of 1000 answering APs reported down: {down[:5]}"
        assert all(p.method == "icmp" and p.loss_pct == 0.0 and p.rtt_ms is not None for p in res.values())
        assert engine.heartbeat_stats.errors == 0


@needs_raw
def test_2000_aps_answer_with_the_default_receive_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian's default buffer (212,992 bytes, ~128 replies; all a process without CAP_NET_ADMIN may get
    when rmem_max is left alone) keeps every reply: they are read while the probes go out."""
    import collector.icmp

    monkeypatch.setattr(collector.icmp, "rcvbuf_for", lambda probes: 212_992 // 2)  # the kernel doubles it
    hosts = [f"127.10.{100 + i // 250}.{1 + i % 250}" for i in range(2000)]
    res = ping_batch(hosts, timeout_s=1.0)
    assert [r.host for r in res if not r.reachable] == []


@needs_raw
def test_other_pingers_replies_are_dropped_in_the_kernel() -> None:
    """Echo replies carrying another batch's id never reach this batch's socket (its BPF filter); one with
    this batch's id from the wrong address does, and the matcher skips it."""
    target = socket.inet_aton("127.10.203.1")
    b = _Batch(socket.AF_INET, [target], 1, 0x4000)
    hostile = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # we write the IP header
    try:
        def reply(ident: int, seq: int, src: str) -> None:
            """An echo reply that says it comes from ``src`` (sent to it: loopback delivers it here)."""
            body = struct.pack("!BBHHH", ECHO_REPLY, 0, 0, ident, seq)
            icmp = body[:2] + struct.pack("H", _checksum(body)) + body[4:]
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 64, socket.IPPROTO_ICMP, 0,
                             socket.inet_aton(src), socket.inet_aton(src))
            hostile.sendto(ip + icmp, (src, 0))

        b.next = 1  # probe 0 (id 0x4000, seq 0) counts as sent
        for ident in (0x3FFF, 0x4001, 0xC000, 0):
            for seq in range(50):
                reply(ident, seq, "127.10.203.1")
        reply(0x4000, 0, "127.10.203.2")  # right id, wrong source
        time.sleep(0.05)
        assert b.drain(time.monotonic()) == 0 and b.skipped == 1
        reply(0x4000, 0, "127.10.203.1")
        time.sleep(0.05)
        assert b.drain(time.monotonic()) == 1 and b.rtt[0] >= 0.0
    finally:
        hostile.close()
        b.close()


@pytest.fixture(scope="module")
def big_batch() -> Iterator[_Batch]:
    """40,000 hosts x 2 probes (ids 0xFFFE, 0xFFFF, wrapping to 0), probes 0..69,999 sent."""
    addrs = [socket.inet_aton(f"127.10.{i >> 8}.{i & 0xFF}") for i in range(40_000)]
    b = _Batch(socket.AF_INET, addrs, 2, 0xFFFE)
    b.next = 70_000
    yield b
    b.close()


@needs_raw
@settings(max_examples=300, deadline=None)
@given(junk=st.binary(max_size=64), ident=st.integers(0, 0xFFFF), seq=st.integers(0, 0xFFFF),
       icmp_type=st.integers(0, 255))
def test_matcher_takes_only_its_own_replies(big_batch: _Batch, junk: bytes, ident: int, seq: int,
                                            icmp_type: int) -> None:
    """Any packet is either the reply to exactly one sent probe, from that probe's address, or skipped."""
    b = big_batch
    addrs = b.addrs
    for data in (junk, bytes([0x45]) + bytes(19) + junk):
        got = b._probe_of(data, ("127.0.0.1", 0))
        assert got == -1 or (data[20] == ECHO_REPLY and 0 <= got < 70_000)
    icmp = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq)
    named = (((ident - 0xFFFE) & 0xFFFF) << 16) | seq  # the probe these (id, seq) name
    for src_index in {0, named // 2 if named < 80_000 else 1, 39_999}:
        got = b._probe_of(bytes([0x45]) + bytes(11) + addrs[src_index] + bytes(4) + icmp, ("", 0))
        mine = icmp_type == ECHO_REPLY and named < 70_000 and named // 2 == src_index
        assert got == (named if mine else -1)


@needs_raw
def test_forged_and_garbage_replies_are_skipped() -> None:
    """Forged echo replies (other ids, other sources) and truncated packets arrive during a batch: only
    the real replies count, each once, and the batch still ends with every probe answered."""
    stop = threading.Event()
    hostile = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)

    def flood() -> None:
        junk = [b"", b"\x00", b"\xff" * 7, bytes([ECHO_REPLY, 0]) + b"\x00" * 6,
                bytes([ECHO_REPLY, 9, 0, 0, 1, 2, 3, 4])]
        seq = 0
        while not stop.is_set():
            for ident in range(0, 65536, 4099):
                body = struct.pack("!BBHHH", ECHO_REPLY, 0, 0, ident, seq & 0xFFFF)
                hostile.sendto(body[:2] + struct.pack("H", _checksum(body)) + body[4:], ("127.10.201.1", 0))
            for j in junk:
                with contextlib.suppress(OSError):
                    hostile.sendto(j, ("127.10.201.2", 0))
            seq += 1
            time.sleep(0.0002)  # ~100,000 packets/s at most: hostile, not a test of who wins the GIL

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    try:
        hosts = [f"127.10.200.{i}" for i in range(1, 201)]
        res = ping_batch(hosts, timeout_s=1.0, probes=2)
    finally:
        stop.set()
        t.join(5)
        hostile.close()
    assert [r.host for r in res] == hosts
    assert all(r.received == 2 for r in res), [r for r in res if r.received != 2][:3]
