"""The ``model`` backend: :class:`irqforge.sw.Machine` on the pure-Python platform model.

A tiny deterministic discrete-event kernel. Simulated time is
:attr:`PlatformModel.cycle`; it moves only when the scenario spends it:

========================  =====================================================
operation                 cost in cycles
========================  =====================================================
``read32``                :data:`READ_CYCLES`; the device is read at the end
``write32``               :data:`WRITE_CYCLES`; the write acts at the end
``acknowledge``           :data:`INTA_CYCLES`; the vector is chosen at the start
``acknowledge_nmi``       :data:`NMI_ACK_CYCLES`
``rdmsr``/``wrmsr``       :data:`MSR_CYCLES`; the access acts at the end
``wait_cycles(n)``        ``n``, jumping from timer event to timer event
``wait_interrupt`` …      until the event that raises ``intr``/``nmi``
``set_irq``, ``now`` …    nothing
========================  =====================================================

The costs are those of the RTL platform seen through an AXI4-Lite master
(address, data and response beats), so scenarios see time pass at roughly the
same rate on every backend; only counts and order are guaranteed identical.

No operation ever suspends the scenario except to stop it, so a bus access
costs a few Python calls and no scheduler round trip. The machine is
``synchronous`` (see :mod:`irqforge.sw.machine`): the software stack calls
``read32_sync``, ``write32_sync``, ``wait_cycles_sync`` and
``acknowledge_sync`` directly, without a coroutine per access. :meth:`ModelMachine.run`
drives a scenario coroutine to its end; ``max_cycles`` is a watchdog: when
time would pass it, the scenario is closed (``GeneratorExit`` at its await)
and :class:`~irqforge.sim.backends.base.MachineTimeout` raised. A wait that
nothing scheduled can ever end raises
:class:`~irqforge.sim.backends.base.MachineDeadlock` inside the scenario.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
from typing import Any, Final, TypeVar

from irqforge.sim.models.lapic import LapicModel
from irqforge.sim.models.platform import NEVER, PlatformModel
from irqforge.spec import Spec
from irqforge.sw.machine import MsrFault

from .base import MachineDeadlock, MachineTimeout

__all__ = ["INTA_CYCLES", "MSR_CYCLES", "NMI_ACK_CYCLES", "READ_CYCLES", "WRITE_CYCLES", "ModelMachine"]

#: Cycles of a 32-bit read (AR beat, slave latency, R beat).
READ_CYCLES: Final = 4
#: Cycles of a 32-bit write (AW/W beats, slave latency, B beat).
WRITE_CYCLES: Final = 4
#: Cycles of an INTA: ``inta`` for one cycle, ``ack_valid`` the next.
INTA_CYCLES: Final = 2
#: Cycles of an NMI acknowledge (one ``nmi_ack`` pulse).
NMI_ACK_CYCLES: Final = 1
#: Cycles of an RDMSR/WRMSR (the ``msr`` port's valid → ready handshake and the harness's ``done``).
MSR_CYCLES: Final = 3

T = TypeVar("T")


class _Stop:
    """Awaited when the watchdog fires: hands control back to :meth:`ModelMachine.run`."""

    __slots__ = ()

    def __await__(self) -> Generator[object, None, None]:
        yield self


_STOP: Final = _Stop()


class _RunStopped(BaseException):
    """Raised by a synchronous operation at the watchdog: unwinds the scenario to :meth:`ModelMachine.run`.

    A BaseException, so the kernel's ``except Exception`` does not take it for a thread's error."""


class ModelMachine:
    """A :class:`irqforge.sw.Machine` on :class:`PlatformModel` (see the module docstring)."""

    synchronous: Final = True
    """The ``*_sync`` operations exist and never suspend (:mod:`irqforge.sw.machine`)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.platform = PlatformModel(spec)
        self.ncpus: int = self.platform.ncpus
        self._every_cpu = tuple(range(self.ncpus))
        self._lapics = self.platform.lapics
        self.set_irq: Callable[[int, int], None] = self.platform.set_irq
        """Drive device line ``line`` (IO-APIC pin); takes no time. The platform's
        own method: a device interrupt drives its line twice."""
        self.cpu_pins: list[LapicModel] = self._lapics
        """Each CPU's LAPIC: its ``intr`` and ``nmi_pending`` are the CPU's pins
        (:class:`irqforge.sw.machine.CpuPins`), read without a call to the machine."""
        self._deadline = NEVER

    # ------------------------------------------------------------------ driving

    def run(self, coro: Coroutine[Any, Any, T], *, max_cycles: int | None = None) -> T:
        """Run the scenario ``coro`` to its end and return its result.

        ``coro`` may await only this machine's operations (and coroutines that
        do). Raises :class:`MachineTimeout` if ``max_cycles`` cycles pass first.
        """
        self._deadline = NEVER if max_cycles is None else self.platform.cycle + max_cycles
        try:
            request = coro.send(None)
        except StopIteration as done:
            return done.value
        except _RunStopped:
            coro.close()
            assert max_cycles is not None
            raise MachineTimeout(max_cycles) from None
        finally:
            self._deadline = NEVER
        coro.close()
        if request is _STOP:
            assert max_cycles is not None
            raise MachineTimeout(max_cycles)
        raise TypeError(f"the scenario awaited {request!r}, which is not an operation of this machine")

    def reset(self) -> None:
        """Reset the whole platform; time starts again at cycle 0."""
        self.platform.reset()

    def _check_cpu(self, cpu: int) -> None:
        if not 0 <= cpu < self.ncpus:
            raise IndexError(f"no CPU {cpu}: the platform has CPUs 0..{self.ncpus - 1}")

    async def _spend(self, cycles: int) -> None:
        """Let ``cycles`` pass, or stop the run at the watchdog."""
        p = self.platform
        if p.cycle + cycles > self._deadline:
            p.advance_to(max(self._deadline, p.cycle))
            await _STOP
        p.advance(cycles)

    async def _until_event(self, limit: int, waiters: tuple[int, ...] = ()) -> bool:
        """Jump to the next timer event if it is due by cycle ``limit``; False (and
        time at ``limit``) if not. Stops the run at the watchdog; raises
        :class:`MachineDeadlock` (naming the ``waiters``, the CPUs whose interrupt
        is awaited) when no event is due and no limit was given."""
        p = self.platform
        nxt = p.next_event_at
        if nxt < NEVER and nxt <= limit:
            if nxt > self._deadline:
                p.advance_to(self._deadline)
                await _STOP
            p.advance_to(nxt)
            return True
        if limit >= NEVER:
            if self._deadline < NEVER:
                p.advance_to(max(self._deadline, p.cycle))
                await _STOP
            waits = "; ".join(
                f"cpu {cpu} waits for INTR or NMI" if cpu in waiters else f"cpu {cpu} is not waited for"
                for cpu in range(self.ncpus)
            )
            raise MachineDeadlock(
                f"deadlock at cycle {p.cycle}: {waits}, but no timer is armed and no line or message "
                "can raise an interrupt"
            )
        if limit > self._deadline:
            p.advance_to(max(self._deadline, p.cycle))
            await _STOP
        p.advance_to(limit)
        return False

    # ------------------------------------------------------------------ the Machine seam (docs/architecture.md)

    def now(self) -> int:
        """Cycles since reset."""
        return self.platform.cycle

    # The operations below spend their cycles inline when the watchdog is not
    # due (the common case) and go through _spend() only to stop the run: a
    # bus access then costs no second coroutine.

    async def read32(self, cpu: int, addr: int) -> int:
        """32-bit load by ``cpu``; :class:`irqforge.sw.BusError` off the address map."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        p = self.platform
        if p.cycle + READ_CYCLES > self._deadline:
            await self._spend(READ_CYCLES)  # stops the run
        else:
            p.advance(READ_CYCLES)
        return p.read(cpu, addr)

    async def write32(self, cpu: int, addr: int, value: int) -> None:
        """32-bit store by ``cpu``; returns after the response, every consequence delivered."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        p = self.platform
        if p.cycle + WRITE_CYCLES > self._deadline:
            await self._spend(WRITE_CYCLES)  # stops the run
        else:
            p.advance(WRITE_CYCLES)
        p.write(cpu, addr, value)

    async def wait_cycles(self, n: int) -> None:
        """Let ``n`` clock cycles pass."""
        if n < 0:
            raise ValueError(f"cannot wait {n} cycles")
        p = self.platform
        if p.cycle + n > self._deadline:
            await self._spend(n)  # stops the run
        else:
            p.advance(n)

    async def wait_interrupt(self, cpu: int) -> None:
        """Return as soon as ``cpu`` has INTR or NMI pending (at once if it has)."""
        self._check_cpu(cpu)
        lapic = self._lapics[cpu]
        while not (lapic.intr or lapic.nmi):
            await self._until_event(NEVER, (cpu,))

    async def acknowledge(self, cpu: int) -> int:
        """INTA on ``cpu``: the vector moved IRR → ISR, or the spurious vector."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        p = self.platform
        vector = p.inta(cpu)
        if p.cycle + INTA_CYCLES > self._deadline:
            await self._spend(INTA_CYCLES)  # stops the run
        else:
            p.advance(INTA_CYCLES)
        return vector

    def intr_pending(self, cpu: int) -> bool:
        """The LAPIC's ``intr`` output is high now."""
        return self._lapics[cpu].intr  # a bool already

    async def wait_any_interrupt(self, max_cycles: int | None = None) -> None:
        """Return when any CPU has INTR or NMI pending, or after ``max_cycles``."""
        p = self.platform
        limit = NEVER if max_cycles is None else p.cycle + max_cycles
        while not p.any_interrupt():
            if not await self._until_event(limit, self._every_cpu):
                return

    def nmi_pending(self, cpu: int) -> bool:
        """The LAPIC's ``nmi`` output is high."""
        return self._lapics[cpu].nmi_pending  # what its ``nmi`` property returns

    async def acknowledge_nmi(self, cpu: int) -> None:
        """Pulse ``nmi_ack``."""
        self._check_cpu(cpu)
        self.platform.nmi_ack(cpu)
        await self._spend(NMI_ACK_CYCLES)

    # ------------------------------------------------------------------ the synchronous fast path

    def _stop_sync(self) -> None:
        """The watchdog fires inside a synchronous operation: time stops at the deadline."""
        p = self.platform
        p.advance_to(max(self._deadline, p.cycle))
        raise _RunStopped

    # Each spends its cycles with PlatformModel.advance()'s common case inline
    # (no timer event due before the access ends: time just moves on).

    def read32_sync(self, cpu: int, addr: int) -> int:
        """:meth:`read32` without a coroutine."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        p = self.platform
        t = p.cycle + READ_CYCLES
        if t > self._deadline:
            self._stop_sync()
        if t < p._next_at:
            p.cycle = t
        else:
            p.advance(READ_CYCLES)
        return p.read(cpu, addr)

    def write32_sync(self, cpu: int, addr: int, value: int) -> None:
        """:meth:`write32` without a coroutine."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        p = self.platform
        t = p.cycle + WRITE_CYCLES
        if t > self._deadline:
            self._stop_sync()
        if t < p._next_at:
            p.cycle = t
        else:
            p.advance(WRITE_CYCLES)
        p.write(cpu, addr, value)

    def wait_cycles_sync(self, n: int) -> None:
        """:meth:`wait_cycles` without a coroutine."""
        if n < 0:
            raise ValueError(f"cannot wait {n} cycles")
        p = self.platform
        t = p.cycle + n
        if t > self._deadline:
            self._stop_sync()
        if t < p._next_at:
            p.cycle = t
        else:
            p.advance(n)

    def acknowledge_sync(self, cpu: int) -> int:
        """:meth:`acknowledge` without a coroutine."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        p = self.platform
        vector = self._lapics[cpu].inta()  # PlatformModel.inta()
        t = p.cycle + INTA_CYCLES
        if t > self._deadline:
            self._stop_sync()
        if t < p._next_at:
            p.cycle = t
        else:
            p.advance(INTA_CYCLES)
        return vector

    # ------------------------------------------------------------------ MSRs (the platform's per-CPU msr port)

    async def rdmsr(self, cpu: int, msr: int) -> int:
        """``rdmsr`` on ``cpu``; :class:`irqforge.sw.MsrFault` when it raises #GP."""
        if self.platform.cycle + MSR_CYCLES > self._deadline:
            await self._spend(MSR_CYCLES)  # stops the run
        return self.rdmsr_sync(cpu, msr)

    async def wrmsr(self, cpu: int, msr: int, value: int) -> None:
        """``wrmsr`` on ``cpu``; :class:`irqforge.sw.MsrFault` when it raises #GP."""
        if self.platform.cycle + MSR_CYCLES > self._deadline:
            await self._spend(MSR_CYCLES)  # stops the run
        self.wrmsr_sync(cpu, msr, value)

    def rdmsr_sync(self, cpu: int, msr: int) -> int:
        """:meth:`rdmsr` without a coroutine."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        p = self.platform
        t = p.cycle + MSR_CYCLES
        if t > self._deadline:
            self._stop_sync()
        if t < p._next_at:  # p.advance(MSR_CYCLES) without a timer event on the way
            p.cycle = t
        else:
            p.advance(MSR_CYCLES)
        rdata, fault = p.msr(cpu, False, msr & 0xFFFFFFFF, 0)
        if fault:
            raise MsrFault(cpu, msr, False)
        return rdata

    def wrmsr_sync(self, cpu: int, msr: int, value: int) -> None:
        """:meth:`wrmsr` without a coroutine."""
        if not 0 <= cpu < self.ncpus:
            self._check_cpu(cpu)
        p = self.platform
        t = p.cycle + MSR_CYCLES
        if t > self._deadline:
            self._stop_sync()
        if t < p._next_at:  # p.advance(MSR_CYCLES) without a timer event on the way
            p.cycle = t
        else:
            p.advance(MSR_CYCLES)
        _, fault = p.msr(cpu, True, msr & 0xFFFFFFFF, value)  # (which takes the value's low 64 bits)
        if fault:
            raise MsrFault(cpu, msr, True, value & 0xFFFFFFFFFFFFFFFF)

    def take_startup(self, cpu: int) -> list[tuple[str, int]]:
        """INIT / SIPI seen on ``cpu`` since the last call, oldest first."""
        return self.platform.take_startup(cpu)
