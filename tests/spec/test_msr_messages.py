"""FILE:LINE:COL messages for the LAPIC's ``msrs`` and ``x2apic`` keys (one mistake each)."""

from __future__ import annotations

from specedit import SpecCopy


def test_transition_to_an_undefined_mode(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "{from: XAPIC, to: X2APIC}", "{from: XAPIC, to: X2APCI}", at="X2APCI")
    assert spec_copy.problems() == [
        at.msg("device.msrs[0].transitions[2].to: transition of MSR IA32_APIC_BASE: mode 'X2APCI' is not defined "
               "(did you mean 'X2APIC'?)")
    ]


def test_mode_names_an_unknown_field(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "fields: {EN: 1, EXTD: 1}", "fields: {EN: 1, EXT: 1}", at="EXT:")
    assert spec_copy.problems() == [
        at.msg("device.msrs[0].modes[2].fields.EXT: mode X2APIC: MSR IA32_APIC_BASE has no field 'EXT' "
               "(did you mean 'EXTD'?)")
    ]


def test_mode_value_does_not_fit(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "fields: {EN: 1, EXTD: 1}", "fields: {EN: 1, EXTD: 2}", at="2")
    assert spec_copy.problems() == [
        at.msg("device.msrs[0].modes[2].fields.EXTD: mode X2APIC: 2 does not fit field IA32_APIC_BASE.EXTD (1 bit(s))")
    ]


def test_two_modes_alike(spec_copy: SpecCopy) -> None:
    old, new = "{name: X2APIC, fields: {EN: 1, EXTD: 1}", "{name: X2APIC, fields: {EN: 1, EXTD: 0}"
    at = spec_copy.replace("lapic.yaml", old, new, at="{EN: 1, EXTD: 0}")
    problems = spec_copy.problems()
    assert len(problems) == 1
    assert problems[0].startswith(at.msg("device.msrs[0].modes[2].fields: mode X2APIC has the same field values "
                                         "as mode XAPIC (line "))


def test_msr_address_used_twice(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "address: 0x6E0", "address: 0x01B", at="0x01B")
    problems = spec_copy.problems()
    assert problems[0].startswith(at.msg("device.msrs[1].address: MSR IA32_TSC_DEADLINE address 0x01B is the address"))


def test_msr_irqforge_does_not_implement(spec_copy: SpecCopy) -> None:
    spec_copy.replace("lapic.yaml", "- name: IA32_TSC_DEADLINE", "- name: IA32_TSC_DEADLIN")
    problems = spec_copy.problems()
    assert len(problems) == 1 and "MSR IA32_TSC_DEADLIN is not one irqforge implements" in problems[0]


def test_x2apic_change_of_an_unknown_register(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "- {name: RRD, absent: true}", "- {name: RDD, absent: true}", at="RDD")
    assert spec_copy.problems() == [
        at.msg("device.x2apic.registers[3].name: 'RDD' is not an MMIO register (did you mean 'RRD'?); "
               "a register of the view alone needs an offset")
    ]


def test_x2apic_absent_with_other_keys(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "- {name: RRD, absent: true}", "- {name: RRD, absent: true, zero: true}",
                           at="zero")
    assert spec_copy.problems() == [
        at.msg("device.x2apic.registers[3].zero: x2APIC register RRD is absent, so 'zero' means nothing")
    ]


def test_x2apic_register_off_slot(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "offset: 0x3F0\n        access: wo", "offset: 0x3F4\n        access: wo",
                           at="0x3F4")
    assert spec_copy.problems() == [
        at.msg("device.x2apic.registers[9].offset: x2APIC register SELF_IPI offset 0x3F4 is not a 16-byte slot "
               "of the 0x1000-byte page")
    ]


def test_x2apic_view_covers_an_msr(spec_copy: SpecCopy) -> None:
    at = spec_copy.replace("lapic.yaml", "msr_base: 0x800", "msr_base: 0x600", at="0x600")
    assert spec_copy.problems() == [
        at.msg("device.x2apic.msr_base: the view 0x600..0x6ff covers MSR IA32_TSC_DEADLINE at 0x6e0")
    ]


def test_x2apic_unknown_key(spec_copy: SpecCopy) -> None:
    spec_copy.replace("lapic.yaml", "- {name: DFR, absent: true}", "- {name: DFR, absnt: true}")
    problems = spec_copy.problems()
    assert len(problems) == 1 and "absnt" in problems[0] and "absent" in problems[0]


def test_x2apic_mode_without_the_view(spec_copy: SpecCopy) -> None:
    text = spec_copy.text("lapic.yaml")
    spec_copy.write("lapic.yaml", text[: text.index("  # The x2APIC register view")])
    problems = spec_copy.problems()
    assert len(problems) == 1 and "mode X2APIC needs the x2apic view of the device" in problems[0]
