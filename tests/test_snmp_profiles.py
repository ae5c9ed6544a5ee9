"""Vendor profile loading: shipped profiles are valid, broken ones are reported as FILE: field: message."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from collector.snmp.detect import guess, resolve
from collector.snmp.profiles import PROFILES_ENV, ProfileError, load_profiles, parse_profile
from core.paths import known_vendors

REQUIRED = {"unifi", "cisco_aireos", "cisco_autonomous", "aruba_instant", "ruckus_smartzone",
            "ruckus_zonedirector", "mikrotik", "generic"}


# Interfaces only: the device has no client count (or none published).
NO_CLIENT_MIB = {"generic", "allied_tq", "meraki_mr", "yamaha_wlx", "nec_wa", "buffalo_airstation"}


def test_shipped_profiles_load_and_match_known_vendors() -> None:
    profiles = load_profiles()
    assert set(profiles) >= REQUIRED
    assert set(profiles) == known_vendors()
    assert not profiles["generic"].has_clients
    for name, prof in profiles.items():
        if name in NO_CLIENT_MIB:
            assert not prof.has_clients, name
            continue
        assert prof.has_clients and (prof.sys_object_id or prof.sys_descr), name
        # Every family with client counts can be confirmed on the wire (collector/snmp/detect.py).
        assert prof.signature, f"{name}: declare a signature (an object only this family has)"


@pytest.mark.parametrize(("oid", "want"), [
    ("1.3.6.1.4.1.41112", "unifi"),
    ("1.3.6.1.4.1.41112.1.6", "unifi"),
    ("1.3.6.1.4.1.411120", "generic"),  # prefixes match whole arcs only
    ("1.3.6.1.4.1.9.1.1069", "cisco_aireos"),  # longest prefix beats cisco_autonomous' 1.3.6.1.4.1.9.1
    ("1.3.6.1.4.1.9.1.525", "cisco_autonomous"),
    ("1.3.6.1.4.1.14823.1.2.84", "aruba_instant"),
    ("1.3.6.1.4.1.25053.3.1.11.1", "ruckus_smartzone"),
    (".1.3.6.1.4.1.14988.1", "mikrotik"),
    ("1.3.6.1.4.1.8072.3.2.10", "unifi"),  # offline guess; on the wire the signature probe decides
    ("1.3.6.1.4.1.8072.3.2.255", "generic"),
    (None, "generic"),
])
def test_detection_uses_the_longest_sysobjectid_prefix(oid: str | None, want: str) -> None:
    assert guess(load_profiles(), oid).id == want


def test_explicit_vendor_wins_and_unknown_falls_back_to_detection() -> None:
    profiles = load_profiles()
    assert resolve(profiles, "mikrotik", "1.3.6.1.4.1.41112").id == "mikrotik"
    assert resolve(profiles, "auto", "1.3.6.1.4.1.41112").id == "unifi"


def _write(d: Path, name: str, text: str) -> Path:
    p = d / f"{name}.toml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_extra_directory_adds_a_vendor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "yamaha_wlx", """
        name = "Yamaha WLX"
        sys_object_id = ["1.3.6.1.4.1.1182.2"]
        [[clients]]
        object = "exampleClients"
        oid = "1.3.6.1.4.1.1182.2.99.1.1.4"
        row = "radio"
        """)
    monkeypatch.setenv(PROFILES_ENV, str(tmp_path))
    profiles = load_profiles()
    assert guess(profiles, "1.3.6.1.4.1.1182.2.1.9").id == "yamaha_wlx"
    assert "yamaha_wlx" in known_vendors([tmp_path])


def test_broken_profiles_are_reported_with_file_and_field(tmp_path: Path) -> None:
    bad = _write(tmp_path, "broken", """
        name = "Broken"
        sys_object_id = ["1.3.6.1.4.1.x"]
        colour = "blue"
        [[clients]]
        oid = "1.3.6.1.4.1.1.2"
        row = "ssid"
        max = -1
        [interfaces]
        include = "(["
        """)
    with pytest.raises(ProfileError) as e:
        parse_profile(bad)
    text = str(e.value)
    assert f"{bad}: sys_object_id[0]: '1.3.6.1.4.1.x' is not a numeric OID" in text
    assert f"{bad}: colour: unknown field (check its spelling)" in text
    assert f"{bad}: clients[0].max: Input should be greater than 0" in text
    assert f"{bad}: interfaces.include: not a valid regular expression" in text
    unlabelled = _write(tmp_path, "unlabelled", """
        name = "No SSID names"
        [[clients]]
        oid = "1.3.6.1.4.1.1.2"
        row = "ssid"
        """)
    with pytest.raises(ProfileError, match=r"unlabelled.toml: clients\[0\]: row = 'ssid' needs ssid_from"):
        parse_profile(unlabelled)


def test_syntax_error_and_missing_name(tmp_path: Path) -> None:
    syntax = _write(tmp_path, "syntax", 'name = "x\n')
    noname = _write(tmp_path, "noname", 'sys_object_id = ["1.3.6.1.4.1.5"]\n')
    with pytest.raises(ProfileError) as e:
        load_profiles([tmp_path])
    text = str(e.value)
    assert f"{syntax}: (syntax): malformed TOML" in text
    assert f"{noname}: name: required field is missing" in text


def test_missing_extra_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="profile directory not found"):
        load_profiles([tmp_path / "nope"])


def test_bad_file_name(tmp_path: Path) -> None:
    p = _write(tmp_path, "Bad Name", 'name = "x"\n')
    with pytest.raises(ProfileError, match="profile names are lower-case"):
        parse_profile(p)


def test_readme_support_matrix_lists_every_profile_with_its_support_level() -> None:
    readme = (Path(__file__).resolve().parent.parent / "collector" / "snmp" / "README.md").read_text(encoding="utf-8")
    cells = [re.split(r"(?<!\\)\|", line) for line in readme.splitlines() if line.startswith("| `")]
    rows = {c[1].strip().strip("`"): "|".join(c) for c in cells if len(c) == 8}
    for name, prof in load_profiles().items():
        assert name in rows, f"{name}: missing from the support matrix in collector/snmp/README.md"
        level = "tested (real walk)" if prof.support.startswith("tested") else "MIB only"
        if name != "generic":
            assert level in rows[name], (name, rows[name])
