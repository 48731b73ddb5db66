"""One bad spec per validation message: the exact text and its FILE:LINE:COL.

Each test copies the shipped specs, makes one small edit (one mistake) and
expects exactly the problems listed, nothing more. Positions and the line
numbers quoted in messages are found in the edited text.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from specedit import SpecCopy

from irqforge.spec import SpecError, load
from irqforge.spec.build import _Ctx, _report_schema_error
from irqforge.spec.yamlload import Marks

# --------------------------------------------------------------------------- the directory and its files


def test_spec_directory_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SpecError) as info:
        load(missing)
    assert [str(p) for p in info.value.problems] == [f"{missing}:1:1: spec directory {str(missing)!r} does not exist"]


def test_spec_directory_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "spec.yaml"
    file.write_text("device: {}\n")
    with pytest.raises(SpecError) as info:
        load(file)
    assert [str(p) for p in info.value.problems] == [f"{file}:1:1: spec directory {str(file)!r} is not a directory"]


def test_missing_file(spec_copy: SpecCopy) -> None:
    spec_copy.path("hpet.yaml").unlink()
    assert spec_copy.problems() == [f"{spec_copy.shown('hpet.yaml')}:1:1: missing spec file 'hpet.yaml'"]


def test_not_utf8(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "Two CPUs", "Two CPUs \u00ff", at="\u00ff")
    raw = spec_copy.path("platform.yaml").read_bytes().replace("\u00ff".encode(), b"\xff")
    spec_copy.path("platform.yaml").write_bytes(raw)
    assert spec_copy.problems() == [at.msg("not UTF-8 text: byte 0xff (invalid start byte)")]


def test_yaml_unacceptable_character(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "Two CPUs", "Two \x07CPUs", at="\x07")
    assert spec_copy.problems() == [at.msg("YAML: unacceptable character U+0007 (special characters are not allowed)")]


def test_yaml_syntax(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "clock_hz: 10000000", "clock_hz: 10000000: 5", at=": 5")
    assert spec_copy.problems() == [at.msg("YAML syntax: mapping values are not allowed here")]


def test_yaml_syntax_with_context(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "  hz: 1000", " hz: 1000", at="hz")
    line = spec_copy.line("platform.yaml", "platform:")
    assert spec_copy.problems() == [
        at.msg(
            "YAML syntax: expected <block end>, but found '<block mapping start>' "
            f"(while parsing a block mapping that starts on line {line})"
        )
    ]


def test_yaml_duplicate_key(spec_copy: SpecCopy) -> None:
    at = spec_copy.insert_after("hpet.yaml", "  size: 0x400\n", "  size: 0x800\n", at="size")
    first = spec_copy.line("hpet.yaml", "  size: 0x400")
    assert spec_copy.problems() == [at.msg(f"device.size: duplicate key 'size' (first given on line {first})")]


def test_yaml_merge_key(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "lapic: {base: 0xFEE00000,", "lapic: {<<: {base: 0xFEE00000},", at="<<")
    assert spec_copy.problems() == [
        at.msg(
            "platform.address_map.lapic: YAML merge keys (<<) are not supported; "
            "give the keys, or use an alias for the whole mapping"
        )
    ]


def test_empty_file(spec_copy: SpecCopy) -> None:
    spec_copy.write("idt.yaml", "# nothing yet\n")
    assert spec_copy.problems() == [
        f"{spec_copy.shown('idt.yaml')}:1:1: (document): the file is empty; it must hold the key 'idt'"
    ]


def test_file_not_a_mapping(spec_copy: SpecCopy) -> None:
    spec_copy.write("idt.yaml", "- entries: 256\n")
    assert spec_copy.problems() == [
        f"{spec_copy.shown('idt.yaml')}:1:1: (document): expected a mapping with the key 'idt', got a list"
    ]


# --------------------------------------------------------------------------- structure (JSON Schema)


def test_unknown_key_did_you_mean(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "      offset: 0x080\n", "      ofset: 0x080\n", at="ofset")
    reg = spec_copy.reg("lapic.yaml", "TPR")
    # the misspelt key is one mistake: no "missing required key 'offset'" as well
    assert spec_copy.problems() == [at.msg(f"{reg}: unknown key 'ofset' (did you mean 'offset'?)")]


def test_unknown_top_level_key(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("hpet.yaml", "device:\n", "devices:\n", at="devices")
    assert spec_copy.problems() == [at.msg("(document): unknown key 'devices' (did you mean 'device'?)")]


def test_unknown_key_without_a_close_match(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "  hz: 1000", "  tick: 1000", at="tick")
    assert spec_copy.problems() == [
        at.msg(
            "platform: unknown key 'tick' (expected one of: name, description, clock_hz, hz, cpus, "
            "address_map, irq_wiring)"
        )
    ]


def test_missing_required_key(spec_copy: SpecCopy) -> None:
    spec_copy.replace("lapic.yaml", "    - name: EOI\n      offset: 0x0B0\n", "    - name: EOI\n")
    at = spec_copy.pos("lapic.yaml", "name: EOI\n")
    reg = spec_copy.reg("lapic.yaml", "EOI")
    assert spec_copy.problems() == [at.msg(f"{reg}: missing required key 'offset'")]


def test_wrong_type(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "clock_hz: 10000000", "clock_hz: fast", at="fast")
    assert spec_copy.problems() == [at.msg("platform.clock_hz: expected an integer, got 'fast'")]


def test_wrong_type_quotes_a_short_value(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace(
        "platform.yaml", "  hz: 1000", "  hz: [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000]", at="["
    )
    assert spec_copy.problems() == [
        at.msg("platform.hz: expected an integer, got [1000, 2000, 3000, 4000, 5000, 6000, ...]")
    ]


def test_bad_enum_value(spec_copy: SpecCopy) -> None:
    spec_copy.replace(
        "lapic.yaml",
        "    - name: EOI\n      offset: 0x0B0\n      access: wo",
        "    - name: EOI\n      offset: 0x0B0\n      access: wx",
    )
    at = spec_copy.pos("lapic.yaml", "wx")
    reg = spec_copy.reg("lapic.yaml", "EOI")
    assert spec_copy.problems() == [at.msg(f"{reg}.access: 'wx' is not one of ro, rw, wo, w1c, rc, wl, rsvd")]


def test_bad_bits(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", '{name: TPR, bits: "7:0"', '{name: TPR, bits: "7-0"', at='"7-0"')
    reg = spec_copy.reg("lapic.yaml", "TPR")
    assert spec_copy.problems() == [
        at.msg(f"""{reg}.fields[0].bits: '7-0' is not a bit number, or a bit range "msb:lsb" in quotes""")
    ]


def test_bad_expression_text(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "reset: lvt_count - 1", "reset: lvt_count / 2", at="lvt_count")
    reg = spec_copy.reg("lapic.yaml", "VERSION")
    assert spec_copy.problems() == [
        at.msg(
            f"{reg}.fields[1].reset: 'lvt_count / 2' is not an integer, or an expression over the device params "
            'such as "pins - 1"'
        )
    ]


def test_bad_name(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("lapic.yaml", "APR")
    at = spec_copy.replace("lapic.yaml", "name: APR\n", "name: 9APR\n", at="9APR")
    assert spec_copy.problems() == [
        at.msg(f"{reg}.name: '9APR' is not a name (letters, digits and _, not starting with a digit)")
    ]


def test_below_minimum(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "{apic_id: 1}", "{apic_id: -1}", at="-1")
    assert spec_copy.problems() == [at.msg("platform.cpus[1].apic_id: -1 is below the minimum 0")]


def test_above_maximum(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("vectors.yaml", "class: trap, ist: 3,", "class: trap, ist: 9,", at="9")
    i = spec_copy.index("vectors.yaml", "vectors.entries", "DB")
    assert spec_copy.problems() == [at.msg(f"vectors.entries[{i}].ist: 9 is above the maximum 7")]


def test_too_few_items(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace(
        "platform.yaml", "  cpus:\n    - {apic_id: 0}\n    - {apic_id: 1}\n", "  cpus: []\n", at="[]"
    )
    assert spec_copy.problems() == [at.msg("platform.cpus: needs at least 1 item(s), got 0")]


def test_other_schema_keywords_use_jsonschema_words() -> None:
    # the schema uses no other keyword today; a new one still reports its path
    error = next(jsonschema.Draft202012Validator({"const": 1}).iter_errors(2))
    sink: list = []
    marks = Marks("f.yaml", values={(): (3, 4)})
    _report_schema_error(error, _Ctx(marks, sink))
    assert [str(p) for p in sink] == ["f.yaml:3:4: (document): 1 was expected"]


# --------------------------------------------------------------------------- expressions and bits


def test_bits_msb_below_lsb(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", '{name: TPR, bits: "7:0"', '{name: TPR, bits: "0:7"', at='"0:7"')
    reg = spec_copy.reg("lapic.yaml", "TPR")
    assert spec_copy.problems() == [
        at.msg(f"""{reg}.fields[0].bits: bits '0:7' put the msb below the lsb; write "7:0\"""")
    ]


def test_expression_does_not_parse(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "reset: lvt_count - 1", "reset: lvt_count -", at="lvt_count")
    reg = spec_copy.reg("lapic.yaml", "VERSION")
    assert spec_copy.problems() == [at.msg(f"{reg}.fields[1].reset: cannot read the expression 'lvt_count -'")]


def test_expression_unknown_parameter(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "reset: lvt_count - 1", "reset: lvt_cnt - 1", at="lvt_cnt")
    reg = spec_copy.reg("lapic.yaml", "VERSION")
    assert spec_copy.problems() == [
        at.msg(f"{reg}.fields[1].reset: unknown parameter 'lvt_cnt' in 'lvt_cnt - 1' (did you mean 'lvt_count'?)")
    ]


def test_expression_unknown_parameter_without_a_close_match(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace(
        "hpet.yaml",
        "count: timers\n      stride: 0x20\n      width: 64\n      description: Timer n configuration",
        "count: comparators\n      stride: 0x20\n      width: 64\n      description: Timer n configuration",
        at="comparators",
    )
    reg = spec_copy.reg("hpet.yaml", "TIMER_CONF")
    assert spec_copy.problems() == [at.msg(f"{reg}.count: unknown parameter 'comparators' in 'comparators'")]


def test_expression_unsupported_operator(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "reset: lvt_count - 1", "reset: lvt_count ** 2", at="lvt_count")
    reg = spec_copy.reg("lapic.yaml", "VERSION")
    assert spec_copy.problems() == [
        at.msg(
            f"{reg}.fields[1].reset: 'lvt_count ** 2' is not an expression irqforge can evaluate "
            "(use + - * << >> | & and params)"
        )
    ]


def test_expression_shift_out_of_range(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "reset: lvt_count - 1", "reset: 1 << 300", at="1 << 300")
    reg = spec_copy.reg("lapic.yaml", "VERSION")
    assert spec_copy.problems() == [at.msg(f"{reg}.fields[1].reset: shift by 300 in '1 << 300' is outside 0..64")]


# --------------------------------------------------------------------------- duplicate names


def test_duplicate_register_name(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("lapic.yaml", "APR")
    first = spec_copy.line("lapic.yaml", "name: TPR\n")
    at = spec_copy.replace("lapic.yaml", "name: APR\n", "name: TPR\n", at="TPR")
    assert spec_copy.problems() == [
        at.msg(f"{reg}.name: duplicate register name 'TPR' (first defined on line {first})")
    ]


def test_duplicate_field_name(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("lapic.yaml", "SVR")
    first = spec_copy.line("lapic.yaml", "{name: ENABLE, bits")
    at = spec_copy.replace("lapic.yaml", "{name: FOCUS_DISABLE,", "{name: ENABLE,", at="ENABLE")
    assert spec_copy.problems() == [
        at.msg(f"{reg}.fields[2].name: duplicate field name 'ENABLE' (first defined on line {first})")
    ]


def test_duplicate_enumerated_value_name(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("hpet.yaml", "TIMER_CONF")
    at = spec_copy.replace("hpet.yaml", "{name: LEVEL, value: 1}", "{name: EDGE, value: 1}", at="EDGE")
    first = spec_copy.line("hpet.yaml", "{name: EDGE, value: 0}")
    assert spec_copy.problems() == [
        at.msg(
            f"{reg}.fields[0].values[1].name: duplicate enumerated value name 'EDGE' (first defined on line {first})"
        )
    ]


def test_duplicate_vector_name(spec_copy: SpecCopy) -> None:
    i = spec_copy.index("vectors.yaml", "vectors.entries", "OF")
    first = spec_copy.line("vectors.yaml", "name: BP,")
    at = spec_copy.replace("vectors.yaml", "name: OF,", "name: BP,", at="BP")
    assert spec_copy.problems() == [
        at.msg(f"vectors.entries[{i}].name: duplicate vector name 'BP' (first defined on line {first})")
    ]


def test_duplicate_vector_range_name(spec_copy: SpecCopy) -> None:
    i = spec_copy.index("vectors.yaml", "vectors.ranges", "DEVICE_HIGH")
    at = spec_copy.replace("vectors.yaml", "{name: DEVICE_HIGH,", "{name: DEVICE,", at="DEVICE")
    first = spec_copy.line("vectors.yaml", "{name: DEVICE, first: 0x40")
    assert spec_copy.problems() == [
        at.msg(f"vectors.ranges[{i}].name: duplicate vector name 'DEVICE' (first defined on line {first})")
    ]


def test_duplicate_gate_field_name(spec_copy: SpecCopy) -> None:
    i = spec_copy.index("idt.yaml", "idt.layouts.0.fields", "reserved")
    first = spec_copy.line("idt.yaml", "{name: zero", after="name: gate64")
    at = spec_copy.replace("idt.yaml", '{name: reserved, bits: "127:96"', '{name: zero, bits: "127:96"', at="zero")
    assert spec_copy.problems() == [
        at.msg(f"idt.layouts[0].fields[{i}].name: duplicate gate field name 'zero' (first defined on line {first})")
    ]


# --------------------------------------------------------------------------- fields


def test_field_outside_register(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", '{name: TPR, bits: "7:0"', '{name: TPR, bits: "39:32"', at='"39:32"')
    reg = spec_copy.reg("lapic.yaml", "TPR")
    assert spec_copy.problems() == [
        at.msg(f"{reg}.fields[0].bits: field TPR.TPR bits '39:32' lie outside the 32-bit register")
    ]


def test_field_overlap(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", '{name: ENABLE, bits: "8"', '{name: ENABLE, bits: "7"', at='"7"')
    reg = spec_copy.reg("lapic.yaml", "SVR")
    first = spec_copy.line("lapic.yaml", '{name: VECTOR, bits: "7:0", access: rw, reset: 0xFF')
    assert spec_copy.problems() == [
        at.msg(f"{reg}.fields[1].bits: field SVR.ENABLE bits '7' overlap field SVR.VECTOR (line {first})")
    ]


def test_field_writable_in_read_only_register(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace(
        "lapic.yaml",
        '{name: VERSION, bits: "7:0", reset: version,',
        '{name: VERSION, bits: "7:0", access: rw, reset: version,',
        at="rw",
    )
    reg = spec_copy.reg("lapic.yaml", "VERSION")
    assert spec_copy.problems() == [
        at.msg(f"{reg}.fields[0].access: field VERSION.VERSION access 'rw' takes writes, but register VERSION is 'ro'")
    ]


def test_field_reset_does_not_fit(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "reset: 0xF\n", "reset: 0x1F\n", at="0x1F")
    reg = spec_copy.reg("lapic.yaml", "DFR")
    assert spec_copy.problems() == [at.msg(f"{reg}.fields[0].reset: field DFR.MODEL reset 0x1F does not fit 4 bit(s)")]


def test_field_reset_disagrees_with_register_reset(spec_copy: SpecCopy) -> None:
    spec_copy.insert_after(
        "lapic.yaml", "      description: Destination format; bits 27:0 always read 1.\n", "      reset: 0xEFFFFFFF\n"
    )
    at = spec_copy.pos("lapic.yaml", "0xF\n", after="name: MODEL")
    reg = spec_copy.reg("lapic.yaml", "DFR")
    assert spec_copy.problems() == [
        at.msg(
            f"{reg}.fields[0].reset: field DFR.MODEL reset 0xf disagrees with the register reset 0xefffffff, "
            "which gives 0xe for bits '31:28'"
        )
    ]


def test_enumerated_value_does_not_fit(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "{name: FLAT, value: 0xF,", "{name: FLAT, value: 0x1F,", at="0x1F")
    reg = spec_copy.reg("lapic.yaml", "DFR")
    assert spec_copy.problems() == [
        at.msg(f"{reg}.fields[0].values[1].value: field DFR.MODEL: enumerated value FLAT = 0x1F does not fit 4 bit(s)")
    ]


def test_enumerated_value_used_twice(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "{name: FLAT, value: 0xF,", "{name: FLAT, value: 0x0,", at="0x0")
    reg = spec_copy.reg("lapic.yaml", "DFR")
    first = spec_copy.line("lapic.yaml", "{name: CLUSTER, value: 0x0,")
    assert spec_copy.problems() == [
        at.msg(
            f"{reg}.fields[0].values[1].value: field DFR.MODEL: enumerated value FLAT = 0x0 is the same value "
            f"as CLUSTER (line {first})"
        )
    ]


# --------------------------------------------------------------------------- registers


def test_register_overlap(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("lapic.yaml", "APR")
    first = spec_copy.line("lapic.yaml", "offset: 0x080")
    at = spec_copy.replace("lapic.yaml", "offset: 0x090", "offset: 0x080", at="0x080")
    assert spec_copy.problems() == [
        at.msg(f"{reg}.offset: register APR at offset 0x80 overlaps register TPR at offset 0x80 (line {first})")
    ]


def test_register_array_overlap(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("lapic.yaml", "IRR")
    at = spec_copy.replace("lapic.yaml", "offset: 0x200", "offset: 0x1F0", at="0x1F0")
    first = spec_copy.line("lapic.yaml", "offset: 0x180")
    assert spec_copy.problems() == [
        at.msg(f"{reg}.offset: register IRR0 at offset 0x1f0 overlaps register TMR7 at offset 0x1f0 (line {first})")
    ]


def test_window_register_overlap(spec_copy: SpecCopy) -> None:
    i = spec_copy.index("ioapic.yaml", "device.windows.0.registers", "IOAPICARB")
    at = spec_copy.replace("ioapic.yaml", "index: 0x02", "index: 0x01", at="0x01")
    first = spec_copy.line("ioapic.yaml", "index: 0x01\n          access: ro\n          description: IO-APIC version")
    assert spec_copy.problems() == [
        at.msg(
            f"device.windows[0].registers[{i}].index: register IOAPICARB at index 0x1 overlaps register IOAPICVER "
            f"at index 0x1 (line {first})"
        )
    ]


def test_register_misaligned(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("lapic.yaml", "APR")
    at = spec_copy.replace("lapic.yaml", "offset: 0x090", "offset: 0x092", at="0x092")
    assert spec_copy.problems() == [at.msg(f"{reg}.offset: register APR offset 0x092 is not 4-byte aligned")]


def test_register_outside_device(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("lapic.yaml", "TDCR")
    at = spec_copy.replace("lapic.yaml", "offset: 0x3E0", "offset: 0xFFE0", at="0xFFE0")
    assert spec_copy.problems() == [
        at.msg(f"{reg}.offset: register TDCR at offset 0xffe0 (ends 0xffe4) lies outside the device (size 0x1000)")
    ]


def test_register_outside_window(spec_copy: SpecCopy) -> None:
    i = spec_copy.index("ioapic.yaml", "device.windows.0.registers", "REDTBL")
    at = spec_copy.replace("ioapic.yaml", "index: 0x10", "index: 0xF0", at="0xF0")
    assert spec_copy.problems() == [
        at.msg(
            f"device.windows[0].registers[{i}].index: register REDTBL at index 0xf0 (ends 0x120) lies outside "
            "the 256-entry window (size 0x100)"
        )
    ]


def test_register_count_below_one(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("lapic.yaml", "ISR")
    spec_copy.replace("lapic.yaml", "offset: 0x100\n      count: 8", "offset: 0x100\n      count: 0")
    at = spec_copy.pos("lapic.yaml", "0", after="offset: 0x100\n      count: ")
    assert spec_copy.problems() == [at.msg(f"{reg}.count: register ISR count 0 must be 1..1024")]


def test_register_count_expression_below_one(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("hpet.yaml", "TIMER_CMP")
    at = spec_copy.replace(
        "hpet.yaml", "offset: 0x108\n      count: timers", "offset: 0x108\n      count: timers - 3", at="timers - 3"
    )
    assert spec_copy.problems() == [
        at.msg(f"{reg}.count: register TIMER_CMP count 'timers - 3' = 0 must be 1..1024")
    ]


def test_register_stride_too_small(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("lapic.yaml", "ISR")
    at = spec_copy.replace(
        "lapic.yaml",
        "offset: 0x100\n      count: 8\n      stride: 0x10",
        "offset: 0x100\n      count: 8\n      stride: 0x2",
        at="0x2",
    )
    assert spec_copy.problems() == [
        at.msg(f"{reg}.stride: register ISR stride 0x2 is smaller than the register (4 bytes)")
    ]


def test_register_stride_misaligns_instances(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("hpet.yaml", "TIMER_CMP")
    spec_copy.replace(
        "hpet.yaml",
        "offset: 0x108\n      count: timers\n      stride: 0x20",
        "offset: 0x108\n      count: timers\n      stride: 0x24",
    )
    at = spec_copy.pos("hpet.yaml", "0x24")
    assert spec_copy.problems() == [
        at.msg(
            f"{reg}.stride: register TIMER_CMP stride 0x24 is not a multiple of 8 bytes, "
            "so the instances after the first are misaligned"
        )
    ]


def test_window_register_stride_too_small(spec_copy: SpecCopy) -> None:
    i = spec_copy.index("ioapic.yaml", "device.windows.0.registers", "REDTBL")
    at = spec_copy.replace("ioapic.yaml", "stride: 2", "stride: 1", at="1")
    assert spec_copy.problems() == [
        at.msg(
            f"device.windows[0].registers[{i}].stride: register REDTBL stride 1 is smaller than the register "
            "(2 indices)"
        )
    ]


def test_register_reset_does_not_fit(spec_copy: SpecCopy) -> None:
    reg = spec_copy.reg("lapic.yaml", "EOI")
    at = spec_copy.insert_after("lapic.yaml", "    - name: EOI\n", "      reset: 0x1FFFFFFFF\n", at="0x1FFFFFFFF")
    assert spec_copy.problems() == [at.msg(f"{reg}.reset: register EOI reset 0x1FFFFFFFF does not fit 32 bits")]


def test_register_array_instance_name_taken(spec_copy: SpecCopy) -> None:
    spec_copy.replace("lapic.yaml", "name: APR\n", "name: ISR3\n")
    reg = spec_copy.reg("lapic.yaml", "ISR")
    at = spec_copy.pos("lapic.yaml", "ISR\n", after="name: ISR3\n")
    assert spec_copy.problems() == [
        at.msg(f"{reg}.name: register ISR makes the name 'ISR3', which register ISR3 already uses")
    ]


# --------------------------------------------------------------------------- devices


def test_device_name_mismatch(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("hpet.yaml", "  name: hpet\n", "  name: ioapic\n", at="ioapic")
    assert spec_copy.problems() == [at.msg("device.name: 'ioapic', but this file describes the 'hpet' device")]


def test_device_parameter_missing(spec_copy: SpecCopy) -> None:
    spec_copy.replace("lapic.yaml", "    lvt_count: 6 ", "    lvt_kount: 6 ")
    at = spec_copy.pos("lapic.yaml", "version: 0x14")
    # the expression "lvt_count - 1" that uses it stays quiet: one mistake, one message
    assert spec_copy.problems() == [at.msg("device.params: the lapic needs the parameter 'lvt_count'")]


def test_device_parameter_out_of_range(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "version: 0x14", "version: 0x16", at="0x16")
    assert spec_copy.problems() == [at.msg("device.params.version: 0x16 is outside 0x10..0x15")]


def test_device_size_needs_more_address_bits(spec_copy: SpecCopy) -> None:
    spec_copy.replace("hpet.yaml", "address_width: 10", "address_width: 9")
    at = spec_copy.pos("hpet.yaml", "0x400\n  params")
    assert spec_copy.problems() == [at.msg("device.size: 0x400 does not fit address_width 9 bits")]


def test_window_select_not_defined(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("ioapic.yaml", "select: IOREGSEL", "select: IOREGSL", at="IOREGSL")
    assert spec_copy.problems() == [
        at.msg(
            "device.windows[0].select: window IOAPIC: select register 'IOREGSL' is not defined "
            "(did you mean 'IOREGSEL'?)"
        )
    ]


def test_window_data_not_defined(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("ioapic.yaml", "data: IOWIN", "data: DATA", at="DATA")
    assert spec_copy.problems() == [
        at.msg("device.windows[0].data: window IOAPIC: data register 'DATA' is not defined")
    ]


# --------------------------------------------------------------------------- vectors


def _entry(spec_copy: SpecCopy, name: str) -> str:
    return f"vectors.entries[{spec_copy.index('vectors.yaml', 'vectors.entries', name)}]"


def _range(spec_copy: SpecCopy, name: str) -> str:
    return f"vectors.ranges[{spec_copy.index('vectors.yaml', 'vectors.ranges', name)}]"


def test_vector_outside_0_255(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("vectors.yaml", "number: 0x80,", "number: 0x100,", at="0x100")
    e = _entry(spec_copy, "IA32_SYSCALL_VECTOR")
    assert spec_copy.problems() == [at.msg(f"{e}.number: vector 0x100 of IA32_SYSCALL_VECTOR is outside 0..0xff")]


def test_vector_collision(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("vectors.yaml", "number: 0xEC,", "number: 0xEB,", at="0xEB")
    e = _entry(spec_copy, "LOCAL_TIMER_VECTOR")
    first = spec_copy.line("vectors.yaml", "POSTED_MSI_NOTIFICATION_VECTOR")
    assert spec_copy.problems() == [
        at.msg(
            f"{e}.number: vector 0xEB of LOCAL_TIMER_VECTOR collides with POSTED_MSI_NOTIFICATION_VECTOR (line {first})"
        )
    ]


def test_vector_range_collision_at_last(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("vectors.yaml", "first: 0x40, last: 0x7F", "first: 0x40, last: 0x80", at="0x80")
    r = _range(spec_copy, "DEVICE")
    first = spec_copy.line("vectors.yaml", "IA32_SYSCALL_VECTOR")
    assert spec_copy.problems() == [
        at.msg(f"{r}.last: vector 0x80 of range DEVICE collides with IA32_SYSCALL_VECTOR (line {first})")
    ]


def test_vector_range_collision_at_first(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("vectors.yaml", "first: 0x81, last: 0xEA", "first: 0x80, last: 0xEA", at="0x80")
    r = _range(spec_copy, "DEVICE_HIGH")
    first = spec_copy.line("vectors.yaml", "IA32_SYSCALL_VECTOR")
    assert spec_copy.problems() == [
        at.msg(f"{r}.first: vector 0x80 of range DEVICE_HIGH collides with IA32_SYSCALL_VECTOR (line {first})")
    ]


def test_vector_range_collision_inside(spec_copy: SpecCopy) -> None:
    first = spec_copy.replace("vectors.yaml", "number: 0x80,", "number: 0x90,").line
    r = _range(spec_copy, "DEVICE_HIGH")
    at = spec_copy.pos("vectors.yaml", "{name: DEVICE_HIGH")
    # neither end of the range is the culprit: the whole range is
    assert spec_copy.problems() == [
        at.msg(f"{r}: vector 0x90 of range DEVICE_HIGH collides with IA32_SYSCALL_VECTOR (line {first})")
    ]


def test_exception_vector_used_for_irq(spec_copy: SpecCopy) -> None:
    spec_copy.replace(
        "vectors.yaml",
        'name: SPURIOUS_TRAP, mnemonic: "-", kind: reserved',
        'name: SPURIOUS_TRAP, mnemonic: "-", kind: irq',
    )
    at = spec_copy.pos("vectors.yaml", "0x0F, name: SPURIOUS_TRAP")
    e = _entry(spec_copy, "SPURIOUS_TRAP")
    assert spec_copy.problems() == [
        at.msg(f"{e}.number: vector 0x0F of SPURIOUS_TRAP is an exception vector (0..0x1f) and cannot be kind 'irq'")
    ]


def test_exception_range_used_for_irq(spec_copy: SpecCopy) -> None:
    spec_copy.replace("vectors.yaml", "first: 0x1F, last: 0x1F, kind: reserved", "first: 0x1F, last: 0x1F, kind: irq")
    at = spec_copy.pos("vectors.yaml", "0x1F, last")
    r = _range(spec_copy, "RESERVED_EXCEPTION_31")
    assert spec_copy.problems() == [
        at.msg(
            f"{r}.first: range RESERVED_EXCEPTION_31 starts at 0x1f among the exception vectors (0..0x1f) "
            "and cannot be kind 'irq'"
        )
    ]


def test_exception_kind_above_0x1f(spec_copy: SpecCopy) -> None:
    spec_copy.replace(
        "vectors.yaml", "IA32_SYSCALL_VECTOR, kind: syscall,", "IA32_SYSCALL_VECTOR, kind: exception, class: trap,"
    )
    at = spec_copy.pos("vectors.yaml", "0x80, name")
    e = _entry(spec_copy, "IA32_SYSCALL_VECTOR")
    assert spec_copy.problems() == [
        at.msg(f"{e}.number: vector 0x80 of IA32_SYSCALL_VECTOR: kind 'exception' needs a vector below 0x20")
    ]


def test_exception_range_above_0x1f(spec_copy: SpecCopy) -> None:
    spec_copy.replace("vectors.yaml", "first: 0x20, last: 0x2F, kind: irq", "first: 0x20, last: 0x2F, kind: exception")
    at = spec_copy.pos("vectors.yaml", "0x2F, kind")
    r = _range(spec_copy, "EXTERNAL")
    assert spec_copy.problems() == [
        at.msg(f"{r}.last: range EXTERNAL ends at 0x2f: kind 'exception' needs vectors below 0x20")
    ]


def test_exception_needs_a_class(spec_copy: SpecCopy) -> None:
    spec_copy.replace(
        "vectors.yaml",
        "kind: exception, class: fault, description: Divide error",
        "kind: exception, description: Divide error",
    )
    at = spec_copy.pos("vectors.yaml", "{number: 0x00")
    assert spec_copy.problems() == [
        at.msg(f"{_entry(spec_copy, 'DE')}: exception DE needs a class (fault, trap, abort or interrupt)")
    ]


def test_error_code_only_for_exceptions(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace(
        "vectors.yaml",
        "IA32_SYSCALL_VECTOR, kind: syscall,",
        "IA32_SYSCALL_VECTOR, kind: syscall, error_code: true,",
        at="error_code",
    )
    e = _entry(spec_copy, "IA32_SYSCALL_VECTOR")
    assert spec_copy.problems() == [
        at.msg(f"{e}.error_code: 'error_code' applies only to exceptions, and IA32_SYSCALL_VECTOR is kind 'syscall'")
    ]


def test_vector_range_outside_0_255(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("vectors.yaml", "first: 0xF5, last: 0xF5", "first: 0xF5, last: 0x105", at="0x105")
    r = _range(spec_copy, "UNUSED_F5")
    assert spec_copy.problems() == [at.msg(f"{r}.last: last vector 0x105 of range UNUSED_F5 is outside 0..0xff")]


def test_vector_range_reversed(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("vectors.yaml", "first: 0xF5, last: 0xF5", "first: 0xF5, last: 0xF4", at="0xF4")
    r = _range(spec_copy, "UNUSED_F5")
    assert spec_copy.problems() == [at.msg(f"{r}.last: range UNUSED_F5 ends at 0xf4, below its first vector 0xf5")]


def test_no_spurious_vector(spec_copy: SpecCopy) -> None:
    spec_copy.replace("vectors.yaml", "SPURIOUS_APIC_VECTOR, kind: spurious", "SPURIOUS_APIC_VECTOR, kind: system")
    at = spec_copy.pos("vectors.yaml", "- {number: 0x00")
    assert spec_copy.problems() == [at.msg("vectors.entries: no vector of kind 'spurious' (the LAPIC's SVR needs one)")]


def test_spurious_vector_low_nibble(spec_copy: SpecCopy) -> None:
    # one mistake: the spurious and the error vector swapped numbers
    spec_copy.replace("vectors.yaml", "number: 0xFE, name: ERROR_APIC_VECTOR", "number: 0xFF, name: ERROR_APIC_VECTOR")
    at = spec_copy.replace("vectors.yaml", "number: 0xFF, name: SPURIOUS", "number: 0xFE, name: SPURIOUS", at="0xFE")
    e = _entry(spec_copy, "SPURIOUS_APIC_VECTOR")
    assert spec_copy.problems() == [at.msg(f"{e}.number: spurious vector 0xfe: its low nibble must be 0xf (e.g. 0xff)")]


def test_two_spurious_vectors(spec_copy: SpecCopy) -> None:
    spec_copy.replace(
        "vectors.yaml", "MANAGED_IRQ_SHUTDOWN_VECTOR, kind: system", "MANAGED_IRQ_SHUTDOWN_VECTOR, kind: spurious"
    )
    first = spec_copy.line("vectors.yaml", "MANAGED_IRQ_SHUTDOWN_VECTOR")
    at = spec_copy.pos("vectors.yaml", "0xFF, name: SPURIOUS")
    e = _entry(spec_copy, "SPURIOUS_APIC_VECTOR")
    assert spec_copy.problems() == [at.msg(f"{e}.number: spurious vector 0xff: there is already one (line {first})")]


# --------------------------------------------------------------------------- IDT


def _layout_block(spec_copy: SpecCopy, name: str, next_name: str | None) -> str:
    text = spec_copy.text("idt.yaml")
    start = text.index(f"    - name: {name}\n")
    end = text.index(f"    - name: {next_name}\n") if next_name else len(text)
    return text[start:end]


def test_idt_duplicate_layout_mode(spec_copy: SpecCopy) -> None:
    gate64 = _layout_block(spec_copy, "gate64", "gate32")
    first = spec_copy.line("idt.yaml", "mode: 64")
    spec_copy.insert_after("idt.yaml", gate64, gate64.replace("name: gate64", "name: gate64b"))
    at = spec_copy.pos("idt.yaml", "64\n", after="name: gate64b")
    assert spec_copy.problems() == [
        at.msg(f"idt.layouts[1].mode: layout gate64b: there is already a 64-bit layout (line {first})")
    ]


def test_idt_no_64_bit_layout(spec_copy: SpecCopy) -> None:
    spec_copy.replace("idt.yaml", _layout_block(spec_copy, "gate64", "gate32"), "")
    at = spec_copy.pos("idt.yaml", "- name: gate32")
    assert spec_copy.problems() == [at.msg("idt.layouts: a 64-bit (mode: 64) gate layout is required")]


def test_idt_layout_size_for_mode(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("idt.yaml", "mode: 32\n      size: 8", "mode: 32\n      size: 16", at="16")
    assert spec_copy.problems() == [at.msg("idt.layouts[1].size: layout gate32: 32-bit gates are 8 bytes, not 16")]


def test_idt_gate_field_outside_gate(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace(
        "idt.yaml", '{name: offset_high, bits: "63:48"', '{name: offset_high, bits: "71:64"', at='"71:64"'
    )
    j = spec_copy.index("idt.yaml", "idt.layouts.1.fields", "offset_high")
    assert spec_copy.problems() == [
        at.msg(f"idt.layouts[1].fields[{j}].bits: gate field offset_high bits '71:64' lie outside the 8-byte gate")
    ]


def test_idt_gate_field_overlap(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("idt.yaml", '{name: zero, bits: "39:35"', '{name: zero, bits: "39:34"', at='"39:34"')
    j = spec_copy.index("idt.yaml", "idt.layouts.0.fields", "zero")
    first = spec_copy.line("idt.yaml", '{name: ist, bits: "34:32"')
    assert spec_copy.problems() == [
        at.msg(f"idt.layouts[0].fields[{j}].bits: gate field zero bits '39:34' overlap gate field ist (line {first})")
    ]


def test_idt_gate_field_missing(spec_copy: SpecCopy) -> None:
    spec_copy.replace(
        "idt.yaml",
        '        - {name: dpl, bits: "46:45", description: Descriptor privilege level for software INT n}\n',
        "",
    )
    at = spec_copy.pos("idt.yaml", "- {name: offset_low", after="name: gate64")
    assert spec_copy.problems() == [at.msg("idt.layouts[0].fields: layout gate64 has no gate field 'dpl'")]


def test_idt_offset_part_not_a_field(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace(
        "idt.yaml", "[offset_low, offset_middle, offset_high]", "[offset_low, offset_mid, offset_high]", at="offset_mid"
    )
    assert spec_copy.problems() == [
        at.msg("idt.layouts[0].offset_parts[1]: offset part 'offset_mid' is not a gate field of layout gate64")
    ]


def test_idt_offset_parts_too_narrow(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("idt.yaml", "[offset_low, offset_middle, offset_high]", "[offset_low, offset_middle]")
    assert spec_copy.problems() == [
        at.msg("idt.layouts[0].offset_parts: the offset parts of layout gate64 hold 32 bits; a 64-bit gate needs 64")
    ]


def test_idt_type_field_too_narrow(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace(
        "idt.yaml",
        '{name: type, bits: "44:40", description: "Gate type including S = 0"}',
        '{name: type, bits: "42:40", description: "Gate type including S = 0"}',
        at='"42:40"',
    )
    assert spec_copy.problems() == [
        at.msg(
            "idt.layouts[1].fields[3].bits: the 3-bit type field of layout gate32 cannot hold gate type interrupt = 0xe"
        )
    ]


def test_idt_gate_types_equal(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("idt.yaml", "trap: 0xF ", "trap: 0xE ", at="0xE")
    assert spec_copy.problems() == [
        at.msg("idt.gate_types.trap: gate type trap = 0xe is the same value as gate type interrupt")
    ]


# --------------------------------------------------------------------------- platform


def test_apic_id_broadcast(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "{apic_id: 1}", "{apic_id: 0xFF}", at="0xFF")
    assert spec_copy.problems() == [
        at.msg("platform.cpus[1].apic_id: APIC ID 0xFF of cpu 1 is not a unicast xAPIC ID (0..0xfe; 0xff broadcasts)")
    ]


def test_apic_id_duplicate(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "{apic_id: 1}", "{apic_id: 0}", at="0")
    assert spec_copy.problems() == [at.msg("platform.cpus[1].apic_id: APIC ID 0 of cpu 1 is already used by cpu 0")]


def test_address_map_overlap(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "hpet: {base: 0xFED00000", "hpet: {base: 0xFEC00000", at="0xFEC00000")
    assert spec_copy.problems() == [
        at.msg(
            "platform.address_map.hpet.base: hpet window at 0xfec00000 overlaps the ioapic window "
            "0xfec00000..0xfec00fff"
        )
    ]


def test_address_map_beyond_4g(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "lapic: {base: 0xFEE00000", "lapic: {base: 0x1FEE00000", at="0x1FEE00000")
    assert spec_copy.problems() == [
        at.msg("platform.address_map.lapic.base: lapic window 0x1fee00000 + 0x1000 exceeds the 32-bit address space")
    ]


def test_address_map_size_not_power_of_two(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace(
        "platform.yaml", "hpet: {base: 0xFED00000, size: 0x400}", "hpet: {base: 0xFED00000, size: 0x500}", at="0x500"
    )
    assert spec_copy.problems() == [
        at.msg("platform.address_map.hpet.size: hpet window size 0x500 is not a power of two")
    ]


def test_address_map_misaligned_window(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "hpet: {base: 0xFED00000", "hpet: {base: 0xFED00200", at="0xFED00200")
    assert spec_copy.problems() == [
        at.msg("platform.address_map.hpet.base: hpet window base 0xfed00200 is not aligned to its size 0x400")
    ]


def test_isa_override_out_of_range(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "{isa_irq: 0, pin: 2}", "{isa_irq: 16, pin: 2}", at="16")
    assert spec_copy.problems() == [at.msg("platform.irq_wiring.isa_overrides[0].isa_irq: ISA IRQ 16 is outside 0..15")]


def test_isa_override_twice(spec_copy: SpecCopy) -> None:
    at = spec_copy.insert_after("platform.yaml", "legacy timer 0\n", "      - {isa_irq: 0, pin: 3}\n", at="0")
    first = spec_copy.line("platform.yaml", "{isa_irq: 0, pin: 2}")
    assert spec_copy.problems() == [
        at.msg(f"platform.irq_wiring.isa_overrides[1].isa_irq: ISA IRQ 0 is already routed (line {first})")
    ]


# --------------------------------------------------------------------------- across files


def test_vector_beyond_the_idt(spec_copy: SpecCopy) -> None:
    spec_copy.replace("idt.yaml", "entries: 256", "entries: 0xF5")
    spurious = spec_copy.pos("vectors.yaml", "0xFF, name: SPURIOUS_APIC_VECTOR")
    unused = spec_copy.pos("vectors.yaml", "0xF5, kind: reserved")
    problems = spec_copy.problems()
    # every named vector from 0xF5 up, and the one range there
    assert spurious.msg(
        "vectors.entries[45].number: vector SPURIOUS_APIC_VECTOR = 0xff has no gate: the IDT has 245 entries (idt.yaml)"
    ) in problems
    assert unused.msg(
        "vectors.ranges[6].last: range UNUSED_F5 ends at 0xf5, beyond the IDT's 245 entries (idt.yaml)"
    ) in problems
    high = [e for e in spec_copy.data("vectors.yaml")["vectors"]["entries"] if e["number"] >= 0xF5]
    assert len(problems) == len(high) + 1
    assert all("has no gate" in p or "beyond the IDT" in p for p in problems)


def test_hpet_period_disagrees_with_platform_clock(spec_copy: SpecCopy) -> None:
    spec_copy.replace("platform.yaml", "clock_hz: 10000000", "clock_hz: 5000000")
    at = spec_copy.pos("hpet.yaml", "100000000 ")
    assert spec_copy.problems() == [
        at.msg(
            "device.params.period_fs: 100000000 fs per tick means 10000000 Hz, but the HPET counts the platform "
            "clock, clock_hz 5000000 (platform.yaml); set period_fs to 200000000"
        )
    ]


def test_hpet_period_rounds_to_the_nearest_femtosecond(spec_copy: SpecCopy) -> None:
    # 14.31818 MHz, the PC's classic HPET clock: 69841279.4 fs, written 69841279
    spec_copy.replace("platform.yaml", "clock_hz: 10000000", "clock_hz: 14318180")
    spec_copy.replace("hpet.yaml", "period_fs: 100000000 ", "period_fs: 69841279 ")
    assert spec_copy.load().hpet.param("period_fs") == 69841279


def test_isa_override_pin_beyond_ioapic(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "{isa_irq: 0, pin: 2}", "{isa_irq: 0, pin: 24}", at="24")
    assert spec_copy.problems() == [
        at.msg(
            "platform.irq_wiring.isa_overrides[0].pin: ISA IRQ 0 goes to pin 24, "
            "but the IO-APIC has 24 pins (ioapic.yaml)"
        )
    ]


def test_hpet_legacy_pin_beyond_ioapic(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("platform.yaml", "timer1: 8", "timer1: 30", at="30")
    assert spec_copy.problems() == [
        at.msg(
            "platform.irq_wiring.hpet_legacy.timer1: HPET timer1 goes to pin 30, "
            "but the IO-APIC has 24 pins (ioapic.yaml)"
        )
    ]


def test_address_window_smaller_than_device(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace(
        "platform.yaml", "lapic: {base: 0xFEE00000, size: 0x1000}", "lapic: {base: 0xFEE00000, size: 0x800}", at="0x800"
    )
    assert spec_copy.problems() == [
        at.msg(
            "platform.address_map.lapic.size: lapic window size 0x800 is smaller than the lapic register page "
            "0x1000 (lapic.yaml)"
        )
    ]
