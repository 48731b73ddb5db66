"""A first firmware program: a shared IRQ, a tasklet, a workqueue, a timer and an IPI.

This is the example of ``docs/firmware.md``; the test suite runs it on every
backend present and checks the numbers printed here. Run it with::

    irqforge sim --sim verilator --scenario examples/first_firmware.py:main
    irqforge sim --sim model     --scenario examples/first_firmware.py:main --json

Two simulated network cards share the level-triggered IO-APIC pin 16. Each
interrupt is acknowledged by the card's handler (top half), which schedules a
tasklet; the tasklet queues work on a workqueue; a timer-wheel timer fires
after two ticks; and a function call IPI runs a function on every other CPU.
"""

from __future__ import annotations

from typing import Any

from irqforge.sw import Kernel, KernelConfig, Machine
from irqforge.sw.irq import IRQ_HANDLED, IRQ_NONE, IRQF_SHARED, IRQF_TRIGGER_HIGH
from irqforge.sw.sched import Completion

#: the IO-APIC pin both cards are wired to (PCI INTA# of slot 0 on most boards)
SHARED_PIN = 16


class Card:
    """A device model: a status bit the handler reads, an interrupt line it drives."""

    def __init__(self, k: Kernel, name: str) -> None:
        self.k = k
        self.name = name
        self.pending = False
        self.handled = 0
        self.done = Completion(k)

    def raise_irq(self) -> None:
        self.pending = True
        self.k.machine.set_irq(SHARED_PIN, 1)

    def ack(self, other: Card) -> None:
        self.pending = False
        if not other.pending:  # a level line stays high while either card asserts it
            self.k.machine.set_irq(SHARED_PIN, 0)


async def firmware(k: Kernel, rounds: int) -> dict[str, Any]:
    eth0, eth1 = Card(k, "eth0"), Card(k, "eth1")
    log: list[str] = []
    work_runs: list[int] = []

    def rx_work_fn(work: Any) -> None:  # process context, on a kworker thread
        work_runs.append(k.smp_processor_id())

    rx_wq = k.alloc_workqueue("rx_wq", 0, 0)
    rx_work = k.INIT_WORK(rx_work_fn, "rx_work")

    async def rx_tasklet_fn(_data: Any) -> None:  # softirq context (TASKLET_SOFTIRQ)
        log.append("tasklet")
        await k.queue_work(rx_wq, rx_work)

    rx_tasklet = k.tasklet_init(rx_tasklet_fn, None, "rx_tasklet")

    def make_handler(card: Card, other: Card) -> Any:
        def handler(irq: int, dev_id: Any) -> int:  # hard-IRQ context
            if not card.pending:
                return IRQ_NONE  # a shared line: not ours
            card.ack(other)
            card.handled += 1
            log.append(card.name)
            k.tasklet_schedule(rx_tasklet)
            card.done.complete()
            return IRQ_HANDLED

        return handler

    irq = SHARED_PIN  # one IO-APIC: GSI n is IRQ n, as on Linux above the ISA range
    flags = IRQF_SHARED | IRQF_TRIGGER_HIGH
    assert await k.request_irq(irq, make_handler(eth0, eth1), flags, "eth0", eth0) == 0
    assert await k.request_irq(irq, make_handler(eth1, eth0), flags, "eth1", eth1) == 0

    for i in range(rounds):
        card = (eth0, eth1)[i % 2]
        card.done.reinit()
        card.raise_irq()
        await card.done.wait_for_completion()
        await k.flush_work(rx_work)

    fired: list[int] = []
    timer = k.timer_setup(lambda t: fired.append(k.jiffies), "hello_timer")
    start = k.jiffies
    k.mod_timer(timer, start + 2)

    ipi_cpus: list[int] = []
    await k.smp_call_function(lambda _info: ipi_cpus.append(k.smp_processor_id()), None, True)

    while not fired:  # sleep until the timer has run (process context may sleep)
        await k.msleep(1)

    return {
        "irq": irq,
        "handled": {"eth0": eth0.handled, "eth1": eth1.handled},
        "tasklet_runs": log.count("tasklet"),
        "work_runs": len(work_runs),
        "timer_delay_jiffies": fired[0] - start,
        "ipi_cpus": sorted(ipi_cpus),
        "proc_interrupts": k.proc_interrupts(),
    }


async def main(machine: Machine, rounds: int = 6) -> dict[str, Any]:
    """The scenario: ``async def scenario(machine, **kwargs) -> dict``."""
    spec = getattr(machine, "spec", None)  # the spec the platform was built from
    k = Kernel(machine, spec, KernelConfig(watchdog=False))

    async def kernel_main(kk: Kernel) -> dict[str, Any]:
        return await firmware(kk, rounds)

    return await k.run(kernel_main)
