"""Shared pytest options and fixtures for irqforge's tests.

Options:

``--sim LIST``
    The cocotb simulators to run on: a comma list of ``icarus`` and
    ``verilator``, or ``all`` or ``none``. Default: both, and a missing one
    is an error that stops the run before any test (``scripts/setup.sh``
    installs both): a machine without simulators cannot pass by skipping
    every cocotb test. ``--sim none`` (or a list) runs without them. A test
    that takes the ``simulator`` fixture runs once per simulator; the ones not
    selected are skipped with the reason.
``--long``
    Also run the tests marked ``long`` (randomised and soak tests), the Verilator
    builds the default run leaves out (traced and 4-CPU co-simulation platforms) and
    four times the spec fuzz examples.
``--build-dir DIR``
    Keep the simulator builds in DIR so that later runs reuse them (DIR is
    used as ``$IRQFORGE_CACHE_DIR``; ``--build-dir ~/.cache/irqforge`` shares
    the user's cache). Default: a new temporary folder per run, shared by the
    pytest-xdist workers, so each distinct model is built once per run.
``--require-sim``
    Kept for old command lines; requiring the simulators is the default now.

Hypothesis runs under the ``derandomized`` settings profile: the same examples
every run (drawn from a hash of each test), no example database, so CI does
not fail on an example a lucky run happened to find. ``--long`` (or
hypothesis' own ``--hypothesis-profile explore``) selects ``explore``: new
random examples each run, the failures kept in ``.hypothesis/`` and printed
with a ``@reproduce_failure`` blob; ``--hypothesis-seed N`` replays one such run.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from irqforge.sim import toolchain

settings.register_profile("derandomized", derandomize=True, database=None)
settings.register_profile("explore", print_blob=True)
settings.load_profile("derandomized")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("irqforge")
    group.addoption(
        "--sim",
        action="store",
        default=None,
        metavar="LIST",
        help="cocotb simulators to test on: comma list of icarus,verilator, or all, or none "
        "(default: every simulator found)",
    )
    group.addoption(
        "--long",
        action="store_true",
        default=False,
        help="also run tests marked long (randomised and soak tests)",
    )
    group.addoption(
        "--build-dir",
        action="store",
        default=None,
        metavar="DIR",
        help="keep the simulator builds in DIR (used as IRQFORGE_CACHE_DIR) and reuse them in later runs "
        "(default: a temporary folder per run, shared by the xdist workers)",
    )
    group.addoption(
        "--require-sim",
        action="store_true",
        default=False,
        help="(the default now) a selected simulator that is missing is an error, not a skip",
    )


def _requested_simulators(config: pytest.Config) -> tuple[list[str], bool]:
    """The simulators asked for with --sim, and whether they were asked for explicitly."""
    raw = config.getoption("--sim")
    if raw is None:
        return [sim for sim in toolchain.SIMULATORS if toolchain.find_simulator(sim).ok], False
    words = [word.strip().lower() for word in str(raw).split(",") if word.strip()]
    if words == ["all"]:
        return list(toolchain.SIMULATORS), True
    if words in ([], ["none"]):
        return [], True
    unknown = [word for word in words if word not in toolchain.SIMULATORS]
    if unknown:
        raise pytest.UsageError(
            f"--sim: unknown simulator(s) {', '.join(unknown)}; "
            f"use a comma list of {', '.join(toolchain.SIMULATORS)}, or all, or none"
        )
    return [sim for sim in toolchain.SIMULATORS if sim in words], True


def _skip_reason(config: pytest.Config, sim: str) -> str | None:
    """Why a test should not run on *sim*, or ``None`` when it should."""
    selected, explicit = _requested_simulators(config)
    if sim not in selected:
        if explicit:
            return f"{sim} not selected (--sim {config.getoption('--sim')})"
        return f"{sim} not found: {toolchain.find_simulator(sim).why_not}"
    tool = toolchain.find_simulator(sim)
    if not tool.ok:
        return f"{sim} selected but not usable: {tool.why_not}"
    return None


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--long"):
        # four times the default run's spec fuzz examples (tests/spec/test_fuzz.py); the environment wins
        os.environ.setdefault("IRQFORGE_FUZZ_TREE", "6000")
        os.environ.setdefault("IRQFORGE_FUZZ_TEXT", "4000")
        if not config.getoption("--hypothesis-profile", default=None):
            settings.load_profile("explore")  # new random examples each run
    # Fail early on a bad --sim, before collecting anything.
    selected, explicit = _requested_simulators(config)
    wanted = selected if explicit else list(toolchain.SIMULATORS)
    missing = [
        f"{sim}: {toolchain.find_simulator(sim).why_not}" for sim in wanted if not toolchain.find_simulator(sim).ok
    ]
    if missing:
        raise pytest.UsageError(
            f"simulator(s) not usable: {'; '.join(missing)}. Run bash scripts/setup.sh, or choose the "
            "simulators with --sim (--sim none: no cocotb benches)"
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    parts = []
    for sim in toolchain.SIMULATORS:
        tool = toolchain.find_simulator(sim)
        reason = _skip_reason(config, sim)
        state = f"{tool.version}" if reason is None else "skipped"
        parts.append(f"{sim}={state}")
    return ["cocotb simulators: " + ", ".join(parts)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "simulator" not in metafunc.fixturenames:
        return
    params = []
    for sim in toolchain.SIMULATORS:
        reason = _skip_reason(metafunc.config, sim)
        marks: list[Any] = [pytest.mark.sim]
        if reason is not None:
            marks.append(pytest.mark.skip(reason=reason))
        params.append(pytest.param(sim, id=sim, marks=marks))
    metafunc.parametrize("simulator", params)


#: Seconds of CPU the slowest tests of the default run take (cold build cache, 2-core machine, measured
#: with a per-test probe; the Verilator ones lowered by the builds' measured savings since: one C++ file
#: for the models without --public-flat-rw, the user-top example without it, the 1-CPU traced model;
#: the fuzz shards halved with their examples). A model several tests share is counted in the one meant to build it, so
#: the others come later and find it built. Approximate: only the order matters (:func:`_longest_first`).
SLOW_TESTS: dict[str, float] = {
    "tests/regress/test_regress_cli.py::test_regression_through_a_running_scheduler": 70,
    "tests/sim/test_verilator_direct.py::test_waves_through_verilators_fst_writer": 35,
    "tests/sim/test_cocotb_user_top.py::test_kernel_in_a_users_cocotb_test[verilator]": 22,
    "tests/sim/test_bench.py::test_bench_on_rtl[verilator]": 40,
    "tests/docs/test_docs_examples.py::test_first_firmware_example[cocotb-verilator]": 27,
    "tests/docs/test_docs_examples.py::test_first_firmware_example[verilator]": 25,
    "tests/sim/test_verilator_direct.py::test_default_scenario_with_four_cpus": 24,
    "tests/sim/test_backends.py::test_software_stack_same_on_rtl_with_four_cpus[icarus]": 5,
    "tests/hw/test_rtl_speed.py::test_platform_loop_idle_and_storm[verilator]": 27,
    "tests/hw/test_ioapic_cocotb.py::test_ioapic_bench[verilator]": 25,
    "tests/spec/test_fuzz.py::test_tree_mutants_validate_or_fail_cleanly[0]": 10,
    "tests/hw/test_hpet_cocotb.py::test_hpet_bench[verilator]": 18,
    "tests/sim/test_backends.py::test_software_stack_same_on_amaranth": 17,
    "tests/spec/test_fuzz.py::test_tree_mutants_validate_or_fail_cleanly[1]": 8,
    "tests/spec/test_fuzz.py::test_tree_mutants_validate_or_fail_cleanly[2]": 8,
    "tests/spec/test_fuzz.py::test_tree_mutants_validate_or_fail_cleanly[3]": 8,
    "tests/sim_smoke/test_smoke_runner.py::test_waves_are_written_where_asked[verilator-.fst]": 15,
    "tests/sim/test_storm.py::test_storm_same_on_rtl_with_four_cpus[icarus]": 14,
    "tests/test_toolchain.py::test_counter_counts_on_simulator[verilator]": 13,
    "tests/sim/test_bench.py::test_bench_on_rtl[icarus]": 9,
    # on the LAPIC build the regression through the Dask scheduler makes (the same waiver): later
    "tests/hw/test_lapic_cocotb.py::test_directed_benches[verilator]": 9,
    "tests/hw/test_platform_cocotb.py::test_platform_benches[icarus]": 9,
    # on the Verilator build test_bench_on_rtl makes: later, not next to it
    "tests/hw/test_platform_cocotb.py::test_platform_benches[verilator]": 10,
    "tests/spec/test_fuzz.py::test_text_mutants_validate_or_fail_cleanly[0]": 5,
    "tests/spec/test_fuzz.py::test_text_mutants_validate_or_fail_cleanly[1]": 5,
    "tests/spec/test_fuzz.py::test_text_mutants_validate_or_fail_cleanly[2]": 5,
    "tests/spec/test_fuzz.py::test_text_mutants_validate_or_fail_cleanly[3]": 5,
    "tests/hw/test_rtl_blocks.py::test_verilator_lint_clean_for_other_cpu_counts[irqforge_platform-4]": 8,
    "tests/hw/test_rtl_blocks.py::test_yosys_synthesis[irqforge_lapic]": 8,
    "tests/spec/test_fuzz.py::test_a_valid_mutant_generates_lints_compiles_and_simulates": 8,
    "tests/regress/test_mutations.py::test_a_mutant_converts_and_differs_from_the_shipped_rtl": 7,
    "tests/hw/test_rtl_blocks.py::test_verilog_is_deterministic[irqforge_platform]": 7,
}


def _longest_first(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Reorder *items* so that every pytest-xdist worker starts with its share of the slow tests.

    ``--dist worksteal`` first hands each of the N workers one contiguous N-th of
    the collection, then idle workers steal the tail of the longest queue. So
    the slow tests (:data:`SLOW_TESTS`) are dealt out longest first to the
    worker with the least work so far, and each worker's slice begins with
    them: nothing long is left to start last, and what is stolen is short.
    Every worker computes the same order (xdist requires it).
    """
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    slow = sorted((item for item in items if item.nodeid in SLOW_TESTS), key=lambda i: -SLOW_TESTS[i.nodeid])
    if not slow:
        return
    chosen = {id(item) for item in slow}
    rest = [item for item in items if id(item) not in chosen]
    # the slices of worksteal's first distribution: each takes len(pending) // workers_left
    sizes, left = [], len(items)
    for n in range(workers, 0, -1):
        sizes.append(left // n)
        left -= sizes[-1]
    shares: list[list[pytest.Item]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for item in slow:
        room = [w for w in range(workers) if len(shares[w]) < sizes[w]] or list(range(workers))
        w = min(room, key=lambda k: load[k])
        shares[w].append(item)
        load[w] += SLOW_TESTS[item.nodeid]
    ordered: list[pytest.Item] = []
    for w in range(workers):
        fill = max(0, sizes[w] - len(shares[w]))
        ordered += shares[w] + rest[:fill]
        rest = rest[fill:]
    items[:] = ordered + rest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _longest_first(config, items)
    if config.getoption("--long"):
        return
    skip_long = pytest.mark.skip(reason="long test: run with --long")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip_long)


@pytest.fixture
def simulator(request: pytest.FixtureRequest) -> str:
    """The cocotb simulator this test runs on, ``"verilator"`` or ``"icarus"`` (see ``--sim``)."""
    return str(request.param)


def _run_cache(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build cache of this run: ``--build-dir``, else one temporary folder all xdist workers share."""
    chosen = config.getoption("--build-dir")
    if chosen:
        path = Path(chosen).expanduser().resolve()
    else:
        base = tmp_path_factory.getbasetemp()
        # an xdist worker's basetemp is {the run's basetemp}/popen-gwN
        path = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "irqforge-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _needs_rtl(session: pytest.Session) -> bool:
    return any("sim" in item.keywords or "backend" in getattr(item, "fixturenames", ()) for item in session.items)


@pytest.fixture(scope="session", autouse=True)
def _build_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every build of the run (cocotb benches, the direct Verilator backend, the CLI's and the
    regressions' subprocesses) goes to one cache, ``$IRQFORGE_CACHE_DIR`` for the whole run: each
    distinct model is built once, by the first worker that needs it, under the runner's lock
    (keyed by contents, as always), and the user's own cache is left alone."""
    cache = _run_cache(request.config, tmp_path_factory)
    saved = os.environ.get(toolchain.ENV_CACHE_DIR)
    os.environ[toolchain.ENV_CACHE_DIR] = str(cache)
    try:
        if _requested_simulators(request.config)[0] and _needs_rtl(request.session):
            # the default specs themselves, not the fixture ``spec``: a test module may override that
            # fixture with a narrower scope, and this session fixture may be set up for its first test
            from irqforge.spec import load_default

            _write_shared_sources(cache, load_default())
        yield cache
    finally:
        if saved is None:
            os.environ.pop(toolchain.ENV_CACHE_DIR, None)
        else:
            os.environ[toolchain.ENV_CACHE_DIR] = saved


def _write_shared_sources(cache: Path, spec: Any) -> None:
    """Write the Verilog every worker's benches read, once, under a lock: ``irqforge.hw.write_verilog``
    and the cocotb backend's waiver check that a file exists, then write it, which two workers doing
    it at the same moment would interleave (each file is written by one process, read by all)."""
    from irqforge.hw import write_verilog
    from irqforge.sim.backends.cocotb import cosim_lint_waiver, cosim_verilog

    with (cache / "sources.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        first = cache / "cocotb" / "sources"
        for folder in (first, cache / "sources", cache / "cocotb" / "src"):
            folder.mkdir(parents=True, exist_ok=True)
            if folder != first:
                # the conversions the first folder has (write_verilog's rtl-{fingerprint} folders): copied, not
                # made again (Amaranth's conversion is most of the time this takes, while the other workers wait)
                for rtl in first.glob("rtl-*"):
                    if not (folder / rtl.name).exists():
                        tmp = folder / f"{rtl.name}.{os.getpid()}.tmp"  # complete or absent (a kept --build-dir)
                        shutil.copytree(rtl, tmp)
                        tmp.rename(folder / rtl.name)
            if folder.name == "src":
                write_verilog(spec, folder)
                continue
            # the spec the tests use itself (spec.with_cpus(2) would have another digest, so other files) and 4 CPUs
            for variant in (spec, spec.with_cpus(4)):
                cosim_verilog(variant, folder)
            cosim_lint_waiver(folder)


@pytest.fixture(scope="session")
def build_root(_build_cache: Path) -> Path:
    """The cocotb build cache of the run (``--build-dir`` to keep it): ``cache_dir("cocotb")``,
    where the cocotb backend and the CLI build by default too, so the tests share their builds."""
    return toolchain.cache_dir("cocotb")


@pytest.fixture(scope="session")
def spec() -> Any:
    """The default specs shipped with irqforge, loaded and validated once per session."""
    from irqforge.spec import load_default  # lazily: the spec package is young

    return load_default()
