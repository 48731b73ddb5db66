"""Quick Amaranth-simulator tests of the Local APIC (hw/lapic.py).

Every test drives :class:`~irqforge.hw.lapic.LapicCore` through its register
strobe port and, cycle by cycle, checks every output against
:class:`~irqforge.sim.models.lapic.LapicModel` (the lock-step
:class:`~irqforge.sim.benches.lapic_check.LapicChecker`); on top of that the
directed tests assert the architectural behaviour itself, so a bug shared by
model and RTL still fails. The AXI side is covered by tests/hw/test_bus.py and
by the cocotb benches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from amaranth.sim import Simulator

from irqforge.hw.lapic import LapicCore, LocalApic
from irqforge.sim.benches.lapic_check import Cycle, LapicChecker, RandomStimulus
from irqforge.sim.models.lapic import LapicModel
from irqforge.sim.models.messages import DeliveryMode, DestMode, Interrupt, Ipi, Shorthand, Trigger
from irqforge.spec import Spec, load_default

APIC_ID = 3


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_default()


class CoreBench:
    """Drives a :class:`LapicCore` one cycle at a time, checked against the model."""

    def __init__(self, ctx: Any, dut: LapicCore, spec: Spec) -> None:
        self.ctx = ctx
        self.dut = dut
        self.dev = spec.lapic
        self.checker = LapicChecker(LapicModel(spec, APIC_ID))
        self.lint = [0, 0]
        self.ipi_ready = 0
        self.last = Cycle()
        self.rdata = 0
        self.tsc = 1000
        """The ``tsc`` input: counts one per cycle, as the platform's counter."""

    def off(self, name: str, index: int = 0) -> int:
        return self.dev.offset(name, index)

    async def cycle(
        self,
        *,
        read: int | None = None,
        write: tuple[int, int, int] | None = None,
        inta: bool = False,
        nmi_ack: bool = False,
        msg: Interrupt | None = None,
        msr: tuple[bool, int, int] | None = None,
    ) -> Cycle:
        ctx, d = self.ctx, self.dut
        ctx.set(d.tsc, self.tsc)
        ctx.set(d.msr.valid, msr is not None)
        ctx.set(d.msr.write, msr[0] if msr else 0)
        ctx.set(d.msr.addr, msr[1] if msr else 0)
        ctx.set(d.msr.wdata, msr[2] if msr else 0)
        ctx.set(d.reg.r_stb, read is not None)
        ctx.set(d.reg.w_stb, write is not None)
        ctx.set(d.reg.addr, read if read is not None else (write[0] & 0xFFC if write else 0))
        ctx.set(d.reg.w_data, write[1] if write else 0)
        ctx.set(d.reg.w_strb, write[2] if write else 0)
        ctx.set(d.inta, inta)
        ctx.set(d.nmi_ack, nmi_ack)
        ctx.set(d.ipi.ready, self.ipi_ready)
        ctx.set(d.lint0, self.lint[0])
        ctx.set(d.lint1, self.lint[1])
        ctx.set(d.msg_in.valid, msg is not None)
        if msg is not None:
            ctx.set(d.msg_in.vector, msg.vector)
            ctx.set(d.msg_in.delivery_mode, int(msg.delivery_mode))
            ctx.set(d.msg_in.trigger, int(msg.trigger))
            ctx.set(d.msg_in.level, msg.level)
        g = ctx.get
        ipi = None
        if g(d.ipi.valid):
            ipi = Ipi(
                vector=g(d.ipi.vector),
                delivery_mode=DeliveryMode(g(d.ipi.delivery_mode)),
                dest_mode=DestMode(g(d.ipi.dest_mode)),
                dest=g(d.ipi.dest),
                shorthand=Shorthand(g(d.ipi.shorthand)),
                trigger=Trigger(g(d.ipi.trigger)),
                level=g(d.ipi.level),
                source=g(d.ipi.source),
            )
        c = Cycle(
            read=read,
            write=(write[0] & 0xFFC, write[1], write[2]) if write else None,
            inta=inta,
            nmi_ack=nmi_ack,
            ipi_ready=bool(self.ipi_ready),
            msg=msg,
            lint=(self.lint[0], self.lint[1]),
            intr=bool(g(d.intr)),
            vector=g(d.vector),
            nmi=bool(g(d.nmi)),
            ack=g(d.ack_vector) if g(d.ack_valid) else None,
            eoi=g(d.eoi.vector) if g(d.eoi.valid) else None,
            init=bool(g(d.init)),
            sipi=g(d.sipi_vector) if g(d.sipi) else None,
            ipi=ipi,
            apic_id=g(d.apic_id),
            ldr=g(d.ldr),
            dfr_model=g(d.dfr_model),
            arb_priority=g(d.arb_priority),
            enabled=bool(g(d.enabled)),
            msr=msr,
            tsc=self.tsc,
            x2apic=bool(g(d.x2apic)),
            msr_ready=bool(g(d.msr.ready)),
            msr_rdata=g(d.msr.rdata),
            msr_fault=bool(g(d.msr.fault)),
        )
        rdata = self.rdata = g(d.reg.r_data)
        expected = self.checker.step(c)
        if read is not None:
            assert rdata == expected, (
                f"cycle {self.checker.cycle - 1}: read {read:#x}: RTL {rdata:#x} != model {expected:#x}"
            )
        await ctx.tick()
        self.tsc += 1
        self.last = c
        return c

    async def msr(self, write: bool, addr: int, wdata: int = 0, limit: int = 50) -> tuple[int, bool]:
        """One MSR access: ``valid`` held until ``ready``; ``(rdata, fault)`` of the accepting cycle."""
        for _ in range(limit):
            c = await self.cycle(msr=(write, addr, wdata))
            if c.msr_ready:
                return c.msr_rdata, c.msr_fault
        raise AssertionError(f"MSR {addr:#x}: no ready in {limit} cycles")

    async def rdmsr(self, addr: int) -> int:
        """RDMSR that must not fault."""
        value, fault = await self.msr(False, addr)
        assert not fault, f"rdmsr {addr:#x} faulted"
        return value

    async def wrmsr(self, addr: int, value: int) -> None:
        """WRMSR that must not fault."""
        _, fault = await self.msr(True, addr, value)
        assert not fault, f"wrmsr {addr:#x} <- {value:#x} faulted"

    async def rdmsr_faults(self, addr: int) -> bool:
        return (await self.msr(False, addr))[1]

    async def wrmsr_faults(self, addr: int, value: int) -> bool:
        return (await self.msr(True, addr, value))[1]

    async def read(self, name: str, index: int = 0) -> int:
        """The RTL's answer (already compared with the model)."""
        await self.cycle(read=self.off(name, index))
        return self.rdata

    async def write(self, name: str, value: int, index: int = 0) -> None:
        await self.cycle(write=(self.off(name, index), value, 0xF))

    async def idle(self, n: int = 1) -> None:
        for _ in range(n):
            await self.cycle()

    async def send(
        self, vector: int, trigger: Trigger = Trigger.EDGE, dm: DeliveryMode = DeliveryMode.FIXED, level: int = 1
    ) -> None:
        await self.cycle(msg=Interrupt(vector, dm, trigger, level))

    async def ack(self) -> int:
        await self.cycle(inta=True)
        c = await self.cycle()
        assert c.ack is not None
        return c.ack

    async def enable(self) -> None:
        await self.write("SVR", 0x1FF)


def run(spec: Spec, body: Callable[[CoreBench], Any]) -> CoreBench:
    dut = LapicCore(spec.lapic)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    holder: dict[str, CoreBench] = {}

    async def bench(ctx: Any) -> None:
        ctx.set(dut.initial_apic_id, APIC_ID)
        b = CoreBench(ctx, dut, spec)
        holder["b"] = b
        await body(b)

    sim.add_testbench(bench)
    sim.run()
    return holder["b"]


# --------------------------------------------------------------------------- directed


def test_reset_values_and_id(spec: Spec) -> None:
    async def body(b: CoreBench) -> None:
        assert await b.read("ID") == APIC_ID << 24
        ver = spec.lapic.register("VERSION")
        assert await b.read("VERSION") == ver.reset == 0x01050014
        assert await b.read("DFR") == 0xFFFFFFFF
        assert await b.read("SVR") == 0xFF
        for lvt in ("LVT_TIMER", "LVT_LINT0", "LVT_ERROR"):
            assert await b.read(lvt) == spec.lapic.register(lvt).field("MASK").mask
        await b.write("ID", 0x2A00_00FF)
        assert await b.read("ID") == 0x2A00_0000
        assert b.last.apic_id == 0x2A  # in effect from the cycle after the write

    run(spec, body)



def test_registers_at_the_sdm_offsets(spec: Spec) -> None:
    """read == spec value == literal: offsets, resets and writable bits as SDM
    Table 11-1 and Linux apicdef.h give them, not taken from the spec."""
    seen: dict[str, int] = {}

    async def body(b: CoreBench) -> None:
        async def rd(offset: int) -> int:
            await b.cycle(read=offset)
            return b.rdata

        async def wr(offset: int, value: int) -> None:
            await b.cycle(write=(offset, value, 0xF))

        for name, offset in (("ID", 0x020), ("VERSION", 0x030), ("DFR", 0x0E0), ("SVR", 0x0F0), ("TDCR", 0x3E0)):
            seen[name] = await rd(offset)
        for offset in range(0x320, 0x380, 0x10):  # LVT timer, thermal, perfmon, LINT0, LINT1, error
            seen[f"lvt{offset:x}"] = await rd(offset)
        for name, offset in (("TPR", 0x080), ("LDR", 0x0D0), ("ICR_HI", 0x310), ("TDCR_ONES", 0x3E0)):
            await wr(offset, 0xFFFFFFFF)
            seen[name] = await rd(offset)
        await wr(0x0E0, 0)  # DFR: cluster model
        seen["DFR_CLUSTER"] = await rd(0x0E0)
        await wr(0x080, 0)
        await wr(0x0F0, 0x1FF)  # APIC_SPIV_APIC_ENABLED | 0xFF
        await b.send(0x41)
        await b.idle(2)  # the vector reaches `intr` through the registered priority stage
        assert await b.ack() == 0x41
        seen["ISR2"] = await rd(0x120)  # vector 0x41: ISR register 2, bit 1
        await wr(0x0B0, 0)  # EOI
        seen["ISR2_EOI"] = await rd(0x120)
        await wr(0x390, 0x1234)  # TMCCT is read only
        seen["TMCCT_WRITTEN"] = await rd(0x390)
        # periodic timer (Linux APIC_LVT_TIMER_PERIODIC 1 << 17), vector 0x40, divide by 1 (APIC_TDR_DIV_1 0xB)
        await wr(0x3E0, 0xB)
        await wr(0x320, 1 << 17 | 0x40)
        await wr(0x380, 5)  # TMICT
        await b.idle(12)
        seen["TMCCT_PERIODIC"] = await rd(0x390)  # reloaded: a one-shot timer would read 0 by now
        seen["IRR2"] = await rd(0x220)  # vector 0x40: IRR register 2, bit 0

    run(spec, body)
    lapic = spec.lapic
    assert seen["ID"] == lapic.register("ID").field("ID").put(0, APIC_ID) == APIC_ID << 24
    assert seen["VERSION"] == lapic.register("VERSION").reset == 0x01050014
    assert seen["DFR"] == lapic.register("DFR").reset == 0xFFFFFFFF
    assert seen["SVR"] == lapic.register("SVR").reset == 0x000000FF
    assert seen["TDCR"] == lapic.register("TDCR").reset == 0
    for name, offset in zip(
        ("LVT_TIMER", "LVT_THERMAL", "LVT_PERFMON", "LVT_LINT0", "LVT_LINT1", "LVT_ERROR"),
        range(0x320, 0x380, 0x10),
        strict=True,
    ):
        assert seen[f"lvt{offset:x}"] == lapic.register(name).reset == 0x00010000, name
    assert seen["TPR"] == 0xFF  # TPR bits 7:0
    assert seen["LDR"] == 0xFF000000  # LDR bits 31:24
    assert seen["ICR_HI"] == 0xFF000000  # destination bits 31:24
    assert seen["TDCR_ONES"] == 0xB  # bits 3, 1, 0
    assert seen["DFR_CLUSTER"] == 0x0FFFFFFF  # Linux APIC_DFR_CLUSTER
    assert seen["ISR2"] == 1 << 1 and seen["ISR2_EOI"] == 0
    assert seen["TMCCT_WRITTEN"] == 0
    assert 0 < seen["TMCCT_PERIODIC"] <= 5
    assert seen["IRR2"] & 1

def test_lvt_writable_masks_and_svr_disable(spec: Spec) -> None:
    async def body(b: CoreBench) -> None:
        await b.enable()
        expect = {
            "LVT_TIMER": 0x000700FF,
            "LVT_THERMAL": 0x000107FF,
            "LVT_PERFMON": 0x000107FF,
            "LVT_LINT0": 0x0001A7FF,
            "LVT_LINT1": 0x0001A7FF,
            "LVT_ERROR": 0x000100FF,
        }
        for name, mask in expect.items():
            assert spec.lapic.register(name).writable_mask == mask
            await b.write(name, 0xFFFFFFFF)
            assert await b.read(name) == mask, name
            await b.write(name, 0x30)
        # Disabling masks every LVT and keeps later writes masked.
        await b.write("SVR", 0x0FF)
        for name in expect:
            assert await b.read(name) == 0x10030
        await b.write("LVT_LINT0", 0x31)
        assert await b.read("LVT_LINT0") == 0x10031
        assert await b.read("SVR") == 0xFF
        await b.write("SVR", 0xFFFFFFFF)
        assert await b.read("SVR") == 0x13FF

    run(spec, body)


def test_priority_class_rule_and_nesting(spec: Spec) -> None:
    async def body(b: CoreBench) -> None:
        await b.send(0x65)
        await b.idle()
        assert not b.last.intr  # software disabled: discarded
        assert await b.read("IRR", 3) == 0
        await b.enable()
        await b.send(0x65)
        c = await b.cycle()
        assert not c.intr  # IRR is set, the priority stage has not seen it yet
        c = await b.cycle()
        assert c.intr and c.vector == 0x65  # msg_in → intr in 2 cycles
        assert await b.ack() == 0x65
        assert await b.read("ISR", 3) == 1 << 5
        assert await b.read("PPR") == 0x60
        await b.send(0x61)  # same class: waits
        await b.idle(2)
        assert not b.last.intr and b.last.vector == 0x61
        await b.send(0x71)  # higher class: preempts
        await b.idle(2)
        assert b.last.intr and b.last.vector == 0x71
        assert await b.ack() == 0x71
        assert await b.read("PPR") == 0x70
        await b.write("EOI", 0)  # retires 0x71, the highest
        assert await b.read("ISR", 3) == 1 << 5
        await b.write("EOI", 0)
        await b.idle()
        assert b.last.intr and b.last.vector == 0x61
        # TPR blocks, lowering it delivers again.
        await b.write("TPR", 0x6F)
        await b.idle()
        assert not b.last.intr
        assert await b.read("PPR") == 0x6F
        assert await b.read("APR") == 0x6F
        await b.write("TPR", 0x50)
        await b.idle()
        assert b.last.intr

    run(spec, body)


def test_back_to_back_inta_and_eoi(spec: Spec) -> None:
    """The rule of the LAPIC docstring: INTAs and EOIs in consecutive cycles, and both in one cycle."""

    async def body(b: CoreBench) -> None:
        await b.enable()
        await b.send(0x41)
        await b.send(0x52)
        await b.idle(2)
        assert b.last.intr and b.last.vector == 0x52
        c1 = await b.cycle(inta=True)  # moves 0x52
        c2 = await b.cycle(inta=True)  # the stage still shows 0x52, now in service: spurious
        assert c1.intr and not c2.intr
        c3 = await b.cycle()
        assert (c2.ack, c3.ack) == (0x52, 0xFF)
        assert not c3.intr  # 0x41's class is below the in-service 0x52's
        assert await b.read("ISR", 2) == 1 << (0x52 - 64)
        assert await b.read("IRR", 2) == 1 << (0x41 - 64)
        await b.write("EOI", 0)  # retires 0x52; 0x41 becomes deliverable at once
        c = await b.cycle()
        assert c.intr and c.vector == 0x41
        # INTA and EOI together retire the vector INTA moves; the next cycle settles.
        c = await b.cycle(inta=True, write=(b.off("EOI"), 0, 0xF))
        c = await b.cycle()
        assert c.ack == 0x41 and not c.intr
        assert await b.read("ISR", 2) == 0 and await b.read("IRR", 2) == 0
        # Two EOIs in consecutive cycles retire the two in-service vectors, highest first.
        await b.send(0x63)
        await b.idle(2)
        assert await b.ack() == 0x63
        await b.send(0x74)
        await b.idle(2)
        assert await b.ack() == 0x74
        assert await b.read("ISR", 3) == (1 << (0x63 - 96)) | (1 << (0x74 - 96))
        await b.write("EOI", 0)
        await b.write("EOI", 0)
        assert await b.read("ISR", 3) == 0
        assert await b.read("PPR") == 0

    run(spec, body)


def test_inta_spurious_when_no_longer_deliverable(spec: Spec) -> None:
    async def body(b: CoreBench) -> None:
        await b.write("SVR", 0x1EF)
        await b.send(0x40)
        await b.idle(2)
        assert b.last.intr
        await b.write("TPR", 0xF0)
        assert await b.ack() == 0xEF
        assert await b.read("ISR", 2) == 0
        assert await b.read("IRR", 2) == 1
        await b.write("EOI", 0)  # EOI with empty ISR: no-op

    run(spec, body)


def test_level_eoi_broadcast_tmr_kept_and_suppression(spec: Spec) -> None:
    async def body(b: CoreBench) -> None:
        await b.enable()
        await b.send(0x79, Trigger.LEVEL)
        assert await b.read("TMR", 3) == 1 << (0x79 - 96)
        assert await b.ack() == 0x79
        await b.write("EOI", 0)
        c = await b.cycle()
        assert c.eoi == 0x79
        assert await b.read("TMR", 3) == 1 << (0x79 - 96)  # TMR unchanged by EOI
        # SVR bit 12 suppresses the broadcast.
        await b.write("SVR", 0x11FF)
        await b.send(0x79, Trigger.LEVEL)
        await b.ack()
        await b.write("EOI", 0)
        c = await b.cycle()
        assert c.eoi is None
        # An edge acceptance clears TMR.
        await b.send(0x79)
        assert await b.read("TMR", 3) == 0

    run(spec, body)


def test_esr_write_latch_and_illegal_vectors(spec: Spec) -> None:
    async def body(b: CoreBench) -> None:
        await b.enable()
        await b.send(0x05)  # receive illegal vector
        assert await b.read("ESR") == 0
        await b.write("ESR", 0)
        assert await b.read("ESR") == 1 << 6
        await b.write("ESR", 0)
        assert await b.read("ESR") == 0
        await b.cycle(read=0x3A0)  # reserved: reads 0, ESR bit 7
        assert b.rdata == 0
        await b.write("ICR_LO", 0x0000_0008)  # fixed IPI with vector 8: not sent
        await b.idle()
        assert b.last.ipi is None
        await b.write("ESR", 0)
        assert await b.read("ESR") == (1 << 7) | (1 << 5)
        # The error interrupt fires with LVT Error unmasked.
        await b.write("LVT_ERROR", 0xFE)
        await b.cycle(write=(0x3B0, 1, 0xF))  # cycle t: the error; IRR at the edge ending t + 1
        await b.idle(2)
        assert not b.last.intr  # (t + 2: the priority stage)
        await b.idle()
        assert b.last.intr and b.last.vector == 0xFE

    run(spec, body)


def test_icr_sends_ipi_with_delivery_status(spec: Spec) -> None:
    async def body(b: CoreBench) -> None:
        await b.write("ICR_HI", 0x0500_0000)
        await b.write("ICR_LO", 0x0000_4831)  # fixed, logical, assert, vector 0x31
        c = await b.idle() or b.last
        assert c.ipi == Ipi(0x31, DeliveryMode.FIXED, DestMode.LOGICAL, 5, Shorthand.NONE, Trigger.EDGE, 1, APIC_ID)
        assert await b.read("ICR_LO") == 0x0000_5831  # bit 12: pending
        await b.write("ICR_LO", 0x0000_0040)  # ignored while pending
        assert await b.read("ICR_LO") == 0x0000_5831
        b.ipi_ready = 1
        await b.idle()
        b.ipi_ready = 0
        assert await b.read("ICR_LO") == 0x0000_4831
        await b.write("ICR_LO", 0x000C_0640)  # start-up to all-but-self
        await b.idle()
        assert b.last.ipi is not None and b.last.ipi.shorthand == Shorthand.ALL_EXCL
        assert b.last.ipi.delivery_mode == DeliveryMode.STARTUP

    run(spec, body)


def test_timer_one_shot_periodic_divide_and_mask(spec: Spec) -> None:
    async def body(b: CoreBench) -> None:
        await b.enable()
        await b.write("TDCR", 0xB)  # divide by 1
        await b.write("LVT_TIMER", 0x40)
        await b.write("TMICT", 5)
        # Fires at the end of cycle t + 5: IRR from t + 6, intr from t + 7.
        for k in range(6):
            assert not b.last.intr or k == 0
            await b.idle()
        await b.idle()
        assert b.last.intr and b.last.vector == 0x40
        assert await b.read("TMCCT") == 0
        assert await b.ack() == 0x40
        await b.write("EOI", 0)
        # Periodic, divide by 4: period 3 * 4 = 12 cycles.
        await b.write("TDCR", 0x1)
        await b.write("LVT_TIMER", 0x2_0041)
        await b.write("TMICT", 3)
        fires = []
        k = 0
        while k < 45:
            c = await b.cycle()
            k += 1
            if c.intr:
                fires.append(k)
                await b.cycle(inta=True)
                await b.write("EOI", 0)
                k += 2
        assert len(fires) >= 3 and fires[1] - fires[0] == 12 and fires[2] - fires[1] == 12
        # Masked: counts on, no interrupt.
        await b.write("LVT_TIMER", 0x3_0041)
        before = await b.read("TMCCT")
        await b.idle(8)
        after = await b.read("TMCCT")
        assert before != after
        await b.write("TMICT", 0)  # stops
        assert await b.read("TMCCT") == 0

    run(spec, body)


def test_timer_mode_change_without_reload(spec: Spec) -> None:
    async def body(b: CoreBench) -> None:
        await b.enable()
        await b.write("TDCR", 0xB)
        await b.write("LVT_TIMER", 0x1_0050)  # masked one-shot
        await b.write("TMICT", 10)
        await b.idle(20)
        assert await b.read("TMCCT") == 0
        await b.write("LVT_TIMER", 0x3_0050)  # → periodic: stays 0
        await b.idle(5)
        assert await b.read("TMCCT") == 0
        await b.write("TMICT", 100)
        await b.idle(10)
        v = await b.read("TMCCT")
        await b.write("LVT_TIMER", 0x1_0050)  # → one-shot mid-count: no reload
        assert await b.read("TMCCT") == v - 2
        # TSC-deadline entry disarms and ignores TMICT.
        await b.write("LVT_TIMER", 0x5_0050)
        assert await b.read("TMCCT") == 0 and await b.read("TMICT") == 0
        await b.write("TMICT", 7)
        assert await b.read("TMICT") == 0

    run(spec, body)


def test_lint_edge_level_remote_irr_and_nmi(spec: Spec) -> None:
    async def body(b: CoreBench) -> None:
        await b.enable()
        await b.write("LVT_LINT0", 0x8031)  # fixed, level, active high
        await b.write("LVT_LINT1", 0x0400)  # NMI
        b.lint[0] = 1
        await b.idle(3)
        assert b.last.intr and b.last.vector == 0x31
        assert await b.read("LVT_LINT0") == 0xC031  # remote IRR
        assert await b.ack() == 0x31
        await b.idle(3)
        assert not b.last.intr  # remote IRR blocks re-delivery
        await b.write("EOI", 0)
        await b.idle(2)
        assert not b.last.intr  # the EOI's Remote-IRR clear acts at its edge; the pin is seen the cycle after
        await b.idle()
        assert b.last.intr  # still asserted: delivered again
        b.lint[1] = 1
        await b.idle(2)
        assert b.last.nmi
        await b.cycle(nmi_ack=True)
        await b.idle()
        assert not b.last.nmi
        # Edge, active low: the new entry acts from the edge after its write's, then the pin falls.
        await b.write("LVT_LINT0", 0x2032)
        b.lint[0] = 0
        await b.idle(2)
        assert await b.read("IRR", 1) & (1 << (0x32 - 32))

    run(spec, body)


def test_config_write_acts_from_the_next_edge(spec: Spec) -> None:
    """The LINT, timer and error logic see LVT/TDCR as they were at the start of the cycle
    (docs/hardware.md, LAPIC timing): a write of cycle t acts at the edge ending t + 1."""

    async def body(b: CoreBench) -> None:
        await b.enable()
        await b.write("LVT_LINT0", 0x1_8033)  # fixed, level, active high, masked
        b.lint[0] = 1
        await b.idle(2)
        assert await b.read("IRR", 1) == 0  # masked: nothing
        await b.write("LVT_LINT0", 0x8033)  # unmasked at the edge ending this cycle ...
        assert await b.read("IRR", 1) == 0  # ... which still saw it masked
        assert await b.read("IRR", 1) == 1 << (0x33 - 32)  # delivered at the next edge

    run(spec, body)


def test_tmict_write_in_the_expiry_cycle_still_fires(spec: Spec) -> None:
    """A count-down that expires at the edge of a TMICT write raises its interrupt; the write's count starts."""

    async def body(b: CoreBench) -> None:
        await b.enable()
        await b.write("TDCR", 0xB)  # divide by 1
        await b.write("LVT_TIMER", 0x41)  # one-shot, vector 0x41
        await b.write("TMICT", 3)  # cycle t: TMCCT falls at the ends of t + 1, t + 2, t + 3 (expiry)
        await b.idle(2)
        await b.write("TMICT", 100)  # cycle t + 3
        assert await b.read("IRR", 2) == 1 << 1  # the old count's expiry
        assert await b.read("TMCCT") == 99  # the new count, one decrement in (the edge ending t + 4)

    run(spec, body)


def test_init_and_startup(spec: Spec) -> None:
    async def body(b: CoreBench) -> None:
        await b.enable()
        await b.write("TPR", 0x20)
        await b.send(0x9A, dm=DeliveryMode.STARTUP)
        c = await b.cycle()
        assert c.sipi == 0x9A
        await b.send(0, dm=DeliveryMode.INIT)
        c = await b.cycle()
        assert c.init
        assert await b.read("TPR") == 0 and await b.read("SVR") == 0xFF
        assert b.last.apic_id == APIC_ID
        await b.send(0, dm=DeliveryMode.INIT, trigger=Trigger.LEVEL, level=0)  # de-assert: nothing
        c = await b.cycle()
        assert not c.init

    run(spec, body)


# --------------------------------------------------------------------------- random


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_lockstep_against_model(spec: Spec, seed: int) -> None:
    cycles = 1500

    async def body(b: CoreBench) -> None:
        stim = RandomStimulus(spec, seed)
        r = stim.rng
        await b.enable()
        for _ in range(cycles):
            op = stim.reg_op() if r.random() < 0.3 else None
            read = write = None
            if op is not None:
                if op.value is None:
                    read = op.offset
                else:
                    write = (op.offset, op.value, op.strb)
            msg = stim.message() if r.random() < 0.15 else None
            inta = (b.last.intr and r.random() < 0.3) or r.random() < 0.01
            nmi_ack = b.last.nmi and r.random() < 0.2
            b.ipi_ready = int(r.random() < 0.4)
            if r.random() < 0.03:
                b.lint[r.randrange(2)] ^= 1
            await b.cycle(read=read, write=write, inta=inta, nmi_ack=nmi_ack, msg=msg)

    try:
        b = run(spec, body)
    except AssertionError as e:
        raise AssertionError(f"random LAPIC lock-step failed with seed {seed}: {e}") from e
    assert b.checker.intas > 20 and b.checker.writes > 200
    assert any(v != 0xFF for v in b.checker.acks)


def test_top_elaborates_with_contract_ports(spec: Spec) -> None:
    from amaranth.back import rtlil

    text = rtlil.convert(LocalApic(spec), name="irqforge_lapic")
    for port in (
        "bus__awaddr",
        "bus__rdata",
        "initial_apic_id",
        "msg_in__delivery_mode",
        "ipi__source",
        "eoi__vector",
        "ack_vector",
        "sipi_vector",
        "arb_priority",
        "dfr_model",
        "lint1",
    ):
        assert f"\\{port}" in text, port


def test_a_fixed_message_sees_svr_enable_as_at_the_start_of_the_cycle(spec: Spec) -> None:
    """hw/lapic.py: a fixed ``msg_in`` message in the cycle of an SVR write sees the software
    enable the write replaces (a software-disabled APIC discards fixed messages: SDM vol. 3
    §11.4.7.2); from the next cycle the new enable counts. NMI is not affected."""
    svr = spec.lapic.offset("SVR")

    def irr_bit(value: int, vector: int) -> int:
        return value >> (vector & 31) & 1

    async def body(b: CoreBench) -> None:
        # Enabling write and a message together: still disabled for it.
        await b.cycle(write=(svr, 0x1FF, 0xF), msg=Interrupt(0x41))
        assert irr_bit(await b.read("IRR", 0x41 >> 5), 0x41) == 0
        await b.send(0x42)  # the next cycle: enabled
        assert irr_bit(await b.read("IRR", 0x42 >> 5), 0x42) == 1
        # Disabling write and a message together: still enabled for it.
        await b.cycle(write=(svr, 0x0FF, 0xF), msg=Interrupt(0x61))
        assert irr_bit(await b.read("IRR", 0x61 >> 5), 0x61) == 1
        await b.send(0x62)
        assert irr_bit(await b.read("IRR", 0x62 >> 5), 0x62) == 0

    run(spec, body)
