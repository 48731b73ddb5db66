"""The CPU/thread multiplexer (irqforge.sw.cpumux): kernel threads on their own stacks.

The model backend is a synchronous machine (the kernel calls ``*_sync``); a
machine that is not — whose operations suspend like a cocotb backend's — must
give the same results, its awaitables travelling from a thread's stack through
the driver to the backend and back. The reference is the model on the fast path.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

import pytest

from irqforge.sim.backends import MachineTimeout
from irqforge.sim.backends.model import ModelMachine
from irqforge.spec import Spec
from irqforge.sw import IRQ_HANDLED, IRQF_TRIGGER_RISING, Kernel, KernelConfig
from irqforge.sw.scenario import SimDevice, default_scenario, irq_throughput

T = TypeVar("T")


class _Tick:
    """What the suspending machine's operations await: one trip to its runner."""

    def __await__(self) -> Generator[_Tick, None, None]:
        yield self


class SuspendingMachine(ModelMachine):
    """The model, but not synchronous: every bus access, INTA and wait suspends
    once to the runner (as a cocotb backend's await of a trigger does)."""

    synchronous = False  # type: ignore[misc]

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.trips = 0

    async def read32(self, cpu: int, addr: int) -> int:
        await _Tick()
        return await super().read32(cpu, addr)

    async def write32(self, cpu: int, addr: int, value: int) -> None:
        await _Tick()
        await super().write32(cpu, addr, value)

    async def acknowledge(self, cpu: int) -> int:
        await _Tick()
        return await super().acknowledge(cpu)

    async def wait_cycles(self, n: int) -> None:
        await _Tick()
        await super().wait_cycles(n)

    def run(self, coro: Coroutine[Any, Any, T], *, max_cycles: int | None = None) -> T:
        """Answer each trip (with None) until the scenario returns."""
        assert max_cycles is None
        while True:
            try:
                item = coro.send(None)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            assert isinstance(item, _Tick), item
            self.trips += 1


def _untimed(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "timing"}


def test_a_suspending_machine_gives_the_fast_paths_results(spec: Spec) -> None:
    kwargs: dict[str, Any] = {"boot_ticks": 2, "ticks": 4, "irqs": 3, "ipis": 1, "munmaps": 1}
    fast = ModelMachine(spec)
    reference = fast.run(default_scenario(fast, **kwargs))
    slow = SuspendingMachine(spec)
    result = slow.run(default_scenario(slow, **kwargs))
    assert slow.trips > 100  # the awaitables really went to the runner
    assert result == reference
    assert slow.now() == fast.now()


def test_throughput_identical_on_both_paths(spec: Spec) -> None:
    fast = ModelMachine(spec)
    reference = fast.run(irq_throughput(fast, n=500))
    slow = SuspendingMachine(spec)
    result = slow.run(irq_throughput(slow, n=500))
    assert _untimed(result) == _untimed(reference)
    assert result["timing"]["cycles"] == reference["timing"]["cycles"]


def _deep_handler_run(machine: ModelMachine, spec: Spec, depth: int) -> tuple[list[int], int]:
    """An ``async`` handler that reads the LAPIC's ID register ``depth`` coroutine
    calls deep, on two CPUs at once: (APIC IDs read, cycles)."""
    # xAPIC: the ID is read through the MMIO page (in x2APIC mode the page reads all ones)
    k = Kernel(machine, spec, KernelConfig(hpet=False, lapic_timer=False, watchdog=False, apic="xapic"))
    seen: list[int] = []

    async def read_id(level: int) -> int:
        if level:
            return await read_id(level - 1)
        return await k.read32(k.apic.base + spec.lapic.offset("ID"))

    async def main(kk: Kernel) -> int:
        devs = []
        for cpu in range(kk.ncpus):
            pin = 3 + cpu
            dev = SimDevice(kk, f"deep{cpu}", pin, level=False)
            irq = next(d.irq for d in kk.irq.descs.values() if d.hwirq == pin)

            async def handler(_irq: int, d: Any) -> int:
                d.ack()
                seen.append(await read_id(depth) >> 24)
                d.done.complete()
                return IRQ_HANDLED

            assert await kk.irq.request_irq(irq, handler, IRQF_TRIGGER_RISING, dev.name, dev) == 0
            await kk.irq.irq_set_affinity(irq, {cpu})
            devs.append(dev)
        for dev in devs:
            dev.fire()
        for dev in devs:
            await dev.done.wait_for_completion()
        return machine.now()

    cycles = machine.run(k.run(main))
    return seen, cycles


def test_switches_inside_deep_async_handlers(spec: Spec) -> None:
    """A CPU switch inside a handler 30 coroutines deep: each CPU reads its own
    LAPIC ID, and depth changes nothing (not the order, not the time)."""
    shallow = _deep_handler_run(ModelMachine(spec), spec, 0)
    deep = _deep_handler_run(ModelMachine(spec), spec, 30)
    ids = sorted(c.apic_id for c in spec.platform.cpus[:2])
    assert sorted(deep[0]) == ids
    assert deep == shallow


def test_watchdog_inside_the_kernel_stops_the_run_and_closes_every_thread(spec: Spec) -> None:
    """The model's watchdog fires in a synchronous call deep in a kernel thread:
    MachineTimeout, and every thread's ``finally`` ran (its stack was unwound)."""
    unwound: list[int] = []
    m = ModelMachine(spec)
    k = Kernel(m, spec, KernelConfig(hpet=False, lapic_timer=False, watchdog=False))

    async def spinner() -> None:
        try:
            while True:
                await k.cpu_relax(16)
        finally:
            unwound.append(k.smp_processor_id())

    async def main(kk: Kernel) -> None:
        kk.kthread_create_on_cpu(spinner, cpu=1, name="spinner")
        await spinner()

    with pytest.raises(MachineTimeout):
        m.run(k.run(main), max_cycles=200_000)
    assert sorted(unwound) == [0, 1]


class PinlessMachine(ModelMachine):
    """The model without ``cpu_pins``: the kernel must ask ``intr_pending`` and
    ``nmi_pending`` (as on the RTL backends); the questions are counted."""

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        del self.cpu_pins
        self.asked = 0
        self.accesses = 0

    async def read32(self, cpu: int, addr: int) -> int:
        self.accesses += 1
        return await super().read32(cpu, addr)

    async def write32(self, cpu: int, addr: int, value: int) -> None:
        self.accesses += 1
        await super().write32(cpu, addr, value)

    def read32_sync(self, cpu: int, addr: int) -> int:
        self.accesses += 1
        return super().read32_sync(cpu, addr)

    def write32_sync(self, cpu: int, addr: int, value: int) -> None:
        self.accesses += 1
        super().write32_sync(cpu, addr, value)

    def intr_pending(self, cpu: int) -> bool:
        self.asked += 1
        return super().intr_pending(cpu)

    def nmi_pending(self, cpu: int) -> bool:
        self.asked += 1
        return super().nmi_pending(cpu)


class PinlessSuspendingMachine(SuspendingMachine, PinlessMachine):
    """Neither ``cpu_pins`` nor the synchronous fast path."""


@pytest.mark.parametrize("machine_type", [PinlessMachine, PinlessSuspendingMachine])
def test_a_machine_without_cpu_pins_is_asked_and_gives_the_same_results(
    spec: Spec, machine_type: type[PinlessMachine]
) -> None:
    kwargs: dict[str, Any] = {"boot_ticks": 2, "ticks": 4, "irqs": 3, "ipis": 1, "munmaps": 1}
    fast = ModelMachine(spec)
    reference = fast.run(default_scenario(fast, **kwargs))
    other = machine_type(spec)
    assert not hasattr(other, "cpu_pins")
    result = other.run(default_scenario(other, **kwargs))
    assert other.accesses > 100
    assert other.asked >= other.accesses  # after every bus access, at least the NMI question
    assert result == reference
    assert other.now() == fast.now()
