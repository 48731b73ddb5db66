"""Every numeric rule of the validator at its boundary: the legal extreme and
the first illegal value, each its own test.

A rule with only a mid-range example survives an off-by-one (``>=`` written
as ``>``); here each rule has the value right at the limit, which must load
(or at least not draw that rule's message, when another rule forbids the
value too), and the value one past it, which must draw the rule's message.
The limits are written as literals from the documents (xAPIC IDs 0..0xfe,
exception vectors 0..0x1f, ISA IRQs 0..15, the HPET's 100 ns, a 32-bit
address space …), never read from :mod:`irqforge.spec.build`.

Each case edits a fresh copy of the default specs as text (``specedit``).
The legal extreme of a rule that the default specs already sit on (vector
0xff, the IDT's 256 entries, the LAPIC window of exactly 0x1000 …) is the
default itself, loaded by every other test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from specedit import SpecCopy

from irqforge.spec import SpecError

LAPIC, IOAPIC, HPET = "lapic.yaml", "ioapic.yaml", "hpet.yaml"
VECTORS, IDT, PLATFORM = "vectors.yaml", "idt.yaml", "platform.yaml"

SX = '{number: 0x1E, name: SX, mnemonic: "#SX", kind: exception, class: fault, error_code: true, '
EXC31 = (
    "    - {name: RESERVED_EXCEPTION_31, first: 0x1F, last: 0x1F, kind: reserved, "
    "description: Reserved exception vector}\n"
)
EXTERNAL = "{name: EXTERNAL, first: 0x20,"


@dataclass(frozen=True)
class Case:
    """Edits to one file; ``rule`` is a regex over the problem messages."""

    id: str
    file: str
    edits: tuple[tuple[str, str], ...]
    rule: str
    legal: bool
    clean: bool = False
    """For a legal case: the whole spec loads (no other rule objects either)."""


def ok(
    id: str, file: str, edits: tuple[tuple[str, str], ...] | tuple[str, str], rule: str, *, clean: bool = True
) -> Case:
    return Case(id, file, edits if isinstance(edits[0], tuple) else (edits,), rule, True, clean)  # type: ignore[arg-type]


def bad(id: str, file: str, edits: tuple[tuple[str, str], ...] | tuple[str, str], rule: str) -> Case:
    return Case(id, file, edits if isinstance(edits[0], tuple) else (edits,), rule, False)  # type: ignore[arg-type]


def _param(name: str, value: str) -> str:
    return rf"device\.params\.{name}: {value} is outside"


CASES = [
    # ------------------------------------------------------------------ device parameters
    # LAPIC version: integrated APICs are 0x10..0x15 (SDM §11.4.8; kvm-unit-tests test_lapic_existence)
    ok("lapic-version-0x10", LAPIC, ("version: 0x14", "version: 0x10"), _param("version", ".*")),
    bad("lapic-version-0xf", LAPIC, ("version: 0x14", "version: 0x0F"), _param("version", "0x0F")),
    ok("lapic-version-0x15", LAPIC, ("version: 0x14", "version: 0x15"), _param("version", ".*")),
    bad("lapic-version-0x16", LAPIC, ("version: 0x14", "version: 0x16"), _param("version", "0x16")),
    # LVT count: at least timer, LINT0, LINT1; at most 7 (with CMCI)
    ok("lapic-lvt-count-3", LAPIC, ("lvt_count: 6", "lvt_count: 3"), _param("lvt_count", ".*")),
    bad("lapic-lvt-count-2", LAPIC, ("lvt_count: 6", "lvt_count: 2"), _param("lvt_count", "2")),
    ok("lapic-lvt-count-7", LAPIC, ("lvt_count: 6", "lvt_count: 7"), _param("lvt_count", ".*")),
    bad("lapic-lvt-count-8", LAPIC, ("lvt_count: 6", "lvt_count: 8"), _param("lvt_count", "8")),
    # IO-APIC pins: 1..240 as a parameter …
    ok("ioapic-pins-1", IOAPIC, ("pins: 24", "pins: 1"), _param("pins", ".*"), clean=False),
    bad("ioapic-pins-0", IOAPIC, ("pins: 24", "pins: 0"), _param("pins", "0")),
    ok("ioapic-pins-240", IOAPIC, ("pins: 24", "pins: 240"), _param("pins", ".*"), clean=False),
    bad("ioapic-pins-241", IOAPIC, ("pins: 24", "pins: 241"), _param("pins", "241")),
    # … but the 8-bit IOREGSEL reaches 256 indices: entries 0x10 + 2n, so at most 120 pins
    ok("ioapic-pins-120", IOAPIC, ("pins: 24", "pins: 120"), r"REDTBL .* lies outside"),
    bad(
        "ioapic-pins-121",
        IOAPIC,
        ("pins: 24", "pins: 121"),
        r"register REDTBL at index 0x10 \(ends 0x102\) lies outside the 256-entry window \(size 0x100\)",
    ),
    # … and HPET timer 1's legacy route is pin 8, so at least 9 pins
    ok("ioapic-pins-9", IOAPIC, ("pins: 24", "pins: 9"), r"goes to pin \d+, but the IO-APIC has"),
    bad("ioapic-pins-8", IOAPIC, ("pins: 24", "pins: 8"), r"HPET timer1 goes to pin 8, but the IO-APIC has 8 pins"),
    ok("ioapic-version-0x01", IOAPIC, ("version: 0x20", "version: 0x01"), _param("version", ".*")),
    bad("ioapic-version-0x00", IOAPIC, ("version: 0x20", "version: 0x00"), _param("version", "0x00")),
    ok("ioapic-version-0xff", IOAPIC, ("version: 0x20", "version: 0xFF"), _param("version", ".*")),
    bad("ioapic-version-0x100", IOAPIC, ("version: 0x20", "version: 0x100"), _param("version", "0x100")),
    # HPET timers: NUM_TIM_CAP is 5 bits, 1..32 timers (HPET 1.0a §2.3.4) …
    ok("hpet-timers-1", HPET, ("timers: 3", "timers: 1"), _param("timers", ".*")),
    bad("hpet-timers-0", HPET, ("timers: 3", "timers: 0"), _param("timers", "0")),
    ok("hpet-timers-32", HPET, ("timers: 3", "timers: 32"), _param("timers", ".*"), clean=False),
    bad("hpet-timers-33", HPET, ("timers: 3", "timers: 33"), _param("timers", "33")),
    # … but a 1 KiB page holds timer blocks 0x100 + 0x20 n up to n = 23
    ok("hpet-timers-24", HPET, ("timers: 3", "timers: 24"), r"TIMER_\w+ .* lies outside"),
    bad(
        "hpet-timers-25",
        HPET,
        ("timers: 3", "timers: 25"),
        r"register TIMER_CONF at offset 0x100 \(ends 0x408\) lies outside the device \(size 0x400\)",
    ),
    # COUNTER_CLK_PERIOD: > 0 and at most 0x05F5E100 fs = 100 ns (HPET 1.0a §2.3.4)
    ok("hpet-period-1", HPET, ("period_fs: 100000000", "period_fs: 1"), _param("period_fs", ".*"), clean=False),
    bad("hpet-period-0", HPET, ("period_fs: 100000000", "period_fs: 0"), _param("period_fs", "0")),
    bad(
        "hpet-period-too-slow", HPET, ("period_fs: 100000000", "period_fs: 100000001"), _param("period_fs", "100000001")
    ),
    # the period must be the platform clock's exactly (10 MHz: 10^8 fs)
    bad(
        "hpet-period-off-by-one",
        HPET,
        ("period_fs: 100000000", "period_fs: 99999999"),
        r"99999999 fs per tick means .* but the HPET counts the platform clock, clock_hz 10000000",
    ),
    # ------------------------------------------------------------------ device size and address width
    bad(
        "hpet-size-over-address-width",
        HPET,
        ("size: 0x400", "size: 0x401"),
        r"device\.size: 0x401 does not fit address_width 10 bits",
    ),
    ok("hpet-address-width-32", HPET, ("address_width: 10", "address_width: 32"), r"address_width.*maximum"),
    bad(
        "hpet-address-width-33",
        HPET,
        ("address_width: 10", "address_width: 33"),
        r"device\.address_width: 33 is above the maximum 32",
    ),
    ok("hpet-address-width-2", HPET, ("address_width: 10", "address_width: 2"), r"address_width.*minimum", clean=False),
    bad(
        "hpet-address-width-1",
        HPET,
        ("address_width: 10", "address_width: 1"),
        r"device\.address_width: 1 is below the minimum 2",
    ),
    ok("hpet-size-4", HPET, ("size: 0x400", "size: 4"), r"device\.size: .* minimum", clean=False),
    bad("hpet-size-3", HPET, ("size: 0x400", "size: 3"), r"device\.size: 3 is below the minimum 4"),
    # ------------------------------------------------------------------ fields
    bad(
        "field-beyond-32-bits",
        LAPIC,
        ('{name: COUNT, bits: "31:0", access: rw', '{name: COUNT, bits: "32:0", access: rw'),
        r"field TMICT\.COUNT bits '32:0' lie outside the 32-bit register",
    ),
    bad(
        "field-beyond-64-bits",
        HPET,
        ('{name: COUNTER, bits: "63:0"', '{name: COUNTER, bits: "64:0"'),
        r"field MAIN_CNT\.COUNTER bits '64:0' lie outside the 64-bit register",
    ),
    ok("field-msb-equals-lsb", LAPIC, ('{name: ENABLE, bits: "8"', '{name: ENABLE, bits: "8:8"'), r"msb below"),
    bad(
        "field-msb-below-lsb",
        LAPIC,
        ('{name: ENABLE, bits: "8"', '{name: ENABLE, bits: "7:8"'),
        r"bits '7:8' put the msb below the lsb",
    ),
    ok("field-reset-fills-the-field", LAPIC, ("access: rw, reset: 0xFF", "access: rw, reset: 0xFF"), r"does not fit"),
    bad(
        "field-reset-one-too-big",
        LAPIC,
        ("access: rw, reset: 0xFF", "access: rw, reset: 0x100"),
        r"field SVR\.VECTOR reset 0x100 does not fit 8 bit\(s\)",
    ),
    ok("field-reset-0", LAPIC, ("access: rw, reset: 0xFF", "access: rw, reset: 0"), r"does not fit"),
    bad(
        "field-reset-negative",
        LAPIC,
        ("access: rw, reset: 0xFF", "access: rw, reset: -1"),
        r"field SVR\.VECTOR reset -1 does not fit 8 bit\(s\)",
    ),
    ok(
        "register-reset-fills-32-bits",
        LAPIC,
        ("offset: 0x380\n", "offset: 0x380\n      reset: 0xFFFFFFFF\n"),
        r"does not fit",
    ),
    bad(
        "register-reset-33-bits",
        LAPIC,
        ("offset: 0x380\n", "offset: 0x380\n      reset: 0x100000000\n"),
        r"register TMICT reset 0x100000000 does not fit 32 bits",
    ),
    ok(
        "enum-value-fills-the-field",
        LAPIC,
        ("{name: TSC_DEADLINE, value: 2}", "{name: TSC_DEADLINE, value: 3}"),
        r"does not fit",
    ),
    bad(
        "enum-value-one-too-big",
        LAPIC,
        ("{name: TSC_DEADLINE, value: 2}", "{name: TSC_DEADLINE, value: 4}"),
        r"field LVT_TIMER\.TIMER_MODE: enumerated value TSC_DEADLINE = 4 does not fit 2 bit\(s\)",
    ),
    bad(
        "enum-value-negative",
        LAPIC,
        ("{name: ONESHOT, value: 0}", "{name: ONESHOT, value: -1}"),
        r"values\[0\]\.value: -1 is below the minimum 0",
    ),
    ok("fields-adjacent", LAPIC, ('{name: FOCUS_DISABLE, bits: "9"', '{name: FOCUS_DISABLE, bits: "11:9"'), r"overlap"),
    bad(
        "fields-overlapping-by-one-bit",
        LAPIC,
        ('{name: ENABLE, bits: "8"', '{name: ENABLE, bits: "8:7"'),
        r"field SVR\.ENABLE bits '8:7' overlap field SVR\.VECTOR",
    ),
    # ------------------------------------------------------------------ register placement
    ok("offset-4-aligned", LAPIC, ("offset: 0x3E0", "offset: 0x3E4"), r"aligned"),
    bad(
        "offset-2-aligned",
        LAPIC,
        ("offset: 0x3E0", "offset: 0x3E2"),
        r"register TDCR offset 0x3E2 is not 4-byte aligned",
    ),
    ok("offset-8-aligned-64-bit", HPET, ("offset: 0x020", "offset: 0x028"), r"aligned"),
    bad(
        "offset-4-aligned-64-bit",
        HPET,
        ("offset: 0x020", "offset: 0x024"),
        r"register GINTR_STA offset 0x024 is not 8-byte aligned",
    ),
    ok("register-ends-at-the-device-end", LAPIC, ("offset: 0x3E0", "offset: 0xFFC"), r"lies outside"),
    bad(
        "register-one-past-the-device",
        LAPIC,
        ("offset: 0x3E0", "offset: 0x1000"),
        r"register TDCR at offset 0x1000 \(ends 0x1004\) lies outside the device \(size 0x1000\)",
    ),
    ok("window-register-at-index-0xff", IOAPIC, ("index: 0x02", "index: 0xFF"), r"lies outside"),
    bad(
        "window-register-at-index-0x100",
        IOAPIC,
        ("index: 0x02", "index: 0x100"),
        r"register IOAPICARB at index 0x100 \(ends 0x101\) lies outside the 256-entry window",
    ),
    ok("register-just-below-the-next", LAPIC, ("offset: 0x3E0", "offset: 0x38C"), r"overlaps"),
    bad(
        "register-on-the-next",
        LAPIC,
        ("offset: 0x3E0", "offset: 0x390"),
        r"register TDCR at offset 0x390 overlaps register TMCCT at offset 0x390",
    ),
    ok("register-just-above-the-previous", LAPIC, ("offset: 0x3E0", "offset: 0x394"), r"overlaps"),
    ok("count-1", LAPIC, ("offset: 0x100\n      count: 8", "offset: 0x100\n      count: 1"), r"count"),
    bad(
        "count-0",
        LAPIC,
        ("offset: 0x100\n      count: 8", "offset: 0x100\n      count: 0"),
        r"register ISR count 0 must be 1\.\.1024",
    ),
    ok("count-expression-1", IOAPIC, ("count: pins\n", "count: pins - 23\n"), r"count"),
    bad(
        "count-expression-0",
        IOAPIC,
        ("count: pins\n", "count: pins - 24\n"),
        r"register REDTBL count 'pins - 24' = 0 must be 1\.\.1024",
    ),
    ok(
        "stride-equals-the-register",
        LAPIC,
        ("offset: 0x100\n      count: 8\n      stride: 0x10", "offset: 0x100\n      count: 8\n      stride: 4"),
        r"stride",
    ),
    bad(
        "stride-one-short",
        LAPIC,
        ("offset: 0x100\n      count: 8\n      stride: 0x10", "offset: 0x100\n      count: 8\n      stride: 3"),
        r"register ISR stride 3 is smaller than the register \(4 bytes\)",
    ),
    bad(
        "stride-not-a-multiple",
        LAPIC,
        ("offset: 0x100\n      count: 8\n      stride: 0x10", "offset: 0x100\n      count: 8\n      stride: 5"),
        r"register ISR stride 5 is not a multiple of 4 bytes",
    ),
    bad(
        "window-stride-one-short",
        IOAPIC,
        ("stride: 2", "stride: 1"),
        r"register REDTBL stride 1 is smaller than the register \(2 indices\)",
    ),
    ok(
        "shift-by-0", LAPIC, ("offset: 0x100\n      count: 8", 'offset: 0x100\n      count: "8 << 0 >> 0"'), r"shift by"
    ),
    bad(
        "shift-by-minus-1",
        LAPIC,
        ("offset: 0x100\n      count: 8", 'offset: 0x100\n      count: "8 << 1 >> -1"'),
        r"shift by -1 in .* is outside 0\.\.64",
    ),
    bad("offset-negative", LAPIC, ("offset: 0x3E0", "offset: -4"), r"offset: -4 is below the minimum 0"),
    ok(
        "shift-by-64",
        LAPIC,
        ("offset: 0x100\n      count: 8", 'offset: 0x100\n      count: "0 << 64 | 8"'),
        r"shift by",
    ),
    bad(
        "shift-by-65",
        LAPIC,
        ("offset: 0x100\n      count: 8", 'offset: 0x100\n      count: "8 << 65 >> 65"'),
        r"shift by 65 in .* is outside 0\.\.64",
    ),
    # ------------------------------------------------------------------ vectors: 0..0xff
    bad(
        "vector-0x100",
        VECTORS,
        ("{number: 0xFF, name: SPURIOUS_APIC_VECTOR", "{number: 0x100, name: SPURIOUS_APIC_VECTOR"),
        r"vector 0x100 of SPURIOUS_APIC_VECTOR is outside 0\.\.0xff",
    ),
    bad(
        "vector-negative",
        VECTORS,
        ("{number: 0x00, name: DE", "{number: -1, name: DE"),
        r"vector -1 of DE is outside 0\.\.0xff",
    ),
    bad(
        "range-last-0x100",
        VECTORS,
        ("{name: UNUSED_F5, first: 0xF5, last: 0xF5", "{name: UNUSED_F5, first: 0xF5, last: 0x100"),
        r"last vector 0x100 of range UNUSED_F5 is outside 0\.\.0xff",
    ),
    bad(
        "range-first-negative",
        VECTORS,
        ("{name: UNUSED_F5, first: 0xF5", "{name: UNUSED_F5, first: -1"),
        r"first vector -1 of range UNUSED_F5 is outside 0\.\.0xff",
    ),
    bad(
        "range-last-below-first",
        VECTORS,
        ("{name: UNUSED_F5, first: 0xF5, last: 0xF5", "{name: UNUSED_F5, first: 0xF5, last: 0xF4"),
        r"range UNUSED_F5 ends at 0xf4, below its first vector 0xf5",
    ),
    # ------------------------------------------------------------------ vectors: exceptions 0..0x1f (SDM Table 6-1)
    bad(
        "irq-entry-at-0x1f",
        VECTORS,
        ((SX, "{number: 0x1F, name: SX, kind: irq, "), (EXC31, "")),
        r"vector 0x1F of SX is an exception vector \(0\.\.0x1f\) and cannot be kind 'irq'",
    ),
    ok(
        "irq-entry-at-0x20",
        VECTORS,
        ((SX, "{number: 0x20, name: SX, kind: irq, "), (EXTERNAL, "{name: EXTERNAL, first: 0x21,")),
        r"exception",
    ),
    ok(
        "exception-entry-at-0x1f",
        VECTORS,
        ((SX, '{number: 0x1F, name: SX, mnemonic: "#SX", kind: exception, class: fault, '), (EXC31, "")),
        r"exception",
    ),
    bad(
        "exception-entry-at-0x20",
        VECTORS,
        (
            (SX, '{number: 0x20, name: SX, mnemonic: "#SX", kind: exception, class: fault, '),
            (EXTERNAL, "{name: EXTERNAL, first: 0x21,"),
        ),
        r"vector 0x20 of SX: kind 'exception' needs a vector below 0x20",
    ),
    bad(
        "irq-range-from-0x1f",
        VECTORS,
        (EXTERNAL, "{name: EXTERNAL, first: 0x1F,"),
        r"range EXTERNAL starts at 0x1f among the exception vectors \(0\.\.0x1f\) and cannot be kind 'irq'",
    ),
    ok("exception-range-to-0x1f", VECTORS, ("last: 0x1F, kind: reserved", "last: 0x1F, kind: exception"), r"exception"),
    bad(
        "exception-range-to-0x20",
        VECTORS,
        (("last: 0x1F, kind: reserved", "last: 0x20, kind: exception"), (EXTERNAL, "{name: EXTERNAL, first: 0x21,")),
        r"range RESERVED_EXCEPTION_31 ends at 0x20: kind 'exception' needs vectors below 0x20",
    ),
    # the spurious vector's low nibble is 0xf (Linux irq_vectors.h, P6 compatibility)
    bad(
        "spurious-0xf7",
        VECTORS,
        ("{number: 0xFF, name: SPURIOUS_APIC_VECTOR", "{number: 0xF7, name: SPURIOUS_APIC_VECTOR"),
        r"spurious vector 0xf7: its low nibble must be 0xf",
    ),
    bad(
        "spurious-0xfe",
        VECTORS,
        ("{number: 0xFF, name: SPURIOUS_APIC_VECTOR", "{number: 0xFE, name: SPURIOUS_APIC_VECTOR"),
        r"spurious vector 0xfe: its low nibble must be 0xf",
    ),
    ok("ist-7", VECTORS, ("class: trap, ist: 3,", "class: trap, ist: 7,"), r"ist"),
    bad("ist-8", VECTORS, ("class: trap, ist: 3,", "class: trap, ist: 8,"), r"ist: 8 is above the maximum 7"),
    bad(
        "dpl-4",
        VECTORS,
        ("class: trap, dpl: 3, description: Breakpoint", "class: trap, dpl: 4, description: Breakpoint"),
        r"dpl: 4 is above the maximum 3",
    ),
    # ------------------------------------------------------------------ IDT
    bad(
        "idt-255-entries",
        IDT,
        ("entries: 256", "entries: 255"),
        r"vector SPURIOUS_APIC_VECTOR = 0xff has no gate: the IDT has 255 entries",
    ),
    ok("idt-range-last-gate", IDT, ("entries: 256", "entries: 246"), r"range UNUSED_F5 ends at", clean=False),
    bad(
        "idt-range-past-the-end",
        IDT,
        ("entries: 256", "entries: 245"),
        r"range UNUSED_F5 ends at 0xf5, beyond the IDT's 245 entries",
    ),
    bad("idt-257-entries", IDT, ("entries: 256", "entries: 257"), r"idt\.entries: 257 is above the maximum 256"),
    bad("idt-0-entries", IDT, ("entries: 256", "entries: 0"), r"idt\.entries: 0 is below the minimum 1"),
    ok("kernel-cs-0xffff", IDT, ("kernel_cs: 0x10", "kernel_cs: 0xFFFF"), r"kernel_cs"),
    bad(
        "kernel-cs-0x10000",
        IDT,
        ("kernel_cs: 0x10", "kernel_cs: 0x10000"),
        r"kernel_cs: 0x10000 is above the maximum 65535",
    ),
    ok("gate-type-31", IDT, ("call: 0xC", "call: 31"), r"gate_types"),
    bad("gate-type-32", IDT, ("call: 0xC", "call: 32"), r"gate_types\.call: 32 is above the maximum 31"),
    ok(
        "gate-type-fills-a-4-bit-field",
        IDT,
        (
            '{name: type, bits: "44:40", description: "Gate type including S = 0 (0xE',
            '{name: type, bits: "43:40", description: "Gate type including S = 0 (0xE',
        ),
        r"cannot hold gate type",
        clean=False,  # bit 44 is left unnamed, which another rule refuses
    ),
    bad(
        "gate-type-over-a-4-bit-field",
        IDT,
        (
            (
                '{name: type, bits: "44:40", description: "Gate type including S = 0 (0xE',
                '{name: type, bits: "43:40", description: "Gate type including S = 0 (0xE',
            ),
            ("call: 0xC", "call: 0x10"),
        ),
        r"the 4-bit type field of layout gate64 cannot hold gate type call = 0x10",
    ),
    bad(
        "gate-field-past-16-bytes",
        IDT,
        ('bits: "127:96"', 'bits: "128:96"'),
        r"gate field reserved bits '128:96' lie outside the 16-byte gate",
    ),
    bad(
        "gate64-of-8-bytes",
        IDT,
        ("mode: 64\n      size: 16", "mode: 64\n      size: 8"),
        r"layout gate64: 64-bit gates are 16 bytes, not 8",
    ),
    bad(
        "gate-fields-overlapping-by-one-bit",
        IDT,
        ('{name: ist, bits: "34:32"', '{name: ist, bits: "35:32"'),
        r"gate field zero bits '39:35' overlap gate field ist",
    ),
    bad(
        "gate-offset-one-bit-short",
        IDT,
        ('{name: offset_high, bits: "95:64"', '{name: offset_high, bits: "94:64"'),
        r"the offset parts of layout gate64 hold 63 bits; a 64-bit gate needs 64",
    ),
    # ------------------------------------------------------------------ platform
    ok("apic-id-0xfe", PLATFORM, ("- {apic_id: 1}", "- {apic_id: 0xFE}"), r"APIC ID"),
    bad(
        "apic-id-0xff",
        PLATFORM,
        ("- {apic_id: 1}", "- {apic_id: 0xFF}"),
        r"APIC ID 0xFF of cpu 1 is not a unicast xAPIC ID \(0\.\.0xfe; 0xff broadcasts\)",
    ),
    ok("window-ends-at-4-gib", PLATFORM, ("base: 0xFED00000", "base: 0xFFFFFC00"), r"32-bit address space"),
    bad(
        "window-past-4-gib",
        PLATFORM,
        ("base: 0xFED00000", "base: 0x100000000"),
        r"hpet window 0x100000000 \+ 0x400 exceeds the 32-bit address space",
    ),
    ok(
        "window-size-power-of-two",
        PLATFORM,
        ("hpet: {base: 0xFED00000, size: 0x400}", "hpet: {base: 0xFED00000, size: 0x800}"),
        r"power of two",
    ),
    bad(
        "window-size-not-power-of-two",
        PLATFORM,
        ("hpet: {base: 0xFED00000, size: 0x400}", "hpet: {base: 0xFED00000, size: 0x600}"),
        r"hpet window size 0x600 is not a power of two",
    ),
    ok("window-aligned", PLATFORM, ("base: 0xFED00000", "base: 0xFED00400"), r"aligned"),
    bad(
        "window-misaligned",
        PLATFORM,
        ("base: 0xFED00000", "base: 0xFED00200"),
        r"hpet window base 0xfed00200 is not aligned to its size 0x400",
    ),
    ok("window-right-after-another", PLATFORM, ("base: 0xFED00000", "base: 0xFEC01000"), r"overlaps"),
    bad(
        "window-overlapping-another",
        PLATFORM,
        ("base: 0xFED00000", "base: 0xFEC00C00"),
        r"hpet window at 0xfec00c00 overlaps the ioapic window 0xfec00000\.\.0xfec00fff",
    ),
    bad(
        "window-smaller-than-the-device",
        PLATFORM,
        ("lapic: {base: 0xFEE00000, size: 0x1000}", "lapic: {base: 0xFEE00000, size: 0x800}"),
        r"lapic window size 0x800 is smaller than the lapic register page 0x1000",
    ),
    bad(
        "window-size-0",
        PLATFORM,
        ("hpet: {base: 0xFED00000, size: 0x400}", "hpet: {base: 0xFED00000, size: 0}"),
        r"size: 0 is below the minimum 1",
    ),
    ok("one-cpu", PLATFORM, ("    - {apic_id: 1}\n", ""), r"cpus"),
    bad("no-cpu", PLATFORM, ("    - {apic_id: 0}\n    - {apic_id: 1}\n", "    []\n"), r"cpus: needs at least 1 item"),
    ok("isa-irq-15", PLATFORM, ("{isa_irq: 0, pin: 2}", "{isa_irq: 15, pin: 2}"), r"ISA IRQ"),
    bad("isa-irq-16", PLATFORM, ("{isa_irq: 0, pin: 2}", "{isa_irq: 16, pin: 2}"), r"ISA IRQ 16 is outside 0\.\.15"),
    ok("isa-pin-23", PLATFORM, ("{isa_irq: 0, pin: 2}", "{isa_irq: 0, pin: 23}"), r"goes to pin"),
    bad(
        "isa-pin-24",
        PLATFORM,
        ("{isa_irq: 0, pin: 2}", "{isa_irq: 0, pin: 24}"),
        r"ISA IRQ 0 goes to pin 24, but the IO-APIC has 24 pins",
    ),
    ok("hpet-legacy-pin-23", PLATFORM, ("timer1: 8", "timer1: 23"), r"goes to pin"),
    bad(
        "hpet-legacy-pin-24",
        PLATFORM,
        ("timer1: 8", "timer1: 24"),
        r"HPET timer1 goes to pin 24, but the IO-APIC has 24 pins",
    ),
    ok("hz-1", PLATFORM, ("\n  hz: 1000", "\n  hz: 1 "), r"hz"),
    bad("hz-0", PLATFORM, ("\n  hz: 1000", "\n  hz: 0 "), r"platform\.hz: 0 is below the minimum 1"),
    bad("clock-hz-0", PLATFORM, ("clock_hz: 10000000", "clock_hz: 0"), r"platform\.clock_hz: 0 is below the minimum 1"),
]


def _problems(copy: SpecCopy) -> list[str]:
    try:
        copy.load()
    except SpecError as e:
        return [str(p) for p in e.problems]
    return []


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_boundary(spec_copy: SpecCopy, case: Case) -> None:
    for old, new in case.edits:
        spec_copy.replace(case.file, old, new)
    problems = _problems(spec_copy)
    hits = [p for p in problems if re.search(case.rule, p)]
    if case.legal:
        assert hits == [], f"{case.id} is legal, but: {hits}"
        if case.clean:
            assert problems == [], f"{case.id} should load: {problems}"
    else:
        assert hits, f"{case.id} must be refused by /{case.rule}/; got {problems}"
