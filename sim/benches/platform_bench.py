"""cocotb benches for ``irqforge_platform``: directed tests through the CPUs' buses.

Run with :func:`irqforge.sim.runner.build_and_test` (test module
``"irqforge.sim.benches.platform_bench"``, toplevel ``"irqforge_platform"``;
together with :mod:`irqforge.sim.benches.storm_bench` in one run, one build).

Pieces:

- **Driver** (:class:`PlatformHarness`): clock and reset, one cocotbext-axi
  ``AxiLiteMaster`` per CPU on ``cpu__{i}__bus__*``
  (``AxiLiteBus.from_prefix(dut, "cpu__{i}__bus_")`` — cocotb-bus adds its
  ``"_"``), the device lines and the CPU pins. Nothing wakes every cycle:
  waits are edges of ``intr`` or ``ClockCycles`` in bulk.
- **Software view**: :meth:`PlatformHarness.drain` plays each CPU — while
  ``intr`` is high, INTA, record ``ack_vector``, EOI — and returns what every
  CPU took; tests compare that with the architectural expectation
  (reference §1.8, §2.4; :class:`~irqforge.sim.models.router.RouterModel`
  for destinations).

Tests: the address map and DECERR; every destination mode and shorthand by
ICR writes (KUT-style logical flat per bit, logical cluster per cluster and
member, physical with aliased IDs, broadcasts); lowest priority (exactly one
target; the lower TPR wins; ties alternate); IO-APIC pins, edge and level,
to the right CPU with the right vector; the HPET's legacy timer 0 through
pin 2; both CPUs hammering the shared IO-APIC and HPET at once; the TSC and
the MSR port (``cpu__{i}__msr__*``: RDMSR/WRMSR of IA32_TSC, #GP elsewhere),
and random MSR accesses in lock-step with
:meth:`~irqforge.sim.models.platform.PlatformModel.msr`.
"""

from __future__ import annotations

import logging
import os
import random
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from irqforge.hw.platform import IA32_TSC
from irqforge.sim.benches.storm_check import PlatformRegs
from irqforge.sim.models.messages import DeliveryMode, Shorthand
from irqforge.sim.models.platform import PlatformModel
from irqforge.spec import Spec, load_default

__all__ = ["CLK_NS", "TSC_AT_NOW_0", "UNIMPLEMENTED_MSRS", "PlatformHarness"]

#: Clock period of the benches (ns).
CLK_NS = 10
RESP_OKAY = 0
RESP_DECERR = 3


class PlatformHarness:
    """Drivers for the platform's ports; create inside a cocotb test, then ``await start()``."""

    def __init__(self, dut: Any, spec: Spec | None = None) -> None:
        self.dut = dut
        self.spec = spec if spec is not None else load_default()
        self.regs = PlatformRegs(self.spec)
        self.n = self.regs.ncpus
        self.buses: list[AxiLiteMaster] = []  # made in start(), once the ports are defined
        self.cpu = [_Cpu(dut, i) for i in range(self.n)]
        self._irq = 0
        self._t0 = 0

    async def start(self) -> None:
        """Start the clock and hold reset for four cycles; cycle 0 is the first edge after it."""
        dut = self.dut
        Clock(dut.clk, CLK_NS, unit="ns").start()
        dut.rst.value = 1
        dut.irq.value = 0
        for c in self.cpu:
            c.inta.value = 0
            c.nmi_ack.value = 0
            c.msr_valid.value = 0
            c.msr_write.value = 0
            c.msr_addr.value = 0
            c.msr_wdata.value = 0
        await ClockCycles(dut.clk, 2)
        # The masters sample their ports from their first clock edge on; made
        # before the design has settled they would see X (Icarus, time 0).
        for i in range(self.n):
            prefix = f"cpu__{i}__bus_"
            # cocotbext-axi logs its banner and every access at INFO, on this logger.
            logging.getLogger(f"cocotb.{dut._name}.{prefix}").setLevel(logging.WARNING)
            self.buses.append(AxiLiteMaster(AxiLiteBus.from_prefix(dut, prefix), dut.clk, dut.rst))
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        await RisingEdge(dut.clk)
        self._t0 = round(get_sim_time("ns"))

    def now(self) -> int:
        """Rising edges since the end of reset (the current cycle's number)."""
        return (round(get_sim_time("ns")) - self._t0) // CLK_NS

    # ------------------------------------------------------------------ bus

    async def write(self, cpu: int, addr: int, value: int, *, resp: int = RESP_OKAY) -> None:
        """32-bit write through CPU ``cpu``'s port; the response must be ``resp``."""
        r = await self.buses[cpu].write(addr, (value & 0xFFFFFFFF).to_bytes(4, "little"))
        assert int(r.resp) == resp, f"CPU {cpu} write {addr:#x}: response {int(r.resp)}, expected {resp}"

    async def read(self, cpu: int, addr: int, *, resp: int = RESP_OKAY) -> int:
        """32-bit read through CPU ``cpu``'s port; the response must be ``resp``."""
        r = await self.buses[cpu].read(addr, 4)
        assert int(r.resp) == resp, f"CPU {cpu} read {addr:#x}: response {int(r.resp)}, expected {resp}"
        return int.from_bytes(r.data, "little")

    async def msr(self, cpu: int, write: bool, addr: int, wdata: int = 0, limit: int = 50) -> tuple[int, bool, int]:
        """One RDMSR/WRMSR on CPU ``cpu``'s ``msr`` port: ``(rdata, fault, cycle)``, ``cycle``
        being :meth:`now` of the cycle with ``valid`` and ``ready`` (the access's cycle)."""
        pins = self.cpu[cpu]
        await RisingEdge(self.dut.clk)
        pins.msr_valid.value = 1
        pins.msr_write.value = int(write)
        pins.msr_addr.value = addr
        pins.msr_wdata.value = wdata
        for _ in range(limit):
            await ReadOnly()
            if pins.msr_ready.value == 1:
                out = (int(pins.msr_rdata.value), bool(pins.msr_fault.value), self.now())
                await RisingEdge(self.dut.clk)
                pins.msr_valid.value = 0
                return out
            await RisingEdge(self.dut.clk)
        raise AssertionError(f"CPU {cpu} MSR {addr:#x}: no ready within {limit} cycles")

    # ------------------------------------------------------------------ devices

    def set_irq(self, pin: int, level: int) -> None:
        """Drive device line ``pin``."""
        self._irq = (self._irq | 1 << pin) if level else (self._irq & ~(1 << pin))
        self.dut.irq.value = self._irq

    async def enable_lapics(self) -> None:
        for i in range(self.n):
            await self.write(i, self.regs.lapic("SVR"), self.regs.svr_enabled())

    async def program_rte(self, pin: int, entry: int, cpu: int = 0) -> None:
        """Write pin ``pin``'s 64-bit redirection entry (high dword first)."""
        r = self.regs
        await self.write(cpu, r.ioregsel, r.rte_index(pin) + 1)
        await self.write(cpu, r.iowin, entry >> 32)
        await self.write(cpu, r.ioregsel, r.rte_index(pin))
        await self.write(cpu, r.iowin, entry & 0xFFFFFFFF)

    async def send_ipi(self, cpu: int, dest: int, icr_lo: int) -> None:
        """ICR high then ICR low on CPU ``cpu`` (KUT ``xapic_icr_write``)."""
        await self.write(cpu, self.regs.lapic("ICR_HI"), self.regs.icr_hi(dest))
        await self.write(cpu, self.regs.lapic("ICR_LO"), icr_lo)

    # ------------------------------------------------------------------ CPU side

    async def acknowledge(self, cpu: int) -> int:
        """One-cycle ``inta``; returns ``ack_vector`` (checked to come with ``ack_valid``)."""
        pins = self.cpu[cpu]
        await RisingEdge(self.dut.clk)
        pins.inta.value = 1
        await RisingEdge(self.dut.clk)
        pins.inta.value = 0
        await ReadOnly()
        assert pins.ack_valid.value == 1, f"CPU {cpu}: no ack_valid the cycle after inta"
        vector = int(pins.ack_vector.value)
        await RisingEdge(self.dut.clk)
        return vector

    async def drain(self, settle: int = 12) -> list[list[int]]:
        """Let ``settle`` cycles pass, then on every CPU acknowledge and EOI
        every pending interrupt; the vectors each CPU took, in order."""
        await ClockCycles(self.dut.clk, settle)
        taken: list[list[int]] = [[] for _ in range(self.n)]
        for i in range(self.n):
            while self.cpu[i].intr.value:
                taken[i].append(await self.acknowledge(i))
                await self.write(i, self.regs.lapic("EOI"), 0)
        return taken


class _Cpu:
    """Handles of CPU ``i``'s pins."""

    def __init__(self, dut: Any, i: int) -> None:
        def pin(name: str) -> Any:
            return getattr(dut, f"cpu__{i}__{name}")

        self.intr, self.vector, self.inta = pin("intr"), pin("vector"), pin("inta")
        self.ack_valid, self.ack_vector = pin("ack_valid"), pin("ack_vector")
        self.nmi, self.nmi_ack = pin("nmi"), pin("nmi_ack")
        self.msr_valid, self.msr_write = pin("msr__valid"), pin("msr__write")
        self.msr_addr, self.msr_wdata = pin("msr__addr"), pin("msr__wdata")
        self.msr_ready, self.msr_rdata, self.msr_fault = pin("msr__ready"), pin("msr__rdata"), pin("msr__fault")


def _only(n: int, taken: list[list[int]], expected: dict[int, list[int]], what: str) -> None:
    want = [expected.get(i, []) for i in range(n)]
    assert taken == want, f"{what}: CPUs took {taken}, expected {want}"


# ---------------------------------------------------------------------- tests


@cocotb.test()
async def address_map_and_decerr(dut: Any) -> None:
    """Each CPU sees its own LAPIC at 0xFEE00000; anything outside the map is DECERR."""
    h = PlatformHarness(dut)
    await h.start()
    r = h.regs
    for i in range(h.n):
        assert await h.read(i, r.lapic("ID")) >> 24 == r.apic_ids[i]
    for addr in r.unmapped():
        for i in range(h.n):
            assert await h.read(i, addr, resp=RESP_DECERR) == 0
            await h.write(i, addr, 0xDEADBEEF, resp=RESP_DECERR)
    # Shared chips answer on every CPU: IOREGSEL written on CPU 0 reads back on the others.
    await h.write(0, r.ioregsel, 0x01)
    for i in range(h.n):
        assert (await h.read(i, r.iowin) >> 16) & 0xFF == r.pins - 1
    gcap = await h.read(h.n - 1, r.hpet("GCAP_ID") + 4)
    assert gcap == h.spec.hpet.param("period_fs")


@cocotb.test()
async def ipi_physical_shorthand_broadcast(dut: Any) -> None:
    """Physical IDs, aliased IDs (KUT test_aliased_xapic_physical_ipi), 0xFF, every shorthand."""
    h = PlatformHarness(dut)
    await h.start()
    await h.enable_lapics()
    r, n = h.regs, h.n
    everyone = {i: [0x40] for i in range(n)}
    for sender in range(n):
        for target in range(n):
            await h.send_ipi(sender, r.apic_ids[target], r.icr_lo(0x40 + target))
            _only(n, await h.drain(), {target: [0x40 + target]}, f"physical {sender}→{target}")
        await h.send_ipi(sender, 0xFF, r.icr_lo(0x40))
        _only(n, await h.drain(), everyone, "physical broadcast")
        await h.send_ipi(sender, 0, r.icr_lo(0x50, shorthand=Shorthand.SELF))
        _only(n, await h.drain(), {sender: [0x50]}, f"self from {sender}")
        await h.send_ipi(sender, 0, r.icr_lo(0x40, shorthand=Shorthand.ALL_INCL))
        _only(n, await h.drain(), everyone, "all including self")
        await h.send_ipi(sender, 0, r.icr_lo(0x60, shorthand=Shorthand.ALL_EXCL))
        _only(n, await h.drain(), {i: [0x60] for i in range(n) if i != sender}, "all excluding self")
    # No APIC with this ID: nobody.
    unused = next(a for a in range(0xFE) if a not in r.apic_ids)
    await h.send_ipi(0, unused, r.icr_lo(0x41))
    _only(n, await h.drain(), {}, "physical to an unused ID")
    # Aliased IDs: every CPU takes ID x; a physical IPI to x reaches all of them.
    for alias in (0x00, 0x05, 0x7F, 0xFE):
        for i in range(n):
            await h.write(i, r.lapic("ID"), alias << 24)
        await h.send_ipi(n - 1, alias, r.icr_lo(0x70))
        _only(n, await h.drain(), {i: [0x70] for i in range(n)}, f"aliased ID {alias:#x}")
        # "self" still means only the sender, although the IDs are equal.
        await h.send_ipi(0, alias, r.icr_lo(0x71, shorthand=Shorthand.SELF))
        _only(n, await h.drain(), {0: [0x71]}, "self with aliased IDs")
    for i in range(n):
        await h.write(i, r.lapic("ID"), r.apic_ids[i] << 24)


@cocotb.test()
async def ipi_logical_flat_and_cluster(dut: Any) -> None:
    """KUT test_logical_ipi_xapic: flat, each of the 8 bits, one and two targets; cluster, each
    cluster and member; logical broadcast."""
    h = PlatformHarness(dut)
    await h.start()
    await h.enable_lapics()
    r, n = h.regs, h.n
    logical = {"dest_mode": 1}
    for i in range(n):
        await h.write(i, r.lapic("DFR"), r.dfr(0xF))
    for bit in range(8):
        bits = [(bit + i) % 8 for i in range(n)]  # CPU i owns bit bits[i]
        for i in range(n):
            await h.write(i, r.lapic("LDR"), r.ldr(1 << bits[i]))
        for target in range(n):
            await h.send_ipi(0, 1 << bits[target], r.icr_lo(0x80 + bit, **logical))
            _only(n, await h.drain(), {target: [0x80 + bit]}, f"flat bit {bits[target]}")
        both = sum(1 << b for b in bits)
        await h.send_ipi(1 % n, both, r.icr_lo(0x90, **logical))
        _only(n, await h.drain(), {i: [0x90] for i in range(n)}, f"flat mask {both:#x}")
        others = 0xFF & ~both
        await h.send_ipi(0, others, r.icr_lo(0x91, **logical))
        _only(n, await h.drain(), {}, f"flat mask {others:#x} matches nobody")
    for i in range(n):
        await h.write(i, r.lapic("DFR"), r.dfr(0x0))
    for cluster in range(15):
        for member in range(4):
            members = [(member + i) % 4 for i in range(n)]
            for i in range(n):
                await h.write(i, r.lapic("LDR"), r.ldr(cluster << 4 | 1 << members[i]))
            await h.send_ipi(0, cluster << 4 | 1 << members[-1], r.icr_lo(0xA0 + cluster, **logical))
            _only(n, await h.drain(), {n - 1: [0xA0 + cluster]}, f"cluster {cluster} member {members[-1]}")
        other = (cluster + 1) % 15
        await h.send_ipi(0, other << 4 | 0xF, r.icr_lo(0xB0, **logical))
        _only(n, await h.drain(), {}, f"cluster {other} while the CPUs are in {cluster}")
    await h.send_ipi(0, 0xFF, r.icr_lo(0xC0, **logical))
    _only(n, await h.drain(), {i: [0xC0] for i in range(n)}, "logical broadcast (cluster model)")


@cocotb.test()
async def lowest_priority_picks_exactly_one(dut: Any) -> None:
    """Lowest priority to all CPUs: exactly one takes it, the one with the lowest TPR;
    with equal TPRs the winner rotates."""
    h = PlatformHarness(dut)
    await h.start()
    await h.enable_lapics()
    r, n = h.regs, h.n
    lowest = r.icr_lo(0x58, delivery_mode=DeliveryMode.LOWEST)
    for favourite in range(n):
        for i in range(n):
            await h.write(i, r.lapic("TPR"), 0x10 if i == favourite else 0x30)
        for _ in range(3):
            await h.send_ipi(0, 0xFF, lowest)
            _only(n, await h.drain(), {favourite: [0x58]}, f"lowest TPR on CPU {favourite}")
    for i in range(n):
        await h.write(i, r.lapic("TPR"), 0)
    winners = []
    for _ in range(4 * n):
        await h.send_ipi(1 % n, 0xFF, lowest)
        taken = await h.drain()
        assert sum(map(len, taken)) == 1, f"lowest priority delivered to {taken}"
        winners.append(next(i for i in range(n) if taken[i]))
    assert sorted(winners) == sorted(list(range(n)) * 4), f"ties not shared: {winners}"


@cocotb.test()
async def ioapic_pins_reach_the_right_cpu(dut: Any) -> None:
    """Every IO-APIC pin, edge or level, to CPU ``pin % n`` with its own vector; level
    entries re-deliver at EOI while the line stays high."""
    h = PlatformHarness(dut)
    await h.start()
    await h.enable_lapics()
    r, n = h.regs, h.n
    rng = random.Random(4)
    for pin in range(r.pins):
        target, vector, level = pin % n, 0x20 + 8 * pin, pin % 3 == 0
        await h.program_rte(pin, r.rte(vector, dest=r.apic_ids[target], trigger=int(level)), cpu=rng.randrange(n))
        h.set_irq(pin, 1)
        await First(RisingEdge(h.cpu[target].intr), ClockCycles(dut.clk, 10))
        await ReadOnly()
        assert h.cpu[target].intr.value == 1, f"pin {pin}: no intr on CPU {target}"
        assert int(h.cpu[target].vector.value) == vector
        for i in range(n):
            assert i == target or h.cpu[i].intr.value == 0, f"pin {pin}: intr on CPU {i}"
        await RisingEdge(dut.clk)
        assert await h.acknowledge(target) == vector
        await h.write(target, r.lapic("EOI"), 0)
        if level:
            # Still asserted at EOI: delivered again (KUT test_ioapic_level_retrigger);
            # lowered before the second EOI: not again.
            await First(RisingEdge(h.cpu[target].intr), ClockCycles(dut.clk, 10))
            assert h.cpu[target].intr.value == 1, f"level pin {pin}: no re-delivery at EOI"
            assert await h.acknowledge(target) == vector
            h.set_irq(pin, 0)
            await h.write(target, r.lapic("EOI"), 0)
        h.set_irq(pin, 0)
        _only(n, await h.drain(), {}, f"pin {pin} after the line fell")
        await h.program_rte(pin, r.rte(vector, mask=1))


@cocotb.test()
async def hpet_legacy_timer0_through_pin2(dut: Any) -> None:
    """HPET legacy replacement: timer 0 → IO-APIC pin 2 → intr with the entry's vector."""
    h = PlatformHarness(dut)
    await h.start()
    await h.enable_lapics()
    r, spec = h.regs, h.spec
    pin = spec.platform.hpet_legacy_pins[0]
    target = h.n - 1
    await h.program_rte(pin, r.rte(0x42, dest=r.apic_ids[target]))
    conf = spec.hpet.register("TIMER_CONF").field("INT_ENB_CNF").put(0, 1)
    await h.write(0, r.hpet("TIMER_CONF", 0), conf)
    await h.write(0, r.hpet("TIMER_CMP", 0), 100)
    await h.write(0, r.hpet("TIMER_CMP", 0) + 4, 0)
    gen = spec.hpet.register("GEN_CONF")
    await h.write(0, r.hpet("GEN_CONF"), gen.field("LEG_RT_CNF").put(gen.field("ENABLE_CNF").put(0, 1), 1))
    start = h.now()
    await First(RisingEdge(h.cpu[target].intr), ClockCycles(dut.clk, 300))
    await ReadOnly()  # ``vector`` may settle after ``intr`` within the time step
    assert h.cpu[target].intr.value == 1, "no interrupt from HPET timer 0"
    assert 90 <= h.now() - start <= 110, f"HPET interrupt after {h.now() - start} cycles, comparator 100"
    assert int(h.cpu[target].vector.value) == 0x42
    _only(h.n, await h.drain(), {target: [0x42]}, "HPET timer 0 (one-shot)")


@cocotb.test()
async def both_cpus_hammer_the_shared_chips(dut: Any) -> None:
    """Every CPU at once: reads of the IO-APIC version and writes/reads of its own HPET
    comparator, back to back; all OKAY, no data crosses between CPUs, everyone progresses."""
    h = PlatformHarness(dut)
    await h.start()
    r, n = h.regs, h.n
    await h.write(0, r.ioregsel, 0x01)
    version = await h.read(0, r.iowin)
    rounds = 40
    progress = [0] * n

    async def hammer(cpu: int) -> None:
        rng = random.Random(cpu)
        cmp_lo = r.hpet("TIMER_CMP", cpu % h.spec.hpet.param("timers"))
        for k in range(rounds):
            value = rng.randrange(1 << 32)
            writes = [cocotb.start_soon(h.write(cpu, cmp_lo, value)), cocotb.start_soon(h.write(cpu, r.ioregsel, 1))]
            assert await h.read(cpu, r.iowin) == version
            for w in writes:
                await w
            if n <= h.spec.hpet.param("timers"):
                assert await h.read(cpu, cmp_lo) == value, f"CPU {cpu} round {k}: comparator mismatch"
            progress[cpu] += 1

    tasks = [cocotb.start_soon(hammer(i)) for i in range(n)]
    start = h.now()
    for t in tasks:
        await t
    assert progress == [rounds] * n
    cocotb.log.info("hammer: %d CPUs x %d rounds in %d cycles", n, rounds, h.now() - start)


#: The cycle :meth:`PlatformHarness.now` calls 0 is the TSC's 1: reset falls just after
#: the edge before it, and the cycle between (the first with ``rst`` low) has TSC 0.
TSC_AT_NOW_0 = 1
#: MSRs nothing on the platform implements (SDM vol. 4: IA32_P5_MC_TYPE, IA32_PLATFORM_ID,
#: IA32_EFER, and an address in no MSR range): #GP.
UNIMPLEMENTED_MSRS = (0x1, 0x17, 0xC000_0080, 0x4000_1234)
#: LAPIC MSRs whose values do not depend on when an interrupt arrives (SDM 10.12.1.2):
#: IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC ID, version, TPR, EOI, LDR, SVR, ESR,
#: and the absent DFR (0x80E) and a reserved one (0x804).
LAPIC_MSRS = (0x1B, 0x6E0, 0x802, 0x803, 0x808, 0x80B, 0x80D, 0x80E, 0x80F, 0x828, 0x804)
_EN, _EXTD = 1 << 11, 1 << 10


def random_msr(rng: random.Random, base: int) -> tuple[int, bool, int]:
    """A random MSR access ``(addr, write, wdata)``: the TSC, the LAPIC's MSRs, unimplemented
    ones; IA32_APIC_BASE writes walk the mode transitions (SDM 10.12.5: disabled, xAPIC,
    x2APIC, legal and illegal) from its current value ``base``."""
    addr = rng.choice([IA32_TSC, IA32_TSC, 0x1B, 0x1B, 0x1B, *LAPIC_MSRS, *LAPIC_MSRS, *UNIMPLEMENTED_MSRS])
    write = rng.random() < 0.4
    if addr == 0x1B:
        wdata = rng.choice([base | _EXTD, base & ~(_EN | _EXTD), base | _EN, base & ~_EXTD, base,
                            rng.randrange(1 << 64)])
    else:
        wdata = rng.choice([0, 0, rng.randrange(256), rng.randrange(1 << 64), rng.randrange(1 << 20)])
    return addr, write, wdata


@cocotb.test()
async def tsc_and_msr_port(dut: Any) -> None:
    """SDM 17.17 and KUT tsc.c test_wrtsc: each CPU's TSC counts one per clk from reset,
    RDMSR 0x10 reads it in the cycle of the access, WRMSR 0x10 sets all 64 bits of that
    CPU's TSC only; KUT msr.c: MSRs nobody implements raise #GP."""
    h = PlatformHarness(dut)
    await h.start()
    for i in range(h.n):
        rdata, fault, at = await h.msr(i, False, IA32_TSC)
        assert not fault and rdata == at + TSC_AT_NOW_0, f"CPU {i}: TSC {rdata} in cycle {at}"
    value = 0xFEDC_BA98_7654_3210
    _, fault, at = await h.msr(0, True, IA32_TSC, value)
    assert not fault
    await ClockCycles(dut.clk, 7)
    rdata, _, now = await h.msr(0, False, IA32_TSC)
    assert rdata == value + now - at - 1, f"TSC {rdata:#x} {now - at} cycles after writing {value:#x}"
    for i in range(1, h.n):
        rdata, _, now = await h.msr(i, False, IA32_TSC)
        assert rdata == now + TSC_AT_NOW_0, f"CPU {i}'s TSC moved with CPU 0's"
    for addr in UNIMPLEMENTED_MSRS:
        for write in (False, True):
            rdata, fault, _ = await h.msr(h.n - 1, write, addr, 0x1234)
            assert fault, f"{'WR' if write else 'RD'}MSR {addr:#x} did not fault"


@cocotb.test()
async def msr_lock_step_with_the_model(dut: Any) -> None:
    """Random RDMSR/WRMSR (the TSC, the LAPIC's MSRs with IA32_APIC_BASE mode changes,
    unimplemented MSRs) on random CPUs at random times, each checked against
    PlatformModel.msr advanced to the same cycle."""
    h = PlatformHarness(dut)
    await h.start()
    model = PlatformModel(h.spec)
    rng = random.Random(int(os.environ.get("IRQFORGE_SEED") or 3))
    for _ in range(200):
        wait = rng.choice([0, 1, 3, 40])
        if wait:
            await ClockCycles(dut.clk, wait)
        cpu = rng.randrange(h.n)
        addr, write, wdata = random_msr(rng, model.lapics[cpu].apic_base)
        rdata, fault, at = await h.msr(cpu, write, addr, wdata)
        model.advance_to(at + TSC_AT_NOW_0)
        want_rdata, want_fault = model.msr(cpu, write, addr, wdata)
        # rdata means something only on a read that did not fault.
        got = (0 if write or fault else rdata, fault)
        want = (0 if write or want_fault else want_rdata, want_fault)
        assert got == want, f"cycle {at}: CPU {cpu} {'WR' if write else 'RD'}MSR {addr:#x}: RTL {got}, model {want}"


# ---------------------------------------------------------------------- x2APIC and TSC-deadline
# MSR numbers and bits are the SDM's literals (vol. 3 10.4.4, 10.12.1, 10.5.4.1; vol. 4):
# the oracle is the architecture, not the spec files the RTL was built from.

IA32_APIC_BASE = 0x1B
APIC_BASE_BSP = 1 << 8
APIC_BASE_EXTD = 1 << 10
APIC_BASE_EN = 1 << 11
IA32_TSC_DEADLINE = 0x6E0
X2APIC_ID = 0x802
X2APIC_TPR = 0x808
X2APIC_EOI = 0x80B
X2APIC_LDR = 0x80D
X2APIC_SVR = 0x80F
X2APIC_ICR = 0x830
X2APIC_LVT_TIMER = 0x832
X2APIC_SELF_IPI = 0x83F
LVT_TIMER_TSC_DEADLINE = 0b10 << 17


async def enable_x2apic(h: PlatformHarness, cpu: int) -> int:
    """IA32_APIC_BASE |= EN | EXTD (xAPIC → x2APIC, SDM 10.12.5), then SVR enabled via MSR 0x80F;
    returns the x2APIC ID (MSR 0x802)."""
    base, fault, _ = await h.msr(cpu, False, IA32_APIC_BASE)
    assert not fault and base & APIC_BASE_EN, f"CPU {cpu}: IA32_APIC_BASE {base:#x}"
    assert bool(base & APIC_BASE_BSP) == (h.regs.apic_ids[cpu] == 0), f"CPU {cpu}: BSP bit in {base:#x}"
    _, fault, _ = await h.msr(cpu, True, IA32_APIC_BASE, base | APIC_BASE_EXTD)
    assert not fault, f"CPU {cpu}: xAPIC -> x2APIC refused"
    _, fault, _ = await h.msr(cpu, True, X2APIC_SVR, h.regs.svr_enabled())
    assert not fault
    apic_id, fault, _ = await h.msr(cpu, False, X2APIC_ID)
    assert not fault
    return apic_id


async def x2apic_drain(h: PlatformHarness, settle: int = 12) -> list[list[int]]:
    """As :meth:`PlatformHarness.drain`, with the EOI written as MSR 0x80B (x2APIC CPUs)."""
    await ClockCycles(h.dut.clk, settle)
    taken: list[list[int]] = [[] for _ in range(h.n)]
    for i in range(h.n):
        while h.cpu[i].intr.value:
            taken[i].append(await h.acknowledge(i))
            _, fault, _ = await h.msr(i, True, X2APIC_EOI, 0)
            assert not fault
    return taken


@cocotb.test()
async def x2apic_ipis_through_the_platform(dut: Any) -> None:
    """Every CPU in x2APIC mode (SDM 10.12): the x2APIC ID is the initial APIC ID, the LDR
    the derived cluster ID (10.12.10.2); WRMSR ICR (0x830) with a 32-bit destination reaches
    the physical ID, the logical cluster member and, with 0xFFFFFFFF, everyone; SELF_IPI
    (0x83F) the sender (KUT x2apic test_self_ipi_x2apic); an IO-APIC 0xFF broadcast reaches
    x2APIC CPUs too (KVM kvm_apic_mda)."""
    h = PlatformHarness(dut)
    await h.start()
    r, n = h.regs, h.n
    ids = [await enable_x2apic(h, i) for i in range(n)]
    assert ids == list(r.apic_ids), f"x2APIC IDs {ids}, spec {r.apic_ids}"
    for i in range(n):
        ldr, _, _ = await h.msr(i, False, X2APIC_LDR)
        assert ldr == (ids[i] >> 4) << 16 | 1 << (ids[i] & 0xF), f"CPU {i}: LDR {ldr:#x}"
    for sender in range(n):
        for target in range(n):
            icr = ids[target] << 32 | r.icr_lo(0x40 + target)
            _, fault, _ = await h.msr(sender, True, X2APIC_ICR, icr)
            assert not fault
            _only(n, await x2apic_drain(h), {target: [0x40 + target]}, f"x2APIC physical {sender}->{target}")
            logical = ((ids[target] >> 4) << 16 | 1 << (ids[target] & 0xF)) << 32
            await h.msr(sender, True, X2APIC_ICR, logical | r.icr_lo(0x60, dest_mode=1))
            _only(n, await x2apic_drain(h), {target: [0x60]}, f"x2APIC cluster {sender}->{target}")
        await h.msr(sender, True, X2APIC_ICR, 0xFFFF_FFFF << 32 | r.icr_lo(0x50))
        _only(n, await x2apic_drain(h), {i: [0x50] for i in range(n)}, "x2APIC broadcast 0xFFFFFFFF")
        # An IPI's 0xFF is the ID 0xFF in x2APIC mode: nobody here.
        await h.msr(sender, True, X2APIC_ICR, 0xFF << 32 | r.icr_lo(0x51))
        _only(n, await x2apic_drain(h), {}, "x2APIC IPI to 0xFF")
        _, fault, _ = await h.msr(sender, True, X2APIC_SELF_IPI, 0x70 + sender)
        assert not fault
        _only(n, await x2apic_drain(h), {sender: [0x70 + sender]}, f"SELF_IPI on {sender}")
    # IO-APIC pin with destination 0xFF, fixed, physical: every (x2APIC) CPU.
    await h.program_rte(3, r.rte(0x33, dest=0xFF))
    h.set_irq(3, 1)
    _only(n, await x2apic_drain(h), {i: [0x33] for i in range(n)}, "IO-APIC 0xFF to x2APIC CPUs")
    h.set_irq(3, 0)


@cocotb.test()
async def tsc_deadline_fires_at_the_programmed_tsc(dut: Any) -> None:
    """SDM 10.5.4.1 through the platform's MSR port: in TSC-deadline mode, WRMSR 0x6E0 = D
    raises the timer vector when the TSC reaches D; ``intr`` rises within 2 cycles of the TSC
    reaching D; the MSR reads 0 after firing (KUT tscdeadline "tsc deadline timer clearing");
    a deadline in the past fires at once; writing 0 disarms; a WRMSR to IA32_TSC past the
    deadline fires it."""
    h = PlatformHarness(dut)
    await h.start()
    r = h.regs
    cpu = h.n - 1
    await h.write(cpu, r.lapic("SVR"), r.svr_enabled())
    await h.write(cpu, r.lapic("LVT_TIMER"), LVT_TIMER_TSC_DEADLINE | 0xEF)
    for delta in (40, 41, 100, 8):  # each still ahead when the WRMSR takes effect
        tsc, _, at = await h.msr(cpu, False, IA32_TSC)
        deadline = tsc + delta
        await h.msr(cpu, True, IA32_TSC_DEADLINE, deadline)
        for _ in range(delta + 20):  # sampled every cycle: the first cycle with intr high
            await ReadOnly()
            if h.cpu[cpu].intr.value == 1:
                break
            await RisingEdge(dut.clk)
        assert h.cpu[cpu].intr.value == 1, f"deadline {delta} cycles ahead never fired"
        assert int(h.cpu[cpu].vector.value) == 0xEF
        fired_tsc = tsc + (h.now() - at)
        assert 0 <= fired_tsc - deadline <= 2, f"deadline +{delta}: intr at TSC {fired_tsc}, deadline {deadline}"
        rdata, _, _ = await h.msr(cpu, False, IA32_TSC_DEADLINE)
        assert rdata == 0, f"IA32_TSC_DEADLINE reads {rdata:#x} after firing"
        _only(h.n, await h.drain(), {cpu: [0xEF]}, f"deadline +{delta}")
    # In the past: at once.
    tsc, _, at = await h.msr(cpu, False, IA32_TSC)
    await h.msr(cpu, True, IA32_TSC_DEADLINE, max(tsc - 1000, 1))
    await First(RisingEdge(h.cpu[cpu].intr), ClockCycles(dut.clk, 10))
    assert h.cpu[cpu].intr.value == 1 and h.now() - at <= 6, "a past deadline did not fire at once"
    _only(h.n, await h.drain(), {cpu: [0xEF]}, "past deadline")
    # Armed, then disarmed by writing 0: nothing.
    tsc, _, _ = await h.msr(cpu, False, IA32_TSC)
    await h.msr(cpu, True, IA32_TSC_DEADLINE, tsc + 30)
    await h.msr(cpu, True, IA32_TSC_DEADLINE, 0)
    _only(h.n, await h.drain(settle=80), {}, "disarmed deadline")
    # Armed far ahead; moving the TSC past it (WRMSR 0x10) fires it.
    tsc, _, _ = await h.msr(cpu, False, IA32_TSC)
    await h.msr(cpu, True, IA32_TSC_DEADLINE, tsc + 1_000_000)
    await h.msr(cpu, True, IA32_TSC, tsc + 2_000_000)
    _only(h.n, await h.drain(), {cpu: [0xEF]}, "TSC written past the deadline")


@cocotb.test()
async def mixed_xapic_and_x2apic_cpus(dut: Any) -> None:
    """CPU 0 in x2APIC mode, the others in xAPIC mode: destinations are matched by each
    receiver in its own mode, as KVM kvm_apic_match_dest (docs/hardware.md, router):
    a 32-bit physical ID reaches an xAPIC CPU with that 8-bit ID; 0xFFFFFFFF only x2APIC
    CPUs; an xAPIC 0xFF only xAPIC CPUs; an IO-APIC 0xFF and shorthands everyone."""
    h = PlatformHarness(dut)
    await h.start()
    r, n = h.regs, h.n
    if n < 2:
        return
    await enable_x2apic(h, 0)
    for i in range(1, n):
        await h.write(i, r.lapic("SVR"), r.svr_enabled())

    async def drain() -> list[list[int]]:
        await ClockCycles(dut.clk, 12)
        taken: list[list[int]] = [[] for _ in range(n)]
        for i in range(n):
            while h.cpu[i].intr.value:
                taken[i].append(await h.acknowledge(i))
                if i == 0:
                    await h.msr(0, True, X2APIC_EOI, 0)
                else:
                    await h.write(i, r.lapic("EOI"), 0)
        return taken

    xapics = {i: [0x51] for i in range(1, n)}
    await h.msr(0, True, X2APIC_ICR, r.apic_ids[1] << 32 | r.icr_lo(0x41))
    _only(n, await drain(), {1: [0x41]}, "x2APIC CPU 0 -> xAPIC CPU 1 by ID")
    await h.msr(0, True, X2APIC_ICR, 0xFFFF_FFFF << 32 | r.icr_lo(0x42))
    _only(n, await drain(), {0: [0x42]}, "0xFFFFFFFF from the x2APIC CPU")
    await h.msr(0, True, X2APIC_ICR, (0x100 | r.apic_ids[1]) << 32 | r.icr_lo(0x43))
    _only(n, await drain(), {}, "no dest & 0xFF aliasing onto xAPIC IDs")
    await h.send_ipi(1, 0xFF, r.icr_lo(0x51))
    _only(n, await drain(), xapics, "xAPIC 0xFF: the xAPIC CPUs only")
    await h.send_ipi(1, r.apic_ids[0], r.icr_lo(0x52))
    _only(n, await drain(), {0: [0x52]}, "xAPIC CPU -> x2APIC CPU 0 by ID")
    await h.send_ipi(1, 0, r.icr_lo(0x53, shorthand=Shorthand.ALL_INCL))
    _only(n, await drain(), {i: [0x53] for i in range(n)}, "all including self, mixed")
    await h.program_rte(5, r.rte(0x34, dest=0xFF), cpu=1)
    h.set_irq(5, 1)
    _only(n, await drain(), {i: [0x34] for i in range(n)}, "IO-APIC 0xFF, mixed")
    h.set_irq(5, 0)
