"""What the consumers need (:mod:`irqforge.spec.consumers`) and the mistakes
of issue 12 — each refused at its position, in well under a second, or (for
a spec that validates) generated and simulated.

The list of required names is checked against what the consumers really
look up: the model's lookup methods are recorded while the emitters and the
default scenario run on the default specs.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from specedit import SpecCopy

from irqforge.gen import generate
from irqforge.spec import SpecError, load, load_default
from irqforge.spec import model as m
from irqforge.spec.build import EXAMPLES_DIR
from irqforge.spec.consumers import (
    REQUIRED,
    REQUIRED_MSRS,
    REQUIRED_PARAMS,
    REQUIRED_VECTORS,
    REQUIRED_WINDOWS,
    REQUIRED_X2APIC,
)

# --------------------------------------------------------------------------- the list is complete


@pytest.fixture(scope="module")
def recorded() -> dict[str, set[tuple[str, Any]]]:
    """Every name looked up through the model while generating and simulating the default specs."""
    from irqforge.sim.backends import run_scenario

    rec: dict[str, set[tuple[str, Any]]] = {}
    patches = [
        (m.Device, "register", "register", lambda s: s.name),
        (m.Device, "offset", "register", lambda s: s.name),
        (m.Device, "param", "param", lambda s: s.name),
        (m.Device, "window", "window", lambda s: s.name),
        (m.Window, "register", "wregister", lambda s: s.name),
        (m.Register, "field", "field", lambda s: s.name),
        (m.Field, "enum", "enum", lambda s: s.name),
        (m.VectorMap, "by_name", "vector", lambda s: ""),
    ]
    saved = []
    for cls, meth, kind, owner in patches:
        orig = getattr(cls, meth)
        saved.append((cls, meth, orig))

        def wrap(orig: Callable[..., Any] = orig, kind: str = kind, owner: Callable[[Any], str] = owner) -> Any:
            @functools.wraps(orig)
            def w(self: Any, name: str, *a: Any, **k: Any) -> Any:
                rec.setdefault(kind, set()).add((owner(self), name))
                return orig(self, name, *a, **k)

            return w

        setattr(cls, meth, wrap())
    try:
        spec = load_default()
        generate(spec, verilog=False)
        run_scenario("model", "irqforge.sw.scenario:default_scenario", spec)
        run_scenario("model", "irqforge.sim.backends.scenarios:irq_roundtrip", spec)
    finally:
        for cls, meth, orig in saved:
            setattr(cls, meth, orig)
    return rec


def _listed_registers() -> dict[str, str]:
    return {r: dev for dev, regs in REQUIRED.items() for r in regs}


def test_every_register_looked_up_is_required(recorded: dict[str, set[tuple[str, Any]]]) -> None:
    listed = _listed_registers()
    for dev, reg in recorded["register"] | recorded["wregister"]:
        assert reg in listed, f"{dev}.{reg} is looked up but not in consumers.REQUIRED"


def test_every_field_and_value_looked_up_is_required(recorded: dict[str, set[tuple[str, Any]]]) -> None:
    fields = {(r, f) for regs in REQUIRED.values() for r, fs in regs.items() for f in fs}
    fields |= {(r, f) for r, fs in REQUIRED_X2APIC.items() for f in fs}
    fields |= {(m, f) for m, (fs, _modes) in REQUIRED_MSRS.items() for f in fs}
    for reg, field in recorded["field"]:
        assert (reg, field) in fields, f"{reg}.{field} is looked up but not in consumers.REQUIRED"
    values = {(f, v) for regs in REQUIRED.values() for fs in regs.values() for f, vs in fs.items() for v in vs}
    for field, value in recorded["enum"]:
        assert (field, value) in values, f"{field}.{value} is looked up but not in consumers.REQUIRED"


def test_every_param_window_and_vector_looked_up_is_required(recorded: dict[str, set[tuple[str, Any]]]) -> None:
    for dev, p in recorded["param"]:
        assert p in REQUIRED_PARAMS[dev], f"parameter {dev}.{p}"
    for dev, w in recorded["window"]:
        assert w in REQUIRED_WINDOWS[dev], f"window {dev}.{w}"
    for _, v in recorded["vector"]:
        assert v in REQUIRED_VECTORS, f"vector {v}"


# --------------------------------------------------------------------------- the issue's mistakes


def _sub(spec: SpecCopy, file: str, old: str, new: str) -> None:
    """Replace the first occurrence of ``old``."""
    text = spec.text(file)
    assert old in text, f"{old!r} not in {file}"
    spec.write(file, text.replace(old, new, 1))


def _append(spec: SpecCopy, file: str, more: str) -> None:
    spec.write(file, spec.text(file) + more)


def _value(spec: SpecCopy, file: str, key: str, value: str) -> None:
    text = spec.text(file)
    new, n = re.subn(rf"(?m)^(\s*{key}:) *[^#\n]*", rf"\g<1> {value} ", text, count=1)
    assert n == 1, key
    spec.write(file, new)


def _drop_line(spec: SpecCopy, file: str, needle: str) -> None:
    lines = spec.text(file).split("\n")
    i = next(i for i, line in enumerate(lines) if needle in line)
    spec.write(file, "\n".join(lines[:i] + lines[i + 1 :]))


def _add_lapic_register(spec: SpecCopy, text: str) -> None:
    _sub(spec, "lapic.yaml", "  registers:\n", "  registers:\n" + text)


MISTAKES: dict[str, tuple[Callable[[SpecCopy], None], str, str]] = {
    # name: (edit, file of the problem, words of the message)
    "register tpr beside TPR": (
        lambda s: _add_lapic_register(s, "    - {name: tpr, offset: 0x3F0}\n"),
        "lapic.yaml", "makes the C macro IRQFORGE_LAPIC_TPR_OFFSET",
    ),
    "vector COUNT": (
        lambda s: _sub(s, "vectors.yaml", "name: IA32_SYSCALL_VECTOR", "name: COUNT"),
        "vectors.yaml", "IRQFORGE_VECTOR_COUNT",
    ),
    "vector DEVICE_FIRST beside range DEVICE": (
        lambda s: _sub(s, "vectors.yaml", "name: IA32_SYSCALL_VECTOR", "name: DEVICE_FIRST"),
        "vectors.yaml", "IRQFORGE_VECTOR_DEVICE_FIRST",
    ),
    "register ICR field LO_VECTOR vs ICR_LO.VECTOR": (
        lambda s: _add_lapic_register(s, "    - {name: ICR, offset: 0x3F0, fields: [{name: LO_VECTOR, bits: 0}]}\n"),
        "lapic.yaml", "IRQFORGE_LAPIC_ICR_LO_VECTOR_SHIFT",
    ),
    "hz beyond 32 bits": (
        lambda s: _sub(s, "platform.yaml", "  clock_hz:", "  hz: 4294967296\n  clock_hz:"),
        "platform.yaml", "4294967296 is above the maximum",
    ),
    "a 5 GHz clock": (
        lambda s: _value(s, "platform.yaml", "clock_hz", "5000000000"),
        "platform.yaml", "5000000000 is above the maximum",
    ),
    "gate with unnamed bits": (
        lambda s: _drop_line(s, "idt.yaml", "name: zero"),
        "idt.yaml", "name every bit",
    ),
    "SVR renamed": (
        lambda s: _sub(s, "lapic.yaml", "- name: SVR\n", "- name: SVR2\n"),
        "lapic.yaml", "needs a register named SVR",
    ),
    "GEN_CONF.ENABLE_CNF renamed": (
        lambda s: _sub(s, "hpet.yaml", "name: ENABLE_CNF", "name: ENABLED_CNF"),
        "hpet.yaml", "register GEN_CONF needs a field named ENABLE_CNF",
    ),
    "REBOOT_VECTOR renamed": (
        lambda s: _sub(s, "vectors.yaml", "name: REBOOT_VECTOR", "name: REBOOT"),
        "vectors.yaml", "no vector named REBOOT_VECTOR",
    ),
    "LOCAL_TIMER_VECTOR renamed": (
        lambda s: _sub(s, "vectors.yaml", "name: LOCAL_TIMER_VECTOR", "name: LOC_TIMER_VECTOR"),
        "vectors.yaml", "no vector named LOCAL_TIMER_VECTOR",
    ),
    "tsc_deadline parameter absent": (
        lambda s: _drop_line(s, "lapic.yaml", "tsc_deadline"),
        "lapic.yaml", "needs the parameter 'tsc_deadline'",
    ),
    "IO-APIC EOI register renamed": (
        lambda s: _sub(s, "ioapic.yaml", "- name: EOI\n", "- name: EOIR\n"),
        "ioapic.yaml", "needs a register named EOI",
    ),
    "gate field named offset": (
        lambda s: _sub(s, "idt.yaml", "name: reserved", "name: offset"),
        "idt.yaml", "a name the C gate helpers use themselves",
    ),
    "gate field named attr": (
        lambda s: _sub(s, "idt.yaml", "name: reserved", "name: attr"),
        "idt.yaml", "a name the C gate helpers use themselves",
    ),
    "two layouts one C name": (  # found by the spec fuzzer: the C header's IRQFORGE_GATE32_SIZE twice
        lambda s: _sub(s, "idt.yaml", "name: gate64", "name: Gate32"),
        "idt.yaml", "layouts Gate32 and gate32 are both 'gate32' in C",
    ),
    "!!python/name tag": (
        lambda s: _sub(s, "platform.yaml", "name: ", "name: !!python/name:os.system "),
        "platform.yaml", "the tag !!python/name:os.system is not allowed",
    ),
    "!include tag": (
        lambda s: _sub(s, "platform.yaml", "name: ", "name: !include other.yaml "),
        "platform.yaml", "the tag !include is not allowed",
    ),
    "recursive alias": (
        lambda s: _append(s, "platform.yaml", "x: &a [1, *a]\n"),
        "platform.yaml", "recursive alias",
    ),
    "200,000 levels of nesting": (
        lambda s: _append(s, "platform.yaml", "x: " + "[" * 200_000 + "]" * 200_000 + "\n"),
        "platform.yaml", "nesting deeper than",
    ),
    "billion laughs": (
        lambda s: _append(s, "platform.yaml",
            "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)),
        ),
        "platform.yaml", "alias bomb",
    ),
    "bits: 7.0": (
        lambda s: _sub(s, "lapic.yaml", '{name: TPR, bits: "7:0"', "{name: TPR, bits: 7.0"),
        "lapic.yaml", "7.0 is not a bit number",
    ),
    "clock_hz: 10000000.0": (
        lambda s: _value(s, "platform.yaml", "clock_hz", "10000000.0"),
        "platform.yaml", "expected an integer, got 10000000.0",
    ),
    "count 1 << 40": (
        lambda s: _sub(s, "hpet.yaml", "count: timers", 'count: "1 << 40"'),
        "hpet.yaml", "must be 1..1024",
    ),
    "100,000-term expression": (
        lambda s: _sub(s, "hpet.yaml", "count: timers", "count: " + "+".join(["1"] * 100_000)),
        "hpet.yaml", "is longer than 200 characters",
    ),
    "50 MB of comments": (
        lambda s: _append(s, "platform.yaml", ("# " + "x" * 78 + "\n") * 640_000),
        "platform.yaml", "larger than 1024 KiB",
    ),
    "lapic.yaml is a folder": (
        lambda s: (s.path("lapic.yaml").unlink(), s.path("lapic.yaml").mkdir()),
        "lapic.yaml", "is a folder, not a spec file",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_issue_mistake_refused_at_its_file(spec_copy: SpecCopy, name: str) -> None:
    """Each mistake is refused with its own message at its file. The huge inputs are refused by
    their size and length limits (the messages say so) before anything parses them; how fast that
    is belongs to the benchmarks, not here."""
    edit, file, words = MISTAKES[name]
    edit(spec_copy)
    with pytest.raises(SpecError) as info:
        load(spec_copy.root)
    hits = [p for p in info.value.problems if words in p.message]
    assert hits, [str(p) for p in info.value.problems]
    assert all(Path(p.file).name == file and p.line >= 1 for p in hits)


def test_a_schema_error_does_not_hide_the_files_other_problems(spec_copy: SpecCopy) -> None:
    _sub(spec_copy, "lapic.yaml", '{name: TPR, bits: "7:0"', '{name: TPR, bits: "x"')
    _sub(spec_copy, "lapic.yaml", "offset: 0x0F0", "offset: 0x0F2")
    problems = spec_copy.problems()
    assert len(problems) == 2
    assert "bits: 'x' is not a bit number" in problems[0]
    assert "register SVR offset 0x0F2 is not 4-byte aligned" in problems[1]


def test_numbers_are_echoed_as_written(spec_copy: SpecCopy) -> None:
    _sub(spec_copy, "lapic.yaml", "offset: 0x0F0", "offset: 242")
    (problem,) = spec_copy.problems()
    assert "register SVR offset 242 is not 4-byte aligned" in problem


def test_a_comment_edit_changes_no_generated_file(tmp_path: Path) -> None:
    a, b = SpecCopy(tmp_path / "a" / "spec"), SpecCopy(tmp_path / "b" / "spec")
    b.write("lapic.yaml", "# a new comment\n" + b.text("lapic.yaml").replace("offset: 0x0F0", "offset: 0xF0  # SVR"))
    assert generate(load(a.root), verilog=False) == generate(load(b.root), verilog=False)


def test_description_with_comment_markers_stays_inside_the_comment(spec_copy: SpecCopy) -> None:
    _sub(spec_copy, "lapic.yaml", "description: Spurious", "description: a /* b */ c // d Spurious")
    header = generate(load(spec_copy.root), verilog=False)["include/irqforge/lapic.h"].decode()
    line = next(x for x in header.splitlines() if "a / * b * / c" in x)
    assert line.count("/*") == 1 and line.count("*/") == 1


# --------------------------------------------------------------------------- specs that validate must run


def test_linux_26_example_runs_the_default_scenario() -> None:
    from irqforge.sim.backends import run_scenario

    spec = load(EXAMPLES_DIR / "linux-2.6")
    result = run_scenario("model", "irqforge.sw.scenario:default_scenario", spec, max_cycles=20_000_000)
    assert result["arch"]["LOC"] == [40, 40] and not result["oopses"]


# --------------------------------------------------------------------------- the command line


def _cli(*args: str, cwd: Path | None = None) -> tuple[int, str, str, float, int]:
    """Exit code, stdout, stderr, seconds and peak memory (MiB) of one ``irqforge`` run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "irqforge", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    out, err = proc.communicate(timeout=120)
    rusage = os.wait4(proc.pid, 0)[2] if proc.returncode is None else None
    seconds = time.perf_counter() - t0
    peak = int(rusage.ru_maxrss / 1024) if rusage is not None else 0
    return proc.returncode, out, err, seconds, peak


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err and "this is a bug" not in err, err


def test_cli_prints_locations_verbatim(spec_copy: SpecCopy) -> None:
    lines = spec_copy.text("lapic.yaml").split("\n")
    lines[99] += " [oops"  # line 100: rich would turn ':100:' into an emoji
    spec_copy.write("lapic.yaml", "\n".join(lines))
    rc, _, err, _, _ = _cli("validate", str(spec_copy.root))
    assert rc == 1
    _no_traceback(err)
    assert "lapic.yaml:100:" in err


@pytest.mark.parametrize("name", ["billion laughs", "200,000 levels of nesting", "50 MB of comments"])
def test_cli_refuses_resource_attacks_in_one_line(spec_copy: SpecCopy, name: str) -> None:
    edit, file, words = MISTAKES[name]
    edit(spec_copy)
    rc, _, err, _, _ = _cli("validate", str(spec_copy.root))
    assert rc == 1
    _no_traceback(err)
    assert [line for line in err.splitlines() if words in line and file in line]


def test_cli_gen_to_a_file_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("x")
    rc, _, err, _, _ = _cli("gen", "-o", str(target))
    assert rc == 2 and err.strip() == f"irqforge gen: -o {target}: not a folder"
    assert target.read_text() == "x"


def test_cli_scenario_states_what_it_needs(spec_copy: SpecCopy) -> None:
    _sub(spec_copy, "ioapic.yaml", "pins: 24", "pins: 16")
    load(spec_copy.root)  # a 16-pin IO-APIC is a valid spec
    rc, _, err, _, _ = _cli("sim", "--sim", "model", str(spec_copy.root))
    assert rc == 1
    _no_traceback(err)
    assert "the default scenario needs IO-APIC pin 16" in err and "this IO-APIC has 16 pins" in err


def test_cli_bug_shows_its_traceback_and_says_so(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from irqforge import cli

    def broken(args: Any) -> int:
        raise ZeroDivisionError("boom")

    parser = cli.build_parser()
    args = parser.parse_args(["validate"])
    args.func = broken
    assert cli._run(args) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: boom" in err and "this is a bug in irqforge" in err


def test_unreadable_folder_and_file_are_one_problem(spec_copy: SpecCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = Path.open

    def open_(self: Path, *a: Any, **k: Any) -> Any:
        if self.name == "hpet.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *a, **k)

    monkeypatch.setattr(Path, "open", open_)
    with pytest.raises(SpecError) as info:
        load(spec_copy.root)
    assert [p.message for p in info.value.problems] == ["cannot read hpet.yaml: Permission denied"]

    def listdir(path: Any) -> list[str]:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "listdir", listdir)
    with pytest.raises(SpecError) as info:
        load(spec_copy.root)
    assert [p.message for p in info.value.problems] == ["cannot read the spec directory: Permission denied"]


def test_cli_write_error_is_one_line(tmp_path: Path, capsys: Any) -> None:
    from irqforge import cli

    def read_only(args: Any) -> int:
        raise PermissionError(13, "Permission denied", str(tmp_path / "ro"))

    args = cli.build_parser().parse_args(["gen", "-o", str(tmp_path / "ro")])
    args.func = read_only
    assert cli._run(args) == 1
    assert capsys.readouterr().err.strip() == f"irqforge gen: {tmp_path / 'ro'}: Permission denied"


def test_duplicate_window_names_are_refused(spec_copy: SpecCopy) -> None:
    """Found by the fuzzer: two windows called IOAPIC validated, then the header generator refused them."""
    text = spec_copy.text("ioapic.yaml")
    start = text.index("  windows:\n") + len("  windows:\n")
    spec_copy.write("ioapic.yaml", text + text[start:])
    problems = spec_copy.problems()
    assert any("duplicate window name 'IOAPIC'" in p for p in problems), problems
