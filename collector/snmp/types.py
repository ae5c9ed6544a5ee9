"""The decoded-value types both SNMP wire paths produce (pysnmp for v3, collector/snmp/v2c.py for v2c)."""

from __future__ import annotations

from dataclasses import dataclass


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
