"""What every consumer of a spec needs from it — in one place.

A spec that validates must generate, build and simulate. The consumers are:
the C headers (C11 and C++17), the Verilog from :mod:`irqforge.hw`, the
SystemRDL and Markdown docs, the reference models in :mod:`irqforge.sim`,
the scenarios, and the software stack :mod:`irqforge.sw`. This module knows

- how names are spelt in each output (:func:`c_macro_name`,
  :func:`c_ident_name`; :mod:`irqforge.gen.names` uses the same functions)
  and the reserved words of C, C++, Verilog, SystemVerilog and Python;
- the names the C emitter adds itself (struct members, helper parameters),
  so a spec name cannot clash with them;
- the C struct a gate layout must map to (:func:`gate_struct`);
- the registers, fields, enumerated values, parameters, vectors and ranges
  the RTL, the models, the scenarios and the software stack look up by name
  (:data:`REQUIRED`, :data:`REQUIRED_VECTORS` …) — the list a spec
  reference page should show.

:func:`check` turns all of that into problems (:class:`~irqforge.spec.errors.Problem`)
at the spec's own positions; :func:`irqforge.spec.load` runs it on every spec
whose files built cleanly. ``tests/spec/test_consumers.py`` records every name
the consumers look up while generating and simulating the default specs and
checks it is listed here.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import Problem
from .model import Device, GateLayout, Loc, Register, Spec, VectorKind

__all__ = [
    "C_KEYWORDS",
    "GATE_HELPER_NAMES",
    "PYTHON_KEYWORDS",
    "REQUIRED",
    "REQUIRED_PARAMS",
    "REQUIRED_RANGES",
    "REQUIRED_VECTORS",
    "VERILOG_KEYWORDS",
    "GateMember",
    "GateStruct",
    "c_comment_text",
    "c_ident_name",
    "c_macro_name",
    "check",
    "gate_struct",
]

# --------------------------------------------------------------------------- reserved words

# C11 and C++17 keywords that a lower-case member or function name must avoid.
C_KEYWORDS: frozenset[str] = frozenset(
    [
        "alignas",
        "alignof",
        "and",
        "and_eq",
        "asm",
        "auto",
        "bitand",
        "bitor",
        "bool",
        "break",
        "case",
        "catch",
        "char",
        "char16_t",
        "char32_t",
        "class",
        "compl",
        "const",
        "const_cast",
        "constexpr",
        "continue",
        "decltype",
        "default",
        "delete",
        "do",
        "double",
        "dynamic_cast",
        "else",
        "enum",
        "explicit",
        "export",
        "extern",
        "false",
        "float",
        "for",
        "friend",
        "goto",
        "if",
        "inline",
        "int",
        "long",
        "mutable",
        "namespace",
        "new",
        "noexcept",
        "not",
        "not_eq",
        "nullptr",
        "operator",
        "or",
        "or_eq",
        "private",
        "protected",
        "public",
        "register",
        "reinterpret_cast",
        "restrict",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "static_assert",
        "static_cast",
        "struct",
        "switch",
        "template",
        "this",
        "thread_local",
        "throw",
        "true",
        "try",
        "typedef",
        "typeid",
        "typename",
        "union",
        "unsigned",
        "using",
        "virtual",
        "void",
        "volatile",
        "wchar_t",
        "while",
        "xor",
        "xor_eq",
        "_Alignas",
        "_Alignof",
        "_Atomic",
        "_Bool",
        "_Complex",
        "_Generic",
        "_Imaginary",
        "_Noreturn",
        "_Static_assert",
        "_Thread_local",
    ]
)


#: IEEE 1364-2005 Verilog and IEEE 1800-2017 SystemVerilog keywords.
VERILOG_KEYWORDS: frozenset[str] = frozenset(
    [
        "accept_on",
        "alias",
        "always",
        "always_comb",
        "always_ff",
        "always_latch",
        "and",
        "assert",
        "assign",
        "assume",
        "automatic",
        "before",
        "begin",
        "bind",
        "bins",
        "binsof",
        "bit",
        "break",
        "buf",
        "bufif0",
        "bufif1",
        "byte",
        "case",
        "casex",
        "casez",
        "cell",
        "chandle",
        "checker",
        "class",
        "clocking",
        "cmos",
        "config",
        "const",
        "constraint",
        "context",
        "continue",
        "cover",
        "covergroup",
        "coverpoint",
        "cross",
        "deassign",
        "default",
        "defparam",
        "design",
        "disable",
        "dist",
        "do",
        "edge",
        "else",
        "end",
        "endcase",
        "endchecker",
        "endclass",
        "endclocking",
        "endconfig",
        "endfunction",
        "endgenerate",
        "endgroup",
        "endinterface",
        "endmodule",
        "endpackage",
        "endprimitive",
        "endprogram",
        "endproperty",
        "endsequence",
        "endspecify",
        "endtable",
        "endtask",
        "enum",
        "event",
        "eventually",
        "expect",
        "export",
        "extends",
        "extern",
        "final",
        "first_match",
        "for",
        "force",
        "foreach",
        "forever",
        "fork",
        "forkjoin",
        "function",
        "generate",
        "genvar",
        "global",
        "highz0",
        "highz1",
        "if",
        "iff",
        "ifnone",
        "ignore_bins",
        "illegal_bins",
        "implements",
        "implies",
        "import",
        "incdir",
        "include",
        "initial",
        "inout",
        "input",
        "inside",
        "instance",
        "int",
        "integer",
        "interconnect",
        "interface",
        "intersect",
        "join",
        "join_any",
        "join_none",
        "large",
        "let",
        "liblist",
        "library",
        "local",
        "localparam",
        "logic",
        "longint",
        "macromodule",
        "matches",
        "medium",
        "modport",
        "module",
        "nand",
        "negedge",
        "nettype",
        "new",
        "nexttime",
        "nmos",
        "nor",
        "noshowcancelled",
        "not",
        "notif0",
        "notif1",
        "null",
        "or",
        "output",
        "package",
        "packed",
        "parameter",
        "pmos",
        "posedge",
        "primitive",
        "priority",
        "program",
        "property",
        "protected",
        "pull0",
        "pull1",
        "pulldown",
        "pullup",
        "pulsestyle_ondetect",
        "pulsestyle_onevent",
        "pure",
        "rand",
        "randc",
        "randcase",
        "randsequence",
        "rcmos",
        "real",
        "realtime",
        "ref",
        "reg",
        "reject_on",
        "release",
        "repeat",
        "restrict",
        "return",
        "rnmos",
        "rpmos",
        "rtran",
        "rtranif0",
        "rtranif1",
        "s_always",
        "s_eventually",
        "s_nexttime",
        "s_until",
        "s_until_with",
        "scalared",
        "sequence",
        "shortint",
        "shortreal",
        "showcancelled",
        "signed",
        "small",
        "soft",
        "solve",
        "specify",
        "specparam",
        "static",
        "string",
        "strong",
        "strong0",
        "strong1",
        "struct",
        "super",
        "supply0",
        "supply1",
        "sync_accept_on",
        "sync_reject_on",
        "table",
        "tagged",
        "task",
        "this",
        "throughout",
        "time",
        "timeprecision",
        "timeunit",
        "tran",
        "tranif0",
        "tranif1",
        "tri",
        "tri0",
        "tri1",
        "triand",
        "trior",
        "trireg",
        "type",
        "typedef",
        "union",
        "unique",
        "unique0",
        "unsigned",
        "until",
        "until_with",
        "untyped",
        "use",
        "uwire",
        "var",
        "vectored",
        "virtual",
        "void",
        "wait",
        "wait_order",
        "wand",
        "weak",
        "weak0",
        "weak1",
        "while",
        "wildcard",
        "wire",
        "with",
        "within",
        "wor",
        "xnor",
        "xor",
    ]
)

#: Python keywords (the models and the software stack use names as attributes and keyword arguments).
PYTHON_KEYWORDS: frozenset[str] = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)

_RESERVED = {"C/C++": C_KEYWORDS, "Verilog/SystemVerilog": VERILOG_KEYWORDS, "Python": PYTHON_KEYWORDS}

# --------------------------------------------------------------------------- spelling


def c_macro_name(*parts: str) -> str:
    """An upper-case C macro name from name parts: ``("lapic", "svr")`` → ``LAPIC_SVR``."""
    return "_".join(p.upper() for p in parts if p)


def c_ident_name(name: str) -> str:
    """A lower-case C identifier (struct member, function), keyword-safe."""
    ident = name.lower()
    return ident + "_" if ident in C_KEYWORDS else ident


def c_comment_text(text: str) -> str:
    """``text`` as one line that is safe inside ``/* */``: no ``*/`` and no ``/*``."""
    one = " ".join(text.split())
    while "*/" in one or "/*" in one:
        one = one.replace("*/", "* /").replace("/*", "/ *")
    return one


#: Names the C gate helpers use themselves: the reassembled handler ``offset``
#: (a member of the decoded struct and a parameter), the grouped attribute
#: words ``attr``/``attrN``, and the helpers' locals and parameters.
GATE_HELPER_NAMES = frozenset({"offset", "attr", "g", "f", "in", "out"})
_ATTR_N = re.compile(r"^attr[0-9]+$")

# --------------------------------------------------------------------------- the gate descriptor as a C struct


@dataclass(frozen=True)
class GateMember:
    """One member of the C struct of a gate descriptor."""

    name: str
    ctype: str
    bits: int
    lsb: int
    """Bit position of the member in the whole descriptor."""
    fields: tuple[tuple[str, int, int], ...]
    """(name, lsb within the member, width) of the spec fields it holds."""

    @property
    def offset(self) -> int:
        return self.lsb // 8


@dataclass(frozen=True)
class GateStruct:
    layout: GateLayout
    tag: str
    members: tuple[GateMember, ...]

    def member_of(self, field_name: str) -> tuple[GateMember, int, int]:
        """The member holding gate field ``field_name``, its shift and width."""
        for m in self.members:
            for name, lsb, width in m.fields:
                if name == field_name:
                    return m, lsb, width
        raise KeyError(field_name)


def _natural(lsb: int, width: int) -> bool:
    return width in (8, 16, 32, 64) and lsb % width == 0


def gate_struct(layout: GateLayout) -> GateStruct:
    """A padding-free C struct for ``layout``; :class:`ValueError` when there is none.

    A field of 8/16/32/64 bits on a multiple of its size becomes its own
    ``uintN_t`` member; each run of other fields is packed into the smallest
    naturally aligned unsigned integer that covers it (for the 64-bit gate:
    ist, zero, type, dpl and p become the 16-bit ``attr`` word, Linux's
    ``idt_bits``). With naturally aligned members of at most 32 bits in a
    struct whose size is a multiple of 4, no ABI inserts padding; the header
    still checks that with ``_Static_assert``.
    """
    fields = sorted(layout.fields, key=lambda f: f.lsb)
    members: list[GateMember] = []
    run: list[tuple[str, int, int]] = []

    def flush() -> None:
        if not run:
            return
        lo = run[0][1]
        hi = run[-1][1] + run[-1][2]
        for size in (8, 16, 32, 64):
            start = lo - lo % size
            if start + size >= hi:
                break
        else:
            raise ValueError(f"gate {layout.name} fields {[n for n, _, _ in run]} fit no C integer")
        if start != lo or start + size != hi:
            raise ValueError(
                f"gate {layout.name} fields {[n for n, _, _ in run]} do not fill a {size}-bit word; "
                "add the missing bits as a named reserved field"
            )
        members.append(GateMember("", f"uint{size}_t", size, start, tuple((n, p - start, w) for n, p, w in run)))
        run.clear()

    bit = 0
    for f in fields:
        if f.lsb != bit:
            raise ValueError(f"gate {layout.name} has no field at bit {bit}; name every bit")
        bit = f.lsb + f.width
        if _natural(f.lsb, f.width):
            flush()
            member = GateMember(c_ident_name(f.name), f"uint{f.width}_t", f.width, f.lsb, ((f.name, 0, f.width),))
            members.append(member)
        else:
            run.append((f.name, f.lsb, f.width))
    flush()
    if bit != layout.size * 8:
        raise ValueError(f"gate {layout.name} fields cover {bit} bits of {layout.size * 8}")
    if any(m.bits > 32 for m in members):
        raise ValueError(f"gate {layout.name} needs a 64-bit member, whose alignment differs by ABI")
    groups = [i for i, m in enumerate(members) if not m.name]
    for n, i in enumerate(groups):
        m = members[i]
        members[i] = GateMember("attr" if len(groups) == 1 else f"attr{n}", m.ctype, m.bits, m.lsb, m.fields)
    return GateStruct(layout, f"irqforge_{c_ident_name(layout.name)}", tuple(members))


# --------------------------------------------------------------------------- names the consumers look up

_DM = ("FIXED", "LOWEST", "NMI", "INIT", "STARTUP")
_LINT = {
    "DELIVERY_MODE": ("FIXED", "NMI", "EXTINT"),
    "MASK": (),
    "POLARITY": (),
    "REMOTE_IRR": (),
    "TRIGGER": ("EDGE", "LEVEL"),
    "VECTOR": (),
}

#: device → register → field → enumerated values that ``hw/``, ``sim/`` and
#: ``sw/`` look up by name (registers of an indirect window included, by
#: their own names).
REQUIRED: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "lapic": {
        "ID": {},
        "VERSION": {},
        "TPR": {},
        "EOI": {},
        "LDR": {"LOGICAL_ID": ()},
        "DFR": {"MODEL": ()},
        "SVR": {"VECTOR": (), "ENABLE": (), "EOI_SUPPRESS": ()},
        "ISR": {},
        "TMR": {},
        "IRR": {},
        "ESR": {"ILLEGAL_REG_ADDR": (), "SEND_ILLEGAL_VECTOR": (), "RECV_ILLEGAL_VECTOR": ()},
        "ICR_LO": {
            "VECTOR": (),
            "DELIVERY_MODE": _DM,
            "DEST_MODE": ("PHYSICAL", "LOGICAL"),
            "DELIVERY_STATUS": (),
            "LEVEL": (),
            "TRIGGER": ("EDGE", "LEVEL"),
            "SHORTHAND": ("NONE", "SELF", "ALL_INCL", "ALL_EXCL"),
        },
        "ICR_HI": {"DEST": ()},
        "LVT_TIMER": {"VECTOR": (), "MASK": (), "TIMER_MODE": ("PERIODIC", "TSC_DEADLINE")},
        "LVT_THERMAL": {"MASK": ()},
        "LVT_PERFMON": {"MASK": ()},
        "LVT_LINT0": _LINT,
        "LVT_LINT1": _LINT,
        "LVT_ERROR": {"VECTOR": (), "MASK": ()},
        "TMICT": {},
        "TMCCT": {},
        "TDCR": {"DIV_LO": (), "DIV_HI": ()},
    },
    "ioapic": {
        "IOREGSEL": {},
        "IOWIN": {},
        "EOI": {},
        "IOAPICID": {"ID": ()},
        "IOAPICVER": {"MAX_REDIR": ()},
        "IOAPICARB": {"ARB_ID": ()},
        "REDTBL": {
            "VECTOR": (),
            "DELIVERY_MODE": ("FIXED",),
            "DEST_MODE": ("PHYSICAL", "LOGICAL"),
            "POLARITY": ("ACTIVE_HIGH", "ACTIVE_LOW"),
            "REMOTE_IRR": (),
            "TRIGGER": ("EDGE", "LEVEL"),
            "MASK": (),
            "DEST": (),
        },
    },
    "hpet": {
        "GCAP_ID": {"NUM_TIM_CAP": (), "COUNTER_CLK_PERIOD": ()},
        "GEN_CONF": {"ENABLE_CNF": (), "LEG_RT_CNF": ()},
        "GINTR_STA": {},
        "MAIN_CNT": {},
        "TIMER_CONF": {
            "INT_TYPE_CNF": ("LEVEL",),
            "INT_ENB_CNF": (),
            "TYPE_CNF": ("PERIODIC",),
            "PER_INT_CAP": (),
            "VAL_SET_CNF": (),
            "MODE32_CNF": (),
            "INT_ROUTE_CNF": (),
            "FSB_EN_CNF": (),
            "FSB_INT_DEL_CAP": (),
            "INT_ROUTE_CAP": (),
        },
        "TIMER_CMP": {"VALUE": ()},
        "TIMER_FSB": {},
    },
}

#: MSRs of the LAPIC, when it has them (``msrs``): MSR → fields the RTL,
#: the models and the software stack look up, and the modes they name.
REQUIRED_MSRS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "IA32_APIC_BASE": (("BSP", "EXTD", "EN", "BASE"), ("DISABLED", "XAPIC")),
    "IA32_TSC_DEADLINE": (("DEADLINE",), ()),
}
#: the mode the x2APIC view (``x2apic``) needs IA32_APIC_BASE to have
X2APIC_MODE = "X2APIC"
#: registers of the x2APIC view, when there is one → the fields looked up by name
REQUIRED_X2APIC: dict[str, tuple[str, ...]] = {
    "ID": (),
    "LDR": (),
    "ICR": ("VECTOR", "DELIVERY_MODE", "DEST_MODE", "LEVEL", "TRIGGER", "SHORTHAND", "DEST"),
    "SELF_IPI": ("VECTOR",),
}

#: device → window names the consumers use.
REQUIRED_WINDOWS: dict[str, tuple[str, ...]] = {"ioapic": ("IOAPIC",)}

#: parameters every device of a kind must define, with their legal ranges
REQUIRED_PARAMS: dict[str, dict[str, tuple[int, int]]] = {
    "lapic": {"version": (0x10, 0x15), "lvt_count": (3, 7), "eoi_suppression": (0, 1), "tsc_deadline": (0, 1)},
    "ioapic": {"pins": (1, 240), "version": (0x01, 0xFF)},
    "hpet": {"timers": (1, 32), "period_fs": (1, 0x05F5E100)},
}

#: vectors the software stack and the scenarios use by name
REQUIRED_VECTORS: tuple[str, ...] = (
    "NMI",
    "DF",
    "NP",
    "GP",
    "PF",
    "LOCAL_TIMER_VECTOR",
    "ERROR_APIC_VECTOR",
    "SPURIOUS_APIC_VECTOR",
    "RESCHEDULE_VECTOR",
    "CALL_FUNCTION_VECTOR",
    "CALL_FUNCTION_SINGLE_VECTOR",
    "REBOOT_VECTOR",
    "IRQ_WORK_VECTOR",
)
#: vector ranges they use by name when present (both optional)
REQUIRED_RANGES: tuple[str, ...] = ()

#: the largest value the outputs' 32-bit constants hold (clock_hz, hz, params in the C headers)
MAX_U32 = 0xFFFF_FFFF

# --------------------------------------------------------------------------- the checks


class _Out:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def at(self, loc: Loc | None, path: str, message: str) -> None:
        line, col, file = (loc.line, loc.col, loc.file) if loc is not None else (1, 1, "?")
        self.problems.append(Problem(file, line, col, f"{path}: {message}"))


def check(spec: Spec) -> list[Problem]:
    """Every way ``spec`` falls short of what a consumer needs."""
    out = _Out()
    for dev in spec.devices:
        _check_required(dev, out)
        _check_names(dev, out)
        _check_c_macros(dev, out)
    _check_vectors(spec, out)
    _check_idt(spec, out)
    return out.problems


def _registers(dev: Device) -> Iterator[tuple[str, Register]]:
    """Every register with its document path."""
    for i, r in enumerate(dev.registers):
        yield f"device.registers[{i}]", r
    for wi, w in enumerate(dev.windows):
        for i, r in enumerate(w.registers):
            yield f"device.windows[{wi}].registers[{i}]", r


def _check_required(dev: Device, out: _Out) -> None:
    regs = {r.name: (path, r) for path, r in _registers(dev)}
    for reg_name, fields in REQUIRED[dev.name].items():
        if reg_name not in regs:
            want = f" with the fields {', '.join(fields)}" if fields else ""
            out.at(
                dev.loc,
                "device.registers",
                f"the {dev.name} needs a register named {reg_name}{want} "
                "(the RTL, the reference models or the software stack use it)",
            )
            continue
        path, reg = regs[reg_name]
        have = {f.name: f for f in reg.fields}
        for fname, values in fields.items():
            if fname not in have:
                out.at(
                    reg.loc,
                    path,
                    f"register {reg_name} needs a field named {fname} "
                    "(the RTL, the reference models or the software stack use it)",
                )
                continue
            got = {e.name for e in have[fname].enums}
            missing = [v for v in values if v not in got]
            if missing:
                fi = reg.fields.index(have[fname])
                out.at(
                    have[fname].loc,
                    f"{path}.fields[{fi}]",
                    f"field {reg_name}.{fname} needs the enumerated value(s) {', '.join(missing)}",
                )
    _check_msrs(dev, out)
    for w in REQUIRED_WINDOWS.get(dev.name, ()):
        if w not in {x.name for x in dev.windows}:
            out.at(dev.loc, "device.windows", f"the {dev.name} needs a window named {w}")
    for p, v in dev.params.items():
        if v > MAX_U32:
            out.at(dev.loc, f"device.params.{p}", f"{v} does not fit the headers' 32-bit constants")


def _check_msrs(dev: Device, out: _Out) -> None:
    """The MSRs and the x2APIC view, when the LAPIC spec has them."""
    why = "(the RTL, the reference models or the software stack use it)"
    for i, msr in enumerate(dev.msrs):
        want = REQUIRED_MSRS.get(msr.name)
        if want is None:
            out.at(msr.loc, f"device.msrs[{i}]", f"MSR {msr.name} is not one irqforge implements "
                   f"({', '.join(REQUIRED_MSRS)})")
            continue
        fields, modes = want
        have = {f.name for f in msr.register.fields}
        for f in fields:
            if f not in have:
                out.at(msr.loc, f"device.msrs[{i}]", f"MSR {msr.name} needs a field named {f} {why}")
        names = {m.name for m in msr.modes}
        needed = list(modes)
        if msr.name == "IA32_APIC_BASE" and dev.x2apic is not None:
            needed.append(X2APIC_MODE)
        for m in needed:
            if m not in names:
                out.at(msr.loc, f"device.msrs[{i}]", f"MSR {msr.name} needs a mode named {m} {why}")
        if msr.name == "IA32_APIC_BASE" and dev.x2apic is None and X2APIC_MODE in names:
            out.at(msr.loc, f"device.msrs[{i}]", f"mode {X2APIC_MODE} needs the x2apic view of the device")
    if dev.x2apic is None:
        return
    if not dev.has_msr("IA32_APIC_BASE"):
        out.at(dev.x2apic.loc, "device.x2apic", "the x2APIC view needs the MSR IA32_APIC_BASE to enter x2APIC mode")
    regs = {r.name: r for r in dev.x2apic.registers}
    for name, fields in REQUIRED_X2APIC.items():
        xr = regs.get(name)
        if xr is None:
            out.at(dev.x2apic.loc, "device.x2apic.registers", f"the x2APIC view needs a register named {name} {why}")
            continue
        have = {f.name for f in xr.register.fields}
        for f in fields:
            if f not in have:
                out.at(xr.loc, "device.x2apic.registers", f"x2APIC register {name} needs a field named {f} {why}")


def _reserved(name: str) -> str | None:
    low = name.lower()
    for lang, words in _RESERVED.items():
        if low in words:
            return lang
    return None


def _check_names(dev: Device, out: _Out) -> None:
    """Names the RTL lower-cases into Amaranth layouts and Verilog, and the
    Python models use as keys: no reserved word of any output language."""
    for path, reg in _registers(dev):
        lang = _reserved(reg.name)
        if lang:
            out.at(reg.loc, f"{path}.name", f"register name {reg.name!r} is a reserved word in {lang}")
        seen: dict[str, str] = {}
        for fi, f in enumerate(reg.fields):
            lang = _reserved(f.name)
            if lang:
                out.at(f.loc, f"{path}.fields[{fi}].name", f"field name {f.name!r} is a reserved word in {lang}")
            folded = f.name.lower()
            if folded in seen:
                out.at(
                    f.loc,
                    f"{path}.fields[{fi}].name",
                    f"field {reg.name}.{f.name} and field {reg.name}.{seen[folded]} differ only in case; "
                    "the C headers and the RTL spell both the same",
                )
            seen.setdefault(folded, f.name)


def _check_c_macros(dev: Device, out: _Out) -> None:
    """The macros of ``<dev>.h``, as :mod:`irqforge.gen.cheader` spells them: no two the same."""
    owners: dict[str, tuple[str, Loc | None]] = {}
    dm = c_macro_name("IRQFORGE", dev.name)
    for fixed in ("SIZE", "ADDRESS_WIDTH", "DATA_WIDTH", "H"):
        owners[f"{dm}_{fixed}"] = (f"the {dev.name} header", dev.loc)
    for p in dev.params:
        owners.setdefault(c_macro_name(dm, "PARAM", p), (f"parameter {p}", dev.loc))

    def take(name: str, owner: str, loc: Loc | None, path: str) -> None:
        if name in owners and owners[name][0] != owner:
            first, floc = owners[name]
            where = f" (line {floc.line})" if floc is not None else ""
            out.at(loc, path, f"{owner} makes the C macro {name}, which {first}{where} makes too; rename one")
            return
        owners.setdefault(name, (owner, loc))

    for wi, w in enumerate(dev.windows):
        wm = c_macro_name(dm, w.name)
        for s in ("SELECT_OFFSET", "DATA_OFFSET"):
            take(f"{wm}_{s}", f"window {w.name}", w.loc, f"device.windows[{wi}].name")
    for path, reg in _registers(dev):
        base = c_macro_name(dm, reg.name)
        owner = f"register {reg.name}"
        kind = "INDEX" if path.startswith("device.windows") else "OFFSET"
        for s in (kind, "COUNT", "STRIDE", "WIDTH", "RESET"):
            take(f"{base}_{s}", owner, reg.loc, f"{path}.name")
        for fi, f in enumerate(reg.fields):
            fb = c_macro_name(base, f.name)
            fowner = f"field {reg.name}.{f.name}"
            for s in ("SHIFT", "WIDTH", "MASK", "RESET"):
                take(f"{fb}_{s}", fowner, f.loc, f"{path}.fields[{fi}].name")
            for e in f.enums:
                take(c_macro_name(fb, e.name), f"value {reg.name}.{f.name}.{e.name}", f.loc, f"{path}.fields[{fi}]")


def _check_vectors(spec: Spec, out: _Out) -> None:
    vm = spec.vectors
    names = {v.name for v in vm.vectors}
    loc = vm.vectors[0].loc if vm.vectors else None
    for need in REQUIRED_VECTORS:
        if need not in names:
            out.at(loc, "vectors.entries", f"no vector named {need} (the software stack uses it)")
    vp = "IRQFORGE_VECTOR"
    owners: dict[str, tuple[str, Loc | None]] = {}
    for fixed in ("COUNT", "SPURIOUS", "IS_EXCEPTION", "HAS_ERROR_CODE", "TABLE"):
        owners[f"{vp}_{fixed}"] = ("the vectors header", None)
    for k in VectorKind:
        owners[c_macro_name(vp, "KIND", k.name)] = ("the vectors header", None)
    for g in ("INTERRUPT", "TRAP", "CALL", "TASK"):
        owners[c_macro_name(vp, "GATE", g)] = ("the vectors header", None)
    for key in ("EXCEPTION", "ERROR_CODE"):
        for i in range(4):
            owners[f"{vp}_{key}_MAP{i}"] = ("the vectors header", None)
    items: list[tuple[str, str, Loc | None, str]] = []
    for i, v in enumerate(vm.vectors):
        items.append((c_macro_name(vp, v.name), f"vector {v.name}", v.loc, f"vectors.entries[{i}].name"))
    for i, r in enumerate(vm.ranges):
        for end in ("FIRST", "LAST"):
            items.append((c_macro_name(vp, r.name, end), f"range {r.name}", r.loc, f"vectors.ranges[{i}].name"))
    for name, owner, vloc, path in items:
        if name in owners and owners[name][0] != owner:
            first, floc = owners[name]
            where = f" (line {floc.line})" if floc is not None else ""
            out.at(vloc, path, f"{owner} makes the C macro {name}, which {first}{where} makes too; rename one")
        owners.setdefault(name, (owner, vloc))
    # the software stack installs device stubs below its first system vector
    devices = [r for r in vm.ranges if r.kind is VectorKind.IRQ]
    first_external = next((r.first for r in vm.ranges if r.name == "EXTERNAL"), 0x20)
    system = [
        v
        for v in vm.vectors
        if v.kind in (VectorKind.SYSTEM, VectorKind.TIMER, VectorKind.IPI) and v.number >= first_external
    ]
    if system and devices:
        low = min(system, key=lambda v: v.number)
        for r in vm.ranges:
            if r.kind is VectorKind.IRQ and r.last > low.number:
                out.at(
                    low.loc,
                    f"vectors.entries[{vm.vectors.index(low)}].number",
                    f"{low.kind.value} vector {low.name} = {low.number:#x} lies below device range {r.name} "
                    f"(ends {r.last:#x}); the software stack needs its system vectors above the device vectors",
                )
                break


def _check_idt(spec: Spec, out: _Out) -> None:
    names: dict[str, str] = {}
    for li, lay in enumerate(spec.idt.layouts):
        path = f"idt.layouts[{li}]"
        ident = c_ident_name(lay.name)
        if ident in names:
            out.at(
                lay.loc,
                f"{path}.name",
                f"layouts {names[ident]} and {lay.name} are both {ident!r} in C (the struct and macro names); "
                "rename one",
            )
        names.setdefault(ident, lay.name)
        try:
            gate_struct(lay)
        except ValueError as e:
            out.at(lay.loc, path, f"layout {lay.name}: {e}")
        seen: dict[str, str] = {}
        for fi, f in enumerate(lay.fields):
            ident = c_ident_name(f.name)
            if ident in GATE_HELPER_NAMES or _ATTR_N.match(ident):
                out.at(
                    lay.loc,
                    f"{path}.fields[{fi}].name",
                    f"gate field name {f.name!r} is a name the C gate helpers use themselves; rename it",
                )
            if ident in seen:
                out.at(
                    lay.loc,
                    f"{path}.fields[{fi}].name",
                    f"gate fields {seen[ident]} and {f.name} are both {ident!r} in C; rename one",
                )
            seen.setdefault(ident, f.name)
