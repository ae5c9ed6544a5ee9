"""check-config finds every problem in one run (schema and across the file), in Japanese by default and English
with --lang en, as FILE:LINE: field: message; no TOML, however nested, gives a traceback (nor does SIGHUP)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from core.config import ConfigError, parse_config
from core.config_checks import host_problem
from core.paths import known_vendors
from tests.test_cli_text import Result, run_main

ROOT = Path(__file__).resolve().parent.parent

MANY = """\
[defaults]
heartbeat_s = 0
timeout_s = 5
retries = 2

[snmp]
version = "3"
user = "u"
auth_key = "env:A"
priv_key = "env:P"

[[sites]]
id = "s1"
name_ja = "サイト"
name_en = "Site"
kind = "park"
lat = 35.9
lon = 14.06

[[sites.aps]]
id = "ap1"
host = "127.0.1.999"
port = 70000

[[sites.aps]]
id = "ap2"
host = "10.0.0.2"
vendor = "no-such-vendor"

[[sites.aps]]
id = "ap1"
host = "10.0.0.2"

[[sites.aps]]
id = "ap4"
host = "ap-4.kashima.example"
poll = {interval_s = 8}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as ei:
        parse_config(text, "f.toml", known_vendors())
    return [p.text("en") for p in ei.value.problems]


def test_every_problem_in_one_run() -> None:
    got = _problems(MANY)
    want = [
        "f.toml:2: defaults.heartbeat_s: Input should be greater than 0",
        "f.toml:18: sites[0].lon: lon 14.06 is outside Japan",
        "f.toml:22: sites[0].aps[0].host: '127.0.1.999' is not a valid IPv4 address",
        "f.toml:23: sites[0].aps[0].port: Input should be less than or equal to 65535",
        "f.toml:28: sites[0].aps[1].vendor: unknown vendor profile 'no-such-vendor'",
        "f.toml:31: sites[0].aps[2].id: duplicate id 'ap1' (already used by sites[0].aps[0])",
        "f.toml:32: sites[0].aps[2].host: 10.0.0.2:161 is already polled as sites[0].aps[1]",
        "f.toml:37: sites[0].aps[3].poll.interval_s: interval_s 8 s is shorter than timeout_s x (retries + 1) = 15 s",
    ]
    for w in want:
        assert any(g.startswith(w) for g in got), (w, got)
    assert [int(g.split(":")[1]) for g in got] == sorted(int(g.split(":")[1]) for g in got)  # top to bottom


@pytest.mark.parametrize("host", ["10.0.0.1", "127.0.0.1", "::1", "fe80::1", "[2001:db8::5]", "localhost",
                                  "ap-1.city.kashima.example", "AP1.example."])
def test_hosts_that_are_addresses_or_names(host: str) -> None:
    assert host_problem(host) is None


@pytest.mark.parametrize("host", ["127.0.1.999", "1.2.3", "256.1.1.1", "fe80::zz", "-ap.example", "a..b",
                                  "ap_1.example", "x" * 64 + ".example", "1.2.3.4.5"])
def test_hosts_that_are_neither(host: str) -> None:
    assert host_problem(host) is not None


def _cli(*args: str) -> Result:
    return run_main("check-config", *args)


def test_japanese_by_default_english_on_request(tmp_path: Path) -> None:
    cfg = tmp_path / "many.toml"
    cfg.write_text(MANY, encoding="utf-8")
    ja = _cli("--config", str(cfg))
    assert ja.returncode == 2 and "Traceback" not in ja.stderr
    lines = ja.stderr.strip().splitlines()
    assert len(lines) >= 8 and all(line.startswith(f"{cfg}:") for line in lines), lines
    assert f"{cfg}:2: defaults.heartbeat_s: 0 より大きい値にしてください" in lines
    assert f"{cfg}:31: sites[0].aps[2].id: ID 'ap1' が重複しています (sites[0].aps[0] で使用済み)" in lines
    assert any("'127.0.1.999' は正しい IPv4 アドレスではありません" in line for line in lines)
    assert any("ベンダープロファイル 'no-such-vendor' はありません" in line for line in lines)
    assert any("二重に数えられます" in line for line in lines)
    en = _cli("--config", str(cfg), "--lang", "en")
    assert en.returncode == 2 and "duplicate id 'ap1'" in en.stderr and "重複" not in en.stderr
    ok = _cli()  # the sample
    assert ok.returncode == 0 and "OK: 拠点 2、アクセスポイント 4" in ok.stdout, ok.stderr


def test_bracketed_section_names_survive_in_messages(tmp_path: Path) -> None:
    cfg = tmp_path / "nosnmp.toml"
    cfg.write_text(MANY.split("[snmp]")[0] + "[[sites]]" + MANY.split("[[sites]]", 1)[1], encoding="utf-8")
    r = _cli("--config", str(cfg), "--lang", "en")
    assert "set [snmp] globally, on the site, or on the AP" in r.stderr, r.stderr


DEEP = ["a = " + "[" * 3000 + "]" * 3000, "a = " + "{b = " * 3000 + "1" + "}" * 3000,
        "[" + ".".join(["t"] * 3000) + "]\nx = 1", "a = [" * 500 + "1" + "]" * 500]


@pytest.mark.parametrize("text", DEEP, ids=["arrays", "inline-tables", "dotted-table", "moderate"])
def test_no_traceback_for_deeply_nested_toml(text: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        parse_config(text, "deep.toml")
    assert all(str(p).startswith("deep.toml:") for p in ei.value.problems)
    cfg = tmp_path / "deep.toml"
    cfg.write_text(text, encoding="utf-8")
    r = _cli("--config", str(cfg))
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith(f"{cfg}:"), r.stderr[-2000:]


def test_sighup_with_deeply_nested_toml_keeps_the_running_inventory(tmp_path: Path) -> None:
    from tests.test_health import Run

    d = Run(tmp_path)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{d.base}/healthz", timeout=2).json().get("devices") == 1:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        good = d.cfg.read_text(encoding="utf-8")
        d.cfg.write_text(good + "\nx = " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
        os.kill(d.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 15
        while "reload refused" not in d.log.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert d.proc.poll() is None
        assert httpx.get(f"{d.base}/healthz", timeout=5).json()["devices"] == 1
    finally:
        log = d.stop()
    assert "reload refused" in log and "nested too deeply" in log and "Traceback" not in log, log[-3000:]


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.integers(0, 2**32 - 1))
def test_every_ipv4_address_is_a_host(n: int) -> None:
    import ipaddress

    assert host_problem(str(ipaddress.IPv4Address(n))) is None


@given(st.lists(st.integers(0, 2000), min_size=4, max_size=4))
def test_dotted_numbers_are_hosts_only_when_each_is_a_byte(parts: list[int]) -> None:
    assert (host_problem(".".join(map(str, parts))) is None) == all(p <= 255 for p in parts)


@given(st.text(max_size=40))
def test_host_check_never_crashes(text: str) -> None:
    problem = host_problem(text)
    assert problem is None or (problem[0] and problem[1])


def test_warnings_are_japanese_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "v2c.toml"
    cfg.write_text(MANY.split("[snmp]")[0].replace("heartbeat_s = 0", "heartbeat_s = 30")
                   + '[snmp]\nversion = "2c"\ncommunity = "env:WW_TEST_WEAK"\n'
                   + '[[sites]]\nid = "s1"\nname_ja = "サイト"\nname_en = "Site"\nkind = "park"\nlat = 35.9\n'
                   'lon = 140.6\n[[sites.aps]]\nid = "ap1"\nhost = "10.0.0.1"\n', encoding="utf-8")
    monkeypatch.setenv("WW_TEST_WEAK", "public")
    r = _cli("--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "注意: ap1: SNMP v2c はコミュニティ名を平文で送ります" in r.stderr
    assert "出荷時の値です" in r.stderr and "public" not in r.stderr
