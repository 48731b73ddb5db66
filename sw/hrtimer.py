"""High-resolution timers (kernel/time/hrtimer.c) in low-resolution mode.

Expiry times are CLOCK_MONOTONIC nanoseconds read from the HPET. Without a
per-CPU one-shot hrtimer device the kernel runs in Linux's low-res mode:
``hrtimer_run_queues`` is called from every tick, runs the expired HARD
timers in hard-irq context and raises HRTIMER_SOFTIRQ for SOFT ones.
Callbacks return :data:`HRTIMER_NORESTART` or :data:`HRTIMER_RESTART` (then
the timer is re-queued at its possibly forwarded expiry).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .context import KernelCore, call
from .sched import WaitQueue
from .softirq import HRTIMER_SOFTIRQ

if TYPE_CHECKING:
    from .softirq import Softirqs
    from .timekeeping import Timekeeping

__all__ = [
    "HRTIMER_MODE_ABS",
    "HRTIMER_MODE_REL",
    "HRTIMER_NORESTART",
    "HRTIMER_RESTART",
    "Hrtimer",
    "Hrtimers",
    "hrtimer_forward",
]

HRTIMER_NORESTART = 0
HRTIMER_RESTART = 1
HRTIMER_MODE_ABS = "abs"
HRTIMER_MODE_REL = "rel"

_seq = itertools.count()


class Hrtimer:
    """``struct hrtimer``."""

    def __init__(self, function: Callable[[Hrtimer], Any], *, soft: bool = False, name: str = "") -> None:
        self.function = function
        self.soft = soft
        self.name = name or getattr(function, "__name__", "hrtimer")
        self.expires = 0
        self.enqueued = False
        self.cpu: int | None = None
        self.fired = 0
        self._key: tuple[int, int] | None = None


def hrtimer_forward(timer: Hrtimer, now: int, interval: int, resolution: int = 1) -> int:
    """Advance ``timer.expires`` past ``now`` by whole intervals; the overrun count
    (0 if ``now`` is before the expiry, or if the timer is queued)."""
    delta = now - timer.expires
    if delta < 0:
        return 0
    if timer.enqueued:
        return 0
    interval = max(interval, resolution)
    orun = 1
    if delta >= interval:
        orun = delta // interval
        timer.expires += interval * orun
        if timer.expires > now:
            return orun
        orun += 1
    timer.expires += interval
    return orun


class _Base:
    def __init__(self, cpu: int) -> None:
        self.cpu = cpu
        self.queue: list[tuple[int, int, Hrtimer]] = []
        self.running: Hrtimer | None = None


class HrtimerHost(KernelCore, Protocol):
    """What this subsystem needs: the kernel core and softirq, timekeeping."""

    softirq: Softirqs
    timekeeping: Timekeeping


class Hrtimers:
    """Per-CPU hrtimer bases and the hrtimer API."""

    def __init__(self, kernel: HrtimerHost) -> None:
        self.k = kernel
        self.bases: list[_Base] = []
        self.resolution = 1_000_000_000 // kernel.HZ  # LOW_RES_NSEC = TICK_NSEC
        self.wq = WaitQueue(kernel, "hrtimer_running")

    def hrtimers_init(self) -> None:
        self.bases = [_Base(c.id) for c in self.k.cpus]
        self.k.softirq.open_softirq(HRTIMER_SOFTIRQ, self.hrtimer_run_softirq)

    def hrtimer_init(self, function: Callable[[Hrtimer], Any], *, soft: bool = False, name: str = "") -> Hrtimer:
        return Hrtimer(function, soft=soft, name=name)

    def _enqueue(self, base: _Base, timer: Hrtimer) -> None:
        timer._key = (timer.expires, next(_seq))
        heapq.heappush(base.queue, (timer._key[0], timer._key[1], timer))
        timer.enqueued = True
        timer.cpu = base.cpu

    def _remove(self, timer: Hrtimer) -> bool:
        if not timer.enqueued or timer.cpu is None:
            return False
        base = self.bases[timer.cpu]
        base.queue = [e for e in base.queue if e[2] is not timer]
        heapq.heapify(base.queue)
        timer.enqueued = False
        return True

    async def hrtimer_start(self, timer: Hrtimer, tim: int, mode: str = HRTIMER_MODE_REL) -> None:
        """(Re)arm ``timer`` at ``tim`` ns (relative to now for ``rel``) on this CPU."""
        self._remove(timer)
        if mode == HRTIMER_MODE_REL:
            tim += await self.k.timekeeping.ktime_get()
        timer.expires = tim
        self._enqueue(self.bases[self.k.smp_processor_id()], timer)

    async def hrtimer_forward_now(self, timer: Hrtimer, interval: int) -> int:
        return hrtimer_forward(timer, await self.k.timekeeping.ktime_get(), interval, self.resolution)

    def hrtimer_forward(self, timer: Hrtimer, now: int, interval: int) -> int:
        return hrtimer_forward(timer, now, interval, self.resolution)

    def hrtimer_active(self, timer: Hrtimer) -> bool:
        return timer.enqueued or any(b.running is timer for b in self.bases)

    def hrtimer_try_to_cancel(self, timer: Hrtimer) -> int:
        """1 if it was queued (now cancelled), 0 if idle, -1 if its callback runs."""
        if any(b.running is timer for b in self.bases):
            return -1
        return int(self._remove(timer))

    async def hrtimer_cancel(self, timer: Hrtimer) -> int:
        """Cancel and wait for a running callback; 1 if the timer was active."""
        while True:
            ret = self.hrtimer_try_to_cancel(timer)
            if ret >= 0:
                return ret
            await self.wq.spin_until(lambda: not any(b.running is timer for b in self.bases))

    async def _run_queue(self, base: _Base, now: int, soft: bool) -> None:
        k = self.k
        while base.queue and base.queue[0][0] <= now:
            due = [e for e in base.queue if e[0] <= now and e[2].soft == soft]
            if not due:
                return
            entry = min(due)
            base.queue.remove(entry)
            heapq.heapify(base.queue)
            timer = entry[2]
            timer.enqueued = False
            base.running = timer
            timer.fired += 1
            tracer = k.tracer
            if tracer is not None:
                tracer.event(k.smp_processor_id(), "timer:hrtimer_expire_entry", name=timer.name,
                             function=timer.function, now=now)
            try:
                restart = await call(timer.function, timer)
            finally:
                base.running = None
                if tracer is not None:
                    tracer.event(k.smp_processor_id(), "timer:hrtimer_expire_exit", name=timer.name)
                if self.wq.spinners or self.wq.sleepers:
                    self.wq.wake_up_all()
            if restart == HRTIMER_RESTART and not timer.enqueued:
                self._enqueue(self.bases[k.smp_processor_id()], timer)

    async def hrtimer_run_queues(self) -> None:
        """From the tick (low-res mode): run expired hard timers, raise the softirq for soft ones."""
        k = self.k
        base = self.bases[k.smp_processor_id()]
        if not base.queue:
            return
        now = await k.timekeeping.ktime_get()
        if any(e[0] <= now and e[2].soft for e in base.queue):
            k.softirq.raise_softirq_irqoff(HRTIMER_SOFTIRQ)
        await self._run_queue(base, now, False)

    async def hrtimer_run_softirq(self) -> None:
        k = self.k
        base = self.bases[k.smp_processor_id()]
        now = await k.timekeeping.ktime_get()
        await self._run_queue(base, now, True)
