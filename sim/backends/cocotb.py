"""The ``icarus`` and ``cocotb-verilator`` backends: :class:`irqforge.sw.Machine` on the
generated ``irqforge_platform`` Verilog, inside a cocotb test (a user's own
cocotb test too: see :class:`CocotbMachine`).

The co-simulation toplevel is ``irqforge_cosim`` (:mod:`irqforge.sim.cosim_harness`):
a small Amaranth wrapper that instantiates the generated ``irqforge_platform``
module unchanged and runs each CPU's AXI4-Lite handshakes (AW+W → B, AR → R)
and the INTA sequence (``inta`` pulse → ``ack_valid``/``ack_vector``) in
hardware. :class:`CocotbMachine` writes a command's fields once and awaits one
``RisingEdge(done)``: one Python crossing per bus transaction or acknowledge
instead of several per clock cycle.

Why not cocotbext-axi here: its :class:`AxiLiteMaster` runs Python coroutines
that wake on every clock edge while a transaction is in flight (channel
drivers and monitors, queues, events), which dominated the cost of the
software stack on the RTL (~1,600 reads/s). The protocol checking it brings is
the job of the verification benches (``sim/benches/*_bench.py``), which keep
using it on the bare platform; the transactor here is deliberately dumb and
only speeds the co-simulation up. :class:`CocotbMachine` still drives a bare
``irqforge_platform`` toplevel through cocotbext-axi (slow path) when the
toplevel has no harness ports.

Otherwise nothing runs every cycle in Python:

- ``wait_cycles`` and the ``max_cycles`` of ``wait_any_interrupt`` are one
  :class:`~cocotb.triggers.Timer` each, landing half a period after the target
  rising edge (no race with the clock); the clock is cocotb's C++
  :class:`~cocotb.clock.Clock`;
- interrupt waits are one :class:`~cocotb.triggers.RisingEdge` on the
  harness's ``pending`` (``intr | nmi``), only when it is low;
- INIT/SIPI are caught by one small monitor per CPU waiting on their edges.

Cycle numbers (:meth:`CocotbMachine.now`) are rising edges of ``clk`` since
the end of reset, computed from the simulation time.

:func:`run_on_simulator` is the host side: it writes the platform's Verilog
and the harness's, builds them with :func:`irqforge.sim.runner.build_and_test`
and runs :mod:`irqforge.sim.benches.machine_bench`, which hosts a scenario on
a :class:`CocotbMachine` and hands its result back as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from irqforge.spec import Spec
from irqforge.sw import BusError, MsrFault

from .base import COCOTB_SIMULATORS, MachineTimeout, ScenarioError

if TYPE_CHECKING:
    from . import Scenario

__all__ = [
    "BENCH_MODULE",
    "COSIM_TOPLEVEL",
    "ENV_JOBS",
    "ENV_MAX_CYCLES",
    "ENV_PROFILE",
    "ENV_RESULT",
    "ENV_SCENARIO",
    "ENV_SCENARIO_ARGS",
    "ENV_SPEC",
    "EXCEPTION_KEY",
    "TIMEOUT_KEY",
    "TOPLEVEL",
    "CocotbMachine",
    "cosim_lint_waiver",
    "cosim_verilog",
    "platform_verilog",
    "run_many_on_simulator",
    "run_on_simulator",
]

#: The platform's Verilog module (docs/hardware.md).
TOPLEVEL: Final = "irqforge_platform"
#: The co-simulation toplevel: the platform inside the transactor harness.
COSIM_TOPLEVEL: Final = "irqforge_cosim"
#: The cocotb test module that hosts a scenario.
BENCH_MODULE: Final = "irqforge.sim.benches.machine_bench"

#: ``module:function`` of the scenario to run.
ENV_SCENARIO: Final = "IRQFORGE_SCENARIO"
#: JSON object of keyword arguments for the scenario.
ENV_SCENARIO_ARGS: Final = "IRQFORGE_SCENARIO_ARGS"
#: JSON list of ``{"scenario": "module:function", "kwargs": {...}}``: several
#: scenarios in one run, the platform reset before each (instead of the two above).
ENV_JOBS: Final = "IRQFORGE_JOBS"
#: Where the bench writes the scenario's result (JSON; a list with ``IRQFORGE_JOBS``).
ENV_RESULT: Final = "IRQFORGE_RESULT"
#: Key of the record the bench writes for a job stopped at its watchdog.
TIMEOUT_KEY: Final = "irqforge_timeout_cycles"
#: The record the bench writes when the scenario raised: type, message, the user's traceback.
EXCEPTION_KEY: Final = "irqforge_scenario_exception"
#: A pickled :class:`~irqforge.spec.Spec` (default: the shipped specs).
ENV_SPEC: Final = "IRQFORGE_SPEC_PICKLE"
#: Watchdog: stop the scenario after this many cycles.
ENV_MAX_CYCLES: Final = "IRQFORGE_MAX_CYCLES"
#: Profile the scenarios with :mod:`cProfile` and write the statistics here
#: (``pstats`` format; read with ``python -m pstats FILE``).
ENV_PROFILE: Final = "IRQFORGE_PROFILE"

#: Clock period used by the benches (ns). Any value works; 10 ns matches the
#: default spec's 100 MHz.
CLK_PERIOD_NS: Final = 10
#: Cycles ``rst`` is held at the start.
RESET_CYCLES: Final = 4
#: Cycles ``acknowledge`` waits for ``ack_valid`` before giving up.
ACK_TIMEOUT_CYCLES: Final = 16


class CocotbMachine:
    """A :class:`irqforge.sw.Machine` on the ``irqforge_platform`` toplevel ``dut``.

    Create it inside a cocotb test and ``await machine.start()`` (clock and
    reset) before the first operation.

    ``dut`` is the handle whose ports are the harness's (``irqforge_cosim``)
    or the bare platform's. In a firmware developer's own top level it is the
    harness *instance* (``dut.platform``), whose command, INTA and CPU-pin
    inputs the wrapper leaves unconnected for this machine to drive; then
    ``clk`` and ``rst`` name the top level's clock and reset (driven here
    unless ``start_clock`` is false: the test runs its own clock and this
    machine only holds reset), and ``irq`` the top-level device lines that
    :meth:`set_irq` drives (the wrapper may OR its own devices' lines into
    the harness's ``irq``). The README's "Your own cocotb test" and
    ``examples/cocotb_firmware`` show the whole recipe.
    """

    def __init__(
        self,
        dut: Any,
        spec: Spec,
        *,
        clk_period_ns: int = CLK_PERIOD_NS,
        clk: Any = None,
        rst: Any = None,
        irq: Any = None,
        start_clock: bool = True,
    ) -> None:
        from cocotb.simtime import convert

        self.dut = dut
        #: The clock, reset and device-line signals: the harness's own unless
        #: the harness sits inside a user's top level (see the class docstring).
        self.clk = dut.clk if clk is None else clk
        self.rst = dut.rst if rst is None else rst
        self.irq = dut.irq if irq is None else irq
        self._start_clock = start_clock
        self.spec = spec
        self.ncpus: int = spec.platform.ncpus
        self.clk_period_ns = clk_period_ns
        self._period = int(convert(clk_period_ns, "ns", to="step"))
        self._half = self._period // 2
        self._t0 = 0
        self._irq = 0
        self._irq_width: int = len(self.irq)
        self._pins = [_CpuPins(dut, i) for i in range(self.ncpus)]
        #: The harness's command and INTA ports (fast path), or None on a bare platform.
        self._ports: list[_HarnessPorts] | None = (
            [_HarnessPorts(dut, i) for i in range(self.ncpus)] if _has(dut, "cmd__0__valid") else None
        )
        # The bus masters are made in start(), once reset has given every
        # slave output a defined level: cocotbext-axi samples ``ready`` at the
        # first clock edge and refuses X.
        self._buses: list[Any] = []
        self._startup: list[list[tuple[str, int]]] = [[] for _ in range(self.ncpus)]
        # Signals change only while Python waits, so what the harness's
        # ``status`` said stays true until one of this machine's awaits
        # returns: ``_epoch`` counts those returns, and ``status`` is read
        # at most once per epoch (the stack asks "intr? nmi?" many times
        # between two waits, and every read is a call into the simulator).
        self._epoch = 0
        self._status_epoch = -1
        self._status_value = 0
        self._status = dut.status if self._ports is not None else None
        self._read_status = _int_reader(self._status) if self._status is not None else None

    # ------------------------------------------------------------------ set-up

    async def start(self, reset_cycles: int = RESET_CYCLES) -> None:
        """Start the clock, hold reset for ``reset_cycles``, start the monitors.

        Cycle 0 (:meth:`now`) is the first rising edge with ``rst`` low.
        """
        import cocotb
        from cocotb.clock import Clock
        from cocotb.simtime import get_sim_time
        from cocotb.triggers import FallingEdge, RisingEdge

        dut, clk = self.dut, self.clk
        self.rst.value = 1
        self.irq.value = 0
        for i, pins in enumerate(self._pins):
            pins.inta.value = 0
            pins.nmi_ack.value = 0
            if self._ports is not None:
                self._ports[i].idle()
            else:
                for name in _MASTER_OUTPUTS:
                    getattr(dut, f"cpu__{i}__bus__{name}").value = 0
                if _has(dut, f"cpu__{i}__msr__valid"):
                    # every MSR input driven (an undriven one is z on Icarus, and x reaches the LAPIC's state)
                    for name in ("valid", "write", "addr", "wdata"):
                        getattr(dut, f"cpu__{i}__msr__{name}").value = 0
        # cocotb 2.x's Clock runs in C++ (GPI clock), not as a Python coroutine.
        if self._start_clock:
            Clock(clk, self.clk_period_ns, unit="ns").start()
        for _ in range(reset_cycles):
            await RisingEdge(clk)
        if self._ports is None:
            self._buses = [self._master(i) for i in range(self.ncpus)]
        await FallingEdge(clk)
        self.rst.value = 0
        await RisingEdge(clk)
        self._epoch += 1
        self._t0 = get_sim_time("step")
        for cpu in range(self.ncpus):
            cocotb.start_soon(self._startup_monitor(cpu))

    async def reset(self, reset_cycles: int = RESET_CYCLES) -> None:
        """Reset the whole platform again (after :meth:`start`); time starts
        again at cycle 0, device lines low, INIT/SIPI records cleared.

        The RTL has no memories and every register is reset, so the platform
        is as after :meth:`start`: several scenarios can share one simulator
        run.
        """
        from cocotb.simtime import get_sim_time
        from cocotb.triggers import FallingEdge, RisingEdge

        clk = self.clk
        await FallingEdge(clk)
        self.rst.value = 1
        self._irq = 0
        self.irq.value = 0
        for pins in self._pins:
            pins.inta.value = 0
            pins.nmi_ack.value = 0
        for port in self._ports or ():
            port.idle()
        for _ in range(reset_cycles):
            await FallingEdge(clk)
        self.rst.value = 0
        await RisingEdge(clk)
        self._epoch += 1
        self._t0 = get_sim_time("step")
        self._startup = [[] for _ in range(self.ncpus)]

    def _master(self, cpu: int) -> Any:
        """cocotbext-axi's AXI4-Lite master on ``cpu__{cpu}__bus__*``, quiet unless something goes wrong."""
        import logging

        from cocotbext.axi import AxiLiteBus, AxiLiteMaster

        dut = self.dut
        bus = AxiLiteBus.from_prefix(dut, f"cpu__{cpu}__bus_")
        # cocotbext-axi logs its banner and every transaction at INFO, on
        # loggers named after the toplevel and the prefix.
        logging.getLogger(f"cocotb.{dut._name}.cpu__{cpu}__bus_").setLevel(logging.WARNING)
        # No reset signal for the master: it is made once reset has settled
        # the slave side, and it is idle whenever :meth:`reset` pulses ``rst``
        # (cocotbext-axi's own reset handling kills its tasks there and the
        # next transaction never completes).
        return AxiLiteMaster(bus, self.clk)

    async def _startup_monitor(self, cpu: int) -> None:
        from cocotb.triggers import First, ReadOnly, RisingEdge

        pins = self._pins[cpu]
        init, sipi = RisingEdge(pins.init), RisingEdge(pins.sipi)
        while True:
            fired = await First(init, sipi)
            await ReadOnly()
            if fired is init or pins.init.value:
                self._startup[cpu].append(("INIT", 0))
            if fired is sipi or pins.sipi.value:
                self._startup[cpu].append(("SIPI", int(pins.sipi_vector.value)))

    def _check_cpu(self, cpu: int) -> None:
        if not 0 <= cpu < self.ncpus:
            raise IndexError(f"no CPU {cpu}: the platform has CPUs 0..{self.ncpus - 1}")

    # ------------------------------------------------------------------ the Machine seam (docs/architecture.md)

    def cycles_to_steps(self, cycles: int) -> int:
        """Simulator time steps of ``cycles`` clock periods."""
        return cycles * self._period

    def now(self) -> int:
        """Rising edges of ``clk`` since the end of reset."""
        from cocotb.simtime import get_sim_time

        return (get_sim_time("step") - self._t0) // self._period

    def _mid_cycle_after(self, cycles: int) -> int:
        """Steps from now to half a period after the rising edge ``cycles`` from now."""
        from cocotb.simtime import get_sim_time

        t = get_sim_time("step")
        edge = self._t0 + ((t - self._t0) // self._period + cycles) * self._period
        return edge + self._half - t

    async def read32(self, cpu: int, addr: int) -> int:
        """32-bit load through CPU ``cpu``'s AXI4-Lite port."""
        self._check_cpu(cpu)
        if self._ports is not None:
            rresp, data = await self._ports[cpu].transact(0, addr, 0)
            self._epoch += 1
            if rresp:
                raise BusError(cpu, addr, _RESP_NAMES[rresp])
            return data
        resp = await self._buses[cpu].read(addr, 4)
        self._epoch += 1
        if int(resp.resp) != 0:
            raise BusError(cpu, addr, resp.resp.name)
        return int.from_bytes(resp.data, "little")

    async def write32(self, cpu: int, addr: int, value: int) -> None:
        """32-bit store; returns when the write response arrived."""
        self._check_cpu(cpu)
        if self._ports is not None:
            bresp, _ = await self._ports[cpu].transact(1, addr, value & 0xFFFFFFFF)
            self._epoch += 1
            if bresp:
                raise BusError(cpu, addr, _RESP_NAMES[bresp])
            return
        resp = await self._buses[cpu].write(addr, (value & 0xFFFFFFFF).to_bytes(4, "little"))
        self._epoch += 1
        if int(resp.resp) != 0:
            raise BusError(cpu, addr, resp.resp.name)

    async def wait_cycles(self, n: int) -> None:
        """Let ``n`` rising edges pass (one timer, not ``n`` wake-ups)."""
        from cocotb.triggers import Timer

        if n < 0:
            raise ValueError(f"cannot wait {n} cycles")
        if n:
            await Timer(self._mid_cycle_after(n), unit="step")
            self._epoch += 1

    def _status_bits(self) -> int:
        """The harness's ``status`` (bit ``2i``: CPU ``i``'s intr, ``2i + 1``: its nmi), read once per epoch."""
        if self._status_epoch != self._epoch:
            assert self._read_status is not None
            self._status_value = self._read_status()
            self._status_epoch = self._epoch
        return self._status_value

    def _pending(self, cpu: int) -> bool:
        if self._status is not None:
            return bool((self._status_bits() >> (2 * cpu)) & 3)
        pins = self._pins[cpu]
        return bool(pins.intr.value) or bool(pins.nmi.value)

    async def wait_interrupt(self, cpu: int) -> None:
        """Return as soon as ``cpu`` has INTR or NMI pending."""
        from cocotb.triggers import First, RisingEdge

        self._check_cpu(cpu)
        if self._ports is not None:
            while not self._pending(cpu):
                await RisingEdge(self._ports[cpu].pending)
                self._epoch += 1
            return
        pins = self._pins[cpu]
        while not self._pending(cpu):
            await First(RisingEdge(pins.intr), RisingEdge(pins.nmi))
            self._epoch += 1

    async def acknowledge(self, cpu: int) -> int:
        """Pulse ``inta`` for one cycle; the vector ``ack_vector`` shows with ``ack_valid``."""
        from cocotb.triggers import FallingEdge

        self._check_cpu(cpu)
        if self._ports is not None:
            vector = await self._ports[cpu].acknowledge()
            self._epoch += 1
            if vector is None:
                raise RuntimeError(f"cpu {cpu}: no ack_valid within {ACK_TIMEOUT_CYCLES} cycles of inta")
            return vector
        pins = self._pins[cpu]
        await FallingEdge(self.clk)
        pins.inta.value = 1
        await FallingEdge(self.clk)
        pins.inta.value = 0
        for _ in range(ACK_TIMEOUT_CYCLES):
            if pins.ack_valid.value:
                return int(pins.ack_vector.value)
            await FallingEdge(self.clk)
        raise RuntimeError(f"cpu {cpu}: no ack_valid within {ACK_TIMEOUT_CYCLES} cycles of inta")

    def set_irq(self, line: int, level: int) -> None:
        """Drive device line ``line`` of ``irq``."""
        width = self._irq_width
        if not 0 <= line < width:
            raise IndexError(f"device line {line} out of range 0..{width - 1}")
        irq = (self._irq | (1 << line)) if level else (self._irq & ~(1 << line))
        if irq != self._irq:
            self._irq = irq
            self.irq.value = irq

    def intr_pending(self, cpu: int) -> bool:
        """``cpu__{cpu}__intr`` is high."""
        if self._status is not None:
            return bool((self._status_bits() >> (2 * cpu)) & 1)
        return bool(self._pins[cpu].intr.value)

    async def wait_any_interrupt(self, max_cycles: int | None = None) -> None:
        """Return when any CPU has INTR or NMI pending, or half a cycle after
        the ``max_cycles``-th rising edge."""
        from cocotb.triggers import First, RisingEdge, Timer

        if any(self._pending(cpu) for cpu in range(self.ncpus)):
            return
        triggers: list[Any] = []
        if self._ports is not None:
            triggers = [RisingEdge(port.pending) for port in self._ports]
        else:
            for pins in self._pins:
                triggers += [RisingEdge(pins.intr), RisingEdge(pins.nmi)]
        if max_cycles is not None:
            triggers.append(Timer(self._mid_cycle_after(max_cycles), unit="step"))
        await First(*triggers)
        self._epoch += 1

    def nmi_pending(self, cpu: int) -> bool:
        """``cpu__{cpu}__nmi`` is high."""
        if self._status is not None:
            return bool((self._status_bits() >> (2 * cpu + 1)) & 1)
        return bool(self._pins[cpu].nmi.value)

    async def acknowledge_nmi(self, cpu: int) -> None:
        """Pulse ``nmi_ack`` for one cycle."""
        from cocotb.triggers import FallingEdge

        self._check_cpu(cpu)
        pins = self._pins[cpu]
        await FallingEdge(self.clk)
        pins.nmi_ack.value = 1
        await FallingEdge(self.clk)
        pins.nmi_ack.value = 0
        self._epoch += 1

    def take_startup(self, cpu: int) -> list[tuple[str, int]]:
        """INIT / SIPI pulses seen on ``cpu`` since the last call, oldest first."""
        out, self._startup[cpu] = self._startup[cpu], []
        return out

    async def rdmsr(self, cpu: int, msr: int) -> int:
        """RDMSR on ``cpu``; :class:`irqforge.sw.MsrFault` on #GP."""
        self._check_cpu(cpu)
        rdata, fault = await self._msr(cpu, 0, msr & 0xFFFFFFFF, 0)
        if fault:
            raise MsrFault(cpu, msr, False)
        return rdata

    async def wrmsr(self, cpu: int, msr: int, value: int) -> None:
        """WRMSR on ``cpu``; :class:`irqforge.sw.MsrFault` on #GP."""
        self._check_cpu(cpu)
        value &= 0xFFFFFFFFFFFFFFFF
        _, fault = await self._msr(cpu, 1, msr & 0xFFFFFFFF, value)
        if fault:
            raise MsrFault(cpu, msr, True, value)

    async def _msr(self, cpu: int, write: int, addr: int, wdata: int) -> tuple[int, bool]:
        """One MSR access: through the harness's sequencer, or the platform's handshake held until ``ready``."""
        from cocotb.triggers import ReadOnly, RisingEdge

        dut = self.dut
        if self._ports is not None:
            if not _has(dut, f"msr__{cpu}__valid"):
                raise RuntimeError(f"cpu {cpu}: this platform has no MSR port")
            out = await self._ports[cpu].msr(write, addr, wdata)
            self._epoch += 1
            return out

        def port(name: str) -> Any:
            return getattr(dut, f"cpu__{cpu}__msr__{name}")

        if not _has(dut, f"cpu__{cpu}__msr__valid"):
            raise RuntimeError(f"cpu {cpu}: this platform has no MSR port")
        port("write").value = write
        port("addr").value = addr
        port("wdata").value = wdata
        port("valid").value = 1
        for _ in range(ACK_TIMEOUT_CYCLES * 64):
            await ReadOnly()
            ready = bool(port("ready").value)
            rdata, fault = (int(port("rdata").value), bool(port("fault").value)) if ready else (0, False)
            await RisingEdge(self.clk)
            if ready:
                port("valid").value = 0
                self._epoch += 1
                return (0 if write or fault else rdata), fault
        raise RuntimeError(f"cpu {cpu}: no msr ready")


#: The AXI4-Lite inputs of the platform that the bus master drives (held 0 in reset).
_MASTER_OUTPUTS: Final = ("awvalid", "wvalid", "bready", "arvalid", "rready")


#: AXI response names by code, for :class:`~irqforge.sw.BusError`.
_RESP_NAMES: Final = ("OKAY", "EXOKAY", "SLVERR", "DECERR")


def _int_reader(handle: Any) -> Callable[[], int]:
    """A function returning ``int(handle.value)``, faster.

    cocotb's ``handle.value`` builds a ``LogicArray`` (or ``Logic``) for every
    read, ~3 µs: with several reads per bus transaction and per interrupt
    that was a tenth of the co-simulation's Python time. The simulator object
    behind the handle gives the bit string directly. Only for signals that
    hold 0/1 when read (the harness's outputs once reset has settled);
    cocotb 2.1 (pinned) — any other handle falls back to ``handle.value``.
    """
    get = getattr(getattr(handle, "_handle", None), "get_signal_val_binstr", None)
    if get is None:
        return lambda: int(handle.value)
    return lambda: int(get(), 2)


def _has(dut: Any, name: str) -> bool:
    """Whether the toplevel has a port ``name``."""
    try:
        getattr(dut, name)
    except AttributeError:
        return False
    return True


class _HarnessPorts:
    """One CPU's ports on the ``irqforge_cosim`` harness (:mod:`irqforge.sim.cosim_harness`).

    Writes only the command fields that changed since the last command (each
    ``.value =`` is a call into the simulator).
    """

    def __init__(self, dut: Any, index: int) -> None:
        def port(name: str) -> Any:
            return getattr(dut, name.format(i=index))

        self.valid, self.write = port("cmd__{i}__valid"), port("cmd__{i}__write")
        self.addr, self.wdata = port("cmd__{i}__addr"), port("cmd__{i}__wdata")
        self.done, self.rdata, self.resp = port("cmd__{i}__done"), port("cmd__{i}__rdata"), port("cmd__{i}__resp")
        self.ack_valid, self.ack_done = port("ack__{i}__valid"), port("ack__{i}__done")
        self.ack_vector, self.ack_ok = port("ack__{i}__vector"), port("ack__{i}__ok")
        self.pending = port("cpu__{i}__pending")
        self.msr_ports = (
            tuple(port("msr__{i}__" + n) for n in ("valid", "write", "addr", "wdata", "done", "rdata", "fault"))
            if _has(dut, f"msr__{index}__valid")
            else None
        )
        self._resp, self._rdata = _int_reader(self.resp), _int_reader(self.rdata)
        self._ack_ok, self._ack_vector = _int_reader(self.ack_ok), _int_reader(self.ack_vector)
        self._last: list[int] = [-1, -1, -1]  # write, addr, wdata as last driven

    def idle(self) -> None:
        """Drop the requests (start and reset)."""
        self.valid.value = 0
        self.ack_valid.value = 0
        if self.msr_ports is not None:
            # valid, write, addr, wdata: all driven (an undriven input is z on Icarus and x reaches the LAPIC)
            for port in self.msr_ports[:4]:
                port.value = 0

    async def msr(self, write: int, addr: int, wdata: int) -> tuple[int, bool]:
        """One MSR access through the harness's sequencer: ``(rdata, fault)``, one wait for ``done``."""
        from cocotb.triggers import RisingEdge

        assert self.msr_ports is not None
        valid, wr, ad, wd, done, rdata, fault = self.msr_ports
        wr.value = write
        ad.value = addr
        wd.value = wdata
        valid.value = 1
        await RisingEdge(done)
        valid.value = 0
        f = bool(int(fault.value))
        return (0 if write or f else int(rdata.value)), f

    async def transact(self, write: int, addr: int, wdata: int) -> tuple[int, int]:
        """One bus transaction: ``(resp, rdata)``, one wait for ``done``."""
        from cocotb.triggers import RisingEdge

        last = self._last
        if last[0] != write:
            self.write.value = last[0] = write
        if last[1] != addr:
            self.addr.value = last[1] = addr
        if write and last[2] != wdata:
            self.wdata.value = last[2] = wdata
        self.valid.value = 1
        await RisingEdge(self.done)
        # rdata/resp were latched the edge before ``done`` rose: no race.
        self.valid.value = 0
        return self._resp(), (0 if write else self._rdata())

    async def acknowledge(self) -> int | None:
        """The INTA sequence in hardware: the vector, or None without ``ack_valid``."""
        from cocotb.triggers import RisingEdge

        self.ack_valid.value = 1
        await RisingEdge(self.ack_done)
        self.ack_valid.value = 0
        if not self._ack_ok():
            return None
        return self._ack_vector()


class _CpuPins:
    """Handles of one CPU's pins (``cpu__{i}__*``)."""

    def __init__(self, dut: Any, index: int) -> None:
        def pin(name: str) -> Any:
            return getattr(dut, f"cpu__{index}__{name}")

        self.intr, self.vector, self.inta = pin("intr"), pin("vector"), pin("inta")
        self.ack_valid, self.ack_vector = pin("ack_valid"), pin("ack_vector")
        self.nmi, self.nmi_ack = pin("nmi"), pin("nmi_ack")
        self.init, self.sipi, self.sipi_vector = pin("init"), pin("sipi"), pin("sipi_vector")


# --------------------------------------------------------------------------- host side


def platform_verilog(spec: Spec, out_dir: Path) -> list[Path]:
    """The Verilog files of the platform for ``spec``: ``irqforge_platform.v``
    and the block modules it instantiates, exactly as ``irqforge gen`` writes
    them (:func:`irqforge.hw.write_verilog`, cached per RTL fingerprint). The
    file names are the ones the Verilator waivers (``hw/lint/*.vlt``) match."""
    from irqforge.hw import write_verilog

    files = write_verilog(spec, out_dir)
    return [files[name] for name in sorted(files)]


def cosim_verilog(spec: Spec, out_dir: Path) -> list[Path]:
    """The Verilog files of the co-simulation toplevel ``irqforge_cosim``: the
    platform's (:func:`platform_verilog`) and the harness's
    (:mod:`irqforge.sim.cosim_harness`), cached per harness fingerprint."""
    from irqforge.sim.cosim_harness import harness_fingerprint, harness_verilog

    platform = platform_verilog(spec, out_dir)
    harness = Path(out_dir) / f"cosim-{harness_fingerprint(spec)[:16]}" / f"{COSIM_TOPLEVEL}.v"
    if not harness.is_file():
        harness.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(harness, harness_verilog(spec))
    return [*platform, harness]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def cosim_lint_waiver(out_dir: Path) -> Path:
    """The Verilator control file for :func:`cosim_verilog`'s sources: the
    blocks' reviewed waivers and the harness's (a user's own top level around
    the harness adds nothing to it, and must be lint clean itself)."""
    return _lint_waiver(out_dir)


def _lint_waiver(out_dir: Path) -> Path:
    """Every block's Verilator waivers (``hw/lint/*.vlt``) in one file, as
    ``irqforge gen`` does, and the harness's (kept out of ``hw/lint`` so that
    ``irqforge gen`` output does not change)."""
    from irqforge.hw import waiver_sections
    from irqforge.sim.cosim_harness import LINT_WAIVER, VERILATOR_PUBLIC

    parts = [f"// {name}\n" + "\n".join(kept) for name, kept in waiver_sections()]
    parts.append(LINT_WAIVER)
    parts.append(VERILATOR_PUBLIC)
    text = "`verilator_config\n" + "\n".join(parts) + "\n"
    path = out_dir / f"lint-{hashlib.sha256(text.encode()).hexdigest()[:16]}.vlt"
    if not path.is_file():  # atomically: processes sharing a cache may write it at once
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def run_on_simulator(
    sim: str,
    scenario: Scenario | str,
    spec: Spec,
    *,
    build_dir: str | os.PathLike[str] | None = None,
    waves: str | os.PathLike[str] | None = None,
    max_cycles: int | None = None,
    kwargs: dict[str, Any] | None = None,
    toplevel: str = COSIM_TOPLEVEL,
) -> dict:
    """Run ``scenario(machine, **kwargs)`` on ``sim`` (``"icarus"`` or ``"verilator"``/``"cocotb-verilator"``)
    against the platform Verilog of ``spec``; return the scenario's dict.

    Raises :class:`~irqforge.sim.backends.base.MachineTimeout` when the
    scenario overruns ``max_cycles``, and what
    :func:`irqforge.sim.runner.build_and_test` raises otherwise; a scenario
    that raises is a :class:`~irqforge.sim.runner.TestFailure` naming the error.
    """
    return run_many_on_simulator(
        sim, [(scenario, kwargs or {})], spec, build_dir=build_dir, waves=waves, max_cycles=max_cycles,
        toplevel=toplevel,
    )[0]


def run_many_on_simulator(
    sim: str,
    jobs: Sequence[tuple[Scenario | str, dict[str, Any]]],
    spec: Spec,
    *,
    build_dir: str | os.PathLike[str] | None = None,
    waves: str | os.PathLike[str] | None = None,
    max_cycles: int | None = None,
    toplevel: str = COSIM_TOPLEVEL,
) -> list[dict]:
    """Run several ``(scenario, kwargs)`` jobs in one simulator run, the platform
    reset before each (:meth:`CocotbMachine.reset`); return their dicts in order.

    One run saves the simulator's start-up (seconds) per scenario. Each job
    has its own ``max_cycles`` watchdog. Errors as :func:`run_on_simulator`.

    ``toplevel`` is :data:`COSIM_TOPLEVEL` (the platform inside the
    transactor harness, the fast path) or :data:`TOPLEVEL`: the bare
    platform, driven by cocotbext-axi's AXI4-Lite masters and per-cycle
    INTA — the reference the bench compares the harness against.
    """
    from irqforge.sim import toolchain
    from irqforge.sim.runner import TestFailure, build_and_test

    from . import scenario_name

    listed = [{"scenario": scenario_name(scenario), "kwargs": kwargs} for scenario, kwargs in jobs]
    if not listed:
        return []
    sim = COCOTB_SIMULATORS.get(sim, sim)  # "cocotb-verilator" runs cocotb on "verilator"
    if toplevel not in (COSIM_TOPLEVEL, TOPLEVEL):
        raise ValueError(f"toplevel must be {COSIM_TOPLEVEL!r} or {TOPLEVEL!r}, not {toplevel!r}")
    harness = toplevel == COSIM_TOPLEVEL
    root = Path(build_dir) if build_dir is not None else toolchain.cache_dir("cocotb")
    sources = root / "sources"
    verilog_paths = cosim_verilog(spec, sources) if harness else platform_verilog(spec, sources)
    spec_path = sources / f"spec-{spec.digest[:16]}.pickle"
    if not spec_path.is_file():
        _write_atomic_bytes(spec_path, pickle.dumps(spec))
    with tempfile.TemporaryDirectory(prefix="irqforge-result-") as tmp:
        result = Path(tmp) / "result.json"
        env = {
            ENV_JOBS: json.dumps(listed),
            ENV_RESULT: str(result),
            ENV_SPEC: str(spec_path.resolve()),
        }
        if max_cycles is not None:
            env[ENV_MAX_CYCLES] = str(max_cycles)
        try:
            build_and_test(
                sim,
                verilog_paths,
                toplevel,
                BENCH_MODULE,
                build_dir=root,
                waves=waves,
                extra_env=env,
                lint_waiver=_lint_waiver(sources),
                # CocotbMachine touches the harness's ports only (VERILATOR_PUBLIC);
                # the bare platform keeps cocotb's default, everything public
                public_flat=not harness,
            )
        except TestFailure:
            timeout = _timeout_in(result)
            if timeout is not None:
                raise MachineTimeout(timeout) from None
            raised = _exception_in(result)
            if raised is not None:
                raise raised from None
            raise
        return json.loads(result.read_text())


def _timeout_in(result: Path) -> int | None:
    """The ``max_cycles`` of a job the bench stopped at its watchdog, if it says so."""
    try:
        records = json.loads(result.read_text())
    except (OSError, ValueError):
        return None
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict) and TIMEOUT_KEY in record:
            return int(record[TIMEOUT_KEY])
    return None


def _exception_in(result: Path) -> ScenarioError | None:
    """The scenario's own exception, if the bench recorded one."""
    try:
        records = json.loads(result.read_text())
    except (OSError, ValueError):
        return None
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict) and EXCEPTION_KEY in record:
            e = record[EXCEPTION_KEY]
            return ScenarioError(str(e["type"]), str(e["message"]), str(e["traceback"]))
    return None


def _write_atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
