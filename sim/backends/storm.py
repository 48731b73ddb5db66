"""An interrupt storm on every IO-APIC pin, as a Machine scenario that runs
unchanged on every backend (``irqforge bench`` compares ``model`` with the
RTL simulators on it).

:func:`storm` programs every redirection entry — edge and level mixed,
destinations spread over all CPUs, a distinct device vector each — and then
plays a seeded device side and a CPU side against each other until a cycle
budget is spent:

- **devices** raise lines at random (a few per slot); an edge line falls
  again one slot later, a level line stays high until the handler that
  serves it drops it (sometimes it leaves it high, as a device with more
  work does, and the IO-APIC delivers it again after the EOI);
- **CPUs** acknowledge (INTA) what their LAPIC presents, nested when a
  higher priority class arrives inside a handler, hold each handler for a
  seeded number of slots and EOI it (innermost first).

Why slots
---------

The model backend has zero latency where the RTL takes a few cycles
(:mod:`irqforge.sim.models.platform`): a pin edge is in IRR at once on the
model and two cycles later on the RTL, a register read costs four cycles on
the model and three through the co-simulation harness. A storm that acts
on the cycle an interrupt shows would therefore acknowledge different
vectors in a different order on each backend. So time is cut into slots of
``slot`` cycles and everything happens at slot starts: the device side and
the EOIs act there, then ``settle`` cycles pass (long enough for every
message of that slot to reach its LAPIC on the RTL), then each CPU with
``intr`` acknowledges once. What a CPU acknowledges in a slot is then a
function of the seed alone, and so are the counts and the per-CPU sequence
digests this returns — identical on every backend. Slots where nothing is
due are skipped in one ``wait_cycles``: the scenario never polls.

``settle`` must cover the RTL's slowest delivery in a slot: the IO-APIC
sends its messages one after the other, so lines raised together land
about a cycle apart after the pin → ``intr`` latency, and an EOI's
re-delivery of a level line takes a few cycles more. With up to 24 lines
raised at once, ``settle=12`` is too short (Verilator then acknowledges
different vectors than the model) and 32 is enough; with the default 3,
12 already is and the default 24 leaves margin. With ``settle`` of 0..2
the RTL's latency shows and the counts differ, as the model documents.

``overruns`` counts slots whose work did not fit in ``slot`` cycles (the
result would then depend on the backend's timing); it is 0 with the
defaults.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

from irqforge.sw.context import ENV_APIC

from .scenarios import Regs, SpecMachine

__all__ = ["storm"]


@dataclass
class _Pin:
    """One IO-APIC pin's device and its redirection entry."""

    pin: int
    vector: int
    cpu: int
    level: bool
    high: bool = False
    #: its handler left the (level) line high: the IO-APIC delivers it again
    kept: bool = False
    #: slot at which an edge line falls again
    fall_at: int = -1


@dataclass
class _Cpu:
    """One CPU's handlers in flight, innermost last: (vector, EOI due slot)."""

    stack: list[tuple[int, int]] = field(default_factory=list)
    acked: int = 0
    digest: Any = field(default_factory=hashlib.sha256)


async def storm(
    machine: SpecMachine,
    cycles: int = 100_000,
    seed: int = 1,
    *,
    slot: int = 64,
    settle: int = 24,
    raises_per_slot: int = 3,
    level_share: float = 0.35,
    hold_slots: int = 3,
    keep_high: float = 0.25,
    apic: str | None = None,
) -> dict:
    """Run the storm for ``cycles`` cycles (see the module docstring).

    Every one or two slots (at random) the devices raise 1..``raises_per_slot``
    idle lines; ``level_share`` is the share of level-triggered pins,
    ``hold_slots`` the longest a handler runs before its EOI (1..that many
    slots), ``keep_high`` the chance that a level handler leaves its line
    high. Returns per-CPU counts and sequence digests (the acknowledged
    ``(slot, vector)`` pairs), totals, and under ``"timing"`` the wall time,
    cycles, cycles/s and acknowledged interrupts/s.

    ``apic="x2apic"`` (default: ``IRQFORGE_APIC``, which ``irqforge sim
    --apic`` sets, else xAPIC) switches every LAPIC to x2APIC mode first and
    EOIs through the EOI MSR; the counts and digests are the same as in xAPIC mode.
    """
    if slot <= settle:
        raise ValueError(f"slot ({slot}) must be longer than settle ({settle})")
    regs = Regs(machine)
    spec = machine.spec
    rng = random.Random(seed)
    ncpus = machine.ncpus
    npins = spec.ioapic.param("pins")
    vectors = rng.sample(regs.device_vectors(), npins)
    level = set(rng.sample(range(npins), round(level_share * npins)))
    pins = [_Pin(pin=p, vector=vectors[p], cpu=p % ncpus, level=p in level) for p in range(npins)]
    by_vector = {p.vector: p for p in pins}
    cpus = [_Cpu() for _ in range(ncpus)]

    mode = apic if apic is not None else os.environ.get(ENV_APIC) or "xapic"
    if mode not in ("xapic", "x2apic"):
        raise ValueError(f"apic={mode!r}: choose xapic or x2apic")
    for cpu in range(ncpus):
        if mode == "x2apic":
            await regs.x2apic_enable(cpu)
        await regs.lapic_enable(cpu)
    for p in pins:
        await regs.route_pin(
            0,
            p.pin,
            VECTOR=p.vector,
            DELIVERY_MODE="FIXED",
            DEST_MODE="PHYSICAL",
            TRIGGER="LEVEL" if p.level else "EDGE",
            MASK=0,
            DEST=spec.platform.cpus[p.cpu].apic_id,
        )

    nslots = cycles // slot
    start = -(-machine.now() // slot) * slot + slot  # a slot boundary after the set-up
    await machine.wait_cycles(start - machine.now())
    start_wall = time.perf_counter()
    raised = redelivered = spurious = eois = overruns = max_nesting = 0
    next_raise = 0
    k = 0
    while k < nslots:
        # -- EOIs due: the innermost handler of each CPU, one per CPU per slot
        for cpu, c in enumerate(cpus):
            if c.stack and c.stack[-1][1] <= k:
                vector, _ = c.stack.pop()
                p = by_vector[vector]  # only device vectors are ever pushed
                if p.level:
                    p.kept = rng.random() < keep_high
                    if not p.kept:
                        p.high = False
                        machine.set_irq(p.pin, 0)
                await regs.eoi(cpu)
                eois += 1
                if c.stack and c.stack[-1][1] <= k:
                    c.stack[-1] = (c.stack[-1][0], k + 1)
        # -- devices: edge lines fall a slot after rising; new lines rise
        for p in pins:
            if p.fall_at == k:
                p.high = False
                machine.set_irq(p.pin, 0)
        if k >= next_raise:
            idle = [p for p in pins if not p.high and p.fall_at < k]
            for p in rng.sample(idle, min(len(idle), rng.randint(1, raises_per_slot))):
                p.high = True
                if not p.level:
                    p.fall_at = k + 1
                machine.set_irq(p.pin, 1)
                raised += 1
            next_raise = k + 1 + rng.randrange(2)
        # -- CPUs: once every message of the slot has landed, acknowledge
        await machine.wait_cycles(settle)
        for cpu, c in enumerate(cpus):
            if not machine.intr_pending(cpu):
                continue
            vector = await machine.acknowledge(cpu)
            c.digest.update(b"%d:%d;" % (k, vector))
            if vector not in by_vector:
                spurious += 1
                continue
            c.acked += 1
            p = by_vector[vector]
            if p.kept:
                p.kept = False
                redelivered += 1
            c.stack.append((vector, k + 1 + rng.randrange(hold_slots)))
            max_nesting = max(max_nesting, len(c.stack))
        # -- the next slot where something is due; nothing happens in between
        due = [next_raise, *(p.fall_at for p in pins if p.fall_at > k)]
        due += [c.stack[-1][1] for c in cpus if c.stack]
        nxt = min(max(d, k + 1) for d in due)
        if machine.now() > start + k * slot + slot:
            overruns += 1
        k = min(nxt, nslots)
        target = start + k * slot
        if target > machine.now():
            await machine.wait_cycles(target - machine.now())
    wall = time.perf_counter() - start_wall
    spent = machine.now() - start
    acked = sum(c.acked for c in cpus)
    return {
        "seed": seed,
        "slots": nslots,
        "pins": npins,
        "level_pins": sum(p.level for p in pins),
        "cpus": [{"acked": c.acked, "digest": c.digest.hexdigest()[:16]} for c in cpus],
        "acked": acked,
        "raised": raised,
        "redelivered": redelivered,
        "spurious": spurious,
        "eois": eois,
        "max_nesting": max_nesting,
        "overruns": overruns,
        "timing": {
            "cycles": spent,
            "wall_s": wall,
            "cycles_per_s": spent / wall if wall else None,
            "irqs_per_s": acked / wall if wall else None,
        },
    }
