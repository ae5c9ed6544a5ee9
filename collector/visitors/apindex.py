"""Which AP a sender means: its names (visitor_ids) from the inventory, and nothing else.

A name that is not in ``[[sites.aps]] visitor_ids`` is unknown: counted and logged (once per name, a
bounded set, so a hostile sender cannot fill the log), never matched by a near-miss or an address.
"""

from __future__ import annotations

import logging

from core.inventory import Inventory, normalize_mac
from core.logs import kv

log = logging.getLogger("wifiwatch.visitors")

MAX_LOGGED_UNKNOWN = 256


class ApIndex:
    def __init__(self, inv: Inventory):
        self.by_id: dict[str, tuple[str, str]] = {}
        for site, ap in inv.aps():
            for vid in ap.visitor_ids:
                self.by_id[vid.lower()] = (site.id, ap.id)
        self._logged: set[tuple[str, str]] = set()

    def __len__(self) -> int:
        return len(self.by_id)

    def find(self, name: str) -> tuple[str, str] | None:
        """(site id, AP id) for a MAC in any spelling, or a NAS-Identifier / host name (case ignored)."""
        n = name.strip()
        if not n:
            return None
        mac = normalize_mac(n)
        hit = self.by_id.get(mac) if mac is not None else None
        return hit or self.by_id.get(n.lower())

    def unknown(self, source: str, names: list[str], sender: str) -> None:
        """Log an unknown sender once per (source, names): the AP's names, never a device's."""
        key = (source, "|".join(names)[:200])
        if key in self._logged or len(self._logged) >= MAX_LOGGED_UNKNOWN:
            return
        self._logged.add(key)
        log.warning("visitor message from an AP not in visitor_ids: add its name to [[sites.aps]] visitor_ids",
                    extra=kv(source=source, names=names[:4], sender=sender))
