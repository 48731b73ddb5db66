"""The ``irq_throughput`` scenario (``cosim_irqs_per_s`` of docs/performance.md) on the model backend."""

from __future__ import annotations

import json
from typing import Any

from irqforge.sim.backends import run_scenario
from irqforge.sw.scenario import irq_throughput


def test_irq_throughput_counts_are_exact_and_json_safe(spec: Any) -> None:
    r = run_scenario("model", irq_throughput, spec, n=301)
    assert json.loads(json.dumps(r)) == r
    assert r["n"] == 301
    assert r["per_cpu"] == [151, 150]  # one device per CPU, each affine to its CPU
    assert sum(sum(v) for v in r["irqs"].values()) == 301
    assert r["spurious"] == [0, 0]
    t = r["timing"]
    assert t["wall_s"] > 0 and t["irqs_per_s"] > 0
    assert t["cycles_per_irq"] > 0
    again = run_scenario("model", irq_throughput, spec, n=301)
    assert {k: v for k, v in again.items() if k != "timing"} == {k: v for k, v in r.items() if k != "timing"}


def test_irq_throughput_one_device(spec: Any) -> None:
    r = run_scenario("model", irq_throughput, spec, n=200, devices=1)
    assert r["per_cpu"] == [200, 0]
    assert list(r["irqs"]) == ["1"]
