"""Lock-step scoreboard and random stimulus for the Local APIC benches.

Simulator-neutral: the cocotb bench (:mod:`irqforge.sim.benches.lapic_bench`)
and the Amaranth-simulator tests both fill one :class:`Cycle` per clock cycle
(what went into the LAPIC and what came out) and hand it to
:class:`LapicChecker`, which replays the inputs on
:class:`~irqforge.sim.models.lapic.LapicModel` in the model's documented call
order and compares every output with the model, cycle for cycle.
:class:`RandomStimulus` draws constrained-random traffic from a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from irqforge.sim.models.coverage import LapicSampler
from irqforge.sim.models.lapic import LapicModel
from irqforge.sim.models.messages import DeliveryMode, Interrupt, Ipi, Trigger
from irqforge.spec import Spec

__all__ = ["Cycle", "LapicChecker", "Mismatch", "RandomStimulus", "RegOp"]


class Mismatch(AssertionError):
    """The RTL and the model disagree; the message names cycle, port and both values."""


@dataclass
class Cycle:
    """Everything at the LAPIC's ports during one clock cycle."""

    # Inputs (as seen by the RTL at the closing edge).
    read: int | None = None
    """Offset of a register read issued in this cycle (the bridge's ``r_stb``)."""
    write: tuple[int, int, int] | None = None
    """(offset, value, strobes) of a register write issued in this cycle."""
    inta: bool = False
    nmi_ack: bool = False
    ipi_ready: bool = False
    msg: Interrupt | None = None
    lint: tuple[int, int] = (0, 0)
    msr: tuple[bool, int, int] | None = None
    """(write, addr, wdata) while ``msr__valid`` is high."""
    tsc: int | None = None
    """The ``tsc`` input (``None``: the model counts on by itself)."""
    # Outputs during this cycle.
    intr: bool = False
    vector: int = 0
    nmi: bool = False
    ack: int | None = None
    """``ack_vector`` when ``ack_valid``."""
    eoi: int | None = None
    """``eoi__vector`` when ``eoi__valid``."""
    init: bool = False
    sipi: int | None = None
    """``sipi_vector`` when ``sipi``."""
    ipi: Ipi | None = None
    """The ``ipi__*`` payload when ``ipi__valid``."""
    apic_id: int = 0
    ldr: int = 0
    dfr_model: int = 0
    arb_priority: int = 0
    enabled: bool = False
    x2apic: bool = False
    msr_ready: bool = False
    msr_rdata: int = 0
    msr_fault: bool = False


@dataclass
class LapicChecker:
    """Replays :class:`Cycle` records on the model and compares the outputs."""

    model: LapicModel
    cycle: int = 0
    checked_outputs: int = 0
    reads: int = 0
    writes: int = 0
    intas: int = 0
    acks: list[int] = field(default_factory=list)
    _exp_ack: int | None = None
    _exp_eoi: int | None = None
    _exp_init: bool = False
    _exp_sipi: int | None = None
    _msr_seen: bool = False
    msrs: int = 0
    msr_faults: int = 0
    history: list[Cycle] = field(default_factory=list)
    keep: int = 8
    sampler: LapicSampler | None = None
    """Functional coverage: samples the cycle's events when set (``irqforge regress --coverage``)."""

    def _cmp(self, port: str, rtl: object, model: object) -> None:
        self.checked_outputs += 1
        if rtl != model:
            recent = "\n".join(f"  {c}" for c in self.history[-self.keep :])
            raise Mismatch(f"cycle {self.cycle}: {port}: RTL {rtl!r} != model {model!r}\nrecent cycles:\n{recent}")

    def step(self, c: Cycle) -> int | None:
        """Check one cycle's outputs, apply its inputs, end the cycle.

        Returns the model's value for the register read issued in this cycle
        (``None`` without a read); the caller compares it with the RTL's answer.
        """
        m = self.model
        self.history.append(c)
        del self.history[: -self.keep]
        self._cmp("intr", c.intr, m.intr)
        self._cmp("vector", c.vector, m.vector)
        self._cmp("nmi", c.nmi, m.nmi)
        self._cmp("apic_id", c.apic_id, m.apic_id)
        self._cmp("ldr", c.ldr, m.ldr)
        self._cmp("dfr_model", c.dfr_model, m.dfr_model)
        self._cmp("arb_priority", c.arb_priority, m.arb_priority)
        self._cmp("enabled", c.enabled, m.enabled)
        self._cmp("x2apic", c.x2apic, m.x2apic)
        self._cmp("ipi", c.ipi, m.ipi_pending)
        self._cmp("ack_vector", c.ack, self._exp_ack)
        self._cmp("eoi__vector", c.eoi, self._exp_eoi)
        self._cmp("init", c.init, self._exp_init)
        self._cmp("sipi_vector", c.sipi, self._exp_sipi)

        s = self.sampler
        value = None
        if c.read is not None:
            value = m.read(c.read)
            self.reads += 1
            if s is not None and c.read == s.esr_offset:
                s.esr_read(value)
        # An RDMSR answers from the state at the start of the cycle, as a
        # register-page read does (it never waits: msr_wait is for writes).
        msr_read_done = False
        if c.msr is not None and not c.msr[0] and self._msr_seen:
            self._msr_access(c, c.msr)
            msr_read_done = True
        self._exp_ack = None
        if c.inta:
            if s is not None:
                s.before_inta(m.regs["TPR"], m.isr, m.irr)
            self._exp_ack = m.inta()
            self.acks.append(self._exp_ack)
            self.intas += 1
            if s is not None:
                s.after_inta(self._exp_ack, m.isr)
        if c.nmi_ack:
            m.nmi_ack()
        if c.ipi is not None and c.ipi_ready:
            m.ipi_accepted()
            if s is not None:
                s.ipi(c.ipi)
        if c.tsc is not None:
            m.set_tsc(c.tsc)
        # The MSR port: ready the cycle after valid rises unless the model says the
        # access waits (checked after the IPI acceptance above, as the RTL does).
        want_ready = c.msr is not None and self._msr_seen and not m.msr_wait(c.msr[0], c.msr[1])
        self._cmp("msr__ready", c.msr_ready, want_ready)
        self._msr_seen = c.msr is not None and not want_ready
        if c.write is not None:
            off, val, strb = c.write
            m.write(off, val, strb=strb)
            self.writes += 1
            if s is not None:
                s.written(off, m.regs, m)
        if c.msr is not None and want_ready and not msr_read_done:
            self._msr_access(c, c.msr)
        if c.msg is not None:
            m.accept(c.msg)
            if s is not None:
                s.message(c.msg.delivery_mode, c.msg.trigger, m)
        m.set_lint(0, c.lint[0])
        m.set_lint(1, c.lint[1])
        # The closing edge: LINT pins, timer, error interrupt. Its results show
        # next cycle like those of the inputs above (an INIT through a LINT pin
        # pulses ``init`` in the next cycle, as one through ``msg_in`` does).
        m.advance(1)
        if s is not None:
            s.tick(m)
        eois = m.take_eois()
        if len(eois) > 1:
            raise Mismatch(f"cycle {self.cycle}: the model broadcast {len(eois)} EOIs in one cycle")
        self._exp_eoi = eois[0] if eois else None
        starts = m.take_startup()
        self._exp_init = any(kind == "init" for kind, _ in starts)
        sipis = [v for kind, v in starts if kind == "sipi"]
        self._exp_sipi = sipis[-1] if sipis else None
        self.cycle += 1
        return value


    def _msr_access(self, c: Cycle, msr: tuple[bool, int, int]) -> None:
        """One accepted MSR access on the model, compared with the RTL's ``msr__fault``/``msr__rdata``."""
        m, s = self.model, self.sampler
        before = (m.apic_base, m.x2apic)
        rdata, fault = m.msr(*msr)
        if s is not None:
            s.msr(m, before, msr, fault)
        self._cmp(f"msr__fault ({'wr' if msr[0] else 'rd'}msr {msr[1]:#x})", c.msr_fault, fault)
        if not msr[0] and not fault:  # rdata means something for a read without a fault only
            self._cmp(f"msr__rdata (rdmsr {msr[1]:#x})", c.msr_rdata, rdata)
        self.msrs += 1
        self.msr_faults += fault

    def idle(self, n: int) -> None:
        """Let ``n`` cycles pass unchecked, with every input idle and the LINT pins unchanged.

        The bench uses it for long quiet stretches in which no Python code
        touches the simulator: the model jumps over them with
        :meth:`LapicModel.advance` and the next checked cycle compares every
        output (and later register reads) with the model again. Raises
        :class:`Mismatch` if an output of the last checked cycle is still due
        (an acknowledge, EOI or start-up pulse would be skipped unchecked).
        """
        if n <= 0:
            return
        if self._exp_ack is not None or self._exp_eoi is not None or self._exp_init or self._exp_sipi is not None:
            raise Mismatch(f"cycle {self.cycle}: idle stretch requested while an output pulse is due")
        self.model.advance(n)
        if self.sampler is not None:
            self.sampler.tick(self.model)
        eois = self.model.take_eois()
        starts = self.model.take_startup()
        if eois or starts:
            raise Mismatch(f"cycle {self.cycle}: the model produced {eois} {starts} without any input")
        self.cycle += n


@dataclass(frozen=True)
class RegOp:
    """One register access: a read (``value`` None) or a write."""

    offset: int
    value: int | None = None
    strb: int = 0xF


#: Weights of the IA32_APIC_BASE mode a write asks for, by the mode the stimulus believes the APIC is in.
#: Most of the time in xAPIC mode: only there do the register-page traffic (the MMIO ICR with its
#: rarer IPI kinds, TPR values for the ``lapic.priority`` cross) and most of the bins land; x2APIC
#: long enough for its MSR view and the TSC-deadline timer; out of a disabled APIC at once. Each row
#: keeps a weight on the illegal moves (x2APIC → xAPIC, disabled → x2APIC: #GP) for the transition bins.
_APIC_MODE_WEIGHTS: dict[str, dict[str, int]] = {
    "XAPIC": {"XAPIC": 6, "X2APIC": 2, "DISABLED": 1},
    "X2APIC": {"X2APIC": 2, "DISABLED": 4, "XAPIC": 1},
    "DISABLED": {"XAPIC": 6, "DISABLED": 1, "X2APIC": 1},
}

#: Weights of the x2APIC MSR registers a view access picks (the others: 1).
_X2APIC_WEIGHTS: dict[str, int] = {"ICR": 4, "SELF_IPI": 2, "TPR": 2, "LVT_TIMER": 2}


class RandomStimulus:
    """Constrained-random LAPIC traffic from one seed.

    Register traffic favours the registers that matter (TPR, EOI, SVR, LVTs,
    timer, ICR, ESR) with legal-looking values, plus reserved offsets,
    partial writes and illegal vectors now and then; messages are mostly
    fixed interrupts with the occasional NMI, start-up and (rarely) INIT.
    """

    def __init__(self, spec: Spec, seed: int) -> None:
        self.rng = random.Random(seed)
        self.dev = spec.lapic
        dev = self.dev
        self.offsets = {r.name: [i.offset for i in r.instances()] for r in dev.registers}
        used = {o for offs in self.offsets.values() for o in offs}
        self.reserved = [o for o in range(0, dev.size, 0x10) if o not in used] + [0x24, 0x38]
        self.mask_bit = dev.register("LVT_TIMER").field("MASK").mask
        self.apic_mode: str | None = None
        """The IA32_APIC_BASE mode the stimulus believes it left (its own legal writes; weights only)."""
        if dev.has_msr("IA32_APIC_BASE"):
            base = dev.msr("IA32_APIC_BASE")
            reset = base.mode_of(base.register.reset)
            self.apic_mode = reset.name if reset is not None else None

    def _vector(self) -> int:
        r = self.rng
        if r.random() < 0.03:
            return r.randrange(16)
        return r.randrange(16, 256)

    def _tpr(self) -> int:
        """A TPR value: mostly low (interrupts flow), now and then high, above most pending requests (the
        ``lapic.priority`` cross wants an INTA while TPR is at or above the pending class)."""
        r = self.rng
        return r.choice([0, 0, 0x20, 0x40, r.randrange(256), r.randrange(0xC0, 0x100)])

    def _level_trigger(self) -> int:
        """ICR bits 15:14 (trigger, level). The SDM wants level 1 for every delivery mode but the INIT
        level de-assert (INIT, level trigger, level 0), which sends nothing: mostly 1, so that an INIT with
        level trigger is mostly an assert that does go out (the ``lapic.ipi`` INIT/LEVEL bins)."""
        r = self.rng
        return r.getrandbits(1) << 15 | (r.random() < 0.8) << 14

    def reg_op(self) -> RegOp:
        r = self.rng
        off = self.offsets
        kind = r.random()
        if kind < 0.35:  # read
            names = list(off)
            if r.random() < 0.05:
                return RegOp(r.choice(self.reserved))
            return RegOp(r.choice(off[r.choice(names)]))
        choice = r.choices(
            ["TPR", "EOI", "SVR", "LVT", "TMICT", "TDCR", "ICR", "ESR", "ID", "LDR", "DFR", "RO", "RSVD", "PART"],
            weights=[10, 18, 4, 10, 6, 3, 12, 3, 1, 1, 1, 2, 1, 1],
        )[0]
        if choice == "TPR":
            return RegOp(off["TPR"][0], self._tpr())
        if choice == "EOI":
            return RegOp(off["EOI"][0], 0)
        if choice == "SVR":
            enable = 0x100 if r.random() < 0.85 else 0
            extra = r.choice([0, 0, 0x200, 0x1000])
            return RegOp(off["SVR"][0], r.choice([0xFF, 0xEF, r.randrange(256)]) | enable | extra)
        if choice == "LVT":
            name = r.choice([n for n in off if n.startswith("LVT_")])
            value = self._vector() | (r.getrandbits(32) & ~0xFF)
            if r.random() < 0.6:
                value &= ~self.mask_bit
            if name.startswith("LVT_LINT") and r.random() < 0.5:
                value &= ~0x700  # mostly fixed delivery
            if name == "LVT_TIMER" and r.random() < 0.7:
                value &= ~(1 << 18)  # mostly one-shot / periodic
            return RegOp(off[name][0], value)
        if choice == "TMICT":
            return RegOp(off["TMICT"][0], r.choice([0, r.randrange(1, 8), r.randrange(1, 200), r.getrandbits(32)]))
        if choice == "TDCR":
            return RegOp(off["TDCR"][0], r.choice([0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xA, 0xB, 0xB, r.getrandbits(32)]))
        if choice == "ICR":
            if r.random() < 0.3:
                return RegOp(off["ICR_HI"][0], r.getrandbits(32))
            dm = r.choices([0, 1, 2, 3, 4, 5, 6, 7], weights=[8, 4, 3, 1, 3, 3, 3, 1])[0]
            value = self._vector() | dm << 8 | r.getrandbits(1) << 11 | self._level_trigger()
            value |= r.getrandbits(2) << 18 | (r.getrandbits(32) & 0xFFF32000)
            return RegOp(off["ICR_LO"][0], value)
        if choice == "ESR":
            return RegOp(off["ESR"][0], r.getrandbits(32))
        if choice in ("ID", "LDR", "DFR"):
            return RegOp(off[choice][0], r.getrandbits(32))
        if choice == "RO":
            name = r.choice(["VERSION", "PPR", "APR", "ISR", "IRR", "TMR", "TMCCT", "RRD"])
            return RegOp(r.choice(off[name]), r.getrandbits(32))
        if choice == "RSVD":
            return RegOp(r.choice(self.reserved), r.getrandbits(32))
        name = r.choice(["TPR", "SVR", "EOI", "TMICT"])
        return RegOp(off[name][0], r.getrandbits(32), r.randrange(15))

    def message(self) -> Interrupt:
        r = self.rng
        dm = r.choices(
            [
                DeliveryMode.FIXED,
                DeliveryMode.LOWEST,
                DeliveryMode.NMI,
                DeliveryMode.STARTUP,
                DeliveryMode.SMI,
                DeliveryMode.EXTINT,
                DeliveryMode.INIT,
            ],
            weights=[80, 8, 3, 3, 1, 1, 0.2],
        )[0]
        trigger = Trigger.LEVEL if r.random() < 0.3 else Trigger.EDGE
        level = 0 if r.random() < 0.1 else 1
        return Interrupt(self._vector(), dm, trigger, level)

    def msr_op(self, tsc: int) -> tuple[bool, int, int]:
        """One MSR access ``(write, addr, wdata)``: IA32_APIC_BASE mode changes (legal and
        not), IA32_TSC_DEADLINE near ``tsc``, and the x2APIC view (with faulting values)."""
        r = self.rng
        dev = self.dev
        kind = r.random()
        # Leave a hardware-disabled APIC soon: in that mode the register page and the x2APIC view are dead.
        if dev.has_msr("IA32_APIC_BASE") and kind < (0.3 if self.apic_mode == "DISABLED" else 0.05):
            base = dev.msr("IA32_APIC_BASE")
            reg = base.register
            value = reg.reset & reg.writable_mask & ~base.modes[0].mask(reg)
            weights = _APIC_MODE_WEIGHTS.get(self.apic_mode or "", {})
            mode = r.choices(base.modes, weights=[weights.get(m.name, 1) for m in base.modes])[0]
            value |= mode.value(reg)
            legal = self.apic_mode is not None and base.legal(self.apic_mode, mode.name)
            if r.random() < 0.1:
                value |= 1 << r.choice([0, 9, 40])  # reserved: #GP
                legal = False
            if r.random() < 0.05:
                value = reg.field("EXTD").put(value, 1) & ~reg.field("EN").mask  # invalid
                legal = False
            write = r.random() < 0.85
            if write and legal:
                self.apic_mode = mode.name
            return (write, base.address, value)
        if dev.has_msr("IA32_TSC_DEADLINE") and kind < 0.3:
            addr = dev.msr("IA32_TSC_DEADLINE").address
            value = r.choice([0, tsc + r.randrange(-5, 40), tsc + r.randrange(-5, 40), tsc + r.randrange(40, 400),
                              r.randrange(1, 100)])
            return (r.random() < 0.7, addr, max(value, 0))
        x2 = dev.x2apic
        if x2 is None or kind < 0.33:
            return (r.random() < 0.5, r.choice([0x10, 0x1A, 0x6E1, 0x7FF, 0x900]), r.getrandbits(64))
        if kind < 0.37:
            return (r.random() < 0.5, x2.msr_base + r.randrange(256), r.getrandbits(32))
        lvtt = next((x for x in x2.registers if x.name == "LVT_TIMER"), None)
        if kind < 0.47 and lvtt is not None:  # TSC-deadline mode, mostly unmasked
            return (True, lvtt.address, self._vector() | 2 << 17 | (0x10000 if r.random() < 0.1 else 0))
        # the ICR, SELF_IPI, TPR and LVT timer more often: the IPI bins, the priority cross, deadline-mode changes
        xr = r.choices(x2.registers, weights=[_X2APIC_WEIGHTS.get(x.name, 1) for x in x2.registers])[0]
        addr = xr.address + r.randrange(xr.count)
        write = r.random() < 0.6
        if not write:
            return (False, addr, 0)
        name = xr.name
        if name in ("EOI", "ESR"):
            value = 0 if r.random() < 0.8 else r.getrandbits(32)
        elif name == "TPR":
            value = self._tpr()
        elif name == "SVR":
            value = r.choice([0xFF, 0xEF]) | (0x100 if r.random() < 0.9 else 0)
        elif name == "LVT_TIMER":
            value = self._vector() | r.choice([0, 1, 2, 2]) << 17 | (0x10000 if r.random() < 0.2 else 0)
        elif name == "TMICT":
            value = r.choice([0, r.randrange(1, 50)])
        elif name == "ICR":
            dm = r.choices([0, 1, 2, 3, 4, 5, 6, 7], weights=[8, 4, 3, 1, 3, 3, 3, 1])[0]  # as the MMIO ICR
            value = self._vector() | dm << 8 | r.getrandbits(1) << 11 | self._level_trigger()
            value |= r.getrandbits(2) << 18 | r.getrandbits(32) << 32
            if r.random() < 0.1:
                value |= 1 << r.choice([13, 16, 20, 31])  # reserved: #GP
        elif name == "SELF_IPI":
            value = self._vector() | (0x100 if r.random() < 0.1 else 0)
        else:
            value = r.getrandbits(32)
        if r.random() < 0.03:
            value |= 1 << r.randrange(32, 64)  # bits 63:32: #GP
        return (True, addr, value)

