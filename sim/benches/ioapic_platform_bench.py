"""The IO-APIC inside ``irqforge_platform``, pins toggling from reset, checked
cycle by cycle against :class:`~irqforge.sim.models.ioapic.IoApicModel`.

Written for Icarus, whose four-valued simulation shows what Verilator's
two-valued one hides: an ``x`` or ``z`` anywhere in the IO-APIC's message
output (from an index out of range, a register without a reset value, a
pin read before it was driven) fails the test in the cycle it appears.

Pieces:

- **Stimulus.** The 24 device lines change pseudo-randomly from the first
  clock edge on — through reset and while CPU 0 is still programming the
  redirection table — every few cycles. CPU 0 enables both LAPICs and
  programs every pin (vector ``0x30 + pin``, edge and level entries in
  turn, some active low, CPUs in turn); later it rewrites a few entries
  (masking, unmasking, changing the trigger mode) while the storm goes on.
- **CPUs.** Each CPU acknowledges every interrupt (``inta``) and writes the
  EOI to its LAPIC, so level entries see their EOI broadcast and are
  delivered again.
- **Checker.** Once per cycle (after the falling edge, when the inputs of
  the coming rising edge are settled) the bench samples the IO-APIC core's
  inputs inside the platform — pins, ``msg__ready``, the EOI port, the
  register strobe port — feeds them to the model, and compares
  ``msg__{valid,vector,delivery_mode,dest_mode,dest,trigger}`` with the
  model's slot. Every message the IO-APIC sends is thereby checked in value
  and order. In the end each CPU must have taken only vectors routed to it,
  and enough of them.

Environment knob: ``IOAPIC_PLATFORM_CYCLES`` (default 3000), cycles of storm
after the set-up.
"""

from __future__ import annotations

import os
import random
from typing import Any

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from irqforge.sim.benches.platform_bench import PlatformHarness
from irqforge.sim.models.ioapic import IoApicModel
from irqforge.sim.models.messages import IoApicMessage

__all__ = ["ENV_CYCLES", "ioapic_in_platform_from_reset"]

ENV_CYCLES = "IOAPIC_PLATFORM_CYCLES"
#: ``msg__*`` of the IO-APIC core, in the order of the compared tuple
_MSG = ("vector", "delivery_mode", "dest_mode", "dest", "trigger")


def _msg_tuple(m: IoApicMessage | None) -> tuple[int, ...] | None:
    if m is None:
        return None
    return (m.vector, int(m.delivery_mode), int(m.dest_mode), m.dest, int(m.trigger))


def _int(handle: Any, what: str, cycle: int) -> int:
    """The value of ``handle``; fails on any ``x``/``z`` bit."""
    value = handle.value
    if not value.is_resolvable:
        raise AssertionError(f"cycle {cycle}: {what} is {value} (x or z in the IO-APIC inside the platform)")
    return int(value)


class LockStep:
    """Samples the IO-APIC core of the platform once per cycle and runs the model beside it."""

    def __init__(self, dut: Any, model: IoApicModel) -> None:
        self.core = dut.ioapic.core
        self.clk = dut.clk
        self.model = model
        self.cycle = 0
        self.messages = 0
        self.failure: str | None = None

    async def run(self) -> None:
        core, model = self.core, self.model
        while True:
            await FallingEdge(self.clk)
            await ReadOnly()
            c = self.cycle
            try:
                model.set_pins(_int(core.irq, "irq", c))
                valid = _int(core.msg__valid, "msg__valid", c)
                got = tuple(_int(getattr(core, f"msg__{f}"), f"msg__{f}", c) for f in _MSG) if valid else None
                want = _msg_tuple(model.msg)
                if got != want:
                    raise AssertionError(f"cycle {c}: msg__* {got}, the model has {want}")
                ready = _int(core.msg__ready, "msg__ready", c)
                if _int(core.eoi__valid, "eoi__valid", c):
                    model.eoi(_int(core.eoi__vector, "eoi__vector", c))
                if _int(core.reg__w_stb, "reg__w_stb", c):
                    model.write(
                        _int(core.reg__addr, "reg__addr", c),
                        _int(core.reg__w_data, "reg__w_data", c),
                        _int(core.reg__w_strb, "reg__w_strb", c),
                    )
                if valid and ready:
                    self.messages += 1
                model.tick(bool(ready))
            except AssertionError as e:
                self.failure = str(e)
                return
            self.cycle += 1


async def _toggle_pins(dut: Any, rng: random.Random, pins: int) -> None:
    """New device-line levels every 3 to 9 cycles, from time 0 on."""
    mask = (1 << pins) - 1
    while True:
        dut.irq.value = rng.getrandbits(pins) & mask
        for _ in range(rng.randrange(3, 10)):
            await FallingEdge(dut.clk)


async def _cpu(h: PlatformHarness, cpu: int, taken: list[int]) -> None:
    """Acknowledge every interrupt and write the LAPIC's EOI."""
    pins = h.cpu[cpu]
    while True:
        await RisingEdge(h.dut.clk)
        if pins.intr.value.is_resolvable and int(pins.intr.value):
            taken.append(await h.acknowledge(cpu))
            await h.write(cpu, h.regs.lapic("EOI"), 0)


@cocotb.test()
async def ioapic_in_platform_from_reset(dut: Any) -> None:
    """Storm of pin changes from reset on; the IO-APIC's messages equal the model's in every cycle."""
    rng = random.Random(int(os.environ.get("RANDOM_SEED", "1")))
    h = PlatformHarness(dut)
    r = h.regs
    cocotb.start_soon(_toggle_pins(dut, rng, r.pins))
    await h.start()  # holds reset while the lines already toggle
    # The first cycle with reset low: every register is at its reset value, so is the model.
    model = IoApicModel(h.spec)
    check = LockStep(dut, model)
    checker = cocotb.start_soon(check.run())
    taken: list[list[int]] = [[] for _ in range(h.n)]
    for i in range(h.n):
        cocotb.start_soon(_cpu(h, i, taken[i]))

    await h.enable_lapics()
    routed: dict[int, int] = {}  # vector -> CPU
    for pin in range(r.pins):
        cpu = pin % h.n
        routed[0x30 + pin] = cpu
        entry = r.rte(0x30 + pin, dest=r.apic_ids[cpu], trigger=pin % 2, polarity=int(pin % 5 == 4))
        await h.program_rte(pin, entry)
    cycles = int(os.environ.get(ENV_CYCLES, "3000"))
    for step in range(6):
        await ClockCycles(dut.clk, cycles // 6)
        if step % 2 == 0:  # rewrite a few entries under load: mask, other trigger, unmask
            for pin in rng.sample(range(r.pins), 3):
                cpu = pin % h.n
                entry = r.rte(0x30 + pin, dest=r.apic_ids[cpu], trigger=rng.randrange(2), mask=rng.randrange(2))
                await h.program_rte(pin, entry, cpu=1 % h.n)
    for pin in range(r.pins):  # quiet end: every pin masked, then let the CPUs drain
        await h.write(0, r.ioregsel, r.rte_index(pin))
        await h.write(0, r.iowin, r.rte(0x30 + pin, mask=1))
    await ClockCycles(dut.clk, 200)
    checker.cancel()
    assert check.failure is None, check.failure
    dut._log.info("IO-APIC in the platform: %d cycles, %d messages, taken per CPU %s",
                  check.cycle, check.messages, [len(t) for t in taken])
    assert check.cycle > cycles
    assert check.messages > cycles // 20, f"only {check.messages} messages in {check.cycle} cycles"
    for cpu, vectors in enumerate(taken):
        wrong = sorted({v for v in vectors if routed.get(v, cpu) != cpu or (v not in routed and v != r.spurious_reset)})
        assert not wrong, f"CPU {cpu} took vectors routed elsewhere: {[hex(v) for v in wrong]}"
        assert len(vectors) > cycles // 60, f"CPU {cpu} took only {len(vectors)} interrupts"
