"""The documentation's examples run, and say what the docs say they print.

``examples/first_firmware.py`` is the firmware guide's program (docs/firmware.md):
a shared level IRQ, a tasklet, a workqueue, a timer and a function-call IPI.
Its expected numbers come from the program's own logic and from Linux, not
from irqforge: six interrupts alternate between two cards, each one schedules
the tasklet once (it runs once per schedule, ``kernel/softirq.c``) and the
tasklet queues the work once (flushed every round); ``mod_timer(t, j + 2)``
runs at ``j + 3`` because Linux's timer wheel rounds the expiry up to the next
bucket (``calc_index`` in ``kernel/time/timer.c``); ``smp_call_function``
runs the function on every other online CPU (``kernel/smp.c``).

Every ``python`` code block of README.md and docs/*.md is executed too, but
those marked ``<!-- fragment -->`` just before the fence (parts of a larger
program, such as the body of a cocotb test).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from irqforge.sim.backends import available, run_scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "first_firmware.py"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: RTL backends the example runs on in the default test run (Amaranth's simulator with --long)
FAST = ("model", "verilator", "cocotb-verilator", "icarus")


def _backends() -> list[object]:
    here = set(available())
    out: list[object] = []
    for kind in ("model", "verilator", "cocotb-verilator", "icarus", "amaranth"):
        marks = [] if kind in FAST else [pytest.mark.long]
        if kind not in here:
            marks.append(pytest.mark.skip(reason=f"backend {kind} is not available here (irqforge doctor)"))
        out.append(pytest.param(kind, marks=marks, id=kind))
    return out


@pytest.mark.parametrize("backend", _backends())
def test_first_firmware_example(backend: str) -> None:
    result = run_scenario(backend, f"{EXAMPLE}:main")
    assert result["irq"] == 16
    assert result["handled"] == {"eth0": 3, "eth1": 3}
    assert result["tasklet_runs"] == 6
    assert result["work_runs"] == 6
    assert result["timer_delay_jiffies"] == 3
    assert list(result["ipi_cpus"]) == [1]  # the default spec has two CPUs: the other one is CPU 1
    lines = {line.split(":")[0].strip(): line for line in result["proc_interrupts"].splitlines()}
    assert lines["16"].split()[1:3] == ["6", "0"]  # every interrupt on CPU 0, the default affinity
    assert lines["16"].rstrip().endswith("eth0, eth1")


#: a ``python`` block preceded by this comment is a fragment (e.g. the body of a cocotb test), not run alone
FRAGMENT = "<!-- fragment -->"


def _python_blocks() -> list[object]:
    out: list[object] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for i, m in enumerate(re.finditer(r"```python\n(.*?)```", text, re.S)):
            if text[: m.start()].rstrip().endswith(FRAGMENT):
                continue
            out.append(pytest.param(doc, m.group(1), id=f"{doc.name}-{i}"))
    return out


@pytest.mark.parametrize(("doc", "code"), _python_blocks())
def test_docs_python_blocks_run(doc: Path, code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples name files relative to the repository
    exec(compile(code, str(doc), "exec"), {"__name__": "docs_example"})


def test_spec_reference_lists_every_required_name() -> None:
    """docs/spec-reference.md shows what spec/consumers.py requires (the page cannot go stale)."""
    from irqforge.spec import consumers

    text = (ROOT / "docs" / "spec-reference.md").read_text(encoding="utf-8")
    section = text[text.index("## Names other parts require") :]
    for dev, regs in consumers.REQUIRED.items():
        for reg, fields in regs.items():
            row = next((line for line in section.splitlines() if line.startswith(f"| {dev} | `{reg}` |")), None)
            assert row is not None, f"{dev}.{reg} missing"
            for field, values in fields.items():
                assert f"`{field}`" in row, f"{dev}.{reg}.{field}"
                for value in values:
                    assert value in row, f"{dev}.{reg}.{field}={value}"
    for msr, (fields, modes) in consumers.REQUIRED_MSRS.items():
        row = next((line for line in section.splitlines() if line.startswith(f"| `{msr}` |")), None)
        assert row is not None, f"MSR {msr} missing"
        for name in (*fields, *modes):
            assert f"`{name}`" in row, f"{msr}.{name}"
    assert f"`{consumers.X2APIC_MODE}`" in section
    for reg, fields in consumers.REQUIRED_X2APIC.items():
        row = next((line for line in section.splitlines() if line.startswith(f"| `{reg}` |")), None)
        assert row is not None, f"x2APIC register {reg} missing"
        for name in fields:
            assert f"`{name}`" in row, f"{reg}.{name}"
    for vector in consumers.REQUIRED_VECTORS:
        assert f"`{vector}`" in section, vector
    for dev, params in consumers.REQUIRED_PARAMS.items():
        for name in params:
            assert f"| {dev} | `{name}` |" in text, (dev, name)
