"""Property tests of the register-layout checks: random layouts that do not
overlap always validate; one injected overlap is always exactly one problem."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from specedit import SpecCopy

from irqforge.spec import DEFAULT_DIR, SpecError, load

PAGE = 0x1000


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory: pytest.TempPathFactory) -> SpecCopy:
    return SpecCopy(tmp_path_factory.mktemp("prop") / "spec")


@st.composite
def _fields(draw: st.DrawFn, width: int) -> list[dict[str, Any]]:
    """Non-overlapping fields: cut the register into pieces, keep some."""
    cuts = sorted(draw(st.sets(st.integers(1, width - 1), max_size=6)))
    edges = [0, *cuts, width]
    out = []
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        if draw(st.booleans()):
            bits: int | str = lo if hi - lo == 1 else f"{hi - 1}:{lo}"
            out.append({"name": f"F{i}", "bits": bits, "access": draw(st.sampled_from(["rw", "ro", "w1c"]))})
    return out


@st.composite
def layouts(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Registers placed one after another with random gaps, widths, arrays and
    fields, then shuffled: the order of declaration must not matter."""
    regs: list[dict[str, Any]] = []
    cursor = 0
    for i in range(draw(st.integers(1, 16))):
        width = draw(st.sampled_from([32, 64]))
        span = width // 8
        offset = -(-(cursor + 4 * draw(st.integers(0, 6))) // span) * span  # round up to the alignment
        count = draw(st.integers(1, 4))
        stride = span * draw(st.integers(1, 3))
        reg: dict[str, Any] = {"name": f"R{i}X", "offset": offset, "width": width}
        if count > 1:
            reg.update(count=count, stride=stride)
        if draw(st.booleans()):
            reg["fields"] = draw(_fields(width))
        regs.append(reg)
        cursor = offset + (count - 1) * stride + span
    assert cursor <= PAGE
    return draw(st.permutations(regs))


def _instances(reg: dict[str, Any]) -> list[int]:
    return [reg["offset"] + k * reg.get("stride", 0) for k in range(reg.get("count", 1))]


def _write_lapic(spec_dir: SpecCopy, regs: list[dict[str, Any]]) -> None:
    data = yaml.safe_load((DEFAULT_DIR / "lapic.yaml").read_text())
    data["device"]["registers"] = regs
    data["device"].pop("x2apic")  # the view names registers of the default layout
    spec_dir.write("lapic.yaml", yaml.safe_dump(data, sort_keys=False))


_SETTINGS = settings(max_examples=40, deadline=None)


@_SETTINGS
@given(regs=layouts())
def test_non_overlapping_layouts_validate(spec_dir: SpecCopy, regs: list[dict[str, Any]]) -> None:
    _write_lapic(spec_dir, regs)
    spec = load(spec_dir.root, check_consumers=False)  # the layout rules alone: no SVR needed
    got = {(r.name, inst.offset) for r in spec.lapic.registers for inst in r.instances()}
    assert got == {(r["name"], o) for r in regs for o in _instances(r)}


@_SETTINGS
@given(regs=layouts(), data=st.data())
def test_one_injected_overlap_is_one_problem(
    spec_dir: SpecCopy, regs: list[dict[str, Any]], data: st.DataObject
) -> None:
    victim = data.draw(st.sampled_from(regs))
    at = data.draw(st.sampled_from(_instances(victim)))
    # a register inside the victim's footprint: it can overlap nothing else
    width = data.draw(st.sampled_from([32, victim["width"]]))
    offset = at + data.draw(st.sampled_from([0, 4] if victim["width"] == 64 and width == 32 else [0]))
    where = data.draw(st.integers(0, len(regs)))
    bad = [*regs[:where], {"name": "INTRUDER", "offset": offset, "width": width}, *regs[where:]]
    _write_lapic(spec_dir, bad)
    with pytest.raises(SpecError) as info:
        load(spec_dir.root, check_consumers=False)
    problems = info.value.problems
    assert len(problems) == 1, [str(p) for p in problems]
    assert " overlaps register " in problems[0].message
    assert "INTRUDER" in problems[0].message and victim["name"] in problems[0].message
    assert Path(problems[0].file).name == "lapic.yaml"
