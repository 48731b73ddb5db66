"""x2APIC mode and IA32_APIC_BASE on the Local APIC RTL (hw/lapic.py), in lock step with the model.

Every test runs :class:`~irqforge.hw.lapic.LapicCore` on the Amaranth
simulator through the bench of ``test_lapic.py``, which checks every output
(and every MSR answer) against :class:`~irqforge.sim.models.lapic.LapicModel`
cycle for cycle; on top of that each test asserts the architectural
behaviour with literals from the source it names: Intel SDM vol. 3 §11.4.4
(IA32_APIC_BASE), §11.12 (x2APIC: table 11-6 register map, §11.12.1.2 #GP
rules, §11.12.5 state transitions), and kvm-unit-tests ``x86/apic.c``.
"""

from __future__ import annotations

import pytest
from test_lapic import APIC_ID, CoreBench, run

from irqforge.sim.benches.lapic_check import RandomStimulus
from irqforge.sim.models.messages import Shorthand
from irqforge.spec import Spec, load_default

# Literals from the SDM (vol. 3 §11.4.4, §11.12.1.2 table 11-6) and Linux's apicdef.h / msr-index.h.
MSR_IA32_APICBASE = 0x1B
APICBASE_BSP = 1 << 8
APICBASE_EXTD = 1 << 10
APICBASE_EN = 1 << 11
APIC_DEFAULT_PHYS_BASE = 0xFEE00000
X2APIC_MSR = 0x800  # APIC_BASE_MSR in Linux
X2_ID, X2_VERSION, X2_TPR, X2_PPR, X2_EOI, X2_LDR, X2_SVR = 0x802, 0x803, 0x808, 0x80A, 0x80B, 0x80D, 0x80F
X2_ISR0, X2_IRR0, X2_ESR, X2_ICR, X2_LVTT, X2_TMICT, X2_SELF_IPI = 0x810, 0x820, 0x828, 0x830, 0x832, 0x838, 0x83F
X2_APR, X2_RRD, X2_DFR, X2_ICR2 = 0x809, 0x80C, 0x80E, 0x831  # not in x2APIC mode (table 11-6)
MMIO_ID, MMIO_VERSION, MMIO_TPR, MMIO_SVR = 0x20, 0x30, 0x80, 0xF0
XAPIC = APIC_DEFAULT_PHYS_BASE | APICBASE_EN
X2APIC = XAPIC | APICBASE_EXTD


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_default()


async def to_x2apic(b: CoreBench) -> None:
    await b.wrmsr(MSR_IA32_APICBASE, X2APIC)
    assert b.last.msr_ready


def test_apicbase_reset_reserved_bits_and_relocation(spec: Spec) -> None:
    """kvm-unit-tests x86/apic.c test_apicbase: reserved physaddr and low bits #GP; the base reads back."""

    async def body(b: CoreBench) -> None:
        assert await b.rdmsr(MSR_IA32_APICBASE) == XAPIC  # SDM 11.4.4: FEE00000H, EN; BSP only on CPU 0
        assert await b.wrmsr_faults(MSR_IA32_APICBASE, XAPIC | 1)  # "reserved low bits"
        assert await b.wrmsr_faults(MSR_IA32_APICBASE, XAPIC | 1 << 9)
        assert await b.wrmsr_faults(MSR_IA32_APICBASE, XAPIC | 1 << 36)  # "reserved physaddr bits" (MAXPHYADDR 36)
        assert await b.rdmsr(MSR_IA32_APICBASE) == XAPIC  # a faulting write changes nothing
        await b.wrmsr(MSR_IA32_APICBASE, 0x42000000 | APICBASE_EN)  # ALTERNATE_APIC_BASE
        assert await b.rdmsr(MSR_IA32_APICBASE) == 0x42000000 | APICBASE_EN
        await b.wrmsr(MSR_IA32_APICBASE, XAPIC | APICBASE_BSP)  # BSP is read-only: dropped
        assert await b.rdmsr(MSR_IA32_APICBASE) == XAPIC

    run(spec, body)


def test_mode_transitions(spec: Spec) -> None:
    """SDM 11.12.5 figure 11-27 / KVM kvm_set_apic_base / kvm-unit-tests test_enable_x2apic:
    x2APIC → xAPIC, disabled → x2APIC and EXTD without EN raise #GP; disabled ↔ xAPIC ↔ x2APIC,
    x2APIC → disabled are legal."""

    async def body(b: CoreBench) -> None:
        base = APIC_DEFAULT_PHYS_BASE
        assert await b.wrmsr_faults(MSR_IA32_APICBASE, base | APICBASE_EXTD)  # invalid: EXTD without EN
        await to_x2apic(b)
        assert b.last.x2apic is False and (await b.cycle()).x2apic  # x2apic out from the next cycle
        assert await b.wrmsr_faults(MSR_IA32_APICBASE, XAPIC)  # x2APIC → xAPIC
        await b.wrmsr(MSR_IA32_APICBASE, X2APIC)  # staying is legal
        await b.wrmsr(MSR_IA32_APICBASE, base)  # x2APIC → disabled
        assert await b.wrmsr_faults(MSR_IA32_APICBASE, X2APIC)  # disabled → x2APIC
        await b.wrmsr(MSR_IA32_APICBASE, XAPIC)  # disabled → xAPIC
        await to_x2apic(b)  # xAPIC → x2APIC
        assert await b.rdmsr(MSR_IA32_APICBASE) == X2APIC

    run(spec, body)


def test_x2apic_id_ldr_version(spec: Spec) -> None:
    """SDM 11.12.2 (x2APIC ID = initial APIC ID, read-only) and 11.12.10.2 (LDR =
    (ID[31:4] << 16) | 1 << ID[3:0]); kvm-unit-tests test_x2apic reads ID and LVR through MSRs."""

    async def body(b: CoreBench) -> None:
        version = await b.read("VERSION")
        await b.write("ID", 0x7 << 24)  # an xAPIC ID change is forgotten in x2APIC mode
        await to_x2apic(b)
        assert await b.rdmsr(X2_ID) == APIC_ID
        assert b.last.apic_id == APIC_ID
        assert await b.rdmsr(X2_LDR) == (APIC_ID >> 4) << 16 | 1 << (APIC_ID & 0xF)
        assert b.last.ldr == 1 << APIC_ID
        assert await b.rdmsr(X2_VERSION) == version
        assert await b.wrmsr_faults(X2_ID, 0)  # read-only
        assert await b.wrmsr_faults(X2_LDR, 0)
        assert await b.wrmsr_faults(X2_VERSION, 0)
        assert await b.wrmsr_faults(X2_PPR, 0)

    run(spec, body)


def test_x2apic_msrs_that_fault(spec: Spec) -> None:
    """SDM 11.12.1.2 table 11-6 and KVM kvm_lapic_readable_reg_mask / kvm_x2apic_msr_write:
    the x2APIC MSRs #GP outside x2APIC mode; APR, RRD, DFR and ICR2 do not exist; EOI and
    SELF_IPI are write-only; bits 63:32 of a 32-bit register, a non-zero EOI or ESR write,
    reserved ICR and SELF_IPI bits #GP."""

    async def body(b: CoreBench) -> None:
        assert await b.rdmsr_faults(X2_ID)  # xAPIC mode: the MSR view is off
        assert await b.wrmsr_faults(X2_TPR, 0)
        assert await b.rdmsr_faults(0x10)  # IA32_TSC is the platform's, not the LAPIC's
        await to_x2apic(b)
        for msr in (X2_APR, X2_RRD, X2_DFR, X2_ICR2, 0x804, 0x8FF):
            assert await b.rdmsr_faults(msr), hex(msr)
            assert await b.wrmsr_faults(msr, 0), hex(msr)
        assert await b.rdmsr_faults(X2_EOI)
        assert await b.rdmsr_faults(X2_SELF_IPI)
        assert await b.wrmsr_faults(X2_TPR, 1 << 32)
        assert await b.wrmsr_faults(X2_EOI, 1)
        assert await b.wrmsr_faults(X2_ESR, 1)
        assert await b.wrmsr_faults(X2_SELF_IPI, 0x140)
        assert await b.wrmsr_faults(X2_ICR, 1 << 13 | 0x40)  # KVM X2APIC_ICR_RESERVED_BITS
        assert await b.wrmsr_faults(X2_ICR, 1 << 20 | 0x40)
        assert b.last.ipi is None and (await b.cycle()).ipi is None  # nothing was sent
        assert b.checker.msr_faults >= 20

    run(spec, body)


def test_registers_through_msrs(spec: Spec) -> None:
    """SDM 11.12.1.2: MSR 800H + offset/16 reaches the xAPIC register; TPR/PPR, SVR, ESR, EOI."""

    async def body(b: CoreBench) -> None:
        await to_x2apic(b)
        await b.wrmsr(X2_SVR, 0x1FF)
        await b.wrmsr(X2_TPR, 0x45)
        assert await b.rdmsr(X2_TPR) == 0x45 and await b.rdmsr(X2_PPR) == 0x45
        await b.wrmsr(X2_TPR, 0)
        await b.send(0x61)
        await b.idle(2)
        assert await b.rdmsr(X2_IRR0 + 3) == 1 << 1  # vector 0x61: IRR3 bit 1
        assert await b.ack() == 0x61
        assert await b.rdmsr(X2_ISR0 + 3) == 1 << 1
        await b.wrmsr(X2_EOI, 0)
        assert await b.rdmsr(X2_ISR0 + 3) == 0
        await b.send(0x05)  # receive illegal vector, collected
        await b.wrmsr(X2_ESR, 0)
        assert await b.rdmsr(X2_ESR) == 0x40
        await b.wrmsr(X2_LVTT, 0x10000 | 0x30)
        assert await b.rdmsr(X2_LVTT) == 0x10030

    run(spec, body)


def test_rdmsr_in_the_cycle_of_an_inta_sees_the_state_before_it(spec: Spec) -> None:
    """An RDMSR answers from the state at the start of its accepting cycle, as a register-page read
    does: an INTA in the same cycle moves the vector from IRR to ISR at that cycle's edge, so the
    read still shows it in IRR and not yet in ISR (found by ``irqforge regress`` lapic seed 2)."""

    async def body(b: CoreBench) -> None:
        await to_x2apic(b)
        await b.wrmsr(X2_SVR, 0x1FF)
        await b.send(0x61)
        await b.idle(2)
        assert b.last.intr and b.last.vector == 0x61
        for word, before, after in ((X2_IRR0 + 3, 1 << 1, 0), (X2_ISR0 + 3, 0, 1 << 1)):
            c = await b.cycle(msr=(False, word, 0))  # valid rises; ready comes next cycle
            assert not c.msr_ready
            c = await b.cycle(msr=(False, word, 0), inta=True)
            assert c.msr_ready and not c.msr_fault and c.msr_rdata == before
            assert (await b.cycle()).ack == 0x61
            assert await b.rdmsr(word) == after
            await b.wrmsr(X2_EOI, 0)
            await b.send(0x61)
            await b.idle(2)

    run(spec, body)


def test_mmio_page_in_x2apic_and_disabled_modes(spec: Spec) -> None:
    """kvm-unit-tests x86/apic.c verify_disabled_apic_mmio (KVM apic_mmio_read memsets 0xff): with
    x2APIC on or the APIC disabled, the page reads all ones and drops writes."""

    async def body(b: CoreBench) -> None:
        await b.enable()
        await to_x2apic(b)
        for off in (MMIO_ID, MMIO_VERSION, MMIO_TPR, 0x3A0):
            await b.cycle(read=off)
            assert b.rdata == 0xFFFFFFFF
        await b.cycle(write=(MMIO_TPR, 0x70, 0xF))
        assert await b.rdmsr(X2_TPR) == 0  # dropped
        await b.wrmsr(X2_ESR, 0)
        assert await b.rdmsr(X2_ESR) == 0  # the reserved-offset read above set no error
        await b.wrmsr(MSR_IA32_APICBASE, APIC_DEFAULT_PHYS_BASE)  # disabled
        await b.cycle(read=MMIO_VERSION)
        assert b.rdata == 0xFFFFFFFF
        await b.cycle(write=(MMIO_SVR, 0x1FF, 0xF))
        await b.wrmsr(MSR_IA32_APICBASE, XAPIC)
        assert await b.read("SVR") == 0xFF  # the write while disabled was dropped

    run(spec, body)


def test_disable_resets_and_reenable_is_xapic(spec: Spec) -> None:
    """SDM 11.4.3 / 11.12.5.1: a hardware disable resets the APIC (SVR 0xFF, LVTs masked, IRR
    and ISR empty, ID back to the initial APIC ID); a disabled APIC takes no message;
    re-enabling gives xAPIC mode (kvm-unit-tests test_apic_disable)."""

    async def body(b: CoreBench) -> None:
        await b.enable()
        await b.write("ID", 0x9 << 24)
        await b.write("TPR", 0x20)
        await b.write("LVT_LINT0", 0x31)
        await b.send(0x51)
        await b.idle(2)
        assert b.last.intr
        await b.wrmsr(MSR_IA32_APICBASE, APIC_DEFAULT_PHYS_BASE)
        assert not (await b.cycle()).intr and not b.last.enabled
        await b.send(0x52)  # ignored while disabled
        await b.wrmsr(MSR_IA32_APICBASE, XAPIC)
        assert not b.last.x2apic
        assert await b.read("ID") == APIC_ID << 24 and await b.read("SVR") == 0xFF
        assert await b.read("TPR") == 0 and await b.read("LVT_LINT0") == 0x10000
        assert await b.read("IRR", 2) == 0

    run(spec, body)


def test_icr_and_self_ipi(spec: Spec) -> None:
    """SDM 11.12.9: one 64-bit ICR write sends the IPI with a 32-bit destination and there is no
    delivery status (bit 12 reads 0); 11.12.11: SELF_IPI sends a fixed, edge IPI to itself.
    A second ICR write waits (msr__ready low) until the router took the first IPI."""

    async def body(b: CoreBench) -> None:
        await to_x2apic(b)
        await b.wrmsr(X2_ICR, 0x12345678 << 32 | 0x8F3)  # logical, vector F3
        c = await b.cycle()
        assert c.ipi is not None and c.ipi.dest == 0x12345678 and c.ipi.vector == 0xF3 and c.ipi.dest_mode == 1
        assert await b.rdmsr(X2_ICR) == 0x12345678 << 32 | 0x8F3  # no delivery-status bit while pending
        # the next ICR write waits for the slot: ready stays low while ipi__ready is low
        for _ in range(3):
            c = await b.cycle(msr=(True, X2_ICR, 0x40))
            assert not c.msr_ready
        b.ipi_ready = 1  # the router takes the first IPI: the write goes through in the same cycle
        c = await b.cycle(msr=(True, X2_ICR, 0x40))
        assert c.msr_ready and not c.msr_fault
        b.ipi_ready = 1
        c = await b.cycle()
        assert c.ipi is not None and c.ipi.vector == 0x40 and c.ipi.dest == 0
        await b.wrmsr(X2_SELF_IPI, 0x41)
        c = await b.cycle()
        assert c.ipi is not None and c.ipi.vector == 0x41 and c.ipi.shorthand == Shorthand.SELF
        assert await b.rdmsr(X2_ICR) == 0x40  # SELF_IPI leaves ICR alone
        b.ipi_ready = 0

    run(spec, body)


def test_msr_port_latency(spec: Spec) -> None:
    """docs/hardware.md: ready in the cycle after valid rises; back-to-back requests every two cycles."""

    async def body(b: CoreBench) -> None:
        c = await b.cycle(msr=(False, MSR_IA32_APICBASE, 0))
        assert not c.msr_ready
        c = await b.cycle(msr=(False, MSR_IA32_APICBASE, 0))
        assert c.msr_ready and c.msr_rdata == XAPIC
        c = await b.cycle(msr=(False, MSR_IA32_APICBASE, 0))  # a new request right after
        assert not c.msr_ready
        c = await b.cycle(msr=(False, MSR_IA32_APICBASE, 0))
        assert c.msr_ready

    run(spec, body)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_msr_lockstep_against_model(spec: Spec, seed: int) -> None:
    """Random MMIO, messages, INTA/EOI, IPI back-pressure and MSR traffic (mode changes, the x2APIC
    view, TSC deadlines near the TSC), every output and MSR answer compared with the model."""
    cycles = 2500
    seen: dict[str, int] = {}

    async def body(b: CoreBench) -> None:
        stim = RandomStimulus(spec, seed)
        r = stim.rng
        await b.enable()
        req: tuple[bool, int, int] | None = None
        seen["x2"] = seen["fired"] = 0
        for _ in range(cycles):
            op = stim.reg_op() if r.random() < 0.15 else None
            read = write = None
            if op is not None:
                if op.value is None:
                    read = op.offset
                else:
                    write = (op.offset, op.value, op.strb)
            if req is None and r.random() < 0.3:
                req = stim.msr_op(b.tsc)
            msg = stim.message() if r.random() < 0.1 else None
            inta = (b.last.intr and r.random() < 0.3) or r.random() < 0.01
            nmi_ack = b.last.nmi and r.random() < 0.2
            b.ipi_ready = int(r.random() < 0.4)
            dl_before = b.checker.model.tsc_deadline
            c = await b.cycle(read=read, write=write, inta=inta, nmi_ack=nmi_ack, msg=msg, msr=req)
            seen["x2"] += c.x2apic
            seen["fired"] += bool(dl_before and not b.checker.model.tsc_deadline and not c.msr)
            if c.msr_ready:
                req = None

    try:
        b = run(spec, body)
    except AssertionError as e:
        raise AssertionError(f"random x2APIC lock-step failed with seed {seed}: {e}") from e
    ck = b.checker
    assert ck.msrs > 300 and 20 < ck.msr_faults < ck.msrs and ck.intas > 10
    assert seen["x2"] > 200 and seen["fired"] > 3, seen
