"""The MSR seam on every backend, and ``irqforge sim --apic x2apic`` / ``--apic xapic``
giving the same counts on every backend.

``msr_access`` (:mod:`irqforge.sim.backends.scenarios`): IA32_TSC counts and
can be written (SDM vol. 3 §17.17), an MSR nobody answers raises
:class:`~irqforge.sw.MsrFault` — the same result on model, Amaranth,
Verilator (direct and under cocotb) and Icarus, the TSC advancing by the
cycles waited plus the backend's few cycles of MSR latency.

The default scenario (the whole software stack: x2APIC driver, MSR EOIs and
IPIs, the TSC-deadline tick) and the storm (bare-metal, every LAPIC switched
to x2APIC through IA32_APIC_BASE, EOIs through the EOI MSR) in x2APIC mode
must give the xAPIC run's result on the model — the reference — and on
Verilator (direct and under cocotb) and Icarus. Everything is compared
except the timing entries, as in ``test_backends.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from irqforge.cli import main as cli_main
from irqforge.sim.backends import run_scenario, why_unavailable
from irqforge.sim.backends import scenarios as sc
from irqforge.sim.backends.cocotb import run_many_on_simulator
from irqforge.sim.backends.storm import storm
from irqforge.spec import Spec
from irqforge.sw.x2apic import apic_mode, x2apic_supported

DEFAULT_SCENARIO = "irqforge.sw.scenario:default_scenario"
#: the demo shrunk as in test_backends.py (every counted event still happens)
DEFAULT_KWARGS: dict[str, Any] = {"boot_ticks": 2, "ticks": 4, "irqs": 3, "ipis": 1, "munmaps": 1}
STORM_KWARGS: dict[str, Any] = {"cycles": 20_000, "seed": 1}


@pytest.fixture
def _needs_x2apic(spec: Spec) -> None:
    if not x2apic_supported(spec):
        pytest.skip("the default spec has no x2APIC MSR view")


def _verilator_selected(request: pytest.FixtureRequest) -> None:
    raw = request.config.getoption("--sim")
    if raw is not None and str(raw).lower() != "all" and "verilator" not in str(raw).lower().split(","):
        pytest.skip(f"verilator not selected (--sim {raw})")
    why = why_unavailable("verilator")
    if why is not None:
        pytest.skip(f"verilator backend unavailable: {why}")


# --------------------------------------------------------------------------- the MSR seam

MSR_WAIT = 100


def _check_msr_access(result: dict[str, Any], spec: Spec) -> None:
    assert result["faults"] == [True] * (2 * spec.platform.ncpus)
    assert result["tsc_counts"] and result["tsc_written"]
    # the TSC ticks once per clock: the cycles waited plus one access's latency (a few cycles)
    assert MSR_WAIT < result["timing"]["tsc_delta"] <= MSR_WAIT + 4


@pytest.mark.parametrize("backend", ["model", "amaranth"])
def test_msr_seam(backend: str, spec: Spec) -> None:
    _check_msr_access(run_scenario(backend, sc.msr_access, spec, wait=MSR_WAIT), spec)


@pytest.mark.sim
def test_msr_seam_on_verilator_direct(spec: Spec, request: pytest.FixtureRequest) -> None:
    _verilator_selected(request)
    # the run's default cache (cache_dir("verilator")), where the other tests' 2-CPU library is (build_dir=build_root
    # would be cocotb's folder, and another build of the same library in its "verilator" subfolder)
    got = run_scenario("verilator", sc.msr_access, spec, wait=MSR_WAIT)
    _check_msr_access(got, spec)


@pytest.mark.sim
def test_msr_seam_on_cocotb(simulator: str, spec: Spec, build_root: Path) -> None:
    (got,) = run_many_on_simulator(simulator, [(sc.msr_access, {"wait": MSR_WAIT})], spec, build_dir=build_root)
    _check_msr_access(got, spec)


# --------------------------------------------------------------------------- --apic both ways


def _untimed(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("timing", "wall_s", "backend")}


@pytest.fixture(scope="module")
def reference(spec: Spec) -> dict[str, dict[str, Any]]:
    """The xAPIC results on the model backend."""
    with apic_mode("xapic"):
        default = run_scenario("model", DEFAULT_SCENARIO, spec, **DEFAULT_KWARGS)
    return {"default": default, "storm": run_scenario("model", storm, spec, apic="xapic", **STORM_KWARGS)}


def _x2apic_runs(backend: str, spec: Spec, **kw: Any) -> dict[str, dict[str, Any]]:
    with apic_mode("x2apic"):
        default = run_scenario(backend, DEFAULT_SCENARIO, spec, **kw, **DEFAULT_KWARGS)
    return {"default": default, "storm": run_scenario(backend, storm, spec, apic="x2apic", **kw, **STORM_KWARGS)}


def _same(got: dict[str, dict[str, Any]], want: dict[str, dict[str, Any]], backend: str) -> None:
    mismatches = {
        name: {"xapic on model": _untimed(want[name]), f"x2apic on {backend}": _untimed(got[name])}
        for name in want
        if _untimed(got[name]) != _untimed(want[name])
    }
    assert not mismatches, json.dumps(mismatches, indent=1)


@pytest.mark.usefixtures("_needs_x2apic")
def test_model_x2apic_same_as_xapic(spec: Spec, reference: dict[str, dict[str, Any]]) -> None:
    assert reference["storm"]["acked"] > 100 and "LOC:" in reference["default"]["proc_interrupts"]
    _same(_x2apic_runs("model", spec), reference, "model")


@pytest.mark.usefixtures("_needs_x2apic")
def test_model_default_mode_is_x2apic(spec: Spec) -> None:
    """Without --apic the kernel takes x2APIC when the spec has it; the counts are the same."""
    with apic_mode(None):
        got = run_scenario("model", DEFAULT_SCENARIO, spec, **DEFAULT_KWARGS)
    with apic_mode("x2apic"):
        want = run_scenario("model", DEFAULT_SCENARIO, spec, **DEFAULT_KWARGS)
    assert _untimed(got) == _untimed(want)


@pytest.mark.usefixtures("_needs_x2apic")
def test_cli_apic_option(capsys: pytest.CaptureFixture[str]) -> None:
    outs = []
    for mode in ("xapic", "x2apic"):
        assert cli_main(["sim", "--sim", "model", "--apic", mode, "--scenario", "storm", "--json"]) == 0
        outs.append(_untimed(json.loads(capsys.readouterr().out)))
    assert outs[0] == outs[1]
    with pytest.raises(SystemExit) as caught:
        cli_main(["sim", "--sim", "model", "--apic", "x3apic"])
    assert caught.value.code == 2


@pytest.mark.usefixtures("_needs_x2apic")
def test_amaranth_storm_in_x2apic_mode(spec: Spec) -> None:
    kwargs = {"cycles": 3_000, "seed": 3}
    want = run_scenario("model", storm, spec, apic="xapic", **kwargs)
    got = run_scenario("amaranth", storm, spec, apic="x2apic", **kwargs)
    assert want["acked"] > 20
    assert _untimed(got) == _untimed(want)


@pytest.mark.sim
@pytest.mark.usefixtures("_needs_x2apic")
def test_verilator_direct_x2apic_same_as_xapic(
    spec: Spec, reference: dict[str, dict[str, Any]], request: pytest.FixtureRequest
) -> None:
    _verilator_selected(request)
    _same(_x2apic_runs("verilator", spec), reference, "verilator")  # the run's default cache, as above


@pytest.mark.sim
@pytest.mark.usefixtures("_needs_x2apic")
def test_cocotb_x2apic_same_as_xapic(
    simulator: str, spec: Spec, build_root: Path, reference: dict[str, dict[str, Any]]
) -> None:
    """Icarus and Verilator under cocotb: both scenarios in one simulator run, in x2APIC mode
    (``IRQFORGE_APIC`` reaches the simulator process, as ``--apic`` does)."""
    with apic_mode("x2apic"):
        default, storm_result = run_many_on_simulator(
            simulator,
            [(DEFAULT_SCENARIO, DEFAULT_KWARGS), (storm, {"apic": "x2apic", **STORM_KWARGS})],
            spec,
            build_dir=build_root,
        )
    _same({"default": default, "storm": storm_result}, reference, simulator)
