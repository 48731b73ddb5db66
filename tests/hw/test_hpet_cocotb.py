"""The generated Verilog of the HPET under cocotb (Icarus and Verilator), checked
cycle by cycle against the reference model by sim/benches/hpet_bench.py.

One build per simulator; every bench test runs in that one simulation.
"""

from __future__ import annotations

import time
from pathlib import Path

from irqforge.hw import hpet, to_verilog
from irqforge.sim.runner import build_and_test, read_failures
from irqforge.spec import Spec

NAME = "irqforge_hpet"
BENCH = "irqforge.sim.benches.hpet_bench"
WAIVER = Path(hpet.__file__).parent / "lint" / f"{NAME}.vlt"
TESTS = {
    "capabilities",
    "main_counter",
    "oneshot_level_w1c",
    "periodic_val_set",
    "missed_periods",
    "mode32_and_wrap",
    "legacy_routes",
    "fsb_msi",
    "random_traffic",
}


def write_verilog(spec: Spec, folder: Path) -> Path:
    """``irqforge_hpet.v`` for ``spec``, through the one reproducible conversion."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{NAME}.v"
    path.write_text(to_verilog(hpet.top(spec), NAME))
    return path


def test_hpet_bench(simulator: str, spec: Spec, build_root: Path) -> None:
    source = write_verilog(spec, build_root / "src")
    started = time.monotonic()
    results = build_and_test(
        simulator,
        [source],
        NAME,
        BENCH,
        build_dir=build_root,
        lint_waiver=WAIVER if simulator == "verilator" else None,
    )
    print(f"{NAME} bench on {simulator}: {time.monotonic() - started:.1f} s")
    text = results.read_text()
    ran = {name for name in TESTS if f'name="{name}"' in text}
    assert ran == TESTS, f"bench tests missing from {results}: {sorted(TESTS - ran)}"
    assert read_failures(results) == []
