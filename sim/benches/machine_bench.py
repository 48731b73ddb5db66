"""cocotb bench that hosts software scenarios on the ``irqforge_platform`` RTL.

Run through :func:`irqforge.sim.backends.cocotb.run_on_simulator` or
:func:`~irqforge.sim.backends.cocotb.run_many_on_simulator` (toplevel
``irqforge_platform``). The environment says what to run (names in
:mod:`irqforge.sim.backends.cocotb`):

``IRQFORGE_JOBS``
    JSON list of ``{"scenario": "module:function", "kwargs": {...}}``: the
    scenarios to run one after the other, the platform reset before each.
    The result file then holds a JSON list of their dicts.
``IRQFORGE_SCENARIO``, ``IRQFORGE_SCENARIO_ARGS``
    Instead of ``IRQFORGE_JOBS``: one ``async def scenario(machine, **kwargs)
    -> dict`` and its keyword arguments (JSON object, default ``{}``); the
    result file holds its dict.
``IRQFORGE_RESULT``
    Where to write the result as JSON (default ``scenario_result.json`` in
    the run folder).
``IRQFORGE_SPEC_PICKLE``
    A pickled spec matching the Verilog (default: the shipped specs).
``IRQFORGE_MAX_CYCLES``
    Stop a scenario that has not returned after this many cycles: the test
    fails, and the result file's list ends with
    ``{"irqforge_timeout_cycles": N}`` so the host can raise
    :class:`~irqforge.sim.backends.base.MachineTimeout`.

``IRQFORGE_PROFILE``
    Run the scenarios under :mod:`cProfile` (every Python frame the
    simulator's callbacks run, cocotb's scheduler included) and dump the
    statistics to this file (``python -m pstats FILE``).

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
    ENV_JOBS,
    ENV_MAX_CYCLES,
    ENV_PROFILE,
    ENV_RESULT,
    ENV_SCENARIO,
    ENV_SCENARIO_ARGS,
    ENV_SPEC,
    EXCEPTION_KEY,
    TIMEOUT_KEY,
    CocotbMachine,
)
from irqforge.sim.tracebacks import format_user_exception
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


def _jobs() -> tuple[list[tuple[str, dict[str, Any]]], bool]:
    """The (scenario, kwargs) jobs, and whether the result is a list."""
    listed = os.environ.get(ENV_JOBS)
    if listed:
        return [(job["scenario"], dict(job.get("kwargs") or {})) for job in json.loads(listed)], True
    name = os.environ.get(ENV_SCENARIO)
    if not name:
        raise RuntimeError(f"set {ENV_JOBS} or {ENV_SCENARIO} to say which scenario to run")
    return [(name, json.loads(os.environ.get(ENV_SCENARIO_ARGS) or "{}"))], False


@cocotb.test()
async def run_scenario(dut: Any) -> None:
    """Run the scenarios named by the environment and save their results."""
    jobs, as_list = _jobs()
    scenarios = [(resolve_scenario(name), kwargs) for name, kwargs in jobs]
    out = Path(os.environ.get(ENV_RESULT) or DEFAULT_RESULT)
    max_cycles = int(os.environ.get(ENV_MAX_CYCLES) or 0) or None
    machine = CocotbMachine(dut, _spec())
    await machine.start()
    profile_path = os.environ.get(ENV_PROFILE)
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        await _run_jobs(dut, machine, jobs, scenarios, out, max_cycles, as_list)
    finally:
        if profiler is not None and profile_path:
            profiler.disable()
            profiler.dump_stats(profile_path)


async def _run_jobs(
    dut: Any,
    machine: CocotbMachine,
    jobs: list[tuple[str, dict[str, Any]]],
    scenarios: list[tuple[Any, dict[str, Any]]],
    out: Path,
    max_cycles: int | None,
    as_list: bool,
) -> None:
    """Run ``scenarios`` one after the other on ``machine`` and write their results to ``out``."""
    from cocotb.triggers import SimTimeoutError, with_timeout

    results: list[Any] = []
    for index, (scenario, kwargs) in enumerate(scenarios):
        if index:
            await machine.reset()
        dut._log.info("scenario %s %s", jobs[index][0], json.dumps(kwargs))
        try:
            if max_cycles is None:
                results.append(await scenario(machine, **kwargs))
                continue
            results.append(
                await with_timeout(scenario(machine, **kwargs), machine.cycles_to_steps(max_cycles), "step")
            )
        except SimTimeoutError:
            out.write_text(json.dumps([*results, {TIMEOUT_KEY: max_cycles}]) + "\n")
            raise MachineTimeout(max_cycles) from None
        except Exception as e:
            # the scenario's own exception: recorded for the caller, who shows it as the user's traceback
            record = {"type": type(e).__name__, "message": str(e), "traceback": format_user_exception(e) or ""}
            out.write_text(json.dumps([*results, {EXCEPTION_KEY: record}]) + "\n")
            raise
    out.write_text(json.dumps(results if as_list else results[0], indent=1) + "\n")
