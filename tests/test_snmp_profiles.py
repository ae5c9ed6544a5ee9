"""Vendor profile loading: shipped profiles are valid, broken ones are reported as FILE: field: message."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from collector.snmp.detect import guess, resolve
from collector.snmp.profiles import PROFILES_ENV, Profile, ProfileError, load_profiles, parse_profile
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


# -- signatures answer on an idle AP (generated over every recording) -----------------------------------

DATA = Path(__file__).parent / "data" / "snmp"
SIM_DATA = Path(__file__).parent.parent / "wifiwatch" / "sim" / "data"
# Written walks (tests/data/snmp/README.md) and the profile each one is.
WRITTEN = {"aruba_instant6_idle": "aruba_instant6"}
# Profiles with a signature but no recording of their family yet: checked only by the schema rule (no
# signature inside a table whose rows are the clients). A new profile lands in a recording or here.
NO_RECORDING = {"cisco_9800", "meraki_cloud", "ruckus_unleashed"}


def _recordings() -> list[tuple[str, Path, str]]:
    """(label, file, profile): LibreNMS's real walks, the written walks, the simulator's walks."""
    from tests.test_snmp_real_walks import PROFILE, REAL_DIR

    out = [(f"real/{w}", REAL_DIR / f"{w}.snmprec", p) for w, p in PROFILE.items() if p != "generic"]
    out += [(f"written/{w}", DATA / f"{w}.snmprec", p) for w, p in WRITTEN.items()]
    out += [(f"sim/{f.stem}", f, f.stem) for f in sorted(SIM_DATA.glob("*.snmprec")) if f.stem != "generic"]
    return out


def _oids(path: Path) -> list[str]:
    return [line.split("|", 1)[0].strip().lstrip(".") for line in path.read_text(encoding="utf-8").splitlines()
            if "|" in line]


def _without_clients(oids: list[str], prof: Profile) -> list[str]:
    """The walk as the AP would answer with no client associated: rows of per-client tables removed
    (a count = "rows" table's whole entry); count columns keep their rows (they read 0)."""
    entries = tuple(t.oid.rsplit(".", 1)[0] + "." for t in prof.clients if t.count == "rows")
    return [o for o in oids if not o.startswith(entries)] if entries else oids


@pytest.mark.parametrize(("label", "path", "name"), _recordings(), ids=[r[0] for r in _recordings()])
def test_every_signature_answers_with_zero_clients(label: str, path: Path, name: str) -> None:
    """Detection must not depend on traffic: each signature object is in the walk once client rows are gone."""
    prof = load_profiles()[name]
    idle = _without_clients(_oids(path), prof)
    assert len(idle) > 3, label
    for sig in prof.signature:
        assert any(o.startswith(sig + ".") for o in idle), (
            f"{name}: signature {sig} has no object in {label} once its client tables are emptied")
    for absent in prof.signature_absent:
        assert not any(o.startswith(absent + ".") for o in idle), f"{name}: {absent} answers in {label}"


def test_every_signature_is_checked_against_a_recording_or_listed() -> None:
    covered = {name for _, _, name in _recordings()}
    with_signature = {n for n, p in load_profiles().items() if p.signature}
    assert with_signature - covered == NO_RECORDING


def test_a_profile_claiming_a_whole_vendor_prefix_has_a_signature() -> None:
    """An enterprise number (1.3.6.1.4.1.N) or its products arc (N.1, N.2) is every device of the vendor:
    switches and routers too. Such a profile must confirm the family on the wire (meraki_mr: 29671.2 is
    also every Meraki MS switch and MX)."""
    for name, prof in load_profiles().items():
        wide = [p for p in prof.sys_object_id if p.count(".") + 1 <= 8]
        assert not wide or prof.signature, f"{name}: sysObjectID prefix {wide} claims a whole vendor: add a signature"


def test_a_signature_inside_the_client_rows_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "idle_blind", """
        name = "x"
        sys_object_id = ["1.3.6.1.4.1.99999"]
        signature = ["1.3.6.1.4.1.99999.2.4.1.1"]
        [[clients]]
        oid = "1.3.6.1.4.1.99999.2.4.1.1"
        row = "total"
        count = "rows"
    """)
    with pytest.raises(ProfileError, match=r"idle_blind.toml: \(file\): signature .* one row per client"):
        parse_profile(path)
    path.write_text(path.read_text().replace('signature = ["1.3.6.1.4.1.99999.2.4.1.1"]',
                                             'signature = ["1.3.6.1.4.1.99999.2.1.1.1"]'))
    assert parse_profile(path).signature == ["1.3.6.1.4.1.99999.2.1.1.1"]
