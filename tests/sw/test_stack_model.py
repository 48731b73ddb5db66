"""The whole stack on the model backend: boot, demo scenario, deferred work, exceptions."""

from __future__ import annotations

from typing import Any

from irqforge.sw.kernel import Kernel
from irqforge.sw.softirq import HI_SOFTIRQ, NET_RX_SOFTIRQ, TIMER_SOFTIRQ
from irqforge.sw.traps import X86_PF_USER, X86_PF_WRITE


def _demo(spec: Any, **kw: Any) -> dict[str, Any]:
    from irqforge.sim.backends.model import ModelMachine
    from irqforge.sw.scenario import default_scenario

    m = ModelMachine(spec)
    return m.run(default_scenario(m, **kw), max_cycles=100_000_000)


def test_demo_counts_and_determinism(spec: Any) -> None:
    r = _demo(spec, boot_ticks=5, ticks=20, irqs=6, ipis=3, munmaps=2)
    assert r["jiffies"] == 25
    assert r["arch"]["LOC"] == [20, 20]
    assert r["irqs"]["0"] == [5, 0]
    assert r["irqs"]["16"] == [2, 2]  # affinity moved to CPU 1 half-way
    assert r["arch"]["TLB"] == [0, 2]
    assert r["function_calls"] == 3
    assert r["work_done"] == 2
    assert r["order"] == ["i8042", "eth0", "ehci_hcd:usb1"] * 2
    assert r["oopses"] == []
    assert _demo(spec, boot_ticks=5, ticks=20, irqs=6, ipis=3, munmaps=2) == r


def test_proc_interrupts_format(spec: Any) -> None:
    text = _demo(spec, boot_ticks=3, ticks=5, irqs=6, ipis=1, munmaps=1)["proc_interrupts"]
    lines = text.splitlines()
    assert lines[0] == " " * 11 + "CPU0       CPU1       "
    assert lines[1] == "  0:          3          0  IO-APIC   2-edge      timer"
    assert " 16:          2          2  IO-APIC  16-fasteoi   eth0, ehci_hcd:usb1" in lines
    assert "LOC:          5          5   Local timer interrupts" in lines
    assert lines[-2] == "ERR:          0"
    assert lines[-1] == "MIS:          0"


def test_softirq_order_and_restart_limit(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        order: list[str] = []
        k.softirq.open_softirq(HI_SOFTIRQ, lambda: order.append("HI"))
        k.softirq.open_softirq(TIMER_SOFTIRQ, lambda: order.append("TIMER") or k.timers.run_timer_softirq())
        k.softirq.local_bh_disable()
        k.softirq.raise_softirq(TIMER_SOFTIRQ)
        k.softirq.raise_softirq(HI_SOFTIRQ)
        await k.softirq.local_bh_enable()
        out["order"] = list(order)
        runs = [0]

        def again() -> None:
            runs[0] += 1
            k.softirq.raise_softirq(NET_RX_SOFTIRQ)

        k.softirq.open_softirq(NET_RX_SOFTIRQ, again)
        k.softirq.passes.clear()
        k.softirq.local_bh_disable()
        k.softirq.raise_softirq(NET_RX_SOFTIRQ)
        await k.softirq.local_bh_enable()
        out["passes"] = list(k.softirq.passes)
        out["runs_inline"] = runs[0]
        out["pending"] = k.softirq.local_softirq_pending()
        k.softirq.open_softirq(NET_RX_SOFTIRQ, lambda: runs.__setitem__(0, runs[0] + 1))
        await k.msleep(2)
        out["ksoftirqd_runs"] = k.this_cpu.data.get("ksoftirqd_runs", 0)

    boot(main, lapic_timer=True)
    assert out["order"] == ["HI", "TIMER"]
    # Linux kernel/softirq.c: MAX_SOFTIRQ_RESTART 10, so a softirq that re-raises itself runs
    # exactly 10 passes inline before ksoftirqd takes over; NET_RX_SOFTIRQ is bit 3
    assert out["passes"][0] == 10
    assert out["runs_inline"] == 10
    assert out["pending"] & (1 << 3)
    assert out["ksoftirqd_runs"] >= 1


def test_exceptions_fixups_and_oops(boot: Any, spec: Any) -> None:
    vm = spec.vectors
    out: dict[str, Any] = {}

    async def victim(k: Kernel) -> None:
        await k.entry.raise_exception(vm["DE"], ip=0xFFFFFFFF81000AAA)
        out["survived"] = True

    async def main(k: Kernel) -> None:
        k.entry.extable.add(0xFFFFFFFF81001000, 0xFFFFFFFF81002000)
        regs = await k.entry.raise_exception(vm["DE"], ip=0xFFFFFFFF81001000)
        out["de_ip"] = regs.ip
        out["de_orig_ax"] = regs.orig_ax
        k.entry.extable.add(0xFFFFFFFF81003000, 0xFFFFFFFF81004000)
        regs = await k.entry.raise_exception(vm["PF"], X86_PF_WRITE, ip=0xFFFFFFFF81003000, cr2=0xDEAD000)
        out["pf"] = (regs.ip, regs.orig_ax, k.this_cpu.cr2)
        k.this_cpu.cpl = 3
        regs = await k.entry.raise_exception(vm["PF"], X86_PF_USER | X86_PF_WRITE, ip=0x401000, cr2=0x1234)
        k.this_cpu.cpl = 0
        out["user_sig"] = k.traps.signals[-1]
        k.entry.extable.add(0xFFFFFFFF81005000, 0xFFFFFFFF81006000)
        regs = await k.entry.raise_exception(vm["GP"], 0, ip=0xFFFFFFFF81005000)
        out["gp_ip"] = regs.ip
        k.this_cpu.cpl = 3
        regs = await k.entry.int_n(0x40, ip=0x401000)
        k.this_cpu.cpl = 0
        out["int_gp"] = k.traps.events[-1]
        t = k.kthread_create_on_cpu(victim, k, cpu=0, name="victim")
        await t.done.wait_for_completion()
        out["victim_exc"] = t.exception
        out["if_after"] = k.this_cpu.if_flag

    k, _ = boot(main, lapic_timer=False)
    assert out["de_ip"] == 0xFFFFFFFF81002000
    assert out["de_orig_ax"] == -1
    assert out["pf"] == (0xFFFFFFFF81004000, 0x2, 0xDEAD000)  # Linux trap_pf.h X86_PF_WRITE = 1 << 1
    assert out["user_sig"].signo == 11 and out["user_sig"].addr == 0x1234
    assert out["gp_ip"] == 0xFFFFFFFF81006000
    assert out["int_gp"].trapnr == 13 and out["int_gp"].error_code == 0x40 * 8 + 2
    assert "survived" not in out
    assert "divide error" in str(out["victim_exc"])
    assert len(k.oopses) == 1
    assert out["if_after"]
