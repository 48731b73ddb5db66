"""Markdown reference docs: ``docs/{lapic,ioapic,hpet,vectors,idt,platform}.md``.

Per device: a register table, then per register a bit-field diagram
(:mod:`irqforge.gen.diagram`) and a field table with enumerated values.
``vectors.md`` maps all 256 vectors, ``idt.md`` draws the gate layouts and
``platform.md`` lists CPUs, the address map and the interrupt wiring. Every
cell is computed here and escaped with :func:`~irqforge.gen.names.md_cell`
by the templates.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from irqforge.spec import Access, Device, GateType, Register, Spec, VectorKind

from .diagram import Bits, diagram
from .render import banner, comment, render

__all__ = ["emit"]


def _hex(value: int, width: int) -> str:
    return f"0x{value:0{(width + 3) // 4}X}"


def _bits(msb: int, lsb: int) -> str:
    return str(lsb) if msb == lsb else f"{msb}:{lsb}"


@dataclass(frozen=True)
class RegRow:
    where: str
    name: str
    width: int
    access: str
    reset: str
    description: str
    anchor: str


@dataclass(frozen=True)
class FieldRow:
    bits: str
    name: str
    access: str
    reset: str
    values: str
    description: str


@dataclass(frozen=True)
class RegSection:
    title: str
    anchor: str
    summary: str
    description: str
    diagram: list[str]
    fields: list[FieldRow]


def _where(reg: Register, indirect: bool) -> str:
    first = f"0x{reg.offset:02X}" if indirect else f"0x{reg.offset:03X}"
    if not reg.is_array:
        return first
    return f"{first} + n × 0x{reg.stride:X} (n = 0..{reg.count - 1})"


def _display_name(reg: Register) -> str:
    return f"{reg.name}n" if reg.is_array else reg.name


def _section(dev: Device, reg: Register, indirect: bool, anchor: str) -> RegSection:
    where = ("index " if indirect else "offset ") + _where(reg, indirect)
    summary = f"{where}, {reg.width}-bit, {reg.access.description}, reset {_hex(reg.reset, reg.width)}"
    if reg.fields:
        bits = [Bits(f.name, f.msb, f.lsb, f.access.value) for f in reg.fields]
    else:
        bits = [Bits(reg.name, reg.width - 1, 0, reg.access.value)]
    rows = []
    for f in sorted(reg.fields, key=lambda f: -f.lsb):
        values = "; ".join(f"{e.value} `{e.name}`" + (f" ({e.description})" if e.description else "") for e in f.enums)
        rows.append(
            FieldRow(
                _bits(f.msb, f.lsb),
                f.name,
                f.access.value,
                _hex(f.reset, f.width),
                values,
                f.description,
            )
        )
    return RegSection(_display_name(reg), anchor, summary, reg.description, diagram(bits, reg.width), rows)


def _device_doc(spec: Spec, dev: Device) -> str:
    rows, sections = [], []
    windows = []
    for reg in dev.registers:
        anchor = f"{dev.name}-{reg.name}".lower()
        rows.append(
            RegRow(
                _where(reg, False),
                _display_name(reg),
                reg.width,
                reg.access.value,
                _hex(reg.reset, reg.width),
                reg.description,
                anchor,
            )
        )
        sections.append(_section(dev, reg, False, anchor))
    for win in dev.windows:
        wrows = []
        for reg in win.registers:
            anchor = f"{dev.name}-{win.name}-{reg.name}".lower()
            wrows.append(
                RegRow(
                    _where(reg, True),
                    _display_name(reg),
                    reg.width,
                    reg.access.value,
                    _hex(reg.reset, reg.width),
                    reg.description,
                    anchor,
                )
            )
            sections.append(_section(dev, reg, True, anchor))
        windows.append((win, wrows))
    msr_rows = []
    for msr in dev.msrs:
        anchor = f"{dev.name}-msr-{msr.name}".lower()
        reg = msr.register
        msr_rows.append(RegRow(f"0x{msr.address:X}", msr.name, 64, reg.access.value, _hex(reg.reset, 64),
                               msr.description, anchor))
        sec = _section(dev, reg, False, anchor)
        extra = [f"A write with a bit of {_hex(msr.gp_mask, 64)} set raises #GP."] if msr.gp_mask else []
        if msr.modes:
            extra.append("Modes: " + "; ".join(
                f"`{m.name}` = " + ", ".join(f"{k} {v}" for k, v in m.fields.items()) for m in msr.modes
            ) + "; any other combination raises #GP.")
        if msr.transitions:
            extra.append("Legal mode changes (staying is always legal; any other change raises #GP): "
                         + ", ".join(f"{a} → {b}" for a, b in msr.transitions) + ".")
        sections.append(dataclasses.replace(
            sec, title=f"MSR {msr.name}", summary=f"MSR 0x{msr.address:X}, 64-bit",
            description=" ".join([msr.description, *extra]).strip(),
        ))
    x2_rows = []
    if dev.x2apic is not None:
        for xr in dev.x2apic.registers:
            reg = xr.register
            where = f"0x{xr.address:X}" + (f" + n (n = 0..{xr.count - 1})" if xr.count > 1 else "")
            notes = []
            if xr.source is not None and xr.source != xr.name:
                notes.append(f"MMIO `{xr.source}`.")
            gp = xr.gp_mask & ~(((1 << 64) - 1) & ~((1 << reg.width) - 1))
            if gp:
                notes.append(f"A write with a bit of {_hex(gp, reg.width)} set raises #GP.")
            x2_rows.append(RegRow(where, _display_name(reg), reg.width, reg.access.value, "",
                                  " ".join([*notes, reg.description]).strip(), ""))
    params = [(k, str(v), f"0x{v:X}") for k, v in sorted(dev.params.items())]
    return render(
        "device.md.j2",
        msr_rows=msr_rows,
        x2_rows=x2_rows,
        x2=dev.x2apic,
        banner=comment(banner(spec), "html"),
        dev=dev,
        params=params,
        rows=rows,
        windows=windows,
        sections=sections,
        accesses=_accesses(dev),
    )


def _accesses(dev: Device) -> list[tuple[str, str]]:
    """The access kinds used by ``dev`` with their meaning, for the legend."""
    kinds: set[Access] = set()
    for r in [*dev.registers, *(r for w in dev.windows for r in w.registers)]:
        kinds.add(r.access)
        kinds.update(f.access for f in r.fields)
    return sorted((a.value, a.description) for a in kinds)


# --------------------------------------------------------------------------- vectors

_KIND_LETTER = {
    VectorKind.EXCEPTION: "E",
    VectorKind.IRQ: "I",
    VectorKind.SYSCALL: "S",
    VectorKind.TIMER: "T",
    VectorKind.IPI: "P",
    VectorKind.SYSTEM: "Y",
    VectorKind.SPURIOUS: "X",
    VectorKind.RESERVED: "-",
}


def _vectors_doc(spec: Spec) -> str:
    vm = spec.vectors
    rows: list[tuple[str, ...]] = []
    covered: set[int] = set()
    items: list[tuple[int, tuple[str, ...]]] = []
    for v in vm.vectors:
        covered.add(v.number)
        items.append(
            (
                v.number,
                (
                    f"0x{v.number:02X}",
                    str(v.number),
                    f"`{v.name}`",
                    v.kind.value,
                    v.mnemonic,
                    v.exc_class.value if v.exc_class else "",
                    ("yes" if v.error_code else "no") if v.kind is VectorKind.EXCEPTION else "",
                    str(v.ist) if v.ist else "",
                    str(v.dpl),
                    v.gate.value,
                    v.description,
                ),
            )
        )
    for r in vm.ranges:
        covered.update(range(r.first, r.last + 1))
        span = f"0x{r.first:02X}" if r.first == r.last else f"0x{r.first:02X}–0x{r.last:02X}"
        dec = str(r.first) if r.first == r.last else f"{r.first}–{r.last}"
        items.append((r.first, (span, dec, f"`{r.name}`", r.kind.value, "", "", "", "", "", "", r.description)))
    # runs of vectors nobody named
    gap: list[int] = []
    for n in [*range(256), 256]:
        if n < 256 and n not in covered:
            gap.append(n)
            continue
        if gap:
            a, b = gap[0], gap[-1]
            span = f"0x{a:02X}" if a == b else f"0x{a:02X}–0x{b:02X}"
            dec = str(a) if a == b else f"{a}–{b}"
            items.append((a, (span, dec, "", "unassigned", "", "", "", "", "", "", "Not in the spec")))
            gap = []
    rows = [row for _, row in sorted(items, key=lambda it: it[0])]
    grid = []
    for hi in range(16):
        grid.append((f"0x{hi:X}0", [_KIND_LETTER[vm.kind_of(hi * 16 + lo)] for lo in range(16)]))
    legend = [(letter, kind.value) for kind, letter in _KIND_LETTER.items()]
    return render(
        "vectors.md.j2",
        banner=comment(banner(spec), "html"),
        vm=vm,
        rows=rows,
        grid=grid,
        legend=legend,
    )


# --------------------------------------------------------------------------- IDT


def _bytes(lsb: int, msb: int) -> str:
    a, b = lsb // 8, msb // 8
    return str(a) if a == b else f"{a}–{b}"


def _idt_doc(spec: Spec) -> str:
    idt = spec.idt
    layouts = []
    for lay in sorted(idt.layouts, key=lambda lay: -lay.mode):
        fields = [(_bits(f.msb, f.lsb), _bytes(f.lsb, f.msb), f.name, f.width, f.description) for f in lay.fields]
        pic = diagram([Bits(f.name, f.msb, f.lsb) for f in lay.fields], lay.size * 8)
        examples = []
        attr = lay.field("p").lsb - 15 if any(f.name == "p" for f in lay.fields) else None
        cases: list[tuple[str, GateType, int, int]] = [
            ("interrupt gate, DPL 0", GateType.INTERRUPT, 0, 0),
            ("interrupt gate, DPL 3 (system gate)", GateType.INTERRUPT, 3, 0),
            ("trap gate, DPL 0", GateType.TRAP, 0, 0),
        ]
        if any(f.name == "ist" for f in lay.fields):
            cases.append(("interrupt gate on IST 2 (NMI)", GateType.INTERRUPT, 0, 2))
        for label, gt, dpl, ist in cases:
            raw = idt.gate(0xFFFFFFFF81234567 & ((1 << lay.offset_bits) - 1), gt, dpl=dpl, ist=ist, mode=lay.mode)
            word = int.from_bytes(raw, "little")
            attr_word = f"0x{(word >> attr) & 0xFFFF:04X}" if attr is not None and attr >= 0 else ""
            examples.append((label, attr_word, raw.hex(" ")))
        layouts.append((lay, fields, pic, examples))
    gate_types = sorted(((g.value, f"0x{code:X}") for g, code in idt.gate_types.items()), key=lambda t: t[1])
    return render(
        "idt.md.j2",
        banner=comment(banner(spec), "html"),
        idt=idt,
        layouts=layouts,
        gate_types=gate_types,
        limits=[(lay.mode, f"0x{idt.limit(lay.mode):X}") for lay in sorted(idt.layouts, key=lambda lay: -lay.mode)],
        kernel_cs=f"0x{idt.kernel_cs:02X}",
    )


# --------------------------------------------------------------------------- platform


def _platform_doc(spec: Spec) -> str:
    p = spec.platform
    amap = [
        (name, f"0x{base:08X}", f"0x{size:X}", f"0x{base + size - 1:08X}")
        for name, (base, size) in sorted(p.address_map.items(), key=lambda kv: kv[1][0])
    ]
    isa = [(irq, p.isa_pin(irq), "override" if irq in p.isa_irq_pins else "identity") for irq in range(16)]
    extra = [(irq, pin) for irq, pin in sorted(p.isa_irq_pins.items()) if irq >= 16]
    return render(
        "platform.md.j2",
        banner=comment(banner(spec), "html"),
        p=p,
        amap=amap,
        isa=isa,
        extra=extra,
        clock=f"{p.clock_hz:,} Hz".replace(",", " "),
        period_ns=f"{1e9 / p.clock_hz:g}",
    )


def emit(spec: Spec) -> dict[str, str]:
    """Every Markdown document, by output path."""
    out = {f"docs/{dev.name}.md": _device_doc(spec, dev) for dev in spec.devices}
    out["docs/vectors.md"] = _vectors_doc(spec)
    out["docs/idt.md"] = _idt_doc(spec)
    out["docs/platform.md"] = _platform_doc(spec)
    return out
