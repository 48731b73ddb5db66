"""SMP: bring-up, cross-CPU function calls, reschedule IPIs (kernel/smp.c,
arch/x86/kernel/smp.c, smpboot.c).

``smp_call_function_many_cond`` locks one CSD per (caller, target), adds it
to the target's ``call_single_queue`` and sends an IPI only when that queue
was empty (a non-empty queue already has an IPI on its way). One target gets
CALL_FUNCTION_SINGLE, several get CALL_FUNCTION (one ICR write each). With
``wait`` the caller spins — parked, taking interrupts — until each CSD is
unlocked. The IPI handler runs SYNC entries first (function, then unlock)
and ASYNC ones after (unlock, then function).

Application processors start with INIT-SIPI-SIPI (:mod:`irqforge.sw.apic`);
the driver notices the SIPI and runs :meth:`Smp.start_secondary` on the AP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .context import CpuState, call
from .sched import PRIO_STOPPER, TaskState, Thread, WaitQueue

if TYPE_CHECKING:
    from .entry import PtRegs
    from .kernel import Kernel, PerCpu

__all__ = ["CSD_FLAG_LOCK", "CSD_TYPE_ASYNC", "CSD_TYPE_SYNC", "CallSingleData", "Smp"]

CSD_FLAG_LOCK = 0x01
CSD_TYPE_ASYNC = 0x00
CSD_TYPE_SYNC = 0x10
SCF_WAIT = 1 << 0
SCF_RUN_LOCAL = 1 << 1
EBUSY = 16
ENXIO = 6
TRAMPOLINE_START = 0x9A000
"""Real-mode trampoline: the SIPI vector is its page number (0x9A)."""


@dataclass(eq=False)
class CallSingleData:
    """``call_single_data_t``."""

    func: Callable[[Any], Any] | None = None
    info: Any = None
    flags: int = 0
    src: int = 0
    dst: int = 0


class Smp:
    """Cross-CPU calls, IPIs and CPU bring-up."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.queues: list[list[CallSingleData]] = [[] for _ in kernel.cpus]
        self.cfd: list[dict[int, CallSingleData]] = [{} for _ in kernel.cpus]
        self.csd_data: list[CallSingleData] = [CallSingleData() for _ in kernel.cpus]
        self.csd_wq = WaitQueue(kernel, "csd_lock")
        self.ipis_sent = {"CALL_FUNCTION": 0, "CALL_FUNCTION_SINGLE": 0, "RESCHEDULE": 0, "NMI": 0}
        self.callin: list[bool] = [i == 0 for i in range(kernel.ncpus)]
        self.callin_wq = WaitQueue(kernel, "cpu_callin")
        self.stop_work: list[list[Callable[[], Any]]] = [[] for _ in kernel.cpus]
        self.stoppers: list[Thread | None] = [None] * kernel.ncpus
        vm = kernel.spec.vectors
        self.CALL_FUNCTION_VECTOR = vm["CALL_FUNCTION_VECTOR"]
        self.CALL_FUNCTION_SINGLE_VECTOR = vm["CALL_FUNCTION_SINGLE_VECTOR"]
        self.RESCHEDULE_VECTOR = vm["RESCHEDULE_VECTOR"]
        self.REBOOT_VECTOR = vm["REBOOT_VECTOR"]
        self.IRQ_WORK_VECTOR = vm["IRQ_WORK_VECTOR"]

    # ------------------------------------------------------------------ bring-up

    def per_cpu_threads(self, cpu: int) -> None:
        """ksoftirqd/N, migration/N (the stopper) and the kworkers of ``cpu``."""
        k = self.k
        k.softirq.spawn_ksoftirqd(cpu)
        self.stoppers[cpu] = k.kthread_create_on_cpu(self._stopper_thread, cpu=cpu, name=f"migration/{cpu}",
                                                     prio=PRIO_STOPPER)

    async def smp_init(self) -> None:
        """Start every AP with INIT-SIPI-SIPI and wait for it to call in."""
        k = self.k
        k.tasklets.init_percpu()
        for cpu in k.cpus[1:]:
            await self.do_boot_cpu(cpu)
        n = len(k.online_cpus())
        k.printk(f"smp: Brought up 1 node, {n} CPU{'s' if n > 1 else ''}")

    async def do_boot_cpu(self, cpu: PerCpu) -> bool:
        k = self.k
        status = await k.apic.wakeup_secondary_cpu_via_init(cpu.apic_id, TRAMPOLINE_START)
        if status:
            k.printk(f"APIC error on CPU{cpu.id} during boot: {status:x}")
        for _ in range(1000):  # Linux waits up to 10 s for the callin
            if self.callin[cpu.id]:
                break
            await k.udelay(100)
        if not self.callin[cpu.id]:
            k.printk(f"smpboot: CPU{cpu.id}: Not responding")
            return False
        await cpu.online_done.wait_for_completion()
        return True

    def start_secondary_at(self, cpu: PerCpu, vector: int) -> None:
        """The driver saw a SIPI: the AP starts at ``vector << 12``."""
        k = self.k
        if vector << 12 != TRAMPOLINE_START:
            k.printk(f"CPU{cpu.id}: SIPI to {vector << 12:#x}, not the trampoline; ignored")
            return
        cpu.state = CpuState.ONLINE
        t = Thread(k, self.start_secondary(cpu), cpu.id, f"cpuhp/{cpu.id}")
        t.ip = k.kallsym("start_secondary")
        cpu.threads.append(t)
        cpu.current = t

    async def start_secondary(self, cpu: PerCpu) -> None:
        k = self.k
        cpu.if_flag = False
        k.idt.load_idt(cpu)
        await k.apic.setup_local_APIC()
        await k.apic.lapic_setup_esr()
        self.callin[cpu.id] = True
        self.per_cpu_threads(cpu.id)
        k.wq.workqueue_online_cpu(cpu.id)
        k.printk(f"smpboot: CPU {cpu.id} Converting physical {cpu.apic_id} to logical package 0")
        k.local_irq_enable()
        cpu.online_done.complete_all()

    # ------------------------------------------------------------------ IPIs

    async def smp_send_reschedule(self, cpu: int) -> None:
        self.ipis_sent["RESCHEDULE"] += 1
        await self.k.apic.send_IPI(cpu, self.RESCHEDULE_VECTOR)

    async def sysvec_reschedule_ipi(self, regs: PtRegs) -> None:
        k = self.k
        await k.apic.apic_eoi()
        k.this_cpu.irq_stat["RES"] += 1
        k.this_cpu.need_resched = True  # scheduler_ipi

    async def sysvec_call_function(self, regs: PtRegs) -> None:
        k = self.k
        await k.apic.apic_eoi()
        k.this_cpu.irq_stat["CAL"] += 1
        await self.flush_smp_call_function_queue()

    async def sysvec_call_function_single(self, regs: PtRegs) -> None:
        k = self.k
        await k.apic.apic_eoi()
        k.this_cpu.irq_stat["CAL"] += 1
        await self.flush_smp_call_function_queue()

    async def sysvec_reboot(self, regs: PtRegs) -> None:
        k = self.k
        await k.apic.apic_eoi()
        k.printk(f"CPU{k.this_cpu.id}: stopping (REBOOT_VECTOR)")

    async def sysvec_irq_work(self, regs: PtRegs) -> None:
        k = self.k
        await k.apic.apic_eoi()
        k.this_cpu.irq_stat["IWI"] += 1

    async def flush_smp_call_function_queue(self) -> None:
        """``__flush_smp_call_function_queue``: SYNC entries first, then ASYNC."""
        me = self.k.smp_processor_id()
        entries, self.queues[me] = self.queues[me], []
        for csd in entries:
            if csd.flags & CSD_TYPE_SYNC:
                assert csd.func is not None
                await call(csd.func, csd.info)
                self.csd_unlock(csd)
        for csd in entries:
            if not csd.flags & CSD_TYPE_SYNC:
                func, info = csd.func, csd.info
                self.csd_unlock(csd)
                assert func is not None
                await call(func, info)

    # ------------------------------------------------------------------ csd locking

    async def csd_lock_wait(self, csd: CallSingleData) -> None:
        if csd.flags & CSD_FLAG_LOCK:
            await self.csd_wq.spin_until(lambda: not csd.flags & CSD_FLAG_LOCK)

    async def csd_lock(self, csd: CallSingleData) -> None:
        await self.csd_lock_wait(csd)
        csd.flags |= CSD_FLAG_LOCK

    def csd_unlock(self, csd: CallSingleData) -> None:
        csd.flags &= ~CSD_FLAG_LOCK
        if self.csd_wq.spinners or self.csd_wq.sleepers:
            self.csd_wq.wake_up_all()

    def _llist_add(self, csd: CallSingleData, cpu: int) -> bool:
        q = self.queues[cpu]
        q.append(csd)
        return len(q) == 1

    # ------------------------------------------------------------------ API

    async def smp_call_function_many_cond(
        self,
        mask: set[int] | list[int],
        func: Callable[[Any], Any],
        info: Any,
        scf_flags: int,
        cond_func: Callable[[int, Any], bool] | None = None,
    ) -> None:
        k = self.k
        me = k.smp_processor_id()
        if not k.this_cpu.if_flag and not k.this_cpu.in_interrupt() and k.booted.completion_done():
            k.printk("WARNING: smp_call_function_many_cond with interrupts disabled")
        run_remote = False
        run_local = bool(scf_flags & SCF_RUN_LOCAL) and me in mask and (cond_func is None or cond_func(me, info))
        targets = [c for c in sorted(mask) if c != me and k.cpu_online(c)
                   and (cond_func is None or cond_func(c, info))]
        to_ipi: list[int] = []
        csds: list[CallSingleData] = []
        for cpu in targets:
            csd = self.cfd[me].get(cpu)
            if csd is None:
                csd = self.cfd[me][cpu] = CallSingleData()
            await self.csd_lock(csd)
            csd.flags = CSD_FLAG_LOCK | (CSD_TYPE_SYNC if scf_flags & SCF_WAIT else CSD_TYPE_ASYNC)
            csd.func, csd.info, csd.src, csd.dst = func, info, me, cpu
            csds.append(csd)
            if self._llist_add(csd, cpu):
                to_ipi.append(cpu)
            run_remote = True
        if len(to_ipi) == 1:
            self.ipis_sent["CALL_FUNCTION_SINGLE"] += 1
            await k.apic.send_IPI(to_ipi[0], self.CALL_FUNCTION_SINGLE_VECTOR)
        elif to_ipi:
            self.ipis_sent["CALL_FUNCTION"] += len(to_ipi)
            await k.apic.send_IPI_mask(to_ipi, self.CALL_FUNCTION_VECTOR)
        if run_local:
            flags = k.local_irq_save()
            await call(func, info)
            k.local_irq_restore(flags)
        if run_remote and scf_flags & SCF_WAIT:
            for csd in csds:
                await self.csd_lock_wait(csd)

    async def smp_call_function_many(
        self, mask: set[int] | list[int], func: Callable[[Any], Any], info: Any, wait: bool
    ) -> None:
        """Run ``func(info)`` on every online CPU of ``mask`` except this one."""
        await self.smp_call_function_many_cond(mask, func, info, SCF_WAIT if wait else 0)

    async def smp_call_function(self, func: Callable[[Any], Any], info: Any, wait: bool) -> None:
        """Every other online CPU."""
        k = self.k
        k.preempt_disable()
        await self.smp_call_function_many(k.online_cpus(), func, info, wait)
        await k.preempt_enable()

    async def on_each_cpu(self, func: Callable[[Any], Any], info: Any, wait: bool) -> None:
        k = self.k
        k.preempt_disable()
        await self.smp_call_function_many_cond(k.online_cpus(), func, info,
                                               SCF_RUN_LOCAL | (SCF_WAIT if wait else 0))
        await k.preempt_enable()

    async def on_each_cpu_cond_mask(
        self, cond_func: Callable[[int, Any], bool], func: Callable[[Any], Any], info: Any, wait: bool,
        mask: set[int] | list[int],
    ) -> None:
        k = self.k
        k.preempt_disable()
        await self.smp_call_function_many_cond(mask, func, info, SCF_RUN_LOCAL | (SCF_WAIT if wait else 0),
                                               cond_func)
        await k.preempt_enable()

    async def smp_call_function_single(self, cpu: int, func: Callable[[Any], Any], info: Any, wait: bool) -> int:
        """0, or -ENXIO for an offline CPU. On this CPU: run with IRQs off."""
        k = self.k
        this = k.get_cpu()
        try:
            if cpu == this:
                flags = k.local_irq_save()
                await call(func, info)
                k.local_irq_restore(flags)
                return 0
            if not k.cpu_online(cpu):
                return -ENXIO
            csd = CallSingleData() if wait else self.csd_data[this]
            await self.csd_lock(csd)
            csd.flags = CSD_FLAG_LOCK | (CSD_TYPE_SYNC if wait else CSD_TYPE_ASYNC)
            csd.func, csd.info, csd.src, csd.dst = func, info, this, cpu
            if self._llist_add(csd, cpu):
                self.ipis_sent["CALL_FUNCTION_SINGLE"] += 1
                await k.apic.send_IPI(cpu, self.CALL_FUNCTION_SINGLE_VECTOR)
            if wait:
                await self.csd_lock_wait(csd)
            return 0
        finally:
            await k.put_cpu()

    async def smp_call_function_single_async(self, cpu: int, csd: CallSingleData) -> int:
        """-EBUSY while ``csd`` is still locked."""
        k = self.k
        if csd.flags & CSD_FLAG_LOCK:
            return -EBUSY
        csd.flags = CSD_FLAG_LOCK | CSD_TYPE_ASYNC
        csd.dst = cpu
        if cpu == k.smp_processor_id():
            flags = k.local_irq_save()
            self.csd_unlock(csd)
            assert csd.func is not None
            await call(csd.func, csd.info)
            k.local_irq_restore(flags)
            return 0
        if self._llist_add(csd, cpu):
            self.ipis_sent["CALL_FUNCTION_SINGLE"] += 1
            await k.apic.send_IPI(cpu, self.CALL_FUNCTION_SINGLE_VECTOR)
        return 0

    async def synchronize_all(self) -> None:
        """``kick_all_cpus_sync``: every other CPU has run an IPI handler on return."""
        def do_nothing(_info: Any) -> None:
            return None

        await self.smp_call_function(do_nothing, None, True)

    async def send_nmi(self, cpu: int) -> None:
        """An NMI IPI (``apic->send_IPI_mask(mask, NMI_VECTOR)``)."""
        self.ipis_sent["NMI"] += 1
        await self.k.apic.send_IPI(cpu, self.k.apic.NMI_VECTOR)

    # ------------------------------------------------------------------ the stopper (cpu_stop)

    def stop_one_cpu_nowait(self, cpu: int, fn: Callable[[], Any]) -> None:
        self.stop_work[cpu].append(fn)
        t = self.stoppers[cpu]
        if t is not None:
            self.k.wake_up_process(t)

    async def _stopper_thread(self) -> None:
        k = self.k
        while True:
            me = k.smp_processor_id()
            if not self.stop_work[me]:
                k.current.state = TaskState.BLOCKED
                await k.schedule()
                continue
            fn = self.stop_work[me].pop(0)
            await call(fn)
