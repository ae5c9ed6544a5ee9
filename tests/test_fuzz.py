"""Fuzzing the two parsers of outside input in the collector: vendor profiles and SNMP values.

A profile file is written by a network engineer; an SNMP value comes from whatever firmware an AP runs.
Neither may crash the collector: a profile either loads or raises ProfileError with ``FILE: field: message``
lines; a poll turns any value (wrong type, exception value, garbage string, out-of-range number) into a
dropped value or a recorded error, never an exception and never an "internal" error.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyasn1.type import univ
from pysnmp.proto import rfc1902, rfc1905

from collector.snmp.client import NO_SUCH_OBJECT, Oid, PduCounter, Target, V2c, Var, decode, parse_oid
from collector.snmp.poller import IF_COLUMNS, SYS_OBJECT_ID, SYS_UPTIME, ApPoller, to_points
from collector.snmp.profiles import Profile, ProfileError, Profiles, load_profiles, parse_profile
from core.secrets import Secret

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PROFILES = load_profiles()

# -- vendor profiles ------------------------------------------------------------------------------------------

FIELDS = {
    "": ["name", "description", "sys_object_id", "clients", "scalars", "interfaces", "id"],
    "clients": ["object", "oid", "row", "count", "radio_from", "ssid_from", "index_part", "radio_names",
                "scale", "max", "total"],
    "scalars": ["object", "oid", "use", "max"],
    "interfaces": ["enabled", "include", "exclude", "max_bps"],
}
# Values an engineer might plausibly (or mistakenly) type, plus TOML's odd corners.
SCALARS = st.one_of(
    st.text(max_size=20), st.sampled_from(["1.3.6.1.4.1.41112", ".1.3.6", "1", "index", "ifname", "radio", "ssid",
                                           "vap", "total", "value", "rows", "last", "all", "([", ".*", ""]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3)), max_leaves=8)


def _table(section: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(FIELDS[section]) | st.text(min_size=1, max_size=8), VALUES, max_size=6)


PROFILE_DOCS = st.fixed_dictionaries(
    {"name": st.text(max_size=10) | st.integers()},
    optional={"description": VALUES, "sys_object_id": st.lists(SCALARS, max_size=3) | SCALARS,
              "clients": st.lists(_table("clients"), max_size=3), "scalars": st.lists(_table("scalars"), max_size=2),
              "interfaces": _table("interfaces"), "id": SCALARS,
              "extra": VALUES})


def _check_profile_outcome(path: Path) -> Profile | None:
    """Either a usable profile or ProfileError whose every line names the file; anything else fails."""
    try:
        prof = parse_profile(path)
    except ProfileError as e:
        assert e.problems and all(p.startswith(f"{path}: ") for p in e.problems), e.problems
        return None
    # What loads must be usable by the poller as is: OIDs parse, regexes compile, bounds are finite.
    for oid in [*prof.sys_object_id, *(t.oid for t in prof.clients), *(s.oid for s in prof.scalars)]:
        parse_oid(oid)
    for t in prof.clients:
        for src in (t.radio_from, t.ssid_from):
            if src not in (None, "index", "ifname"):
                parse_oid(src)
        assert math.isfinite(t.scale) and t.scale > 0
    re.compile(prof.interfaces.include)
    re.compile(prof.interfaces.exclude)
    assert prof.id == path.stem
    return prof


@FUZZ
@given(text=st.text(max_size=400))
def test_profile_from_arbitrary_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzzed.toml"
    path.write_text(text, encoding="utf-8")
    _check_profile_outcome(path)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_profile_from_arbitrary_bytes(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "fuzzed.toml"
    path.write_bytes(raw)
    _check_profile_outcome(path)


@FUZZ
@given(doc=PROFILE_DOCS)
def test_profile_from_arbitrary_structured_values(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "fuzzed.toml"
    try:
        text = tomlkit.dumps(doc)
    except Exception:  # not representable as TOML (e.g. keys tomlkit refuses): nothing to load
        return
    path.write_text(text, encoding="utf-8")
    prof = _check_profile_outcome(path)
    if prof is not None:  # a loaded profile must also survive a poll of garbage
        _poll_garbage(prof, {parse_oid(t.oid): {(1,): Var("Counter64", 2**64 - 1)} for t in prof.clients})


def test_non_finite_or_absurd_scale_is_a_clear_error(tmp_path: Path) -> None:
    """Seen while writing these tests: ``scale = inf`` (valid TOML) loaded, then every poll hit OverflowError."""
    for value in ("inf", "nan", "1e300", "0", "-1"):
        path = tmp_path / "scaled.toml"
        path.write_text(f'name = "x"\n[[clients]]\noid = "1.3.6.1.4.1.1.2"\nscale = {value}\n', encoding="utf-8")
        with pytest.raises(ProfileError, match=r"scaled.toml: clients\[0\]\.scale: "):
            parse_profile(path)


def test_whole_directory_of_broken_files_lists_every_file(tmp_path: Path) -> None:
    """Many broken files at once: one error listing them all, none of them hides another."""
    for i, body in enumerate(['name = "x', "\x00\x01", "[[clients]]\noid = 5", 'name = "ok"\nscale = 1']):
        (tmp_path / f"p{i}.toml").write_text(body, encoding="utf-8")
    with pytest.raises(ProfileError) as e:
        load_profiles([tmp_path])
    assert {p.split(":", 1)[0] for p in e.value.problems} == {str(tmp_path / f"p{i}.toml") for i in range(4)}


# -- SNMP values ------------------------------------------------------------------------------------------

def _huge() -> st.SearchStrategy[int]:
    return st.integers(min_value=-(2**300), max_value=2**300)


PYSNMP_VALUES = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(rfc1902.Integer32),
    st.integers(0, 2**32 - 1).map(rfc1902.Counter32),
    st.integers(0, 2**64 - 1).map(rfc1902.Counter64),
    st.integers(0, 2**32 - 1).map(rfc1902.Gauge32),
    st.integers(0, 2**32 - 1).map(rfc1902.Unsigned32),
    st.integers(0, 2**32 - 1).map(rfc1902.TimeTicks),
    _huge().map(univ.Integer),  # an unconstrained INTEGER: what a lax decoder could hand over
    st.binary(max_size=80).map(rfc1902.OctetString),
    st.text(max_size=40).map(lambda s: rfc1902.OctetString(s.encode("utf-8"))),
    st.binary(min_size=4, max_size=4).map(rfc1902.IpAddress),
    st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=12).map(lambda a: univ.ObjectIdentifier([1, 3, *a])),
    st.binary(max_size=20).map(rfc1902.Opaque),
    st.binary(max_size=4).map(rfc1902.Bits),
    st.just(univ.Null("")),
    st.just(rfc1905.NoSuchObject("")), st.just(rfc1905.NoSuchInstance("")), st.just(rfc1905.EndOfMibView("")),
    st.builds(lambda: rfc1902.Integer32()),  # no value set: pyasn1 raises on use
    st.sampled_from([None, "text", 3.5, object(), b"raw"]),  # not pyasn1 at all
)


@settings(max_examples=400, deadline=None)
@given(PYSNMP_VALUES)
def test_decode_never_raises_and_numbers_are_in_range(value: Any) -> None:
    var = decode(value)
    assert isinstance(var, Var) and isinstance(var.type, str)
    # SMI application types keep their ranges; a plain ASN.1 INTEGER may be anything (the poller bounds it).
    ranges = {"Integer32": (-(2**31), 2**31 - 1), "Counter32": (0, 2**32 - 1),
              "Gauge32": (0, 2**32 - 1), "Unsigned32": (0, 2**32 - 1), "TimeTicks": (0, 2**32 - 1),
              "Counter64": (0, 2**64 - 1)}
    if var.type in ranges:
        lo, hi = ranges[var.type]
        assert isinstance(var.value, int) and lo <= var.value <= hi, (value, var)
    if var.missing:
        assert var.type in ("noSuchObject", "noSuchInstance", "endOfMibView")


class ScriptedClient:
    """Stands in for SnmpClient: answers GET and GETBULK walks with the fuzzed values."""

    def __init__(self, system: dict[Oid, Var], walked: dict[Oid, dict[Oid, Var]]):
        self.system = system
        self.walked = walked

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        yield

    async def get(self, target: Target, oids: Sequence[Oid], counters: PduCounter | None = None) -> dict[Oid, Var]:
        return {o: self.system.get(o, Var("noSuchObject", NO_SUCH_OBJECT)) for o in oids}

    async def walk_columns(self, target: Target, columns: Sequence[Oid], counters: PduCounter | None = None,
                           *args: Any, **kwargs: Any) -> dict[Oid, dict[Oid, Var]]:
        return {c: dict(self.walked.get(c, {})) for c in columns}

    async def get_walk(self, target: Target, scalars: Sequence[Oid], columns: Sequence[Oid],
                       counters: PduCounter | None = None, *args: Any,
                       **kwargs: Any) -> tuple[dict[Oid, Var], dict[Oid, dict[Oid, Var]]]:
        return await self.get(target, scalars), await self.walk_columns(target, columns)


# Not a word: every Secret joins the log redactor, and "public" would mask text in later tests' reports.
TARGET = Target("127.0.0.1", 161, V2c(Secret("fuzz-community-7f3a", "test:c")), 1.0, 0)


def _poll_garbage(profile: Profile, walked: dict[Oid, dict[Oid, Var]],
                  system: dict[Oid, Var] | None = None, rounds: int = 2) -> None:
    """Two polls (so rates are computed) of one profile; asserts the outcome is data, not a crash."""
    profiles = Profiles({**PROFILES.by_name, profile.id or "fuzzed": profile.model_copy(
        update={"id": profile.id or "fuzzed"})}, dict(PROFILES.sources))
    poller = ApPoller(ScriptedClient(system or {}, walked), profiles)  # type: ignore[arg-type]

    async def run() -> None:
        for _ in range(rounds):
            res = await poller.poll("ap1", TARGET, profile.id or "fuzzed")
            assert res.error_kind != "internal", res.error
            assert res.clients is None or 0 <= res.clients <= 100_000
            for s in res.interfaces.values():
                for bps in (s.rx_bps, s.tx_bps):
                    assert bps is None or 0 <= bps <= profile.interfaces.max_bps
            for p in to_points("s", "ap1", "ap", res, 1_700_000_000_000_000_000, (True, 1.0, 0.0)):
                p.to_line()  # every point must be writable

    asyncio.run(run())


OIDS = st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=3).map(tuple)
DECODED = PYSNMP_VALUES.map(decode)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(PROFILES)), data=st.data())
def test_poll_of_arbitrary_values_never_crashes(name: str, data: st.DataObject) -> None:
    profile = PROFILES[name]
    columns = [parse_oid(t.oid) for t in profile.clients]
    columns += [parse_oid(s) for t in profile.clients for s in (t.radio_from, t.ssid_from)
                if s not in (None, "index", "ifname")]
    columns += list(IF_COLUMNS)
    walked = {c: data.draw(st.dictionaries(OIDS, DECODED, max_size=4)) for c in columns}
    system = {SYS_UPTIME: data.draw(DECODED), SYS_OBJECT_ID: data.draw(DECODED)}
    system.update({parse_oid(s.oid): data.draw(DECODED) for s in profile.scalars})
    _poll_garbage(profile, walked, system)
