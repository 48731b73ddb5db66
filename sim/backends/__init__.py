"""Machine backends: the platform under the software stack, by name.

==================== ==========================================================
``model``            :class:`~.model.ModelMachine` — the reference models, no RTL
``verilator``        :class:`~.verilator.VerilatorMachine` — the Verilated
                     platform driven directly through a generated C ABI
                     (:mod:`~.verilator_abi`), no cocotb: the fast path
``cocotb-verilator`` :class:`~.cocotb.CocotbMachine` inside a cocotb test on the
``icarus``           generated Verilog (:func:`~.cocotb.run_on_simulator`)
``amaranth``         :class:`~.amaranth.AmaranthMachine` — Amaranth's simulator
                     on :func:`irqforge.hw.platform.top`
==================== ==========================================================

A *scenario* is ``async def scenario(machine, **kwargs) -> dict`` awaiting
only the machine (contract §7); :func:`run_scenario` runs one on any backend
and returns its dict. For the cocotb backends the scenario must be a
module-level function (it is imported by name inside the simulator) and its
arguments and result JSON-serialisable. :mod:`.scenarios` has the shared ones.

    >>> from irqforge.sim.backends import run_scenario
    >>> from irqforge.sim.backends.scenarios import irq_roundtrip
    >>> run_scenario("model", irq_roundtrip, n=10)["delivered"]
    10
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Awaitable, Callable
from typing import Any

from irqforge.spec import Spec

from .base import BACKENDS, COCOTB_SIMULATORS, MachineDeadlock, MachineError, MachineTimeout

__all__ = [
    "BACKENDS",
    "COCOTB_SIMULATORS",
    "MachineDeadlock",
    "MachineError",
    "MachineTimeout",
    "Scenario",
    "available",
    "open_machine",
    "resolve_scenario",
    "run_scenario",
    "scenario_name",
    "why_unavailable",
]

Scenario = Callable[..., Awaitable[dict]]
"""``async def scenario(machine, **kwargs) -> dict``."""


def _spec(spec: Spec | None) -> Spec:
    if spec is not None:
        return spec
    from irqforge.spec import load_default

    return load_default()


def why_unavailable(kind: str) -> str | None:
    """Why backend ``kind`` cannot run here, or ``None`` when it can."""
    if kind not in BACKENDS:
        raise ValueError(f"unknown backend {kind!r}; choose one of {', '.join(BACKENDS)}")
    if kind == "model":
        return None
    try:
        importlib.import_module("irqforge.hw.platform")
    except ImportError as err:
        return f"the RTL platform is not importable ({err})"
    if kind == "amaranth":
        return None
    from irqforge.sim import toolchain

    tool = toolchain.find_simulator(COCOTB_SIMULATORS.get(kind, kind))
    if not tool.ok:
        return tool.why_not
    if kind in COCOTB_SIMULATORS and importlib.util.find_spec("cocotb") is None:
        return "cocotb is not installed (the `sim` extra); run `bash scripts/setup.sh`"
    return None


def available() -> list[str]:
    """The backends that can run here, fastest first."""
    return [kind for kind in BACKENDS if why_unavailable(kind) is None]


def open_machine(kind: str, spec: Spec | None = None, **options: Any) -> Any:
    """A machine of backend ``kind`` driven from this process (``model``,
    ``verilator`` or ``amaranth``).

    The machine's ``run(coro, max_cycles=…)`` drives a scenario. The cocotb
    backends live inside the simulator process: use :func:`run_scenario`.
    """
    spec = _spec(spec)
    if kind == "model":
        from .model import ModelMachine

        return ModelMachine(spec, **options)
    if kind == "amaranth":
        from .amaranth import AmaranthMachine

        return AmaranthMachine(spec, **options)
    if kind == "verilator":
        from .verilator import VerilatorMachine

        return VerilatorMachine(spec, **options)
    if kind in COCOTB_SIMULATORS:
        raise ValueError(
            f"a {kind} machine exists only inside its cocotb simulation; run scenarios on it with run_scenario()"
        )
    raise ValueError(f"unknown backend {kind!r}; choose one of {', '.join(BACKENDS)}")


def scenario_name(scenario: Scenario | str) -> str:
    """The ``module:function`` name of a module-level scenario."""
    if isinstance(scenario, str):
        return scenario
    module, qualname = scenario.__module__, scenario.__qualname__
    if "<" in qualname or "." in qualname:
        raise ValueError(f"scenario {qualname} must be a module-level function to run inside a simulator")
    return f"{module}:{qualname}"


def resolve_scenario(scenario: Scenario | str) -> Scenario:
    """The scenario function named ``module:function`` (or given directly)."""
    if not isinstance(scenario, str):
        return scenario
    module, sep, name = scenario.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"scenario {scenario!r} is not of the form module:function")
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn):
        raise ValueError(f"module {module} has no scenario function {name!r}")
    return fn


def run_scenario(
    kind: str,
    scenario: Scenario | str,
    spec: Spec | None = None,
    *,
    max_cycles: int | None = None,
    build_dir: str | os.PathLike[str] | None = None,
    waves: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> dict:
    """Run ``scenario(machine, **kwargs)`` on backend ``kind`` and return its dict.

    ``max_cycles`` stops a run that does not finish (:class:`MachineTimeout`);
    ``waves`` writes a waveform (``amaranth``: VCD; ``verilator``: FST;
    cocotb: ``.fst`` or ``.vcd``); ``build_dir`` is the build cache (default:
    :func:`irqforge.sim.toolchain.cache_dir`).
    """
    spec = _spec(spec)
    if kind == "model":
        if waves is not None:
            raise ValueError("the model backend has no waveforms")
        machine = open_machine(kind, spec)
        return machine.run(resolve_scenario(scenario)(machine, **kwargs), max_cycles=max_cycles)
    if kind == "amaranth":
        machine = open_machine(kind, spec)
        return machine.run(
            resolve_scenario(scenario)(machine, **kwargs), max_cycles=max_cycles, waves=waves
        )
    if kind == "verilator":
        from .verilator import VerilatorMachine

        cache = None if build_dir is None else os.path.join(build_dir, "verilator")
        with VerilatorMachine(spec, waves=waves, cache=cache) as vm:
            return vm.run(resolve_scenario(scenario)(vm, **kwargs), max_cycles=max_cycles)
    if kind in COCOTB_SIMULATORS:
        from .cocotb import run_on_simulator

        return run_on_simulator(
            COCOTB_SIMULATORS[kind],
            scenario,
            spec,
            build_dir=build_dir,
            waves=waves,
            max_cycles=max_cycles,
            kwargs=kwargs,
        )
    raise ValueError(f"unknown backend {kind!r}; choose one of {', '.join(BACKENDS)}")
