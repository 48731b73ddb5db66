"""CPU exception handlers (arch/x86/kernel/traps.c, arch/x86/mm/fault.c).

Each handler gets the ``pt_regs`` the entry stub built (plus the hardware
error code for the vectors that push one). Kernel-mode faults first try the
exception table (:meth:`Entry.fixup_exception`), then ``die()``; user-mode
faults become signals (recorded in :attr:`Traps.signals`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .context import KernelPanic, PerCpuAccess

if TYPE_CHECKING:
    from irqforge.spec import Spec

    from .entry import Entry, PtRegs
    from .tlb import Tlb

__all__ = [
    "X86_PF_INSTR",
    "X86_PF_PK",
    "X86_PF_PROT",
    "X86_PF_RSVD",
    "X86_PF_SGX",
    "X86_PF_SHSTK",
    "X86_PF_USER",
    "X86_PF_WRITE",
    "Signal",
    "TrapEvent",
    "Traps",
]

# arch/x86/include/asm/trap_pf.h
X86_PF_PROT = 1 << 0
X86_PF_WRITE = 1 << 1
X86_PF_USER = 1 << 2
X86_PF_RSVD = 1 << 3
X86_PF_INSTR = 1 << 4
X86_PF_PK = 1 << 5
X86_PF_SHSTK = 1 << 6
X86_PF_SGX = 1 << 15

TASK_SIZE_MAX = 0x00007FFFFFFFF000
SIGTRAP, SIGFPE, SIGBUS, SIGSEGV, SIGILL = 5, 8, 7, 11, 4
SEGV_MAPERR, SEGV_ACCERR = 1, 2
ENOSYS = 38


@dataclass(frozen=True)
class TrapEvent:
    cpu: int
    trapnr: int
    name: str
    error_code: int | None
    ip: int
    cr2: int
    user: bool
    fixed_up: bool


@dataclass(frozen=True)
class Signal:
    pid: int
    signo: int
    code: int
    addr: int
    trapnr: int


# vector name (spec) → (Linux handler name, message, signal)
_SIMPLE = {
    "DE": ("exc_divide_error", "divide error", SIGFPE),
    "OF": ("exc_overflow", "overflow", SIGSEGV),
    "BR": ("exc_bounds", "bounds", SIGSEGV),
    "UD": ("exc_invalid_op", "invalid opcode", SIGILL),
    "NM": ("exc_device_not_available", "device not available", SIGSEGV),
    "OLD_MF": ("exc_coproc_segment_overrun", "coprocessor segment overrun", SIGFPE),
    "TS": ("exc_invalid_tss", "invalid TSS", SIGSEGV),
    "NP": ("exc_segment_not_present", "segment not present", SIGBUS),
    "SS": ("exc_stack_segment", "stack segment", SIGBUS),
    "MF": ("exc_coprocessor_error", "coprocessor error", SIGFPE),
    "AC": ("exc_alignment_check", "alignment check", SIGBUS),
    "XF": ("exc_simd_coprocessor_error", "simd exception", SIGFPE),
    "VE": ("exc_virtualization_exception", "virtualization exception", SIGSEGV),
    "CP": ("exc_control_protection", "control protection fault", SIGSEGV),
    "HV": ("exc_hv_injection", "hypervisor injection", SIGSEGV),
    "VC": ("exc_vmm_communication", "VMM communication", SIGSEGV),
    "SX": ("exc_security_exception", "security exception", SIGSEGV),
    "DB": ("exc_debug", "debug", SIGTRAP),
}


class TrapsHost(PerCpuAccess, Protocol):
    """What the exception handlers need: the per-CPU state, the spec, the entry
    code (fixups, die) and the TLB (page faults)."""

    spec: Spec
    entry: Entry
    tlb: Tlb


class Traps:
    """The C-level exception handlers and their bookkeeping."""

    def __init__(self, kernel: TrapsHost) -> None:
        self.k = kernel
        self.events: list[TrapEvent] = []
        self.signals: list[Signal] = []
        self.syscalls: dict[int, Callable[..., Any]] = {}
        self.int3_handlers: list[Callable[[PtRegs], bool]] = []
        self.page_faults = 0

    def handler_for(self, vector: int) -> tuple[str, Callable[..., Awaitable[None]]]:
        """The Linux name and the coroutine function handling exception ``vector``."""
        v = self.k.spec.vectors.at(vector)
        name = v.name if v is not None else ""
        if name == "PF":
            return "asm_exc_page_fault", self.exc_page_fault
        if name == "GP":
            return "asm_exc_general_protection", self.exc_general_protection
        if name == "BP":
            return "asm_exc_int3", self.exc_int3
        if name == "DF":
            return "asm_exc_double_fault", self.exc_double_fault
        if name == "MC":
            return "asm_exc_machine_check", self.exc_machine_check
        if name in _SIMPLE:
            fn_name, msg, sig = _SIMPLE[name]
            has_ec = bool(v is not None and v.error_code)
            if has_ec:
                async def with_ec(regs: PtRegs, error_code: int) -> None:
                    await self.do_error_trap(regs, error_code, msg, vector, sig)
                return "asm_" + fn_name, with_ec

            async def without_ec(regs: PtRegs) -> None:
                await self.do_error_trap(regs, 0, msg, vector, sig)
            return "asm_" + fn_name, without_ec

        async def spurious(regs: PtRegs) -> None:
            self.k.printk(f"Ignoring P6 Local APIC Spurious Interrupt Bug (vector {vector:#x})")
        return f"asm_exc_reserved_{vector:02x}", spurious

    def _record(self, regs: PtRegs, trapnr: int, name: str, ec: int | None, fixed: bool) -> None:
        cpu = self.k.this_cpu
        self.events.append(TrapEvent(cpu.id, trapnr, name, ec, regs.ip, cpu.cr2, regs.user_mode(), fixed))

    def force_sig(self, signo: int, code: int, addr: int, trapnr: int) -> None:
        self.signals.append(Signal(self.k.current.pid, signo, code, addr, trapnr))

    async def do_error_trap(self, regs: PtRegs, error_code: int, msg: str, trapnr: int, signr: int) -> None:
        """``do_error_trap`` → ``do_trap``: signal for user mode, fixup or die for kernel mode."""
        if regs.user_mode():
            self._record(regs, trapnr, msg, error_code, False)
            self.force_sig(signr, 0, regs.ip, trapnr)
            return
        fixed = self.k.entry.fixup_exception(regs, trapnr, error_code, 0)
        self._record(regs, trapnr, msg, error_code, fixed)
        if not fixed:
            self.k.entry.die(msg, regs, error_code)

    async def exc_general_protection(self, regs: PtRegs, error_code: int) -> None:
        if regs.user_mode():
            self._record(regs, 13, "general protection", error_code, False)
            self.force_sig(SIGSEGV, 0, 0, 13)
            return
        fixed = self.k.entry.fixup_exception(regs, 13, error_code, 0)
        self._record(regs, 13, "general protection", error_code, fixed)
        if not fixed:
            self.k.entry.die("general protection fault", regs, error_code)

    async def exc_int3(self, regs: PtRegs) -> None:
        for h in self.int3_handlers:
            if h(regs):
                self._record(regs, 3, "int3", None, True)
                return
        self._record(regs, 3, "int3", None, False)
        if regs.user_mode():
            self.force_sig(SIGTRAP, 0, regs.ip, 3)
            return
        self.k.entry.die("int3", regs, 0)

    async def exc_double_fault(self, regs: PtRegs, error_code: int) -> None:
        self._record(regs, 8, "double fault", error_code, False)
        self.k.printk(f"double fault: {error_code:04x} on CPU {self.k.this_cpu.id}")
        raise KernelPanic("Machine halted: double fault")

    async def exc_machine_check(self, regs: PtRegs) -> None:
        self._record(regs, 18, "machine check", None, False)
        raise KernelPanic("Machine check: processor context corrupt")

    async def int80_emulation(self, regs: PtRegs) -> None:
        """``int $0x80``: syscall number in ax, result in ax."""
        from .context import call

        fn = self.syscalls.get(regs.ax)
        self._record(regs, 0x80, "int80", None, False)
        if fn is None:
            regs.ax = -ENOSYS
            return
        regs.ax = await call(fn, regs.bx, regs.cx, regs.dx)

    # ------------------------------------------------------------------ page faults (arch/x86/mm/fault.c)

    async def exc_page_fault(self, regs: PtRegs, error_code: int) -> None:
        k = self.k
        address = k.this_cpu.cr2  # read_cr2() first thing: a nested fault would clobber it
        self.page_faults += 1
        if address >= TASK_SIZE_MAX:
            await self._bad_area(regs, error_code, address, SEGV_MAPERR)
            return
        if error_code & X86_PF_RSVD:
            self._record(regs, 14, "page fault", error_code, False)
            k.printk(f"{k.current.comm}: Corrupted page table at address {address:x}")
            k.entry.die("Bad pagetable", regs, error_code)
        mm = k.tlb.current_mm()
        vma = mm.find_vma(address) if mm is not None else None
        if vma is None:
            await self._bad_area(regs, error_code, address, SEGV_MAPERR)
            return
        if (error_code & X86_PF_WRITE and not vma.writable) or (error_code & X86_PF_INSTR and not vma.exec):
            await self._bad_area(regs, error_code, address, SEGV_ACCERR)
            return
        if error_code & X86_PF_PROT and not error_code & X86_PF_WRITE:
            await self._bad_area(regs, error_code, address, SEGV_ACCERR)
            return
        assert mm is not None
        mm.handle_mm_fault(address, bool(error_code & X86_PF_WRITE))
        self._record(regs, 14, "page fault", error_code, False)

    async def _bad_area(self, regs: PtRegs, error_code: int, address: int, si_code: int) -> None:
        k = self.k
        if error_code & X86_PF_USER or regs.user_mode():
            self._record(regs, 14, "page fault", error_code, False)
            self.force_sig(SIGSEGV, si_code, address, 14)
            return
        fixed = k.entry.fixup_exception(regs, 14, error_code, address)
        self._record(regs, 14, "page fault", error_code, fixed)
        if fixed:
            return
        access = ("instruction fetch" if error_code & X86_PF_INSTR
                  else "write access" if error_code & X86_PF_WRITE else "read access")
        what = ("reserved bit violation" if error_code & X86_PF_RSVD
                else "permissions violation" if error_code & X86_PF_PROT else "not-present page")
        k.printk(f"BUG: unable to handle page fault for address: {address:016x}")
        k.printk(f"#PF: supervisor {access} in {'user' if error_code & X86_PF_USER else 'kernel'} mode")
        k.printk(f"#PF: error_code(0x{error_code:04x}) - {what}")
        k.entry.die("Oops", regs, error_code)
