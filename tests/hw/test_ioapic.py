"""IO-APIC RTL (hw/ioapic.py) against its reference model (sim/models/ioapic.py),
cycle by cycle, in Amaranth's simulator.

:class:`Lockstep` drives :class:`IoApicCore`'s register strobe port, pins, EOI
and ``msg__ready`` and feeds the same inputs to :class:`IoApicModel`; every
cycle it compares ``msg__*`` and every read with the model. The directed tests
then assert the architectural outcome (message counts, register values), so a
bug shared by RTL and model still fails. One test goes through the AXI4-Lite
top to check the bridge wiring.
"""

from __future__ import annotations

import os
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from amaranth.hdl import Shape
from amaranth.sim import Simulator

from irqforge.hw.ioapic import IoApic, IoApicCore
from irqforge.hw.regs import register_layout
from irqforge.sim.models.ioapic import IoApicModel
from irqforge.sim.models.messages import IoApicMessage
from irqforge.spec import Access, Field, Register, Spec


class Lockstep:
    """One cycle-accurate run of RTL and model side by side."""

    def __init__(self, spec: Spec, ctx: Any, dut: IoApicCore) -> None:
        self.spec = spec
        self.ctx = ctx
        self.dut = dut
        self.model = IoApicModel(spec)
        dev = spec.ioapic
        self.dev = dev
        self.red = dev.window("IOAPIC").register("REDTBL")
        self.pins = 0
        self.ready = 1
        self.delivered: list[IoApicMessage] = []
        self.valid_cycles: list[int] = []  # cycle numbers with msg__valid high
        self.cycle = 0

    # ------------------------------------------------------------- one cycle
    async def step(
        self,
        *,
        write: tuple[int, int, int] | None = None,
        read: int | None = None,
        eoi: int | None = None,
    ) -> int | None:
        ctx, dut, model = self.ctx, self.dut, self.model
        ctx.set(dut.irq, self.pins)
        ctx.set(dut.msg.ready, self.ready)
        ctx.set(dut.eoi.valid, eoi is not None)
        ctx.set(dut.eoi.vector, 0 if eoi is None else eoi)
        ctx.set(dut.reg.w_stb, write is not None)
        ctx.set(dut.reg.r_stb, read is not None)
        if write is not None:
            ctx.set(dut.reg.addr, write[0])
            ctx.set(dut.reg.w_data, write[1])
            ctx.set(dut.reg.w_strb, write[2])
        elif read is not None:
            ctx.set(dut.reg.addr, read)
        # outputs of this cycle
        valid = ctx.get(dut.msg.valid)
        expect = model.msg
        assert bool(valid) == (expect is not None), f"cycle {self.cycle}: msg__valid {valid}, model {expect}"
        if expect is not None:
            got = (
                ctx.get(dut.msg.vector),
                ctx.get(dut.msg.delivery_mode),
                ctx.get(dut.msg.dest_mode),
                ctx.get(dut.msg.dest),
                ctx.get(dut.msg.trigger),
            )
            want = (expect.vector, expect.delivery_mode, expect.dest_mode, expect.dest, expect.trigger)
            assert got == want, f"cycle {self.cycle}: msg {got} != model {want}"
            self.valid_cycles.append(self.cycle)
        value = None
        if read is not None:
            value = ctx.get(dut.reg.r_data)
            want = model.read(read)
            assert value == want, f"cycle {self.cycle}: read {read:#x} = {value:#x}, model {want:#x}"
        # the same inputs into the model, then the edge
        model.set_pins(self.pins)
        if eoi is not None:
            model.eoi(eoi)
        if write is not None:
            model.write(*write)
        got_msg = model.tick(bool(self.ready))
        if got_msg is not None:
            self.delivered.append(got_msg)
        await ctx.tick()
        self.cycle += 1
        return value

    async def idle(self, n: int = 1) -> None:
        for _ in range(n):
            await self.step()

    # ------------------------------------------------------------- registers
    async def write(self, offset: int, value: int, strb: int = 0xF) -> None:
        await self.step(write=(offset, value, strb))

    async def read(self, offset: int) -> int:
        value = await self.step(read=offset)
        assert value is not None
        return value

    async def write_ind(self, index: int, value: int) -> None:
        await self.write(self.dev.offset("IOREGSEL"), index)
        await self.write(self.dev.offset("IOWIN"), value)

    async def read_ind(self, index: int) -> int:
        await self.write(self.dev.offset("IOREGSEL"), index)
        return await self.read(self.dev.offset("IOWIN"))

    def rte_index(self, pin: int) -> int:
        return self.red.offset + self.red.stride * pin

    def entry_value(self, vector: int, *, level: bool = False, masked: bool = False, low: bool = False,
                    dest: int = 0, dest_mode: int = 0, delivery_mode: int = 0) -> int:
        r = self.red
        v = 0
        for name, val in (
            ("VECTOR", vector),
            ("DELIVERY_MODE", delivery_mode),
            ("DEST_MODE", dest_mode),
            ("POLARITY", int(low)),
            ("TRIGGER", r.field("TRIGGER").enum("LEVEL" if level else "EDGE")),
            ("MASK", int(masked)),
            ("DEST", dest),
        ):
            v = r.field(name).put(v, val)
        return v

    async def set_entry(self, pin: int, vector: int, **kw: Any) -> None:
        v = self.entry_value(vector, **kw)
        await self.write_ind(self.rte_index(pin) + 1, v >> 32)
        await self.write_ind(self.rte_index(pin), v & 0xFFFFFFFF)

    async def entry_lo(self, pin: int) -> int:
        return await self.read_ind(self.rte_index(pin))

    def set_irq(self, pin: int, level: int) -> None:
        self.pins = (self.pins & ~(1 << pin)) | (int(bool(level)) << pin)

    async def eoi(self, vector: int) -> None:
        await self.step(eoi=vector)

    def count(self, vector: int) -> int:
        return sum(1 for msg in self.delivered if msg.vector == vector)


def run(spec: Spec, body: Callable[[Lockstep], Awaitable[None]]) -> Lockstep:
    """Run ``body`` on a fresh core; returns the harness for assertions."""
    dut = IoApicCore(spec)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    holder: list[Lockstep] = []

    async def tb(ctx: Any) -> None:
        ls = Lockstep(spec, ctx, dut)
        holder.append(ls)
        await body(ls)
        await ls.idle(3)

    sim.add_testbench(tb)
    sim.run()
    return holder[0]


def field(spec: Spec, name: str) -> Any:
    return spec.ioapic.window("IOAPIC").register("REDTBL").field(name)


# ----------------------------------------------------------------------------- layout


def test_entry_layout_follows_spec(spec: Spec) -> None:
    red = spec.ioapic.window("IOAPIC").register("REDTBL")
    layout = register_layout(red)
    assert layout.size == red.width
    for f in red.fields:
        assert layout[f.name.lower()].offset == f.lsb
        assert Shape.cast(layout[f.name.lower()].shape).width == f.width


def test_register_layout_pads_and_refuses_bad_fields() -> None:
    a = Field("A", 4, 4, Access.RW)
    reg = Register("R", 0, 16, Access.RW, fields=(a, Field("B", 12, 2, Access.RO)))
    layout = register_layout(reg)
    assert layout.size == 16
    assert [(name, member.offset) for name, member in layout] == [
        ("_rsvd0", 0), ("a", 4), ("_rsvd8", 8), ("b", 12), ("_rsvd14", 14)
    ]
    with pytest.raises(ValueError, match="overlaps"):
        register_layout(Register("R", 0, 16, Access.RW, fields=(a, Field("C", 6, 4, Access.RW))))
    with pytest.raises(ValueError, match="beyond"):
        register_layout(Register("R", 0, 8, Access.RW, fields=(a, Field("D", 8, 2, Access.RW))))


# ----------------------------------------------------------------------------- registers


def test_id_version_arbitration(spec: Spec) -> None:
    win = spec.ioapic.window("IOAPIC")
    idx_id, idx_ver, idx_arb = (win.register(n).offset for n in ("IOAPICID", "IOAPICVER", "IOAPICARB"))
    idf = win.register("IOAPICID").field("ID")
    seen: dict[str, int] = {}

    async def body(b: Lockstep) -> None:
        old = await b.read_ind(idx_id)
        await b.write_ind(idx_id, ~old & 0xFFFFFFFF)
        seen["id"] = await b.read_ind(idx_id)
        seen["diff"] = seen["id"] ^ old
        seen["arb"] = await b.read_ind(idx_arb)
        await b.write_ind(idx_arb, 0)
        seen["arb2"] = await b.read_ind(idx_arb)
        ver = await b.read_ind(idx_ver)
        await b.write_ind(idx_ver, ~ver & 0xFFFFFFFF)
        seen["ver"] = await b.read_ind(idx_ver)
        seen["reserved"] = await b.read_ind(0x03)
        seen["beyond"] = await b.read_ind(b.rte_index(b.model.npins))
        seen["regsel"] = await b.read(spec.ioapic.offset("IOREGSEL"))

    run(spec, body)
    assert seen["diff"] == idf.mask
    assert seen["arb"] == seen["id"] and seen["arb2"] == seen["id"]
    ver_reg = win.register("IOAPICVER")
    assert seen["ver"] == ver_reg.reset
    assert ver_reg.field("MAX_REDIR").get(seen["ver"]) == spec.ioapic.param("pins") - 1
    assert ver_reg.field("VERSION").get(seen["ver"]) == spec.ioapic.param("version")
    assert seen["reserved"] == 0 and seen["beyond"] == 0
    assert seen["regsel"] == b_index_beyond(spec)


def b_index_beyond(spec: Spec) -> int:
    red = spec.ioapic.window("IOAPIC").register("REDTBL")
    return red.offset + red.stride * spec.ioapic.param("pins")


def test_entry_reset_and_ro_bits_preserved(spec: Spec) -> None:
    red = spec.ioapic.window("IOAPIC").register("REDTBL")
    seen: dict[str, int] = {}

    async def body(b: Lockstep) -> None:
        seen["reset_lo"] = await b.entry_lo(5)
        seen["reset_hi"] = await b.read_ind(b.rte_index(5) + 1)
        await b.set_entry(5, 0x61, level=True, dest=0xA5, dest_mode=1, delivery_mode=1)
        b.set_irq(5, 1)
        await b.idle(2)
        before = await b.entry_lo(5)
        seen["rirr_before"] = before
        await b.write_ind(b.rte_index(5), 0xFFFFFFFF & ~red.field("TRIGGER").mask & ~red.field("MASK").mask
                          | red.field("TRIGGER").mask)
        seen["after_all_ones"] = await b.entry_lo(5)
        seen["hi"] = await b.read_ind(b.rte_index(5) + 1)

    run(spec, body)
    assert seen["reset_lo"] | (seen["reset_hi"] << 32) == red.reset
    assert red.field("REMOTE_IRR").get(seen["rirr_before"]) == 1
    after = seen["after_all_ones"]
    # rw fields took the ones, reserved bits read 0, Remote IRR (RO) kept
    assert red.field("REMOTE_IRR").get(after) == 1
    assert red.field("VECTOR").get(after) == 0xFF
    assert after & ~(red.writable_mask | red.field("REMOTE_IRR").mask | red.field("DELIVERY_STATUS").mask) == 0
    assert red.field("DEST").get(seen["hi"] << 32) == 0xA5


# ----------------------------------------------------------------------------- edge


def test_edge_one_message_per_rising_edge(spec: Spec) -> None:
    marks: dict[str, int] = {}

    async def body(b: Lockstep) -> None:
        await b.set_entry(3, 0x40, dest=1)
        await b.idle(2)
        b.set_irq(3, 1)
        marks["raise"] = b.cycle
        await b.idle(10)  # held high: no re-trigger
        b.set_irq(3, 0)
        await b.idle(2)
        b.set_irq(3, 1)
        await b.idle(3)

    b = run(spec, body)
    assert b.count(0x40) == 2
    assert b.delivered[0].dest == 1 and b.delivered[0].trigger == 0
    # pin driven during cycle r is seen at the edge ending it: msg__valid in cycle r+1
    assert b.valid_cycles[0] - marks["raise"] == 1


def test_edge_masked_is_lost(spec: Spec) -> None:
    """KUT test_ioapic_edge_mask: a masked toggle gives nothing; after unmask one assert gives one."""

    async def body(b: Lockstep) -> None:
        await b.set_entry(4, 0x41, masked=True)
        b.set_irq(4, 1)
        await b.idle(2)
        b.set_irq(4, 0)
        await b.idle(2)
        await b.set_entry(4, 0x41)
        await b.idle(3)
        assert b.count(0x41) == 0
        b.set_irq(4, 1)
        await b.idle(3)
        b.set_irq(4, 0)
        await b.idle(1)

    b = run(spec, body)
    assert b.count(0x41) == 1


def test_edge_coalesces_while_waiting_and_polarity(spec: Spec) -> None:
    """Two rising edges while the router is busy coalesce into one message; an
    active-low edge entry fires on the falling pin."""

    async def body(b: Lockstep) -> None:
        await b.set_entry(6, 0x42)
        await b.set_entry(7, 0x43, low=True)
        b.set_irq(7, 1)  # idle level of an active-low pin
        await b.idle(2)
        b.ready = 0
        b.set_irq(0, 0)
        b.set_irq(6, 1)
        await b.idle(1)
        b.set_irq(6, 0)
        await b.idle(1)
        # pin 6's message sits in the slot; a second edge is latched once
        b.set_irq(6, 1)
        await b.idle(1)
        b.set_irq(6, 0)
        await b.idle(1)
        b.set_irq(6, 1)
        await b.idle(2)
        ds = await b.entry_lo(6)
        assert field(b.spec, "DELIVERY_STATUS").get(ds) == 1
        b.ready = 1
        await b.idle(4)
        b.set_irq(7, 0)  # asserted (active low)
        await b.idle(3)

    b = run(spec, body)
    assert b.count(0x42) == 2
    assert b.count(0x43) == 1


# ----------------------------------------------------------------------------- level


def test_level_coalesce(spec: Spec) -> None:
    """KUT test_ioapic_level_coalesce: toggles while Remote IRR is set give one interrupt."""

    async def body(b: Lockstep) -> None:
        await b.set_entry(14, 0x78, level=True)
        b.set_irq(14, 1)
        await b.idle(3)
        for _ in range(3):
            b.set_irq(14, 0)
            await b.idle(1)
            b.set_irq(14, 1)
            await b.idle(1)
        b.set_irq(14, 0)
        await b.idle(1)
        await b.eoi(0x78)
        await b.idle(3)

    b = run(spec, body)
    assert b.count(0x78) == 1


def test_level_retrigger(spec: Spec) -> None:
    """KUT test_ioapic_level_retrigger: EOI with the line still high re-delivers."""
    marks: dict[str, int] = {}

    async def body(b: Lockstep) -> None:
        await b.set_entry(15, 0x79, level=True)
        b.set_irq(15, 1)
        await b.idle(3)
        marks["eoi"] = b.cycle
        await b.eoi(0x79)
        await b.idle(3)
        b.set_irq(15, 0)
        await b.eoi(0x79)
        await b.idle(3)

    b = run(spec, body)
    assert b.count(0x79) == 2
    assert b.delivered[1].trigger == 1
    assert b.valid_cycles[-1] - marks["eoi"] == 1


def test_level_mask_held_until_unmask(spec: Spec) -> None:
    """KUT test_ioapic_level_mask: nothing while masked, one interrupt on unmask."""

    async def body(b: Lockstep) -> None:
        await b.set_entry(16, 0x7A, level=True, masked=True)
        b.set_irq(16, 1)
        await b.idle(5)
        assert b.count(0x7A) == 0
        await b.set_entry(16, 0x7A, level=True)
        await b.idle(3)

    b = run(spec, body)
    assert b.count(0x7A) == 1


def test_level_retrigger_mask(spec: Spec) -> None:
    """KUT test_ioapic_level_retrigger_mask: masked + EOI with line high: none until unmask."""

    async def body(b: Lockstep) -> None:
        await b.set_entry(17, 0x7B, level=True)
        b.set_irq(17, 1)
        await b.idle(3)
        await b.set_entry(17, 0x7B, level=True, masked=True)
        await b.eoi(0x7B)
        await b.idle(4)
        assert b.count(0x7B) == 1
        await b.set_entry(17, 0x7B, level=True)
        await b.idle(3)

    b = run(spec, body)
    assert b.count(0x7B) == 2


def test_level_dropped_before_delivery(spec: Spec) -> None:
    """A masked level line that falls before unmask is not delivered; a level
    request waiting behind a busy router disappears when its line falls."""

    async def body(b: Lockstep) -> None:
        await b.set_entry(18, 0x7C, level=True, masked=True)
        b.set_irq(18, 1)
        await b.idle(2)
        b.set_irq(18, 0)
        await b.idle(2)
        await b.set_entry(18, 0x7C, level=True)
        await b.idle(3)
        await b.set_entry(19, 0x7D, level=True)
        b.ready = 0
        b.set_irq(18, 1)
        b.set_irq(19, 1)
        await b.idle(1)  # one of them is in the slot, the other waits
        first = b.model.slot_idx
        b.set_irq(37 - first, 0)  # the waiting one falls
        await b.idle(3)
        b.ready = 1
        await b.idle(3)

    b = run(spec, body)
    assert len([m for m in b.delivered if m.vector in (0x7C, 0x7D)]) == 1


def test_eoi_register_and_vector_match(spec: Spec) -> None:
    """The EOI register clears Remote IRR of every level entry with that vector, not others."""
    seen: dict[str, int] = {}
    rirr = field(spec, "REMOTE_IRR")

    async def body(b: Lockstep) -> None:
        await b.set_entry(20, 0x90, level=True)
        await b.set_entry(21, 0x90, level=True)
        await b.set_entry(22, 0x91, level=True)
        for p in (20, 21, 22):
            b.set_irq(p, 1)
        await b.idle(5)
        for p in (20, 21, 22):
            b.set_irq(p, 0)
        await b.idle(1)
        await b.write(spec.ioapic.offset("EOI"), 0x90)
        await b.idle(1)
        for p in (20, 21, 22):
            seen[f"rirr{p}"] = rirr.get(await b.entry_lo(p))

    b = run(spec, body)
    assert (seen["rirr20"], seen["rirr21"], seen["rirr22"]) == (0, 0, 1)
    assert sorted(m.vector for m in b.delivered) == [0x90, 0x90, 0x91]


def test_edge_rewrite_clears_remote_irr(spec: Spec) -> None:
    seen: dict[str, int] = {}
    rirr = field(spec, "REMOTE_IRR")

    async def body(b: Lockstep) -> None:
        await b.set_entry(9, 0x55, level=True)
        b.set_irq(9, 1)
        await b.idle(3)
        seen["set"] = rirr.get(await b.entry_lo(9))
        b.set_irq(9, 0)
        await b.set_entry(9, 0x55, masked=True)  # Linux __eoi_ioapic_pin: edge + mask
        seen["edge"] = rirr.get(await b.entry_lo(9))
        await b.set_entry(9, 0x55, level=True)
        b.set_irq(9, 1)
        await b.idle(3)

    b = run(spec, body)
    assert seen == {"set": 1, "edge": 0}
    assert b.count(0x55) == 2


def test_round_robin_is_fair(spec: Spec) -> None:
    """Every pin holding a level request is served once before any pin twice."""
    pins = spec.ioapic.param("pins")

    async def body(b: Lockstep) -> None:
        for p in range(pins):
            await b.set_entry(p, 0x20 + p, level=True, masked=True)
        b.ready = 0
        for p in range(pins):
            b.set_irq(p, 1)
        for p in range(pins):
            await b.set_entry(p, 0x20 + p, level=True)
        b.ready = 1
        await b.idle(pins + 2)
        for p in range(pins):
            await b.eoi(0x20 + p)
        await b.idle(pins + 2)

    b = run(spec, body)
    assert len(b.delivered) == 2 * pins
    first, second = b.delivered[:pins], b.delivered[pins:]
    assert sorted(m.vector for m in first) == [0x20 + p for p in range(pins)]
    assert sorted(m.vector for m in second) == [0x20 + p for p in range(pins)]


# ----------------------------------------------------------------------------- random


def random_body(seed: int, cycles: int) -> Callable[[Lockstep], Awaitable[None]]:
    rng = random.Random(seed)

    async def body(b: Lockstep) -> None:
        n = b.model.npins
        red = b.red
        vectors = [0x30 + rng.randrange(6) for _ in range(n)]
        for p in range(n):
            await b.set_entry(p, vectors[p], level=rng.random() < 0.5, low=rng.random() < 0.2,
                              masked=rng.random() < 0.2, dest=rng.randrange(256))
        for _ in range(cycles):
            b.ready = int(rng.random() < 0.7)
            if rng.random() < 0.15:
                b.pins ^= 1 << rng.randrange(n)
            r = rng.random()
            if r < 0.05:
                await b.eoi(rng.choice(vectors))
            elif r < 0.08:
                await b.write(b.dev.offset("EOI"), rng.choice(vectors))
            elif r < 0.12:
                p = rng.randrange(n)
                await b.write(b.dev.offset("IOREGSEL"), b.rte_index(p))
                v = b.entry_value(vectors[p], level=rng.random() < 0.5, low=rng.random() < 0.2,
                                  masked=rng.random() < 0.3)
                await b.write(b.dev.offset("IOWIN"), v & 0xFFFFFFFF ^ (rng.getrandbits(32) & ~red.writable_mask))
            elif r < 0.16:
                p = rng.randrange(n)
                await b.write(b.dev.offset("IOREGSEL"), b.rte_index(p) + rng.randrange(2))
                await b.read(b.dev.offset("IOWIN"))
            else:
                await b.step()

    return body


def test_random_lockstep(spec: Spec) -> None:
    seed = int(os.environ.get("IRQFORGE_SEED", random.randrange(1 << 32)))
    try:
        b = run(spec, random_body(seed, 3000))
    except AssertionError as e:
        raise AssertionError(f"{e} (seed {seed}; rerun with IRQFORGE_SEED={seed})") from e
    assert b.delivered, f"seed {seed}: the random run delivered nothing"


# ----------------------------------------------------------------------------- AXI top


def test_top_through_axi(spec: Spec) -> None:
    """The AXI4-Lite top reaches the core: program an entry, raise a pin, read back."""
    dut = IoApic(spec)
    dev = spec.ioapic
    red = dev.window("IOAPIC").register("REDTBL")
    out: dict[str, Any] = {}

    async def tb(ctx: Any) -> None:
        bus = dut.bus

        async def write(addr: int, data: int) -> None:
            ctx.set(bus.awaddr, addr)
            ctx.set(bus.wdata, data)
            ctx.set(bus.wstrb, 0xF)
            ctx.set(bus.awvalid, 1)
            ctx.set(bus.wvalid, 1)
            ctx.set(bus.bready, 1)
            await ctx.tick().until(bus.awready & bus.wready)
            ctx.set(bus.awvalid, 0)
            ctx.set(bus.wvalid, 0)
            await ctx.tick().until(bus.bvalid)

        async def read(addr: int) -> int:
            ctx.set(bus.araddr, addr)
            ctx.set(bus.arvalid, 1)
            ctx.set(bus.rready, 1)
            await ctx.tick().until(bus.arready)
            ctx.set(bus.arvalid, 0)
            (value,) = await ctx.tick().sample(bus.rdata).until(bus.rvalid)
            return int(value)

        ctx.set(dut.msg.ready, 1)
        await write(dev.offset("IOREGSEL"), red.offset + 2 * 2)
        v = red.field("VECTOR").put(0, 0x66)
        await write(dev.offset("IOWIN"), v)
        out["lo"] = await read(dev.offset("IOWIN"))
        ctx.set(dut.irq, 1 << 2)
        (vec,) = await ctx.tick().sample(dut.msg.vector).until(dut.msg.valid)
        out["vec"] = vec

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run_until(2e-6)
    assert out["lo"] == red.field("VECTOR").put(0, 0x66)
    assert out["vec"] == 0x66


# ----------------------------------------------------------------------------- the datasheet's layout


def test_registers_at_the_datasheet_offsets(spec: Spec) -> None:
    """read == spec value == literal: IOREGSEL at 0x00, IOWIN at 0x10, the EOI
    register at 0x40 and the redirection entry's bits as the 82093AA datasheet
    (§3.2) and Linux's struct IO_APIC_route_entry give them, not from the spec."""
    seen: dict[str, int] = {}

    async def body(b: Lockstep) -> None:
        async def ind(index: int) -> int:
            await b.write(0x00, index)
            return await b.read(0x10)

        async def set_ind(index: int, value: int) -> None:
            await b.write(0x00, index)
            await b.write(0x10, value)

        seen["ver"] = await ind(0x01)
        seen["rte0"] = await ind(0x10) | await ind(0x11) << 32
        await set_ind(0x00, 0xFFFFFFFF)  # IOAPICID: only bits 27:24 are stored (kvm-unit-tests ioapic_reg_id)
        seen["id"] = await ind(0x00)
        seen["arb"] = await ind(0x02)  # IOAPICARB reads as the ID
        b.set_irq(23, 1)  # active low: high is idle
        await set_ind(0x3F, 0xAB00_0000)  # RTE 23 high dword: destination 0xAB (bits 63:56)
        # vector 0x61, lowest priority (001 << 8), logical (1 << 11), active low (1 << 13), level (1 << 15), unmasked
        await set_ind(0x3E, 0x61 | 0x100 | 0x800 | 0x2000 | 0x8000)
        seen["rte23"] = await ind(0x3E)
        b.set_irq(23, 0)  # asserted
        await b.idle(4)
        seen["rte23_irr"] = await ind(0x3E)  # Remote IRR (bit 14) until the EOI
        b.set_irq(23, 1)
        await b.idle(1)
        await b.write(0x40, 0x61)  # EOI register (version 0x20)
        await b.idle(1)
        seen["rte23_eoi"] = await ind(0x3E)

    b = run(spec, body)
    ver = spec.ioapic.window("IOAPIC").register("IOAPICVER")
    red = spec.ioapic.window("IOAPIC").register("REDTBL")
    assert seen["ver"] == ver.reset == 0x0017_0020
    assert seen["rte0"] == red.reset == 0x0000_0000_0001_0000
    assert seen["id"] == seen["arb"] == 0x0F00_0000
    assert seen["rte23"] == 0xA961
    assert seen["rte23_irr"] == 0xA961 | 0x4000
    assert seen["rte23_eoi"] == 0xA961
    assert len(b.delivered) == 1
    msg = b.delivered[0]
    assert (msg.vector, msg.delivery_mode, msg.dest_mode, msg.dest, msg.trigger) == (0x61, 1, 1, 0xAB, 1)
