"""A firmware developer's cocotb test: the irqforge kernel on their own top level.

``firmware_top.v`` puts a periodic timer device next to the irqforge platform
(inside the co-simulation harness ``irqforge_cosim``). This test boots the
software stack on it — the same :class:`irqforge.sw.Kernel` the ``irqforge
sim`` backends run — installs a driver for the device with ``request_irq``,
and checks what the firmware sees: one handler run per device tick, spaced
exactly one tick period apart, on the CPU the IRQ is affine to, and in
``/proc/interrupts``.

Run it with ``python examples/cocotb_firmware/run.py`` (Verilator, or
``--sim icarus``); the test suite runs it too.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import cocotb

from irqforge.sim.backends.cocotb import CocotbMachine
from irqforge.spec import load_default
from irqforge.sw import Kernel, KernelConfig
from irqforge.sw.irq import IRQ_HANDLED, IRQF_TRIGGER_RISING
from irqforge.sw.sched import Completion

#: firmware_top's parameters, as run.py builds it
TICK_PERIOD = int(os.environ.get("FIRMWARE_TICK_PERIOD", "3000"))
DEVICE_PIN = int(os.environ.get("FIRMWARE_DEVICE_PIN", "9"))
#: device interrupts the test waits for
TICKS = 6


@cocotb.test()
async def device_ticks_reach_the_driver(dut: Any) -> None:
    spec = load_default()
    # The harness instance carries the platform's ports; the clock, reset and
    # the device lines the test may drive are the top level's.
    machine = CocotbMachine(dut.platform, spec, clk=dut.clk, rst=dut.rst, irq=dut.host_irq)
    await machine.start()
    # No tick, HPET or watchdog: the device is the only source of interrupts.
    kernel = Kernel(machine, spec, KernelConfig(hpet=False, lapic_timer=False, watchdog=False))

    async def firmware(k: Kernel) -> dict[str, Any]:
        stamps: list[int] = []
        done = Completion(k)

        def tick_interrupt(irq: int, dev_id: Any) -> int:
            stamps.append(k.machine.now())
            if len(stamps) == TICKS:
                done.complete()
            return IRQ_HANDLED

        irq = next(d.irq for d in k.irq.descs.values() if d.hwirq == DEVICE_PIN)
        assert await k.irq.request_irq(irq, tick_interrupt, IRQF_TRIGGER_RISING, "fw_tick", None) == 0
        await done.wait_for_completion()
        proc = k.proc.interrupts()
        await k.irq.free_irq(irq, None)
        return {"irq": irq, "stamps": stamps, "proc": proc, "kstat": list(k.irq.descs[irq].kstat)}

    result = await kernel.run(firmware)
    stamps = result["stamps"]
    dut._log.info("device interrupts at cycles %s", stamps)
    assert len(stamps) == TICKS
    # one handler run per device tick: exactly the device's period apart
    assert [b - a for a, b in itertools.pairwise(stamps)] == [TICK_PERIOD] * (TICKS - 1)
    # the IRQ's default affinity is CPU 0, and /proc/interrupts counts every run
    assert result["kstat"][0] == TICKS and sum(result["kstat"]) == TICKS
    row = next(line for line in result["proc"].splitlines() if line.strip().startswith(f"{result['irq']}:"))
    assert row.split()[1] == str(TICKS) and "fw_tick" in row, row
