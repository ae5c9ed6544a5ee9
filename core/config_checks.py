"""Checks across the whole inventory file, run on the raw TOML data so they report even when other fields
are invalid: ``check-config`` lists every problem in one run instead of one layer per fix.

Each check reads the data defensively (a field may have the wrong type: the schema reports that) and
returns (path, English message, Japanese message) triples; core.config turns them into Problems.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

Path_ = tuple[str | int, ...]
Finding = tuple[Path_, str, str]

_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def host_problem(host: str) -> tuple[str, str] | None:
    """Why ``host`` is not an IPv4 address, an IPv6 address or a DNS host name (None if it is one).

    Four dot-separated numbers are read as IPv4, so 127.0.1.999 is an error rather than a host name."""
    if not host or len(host) > 253:
        return ("must be an IPv4 or IPv6 address or a host name", "IPv4/IPv6 アドレスまたはホスト名を指定してください")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.strip("[]"))
            return None
        except ValueError:
            return (f"'{host}' is not a valid IPv6 address", f"'{host}' は正しい IPv6 アドレスではありません")
    labels = host.rstrip(".").split(".")
    if all(part.isdigit() for part in labels):
        try:
            ipaddress.IPv4Address(host)
            return None
        except ValueError:
            return (f"'{host}' is not a valid IPv4 address (four numbers 0-255)",
                    f"'{host}' は正しい IPv4 アドレスではありません (0〜255 の数 4 つ)")
    if not all(_LABEL.fullmatch(part) for part in labels):
        return (f"'{host}' is not a valid host name (letters, digits and '-', dot-separated)",
                f"'{host}' は正しいホスト名ではありません (英数字と '-' を '.' で区切ったもの)")
    return None


def _tables(data: Any, key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    items = data.get(key) if isinstance(data, dict) else None
    if isinstance(items, list):
        for i, item in enumerate(items):
            if isinstance(item, dict):
                yield i, item


def _devices(data: dict[str, Any]) -> Iterator[tuple[Path_, dict[str, Any], str]]:
    """(path, table, role) of every uplink, AP and controller."""
    for i, site in _tables(data, "sites"):
        if isinstance(site.get("uplink"), dict):
            yield ("sites", i, "uplink"), site["uplink"], "uplink"
        for j, ap in _tables(site, "aps"):
            yield ("sites", i, "aps", j), ap, "ap"
    for i, ctl in _tables(data, "controllers"):  # controllers share the device id and address space
        yield ("controllers", i), ctl, "controller"


def check(data: Any, known_vendors: set[str] | None) -> list[Finding]:
    """Duplicate ids, duplicate host:port, unknown vendors, and polls that cannot finish within their interval."""
    if not isinstance(data, dict):
        return []
    out: list[Finding] = []
    seen: dict[str, str] = {}

    def claim(ident: Any, where: Path_) -> None:
        if not isinstance(ident, str):
            return
        label = _fmt(where)
        if ident in seen:
            out.append((where + ("id",), f"duplicate id '{ident}' (already used by {seen[ident]})",
                        f"ID '{ident}' が重複しています ({seen[ident]} で使用済み)"))
        else:
            seen[ident] = label

    for i, site in _tables(data, "sites"):
        claim(site.get("id"), ("sites", i))
    addresses: dict[tuple[str, int], str] = {}
    for where, dev, _ in _devices(data):
        claim(dev.get("id"), where)
        host, port = dev.get("host"), dev.get("port", 161)
        if isinstance(host, str) and isinstance(port, int) and host_problem(host) is None:
            key = (host.lower().strip("[]"), port)
            if key in addresses:
                out.append((where + ("host",), f"{host}:{port} is already polled as {addresses[key]} "
                            "(its clients and traffic would be counted twice)",
                            f"{host}:{port} は {addresses[key]} と同じ機器です (接続数と通信量が二重に数えられます)"))
            else:
                addresses[key] = _fmt(where)
        vendor = dev.get("vendor")
        if (known_vendors is not None and isinstance(vendor, str) and vendor != "auto"
                and vendor not in known_vendors):
            known = "auto, " + ", ".join(sorted(known_vendors))
            out.append((where + ("vendor",), f"unknown vendor profile '{vendor}' (known: {known})",
                        f"ベンダープロファイル '{vendor}' はありません (使えるもの: {known})"))
    for i, cand in _tables(data, "candidates"):
        claim(cand.get("id"), ("candidates", i))
    out += _snmp(data)
    out += _references(data, set(seen))
    out += _timing(data)
    return out


def _snmp(data: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    for i, site in _tables(data, "sites"):
        for j, ap in _tables(site, "aps"):
            if not any(isinstance(t.get("snmp"), dict) for t in (data, site, ap)):
                out.append((("sites", i, "aps", j, "snmp"),
                            "no SNMP settings: set [snmp] globally, on the site, or on the AP",
                            "SNMP の設定がありません: [snmp] を全体・拠点・AP のいずれかに書いてください"))
    return out


def _references(data: dict[str, Any], ids: set[str]) -> list[Finding]:
    """Maintenance windows name existing targets, once each; alert channels have distinct names."""
    out: list[Finding] = []
    names: set[Any] = set()
    for i, m in _tables(data, "maintenance"):
        if m.get("id") in names:
            out.append((("maintenance", i, "id"), "duplicate maintenance id", "保守時間帯の ID が重複しています"))
        names.add(m.get("id"))
        target = m.get("target", "*")
        if isinstance(target, str) and target != "*" and target not in ids:
            out.append((("maintenance", i, "target"), f"no site or AP with id '{target}'",
                        f"ID '{target}' の拠点や AP はありません"))
    alerts = _table(data, "alerts")
    seen: set[Any] = set()
    for i, ch in _tables(alerts, "channels"):
        if ch.get("name") in seen:
            out.append((("alerts", "channels", i, "name"), "duplicate channel name", "通知先の名前が重複しています"))
        seen.add(ch.get("name"))
    return out


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _timing(data: dict[str, Any]) -> list[Finding]:
    """A heartbeat or poll whose timeouts and retries outlast its interval is skipped every other time."""
    out: list[Finding] = []
    defaults = _table(data, "defaults")
    base = {"interval_s": 60.0, "heartbeat_s": 10.0, "timeout_s": 2.0, "retries": 1.0}
    base.update({k: v for k in base if (v := _num(defaults.get(k))) is not None})
    layers: list[tuple[Path_, dict[str, float]]] = [(("defaults",), base)]
    for i, site in _tables(data, "sites"):
        site_poll = _table(site, "poll")
        merged = {**base, **{k: v for k in base if (v := _num(site_poll.get(k))) is not None}}
        if site_poll:
            layers.append((("sites", i, "poll"), merged))
        for where, dev, _ in _devices({"sites": [site]}):
            poll = _table(dev, "poll")
            if poll:
                own = {**merged, **{k: v for k in base if (v := _num(poll.get(k))) is not None}}
                layers.append((("sites", i, *where[2:], "poll"), own))
    for where, p in layers:
        worst = p["timeout_s"] * (p["retries"] + 1)
        for key in ("heartbeat_s", "interval_s"):
            if p[key] > 0 and worst > p[key]:
                out.append((where + (key,), f"{key} {p[key]:g} s is shorter than timeout_s x (retries + 1) = "
                            f"{worst:g} s: a slow device would make cycles overlap and be skipped",
                            f"{key} {p[key]:g} 秒が timeout_s x (retries + 1) = {worst:g} 秒より短いです: "
                            "応答の遅い機器があると周期が重なり、取りこぼします"))
    return out


def _fmt(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out
