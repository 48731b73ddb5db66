"""Address spaces and TLB shootdown (arch/x86/mm/tlb.c, mm/mmap.c).

An :class:`Mm` has VMAs and populated pages; each CPU caches translations
of the mm it runs (its "TLB"). ``munmap`` zaps the pages, flushes the local
TLB and shoots down the other CPUs in ``mm_cpumask`` with
``on_each_cpu_cond_mask(…, flush_tlb_func, wait=True)``: CALL_FUNCTION IPIs,
each remote flush counted in the TLB row of /proc/interrupts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .context import PerCpuAccess

if TYPE_CHECKING:
    from .smp import Smp

__all__ = ["PAGE_SIZE", "Mm", "Tlb", "Vma"]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT


@dataclass
class Vma:
    start: int
    end: int
    writable: bool = True
    exec: bool = False


@dataclass
class Mm:
    """``struct mm_struct`` (just what faults and shootdowns need)."""

    name: str = "mm"
    vmas: list[Vma] = field(default_factory=list)
    pages: set[int] = field(default_factory=set)
    cpumask: set[int] = field(default_factory=set)
    faults: int = 0

    def find_vma(self, addr: int) -> Vma | None:
        for v in self.vmas:
            if v.start <= addr < v.end:
                return v
        return None

    def handle_mm_fault(self, addr: int, write: bool) -> None:
        self.pages.add(addr >> PAGE_SHIFT)
        self.faults += 1


@dataclass
class _FlushInfo:
    mm: Mm
    start: int
    end: int
    initiating_cpu: int


class TlbHost(PerCpuAccess, Protocol):
    """What TLB shootdowns need: the per-CPU state, preemption, cross-CPU calls."""

    smp: Smp

    def get_cpu(self) -> int: ...

    async def put_cpu(self) -> None: ...


class Tlb:
    """Per-CPU loaded mm and cached translations; mmap/munmap/shootdown."""

    def __init__(self, kernel: TlbHost) -> None:
        self.k = kernel
        self.loaded: list[Mm | None] = [None] * kernel.ncpus
        self.tlb: list[set[int]] = [set() for _ in range(kernel.ncpus)]
        self.flushes_local = 0

    def current_mm(self) -> Mm | None:
        return self.loaded[self.k.smp_processor_id()]

    def switch_mm(self, mm: Mm | None) -> None:
        """Load ``mm`` on this CPU (the old mm's translations are dropped)."""
        me = self.k.smp_processor_id()
        old = self.loaded[me]
        if old is not None:
            old.cpumask.discard(me)
        self.loaded[me] = mm
        self.tlb[me].clear()
        if mm is not None:
            mm.cpumask.add(me)

    def mmap(self, mm: Mm, start: int, length: int, writable: bool = True) -> Vma:
        v = Vma(start, start + length, writable)
        mm.vmas.append(v)
        return v

    def touch(self, addr: int) -> bool:
        """Access ``addr`` in the loaded mm: fill the TLB; False if unmapped."""
        me = self.k.smp_processor_id()
        mm = self.loaded[me]
        if mm is None or (addr >> PAGE_SHIFT) not in mm.pages:
            return False
        self.tlb[me].add(addr >> PAGE_SHIFT)
        return True

    def populate(self, mm: Mm, start: int, length: int) -> None:
        for vpn in range(start >> PAGE_SHIFT, (start + length + PAGE_SIZE - 1) >> PAGE_SHIFT):
            mm.pages.add(vpn)

    async def munmap(self, mm: Mm, start: int, length: int) -> None:
        """Unmap ``[start, start+length)`` and shoot the translations down everywhere."""
        end = start + length
        mm.vmas = [v for v in mm.vmas if v.end <= start or v.start >= end] + [
            part for v in mm.vmas if not (v.end <= start or v.start >= end)
            for part in (Vma(v.start, start, v.writable, v.exec), Vma(end, v.end, v.writable, v.exec))
            if part.start < part.end
        ]
        for vpn in range(start >> PAGE_SHIFT, (end + PAGE_SIZE - 1) >> PAGE_SHIFT):
            mm.pages.discard(vpn)
        await self.flush_tlb_mm_range(mm, start, end)

    async def flush_tlb_mm_range(self, mm: Mm, start: int, end: int) -> None:
        k = self.k
        me = k.get_cpu()
        info = _FlushInfo(mm, start, end, me)
        if self.loaded[me] is mm:
            self._flush_local(info)
        others = sorted(c for c in mm.cpumask if c != me)
        if others:
            await k.smp.on_each_cpu_cond_mask(lambda cpu, _i: True, self.flush_tlb_func, info, True, others)
        await k.put_cpu()

    def _flush_local(self, info: _FlushInfo) -> None:
        me = self.k.smp_processor_id()
        lo, hi = info.start >> PAGE_SHIFT, (info.end + PAGE_SIZE - 1) >> PAGE_SHIFT
        self.tlb[me] = {v for v in self.tlb[me] if not lo <= v < hi}
        self.flushes_local += 1

    def flush_tlb_func(self, info: Any) -> None:
        k = self.k
        me = k.smp_processor_id()
        if info.initiating_cpu != me:
            k.this_cpu.irq_stat["TLB"] += 1
        if self.loaded[me] is info.mm:
            self._flush_local(info)
