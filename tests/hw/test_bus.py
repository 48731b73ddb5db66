"""Amaranth-simulator tests of the AXI4-Lite → register-port bridge (hw/bus.py).

A cycle-by-cycle AXI master (:class:`Script`) drives the five channels from
queues with per-beat delays and ready patterns, checks the AXI stability rules
on the slave's outputs, and records every handshake and every register-port
access, so each test asserts on what the device saw and when.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from amaranth.hdl import Module, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from irqforge.hw.bus import (
    RESP_OKAY,
    RESP_SLVERR,
    AXI4LiteSignature,
    AXI4LiteToReg,
    RegSignature,
)

ADDR_WIDTH = 8
NREGS = 4  # storage registers at 0x00..0x0C
COUNTER = 0x10  # read-to-increment: returns the number of reads of itself so far
ERR_FROM = 0x20  # offsets >= this answer with an error


class Device(wiring.Component):
    """A small register device behind the bridge: four rw dwords (byte strobes
    honoured), a read-counter whose reads have a side effect, errors above."""

    def __init__(self) -> None:
        super().__init__({"bus": In(AXI4LiteSignature(ADDR_WIDTH))})
        self.bridge = AXI4LiteToReg(ADDR_WIDTH)

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.bridge = bridge = self.bridge
        wiring.connect(m, wiring.flipped(self.bus), bridge.bus)
        reg = bridge.reg
        regs = [Signal(32, name=f"r{i}") for i in range(NREGS)]
        reads = Signal(32)
        index = reg.addr[2:]
        with m.Switch(index):
            for i, r in enumerate(regs):
                with m.Case(i):
                    m.d.comb += reg.r_data.eq(r)
                    with m.If(reg.w_stb):
                        for b in range(4):
                            with m.If(reg.w_strb[b]):
                                m.d.sync += r[8 * b : 8 * b + 8].eq(reg.w_data[8 * b : 8 * b + 8])
            with m.Case(COUNTER >> 2):
                m.d.comb += reg.r_data.eq(reads)
                with m.If(reg.r_stb):
                    m.d.sync += reads.eq(reads + 1)
        with m.If(reg.addr >= ERR_FROM):
            m.d.comb += [reg.r_err.eq(1), reg.w_err.eq(1)]
        return m


@dataclass
class Write:
    addr: int
    data: int
    strb: int = 0xF
    aw_delay: int = 0
    """Idle cycles before AW is presented (counted from the previous AW handshake)."""
    w_delay: int = 0


@dataclass
class Read:
    addr: int
    delay: int = 0


@dataclass
class Script:
    """What the master does, and (after :meth:`run`) what happened."""

    writes: list[Write] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)
    bready: Callable[[int], bool] = lambda cycle: True
    rready: Callable[[int], bool] = lambda cycle: True
    read_start: int = 0
    """Cycle at which the first read may be presented."""

    aw_hs: list[int] = field(default_factory=list)
    w_hs: list[int] = field(default_factory=list)
    ar_hs: list[int] = field(default_factory=list)
    b: list[tuple[int, int]] = field(default_factory=list)
    """(cycle, bresp) per write response."""
    r: list[tuple[int, int, int]] = field(default_factory=list)
    """(cycle, rdata, rresp) per read response."""
    bvalid_first: list[int] = field(default_factory=list)
    rvalid_first: list[int] = field(default_factory=list)
    accesses: list[tuple[int, str, int, int]] = field(default_factory=list)
    """(cycle, "r"/"w", addr, data) as seen on the register port."""

    async def run(self, ctx: Any, dut: Device, reg: Any, limit: int = 500) -> None:
        bus = dut.bus
        aw_i = w_i = ar_i = 0
        aw_at = self.writes[0].aw_delay if self.writes else 0
        w_at = self.writes[0].w_delay if self.writes else 0
        ar_at = self.read_start + (self.reads[0].delay if self.reads else 0)
        prev_b: tuple[int, int] | None = None
        prev_r: tuple[int, int, int] | None = None
        for cycle in range(limit):
            if len(self.b) == len(self.writes) and len(self.r) == len(self.reads):
                return
            aw_v = aw_i < len(self.writes) and cycle >= aw_at
            w_v = w_i < len(self.writes) and cycle >= w_at
            ar_v = ar_i < len(self.reads) and cycle >= ar_at
            ctx.set(bus.awvalid, aw_v)
            ctx.set(bus.awaddr, self.writes[aw_i].addr if aw_v else 0)
            ctx.set(bus.wvalid, w_v)
            ctx.set(bus.wdata, self.writes[w_i].data if w_v else 0)
            ctx.set(bus.wstrb, self.writes[w_i].strb if w_v else 0)
            ctx.set(bus.arvalid, ar_v)
            ctx.set(bus.araddr, self.reads[ar_i].addr if ar_v else 0)
            bready = self.bready(cycle)
            rready = self.rready(cycle)
            ctx.set(bus.bready, bready)
            ctx.set(bus.rready, rready)
            (
                _,
                _,
                awready,
                wready,
                arready,
                bvalid,
                bresp,
                rvalid,
                rdata,
                rresp,
                w_stb,
                r_stb,
                addr,
                w_data,
            ) = await ctx.tick().sample(
                bus.awready,
                bus.wready,
                bus.arready,
                bus.bvalid,
                bus.bresp,
                bus.rvalid,
                bus.rdata,
                bus.rresp,
                reg.w_stb,
                reg.r_stb,
                reg.addr,
                reg.w_data,
            )
            # AXI rule: a valid response is held, unchanged, until its handshake.
            if prev_b is not None:
                assert bvalid and (bresp,) == prev_b[1:], f"cycle {cycle}: B changed before bready"
            if prev_r is not None:
                assert rvalid and (rdata, rresp) == prev_r[1:], f"cycle {cycle}: R changed before rready"
            prev_b = (cycle, bresp) if bvalid and not bready else None
            prev_r = (cycle, rdata, rresp) if rvalid and not rready else None
            if bvalid and (not self.bvalid_first or self.bvalid_first[-1] < 0):
                self.bvalid_first.append(cycle)
            if rvalid and (not self.rvalid_first or self.rvalid_first[-1] < 0):
                self.rvalid_first.append(cycle)
            if w_stb:
                self.accesses.append((cycle, "w", addr, w_data))
            if r_stb:
                self.accesses.append((cycle, "r", addr, 0))
            if aw_v and awready:
                self.aw_hs.append(cycle)
                aw_i += 1
                if aw_i < len(self.writes):
                    aw_at = cycle + 1 + self.writes[aw_i].aw_delay
            if w_v and wready:
                self.w_hs.append(cycle)
                w_i += 1
                if w_i < len(self.writes):
                    w_at = cycle + 1 + self.writes[w_i].w_delay
            if ar_v and arready:
                self.ar_hs.append(cycle)
                ar_i += 1
                if ar_i < len(self.reads):
                    ar_at = cycle + 1 + self.reads[ar_i].delay
            if bvalid and bready:
                self.b.append((cycle, bresp))
                self.bvalid_first.append(-1)
            if rvalid and rready:
                self.r.append((cycle, rdata, rresp))
                self.rvalid_first.append(-1)
        raise AssertionError(f"script did not finish in {limit} cycles: {len(self.b)} B, {len(self.r)} R")

    @property
    def b_first(self) -> list[int]:
        """Cycle at which each B response first became valid."""
        return [c for c in self.bvalid_first if c >= 0]

    @property
    def r_first(self) -> list[int]:
        return [c for c in self.rvalid_first if c >= 0]


def simulate(script: Script) -> Script:
    dut = Device()
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx: Any) -> None:
        await script.run(ctx, dut, dut.bridge.reg)

    sim.add_testbench(bench)
    sim.run()
    return script


def read_back(script: Script) -> list[int]:
    return [data for _, data, _ in script.r]


def test_signature_members_and_port_names() -> None:
    sig = AXI4LiteSignature(12)
    assert sig == AXI4LiteSignature(12)
    assert sig != AXI4LiteSignature(13)
    assert Shape.cast(sig.members["awaddr"].shape).width == 12
    assert Shape.cast(sig.members["wstrb"].shape).width == 4
    assert sig.members["awready"].flow is wiring.In
    assert RegSignature(12) == RegSignature(12)
    assert RegSignature(12).members["r_data"].flow is wiring.In

    class Slave(wiring.Component):
        def __init__(self) -> None:
            super().__init__({"bus": In(AXI4LiteSignature(12)), "other": Out(1)})

        def elaborate(self, platform: Any) -> Module:
            return Module()

    from amaranth.back import rtlil

    text = rtlil.convert(Slave(), name="slave")
    for port in ("awaddr", "awprot", "wdata", "wstrb", "bresp", "bvalid", "rdata", "rready"):
        assert f"\\bus__{port}" in text


def test_aw_before_w() -> None:
    s = simulate(Script(writes=[Write(0x4, 0x12345678, w_delay=3)], reads=[Read(0x4)], read_start=8))
    assert s.aw_hs == [0] and s.w_hs == [3]
    assert [a[:3] for a in s.accesses] == [(3, "w", 0x4), (8, "r", 0x4)]
    assert s.b == [(4, RESP_OKAY)]
    assert read_back(s) == [0x12345678]


def test_w_before_aw() -> None:
    s = simulate(Script(writes=[Write(0x8, 0xCAFEF00D, aw_delay=4)], reads=[Read(0x8)], read_start=8))
    assert s.w_hs == [0] and s.aw_hs == [4]
    assert [a[:3] for a in s.accesses] == [(4, "w", 0x8), (8, "r", 0x8)]
    assert s.b == [(5, RESP_OKAY)]
    assert read_back(s) == [0xCAFEF00D]


def test_simultaneous_latency_is_one_cycle() -> None:
    s = simulate(Script(writes=[Write(0xC, 0xA5A5A5A5)], reads=[Read(0xC)], read_start=5))
    assert s.aw_hs == [0] and s.w_hs == [0]
    assert s.b_first == [1]  # valid at cycle 0 → bvalid at cycle 1
    assert s.ar_hs == [5] and s.r_first == [6]  # arvalid at 5 → rvalid at 6
    assert read_back(s) == [0xA5A5A5A5]


def test_stalled_bready_blocks_next_write() -> None:
    s = simulate(
        Script(writes=[Write(0x0, 1), Write(0x4, 2)], bready=lambda c: c >= 6, reads=[Read(0), Read(4)], read_start=12)
    )
    # The first response waits from cycle 1 to 6; the second write is only
    # accepted when the first response completes.
    assert s.b_first[0] == 1 and s.b[0] == (6, RESP_OKAY)
    assert s.aw_hs == [0, 6] and s.w_hs == [0, 6]
    assert [a[0] for a in s.accesses if a[1] == "w"] == [0, 6]
    assert read_back(s) == [1, 2]


def test_stalled_rready_blocks_next_read() -> None:
    s = simulate(Script(reads=[Read(COUNTER), Read(COUNTER), Read(COUNTER)], rready=lambda c: c >= 5))
    assert s.ar_hs == [0, 5, 6]
    # Each read has its side effect exactly once.
    assert read_back(s) == [0, 1, 2]
    assert [a[0] for a in s.accesses] == [0, 5, 6]


def test_back_to_back_full_rate() -> None:
    writes = [Write(4 * (i % NREGS), 0x1000 + i) for i in range(8)]
    reads = [Read(4 * i) for i in range(NREGS)] + [Read(COUNTER)] * 4
    s = simulate(Script(writes=writes, reads=reads, read_start=20))
    assert s.aw_hs == list(range(8)) and s.w_hs == list(range(8))
    assert [c for c, _ in s.b] == list(range(1, 9))
    assert s.ar_hs == list(range(20, 28))
    assert [c for c, _, _ in s.r] == list(range(21, 29))
    assert read_back(s) == [0x1004, 0x1005, 0x1006, 0x1007, 0, 1, 2, 3]


def test_byte_strobes() -> None:
    s = simulate(
        Script(writes=[Write(0, 0x11223344), Write(0, 0xAABBCCDD, strb=0b0101)], reads=[Read(0)], read_start=5)
    )
    assert read_back(s) == [0x11BB33DD]


def test_error_becomes_slverr() -> None:
    s = simulate(Script(writes=[Write(ERR_FROM, 1), Write(0, 2)], reads=[Read(ERR_FROM + 4), Read(0)], read_start=4))
    assert [resp for _, resp in s.b] == [RESP_SLVERR, RESP_OKAY]
    assert [(data, resp) for _, data, resp in s.r][1] == (2, RESP_OKAY)
    assert s.r[0][2] == RESP_SLVERR


def test_write_goes_before_simultaneous_read() -> None:
    s = simulate(Script(writes=[Write(0x4, 0xBEEF)], reads=[Read(0x4)]))
    assert [a[:2] for a in s.accesses] == [(0, "w"), (1, "r")]
    assert read_back(s) == [0xBEEF]


def test_unaligned_address_is_dword_aligned() -> None:
    s = simulate(Script(writes=[Write(0x6, 0x77)], reads=[Read(0x7)], read_start=3))
    assert [a[2] for a in s.accesses] == [0x4, 0x4]
    assert read_back(s) == [0x77]


@pytest.mark.parametrize("seed", range(6))
def test_random_traffic_matches_register_model(seed: int) -> None:
    rng = random.Random(seed)
    addrs = [0, 4, 8, 12, COUNTER, ERR_FROM]
    writes = [
        Write(
            rng.choice(addrs),
            rng.getrandbits(32),
            rng.choice([0xF, 0xF, rng.getrandbits(4)]),
            rng.choice([0, 0, 1, 3]),
            rng.choice([0, 0, 1, 3]),
        )
        for _ in range(30)
    ]
    reads = [Read(rng.choice(addrs), rng.choice([0, 0, 2])) for _ in range(30)]
    b_stall = {c for c in range(400) if rng.random() < 0.3}
    r_stall = {c for c in range(400) if rng.random() < 0.3}
    s = simulate(
        Script(writes=writes, reads=reads, bready=lambda c: c not in b_stall, rready=lambda c: c not in r_stall)
    )
    # Replay the register-port log on a Python model of the device.
    regs = [0] * NREGS
    reads_done = 0
    expect: list[tuple[int, int]] = []
    w_iter = iter(writes)
    r_iter = iter(reads)
    cycles = [a[0] for a in s.accesses]
    assert len(set(cycles)) == len(cycles), "two register accesses in one cycle"
    for _, kind, addr, data in s.accesses:
        if kind == "w":
            w = next(w_iter)
            assert addr == w.addr and data == w.data
            if addr >> 2 < NREGS:
                strb_mask = sum(0xFF << (8 * b) for b in range(4) if w.strb >> b & 1)
                regs[addr >> 2] = (regs[addr >> 2] & ~strb_mask) | (data & strb_mask)
        else:
            r = next(r_iter)
            assert addr == r.addr
            if addr >> 2 < NREGS:
                expect.append((regs[addr >> 2], RESP_OKAY))
            elif addr == COUNTER:
                expect.append((reads_done, RESP_OKAY))
                reads_done += 1
            else:
                expect.append((0, RESP_SLVERR))
    assert [(d, r) for _, d, r in s.r] == expect
    assert [r for _, r in s.b] == [RESP_SLVERR if w.addr >= ERR_FROM else RESP_OKAY for w in writes]
