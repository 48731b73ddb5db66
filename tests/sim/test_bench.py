"""``irqforge bench`` (:mod:`irqforge.sim.bench`): the storm comparison, the
JSON keys of docs/cli.md (irqforge bench), the Markdown, repetitions and the progress display.

Every run here is shrunk (monkeypatched sizes, a few backends); the figures
themselves are not checked, only what the bench makes of them.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.progress import Progress

from irqforge.sim import bench
from irqforge.spec import Spec


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Bench sizes small enough for a test."""
    monkeypatch.setattr(bench, "STORM_CYCLES", 2_000)
    for sizes, n in ((bench.IDLE_CYCLES, 1_000), (bench.BUS_READS, 20), (bench.ROUNDTRIPS, 5), (bench.COSIM_N, 2)):
        for kind in list(sizes):
            monkeypatch.setitem(sizes, kind, n)
    return monkeypatch


def _only(monkeypatch: pytest.MonkeyPatch, *kinds: str) -> None:
    """Pretend only ``kinds`` can run here."""
    monkeypatch.setattr(bench, "available", lambda: list(kinds))


def test_storm_comparison_model_vs_amaranth(small: pytest.MonkeyPatch, spec: Spec) -> None:
    """The same storm on two backends: identical counts, stats over the repetitions."""
    small.setattr(bench, "STORM_BACKENDS", ("model", "amaranth"))
    _only(small, "model", "amaranth")
    b = bench.Bench(spec, reps=2, progress=None)
    b.storm()
    storm = b.figures["storm_comparison"]
    assert storm["identical"] is True
    assert storm["reference"] == "model"
    assert (storm["seed"], storm["cycles"]) == (bench.STORM_SEED, 2_000)
    model, amaranth = storm["backends"]["model"], storm["backends"]["amaranth"]
    assert model["acked"] == amaranth["acked"] > 0
    assert model["digests"] == amaranth["digests"]
    for entry in (model, amaranth):
        assert entry["identical"] and entry["repeatable"]
        for key in ("wall_s", "cycles_per_s", "irqs_per_s"):
            stats = entry[key]
            assert stats["reps"] == 2 and stats["min"] <= stats["median"] <= stats["max"]
    # which backend is faster is a figure of `irqforge bench`, not something a test asserts


def test_storm_comparison_reports_a_difference(
    small: pytest.MonkeyPatch, spec: Spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend whose storm counts differ from the model's is reported as such, in JSON and Markdown."""
    _only(monkeypatch, "model", "verilator")
    real = bench.Bench._jobs

    def jobs(self: bench.Bench, kind: str, todo: list[Any], max_cycles: int | None = None) -> list[dict[str, Any]]:
        results = real(self, "model", todo, max_cycles)
        if kind == "verilator":  # one interrupt fewer on CPU 0
            for r in results:
                r["cpus"][0]["acked"] -= 1
        return results

    monkeypatch.setattr(bench.Bench, "_jobs", jobs)
    b = bench.Bench(spec, reps=1, progress=None)
    b.storm()
    storm = b.figures["storm_comparison"]
    assert storm["identical"] is False
    assert storm["backends"]["verilator"]["identical"] is False
    assert storm["backends"]["model"]["identical"] is True
    assert storm["backends"]["icarus"] is None
    assert "storm icarus" in b.skipped
    b.figures["machine"] = bench.machine_info()
    text = bench.render_markdown(b.figures)
    assert "| verilator |" in text and "**no** |" in text


def test_bench_json_and_markdown(
    small: pytest.MonkeyPatch, spec: Spec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``irqforge bench --quick --parts latency,backends,storm --json --write-doc``
    on the model backend only: docs/cli.md's bench keys, every backend listed, the
    others skipped with a reason; the Markdown has the storm table; no
    progress output when stderr is not a terminal."""
    _only(small, "model")
    doc = tmp_path / "performance.md"
    args = argparse.Namespace(json=True, quick=True, parts="latency,backends,storm", write_doc=str(doc))
    assert bench.run_bench(args) == 0
    out, err = capsys.readouterr()
    assert err == ""
    figures = json.loads(out)
    for key in (
        "latency_cycles",
        "cosim_irqs_per_s",
        "sim_cycles_per_s",
        "hw_roundtrip_irqs_per_s",
        "bus_transactions_per_s",
        "cocotb_us_per_bus_transaction",
        "storm_comparison",
        "machine",
        "skipped",
    ):
        assert key in figures, key
    assert figures["latency_cycles"]["pin_to_intr"] > 0
    for key in ("cosim_irqs_per_s", "sim_cycles_per_s", "hw_roundtrip_irqs_per_s", "bus_transactions_per_s"):
        assert set(figures[key]) == set(bench.BACKEND_ORDER)
        assert figures[key]["model"]["reps"] == 1
        assert figures[key]["verilator"] is None
    assert "backend verilator" in figures["skipped"]
    assert figures["cocotb_us_per_bus_transaction"] == {"cocotb-verilator": None, "icarus": None}
    storm = figures["storm_comparison"]
    assert storm["identical"] is None  # nothing to compare with
    assert storm["backends"]["model"]["acked"] > 0
    text = doc.read_text()
    assert "## Interrupt storm: model vs RTL" in text
    assert "| backend | wall s | simulated cycles/s | interrupts/s | interrupts | identical |" in text
    assert "| model |" in text and "| verilator | — |" in text


def test_markdown_shows_only_the_parts_that_ran() -> None:
    figures = {"machine": bench.machine_info(), "gen_seconds": {"median": 1.5, "min": 1.4, "max": 1.9, "reps": 3}}
    text = bench.render_markdown(figures)
    assert "Full regeneration (`irqforge gen`, fresh process): 1.50 s (1.40..1.90)." in text
    for absent in ("## Latency", "## Simulation speed", "¹", "## Interrupt storm", "## iCE40"):
        assert absent not in text


def test_bench_rejects_an_unknown_part(spec: Spec) -> None:
    with pytest.raises(ValueError, match="storm"):
        bench.Bench(spec, reps=1, progress=None).run(["strom"])


def test_progress_on_a_terminal(small: pytest.MonkeyPatch, spec: Spec) -> None:
    _only(small, "model")
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    with Progress(console=console) as progress:
        bench.Bench(spec, reps=1, progress=progress).run(["storm"])
    assert "interrupt storm" in buf.getvalue()


def test_default_run_repeats(monkeypatch: pytest.MonkeyPatch, spec: Spec) -> None:
    """Without --quick every figure is measured REPS (≥ 3) times."""
    seen: list[int] = []

    def run(self: bench.Bench, parts: list[str]) -> dict[str, Any]:
        seen.append(self.reps)
        return {"machine": bench.machine_info(), "skipped": {}}

    monkeypatch.setattr(bench.Bench, "run", run)
    args = argparse.Namespace(json=True, quick=False, parts="storm", write_doc=None)
    assert bench.run_bench(args) == 0
    assert seen == [bench.REPS] and bench.REPS >= 3


@pytest.mark.sim
def test_bench_on_rtl(small: pytest.MonkeyPatch, simulator: str, spec: Spec) -> None:
    """The storm comparison and the bus-transaction cost on a cocotb simulator."""
    simulator = "cocotb-verilator" if simulator == "verilator" else simulator
    small.setattr(bench, "STORM_CYCLES", 20_000)
    small.setitem(bench.IDLE_CYCLES, simulator, 50_000)  # long enough for a steady cycles/s
    _only(small, "model", simulator)
    b = bench.Bench(spec, reps=1, progress=None)
    b.storm()
    storm = b.figures["storm_comparison"]
    assert storm["identical"] is True, json.dumps(storm, indent=1)
    assert storm["backends"][simulator]["acked"] == storm["backends"]["model"]["acked"] > 100
    b.backends()
    cost = b.figures["cocotb_us_per_bus_transaction"][simulator]
    assert cost["cycles_per_transaction"] == 3
    assert cost["clock_us"] > 0 and cost["harness"]["median"] > 0
    assert cost["overhead_us"] == pytest.approx(cost["harness"]["median"] - cost["clock_us"])
    # cocotbext-axi's master on the bare platform is measured too (how the two compare is for
    # `irqforge bench` to report, not for a test to assert)
    assert cost["cocotbext_axi"]["reps"] == 1 and cost["cocotbext_axi"]["median"] > 0, cost
    assert f"cocotbext-axi bus cost {simulator}" not in b.skipped
