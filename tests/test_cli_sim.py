"""``irqforge sim`` as a user meets it: listing, ranges, scenario files, their exceptions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from irqforge.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_list_names_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("default", "throughput", "storm", "roundtrip"):
        assert f"\n{name} " in f"\n{out}"


@pytest.mark.parametrize("bad", ["0", "-3", "two"])
def test_cpus_out_of_range_is_a_usage_error(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["sim", "--sim", "model", "--cpus", bad])
    assert e.value.code == 2
    assert "--cpus" in capsys.readouterr().err


def test_cpus_beyond_xapic_ids_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--sim", "model", "--cpus", "256"]) == 2
    assert "1..255" in capsys.readouterr().err


def test_scenario_from_a_file_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    fw = tmp_path / "fw" / "count.py"
    fw.parent.mkdir()
    fw.write_text("async def main(machine):\n    return {'irqs': {'cpus': machine.ncpus}}\n")
    assert main(["sim", "--sim", "model", "--scenario", "fw/count.py:main"]) == 0
    assert "irqs: {'cpus': 2}" in capsys.readouterr().out


def test_scenario_module_in_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "myfw.py").write_text("async def main(machine):\n    return {'jiffies': 7}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "irqforge", "sim", "--sim", "model", "--scenario", "myfw:main"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "jiffies: 7" in proc.stdout


@pytest.mark.parametrize("backend", ["model", "verilator", "icarus"])
def test_user_exception_is_the_users_traceback(tmp_path: Path, backend: str) -> None:
    """On every kind of backend: in this process (model, verilator) and inside a cocotb simulator (icarus)."""
    from irqforge.sim.backends import why_unavailable

    why = why_unavailable(backend)
    if why:
        pytest.skip(f"{backend}: {why}")
    fw = tmp_path / "badfw.py"
    fw.write_text(
        "from irqforge.sw import Kernel, KernelConfig\n"
        "\n"
        "def parse(packet):\n"
        "    raise ValueError(f'bad packet {packet!r}')\n"
        "\n"
        "async def main(machine):\n"
        "    k = Kernel(machine, machine.spec, KernelConfig(watchdog=False))\n"
        "    async def init(k):\n"
        "        parse(b'\\x00')\n"
        "    return await k.run(init)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "irqforge", "sim", "--sim", backend, "--scenario", f"{fw}:main"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr
    assert "raised ValueError" in err
    assert f'File "{fw}", line 4, in parse' in err
    assert "ValueError: bad packet b'\\x00'" in err
    assert "frames of irqforge" in err
    assert "sw/kernel.py" not in err and "irqforge/sw/" not in err  # irqforge's frames are folded


def test_missing_scenario_function_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fw = tmp_path / "empty.py"
    fw.write_text("x = 1\n")
    assert main(["sim", "--sim", "model", "--scenario", f"{fw}:main"]) == 2
    err = capsys.readouterr().err
    assert "has no scenario function 'main'" in err
    assert "Traceback" not in err


def test_plain_function_scenario_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fw = tmp_path / "sync.py"
    fw.write_text("def main(machine, **kwargs):\n    return {}\n")
    assert main(["sim", "--sim", "model", "--scenario", f"{fw}:main"]) == 2
    err = capsys.readouterr().err
    assert "is not a scenario: write it as async def main(machine" in err
    assert "Traceback" not in err


def test_a_kernel_deadlock_on_the_model_names_the_cpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A kernel without any tick waiting for a completion nothing completes: one line naming the
    cycle and what each CPU waits for, exit 1 (the verilator backend's case is in
    tests/sim/test_verilator_direct.py; the cocotb backends run such a scenario until ``--cycles``)."""
    fw = tmp_path / "stuck.py"
    fw.write_text(
        "from irqforge.sw import Kernel, KernelConfig\n"
        "from irqforge.sw.sched import Completion\n"
        "\n"
        "async def main(machine):\n"
        "    k = Kernel(machine, machine.spec, KernelConfig(hpet=False, lapic_timer=False, watchdog=False))\n"
        "    async def init(k):\n"
        "        await Completion(k).wait_for_completion()\n"
        "    return await k.run(init)\n"
    )
    assert main(["sim", "--sim", "model", "--scenario", f"{fw}:main"]) == 1
    err = capsys.readouterr().err
    assert "deadlock at cycle" in err
    assert "cpu 0 waits for INTR or NMI" in err and "cpu 1 waits for INTR or NMI" in err
    assert "Traceback" not in err
