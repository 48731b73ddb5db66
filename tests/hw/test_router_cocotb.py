"""The generated Verilog of the interrupt router under cocotb (Icarus and Verilator):
sim/benches/router_bench.py's random traffic (xAPIC, x2APIC and mixed LAPIC states,
32-bit destinations) checked message by message against
:class:`~irqforge.sim.models.router.RouterModel`.
"""

from __future__ import annotations

import time
from pathlib import Path

from irqforge.hw import router, to_verilog
from irqforge.sim.runner import build_and_test, read_failures
from irqforge.spec import Spec

NAME = "irqforge_router"
BENCH = "irqforge.sim.benches.router_bench"
WAIVER = Path(router.__file__).parent / "lint" / f"{NAME}.vlt"


def test_router_bench(simulator: str, spec: Spec, build_root: Path) -> None:
    folder = build_root / "src"
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{NAME}.v"
    source.write_text(to_verilog(router.top(spec), NAME))
    started = time.monotonic()
    results = build_and_test(
        simulator,
        [source],
        NAME,
        BENCH,
        build_dir=build_root,
        lint_waiver=WAIVER if simulator == "verilator" else None,
        extra_env={"IRQFORGE_SEED": "13", "IRQFORGE_RANDOM_CYCLES": "6000"},
    )
    print(f"{NAME} bench on {simulator}: {time.monotonic() - started:.1f} s")
    assert 'name="random_traffic"' in results.read_text()
    assert read_failures(results) == []
    log = (results.parent / "sim.log").read_text()
    assert "with x2APIC LAPICs" in log
