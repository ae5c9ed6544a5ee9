"""Rendezvous assignment (collector/cluster/assignment.py) as properties, and the [cluster] settings contract."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.cluster.assignment import assign, device_keys, devices_by_member, owner
from core.config import ConfigError, parse_config
from core.paths import known_vendors
from tests.fixtures_sim import SAMPLE

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
members_st = st.lists(names, min_size=1, max_size=8, unique=True)
keys_st = st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=200, unique=True)


@given(keys_st, members_st)
def test_deterministic_and_total(keys: list[str], members: list[str]) -> None:
    a = assign(keys, members)
    assert a == assign(list(reversed(keys)), list(reversed(members)))  # order of input never matters
    assert set(a) == set(keys) and set(a.values()) <= set(members)


@given(keys_st, st.lists(names, min_size=2, max_size=8, unique=True), st.data())
def test_a_leaving_member_moves_only_its_keys(keys: list[str], members: list[str], data: st.DataObject) -> None:
    gone = data.draw(st.sampled_from(members))
    before = assign(keys, members)
    after = assign(keys, [m for m in members if m != gone])
    for k in keys:
        if before[k] != gone:
            assert after[k] == before[k]
        else:
            assert after[k] != gone


@given(keys_st, members_st, names)
def test_a_joining_member_takes_only_from_others_into_itself(keys: list[str], members: list[str], new: str) -> None:
    if new in members:
        return
    before, after = assign(keys, members), assign(keys, [*members, new])
    assert all(after[k] in (before[k], new) for k in keys)


@settings(max_examples=20)
@given(st.integers(min_value=2, max_value=10))
def test_a_joining_member_takes_about_one_nth(n: int) -> None:
    keys = [f"ap-{i}" for i in range(4000)]
    members = [f"member-{i}" for i in range(n - 1)]
    after = assign(keys, [*members, "joiner"])
    share = sum(1 for v in after.values() if v == "joiner") / len(keys)
    assert abs(share - 1 / n) < 0.35 / n + 0.02, (n, share)


def test_no_members_no_owner() -> None:
    assert owner("ap", []) is None and assign(["ap"], []) == {}


def _inv(extra: str = ""):  # type: ignore[no-untyped-def]
    return parse_config(SAMPLE.read_text(encoding="utf-8") + extra, "sites.toml", known_vendors())


def test_a_controller_and_its_aps_stay_together() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    inv = _inv()
    site = inv.sites[0].id
    ap_ids = [ap.id for ap in inv.sites[0].aps]
    extra = (f'\n[[controllers]]\nid = "ctl-1"\nsite = "{site}"\nhost = "127.0.0.9"\nvendor = "cisco_aireos"\n')
    import tomlkit

    doc = tomlkit.parse(text + extra)
    for ap in doc["sites"][0]["aps"]:  # type: ignore[index,union-attr]
        ap["controller"] = "ctl-1"
    inv = parse_config(tomlkit.dumps(doc), "sites.toml", known_vendors())
    assert {device_keys(inv)[a] for a in ap_ids} == {"ctl-1"}
    for members in (["a", "b", "c"], ["x", "y"], [f"m{i}" for i in range(7)]):
        by = devices_by_member(inv, members)
        holder = [m for m, devs in by.items() if "ctl-1" in devs]
        assert len(holder) == 1 and set(ap_ids) <= set(by[holder[0]])


@pytest.mark.parametrize(("section", "english", "japanese"), [
    ('redis = "redis://:pw@127.0.0.1:6379/0"', "must not carry a password", "パスワードを書かないで"),
    ('redis = "http://127.0.0.1:6379"', "is not redis://HOST:PORT/DB", "redis://ホスト:ポート/DB番号"),
    ('redis = "redis://127.0.0.1:6379/0"\nshard = "0/2"', "exclude each other", "同時に使えません"),
    ('redis = "redis://127.0.0.1:6379/0"\nname = "a b"', "must be 1-63 letters", "1〜63 文字"),
    ('redis = "redis://127.0.0.1:6379/0"\npassword = "hunter2"', "secret reference", "env:"),
])
def test_cluster_settings_refused_with_reasons(section: str, english: str, japanese: str) -> None:
    with pytest.raises(ConfigError) as e:
        _inv(f"\n[cluster]\n{section}\n")
    text = " ".join(str(p) for p in e.value.problems)
    assert english in text, text
    assert japanese in " ".join(p.ja for p in e.value.problems), [p.ja for p in e.value.problems]


def test_cluster_settings_accepted() -> None:
    inv = _inv('\n[cluster]\nredis = "redis://127.0.0.1:6379/2"\npassword = "env:REDIS_PW"\nname = "collector-1"\n')
    c = inv.cluster
    assert (c.redis, c.password, c.member, c.lease_s) == ("redis://127.0.0.1:6379/2", "env:REDIS_PW", "collector-1",
                                                          15.0)
    assert _inv().cluster.redis is None and _inv().cluster.member  # default: the host name


def test_one_machine_imports_no_redis() -> None:
    """Without [cluster] redis nothing loads the client: the demo and a single collector need no Redis."""
    import subprocess
    import sys

    code = ("import sys, wifiwatch.cli, collector.daemon, collector.engine, collector.alerts.engine; "
            "print('redis' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
