"""A firmware developer's own cocotb test hosts the kernel on their own top level.

``examples/cocotb_firmware``: ``firmware_top.v`` (a periodic timer device next
to the irqforge harness) and ``test_firmware.py`` (a ``@cocotb.test()`` that
boots :class:`irqforge.sw.Kernel` on :class:`~irqforge.sim.backends.cocotb.CocotbMachine`
and checks the driver's handler runs once per device tick, exactly the
device's period apart). Run here through the example's own ``run.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from irqforge.spec import Spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cocotb_firmware"


def _example_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cocotb_firmware_run", EXAMPLE / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.sim
def test_kernel_in_a_users_cocotb_test(simulator: str, spec: Spec, build_root: Path) -> None:
    from irqforge.sim.runner import read_failures

    results = _example_runner().run(simulator, spec, build_root)
    # run() raises TestFailure when the cocotb test fails; the results name the test that passed
    assert read_failures(results) == []
    assert b"device_ticks_reach_the_driver" in results.read_bytes()
