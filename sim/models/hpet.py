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
"""

from __future__ import annotations

from dataclasses import dataclass

from irqforge.sim.models.messages import Msi
from irqforge.spec import Spec

__all__ = ["HpetModel"]

_M64 = (1 << 64) - 1
_M32 = 0xFFFFFFFF


@dataclass
class _Timer:
    conf: int
    cmp: int
    period: int = 0
    fsb: int = 0
    armed: bool = False
    pulse: bool = False


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
        self.slot: Msi | None = None
        self.msi_pend = 0
        self.ptr = 0
        self._edge: _Edge | None = None
        self._cmp_written = [0] * self.ntimers  # bits of cmp written since the last tick
        self._armed_written = [False] * self.ntimers
        self._edges: list[int] = []
        self._msis: list[Msi] = []
        self.cycle = 0

    def _cf(self, t: _Timer, name: str) -> int:
        return self._f[name].get(t.conf)

    def _is_level(self, t: _Timer) -> bool:
        return self._cf(t, "INT_TYPE_CNF") == self._level

    def _is_periodic(self, t: _Timer) -> bool:
        return self._cf(t, "TYPE_CNF") == self._periodic

    def route(self, n: int) -> int:
        """IO-APIC pin timer ``n`` drives now (legacy replacement included)."""
        if self.legacy and n < len(self.legacy_pins):
            return self.legacy_pins[n]
        return self._cf(self.timers[n], "INT_ROUTE_CNF")

    # ------------------------------------------------------------------ registers

    def _reads(self) -> dict[int, int]:
        dev = self._dev
        gen = (int(self.enable) << self._gen.field("ENABLE_CNF").lsb) | (
            int(self.legacy) << self._gen.field("LEG_RT_CNF").lsb
        )
        out = {
            self._gcap.offset: self._gcap.reset & _M32,
            self._gcap.offset + 4: self._gcap.reset >> 32,
            self._gen.offset: gen,
            self._sta.offset: self.status,
            self._cnt.offset: self.counter & _M32,
            self._cnt.offset + 4: self.counter >> 32,
        }
        for n, t in enumerate(self.timers):
            for name, value in (("TIMER_CONF", t.conf), ("TIMER_CMP", t.cmp), ("TIMER_FSB", t.fsb)):
                off = dev.offset(name, n)
                out[off] = value & _M32
                out[off + 4] = value >> 32
        return out

    def read(self, offset: int) -> int:
        """32-bit read at byte ``offset``; reserved offsets read 0."""
        return self._reads().get(offset, 0)

    def write(self, offset: int, value: int, strb: int = 0xF) -> None:
        """32-bit write of ``value`` at byte ``offset`` with byte enables ``strb``."""
        if self._edge is None:
            self._edge = self._decide()
        bm = sum(0xFF << (8 * b) for b in range(4) if strb >> b & 1)
        value &= _M32

        def merge(old: int) -> int:
            return (old & ~bm) | (value & bm)

        dev = self._dev
        if offset == self._gen.offset:
            new = merge(self._reads()[offset])
            en = bool(self._gen.field("ENABLE_CNF").get(new))
            if en and not self.enable:
                self._armed_written = [True] * self.ntimers
            self.enable = en
            self.legacy = bool(self._gen.field("LEG_RT_CNF").get(new))
            return
        if offset == self._sta.offset:
            self.status &= ~(value & bm) & ((1 << self.ntimers) - 1)
            return
        if offset in (self._cnt.offset, self._cnt.offset + 4):
            if not self.enable:
                shift = 32 * (offset - self._cnt.offset) // 4
                self.counter = (self.counter & ~(_M32 << shift)) | (merge(self.counter >> shift & _M32) << shift)
            return
        for n, t in enumerate(self.timers):
            if offset == dev.offset("TIMER_CONF", n):
                new = merge(t.conf & _M32)
                t.conf = (t.conf & ~self._wmask) | (new & self._wmask)
                self._armed_written[n] = True
                if self._f["INT_TYPE_CNF"].get(new) != self._level:
                    self.status &= ~(1 << n)
                if self._f["MODE32_CNF"].get(new):
                    t.cmp &= _M32
                    t.period &= _M32
                    self._cmp_written[n] |= _M32 << 32
                return
            base = dev.offset("TIMER_CMP", n)
            if offset in (base, base + 4):
                mode32 = self._cf(t, "MODE32_CNF")
                hi = offset == base + 4
                if hi and mode32:
                    return  # ignored, VAL_SET kept
                shift = 32 if hi else 0
                sets_cmp = not self._is_periodic(t) or self._cf(t, "VAL_SET_CNF")
                if sets_cmp:
                    t.cmp = (t.cmp & ~(_M32 << shift)) | (merge(t.cmp >> shift & _M32) << shift)
                    self._cmp_written[n] |= _M32 << shift
                    if mode32:
                        t.cmp &= _M32
                        self._cmp_written[n] |= _M32 << 32
                if self._is_periodic(t):
                    t.period = (t.period & ~(_M32 << shift)) | (merge(t.period >> shift & _M32) << shift)
                    if mode32:
                        t.period &= _M32
                t.conf = self._f["VAL_SET_CNF"].put(t.conf, 0)
                self._armed_written[n] = True
                return
            base = dev.offset("TIMER_FSB", n)
            if offset in (base, base + 4):
                shift = 32 if offset == base + 4 else 0
                t.fsb = (t.fsb & ~(_M32 << shift)) | (merge(t.fsb >> shift & _M32) << shift)
                return

    # ------------------------------------------------------------------ the clock

    def _decide(self) -> _Edge:
        wrap = (self.counter & _M32) == _M32
        fire, next_cmp, pulse = [], [], []
        set_status = fire_msi = 0
        for n, t in enumerate(self.timers):
            mode32 = bool(self._cf(t, "MODE32_CNF"))
            mask = _M32 if mode32 else _M64
            periodic = self._is_periodic(t)
            match = (self.counter & mask) == (t.cmp & mask)
            f = self.enable and (match or (wrap and t.armed and mode32 and not periodic))
            fire.append(f)
            next_cmp.append((t.cmp + t.period) & mask if f and periodic and match else None)
            level = self._is_level(t)
            deliver = f and bool(self._cf(t, "INT_ENB_CNF"))
            fsb = bool(self._cf(t, "FSB_EN_CNF"))
            if f and level:
                set_status |= 1 << n
            if deliver and fsb:
                fire_msi |= 1 << n
            pulse.append(deliver and not fsb and not level)
        return _Edge(self.enable, self.counter, fire, next_cmp, set_status, pulse, fire_msi,
                     [t.fsb for t in self.timers])

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
        self._edge = None
        self._cmp_written = [0] * self.ntimers
        self._armed_written = [False] * self.ntimers
        self.cycle += 1
        return delivered

    # ------------------------------------------------------------------ outputs

    def line_of(self, n: int) -> bool:
        """Whether timer ``n`` drives its line now."""
        t = self.timers[n]
        level_line = (
            (self.status >> n & 1)
            and self._cf(t, "INT_ENB_CNF")
            and self.enable
            and self._is_level(t)
            and not self._cf(t, "FSB_EN_CNF")
        )
        return bool(level_line) or t.pulse

    @property
    def irq_lines(self) -> int:
        """Bit mask of the IO-APIC pins driven high now."""
        out = 0
        for n in range(self.ntimers):
            if self.line_of(n):
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
        if any(t.pulse for t in self.timers):
            return 1
        if not self.enable:
            return None
        best: int | None = None
        low = self.counter & _M32
        for t in self.timers:
            mode32 = self._cf(t, "MODE32_CNF")
            mask = _M32 if mode32 else _M64
            d = ((t.cmp - self.counter) & mask) + 1
            if t.armed and mode32 and not self._is_periodic(t):
                d = min(d, ((_M32 - low) & _M32) + 1)
            best = d if best is None else min(best, d)
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
