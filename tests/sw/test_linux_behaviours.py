"""Five behaviours checked against Linux's sources (issue 12): each test names
the Linux function whose behaviour it expects."""

from __future__ import annotations

from typing import Any

import pytest

from irqforge.sw.irq import (
    IRQ_HANDLED,
    IRQ_NONE,
    IRQF_SHARED,
    IRQF_TRIGGER_HIGH,
    IRQF_TRIGGER_MASK,
    IRQF_TRIGGER_RISING,
    SPURIOUS_SAMPLE,
)
from irqforge.sw.kernel import Kernel
from irqforge.sw.scenario import SimDevice
from irqforge.sw.workqueue import WQ_BH, WQ_HIGHPRI, WQ_UNBOUND, WorkStruct

EBUSY = 16


def test_alloc_ordered_workqueue_runs_one_item_at_a_time_in_queueing_order(boot: Any) -> None:
    """include/linux/workqueue.h ``alloc_ordered_workqueue``: ``WQ_UNBOUND |
    __WQ_ORDERED``, max_active 1 — one item at a time, in queueing order, even
    when the items are queued from different CPUs and sleep."""
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        wq = k.wq.alloc_ordered_workqueue("ordered")
        log: list[tuple[str, int]] = []
        works = []
        for i in range(4):

            async def fn(_w: WorkStruct, i: int = i) -> None:
                log.append(("start", i))
                await k.msleep(2)  # a sleeping item: the next one must still wait
                log.append(("end", i))

            works.append(WorkStruct(fn, f"ordered{i}"))
        for i, w in enumerate(works):
            assert await k.wq.queue_work_on(i % k.ncpus, wq, w)
        await k.wq.flush_workqueue(wq)
        out["log"] = log
        out["flags"] = (wq.flags & WQ_UNBOUND, wq.max_active)

    boot(main, lapic_timer=True)
    assert out["flags"] == (WQ_UNBOUND, 1)
    assert out["log"] == [(e, i) for i in range(4) for e in ("start", "end")]


def test_shared_request_without_trigger_type_takes_the_lines_type(boot: Any) -> None:
    """kernel/irq/manage.c ``__setup_irq``: "If the trigger type is not
    specified by the caller, then use the default for this interrupt" — a
    second IRQF_SHARED request without IRQF_TRIGGER_* joins a line set up as
    level-high; a request with a different type still gets -EBUSY."""
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        def h(_irq: int, _dev: Any) -> int:
            return IRQ_NONE

        out["first"] = await k.irq.request_irq(16, h, IRQF_SHARED | IRQF_TRIGGER_HIGH, "first", "a")
        out["untyped"] = await k.irq.request_irq(16, h, IRQF_SHARED, "untyped", "b")
        out["rising"] = await k.irq.request_irq(16, h, IRQF_SHARED | IRQF_TRIGGER_RISING, "rising", "c")
        desc = k.irq.irq_to_desc(16)
        assert desc is not None
        out["actions"] = [(a.name, a.flags & IRQF_TRIGGER_MASK) for a in desc.actions]

    boot(main, lapic_timer=False)
    assert out["first"] == 0
    assert out["untyped"] == 0
    assert out["rising"] == -EBUSY
    assert out["actions"] == [("first", IRQF_TRIGGER_HIGH), ("untyped", IRQF_TRIGGER_HIGH)]


async def _disable_as_spurious(k: Kernel, irq: int) -> None:
    """Feed ``note_interrupt`` 100,000 unhandled interrupts: the line is disabled as spurious."""
    desc = k.irq.irq_to_desc(irq)
    assert desc is not None
    for _ in range(SPURIOUS_SAMPLE):
        await k.irq.note_interrupt(desc, IRQ_NONE)
    assert desc.spurious_disabled


def test_poll_spurious_irqs_polls_shared_lines_only(boot: Any) -> None:
    """kernel/irq/spurious.c ``poll_spurious_irqs`` → ``try_one_irq(desc, true)``:
    "All handlers must agree on IRQF_SHARED, so we test just the first" — a
    spurious-disabled line that is not shared is never polled; a shared one is
    polled every POLL_SPURIOUS_IRQ_INTERVAL (HZ/10)."""
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        calls = {16: 0, 17: 0}

        def handler(irq: int, _dev: Any) -> int:
            calls[irq] += 1
            return IRQ_NONE

        assert await k.irq.request_irq(16, handler, IRQF_TRIGGER_HIGH, "alone", None) == 0
        assert await k.irq.request_irq(17, handler, IRQF_SHARED | IRQF_TRIGGER_HIGH, "shared", "s") == 0
        await _disable_as_spurious(k, 16)
        await _disable_as_spurious(k, 17)
        calls[16] = calls[17] = 0
        await k.msleep(350)  # 3.5 poll intervals (HZ/10 jiffies = 100 ms each)
        out["calls"] = dict(calls)

    boot(main, lapic_timer=True)
    assert out["calls"][16] == 0
    assert out["calls"][17] == 3


def test_bogus_handler_return_value_is_reported_not_counted(boot: Any) -> None:
    """kernel/irq/spurious.c ``note_interrupt``: ``if (bad_action_ret(action_ret))
    { report_bad_irq(desc, action_ret); return; }`` — before ``irq_count++``
    and the unhandled bookkeeping; the report says "bogus return value"."""
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        dev = SimDevice(k, "bogus", k.spec.platform.isa_pin(1), level=False)

        def handler(_irq: int, _dev: Any) -> int:
            dev.ack()
            dev.done.complete()
            return 0x10

        assert await k.irq.request_irq(1, handler, IRQF_TRIGGER_RISING, "bogus", dev) == 0
        desc = k.irq.irq_to_desc(1)
        assert desc is not None
        dev.fire()
        await dev.done.wait_for_completion()
        out["counts"] = (sum(desc.kstat), desc.irq_count, desc.irqs_unhandled)
        out["dmesg"] = k.dmesg()

    boot(main, lapic_timer=False)
    assert out["counts"] == (1, 0, 0)
    assert "irq event 1: bogus return value 10" in out["dmesg"]


def test_wq_bh_runs_in_softirq_on_the_queueing_cpu_in_queue_order(boot: Any) -> None:
    """kernel/workqueue.c (Linux ≥ 6.9) ``WQ_BH``: items run from the queueing
    CPU's tasklet softirq (``kick_bh_pool`` raises TASKLET_SOFTIRQ, HI_SOFTIRQ
    with WQ_HIGHPRI; ``tasklet_action`` calls ``workqueue_softirq_action``), in
    queueing order, never in a kworker; ``alloc_workqueue`` refuses any flag
    but WQ_HIGHPRI and a max_active (``__WQ_BH_ALLOWS``)."""
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        wq = k.wq.alloc_workqueue("bh", WQ_BH, 0)
        hi = k.wq.alloc_workqueue("bh_hi", WQ_BH | WQ_HIGHPRI, 0)
        seen: list[tuple[str, int, bool, str]] = []

        def record(w: WorkStruct) -> None:
            cpu = k.this_cpu
            seen.append((w.name, cpu.id, cpu.in_serving_softirq(), k.current.comm))

        works = [WorkStruct(record, f"w{i}") for i in range(3)]
        for w in works:
            assert await k.wq.queue_work(wq, w)
        for w in works:
            await k.wq.flush_work(w)
        remote = WorkStruct(record, "remote")
        assert await k.wq.queue_work_on(1, wq, remote)
        await k.wq.flush_work(remote)
        # from a hardirq-free, BH-disabled section: both queues run at local_bh_enable, HI first
        k.softirq.local_bh_disable()
        await k.wq.queue_work(wq, WorkStruct(record, "normal"))
        await k.wq.queue_work(hi, WorkStruct(record, "highpri"))
        await k.softirq.local_bh_enable()
        out["seen"] = seen
        for flags, max_active in ((WQ_BH, 4), (WQ_BH | WQ_UNBOUND, 0)):
            with pytest.raises(ValueError, match="WQ_BH allows only WQ_HIGHPRI"):
                k.wq.alloc_workqueue("bad", flags, max_active)

    boot(main, lapic_timer=False)
    seen = out["seen"]
    assert [s[:3] for s in seen[:3]] == [("w0", 0, True), ("w1", 0, True), ("w2", 0, True)]
    assert seen[3][:3] == ("remote", 1, True)
    assert [s[0] for s in seen[4:]] == ["highpri", "normal"]
    assert all(s[2] for s in seen[4:])
    assert not any(s[3].startswith("kworker") for s in seen)


def test_handled_interrupt_still_counted(boot: Any) -> None:
    """The fix for bogus values leaves the common case alone: a handled
    interrupt counts in ``irq_count`` (kernel/irq/spurious.c ``note_interrupt``)."""
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        dev = SimDevice(k, "good", k.spec.platform.isa_pin(1), level=False)

        def handler(_irq: int, _dev: Any) -> int:
            dev.ack()
            dev.done.complete()
            return IRQ_HANDLED

        assert await k.irq.request_irq(1, handler, IRQF_TRIGGER_RISING, "good", dev) == 0
        dev.fire()
        await dev.done.wait_for_completion()
        desc = k.irq.irq_to_desc(1)
        assert desc is not None
        out["count"] = desc.irq_count

    boot(main, lapic_timer=False)
    assert out["count"] == 1
