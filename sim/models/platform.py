"""Reference model of the whole platform (``irqforge_platform``): N LAPICs, the
IO-APIC, the HPET and the router, behind each CPU's address map.

This is the ``model`` backend's hardware (:mod:`irqforge.sim.backends.model`
adds the CPUs' side of time). It composes the device models and wires them as
``hw/platform.py`` wires the RTL:

- **Address map** (``spec.platform.address_map``): each CPU reaches its *own*
  LAPIC in the ``lapic`` window, and the shared IO-APIC and HPET in theirs;
  every other address raises :class:`irqforge.sw.BusError` with ``"DECERR"``.
  Accesses are 32-bit; the two low address bits are ignored, as the AXI4-Lite
  slaves do.
- **Lines**: the HPET's IO-APIC lines are OR-ed with the device lines
  (:meth:`PlatformModel.set_irq`) into the IO-APIC pins; an HPET edge pulse
  on a pin whose level is low reaches the IO-APIC as a rising and a falling
  edge.
- **Messages**: IPIs (after an ICR-low write), IO-APIC messages and HPET MSIs
  go through the :class:`RouterModel` into the LAPICs; level EOIs of the
  LAPICs go back to the IO-APIC.

Time and latency convention
---------------------------

:attr:`PlatformModel.cycle` counts ``clk`` cycles since reset. Time moves only
through :meth:`PlatformModel.advance`, which jumps from event to event (the
earliest of the LAPIC timers' and the HPET's ``next_event_in``) instead of
stepping every cycle. Devices are brought up to date lazily: at their own
events, before a write to them, and before a read of a register that counts
time (LAPIC TMCCT, HPET MAIN_CNT); a device's ``advance(n)`` is one call
whatever ``n``, so idle time costs nothing.

Everything an event causes happens **in the cycle of the event**: a register
write, a pin change, a timer expiry or an EOI has all its consequences
(message, routing, acceptance into IRR, ``intr``) delivered before the call
returns. The model therefore has zero latency where the RTL takes a few
cycles (``latency_cycles`` of docs/performance.md measures those); scenarios that must
give the same result on every backend must not depend on those few cycles.
One consequence is refused outright: a device line that changes back within
the cycle it changed in (:class:`ZeroWidthPulse`) — the RTL, sampling its
pins at clock edges, would never see that pulse, the model would take it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from irqforge.spec import Spec
from irqforge.sw import BusError

from .hpet import HpetModel
from .ioapic import IoApicModel
from .lapic import LapicModel
from .messages import DeliveryMode, Interrupt
from .router import RouterModel

__all__ = ["IA32_TSC", "NEVER", "PlatformModel", "ZeroWidthPulse"]

#: A cycle later than any simulation reaches: "no event scheduled".
NEVER: Final = 1 << 62

#: The time-stamp counter's MSR address, answered by the platform (SDM 17.17).
IA32_TSC: Final = 0x10
_MASK64: Final = (1 << 64) - 1
_M32: Final = 0xFFFFFFFF

_DECERR: Final = "DECERR"
_STARTUP_MODES: Final = (int(DeliveryMode.INIT), int(DeliveryMode.STARTUP))


class ZeroWidthPulse(ValueError):
    """A device line went back to its level within one clock cycle."""

    def __init__(self, line: int, cycle: int, level: bool) -> None:
        went = "fell and rose again" if level else "rose and fell again"
        super().__init__(
            f"device line {line} {went} in cycle {cycle}: the IO-APIC samples its pins at clock "
            f"edges and would not see it; keep a line at a level for at least one cycle "
            f"(e.g. wait_cycles(1) between the two set_irq calls)"
        )
        self.line = line
        self.cycle = cycle


class PlatformModel:
    """The platform of ``spec``: ``ncpus`` LAPICs, one IO-APIC, one HPET, a router.

    CPU ``i`` owns ``lapics[i]`` (APIC ID ``spec.platform.cpus[i].apic_id``).
    """

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        plat = spec.platform
        self.ncpus: int = plat.ncpus
        # Event-driven: the LAPICs take their priority results without the RTL's one-cycle stage.
        self.lapics: list[LapicModel] = [LapicModel(spec, cpu.apic_id, staged=False) for cpu in plat.cpus]
        self.ioapic = IoApicModel(spec)
        self.hpet = HpetModel(spec)
        self.router = RouterModel(spec, self.lapics)
        self.npins: int = spec.ioapic.param("pins")
        self._all_pins = (1 << self.npins) - 1
        amap = plat.address_map
        self._lapic_base, self._lapic_size = amap["lapic"]
        self._ioapic_base, self._ioapic_size = amap["ioapic"]
        self._hpet_base, self._hpet_size = amap["hpet"]
        # Devices with time of their own: the LAPICs (index i) and the HPET (last).
        self._timed: list[LapicModel | HpetModel] = [*self.lapics, self.hpet]
        self._hpet_slot = len(self.lapics)
        # Reads that depend on the time since the last event: only these bring
        # the device up to date first (everything else changes only at events,
        # which advance() handles on their cycle).
        self._lapic_timed_reads = frozenset({spec.lapic.offset("TMCCT")})
        cnt = spec.hpet.offset("MAIN_CNT")
        self._hpet_timed_reads = frozenset({cnt, cnt + 4})
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Power-on reset of every device; time starts again at cycle 0."""
        for lapic in self.lapics:
            lapic.reset()
        self.ioapic.reset()
        self.hpet.reset()
        self.router.lp_last = self.router.n - 1
        self.router.src_last = self.router.n + 1
        self.cycle: int = 0
        """Cycles since reset."""
        self._synced: list[int] = [0] * len(self._timed)
        self._due: list[int] = [NEVER] * len(self._timed)
        self._next_at: int = NEVER
        self._device_lines = 0
        self._hpet_lines = 0
        self._pins = 0
        #: Cycle of each device line's last change (see :meth:`set_irq`).
        self._line_changed_at: list[int] = [-1] * self.npins
        self._startup: list[list[tuple[str, int]]] = [[] for _ in self.lapics]
        #: Per CPU: TSC minus :attr:`cycle` (mod 2**64); 0 until a WRMSR to IA32_TSC.
        self._tsc_offset: list[int] = [0] * self.ncpus
        #: WRMSR IA32_TSC not yet seen by the LAPIC: CPU -> (the first cycle with the new
        #: TSC, its value then). Applied by :meth:`_sync`.
        self._tsc_set: dict[int, tuple[int, int]] = {}
        for k in range(len(self._timed)):
            self._reschedule(k)

    # ------------------------------------------------------------------ time

    def _sync(self, k: int) -> None:
        """Bring timed device ``k`` up to :attr:`cycle` (never across one of its events)."""
        lag = self.cycle - self._synced[k]
        if lag:
            if self._tsc_set and k in self._tsc_set:
                self._sync_tsc_write(k)
                return
            self._timed[k].advance(lag)
            self._synced[k] = self.cycle

    def _sync_tsc_write(self, k: int) -> None:
        """:meth:`_sync` across the cycle a WRMSR to IA32_TSC of CPU ``k`` took effect in:
        the LAPIC sees the old TSC up to it and the written value from the next cycle."""
        at, value = self._tsc_set.pop(k)
        lapic = self.lapics[k]
        lapic.advance(at - self._synced[k])
        lapic.set_tsc(value)
        lapic.advance(self.cycle - at)
        self._synced[k] = self.cycle

    def _reschedule(self, k: int) -> None:
        """Ask timed device ``k`` (already in sync) when its next event is due."""
        nxt = self._timed[k].next_event_in()
        self._set_due(k, NEVER if nxt is None else self.cycle + max(nxt, 1))

    def _set_due(self, k: int, due: int) -> None:
        """Timed device ``k``'s next event is due at cycle ``due`` (:data:`NEVER`: none)."""
        old = self._due[k]
        if due != old:
            # Keep _next_at == min(_due) without a scan when it cannot have changed.
            self._due[k] = due
            if due < self._next_at:
                self._next_at = due
            elif old == self._next_at:
                self._next_at = min(self._due)

    def next_event_in(self) -> int | None:
        """Cycles until the next timer event of any device, or ``None`` if none is due."""
        return None if self._next_at >= NEVER else self._next_at - self.cycle

    @property
    def next_event_at(self) -> int:
        """The cycle of the next timer event (:data:`NEVER` if none is due)."""
        return self._next_at

    def advance(self, cycles: int) -> None:
        """Let ``cycles`` clock cycles pass, handling every timer event on its cycle."""
        if cycles < 0:
            raise ValueError(f"cannot go back in time ({cycles} cycles)")
        target = self.cycle + cycles
        while self._next_at <= target:
            self.cycle = self._next_at
            self._fire()
        self.cycle = target

    def advance_to(self, cycle: int) -> None:
        """Let time pass up to ``cycle`` (an absolute cycle number)."""
        self.advance(cycle - self.cycle)

    def _fire(self) -> None:
        """Handle the events due at :attr:`cycle`."""
        now = self.cycle
        due = self._due
        for k in range(len(due)):
            if due[k] <= now:
                self._sync(k)
                if k == self._hpet_slot:
                    self._hpet_outputs()
                self._reschedule(k)

    # ------------------------------------------------------------------ bus

    def read(self, cpu: int, addr: int) -> int:
        """32-bit read by ``cpu`` at physical ``addr``; :class:`BusError` off the map."""
        off = addr - self._lapic_base
        if 0 <= off < self._lapic_size:
            off &= ~3
            if off in self._lapic_timed_reads:
                self._sync(cpu)
            return self.lapics[cpu].read(off)
        off = addr - self._ioapic_base
        if 0 <= off < self._ioapic_size:
            return self.ioapic.read(off & ~3)
        off = addr - self._hpet_base
        if 0 <= off < self._hpet_size:
            off &= ~3
            if off in self._hpet_timed_reads:
                self._sync(self._hpet_slot)
            return self.hpet.read(off)
        raise BusError(cpu, addr, _DECERR)

    def write(self, cpu: int, addr: int, value: int) -> None:
        """32-bit write by ``cpu``; every consequence is delivered before it returns."""
        value &= 0xFFFFFFFF
        off = addr - self._lapic_base
        if 0 <= off < self._lapic_size:
            lapic = self.lapics[cpu]
            lag = self.cycle - self._synced[cpu]
            if lag:
                if self._tsc_set:
                    self._sync(cpu)
                else:
                    if lapic._dl_fire or lapic.tsc_deadline:
                        lapic.advance(lag)
                    else:  # LapicModel.advance() without a TSC-deadline event: its _advance() at once
                        lapic._advance(lag)
                    self._synced[cpu] = self.cycle
            lapic.write(off & ~3, value)
            # _reschedule(cpu), inline, when the write moved the LAPIC's next event (a quiet LAPIC has none)
            if lapic._quiet:
                if self._due[cpu] != NEVER:
                    self._set_due(cpu, NEVER)
            else:
                nxt = lapic.next_event_in()
                due = NEVER if nxt is None else self.cycle + max(nxt, 1)
                if due != self._due[cpu]:
                    self._set_due(cpu, due)
            ipi = lapic.take_ipi()  # a plain call where the ipi_pending property would be a call through C
            while ipi is not None:
                self._deliver(self.router.route_ipi(ipi, cpu))
                ipi = lapic.take_ipi()
            if lapic.eois:
                for vector in lapic.take_eois():
                    self.ioapic.eoi(vector)
                self._ioapic_settle()
            return
        off = addr - self._ioapic_base
        if 0 <= off < self._ioapic_size:
            self.ioapic.write(off & ~3, value)
            self._ioapic_settle()
            return
        off = addr - self._hpet_base
        if 0 <= off < self._hpet_size:
            k = self._hpet_slot
            self._sync(k)
            self.hpet.write(off & ~3, value)
            self._reschedule(k)
            self._hpet_outputs()
            return
        raise BusError(cpu, addr, _DECERR)

    # ------------------------------------------------------------------ MSRs and the TSC

    def tsc(self, cpu: int) -> int:
        """CPU ``cpu``'s time-stamp counter in the current cycle (the RTL's ``tsc``)."""
        return (self.cycle + self._tsc_offset[cpu]) & _MASK64

    def msr(self, cpu: int, write: bool, addr: int, wdata: int = 0) -> tuple[int, bool]:
        """An RDMSR/WRMSR of ``cpu`` taking effect in the current cycle: ``(rdata, fault)``.

        The RTL's ``cpu__{i}__msr__*`` handshake: this is the cycle with
        ``valid`` and ``ready``. IA32_TSC (0x10) is answered here: a read
        returns the TSC of this cycle, a write sets all 64 bits, the TSC
        reading ``wdata`` in the next cycle and counting on from there (SDM
        17.17). Every other address goes to the CPU's LAPIC
        (:meth:`LapicModel.msr`, which faults what it does not implement). A
        fault (#GP) changes nothing; ``rdata`` means something only for a read
        without a fault (the RTL's ``rdata`` is then don't-care).
        """
        if addr == IA32_TSC:
            if not write:
                return self.tsc(cpu), False
            value = wdata & _MASK64
            self._tsc_offset[cpu] = (value - self.cycle - 1) & _MASK64
            # The LAPIC's TSC-deadline compares with the new value from the next
            # cycle on: wake it then (its next event may have moved either way).
            self._sync(cpu)
            self._tsc_set[cpu] = (self.cycle + 1, value)
            self._wake(cpu, self.cycle + 1)
            return 0, False
        lapic = self.lapics[cpu]
        lag = self.cycle - self._synced[cpu]
        if lag:  # _sync(cpu), inlined as in write()
            if self._tsc_set:
                self._sync(cpu)
            else:
                if lapic._dl_fire or lapic.tsc_deadline:
                    lapic.advance(lag)
                else:  # LapicModel.advance() without a TSC-deadline event: its _advance() at once
                    lapic._advance(lag)
                self._synced[cpu] = self.cycle
        wdata &= _MASK64
        # A write of an x2APIC register found in the LAPIC's own table of them goes
        # straight to its handler: LapicModel.msr()'s first case, without its call.
        fast = lapic._x2_wr_fast.get(addr) if write and lapic.x2apic else None
        if fast is None:
            rdata, fault = lapic.msr(write, addr, wdata)
        else:
            gp, mask, handler = fast
            rdata = 0
            if wdata & gp:  # a reserved bit set: #GP, nothing written
                fault = True
            else:
                fault = False
                handler(wdata & _M32 & mask)
        # _reschedule(cpu), inline, when the access moved the LAPIC's next event (a quiet LAPIC has none)
        if lapic._quiet:
            if self._due[cpu] != NEVER:
                self._set_due(cpu, NEVER)
        else:
            nxt = lapic.next_event_in()
            due = NEVER if nxt is None else self.cycle + max(nxt, 1)
            if due != self._due[cpu]:
                self._set_due(cpu, due)
        if lapic._ipi is not None:  # (what take_ipi() would return)
            ipi = lapic.take_ipi()
            while ipi is not None:
                self._deliver(self.router.route_ipi(ipi, cpu))
                ipi = lapic.take_ipi()
        if lapic.eois:
            for vector in lapic.take_eois():
                self.ioapic.eoi(vector)
            self._ioapic_settle()
        return rdata, fault  # (LapicModel.msr returns an int and a bool)

    def _wake(self, k: int, at: int) -> None:
        """Make timed device ``k``'s next event no later than cycle ``at``."""
        if at < self._due[k]:
            self._due[k] = at
            if at < self._next_at:
                self._next_at = at

    # ------------------------------------------------------------------ lines and messages

    def set_irq(self, line: int, level: int | bool) -> None:
        """Drive device line ``line`` (IO-APIC pin) to ``level``.

        Raises :class:`ZeroWidthPulse` when the line changes back in the
        cycle it changed in: the RTL IO-APIC samples its pins at clock edges
        and never sees such a pulse, while this model (zero latency) would
        already have taken it — the backends would disagree silently.
        """
        if not 0 <= line < self.npins:
            raise IndexError(f"device line {line} out of range 0..{self.npins - 1}")
        bit = 1 << line
        old = self._device_lines
        lines = (old | bit) if level else (old & ~bit)
        if lines != old:
            changed_at = self._line_changed_at
            now = self.cycle
            if changed_at[line] == now:
                raise ZeroWidthPulse(line, now, bool(level))
            changed_at[line] = now
            self._device_lines = lines
            # _drive_pins() without HPET pulses, inlined: a device line changes
            # twice per interrupt on the model backend.
            pins = lines | self._hpet_lines
            if pins != self._pins:
                self._pins = pins
                io = self.ioapic
                io.pins = pins & self._all_pins  # io.set_pins(pins)
                io.settle()  # _ioapic_settle(), inlined
                msgs = io.delivered
                if msgs:
                    io.delivered = []  # io.take_messages()
                    # _route_ioapic() and _deliver(), inlined for a fixed vector; a
                    # message routed by destination ID alone before skips route()
                    fixed = self.router.fixed_dest
                    for msg in msgs:
                        hit = fixed.get(id(msg))
                        if hit is not None and hit[0] is msg:
                            _msg, dest, interrupt = hit
                            for lapic in self.lapics:
                                if lapic.apic_id == dest and lapic.enabled:
                                    lapic.accept(interrupt)
                            continue
                        for index, interrupt in self.router.route(msg):
                            if interrupt.vector < 16 or interrupt.delivery_mode in _STARTUP_MODES:
                                self._deliver(((index, interrupt),))
                            else:
                                self.lapics[index].accept(interrupt)

    @property
    def device_lines(self) -> int:
        """The device lines as driven by :meth:`set_irq` (bit i = line i)."""
        return self._device_lines

    def _drive_pins(self, pulses: int = 0) -> None:
        """Present ``device lines | HPET lines`` to the IO-APIC, with HPET edge
        ``pulses`` (a mask) as a rise and fall on pins that are otherwise low."""
        pins = self._device_lines | self._hpet_lines
        pulses &= ~pins
        changed = pins ^ self._pins
        if pulses:
            self.ioapic.set_pins(self._pins | pulses)
            self._ioapic_settle()
            changed |= pulses
        if changed:
            self._pins = pins
            self.ioapic.set_pins(pins)
            self._ioapic_settle()

    def _hpet_outputs(self) -> None:
        """Carry the HPET's lines, edge pulses and MSIs to the IO-APIC and router."""
        hpet = self.hpet
        lines = hpet.irq_lines
        pulses = 0
        for pin in hpet.take_edges():
            pulses |= 1 << pin
        if lines != self._hpet_lines or pulses:
            self._hpet_lines = lines
            self._drive_pins(pulses)
        for msi in hpet.take_msis():
            self._deliver(self.router.route_msi(msi))

    def _ioapic_settle(self) -> None:
        """Let the IO-APIC send what it has to; route its messages."""
        io = self.ioapic
        io.settle()
        if io.delivered:
            self._route_ioapic()

    def _route_ioapic(self) -> None:
        """Route the messages the IO-APIC delivered."""
        route = self.router.route
        for msg in self.ioapic.take_messages():
            self._deliver(route(msg))

    def _deliver(self, targets: Sequence[tuple[int, Interrupt]]) -> None:
        for index, msg in targets:
            lapic = self.lapics[index]
            if msg.delivery_mode in _STARTUP_MODES:
                self._sync(index)
                lapic.accept(msg)
                self._startup[index].extend((kind.upper(), vector) for kind, vector in lapic.take_startup())
                self._reschedule(index)  # INIT stops the timer
            elif msg.vector < 16:
                self._sync(index)
                lapic.accept(msg)
                self._reschedule(index)  # an illegal vector raises the error interrupt
            else:
                lapic.accept(msg)  # IRR does not depend on time: no need to catch up

    # ------------------------------------------------------------------ CPU side

    def intr(self, cpu: int) -> bool:
        """The LAPIC's ``intr`` output."""
        return bool(self.lapics[cpu].intr)

    def nmi(self, cpu: int) -> bool:
        """The LAPIC's ``nmi`` output."""
        return bool(self.lapics[cpu].nmi)

    def any_interrupt(self) -> bool:
        """Whether any CPU has ``intr`` or ``nmi`` high."""
        return any(lapic.intr or lapic.nmi for lapic in self.lapics)

    def inta(self, cpu: int) -> int:
        """An INTA cycle: the vector moved IRR → ISR, or the spurious vector."""
        return self.lapics[cpu].inta()

    def nmi_ack(self, cpu: int) -> None:
        """Pulse ``nmi_ack``."""
        self.lapics[cpu].nmi_ack()

    def take_startup(self, cpu: int) -> list[tuple[str, int]]:
        """INIT / SIPI seen by ``cpu``'s LAPIC since the last call, oldest first."""
        out, self._startup[cpu] = self._startup[cpu], []
        return out
