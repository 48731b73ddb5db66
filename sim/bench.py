"""``irqforge bench``: the performance and implementation figures of contract §8.

Every figure is measured in this run, on this machine; repeated figures give
the median and the spread (min..max) of ``reps`` repetitions. Figures that
need a tool that is missing (a simulator, Yosys, nextpnr-ice40) are reported
as ``null`` with the reason under ``"skipped"``, never estimated.

The JSON object carries at least ``latency_cycles``, ``cosim_irqs_per_s``,
``sim_cycles_per_s``, ``gen_seconds`` and, with Yosys, ``area`` and
``fmax_mhz``. ``--write-doc FILE`` renders the same run as Markdown
(``docs/performance.md`` in the repository is made this way).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from irqforge import __version__
from irqforge.spec import Spec, load_default

from .backends import MachineTimeout, available, run_scenario, why_unavailable

#: the software-stack scenario whose interrupts are counted end to end
COSIM_SCENARIO = "irqforge.sw.scenario:irq_throughput"
#: interrupts per run for each backend (slow simulators get fewer; the rate is what counts)
COSIM_N = {"model": 20_000, "verilator": 500, "icarus": 200, "amaranth": 20}
#: a co-simulation that has not finished by then is reported as not finished
COSIM_MAX_CYCLES = 2_000_000
IDLE_CYCLES = {"model": 10**8, "verilator": 2_000_000, "icarus": 200_000, "amaranth": 2_000}
BUS_READS = {"model": 20_000, "verilator": 2_000, "icarus": 1_000, "amaranth": 20}
STORM_N = 1_000


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "reps": len(values),
    }


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    from .toolchain import find_icarus, find_nextpnr, find_verilator, find_yosys

    found = (find_verilator(), find_icarus(), find_yosys(), find_nextpnr())
    tools = {t.name: (t.version if t.ok else None) for t in found}
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "irqforge": __version__,
        "tools": tools,
    }


class Bench:
    """One bench run; ``figures`` is the JSON object."""

    def __init__(self, spec: Spec, reps: int, progress: Progress | None, build_dir: Path) -> None:
        self.spec = spec
        self.reps = reps
        self.progress = progress
        self.build_dir = build_dir
        self.skipped: dict[str, str] = {}
        self.figures: dict[str, Any] = {}

    # -- helpers

    def _step(self, what: str, fn: Callable[[], Any]) -> Any:
        task = None
        if self.progress is not None:
            task = self.progress.add_task(what, total=None)
        try:
            return fn()
        finally:
            if self.progress is not None and task is not None:
                self.progress.update(task, total=1, completed=1)

    def _scenario(self, backend: str, name: str, **kwargs: Any) -> dict[str, Any]:
        return run_scenario(backend, name, self.spec, build_dir=self.build_dir, **kwargs)

    # -- figures

    def gen_seconds(self) -> None:
        """Full regeneration (every output incl. Verilog) in a fresh process, as a user runs it."""
        times = []
        for _ in range(self.reps):
            with tempfile.TemporaryDirectory(prefix="irqforge-gen-") as tmp:
                t0 = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "irqforge", "gen", "-o", tmp], check=True, capture_output=True, text=True
                )
                times.append(time.perf_counter() - t0)
        self.figures["gen_seconds"] = _stats(times)

    def latency(self) -> None:
        try:
            from .latency import measure_latencies
        except ModuleNotFoundError as e:
            self.skipped["latency_cycles"] = f"not available: {e}"
            self.figures["latency_cycles"] = None
            return
        self.figures["latency_cycles"] = measure_latencies(self.spec)

    def backends(self) -> None:
        present = available()
        cosim: dict[str, Any] = {}
        cycles: dict[str, Any] = {}
        hw_rt: dict[str, Any] = {}
        bus: dict[str, Any] = {}
        for kind in ("model", "verilator", "icarus", "amaranth"):
            if kind not in present:
                why = why_unavailable(kind) or "not present"
                for d in (cosim, cycles, hw_rt, bus):
                    d[kind] = None
                self.skipped[f"backend {kind}"] = why
                continue
            rates, crates, rrates, brates = [], [], [], []
            for _ in range(self.reps):
                r = self._scenario(kind, "irqforge.sim.backends.scenarios:idle_cycles", cycles=IDLE_CYCLES[kind])
                crates.append(r["timing"]["cycles_per_s"])
                r = self._scenario(kind, "irqforge.sim.backends.scenarios:bus_reads", n=BUS_READS[kind])
                brates.append(r["timing"]["reads_per_s"])
                r = self._scenario(kind, "irqforge.sim.backends.scenarios:irq_roundtrip", n=COSIM_N[kind])
                rrates.append(r["timing"]["irqs_per_s"])
                try:
                    r = self._scenario(kind, COSIM_SCENARIO, n=COSIM_N[kind], max_cycles=COSIM_MAX_CYCLES)
                    rates.append(r["timing"]["irqs_per_s"])
                except MachineTimeout:
                    self.skipped[f"cosim {kind}"] = (
                        f"{COSIM_SCENARIO} n={COSIM_N[kind]} did not finish within {COSIM_MAX_CYCLES:,} cycles"
                    )
            cosim[kind] = _stats(rates) if rates else None
            cycles[kind] = _stats(crates)
            hw_rt[kind] = _stats(rrates)
            bus[kind] = _stats(brates)
        self.figures["cosim_irqs_per_s"] = cosim
        self.figures["sim_cycles_per_s"] = cycles
        self.figures["hw_roundtrip_irqs_per_s"] = hw_rt
        self.figures["bus_transactions_per_s"] = bus
        if bus.get("verilator") and bus.get("model"):
            self.figures["cocotb_us_per_bus_transaction"] = {
                "verilator": 1e6 / bus["verilator"]["median"],
                "model": 1e6 / bus["model"]["median"],
            }

    def fpga(self) -> None:
        import importlib

        from irqforge.hw import TOPS

        from . import fpga

        if not fpga.tools_present():
            self.skipped["area"] = self.skipped["fmax_mhz"] = "yosys or nextpnr-ice40 missing (scripts/setup.sh)"
            self.figures["area"] = self.figures["fmax_mhz"] = None
            return
        area: dict[str, Any] = {}
        fmax: dict[str, Any] = {}
        for name, mod in TOPS.items():
            top = importlib.import_module(f"irqforge.hw.{mod}").top
            a = fpga.area(top(self.spec), name)
            area[name] = {"cells": a.cells, "lut4": a.lut4, "dff": a.dff, "carry": a.carry}
            mhz, _h, note = fpga.fmax(top(self.spec), name)
            fmax[name] = round(mhz, 1) if mhz is not None else None
            if mhz is None:
                self.skipped[f"fmax {name}"] = note
        self.figures["area"] = area
        self.figures["fmax_mhz"] = fmax

    def run(self, parts: list[str]) -> dict[str, Any]:
        self.figures["machine"] = machine_info()
        steps = {
            "gen": ("full regeneration", self.gen_seconds),
            "latency": ("latencies (Amaranth simulator)", self.latency),
            "backends": ("backends: cycles/s, bus, round trips, co-simulation", self.backends),
            "fpga": ("iCE40 area and Fmax (yosys, nextpnr-ice40)", self.fpga),
        }
        for p in parts:
            what, fn = steps[p]
            self._step(what, fn)
        self.figures["skipped"] = self.skipped
        return self.figures


def render_markdown(f: dict[str, Any]) -> str:
    """``docs/performance.md`` from a bench result."""
    m = f["machine"]

    def fmt(v: Any, unit: str = "") -> str:
        if v is None:
            return "—"
        if isinstance(v, dict) and "median" in v:
            return f"{v['median']:,.0f}{unit} ({v['min']:,.0f}..{v['max']:,.0f})"
        if isinstance(v, float):
            return f"{v:,.2f}{unit}"
        return f"{v}{unit}"

    out = [
        "# irqforge performance",
        "",
        "Made by `irqforge bench --write-doc docs/performance.md`; every figure is measured in that run.",
        "Repeated figures: median (min..max).",
        "",
        f"Machine: {m['cpu'] or 'unknown CPU'}, {m['cores']} cores, {m['memory']}; {m['os']}; "
        f"Python {m['python']}; irqforge {m['irqforge']}.",
        "Tools: " + ", ".join(f"{k} {v or 'absent'}" for k, v in m["tools"].items()) + ".",
        "",
        "## Latency (clock cycles)",
        "",
        "| path | cycles |",
        "|---|---|",
    ]
    for k, v in (f.get("latency_cycles") or {}).items():
        out.append(f"| {k} | {v} |")
    out += ["", "## Simulation speed", "", "| backend | co-sim irqs/s (through the software stack) | "
            "hardware round trips/s | simulated cycles/s | bus transactions/s |", "|---|---|---|---|---|"]
    for kind in ("model", "verilator", "icarus", "amaranth"):
        out.append(
            f"| {kind} | {fmt((f.get('cosim_irqs_per_s') or {}).get(kind))} | "
            f"{fmt((f.get('hw_roundtrip_irqs_per_s') or {}).get(kind))} | "
            f"{fmt((f.get('sim_cycles_per_s') or {}).get(kind))} | "
            f"{fmt((f.get('bus_transactions_per_s') or {}).get(kind))} |"
        )
    if "gen_seconds" in f:
        g = f["gen_seconds"]
        out += ["", f"Full regeneration (`irqforge gen`, fresh process): {g['median']:.2f} s "
                f"({g['min']:.2f}..{g['max']:.2f})."]
    if f.get("area"):
        out += ["", "## iCE40 implementation (Yosys `synth_ice40`, nextpnr-ice40 hx8k)", "",
                "| block | cells | LUT4 | DFF | carry | Fmax MHz |", "|---|---|---|---|---|---|"]
        for name, a in f["area"].items():
            out.append(
                f"| {name} | {a['cells']} | {a['lut4']} | {a['dff']} | {a['carry']} | "
                f"{fmt(f['fmax_mhz'].get(name))} |"
            )
    if f.get("skipped"):
        out += ["", "## Not measured in this run", ""]
        out += [f"- {k}: {v}" for k, v in f["skipped"].items()]
    return "\n".join(out) + "\n"


def run_bench(args: argparse.Namespace) -> int:
    spec = load_default()
    reps = 1 if args.quick else 3
    parts = args.parts.split(",") if getattr(args, "parts", None) else ["gen", "latency", "backends", "fpga"]
    err = Console(stderr=True, highlight=False)
    with tempfile.TemporaryDirectory(prefix="irqforge-bench-") as tmp:
        if err.is_terminal:
            with Progress(
                TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err, transient=False
            ) as progress:
                figures = Bench(spec, reps, progress, Path(tmp)).run(parts)
        else:
            figures = Bench(spec, reps, None, Path(tmp)).run(parts)
    if getattr(args, "write_doc", None):
        Path(args.write_doc).write_text(render_markdown(figures), encoding="utf-8")
    if args.json:
        print(json.dumps(figures, indent=2, sort_keys=True))
    else:
        Console(highlight=False, soft_wrap=True).print(render_markdown(figures), markup=False)
    return 0
