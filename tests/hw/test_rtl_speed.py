"""The C++ clock loop of ``irqforge bench``'s ``rtl_cycles_per_s`` (sim/rtl_speed.py).

The figure is only worth something if the loop really runs the platform: the
storm must deliver interrupts through IO-APIC, router and LAPICs to the CPUs,
which acknowledge them and write EOIs, and the idle loop must deliver none.
Speed itself is measured in ``irqforge bench``, never asserted here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from irqforge.sim import rtl_speed
from irqforge.spec import Spec


def test_setup_writes_come_from_the_spec(spec: Spec) -> None:
    writes = rtl_speed.platform_writes(spec)
    plat = spec.platform
    # Every CPU enables its LAPIC at the spec's SVR offset; then four IO-APIC writes per pin.
    svr = plat.base("lapic") + spec.lapic.offset("SVR")
    assert [w[:2] for w in writes[: plat.ncpus]] == [(cpu, svr) for cpu in range(plat.ncpus)]
    assert len(writes) == plat.ncpus + 4 * int(spec.ioapic.param("pins"))
    # Pin 0's entry (written low dword last): vector 0x30, unmasked, fixed, edge (reference §2: all 0).
    low = writes[plat.ncpus + 3][2]
    assert low == 0x30
    high = writes[plat.ncpus + 1][2]
    assert high >> 24 == plat.cpus[0].apic_id


def test_platform_loop_idle_and_storm(simulator: str, spec: Spec, build_root: Path) -> None:
    if simulator != "verilator":
        pytest.skip("the clock loop is a Verilator model")
    exe = rtl_speed.build(spec, "irqforge_platform", build_root / "rtl-speed")
    idle = rtl_speed.run(exe, 5_000, "idle")
    storm = rtl_speed.run(exe, 20_000, "storm")
    assert idle["cycles"] == 5_000 and idle["interrupts"] == 0
    # A CPU takes an interrupt at most every few cycles (INTA, ack, EOI write): with
    # 24 pins changing every fourth cycle, both CPUs stay busy.
    assert storm["cycles"] == 20_000
    assert 20_000 // 20 < storm["interrupts"] < 20_000
    assert storm["cycles_per_s"] and storm["cycles_per_s"] > 0
    # The loop skips Verilator's input-dependent region when no input changed
    # (build's gate_inputs): Verilator's own schedule takes exactly the same interrupts.
    plain = rtl_speed.build(spec, "irqforge_platform", build_root / "rtl-speed", gate_inputs=False)
    assert plain != exe
    assert rtl_speed.run(plain, 20_000, "storm")["interrupts"] == storm["interrupts"]

