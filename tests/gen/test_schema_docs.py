"""The emitted JSON Schema, and the Markdown docs' structure."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from irqforge.gen import generate
from irqforge.gen.diagram import Bits, diagram
from irqforge.spec import DEFAULT_DIR, Spec
from irqforge.spec.build import EXAMPLES_DIR

# The README's example device ("The spec format"), copied by hand: the emitted
# schema must accept what the README documents, and refuse each single change
# below that the README's vocabulary rules out.
README_DEVICE = """
device:
  name: lapic
  bus: axi4-lite
  address_width: 12
  size: 0x1000
  params: {version: 0x14, lvt_count: 6}
  registers:
    - name: SVR
      offset: 0x0F0
      width: 32
      access: rw
      description: Spurious interrupt vector and software enable.
      fields:
        - {name: VECTOR, bits: "7:0", access: rw, reset: 0xFF}
        - {name: ENABLE, bits: "8", access: rw}
    - name: ISR
      offset: 0x100
      count: 8
      stride: 0x10
      access: ro
  windows:
    - name: IOAPIC
      select: IOREGSEL
      data: IOWIN
      registers:
        - {name: REDTBL, index: 0x10, count: pins, stride: 2, width: 64, fields: [{name: MASK, bits: 16, reset: 1}]}
"""
# README: access kinds "ro rw wo w1c rc wl rsvd"; vector kinds "exception, irq,
# syscall, timer, ipi, system, spurious, reserved"; exception classes "fault,
# trap, abort, interrupt"; devices lapic | ioapic | hpet; buses axi4-lite, apb4;
# widths 32 (default) or 64
README_ACCESS = {"ro", "rw", "wo", "w1c", "rc", "wl", "rsvd"}
README_VECTOR_KINDS = {"exception", "irq", "syscall", "timer", "ipi", "system", "spurious", "reserved"}
README_CLASSES = {"fault", "trap", "abort", "interrupt"}


def _emitted_schema(spec: Spec) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(generate(spec, verilog=False)["schema/irqforge-spec.schema.json"])
    jsonschema.Draft202012Validator.check_schema(doc)
    return doc


def test_schema_accepts_the_shipped_and_documented_specs(spec: Spec) -> None:
    validator = jsonschema.Draft202012Validator(_emitted_schema(spec))
    files = sorted(DEFAULT_DIR.glob("*.yaml")) + sorted(EXAMPLES_DIR.glob("*/*.yaml"))
    assert len(files) >= 12
    for path in files:
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], path
    assert list(validator.iter_errors(yaml.safe_load(README_DEVICE))) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("name: lapic", "name: pic"),
        ("bus: axi4-lite", "bus: pci"),
        ("width: 32", "width: 48"),
        ("width: 64", "width: 16"),
        ("access: ro", "access: r"),
        ('bits: "7:0", access: rw', 'bits: "7:0", access: rx'),
        ('bits: "7:0"', 'bits: "7-0"'),
        ("name: ENABLE", "name: 8ENABLE"),
        ("offset: 0x0F0", "offset: -16"),
        ("address_width: 12", "address_width: 33"),
        ("  bus: axi4-lite\n", "  bus: axi4-lite\n  bogus: 1\n"),
        ("    - name: SVR\n      offset: 0x0F0\n", "    - name: SVR\n"),
    ],
)
def test_schema_refuses_what_the_readme_rules_out(spec: Spec, old: str, new: str) -> None:
    validator = jsonschema.Draft202012Validator(_emitted_schema(spec))
    assert README_DEVICE.count(old) == 1, old
    assert list(validator.iter_errors(yaml.safe_load(README_DEVICE.replace(old, new))))


def test_schema_vocabulary_is_the_readmes(spec: Spec) -> None:
    doc = _emitted_schema(spec)
    defs = doc["$defs"]
    assert set(defs["field"]["properties"]["access"]["enum"]) == README_ACCESS
    assert set(defs["register"]["properties"]["access"]["enum"]) == README_ACCESS
    vector = doc["properties"]["vectors"]["properties"]["entries"]["items"]["properties"]
    assert set(vector["kind"]["enum"]) == README_VECTOR_KINDS
    assert set(vector["class"]["enum"]) == README_CLASSES
    assert (vector["ist"]["minimum"], vector["ist"]["maximum"]) == (0, 7)  # 3-bit IST field (SDM Figure 6-8)
    assert (vector["dpl"]["minimum"], vector["dpl"]["maximum"]) == (0, 3)  # privilege levels 0..3
    device = doc["properties"]["device"]["properties"]
    assert set(device["name"]["enum"]) == {"lapic", "ioapic", "hpet"}
    assert set(device["bus"]["enum"]) == {"axi4-lite", "apb4"}
    assert set(defs["register"]["properties"]["width"]["enum"]) == {32, 64}


def test_diagram_boxes_line_up() -> None:
    lines = diagram([Bits("ID", 31, 24, "rw"), Bits("EN", 8, 8, "rw"), Bits("VECTOR", 7, 0, "ro")], 32)
    assert lines[1] == lines[-1]
    assert len({len(line) for line in lines[1:]}) == 1
    assert re.split(r"\s+", lines[0].strip()) == ["31", "24", "23", "9", "8", "7", "0"]
    assert [c.strip() for c in lines[2].strip("|").split("|")] == ["ID", "reserved", "EN", "VECTOR"]
    two_rows = diagram([Bits("COUNTER", 63, 0)], 64)
    assert "COUNTER[63:32]" in two_rows[2] and "COUNTER[31:0]" in two_rows[7]


def test_vector_doc_covers_all_256_vectors_once(spec: Spec) -> None:
    text = generate(spec, verilog=False)["docs/vectors.md"].decode()
    covered: list[int] = []
    for line in text.splitlines():
        m = re.match(r"^\| 0x([0-9A-F]{2})(?:–0x([0-9A-F]{2}))? \|", line)
        if m:
            first = int(m[1], 16)
            covered += range(first, int(m[2] or m[1], 16) + 1)
    assert sorted(covered) == list(range(256))


def test_device_docs_list_every_register(spec: Spec) -> None:
    out = generate(spec, verilog=False)
    for dev in spec.devices:
        text = out[f"docs/{dev.name}.md"].decode()
        regs = [*dev.registers, *(r for w in dev.windows for r in w.registers)]
        for reg in regs:
            shown = f"{reg.name}n" if reg.is_array else reg.name
            assert f"[`{shown}`]" in text and f"### {shown}\n" in text, (dev.name, reg.name)
            for f in reg.fields:
                assert f"| `{f.name}` |" in text
