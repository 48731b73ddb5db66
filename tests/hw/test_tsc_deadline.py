"""The TSC-deadline timer of the Local APIC RTL (hw/lapic.py), in lock step with the model.

Sources: Intel SDM vol. 3 §11.5.4.1 (TSC-deadline mode: arm by writing
IA32_TSC_DEADLINE 6E0H in LVT timer mode 10b, fires once when TSC ≥ the
deadline, a write of 0 disarms, leaving the mode disarms, TMICT writes are
ignored), kvm-unit-tests ``x86/apic.c`` ``test_tsc_deadline_timer`` /
``__test_tsc_deadline_timer`` ("tsc deadline timer clearing": the MSR reads 0
after firing) and KVM ``kvm_get_lapic_tscdeadline_msr`` (reads 0 outside the
mode). The bench's ``tsc`` input counts one per cycle from 1000; the timer
fires at the edge ending the first cycle whose TSC is ≥ the deadline, so the
IRR bit is there in the next cycle and ``intr`` two cycles after that cycle.
"""

from __future__ import annotations

import pytest
from test_lapic import CoreBench, run

from irqforge.spec import Spec, load_default

MSR_IA32_TSC_DEADLINE = 0x6E0
APIC_LVT_TIMER_TSCDEADLINE = 2 << 17  # Linux apicdef.h
APIC_LVT_MASKED = 1 << 16
TSC_DEADLINE_VECTOR = 0xEC  # LOCAL_TIMER_VECTOR in Linux


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_default()


async def deadline_mode(b: CoreBench, masked: bool = False) -> None:
    await b.enable()
    await b.write("LVT_TIMER", APIC_LVT_TIMER_TSCDEADLINE | TSC_DEADLINE_VECTOR | (APIC_LVT_MASKED if masked else 0))


async def wait_intr(b: CoreBench, limit: int = 200) -> int:
    """The TSC of the first cycle with ``intr`` high."""
    for _ in range(limit):
        c = await b.cycle()
        if c.intr:
            assert c.tsc is not None and c.vector == TSC_DEADLINE_VECTOR
            return c.tsc
    raise AssertionError("the deadline timer did not fire")


def test_fires_once_at_the_deadline_and_msr_clears(spec: Spec) -> None:
    """kvm-unit-tests __test_tsc_deadline_timer: wrmsr(deadline = now + d), the interrupt comes,
    and the MSR reads 0 afterwards; the tick is within 2 cycles of TSC ≥ deadline (issue 13)."""

    async def body(b: CoreBench) -> None:
        await deadline_mode(b)
        deadline = b.tsc + 40
        await b.wrmsr(MSR_IA32_TSC_DEADLINE, deadline)
        assert await b.rdmsr(MSR_IA32_TSC_DEADLINE) == deadline  # armed
        seen = await wait_intr(b)
        assert seen == deadline + 2  # IRR at the edge ending cycle TSC = deadline, intr two cycles on
        assert await b.rdmsr(MSR_IA32_TSC_DEADLINE) == 0  # "tsc deadline timer clearing"
        assert await b.ack() == TSC_DEADLINE_VECTOR
        await b.write("EOI", 0)
        await b.idle(60)
        assert not b.last.intr and await b.read("IRR", 7) == 0  # once

    run(spec, body)


def test_deadline_in_the_past_fires_at_once(spec: Spec) -> None:
    """SDM 11.5.4.1: a deadline already passed fires immediately (the cycle after the write)."""

    async def body(b: CoreBench) -> None:
        await deadline_mode(b)
        await b.wrmsr(MSR_IA32_TSC_DEADLINE, 1)
        write_tsc = b.last.tsc
        assert write_tsc is not None
        assert await wait_intr(b) == write_tsc + 3  # armed after the write's edge, fires at the next

    run(spec, body)


def test_zero_disarms_and_leaving_the_mode_disarms(spec: Spec) -> None:
    """SDM 11.5.4.1: writing 0 disarms; switching LVT timer mode disarms (KVM also zeroes TMICT)."""

    async def body(b: CoreBench) -> None:
        await deadline_mode(b)
        await b.wrmsr(MSR_IA32_TSC_DEADLINE, b.tsc + 20)
        await b.wrmsr(MSR_IA32_TSC_DEADLINE, 0)
        await b.idle(40)
        assert not b.last.intr and await b.read("IRR", 7) == 0
        await b.wrmsr(MSR_IA32_TSC_DEADLINE, b.tsc + 20)
        await b.write("LVT_TIMER", TSC_DEADLINE_VECTOR)  # one-shot: leaves the mode
        assert await b.rdmsr(MSR_IA32_TSC_DEADLINE) == 0
        await b.idle(40)
        assert not b.last.intr and await b.read("IRR", 7) == 0

    run(spec, body)


def test_outside_deadline_mode_msr_reads_0_and_ignores_writes(spec: Spec) -> None:
    """KVM kvm_get/set_lapic_tscdeadline_msr: in one-shot/periodic mode the MSR reads 0 and writes
    are dropped; in deadline mode TMICT writes are ignored and TMCCT reads 0 (SDM 11.5.4.1)."""

    async def body(b: CoreBench) -> None:
        await b.enable()
        await b.write("LVT_TIMER", TSC_DEADLINE_VECTOR)  # one-shot
        await b.wrmsr(MSR_IA32_TSC_DEADLINE, b.tsc + 5)
        assert await b.rdmsr(MSR_IA32_TSC_DEADLINE) == 0
        await b.idle(20)
        assert not b.last.intr
        await b.write("LVT_TIMER", APIC_LVT_TIMER_TSCDEADLINE | TSC_DEADLINE_VECTOR)
        await b.write("TMICT", 10)
        assert await b.read("TMICT") == 0 and await b.read("TMCCT") == 0
        await b.idle(30)
        assert not b.last.intr

    run(spec, body)


def test_masked_deadline_disarms_without_interrupt(spec: Spec) -> None:
    """A masked LVT timer: the deadline passes, no interrupt, and the MSR reads 0 (KVM clears
    the deadline when the timer expires whatever the mask)."""

    async def body(b: CoreBench) -> None:
        await deadline_mode(b, masked=True)
        await b.wrmsr(MSR_IA32_TSC_DEADLINE, b.tsc + 10)
        await b.idle(20)
        assert not b.last.intr and await b.read("IRR", 7) == 0
        assert await b.rdmsr(MSR_IA32_TSC_DEADLINE) == 0

    run(spec, body)


def test_rearm_while_due_fires_the_old_and_keeps_the_new(spec: Spec) -> None:
    """A write in the very cycle the old deadline is due: the old one fires, the new one is armed."""

    async def body(b: CoreBench) -> None:
        await deadline_mode(b)
        t0 = b.tsc
        await b.wrmsr(MSR_IA32_TSC_DEADLINE, t0 + 4)  # cycles t0 (valid) and t0 + 1 (accepted)
        await b.idle(1)
        await b.cycle(msr=(True, MSR_IA32_TSC_DEADLINE, t0 + 100))
        c = await b.cycle(msr=(True, MSR_IA32_TSC_DEADLINE, t0 + 100))
        assert c.msr_ready and c.tsc == t0 + 4  # accepted in the cycle the old deadline is due
        assert await b.read("IRR", 7) >> (TSC_DEADLINE_VECTOR & 31) & 1
        assert await b.rdmsr(MSR_IA32_TSC_DEADLINE) == t0 + 100

    run(spec, body)


def test_the_compare_sees_a_tsc_jump_one_cycle_late(spec: Spec) -> None:
    """The LAPIC registers "TSC ≥ deadline" a cycle ahead, from the ``tsc`` input of the cycle
    before plus one (hw/lapic.py): while ``tsc`` counts that is the rule above; when it jumps
    (the platform's WRMSR to IA32_TSC) the compare sees the new value one cycle late, in either
    direction. The model (the lock-step checker) follows the same rule."""

    async def body(b: CoreBench) -> None:
        await deadline_mode(b)
        deadline = b.tsc + 1000
        await b.wrmsr(MSR_IA32_TSC_DEADLINE, deadline)
        await b.idle(5)
        b.tsc = deadline + 500  # jump forward, past the deadline
        c = await b.cycle()
        assert c.tsc == deadline + 500 and not c.intr
        seen = await wait_intr(b)
        assert seen == deadline + 500 + 3  # fired at the edge ending the cycle after the jump (not 2)
        assert await b.ack() == TSC_DEADLINE_VECTOR
        await b.write("EOI", 0)

        deadline = b.tsc + 20
        await b.wrmsr(MSR_IA32_TSC_DEADLINE, deadline)
        while b.tsc < deadline:
            await b.cycle()
        b.tsc = 5  # jump back in the cycle the count reaches the deadline
        c = await b.cycle()
        assert c.tsc == 5
        c = await b.cycle()  # IRR from the edge ending the jump's cycle (the count reached the deadline)
        assert not c.intr
        c = await b.cycle()
        assert c.intr and c.vector == TSC_DEADLINE_VECTOR and c.tsc == 7
        assert await b.rdmsr(MSR_IA32_TSC_DEADLINE) == 0

    run(spec, body)
