"""The cocotb benches of the platform on Icarus and Verilator: the directed tests
(sim/benches/platform_bench.py) and the interrupt storm (sim/benches/storm_bench.py),
all in one simulator run on one build per simulator.

The Verilog and the Verilator waivers are the cocotb backend's for its bare
platform (``platform_verilog``, the files ``irqforge gen`` writes, and
``cosim_lint_waiver``), so the benches run on the build that backend makes (one
Verilator build of the platform per test run, not two); cocotb's default
``--public-flat-rw`` lets the storm bench watch the router's ``msg__*`` ports.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from irqforge.sim import toolchain
from irqforge.sim.backends.cocotb import cosim_lint_waiver, platform_verilog
from irqforge.sim.benches.storm_bench import RESULT_FILE
from irqforge.sim.runner import build_and_test
from irqforge.spec import Spec

NAME = "irqforge_platform"
BENCHES = "irqforge.sim.benches.platform_bench,irqforge.sim.benches.storm_bench"


@pytest.fixture(scope="module")
def sources(build_root: Path, spec: Spec) -> tuple[list[Path], Path]:
    """(Verilog files, waiver): the cocotb backend's bare platform, so the build is shared with it."""
    folder = build_root / "sources"
    return platform_verilog(spec, folder), cosim_lint_waiver(folder)


def test_platform_benches(simulator: str, sources: tuple[list[Path], Path], build_root: Path) -> None:
    verilog, vlt = sources
    results = build_and_test(
        simulator,
        verilog,
        NAME,
        BENCHES,
        build_dir=build_root,
        lint_waiver=vlt,
        extra_env={"STORM_CYCLES": "20000", "STORM_SEED": "7"},
    )
    stats = json.loads((results.parent / RESULT_FILE).read_text())
    print(f"storm on {simulator}: {stats}")
    assert stats["cycles"] >= 20000
    assert stats["lost"] == stats["duplicates"] == 0
    assert stats["edges"] == stats["edge_delivered"] + stats["edge_coalesced"] > 100
    assert stats["level_delivered"] == stats["level_messages"] > 20


@pytest.mark.long
def test_storm_million_cycles_verilator(sources: tuple[list[Path], Path], build_root: Path) -> None:
    if not toolchain.find_simulator("verilator").ok:
        pytest.skip("verilator not usable")
    verilog, vlt = sources
    start = time.perf_counter()
    results = build_and_test(
        "verilator",
        verilog,
        NAME,
        BENCHES,
        build_dir=build_root,
        testcase="storm",
        lint_waiver=vlt,
        extra_env={"STORM_CYCLES": "1000000", "STORM_SEED": "2024"},
    )
    stats = json.loads((results.parent / RESULT_FILE).read_text())
    print(f"storm, 10^6 cycles on Verilator, {time.perf_counter() - start:.0f} s in all: {stats}")
    assert stats["cycles"] >= 1_000_000
    assert stats["lost"] == stats["duplicates"] == 0
    assert stats["edges"] == stats["edge_delivered"] + stats["edge_coalesced"]
