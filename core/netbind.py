"""Where the daemon's HTTP endpoint may listen, decided by parsing addresses, never by string prefixes.

A bind is *loopback* when every address it stands for is a loopback address (127.0.0.0/8, ``::1``, or
an IPv4-mapped ``::ffff:127.x``). A literal address is parsed with :mod:`ipaddress`; a host name is
resolved and counts as loopback only if it is ``localhost`` (or ``*.localhost``, which RFC 6761 reserves
for loopback) and every address it resolves to is loopback. Any other name is decided by DNS, which an
attacker may control (``127.0.0.1.nip.io`` resolves to 127.0.0.1 today and to anything tomorrow), so it
needs a token like any public bind. Config validation and the HTTP server(s) both use this module.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]


class BindError(ValueError):
    """A bind that is not an address and does not resolve; the message says what was given."""


def _resolve(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise BindError(f"'{host}' is neither an IP address nor a host name that resolves ({e})") from None
    return [str(info[4][0]) for info in infos]


def parse_ip(host: str) -> IPAddress | None:
    """The address ``host`` is literally (``[::1]`` and zone ids accepted), or None for a host name."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def is_loopback_ip(addr: IPAddress) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def _reserved_loopback_name(host: str) -> bool:
    name = host.strip().rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


@dataclass(frozen=True)
class Bind:
    """A parsed bind: the addresses it stands for and whether all of them are loopback."""

    host: str
    addresses: tuple[IPAddress, ...]
    loopback: bool

    @property
    def family(self) -> socket.AddressFamily:
        """The socket family to listen with: IPv6 when the (first) address is IPv6, else IPv4."""
        return socket.AF_INET6 if self.addresses and self.addresses[0].version == 6 else socket.AF_INET

    @property
    def listen_host(self) -> str:
        """The literal address to hand to ``bind()`` (so a name is resolved once, here)."""
        return str(self.addresses[0]) if self.addresses else self.host


def parse_bind(host: str, resolve: Resolver = _resolve) -> Bind:
    """Parse ``host`` (address or name); raises :class:`BindError` when it is neither."""
    if not host or not host.strip() or any(c.isspace() for c in host.strip()):
        raise BindError(f"'{host}' is not an IP address or host name")
    ip = parse_ip(host)
    if ip is not None:
        return Bind(host, (ip,), is_loopback_ip(ip))
    found: list[IPAddress] = []
    for a in resolve(host.strip()):
        parsed = parse_ip(a)
        if parsed is not None and parsed not in found:
            found.append(parsed)
    if not found:
        raise BindError(f"'{host}' resolves to no address")
    # Prefer a loopback address to listen on when a name stands for several.
    found.sort(key=lambda a: not is_loopback_ip(a))
    loopback = _reserved_loopback_name(host) and all(is_loopback_ip(a) for a in found)
    return Bind(host, tuple(found), loopback)


def check_bind(host: str, has_token: bool, resolve: Resolver = _resolve) -> str | None:
    """None when ``host`` may be served as configured, else the reason (for check-config)."""
    if not has_token and parse_ip(host) is None and not _reserved_loopback_name(host):
        return (f"'{host}' is a host name, and DNS decides what it points to: only 'localhost' or a loopback "
                "address (127.0.0.1, ::1) counts as loopback, so binding to it requires 'token'")
    try:
        b = parse_bind(host, resolve)
    except BindError as e:
        return str(e)
    if b.loopback or has_token:
        return None
    return f"binding the HTTP endpoint off loopback ({host}) requires 'token'"
