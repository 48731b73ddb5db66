"""Scenarios that run on any Machine backend: the backends' own checks and figures.

A scenario is ``async def scenario(machine, **kwargs) -> dict``; the result is
JSON-serialisable so that a cocotb bench can hand it back to the host
(:mod:`irqforge.sim.benches.machine_bench`). Results keep what must be
identical on every backend (counts, order, vectors, register values) apart
from the ``"timing"`` entry (cycles and wall-clock figures), which differs by
the few cycles of latency the RTL has and the model has not.

Every address, offset, field and vector comes from ``machine.spec``.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from irqforge.spec import Spec, VectorKind
from irqforge.sw import BusError, Machine, MsrFault

__all__ = [
    "Regs",
    "bus_errors",
    "bus_reads",
    "hpet_comparator",
    "idle_cycles",
    "ioapic_level",
    "ipi_between_cpus",
    "irq_roundtrip",
    "lapic_timer_periodic",
    "msr_access",
    "register_access",
    "wait_any_timing",
]


class SpecMachine(Machine, Protocol):
    """A Machine that also carries the spec it was built from (every backend here does)."""

    spec: Spec


#: IA32_APIC_BASE and its EXTD bit (x2APIC mode), SDM vol. 3 §11.12.1.
_IA32_APIC_BASE = 0x1B
_APIC_BASE_EXTD = 1 << 10
_APIC_BASE_EN = 1 << 11


class Regs:
    """Named register access through a Machine, with addresses from its spec.

    After :meth:`x2apic_enable` of a CPU, its LAPIC registers are read and
    written as MSRs ``0x800 + offset / 16`` (x2APIC mode) instead of MMIO.
    """

    def __init__(self, machine: SpecMachine) -> None:
        self.m = machine
        self.x2apic: set[int] = set()
        """CPUs whose LAPIC this object switched to x2APIC mode."""
        self.spec = spec = machine.spec
        self.lapic_base = spec.platform.base("lapic")
        self.ioapic_base = spec.platform.base("ioapic")
        self.hpet_base = spec.platform.base("hpet")
        win = spec.ioapic.window("IOAPIC")
        self._sel = self.ioapic_base + spec.ioapic.offset(win.select)
        self._win = self.ioapic_base + spec.ioapic.offset(win.data)
        self._redtbl = win.register("REDTBL")

    # LAPIC ------------------------------------------------------------

    def lapic_addr(self, name: str, index: int = 0) -> int:
        return self.lapic_base + self.spec.lapic.offset(name, index)

    def lapic_value(self, name: str, **fields: int | str) -> int:
        """A LAPIC register value from named fields (an enum name or a number each)."""
        return _compose(self.spec.lapic.register(name), fields)

    def lapic_msr(self, name: str, index: int = 0) -> int:
        """The x2APIC MSR of LAPIC register ``name``."""
        return 0x800 + (self.spec.lapic.offset(name, index) >> 4)

    async def lapic_read(self, cpu: int, name: str, index: int = 0) -> int:
        if cpu in self.x2apic:
            return await self.m.rdmsr(cpu, self.lapic_msr(name, index)) & 0xFFFFFFFF
        return await self.m.read32(cpu, self.lapic_addr(name, index))

    async def lapic_write(self, cpu: int, name: str, value: int, index: int = 0) -> None:
        if cpu in self.x2apic:
            await self.m.wrmsr(cpu, self.lapic_msr(name, index), value & 0xFFFFFFFF)
            return
        await self.m.write32(cpu, self.lapic_addr(name, index), value)

    async def x2apic_enable(self, cpu: int) -> None:
        """Switch ``cpu``'s LAPIC from xAPIC to x2APIC mode (EXTD in IA32_APIC_BASE)."""
        base = await self.m.rdmsr(cpu, _IA32_APIC_BASE)
        await self.m.wrmsr(cpu, _IA32_APIC_BASE, base | _APIC_BASE_EN | _APIC_BASE_EXTD)
        self.x2apic.add(cpu)

    async def lapic_enable(self, cpu: int) -> None:
        """Software-enable ``cpu``'s LAPIC with the spec's spurious vector, TPR 0."""
        svr = self.lapic_value("SVR", VECTOR=self.spec.vectors.spurious, ENABLE=1)
        await self.lapic_write(cpu, "SVR", svr)
        await self.lapic_write(cpu, "TPR", 0)

    async def eoi(self, cpu: int) -> None:
        await self.lapic_write(cpu, "EOI", 0)

    # IO-APIC ----------------------------------------------------------

    async def ioapic_read(self, cpu: int, index: int) -> int:
        await self.m.write32(cpu, self._sel, index)
        return await self.m.read32(cpu, self._win)

    async def ioapic_write(self, cpu: int, index: int, value: int) -> None:
        await self.m.write32(cpu, self._sel, index)
        await self.m.write32(cpu, self._win, value)

    async def route_pin(self, cpu: int, pin: int, **fields: int | str) -> None:
        """Program redirection entry ``pin`` (high dword first, so it unmasks last)."""
        entry = _compose(self._redtbl, fields)
        index = self._redtbl.offset + pin * self._redtbl.stride
        await self.ioapic_write(cpu, index + 1, entry >> 32)
        await self.ioapic_write(cpu, index, entry & 0xFFFFFFFF)

    # HPET -------------------------------------------------------------

    def hpet_addr(self, name: str, index: int = 0) -> int:
        return self.hpet_base + self.spec.hpet.offset(name, index)

    def hpet_value(self, name: str, **fields: int | str) -> int:
        return _compose(self.spec.hpet.register(name), fields)

    async def hpet_read64(self, cpu: int, name: str, index: int = 0) -> int:
        addr = self.hpet_addr(name, index)
        low = await self.m.read32(cpu, addr)
        return low | (await self.m.read32(cpu, addr + 4)) << 32

    async def hpet_write64(self, cpu: int, name: str, value: int, index: int = 0) -> None:
        addr = self.hpet_addr(name, index)
        await self.m.write32(cpu, addr, value & 0xFFFFFFFF)
        await self.m.write32(cpu, addr + 4, value >> 32)

    # vectors ----------------------------------------------------------

    def device_vectors(self) -> list[int]:
        """The vectors the spec leaves for devices (kind ``irq``), lowest first."""
        vmap = self.spec.vectors
        return [v for v in range(32, 256) if vmap.kind_of(v) is VectorKind.IRQ]


def _compose(register: Any, fields: dict[str, int | str]) -> int:
    value = 0
    for name, raw in fields.items():
        f = register.field(name)
        value = f.put(value, f.enum(raw) if isinstance(raw, str) else raw)
    return value


def _spare_pin(spec: Spec) -> int:
    """An IO-APIC pin no ISA override or HPET legacy route uses (the highest)."""
    used = {*spec.platform.isa_irq_pins.values(), *spec.platform.hpet_legacy_pins}
    pins = spec.ioapic.param("pins")
    return max(p for p in range(pins) if p not in used)


# --------------------------------------------------------------------------- figures


async def irq_roundtrip(machine: SpecMachine, n: int = 1000, cpu: int = 0, pin: int | None = None) -> dict:
    """``n`` device interrupts end to end: pin edge → IO-APIC → ``intr`` →
    acknowledge → EOI, on ``cpu``. Measures interrupts per wall second."""
    regs = Regs(machine)
    spec = machine.spec
    pin = _spare_pin(spec) if pin is None else pin
    vector = regs.device_vectors()[0]
    await regs.lapic_enable(cpu)
    await regs.route_pin(
        cpu, pin, VECTOR=vector, DELIVERY_MODE="FIXED", DEST_MODE="PHYSICAL", TRIGGER="EDGE", MASK=0,
        DEST=spec.platform.cpus[cpu].apic_id,
    )
    delivered = wrong = 0
    start_cycle, start_wall = machine.now(), time.perf_counter()
    for _ in range(n):
        machine.set_irq(pin, 1)
        await machine.wait_interrupt(cpu)
        got = await machine.acknowledge(cpu)
        delivered += 1
        wrong += got != vector
        # Drop the line before the EOI write, so that it is low for the
        # write's cycles: the RTL IO-APIC samples its pins at clock edges and
        # sees no edge in a low pulse of zero cycles (the model would).
        machine.set_irq(pin, 0)
        await regs.eoi(cpu)
    wall = time.perf_counter() - start_wall
    cycles = machine.now() - start_cycle
    return {
        "n": n,
        "pin": pin,
        "vector": vector,
        "delivered": delivered,
        "wrong_vector": wrong,
        "timing": {
            "cycles": cycles,
            "wall_s": wall,
            "irqs_per_s": n / wall if wall else None,
            "cycles_per_s": cycles / wall if wall else None,
        },
    }


async def bus_reads(machine: SpecMachine, n: int = 1000, cpu: int = 0) -> dict:
    """``n`` reads of the LAPIC version register: bus transactions per wall second."""
    regs = Regs(machine)
    addr = regs.lapic_addr("VERSION")
    start_cycle, start_wall = machine.now(), time.perf_counter()
    value = 0
    for _ in range(n):
        value = await machine.read32(cpu, addr)
    wall = time.perf_counter() - start_wall
    cycles = machine.now() - start_cycle
    return {
        "n": n,
        "value": value,
        "timing": {
            "cycles": cycles,
            "wall_s": wall,
            "reads_per_s": n / wall if wall else None,
            "cycles_per_read": cycles / n if n else None,
        },
    }


async def idle_cycles(machine: SpecMachine, cycles: int = 1_000_000) -> dict:
    """``wait_cycles(cycles)`` on an idle platform: simulated cycles per wall second."""
    start_cycle, start_wall = machine.now(), time.perf_counter()
    await machine.wait_cycles(cycles)
    wall = time.perf_counter() - start_wall
    return {
        "cycles": machine.now() - start_cycle,
        "timing": {"wall_s": wall, "cycles_per_s": cycles / wall if wall else None},
    }


# --------------------------------------------------------------------------- checks


#: IA32_TSC, answered by the platform (SDM vol. 3 §17.17); an MSR nobody answers.
_IA32_TSC = 0x10
_NO_SUCH_MSR = 0xC0DE0001


async def msr_access(machine: SpecMachine, wait: int = 100) -> dict:
    """The MSR seam: IA32_TSC counts cycles and can be written (SDM 17.17), an MSR
    nobody answers raises :class:`~irqforge.sw.MsrFault` on read and write, on every CPU."""
    t0 = await machine.rdmsr(0, _IA32_TSC)
    await machine.wait_cycles(wait)
    t1 = await machine.rdmsr(0, _IA32_TSC)
    faults: list[bool] = []
    for cpu in range(machine.ncpus):
        for write in (False, True):
            try:
                if write:
                    await machine.wrmsr(cpu, _NO_SUCH_MSR, 1)
                else:
                    await machine.rdmsr(cpu, _NO_SUCH_MSR)
                faults.append(False)
            except MsrFault as f:
                faults.append((f.cpu, f.msr, f.write) == (cpu, _NO_SUCH_MSR, write))
    last = machine.ncpus - 1
    await machine.wrmsr(last, _IA32_TSC, 1 << 40)
    t2 = await machine.rdmsr(last, _IA32_TSC)
    return {
        "faults": faults,
        "tsc_counts": t1 > t0,
        "tsc_written": (1 << 40) <= t2 < (1 << 40) + 64,
        "timing": {"tsc_delta": t1 - t0, "written_delta": t2 - (1 << 40)},
    }


async def register_access(machine: SpecMachine) -> dict:
    """Reset values through the address map, from every CPU, and a TPR round trip."""
    regs = Regs(machine)
    spec = machine.spec
    win = spec.ioapic.window("IOAPIC")
    out: dict[str, Any] = {"cpus": []}
    for cpu in range(machine.ncpus):
        tpr = 0x20 + 0x10 * cpu
        await regs.lapic_write(cpu, "TPR", tpr)
        out["cpus"].append(
            {
                "id": await regs.lapic_read(cpu, "ID"),
                "version": await regs.lapic_read(cpu, "VERSION"),
                "svr": await regs.lapic_read(cpu, "SVR"),
                "tpr": await regs.lapic_read(cpu, "TPR"),
            }
        )
    out["ioapic_version"] = await regs.ioapic_read(0, win.register("IOAPICVER").offset)
    redtbl = win.register("REDTBL")
    out["ioapic_redtbl0"] = await regs.ioapic_read(machine.ncpus - 1, redtbl.offset)
    out["hpet_gcap_id"] = await regs.hpet_read64(0, "GCAP_ID")
    out["hpet_timer_conf0"] = await regs.hpet_read64(0, "TIMER_CONF", 0)
    return out


async def bus_errors(machine: SpecMachine) -> dict:
    """Accesses outside the address map answer DECERR; the devices still work after."""
    spec = machine.spec
    regs = Regs(machine)
    base, size = spec.platform.address_map["hpet"]
    holes = [0x0000_0000, base + size, spec.platform.base("lapic") - 4]
    out: dict[str, Any] = {"reads": [], "writes": []}
    for addr in holes:
        try:
            await machine.read32(0, addr)
            out["reads"].append("OKAY")
        except BusError as err:
            out["reads"].append(err.resp)
        try:
            await machine.write32(machine.ncpus - 1, addr, 0x1234_5678)
            out["writes"].append("OKAY")
        except BusError as err:
            out["writes"].append(err.resp)
    out["lapic_version_after"] = await regs.lapic_read(0, "VERSION")
    return out


async def ipi_between_cpus(machine: SpecMachine, sender: int = 0, target: int = 1) -> dict:
    """A fixed IPI from ``sender`` to ``target`` (physical destination), then one to self."""
    regs = Regs(machine)
    spec = machine.spec
    vector = spec.vectors["CALL_FUNCTION_VECTOR"]
    for cpu in range(machine.ncpus):
        await regs.lapic_enable(cpu)
    dest = spec.platform.cpus[target].apic_id
    await regs.lapic_write(sender, "ICR_HI", regs.lapic_value("ICR_HI", DEST=dest))
    await regs.lapic_write(
        sender, "ICR_LO",
        regs.lapic_value("ICR_LO", VECTOR=vector, DELIVERY_MODE="FIXED", DEST_MODE="PHYSICAL",
                         LEVEL=1, TRIGGER="EDGE", SHORTHAND="NONE"),
    )
    await machine.wait_interrupt(target)
    out: dict[str, Any] = {
        "sender_intr": machine.intr_pending(sender),
        "target_intr": machine.intr_pending(target),
    }
    out["target_vector"] = await machine.acknowledge(target)
    isr = await regs.lapic_read(target, "ISR", vector >> 5)
    out["target_isr_bit"] = (isr >> (vector & 31)) & 1
    await regs.eoi(target)
    isr = await regs.lapic_read(target, "ISR", vector >> 5)
    out["target_isr_bit_after_eoi"] = (isr >> (vector & 31)) & 1
    out["target_intr_after"] = machine.intr_pending(target)
    # A self IPI by shorthand: only the sender gets it.
    self_vector = spec.vectors["RESCHEDULE_VECTOR"]
    await regs.lapic_write(
        sender, "ICR_LO", regs.lapic_value("ICR_LO", VECTOR=self_vector, LEVEL=1, SHORTHAND="SELF")
    )
    await machine.wait_interrupt(sender)
    out["self_target_intr"] = machine.intr_pending(target)
    out["self_vector"] = await machine.acknowledge(sender)
    await regs.eoi(sender)
    return out


async def ioapic_level(machine: SpecMachine, cpu: int = 0, pin: int | None = None) -> dict:
    """A level-triggered pin: delivered once while Remote IRR is set, delivered
    again at EOI while the line is still high, quiet after it drops."""
    regs = Regs(machine)
    spec = machine.spec
    pin = _spare_pin(spec) if pin is None else pin
    vector = regs.device_vectors()[1]
    win = spec.ioapic.window("IOAPIC")
    redtbl = win.register("REDTBL")
    rirr = redtbl.field("REMOTE_IRR")
    index = redtbl.offset + pin * redtbl.stride
    await regs.lapic_enable(cpu)
    await regs.route_pin(cpu, pin, VECTOR=vector, TRIGGER="LEVEL", MASK=0, DEST=spec.platform.cpus[cpu].apic_id)
    events: list[Any] = []
    machine.set_irq(pin, 1)
    await machine.wait_interrupt(cpu)
    events.append(["ack", await machine.acknowledge(cpu)])
    events.append(["remote_irr", rirr.get(await regs.ioapic_read(cpu, index))])
    tmr = await regs.lapic_read(cpu, "TMR", vector >> 5)
    events.append(["tmr", (tmr >> (vector & 31)) & 1])
    await regs.eoi(cpu)  # line still high: delivered again
    await machine.wait_interrupt(cpu)
    events.append(["ack", await machine.acknowledge(cpu)])
    machine.set_irq(pin, 0)
    await regs.eoi(cpu)
    await machine.wait_cycles(50)
    events.append(["intr_after_drop", machine.intr_pending(cpu)])
    events.append(["remote_irr", rirr.get(await regs.ioapic_read(cpu, index))])
    return {"pin": pin, "vector": vector, "events": events}


async def lapic_timer_periodic(machine: SpecMachine, cpu: int = 0, period: int = 1000, span: int = 10_500) -> dict:
    """The LAPIC timer in periodic mode (divide by 1) for ``span`` cycles: every
    tick acknowledged and EOI-ed; counts ticks."""
    regs = Regs(machine)
    vector = machine.spec.vectors["LOCAL_TIMER_VECTOR"]
    await regs.lapic_enable(cpu)
    await regs.lapic_write(cpu, "TDCR", regs.lapic_value("TDCR", DIV_LO=3, DIV_HI=1))  # divide by 1
    await regs.lapic_write(cpu, "LVT_TIMER", regs.lapic_value("LVT_TIMER", VECTOR=vector, TIMER_MODE="PERIODIC"))
    await regs.lapic_write(cpu, "TMICT", period)
    start = machine.now()
    end = start + span
    stamps: list[int] = []
    vectors: set[int] = set()
    while machine.now() < end:
        await machine.wait_any_interrupt(end - machine.now())
        if not machine.intr_pending(cpu):
            continue
        stamps.append(machine.now() - start)
        vectors.add(await machine.acknowledge(cpu))
        await regs.eoi(cpu)
    await regs.lapic_write(cpu, "TMICT", 0)
    return {"ticks": len(stamps), "vectors": sorted(vectors), "timing": {"stamps": stamps}}


async def hpet_comparator(machine: SpecMachine, cpu: int = 0, timer: int = 2, delta: int = 500) -> dict:
    """HPET timer ``timer`` one-shot, edge, routed to an IO-APIC pin it may use:
    fires once ``delta`` counter ticks after enable."""
    regs = Regs(machine)
    spec = machine.spec
    vector = regs.device_vectors()[2]
    cap = await regs.hpet_read64(cpu, "TIMER_CONF", timer)
    conf_reg = spec.hpet.register("TIMER_CONF")
    allowed = conf_reg.field("INT_ROUTE_CAP").get(cap)
    legacy = set(spec.platform.hpet_legacy_pins) | set(spec.platform.isa_irq_pins.values())
    pin = max(p for p in range(spec.ioapic.param("pins")) if allowed >> p & 1 and p not in legacy)
    await regs.lapic_enable(cpu)
    await regs.route_pin(cpu, pin, VECTOR=vector, TRIGGER="EDGE", MASK=0, DEST=spec.platform.cpus[cpu].apic_id)
    await regs.hpet_write64(cpu, "GEN_CONF", 0)
    await regs.hpet_write64(cpu, "MAIN_CNT", 0)
    conf = regs.hpet_value("TIMER_CONF", INT_TYPE_CNF="EDGE", INT_ENB_CNF=1, TYPE_CNF="ONESHOT",
                           INT_ROUTE_CNF=pin)
    await regs.hpet_write64(cpu, "TIMER_CONF", conf, timer)
    await regs.hpet_write64(cpu, "TIMER_CMP", delta, timer)
    await regs.hpet_write64(cpu, "GEN_CONF", regs.hpet_value("GEN_CONF", ENABLE_CNF=1))
    enabled_at = machine.now()
    await machine.wait_any_interrupt(4 * delta)
    fired_at = machine.now() - enabled_at
    got = machine.intr_pending(cpu)
    ack = await machine.acknowledge(cpu) if got else None
    await regs.eoi(cpu)
    await machine.wait_any_interrupt(4 * delta)  # one-shot: nothing more
    again = machine.intr_pending(cpu)
    counter = await regs.hpet_read64(cpu, "MAIN_CNT")
    return {
        "pin": pin,
        "vector": ack,
        "interrupted": got,
        "again": again,
        "counter_past_delta": counter > delta,
        "timing": {"fired_after": fired_at},
    }


async def wait_any_timing(machine: SpecMachine, cpu: int = 0, delay: int = 700, idle: int = 100) -> dict:
    """``wait_any_interrupt`` returns at the LAPIC one-shot expiry, and after
    exactly ``idle`` cycles when nothing comes."""
    regs = Regs(machine)
    vector = machine.spec.vectors["LOCAL_TIMER_VECTOR"]
    await regs.lapic_enable(cpu)
    start = machine.now()
    await machine.wait_any_interrupt(idle)
    waited_idle = machine.now() - start
    await regs.lapic_write(cpu, "TDCR", regs.lapic_value("TDCR", DIV_LO=3, DIV_HI=1))
    await regs.lapic_write(cpu, "LVT_TIMER", regs.lapic_value("LVT_TIMER", VECTOR=vector, TIMER_MODE="ONESHOT"))
    await regs.lapic_write(cpu, "TMICT", delay)
    start = machine.now()
    await machine.wait_any_interrupt()
    fired = machine.now() - start
    got = await machine.acknowledge(cpu)
    await regs.eoi(cpu)
    return {
        "vector": got,
        "waited_idle": waited_idle,
        "timing": {"fired_after": fired},
    }
