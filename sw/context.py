"""What every part of the software stack shares: per-CPU state, context counts, errors, boot parameters.

The bottom of :mod:`irqforge.sw` apart from the wait primitives
(:mod:`irqforge.sw.sched`) and the hardware seam (:mod:`irqforge.sw.machine`):
the subsystems import these names from here, never from
:mod:`irqforge.sw.kernel`, which assembles them. The narrow interfaces the
subsystems are written against are the protocols at the end
(:class:`PerCpuAccess`, :class:`HardwareAccess`, :class:`ClockAccess`).
"""

from __future__ import annotations

import enum
import inspect
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .sched import PRIO_NORMAL, Completion, Scheduler, Thread

if TYPE_CHECKING:
    from irqforge.spec import Spec

    from .cpumux import CpuMux
    from .machine import Machine
    from .trace import Tracer

__all__ = [
    "ENV_APIC",
    "HARDIRQ_MASK",
    "HARDIRQ_OFFSET",
    "NMI_MASK",
    "NMI_OFFSET",
    "PREEMPT_MASK",
    "PREEMPT_OFFSET",
    "SOFTIRQ_DISABLE_OFFSET",
    "SOFTIRQ_MASK",
    "SOFTIRQ_OFFSET",
    "TEXT_BASE",
    "ClockAccess",
    "CpuState",
    "DeviceAccess",
    "HardwareAccess",
    "KernelBug",
    "KernelConfig",
    "KernelCore",
    "KernelOops",
    "KernelPanic",
    "KernelTimeout",
    "Park",
    "PerCpu",
    "PerCpuAccess",
    "PlatformReset",
    "call",
]

# include/linux/preempt.h
PREEMPT_MASK = 0x000000FF
SOFTIRQ_MASK = 0x0000FF00
HARDIRQ_MASK = 0x000F0000
NMI_MASK = 0x00F00000
PREEMPT_OFFSET = 1
SOFTIRQ_OFFSET = 0x100
SOFTIRQ_DISABLE_OFFSET = 2 * SOFTIRQ_OFFSET
HARDIRQ_OFFSET = 0x10000
NMI_OFFSET = 0x100000

#: Linux "text" addresses of kernel functions (for gates, fixups, thread ips).
TEXT_BASE = 0xFFFFFFFF81000000

#: The environment variable that forces the LAPIC mode of every kernel created
#: in a process and the simulator processes it starts (``irqforge sim --apic``):
#: the default of :attr:`KernelConfig.apic`.
ENV_APIC = "IRQFORGE_APIC"


def _apic_from_env() -> str | None:
    return os.environ.get(ENV_APIC) or None


class KernelBug(RuntimeError):
    """``BUG()`` / ``BUG_ON()``."""


class KernelOops(RuntimeError):
    """``die()``: the current thread is killed (an oops)."""

    def __init__(self, message: str, regs: Any = None) -> None:
        super().__init__(message)
        self.regs = regs


class KernelPanic(RuntimeError):
    """``panic()``: the kernel stops."""


class KernelTimeout(RuntimeError):
    """The run passed its cycle budget."""


class PlatformReset(Exception):
    """The platform was reset (keepalive watchdog expiry)."""


class CpuState(enum.Enum):
    OFFLINE = "offline"
    WAIT_FOR_SIPI = "wait-for-sipi"
    ONLINE = "online"


class Park(enum.Enum):
    """Why a CPU gave up its turn and stays off the run list until woken."""

    HALT = "halt"
    """``hlt``: until an interrupt (or something to run)."""
    SPIN = "spin"
    """A spin loop: until its wait queue is woken, its deadline or an interrupt it may take."""


@dataclass
class KernelConfig:
    """Boot parameters (Linux's command line and Kconfig, as far as they matter)."""

    hz: int | None = None
    """Tick rate; default ``spec.platform.hz``."""
    boot_hpet_ticks: int = 0
    """Jiffies to run on the HPET legacy periodic tick (IRQ 0) before the
    LAPIC timers take over (0: switch at once)."""
    hpet: bool = True
    """Use the HPET as clocksource (CLOCK_MONOTONIC) and boot clockevent."""
    tick_mode: str = "periodic"
    """``periodic`` or ``oneshot`` (periodic tick emulated by one-shot programming)."""
    lapic_timer: bool = True
    """Per-CPU LAPIC timer clockevents (the tick after boot)."""
    directed_eoi: bool = False
    """Suppress LAPIC EOI broadcasts (SVR bit 12) and EOI level pins through the
    IO-APIC EOI register."""
    watchdog: bool = True
    watchdog_thresh: int = 10
    """Linux seconds (sysctl kernel.watchdog_thresh)."""
    watchdog_scale: float = 1e-3
    """Simulated seconds per Linux second for the watchdog thresholds."""
    hardlockup_panic: bool = False
    softlockup_panic: bool = False
    tick_limit: int | None = None
    """Stop each CPU's tick after this many local ticks (determinism: every
    CPU then counts exactly that many LOC interrupts)."""
    init_udelay: int = 0
    """µs between INIT assert/de-assert (0: modern CPUs, 10 µs SIPI delays)."""
    poll_quantum: int | None = None
    """Cycles to advance when only IF=0 CPUs have interrupts pending."""
    noirqdebug: bool = False
    apic: str | None = field(default_factory=_apic_from_env)
    """``xapic`` or ``x2apic``: force the LAPIC mode (``nox2apic``); ``None``: x2APIC
    when the hardware has it, as Linux does (:mod:`irqforge.sw.x2apic`). Default:
    the environment's ``IRQFORGE_APIC`` (``irqforge sim --apic``), else ``None``."""
    x2apic_dest: str = "physical"
    """x2APIC IPI destinations: ``physical`` (Linux without interrupt remapping) or ``cluster``."""
    tsc_deadline: bool | None = None
    """The tick on the TSC-deadline timer (:mod:`irqforge.sw.tsc`); ``None``: when the hardware
    has it, ``False``: Linux's ``lapic=notscdeadline``."""
    workqueue_max_active: int = 256
    nr_cpus: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class PerCpu:
    """Everything Linux keeps per CPU: context counters, run queue, statistics."""

    def __init__(self, kernel: Scheduler, index: int, apic_id: int) -> None:
        self.kernel = kernel
        self.id = index
        self.apic_id = apic_id
        self.state = CpuState.ONLINE if index == 0 else CpuState.OFFLINE
        self.sipi_vector: int | None = None
        # flags and context
        self.if_flag = False
        self.cpl = 0
        self.cr2 = 0
        self.preempt_count = 0
        self.in_nmi = False
        self.need_resched = False
        # scheduler
        self.threads: list[Thread] = []
        self.current: Thread | None = None
        self.idle: Thread | None = None
        self.parked: Park | None = None
        self.spin_deadline: int | None = None
        self.spin_woken = False
        self.nr_switches = 0
        self.resched_targets: set[int] = set()
        # interrupt statistics (arch/x86 irq_stat + per-vector counts)
        self.irq_stat: dict[str, int] = dict.fromkeys(
            ("NMI", "LOC", "SPU", "PMI", "IWI", "RTR", "RES", "CAL", "TLB", "TRM", "THR", "DFR", "MCE", "MCP"), 0
        )
        self.vector_count = [0] * 256
        self.vector_irq: list[Any] = [None] * 256
        # idt / tss
        self.idtr: tuple[int, int] | None = None
        self.tss_ist = {i: 0xFFFFFE0000000000 + index * 0x100000 + i * 0x2000 for i in range(1, 8)}
        self.stack_top = 0xFFFFC90000000000 + index * 0x100000
        self.softirq_pending = 0
        """``local_softirq_pending()``: bit ``nr`` = softirq ``nr`` raised (:mod:`irqforge.sw.softirq`)."""
        # per-subsystem per-CPU data (filled by the subsystems)
        self.data: dict[str, Any] = {}
        self.tick_count = 0
        self.online_done = Completion(kernel)

    def in_interrupt(self) -> bool:
        return bool(self.preempt_count & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_MASK))

    def in_irq(self) -> bool:
        return bool(self.preempt_count & HARDIRQ_MASK)

    def in_softirq(self) -> bool:
        return bool(self.preempt_count & SOFTIRQ_MASK)

    def in_serving_softirq(self) -> bool:
        return bool(self.preempt_count & SOFTIRQ_OFFSET)

    def in_atomic(self) -> bool:
        return self.preempt_count != 0

    def __repr__(self) -> str:
        return f"<cpu{self.id} {self.state.value}>"


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` — a plain function or an ``async def`` — and return its result."""
    r = fn(*args)
    if inspect.isawaitable(r):
        r = await r
    return r




# ---------------------------------------------------------------------- the narrow interfaces


class PerCpuAccess(Protocol):
    """The per-CPU state of the running kernel: which CPU runs, its context, its thread."""

    cpus: list[PerCpu]
    ncpus: int
    tracer: Tracer | None
    """Linux's tracepoints (:mod:`irqforge.sw.trace`), or ``None`` when not tracing."""

    @property
    def this_cpu(self) -> PerCpu: ...

    @property
    def current(self) -> Thread: ...

    def smp_processor_id(self) -> int: ...

    def local_irq_save(self) -> bool: ...

    def local_irq_restore(self, flags: bool) -> None: ...

    def printk(self, msg: str) -> None: ...


class HardwareAccess(PerCpuAccess, Protocol):
    """The machine as the current CPU sees it: bus accesses that are interrupt points, busy waits."""

    machine: Machine
    spec: Spec
    config: KernelConfig

    async def read32(self, addr: int) -> int: ...

    async def write32(self, addr: int, value: int) -> None: ...

    def read32_sync(self, addr: int) -> int: ...

    def write32_sync(self, addr: int, value: int) -> None: ...

    async def udelay(self, us: float) -> None: ...

    def rdmsr_sync(self, msr: int) -> int: ...

    def wrmsr_sync(self, msr: int, value: int) -> None: ...


class ClockAccess(Protocol):
    """The clock: the platform frequency and the tick rate."""

    HZ: int
    clock_hz: int


class DeviceAccess(HardwareAccess, ClockAccess, Protocol):
    """What a device driver (LAPIC, HPET, clock event devices) needs: the
    hardware, the per-CPU state and the clock — not the other subsystems."""

    async def cpu_relax(self, cycles: int = 8) -> None: ...


class KernelCore(PerCpuAccess, Scheduler, ClockAccess, Protocol):
    """The core the deferred-work subsystems (softirqs, tasklets, timers,
    hrtimers) run on: per-CPU state, scheduling, kernel threads, the clock and
    the multiplexer — not the drivers nor one another, which each names."""

    _cur: PerCpu
    mux: CpuMux

    def local_irq_disable(self) -> None: ...

    def local_irq_enable(self) -> None: ...

    async def cond_resched(self) -> None: ...

    async def preempt_check_resched(self) -> None: ...

    async def cpu_relax(self, cycles: int = 8) -> None: ...

    def kthread_create_on_cpu(
        self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any, cpu: int, name: str, prio: int = PRIO_NORMAL
    ) -> Thread: ...
