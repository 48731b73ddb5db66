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

1. :meth:`read` (the register port) and an RDMSR's :meth:`msr` (the RTL
   answers both from the state at the start of the cycle),
2. :meth:`inta`, :meth:`nmi_ack`, :meth:`ipi_accepted` (CPU and router side),
   then :meth:`set_tsc` and :meth:`msr_wait` (whether the MSR port's
   ``ready`` is held low this cycle),
3. :meth:`write` (at most one register access per cycle), then a WRMSR's
   :meth:`msr` (the MSR port's accepting cycle),
4. :meth:`accept` (``msg_in``; the RTL's ``msg_in__ready`` is always 1),
5. :meth:`set_lint` (the pin levels of this cycle),
6. :meth:`advance`.

Results of a cycle appear on the RTL outputs in the next cycle:
``ack_valid`` (the value :meth:`inta` returned), ``eoi__valid``
(:meth:`take_eois`), ``init``/``sipi`` (:meth:`take_startup`), and
``ipi__valid`` (:attr:`ipi_pending`) after an ICR-low write. :attr:`intr`,
:attr:`vector`, :attr:`nmi` and the router-facing properties are what the RTL
shows during the current cycle.

Priority stage: as in the RTL, :attr:`intr`, :attr:`vector` and
:attr:`arb_priority` see IRR as it was during the *previous* cycle (the
RTL registers its IRR encoder), and :meth:`inta` moves that vector; PPR,
ISR and EOI see the current state. The cycle after an INTA and an EOI in
the same cycle is a settle cycle with ``intr`` low (the LAPIC's docstring
has the whole rule). So :meth:`accept` in cycle ``t`` shows on
:attr:`intr` in ``t + 2``. With ``staged=False`` (the event-driven
platform model, which takes a pin → ``intr`` in zero cycles anyway) the
stage is left out and IRR is seen at once.

Timer: a TMICT write of ``N`` (not 0) in cycle ``t`` with divisor ``d``
loads TMCCT = ``N``; TMCCT then decreases by one at the end of cycles
``t + d``, ``t + 2d`` …; the decrement from 1 (at the end of cycle
``t + N·d``) is the expiry. So after ``write(TMICT, N)``, ``advance(N * d)``
leaves the timer one cycle short of expiring and ``advance(N * d + 1)``
has fired it (IRR bit set, ``intr`` visible). Periodic mode reloads TMICT
at the expiry: the period is ``N·d`` cycles. The LINT, timer and error
logic see the LVT entries and TDCR as they were at the start of the cycle
(the RTL's registers): a write in cycle ``t`` acts from the edge ending
``t + 1``, and a count-down expiring at the edge of a TMICT write or of a
switch into or out of TSC-deadline mode still fires. An error in cycle
``t`` raises the LVT Error interrupt at the edge ending ``t + 1``.

TSC-deadline timer: :attr:`tsc` is the TSC the deadline is compared with
in the current cycle; it counts one per cycle in :meth:`advance`, as the
platform's counter does. The timer fires at the edge that ends the first
cycle whose :attr:`tsc` is ≥ :attr:`tsc_deadline` (not the edge of the
cycle that wrote it), so ``intr`` shows two cycles after that cycle. As the
RTL (which registers the comparison a cycle ahead), that TSC is the ``tsc``
input of the cycle before plus one: :meth:`set_tsc` with a value that is not
the count (a jump) acts on the comparison from the next cycle on.

Cost
----

The model is also the ``model`` backend's LAPIC, so it is written for speed
without changing what it computes (the IO-APIC and HPET models follow the
same rules):

- Everything the spec says is looked up once, at construction: register
  reads and writes dispatch through offset → handler tables (O(1), no name
  comparisons), and every field is a plain shift and mask.
- IRR, ISR and TMR are Python ints (bit ``v`` = vector ``v``); :attr:`intr`
  is cached and recomputed only after IRR, ISR, TPR or SVR changed.
- Values derived from registers (software enable, timer divisor, which LINT
  inputs are level-armed) are decoded when the register is written, not when
  they are used.
- :meth:`advance` costs one comparison when nothing can happen by itself
  (no timer running, no error interrupt due, LINT pins steady and not
  level-armed): idle time is free whatever its length.
"""

from __future__ import annotations

from collections.abc import Callable

from irqforge.sim.models.messages import DeliveryMode, DestMode, Interrupt, Ipi, Shorthand, Trigger
from irqforge.spec import Spec
from irqforge.spec.model import Field

__all__ = ["LapicModel"]

_FULL = 0xFFFFFFFF
#: ``1 << v`` for every vector, made once: IRR, ISR and TMR are 256-bit ints, and a
#: shift builds a new one at each use (INTA, EOI and every accepted message)
_BIT: tuple[int, ...] = tuple(1 << v for v in range(256))


def _highest(bits: int) -> int:
    """The highest set bit's index, or 0 when none is set."""
    return bits.bit_length() - 1 if bits else 0


def _sm(f: Field) -> tuple[int, int]:
    """A field as ``(shift, mask)``: its value is ``(reg >> shift) & mask``."""
    return f.lsb, (1 << f.width) - 1


class LapicModel:
    """Reference model of one Local APIC; see the module docstring for timing."""

    # Slots, not an instance dict: with over 30 attributes a dict stops sharing its keys
    # and CPython (3.11+) no longer specializes attribute loads on it.
    __slots__ = (
        "_base_bsp", "_base_gp", "_base_msr", "_base_reset", "_base_wmask", "_cfg_old", "_const", "_dfr_model", "_div",
        "_dl_fire", "_dl_msr", "_dl_written", "_dm", "_dm_fixed", "_dm_init", "_dm_lowest", "_dm_nmi", "_dm_startup",
        "_dm_values", "_err_bit", "_err_due", "_err_fire", "_err_illegal_reg", "_err_recv_vector", "_err_send_vector",
        "_error_mask", "_error_vector", "_esr", "_icr_dest", "_icr_dest_mode", "_icr_dm", "_icr_hi", "_icr_level",
        "_icr_lo", "_icr_shorthand", "_icr_status", "_icr_trigger", "_icr_vector", "_id", "_ipi", "_irr", "_irr_seen",
        "_irr_start", "_isr", "_level", "_lint_armed", "_lint_f", "_lint_regs", "_lvt", "_lvt_mask", "_lvt_names",
        "_mode_disabled", "_mode_x2apic", "_mode_xapic", "_moved", "_moved_retired", "_msg_enabled", "_periodic",
        "_pins", "_presc", "_prev_pins", "_quiet", "_rd", "_remote_eoi", "_resets", "_settle", "_svr", "_svr_enable",
        "_svr_eoi_suppress", "_svr_vector", "_tdcr", "_tdcr_hi", "_tdcr_lo", "_timer_due", "_timer_mask", "_timer_mode",
        "_timer_vector", "_tm", "_tsc_in", "_tsc_mode", "_wmask", "_wr", "_x2", "_x2_at", "_x2_dest", "_x2_icr_dest",
        "_x2_icr_wmask", "_x2_rd_fast", "_x2_self_vector", "_x2_wr_fast", "apic_base", "apic_id", "cycle", "dev",
        "enabled", "eois", "esr", "esr_pending", "hw_enabled", "initial_apic_id", "intr", "nmi_pending", "regs",
        "remote_irr", "spec", "staged", "startups", "tmcct", "tmr", "tsc", "tsc_deadline", "x2apic",
    )

    def __init__(self, spec: Spec, apic_id: int, *, staged: bool = True) -> None:
        dev = spec.lapic
        self.staged = staged
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
        self._resets = {r.name: r.reset & self._wmask[r.name] for r in dev.registers if r.access.writable}

        # Enumerated values.
        dm = self._icr_lo.field("DELIVERY_MODE")
        self._dm = {e.name: e.value for e in dm.enums}
        self._dm_values = frozenset(self._dm.values())
        self._dm_fixed = self._dm["FIXED"]
        self._dm_lowest = self._dm["LOWEST"]
        self._dm_nmi = self._dm["NMI"]
        self._dm_init = self._dm["INIT"]
        self._dm_startup = self._dm["STARTUP"]
        tm = self._lvt["LVT_TIMER"].field("TIMER_MODE")
        self._timer_mode = tm
        self._periodic = tm.enum("PERIODIC")
        self._tsc_mode = tm.enum("TSC_DEADLINE") if dev.param("tsc_deadline") else None
        self._level = self._icr_lo.field("TRIGGER").enum("LEVEL")
        self._err_bit = {f.name: f.lsb for f in self._esr.fields}
        self._err_illegal_reg = 1 << self._err_bit["ILLEGAL_REG_ADDR"]
        self._err_recv_vector = 1 << self._err_bit["RECV_ILLEGAL_VECTOR"]
        self._err_send_vector = 1 << self._err_bit["SEND_ILLEGAL_VECTOR"]

        # Field positions as plain ints.
        svr = self._svr
        self._svr_enable = svr.field("ENABLE").mask
        self._svr_vector = _sm(svr.field("VECTOR"))
        self._svr_eoi_suppress = svr.field("EOI_SUPPRESS").mask
        self._tdcr_hi = _sm(self._tdcr.field("DIV_HI"))
        self._tdcr_lo = _sm(self._tdcr.field("DIV_LO"))
        self._dfr_model = _sm(reg("DFR").field("MODEL"))
        self._lvt_mask = {n: self._lvt[n].field("MASK").mask for n in self._lvt_names}
        self._tm = _sm(tm)
        self._lint_regs = ("LVT_LINT0", "LVT_LINT1")
        # Per LINT pin: (vector, delivery mode, polarity, trigger) as (shift, mask),
        # the MASK bit and the REMOTE_IRR bit position.
        self._lint_f: list[tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int], int, int]] = []
        for n in self._lint_regs:
            f = self._lvt[n].field
            self._lint_f.append((
                _sm(f("VECTOR")), _sm(f("DELIVERY_MODE")), _sm(f("POLARITY")), _sm(f("TRIGGER")),
                f("MASK").mask, f("REMOTE_IRR").lsb,
            ))
        lvt_timer = self._lvt["LVT_TIMER"]
        self._timer_vector = _sm(lvt_timer.field("VECTOR"))
        self._timer_mask = lvt_timer.field("MASK").mask
        lvt_error = self._lvt["LVT_ERROR"]
        self._error_vector = _sm(lvt_error.field("VECTOR"))
        self._error_mask = lvt_error.field("MASK").mask
        f = self._icr_lo.field
        self._icr_vector = _sm(f("VECTOR"))
        self._icr_dm = _sm(f("DELIVERY_MODE"))
        self._icr_dest_mode = _sm(f("DEST_MODE"))
        self._icr_trigger = _sm(f("TRIGGER"))
        self._icr_level = _sm(f("LEVEL"))
        self._icr_shorthand = _sm(f("SHORTHAND"))
        self._icr_status = f("DELIVERY_STATUS").mask
        self._icr_dest = _sm(self._icr_hi.field("DEST"))

        # State decoded from registers (set by _soft_reset and the register writes).
        # ``enabled`` and ``apic_id`` are plain attributes, not properties: the
        # router reads them for every message.
        self.enabled = False
        """SVR software enable."""
        self._msg_enabled = False
        self.apic_id = 0
        """ID[31:24]."""
        self.intr = False
        """A fixed interrupt is deliverable: enabled and its class above PPR's (a plain
        attribute, the CPU reads it at every interleaving point; writing ``None`` to
        :attr:`_intr`, what every change of IRR, ISR, TPR, SVR or the stage does, recomputes it)."""
        self._div = 2
        self._lint_armed: tuple[tuple[int, int], ...] = ()

        # Offset → handler, for every addressable register instance.
        self._rd: dict[int, Callable[[], int]] = {}
        self._wr: dict[int, tuple[int, Callable[[int], None]]] = {}
        for r in dev.registers:
            wr = (self._wmask[r.name], self._write_handler(r.name))
            for inst in r.instances():
                self._rd[inst.offset] = self._read_handler(r.name, inst.index)
                self._wr[inst.offset] = wr

        self._init_msrs()
        self.eois: list[int] = []
        self.startups: list[tuple[str, int]] = []
        self.reset()

    def _init_msrs(self) -> None:
        """Decode the spec's MSRs and x2APIC view (:meth:`msr`)."""
        dev = self.dev
        self._base_msr = dev.msr("IA32_APIC_BASE") if dev.has_msr("IA32_APIC_BASE") else None
        self._dl_msr = dev.msr("IA32_TSC_DEADLINE").address if dev.has_msr("IA32_TSC_DEADLINE") else None
        if self._tsc_mode is None:
            self._dl_msr = None
        self._x2 = dev.x2apic
        # MSR number → (register of the view, instance, gp mask, readable, writable)
        self._x2_at: dict[int, tuple[str, int, int, bool, bool, int]] = {}
        if self._x2 is not None:
            for xr in self._x2.registers:
                for _iname, addr, idx in xr.instances():
                    self._x2_at[addr] = (xr.name, idx, xr.gp_mask, xr.readable, xr.writable, xr.register.offset)
            icr = self._x2.register("ICR").register
            self._x2_icr_dest = _sm(icr.field("DEST"))
            self._x2_icr_wmask = icr.writable_mask & ~icr.field("DEST").mask & _FULL
            self._x2_self_vector = _sm(self._x2.register("SELF_IPI").register.field("VECTOR"))
        # The common x2APIC accesses (every register but ID, LDR, ICR and SELF_IPI, which
        # msr() decodes itself), precomputed: MSR number → its read handler / (gp mask,
        # write mask, write handler), as msr() would find them through _x2_at.
        self._x2_rd_fast: dict[int, Callable[[], int]] = {}
        self._x2_wr_fast: dict[int, tuple[int, int, Callable[[int], None]]] = {}
        special = ("ID", "LDR", "ICR", "SELF_IPI")
        base_addr = None if self._base_msr is None else self._base_msr.address
        for addr, (name, idx, gp, readable, writable, offset) in self._x2_at.items():
            if name in special or addr == self._dl_msr or addr == base_addr:
                continue
            at = offset + 16 * idx
            if readable and at in self._rd:
                self._x2_rd_fast[addr] = self._rd[at]
            if writable and at in self._wr:
                self._x2_wr_fast[addr] = (gp, *self._wr[at])
        base = self._base_msr
        if base is not None:
            reg = base.register
            self._base_gp = base.gp_mask
            self._base_wmask = reg.writable_mask
            self._base_bsp = reg.field("BSP").mask
            self._base_reset = reg.reset & self._base_wmask
            self._mode_disabled = base.mode("DISABLED").name
            self._mode_xapic = base.mode("XAPIC").name
            self._mode_x2apic = "X2APIC" if any(m.name == "X2APIC" for m in base.modes) else None

    def _read_handler(self, name: str, index: int) -> Callable[[], int]:
        """What a read of instance ``index`` of register ``name`` returns."""
        shift = 32 * index
        if name == "ISR":
            return lambda: (self._isr >> shift) & _FULL
        if name == "TMR":
            return lambda: (self.tmr >> shift) & _FULL
        if name == "IRR":
            return lambda: (self._irr >> shift) & _FULL
        if name == "ID":
            return lambda: self._id
        if name == "PPR":
            return lambda: self.ppr
        if name == "APR":
            return lambda: self.arb_priority
        if name == "ESR":
            return lambda: self.esr
        if name == "TMCCT":
            return lambda: self.tmcct
        const = self._const[name]
        if name == "ICR_LO":
            status = self._icr_status

            def icr_lo() -> int:
                value = self.regs.get(name, 0) | const
                return value | status if self._ipi is not None else value

            return icr_lo
        if name in self._lint_regs:
            n = int(name[-1])
            lsb = self._lint_f[n][5]
            return lambda: self.regs.get(name, 0) | const | (self.remote_irr[n] << lsb)
        return lambda: self.regs.get(name, 0) | const

    def _write_handler(self, name: str) -> Callable[[int], None]:
        """What a full-dword write of (masked) ``new`` to register ``name`` does."""
        if name == "ID":
            return self._write_id
        if name == "EOI":
            return self._eoi
        if name == "ESR":
            return self._write_esr
        if name == "SVR":
            return self._write_svr
        if name in self._lvt:
            mask = self._lvt_mask[name]
            timer = name == "LVT_TIMER" and self._tsc_mode is not None
            lint = name in self._lint_regs

            def write_lvt(new: int) -> None:
                if not self.enabled:
                    new |= mask
                if timer:
                    sh, m = self._tm
                    old_mode = (self.regs[name] >> sh) & m
                    new_mode = (new >> sh) & m
                    if old_mode != new_mode and self._tsc_mode in (old_mode, new_mode):
                        self._expiry_due()
                        self.regs["TMICT"] = 0
                        self.tmcct = 0
                        self._presc = 0
                        self._disarm_deadline()
                self._cfg_old.setdefault(name, self.regs[name])
                self._quiet = False
                self.regs[name] = new
                if lint:
                    self._decode_lints()

            return write_lvt
        if name == "TMICT":
            return self._write_tmict
        if name == "ICR_LO":
            return self._write_icr
        if name == "TPR" and name in self._resets:
            return self._write_tpr
        if name == "TDCR" and name in self._resets:
            return self._write_tdcr
        if name in self._resets:

            def write_plain(new: int) -> None:
                self.regs[name] = new

            return write_plain
        return lambda _new: None  # writes to read-only registers are ignored

    # ------------------------------------------------------------------ reset

    def reset(self) -> None:
        """Power-on reset (the RTL's ``rst``): ID back to the initial APIC ID, xAPIC mode."""
        self._id = self.initial_apic_id << 24
        self.apic_id = self.initial_apic_id
        self.x2apic = False
        """x2APIC mode (IA32_APIC_BASE.EXTD): registers through :meth:`msr`, the page reads all ones."""
        self.hw_enabled = True
        """IA32_APIC_BASE.EN (always 1 without the MSR)."""
        self.apic_base = 0
        if self._base_msr is not None:
            self.apic_base = self._base_reset | (self._base_bsp if self.initial_apic_id == 0 else 0)
        self.tsc = 0
        """The TSC the deadline is compared with in the current cycle: the RTL's ``tsc`` input of the
        cycle before plus one (the input itself while it counts); :meth:`advance` adds one per cycle."""
        self._tsc_in: int | None = None  # the tsc input of this cycle when it is not :attr:`tsc` (set_tsc)
        self.nmi_pending = False
        self._ipi: Ipi | None = None
        self._pins = [0, 0]
        self._prev_pins = [0, 0]
        self.cycle = 0
        # The RTL's priority stage: IRR as it was one cycle earlier (what
        # intr, vector and APR see), IRR at the start of this cycle, and the
        # settle cycle after an INTA and an EOI acted together.
        self._irr_seen = 0
        self._irr_start = 0
        self._settle = False
        self._moved = False
        self._moved_retired = False
        self.eois = []
        self.startups = []
        self._soft_reset()

    def _soft_reset(self) -> None:
        """What an INIT clears: everything but the ID, pending NMI, the IPI in flight and the pins."""
        self.regs: dict[str, int] = dict(self._resets)
        self._irr = 0
        self._isr = 0
        self.tmr = 0
        self.esr_pending = 0
        self.esr = 0
        self.tmcct = 0
        self._presc = 0
        self.remote_irr = [0, 0]
        self._remote_eoi = 0  # LINTs whose Remote IRR this cycle's EOI clears at its edge (bit n: LINTn)
        self._err_fire = False  # an error in this cycle ...
        self._err_due = False  # ... raises the error interrupt at the next edge (set: at the edge ending this cycle)
        # The LINT, timer and error logic see the configuration as it was at the
        # start of the cycle: registers this cycle's write changed, with their old
        # values (the next edge uses these), and a count-down expiry due at that
        # edge whose count the write replaced (it still fires).
        self._cfg_old: dict[str, int] = {}
        self._timer_due = False
        self.tsc_deadline = 0
        """IA32_TSC_DEADLINE: non-zero while the TSC-deadline timer is armed."""
        self._dl_fire = False
        self._dl_written = False
        self._quiet = False
        """Known to hold (when True): nothing happens by itself at the coming edges and
        none is due — no timer counting, no TSC deadline armed or firing, no error
        interrupt on its way, no configuration of this cycle for the edge to see,
        LINT pins steady and none level-armed, no Remote-IRR clear due. Then
        :meth:`_advance` just counts and :meth:`next_event_in` is ``None``. Cleared
        by whatever may change that; only :meth:`_advance` sets it, after finding
        it true (:meth:`_find_quiet`)."""
        self._x2_dest = 0
        self.enabled = bool(self.regs["SVR"] & self._svr_enable)
        self._msg_enabled = self.enabled  # SVR's enable at the start of the cycle (what accept() sees)
        self._intr = None
        self._update_divisor()
        self._decode_lints()

    # ------------------------------------------------------------------ helpers

    def _update_divisor(self) -> None:
        """Decode TDCR into :attr:`_div`, the timer's divisor."""
        tdcr = self.regs["TDCR"]
        sh, m = self._tdcr_hi
        hi = (tdcr >> sh) & m
        sh, m = self._tdcr_lo
        v = (hi << 2) | ((tdcr >> sh) & m)
        self._div = 1 << ((v + 1) & 7)

    def _decode_lints(self) -> None:
        """Which LINT inputs act at every edge while active: ``(n, polarity)`` of the
        unmasked, fixed, level-triggered ones (:meth:`_lint_busy` reads it)."""
        armed = []
        for n, name in enumerate(self._lint_regs):
            lvt = self.regs[name]
            _vec, (dsh, dm), (psh, pm), (tsh, tm), mask, _rirr = self._lint_f[n]
            if not lvt & mask and (lvt >> dsh) & dm == self._dm_fixed and (lvt >> tsh) & tm == self._level:
                armed.append((n, (lvt >> psh) & pm))
        self._lint_armed = tuple(armed)

    def _lint_busy(self) -> bool:
        """Whether the next edge's LINT evaluation can change anything."""
        pins = self._pins
        if pins != self._prev_pins:
            return True
        if self._remote_eoi:
            return True
        armed = self._lint_armed
        return bool(armed) and any(pins[n] ^ pol and not self.remote_irr[n] for n, pol in armed)

    def _error(self, name: str) -> None:
        self.esr_pending |= 1 << self._err_bit[name]
        self._err_fire = True
        self._quiet = False

    def _set_irr(self, vector: int, level: bool) -> None:
        """Local or message acceptance of a fixed interrupt."""
        if vector < 16:
            self.esr_pending |= self._err_recv_vector
            self._err_fire = True
            self._quiet = False
            return
        bit = 1 << vector
        self._irr |= bit
        self._intr = None
        if level:
            self.tmr |= bit
        else:
            self.tmr &= ~bit

    def _init(self) -> None:
        self.startups.append(("init", 0))
        self._soft_reset()

    @property
    def _divisor(self) -> int:
        return self._div

    # ------------------------------------------------------------------ priorities

    @property
    def irr(self) -> int:
        """Interrupt request register, all 256 bits (bit ``v`` = vector ``v``)."""
        return self._irr

    @irr.setter
    def irr(self, value: int) -> None:
        self._irr = value
        self._intr = None

    @property
    def isr(self) -> int:
        """In-service register, all 256 bits."""
        return self._isr

    @isr.setter
    def isr(self, value: int) -> None:
        self._isr = value
        self._intr = None

    @property
    def isrv(self) -> int:
        return _highest(self._isr)

    @property
    def irrv(self) -> int:
        return _highest(self._irr)

    @property
    def _irr_stage(self) -> int:
        """IRR as ``intr``, ``vector`` and APR see it (one cycle late when :attr:`staged`)."""
        return self._irr_seen if self.staged else self._irr

    @property
    def ppr(self) -> int:
        tpr = self.regs["TPR"] & 0xFF
        isrv = _highest(self._isr)
        return tpr if (tpr >> 4) >= (isrv >> 4) else isrv & 0xF0

    @property
    def arb_priority(self) -> int:
        """APR as the SDM defines it (used by lowest-priority arbitration)."""
        tpr = self.regs["TPR"] & 0xFF
        isrv, irrv = _highest(self._isr), _highest(self._irr_stage)
        if (tpr >> 4) >= (irrv >> 4) and (tpr >> 4) > (isrv >> 4):
            return tpr
        return max(tpr & 0xF0, isrv & 0xF0, irrv & 0xF0)

    @property
    def _intr(self) -> bool | None:
        """:attr:`intr`; writing any value (``None`` by convention) recomputes it."""
        return self.intr

    @_intr.setter
    def _intr(self, _value: bool | None) -> None:
        self._update_intr()

    def _update_intr(self) -> None:
        """Recompute :attr:`intr` (what writing :attr:`_intr` does, as a plain call)."""
        if self.staged:
            irr = 0 if self._settle else self._irr_seen
        else:
            irr = self._irr
        if not irr or not self.enabled:
            self.intr = False
            return
        # PPR's class is the larger of TPR's and the ISR vector's.
        cls = (self.regs["TPR"] & 0xFF) >> 4
        isr = self._isr
        if isr and (isr.bit_length() - 1) >> 4 > cls:
            cls = (isr.bit_length() - 1) >> 4
        self.intr = (irr.bit_length() - 1) >> 4 > cls

    @property
    def vector(self) -> int:
        """The vector ``intr`` stands for (the highest IRR vector the priority stage holds; 0 if none)."""
        return _highest(self._irr_stage)

    @property
    def nmi(self) -> bool:
        return self.nmi_pending

    @property
    def ldr(self) -> int:
        """The 32-bit LDR: in xAPIC mode the register (only bits 31:24 are stored),
        in x2APIC mode derived from the ID (cluster ID[31:4] in 31:16, bit ID[3:0] in 15:0)."""
        if self.x2apic:
            a = self.apic_id
            return ((a >> 4) << 16) | (1 << (a & 0xF))
        return self.regs["LDR"]

    @property
    def dfr_model(self) -> int:
        sh, m = self._dfr_model
        return (self.regs["DFR"] >> sh) & m

    # ------------------------------------------------------------------ CPU side

    def inta(self) -> int:
        """Interrupt acknowledge: the vector moved IRR → ISR, or the spurious vector."""
        if not self.intr:
            sh, m = self._svr_vector
            return (self.regs["SVR"] >> sh) & m
        v = (self._irr_seen if self.staged else self._irr).bit_length() - 1  # _irr_stage
        bit = _BIT[v]
        irr = self._irr
        if not self.staged or irr & bit:  # (staged: else already moved, a second INTA in the cycle)
            self._irr = irr ^ bit  # (unstaged: ``v`` is IRR's highest bit, so it is set)
        self._isr |= bit
        # _intr = None, without the call: ``v`` was the highest vector the stage holds and
        # is in ISR now, so no request left there is of a class above PPR's.
        self.intr = False
        self._moved = True
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
        """A message from the router (``msg_in``); a hardware-disabled APIC ignores it."""
        if not self.hw_enabled:
            return
        dm = msg.delivery_mode
        level_trig = msg.trigger == self._level
        if dm == self._dm_fixed or dm == self._dm_lowest:
            if level_trig and not msg.level:
                return  # level de-assert: nothing to do (KVM)
            if not self._msg_enabled:
                return  # software-disabled APICs discard fixed messages (KVM); SVR as at the start of the cycle
            vector = msg.vector & 0xFF
            if vector < 16:
                self._set_irr(vector, level_trig)  # the receive-illegal-vector error
                return
            bit = _BIT[vector]  # _set_irr() inlined: the hot path of every device interrupt
            self._irr |= bit
            if not self.intr and not self.staged:  # (a request more can only raise intr; staged: not yet)
                self._update_intr()
            if level_trig:
                self.tmr |= bit
            elif self.tmr and self.tmr & bit:  # (TMR is 0 without level interrupts: nothing to write)
                self.tmr ^= bit
        elif dm == self._dm_nmi:
            self.nmi_pending = True
        elif dm == self._dm_init:
            if not (level_trig and not msg.level):
                self._init()
        elif dm == self._dm_startup:
            self.startups.append(("sipi", msg.vector & 0xFF))
        # SMI, ExtINT and reserved modes are ignored.

    def set_lint(self, n: int, level: int) -> None:
        """Drive pin LINT``n`` (0 or 1) to ``level`` from this cycle on."""
        self._pins[n] = 1 if level else 0
        self._quiet = False

    # ------------------------------------------------------------------ registers

    def read(self, offset: int) -> int:
        """A 32-bit register read (no side effects except ESR bit 7 for reserved offsets).

        In x2APIC mode and while hardware-disabled the page reads all ones.
        """
        if self.x2apic or not self.hw_enabled:
            return _FULL
        handler = self._rd.get(offset & 0xFFC)
        if handler is None:
            self.esr_pending |= self._err_illegal_reg
            self._err_fire = True
            self._quiet = False
            return 0
        return handler()

    def write(self, offset: int, value: int, *, strb: int = 0xF) -> None:
        """A register write; only full-dword writes (``strb`` 0xF) have an effect."""
        if strb != 0xF or self.x2apic or not self.hw_enabled:
            return
        hit = self._wr.get(offset & 0xFFC)
        if hit is None:
            self.esr_pending |= self._err_illegal_reg
            self._err_fire = True
            self._quiet = False
            return
        mask, handler = hit
        handler(value & _FULL & mask)

    def _write_id(self, new: int) -> None:
        self._id = new
        self.apic_id = new >> 24

    def _write_esr(self, _new: int) -> None:
        self.esr = self.esr_pending
        self.esr_pending = 0

    def _write_tpr(self, new: int) -> None:
        self.regs["TPR"] = new
        self._intr = None

    def _write_tdcr(self, new: int) -> None:
        self._cfg_old.setdefault("TDCR", self.regs["TDCR"])
        self._quiet = False
        self.regs["TDCR"] = new
        self._update_divisor()

    def _write_svr(self, new: int) -> None:
        regs = self.regs
        self._cfg_old.setdefault("SVR", regs["SVR"])  # (the next edge brings _msg_enabled up to date)
        self._quiet = False
        regs["SVR"] = new
        self.enabled = bool(new & self._svr_enable)
        self._intr = None
        if not self.enabled:
            old = self._cfg_old
            for lvt, mask in self._lvt_mask.items():
                old.setdefault(lvt, regs[lvt])
                regs[lvt] |= mask
            self._decode_lints()

    def _write_tmict(self, new: int) -> None:
        if self._tsc_mode is not None:
            sh, m = self._tm
            if (self.regs["LVT_TIMER"] >> sh) & m == self._tsc_mode:
                return
        self._expiry_due()
        self._quiet = False
        self.regs["TMICT"] = new
        self.tmcct = new
        self._presc = -1  # the write's own edge does not count

    def _expiry_due(self) -> None:
        """Before a write replaces the count: an expiry due at this edge still fires."""
        if self.tmcct == 1 and self._presc >= self._div - 1:
            self._timer_due = True

    def _eoi(self, _new: int = 0) -> None:
        """An EOI-register write (the value written does not matter)."""
        isr = self._isr
        if not isr:
            return
        v = isr.bit_length() - 1
        bit = _BIT[v]
        self._isr = isr ^ bit  # (the bit is set: one operation where & ~ takes two)
        if self.staged or self._irr:
            self._intr = None
        else:
            self.intr = False  # (_intr = None without the call: no request at all)
        self._moved_retired = self._moved
        regs = self.regs
        tmr = self.tmr
        if tmr and tmr & bit and not regs["SVR"] & self._svr_eoi_suppress:  # (TMR is 0 without level interrupts)
            self.eois.append(v)
        remote = self.remote_irr
        if remote[0] or remote[1]:  # else there is no Remote IRR to clear
            for n, name in enumerate(self._lint_regs):
                sh, m = self._lint_f[n][0]
                if remote[n] and (regs[name] >> sh) & m == v:
                    self._remote_eoi |= 1 << n  # cleared at this cycle's edge, after the LINT logic saw it
                    self._quiet = False

    def _write_icr(self, new: int, dest: int | None = None, *, store: bool = True) -> None:
        """An ICR-low write (``dest`` None: ICR_HI's destination) or, with the 32-bit
        ``dest``, the x2APIC ICR; ``store`` False: a SELF_IPI (ICR unchanged)."""
        if self._ipi is not None:
            return  # still pending: software must wait for delivery status 0
        if store:
            self.regs["ICR_LO"] = new
        sh, m = self._icr_vector
        vector = (new >> sh) & m
        sh, m = self._icr_dm
        dm = (new >> sh) & m
        sh, m = self._icr_trigger
        trigger = (new >> sh) & m
        sh, m = self._icr_level
        level = (new >> sh) & m
        if (dm == self._dm_fixed or dm == self._dm_lowest) and vector < 16:
            self._error("SEND_ILLEGAL_VECTOR")
            return
        if dm == self._dm_init and trigger == self._level and not level:
            return  # INIT level de-assert: nothing is sent (KVM)
        if dm not in self._dm_values:
            return  # reserved delivery mode (remote read)
        sh, m = self._icr_dest_mode
        dest_mode = (new >> sh) & m
        sh, m = self._icr_shorthand
        shorthand = (new >> sh) & m
        if dest is None:
            sh, m = self._icr_dest
            dest = (self.regs["ICR_HI"] >> sh) & m
        self._ipi = Ipi(
            vector=vector,
            delivery_mode=DeliveryMode(dm),
            dest_mode=DestMode(dest_mode),
            dest=dest,
            shorthand=Shorthand(shorthand),
            trigger=Trigger(trigger),
            level=level,
            source=self.apic_id,
        )

    # ------------------------------------------------------------------ time

    def _lint_edge(self) -> None:
        """The LINT pins at one clock edge."""
        for n, name in enumerate(self._lint_regs):
            lvt = self.regs[name]
            (vsh, vm), (dsh, dm_m), (psh, pm), (tsh, tm), mask, _rirr = self._lint_f[n]
            pin = self._pins[n]
            pol = (lvt >> psh) & pm
            active = pin ^ pol
            rising = active and not (self._prev_pins[n] ^ pol)
            self._prev_pins[n] = pin
            if lvt & mask:
                continue
            dm = (lvt >> dsh) & dm_m
            vector = (lvt >> vsh) & vm
            if dm == self._dm_fixed:
                if (lvt >> tsh) & tm == self._level:
                    if active and not self.remote_irr[n]:
                        self._set_irr(vector, True)
                        if vector >= 16:
                            self.remote_irr[n] = 1
                elif rising:
                    self._set_irr(vector, False)
            elif dm == self._dm_nmi:
                if rising:
                    self.nmi_pending = True
            elif dm == self._dm_init and rising:
                self._init()
                # The INIT clears the LVTs: the other pin has nothing left to do.
                for k in range(n + 1, 2):
                    self._prev_pins[k] = self._pins[k]
                return

    def _timer_fire(self) -> None:
        lvt = self.regs["LVT_TIMER"]
        if not lvt & self._timer_mask:
            sh, m = self._timer_vector
            self._set_irr((lvt >> sh) & m, False)

    def _error_interrupt(self) -> None:
        fire = self._err_due  # errors of the cycle before this edge's
        self._err_due = self._err_fire
        self._err_fire = False
        if fire:
            lvt = self.regs["LVT_ERROR"]
            sh, m = self._error_vector
            vector = (lvt >> sh) & m
            if not lvt & self._error_mask and vector >= 16:
                bit = 1 << vector
                self._irr |= bit
                self._intr = None
                self.tmr &= ~bit

    def _timer_edges(self, n: int) -> int:
        """Run the timer for ``n`` edges, stopping right after an expiry.

        Returns the number of edges consumed.
        """
        if self.tmcct == 0 or n <= 0:
            return n
        d = self._div
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
        sh, m = self._tm
        periodic = (self.regs["LVT_TIMER"] >> sh) & m == self._periodic
        self.tmcct = self.regs["TMICT"] if periodic else 0
        self._timer_fire()
        return expiry

    def advance(self, cycles: int = 1) -> None:
        """End the current cycle and ``cycles - 1`` more (see the timing convention)."""
        if cycles <= 0:
            return
        if self._tsc_in is not None and cycles > 1:  # (a jump of the tsc input: compared from the next cycle)
            self.advance(1)
            self.advance(cycles - 1)
            return
        if self._dl_fire or self.tsc_deadline:
            # The TSC-deadline timer fires at the edge that ends the first cycle
            # whose TSC is >= the deadline (or at once for a fire of this cycle).
            if self._dl_fire:
                k = 0
            else:
                k = max(0, self.tsc_deadline - self.tsc)
                if self._dl_written:
                    k = max(k, 1)  # a deadline written in this cycle counts from the next one
            if k < cycles:
                self._advance(k)
                self._advance(1, deadline=True)
                self.advance(cycles - k - 1)
                return
        self._advance(cycles)

    def _deadline_edge(self) -> None:
        """The TSC-deadline timer fires at this edge: disarm (unless this cycle's
        write armed it anew) and raise the LVT timer interrupt unless masked."""
        if self._dl_fire:
            self._dl_fire = False
        else:
            self.tsc_deadline = 0
        self._timer_fire()

    def _advance(self, cycles: int, *, deadline: bool = False) -> None:
        """:meth:`advance` without the deadline check; ``deadline``: the TSC-deadline timer fires at the one edge."""
        if cycles <= 0:
            return
        if (self._remote_eoi or self._cfg_old) and cycles > 1:
            # The first edge clears Remote IRR, or leaves the configuration written in this
            # cycle in force: the next one may deliver a level LINT (again).
            self._advance(1)
            self._advance(cycles - 1)
            return
        if self._tsc_in is not None:
            self.tsc = self._tsc_in
            self._tsc_in = None
        self.tsc += cycles
        self._dl_written = False
        if self.staged:
            # The priority stage registers IRR as it was during the last cycle.
            last_start = self._irr_start if cycles == 1 else self._irr
            settle = cycles == 1 and self._moved_retired
        self._moved = self._moved_retired = False
        if self._quiet and not deadline:
            self.cycle += cycles  # nothing happens by itself at these edges
        # (_lint_busy() is False without a call when no pin moved and no LINT is armed)
        elif (
            not self.tmcct and not self._err_fire and not self._err_due and not deadline and not self._cfg_old
            and not self._timer_due
        ) and (
            (self._pins == self._prev_pins and not self._lint_armed and not self._remote_eoi) or not self._lint_busy()
        ):
            self.cycle += cycles  # likewise
            self._quiet = self._find_quiet()
        else:
            # First edge: the pins, the timer, then the error interrupt of this
            # edge, with the configuration as it was at the start of the cycle.
            regs = self.regs
            old = self._cfg_old
            now: dict[str, int] = {}
            if old:
                self._cfg_old = {}
                now = {n: regs[n] for n in old}
                regs.update(old)
                self._update_divisor()
            self._lint_edge()
            if self._remote_eoi:  # the EOI of the cycle this edge ends: its Remote-IRR clear
                for n in (0, 1):
                    if self._remote_eoi >> n & 1:
                        self.remote_irr[n] = 0
                self._remote_eoi = 0
            if self._timer_due:
                self._timer_due = False
                self._timer_fire()
            self._timer_edges(1)
            if deadline:
                self._deadline_edge()
            self._error_interrupt()
            if old and self.regs is regs:  # (an INIT at this edge replaced the registers)
                regs.update(now)
                self._update_divisor()
            self._msg_enabled = self.enabled
            left = cycles - 1
            while left > 1:
                # (an error interrupt due at the next edge: that edge on its own)
                used = self._timer_edges(1 if self._err_due else left - 1)
                self._error_interrupt()
                left -= used
            if left:  # the last edge on its own: the stage sees IRR as it was before it
                last_start = self._irr
                self._timer_edges(1)
                self._error_interrupt()
            self.cycle += cycles
            self._quiet = self._find_quiet()
        if self.staged:
            self._irr_seen = last_start
            self._irr_start = self._irr
            self._settle = settle
            self._intr = None

    def _find_quiet(self) -> bool:
        """Whether :attr:`_quiet` holds now (at the end of :meth:`_advance`)."""
        return not (
            self.tmcct or self._err_fire or self._err_due or self._cfg_old or self._timer_due or self._dl_fire
            or self.tsc_deadline or self._remote_eoi or self._lint_armed or self._pins != self._prev_pins
        )

    def next_event_in(self) -> int | None:
        """Cycles :meth:`advance` needs until something happens by itself.

        1 when the next edge has work (a LINT input to evaluate, an error
        interrupt to deliver), else the number of cycles until the timer's
        expiry has taken effect, else ``None``.
        """
        if self._quiet:
            return None
        # (_lint_busy() is False without a call when no pin moved and no LINT is armed)
        if (
            self._err_fire
            or self._err_due
            or self._dl_fire
            or self._cfg_old
            or self._timer_due
            or ((self._pins != self._prev_pins or self._lint_armed) and self._lint_busy())
        ):
            return 1
        dl = None
        if self.tsc_deadline:
            dl = 1 if self._tsc_in is not None else max(1 if self._dl_written else 0, self.tsc_deadline - self.tsc) + 1
        if self.tmcct == 0:
            return dl
        d = self._div
        t = max(d - 1 - self._presc, 0) + 1 + (self.tmcct - 1) * d
        return t if dl is None else min(t, dl)

    # ------------------------------------------------------------------ MSRs

    def set_tsc(self, value: int) -> None:
        """The RTL's ``tsc`` input during the current cycle. Between calls the model
        counts one per cycle, as the platform's counter does; the deadline sees a
        value that is not the count (a jump) from the next cycle on, as :attr:`tsc`."""
        value &= (1 << 64) - 1
        self._tsc_in = None if value == self.tsc else value

    def msr_wait(self, write: bool, addr: int) -> bool:
        """Whether the MSR port holds ``msr__ready`` low this cycle for this access:
        an x2APIC ICR or SELF_IPI write while the previous IPI waits for the router."""
        if not (write and self.x2apic and self._ipi is not None):
            return False
        hit = self._x2_at.get(addr)
        return hit is not None and hit[0] in ("ICR", "SELF_IPI")

    def msr(self, write: bool, addr: int, wdata: int = 0) -> tuple[int, bool]:
        """An RDMSR (``write`` False) or WRMSR of ``addr``: ``(rdata, fault)``.

        Acts as the RTL's accepting cycle (``msr__valid & msr__ready``), in its
        slot of the call order (an RDMSR with :meth:`read`, a WRMSR after
        :meth:`write`). ``fault`` is the #GP; a faulting access changes
        nothing. ``rdata`` is 0 for writes and faults.
        """
        wdata &= (1 << 64) - 1
        if self.x2apic:  # the precomputed common case (the tables of _init_msrs)
            if write:
                fast = self._x2_wr_fast.get(addr)
                if fast is not None:
                    gp, mask, handler = fast
                    if wdata & gp:
                        return 0, True
                    handler(wdata & _FULL & mask)
                    return 0, False
            else:
                rd = self._x2_rd_fast.get(addr)
                if rd is not None:
                    return rd(), False
        base = self._base_msr
        if base is not None and addr == base.address:
            if not write:
                return self.apic_base, False
            return 0, not self._write_apic_base(wdata)
        if self._dl_msr is not None and addr == self._dl_msr:
            if not write:
                return self.tsc_deadline, False
            self._write_deadline(wdata)
            return 0, False
        hit = self._x2_at.get(addr) if self.x2apic else None
        if hit is None:
            return 0, True
        name, idx, gp, readable, writable, offset = hit
        if not write:
            if not readable:
                return 0, True
            if name == "ID":
                return self.apic_id, False
            if name == "LDR":
                return self.ldr, False
            if name == "ICR":
                return (self._x2_dest << 32) | self.regs["ICR_LO"], False
            return self._rd[offset + 16 * idx](), False
        if not writable or wdata & gp:
            return 0, True
        if name == "ICR":
            sh, m = self._x2_icr_dest
            self._x2_dest = (wdata >> sh) & m
            if self._ipi is None:
                self._write_icr(wdata & self._x2_icr_wmask, self._x2_dest)
            return 0, False
        if name == "SELF_IPI":
            sh, m = self._x2_self_vector
            vector = (wdata >> sh) & m
            self._write_icr(vector | (1 << self._icr_shorthand[0]), 0, store=False)  # fixed, edge, shorthand SELF
            return 0, False
        mask, handler = self._wr[offset + 16 * idx]
        handler(wdata & _FULL & mask)
        return 0, False

    def _write_deadline(self, value: int) -> None:
        """IA32_TSC_DEADLINE: arms (non-zero) or disarms (0) in TSC-deadline mode, else ignored."""
        sh, m = self._tm
        if (self.regs["LVT_TIMER"] >> sh) & m != self._tsc_mode or not self.hw_enabled:
            return
        if self.tsc_deadline and self.tsc >= self.tsc_deadline:
            self._dl_fire = True  # the old deadline is due this cycle: it fires at this edge
        self.tsc_deadline = value
        self._dl_written = True
        self._quiet = False

    def _disarm_deadline(self) -> None:
        """Leaving TSC-deadline mode disarms (a deadline due this cycle still fires)."""
        if self.tsc_deadline and self.tsc >= self.tsc_deadline:
            self._dl_fire = True
        self.tsc_deadline = 0

    def _write_apic_base(self, value: int) -> bool:
        """IA32_APIC_BASE; False for a #GP (reserved bit, invalid mode or illegal transition)."""
        base = self._base_msr
        assert base is not None
        if value & self._base_gp:
            return False
        new = base.mode_of(value)
        old = base.mode_of(self.apic_base)
        if new is None or old is None or not base.legal(old.name, new.name):
            return False
        self.apic_base = (value & self._base_wmask) | (self.apic_base & self._base_bsp)
        if new.name == old.name:
            return True
        if new.name == self._mode_disabled:
            # Hardware disable: the APIC goes back to its power-on state (SDM §11.4.3).
            self._soft_reset()
            self.nmi_pending = False
            self._id = self.initial_apic_id << 24
            self.apic_id = self.initial_apic_id
            self.x2apic = False
            self.hw_enabled = False
        elif new.name == self._mode_xapic:
            self.hw_enabled = True
        elif new.name == self._mode_x2apic:
            self.x2apic = True
            self.apic_id = self.initial_apic_id  # the x2APIC ID: the initial APIC ID, read only
        return True
