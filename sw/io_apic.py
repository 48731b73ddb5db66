"""IO-APIC driver and irq chip (arch/x86/kernel/apic/io_apic.c).

Register access goes through IOREGSEL/IOWIN under ``ioapic_lock``; an entry
is written high dword first, then low (``__ioapic_write_entry``). Mask and
unmask rewrite the cached low dword and read back (``io_apic_sync``). Edge
pins are acked with a LAPIC EOI (``ioapic_ack_edge``); level pins use
``ioapic_ack_level``: read the vector's TMR bit, LAPIC EOI, and — if the TMR
bit was clear (the interrupt arrived as an edge: counted in MIS) or directed
EOI is configured — write the vector to the IO-APIC EOI register.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol

from .context import HardwareAccess
from .sched import Scheduler, SpinLock

if TYPE_CHECKING:
    from .apic import Apic
    from .irq import IrqDesc

__all__ = ["IoApic", "IoApicChip", "RouteEntry"]


class RouteEntry:
    """A redirection-table entry built from the spec's REDTBL fields."""

    def __init__(self, io: IoApic, value: int = 0) -> None:
        self.io = io
        self.value = value

    def get(self, name: str) -> int:
        return self.io.fields[name].get(self.value)

    def set(self, name: str, v: int) -> RouteEntry:
        self.value = self.io.fields[name].put(self.value, v)
        return self

    @property
    def low(self) -> int:
        return self.value & 0xFFFFFFFF

    @property
    def high(self) -> int:
        return self.value >> 32


class IoApicHost(HardwareAccess, Scheduler, Protocol):
    """What the IO-APIC driver needs: the hardware, the per-CPU state, a lock and the local APIC."""

    apic: Apic


class IoApic:
    """The (single) IO-APIC."""

    def __init__(self, kernel: IoApicHost) -> None:
        self.k = kernel
        spec = kernel.spec
        io = spec.ioapic
        base = spec.platform.base("ioapic")
        self.IOREGSEL = base + io.offset("IOREGSEL")
        self.IOWIN = base + io.offset("IOWIN")
        self.EOI = base + io.offset("EOI")
        win = io.window("IOAPIC")
        self.REG_VERSION = win.register("IOAPICVER").offset
        self.REG_ID = win.register("IOAPICID").offset
        red = win.register("REDTBL")
        self.redtbl = red
        self.fields = {f.name: f for f in red.fields}
        self.pins = io.param("pins")
        self.version = 0
        self.lock = SpinLock(kernel, "ioapic_lock")
        self.cache: dict[int, RouteEntry] = {}
        self.irq_mis_count = 0
        self.chip = IoApicChip(self)
        self.writes = 0

    def pin_index(self, pin: int) -> int:
        return self.redtbl.offset + pin * self.redtbl.stride

    def enc(self, group: str, name: str) -> int:
        return self.fields[group].enum(name)

    async def io_apic_read(self, reg: int) -> int:
        flags = await self.lock.lock_irqsave()
        try:
            await self.k.write32(self.IOREGSEL, reg)
            return await self.k.read32(self.IOWIN)
        finally:
            self.lock.unlock_irqrestore(flags)

    async def io_apic_write(self, reg: int, value: int) -> None:
        flags = await self.lock.lock_irqsave()
        try:
            await self.k.write32(self.IOREGSEL, reg)
            await self.k.write32(self.IOWIN, value)
            self.writes += 1
        finally:
            self.lock.unlock_irqrestore(flags)

    async def ioapic_write_entry(self, pin: int, e: RouteEntry) -> None:
        """High dword first, then low (which may unmask)."""
        idx = self.pin_index(pin)
        self.cache[pin] = RouteEntry(self, e.value)
        await self.io_apic_write(idx + 1, e.high)
        await self.io_apic_write(idx, e.low)

    async def ioapic_read_entry(self, pin: int) -> RouteEntry:
        idx = self.pin_index(pin)
        lo = await self.io_apic_read(idx)
        hi = await self.io_apic_read(idx + 1)
        return RouteEntry(self, (hi << 32) | lo)

    async def ioapic_mask_entry(self, pin: int) -> None:
        e = RouteEntry(self, 0).set("MASK", 1)
        self.cache[pin] = e
        idx = self.pin_index(pin)
        await self.io_apic_write(idx, e.low)
        await self.io_apic_write(idx + 1, e.high)

    async def _modify_mask(self, pin: int, masked: bool) -> None:
        e = self.cache.get(pin) or RouteEntry(self, 0)
        e.set("MASK", int(masked))
        await self.io_apic_write(self.pin_index(pin), e.low)
        if masked:
            await self.io_apic_read(self.REG_VERSION)  # io_apic_sync

    async def setup_IO_APIC(self) -> None:
        """Read the version, mask every pin (``clear_IO_APIC``)."""
        ver = await self.io_apic_read(self.REG_VERSION)
        self.version = ver & 0xFF
        n = ((ver >> 16) & 0xFF) + 1
        if n != self.pins:
            self.k.printk(f"IOAPIC[0]: {n} pins, spec says {self.pins}")
            self.pins = min(n, self.pins)
        for pin in range(self.pins):
            await self.ioapic_mask_entry(pin)
        self.k.printk(f"IOAPIC[0]: apic_id 0, version {self.version}, address 0x{self.IOREGSEL:x}, "
                      f"GSI 0-{self.pins - 1}")

    async def eoi_ioapic_pin(self, vector: int, pin: int) -> None:
        """Version ≥ 0x20: the EOI register; older: mask + edge + restore."""
        if self.version >= 0x20:
            await self.k.write32(self.EOI, vector)
            return
        e = self.cache.get(pin)
        if e is None:
            return
        tmp = RouteEntry(self, e.value).set("MASK", 1).set("TRIGGER", self.enc("TRIGGER", "EDGE"))
        await self.io_apic_write(self.pin_index(pin), tmp.low)
        await self.io_apic_write(self.pin_index(pin), e.low)

    def build_entry(self, vector: int, dest_apicid: int, level: bool, active_low: bool, masked: bool) -> RouteEntry:
        e = RouteEntry(self, 0)
        e.set("VECTOR", vector)
        e.set("DELIVERY_MODE", self.enc("DELIVERY_MODE", "FIXED"))
        e.set("DEST_MODE", self.enc("DEST_MODE", "PHYSICAL"))
        e.set("POLARITY", self.enc("POLARITY", "ACTIVE_LOW" if active_low else "ACTIVE_HIGH"))
        e.set("TRIGGER", self.enc("TRIGGER", "LEVEL" if level else "EDGE"))
        e.set("MASK", int(masked))
        e.set("DEST", dest_apicid)
        return e


class IoApicChip:
    """``ioapic_chip``: the irq_chip callbacks for IO-APIC pins."""

    name = "IO-APIC"

    def __init__(self, io: IoApic) -> None:
        self.io = io
        self.k = io.k

    async def irq_startup(self, desc: IrqDesc) -> None:
        """Activate (program the entry) and unmask."""
        await self.program(desc, masked=False)

    async def irq_shutdown(self, desc: IrqDesc) -> None:
        await self.irq_mask(desc)

    async def program(self, desc: IrqDesc, masked: bool) -> None:
        io = self.io
        dest = self.k.cpus[desc.target_cpu].apic_id
        e = io.build_entry(desc.vector, dest, desc.level, desc.active_low, masked)
        await io.ioapic_write_entry(desc.hwirq, e)
        desc.masked = masked

    async def irq_mask(self, desc: IrqDesc) -> None:
        await self.io._modify_mask(desc.hwirq, True)
        desc.masked = True

    async def irq_unmask(self, desc: IrqDesc) -> None:
        await self.io._modify_mask(desc.hwirq, False)
        desc.masked = False

    def irq_ack(self, desc: IrqDesc) -> Awaitable[None]:
        """``ioapic_ack_edge`` → ``apic_ack_irq``: LAPIC EOI (the write's coroutine)."""
        return self.k.apic.apic_eoi()

    def irq_ack_sync(self, desc: IrqDesc) -> None:
        """:meth:`irq_ack` as a plain call (the edge flow handler's, at every edge interrupt)."""
        self.k.apic.eoi_sync()

    async def irq_eoi(self, desc: IrqDesc) -> None:
        """``ioapic_ack_level``."""
        k = self.k
        vector = desc.vector
        tmr = await k.apic.tmr_bit(vector)
        await k.apic.apic_eoi()
        if not tmr:
            self.io.irq_mis_count += 1
        if not tmr or k.config.directed_eoi:
            await self.io.eoi_ioapic_pin(vector, desc.hwirq)

    async def irq_mask_ack(self, desc: IrqDesc) -> None:
        await self.irq_mask(desc)
        if desc.level:
            await self.irq_eoi(desc)
        else:
            await self.irq_ack(desc)

    async def irq_set_affinity(self, desc: IrqDesc, cpu: int) -> None:
        """Retarget the entry at ``cpu`` (same vector on every CPU here)."""
        desc.target_cpu = cpu
        if desc.activated:
            await self.program(desc, masked=desc.masked)

    async def irq_retrigger(self, desc: IrqDesc) -> bool:
        """``ioapic_retrigger_irq``: an IPI with the device vector to the target."""
        await self.k.apic.send_IPI(desc.target_cpu, desc.vector)
        return True
