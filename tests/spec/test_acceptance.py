"""A spec with five mistakes in three files: every one is reported in one run,
by the library and by ``irqforge validate``; ``irqforge gen`` writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from specedit import SpecCopy


def _five_mistakes(spec: SpecCopy) -> list[str]:
    """Make five mistakes in lapic.yaml, vectors.yaml and platform.yaml; the
    problems expected, in the order they are reported (file, line, column)."""
    tpr = spec.line("lapic.yaml", "offset: 0x080")
    lapic_tpr, lapic_apr = spec.reg("lapic.yaml", "TPR"), spec.reg("lapic.yaml", "APR")
    timer = spec.index("vectors.yaml", "vectors.entries", "LOCAL_TIMER_VECTOR")
    trap = spec.index("vectors.yaml", "vectors.entries", "SPURIOUS_TRAP")
    posted = spec.line("vectors.yaml", "POSTED_MSI_NOTIFICATION_VECTOR")

    bits = spec.replace("lapic.yaml", '{name: TPR, bits: "7:0"', '{name: TPR, bits: "39:32"', at='"39:32"')
    overlap = spec.replace("lapic.yaml", "offset: 0x090", "offset: 0x080", at="0x080")
    spec.replace(
        "vectors.yaml", 'SPURIOUS_TRAP, mnemonic: "-", kind: reserved', 'SPURIOUS_TRAP, mnemonic: "-", kind: irq'
    )
    exc = spec.pos("vectors.yaml", "0x0F, name: SPURIOUS_TRAP")
    collide = spec.replace("vectors.yaml", "number: 0xEC,", "number: 0xEB,", at="0xEB")
    typo = spec.replace("platform.yaml", "  hz: 1000", "  hzz: 1000", at="hzz")
    return [
        bits.msg(f"{lapic_tpr}.fields[0].bits: field TPR.TPR bits '39:32' lie outside the 32-bit register"),
        overlap.msg(
            f"{lapic_apr}.offset: register APR at offset 0x80 overlaps register TPR at offset 0x80 (line {tpr})"
        ),
        typo.msg("platform: unknown key 'hzz' (did you mean 'hz'?)"),
        exc.msg(
            f"vectors.entries[{trap}].number: vector 0x0F of SPURIOUS_TRAP is an exception vector (0..0x1f) "
            "and cannot be kind 'irq'"
        ),
        collide.msg(
            f"vectors.entries[{timer}].number: vector 0xEB of LOCAL_TIMER_VECTOR collides with "
            f"POSTED_MSI_NOTIFICATION_VECTOR (line {posted})"
        ),
    ]


def test_five_mistakes_in_three_files_all_reported(spec_copy: SpecCopy) -> None:
    expected = _five_mistakes(spec_copy)
    assert spec_copy.problems() == expected
    assert len({p.split(":")[0] for p in expected}) == 3


def _irqforge(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "irqforge", *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def test_cli_validate_prints_every_problem(spec_copy: SpecCopy) -> None:
    pytest.importorskip("irqforge.cli")
    expected = _five_mistakes(spec_copy)
    run = _irqforge("validate", str(spec_copy.root))
    assert run.returncode == 1
    printed = [line for line in run.stderr.splitlines() if line.startswith(str(spec_copy.root))]
    assert printed == expected


def test_cli_validate_names_a_relative_directory_as_given(spec_copy: SpecCopy) -> None:
    pytest.importorskip("irqforge.cli")
    at = spec_copy.replace("platform.yaml", "{apic_id: 1}", "{apic_id: 0}", at="0")
    run = _irqforge("validate", spec_copy.root.name, cwd=spec_copy.root.parent)
    assert run.returncode == 1
    shown = f"{spec_copy.root.name}/platform.yaml:{at.line}:{at.col}"
    assert (
        f"{shown}: platform.cpus[1].apic_id: APIC ID 0 of cpu 1 is already used by cpu 0" in run.stderr.splitlines()
    )


def test_cli_validate_accepts_the_default_specs() -> None:
    pytest.importorskip("irqforge.cli")
    run = _irqforge("validate")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""


def test_cli_gen_writes_nothing_for_an_invalid_spec(spec_copy: SpecCopy, tmp_path: Path) -> None:
    pytest.importorskip("irqforge.cli")
    expected = _five_mistakes(spec_copy)
    out = tmp_path / "out"
    run = _irqforge("gen", str(spec_copy.root), "-o", str(out))
    assert run.returncode == 1
    assert [line for line in run.stderr.splitlines() if line.startswith(str(spec_copy.root))] == expected
    assert not out.exists() or not any(out.iterdir())
