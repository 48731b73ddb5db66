"""The generated Verilog of the platform (``irqforge_platform``): deterministic
conversion, Verilator lint with the block's waiver file (hw/lint/irqforge_platform.vlt)
and Yosys synthesis, hierarchical (cell count printed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from irqforge.hw import platform, to_verilog
from irqforge.sim import toolchain
from irqforge.spec import Spec

NAME = "irqforge_platform"
WAIVER = Path(platform.__file__).parent / "lint" / f"{NAME}.vlt"


@pytest.fixture(scope="module")
def verilog_file(tmp_path_factory: pytest.TempPathFactory, spec: Spec) -> Path:
    path = tmp_path_factory.mktemp(NAME) / f"{NAME}.v"  # the waivers match the file name
    path.write_text(to_verilog(platform.top(spec), NAME))
    return path


def test_verilog_is_deterministic(spec: Spec, verilog_file: Path) -> None:
    again = to_verilog(platform.top(spec), NAME)
    assert again == verilog_file.read_text()
    assert "/work" not in again and "/tmp" not in again
    assert f"module {NAME}(" in again


def test_verilator_lint_clean(verilog_file: Path) -> None:
    tool = toolchain.find_verilator()
    if not tool.ok or tool.path is None:
        pytest.skip(f"verilator not usable: {tool.why_not}")
    result = subprocess.run(
        [str(tool.path), "--lint-only", "-Wall", str(WAIVER), str(verilog_file), "--top-module", NAME],
        capture_output=True,
        text=True,
        env={**os.environ, **toolchain.sim_env("verilator")},
        timeout=300,
    )
    warnings = [line for line in result.stderr.splitlines() if line.startswith("%")]
    assert result.returncode == 0 and not warnings, "\n".join(warnings[:40])


def test_yosys_synthesis(verilog_file: Path) -> None:
    yosys = shutil.which("yosys")
    if yosys is None:
        pytest.skip("yosys not found")
    stat = verilog_file.with_suffix(".stat")
    result = subprocess.run(
        [yosys, "-q", "-p", f"read_verilog {verilog_file}; synth -top {NAME}; tee -o {stat} stat"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # Hierarchical: the totals are in the last section, "design hierarchy".
    text = stat.read_text().rsplit("=== design hierarchy ===", 1)[-1]
    cells = int(re.findall(r"Number of cells:\s+(\d+)", text)[-1])
    flops = sum(int(n) for n in re.findall(r"\$_S?DFFE?_\w+\s+(\d+)", text))
    print(f"{NAME}: {cells} cells, {flops} flip-flops")
    assert cells > 0 and flops > 0
