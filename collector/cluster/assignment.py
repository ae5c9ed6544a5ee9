"""Which member polls which device: rendezvous (highest-random-weight) hashing over the live members.

A pure function of (device keys, live member names), so every member computes the same answer from the same
membership with no further coordination. When a member leaves only its devices move (each to its next-highest
member); a joining member takes about 1/n of them, each from whoever had it. A controller and the APs it speaks
for hash on the controller's id, so they always stay together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from core.inventory import Inventory


def weight(member: str, key: str) -> int:
    """Stable across processes and Python versions (hash() is salted per process)."""
    digest = hashlib.blake2b(f"{member}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(key: str, members: Sequence[str]) -> str | None:
    """The member with the highest weight for ``key`` (ties, practically impossible, by name); None: no members."""
    if not members:
        return None
    return max(members, key=lambda m: (weight(m, key), m))


def assign(keys: Iterable[str], members: Sequence[str]) -> dict[str, str]:
    """Key -> member for every key (empty when there are no members)."""
    ms = sorted(set(members))
    if not ms:
        return {}
    return {k: owner(k, ms) for k in keys}  # type: ignore[misc]


def device_keys(inv: Inventory) -> dict[str, str]:
    """Device id -> the key it is assigned by: a controller's APs by the controller's id, all else by its own."""
    keys: dict[str, str] = {}
    for site in inv.sites:
        if site.uplink is not None:
            keys[site.uplink.id] = site.uplink.id
        for ap in site.aps:
            keys[ap.id] = ap.controller or ap.id
    for ctl in inv.controllers:
        keys[ctl.id] = ctl.id
    return keys


def devices_by_member(inv: Inventory, members: Sequence[str]) -> dict[str, list[str]]:
    """Member -> the device ids it polls (every live member present, possibly with none)."""
    keys = device_keys(inv)
    by_key = assign(set(keys.values()), members)
    out: dict[str, list[str]] = {m: [] for m in sorted(set(members))}
    for dev, key in keys.items():
        if key in by_key:
            out[by_key[key]].append(dev)
    return out


def moved(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Device -> (old member, new member) for the devices whose owner changed."""
    return {k: (before[k], v) for k, v in after.items() if k in before and before[k] != v}
