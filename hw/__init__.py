"""Synthesizable RTL in Amaranth, built from the spec model.

Each top-level block lives in its own module with a ``top(spec)`` function
returning the ``wiring.Component`` that becomes ``irqforge_<name>.v``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
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
    """Every top-level block of ``spec`` by Verilog module name (the platform
    elaborating its blocks, as Amaranth's simulator and synthesis want it)."""
    return {vname: importlib.import_module(f"irqforge.hw.{mod}").top(spec) for vname, mod in TOPS.items()}


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
    from amaranth.hdl import ClockSignal, Elaboratable, Instance, ResetSignal
    from amaranth.lib import wiring

    def silence(obj: Any, depth: int = 0) -> None:
        # The component (and the blocks it made in __init__) is never elaborated
        # here, on purpose: tell Amaranth's "created but never used" check.
        obj._MustUse__silence = True
        if depth < 4:
            for v in vars(obj).values():
                if isinstance(v, Elaboratable):
                    silence(v, depth + 1)

    silence(component)
    ports: dict[str, Any] = {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        ports[("i_" if member.flow == wiring.In else "o_") + name] = value
    return Instance(module, **ports)


def verilog_top(spec: Spec, mod: str) -> wiring.Component:
    """The component that becomes ``irqforge_<mod>.v``: the platform
    instantiates the other blocks' modules instead of copying them."""
    m = importlib.import_module(f"irqforge.hw.{mod}")
    return m.top(spec, blackbox=True) if mod == "platform" else m.top(spec)


#: Seconds one conversion took on the reference machine (relative cost only).
_CONVERT_COST: dict[str, float] = {"ioapic": 0.81, "lapic": 0.59, "platform": 0.38, "hpet": 0.37, "router": 0.24}


def _convert_job(job: tuple[str, str, Spec]) -> tuple[str, str]:
    vname, mod, spec = job
    return vname, to_verilog(verilog_top(spec, mod), vname)


def convert_all(spec: Spec, *, jobs: int | None = None) -> dict[str, str]:
    """Verilog text of every top-level block (:data:`TOPS`), converted in
    parallel worker processes (Amaranth's conversion is single-threaded)."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    todo = [(vname, mod, spec) for vname, mod in TOPS.items()]
    workers = min(len(todo), jobs or os.cpu_count() or 1)
    # Longest first, so the short ones fill in at the end (on two workers this
    # takes ~0.15 s off the makespan); the result keeps the order of TOPS.
    todo.sort(key=lambda job: _CONVERT_COST.get(job[1], 0.0), reverse=True)
    if workers <= 1:
        results = dict(map(_convert_job, todo))
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            results = dict(pool.map(_convert_job, todo))
    return {vname: results[vname] for vname in TOPS}


def write_verilog(spec: Spec, out_dir: Path) -> dict[str, Path]:
    """Every block's Verilog in ``out_dir`` (module name → file), the way
    ``irqforge gen`` makes it, cached under a folder named by
    :func:`rtl_fingerprint` so benches share one conversion. A simulator
    compiling ``irqforge_platform`` needs all of them."""
    folder = Path(out_dir) / f"rtl-{rtl_fingerprint(spec)[:16]}"
    files = {vname: folder / f"{vname}.v" for vname in TOPS}
    if not all(f.is_file() for f in files.values()):
        folder.mkdir(parents=True, exist_ok=True)
        for vname, text in convert_all(spec).items():
            tmp = files[vname].with_suffix(f".{os.getpid()}.tmp")  # processes sharing a cache: each its own
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(files[vname])
    return files


def waiver_sections(folder: Any = None) -> list[tuple[str, list[str]]]:
    """The Verilator waiver files (``hw/lint/*.vlt`` by default) in name order,
    each as (file name, its lines without the ``\\`verilator_config`` line and
    without leading/trailing blank lines). ``irqforge gen`` joins them into
    ``generated/verilog/lint.vlt``; the cocotb backend into its build's waiver."""
    from importlib import resources

    directive = "`verilator_config"
    root = folder if folder is not None else resources.files("irqforge.hw").joinpath("lint")
    entries = [f for f in root.iterdir() if f.name.endswith(".vlt")] if root.is_dir() else []
    out = []
    for f in sorted(entries, key=lambda e: e.name):
        body = f.read_text(encoding="utf-8").replace("\r\n", "\n")
        kept = [line.rstrip() for line in body.split("\n") if line.strip() != directive]
        while kept and not kept[-1]:
            kept.pop()
        while kept and not kept[0]:
            kept.pop(0)
        out.append((f.name, kept))
    return out
