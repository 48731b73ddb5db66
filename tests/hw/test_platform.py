"""Amaranth-simulator smoke tests of the platform (hw/platform.py) and its
crossbar (hw/xbar.py): the address map, DECERR, the IO-APIC pin → CPU path
and IPIs, with the latencies the platform docstring promises.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from amaranth.sim import Simulator

from irqforge.hw.bus import RESP_DECERR, RESP_OKAY
from irqforge.hw.platform import Platform, top
from irqforge.sim.benches.storm_check import PlatformRegs


async def axi_write(ctx: Any, bus: Any, addr: int, data: int, strb: int = 0xF) -> tuple[int, int]:
    """One AXI4-Lite write; returns (bresp, cycle offset of the AW/W acceptance)."""
    ctx.set(bus.awaddr, addr)
    ctx.set(bus.wdata, data)
    ctx.set(bus.wstrb, strb)
    ctx.set(bus.awvalid, 1)
    ctx.set(bus.wvalid, 1)
    ctx.set(bus.bready, 1)
    aw = w = False
    accepted = 0
    for cycle in range(50):
        aw_now = not aw and ctx.get(bus.awready)
        w_now = not w and ctx.get(bus.wready)
        b = ctx.get(bus.bvalid)
        resp = ctx.get(bus.bresp)
        await ctx.tick()
        aw, w = aw or aw_now, w or w_now
        if aw_now or w_now:
            accepted = cycle
        if aw:
            ctx.set(bus.awvalid, 0)
        if w:
            ctx.set(bus.wvalid, 0)
        if b:
            ctx.set(bus.bready, 0)
            return resp, accepted
    raise AssertionError(f"write to {addr:#x} got no response")


async def axi_read(ctx: Any, bus: Any, addr: int) -> tuple[int, int]:
    """One AXI4-Lite read; returns (rresp, rdata)."""
    ctx.set(bus.araddr, addr)
    ctx.set(bus.arvalid, 1)
    ctx.set(bus.rready, 1)
    ar = False
    for _ in range(50):
        ar_now = not ar and ctx.get(bus.arready)
        r = ctx.get(bus.rvalid)
        resp, data = ctx.get(bus.rresp), ctx.get(bus.rdata)
        await ctx.tick()
        ar = ar or ar_now
        if ar:
            ctx.set(bus.arvalid, 0)
        if r:
            ctx.set(bus.rready, 0)
            return resp, data
    raise AssertionError(f"read of {addr:#x} got no response")


def run(dut: Platform, bench: Callable[[Any], Coroutine[Any, Any, None]]) -> None:
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.fixture(scope="module")
def platform(spec: Any) -> Platform:
    return top(spec)


async def cycles_until(ctx: Any, signal: Any, limit: int = 20) -> int:
    """Clock edges until ``signal`` reads 1 (0 if it already does)."""
    for n in range(limit):
        if ctx.get(signal):
            return n
        await ctx.tick()
    raise AssertionError(f"{signal} did not rise within {limit} cycles")


def test_address_map_decerr_and_interrupt_paths(spec: Any, platform: Platform) -> None:
    regs = PlatformRegs(spec)
    dut = platform
    n = regs.ncpus
    assert n >= 2, "the default platform has two CPUs"
    results: dict[str, int] = {}

    async def bench(ctx: Any) -> None:
        buses = [dut.cpu[i].bus for i in range(n)]
        # Each CPU sees its own LAPIC at the same address.
        for i in range(n):
            resp, value = await axi_read(ctx, buses[i], regs.lapic("ID"))
            assert resp == RESP_OKAY and value >> 24 == regs.apic_ids[i]
        # DECERR outside the map, reads and writes.
        for addr in regs.unmapped():
            assert (await axi_read(ctx, buses[0], addr))[0] == RESP_DECERR, hex(addr)
            assert (await axi_write(ctx, buses[1], addr, 0x1234))[0] == RESP_DECERR, hex(addr)
        # The shared IO-APIC from both CPUs: IOREGSEL written by CPU 0 reads back on CPU 1.
        assert (await axi_write(ctx, buses[0], regs.ioregsel, 0x01))[0] == RESP_OKAY
        resp, version = await axi_read(ctx, buses[1], regs.iowin)
        assert resp == RESP_OKAY and (version >> 16) & 0xFF == regs.pins - 1

        for i in range(n):
            await axi_write(ctx, buses[i], regs.lapic("SVR"), regs.svr_enabled())
        # Pin 5 → CPU 1, vector 0x35, edge.
        pin, vector, target = 5, 0x35, 1
        entry = regs.rte(vector, dest=regs.apic_ids[target])
        await axi_write(ctx, buses[0], regs.ioregsel, regs.rte_index(pin) + 1)
        await axi_write(ctx, buses[0], regs.iowin, entry >> 32)
        await axi_write(ctx, buses[0], regs.ioregsel, regs.rte_index(pin))
        await axi_write(ctx, buses[0], regs.iowin, entry & 0xFFFFFFFF)
        assert not ctx.get(dut.cpu[target].intr)
        ctx.set(dut.irq, 1 << pin)
        await ctx.tick()  # the pin is seen at this edge
        results["pin_to_intr"] = 1 + await cycles_until(ctx, dut.cpu[target].intr)
        assert ctx.get(dut.cpu[target].vector) == vector
        assert not ctx.get(dut.cpu[0].intr)
        ctx.set(dut.cpu[target].inta, 1)
        await ctx.tick()
        ctx.set(dut.cpu[target].inta, 0)
        assert ctx.get(dut.cpu[target].ack_valid) and ctx.get(dut.cpu[target].ack_vector) == vector
        await axi_write(ctx, buses[target], regs.lapic("EOI"), 0)
        ctx.set(dut.irq, 0)

        # ICR: CPU 0 → CPU 1, fixed, physical.
        await axi_write(ctx, buses[0], regs.lapic("ICR_HI"), regs.icr_hi(regs.apic_ids[1]))
        await axi_write(ctx, buses[0], regs.lapic("ICR_LO"), regs.icr_lo(0x61))
        await ctx.tick()  # the remote LAPIC's priority stage
        assert ctx.get(dut.cpu[1].intr) and ctx.get(dut.cpu[1].vector) == 0x61
        assert not ctx.get(dut.cpu[0].intr)

    run(dut, bench)
    assert results["pin_to_intr"] <= 3, results


def test_both_cpus_hammer_the_ioapic(spec: Any, platform: Platform) -> None:
    """Simultaneous writes of the shared IO-APIC from every CPU: one at a time,
    all complete with OKAY, in round-robin order."""
    regs = PlatformRegs(spec)
    dut = platform
    n = regs.ncpus

    async def bench(ctx: Any) -> None:
        # Every CPU presents a write to the IO-APIC in the same cycle, three
        # rounds: one grant at a time, all OKAY, and the first grant rotates.
        last = -1
        for rnd in range(3):
            for i in range(n):
                ctx.set(dut.cpu[i].bus.awaddr, regs.ioregsel)
                ctx.set(dut.cpu[i].bus.wdata, regs.rte_index(i) + 1)
                ctx.set(dut.cpu[i].bus.wstrb, 0xF)
                ctx.set(dut.cpu[i].bus.awvalid, 1)
                ctx.set(dut.cpu[i].bus.wvalid, 1)
                ctx.set(dut.cpu[i].bus.bready, 1)
            done = [False] * n
            order = []
            for _ in range(40):
                accepted = [i for i in range(n) if not done[i] and ctx.get(dut.cpu[i].bus.awready)]
                assert len(accepted) <= 1, "two CPUs granted the IO-APIC at once"
                got_b = [i for i in range(n) if ctx.get(dut.cpu[i].bus.bvalid)]
                for i in got_b:
                    assert ctx.get(dut.cpu[i].bus.bresp) == RESP_OKAY
                await ctx.tick()
                for i in accepted:
                    order.append(i)
                    ctx.set(dut.cpu[i].bus.awvalid, 0)
                    ctx.set(dut.cpu[i].bus.wvalid, 0)
                for i in got_b:
                    done[i] = True
                    ctx.set(dut.cpu[i].bus.bready, 0)
                if all(done):
                    break
            assert all(done), f"round {rnd}: not every CPU finished"
            assert sorted(order) == list(range(n))
            # Round robin: the first grant goes to the CPU after the last one served.
            if rnd:
                assert order[0] == (last + 1) % n, f"round {rnd}: order {order} after {last}"
            last = order[-1]

    run(dut, bench)
