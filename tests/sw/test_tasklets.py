"""Tasklets on the model backend: scheduling rules, disable/enable, kill,
self-requeue and "never concurrent with itself" (reference B.2)."""

from __future__ import annotations

from typing import Any

from irqforge.sw.kernel import Kernel
from irqforge.sw.tasklet import TASKLET_STATE_RUN, TASKLET_STATE_SCHED


async def _run_softirqs(k: Kernel) -> None:
    """Process context: run what is pending now (``local_bh_enable``)."""
    k.softirq.local_bh_disable()
    await k.softirq.local_bh_enable()


def test_schedule_twice_runs_once_and_requeue_from_callback(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        runs: list[int] = []
        t = k.tasklets.tasklet_init(lambda _d: runs.append(1), None, "once")
        k.softirq.local_bh_disable()
        out["first"] = k.tasklets.tasklet_schedule(t)
        out["second"] = k.tasklets.tasklet_schedule(t)  # already SCHED: no-op
        await k.softirq.local_bh_enable()
        out["once"] = len(runs)

        again: list[int] = []

        def requeue(_d: Any) -> None:
            again.append(k.smp_processor_id())
            out.setdefault("sched_in_cb", t2.test_bit(TASKLET_STATE_SCHED))
            if len(again) < 4:
                assert k.tasklets.tasklet_schedule(t2)  # SCHED was cleared before the call

        t2 = k.tasklets.tasklet_init(requeue, None, "requeue")
        k.softirq.local_bh_disable()
        k.tasklets.tasklet_schedule(t2)
        await k.softirq.local_bh_enable()
        out["again"] = list(again)
        out["state"] = t2.state

    boot(main, lapic_timer=False)
    assert out["first"] is True and out["second"] is False
    assert out["once"] == 1
    assert out["sched_in_cb"] is False
    assert out["again"] == [0, 0, 0, 0]
    assert out["state"] == 0


def test_disabled_tasklet_is_requeued_until_enabled(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        runs: list[int] = []
        t = k.tasklets.tasklet_init(lambda _d: runs.append(1), None, "dis")
        await k.tasklets.tasklet_disable(t)
        k.softirq.local_bh_disable()
        k.tasklets.tasklet_schedule(t)
        before = k.tasklets.requeues
        await k.softirq.local_bh_enable()
        out["runs_disabled"] = len(runs)
        out["requeued"] = k.tasklets.requeues - before
        out["still_sched"] = t.test_bit(TASKLET_STATE_SCHED)
        k.tasklets.tasklet_enable(t)
        await _run_softirqs(k)
        out["runs_enabled"] = len(runs)
        out["state"] = t.state

    boot(main, lapic_timer=False)
    assert out["runs_disabled"] == 0
    assert out["requeued"] >= 1
    assert out["still_sched"]
    assert out["runs_enabled"] == 1
    assert out["state"] == 0


def test_tasklet_disable_waits_for_running_callback(boot: Any) -> None:
    """CPU 1 runs a slow tasklet; ``tasklet_disable`` on CPU 0 returns only after it."""
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        log: list[str] = []

        async def slow(_d: Any) -> None:
            log.append("start")
            await k.udelay(200)
            log.append("end")

        t = k.tasklets.tasklet_init(slow, None, "slow")
        await k.smp.smp_call_function_single(1, lambda _i: k.tasklets.tasklet_schedule(t), None, False)
        await k.spin_until(lambda: t.test_bit(TASKLET_STATE_RUN), None, k.machine.now() + 1_000_000)
        out["running_when_disabling"] = t.test_bit(TASKLET_STATE_RUN)
        await k.tasklets.tasklet_disable(t)
        out["log_after_disable"] = list(log)
        k.tasklets.tasklet_enable(t)

    boot(main, lapic_timer=False)
    assert out["running_when_disabling"]
    assert out["log_after_disable"] == ["start", "end"]


def test_tasklet_kill_waits_for_the_pending_run(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        runs: list[str] = []
        t = k.tasklets.tasklet_init(lambda _d: runs.append(k.current.comm), None, "killme")
        k.tasklets.tasklet_schedule(t)  # process context: ksoftirqd runs it
        out["before"] = len(runs)
        await k.tasklets.tasklet_kill(t)
        out["after"] = list(runs)
        out["state"] = t.state
        await k.tasklets.tasklet_kill(t)  # idle: returns at once
        out["after_second_kill"] = len(runs)

    boot(main, lapic_timer=False)
    assert out["before"] == 0
    assert out["after"] == ["ksoftirqd/0"]
    assert out["state"] == 0
    assert out["after_second_kill"] == 1


def test_tasklet_never_runs_concurrently_with_itself(boot: Any) -> None:
    """While its callback runs on CPU 0 the tasklet is scheduled on CPU 1: CPU 1
    re-queues it (RUN is held) and runs it only after CPU 0 finished."""
    out: dict[str, Any] = {"overlap": 0}

    async def main(k: Kernel) -> None:
        active = [False]
        ran: list[tuple[int, str]] = []

        async def body(_d: Any) -> None:
            cpu = k.smp_processor_id()
            if active[0]:
                out["overlap"] += 1
            active[0] = True
            ran.append((cpu, "start"))
            if len(ran) == 1:
                await k.smp.smp_call_function_single(1, lambda _i: k.tasklets.tasklet_schedule(t), None, False)
            await k.udelay(100)
            ran.append((cpu, "end"))
            active[0] = False

        t = k.tasklets.tasklet_init(body, None, "serial")
        requeues = k.tasklets.requeues
        k.softirq.local_bh_disable()
        k.tasklets.tasklet_schedule(t)
        await k.softirq.local_bh_enable()
        await k.spin_until(lambda: len(ran) >= 4, None, k.machine.now() + 5_000_000)
        out["ran"] = list(ran)
        out["requeues"] = k.tasklets.requeues - requeues
        out["runs"] = t.runs

    boot(main, lapic_timer=False)
    assert out["overlap"] == 0
    assert out["ran"] == [(0, "start"), (0, "end"), (1, "start"), (1, "end")]
    assert out["requeues"] >= 1
    assert out["runs"] == 2


def test_hi_tasklets_run_before_normal_ones(boot: Any) -> None:
    out: list[str] = []

    async def main(k: Kernel) -> None:
        lo = k.tasklets.tasklet_init(lambda _d: out.append("lo"), None, "lo")
        hi = k.tasklets.tasklet_init(lambda _d: out.append("hi"), None, "hi")
        k.softirq.local_bh_disable()
        k.tasklets.tasklet_schedule(lo)
        k.tasklets.tasklet_hi_schedule(hi)
        await k.softirq.local_bh_enable()

    boot(main, lapic_timer=False)
    assert out == ["hi", "lo"]
