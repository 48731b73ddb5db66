"""HPET RTL (hw/hpet.py) against its reference model (sim/models/hpet.py),
cycle by cycle, in Amaranth's simulator.

:class:`Lockstep` drives :class:`HpetCore`'s register strobe port and
``msi__ready``, feeds the same accesses to :class:`HpetModel`, and compares
``irq``, ``msi__*`` and every read with the model each cycle. The directed
tests assert the architectural outcome as well, so a bug shared by RTL and
model still fails. The model's event-driven :meth:`advance` is checked
against plain ticking.
"""

from __future__ import annotations

import os
import random
from collections.abc import Awaitable, Callable
from typing import Any

from amaranth.sim import Simulator

from irqforge.hw.hpet import Hpet, HpetCore, conf_write_mask
from irqforge.sim.models.hpet import HpetModel
from irqforge.sim.models.messages import Msi
from irqforge.spec import Spec


class Lockstep:
    """One cycle-accurate run of RTL and model side by side."""

    def __init__(self, spec: Spec, ctx: Any, dut: HpetCore) -> None:
        self.spec = spec
        self.dev = spec.hpet
        self.ctx = ctx
        self.dut = dut
        self.model = HpetModel(spec)
        self.ready = 1
        self.cycle = 0
        self.msis: list[Msi] = []
        self.line_history: list[int] = []  # irq as seen in each cycle
        self.msi_valid_cycles: list[int] = []

    async def step(self, *, write: tuple[int, int] | None = None, read: int | None = None) -> int | None:
        ctx, dut, model = self.ctx, self.dut, self.model
        ctx.set(dut.msi.ready, self.ready)
        ctx.set(dut.reg.w_stb, write is not None)
        ctx.set(dut.reg.r_stb, read is not None)
        ctx.set(dut.reg.w_strb, 0xF)
        if write is not None:
            ctx.set(dut.reg.addr, write[0])
            ctx.set(dut.reg.w_data, write[1])
        elif read is not None:
            ctx.set(dut.reg.addr, read)
        irq = ctx.get(dut.irq)
        assert irq == model.irq_lines, f"cycle {self.cycle}: irq {irq:#x}, model {model.irq_lines:#x}"
        self.line_history.append(irq)
        valid = ctx.get(dut.msi.valid)
        assert bool(valid) == (model.msi is not None), f"cycle {self.cycle}: msi__valid {valid}, model {model.msi}"
        if valid:
            got = Msi(ctx.get(dut.msi.addr), ctx.get(dut.msi.data))
            assert got == model.msi, f"cycle {self.cycle}: msi {got}, model {model.msi}"
            self.msi_valid_cycles.append(self.cycle)
        value = None
        if read is not None:
            value = ctx.get(dut.reg.r_data)
            want = model.read(read)
            assert value == want, f"cycle {self.cycle}: read {read:#x} = {value:#x}, model {want:#x}"
        if write is not None:
            model.write(*write)
        delivered = model.tick(bool(self.ready))
        if delivered is not None:
            self.msis.append(delivered)
        await ctx.tick()
        self.cycle += 1
        return value

    async def idle(self, n: int = 1) -> None:
        for _ in range(n):
            await self.step()

    async def write(self, offset: int, value: int) -> None:
        await self.step(write=(offset, value & 0xFFFFFFFF))

    async def write64(self, offset: int, value: int) -> None:
        await self.write(offset, value & 0xFFFFFFFF)
        await self.write(offset + 4, value >> 32)

    async def read(self, offset: int) -> int:
        value = await self.step(read=offset)
        assert value is not None
        return value

    async def read64(self, offset: int) -> int:
        lo = await self.read(offset)
        return lo | (await self.read(offset + 4)) << 32

    # convenience
    def off(self, name: str, n: int = 0) -> int:
        return self.dev.offset(name, n)

    def conf(self, **fields: int) -> int:
        r = self.dev.register("TIMER_CONF")
        v = 0
        for name, val in fields.items():
            v = r.field(name.upper()).put(v, val)
        return v

    def gen(self, enable: int = 0, legacy: int = 0) -> int:
        r = self.dev.register("GEN_CONF")
        return r.field("LEG_RT_CNF").put(r.field("ENABLE_CNF").put(0, enable), legacy)

    async def start(self, *, legacy: int = 0) -> None:
        await self.write(self.off("GEN_CONF"), self.gen(1, legacy))

    async def halt(self) -> None:
        await self.write(self.off("GEN_CONF"), self.gen(0))


def run(spec: Spec, body: Callable[[Lockstep], Awaitable[None]]) -> Lockstep:
    dut = HpetCore(spec)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    holder: list[Lockstep] = []

    async def tb(ctx: Any) -> None:
        ls = Lockstep(spec, ctx, dut)
        holder.append(ls)
        await body(ls)
        await ls.idle(2)

    sim.add_testbench(tb)
    sim.run()
    return holder[0]


def level(spec: Spec) -> int:
    return spec.hpet.register("TIMER_CONF").field("INT_TYPE_CNF").enum("LEVEL")


def periodic(spec: Spec) -> int:
    return spec.hpet.register("TIMER_CONF").field("TYPE_CNF").enum("PERIODIC")


ROUTE = 20  # an allowed route in the default INT_ROUTE_CAP (checked below)


# ----------------------------------------------------------------------------- registers


def test_capabilities_and_conf_mask(spec: Spec) -> None:
    dev = spec.hpet
    gcap = dev.register("GCAP_ID")
    conf = dev.register("TIMER_CONF")
    seen: dict[str, int] = {}

    async def body(b: Lockstep) -> None:
        seen["gcap"] = await b.read64(b.off("GCAP_ID"))
        await b.write64(b.off("GCAP_ID"), 0)
        seen["gcap2"] = await b.read64(b.off("GCAP_ID"))
        seen["conf_reset"] = await b.read64(b.off("TIMER_CONF", 1))
        await b.write64(b.off("TIMER_CONF", 1), (1 << 64) - 1)
        seen["conf_ones"] = await b.read64(b.off("TIMER_CONF", 1))
        seen["cmp_reset"] = await b.read64(b.off("TIMER_CMP", 2))
        await b.write64(b.off("GEN_CONF"), (1 << 64) - 1)
        seen["gen"] = await b.read64(b.off("GEN_CONF"))
        seen["reserved"] = await b.read(0x0E0)

    run(spec, body)
    assert seen["gcap"] == seen["gcap2"] == gcap.reset
    assert gcap.field("COUNTER_CLK_PERIOD").get(seen["gcap"]) == dev.param("period_fs")
    assert gcap.field("NUM_TIM_CAP").get(seen["gcap"]) == dev.param("timers") - 1
    assert gcap.field("VENDOR_ID").get(seen["gcap"]) == dev.param("vendor_id")
    assert gcap.field("LEG_RT_CAP").get(seen["gcap"]) == 1
    assert seen["conf_reset"] == conf.reset
    assert conf.field("INT_ROUTE_CAP").get(seen["conf_reset"]) == dev.param("int_route_cap")
    # writable bits take the ones, RO capability bits keep their reset
    assert seen["conf_ones"] == conf.reset | conf_write_mask(spec)
    assert (seen["conf_ones"] & 0xFFFF) == 0xFF7E  # the IA-PC HPET mask with FSB capability
    assert seen["cmp_reset"] == (1 << 64) - 1
    assert seen["gen"] == 0x3
    assert seen["reserved"] == 0
    assert dev.param("int_route_cap") >> ROUTE & 1


def test_main_counter(spec: Spec) -> None:
    seen: dict[str, int] = {}

    async def body(b: Lockstep) -> None:
        cnt = b.off("MAIN_CNT")
        await b.idle(3)
        seen["halted"] = await b.read(cnt)
        await b.write64(cnt, 0x1_FFFF_FFF0)
        seen["written"] = await b.read64(cnt)
        await b.start()
        a = await b.read(cnt)
        await b.idle(9)
        seen["delta"] = (await b.read(cnt)) - a
        await b.write(cnt, 0)  # ignored while running
        seen["after_ignored"] = await b.read64(cnt)
        await b.idle(20)
        await b.halt()
        f1 = await b.read64(cnt)
        await b.idle(5)
        seen["frozen"] = (await b.read64(cnt)) - f1

    run(spec, body)
    assert seen["halted"] == 0
    assert seen["written"] == 0x1_FFFF_FFF0
    assert seen["delta"] == 10  # one per clock: read, 9 idle, read
    assert seen["after_ignored"] > 0x1_FFFF_FFF0
    assert seen["frozen"] == 0


# ----------------------------------------------------------------------------- comparators


def test_oneshot_level_fires_once_with_latency(spec: Spec) -> None:
    seen: dict[str, Any] = {}
    target = 40

    async def body(b: Lockstep) -> None:
        await b.write(b.off("TIMER_CONF", 0), b.conf(int_type_cnf=level(spec), int_enb_cnf=1, int_route_cnf=ROUTE))
        await b.write64(b.off("TIMER_CMP", 0), target)
        await b.start()
        while b.model.counter != target:
            await b.idle()
        seen["match_cycle"] = b.cycle  # the cycle in which MAIN_CNT == comparator
        await b.idle(5)
        seen["sta"] = await b.read(b.off("GINTR_STA"))
        await b.write(b.off("GINTR_STA"), 0)  # writing 0: no effect
        seen["line_kept"] = b.model.irq_lines
        await b.write(b.off("GINTR_STA"), 1)
        await b.idle(2)
        seen["sta2"] = await b.read(b.off("GINTR_STA"))
        await b.idle(60)

    b = run(spec, body)
    hist = [v >> ROUTE & 1 for v in b.line_history]
    rises = [i for i in range(1, len(hist)) if hist[i] and not hist[i - 1]]
    assert rises == [seen["match_cycle"] + 1]  # one assertion, one cycle after the match
    assert seen["sta"] == 1 and seen["line_kept"] == 1 << ROUTE
    assert seen["sta2"] == 0
    assert not b.line_history[-1]


def test_periodic_val_set_and_accumulator(spec: Spec) -> None:
    seen: dict[str, Any] = {}

    async def body(b: Lockstep) -> None:
        conf = b.off("TIMER_CONF", 1)
        cmp = b.off("TIMER_CMP", 1)
        base = b.conf(int_enb_cnf=1, type_cnf=periodic(spec), int_route_cnf=ROUTE)
        await b.write(cmp + 4, 0)  # one-shot: the comparator's high dword (reset all ones)
        await b.write(conf, base | b.conf(val_set_cnf=1))
        seen["val_set"] = b.dev.register("TIMER_CONF").field("VAL_SET_CNF").get(await b.read(conf))
        await b.write(cmp, 20)  # VAL_SET: comparator and period
        seen["val_set_after"] = b.dev.register("TIMER_CONF").field("VAL_SET_CNF").get(await b.read(conf))
        await b.write(cmp + 4, 0)  # high dword: period high only (VAL_SET gone)
        await b.write(cmp, 15)  # VAL_SET clear: period only ("last value written")
        seen["cmp_kept"] = await b.read(cmp)
        await b.start()
        await b.idle(20 + 15 * 4)
        await b.halt()
        seen["cmp_now"] = await b.read64(cmp)

    b = run(spec, body)
    assert (seen["val_set"], seen["val_set_after"]) == (1, 0)
    assert seen["cmp_kept"] == 20
    pulses = [i for i, v in enumerate(b.line_history) if v >> ROUTE & 1]
    assert len(pulses) >= 4
    assert {pulses[i + 1] - pulses[i] for i in range(len(pulses) - 1)} == {15}
    assert all(not b.line_history[p + 1] for p in pulses[:-1])  # one-cycle pulses
    assert seen["cmp_now"] == 20 + 15 * len(pulses)


def test_missed_periods_not_replayed(spec: Spec) -> None:
    """A periodic level timer whose status is never cleared keeps one assertion;
    a counter moved past the comparator while halted fires nothing."""
    seen: dict[str, Any] = {}

    async def body(b: Lockstep) -> None:
        await b.write(b.off("TIMER_CMP", 0) + 4, 0)  # one-shot: comparator high dword
        await b.write(b.off("TIMER_CONF", 0), b.conf(int_type_cnf=level(spec), int_enb_cnf=1,
                                                     type_cnf=periodic(spec), val_set_cnf=1, int_route_cnf=ROUTE))
        await b.write64(b.off("TIMER_CMP", 0), 10)  # low dword sets cmp+period, high: period high
        await b.start()
        await b.idle(60)
        await b.halt()
        seen["cmp"] = await b.read64(b.off("TIMER_CMP", 0))
        cnt = await b.read64(b.off("MAIN_CNT"))
        await b.write64(b.off("MAIN_CNT"), cnt + 100)
        await b.write(b.off("GINTR_STA"), 1)
        await b.start()
        await b.idle(50)
        seen["sta"] = await b.read(b.off("GINTR_STA"))
        seen["cmp2"] = await b.read64(b.off("TIMER_CMP", 0))

    b = run(spec, body)
    rises = [i for i in range(1, len(b.line_history)) if b.line_history[i] and not b.line_history[i - 1]]
    assert len(rises) == 1
    assert seen["cmp"] > 10 and (seen["cmp"] - 10) % 10 == 0
    assert seen["sta"] == 0 and seen["cmp2"] == seen["cmp"]


def test_32bit_mode_and_wrap(spec: Spec) -> None:
    seen: dict[str, Any] = {}

    async def body(b: Lockstep) -> None:
        conf0 = b.off("TIMER_CONF", 0)
        cmp0 = b.off("TIMER_CMP", 0)
        await b.write64(cmp0, 0x1234_5678_0000_0005)
        await b.write(conf0, b.conf(int_enb_cnf=1, mode32_cnf=1, int_route_cnf=ROUTE))
        seen["trunc"] = await b.read64(cmp0)
        await b.write(cmp0 + 4, 0xFFFF)  # ignored in 32-bit mode
        seen["hi_ignored"] = await b.read64(cmp0)
        await b.write64(b.off("MAIN_CNT"), 0x7_FFFF_FFF0)
        await b.write(conf0, b.conf(int_enb_cnf=1, mode32_cnf=1, int_route_cnf=ROUTE))  # arm
        await b.start()
        await b.idle(40)

    b = run(spec, body)
    assert seen["trunc"] == 5 and seen["hi_ignored"] == 5
    pulses = [i for i, v in enumerate(b.line_history) if v >> ROUTE & 1]
    # interrupt at the 32-bit wrap, then at the match 5 (+1) ticks later
    assert len(pulses) == 2 and pulses[1] - pulses[0] == 6


def test_32bit_no_wrap_interrupt_when_ahead(spec: Spec) -> None:
    async def body(b: Lockstep) -> None:
        await b.write64(b.off("MAIN_CNT"), 0xFFFF_FFF0)
        await b.write(b.off("TIMER_CONF", 2), b.conf(int_enb_cnf=1, mode32_cnf=1, int_route_cnf=ROUTE))
        await b.write(b.off("TIMER_CMP", 2), 0xFFFF_FFF8)
        await b.start()
        await b.idle(40)

    b = run(spec, body)
    assert len([v for v in b.line_history if v >> ROUTE & 1]) == 1


def test_legacy_routes(spec: Spec) -> None:
    pins = spec.platform.hpet_legacy_pins
    seen: list[int] = []

    async def body(b: Lockstep) -> None:
        for n in range(3):
            await b.write(b.off("TIMER_CONF", n), b.conf(int_type_cnf=level(spec), int_enb_cnf=1, int_route_cnf=ROUTE))
            await b.write64(b.off("TIMER_CMP", n), 5)
        await b.start(legacy=1)
        await b.idle(10)
        seen.append(b.model.irq_lines)
        await b.write(b.off("GEN_CONF"), b.gen(1, 0))
        await b.idle(1)
        seen.append(b.model.irq_lines)
        await b.halt()
        await b.idle(1)
        seen.append(b.model.irq_lines)
        seen.append(await b.read(b.off("GINTR_STA")))

    run(spec, body)
    assert seen[0] == (1 << pins[0]) | (1 << pins[1]) | (1 << ROUTE)
    assert seen[1] == 1 << ROUTE
    assert seen[2] == 0  # halted: lines low, status kept
    assert seen[3] == 0b111


def test_level_enable_and_type_change(spec: Spec) -> None:
    """INT_ENB=0 still sets status without a line; INT_ENB 0→1 asserts it;
    level→edge clears status and lowers the line."""
    seen: list[Any] = []

    async def body(b: Lockstep) -> None:
        conf = b.off("TIMER_CONF", 0)
        await b.write(conf, b.conf(int_type_cnf=level(spec), int_route_cnf=ROUTE))
        await b.write64(b.off("TIMER_CMP", 0), 3)
        await b.start()
        await b.idle(8)
        seen.append((await b.read(b.off("GINTR_STA")), b.model.irq_lines))
        await b.write(conf, b.conf(int_type_cnf=level(spec), int_enb_cnf=1, int_route_cnf=ROUTE))
        seen.append((await b.read(b.off("GINTR_STA")), b.model.irq_lines))
        await b.write(conf, b.conf(int_enb_cnf=1, int_route_cnf=ROUTE))
        seen.append((await b.read(b.off("GINTR_STA")), b.model.irq_lines))

    run(spec, body)
    assert seen == [(1, 0), (1, 1 << ROUTE), (0, 0)]


def test_fsb_delivery(spec: Spec) -> None:
    seen: dict[str, Any] = {}

    async def body(b: Lockstep) -> None:
        for n in range(2):
            await b.write(b.off("TIMER_CONF", n), b.conf(int_enb_cnf=1, fsb_en_cnf=1, int_route_cnf=ROUTE))
            await b.write64(b.off("TIMER_FSB", n), (0xFEE0_0000 | n << 12) << 32 | (0x40 + n))
            await b.write64(b.off("TIMER_CMP", n), 12)
        b.ready = 0
        await b.start()
        while b.model.counter != 12:
            await b.idle()
        seen["match"] = b.cycle
        await b.idle(6)  # held while msi__ready is low
        b.ready = 1
        await b.idle(4)

    b = run(spec, body)
    assert b.msi_valid_cycles[0] == seen["match"] + 1
    assert b.msis == [Msi(0xFEE00000, 0x40), Msi(0xFEE01000, 0x41)]
    assert not any(b.line_history)


# ----------------------------------------------------------------------------- random


def random_body(seed: int, cycles: int) -> Callable[[Lockstep], Awaitable[None]]:
    rng = random.Random(seed)

    async def body(b: Lockstep) -> None:
        nt = b.model.ntimers
        regs = [b.off("GEN_CONF"), b.off("GINTR_STA"), b.off("MAIN_CNT"), b.off("MAIN_CNT") + 4]
        for n in range(nt):
            for name in ("TIMER_CONF", "TIMER_CMP", "TIMER_FSB"):
                regs += [b.off(name, n), b.off(name, n) + 4]
        await b.write64(b.off("MAIN_CNT"), rng.choice([0, 0xFFFF_FFC0, 0xFFFF_FFFF_FFFF_FFC0]))
        for _ in range(cycles):
            b.ready = int(rng.random() < 0.7)
            r = rng.random()
            if r < 0.10:
                n = rng.randrange(nt)
                v = b.conf(int_type_cnf=rng.randrange(2), int_enb_cnf=int(rng.random() < 0.8),
                           type_cnf=rng.randrange(2), val_set_cnf=rng.randrange(2), mode32_cnf=int(rng.random() < 0.3),
                           int_route_cnf=rng.choice([2, 8, 16, 20, 23, 30]), fsb_en_cnf=int(rng.random() < 0.3))
                await b.write(b.off("TIMER_CONF", n), v)
            elif r < 0.18:
                n = rng.randrange(nt)
                near = (b.model.counter + rng.randrange(1, 40)) & 0xFFFFFFFF
                hi = 4 * int(rng.random() < 0.2)
                await b.write(b.off("TIMER_CMP", n) + hi, rng.choice([near, rng.randrange(1, 30)]))
            elif r < 0.21:
                await b.write(b.off("GEN_CONF"), rng.randrange(4) | int(rng.random() < 0.7))
            elif r < 0.24:
                await b.write(b.off("GINTR_STA"), rng.getrandbits(nt))
            elif r < 0.26:
                await b.write(rng.choice(regs), rng.getrandbits(32))
            elif r < 0.32:
                await b.read(rng.choice(regs))
            else:
                await b.step()

    return body


def test_random_lockstep(spec: Spec) -> None:
    seed = int(os.environ.get("IRQFORGE_SEED", random.randrange(1 << 32)))
    try:
        b = run(spec, random_body(seed, 3000))
    except AssertionError as e:
        raise AssertionError(f"{e} (seed {seed}; rerun with IRQFORGE_SEED={seed})") from e
    assert any(b.line_history) or b.msis, f"seed {seed}: nothing fired"


def test_advance_matches_ticking(spec: Spec) -> None:
    """next_event_in() is exact: jumping with advance() ends in the same state as ticking."""
    rng = random.Random(7)
    conf = spec.hpet.register("TIMER_CONF")
    for trial in range(40):
        a, b = HpetModel(spec), HpetModel(spec)
        setup = []
        for n in range(a.ntimers):
            v = 0
            for name, val in (
                ("INT_TYPE_CNF", rng.randrange(2)),
                ("INT_ENB_CNF", 1),
                ("TYPE_CNF", rng.randrange(2)),
                ("VAL_SET_CNF", 1),
                ("MODE32_CNF", rng.randrange(2)),
                ("INT_ROUTE_CNF", rng.choice([2, 8, 20])),
                ("FSB_EN_CNF", int(rng.random() < 0.3)),
            ):
                v = conf.field(name).put(v, val)
            setup += [(spec.hpet.offset("TIMER_CONF", n), v), (spec.hpet.offset("TIMER_CMP", n), rng.randrange(5, 300))]
        setup += [(spec.hpet.offset("MAIN_CNT"), rng.choice([0, 0xFFFFFF00])), (spec.hpet.offset("GEN_CONF"), 1)]
        for m in (a, b):
            for off, v in setup:
                m.write(off, v)
                m.tick()
        total = rng.randrange(100, 2000)
        for _ in range(total):
            a.tick()
        done = 0
        while done < total:
            step = min(total - done, rng.randrange(1, 500))
            b.advance(step)
            done += step
        assert a.counter == b.counter, trial
        assert a.status == b.status and a.irq_lines == b.irq_lines, trial
        assert [t.cmp for t in a.timers] == [t.cmp for t in b.timers], trial
        assert a.take_edges() == b.take_edges(), trial
        assert a.take_msis() == b.take_msis(), trial


# ----------------------------------------------------------------------------- AXI top


def test_top_through_axi(spec: Spec) -> None:
    """The AXI4-Lite top reaches the core: a level timer's line rises on the bus-programmed route."""
    dut = Hpet(spec)
    dev = spec.hpet
    out: dict[str, int] = {}

    async def tb(ctx: Any) -> None:
        bus = dut.bus

        async def write(addr: int, data: int) -> None:
            ctx.set(bus.awaddr, addr)
            ctx.set(bus.wdata, data)
            ctx.set(bus.wstrb, 0xF)
            ctx.set(bus.awvalid, 1)
            ctx.set(bus.wvalid, 1)
            ctx.set(bus.bready, 1)
            await ctx.tick().until(bus.awready & bus.wready)
            ctx.set(bus.awvalid, 0)
            ctx.set(bus.wvalid, 0)
            await ctx.tick().until(bus.bvalid)

        async def read(addr: int) -> int:
            ctx.set(bus.araddr, addr)
            ctx.set(bus.arvalid, 1)
            ctx.set(bus.rready, 1)
            await ctx.tick().until(bus.arready)
            ctx.set(bus.arvalid, 0)
            (value,) = await ctx.tick().sample(bus.rdata).until(bus.rvalid)
            return int(value)

        conf = dev.register("TIMER_CONF")
        v = conf.field("INT_TYPE_CNF").put(0, 1)
        v = conf.field("INT_ROUTE_CNF").put(conf.field("INT_ENB_CNF").put(v, 1), ROUTE)
        await write(dev.offset("TIMER_CONF", 2), v)
        await write(dev.offset("TIMER_CMP", 2), 3)
        await write(dev.offset("TIMER_CMP", 2) + 4, 0)
        await write(dev.offset("GEN_CONF"), 1)
        out["gcap"] = await read(dev.offset("GCAP_ID") + 4)
        await ctx.tick().until(dut.irq[ROUTE])
        out["sta"] = await read(dev.offset("GINTR_STA"))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run_until(2e-6)
    assert out["gcap"] == dev.param("period_fs")
    assert out["sta"] == 0b100


# ----------------------------------------------------------------------------- the document's layout


def test_registers_at_the_hpet_spec_offsets(spec: Spec) -> None:
    """read == spec value == literal: offsets, bits and resets written as in
    IA-PC HPET 1.0a §2.3 and Linux hpet.h, not taken from the spec."""
    seen: dict[str, int] = {}

    async def body(b: Lockstep) -> None:
        seen["gcap"] = await b.read64(0x000)  # HPET_ID
        seen["conf1"] = await b.read64(0x100 + 0x20 * 1)  # HPET_Tn_CFG(1)
        seen["cmp2"] = await b.read64(0x108 + 0x20 * 2)  # HPET_Tn_CMP(2)
        # timer 0: level (HPET_TN_LEVEL 0x2) | enabled (HPET_TN_ENABLE 0x4), IO-APIC pin 20 (bits 13:9)
        await b.write(0x100, 0x2 | 0x4 | 20 << 9)
        seen["conf0"] = await b.read(0x100)
        await b.write(0x108, 30)  # comparator low dword
        await b.write(0x10C, 0)
        await b.write(0x010, 0x1)  # HPET_CFG_ENABLE
        await b.idle(40)
        seen["status"] = await b.read(0x020)  # HPET_STATUS: bit 0 set by the level timer
        seen["line"] = b.line_history[-1]
        await b.write(0x020, 0x1)  # write 1 to clear
        await b.idle(2)
        seen["status_cleared"] = await b.read(0x020)
        seen["counter_hi"] = await b.read(0x0F4)  # HPET_COUNTER upper dword

    run(spec, body)
    gcap, conf, cmp_ = (spec.hpet.register(n) for n in ("GCAP_ID", "TIMER_CONF", "TIMER_CMP"))
    assert seen["gcap"] == gcap.reset == 0x05F5E100_8086A201
    # PER_INT_CAP 0x10 | SIZE_CAP 0x20 | FSB_INT_DEL_CAP 0x8000, route capability 0x00FF0104
    assert seen["conf1"] == conf.reset == 0x00FF0104_00008030
    assert seen["cmp2"] == cmp_.reset == 0xFFFF_FFFF_FFFF_FFFF
    assert seen["conf0"] == 0x8030 | 0x2 | 0x4 | 20 << 9
    assert seen["status"] == 0x1 and seen["line"] == 1 << 20
    assert seen["status_cleared"] == 0
    assert seen["counter_hi"] == 0
