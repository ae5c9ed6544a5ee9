"""The simulator's per-vendor recordings (wifiwatch/sim/data/*.snmprec) and the values they serve.

RECORDINGS below is the single description of what each simulated AP answers; the .snmprec files are
generated from it (``python -m tests.test_snmp_recordings --write``) and the test here fails if a committed
file drifts from it. The SNMP tests compare what the poller reads over UDP with ``expected(...)``.

Client counts follow a daily curve with snmpsim's stock ``numeric`` variation module:
``clients = int(max(0, offset + scale * sin(2*pi*t/86400)))`` with t = Unix time in seconds, which peaks at
06:00 UTC (15:00 JST, busy afternoon) and bottoms out at 18:00 UTC (03:00 JST, night). Octet counters grow
at a constant ``rate`` bytes/s from the agent's start (so they restart with it, like sysUpTime).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from collector.snmp.client import parse_oid

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "wifiwatch" / "sim" / "data"
DAY_RATE = 2 * math.pi / 86400  # radians per second of the daily curve
UPTIME_START_TICKS = 12 * 86400 * 100  # agents report 12 days of uptime when the simulator starts


@dataclass(frozen=True)
class Count:
    """A client count: ``static`` when set, else the daily curve ``offset + scale * sin(...)``."""

    static: int | None = None
    scale: float = 0.0
    offset: float = 0.0

    def value_at(self, t: float) -> int:
        if self.static is not None:
            return self.static
        return int(max(0.0, self.offset + self.scale * math.sin(t * DAY_RATE)))

    def snmprec(self, tag: int) -> str:
        if self.static is not None:
            return f"{tag}|{self.static}"
        return (f"{tag}:numeric|function=sin,atime=1,rate={DAY_RATE!r},"
                f"scale={self.scale:g},offset={self.offset:g}")


@dataclass(frozen=True)
class Iface:
    index: int
    name: str
    descr: str
    if_type: int  # 6 ethernetCsmacd, 71 ieee80211, 24 softwareLoopback
    speed_mbps: int
    rx_rate: int  # bytes/s
    tx_rate: int
    up: bool = True


@dataclass(frozen=True)
class Row:
    """One row of a client table: index suffix, count, and label columns (OID suffix -> text)."""

    index: str
    count: Count
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recording:
    profile: str
    sys_descr: str
    sys_object_id: str
    ifaces: list[Iface]
    table: str  # the client table's entry OID (columns are suffixes of it)
    count_column: int
    count_tag: int
    rows: list[Row]
    extra: list[tuple[str, str]] = field(default_factory=list)  # (oid, "tag|value") lines
    second: tuple[str, int, int, list[Row]] | None = None  # (entry OID, count column, tag, rows)
    hc: bool = True  # has ifXTable (64-bit counters)
    expect_radio: dict[str, list[str]] = field(default_factory=dict)  # label -> row indexes summed
    expect_ssid: dict[str, list[str]] = field(default_factory=dict)
    expect_total: list[str] | None = None  # row indexes making the total (first table)


FREE = "Kashima_Free_Wi-Fi"
STAFF = "Kashima_Staff"
# 6-byte MACs as OID index arcs
MAC_AP = "0.58.153.17.34.51"

RECORDINGS: dict[str, Recording] = {
    "unifi": Recording(
        "unifi", "UAP-AC-Pro 6.5.62.14789", "1.3.6.1.4.1.41112",
        [Iface(1, "lo", "lo", 24, 0, 100, 100), Iface(2, "eth0", "eth0", 6, 1000, 250_000, 1_250_000),
         Iface(3, "wifi0", "wifi0", 71, 300, 600_000, 120_000), Iface(4, "wifi1", "wifi1", 71, 867, 900_000, 150_000)],
        "1.3.6.1.4.1.41112.1.6.1.2.1", 8, 66,
        [Row("1", Count(scale=6, offset=8), {"6": FREE, "9": "ng"}),
         Row("2", Count(scale=12, offset=14), {"6": FREE, "9": "na"}),
         Row("3", Count(static=1), {"6": STAFF, "9": "ng"}),
         Row("4", Count(static=2), {"6": STAFF, "9": "na"})],
        expect_radio={"2.4GHz": ["1", "3"], "5GHz": ["2", "4"]},
        expect_ssid={FREE: ["1", "2"], STAFF: ["3", "4"]},
        expect_total=["1", "2", "3", "4"],
    ),
    "cisco_aireos": Recording(
        "cisco_aireos", "Cisco Controller", "1.3.6.1.4.1.9.1.1279",
        [Iface(1, "port1", "Unit: 0 Slot: 0 Port: 1 Gigabit - Level 0x6070010", 6, 1000, 400_000, 2_000_000),
         Iface(2, "port2", "Unit: 0 Slot: 0 Port: 2 Gigabit - Level 0x6070010", 6, 1000, 10_000, 10_000)],
        "1.3.6.1.4.1.14179.2.2.2.1", 15, 2,
        [Row(f"{MAC_AP}.0", Count(scale=5, offset=6)), Row(f"{MAC_AP}.1", Count(scale=10, offset=12))],
        extra=[("1.3.6.1.4.1.9.9.618.1.8.4.0", "66|1")],
        second=("1.3.6.1.4.1.14179.2.1.1.1", 38, 65,
                [Row("1", Count(scale=15, offset=18), {"2": FREE}), Row("2", Count(static=0), {"2": STAFF})]),
        expect_radio={"2.4GHz": [f"{MAC_AP}.0"], "5GHz": [f"{MAC_AP}.1"]},
        expect_ssid={FREE: ["s1"], STAFF: ["s2"]},
        expect_total=[f"{MAC_AP}.0", f"{MAC_AP}.1"],
    ),
    "cisco_autonomous": Recording(
        "cisco_autonomous", "Cisco IOS Software, C1140 Software (C1140-K9W7-M), Version 15.3(3)JF15",
        "1.3.6.1.4.1.9.1.1034",
        [Iface(1, "Dot11Radio0", "Dot11Radio0", 71, 144, 500_000, 100_000),
         Iface(2, "Dot11Radio1", "Dot11Radio1", 71, 300, 800_000, 150_000),
         Iface(3, "GigabitEthernet0", "GigabitEthernet0", 6, 1000, 300_000, 1_400_000)],
        "1.3.6.1.4.1.9.9.273.1.1.2.1", 1, 66,
        [Row("1", Count(scale=7, offset=9)), Row("2", Count(scale=14, offset=16))],
        expect_radio={"2.4GHz": ["1"], "5GHz": ["2"]},
        expect_total=["1", "2"],
    ),
    "aruba_instant": Recording(
        "aruba_instant", "ArubaOS (MODEL: 305), Version 8.6.0.4-8.6.0.4", "1.3.6.1.4.1.14823.1.2.84",
        [Iface(1, "eth0", "eth0", 6, 1000, 350_000, 1_600_000),
         Iface(2, "radio0", "radio0_5GHz", 71, 867, 900_000, 200_000),
         Iface(3, "radio1", "radio1_2.4GHz", 71, 300, 400_000, 90_000)],
        "1.3.6.1.4.1.14823.2.3.3.1.2.2.1", 21, 2,
        [Row(f"{MAC_AP}.0", Count(scale=11, offset=13)), Row(f"{MAC_AP}.1", Count(scale=5, offset=7))],
        # aiRadioTable radio health: channel (text), tx power, noise floor, 64 s utilisation
        extra=[(f"1.3.6.1.4.1.14823.2.3.3.1.2.2.1.{col}.{MAC_AP}.{r}", value) for col, r, value in (
            (4, 0, "4|36E"), (4, 1, "4|6"), (5, 0, "2|18"), (5, 1, "2|12"), (6, 0, "2|-95"), (6, 1, "2|-91"),
            (8, 0, "2|23"), (8, 1, "2|41"))],
        second=("1.3.6.1.4.1.14823.2.3.3.1.1.7.1", 4, 2,
                [Row("0", Count(scale=15, offset=18), {"2": FREE}), Row("1", Count(static=2), {"2": STAFF})]),
        expect_radio={"5GHz": [f"{MAC_AP}.0"], "2.4GHz": [f"{MAC_AP}.1"]},
        expect_ssid={FREE: ["s0"], STAFF: ["s1"]},
        expect_total=[f"{MAC_AP}.0", f"{MAC_AP}.1"],
    ),
    "ruckus_smartzone": Recording(
        "ruckus_smartzone", "SmartZone 100", "1.3.6.1.4.1.25053.3.1.11.1",
        [Iface(1, "port0", "port0", 6, 1000, 500_000, 2_500_000), Iface(2, "port1", "port1", 6, 1000, 0, 0, up=False)],
        "1.3.6.1.4.1.25053.1.4.2.1.1.1.2.1", 12, 66,
        [Row("1", Count(scale=20, offset=24), {"1": FREE}), Row("2", Count(static=3), {"1": STAFF})],
        extra=[("1.3.6.1.4.1.25053.1.4.1.1.1.15.2.0", "66|27")],
        expect_ssid={FREE: ["1"], STAFF: ["2"]},
        expect_total=["1", "2"],
    ),
    "ruckus_zonedirector": Recording(
        "ruckus_zonedirector", "Ruckus Wireless ZD1200", "1.3.6.1.4.1.25053.3.1.5.15",
        [Iface(1, "eth0", "eth0", 6, 1000, 450_000, 2_200_000)],
        "1.3.6.1.4.1.25053.1.2.2.1.1.1.1.1", 12, 66,
        [Row("1", Count(scale=18, offset=21), {"1": FREE}), Row("2", Count(static=4), {"1": STAFF})],
        extra=[("1.3.6.1.4.1.25053.1.2.1.1.1.15.2.0", "66|25")],
        expect_ssid={FREE: ["1"], STAFF: ["2"]},
        expect_total=["1", "2"],
    ),
    "mikrotik": Recording(
        "mikrotik", "RouterOS RB962UiGS-5HacT2HnT", "1.3.6.1.4.1.14988.1",
        [Iface(1, "ether1", "ether1", 6, 1000, 300_000, 1_500_000),
         Iface(2, "wlan1", "wlan1", 71, 300, 350_000, 80_000),
         Iface(3, "wlan2", "wlan2", 71, 867, 700_000, 160_000)],
        "1.3.6.1.4.1.14988.1.1.1.3.1", 6, 65,
        [Row("2", Count(scale=6, offset=7), {"4": FREE}), Row("3", Count(scale=12, offset=15), {"4": FREE})],
        expect_radio={"wlan1": ["2"], "wlan2": ["3"]},
        expect_ssid={FREE: ["2", "3"]},
        expect_total=["2", "3"],
    ),
    "generic": Recording(
        "generic", "Linux ap 4.14.0 #1 SMP armv7l", "1.3.6.1.4.1.8072.3.2.10",
        [Iface(1, "eth0", "eth0", 6, 100, 200_000, 900_000), Iface(2, "wlan0", "wlan0", 71, 144, 300_000, 60_000)],
        "", 0, 0, [], hc=False,
    ),
}


def _oid_key(line: str) -> tuple[int, ...]:
    return parse_oid(line.split("|", 1)[0])


def render(rec: Recording) -> str:
    """The .snmprec text for one recording, lines in OID order (snmpsim walks the file in order)."""
    lines = [
        f"1.3.6.1.2.1.1.1.0|4|{rec.sys_descr}",
        f"1.3.6.1.2.1.1.2.0|6|{rec.sys_object_id}",
        f"1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial={UPTIME_START_TICKS}",
        "1.3.6.1.2.1.1.4.0|4|Kashima City ICT Promotion Office",
        f"1.3.6.1.2.1.1.5.0|4|sim-{rec.profile.replace('_', '-')}",
        "1.3.6.1.2.1.1.6.0|4|Kashima, Ibaraki, JP",
        f"1.3.6.1.2.1.2.1.0|2|{len(rec.ifaces)}",
    ]
    for i in rec.ifaces:
        p = "1.3.6.1.2.1.2.2.1"
        speed = min(i.speed_mbps * 1_000_000, 4294967295)
        lines += [
            f"{p}.1.{i.index}|2|{i.index}",
            f"{p}.2.{i.index}|4|{i.descr}",
            f"{p}.3.{i.index}|2|{i.if_type}",
            f"{p}.5.{i.index}|66|{speed}",
            f"{p}.7.{i.index}|2|1",
            f"{p}.8.{i.index}|2|{1 if i.up else 2}",
            # 32-bit counters start near the top so that they wrap within minutes, as busy ones do
            f"{p}.10.{i.index}|65:numeric|rate={i.rx_rate},initial={4_290_000_000 - i.index * 1_000_000},wrap=1",
            f"{p}.16.{i.index}|65:numeric|rate={i.tx_rate},initial={4_280_000_000 - i.index * 1_000_000},wrap=1",
        ]
        if rec.hc:
            x = "1.3.6.1.2.1.31.1.1.1"
            lines += [
                f"{x}.1.{i.index}|4|{i.name}",
                f"{x}.6.{i.index}|70:numeric|rate={i.rx_rate},initial={10**12 + i.index * 10**9}",
                f"{x}.10.{i.index}|70:numeric|rate={i.tx_rate},initial={3 * 10**12 + i.index * 10**9}",
                f"{x}.15.{i.index}|66|{i.speed_mbps}",
            ]
    tables = []
    if rec.table:
        tables.append((rec.table, rec.count_column, rec.count_tag, rec.rows))
    if rec.second:
        tables.append(rec.second)
    for entry, col, tag, rows in tables:
        for r in rows:
            lines.append(f"{entry}.{col}.{r.index}|{r.count.snmprec(tag)}")
            for label_col, text in r.labels.items():
                lines.append(f"{entry}.{label_col}.{r.index}|4|{text}")
    for oid, value in rec.extra:
        lines.append(f"{oid}|{value}")
    lines.sort(key=_oid_key)
    return "\n".join(lines) + "\n"


@dataclass
class Expected:
    total: int | None
    by_radio: dict[str, int]
    by_ssid: dict[str, int]


def expected(profile: str, t: float) -> Expected:
    """What a correct poller reports for ``profile`` at Unix time ``t``."""
    rec = RECORDINGS[profile]
    first = {r.index: r.count.value_at(t) for r in rec.rows}
    second = {"s" + r.index: r.count.value_at(t) for r in (rec.second[3] if rec.second else [])}
    values = {**first, **second}
    total = None if rec.expect_total is None else sum(values[i] for i in rec.expect_total)
    return Expected(
        total,
        {k: sum(values[i] for i in v) for k, v in rec.expect_radio.items()},
        {k: sum(values[i] for i in v) for k, v in rec.expect_ssid.items()},
    )


def write_all() -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for name, rec in RECORDINGS.items():
        (DATA_DIR / f"{name}.snmprec").write_text(render(rec), encoding="utf-8")


def test_committed_recordings_match_their_description() -> None:
    for name, rec in RECORDINGS.items():
        path = DATA_DIR / f"{name}.snmprec"
        assert path.is_file(), f"{path} missing: run python -m tests.test_snmp_recordings --write"
        assert path.read_text(encoding="utf-8") == render(rec), f"{path} differs from RECORDINGS"


def test_every_recording_is_detected_as_its_profile() -> None:
    """Detection from the recording's sysObjectID and sysDescr, with the signature probe answered from the
    file (the real-walk profiles are covered by tests/test_snmp_real_walks.py)."""
    from collector.snmp.detect import candidates, decide, probe_oids
    from collector.snmp.profiles import load_profiles

    profiles = load_profiles()
    assert set(RECORDINGS) <= set(profiles)
    for name, rec in RECORDINGS.items():
        text = render(rec)
        oids = probe_oids(profiles, candidates(profiles, rec.sys_object_id, rec.sys_descr))
        present = {o: f"\n{o}." in "\n" + text for o in oids}
        assert decide(profiles, rec.sys_object_id, rec.sys_descr, present).profile == name, name


def test_daily_curve_is_busy_in_the_afternoon_and_quiet_at_night() -> None:
    day = 20_000 * 86400  # a UTC midnight
    afternoon_jst = day + 6 * 3600  # 15:00 JST
    night_jst = day + 18 * 3600  # 03:00 JST
    for name in RECORDINGS:
        if RECORDINGS[name].expect_total is None:
            continue
        busy, quiet = expected(name, afternoon_jst).total, expected(name, night_jst).total
        assert busy is not None and quiet is not None
        assert busy > 2 * max(quiet, 1), (name, busy, quiet)


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_all()
        print(f"wrote {len(RECORDINGS)} recordings to {DATA_DIR}")
