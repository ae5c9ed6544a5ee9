"""Inventory model: sites, access points, candidate sites, and the service settings around them.

Every package reads the inventory through these models, so a field means one thing everywhere.
Secrets are never values here, only references (``env:NAME`` or ``file:KEY``) resolved at use.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.config_checks import host_problem
from core.escape import has_line_break
from core.lgcode import normalize as normalize_lg_code
from core.netbind import check_bind
from core.secrets import url_credentials

# Japan's extreme points, with a small margin: a coordinate outside this box is a typo (swapped lat/lon,
# a missing digit), not a site.
JAPAN_LAT = (20.0, 46.0)
JAPAN_LON = (122.0, 154.0)

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SECRET_REF = re.compile(r"^(env|file):[A-Za-z_][A-Za-z0-9_.-]*$")


class SiteKind(StrEnum):
    PUBLIC_FACILITY = "public_facility"
    TOURIST_SPOT = "tourist_spot"
    STATION = "station"
    PARK = "park"
    COMMERCIAL = "commercial"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_secret_ref(value: str | None) -> str | None:
    if value is None:
        return None
    if not SECRET_REF.match(value):
        raise ValueError(
            "must be a secret reference 'env:VARIABLE' or 'file:KEY' (secrets are never written inline)"
        )
    return value


def _one_line(value: str | None) -> str | None:
    """Names land in e-mail subjects, chat messages, CSV rows and log lines: one line, no control characters."""
    if value is not None and has_line_break(value):
        bad = next(c for c in value if has_line_break(c))
        raise ValueError(f"must be one line of text, but contains a line break or control character "
                         f"(U+{ord(bad):04X})")
    return value


def _in_range(name: str, bounds: tuple[float, float]):
    def check(v: float | None) -> float | None:
        if v is not None and not (bounds[0] <= v <= bounds[1]):
            raise ValueError(f"{name} {v} is outside Japan ({bounds[0]}..{bounds[1]})")
        return v

    return check


SecretRef = Annotated[str, Field(description="env:NAME or file:KEY")]


class SnmpSettings(_Model):
    """SNMP credentials. v3 authPriv is the recommended default for real deployments."""

    version: Literal["2c", "3"] = "3"
    community: SecretRef | None = None
    user: str | None = None
    auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512", "none"] = "sha256"
    auth_key: SecretRef | None = None
    priv_protocol: Literal["des", "3des", "aes", "aes128", "aes192", "aes256", "none"] = "aes128"
    priv_key: SecretRef | None = None
    context: str = ""

    _refs = field_validator("community", "auth_key", "priv_key")(_check_secret_ref)

    @model_validator(mode="after")
    def _complete(self) -> SnmpSettings:
        if self.version == "2c" and not self.community:
            raise ValueError("SNMP v2c needs 'community' (a secret reference such as env:SNMP_COMMUNITY)")
        if self.version == "3":
            if not self.user:
                raise ValueError("SNMP v3 needs 'user'")
            if self.auth_protocol != "none" and not self.auth_key:
                raise ValueError("SNMP v3 with authentication needs 'auth_key' (a secret reference)")
            if self.priv_protocol != "none" and not self.priv_key:
                raise ValueError("SNMP v3 with privacy needs 'priv_key' (a secret reference)")
            if self.priv_protocol != "none" and self.auth_protocol == "none":
                raise ValueError("SNMP v3 privacy requires authentication (authPriv)")
        return self

    @property
    def security_level(self) -> str:
        if self.version == "2c":
            return "v2c"
        if self.auth_protocol == "none":
            return "noAuthNoPriv"
        return "authNoPriv" if self.priv_protocol == "none" else "authPriv"


class PollSettings(_Model):
    """Timing knobs; a site or AP may override the global defaults."""

    interval_s: float = Field(60.0, gt=0, le=86400)
    heartbeat_s: float = Field(10.0, gt=0, le=3600)
    timeout_s: float = Field(2.0, gt=0, le=60)
    retries: int = Field(1, ge=0, le=10)


class PollOverrides(_Model):
    interval_s: float | None = Field(None, gt=0, le=86400)
    heartbeat_s: float | None = Field(None, gt=0, le=3600)
    timeout_s: float | None = Field(None, gt=0, le=60)
    retries: int | None = Field(None, ge=0, le=10)


class Device(_Model):
    """Anything polled: an AP, or a site's uplink router."""

    id: str = Field(pattern=ID_PATTERN)
    host: str
    port: int = Field(161, ge=1, le=65535)
    snmp: SnmpSettings | None = None
    poll: PollOverrides | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not v or any(c.isspace() for c in v):
            raise ValueError("host must be an IP address or host name without spaces")
        problem = host_problem(v)  # IPv4 (127.0.1.999 is refused), IPv6 or a DNS name
        if problem is not None:
            raise ValueError(problem[0])
        return v


class ControllerMatch(_Model):
    """How an AP is found among the APs its controller reports: any given key that matches."""

    name: str | None = Field(None, min_length=1, max_length=64)
    mac: str | None = Field(None, pattern=r"^[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}$")
    serial: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one(self) -> ControllerMatch:
        if self.name is None and self.mac is None and self.serial is None:
            raise ValueError("give at least one of name, mac, serial")
        return self


MAC_FORMS = re.compile(r"^(?:[0-9a-f]{2}([:-]?)(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4})$")


def normalize_mac(text: str) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` for any of the forms senders use (colons, dashes, none, Cisco's dotted
    ``aabb.ccdd.eeff``, either case), or None when ``text`` is not a MAC address."""
    t = text.strip().lower()
    if not MAC_FORMS.match(t):
        return None
    h = t.replace(":", "").replace("-", "").replace(".", "")
    return ":".join(h[i:i + 2] for i in range(0, 12, 2))


def _visitor_ids(v: list[str]) -> list[str]:
    """MACs (BSSID or the AP's own, as RADIUS Called-Station-Id gives them) are normalised; anything else is a
    NAS-Identifier or syslog host name, kept as written but matched without regard to case."""
    out = []
    for x in v:
        if not x.strip() or len(x) > 253 or has_line_break(x):
            raise ValueError(f"visitor_ids: {x!r} must be a MAC address or a NAS-Identifier of 1-253 characters "
                             "on one line")
        out.append(normalize_mac(x) or x.strip())
    return out


class AccessPoint(Device):
    vendor: str = "auto"
    model: str | None = None
    name_ja: str | None = None
    name_en: str | None = None
    capacity_per_radio: int | None = Field(None, gt=0, le=10000)
    coverage_radius_m: float | None = Field(None, gt=0, le=5000)
    lat: float | None = None
    lon: float | None = None
    # Which recording the simulated fleet serves for this AP (wifiwatch/sim/data/<name>.snmprec);
    # defaults to the vendor profile's name, or "generic". Ignored outside the simulator.
    simulate_as: str | None = None
    # An AP managed by a controller ([[controllers]]): which row of the controller's AP table is this AP
    # (by name, MAC or serial), and whether its up/down comes from the controller's join state (for APs that
    # cannot be pinged: behind NAT, on LTE uplinks) instead of ping.
    controller: str | None = Field(None, pattern=ID_PATTERN)
    controller_match: ControllerMatch | None = None
    availability_from: Literal["ping", "controller"] = "ping"
    # Visitor sessions ([visitors]): how RADIUS accounting (MAC part of Called-Station-Id, or NAS-Identifier)
    # and syslog (host name / AP name in the message) name this AP. Unknown names are counted, never guessed.
    visitor_ids: list[str] = Field(default_factory=list, max_length=64)
    # Also read the controller's/AP's client table over SNMP as sessions, where the profile has one (opt-in).
    visitor_snmp: bool = False

    _vids = field_validator("visitor_ids")(_visitor_ids)

    @model_validator(mode="after")
    def _controller_complete(self) -> AccessPoint:
        if self.controller_match is not None and self.controller is None:
            raise ValueError("controller_match needs controller (the id of a [[controllers]] entry)")
        if self.availability_from == "controller" and (self.controller is None or self.controller_match is None):
            raise ValueError('availability_from = "controller" needs controller and controller_match')
        return self

    _names = field_validator("model", "name_ja", "name_en")(_one_line)
    _lat = field_validator("lat")(_in_range("lat", JAPAN_LAT))
    _lon = field_validator("lon")(_in_range("lon", JAPAN_LON))


class Controller(Device):
    """A wireless controller (WLC, Catalyst 9800, SmartZone, Unleashed master, FortiGate, Meraki cloud, Huawei
    AC): one SNMP target reporting many APs. Its APs are listed under their sites with ``controller = id``."""

    site: str = Field(pattern=ID_PATTERN, description="the site it is installed at (its own series go there)")
    vendor: str = "auto"
    name_ja: str | None = None
    name_en: str | None = None


class Uplink(Device):
    """The router the site's APs sit behind: when it is down, the APs' silence is one site alert."""


class _Located(_Model):
    lat: float
    lon: float

    _lat = field_validator("lat")(_in_range("lat", JAPAN_LAT))
    _lon = field_validator("lon")(_in_range("lon", JAPAN_LON))


class Site(_Located):
    id: str = Field(pattern=ID_PATTERN)
    name_ja: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    # Katakana reading: the open-data dataset (公衆無線LANアクセスポイント一覧) requires 名称_カナ.
    name_kana: str = ""
    kind: SiteKind
    address: str = ""
    installed_on: dt.date | None = None
    location_approximate: bool = False
    coverage_radius_m: float | None = Field(None, gt=0, le=5000)
    snmp: SnmpSettings | None = None
    poll: PollOverrides | None = None
    uplink: Uplink | None = None
    aps: list[AccessPoint] = Field(default_factory=list)

    _names = field_validator("name_ja", "name_en", "name_kana", "address")(_one_line)


class Candidate(_Located):
    id: str = Field(pattern=ID_PATTERN)
    name_ja: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    kind: SiteKind
    annual_visitors: int = Field(ge=0)
    install_cost_yen: int = Field(gt=0)
    address: str = ""
    notes: str = ""
    location_approximate: bool = False
    # Days a year with an event (matches, festivals) and the visitors each brings, as extra demand.
    event_days: int = Field(0, ge=0, le=366)
    event_visitors_per_day: int = Field(0, ge=0)
    # Planner: 地区 for district balance, and the running cost and life that cost per visitor spreads over
    # (None: [planner] defaults).
    district: str = ""
    running_cost_yen_per_year: int | None = Field(None, ge=0)
    life_years: int | None = Field(None, ge=1, le=30)

    _names = field_validator("name_ja", "name_en", "address")(_one_line)


class InfluxSettings(_Model):
    url: str
    api: Literal["v1", "v2"] = "v1"
    database: str = "wifiwatch"  # v1 database, or the v2 bucket
    org: str = ""
    token: SecretRef | None = None
    username: SecretRef | None = None
    password: SecretRef | None = None
    batch_size: int = Field(5000, gt=0, le=100000)
    timeout_s: float = Field(10.0, gt=0, le=300)
    verify_tls: bool = True

    _refs = field_validator("token", "username", "password")(_check_secret_ref)

    @field_validator("url")
    @classmethod
    def _no_inline_credentials(cls, v: str) -> str:
        # The message never repeats the URL: it holds the very password it complains about.
        if url_credentials(v):
            raise ValueError("credentials inside the URL are not allowed (they would reach logs and status "
                             "output): give username/password or token as env:/file: references instead")
        return v


class StoreSettings(_Model):
    path: str = "var/wifiwatch.sqlite3"
    retention_days: int = Field(400, ge=1)
    raw_retention_days: int = Field(35, ge=1)
    min_free_mb: int = Field(200, ge=0)


def _host_port(v: str | None) -> str | None:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6); port 0 asks the system for one (tests)."""
    if v is None:
        return None
    m = re.fullmatch(r"(\[[0-9A-Fa-f:.%\w]+\]|[^\s:\[\]]+):(\d{1,5})", v)
    if not m or int(m[2]) > 65535:
        raise ValueError(f"'{v}' is not HOST:PORT (e.g. \"0.0.0.0:1813\", \"[::]:1813\")")
    problem = host_problem(m[1])
    if problem is not None:
        raise ValueError(problem[0])
    return v


def split_host_port(v: str) -> tuple[str, int]:
    host, _, port = v.rpartition(":")
    return host.strip("[]"), int(port)


class VisitorSettings(_Model):
    """Visitor sessions (issue 24): sources, privacy keys and retention. Off unless a source is configured."""

    radius_bind: str | None = None  # RADIUS accounting server, e.g. "0.0.0.0:1813"
    radius_secret: SecretRef | None = None  # shared secret, env:NAME or file:KEY
    syslog_bind: str | None = None  # association/disassociation events over UDP syslog, e.g. "0.0.0.0:5514"
    # A second, 30-day key for new vs returning visitors; off: nothing links a device across days.
    returning: bool = False
    # Cells of fewer devices than this are shown as "<k_min>" wherever a figure leaves the analyst.
    k_min: int = Field(10, ge=2, le=1000)
    session_retention_days: int = Field(90, ge=1, le=3650)
    # An open session not heard of (Interim-Update, event) for this long is closed at its last sign of life.
    idle_timeout_min: float = Field(360.0, gt=0, le=7 * 24 * 60)
    # Where the HMAC keys live (mode 0600); default: visitor-keys.json beside the store file.
    key_file: str | None = None
    # Work bounds per sender address: packets a second (beyond them, dropped and counted).
    max_packets_per_s_per_client: int = Field(2000, ge=1, le=1_000_000)
    # Open sessions give a live client count to APs whose SNMP has none (written as ap_status.clients).
    live_counts: bool = True

    _refs = field_validator("radius_secret")(_check_secret_ref)
    _binds = field_validator("radius_bind", "syslog_bind")(_host_port)

    @model_validator(mode="after")
    def _secret(self) -> VisitorSettings:
        if self.radius_bind is not None and self.radius_secret is None:
            raise ValueError("radius_bind needs radius_secret (env:NAME or file:KEY): accounting requests are "
                             "authenticated with the shared secret")
        return self

    @property
    def enabled(self) -> bool:
        return self.radius_bind is not None or self.syslog_bind is not None


class AlertChannel(_Model):
    name: str = Field(pattern=ID_PATTERN)
    type: Literal["email", "webhook", "slack", "teams"]
    lang: Literal["ja", "en"] = "ja"
    # email
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    smtp_user: SecretRef | None = None
    smtp_password: SecretRef | None = None
    sender: str | None = None
    to: list[str] = Field(default_factory=list)
    # webhook / slack / teams: the URL is a bearer secret (anyone who has it can post as the city)
    url: SecretRef | None = None
    verify_tls: bool = True
    timeout_s: float = Field(10.0, gt=0, le=120)
    # routing: empty means everything
    site_kinds: list[SiteKind] = Field(default_factory=list)
    min_severity: Literal["info", "warning", "critical"] = "warning"

    _refs = field_validator("smtp_user", "smtp_password")(_check_secret_ref)
    _sender = field_validator("sender")(_one_line)  # e-mail headers: a line break would inject one

    @field_validator("to")
    @classmethod
    def _to(cls, v: list[str]) -> list[str]:
        for address in v:
            _one_line(address)
        return v

    @field_validator("url")
    @classmethod
    def _url_ref(cls, v: str | None) -> str | None:
        if v is not None and not SECRET_REF.match(v):
            raise ValueError("a webhook URL is a secret (whoever has it can post as the city): give it as "
                             "env:VARIABLE or file:KEY, not inline")
        return v

    @model_validator(mode="after")
    def _complete(self) -> AlertChannel:
        if self.type == "email" and (not self.smtp_host or not self.to or not self.sender):
            raise ValueError("email channel needs smtp_host, sender and to")
        if self.type != "email" and not self.url:
            raise ValueError(f"{self.type} channel needs url")
        return self


class AlertSettings(_Model):
    down_after: int = Field(3, ge=1, le=100)
    up_after: int = Field(2, ge=1, le=100)
    flap_changes: int = Field(4, ge=2, le=100)
    flap_window_min: float = Field(15.0, gt=0)
    reminder_h: float = Field(4.0, gt=0)
    degraded_loss_pct: float = Field(20.0, ge=0, le=100)
    degraded_rtt_ms: float = Field(300.0, gt=0)
    saturation_minutes: float = Field(15.0, gt=0)
    map_url: str = ""
    # Where people open wifiwatch from a message (the web console); links in alerts are built on it.
    base_url: str = ""
    channels: list[AlertChannel] = Field(default_factory=list)
    # An outage nobody acknowledged (console 障害 page) within this many minutes also goes to escalate_channel.
    escalate_after_min: float | None = Field(None, gt=0)
    escalate_channel: str | None = None

    @model_validator(mode="after")
    def _escalation(self) -> AlertSettings:
        if (self.escalate_after_min is None) != (self.escalate_channel is None):
            raise ValueError("escalation needs both escalate_after_min and escalate_channel")
        if self.escalate_channel is not None and self.escalate_channel not in {c.name for c in self.channels}:
            raise ValueError(f"escalate_channel '{self.escalate_channel}' is not one of the alert channels")
        return self

    @field_validator("map_url", "base_url")
    @classmethod
    def _web_link(cls, v: str) -> str:
        """Alert links must open on the reader's phone or PC: a file:// path exists only on the server."""
        if v and not re.match(r"^https?://[^\s/?#]+[^\s]*$", v):
            raise ValueError(f"'{v}' is not an http:// or https:// URL (links in alerts must open on the "
                             "reader's device; a file:// path exists only on the server)")
        return v


class Maintenance(_Model):
    """A window in which alerts are silenced: one-off (start/end) or weekly (weekday + times)."""

    id: str = Field(pattern=ID_PATTERN)
    target: str = "*"  # "*", a site id or an AP id
    reason: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = None
    start_time: dt.time | None = None
    end_time: dt.time | None = None

    _reason = field_validator("reason")(_one_line)

    @model_validator(mode="after")
    def _shape(self) -> Maintenance:
        one_off = self.start is not None or self.end is not None
        weekly = self.weekday is not None or self.start_time is not None or self.end_time is not None
        if one_off == weekly:
            raise ValueError("give either start and end, or weekday with start_time and end_time")
        if one_off and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError("a one-off window needs start < end")
        if weekly and (self.weekday is None or self.start_time is None or self.end_time is None):
            raise ValueError("a weekly window needs weekday, start_time and end_time")
        return self


class HttpSettings(_Model):
    bind: str = "127.0.0.1"
    port: int = Field(9716, ge=0, le=65535)
    token: SecretRef | None = None

    _refs = field_validator("token")(_check_secret_ref)

    @model_validator(mode="after")
    def _token_off_loopback(self) -> HttpSettings:
        problem = check_bind(self.bind, has_token=self.token is not None)
        if problem:
            raise ValueError(problem)
        return self


class ConsoleSettings(_Model):
    """The web console the daemon (and ``wifiwatch web``) serves on the [http] bind and port."""

    enabled: bool = True
    idle_timeout_min: float = Field(30.0, gt=0, le=24 * 60)  # a session unused this long must log in again
    session_lifetime_h: float = Field(12.0, gt=0, le=24 * 31)  # and any session this old, however busy
    login_attempts_per_min: int = Field(10, ge=1, le=1000)  # per client address, on POST /login
    secure_cookies: bool = False  # set when a TLS-terminating reverse proxy is in front (cookies only over https)
    # Single sign-on behind a reverse proxy: it authenticates and sends the user name in this header. Trusted only
    # from the proxy's address(es); the user must exist (`wifiwatch users add`), which gives the role.
    trusted_header: str | None = None
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    history: Literal["store", "influxdb"] = "store"  # where site/AP charts read from


class ClusterSettings(_Model):
    """``shard``: a fixed split (no coordination). ``redis``: a group with leases and rendezvous hashing
    (collector/cluster); the password only by reference, never inside the URL."""

    shard: str = "0/1"
    redis: str | None = None  # redis://HOST:PORT/DB
    password: SecretRef | None = None
    name: str | None = None  # this member's name in the group; default: the host name
    lease_s: float = Field(15.0, ge=1.0, le=600.0)

    _refs = field_validator("password")(_check_secret_ref)

    @field_validator("redis")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        m = re.fullmatch(r"redis://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?(?:/(\d{1,2}))?/?", v)
        if "@" in v:
            raise ValueError("cluster.redis must not carry a password: give it as password = \"env:NAME\" "
                             "or \"file:KEY\"")
        if not m or (m[2] is not None and not 0 < int(m[2]) < 65536):
            raise ValueError(f"cluster.redis '{v}' is not redis://HOST:PORT/DB")
        return v

    @field_validator("name")
    @classmethod
    def _member_name(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}", v):
            raise ValueError(f"cluster.name '{v}' must be 1-63 letters, digits, '.', '_' or '-'")
        return v

    @model_validator(mode="after")
    def _one_scheme(self) -> ClusterSettings:
        if self.redis is not None and self.shard != "0/1":
            raise ValueError("cluster.shard and cluster.redis exclude each other: with redis the group assigns "
                             "the APs itself; remove shard")
        return self

    @property
    def member(self) -> str:
        import socket

        return self.name or socket.gethostname()

    @field_validator("shard")
    @classmethod
    def _shard(cls, v: str) -> str:
        m = re.fullmatch(r"(\d+)/(\d+)", v)
        if not m or not (0 <= int(m[1]) < int(m[2])):
            raise ValueError("shard must be 'i/n' with 0 <= i < n, e.g. '0/2'")
        return v

    @property
    def index_count(self) -> tuple[int, int]:
        i, n = self.shard.split("/")
        return int(i), int(n)


class TrapSettings(_Model):
    """SNMP trap/inform receiver (collector/traps.py): a declared trap makes the collector probe that
    device at once; a probe that agrees opens or closes its incident. Polling stays the source of truth."""

    enabled: bool = False
    bind: str = "0.0.0.0"
    port: int = Field(162, ge=0, le=65535)
    # snmpEngineIDs (hex) of devices sending SNMPv3 TRAPs; v3 INFORMs and v1/v2c need none.
    engine_ids: list[str] = Field(default_factory=list)
    probe_timeout_s: float = Field(0.5, gt=0, le=10)
    # At most two trap-driven changes (one outage opened and closed) per device in this window; the
    # traps of a flapping link beyond that fold into the incident and are left to the heartbeats.
    hold_s: float = Field(300.0, ge=0, le=86400)

    @field_validator("engine_ids")
    @classmethod
    def _hex(cls, v: list[str]) -> list[str]:
        for e in v:
            h = e.removeprefix("0x")
            if not (10 <= len(h) <= 64) or any(c not in "0123456789abcdefABCDEF" for c in h) or len(h) % 2:
                raise ValueError(f"'{e}' is not an snmpEngineID in hex (5 to 32 bytes)")
        return [e.removeprefix("0x") for e in v]


class PlannerSettings(_Model):
    coverage_radius_m: dict[SiteKind, float] = Field(
        default_factory=lambda: {
            SiteKind.PUBLIC_FACILITY: 30.0,
            SiteKind.TOURIST_SPOT: 50.0,
            SiteKind.STATION: 50.0,
            SiteKind.PARK: 60.0,
            SiteKind.COMMERCIAL: 40.0,
        }
    )
    capacity_per_radio: int = Field(50, gt=0)
    # Cost per visitor over an AP's life: install plus this running cost (line, maintenance) a year, over this
    # many years, unless a candidate gives its own. ILLUSTRATIVE defaults; set them from the city's contracts.
    running_cost_yen_per_year: int = Field(120_000, ge=0)
    life_years: int = Field(5, ge=1, le=30)


class ReportSettings(_Model):
    """Where the daemon writes each month's report (on the 1st, for the month before), and in which languages."""

    dir: str = "var/reports"
    langs: tuple[Literal["ja", "en"], ...] = Field(("ja",), min_length=1)
    # a figure observed on less of its period than this is a 参考値: marked, never compared or published
    min_coverage_pct: float = Field(90.0, ge=0, le=100)
    # dates as 2026年11月 (seireki) or 令和8年11月 (reiwa)
    era: Literal["seireki", "reiwa"] = "seireki"
    # e-mail the monthly report, once written, to these addresses through the SMTP settings of the named
    # [[alerts.channels]] entry of type "email" (its host, port, STARTTLS, credentials and sender)
    email_to: list[str] = Field(default_factory=list)
    email_channel: str | None = None

    @field_validator("email_to")
    @classmethod
    def _email_to(cls, v: list[str]) -> list[str]:
        for address in v:
            _one_line(address)  # e-mail headers: a line break would inject one
        return v

    @model_validator(mode="after")
    def _email(self) -> ReportSettings:
        if self.email_to and not self.email_channel:
            raise ValueError("email_to needs email_channel: the name of an [[alerts.channels]] of type email")
        return self

    @property
    def min_share(self) -> float:
        return self.min_coverage_pct / 100


class OpenDataSettings(_Model):
    """Values of the open-data dataset that are the same for every site (設置者, 電話番号, SSID, URL)."""

    installer: str = ""  # 設置者; empty means city_ja
    phone: str = ""
    ssid: str = ""
    url: str = ""

    _values = field_validator("installer", "phone", "ssid", "url")(_one_line)


MAP_TILE_CHOICES = ("auto", "cache", "none", "gsi", "osm")


def tiles_choice_problem(value: str) -> str | None:
    """Why ``value`` is not a map background choice, or None (shared by [map] tiles and `map --tiles`)."""
    if value in MAP_TILE_CHOICES or (value.startswith("https://") and all(k in value for k in ("{z}", "{x}", "{y}"))):
        return None
    return "must be auto, cache, none, gsi, osm, or an https:// URL template with {z}/{x}/{y}"


class MapSettings(_Model):
    """The map's background. ``auto`` draws the local tile archive when there is one (`wifiwatch tiles fetch`);
    an online service (gsi, osm, an https:// template) is used only when named here or on the command line."""

    tiles: str = "auto"
    tile_file: str | None = None  # default: background.pmtiles beside the store

    @field_validator("tiles")
    @classmethod
    def _tiles(cls, v: str) -> str:
        problem = tiles_choice_problem(v)
        if problem:
            raise ValueError(problem)
        return v


class Inventory(_Model):
    """The whole validated config file."""

    city_ja: str = "鹿嶋市"
    city_en: str = "Kashima City"
    municipality_code: str = "082228"
    secrets_file: str | None = None
    defaults: PollSettings = PollSettings()
    snmp: SnmpSettings | None = None
    store: StoreSettings = StoreSettings()
    influxdb: InfluxSettings | None = None
    http: HttpSettings = HttpSettings()
    console: ConsoleSettings = ConsoleSettings()
    cluster: ClusterSettings = ClusterSettings()
    traps: TrapSettings = TrapSettings()
    alerts: AlertSettings = AlertSettings()
    planner: PlannerSettings = PlannerSettings()
    reports: ReportSettings = ReportSettings()
    opendata: OpenDataSettings = OpenDataSettings()
    map: MapSettings = MapSettings()
    visitors: VisitorSettings = VisitorSettings()
    maintenance: list[Maintenance] = Field(default_factory=list)
    sites: list[Site] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)
    controllers: list[Controller] = Field(default_factory=list)

    _names = field_validator("city_ja", "city_en")(_one_line)

    @field_validator("municipality_code")
    @classmethod
    def _lg_code(cls, v: str) -> str:
        """全国地方公共団体コード: six digits with a correct check digit (five digits get it added)."""
        return normalize_lg_code(v)

    @model_validator(mode="after")
    def _report_mail_channel(self) -> Inventory:
        name = self.reports.email_channel
        if name is not None and not any(c.name == name and c.type == "email" for c in self.alerts.channels):
            raise ValueError(f"reports.email_channel: no [[alerts.channels]] of type email named '{name}'")
        return self

    @model_validator(mode="after")
    def _console_history_source(self) -> Inventory:
        if self.console.history == "influxdb" and self.influxdb is None:
            raise ValueError("console.history = \"influxdb\" needs an [influxdb] section")
        return self

    @model_validator(mode="after")
    def _controllers_exist(self) -> Inventory:
        ids = {c.id for c in self.controllers}
        sites = {s.id for s in self.sites}
        for c in self.controllers:
            if c.site not in sites:
                raise ValueError(f"controller {c.id}: site '{c.site}' is not in [[sites]]")
        for site in self.sites:
            for ap in site.aps:
                if ap.controller is not None and ap.controller not in ids:
                    raise ValueError(f"{ap.id}: controller '{ap.controller}' is not in [[controllers]] "
                                     f"(known: {', '.join(sorted(ids)) or 'none'})")
        return self

    @model_validator(mode="after")
    def _visitor_ids_unique(self) -> Inventory:
        seen: dict[str, str] = {}
        for _site, ap in self.aps():
            for vid in ap.visitor_ids:
                key = vid.lower()
                if key in seen and seen[key] != ap.id:
                    raise ValueError(f"{ap.id}: visitor_ids '{vid}' is already given to {seen[key]} (a sender must "
                                     "name one AP)")
                seen[key] = ap.id
        return self

    # -- derived views -------------------------------------------------------------------------
    def managed_by(self, controller_id: str) -> list[tuple[Site, AccessPoint]]:
        """The APs that name ``controller_id`` as their controller."""
        return [(s, ap) for s, ap in self.aps() if ap.controller == controller_id]

    def aps(self) -> list[tuple[Site, AccessPoint]]:
        return [(s, ap) for s in self.sites for ap in s.aps]

    def site(self, site_id: str) -> Site:
        for s in self.sites:
            if s.id == site_id:
                return s
        raise KeyError(site_id)

    def ap(self, ap_id: str) -> tuple[Site, AccessPoint]:
        for s, ap in self.aps():
            if ap.id == ap_id:
                return s, ap
        raise KeyError(ap_id)

    def snmp_for(self, site: Site, device: Device) -> SnmpSettings | None:
        """Device settings win over the site's, which win over the global ones."""
        return device.snmp or site.snmp or self.snmp

    def poll_for(self, site: Site, device: Device) -> PollSettings:
        merged = self.defaults.model_dump()
        for layer in (site.poll, device.poll):
            if layer is not None:
                merged.update({k: v for k, v in layer.model_dump().items() if v is not None})
        return PollSettings(**merged)

    def coverage_radius_for(self, site: Site, ap: AccessPoint | None = None) -> float:
        if ap is not None and ap.coverage_radius_m:
            return ap.coverage_radius_m
        if site.coverage_radius_m:
            return site.coverage_radius_m
        return self.planner.coverage_radius_m.get(site.kind, 50.0)

    def capacity_for(self, ap: AccessPoint) -> int:
        return ap.capacity_per_radio or self.planner.capacity_per_radio
