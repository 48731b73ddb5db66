"""cocotb benches for ``irqforge_lapic``: AXI4-Lite through cocotbext-axi, checked against the model.

Run with :func:`irqforge.sim.runner.build_and_test` (test module
``"irqforge.sim.benches.lapic_bench"``, toplevel ``"irqforge_lapic"``).

Pieces, kept apart:

- **Drivers**: cocotbext-axi's ``AxiLiteMaster`` on the ``bus__*`` ports
  (``AxiLiteBus.from_prefix(dut, "bus_")``: cocotb-bus adds its ``"_"``
  separator, giving ``bus__awaddr``), and small coroutines for ``msg_in``,
  ``inta``, ``nmi_ack``, ``ipi__ready`` and the LINT pins. Every driver
  changes its signals just after a rising edge.
- **Monitor** (:class:`PortMonitor`): samples every port in the middle of
  each cycle (at the falling edge) and works out which register
  access the bridge issues in that cycle, mirroring the documented bridge
  rule (a write issues when both AW and W are present and the B slot is
  free; a read on the AR handshake).
- **Model and checker**: :class:`~irqforge.sim.benches.lapic_check.LapicChecker`
  replays the cycle on :class:`~irqforge.sim.models.lapic.LapicModel` and
  compares every output; read data is compared when the R beat arrives.

Environment knobs: ``LAPIC_CYCLES`` (random test length, default 20000),
``LAPIC_SEED`` (default: cocotb's random seed). The random test prints its
seed on failure and writes ``lapic_random.json`` (cycles, seed, wall time,
counts) into its working folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections import deque
from pathlib import Path
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge, Timer
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from irqforge.sim.benches.lapic_check import Cycle, LapicChecker, Mismatch, RandomStimulus
from irqforge.sim.models.lapic import LapicModel
from irqforge.sim.models.messages import DeliveryMode, DestMode, Interrupt, Ipi, Shorthand, Trigger
from irqforge.spec import load_default

APIC_ID = 5
RESULT_FILE = "lapic_random.json"


def _int(sig: Any) -> int:
    """A port's value; undriven (X/Z) bits of idle AXI payloads count as 0."""
    text = str(sig.value)
    return int("".join(ch if ch in "01" else "0" for ch in text), 2)


class PortMonitor:
    """Samples the LAPIC's ports once per cycle and feeds the checker."""

    def __init__(self, dut: Any, checker: LapicChecker) -> None:
        self.dut = dut
        self.checker = checker
        self.aw_full = False
        self.w_full = False
        self.aw_buf = 0
        self.w_buf = (0, 0)
        self.expected_r: deque[int] = deque()
        self.error: BaseException | None = None
        self.r_beats = 0
        self.stopped = False
        self.task: Any = None

    async def stop(self) -> None:
        """End the monitor loop and wait for it (so no task is left to cancel), then re-raise its error."""
        self.stopped = True
        await ClockCycles(self.dut.clk, 2)
        if self.error is not None:
            raise self.error

    def sample(self) -> None:
        d = self.dut
        b = {
            n: _int(getattr(d, f"bus__{n}"))
            for n in (
                "awvalid",
                "awready",
                "awaddr",
                "wvalid",
                "wready",
                "wdata",
                "wstrb",
                "bvalid",
                "bready",
                "arvalid",
                "arready",
                "araddr",
                "rvalid",
                "rready",
                "rdata",
            )
        }
        write_go = (not b["bvalid"] or b["bready"]) and (self.aw_full or b["awvalid"]) and (self.w_full or b["wvalid"])
        write = None
        if write_go:
            addr = self.aw_buf if self.aw_full else b["awaddr"]
            data, strb = self.w_buf if self.w_full else (b["wdata"], b["wstrb"])
            write = (addr & 0xFFC, data, strb)
            self.aw_full = self.w_full = False
        else:
            if b["awvalid"] and b["awready"]:
                self.aw_full, self.aw_buf = True, b["awaddr"]
            if b["wvalid"] and b["wready"]:
                self.w_full, self.w_buf = True, (b["wdata"], b["wstrb"])
        read = b["araddr"] & 0xFFC if b["arvalid"] and b["arready"] else None
        if b["rvalid"] and b["rready"]:
            want = self.expected_r.popleft()
            self.r_beats += 1
            if b["rdata"] != want:
                raise Mismatch(f"cycle {self.checker.cycle}: read data {b['rdata']:#x} != model {want:#x}")
        ipi = None
        if _int(d.ipi__valid):
            ipi = Ipi(
                vector=_int(d.ipi__vector),
                delivery_mode=DeliveryMode(_int(d.ipi__delivery_mode)),
                dest_mode=DestMode(_int(d.ipi__dest_mode)),
                dest=_int(d.ipi__dest),
                shorthand=Shorthand(_int(d.ipi__shorthand)),
                trigger=Trigger(_int(d.ipi__trigger)),
                level=_int(d.ipi__level),
                source=_int(d.ipi__source),
            )
        msg = None
        if _int(d.msg_in__valid):
            msg = Interrupt(
                _int(d.msg_in__vector),
                DeliveryMode(_int(d.msg_in__delivery_mode)),
                Trigger(_int(d.msg_in__trigger)),
                _int(d.msg_in__level),
            )
        c = Cycle(
            read=read,
            write=write,
            inta=bool(_int(d.inta)),
            nmi_ack=bool(_int(d.nmi_ack)),
            ipi_ready=bool(_int(d.ipi__ready)),
            msg=msg,
            lint=(_int(d.lint0), _int(d.lint1)),
            intr=bool(_int(d.intr)),
            vector=_int(d.vector),
            nmi=bool(_int(d.nmi)),
            ack=_int(d.ack_vector) if _int(d.ack_valid) else None,
            eoi=_int(d.eoi__vector) if _int(d.eoi__valid) else None,
            init=bool(_int(d.init)),
            sipi=_int(d.sipi_vector) if _int(d.sipi) else None,
            ipi=ipi,
            apic_id=_int(d.apic_id),
            ldr=_int(d.ldr),
            dfr_model=_int(d.dfr_model),
            arb_priority=_int(d.arb_priority),
            enabled=bool(_int(d.enabled)),
        )
        value = self.checker.step(c)
        if value is not None:
            self.expected_r.append(value)

    async def run(self) -> None:
        try:
            while True:
                await FallingEdge(self.dut.clk)
                await ReadOnly()
                self.sample()
        except BaseException as e:
            self.error = e


async def setup(dut: Any) -> tuple[AxiLiteMaster, PortMonitor]:
    """Clock, reset, idle inputs, the AXI master and a running monitor (model in lock step from reset)."""
    spec = load_default()
    for name in (
        "inta",
        "nmi_ack",
        "msg_in__valid",
        "msg_in__vector",
        "msg_in__delivery_mode",
        "msg_in__trigger",
        "msg_in__level",
        "ipi__ready",
        "lint0",
        "lint1",
    ):
        getattr(dut, name).value = 0
    for name in (
        "awaddr",
        "awprot",
        "awvalid",
        "wdata",
        "wstrb",
        "wvalid",
        "bready",
        "araddr",
        "arprot",
        "arvalid",
        "rready",
    ):
        getattr(dut, f"bus__{name}").value = 0
    dut.initial_apic_id.value = APIC_ID
    dut.rst.value = 1
    await Timer(1, "ns")  # let the inputs settle before the first clock edge
    Clock(dut.clk, 10, unit="ns").start()
    axi = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "bus_"), dut.clk, dut.rst)
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    monitor = PortMonitor(dut, LapicChecker(LapicModel(spec, APIC_ID)))
    monitor.task = cocotb.start_soon(monitor.run())
    return axi, monitor


@cocotb.test()
async def registers_through_axi(dut: Any) -> None:
    """Reset values, writable masks and the ESR latch through cocotbext-axi, checked by the model."""
    axi, mon = await setup(dut)
    dev = load_default().lapic
    assert (await axi.read_dword(dev.offset("ID"))) == APIC_ID << 24
    assert (await axi.read_dword(dev.offset("VERSION"))) == dev.register("VERSION").reset
    await axi.write_dword(dev.offset("SVR"), 0x1FF)
    await axi.write_dword(dev.offset("LVT_LINT0"), 0xFFFFFFFF)
    assert (await axi.read_dword(dev.offset("LVT_LINT0"))) == dev.register("LVT_LINT0").writable_mask
    assert (await axi.read_dword(0x3A0)) == 0  # reserved
    await axi.write_dword(dev.offset("ESR"), 0)
    assert (await axi.read_dword(dev.offset("ESR"))) == 0x80
    await ClockCycles(dut.clk, 4)
    await mon.stop()
    assert mon.r_beats == 5


@cocotb.test()
async def interrupt_round_trip(dut: Any) -> None:
    """msg_in → intr (1 cycle), INTA → ack_valid (1 cycle), level EOI broadcast, ICR → ipi."""
    axi, mon = await setup(dut)
    dev = load_default().lapic
    await axi.write_dword(dev.offset("SVR"), 0x1FF)
    await RisingEdge(dut.clk)
    dut.msg_in__valid.value = 1
    dut.msg_in__vector.value = 0x79
    dut.msg_in__trigger.value = 1
    dut.msg_in__level.value = 1
    await RisingEdge(dut.clk)
    dut.msg_in__valid.value = 0
    await ReadOnly()
    assert dut.intr.value == 1 and int(dut.vector.value) == 0x79
    await RisingEdge(dut.clk)
    dut.inta.value = 1
    await RisingEdge(dut.clk)
    dut.inta.value = 0
    await ReadOnly()
    assert dut.ack_valid.value == 1 and int(dut.ack_vector.value) == 0x79
    await RisingEdge(dut.clk)
    await axi.write_dword(dev.offset("EOI"), 0)
    await axi.write_dword(dev.offset("ICR_HI"), 0x0100_0000)
    await axi.write_dword(dev.offset("ICR_LO"), 0x31)
    await ReadOnly()
    assert dut.ipi__valid.value == 1
    await RisingEdge(dut.clk)
    dut.ipi__ready.value = 1
    await RisingEdge(dut.clk)
    dut.ipi__ready.value = 0
    await ClockCycles(dut.clk, 3)
    await mon.stop()


@cocotb.test()
async def random_differential(dut: Any) -> None:
    """Constrained-random register traffic, messages, INTA/EOI, LINT and IPI back-pressure vs the model."""
    cycles = int(os.environ.get("LAPIC_CYCLES", "20000"))
    seed = int(os.environ.get("LAPIC_SEED", str(cocotb.RANDOM_SEED)))
    spec = load_default()
    axi, mon = await setup(dut)
    stim = RandomStimulus(spec, seed)
    rng = random.Random(seed + 1)
    start = time.perf_counter()
    done = False

    async def cpu() -> None:
        await axi.write_dword(spec.lapic.offset("SVR"), 0x1FF)
        while not done:
            op = stim.reg_op()
            if op.value is None:
                await axi.read_dword(op.offset)
            elif op.strb == 0xF:
                await axi.write_dword(op.offset, op.value)
            else:
                await axi.write(op.offset, (op.value & 0xFF).to_bytes(1, "little"))  # one byte: partial strobe
            await ClockCycles(dut.clk, rng.choice([0, 0, 1, 3, 10]))

    async def pins() -> None:
        lint = [0, 0]
        while not done:
            await RisingEdge(dut.clk)
            if rng.random() < 0.12:
                m = stim.message()
                dut.msg_in__valid.value = 1
                dut.msg_in__vector.value = m.vector
                dut.msg_in__delivery_mode.value = int(m.delivery_mode)
                dut.msg_in__trigger.value = int(m.trigger)
                dut.msg_in__level.value = m.level
            else:
                dut.msg_in__valid.value = 0
            dut.inta.value = int((int(dut.intr.value) and rng.random() < 0.3) or rng.random() < 0.01)
            dut.nmi_ack.value = int(int(dut.nmi.value) and rng.random() < 0.2)
            dut.ipi__ready.value = int(rng.random() < 0.4)
            if rng.random() < 0.02:
                k = rng.randrange(2)
                lint[k] ^= 1
                getattr(dut, f"lint{k}").value = lint[k]

    tasks = [cocotb.start_soon(cpu()), cocotb.start_soon(pins())]
    step = 1000
    for _ in range(0, cycles, step):
        await ClockCycles(dut.clk, step)
        if mon.error is not None:
            break
    done = True
    for t in tasks:
        await t
    with contextlib.suppress(Exception):  # mon.error is reported below, with the seed
        await mon.stop()
    wall = time.perf_counter() - start
    ck = mon.checker
    Path(RESULT_FILE).write_text(
        json.dumps(
            {
                "seed": seed,
                "cycles": ck.cycle,
                "wall_s": wall,
                "reads": ck.reads,
                "writes": ck.writes,
                "intas": ck.intas,
                "checked_outputs": ck.checked_outputs,
            }
        )
    )
    if mon.error is not None:
        raise AssertionError(f"LAPIC random differential failed (seed {seed}, LAPIC_SEED={seed}): {mon.error}")
    assert ck.writes > cycles // 50 and ck.intas > 0, f"too little traffic (seed {seed})"
