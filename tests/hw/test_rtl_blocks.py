"""Every RTL block's Verilog on its own: deterministic conversion, Verilator lint
with the block's waiver file (``hw/lint/<module>.vlt``) and Yosys synthesis
(cell and flip-flop counts printed). The platform here elaborates its blocks;
``tests/test_generated_rtl.py`` checks the committed files as ``irqforge gen``
writes them (the platform instantiating the block modules)."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from irqforge.hw import TOPS, to_verilog
from irqforge.sim import toolchain
from irqforge.spec import Spec

LINT = Path(importlib.import_module("irqforge.hw").__file__).parent / "lint"  # type: ignore[arg-type]


def _convert(spec: Spec, name: str) -> str:
    return to_verilog(importlib.import_module(f"irqforge.hw.{TOPS[name]}").top(spec), name)


@pytest.fixture(scope="module", params=list(TOPS))
def block(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, spec: Spec) -> tuple[str, Path]:
    name: str = request.param
    path = tmp_path_factory.mktemp(name) / f"{name}.v"  # the waivers match the file name
    path.write_text(_convert(spec, name))
    return name, path


def test_verilog_is_deterministic(spec: Spec, block: tuple[str, Path]) -> None:
    name, path = block
    again = _convert(spec, name)
    assert again == path.read_text()
    assert f"module {name}(" in again
    assert "/work" not in again and "/tmp" not in again


def _assert_lint_clean(name: str, path: Path, waivers: list[Path]) -> None:
    """``verilator --lint-only -Wall`` with ``waivers`` on ``path``: no message at all."""
    tool = toolchain.find_verilator()
    if not tool.ok or tool.path is None:
        pytest.skip(f"verilator not usable: {tool.why_not}")
    result = subprocess.run(
        [str(tool.path), "--lint-only", "-Wall", *map(str, waivers), str(path), "--top-module", name],
        capture_output=True,
        text=True,
        env={**os.environ, **toolchain.sim_env("verilator")},
        timeout=300,
    )
    warnings = [line for line in result.stderr.splitlines() if line.startswith("%")]
    assert result.returncode == 0 and not warnings, "\n".join(warnings[:40])


def test_verilator_lint_clean(block: tuple[str, Path]) -> None:
    name, path = block
    _assert_lint_clean(name, path, [LINT / f"{name}.vlt"])


@pytest.mark.parametrize(("name", "ncpus"), [("irqforge_router", n) for n in (1, 3, 4, 8)] + [("irqforge_platform", 4)])
def test_verilator_lint_clean_for_other_cpu_counts(spec: Spec, tmp_path: Path, name: str, ncpus: int) -> None:
    """The waivers are written for the default two CPUs; the blocks whose shape
    depends on the CPU count must stay lint-clean for other counts too."""
    path = tmp_path / f"{name}.v"
    path.write_text(_convert(spec.with_cpus(ncpus), name))
    # the platform file carries every block's module, so every block's waivers apply
    waivers = sorted(LINT.glob("*.vlt")) if name == "irqforge_platform" else [LINT / f"{name}.vlt"]
    _assert_lint_clean(name, path, waivers)


def test_yosys_synthesis(block: tuple[str, Path]) -> None:
    name, path = block
    yosys = toolchain.fpga_tool("yosys")
    if yosys is None:
        pytest.skip("yosys not found (the test extra installs YoWASP's: bash scripts/setup.sh)")
    stat = path.with_suffix(".stat")
    # the blocks flat; the platform hierarchically with its blocks as black boxes: each block is synthesized
    # by its own case here (again inside the platform, once per LAPIC, they took 62 of its 64 CPU-s)
    synth = f"synth -flatten -top {name}"
    if name == "irqforge_platform":
        inner = re.findall(r"^module \\irqforge_platform\.((?:lapic\d+|ioapic|hpet|router)) ", path.read_text(), re.M)
        assert {re.sub(r"\d+$", "", m) for m in inner} == {TOPS[n] for n in TOPS if n != name}, inner
        synth = "blackbox " + " ".join(f"\\irqforge_platform.{m}" for m in inner) + f"; synth -top {name}"
    result = subprocess.run(
        [yosys, "-q", "-p", f"read_verilog {path}; {synth}; tee -o {stat} stat"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    text = stat.read_text().rsplit("=== design hierarchy ===", 1)[-1]  # totals come last
    cells = int(re.findall(r"Number of cells:\s+(\d+)", text)[-1])
    flops = sum(int(n) for n in re.findall(r"\$_S?DFFE?_\w+\s+(\d+)", text))
    print(f"{name}: {cells} cells, {flops} flip-flops")
    assert cells > 0 and flops > 0
