"""The typed, frozen model of an irqforge spec.

Built only by :mod:`irqforge.spec.build` from a validated YAML tree; every
object remembers where it came from (:class:`Loc`) so later stages can still
point at the source. Emitters, RTL generators, models and the software stack
only ever see these classes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from .access import Access

__all__ = [
    "Access",
    "Device",
    "EnumValue",
    "ExcClass",
    "Field",
    "GateLayout",
    "GateType",
    "Idt",
    "Loc",
    "Msr",
    "MsrMode",
    "Platform",
    "Register",
    "RegisterInstance",
    "Spec",
    "Vector",
    "VectorKind",
    "VectorMap",
    "VectorRange",
    "Window",
    "X2Apic",
    "X2Register",
]


@dataclass(frozen=True)
class Loc:
    """A position in a spec file (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


_NOLOC = field(default=None, compare=False, repr=False)


# --------------------------------------------------------------------------- registers


@dataclass(frozen=True)
class EnumValue:
    name: str
    value: int
    description: str = ""


@dataclass(frozen=True)
class Field:
    """A bit field of a register: bits ``msb:lsb`` inclusive."""

    name: str
    lsb: int
    width: int
    access: Access
    reset: int = 0
    description: str = ""
    enums: tuple[EnumValue, ...] = ()
    loc: Loc | None = _NOLOC

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1

    @property
    def mask(self) -> int:
        """The field's bits in register position."""
        return ((1 << self.width) - 1) << self.lsb

    def get(self, value: int) -> int:
        return (value >> self.lsb) & ((1 << self.width) - 1)

    def put(self, value: int, field_value: int) -> int:
        return (value & ~self.mask) | ((field_value << self.lsb) & self.mask)

    def enum(self, name: str) -> int:
        for e in self.enums:
            if e.name == name:
                return e.value
        raise KeyError(f"field {self.name} has no enumerated value {name!r}")


@dataclass(frozen=True)
class RegisterInstance:
    """One addressable copy of a register (``ISR3`` of the array ``ISR``)."""

    name: str
    offset: int
    index: int
    register: Register


@dataclass(frozen=True)
class Register:
    """A register, or an array of ``count`` registers ``stride`` bytes apart.

    For registers inside an indirect :class:`Window`, ``offset`` is the
    window index (the value written to the select register) and ``stride``
    counts indices.
    """

    name: str
    offset: int
    width: int
    access: Access
    reset: int = 0
    description: str = ""
    fields: tuple[Field, ...] = ()
    count: int = 1
    stride: int = 0
    loc: Loc | None = _NOLOC

    @property
    def is_array(self) -> bool:
        return self.count > 1

    @property
    def size(self) -> int:
        """Bytes one instance occupies."""
        return self.width // 8

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"register {self.name} has no field {name!r}")

    def instances(self) -> Iterator[RegisterInstance]:
        for i in range(self.count):
            name = f"{self.name}{i}" if self.is_array else self.name
            yield RegisterInstance(name, self.offset + i * self.stride, i, self)

    def mask_of(self, predicate: object) -> int:
        """OR of the masks of the fields whose access satisfies ``predicate``."""
        assert callable(predicate)
        m = 0
        for f in self.fields:
            if predicate(f.access):
                m |= f.mask
        return m

    @property
    def writable_mask(self) -> int:
        """Bits that a software write stores (rw fields)."""
        if not self.fields:
            return ((1 << self.width) - 1) if self.access.writable else 0
        return self.mask_of(lambda a: a is Access.RW)

    @property
    def readable_mask(self) -> int:
        if not self.fields:
            return ((1 << self.width) - 1) if self.access.readable else 0
        return self.mask_of(lambda a: a.readable)


@dataclass(frozen=True)
class Window:
    """An indirect register window: write an index to ``select``, then
    access register ``index`` through ``data`` (IO-APIC IOREGSEL/IOWIN)."""

    name: str
    select: str
    data: str
    registers: tuple[Register, ...]
    description: str = ""
    loc: Loc | None = _NOLOC

    def register(self, name: str) -> Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(f"window {self.name} has no register {name!r}")


@dataclass(frozen=True)
class MsrMode:
    """A mode an MSR's fields select (IA32_APIC_BASE: EN and EXTD → DISABLED, XAPIC, X2APIC)."""

    name: str
    fields: Mapping[str, int]
    description: str = ""

    def value(self, reg: Register) -> int:
        """The mode's field values in register position."""
        v = 0
        for name, fv in self.fields.items():
            v = reg.field(name).put(v, fv)
        return v

    def mask(self, reg: Register) -> int:
        """The bits of the fields that select the mode."""
        m = 0
        for name in self.fields:
            m |= reg.field(name).mask
        return m


@dataclass(frozen=True)
class Msr:
    """A 64-bit model-specific register of a device (RDMSR/WRMSR ``address``).

    ``register`` holds the layout (its ``offset`` is the MSR number).
    ``modes`` and ``transitions`` (IA32_APIC_BASE) name the states its fields
    select and the legal changes between them; a write to an illegal mode or
    along an illegal transition raises #GP, and so does a write with a bit in
    :attr:`gp_mask` set.
    """

    name: str
    address: int
    register: Register
    reserved_gp: bool = False
    modes: tuple[MsrMode, ...] = ()
    transitions: tuple[tuple[str, str], ...] = ()
    description: str = ""
    loc: Loc | None = _NOLOC

    @property
    def gp_mask(self) -> int:
        """Bits a write must leave 0 (the bits outside every field when ``reserved_gp``)."""
        if not self.reserved_gp:
            return 0
        covered = 0
        for f in self.register.fields:
            covered |= f.mask
        return ((1 << 64) - 1) & ~covered

    def mode(self, name: str) -> MsrMode:
        for m in self.modes:
            if m.name == name:
                return m
        raise KeyError(f"MSR {self.name} has no mode {name!r}")

    def mode_of(self, value: int) -> MsrMode | None:
        """The mode ``value`` selects, or ``None`` (an invalid combination)."""
        for m in self.modes:
            if value & m.mask(self.register) == m.value(self.register):
                return m
        return None

    def legal(self, old: str, new: str) -> bool:
        """Whether a write may move from mode ``old`` to mode ``new``."""
        return old == new or (old, new) in self.transitions


@dataclass(frozen=True)
class X2Register:
    """One register of the x2APIC MSR view: the MMIO register ``source`` (or a
    register of the view alone when ``None``) as MSR ``address``.

    ``register`` is the layout in the view (its ``offset`` is the MMIO
    offset the MSR number derives from; an array keeps its count, one MSR per
    instance). Writes with a bit of :attr:`gp_mask` set raise #GP.
    """

    name: str
    address: int
    source: str | None
    register: Register
    reserved_gp: bool = False
    write_zero: bool = False
    description: str = ""
    loc: Loc | None = _NOLOC

    @property
    def count(self) -> int:
        return self.register.count

    @property
    def gp_mask(self) -> int:
        """Bits (of 64) a write must leave 0: 63:32 of a 32-bit register, every bit
        when ``write_zero``, the bits outside every field when ``reserved_gp``."""
        reg = self.register
        full = (1 << 64) - 1
        ones = (1 << reg.width) - 1
        if self.write_zero:
            return full
        mask = full & ~ones
        if self.reserved_gp:
            covered = 0
            for f in reg.fields:
                covered |= f.mask
            mask |= ones & ~covered
        return mask

    @property
    def readable(self) -> bool:
        return self.register.access.readable

    @property
    def writable(self) -> bool:
        """Whether WRMSR is legal (a write to a read-only register #GPs)."""
        return self.register.access.write_has_effect

    def instances(self) -> Iterator[tuple[str, int, int]]:
        """``(name, MSR number, index)`` of every instance."""
        for i in range(self.count):
            yield (f"{self.name}{i}" if self.count > 1 else self.name), self.address + i, i


@dataclass(frozen=True)
class X2Apic:
    """The x2APIC MSR view of the LAPIC: MSR ``msr_base`` + offset / 16."""

    msr_base: int
    registers: tuple[X2Register, ...]
    description: str = ""
    loc: Loc | None = _NOLOC

    def register(self, name: str) -> X2Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(f"the x2APIC view has no register {name!r}")

    def at(self, address: int) -> tuple[X2Register, int] | None:
        """The register and instance index at MSR ``address``, or ``None``."""
        for r in self.registers:
            if r.address <= address < r.address + r.count:
                return r, address - r.address
        return None


@dataclass(frozen=True)
class Device:
    """A memory-mapped device: LAPIC, IO-APIC or HPET."""

    name: str
    bus: str
    address_width: int
    size: int
    data_width: int
    params: Mapping[str, int]
    registers: tuple[Register, ...]
    windows: tuple[Window, ...] = ()
    description: str = ""
    loc: Loc | None = _NOLOC
    msrs: tuple[Msr, ...] = ()
    x2apic: X2Apic | None = None

    def register(self, name: str) -> Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(f"device {self.name} has no register {name!r}")

    def window(self, name: str) -> Window:
        for w in self.windows:
            if w.name == name:
                return w
        raise KeyError(f"device {self.name} has no window {name!r}")

    def offset(self, name: str, index: int = 0) -> int:
        """Byte offset of register ``name`` (instance ``index`` of an array)."""
        r = self.register(name)
        if not 0 <= index < r.count:
            raise IndexError(f"{self.name}.{name}[{index}] out of range 0..{r.count - 1}")
        return r.offset + index * r.stride

    def msr(self, name: str) -> Msr:
        for r in self.msrs:
            if r.name == name:
                return r
        raise KeyError(f"device {self.name} has no MSR {name!r}")

    def has_msr(self, name: str) -> bool:
        return any(r.name == name for r in self.msrs)

    def param(self, name: str) -> int:
        try:
            return self.params[name]
        except KeyError:
            raise KeyError(f"device {self.name} has no parameter {name!r}") from None


# --------------------------------------------------------------------------- vectors


class VectorKind(enum.Enum):
    EXCEPTION = "exception"
    IRQ = "irq"
    SYSCALL = "syscall"
    TIMER = "timer"
    IPI = "ipi"
    SYSTEM = "system"
    SPURIOUS = "spurious"
    RESERVED = "reserved"


class ExcClass(enum.Enum):
    FAULT = "fault"
    TRAP = "trap"
    ABORT = "abort"
    INTERRUPT = "interrupt"


class GateType(enum.Enum):
    INTERRUPT = "interrupt"
    TRAP = "trap"
    CALL = "call"
    TASK = "task"


@dataclass(frozen=True)
class Vector:
    number: int
    name: str
    kind: VectorKind
    description: str = ""
    mnemonic: str = ""
    exc_class: ExcClass | None = None
    error_code: bool = False
    ist: int = 0
    dpl: int = 0
    gate: GateType = GateType.INTERRUPT
    loc: Loc | None = _NOLOC


@dataclass(frozen=True)
class VectorRange:
    name: str
    first: int
    last: int
    kind: VectorKind
    description: str = ""
    loc: Loc | None = _NOLOC

    def __contains__(self, v: object) -> bool:
        return isinstance(v, int) and self.first <= v <= self.last


@dataclass(frozen=True)
class VectorMap:
    vectors: tuple[Vector, ...]
    ranges: tuple[VectorRange, ...]
    description: str = ""

    def by_name(self, name: str) -> Vector:
        for v in self.vectors:
            if v.name == name:
                return v
        raise KeyError(f"no vector named {name!r}")

    def __getitem__(self, name: str) -> int:
        """The number of the vector called ``name``."""
        return self.by_name(name).number

    def at(self, number: int) -> Vector | None:
        for v in self.vectors:
            if v.number == number:
                return v
        return None

    def range(self, name: str) -> VectorRange:
        for r in self.ranges:
            if r.name == name:
                return r
        raise KeyError(f"no vector range named {name!r}")

    def kind_of(self, number: int) -> VectorKind:
        v = self.at(number)
        if v is not None:
            return v.kind
        for r in self.ranges:
            if number in r:
                return r.kind
        return VectorKind.RESERVED

    @property
    def exceptions(self) -> tuple[Vector, ...]:
        return tuple(v for v in self.vectors if v.kind is VectorKind.EXCEPTION)

    @property
    def spurious(self) -> int:
        for v in self.vectors:
            if v.kind is VectorKind.SPURIOUS:
                return v.number
        raise KeyError("the vector map has no spurious vector")


# --------------------------------------------------------------------------- IDT


@dataclass(frozen=True)
class GateField:
    """A field of a gate descriptor, bits ``msb:lsb`` of the whole descriptor."""

    name: str
    lsb: int
    width: int
    description: str = ""

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class GateLayout:
    """One gate descriptor format (64-bit mode: 16 bytes; 32-bit: 8 bytes)."""

    name: str
    mode: int
    size: int
    fields: tuple[GateField, ...]
    offset_parts: tuple[str, ...]
    """Fields that hold the handler offset, least significant part first."""
    description: str = ""
    loc: Loc | None = _NOLOC

    def field(self, name: str) -> GateField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"gate layout {self.name} has no field {name!r}")

    @property
    def offset_bits(self) -> int:
        return sum(self.field(n).width for n in self.offset_parts)

    def pack(self, **values: int) -> bytes:
        """Pack named field values (``offset`` is split over the offset parts)."""
        word = 0
        if "offset" in values:
            off = values.pop("offset")
            if not 0 <= off < (1 << self.offset_bits):
                raise ValueError(f"offset {off:#x} does not fit {self.offset_bits} bits")
            for n in self.offset_parts:
                f = self.field(n)
                values[n] = off & ((1 << f.width) - 1)
                off >>= f.width
        for name, v in values.items():
            f = self.field(name)
            if not 0 <= v < (1 << f.width):
                raise ValueError(f"{self.name}.{name} = {v:#x} does not fit {f.width} bits")
            word |= v << f.lsb
        return word.to_bytes(self.size, "little")

    def unpack(self, data: bytes) -> dict[str, int]:
        """Field values of a packed gate, plus the reassembled ``offset``."""
        if len(data) != self.size:
            raise ValueError(f"{self.name} gates are {self.size} bytes, got {len(data)}")
        word = int.from_bytes(data, "little")
        out = {f.name: (word >> f.lsb) & ((1 << f.width) - 1) for f in self.fields}
        off, shift = 0, 0
        for n in self.offset_parts:
            off |= out[n] << shift
            shift += self.field(n).width
        out["offset"] = off
        return out


@dataclass(frozen=True)
class Idt:
    entries: int
    kernel_cs: int
    gate_types: Mapping[GateType, int]
    """Descriptor type field value of each gate type (interrupt 0xE …)."""
    layouts: tuple[GateLayout, ...]
    idtr_limit_bits: int = 16
    description: str = ""

    def layout(self, mode: int = 64) -> GateLayout:
        for lay in self.layouts:
            if lay.mode == mode:
                return lay
        raise KeyError(f"no gate layout for {mode}-bit mode")

    def gate(
        self,
        offset: int,
        gate: GateType = GateType.INTERRUPT,
        *,
        dpl: int = 0,
        ist: int = 0,
        selector: int | None = None,
        present: bool = True,
        mode: int = 64,
    ) -> bytes:
        """A packed gate descriptor, as Linux's ``idt_init_desc`` builds it."""
        lay = self.layout(mode)
        values = {
            "offset": offset,
            "segment": self.kernel_cs if selector is None else selector,
            "type": self.gate_types[gate],
            "dpl": dpl,
            "p": int(present),
        }
        if ist:
            values["ist"] = ist
        return lay.pack(**values)

    def limit(self, mode: int = 64) -> int:
        """IDTR limit for a full table (256 × 16 − 1 = 0xFFF in 64-bit mode)."""
        return self.entries * self.layout(mode).size - 1


# --------------------------------------------------------------------------- platform


@dataclass(frozen=True)
class Cpu:
    index: int
    apic_id: int
    loc: Loc | None = _NOLOC


@dataclass(frozen=True)
class Platform:
    name: str
    cpus: tuple[Cpu, ...]
    clock_hz: int
    address_map: Mapping[str, tuple[int, int]]
    """Device name → (base, size)."""
    isa_irq_pins: Mapping[int, int]
    """ISA IRQ → IO-APIC pin, for the IRQs not wired 1:1 (IRQ0 → 2)."""
    hpet_legacy_pins: tuple[int, int]
    """IO-APIC pins of HPET timers 0 and 1 in legacy replacement mode."""
    hz: int = 1000
    """Software tick rate (jiffies per simulated second)."""
    description: str = ""

    @property
    def ncpus(self) -> int:
        return len(self.cpus)

    def base(self, device: str) -> int:
        return self.address_map[device][0]

    def isa_pin(self, irq: int) -> int:
        return self.isa_irq_pins.get(irq, irq)


# --------------------------------------------------------------------------- whole spec


@dataclass(frozen=True)
class Spec:
    idt: Idt
    vectors: VectorMap
    lapic: Device
    ioapic: Device
    hpet: Device
    platform: Platform
    digest: str
    """sha256 of the model (every value, not the files' bytes: a comment edit keeps it), hex."""
    source: str = ""
    """Human-readable name of the spec directory (no absolute paths)."""

    @property
    def devices(self) -> tuple[Device, ...]:
        return (self.lapic, self.ioapic, self.hpet)

    def with_cpus(self, n: int) -> Spec:
        """This spec with ``n`` CPUs, APIC IDs 0..n-1 (``irqforge sim --cpus``).

        The digest changes with the CPU count, so caches keyed on it stay right.
        """
        import dataclasses
        import hashlib

        if not 1 <= n <= 255:
            raise ValueError(f"--cpus {n}: need 1..255 CPUs (APIC IDs 0..0xfe)")
        cpus = tuple(Cpu(i, i) for i in range(n))
        digest = hashlib.sha256(f"{self.digest}:cpus={n}".encode()).hexdigest()
        return dataclasses.replace(self, platform=dataclasses.replace(self.platform, cpus=cpus), digest=digest)
