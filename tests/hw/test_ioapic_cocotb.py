"""The generated Verilog of the IO-APIC under cocotb (Icarus and Verilator), checked
cycle by cycle against the reference model by sim/benches/ioapic_bench.py.

One build per simulator; every bench test runs in that one simulation.
"""

from __future__ import annotations

import time
from pathlib import Path

from irqforge.hw import ioapic, to_verilog
from irqforge.sim.runner import build_and_test, read_failures
from irqforge.spec import Spec

NAME = "irqforge_ioapic"
BENCH = "irqforge.sim.benches.ioapic_bench"
WAIVER = Path(ioapic.__file__).parent / "lint" / f"{NAME}.vlt"
TESTS = {
    "registers",
    "edge",
    "edge_mask",
    "edge_coalesce_polarity",
    "level_coalesce",
    "level_retrigger",
    "level_mask",
    "level_retrigger_mask",
    "edge_rewrite_clears_remote_irr",
    "eoi_register",
    "random_traffic",
}


def write_verilog(spec: Spec, folder: Path) -> Path:
    """``irqforge_ioapic.v`` for ``spec``, through the one reproducible conversion."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{NAME}.v"
    path.write_text(to_verilog(ioapic.top(spec), NAME))
    return path


def test_ioapic_bench(simulator: str, spec: Spec, build_root: Path) -> None:
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
