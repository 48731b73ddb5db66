"""``irqforge sim --trace``: Linux's tracepoints as a Chrome/Perfetto trace.

The trace is checked against the kernel's own counters, which are kept by
other code (``/proc/interrupts``: ``kstat``, ``irq_stat``; ``/proc/softirqs``):
every handler run is one ``irq:irq_handler_entry``, every local timer
interrupt one ``irq_vectors:local_timer_entry`` on its CPU, every softirq run
one ``irq:softirq_entry``; slices nest properly on each CPU's track.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from irqforge.cli import main
from irqforge.sim.backends import available, run_scenario
from irqforge.sw import trace


def _check(events: list[dict[str, Any]], result: dict[str, Any]) -> None:
    cpus = result["cpus"]
    names = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {c: f"CPU {c}" for c in range(cpus)}
    body = [e for e in events if e["ph"] != "M"]
    assert all(e["cat"] in trace.TRACEPOINTS for e in body)
    # slices nest on every CPU's track, and timestamps never go back
    for cpu in range(cpus):
        stack: list[str] = []
        last = -1.0
        for e in (e for e in body if e["tid"] == cpu):
            assert e["ts"] >= last
            last = e["ts"]
            if e["ph"] == "B":
                stack.append(trace.SLICE_PAIRS[e["cat"]])
            elif e["ph"] == "E":
                assert stack and stack.pop() == e["cat"], e
        assert not stack
    # against the kernel's counters
    handler_runs = Counter(e["args"]["name"] for e in body if e["cat"] == "irq:irq_handler_entry")
    irq16 = sum(result["irqs"]["16"])
    assert handler_runs["eth0"] == handler_runs["ehci_hcd:usb1"] == irq16  # a shared line runs every action
    local = Counter(e["tid"] for e in body if e["cat"] == "irq_vectors:local_timer_entry")
    assert [local[c] for c in range(cpus)] == result["arch"]["LOC"]
    softirqs = Counter((e["tid"], e["args"]["name"]) for e in body if e["cat"] == "irq:softirq_entry")
    for name, per_cpu in result["softirqs"].items():
        assert [softirqs[(c, name)] for c in range(cpus)] == per_cpu, name


def test_default_scenario_trace_on_the_model(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    with trace.session(path):
        result = run_scenario("model", "irqforge.sw.scenario:default_scenario")
    _check(json.loads(path.read_text())["traceEvents"], result)


@pytest.mark.skipif("verilator" not in available(), reason="the direct Verilator backend is not available here")
def test_default_scenario_trace_on_verilator(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    with trace.session(path):
        result = run_scenario("verilator", "irqforge.sw.scenario:default_scenario")
    _check(json.loads(path.read_text())["traceEvents"], result)


def test_cli_trace_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.json"
    assert main(["sim", "--sim", "model", "--trace", str(path)]) == 0
    assert "ui.perfetto.dev" in capsys.readouterr().err
    assert json.loads(path.read_text())["displayTimeUnit"] == "ns"
    assert main(["sim", "--sim", "model", "--trace", str(tmp_path / "no" / "such" / "t.json")]) == 2


def test_unknown_tracepoint_is_a_bug() -> None:
    t = trace.Tracer(lambda: 0, 10_000_000, 1)
    with pytest.raises(ValueError, match="unknown tracepoint"):
        t.event(0, "irq:made_up")
