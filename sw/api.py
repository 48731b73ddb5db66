"""Linux's API names in one place: :class:`LinuxApi`, mixed into :class:`~irqforge.sw.Kernel`.

Every name of docs/firmware.md's API table is a method (or attribute) of the kernel object,
spelled and behaving as in Linux, so a firmware developer writes::

    k = Kernel(machine)

    async def main(k):
        await k.request_irq(1, handler, IRQF_TRIGGER_RISING, "i8042", dev)
        k.open_softirq(NET_RX_SOFTIRQ, net_rx_action)
        t = k.tasklet_init(func, data)
        k.tasklet_schedule(t)
        wq = k.alloc_workqueue("mywq", 0, 0)
        await k.queue_work(wq, k.INIT_WORK(fn))
        k.mod_timer(timer, k.jiffies + k.HZ)
        k.preempt_disable(); flags = k.local_irq_save() …

    await k.run(main)

Each method forwards to the subsystem that implements it (``k.irq``,
``k.softirq``, ``k.tasklets``, ``k.wq``, ``k.timers``, ``k.hrtimers``,
``k.clockevents``, ``k.timekeeping``, ``k.smp``, ``k.apic``, ``k.idt``,
``k.watchdog``, ``k.entry``); the subsystems' own docstrings describe the
semantics. Methods that touch hardware or may sleep or spin are ``async``
(await them); the others are plain calls. ``preempt_disable``,
``preempt_enable``, ``get_cpu``/``put_cpu``, ``local_irq_save``/
``local_irq_restore``/``local_irq_enable``/``local_irq_disable``,
``smp_processor_id``, ``schedule``, ``msleep``/``udelay`` and ``HZ`` are
defined on :class:`~irqforge.sw.Kernel` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .apic import Apic
    from .clockevents import ClockEventDevice, Clockevents
    from .context import PerCpu
    from .entry import Entry, PtRegs
    from .hrtimer import Hrtimer, Hrtimers
    from .idt import Idt
    from .irq import Handler, IrqCore, IrqDesc
    from .proc import Proc
    from .smp import CallSingleData, Smp
    from .softirq import Softirqs
    from .tasklet import Tasklet, Tasklets
    from .timekeeping import Timekeeping
    from .timer import TimerList, Timers
    from .watchdog import Watchdog
    from .workqueue import DelayedWork, Workqueue, Workqueues, WorkStruct

__all__ = ["LINUX_API", "LinuxApi"]


class LinuxApi:
    """The Linux names of docs/firmware.md as methods (see the module docstring)."""

    __slots__ = ()  # the kernel's state has slots (Kernel.__slots__)

    if TYPE_CHECKING:
        idt: Idt
        entry: Entry
        apic: Apic
        irq: IrqCore
        softirq: Softirqs
        tasklets: Tasklets
        wq: Workqueues
        timers: Timers
        hrtimers: Hrtimers
        clockevents: Clockevents
        timekeeping: Timekeeping
        smp: Smp
        watchdog: Watchdog
        proc: Proc

    # -- jiffies and work items
    @property
    def jiffies(self) -> int:
        """``jiffies``: the tick count (starts at ``INITIAL_JIFFIES``; compare with ``time_after``)."""
        return self.timers.jiffies

    @staticmethod
    def time_after(a: int, b: int) -> bool:
        """``time_after(a, b)``: ``a`` is later than ``b`` (wrap-safe)."""
        from .timer import time_after

        return time_after(a, b)

    @staticmethod
    def time_before(a: int, b: int) -> bool:
        """``time_before(a, b)``: ``a`` is earlier than ``b`` (wrap-safe)."""
        from .timer import time_before

        return time_before(a, b)

    @staticmethod
    def INIT_WORK(func: Callable[[WorkStruct], Any], name: str = "") -> WorkStruct:
        """``INIT_WORK(&work, func)``: a new work item."""
        from .workqueue import WorkStruct

        return WorkStruct(func, name)

    @staticmethod
    def INIT_DELAYED_WORK(func: Callable[[WorkStruct], Any], name: str = "") -> DelayedWork:
        """``INIT_DELAYED_WORK(&dwork, func)``: a new delayed work item."""
        from .workqueue import DelayedWork

        return DelayedWork(func, name)

    @property
    def system_wq(self) -> Workqueue:
        """``system_wq``: the "events" workqueue that ``schedule_work`` uses."""
        return self.wq.system_wq

    def proc_interrupts(self) -> str:
        """The text of ``/proc/interrupts``."""
        return self.proc.interrupts()

    def proc_softirqs(self) -> str:
        """The text of ``/proc/softirqs``."""
        return self.proc.softirqs()

    def read_smp_affinity(self, irq: int) -> str:
        """Read ``/proc/irq/N/smp_affinity``."""
        return self.proc.read_smp_affinity(irq)

    async def write_smp_affinity(self, irq: int, text: str) -> int:
        """Write ``/proc/irq/N/smp_affinity`` (reprograms the IO-APIC entry)."""
        return await self.proc.write_smp_affinity(irq, text)

    # -- IDT (arch/x86/kernel/idt.c): ``self.idt``
    def set_intr_gate(self, n: int, addr: int) -> None:
        """``set_intr_gate``: interrupt gate, DPL 0, no IST (IF cleared on entry)."""
        return self.idt.set_intr_gate(n, addr)

    def set_trap_gate(self, n: int, addr: int) -> None:
        """``set_trap_gate``: trap gate, DPL 0 (IF unchanged on entry)."""
        return self.idt.set_trap_gate(n, addr)

    def set_system_gate(self, n: int, addr: int) -> None:
        """``set_system_gate``: trap gate, DPL 3: reachable by ``int n`` from user mode."""
        return self.idt.set_system_gate(n, addr)

    def set_system_intr_gate(self, n: int, addr: int) -> None:
        """``set_system_intr_gate``: interrupt gate, DPL 3 (``SYSG`` in idt.c)."""
        return self.idt.set_system_intr_gate(n, addr)

    def set_intr_gate_ist(self, n: int, addr: int, ist: int) -> None:
        """``set_intr_gate_ist``: interrupt gate, DPL 0, on IST stack ``ist`` (the gate field, index + 1)."""
        return self.idt.set_intr_gate_ist(n, addr, ist)

    def alloc_intr_gate(self, n: int, addr: int) -> None:
        """``alloc_intr_gate``: a system vectors gate, at most once (WARN otherwise)."""
        return self.idt.alloc_intr_gate(n, addr)

    def load_idt(self, cpu: PerCpu) -> None:
        """``load_idt``: ``lidt``: point ``cpu``s IDTR at the table."""
        return self.idt.load_idt(cpu)

    # -- IRQ core (kernel/irq): ``self.irq``
    async def request_irq(self, irq: int, handler: Handler | None, flags: int, name: str, dev_id: Any = None) -> int:
        """``request_irq``: 0, or -EINVAL / -EBUSY like ``request_threaded_irq``."""
        return await self.irq.request_irq(irq, handler, flags, name, dev_id)

    async def free_irq(self, irq: int, dev_id: Any = None) -> str | None:
        """``free_irq``: remove the action of ``dev_id``; the last one shuts the line down."""
        return await self.irq.free_irq(irq, dev_id)

    async def enable_irq(self, irq: int) -> None:
        """``enable_irq``: undo one disable; at depth 0 unmask and resend a pending edge."""
        return await self.irq.enable_irq(irq)

    async def disable_irq(self, irq: int) -> None:
        """``disable_irq``."""
        return await self.irq.disable_irq(irq)

    def disable_irq_nosync(self, irq: int) -> None:
        """``disable_irq_nosync``: lazy disable: the line is masked only if it fires while disabled."""
        return self.irq.disable_irq_nosync(irq)

    async def synchronize_irq(self, irq: int) -> None:
        """``synchronize_irq``: wait until no CPU runs a handler of ``irq``."""
        return await self.irq.synchronize_irq(irq)

    async def irq_set_affinity(self, irq: int, mask: set[int]) -> int:
        """``irq_set_affinity``."""
        return await self.irq.irq_set_affinity(irq, mask)

    def irq_to_desc(self, irq: int) -> IrqDesc | None:
        """``irq_to_desc``."""
        return self.irq.irq_to_desc(irq)

    # -- Softirqs (kernel/softirq.c): ``self.softirq``
    def open_softirq(self, nr: int, action: Callable[..., Any]) -> None:
        """``open_softirq``: install ``action()`` (plain or ``async def``) for softirq ``nr``."""
        return self.softirq.open_softirq(nr, action)

    def raise_softirq(self, nr: int) -> None:
        """``raise_softirq``."""
        return self.softirq.raise_softirq(nr)

    def raise_softirq_irqoff(self, nr: int) -> None:
        """``raise_softirq_irqoff``."""
        return self.softirq.raise_softirq_irqoff(nr)

    def local_bh_disable(self) -> None:
        """``local_bh_disable``."""
        return self.softirq.local_bh_disable()

    async def local_bh_enable(self) -> None:
        """``local_bh_enable``: run pending softirqs when the count drops to zero (outside interrupts)."""
        return await self.softirq.local_bh_enable()

    async def do_softirq(self) -> None:
        """``do_softirq``."""
        return await self.softirq.do_softirq()

    def local_softirq_pending(self, cpu: PerCpu | None = None) -> int:
        """``local_softirq_pending``."""
        return self.softirq.local_softirq_pending(cpu)

    # -- Tasklets: ``self.tasklets``
    def tasklet_init(self, func: Callable[[Any], Any], data: Any = None, name: str = "") -> Tasklet:
        """``tasklet_init``."""
        return self.tasklets.tasklet_init(func, data, name)

    def tasklet_schedule(self, t: Tasklet) -> bool:
        """``tasklet_schedule``: queue ``t`` on this CPU unless already scheduled; True if queued."""
        return self.tasklets.tasklet_schedule(t)

    def tasklet_hi_schedule(self, t: Tasklet) -> bool:
        """``tasklet_hi_schedule``."""
        return self.tasklets.tasklet_hi_schedule(t)

    def tasklet_enable(self, t: Tasklet) -> None:
        """``tasklet_enable``."""
        return self.tasklets.tasklet_enable(t)

    async def tasklet_disable(self, t: Tasklet) -> None:
        """``tasklet_disable``: increment the disable count, then wait for a running instance."""
        return await self.tasklets.tasklet_disable(t)

    def tasklet_disable_nosync(self, t: Tasklet) -> None:
        """``tasklet_disable_nosync``."""
        return self.tasklets.tasklet_disable_nosync(t)

    async def tasklet_kill(self, t: Tasklet) -> None:
        """``tasklet_kill``: wait until ``t`` is neither scheduled nor running (process context)."""
        return await self.tasklets.tasklet_kill(t)

    async def tasklet_unlock_wait(self, t: Tasklet) -> None:
        """``tasklet_unlock_wait``."""
        return await self.tasklets.tasklet_unlock_wait(t)

    # -- Workqueues (kernel/workqueue.c): ``self.wq``
    def alloc_workqueue(self, name: str, flags: int = 0, max_active: int = 0) -> Workqueue:
        """``alloc_workqueue``: ``alloc_workqueue(fmt, flags, max_active)``; 0 means the default (256)."""
        return self.wq.alloc_workqueue(name, flags, max_active)

    def alloc_ordered_workqueue(self, name: str, flags: int = 0) -> Workqueue:
        """``alloc_ordered_workqueue``."""
        return self.wq.alloc_ordered_workqueue(name, flags)

    def destroy_workqueue(self, wq: Workqueue) -> None:
        """``destroy_workqueue``."""
        return self.wq.destroy_workqueue(wq)

    async def queue_work(self, wq: Workqueue, work: WorkStruct) -> bool:
        """``queue_work``."""
        return await self.wq.queue_work(wq, work)

    async def queue_work_on(self, cpu: int | None, wq: Workqueue, work: WorkStruct) -> bool:
        """``queue_work_on``: queue ``work`` on ``cpu`` (None: the local CPU); False if already pending."""
        return await self.wq.queue_work_on(cpu, wq, work)

    async def queue_delayed_work(self, wq: Workqueue, dwork: DelayedWork, delay: int) -> bool:
        """``queue_delayed_work``."""
        return await self.wq.queue_delayed_work(wq, dwork, delay)

    async def queue_delayed_work_on(self, cpu: int | None, wq: Workqueue, dwork: DelayedWork, delay: int) -> bool:
        """``queue_delayed_work_on``: queue after ``delay`` jiffies (0: at once); False if already pending."""
        return await self.wq.queue_delayed_work_on(cpu, wq, dwork, delay)

    async def mod_delayed_work_on(self, cpu: int | None, wq: Workqueue, dwork: DelayedWork, delay: int) -> bool:
        """``mod_delayed_work_on``: false if it was idle and got queued, True if it was pending and was modified."""
        return await self.wq.mod_delayed_work_on(cpu, wq, dwork, delay)

    async def schedule_work(self, work: WorkStruct) -> bool:
        """``schedule_work``."""
        return await self.wq.schedule_work(work)

    async def schedule_work_on(self, cpu: int, work: WorkStruct) -> bool:
        """``schedule_work_on``."""
        return await self.wq.schedule_work_on(cpu, work)

    async def schedule_delayed_work(self, dwork: DelayedWork, delay: int) -> bool:
        """``schedule_delayed_work``."""
        return await self.wq.schedule_delayed_work(dwork, delay)

    async def flush_work(self, work: WorkStruct) -> bool:
        """``flush_work``: wait for the last queued instance; True if there was one to wait for."""
        return await self.wq.flush_work(work)

    async def flush_delayed_work(self, dwork: DelayedWork) -> bool:
        """``flush_delayed_work``."""
        return await self.wq.flush_delayed_work(dwork)

    async def flush_workqueue(self, wq: Workqueue) -> None:
        """``flush_workqueue``: wait for every item queued before the call."""
        return await self.wq.flush_workqueue(wq)

    def cancel_work(self, work: WorkStruct) -> bool:
        """``cancel_work``."""
        return self.wq.cancel_work(work)

    async def cancel_work_sync(self, work: WorkStruct) -> bool:
        """``cancel_work_sync``: cancel a pending instance and wait for a running one; True if it was pending."""
        return await self.wq.cancel_work_sync(work)

    def cancel_delayed_work(self, dwork: DelayedWork) -> bool:
        """``cancel_delayed_work``."""
        return self.wq.cancel_delayed_work(dwork)

    async def cancel_delayed_work_sync(self, dwork: DelayedWork) -> bool:
        """``cancel_delayed_work_sync``."""
        return await self.wq.cancel_delayed_work_sync(dwork)

    def work_pending(self, work: WorkStruct) -> bool:
        """``work_pending``."""
        return self.wq.work_pending(work)

    def work_busy(self, work: WorkStruct) -> bool:
        """``work_busy``."""
        return self.wq.work_busy(work)

    # -- Timer wheel (kernel/time/timer.c): ``self.timers``
    def timer_setup(self, function: Callable[[TimerList], Any], name: str = "") -> TimerList:
        """``timer_setup``."""
        return self.timers.timer_setup(function, name)

    def mod_timer(self, timer: TimerList, expires: int) -> int:
        """``mod_timer``: 0 if the timer was inactive, 1 if it was pending (same expiry: no requeue)."""
        return self.timers.mod_timer(timer, expires)

    def add_timer(self, timer: TimerList) -> None:
        """``add_timer``."""
        return self.timers.add_timer(timer)

    def add_timer_on(self, timer: TimerList, cpu: int) -> None:
        """``add_timer_on``."""
        return self.timers.add_timer_on(timer, cpu)

    def del_timer(self, timer: TimerList) -> int:
        """``del_timer``: 1 if a pending timer was deactivated."""
        return self.timers.del_timer(timer)

    def timer_delete(self, timer: TimerList) -> int:
        """``timer_delete``: 1 if a pending timer was deactivated."""
        return self.timers.timer_delete(timer)

    async def del_timer_sync(self, timer: TimerList) -> int:
        """``del_timer_sync``."""
        return await self.timers.del_timer_sync(timer)

    def timer_pending(self, timer: TimerList) -> bool:
        """``timer_pending``."""
        return self.timers.timer_pending(timer)

    def msecs_to_jiffies(self, ms: int) -> int:
        """``msecs_to_jiffies``."""
        return self.timers.msecs_to_jiffies(ms)

    def jiffies_to_msecs(self, j: int) -> int:
        """``jiffies_to_msecs``."""
        return self.timers.jiffies_to_msecs(j)

    def round_jiffies(self, j: int, cpu: int = 0) -> int:
        """``round_jiffies``: round to a whole second with a 3·cpu skew (``round_jiffies_common``)."""
        return self.timers.round_jiffies(j, cpu)

    # -- hrtimers (kernel/time/hrtimer.c): ``self.hrtimers``
    def hrtimer_init(self, function: Callable[[Hrtimer], Any], soft: bool = False, name: str = "") -> Hrtimer:
        """``hrtimer_init``."""
        return self.hrtimers.hrtimer_init(function, soft=soft, name=name)

    async def hrtimer_start(self, timer: Hrtimer, tim: int, mode: str = "rel") -> None:
        """``hrtimer_start``: (Re)arm ``timer`` at ``tim`` ns (relative to now for ``rel``) on this CPU."""
        return await self.hrtimers.hrtimer_start(timer, tim, mode)

    async def hrtimer_cancel(self, timer: Hrtimer) -> int:
        """``hrtimer_cancel``: cancel and wait for a running callback; 1 if the timer was active."""
        return await self.hrtimers.hrtimer_cancel(timer)

    def hrtimer_try_to_cancel(self, timer: Hrtimer) -> int:
        """``hrtimer_try_to_cancel``: 1 if it was queued (now cancelled), 0 if idle, -1 if its callback runs."""
        return self.hrtimers.hrtimer_try_to_cancel(timer)

    def hrtimer_forward(self, timer: Hrtimer, now: int, interval: int) -> int:
        """``hrtimer_forward``."""
        return self.hrtimers.hrtimer_forward(timer, now, interval)

    async def hrtimer_forward_now(self, timer: Hrtimer, interval: int) -> int:
        """``hrtimer_forward_now``."""
        return await self.hrtimers.hrtimer_forward_now(timer, interval)

    def hrtimer_active(self, timer: Hrtimer) -> bool:
        """``hrtimer_active``."""
        return self.hrtimers.hrtimer_active(timer)

    # -- Clock events (kernel/time/clockevents.c): ``self.clockevents``
    async def clockevents_switch_state(self, dev: ClockEventDevice, state: str) -> None:
        """``clockevents_switch_state``: ``clockevents_switch_state``."""
        return await self.clockevents.switch_state(dev, state)

    async def clockevents_program_event(self, dev: ClockEventDevice, expires: int, force: bool = False) -> int:
        """``clockevents_program_event``: ``clockevents_program_event``: 0, or -ETIME if ``expires`` has passed."""
        return await self.clockevents.program_event(dev, expires, force)

    async def clockevents_shutdown(self, dev: ClockEventDevice) -> None:
        """``clockevents_shutdown``."""
        return await self.clockevents.shutdown(dev)

    async def tick_setup_device(self, dev: ClockEventDevice, cpu: int) -> None:
        """``tick_setup_device``: make ``dev`` the tick device of ``cpu`` (periodic or one-shot emulation)."""
        return await self.clockevents.tick_setup_device(dev, cpu)

    # -- Timekeeping (kernel/time/timekeeping.c): ``self.timekeeping``
    async def ktime_get(self) -> int:
        """``ktime_get``: cLOCK_MONOTONIC in ns."""
        return await self.timekeeping.ktime_get()

    async def ktime_get_real(self) -> int:
        """``ktime_get_real``."""
        return await self.timekeeping.ktime_get_real()

    async def clock_gettime(self, clock: int) -> tuple[int, int]:
        """``clock_gettime``: ``(tv_sec, tv_nsec)`` of CLOCK_REALTIME or CLOCK_MONOTONIC."""
        return await self.timekeeping.clock_gettime(clock)

    async def do_settimeofday64(self, ns: int) -> None:
        """``do_settimeofday64``: set CLOCK_REALTIME to ``ns`` since the epoch."""
        return await self.timekeeping.do_settimeofday64(ns)

    # -- Cross-CPU calls (kernel/smp.c): ``self.smp``
    async def smp_call_function_many(
        self, mask: set[int] | list[int], func: Callable[[Any], Any], info: Any, wait: bool
    ) -> None:
        """``smp_call_function_many``: run ``func(info)`` on every online CPU of ``mask`` except this one."""
        return await self.smp.smp_call_function_many(mask, func, info, wait)

    async def smp_call_function(self, func: Callable[[Any], Any], info: Any, wait: bool) -> None:
        """``smp_call_function``: every other online CPU."""
        return await self.smp.smp_call_function(func, info, wait)

    async def smp_call_function_single(self, cpu: int, func: Callable[[Any], Any], info: Any, wait: bool) -> int:
        """``smp_call_function_single``: 0, or -ENXIO for an offline CPU. On this CPU: run with IRQs off."""
        return await self.smp.smp_call_function_single(cpu, func, info, wait)

    async def smp_call_function_single_async(self, cpu: int, csd: CallSingleData) -> int:
        """``smp_call_function_single_async``: -EBUSY while ``csd`` is still locked."""
        return await self.smp.smp_call_function_single_async(cpu, csd)

    async def on_each_cpu(self, func: Callable[[Any], Any], info: Any, wait: bool) -> None:
        """``on_each_cpu``."""
        return await self.smp.on_each_cpu(func, info, wait)

    async def on_each_cpu_cond_mask(
        self,
        cond_func: Callable[[int, Any], bool],
        func: Callable[[Any], Any],
        info: Any,
        wait: bool,
        mask: set[int] | list[int],
    ) -> None:
        """``on_each_cpu_cond_mask``."""
        return await self.smp.on_each_cpu_cond_mask(cond_func, func, info, wait, mask)

    async def smp_send_reschedule(self, cpu: int) -> None:
        """``smp_send_reschedule``."""
        return await self.smp.smp_send_reschedule(cpu)

    async def synchronize_all(self) -> None:
        """``synchronize_all``: ``kick_all_cpus_sync``: every other CPU has run an IPI handler on return."""
        return await self.smp.synchronize_all()

    # -- IPIs (arch/x86/kernel/apic/ipi.c): ``self.apic``
    async def send_IPI(self, cpu: int, vector: int) -> None:
        """``send_IPI``."""
        return await self.apic.send_IPI(cpu, vector)

    async def send_IPI_mask(self, mask: set[int] | list[int], vector: int) -> None:
        """``send_IPI_mask``: ``default_send_IPI_mask_sequence_phys``: one ICR write per CPU."""
        return await self.apic.send_IPI_mask(mask, vector)

    async def send_IPI_mask_allbutself(self, mask: set[int] | list[int], vector: int) -> None:
        """``send_IPI_mask_allbutself``."""
        return await self.apic.send_IPI_mask_allbutself(mask, vector)

    async def send_IPI_allbutself(self, vector: int) -> None:
        """``send_IPI_allbutself``."""
        return await self.apic.send_IPI_allbutself(vector)

    async def send_IPI_all(self, vector: int) -> None:
        """``send_IPI_all``."""
        return await self.apic.send_IPI_all(vector)

    async def send_IPI_self(self, vector: int) -> None:
        """``send_IPI_self``."""
        return await self.apic.send_IPI_self(vector)

    async def apic_eoi(self) -> None:
        """``apic_eoi``: ``apic_eoi()``: write 0 to EOI."""
        return await self.apic.apic_eoi()

    # -- Lockup watchdog (kernel/watchdog.c): ``self.watchdog``
    def touch_softlockup_watchdog(self) -> None:
        """``touch_softlockup_watchdog``: suppress the next check on this CPU (``SOFTLOCKUP_DELAY_REPORT``)."""
        return self.watchdog.touch_softlockup_watchdog()

    def touch_nmi_watchdog(self) -> None:
        """``touch_nmi_watchdog``."""
        return self.watchdog.touch_nmi_watchdog()

    # -- Exceptions and NMIs (arch/x86/kernel): ``self.entry``
    def register_nmi_handler(self, name: str, fn: Callable[[PtRegs], Any]) -> None:
        """``register_nmi_handler``: ``register_nmi_handler(NMI_LOCAL, fn, 0, name)``; ``fn`` returns."""
        return self.entry.register_nmi_handler(name, fn)

    def unregister_nmi_handler(self, name: str) -> None:
        """``unregister_nmi_handler``."""
        return self.entry.unregister_nmi_handler(name)

    def fixup_exception(self, regs: PtRegs, trapnr: int, error_code: int, fault_addr: int = 0) -> bool:
        """``fixup_exception``: ``fixup_exception``: redirect ``regs.ip`` to the fixup of the faulting instruction."""
        return self.entry.fixup_exception(regs, trapnr, error_code, fault_addr)


#: Every API name docs/firmware.md lists; each is an attribute of :class:`~irqforge.sw.Kernel`.
LINUX_API: tuple[str, ...] = (
    "set_intr_gate", "set_trap_gate", "set_system_gate", "set_system_intr_gate", "set_intr_gate_ist",
    "request_irq", "free_irq", "enable_irq", "disable_irq",
    "open_softirq", "raise_softirq", "local_bh_disable", "local_bh_enable",
    "tasklet_init", "tasklet_schedule", "tasklet_hi_schedule", "tasklet_enable", "tasklet_disable", "tasklet_kill",
    "alloc_workqueue", "queue_work", "queue_work_on", "queue_delayed_work", "schedule_work", "flush_work",
    "flush_workqueue", "cancel_work_sync",
    "jiffies", "HZ", "mod_timer", "del_timer", "timer_pending",
    "hrtimer_start", "hrtimer_cancel",
    "smp_call_function_many", "smp_call_function",
    "send_IPI_mask", "send_IPI_allbutself", "send_IPI_all", "send_IPI_self",
    "preempt_disable", "preempt_enable", "get_cpu", "put_cpu", "local_irq_save", "local_irq_restore",
    "register_nmi_handler", "touch_softlockup_watchdog", "touch_nmi_watchdog",
    "ktime_get", "ktime_get_real", "clock_gettime",
    "proc_interrupts", "read_smp_affinity", "write_smp_affinity",
)  # fmt: skip
