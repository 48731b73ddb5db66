"""The ``model`` Machine backend: the platform model behind the software seam.

The shared scenarios (:mod:`irqforge.sim.backends.scenarios`) give the
observations; the expected values come from the spec, never by hand.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from irqforge.sim.backends import MachineDeadlock, MachineTimeout, open_machine, run_scenario
from irqforge.sim.backends import scenarios as sc
from irqforge.sim.backends.model import INTA_CYCLES, READ_CYCLES, WRITE_CYCLES, ModelMachine
from irqforge.spec import Spec
from irqforge.sw import BusError, Machine


@pytest.fixture
def machine(spec: Spec) -> ModelMachine:
    return ModelMachine(spec)


def test_is_a_machine(machine: ModelMachine, spec: Spec) -> None:
    assert isinstance(machine, Machine)
    assert machine.ncpus == spec.platform.ncpus
    assert isinstance(open_machine("model", spec), ModelMachine)


def test_register_access_through_the_address_map(spec: Spec) -> None:
    out = run_scenario("model", sc.register_access, spec)
    lapic = spec.lapic
    for cpu, seen in enumerate(out["cpus"]):
        assert seen["id"] == spec.platform.cpus[cpu].apic_id << lapic.register("ID").field("ID").lsb
        assert seen["version"] == lapic.register("VERSION").reset
        assert seen["svr"] == lapic.register("SVR").reset
        assert seen["tpr"] == 0x20 + 0x10 * cpu  # each CPU wrote its own LAPIC
    win = spec.ioapic.window("IOAPIC")
    assert out["ioapic_version"] == win.register("IOAPICVER").reset
    assert out["ioapic_redtbl0"] == win.register("REDTBL").reset & 0xFFFFFFFF
    gcap = spec.hpet.register("GCAP_ID")
    assert out["hpet_gcap_id"] == gcap.reset
    assert gcap.field("COUNTER_CLK_PERIOD").get(out["hpet_gcap_id"]) == spec.hpet.param("period_fs")


def test_outside_the_map_is_decerr(spec: Spec) -> None:
    out = run_scenario("model", sc.bus_errors, spec)
    assert out["reads"] == ["DECERR"] * 3
    assert out["writes"] == ["DECERR"] * 3
    assert out["lapic_version_after"] == spec.lapic.register("VERSION").reset


def test_bus_error_names_cpu_and_address(machine: ModelMachine) -> None:
    async def scenario() -> None:
        await machine.read32(1, 0x1000)

    with pytest.raises(BusError) as caught:
        machine.run(scenario())
    assert (caught.value.cpu, caught.value.addr, caught.value.resp) == (1, 0x1000, "DECERR")


def test_ipi_between_cpus(spec: Spec) -> None:
    if spec.platform.ncpus < 2:
        pytest.skip("needs two CPUs")
    out = run_scenario("model", sc.ipi_between_cpus, spec)
    assert out == {
        "sender_intr": False,
        "target_intr": True,
        "target_vector": spec.vectors["CALL_FUNCTION_VECTOR"],
        "target_isr_bit": 1,
        "target_isr_bit_after_eoi": 0,
        "target_intr_after": False,
        "self_target_intr": False,
        "self_vector": spec.vectors["RESCHEDULE_VECTOR"],
    }


def test_pin_to_acknowledge_to_eoi_round_trip(spec: Spec) -> None:
    out = run_scenario("model", sc.irq_roundtrip, spec, n=50)
    assert out["delivered"] == 50
    assert out["wrong_vector"] == 0
    # Each round trip: a write of EOI and the INTA; pin changes and waits are free.
    assert out["timing"]["cycles"] == 50 * (INTA_CYCLES + WRITE_CYCLES)


def test_level_pin_redelivers_at_eoi_while_high(spec: Spec) -> None:
    out = run_scenario("model", sc.ioapic_level, spec)
    vector = out["vector"]
    assert out["events"] == [
        ["ack", vector],
        ["remote_irr", 1],
        ["tmr", 1],
        ["ack", vector],
        ["intr_after_drop", False],
        ["remote_irr", 0],
    ]


def test_lapic_timer_periodic_interrupts_counted(spec: Spec) -> None:
    out = run_scenario("model", sc.lapic_timer_periodic, spec, period=1000, span=10_500)
    assert out["ticks"] == 10
    assert out["vectors"] == [spec.vectors["LOCAL_TIMER_VECTOR"]]
    stamps = out["timing"]["stamps"]
    assert [b - a for a, b in itertools.pairwise(stamps)] == [1000] * 9


def test_hpet_comparator_interrupt(spec: Spec) -> None:
    out = run_scenario("model", sc.hpet_comparator, spec, delta=500)
    assert out["interrupted"] is True
    assert out["again"] is False  # one-shot
    assert out["counter_past_delta"] is True
    assert out["vector"] == sc.Regs(open_machine("model", spec)).device_vectors()[2]
    # Enabled by the low dword of a 64-bit write; the high dword costs one more write.
    assert abs(out["timing"]["fired_after"] - (500 - WRITE_CYCLES)) <= 2


def test_wait_any_interrupt_returns_at_the_event(spec: Spec) -> None:
    out = run_scenario("model", sc.wait_any_timing, spec, delay=700, idle=100)
    assert out["vector"] == spec.vectors["LOCAL_TIMER_VECTOR"]
    assert out["waited_idle"] == 100
    # TMICT = 700 at divide-by-1 expires 700 cycles after the write has acted (+1: the expiry edge).
    assert out["timing"]["fired_after"] == 701


def test_wait_cycles_jumps_and_keeps_time(machine: ModelMachine) -> None:
    async def scenario() -> list[int]:
        seen = [machine.now()]
        await machine.wait_cycles(10**9)
        seen.append(machine.now())
        await machine.read32(0, machine.spec.platform.base("lapic") + machine.spec.lapic.offset("VERSION"))
        seen.append(machine.now())
        return seen

    assert machine.run(scenario()) == [0, 10**9, 10**9 + READ_CYCLES]


def test_timer_counts_down_while_time_is_skipped(machine: ModelMachine, spec: Spec) -> None:
    regs = sc.Regs(machine)

    async def scenario() -> int:
        await regs.lapic_write(0, "TDCR", regs.lapic_value("TDCR", DIV_LO=3, DIV_HI=1))
        await regs.lapic_write(0, "TMICT", 100_000)
        await machine.wait_cycles(30_000)
        return await regs.lapic_read(0, "TMCCT")

    # The read acts READ_CYCLES after the wait. The LAPIC's first decrement
    # comes at the end of the cycle after the TMICT write (TMCCT = N - k + 1
    # after k cycles, the LAPIC model's timing convention).
    assert machine.run(scenario()) == 100_000 - (30_000 + READ_CYCLES) + 1


def test_max_cycles_stops_the_scenario(machine: ModelMachine) -> None:
    closed: list[bool] = []

    async def scenario() -> None:
        try:
            await machine.wait_cycles(1000)
        finally:
            closed.append(True)

    with pytest.raises(MachineTimeout):
        machine.run(scenario(), max_cycles=999)
    assert closed == [True]
    assert machine.now() == 999


def test_waiting_for_nothing_is_a_deadlock(machine: ModelMachine) -> None:
    async def scenario() -> None:
        await machine.wait_interrupt(0)

    with pytest.raises(MachineDeadlock):
        machine.run(scenario())
    with pytest.raises(MachineTimeout):
        machine.run(scenario(), max_cycles=500)


def test_foreign_awaitables_are_refused(machine: ModelMachine) -> None:
    class Foreign:
        def __await__(self) -> Any:
            yield "something else"

    async def scenario() -> None:
        await Foreign()

    with pytest.raises(TypeError, match="not an operation of this machine"):
        machine.run(scenario())


def test_cpu_out_of_range(machine: ModelMachine) -> None:
    async def scenario() -> None:
        await machine.read32(machine.ncpus, machine.spec.platform.base("lapic"))

    with pytest.raises(IndexError):
        machine.run(scenario())


def test_init_sipi_are_reported(machine: ModelMachine, spec: Spec) -> None:
    if spec.platform.ncpus < 2:
        pytest.skip("needs two CPUs")
    regs = sc.Regs(machine)

    async def scenario() -> list[tuple[str, int]]:
        await regs.lapic_write(0, "ICR_HI", regs.lapic_value("ICR_HI", DEST=spec.platform.cpus[1].apic_id))
        await regs.lapic_write(0, "ICR_LO", regs.lapic_value("ICR_LO", DELIVERY_MODE="INIT", LEVEL=1))
        await regs.lapic_write(0, "ICR_LO", regs.lapic_value("ICR_LO", VECTOR=0x9A, DELIVERY_MODE="STARTUP", LEVEL=1))
        return machine.take_startup(1) + machine.take_startup(0) + machine.take_startup(1)

    assert machine.run(scenario()) == [("INIT", 0), ("SIPI", 0x9A)]


def test_runs_are_deterministic(spec: Spec) -> None:
    first = run_scenario("model", sc.lapic_timer_periodic, spec, period=333, span=5000)
    again = run_scenario("model", sc.lapic_timer_periodic, spec, period=333, span=5000)
    assert first == again
    assert first["ticks"] == 5000 // 333


def test_zero_width_pulse_is_refused(spec: Spec) -> None:
    """A device line that changes back in the cycle it changed in: the RTL
    IO-APIC (sampling at clock edges) would not see the pulse, so the model
    refuses it instead of taking an interrupt the hardware never would."""
    from irqforge.sim.models.platform import PlatformModel, ZeroWidthPulse

    p = PlatformModel(spec)
    p.set_irq(3, 1)
    with pytest.raises(ZeroWidthPulse, match=r"device line 3 rose and fell again in cycle 0"):
        p.set_irq(3, 0)
    p.advance(1)
    p.set_irq(3, 0)  # a cycle later: a real falling edge
    p.set_irq(3, 0)  # no change, no pulse
    with pytest.raises(ZeroWidthPulse, match=r"device line 3 fell and rose again in cycle 1"):
        p.set_irq(3, 1)
    p.set_irq(4, 1)  # other lines are independent
