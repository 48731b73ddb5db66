"""CLOCK_MONOTONIC and CLOCK_REALTIME (kernel/time/timekeeping.c).

Before the HPET is enabled the clocksource is ``jiffies`` (tick resolution);
afterwards every ``ktime_get()`` reads the HPET main counter (high, low, high
until the high dword is stable) and scales it with the clocksource's
``mult``/``shift``. CLOCK_REALTIME is CLOCK_MONOTONIC plus an offset set by
:meth:`Timekeeping.do_settimeofday64`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .clockevents import NSEC_PER_SEC, clocks_calc_mult_shift
from .context import ClockAccess

if TYPE_CHECKING:
    from .hpet import Hpet
    from .timer import Timers

__all__ = ["CLOCK_MONOTONIC", "CLOCK_REALTIME", "Timekeeping"]

CLOCK_REALTIME = 0
CLOCK_MONOTONIC = 1


class TimekeepingHost(ClockAccess, Protocol):
    """What timekeeping needs: the clock, the HPET counter and jiffies."""

    hpet: Hpet
    timers: Timers


class Timekeeping:
    """The timekeeper: clocksource, monotonic base, realtime offset."""

    def __init__(self, kernel: TimekeepingHost) -> None:
        self.k = kernel
        self.clocksource = "jiffies"
        self.mult = 1
        self.shift = 0
        self.offs_real = 0
        self.base_mono = 0
        self.cycle_last = 0
        self.last_mono = 0

    def use_hpet(self) -> None:
        """``clocksource_register_hz(&clocksource_hpet, hpet_freq)``: switch to the HPET
        (its counter was just reset to 0)."""
        hz = self.k.hpet.freq
        self.mult, self.shift = clocks_calc_mult_shift(hz, NSEC_PER_SEC, 600)
        self.base_mono = self._jiffies_ns()
        self.cycle_last = 0
        self.clocksource = "hpet"

    def _jiffies_ns(self) -> int:
        t = self.k.timers
        return (t.jiffies - t.INITIAL_JIFFIES) * (NSEC_PER_SEC // self.k.HZ)

    def cyc2ns(self, cycles: int) -> int:
        return (cycles * self.mult) >> self.shift

    async def ktime_get(self) -> int:
        """CLOCK_MONOTONIC in ns."""
        if self.clocksource != "hpet":
            return self._jiffies_ns()
        cycles = await self.k.hpet.read_counter()
        ns = self.base_mono + self.cyc2ns(cycles - self.cycle_last)
        if ns < self.last_mono:  # the counter is stopped while an HPET channel is reprogrammed
            ns = self.last_mono
        self.last_mono = ns
        return ns

    async def ktime_get_real(self) -> int:
        return await self.ktime_get() + self.offs_real

    async def do_settimeofday64(self, ns: int) -> None:
        """Set CLOCK_REALTIME to ``ns`` since the epoch."""
        self.offs_real = ns - await self.ktime_get()

    async def clock_gettime(self, clock: int) -> tuple[int, int]:
        """``(tv_sec, tv_nsec)`` of CLOCK_REALTIME or CLOCK_MONOTONIC."""
        if clock == CLOCK_MONOTONIC:
            ns = await self.ktime_get()
        elif clock == CLOCK_REALTIME:
            ns = await self.ktime_get_real()
        else:
            raise ValueError(f"unsupported clock id {clock}")
        return divmod(ns, NSEC_PER_SEC)
