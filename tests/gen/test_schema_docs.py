"""The emitted JSON Schema, and the Markdown docs' structure."""

from __future__ import annotations

import json
import re

import jsonschema
import yaml

from irqforge.gen import generate
from irqforge.gen.diagram import Bits, diagram
from irqforge.spec import DEFAULT_DIR, SCHEMA, Spec


def test_schema_is_valid_and_validates_default_specs(spec: Spec) -> None:
    doc = json.loads(generate(spec, verilog=False)["schema/irqforge-spec.schema.json"])
    jsonschema.Draft202012Validator.check_schema(doc)
    assert {k: v for k, v in doc.items() if k != "$comment"} == SCHEMA
    validator = jsonschema.Draft202012Validator(doc)
    files = sorted(DEFAULT_DIR.glob("*.yaml"))
    assert len(files) == 6
    for path in files:
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], path.name
    assert list(validator.iter_errors({"device": {"name": "lapic", "bogus": 1}}))


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
