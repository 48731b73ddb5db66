"""MSRs, the x2APIC driver and the TSC-deadline tick of the software stack, on the model machine.

Expected values are the SDM's and Linux's literals: IA32_APIC_BASE 0x1B
with EN (bit 11) and EXTD (bit 10) and its legal transitions (SDM vol. 3
§11.12.5: x2APIC → xAPIC only through disabled), the x2APIC MSRs 0x800 +
offset/16 (ICR 0x830, EOI 0x80B, SELF_IPI 0x83F), the logical ID
``cluster << 16 | 1 << (id & 15)`` (§11.12.10.2), Linux's ``-EIO`` from
``rdmsr_safe``/``wrmsr_safe`` and ``lapic_next_deadline``'s
``rdtsc() + delta * 8``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from irqforge.sim.backends import run_scenario
from irqforge.sim.backends.model import ModelMachine
from irqforge.spec import Spec
from irqforge.sw import Kernel, KernelConfig, KernelOops, MsrFault
from irqforge.sw.msr import EX_TYPE_RDMSR, MSR_IA32_APICBASE, MSR_IA32_TSC_DEADLINE
from irqforge.sw.tsc import TSC_DIVISOR, TscDeadlineTimer
from irqforge.sw.x2apic import X2Apic, apic_mode, x2apic_supported

EN, EXTD = 1 << 11, 1 << 10
EIO = 5
ICR_MSR, EOI_MSR, SELF_IPI_MSR = 0x830, 0x80B, 0x83F
NO_SUCH_MSR = 0xC0DE0001

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(autouse=True)
def _needs_x2apic(spec: Spec) -> None:
    if not x2apic_supported(spec):
        pytest.skip("the default spec has no x2APIC MSR view")


class Recorder(ModelMachine):
    """The model machine, recording every MSR access the kernel makes (what the CPU puts on the port)."""

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self.writes: list[tuple[int, int, int]] = []

    def wrmsr_sync(self, cpu: int, msr: int, value: int) -> None:
        self.writes.append((cpu, msr, value))
        super().wrmsr_sync(cpu, msr, value)


def _boot(spec: Spec, main: Callable[[Kernel], Any], **cfg: Any) -> tuple[Kernel, Any, Recorder]:
    cfg.setdefault("watchdog", False)
    m = Recorder(spec)
    k = Kernel(m, spec, KernelConfig(**cfg))
    out = m.run(k.run(main), max_cycles=20_000_000)
    return k, out, m


# --------------------------------------------------------------------------- the seam and #GP


def test_machine_raises_msr_fault(spec: Spec) -> None:
    m = ModelMachine(spec)

    async def scenario() -> tuple[int, str]:
        base = await m.rdmsr(0, MSR_IA32_APICBASE)
        with pytest.raises(MsrFault) as caught:
            await m.rdmsr(1, NO_SUCH_MSR)
        assert (caught.value.cpu, caught.value.msr, caught.value.write) == (1, NO_SUCH_MSR, False)
        return base, str(caught.value)

    base, text = m.run(scenario())
    assert base & EN and not base & EXTD  # xAPIC mode out of reset
    assert base & (1 << 8)  # BSP on CPU 0
    assert "raised #GP" in text


def test_rdmsr_safe_is_a_gp_through_the_idt_and_the_exception_table(spec: Spec) -> None:
    async def main(k: Kernel) -> Any:
        seen = len(k.traps.events)
        out = await k.msr.rdmsrq_safe(NO_SUCH_MSR), await k.msr.wrmsrq_safe(NO_SUCH_MSR, 5)
        return out, k.traps.events[seen:]

    k, (out, events), _ = _boot(spec, main)
    assert out == ((-EIO, 0), -EIO)
    # the #GP(0) of each, fixed up: iret returns to the instruction after it (rdmsr/wrmsr: 2 bytes)
    gp = [(e.ip, e.error_code, e.fixed_up, e.cpu) for e in events if e.trapnr == 13]
    assert gp == [
        (k.msr.insn["native_read_msr_safe"] + 2, 0, True, 0),
        (k.msr.insn["native_write_msr_safe"] + 2, 0, True, 0),
    ]
    assert not k.oopses


def test_unchecked_rdmsr_warns_once_and_reads_zero(spec: Spec) -> None:
    async def main(k: Kernel) -> list[int]:
        got = [await k.msr.rdmsrq(NO_SUCH_MSR), await k.msr.rdmsrq(NO_SUCH_MSR + 1)]
        await k.msr.wrmsrq(NO_SUCH_MSR, 0x1_0000_0002)
        return got

    k, out, _ = _boot(spec, main, apic="xapic")
    assert out == [0, 0]
    log = k.dmesg()
    assert log.count("unchecked MSR access error: RDMSR from") == 1
    assert f"RDMSR from 0x{NO_SUCH_MSR:x} at rIP: 0x{k.msr.insn['native_read_msr']:x}" in log
    assert "WRMSR to 0xc0de0001 (tried to write 0x0000000100000002)" in log
    assert [(f.msr, f.write) for f in k.msr.unchecked] == [
        (NO_SUCH_MSR, False), (NO_SUCH_MSR + 1, False), (NO_SUCH_MSR, True)
    ]


def test_a_faulting_msr_without_a_fixup_is_an_oops(spec: Spec) -> None:
    async def main(k: Kernel) -> Any:
        seen = len(k.traps.events)
        del k.entry.extable.entries[k.msr.insn["native_read_msr"]]
        t = k.kthread_create_on_cpu(lambda: k.msr.rdmsrq(NO_SUCH_MSR), cpu=0, name="bad_rdmsr")
        with pytest.raises(KernelOops):
            await k.kthread_join(t)
        return [(e.ip, e.fixed_up) for e in k.traps.events[seen:] if e.trapnr == 13]

    k, out, _ = _boot(spec, main)
    assert out == [(k.msr.insn["native_read_msr"], False)]
    assert any("general protection fault: 0000" in o for o in k.oopses)
    assert EX_TYPE_RDMSR == 9  # arch/x86/include/asm/extable_fixup_types.h


def test_illegal_apic_base_transitions_fault(spec: Spec) -> None:
    """x2APIC → xAPIC directly and EN=0 with EXTD=1 raise #GP; x2APIC → disabled → xAPIC is legal."""

    async def main(k: Kernel) -> list[Any]:
        flags = k.local_irq_save()
        msr = k.msr
        _, base = await msr.rdmsrq_safe(MSR_IA32_APICBASE)
        seen: list[Any] = [base & (EN | EXTD)]
        seen.append(await msr.wrmsrq_safe(MSR_IA32_APICBASE, base & ~EXTD))  # x2APIC -> xAPIC
        seen.append(await msr.wrmsrq_safe(MSR_IA32_APICBASE, base & ~EN))  # EN=0, EXTD=1: invalid
        seen.append((await msr.rdmsrq_safe(MSR_IA32_APICBASE))[1] & (EN | EXTD))  # unchanged
        seen.append(await msr.wrmsrq_safe(MSR_IA32_APICBASE, base & ~(EN | EXTD)))  # -> disabled
        seen.append(await msr.wrmsrq_safe(MSR_IA32_APICBASE, base))  # disabled -> x2APIC
        seen.append(await msr.wrmsrq_safe(MSR_IA32_APICBASE, base & ~EXTD))  # disabled -> xAPIC
        seen.append(await msr.wrmsrq_safe(MSR_IA32_APICBASE, base))  # xAPIC -> x2APIC
        k.local_irq_restore(flags)
        return seen

    _, out, _ = _boot(spec, main, apic="x2apic", lapic_timer=False)
    assert out == [EN | EXTD, -EIO, -EIO, EN | EXTD, 0, -EIO, 0, 0]


# --------------------------------------------------------------------------- the x2APIC driver


def test_kernel_picks_x2apic_and_the_deadline_tick_when_the_spec_has_them(spec: Spec) -> None:
    async def main(k: Kernel) -> list[int]:
        return [(await k.msr.rdmsrq(MSR_IA32_APICBASE)) & (EN | EXTD)]

    k, out, m = _boot(spec, main, tick_limit=3)
    assert isinstance(k.apic, X2Apic) and k.apic.name == "physical x2apic"
    assert out == [EN | EXTD]
    assert all(isinstance(t, TscDeadlineTimer) for t in k.apic.timers.values())
    assert "x2apic enabled" in k.dmesg()
    # every CPU switched its own LAPIC (EXTD written on each), EOIs are MSR writes of 0
    assert {c for c, a, v in m.writes if a == MSR_IA32_APICBASE and v & EXTD} == set(range(k.ncpus))
    assert any(a == EOI_MSR and v == 0 for _, a, v in m.writes)
    # forced xAPIC: no x2APIC MSR at all
    k2, _, m2 = _boot(spec, main, apic="xapic", tick_limit=3)
    assert not isinstance(k2.apic, X2Apic)
    assert not [a for _, a, _ in m2.writes if 0x800 <= a <= 0x8FF]


def test_x2apic_boot_raises_no_gp(spec: Spec) -> None:
    """The x2APIC boot path: ESR written 0 (SDM vol. 3 table 11-6: only a non-zero write #GPs),
    no DFR, no ICR_HI, the LDR only read — no #GP at all."""

    async def main(k: Kernel) -> None:
        return None

    k, _, _ = _boot(spec, main, apic="x2apic", tick_limit=3)
    assert [(e.cpu, k.symbol_at(e.ip - 0x12)) for e in k.traps.events] == []
    assert "unchecked MSR" not in k.dmesg()


@pytest.mark.parametrize("dest", ["physical", "cluster"])
def test_x2apic_ipis(spec: Spec, dest: str) -> None:
    """smp_call_function_many to CPUs 1..3: one ICR write per CPU with its 32-bit APIC ID
    (physical), or one logical write to the cluster with the OR of their logical IDs."""
    four = spec.with_cpus(4)

    async def main(k: Kernel) -> list[int]:
        calls = [0] * k.ncpus

        def remote(_info: Any) -> None:
            calls[k.smp_processor_id()] += 1

        k.preempt_disable()
        await k.smp.smp_call_function_many([1, 2, 3], remote, None, True)
        await k.preempt_enable()
        return calls

    k, calls, m = _boot(four, main, apic="x2apic", x2apic_dest=dest, lapic_timer=False)
    assert calls == [0, 1, 1, 1]
    vector = four.vectors["CALL_FUNCTION_VECTOR"]
    ids = [c.apic_id for c in four.platform.cpus]
    icr = [(v >> 32, v & 0xFFFFFFFF) for c, a, v in m.writes if a == ICR_MSR and c == 0 and v & 0xFF == vector]
    if dest == "physical":
        assert icr == [(ids[1], vector), (ids[2], vector), (ids[3], vector)]
    else:
        # SDM 11.12.10.2: logical x2APIC ID = cluster (ID[31:4]) << 16 | 1 << ID[3:0]
        ldr = {i: (ids[i] >> 4) << 16 | 1 << (ids[i] & 15) for i in range(4)}
        assert k.apic.logical_id == ldr
        want: dict[int, int] = {}
        for i in (1, 2, 3):
            want[ldr[i] >> 16] = want.get(ldr[i] >> 16, 0) | ldr[i]
        assert icr == [(d, vector | 1 << 11) for d in want.values()]
    assert [k.cpus[i].irq_stat["CAL"] for i in range(4)] == [0, 1, 1, 1]


def test_send_ipi_self_writes_self_ipi(spec: Spec) -> None:
    async def main(k: Kernel) -> int:
        before = k.this_cpu.irq_stat["RES"]
        await k.send_IPI_self(k.smp.RESCHEDULE_VECTOR)
        await k.cpu_relax(64)
        return k.this_cpu.irq_stat["RES"] - before

    _, got, m = _boot(spec, main, apic="x2apic", lapic_timer=False)
    assert got == 1
    assert (0, SELF_IPI_MSR, spec.vectors["RESCHEDULE_VECTOR"]) in m.writes


# --------------------------------------------------------------------------- TSC-deadline


def test_deadline_tick_programs_rdtsc_plus_delta_times_8(spec: Spec) -> None:
    async def main(k: Kernel) -> int:
        for dev in k.apic.timers.values():
            await k.timers.jiffies_wq.wait_event(dev.limit_done)
        return 0

    k, _, m = _boot(spec, main, apic="x2apic", tick_limit=2)
    dev = k.apic.timers[0]
    assert isinstance(dev, TscDeadlineTimer) and dev.name == "lapic-deadline"
    assert dev.freq == spec.platform.clock_hz // TSC_DIVISOR
    deadlines = [v for c, a, v in m.writes if c == 0 and a == MSR_IA32_TSC_DEADLINE and v]
    assert deadlines and deadlines == dev.deadlines
    # about one jiffy apart in TSC cycles
    period = spec.platform.clock_hz // k.HZ
    assert all(abs((b - a) - period) < period // 10 for a, b in itertools.pairwise(deadlines))
    # shut down after its limit: LVT masked, then the deadline written 0 (lapic_timer_shutdown)
    assert (0, MSR_IA32_TSC_DEADLINE, 0) in m.writes


def test_deadline_fires_at_the_programmed_tsc(spec: Spec) -> None:
    """Armed with IF=0: intr is low at every TSC below the deadline and high once it is reached."""
    delta = 1000

    async def main(k: Kernel) -> tuple[int, list[tuple[int, bool]]]:
        flags = k.local_irq_save()
        tm = k.spec.lapic.register("LVT_TIMER").field("TIMER_MODE")
        await k.apic.write("LVT_TIMER", k.apic.LOCAL_TIMER_VECTOR | tm.enum("TSC_DEADLINE") << tm.lsb)
        deadline = await k.msr.rdtsc() + delta
        await k.msr.wrmsrq(MSR_IA32_TSC_DEADLINE, deadline)
        seen: list[tuple[int, bool]] = []
        while True:
            tsc = await k.msr.rdtsc()
            pending = k.machine.intr_pending(0)
            seen.append((tsc, pending))
            if pending:
                break
        k.local_irq_restore(flags)
        return deadline, seen

    _, (deadline, seen), _ = _boot(spec, main, apic="x2apic", lapic_timer=False)
    assert all(tsc < deadline + 8 for tsc, pending in seen if not pending)
    assert all(not pending for tsc, pending in seen if tsc < deadline)
    assert seen[-1][1] and deadline <= seen[-1][0] <= deadline + 8


# --------------------------------------------------------------------------- both modes, same results


def test_apic_modes_give_the_same_default_scenario(spec: Spec) -> None:
    kwargs: dict[str, Any] = {"boot_ticks": 2, "ticks": 4, "irqs": 3, "ipis": 1, "munmaps": 1}
    results = {}
    for mode in ("xapic", "x2apic"):
        with apic_mode(mode):
            results[mode] = run_scenario("model", "irqforge.sw.scenario:default_scenario", spec, **kwargs)

    def untimed(r: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in r.items() if k not in ("timing", "wall_s", "backend")}

    assert untimed(results["x2apic"]) == untimed(results["xapic"])
    assert "LOC:" in results["x2apic"]["proc_interrupts"]
