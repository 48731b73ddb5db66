"""The HPET (``irqforge_hpet``): a 64-bit main counter and comparators that
interrupt through IO-APIC lines, legacy replacement routes or FSB messages.

Register offsets, field positions, access kinds, resets and parameters
(timers, period, INT_ROUTE_CAP, FSB capability) come from ``spec.hpet``; the
IO-APIC pin count from ``spec.ioapic``; the legacy pins from
``spec.platform.hpet_legacy_pins``.

Structure: :class:`Hpet` is the top level of docs/hardware.md (AXI4-Lite ``bus``) — the
shared :class:`~irqforge.hw.bus.AXI4LiteToReg` bridge in front of
:class:`HpetCore`.

Behaviour and timing (counted in ``clk`` edges)
-----------------------------------------------

* **Counter.** While ENABLE_CNF is 1, MAIN_CNT advances by one at every edge.
  A write to MAIN_CNT (either dword) stores only while the counter is halted
  (the enable as it was before the edge); otherwise it is ignored.
* **Match.** At every edge with ENABLE_CNF = 1 each timer compares the
  counter with its comparator *for equality* (64 bits, or the low 32 bits in
  32-bit mode) — one 64-bit equality comparator per timer, no magnitude
  comparators. On a match the timer *fires* at that edge; a periodic timer
  adds its period to the comparator at the same edge (truncated to 32 bits in
  32-bit mode). So a running periodic timer never misses a period; periods
  that the counter skipped while halted (a counter write past the
  comparator) or a comparator written behind the counter are not replayed:
  nothing fires until the counter wraps round to the comparator (2^64, or
  2^32 in 32-bit mode). A comparator written with the value the counter has
  in that very cycle does not match either (the counter moves on at the same
  edge) — software keeps a margin, as Linux does (HPET_MIN_PROG_DELTA).
* **32-bit one-shot wrap.** A one-shot timer in 32-bit mode also fires when
  the counter's low 32 bits wrap, if it was *armed* (comparator or
  configuration written, or ENABLE 0→1) and has not fired since. This is
  QEMU's rule (interrupt at the wrap when the comparator lies beyond it) with
  equality hardware: the match comes first exactly when the comparator is
  ahead of the counter.
* **Firing** (ENABLE_CNF = 1): a level timer sets its GINTR_STA bit (also
  with INT_ENB = 0; hardware set wins over a W1C in the same edge). If
  INT_ENB = 1: FSB_EN → an MSI request; else level → the line is high while
  the status bit is set (and INT_ENB, ENABLE); edge → a one-cycle pulse.
* **Lines.** ``irq[p]`` is the OR of the timers routed to pin ``p``:
  timer 0/1 to the legacy pins when LEG_RT_CNF = 1, otherwise
  INT_ROUTE_CNF (a route at or beyond the pin count drives nothing;
  INT_ROUTE_CAP is reported, not enforced, as in QEMU). Level lines are
  combinational from registers; edge pulses are registered.
  Comparator match (the edge at which the counter equals the comparator) →
  ``irq`` high after that edge: **1 cycle** from the cycle in which MAIN_CNT
  reads the comparator value.
* **Edge pulse.** High for exactly one cycle. The IO-APIC samples its pins
  at every edge of the same clock, so it sees a 0→1 transition; a timer that
  fires on two consecutive edges (period 1) gives one long pulse — one edge.
* **MSI.** Fired FSB timers latch a request bit; requests load a one-entry
  output slot round robin (``msi__addr`` = Tn_FSB_ROUTE[63:32],
  ``msi__data`` = Tn_FSB_ROUTE[31:0], read at load). Match → ``msi__valid``
  high after the same edge: **1 cycle**. A timer firing again before its MSI
  reached the slot coalesces into one MSI.
* **Comparator writes** (per §3.7): in 32-bit mode high-dword writes are
  ignored and low-dword writes zero-extend; a non-periodic timer or VAL_SET
  = 1 sets the comparator; a periodic timer sets the period accumulator;
  VAL_SET clears after every (non-ignored) comparator write. Setting
  MODE32_CNF truncates comparator and period. Changing a timer from level to
  edge clears its status bit. Software writes win over hardware updates of
  the same register in the same edge.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from irqforge.hw.bus import AXI4LiteSignature, AXI4LiteToReg, RegSignature
from irqforge.hw.messages import MsiSignature
from irqforge.hw.regs import layout_init, register_layout
from irqforge.hw.xbar import round_robin
from irqforge.spec import Access, Spec

__all__ = ["Hpet", "HpetCore", "MsiSignature", "conf_write_mask", "top"]


def conf_write_mask(spec: Spec) -> int:
    """Bits of Tn_CONF that software writes store: the rw fields, without
    TYPE_CNF when the timer is not periodic-capable and without FSB_EN_CNF
    when it is not FSB-capable."""
    conf = spec.hpet.register("TIMER_CONF")
    mask = conf.writable_mask
    if not conf.field("PER_INT_CAP").reset:
        mask &= ~conf.field("TYPE_CNF").mask
    if not conf.field("FSB_INT_DEL_CAP").reset:
        mask &= ~conf.field("FSB_EN_CNF").mask
    return mask


class HpetCore(wiring.Component):
    """HPET behaviour behind the register strobe port (see the module docstring)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        dev = spec.hpet
        self.ntimers: int = dev.param("timers")
        self.npins: int = spec.ioapic.param("pins")
        self.conf_layout = register_layout(dev.register("TIMER_CONF"))
        super().__init__(
            {
                "reg": In(RegSignature(dev.address_width)),
                "irq": Out(self.npins),
                "msi": Out(MsiSignature()),
            }
        )

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        spec, dev, nt, npins = self.spec, self.spec.hpet, self.ntimers, self.npins
        reg = self.reg
        r_gcap = dev.register("GCAP_ID")
        r_gen = dev.register("GEN_CONF")
        r_sta = dev.register("GINTR_STA")
        r_cnt = dev.register("MAIN_CNT")
        r_conf = dev.register("TIMER_CONF")
        r_cmp = dev.register("TIMER_CMP")
        r_fsb = dev.register("TIMER_FSB")
        f_enable = r_gen.field("ENABLE_CNF")
        f_legacy = r_gen.field("LEG_RT_CNF")
        level_val = r_conf.field("INT_TYPE_CNF").enum("LEVEL")
        periodic_val = r_conf.field("TYPE_CNF").enum("PERIODIC")
        wmask = conf_write_mask(spec)

        byte_mask = Signal(32)
        m.d.comb += byte_mask.eq(Cat(*(b.replicate(8) for b in reg.w_strb)))

        def wr(offset: int) -> Any:
            return reg.w_stb & (reg.addr == offset)

        def merge(old: Any) -> Any:
            return (old & ~byte_mask) | (reg.w_data & byte_mask)

        # ---------------------------------------------------------------- global state
        enable = Signal()
        legacy = Signal()
        cnt = Signal(64, init=r_cnt.reset)
        status = Signal(nt)
        wrap = Signal()
        m.d.comb += wrap.eq(cnt[:32] == 0xFFFFFFFF)

        gen_val = Signal(32)
        m.d.comb += gen_val.eq((enable << f_enable.lsb) | (legacy << f_legacy.lsb))
        w_gen = Signal()
        m.d.comb += w_gen.eq(wr(r_gen.offset))
        enabling = Signal()
        with m.If(w_gen):
            new_gen = merge(gen_val)
            m.d.sync += [enable.eq(new_gen[f_enable.lsb]), legacy.eq(new_gen[f_legacy.lsb])]
            m.d.comb += enabling.eq(~enable & new_gen[f_enable.lsb])

        # counter: a write while halted wins; otherwise count while enabled
        with m.If(enable):
            m.d.sync += cnt.eq(cnt + 1)
        with m.If(~enable & wr(r_cnt.offset)):
            m.d.sync += cnt[:32].eq(merge(cnt[:32]))
        with m.If(~enable & wr(r_cnt.offset + 4)):
            m.d.sync += cnt[32:].eq(merge(cnt[32:]))

        # ---------------------------------------------------------------- timers
        msi_req = Signal(nt)
        msi_pend = Signal(nt)
        fire_msi = Signal(nt)
        status_set = Signal(nt)
        status_clr = Signal(nt)
        lines = []  # (drive, route) per timer
        confs, cmps, fsbs = [], [], []
        for n in range(nt):
            conf = Signal(self.conf_layout, name=f"t{n}_conf", init=layout_init(r_conf))
            cmp = Signal(64, name=f"t{n}_cmp", init=r_cmp.field("VALUE").reset)
            period = Signal(64, name=f"t{n}_period")
            fsb = Signal(64, name=f"t{n}_fsb", init=r_fsb.reset)
            armed = Signal(name=f"t{n}_armed")  # for the 32-bit one-shot wrap interrupt
            pulse = Signal(name=f"t{n}_pulse")
            confs.append(conf)
            cmps.append(cmp)
            fsbs.append(fsb)

            is_level = conf.int_type_cnf == level_val
            periodic = conf.type_cnf == periodic_val
            mode32 = conf.mode32_cnf
            match = Signal(name=f"t{n}_match")
            fire = Signal(name=f"t{n}_fire")
            m.d.comb += [
                match.eq(_counter_matches(mode32, cnt, cmp)),
                fire.eq(enable & (match | (wrap & armed & mode32 & ~periodic))),
            ]
            deliver = fire & conf.int_enb_cnf
            m.d.comb += [
                fire_msi[n].eq(deliver & conf.fsb_en_cnf),
                status_set[n].eq(fire & is_level),
            ]
            m.d.sync += pulse.eq(deliver & ~conf.fsb_en_cnf & ~is_level)

            # hardware updates (a software write below, later in the code, wins)
            with m.If(fire):
                m.d.sync += armed.eq(0)
                with m.If(periodic & match):
                    nxt = cmp + period
                    with m.If(mode32):
                        m.d.sync += cmp.eq(nxt[:32])
                    with m.Else():
                        m.d.sync += cmp.eq(nxt[:64])
            with m.If(enabling):
                m.d.sync += armed.eq(1)

            base_conf = dev.offset("TIMER_CONF", n)
            base_cmp = dev.offset("TIMER_CMP", n)
            base_fsb = dev.offset("TIMER_FSB", n)

            # configuration (low dword; the high dword is INT_ROUTE_CAP, read-only)
            conf_val = conf.as_value()
            w_conf = wr(base_conf)
            new_conf = Signal(32, name=f"t{n}_new_conf")
            m.d.comb += new_conf.eq(merge(conf_val[:32]))
            to_edge = Signal(name=f"t{n}_to_edge")
            with m.If(w_conf):
                for f in r_conf.fields:
                    if f.mask & wmask and f.msb < 32:
                        m.d.sync += conf[f.name.lower()].eq(new_conf[f.lsb : f.msb + 1])
                m.d.sync += armed.eq(1)
                m.d.comb += to_edge.eq(new_conf[r_conf.field("INT_TYPE_CNF").lsb] != level_val)
                with m.If(new_conf[r_conf.field("MODE32_CNF").lsb]):
                    m.d.sync += [cmp[32:].eq(0), period[32:].eq(0)]
            m.d.comb += status_clr[n].eq(to_edge)

            # comparator / period accumulator
            w_cmp_lo = wr(base_cmp)
            w_cmp_hi = wr(base_cmp + 4) & ~mode32
            sets_cmp = ~periodic | conf.val_set_cnf
            with m.If(w_cmp_lo):
                with m.If(sets_cmp):
                    m.d.sync += cmp[:32].eq(merge(cmp[:32]))
                    with m.If(mode32):
                        m.d.sync += cmp[32:].eq(0)
                with m.If(periodic):
                    m.d.sync += period[:32].eq(merge(period[:32]))
                    with m.If(mode32):
                        m.d.sync += period[32:].eq(0)
            with m.If(w_cmp_hi):
                with m.If(sets_cmp):
                    m.d.sync += cmp[32:].eq(merge(cmp[32:]))
                with m.If(periodic):
                    m.d.sync += period[32:].eq(merge(period[32:]))
            with m.If(w_cmp_lo | w_cmp_hi):
                m.d.sync += [conf.val_set_cnf.eq(0), armed.eq(1)]

            with m.If(wr(base_fsb)):
                m.d.sync += fsb[:32].eq(merge(fsb[:32]))
            with m.If(wr(base_fsb + 4)):
                m.d.sync += fsb[32:].eq(merge(fsb[32:]))

            # line
            level_line = status[n] & conf.int_enb_cnf & enable & is_level & ~conf.fsb_en_cnf
            drive = Signal(name=f"t{n}_line")
            m.d.comb += drive.eq(level_line | pulse)
            route = Signal(5, name=f"t{n}_route")
            m.d.comb += route.eq(conf.int_route_cnf)
            if n < len(spec.platform.hpet_legacy_pins):
                with m.If(legacy):
                    m.d.comb += route.eq(spec.platform.hpet_legacy_pins[n])
            lines.append((drive, route))

        for p in range(npins):
            m.d.comb += self.irq[p].eq(Cat(*(d & (r == p) for d, r in lines)).any())

        # GINTR_STA: W1C; hardware set wins
        w1c = Signal(nt)
        with m.If(wr(r_sta.offset)):
            m.d.comb += w1c.eq(reg.w_data[:nt] & byte_mask[:nt])
        m.d.sync += status.eq((status & ~w1c & ~status_clr) | status_set)

        # ---------------------------------------------------------------- MSI slot
        slot_valid = Signal()
        last = Signal(range(max(nt, 2)), init=nt - 1)  # the timer served last
        m.d.comb += [msi_req.eq(msi_pend | fire_msi), self.msi.valid.eq(slot_valid)]
        pick, any_req = round_robin(m, msi_req, last, name="msi")
        grant = Signal(nt)
        with m.If(any_req & (~slot_valid | self.msi.ready)):
            m.d.comb += grant.eq(Const(1, nt) << pick)
            m.d.sync += [slot_valid.eq(1), last.eq(pick)]
            with m.Switch(pick):
                for n in range(nt):
                    with m.Case(n):
                        m.d.sync += [self.msi.addr.eq(fsbs[n][32:]), self.msi.data.eq(fsbs[n][:32])]
        with m.Elif(self.msi.ready):
            m.d.sync += slot_valid.eq(0)
        m.d.sync += msi_pend.eq(msi_req & ~grant)

        # ---------------------------------------------------------------- reads
        gcap = r_gcap.reset
        reads: dict[int, Any] = {
            r_gcap.offset: Const(gcap & 0xFFFFFFFF, 32),
            r_gcap.offset + 4: Const(gcap >> 32, 32),
            r_gen.offset: gen_val,
            r_sta.offset: status,
            r_cnt.offset: cnt[:32],
            r_cnt.offset + 4: cnt[32:],
        }
        for n in range(nt):
            conf_val = confs[n].as_value()
            reads[dev.offset("TIMER_CONF", n)] = conf_val[:32]
            reads[dev.offset("TIMER_CONF", n) + 4] = conf_val[32:]
            reads[dev.offset("TIMER_CMP", n)] = cmps[n][:32]
            reads[dev.offset("TIMER_CMP", n) + 4] = cmps[n][32:]
            reads[dev.offset("TIMER_FSB", n)] = fsbs[n][:32]
            reads[dev.offset("TIMER_FSB", n) + 4] = fsbs[n][32:]
        with m.Switch(reg.addr):
            for off, val in reads.items():
                with m.Case(off):
                    m.d.comb += reg.r_data.eq(val)
        assert all(r.access is not Access.RC for r in dev.registers)  # reads have no side effects
        return m


def _counter_matches(mode32: Any, cnt: Any, cmp: Any) -> Any:
    """Equality of counter and comparator: the low 32 bits in 32-bit mode, else all 64."""
    low = cnt[:32] == cmp[:32]
    return low & (mode32 | (cnt[32:] == cmp[32:]))


class Hpet(wiring.Component):
    """``irqforge_hpet``: :class:`HpetCore` behind the AXI4-Lite bridge.

    Ports (docs/hardware.md): ``bus__*``, ``irq[N-1:0]`` out (N = IO-APIC pins),
    ``msi__{valid,ready,addr,data}``.
    """

    def __init__(self, spec: Spec) -> None:
        self.core = HpetCore(spec)
        self.bridge = AXI4LiteToReg(spec.hpet.address_width)
        super().__init__(
            {
                "bus": In(AXI4LiteSignature(spec.hpet.address_width)),
                "irq": Out(self.core.npins),
                "msi": Out(MsiSignature()),
            }
        )

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.bridge = self.bridge
        m.submodules.core = self.core
        wiring.connect(m, wiring.flipped(self.bus), self.bridge.bus)
        wiring.connect(m, self.bridge.reg, self.core.reg)
        wiring.connect(m, wiring.flipped(self.msi), self.core.msi)
        m.d.comb += self.irq.eq(self.core.irq)
        return m


def top(spec: Spec) -> Hpet:
    """The HPET of ``spec`` (Verilog module ``irqforge_hpet``)."""
    return Hpet(spec)
