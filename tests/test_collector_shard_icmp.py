"""Sharding splits the fleet exactly; ICMP batching matches replies to the right host."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.icmp import ping_batch, raw_sockets_permitted, summarize
from collector.shard import in_shard, shard_of

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


@pytest.mark.skipif(not raw_sockets_permitted(), reason="raw ICMP sockets need root or CAP_NET_RAW")
def test_real_icmp_on_loopback_addresses() -> None:
    res = ping_batch(["127.0.0.1", "127.0.9.7", "127.0.0.1"], timeout_s=1.0, probes=2)
    assert [r.host for r in res] == ["127.0.0.1", "127.0.9.7"]
    assert all(r.reachable and r.loss_pct == 0.0 and r.rtt_ms is not None for r in res)
