"""The Local APIC (``irqforge_lapic``): xAPIC register page, priorities, timer, IPIs.

Built from ``spec.lapic``: every register offset, field position, reset value
and writable mask comes from the spec model. :class:`LocalApic` is the
top level of docs/hardware.md (AXI4-Lite ``bus``): the shared
:class:`~irqforge.hw.bus.AXI4LiteToReg` bridge in front of :class:`LapicCore`,
which holds all behaviour behind the register strobe port. The reference
model :class:`irqforge.sim.models.lapic.LapicModel` mirrors it cycle for cycle.

Behaviour (reference ``x86-interrupt-hardware.md`` §1, ARCH column)
--------------------------------------------------------------------

- **Registers.** One dword per 16-byte slot. Reserved offsets (anything the
  spec does not define, including addresses with bits 3:2 set) read 0,
  ignore writes, answer OKAY and set ESR bit 7. Writes to read-only registers
  are ignored without an error. Only full-dword writes (``wstrb`` = 0xF) have
  an effect (KVM drops the others); partial writes answer OKAY.
- **ID** resets to ``initial_apic_id``; bits 31:24 are writable and take
  effect at once (``apic_id``). INIT keeps it.
- **Version** is the spec's VERSION reset (version, LVT count − 1, EOI
  suppression support).
- **TPR/PPR/APR.** PPR = TPR if TPR[7:4] ≥ ISRV[7:4], else ISRV & 0xF0
  (ISRV = highest in-service vector or 0). APR as the SDM: TPR if
  TPR[7:4] ≥ IRRV[7:4] and TPR[7:4] > ISRV[7:4], else the largest of the
  three classes; it drives ``arb_priority``.
- **IRR/ISR/TMR** 256 bits each. A fixed (or lowest-priority) message sets
  IRR[v] and sets/clears TMR[v] by its trigger; vectors below 16 are not
  accepted and set ESR bit 6; a software-disabled APIC discards fixed
  messages; a level-triggered fixed message with level 0 is ignored.
- **Priority stage.** The highest IRR vector is found by a log-depth
  encoder (:func:`highest_set`) whose result is *registered*: during cycle
  *t* the stage holds IRRV and "IRR not empty" of IRR as it was during cycle
  *t*−1. ``intr``, ``vector``, APR and INTA use the stage; PPR, the ISR
  reads and EOI use ISR as it is now. ISR never holds two vectors of one
  priority class (INTA only moves a vector whose class is above PPR's, so
  above every in-service class; EOI retires the highest), so it is stored as
  a valid bit and a low nibble per class and its highest vector is a 16-way
  encoder, exact in every cycle. The stage also registers which classes
  are at or above IRRV's, so ``intr`` tests ISR with one AND per class
  instead of going through that encoder.
- **Delivery.** ``intr`` = software enabled, the stage's IRR not empty,
  IRRV[7:4] > PPR[7:4], and not a settle cycle (below); ``vector`` = the
  stage's IRRV.
- **INTA.** ``inta`` in cycle *t*: if ``intr`` holds, IRR[v] → ISR[v] for
  v = ``vector`` and ``ack_vector`` = v, else ``ack_vector`` = SVR's
  spurious vector and nothing moves; ``ack_valid`` pulses in cycle *t*+1.
  IRR[v] is always still set when ``intr`` holds: only INTA and INIT clear
  IRR bits, an INTA in *t*−1 moved a vector whose class the stage's IRRV in
  *t* cannot exceed unless a newer, higher vector is pending, and INIT
  disables the APIC.
- **EOI.** A write to EOI clears the highest ISR bit (no-op when ISR is
  empty); if TMR[v] is set and SVR bit 12 is clear, ``eoi__valid`` pulses
  the next cycle with ``eoi__vector`` = v. TMR is unchanged. It also clears
  the remote IRR of a LINT entry whose vector is v, at the edge that ends
  the EOI's cycle: the LINT logic of that cycle still sees the remote IRR
  set, so a level LINT still active is delivered again at the next edge
  (EOI write in *t* → IRR in *t*+2 → ``intr`` in *t*+3; the register reads
  the cleared bit from *t*+1, as before). This keeps the EOI out of the
  same cycle's LINT → IRR path; software cannot tell the cycle.
- **Back-to-back INTA and EOI.** INTAs and EOIs may come in every cycle.
  An INTA in the cycle after an INTA acknowledges what ``intr``/``vector``
  show then (the stage already counts the moved vector as in service via
  PPR, so the same vector is never moved twice); an EOI in any cycle
  retires the ISR's highest vector as it is after the previous edge. An
  INTA and an EOI in the *same* cycle retire the vector that INTA moves
  (ISR unchanged, IRR loses it); the next cycle is a *settle* cycle: the
  stage still holds the vector just retired, so ``intr`` is 0 for that one
  cycle and an INTA in it answers the spurious vector.
- **SVR.** Bit 8 software enable; writing it 0 sets the mask bit of every
  LVT, and LVT writes while disabled are stored masked. Bit 12 (EOI
  broadcast suppression) is writable when the spec says it is supported.
- **LVT** entries store their writable masks (``Register.writable_mask``);
  delivery status reads 0 (local delivery is immediate); LINT remote IRR
  is set when a level-triggered fixed LINT interrupt is accepted.
- **ESR** collects errors in a hidden register; any write copies it to the
  visible register and clears the hidden one. Every error also raises the
  LVT Error interrupt (edge) one edge later (an error in cycle *t*: IRR at
  the edge ending *t*+1), unless masked or its vector is below 16 (LVT
  Error as it was at the start of cycle *t*+1).
- **ICR.** A write of ICR low sends the IPI: ``ipi__valid`` from the next
  cycle until ``ipi__ready``, payload from ICR low, ICR high's destination
  and the current APIC ID as ``source``; ICR bit 12 reads 1 meanwhile.
  ICR-low writes while an IPI waits are ignored (software polls bit 12).
  Fixed/lowest IPIs with a vector below 16 are not sent and set ESR bit 5;
  INIT level de-asserts and the reserved mode 3 are not sent.
- **LDR/DFR** are stored (bits 31:24, bits 31:28) and exposed as ``ldr``
  (whole 32-bit LDR) and ``dfr_model``; DFR[27:0] read as ones.
- **Timer.** TDCR selects divisor d = 2^((v+1) mod 8), v = TDCR[3],TDCR[1:0].
  A TMICT write of N loads TMCCT = N and restarts the prescaler; TMCCT then
  falls by one every d cycles; the decrement from 1 is the expiry: the
  LVT Timer vector goes into IRR (edge) unless masked, one-shot stays at 0,
  periodic reloads TMICT. N = 0 stops the timer. Changing the mode does not
  reload; a masked timer keeps counting. The count-down sees LVT Timer and
  TDCR as they were at the start of the cycle (a write of cycle *t* acts
  from the edge ending *t*+1); a TMICT write or a switch into or out of
  TSC-deadline mode in the cycle the count expires replaces the count, and
  the expiry still raises its interrupt. TSC-deadline mode (when the spec supports it) ignores TMICT
  writes and disarms the count-down on entry and exit (TMICT and TMCCT read
  0); see the TSC-deadline timer below.
- **TSC-deadline timer.** IA32_TSC_DEADLINE (``tsc``: the platform's TSC,
  one per clock) holds the deadline; it is non-zero only while armed. A
  WRMSR stores its value when the LVT timer mode (as this cycle's register
  write leaves it) is TSC-deadline, else it is dropped (and the MSR reads
  0). The timer fires at the edge that ends the first cycle whose ``tsc``
  is ≥ the deadline (a deadline in the past: the edge after the write's
  own): the deadline becomes 0 and the LVT timer vector goes into IRR
  unless masked, so ``intr`` rises two cycles after the cycle ``tsc``
  reached the deadline. Writing 0, leaving the mode, INIT and a hardware
  disable disarm it; a WRMSR in the cycle the old deadline is due stores
  the new value and the old one still fires. "Reached" is a register: it
  is computed a cycle ahead, for the deadline the edge leaves, against
  ``tsc`` + 1 (the value ``tsc`` has next when it counts one per clock, as
  the platform's counter does), so the TSC a cycle compares is the previous
  cycle's ``tsc`` plus one. While ``tsc`` counts that is ``tsc`` itself; when
  it jumps (a WRMSR to IA32_TSC in the platform) the comparison sees the new
  value one cycle late, in either direction (a TSC written past an armed
  deadline: ``intr`` three cycles after the first cycle with the new TSC).
- **MSR port** (``msr__*``, :class:`MsrSignature`). ``ready`` comes in the
  cycle after ``valid`` rises (an x2APIC ICR or SELF_IPI write waits while
  the IPI slot is busy, as ``busy_after`` says); the access acts at the
  closing edge of the cycle with ``valid & ready``, in the register-write
  slot (after a register-port write of the same cycle), and ``fault``
  (#GP) and, for a read without a fault, ``rdata`` are valid in that cycle. The
  LAPIC answers IA32_APIC_BASE, IA32_TSC_DEADLINE and, in x2APIC mode, the
  x2APIC view of the spec (``Device.x2apic``); any other MSR faults.
- **IA32_APIC_BASE.** EN and EXTD select the mode (the spec's ``modes``);
  reserved bits, an invalid combination and a transition the spec does not
  list fault. BSP reads 1 when ``initial_apic_id`` is 0. Leaving an enabled
  mode for DISABLED resets the APIC as INIT does and also the ID and the
  pending NMI; while disabled the register page reads all ones and drops
  writes, and ``msg_in`` is ignored.
- **x2APIC mode.** The register page reads all ones and drops writes (no
  ESR error). MSR ``msr_base`` + offset/16 reaches the register through the
  same decode as a page access; the view's read-only registers fault on
  write, write-only ones on read, and the spec's #GP bits fault (bits
  63:32 of 32-bit registers, a non-zero EOI or ESR write, reserved ICR and
  SELF_IPI bits). The ID is the initial APIC ID (``apic_id``), LDR is
  derived (cluster ID[31:4] in 31:16, 1 << ID[3:0] in 15:0); one 64-bit ICR
  write sends the IPI with the 32-bit destination of bits 63:32 (ICR bit 12
  reads 0); SELF_IPI sends a fixed, edge IPI with shorthand SELF without
  changing ICR.
- **LINT0/LINT1** are sampled every cycle (synchronous inputs); active =
  pin XOR polarity, with the LVT entry as it was at the start of the cycle
  (an LVT write of cycle *t* acts from the edge ending *t*+1). Fixed edge
  entries deliver on a rising active edge,
  fixed level entries while active and remote IRR (as it was at the start
  of the cycle) is clear; NMI entries
  raise ``nmi`` and INIT entries do an INIT on a rising active edge; SMI and
  ExtINT are ignored.
- **Messages.** ``msg_in__ready`` is always 1. A fixed message sees SVR's
  software enable as it was at the start of the cycle (an SVR write of the
  same cycle acts from the next one). NMI sets ``nmi`` until
  ``nmi_ack``; INIT (not a level de-assert) pulses ``init`` and resets the
  APIC to its power-on state except the ID, the pending NMI and an IPI in
  flight; start-up pulses ``sipi`` with ``sipi_vector``. SMI and ExtINT are
  ignored.

Size and simulation speed
-------------------------

IRR and TMR change a few bits per cycle, so every update is a
:func:`decode256` (a 3→8 word select times a 5→32 bit select, 256 ANDs)
instead of a 256-bit shifter: one per interrupt source (``msg_in``, LINT0,
LINT1, timer, error) and one for INTA's IRR clear. ISR is 16 × 5 bits (see
the priority stage), so EOI needs no 256-bit logic at all. The TMR update chain and the
encoders' steps are named signals, so no sub-expression is duplicated. This
keeps the Verilog small (about 90 KB instead of 880 KB) and the Amaranth
simulator's per-cycle work low (it evaluates each expression node as one
Python operation on a wide integer, so fewer nodes is what counts there).

Timing
------

All events of a cycle are resolved at its closing edge in this order, which
the model's call order follows: register read and INTA see the state at the
start of the cycle; then NMI acknowledge and IPI acceptance; then the
register write; then ``msg_in``; then LINT0, LINT1, the timer and the error
interrupt. ``msg_in`` (SVR's enable), LINT0, LINT1, the timer and the error
interrupt see the configuration (SVR, the LVT entries, TDCR) as it was at
the start of the cycle (the write's new configuration acts from the next
edge: no path from the register write through the configuration to IRR). (An EOI written
in the same cycle as a successful INTA retires the vector that INTA moved.)
Latencies: ``msg_in`` valid in cycle *t* → IRR in *t*+1 → ``intr`` in
*t*+2 (the priority stage); ``msr__valid`` rising in *t* → ``msr__ready``
in *t*+1 (the access acts at that cycle's edge); ``tsc`` ≥ deadline in *t*
→ IRR at the edge ending *t* → ``intr`` in *t*+2; ``inta`` in *t* →
``ack_valid`` in *t*+1; ICR-low write issued in *t* (AW and W accepted) →
``bvalid`` and ``ipi__valid`` both in *t*+1.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from irqforge.hw.bus import AXI4LiteSignature, AXI4LiteToReg, RegSignature
from irqforge.hw.router import EoiSignature, IpiSignature, MessageSignature
from irqforge.spec import Device, Register, Spec

__all__ = ["LapicCore", "LocalApic", "MsrSignature", "decode256", "ge_segmented", "highest_set", "top"]


class MsrSignature(wiring.Signature):
    """The MSR port (``msr__*``), from the requester's (the CPU's) view.

    The requester raises ``valid`` with ``write``, ``addr`` and ``wdata`` and
    holds them until ``ready``; in the cycle with ``valid & ready`` the access
    takes effect (at its closing edge) and ``rdata``/``fault`` are valid
    (``fault``: the access raises #GP and changes nothing). The LAPIC answers
    ``ready`` in the cycle after ``valid`` rises, except that an x2APIC ICR or
    SELF_IPI write waits while the previous IPI is not yet taken by the router.
    """

    def __init__(self) -> None:
        super().__init__(
            {
                "valid": Out(1),
                "write": Out(1),
                "addr": Out(32),
                "wdata": Out(64),
                "ready": In(1),
                "rdata": In(64),
                "fault": In(1),
            }
        )


def highest_set(m: Module, bits: Value, name: str, payload: list[Value] | None = None) -> tuple[Signal, Signal, Signal]:
    """A log-depth priority encoder: ``(any, index of the highest set bit, its payload)``; 0s if none.

    ``bits`` (a power of two wide) is merged pairwise, one tree level per
    index bit: a node's ``any`` is the OR of its two children's, its index is
    the upper child's with a 1 on top if that one has a bit set, else the
    lower child's with a 0 — one LUT level per tree level (in gates about
    three per node), so 256 bits take 8 levels instead of the 20-odd of a
    search that selects a word and then searches it. ``payload`` (optional,
    one equal-width value per bit) rides along: the result carries the
    payload of the highest set bit. Each level is one named signal, so no
    sub-expression is copied into the next level.
    """
    width = len(bits)
    if width & (width - 1):
        raise ValueError(f"highest_set needs a power-of-two width, not {width}")
    pw = len(payload[0]) if payload else 0
    any_: Value = bits
    idx: list[Value] = [Const(0, 0)] * width
    pay: list[Value] = list(payload) if payload else [Const(0, 0)] * width
    level = 0
    while len(idx) > 1:
        level += 1
        n = len(idx) // 2
        a_next = Signal(n, name=f"{name}_any{level}")
        i_next = Signal(n * level, name=f"{name}_idx{level}")
        p_next = Signal(n * pw, name=f"{name}_pay{level}") if pw else None
        m.d.comb += a_next.eq(Cat(*(any_[2 * j] | any_[2 * j + 1] for j in range(n))))
        m.d.comb += i_next.eq(Cat(*(Cat(Mux(any_[2 * j + 1], idx[2 * j + 1], idx[2 * j]), any_[2 * j + 1]) if level > 1
                                    else any_[2 * j + 1] for j in range(n))))
        if p_next is not None:
            m.d.comb += p_next.eq(Cat(*(Mux(any_[2 * j + 1], pay[2 * j + 1], pay[2 * j]) for j in range(n))))
            pay = [p_next[j * pw : (j + 1) * pw] for j in range(n)]
        any_ = a_next
        idx = [i_next[j * level : (j + 1) * level] for j in range(n)]
    found = Signal(name=f"{name}_any")
    index = Signal(max(1, level), name=f"{name}_v")
    value = Signal(max(1, pw), name=f"{name}_payload")
    m.d.comb += [found.eq(any_[0]), index.eq(idx[0] if level else 0), value.eq(pay[0] if pw else 0)]
    return found, index, value


def decode256(m: Module, go: Value, vector: Value, name: str) -> Signal:
    """``1 << vector`` over 256 bits when ``go``, else 0, as 8 × 32-bit words.

    ``vector[7:5]`` selects the word, ``vector[4:0]`` the bit in it: a 3→8
    and a 5→32 decoder and 256 two-input ANDs, instead of a 256-bit shifter.
    """
    low = Signal(32, name=f"{name}_low")
    sel = Signal(8, name=f"{name}_sel")
    m.d.comb += [
        low.eq(Const(1, 32) << vector[:5]),
        sel.eq(Mux(go, Const(1, 8) << vector[5:8], 0)),
    ]
    bits = Signal(256, name=name)
    m.d.comb += bits.eq(Cat(*(Mux(sel[w], low, 0) for w in range(8))))
    return bits


def ge_segmented(m: Module, a: Value, b: Value, name: str, seg: int = 16) -> Signal:
    """``a >= b`` (unsigned, equal widths) as parallel ``seg``-bit compares merged by two LUT levels.

    A wide ``>=`` maps onto one carry chain as long as the operands (64 bits:
    some 10 ns on an iCE40); here each ``seg``-bit slice gives "greater" and
    "equal" at once, and the result is the highest slice that differs
    deciding (the lowest slice decides with ``>=`` when all above are equal).
    """
    width = len(a)
    if len(b) != width or width % seg:
        raise ValueError(f"ge_segmented: {len(a)} and {len(b)} bits in {seg}-bit slices")
    n = width // seg
    gt = Signal(n, name=f"{name}_gt")
    eq = Signal(n, name=f"{name}_eq")
    for k in range(n):
        ak, bk = a[k * seg : (k + 1) * seg], b[k * seg : (k + 1) * seg]
        m.d.comb += [gt[k].eq(ak >= bk if k == 0 else ak > bk), eq[k].eq(ak == bk)]
    result: Value = gt[0]
    for k in range(1, n):
        result = gt[k] | (eq[k] & result)
    out = Signal(name=name)
    m.d.comb += out.eq(result)
    return out


def _pattern(reg: Register, addr_width: int) -> str:
    """A ``Case`` pattern matching every instance of ``reg`` (dword aligned)."""
    span = (reg.count - 1) * reg.stride
    if reg.count > 1 and (reg.count & (reg.count - 1) or reg.stride & (reg.stride - 1) or reg.offset & span):
        raise ValueError(f"register array {reg.name}: count, stride and offset must be aligned powers of 2")
    bits = []
    for b in reversed(range(addr_width)):
        if span >> b & 1:
            bits.append("-")
        else:
            bits.append(str(reg.offset >> b & 1))
    return "".join(bits)


class LapicCore(wiring.Component):
    """The Local APIC behind the register strobe port (see the module docstring).

    Ports as :class:`LocalApic` but ``reg`` (:class:`RegSignature`, target side)
    instead of ``bus``.
    """

    def __init__(self, dev: Device) -> None:
        self.dev = dev
        super().__init__({"reg": In(RegSignature(dev.address_width)), **_cpu_ports()})

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        dev = self.dev
        reg = self.reg
        aw = dev.address_width
        R = dev.register

        lvt_names = [r.name for r in dev.registers if r.name.startswith("LVT_")]
        for needed in ("LVT_TIMER", "LVT_LINT0", "LVT_LINT1", "LVT_ERROR"):
            if needed not in lvt_names:
                raise ValueError(f"the LAPIC spec must define {needed}")
        wmask = {r.name: r.writable_mask for r in dev.registers}
        if not dev.param("eoi_suppression"):
            wmask["SVR"] &= ~R("SVR").field("EOI_SUPPRESS").mask
        tsc_deadline = bool(dev.param("tsc_deadline"))
        timer_mode = R("LVT_TIMER").field("TIMER_MODE")
        if not tsc_deadline:
            wmask["LVT_TIMER"] &= ~(1 << timer_mode.msb)

        def fld(value: Value, reg_name: str, field: str) -> Value:
            f = R(reg_name).field(field)
            return value[f.lsb : f.lsb + f.width]

        icr_dm = R("ICR_LO").field("DELIVERY_MODE")
        DM = {e.name: e.value for e in icr_dm.enums}
        LEVEL = R("ICR_LO").field("TRIGGER").enum("LEVEL")
        PERIODIC = timer_mode.enum("PERIODIC")
        TSC = timer_mode.enum("TSC_DEADLINE")
        esr_bit = {f.name: f.lsb for f in R("ESR").fields}

        # ------------------------------------------------------------ state
        # Plain storage registers: only the writable bits are ever non-zero.
        stored = [r.name for r in dev.registers if r.access.writable and r.name not in ("ID", "EOI") and wmask[r.name]]
        st = {n: Signal(32, name=n.lower(), init=R(n).reset & wmask[n]) for n in stored}
        nx = {n: Signal(32, name=n.lower() + "_next") for n in stored}
        for n in stored:
            m.d.comb += nx[n].eq(st[n])

        id_reg = Signal(8)
        id_set = Signal()
        irr = Signal(256)
        isr = Signal(256)
        tmr = Signal(256)
        esr_pending = Signal(8)
        esr = Signal(8)
        tmcct = Signal(32)
        presc = Signal(7)
        remote_irr = Signal(2)
        lint_prev = Signal(2)
        nmi = Signal()
        busy = Signal()
        ipi_payload = {
            name: Signal(len(getattr(self.ipi, name)), name=f"ipi_{name}")
            for name in ("vector", "delivery_mode", "dest_mode", "dest", "shorthand", "trigger", "level", "source")
        }

        enabled = fld(st["SVR"], "SVR", "ENABLE")
        apic_id = Mux(id_set, id_reg, self.initial_apic_id)

        # ------------------------------------------------------------ MSR state
        # IA32_APIC_BASE: its writable bits are stored; EN and EXTD are the mode.
        base_msr = dev.msr("IA32_APIC_BASE") if dev.has_msr("IA32_APIC_BASE") else None
        x2view = dev.x2apic
        abase = Signal(64, name="apic_base", init=base_msr.register.reset & base_msr.register.writable_mask
                       if base_msr is not None else 0)
        if base_msr is not None:
            en_f = base_msr.register.field("EN")
            hw_en = abase[en_f.lsb]
            if x2view is not None:
                x2 = abase[base_msr.register.field("EXTD").lsb]
            else:
                x2 = Const(0, 1)
        else:
            hw_en = Const(1, 1)
            x2 = Const(0, 1)
        mmio_on = Signal()
        m.d.comb += mmio_on.eq(hw_en & ~x2)
        dl_supported = tsc_deadline and dev.has_msr("IA32_TSC_DEADLINE")
        dl = Signal(64, name="tsc_deadline")
        icr_dest32 = Signal(32)  # x2APIC ICR bits 63:32
        id32 = Signal(32)
        m.d.comb += id32.eq(Mux(x2, self.initial_apic_id, apic_id))

        # ------------------------------------------------------------ priorities
        # IRR: the encoder's result is registered (the priority stage), so
        # ``intr``/``vector``/APR see IRR as it was one cycle earlier.
        irr_any_now, irrv_now, _ = highest_set(m, irr, "irr")
        irr_any = Signal()
        irrv = Signal(8)
        settle = Signal()  # INTA and EOI acted together at the last edge: the stage is one vector behind
        m.d.sync += [irr_any.eq(irr_any_now), irrv.eq(irrv_now)]
        # ISR holds at most one vector per priority class (INTA only moves a
        # vector whose class is above every in-service one; EOI retires the
        # highest), so it is stored as a valid bit and a low nibble per class.
        isr_valid = Signal(16)
        isr_low = [Signal(4, name=f"isr_low{c}") for c in range(16)]
        isr_any, isr_cls, isr_low_top = highest_set(m, isr_valid, "isr", isr_low)
        isrv = Signal(8)
        m.d.comb += isrv.eq(Cat(isr_low_top, isr_cls))
        isr = Signal(256)  # the 256-bit view (waveforms only; nothing reads it)
        m.d.comb += isr.eq(Cat(*(Mux(isr_valid[c], (Const(1, 16) << isr_low[c])[:16], 0) for c in range(16))))
        tpr = st["TPR"][:8]
        # TPR's class against the in-service classes without the ISR encoder:
        # a mask of the classes above (at or above) TPR's, ANDed with the valid bits.
        tpr_ge_isr = Signal()  # TPR[7:4] >= ISRV[7:4]
        tpr_gt_isr = Signal()  # TPR[7:4] > ISRV[7:4] (ISRV = 0 when ISR is empty)
        above_tpr = Cat(Const(0, 1), *(tpr[4:] < c for c in range(1, 16)))  # bit c: class c > TPR's
        from_tpr = Cat(*(tpr[4:] <= c for c in range(15)), Const(1, 1))  # bit c: class c >= TPR's
        m.d.comb += [
            tpr_ge_isr.eq((isr_valid & above_tpr) == 0),
            tpr_gt_isr.eq(((isr_valid & from_tpr) == 0) & (tpr[4:] != 0)),
        ]
        ppr = Signal(8)
        m.d.comb += ppr.eq(Mux(tpr_ge_isr, tpr, Cat(Const(0, 4), isrv[4:])))
        # IRRV's class above every in-service class, without the ISR encoder:
        # no ISR class at or above it (the stage registers which classes those
        # are). The same as IRRV[7:4] > ISRV[7:4] whenever IRRV[7:4] > TPR[7:4],
        # which makes IRRV's class non-zero.
        irr_ge = Signal(16)  # bit c: class c >= the stage's IRRV class
        m.d.sync += irr_ge.eq(Cat(*(irrv_now[4:] <= c if c < 15 else Const(1, 1) for c in range(16))))
        deliverable = Signal()
        m.d.comb += deliverable.eq(
            enabled & irr_any & ~settle & (irrv[4:] > tpr[4:]) & ((isr_valid & irr_ge) == 0)
        )
        # APR: the comparisons with ISRV's class use the masks (TPR's above,
        # the stage's ``irr_ge`` for IRRV's); the encoder's class is only data.
        apr = Signal(8)
        irr_gt_isr = Signal()  # IRRV[7:4] > ISRV[7:4] (or equal when ISR is empty: the same maximum)
        m.d.comb += irr_gt_isr.eq((isr_valid & irr_ge) == 0)
        with m.If((tpr[4:] >= irrv[4:]) & tpr_gt_isr):
            m.d.comb += apr.eq(tpr)
        with m.Elif(~(tpr[4:] >= irrv[4:]) & irr_gt_isr):
            m.d.comb += apr.eq(Cat(Const(0, 4), irrv[4:]))
        with m.Else():
            m.d.comb += apr.eq(Cat(Const(0, 4), Mux(tpr_gt_isr, tpr[4:], isrv[4:])))

        ldr_out = Signal(32)
        m.d.comb += ldr_out.eq(Mux(x2, Cat((Const(1, 16) << id32[:4])[:16], id32[4:20]), st["LDR"]))
        m.d.comb += [
            self.intr.eq(deliverable),
            self.vector.eq(irrv),
            self.nmi.eq(nmi),
            self.apic_id.eq(id32),
            self.x2apic.eq(x2),
            self.ldr.eq(ldr_out),
            self.dfr_model.eq(fld(st["DFR"], "DFR", "MODEL")),
            self.arb_priority.eq(apr),
            self.enabled.eq(enabled),
            self.msg_in.ready.eq(1),
            self.ipi.valid.eq(busy),
        ]
        for name, sig in ipi_payload.items():
            m.d.comb += getattr(self.ipi, name).eq(sig)

        # ------------------------------------------------------------ MSR port
        # ready in the cycle after valid rises (``msr_seen``), unless an x2APIC
        # ICR/SELF_IPI write must wait for the IPI slot.
        msr = self.msr
        msr_seen = Signal()
        msr_ready = Signal()
        msr_acc = Signal()
        is_base = Signal()
        is_dl = Signal()
        x2_hit = Signal()  # an MSR of the x2APIC view, in x2APIC mode
        x2_rd_ok = Signal()
        x2_wr_ok = Signal()
        x2_off = Signal(aw)  # the MMIO offset the MSR stands for
        x2_name: dict[str, Signal] = {n: Signal(name=f"x2_is_{n.lower()}") for n in ("ID", "LDR", "ICR", "SELF_IPI")}
        if base_msr is not None:
            m.d.comb += is_base.eq(msr.addr == base_msr.address)
        if dl_supported:
            m.d.comb += is_dl.eq(msr.addr == dev.msr("IA32_TSC_DEADLINE").address)
        # #GP bits: one "wdata has a bit of this mask" test per distinct mask of
        # the view, selected by the decode (not a 64-bit mask per MSR).
        gp_masks = sorted({xr.gp_mask for xr in x2view.registers}) if x2view is not None else []
        gp_hit = Signal(max(1, len(gp_masks)))
        gp_sel = Signal(max(1, len(gp_masks)))
        for k, mask in enumerate(gp_masks):
            m.d.comb += gp_hit[k].eq((msr.wdata & mask) != 0)
        if x2view is not None:
            # The view spans msr_base .. msr_base + size/16 - 1: a range check on
            # the high bits, then a switch on the low ones.
            span = max(1, (dev.size // 16 - 1).bit_length())
            in_view = Signal()
            m.d.comb += in_view.eq((msr.addr >> span) == (x2view.msr_base >> span))
            if x2view.msr_base & ((1 << span) - 1):
                raise ValueError("the x2APIC view's msr_base must be aligned to the view's size")
            with m.If(in_view), m.Switch(msr.addr[:span]):
                for xr in x2view.registers:
                    for _iname, addr, idx in xr.instances():
                        with m.Case(addr & ((1 << span) - 1)):
                            m.d.comb += [
                                x2_hit.eq(x2),
                                x2_rd_ok.eq(int(xr.readable)),
                                x2_wr_ok.eq(int(xr.writable)),
                                gp_sel.eq(1 << gp_masks.index(xr.gp_mask)),
                                x2_off.eq(xr.register.offset + 16 * idx),
                            ]
                            if xr.name in x2_name:
                                m.d.comb += x2_name[xr.name].eq(1)
        # The decode of addr (and wdata's #GP bits) is registered: ``ready``
        # comes no earlier than the cycle after ``valid`` rises and the
        # requester holds addr and wdata until then, so the accepting cycle
        # uses the decode of the cycle before (no 32-bit compare on its paths).
        def registered(sig: Signal) -> Signal:
            q = Signal.like(sig, name=f"{sig.name}_q")
            m.d.sync += q.eq(sig)
            return q

        is_base, is_dl, gp_hit, gp_sel = map(registered, (is_base, is_dl, gp_hit, gp_sel))
        x2_hit, x2_rd_ok, x2_wr_ok, x2_off = map(registered, (x2_hit, x2_rd_ok, x2_wr_ok, x2_off))
        x2_name = {n: registered(sig) for n, sig in x2_name.items()}
        busy_after = Signal()
        m.d.comb += busy_after.eq(busy & ~self.ipi.ready)
        msr_stall = Signal()
        m.d.comb += [
            msr_stall.eq(x2_hit & msr.write & (x2_name["ICR"] | x2_name["SELF_IPI"]) & busy_after),
            msr_ready.eq(msr.valid & msr_seen & ~msr_stall),
            msr_acc.eq(msr.valid & msr_ready),
        ]
        m.d.sync += msr_seen.eq(msr.valid & ~msr_ready)
        # IA32_APIC_BASE writes: reserved bits, an invalid mode or an illegal transition fault.
        base_ok = Signal()
        base_disable = Signal()  # a legal write that leaves an enabled mode for DISABLED
        base_fault = Signal()
        if base_msr is not None:
            breg = base_msr.register

            def in_mode(value: Value, name: str) -> Value:
                mode = base_msr.mode(name)
                return (value & mode.mask(breg)) == mode.value(breg)

            # wdata's mode and reserved bits are decoded a cycle ahead, as addr is
            # (the requester holds wdata until ready): no wdata logic lies on the
            # path from the accepting cycle to the INIT-like reset of a disable.
            wd_mode: dict[str, Signal] = {}
            for mo in base_msr.modes:
                wd_mode[mo.name] = Signal(name=f"base_wdata_{mo.name.lower()}")
                m.d.comb += wd_mode[mo.name].eq(in_mode(msr.wdata, mo.name))
            wd_gp_ok = Signal(name="base_wdata_gp_ok")
            m.d.comb += wd_gp_ok.eq((msr.wdata & base_msr.gp_mask) == 0)
            wd_mode = {n: registered(sig) for n, sig in wd_mode.items()}
            wd_gp_ok = registered(wd_gp_ok)
            legal: Value = Const(0, 1)
            for a in base_msr.modes:
                for b in base_msr.modes:
                    if base_msr.legal(a.name, b.name):
                        legal = legal | (in_mode(abase, a.name) & wd_mode[b.name])
            m.d.comb += [
                base_ok.eq(wd_gp_ok & legal),
                base_fault.eq(msr.write & ~base_ok),
                base_disable.eq(msr_acc & is_base & msr.write & base_ok & wd_mode["DISABLED"]
                                & ~in_mode(abase, "DISABLED")),
            ]
            with m.If(msr_acc & is_base & msr.write & base_ok):
                m.d.sync += abase.eq(msr.wdata & breg.writable_mask)
        x2_fault = Signal()
        m.d.comb += x2_fault.eq(Mux(msr.write, ~x2_wr_ok | ((gp_hit & gp_sel) != 0), ~x2_rd_ok))
        msr_fault = Signal()
        m.d.comb += msr_fault.eq(Mux(is_base, base_fault, Mux(is_dl, 0, Mux(x2_hit, x2_fault, 1))))
        x2_go = Signal()  # an x2APIC register access that takes effect
        m.d.comb += x2_go.eq(msr_acc & x2_hit & ~x2_fault)
        hw_en_next = Signal()  # EN as this edge leaves it
        if base_msr is not None:
            m.d.comb += hw_en_next.eq(Mux(msr_acc & is_base & msr.write & base_ok, msr.wdata[en_f.lsb], hw_en))
        else:
            m.d.comb += hw_en_next.eq(1)

        # The internal register access: the page in xAPIC mode, the MSR view in x2APIC mode.
        r_addr = Signal(aw)
        r_stb = Signal()
        m.d.comb += [
            r_addr.eq(Mux(x2, x2_off, reg.addr)),
            r_stb.eq(reg.r_stb & mmio_on),
        ]

        # ------------------------------------------------------------ register read
        err = Signal(8)  # errors of this edge, by ESR bit
        err_reserved_r = Signal()
        reserved = Signal()
        decoded = {r.name: _pattern(r, aw) for r in dev.registers}
        word = r_addr[4:7]  # array index for ISR/TMR/IRR (stride 0x10, 8 instances)
        const_bits = {}
        for r in dev.registers:
            bits = 0
            for f in r.fields:
                if not f.access.writable and f.name not in ("DELIVERY_STATUS", "REMOTE_IRR"):
                    bits |= f.mask & (f.reset << f.lsb)
            const_bits[r.name] = bits
        for arr in ("ISR", "TMR", "IRR"):
            r = R(arr)
            if r.count != 8 or r.stride != 0x10:
                raise ValueError(f"{arr} must be 8 registers 0x10 apart")

        # ISR word w holds classes 2w and 2w + 1: select their entries, then decode.
        isr_pair_valid = Signal(2)
        isr_pair_low = Signal(8)
        isr_word = Signal(32)
        m.d.comb += [
            isr_pair_valid.eq(isr_valid.word_select(word, 2)),
            isr_pair_low.eq(Cat(*isr_low).word_select(word, 8)),
            isr_word.eq(Cat(*(Mux(isr_pair_valid[k], (Const(1, 16) << isr_pair_low[4 * k : 4 * k + 4])[:16], 0)
                              for k in range(2)))),
        ]
        r_data = Signal(32)
        with m.Switch(r_addr):
            for r in dev.registers:
                with m.Case(decoded[r.name]):
                    n = r.name
                    if n == "ID":
                        m.d.comb += r_data.eq(Cat(Const(0, 24), apic_id))
                    elif n == "ISR":
                        m.d.comb += r_data.eq(isr_word)
                    elif n in ("TMR", "IRR"):
                        bits = {"TMR": tmr, "IRR": irr}[n]
                        m.d.comb += r_data.eq(bits.word_select(word, 32))
                    elif n == "PPR":
                        m.d.comb += r_data.eq(ppr)
                    elif n == "APR":
                        m.d.comb += r_data.eq(apr)
                    elif n == "ESR":
                        m.d.comb += r_data.eq(esr)
                    elif n == "TMCCT":
                        m.d.comb += r_data.eq(tmcct)
                    else:
                        value: Value = Const(const_bits[n], 32)
                        if n in st:
                            value = value | st[n]
                        if n == "ICR_LO":
                            value = value | (busy << R(n).field("DELIVERY_STATUS").lsb)
                        if n in ("LVT_LINT0", "LVT_LINT1"):
                            value = value | (remote_irr[int(n[-1])] << R(n).field("REMOTE_IRR").lsb)
                        m.d.comb += r_data.eq(value)
            with m.Default():
                m.d.comb += reserved.eq(1)
        m.d.comb += err_reserved_r.eq(r_stb & reserved)
        m.d.comb += reg.r_data.eq(Mux(mmio_on, r_data, 0xFFFFFFFF))
        # MSR read data: IA32_APIC_BASE (BSP from the initial APIC ID), the
        # deadline, or the x2APIC view (ID, LDR and the 64-bit ICR differ).
        x2_rdata = Signal(64)
        icr_lo_x2 = Signal(32)
        m.d.comb += icr_lo_x2.eq(Const(const_bits["ICR_LO"], 32) | st["ICR_LO"])
        with m.If(x2_name["ID"]):
            m.d.comb += x2_rdata.eq(id32)
        with m.Elif(x2_name["LDR"]):
            m.d.comb += x2_rdata.eq(ldr_out)
        with m.Elif(x2_name["ICR"]):
            m.d.comb += x2_rdata.eq(Cat(icr_lo_x2, icr_dest32))
        with m.Else():
            m.d.comb += x2_rdata.eq(r_data)
        base_rdata: Value = Const(0, 64)
        if base_msr is not None:
            bsp = base_msr.register.field("BSP")
            base_rdata = abase | ((self.initial_apic_id == 0) << bsp.lsb)
        # rdata means something for a read without a fault only.
        with m.If(is_base):
            m.d.comb += msr.rdata.eq(base_rdata)
        with m.Elif(is_dl):
            m.d.comb += msr.rdata.eq(dl)
        with m.Else():
            m.d.comb += msr.rdata.eq(x2_rdata)
        m.d.comb += [msr.ready.eq(msr_ready), msr.fault.eq(msr_fault)]

        # ------------------------------------------------------------ INTA
        inta_go = Signal()
        m.d.comb += inta_go.eq(self.inta & deliverable)
        ack_valid = Signal()
        ack_vector = Signal(8)
        m.d.sync += ack_valid.eq(self.inta)
        with m.If(self.inta):
            m.d.sync += ack_vector.eq(Mux(deliverable, irrv, fld(st["SVR"], "SVR", "VECTOR")))
        m.d.comb += [self.ack_valid.eq(ack_valid), self.ack_vector.eq(ack_vector)]

        # ------------------------------------------------------------ NMI ack, IPI acceptance
        # ------------------------------------------------------------ register write
        w = Signal()
        wdata = Signal(32)
        # An x2APIC register write through the internal port. It leaves out the
        # stall (a stalled write is an ICR write while the IPI slot stays busy,
        # and the ICR_LO case below ignores those by itself): ``ipi__ready`` is
        # not on the path to the register decode.
        x2_plain = msr.valid & msr_seen & x2_hit & ~x2_fault & msr.write & ~x2_name["SELF_IPI"]
        m.d.comb += [
            w.eq(Mux(x2, x2_plain, reg.w_stb & (reg.w_strb == 0xF) & hw_en)),
            wdata.eq(Mux(x2, msr.wdata[:32], reg.w_data)),
        ]
        self_send = Signal()  # a SELF_IPI write with a legal vector
        self_bad = Signal()
        self_vec = msr.wdata[:8]
        with m.If(x2_go & msr.write & x2_name["SELF_IPI"]):
            with m.If(self_vec < 16):
                m.d.comb += self_bad.eq(1)
            with m.Else():
                m.d.comb += self_send.eq(1)
        with m.If(x2_go & msr.write & x2_name["ICR"]):
            m.d.sync += icr_dest32.eq(msr.wdata[32:])
        eoi_write = Signal()
        esr_write = Signal()
        tmict_load = Signal()
        tsc_switch = Signal()
        icr_send = Signal()
        err_reserved_w = Signal()
        err_send = Signal()
        id_write = Signal()
        with m.If(w), m.Switch(r_addr):
            for r in dev.registers:
                n = r.name
                with m.Case(decoded[n]):
                    new = wdata & wmask[n]
                    if n == "ID":
                        m.d.comb += id_write.eq(1)
                    elif n == "EOI":
                        m.d.comb += eoi_write.eq(1)
                    elif n == "ESR":
                        m.d.comb += esr_write.eq(1)
                    elif n == "SVR":
                        m.d.comb += nx[n].eq(new)
                        with m.If(~fld(new, "SVR", "ENABLE")):
                            for lvt in lvt_names:
                                m.d.comb += nx[lvt].eq(st[lvt] | R(lvt).field("MASK").mask)
                    elif n in lvt_names:
                        forced = Mux(enabled, 0, R(n).field("MASK").mask)
                        m.d.comb += nx[n].eq(new | forced)
                        if n == "LVT_TIMER" and tsc_deadline:
                            old_mode = fld(st[n], n, "TIMER_MODE")
                            new_mode = fld(new, n, "TIMER_MODE")
                            with m.If((old_mode != new_mode) & ((old_mode == TSC) | (new_mode == TSC))):
                                m.d.comb += [tsc_switch.eq(1), nx["TMICT"].eq(0)]
                    elif n == "TMICT":
                        in_tsc = fld(st["LVT_TIMER"], "LVT_TIMER", "TIMER_MODE") == TSC
                        if not tsc_deadline:
                            in_tsc = Const(0, 1)
                        with m.If(~in_tsc):
                            m.d.comb += [nx[n].eq(new), tmict_load.eq(1)]
                    elif n == "ICR_LO":
                        with m.If(~busy_after):
                            m.d.comb += nx[n].eq(new)
                            vec = fld(new, n, "VECTOR")
                            dm = fld(new, n, "DELIVERY_MODE")
                            fixed = (dm == DM["FIXED"]) | (dm == DM["LOWEST"])
                            deassert = (dm == DM["INIT"]) & (fld(new, n, "TRIGGER") == LEVEL) & ~fld(new, n, "LEVEL")
                            reserved_dm = Const(0, 1)
                            for code in range(8):
                                if code not in DM.values():
                                    reserved_dm = reserved_dm | (dm == code)
                            with m.If(fixed & (vec < 16)):
                                m.d.comb += err_send.eq(1)
                            with m.Elif(~deassert & ~reserved_dm):
                                m.d.comb += icr_send.eq(1)
                    elif n in st:
                        m.d.comb += nx[n].eq(new)
                    # other registers are read-only: writes ignored
            with m.Default():
                m.d.comb += err_reserved_w.eq(1)

        with m.If(id_write):
            m.d.sync += [id_reg.eq(fld(wdata, "ID", "ID")), id_set.eq(1)]

        # IPI slot
        with m.If(icr_send):
            m.d.sync += busy.eq(1)
            icr = nx["ICR_LO"]
            m.d.sync += [
                ipi_payload["vector"].eq(fld(icr, "ICR_LO", "VECTOR")),
                ipi_payload["delivery_mode"].eq(fld(icr, "ICR_LO", "DELIVERY_MODE")),
                ipi_payload["dest_mode"].eq(fld(icr, "ICR_LO", "DEST_MODE")),
                ipi_payload["shorthand"].eq(fld(icr, "ICR_LO", "SHORTHAND")),
                ipi_payload["trigger"].eq(fld(icr, "ICR_LO", "TRIGGER")),
                ipi_payload["level"].eq(fld(icr, "ICR_LO", "LEVEL")),
                ipi_payload["dest"].eq(Mux(x2, msr.wdata[32:], fld(st["ICR_HI"], "ICR_HI", "DEST"))),
                ipi_payload["source"].eq(id32),
            ]
        with m.Elif(self_send):
            # SELF_IPI: fixed, edge, physical, shorthand SELF, destination 0.
            m.d.sync += [
                busy.eq(1),
                ipi_payload["vector"].eq(self_vec),
                ipi_payload["delivery_mode"].eq(DM["FIXED"]),
                ipi_payload["dest_mode"].eq(0),
                ipi_payload["shorthand"].eq(R("ICR_LO").field("SHORTHAND").enum("SELF")),
                ipi_payload["trigger"].eq(0),
                ipi_payload["level"].eq(0),
                ipi_payload["dest"].eq(0),
                ipi_payload["source"].eq(id32),
            ]
        with m.Else():
            m.d.sync += busy.eq(busy_after)

        # EOI: the highest ISR bit, or the vector INTA moves in this same cycle.
        eoi_vec = Signal(8)
        eoi_go = Signal()
        m.d.comb += [
            eoi_vec.eq(Mux(inta_go, irrv, isrv)),
            eoi_go.eq(eoi_write & (inta_go | isr_any)),
        ]
        # INTA clears the IRR bit it moves (ISR is per class, below).
        inta_bit = decode256(m, inta_go, irrv, "inta_bit")
        eoi_valid = Signal()
        eoi_vector = Signal(8)
        eoi_level = Signal()  # TMR of the retired vector: both candidates looked up in parallel with inta_go
        m.d.comb += eoi_level.eq(Mux(inta_go, tmr.bit_select(irrv, 1), tmr.bit_select(isrv, 1)))
        m.d.sync += eoi_valid.eq(eoi_go & eoi_level & ~fld(st["SVR"], "SVR", "EOI_SUPPRESS"))
        with m.If(eoi_go):
            m.d.sync += eoi_vector.eq(eoi_vec)
        m.d.comb += [self.eoi.valid.eq(eoi_valid), self.eoi.vector.eq(eoi_vector)]
        # The EOI's Remote-IRR clear acts at this edge; the LINT logic of this
        # cycle still sees Remote IRR as it was (no EOI → LINT → IRR path).
        remote_eoi = Signal(2)
        for k in (0, 1):
            lv = fld(st[f"LVT_LINT{k}"], f"LVT_LINT{k}", "VECTOR")
            m.d.comb += remote_eoi[k].eq(eoi_go & (lv == eoi_vec))

        # ------------------------------------------------------------ msg_in
        # A fixed message sees SVR's enable as it was at the start of the cycle
        # (no path from a register write to IRR). It needs no hardware-enable
        # test: SVR is in its reset state (disabled) whenever EN was 0 at the
        # start of the cycle, and a hardware disable at this edge clears IRR.
        msg = self.msg_in
        msg_level = msg.trigger == LEVEL
        msg_fixed = (msg.delivery_mode == DM["FIXED"]) | (msg.delivery_mode == DM["LOWEST"])
        msg_deassert = msg_level & ~msg.level
        msg_take = Signal()
        msg_illegal = Signal()
        msg_nmi = Signal()
        msg_init = Signal()
        msg_sipi = Signal()
        # (Plain expressions rather than If blocks: Icarus evaluates an ``always @*``
        # only when one of its inputs changes, and these inputs can all stay at their
        # time-0 values, the message fields X, leaving the outputs X.)
        msg_fixed_on = Signal()
        m.d.comb += [
            msg_fixed_on.eq(msg.valid & msg_fixed & ~msg_deassert & enabled),
            msg_illegal.eq(msg_fixed_on & (msg.vector[4:] == 0)),
            msg_take.eq(msg_fixed_on & (msg.vector[4:] != 0)),
        ]
        with m.If(msg.valid & hw_en_next):
            m.d.comb += [
                msg_nmi.eq(msg.delivery_mode == DM["NMI"]),
                msg_init.eq((msg.delivery_mode == DM["INIT"]) & ~msg_deassert),
                msg_sipi.eq(msg.delivery_mode == DM["STARTUP"]),
            ]

        # ------------------------------------------------------------ LINT0/LINT1
        pins = Cat(self.lint0, self.lint1)
        m.d.sync += lint_prev.eq(pins)
        lint_set = []  # (go, vector, level) per pin, fixed delivery
        lint_nmi = []
        lint_init = []
        lint_illegal = []
        remote_set = Signal(2)
        blocked = msg_init | base_disable
        for k in (0, 1):
            name = f"LVT_LINT{k}"
            lvt = st[name]  # as at the start of the cycle: a write of this cycle acts from the next edge
            pol = fld(lvt, name, "POLARITY")
            active = pins[k] ^ pol
            rising = active & ~(lint_prev[k] ^ pol)
            on = ~fld(lvt, name, "MASK") & ~blocked
            dm = fld(lvt, name, "DELIVERY_MODE")
            vec = fld(lvt, name, "VECTOR")
            lvl = fld(lvt, name, "TRIGGER") == LEVEL
            fixed = on & (dm == DM["FIXED"])
            want = Signal(name=f"lint{k}_want")
            m.d.comb += want.eq(fixed & Mux(lvl, active & ~remote_irr[k], rising))
            go = Signal(name=f"lint{k}_go")
            bad = Signal(name=f"lint{k}_illegal")
            m.d.comb += [go.eq(want & (vec >= 16)), bad.eq(want & (vec < 16))]
            m.d.comb += remote_set[k].eq(go & lvl)
            lint_set.append((go, vec, lvl))
            lint_illegal.append(bad)
            nmi_k = Signal(name=f"lint{k}_nmi")
            init_k = Signal(name=f"lint{k}_init")
            m.d.comb += [
                nmi_k.eq(on & (dm == DM["NMI"]) & rising),
                init_k.eq(on & (dm == DM["INIT"]) & rising),
            ]
            lint_nmi.append(nmi_k)
            lint_init.append(init_k)
            blocked = blocked | init_k

        # ------------------------------------------------------------ timer
        # The timer sees LVT_TIMER and TDCR as they were at the start of the
        # cycle: whether it decrements or expires at this edge depends on
        # registers alone (a register write of this cycle acts from the next
        # edge; a TMICT load or a mode switch of this cycle replaces the count,
        # but an expiry due at this edge still raises its interrupt). The
        # prescaler is done when presc >= d - 1, compared with all eight
        # divisors, and the divide code only selects one of the eight answers.
        presc_ge = Signal(8)  # bit c: presc >= 2^((c+1) mod 8) - 1, by divide code c
        limits = [(1 << ((c + 1) % 8)) - 1 for c in range(8)]
        m.d.comb += presc_ge.eq(Cat(*(presc >= lim if lim else Const(1, 1) for lim in limits)))

        presc_done = Signal()
        tdcr = st["TDCR"]
        m.d.comb += presc_done.eq(presc_ge.bit_select(Cat(fld(tdcr, "TDCR", "DIV_LO"), fld(tdcr, "TDCR", "DIV_HI")), 1))
        running = tmcct != 0
        dec = Signal()
        expire = Signal()
        m.d.comb += [
            dec.eq(running & presc_done),
            expire.eq(dec & (tmcct == 1)),
        ]
        lvtt = st["LVT_TIMER"]
        periodic = fld(lvtt, "LVT_TIMER", "TIMER_MODE") == PERIODIC
        with m.If(tmict_load):
            m.d.sync += [tmcct.eq(wdata), presc.eq(0)]
        with m.Elif(tsc_switch):
            m.d.sync += [tmcct.eq(0), presc.eq(0)]
        with m.Elif(dec):
            m.d.sync += presc.eq(0)
            with m.If(expire):
                m.d.sync += tmcct.eq(Mux(periodic, st["TMICT"], 0))
            with m.Else():
                m.d.sync += tmcct.eq(tmcct - 1)
        with m.Elif(running):
            m.d.sync += presc.eq(presc + 1)
        # TSC-deadline: armed while IA32_TSC_DEADLINE != 0 (only ever in
        # TSC-deadline mode); fires at the edge that ends a cycle with tsc >= it.
        # "Reached" is a register (``dl_due``), computed in the cycle before for
        # the deadline that edge leaves, against tsc + 1 (tsc >= deadline - 1):
        # the value tsc has next when it counts one per clock. So no compare lies
        # between the deadline and IRR. The deadline minus one is stored beside
        # it (``dl_m1``); a WRMSR's value is compared in parallel with the stored
        # one, and whether the WRMSR acts only selects between the two results.
        dl_due = Signal()
        init_go = Signal()
        if dl_supported:
            dl_write = Signal()
            dl_m1 = Signal(64, name="tsc_deadline_m1")
            hit_w = Signal()  # the WRMSR's deadline is reached at the next edge
            hit_k = Signal()  # the stored deadline is reached at the next edge
            # wdata - 1 and wdata != 0 a cycle ahead (the requester holds wdata until ready)
            wdata_m1 = Signal(64, name="dl_wdata_m1")
            wdata_nz = Signal(name="dl_wdata_nz")
            m.d.sync += [wdata_m1.eq(msr.wdata - 1), wdata_nz.eq(msr.wdata != 0)]
            m.d.comb += [
                dl_write.eq(msr_acc & is_dl & msr.write & (fld(nx["LVT_TIMER"], "LVT_TIMER", "TIMER_MODE") == TSC)),
                hit_w.eq(wdata_nz & ge_segmented(m, self.tsc, wdata_m1, "dl_reached_w")),
                hit_k.eq((dl != 0) & ge_segmented(m, self.tsc, dl_m1, "dl_reached")),
            ]
            m.d.sync += dl_due.eq(
                ~init_go & ~base_disable & Mux(dl_write, hit_w, hit_k & ~dl_due & ~tsc_switch)
            )
            with m.If(dl_write):
                m.d.sync += [dl.eq(msr.wdata), dl_m1.eq(wdata_m1)]
            with m.Elif(dl_due | tsc_switch):
                m.d.sync += dl.eq(0)
        t_vec = fld(lvtt, "LVT_TIMER", "VECTOR")
        t_want = (expire | dl_due) & ~fld(lvtt, "LVT_TIMER", "MASK")
        t_go = Signal()
        t_bad = Signal()
        m.d.comb += [t_go.eq(t_want & (t_vec >= 16)), t_bad.eq(t_want & (t_vec < 16))]

        # ------------------------------------------------------------ errors
        m.d.comb += [
            err[esr_bit["ILLEGAL_REG_ADDR"]].eq(err_reserved_r | err_reserved_w),
            err[esr_bit["SEND_ILLEGAL_VECTOR"]].eq(err_send | self_bad),
            err[esr_bit["RECV_ILLEGAL_VECTOR"]].eq(msg_illegal | lint_illegal[0] | lint_illegal[1] | t_bad),
        ]
        lvte = st["LVT_ERROR"]
        e_vec = fld(lvte, "LVT_ERROR", "VECTOR")
        # The error interrupt of this cycle's errors is raised at the next edge
        # (``err_seen``): the error sources are not on the path to IRR.
        err_seen = Signal()
        e_go = Signal()
        m.d.comb += e_go.eq(err_seen & ~fld(lvte, "LVT_ERROR", "MASK") & (e_vec >= 16))
        m.d.sync += [
            esr_pending.eq(Mux(esr_write, 0, esr_pending) | err),
            err_seen.eq(err != 0),
        ]
        with m.If(esr_write):
            m.d.sync += esr.eq(esr_pending)

        # ------------------------------------------------------------ IRR / ISR / TMR
        # Sources in model order: msg_in, LINT0, LINT1, timer, error interrupt.
        sources = [(msg_take, msg.vector, msg_level)]
        sources += lint_set
        sources += [(t_go, t_vec, Const(0, 1)), (e_go, e_vec, Const(0, 1))]
        # Each source sets its IRR bit and writes its trigger into TMR; a later
        # source overrides an earlier one on the same vector. Every TMR stage is
        # a named signal referenced once, so the chain stays linear in size.
        irr_n: Value = irr & ~inta_bit
        tmr_n: Value = tmr
        for k, (go, vec, lvl) in enumerate(sources):
            bit = decode256(m, go, vec, f"src{k}_bit")
            irr_n = irr_n | bit
            stage = Signal(256, name=f"tmr_stage{k}")
            m.d.comb += stage.eq((tmr_n & ~bit) | Mux(lvl, bit, 0))
            tmr_n = stage
        m.d.sync += [
            irr.eq(irr_n),
            tmr.eq(tmr_n),
            settle.eq(inta_go & eoi_go),
            remote_irr.eq((remote_irr & ~remote_eoi) | remote_set),
        ]

        # ISR: INTA sets its class's entry, EOI clears the highest; both in
        # one cycle retire the vector INTA moves, so ISR stays as it was.
        inta_cls = irrv[4:]
        with m.If(inta_go & ~eoi_go):
            m.d.sync += isr_valid.eq(isr_valid | (Const(1, 16) << inta_cls))
        with m.Elif(eoi_go & ~inta_go):
            m.d.sync += isr_valid.eq(isr_valid & ~(Const(1, 16) << isr_cls))
        with m.If(inta_go):
            for c in range(16):
                with m.If(inta_cls == c):
                    m.d.sync += isr_low[c].eq(irrv[:4])

        # NMI: set wins over acknowledge.
        nmi_set = msg_nmi | lint_nmi[0] | lint_nmi[1]
        m.d.sync += nmi.eq((nmi & ~self.nmi_ack) | nmi_set)

        # Stored registers.
        for n in stored:
            m.d.sync += st[n].eq(nx[n])

        # Start-up outputs.
        m.d.comb += init_go.eq(msg_init | lint_init[0] | lint_init[1])
        init_out = Signal()
        sipi_out = Signal()
        sipi_vector = Signal(8)
        m.d.sync += [init_out.eq(init_go), sipi_out.eq(msg_sipi)]
        with m.If(msg_sipi):
            m.d.sync += sipi_vector.eq(msg.vector)
        m.d.comb += [
            self.init.eq(init_out),
            self.sipi.eq(sipi_out),
            self.sipi_vector.eq(sipi_vector),
        ]

        # INIT: back to the power-on state, except the ID, NMI, the IPI slot,
        # the pins' history and the output pulses. A hardware disable
        # (IA32_APIC_BASE.EN 1 → 0) also resets the ID and the pending NMI.
        with m.If(base_disable):
            m.d.sync += [id_set.eq(0), nmi.eq(0)]
        with m.If(init_go | base_disable):
            m.d.sync += [dl.eq(0), icr_dest32.eq(0)]
            for n in stored:
                m.d.sync += st[n].eq(st[n].init)
            m.d.sync += [
                irr.eq(0),
                isr_valid.eq(0),
                tmr.eq(0),
                esr_pending.eq(0),
                err_seen.eq(0),
                esr.eq(0),
                tmcct.eq(0),
                presc.eq(0),
                remote_irr.eq(0),
            ]
        return m


def _cpu_ports() -> dict[str, Any]:
    """Every port of docs/hardware.md except the register bus."""
    return {
        "initial_apic_id": In(8),
        "intr": Out(1),
        "vector": Out(8),
        "inta": In(1),
        "ack_valid": Out(1),
        "ack_vector": Out(8),
        "nmi": Out(1),
        "nmi_ack": In(1),
        "init": Out(1),
        "sipi": Out(1),
        "sipi_vector": Out(8),
        "msg_in": In(MessageSignature()),
        "ipi": Out(IpiSignature()),
        "eoi": Out(EoiSignature()),
        "lint0": In(1),
        "lint1": In(1),
        "msr": In(MsrSignature()),
        "tsc": In(64),
        "apic_id": Out(32),
        "x2apic": Out(1),
        "ldr": Out(32),
        "dfr_model": Out(4),
        "arb_priority": Out(8),
        "enabled": Out(1),
    }


class LocalApic(wiring.Component):
    """``irqforge_lapic``: AXI4-Lite ``bus`` (12-bit addresses) and the ports of docs/hardware.md."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        dev = spec.lapic
        super().__init__({"bus": In(AXI4LiteSignature(dev.address_width, dev.data_width)), **_cpu_ports()})

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        dev = self.spec.lapic
        m.submodules.bridge = bridge = AXI4LiteToReg(dev.address_width)
        m.submodules.core = core = LapicCore(dev)
        wiring.connect(m, wiring.flipped(self.bus), bridge.bus)
        wiring.connect(m, bridge.reg, core.reg)
        for name in _cpu_ports():
            ours, theirs = getattr(self, name), getattr(core, name)
            if name in ("msg_in", "msr"):
                wiring.connect(m, wiring.flipped(ours), theirs)
            elif name in ("ipi", "eoi"):
                wiring.connect(m, theirs, wiring.flipped(ours))
            elif self.signature.members[name].flow is In:
                m.d.comb += theirs.eq(ours)
            else:
                m.d.comb += ours.eq(theirs)
        return m


def top(spec: Spec) -> LocalApic:
    """The Local APIC of ``spec`` (Verilog module ``irqforge_lapic``)."""
    return LocalApic(spec)
