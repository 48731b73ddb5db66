"""The platform's MSR ports and per-CPU TSC (hw/platform.py) in Amaranth's simulator,
in lock-step with the platform model (sim/models/platform.py ``PlatformModel.msr``).

Expected values come from the SDM, not from the code under test:

- SDM 17.17 (Time-Stamp Counter): a 64-bit counter per logical processor, zero
  at reset, counting from then on (here one tick per ``clk``), read and written
  as MSR 0x10 (IA32_TSC); on current processors WRMSR writes all 64 bits.
- The MSR handshake of docs/hardware.md: the access takes effect in the cycle
  with ``valid`` and ``ready``, where ``rdata`` and ``fault`` are valid.
- kvm-unit-tests ``tsc.c`` (``test_wrtsc``: the TSC reads back the written
  value plus the time since) and ``msr.c`` (an MSR nobody implements raises #GP).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from amaranth.sim import Simulator

from irqforge.hw.platform import IA32_TSC, Platform, top
from irqforge.sim.benches.platform_bench import UNIMPLEMENTED_MSRS as UNIMPLEMENTED
from irqforge.sim.benches.platform_bench import random_msr
from irqforge.sim.models.platform import PlatformModel


@pytest.fixture(scope="module")
def platform(spec: Any) -> Platform:
    return top(spec)


def run(dut: Platform, bench: Callable[[Any], Coroutine[Any, Any, None]]) -> None:
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


class Clocked:
    """The testbench's view of time: ``cycle`` = ticks since the start = the TSC after reset."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.cycle = 0

    async def tick(self, n: int = 1) -> None:
        for _ in range(n):
            await self.ctx.tick()
            self.cycle += 1


async def msr(t: Clocked, port: Any, write: bool, addr: int, wdata: int = 0,
              limit: int = 20) -> tuple[int, bool, int]:
    """One MSR access on ``port``: ``(rdata, fault, cycle it took effect in)``."""
    ctx = t.ctx
    ctx.set(port.valid, 1)
    ctx.set(port.write, int(write))
    ctx.set(port.addr, addr)
    ctx.set(port.wdata, wdata)
    for _ in range(limit):
        if ctx.get(port.ready):
            out = (ctx.get(port.rdata), bool(ctx.get(port.fault)), t.cycle)
            await t.tick()
            ctx.set(port.valid, 0)
            return out
        await t.tick()
    raise AssertionError(f"MSR {addr:#x}: no ready within {limit} cycles")


def test_tsc_counts_from_reset_one_tick_per_clk(platform: Platform) -> None:
    """SDM 17.17: zero at reset, one tick per clk; RDMSR 0x10 returns the TSC of the cycle
    it takes effect in, answered in that same cycle (ready with valid)."""

    async def bench(ctx: Any) -> None:
        t = Clocked(ctx)
        for i, cpu in enumerate(platform.cpu):
            await t.tick(3 + 5 * i)
            rdata, fault, at = await msr(t, cpu.msr, False, IA32_TSC)
            assert not fault and rdata == at, f"CPU {i}: TSC {rdata} in cycle {at}"
            assert at == t.cycle - 1, "the TSC read waited for ready"
        # Back to back: consecutive cycles read consecutive values.
        a, _, at_a = await msr(t, platform.cpu[0].msr, False, IA32_TSC)
        b, _, at_b = await msr(t, platform.cpu[0].msr, False, IA32_TSC)
        assert (b - a, at_b - at_a) == (1, 1)

    run(platform, bench)


def test_wrmsr_tsc_sets_all_64_bits_per_cpu(platform: Platform) -> None:
    """SDM 17.17 (all 64 bits writable) and KUT tsc.c test_wrtsc: after WRMSR 0x10 = V the
    TSC reads V + the cycles since; the other CPUs' TSCs are untouched; the counter wraps."""

    async def bench(ctx: Any) -> None:
        t = Clocked(ctx)
        n = len(platform.cpu)
        value = 0x1234_5678_9ABC_DEF0
        _, fault, at = await msr(t, platform.cpu[0].msr, True, IA32_TSC, value)
        assert not fault
        await t.tick(9)
        rdata, _, now = await msr(t, platform.cpu[0].msr, False, IA32_TSC)
        assert rdata == value + (now - at - 1), f"TSC {rdata:#x} {now - at} cycles after writing {value:#x}"
        for i in range(1, n):
            other, _, when = await msr(t, platform.cpu[i].msr, False, IA32_TSC)
            assert other == when, f"CPU {i}'s TSC moved with CPU 0's"
        # Near the top: it wraps to 0 (a 64-bit counter).
        _, _, at = await msr(t, platform.cpu[n - 1].msr, True, IA32_TSC, (1 << 64) - 2)
        rdata, _, now = await msr(t, platform.cpu[n - 1].msr, False, IA32_TSC)
        assert now == at + 1 and rdata == (1 << 64) - 2
        await t.tick(1)
        rdata, _, _ = await msr(t, platform.cpu[n - 1].msr, False, IA32_TSC)
        assert rdata == 0

    run(platform, bench)


def test_unimplemented_msrs_fault(platform: Platform) -> None:
    """KUT msr.c: an MSR the platform does not implement raises #GP on read and on write
    (``rdata`` is then meaningless), and a faulting write changes nothing (the TSC keeps
    counting)."""

    async def bench(ctx: Any) -> None:
        t = Clocked(ctx)
        for addr in UNIMPLEMENTED:
            for write in (False, True):
                rdata, fault, _ = await msr(t, platform.cpu[0].msr, write, addr, 0xFFFF)
                assert fault, f"{'WRMSR' if write else 'RDMSR'} {addr:#x}: fault {fault}"
        rdata, fault, at = await msr(t, platform.cpu[0].msr, False, IA32_TSC)
        assert not fault and rdata == at

    run(platform, bench)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_random_msr_accesses_lock_step_with_the_model(spec: Any, platform: Platform, seed: int) -> None:
    """Random RDMSR/WRMSR of the TSC, the LAPIC's MSRs (IA32_APIC_BASE mode changes,
    IA32_TSC_DEADLINE, x2APIC registers) and unimplemented MSRs on random CPUs at random
    cycles: the RTL and PlatformModel.msr, advanced to the cycle the RTL took the access
    in, agree on every ``(rdata, fault)``."""
    rng = random.Random(seed)
    model = PlatformModel(spec)

    async def bench(ctx: Any) -> None:
        t = Clocked(ctx)
        seen: set[tuple[bool, int, bool]] = set()  # (x2APIC mode, LAPIC MSR or not, fault)
        for _ in range(120):
            await t.tick(rng.choice([0, 1, 2, 17]))
            cpu = rng.randrange(len(platform.cpu))
            addr, write, wdata = random_msr(rng, model.lapics[cpu].apic_base)
            x2 = model.lapics[cpu].x2apic
            got_rdata, got_fault, at = await msr(t, platform.cpu[cpu].msr, write, addr, wdata)
            model.advance_to(at)
            want = model.msr(cpu, write, addr, wdata)
            # rdata means something only on a read that did not fault.
            got = (0 if write or got_fault else got_rdata, got_fault)
            want = (0 if write or want[1] else want[0], want[1])
            what = f"cycle {at}: CPU {cpu} {'WR' if write else 'RD'}MSR {addr:#x} {wdata:#x}"
            assert got == want, f"{what}: RTL {got} model {want}"
            seen.add((x2, addr >= 0x800 and addr < 0x900, got_fault))
        # Both modes' x2APIC MSRs answered and refused (#GP in xAPIC mode, SDM 10.12.1.2).
        assert {(True, True, False), (False, True, True)} <= seen, seen
        for cpu in range(len(platform.cpu)):
            rdata, _, at = await msr(t, platform.cpu[cpu].msr, False, IA32_TSC)
            model.advance_to(at)
            assert rdata == model.tsc(cpu)

    run(platform, bench)


# ---------------------------------------------------------------------- TSC-deadline, end to end

IA32_TSC_DEADLINE = 0x6E0
LVT_TIMER_TSC_DEADLINE = 0b10 << 17  # SDM 10.5.4.1: LVT timer mode 10b


async def axi_write(t: Clocked, bus: Any, addr: int, data: int) -> None:
    """One AXI4-Lite write with AW and W together, waiting for B."""
    ctx = t.ctx
    ctx.set(bus.awaddr, addr)
    ctx.set(bus.wdata, data)
    ctx.set(bus.wstrb, 0xF)
    ctx.set(bus.awvalid, 1)
    ctx.set(bus.wvalid, 1)
    ctx.set(bus.bready, 1)
    aw = w = False
    for _ in range(50):
        aw_now, w_now, b = ctx.get(bus.awready), ctx.get(bus.wready), ctx.get(bus.bvalid)
        await t.tick()
        aw, w = aw or aw_now, w or w_now
        ctx.set(bus.awvalid, int(not aw))
        ctx.set(bus.wvalid, int(not w))
        if b:
            ctx.set(bus.bready, 0)
            return
    raise AssertionError(f"write to {addr:#x} got no response")


def test_tsc_deadline_fires_within_2_cycles_through_the_platform(spec: Any, platform: Platform) -> None:
    """SDM 10.5.4.1 (TSC-deadline mode) end to end: LVT timer in TSC-deadline mode by MMIO,
    WRMSR IA32_TSC_DEADLINE = D through the platform's MSR port; ``intr`` rises when the
    TSC is at most 2 past D, never before; the MSR then reads 0 (KUT tscdeadline)."""
    if not spec.lapic.param("tsc_deadline"):
        pytest.skip("the spec's LAPIC has no TSC-deadline timer")
    from irqforge.sim.benches.storm_check import PlatformRegs

    regs = PlatformRegs(spec)

    async def bench(ctx: Any) -> None:
        t = Clocked(ctx)
        cpu = platform.cpu[0]
        await axi_write(t, cpu.bus, regs.lapic("SVR"), regs.svr_enabled())
        await axi_write(t, cpu.bus, regs.lapic("LVT_TIMER"), LVT_TIMER_TSC_DEADLINE | 0xEF)
        for delta in (25, 26, 7):
            tsc, _, at = await msr(t, cpu.msr, False, IA32_TSC)
            deadline = tsc + delta
            _, fault, _ = await msr(t, cpu.msr, True, IA32_TSC_DEADLINE, deadline)
            assert not fault
            for _ in range(delta + 10):
                if ctx.get(cpu.intr):
                    break
                await t.tick()
            fired = tsc + t.cycle - at
            assert ctx.get(cpu.intr) and ctx.get(cpu.vector) == 0xEF, f"deadline +{delta}: no interrupt"
            assert 0 <= fired - deadline <= 2, f"intr at TSC {fired}, deadline {deadline}"
            rdata, _, _ = await msr(t, cpu.msr, False, IA32_TSC_DEADLINE)
            assert rdata == 0
            ctx.set(cpu.inta, 1)
            await t.tick()
            ctx.set(cpu.inta, 0)
            assert ctx.get(cpu.ack_valid) and ctx.get(cpu.ack_vector) == 0xEF
            await axi_write(t, cpu.bus, regs.lapic("EOI"), 0)

    run(platform, bench)


def test_model_tsc_write_moves_the_deadline(spec: Any) -> None:
    """PlatformModel: the LAPIC's TSC-deadline follows a WRMSR to IA32_TSC (SDM 10.5.4.1:
    the timer compares the deadline with the TSC, whatever set it): writing the TSC past an
    armed deadline fires it within 3 cycles (the LAPIC compares the TSC it expects, the last
    one plus one, so it sees a jump a cycle late: hw/lapic.py), writing it back before one
    delays it by as much."""
    if not spec.lapic.param("tsc_deadline"):
        pytest.skip("the spec's LAPIC has no TSC-deadline timer")
    from irqforge.sim.benches.storm_check import PlatformRegs

    regs = PlatformRegs(spec)
    model = PlatformModel(spec)
    model.write(0, regs.lapic("SVR"), regs.svr_enabled())
    model.write(0, regs.lapic("LVT_TIMER"), LVT_TIMER_TSC_DEADLINE | 0xEF)
    model.advance(10)
    assert model.msr(0, False, IA32_TSC) == (10, False)
    assert model.msr(0, True, IA32_TSC_DEADLINE, 1_000_000) == (0, False)
    model.advance(100)
    assert not model.intr(0)
    model.msr(0, True, IA32_TSC, 2_000_000)  # past the deadline from the next cycle
    model.advance(2)  # the LAPIC compares 2_000_000 from the cycle after (fires at its edge)
    assert not model.intr(0)
    model.advance(1)
    assert model.intr(0) and model.inta(0) == 0xEF
    assert model.msr(0, False, IA32_TSC_DEADLINE) == (0, False)
    model.write(0, regs.lapic("EOI"), 0)
    # Armed 50 ahead, then the TSC set 1000 back: it fires 1050 cycles later, not 50.
    tsc = model.tsc(0)
    model.msr(0, True, IA32_TSC_DEADLINE, tsc + 50)
    model.msr(0, True, IA32_TSC, tsc - 1000)
    model.advance(1000)
    assert not model.intr(0)
    model.advance(60)
    assert model.intr(0)
