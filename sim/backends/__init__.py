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
only the machine (docs/architecture.md, the Machine seam); :func:`run_scenario` runs one on any backend
and returns its dict. For the cocotb backends the scenario must be a
module-level function (it is imported by name inside the simulator) and its
arguments and result JSON-serialisable. :mod:`.scenarios` has the shared ones.

    >>> from irqforge.sim.backends import run_scenario
    >>> from irqforge.sim.backends.scenarios import irq_roundtrip
    >>> run_scenario("model", irq_roundtrip, n=10)["delivered"]
    10
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import types
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from irqforge.spec import Spec

from .base import BACKENDS, COCOTB_SIMULATORS, MachineDeadlock, MachineError, MachineTimeout, ScenarioError

__all__ = [
    "BACKENDS",
    "COCOTB_SIMULATORS",
    "MachineDeadlock",
    "MachineError",
    "MachineTimeout",
    "Scenario",
    "ScenarioError",
    "available",
    "is_file_scenario",
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


def _load_file(path: Path) -> types.ModuleType:
    """The module in ``path``, imported once under a name derived from its absolute path."""
    resolved = path.resolve()
    name = "irqforge_user_scenario_" + hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    if not resolved.is_file():
        raise ValueError(f"scenario file {path} does not exist")
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ValueError(f"scenario file {path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def is_file_scenario(scenario: str) -> bool:
    """``path/to/file.py:function`` rather than ``module:function``."""
    target = scenario.rpartition(":")[0]
    return target.endswith(".py") or "/" in target or os.sep in target


def resolve_scenario(scenario: Scenario | str) -> Scenario:
    """The scenario function named ``module:function`` or ``path/to/file.py:function`` (or given directly).

    A module is imported as usual, with the current directory importable; a
    file is imported from its path, whatever the current directory.
    """
    if not isinstance(scenario, str):
        return scenario
    target, sep, name = scenario.rpartition(":")
    if not sep or not target or not name:
        raise ValueError(f"scenario {scenario!r} is not of the form module:function or path/to/file.py:function")
    if is_file_scenario(scenario):
        module = _load_file(Path(target))
    else:
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # as `python -m` does: a module next to you is found
        module = importlib.import_module(target)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ValueError(f"{target} has no scenario function {name!r}")
    if inspect.isfunction(fn) and not inspect.iscoroutinefunction(fn):
        raise ValueError(f"{target}:{name} is not a scenario: write it as async def {name}(machine, **kwargs) -> dict")
    return fn


def _portable(scenario: Scenario | str) -> str:
    """A name of ``scenario`` that another process (a simulator's) resolves to the same function:
    irqforge's own as ``module:function``, anything else as ``/absolute/file.py:function``."""
    fn = resolve_scenario(scenario)
    module = sys.modules.get(fn.__module__)
    if module is None or fn.__module__.startswith("irqforge.") or getattr(module, "__file__", None) is None:
        return scenario_name(fn)
    if "<" in fn.__qualname__ or "." in fn.__qualname__:
        raise ValueError(f"scenario {fn.__qualname__} must be a module-level function to run inside a simulator")
    return f"{Path(module.__file__).resolve()}:{fn.__qualname__}"  # type: ignore[arg-type]


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
            _portable(scenario),
            spec,
            build_dir=build_dir,
            waves=waves,
            max_cycles=max_cycles,
            kwargs=kwargs,
        )
    raise ValueError(f"unknown backend {kind!r}; choose one of {', '.join(BACKENDS)}")
