"""jiffies and the timer wheel (include/linux/jiffies.h, kernel/time/timer.c).

``jiffies`` starts at ``INITIAL_JIFFIES = (unsigned int)(-300 * HZ)`` and is a
64-bit unsigned counter; compare with :meth:`Timers.time_after` and friends.
The wheel has ``LVL_DEPTH`` levels of 64 buckets, each level 8× coarser;
``calc_index`` always rounds the expiry *up* to the level's granularity
(``expires=10 → 11``, ``100 → 104``, ``1000 → 1024`` with clk 0). The tick
raises TIMER_SOFTIRQ when ``jiffies ≥ next_expiry``; ``__run_timers``
collects the buckets at ``clk`` level by level and runs callbacks with
``clk`` one ahead of jiffies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .context import KernelCore, call
from .sched import TaskState, WaitQueue
from .softirq import TIMER_SOFTIRQ

if TYPE_CHECKING:
    from .irq import IrqCore
    from .softirq import Softirqs

__all__ = [
    "LVL_BITS",
    "LVL_CLK_SHIFT",
    "LVL_SIZE",
    "MAX_JIFFY_OFFSET",
    "TimerBase",
    "TimerList",
    "Timers",
    "calc_wheel_index",
    "time_after",
    "time_after_eq",
    "time_before",
]

BITS = 64
MASK = (1 << BITS) - 1
LVL_CLK_SHIFT = 3
LVL_CLK_DIV = 1 << LVL_CLK_SHIFT
LVL_CLK_MASK = LVL_CLK_DIV - 1
LVL_BITS = 6
LVL_SIZE = 1 << LVL_BITS
LVL_MASK = LVL_SIZE - 1
MAX_JIFFY_OFFSET = ((1 << 63) - 1) // 2 - 1


def _signed(x: int) -> int:
    x &= MASK
    return x - (1 << BITS) if x >> (BITS - 1) else x


def time_after(a: int, b: int) -> bool:
    """``(long)((b) - (a)) < 0``."""
    return _signed(b - a) < 0


def time_before(a: int, b: int) -> bool:
    return time_after(b, a)


def time_after_eq(a: int, b: int) -> bool:
    return _signed(a - b) >= 0


def time_before_eq(a: int, b: int) -> bool:
    return time_after_eq(b, a)


def lvl_depth(hz: int) -> int:
    return 9 if hz > 100 else 8


def LVL_SHIFT(n: int) -> int:
    return n * LVL_CLK_SHIFT


def LVL_GRAN(n: int) -> int:
    return 1 << LVL_SHIFT(n)


def LVL_START(n: int) -> int:
    return (LVL_SIZE - 1) << ((n - 1) * LVL_CLK_SHIFT)


def LVL_OFFS(n: int) -> int:
    return n * LVL_SIZE


def calc_index(expires: int, lvl: int) -> tuple[int, int]:
    """Bucket index and bucket expiry (rounded up) at level ``lvl``."""
    expires = ((expires & MASK) >> LVL_SHIFT(lvl)) + 1
    bucket_expiry = (expires << LVL_SHIFT(lvl)) & MASK
    return LVL_OFFS(lvl) + (expires & LVL_MASK), bucket_expiry


def calc_wheel_index(expires: int, clk: int, depth: int) -> tuple[int, int]:
    """Linux's ``calc_wheel_index``: (bucket index, bucket expiry)."""
    delta = (expires - clk) & MASK
    for lvl in range(depth - 1):
        if delta < LVL_START(lvl + 1):
            return calc_index(expires, lvl)
    if _signed(delta) < 0:
        return clk & LVL_MASK, clk
    cutoff = LVL_START(depth)
    if delta >= cutoff:
        expires = clk + cutoff - LVL_GRAN(depth - 1)
    return calc_index(expires, depth - 1)


class TimerList:
    """``struct timer_list``: ``function(timer)`` runs in TIMER_SOFTIRQ."""

    def __init__(self, function: Callable[[TimerList], Any], name: str = "") -> None:
        self.function = function
        self.name = name or getattr(function, "__name__", "timer")
        self.expires = 0
        self.base: TimerBase | None = None
        self.idx = -1
        self.bucket_expiry = 0
        self.fired_at: list[int] = []
        self.cpu: int | None = None

    def pending(self) -> bool:
        return self.base is not None


class TimerBase:
    """One CPU's wheel (``struct timer_base``)."""

    def __init__(self, clk: int, hz: int, cpu: int = 0) -> None:
        self.clk = clk
        self.cpu = cpu
        self.depth = lvl_depth(hz)
        self.buckets: list[list[TimerList]] = [[] for _ in range(LVL_SIZE * self.depth)]
        self.next_expiry = (clk + MAX_JIFFY_OFFSET) & MASK
        self.timers_pending = False
        self.running_timer: TimerList | None = None

    def enqueue(self, timer: TimerList) -> None:
        idx, bucket_expiry = calc_wheel_index(timer.expires, self.clk, self.depth)
        timer.idx = idx
        timer.bucket_expiry = bucket_expiry
        timer.base = self
        self.buckets[idx].append(timer)
        if not self.timers_pending or time_before(bucket_expiry, self.next_expiry):
            self.next_expiry = bucket_expiry
            self.timers_pending = True

    def detach(self, timer: TimerList) -> None:
        self.buckets[timer.idx].remove(timer)
        timer.base = None
        if not any(self.buckets[i] for i in range(len(self.buckets))):
            self.timers_pending = False
            self.next_expiry = (self.clk + MAX_JIFFY_OFFSET) & MASK
        else:
            self._recalc()

    def _recalc(self) -> None:
        best: int | None = None
        for b in self.buckets:
            for t in b:
                if best is None or time_before(t.bucket_expiry, best):
                    best = t.bucket_expiry
        if best is None:
            self.timers_pending = False
            self.next_expiry = (self.clk + MAX_JIFFY_OFFSET) & MASK
        else:
            self.timers_pending = True
            self.next_expiry = best

    def collect_expired(self) -> list[list[TimerList]]:
        """``collect_expired_timers`` at ``clk``: one list per level that expires."""
        heads = []
        clk = self.clk
        for lvl in range(self.depth):
            idx = (clk & LVL_MASK) + lvl * LVL_SIZE
            if self.buckets[idx]:
                heads.append(self.buckets[idx])
                self.buckets[idx] = []
            if clk & LVL_CLK_MASK:
                break
            clk >>= LVL_CLK_SHIFT
        return heads

    def expire_upto(self, jiffies: int) -> list[TimerList]:
        """The pure part of ``__run_timers``: advance ``clk`` and return the
        expired timers in run order (levels from high to low, FIFO within)."""
        out: list[TimerList] = []
        while time_after_eq(jiffies, self.clk) and time_after_eq(jiffies, self.next_expiry):
            if time_after(self.next_expiry, self.clk):
                self.clk = self.next_expiry  # nothing is due in between (forward the base)
            heads = self.collect_expired()
            self.clk = (self.clk + 1) & MASK
            for h in heads:
                for t in h:
                    t.base = None
            self._recalc()
            for h in reversed(heads):
                out.extend(h)
        return out

    def forward(self, jnow: int) -> None:
        """``forward_timer_base``: catch ``clk`` up with ``jnow`` when nothing is due before."""
        if _signed(jnow - self.clk) < 1:
            return
        if time_after(self.next_expiry, jnow):
            self.clk = jnow & MASK
        elif not time_before(self.next_expiry, self.clk):
            self.clk = self.next_expiry


class TimerHost(KernelCore, Protocol):
    """What this subsystem needs: the kernel core and softirq."""

    softirq: Softirqs


class Timers:
    """jiffies, per-CPU timer bases, ``mod_timer`` & co., sleeping."""

    def __init__(self, kernel: TimerHost) -> None:
        self.k = kernel
        hz = kernel.HZ
        self.HZ = hz
        self.INITIAL_JIFFIES = (-300 * hz) & 0xFFFFFFFF
        self.jiffies = self.INITIAL_JIFFIES
        self.bases: list[TimerBase] = []
        self.jiffies_wq = WaitQueue(kernel, "jiffies")
        self.fired = 0
        self._poll_timer: TimerList | None = None

    time_after = staticmethod(time_after)
    time_before = staticmethod(time_before)
    time_after_eq = staticmethod(time_after_eq)
    time_before_eq = staticmethod(time_before_eq)

    def init_timers(self) -> None:
        self.bases = [TimerBase(self.jiffies, self.HZ, c.id) for c in self.k.cpus]
        self.k.softirq.open_softirq(TIMER_SOFTIRQ, self.run_timer_softirq)

    def msecs_to_jiffies(self, ms: int) -> int:
        return -(-ms * self.HZ // 1000)

    def jiffies_to_msecs(self, j: int) -> int:
        return j * 1000 // self.HZ

    def do_timer(self, ticks: int) -> None:
        """``do_timer``: advance jiffies (tick_do_timer_cpu only)."""
        self.jiffies = (self.jiffies + ticks) & MASK
        if self.jiffies_wq.sleepers or self.jiffies_wq.spinners:
            self.jiffies_wq.wake_up_all()

    async def wait_jiffies(self, target: int) -> None:
        """Sleep until ``jiffies`` reaches ``target``."""
        await self.jiffies_wq.wait_event(lambda: time_after_eq(self.jiffies, target))

    # ------------------------------------------------------------------ API

    def timer_setup(self, function: Callable[[TimerList], Any], name: str = "") -> TimerList:
        return TimerList(function, name)

    def timer_pending(self, timer: TimerList) -> bool:
        return timer.base is not None

    def _base(self, cpu: int | None = None) -> TimerBase:
        return self.bases[self.k.smp_processor_id() if cpu is None else cpu]

    def mod_timer(self, timer: TimerList, expires: int) -> int:
        """0 if the timer was inactive, 1 if it was pending (same expiry: no requeue)."""
        expires &= MASK
        if timer.base is not None and timer.expires == expires:
            return 1
        ret = 0
        if timer.base is not None:
            timer.base.detach(timer)
            ret = 1
        timer.expires = expires
        base = self._base(timer.cpu)
        base.forward(self.jiffies)
        base.enqueue(timer)
        return ret

    def add_timer(self, timer: TimerList) -> None:
        if timer.base is not None:
            raise RuntimeError("BUG: add_timer on a pending timer")
        self.mod_timer(timer, timer.expires)

    def add_timer_on(self, timer: TimerList, cpu: int) -> None:
        if timer.base is not None:
            timer.base.detach(timer)
        timer.cpu = cpu
        self.bases[cpu].forward(self.jiffies)
        self.bases[cpu].enqueue(timer)
        timer.cpu = None

    def del_timer(self, timer: TimerList) -> int:
        """1 if a pending timer was deactivated."""
        if timer.base is None:
            return 0
        timer.base.detach(timer)
        return 1

    timer_delete = del_timer

    async def del_timer_sync(self, timer: TimerList) -> int:
        ret = self.del_timer(timer)
        def idle() -> bool:
            return all(b.running_timer is not timer for b in self.bases)

        if not idle():
            await self.k.spin_until(idle, self.jiffies_wq)
        return ret

    def round_jiffies(self, j: int, cpu: int = 0) -> int:
        """Round to a whole second with a 3·cpu skew (``round_jiffies_common``)."""
        original = j
        j += cpu * 3
        rem = j % self.HZ
        if rem < self.HZ // 4:
            j = j - rem
        else:
            j = j - rem + self.HZ
        j -= cpu * 3
        return original if time_before_eq(j, self.jiffies) else j

    # ------------------------------------------------------------------ the tick and the softirq

    def run_local_timers(self) -> None:
        """Raise TIMER_SOFTIRQ if this CPU's base has something due."""
        base = self._base()
        if time_after_eq(self.jiffies, base.next_expiry) and base.timers_pending:
            self.k.softirq.raise_softirq(TIMER_SOFTIRQ)

    async def run_timer_softirq(self) -> None:
        base = self._base()
        for t in base.expire_upto(self.jiffies):
            base.running_timer = t
            t.fired_at.append(self.jiffies)
            self.fired += 1
            tracer = self.k.tracer
            if tracer is not None:
                tracer.event(self.k.smp_processor_id(), "timer:timer_expire_entry", name=t.name, function=t.function,
                             now=self.jiffies)
            try:
                await call(t.function, t)
            finally:
                base.running_timer = None
                if tracer is not None:
                    tracer.event(self.k.smp_processor_id(), "timer:timer_expire_exit", name=t.name)

    # ------------------------------------------------------------------ sleeping

    async def schedule_timeout(self, timeout: int) -> int:
        k = self.k
        t = k.current
        expire = (self.jiffies + timeout) & MASK

        def wake(_timer: TimerList) -> None:
            k.wake_up_process(t)

        timer = TimerList(wake, "process_timeout")
        t.state = TaskState.BLOCKED
        self.mod_timer(timer, expire)
        await k.schedule()
        self.del_timer(timer)
        left = _signed(expire - self.jiffies)
        return max(0, left)

    async def msleep(self, ms: int) -> None:
        timeout = self.msecs_to_jiffies(ms) + 1
        while timeout:
            timeout = await self.schedule_timeout(timeout)

    # ------------------------------------------------------------------ spurious poll

    def arm_poll_spurious(self, irq: IrqCore) -> None:
        """``mod_timer(&poll_spurious_irq_timer, jiffies + POLL_SPURIOUS_IRQ_INTERVAL)``."""
        if self._poll_timer is None:
            async def poll(timer: TimerList) -> None:
                await irq.poll_spurious_irqs()
                if any(d.spurious_disabled for d in irq.descs.values()):
                    self.mod_timer(timer, self.jiffies + self.HZ // 10)

            self._poll_timer = TimerList(poll, "poll_spurious_irqs")
        self.mod_timer(self._poll_timer, self.jiffies + self.HZ // 10)
