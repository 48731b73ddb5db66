"""Tasklets (kernel/softirq.c, include/linux/interrupt.h).

``TASKLET_STATE_SCHED`` (bit 0) and ``TASKLET_STATE_RUN`` (bit 1); ``count``
≠ 0 means disabled. Scheduling a scheduled tasklet is a no-op; the action
detaches the per-CPU list, re-queues tasklets that are running elsewhere or
disabled, clears SCHED *before* calling the function (so it may re-schedule
itself) and clears RUN afterwards: never concurrent with itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import CoroutineType
from typing import TYPE_CHECKING, Any, Protocol

from .context import HARDIRQ_MASK, NMI_MASK, SOFTIRQ_MASK, KernelCore
from .sched import WaitQueue
from .softirq import HI_SOFTIRQ, SOFTIRQ_NAMES, TASKLET_SOFTIRQ

if TYPE_CHECKING:
    from .softirq import Softirqs
    from .workqueue import Workqueues

__all__ = ["TASKLET_STATE_RUN", "TASKLET_STATE_SCHED", "Tasklet", "Tasklets"]

TASKLET_STATE_SCHED = 0
TASKLET_STATE_RUN = 1
_SCHED = 1 << TASKLET_STATE_SCHED
_RUN = 1 << TASKLET_STATE_RUN
_NOT_SCHED = ~_SCHED
_NOT_RUN = ~_RUN
_HI_BIT = 1 << HI_SOFTIRQ
_IN_INTERRUPT = NMI_MASK | HARDIRQ_MASK | SOFTIRQ_MASK


class Tasklet:
    """``struct tasklet_struct``; ``func(data)`` plain or ``async def``."""

    def __init__(self, func: Callable[[Any], Any], data: Any = None, name: str = "") -> None:
        self.func = func
        self.data = data
        self.name = name or getattr(func, "__name__", "tasklet")
        self.state = 0
        self.count = 0
        self.runs = 0
        self.wq: WaitQueue | None = None

    def test_bit(self, bit: int) -> bool:
        return bool(self.state >> bit & 1)


class TaskletHost(KernelCore, Protocol):
    """What this subsystem needs: the kernel core and softirq, wq."""

    softirq: Softirqs
    wq: Workqueues


class Tasklets:
    """Per-CPU tasklet lists and the two tasklet softirqs."""

    def __init__(self, kernel: TaskletHost) -> None:
        self.k = kernel
        self.requeues = 0

    def init_percpu(self) -> None:
        for cpu in self.k.cpus:
            cpu.data["tasklet_vec"] = []
            cpu.data["tasklet_hi_vec"] = []
        self.k.softirq.open_softirq(TASKLET_SOFTIRQ, self.tasklet_action)
        # tasklet_hi_action without its own frame (the HI softirq is on a device interrupt's path):
        # _action_common's defaults are the HI softirq's
        self.k.softirq.open_softirq(HI_SOFTIRQ, self._action_common)

    def _wq(self, t: Tasklet) -> WaitQueue:
        if t.wq is None:
            t.wq = WaitQueue(self.k, f"tasklet {t.name}")
        return t.wq

    def tasklet_init(self, func: Callable[[Any], Any], data: Any = None, name: str = "") -> Tasklet:
        return Tasklet(func, data, name)

    def _schedule_common(self, t: Tasklet, key: str, nr: int) -> None:
        k = self.k
        cpu = k._cur
        flags = cpu.if_flag  # local_irq_save()
        cpu.if_flag = False
        cpu.data[key].append(t)
        k.softirq.raise_softirq_irqoff(nr)
        cpu.if_flag = flags  # local_irq_restore(flags)

    def tasklet_schedule(self, t: Tasklet) -> bool:
        """Queue ``t`` on this CPU unless already scheduled; True if queued."""
        if t.state & _SCHED:
            return False
        t.state |= _SCHED
        self._schedule_common(t, "tasklet_vec", TASKLET_SOFTIRQ)
        return True

    def tasklet_hi_schedule(self, t: Tasklet) -> bool:
        if t.state & _SCHED:
            return False
        t.state |= _SCHED
        # _schedule_common(t, "tasklet_hi_vec", HI_SOFTIRQ), inlined (a handler's bottom half)
        k = self.k
        cpu = k._cur
        cpu.data["tasklet_hi_vec"].append(t)
        # local_irq_save(); raise_softirq_irqoff(HI_SOFTIRQ), inlined; local_irq_restore()
        cpu.softirq_pending |= _HI_BIT
        if k.tracer is not None:
            k.tracer.event(cpu.id, "irq:softirq_raise", vec=HI_SOFTIRQ, name=SOFTIRQ_NAMES[HI_SOFTIRQ])
        if not cpu.preempt_count & _IN_INTERRUPT:  # not in_interrupt(): wake ksoftirqd with IRQs off
            flags = cpu.if_flag
            cpu.if_flag = False
            k.softirq.wakeup_softirqd(cpu)
            cpu.if_flag = flags
        return True

    # The two softirq actions are plain calls on the current thread's stack (a
    # tasklet function that is a coroutine function is awaited through
    # ``k.mux.await_``). Like Linux ≥ 6.9 they first run the CPU's BH
    # workqueue pool (``workqueue_softirq_action``).

    def tasklet_action(self) -> None:
        self._action_common("tasklet_vec", TASKLET_SOFTIRQ, False)

    def tasklet_hi_action(self) -> None:
        self._action_common("tasklet_hi_vec", HI_SOFTIRQ, True)

    def _action_common(self, key: str = "tasklet_hi_vec", nr: int = HI_SOFTIRQ, highpri: bool = True) -> None:
        k = self.k
        cpu = k._cur
        wq = k.wq
        if wq.bh_pools[(cpu.id, highpri)].worklist:
            k.mux.await_(wq.workqueue_softirq_action(highpri))
            cpu = k._cur
        # local_irq_disable(); detach this CPU's list; local_irq_enable()
        cpu.if_flag = False
        data = cpu.data
        lst: list[Tasklet] = data[key]
        data[key] = []
        cpu.if_flag = True
        for t in lst:
            state = t.state
            if not state & _RUN:  # tasklet_trylock
                if t.count == 0:
                    if not state & _SCHED:
                        k.printk(f"WARNING: tasklet {t.name} run without TASKLET_STATE_SCHED")
                    t.state = (state | _RUN) & _NOT_SCHED  # the lock, and SCHED cleared
                    if t.wq is not None:
                        t.wq.wake_up_all()
                    t.runs += 1
                    tracer = k.tracer
                    if tracer is not None:
                        tracer.event(k._cur.id, "irq:tasklet_entry", name=t.name, function=t.func)
                    func = t.func  # (a plain load: a method load of an attribute is never specialized)
                    r = func(t.data)
                    if r is not None:
                        if r.__class__ is CoroutineType:  # an ``async def`` tasklet function
                            # k.mux.await_(r), its first step inline: a ``for`` over the
                            # coroutine ends without a StopIteration when it returns None
                            for item in r.__await__():
                                k.mux.await_rest(r, item)
                                break
                        elif inspect.isawaitable(r):
                            k.mux.await_(r)
                    if tracer is not None:
                        tracer.event(k._cur.id, "irq:tasklet_exit", name=t.name, function=t.func)
                    t.state &= _NOT_RUN
                    if t.wq is not None:
                        t.wq.wake_up_all()
                    continue
                # disabled: tasklet_unlock (the lock was never visible: nothing ran in between)
                if t.wq is not None:
                    t.wq.wake_up_all()
            self.requeues += 1
            k.local_irq_disable()
            k.this_cpu.data[key].append(t)
            k.softirq.or_softirq_pending(nr)
            k.local_irq_enable()

    def tasklet_disable_nosync(self, t: Tasklet) -> None:
        t.count += 1

    async def tasklet_unlock_wait(self, t: Tasklet) -> None:
        if t.state & (1 << TASKLET_STATE_RUN):
            await self._wq(t).spin_until(lambda: not t.state & (1 << TASKLET_STATE_RUN))

    async def tasklet_disable(self, t: Tasklet) -> None:
        """Increment the disable count, then wait for a running instance."""
        self.tasklet_disable_nosync(t)
        await self.tasklet_unlock_wait(t)

    def tasklet_enable(self, t: Tasklet) -> None:
        t.count -= 1

    async def tasklet_kill(self, t: Tasklet) -> None:
        """Wait until ``t`` is neither scheduled nor running (process context)."""
        k = self.k
        if k.this_cpu.in_interrupt():
            k.printk("Attempt to kill tasklet from interrupt")
        while t.state & (1 << TASKLET_STATE_SCHED):
            await self._wq(t).wait_event(lambda: not t.state & (1 << TASKLET_STATE_SCHED))
        t.state |= 1 << TASKLET_STATE_SCHED
        await self.tasklet_unlock_wait(t)
        t.state &= ~(1 << TASKLET_STATE_SCHED)
