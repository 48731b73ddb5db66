"""The IO-APIC inside the platform on Icarus, pins toggling from reset, in lock-step
with the IO-APIC model (sim/benches/ioapic_platform_bench.py).

Icarus simulates four values: an ``x`` reaching the IO-APIC's messages (the
failure mode of a round robin or multiplexer that indexes out of range)
fails here, where Verilator would show it as some 0 or 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from irqforge.hw import platform, rtl_fingerprint, to_verilog
from irqforge.sim.runner import build_and_test, read_failures
from irqforge.spec import Spec

NAME = "irqforge_platform"
BENCH = "irqforge.sim.benches.ioapic_platform_bench"


def test_ioapic_in_platform_on_icarus(simulator: str, spec: Spec, build_root: Path) -> None:
    if simulator != "icarus":
        pytest.skip("the point is Icarus's four-valued simulation")
    folder = build_root / "sources" / rtl_fingerprint(spec)[:16]
    folder.mkdir(parents=True, exist_ok=True)
    verilog = folder / f"{NAME}.v"
    if not verilog.is_file():
        tmp = folder / "convert-ioapic.tmp"
        tmp.write_text(to_verilog(platform.top(spec), NAME))
        tmp.replace(verilog)
    results = build_and_test("icarus", [verilog], NAME, BENCH, build_dir=build_root, seed=5)
    text = results.read_text()
    assert 'name="ioapic_in_platform_from_reset"' in text, f"the bench did not run: {results}"
    assert read_failures(results) == []
