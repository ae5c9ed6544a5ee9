"""Which vendor profile fits an AP: sysObjectID prefixes, sysDescr, and a signature probe where they are not enough.

A sysObjectID alone cannot decide: net-snmp's ``1.3.6.1.4.1.8072.3.2.10`` is sent by many Linux-based APs
(UniFi nanoHD, OpenWrt), ``1.3.6.1.4.1.10002.1`` by older UniFi and by airMAX, ``1.3.6.1.4.1.41112`` by
UniFi and airFiber, ``1.3.6.1.4.1.890.1.15`` by Zyxel APs and controllers. So every candidate profile (a
prefix or its sysDescr pattern matches) is checked by its *signature*: objects only that family has,
asked for in one GETNEXT-shaped GETBULK. :func:`decide` is pure (the probe's answers are an argument), so
``wifiwatch detect AP_ID`` and the poller explain a choice with the same code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from collector.snmp.client import Oid, PduCounter, SnmpClient, Target, parse_oid
from collector.snmp.profiles import GENERIC, Profile, Profiles


@dataclass(frozen=True, slots=True)
class Candidate:
    """One profile considered for an AP, with the evidence for and against it."""

    profile: str
    prefix: str | None  # the longest sysObjectID prefix of the profile that matched
    prefix_arcs: int
    sys_descr_match: bool
    found: tuple[str, ...] = ()  # signature objects that answered
    missing: tuple[str, ...] = ()  # signature objects that did not
    unwanted: tuple[str, ...] = ()  # signature_absent objects that did answer
    verdict: str = ""

    @property
    def confirmed(self) -> bool:
        return not self.missing and not self.unwanted


@dataclass(frozen=True, slots=True)
class Detection:
    """The outcome: the profile chosen, the evidence it rests on, and every candidate's verdict."""

    profile: str
    sys_object_id: str | None
    sys_descr: str | None
    reason: str
    candidates: tuple[Candidate, ...] = ()
    probed: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def evidence(self) -> str:
        """One line for the log."""
        cands = "; ".join(f"{c.profile}: {c.verdict}" for c in self.candidates) or "none"
        return f"sysObjectID={self.sys_object_id or '-'} -> {self.profile} ({self.reason}); candidates: {cands}"


def _prefix(profile: Profile, sys_object_id: str | None) -> tuple[str | None, int]:
    if not sys_object_id:
        return None, 0
    oid = sys_object_id.strip().lstrip(".")
    best: tuple[str | None, int] = (None, 0)
    for p in profile.sys_object_id:
        if (oid == p or oid.startswith(p + ".")) and p.count(".") + 1 > best[1]:
            best = (p, p.count(".") + 1)
    return best


def candidates(profiles: Profiles, sys_object_id: str | None, sys_descr: str | None) -> list[Candidate]:
    """Profiles whose sysObjectID prefix or sysDescr pattern matches (``generic`` is never one)."""
    out = []
    for name, prof in sorted(profiles.items()):
        if name == GENERIC:
            continue
        prefix, arcs = _prefix(prof, sys_object_id)
        descr = bool(prof.sys_descr and sys_descr is not None and re.search(prof.sys_descr, sys_descr))
        if arcs or descr:
            out.append(Candidate(name, prefix, arcs, descr))
    return out


def probe_oids(profiles: Profiles, cands: Sequence[Candidate]) -> list[str]:
    """Every signature object of the candidates, once each, in a stable order."""
    oids: dict[str, None] = {}
    for c in cands:
        prof = profiles[c.profile]
        for o in (*prof.signature, *prof.signature_absent):
            oids[o] = None
    return list(oids)


def decide(profiles: Profiles, sys_object_id: str | None, sys_descr: str | None,
           present: Mapping[str, bool] | None = None) -> Detection:
    """Choose a profile from the evidence; ``present`` (signature OID -> answered?) is None if not probed.

    A candidate whose signature was probed and not found, or whose ``signature_absent`` object answered,
    is ruled out. The rest rank by: signature confirmed, longest sysObjectID prefix, sysDescr match, more
    signature objects (the more specific family), name. No candidate left: ``generic``.
    """
    cands = candidates(profiles, sys_object_id, sys_descr)
    judged: list[Candidate] = []
    for c in cands:
        prof = profiles[c.profile]
        if present is None:
            judged.append(c)
            continue
        found = tuple(o for o in prof.signature if present.get(o))
        missing = tuple(o for o in prof.signature if not present.get(o))
        unwanted = tuple(o for o in prof.signature_absent if present.get(o))
        judged.append(Candidate(c.profile, c.prefix, c.prefix_arcs, c.sys_descr_match, found, missing, unwanted))

    def rank(c: Candidate) -> tuple[int, int, int, int]:
        sig = len(profiles[c.profile].signature)
        return (1 if (present is not None and sig and c.confirmed) else 0, c.prefix_arcs, int(c.sys_descr_match),
                sig)

    alive = [c for c in judged if present is None or c.confirmed]
    alive.sort(key=lambda c: (tuple(-x for x in rank(c)), c.profile))
    winner = alive[0] if alive else None
    out: list[Candidate] = []
    for c in judged:
        why = []
        if c.prefix:
            why.append(f"sysObjectID prefix {c.prefix} ({c.prefix_arcs} arcs)")
        if c.sys_descr_match:
            why.append("sysDescr matches")
        if c.found:
            why.append("signature found: " + ", ".join(c.found))
        if present is not None and c.missing:
            verdict = "ruled out: signature not found: " + ", ".join(c.missing)
        elif present is not None and c.unwanted:
            verdict = "ruled out: has " + ", ".join(c.unwanted) + " (a sibling family's object)"
        elif c is winner:
            verdict = "chosen: " + "; ".join(why)
        else:
            verdict = f"lost to {winner.profile if winner else GENERIC}: " + "; ".join(why)
        out.append(Candidate(c.profile, c.prefix, c.prefix_arcs, c.sys_descr_match, c.found, c.missing,
                             c.unwanted, verdict))
    if winner is None:
        reason = ("no profile claims this sysObjectID or sysDescr" if not judged
                  else "every candidate's signature was missing")
        return Detection(GENERIC, sys_object_id, sys_descr, reason, tuple(out), present is not None)
    reason = next(c.verdict for c in out if c.profile == winner.profile).removeprefix("chosen: ")
    return Detection(winner.profile, sys_object_id, sys_descr, reason, tuple(out), present is not None)


def guess(profiles: Profiles, sys_object_id: str | None, sys_descr: str | None = None) -> Profile:
    """The best candidate by sysObjectID prefix and sysDescr alone, without a signature probe.

    The poller probes signatures on the wire (:func:`detect`); this offline guess is what the prefixes say.
    """
    return profiles.get(decide(profiles, sys_object_id, sys_descr).profile) or profiles[GENERIC]


def resolve(profiles: Profiles, vendor: str, sys_object_id: str | None) -> Profile:
    """The profile a configured vendor names; ``auto`` or an unknown name: :func:`guess`."""
    if vendor == "auto" or vendor not in profiles:
        return guess(profiles, sys_object_id)
    return profiles[vendor]


async def probe(client: SnmpClient, target: Target, oids: Sequence[str],
                counters: PduCounter | None = None) -> dict[str, bool]:
    """One GETBULK (max-repetitions 1: a GETNEXT of each object): present = the answer lies under it."""
    if not oids:
        return {}
    parsed: dict[Oid, str] = {parse_oid(o): o for o in oids}
    walked = await client.walk_columns(target, list(parsed), counters, max_rows=1, repetitions=1)
    return {text: bool(walked.get(oid)) for oid, text in parsed.items()}


async def detect(client: SnmpClient, target: Target, profiles: Profiles, sys_object_id: str | None,
                 sys_descr: str | None, counters: PduCounter | None = None) -> Detection:
    """:func:`decide` after probing the candidates' signatures (no probe when no candidate has one)."""
    cands = candidates(profiles, sys_object_id, sys_descr)
    oids = probe_oids(profiles, cands)
    present = await probe(client, target, oids, counters) if oids else None
    return decide(profiles, sys_object_id, sys_descr, present)
