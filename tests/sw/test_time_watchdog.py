"""Time on the model backend: one-shot tick mode, CLOCK_MONOTONIC/REALTIME from
the HPET counter, and the lockup detectors and keepalive device (B.8)."""

from __future__ import annotations

import itertools
from typing import Any

from irqforge.spec import load_default
from irqforge.sw.kernel import Kernel
from irqforge.sw.timekeeping import CLOCK_MONOTONIC, CLOCK_REALTIME
from irqforge.sw.watchdog import Keepalive

NSEC_PER_SEC = 1_000_000_000


def test_oneshot_tick_mode(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        start = k.timers.jiffies
        for c in k.online_cpus():
            lt = k.apic.timers[c]
            await k.timers.jiffies_wq.wait_event(lt.limit_done)
        out["jiffies"] = k.timers.jiffies - start
        out["loc"] = [k.cpus[c].irq_stat["LOC"] for c in k.online_cpus()]
        out["states"] = [k.apic.timers[c].state for c in k.online_cpus()]
        out["programmed"] = [k.apic.timers[c].programmed for c in k.online_cpus()]
        lvtt = await k.apic.read("LVT_TIMER")
        mode = k.spec.lapic.register("LVT_TIMER").field("TIMER_MODE")
        out["mode"] = mode.get(lvtt)
        out["oneshot_enum"] = mode.enum("ONESHOT")

    # the LAPIC timer's own one-shot mode (lapic=notscdeadline); lapic-deadline is tests/sw/test_x2apic.py's
    _k, _ = boot(main, tick_mode="oneshot", tick_limit=12, tsc_deadline=False)
    assert out["loc"] == [12, 12]
    assert 11 <= out["jiffies"] <= 12
    # every tick re-programmed TMICT (one-shot emulation of the period)
    assert all(p >= 12 for p in out["programmed"])
    assert out["states"] == ["shutdown", "shutdown"]
    assert out["mode"] == out["oneshot_enum"]


def test_periodic_tick_mode_programs_the_periodic_lapic_timer(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        lvtt = await k.apic.read("LVT_TIMER")
        mode = k.spec.lapic.register("LVT_TIMER").field("TIMER_MODE")
        out["mode"] = (mode.get(lvtt), mode.enum("PERIODIC"))
        out["tmict"] = await k.apic.read("TMICT")
        out["programmed"] = k.apic.timers[0].programmed

    k, _ = boot(main, tick_mode="periodic", tsc_deadline=False)
    assert out["mode"][0] == out["mode"][1]
    assert out["tmict"] == k.clock_hz // k.HZ // 16
    assert out["programmed"] == 0


def test_clock_monotonic_and_realtime_follow_the_hpet_counter(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        tk = k.timekeeping
        out["source"] = tk.clocksource
        t0 = await tk.ktime_get()
        c0 = await k.hpet.read_counter()
        await k.mdelay(3)
        c1 = await k.hpet.read_counter()
        t1 = await tk.ktime_get()
        out["mono_delta"] = t1 - t0
        out["counter_ns"] = (c1 - c0) * k.hpet.period_fs // 1_000_000
        sec, nsec = await tk.clock_gettime(CLOCK_MONOTONIC)
        out["mono_ts"] = (sec, nsec)
        epoch = 1_700_000_000 * NSEC_PER_SEC
        await tk.do_settimeofday64(epoch)
        await k.mdelay(2)
        rsec, rnsec = await tk.clock_gettime(CLOCK_REALTIME)
        out["real_elapsed"] = rsec * NSEC_PER_SEC + rnsec - epoch
        m1 = await tk.ktime_get()
        out["mono_after_settime"] = m1 - t1
        samples = [await tk.ktime_get() for _ in range(20)]
        out["monotonic"] = all(b >= a for a, b in itertools.pairwise(samples))

    boot(main, lapic_timer=True)
    assert out["source"] == "hpet"
    # 3 ms of mdelay plus the few bus accesses around it
    assert 3_000_000 <= out["mono_delta"] <= 3_010_000
    # the two clocks differ only by the bus accesses between their reads (a few cycles)
    cycle_ns = NSEC_PER_SEC // load_default().platform.clock_hz
    assert abs(out["mono_delta"] - out["counter_ns"]) <= 30 * cycle_ns
    assert out["mono_ts"][1] < NSEC_PER_SEC
    assert 2_000_000 <= out["real_elapsed"] <= 2_010_000
    assert 2_000_000 <= out["mono_after_settime"] <= 2_020_000  # settimeofday leaves MONOTONIC alone
    assert out["monotonic"]


def test_soft_lockup_detected(boot: Any) -> None:
    """CPU 1 spins 60 ms with preemption off: its stopper thread cannot run."""
    out: dict[str, Any] = {}

    async def hog(k: Kernel) -> None:
        k.preempt_disable()
        await k.hang(6_000_000)  # 60 ms at 100 MHz, interrupts on
        await k.preempt_enable()

    async def main(k: Kernel) -> None:
        await k.msleep(10)
        out["before"] = list(k.watchdog.events)
        t = k.kthread_create_on_cpu(hog, k, cpu=1, name="hog")
        await k.kthread_join(t)
        await k.msleep(10)
        out["events"] = list(k.watchdog.events)

    k, _ = boot(main, watchdog=True)
    assert out["before"] == []
    soft = [e for e in out["events"] if e.kind == "soft"]
    assert soft and {e.cpu for e in soft} == {1}
    assert soft[0].comm == "hog"
    assert soft[0].seconds >= 20  # Linux seconds (scaled): over the 2 x thresh limit
    assert not [e for e in out["events"] if e.kind == "hard"]
    assert "BUG: soft lockup - CPU#1 stuck for" in k.dmesg()


def test_hard_lockup_detected_and_backtraced_by_nmi(boot: Any) -> None:
    """CPU 1 spins 60 ms with interrupts off: its watchdog hrtimer stops, CPU 0
    (its buddy) notices and sends it an NMI for a backtrace."""
    out: dict[str, Any] = {}

    async def hog(k: Kernel) -> None:
        flags = k.local_irq_save()
        await k.hang(6_000_000)
        k.local_irq_restore(flags)

    async def main(k: Kernel) -> None:
        await k.msleep(10)
        t = k.kthread_create_on_cpu(hog, k, cpu=1, name="irqoff")
        await k.kthread_join(t)
        await k.msleep(10)
        out["events"] = list(k.watchdog.events)
        out["nmi"] = [k.cpus[c].irq_stat["NMI"] for c in k.online_cpus()]

    k, _ = boot(main, watchdog=True)
    kinds = [(e.kind, e.cpu) for e in out["events"]]
    assert ("hard", 1) in kinds
    assert ("backtrace", 1) in kinds
    assert kinds.index(("hard", 1)) < kinds.index(("backtrace", 1))
    bt = next(e for e in out["events"] if e.kind == "backtrace")
    assert bt.comm == "irqoff"
    assert out["nmi"][1] >= 1
    assert "Watchdog detected hard LOCKUP on cpu 1" in k.dmesg()


def test_no_lockup_reported_on_a_healthy_system(boot: Any) -> None:
    async def main(k: Kernel) -> None:
        await k.msleep(80)

    k, _ = boot(main, watchdog=True)
    assert k.watchdog.events == []
    assert all(n > 10 for n in k.watchdog.hrtimer_interrupts)


def test_keepalive_fed_keeps_running_then_resets_the_platform(boot: Any) -> None:
    out: dict[str, Any] = {"fed": 0}

    async def main(k: Kernel) -> None:
        ka = Keepalive(k, channel=2, delivery="NMI")
        out["ka"] = ka
        await ka.start(timeout_ms=5)
        for _ in range(5):
            await k.msleep(1)
            await ka.feed()
            out["fed"] += 1
        out["alive_after_feeding"] = k.reset_requested is None
        await k.msleep(20)  # stop feeding
        out["not_reached"] = True

    k, result = boot(main, watchdog=False)
    assert out["fed"] == 5 and out["alive_after_feeding"]
    assert "not_reached" not in out
    assert result is None
    assert k.reset_requested is not None and "keepalive expired" in k.reset_requested
    assert out["ka"].expired
    assert "keepalive not fed" in k.dmesg()


def test_keepalive_fixed_delivery_through_request_irq(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        ka = Keepalive(k, channel=2, delivery="FIXED")
        out["ka"] = ka
        await ka.start(timeout_ms=1)
        out["pin"] = ka.pin
        await k.msleep(5)
        out["not_reached"] = True

    k, _ = boot(main, watchdog=False)
    assert "not_reached" not in out
    assert out["pin"] is not None and out["pin"] >= 16
    assert k.reset_requested is not None
    assert sum(k.irq.descs[out["pin"]].kstat) >= 1
