"""Synthesizable RTL in Amaranth, built from the spec model.

Each top-level block lives in its own module with a ``top(spec)`` function
returning the ``wiring.Component`` that becomes ``irqforge_<name>.v``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amaranth.lib import wiring
    from irqforge.spec import Spec

#: Verilog module name → the hw module that builds it, in dependency order.
TOPS: dict[str, str] = {
    "irqforge_lapic": "lapic",
    "irqforge_ioapic": "ioapic",
    "irqforge_hpet": "hpet",
    "irqforge_router": "router",
    "irqforge_platform": "platform",
}


def top_modules(spec: Spec) -> dict[str, wiring.Component]:
    """Every top-level block of ``spec`` by Verilog module name.

    Blocks whose hw module does not exist yet are left out.
    """
    out: dict[str, wiring.Component] = {}
    for vname, mod in TOPS.items():
        full = f"irqforge.hw.{mod}"
        try:
            m = importlib.import_module(full)
        except ModuleNotFoundError as e:
            if e.name == full:
                continue
            raise
        out[vname] = m.top(spec)
    return out
