"""The Linux names of docs/firmware.md are reachable on the kernel object and work there."""

from __future__ import annotations

import inspect
from typing import Any

from irqforge.sw import IRQ_HANDLED, IRQF_TRIGGER_RISING
from irqforge.sw.api import LINUX_API
from irqforge.sw.kernel import Kernel
from irqforge.sw.scenario import SimDevice
from irqforge.sw.softirq import NET_RX_SOFTIRQ
from irqforge.sw.timer import TimerList


def test_every_contract_name_is_a_kernel_attribute(spec: Any) -> None:
    from irqforge.sim.backends.model import ModelMachine

    k = Kernel(ModelMachine(spec), spec)
    missing = [n for n in LINUX_API if not hasattr(k, n)]
    assert missing == []
    for name in ("request_irq", "queue_work", "flush_work", "hrtimer_start", "smp_call_function_many"):
        assert inspect.iscoroutinefunction(getattr(k, name)), name
    for name in ("tasklet_schedule", "mod_timer", "open_softirq", "local_irq_save", "set_intr_gate"):
        assert not inspect.iscoroutinefunction(getattr(k, name)), name
    assert "request_irq" in (Kernel.__doc__ or "") + (inspect.getmodule(Kernel).__doc__ or "")  # type: ignore[union-attr]


def test_a_driver_written_with_linux_names(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        log: list[str] = []
        dev = SimDevice(k, "kbd", k.spec.platform.isa_pin(1), level=False)
        wq = k.alloc_workqueue("drv", 0, 0)
        work = k.INIT_WORK(lambda _w: log.append("work"), "drv_work")
        t = k.tasklet_init(lambda _d: log.append("tasklet"), None, "drv_tasklet")
        k.open_softirq(NET_RX_SOFTIRQ, lambda: log.append("net_rx"))

        def handler(_irq: int, _d: Any) -> int:
            dev.ack()
            log.append("irq")
            k.tasklet_schedule(t)
            k.raise_softirq(NET_RX_SOFTIRQ)
            dev.done.complete()
            return IRQ_HANDLED

        assert await k.request_irq(1, handler, IRQF_TRIGGER_RISING, "kbd", dev) == 0
        dev.fire()
        await dev.done.wait_for_completion()
        assert await k.queue_work(wq, work)
        assert await k.flush_work(work)
        timer = TimerList(lambda _t: log.append("timer"), "drv_timer")
        assert k.mod_timer(timer, k.jiffies + 2) == 0
        assert k.timer_pending(timer)
        await k.msleep(5)
        flags = k.local_irq_save()
        out["irqs_off"] = k.irqs_disabled()
        k.local_irq_restore(flags)
        k.preempt_disable()
        await k.smp_call_function_many([1], lambda _i: log.append(f"ipi@{k.smp_processor_id()}"), None, True)
        await k.preempt_enable()
        out["proc"] = k.proc_interrupts()
        out["log"] = log
        assert await k.free_irq(1, dev) == "kbd"

    boot(main, lapic_timer=True)
    assert out["irqs_off"] is True
    # hard irq, then its softirqs at irq_exit (NET_RX before TASKLET), then process context
    assert out["log"] == ["irq", "net_rx", "tasklet", "work", "timer", "ipi@1"]
    assert "  1:          1          0  IO-APIC   1-edge      kbd" in out["proc"]
