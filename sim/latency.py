"""Interrupt latencies of the platform RTL, measured in Amaranth's simulator.

:func:`measure_latencies` builds ``irqforge_platform`` for a spec, programs
it through CPU 0's and CPU 1's AXI4-Lite ports exactly as software would, and
counts clock cycles between a stimulus and the CPU pin it causes. The
figures feed ``irqforge bench`` (docs/performance.md, ``latency_cycles``) and the
tests (goal: pin → ``intr`` ≤ 3 cycles).

Every figure uses one convention: **the cycle in which the stimulus is
present is cycle 0, and the figure is the number of the first cycle in
which the response is present** (equivalently, the number of rising clock
edges between them). "Present in a cycle" means the signal holds that value
between two rising edges, which is when the design samples it.

``pin_to_intr``
    A device line ``irq[p]`` rises in cycle 0 (unmasked edge entry) → the
    target CPU's ``intr`` is high.
``icr_to_remote_intr``
    The ICR-low write on the sending CPU's bus: cycle 0 is the cycle of its
    *last* address/data handshake (the later of ``awvalid & awready`` and
    ``wvalid & wready``; the LAPIC's bridge issues the write in that cycle)
    → the other CPU's ``intr`` is high.
``hpet_to_intr``
    HPET timer 0, legacy replacement route (timer 0 → IO-APIC pin 2), edge:
    cycle 0 is the cycle in which the main counter equals the comparator →
    the target CPU's ``intr`` is high. The counter value in a cycle is known
    from a MAIN_CNT read plus one per cycle: the HPET samples the counter
    :data:`~irqforge.hw.xbar.SHARED_SLAVE_DELAY` cycles after the read's AR
    handshake on the CPU's bus (the crossbar's register stage).
``hpet_msi_to_intr``
    The same with timer 0 in FSB (MSI) mode, straight into the router.
``inta_to_ack``
    ``inta`` high in cycle 0 → ``ack_valid`` high.
"""

from __future__ import annotations

from typing import Any

from amaranth.sim import Simulator

from irqforge.spec import Spec

__all__ = ["LatencyError", "measure_latencies"]

#: Give up waiting for a response after this many cycles.
TIMEOUT = 200


class LatencyError(RuntimeError):
    """The platform did not respond as programmed (a bug, not a slow design)."""


class _Clock:
    """The testbench's view of time: ``now`` counts rising edges since the start."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.now = 0

    async def tick(self) -> None:
        await self.ctx.tick()
        self.now += 1

    async def until(self, signal: Any, what: str) -> int:
        """Cycle number of the first cycle (from now) in which ``signal`` is 1."""
        for _ in range(TIMEOUT):
            if self.ctx.get(signal):
                return self.now
            await self.tick()
        raise LatencyError(f"{what}: no response within {TIMEOUT} cycles")


async def _write(clk: _Clock, bus: Any, addr: int, data: int) -> int:
    """One AXI4-Lite write (all bytes); returns the cycle of its last AW/W handshake."""
    ctx = clk.ctx
    ctx.set(bus.awaddr, addr)
    ctx.set(bus.wdata, data)
    ctx.set(bus.wstrb, 0xF)
    ctx.set(bus.awvalid, 1)
    ctx.set(bus.wvalid, 1)
    ctx.set(bus.bready, 1)
    aw = w = False
    last = -1
    for _ in range(TIMEOUT):
        aw_now = not aw and ctx.get(bus.awready)
        w_now = not w and ctx.get(bus.wready)
        if aw_now or w_now:
            last = clk.now
        b = ctx.get(bus.bvalid)
        resp = ctx.get(bus.bresp)
        await clk.tick()
        aw, w = aw or aw_now, w or w_now
        if aw:
            ctx.set(bus.awvalid, 0)
        if w:
            ctx.set(bus.wvalid, 0)
        if b:
            ctx.set(bus.bready, 0)
            if resp:
                raise LatencyError(f"write of {addr:#x}: response {resp}")
            return last
    raise LatencyError(f"write of {addr:#x}: no response")


async def _read(clk: _Clock, bus: Any, addr: int) -> tuple[int, int]:
    """One AXI4-Lite read; returns ``(data, cycle of the AR handshake)``."""
    ctx = clk.ctx
    ctx.set(bus.araddr, addr)
    ctx.set(bus.arvalid, 1)
    ctx.set(bus.rready, 1)
    ar = False
    at = -1
    for _ in range(TIMEOUT):
        ar_now = not ar and ctx.get(bus.arready)
        if ar_now:
            at = clk.now
        r = ctx.get(bus.rvalid)
        data, resp = ctx.get(bus.rdata), ctx.get(bus.rresp)
        await clk.tick()
        ar = ar or ar_now
        if ar:
            ctx.set(bus.arvalid, 0)
        if r:
            ctx.set(bus.rready, 0)
            if resp:
                raise LatencyError(f"read of {addr:#x}: response {resp}")
            return data, at
    raise LatencyError(f"read of {addr:#x}: no response")


async def _ack_and_eoi(clk: _Clock, cpu: Any, regs: Any, vector: int) -> int:
    """INTA on ``cpu`` (checking ``vector``), then EOI; returns the INTA → ``ack_valid`` cycles."""
    ctx = clk.ctx
    ctx.set(cpu.inta, 1)
    start = clk.now
    await clk.tick()
    ctx.set(cpu.inta, 0)
    at = await clk.until(cpu.ack_valid, "inta → ack_valid")
    got = ctx.get(cpu.ack_vector)
    if got != vector:
        raise LatencyError(f"acknowledged vector {got:#x}, expected {vector:#x}")
    await _write(clk, cpu.bus, regs.lapic("EOI"), 0)
    return at - start


def measure_latencies(spec: Spec) -> dict[str, int]:
    """Cycles of each latency of the module docstring on ``spec``'s platform.

    Needs at least two CPUs (for the IPI). Raises :class:`LatencyError` when
    an interrupt does not arrive where it was sent.
    """
    from irqforge.hw.platform import top
    from irqforge.hw.xbar import SHARED_SLAVE_DELAY
    from irqforge.sim.benches.storm_check import PlatformRegs

    regs = PlatformRegs(spec)
    if regs.ncpus < 2:
        raise ValueError("measure_latencies needs a platform with at least two CPUs")
    dut = top(spec)
    hpet_pin = spec.platform.hpet_legacy_pins[0]
    out: dict[str, int] = {}

    async def program_rte(clk: _Clock, bus: Any, pin: int, entry: int) -> None:
        await _write(clk, bus, regs.ioregsel, regs.rte_index(pin) + 1)
        await _write(clk, bus, regs.iowin, entry >> 32)
        await _write(clk, bus, regs.ioregsel, regs.rte_index(pin))
        await _write(clk, bus, regs.iowin, entry & 0xFFFFFFFF)

    async def hpet_match(clk: _Clock, bus: Any, conf: int) -> int:
        """Arm timer 0 with ``conf``; return the cycle in which the counter equals the comparator."""
        await _write(clk, bus, regs.hpet("GEN_CONF"), 0)
        await _write(clk, bus, regs.hpet("TIMER_CONF", 0), conf)
        await _write(clk, bus, regs.hpet("MAIN_CNT"), 0)
        await _write(clk, bus, regs.hpet("MAIN_CNT") + 4, 0)
        await _write(clk, bus, regs.hpet("TIMER_CMP", 0), 60)
        await _write(clk, bus, regs.hpet("TIMER_CMP", 0) + 4, 0)
        await _write(clk, bus, regs.hpet("GEN_CONF"), gen_conf)
        count, at = await _read(clk, bus, regs.hpet("MAIN_CNT"))
        if count >= 60:
            raise LatencyError(f"the HPET counter passed the comparator before it was read ({count})")
        return at + SHARED_SLAVE_DELAY + (60 - count)

    timer_conf = spec.hpet.register("TIMER_CONF")
    gen = spec.hpet.register("GEN_CONF")
    gen_conf = gen.field("LEG_RT_CNF").put(gen.field("ENABLE_CNF").put(0, 1), 1)

    async def bench(ctx: Any) -> None:
        clk = _Clock(ctx)
        cpu = [dut.cpu[i] for i in range(regs.ncpus)]
        for c in cpu:
            await _write(clk, c.bus, regs.lapic("SVR"), regs.svr_enabled())

        # IO-APIC pin → CPU 1.
        pin, vector = 5, 0x35
        await program_rte(clk, cpu[0].bus, pin, regs.rte(vector, dest=regs.apic_ids[1]))
        ctx.set(dut.irq, 1 << pin)
        start = clk.now
        out["pin_to_intr"] = await clk.until(cpu[1].intr, "pin → intr") - start
        ctx.set(dut.irq, 0)
        out["inta_to_ack"] = await _ack_and_eoi(clk, cpu[1], regs, vector)

        # ICR write on CPU 0 → CPU 1.
        await _write(clk, cpu[0].bus, regs.lapic("ICR_HI"), regs.icr_hi(regs.apic_ids[1]))
        start = await _write(clk, cpu[0].bus, regs.lapic("ICR_LO"), regs.icr_lo(0x61))
        out["icr_to_remote_intr"] = await clk.until(cpu[1].intr, "ICR → remote intr") - start
        await _ack_and_eoi(clk, cpu[1], regs, 0x61)

        # HPET timer 0, legacy route to the IO-APIC pin → CPU 0.
        await program_rte(clk, cpu[0].bus, hpet_pin, regs.rte(0x42, dest=regs.apic_ids[0]))
        conf = timer_conf.field("INT_ENB_CNF").put(0, 1)
        match = await hpet_match(clk, cpu[0].bus, conf)
        out["hpet_to_intr"] = await clk.until(cpu[0].intr, "HPET → intr (pin)") - match
        await _ack_and_eoi(clk, cpu[0], regs, 0x42)

        # HPET timer 0 by FSB message → CPU 0 (the IO-APIC entry masked).
        await program_rte(clk, cpu[0].bus, hpet_pin, regs.rte(0x42, dest=regs.apic_ids[0], mask=1))
        msi_addr = 0xFEE << 20 | regs.apic_ids[0] << 12
        await _write(clk, cpu[0].bus, regs.hpet("TIMER_FSB", 0), 0x43)
        await _write(clk, cpu[0].bus, regs.hpet("TIMER_FSB", 0) + 4, msi_addr)
        match = await hpet_match(clk, cpu[0].bus, timer_conf.field("FSB_EN_CNF").put(conf, 1))
        out["hpet_msi_to_intr"] = await clk.until(cpu[0].intr, "HPET → intr (MSI)") - match
        await _ack_and_eoi(clk, cpu[0], regs, 0x43)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out
