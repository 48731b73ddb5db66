"""Model-specific registers as Linux reads and writes them (arch/x86/include/asm/msr.h,
arch/x86/mm/extable.c ``ex_handler_msr``).

The CPU's ``rdmsr``/``wrmsr`` are :meth:`Kernel.rdmsr_sync`/:meth:`Kernel.wrmsr_sync`
(one access through the Machine seam, an interrupt point afterwards). When the
access raises #GP the machine raises :class:`~irqforge.sw.machine.MsrFault`;
here the CPU then delivers ``#GP(0)`` through the IDT with ``regs.ip`` at the
instruction, and ``exc_general_protection`` looks the instruction up in the
exception table, as in Linux:

=====================  ====================  ================================================
accessor               exception table type  on #GP
=====================  ====================  ================================================
``rdmsrq``             ``EX_TYPE_RDMSR``     "unchecked MSR access error" (printed once), reads 0
``wrmsrq``             ``EX_TYPE_WRMSR``     "unchecked MSR access error" (printed once), no write
``rdmsrq_safe``        ``EX_TYPE_RDMSR_SAFE``  returns ``(-EIO, 0)``
``wrmsrq_safe``        ``EX_TYPE_WRMSR_SAFE``  returns ``-EIO``
=====================  ====================  ================================================

An MSR access at an address with no exception-table entry (a firmware's own
``rdmsr`` at an address it did not register, or an entry removed) is what
any unfixable kernel fault is: ``die()`` — an oops that kills the thread, a
panic in interrupt context.

``rdtsc`` reads ``IA32_TSC`` (MSR 0x10, answered by the platform's per-CPU
counter): the Machine seam has MSRs, not a separate time-stamp instruction,
and the deadline the TSC-deadline timer compares is that counter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .context import PerCpuAccess
from .machine import MsrFault

if TYPE_CHECKING:
    from .entry import Entry, ExEntry, PtRegs

__all__ = [
    "EIO",
    "EX_TYPE_RDMSR",
    "EX_TYPE_RDMSR_SAFE",
    "EX_TYPE_WRMSR",
    "EX_TYPE_WRMSR_SAFE",
    "MSR_IA32_APICBASE",
    "MSR_IA32_APICBASE_BSP",
    "MSR_IA32_APICBASE_ENABLE",
    "MSR_IA32_TSC",
    "MSR_IA32_TSC_DEADLINE",
    "X2APIC_ENABLE",
    "Msr",
]

# arch/x86/include/asm/msr-index.h
MSR_IA32_TSC = 0x00000010
MSR_IA32_APICBASE = 0x0000001B
MSR_IA32_APICBASE_BSP = 1 << 8
X2APIC_ENABLE = 1 << 10
MSR_IA32_APICBASE_ENABLE = 1 << 11
MSR_IA32_TSC_DEADLINE = 0x000006E0

# arch/x86/include/asm/extable_fixup_types.h (Linux 5.17 and later)
EX_TYPE_WRMSR = 8
EX_TYPE_RDMSR = 9
EX_TYPE_WRMSR_SAFE = 10
EX_TYPE_RDMSR_SAFE = 11

EIO = 5

#: accessor → its exception-table type; the faulting instruction sits at the
#: symbol + :data:`_INSN`, the code after it at + :data:`_NEXT`.
_SITES: dict[str, int] = {
    "native_read_msr": EX_TYPE_RDMSR,
    "native_write_msr": EX_TYPE_WRMSR,
    "native_read_msr_safe": EX_TYPE_RDMSR_SAFE,
    "native_write_msr_safe": EX_TYPE_WRMSR_SAFE,
}
_INSN = 0x10
_NEXT = 0x12  # rdmsr and wrmsr are two bytes (0f 32, 0f 30)


class MsrHost(PerCpuAccess, Protocol):
    """What the MSR accessors need: the instructions, the entry code and the symbol table."""

    entry: Entry

    def rdmsr_sync(self, msr: int) -> int: ...

    def wrmsr_sync(self, msr: int, value: int) -> None: ...

    def kallsym(self, name: str, obj: Any = None) -> int: ...

    def symbol_at(self, addr: int) -> tuple[str, Any] | None: ...


class Msr:
    """Linux's MSR accessors on the current CPU (see the module docstring)."""

    def __init__(self, kernel: MsrHost) -> None:
        self.k = kernel
        self.insn: dict[str, int] = {}
        """accessor name → the text address of its ``rdmsr``/``wrmsr`` instruction."""
        entry = kernel.entry
        for name, ex_type in _SITES.items():
            at = kernel.kallsym(name) + _INSN
            self.insn[name] = at
            entry.extable.add(at, at - _INSN + _NEXT, ex_type)
            entry.ex_handlers[ex_type] = self.ex_handler_msr
        self._faulting: dict[int, MsrFault] = {}
        """cpu → the access whose #GP is being handled (what ``regs->cx``/``dx:ax`` held)."""
        self.unchecked: list[MsrFault] = []
        """Every #GP of an unchecked access (``rdmsrq``/``wrmsrq``); only the first of each kind is printed."""
        self._warned: set[bool] = set()

    # ------------------------------------------------------------------ the accessors (plain calls)

    def rdmsrq_sync(self, msr: int) -> int:
        """``rdmsrq``: the value; 0 (and a warning) when the access raises #GP."""
        try:
            return self.k.rdmsr_sync(msr)
        except MsrFault as fault:
            regs = self._gp(fault, self.insn["native_read_msr"])
            return (regs.dx & 0xFFFFFFFF) << 32 | regs.ax & 0xFFFFFFFF

    def wrmsrq_sync(self, msr: int, value: int) -> None:
        """``wrmsrq``: write; a warning when the access raises #GP."""
        try:
            self.k.wrmsr_sync(msr, value)
        except MsrFault as fault:
            self._gp(fault, self.insn["native_write_msr"])

    def rdmsrq_safe_sync(self, msr: int) -> tuple[int, int]:
        """``rdmsrq_safe``: ``(0, value)``, or ``(-EIO, 0)`` when the access raises #GP."""
        try:
            return 0, self.k.rdmsr_sync(msr)
        except MsrFault as fault:
            regs = self._gp(fault, self.insn["native_read_msr_safe"])
            return regs.r8, (regs.dx & 0xFFFFFFFF) << 32 | regs.ax & 0xFFFFFFFF

    def wrmsrq_safe_sync(self, msr: int, value: int) -> int:
        """``wrmsrq_safe``: 0, or ``-EIO`` when the access raises #GP."""
        try:
            self.k.wrmsr_sync(msr, value)
        except MsrFault as fault:
            return self._gp(fault, self.insn["native_write_msr_safe"]).r8
        return 0

    def rdtsc_sync(self) -> int:
        """``rdtsc``: IA32_TSC of the current CPU (see the module docstring)."""
        return self.rdmsrq_sync(MSR_IA32_TSC)

    # the same as coroutines, for firmware code and scenarios

    async def rdmsrq(self, msr: int) -> int:
        return self.rdmsrq_sync(msr)

    async def wrmsrq(self, msr: int, value: int) -> None:
        self.wrmsrq_sync(msr, value)

    async def rdmsrq_safe(self, msr: int) -> tuple[int, int]:
        return self.rdmsrq_safe_sync(msr)

    async def wrmsrq_safe(self, msr: int, value: int) -> int:
        return self.wrmsrq_safe_sync(msr, value)

    async def rdtsc(self) -> int:
        return self.rdtsc_sync()

    # ------------------------------------------------------------------ #GP

    def _gp(self, fault: MsrFault, ip: int) -> PtRegs:
        """The CPU raises ``#GP(0)`` at ``ip``; the registers after ``iret`` (at the fixup)."""
        k = self.k
        cpu = k.this_cpu.id
        self._faulting[cpu] = fault
        try:
            return k.entry.deliver_sync(k.entry.GP_VECTOR, error_code=0, ip=ip)
        finally:
            self._faulting.pop(cpu, None)

    def ex_handler_msr(self, e: ExEntry, regs: PtRegs, trapnr: int) -> None:
        """``ex_handler_msr``: warn about an unchecked access, fake a read of 0, -EIO for the safe forms."""
        k = self.k
        fault = self._faulting.get(k.this_cpu.id)
        write = e.type in (EX_TYPE_WRMSR, EX_TYPE_WRMSR_SAFE)
        safe = e.type in (EX_TYPE_RDMSR_SAFE, EX_TYPE_WRMSR_SAFE)
        if fault is not None:
            regs.cx = fault.msr
            if write:
                regs.ax, regs.dx = fault.value & 0xFFFFFFFF, fault.value >> 32 & 0xFFFFFFFF
        if not safe:
            if fault is not None:
                self.unchecked.append(fault)
            if write not in self._warned:
                self._warned.add(write)
                sym = k.symbol_at(regs.ip - _INSN)
                where = f" ({sym[0]}+{_INSN:#x})" if sym else ""
                if write:
                    k.printk(f"unchecked MSR access error: WRMSR to 0x{regs.cx:x} (tried to write "
                             f"0x{regs.dx:08x}{regs.ax:08x}) at rIP: 0x{regs.ip:x}{where}")
                else:
                    k.printk(f"unchecked MSR access error: RDMSR from 0x{regs.cx:x} at rIP: 0x{regs.ip:x}{where}")
        if not write:
            regs.ax = regs.dx = 0  # pretend that the read succeeded and returned 0
        if safe:
            regs.r8 = -EIO  # the accessor's error register
        regs.ip = e.fixup
