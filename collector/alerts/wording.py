"""What an alert says in the reader's language: causes (stored in English, as the state machine states them)
and the links a message carries (built on the configured base URL, never a path on the server)."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urljoin

from core.inventory import AlertSettings

_JA: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^no heartbeat reply$"), lambda m: "ハートビート (ping/SNMP) に応答がありません"),
    (re.compile(r"^(\d+) changes in (\d+) min$"), lambda m: f"{m[2]} 分間に {m[1]} 回の停止・復旧"),
    (re.compile(r"^clients (\d+) > capacity (\d+)$"), lambda m: f"接続数 {m[1]} が収容上限 {m[2]} を超えています"),
    (re.compile(r"^saturated$"), lambda m: "接続数が収容上限を超えています"),
    (re.compile(r"^high loss or RTT$"), lambda m: "パケット損失または応答時間が閾値を超えています"),
    (re.compile(r"^every target failed at once$"), lambda m: "すべての監視対象が同時に応答しなくなりました"),
]


def cause_text(cause: str, lang: str) -> str:
    """``cause`` in ``lang``; an unknown cause is shown as stored rather than dropped."""
    if lang != "ja" or not cause:
        return cause
    for pattern, ja in _JA:
        m = pattern.match(cause)
        if m:
            return ja(m)
    return cause


def links(alerts: AlertSettings) -> dict[str, str]:
    """``map_url`` (explicit, or the console's map under ``base_url``) and ``console_url``; "-" when unset."""
    base = alerts.base_url
    if base and not base.endswith("/"):
        base += "/"
    return {"map_url": alerts.map_url or (urljoin(base, "map") if base else "-"), "console_url": base or "-"}
