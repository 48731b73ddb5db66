"""The default specs against the architecture written down independently
(``oracle_tables.py``: literals from the SDM, the 82093AA datasheet, the HPET
1.0a specification and Linux headers).

Every other test takes offsets, masks, resets and enumerated values from the
spec, so a mistake in a spec table passes every RTL-versus-model comparison;
these tests are the ones that notice it.
"""

from __future__ import annotations

import oracle_tables as lit
import pytest

from irqforge.spec import Device, GateType, Register, Spec, VectorKind, load_default


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_default()


def _fields(reg: Register) -> dict[str, lit.FieldLit]:
    return {f.name: (f.msb, f.lsb, f.access.value, f.reset, {e.name: e.value for e in f.enums}) for f in reg.fields}


def _register(reg: Register) -> lit.RegLit:
    return (reg.offset, reg.width, reg.access.value, reg.count, reg.stride, _fields(reg))


def _check_registers(regs: tuple[Register, ...], table: dict[str, lit.RegLit], where: str) -> None:
    assert [r.name for r in regs] == list(table), f"{where}: the registers differ from the documents"
    for reg in regs:
        want = table[reg.name]
        got = _register(reg)
        for what, g, w in zip(("offset", "width", "access", "count", "stride"), got[:5], want[:5], strict=True):
            assert g == w, f"{where}.{reg.name}: {what} {g!r}, the documents say {w!r}"
        assert list(got[5]) == list(want[5]), f"{where}.{reg.name}: fields {list(got[5])} != {list(want[5])}"
        for name, fg in got[5].items():
            assert fg == want[5][name], (
                f"{where}.{reg.name}.{name}: (msb, lsb, access, reset, values) {fg!r}, the documents say "
                f"{want[5][name]!r}"
            )


# --------------------------------------------------------------------------- Local APIC


@pytest.mark.parametrize("name", list(lit.LAPIC))
def test_lapic_register_matches_the_sdm(spec: Spec, name: str) -> None:
    _check_registers((spec.lapic.register(name),), {name: lit.LAPIC[name]}, "lapic")


def test_lapic_has_exactly_the_sdm_registers(spec: Spec) -> None:
    assert [r.name for r in spec.lapic.registers] == list(lit.LAPIC)
    assert spec.lapic.size == lit.LAPIC_SIZE
    assert dict(spec.lapic.params) == lit.LAPIC_PARAMS
    assert spec.lapic.windows == ()


@pytest.mark.parametrize("name", list(lit.LAPIC_RESETS))
def test_lapic_reset_dword(spec: Spec, name: str) -> None:
    assert spec.lapic.register(name).reset == lit.LAPIC_RESETS[name]


@pytest.mark.parametrize("name", list(lit.LVT_WRITABLE))
def test_lvt_writable_bits(spec: Spec, name: str) -> None:
    assert spec.lapic.register(name).writable_mask == lit.LVT_WRITABLE[name]


def test_linux_apicdef_constants(spec: Spec) -> None:
    """The constants Linux writes to the LAPIC, assembled from the spec's fields."""
    d = spec.lapic
    svr, icr, icr_hi, lvtt, lint0, dfr, esr, tdcr, ldr = (
        d.register(n) for n in ("SVR", "ICR_LO", "ICR_HI", "LVT_TIMER", "LVT_LINT0", "DFR", "ESR", "TDCR", "LDR")
    )

    def at(reg: Register, field: str, value: int | str = 1) -> int:
        f = reg.field(field)
        return (f.enum(value) if isinstance(value, str) else value) << f.lsb

    got = {
        "APIC_SPIV_APIC_ENABLED": at(svr, "ENABLE"),
        "APIC_SPIV_FOCUS_DISABLED": at(svr, "FOCUS_DISABLE"),
        "APIC_SPIV_DIRECTED_EOI": at(svr, "EOI_SUPPRESS"),
        "APIC_DEST_LOGICAL": at(icr, "DEST_MODE", "LOGICAL"),
        "APIC_ICR_BUSY": at(icr, "DELIVERY_STATUS"),
        "APIC_INT_ASSERT": at(icr, "LEVEL"),
        "APIC_INT_LEVELTRIG": at(icr, "TRIGGER", "LEVEL"),
        "APIC_DEST_SELF": at(icr, "SHORTHAND", "SELF"),
        "APIC_DEST_ALLINC": at(icr, "SHORTHAND", "ALL_INCL"),
        "APIC_DEST_ALLBUT": at(icr, "SHORTHAND", "ALL_EXCL"),
        "APIC_DM_LOWEST": at(icr, "DELIVERY_MODE", "LOWEST"),
        "APIC_DM_SMI": at(icr, "DELIVERY_MODE", "SMI"),
        "APIC_DM_NMI": at(icr, "DELIVERY_MODE", "NMI"),
        "APIC_DM_INIT": at(icr, "DELIVERY_MODE", "INIT"),
        "APIC_DM_STARTUP": at(icr, "DELIVERY_MODE", "STARTUP"),
        "APIC_DM_EXTINT": at(icr, "DELIVERY_MODE", "EXTINT"),
        "APIC_LVT_MASKED": at(lvtt, "MASK"),
        "APIC_LVT_TIMER_PERIODIC": at(lvtt, "TIMER_MODE", "PERIODIC"),
        "APIC_LVT_TIMER_TSCDEADLINE": at(lvtt, "TIMER_MODE", "TSC_DEADLINE"),
        "APIC_LVT_LEVEL_TRIGGER": at(lint0, "TRIGGER", "LEVEL"),
        "APIC_LVT_REMOTE_IRR": at(lint0, "REMOTE_IRR"),
        "APIC_INPUT_POLARITY": at(lint0, "POLARITY"),
        "APIC_SEND_PENDING": at(lint0, "DELIVERY_STATUS"),
        "APIC_DFR_FLAT": at(dfr, "MODEL", "FLAT") | at(dfr, "ONES", 0x0FFFFFFF),
        "APIC_DFR_CLUSTER": at(dfr, "MODEL", "CLUSTER") | at(dfr, "ONES", 0x0FFFFFFF),
        "APIC_ESR_SEND_CS": at(esr, "SEND_CS"),
        "APIC_ESR_RECV_CS": at(esr, "RECV_CS"),
        "APIC_ESR_SEND_ACC": at(esr, "SEND_ACCEPT"),
        "APIC_ESR_RECV_ACC": at(esr, "RECV_ACCEPT"),
        "APIC_ESR_SENDILL": at(esr, "SEND_ILLEGAL_VECTOR"),
        "APIC_ESR_RECVILL": at(esr, "RECV_ILLEGAL_VECTOR"),
        "APIC_ESR_ILLREGA": at(esr, "ILLEGAL_REG_ADDR"),
        "APIC_TDR_DIV_1": at(tdcr, "DIV_LO", 3) | at(tdcr, "DIV_HI", 1),
        "APIC_TDR_DIV_2": at(tdcr, "DIV_LO", 0) | at(tdcr, "DIV_HI", 0),
        "APIC_TDR_DIV_16": at(tdcr, "DIV_LO", 3) | at(tdcr, "DIV_HI", 0),
        "APIC_TDR_DIV_128": at(tdcr, "DIV_LO", 2) | at(tdcr, "DIV_HI", 1),
        "SET_XAPIC_DEST_FIELD_0xAB": icr_hi.field("DEST").put(0, 0xAB),
        "SET_XAPIC_LOGICAL_ID_0x5A": ldr.field("LOGICAL_ID").put(0, 0x5A),
    }
    assert got == lit.LINUX_APIC


def test_full_width_apic_ids_survive_the_icr(spec: Spec) -> None:
    """Every xAPIC ID 0..0xff round-trips through ICR_HI.DEST and the ID register."""
    dest = spec.lapic.register("ICR_HI").field("DEST")
    ident = spec.lapic.register("ID").field("ID")
    for apic_id in range(256):
        assert dest.get(dest.put(0, apic_id)) == apic_id
        assert ident.put(0, apic_id) == apic_id << 24


# --------------------------------------------------------------------------- IO-APIC


@pytest.mark.parametrize("name", list(lit.IOAPIC))
def test_ioapic_register_matches_the_datasheet(spec: Spec, name: str) -> None:
    _check_registers((spec.ioapic.register(name),), {name: lit.IOAPIC[name]}, "ioapic")


@pytest.mark.parametrize("name", list(lit.IOAPIC_WINDOW))
def test_ioapic_indirect_register_matches_the_datasheet(spec: Spec, name: str) -> None:
    _check_registers((spec.ioapic.window("IOAPIC").register(name),), {name: lit.IOAPIC_WINDOW[name]}, "ioapic")


def test_ioapic_has_exactly_the_datasheet_registers(spec: Spec) -> None:
    d: Device = spec.ioapic
    assert [r.name for r in d.registers] == list(lit.IOAPIC)
    assert [w.name for w in d.windows] == ["IOAPIC"]
    win = d.window("IOAPIC")
    assert (win.select, win.data) == ("IOREGSEL", "IOWIN")
    assert [r.name for r in win.registers] == list(lit.IOAPIC_WINDOW)
    assert d.size == lit.IOAPIC_SIZE
    assert dict(d.params) == lit.IOAPIC_PARAMS


def test_ioapic_rte_linux_masks_and_reset(spec: Spec) -> None:
    red = spec.ioapic.window("IOAPIC").register("REDTBL")
    f = red.field
    got = {
        "vector": f("VECTOR").mask,
        "delivery_mode": f("DELIVERY_MODE").mask,
        "dest_mode_logical": f("DEST_MODE").enum("LOGICAL") << f("DEST_MODE").lsb,
        "delivery_status": f("DELIVERY_STATUS").mask,
        "active_low": f("POLARITY").enum("ACTIVE_LOW") << f("POLARITY").lsb,
        "irr": f("REMOTE_IRR").mask,
        "is_level": f("TRIGGER").enum("LEVEL") << f("TRIGGER").lsb,
        "masked": f("MASK").mask,
        "destid_0_7": f("DEST").mask,
    }
    assert got == lit.LINUX_IOAPIC_RTE
    assert red.reset == 0x0000_0000_0001_0000  # 82093AA: masked, everything else 0
    # RTE n: low dword at index 0x10 + 2n, high at 0x11 + 2n (82093AA Table 3)
    assert [red.offset + n * red.stride for n in (0, 1, 23)] == [0x10, 0x12, 0x3E]
    ver = spec.ioapic.window("IOAPIC").register("IOAPICVER")
    assert ver.reset == 0x0017_0020


# --------------------------------------------------------------------------- HPET


@pytest.mark.parametrize("name", list(lit.HPET))
def test_hpet_register_matches_the_hpet_spec(spec: Spec, name: str) -> None:
    _check_registers((spec.hpet.register(name),), {name: lit.HPET[name]}, "hpet")


def test_hpet_has_exactly_the_spec_registers(spec: Spec) -> None:
    assert [r.name for r in spec.hpet.registers] == list(lit.HPET)
    assert spec.hpet.size == lit.HPET_SIZE
    assert dict(spec.hpet.params) == lit.HPET_PARAMS
    assert spec.hpet.register("GCAP_ID").reset == lit.HPET_GCAP_ID_RESET
    # Linux hpet.h HPET_Tn_CFG(n), HPET_Tn_CMP(n), HPET_Tn_ROUTE(n) for n = 2
    assert spec.hpet.offset("TIMER_CONF", 2) == 0x100 + 0x20 * 2
    assert spec.hpet.offset("TIMER_CMP", 2) == 0x108 + 0x20 * 2
    assert spec.hpet.offset("TIMER_FSB", 2) == 0x110 + 0x20 * 2


def test_linux_hpet_tn_masks(spec: Spec) -> None:
    conf = spec.hpet.register("TIMER_CONF")
    f = conf.field
    got = {
        "HPET_TN_LEVEL": f("INT_TYPE_CNF").enum("LEVEL") << f("INT_TYPE_CNF").lsb,
        "HPET_TN_ENABLE": f("INT_ENB_CNF").mask,
        "HPET_TN_PERIODIC": f("TYPE_CNF").enum("PERIODIC") << f("TYPE_CNF").lsb,
        "HPET_TN_PERIODIC_CAP": f("PER_INT_CAP").mask,
        "HPET_TN_64BIT_CAP": f("SIZE_CAP").mask,
        "HPET_TN_SETVAL": f("VAL_SET_CNF").mask,
        "HPET_TN_32BIT": f("MODE32_CNF").mask,
        "HPET_TN_ROUTE": f("INT_ROUTE_CNF").mask,
        "HPET_TN_FSB": f("FSB_EN_CNF").mask,
        "HPET_TN_FSB_CAP": f("FSB_INT_DEL_CAP").mask,
        "HPET_TN_ROUTE_SHIFT": f("INT_ROUTE_CNF").lsb,
    }
    assert got == lit.LINUX_HPET_TN
    # QEMU's Tn_CONF write mask (HPET_TN_CFG_WRITE_MASK 0x7F4E) is exactly the rw bits of the low dword
    assert conf.writable_mask & 0xFFFFFFFF == 0x7F4E


# --------------------------------------------------------------------------- vectors


def test_exception_vectors_match_the_sdm_and_linux(spec: Spec) -> None:
    got = {
        v.number: (v.name, v.kind.value, v.exc_class.value if v.exc_class else None, v.error_code, v.ist, v.dpl)
        for v in spec.vectors.vectors
        if v.number < 32
    }
    assert got == lit.EXCEPTIONS
    for n in lit.RESERVED_EXCEPTIONS:
        assert spec.vectors.kind_of(n) is VectorKind.RESERVED, hex(n)
    for n in range(32):
        assert spec.vectors.kind_of(n) in (VectorKind.EXCEPTION, VectorKind.RESERVED), hex(n)


def test_system_vectors_match_irq_vectors_h(spec: Spec) -> None:
    got = {v.name: (v.number, v.kind.value) for v in spec.vectors.vectors if v.number >= 32}
    assert got == lit.SYSTEM_VECTORS
    assert spec.vectors.by_name("IA32_SYSCALL_VECTOR").dpl == lit.SYSCALL_DPL
    assert spec.vectors.spurious == 0xFF
    assert all(v.gate is GateType.INTERRUPT for v in spec.vectors.vectors)  # Linux: interrupt gates only


def test_device_vectors_follow_linux(spec: Spec) -> None:
    vm = spec.vectors
    irq = [n for n in range(lit.NR_VECTORS) if vm.kind_of(n) is VectorKind.IRQ]
    expected = [n for n in range(lit.FIRST_EXTERNAL_VECTOR, lit.FIRST_SYSTEM_VECTOR) if n != 0x80]
    assert irq == expected
    isa = vm.range("ISA_IRQ")
    assert (isa.first, isa.last) == (lit.ISA_IRQ_VECTOR_0, lit.ISA_IRQ_VECTOR_0 + 15)
    assert vm.kind_of(0xF5) is VectorKind.RESERVED  # unused since UV_BAU_MESSAGE went


# --------------------------------------------------------------------------- IDT


@pytest.mark.parametrize(
    ("mode", "table", "size"), [(64, lit.GATE64, lit.GATE64_SIZE), (32, lit.GATE32, lit.GATE32_SIZE)]
)
def test_gate_layout_matches_the_sdm(spec: Spec, mode: int, table: dict[str, tuple[int, int]], size: int) -> None:
    lay = spec.idt.layout(mode)
    assert lay.size == size
    assert {f.name: (f.msb, f.lsb) for f in lay.fields} == table


def test_idt_constants_and_a_packed_gate(spec: Spec) -> None:
    idt = spec.idt
    assert {k.value: v for k, v in idt.gate_types.items()} == lit.GATE_TYPES
    assert (idt.entries, idt.kernel_cs, idt.limit()) == (lit.IDT_ENTRIES, lit.KERNEL_CS, lit.IDTR_LIMIT)
    assert idt.gate(lit.GATE64_EXAMPLE_OFFSET) == lit.GATE64_EXAMPLE_BYTES

    def bits(gate: bytes) -> int:
        return int.from_bytes(gate[4:6], "little")

    assert bits(idt.gate(0x1000)) == lit.IDT_BITS["intg"]
    assert bits(idt.gate(0x1000, dpl=3)) == lit.IDT_BITS["sysg"]
    assert bits(idt.gate(0x1000, ist=2)) == lit.IDT_BITS["nmi"]
    assert bits(idt.gate(0x1000, ist=1)) == lit.IDT_BITS["df"]
    assert bits(idt.gate(0x1000, GateType.TRAP)) == lit.IDT_BITS["trap"]


# --------------------------------------------------------------------------- platform


def test_platform_addresses_and_wiring(spec: Spec) -> None:
    p = spec.platform
    assert dict(p.address_map) == lit.ADDRESS_MAP
    assert p.isa_pin(0) == lit.ISA_IRQ0_PIN
    assert [p.isa_pin(n) for n in range(1, 16)] == list(range(1, 16))
    assert p.hpet_legacy_pins == lit.HPET_LEGACY_PINS
    assert spec.hpet.param("period_fs") * p.clock_hz == 10**15  # the HPET counts the platform clock


# --------------------------------------------------------------------------- LAPIC MSRs and x2APIC


def test_lapic_msrs_match_the_sdm(spec: Spec) -> None:
    dev = spec.lapic
    assert {m.name: m.address for m in dev.msrs} == lit.LAPIC_MSRS
    base = dev.msr("IA32_APIC_BASE")
    fields = {f.name: (f.msb, f.lsb) for f in base.register.fields}
    assert fields == lit.APIC_BASE_FIELDS
    assert base.register.reset == lit.APIC_BASE_RESET_AP
    assert base.gp_mask == lit.APIC_BASE_RESERVED
    assert {m.name: dict(m.fields) for m in base.modes} == lit.APIC_MODES
    for a in lit.APIC_MODES:
        for b in lit.APIC_MODES:
            legal = a == b or (a, b) in lit.APIC_LEGAL
            assert base.legal(a, b) == legal, (a, b)
    for a, b in lit.APIC_ILLEGAL:
        assert not base.legal(a, b)
    dl = dev.msr("IA32_TSC_DEADLINE").register.field("DEADLINE")
    assert (dl.msb, dl.lsb) == (63, 0)


def test_x2apic_view_matches_sdm_table_11_6(spec: Spec) -> None:
    x2 = spec.lapic.x2apic
    assert x2 is not None and x2.msr_base == lit.X2APIC_MSR_BASE
    got = {}
    for xr in x2.registers:
        for name, addr, _ in xr.instances():
            got[addr] = (name, xr.register.access.value)
    assert got == lit.X2APIC_MSRS
    for addr in lit.X2APIC_NOT_THERE:
        assert x2.at(addr) is None
    icr = x2.register("ICR")
    dest = icr.register.field("DEST")
    assert icr.register.width == 64 and (dest.msb, dest.lsb) == lit.X2APIC_ICR_DEST
    assert icr.gp_mask == lit.X2APIC_ICR_RESERVED
    vec = x2.register("SELF_IPI").register.field("VECTOR")
    assert (vec.msb, vec.lsb) == lit.X2APIC_SELF_IPI_VECTOR
    assert x2.register("SELF_IPI").gp_mask == (1 << 64) - 1 - 0xFF  # only the vector may be set
    assert x2.register("EOI").gp_mask == x2.register("ESR").gp_mask == (1 << 64) - 1  # writes must be 0
    assert x2.register("TPR").gp_mask == 0xFFFFFFFF_00000000
