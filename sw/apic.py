"""Local APIC driver (arch/x86/kernel/apic/apic.c, ipi.c, smpboot.c).

Every operation is a real register access through the Machine: EOI, the
``setup_local_APIC`` sequence, ``lapic_setup_esr``, the LAPIC timer clock
event device (``__setup_APIC_LVTT``, one-shot ``TMICT`` writes), IPIs as ICR
writes after an ICR-busy wait, and INIT-SIPI-SIPI for the application
processors. Offsets and field encodings come from ``lapic.yaml``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .clockevents import CLOCK_EVT_FEAT_ONESHOT, CLOCK_EVT_FEAT_PERIODIC, ClockEventDevice
from .tsc import TscDeadlineTimer

if TYPE_CHECKING:
    from .context import DeviceAccess, PerCpu
    from .entry import PtRegs
    from .msr import Msr

__all__ = ["APIC_DIVISOR", "Apic", "LapicTimer"]

APIC_DIVISOR = 16
"""The LAPIC timer runs at bus clock / 16 (TDCR = 0x3)."""

_ESR_NAMES = (
    "Send CS error",
    "Receive CS error",
    "Send accept error",
    "Receive accept error",
    "Redirectable IPI",
    "Send illegal vector",
    "Received illegal vector",
    "Illegal register address",
)


class Apic:
    """The local APIC of whichever CPU runs (each CPU sees its own at the same base).

    Linux's xAPIC driver (``apic_flat``/``apic_physflat``): registers through
    the MMIO page. :class:`irqforge.sw.x2apic.X2Apic` is the x2APIC driver;
    :func:`irqforge.sw.x2apic.make_apic` picks one.
    """

    name = "flat"
    tsc_deadline = False
    """The per-CPU tick device is ``lapic-deadline`` (:mod:`irqforge.sw.tsc`), not the LAPIC timer."""
    msr: Msr
    """The MSR accessors (the TSC-deadline timer's; every register of the x2APIC driver)."""

    def __init__(self, kernel: DeviceAccess) -> None:
        self.k = kernel
        spec = kernel.spec
        lapic = spec.lapic
        self.base = spec.platform.base("lapic")
        self.reg = {r.name: self.base + r.offset for r in lapic.registers}
        self.eoi_addr = self.reg["EOI"]
        self.ISR = [self.base + lapic.offset("ISR", i) for i in range(8)]
        self.IRR = [self.base + lapic.offset("IRR", i) for i in range(8)]
        self.TMR = [self.base + lapic.offset("TMR", i) for i in range(8)]
        icr = lapic.register("ICR_LO")
        self.icr = icr
        dm = icr.field("DELIVERY_MODE")
        self.DM = {e.name: e.value << dm.lsb for e in dm.enums}
        self.APIC_ICR_BUSY = icr.field("DELIVERY_STATUS").mask
        self.APIC_INT_ASSERT = icr.field("LEVEL").mask
        self.APIC_INT_LEVELTRIG = icr.field("TRIGGER").enum("LEVEL") << icr.field("TRIGGER").lsb
        sh = icr.field("SHORTHAND")
        self.SHORTHAND = {e.name: e.value << sh.lsb for e in sh.enums}
        dmode = icr.field("DEST_MODE")
        self.APIC_DEST_LOGICAL = dmode.enum("LOGICAL") << dmode.lsb
        self.DEST_SHIFT = lapic.register("ICR_HI").field("DEST").lsb
        lvtt = lapic.register("LVT_TIMER")
        self.APIC_LVT_MASKED = lvtt.field("MASK").mask
        tm = lvtt.field("TIMER_MODE")
        self.APIC_LVT_TIMER_PERIODIC = tm.enum("PERIODIC") << tm.lsb
        self.APIC_LVT_TIMER_MASK = tm.mask
        lint = lapic.register("LVT_LINT0")
        ldm = lint.field("DELIVERY_MODE")
        self.LVT_DM = {e.name: e.value << ldm.lsb for e in ldm.enums}
        svr = lapic.register("SVR")
        self.SPIV_VECTOR = svr.field("VECTOR").mask
        self.SPIV_ENABLED = svr.field("ENABLE").mask
        self.SPIV_EOI_SUPPRESS = svr.field("EOI_SUPPRESS").mask
        tdcr = lapic.register("TDCR")
        self.TDCR_MASK = tdcr.field("DIV_LO").mask | tdcr.field("DIV_HI").mask
        self.APIC_TDR_DIV_16 = 0x3
        self.DFR_FLAT = 0xFFFFFFFF
        vm = spec.vectors
        self.SPURIOUS_APIC_VECTOR = vm.spurious
        self.ERROR_APIC_VECTOR = vm["ERROR_APIC_VECTOR"]
        self.LOCAL_TIMER_VECTOR = vm["LOCAL_TIMER_VECTOR"]
        self.NMI_VECTOR = vm["NMI"]
        self.maxlvt = lapic.param("lvt_count") - 1
        self.irq_err_count = 0
        self.esr_log: list[tuple[int, int]] = []
        self.timers: dict[int, ClockEventDevice] = {}
        self.lapic_timer_period = kernel.clock_hz // kernel.HZ
        """Bus clocks per jiffy: known from the spec's clock (CPUID 0x15-style),
        so ``calibrate_APIC_clock`` is not needed."""

    # ------------------------------------------------------------------ register access

    async def read(self, name: str) -> int:
        return await self.k.read32(self.reg[name])

    async def write(self, name: str, value: int) -> None:
        await self.k.write32(self.reg[name], value)

    async def apic_eoi(self) -> None:
        """``apic_eoi()``: write 0 to EOI."""
        await self.k.write32(self.eoi_addr, 0)

    def eoi_sync(self) -> None:
        """:meth:`apic_eoi` as a plain call."""
        self.k.write32_sync(self.eoi_addr, 0)

    async def read_isr(self) -> list[int]:
        """The eight ISR words."""
        return [await self.k.read32(a) for a in self.ISR]

    async def isr_bit(self, vector: int) -> bool:
        v = await self.k.read32(self.ISR[vector >> 5])
        return bool(v >> (vector & 31) & 1)

    async def tmr_bit(self, vector: int) -> bool:
        v = await self.k.read32(self.TMR[vector >> 5])
        return bool(v >> (vector & 31) & 1)

    # ------------------------------------------------------------------ setup

    async def init_bsp_APIC(self) -> None:
        await self.setup_local_APIC()
        await self.lapic_setup_esr()

    async def apic_pending_intr_clear(self) -> None:
        """EOI every stale ISR bit, at most 256 times."""
        acked = 0
        while True:
            isr = await self.read_isr()
            n = sum(bin(w).count("1") for w in isr)
            if not n:
                return
            for _ in range(n):
                await self.apic_eoi()
                acked += 1
            if acked > 256:
                self.k.printk(f"LAPIC pending interrupts after {acked} EOI")
                return

    async def setup_local_APIC(self) -> None:
        """Linux's ``setup_local_APIC`` (x86-64), see reference §4.6."""
        k = self.k
        cpu = k.this_cpu
        # TPR: accept all
        v = await self.read("TPR")
        await self.write("TPR", v & ~0xFF)
        await self.init_apic_ldr()
        await self.apic_pending_intr_clear()
        # SVR: enable, spurious vector (64-bit leaves focus disable as found)
        v = await self.read("SVR")
        v &= ~self.SPIV_VECTOR
        v |= self.SPIV_ENABLED | self.SPURIOUS_APIC_VECTOR
        if k.config.directed_eoi:
            v |= self.SPIV_EOI_SUPPRESS
        await self.write("SVR", v)
        # LINT0: ExtINT masked (no 8259 in this platform); LINT1: NMI on the BSP
        v = await self.read("LVT_LINT0") & self.APIC_LVT_MASKED
        await self.write("LVT_LINT0", self.LVT_DM["EXTINT"] | self.APIC_LVT_MASKED)
        if cpu.id == 0:
            await self.write("LVT_LINT1", self.LVT_DM["NMI"])
        else:
            await self.write("LVT_LINT1", self.LVT_DM["NMI"] | self.APIC_LVT_MASKED)

    async def init_apic_ldr(self) -> None:
        """Logical destination: flat model, one bit per CPU (``flat_init_apic_ldr``)."""
        await self.write("DFR", self.DFR_FLAT)
        ldr = await self.read("LDR")
        await self.write("LDR", (ldr & 0x00FFFFFF) | ((1 << self.k.this_cpu.id) & 0xFF) << 24)

    async def lapic_setup_esr(self) -> None:
        """Write ESR, read, program LVTERR, write, read (reference §1.9)."""
        if self.maxlvt > 3:
            await self.write("ESR", 0)
        old = await self.read("ESR")
        await self.write("LVT_ERROR", self.ERROR_APIC_VECTOR)
        if self.maxlvt > 3:
            await self.write("ESR", 0)
        value = await self.read("ESR")
        if value != old:
            self.k.printk(f"ESR value before enabling vector: 0x{old:08x}  after: 0x{value:08x}")

    # ------------------------------------------------------------------ system vector handlers

    async def sysvec_spurious_apic_interrupt(self, regs: PtRegs) -> None:
        await self.handle_spurious_interrupt(self.SPURIOUS_APIC_VECTOR)

    async def spurious_interrupt(self, regs: PtRegs, vector: int) -> None:
        """Unused system vectors land here (``spurious_entries_start``)."""
        await self.handle_spurious_interrupt(vector)

    async def handle_spurious_interrupt(self, vector: int) -> None:
        k = self.k
        k.this_cpu.irq_stat["SPU"] += 1
        # EOI only if the ISR bit is set: a real spurious INTA sets none
        if await self.isr_bit(vector):
            await self.apic_eoi()
        if vector == self.SPURIOUS_APIC_VECTOR:
            k.printk(f"spurious APIC interrupt through vector {vector:02x} on CPU#{k.this_cpu.id}, "
                     "should never happen.")
        else:
            k.printk(f"spurious interrupt through vector {vector:02x} on CPU#{k.this_cpu.id}")

    async def sysvec_error_interrupt(self, regs: PtRegs) -> None:
        """Write ESR, read ESR, EOI; count ERR."""
        k = self.k
        if self.maxlvt > 3:
            await self.write("ESR", 0)
        v = await self.read("ESR")
        await self.apic_eoi()
        self.irq_err_count += 1
        self.esr_log.append((k.this_cpu.id, v))
        names = " : ".join(n for i, n in enumerate(_ESR_NAMES) if v >> i & 1)
        k.printk(f"APIC error on CPU{k.this_cpu.id}: {v:02x}({v:02x}) {names}".rstrip())

    async def sysvec_apic_timer_interrupt(self, regs: PtRegs) -> None:
        """EOI first, count LOC, then the clock event handler."""
        k = self.k
        await self.apic_eoi()
        cpu = k.this_cpu
        cpu.irq_stat["LOC"] += 1
        evt = self.timers.get(cpu.id)
        if evt is None or evt.event_handler is None:
            k.printk(f"Spurious LAPIC timer interrupt on cpu {cpu.id}")
            await evt.set_state_shutdown() if evt is not None else None
            return
        await evt.event_handler(evt)

    # ------------------------------------------------------------------ IPIs (ipi.c)

    async def wait_icr_idle(self) -> None:
        """``__xapic_wait_icr_idle``: spin while ICR delivery status is busy."""
        while await self.k.read32(self.reg["ICR_LO"]) & self.APIC_ICR_BUSY:
            await self.k.cpu_relax()

    async def icr_write(self, low: int, dest_apicid: int) -> None:
        """``native_apic_icr_write``: ICR2 first, then ICR (which sends)."""
        flags = self.k.local_irq_save()
        await self.write("ICR_HI", (dest_apicid & 0xFF) << self.DEST_SHIFT)
        await self.write("ICR_LO", low)
        self.k.local_irq_restore(flags)

    def _prepare_icr(self, shortcut: int, vector: int, dest: int) -> int:
        dm = self.DM["NMI"] if vector == self.NMI_VECTOR else self.DM["FIXED"]
        return shortcut | dest | dm | (0 if vector == self.NMI_VECTOR else vector)

    async def send_IPI_dest_field(self, apicid: int, vector: int) -> None:
        """``__default_send_IPI_dest_field`` (physical)."""
        if self.k.tracer is not None:
            target = next((c.id for c in self.k.cpus if c.apic_id == apicid), apicid)
            self.k.tracer.event(self.k.smp_processor_id(), "ipi:ipi_send_cpu", cpu=target, vector=vector)
        await self.wait_icr_idle()
        await self.icr_write(self._prepare_icr(0, vector, 0), apicid)

    async def send_IPI_shortcut(self, shortcut: str, vector: int) -> None:
        if self.k.tracer is not None:
            me = self.k.smp_processor_id()
            mask = [c.id for c in self.k.cpus if shortcut == "ALL_INCL" or (c.id == me) == (shortcut == "SELF")]
            self.k.tracer.event(me, "ipi:ipi_send_cpumask", cpumask=mask, vector=vector)
        await self.wait_icr_idle()
        flags = self.k.local_irq_save()
        await self.write("ICR_LO", self._prepare_icr(self.SHORTHAND[shortcut], vector, 0))
        self.k.local_irq_restore(flags)

    async def send_IPI(self, cpu: int, vector: int) -> None:
        await self.send_IPI_dest_field(self.k.cpus[cpu].apic_id, vector)

    async def send_IPI_mask(self, mask: set[int] | list[int], vector: int) -> None:
        """``default_send_IPI_mask_sequence_phys``: one ICR write per CPU."""
        flags = self.k.local_irq_save()
        for cpu in sorted(mask):
            await self.send_IPI_dest_field(self.k.cpus[cpu].apic_id, vector)
        self.k.local_irq_restore(flags)

    async def send_IPI_mask_allbutself(self, mask: set[int] | list[int], vector: int) -> None:
        me = self.k.smp_processor_id()
        await self.send_IPI_mask([c for c in mask if c != me], vector)

    async def send_IPI_allbutself(self, vector: int) -> None:
        await self.send_IPI_shortcut("ALL_EXCL", vector)

    async def send_IPI_all(self, vector: int) -> None:
        await self.send_IPI_shortcut("ALL_INCL", vector)

    async def send_IPI_self(self, vector: int) -> None:
        await self.send_IPI_shortcut("SELF", vector)

    # ------------------------------------------------------------------ AP start (smpboot.c)

    async def wakeup_secondary_cpu_via_init(self, phys_apicid: int, start_eip: int) -> int:
        """INIT assert, INIT de-assert, then two STARTUP IPIs; 0 or an error status."""
        k = self.k
        if self.maxlvt > 3:
            await self.write("ESR", 0)
        await self.read("ESR")
        await self.icr_write(self.APIC_INT_LEVELTRIG | self.APIC_INT_ASSERT | self.DM["INIT"], phys_apicid)
        await self.wait_icr_idle()
        if k.config.init_udelay:
            await k.udelay(k.config.init_udelay)
        await self.icr_write(self.APIC_INT_LEVELTRIG | self.DM["INIT"], phys_apicid)
        await self.wait_icr_idle()
        accept_status = 0
        for _ in range(2):
            if self.maxlvt > 3:
                await self.write("ESR", 0)
            await self.read("ESR")
            await self.icr_write(self.DM["STARTUP"] | (start_eip >> 12), phys_apicid)
            await k.udelay(10 if k.config.init_udelay == 0 else 300)
            await self.wait_icr_idle()
            await k.udelay(10 if k.config.init_udelay == 0 else 200)
            if self.maxlvt > 3:
                await self.write("ESR", 0)
            accept_status = await self.read("ESR") & 0xEF
            if accept_status:
                break
        return accept_status

    # ------------------------------------------------------------------ timer

    def lapic_timer(self, cpu: PerCpu) -> ClockEventDevice:
        """The per-CPU ``lapic_clockevent``: TSC-deadline when the hardware has it, else the LAPIC timer."""
        t = self.timers.get(cpu.id)
        if t is None:
            t = TscDeadlineTimer(self, cpu.id) if self.tsc_deadline else LapicTimer(self, cpu.id)
            self.timers[cpu.id] = t
        return t


class LapicTimer(ClockEventDevice):
    """``lapic_clockevent``: periodic and one-shot, counting bus clocks / 16."""

    def __init__(self, apic: Apic, cpu: int) -> None:
        super().__init__(
            apic.k,
            name="lapic",
            features=CLOCK_EVT_FEAT_PERIODIC | CLOCK_EVT_FEAT_ONESHOT,
            rating=100,
            freq=apic.k.clock_hz // APIC_DIVISOR,
            min_delta_ticks=0xF,
            max_delta_ticks=0x7FFFFFFF,
            cpu=cpu,
        )
        self.apic = apic

    async def _setup_lvtt(self, clocks: int, oneshot: bool, irqen: bool) -> None:
        """``__setup_APIC_LVTT``."""
        a = self.apic
        lvtt = a.LOCAL_TIMER_VECTOR
        if not oneshot:
            lvtt |= a.APIC_LVT_TIMER_PERIODIC
        if not irqen:
            lvtt |= a.APIC_LVT_MASKED
        await a.write("LVT_TIMER", lvtt)
        tmp = await a.read("TDCR")
        await a.write("TDCR", (tmp & ~a.TDCR_MASK) | a.APIC_TDR_DIV_16)
        if not oneshot:
            await a.write("TMICT", clocks // APIC_DIVISOR)

    async def set_state_periodic(self) -> None:
        await self._setup_lvtt(self.apic.lapic_timer_period, False, True)

    async def set_state_oneshot(self) -> None:
        await self._setup_lvtt(self.apic.lapic_timer_period, True, True)

    async def set_state_shutdown(self) -> None:
        """``lapic_timer_shutdown``: mask LVTT, TMICT = 0."""
        a = self.apic
        v = await a.read("LVT_TIMER")
        await a.write("LVT_TIMER", v | a.APIC_LVT_MASKED)
        await a.write("TMICT", 0)

    async def set_next_event(self, delta: int) -> int:
        """``lapic_next_event``: TMICT = delta."""
        await self.apic.write("TMICT", delta)
        return 0
