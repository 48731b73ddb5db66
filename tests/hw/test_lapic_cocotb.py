"""The cocotb benches of the Local APIC (sim/benches/lapic_bench.py) on Icarus and Verilator.

The Verilog comes from ``irqforge.hw.to_verilog(top(spec), "irqforge_lapic")``, written once
per session; the runner caches the simulator builds (Verilator's make flags come from
:func:`irqforge.sim.toolchain.sim_env`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from irqforge.hw import lapic, to_verilog
from irqforge.sim.runner import build_and_test
from irqforge.spec import Spec

NAME = "irqforge_lapic"
BENCH = "irqforge.sim.benches.lapic_bench"
WAIVER = Path(lapic.__file__).parent / "lint" / f"{NAME}.vlt"
#: Extra environment for builds and runs (see the module docstring).
DIRECTED = (
    "registers_through_axi",
    "interrupt_round_trip",
    "tpr_ppr_priority",
    "eoi_level_broadcast_and_suppression",
    "inta_spurious",
    "svr_disable_masks_lvts",
    "esr_write_latch",
    "icr_ipi_delivery_status",
    "ldr_dfr",
    "timer_modes",
    "lint_pins",
    "nmi_init_sipi",
    "latency_figures",
    "x2apic_and_tsc_deadline",
)
BUILD_ENV: dict[str, str] = {}


@pytest.fixture(scope="module")
def lapic_verilog(tmp_path_factory: pytest.TempPathFactory, spec: Spec) -> Path:
    path = tmp_path_factory.mktemp(NAME) / f"{NAME}.v"
    path.write_text(to_verilog(lapic.top(spec), NAME))
    return path


def test_directed_benches(simulator: str, lapic_verilog: Path, build_root: Path) -> None:
    results = build_and_test(
        simulator,
        [lapic_verilog],
        NAME,
        BENCH,
        build_dir=build_root,
        testcase=",".join(DIRECTED),
        lint_waiver=WAIVER,
        extra_env=BUILD_ENV,
    )
    latency = json.loads((results.parent / "lapic_latency.json").read_text())
    print(f"LAPIC latencies (cycles): {latency}")
    assert latency["msg_in_to_intr"] <= 2 and latency["inta_to_ack_valid"] == 1


@pytest.mark.parametrize("seed", [11])
def test_random_differential(simulator: str, lapic_verilog: Path, build_root: Path, seed: int) -> None:
    results = build_and_test(
        simulator,
        [lapic_verilog],
        NAME,
        BENCH,
        build_dir=build_root,
        testcase="random_differential",
        lint_waiver=WAIVER,
        extra_env={**BUILD_ENV, "LAPIC_CYCLES": "5000", "LAPIC_SEED": str(seed)},
    )
    stats = json.loads((results.parent / "lapic_random.json").read_text())
    assert stats["cycles"] >= 5000 and stats["seed"] == seed
    assert stats["msrs"] > 50 and stats["msr_faults"] > 0


@pytest.mark.long
def test_random_differential_million_cycles_verilator(lapic_verilog: Path, build_root: Path) -> None:
    from irqforge.sim import toolchain

    if not toolchain.find_simulator("verilator").ok:
        pytest.skip("verilator not usable")
    start = time.perf_counter()
    results = build_and_test(
        "verilator",
        [lapic_verilog],
        NAME,
        BENCH,
        build_dir=build_root,
        testcase="random_differential",
        lint_waiver=WAIVER,
        extra_env={**BUILD_ENV, "LAPIC_CYCLES": "1000000", "LAPIC_SEED": "2024", "LAPIC_GAPS": "1"},
    )
    stats = json.loads((results.parent / "lapic_random.json").read_text())
    print(
        f"LAPIC random differential: {stats['cycles']} cycles in {time.perf_counter() - start:.0f} s "
        f"(simulation {stats['wall_s']:.0f} s, {stats['cycles'] / stats['wall_s']:.0f} cycles/s), "
        f"{stats['sampled_cycles']} cycles checked one by one, {stats['checked_outputs']} output checks, "
        f"{stats['reads']} reads, {stats['writes']} writes, {stats['intas']} INTAs, "
        f"{stats['mismatches']} mismatches"
    )
    assert stats["cycles"] >= 1_000_000 and stats["mismatches"] == 0
