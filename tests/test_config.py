"""check-config: the sample validates; every kind of mistake is reported as FILE:LINE: field: message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import ConfigError, key_lines, parse_config
from core.paths import known_vendors

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "config" / "sites.toml"

BASE = """
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
lon = 140.6

[[sites.aps]]
id = "ap1"
host = "127.0.0.1"
vendor = "auto"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as ei:
        parse_config(text, "f.toml", known_vendors() | {"unifi"})
    return [str(p) for p in ei.value.problems]


def test_sample_config_is_valid() -> None:
    vendors = known_vendors() | {"unifi", "aruba_instant", "cisco_aireos"}
    inv = parse_config(SAMPLE.read_text(encoding="utf-8"), str(SAMPLE), vendors)
    assert len(inv.sites) == 2
    assert [ap.id for _, ap in inv.aps()] == ["omachi-1", "omachi-2", "omachi-3", "kominkan-1"]
    assert {c.id for c in inv.candidates} >= {"city-hall", "kashima-jingu", "kashima-jingu-station", "stadium"}


def test_base_is_valid() -> None:
    inv = parse_config(BASE, "f.toml")
    assert inv.ap("ap1")[0].id == "s1"


def test_duplicate_id_names_the_line() -> None:
    text = BASE + '\n[[sites.aps]]\nid = "ap1"\nhost = "127.0.0.2"\n'
    out = problems(text)
    line = text.splitlines().index('id = "ap1"', 20) + 1
    assert out == [f"f.toml:{line}: sites[0].aps[1].id: duplicate id 'ap1' (already used by sites[0].aps[0])"]


def test_unknown_vendor() -> None:
    out = problems(BASE.replace('vendor = "auto"', 'vendor = "acme"'))
    assert len(out) == 1 and out[0].startswith("f.toml:19: sites[0].aps[0].vendor: unknown vendor profile 'acme'")


def test_outside_japan_and_inline_secret_both_reported() -> None:
    text = BASE.replace("lat = 35.9", "lat = 3.59").replace('auth_key = "env:A"', 'auth_key = "hunter2secret"')
    out = problems(text)
    assert any(o.startswith("f.toml:5: snmp.auth_key: must be a secret reference") for o in out), out
    assert any(o.startswith("f.toml:13: sites[0].lat: lat 3.59 is outside Japan") for o in out), out
    assert not any("hunter2secret" in o for o in out)


def test_missing_secret_reference() -> None:
    out = problems(BASE.replace('priv_key = "env:P"\n', ""))
    assert out == ["f.toml:2: snmp: SNMP v3 with privacy needs 'priv_key' (a secret reference)"]


def test_malformed_toml_line() -> None:
    out = problems(BASE.replace('kind = "park"', "kind = park"))
    assert len(out) == 1 and out[0].startswith("f.toml:12: (syntax): malformed TOML")


def test_unknown_field_and_missing_field() -> None:
    out = problems(BASE.replace('kind = "park"', 'kinde = "park"'))
    assert "f.toml:12: sites[0].kinde: unknown field (check its spelling)" in out
    assert "f.toml:8: sites[0].kind: required field is missing" in out


def test_key_lines_nested_arrays() -> None:
    text = BASE + '\n[[sites]]\nid = "s2"\n[[sites.aps]]\nid = "x"\n'
    lines = key_lines(text)
    assert lines[("sites", 1, "aps", 0, "id")] == len(text.splitlines())
    assert lines[("sites", 0, "aps", 0, "vendor")] == 19


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        parse_config(text, "f.toml")
    except ConfigError as e:
        assert all(p.line >= 1 for p in e.problems)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wifiwatch.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=60)


def test_cli_accepts_sample() -> None:
    r = run_cli("check-config", "--lang", "en")
    assert r.returncode == 0, r.stderr
    assert "OK: 2 sites, 4 access points" in r.stdout


def test_cli_rejects_broken_file_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE.replace("lon = 140.6", "lon = 14.06").replace('name_en = "Site"', 'name_en = ""'))
    r = run_cli("check-config", "--config", str(bad), "--lang", "en")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"{bad}:14: sites[0].lon: lon 14.06 is outside Japan" in r.stderr
    assert f"{bad}:11: sites[0].name_en: String should have at least 1 character" in r.stderr


def test_cli_config_from_environment(tmp_path: Path) -> None:
    import os
    bad = tmp_path / "env.toml"
    bad.write_text("not toml [")
    r = run_cli("check-config", env={**os.environ, "WIFIWATCH_CONFIG": str(bad)})
    assert r.returncode == 2 and f"{bad}:1: (syntax)" in r.stderr


def test_cli_warns_of_a_factory_default_community_without_printing_it(tmp_path: Path) -> None:
    import os
    cfg = tmp_path / "v2c.toml"
    cfg.write_text(BASE.replace('version = "3"\nuser = "u"\nauth_key = "env:A"\npriv_key = "env:P"',
                                'version = "2c"\ncommunity = "env:WW_TEST_COMMUNITY"'))
    weak = run_cli("check-config", "--config", str(cfg), "--lang", "en",
                   env={**os.environ, "WW_TEST_COMMUNITY": "Public"})
    assert weak.returncode == 0, weak.stderr
    assert "ap1: the community from 'env:WW_TEST_COMMUNITY' is a factory default" in weak.stderr
    assert "Public" not in weak.stderr + weak.stdout
    strong = run_cli("check-config", "--config", str(cfg), env={**os.environ, "WW_TEST_COMMUNITY": "k7-long-random"})
    assert strong.returncode == 0 and "factory default" not in strong.stderr
