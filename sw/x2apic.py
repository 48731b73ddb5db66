"""The x2APIC drivers (arch/x86/kernel/apic/x2apic_phys.c, x2apic_cluster.c, apic.c).

Linux has one ``struct apic`` per way of talking to the local APIC; here the
xAPIC driver is :class:`irqforge.sw.apic.Apic` (registers through the 4 KiB
MMIO page) and :class:`X2Apic` the x2APIC one: every register is the MSR
``0x800 + offset / 16`` (``native_apic_msr_read``/``native_apic_msr_write``),
EOI is ``wrmsr(0x80B, 0)``, the ICR is one 64-bit MSR (0x830) with a 32-bit
destination and no delivery-status wait, and ``send_IPI_self`` writes the
SELF_IPI MSR (0x83F). The kernel picks the driver at boot
(:func:`use_x2apic`): x2APIC when the spec's LAPIC has the MSR view, unless
``KernelConfig.apic`` forces one.

``x2apic_enable`` switches the LAPIC of each CPU from xAPIC to x2APIC mode
through IA32_APIC_BASE (EXTD = bit 10 set with EN, as ``__x2apic_enable``),
on the boot CPU before ``setup_local_APIC`` and on each application
processor before its own.

Destinations: ``x2apic_phys`` (Linux's choice without interrupt remapping,
the default here) sends one ICR write per target CPU with its 32-bit APIC
ID; ``x2apic_cluster`` (``KernelConfig.x2apic_dest = "cluster"``) sends one
logical IPI per cluster of 16 CPUs, the destination the OR of the targets'
logical IDs read from the LDR (``x2apic_prepare_cpu``/``init_x2apic_ldr``).
The IO-APIC stays in physical mode either way: without interrupt remapping
its 8-bit destination cannot name a cluster, which is why Linux forces
physical mode there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .apic import Apic
from .context import ENV_APIC
from .machine import MsrFault
from .msr import MSR_IA32_APICBASE, MSR_IA32_APICBASE_ENABLE, X2APIC_ENABLE
from .tsc import tsc_deadline_supported

if TYPE_CHECKING:
    from irqforge.spec import Spec

    from .context import DeviceAccess, KernelConfig
    from .msr import Msr

__all__ = ["APIC_BASE_MSR", "APIC_MODES", "X2Apic", "apic_mode", "make_apic", "use_x2apic", "x2apic_supported"]

#: The values of ``KernelConfig.apic`` / ``irqforge sim --apic``.
APIC_MODES = ("xapic", "x2apic")

#: arch/x86/include/asm/apicdef.h: the first x2APIC MSR (the spec's ``x2apic.msr_base`` is used).
APIC_BASE_MSR = 0x800


def x2apic_supported(spec: Spec) -> bool:
    """``boot_cpu_has(X86_FEATURE_X2APIC)``: the spec's LAPIC has the x2APIC MSR view."""
    return spec.lapic.x2apic is not None


@contextlib.contextmanager
def apic_mode(mode: str | None) -> Iterator[None]:
    """Every kernel created inside the ``with`` block (and in simulator processes it
    starts) runs its LAPICs in ``mode`` (``None``: as the hardware allows)."""
    if mode is not None and mode not in APIC_MODES:
        raise ValueError(f"APIC mode {mode!r}: choose {' or '.join(APIC_MODES)}")
    old = os.environ.get(ENV_APIC)
    if mode is None:
        os.environ.pop(ENV_APIC, None)
    else:
        os.environ[ENV_APIC] = mode
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV_APIC, None)
        else:
            os.environ[ENV_APIC] = old


def use_x2apic(spec: Spec, config: KernelConfig) -> bool:
    """Whether the kernel runs the LAPICs in x2APIC mode: ``config.apic`` if given, else the hardware's."""
    forced = config.apic
    if forced is None:
        return x2apic_supported(spec)
    if forced not in APIC_MODES:
        raise ValueError(f"KernelConfig.apic: {forced!r} is neither 'xapic' nor 'x2apic'")
    if forced == "x2apic" and not x2apic_supported(spec):
        raise ValueError(f"KernelConfig.apic='x2apic': the LAPIC of spec {spec.platform.name!r} has no x2APIC MSRs")
    return forced == "x2apic"


def make_apic(kernel: DeviceAccess, msr: Msr) -> Apic:
    """The APIC driver the kernel uses (``apic_install_driver``): :class:`X2Apic` or the xAPIC :class:`Apic`."""
    cfg = kernel.config
    if cfg.x2apic_dest not in ("physical", "cluster"):
        raise ValueError(f"KernelConfig.x2apic_dest: {cfg.x2apic_dest!r} is neither 'physical' nor 'cluster'")
    apic = X2Apic(kernel, msr) if use_x2apic(kernel.spec, cfg) else Apic(kernel)
    apic.tsc_deadline = (tsc_deadline_supported(kernel.spec) if cfg.tsc_deadline is None else cfg.tsc_deadline)
    apic.msr = msr
    return apic


class X2Apic(Apic):
    """``apic_x2apic_phys`` / ``apic_x2apic_cluster``: the LAPIC through MSRs (see the module docstring)."""

    name = "x2apic"

    def __init__(self, kernel: DeviceAccess, msr: Msr) -> None:
        super().__init__(kernel)
        self.msr = msr
        view = kernel.spec.lapic.x2apic
        if view is None:
            raise ValueError(f"the LAPIC of spec {kernel.spec.platform.name!r} has no x2APIC MSR view")
        self.msr_of = {r.source or r.name: r.address for r in view.registers}
        """MMIO register name → its MSR (the registers the view has; DFR, ICR_HI … have none)."""
        self.ISR_MSR = [view.register("ISR").address + i for i in range(8)]
        self.TMR_MSR = [view.register("TMR").address + i for i in range(8)]
        self.EOI_MSR = view.register("EOI").address
        self.ICR_MSR = view.register("ICR").address
        self.SELF_IPI_MSR = view.register("SELF_IPI").address
        self.cluster = kernel.config.x2apic_dest == "cluster"
        self.name = "cluster x2apic" if self.cluster else "physical x2apic"
        self.logical_id: dict[int, int] = {}
        """cpu → its x2APIC logical ID (read from the LDR at setup)."""
        self.eoi_addr = -1  # no MMIO EOI in x2APIC mode: apic_eoi / eoi_sync write the MSR

    # ------------------------------------------------------------------ register access (native_apic_msr_*)

    async def read(self, name: str) -> int:
        return self.msr.rdmsrq_sync(self.msr_of[name]) & 0xFFFFFFFF

    async def write(self, name: str, value: int) -> None:
        self.msr.wrmsrq_sync(self.msr_of[name], value & 0xFFFFFFFF)

    async def apic_eoi(self) -> None:
        """``native_apic_msr_eoi``: wrmsr(0x80B, 0)."""
        self.msr.wrmsrq_sync(self.EOI_MSR, 0)

    def eoi_sync(self) -> None:
        # msr.wrmsrq_sync(EOI_MSR, 0), inlined: the EOI is on every interrupt's path
        msr = self.msr
        try:
            msr.k.wrmsr_sync(self.EOI_MSR, 0)
        except MsrFault as fault:
            msr._gp(fault, msr.insn["native_write_msr"])

    async def isr_bit(self, vector: int) -> bool:
        return bool(self.msr.rdmsrq_sync(self.ISR_MSR[vector >> 5]) >> (vector & 31) & 1)

    async def tmr_bit(self, vector: int) -> bool:
        return bool(self.msr.rdmsrq_sync(self.TMR_MSR[vector >> 5]) >> (vector & 31) & 1)

    async def read_isr(self) -> list[int]:
        return [self.msr.rdmsrq_sync(a) & 0xFFFFFFFF for a in self.ISR_MSR]

    # ------------------------------------------------------------------ mode switch and setup

    async def x2apic_enable(self) -> None:
        """``__x2apic_enable``: set EXTD (with EN) in IA32_APIC_BASE unless it is set."""
        base = self.msr.rdmsrq_sync(MSR_IA32_APICBASE)
        if base & X2APIC_ENABLE:
            return
        self.msr.wrmsrq_sync(MSR_IA32_APICBASE, base | MSR_IA32_APICBASE_ENABLE | X2APIC_ENABLE)

    async def init_bsp_APIC(self) -> None:
        """``try_to_enable_x2apic`` → ``x2apic_enable`` on the boot CPU, then the common setup."""
        await self.x2apic_enable()
        k = self.k
        k.printk(f"x2apic enabled; Switched APIC routing to: {self.name}")
        await super().init_bsp_APIC()

    async def setup_local_APIC(self) -> None:
        """``x2apic_setup`` (the application processors' ``cpu_init``), then ``setup_local_APIC``."""
        await self.x2apic_enable()
        await super().setup_local_APIC()

    async def init_apic_ldr(self) -> None:
        """x2APIC: no DFR and a read-only LDR; the cluster driver's ``init_x2apic_ldr``
        records the logical ID (the physical driver's does nothing)."""
        if self.cluster:
            self.logical_id[self.k.this_cpu.id] = await self.read("LDR")

    # ------------------------------------------------------------------ IPIs

    async def wait_icr_idle(self) -> None:
        """``native_x2apic_wait_icr_idle``: nothing to wait for in x2APIC mode."""

    async def icr_write(self, low: int, dest_apicid: int) -> None:
        """``native_x2apic_icr_write``: one 64-bit write, destination in bits 63:32."""
        self.msr.wrmsrq_sync(self.ICR_MSR, (dest_apicid & 0xFFFFFFFF) << 32 | low & 0xFFFFFFFF)

    async def send_IPI_dest_field(self, apicid: int, vector: int) -> None:
        """``__x2apic_send_IPI_dest(apicid, vector, APIC_DEST_PHYSICAL)``."""
        if self.k.tracer is not None:
            target = next((c.id for c in self.k.cpus if c.apic_id == apicid), apicid)
            self.k.tracer.event(self.k.smp_processor_id(), "ipi:ipi_send_cpu", cpu=target, vector=vector)
        await self.icr_write(self._prepare_icr(0, vector, 0), apicid)

    async def send_IPI_shortcut(self, shortcut: str, vector: int) -> None:
        """``__x2apic_send_IPI_shorthand``; SELF through the SELF_IPI MSR (``x2apic_send_IPI_self``)."""
        if self.k.tracer is not None:
            me = self.k.smp_processor_id()
            mask = [c.id for c in self.k.cpus if shortcut == "ALL_INCL" or (c.id == me) == (shortcut == "SELF")]
            self.k.tracer.event(me, "ipi:ipi_send_cpumask", cpumask=mask, vector=vector)
        if shortcut == "SELF" and vector != self.NMI_VECTOR:
            self.msr.wrmsrq_sync(self.SELF_IPI_MSR, vector)
            return
        await self.icr_write(self._prepare_icr(self.SHORTHAND[shortcut], vector, 0), 0)

    async def send_IPI(self, cpu: int, vector: int) -> None:
        """``x2apic_send_IPI``: physical destination in both modes (as Linux's cluster driver does)."""
        await self.send_IPI_dest_field(self.k.cpus[cpu].apic_id, vector)

    async def send_IPI_mask(self, mask: set[int] | list[int], vector: int) -> None:
        """``__x2apic_send_IPI_mask``: per CPU (physical) or per cluster (logical)."""
        flags = self.k.local_irq_save()
        if not self.cluster:
            for cpu in sorted(mask):
                await self.send_IPI_dest_field(self.k.cpus[cpu].apic_id, vector)
        else:
            clusters: dict[int, int] = {}
            for cpu in sorted(mask):
                ldr = self.logical_id.get(cpu)
                if ldr is None:  # not set up yet: its logical ID from its APIC ID (SDM 10.12.10.2)
                    apic_id = self.k.cpus[cpu].apic_id
                    ldr = (apic_id >> 4) << 16 | 1 << (apic_id & 0xF)
                clusters[ldr >> 16] = clusters.get(ldr >> 16, 0) | ldr
            for dest in clusters.values():
                if self.k.tracer is not None:
                    self.k.tracer.event(self.k.smp_processor_id(), "ipi:ipi_send_cpumask",
                                        cpumask=sorted(mask), vector=vector)
                await self.icr_write(self._prepare_icr(0, vector, self.APIC_DEST_LOGICAL), dest)
        self.k.local_irq_restore(flags)

