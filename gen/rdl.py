"""SystemRDL: ``rdl/{lapic,ioapic,hpet}.rdl``, one ``addrmap`` per device.

Access kinds map onto SystemRDL properties without user-defined properties:

==========  ===========================================================
ro          ``sw = r;  hw = w``
rw          ``sw = rw; hw = r``
wo          ``sw = w;  hw = r``
w1c         ``sw = rw; hw = w; onwrite = woclr``
rc          ``sw = r;  hw = w; onread = rclr``
wl          ``sw = rw; hw = w`` plus a comment and a ``desc`` note: the
            write-latch (a write copies hidden events into the visible
            value) has no standard property
rsvd        no field (reads 0)
==========  ===========================================================

64-bit registers get ``regwidth = 64`` with the device's 32-bit
``accesswidth`` (two dwords, low at +0). Register arrays become
``reg[count] @ offset += stride`` when their elements are contiguous; a
sparse array (stride beyond the register's size, such as the LAPIC's
``ISR[8] @ 0x100 += 0x10``) becomes an array of one-register regfiles of the
same name, which IP-XACT can express (it has no sparse register arrays).
Arrays that interleave (HPET's ``TIMER_CONF``/``TIMER_CMP``/``TIMER_FSB`` share one 0x20 stride) would
overlap as separate SystemRDL arrays, so they become one ``regfile`` array
named after their common prefix (``TIMER[3] @ 0x100 += 0x20``) holding the
registers under their own names; any other overlap unrolls the arrays into
single registers ``NAMEn``.

Indirect windows (IO-APIC ``IOREGSEL``/``IOWIN``) are a second addrmap,
``<device>_indirect``, where the register at window index ``i`` sits at
address ``i * 4``: a dword per index, so a 64-bit entry (two indices)
occupies exactly its two dwords and offsets stay in the spec's index order.
"""

from __future__ import annotations

from dataclasses import dataclass

from irqforge.spec import Access, Device, Field, Register, Spec

from .names import rdl_ident, rdl_string
from .render import banner, comment, render

__all__ = ["ACCESS_PROPERTIES", "INDEX_BYTES", "emit"]

#: SystemRDL properties of each access kind (see the module docstring).
ACCESS_PROPERTIES: dict[Access, tuple[str, ...]] = {
    Access.RO: ("sw = r", "hw = w"),
    Access.RW: ("sw = rw", "hw = r"),
    Access.WO: ("sw = w", "hw = r"),
    Access.W1C: ("sw = rw", "hw = w", "onwrite = woclr"),
    Access.RC: ("sw = r", "hw = w", "onread = rclr"),
    Access.WL: ("sw = rw", "hw = w"),
}

#: Bytes per window index in the ``<device>_indirect`` address maps.
INDEX_BYTES = 4

_WL_NOTE = (
    "Write-latched: hardware collects events in a hidden register; "
    "a write of any value copies them here and clears the hidden one."
)


@dataclass(frozen=True)
class RdlField:
    name: str
    msb: int
    lsb: int
    props: tuple[str, ...]
    reset: str
    enum: str
    comment: str


@dataclass(frozen=True)
class RdlEnum:
    name: str
    entries: tuple[tuple[str, str, str], ...]
    """(name, sized literal, description)."""


@dataclass(frozen=True)
class RdlReg:
    name: str
    title: str
    desc: str
    width: int
    enums: tuple[RdlEnum, ...]
    fields: tuple[RdlField, ...]
    placement: str
    """``NAME @ 0x..;`` or ``NAME[n] @ 0x.. += 0x..;`` (without the semicolon)."""


@dataclass(frozen=True)
class RdlRegfile:
    name: str
    regs: tuple[RdlReg, ...]
    placement: str


@dataclass(frozen=True)
class RdlMap:
    name: str
    title: str
    desc: str
    accesswidth: int
    items: tuple[RdlReg | RdlRegfile, ...]


def _lit(value: int, width: int) -> str:
    return f"{width}'h{value:X}"


def _field(f: Field) -> RdlField | None:
    if f.access is Access.RSVD:
        return None
    props = [*ACCESS_PROPERTIES[f.access]]
    desc = f.description
    note = ""
    if f.access is Access.WL:
        desc = f"{desc}. {_WL_NOTE}" if desc else _WL_NOTE
        note = "write-latched (wl): see desc"
    if desc:
        props.append(f"desc = {rdl_string(desc)}")
    enum = f"{f.name}_e" if f.enums else ""
    if enum:
        props.append(f"encode = {rdl_ident(enum)}")
    return RdlField(rdl_ident(f.name), f.msb, f.lsb, tuple(props), f"0x{f.reset:X}", enum, note)


def _reg(reg: Register, placement: str) -> RdlReg:
    if reg.fields:
        fields = [rf for f in reg.fields if (rf := _field(f)) is not None]
    else:
        whole = Field(reg.name, 0, reg.width, reg.access, reg.reset, "")
        rf = _field(whole)
        fields = [rf] if rf is not None else []
    if not fields:  # every bit reserved: a constant-0 field, since a reg needs one
        fields = [RdlField(rdl_ident(reg.name), reg.width - 1, 0, ("sw = r", "hw = na"), "0x0", "", "reserved")]
    enums = tuple(
        RdlEnum(
            rdl_ident(f"{f.name}_e"),
            tuple((rdl_ident(e.name), _lit(e.value, f.width), e.description) for e in f.enums),
        )
        for f in reg.fields
        if f.enums and f.access is not Access.RSVD
    )
    return RdlReg(
        rdl_ident(reg.name),
        reg.name,
        reg.description,
        reg.width,
        enums,
        tuple(sorted(fields, key=lambda f: f.lsb)),
        placement,
    )


def _span(reg: Register, scale: int) -> tuple[int, int]:
    start = reg.offset * scale
    return start, start + (reg.count - 1) * reg.stride * scale + reg.size


def _place(name: str, offset: int, count: int = 1, stride: int = 0) -> str:
    if count > 1:
        return f"{name}[{count}] @ 0x{offset:X} += 0x{stride:X}"
    return f"{name} @ 0x{offset:X}"


def _items(regs: tuple[Register, ...], scale: int) -> tuple[RdlReg | RdlRegfile, ...]:
    """Registers and interleaved-array regfiles, addresses multiplied by ``scale``."""
    groups: list[list[Register]] = []
    end = -1
    for reg in sorted(regs, key=lambda r: r.offset):
        start, stop = _span(reg, scale)
        if groups and start < end:
            groups[-1].append(reg)
        else:
            groups.append([reg])
        end = max(end, stop)
    taken = {r.name for r in regs}
    items: list[RdlReg | RdlRegfile] = []
    for group in groups:
        if len(group) == 1:
            r = group[0]
            if r.is_array and r.stride * scale > r.size:
                # A sparse array (the LAPIC's ISR0..7: one dword every 16 bytes) as an
                # array of one-register regfiles: IP-XACT has no register arrays with a
                # stride beyond the register's size, but has register-file arrays.
                member = _reg(r, _place(rdl_ident(r.name), 0))
                items.append(RdlRegfile(rdl_ident(r.name), (member,), _place(
                    rdl_ident(r.name), r.offset * scale, r.count, r.stride * scale)))
            else:
                items.append(_reg(r, _place(rdl_ident(r.name), r.offset * scale, r.count, r.stride * scale)))
            continue
        first = group[0]
        same = all(r.is_array and r.count == first.count and r.stride == first.stride for r in group)
        base = first.offset * scale
        if same and max(_span(r, scale)[0] + r.size for r in group) - base <= first.stride * scale:
            name = _regfile_name([r.name for r in group], taken)
            taken.add(name)
            members = tuple(_reg(r, _place(rdl_ident(r.name), r.offset * scale - base)) for r in group)
            placement = _place(rdl_ident(name), base, first.count, first.stride * scale)
            items.append(RdlRegfile(rdl_ident(name), members, placement))
            continue
        for r in group:
            for inst in r.instances():
                items.append(_reg(r, _place(rdl_ident(inst.name), inst.offset * scale)))
    return tuple(items)


def _regfile_name(names: list[str], taken: set[str]) -> str:
    words = [n.split("_") for n in names]
    common = []
    for parts in zip(*words, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    prefix = "_".join(common)
    name = prefix or f"{names[0]}_GROUP"
    n = 0
    while name in taken:
        n += 1
        name = f"{prefix or names[0]}_GROUP{n}"
    return name


def _maps(dev: Device) -> list[RdlMap]:
    maps = [
        RdlMap(
            rdl_ident(dev.name),
            f"{dev.name.upper()} registers",
            dev.description,
            dev.data_width,
            _items(dev.registers, 1),
        )
    ]
    for win in dev.windows:
        name = f"{dev.name}_indirect" if len(dev.windows) == 1 else f"{dev.name}_{win.name.lower()}"
        desc = (
            f"{win.description} Registers of window {win.name}: write the index to {win.select}, "
            f"then access the register through {win.data}. Here the register at index i is at address "
            f"i * {INDEX_BYTES}; a 64-bit register takes two indices, low dword first."
        )
        title = f"{dev.name.upper()} {win.name} window"
        maps.append(RdlMap(rdl_ident(name), title, desc, dev.data_width, _items(win.registers, INDEX_BYTES)))
    return maps


def emit(spec: Spec) -> dict[str, str]:
    """Every SystemRDL file, by output path."""
    return {
        f"rdl/{dev.name}.rdl": render("device.rdl.j2", banner=comment(banner(spec), "slash"), maps=_maps(dev))
        for dev in spec.devices
    }
