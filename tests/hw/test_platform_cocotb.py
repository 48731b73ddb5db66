"""The cocotb benches of the platform on Icarus and Verilator: the directed tests
(sim/benches/platform_bench.py) and the interrupt storm (sim/benches/storm_bench.py),
all in one simulator run on one build per simulator.

The Verilog is ``irqforge.hw.to_verilog(platform.top(spec))``, cached under the
build root by ``rtl_fingerprint(spec)`` (conversion takes ~30 s). Verilator gets
the platform's waiver file plus the storm's ``public_flat_rd`` lines.
"""

from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path

import pytest

from irqforge.hw import platform, rtl_fingerprint, to_verilog
from irqforge.sim import toolchain
from irqforge.sim.benches.storm_bench import RESULT_FILE, VERILATOR_PUBLIC
from irqforge.sim.runner import build_and_test
from irqforge.spec import Spec

NAME = "irqforge_platform"
BENCHES = "irqforge.sim.benches.platform_bench,irqforge.sim.benches.storm_bench"
WAIVER = Path(platform.__file__).parent / "lint" / f"{NAME}.vlt"


@pytest.fixture(scope="module")
def sources(build_root: Path, spec: Spec) -> tuple[Path, Path]:
    """(Verilog, bench .vlt), written once per RTL fingerprint."""
    folder = build_root / "sources" / rtl_fingerprint(spec)[:16]
    folder.mkdir(parents=True, exist_ok=True)
    verilog = folder / f"{NAME}.v"  # the waivers match the file name
    vlt = folder / "bench.vlt"
    with (folder / "write.lock").open("w") as lock:  # the xdist workers share build_root
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not verilog.is_file():
            tmp = folder / "convert.tmp"
            tmp.write_text(to_verilog(platform.top(spec), NAME))
            tmp.replace(verilog)
        text = WAIVER.read_text() + "\n// The storm bench watches the router's msg__* ports.\n" + VERILATOR_PUBLIC
        if not vlt.is_file() or vlt.read_text() != text:
            vlt.write_text(text)
    return verilog, vlt


def test_platform_benches(simulator: str, sources: tuple[Path, Path], build_root: Path) -> None:
    verilog, vlt = sources
    results = build_and_test(
        simulator,
        [verilog],
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
def test_storm_million_cycles_verilator(sources: tuple[Path, Path], build_root: Path) -> None:
    if not toolchain.find_simulator("verilator").ok:
        pytest.skip("verilator not usable")
    verilog, vlt = sources
    start = time.perf_counter()
    results = build_and_test(
        "verilator",
        [verilog],
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
