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


def to_verilog(component: wiring.Component, name: str) -> str:
    """Verilog text of ``component`` as module ``name``, reproducibly.

    Always Amaranth's bundled Yosys (a system Yosys of another version could
    change the text) and ``emit_src=False`` (no source paths). Every place
    that turns RTL into Verilog — ``irqforge gen``, the benches, the cocotb
    backends — goes through here.
    """
    import os

    from amaranth.back import verilog

    saved = os.environ.get("AMARANTH_USE_YOSYS")
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"
    try:
        return verilog.convert(component, name=name, emit_src=False)
    finally:
        if saved is None:
            del os.environ["AMARANTH_USE_YOSYS"]
        else:
            os.environ["AMARANTH_USE_YOSYS"] = saved


def rtl_fingerprint(spec: Spec) -> str:
    """A digest of everything the generated Verilog depends on: the spec, the
    ``irqforge.hw`` sources and the Amaranth version. Caches of converted RTL
    key on it so that an edit to either never leaves stale Verilog behind."""
    import hashlib
    from importlib import metadata, resources

    h = hashlib.sha256(spec.digest.encode())
    h.update(metadata.version("amaranth").encode())
    root = resources.files("irqforge.hw")
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py"):
            h.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return h.hexdigest()
