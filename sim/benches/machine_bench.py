"""cocotb bench that hosts one software scenario on the ``irqforge_platform`` RTL.

Run through :func:`irqforge.sim.backends.cocotb.run_on_simulator` (toplevel
``irqforge_platform``). The environment says what to run
(names in :mod:`irqforge.sim.backends.cocotb`):

``IRQFORGE_SCENARIO``
    ``module:function`` of ``async def scenario(machine, **kwargs) -> dict``.
``IRQFORGE_SCENARIO_ARGS``
    JSON object of keyword arguments (default ``{}``).
``IRQFORGE_RESULT``
    Where to write the returned dict as JSON (default ``scenario_result.json``
    in the run folder).
``IRQFORGE_SPEC_PICKLE``
    A pickled spec matching the Verilog (default: the shipped specs).
``IRQFORGE_MAX_CYCLES``
    Fail the test if the scenario has not returned after this many cycles.

A scenario that raises fails the test with its exception.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import cocotb

from irqforge.sim.backends import MachineTimeout, resolve_scenario
from irqforge.sim.backends.cocotb import (
    ENV_MAX_CYCLES,
    ENV_RESULT,
    ENV_SCENARIO,
    ENV_SCENARIO_ARGS,
    ENV_SPEC,
    CocotbMachine,
)
from irqforge.spec import Spec, load_default

DEFAULT_RESULT = "scenario_result.json"


def _spec() -> Spec:
    path = os.environ.get(ENV_SPEC)
    if not path:
        return load_default()
    spec = pickle.loads(Path(path).read_bytes())
    if not isinstance(spec, Spec):
        raise TypeError(f"{path} does not hold an irqforge Spec")
    return spec


@cocotb.test()
async def run_scenario(dut: Any) -> None:
    """Run the scenario named by IRQFORGE_SCENARIO and save its result."""
    from cocotb.triggers import SimTimeoutError, with_timeout

    name = os.environ.get(ENV_SCENARIO)
    if not name:
        raise RuntimeError(f"set {ENV_SCENARIO} to module:function of the scenario to run")
    scenario = resolve_scenario(name)
    kwargs = json.loads(os.environ.get(ENV_SCENARIO_ARGS) or "{}")
    machine = CocotbMachine(dut, _spec())
    await machine.start()
    max_cycles = os.environ.get(ENV_MAX_CYCLES)
    if max_cycles:
        steps = machine.cycles_to_steps(int(max_cycles))
        try:
            result = await with_timeout(scenario(machine, **kwargs), steps, "step")
        except SimTimeoutError:
            raise MachineTimeout(int(max_cycles)) from None
    else:
        result = await scenario(machine, **kwargs)
    Path(os.environ.get(ENV_RESULT) or DEFAULT_RESULT).write_text(json.dumps(result, indent=1) + "\n")
