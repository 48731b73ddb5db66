"""The ``verilator`` backend: :class:`irqforge.sw.Machine` on the Verilated platform, no cocotb.

The platform inside the co-simulation harness (:mod:`irqforge.sim.cosim_harness`,
``irqforge_cosim``) is Verilated into a shared library with a small C ABI
(:mod:`.verilator_abi`, built once per spec and cached) and driven from this
process through :mod:`ctypes`. Every operation is one call into the library
that clocks the model until the operation is over, so nothing here ever
suspends: a scenario runs to its end in one ``coro.send`` (as on the
``model`` backend), and a bus access costs one C call and a few simulated
cycles instead of cocotb's trigger round trips.

The cycle-level behaviour is the one the ``cocotb-verilator`` backend
(:class:`~irqforge.sim.backends.cocotb.CocotbMachine` on the same harness)
has, edge for edge: the same reset (``rst`` for :data:`RESET_CYCLES` edges,
then cycle 0), a read or write is the harness's command until its ``done``,
``acknowledge`` its INTA sequence, ``acknowledge_nmi`` one edge of
``nmi_ack``, and the waits end at the edge where ``status`` shows the
interrupt. Both backends therefore give the same results, timing included.

:meth:`VerilatorMachine.run` drives a scenario. ``max_cycles`` is a watchdog
(:class:`~irqforge.sim.backends.base.MachineTimeout`). A wait for an
interrupt with no time limit checks every
:data:`~irqforge.sim.backends.verilator_abi.SETTLE_EVERY` quiet cycles
whether the platform has *settled*: a clock cycle that changed no bit of the
Verilated state but the per-CPU TSC counters, with no IA32_TSC_DEADLINE
armed. The TSCs count on forever, but nothing else reads them except an
armed deadline's comparator (and an RDMSR, an input change), so with the
inputs held such a platform never changes again and the wait could never
end: :class:`~irqforge.sim.backends.base.MachineDeadlock` is raised at once,
naming each CPU and what it waits for, instead of simulating idle cycles up
to the watchdog. A counting LAPIC timer or HPET, a message, an INTA or a line
change in flight all change the state, so they are never taken for a deadlock.

Waveforms: ``waves="out.fst"`` builds the traced variant of the library and
writes every signal of the harness and the blocks with Verilator's own FST
writer.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
from collections.abc import Awaitable, Coroutine, Generator
from pathlib import Path
from typing import Any, Final, TypeVar, cast

from irqforge.spec import Spec
from irqforge.sw import BusError, MsrFault

from .base import MachineDeadlock, MachineError, MachineTimeout
from .verilator_abi import ABI_VERSION, build_library

__all__ = ["RESET_CYCLES", "VerilatorMachine"]

#: Cycles ``rst`` is held (as on the cocotb backends).
RESET_CYCLES: Final = 4

#: A cycle count no run reaches.
_FOREVER: Final = 1 << 62
_RESP_NAMES: Final = ("OKAY", "EXOKAY", "SLVERR", "DECERR")
#: ``ifg_run``'s reasons (the low two bits of its result).
_LIMIT, _STATUS, _STARTUP, _SETTLED = 0, 1, 2, 3

T = TypeVar("T")


class _Shared(ctypes.Structure):
    """What the library keeps up to date for Python to read without a call."""

    _fields_ = [
        ("cycle", ctypes.c_uint64),
        ("status", ctypes.c_uint64),
        ("startups", ctypes.c_uint64),
        ("msr_rdata", ctypes.c_uint64),
    ]


class _Stop:
    """Awaited when the watchdog fires: hands control back to :meth:`VerilatorMachine.run`."""

    __slots__ = ()

    def __await__(self) -> Generator[object, None, None]:
        yield self


_STOP: Final = _Stop()


@functools.cache
def _load(path: Path) -> ctypes.PyDLL:
    """The library at ``path`` with its functions' C types declared (loaded once per process)."""
    # PyDLL: the calls keep the GIL (each is short and never calls back into
    # Python), which saves releasing and taking it around every operation.
    lib = ctypes.PyDLL(str(path))
    vp, u, u32, u64 = ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint32, ctypes.c_uint64
    signatures: dict[str, tuple[list[Any], Any]] = {
        "ifg_abi": ([], ctypes.c_char_p),
        "ifg_ncpus": ([], u),
        "ifg_open": ([ctypes.c_char_p], vp),
        "ifg_close": ([vp], None),
        "ifg_flush": ([vp], None),
        "ifg_shared": ([vp], vp),
        "ifg_reset": ([vp, u], None),
        "ifg_set_irq": ([vp, u64], None),
        "ifg_run": ([vp, u64, u64, ctypes.c_int, ctypes.c_int], u64),
        "ifg_transact": ([vp, u, u, u32, u32], ctypes.c_int64),
        "ifg_msr": ([vp, u, u, u32, u64], ctypes.c_int32),
        "ifg_acknowledge": ([vp, u], ctypes.c_int32),
        "ifg_acknowledge_nmi": ([vp, u], None),
        "ifg_take_startup": ([vp, u], ctypes.c_int32),
    }
    for name, (args, res) in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    return lib


class VerilatorMachine:
    """A :class:`irqforge.sw.Machine` on the Verilated ``irqforge_cosim`` (see the module docstring).

    The platform is out of reset (cycle 0) when the constructor returns.
    ``waves`` is an ``.fst`` file to trace into; ``cache`` overrides the
    build cache folder. :meth:`close` (or ``with``) ends the trace.
    """

    def __init__(
        self, spec: Spec, *, waves: str | os.PathLike[str] | None = None, cache: str | os.PathLike[str] | None = None
    ) -> None:
        if waves is not None and Path(waves).suffix.lower() != ".fst":
            raise ValueError(f"waves file {waves}: the verilator backend writes FST (.fst)")
        self.spec = spec
        self.ncpus: int = spec.platform.ncpus
        built = build_library(spec, trace=waves is not None, cache=None if cache is None else Path(cache))
        lib = _load(built.path)
        if lib.ifg_abi().decode() != ABI_VERSION or lib.ifg_ncpus() != self.ncpus:
            raise MachineError(f"{built.path} is not the library for this spec ({ABI_VERSION}, {self.ncpus} CPUs)")
        self._lib = lib
        self._irq_width = built.irq_width
        self._waves = None if waves is None else Path(waves).resolve()
        if self._waves is not None:
            self._waves.parent.mkdir(parents=True, exist_ok=True)
        handle = lib.ifg_open(None if self._waves is None else os.fsencode(self._waves))
        if not handle:
            raise MachineError("the Verilated platform could not be created")
        self._handle: int | None = handle
        self._shared = _Shared.from_address(lib.ifg_shared(handle))
        self._irq = 0
        self._deadline = _FOREVER
        # The library's functions bound to this model (one attribute lookup less per call).
        h = handle
        self._transact = functools.partial(lib.ifg_transact, h)
        self._run = functools.partial(lib.ifg_run, h)
        self._ack = functools.partial(lib.ifg_acknowledge, h)
        self._msr = functools.partial(lib.ifg_msr, h)
        self._startups: list[list[tuple[str, int]]] = [[] for _ in range(self.ncpus)]
        lib.ifg_reset(h, RESET_CYCLES)

    # ------------------------------------------------------------------ life cycle

    def close(self) -> None:
        """Finish the trace and free the model (the machine is unusable afterwards)."""
        if self._handle is not None:
            self._lib.ifg_close(self._handle)
            self._handle = None

    def __enter__(self) -> VerilatorMachine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown the library may be gone
            self.close()

    def reset(self) -> None:
        """Reset the whole platform; time starts again at cycle 0, device lines low."""
        self._irq = 0
        self._startups = [[] for _ in range(self.ncpus)]
        self._lib.ifg_reset(self._handle, RESET_CYCLES)

    def run(self, scenario: Awaitable[T], *, max_cycles: int | None = None) -> T:
        """Run the scenario coroutine to its end and return its result.

        It may await only this machine's operations (and coroutines that
        do). Raises :class:`MachineTimeout` if ``max_cycles`` cycles pass
        first; :class:`MachineDeadlock` comes out of the scenario's await.
        """
        coro = cast(Coroutine[Any, Any, T], scenario)
        self._deadline = _FOREVER if max_cycles is None else self._shared.cycle + max_cycles
        try:
            request = coro.send(None)
        except StopIteration as done:
            return done.value
        finally:
            self._deadline = _FOREVER
            if self._waves is not None and self._handle is not None:
                self._lib.ifg_flush(self._handle)
        coro.close()
        if request is _STOP:
            assert max_cycles is not None
            raise MachineTimeout(max_cycles)
        raise TypeError(f"the scenario awaited {request!r}, which is not an operation of this machine")

    def _check_cpu(self, cpu: int) -> None:
        if not 0 <= cpu < self.ncpus:
            raise IndexError(f"no CPU {cpu}: the platform has CPUs 0..{self.ncpus - 1}")

    # ------------------------------------------------------------------ the Machine seam (docs/architecture.md)

    def now(self) -> int:
        """Rising edges of ``clk`` since the end of reset."""
        return self._shared.cycle

    async def read32(self, cpu: int, addr: int) -> int:
        """32-bit load through CPU ``cpu``'s AXI4-Lite port."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        r = self._transact(cpu, 0, addr, 0)
        if r < 0:
            raise MachineError(f"cpu {cpu}: no response to the read of {addr:#010x}")
        if self._shared.cycle > self._deadline:
            await _STOP
        if r >> 32:
            raise BusError(cpu, addr, _RESP_NAMES[r >> 32])
        return r & 0xFFFFFFFF

    async def write32(self, cpu: int, addr: int, value: int) -> None:
        """32-bit store; returns when the write response arrived."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        r = self._transact(cpu, 1, addr, value & 0xFFFFFFFF)
        if r < 0:
            raise MachineError(f"cpu {cpu}: no response to the write of {addr:#010x}")
        if self._shared.cycle > self._deadline:
            await _STOP
        if r >> 32:
            raise BusError(cpu, addr, _RESP_NAMES[r >> 32])

    async def wait_cycles(self, n: int) -> None:
        """Let ``n`` rising edges pass."""
        if n < 0:
            raise ValueError(f"cannot wait {n} cycles")
        left = self._deadline - self._shared.cycle
        if n > left:
            self._run(max(left, 0), 0, 0, 0)
            await _STOP
        self._run(n, 0, 0, 0)

    async def wait_interrupt(self, cpu: int) -> None:
        """Return as soon as ``cpu`` has INTR or NMI pending (at once if it has)."""
        self._check_cpu(cpu)
        await self._wait(3 << (2 * cpu), None, (cpu,))

    async def wait_any_interrupt(self, max_cycles: int | None = None) -> None:
        """Return when any CPU has INTR or NMI pending, or after ``max_cycles`` cycles."""
        await self._wait((1 << (2 * self.ncpus)) - 1, max_cycles, tuple(range(self.ncpus)))

    async def _wait(self, mask: int, max_cycles: int | None, waiters: tuple[int, ...]) -> None:
        """Clock until ``status & mask``, ``max_cycles`` or the watchdog; detect a settled platform."""
        left = self._deadline - self._shared.cycle
        limit = _FOREVER if max_cycles is None else max_cycles
        r = self._run(max(min(limit, left), 0), mask, 0, 1 if max_cycles is None else 0)
        why = r & 3
        if why in (_STATUS, _STARTUP):
            return
        if why == _SETTLED:
            raise MachineDeadlock(self._deadlock_message(waiters))
        if limit > left:  # stopped by the watchdog, not by max_cycles
            await _STOP

    def _deadlock_message(self, waiters: tuple[int, ...]) -> str:
        waits = []
        for cpu in range(self.ncpus):
            if cpu in waiters:
                waits.append(f"cpu {cpu} waits for INTR or NMI")
            else:
                waits.append(f"cpu {cpu} is not waited for")
        lines = [i for i in range(self._irq_width) if self._irq >> i & 1]
        high = f"device lines high: {', '.join(map(str, lines))}" if lines else "every device line low"
        return (
            f"deadlock at cycle {self._shared.cycle}: {'; '.join(waits)}, but the platform has settled "
            f"(a clock cycle changed nothing but the TSCs: no timer counting, no TSC deadline armed, no message "
            f"or line change in flight; {high}), "
            "so no interrupt can ever come"
        )

    async def acknowledge(self, cpu: int) -> int:
        """INTA through the harness: the vector moved IRR → ISR, or the spurious vector."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        vector = self._ack(cpu)
        if vector < 0:
            raise MachineError(f"cpu {cpu}: no ack_valid after inta")
        if self._shared.cycle > self._deadline:
            await _STOP
        return vector

    async def rdmsr(self, cpu: int, msr: int) -> int:
        """RDMSR through the harness's MSR sequencer; :class:`irqforge.sw.MsrFault` on #GP."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        r = self._msr(cpu, 0, msr & 0xFFFFFFFF, 0)
        if r < 0:
            raise MachineError(self._msr_error(r, cpu, f"rdmsr {msr:#x}"))
        if self._shared.cycle > self._deadline:
            await _STOP
        if r:
            raise MsrFault(cpu, msr, False)
        return int(self._shared.msr_rdata)

    async def wrmsr(self, cpu: int, msr: int, value: int) -> None:
        """WRMSR through the harness's MSR sequencer; :class:`irqforge.sw.MsrFault` on #GP."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        value &= 0xFFFFFFFFFFFFFFFF
        r = self._msr(cpu, 1, msr & 0xFFFFFFFF, value)
        if r < 0:
            raise MachineError(self._msr_error(r, cpu, f"wrmsr {msr:#x}"))
        if self._shared.cycle > self._deadline:
            await _STOP
        if r:
            raise MsrFault(cpu, msr, True, value)

    @staticmethod
    def _msr_error(r: int, cpu: int, what: str) -> str:
        if r == -2:
            return f"cpu {cpu}: {what}: this platform has no MSR port"
        return f"cpu {cpu}: no response to {what}"

    def set_irq(self, line: int, level: int) -> None:
        """Drive device line ``line`` (IO-APIC pin); sampled at the next rising edge."""
        if not 0 <= line < self._irq_width:
            raise IndexError(f"device line {line} out of range 0..{self._irq_width - 1}")
        irq = (self._irq | (1 << line)) if level else (self._irq & ~(1 << line))
        if irq != self._irq:
            self._irq = irq
            self._lib.ifg_set_irq(self._handle, irq)

    def intr_pending(self, cpu: int) -> bool:
        """``cpu__{cpu}__intr`` is high."""
        return bool(self._shared.status >> (2 * cpu) & 1)

    def nmi_pending(self, cpu: int) -> bool:
        """``cpu__{cpu}__nmi`` is high."""
        return bool(self._shared.status >> (2 * cpu + 1) & 1)

    async def acknowledge_nmi(self, cpu: int) -> None:
        """Pulse ``nmi_ack`` for one cycle."""
        self._check_cpu(cpu)
        self._lib.ifg_acknowledge_nmi(self._handle, cpu)
        if self._shared.cycle > self._deadline:
            await _STOP

    def take_startup(self, cpu: int) -> list[tuple[str, int]]:
        """INIT / SIPI pulses seen on ``cpu`` since the last call, oldest first."""
        if self._shared.startups:
            take = self._lib.ifg_take_startup
            for i in range(self.ncpus):
                while (event := take(self._handle, i)) >= 0:
                    self._startups[i].append(("INIT", 0) if event == 0x100 else ("SIPI", event & 0xFF))
        out, self._startups[cpu] = self._startups[cpu], []
        return out
