"""Simulator-neutral pieces of the platform benches: register addresses and
encodings from the spec (:class:`PlatformRegs`) and the interrupt-storm
scoreboard (:class:`StormScoreboard`).

Used by the cocotb benches (:mod:`irqforge.sim.benches.platform_bench`,
:mod:`irqforge.sim.benches.storm_bench`) and by the Amaranth-simulator tests.
Nothing here touches a simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from irqforge.spec import Spec

__all__ = ["PinConfig", "PlatformRegs", "StormScoreboard"]


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


@dataclass
class PinConfig:
    """How the storm programs one IO-APIC pin."""

    pin: int
    vector: int
    cpu: int
    level: bool


@dataclass
class StormScoreboard:
    """Accounts for every pin event of the interrupt storm.

    The bench reports what it did and saw; the scoreboard keeps, per pin, the
    architectural expectation (reference §2.4, §1.4) and fails on the first
    event that the architecture does not allow:

    - **Edge pins.** Every rising edge of an unmasked edge pin sends one
      message. The LAPIC merges a message whose vector is already pending in
      IRR (not yet acknowledged), so the count of acknowledgements of the
      pin's vector may be lower than the edges: an edge is *coalesced* when,
      at the time the message lands, the vector's IRR bit is already set. The
      bench cannot see IRR, so the scoreboard bounds it: between two
      acknowledgements at most one edge can be taken; edges seen while the
      vector is pending (edge seen, not yet acknowledged) are counted as
      coalesced. In the end ``delivered + coalesced == edges`` and every
      delivery follows an edge.
    - **Level pins.** A message is sent on assertion when Remote IRR is clear,
      and again at EOI while the line is still asserted. So each
      acknowledgement must be preceded by an assertion that is still owed
      one, or by an EOI with the line high; and the pin may never have two
      deliveries outstanding (acknowledged but not EOI-ed) at once.
    """

    pins: dict[int, PinConfig]
    edges: dict[int, int] = field(default_factory=dict)
    edge_pending: dict[int, bool] = field(default_factory=dict)
    delivered: dict[int, int] = field(default_factory=dict)
    coalesced: dict[int, int] = field(default_factory=dict)
    level_owed: dict[int, bool] = field(default_factory=dict)
    in_service: dict[int, bool] = field(default_factory=dict)
    line: dict[int, int] = field(default_factory=dict)
    spurious: int = 0

    def __post_init__(self) -> None:
        for pin in self.pins:
            self.edges[pin] = self.delivered[pin] = self.coalesced[pin] = 0
            self.edge_pending[pin] = self.level_owed[pin] = self.in_service[pin] = False
            self.line[pin] = 0
        self._by_vector = {(c.cpu, c.vector): c.pin for c in self.pins.values()}

    def set_line(self, pin: int, level: int) -> None:
        """The bench drove ``irq[pin]`` to ``level`` (at a clock edge)."""
        if pin not in self.pins:
            return
        old = self.line[pin]
        self.line[pin] = level
        if level and not old:
            if self.pins[pin].level:
                # A new assertion: owed a delivery unless one is in service
                # (Remote IRR set) — then the EOI will re-deliver it.
                if not self.in_service[pin]:
                    self.level_owed[pin] = True
            else:
                self.edges[pin] += 1
                if self.edge_pending[pin]:
                    self.coalesced[pin] += 1
                self.edge_pending[pin] = True
        elif not level and old and self.pins[pin].level:
            # Dropped before delivery: the request disappears.
            self.level_owed[pin] = False

    def acknowledged(self, cpu: int, vector: int) -> int:
        """CPU ``cpu`` acknowledged ``vector`` (INTA); returns the pin."""
        pin = self._by_vector.get((cpu, vector))
        if pin is None:
            raise AssertionError(f"CPU {cpu} acknowledged vector {vector:#x}, which no pin sends to it")
        if self.pins[pin].level:
            if self.in_service[pin]:
                raise AssertionError(f"level pin {pin}: second delivery before the EOI of the first")
            if not (self.level_owed[pin] or self.line[pin]):
                raise AssertionError(f"level pin {pin}: delivered with no assertion owed (line low)")
            self.level_owed[pin] = False
            self.in_service[pin] = True
        else:
            if not self.edge_pending[pin]:
                raise AssertionError(f"edge pin {pin}: delivered without an edge")
            self.edge_pending[pin] = False
        self.delivered[pin] += 1
        return pin

    def eoi(self, pin: int) -> None:
        """The CPU that took ``pin``'s interrupt wrote EOI for it."""
        if self.pins[pin].level:
            if not self.in_service[pin]:
                raise AssertionError(f"level pin {pin}: EOI with nothing in service")
            self.in_service[pin] = False
            if self.line[pin]:
                self.level_owed[pin] = True  # re-delivered at EOI

    def check_final(self) -> None:
        """After the storm has drained (lines low, everything acknowledged and EOI-ed)."""
        for pin, cfg in self.pins.items():
            if cfg.level:
                if self.level_owed[pin] or self.in_service[pin]:
                    raise AssertionError(f"level pin {pin}: a delivery was lost (owed={self.level_owed[pin]})")
            else:
                if self.edge_pending[pin]:
                    raise AssertionError(f"edge pin {pin}: the last edge was never delivered")
                if self.delivered[pin] + self.coalesced[pin] != self.edges[pin]:
                    raise AssertionError(
                        f"edge pin {pin}: {self.edges[pin]} edges, {self.delivered[pin]} delivered, "
                        f"{self.coalesced[pin]} coalesced"
                    )

    def totals(self) -> dict[str, int]:
        edge_pins = [p for p, c in self.pins.items() if not c.level]
        level_pins = [p for p, c in self.pins.items() if c.level]
        return {
            "edges": sum(self.edges[p] for p in edge_pins),
            "edge_delivered": sum(self.delivered[p] for p in edge_pins),
            "edge_coalesced": sum(self.coalesced[p] for p in edge_pins),
            "level_delivered": sum(self.delivered[p] for p in level_pins),
            "spurious": self.spurious,
        }
