"""Interrupt and exception entry: vector → gate → hardware frame → ``pt_regs``
→ handler → ``iret`` (arch/x86/entry, arch/x86/include/asm/idtentry.h).

What the CPU does (:meth:`Entry.deliver`): read the gate from the IDT bytes
(limit check, DPL check for software ``int n``, present check), pick the
stack (IST if the gate names one, the task's ``sp0`` on a privilege change,
else the current stack), push SS, RSP, RFLAGS, CS, RIP and — for exceptions
the vector spec marks ``error_code`` — the error code; an interrupt gate
clears IF, a trap gate leaves it. ``iret`` restores RFLAGS (hence IF) and CS
from the (possibly modified) frame.

What Linux's stubs do: exception stubs without a hardware error code push
``-1`` into ``orig_ax``; device-interrupt stubs push the vector
(``DEFINE_IDTENTRY_IRQ``); system-vector stubs push ``-1``. Interrupts run
``irq_enter``/``irq_exit`` (softirqs at exit) and may preempt on the way out.
The exception table (:class:`ExTable`) lets a fault handler redirect
``regs.ip`` to a fixup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from irqforge.spec import GateType, VectorKind

from .context import HARDIRQ_MASK, HARDIRQ_OFFSET, NMI_MASK, NMI_OFFSET, SOFTIRQ_MASK, KernelOops, KernelPanic

if TYPE_CHECKING:
    from .kernel import Kernel, PerCpu

__all__ = [
    "EX_TYPE_DEFAULT",
    "EX_TYPE_EFAULT_REG",
    "EX_TYPE_FAULT",
    "EX_TYPE_UACCESS",
    "X86_EFLAGS_IF",
    "Entry",
    "ExTable",
    "HwFrame",
    "PtRegs",
]

X86_EFLAGS_FIXED = 0x2
X86_EFLAGS_IF = 0x200
_FLAGS_IF = X86_EFLAGS_FIXED | X86_EFLAGS_IF
KERNEL_CS = 0x10
KERNEL_DS = 0x18
USER_DS = 0x2B
USER_CS = 0x33
EFAULT = 14

# arch/x86/include/asm/extable_fixup_types.h
EX_TYPE_DEFAULT = 1
EX_TYPE_FAULT = 2
EX_TYPE_UACCESS = 3
EX_TYPE_EFAULT_REG = 10

#: enum members as module constants: ``GateType.INTERRUPT`` is an attribute
#: lookup on an Enum class at every use, a global is not
_INTERRUPT_GATE = GateType.INTERRUPT
_TRAP_GATE = GateType.TRAP
_new_object = object.__new__

IRQ_ENTRIES_BASE = 0xFFFFFFFF81E00000
_IN_INTERRUPT = NMI_MASK | HARDIRQ_MASK | SOFTIRQ_MASK
SPURIOUS_ENTRIES_BASE = 0xFFFFFFFF81E10000
IDT_ALIGN = 16


_PT_REGS_FIELDS = (
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8",
    "ax", "cx", "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss",
)  # fmt: skip


#: the ``irq_vectors:`` tracepoint of each system vector handler (arch/x86/include/asm/trace/irq_vectors.h)
_SYSVEC_TRACEPOINTS: dict[str, str] = {
    "sysvec_apic_timer_interrupt": "local_timer",
    "sysvec_error_interrupt": "error_apic",
    "sysvec_spurious_apic_interrupt": "spurious_apic",
    "sysvec_reschedule_ipi": "reschedule",
    "sysvec_call_function": "call_function",
    "sysvec_call_function_single": "call_function_single",
}

class PtRegs:
    """``struct pt_regs`` (x86-64).

    A plain class: the entry code builds one per interrupt with the five
    hardware-frame values; the general registers read 0 (``orig_ax`` -1) until
    written. Compares and prints like a dataclass of all 21 fields.
    """

    r15: int = 0
    r14: int = 0
    r13: int = 0
    r12: int = 0
    bp: int = 0
    bx: int = 0
    r11: int = 0
    r10: int = 0
    r9: int = 0
    r8: int = 0
    ax: int = 0
    cx: int = 0
    dx: int = 0
    si: int = 0
    di: int = 0
    orig_ax: int = -1

    def __init__(
        self,
        ip: int = 0,
        cs: int = KERNEL_CS,
        flags: int = X86_EFLAGS_FIXED,
        sp: int = 0,
        ss: int = KERNEL_DS,
        **regs: int,
    ) -> None:
        self.ip = ip
        self.cs = cs
        self.flags = flags
        self.sp = sp
        self.ss = ss
        if regs:
            for name, value in regs.items():
                if name not in _PT_REGS_FIELDS:
                    raise TypeError(f"pt_regs has no register {name!r}")
                setattr(self, name, value)

    def user_mode(self) -> bool:
        return (self.cs & 3) == 3

    def interrupts_enabled(self) -> bool:
        return bool(self.flags & X86_EFLAGS_IF)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PtRegs):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in _PT_REGS_FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "PtRegs(" + ", ".join(f"{f}={getattr(self, f):#x}" for f in _PT_REGS_FIELDS) + ")"


@dataclass(slots=True)
class HwFrame:
    """What the CPU pushed: SS, RSP, RFLAGS, CS, RIP and maybe an error code."""

    vector: int
    ss: int
    rsp: int
    rflags: int
    cs: int
    rip: int
    error_code: int | None
    stack: str
    """``task``, ``current`` or ``IST<n>``: where the frame was pushed."""
    gate_type: GateType
    depth: int


@dataclass
class ExEntry:
    insn: int
    fixup: int
    type: int
    data: int = 0


@dataclass
class ExTable:
    """``__ex_table``: faulting instruction → fixup."""

    entries: dict[int, ExEntry] = field(default_factory=dict)

    def add(self, insn: int, fixup: int, type: int = EX_TYPE_DEFAULT, data: int = 0) -> None:
        self.entries[insn] = ExEntry(insn, fixup, type, data)

    def search(self, ip: int) -> ExEntry | None:
        return self.entries.get(ip)


Stub = Callable[[PtRegs, int], Awaitable[None] | None]
"""An entry stub: runs the handler (plain, returning None) or returns the awaitable to run."""


class Entry:
    """The CPU side of interrupt delivery plus Linux's entry stubs."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        spec = kernel.spec
        self.vm = spec.vectors
        self.extable = ExTable()
        self.ex_handlers: dict[int, Callable[[ExEntry, PtRegs, int], None]] = {}
        """Exception-table types handled elsewhere (the MSR accessors' ``ex_handler_msr``)."""
        self.nmi_handlers: list[tuple[str, Callable[[PtRegs], Any]]] = []
        self.unknown_nmis = 0
        self.log: list[tuple[int, int, str]] = []
        """(cpu, vector, stub name) per delivery, when ``trace`` is set."""
        self.trace = False
        self.max_depth = [0] * kernel.ncpus
        self._stubs: dict[int, int] = {}
        self._dispatch: dict[int, tuple[Any, GateType, str, Stub, int]] = {}
        """vector → (decoded gate, type, symbol, stub, the last IDT byte of the gate);
        valid while the IDT's decoded gate object is the same (a gate write replaces it)."""
        self.NMI_VECTOR = self.vm["NMI"]
        self.PF_VECTOR = self.vm["PF"]
        self.GP_VECTOR = self.vm["GP"]
        self.NP_VECTOR = self.vm["NP"]
        self.DF_VECTOR = self.vm["DF"]

    # ------------------------------------------------------------------ stubs in kernel text

    def sysvec_vectors(self) -> list[int]:
        return sorted(self._sysvec_table())

    def _sysvec_table(self) -> dict[int, tuple[str, Callable[[PtRegs], Awaitable[None]]]]:
        k = self.k
        vm = self.vm
        table: dict[int, tuple[str, Callable[[PtRegs], Awaitable[None]]]] = {}

        def add(name: str, fn_name: str, fn: Callable[[PtRegs], Awaitable[None]]) -> None:
            with contextlib.suppress(KeyError):
                table[vm[name]] = (fn_name, fn)

        add("LOCAL_TIMER_VECTOR", "sysvec_apic_timer_interrupt", k.apic.sysvec_apic_timer_interrupt)
        add("ERROR_APIC_VECTOR", "sysvec_error_interrupt", k.apic.sysvec_error_interrupt)
        add("SPURIOUS_APIC_VECTOR", "sysvec_spurious_apic_interrupt", k.apic.sysvec_spurious_apic_interrupt)
        add("RESCHEDULE_VECTOR", "sysvec_reschedule_ipi", k.smp.sysvec_reschedule_ipi)
        add("CALL_FUNCTION_VECTOR", "sysvec_call_function", k.smp.sysvec_call_function)
        add("CALL_FUNCTION_SINGLE_VECTOR", "sysvec_call_function_single", k.smp.sysvec_call_function_single)
        add("REBOOT_VECTOR", "sysvec_reboot", k.smp.sysvec_reboot)
        add("IRQ_WORK_VECTOR", "sysvec_irq_work", k.smp.sysvec_irq_work)
        return table

    def stub_address(self, vector: int) -> int:
        """The entry stub Linux installs for ``vector``; registered in kernel text."""
        addr = self._stubs.get(vector)
        if addr is not None:
            return addr
        k = self.k
        v = self.vm.at(vector)
        kind = self.vm.kind_of(vector)
        sysvecs = self._sysvec_table()
        first_ext = k.idt.first_external
        first_sys = k.idt.first_system
        stub: Stub
        if v is not None and v.kind is VectorKind.EXCEPTION:
            name, handler = k.traps.handler_for(vector)
            if vector == self.NMI_VECTOR:
                stub = self._make_nmi_stub()
                name = "asm_exc_nmi"
            elif v.error_code:
                stub = self._make_exc_stub(handler, True)
            else:
                stub = self._make_exc_stub(handler, False)
            addr = k.kallsym(name, stub)
        elif v is not None and v.kind is VectorKind.SYSCALL:
            addr = k.kallsym("asm_int80_emulation", self._make_exc_stub(k.traps.int80_emulation, False))
        elif vector in sysvecs:
            name, fn = sysvecs[vector]
            addr = k.kallsym("asm_" + name, self._make_sysvec_stub(fn, _SYSVEC_TRACEPOINTS.get(name), vector))
        elif first_ext <= vector < first_sys:
            addr = IRQ_ENTRIES_BASE + IDT_ALIGN * (vector - first_ext)
            k._symbols[addr] = (f"irq_entries_start+{addr - IRQ_ENTRIES_BASE:#x}", self._make_irq_stub(vector))
        elif vector >= first_sys:
            addr = SPURIOUS_ENTRIES_BASE + IDT_ALIGN * (vector - first_sys)
            k._symbols[addr] = (f"spurious_entries_start+{addr - SPURIOUS_ENTRIES_BASE:#x}",
                                self._make_spurious_stub(vector))
        else:
            del kind
            name, handler = k.traps.handler_for(vector)
            addr = k.kallsym(name, self._make_exc_stub(handler, False))
        self._stubs[vector] = addr
        return addr

    # The stubs are plain functions returning the coroutine they hand over to
    # (like the assembly stubs, they only fill ``orig_ax`` and jump): awaiting
    # the stub then costs no coroutine frame of its own on every interrupt.

    def _make_exc_stub(self, handler: Callable[..., Any], has_error_code: bool) -> Stub:
        if has_error_code:

            def stub(regs: PtRegs, error_code: int) -> Awaitable[None]:
                regs.orig_ax = error_code
                return handler(regs, error_code)

        else:

            def stub(regs: PtRegs, error_code: int) -> Awaitable[None]:
                regs.orig_ax = -1
                return handler(regs)

        return stub

    def _make_nmi_stub(self) -> Stub:
        def stub(regs: PtRegs, error_code: int) -> Awaitable[None]:
            regs.orig_ax = -1
            return self.exc_nmi(regs)

        return stub

    def _make_irq_stub(self, vector: int) -> Stub:
        k = self.k
        v = vector & 0xFF

        def stub(regs: PtRegs, error_code: int) -> None:
            regs.orig_ax = vector  # the stub pushes the vector into the error-code slot
            # _irq_body(regs, k.irq.common_interrupt, v), inlined: the path of every device interrupt
            cpu = k._cur
            cpu.preempt_count += HARDIRQ_OFFSET
            try:
                # common_interrupt(regs, v) with its edge flow inline
                desc = cpu.vector_irq[v]
                if desc is not None and desc.flow == "edge":
                    irqc = k.irq
                    if desc.in_progress or desc.disabled or not desc.actions:
                        irqc.handle_edge_irq(desc)
                    else:
                        # handle_edge_irq(desc) for a line that may run, inlined up to
                        # the first pass of its loop (edge_irq_loop), the common case
                        desc.replay = False
                        desc.kstat[cpu.id] += 1
                        desc.tot_count += 1
                        desc.chip.irq_ack_sync(desc)
                        if desc.actions and not (desc.pending and not desc.disabled and desc.masked):
                            irqc.handle_irq_event(desc)
                            if desc.pending and not desc.disabled:
                                irqc.edge_irq_loop(desc)
                        else:
                            irqc.edge_irq_loop(desc)
                else:
                    k.irq.common_interrupt(regs, v)
            finally:
                cpu = k._cur
                cpu.preempt_count -= HARDIRQ_OFFSET
            if cpu.softirq_pending and not cpu.preempt_count & _IN_INTERRUPT:
                k.softirq.handle_softirqs(False)  # invoke_softirq
                cpu = k._cur
            if cpu.need_resched and cpu.preempt_count == 0 and regs.flags & X86_EFLAGS_IF and not cpu.in_nmi:
                k.mux.schedule()  # preempt_schedule_irq

        return stub

    def _make_spurious_stub(self, vector: int) -> Stub:
        def stub(regs: PtRegs, error_code: int) -> None:
            regs.orig_ax = vector
            self._irq_body(regs, self.k.apic.spurious_interrupt, vector)

        return stub

    def _make_sysvec_stub(
        self, fn: Callable[[PtRegs], Awaitable[None]], tracepoint: str | None = None, vector: int = 0
    ) -> Stub:
        k = self.k

        def stub(regs: PtRegs, error_code: int) -> None:
            regs.orig_ax = -1
            tracer = k.tracer
            if tracer is None or tracepoint is None:
                self._irq_body(regs, lambda r, _v: fn(r), 0)
                return
            tracer.event(k._cur.id, f"irq_vectors:{tracepoint}_entry", vector=vector)
            try:
                self._irq_body(regs, lambda r, _v: fn(r), 0)
            finally:
                tracer.event(k._cur.id, f"irq_vectors:{tracepoint}_exit", vector=vector)

        return stub

    def _irq_body(self, regs: PtRegs, fn: Callable[[PtRegs, int], Awaitable[None] | None], vector: int) -> None:
        """irqentry_enter → irq_enter_rcu → handler → irq_exit_rcu → irqentry_exit."""
        k = self.k
        cpu = k._cur
        cpu.preempt_count += HARDIRQ_OFFSET
        try:
            r = fn(regs, vector)
            if r is not None:
                k.mux.await_(r)
        finally:
            cpu = k._cur
            cpu.preempt_count -= HARDIRQ_OFFSET
        if cpu.softirq_pending and not cpu.preempt_count & _IN_INTERRUPT:
            # invoke_softirq (Softirqs.irq_exit_softirqs, whose test is the one above)
            k.softirq.handle_softirqs(False)
            cpu = k._cur
        if cpu.need_resched and cpu.preempt_count == 0 and regs.flags & X86_EFLAGS_IF and not cpu.in_nmi:
            k.mux.schedule()  # preempt_schedule_irq

    # ------------------------------------------------------------------ delivery (the CPU)

    async def external_interrupt(self, cpu: PerCpu) -> None:
        """INTR with IF=1: INTA, then deliver the vector.

        (The kernel's interrupt points do the same inline, see
        ``Kernel._interrupt_point``.)"""
        vector = await self.k.machine.acknowledge(cpu.id)
        cpu.vector_count[vector] += 1
        self.deliver_external(vector)

    async def nmi_interrupt(self, cpu: PerCpu) -> None:
        """The NMI pin: acknowledge, block further NMIs until iret, deliver vector 2."""
        await self.k.machine.acknowledge_nmi(cpu.id)
        cpu.in_nmi = True
        cpu.vector_count[self.NMI_VECTOR] += 1
        try:
            self.deliver_sync(self.NMI_VECTOR, external=True)
        finally:
            self.k.this_cpu.in_nmi = False

    async def raise_exception(
        self, vector: int, error_code: int | None = None, *, ip: int = 0, cr2: int | None = None
    ) -> PtRegs:
        """The current instruction at ``ip`` faults with ``vector``. Returns the
        registers after ``iret`` (a fixup shows as a changed ``regs.ip``)."""
        if vector == self.PF_VECTOR and cr2 is not None:
            self.k.this_cpu.cr2 = cr2
        return await self.deliver(vector, error_code=error_code, ip=ip)

    async def int_n(self, vector: int, *, ip: int = 0) -> PtRegs:
        """Software ``int n`` at ``ip`` (gate DPL checked against CPL)."""
        return await self.deliver(vector, soft=True, ip=ip)

    async def deliver(
        self,
        vector: int,
        *,
        error_code: int | None = None,
        external: bool = False,
        soft: bool = False,
        ip: int | None = None,
    ) -> PtRegs:
        """The CPU delivers ``vector`` through the IDT; the registers after ``iret``."""
        return self.deliver_sync(vector, error_code=error_code, external=external, soft=soft, ip=ip)

    def deliver_external(self, vector: int) -> PtRegs:
        """``deliver_sync(vector, external=True)`` for an interrupt the CPU took on
        INTR: the same checks, frame and registers, without the paths only
        exceptions and ``int n`` take (no error code, the thread's IP). Any
        check that fails goes the general way."""
        k = self.k
        cpu = k._cur
        idtr = cpu.idtr
        cached = self._dispatch.get(vector)
        if (
            idtr is None
            or cached is None
            or cached[0] is not k.idt._decoded[vector]  # (a cached gate is present and of a valid type)
            or cached[4] > idtr[1]  # the gate beyond the IDT limit
        ):
            return self.deliver_sync(vector, external=True)
        t = cpu.current
        assert t is not None
        return self._enter(cpu, t, vector, cached, None, t.ip)

    def deliver_sync(
        self,
        vector: int,
        *,
        error_code: int | None = None,
        external: bool = False,
        soft: bool = False,
        ip: int | None = None,
    ) -> PtRegs:
        """:meth:`deliver` as a plain call (on a kernel thread's stack)."""
        k = self.k
        cpu = k._cur
        t = cpu.current
        assert t is not None
        idtr = cpu.idtr
        if idtr is None:
            raise KernelPanic(f"CPU#{cpu.id}: interrupt {vector:#x} with no IDT loaded (triple fault)")
        ext = 1 if external else 0
        idt = k.idt
        size = idt.layout.size
        if vector * size + size - 1 > idtr[1]:
            return self.deliver_sync(self.GP_VECTOR, error_code=vector * 8 + 2 + ext, ip=ip)
        gate = idt._decoded[vector]  # read_gate()'s descriptor cache, None after a gate write
        if gate is None:
            gate = idt.read_gate(vector)
        if soft and cpu.cpl > gate.dpl:
            return self.deliver_sync(self.GP_VECTOR, error_code=vector * 8 + 2, ip=ip)
        if not gate.present:
            return self.deliver_sync(self.NP_VECTOR, error_code=vector * 8 + 2 + ext, ip=ip)
        cached = self._dispatch.get(vector)
        if cached is None or cached[0] is not gate:
            gtype = gate.gate_type
            if gtype is not _INTERRUPT_GATE and gtype is not _TRAP_GATE:
                return self.deliver_sync(self.GP_VECTOR, error_code=vector * 8 + 2 + ext, ip=ip)
            target = k._symbols.get(gate.offset)
            if target is None or target[1] is None:
                raise KernelPanic(f"CPU#{cpu.id}: gate {vector:#x} points at {gate.offset:#x}, not at kernel text")
            cached = self._dispatch[vector] = (gate, gtype, target[0], target[1], vector * size + size - 1)
        # error code: only CPU exceptions of the kinds that push one (not INT n, not INTR)
        ec = None
        if not soft and not external:
            v = self.vm.at(vector)
            if v is not None and v.kind is VectorKind.EXCEPTION and v.error_code:
                ec = error_code or 0
        return self._enter(cpu, t, vector, cached, ec, t.ip if ip is None else ip)

    def _enter(
        self, cpu: PerCpu, t: Any, vector: int, cached: tuple[Any, GateType, str, Stub, int], ec: int | None, rip: int
    ) -> PtRegs:
        """The delivery both paths share once the gate is checked: the stack switch, the
        hardware frame, the stub with its ``pt_regs``, and ``iret`` (``cached``: the gate's
        :attr:`_dispatch` entry)."""
        k = self.k
        gate, gtype, name, stub, _last = cached
        old_cpl = cpu.cpl
        frames = t.frames
        depth = len(frames)
        if gate.ist:
            rsp, stack = cpu.tss_ist[gate.ist], f"IST{gate.ist}"
        elif old_cpl != 0:
            rsp, stack = cpu.stack_top, "task"
        else:
            rsp = (frames[-1].rsp - 0x100 if frames else cpu.stack_top - 0x1000) & ~0xF
            stack = "current"
        flags = _FLAGS_IF if cpu.if_flag else X86_EFLAGS_FIXED
        if old_cpl == 0:
            cs, ss = KERNEL_CS, KERNEL_DS
        else:
            cs, ss = USER_CS, USER_DS
        # HwFrame(vector, ss, rsp, flags, cs, rip, ec, stack, gtype, depth) without the
        # call of its __init__ (a call through C into a new interpreter frame)
        frame = _new_object(HwFrame)
        frame.vector = vector
        frame.ss = ss
        frame.rsp = rsp
        frame.rflags = flags
        frame.cs = cs
        frame.rip = rip
        frame.error_code = ec
        frame.stack = stack
        frame.gate_type = gtype
        frame.depth = depth
        frames.append(frame)
        max_depth = self.max_depth
        if depth >= max_depth[cpu.id]:
            max_depth[cpu.id] = depth + 1
        if gtype is _INTERRUPT_GATE:
            cpu.if_flag = False
        cpu.cpl = 0
        if self.trace:
            self.log.append((cpu.id, vector, name))
        # PtRegs(rip, cs, flags, rsp, ss), likewise
        regs = _new_object(PtRegs)
        regs.ip = rip
        regs.cs = cs
        regs.flags = flags
        regs.sp = rsp
        regs.ss = ss
        try:
            r = stub(regs, -1 if ec is None else ec)
            if r is not None:
                k.mux.await_(r)
        finally:
            if frames and frames[-1] is frame:
                frames.pop()
        # iret
        cpu = k._cur
        cpu.if_flag = regs.flags & X86_EFLAGS_IF != 0
        cpu.cpl = regs.cs & 3
        return regs

    # ------------------------------------------------------------------ exception fixups

    def fixup_exception(self, regs: PtRegs, trapnr: int, error_code: int, fault_addr: int = 0) -> bool:
        """``fixup_exception``: redirect ``regs.ip`` to the fixup of the faulting instruction."""
        e = self.extable.search(regs.ip)
        if e is None:
            return False
        handler = self.ex_handlers.get(e.type)
        if handler is not None:
            handler(e, regs, trapnr)
            return True
        if e.type == EX_TYPE_FAULT:
            regs.ax = trapnr
        elif e.type == EX_TYPE_EFAULT_REG:
            regs.ax = -EFAULT
        elif e.type == EX_TYPE_UACCESS and trapnr == self.GP_VECTOR:
            self.k.printk("WARNING: General protection fault in user access. Non-canonical address?")
        regs.ip = e.fixup
        return True

    def die(self, msg: str, regs: PtRegs, err: int) -> None:
        """Oops: log like ``__die`` and kill the current thread."""
        k = self.k
        cpu = k.this_cpu
        text = f"{msg}: {err:04x} [#{len(k.oopses) + 1}] SMP CPU: {cpu.id} PID: {k.current.pid} Comm: {k.current.comm}"
        k.printk(text)
        k.printk(f"RIP: {KERNEL_CS:04x}:{regs.ip:#018x} EFLAGS: {regs.flags:08x} "
                 f"ORIG_RAX: {regs.orig_ax & (2**64 - 1):016x}")
        if cpu.in_interrupt():
            k.printk("Kernel panic - not syncing: Fatal exception in interrupt")
            raise KernelPanic(f"Fatal exception in interrupt: {text}")
        raise KernelOops(text, regs)

    # ------------------------------------------------------------------ NMI

    def register_nmi_handler(self, name: str, fn: Callable[[PtRegs], Any]) -> None:
        """``register_nmi_handler(NMI_LOCAL, fn, 0, name)``; ``fn`` returns
        NMI_HANDLED (1) or NMI_DONE (0)."""
        self.nmi_handlers.append((name, fn))

    def unregister_nmi_handler(self, name: str) -> None:
        self.nmi_handlers = [(n, f) for n, f in self.nmi_handlers if n != name]

    async def exc_nmi(self, regs: PtRegs) -> None:
        """``exc_nmi`` → ``default_do_nmi``."""
        from .context import call

        k = self.k
        cpu = k.this_cpu
        cpu.preempt_count += NMI_OFFSET + HARDIRQ_OFFSET
        try:
            cpu.irq_stat["NMI"] += 1
            handled = 0
            for _name, fn in list(self.nmi_handlers):
                handled += int(bool(await call(fn, regs)))
            if not handled:
                self.unknown_nmis += 1
                k.printk(f"Uhhuh. NMI received for unknown reason 00 on CPU {cpu.id}.")
        finally:
            k.this_cpu.preempt_count -= NMI_OFFSET + HARDIRQ_OFFSET
