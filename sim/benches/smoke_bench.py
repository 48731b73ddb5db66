"""cocotb bench for ``smoke_counter.v``: proves a simulator and the runner work.

Run through :func:`irqforge.sim.runner.build_and_test` with the test module
``"irqforge.sim.benches.smoke_bench"`` and toplevel ``"smoke_counter"``.

Environment knobs (all optional):

``SMOKE_CYCLES``
    Clock cycles to count with ``en`` high (default 100).
``SMOKE_EXPECTED``
    The count the test insists on; defaults to the right answer,
    ``SMOKE_CYCLES mod 2**WIDTH``. A wrong value makes the test fail, which is
    how the runner's failure reporting is tested.

The test writes ``smoke_result.json`` (count, width, simulator) into its
working folder, the folder of the results file, so the caller can check the
value independently of cocotb's verdict.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

RESULT_FILE = "smoke_result.json"


@cocotb.test()
async def counts_enabled_cycles(dut: Any) -> None:
    """After reset, the counter advances exactly once per enabled clock cycle."""
    cycles = int(os.environ.get("SMOKE_CYCLES", "100"))
    width = len(dut.count)
    expected = int(os.environ.get("SMOKE_EXPECTED", str(cycles % (1 << width))))

    Clock(dut.clk, 10, unit="ns").start()
    dut.en.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    # Held low: the counter must not move.
    await ClockCycles(dut.clk, 3)
    await FallingEdge(dut.clk)
    assert dut.count.value.to_unsigned() == 0, f"counter moved while disabled: {dut.count.value}"

    dut.en.value = 1
    await ClockCycles(dut.clk, cycles)
    await FallingEdge(dut.clk)
    dut.en.value = 0
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    count = dut.count.value.to_unsigned()

    Path(RESULT_FILE).write_text(
        json.dumps({"count": count, "width": width, "cycles": cycles, "sim": cocotb.SIM_NAME}) + "\n"
    )
    assert count == expected, f"count after {cycles} enabled cycles is {count}, expected {expected}"
