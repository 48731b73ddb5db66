"""LAPIC error and spurious handlers, directed EOI, and the CPU's side of
delivery (gate types, IST, nesting, iret) on the model backend."""

from __future__ import annotations

from typing import Any

import pytest

from irqforge.sw.entry import X86_EFLAGS_IF, PtRegs
from irqforge.sw.irq import IRQ_HANDLED, IRQ_NONE, IRQF_TRIGGER_HIGH, IRQF_TRIGGER_RISING
from irqforge.sw.kernel import Kernel
from irqforge.sw.scenario import SimDevice

REMOTE_IRR_BIT = 1 << 14


async def read_rte(k: Kernel, pin: int) -> int:
    """The 64-bit redirection entry of ``pin``, read through IOREGSEL/IOWIN."""
    spec = k.spec
    base = spec.platform.base("ioapic")
    sel, win = base + spec.ioapic.offset("IOREGSEL"), base + spec.ioapic.offset("IOWIN")
    red = spec.ioapic.window("IOAPIC").register("REDTBL")
    idx = red.offset + pin * red.stride
    await k.machine.write32(0, sel, idx)
    lo = await k.machine.read32(0, win)
    await k.machine.write32(0, sel, idx + 1)
    hi = await k.machine.read32(0, win)
    return hi << 32 | lo


@pytest.mark.parametrize("apic", ["xapic", "x2apic"])
def test_apic_error_interrupt_reads_esr_and_counts_err(boot: Any, apic: str) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        await k.apic.send_IPI(1, 0x05)  # a fixed IPI with vector < 16: "Send illegal vector"
        await k.udelay(5)
        out["err"] = k.apic.irq_err_count
        out["esr_log"] = list(k.apic.esr_log)
        await k.apic.write("ESR", 0)  # latch again: nothing new happened
        out["esr_now"] = await k.apic.read("ESR")
        out["proc"] = k.proc.interrupts().splitlines()[-2]

    k, _ = boot(main, lapic_timer=False, apic=apic)
    assert out["err"] == 1
    assert out["esr_log"] == [(0, 1 << 5)]
    assert out["esr_now"] == 0
    assert out["proc"] == "ERR:          1"
    assert "APIC error on CPU0: 20(20) Send illegal vector" in k.dmesg()


def test_spurious_vector_when_tpr_rises_between_intr_and_inta(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        log: list[int] = []
        pin = k.spec.platform.isa_pin(1)
        kbd = SimDevice(k, "kbd", pin, level=False)

        def h(_irq: int, _d: Any) -> int:
            kbd.ack()
            log.append(1)
            kbd.done.complete()
            return IRQ_HANDLED

        assert await k.irq.request_irq(1, h, IRQF_TRIGGER_RISING, "kbd", kbd) == 0
        cpu = k.this_cpu
        flags = k.local_irq_save()
        kbd.fire()
        out["intr_seen"] = k.machine.intr_pending(0)  # the CPU samples INTR …
        await k.apic.write("TPR", 0xF0)  # … the TPR rises before the INTA cycle
        out["intr_after_tpr"] = k.machine.intr_pending(0)
        out["inta"] = await k.machine.acknowledge(0)
        cpu.vector_count[out["inta"]] += 1
        await k.entry.deliver(out["inta"], external=True)  # what the CPU does with the answer
        out["spu"] = cpu.irq_stat["SPU"]
        out["isr_spurious"] = await k.apic.isr_bit(k.apic.SPURIOUS_APIC_VECTOR)
        out["handled_while_masked"] = len(log)
        await k.apic.write("TPR", 0)
        k.local_irq_restore(flags)
        await kbd.done.wait_for_completion()
        out["handled"] = len(log)
        out["proc"] = [ln for ln in k.proc.interrupts().splitlines() if ln.startswith("SPU")]

    k, _ = boot(main, lapic_timer=False)
    assert out["intr_seen"] is True
    assert out["intr_after_tpr"] is False
    assert out["inta"] == 0xFF == k.spec.vectors.spurious
    assert out["spu"] == 1
    assert out["isr_spurious"] is False
    assert out["handled_while_masked"] == 0
    assert out["handled"] == 1  # the interrupt stayed in IRR and came once the TPR fell
    assert out["proc"] == ["SPU:          1          0   Spurious interrupts"]
    assert "spurious APIC interrupt through vector ff on CPU#0" in k.dmesg()


def _level_run(boot: Any, directed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        dev = SimDevice(k, "lvl", 16, level=True)

        def h(_irq: int, _d: Any) -> int:
            if not dev.status:
                return IRQ_NONE
            dev.ack()
            dev.handled += 1
            dev.done.complete()
            return IRQ_HANDLED

        assert await k.irq.request_irq(16, h, IRQF_TRIGGER_HIGH, "lvl", dev) == 0
        svr = await k.apic.read("SVR")
        out["svr_eoi_suppress"] = bool(svr & k.apic.SPIV_EOI_SUPPRESS)
        for _ in range(3):
            dev.done.reinit()
            dev.fire()
            await dev.done.wait_for_completion()
            await k.udelay(5)
            out.setdefault("remote_irr", []).append(bool(await read_rte(k, 16) & REMOTE_IRR_BIT))
        out["handled"] = dev.handled
        out["mis"] = k.ioapic.irq_mis_count

    boot(main, lapic_timer=False, directed_eoi=directed)
    return out


def test_directed_eoi_clears_remote_irr_through_the_ioapic_eoi_register(boot: Any) -> None:
    out = _level_run(boot, True)
    assert out["svr_eoi_suppress"] is True
    assert out["handled"] == 3  # a lost EOI would leave Remote IRR set and block the 2nd
    assert out["remote_irr"] == [False, False, False]
    assert out["mis"] == 0


def test_broadcast_eoi_without_directed_eoi(boot: Any) -> None:
    out = _level_run(boot, False)
    assert out["svr_eoi_suppress"] is False
    assert out["handled"] == 3
    assert out["remote_irr"] == [False, False, False]


def _install(k: Kernel, name: str, fn: Any) -> int:
    """Put ``fn(regs, error_code)`` into kernel text; its address for a gate."""
    return k.kallsym(name, fn)


def test_gate_types_ist_nesting_and_iret(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        cpu = k.this_cpu
        seen: dict[str, Any] = {}

        async def intr_stub(regs: PtRegs, ec: int) -> None:
            t = k.current
            seen["intr"] = (cpu.if_flag, len(t.frames), t.frames[-1].stack, t.frames[-1].rsp,
                            bool(regs.flags & X86_EFLAGS_IF))
            # nest a trap gate inside
            await k.entry.int_n(0x91, ip=0xFFFFFFFF81111000)
            seen["after_nested"] = cpu.if_flag

        async def trap_stub(regs: PtRegs, ec: int) -> None:
            t = k.current
            seen["trap"] = (cpu.if_flag, len(t.frames), t.frames[-1].stack, t.frames[-1].rsp,
                            t.frames[-2].rsp if len(t.frames) > 1 else None)
            seen["trap_regs_if"] = bool(regs.flags & X86_EFLAGS_IF)

        async def ist_stub(regs: PtRegs, ec: int) -> None:
            t = k.current
            seen["ist"] = (cpu.if_flag, t.frames[-1].stack, t.frames[-1].rsp)

        async def clear_if_stub(regs: PtRegs, ec: int) -> None:
            regs.flags &= ~X86_EFLAGS_IF  # the handler edits the saved RFLAGS: iret restores it

        idt = k.idt
        idt.set_intr_gate(0x90, _install(k, "test_intr", intr_stub))
        idt.set_trap_gate(0x91, _install(k, "test_trap", trap_stub))
        idt.set_intr_gate_ist(0x92, _install(k, "test_ist", ist_stub), 3)
        idt.set_trap_gate(0x93, _install(k, "test_clear_if", clear_if_stub))
        assert cpu.if_flag
        regs = await k.entry.int_n(0x90, ip=0xFFFFFFFF81110000)
        out["seen"] = dict(seen)
        out["if_after_iret"] = cpu.if_flag
        out["regs_ip"] = regs.ip
        out["frames_after"] = len(k.current.frames)
        await k.entry.int_n(0x92)
        out["ist"] = seen["ist"]
        out["tss_ist3"] = cpu.tss_ist[3]
        k.local_irq_disable()
        await k.entry.int_n(0x91)
        out["trap_with_if_off"] = (seen["trap"][0], seen["trap_regs_if"], cpu.if_flag)
        k.local_irq_enable()
        await k.entry.int_n(0x93)
        out["if_after_edited_iret"] = cpu.if_flag
        k.local_irq_enable()
        out["max_depth"] = k.entry.max_depth[0]

    boot(main, lapic_timer=False)
    s = out["seen"]
    if_in, depth, stack, rsp, saved_if = s["intr"]
    assert (if_in, depth, stack, saved_if) == (False, 1, "current", True)  # interrupt gate clears IF
    t_if, t_depth, t_stack, t_rsp, t_outer = s["trap"]
    assert (t_if, t_depth, t_stack) == (False, 2, "current")  # trap gate keeps IF (here: 0 from the outer gate)
    assert t_outer == rsp and t_rsp < rsp  # the nested frame is pushed below the outer one
    assert s["after_nested"] is False
    assert out["if_after_iret"] is True
    assert out["regs_ip"] == 0xFFFFFFFF81110000
    assert out["frames_after"] == 0
    ist_if, ist_stack, ist_rsp = out["ist"]
    assert (ist_if, ist_stack, ist_rsp) == (False, "IST3", out["tss_ist3"])
    assert out["trap_with_if_off"] == (False, False, False)
    assert out["if_after_edited_iret"] is False
    assert out["max_depth"] == 2


def test_trap_gate_leaves_if_set(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        async def trap_stub(regs: PtRegs, ec: int) -> None:
            out["if_in"] = k.this_cpu.if_flag

        k.idt.set_trap_gate(0x94, k.kallsym("test_trap_if", trap_stub))
        await k.entry.int_n(0x94)

    boot(main, lapic_timer=False)
    assert out["if_in"] is True


def test_device_interrupt_nests_an_exception_with_fixup_and_the_double_fault_ist(boot: Any, spec: Any) -> None:
    """A #DE inside a hard-irq handler is fixed up; the nested frame is at depth 2.
    The spec puts #DF and NMI on IST stacks (gate ist field)."""
    out: dict[str, Any] = {}
    vm = spec.vectors

    async def main(k: Kernel) -> None:
        dev = SimDevice(k, "dev", k.spec.platform.isa_pin(1), level=False)
        k.entry.extable.add(0xFFFFFFFF81007000, 0xFFFFFFFF81008000)
        seen = len(k.traps.events)  # this test's exceptions only

        async def handler(_irq: int, _d: Any) -> int:
            dev.ack()
            out["ctx"] = k.this_cpu.preempt_count & 0xF0000  # Linux HARDIRQ_MASK
            regs = await k.entry.raise_exception(vm["DE"], ip=0xFFFFFFFF81007000)
            out["fixed_ip"] = regs.ip
            out["depth_in_exc"] = k.entry.max_depth[0]
            dev.done.complete()
            return IRQ_HANDLED

        assert await k.irq.request_irq(1, handler, IRQF_TRIGGER_RISING, "dev", dev) == 0
        dev.fire()
        await dev.done.wait_for_completion()
        out["df_ist"] = k.idt.read_gate(vm["DF"]).ist
        out["nmi_ist"] = k.idt.read_gate(vm["NMI"]).ist
        out["events"] = [(e.trapnr, e.fixed_up) for e in k.traps.events[seen:]]

    boot(main, lapic_timer=False)
    assert out["ctx"] == 0x10000  # one hardirq level: Linux HARDIRQ_OFFSET
    assert out["fixed_ip"] == 0xFFFFFFFF81008000
    assert out["depth_in_exc"] == 2
    assert out["events"] == [(0, True)]
    assert out["df_ist"] > 0 and out["nmi_ist"] > 0
