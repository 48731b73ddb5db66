"""The Kernel object: per-CPU state, the hardware-access interrupt points and boot.

The CPUs and their kernel threads are multiplexed by :mod:`irqforge.sw.cpumux`
(``k.mux``): a CPU gives up its turn after every hardware access, so CPUs
interleave at bus-access granularity and every backend call runs alone.

Interrupts are taken at well-defined points: after every hardware access and
in :meth:`Kernel.cpu_relax`, :meth:`Kernel.spin_until` and the idle loop —
when ``IF`` is set (NMIs whenever the CPU is not already in an NMI). The
interrupted thread runs the entry code on its own stack, exactly as a CPU
pushes the frame on the current stack.

The Linux API (docs/firmware.md) is on the kernel object under Linux's names —
``k.set_intr_gate``, ``k.request_irq``/``free_irq``/``enable_irq``/
``disable_irq``, ``k.open_softirq``/``raise_softirq``/``local_bh_enable``,
``k.tasklet_init``/``tasklet_schedule``/…/``tasklet_kill``,
``k.alloc_workqueue``/``queue_work``/``queue_delayed_work``/``flush_work``/
``cancel_work_sync``, ``k.jiffies``/``k.HZ``/``mod_timer``/``del_timer``,
``k.hrtimer_start``/``hrtimer_cancel``, ``k.ktime_get``,
``k.smp_call_function_many``/``send_IPI_mask``/``send_IPI_allbutself``,
``k.preempt_disable``/``preempt_enable``/``get_cpu``/``put_cpu``,
``k.local_irq_save``/``local_irq_restore`` and more. The forwarders live in
:class:`irqforge.sw.api.LinuxApi` (a base class of :class:`Kernel`);
:data:`irqforge.sw.api.LINUX_API` lists the contract's names. Calls that touch
hardware, sleep or spin are ``async``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from typing import Any

from irqforge.spec import Spec, load_default

from .api import LinuxApi
from .apic import Apic
from .clockevents import Clockevents
from .context import (
    HARDIRQ_MASK,
    HARDIRQ_OFFSET,
    NMI_MASK,
    NMI_OFFSET,
    PREEMPT_MASK,
    PREEMPT_OFFSET,
    SOFTIRQ_DISABLE_OFFSET,
    SOFTIRQ_MASK,
    SOFTIRQ_OFFSET,
    TEXT_BASE,
    CpuState,
    KernelBug,
    KernelConfig,
    KernelOops,
    KernelPanic,
    KernelTimeout,
    Park,
    PerCpu,
    PlatformReset,
    call,
)
from .cpumux import CpuMux
from .entry import Entry
from .hpet import Hpet
from .hrtimer import Hrtimers
from .idt import Idt
from .io_apic import IoApic
from .irq import IrqCore
from .machine import CpuPins, Machine, MsrFault
from .msr import Msr
from .proc import Proc
from .sched import PRIO_IDLE, PRIO_NORMAL, Completion, TaskState, Thread, WaitQueue
from .smp import Smp
from .softirq import Softirqs
from .tasklet import Tasklets
from .timekeeping import Timekeeping
from .timer import Timers
from .tlb import Tlb
from .trace import Tracer, requested_path
from .traps import Traps
from .watchdog import Watchdog
from .workqueue import Workqueues
from .x2apic import make_apic

__all__ = [
    "HARDIRQ_MASK",
    "HARDIRQ_OFFSET",
    "NMI_MASK",
    "NMI_OFFSET",
    "SOFTIRQ_DISABLE_OFFSET",
    "SOFTIRQ_MASK",
    "SOFTIRQ_OFFSET",
    "CpuState",
    "Kernel",
    "KernelBug",
    "KernelConfig",
    "KernelOops",
    "KernelPanic",
    "KernelTimeout",
    "PerCpu",
    "PlatformReset",
    "call",
]

class _MachinePins:
    """:class:`~irqforge.sw.machine.CpuPins` of a machine without ``cpu_pins``: it is asked."""

    __slots__ = ("_cpu", "_machine")

    def __init__(self, machine: Machine, cpu: int) -> None:
        self._machine = machine
        self._cpu = cpu

    @property
    def intr(self) -> bool:
        return self._machine.intr_pending(self._cpu)

    @property
    def nmi_pending(self) -> bool:
        return self._machine.nmi_pending(self._cpu)


class _Driver:
    """The awaitable the top coroutine awaits: the CPU multiplexer's driver."""

    def __init__(self, mux: CpuMux) -> None:
        self.mux = mux

    def __await__(self) -> Generator[Any, Any, None]:
        return self.mux.drive()


class Kernel(LinuxApi):
    """A Linux-like kernel on a :class:`~irqforge.sw.Machine`.

    Subsystems hang off it by name (``k.irq``, ``k.softirq``, ``k.apic`` …);
    every Linux API name of docs/firmware.md is also a method of the kernel itself
    (``k.request_irq``, ``k.tasklet_schedule``, ``k.mod_timer`` … — see
    :mod:`irqforge.sw.api`);
    :meth:`run` boots every CPU, runs ``main(k)`` as a kernel thread on CPU 0
    and returns its result.
    """

    # Slots, not an instance dict: with over 30 attributes a dict stops sharing its keys
    # and CPython (3.11+) no longer specializes attribute loads on it.
    __slots__ = (
        "HZ", "_cur", "_deadline", "_error", "_pins", "_seq", "_stop", "_symaddr", "_symbols", "_sync_hw", "apic",
        "boot_cycles", "booted", "clock_hz", "clockevents", "config", "cpus", "cycles_per_jiffy", "entry", "hpet",
        "hrtimers", "idt", "ioapic", "irq", "log", "machine", "main_result", "msr", "mux", "ncpus", "oopses",
        "panicked", "poll_quantum", "proc", "reset_requested", "smp", "softirq", "spec", "tasklet_hi_schedule",
        "tasklet_schedule", "tasklets", "timekeeping", "timers", "tlb", "tracer", "traps", "watchdog", "wq",
    )

    def __init__(self, machine: Machine, spec: Spec | None = None, config: KernelConfig | None = None) -> None:
        self.machine = machine
        self.spec = spec if spec is not None else load_default()
        self.config = config if config is not None else KernelConfig()
        plat = self.spec.platform
        n = machine.ncpus if self.config.nr_cpus is None else min(machine.ncpus, self.config.nr_cpus)
        self.ncpus = n
        self.HZ = self.config.hz or plat.hz
        self.clock_hz = plat.clock_hz
        self.cycles_per_jiffy = self.clock_hz // self.HZ
        self.cpus = [PerCpu(self, i, plat.cpus[i].apic_id if i < len(plat.cpus) else i) for i in range(n)]
        self._cur: PerCpu = self.cpus[0]
        trace_path = requested_path()
        self.tracer: Tracer | None = (
            Tracer(machine.now, plat.clock_hz, len(self.cpus), trace_path, name=f"irqforge {plat.name}")
            if trace_path
            else None
        )
        self.log: list[str] = []
        self.oopses: list[str] = []
        self.panicked: str | None = None
        self.reset_requested: str | None = None
        self._stop = False
        self._error: BaseException | None = None
        self._deadline: int | None = None
        self._seq = 0
        self.poll_quantum = self.config.poll_quantum or max(1, self.cycles_per_jiffy // 8)
        self._symbols: dict[int, tuple[str, Any]] = {}
        self._symaddr: dict[str, int] = {}
        self.booted = Completion(self)
        self.main_result: Any = None
        self.boot_cycles = 0
        self.mux = CpuMux(self)
        self._sync_hw = bool(getattr(machine, "synchronous", False))
        pins: Sequence[CpuPins] | None = getattr(machine, "cpu_pins", None)
        self._pins: Sequence[CpuPins] = (
            pins if pins is not None else [_MachinePins(machine, i) for i in range(machine.ncpus)]
        )
        """Each CPU's ``intr``/``nmi_pending`` (:class:`irqforge.sw.machine.CpuPins`), by CPU index."""

        # subsystems (order matters only for cross references at boot)
        self.idt = Idt(self)
        self.entry = Entry(self)
        self.traps = Traps(self)
        self.msr = Msr(self)
        self.apic: Apic = make_apic(self, self.msr)
        self.ioapic = IoApic(self)
        self.irq = IrqCore(self)
        self.softirq = Softirqs(self)
        self.tasklets = Tasklets(self)
        self.timers = Timers(self)
        self.hrtimers = Hrtimers(self)
        self.timekeeping = Timekeeping(self)
        self.hpet = Hpet(self)
        self.clockevents = Clockevents(self)
        self.wq = Workqueues(self)
        self.smp = Smp(self)
        self.tlb = Tlb(self)
        self.watchdog = Watchdog(self)
        self.proc = Proc(self)
        # The API calls a handler makes at every interrupt go straight to their
        # subsystem (LinuxApi's method would be one more Python call on the way).
        self.tasklet_schedule = self.tasklets.tasklet_schedule  # type: ignore[method-assign]
        self.tasklet_hi_schedule = self.tasklets.tasklet_hi_schedule  # type: ignore[method-assign]

    # ------------------------------------------------------------------ symbols ("kernel text")

    def kallsym(self, name: str, obj: Any = None) -> int:
        """The text address of ``name`` (allocated on first use)."""
        addr = self._symaddr.get(name)
        if addr is None:
            addr = TEXT_BASE + 0x40 * len(self._symaddr)
            self._symaddr[name] = addr
            self._symbols[addr] = (name, obj)
        elif obj is not None:
            self._symbols[addr] = (name, obj)
            entry = getattr(self, "entry", None)  # None while the kernel is being built
            if entry is not None:
                entry._dispatch.clear()  # a gate may point at the rebound symbol
        return addr

    def symbol_at(self, addr: int) -> tuple[str, Any] | None:
        return self._symbols.get(addr)

    # ------------------------------------------------------------------ printk

    def printk(self, msg: str) -> None:
        """Append a line to the kernel log (``dmesg``)."""
        j = self.timers.jiffies if hasattr(self, "timers") else 0
        self.log.append(f"[{j - self.timers.INITIAL_JIFFIES if hasattr(self, 'timers') else 0:>6}] {msg}")

    def dmesg(self) -> str:
        return "\n".join(self.log)

    # ------------------------------------------------------------------ per-CPU context

    @property
    def this_cpu(self) -> PerCpu:
        """The CPU whose code runs now (``this_cpu_ptr``)."""
        return self._cur

    def smp_processor_id(self) -> int:
        return self._cur.id

    @property
    def current(self) -> Thread:
        t = self._cur.current
        assert t is not None
        return t

    def online_cpus(self) -> list[int]:
        return [c.id for c in self.cpus if c.state is CpuState.ONLINE]

    def cpu_online(self, cpu: int) -> bool:
        return 0 <= cpu < self.ncpus and self.cpus[cpu].state is CpuState.ONLINE

    # IF flag (arch/x86/include/asm/irqflags.h)
    def local_irq_disable(self) -> None:
        self._cur.if_flag = False

    def local_irq_enable(self) -> None:
        self._cur.if_flag = True

    def local_irq_save(self) -> bool:
        cpu = self._cur
        flags = cpu.if_flag
        cpu.if_flag = False
        return flags

    def local_irq_restore(self, flags: bool) -> None:
        self._cur.if_flag = flags

    def irqs_disabled(self) -> bool:
        return not self._cur.if_flag

    # preemption (include/linux/preempt.h)
    def preempt_disable(self) -> None:
        self._cur.preempt_count += PREEMPT_OFFSET

    def preempt_enable_no_resched(self) -> None:
        cpu = self._cur
        if cpu.preempt_count & PREEMPT_MASK == 0:
            raise KernelBug(f"preempt count underflow on CPU#{cpu.id}")
        cpu.preempt_count -= PREEMPT_OFFSET

    async def preempt_enable(self) -> None:
        self.preempt_enable_no_resched()
        await self.preempt_check_resched()

    async def preempt_check_resched(self) -> None:
        cpu = self._cur
        if cpu.need_resched and cpu.preempt_count == 0 and cpu.if_flag:
            await self.schedule()

    def get_cpu(self) -> int:
        self.preempt_disable()
        return self._cur.id

    async def put_cpu(self) -> None:
        await self.preempt_enable()

    # ------------------------------------------------------------------ hardware access with interrupt points

    # The ``*_sync`` forms are plain calls for code running on a kernel thread's
    # stack (the interrupt paths): a synchronous machine is called directly,
    # another one's awaitable is handed to the backend by the multiplexer.

    async def read32(self, addr: int) -> int:
        """32-bit load by the current CPU; an interrupt point afterwards."""
        return self.read32_sync(addr)

    async def write32(self, addr: int, value: int) -> None:
        """32-bit store by the current CPU; an interrupt point afterwards."""
        self.write32_sync(addr, value)

    # After the access the CPU's turn ends (``mux.boundary``); back on it, the
    # CPU takes what is due (``_interrupt_point``), called only when something
    # is: a reschedule IPI to send, NMI, or INTR with IF=1 (the pins are read
    # without a call to the machine where it offers ``cpu_pins``).

    def read32_sync(self, addr: int) -> int:
        """:meth:`read32` as a plain call."""
        cpu = self._cur
        m = self.machine
        mux = self.mux
        v: int = m.read32_sync(cpu.id, addr) if self._sync_hw else mux.await_(m.read32(cpu.id, addr))  # type: ignore[attr-defined]
        mux.boundary()
        cpu = self._cur
        p = self._pins[cpu.id]
        if cpu.resched_targets or (not cpu.in_nmi and p.nmi_pending) or (cpu.if_flag and p.intr):
            self._interrupt_point(cpu)
        return v

    def write32_sync(self, addr: int, value: int) -> None:
        """:meth:`write32` as a plain call."""
        cpu = self._cur
        m = self.machine
        mux = self.mux
        if self._sync_hw:
            m.write32_sync(cpu.id, addr, value & 0xFFFFFFFF)  # type: ignore[attr-defined]
        else:
            mux.await_(m.write32(cpu.id, addr, value & 0xFFFFFFFF))
        mux.boundary()
        cpu = self._cur
        p = self._pins[cpu.id]
        if cpu.resched_targets or (not cpu.in_nmi and p.nmi_pending) or (cpu.if_flag and p.intr):
            self._interrupt_point(cpu)

    def rdmsr_sync(self, msr: int) -> int:
        """The ``rdmsr`` instruction on the current CPU (an interrupt point afterwards);
        :class:`~irqforge.sw.machine.MsrFault` on #GP — :mod:`irqforge.sw.msr` has Linux's accessors."""
        cpu = self._cur
        m = self.machine
        mux = self.mux
        try:
            v: int = m.rdmsr_sync(cpu.id, msr) if self._sync_hw else mux.await_(m.rdmsr(cpu.id, msr))  # type: ignore[attr-defined]
        except MsrFault:
            mux.boundary()  # the faulting access is an interleaving point too; the #GP comes next
            raise
        mux.boundary()
        cpu = self._cur
        p = self._pins[cpu.id]
        if cpu.resched_targets or (not cpu.in_nmi and p.nmi_pending) or (cpu.if_flag and p.intr):
            self._interrupt_point(cpu)
        return v

    def wrmsr_sync(self, msr: int, value: int) -> None:
        """The ``wrmsr`` instruction on the current CPU (see :meth:`rdmsr_sync`)."""
        cpu = self._cur
        m = self.machine
        mux = self.mux
        try:
            if self._sync_hw:
                m.wrmsr_sync(cpu.id, msr, value)  # type: ignore[attr-defined]
            else:
                mux.await_(m.wrmsr(cpu.id, msr, value))
        except MsrFault:
            mux.boundary()
            raise
        mux.boundary()
        cpu = self._cur
        p = self._pins[cpu.id]
        if cpu.resched_targets or (not cpu.in_nmi and p.nmi_pending) or (cpu.if_flag and p.intr):
            self._interrupt_point(cpu)

    def _interrupt_point(self, cpu: PerCpu) -> None:
        """Take what ``cpu`` may take now: reschedule IPIs to send, NMIs, interrupts."""
        mux = self.mux
        if cpu.resched_targets:
            mux.await_(self._send_resched(cpu))
        m = self.machine
        pins = self._pins[cpu.id]
        while True:
            if not cpu.in_nmi and pins.nmi_pending:
                mux.await_(self.entry.nmi_interrupt(cpu))
            elif cpu.if_flag and pins.intr:
                # Entry.external_interrupt(cpu), inlined
                vector: int = m.acknowledge_sync(cpu.id) if self._sync_hw else mux.await_(m.acknowledge(cpu.id))  # type: ignore[attr-defined]
                cpu.vector_count[vector] += 1
                self.entry.deliver_external(vector)
            else:
                return

    async def interrupt_point(self) -> None:
        """Take the interrupts the current CPU may take now."""
        self.mux.boundary()
        cpu = self._cur
        self._interrupt_point(cpu)

    async def cpu_relax(self, cycles: int = 8) -> None:
        """``cpu_relax()``: let a little time pass, take interrupts."""
        # cpu_relax_sync(cycles), inlined (a tasklet's or a thread's relax is on every interrupt's path)
        m = self.machine
        mux = self.mux
        if self._sync_hw:
            m.wait_cycles_sync(cycles)  # type: ignore[attr-defined]
        else:
            mux.await_(m.wait_cycles(cycles))
        mux.boundary()
        cpu = self._cur
        p = self._pins[cpu.id]
        if cpu.resched_targets or (not cpu.in_nmi and p.nmi_pending) or (cpu.if_flag and p.intr):
            self._interrupt_point(cpu)

    def cpu_relax_sync(self, cycles: int = 8) -> None:
        """:meth:`cpu_relax` as a plain call."""
        m = self.machine
        mux = self.mux
        if self._sync_hw:
            m.wait_cycles_sync(cycles)  # type: ignore[attr-defined]
        else:
            mux.await_(m.wait_cycles(cycles))
        mux.boundary()
        cpu = self._cur
        p = self._pins[cpu.id]
        if cpu.resched_targets or (not cpu.in_nmi and p.nmi_pending) or (cpu.if_flag and p.intr):
            self._interrupt_point(cpu)

    def us_to_cycles(self, us: float) -> int:
        return max(1, int(us * self.clock_hz // 1_000_000))

    async def udelay(self, us: float) -> None:
        """Busy-wait ``us`` microseconds (interrupts taken if enabled)."""
        await self.spin_until(lambda: False, None, self.machine.now() + self.us_to_cycles(us))

    async def mdelay(self, ms: float) -> None:
        await self.udelay(ms * 1000)

    async def hang(self, cycles: int) -> None:
        """Spin without making progress for ``cycles`` (lockup injection)."""
        await self.spin_until(lambda: False, None, self.machine.now() + cycles)

    async def spin_until(
        self, cond: Callable[[], bool], wq: WaitQueue | None = None, deadline: int | None = None
    ) -> bool:
        """Spin until ``cond()`` (True) or ``deadline`` (False). The CPU parks
        until ``wq`` is woken, the deadline passes or it may take an interrupt."""
        cpu = self._cur
        while True:
            if cond():
                return True
            if deadline is not None and self.machine.now() >= deadline:
                return False
            cpu.spin_deadline = deadline
            cpu.spin_woken = False
            if wq is not None:
                wq.spinners.add(cpu)
            self.mux.spin()
            cpu = self._cur
            if wq is not None:
                wq.spinners.discard(cpu)
            cpu.spin_deadline = None
            self._interrupt_point(cpu)

    # ------------------------------------------------------------------ threads

    def kthread_create_on_cpu(
        self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any, cpu: int, name: str, prio: int = PRIO_NORMAL
    ) -> Thread:
        """Create a runnable kernel thread running ``fn(*args)`` on ``cpu``."""
        coro = fn(*args)
        t = Thread(self, coro, cpu, name, prio)
        t.ip = self.kallsym(getattr(fn, "__qualname__", name))
        self._seq += 1
        t.seq = self._seq
        self.cpus[cpu].threads.append(t)
        self._mark_resched(self.cpus[cpu], t)
        return t

    kthread_run = kthread_create_on_cpu

    async def kthread_join(self, t: Thread) -> Any:
        await t.done.wait_for_completion()
        if t.exception is not None:
            raise t.exception
        return t.result

    def wake_up_process(self, t: Thread) -> bool:
        """``try_to_wake_up``: True if ``t`` was sleeping."""
        if t.state is not TaskState.BLOCKED:
            return False
        t.state = TaskState.RUNNABLE
        t.wake_count += 1
        if t.wake_hook is not None:
            t.wake_hook()
        self._seq += 1
        t.seq = self._seq
        self._mark_resched(self.cpus[t.cpu], t)
        return True

    def _mark_resched(self, target: PerCpu, t: Thread) -> None:
        cur = target.current
        if cur is None or cur is target.idle or t.prio < cur.prio:
            target.need_resched = True
            waker = self._cur
            if target is not waker and target.state is CpuState.ONLINE and cur is not None:
                if cur is target.idle:
                    # idle polls TIF_NEED_RESCHED (mwait): no IPI needed
                    if target.parked is Park.HALT:
                        pass
                else:
                    waker.resched_targets.add(target.id)

    async def _send_resched(self, cpu: PerCpu) -> None:
        targets = sorted(cpu.resched_targets)
        cpu.resched_targets.clear()
        for t in targets:
            await self.smp.smp_send_reschedule(t)

    def set_current_state(self, state: TaskState) -> None:
        self.current.state = state

    async def schedule(self) -> None:
        """Give the CPU to the best runnable thread (possibly the caller again)."""
        cpu = self._cur
        if cpu.preempt_count & ~PREEMPT_MASK or cpu.preempt_count & PREEMPT_MASK:
            raise KernelBug(
                f"BUG: scheduling while atomic: {self.current.comm}/{self.current.pid}/0x{cpu.preempt_count:08x}"
            )
        t = cpu.current
        if t is not None and t.state is TaskState.BLOCKED and t.sleep_hook is not None:
            t.sleep_hook()
        self.mux.schedule()

    async def preempt_schedule_irq(self) -> None:
        """Preemption on return from interrupt (preempt count already 0)."""
        self.mux.schedule()

    async def cond_resched(self) -> None:
        cpu = self._cur
        if cpu.need_resched and cpu.preempt_count == 0:
            await self.schedule()

    async def yield_cpu(self) -> None:
        """``yield()``: go to the back of the queue of equal priority."""
        self._seq += 1
        self.current.seq = self._seq
        self._cur.need_resched = True
        await self.schedule()

    async def schedule_timeout(self, timeout: int) -> int:
        """Sleep up to ``timeout`` jiffies (or until woken); jiffies left."""
        return await self.timers.schedule_timeout(timeout)

    async def msleep(self, ms: int) -> None:
        await self.timers.msleep(ms)

    def start_secondary_at(self, cpu: PerCpu, vector: int) -> None:
        """``cpu`` took a SIPI with ``vector`` (called by the multiplexer)."""
        self.smp.start_secondary_at(cpu, vector)

    def thread_exited(self, cpu: PerCpu, t: Thread, result: Any, exc: BaseException | None) -> None:
        """``do_exit``: ``t`` ended with ``result`` or ``exc`` (called by the multiplexer)."""
        t.state = TaskState.DEAD
        t.result = result
        t.exception = exc
        cpu.threads.remove(t)
        cpu.preempt_count = 0
        cpu.in_nmi = False
        t.frames.clear()
        if isinstance(exc, KernelOops):
            self.oopses.append(str(exc))
            self.printk(f"note: {t.comm}[{t.pid}] exited with irqs disabled" if not cpu.if_flag else
                        f"note: {t.comm}[{t.pid}] exited after an oops")
        elif isinstance(exc, PlatformReset):
            self.reset_requested = str(exc)
            self._stop = True
        elif isinstance(exc, KernelPanic):
            self.panicked = str(exc)
            self._stop = True
            self._error = exc
        elif exc is not None:
            self._error = exc
            self._stop = True
        cpu.if_flag = True
        t.done.complete_all()
        cpu.current = None
        if self._stop:
            return  # panic, reset or a Python error: the driver stops; nothing to switch to
        if t is cpu.idle:
            # the idle thread died of an oops (an interrupt taken in idle): a
            # real kernel would be dead too
            self.panicked = f"Attempted to kill the idle task! ({exc})"
            self._stop = True

    # ------------------------------------------------------------------ boot and run

    async def _idle_loop(self) -> None:
        """``do_idle``: halt until an interrupt or something to run."""
        while True:
            cpu = self._cur
            while not cpu.need_resched:
                cpu.if_flag = True
                self.mux.halt()
                cpu = self._cur
                self._interrupt_point(cpu)
                cpu = self._cur
            self.mux.schedule()

    def _make_idle(self, cpu: PerCpu) -> None:
        t = Thread(self, self._idle_loop(), cpu.id, f"swapper/{cpu.id}", PRIO_IDLE)
        t.ip = self.kallsym("default_idle")
        cpu.idle = t
        cpu.threads.append(t)

    async def _start_kernel(self, main: Callable[[Kernel], Awaitable[Any]] | None) -> None:
        """``start_kernel`` → ``rest_init`` → ``kernel_init`` on the boot CPU."""
        bsp = self.cpus[0]
        await self.boot_cpu_init(bsp)
        await self.smp.smp_init()
        await self.clockevents.late_time_init()
        await self.watchdog.lockup_detector_init()
        self.boot_cycles = self.machine.now()
        self.booted.complete_all()
        self.printk("Run /init as init process")
        if main is not None:
            self.main_result = await call(main, self)
        self._stop = True

    async def boot_cpu_init(self, bsp: PerCpu) -> None:
        bsp.if_flag = False
        self.printk(f"Linux version irqforge ({self.spec.platform.name}) HZ={self.HZ}")
        self.idt.idt_setup_traps()
        self.idt.idt_setup_apic_and_irq_gates()
        self.idt.load_idt(bsp)
        self.irq.early_irq_init()
        self.softirq.softirq_init()
        self.timers.init_timers()
        self.hrtimers.hrtimers_init()
        await self.apic.init_bsp_APIC()
        await self.ioapic.setup_IO_APIC()
        await self.clockevents.time_init()
        self.wq.workqueue_init_early()
        self.local_irq_enable()
        self.smp.per_cpu_threads(bsp.id)
        self.wq.workqueue_init()

    async def run(
        self, main: Callable[[Kernel], Awaitable[Any]] | None = None, *, max_cycles: int | None = None
    ) -> Any:
        """The top coroutine: boot, run ``main(k)`` on CPU 0, return its result."""
        m = self.machine
        self._deadline = None if max_cycles is None else m.now() + max_cycles
        for cpu in self.cpus:
            self._make_idle(cpu)
        bsp = self.cpus[0]
        init = Thread(self, self._start_kernel(main), 0, "init", PRIO_NORMAL)
        init.ip = self.kallsym("kernel_init")
        bsp.threads.append(init)
        bsp.current = init
        try:
            await _Driver(self.mux)
        finally:
            self.mux.close()
            if self.tracer is not None:
                self.tracer.write()
        if self._error is not None:
            raise self._error
        return self.main_result
