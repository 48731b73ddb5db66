"""Build ``firmware_top`` (your top level + the irqforge platform) and run its cocotb test.

    python examples/cocotb_firmware/run.py [--sim verilator|icarus] [--waves out.fst]

The platform's Verilog and the harness's come from the spec
(:func:`irqforge.sim.backends.cocotb.cosim_verilog`, cached); your own
Verilog files go after them. :func:`irqforge.sim.runner.build_and_test` builds
with cocotb's runner (cached in the irqforge build cache) and runs the cocotb
test module ``test_firmware`` from this folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from irqforge.sim import toolchain
from irqforge.sim.backends.cocotb import cosim_lint_waiver, cosim_verilog
from irqforge.sim.runner import build_and_test
from irqforge.spec import Spec, load_default

HERE = Path(__file__).resolve().parent
TICK_PERIOD = 3000
DEVICE_PIN = 9


def run(sim: str, spec: Spec, build_dir: Path, waves: Path | None = None) -> Path:
    """Build and run the example on ``sim``; the cocotb results file (every test passed)."""
    sources = build_dir / "sources"
    verilog = [*cosim_verilog(spec, sources), HERE / "firmware_top.v"]
    return build_and_test(
        sim,
        verilog,
        "firmware_top",
        "test_firmware",
        build_dir=build_dir,
        parameters={"TICK_PERIOD": TICK_PERIOD, "DEVICE_PIN": DEVICE_PIN},
        waves=waves,
        lint_waiver=cosim_lint_waiver(sources),
        # Verilator: only what the test touches is public (the harness's ports, by the waiver; firmware_top's,
        # by their /*verilator public_flat_rw*/), so Verilator optimizes the rest: a faster build and run
        public_flat=False,
        python_path=[HERE],  # where cocotb finds test_firmware
        extra_env={
            "FIRMWARE_TICK_PERIOD": str(TICK_PERIOD),
            "FIRMWARE_DEVICE_PIN": str(DEVICE_PIN),
        },
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim", choices=toolchain.SIMULATORS, default="verilator")
    parser.add_argument("--waves", type=Path, default=None, help=".fst or .vcd")
    args = parser.parse_args()
    results = run(args.sim, load_default(), toolchain.cache_dir("examples"), args.waves)
    print(f"passed: {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
