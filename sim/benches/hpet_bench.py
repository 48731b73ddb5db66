"""cocotb bench for ``irqforge_hpet``: the generated Verilog against :class:`HpetModel`.

Run through :func:`irqforge.sim.runner.build_and_test` with the test module
``"irqforge.sim.benches.hpet_bench"`` and toplevel ``"irqforge_hpet"``
(``tests/hw/test_hpet_cocotb.py`` does).

The drivers, monitors and cycle-stamped :class:`~irqforge.sim.benches.ioapic_bench.Timeline`
are those of the IO-APIC bench (see its docstring): the AXI4-Lite port through
cocotbext-axi with every access stamped with the cycle the bridge issued it,
``msi__*`` recorded while ``msi__valid`` is high, and ``irq`` recorded at each
change (an edge trigger, never a per-cycle poll). After the stimulus
:func:`replay_hpet` runs the cycle-accurate model over the timeline and
compares ``irq``, ``msi__*`` and every read in every cycle; the directed tests
also assert the architectural outcome.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Awaitable, Callable
from typing import Any

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, ValueChange

from irqforge.sim.benches.ioapic_bench import (
    ENV_CYCLES,
    ENV_SEED,
    Cycles,
    Mismatch,
    TimedBus,
    Timeline,
    ValidMonitor,
    bench_seed,
    bench_spec,
)
from irqforge.sim.models import coverage
from irqforge.sim.models.hpet import HpetModel
from irqforge.spec import Spec

__all__ = ["HpetBench", "replay_hpet"]

ROUTE = 20  #: an IO-APIC pin in the default INT_ROUTE_CAP


class HpetBench:
    """Drivers, monitors and scoreboard for one test on ``irqforge_hpet``."""

    def __init__(self, dut: Any, spec: Spec) -> None:
        self.dut = dut
        self.spec = spec
        self.dev = spec.hpet
        self.conf_reg = self.dev.register("TIMER_CONF")
        self.cycles = Cycles(dut)
        self.timeline = Timeline()
        self.ready = 1
        self.bus: TimedBus

    async def start(self) -> None:
        dut = self.dut
        dut.msi__ready.value = 1
        self.bus = TimedBus(dut, self.cycles, self.timeline)
        await self.cycles.start()
        ValidMonitor(dut, self.cycles, dut.msi__valid, self._sample_msi, self.timeline.output("msi"))
        cocotb.start_soon(self._watch_irq())

    def _sample_msi(self) -> tuple[int, int]:
        return int(self.dut.msi__addr.value), int(self.dut.msi__data.value)

    async def _watch_irq(self) -> None:
        changes = self.timeline.output("irq")
        while True:
            await ValueChange(self.dut.irq)
            await ReadOnly()
            changes[self.cycles.now()] = int(self.dut.irq.value)

    # ------------------------------------------------------------- stimulus
    def off(self, name: str, n: int = 0) -> int:
        return self.dev.offset(name, n)

    def conf(self, **fields: int) -> int:
        v = 0
        for name, val in fields.items():
            v = self.conf_reg.field(name.upper()).put(v, val)
        return v

    def gen(self, enable: int = 0, legacy: int = 0) -> int:
        r = self.dev.register("GEN_CONF")
        return r.field("LEG_RT_CNF").put(r.field("ENABLE_CNF").put(0, enable), legacy)

    @property
    def level(self) -> int:
        return self.conf_reg.field("INT_TYPE_CNF").enum("LEVEL")

    @property
    def periodic(self) -> int:
        return self.conf_reg.field("TYPE_CNF").enum("PERIODIC")

    async def idle(self, n: int) -> None:
        await ClockCycles(self.dut.clk, n)

    async def write(self, offset: int, value: int) -> None:
        await self.bus.write(offset, value)

    async def write64(self, offset: int, value: int) -> None:
        await self.bus.write(offset, value & 0xFFFFFFFF)
        await self.bus.write(offset + 4, value >> 32)

    async def read(self, offset: int) -> int:
        return await self.bus.read(offset)

    async def read64(self, offset: int) -> int:
        lo = await self.bus.read(offset)
        return lo | (await self.bus.read(offset + 4)) << 32

    async def start_counter(self, legacy: int = 0) -> None:
        await self.write(self.off("GEN_CONF"), self.gen(1, legacy))

    async def halt(self) -> None:
        await self.write(self.off("GEN_CONF"), self.gen(0))

    async def set_ready(self, ready: int) -> None:
        c = await self.cycles.falling()
        self.ready = ready
        self.dut.msi__ready.value = ready
        self.timeline.set_input(c, "ready", ready)

    # ------------------------------------------------------------- results
    def line(self, pin: int) -> list[tuple[int, int]]:
        """(cycle, level) of every change of ``irq[pin]``, in order."""
        out, last = [], 0
        for c, v in sorted(self.timeline.output("irq").items()):
            bit = v >> pin & 1
            if bit != last:
                out.append((c, bit))
                last = bit
        return out

    def irq_at(self, cycle: int) -> int:
        """``irq`` during ``cycle``."""
        changes = self.timeline.output("irq")
        return next((changes[c] for c in sorted(changes, reverse=True) if c <= cycle), 0)

    def rises(self, pin: int) -> list[int]:
        return [c for c, v in self.line(pin) if v]

    def msis(self) -> list[tuple[int, int]]:
        return [p for _, p in self.timeline.handshakes("msi", "ready")]

    def read_cycles(self, offset: int) -> list[tuple[int, int]]:
        """(cycle, data) of every read of ``offset``."""
        return [(c, v) for c, (o, v) in sorted(self.timeline.reads.items()) if o == offset]

    async def check(self, context: str = "") -> HpetModel:
        """Replay the timeline on the model and compare every cycle."""
        await self.idle(3)
        await ReadOnly()
        end = self.cycles.now()
        await RisingEdge(self.dut.clk)
        return replay_hpet(self.spec, self.timeline, end, context)


def replay_hpet(spec: Spec, tl: Timeline, end: int, context: str = "") -> HpetModel:
    """Run :class:`HpetModel` through cycles ``0 .. end-1`` of ``tl``, comparing
    ``irq``, ``msi__*`` and every read; raises :class:`Mismatch`. Returns the model."""
    model = HpetModel(spec)
    irq_changes = tl.output("irq")
    msi = tl.output("msi")
    ready, irq = 1, 0
    where = f" ({context})" if context else ""
    cov = coverage.collector(spec) if os.environ.get(coverage.ENV_COVERAGE) else None
    for c in range(end):
        ins = tl.inputs.get(c)
        if ins is not None:
            ready = ins.get("ready", ready)
        if cov is not None:
            _sample_fired(cov, model, irq, irq_changes.get(c, irq), msi.get(c) is not None and msi.get(c - 1) is None)
        irq = irq_changes.get(c, irq)
        if irq != model.irq_lines:
            raise Mismatch(f"cycle {c}: irq {irq:#x} but the model drives {model.irq_lines:#x}{where}")
        want = None if model.msi is None else (model.msi.addr, model.msi.data)
        if msi.get(c) != want:
            raise Mismatch(f"cycle {c}: msi__* {msi.get(c)} but the model has {want}{where}")
        rd = tl.reads.get(c)
        if rd is not None:
            expect = model.read(rd[0])
            if rd[1] != expect:
                raise Mismatch(f"cycle {c}: read {rd[0]:#x} returned {rd[1]:#x}, the model {expect:#x}{where}")
        wr = tl.writes.get(c)
        if wr is not None:
            model.write(*wr)
        model.tick(bool(ready))
    return model


def _sample_fired(cov: coverage.Coverage, model: HpetModel, before: int, now: int, new_msi: bool) -> None:
    """Functional coverage: the timers behind lines that rose and behind a new MSI."""
    rose = now & ~before
    pin = 0
    while rose:
        if rose & 1:
            coverage.hpet_fired(cov, model.timers, model.legacy, pin=pin, legacy_pins=model.legacy_pins, msi=False)
        rose >>= 1
        pin += 1
    if new_msi:
        coverage.hpet_fired(cov, model.timers, model.legacy, pin=None, legacy_pins=model.legacy_pins, msi=True)


async def _bench(dut: Any) -> HpetBench:
    b = HpetBench(dut, bench_spec())
    await b.start()
    return b


# ---------------------------------------------------------------------------- directed tests


@cocotb.test()
async def capabilities(dut: Any) -> None:
    """GCAP_ID from the spec and read-only; Tn_CONF write mask; GEN_CONF bits; reserved reads 0."""
    b = await _bench(dut)
    gcap_reg = b.dev.register("GCAP_ID")
    gcap = await b.read64(b.off("GCAP_ID"))
    await b.write64(b.off("GCAP_ID"), 0)
    assert await b.read64(b.off("GCAP_ID")) == gcap == gcap_reg.reset
    assert gcap_reg.field("COUNTER_CLK_PERIOD").get(gcap) == b.dev.param("period_fs")
    assert gcap_reg.field("NUM_TIM_CAP").get(gcap) == b.dev.param("timers") - 1
    await b.write64(b.off("TIMER_CONF", 1), (1 << 64) - 1)
    assert (await b.read64(b.off("TIMER_CONF", 1))) & 0xFFFF == 0xFF7E
    await b.write64(b.off("GEN_CONF"), (1 << 64) - 1)
    assert await b.read64(b.off("GEN_CONF")) == 0x3
    assert await b.read(0x0E0) == 0
    await b.check("capabilities")


@cocotb.test()
async def main_counter(dut: Any) -> None:
    """MAIN_CNT counts once per clock while enabled, is written only while halted, freezes on halt."""
    b = await _bench(dut)
    cnt = b.off("MAIN_CNT")
    await b.write64(cnt, 0x1_FFFF_FFF0)
    assert await b.read64(cnt) == 0x1_FFFF_FFF0
    await b.start_counter()
    await b.read(cnt)
    await b.idle(25)
    await b.read(cnt)
    (c0, v0), (c1, v1) = b.read_cycles(cnt)[-2:]
    assert (v1 - v0) & 0xFFFFFFFF == c1 - c0, f"counter moved {v1 - v0} in {c1 - c0} cycles"
    await b.write(cnt, 0)  # ignored while running
    assert await b.read64(cnt) > 0x1_FFFF_FFF0
    await b.halt()
    frozen = await b.read64(cnt)
    await b.idle(10)
    assert await b.read64(cnt) == frozen
    await b.check("main_counter")


@cocotb.test()
async def oneshot_level_w1c(dut: Any) -> None:
    """A one-shot level timer fires once, 1 cycle after the match; GINTR_STA is W1C and holds the line."""
    b = await _bench(dut)
    target = 60
    await b.write(b.off("TIMER_CONF", 0), b.conf(int_type_cnf=b.level, int_enb_cnf=1, int_route_cnf=ROUTE))
    await b.write64(b.off("TIMER_CMP", 0), target)
    await b.start_counter()
    await b.idle(target + 10)
    sta = await b.read(b.off("GINTR_STA"))
    await b.write(b.off("GINTR_STA"), 0)  # writing 0: no effect
    kept = await b.read(b.off("GINTR_STA"))
    await b.write(b.off("GINTR_STA"), 1)
    sta2 = await b.read(b.off("GINTR_STA"))
    await b.idle(target)
    model = await b.check("oneshot_level_w1c")
    assert (sta, kept, sta2) == (1, 1, 0)
    line = b.line(ROUTE)
    assert [v for _, v in line] == [1, 0], line
    assert model.counter > target + 2 * 10
    # MAIN_CNT is 0 in the cycle after the enabling write and reads `target`
    # `target` cycles later; the line rises one cycle after that
    enable_cycle = next(c for c, w in sorted(b.timeline.writes.items()) if w[0] == b.off("GEN_CONF"))
    assert line[0][0] == enable_cycle + 1 + target + 1, (enable_cycle, line)


@cocotb.test()
async def periodic_val_set(dut: Any) -> None:
    """VAL_SET sets comparator and period; without it a write sets only the period;
    pulses every period, one cycle wide; the comparator advances by the period."""
    b = await _bench(dut)
    conf, cmp = b.off("TIMER_CONF", 1), b.off("TIMER_CMP", 1)
    val_set = b.conf_reg.field("VAL_SET_CNF")
    base = b.conf(int_enb_cnf=1, type_cnf=b.periodic, int_route_cnf=ROUTE)
    await b.write(cmp + 4, 0)  # one-shot yet: clears the comparator's high dword
    await b.write(conf, base | b.conf(val_set_cnf=1))
    assert val_set.get(await b.read(conf)) == 1
    await b.write(cmp, 20)  # VAL_SET: comparator and period
    assert val_set.get(await b.read(conf)) == 0
    await b.write(cmp + 4, 0)
    await b.write(cmp, 15)  # period only
    assert await b.read(cmp) == 20
    await b.start_counter()
    await b.idle(20 + 15 * 4)
    await b.halt()
    cmp_now = await b.read64(cmp)
    await b.check("periodic_val_set")
    rises = b.rises(ROUTE)
    assert len(rises) >= 4
    assert {y - x for x, y in itertools.pairwise(rises)} == {15}
    assert all(v == 0 and c == r + 1 for r, (c, v) in zip(rises, b.line(ROUTE)[1::2], strict=False))  # 1-cycle pulses
    assert cmp_now == 20 + 15 * len(rises)


@cocotb.test()
async def missed_periods(dut: Any) -> None:
    """A periodic level timer never cleared keeps one assertion; periods skipped
    by a counter write while halted are not replayed."""
    b = await _bench(dut)
    await b.write(b.off("TIMER_CMP", 0) + 4, 0)
    await b.write(b.off("TIMER_CONF", 0), b.conf(int_type_cnf=b.level, int_enb_cnf=1, type_cnf=b.periodic,
                                                 val_set_cnf=1, int_route_cnf=ROUTE))
    await b.write64(b.off("TIMER_CMP", 0), 10)
    await b.start_counter()
    await b.idle(60)
    await b.halt()
    cmp = await b.read64(b.off("TIMER_CMP", 0))
    cnt = await b.read64(b.off("MAIN_CNT"))
    await b.write64(b.off("MAIN_CNT"), cnt + 100)
    await b.write(b.off("GINTR_STA"), 1)
    await b.start_counter()
    await b.idle(50)
    sta = await b.read(b.off("GINTR_STA"))
    cmp2 = await b.read64(b.off("TIMER_CMP", 0))
    await b.check("missed_periods")
    assert len(b.rises(ROUTE)) == 1
    assert cmp > 10 and (cmp - 10) % 10 == 0
    assert sta == 0 and cmp2 == cmp


@cocotb.test()
async def mode32_and_wrap(dut: Any) -> None:
    """32-bit mode truncates the comparator, ignores its high dword, and a one-shot
    fires at the 32-bit wrap and again at the match."""
    b = await _bench(dut)
    conf0, cmp0 = b.off("TIMER_CONF", 0), b.off("TIMER_CMP", 0)
    await b.write64(cmp0, 0x1234_5678_0000_0005)
    await b.write(conf0, b.conf(int_enb_cnf=1, mode32_cnf=1, int_route_cnf=ROUTE))
    trunc = await b.read64(cmp0)
    await b.write(cmp0 + 4, 0xFFFF)
    hi_ignored = await b.read64(cmp0)
    await b.write64(b.off("MAIN_CNT"), 0x7_FFFF_FFF0)
    await b.write(conf0, b.conf(int_enb_cnf=1, mode32_cnf=1, int_route_cnf=ROUTE))  # arm
    await b.start_counter()
    await b.idle(40)
    await b.check("mode32_and_wrap")
    assert trunc == 5 and hi_ignored == 5
    rises = b.rises(ROUTE)
    assert len(rises) == 2 and rises[1] - rises[0] == 6, rises


@cocotb.test()
async def legacy_routes(dut: Any) -> None:
    """LEG_RT_CNF sends timer 0 to pin 2 and timer 1 to pin 8; halting lowers the lines, status stays."""
    b = await _bench(dut)
    pins = b.spec.platform.hpet_legacy_pins
    for n in range(3):
        await b.write(b.off("TIMER_CONF", n), b.conf(int_type_cnf=b.level, int_enb_cnf=1, int_route_cnf=ROUTE))
        await b.write64(b.off("TIMER_CMP", n), 5)
    await b.start_counter(legacy=1)
    await b.idle(10)
    legacy_at = b.cycles.now()
    await b.write(b.off("GEN_CONF"), b.gen(1, 0))
    await b.idle(1)
    routed_at = b.cycles.now()
    await b.halt()
    await b.idle(1)
    halted_at = b.cycles.now()
    sta = await b.read(b.off("GINTR_STA"))
    await b.check("legacy_routes")
    legacy_lines, routed, halted = (b.irq_at(c) for c in (legacy_at, routed_at, halted_at))
    assert legacy_lines == (1 << pins[0]) | (1 << pins[1]) | (1 << ROUTE)
    assert routed == 1 << ROUTE and halted == 0 and sta == 0b111


@cocotb.test()
async def fsb_msi(dut: Any) -> None:
    """FSB timers send Tn_FSB_ROUTE as MSIs (1 cycle after the match), held while msi__ready is low, no lines."""
    b = await _bench(dut)
    for n in range(2):
        await b.write(b.off("TIMER_CONF", n), b.conf(int_enb_cnf=1, fsb_en_cnf=1, int_route_cnf=ROUTE))
        await b.write64(b.off("TIMER_FSB", n), (0xFEE0_0000 | n << 12) << 32 | (0x40 + n))
        await b.write64(b.off("TIMER_CMP", n), 12)
    await b.set_ready(0)
    await b.start_counter()
    await b.idle(20)
    await b.set_ready(1)
    await b.idle(4)
    await b.check("fsb_msi")
    enable_cycle = next(c for c, w in sorted(b.timeline.writes.items()) if w[0] == b.off("GEN_CONF"))
    assert min(b.timeline.output("msi")) == enable_cycle + 1 + 12 + 1
    assert b.msis() == [(0xFEE00000, 0x40), (0xFEE01000, 0x41)]
    assert not any(b.timeline.output("irq").values())


# ---------------------------------------------------------------------------- constrained random


@cocotb.test()
async def random_traffic(dut: Any) -> None:
    """Random configuration, comparator, counter and status writes, reads and
    MSI back-pressure, near the 32- and 64-bit wraps; the model checks every cycle."""
    seed = bench_seed()
    rng = random.Random(seed)
    b = await _bench(dut)
    nt = b.dev.param("timers")
    steps = int(os.environ.get("IRQFORGE_RANDOM_STEPS", "1000"))
    budget = int(os.environ.get(ENV_CYCLES) or 0)  # and at least this many cycles
    regs = [b.off("GEN_CONF"), b.off("GINTR_STA"), b.off("MAIN_CNT"), b.off("MAIN_CNT") + 4]
    for n in range(nt):
        for name in ("TIMER_CONF", "TIMER_CMP", "TIMER_FSB"):
            regs += [b.off(name, n), b.off(name, n) + 4]

    async def conf() -> None:
        n = rng.randrange(nt)
        await b.write(b.off("TIMER_CONF", n), b.conf(
            int_type_cnf=rng.randrange(2), int_enb_cnf=int(rng.random() < 0.8), type_cnf=rng.randrange(2),
            val_set_cnf=rng.randrange(2), mode32_cnf=int(rng.random() < 0.3),
            int_route_cnf=rng.choice([2, 8, 16, ROUTE, 23, 30]), fsb_en_cnf=int(rng.random() < 0.3)))

    async def comparator() -> None:
        n = rng.randrange(nt)
        hi = 4 * int(rng.random() < 0.2)
        if rng.random() < 0.6:  # a little ahead of the counter, as Linux programs it
            value = (await b.read(b.off("MAIN_CNT")) + rng.randrange(4, 60)) & 0xFFFFFFFF
        else:
            value = rng.randrange(1, 40)
        await b.write(b.off("TIMER_CMP", n) + hi, value)

    async def counter() -> None:
        await b.halt()
        await b.write64(b.off("MAIN_CNT"), rng.choice([0, 0xFFFF_FFC0, 0xFFFF_FFFF_FFFF_FFC0, rng.getrandbits(64)]))
        await b.start_counter(legacy=int(rng.random() < 0.3))

    actions: list[Callable[[], Awaitable[Any]]] = [
        conf,
        comparator,
        counter,
        lambda: b.write(b.off("GEN_CONF"), rng.randrange(4) | int(rng.random() < 0.85)),
        lambda: b.write(b.off("GINTR_STA"), rng.getrandbits(nt)),
        lambda: b.write(rng.choice(regs), rng.getrandbits(32)),
        lambda: b.read(rng.choice(regs)),
        lambda: b.set_ready(int(rng.random() < 0.7)),
        lambda: b.idle(rng.randrange(1, 30)),
    ]
    weights = [6, 10, 1, 2, 3, 1, 4, 3, 6]
    try:
        await b.write64(b.off("MAIN_CNT"), rng.choice([0, 0xFFFF_FF00, 0xFFFF_FFFF_FFFF_FF00]))
        await b.start_counter()
        step = 0
        while step < steps or b.cycles.now() < budget:
            await rng.choices(actions, weights)[0]()
            step += 1
        await b.set_ready(1)
        await b.check(f"seed {seed}")
    except AssertionError as e:
        raise AssertionError(f"{e} [random seed {seed}; rerun with {ENV_SEED}={seed}]") from e
    finally:
        coverage.save()
    fired = any(b.timeline.output("irq").values()) or b.msis()
    assert fired, f"seed {seed}: nothing fired"
    dut._log.info("random_traffic seed %d: %d irq changes, %d MSIs in %d cycles",
                  seed, len(b.timeline.output("irq")), len(b.msis()), b.cycles.now())
