"""What every SNMP wire path shares: decoded values (pysnmp, collector/snmp/v2c.py, gufo_wire.py), targets,
credentials and errors. Below client.py and gufo_wire.py, so neither imports the other's types."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from core.secrets import REDACTOR, Secret


class Missing:
    """An exception value in a response (noSuchObject, noSuchInstance, endOfMibView)."""

    __slots__ = ("kind",)

    def __init__(self, kind: str):
        self.kind = kind

    def __repr__(self) -> str:
        return f"<{self.kind}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Missing) and other.kind == self.kind

    def __hash__(self) -> int:
        return hash(self.kind)


NO_SUCH_OBJECT = Missing("noSuchObject")
NO_SUCH_INSTANCE = Missing("noSuchInstance")
END_OF_MIB = Missing("endOfMibView")


@dataclass(frozen=True, slots=True)
class Var:
    """One decoded value: its SNMP type name and a plain Python value."""

    type: str
    value: int | str | bytes | Missing | None

    @property
    def missing(self) -> bool:
        return isinstance(self.value, Missing)


Oid = tuple[int, ...]

ErrorKind = Literal[
    "timeout", "auth", "bad_data", "no_such_object", "unreachable", "config", "protocol", "internal"
]

AUTH_FAILED = "SNMPv3 authentication failed (check user, auth/priv protocols and keys)"


class SnmpError(Exception):
    """A failed SNMP exchange; ``kind`` classifies it, the message is safe to log."""

    def __init__(self, kind: ErrorKind, message: str):
        self.kind: ErrorKind = kind
        super().__init__(REDACTOR(message))


@dataclass(frozen=True, slots=True)
class V2c:
    community: Secret


@dataclass(frozen=True, slots=True)
class V3:
    user: str
    auth_protocol: str = "sha256"
    auth_key: Secret | None = None
    priv_protocol: str = "aes128"
    priv_key: Secret | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how to reach one agent. Credentials stay wrapped until the auth data is built."""

    host: str
    port: int = 161
    credentials: V2c | V3 | None = None
    timeout_s: float = 2.0
    retries: int = 1
    context: str = ""
    max_repetitions: int = 150
    # Varbinds asked for per GETBULK (~4 KB of response): a steady-state poll of a controller with ~100
    # ports fits in 2 PDUs. Agents with a lower limit (net-snmp: maxGetbulkResponses 100) truncate, and
    # the walk continues from where they stopped.
    max_varbinds: int = 150

    @property
    def attempt_budget_s(self) -> float:
        """How long one request may take, all retries included."""
        return self.timeout_s * (self.retries + 1)

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def digest(*parts: str) -> str:
    """A short fingerprint of secrets, to key caches without holding the secret as the key."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


@dataclass
class PduCounter:
    """Counts the PDUs one poll sends (reported in PollResult.pdus)."""

    pdus: int = 0
