"""C11 headers: ``include/irqforge/{lapic,ioapic,hpet,vectors,idt,platform}.h``.

Python computes every macro (name, value, comment) here; the templates in
``templates/*.h.j2`` only print them. All macro names go through one
:class:`~irqforge.gen.names.CNames` per header, so two spec names that would
spell the same macro stop generation with a message instead of producing a
header that redefines it.

Conventions (every value is unsigned and typed with ``UINT32_C``/``UINT64_C``):

- ``IRQFORGE_<DEV>_<REG>_OFFSET`` byte offset, or ``_OFFSET(n)`` plus
  ``_COUNT``/``_STRIDE`` for arrays; ``_INDEX``/``_INDEX(n)`` for registers
  of an indirect window (IO-APIC); ``_WIDTH`` bits; ``_RESET``.
- ``IRQFORGE_<DEV>_<REG>_<FIELD>_{SHIFT,WIDTH,MASK,RESET}``: ``MASK`` in
  register position, ``RESET`` as the field's own value.
- ``IRQFORGE_<DEV>_<REG>_<FIELD>_<VALUE>``: enumerated field values,
  unshifted (use ``IRQFORGE_FIELD_PREP``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from irqforge.spec import (
    Device,
    ExcClass,
    Field,
    GateLayout,
    GateType,
    Register,
    Spec,
    VectorKind,
    consumers,
)
from irqforge.spec.consumers import GateMember, GateStruct

from .errors import GenError
from .names import CNames, c_ident, c_int, c_macro, c_string
from .render import banner, comment, render

__all__ = ["GATE_ARGS", "GateMember", "GateStruct", "emit", "gate_struct"]

PREFIX = "IRQFORGE"

#: Gate fields that :meth:`irqforge.spec.Idt.gate` fills, in argument order of
#: the generated ``pack`` helpers; every other non-offset field packs as 0.
GATE_ARGS = ("segment", "type", "dpl", "ist", "p")


@dataclass(frozen=True)
class Define:
    """One ``#define name value`` with an optional trailing comment."""

    name: str
    value: str
    note: str = ""


@dataclass
class Block:
    """A commented group of defines (one register, one table)."""

    title: str
    defines: list[Define] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    """Extra comment lines under the title."""


class _Defs:
    """Collects blocks of defines for one header, names checked by CNames."""

    def __init__(self, header: str) -> None:
        self.names = CNames(header)
        self.blocks: list[Block] = []

    def block(self, title: str, *lines: str) -> Block:
        b = Block(c_string(title), lines=[c_string(x) for x in lines])
        self.blocks.append(b)
        return b

    def add(self, block: Block, name: str, value: object, owner: str, note: str = "") -> str:
        self.names.take(name, owner)
        block.defines.append(Define(name, str(value), c_string(note)))
        return name


# --------------------------------------------------------------------------- devices


def _reg_defines(defs: _Defs, dev: Device, reg: Register, *, where: str) -> None:
    """Offset (or window index), width, reset, fields and values of ``reg``."""
    kind = "INDEX" if where == "index" else "OFFSET"
    base = c_macro(PREFIX, dev.name, reg.name)
    w = reg.width
    pos = f"index {reg.offset:#04x}" if where == "index" else f"offset {reg.offset:#05x}"
    if reg.is_array:
        pos += f" + n * {reg.stride:#x}, n = 0..{reg.count - 1}"
    lines = [reg.description] if reg.description else []
    if where == "index" and reg.width == 64:
        lines.append("64-bit: low dword at the index, high dword at index + 1.")
    b = defs.block(f"{reg.name}: {pos}, {w}-bit, {reg.access.value}", *lines)
    owner = f"register {reg.name}"
    if reg.is_array:
        defs.add(
            b,
            f"{base}_{kind}(n)",
            f"({c_int(reg.offset)} + {c_int(reg.stride)} * (uint32_t)(n))",
            owner,
        )
        defs.add(b, f"{base}_COUNT", reg.count, owner)
        defs.add(b, f"{base}_STRIDE", c_int(reg.stride), owner)
    else:
        defs.add(b, f"{base}_{kind}", c_int(reg.offset), owner)
    defs.add(b, f"{base}_WIDTH", w, owner)
    defs.add(b, f"{base}_RESET", c_int(reg.reset, w, pad=True), owner)
    for f in reg.fields:
        _field_defines(defs, b, base, reg, f)


def _field_defines(defs: _Defs, b: Block, base: str, reg: Register, f: Field) -> None:
    fb = c_macro(base, f.name)
    owner = f"field {reg.name}.{f.name}"
    bits = f"[{f.msb}:{f.lsb}]" if f.width > 1 else f"[{f.lsb}]"
    defs.add(b, f"{fb}_SHIFT", f.lsb, owner, f"{f.name}{bits} {f.access.value}: {f.description}")
    defs.add(b, f"{fb}_WIDTH", f.width, owner)
    defs.add(b, f"{fb}_MASK", c_int(f.mask, reg.width, pad=True), owner)
    defs.add(b, f"{fb}_RESET", c_int(f.reset, reg.width), owner)
    for e in f.enums:
        owner = f"value {reg.name}.{f.name}.{e.name}"
        defs.add(b, c_macro(fb, e.name), c_int(e.value, reg.width), owner, e.description)


def _msr_defines(defs: _Defs, dev: Device) -> None:
    """The LAPIC's MSRs (number, fields, modes, #GP bits) and its x2APIC MSR view."""
    dm = c_macro(PREFIX, dev.name)
    for msr in dev.msrs:
        base = c_macro(dm, msr.name)
        reg = msr.register
        lines = [msr.description] if msr.description else []
        if msr.transitions:
            lines.append("Legal mode changes: " + ", ".join(f"{a} -> {b}" for a, b in msr.transitions) + ".")
        b = defs.block(f"MSR {msr.name}: {msr.address:#x}, 64-bit (RDMSR/WRMSR)", *lines)
        owner = f"MSR {msr.name}"
        defs.add(b, f"{base}_MSR", c_int(msr.address), owner)
        defs.add(b, f"{base}_RESET", c_int(reg.reset, 64, pad=True), owner)
        defs.add(b, f"{base}_GPMASK", c_int(msr.gp_mask, 64, pad=True), owner, "a write with one of these bits #GPs")
        for f in reg.fields:
            _field_defines(defs, b, base, reg, f)
        for mode in msr.modes:
            defs.add(b, c_macro(base, "MODE", mode.name), c_int(mode.value(reg), 64, pad=True), owner,
                     mode.description)
        if msr.modes:
            defs.add(b, f"{base}_MODE_MASK", c_int(msr.modes[0].mask(reg), 64, pad=True), owner,
                     "the bits that select the mode")
    x2 = dev.x2apic
    if x2 is None:
        return
    xm = c_macro(dm, "X2APIC")
    mmio = {r.name: r for r in dev.registers}
    b = defs.block(f"x2APIC view: MSR {x2.msr_base:#x} + offset / 16", x2.description)
    defs.add(b, f"{xm}_MSR_BASE", c_int(x2.msr_base), "the x2APIC view")
    for xr in x2.registers:
        reg = xr.register
        rb = c_macro(xm, xr.name)
        owner = f"x2APIC register {xr.name}"
        pos = f"MSR {xr.address:#x}" + (f" + n, n = 0..{xr.count - 1}" if xr.count > 1 else "")
        src = f" (MMIO {xr.source})" if xr.source is not None and xr.source != xr.name else ""
        b = defs.block(f"x2APIC {xr.name}{src}: {pos}, {reg.width}-bit, {reg.access.value}",
                       *([reg.description] if reg.description else []))
        if xr.count > 1:
            defs.add(b, f"{rb}_MSR(n)", f"({c_int(xr.address)} + (uint32_t)(n))", owner)
        else:
            defs.add(b, f"{rb}_MSR", c_int(xr.address), owner)
        defs.add(b, f"{rb}_GPMASK", c_int(xr.gp_mask, 64, pad=True), owner, "a write with one of these bits #GPs")
        source = mmio.get(xr.source) if xr.source is not None else None
        if source is None or reg.fields != source.fields:
            for f in reg.fields:
                _field_defines(defs, b, rb, reg, f)


def _device_header(spec: Spec, dev: Device) -> str:
    defs = _Defs(f"{dev.name}.h")
    dm = c_macro(PREFIX, dev.name)
    b = defs.block(f"{dev.name}: {dev.bus} slave, {dev.address_width}-bit addresses", dev.description)
    defs.add(b, f"{dm}_SIZE", c_int(dev.size), "the device size")
    defs.add(b, f"{dm}_ADDRESS_WIDTH", dev.address_width, "the address width")
    defs.add(b, f"{dm}_DATA_WIDTH", dev.data_width, "the data width")
    if dev.params:
        b = defs.block("Parameters")
        for name in sorted(dev.params):
            defs.add(b, c_macro(dm, "PARAM", name), c_int(dev.params[name]), f"parameter {name}")
    for reg in dev.registers:
        _reg_defines(defs, dev, reg, where="offset")
    _msr_defines(defs, dev)
    for win in dev.windows:
        wm = c_macro(dm, win.name)
        b = defs.block(
            f"Window {win.name}: write an index to {win.select}, then access it through {win.data}",
            win.description,
        )
        defs.add(b, f"{wm}_SELECT_OFFSET", c_macro(dm, win.select, "OFFSET"), f"window {win.name}")
        defs.add(b, f"{wm}_DATA_OFFSET", c_macro(dm, win.data, "OFFSET"), f"window {win.name}")
        for reg in win.registers:
            _reg_defines(defs, dev, reg, where="index")
    return render(
        "device.h.j2",
        banner=comment(banner(spec), "c"),
        guard=f"{dm}_H",
        title=c_string(f"irqforge {dev.name} register map"),
        blocks=defs.blocks,
    )


# --------------------------------------------------------------------------- vectors

_KIND_CODES = {k: i for i, k in enumerate(VectorKind)}
_CLASS_CODES: dict[ExcClass | None, int] = {None: 0} | {c: i + 1 for i, c in enumerate(ExcClass)}


def _bitmap_words(numbers: set[int]) -> list[int]:
    """Four 64-bit words, bit v % 64 of word v / 64 set for every v."""
    words = [0, 0, 0, 0]
    for v in numbers:
        words[v // 64] |= 1 << (v % 64)
    return words


def _vectors_header(spec: Spec) -> str:
    vm = spec.vectors
    defs = _Defs("vectors.h")
    vp = c_macro(PREFIX, "VECTOR")
    b = defs.block("The vector map", vm.description)
    defs.add(b, f"{vp}_COUNT", 256, "the vector count")
    defs.add(b, f"{vp}_SPURIOUS", c_int(vm.spurious), "the spurious vector")

    b = defs.block("Named vectors")
    for v in sorted(vm.vectors, key=lambda v: v.number):
        defs.add(b, c_macro(vp, v.name), c_int(v.number), f"vector {v.name}", f"{v.kind.value}: {v.description}")

    b = defs.block("Vector ranges, inclusive")
    for r in sorted(vm.ranges, key=lambda r: r.first):
        defs.add(b, c_macro(vp, r.name, "FIRST"), c_int(r.first), f"range {r.name}", f"{r.kind.value}: {r.description}")
        defs.add(b, c_macro(vp, r.name, "LAST"), c_int(r.last), f"range {r.name}")

    b = defs.block("Vector kinds (third column of IRQFORGE_VECTOR_TABLE)")
    for k, i in _KIND_CODES.items():
        defs.add(b, c_macro(vp, "KIND", k.name), i, f"kind {k.value}")
    b = defs.block("Exception classes (fourth column of IRQFORGE_VECTOR_TABLE)")
    defs.add(b, c_macro(PREFIX, "EXC_CLASS_NONE"), 0, "class none")
    for c, i in _CLASS_CODES.items():
        if c is not None:
            defs.add(b, c_macro(PREFIX, "EXC_CLASS", c.name), i, f"class {c.value}")
    b = defs.block("Gate types (eighth column of IRQFORGE_VECTOR_TABLE)")
    for g, i in ((g, i) for i, g in enumerate(GateType)):
        defs.add(b, c_macro(vp, "GATE", g.name), i, f"gate {g.value}")

    # bitmaps for the per-vector predicates
    sets = {
        "EXCEPTION": {v.number for v in vm.vectors if v.kind is VectorKind.EXCEPTION},
        "ERROR_CODE": {v.number for v in vm.vectors if v.error_code},
    }
    predicates = []
    b = defs.block(
        "Per-vector bitmaps: bit v % 64 of word v / 64",
        "IRQFORGE_VECTOR_IS_EXCEPTION(v), IRQFORGE_VECTOR_HAS_ERROR_CODE(v): 1 or 0 for v in 0..255.",
    )
    for key, members in sets.items():
        words = _bitmap_words(members)
        for i, wv in enumerate(words):
            defs.add(b, f"{vp}_{key}_MAP{i}", c_int(wv, 64, pad=True), f"bitmap {key}")
        predicates.append((key, f"{vp}_{key}_MAP"))
    defs.names.take(f"{vp}_IS_EXCEPTION", "predicate")
    defs.names.take(f"{vp}_HAS_ERROR_CODE", "predicate")

    rows = []
    for v in sorted(vm.vectors, key=lambda v: v.number):
        rows.append(
            (
                f"0x{v.number:02X}",
                c_macro(v.name),
                c_macro(v.kind.name),
                c_macro(v.exc_class.name) if v.exc_class else "NONE",
                str(int(v.error_code)),
                str(v.ist),
                str(v.dpl),
                c_macro(v.gate.name),
            )
        )
    defs.names.take(f"{vp}_TABLE", "the vector table")
    return render(
        "vectors.h.j2",
        banner=comment(banner(spec), "c"),
        guard=c_macro(PREFIX, "VECTORS_H"),
        blocks=defs.blocks,
        rows=rows,
        vp=vp,
    )


# --------------------------------------------------------------------------- IDT


def gate_struct(layout: GateLayout) -> GateStruct:
    """The padding-free C struct of ``layout`` (:func:`irqforge.spec.consumers.gate_struct`,
    which validation runs too); :class:`GenError` when there is none."""
    try:
        return consumers.gate_struct(layout)
    except ValueError as e:
        raise GenError(f"idt.h: {e}") from None


def _gate_c(gs: GateStruct, prefix: str) -> dict[str, object]:
    """Everything the idt.h template prints for one gate struct: member
    declarations, ``_Static_assert`` operands and the statement lists of the
    pack/unpack/byte helpers (all computed here, so the template only loops)."""
    lay = gs.layout
    otype = "uint64_t" if lay.offset_bits > 32 else "uint32_t"

    def mask(width: int) -> str:
        return f"0x{(1 << width) - 1:X}u"

    def shl(expr: str, n: int) -> str:
        return f"({expr} << {n})" if n else expr

    def shr(expr: str, n: int) -> str:
        return f"({expr} >> {n})" if n else expr

    pack = [f"g.{m.name} = 0;" for m in gs.members]
    shift = 0
    offset_terms = []
    for n in lay.offset_parts:
        m, sh, width = gs.member_of(n)
        part = f"({m.ctype})({shr('offset', shift)} & {mask(width)})"
        pack.append(f"g.{m.name} = ({m.ctype})(g.{m.name} | {shl(part, sh)});")
        offset_terms.append(shl(f"({otype})({shr(f'g->{m.name}', sh)} & {mask(width)})", shift))
        shift += width
    params = [f"{otype} offset"]
    for n in GATE_ARGS:
        if not any(n == f.name for f in lay.fields):
            continue
        m, sh, width = gs.member_of(n)
        arg = c_ident(n)
        params.append(f"uint32_t {arg}")
        pack.append(f"g.{m.name} = ({m.ctype})(g.{m.name} | {shl(f'({arg} & {mask(width)})', sh)});")
    unpack = []
    info = []
    for f in lay.fields:
        m, sh, width = gs.member_of(f.name)
        name = c_ident(f.name)
        info.append(name)
        unpack.append(f"f.{name} = (uint32_t)({shr(f'g->{m.name}', sh)} & {mask(width)});")
    to_bytes, from_bytes = [], []
    for m in gs.members:
        for k in range(m.bits // 8):
            to_bytes.append(f"out[{m.offset + k}] = (uint8_t){shr(f'g->{m.name}', 8 * k)};")
        terms = [shl(f"({m.ctype})in[{m.offset + k}]", 8 * k) for k in range(m.bits // 8)]
        from_bytes.append(f"g.{m.name} = ({m.ctype})({' | '.join(terms)});")
    return {
        "layout": lay,
        "tag": gs.tag,
        "prefix": prefix,
        "members": gs.members,
        "member_notes": [
            ", ".join(f"{n} {lsb + w - 1}:{lsb}" if w > 1 else f"{n} {lsb}" for n, lsb, w in m.fields)
            for m in gs.members
        ],
        "offset_type": otype,
        "offset_expr": " | ".join(offset_terms),
        "params": ", ".join(params),
        "pack": pack,
        "info": info,
        "unpack": unpack,
        "to_bytes": to_bytes,
        "from_bytes": from_bytes,
    }


def _idt_header(spec: Spec) -> str:
    idt = spec.idt
    defs = _Defs("idt.h")
    ip = c_macro(PREFIX, "IDT")
    b = defs.block("The interrupt descriptor table", idt.description)
    defs.add(b, f"{ip}_ENTRIES", idt.entries, "the entry count")
    defs.add(b, c_macro(PREFIX, "KERNEL_CS"), c_int(idt.kernel_cs), "the kernel code segment")
    defs.add(b, f"{ip}_LIMIT_BITS", idt.idtr_limit_bits, "the IDTR limit width")
    b = defs.block("Gate types: the descriptor's type field (S = 0 included)")
    for g, code in sorted(idt.gate_types.items(), key=lambda kv: kv[1]):
        defs.add(b, c_macro(PREFIX, "GATE_TYPE", g.name), c_int(code), f"gate type {g.value}")

    structs = []
    for lay in sorted(idt.layouts, key=lambda lay: -lay.mode):
        gs = gate_struct(lay)
        gp = c_macro(PREFIX, lay.name)
        b = defs.block(f"{lay.name}: {lay.size}-byte descriptor, {lay.mode}-bit mode", lay.description)
        defs.add(b, f"{gp}_SIZE", lay.size, f"layout {lay.name}")
        defs.add(b, f"{ip}{lay.mode}_LIMIT", c_int(idt.limit(lay.mode)), f"layout {lay.name}")
        place = []
        for m in gs.members:
            for name, shift, width in m.fields:
                f = lay.field(name)
                fm = c_macro(gp, name)
                mask = ((1 << width) - 1) << shift
                bits = f"bits {f.msb}:{f.lsb}" if f.width > 1 else f"bit {f.lsb}"
                defs.add(
                    b,
                    f"{fm}_SHIFT",
                    shift,
                    f"gate field {name}",
                    f"{name}: {bits} of the descriptor, in member {m.name}: {f.description}",
                )
                defs.add(b, f"{fm}_WIDTH", width, f"gate field {name}")
                defs.add(b, f"{fm}_MASK", c_int(mask, m.bits, pad=True), f"gate field {name}")
                if len(m.fields) > 1:
                    place.append((fm, name, m.name))
        # helper macros that place a value into the attribute word(s)
        b2 = defs.block(
            f"{lay.name} attribute helpers: OR them into the member they name",
            *(f"{fm}(x): {name} in {member}" for fm, name, member in place),
        )
        for fm, name, _member in place:
            defs.add(b2, f"{fm}(x)", f"((((uint32_t)(x)) << {fm}_SHIFT) & {fm}_MASK)", f"gate helper {name}")
        attr = [m for m in gs.members if len(m.fields) > 1]
        if len(attr) == 1:
            held = {n for n, _, _ in attr[0].fields}
            args = [c_ident(n) for n in GATE_ARGS if n in held and n != "p"]
            terms = [f"{c_macro(gp, n)}({n})" for n in args]
            if "p" in held:
                terms.insert(0, f"{c_macro(gp, 'p')}(1)")
            defs.add(
                b2,
                f"{gp}_{c_macro(attr[0].name)}_PRESENT({', '.join(args)})",
                f"({' | '.join(terms)})",
                "the attribute word helper",
                f"the whole {attr[0].name} member of a present gate",
            )
        structs.append(_gate_c(gs, gp))
    return render(
        "idt.h.j2",
        banner=comment(banner(spec), "c"),
        guard=c_macro(PREFIX, "IDT_H"),
        blocks=defs.blocks,
        structs=structs,
    )


# --------------------------------------------------------------------------- platform


def _platform_header(spec: Spec) -> str:
    p = spec.platform
    defs = _Defs("platform.h")
    pp = c_macro(PREFIX, "PLATFORM")
    b = defs.block(f"Platform {p.name}", p.description)
    defs.add(b, f"{pp}_NCPUS", p.ncpus, "the CPU count")
    defs.add(b, f"{pp}_CLOCK_HZ", c_int(p.clock_hz), "the clock")
    defs.add(b, f"{pp}_HZ", c_int(p.hz), "the tick rate")
    b = defs.block("CPUs: initial APIC ID of CPU n", "IRQFORGE_PLATFORM_APIC_IDS: initializer list, by CPU index")
    for cpu in p.cpus:
        defs.add(b, f"{pp}_CPU{cpu.index}_APIC_ID", c_int(cpu.apic_id), f"cpu {cpu.index}")
    defs.add(b, f"{pp}_APIC_IDS", "{ " + ", ".join(c_int(c.apic_id) for c in p.cpus) + " }", "the id list")
    b = defs.block("Address map: base and size of each device window")
    for name, (base, size) in sorted(p.address_map.items(), key=lambda kv: kv[1][0]):
        defs.add(b, c_macro(pp, name, "BASE"), c_int(base), f"device {name}")
        defs.add(b, c_macro(pp, name, "SIZE"), c_int(size), f"device {name}")
    b = defs.block(
        "Interrupt wiring: IO-APIC pin of ISA IRQ n (identity unless listed)",
        "IRQFORGE_PLATFORM_ISA_IRQ_PIN(irq): the pin of any ISA IRQ.",
    )
    expr = "(uint32_t)(irq)"
    for irq, pin in sorted(p.isa_irq_pins.items(), reverse=True):
        defs.add(b, f"{pp}_ISA_IRQ{irq}_PIN", c_int(pin), f"isa irq {irq}")
        expr = f"((irq) == {irq} ? {c_int(pin)} : {expr})"
    defs.add(b, f"{pp}_ISA_IRQ_PIN(irq)", f"({expr})", "the pin function")
    b = defs.block("HPET legacy replacement routes: IO-APIC pins of timers 0 and 1")
    for i, pin in enumerate(p.hpet_legacy_pins):
        defs.add(b, f"{pp}_HPET_LEGACY_TIMER{i}_PIN", c_int(pin), f"hpet timer {i}")
    return render(
        "platform.h.j2",
        banner=comment(banner(spec), "c"),
        guard=c_macro(PREFIX, "PLATFORM_H"),
        blocks=defs.blocks,
    )


def emit(spec: Spec) -> dict[str, str]:
    """Every C header, by output path."""
    out = {f"include/irqforge/{dev.name}.h": _device_header(spec, dev) for dev in spec.devices}
    out["include/irqforge/vectors.h"] = _vectors_header(spec)
    out["include/irqforge/idt.h"] = _idt_header(spec)
    out["include/irqforge/platform.h"] = _platform_header(spec)
    return out
