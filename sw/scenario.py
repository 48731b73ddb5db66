"""The default demo scenario: the whole stack on any Machine backend.

Boot every CPU (INIT-SIPI-SIPI), program the IO-APIC and the HPET, run
``boot_ticks`` jiffies on the HPET legacy tick (IRQ 0), then per-CPU LAPIC
timer ticks until every CPU has taken exactly ``ticks`` of them. Meanwhile:
device interrupts on an ISA edge pin (IRQ 1) and on a level pin shared by
two devices (IRQ 16, fasteoi), with a tasklet and work as bottom halves;
the shared IRQ is moved to CPU 1 half-way through by writing
``/proc/irq/16/smp_affinity``; ``smp_call_function_many`` rounds; a TLB
shootdown on ``munmap``; timer-wheel timers.

Everything counted is driven by software events or by jiffies, never by
cycle counts, so every backend gives the same result dict.
"""

from __future__ import annotations

from typing import Any

from irqforge.spec import Problem, Spec, SpecError, load_default

from .irq import IRQ_HANDLED, IRQ_NONE, IRQF_SHARED, IRQF_TRIGGER_HIGH, IRQF_TRIGGER_RISING
from .kernel import Kernel, KernelConfig
from .machine import Machine
from .sched import Completion
from .softirq import NR_SOFTIRQS, SOFTIRQ_NAMES
from .timer import TimerList
from .tlb import PAGE_SIZE, Mm
from .workqueue import WorkStruct

__all__ = ["DEFAULTS", "SimDevice", "default_scenario", "irq_throughput"]


class SimDevice:
    """A device model on an interrupt line: a status flag the handler checks."""

    def __init__(self, k: Kernel, name: str, line: int, level: bool) -> None:
        self.k = k
        self.name = name
        self.line = line
        self.level = level
        self.status = False
        self.handled = 0
        self.done = Completion(k)

    def fire(self) -> None:
        """Raise the interrupt (an edge device pulses: the line stays high until handled)."""
        self.status = True
        set_irq = self.k.machine.set_irq  # (a plain load: a method load of an attribute is never specialized)
        set_irq(self.line, 1)

    def ack(self) -> None:
        self.status = False
        set_irq = self.k.machine.set_irq
        set_irq(self.line, 0)


async def _demo(k: Kernel, p: dict[str, Any]) -> dict[str, Any]:
    order: list[str] = []
    work_done = [0]
    tasklet_runs = [0]

    async def bh_work(w: WorkStruct) -> None:
        work_done[0] += 1

    work = WorkStruct(bh_work, "demo_work")

    def bh_tasklet(_data: Any) -> None:
        tasklet_runs[0] += 1

    tl = k.tasklets.tasklet_init(bh_tasklet, None, "demo_tasklet")
    hi_runs = [0]
    hi_tl = k.tasklets.tasklet_init(lambda _d: hi_runs.__setitem__(0, hi_runs[0] + 1), None, "demo_hi")

    kbd = SimDevice(k, "i8042", k.spec.platform.isa_pin(1), level=False)
    eth = SimDevice(k, "eth0", 16, level=True)
    usb = SimDevice(k, "ehci_hcd:usb1", 16, level=True)

    def make_handler(dev: SimDevice, bottom: str) -> Any:
        def handler(irq: int, dev_id: Any) -> int:
            if not dev.status:
                return IRQ_NONE
            order.append(dev.name)
            dev.ack()
            dev.handled += 1
            if bottom == "tasklet":
                k.tasklets.tasklet_schedule(tl)
            elif bottom == "hi":
                k.tasklets.tasklet_hi_schedule(hi_tl)
            dev.done.complete()
            return IRQ_HANDLED

        handler.__qualname__ = f"{dev.name}_interrupt"
        return handler

    assert await k.irq.request_irq(1, make_handler(kbd, "hi"), IRQF_TRIGGER_RISING, "i8042", kbd) == 0
    assert await k.irq.request_irq(16, make_handler(eth, "tasklet"), IRQF_SHARED | IRQF_TRIGGER_HIGH, "eth0", eth) == 0
    assert (
        await k.irq.request_irq(16, make_handler(usb, "tasklet"), IRQF_SHARED | IRQF_TRIGGER_HIGH, "ehci_hcd:usb1", usb)
        == 0
    )

    fired_timers: list[int] = []

    def timer_fn(t: TimerList) -> None:
        fired_timers.append(k.timers.jiffies - k.timers.INITIAL_JIFFIES)

    timers = [TimerList(timer_fn, f"demo_timer{i}") for i in range(3)]
    for i, t in enumerate(timers):
        k.timers.mod_timer(t, k.timers.jiffies + 2 + 3 * i)

    n_irqs = p["irqs"]
    devs = [kbd, eth, usb]
    for i in range(n_irqs):
        if i == n_irqs // 2 and k.ncpus > 1:
            await k.proc.write_smp_affinity(16, "2")
        dev = devs[i % 3]
        dev.done.reinit()
        dev.fire()
        await dev.done.wait_for_completion()
        if i % 3 == 1:
            await k.wq.queue_work_on(min(1, k.ncpus - 1), k.wq.system_wq, work)
            await k.wq.flush_work(work)

    calls = [0]

    def remote(_info: Any) -> None:
        calls[0] += 1

    for _ in range(p["ipis"]):
        k.preempt_disable()
        await k.smp.smp_call_function_many(k.online_cpus(), remote, None, True)
        await k.preempt_enable()

    mm = Mm("demo")
    k.tlb.mmap(mm, 0x400000, 16 * PAGE_SIZE)
    k.tlb.populate(mm, 0x400000, 16 * PAGE_SIZE)
    k.tlb.switch_mm(mm)

    def load(_info: Any) -> None:
        k.tlb.switch_mm(mm)
        k.tlb.touch(0x400000)

    for cpu in k.online_cpus():
        await k.smp.smp_call_function_single(cpu, load, None, True)
    for i in range(p["munmaps"]):
        await k.tlb.munmap(mm, 0x400000 + i * PAGE_SIZE, PAGE_SIZE)

    # run the ticks out: every CPU stops its LAPIC timer after exactly `ticks`
    for cpu in k.online_cpus():
        lt = k.apic.timers.get(cpu)
        if lt is not None:
            await k.timers.jiffies_wq.wait_event(lt.limit_done)
    await k.wq.flush_workqueue(k.wq.system_wq)

    cpus = k.online_cpus()
    return {
        "backend_cycles_are_not_compared": True,
        "cpus": len(cpus),
        "jiffies": k.timers.jiffies - k.timers.INITIAL_JIFFIES,
        "irqs": {str(irq): [d.kstat[c] for c in cpus] for irq, d in sorted(k.irq.descs.items()) if d.actions},
        "arch": {tag: [k.cpus[c].irq_stat[tag] for c in cpus] for tag in ("NMI", "LOC", "SPU", "RES", "CAL", "TLB")},
        "vectors": [{f"{v:#04x}": n for v, n in enumerate(k.cpus[c].vector_count) if n} for c in cpus],
        "softirqs": {
            SOFTIRQ_NAMES[nr]: [k.cpus[c].data["softirq_count"][nr] for c in cpus] for nr in range(NR_SOFTIRQS)
        },
        "order": order,
        "handled": {d.name: d.handled for d in devs},
        "tasklet_runs": tasklet_runs[0],
        "hi_tasklet_runs": hi_runs[0],
        "work_done": work_done[0],
        "function_calls": calls[0],
        "timers_fired_at": fired_timers,
        "err": k.apic.irq_err_count,
        "mis": k.ioapic.irq_mis_count,
        "oopses": list(k.oopses),
        "proc_interrupts": k.proc.interrupts(),
        "proc_softirqs": k.proc.softirqs(),
    }


DEFAULTS = {"boot_ticks": 10, "ticks": 40, "irqs": 12, "ipis": 4, "munmaps": 2, "watchdog": True}


def _check_spec(spec: Spec) -> None:
    """What this scenario needs beyond a valid spec, as one spec problem: IRQ 16."""
    pins = spec.ioapic.param("pins")
    if pins <= 16:
        loc = spec.ioapic.loc
        where = (loc.file, loc.line, loc.col) if loc is not None else ("ioapic.yaml", 1, 1)
        raise SpecError(
            [
                Problem(
                    *where,
                    f"device.params.pins: the default scenario needs IO-APIC pin 16 "
                    f"(IRQ 16, a level line two devices share); this IO-APIC has {pins} pins",
                )
            ]
        )


async def default_scenario(machine: Machine, **kwargs: Any) -> dict[str, Any]:
    """``async def scenario(machine, **kwargs) -> dict`` for any backend.

    kwargs: ``boot_ticks``, ``ticks``, ``irqs``, ``ipis``, ``munmaps``, ``watchdog``.
    """
    p = {**DEFAULTS, **kwargs}
    spec: Spec = getattr(machine, "spec", None) or load_default()
    _check_spec(spec)
    cfg = KernelConfig(boot_hpet_ticks=p["boot_ticks"], tick_limit=p["ticks"], watchdog=p["watchdog"])
    k = Kernel(machine, spec, cfg)

    async def main(kk: Kernel) -> dict[str, Any]:
        return await _demo(kk, p)

    result: dict[str, Any] = await k.run(main)
    return result


async def irq_throughput(
    machine: Machine, n: int = 20_000, devices: int | None = None, **kwargs: Any
) -> dict[str, Any]:
    """End-to-end interrupts through the whole stack (``cosim_irqs_per_s`` of docs/performance.md).

    One device per CPU (``devices``, default every CPU) on its own edge pin,
    affine to that CPU; each handler acks its device (the line drops) and —
    until ``n`` interrupts were handled in total — a HI tasklet raises it
    again at irq exit one cycle later: the line must stay low across a clock
    edge for the IO-APIC to see a new rising edge (a drop and rise in the
    same cycle is no edge on real hardware). Every interrupt
    takes the full path: pin → IO-APIC → LAPIC → INTA → IDT gate → entry stub
    → ``common_interrupt`` → ``handle_edge_irq`` → handler → EOI → ``irq_exit``
    (softirq check). No tick runs (no HPET, no LAPIC timer, no watchdog), so
    the counts do not depend on cycle timing and are the same on every
    backend. The wall-clock figures are in ``"timing"``.
    """
    import time

    spec: Spec = getattr(machine, "spec", None) or load_default()
    cfg = KernelConfig(hpet=False, lapic_timer=False, watchdog=False, **kwargs)
    k = Kernel(machine, spec, cfg)

    async def main(kk: Kernel) -> dict[str, Any]:
        ndev = max(1, min(devices or kk.ncpus, kk.ncpus, n))
        quota = [n // ndev + (1 if i < n % ndev else 0) for i in range(ndev)]
        left = [ndev]
        all_done = Completion(kk)
        pins = [
            p
            for p in range(spec.platform.isa_pin(1), spec.ioapic.param("pins"))
            if p != 2 and p not in spec.platform.hpet_legacy_pins
        ][:ndev]
        irqs = []
        for i, pin in enumerate(pins):
            irq = next(d.irq for d in kk.irq.descs.values() if d.hwirq == pin)
            dev = SimDevice(kk, f"bench{i}", pin, level=False)

            async def raise_again(d: Any) -> None:
                # The handler dropped the line after the EOI; keep it low across a
                # clock edge, or the IO-APIC sees no new rising edge.
                await kk.cpu_relax(1)
                d.fire()

            refire = kk.tasklet_init(raise_again, dev, name=f"bench{i}-refire")

            def handler(irq: int, d: Any, _quota: int = quota[i], _refire: Any = refire) -> int:
                d.ack()
                d.handled += 1
                if d.handled < _quota:
                    kk.tasklet_hi_schedule(_refire)
                else:
                    left[0] -= 1
                    if not left[0]:
                        all_done.complete()
                return IRQ_HANDLED

            rc = await kk.irq.request_irq(irq, handler, IRQF_TRIGGER_RISING, dev.name, dev)
            assert rc == 0, rc
            if i:
                await kk.irq.irq_set_affinity(irq, {i})
            irqs.append((irq, dev))
        if n <= 0:
            return {"n": 0}
        t0 = time.perf_counter()
        c0 = kk.machine.now()
        for _irq, dev in irqs:
            dev.fire()
        await all_done.wait_for_completion()
        wall = time.perf_counter() - t0
        cycles = kk.machine.now() - c0
        cpus = kk.online_cpus()
        handled = sum(d.handled for _i, d in irqs)
        return {
            "n": handled,
            "irqs": {str(irq): [kk.irq.descs[irq].kstat[c] for c in cpus] for irq, _d in irqs},
            "per_cpu": [sum(kk.irq.descs[irq].kstat[c] for irq, _d in irqs) for c in cpus],
            "spurious": [kk.cpus[c].irq_stat["SPU"] for c in cpus],
            "timing": {
                "wall_s": wall,
                "irqs_per_s": handled / wall if wall > 0 else 0.0,
                "cycles": cycles,
                "cycles_per_irq": cycles / handled if handled else 0.0,
            },
        }

    result: dict[str, Any] = await k.run(main)
    return result
