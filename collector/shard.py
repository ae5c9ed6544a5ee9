"""Split the inventory across collector processes by a stable hash of the device id.

Every collector computes the same assignment from the same inventory with no coordination, so n
shards poll each AP exactly once; adding an AP moves no other AP.
"""

from __future__ import annotations

import hashlib


def shard_of(device_id: str, count: int) -> int:
    """Stable across processes and Python versions (unlike hash(), which is salted per process)."""
    digest = hashlib.blake2b(device_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def in_shard(device_id: str, index: int, count: int) -> bool:
    return count <= 1 or shard_of(device_id, count) == index
