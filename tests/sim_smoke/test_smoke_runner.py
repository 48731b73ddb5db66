"""irqforge.sim.runner in detail, on the smoke counter: waves, the build cache, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from importlib.resources import as_file, files
from pathlib import Path

import pytest

from irqforge.sim.runner import BuildError, TestFailure, build_and_test

SMOKE_MODULE = "irqforge.sim.benches.smoke_bench"
SMOKE_TOP = "smoke_counter"

# First bytes of each wave format: FST opens with a header block (type 0), VCD with a keyword.
_MAGIC = {".fst": b"\x00", ".vcd": b"$"}
# The same parameters as tests/test_toolchain.py, so Verilator builds (~9 s each) are shared.
WIDTH = 6


@pytest.fixture
def smoke_source() -> Iterator[Path]:
    """The smoke counter's Verilog, as a real file."""
    with as_file(files("irqforge.sim.benches").joinpath("smoke_counter.v")) as path:
        yield Path(path)


@pytest.mark.parametrize("suffix", [".fst", ".vcd"])
def test_waves_are_written_where_asked(
    simulator: str, suffix: str, smoke_source: Path, build_root: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if simulator == "verilator" and suffix == ".vcd" and not request.config.getoption("--long"):
        pytest.skip("Verilator VCD is cocotb's default trace path and costs a build: run with --long")
    waves = tmp_path / "out" / f"smoke{suffix}"
    build_and_test(
        simulator,
        [smoke_source],
        SMOKE_TOP,
        SMOKE_MODULE,
        build_dir=build_root,
        waves=waves,
        parameters={"WIDTH": WIDTH},
        extra_env={"SMOKE_CYCLES": "20"},
    )
    assert waves.is_file()
    data = waves.read_bytes()
    assert data[:1] == _MAGIC[suffix]
    if suffix == ".vcd":
        assert b"count" in data  # the counter's signal is in the dump


def _run_counter(simulator: str, smoke_source: Path, build_root: Path, width: int) -> Path:
    """Build (or reuse) the counter with ``WIDTH=width``, run 300 cycles, check the count; its build folder."""
    results = build_and_test(
        simulator,
        [smoke_source],
        SMOKE_TOP,
        SMOKE_MODULE,
        build_dir=build_root,
        parameters={"WIDTH": width},
        extra_env={"SMOKE_CYCLES": "300"},
    )
    observed = json.loads((results.parent / "smoke_result.json").read_text())
    assert observed["count"] == 300 % (1 << width)
    return results.parent.parent.parent  # {build}/runs/{run}/results.xml


def test_build_is_cached(simulator: str, smoke_source: Path, build_root: Path) -> None:
    first = _run_counter(simulator, smoke_source, build_root, WIDTH)
    stamp = first / "irqforge-build.json"
    built_at = stamp.stat().st_mtime_ns
    assert _run_counter(simulator, smoke_source, build_root, WIDTH) == first
    assert stamp.stat().st_mtime_ns == built_at, "an unchanged build was redone"


def test_other_parameters_are_another_build(
    simulator: str, smoke_source: Path, build_root: Path, request: pytest.FixtureRequest
) -> None:
    if simulator == "verilator" and not request.config.getoption("--long"):
        pytest.skip("a second Verilator build costs ~9 s and the cache key does not depend on the simulator: --long")
    first = _run_counter(simulator, smoke_source, build_root, WIDTH)
    assert _run_counter(simulator, smoke_source, build_root, WIDTH + 1) != first


def test_verilog_error_is_a_build_error(simulator: str, build_root: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.v"
    broken.write_text("module smoke_counter(input wire clk);\n  this is not verilog;\nendmodule\n")
    with pytest.raises(BuildError, match=f"{simulator} could not build smoke_counter") as caught:
        build_and_test(simulator, [broken], SMOKE_TOP, SMOKE_MODULE, build_dir=build_root)
    assert caught.value.log.is_file()


def test_unknown_testcase_is_a_failure(simulator: str, smoke_source: Path, build_root: Path) -> None:
    with pytest.raises(TestFailure):
        build_and_test(
            simulator,
            [smoke_source],
            SMOKE_TOP,
            SMOKE_MODULE,
            build_dir=build_root,
            parameters={"WIDTH": WIDTH},
            testcase="no_such_test",
        )


def test_bad_arguments_are_refused(smoke_source: Path, build_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown simulator"):
        build_and_test("modelsim", [smoke_source], SMOKE_TOP, SMOKE_MODULE, build_dir=build_root)
    with pytest.raises(ValueError, match=r"must end in \.fst or \.vcd"):
        build_and_test(
            "icarus", [smoke_source], SMOKE_TOP, SMOKE_MODULE, build_dir=build_root, waves=tmp_path / "w.lxt"
        )


def test_a_claimed_run_folder_is_released_at_exit(tmp_path: Path) -> None:
    """The lock file of a claimed run folder is closed at exit, not left to the interpreter's teardown
    (``-X dev`` prints the ResourceWarning such a file raises then)."""
    folder = tmp_path / "runs" / "machine_bench"
    code = ("import sys, pathlib; from irqforge.sim.runner import _claim_run_dir; "
            "print(_claim_run_dir(pathlib.Path(sys.argv[1])))")
    res = subprocess.run([sys.executable, "-X", "dev", "-W", "always::ResourceWarning", "-c", code, str(folder)],
                         capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    assert res.stdout.strip() == str(folder)
    assert "ResourceWarning" not in res.stderr, res.stderr
