"""The ``amaranth`` backend: :class:`irqforge.sw.Machine` on Amaranth's simulator.

The platform (:func:`irqforge.hw.platform.top`) runs in Amaranth's Python
simulator, inside a small harness that adds two signals for the backend: a
cycle counter (so :meth:`AmaranthMachine.now` is one read, never a Python
callback per cycle) and the OR of every CPU's ``intr`` and ``nmi`` (so
"any CPU interrupted" is one signal to wait on).

The scenario is one coroutine. :meth:`AmaranthMachine.run` runs it *inside*
an async testbench (``sim.add_testbench``): the scenario awaits the machine's
methods, which await the testbench context (``ctx.tick()``, ``ctx.delay()``,
``ctx.changed()``), so the scenario's suspensions are the simulator's.

How each operation spends time (the testbench always sits just after a
rising edge of ``clk``):

========================  =====================================================
operation                 what it waits for
========================  =====================================================
``read32``/``write32``    the AXI4-Lite handshakes, edge by edge (a handful)
``acknowledge``           one edge with ``inta`` high; ``ack_vector`` after it
``acknowledge_nmi``       one edge with ``nmi_ack`` high
``rdmsr``/``wrmsr``       the ``msr`` port's request held until the edge with ``ready``
``wait_cycles(n)``        one ``ctx.delay`` to mid-cycle, then one edge
``wait_interrupt`` …      ``ctx.changed`` of ``intr``/``nmi`` (plus a delay
                          for a bound): one wake-up per change, not per cycle
``set_irq``, ``now`` …    nothing
========================  =====================================================

INIT and SIPI pulses are caught by a background testbench waiting on their
rising edges. ``max_cycles`` is a watchdog: the waits never pass it, and when
it is reached the scenario is unwound at its ``await`` and
:class:`~irqforge.sim.backends.base.MachineTimeout` raised. A wait that
nothing can end runs until that watchdog (there is no deadlock detection).

Waveforms: ``run(..., waves="file.vcd")`` writes every signal of the
platform as VCD (Amaranth writes VCD only).
"""

from __future__ import annotations

import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Final, TypeVar

from amaranth.hdl import Cat, Elaboratable, Module, Signal
from amaranth.sim import Simulator

from irqforge.spec import Spec
from irqforge.sw import BusError, MsrFault

from .base import MachineTimeout

__all__ = ["ACK_TIMEOUT_CYCLES", "BUS_TIMEOUT_CYCLES", "CLK_PERIOD_S", "AmaranthMachine"]

#: Clock period given to the simulator (s); 10 ns matches the default spec's 100 MHz.
CLK_PERIOD_S: Final = 1e-8
#: Cycles an AXI4-Lite transaction may take before the backend gives up.
BUS_TIMEOUT_CYCLES: Final = 64
#: Cycles ``acknowledge`` waits for ``ack_valid`` after ``inta``.
ACK_TIMEOUT_CYCLES: Final = 16

_RESP_NAMES: Final = ("OKAY", "EXOKAY", "SLVERR", "DECERR")

T = TypeVar("T")


class _Stop(BaseException):
    """Raised at the scenario's ``await`` when the watchdog fires (like ``GeneratorExit``:
    not an :class:`Exception`, so the scenario's ``except Exception`` lets it through)."""


class _Harness(Elaboratable):
    """The platform plus a free-running cycle counter and the OR of all ``intr``/``nmi``."""

    def __init__(self, spec: Spec) -> None:
        from irqforge.hw.platform import top

        self.platform = top(spec)
        self.cycle = Signal(64, name="harness_cycle")
        self.any_pending = Signal(name="harness_any_pending")

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.platform = dut = self.platform
        m.d.sync += self.cycle.eq(self.cycle + 1)
        pending = [cpu.intr for cpu in dut.cpu] + [cpu.nmi for cpu in dut.cpu]
        m.d.comb += self.any_pending.eq(Cat(*pending).any())
        return m


class _Engine:
    """One compiled simulation of a platform, reused (``Simulator.reset``) by
    every run of every machine on the same RTL: compiling the platform into
    Python takes tens of seconds, a reset nothing."""

    def __init__(self, spec: Spec) -> None:
        self.harness = _Harness(spec)
        self.busy = False
        self.runs = 0
        self._sim: Simulator | None = None
        self._period = 0.0
        self._bench: Any = None
        self._monitor: Any = None

    def simulator(self, bench: Any, monitor: Any, clk_period_s: float) -> Simulator:
        """The simulator, reset, running ``bench`` and the background ``monitor`` this time."""
        self._bench, self._monitor = bench, monitor
        if self._sim is None or self._period != clk_period_s:

            async def run_monitor(ctx: Any) -> None:
                await self._monitor(ctx)

            async def run_bench(ctx: Any) -> None:
                await self._bench(ctx)

            sim = Simulator(self.harness)
            sim.add_clock(clk_period_s)
            sim.add_testbench(run_monitor, background=True)
            sim.add_testbench(run_bench)
            self._sim, self._period = sim, clk_period_s
        else:
            self._sim.reset()
        self.runs += 1
        return self._sim


_ENGINES: dict[str, _Engine] = {}


def _engine(spec: Spec) -> _Engine:
    """The shared :class:`_Engine` for ``spec``'s RTL (the last one only: each holds a compiled platform)."""
    from irqforge.hw import rtl_fingerprint

    key = rtl_fingerprint(spec)
    engine = _ENGINES.get(key)
    if engine is None:
        _ENGINES.clear()
        engine = _ENGINES[key] = _Engine(spec)
    return engine


class AmaranthMachine:
    """A :class:`irqforge.sw.Machine` on Amaranth's simulator (see the module docstring).

    Each :meth:`run` starts the simulation again from reset; :meth:`now`
    counts rising edges of ``clk`` since the run began. The compiled
    simulation is shared by every machine on the same RTL (the last spec
    used), so only the first run pays for compiling the platform.
    """

    def __init__(self, spec: Spec, *, clk_period_s: float = CLK_PERIOD_S) -> None:
        self.spec = spec
        self.ncpus: int = spec.platform.ncpus
        self.clk_period_s = clk_period_s
        self._engine = _engine(spec)
        self._harness = self._engine.harness
        self._dut = self._harness.platform
        self._cpus = [self._dut.cpu[i] for i in range(self.ncpus)]
        self._irq_width = len(self._dut.irq)
        self._ctx: Any = None
        self._base = 0
        self._deadline: int | None = None
        self._irq = 0
        self._startup: list[list[tuple[str, int]]] = [[] for _ in range(self.ncpus)]

    # ------------------------------------------------------------------ driving

    def run(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        max_cycles: int | None = None,
        waves: str | os.PathLike[str] | None = None,
    ) -> T:
        """Run the scenario ``coro`` to its end in a new simulation and return its result.

        ``coro`` may await only this machine's operations (and coroutines that
        do). Raises :class:`MachineTimeout` if ``max_cycles`` cycles pass
        first, and whatever the scenario raises. ``waves`` (``.vcd``) records
        every signal.
        """
        wave_path = None if waves is None else Path(waves)
        if wave_path is not None and wave_path.suffix.lower() != ".vcd":
            coro.close()
            raise ValueError(f"the amaranth backend writes VCD only; name the waves file *.vcd, not {wave_path.name}")
        outcome: dict[str, Any] = {}
        self._irq = 0
        self._startup = [[] for _ in range(self.ncpus)]

        async def bench(ctx: Any) -> None:
            self._ctx = ctx
            for cpu in self._cpus:
                # Responses are always accepted: one transaction at a time per CPU.
                ctx.set(Cat(cpu.bus.bready, cpu.bus.rready), 0b11)
            await ctx.tick()
            self._base = ctx.get(self._harness.cycle)
            self._deadline = None if max_cycles is None else max_cycles
            try:
                outcome["result"] = await coro
            except _Stop:
                outcome["timeout"] = True
            except BaseException as err:  # handed to the caller once the simulation has ended
                outcome["error"] = err
            finally:
                self._ctx = None

        engine = self._engine
        if engine.busy:
            coro.close()
            raise RuntimeError("a run of this platform's simulation is already in progress")
        engine.busy = True
        try:
            sim = engine.simulator(bench, self._monitor, self.clk_period_s)
        except BaseException:
            engine.busy = False
            coro.close()
            raise
        try:
            if wave_path is None:
                sim.run()
            else:
                wave_path.parent.mkdir(parents=True, exist_ok=True)
                with sim.write_vcd(vcd_file=str(wave_path)):
                    sim.run()
        finally:
            engine.busy = False
            if "result" not in outcome:
                coro.close()
        if "error" in outcome:
            raise outcome["error"]
        if outcome.get("timeout"):
            assert max_cycles is not None
            raise MachineTimeout(max_cycles)
        return outcome["result"]

    async def _monitor(self, ctx: Any) -> None:
        """Background testbench: record INIT / SIPI rising edges per CPU."""
        trigger = ctx.changed(*(s for cpu in self._cpus for s in (cpu.init, cpu.sipi)))
        last = [(0, 0)] * self.ncpus
        async for _ in trigger:
            for i, cpu in enumerate(self._cpus):
                init, sipi = ctx.get(cpu.init), ctx.get(cpu.sipi)
                was_init, was_sipi = last[i]
                if init and not was_init:
                    self._startup[i].append(("INIT", 0))
                if sipi and not was_sipi:
                    self._startup[i].append(("SIPI", ctx.get(cpu.sipi_vector)))
                last[i] = (init, sipi)

    @property
    def _c(self) -> Any:
        ctx = self._ctx
        if ctx is None:
            raise RuntimeError("machine operations can only be awaited inside AmaranthMachine.run()")
        return ctx

    def _check_cpu(self, cpu: int) -> None:
        if not 0 <= cpu < self.ncpus:
            raise IndexError(f"no CPU {cpu}: the platform has CPUs 0..{self.ncpus - 1}")

    async def _tick(self) -> None:
        """One rising edge; stops the run at the watchdog."""
        if self._deadline is not None and self.now() >= self._deadline:
            raise _Stop
        await self._c.tick()

    async def _sleep_until(self, target: int) -> None:
        """Until just after rising edge ``target`` (in :meth:`now` cycles): one delay, one edge."""
        ctx = self._c
        left = target - self.now()
        if left > 1:
            await ctx.delay((left - 0.5) * self.clk_period_s)
        while self.now() < target:
            await ctx.tick()

    async def _wait_pending(self, signals: list[Any], ready: Any, limit: int | None) -> bool:
        """Wait until ``ready()`` or just after edge ``limit`` (None: no limit),
        waking only when one of ``signals`` changes (and once for the bound).
        True when ``ready()``; stops the run at the watchdog."""
        ctx = self._c
        deadline = self._deadline
        stop = limit if deadline is None else (deadline if limit is None else min(limit, deadline))
        while not ready():
            if stop is None:
                await ctx.changed(*signals)
                continue
            left = stop - self.now()
            if left <= 0:
                break
            if left == 1:
                await ctx.tick()  # the signals change only at edges
                continue
            *_, expired = await ctx.changed(*signals).delay((left - 0.5) * self.clk_period_s)
            if expired:  # half a cycle before ``stop``: take that edge
                await ctx.tick()
        if ready():
            return True
        if deadline is not None and self.now() >= deadline and (limit is None or limit > deadline):
            raise _Stop
        return False

    # ------------------------------------------------------------------ the Machine seam (docs/architecture.md)

    def now(self) -> int:
        """Rising edges of ``clk`` since the run began."""
        return int(self._c.get(self._harness.cycle)) - self._base

    async def read32(self, cpu: int, addr: int) -> int:
        """32-bit load through CPU ``cpu``'s AXI4-Lite port."""
        self._check_cpu(cpu)
        ctx = self._c
        bus = self._cpus[cpu].bus
        ctx.set(Cat(bus.araddr, bus.arvalid), (addr & 0xFFFFFFFF) | 1 << 32)
        pending = True
        for _ in range(BUS_TIMEOUT_CYCLES):
            _, _, arready, rvalid, rresp, rdata = await ctx.tick().sample(
                bus.arready, bus.rvalid, bus.rresp, bus.rdata
            )
            if pending and arready:
                ctx.set(bus.arvalid, 0)
                pending = False
            if rvalid and not pending:
                if rresp:
                    raise BusError(cpu, addr, _RESP_NAMES[rresp])
                return int(rdata)
        raise RuntimeError(f"cpu {cpu}: read of {addr:#010x} got no response within {BUS_TIMEOUT_CYCLES} cycles")

    async def write32(self, cpu: int, addr: int, value: int) -> None:
        """32-bit store; returns after the edge that took the write response."""
        self._check_cpu(cpu)
        ctx = self._c
        bus = self._cpus[cpu].bus
        ctx.set(
            Cat(bus.awaddr, bus.wdata, bus.wstrb, bus.awvalid, bus.wvalid),
            (addr & 0xFFFFFFFF) | (value & 0xFFFFFFFF) << 32 | 0xF << 64 | 0b11 << 68,
        )
        aw = w = True  # still offered
        for _ in range(BUS_TIMEOUT_CYCLES):
            _, _, awready, wready, bvalid, bresp = await ctx.tick().sample(
                bus.awready, bus.wready, bus.bvalid, bus.bresp
            )
            if aw and awready:
                aw = False
                ctx.set(bus.awvalid, 0)
            if w and wready:
                w = False
                ctx.set(bus.wvalid, 0)
            if bvalid and not (aw or w):
                if bresp:
                    raise BusError(cpu, addr, _RESP_NAMES[bresp])
                return
        raise RuntimeError(f"cpu {cpu}: write to {addr:#010x} got no response within {BUS_TIMEOUT_CYCLES} cycles")

    async def wait_cycles(self, n: int) -> None:
        """Let ``n`` rising edges pass (one delay and one edge, not ``n`` wake-ups)."""
        if n < 0:
            raise ValueError(f"cannot wait {n} cycles")
        target = self.now() + n
        if self._deadline is not None and target > self._deadline:
            await self._sleep_until(max(self._deadline, self.now()))
            raise _Stop
        await self._sleep_until(target)

    async def wait_interrupt(self, cpu: int) -> None:
        """Return as soon as ``cpu`` has INTR or NMI pending (at once if it has)."""
        self._check_cpu(cpu)
        c = self._cpus[cpu]
        ctx = self._c
        await self._wait_pending([c.intr, c.nmi], lambda: bool(ctx.get(c.intr) or ctx.get(c.nmi)), None)

    async def acknowledge(self, cpu: int) -> int:
        """INTA: ``inta`` high for one edge; the vector shows with ``ack_valid`` after it."""
        self._check_cpu(cpu)
        ctx = self._c
        c = self._cpus[cpu]
        ctx.set(c.inta, 1)
        await self._tick()
        ctx.set(c.inta, 0)
        for _ in range(ACK_TIMEOUT_CYCLES):
            if ctx.get(c.ack_valid):
                return int(ctx.get(c.ack_vector))
            await self._tick()
        raise RuntimeError(f"cpu {cpu}: no ack_valid within {ACK_TIMEOUT_CYCLES} cycles of inta")

    def set_irq(self, line: int, level: int) -> None:
        """Drive device line ``line`` of ``irq``; seen at the next rising edge."""
        if not 0 <= line < self._irq_width:
            raise IndexError(f"device line {line} out of range 0..{self._irq_width - 1}")
        irq = (self._irq | (1 << line)) if level else (self._irq & ~(1 << line))
        if irq != self._irq:
            self._irq = irq
            self._c.set(self._dut.irq, irq)

    def intr_pending(self, cpu: int) -> bool:
        """``intr`` of ``cpu``'s LAPIC is high."""
        return bool(self._c.get(self._cpus[cpu].intr))

    async def wait_any_interrupt(self, max_cycles: int | None = None) -> None:
        """Return when any CPU has INTR or NMI pending, or just after the
        ``max_cycles``-th rising edge from now."""
        ctx = self._c
        pending = self._harness.any_pending
        limit = None if max_cycles is None else self.now() + max_cycles
        await self._wait_pending([pending], lambda: bool(ctx.get(pending)), limit)

    def nmi_pending(self, cpu: int) -> bool:
        """``nmi`` of ``cpu``'s LAPIC is high."""
        return bool(self._c.get(self._cpus[cpu].nmi))

    async def acknowledge_nmi(self, cpu: int) -> None:
        """``nmi_ack`` high for one edge."""
        self._check_cpu(cpu)
        ctx = self._c
        c = self._cpus[cpu]
        ctx.set(c.nmi_ack, 1)
        await self._tick()
        ctx.set(c.nmi_ack, 0)

    def take_startup(self, cpu: int) -> list[tuple[str, int]]:
        """INIT / SIPI pulses seen on ``cpu`` since the last call, oldest first."""
        out, self._startup[cpu] = self._startup[cpu], []
        return out

    async def rdmsr(self, cpu: int, msr: int) -> int:
        """RDMSR on ``cpu``'s ``msr`` port; :class:`irqforge.sw.MsrFault` on #GP."""
        rdata, fault = await self._msr(cpu, 0, msr & 0xFFFFFFFF, 0)
        if fault:
            raise MsrFault(cpu, msr, False)
        return rdata

    async def wrmsr(self, cpu: int, msr: int, value: int) -> None:
        """WRMSR on ``cpu``'s ``msr`` port; :class:`irqforge.sw.MsrFault` on #GP."""
        value &= 0xFFFFFFFFFFFFFFFF
        _, fault = await self._msr(cpu, 1, msr & 0xFFFFFFFF, value)
        if fault:
            raise MsrFault(cpu, msr, True, value)

    async def _msr(self, cpu: int, write: int, addr: int, wdata: int) -> tuple[int, bool]:
        """Hold valid (and the request) until the edge that samples ``ready``; ``(rdata, fault)`` of that cycle."""
        self._check_cpu(cpu)
        ctx = self._c
        port = getattr(self._cpus[cpu], "msr", None)
        if port is None:
            raise RuntimeError(f"cpu {cpu}: this platform has no MSR port")
        ctx.set(port.write, write)
        ctx.set(port.addr, addr)
        ctx.set(port.wdata, wdata)
        ctx.set(port.valid, 1)
        for _ in range(BUS_TIMEOUT_CYCLES):
            if self._deadline is not None and self.now() >= self._deadline:
                ctx.set(port.valid, 0)
                raise _Stop
            _, _, ready, rdata, fault = await ctx.tick().sample(port.ready, port.rdata, port.fault)
            if ready:
                ctx.set(port.valid, 0)
                return (0 if write or fault else int(rdata)), bool(fault)
        ctx.set(port.valid, 0)
        raise RuntimeError(f"cpu {cpu}: MSR {addr:#x} got no ready within {BUS_TIMEOUT_CYCLES} cycles")
