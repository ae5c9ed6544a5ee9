"""Vendor profiles: declarative TOML files saying which OIDs hold an AP's client counts.

Data and its schema only: which profile an AP gets is decided in collector/snmp/detect.py.

A network engineer adds a vendor by dropping ``<name>.toml`` into collector/snmp/profiles/ (or a directory
named by ``WIFIWATCH_PROFILES_DIR``); the file stem is the name used as ``vendor = "<name>"`` in the
inventory. collector/snmp/README.md documents every field with a worked example.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.paths import PROFILES_DIR

PROFILES_ENV = "WIFIWATCH_PROFILES_DIR"
GENERIC = "generic"
_OID = re.compile(r"^\.?[0-9]+(\.[0-9]+)+$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _oid(v: str) -> str:
    if not _OID.match(v.strip()):
        raise ValueError(f"'{v}' is not a numeric OID such as 1.3.6.1.4.1.41112.1.6.1.2.1.8")
    return v.strip().lstrip(".")


def _object_oid(v: str) -> str:
    """A signature names an object or table (the probe is a GETNEXT of it), never an instance ``x.0``."""
    v = _oid(v)
    if v.endswith(".0"):
        raise ValueError(f"'{v}' is an instance: name the object ('{v[:-2]}'), the probe asks for what follows it")
    return v


def _regex(v: str | None) -> str | None:
    if v is None:
        return None
    try:
        re.compile(v)
    except re.error as e:
        raise ValueError(f"not a valid regular expression: {e}") from None
    return v


def _label_source(v: str) -> str:
    if v in ("index", "ifname"):
        return v
    return _oid(v)


OidText = Annotated[str, AfterValidator(_oid)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClientTable(_Model):
    """One table column whose rows count associated clients (per radio, per SSID, or per radio x SSID)."""

    object: str = Field("", description="MIB object name, for people and error messages")
    oid: str
    row: Literal["radio", "ssid", "vap", "total"] = "radio"  # total: adds to the AP's total only (no label)
    count: Literal["value", "rows"] = "value"
    radio_from: str | None = None
    ssid_from: str | None = None
    # How a row index becomes a label: all arcs, the last or first arc, or a length-prefixed string
    # (SNMP's encoding of a string index, e.g. Huawei's SSID-indexed tables, NET-SNMP-EXTEND-MIB names).
    index_part: Literal["all", "last", "first", "string"] = "all"
    # Only rows whose index label matches count; a capture group, if any, is the label.
    index_match: str | None = None
    # Counts sent as text (NET-SNMP-EXTEND-MIB output lines such as "3") are read as numbers.
    text_numbers: bool = False
    radio_names: dict[str, str] = Field(default_factory=dict)
    # Bounded and finite: an unbounded scale (TOML allows inf) would overflow on every poll.
    scale: float = Field(1.0, gt=0, le=1000, allow_inf_nan=False)
    max: int = Field(2000, gt=0, le=1_000_000)
    total: bool = True

    _oid = field_validator("oid")(_oid)
    _labels = field_validator("radio_from", "ssid_from")(lambda v: None if v is None else _label_source(v))
    _match = field_validator("index_match")(_regex)

    @model_validator(mode="after")
    def _labels_needed(self) -> ClientTable:
        if self.row in ("ssid", "vap") and self.ssid_from is None and self.count == "value":
            raise ValueError(f"row = '{self.row}' needs ssid_from (an OID column naming the SSID, or 'index')")
        return self


RADIO_METRICS = ("channel", "frequency_mhz", "tx_power_dbm", "noise_dbm", "utilization_pct")


class RadioColumn(_Model):
    """One radio-health column (per radio or per AP radio): channel, frequency, tx power, noise, utilisation."""

    metric: Literal["channel", "frequency_mhz", "tx_power_dbm", "noise_dbm", "utilization_pct"]
    object: str = ""
    oid: OidText
    radio_from: str = "index"
    index_part: Literal["all", "last", "first", "string"] = "all"
    index_match: str | None = None
    radio_names: dict[str, str] = Field(default_factory=dict)
    scale: float = Field(1.0, gt=0, le=1000, allow_inf_nan=False)
    text_numbers: bool = False  # values sent as text ("3.7")

    _labels = field_validator("radio_from")(_label_source)
    _match = field_validator("index_match")(_regex)


class Scalar(_Model):
    object: str = ""
    oid: str
    use: Literal["clients_total", "info"] = "info"
    max: int = Field(100_000, gt=0)

    _oid = field_validator("oid")(_oid)


class Interfaces(_Model):
    enabled: bool = True
    include: str = ".*"
    exclude: str = r"^(lo|dummy|imq|teql|gre|sit|ip6tnl|tunl|ifb)"
    max_bps: float = Field(40e9, gt=0)

    @field_validator("include", "exclude")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"not a valid regular expression: {e}") from None
        return v


SignatureOid = Annotated[str, AfterValidator(_object_oid)]


class ApTable(_Model):
    """A controller's per-AP table: each row one managed AP (collector/controllers.py maps them to sites.toml).

    Columns share the table's index (``mac = "index"``: the index is the AP's MAC, as in bsnAPTable and
    Meraki's devTable). ``clients`` is a column of the same index; ``clients_prefix`` a column whose index
    starts with the AP's index (per radio or per WLAN rows, summed per AP).
    """

    object: str = ""
    name: OidText
    mac: str | None = None  # "index" or a column OID
    serial: OidText | None = None
    state: OidText | None = None  # join / online state
    up: list[int] = Field(default_factory=lambda: [1])  # state values meaning "joined, serving"
    clients: OidText | None = None
    clients_prefix: OidText | None = None
    max: int = Field(4096, gt=0, le=20000)

    @field_validator("mac")
    @classmethod
    def _mac(cls, v: str | None) -> str | None:
        return v if v in (None, "index") else _oid(v or "")


class Profile(_Model):
    name: str = Field(min_length=1, description="display name")
    description: str = ""
    # Where the profile comes from: "tested on real walk X" or "MIB only, not tested on a device: ...".
    support: str = ""
    sys_object_id: list[OidText] = Field(default_factory=list)
    # Detection evidence beyond sysObjectID (collector/snmp/detect.py): objects only this family has
    # (all must answer), objects it must not have (tells a family from its newer sibling), sysDescr.
    signature: list[SignatureOid] = Field(default_factory=list)
    signature_absent: list[SignatureOid] = Field(default_factory=list)
    sys_descr: str | None = None
    clients: list[ClientTable] = Field(default_factory=list)
    scalars: list[Scalar] = Field(default_factory=list)
    interfaces: Interfaces = Field(default_factory=lambda: Interfaces.model_validate({}))
    aps: ApTable | None = None  # controllers only: one row per managed AP
    radio: list[RadioColumn] = Field(default_factory=list)  # radio health (docs/schema.md ap_radio)
    # Set by the loader from the file stem; not written in the file.
    id: str = Field("", exclude=True)

    _descr = field_validator("sys_descr")(_regex)

    @model_validator(mode="after")
    def _signature_exists_without_clients(self) -> Profile:
        """A signature must answer on an idle AP: never an object of a table whose rows are the clients."""
        for t in self.clients:
            if t.count != "rows":
                continue
            entry = t.oid.rsplit(".", 1)[0]
            table = entry.rsplit(".", 1)[0]
            for s in self.signature:
                if s in (table, entry) or s.startswith(entry + "."):
                    raise ValueError(
                        f"signature '{s}' lies in the rows of {t.object or t.oid}, one row per client: with no "
                        "client associated it is absent and the AP would not be detected; name an object that "
                        "exists with 0 clients (the AP's, a radio's or a WLAN's table)")
        return self

    @property
    def has_clients(self) -> bool:
        return bool(self.clients) or any(s.use == "clients_total" for s in self.scalars)

    def matches(self, sys_object_id: str) -> int:
        """Length of the longest prefix matching ``sys_object_id`` (0 if none), on OID arc boundaries."""
        oid = sys_object_id.strip().lstrip(".")
        best = 0
        for p in self.sys_object_id:
            if oid == p or oid.startswith(p + "."):
                best = max(best, p.count(".") + 1)
        return best


class ProfileError(Exception):
    """Every broken profile, one ``FILE: field: message`` line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Profiles(Mapping[str, Profile]):
    by_name: dict[str, Profile]
    sources: dict[str, Path]

    def __getitem__(self, key: str) -> Profile:
        return self.by_name[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)


def profile_dirs(extra_dirs: list[Path] | None = None) -> list[Path]:
    """Built-in directory, then $WIFIWATCH_PROFILES_DIR entries, then ``extra_dirs``; later ones override."""
    dirs = [PROFILES_DIR]
    env = os.environ.get(PROFILES_ENV, "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p.strip()]
    dirs += list(extra_dirs or [])
    return dirs


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + str(p))
    return out or "(file)"


def parse_profile(path: Path) -> Profile:
    """Validate one file; raises :class:`ProfileError` with ``FILE: field: message`` lines."""
    stem = path.stem
    if not _NAME.match(stem):
        raise ProfileError([f"{path}: (file name): profile names are lower-case letters, digits, '_' or '-'"])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ProfileError([f"{path}: (syntax): malformed TOML: {e}"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ProfileError([f"{path}: (file): cannot read: {e}"]) from None
    if "id" in data:
        raise ProfileError([f"{path}: id: do not set 'id'; the file name ('{stem}') is the profile name"])
    try:
        prof = Profile.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check its spelling)"
            elif err["type"] == "missing":
                msg = "required field is missing"
            problems.append(f"{path}: {_loc(tuple(err['loc']))}: {msg}")
        raise ProfileError(problems) from None
    return prof.model_copy(update={"id": stem})


def load_profiles(extra_dirs: list[Path] | None = None) -> Profiles:
    """Every profile from :func:`profile_dirs`; raises :class:`ProfileError` listing all broken files."""
    by_name: dict[str, Profile] = {}
    sources: dict[str, Path] = {}
    problems: list[str] = []
    for d in profile_dirs(extra_dirs):
        if not d.is_dir():
            if d != PROFILES_DIR:
                problems.append(f"{d}: (directory): profile directory not found")
            continue
        for path in sorted(d.glob("*.toml")):
            try:
                prof = parse_profile(path)
            except ProfileError as e:
                problems.extend(e.problems)
                continue
            by_name[prof.id] = prof
            sources[prof.id] = path
    if GENERIC not in by_name:
        problems.append(f"{PROFILES_DIR / (GENERIC + '.toml')}: (file): the generic profile is required")
    if problems:
        raise ProfileError(problems)
    return Profiles(by_name, sources)


def main(argv: list[str] | None = None) -> int:
    """``python -m collector.snmp.profiles [DIR ...]``: validate profiles and show what each detects."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    try:
        profiles = load_profiles([Path(a) for a in args])
    except ProfileError as e:
        print(e, file=sys.stderr)
        return 1
    for name, prof in sorted(profiles.items()):
        prefixes = ", ".join(prof.sys_object_id) or (f"sysDescr /{prof.sys_descr}/" if prof.sys_descr else "(fallback)")
        tables = ", ".join([*(t.object or t.oid for t in prof.clients),
                            *(s.object or s.oid for s in prof.scalars if s.use == "clients_total")])
        tables = tables or "no client counts"
        print(f"{name:22} {prof.name} | sysObjectID {prefixes} | {tables} | {profiles.sources[name]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
