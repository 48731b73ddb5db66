"""Cycle-counted reference model of the Local APIC (``irqforge_lapic``).

The model is the scoreboard of the LAPIC benches and the LAPIC of the
``model`` backend. It behaves as the "ARCH" column of the reference
(``x86-interrupt-hardware.md`` §1) and as :mod:`irqforge.hw.lapic`, whose
docstring lists the behaviour; every offset, field position, reset value and
writable mask comes from ``spec.lapic``.

Timing convention
-----------------

Model time is the clock-cycle number. Every call except :meth:`advance`
acts *in the current cycle*; in RTL terms it is an input seen at the rising
edge that ends the cycle. :meth:`advance` with ``n`` ends the current cycle
and ``n - 1`` more; it runs what the hardware does by itself at those edges
(the LINT pins, the timer, the error interrupt). When several things happen
in one cycle, call them in this order, which is how the RTL resolves them:

1. :meth:`read` (the register port; the RTL answers from the state at the
   start of the cycle),
2. :meth:`inta`, :meth:`nmi_ack`, :meth:`ipi_accepted` (CPU and router side),
3. :meth:`write` (at most one register access per cycle),
4. :meth:`accept` (``msg_in``; the RTL's ``msg_in__ready`` is always 1),
5. :meth:`set_lint` (the pin levels of this cycle),
6. :meth:`advance`.

Results of a cycle appear on the RTL outputs in the next cycle:
``ack_valid`` (the value :meth:`inta` returned), ``eoi__valid``
(:meth:`take_eois`), ``init``/``sipi`` (:meth:`take_startup`), and
``ipi__valid`` (:attr:`ipi_pending`) after an ICR-low write. :attr:`intr`,
:attr:`vector`, :attr:`nmi` and the router-facing properties are what the RTL
shows during the current cycle.

Timer: a TMICT write of ``N`` (not 0) in cycle ``t`` with divisor ``d``
loads TMCCT = ``N``; TMCCT then decreases by one at the end of cycles
``t + d``, ``t + 2d`` …; the decrement from 1 (at the end of cycle
``t + N·d``) is the expiry. So after ``write(TMICT, N)``, ``advance(N * d)``
leaves the timer one cycle short of expiring and ``advance(N * d + 1)``
has fired it (IRR bit set, ``intr`` visible). Periodic mode reloads TMICT
at the expiry: the period is ``N·d`` cycles. A TDCR write applies its
divisor from the next decrement on.
"""

from __future__ import annotations

from irqforge.sim.models.messages import DeliveryMode, DestMode, Interrupt, Ipi, Shorthand, Trigger
from irqforge.spec import Spec

__all__ = ["LapicModel"]

_FULL = 0xFFFFFFFF


def _highest(bits: int) -> int:
    """The highest set bit's index, or 0 when none is set."""
    return bits.bit_length() - 1 if bits else 0


class LapicModel:
    """Reference model of one Local APIC; see the module docstring for timing."""

    def __init__(self, spec: Spec, apic_id: int) -> None:
        dev = spec.lapic
        self.spec = spec
        self.dev = dev
        self.initial_apic_id = apic_id & 0xFF
        reg = dev.register
        self._svr = reg("SVR")
        self._lvt_names = tuple(r.name for r in dev.registers if r.name.startswith("LVT_"))
        self._lvt = {n: reg(n) for n in self._lvt_names}
        self._icr_lo = reg("ICR_LO")
        self._icr_hi = reg("ICR_HI")
        self._tdcr = reg("TDCR")
        self._esr = reg("ESR")
        # Offset → (register name, array index) for every addressable instance.
        self._decode: dict[int, tuple[str, int]] = {}
        for r in dev.registers:
            for inst in r.instances():
                self._decode[inst.offset] = (r.name, inst.index)
        self._wmask = {r.name: r.writable_mask for r in dev.registers}
        if not dev.param("eoi_suppression"):
            self._wmask["SVR"] &= ~self._svr.field("EOI_SUPPRESS").mask
        if not dev.param("tsc_deadline"):
            mode = self._lvt["LVT_TIMER"].field("TIMER_MODE")
            self._wmask["LVT_TIMER"] &= ~(1 << mode.msb)
        # Constant read-only bits (VERSION, DFR[27:0]).
        self._const = {}
        for r in dev.registers:
            bits = 0
            for f in r.fields:
                if not f.access.writable and f.name not in ("DELIVERY_STATUS", "REMOTE_IRR"):
                    bits |= f.mask & (f.reset << f.lsb)
            self._const[r.name] = bits
        dm = self._icr_lo.field("DELIVERY_MODE")
        self._dm = {e.name: e.value for e in dm.enums}
        tm = self._lvt["LVT_TIMER"].field("TIMER_MODE")
        self._periodic = tm.enum("PERIODIC")
        self._tsc_mode = tm.enum("TSC_DEADLINE") if dev.param("tsc_deadline") else None
        self._level = self._icr_lo.field("TRIGGER").enum("LEVEL")
        self._err_bit = {f.name: f.lsb for f in self._esr.fields}
        self._timer_mode = tm
        self.eois: list[int] = []
        self.startups: list[tuple[str, int]] = []
        self.reset()

    # ------------------------------------------------------------------ reset

    def reset(self) -> None:
        """Power-on reset (the RTL's ``rst``): ID back to the initial APIC ID."""
        self._id = self.initial_apic_id << 24
        self.nmi_pending = False
        self._ipi: Ipi | None = None
        self._pins = [0, 0]
        self._prev_pins = [0, 0]
        self.cycle = 0
        self.eois = []
        self.startups = []
        self._soft_reset()

    def _soft_reset(self) -> None:
        """What an INIT clears: everything but the ID, pending NMI, the IPI in flight and the pins."""
        self.regs: dict[str, int] = {
            r.name: r.reset & self._wmask[r.name] for r in self.dev.registers if r.access.writable
        }
        self.irr = 0
        self.isr = 0
        self.tmr = 0
        self.esr_pending = 0
        self.esr = 0
        self.tmcct = 0
        self._presc = 0
        self.remote_irr = [0, 0]
        self._err_fire = False

    # ------------------------------------------------------------------ helpers

    def _f(self, reg: str, field: str, value: int | None = None) -> int:
        r = self.dev.register(reg)
        return r.field(field).get(self.regs[reg] if value is None else value)

    def _error(self, name: str) -> None:
        self.esr_pending |= 1 << self._err_bit[name]
        self._err_fire = True

    def _set_irr(self, vector: int, level: bool) -> None:
        """Local or message acceptance of a fixed interrupt."""
        if vector < 16:
            self._error("RECV_ILLEGAL_VECTOR")
            return
        self.irr |= 1 << vector
        if level:
            self.tmr |= 1 << vector
        else:
            self.tmr &= ~(1 << vector)

    def _init(self) -> None:
        self.startups.append(("init", 0))
        self._soft_reset()

    @property
    def _divisor(self) -> int:
        v = (self._f("TDCR", "DIV_HI") << 2) | self._f("TDCR", "DIV_LO")
        return 1 << ((v + 1) & 7)

    # ------------------------------------------------------------------ priorities

    @property
    def enabled(self) -> bool:
        """SVR software enable."""
        return bool(self._f("SVR", "ENABLE"))

    @property
    def isrv(self) -> int:
        return _highest(self.isr)

    @property
    def irrv(self) -> int:
        return _highest(self.irr)

    @property
    def ppr(self) -> int:
        tpr = self.regs["TPR"] & 0xFF
        isrv = self.isrv
        return tpr if (tpr >> 4) >= (isrv >> 4) else isrv & 0xF0

    @property
    def arb_priority(self) -> int:
        """APR as the SDM defines it (used by lowest-priority arbitration)."""
        tpr = self.regs["TPR"] & 0xFF
        isrv, irrv = self.isrv, self.irrv
        if (tpr >> 4) >= (irrv >> 4) and (tpr >> 4) > (isrv >> 4):
            return tpr
        return max(tpr & 0xF0, isrv & 0xF0, irrv & 0xF0)

    @property
    def intr(self) -> bool:
        """A fixed interrupt is deliverable: enabled and its class above PPR's."""
        return self.enabled and self.irr != 0 and (self.irrv >> 4) > (self.ppr >> 4)

    @property
    def vector(self) -> int:
        """The vector ``intr`` stands for (the highest IRR vector; 0 if none)."""
        return self.irrv

    @property
    def nmi(self) -> bool:
        return self.nmi_pending

    @property
    def apic_id(self) -> int:
        return self._id >> 24

    @property
    def ldr(self) -> int:
        """The whole 32-bit LDR (only bits 31:24 are stored)."""
        return self.regs["LDR"]

    @property
    def dfr_model(self) -> int:
        return self._f("DFR", "MODEL")

    # ------------------------------------------------------------------ CPU side

    def inta(self) -> int:
        """Interrupt acknowledge: the vector moved IRR → ISR, or the spurious vector."""
        if not self.intr:
            return self._f("SVR", "VECTOR")
        v = self.irrv
        self.irr &= ~(1 << v)
        self.isr |= 1 << v
        return v

    def nmi_ack(self) -> None:
        self.nmi_pending = False

    # ------------------------------------------------------------------ router side

    @property
    def ipi_pending(self) -> Ipi | None:
        """The IPI waiting to be taken (``ipi__valid`` and payload), or ``None``."""
        return self._ipi

    def ipi_accepted(self) -> None:
        """The router took the pending IPI (``ipi__ready``): delivery status goes to 0."""
        self._ipi = None

    def take_ipi(self) -> Ipi | None:
        """The pending IPI, which counts as accepted."""
        ipi, self._ipi = self._ipi, None
        return ipi

    def take_eois(self) -> list[int]:
        """EOI broadcasts (vectors) since the last call."""
        out, self.eois = self.eois, []
        return out

    def take_startup(self) -> list[tuple[str, int]]:
        """``("init", 0)`` and ``("sipi", vector)`` events since the last call, in order."""
        out, self.startups = self.startups, []
        return out

    def accept(self, msg: Interrupt) -> None:
        """A message from the router (``msg_in``)."""
        dm = int(msg.delivery_mode)
        level_trig = int(msg.trigger) == self._level
        if dm in (self._dm["FIXED"], self._dm["LOWEST"]):
            if level_trig and not msg.level:
                return  # level de-assert: nothing to do (KVM)
            if not self.enabled:
                return  # software-disabled APICs discard fixed messages (KVM)
            self._set_irr(msg.vector & 0xFF, level_trig)
        elif dm == self._dm["NMI"]:
            self.nmi_pending = True
        elif dm == self._dm["INIT"]:
            if not (level_trig and not msg.level):
                self._init()
        elif dm == self._dm["STARTUP"]:
            self.startups.append(("sipi", msg.vector & 0xFF))
        # SMI, ExtINT and reserved modes are ignored.

    def set_lint(self, n: int, level: int) -> None:
        """Drive pin LINT``n`` (0 or 1) to ``level`` from this cycle on."""
        self._pins[n] = 1 if level else 0

    # ------------------------------------------------------------------ registers

    def read(self, offset: int) -> int:
        """A 32-bit register read (no side effects except ESR bit 7 for reserved offsets)."""
        offset &= 0xFFC
        hit = self._decode.get(offset)
        if hit is None:
            self._error("ILLEGAL_REG_ADDR")
            return 0
        name, index = hit
        if name in ("ISR", "TMR", "IRR"):
            bits = {"ISR": self.isr, "TMR": self.tmr, "IRR": self.irr}[name]
            return (bits >> (32 * index)) & _FULL
        if name == "ID":
            return self._id
        if name == "PPR":
            return self.ppr
        if name == "APR":
            return self.arb_priority
        if name == "ESR":
            return self.esr
        if name == "TMCCT":
            return self.tmcct
        value = self.regs.get(name, 0) | self._const[name]
        if name == "ICR_LO" and self._ipi is not None:
            value |= self._icr_lo.field("DELIVERY_STATUS").mask
        if name in ("LVT_LINT0", "LVT_LINT1"):
            value |= self.remote_irr[int(name[-1])] << self._lvt[name].field("REMOTE_IRR").lsb
        return value

    def write(self, offset: int, value: int, *, strb: int = 0xF) -> None:
        """A register write; only full-dword writes (``strb`` 0xF) have an effect."""
        offset &= 0xFFC
        value &= _FULL
        if strb != 0xF:
            return
        hit = self._decode.get(offset)
        if hit is None:
            self._error("ILLEGAL_REG_ADDR")
            return
        name = hit[0]
        mask = self._wmask[name]
        new = value & mask
        if name == "ID":
            self._id = new
        elif name == "EOI":
            self._eoi()
        elif name == "ESR":
            self.esr = self.esr_pending
            self.esr_pending = 0
        elif name == "SVR":
            self.regs["SVR"] = new
            if not self._svr.field("ENABLE").get(new):
                for lvt in self._lvt_names:
                    self.regs[lvt] |= self._lvt[lvt].field("MASK").mask
        elif name in self._lvt:
            if not self.enabled:
                new |= self._lvt[name].field("MASK").mask
            if name == "LVT_TIMER" and self._tsc_mode is not None:
                old_mode = self._timer_mode.get(self.regs[name])
                new_mode = self._timer_mode.get(new)
                if old_mode != new_mode and self._tsc_mode in (old_mode, new_mode):
                    self.regs["TMICT"] = 0
                    self.tmcct = 0
                    self._presc = 0
            self.regs[name] = new
        elif name == "TMICT":
            if self._tsc_mode is not None and self._timer_mode.get(self.regs["LVT_TIMER"]) == self._tsc_mode:
                return
            self.regs["TMICT"] = new
            self.tmcct = new
            self._presc = -1  # the write's own edge does not count
        elif name == "ICR_LO":
            self._write_icr(new)
        elif name in self.regs:
            self.regs[name] = new
        # Writes to read-only registers are ignored.

    def _eoi(self) -> None:
        if not self.isr:
            return
        v = self.isrv
        self.isr &= ~(1 << v)
        if self.tmr >> v & 1 and not self._f("SVR", "EOI_SUPPRESS"):
            self.eois.append(v)
        for n in (0, 1):
            if self._f(f"LVT_LINT{n}", "VECTOR") == v:
                self.remote_irr[n] = 0

    def _write_icr(self, new: int) -> None:
        if self._ipi is not None:
            return  # still pending: software must wait for delivery status 0
        self.regs["ICR_LO"] = new
        f = self._icr_lo.field
        vector = f("VECTOR").get(new)
        dm = f("DELIVERY_MODE").get(new)
        trigger = f("TRIGGER").get(new)
        level = f("LEVEL").get(new)
        if dm in (self._dm["FIXED"], self._dm["LOWEST"]) and vector < 16:
            self._error("SEND_ILLEGAL_VECTOR")
            return
        if dm == self._dm["INIT"] and trigger == self._level and not level:
            return  # INIT level de-assert: nothing is sent (KVM)
        if dm not in self._dm.values():
            return  # reserved delivery mode (remote read)
        self._ipi = Ipi(
            vector=vector,
            delivery_mode=DeliveryMode(dm),
            dest_mode=DestMode(f("DEST_MODE").get(new)),
            dest=self._icr_hi.field("DEST").get(self.regs["ICR_HI"]),
            shorthand=Shorthand(f("SHORTHAND").get(new)),
            trigger=Trigger(trigger),
            level=level,
            source=self.apic_id,
        )

    # ------------------------------------------------------------------ time

    def _lint_edge(self) -> None:
        """The LINT pins at one clock edge."""
        for n in (0, 1):
            name = f"LVT_LINT{n}"
            lvt = self.regs[name]
            pin = self._pins[n]
            pol = self._f(name, "POLARITY", lvt)
            active = pin ^ pol
            rising = active and not (self._prev_pins[n] ^ pol)
            self._prev_pins[n] = pin
            if self._f(name, "MASK", lvt):
                continue
            dm = self._f(name, "DELIVERY_MODE", lvt)
            vector = self._f(name, "VECTOR", lvt)
            if dm == self._dm["FIXED"]:
                if self._f(name, "TRIGGER", lvt) == self._level:
                    if active and not self.remote_irr[n]:
                        self._set_irr(vector, True)
                        if vector >= 16:
                            self.remote_irr[n] = 1
                elif rising:
                    self._set_irr(vector, False)
            elif dm == self._dm["NMI"]:
                if rising:
                    self.nmi_pending = True
            elif dm == self._dm["INIT"] and rising:
                self._init()
                # The INIT clears the LVTs: the other pin has nothing left to do.
                for k in range(n + 1, 2):
                    self._prev_pins[k] = self._pins[k]
                return

    def _timer_fire(self) -> None:
        lvt = self.regs["LVT_TIMER"]
        if not self._f("LVT_TIMER", "MASK", lvt):
            self._set_irr(self._f("LVT_TIMER", "VECTOR", lvt), False)

    def _error_interrupt(self) -> None:
        if self._err_fire:
            self._err_fire = False
            lvt = self.regs["LVT_ERROR"]
            vector = self._f("LVT_ERROR", "VECTOR", lvt)
            if not self._f("LVT_ERROR", "MASK", lvt) and vector >= 16:
                self.irr |= 1 << vector
                self.tmr &= ~(1 << vector)

    def _timer_edges(self, n: int) -> int:
        """Run the timer for ``n`` edges, stopping right after an expiry.

        Returns the number of edges consumed.
        """
        if self.tmcct == 0 or n <= 0:
            return n
        d = self._divisor
        first = max(d - 1 - self._presc, 0) + 1  # edges until the next decrement
        expiry = first + (self.tmcct - 1) * d
        if expiry > n:
            if n < first:
                self._presc += n
            else:
                self.tmcct -= 1 + (n - first) // d
                self._presc = (n - first) % d
            return n
        # The expiry edge.
        self._presc = 0
        periodic = self._timer_mode.get(self.regs["LVT_TIMER"]) == self._periodic
        self.tmcct = self.regs["TMICT"] if periodic else 0
        self._timer_fire()
        return expiry

    def advance(self, cycles: int = 1) -> None:
        """End the current cycle and ``cycles - 1`` more (see the timing convention)."""
        if cycles <= 0:
            return
        # First edge: the pins, the timer, then the error interrupt of this edge.
        self._lint_edge()
        self._timer_edges(1)
        self._error_interrupt()
        left = cycles - 1
        while left > 0:
            used = self._timer_edges(left)
            self._error_interrupt()
            left -= used
        self.cycle += cycles

    def next_event_in(self) -> int | None:
        """Cycles :meth:`advance` needs until something happens by itself.

        1 when the next edge has work (a LINT input to evaluate, an error
        interrupt to deliver), else the number of cycles until the timer's
        expiry has taken effect, else ``None``.
        """
        if self._err_fire or self._pins != self._prev_pins:
            return 1
        for n in (0, 1):
            name = f"LVT_LINT{n}"
            lvt = self.regs[name]
            if (
                not self._f(name, "MASK", lvt)
                and self._f(name, "DELIVERY_MODE", lvt) == self._dm["FIXED"]
                and self._f(name, "TRIGGER", lvt) == self._level
                and (self._pins[n] ^ self._f(name, "POLARITY", lvt))
                and not self.remote_irr[n]
            ):
                return 1
        if self.tmcct == 0:
            return None
        d = self._divisor
        return max(d - 1 - self._presc, 0) + 1 + (self.tmcct - 1) * d
