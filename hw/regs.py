"""Register helpers shared by the irqforge devices' RTL.

:func:`register_layout`
    A spec :class:`~irqforge.spec.Register` as an Amaranth
    ``data.StructLayout``: one member per spec field at its architectural bit
    position, so a register (an IO-APIC redirection entry, an HPET timer
    configuration, a LAPIC LVT entry) is stored as one ``Signal`` and its
    fields are read and written by name instead of by bit slices.
:func:`layout_init`
    The reset value of such a signal, field by field, from the spec.

Everything here is pure construction: the functions add nothing to a design
except what their caller asks for, and depend on the spec model only.
"""

from __future__ import annotations

from typing import Any

from amaranth.lib import data

from irqforge.spec import Register

__all__ = ["layout_init", "register_layout"]

# Round-robin arbitration lives in :mod:`irqforge.hw.xbar` (``round_robin``).


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
