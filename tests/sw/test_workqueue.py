"""Workqueues on the model backend (reference B.5): return values, self-requeue,
non-reentrancy, delayed work through the timer wheel, flushing, the system queue."""

from __future__ import annotations

from typing import Any

from irqforge.sw.kernel import Kernel
from irqforge.sw.sched import WaitQueue
from irqforge.sw.workqueue import DelayedWork, WorkStruct


def test_queue_work_false_while_pending_and_flush_work_results(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        ran: list[str] = []
        w = WorkStruct(lambda _w: ran.append(k.current.comm), "w")
        wq = k.wq.alloc_workqueue("test_wq", 0, 0)
        out["idle_flush"] = await k.wq.flush_work(w)
        out["q1"] = await k.wq.queue_work_on(1, wq, w)
        out["q2"] = await k.wq.queue_work_on(1, wq, w)
        out["q3"] = await k.wq.queue_work(wq, w)
        out["pending"] = k.wq.work_pending(w)
        out["flush"] = await k.wq.flush_work(w)
        out["ran"] = list(ran)
        out["pending_after"] = k.wq.work_pending(w)
        out["flush_again"] = await k.wq.flush_work(w)

    boot(main, lapic_timer=False)
    assert out["idle_flush"] is False
    assert (out["q1"], out["q2"], out["q3"]) == (True, False, False)
    assert out["pending"] is True
    assert out["flush"] is True
    assert out["ran"] == ["kworker/1:0"]
    assert out["pending_after"] is False
    assert out["flush_again"] is False


def test_cancel_work_sync_true_when_pending_false_when_idle(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        ran: list[int] = []
        w = WorkStruct(lambda _w: ran.append(1), "c")
        await k.wq.queue_work_on(1, k.wq.system_wq, w)
        out["cancel_pending"] = await k.wq.cancel_work_sync(w)
        await k.msleep(2)
        out["ran"] = len(ran)
        out["cancel_idle"] = await k.wq.cancel_work_sync(w)
        out["requeue"] = await k.wq.queue_work_on(1, k.wq.system_wq, w)  # usable again
        await k.wq.flush_work(w)
        out["ran_after"] = len(ran)

    boot(main, lapic_timer=True)
    assert out["cancel_pending"] is True
    assert out["ran"] == 0
    assert out["cancel_idle"] is False
    assert out["requeue"] is True
    assert out["ran_after"] == 1


def test_self_requeueing_work_and_cancel_beats_it(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        count = [0]

        async def five(w: WorkStruct) -> None:
            count[0] += 1
            if count[0] < 5:
                out.setdefault("requeue_results", []).append(await k.wq.queue_work(k.wq.system_wq, w))

        w = WorkStruct(five, "five")
        await k.wq.schedule_work(w)
        await k.wq.flush_workqueue(k.wq.system_wq)
        await k.spin_until(lambda: not k.wq.work_busy(w), k.wq.done_wq, k.machine.now() + 10_000_000)
        out["five"] = count[0]

        forever = [0]

        async def loop(w: WorkStruct) -> None:
            forever[0] += 1
            await k.udelay(20)
            await k.wq.queue_work(k.wq.system_wq, w)

        w2 = WorkStruct(loop, "forever")
        await k.wq.queue_work_on(1, k.wq.system_wq, w2)
        await k.spin_until(lambda: forever[0] >= 3, k.wq.done_wq, k.machine.now() + 10_000_000)
        out["cancel"] = await k.wq.cancel_work_sync(w2)
        n = forever[0]
        out["busy_after_cancel"] = k.wq.work_busy(w2)
        await k.msleep(3)
        out["ran_after_cancel"] = forever[0] - n

    boot(main, lapic_timer=True)
    assert out["five"] == 5
    assert out["requeue_results"] == [True] * 4
    assert out["busy_after_cancel"] is False
    assert out["ran_after_cancel"] == 0


def test_work_is_not_reentrant(boot: Any) -> None:
    """Queued on CPU 0 while it still runs on CPU 1: it waits for the running
    instance and runs on the pool that ran it (CPU 1), never twice at once."""
    out: dict[str, Any] = {"overlap": 0}

    async def main(k: Kernel) -> None:
        active = [False]
        started = [0]
        ev = WaitQueue(k, "started")

        async def slow(w: WorkStruct) -> None:
            if active[0]:
                out["overlap"] += 1
            active[0] = True
            started[0] += 1
            ev.wake_up_all()
            await k.udelay(300)
            active[0] = False

        w = WorkStruct(slow, "slow")
        await k.wq.queue_work_on(1, k.wq.system_wq, w)
        await k.spin_until(lambda: started[0] == 1, ev, k.machine.now() + 10_000_000)
        out["running"] = k.wq.work_busy(w) and not k.wq.work_pending(w)
        # now running on CPU 1 (PENDING clear): queue it on CPU 0
        out["queued_while_running"] = await k.wq.queue_work_on(0, k.wq.system_wq, w)
        await k.wq.flush_work(w)
        await k.wq.flush_work(w)
        out["ran_on"] = list(w.ran_on)

    boot(main, lapic_timer=True)
    assert out["running"] is True
    assert out["queued_while_running"] is True
    assert out["overlap"] == 0
    assert out["ran_on"] == [1, 1]


def test_delayed_work_runs_through_the_timer_wheel(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        t = k.timers
        at: list[int] = []
        dw = DelayedWork(lambda _w: at.append(t.jiffies), "dw")
        start = t.jiffies
        out["q"] = await k.wq.queue_delayed_work(k.wq.system_wq, dw, 5)
        out["q_again"] = await k.wq.queue_delayed_work(k.wq.system_wq, dw, 5)
        out["timer_pending"] = t.timer_pending(dw.timer)
        await t.wait_jiffies(start + 4)
        out["early"] = list(at)
        await t.wait_jiffies(start + 10)
        out["at"] = [j - start for j in at]
        # delay 0 queues at once; mod_delayed_work on an idle item returns False
        dw0 = DelayedWork(lambda _w: at.append(-1), "dw0")
        await k.wq.queue_delayed_work(k.wq.system_wq, dw0, 0)
        out["timer_pending0"] = t.timer_pending(dw0.timer)
        await k.wq.flush_work(dw0)
        out["mod_idle"] = await k.wq.mod_delayed_work_on(None, k.wq.system_wq, dw, 50)
        out["mod_pending"] = await k.wq.mod_delayed_work_on(None, k.wq.system_wq, dw, 2)
        s2 = t.jiffies
        await t.wait_jiffies(s2 + 6)
        out["at2"] = [j - s2 for j in at[2:]]

    boot(main, lapic_timer=True)
    assert out["q"] is True and out["q_again"] is False
    assert out["timer_pending"] is True
    assert out["early"] == []
    assert len(out["at"]) == 1 and 5 <= out["at"][0] <= 7
    assert out["timer_pending0"] is False
    assert out["mod_idle"] is False and out["mod_pending"] is True
    assert len(out["at2"]) == 1 and 2 <= out["at2"][0] <= 4


def test_flush_workqueue_waits_for_everything_queued_before(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        done: list[str] = []

        def make(name: str, delay_us: int) -> WorkStruct:
            async def fn(_w: WorkStruct) -> None:
                await k.udelay(delay_us)
                done.append(name)

            return WorkStruct(fn, name)

        wq = k.wq.alloc_workqueue("flushme", 0, 0)
        items = [make(f"w{i}", 50 * (i + 1)) for i in range(6)]
        for i, w in enumerate(items):
            await k.wq.queue_work_on(i % 2, wq, w)
        await k.wq.flush_workqueue(wq)
        out["done"] = sorted(done)
        out["busy"] = [k.wq.work_busy(w) for w in items]

    boot(main, lapic_timer=True)
    assert out["done"] == [f"w{i}" for i in range(6)]
    assert out["busy"] == [False] * 6


def test_system_events_queue(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        where: list[tuple[int, str]] = []
        w = WorkStruct(lambda _w: where.append((k.smp_processor_id(), k.current.comm)), "ev")
        out["name"] = k.wq.system_wq.name
        assert await k.wq.schedule_work(w)
        await k.wq.flush_work(w)
        assert await k.wq.schedule_work_on(1, w)
        await k.wq.flush_work(w)
        out["where"] = list(where)
        out["ctx"] = []

        def ctx(_w: WorkStruct) -> None:
            cpu = k.this_cpu
            out["ctx"].append((cpu.in_interrupt(), cpu.if_flag))

        w2 = WorkStruct(ctx, "ctx")
        await k.wq.schedule_work(w2)
        await k.wq.flush_work(w2)

    boot(main, lapic_timer=False)
    assert out["name"] == "events"
    assert out["where"] == [(0, "kworker/0:0"), (1, "kworker/1:0")]
    assert out["ctx"] == [(False, True)]  # process context, interrupts on
