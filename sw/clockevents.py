"""Clock event devices and the periodic tick (kernel/time/clockevents.c,
tick-common.c, tick-broadcast-less).

A :class:`ClockEventDevice` converts nanoseconds to device ticks with
Linux's ``mult``/``shift`` and programs the hardware through its
``set_state_*``/``set_next_event`` methods (the LAPIC timer in
:mod:`irqforge.sw.apic`, the HPET channels in :mod:`irqforge.sw.hpet`).

The tick: at boot the HPET (legacy IRQ 0) is the global tick device of the
boot CPU; :meth:`Clockevents.late_time_init` then gives every CPU its LAPIC
timer (higher rating) and shuts the HPET channel down, as
``setup_boot_APIC_clock``/``setup_secondary_APIC_clock`` do. Periodic mode
uses the hardware's periodic mode; ``tick_mode="oneshot"`` emulates the
period by one-shot programming (``tick_handle_periodic``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import DeviceAccess, PerCpu
    from .kernel import Kernel

__all__ = [
    "CLOCK_EVT_FEAT_ONESHOT",
    "CLOCK_EVT_FEAT_PERIODIC",
    "ClockEventDevice",
    "Clockevents",
    "clocks_calc_mult_shift",
]

CLOCK_EVT_FEAT_PERIODIC = 0x1
CLOCK_EVT_FEAT_ONESHOT = 0x2
NSEC_PER_SEC = 1_000_000_000
ETIME = 62


def clocks_calc_mult_shift(from_hz: int, to_hz: int, maxsec: int) -> tuple[int, int]:
    """Linux's ``clocks_calc_mult_shift``: ``to = (from * mult) >> shift``."""
    tmp = (maxsec * from_hz) >> 32
    sftacc = 32
    while tmp:
        tmp >>= 1
        sftacc -= 1
    sft = 32
    while sft > 0:
        tmp = (to_hz << sft) + from_hz // 2
        tmp //= from_hz
        if (tmp >> sftacc) == 0:
            break
        sft -= 1
    return tmp, sft


class ClockEventDevice:
    """``struct clock_event_device``; subclasses do the register writes."""

    STATES = ("detached", "shutdown", "periodic", "oneshot")

    def __init__(
        self,
        kernel: DeviceAccess,
        *,
        name: str,
        features: int,
        rating: int,
        freq: int,
        min_delta_ticks: int,
        max_delta_ticks: int,
        cpu: int,
        irq: int | None = None,
    ) -> None:
        self.k = kernel
        self.name = name
        self.features = features
        self.rating = rating
        self.freq = freq
        self.cpu = cpu
        self.irq = irq
        self.mult, self.shift = clocks_calc_mult_shift(NSEC_PER_SEC, freq, max(1, max_delta_ticks // freq))
        self.min_delta_ticks = min_delta_ticks
        self.max_delta_ticks = max_delta_ticks
        self.min_delta_ns = self.delta2ns(min_delta_ticks)
        self.max_delta_ns = self.delta2ns(max_delta_ticks)
        self.state = "detached"
        self.next_event = 0
        self.event_handler: Callable[[ClockEventDevice], Awaitable[None]] | None = None
        self.events = 0
        self.limit: int | None = None
        """Shut the device down after this many events (deterministic runs)."""
        self.limit_reached = False
        self.programmed = 0

    def limit_done(self) -> bool:
        """The device stopped after :attr:`limit` events."""
        return self.limit_reached

    def delta2ns(self, ticks: int) -> int:
        """``clockevent_delta2ns`` (rounded up)."""
        return ((ticks << self.shift) + self.mult - 1) // self.mult

    async def set_state_periodic(self) -> None:
        raise NotImplementedError

    async def set_state_oneshot(self) -> None:
        raise NotImplementedError

    async def set_state_shutdown(self) -> None:
        raise NotImplementedError

    async def set_next_event(self, delta: int) -> int:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<clockevent {self.name} cpu{self.cpu} {self.state}>"


class Clockevents:
    """Clock event registry, per-CPU tick devices and the tick handler."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        self.devices: list[ClockEventDevice] = []
        self.tick_dev: dict[int, ClockEventDevice] = {}
        self.tick_do_timer_cpu = 0
        self.tick_period = NSEC_PER_SEC // kernel.HZ
        self.tick_next_period = 0
        self.global_clock_event: ClockEventDevice | None = None
        self.hpet_ticks_done = None

    async def switch_state(self, dev: ClockEventDevice, state: str) -> None:
        """``clockevents_switch_state``."""
        if dev.state == state:
            return
        if state == "periodic":
            await dev.set_state_periodic()
        elif state == "oneshot":
            await dev.set_state_oneshot()
        elif state == "shutdown":
            await dev.set_state_shutdown()
        dev.state = state

    async def shutdown(self, dev: ClockEventDevice) -> None:
        await self.switch_state(dev, "shutdown")
        dev.next_event = 1 << 63

    async def program_event(self, dev: ClockEventDevice, expires: int, force: bool = False) -> int:
        """``clockevents_program_event``: 0, or -ETIME if ``expires`` has passed."""
        dev.next_event = expires
        if dev.state == "shutdown":
            return 0
        now = await self.k.timekeeping.ktime_get()
        delta = expires - now
        if delta <= 0:
            if not force:
                return -ETIME
            delta = dev.min_delta_ns
        delta = min(max(delta, dev.min_delta_ns), dev.max_delta_ns)
        clc = (delta * dev.mult) >> dev.shift
        dev.programmed += 1
        rc = await dev.set_next_event(max(clc, dev.min_delta_ticks))
        if rc and force:
            rc = await dev.set_next_event(dev.min_delta_ticks)
        return rc

    # ------------------------------------------------------------------ ticks

    async def tick_setup_device(self, dev: ClockEventDevice, cpu: int) -> None:
        """Make ``dev`` the tick device of ``cpu`` (periodic or one-shot emulation)."""
        old = self.tick_dev.get(cpu)
        self.tick_dev[cpu] = dev
        if dev not in self.devices:
            self.devices.append(dev)
        if old is not None and old is not dev and old.state != "shutdown":
            await self.shutdown(old)
        dev.event_handler = self.tick_handle_periodic
        mode = self.k.config.tick_mode
        if mode == "periodic" and dev.features & CLOCK_EVT_FEAT_PERIODIC:
            await self.switch_state(dev, "periodic")
        else:
            await self.switch_state(dev, "oneshot")
            nxt = await self.k.timekeeping.ktime_get() + self.tick_period
            if cpu == self.tick_do_timer_cpu:
                self.tick_next_period = nxt
            while await self.program_event(dev, nxt, False):
                nxt += self.tick_period

    async def tick_handle_periodic(self, dev: ClockEventDevice) -> None:
        """``tick_handle_periodic``."""
        k = self.k
        cpu = k.this_cpu
        dev.events += 1
        await self.tick_periodic(cpu)
        if dev.limit is not None and dev.events >= dev.limit:
            dev.limit_reached = True
            await self.shutdown(dev)
            k.timers.jiffies_wq.wake_up_all()
            return
        if dev.state != "oneshot":
            return
        nxt = dev.next_event
        while True:
            nxt += self.tick_period
            if not await self.program_event(dev, nxt, False):
                return
            await self.tick_periodic(cpu)

    async def tick_periodic(self, cpu: PerCpu) -> None:
        k = self.k
        if cpu.id == self.tick_do_timer_cpu:
            self.tick_next_period += self.tick_period
            k.timers.do_timer(1)
        await self.update_process_times(cpu)

    async def update_process_times(self, cpu: PerCpu) -> None:
        """Per-CPU tick work: hrtimers (low-res), the timer wheel, the scheduler."""
        k = self.k
        cpu.tick_count += 1
        await k.hrtimers.hrtimer_run_queues()
        k.timers.run_local_timers()
        # scheduler_tick: round robin among equal priorities
        cur = cpu.current
        if cur is not None and cur is not cpu.idle:
            for t in cpu.threads:
                if t is not cur and t.state.value == "R" and t.prio <= cur.prio:
                    k._seq += 1
                    cur.seq = k._seq
                    cpu.need_resched = True
                    break

    # ------------------------------------------------------------------ boot

    async def time_init(self) -> None:
        """``hpet_time_init``: HPET clocksource and the boot clock event (IRQ 0)."""
        k = self.k
        if k.config.hpet and await k.hpet.hpet_enable():
            k.timekeeping.use_hpet()
            dev = k.hpet.legacy_clockevent()
            self.global_clock_event = dev
            self.devices.append(dev)
            await k.irq.setup_default_timer_irq()
            if k.config.boot_hpet_ticks or not k.config.lapic_timer:
                if k.config.boot_hpet_ticks:
                    dev.limit = k.config.boot_hpet_ticks
                await self.tick_setup_device(dev, 0)

    async def late_time_init(self) -> None:
        """Wait out the HPET boot ticks, then LAPIC timers on every CPU."""
        k = self.k
        dev = self.global_clock_event
        if dev is not None and dev.limit is not None:
            await k.timers.jiffies_wq.wait_event(lambda: dev.limit_reached)
        if not k.config.lapic_timer:
            return
        if dev is not None and dev.state not in ("shutdown", "detached"):
            await self.shutdown(dev)

        async def setup(_info: Any) -> None:
            await self.setup_APIC_clock()

        await k.smp.on_each_cpu(setup, None, True)

    async def setup_APIC_clock(self) -> None:
        """``setup_boot_APIC_clock`` / ``setup_secondary_APIC_clock`` for this CPU."""
        k = self.k
        cpu = k.this_cpu
        dev = k.apic.lapic_timer(cpu)
        dev.limit = k.config.tick_limit
        await self.tick_setup_device(dev, cpu.id)
