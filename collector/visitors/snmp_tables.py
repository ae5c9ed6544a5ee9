"""Associated-client tables over SNMP as visitor sessions (``client_tables/*.toml``; opt-in per AP with
``visitor_snmp = true``).

Each poll gives the set of MACs on an AP; :class:`ClientTableSessions` turns the difference from the
previous poll into session opens and closes. It keeps, per AP, only the *links* of the sessions it opened
(HMACs under the rotating link keys), never a MAC: a MAC is hashed in the same loop that decodes it. A
session's last-seen time is refreshed every :data:`TOUCH_EVERY_S`, not every poll, so a large table costs
one write per new or departed client, not one per client per minute.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from collector.visitors.apindex import ApIndex
from collector.visitors.metrics import EVENTS
from core.inventory import Inventory, normalize_mac
from core.visitors.keys import KeyRing
from core.visitors.model import VisitorSession
from core.visitors.store import VisitorStore

TABLES_DIR = Path(__file__).resolve().parent / "client_tables"
TOUCH_EVERY_S = 1800.0


class ClientTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str
    table: str
    mac_column: str = Field(pattern=r"^(index|\d+(\.\d+)+)$")
    ap_column: str | None = Field(None, pattern=r"^\d+(\.\d+)+$")
    origin: str
    source: str
    max_rows: int = Field(8000, ge=1, le=100_000)

    def oid(self, text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in text.split("."))


def load_tables(d: Path = TABLES_DIR) -> dict[str, ClientTable]:
    out = {}
    for path in sorted(d.glob("*.toml")):
        t = ClientTable.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        out[t.profile] = t
    return out


def mac_text(value: object) -> str | None:
    """A MAC from an SNMP value: 6 raw bytes (PhysAddress / MacAddress), or text in any spelling."""
    if isinstance(value, bytes):
        if len(value) == 6:
            return ":".join(f"{b:02x}" for b in value)
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):
        return normalize_mac(value)
    return None


def mac_from_index(index: tuple[int, ...]) -> str | None:
    return ":".join(f"{b:02x}" for b in index[-6:]) if len(index) >= 6 and all(0 <= b < 256 for b in index[-6:]) \
        else None


@dataclass
class ClientTableSessions:
    inv: Inventory
    store: VisitorStore
    keys: KeyRing
    index: ApIndex = field(init=False)
    _open: dict[str, dict[str, float]] = field(default_factory=dict)  # ap -> {link: last touched}

    def __post_init__(self) -> None:
        self.index = ApIndex(self.inv)
        self._opted = {ap.id for _s, ap in self.inv.aps() if ap.visitor_snmp}
        self._site = {ap.id: s.id for s, ap in self.inv.aps()}

    def reload(self, inv: Inventory) -> None:
        self.inv = inv
        self.__post_init__()  # the index and opt-ins; the open sessions (_open) are kept

    def rows_by_ap(self, polled_ap: str | None, rows: Iterable[tuple[str, str | None]]) -> dict[str, list[str]]:
        """(client MAC, AP MAC or None) rows -> MACs per opted-in AP. A row whose AP is not an opted-in AP
        of the inventory is skipped (counted), never attributed to another."""
        out: dict[str, list[str]] = {}
        for mac, ap_mac in rows:
            if ap_mac is None:
                ap = polled_ap
            else:
                hit = self.index.find(ap_mac)
                ap = hit[1] if hit is not None else None
            if ap is None or ap not in self._opted:
                EVENTS.labels("snmp", "unknown_ap").inc()
                continue
            out.setdefault(ap, []).append(mac)
        return out

    def update(self, ap_id: str, macs: Iterable[str], now: float) -> tuple[int, int]:
        """This poll's MACs on ``ap_id``: open sessions for new ones, close the departed. (opened, closed)."""
        before = self._open.get(ap_id, {})
        seen: dict[str, float] = {}
        kept: set[str] = set()  # links of ``before`` still present (under yesterday's or today's key)
        opened = 0
        site = self._site.get(ap_id, "")
        with self.store.batch():
            for mac in macs:
                links = self.keys.links("snmp", ap_id, mac, now=now)
                known = next((lk for lk in links if lk in before), None)
                if known is None:
                    device, device30, randomized = self.keys.device(mac, now)
                    self.store.begin(VisitorSession(ap_id, site, device, device30, now, None, "snmp",
                                                    randomized=randomized), links, now)
                    seen[links[0]] = now
                    opened += 1
                elif known != links[0] or now - before[known] >= TOUCH_EVERY_S:
                    self.store.touch(links, now)  # moves the link to today's key too
                    seen[links[0]] = now
                    kept.add(known)
                else:
                    seen[known] = before[known]
                    kept.add(known)
            gone = [lk for lk in before if lk not in kept]
            for lk in gone:
                self.store.end([lk], now)
        self._open[ap_id] = seen
        EVENTS.labels("snmp", "start").inc(opened)
        EVENTS.labels("snmp", "stop").inc(len(gone))
        return opened, len(gone)
