"""Cycle-accurate reference model of the HPET (``irqforge_hpet``).

The model mirrors :mod:`irqforge.hw.hpet` edge for edge; the module
docstring there states the behaviour (equality comparators, period
accumulator, 32-bit one-shot wrap, lines, pulses, MSI slot). All offsets,
fields and parameters come from the spec.

Timing convention
-----------------

:meth:`HpetModel.tick` is one rising edge of ``clk`` (one counter tick while
enabled). Between ticks the caller may :meth:`read` and :meth:`write` (one
register access per cycle, as the bus bridge issues them): a write is visible
to :meth:`read` at once, while what the coming edge does — which timers fire,
whether the counter advances, which MSI loads — is decided from the
registers as they were before the write, exactly as in the RTL; a software
write wins over the hardware update of the same bits.

Outputs after a tick are what the RTL shows in the following cycle:

* :attr:`irq_lines` — bit mask of the IO-APIC pins driven high now (level
  lines and edge pulses);
* edge timers pulse their line for exactly one cycle; :meth:`take_edges`
  returns the pins that pulsed (one entry per pulse, in order), so callers
  that jump over cycles with :meth:`advance` do not lose them;
* :attr:`msi` — the MSI on ``msi__*`` now (``None`` while ``msi__valid`` is
  low); an MSI is delivered at a tick with ``msi_ready``;
  :meth:`take_msis` returns the delivered ones in order.

Event-driven use: :meth:`next_event_in` is the exact number of ticks after
which an output or status may change (``None``: never without a write), and
:meth:`advance` jumps that far in one step.

Cost
----

The model is the ``model`` backend's HPET, so it is written for speed without
changing what it computes: register offsets are decoded once into a table,
each timer keeps its configuration decoded into plain attributes (updated
when Tn_CONF is written), and reads, writes, :meth:`HpetModel.next_event_in`
and :meth:`HpetModel.advance` cost a few integer operations per timer.
"""

from __future__ import annotations

from dataclasses import dataclass

from irqforge.sim.models.messages import Msi
from irqforge.spec import Spec

__all__ = ["HpetModel"]

_M64 = (1 << 64) - 1
_M32 = 0xFFFFFFFF

# What a register offset holds (the decode table's first item).
_GCAP, _GEN, _STA, _CNT, _CONF, _CMP, _FSB = range(7)


@dataclass(slots=True)
class _Timer:
    """One timer's registers, with Tn_CONF also decoded (see :meth:`HpetModel._decode`)."""

    conf: int
    cmp: int
    period: int = 0
    fsb: int = 0
    armed: bool = False
    pulse: bool = False
    # decoded from conf
    level: bool = False
    periodic: bool = False
    mode32: bool = False
    enb: bool = False
    fsb_en: bool = False
    val_set: bool = False
    route_cnf: int = 0


@dataclass
class _Edge:
    """What the coming clock edge does, decided from the registers before any write."""

    enabled: bool
    cnt: int
    fire: list[bool]
    next_cmp: list[int | None]
    set_status: int
    pulse: list[bool]
    fire_msi: int
    fsb: list[int]


class HpetModel:
    """Reference model of the HPET; see the module docstring for timing."""

    # Slots, not an instance dict: with over 30 attributes a dict stops sharing its keys
    # and CPython (3.11+) no longer specializes attribute loads on it.
    __slots__ = (
        "_all_timers", "_armed_written", "_cmp", "_cmp_written", "_cnt", "_conf", "_dev", "_edge", "_edges",
        "_enable_lsb", "_f", "_fsb", "_gcap", "_gen", "_legacy_lsb", "_level", "_msis", "_periodic", "_regs", "_sta",
        "_val_set_mask", "_wmask", "counter", "cycle", "enable", "legacy", "legacy_pins", "msi_pend", "npins",
        "ntimers", "ptr", "slot", "spec", "status", "timers",
    )

    def __init__(self, spec: Spec) -> None:
        from irqforge.hw.hpet import conf_write_mask  # the one definition of the writable bits

        dev = spec.hpet
        self.spec = spec
        self.ntimers: int = dev.param("timers")
        self.npins: int = spec.ioapic.param("pins")
        self.legacy_pins = tuple(spec.platform.hpet_legacy_pins)
        self._gcap = dev.register("GCAP_ID")
        self._gen = dev.register("GEN_CONF")
        self._sta = dev.register("GINTR_STA")
        self._cnt = dev.register("MAIN_CNT")
        self._conf = dev.register("TIMER_CONF")
        self._cmp = dev.register("TIMER_CMP")
        self._fsb = dev.register("TIMER_FSB")
        self._dev = dev
        c = self._conf
        self._f = {f.name: f for f in c.fields}
        self._level = self._f["INT_TYPE_CNF"].enum("LEVEL")
        self._periodic = self._f["TYPE_CNF"].enum("PERIODIC")
        self._wmask = conf_write_mask(spec)
        self._val_set_mask = self._f["VAL_SET_CNF"].mask
        self._enable_lsb = self._gen.field("ENABLE_CNF").lsb
        self._legacy_lsb = self._gen.field("LEG_RT_CNF").lsb
        self._all_timers = (1 << self.ntimers) - 1
        # offset → (what, timer, dword shift): the register decode, once
        regs: dict[int, tuple[int, int, int]] = {}
        for what, reg in ((_GCAP, self._gcap), (_GEN, self._gen), (_STA, self._sta), (_CNT, self._cnt)):
            regs[reg.offset] = (what, 0, 0)
            regs[reg.offset + 4] = (what, 0, 32)
        for n in range(self.ntimers):
            for what, name in ((_CONF, "TIMER_CONF"), (_CMP, "TIMER_CMP"), (_FSB, "TIMER_FSB")):
                off = dev.offset(name, n)
                regs[off] = (what, n, 0)
                regs[off + 4] = (what, n, 32)
        self._regs = regs
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Synchronous reset."""
        self.enable = False
        self.legacy = False
        self.counter = self._cnt.reset
        self.status = 0
        self.timers = [
            _Timer(conf=self._conf.reset, cmp=self._cmp.field("VALUE").reset, fsb=self._fsb.reset)
            for _ in range(self.ntimers)
        ]
        for t in self.timers:
            self._decode(t)
        self.slot: Msi | None = None
        self.msi_pend = 0
        self.ptr = 0
        self._edge: _Edge | None = None
        self._cmp_written = [0] * self.ntimers  # bits of cmp written since the last tick
        self._armed_written = [False] * self.ntimers
        self._edges: list[int] = []
        self._msis: list[Msi] = []
        self.cycle = 0

    def _decode(self, t: _Timer) -> None:
        """Refresh ``t``'s decoded configuration after ``t.conf`` changed."""
        f, conf = self._f, t.conf
        t.level = f["INT_TYPE_CNF"].get(conf) == self._level
        t.periodic = f["TYPE_CNF"].get(conf) == self._periodic
        t.mode32 = bool(f["MODE32_CNF"].get(conf))
        t.enb = bool(f["INT_ENB_CNF"].get(conf))
        t.fsb_en = bool(f["FSB_EN_CNF"].get(conf))
        t.val_set = bool(f["VAL_SET_CNF"].get(conf))
        t.route_cnf = f["INT_ROUTE_CNF"].get(conf)

    def route(self, n: int) -> int:
        """IO-APIC pin timer ``n`` drives now (legacy replacement included)."""
        if self.legacy and n < len(self.legacy_pins):
            return self.legacy_pins[n]
        return self.timers[n].route_cnf

    # ------------------------------------------------------------------ registers

    def _gen_value(self) -> int:
        return (int(self.enable) << self._enable_lsb) | (int(self.legacy) << self._legacy_lsb)

    def read(self, offset: int) -> int:
        """32-bit read at byte ``offset``; reserved offsets read 0."""
        reg = self._regs.get(offset)
        if reg is None:
            return 0
        what, n, shift = reg
        if what == _CNT:
            value = self.counter
        elif what == _CMP:
            value = self.timers[n].cmp
        elif what == _CONF:
            value = self.timers[n].conf
        elif what == _STA:
            value = self.status
        elif what == _GEN:
            value = self._gen_value()
        elif what == _FSB:
            value = self.timers[n].fsb
        else:
            value = self._gcap.reset
        return (value >> shift) & _M32

    def write(self, offset: int, value: int, strb: int = 0xF) -> None:
        """32-bit write of ``value`` at byte ``offset`` with byte enables ``strb``."""
        if self._edge is None:
            self._edge = self._decide()
        reg = self._regs.get(offset)
        if reg is None:
            return
        bm = _M32 if strb == 0xF else sum(0xFF << (8 * b) for b in range(4) if strb >> b & 1)
        value &= _M32
        what, n, shift = reg

        def merge(old: int) -> int:
            return (old & ~bm) | (value & bm)

        if what == _GEN:
            if shift:
                return
            new = merge(self._gen_value())
            en = bool(new >> self._enable_lsb & 1)
            if en and not self.enable:
                self._armed_written = [True] * self.ntimers
            self.enable = en
            self.legacy = bool(new >> self._legacy_lsb & 1)
        elif what == _STA:
            if not shift:
                self.status &= ~(value & bm) & self._all_timers
        elif what == _CNT:
            if not self.enable:
                self.counter = (self.counter & ~(_M32 << shift)) | (merge(self.counter >> shift & _M32) << shift)
        elif what == _CONF:
            if shift:
                return  # the high dword is INT_ROUTE_CAP, read-only
            t = self.timers[n]
            new = merge(t.conf & _M32)
            t.conf = (t.conf & ~self._wmask) | (new & self._wmask)
            self._decode(t)
            self._armed_written[n] = True
            if self._f["INT_TYPE_CNF"].get(new) != self._level:
                self.status &= ~(1 << n)
            if self._f["MODE32_CNF"].get(new):
                t.cmp &= _M32
                t.period &= _M32
                self._cmp_written[n] |= _M32 << 32
        elif what == _CMP:
            t = self.timers[n]
            if shift and t.mode32:
                return  # ignored, VAL_SET kept
            if not t.periodic or t.val_set:
                t.cmp = (t.cmp & ~(_M32 << shift)) | (merge(t.cmp >> shift & _M32) << shift)
                self._cmp_written[n] |= _M32 << shift
                if t.mode32:
                    t.cmp &= _M32
                    self._cmp_written[n] |= _M32 << 32
            if t.periodic:
                t.period = (t.period & ~(_M32 << shift)) | (merge(t.period >> shift & _M32) << shift)
                if t.mode32:
                    t.period &= _M32
            t.conf &= ~self._val_set_mask
            t.val_set = False
            self._armed_written[n] = True
        elif what == _FSB:
            t = self.timers[n]
            t.fsb = (t.fsb & ~(_M32 << shift)) | (merge(t.fsb >> shift & _M32) << shift)

    # ------------------------------------------------------------------ the clock

    def _decide(self) -> _Edge:
        cnt, enabled = self.counter, self.enable
        wrap = (cnt & _M32) == _M32
        fire, next_cmp, pulse = [], [], []
        set_status = fire_msi = 0
        for n, t in enumerate(self.timers):
            mask = _M32 if t.mode32 else _M64
            match = (cnt & mask) == (t.cmp & mask)
            f = enabled and (match or (wrap and t.armed and t.mode32 and not t.periodic))
            fire.append(f)
            next_cmp.append((t.cmp + t.period) & mask if f and t.periodic and match else None)
            deliver = f and t.enb
            if f and t.level:
                set_status |= 1 << n
            if deliver and t.fsb_en:
                fire_msi |= 1 << n
            pulse.append(deliver and not t.fsb_en and not t.level)
        return _Edge(enabled, cnt, fire, next_cmp, set_status, pulse, fire_msi, [t.fsb for t in self.timers])

    def _pick(self, req: int) -> int:
        hi = req & ~((1 << self.ptr) - 1)
        src = hi if hi else req
        return (src & -src).bit_length() - 1

    def tick(self, msi_ready: bool = True) -> Msi | None:
        """One clock edge; returns the MSI delivered at it, if any."""
        e = self._edge if self._edge is not None else self._decide()
        delivered = None
        if self.slot is not None and msi_ready:
            delivered = self.slot
            self._msis.append(delivered)
        if e.enabled:
            self.counter = (e.cnt + 1) & _M64
        for n, t in enumerate(self.timers):
            nxt = e.next_cmp[n]
            if nxt is not None:
                w = self._cmp_written[n]
                t.cmp = (nxt & ~w) | (t.cmp & w)
            if self._armed_written[n]:
                t.armed = True
            elif e.fire[n]:
                t.armed = False
            t.pulse = e.pulse[n]
        self.status |= e.set_status
        req = self.msi_pend | e.fire_msi
        grant = 0
        if req and (self.slot is None or msi_ready):
            g = self._pick(req)
            grant = 1 << g
            self.slot = Msi(addr=e.fsb[g] >> 32, data=e.fsb[g] & _M32)
            self.ptr = (g + 1) % self.ntimers
        elif msi_ready:
            self.slot = None
        self.msi_pend = req & ~grant
        for n, t in enumerate(self.timers):
            if t.pulse:
                pin = self.route(n)
                if pin < self.npins:
                    self._edges.append(pin)
        if self._edge is not None:
            self._edge = None
            self._cmp_written = [0] * self.ntimers
            self._armed_written = [False] * self.ntimers
        self.cycle += 1
        return delivered

    # ------------------------------------------------------------------ outputs

    def line_of(self, n: int) -> bool:
        """Whether timer ``n`` drives its line now."""
        t = self.timers[n]
        if t.pulse:
            return True
        return bool(
            self.status >> n & 1 and t.enb and self.enable and t.level and not t.fsb_en
        )

    @property
    def irq_lines(self) -> int:
        """Bit mask of the IO-APIC pins driven high now."""
        out = 0
        status, enable = self.status, self.enable
        for n, t in enumerate(self.timers):
            if t.pulse or (status >> n & 1 and t.enb and enable and t.level and not t.fsb_en):
                pin = self.route(n)
                if pin < self.npins:
                    out |= 1 << pin
        return out

    @property
    def msi(self) -> Msi | None:
        """The MSI on ``msi__*`` now, or ``None``."""
        return self.slot

    def take_edges(self) -> list[int]:
        """Pins that got a one-cycle edge pulse since the last call, in order."""
        out, self._edges = self._edges, []
        return out

    def take_msis(self) -> list[Msi]:
        """MSIs delivered since the last call, in order."""
        out, self._msis = self._msis, []
        return out

    # ------------------------------------------------------------------ event-driven time

    def next_event_in(self) -> int | None:
        """Ticks until the next edge that changes outputs or state other than the
        counter (a timer firing, a pulse ending, an MSI moving); ``None`` if no
        such edge will come without a register write."""
        if self._edge is not None or self.slot is not None or self.msi_pend:
            return 1
        timers = self.timers
        for t in timers:
            if t.pulse:
                return 1
        if not self.enable:
            return None
        best: int | None = None
        cnt = self.counter
        for t in timers:
            if t.mode32:
                d = ((t.cmp - cnt) & _M32) + 1
                if t.armed and not t.periodic:
                    d = min(d, ((_M32 - (cnt & _M32)) & _M32) + 1)
            else:
                d = ((t.cmp - cnt) & _M64) + 1
            if best is None or d < best:
                best = d
        return best

    def advance(self, cycles: int) -> None:
        """``cycles`` ticks with ``msi_ready`` high, jumping over quiet stretches."""
        while cycles > 0:
            d = self.next_event_in()
            if d is None or d > cycles:
                if self.enable:
                    self.counter = (self.counter + cycles) & _M64
                self.cycle += cycles
                return
            if d > 1:
                self.counter = (self.counter + d - 1) & _M64
                self.cycle += d - 1
            self.tick(True)
            cycles -= d
