"""Kernel threads, the per-CPU scheduler's data, and the wait primitives.

The stack runs as ONE coroutine under a backend (:meth:`Kernel.run`), so it
multiplexes the simulated CPUs and their kernel threads itself
(:mod:`irqforge.sw.cpumux`). A kernel thread is an ``async def`` coroutine
running on a stack of its own.

Wait primitives (:class:`WaitQueue`, :class:`Completion`, :class:`SpinLock`)
never busy-poll: a sleeping thread is BLOCKED until woken, a spinning CPU is
parked until the event it spins on fires (or an interrupt it may take).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .context import PerCpu

__all__ = [
    "PRIO_IDLE",
    "PRIO_KWORKER",
    "PRIO_KWORKER_HI",
    "PRIO_NORMAL",
    "PRIO_STOPPER",
    "Completion",
    "Scheduler",
    "SpinLock",
    "TaskState",
    "Thread",
    "WaitQueue",
]

#: Scheduling priorities, lower runs first (stop-machine threads are SCHED_FIFO
#: 99 in Linux, highpri kworkers nice -20, everything else nice 0).
PRIO_STOPPER = 0
PRIO_KWORKER_HI = 10
PRIO_KWORKER = 20
PRIO_NORMAL = 20
PRIO_IDLE = 140


class Scheduler(Protocol):
    """What the wait primitives need of the kernel: the current thread, sleeping, waking, spinning."""

    @property
    def current(self) -> Thread: ...

    def smp_processor_id(self) -> int: ...

    def wake_up_process(self, t: Thread) -> bool: ...

    async def schedule(self) -> None: ...

    async def spin_until(
        self, cond: Callable[[], bool], wq: WaitQueue | None = None, deadline: int | None = None
    ) -> bool: ...

    def local_irq_save(self) -> bool: ...

    def local_irq_restore(self, flags: bool) -> None: ...


class TaskState(enum.Enum):
    RUNNABLE = "R"
    BLOCKED = "S"
    DEAD = "X"


_pids = itertools.count(1)


class Thread:
    """A kernel thread pinned to one CPU (``task_struct``)."""

    def __init__(
        self,
        kernel: Scheduler,
        coro: Coroutine[Any, Any, Any],
        cpu: int,
        name: str,
        prio: int = PRIO_NORMAL,
    ) -> None:
        self.kernel = kernel
        self.coro = coro
        self.cpu = cpu
        self.comm = name
        self.pid = next(_pids)
        self.prio = prio
        self.state = TaskState.RUNNABLE
        self.seq = 0
        """Round-robin order among equal priorities."""
        self.glet: Any = None
        """Its stack (a greenlet), made when it first runs."""
        self.saved_if = True
        """IF while switched out (restored when it runs again)."""
        self.frames: list[Any] = []
        """Hardware frames of the interrupts/exceptions nested on its stack."""
        self.ip = 0
        """Symbolic instruction pointer (the address of its function)."""
        self.result: Any = None
        self.exception: BaseException | None = None
        self.done = Completion(kernel)
        self.wake_count = 0
        self.sleep_hook: Any = None
        """Called when the thread blocks (``wq_worker_sleeping``)."""
        self.wake_hook: Any = None
        """Called when the thread is woken (``wq_worker_running``)."""

    def __repr__(self) -> str:
        return f"<Thread {self.comm} pid={self.pid} cpu={self.cpu} {self.state.value}>"


class WaitQueue:
    """``wait_queue_head_t``: threads sleeping on it, CPUs spinning on it."""

    def __init__(self, kernel: Scheduler, name: str = "") -> None:
        self.kernel = kernel
        self.name = name
        self.sleepers: list[Thread] = []
        self.spinners: set[PerCpu] = set()

    def wake_up_all(self) -> int:
        """Wake every sleeper and spinner; the number of threads woken."""
        n = 0
        if self.sleepers:
            sleepers, self.sleepers = self.sleepers, []
            for t in sleepers:
                if self.kernel.wake_up_process(t):
                    n += 1
        if self.spinners:
            for cpu in self.spinners:
                cpu.spin_woken = True
        return n

    wake_up = wake_up_all

    async def wait_event(self, cond: Callable[[], bool]) -> None:
        """Sleep (process context) until ``cond()`` holds."""
        k = self.kernel
        while not cond():
            t = k.current
            t.state = TaskState.BLOCKED
            self.sleepers.append(t)
            if cond():  # re-check after queueing, like prepare_to_wait
                t.state = TaskState.RUNNABLE
                self.sleepers.remove(t)
                return
            await k.schedule()

    async def spin_until(self, cond: Callable[[], bool], deadline: int | None = None) -> bool:
        """Spin (any context) until ``cond()``; the CPU parks between wake-ups."""
        return await self.kernel.spin_until(cond, self, deadline)


class Completion:
    """``struct completion``."""

    def __init__(self, kernel: Scheduler) -> None:
        self.kernel = kernel
        self.done = 0
        self.wq: WaitQueue | None = None

    def _q(self) -> WaitQueue:
        if self.wq is None:
            self.wq = WaitQueue(self.kernel, "completion")
        return self.wq

    def complete(self) -> None:
        self.done += 1
        if self.wq is not None:
            self.wq.wake_up_all()

    def complete_all(self) -> None:
        self.done = 1 << 30
        if self.wq is not None:
            self.wq.wake_up_all()

    def completion_done(self) -> bool:
        return self.done > 0

    async def wait_for_completion(self) -> None:
        await self._q().wait_event(lambda: self.done > 0)
        if self.done < (1 << 30):
            self.done -= 1

    def reinit(self) -> None:
        self.done = 0


class SpinLock:
    """``raw_spinlock_t`` between simulated CPUs.

    Code between two hardware accesses is atomic in the simulation, so a lock
    is only needed around sequences that span accesses (IOREGSEL/IOWIN, ICR
    high/low …). A contended lock parks the CPU until the holder releases it.
    """

    def __init__(self, kernel: Scheduler, name: str = "") -> None:
        self.kernel = kernel
        self.name = name
        self.owner: int | None = None
        self.wq = WaitQueue(kernel, name)
        self.contended = 0

    async def lock(self) -> None:
        k = self.kernel
        me = k.smp_processor_id()
        if self.owner == me:
            raise RuntimeError(f"BUG: spinlock recursion on {self.name} CPU#{me}")
        if self.owner is not None:
            self.contended += 1
            await k.spin_until(lambda: self.owner is None, self.wq)
        self.owner = me

    def unlock(self) -> None:
        self.owner = None
        if self.wq.spinners:
            self.wq.wake_up_all()

    async def lock_irqsave(self) -> bool:
        flags = self.kernel.local_irq_save()
        await self.lock()
        return flags

    def unlock_irqrestore(self, flags: bool) -> None:
        self.unlock()
        self.kernel.local_irq_restore(flags)
