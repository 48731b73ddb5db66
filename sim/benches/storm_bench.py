"""The interrupt storm on ``irqforge_platform`` (issue 4 item 6), as a cocotb test.

Every IO-APIC pin toggles at random — a mix of edge and level entries, spread
over all CPUs, each pin with its own vector — while every CPU acknowledges
and EOIs after random delays. Every event is accounted for, exactly:

- **Observation.** Besides the CPU pins, the bench watches the router's
  ``msg__{i}__{valid,ready,vector}`` (the LAPICs' ``msg_in``): a message
  counts when ``valid & ready`` in a cycle. These are internal signals:
  Icarus shows them as they are, Verilator needs them public
  (:data:`VERILATOR_PUBLIC`, appended to the build's ``.vlt``). The bench
  wakes on ``RisingEdge(valid)`` and follows ``valid`` only while it stays
  high, so Python runs per event, never per idle cycle.
- **Reference.** :class:`StormModel` keeps each CPU's IRR and ISR exactly
  (a message sets IRR, INTA moves the highest deliverable IRR vector to ISR,
  EOI clears the highest ISR bit), each level entry's Remote IRR, and each
  pin's line history.
- **Edge pins.** Rising edges of the same pin are at least
  :data:`EDGE_GAP` cycles apart, longer than the IO-APIC needs to send one
  (round robin over the pins, one per cycle), so every edge must become
  exactly one message, 1 to :attr:`StormModel.deadline` cycles after it
  (else *lost*, *late* or *duplicate*). At the LAPIC a message whose IRR bit
  is already set is *coalesced* (reference §1.4: IRR is one bit per
  vector); otherwise it is later acknowledged once. In the end
  ``edges == delivered + coalesced``, nothing pending.
- **Level pins.** A message needs the line asserted in the cycle before it
  (the IO-APIC samples the pins at the clock edge) and Remote IRR clear
  (no second message before the EOI of the first, else *duplicate*). While
  the line is asserted and Remote IRR is clear the pin is *owed* a message;
  if it stays owed for :attr:`StormModel.deadline` cycles with the line still
  high, it was *lost*. A line that falls earlier may take its request with
  it (reference §2.4), which is allowed and counted as *withdrawn*.
- **CPUs.** Each CPU waits for ``intr``, waits a random delay, pulses
  ``inta`` and checks ``ack_vector`` against the model's highest
  deliverable vector, waits again, then writes EOI through its AXI4-Lite
  port. One interrupt at a time per CPU (no nesting).

Environment knobs: ``STORM_CYCLES`` (default 20000), ``STORM_SEED`` (default
cocotb's seed). The test writes ``storm_result.json`` (cycles, wall time,
counts, losses and duplicates) into its working folder.
"""

from __future__ import annotations

import heapq
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cocotb
from cocotb.triggers import ClockCycles, Event, First, ReadOnly, RisingEdge

from irqforge.sim.benches.platform_bench import PlatformHarness

__all__ = ["EDGE_GAP", "RESULT_FILE", "VERILATOR_PUBLIC", "StormModel", "StormPin", "storm"]

RESULT_FILE = "storm_result.json"
#: Verilator control lines that make the router's message ports visible to the bench.
VERILATOR_PUBLIC = 'public_flat_rd -module "*router*" -var "msg__*"\n'
#: Minimum cycles between two rising edges of one edge-triggered pin.
EDGE_GAP = 40


@dataclass
class StormPin:
    """How the storm programs and drives one IO-APIC pin."""

    pin: int
    cpu: int
    vector: int
    level: bool
    line: int = 0
    changes: list[tuple[int, int]] = field(default_factory=list)
    """(cycle, level) of every change of the line, oldest first (trimmed)."""
    edges_unsent: list[int] = field(default_factory=list)
    """Edge pins: cycles of rising edges whose message has not arrived yet."""
    remote_irr: bool = False
    owed_since: int | None = None
    """Level pins: the cycle since which a message is owed, or None."""

    def line_at(self, cycle: int) -> int:
        """The line's level during ``cycle``."""
        level = 0
        for at, value in self.changes:
            if at > cycle:
                break
            level = value
        return level


class StormModel:
    """Exact bookkeeping of the storm; every method raises on a violation."""

    def __init__(self, pins: list[StormPin], ncpus: int, spurious: int, deadline: int) -> None:
        self.pins = {p.pin: p for p in pins}
        self.by_vector = {(p.cpu, p.vector): p for p in pins}
        self.irr: list[set[int]] = [set() for _ in range(ncpus)]
        # The cycle each IRR vector's message was taken in: the LAPIC's priority
        # stage shows a vector taken in cycle c from cycle c + 2 on.
        self.irr_since: list[dict[int, int]] = [{} for _ in range(ncpus)]
        self.isr: list[set[int]] = [set() for _ in range(ncpus)]
        self.spurious = spurious
        self.deadline = deadline
        self.counts = {
            "edges": 0,
            "edge_messages": 0,
            "edge_delivered": 0,
            "edge_coalesced": 0,
            "level_assertions": 0,
            "level_messages": 0,
            "level_delivered": 0,
            "level_withdrawn": 0,
            "eois": 0,
            "lost": 0,
            "duplicates": 0,
        }

    def fail(self, kind: str, text: str) -> None:
        self.counts[kind] += 1
        raise AssertionError(text)

    # ------------------------------------------------------------------ lines

    def line(self, pin: StormPin, level: int, cycle: int) -> None:
        """The bench drives ``pin``'s line to ``level`` from ``cycle`` on."""
        if level == pin.line:
            return
        pin.line = level
        pin.changes.append((cycle, level))
        if len(pin.changes) > 8:
            del pin.changes[:-8]
        if pin.level:
            if level:
                self.counts["level_assertions"] += 1
                if not pin.remote_irr:
                    pin.owed_since = cycle
            else:
                self._check_owed(pin, cycle)
                if pin.owed_since is not None:
                    self.counts["level_withdrawn"] += 1
                pin.owed_since = None
        elif level:
            self.check_edges(pin, cycle)
            self.counts["edges"] += 1
            pin.edges_unsent.append(cycle)

    def _check_owed(self, pin: StormPin, cycle: int) -> None:
        if pin.owed_since is not None and pin.line_at(cycle - 1) and cycle - pin.owed_since > self.deadline:
            self.fail("lost", f"level pin {pin.pin}: owed a message since cycle {pin.owed_since}, "
                              f"none by {cycle} with the line high")

    def check_edges(self, pin: StormPin, cycle: int) -> None:
        if pin.edges_unsent and cycle - pin.edges_unsent[0] > self.deadline:
            self.fail("lost", f"edge pin {pin.pin}: the edge of cycle {pin.edges_unsent[0]} "
                              f"never arrived (now {cycle})")

    def check_all(self, cycle: int) -> None:
        """Deadlines of every pin at ``cycle``."""
        for pin in self.pins.values():
            if pin.level:
                if pin.line:
                    self._check_owed(pin, cycle)
            else:
                self.check_edges(pin, cycle)

    # ------------------------------------------------------------------ LAPIC side

    def message(self, cpu: int, vector: int, cycle: int) -> None:
        """The router handed ``vector`` to LAPIC ``cpu`` in ``cycle``."""
        pin = self.by_vector.get((cpu, vector))
        if pin is None:
            self.fail("duplicates", f"CPU {cpu} got vector {vector:#x} in cycle {cycle}, which no pin sends it")
            return
        if pin.level:
            if pin.remote_irr:
                self.fail("duplicates", f"level pin {pin.pin}: second message in cycle {cycle} before the EOI")
            if not pin.line_at(cycle - 1):
                self.fail("duplicates", f"level pin {pin.pin}: message in cycle {cycle}, line low before it")
            if pin.owed_since is not None and cycle - pin.owed_since > self.deadline:
                self.fail("lost", f"level pin {pin.pin}: message {cycle - pin.owed_since} cycles late")
            if vector in self.irr[cpu]:
                self.fail("duplicates", f"level pin {pin.pin}: message found IRR set")
            pin.remote_irr = True
            pin.owed_since = None
            self.counts["level_messages"] += 1
            self.irr[cpu].add(vector)
            self.irr_since[cpu][vector] = cycle
            return
        if not pin.edges_unsent:
            self.fail("duplicates", f"edge pin {pin.pin}: message in cycle {cycle} without an edge")
        edge = pin.edges_unsent.pop(0)
        if not 0 < cycle - edge <= self.deadline:
            self.fail("lost", f"edge pin {pin.pin}: edge of cycle {edge} arrived in cycle {cycle}")
        self.counts["edge_messages"] += 1
        if vector in self.irr[cpu]:
            self.counts["edge_coalesced"] += 1
        else:
            self.irr[cpu].add(vector)
            self.irr_since[cpu][vector] = cycle

    def inta(self, cpu: int, cycle: int) -> int:
        """INTA on ``cpu`` in ``cycle``: the vector it must acknowledge (moved IRR → ISR).

        The LAPIC's priority stage holds IRR as it was in the previous cycle,
        so only vectors taken in ``cycle - 2`` or earlier count.
        """
        isrv = max(self.isr[cpu], default=0)
        since = self.irr_since[cpu]
        seen = [v for v in self.irr[cpu] if since[v] <= cycle - 2]
        irrv = max(seen, default=0)
        if not seen or irrv >> 4 <= isrv >> 4:
            return self.spurious
        self.irr[cpu].discard(irrv)
        del since[irrv]
        self.isr[cpu].add(irrv)
        pin = self.by_vector[(cpu, irrv)]
        self.counts["level_delivered" if pin.level else "edge_delivered"] += 1
        return irrv

    def eoi(self, cpu: int) -> StormPin | None:
        """EOI on ``cpu`` (issued now); the level pin whose Remote IRR it clears, if any."""
        if not self.isr[cpu]:
            return None
        vector = max(self.isr[cpu])
        self.isr[cpu].discard(vector)
        self.counts["eois"] += 1
        pin = self.by_vector[(cpu, vector)]
        if pin.level:
            pin.remote_irr = False
            return pin
        return None

    def eoi_done(self, pin: StormPin, cycle: int) -> None:
        """The EOI write that cleared ``pin``'s Remote IRR completed in ``cycle``."""
        if pin.line and not pin.remote_irr and pin.owed_since is None:
            pin.owed_since = cycle

    def check_final(self, cycle: int) -> None:
        """After the drain: nothing pending anywhere, every edge accounted for."""
        self.check_all(cycle)
        for pin in self.pins.values():
            if pin.edges_unsent:
                self.fail("lost", f"edge pin {pin.pin}: edges {pin.edges_unsent} never arrived")
            if pin.remote_irr:
                self.fail("lost", f"level pin {pin.pin}: Remote IRR still set at the end")
        for cpu, (irr, isr) in enumerate(zip(self.irr, self.isr, strict=True)):
            if irr or isr:
                self.fail("lost", f"CPU {cpu}: IRR {sorted(irr)} ISR {sorted(isr)} left at the end")
        c = self.counts
        if c["edges"] != c["edge_messages"] or c["edge_messages"] != c["edge_delivered"] + c["edge_coalesced"]:
            self.fail("lost", f"edge accounting: {c}")


@cocotb.test()
async def storm(dut: Any) -> None:
    """Random pin storm with random INTA/EOI delays; every event accounted for."""
    cycles = int(os.environ.get("STORM_CYCLES", "20000"))
    seed = int(os.environ.get("STORM_SEED", str(cocotb.RANDOM_SEED)))
    rng = random.Random(seed)
    h = PlatformHarness(dut)
    await h.start()
    await h.enable_lapics()
    r, n = h.regs, h.n
    pins = [StormPin(p, cpu=p % n, vector=0x20 + 8 * p + rng.randrange(8), level=rng.random() < 0.4)
            for p in range(r.pins)]
    for p in pins:
        await h.program_rte(p.pin, r.rte(p.vector, dest=r.apic_ids[p.cpu], trigger=int(p.level)), cpu=p.pin % n)
    model = StormModel(pins, n, r.spurious_reset, deadline=r.pins + 8)
    clk = dut.clk
    running = True
    stopped = Event()
    started_at = h.now()
    wall = time.perf_counter()

    async def drive_pins() -> None:
        nonlocal running
        events = [(started_at + rng.randrange(1, 50), p.pin) for p in pins]
        heapq.heapify(events)
        end = started_at + cycles
        irq = 0
        while events:
            at, number = heapq.heappop(events)
            now = h.now()
            if at > now:
                await ClockCycles(clk, at - now)
            now = h.now()
            pin = model.pins[number]
            model.check_all(now)
            if now >= end:
                if pin.line:
                    model.line(pin, 0, now)
                    irq &= ~(1 << number)
                    dut.irq.value = irq
                continue
            level = 1 - pin.line
            model.line(pin, level, now)
            irq = irq | 1 << number if level else irq & ~(1 << number)
            dut.irq.value = irq
            if pin.level:
                gap = rng.choice([rng.randrange(1, 8), rng.randrange(1, 400)])
            elif level:
                gap = rng.choice([1, rng.randrange(1, 60)])
            else:
                gap = EDGE_GAP + rng.choice([0, rng.randrange(400)])
            heapq.heappush(events, (now + gap, number))
        running = False
        stopped.set()

    async def watch(cpu: int) -> None:
        valid = getattr(dut.router, f"msg__{cpu}__valid")
        ready = getattr(dut.router, f"msg__{cpu}__ready")
        vector = getattr(dut.router, f"msg__{cpu}__vector")
        while True:
            await RisingEdge(valid)
            await ReadOnly()
            while valid.value:
                if ready.value:
                    model.message(cpu, int(vector.value), h.now())
                await RisingEdge(clk)
                await ReadOnly()

    async def serve(cpu: int) -> None:
        pin_intr = h.cpu[cpu].intr
        while True:
            if not pin_intr.value:
                if not running:
                    await First(RisingEdge(pin_intr), ClockCycles(clk, 4 * model.deadline))
                    if not pin_intr.value:
                        return
                else:
                    await First(RisingEdge(pin_intr), stopped.wait())
                    if not pin_intr.value:
                        continue
            await ClockCycles(clk, 1 + rng.choice([0, rng.randrange(8), rng.randrange(300)]))
            h.cpu[cpu].inta.value = 1
            expected = model.inta(cpu, h.now())
            await RisingEdge(clk)
            h.cpu[cpu].inta.value = 0
            await ReadOnly()
            got = int(h.cpu[cpu].ack_vector.value)
            assert h.cpu[cpu].ack_valid.value == 1, f"CPU {cpu}: no ack_valid"
            assert got == expected, f"CPU {cpu} cycle {h.now()}: acknowledged {got:#x}, model {expected:#x}"
            await ClockCycles(clk, 1 + rng.choice([0, rng.randrange(8), rng.randrange(200)]))
            cleared = model.eoi(cpu)
            await h.write(cpu, r.lapic("EOI"), 0)
            if cleared is not None:
                model.eoi_done(cleared, h.now())

    watchers = [cocotb.start_soon(watch(i)) for i in range(n)]
    servers = [cocotb.start_soon(serve(i)) for i in range(n)]
    await cocotb.start_soon(drive_pins())
    for s in servers:
        await s
    await ClockCycles(clk, 4 * model.deadline)
    model.check_final(h.now())
    for w in watchers:
        w.cancel()
    simulated = h.now() - started_at
    elapsed = time.perf_counter() - wall
    result = {"cycles": simulated, "seed": seed, "wall_s": round(elapsed, 3),
              "cycles_per_s": round(simulated / elapsed), "sim": cocotb.SIM_NAME, **model.counts}
    Path(RESULT_FILE).write_text(json.dumps(result, indent=2) + "\n")
    cocotb.log.info("storm: %s", result)
    assert simulated >= cycles
    assert model.counts["edges"] > 0 and model.counts["level_messages"] > 0
