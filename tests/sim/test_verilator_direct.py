"""The ``verilator`` backend: the Verilated platform driven directly (no cocotb).

The ``model`` backend is the reference for every count, sequence and register
value; the ``cocotb-verilator`` backend (the same harness under cocotb) is the
reference for the timing, which must be the same edge for edge. The build is
cached in the session's build folder (``--build-dir`` keeps it); selected like
the cocotb Verilator tests (``--sim none`` skips them).
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from irqforge.cli import main as cli_main
from irqforge.sim import toolchain
from irqforge.sim.backends import MachineDeadlock, MachineTimeout, run_scenario, verilator_abi, why_unavailable
from irqforge.sim.backends import scenarios as sc
from irqforge.sim.backends.storm import storm
from irqforge.sim.backends.verilator import VerilatorMachine
from irqforge.spec import Spec
from irqforge.sw import BusError, Machine

pytestmark = pytest.mark.sim

#: (scenario, kwargs) checks, as in test_backends.py
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
DEFAULT_SCENARIO = "irqforge.sw.scenario:default_scenario"
STORM_KWARGS: list[dict[str, Any]] = [
    {"cycles": 20_000, "seed": 1},
    {"cycles": 20_000, "seed": 7, "raises_per_slot": 8},
]


def _untimed(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "timing"}


def _cycle_timing(result: dict[str, Any]) -> dict[str, Any]:
    """The ``timing`` entries counted in clock cycles (not wall-clock figures)."""
    timing = result.get("timing", {})
    return {k: v for k, v in timing.items() if not isinstance(v, float) and "wall" not in k and "per_s" not in k}


@pytest.fixture(scope="module")
def cache(request: pytest.FixtureRequest) -> Path:
    """The build cache for this module's tests (skips when Verilator is not selected or usable)."""
    raw = request.config.getoption("--sim")
    if raw is not None and str(raw).lower() not in ("all",) and "verilator" not in str(raw).lower().split(","):
        pytest.skip(f"verilator not selected (--sim {raw})")
    why = why_unavailable("verilator")
    if why is not None:
        pytest.skip(f"verilator backend unavailable: {why}")
    return toolchain.cache_dir("verilator")  # the run's cache (tests/conftest.py), shared with the CLI's runs


@pytest.fixture(scope="module")
def machine(spec: Spec, cache: Path) -> Any:
    with VerilatorMachine(spec, cache=cache) as vm:
        yield vm


def _run(vm: VerilatorMachine, name: str, **kwargs: Any) -> dict[str, Any]:
    vm.reset()
    return vm.run(getattr(sc, name)(vm, **kwargs))


# --------------------------------------------------------------------------- the seam


def test_is_a_machine(machine: VerilatorMachine) -> None:
    assert isinstance(machine, Machine)
    assert machine.ncpus == 2
    machine.reset()
    assert machine.now() == 0


def test_checks_match_the_model(machine: VerilatorMachine, spec: Spec) -> None:
    for name, kwargs in CHECKS:
        want = run_scenario("model", getattr(sc, name), spec, **kwargs)
        got = _run(machine, name, **kwargs)
        assert _untimed(got) == _untimed(want), name
    # the RTL's documented timing (as the cocotb backends are checked)
    stamps = _run(machine, "lapic_timer_periodic", period=200, span=1100)["timing"]["stamps"]
    assert [b - a for a, b in itertools.pairwise(stamps)] == [200] * (len(stamps) - 1)


def test_bus_error_and_read_latency(machine: VerilatorMachine, spec: Spec) -> None:
    async def scenario() -> tuple[int, int]:
        lapic = spec.platform.base("lapic")
        t0 = machine.now()
        await machine.read32(0, lapic + spec.lapic.offset("VERSION"))
        took = machine.now() - t0
        try:
            await machine.read32(1, 0x1000)
        except BusError as e:
            assert (e.cpu, e.addr, e.resp) == (1, 0x1000, "DECERR")
            return took, 1
        return took, 0

    machine.reset()
    # a LAPIC read through the harness: AR, R, done (sim/cosim_harness.py)
    assert machine.run(scenario()) == (3, 1)


def test_same_timing_as_cocotb_verilator(machine: VerilatorMachine, spec: Spec, build_root: Path) -> None:
    """The direct backend clocks the harness exactly as cocotb does: the same cycle stamps."""
    from irqforge.sim.backends.cocotb import run_many_on_simulator

    jobs = [(getattr(sc, name), kwargs) for name, kwargs in CHECKS]
    cocotb = run_many_on_simulator("cocotb-verilator", jobs, spec, build_dir=build_root)
    for (name, kwargs), want in zip(CHECKS, cocotb, strict=True):
        got = _run(machine, name, **kwargs)
        assert _untimed(got) == _untimed(want), name
        assert _cycle_timing(got) == _cycle_timing(want), name


# --------------------------------------------------------------------------- the software stack


def test_default_scenario_prints_the_models_proc_interrupts(spec: Spec, cache: Path) -> None:
    """The whole default scenario (``irqforge demo``): the model's /proc/interrupts and every count."""
    want = run_scenario("model", DEFAULT_SCENARIO, spec)
    got = run_scenario("verilator", DEFAULT_SCENARIO, spec, build_dir=cache.parent)
    assert got["proc_interrupts"] == want["proc_interrupts"]
    assert "LOC:         40         40" in got["proc_interrupts"]
    assert {k: v for k, v in got.items() if k not in ("backend", "wall_s", "timing")} == {
        k: v for k, v in want.items() if k not in ("backend", "wall_s", "timing")
    }


def test_default_scenario_with_four_cpus(spec: Spec, cache: Path) -> None:
    four = spec.with_cpus(4)
    kwargs: dict[str, Any] = {"boot_ticks": 2, "ticks": 4, "irqs": 3, "ipis": 1, "munmaps": 1}
    want = run_scenario("model", DEFAULT_SCENARIO, four, **kwargs)
    got = run_scenario("verilator", DEFAULT_SCENARIO, four, build_dir=cache.parent, **kwargs)
    assert got["proc_interrupts"] == want["proc_interrupts"]
    assert got["cpus"] == 4


def test_storm_same_as_model(machine: VerilatorMachine, spec: Spec) -> None:
    for kwargs in STORM_KWARGS:
        want = run_scenario("model", storm, spec, **kwargs)
        machine.reset()
        got = machine.run(storm(machine, **kwargs))
        assert want["acked"] > 100
        assert _untimed(got) == _untimed(want), kwargs


def test_storm_same_as_model_with_four_cpus(spec: Spec, cache: Path) -> None:
    four = spec.with_cpus(4)
    for seed in (1, 2):
        want = run_scenario("model", storm, four, cycles=50_000, seed=seed)
        got = run_scenario("verilator", storm, four, build_dir=cache.parent, cycles=50_000, seed=seed)
        assert all(c["acked"] for c in want["cpus"])
        assert _untimed(got) == _untimed(want)


# --------------------------------------------------------------------------- watchdog and deadlock


def test_waiting_for_nothing_is_a_deadlock_at_once(machine: VerilatorMachine) -> None:
    """After reset no timer runs and every line is low: the wait can never end. It is
    reported within a few settle checks, not after the watchdog's cycles."""

    async def scenario() -> None:
        await machine.wait_interrupt(1)

    machine.reset()
    with pytest.raises(MachineDeadlock) as caught:
        machine.run(scenario(), max_cycles=64 * verilator_abi.SETTLE_EVERY)
    assert machine.now() < 4 * verilator_abi.SETTLE_EVERY
    text = str(caught.value)
    assert "cpu 1 waits for INTR or NMI" in text and "cpu 0" in text and "settled" in text


def test_a_running_timer_is_no_deadlock(machine: VerilatorMachine) -> None:
    """A one-shot LAPIC timer far beyond the first settle checks: the wait ends at its expiry."""
    delay = 5 * verilator_abi.SETTLE_EVERY
    out = _run(machine, "wait_any_timing", delay=delay, idle=100)
    assert abs(out["timing"]["fired_after"] - delay) <= 3


#: IA32_TSC, IA32_TSC_DEADLINE and IA32_APIC_BASE's EXTD bit (SDM vol. 3 §17.17, §11.5.4.1, §11.12.1).
IA32_TSC, IA32_TSC_DEADLINE, IA32_APIC_BASE, APIC_BASE_EXTD = 0x10, 0x6E0, 0x1B, 1 << 10


async def _x2apic_tsc_deadline_mode(machine: VerilatorMachine, regs: sc.Regs, cpu: int) -> None:
    """``cpu``'s LAPIC in x2APIC mode (checked), enabled, its LVT timer in TSC-deadline mode."""
    await regs.x2apic_enable(cpu)
    assert await machine.rdmsr(cpu, IA32_APIC_BASE) & APIC_BASE_EXTD
    await regs.lapic_enable(cpu)
    vector = machine.spec.vectors["LOCAL_TIMER_VECTOR"]
    await regs.lapic_write(cpu, "LVT_TIMER", regs.lapic_value("LVT_TIMER", VECTOR=vector, TIMER_MODE="TSC_DEADLINE"))


def test_an_armed_tsc_deadline_is_no_deadlock(machine: VerilatorMachine) -> None:
    """IA32_TSC_DEADLINE armed 16 settle checks ahead (x2APIC mode): nothing but the TSCs
    changes from cycle to cycle, yet the wait is no deadlock and ends when the TSC reaches
    the deadline; the timer then disarms itself (SDM vol. 3 §11.5.4.1)."""
    delay = 16 * verilator_abi.SETTLE_EVERY

    async def scenario() -> tuple[int, int, int, int]:
        regs = sc.Regs(machine)
        await _x2apic_tsc_deadline_mode(machine, regs, 0)
        deadline = await machine.rdmsr(0, IA32_TSC) + delay
        await machine.wrmsr(0, IA32_TSC_DEADLINE, deadline)
        await machine.wait_interrupt(0)
        woke = await machine.rdmsr(0, IA32_TSC)
        vector = await machine.acknowledge(0)
        await regs.eoi(0)
        return deadline, woke, vector, await machine.rdmsr(0, IA32_TSC_DEADLINE)

    machine.reset()
    deadline, woke, vector, after = machine.run(scenario(), max_cycles=64 * verilator_abi.SETTLE_EVERY)
    assert deadline <= woke <= deadline + 8  # the wake-up, then one RDMSR
    assert vector == machine.spec.vectors["LOCAL_TIMER_VECTOR"]
    assert after == 0


def test_every_cpu_waiting_in_x2apic_mode_is_a_deadlock(machine: VerilatorMachine) -> None:
    """Both LAPICs in x2APIC mode and TSC-deadline mode, one deadline disarmed by writing 0,
    the other fired and handled: nothing can come, and the wait of every CPU says so at once."""
    started: list[int] = []

    async def scenario() -> None:
        regs = sc.Regs(machine)
        for cpu in range(machine.ncpus):
            await _x2apic_tsc_deadline_mode(machine, regs, cpu)
        await machine.wrmsr(0, IA32_TSC_DEADLINE, await machine.rdmsr(0, IA32_TSC) + 100)
        await machine.wrmsr(0, IA32_TSC_DEADLINE, 0)  # disarmed
        await machine.wrmsr(1, IA32_TSC_DEADLINE, await machine.rdmsr(1, IA32_TSC) + 100)
        await machine.wait_interrupt(1)
        await machine.acknowledge(1)
        await regs.eoi(1)
        started.append(machine.now())
        await machine.wait_any_interrupt()

    machine.reset()
    with pytest.raises(MachineDeadlock) as caught:
        machine.run(scenario(), max_cycles=64 * verilator_abi.SETTLE_EVERY)
    assert machine.now() - started[0] < 3 * verilator_abi.SETTLE_EVERY
    assert not machine.intr_pending(0) and not machine.intr_pending(1)
    text = str(caught.value)
    assert "cpu 0 waits for INTR or NMI" in text and "cpu 1 waits for INTR or NMI" in text


def test_a_running_hpet_comparator_is_no_deadlock(machine: VerilatorMachine) -> None:
    """The HPET counting towards a one-shot comparator 8 settle checks ahead: the wait ends at it."""
    delta = 8 * verilator_abi.SETTLE_EVERY
    out = _run(machine, "hpet_comparator", delta=delta)  # waits with a limit: the reference
    assert out["interrupted"]

    async def scenario() -> int:
        regs = sc.Regs(machine)
        timer, pin, vector = 2, out["pin"], out["vector"]
        await regs.lapic_enable(0)
        await regs.route_pin(0, pin, VECTOR=vector, TRIGGER="EDGE", MASK=0, DEST=machine.spec.platform.cpus[0].apic_id)
        conf = regs.hpet_value("TIMER_CONF", INT_TYPE_CNF="EDGE", INT_ENB_CNF=1, TYPE_CNF="ONESHOT", INT_ROUTE_CNF=pin)
        await regs.hpet_write64(0, "TIMER_CONF", conf, timer)
        await regs.hpet_write64(0, "TIMER_CMP", delta, timer)
        await regs.hpet_write64(0, "GEN_CONF", regs.hpet_value("GEN_CONF", ENABLE_CNF=1))
        enabled_at = machine.now()
        await machine.wait_interrupt(0)  # no limit: the settle check is on
        fired = machine.now() - enabled_at
        assert await machine.acknowledge(0) == vector
        return fired

    machine.reset()
    assert machine.run(scenario(), max_cycles=64 * verilator_abi.SETTLE_EVERY) == out["timing"]["fired_after"]


def test_watchdog_is_a_machine_timeout(machine: VerilatorMachine) -> None:
    async def scenario() -> None:
        await machine.wait_cycles(5000)

    machine.reset()
    with pytest.raises(MachineTimeout) as caught:
        machine.run(scenario(), max_cycles=1000)
    assert caught.value.cycles == 1000
    assert machine.now() == 1000


def test_a_kernel_deadlock_names_the_cpus(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``irqforge sim`` with a scenario that waits for a device nobody raises: one clear line, exit 1."""
    monkeypatch.setenv(toolchain.ENV_CACHE_DIR, str(cache.parent))
    rc = cli_main(["sim", "--sim", "verilator", "--scenario", f"{__name__}:waits_forever", "--cycles", "2000000"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "deadlock at cycle" in err and "cpu 0 waits for INTR or NMI" in err and "cpu 1" in err
    assert "Traceback" not in err


async def waits_forever(machine: Any) -> dict[str, Any]:
    """The kernel boots without any tick, then waits for a completion no interrupt completes."""
    from irqforge.sw import Kernel, KernelConfig
    from irqforge.sw.sched import Completion

    kernel = Kernel(machine, machine.spec, KernelConfig(hpet=False, lapic_timer=False, watchdog=False))

    async def main(k: Kernel) -> dict[str, Any]:
        await Completion(k).wait_for_completion()
        return {}

    result: dict[str, Any] = await kernel.run(main)
    return result


# --------------------------------------------------------------------------- waves


#: The traced model of the two tests below: one CPU (a smaller build than the default two, about 10 CPU-s
#: less); what they check (the FST writer, the settle check on a traced build) does not depend on the
#: CPU count, and the untraced two-CPU model above names every waiting CPU in a deadlock.
TRACED_CPUS = 1


def test_waves_through_verilators_fst_writer(spec: Spec, cache: Path, tmp_path: Path) -> None:
    waves = tmp_path / "run.fst"
    one = spec.with_cpus(TRACED_CPUS)
    out = run_scenario("verilator", sc.irq_roundtrip, one, build_dir=cache.parent, waves=waves, n=3)
    assert out["delivered"] == 3
    data = waves.read_bytes()
    # FST: a header block (type 0) first, binary, not VCD text
    assert data[0] == 0 and b"$timescale" not in data[:4096] and len(data) > 1000
    with pytest.raises(ValueError, match="FST"):
        VerilatorMachine(one, waves=tmp_path / "run.vcd", cache=cache)


def test_a_deadlock_with_waves_is_found_too(spec: Spec, cache: Path, tmp_path: Path) -> None:
    """The traced build keeps every combinational net as state, ``tsc + 1`` among them: the
    settle check still sees the platform settle, and the trace stops there."""

    async def scenario() -> None:
        await machine.wait_any_interrupt()

    with VerilatorMachine(spec.with_cpus(TRACED_CPUS), waves=tmp_path / "stuck.fst", cache=cache) as machine:
        with pytest.raises(MachineDeadlock, match="cpu 0 waits for INTR or NMI"):
            machine.run(scenario(), max_cycles=64 * verilator_abi.SETTLE_EVERY)
        assert machine.now() < 4 * verilator_abi.SETTLE_EVERY


# --------------------------------------------------------------------------- the build cache


def test_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(toolchain.ENV_CACHE_DIR, str(tmp_path / "mine"))
    assert toolchain.cache_dir("verilator") == tmp_path / "mine" / "verilator"
    monkeypatch.delenv(toolchain.ENV_CACHE_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert toolchain.cache_dir() == tmp_path / "xdg" / "irqforge"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: only absolute paths count
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert toolchain.cache_dir("cocotb") == tmp_path / "home" / ".cache" / "irqforge" / "cocotb"


def test_concurrent_builds_of_one_key_build_once(
    spec: Spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four threads ask for the same library: one builds (in a private folder, renamed
    into place when complete), the others wait on the lock and take its result."""
    builds: list[Path] = []

    def fake_build(spec: Spec, work: Path, env: dict[str, str], trace: bool) -> None:
        builds.append(work)
        time.sleep(0.3)
        (work / verilator_abi.LIBRARY).write_bytes(b"not really a library")

    monkeypatch.setattr(verilator_abi, "_build", fake_build)
    found: list[Path] = []
    threads = [
        threading.Thread(target=lambda: found.append(verilator_abi.build_library(spec, cache=tmp_path).path))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len(found) == 4 and len(set(found)) == 1
    assert found[0].read_bytes() == b"not really a library"
    assert not builds[0].exists()  # renamed into place
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [found[0].parent.name]


def test_the_key_changes_with_the_spec(spec: Spec) -> None:
    assert verilator_abi.build_key(spec) != verilator_abi.build_key(spec.with_cpus(4))
    assert verilator_abi.build_key(spec) != verilator_abi.build_key(spec, trace=True)
    assert verilator_abi.build_key(spec) == verilator_abi.build_key(spec)


def test_missing_compiler_is_one_clear_line(
    spec: Spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_which = verilator_abi.shutil.which
    monkeypatch.setattr(verilator_abi.shutil, "which", lambda exe: None if exe == "g++" else real_which(exe))
    monkeypatch.setenv(toolchain.ENV_CACHE_DIR, str(tmp_path))  # nothing cached: it must build
    with pytest.raises(toolchain.ToolNotFoundError, match=r"^g\+\+ not found"):
        verilator_abi.build_library(spec)
    assert cli_main(["sim", "--sim", "verilator"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    err = [line for line in lines if not line.startswith("irqforge: running")]  # the run's announcement
    assert len(err) == 1 and "g++ not found" in err[0], lines
    assert not any("Traceback" in line for line in lines)


def test_demo_prefers_the_direct_backend(cache: Path) -> None:
    from irqforge.sim.app import best_backend

    assert best_backend() == "verilator"
