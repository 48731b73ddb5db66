"""Simulator-neutral pieces of the platform benches: register addresses and
encodings from the spec (:class:`PlatformRegs`).

Used by the cocotb benches (:mod:`irqforge.sim.benches.platform_bench`,
:mod:`irqforge.sim.benches.storm_bench`, whose :class:`StormModel` does the
storm's accounting), by :mod:`irqforge.sim.latency` and by the
Amaranth-simulator tests. Nothing here touches a simulator.
"""

from __future__ import annotations

from irqforge.spec import Spec

__all__ = ["PlatformRegs"]


class PlatformRegs:
    """Addresses (as a CPU sees them) and register values for ``spec``'s platform."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        p = spec.platform
        self.lapic_base = p.base("lapic")
        self.ioapic_base = p.base("ioapic")
        self.hpet_base = p.base("hpet")
        self.ncpus = p.ncpus
        self.apic_ids = [c.apic_id for c in p.cpus]
        self.pins = spec.ioapic.param("pins")
        self.spurious_reset = spec.lapic.register("SVR").field("VECTOR").reset
        window = spec.ioapic.windows[0]
        self._window = window
        self.ioregsel = self.ioapic_base + spec.ioapic.offset(window.select)
        self.iowin = self.ioapic_base + spec.ioapic.offset(window.data)
        self._rte = window.register("REDTBL")
        self._icr = spec.lapic.register("ICR_LO")

    def lapic(self, name: str, index: int = 0) -> int:
        """Address of a LAPIC register (every CPU sees its own LAPIC there)."""
        return self.lapic_base + self.spec.lapic.offset(name, index)

    def hpet(self, name: str, index: int = 0) -> int:
        return self.hpet_base + self.spec.hpet.offset(name, index)

    def rte_index(self, pin: int) -> int:
        """IOREGSEL index of the low dword of pin ``pin``'s redirection entry."""
        return self._rte.offset + pin * self._rte.stride

    def rte(self, vector: int, *, dest: int = 0, delivery_mode: int = 0, dest_mode: int = 0,
            trigger: int = 0, polarity: int = 0, mask: int = 0) -> int:
        """A 64-bit redirection entry."""
        r = self._rte
        value = 0
        for name, v in (("VECTOR", vector), ("DELIVERY_MODE", delivery_mode), ("DEST_MODE", dest_mode),
                        ("TRIGGER", trigger), ("POLARITY", polarity), ("MASK", mask), ("DEST", dest)):
            value = r.field(name).put(value, v)
        return value

    def icr_lo(self, vector: int, *, delivery_mode: int = 0, dest_mode: int = 0, shorthand: int = 0,
               trigger: int = 0, level: int = 1) -> int:
        r = self._icr
        value = 0
        for name, v in (("VECTOR", vector), ("DELIVERY_MODE", delivery_mode), ("DEST_MODE", dest_mode),
                        ("LEVEL", level), ("TRIGGER", trigger), ("SHORTHAND", shorthand)):
            value = r.field(name).put(value, v)
        return value

    def icr_hi(self, dest: int) -> int:
        return self.spec.lapic.register("ICR_HI").field("DEST").put(0, dest)

    def svr_enabled(self, spurious: int | None = None) -> int:
        r = self.spec.lapic.register("SVR")
        value = r.field("VECTOR").put(0, self.spurious_reset if spurious is None else spurious)
        return r.field("ENABLE").put(value, 1)

    def ldr(self, logical_id: int) -> int:
        return self.spec.lapic.register("LDR").field("LOGICAL_ID").put(0, logical_id)

    def dfr(self, model: int) -> int:
        return self.spec.lapic.register("DFR").field("MODEL").put(0x0FFFFFFF, model)

    def unmapped(self) -> list[int]:
        """A few addresses outside every window (for DECERR checks)."""
        out = [0x0, 0x1000_0000, 0xFFFF_FFFC]
        for base, size in self.spec.platform.address_map.values():
            out.append(base + size)  # just past each window
            out.append((base - 4) & 0xFFFF_FFFC)
        windows = list(self.spec.platform.address_map.values())
        return sorted({a for a in out if not any(b <= a < b + s for b, s in windows)})
