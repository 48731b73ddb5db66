"""Functional coverage: bins, merging across jobs, and the LAPIC sampler in the lock-step checker."""

from __future__ import annotations

from typing import Any

from irqforge.sim.benches.lapic_check import Cycle, LapicChecker
from irqforge.sim.models.coverage import EXCLUDED, Coverage, LapicSampler, define
from irqforge.sim.models.lapic import LapicModel
from irqforge.spec import Spec


def test_crosses_have_the_architectural_sizes(spec: Spec) -> None:
    points = define(spec)
    # ICR: fixed, lowest, SMI, NMI, INIT, start-up × edge/level × physical/logical × 4 shorthands (SDM 10.6.1)
    assert len(points["lapic.ipi"].bins) == 6 * 2 * 2 * 4
    assert "STARTUP/EDGE/PHYSICAL/ALL_EXCL" in points["lapic.ipi"].bins
    # TDCR encodes divide by 1, 2, 4 … 128 (SDM Figure 10-10); one-shot and periodic count down
    assert len(points["lapic.timer"].bins) == 2 * 8
    # an edge entry never has Remote IRR set: those combinations are not bins
    assert not any("EDGE" in b and "RIRR1" in b for b in points["ioapic.rte"].bins)


def test_merge_adds_hits_and_percent_leaves_out_excluded_bins(spec: Spec) -> None:
    a, b = Coverage(define(spec)), Coverage(define(spec))
    a.hit("lapic.nesting", "1")
    b.hit("lapic.nesting", "1")
    b.hit("lapic.nesting", "2")
    b.hit("lapic.nesting", "999")  # not a bin
    a.merge(b.to_json())
    report = a.report()
    bins = report["coverpoints"]["lapic.nesting"]["bins"]
    assert bins["1"] == 2 and bins["2"] == 1 and bins["3"] == 0
    assert report["coverpoints"]["lapic.nesting"]["other_samples"] == 1
    excluded = sum(1 for p in a.points.values() for b in p.bins if p.is_excluded(b))
    assert excluded >= len(EXCLUDED)
    total = sum(len(p.bins) for p in a.points.values())
    assert report["bins"] == total - excluded and report["bins_hit"] == 2
    assert report["percent"] == round(100 * 2 / (total - excluded), 2)
    assert "lapic.nesting:3" in report["holes"] and "lapic.esr:SEND_CS" not in report["holes"]


def _write(checker: LapicChecker, spec: Spec, name: str, value: int) -> None:
    checker.step(_outputs(checker, Cycle(write=(spec.lapic.offset(name), value, 0xF))))


def _outputs(checker: LapicChecker, c: Cycle) -> Cycle:
    """``c`` with the outputs the model shows (the "RTL" of this test is the model itself)."""
    m = checker.model
    c.ack, c.eoi, c.init, c.sipi = checker._exp_ack, checker._exp_eoi, checker._exp_init, checker._exp_sipi
    c.intr, c.vector, c.nmi, c.apic_id, c.ldr = m.intr, m.vector, m.nmi, m.apic_id, m.ldr
    c.dfr_model, c.arb_priority, c.enabled, c.ipi = m.dfr_model, m.arb_priority, m.enabled, m.ipi_pending
    return c


def test_lapic_sampler_in_the_checker(spec: Spec) -> None:
    cov = Coverage(define(spec))
    checker = LapicChecker(LapicModel(spec, 0), sampler=LapicSampler(spec, cov))
    expected: dict[str, Any] = {}
    _write(checker, spec, "SVR", 0x1FF)
    _write(checker, spec, "LVT_LINT0", 0x1_0400)  # masked, NMI delivery (SDM: bits 10:8 = 100b)
    _write(checker, spec, "TDCR", 0xB)  # divide by 1
    _write(checker, spec, "LVT_TIMER", 0x2_0040)  # periodic, vector 0x40
    _write(checker, spec, "TMICT", 100)
    expected["lapic.lvt"] = {"LVT_LINT0/MASKED/NMI": 1, "LVT_TIMER/UNMASKED/PERIODIC": 1}
    expected["lapic.timer"] = {"PERIODIC/DIV1": 1}
    for vector in (0x51, 0x62):  # two nested interrupts: depth 1 then 2
        checker.step(_outputs(checker, Cycle(msg=_fixed(vector))))
        checker.step(_outputs(checker, Cycle()))  # IRR → the LAPIC's registered priority stage
        checker.step(_outputs(checker, Cycle(inta=True)))
        checker.step(_outputs(checker, Cycle()))
    assert cov.hits["lapic.nesting"] == {"1": 1, "2": 1}
    assert cov.hits["lapic.priority"] == {"TPR_BELOW/NO_ISR": 1, "TPR_BELOW/ISR_BELOW": 1}
    assert cov.hits["lapic.msg_in"] == {"FIXED/EDGE": 2}
    for point, bins in expected.items():
        assert cov.hits[point] == bins, point


def _fixed(vector: int) -> Any:
    from irqforge.sim.models.messages import Interrupt

    return Interrupt(vector)


# ------------------------------------------------------------------ x2APIC and the TSC-deadline timer
#
# MSR numbers and bits are the SDM's literals (vol. 3 §11.4.4, §11.5.4.1, §11.12.1, table 11-6), not the
# spec's: IA32_APIC_BASE 0x1B (EN bit 11, EXTD bit 10, BSP bit 8, base 0xFEE00000), IA32_TSC_DEADLINE
# 0x6E0, the x2APIC view at 0x800 + offset / 16.
APIC_BASE, DEADLINE = 0x1B, 0x6E0
XAPIC, X2APIC, DISABLED, INVALID = 0xFEE0_0800, 0xFEE0_0C00, 0xFEE0_0000, 0xFEE0_0400
X2_ID, X2_TPR, X2_APR, X2_EOI, X2_ICR, X2_LVTT, X2_SELF = 0x802, 0x808, 0x809, 0x80B, 0x830, 0x832, 0x83F
TSC_DEADLINE_MODE = 2 << 17  # LVT timer bits 18:17 = 10b


class _Bench:
    """The checker with the model as its "RTL" and a TSC the test counts (as the platform does)."""

    def __init__(self, spec: Spec) -> None:
        self.cov = Coverage(define(spec))
        self.checker = LapicChecker(LapicModel(spec, 0), sampler=LapicSampler(spec, self.cov))
        self.tsc = 1000

    def cycle(self, c: Cycle | None = None) -> None:
        c = c if c is not None else Cycle()
        m = self.checker.model
        c.tsc, c.ipi_ready, c.x2apic = self.tsc, True, m.x2apic
        self.checker.step(_outputs(self.checker, c))
        self.tsc += 1

    def msr(self, write: bool, addr: int, value: int = 0, *, fault: bool = False, rdata: int | None = None) -> None:
        """One access: valid for a cycle, then the accepting cycle with the answer the test expects."""
        self.cycle(Cycle(msr=(write, addr, value)))
        self.cycle(Cycle(msr=(write, addr, value), msr_ready=True, msr_fault=fault, msr_rdata=rdata or 0))

    def idle(self, n: int) -> None:
        for _ in range(n):
            self.cycle()

    def hits(self, point: str) -> dict[str, int]:
        return dict(self.cov.hits[point])


def test_apic_base_transitions_legal_and_gp(spec: Spec) -> None:
    b = _Bench(spec)
    b.msr(False, APIC_BASE, rdata=XAPIC | 1 << 8)  # BSP: initial APIC ID 0
    b.msr(True, APIC_BASE, XAPIC)  # staying in xAPIC
    b.msr(True, APIC_BASE, INVALID, fault=True)  # EXTD without EN
    b.msr(True, APIC_BASE, XAPIC | 1 << 9, fault=True)  # reserved bit 9
    b.msr(True, APIC_BASE, X2APIC)
    b.msr(True, APIC_BASE, XAPIC, fault=True)  # x2APIC → xAPIC: #GP (SDM Figure 11-27)
    b.msr(True, APIC_BASE, DISABLED)
    b.msr(True, APIC_BASE, X2APIC, fault=True)  # disabled → x2APIC: #GP
    b.msr(True, APIC_BASE, DISABLED)
    b.msr(True, APIC_BASE, XAPIC)
    b.msr(True, APIC_BASE, DISABLED)
    assert b.hits("lapic.apic_base") == {
        "READ/OK": 1, "XAPIC/XAPIC/OK": 1, "INVALID/GP": 1, "RESERVED/GP": 1, "XAPIC/X2APIC/OK": 1,
        "X2APIC/XAPIC/GP": 1, "X2APIC/DISABLED/OK": 1, "DISABLED/X2APIC/GP": 1, "DISABLED/DISABLED/OK": 1,
        "DISABLED/XAPIC/OK": 1, "XAPIC/DISABLED/OK": 1,
    }
    assert b.cov.other["lapic.apic_base"] == 0
    assert not b.hits("lapic.x2apic_msr")  # IA32_APIC_BASE is not the x2APIC view


def test_x2apic_msr_classes(spec: Spec) -> None:
    b = _Bench(spec)
    b.msr(False, X2_ID, fault=True)  # the view outside x2APIC mode
    b.msr(True, APIC_BASE, X2APIC)
    b.msr(True, 0x80F, 0x1FF)  # SVR: enabled
    b.msr(False, X2_ID, rdata=0)
    b.msr(True, X2_ID, 5, fault=True)  # read-only
    b.msr(False, X2_EOI, fault=True)  # write-only
    b.msr(False, X2_APR, fault=True)  # absent in x2APIC mode
    b.msr(True, X2_TPR, 1 << 32, fault=True)  # bits 63:32 of a 32-bit register
    b.msr(True, X2_TPR, 0x20)
    b.msr(True, X2_EOI, 1, fault=True)  # a non-zero EOI
    b.msr(True, X2_EOI, 0)
    b.msr(True, X2_ICR, 3 << 18 | 0x40)  # all excluding self, physical
    b.idle(3)
    b.msr(True, X2_ICR, 1 << 32 | 1 << 11 | 0x41)  # no shorthand, logical, destination 1
    b.idle(3)
    b.msr(True, X2_ICR, 1 << 13 | 0x42, fault=True)  # reserved bit 13
    b.msr(True, X2_SELF, 0x43)
    b.idle(3)
    b.msr(True, X2_SELF, 0x143, fault=True)  # bits above the vector
    b.msr(False, X2_ICR, rdata=1 << 32 | 1 << 11 | 0x41)  # the ICR keeps the last IPI sent by ICR
    assert b.hits("lapic.x2apic_msr") == {
        "NOT_X2APIC/GP": 1, "WRITE/OK": 2, "READ/OK": 1, "RO_WRITE/GP": 1, "WO_READ/GP": 1, "ABSENT/GP": 1,
        "RESERVED/GP": 1, "EOI/GP": 1, "EOI/OK": 1, "ICR/ALL_EXCL/PHYSICAL/OK": 1, "ICR/NONE/LOGICAL/OK": 1,
        "ICR/GP": 1, "SELF_IPI/OK": 1, "SELF_IPI/GP": 1, "ICR_READ/OK": 1,
    }
    assert b.cov.other["lapic.x2apic_msr"] == 0


def test_tsc_deadline_events(spec: Spec) -> None:
    b = _Bench(spec)
    b.msr(True, APIC_BASE, X2APIC)
    b.msr(True, 0x80F, 0x1FF)
    b.msr(True, DEADLINE, b.tsc + 50)  # one-shot mode: ignored
    assert b.hits("lapic.tsc_deadline") == {"WRITE_IGNORED": 1}
    b.msr(True, X2_LVTT, TSC_DEADLINE_MODE | 0x50)
    b.msr(True, DEADLINE, b.tsc + 20)
    b.idle(10)
    assert b.hits("lapic.tsc_deadline") == {"WRITE_IGNORED": 1, "ARMED": 1}
    b.idle(15)
    assert b.hits("lapic.tsc_deadline")["FIRED"] == 1
    b.msr(True, DEADLINE, 1)  # long past: fires at once
    b.idle(2)
    b.msr(True, DEADLINE, b.tsc + 30)
    b.msr(True, DEADLINE, 0)  # disarmed before it was due: no fire afterwards
    b.idle(60)
    b.msr(True, DEADLINE, b.tsc + 30)
    b.msr(True, X2_LVTT, 0x50)  # one-shot: leaves the mode
    b.idle(60)
    b.msr(True, X2_LVTT, TSC_DEADLINE_MODE | 0x50)
    b.msr(True, DEADLINE, b.tsc + 30)
    b.msr(True, APIC_BASE, DISABLED)  # the APIC reset
    b.idle(60)
    assert b.hits("lapic.tsc_deadline") == {
        "WRITE_IGNORED": 1, "ARMED": 4, "FIRED": 1, "ARMED_PAST": 1, "FIRED_PAST": 1, "DISARMED_ZERO": 1,
        "DISARMED_MODE": 1, "DISARMED_RESET": 1,
    }
    assert b.cov.other["lapic.tsc_deadline"] == 0


def _state(apic_id: int, ldr: int, x2apic: bool, dfr_model: int = 0xF) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(apic_id=apic_id, ldr=ldr, dfr_model=dfr_model, arb_priority=0, enabled=True,
                           x2apic=x2apic)


def test_x2apic_destination_bins(spec: Spec) -> None:
    """KVM ``kvm_apic_match_dest`` / ``kvm_apic_mda``: what each receiver of a mixed system matches."""
    from irqforge.sim.models.coverage import x2apic_dest
    from irqforge.sim.models.messages import DeliveryMode, DestMode, IoApicMessage, Ipi, Shorthand, Trigger

    cov = Coverage(define(spec))
    # an x2APIC LAPIC with ID 0x123 (LDR: cluster 0x12, bit 3) and an xAPIC one, flat logical ID 0x02
    mixed = [_state(0x123, 0x12 << 16 | 1 << 3, True), _state(1, 0x02 << 24, False)]

    def ipi(dest: int, dest_mode: DestMode = DestMode.PHYSICAL, shorthand: Shorthand = Shorthand.NONE) -> Ipi:
        return Ipi(0x40, DeliveryMode.FIXED, dest_mode, dest, shorthand, Trigger.EDGE, 1, 1)

    def hits(msg: Any, lapics: list[Any], sender: int | None) -> dict[str, int]:
        before = dict(cov.hits["router.x2apic_dest"])
        x2apic_dest(cov, msg, lapics, sender)
        return {k: v - before.get(k, 0) for k, v in cov.hits["router.x2apic_dest"].items() if v != before.get(k, 0)}

    io_ff = IoApicMessage(0x30, DeliveryMode.FIXED, DestMode.PHYSICAL, 0xFF, Trigger.EDGE)
    assert hits(io_ff, mixed, None) == {"BCAST8_IRQ/X2APIC/MATCH": 1, "BCAST8_IRQ/XAPIC/MATCH": 1}
    assert hits(ipi(0xFF), mixed, 1) == {"BCAST8_IPI/X2APIC/MISS": 1, "BCAST8_IPI/XAPIC/MATCH": 1}
    assert hits(ipi(0xFFFF_FFFF), mixed, 0) == {"BCAST32/X2APIC/MATCH": 1, "BCAST32/XAPIC/MISS": 1}
    assert hits(ipi(0x123), mixed, 1) == {"PHYS32/X2APIC/MATCH": 1, "PHYS32/XAPIC/MISS": 1}
    assert hits(ipi(1), mixed, 0) == {"PHYS8/X2APIC/MISS": 1, "PHYS8/XAPIC/MATCH": 1}
    assert hits(ipi(0x12 << 16 | 0x8, DestMode.LOGICAL), mixed, 1) == {
        "LOGICAL/X2APIC/MATCH": 1, "LOGICAL/XAPIC/MISS": 1}
    # not destination matching: a shorthand, or no x2APIC LAPIC at all
    assert hits(ipi(0, shorthand=Shorthand.ALL_INCL), mixed, 0) == {}
    assert hits(ipi(0xFF), [_state(0, 1 << 24, False), _state(1, 2 << 24, False)], 0) == {}
    assert cov.other["router.x2apic_dest"] == 0


def test_platform_model_msr_walk_hits_the_new_bins_and_nothing_else(spec: Spec) -> None:
    """The platform job's model side: the MSR walk reaches every new coverpoint with no sample outside
    the bins; a job without MSR traffic (bus errors) leaves them empty."""
    from irqforge.sim.models import coverage
    from irqforge.sim.regress.suites import _on_model

    new = ("lapic.apic_base", "lapic.x2apic_msr", "lapic.tsc_deadline", "platform.tsc", "router.x2apic_dest")
    coverage.reset()
    try:
        _on_model(spec, [("irqforge.sim.backends.scenarios:bus_errors", {})])
        cov = coverage.collector(spec)
        assert all(not cov.hits[p] for p in new)
        (result,), _ = _on_model(spec, [("irqforge.sim.regress.msr_walk:msr_walk", {"seed": 5, "steps": 120})])
        report = cov.report()["coverpoints"]
    finally:
        coverage.reset()
    kinds = {entry[0] for entry in result["log"]}
    assert {"mode", "icr", "deadline", "tsc", "io"} <= kinds and result["faults"] > 0
    for point in new:
        assert report[point]["other_samples"] == 0, point
        assert report[point]["percent"] >= 50, (point, report[point])
    assert report["lapic.tsc_deadline"]["percent"] == 100
    assert report["lapic.apic_base"]["bins"]["X2APIC/XAPIC/GP"] + report["lapic.apic_base"]["bins"][
        "DISABLED/X2APIC/GP"] > 0


def test_an_init_through_lint0_disarms_the_deadline_as_a_reset(spec: Spec) -> None:
    """LVT LINT0 with INIT delivery (SDM Figure 11-8: bits 10:8 = 101b, edge): a rising LINT0 resets the
    APIC at the edge, which disarms a deadline not yet due."""
    b = _Bench(spec)
    b.msr(True, APIC_BASE, X2APIC)
    b.msr(True, 0x80F, 0x1FF)
    b.msr(True, 0x835, 0x500)  # LVT_LINT0: INIT, unmasked
    b.msr(True, X2_LVTT, TSC_DEADLINE_MODE | 0x50)
    b.msr(True, DEADLINE, b.tsc + 100)
    b.cycle(Cycle(lint=(1, 0)))
    b.idle(150)
    assert b.hits("lapic.tsc_deadline") == {"ARMED": 1, "DISARMED_RESET": 1}
    assert b.cov.other["lapic.tsc_deadline"] == 0
