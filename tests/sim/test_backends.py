"""The same scenarios on every Machine backend give the same result.

The ``model`` backend is the reference. ``amaranth`` (Amaranth's simulator
on the platform) always runs, with small scenarios: it simulates about a
few thousand cycles per second. ``icarus`` and ``verilator`` (cocotb on the
generated Verilog) run under the ``simulator`` fixture (marker ``sim``); all
the check scenarios share one simulator run there, the platform reset
between them (:func:`~irqforge.sim.backends.cocotb.run_many_on_simulator`).

Everything is compared except the ``"timing"`` entry (cycle stamps and wall
clock), where the RTL's few cycles of latency show; the RTL's timing is
checked against the platform's documented latencies instead.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from irqforge.sim.backends import MachineTimeout, open_machine, run_scenario
from irqforge.sim.backends import scenarios as sc
from irqforge.sim.backends.cocotb import run_many_on_simulator
from irqforge.spec import Spec
from irqforge.sw import BusError, Machine

#: (scenario, kwargs): small enough for Amaranth's simulator.
CHECKS: list[tuple[str, dict[str, Any]]] = [
    ("register_access", {}),
    ("bus_errors", {}),
    ("ipi_between_cpus", {}),
    ("ioapic_level", {}),
    ("lapic_timer_periodic", {"period": 200, "span": 1100}),
    ("hpet_comparator", {"delta": 300}),
    ("wait_any_timing", {"delay": 300, "idle": 100}),
    ("irq_roundtrip", {"n": 5}),
]

#: The software stack's demo, shrunk: about 0.6 M cycles instead of 5 M
#: (every counted event still happens at least once).
DEFAULT_SCENARIO = "irqforge.sw.scenario:default_scenario"
DEFAULT_KWARGS: dict[str, Any] = {"boot_ticks": 2, "ticks": 4, "irqs": 3, "ipis": 1, "munmaps": 1}


def _cocotb(simulator: str) -> str:
    """The cocotb backend on ``simulator`` (``verilator`` alone names the direct backend)."""
    return "cocotb-verilator" if simulator == "verilator" else simulator


def _untimed(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "timing"}


@pytest.fixture(scope="module")
def reference(spec: Spec) -> dict[str, dict[str, Any]]:
    """Every check scenario's result on the model backend."""
    return {name: run_scenario("model", getattr(sc, name), spec, **kwargs) for name, kwargs in CHECKS}


def _check_rtl_timing(name: str, result: dict[str, Any], kwargs: dict[str, Any]) -> None:
    """What an RTL backend's timing must show (exact where the RTL promises it)."""
    timing = result.get("timing", {})
    if name == "lapic_timer_periodic":
        stamps = timing["stamps"]
        assert [b - a for a, b in itertools.pairwise(stamps)] == [kwargs["period"]] * (len(stamps) - 1)
    elif name == "wait_any_timing":
        # TMICT written, then the one-shot expiry a couple of cycles either side of it.
        assert abs(timing["fired_after"] - kwargs["delay"]) <= 3, timing
    elif name == "hpet_comparator":
        assert abs(timing["fired_after"] - kwargs["delta"]) <= 6, timing


def test_reference_results_are_meaningful(reference: dict[str, dict[str, Any]], spec: Spec) -> None:
    """The reference itself shows the behaviour the other backends must repeat."""
    assert reference["bus_errors"]["reads"] == ["DECERR"] * 3
    assert reference["ipi_between_cpus"]["target_vector"] == spec.vectors["CALL_FUNCTION_VECTOR"]
    assert reference["lapic_timer_periodic"]["ticks"] == 1100 // 200
    assert reference["hpet_comparator"]["interrupted"] is True
    assert reference["irq_roundtrip"]["delivered"] == 5
    assert reference["wait_any_timing"]["waited_idle"] == 100


# --------------------------------------------------------------------------- amaranth


@pytest.mark.parametrize(("name", "kwargs"), CHECKS, ids=[name for name, _ in CHECKS])
def test_amaranth_matches_model(
    name: str, kwargs: dict[str, Any], spec: Spec, reference: dict[str, dict[str, Any]]
) -> None:
    got = run_scenario("amaranth", getattr(sc, name), spec, **kwargs)
    assert _untimed(got) == _untimed(reference[name])
    _check_rtl_timing(name, got, kwargs)


def test_amaranth_machine_seam(spec: Spec) -> None:
    """The Amaranth machine is a Machine; bus errors, cycle counting and the watchdog."""
    machine = open_machine("amaranth", spec)
    assert isinstance(machine, Machine)
    version = spec.platform.base("lapic") + spec.lapic.offset("VERSION")

    async def scenario() -> list[int]:
        seen = [machine.now()]
        await machine.wait_cycles(1000)
        seen.append(machine.now())
        await machine.wait_any_interrupt(37)  # nothing pending: the full bound
        seen.append(machine.now())
        with pytest.raises(BusError) as caught:
            await machine.read32(1, 0x1000)
        assert (caught.value.cpu, caught.value.resp) == (1, "DECERR")
        seen.append(await machine.read32(0, version))
        return seen

    assert machine.run(scenario()) == [0, 1000, 1037, spec.lapic.register("VERSION").reset]

    closed: list[int] = []

    async def forever() -> None:
        try:
            await machine.wait_interrupt(0)
        finally:
            closed.append(machine.now())

    with pytest.raises(MachineTimeout):
        machine.run(forever(), max_cycles=500)
    assert closed == [500]


def test_amaranth_init_sipi_reported(spec: Spec) -> None:
    machine = open_machine("amaranth", spec)
    regs = sc.Regs(machine)

    async def scenario() -> list[tuple[str, int]]:
        await regs.lapic_write(0, "ICR_HI", regs.lapic_value("ICR_HI", DEST=spec.platform.cpus[1].apic_id))
        await regs.lapic_write(0, "ICR_LO", regs.lapic_value("ICR_LO", DELIVERY_MODE="INIT", LEVEL=1))
        await regs.lapic_write(0, "ICR_LO", regs.lapic_value("ICR_LO", VECTOR=0x9A, DELIVERY_MODE="STARTUP", LEVEL=1))
        await machine.wait_cycles(4)
        return machine.take_startup(1) + machine.take_startup(0) + machine.take_startup(1)

    assert machine.run(scenario()) == [("INIT", 0), ("SIPI", 0x9A)]


def test_amaranth_writes_vcd(spec: Spec, tmp_path: Path) -> None:
    waves = tmp_path / "run.vcd"
    out = run_scenario("amaranth", sc.idle_cycles, spec, waves=waves, cycles=20)
    assert out["cycles"] == 20
    text = waves.read_text()
    assert "$enddefinitions" in text and "cpu__0__intr" in text
    with pytest.raises(ValueError, match="VCD"):
        run_scenario("amaranth", sc.idle_cycles, spec, waves=tmp_path / "run.fst", cycles=20)


# --------------------------------------------------------------------------- icarus / verilator


@pytest.mark.sim
def test_cocotb_matches_model(
    simulator: str, spec: Spec, build_root: Path, reference: dict[str, dict[str, Any]]
) -> None:
    jobs = [(getattr(sc, name), kwargs) for name, kwargs in CHECKS]
    results = run_many_on_simulator(simulator, jobs, spec, build_dir=build_root, max_cycles=200_000)
    assert len(results) == len(CHECKS)
    mismatches = {
        name: {"model": _untimed(reference[name]), simulator: _untimed(got)}
        for (name, _), got in zip(CHECKS, results, strict=True)
        if _untimed(got) != _untimed(reference[name])
    }
    assert not mismatches, json.dumps(mismatches, indent=1)
    for (name, kwargs), got in zip(CHECKS, results, strict=True):
        _check_rtl_timing(name, got, kwargs)


@pytest.mark.sim
def test_cocotb_watchdog_is_a_machine_timeout(simulator: str, spec: Spec, build_root: Path) -> None:
    with pytest.raises(MachineTimeout) as caught:
        run_scenario(_cocotb(simulator), sc.idle_cycles, spec, build_dir=build_root, max_cycles=1000, cycles=5000)
    assert caught.value.cycles == 1000


@pytest.mark.sim
@pytest.mark.parametrize("suffix", [".fst", ".vcd"])
def test_cocotb_waves(
    simulator: str, suffix: str, spec: Spec, build_root: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if simulator == "verilator" and not request.config.getoption("--long"):
        # each costs a Verilator build of the traced platform (~40 CPU-s); the default run covers
        # the runner's Verilator FST path (tests/sim_smoke) and the direct backend's FST writer
        pytest.skip(f"a Verilator build of the platform with {suffix[1:].upper()} tracing: run with --long")
    waves = tmp_path / f"run{suffix}"
    out = run_scenario(_cocotb(simulator), sc.idle_cycles, spec, build_dir=build_root, waves=waves, cycles=50)
    assert out["cycles"] == 50
    head = waves.read_bytes()[:4096]
    if suffix == ".vcd":
        text = waves.read_bytes()
        # the harness's ports and the blocks' insides (the Verilator model makes
        # only the ports public, but tracing still sees everything)
        assert b"$timescale" in head and b"cpu__0__intr" in text
        assert re.search(rb"\$var \S+ 256 \S+ irr\b", text) and re.search(rb"\$var \S+ 256 \S+ isr\b", text)
    else:
        assert waves.stat().st_size > 0 and b"$timescale" not in head  # binary FST, not VCD


# --------------------------------------------------------------------------- the software stack

#: why the 4-CPU co-simulation runs on Verilator only with --long
FOUR_CPU_VERILATOR = (
    "a Verilator build of the 4-CPU co-simulation platform (~35 CPU-s): run with --long; Icarus runs it "
    "here, and test_verilator_direct runs the 4-CPU platform Verilated"
)


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "timing"}


@pytest.fixture(scope="module")
def default_reference(spec: Spec) -> dict[str, Any]:
    return run_scenario("model", DEFAULT_SCENARIO, spec, **DEFAULT_KWARGS)


@pytest.mark.sim
def test_software_stack_same_on_rtl(
    simulator: str, spec: Spec, build_root: Path, default_reference: dict[str, Any]
) -> None:
    got = run_scenario(_cocotb(simulator), DEFAULT_SCENARIO, spec, build_dir=build_root, **DEFAULT_KWARGS)
    assert default_reference["jiffies"] == DEFAULT_KWARGS["boot_ticks"] + DEFAULT_KWARGS["ticks"]
    assert _comparable(got) == _comparable(default_reference)


def test_software_stack_same_on_amaranth(spec: Spec, default_reference: dict[str, Any]) -> None:
    """The same software scenario on Amaranth's simulator (the platform RTL
    elaborated in Python, no Verilog): the model's exact counts."""
    got = run_scenario("amaranth", DEFAULT_SCENARIO, spec, **DEFAULT_KWARGS)
    assert _comparable(got) == _comparable(default_reference)


@pytest.mark.sim
def test_software_stack_same_on_rtl_with_four_cpus(
    simulator: str, spec: Spec, build_root: Path, request: pytest.FixtureRequest
) -> None:
    """The platform beyond the default two CPUs: four LAPICs behind the router
    (IPIs, TLB shootdowns and the affinity move fan out over more ports), the
    same counts as the model."""
    if simulator == "verilator" and not request.config.getoption("--long"):
        pytest.skip(FOUR_CPU_VERILATOR)
    four = spec.with_cpus(4)
    want = run_scenario("model", DEFAULT_SCENARIO, four, **DEFAULT_KWARGS)
    got = run_scenario(_cocotb(simulator), DEFAULT_SCENARIO, four, build_dir=build_root, **DEFAULT_KWARGS)
    # every CPU took interrupts, IPIs among them (CALL_FUNCTION_VECTOR on the three APs)
    assert want["cpus"] == 4 and all(want["vectors"]), want["vectors"]
    call = f"{spec.vectors['CALL_FUNCTION_VECTOR']:#x}"
    assert all(v.get(call) for v in want["vectors"][1:]), want["vectors"]
    assert _comparable(got) == _comparable(want)
