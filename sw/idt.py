"""The IDT, packed into simulated memory by the spec's gate layout
(arch/x86/kernel/idt.c).

One table for all CPUs (Linux's ``idt_table``): ``entries × layout.size``
bytes, each gate packed with :meth:`irqforge.spec.Idt.gate`. The ``set_*_gate``
functions keep Linux's names and its ``BUG_ON`` bounds checks; the boot-time
installers mirror ``def_idts``/``apic_idts`` and
``idt_setup_apic_and_irq_gates``: gate type, DPL and IST come from the vector
spec (``vectors.yaml``), handler addresses from the kernel's symbol table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from irqforge.spec import GateType, VectorKind

from .context import KernelBug

if TYPE_CHECKING:
    from irqforge.spec import Spec

    from .context import PerCpu
    from .entry import Entry

__all__ = ["Gate", "Idt"]

IDT_ALIGN = 16
"""Bytes between the per-vector IRQ entry stubs (``irq_entries_start``)."""


@dataclass(frozen=True)
class Gate:
    """A gate read back from the table."""

    vector: int
    offset: int
    selector: int
    type: int
    dpl: int
    ist: int
    present: bool

    @property
    def gate_type(self) -> GateType | None:
        return self._types.get(self.type)

    _types = {0xE: GateType.INTERRUPT, 0xF: GateType.TRAP, 0xC: GateType.CALL, 0x5: GateType.TASK}


class IdtHost(Protocol):
    """What the IDT needs of the kernel: the spec, the log and the entry stubs' addresses."""

    spec: Spec
    entry: Entry

    def printk(self, msg: str) -> None: ...


class Idt:
    """The interrupt descriptor table and Linux's gate-setting API."""

    def __init__(self, kernel: IdtHost, mode: int = 64) -> None:
        self.k = kernel
        spec = kernel.spec
        self.spec_idt = spec.idt
        self.layout = spec.idt.layout(mode)
        self.mode = mode
        self.entries = spec.idt.entries
        self.table = bytearray(self.entries * self.layout.size)
        self._decoded: list[Gate | None] = [None] * self.entries
        self.base = 0xFFFFFE0000001000  # CPU_ENTRY_AREA_RO_IDT
        self.limit = spec.idt.limit(mode)
        self._type_of = {v: g for g, v in spec.idt.gate_types.items()}
        vm = spec.vectors
        self.first_external = vm.range("EXTERNAL").first if _has_range(vm, "EXTERNAL") else 0x20
        self.first_system = min(
            (v.number for v in vm.vectors if v.kind in (VectorKind.SYSTEM, VectorKind.TIMER, VectorKind.IPI)
             and v.number >= self.first_external),
            default=0xEC,
        )
        self.system_vectors: set[int] = set()

    # ------------------------------------------------------------------ raw access

    def _write(self, n: int, gate: GateType, addr: int, dpl: int, ist: int) -> None:
        if not 0 <= n < self.entries:  # BUG_ON((unsigned)n > 0xFF)
            raise KernelBug(f"kernel BUG at arch/x86/kernel/idt.c: gate {n} outside the IDT (0..{self.entries - 1})")
        if not 0 <= ist <= 7:
            raise KernelBug(f"kernel BUG at arch/x86/kernel/idt.c: IST index {ist} out of range")
        size = self.layout.size
        self.table[n * size:(n + 1) * size] = self.spec_idt.gate(addr, gate, dpl=dpl, ist=ist, mode=self.mode)
        self._decoded[n] = None

    def read_gate(self, n: int) -> Gate:
        """Gate ``n`` unpacked from the table bytes (decoded once per write, as a
        CPU's descriptor cache would; writes go through the ``set_*_gate`` API)."""
        g = self._decoded[n]
        if g is not None:
            return g
        size = self.layout.size
        f = self.layout.unpack(bytes(self.table[n * size:(n + 1) * size]))
        g = Gate(n, f["offset"], f["segment"], f["type"], f["dpl"], f.get("ist", 0), bool(f["p"]))
        self._decoded[n] = g
        return g

    def gate_bits(self, n: int) -> int:
        """The 16-bit ``idt_bits`` word of gate ``n`` (e.g. 0x8E00)."""
        g = self.read_gate(n)
        return g.ist | (g.type << 8) | (g.dpl << 13) | (int(g.present) << 15)

    def load_idt(self, cpu: PerCpu) -> None:
        """``lidt``: point ``cpu``'s IDTR at the table."""
        cpu.idtr = (self.base, self.limit)

    # ------------------------------------------------------------------ Linux API

    def set_intr_gate(self, n: int, addr: int) -> None:
        """Interrupt gate, DPL 0, no IST (IF cleared on entry)."""
        self._write(n, GateType.INTERRUPT, addr, 0, 0)

    def set_trap_gate(self, n: int, addr: int) -> None:
        """Trap gate, DPL 0 (IF unchanged on entry)."""
        self._write(n, GateType.TRAP, addr, 0, 0)

    def set_system_gate(self, n: int, addr: int) -> None:
        """Trap gate, DPL 3: reachable by ``int n`` from user mode."""
        self._write(n, GateType.TRAP, addr, 3, 0)

    def set_system_intr_gate(self, n: int, addr: int) -> None:
        """Interrupt gate, DPL 3 (``SYSG`` in idt.c)."""
        self._write(n, GateType.INTERRUPT, addr, 3, 0)

    def set_intr_gate_ist(self, n: int, addr: int, ist: int) -> None:
        """Interrupt gate, DPL 0, on IST stack ``ist`` (the gate field, index + 1)."""
        if ist == 0:
            raise KernelBug("kernel BUG at arch/x86/kernel/idt.c: set_intr_gate_ist with IST 0")
        self._write(n, GateType.INTERRUPT, addr, 0, ist)

    def set_system_intr_gate_ist(self, n: int, addr: int, ist: int) -> None:
        self._write(n, GateType.INTERRUPT, addr, 3, ist)

    def alloc_intr_gate(self, n: int, addr: int) -> None:
        """A system vector's gate, at most once (WARN otherwise)."""
        if n < self.first_system:
            self.k.printk(f"WARNING: alloc_intr_gate({n:#x}) below FIRST_SYSTEM_VECTOR")
            return
        if n in self.system_vectors:
            self.k.printk(f"WARNING: alloc_intr_gate({n:#x}) twice")
            return
        self.system_vectors.add(n)
        self.set_intr_gate(n, addr)

    # ------------------------------------------------------------------ boot-time tables

    def idt_setup_traps(self) -> None:
        """``def_idts``: every exception vector of the spec, plus int 0x80."""
        k = self.k
        entry = k.entry
        for v in k.spec.vectors.vectors:
            if v.kind not in (VectorKind.EXCEPTION, VectorKind.SYSCALL):
                continue
            addr = entry.stub_address(v.number)
            self._write(v.number, v.gate, addr, v.dpl, v.ist)

    def idt_setup_apic_and_irq_gates(self) -> None:
        """``apic_idts`` for the system vectors with a handler, then device
        stubs for FIRST_EXTERNAL..FIRST_SYSTEM-1 and spurious stubs above."""
        k = self.k
        entry = k.entry
        for vector in entry.sysvec_vectors():
            v = k.spec.vectors.at(vector)
            assert v is not None
            self.alloc_intr_gate(vector, entry.stub_address(vector))
            if v.gate is not GateType.INTERRUPT or v.dpl or v.ist:
                self._write(vector, v.gate, entry.stub_address(vector), v.dpl, v.ist)
        written = {g for g in range(self.entries) if self.read_gate(g).present}
        for n in range(self.first_external, self.first_system):
            if n not in written:
                self.set_intr_gate(n, entry.stub_address(n))
        for n in range(self.first_system, self.entries):
            if n not in written and n not in self.system_vectors:
                self.set_intr_gate(n, entry.stub_address(n))


def _has_range(vm: object, name: str) -> bool:
    try:
        vm.range(name)  # type: ignore[attr-defined]
    except KeyError:
        return False
    return True
