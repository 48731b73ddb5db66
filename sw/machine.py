"""The seam between the software stack and the hardware it runs on.

:mod:`irqforge.sw` talks to hardware only through an object implementing
:class:`Machine`; the backends live in :mod:`irqforge.sim` (``model``,
``amaranth``, ``icarus``, ``verilator``). Every call is in simulated time:
``now()`` counts platform clock cycles.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Machine(Protocol):
    """A running platform with ``ncpus`` CPUs (docs/architecture.md, the Machine seam)."""

    ncpus: int

    async def read32(self, cpu: int, addr: int) -> int:
        """32-bit load by ``cpu`` from physical address ``addr``."""
        ...

    async def write32(self, cpu: int, addr: int, value: int) -> None:
        """32-bit store by ``cpu``; returns when the write response arrived."""
        ...

    async def wait_cycles(self, n: int) -> None:
        """Let ``n`` clock cycles pass."""
        ...

    def now(self) -> int:
        """Cycles since reset."""
        ...

    async def wait_interrupt(self, cpu: int) -> None:
        """Return as soon as ``cpu`` has INTR or NMI pending (at once if it has)."""
        ...

    async def acknowledge(self, cpu: int) -> int:
        """INTA cycle on ``cpu``: the vector moved IRR → ISR, or the spurious vector."""
        ...

    def set_irq(self, line: int, level: int) -> None:
        """Drive device interrupt line ``line`` (IO-APIC pin) to ``level``."""
        ...

    async def rdmsr(self, cpu: int, msr: int) -> int:
        """``rdmsr`` on ``cpu``: the 64-bit value; :class:`MsrFault` when the access raises #GP."""
        ...

    async def wrmsr(self, cpu: int, msr: int, value: int) -> None:
        """``wrmsr`` of the 64-bit ``value`` on ``cpu``; :class:`MsrFault` when the access raises #GP."""
        ...

    # -- beyond the seam of docs/architecture.md: one coroutine can serve every CPU, and the
    #    other CPU-side pins of the LAPIC

    def intr_pending(self, cpu: int) -> bool:
        """The LAPIC's ``intr`` output is high now."""
        ...

    async def wait_any_interrupt(self, max_cycles: int | None = None) -> None:
        """Return as soon as any CPU has INTR or NMI pending (at once if one
        has), or after ``max_cycles`` cycles. Backends wait on the signals'
        edges, never by polling every cycle."""
        ...

    def nmi_pending(self, cpu: int) -> bool:
        """The LAPIC's ``nmi`` output is high."""
        ...

    async def acknowledge_nmi(self, cpu: int) -> None:
        """Pulse ``nmi_ack``."""
        ...

    def take_startup(self, cpu: int) -> list[tuple[str, int]]:
        """INIT / SIPI pulses seen on ``cpu`` since the last call, oldest first:
        ``("INIT", 0)`` or ``("SIPI", vector)``."""
        ...


class SyncMachine(Machine, Protocol):
    """An optional fast path a backend may offer: the same operations as plain calls.

    A machine whose operations never need to suspend (the pure-Python
    ``model``; a directly driven simulator that advances its clock inside the
    call) sets ``synchronous = True`` and adds the six methods below. The
    kernel then calls them directly (no coroutine per bus access) and still
    gives up the CPU's turn after each access, so CPUs interleave exactly as on
    the awaitable path; everything else (``wait_any_interrupt``, the pins) is
    used as on any :class:`Machine`. The ``async`` methods stay: a scenario
    awaits them, and a cocotb host awaits the kernel.

    A synchronous call that must stop the run (a watchdog) raises an exception
    derived from ``BaseException`` (not ``Exception``, which the kernel takes
    for a thread's error); the backend's own runner catches it.
    """

    synchronous: bool

    def read32_sync(self, cpu: int, addr: int) -> int:
        """:meth:`Machine.read32`, returning when it is done."""
        ...

    def write32_sync(self, cpu: int, addr: int, value: int) -> None:
        """:meth:`Machine.write32`, returning when it is done."""
        ...

    def wait_cycles_sync(self, n: int) -> None:
        """:meth:`Machine.wait_cycles`, returning when it is done."""
        ...

    def acknowledge_sync(self, cpu: int) -> int:
        """:meth:`Machine.acknowledge`, returning when it is done."""
        ...

    def rdmsr_sync(self, cpu: int, msr: int) -> int:
        """:meth:`Machine.rdmsr`, returning when it is done."""
        ...

    def wrmsr_sync(self, cpu: int, msr: int, value: int) -> None:
        """:meth:`Machine.wrmsr`, returning when it is done."""
        ...


class BusError(Exception):
    """A bus access answered SLVERR or DECERR."""

    def __init__(self, cpu: int, addr: int, resp: str) -> None:
        self.cpu, self.addr, self.resp = cpu, addr, resp
        super().__init__(f"cpu {cpu}: access to {addr:#010x} answered {resp}")


class MsrFault(Exception):
    """An ``rdmsr``/``wrmsr`` raised #GP (a reserved or unknown MSR, a reserved
    bit, an illegal IA32_APIC_BASE transition …): the CPU's exception, not the
    bus's. The kernel turns it into a ``#GP(0)`` through the IDT and the
    exception table (:mod:`irqforge.sw.msr`)."""

    def __init__(self, cpu: int, msr: int, write: bool, value: int = 0) -> None:
        self.cpu, self.msr, self.write, self.value = cpu, msr, write, value
        what = f"wrmsr {msr:#x} <- {value:#018x}" if write else f"rdmsr {msr:#x}"
        super().__init__(f"cpu {cpu}: {what} raised #GP")


class CpuPins(Protocol):
    """A CPU's interrupt pins as plain attributes (an optional fast path).

    A machine may offer ``cpu_pins``, one object per CPU whose ``intr`` and
    ``nmi_pending`` always read what :meth:`Machine.intr_pending` and
    :meth:`Machine.nmi_pending` would answer (the ``model`` backend hands out
    its LAPIC models). The kernel asks them after every bus access; without
    ``cpu_pins`` it asks the machine.
    """

    @property
    def intr(self) -> bool:
        """The LAPIC's ``intr`` output is high now."""
        ...

    @property
    def nmi_pending(self) -> bool:
        """The LAPIC's ``nmi`` output is high."""
        ...
