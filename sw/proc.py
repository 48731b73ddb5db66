"""``/proc`` renderings (kernel/irq/proc.c, arch/x86/kernel/irq.c,
fs/proc/softirqs.c).

``/proc/interrupts`` is produced exactly as ``show_interrupts`` and
``arch_show_interrupts`` print it: header ``prec + 8`` spaces then
``CPU%-8d`` per online CPU; device rows ``%*d:`` + `` %10u`` per CPU + chip
`` %8s`` + hwirq `` %*d`` + ``-%-8s`` flow + ``  name[, name…]``; the x86
rows (NMI, LOC, SPU, PMI, IWI, RTR, RES, CAL, TLB, TRM, THR, DFR, MCE, MCP)
as ``%*s: `` + ``%10u `` per CPU + ``  description``; ERR and MIS as totals.
``/proc/irq/N/smp_affinity`` reads and writes a hex CPU mask; a write
reprograms the IO-APIC entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .softirq import NR_SOFTIRQS, SOFTIRQ_NAMES

if TYPE_CHECKING:
    from .apic import Apic
    from .context import PerCpu
    from .io_apic import IoApic
    from .irq import IrqCore

__all__ = ["ARCH_ROWS", "Proc"]

ARCH_ROWS = (
    ("NMI", "Non-maskable interrupts"),
    ("LOC", "Local timer interrupts"),
    ("SPU", "Spurious interrupts"),
    ("PMI", "Performance monitoring interrupts"),
    ("IWI", "IRQ work interrupts"),
    ("RTR", "APIC ICR read retries"),
    ("RES", "Rescheduling interrupts"),
    ("CAL", "Function call interrupts"),
    ("TLB", "TLB shootdowns"),
    ("TRM", "Thermal event interrupts"),
    ("THR", "Threshold APIC interrupts"),
    ("DFR", "Deferred Error APIC interrupts"),
    ("MCE", "Machine check exceptions"),
    ("MCP", "Machine check polls"),
)
EINVAL = 22


class ProcHost(Protocol):
    """What the /proc renderings read: the CPUs and the interrupt subsystems' counters."""

    cpus: list[PerCpu]
    ncpus: int
    apic: Apic
    ioapic: IoApic
    irq: IrqCore

    def online_cpus(self) -> list[int]: ...


class Proc:
    """Text files of /proc that concern interrupts."""

    def __init__(self, kernel: ProcHost) -> None:
        self.k = kernel

    def _prec(self) -> int:
        nr_irqs = max(self.k.irq.descs, default=0) + 1
        prec, x = 3, 1000
        while prec < 10 and x <= nr_irqs:
            x *= 10
            prec += 1
        return prec

    def interrupts(self) -> str:
        """The text of ``/proc/interrupts``."""
        k = self.k
        cpus = k.online_cpus()
        prec = self._prec()
        out = [" " * (prec + 8) + "".join(f"CPU{j:<8d}" for j in cpus)]
        for irq in sorted(k.irq.descs):
            d = k.irq.descs[irq]
            counts = [d.kstat[j] for j in cpus]
            if not d.actions and not any(counts):
                continue
            line = f"{irq:>{prec}d}:" + "".join(f" {c:10d}" for c in counts)
            line += f" {d.chip.name:>8s}"
            line += f" {d.hwirq:>{prec}d}"
            line += f"-{d.flow:<8s}"
            if d.actions:
                line += "  " + d.actions[0].name + "".join(f", {a.name}" for a in d.actions[1:])
            out.append(line)
        for tag, desc in ARCH_ROWS:
            out.append(f"{tag:>{prec}s}: " + "".join(f"{k.cpus[j].irq_stat[tag]:10d} " for j in cpus)
                       + f"  {desc}")
        out.append(f"{'ERR':>{prec}s}: {k.apic.irq_err_count:10d}")
        out.append(f"{'MIS':>{prec}s}: {k.ioapic.irq_mis_count:10d}")
        return "\n".join(out) + "\n"

    def softirqs(self) -> str:
        """The text of ``/proc/softirqs`` (every possible CPU)."""
        k = self.k
        out = [" " * 20 + "".join(f"CPU{c.id:<8d}" for c in k.cpus)]
        for nr in range(NR_SOFTIRQS):
            out.append(f"{SOFTIRQ_NAMES[nr]:>12s}:" + "".join(
                f" {c.data.get('softirq_count', [0] * NR_SOFTIRQS)[nr]:10d}" for c in k.cpus))
        return "\n".join(out) + "\n"

    def read_smp_affinity(self, irq: int) -> str:
        """``/proc/irq/N/smp_affinity``: the mask in hex (``%*pb``)."""
        d = self.k.irq.descs[irq]
        mask = sum(1 << c for c in d.affinity)
        ncpus = self.k.ncpus
        digits = max(1, (ncpus + 3) // 4)
        text = f"{mask:0{digits}x}"
        groups: list[str] = []
        while text:
            groups.insert(0, text[-8:])
            text = text[:-8]
        return ",".join(groups) + "\n"

    def read_smp_affinity_list(self, irq: int) -> str:
        d = self.k.irq.descs[irq]
        return ",".join(str(c) for c in sorted(d.affinity)) + "\n"

    async def write_smp_affinity(self, irq: int, text: str) -> int:
        """Parse a hex mask and retarget the IRQ; the byte count or -EINVAL."""
        k = self.k
        if irq not in k.irq.descs:
            return -EINVAL
        try:
            mask = int(text.strip().replace(",", ""), 16)
        except ValueError:
            return -EINVAL
        cpus = {c for c in range(k.ncpus) if mask >> c & 1}
        rc = await k.irq.irq_set_affinity(irq, cpus)
        return rc if rc < 0 else len(text)
