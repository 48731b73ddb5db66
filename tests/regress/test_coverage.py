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
