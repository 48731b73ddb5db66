"""Cross-CPU calls (reference B.9) and the preemption counter on the model backend."""

from __future__ import annotations

from typing import Any

import pytest

from irqforge.sw.kernel import Kernel, KernelBug
from irqforge.sw.sched import PRIO_KWORKER_HI
from irqforge.sw.smp import CallSingleData
from irqforge.sw.softirq import NET_RX_SOFTIRQ

# Linux include/linux/preempt.h and kernel/smp.c, as literals (not imported from irqforge.sw)
SOFTIRQ_OFFSET = 0x100  # 1 << SOFTIRQ_SHIFT (8)
SOFTIRQ_DISABLE_OFFSET = 0x200  # 2 * SOFTIRQ_OFFSET
HARDIRQ_OFFSET = 0x10000  # 1 << HARDIRQ_SHIFT (16)
CSD_FLAG_LOCK = 0x01

HOG_CYCLES = 200_000  # 2 ms with interrupts off on CPU 1


async def _irqs_off_on_cpu1(k: Kernel, started: list[int]) -> None:
    async def hog(kk: Kernel) -> None:
        flags = kk.local_irq_save()
        started.append(kk.machine.now())
        await kk.hang(HOG_CYCLES)
        kk.local_irq_restore(flags)

    k.kthread_create_on_cpu(hog, k, cpu=1, name="irqs_off")
    await k.spin_until(lambda: bool(started), None, k.machine.now() + 1_000_000)


def test_wait_true_returns_after_the_remote_ran(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        ran: list[tuple[int, int]] = []
        started: list[int] = []
        await _irqs_off_on_cpu1(k, started)
        k.preempt_disable()
        await k.smp.smp_call_function_many([0, 1], lambda _i: ran.append((k.smp_processor_id(), k.machine.now())),
                                           None, True)
        out["returned_at"] = k.machine.now()
        out["ran_at_return"] = list(ran)
        await k.preempt_enable()
        out["started"] = started[0]

    boot(main, lapic_timer=False)
    ran = out["ran_at_return"]
    assert [c for c, _ in ran] == [1]  # never on the calling CPU
    assert ran[0][1] >= out["started"] + HOG_CYCLES  # CPU 1 took the IPI only after its irqs-off section
    assert out["returned_at"] >= ran[0][1]


def test_wait_false_returns_at_once_and_the_call_runs_later(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        ran: list[int] = []
        started: list[int] = []
        await _irqs_off_on_cpu1(k, started)
        k.preempt_disable()
        t0 = k.machine.now()
        await k.smp.smp_call_function_many([1], lambda _i: ran.append(k.machine.now()), None, False)
        out["call_cycles"] = k.machine.now() - t0
        out["ran_at_return"] = len(ran)
        await k.preempt_enable()
        await k.spin_until(lambda: bool(ran), k.smp.csd_wq, k.machine.now() + 10 * HOG_CYCLES)
        out["ran"] = ran[0] - started[0]

    boot(main, lapic_timer=False)
    assert out["ran_at_return"] == 0
    assert out["call_cycles"] < HOG_CYCLES // 10
    assert out["ran"] >= HOG_CYCLES


def test_an_ipi_only_when_the_queue_was_empty(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        ran: list[int] = []
        started: list[int] = []
        await _irqs_off_on_cpu1(k, started)
        sent0 = dict(k.smp.ipis_sent)
        csds = [CallSingleData(func=lambda i: ran.append(i), info=i) for i in range(3)]
        rcs = [await k.smp.smp_call_function_single_async(1, c) for c in csds]
        out["rcs"] = rcs
        out["busy"] = await k.smp.smp_call_function_single_async(1, csds[0])  # still locked
        out["locked"] = [bool(c.flags & CSD_FLAG_LOCK) for c in csds]
        out["sent"] = {n: k.smp.ipis_sent[n] - sent0[n] for n in sent0}
        await k.spin_until(lambda: len(ran) == 3, k.smp.csd_wq, k.machine.now() + 10 * HOG_CYCLES)
        out["ran"] = list(ran)
        out["cal"] = k.cpus[1].irq_stat["CAL"]
        out["unlocked"] = [not c.flags & CSD_FLAG_LOCK for c in csds]
        # the queue is empty again: the next call sends a new IPI
        await k.smp.smp_call_function_single(1, lambda _i: None, None, True)
        out["sent_after"] = k.smp.ipis_sent["CALL_FUNCTION_SINGLE"] - sent0["CALL_FUNCTION_SINGLE"]
        out["cal_after"] = k.cpus[1].irq_stat["CAL"]

    boot(main, lapic_timer=False)
    assert out["rcs"] == [0, 0, 0]
    assert out["busy"] == -16
    assert out["locked"] == [True, True, True]
    assert out["sent"]["CALL_FUNCTION_SINGLE"] == 1 and out["sent"]["CALL_FUNCTION"] == 0
    assert out["ran"] == [0, 1, 2]  # FIFO
    assert out["cal"] == 1
    assert out["unlocked"] == [True, True, True]
    assert out["sent_after"] == 2 and out["cal_after"] == 2


def test_several_targets_get_call_function_ipis(spec: Any) -> None:
    from irqforge.sim.backends.model import ModelMachine
    from irqforge.sw.kernel import KernelConfig

    spec4 = spec.with_cpus(4)
    m = ModelMachine(spec4)
    k = Kernel(m, spec4, KernelConfig(watchdog=False, lapic_timer=False))
    out: dict[str, Any] = {}

    async def main(kk: Kernel) -> None:
        ran: list[int] = []
        kk.preempt_disable()
        sent0 = dict(kk.smp.ipis_sent)
        await kk.smp.smp_call_function_many([0, 1, 2, 3], lambda _i: ran.append(kk.smp_processor_id()), None, True)
        out["ran"] = sorted(ran)
        out["sent"] = {n: kk.smp.ipis_sent[n] - sent0[n] for n in sent0}
        await kk.smp.on_each_cpu(lambda _i: ran.append(kk.smp_processor_id()), None, True)
        out["ran_all"] = sorted(ran[3:])
        await kk.preempt_enable()
        out["cal"] = [kk.cpus[c].irq_stat["CAL"] for c in kk.online_cpus()]

    m.run(k.run(main), max_cycles=50_000_000)
    assert out["ran"] == [1, 2, 3]
    assert out["sent"]["CALL_FUNCTION"] == 3 and out["sent"]["CALL_FUNCTION_SINGLE"] == 0
    assert out["ran_all"] == [0, 1, 2, 3]  # on_each_cpu runs locally too
    assert out["cal"] == [0, 2, 2, 2]


def test_preempt_counter_nesting_and_contexts(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        cpu = k.this_cpu
        out["base"] = cpu.preempt_count
        k.preempt_disable()
        k.preempt_disable()
        out["nested"] = cpu.preempt_count
        out["atomic"] = cpu.in_atomic()
        out["interrupt"] = cpu.in_interrupt()
        await k.preempt_enable()
        await k.preempt_enable()
        me = k.get_cpu()
        out["get_cpu"] = (me, cpu.preempt_count)
        await k.put_cpu()
        k.softirq.local_bh_disable()
        out["bh"] = (cpu.preempt_count, cpu.in_softirq(), cpu.in_serving_softirq())
        seen: list[int] = []
        k.softirq.open_softirq(NET_RX_SOFTIRQ, lambda: seen.append(k.this_cpu.preempt_count))
        k.softirq.raise_softirq(NET_RX_SOFTIRQ)
        await k.softirq.local_bh_enable()
        out["in_softirq"] = list(seen)
        out["after_bh"] = cpu.preempt_count
        try:
            k.preempt_enable_no_resched()
        except KernelBug as e:
            out["underflow"] = str(e)
        k.preempt_disable()
        try:
            await k.schedule()
        except KernelBug as e:
            out["atomic_sched"] = str(e)
        await k.preempt_enable()

    boot(main, lapic_timer=False)
    assert out["base"] == 0
    assert out["nested"] == 2 and out["atomic"] and not out["interrupt"]
    assert out["get_cpu"] == (0, 1)
    assert out["bh"] == (SOFTIRQ_DISABLE_OFFSET, True, False)
    assert out["in_softirq"] == [SOFTIRQ_OFFSET + 1]  # serving (+ the bh_enable's preempt_disable)
    assert out["after_bh"] == 0
    assert "underflow" in out["underflow"]
    assert "scheduling while atomic" in out["atomic_sched"]


def test_preemption_waits_for_preempt_enable(boot: Any) -> None:
    """A higher-priority thread woken while preemption is off runs at preempt_enable."""
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        order: list[str] = []

        async def urgent(kk: Kernel) -> None:
            order.append("urgent")

        k.preempt_disable()
        k.kthread_create_on_cpu(urgent, k, cpu=0, name="urgent", prio=PRIO_KWORKER_HI)
        await k.udelay(50)  # interrupt points, but no preemption
        order.append("still main")
        await k.preempt_enable()
        order.append("after enable")
        out["order"] = order

    boot(main, lapic_timer=True)
    assert out["order"] == ["still main", "urgent", "after enable"]


def test_hardirq_context_count(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        from irqforge.sw.irq import IRQ_HANDLED, IRQF_TRIGGER_RISING
        from irqforge.sw.scenario import SimDevice

        dev = SimDevice(k, "d", k.spec.platform.isa_pin(1), level=False)

        def h(_i: int, _d: Any) -> int:
            dev.ack()
            c = k.this_cpu
            out["pc"] = c.preempt_count
            out["flags"] = (c.in_irq(), c.in_interrupt(), c.if_flag)
            dev.done.complete()
            return IRQ_HANDLED

        assert await k.irq.request_irq(1, h, IRQF_TRIGGER_RISING, "d", dev) == 0
        dev.fire()
        await dev.done.wait_for_completion()

    boot(main, lapic_timer=False)
    assert out["pc"] == HARDIRQ_OFFSET
    assert out["flags"] == (True, True, False)


@pytest.mark.parametrize("wait", [True, False])
def test_smp_call_function_single_on_self_runs_with_irqs_off(boot: Any, wait: bool) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        rc = await k.smp.smp_call_function_single(0, lambda _i: out.setdefault("if", k.this_cpu.if_flag), None, wait)
        out["rc"] = rc
        out["offline"] = await k.smp.smp_call_function_single(7, lambda _i: None, None, wait)

    boot(main, lapic_timer=False)
    assert out["rc"] == 0 and out["if"] is False
    assert out["offline"] == -6
