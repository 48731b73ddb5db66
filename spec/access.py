"""Field access kinds as named behaviours.

Every consumer of the spec (the RTL register files, the reference models, the
C headers and the docs) asks an :class:`Access` what it does instead of
comparing strings, so a new kind is added here once.

Precedence when several things happen to a field in one cycle (same as
amaranth-soc's CSR actions): a hardware *set* event wins over a software
*clear* (w1c / rc), so no event is ever lost; a software write of an ``rw``
field wins over hardware updates of the same field.
"""

from __future__ import annotations

import enum


class Access(enum.Enum):
    """How software sees a register or field."""

    RO = "ro"
    """Read-only: writes are ignored; hardware supplies the value."""
    RW = "rw"
    """Read-write storage."""
    WO = "wo"
    """Write-only: reads return 0; the write itself is the event (e.g. EOI)."""
    W1C = "w1c"
    """Read; writing 1 to a bit clears it, writing 0 leaves it."""
    RC = "rc"
    """Read-to-clear: a read returns the value and clears it."""
    WL = "wl"
    """Write-latched: hardware collects events in a hidden register; any write
    copies it to the visible value and clears the hidden one (LAPIC ESR)."""
    RSVD = "rsvd"
    """Reserved: reads 0, writes ignored."""

    @property
    def readable(self) -> bool:
        return self not in (Access.WO, Access.RSVD)

    @property
    def writable(self) -> bool:
        """Whether a software write changes stored state directly."""
        return self in (Access.RW, Access.WO)

    @property
    def write_has_effect(self) -> bool:
        """Whether a software write has any effect at all (storage or event)."""
        return self in (Access.RW, Access.WO, Access.W1C, Access.WL)

    @property
    def read_has_side_effect(self) -> bool:
        return self is Access.RC

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    def write(self, old: int, written: int, mask: int) -> int:
        """Value after a software write of ``written`` (bits under ``mask``).

        ``WL`` is modelled by the device (it needs the hidden register), so
        here it keeps ``old``; ``WO`` stores nothing readable.
        """
        if self is Access.RW:
            return (old & ~mask) | (written & mask)
        if self is Access.W1C:
            return old & ~(written & mask)
        return old

    def read(self, value: int) -> tuple[int, int]:
        """(value software sees, value kept afterwards)."""
        if not self.readable:
            return 0, value
        if self is Access.RC:
            return value, 0
        return value, value


_DESCRIPTIONS = {
    Access.RO: "read-only",
    Access.RW: "read-write",
    Access.WO: "write-only (reads 0)",
    Access.W1C: "write 1 to clear",
    Access.RC: "cleared by read",
    Access.WL: "write latches pending value",
    Access.RSVD: "reserved (reads 0)",
}
