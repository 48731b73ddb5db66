"""MSR traffic for the regression's ``platform`` suite, as a Machine scenario.

:func:`msr_walk` drives every CPU through seeded random steps on the MSR
port, each followed by a drain (every pending interrupt acknowledged and
ended with an EOI, in x2APIC mode by MSR):

- IA32_APIC_BASE mode walks: DISABLED, XAPIC and X2APIC in any order, legal
  or not, now and then with a reserved bit or the invalid encoding (EXTD
  without EN); a write the spec forbids must raise #GP, and the scenario
  brings a LAPIC it enabled back to a working state;
- IPIs through the 64-bit x2APIC ICR (every shorthand, physical and cluster
  logical destinations, 0xFFFFFFFF and 0xFF) or the xAPIC ICR pair, SELF_IPI,
  EOI, and the accesses that #GP (read-only and absent registers, a write-only
  one read, reserved bits, a non-zero EOI, the view outside x2APIC mode);
- IA32_TSC writes, and the TSC-deadline timer armed ahead or in the past,
  disarmed by 0, by leaving the mode and by disabling the APIC, and written
  outside the mode;
- an IO-APIC pin sent to 0xFF (a broadcast for xAPIC and x2APIC receivers).

With the CPUs in different modes at random, the system is mixed xAPIC/x2APIC
much of the time. Every step's outcome (#GP or not, register values that do
not depend on latency, the vectors each CPU took) goes into the result,
which the regression compares between the RTL and the ``model`` backend;
margins of hundreds of cycles keep the outcome independent of the RTL's few
cycles of latency. Addresses, fields and vectors come from the spec; MSR
numbers not in it (IA32_TSC, the x2APIC base) are the SDM's.
"""

from __future__ import annotations

import random
from typing import Any

from irqforge.sim.backends.scenarios import Regs, SpecMachine
from irqforge.sw import MsrFault

__all__ = ["msr_walk"]

IA32_TSC = 0x10  # SDM vol. 4, table 2-2
_DRAIN_WAIT = 400
_X2_ABSENT = (0x801, 0x809, 0x80C, 0x80E, 0x831, 0x8FF)  # SDM vol. 3 table 11-6: no register there


async def msr_walk(machine: SpecMachine, seed: int = 1, steps: int = 60) -> dict[str, Any]:
    """``steps`` random MSR steps on random CPUs (see the module docstring); the outcomes."""
    spec = machine.spec
    lapic = spec.lapic
    rng = random.Random(seed)
    regs = Regs(machine)
    n = machine.ncpus
    base = lapic.msr("IA32_APIC_BASE")
    breg = base.register
    mode_mask = base.modes[0].mask(breg)
    deadline = lapic.msr("IA32_TSC_DEADLINE").address
    x2 = lapic.x2apic
    assert x2 is not None, "msr_walk needs the x2APIC view"
    x2_base = x2.msr_base
    lvtt = lapic.register("LVT_TIMER")
    tm = lvtt.field("TIMER_MODE")
    vectors = regs.device_vectors()
    v_ipi, v_self, v_timer, v_io = vectors[-1], vectors[-2], vectors[-3], vectors[-4]
    pins = spec.ioapic.param("pins")
    used = {*spec.platform.isa_irq_pins.values(), *spec.platform.hpet_legacy_pins}
    pin = max(p for p in range(pins) if p not in used)
    ids = [c.apic_id for c in spec.platform.cpus]

    log: list[list[Any]] = []
    taken: list[list[int]] = [[] for _ in range(n)]
    mode: dict[int, str] = {}
    faults = [0]

    async def read_mode(cpu: int) -> str:
        value = await machine.rdmsr(cpu, base.address)
        found = base.mode_of(value)
        assert found is not None, f"IA32_APIC_BASE of CPU {cpu} reads an invalid mode {value:#x}"
        return found.name

    async def bring_up(cpu: int) -> None:
        """Software-enable a LAPIC whose mode allows it; flat logical ID 1 << cpu in xAPIC mode."""
        if mode[cpu] == "X2APIC":
            regs.x2apic.add(cpu)
        else:
            regs.x2apic.discard(cpu)
        if mode[cpu] == "DISABLED":
            return
        await regs.lapic_enable(cpu)
        if mode[cpu] == "XAPIC":
            await regs.lapic_write(cpu, "DFR", 0xFFFF_FFFF)
            await regs.lapic_write(cpu, "LDR", 1 << (24 + cpu))

    async def wrmsr(cpu: int, addr: int, value: int) -> bool:
        """WRMSR; True when it raised #GP."""
        try:
            await machine.wrmsr(cpu, addr, value)
        except MsrFault:
            faults[0] += 1
            return True
        return False

    async def rdmsr(cpu: int, addr: int) -> int | None:
        """RDMSR; None when it raised #GP."""
        try:
            return await machine.rdmsr(cpu, addr)
        except MsrFault:
            faults[0] += 1
            return None

    async def set_mode(cpu: int, target: str, extra: int = 0, invalid: bool = False) -> None:
        current = await machine.rdmsr(cpu, base.address)
        value = (current & ~mode_mask) | base.mode(target).value(breg) | extra
        if invalid:  # EXTD without EN
            value = (current & ~mode_mask) | breg.field("EXTD").mask
        fault = await wrmsr(cpu, base.address, value)
        log.append(["mode", cpu, mode[cpu], target, extra != 0, invalid, fault])
        if not fault:
            mode[cpu] = await read_mode(cpu)
            await bring_up(cpu)

    async def drain() -> None:
        await machine.wait_cycles(_DRAIN_WAIT)
        for _ in range(64):
            busy = False
            for cpu in range(n):
                while machine.intr_pending(cpu):
                    busy = True
                    taken[cpu].append(await machine.acknowledge(cpu))
                    if mode[cpu] != "DISABLED":
                        await regs.eoi(cpu)
            if not busy:
                return
            await machine.wait_cycles(40)
        raise AssertionError("msr_walk: interrupts still pending after 64 drain rounds")

    def x2_dest(target: int) -> int:
        r = rng.random()
        tid = ids[target]
        if r < 0.3:
            return tid
        if r < 0.5:
            return (tid >> 4) << 16 | 1 << (tid & 0xF)  # cluster logical (the x2APIC LDR)
        if r < 0.65:
            return 0xFFFF_FFFF
        if r < 0.8:
            return 0xFF
        return rng.randrange(0x100, 0xFFFF_FFFF)  # a 32-bit ID nobody has

    async def ipi(cpu: int) -> None:
        target = rng.randrange(n)
        sh = rng.choices([0, 1, 2, 3], weights=[5, 2, 2, 2])[0]
        dm = rng.randrange(2)
        if mode[cpu] == "X2APIC":
            value = x2_dest(target) << 32 | sh << 18 | dm << 11 | v_ipi
            if rng.random() < 0.1:
                value |= 1 << rng.choice([13, 16, 20, 31])  # reserved bits: #GP
            log.append(["icr", cpu, sh, dm, await wrmsr(cpu, x2_base + 0x30, value)])
            return
        dest = rng.choice([ids[target], 0xFF, 1 << target, 0xFF])
        await regs.lapic_write(cpu, "ICR_HI", dest << 24)
        await regs.lapic_write(cpu, "ICR_LO", sh << 18 | dm << 11 | v_ipi)
        log.append(["icr_mmio", cpu, sh, dm, dest])

    async def x2_misc(cpu: int) -> None:
        kind = rng.choice(["self", "self", "eoi", "ro", "wo", "absent", "eoi_nz", "rsvd", "read", "icr_read"])
        if kind == "self":
            value = v_self | (0x100 if rng.random() < 0.25 else 0)
            log.append([kind, cpu, await wrmsr(cpu, x2_base + 0x3F, value)])
        elif kind == "eoi":
            log.append([kind, cpu, await wrmsr(cpu, x2_base + 0x0B, 0)])
        elif kind == "eoi_nz":
            log.append([kind, cpu, await wrmsr(cpu, x2_base + 0x0B, rng.randrange(1, 1 << 32))])
        elif kind == "ro":
            addr = x2_base + rng.choice([0x02, 0x03, 0x0A, 0x0D, 0x10, 0x20, 0x39])
            log.append([kind, cpu, addr, await wrmsr(cpu, addr, rng.getrandbits(32))])
        elif kind == "wo":
            addr = x2_base + rng.choice([0x0B, 0x3F])
            log.append([kind, cpu, addr, await rdmsr(cpu, addr)])
        elif kind == "absent":
            addr = rng.choice(_X2_ABSENT)
            write = rng.random() < 0.5
            fault = await wrmsr(cpu, addr, 0) if write else await rdmsr(cpu, addr) is None
            log.append([kind, cpu, addr, write, fault])
        elif kind == "rsvd":  # bits 63:32 of a 32-bit register
            log.append([kind, cpu, await wrmsr(cpu, x2_base + 0x08, 1 << rng.randrange(32, 64))])
        elif kind == "read":
            addr = x2_base + rng.choice([0x02, 0x03, 0x08, 0x0D, 0x0F])
            log.append([kind, cpu, addr, await rdmsr(cpu, addr)])
        else:
            value = await rdmsr(cpu, x2_base + 0x30)
            log.append([kind, cpu, None if value is None else value & ~(1 << 12)])  # without delivery status

    async def tsc(cpu: int) -> None:
        value = rng.getrandbits(rng.choice([20, 40, 63]))
        fault = await wrmsr(cpu, IA32_TSC, value)
        back = await machine.rdmsr(cpu, IA32_TSC)
        log.append(["tsc", cpu, fault, 0 <= back - value < 200])

    async def timer_mode(cpu: int, name: str) -> None:
        await regs.lapic_write(cpu, "LVT_TIMER", tm.put(v_timer, tm.enum(name)))

    async def tsc_deadline(cpu: int) -> None:
        kind = rng.choice(["ahead", "ahead", "past", "zero", "mode", "reset", "ignored"])
        await timer_mode(cpu, "ONESHOT" if kind == "ignored" else "TSC_DEADLINE")
        now = await machine.rdmsr(cpu, IA32_TSC)
        if kind == "ahead":
            await wrmsr(cpu, deadline, now + rng.randrange(60, 1500))
            await machine.wait_cycles(1600)
        elif kind == "past":
            await wrmsr(cpu, deadline, max(1, now - rng.randrange(0, 5000)))
        elif kind == "ignored":
            await wrmsr(cpu, deadline, now + rng.randrange(1, 100_000))
        else:
            await wrmsr(cpu, deadline, now + 200_000)
            await machine.wait_cycles(rng.randrange(10, 200))
            if kind == "zero":
                await wrmsr(cpu, deadline, 0)
            elif kind == "mode":
                await timer_mode(cpu, rng.choice(["ONESHOT", "PERIODIC"]))
            else:
                await set_mode(cpu, "DISABLED")
                await set_mode(cpu, "XAPIC")
                if rng.random() < 0.5:
                    await set_mode(cpu, "X2APIC")
        log.append(["deadline", cpu, kind, await machine.rdmsr(cpu, deadline)])

    async def io_broadcast(cpu: int, dm: str | None = None) -> None:
        dm = dm or rng.choice(["PHYSICAL", "PHYSICAL", "LOGICAL"])
        await regs.route_pin(cpu, pin, VECTOR=v_io, DELIVERY_MODE="FIXED", DEST_MODE=dm, POLARITY="ACTIVE_HIGH",
                             TRIGGER="EDGE", MASK=0, DEST=0xFF)
        machine.set_irq(pin, 1)
        await machine.wait_cycles(20)
        machine.set_irq(pin, 0)
        log.append(["io", cpu, dm])

    # Every CPU rewrites its mode (staying is legal); CPU 0 then goes to x2APIC mode, the
    # others at random: a mixed system at once, whose IO-APIC broadcast (the first step) must
    # reach the x2APIC CPU too, and whose ICR CPU 0 reads back.
    for cpu in range(n):
        mode[cpu] = await read_mode(cpu)
        await set_mode(cpu, mode[cpu])
        if mode[cpu] == "XAPIC" and (cpu == 0 or rng.random() < 0.5):
            await set_mode(cpu, "X2APIC")
    await io_broadcast(0, "PHYSICAL")
    await drain()
    if mode[0] == "X2APIC":
        icr = await rdmsr(0, x2_base + 0x30)
        log.append(["icr_read", 0, None if icr is None else icr & ~(1 << 12)])
    weights = {"mode": 3, "ipi": 6, "x2": 4, "tsc": 1, "deadline": 3, "io": 1}
    for _ in range(steps):
        cpu = rng.randrange(n)
        action = rng.choices(list(weights), weights=list(weights.values()))[0]
        if action == "mode" or (mode[cpu] == "DISABLED" and action in ("ipi", "deadline")):
            r = rng.random()
            # a disabled LAPIC mostly comes back (DISABLED -> X2APIC is the illegal way)
            target = rng.choices(["DISABLED", "XAPIC", "X2APIC"],
                                 weights=[1, 6, 2] if mode[cpu] == "DISABLED" else [1, 2, 4])[0]
            await set_mode(cpu, target, extra=1 << rng.choice([0, 9, 40]) if r < 0.1 else 0, invalid=0.1 <= r < 0.16)
        elif action == "ipi":  # one to three (the same vector coalesces in IRR until the drain)
            for _ in range(rng.randrange(1, 4)):
                await ipi(cpu)
        elif action == "x2":
            if mode[cpu] == "X2APIC":
                await x2_misc(cpu)
            else:  # the view outside x2APIC mode
                addr = x2_base + rng.choice([0x02, 0x08, 0x0B, 0x30])
                write = rng.random() < 0.5
                fault = await wrmsr(cpu, addr, 0) if write else await rdmsr(cpu, addr) is None
                log.append(["x2_off", cpu, addr, write, fault])
        elif action == "tsc":
            await tsc(cpu)
        elif action == "deadline":
            await tsc_deadline(cpu)
        else:
            await io_broadcast(cpu)
        await drain()
    return {
        "log": log,
        "vectors": taken,
        "modes": [mode[cpu] for cpu in range(n)],
        "faults": faults[0],
        "timing": {"cycles": machine.now()},
    }
