"""Batched ICMP echo with scapy: one send for every target, replies matched by (id, seq).

Sending one batch instead of a ping per AP keeps a 10 s heartbeat cheap for thousands of APs.
When raw sockets are not permitted the caller falls back to SNMP reachability (see heartbeat.py).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PingResult:
    host: str
    sent: int
    received: int
    rtt_ms: float | None  # mean over answered probes

    @property
    def reachable(self) -> bool:
        return self.received > 0

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0


def raw_sockets_permitted() -> bool:
    """True when this process may open a raw ICMP socket (root or CAP_NET_RAW)."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except OSError:
        return False
    s.close()
    return True


def summarize(hosts: Sequence[str], probes: int, answers: Sequence[tuple[str, int, float]]) -> list[PingResult]:
    """Fold matched answers ``(host, seq, rtt_ms)`` into one result per host; duplicates count once."""
    seen: dict[str, dict[int, float]] = {h: {} for h in hosts}
    for host, seq, rtt in answers:
        if host in seen and seq not in seen[host]:
            seen[host][seq] = rtt
    out = []
    for h in hosts:
        rtts = list(seen[h].values())[:probes]
        out.append(PingResult(h, probes, len(rtts), sum(rtts) / len(rtts) if rtts else None))
    return out


def ping_batch(hosts: Sequence[str], timeout_s: float = 1.0, probes: int = 1) -> list[PingResult]:
    """Ping every host ``probes`` times in one scapy send; blocking, run it in a thread."""
    unique = list(dict.fromkeys(hosts))
    if not unique:
        return []
    from scapy.config import conf
    from scapy.layers.inet import ICMP, IP
    from scapy.sendrecv import sr

    conf.verb = 0
    ident = os.getpid() & 0xFFFF
    packets = []
    host_of_seq: dict[int, str] = {}
    seq = 0
    for h in unique:
        for _ in range(probes):
            seq = (seq + 1) & 0xFFFF
            host_of_seq[seq] = h
            packets.append(IP(dst=h) / ICMP(id=ident, seq=seq))
    answered, _ = sr(packets, timeout=timeout_s, verbose=0, multi=False, threaded=False)
    matches: list[tuple[str, int, float]] = []
    for sent, recv in answered:
        icmp = recv.getlayer(ICMP)
        if icmp is None or icmp.type != 0 or icmp.id != ident:
            continue
        host = host_of_seq.get(int(icmp.seq))
        if host is None or recv.src != host:
            continue
        rtt = (float(recv.time) - float(sent.sent_time or recv.time)) * 1000.0  # type: ignore[arg-type]
        matches.append((host, int(icmp.seq), max(0.0, rtt)))
    return summarize(unique, probes, matches)
