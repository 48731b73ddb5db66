"""The generic IRQ layer on the model backend (reference B.3, B.4, B.10):
request/free with shared handlers, lazy disable and edge replay, the
99,900-of-100,000 spurious rule, /proc/interrupts and smp_affinity."""

from __future__ import annotations

from typing import Any

from irqforge.sw.irq import (
    IRQ_HANDLED,
    IRQ_NONE,
    IRQF_ONESHOT,
    IRQF_SHARED,
    IRQF_TRIGGER_HIGH,
    IRQF_TRIGGER_RISING,
    SPURIOUS_SAMPLE,
)
from irqforge.sw.kernel import Kernel
from irqforge.sw.scenario import SimDevice

EINVAL, EBUSY = 22, 16
MASK_BIT = 1 << 16
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


def edge_handler(dev: SimDevice, log: list[str]) -> Any:
    def handler(irq: int, dev_id: Any) -> int:
        assert dev_id is dev
        if not dev.status:
            return IRQ_NONE
        dev.ack()
        dev.handled += 1
        log.append(dev.name)
        dev.done.complete()
        return IRQ_HANDLED

    return handler


def test_request_irq_errors(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        def h(_irq: int, _dev: Any) -> int:
            return IRQ_HANDLED

        irq = k.irq
        out["shared_no_devid"] = await irq.request_irq(16, h, IRQF_SHARED | IRQF_TRIGGER_HIGH, "a", None)
        out["no_handler"] = await irq.request_irq(16, None, IRQF_TRIGGER_HIGH, "a", object())
        out["no_desc"] = await irq.request_irq(4000, h, 0, "a", object())
        out["ok"] = await irq.request_irq(16, h, IRQF_SHARED | IRQF_TRIGGER_HIGH, "a", "A")
        out["not_shared"] = await irq.request_irq(16, h, IRQF_TRIGGER_HIGH, "b", "B")
        out["trigger_mismatch"] = await irq.request_irq(16, h, IRQF_SHARED | IRQF_TRIGGER_RISING, "c", "C")
        out["oneshot_mismatch"] = await irq.request_irq(16, h, IRQF_SHARED | IRQF_TRIGGER_HIGH | IRQF_ONESHOT,
                                                        "d", "D")
        out["ok2"] = await irq.request_irq(16, h, IRQF_SHARED | IRQF_TRIGGER_HIGH, "e", "E")
        out["names"] = irq.handlers_of(16)
        out["excl"] = await irq.request_irq(17, h, IRQF_TRIGGER_HIGH, "x", None)
        out["excl_again"] = await irq.request_irq(17, h, IRQF_SHARED | IRQF_TRIGGER_HIGH, "y", "Y")
        out["dmesg"] = k.dmesg()

    boot(main, lapic_timer=False)
    assert out["shared_no_devid"] == -EINVAL
    assert out["no_handler"] == -EINVAL
    assert out["no_desc"] == -EINVAL
    assert out["ok"] == 0 and out["ok2"] == 0 and out["excl"] == 0
    assert out["not_shared"] == -EBUSY
    assert out["trigger_mismatch"] == -EBUSY
    assert out["oneshot_mismatch"] == -EBUSY
    assert out["excl_again"] == -EBUSY
    assert out["names"] == ["a", "e"]
    assert "genirq: Flags mismatch irq 16" in out["dmesg"]


def test_free_one_shared_handler_keeps_the_other(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        log: list[str] = []
        eth = SimDevice(k, "eth0", 16, level=True)
        usb = SimDevice(k, "usb", 16, level=True)
        for dev in (eth, usb):
            assert await k.irq.request_irq(16, edge_handler(dev, log), IRQF_SHARED | IRQF_TRIGGER_HIGH,
                                           dev.name, dev) == 0
        usb.fire()
        await usb.done.wait_for_completion()
        out["freed"] = await k.irq.free_irq(16, eth)
        out["free_unknown"] = await k.irq.free_irq(16, eth)
        out["names"] = k.irq.handlers_of(16)
        out["proc_row"] = [ln for ln in k.proc.interrupts().splitlines() if ln.startswith(" 16:")]
        usb.done.reinit()
        usb.fire()
        await usb.done.wait_for_completion()
        out["log"] = list(log)
        out["rte_before_last_free"] = await read_rte(k, 16)
        await k.irq.free_irq(16, usb)
        out["rte_after_last_free"] = await read_rte(k, 16)
        out["dmesg"] = k.dmesg()

    boot(main, lapic_timer=False)
    assert out["freed"] == "eth0"
    assert out["free_unknown"] is None
    assert "Trying to free already-free IRQ 16" in out["dmesg"]
    assert out["names"] == ["usb"]
    assert out["proc_row"][0].endswith("-fasteoi   usb")
    assert out["log"] == ["usb", "usb"]
    assert not out["rte_before_last_free"] & MASK_BIT
    assert out["rte_after_last_free"] & MASK_BIT


def test_enable_irq_replays_an_edge_that_came_while_disabled(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        log: list[str] = []
        pin = k.spec.platform.isa_pin(1)
        kbd = SimDevice(k, "i8042", pin, level=False)
        assert await k.irq.request_irq(1, edge_handler(kbd, log), IRQF_TRIGGER_RISING, "i8042", kbd) == 0
        desc = k.irq.irq_to_desc(1)
        assert desc is not None
        await k.irq.disable_irq(1)
        out["masked_after_disable"] = bool(await read_rte(k, pin) & MASK_BIT)  # lazy: not yet
        kbd.fire()
        await k.udelay(50)  # the edge arrives, the flow handler masks and marks it pending
        out["handled_while_disabled"] = kbd.handled
        out["pending"] = desc.pending
        out["masked_after_edge"] = bool(await read_rte(k, pin) & MASK_BIT)
        ipis_before = k.cpus[0].vector_count[desc.vector]
        await k.irq.enable_irq(1)
        await kbd.done.wait_for_completion()
        out["handled_after_enable"] = kbd.handled
        out["replayed_via_vector"] = k.cpus[0].vector_count[desc.vector] - ipis_before
        out["masked_after_enable"] = bool(await read_rte(k, pin) & MASK_BIT)
        await k.udelay(50)
        out["kstat"] = list(desc.kstat)
        # nested disable: two disables need two enables
        await k.irq.disable_irq(1)
        await k.irq.disable_irq(1)
        await k.irq.enable_irq(1)
        out["depth"] = desc.depth
        await k.irq.enable_irq(1)
        await k.irq.enable_irq(1)  # unbalanced
        out["dmesg"] = k.dmesg()

    boot(main, lapic_timer=False)
    assert out["masked_after_disable"] is False
    assert out["handled_while_disabled"] == 0
    assert out["pending"] is True
    assert out["masked_after_edge"] is True
    assert out["handled_after_enable"] == 1
    assert out["replayed_via_vector"] == 1
    assert out["masked_after_enable"] is False
    assert out["kstat"] == [1, 0]
    assert out["depth"] == 1
    assert "Unbalanced enable for IRQ 1" in out["dmesg"]


def test_nobody_cared_disables_a_screaming_line(boot: Any) -> None:
    """A level line nobody handles: the first 99,900 interrupts are counted
    through the real ``note_interrupt``, the last 100 are a real storm on the
    platform; at the 100,000th the line is disabled and its entry masked."""
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        calls = [0]

        def nobody(_irq: int, _dev: Any) -> int:
            calls[0] += 1
            return IRQ_NONE

        assert await k.irq.request_irq(16, nobody, IRQF_SHARED | IRQF_TRIGGER_HIGH, "deaf", "deaf") == 0
        desc = k.irq.irq_to_desc(16)
        assert desc is not None
        real = 100
        for _ in range(SPURIOUS_SAMPLE - real):
            await k.irq.note_interrupt(desc, IRQ_NONE)
        out["count_before_storm"] = (desc.irq_count, desc.irqs_unhandled)
        out["disabled_before"] = desc.disabled
        k.machine.set_irq(16, 1)  # asserted and never deasserted: a storm
        await k.udelay(2000)
        out["calls"] = calls[0]
        out["kstat"] = sum(desc.kstat)
        out["disabled"] = (desc.disabled, desc.spurious_disabled, desc.depth)
        out["rte"] = await read_rte(k, 16)
        out["reports"] = list(k.irq.bad_irq_reports)
        out["dmesg"] = k.dmesg()
        out["poll_armed"] = k.timers._poll_timer is not None and k.timers.timer_pending(k.timers._poll_timer)

    boot(main, lapic_timer=False)
    assert out["count_before_storm"] == (SPURIOUS_SAMPLE - 100, SPURIOUS_SAMPLE - 100)
    assert out["disabled_before"] is False
    assert out["calls"] == 100
    assert out["kstat"] == 100
    assert out["disabled"] == (True, True, 1)
    assert out["rte"] & MASK_BIT
    assert 'irq 16: nobody cared (try booting with the "irqpoll" option)' in out["dmesg"]
    assert "Disabling IRQ #16" in out["dmesg"]
    assert "nobody" in out["reports"][0]
    assert out["poll_armed"]


def test_spurious_rule_needs_more_than_99900(boot: Any) -> None:
    """99,900 unhandled of 100,000 is not enough; the counters restart."""
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        assert await k.irq.request_irq(16, lambda _i, _d: IRQ_NONE, IRQF_SHARED | IRQF_TRIGGER_HIGH, "x", "x") == 0
        desc = k.irq.irq_to_desc(16)
        assert desc is not None
        for i in range(SPURIOUS_SAMPLE):
            await k.irq.note_interrupt(desc, IRQ_HANDLED if i < 100 else IRQ_NONE)
        out["after"] = (desc.irq_count, desc.irqs_unhandled, desc.disabled)
        for i in range(SPURIOUS_SAMPLE):
            await k.irq.note_interrupt(desc, IRQ_HANDLED if i < 99 else IRQ_NONE)
        out["after2"] = (desc.irq_count, desc.irqs_unhandled, desc.disabled)

    boot(main, lapic_timer=False)
    assert out["after"] == (0, 0, False)
    assert out["after2"] == (0, 0, True)


def test_proc_interrupts_rows_and_widths(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        log: list[str] = []
        kbd = SimDevice(k, "i8042", k.spec.platform.isa_pin(1), level=False)
        assert await k.irq.request_irq(1, edge_handler(kbd, log), IRQF_TRIGGER_RISING, "i8042", kbd) == 0
        for _ in range(3):
            kbd.done.reinit()
            kbd.fire()
            await kbd.done.wait_for_completion()
            await k.cpu_relax(1)  # the handler dropped the line: low across a clock edge, or no new edge
        await k.msleep(3)
        out["text"] = k.proc.interrupts()
        # a descriptor number ≥ 1000 widens every first column by one
        d = k.irq._new_desc(1234, 23, 0, level=True)
        d.kstat[1] = 7
        out["wide"] = k.proc.interrupts()

    boot(main, lapic_timer=True, tick_limit=5)
    lines = out["text"].splitlines()
    assert lines[0] == " " * 11 + "CPU0       CPU1       "
    assert "  1:          3          0  IO-APIC   1-edge      i8042" in lines
    tags = [ln.split(":")[0].strip() for ln in lines if ln.split(":")[0].strip().isalpha()]
    assert tags == ["NMI", "LOC", "SPU", "PMI", "IWI", "RTR", "RES", "CAL", "TLB", "TRM", "THR", "DFR", "MCE", "MCP",
                    "ERR", "MIS"]
    assert "LOC:          5          5   Local timer interrupts" in lines
    assert "SPU:          0          0   Spurious interrupts" in lines
    assert lines[-2:] == ["ERR:          0", "MIS:          0"]
    wide = out["wide"].splitlines()
    assert wide[0] == " " * 12 + "CPU0       CPU1       "
    assert "   1:          3          0  IO-APIC    1-edge      i8042" in wide
    assert "1234:          0          7  IO-APIC   23-fasteoi " in wide
    assert " NMI:          0          0   Non-maskable interrupts" in wide
    assert wide[-1] == " MIS:          0"


def test_smp_affinity_write_reprograms_the_entry(boot: Any) -> None:
    out: dict[str, Any] = {}

    async def main(k: Kernel) -> None:
        log: list[str] = []
        dev = SimDevice(k, "nic", 16, level=True)
        assert await k.irq.request_irq(16, edge_handler(dev, log), IRQF_TRIGGER_HIGH, "nic", dev) == 0
        out["read0"] = k.proc.read_smp_affinity(16)
        out["rte0"] = await read_rte(k, 16)
        out["write"] = await k.proc.write_smp_affinity(16, "2\n")
        out["rte1"] = await read_rte(k, 16)
        out["read1"] = k.proc.read_smp_affinity(16)
        out["list1"] = k.proc.read_smp_affinity_list(16)
        dev.fire()
        await dev.done.wait_for_completion()
        out["kstat"] = list(k.irq.descs[16].kstat)
        out["bad_hex"] = await k.proc.write_smp_affinity(16, "zz")
        out["no_cpu"] = await k.proc.write_smp_affinity(16, "4")
        out["rte_after_bad"] = await read_rte(k, 16)

    boot(main, lapic_timer=False)
    assert out["read0"] == "3\n"
    assert out["rte0"] >> 56 == 0
    assert out["write"] == 2
    assert out["rte1"] >> 56 == 1  # destination APIC ID of CPU 1
    assert out["rte1"] & 0xFF == out["rte0"] & 0xFF  # same vector
    assert not out["rte1"] & MASK_BIT
    assert out["read1"] == "2\n" and out["list1"] == "1\n"
    assert out["kstat"] == [0, 1]
    assert out["bad_hex"] == -EINVAL and out["no_cpu"] == -EINVAL
    assert out["rte_after_bad"] == out["rte1"]
