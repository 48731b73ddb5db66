"""Softirqs (kernel/softirq.c).

Numbering HI=0 … RCU=9. ``raise_softirq_irqoff`` sets the pending bit and
wakes ksoftirqd only outside interrupt context. Pending softirqs run at
``irq_exit`` and at ``local_bh_enable``; ``handle_softirqs`` snapshots and
clears the mask, enables IRQs, runs handlers lowest bit first, and restarts
while ``time_before(jiffies, start + MAX_SOFTIRQ_TIME)`` and no reschedule is
due and ``--max_restart`` (10) is non-zero; otherwise it wakes ksoftirqd.

This follows mainline ≥ v6.5: there is no ``ksoftirqd_running()`` deferral,
so ``irq_exit`` always runs pending softirqs inline.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .context import HARDIRQ_MASK, NMI_MASK, SOFTIRQ_DISABLE_OFFSET, SOFTIRQ_MASK, SOFTIRQ_OFFSET, KernelBug, KernelCore
from .sched import PRIO_NORMAL, TaskState

if TYPE_CHECKING:
    from .context import PerCpu
    from .timer import Timers

__all__ = [
    "BLOCK_SOFTIRQ",
    "HI_SOFTIRQ",
    "HRTIMER_SOFTIRQ",
    "IRQ_POLL_SOFTIRQ",
    "MAX_SOFTIRQ_RESTART",
    "NET_RX_SOFTIRQ",
    "NET_TX_SOFTIRQ",
    "NR_SOFTIRQS",
    "RCU_SOFTIRQ",
    "SCHED_SOFTIRQ",
    "SOFTIRQ_NAMES",
    "TASKLET_SOFTIRQ",
    "TIMER_SOFTIRQ",
    "Softirqs",
]

HI_SOFTIRQ = 0
TIMER_SOFTIRQ = 1
NET_TX_SOFTIRQ = 2
NET_RX_SOFTIRQ = 3
BLOCK_SOFTIRQ = 4
IRQ_POLL_SOFTIRQ = 5
TASKLET_SOFTIRQ = 6
SCHED_SOFTIRQ = 7
HRTIMER_SOFTIRQ = 8
RCU_SOFTIRQ = 9
NR_SOFTIRQS = 10
SOFTIRQ_NAMES = ("HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU")
MAX_SOFTIRQ_RESTART = 10
_IN_INTERRUPT = NMI_MASK | HARDIRQ_MASK | SOFTIRQ_MASK
KSOFTIRQD_PASS_CYCLES = 64
"""Cycles a ksoftirqd pass that leaves softirqs pending costs (see ``run_ksoftirqd``)."""


class SoftirqHost(KernelCore, Protocol):
    """What this subsystem needs: the kernel core and timers."""

    timers: Timers


class Softirqs:
    """Per-CPU pending masks, the handler table and ksoftirqd."""

    def __init__(self, kernel: SoftirqHost) -> None:
        self.k = kernel
        self.vec: list[Callable[..., Any] | None] = [None] * NR_SOFTIRQS
        self.max_softirq_time = max(1, -(-2 * kernel.HZ // 1000))  # msecs_to_jiffies(2), rounded up
        self.passes: list[int] = []
        """Number of restart passes of each ``handle_softirqs`` run (for tests)."""
        self.trace = False
        self.order: list[tuple[int, int]] = []

    def softirq_init(self) -> None:
        for cpu in self.k.cpus:
            cpu.softirq_pending = 0
            cpu.data["softirq_count"] = [0] * NR_SOFTIRQS
            cpu.data["ksoftirqd"] = None

    # ------------------------------------------------------------------ API

    def open_softirq(self, nr: int, action: Callable[..., Any]) -> None:
        """Install ``action()`` (plain or ``async def``) for softirq ``nr``."""
        self.vec[nr] = action

    def local_softirq_pending(self, cpu: PerCpu | None = None) -> int:
        return int((cpu or self.k.this_cpu).softirq_pending)

    def raise_softirq_irqoff(self, nr: int) -> None:
        cpu = self.k._cur
        cpu.softirq_pending |= 1 << nr
        if self.k.tracer is not None:
            self.k.tracer.event(cpu.id, "irq:softirq_raise", vec=nr, name=SOFTIRQ_NAMES[nr])
        if not cpu.preempt_count & _IN_INTERRUPT:  # not in_interrupt()
            self.wakeup_softirqd(cpu)

    def raise_softirq(self, nr: int) -> None:
        flags = self.k.local_irq_save()
        self.raise_softirq_irqoff(nr)
        self.k.local_irq_restore(flags)

    def __raise_softirq_irqoff(self, nr: int) -> None:
        self.k.this_cpu.softirq_pending |= 1 << nr

    def or_softirq_pending(self, nr: int) -> None:
        """``__raise_softirq_irqoff``: set the bit only."""
        self.k.this_cpu.softirq_pending |= 1 << nr

    def wakeup_softirqd(self, cpu: PerCpu) -> None:
        t = cpu.data.get("ksoftirqd")
        if t is not None:
            self.k.wake_up_process(t)

    def local_bh_disable(self) -> None:
        self.k.this_cpu.preempt_count += SOFTIRQ_DISABLE_OFFSET

    async def local_bh_enable(self) -> None:
        """Run pending softirqs when the count drops to zero (outside interrupts)."""
        k = self.k
        cpu = k.this_cpu
        if cpu.in_irq():
            raise KernelBug("local_bh_enable in hardirq context")
        cpu.preempt_count -= SOFTIRQ_DISABLE_OFFSET - 1
        if not cpu.in_interrupt() and cpu.softirq_pending:
            await self.do_softirq()
        k.this_cpu.preempt_count -= 1
        await k.preempt_check_resched()

    async def do_softirq(self) -> None:
        k = self.k
        cpu = k.this_cpu
        if cpu.in_interrupt():
            return
        flags = k.local_irq_save()
        if cpu.softirq_pending:
            self.handle_softirqs(False)
        k.local_irq_restore(flags)

    async def irq_exit_softirqs(self) -> None:
        """The softirq part of ``irq_exit``: ``invoke_softirq`` when leaving the
        outermost interrupt with softirqs pending."""
        cpu = self.k.this_cpu
        if not cpu.in_interrupt() and cpu.softirq_pending:
            self.handle_softirqs(False)

    def handle_softirqs(self, ksirqd: bool) -> None:
        """``handle_softirqs``/``__do_softirq`` (entered with IRQs disabled).

        A plain call on the current thread's stack; a handler that is a
        coroutine function is awaited through ``k.mux.await_``."""
        k = self.k
        cpu = k._cur
        end = k.timers.jiffies + self.max_softirq_time
        max_restart = MAX_SOFTIRQ_RESTART
        cpu.preempt_count += SOFTIRQ_OFFSET
        passes = 0
        vec = self.vec
        tracer = k.tracer
        try:
            while True:
                pending = cpu.softirq_pending
                cpu.softirq_pending = 0
                cpu.if_flag = True  # local_irq_enable()
                passes += 1
                nr = 0
                while pending:
                    if pending & 1:
                        cpu.data["softirq_count"][nr] += 1
                        if self.trace:
                            self.order.append((cpu.id, nr))
                        action = vec[nr]
                        if action is not None:
                            prev = cpu.preempt_count
                            if tracer is not None:
                                tracer.event(cpu.id, "irq:softirq_entry", vec=nr, name=SOFTIRQ_NAMES[nr])
                            r = action()
                            if r is not None and inspect.isawaitable(r):
                                k.mux.await_(r)
                            cpu = k._cur
                            if tracer is not None:
                                tracer.event(cpu.id, "irq:softirq_exit", vec=nr, name=SOFTIRQ_NAMES[nr])
                            if cpu.preempt_count != prev:
                                k.printk(f"huh, entered softirq {nr} {SOFTIRQ_NAMES[nr]} with preempt_count "
                                         f"{prev:08x}, exited with {cpu.preempt_count:08x}?")
                                cpu.preempt_count = prev
                    pending >>= 1
                    nr += 1
                cpu.if_flag = False  # local_irq_disable()
                pending = cpu.softirq_pending
                if pending:
                    max_restart -= 1
                    if k.timers.time_before(k.timers.jiffies, end) and not cpu.need_resched and max_restart:
                        continue
                    self.wakeup_softirqd(cpu)
                break
        finally:
            self.passes.append(passes)
            k._cur.preempt_count -= SOFTIRQ_OFFSET

    # ------------------------------------------------------------------ ksoftirqd

    def spawn_ksoftirqd(self, cpu: int) -> None:
        t = self.k.kthread_create_on_cpu(self.run_ksoftirqd, cpu=cpu, name=f"ksoftirqd/{cpu}", prio=PRIO_NORMAL)
        self.k.cpus[cpu].data["ksoftirqd"] = t

    async def run_ksoftirqd(self) -> None:
        k = self.k
        while True:
            cpu = k.this_cpu
            if not cpu.softirq_pending:
                k.current.state = TaskState.BLOCKED
                if cpu.softirq_pending:
                    k.current.state = TaskState.RUNNABLE
                else:
                    await k.schedule()
                    continue
            cpu.data["ksoftirqd_runs"] = cpu.data.get("ksoftirqd_runs", 0) + 1
            k.local_irq_disable()
            if k.this_cpu.softirq_pending:
                self.handle_softirqs(True)
            k.local_irq_enable()
            if k.this_cpu.softirq_pending:
                # Still pending (a tasklet re-queued because it runs on another
                # CPU or is disabled): the pass took time on a real CPU. Let
                # time pass so the other CPUs (and the devices) move on.
                await k.cpu_relax(KSOFTIRQD_PASS_CYCLES)
            await k.cond_resched()

    def counts(self, cpu: int) -> list[int]:
        return list(self.k.cpus[cpu].data["softirq_count"])
