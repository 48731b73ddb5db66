"""Synthesizable RTL in Amaranth, built from the spec model.

Each top-level block lives in its own module with a ``top(spec)`` function
returning the ``wiring.Component`` that becomes ``irqforge_<name>.v``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def as_instance(component: wiring.Component, module: str) -> Any:
    """An ``Instance`` of the separately generated Verilog module ``module``
    bound to ``component``'s port signals, in place of the component itself.

    The platform uses it for its Verilog (``irqforge_platform`` then
    instantiates ``irqforge_lapic`` … instead of carrying a copy of every
    block), while Amaranth's simulator keeps elaborating the real blocks.
    """
    from amaranth.hdl import ClockSignal, Instance, ResetSignal

    ports: dict[str, Any] = {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        ports[("i_" if member.flow == wiring.In else "o_") + name] = value
    return Instance(module, **ports)


def _convert_job(job: tuple[str, str, Spec]) -> tuple[str, str]:
    vname, mod, spec = job
    m = importlib.import_module(f"irqforge.hw.{mod}")
    return vname, to_verilog(m.top(spec), vname)


def convert_all(spec: Spec, *, jobs: int | None = None) -> dict[str, str]:
    """Verilog text of every top-level block (:data:`TOPS`), converted in
    parallel worker processes (Amaranth's conversion is single-threaded)."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    todo = []
    for vname, mod in TOPS.items():
        try:
            importlib.import_module(f"irqforge.hw.{mod}")
        except ModuleNotFoundError as e:
            if e.name == f"irqforge.hw.{mod}":
                continue
            raise
        todo.append((vname, mod, spec))
    workers = min(len(todo), jobs or os.cpu_count() or 1)
    if workers <= 1:
        results = dict(map(_convert_job, todo))
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            results = dict(pool.map(_convert_job, todo))
    return {vname: results[vname] for vname, _mod, _spec in todo}
