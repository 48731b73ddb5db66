"""Spec directory → validated :class:`~irqforge.spec.model.Spec`.

Three stages, each collecting every problem before anything fails:

1. YAML with marks (:mod:`.yamlload`),
2. structure against the JSON Schema (:mod:`.schema`), unknown keys with a
   "did you mean",
3. semantics while building the frozen model: widths, overlaps, resets,
   duplicates, vector collisions; then cross-file agreement between the files
   that built cleanly,
4. what the consumers need (:mod:`.consumers`): names the RTL, the models
   and the software stack look up, C names that would collide, gate structs.

Stages 1-3 of each file are cached by the file's bytes. A schema error skips
only the list item it lies in (a register, a field, a vector), so the rest
of that file is still checked. The loader's limits (file size, nesting,
aliases, tags, 64-bit integers: :mod:`.yamlload`; expression length and
value, array counts: here) are checked before the work that grows with them.

Every message starts with the document path of the bad value and quotes the
value; its position (``FILE:LINE:COL``, 1-based) is the offending value, or
the key for an unknown or repeated key. ``tests/spec/test_messages.py`` pins
each message.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import difflib
import functools
import hashlib
import itertools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from .access import Access
from .consumers import REQUIRED_PARAMS
from .consumers import check as consumer_problems
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
    Msr,
    MsrMode,
    Platform,
    Register,
    Spec,
    Vector,
    VectorKind,
    VectorMap,
    VectorRange,
    Window,
    X2Apic,
    X2Register,
)
from .schema import FILES, file_schema
from .yamlload import MAX_FILE_BYTES, Marks, Path_, YamlError, fmt_path, load_yaml

__all__ = ["DEFAULT_DIR", "EXAMPLES_DIR", "REQUIRED_PARAMS", "fmt_path", "load", "load_default", "spec_files"]

_PACKAGE_DIR = Path(__file__).parent
DEFAULT_DIR = _PACKAGE_DIR / "default"
EXAMPLES_DIR = _PACKAGE_DIR / "examples"
"""Alternative spec directories shipped with irqforge (``linux-2.6``: the 2.6-era vector map)."""


def _hex(v: object) -> str:
    return f"{v:#x}" if isinstance(v, int) and not isinstance(v, bool) else repr(v)


def _quote(v: object, limit: int = 40) -> str:
    """``repr`` of a bad value, shortened when it is a whole list or mapping."""
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 4] + " ..." + text[-1]


class _Ctx:
    """Problem collector for one file."""

    def __init__(self, marks: Marks, sink: list[Problem]) -> None:
        self.marks = marks
        self.sink = sink
        self.count = 0
        # required device params that are missing: already reported once, so
        # expressions using them stay quiet
        self.missing_params: set[str] = set()
        # list items with schema errors (already reported): the builders skip them
        self.skip: set[Path_] = set()

    def skipped(self, path: Path_) -> bool:
        """Whether ``path`` lies in a list item that the schema refused."""
        return bool(self.skip) and any(tuple(path[:n]) in self.skip for n in range(1, len(path) + 1))

    def err(self, path: Path_, message: str, *, key: bool = False, where: Path_ | None = None) -> None:
        """Report ``message`` at the value (or key) at ``path``; the text starts
        with the document path ``where`` (default ``path``)."""
        self.count += 1
        text = f"{fmt_path(path if where is None else where)}: {message}"
        self.sink.append(self.marks.problem(path, text, key=key))

    def num(self, path: Path_, value: int) -> str:
        """``value`` as the user wrote it at ``path`` (``100`` stays ``100``,
        ``0x64`` stays ``0x64``); hex when it was computed."""
        text = self.marks.texts.get(tuple(path))
        return text if text is not None else _hex(value)

    def line(self, path: Path_) -> int:
        return self.marks.at(path)[0]

    def loc(self, path: Path_) -> Loc:
        line, col = self.marks.at(path)
        return Loc(self.marks.file, line, col)


# --------------------------------------------------------------------------- stage 2: schema


def _is_integer(checker: Any, instance: object) -> bool:
    """JSON Schema calls 7.0 an integer; a spec means 7, so only ints are."""
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@functools.cache
def _validator(key: str) -> jsonschema.protocols.Validator:
    """The (cached) validator of a file holding ``key``."""
    return _Validator(file_schema(key))


_TYPE_WORDS = {
    "integer": "an integer",
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
}


def _schema_problems(data: Any, key: str, ctx: _Ctx) -> list[Path_]:
    """Report every schema error; the document paths of the errors."""
    errors = sorted(_validator(key).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    # a misspelt required key is one mistake: report the unknown key with its
    # "did you mean", not also the missing key it was meant to be
    meant: set[Path_] = set()
    for e in errors:
        if e.validator == "additionalProperties" and isinstance(e.instance, dict):
            for k in e.instance:
                hint = _did_you_mean(k, e.schema)
                if hint is not None:
                    meant.add((*e.absolute_path, hint))
    for e in errors:
        _report_schema_error(e, ctx, meant)
    return [tuple(e.absolute_path) for e in errors]


def _bad_items(paths: list[Path_]) -> set[Path_] | None:
    """The list items (a register, a field, a vector …) that hold the schema
    errors at ``paths``: skipped while the rest of the file is still checked.
    None when an error lies outside every list item (the file cannot be built)."""
    items: set[Path_] = set()
    for path in paths:
        last = max((i for i, part in enumerate(path) if isinstance(part, int)), default=None)
        if last is None:
            return None
        items.add(tuple(path[: last + 1]))
    return items


def _did_you_mean(k: str, schema: Mapping[str, Any]) -> str | None:
    allowed = list(schema.get("properties", {}))
    if k in allowed:
        return None
    hint = difflib.get_close_matches(k, allowed, n=1)
    return hint[0] if hint else None


def _report_schema_error(e: jsonschema.ValidationError, ctx: _Ctx, meant: set[Path_] | None = None) -> None:
    path: Path_ = tuple(e.absolute_path)
    v = e.instance
    if e.validator == "additionalProperties" and isinstance(v, dict):
        allowed = list(e.schema.get("properties", {}))
        for k in v:
            if k not in allowed:
                hint = _did_you_mean(k, e.schema)
                dym = f"did you mean {hint!r}?" if hint else f"expected one of: {', '.join(allowed)}"
                ctx.err((*path, k), f"unknown key {k!r} ({dym})", key=True, where=path)
        return
    if e.validator == "required":
        for k in e.validator_value:
            if k not in v and (*path, k) not in (meant or set()):
                ctx.err(path, f"missing required key {k!r}")
        return
    if e.validator == "enum":
        ctx.err(path, f"{_quote(v)} is not one of {', '.join(map(str, e.validator_value))}")
        return
    if e.validator == "type":
        ctx.err(path, f"expected {_TYPE_WORDS.get(e.validator_value, e.validator_value)}, got {_quote(v)}")
        return
    if e.validator in ("anyOf", "pattern") and "description" in e.schema:
        ctx.err(path, f"{_quote(v)} is not {e.schema['description']}")
        return
    if e.validator == "minimum":
        ctx.err(path, f"{ctx.num(path, v)} is below the minimum {e.validator_value!r}")
        return
    if e.validator == "maximum":
        ctx.err(path, f"{ctx.num(path, v)} is above the maximum {e.validator_value!r}")
        return
    if e.validator == "minItems":
        ctx.err(path, f"needs at least {e.validator_value} item(s), got {len(v)}")
        return
    # a keyword the schema may use some day: jsonschema's own words
    ctx.err(path, e.message)


# --------------------------------------------------------------------------- helpers

_BITS = re.compile(r"^\s*([0-9]+)\s*(?::\s*([0-9]+)\s*)?$")


def _bits(value: int | str, path: Path_, ctx: _Ctx) -> tuple[int, int] | None:
    """(lsb, width) of ``"msb:lsb"`` or a bit number."""
    if isinstance(value, int):
        return value, 1
    m = _BITS.match(value)
    if m is None:  # pragma: no cover - the schema's pattern has let only these through
        raise AssertionError(value)
    msb = int(m.group(1))
    lsb = int(m.group(2)) if m.group(2) is not None else msb
    if msb < lsb:
        ctx.err(path, f'bits {value!r} put the msb below the lsb; write "{lsb}:{msb}"')
        return None
    return lsb, msb - lsb + 1


_MAX_SHIFT = 64
_MAX_VALUE_BITS = 64
MAX_EXPR_CHARS = 200
"""Longest expression (``"pins - 1"``); a longer one is refused before it is parsed."""
MIN_CYCLES_PER_TICK = 100
"""Fewest clock cycles per software tick (``clock_hz // hz``) the stack runs with."""
MAX_COUNT = 1024
"""Most instances of a register array (the IO-APIC's 240 redirection entries fit)."""

_OPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.LShift: lambda a, b: a << b,
    ast.RShift: lambda a, b: a >> b,
    ast.BitOr: lambda a, b: a | b,
    ast.BitAnd: lambda a, b: a & b,
}


class _Quiet(Exception):
    """An expression uses a parameter whose absence is already reported."""


def _expr(value: int | str, params: Mapping[str, int], path: Path_, ctx: _Ctx) -> int | None:
    """An integer, or an arithmetic expression over the device's params."""
    if isinstance(value, int):
        return value
    if len(value) > MAX_EXPR_CHARS:
        ctx.err(path, f"the expression {_quote(value)} is longer than {MAX_EXPR_CHARS} characters")
        return None
    try:
        tree = ast.parse(value.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        ctx.err(path, f"cannot read the expression {value!r}")
        return None

    def _bounded(v: int) -> int:
        if abs(v) >> _MAX_VALUE_BITS:
            raise ValueError(f"{value!r} reaches a value of more than {_MAX_VALUE_BITS} bits")
        return v

    def ev(n: ast.AST) -> int:
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, int) and not isinstance(n.value, bool):
            return _bounded(n.value)
        if isinstance(n, ast.Name):
            if n.id in ctx.missing_params:
                raise _Quiet
            if n.id not in params:
                hint = difflib.get_close_matches(n.id, list(params), n=1)
                dym = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise ValueError(f"unknown parameter {n.id!r} in {value!r}{dym}")
            return params[n.id]
        if isinstance(n, ast.BinOp) and type(n.op) in _OPS:
            a, b = ev(n.left), ev(n.right)
            if isinstance(n.op, (ast.LShift, ast.RShift)) and not 0 <= b <= _MAX_SHIFT:
                raise ValueError(f"shift by {b} in {value!r} is outside 0..{_MAX_SHIFT}")
            return _bounded(_OPS[type(n.op)](a, b))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -ev(n.operand)
        raise ValueError(f"{value!r} is not an expression irqforge can evaluate (use + - * << >> | & and params)")

    try:
        return ev(tree)
    except _Quiet:
        return None
    except ValueError as e:
        ctx.err(path, str(e))
        return None


def _name(item: Any) -> str | None:
    return item.get("name") if isinstance(item, dict) else None


def _dupes(items: Iterable[tuple[str | None, Path_]], what: str, ctx: _Ctx) -> None:
    seen: dict[str, Path_] = {}
    for name, path in items:
        if ctx.skipped(path) or not isinstance(name, str):
            continue
        if name in seen:
            ctx.err(path, f"duplicate {what} name {name!r} (first defined on line {ctx.line(seen[name])})")
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
    _dupes(((_name(f), (*reg_path, "fields", i, "name")) for i, f in enumerate(raw)), "field", ctx)
    for i, f in enumerate(raw):
        fp = (*reg_path, "fields", i)
        if ctx.skipped(fp):
            continue
        name = f["name"]
        what = f"field {reg_name}.{name}"
        bits = _bits(f["bits"], (*fp, "bits"), ctx)
        if bits is None:
            continue
        lsb, fw = bits
        if lsb + fw > width:
            ctx.err((*fp, "bits"), f"{what} bits {f['bits']!r} lie outside the {width}-bit register")
            continue
        access = Access(f.get("access", reg_access.value))
        if reg_access in (Access.RO, Access.RSVD) and "access" in f and access.write_has_effect:
            ctx.err(
                (*fp, "access"),
                f"{what} access {access.value!r} takes writes, but register {reg_name} is {reg_access.value!r}",
            )
        mask = ((1 << fw) - 1) << lsb
        reset: int | None
        if "reset" in f:
            reset = _expr(f["reset"], params, (*fp, "reset"), ctx)
            if reset is not None and not 0 <= reset < (1 << fw):
                ctx.err((*fp, "reset"), f"{what} reset {ctx.num((*fp, 'reset'), reset)} does not fit {fw} bit(s)")
                reset = None
            if reset is not None and reg_reset is not None and ((reg_reset & mask) >> lsb) != reset:
                ctx.err(
                    (*fp, "reset"),
                    f"{what} reset {_hex(reset)} disagrees with the register reset {_hex(reg_reset)}, "
                    f"which gives {_hex((reg_reset & mask) >> lsb)} for bits {f['bits']!r}",
                )
        else:
            reset = (reg_reset & mask) >> lsb if reg_reset is not None else 0
        enums: list[EnumValue] = []
        _dupes(
            ((_name(v), (*fp, "values", j, "name")) for j, v in enumerate(f.get("values", []))),
            "enumerated value",
            ctx,
        )
        by_value: dict[int, tuple[str, Path_]] = {}
        for j, v in enumerate(f.get("values", [])):
            if ctx.skipped((*fp, "values", j)):
                continue
            shown = ctx.num((*fp, "values", j, "value"), v["value"])
            if v["value"] >= (1 << fw):
                ctx.err(
                    (*fp, "values", j, "value"),
                    f"{what}: enumerated value {v['name']} = {shown} does not fit {fw} bit(s)",
                )
            if v["value"] in by_value:
                first, first_path = by_value[v["value"]]
                ctx.err(
                    (*fp, "values", j, "value"),
                    f"{what}: enumerated value {v['name']} = {shown} is the same value as "
                    f"{first} (line {ctx.line(first_path)})",
                )
            by_value.setdefault(v["value"], (v["name"], (*fp, "values", j, "value")))
            enums.append(EnumValue(v["name"], v["value"], v.get("description", "")))
        for lo, w, other, opath in spans:
            if lo < lsb + fw and lsb < lo + w:
                ctx.err(
                    (*fp, "bits"),
                    f"{what} bits {f['bits']!r} overlap field {reg_name}.{other} (line {ctx.line(opath)})",
                )
                break
        spans.append((lsb, fw, name, (*fp, "bits")))
        fields.append(Field(name, lsb, fw, access, reset or 0, f.get("description", ""), tuple(enums), ctx.loc(fp)))
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
    regs: list[tuple[int, Register]] = []  # with the index in raw
    unit, units = ("index", "indices") if in_window else ("offset", "bytes")
    occupied: list[tuple[int, int, str, Path_]] = []
    _dupes(((_name(r), (*base_path, i, "name")) for i, r in enumerate(raw)), "register", ctx)
    for i, r in enumerate(raw):
        rp = (*base_path, i)
        if ctx.skipped(rp):
            continue
        name = r["name"]
        width = r.get("width", 32)
        span = width // 32 if in_window else width // 8
        offset = r[unit]
        if not in_window and offset % span:
            ctx.err((*rp, unit), f"register {name} offset {ctx.num((*rp, unit), offset)} is not {span}-byte aligned")
        count = _expr(r.get("count", 1), params, (*rp, "count"), ctx)
        if count is None:
            continue
        if not 1 <= count <= MAX_COUNT:
            given = "" if isinstance(r["count"], int) else f"{r['count']!r} = "
            ctx.err((*rp, "count"), f"register {name} count {given}{count} must be 1..{MAX_COUNT}")
            continue
        stride = r.get("stride", span)
        shown_stride = ctx.num((*rp, "stride"), stride)
        if count > 1 and stride < span:
            ctx.err(
                (*rp, "stride"),
                f"register {name} stride {shown_stride} is smaller than the register ({span} {units})",
            )
            continue
        if not in_window and count > 1 and stride % span:
            ctx.err(
                (*rp, "stride"),
                f"register {name} stride {shown_stride} is not a multiple of {span} bytes, "
                "so the instances after the first are misaligned",
            )
            continue
        end = offset + (count - 1) * stride + span
        if end > limit:
            ctx.err(
                (*rp, unit),
                f"register {name} at {unit} {_hex(offset)} (ends {_hex(end)}) lies outside {where} "
                f"(size {_hex(limit)})",
            )
        instances = [(f"{name}{k}" if count > 1 else name, offset + k * stride, span) for k in range(count)]
        for lo, w, other, opath in occupied:
            hit = next(((iname, o) for iname, o, s in instances if o < lo + w and lo < o + s), None)
            if hit is not None:
                ctx.err(
                    (*rp, unit),
                    f"register {hit[0]} at {unit} {_hex(hit[1])} overlaps register {other} at {unit} "
                    f"{_hex(lo)} (line {ctx.line(opath)})",
                )
                break
        occupied.extend((o, s, iname, (*rp, unit)) for iname, o, s in instances)
        access = Access(r.get("access", "rw"))
        reset = None
        if "reset" in r:
            reset = _expr(r["reset"], params, (*rp, "reset"), ctx)
            if reset is not None and not 0 <= reset < (1 << width):
                ctx.err(
                    (*rp, "reset"), f"register {name} reset {ctx.num((*rp, 'reset'), reset)} does not fit {width} bits"
                )
                reset = None
        fields = _build_fields(r.get("fields", []), rp, name, width, access, reset, params, ctx)
        if reset is None:
            reset = 0
            for f in fields:
                reset |= f.reset << f.lsb
        reg = Register(
            name, offset, width, access, reset, r.get("description", ""), fields, count,
            stride if count > 1 else 0, ctx.loc(rp),
        )  # fmt: skip
        regs.append((i, reg))
    # ISR (count 8) makes ISR0..ISR7: no other register may be called ISR3
    owners: dict[str, str] = {}
    for i, reg in regs:
        for inst in reg.instances():
            if inst.name in owners and owners[inst.name] != reg.name:
                ctx.err(
                    (*base_path, i, "name"),
                    f"register {reg.name} makes the name {inst.name!r}, which register "
                    f"{owners[inst.name]} already uses",
                )
                break
            owners.setdefault(inst.name, reg.name)
    return tuple(reg for _, reg in regs)


def _build_device(data: dict[str, Any], expect: str, ctx: _Ctx) -> Device | None:
    d = data["device"]
    p: Path_ = ("device",)
    start = ctx.count
    if d["name"] != expect:
        ctx.err((*p, "name"), f"{d['name']!r}, but this file describes the {expect!r} device")
    params: dict[str, int] = dict(d.get("params", {}))
    for pname, (lo, hi) in REQUIRED_PARAMS[expect].items():
        if pname not in params:
            ctx.err((*p, "params"), f"the {expect} needs the parameter {pname!r}")
            ctx.missing_params.add(pname)
        elif not lo <= params[pname] <= hi:
            ctx.err(
                (*p, "params", pname),
                f"{ctx.num((*p, 'params', pname), params[pname])} is outside {_hex(lo)}..{_hex(hi)}",
            )
    size = d["size"]
    if size > (1 << d["address_width"]):
        ctx.err((*p, "size"), f"{ctx.num((*p, 'size'), size)} does not fit address_width {d['address_width']} bits")
    regs = _build_registers(d["registers"], (*p, "registers"), params, "the device", size, ctx, in_window=False)
    regs_ok = ctx.count == start
    names = {r.name for r in regs}
    windows: list[Window] = []
    _dupes(((_name(w), (*p, "windows", i, "name")) for i, w in enumerate(d.get("windows", []))), "window", ctx)
    for i, w in enumerate(d.get("windows", [])):
        wp = (*p, "windows", i)
        if ctx.skipped(wp):
            continue
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
    msrs = _build_msrs(d, p, params, ctx)
    # the view is checked against registers that built cleanly only (no cascade of errors)
    x2apic = _build_x2apic(d, p, params, regs, size, msrs, ctx) if "x2apic" in d and regs_ok else None
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
        msrs,
        x2apic,
    )


def _build_msrs(d: dict[str, Any], p: Path_, params: Mapping[str, int], ctx: _Ctx) -> tuple[Msr, ...]:
    """The device's ``msrs``: 64-bit registers by MSR number, with their modes and transitions."""
    raw = d.get("msrs", [])
    if raw and d["name"] != "lapic":
        ctx.err((*p, "msrs"), f"only the lapic has MSRs, not the {d['name']}")
        return ()
    out: list[Msr] = []
    _dupes(((_name(r), (*p, "msrs", i, "name")) for i, r in enumerate(raw)), "MSR", ctx)
    seen: dict[int, tuple[str, Path_]] = {}
    for i, r in enumerate(raw):
        rp = (*p, "msrs", i)
        if ctx.skipped(rp):
            continue
        name = r["name"]
        if r["address"] in seen:
            other, opath = seen[r["address"]]
            ctx.err(
                (*rp, "address"),
                f"MSR {name} address {ctx.num((*rp, 'address'), r['address'])} is the address of MSR {other} "
                f"(line {ctx.line(opath)})",
            )
        seen.setdefault(r["address"], (name, (*rp, "address")))
        fields = _build_fields(r.get("fields", []), rp, name, 64, Access.RW, None, params, ctx)
        reset = 0
        for f in fields:
            reset |= f.reset << f.lsb
        reg = Register(name, r["address"], 64, Access.RW, reset, r.get("description", ""), fields, 1, 0, ctx.loc(rp))
        fnames = {f.name: f for f in fields}
        modes: list[MsrMode] = []
        _dupes(((_name(m), (*rp, "modes", j, "name")) for j, m in enumerate(r.get("modes", []))), "mode", ctx)
        combos: dict[tuple[tuple[str, int], ...], tuple[str, Path_]] = {}
        for j, m in enumerate(r.get("modes", [])):
            mp = (*rp, "modes", j)
            if ctx.skipped(mp):
                continue
            ok = True
            for fname, fv in m["fields"].items():
                fpath = (*mp, "fields", fname)
                if fname not in fnames:
                    hint = difflib.get_close_matches(fname, sorted(fnames), n=1)
                    dym = f" (did you mean {hint[0]!r}?)" if hint else ""
                    ctx.err(fpath, f"mode {m['name']}: MSR {name} has no field {fname!r}{dym}", key=True)
                    ok = False
                elif fv >= 1 << fnames[fname].width:
                    ctx.err(
                        fpath,
                        f"mode {m['name']}: {ctx.num(fpath, fv)} does not fit field {name}.{fname} "
                        f"({fnames[fname].width} bit(s))",
                    )
                    ok = False
            if not m["fields"]:
                ctx.err((*mp, "fields"), f"mode {m['name']} selects no field values")
                ok = False
            combo = tuple(sorted(m["fields"].items()))
            if ok and combo in combos:
                other, opath = combos[combo]
                ctx.err((*mp, "fields"), f"mode {m['name']} has the same field values as mode {other} "
                        f"(line {ctx.line(opath)})")
            combos.setdefault(combo, (m["name"], (*mp, "fields")))
            if ok:
                modes.append(MsrMode(m["name"], dict(m["fields"]), m.get("description", "")))
        mode_names = sorted(m["name"] for m in r.get("modes", []))
        transitions: list[tuple[str, str]] = []
        for j, t in enumerate(r.get("transitions", [])):
            tp = (*rp, "transitions", j)
            if ctx.skipped(tp):
                continue
            good = True
            for key in ("from", "to"):
                if t[key] not in mode_names:
                    hint = difflib.get_close_matches(t[key], mode_names, n=1)
                    dym = f" (did you mean {hint[0]!r}?)" if hint else ""
                    ctx.err((*tp, key), f"transition of MSR {name}: mode {t[key]!r} is not defined{dym}")
                    good = False
            if good:
                transitions.append((t["from"], t["to"]))
        if r.get("transitions") and not r.get("modes"):
            ctx.err((*rp, "transitions"), f"MSR {name} has transitions but no modes")
        out.append(Msr(
            name, r["address"], reg, r.get("reserved") == "gp", tuple(modes), tuple(transitions),
            r.get("description", ""), ctx.loc(rp),
        ))  # fmt: skip
    return tuple(out)


def _build_x2apic(
    d: dict[str, Any],
    p: Path_,
    params: Mapping[str, int],
    regs: tuple[Register, ...],
    size: int,
    msrs: tuple[Msr, ...],
    ctx: _Ctx,
) -> X2Apic | None:
    """The x2APIC MSR view: every register as MSR ``msr_base + offset / 16``, changed as listed."""
    x = d["x2apic"]
    xp = (*p, "x2apic")
    if d["name"] != "lapic":
        ctx.err(xp, f"only the lapic has an x2APIC view, not the {d['name']}", key=True)
        return None
    base = x["msr_base"]
    end = base + size // 16
    if end > 1 << 32:
        ctx.err((*xp, "msr_base"), f"{ctx.num((*xp, 'msr_base'), base)} + {_hex(size // 16)} MSRs passes 0xffffffff")
        return None
    for m in msrs:
        if base <= m.address < end:
            ctx.err(
                (*xp, "msr_base"),
                f"the view {_hex(base)}..{_hex(end - 1)} covers MSR {m.name} at {_hex(m.address)}",
            )
    by_name = {r.name: r for r in regs}
    raw = x.get("registers", [])
    _dupes(((_name(r), (*xp, "registers", i, "name")) for i, r in enumerate(raw)), "x2APIC register", ctx)
    changes: dict[str, tuple[dict[str, Any], Path_]] = {}
    extra: list[tuple[dict[str, Any], Path_]] = []
    for i, r in enumerate(raw):
        rp = (*xp, "registers", i)
        if ctx.skipped(rp):
            continue
        name = r["name"]
        if r.get("absent"):
            others = sorted(k for k in r if k not in ("name", "absent", "description"))
            if others:
                ctx.err((*rp, others[0]), f"x2APIC register {name} is absent, so {others[0]!r} means nothing", key=True)
                continue
        if name in by_name:
            if "offset" in r:
                ctx.err((*rp, "offset"), f"x2APIC register {name} is the MMIO register {name}; it keeps its offset",
                        key=True)
                continue
            changes[name] = (r, rp)
        elif "offset" not in r and (name in {_name(x) for x in d["registers"]} or any(
            ctx.skipped((*p, "registers", k)) for k in range(len(d["registers"]))
        )):
            continue  # the register, or one the schema refused, has a problem of its own, reported already
        elif "offset" not in r:
            hint = difflib.get_close_matches(name, sorted(by_name), n=1)
            dym = f" (did you mean {hint[0]!r}?)" if hint else ""
            ctx.err(
                (*rp, "name"), f"{name!r} is not an MMIO register{dym}; a register of the view alone needs an offset"
            )
        elif r.get("absent"):
            ctx.err((*rp, "absent"), f"x2APIC register {name} is not an MMIO register, so it cannot be absent")
        else:
            extra.append((r, rp))
    out: list[X2Register] = []
    used: dict[int, tuple[str, Path_ | None]] = {}

    def take(xr: X2Register, path: Path_ | None) -> None:
        for iname, addr, _ in xr.instances():
            if addr in used:
                other, opath = used[addr]
                line = f" (line {ctx.line(opath)})" if opath is not None else ""
                assert path is not None
                ctx.err(path, f"x2APIC register {iname} at MSR {_hex(addr)} is where {other} lies{line}")
                return
        for iname, addr, _ in xr.instances():
            used[addr] = (iname, path)
        out.append(xr)

    def build(src: Register | None, r: dict[str, Any] | None, rp: Path_ | None) -> X2Register | None:
        name = (r.get("msr_name") if r else None) or (r["name"] if r else None) or (src.name if src else "")
        offset = src.offset if src is not None else (r or {}).get("offset", 0)
        if src is None and rp is not None and (offset % 16 or offset >= size):
            ctx.err((*rp, "offset"), f"x2APIC register {name} offset {ctx.num((*rp, 'offset'), offset)} "
                    f"is not a 16-byte slot of the {_hex(size)}-byte page")
            return None
        width = (r or {}).get("width", src.width if src is not None else 32)
        access = Access((r or {}).get("access", src.access.value if src is not None else "rw"))
        if r is not None and "fields" in r:
            assert rp is not None
            fields = _build_fields(r["fields"], rp, name, width, access, None, params, ctx)
        elif src is not None:
            fields = src.fields
            if any(f.msb >= width for f in fields):
                assert rp is not None
                ctx.err((*rp, "width"), f"x2APIC register {name}: the fields of {src.name} do not fit {width} bits")
                return None
        else:
            fields = ()
        reset = 0
        for f in fields:
            reset |= f.reset << f.lsb
        count = src.count if src is not None else 1
        stride = src.stride if src is not None else 0
        desc = (r or {}).get("description", src.description if src is not None else "")
        reg = Register(name, offset, width, access, reset, desc, fields, count, stride,
                       ctx.loc(rp) if rp is not None else (src.loc if src is not None else None))
        return X2Register(
            name, base + offset // 16, src.name if src is not None else None, reg,
            (r or {}).get("reserved") == "gp", bool((r or {}).get("zero")), desc, reg.loc,
        )

    for r_x, rp_x in extra:
        xr = build(None, r_x, rp_x)
        if xr is not None:
            take(xr, (*rp_x, "offset"))
    for src in regs:
        change = changes.get(src.name)
        r_c = change[0] if change is not None else None
        rp_c = change[1] if change is not None else None
        if r_c is not None and r_c.get("absent"):
            continue
        if r_c is None and ((src.count > 1 and src.stride != 16)
                          or any(base + (src.offset + k * src.stride) // 16 in used for k in range(src.count))):
            continue  # not one slot per instance, or its slot is taken: left out of the view
        xr = build(src, r_c, rp_c)
        if xr is not None:
            take(xr, rp_c if rp_c is not None else (*xp, "msr_base"))
    names: dict[str, Path_] = {}
    for xr in out:
        if xr.name in names:
            ctx.err(names[xr.name], f"two x2APIC registers are called {xr.name}")
        names.setdefault(xr.name, (*xp, "registers"))
    return X2Apic(base, tuple(sorted(out, key=lambda xr: xr.address)), x.get("description", ""), ctx.loc(xp))


# --------------------------------------------------------------------------- vectors

_EXC_OK = (VectorKind.EXCEPTION, VectorKind.RESERVED)


def _build_vectors(data: dict[str, Any], ctx: _Ctx) -> VectorMap | None:
    v = data["vectors"]
    start = ctx.count
    owner: dict[int, tuple[str, Path_]] = {}
    vectors: list[Vector] = []
    _dupes(
        [(_name(e), ("vectors", "entries", i, "name")) for i, e in enumerate(v["entries"])]
        + [(_name(r), ("vectors", "ranges", i, "name")) for i, r in enumerate(v.get("ranges", []))],
        "vector",
        ctx,
    )

    def claim(n: int, name: str, path: Path_) -> None:
        if n in owner:
            oname, opath = owner[n]
            ctx.err(path, f"vector {ctx.num(path, n)} of {name} collides with {oname} (line {ctx.line(opath)})")
        else:
            owner[n] = (name, path)

    spurious: list[tuple[int, Path_]] = []
    for i, e in enumerate(v["entries"]):
        ep: Path_ = ("vectors", "entries", i)
        if ctx.skipped(ep):
            continue
        n, name = e["number"], e["name"]
        shown = ctx.num((*ep, "number"), n)
        if not 0 <= n <= 255:
            ctx.err((*ep, "number"), f"vector {shown} of {name} is outside 0..0xff")
            continue
        kind = VectorKind(e["kind"])
        if n < 32 and kind not in _EXC_OK:
            ctx.err(
                (*ep, "number"),
                f"vector {shown} of {name} is an exception vector (0..0x1f) and cannot be kind {kind.value!r}",
            )
        if n >= 32 and kind is VectorKind.EXCEPTION:
            ctx.err(
                (*ep, "number"),
                f"vector {shown} of {name}: kind 'exception' needs a vector below 0x20",
            )
        claim(n, name, (*ep, "number"))
        if kind is VectorKind.EXCEPTION and "class" not in e:
            ctx.err(ep, f"exception {name} needs a class (fault, trap, abort or interrupt)")
        if kind is not VectorKind.EXCEPTION:
            for k in ("class", "error_code"):
                if k in e:
                    ctx.err((*ep, k), f"{k!r} applies only to exceptions, and {name} is kind {kind.value!r}", key=True)
        if kind is VectorKind.SPURIOUS:
            spurious.append((n, (*ep, "number")))
        vectors.append(
            Vector(
                n,
                name,
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
        if ctx.skipped(rp):
            continue
        first, last, name = r["first"], r["last"], r["name"]
        bad = False
        for key, n in (("first", first), ("last", last)):
            if not 0 <= n <= 255:
                ctx.err((*rp, key), f"{key} vector {ctx.num((*rp, key), n)} of range {name} is outside 0..0xff")
                bad = True
        if bad:
            continue
        if last < first:
            ctx.err((*rp, "last"), f"range {name} ends at {_hex(last)}, below its first vector {_hex(first)}")
            continue
        kind = VectorKind(r["kind"])
        if first < 32 and kind not in _EXC_OK:
            ctx.err(
                (*rp, "first"),
                f"range {name} starts at {_hex(first)} among the exception vectors (0..0x1f) "
                f"and cannot be kind {kind.value!r}",
            )
        if last >= 32 and kind is VectorKind.EXCEPTION:
            ctx.err((*rp, "last"), f"range {name} ends at {_hex(last)}: kind 'exception' needs vectors below 0x20")
        hit = next((n for n in range(first, last + 1) if n in owner), None)
        if hit is not None:
            # at the end that reaches into the other vector, or the whole range
            claim(hit, f"range {name}", (*rp, "first") if hit == first else (*rp, "last") if hit == last else rp)
        for n in range(first, last + 1):
            owner.setdefault(n, (f"range {name}", (*rp, "first")))
        ranges.append(VectorRange(name, first, last, kind, r.get("description", ""), ctx.loc(rp)))
    if not spurious:
        ctx.err(("vectors", "entries"), "no vector of kind 'spurious' (the LAPIC's SVR needs one)")
    for n, path in spurious:
        if n & 0xF != 0xF:
            ctx.err(path, f"spurious vector {_hex(n)}: its low nibble must be 0xf (e.g. {_hex(n | 0xF)})")
    for n, path in spurious[1:]:
        ctx.err(path, f"spurious vector {_hex(n)}: there is already one (line {ctx.line(spurious[0][1])})")
    if ctx.count != start:
        return None
    return VectorMap(tuple(vectors), tuple(ranges), v.get("description", ""))


# --------------------------------------------------------------------------- idt

_GATE_FIELDS = ("segment", "type", "dpl", "p")


def _build_layout(lay: dict[str, Any], lp: Path_, gate_types: Mapping[str, int], ctx: _Ctx) -> GateLayout | None:
    start = ctx.count
    name = lay["name"]
    want = 16 if lay["mode"] == 64 else 8
    if lay["size"] != want:
        ctx.err((*lp, "size"), f"layout {name}: {lay['mode']}-bit gates are {want} bytes, not {lay['size']}")
    fields: list[GateField] = []
    paths: dict[str, Path_] = {}
    _dupes(((_name(f), (*lp, "fields", j, "name")) for j, f in enumerate(lay["fields"])), "gate field", ctx)
    for j, f in enumerate(lay["fields"]):
        fp = (*lp, "fields", j, "bits")
        if ctx.skipped(fp):
            continue
        b = _bits(f["bits"], fp, ctx)
        if b is None:
            continue
        lsb, w = b
        if lsb + w > lay["size"] * 8:
            ctx.err(fp, f"gate field {f['name']} bits {f['bits']!r} lie outside the {lay['size']}-byte gate")
            continue
        o = next((o for o in fields if o.lsb < lsb + w and lsb < o.lsb + o.width), None)
        if o is not None:
            ctx.err(
                fp,
                f"gate field {f['name']} bits {f['bits']!r} overlap gate field {o.name} "
                f"(line {ctx.line(paths[o.name])})",
            )
        fields.append(GateField(f["name"], lsb, w, f.get("description", "")))
        paths.setdefault(f["name"], fp)
    named = {_name(f) for f in lay["fields"]}  # also those whose bits are wrong: reported above
    for need in _GATE_FIELDS:
        if need not in named:
            ctx.err((*lp, "fields"), f"layout {name} has no gate field {need!r}")
    for j, part in enumerate(lay["offset_parts"]):
        if ctx.skipped((*lp, "offset_parts", j)):
            continue
        if part not in named:
            ctx.err((*lp, "offset_parts", j), f"offset part {part!r} is not a gate field of layout {name}")
    if ctx.count != start:
        return None
    widths = {f.name: f.width for f in fields}
    total = sum(widths[part] for part in lay["offset_parts"])
    if total != lay["mode"]:
        ctx.err(
            (*lp, "offset_parts"),
            f"the offset parts of layout {name} hold {total} bits; a {lay['mode']}-bit gate needs {lay['mode']}",
        )
    tw = widths["type"]
    big = next(((g, v) for g, v in gate_types.items() if v >= 1 << tw), None)
    if big is not None:
        ctx.err(
            paths["type"],
            f"the {tw}-bit type field of layout {name} cannot hold gate type {big[0]} = {_hex(big[1])}",
        )
    if ctx.count != start:
        return None
    return GateLayout(
        name, lay["mode"], lay["size"], tuple(fields), tuple(lay["offset_parts"]),
        lay.get("description", ""), ctx.loc(lp),
    )  # fmt: skip


def _build_idt(data: dict[str, Any], ctx: _Ctx) -> Idt | None:
    d = data["idt"]
    start = ctx.count
    layouts: list[GateLayout] = []
    modes: dict[int, Path_] = {}
    for i, lay in enumerate(d["layouts"]):
        lp: Path_ = ("idt", "layouts", i)
        if ctx.skipped(lp):
            continue
        if lay["mode"] in modes:
            ctx.err(
                (*lp, "mode"),
                f"layout {lay['name']}: there is already a {lay['mode']}-bit layout "
                f"(line {ctx.line(modes[lay['mode']])})",
            )
        modes.setdefault(lay["mode"], (*lp, "mode"))
        built = _build_layout(lay, lp, d["gate_types"], ctx)
        if built is not None:
            layouts.append(built)
    if 64 not in modes:
        ctx.err(("idt", "layouts"), "a 64-bit (mode: 64) gate layout is required")
    types: dict[int, str] = {}
    for gname, gval in d["gate_types"].items():
        if gval in types:
            ctx.err(
                ("idt", "gate_types", gname),
                f"gate type {gname} = {_hex(gval)} is the same value as gate type {types[gval]}",
            )
        types.setdefault(gval, gname)
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
        if ctx.skipped(cp):
            continue
        a = c["apic_id"]
        if a >= 0xFF:
            ctx.err(cp, f"APIC ID {ctx.num(cp, a)} of cpu {i} is not a unicast xAPIC ID (0..0xfe; 0xff broadcasts)")
        elif a in ids:
            ctx.err(cp, f"APIC ID {ctx.num(cp, a)} of cpu {i} is already used by cpu {ids[a]}")
        ids.setdefault(a, i)
        cpus.append(Cpu(i, a, ctx.loc(cp)))
    amap = {k: (v["base"], v["size"]) for k, v in d["address_map"].items()}
    for k, (b, s) in amap.items():
        ap: Path_ = ("platform", "address_map", k)
        if b + s > 1 << 32:
            ctx.err((*ap, "base"), f"{k} window {_hex(b)} + {_hex(s)} exceeds the 32-bit address space")
        if s & (s - 1):
            ctx.err((*ap, "size"), f"{k} window size {ctx.num((*ap, 'size'), s)} is not a power of two")
        elif b % s:
            ctx.err((*ap, "base"), f"{k} window base {_hex(b)} is not aligned to its size {_hex(s)}")
    items = sorted(amap.items(), key=lambda kv: kv[1][0])
    for (n1, (b1, s1)), (n2, (b2, _)) in itertools.pairwise(items):
        if b1 + s1 > b2:
            ctx.err(
                ("platform", "address_map", n2, "base"),
                f"{n2} window at {_hex(b2)} overlaps the {n1} window {_hex(b1)}..{_hex(b1 + s1 - 1)}",
            )
    wiring = d.get("irq_wiring", {})
    isa: dict[int, int] = {}
    isa_paths: dict[int, Path_] = {}
    for i, o in enumerate(wiring.get("isa_overrides", [])):
        op: Path_ = ("platform", "irq_wiring", "isa_overrides", i, "isa_irq")
        if ctx.skipped(op):
            continue
        irq = o["isa_irq"]
        if irq > 15:
            ctx.err(op, f"ISA IRQ {irq} is outside 0..15")
        elif irq in isa:
            ctx.err(op, f"ISA IRQ {irq} is already routed (line {ctx.line(isa_paths[irq])})")
        else:
            isa[irq] = o["pin"]
            isa_paths[irq] = op
    leg = wiring.get("hpet_legacy", {"timer0": 2, "timer1": 8})
    hz = d.get("hz", 1000)
    if d["clock_hz"] // hz < MIN_CYCLES_PER_TICK:
        ctx.err(
            ("platform", "hz"),
            f"{ctx.num(('platform', 'hz'), hz)} ticks per second leave fewer than {MIN_CYCLES_PER_TICK} "
            f"clock cycles per tick (clock_hz {ctx.num(('platform', 'clock_hz'), d['clock_hz'])}); "
            "the LAPIC timer and the tick handler need more",
        )
    if ctx.count != start:
        return None
    return Platform(
        d["name"],
        tuple(cpus),
        d["clock_hz"],
        amap,
        isa,
        (leg["timer0"], leg["timer1"]),
        hz,
        d.get("description", ""),
    )


# --------------------------------------------------------------------------- whole directory


@dataclass
class _Loaded:
    data: Any
    ctx: _Ctx


_BUILDERS: dict[str, Callable[[dict[str, Any], _Ctx], Any]] = {
    "idt.yaml": _build_idt,
    "vectors.yaml": _build_vectors,
    "lapic.yaml": lambda data, ctx: _build_device(data, "lapic", ctx),
    "ioapic.yaml": lambda data, ctx: _build_device(data, "ioapic", ctx),
    "hpet.yaml": lambda data, ctx: _build_device(data, "hpet", ctx),
    "platform.yaml": _build_platform,
}


def load(spec_dir: Path | str | None = None, *, check_consumers: bool = True) -> Spec:
    """Load and validate a spec directory (default: the shipped specs).

    ``check_consumers`` (default on) also checks what the RTL, the models,
    the headers and the software stack need (:mod:`.consumers`); only tests
    of the layout rules alone turn it off.

    Raises :class:`SpecError` listing every problem found. Positions name
    the shipped files ``spec/default/<file>``, and a user's files by the
    directory as given (relative to the working directory when inside it).
    """
    sdir = Path(spec_dir) if spec_dir is not None else DEFAULT_DIR
    default = spec_dir is None or _same_dir(sdir, DEFAULT_DIR)
    shipped = _shipped_name(sdir)
    problems: list[Problem] = []
    loaded: dict[str, _Loaded] = {}
    built: dict[str, Any] = {}
    if not sdir.is_dir():
        what = "is not a directory" if sdir.exists() else "does not exist"
        raise SpecError([Problem(str(sdir), 1, 1, f"spec directory {str(sdir)!r} {what}")])
    try:
        present = set(os.listdir(sdir))
    except OSError as e:
        raise SpecError([Problem(str(sdir), 1, 1, f"cannot read the spec directory: {e.strerror or e}")]) from None
    for fname in sorted(FILES):
        path = sdir / fname
        shown = f"{shipped}/{fname}" if shipped else _shown(path)
        if fname not in present:
            problems.append(Problem(shown, 1, 1, f"missing spec file {fname!r}"))
            continue
        raw, why = _read_limited(path)
        if raw is None:
            problems.append(Problem(shown, 1, 1, why))
            continue
        parsed = _parse(fname, shown, raw)
        problems.extend(parsed.problems)
        if parsed.build == "yes":
            assert parsed.marks is not None
            loaded[fname] = _Loaded(parsed.data, _Ctx(parsed.marks, problems))
            built[fname] = parsed.built
    _cross_checks(built, loaded)
    if problems:
        raise SpecError(problems)
    spec = Spec(
        idt=built["idt.yaml"],
        vectors=built["vectors.yaml"],
        lapic=built["lapic.yaml"],
        ioapic=built["ioapic.yaml"],
        hpet=built["hpet.yaml"],
        platform=built["platform.yaml"],
        digest="",
        source="irqforge default specs" if default else sdir.name,
    )
    if check_consumers:
        problems = consumer_problems(spec)
        if problems:
            raise SpecError(problems)
    return dataclasses.replace(spec, digest=model_digest(spec))


def model_digest(spec: Spec) -> str:
    """sha256 of what the spec means: every value of the model, not the
    files' bytes, so a comment or a reformatting keeps every generated file
    (whose banner carries the digest) byte-identical."""
    parts = (spec.idt, spec.vectors, spec.lapic, spec.ioapic, spec.hpet, spec.platform)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


@dataclass(frozen=True)
class _Parsed:
    """A file after stages 1-3 on its own (YAML, structure, its semantics):
    its problems, and, when it reached stage 3 (``build == "yes"``), its tree
    and model object for the checks between files."""

    problems: tuple[Problem, ...]
    data: Any = None
    marks: Marks | None = None
    build: str = "no"
    built: Any = None
    """The file's model object (None when its own checks failed)."""


@functools.lru_cache(maxsize=32)
def _parse(fname: str, shown: str, raw: bytes) -> _Parsed:
    """Stages 1-3 of one file on its own, cached by content: loading the same
    text again (``irqforge sim`` after ``gen``, tests that edit one file of
    six) costs only the checks between files. The builders never change the
    tree, and the model is frozen."""
    key = FILES[fname]
    try:
        doc = load_yaml(raw.decode("utf-8"), shown)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        return _Parsed((Problem(shown, line, col, f"not UTF-8 text: byte {raw[e.start]:#04x} ({e.reason})"),))
    except YamlError as e:
        return _Parsed((e.problem,))
    sink = list(doc.problems)
    ctx = _Ctx(doc.marks, sink)
    if doc.data is None:
        ctx.err((), f"the file is empty; it must hold the key {key!r}")
        return _Parsed(tuple(sink))
    if not isinstance(doc.data, dict):
        got = "a list" if isinstance(doc.data, list) else f"the value {_quote(doc.data)}"
        ctx.err((), f"expected a mapping with the key {key!r}, got {got}")
        return _Parsed(tuple(sink))
    if not doc.complete:
        return _Parsed(tuple(sink))
    errors = _schema_problems(doc.data, key, ctx)
    if doc.problems:
        return _Parsed(tuple(sink))
    if errors:
        # one schema error must not hide the file's other problems: build it
        # without the refused list items, for its own checks only; the build
        # stops quietly where a skipped item was needed
        skip = _bad_items(errors)
        if skip is not None:
            ctx.skip = skip
            with contextlib.suppress(LookupError, TypeError, ValueError, AttributeError):
                _BUILDERS[fname](doc.data, ctx)
        return _Parsed(tuple(sink))
    built = _BUILDERS[fname](doc.data, ctx)
    return _Parsed(tuple(sink), doc.data, doc.marks, "yes", built)


def _read_limited(path: Path) -> tuple[bytes | None, str]:
    """The bytes of a spec file, or None and why it cannot be read (missing
    permission, a folder, larger than :data:`~irqforge.spec.yamlload.MAX_FILE_BYTES`)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        return None, f"{path.name} is a folder, not a spec file"
    except OSError as e:
        return None, f"cannot read {path.name}: {e.strerror or e}"
    if len(raw) > MAX_FILE_BYTES:
        return None, f"{path.name} is larger than {MAX_FILE_BYTES // 1024} KiB; spec files are a few kilobytes"
    return raw, ""


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:  # pragma: no cover - resolve() fails only on loops
        return False


def _shipped_name(sdir: Path) -> str | None:
    """``spec/default`` or ``spec/examples/NAME`` for a directory shipped in
    the package, wherever it is installed; None for a user's directory."""
    try:
        rel = sdir.resolve().relative_to(_PACKAGE_DIR.resolve())
    except (ValueError, OSError):
        return None
    return "spec" if rel == Path(".") else f"spec/{rel.as_posix()}"


def _shown(path: Path) -> str:
    """A user's file as shown in messages: the path as given, or relative to
    the working directory when it is absolute and lies inside it."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def _cross_checks(built: dict[str, Any], loaded: dict[str, _Loaded]) -> None:
    """Agreement between files; each check runs when the files it needs built."""
    plat: Platform | None = built.get("platform.yaml")
    hpet: Device | None = built.get("hpet.yaml")
    ioapic: Device | None = built.get("ioapic.yaml")
    idt: Idt | None = built.get("idt.yaml")
    if idt is not None and built.get("vectors.yaml") is not None:
        vdata = loaded["vectors.yaml"].data["vectors"]
        vctx = loaded["vectors.yaml"].ctx
        for i, e in enumerate(vdata["entries"]):
            if e["number"] >= idt.entries:
                vctx.err(
                    ("vectors", "entries", i, "number"),
                    f"vector {e['name']} = {_hex(e['number'])} has no gate: the IDT has {idt.entries} entries "
                    f"(idt.yaml)",
                )
        for i, r in enumerate(vdata.get("ranges", [])):
            if r["last"] >= idt.entries:
                vctx.err(
                    ("vectors", "ranges", i, "last"),
                    f"range {r['name']} ends at {_hex(r['last'])}, beyond the IDT's {idt.entries} entries (idt.yaml)",
                )
    if plat is None:
        return
    pctx = loaded["platform.yaml"].ctx
    if hpet is not None:
        period = hpet.param("period_fs")
        want = round(10**15 / plat.clock_hz)
        if period != want:
            loaded["hpet.yaml"].ctx.err(
                ("device", "params", "period_fs"),
                f"{period} fs per tick means {round(10**15 / period)} Hz, but the HPET counts the platform "
                f"clock, clock_hz {plat.clock_hz} (platform.yaml); set period_fs to {want}",
            )
    if ioapic is not None:
        pins = ioapic.param("pins")
        overrides = loaded["platform.yaml"].data["platform"].get("irq_wiring", {}).get("isa_overrides", [])
        for i, o in enumerate(overrides):
            if o["pin"] >= pins:
                pctx.err(
                    ("platform", "irq_wiring", "isa_overrides", i, "pin"),
                    f"ISA IRQ {o['isa_irq']} goes to pin {o['pin']}, but the IO-APIC has {pins} pins (ioapic.yaml)",
                )
        for t, pin in zip(("timer0", "timer1"), plat.hpet_legacy_pins, strict=True):
            if pin >= pins:
                pctx.err(
                    ("platform", "irq_wiring", "hpet_legacy", t),
                    f"HPET {t} goes to pin {pin}, but the IO-APIC has {pins} pins (ioapic.yaml)",
                )
    for fname in ("lapic.yaml", "ioapic.yaml", "hpet.yaml"):
        dev: Device | None = built.get(fname)
        if dev is None:
            continue
        size = plat.address_map[dev.name][1]
        if size < dev.size:
            pctx.err(
                ("platform", "address_map", dev.name, "size"),
                f"{dev.name} window size {_hex(size)} is smaller than the {dev.name} register page "
                f"{_hex(dev.size)} ({fname})",
            )


def load_default() -> Spec:
    """The specs shipped with irqforge."""
    return load(None)


def spec_files(spec_dir: Path | str | None = None) -> list[Path]:
    """The files of a spec directory (default: the shipped specs), in a fixed order."""
    sdir = Path(spec_dir) if spec_dir is not None else DEFAULT_DIR
    return [sdir / f for f in sorted(FILES)]
