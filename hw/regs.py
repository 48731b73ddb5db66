"""Register helpers shared by the irqforge devices' RTL.

:func:`register_layout`
    A spec :class:`~irqforge.spec.Register` as an Amaranth
    ``data.StructLayout``: one member per spec field at its architectural bit
    position, so a register (an IO-APIC redirection entry, an HPET timer
    configuration, a LAPIC LVT entry) is stored as one ``Signal`` and its
    fields are read and written by name instead of by bit slices.
:func:`layout_init`
    The reset value of such a signal, field by field, from the spec.
:func:`round_robin`
    A combinational round-robin pick among request lines, for devices that
    serve several requesters through one output slot (IO-APIC pins, HPET MSI
    timers).

Everything here is pure construction: the functions add nothing to a design
except what their caller asks for, and depend on the spec model only.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Const, Module, Signal, Value
from amaranth.lib import data

from irqforge.spec import Register

__all__ = ["layout_init", "register_layout", "round_robin"]


def register_layout(reg: Register) -> data.StructLayout:
    """``reg`` as a ``StructLayout`` of its spec fields.

    Member names are the spec field names in lower case (``TRIGGER`` →
    ``trigger``); a gap between fields becomes a padding member ``_rsvd<lsb>``
    so that every field sits at its spec bit position, and the layout is
    exactly ``reg.width`` bits wide.

    Raises :class:`ValueError` if fields overlap or lie beyond ``reg.width``
    (a validated spec has neither).
    """
    members: dict[str, Any] = {}
    pos = 0
    for f in sorted(reg.fields, key=lambda f: f.lsb):
        if f.lsb < pos:
            raise ValueError(f"register {reg.name}: field {f.name} at bit {f.lsb} overlaps the field below it")
        if f.lsb > pos:
            members[f"_rsvd{pos}"] = f.lsb - pos
        members[f.name.lower()] = f.width
        pos = f.lsb + f.width
    if pos > reg.width:
        raise ValueError(f"register {reg.name}: fields reach bit {pos - 1}, beyond its {reg.width} bits")
    if pos < reg.width:
        members[f"_rsvd{pos}"] = reg.width - pos
    return data.StructLayout(members)


def layout_init(reg: Register) -> dict[str, int]:
    """The ``init`` of a ``Signal(register_layout(reg))``: every field's spec reset value."""
    return {f.name.lower(): f.reset for f in reg.fields}


def round_robin(m: Module, req: Value, ptr: Value, n: int) -> tuple[Value, Signal]:
    """Add a combinational round-robin pick among ``n`` request lines to ``m``.

    ``req`` has one bit per requester; ``ptr`` is the index where the search
    starts (a register the caller keeps: after granting index ``k`` it sets
    ``ptr`` to ``k + 1``, wrapping to 0, so the winner goes last next time).

    Returns ``(any, index)``: whether any line requests, and the first
    requesting index at or above ``ptr``, else the first overall (``index`` is
    0 when nothing requests).

    :func:`irqforge.hw.xbar.round_robin` makes the same choice from the index
    that won *last* (``ptr = last + 1``) and returns ``(grant, any)``.
    """
    width = max(1, (n - 1).bit_length())
    first_hi = Signal(width)
    first_all = Signal(width)
    any_hi = Signal()
    hi = Signal(n)
    m.d.comb += hi.eq(req & ~((Const(1, n + 1) << ptr) - 1)[:n])
    # Lowest set bit, by an if-chain from the top down (the last assignment wins).
    for i in reversed(range(n)):
        with m.If(hi[i]):
            m.d.comb += first_hi.eq(i)
        with m.If(req[i]):
            m.d.comb += first_all.eq(i)
    m.d.comb += any_hi.eq(hi.any())
    index = Signal(width)
    with m.If(any_hi):
        m.d.comb += index.eq(first_hi)
    with m.Else():
        m.d.comb += index.eq(first_all)
    return req.any(), index
