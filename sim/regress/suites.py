"""The regression's suites: what one job (suite, seed, cycles) runs.

Every suite is a random differential of RTL against an independent
reference, deterministic per seed:

``lapic``
    ``irqforge_lapic``: constrained-random register traffic, messages,
    INTA/EOI, LINT pins and IPI back-pressure, every output compared with
    :class:`~irqforge.sim.models.lapic.LapicModel` in lock step
    (``lapic_bench.random_differential``; seeds 2, 6, 10, … check every
    cycle, the others skip quiet stretches the model jumps, ``LAPIC_GAPS=1``).
``ioapic``, ``hpet``
    ``irqforge_ioapic`` / ``irqforge_hpet``: random pins, EOIs, entry and
    timer rewrites, reads and back-pressure; the cycle-stamped timeline is
    replayed on the model and every output compared in every cycle
    (``*_bench.random_traffic``).
``router``
    ``irqforge_router``: random messages on every source, random LAPIC
    states (xAPIC, x2APIC with 32-bit IDs and destinations, and mixed) and
    back-pressure; the served source and the delivered messages
    checked against :class:`~irqforge.sim.models.router.RouterModel` in
    every cycle (``router_bench.random_traffic``).
``storm``
    ``irqforge_platform``: every IO-APIC pin toggling at random over every
    CPU, each event accounted for exactly (``storm_bench.storm``).
``platform``
    The seeded storm scenario (:mod:`irqforge.sim.backends.storm`, nested
    handlers) on the platform inside the co-simulation harness against the
    ``model`` backend: per-CPU counts and sequence digests must be equal;
    then the DECERR/OKAY scenario on both, and the MSR walk
    (:mod:`irqforge.sim.regress.msr_walk`: IA32_APIC_BASE mode changes,
    x2APIC IPIs, faulting accesses, TSC writes, the TSC-deadline timer),
    whose outcomes must be equal too.
``sw``
    The software stack's default scenario (:mod:`irqforge.sw.scenario`) with
    seed-drawn sizes (ticks, device interrupts, IPIs, TLB shootdowns) on the
    RTL against the ``model`` backend: every count equal.

Each runs in its own process (:mod:`irqforge.sim.regress.job`) on the
Verilog files it is given, so that a mutated copy can be regressed as well
as the shipped RTL; simulator builds are cached by
:func:`irqforge.sim.runner.build_and_test` (content-keyed, file-locked).
"""

from __future__ import annotations

import json
import pickle
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from irqforge.spec import Spec, load_default

__all__ = ["DEFAULT_SUITES", "SUITES", "JobContext", "JobOutcome", "run_suite"]

#: Every suite, in the order jobs are submitted (the slowest first).
SUITES: Final[tuple[str, ...]] = ("lapic", "storm", "platform", "ioapic", "hpet", "router", "sw")
#: What ``irqforge regress`` runs without ``--suites``.
DEFAULT_SUITES: Final[tuple[str, ...]] = SUITES
#: Share of ``--cycles`` each suite gets (relative weights).
CYCLE_SHARE: Final[dict[str, float]] = {
    "lapic": 5, "storm": 1, "platform": 5, "ioapic": 0.2, "hpet": 0.2, "router": 0.2, "sw": 0,
}


@dataclass(frozen=True)
class JobContext:
    """Everything a job needs, all plain values (it crosses a process boundary as JSON)."""

    suite: str
    seed: int
    cycles: int
    sim: str
    rtl_dir: str
    """Folder with ``irqforge_{lapic,ioapic,hpet,router,platform}.v``."""
    build_dir: str
    work_dir: str
    """A folder of this job's own (coverage file, results)."""
    waves: str | None = None


@dataclass
class JobOutcome:
    """What a suite reports; a failure raises instead."""

    cycles: int
    details: dict[str, Any]


def _lint_waiver(work: Path, *extra: str) -> Path:
    """Every block's Verilator waivers in one ``.vlt``, plus ``extra`` lines."""
    from irqforge.hw import waiver_sections

    parts = [f"// {name}\n" + "\n".join(kept) for name, kept in waiver_sections()]
    text = "`verilator_config\n" + "\n".join([*parts, *extra]) + "\n"
    path = work / "lint.vlt"
    path.write_text(text)
    return path


def _block_waiver(name: str) -> Path:
    """The block's own reviewed waivers (``hw/lint/<name>.vlt``), as its cocotb bench tests use them: with
    the same Verilog the build is the same (content-keyed), so regressions and benches share it."""
    from importlib import resources

    return Path(str(resources.files("irqforge.hw").joinpath("lint", f"{name}.vlt")))


def _rtl(ctx: JobContext, *names: str) -> list[Path]:
    folder = Path(ctx.rtl_dir)
    files = [folder / f"{name}.v" for name in names]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"RTL missing: {', '.join(missing)}")
    return files


def _coverage_env(ctx: JobContext) -> dict[str, str]:
    from irqforge.sim.models.coverage import ENV_COVERAGE

    return {ENV_COVERAGE: str(Path(ctx.work_dir) / "coverage.json")}


def _result_json(results_xml: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((results_xml.parent / name).read_text()))


def lapic_dense(seed: int) -> bool:
    """Whether a ``lapic`` job checks every cycle (seeds 2, 6, 10, …: dense traffic, most of the
    coverage per second) or skips quiet stretches (the others: long timer counts, several times
    more cycles per second)."""
    return seed % 4 == 2


#: Rough cycles per second of one job on one core (planning only: the longest jobs start first).
SPEED: Final[dict[str, float]] = {
    "lapic": 15_000, "lapic-dense": 4_000, "storm": 6_000, "platform": 11_000,
    "ioapic": 2_500, "hpet": 3_000, "router": 2_500, "sw": 10_000,
}


def estimated_seconds(suite: str, seed: int, cycles: int) -> float:
    key = "lapic-dense" if suite == "lapic" and lapic_dense(seed) else suite
    return 3.0 + (cycles or 100_000) / SPEED[key]


def _lapic(ctx: JobContext) -> JobOutcome:
    from irqforge.sim.runner import build_and_test

    results = build_and_test(
        ctx.sim,
        _rtl(ctx, "irqforge_lapic"),
        "irqforge_lapic",
        "irqforge.sim.benches.lapic_bench",
        build_dir=ctx.build_dir,
        testcase="random_differential",
        lint_waiver=_block_waiver("irqforge_lapic"),
        waves=ctx.waves,
        run_folder=Path(ctx.work_dir) / "run",
        extra_env={
            "LAPIC_CYCLES": str(ctx.cycles),
            "LAPIC_SEED": str(ctx.seed),
            "LAPIC_GAPS": "0" if lapic_dense(ctx.seed) else "1",
            **_coverage_env(ctx),
        },
    )
    stats = _result_json(results, "lapic_random.json")
    return JobOutcome(int(stats["cycles"]), stats)


def _timeline_bench(block: str) -> Callable[[JobContext], JobOutcome]:
    def run(ctx: JobContext) -> JobOutcome:
        from irqforge.sim.runner import build_and_test

        build_and_test(
            ctx.sim,
            _rtl(ctx, f"irqforge_{block}"),
            f"irqforge_{block}",
            f"irqforge.sim.benches.{block}_bench",
            build_dir=ctx.build_dir,
            testcase="random_traffic",
            lint_waiver=_block_waiver(f"irqforge_{block}"),
            waves=ctx.waves,
            run_folder=Path(ctx.work_dir) / "run",
            extra_env={
                "IRQFORGE_SEED": str(ctx.seed),
                "IRQFORGE_RANDOM_STEPS": "0",
                "IRQFORGE_RANDOM_CYCLES": str(ctx.cycles),
                **_coverage_env(ctx),
            },
        )
        return JobOutcome(ctx.cycles, {})

    return run


def _storm(ctx: JobContext) -> JobOutcome:
    from irqforge.sim.benches.storm_bench import RESULT_FILE, VERILATOR_PUBLIC
    from irqforge.sim.runner import build_and_test

    work = Path(ctx.work_dir)
    results = build_and_test(
        ctx.sim,
        _rtl(ctx, "irqforge_lapic", "irqforge_ioapic", "irqforge_hpet", "irqforge_router", "irqforge_platform"),
        "irqforge_platform",
        "irqforge.sim.benches.storm_bench",
        build_dir=ctx.build_dir,
        testcase="storm",
        lint_waiver=_lint_waiver(work, "// the storm bench watches the router's msg__* ports", VERILATOR_PUBLIC),
        waves=ctx.waves,
        run_folder=Path(ctx.work_dir) / "run",
        extra_env={"STORM_CYCLES": str(ctx.cycles), "STORM_SEED": str(ctx.seed), **_coverage_env(ctx)},
    )
    stats = _result_json(results, RESULT_FILE)
    if stats["lost"] or stats["duplicates"]:
        raise AssertionError(f"storm seed {ctx.seed}: {stats['lost']} lost, {stats['duplicates']} duplicates")
    return JobOutcome(int(stats["cycles"]), stats)


def _on_rtl(ctx: JobContext, spec: Spec, jobs: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Run Machine scenarios on the platform in the co-simulation harness, built from ``ctx.rtl_dir``."""
    from irqforge.sim.backends import cocotb as cb
    from irqforge.sim.cosim_harness import harness_verilog
    from irqforge.sim.runner import build_and_test

    work = Path(ctx.work_dir)
    sources = _rtl(ctx, "irqforge_hpet", "irqforge_ioapic", "irqforge_lapic", "irqforge_platform", "irqforge_router")
    harness = work / f"{cb.COSIM_TOPLEVEL}.v"
    harness.write_text(harness_verilog(spec))
    spec_path = work / "spec.pickle"
    spec_path.write_bytes(pickle.dumps(spec))
    result = work / "scenarios.json"
    from irqforge.sim.cosim_harness import LINT_WAIVER, VERILATOR_PUBLIC

    build_and_test(
        ctx.sim,
        [*sources, harness],
        cb.COSIM_TOPLEVEL,
        cb.BENCH_MODULE,
        build_dir=ctx.build_dir,
        waves=ctx.waves,
        run_folder=Path(ctx.work_dir) / "run",
        lint_waiver=_lint_waiver(work, LINT_WAIVER, VERILATOR_PUBLIC),
        public_flat=False,
        extra_env={
            cb.ENV_JOBS: json.dumps([{"scenario": name, "kwargs": kwargs} for name, kwargs in jobs]),
            cb.ENV_RESULT: str(result),
            cb.ENV_SPEC: str(spec_path),
            cb.ENV_MAX_CYCLES: str(max(10 * ctx.cycles, 2_000_000)),
        },
    )
    return list(json.loads(result.read_text()))


class _SampledModel:
    """The model machine with every bus access's response sampled for coverage (``axi.resp``)."""

    def __init__(self, machine: Any, cov: Any) -> None:
        self._m = machine
        self._cov = cov

    def __getattr__(self, name: str) -> Any:
        return getattr(self._m, name)

    async def read32(self, cpu: int, addr: int) -> int:
        return int(await self._sample("READ", self._m.read32(cpu, addr)))

    async def write32(self, cpu: int, addr: int, value: int) -> None:
        await self._sample("WRITE", self._m.write32(cpu, addr, value))
        _mmio_written(self._m, cpu, addr)

    # the synchronous fast path the kernel takes on the model (irqforge.sw.machine.SyncMachine)
    def read32_sync(self, cpu: int, addr: int) -> int:
        return int(self._sample_sync("READ", lambda: self._m.read32_sync(cpu, addr)))

    def write32_sync(self, cpu: int, addr: int, value: int) -> None:
        self._sample_sync("WRITE", lambda: self._m.write32_sync(cpu, addr, value))
        _mmio_written(self._m, cpu, addr)

    def _sample_sync(self, kind: str, access: Any) -> Any:
        from irqforge.sw import BusError

        try:
            value = access()
        except BusError as e:
            self._cov.hit("axi.resp", kind, str(getattr(e, "resp", "DECERR")))
            raise
        self._cov.hit("axi.resp", kind, "OKAY")
        return value

    async def _sample(self, kind: str, access: Any) -> Any:
        from irqforge.sw import BusError

        try:
            value = await access
        except BusError as e:
            self._cov.hit("axi.resp", kind, str(getattr(e, "resp", "DECERR")))
            raise
        self._cov.hit("axi.resp", kind, "OKAY")
        return value


def _sample_platform(platform: Any, spec: Spec, cov: Any) -> None:
    """Sample the platform model's MSR port and router for coverage (``lapic.apic_base``,
    ``lapic.x2apic_msr``, ``lapic.tsc_deadline``, ``platform.tsc``, ``router.x2apic_dest``).

    Replaces the instance's ``msr`` and its router's ``route`` by sampling wrappers (every
    MSR access and every routed message pass through them); the MMIO side is sampled by
    :class:`_SampledModel` through :func:`_mmio_written`.
    """
    from irqforge.sim.models.coverage import MsrSampler, x2apic_dest
    from irqforge.sim.models.platform import IA32_TSC

    lapics = platform.lapics
    samplers = [MsrSampler(spec, cov) for _ in lapics]
    platform.msr_samplers = samplers
    msr, route = platform.msr, platform.router.route

    def sampled_msr(cpu: int, write: bool, addr: int, wdata: int = 0) -> tuple[int, bool]:
        lapic = lapics[cpu]
        before = (lapic.apic_base, lapic.x2apic)
        rdata, fault = msr(cpu, write, addr, wdata)
        if addr == IA32_TSC:
            if not fault:
                cov.hit("platform.tsc", "WRITE" if write else "READ")
            return rdata, fault
        s = samplers[cpu]
        s.msr(*before, write, addr, wdata, fault)
        cause = s.OTHER if fault else s.cause_of(write, addr, wdata)
        s.observe(lapic, cause, wdata if cause == s.DEADLINE_WRITE else None)
        _others(samplers, lapics, cpu)
        return rdata, fault

    def sampled_route(msg: Any, sender: int | None = None) -> Any:
        x2apic_dest(cov, msg, lapics, sender)
        return route(msg, sender)

    platform.msr = sampled_msr
    platform.router.route = sampled_route


def _others(samplers: list[Any], lapics: list[Any], cpu: int) -> None:
    """After an access of ``cpu``: the other LAPICs' deadline timers (an INIT IPI resets them)."""
    for k, s in enumerate(samplers):
        if k != cpu:
            s.observe(lapics[k], s.RESET)


def _mmio_written(machine: Any, cpu: int, addr: int) -> None:
    """After a bus write of ``cpu``: what it did to the deadline timers (an LVT_TIMER write
    leaves the mode, an ICR write may send an INIT)."""
    platform: Any = getattr(machine, "platform", None)
    samplers = getattr(platform, "msr_samplers", None)
    if not samplers:
        return
    s = samplers[cpu]
    lapic_base = machine.spec.platform.base("lapic")
    cause = s.LVT_WRITE if addr == lapic_base + s.lvt_timer_off else s.RESET
    s.observe(platform.lapics[cpu], cause)
    _others(samplers, platform.lapics, cpu)


def _on_model(spec: Spec, jobs: list[tuple[str, dict[str, Any]]]) -> tuple[list[dict[str, Any]], int]:
    """The same scenarios on the ``model`` backend (coverage sampled); their dicts and the cycles run."""
    from irqforge.sim.backends import open_machine, resolve_scenario
    from irqforge.sim.models.coverage import collector

    out, cycles = [], 0
    for name, kwargs in jobs:
        machine = open_machine("model", spec)
        _sample_platform(machine.platform, spec, collector(spec))
        sampled = _SampledModel(machine, collector(spec))
        out.append(machine.run(resolve_scenario(name)(sampled, **kwargs)))
        cycles += int(machine.now())
    return out, cycles


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("timing", "backend_cycles_are_not_compared")}


def _differential(ctx: JobContext, jobs: list[tuple[str, dict[str, Any]]]) -> JobOutcome:
    spec = load_default()
    reference, cycles = _on_model(spec, jobs)
    rtl = _on_rtl(ctx, spec, jobs)
    for (name, kwargs), want, got in zip(jobs, reference, rtl, strict=True):
        if _strip(got) != _strip(want):
            diff = {k: (got.get(k), want.get(k)) for k in _strip(want) if got.get(k) != want.get(k)}
            text = "; ".join(f"{k}: RTL {g!r} model {w!r}" for k, (g, w) in sorted(diff.items()))
            raise AssertionError(f"{name}({kwargs}): RTL differs from the model in {sorted(diff)}: {text[:2000]}")
    from irqforge.sim.models.coverage import save

    save(Path(ctx.work_dir) / "coverage.json")
    timing = [r.get("timing", {}) for r in rtl]
    rtl_cycles = sum(int(t.get("cycles") or 0) for t in timing)
    return JobOutcome(rtl_cycles or cycles, {"model_cycles": cycles, "results": [_strip(r) for r in reference]})


def msr_steps(cycles: int) -> int:
    """Steps of the platform job's MSR walk for a job of ``cycles`` (one step is ~600-2,500 cycles)."""
    return max(24, min(400, cycles // 4000))


def _platform(ctx: JobContext) -> JobOutcome:
    jobs = [
        ("irqforge.sim.backends.storm:storm", {"cycles": ctx.cycles, "seed": ctx.seed,
                                                "raises_per_slot": 1 + ctx.seed % 6}),
        ("irqforge.sim.backends.scenarios:bus_errors", {}),
    ]
    if load_default().lapic.x2apic is not None:
        jobs.append(("irqforge.sim.regress.msr_walk:msr_walk", {"seed": ctx.seed, "steps": msr_steps(ctx.cycles)}))
    return _differential(ctx, jobs)


def _sw(ctx: JobContext) -> JobOutcome:
    rng = random.Random(ctx.seed)
    kwargs = {
        "boot_ticks": rng.randrange(2, 12),
        "ticks": rng.randrange(5, 40),
        "irqs": rng.randrange(1, 8),
        "ipis": rng.randrange(0, 12),
        "munmaps": rng.randrange(0, 4),
    }
    return _differential(ctx, [("irqforge.sw.scenario:default_scenario", kwargs)])


_RUNNERS: dict[str, Callable[[JobContext], JobOutcome]] = {
    "lapic": _lapic,
    "ioapic": _timeline_bench("ioapic"),
    "hpet": _timeline_bench("hpet"),
    "router": _timeline_bench("router"),
    "storm": _storm,
    "platform": _platform,
    "sw": _sw,
}


def run_suite(ctx: JobContext) -> JobOutcome:
    """Run one job in this process; raises on a mismatch (the message says where)."""
    try:
        runner = _RUNNERS[ctx.suite]
    except KeyError:
        raise ValueError(f"unknown suite {ctx.suite!r}; choose from {', '.join(SUITES)}") from None
    return runner(ctx)
