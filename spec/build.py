"""Spec directory → validated :class:`~irqforge.spec.model.Spec`.

Three stages, each collecting every problem before anything fails:

1. YAML with marks (:mod:`.yamlload`),
2. structure against the JSON Schema (:mod:`.schema`), unknown keys with a
   "did you mean",
3. semantics while building the frozen model: widths, overlaps, resets,
   duplicates, vector collisions, cross-file agreement.

Messages name the document path and quote the bad value; positions are
``FILE:LINE:COL`` of the offending value (or key).
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from .access import Access
from .errors import Problem, SpecError
from .model import (
    Cpu,
    Device,
    EnumValue,
    ExcClass,
    Field,
    GateField,
    GateLayout,
    GateType,
    Idt,
    Loc,
    Platform,
    Register,
    Spec,
    Vector,
    VectorKind,
    VectorMap,
    VectorRange,
    Window,
)
from .schema import FILES, SCHEMA
from .yamlload import Marks, Path_, YamlError, load_yaml

DEFAULT_DIR = Path(__file__).parent / "default"

# parameters every device of a kind must define, with their legal ranges
REQUIRED_PARAMS: dict[str, dict[str, tuple[int, int]]] = {
    "lapic": {"version": (0x10, 0x15), "lvt_count": (3, 7)},
    "ioapic": {"pins": (1, 240), "version": (0x01, 0xFF)},
    "hpet": {"timers": (1, 32), "period_fs": (1, 0x05F5E100)},
}


def fmt_path(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(document)"


def _hex(v: object) -> str:
    return f"{v:#x}" if isinstance(v, int) and not isinstance(v, bool) else repr(v)


class _Ctx:
    """Problem collector for one file."""

    def __init__(self, marks: Marks, sink: list[Problem]) -> None:
        self.marks = marks
        self.sink = sink
        self.count = 0

    def err(self, path: Path_, message: str, *, key: bool = False) -> None:
        self.count += 1
        self.sink.append(self.marks.problem(path, message, key=key))

    def loc(self, path: Path_) -> Loc:
        line, col = self.marks.at(path)
        return Loc(self.marks.file, line, col)


# --------------------------------------------------------------------------- stage 2: schema

_validator = jsonschema.Draft202012Validator(SCHEMA)


def _schema_problems(data: Any, ctx: _Ctx) -> None:
    for e in sorted(_validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        _report_schema_error(e, ctx)


def _report_schema_error(e: jsonschema.ValidationError, ctx: _Ctx) -> None:
    path: Path_ = tuple(e.absolute_path)
    where = fmt_path(path)
    if e.validator == "additionalProperties" and isinstance(e.instance, dict):
        allowed = list(e.schema.get("properties", {}))
        for k in e.instance:
            if k not in allowed:
                hint = difflib.get_close_matches(k, allowed, n=1)
                dym = f" (did you mean {hint[0]!r}?)" if hint else f" (expected one of: {', '.join(allowed)})"
                ctx.err((*path, k), f"unknown key {k!r} in {where}{dym}", key=True)
        return
    if e.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", e.message)
        ctx.err(path, f"{where}: missing required key {missing[0] if missing else e.message!r}")
        return
    if e.validator == "enum":
        choices = ", ".join(map(str, e.validator_value))
        ctx.err(path, f"{where}: {e.instance!r} is not one of {choices}")
        return
    if e.validator == "type":
        ctx.err(path, f"{where}: expected {e.validator_value}, got {e.instance!r}")
        return
    if e.validator == "anyOf" and e.schema is not None and "description" in e.schema:
        ctx.err(path, f"{where}: {e.instance!r} is not valid: {e.schema['description']}")
        return
    if e.validator in ("anyOf", "pattern"):
        ctx.err(path, f"{where}: {e.instance!r} is not a valid value")
        return
    if e.validator in ("maxProperties", "minProperties") and not path:
        ctx.err(path, f"a spec file holds exactly one of {', '.join(SCHEMA['properties'])} at the top")
        return
    ctx.err(path, f"{where}: {e.message}")


# --------------------------------------------------------------------------- helpers

_BITS = re.compile(r"^\s*([0-9]+)\s*(?::\s*([0-9]+)\s*)?$")


def _bits(value: int | str, path: Path_, ctx: _Ctx) -> tuple[int, int] | None:
    """(lsb, width) of ``"msb:lsb"`` or a bit number."""
    if isinstance(value, int):
        return value, 1
    m = _BITS.match(value)
    assert m is not None  # the schema's pattern guarantees it
    msb = int(m.group(1))
    lsb = int(m.group(2)) if m.group(2) is not None else msb
    if msb < lsb:
        ctx.err(path, f"{fmt_path(path)}: bits {value!r} list msb below lsb; write \"{lsb}:{msb}\"")
        return None
    return lsb, msb - lsb + 1


_OPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.LShift: lambda a, b: a << b,
    ast.RShift: lambda a, b: a >> b,
    ast.BitOr: lambda a, b: a | b,
    ast.BitAnd: lambda a, b: a & b,
}


def _expr(value: int | str, params: Mapping[str, int], path: Path_, ctx: _Ctx) -> int | None:
    """An integer, or an arithmetic expression over the device's params."""
    if isinstance(value, int):
        return value
    try:
        tree = ast.parse(value.strip(), mode="eval")
    except SyntaxError:
        ctx.err(path, f"{fmt_path(path)}: cannot read expression {value!r}")
        return None

    def ev(n: ast.AST) -> int:
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            return n.value
        if isinstance(n, ast.Name):
            if n.id not in params:
                hint = difflib.get_close_matches(n.id, list(params), n=1)
                dym = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise ValueError(f"unknown parameter {n.id!r} in {value!r}{dym}")
            return params[n.id]
        if isinstance(n, ast.BinOp) and type(n.op) in _OPS:
            return _OPS[type(n.op)](ev(n.left), ev(n.right))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -ev(n.operand)
        raise ValueError(f"unsupported expression {value!r}")

    try:
        return ev(tree)
    except ValueError as e:
        ctx.err(path, f"{fmt_path(path)}: {e}")
        return None


def _dupes(items: Iterable[tuple[str, Path_]], what: str, ctx: _Ctx) -> None:
    seen: dict[str, Path_] = {}
    for name, path in items:
        if name in seen:
            line, _ = ctx.marks.at(seen[name])
            ctx.err(path, f"{fmt_path(path)}: duplicate {what} name {name!r} (first defined on line {line})")
        else:
            seen[name] = path


# --------------------------------------------------------------------------- devices


def _build_fields(
    raw: list[dict[str, Any]],
    reg_path: Path_,
    reg_name: str,
    width: int,
    reg_access: Access,
    reg_reset: int | None,
    params: Mapping[str, int],
    ctx: _Ctx,
) -> tuple[Field, ...]:
    fields: list[Field] = []
    spans: list[tuple[int, int, str, Path_]] = []
    _dupes(((f["name"], (*reg_path, "fields", i, "name")) for i, f in enumerate(raw)), "field", ctx)
    for i, f in enumerate(raw):
        fp = (*reg_path, "fields", i)
        name = f["name"]
        bits = _bits(f["bits"], (*fp, "bits"), ctx)
        if bits is None:
            continue
        lsb, fw = bits
        if lsb + fw > width:
            ctx.err(
                (*fp, "bits"),
                f"field {reg_name}.{name} bits {f['bits']!r} lie outside the {width}-bit register",
            )
            continue
        access = Access(f.get("access", reg_access.value))
        if reg_access in (Access.RO, Access.RSVD) and "access" in f and access.write_has_effect:
            ctx.err((*fp, "access"), f"field {reg_name}.{name} is {access.value} in a read-only register")
        mask = ((1 << fw) - 1) << lsb
        reset: int | None
        if "reset" in f:
            reset = _expr(f["reset"], params, (*fp, "reset"), ctx)
            if reset is not None and not 0 <= reset < (1 << fw):
                ctx.err(
                    (*fp, "reset"),
                    f"field {reg_name}.{name}: reset {_hex(reset)} does not fit {fw} bit(s)",
                )
                reset = None
            if reset is not None and reg_reset is not None and ((reg_reset & mask) >> lsb) != reset:
                ctx.err(
                    (*fp, "reset"),
                    f"field {reg_name}.{name}: reset {_hex(reset)} disagrees with the register reset "
                    f"{_hex(reg_reset)} (bits give {_hex((reg_reset & mask) >> lsb)})",
                )
        else:
            reset = (reg_reset & mask) >> lsb if reg_reset is not None else 0
        enums: list[EnumValue] = []
        _dupes(
            ((v["name"], (*fp, "values", j, "name")) for j, v in enumerate(f.get("values", []))),
            "enumerated value",
            ctx,
        )
        for j, v in enumerate(f.get("values", [])):
            if v["value"] >= (1 << fw):
                ctx.err(
                    (*fp, "values", j, "value"),
                    f"field {reg_name}.{name}: enumerated value {v['name']} = {_hex(v['value'])} "
                    f"does not fit {fw} bit(s)",
                )
            enums.append(EnumValue(v["name"], v["value"], v.get("description", "")))
        for lo, w, other, opath in spans:
            if lo < lsb + fw and lsb < lo + w:
                line, _ = ctx.marks.at(opath)
                ctx.err(
                    (*fp, "bits"),
                    f"field {reg_name}.{name} bits {f['bits']!r} overlap field {other} (line {line})",
                )
        spans.append((lsb, fw, name, (*fp, "bits")))
        fields.append(
            Field(name, lsb, fw, access, reset or 0, f.get("description", ""), tuple(enums), ctx.loc(fp))
        )
    return tuple(fields)


def _build_registers(
    raw: list[dict[str, Any]],
    base_path: Path_,
    params: Mapping[str, int],
    where: str,
    limit: int,
    ctx: _Ctx,
    *,
    in_window: bool,
) -> tuple[Register, ...]:
    regs: list[Register] = []
    unit = "index" if in_window else "offset"
    occupied: list[tuple[int, int, str, Path_]] = []
    _dupes(((r["name"], (*base_path, i, "name")) for i, r in enumerate(raw)), "register", ctx)
    for i, r in enumerate(raw):
        rp = (*base_path, i)
        name = r["name"]
        width = r.get("width", 32)
        span = width // 32 if in_window else width // 8
        offset = r[unit]
        if not in_window and offset % min(span, 8):
            ctx.err((*rp, unit), f"register {name}: offset {_hex(offset)} is not {span}-byte aligned")
        count = _expr(r.get("count", 1), params, (*rp, "count"), ctx)
        if count is None:
            continue
        if count < 1:
            ctx.err((*rp, "count"), f"register {name}: count {count} must be at least 1")
            continue
        stride = r.get("stride", 0 if count == 1 else span)
        if count > 1 and stride < span:
            ctx.err(
                (*rp, "stride"),
                f"register {name}: stride {_hex(stride)} is smaller than the register ({span} {unit} units)",
            )
            continue
        end = offset + (count - 1) * stride + span
        if end > limit:
            ctx.err(
                (*rp, unit),
                f"register {name} at {unit} {_hex(offset)} (ends {_hex(end)}) lies outside {where} "
                f"(size {_hex(limit)})",
            )
        instances = [(offset + k * stride, span) for k in range(count)]
        for lo, w, other, opath in occupied:
            hit = next((o for o, s in instances if o < lo + w and lo < o + s), None)
            if hit is not None:
                line, _ = ctx.marks.at(opath)
                ctx.err(
                    (*rp, unit),
                    f"register {name} at {unit} {_hex(hit)} overlaps register {other} (line {line})",
                )
                break
        occupied.extend((o, s, name, (*rp, unit)) for o, s in instances)
        access = Access(r.get("access", "rw"))
        reset = None
        if "reset" in r:
            reset = _expr(r["reset"], params, (*rp, "reset"), ctx)
            if reset is not None and not 0 <= reset < (1 << width):
                ctx.err((*rp, "reset"), f"register {name}: reset {_hex(reset)} does not fit {width} bits")
                reset = None
        fields = _build_fields(r.get("fields", []), rp, name, width, access, reset, params, ctx)
        if reset is None:
            reset = 0
            for f in fields:
                reset |= f.reset << f.lsb
        regs.append(
            Register(
                name,
                offset,
                width,
                access,
                reset,
                r.get("description", ""),
                fields,
                count,
                stride if count > 1 else 0,
                ctx.loc(rp),
            )
        )
    return tuple(regs)


def _build_device(data: dict[str, Any], expect: str, ctx: _Ctx) -> Device | None:
    d = data["device"]
    p: Path_ = ("device",)
    start = ctx.count
    if d["name"] != expect:
        ctx.err((*p, "name"), f"device.name is {d['name']!r} but this file describes the {expect!r} device")
    params: dict[str, int] = dict(d.get("params", {}))
    for pname, (lo, hi) in REQUIRED_PARAMS[expect].items():
        if pname not in params:
            ctx.err((*p, "params"), f"device.params: the {expect} needs parameter {pname!r}")
        elif not lo <= params[pname] <= hi:
            ctx.err(
                (*p, "params", pname),
                f"device.params.{pname}: {_hex(params[pname])} is outside {_hex(lo)}..{_hex(hi)}",
            )
    size = d["size"]
    if size > (1 << d["address_width"]):
        ctx.err((*p, "size"), f"device.size {_hex(size)} needs more than address_width {d['address_width']} bits")
    regs = _build_registers(d["registers"], (*p, "registers"), params, "the device", size, ctx, in_window=False)
    names = {r.name for r in regs}
    windows: list[Window] = []
    for i, w in enumerate(d.get("windows", [])):
        wp = (*p, "windows", i)
        for key in ("select", "data"):
            if w[key] not in names:
                hint = difflib.get_close_matches(w[key], sorted(names), n=1)
                dym = f" (did you mean {hint[0]!r}?)" if hint else ""
                ctx.err((*wp, key), f"window {w['name']}: {key} register {w[key]!r} is not defined{dym}")
        sel = next((r for r in regs if r.name == w["select"]), None)
        limit = 1 << (sel.fields[0].width if sel is not None and sel.fields else 8)
        wregs = _build_registers(
            w["registers"], (*wp, "registers"), params, f"the {limit}-entry window", limit, ctx, in_window=True
        )
        windows.append(Window(w["name"], w["select"], w["data"], wregs, w.get("description", ""), ctx.loc(wp)))
    inst = [(ri.name, r) for r in regs for ri in r.instances()]
    seen: dict[str, str] = {}
    for iname, r in inst:
        if iname in seen and seen[iname] != r.name:
            ctx.err(("device", "registers"), f"register instance name {iname!r} is used by {seen[iname]} and {r.name}")
        seen[iname] = r.name
    if ctx.count != start:
        return None
    return Device(
        d["name"],
        d["bus"],
        d["address_width"],
        size,
        d.get("data_width", 32),
        params,
        regs,
        tuple(windows),
        d.get("description", ""),
        ctx.loc(p),
    )


# --------------------------------------------------------------------------- vectors

_KIND_NAMES = {k.value for k in VectorKind}


def _build_vectors(data: dict[str, Any], ctx: _Ctx) -> VectorMap | None:
    v = data["vectors"]
    start = ctx.count
    owner: dict[int, tuple[str, Path_]] = {}
    vectors: list[Vector] = []
    _dupes(
        [(e["name"], ("vectors", "entries", i, "name")) for i, e in enumerate(v["entries"])]
        + [(r["name"], ("vectors", "ranges", i, "name")) for i, r in enumerate(v.get("ranges", []))],
        "vector",
        ctx,
    )

    def claim(n: int, name: str, path: Path_) -> None:
        if n in owner:
            oname, opath = owner[n]
            line, _ = ctx.marks.at(opath)
            ctx.err(path, f"vector {_hex(n)} of {name} collides with {oname} (line {line})")
        else:
            owner[n] = (name, path)

    def check_kind(n: int, kind: VectorKind, name: str, path: Path_) -> None:
        if n < 32 and kind not in (VectorKind.EXCEPTION, VectorKind.RESERVED):
            ctx.err(path, f"{name}: exception vector {_hex(n)} (0..0x1f) cannot be used for kind {kind.value!r}")
        if n >= 32 and kind is VectorKind.EXCEPTION:
            ctx.err(path, f"{name}: exception kind needs a vector below 0x20, got {_hex(n)}")

    spurious: list[tuple[int, Path_]] = []
    for i, e in enumerate(v["entries"]):
        ep: Path_ = ("vectors", "entries", i)
        n = e["number"]
        if not 0 <= n <= 255:
            ctx.err((*ep, "number"), f"{e['name']}: vector {_hex(n)} is outside 0..0xff")
            continue
        kind = VectorKind(e["kind"])
        check_kind(n, kind, e["name"], (*ep, "number"))
        claim(n, e["name"], (*ep, "number"))
        if kind is VectorKind.EXCEPTION and "class" not in e:
            ctx.err(ep, f"{e['name']}: an exception needs a class (fault, trap, abort, interrupt)")
        if kind is not VectorKind.EXCEPTION:
            for k in ("class", "error_code"):
                if k in e:
                    ctx.err((*ep, k), f"{e['name']}: {k!r} applies only to exceptions, not kind {kind.value!r}")
        if kind is VectorKind.SPURIOUS:
            spurious.append((n, (*ep, "number")))
        vectors.append(
            Vector(
                n,
                e["name"],
                kind,
                e.get("description", ""),
                e.get("mnemonic", ""),
                ExcClass(e["class"]) if "class" in e else None,
                bool(e.get("error_code", False)),
                e.get("ist", 0),
                e.get("dpl", 0),
                GateType(e.get("gate", "interrupt")),
                ctx.loc(ep),
            )
        )
    ranges: list[VectorRange] = []
    for i, r in enumerate(v.get("ranges", [])):
        rp: Path_ = ("vectors", "ranges", i)
        first, last = r["first"], r["last"]
        bad = False
        for key, n in (("first", first), ("last", last)):
            if not 0 <= n <= 255:
                ctx.err((*rp, key), f"range {r['name']}: {key} {_hex(n)} is outside 0..0xff")
                bad = True
        if bad:
            continue
        if last < first:
            ctx.err((*rp, "last"), f"range {r['name']}: last {_hex(last)} is below first {_hex(first)}")
            continue
        kind = VectorKind(r["kind"])
        for n in range(first, last + 1):
            check_kind(n, kind, f"range {r['name']}", (*rp, "first"))
            if n < 32 and kind is not VectorKind.RESERVED:
                break
        for n in range(first, last + 1):
            if n in owner:
                claim(n, f"range {r['name']}", (*rp, "first"))
                break
        for n in range(first, last + 1):
            owner.setdefault(n, (f"range {r['name']}", (*rp, "first")))
        ranges.append(VectorRange(r["name"], first, last, kind, r.get("description", ""), ctx.loc(rp)))
    if not spurious:
        ctx.err(("vectors", "entries"), "vectors.entries: no vector of kind 'spurious' (the SVR needs one)")
    for n, path in spurious:
        if n & 0xF != 0xF:
            ctx.err(path, f"spurious vector {_hex(n)}: its low nibble must be 0xf (e.g. {_hex(n | 0xF)})")
    if len(spurious) > 1:
        ctx.err(spurious[1][1], "more than one vector of kind 'spurious'")
    if ctx.count != start:
        return None
    return VectorMap(tuple(vectors), tuple(ranges), v.get("description", ""))


# --------------------------------------------------------------------------- idt


def _build_idt(data: dict[str, Any], ctx: _Ctx) -> Idt | None:
    d = data["idt"]
    start = ctx.count
    layouts: list[GateLayout] = []
    modes: dict[int, Path_] = {}
    for i, lay in enumerate(d["layouts"]):
        lp: Path_ = ("idt", "layouts", i)
        if lay["mode"] in modes:
            ctx.err((*lp, "mode"), f"layout {lay['name']}: a layout for {lay['mode']}-bit mode already exists")
        modes[lay["mode"]] = lp
        want = 16 if lay["mode"] == 64 else 8
        if lay["size"] != want:
            ctx.err((*lp, "size"), f"layout {lay['name']}: {lay['mode']}-bit gates are {want} bytes, not {lay['size']}")
        fields: list[GateField] = []
        _dupes(((f["name"], (*lp, "fields", j, "name")) for j, f in enumerate(lay["fields"])), "gate field", ctx)
        for j, f in enumerate(lay["fields"]):
            fp = (*lp, "fields", j)
            b = _bits(f["bits"], (*fp, "bits"), ctx)
            if b is None:
                continue
            lsb, w = b
            if lsb + w > lay["size"] * 8:
                ctx.err((*fp, "bits"), f"gate field {f['name']} bits {f['bits']!r} lie outside the {lay['size']}-byte gate")
                continue
            for o in fields:
                if o.lsb < lsb + w and lsb < o.lsb + o.width:
                    ctx.err((*fp, "bits"), f"gate field {f['name']} bits {f['bits']!r} overlap gate field {o.name}")
            fields.append(GateField(f["name"], lsb, w, f.get("description", "")))
        names = {f.name for f in fields}
        for need in ("segment", "type", "dpl", "p"):
            if need not in names:
                ctx.err((*lp, "fields"), f"layout {lay['name']}: gate field {need!r} is required")
        total = 0
        for j, part in enumerate(lay["offset_parts"]):
            if part not in names:
                ctx.err((*lp, "offset_parts", j), f"layout {lay['name']}: offset part {part!r} is not a field")
            else:
                total += next(f.width for f in fields if f.name == part)
        if ctx.count == start and total != lay["mode"]:
            ctx.err((*lp, "offset_parts"), f"layout {lay['name']}: offset parts hold {total} bits, need {lay['mode']}")
        tf = next((f for f in fields if f.name == "type"), None)
        if tf is not None:
            for gname, gval in d["gate_types"].items():
                if gval >= 1 << tf.width:
                    ctx.err(("idt", "gate_types", gname), f"gate type {gname} = {_hex(gval)} does not fit the {tf.width}-bit type field")
        layouts.append(
            GateLayout(
                lay["name"], lay["mode"], lay["size"], tuple(fields), tuple(lay["offset_parts"]),
                lay.get("description", ""), ctx.loc(lp),
            )
        )
    if 64 not in modes:
        ctx.err(("idt", "layouts"), "idt.layouts: a 64-bit (mode: 64) gate layout is required")
    if ctx.count != start:
        return None
    return Idt(
        d["entries"],
        d["kernel_cs"],
        {GateType(k): v for k, v in d["gate_types"].items()},
        tuple(layouts),
        d.get("idtr_limit_bits", 16),
        d.get("description", ""),
    )


# --------------------------------------------------------------------------- platform


def _build_platform(data: dict[str, Any], ctx: _Ctx) -> Platform | None:
    d = data["platform"]
    start = ctx.count
    cpus: list[Cpu] = []
    ids: dict[int, int] = {}
    for i, c in enumerate(d["cpus"]):
        cp: Path_ = ("platform", "cpus", i, "apic_id")
        a = c["apic_id"]
        if a >= 0xFF:
            ctx.err(cp, f"cpu {i}: APIC ID {_hex(a)} is not a unicast xAPIC ID (0..0xfe)")
        elif a in ids:
            ctx.err(cp, f"cpu {i}: APIC ID {_hex(a)} is already used by cpu {ids[a]}")
        ids[a] = i
        cpus.append(Cpu(i, a, ctx.loc(cp)))
    amap = {k: (v["base"], v["size"]) for k, v in d["address_map"].items()}
    items = sorted(amap.items(), key=lambda kv: kv[1][0])
    for (n1, (b1, s1)), (n2, (b2, _)) in zip(items, items[1:], strict=False):
        if b1 + s1 > b2:
            ctx.err(("platform", "address_map", n2, "base"), f"address_map.{n2} at {_hex(b2)} overlaps {n1} ({_hex(b1)}..{_hex(b1 + s1 - 1)})")
    for k, (b, s) in amap.items():
        if b + s > 1 << 32:
            ctx.err(("platform", "address_map", k, "base"), f"address_map.{k}: {_hex(b)} + {_hex(s)} exceeds the 32-bit address space")
        if s & (s - 1) or b % s:
            ctx.err(("platform", "address_map", k, "size"), f"address_map.{k}: size {_hex(s)} must be a power of two and the base aligned to it")
    wiring = d.get("irq_wiring", {})
    isa: dict[int, int] = {}
    for i, o in enumerate(wiring.get("isa_overrides", [])):
        if o["isa_irq"] > 15:
            ctx.err(("platform", "irq_wiring", "isa_overrides", i, "isa_irq"), f"ISA IRQ {o['isa_irq']} is outside 0..15")
        isa[o["isa_irq"]] = o["pin"]
    leg = wiring.get("hpet_legacy", {"timer0": 2, "timer1": 8})
    if ctx.count != start:
        return None
    return Platform(
        d["name"],
        tuple(cpus),
        d["clock_hz"],
        amap,
        isa,
        (leg["timer0"], leg["timer1"]),
        d.get("hz", 1000),
        d.get("description", ""),
    )


# --------------------------------------------------------------------------- whole directory


@dataclass
class _Loaded:
    data: Any
    ctx: _Ctx


def load(spec_dir: Path | str | None = None) -> Spec:
    """Load and validate a spec directory (default: the shipped specs).

    Raises :class:`SpecError` listing every problem found.
    """
    sdir = Path(spec_dir) if spec_dir is not None else DEFAULT_DIR
    problems: list[Problem] = []
    loaded: dict[str, _Loaded] = {}
    digest = hashlib.sha256()
    if not sdir.is_dir():
        raise SpecError([Problem(str(sdir), 1, 1, "spec directory does not exist")])
    for fname in sorted(FILES):
        path = sdir / fname
        shown = _shown(path, sdir, spec_dir is None)
        if not path.is_file():
            problems.append(Problem(shown, 1, 1, f"missing spec file {fname}"))
            continue
        raw = path.read_bytes()
        digest.update(fname.encode() + b"\0" + raw + b"\0")
        try:
            data, marks = load_yaml(raw.decode("utf-8"), shown)
        except UnicodeDecodeError as e:
            problems.append(Problem(shown, 1, 1, f"not UTF-8 text: {e.reason}"))
            continue
        except YamlError as e:
            problems.append(e.problem)
            continue
        ctx = _Ctx(marks, problems)
        if not isinstance(data, dict):
            ctx.err((), f"{fname} must hold a mapping with the key {FILES[fname]!r}")
            continue
        _schema_problems(data, ctx)
        if ctx.count:
            continue
        if FILES[fname] not in data:
            ctx.err((next(iter(data)),), f"{fname} must hold the key {FILES[fname]!r}, found {next(iter(data))!r}", key=True)
            continue
        loaded[fname] = _Loaded(data, ctx)
    built: dict[str, Any] = {}
    builders: dict[str, Callable[[_Loaded], Any]] = {
        "idt.yaml": lambda x: _build_idt(x.data, x.ctx),
        "vectors.yaml": lambda x: _build_vectors(x.data, x.ctx),
        "lapic.yaml": lambda x: _build_device(x.data, "lapic", x.ctx),
        "ioapic.yaml": lambda x: _build_device(x.data, "ioapic", x.ctx),
        "hpet.yaml": lambda x: _build_device(x.data, "hpet", x.ctx),
        "platform.yaml": lambda x: _build_platform(x.data, x.ctx),
    }
    for fname, item in loaded.items():
        built[fname] = builders[fname](item)
    if not problems and all(built.get(f) is not None for f in FILES):
        _cross_checks(built, loaded, problems)
    if problems:
        raise SpecError(problems)
    return Spec(
        idt=built["idt.yaml"],
        vectors=built["vectors.yaml"],
        lapic=built["lapic.yaml"],
        ioapic=built["ioapic.yaml"],
        hpet=built["hpet.yaml"],
        platform=built["platform.yaml"],
        digest=digest.hexdigest(),
        source="irqforge default specs" if spec_dir is None else sdir.name,
    )


def _shown(path: Path, sdir: Path, default: bool) -> str:
    """File name as shown in messages: relative, never an absolute path of this machine."""
    if default:
        return f"spec/default/{path.name}"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _cross_checks(built: dict[str, Any], loaded: dict[str, _Loaded], problems: list[Problem]) -> None:
    plat: Platform = built["platform.yaml"]
    hpet: Device = built["hpet.yaml"]
    ioapic: Device = built["ioapic.yaml"]
    vectors: VectorMap = built["vectors.yaml"]
    pctx = loaded["platform.yaml"].ctx
    hctx = loaded["hpet.yaml"].ctx
    period = hpet.param("period_fs")
    if period * plat.clock_hz != 10**15:
        hctx.err(
            ("device", "params", "period_fs"),
            f"device.params.period_fs: {period} fs per tick is {10**15 / period:.6g} Hz, but the HPET counts "
            f"platform clock_hz {plat.clock_hz} (platform.yaml); set period_fs to {10**15 // plat.clock_hz}",
        )
    pins = ioapic.param("pins")
    for i, (irq, pin) in enumerate(plat.isa_irq_pins.items()):
        if pin >= pins:
            pctx.err(("platform", "irq_wiring", "isa_overrides", i, "pin"), f"ISA IRQ {irq} → pin {pin}, but the IO-APIC has {pins} pins")
    for t, pin in zip(("timer0", "timer1"), plat.hpet_legacy_pins, strict=True):
        if pin >= pins:
            pctx.err(("platform", "irq_wiring", "hpet_legacy", t), f"hpet_legacy.{t} → pin {pin}, but the IO-APIC has {pins} pins")
    for dev in (built["lapic.yaml"], ioapic, hpet):
        base, size = plat.address_map[dev.name]
        if size < dev.size:
            pctx.err(("platform", "address_map", dev.name, "size"), f"address_map.{dev.name}: window {size:#x} is smaller than the {dev.name} register page {dev.size:#x}")
    if vectors is not None and vectors.spurious is None:  # pragma: no cover - guarded above
        pass


def load_default() -> Spec:
    """The specs shipped with irqforge."""
    return load(None)


def spec_files(spec_dir: Path | None) -> list[Path]:
    sdir = spec_dir or DEFAULT_DIR
    return [sdir / f for f in sorted(FILES)]
