"""The Verilated co-simulation harness as a shared library with a small C ABI.

:func:`build_library` Verilates ``irqforge_cosim`` (the generated
``irqforge_platform`` inside the transactor harness of
:mod:`irqforge.sim.cosim_harness`), writes a C++ shim for the spec's CPU
count (the template ``verilator_shim.cpp.j2`` next to this module) and links
both into ``libirqforge_cosim.so``, which
:class:`~irqforge.sim.backends.verilator.VerilatorMachine` loads with ctypes.

The C ABI (every function takes the handle ``ifg_open`` returned):

=============================================  =======================================================
``ifg_open(fst_path)`` / ``ifg_close``          a new model (FST trace when built with ``trace``)
``ifg_shared``                                  address of ``{cycle, status, startups, msr_rdata}``, read without a call
``ifg_reset(cycles)``                           ``rst`` for ``cycles`` edges, inputs idle, then cycle 0
``ifg_run(max, mask, stop_at_startup, settle)`` cycles until ``status & mask``, an INIT/SIPI edge, ``max``,
                                                or (``settle``) the platform stops changing
``ifg_transact(cpu, write, addr, wdata)``       one AXI4-Lite transaction: ``resp << 32 | rdata``
``ifg_msr(cpu, write, addr, wdata)``            one RDMSR/WRMSR: 0 (value in ``msr_rdata`` of ``ifg_shared``),
                                                1 #GP, -1 without ``done``, -2 no MSR port
``ifg_acknowledge(cpu)``                        INTA: the vector, -1 without ``ack_valid``
``ifg_acknowledge_nmi(cpu)``                    ``nmi_ack`` for one edge
``ifg_set_irq(levels)``                         the device lines
``ifg_take_startup(cpu)``                       the oldest INIT (``0x100``) / SIPI (``0x200 | vector``)
``ifg_flush``                                   flush the trace
=============================================  =======================================================

Builds are cached in :func:`irqforge.sim.toolchain.cache_dir` ``("verilator")``
under a key of the harness's fingerprint (spec digest, RTL sources, harness
source), the Verilator version, the flags, the shim's template and this
module's source. A build happens in a private folder and is renamed into
place when complete, under a file lock: concurrent builds of one key wait for
each other and never see a half-built library.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from irqforge.sim import toolchain
from irqforge.spec import Spec

__all__ = [
    "ABI_VERSION",
    "HALF_PERIOD_PS",
    "LIBRARY",
    "BuildFailed",
    "Library",
    "build_key",
    "build_library",
    "render_shim",
]

#: Bumped whenever the C ABI changes meaning (also part of the build key).
ABI_VERSION: Final = "irqforge-cosim-abi-2"
#: The shared library's file name inside its build folder.
LIBRARY: Final = "libirqforge_cosim.so"
#: Verilator's C++ class prefix of the model.
PREFIX: Final = "Vcosim"
#: Half a clock period in the trace's time unit (ps): 10 ns, the default spec's 100 MHz.
HALF_PERIOD_PS: Final = 5000
#: Cycles ``ifg_transact``/``ifg_acknowledge`` wait for the harness's ``done``.
BUS_TIMEOUT_CYCLES: Final = 1024
#: Quiet cycles of a wait between two checks whether the platform has settled.
SETTLE_EVERY: Final = 1024
#: Arguments for ``verilator`` besides the sources (part of the build key).
VERILATOR_ARGS: Final[tuple[str, ...]] = ("--cc", "--exe")
#: The C++ compiler flags of the shim and the model (part of the build key).
CXXFLAGS: Final[tuple[str, ...]] = ("-fPIC", "-fvisibility=hidden", "-std=c++17")

_TEMPLATE: Final = Path(__file__).with_name("verilator_shim.cpp.j2")
_SOURCE: Final = Path(__file__).read_bytes()
_STAMP: Final = "irqforge-build.json"


class BuildFailed(toolchain.ToolNotFoundError):
    """Verilator or the C++ compiler failed; the message names the log."""


@dataclass(frozen=True)
class Library:
    """A built library: where it is and what it was built for."""

    path: Path
    ncpus: int
    irq_width: int
    trace: bool
    key: str


def _verilator() -> tuple[toolchain.Tool, dict[str, str]]:
    """Verilator and the environment it runs in; a clear error when it or g++/make is missing."""
    tool = toolchain.find_verilator()
    for exe in ("g++", "make"):
        if shutil.which(exe) is None:
            raise toolchain.ToolNotFoundError(
                f"{exe} not found: the verilator backend compiles the platform into a library with g++ and make "
                "(Debian packages g++ and make; or run with --sim model)"
            )
    if not tool.ok:
        raise toolchain.ToolNotFoundError(f"verilator: {tool.why_not}")
    return tool, toolchain.sim_env("verilator")


def build_key(spec: Spec, *, trace: bool = False) -> str:
    """The cache key of the library for ``spec`` (nothing is generated or built)."""
    from irqforge.sim.cosim_harness import harness_fingerprint

    tool = toolchain.find_verilator()
    h = hashlib.sha256()
    for part in (
        ABI_VERSION,
        harness_fingerprint(spec),
        tool.version or "",
        str(tool.path),
        json.dumps(toolchain.VERILATOR_MAKE_VARS, sort_keys=True),
        json.dumps(toolchain.SINGLE_UNIT_MAKE_VARS, sort_keys=True),
        "\0".join(VERILATOR_ARGS),
        "\0".join(CXXFLAGS),
        "trace" if trace else "notrace",
    ):
        h.update(part.encode() + b"\0")
    h.update(_TEMPLATE.read_bytes())
    h.update(_SOURCE)
    return h.hexdigest()[:20]


def _port(group: str, cpu: int, name: str) -> str:
    """Verilator's C++ name of the harness port ``{group}__{cpu}__{name}`` (``__`` → ``___05F``)."""
    return f"{group}__{cpu}__{name}".replace("__", "___05F")


def _cells(mdir: Path) -> tuple[list[str], list[dict[str, object]], list[str], dict[str, int]]:
    """The module objects Verilator made besides the root: for the state walk of the shim.

    Returns (fields of the root pointing at module objects, the module
    classes with their own such fields, the headers to include, how many
    objects of each class the walk visits). The symbol table (``{PREFIX}__Syms``,
    which every module object points at) is no module object: it holds the
    root and every module object again, by value, so walking into it would
    compare the whole state, TSC counters included, a second time.
    """
    pointer = re.compile(rf"^\s*({PREFIX}_\w+)\*\s+(\w+);", re.M)
    syms = f"{PREFIX}__Syms"

    def fields(header: Path) -> list[tuple[str, str]]:
        return [(cls, field) for cls, field in pointer.findall(header.read_text()) if cls != syms]

    root_fields = fields(mdir / f"{PREFIX}___024root.h")
    seen: dict[str, list[tuple[str, str]]] = {}
    todo = [cls for cls, _ in root_fields]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        own = fields(mdir / f"{cls}.h")
        seen[cls] = own
        todo += [c for c, _ in own]
    instances: dict[str, int] = {}

    def count(children: list[tuple[str, str]]) -> None:
        for cls, _ in children:
            instances[cls] = instances.get(cls, 0) + 1
            count(seen[cls])

    count(root_fields)
    classes: list[dict[str, object]] = [
        {"name": cls, "children": [{"field": f} for _, f in kids], **_tsc_fields(mdir / f"{cls}.h")}
        for cls, kids in sorted(seen.items())
    ]
    return [field for _, field in root_fields], classes, [f"{cls}.h" for cls in sorted(seen)], instances


#: A 64-bit member of a Verilated class: ``QData/*63:0*/ name;``.
_QDATA = re.compile(r"^\s*QData/\*63:0\*/\s+(\w+);", re.M)
#: A member of a Verilated class holding a signal of up to 64 bits or a wide one.
_SIGNAL = re.compile(r"^\s*(?:CData|SData|IData|QData|VlWide<\d+>)/\*\d+:\d+\*/\s+(\w+);", re.M)
#: The TSC counters and their copies (the platform's ``tsc``, a LAPIC's ``tsc`` input;
#: Verilator suffixes a second instance's name with ``__024`` and a number).
_TSC_NAME = re.compile(r"(?:^|__DOT__)tsc(?:__024\d+)?$")
#: A LAPIC's IA32_TSC_DEADLINE register (non-zero = armed).
_DEADLINE_NAME = re.compile(r"(?:^|__DOT__)tsc_deadline(?:__024\d+)?$")
#: An anonymous net of Amaranth's Verilog (``$12``; Verilator: ``__02412`` after ``__DOT__``,
#: ``__PVT__`` or nothing). Amaranth names every register after its signal, so these are
#: combinational values (an operator's result, a register's next value), which a traced
#: build keeps as members: ``tsc + 1`` among them, different every cycle.
_ANONYMOUS_NAME = re.compile(r"(?:^|__DOT__|^__PVT__)__024\d+$")
#: A register named like an anonymous net in the Verilog (``\$12 <= ...``): never made by Amaranth.
_ANONYMOUS_REGISTER = re.compile(r"^\s*\\\$\d+\s*<=", re.M)


def _tsc_fields(header: Path) -> dict[str, list[str]]:
    """What the settle check treats apart in a Verilated class: ``tsc`` the TSC counters
    (counting every cycle), ``comb`` the anonymous combinational nets (functions of the
    registers and inputs, so they need no comparing), both left out of the comparison;
    ``deadline`` the IA32_TSC_DEADLINE registers (an armed one is an event to come)."""
    text = header.read_text() if header.is_file() else ""
    wide = _QDATA.findall(text)
    return {
        "tsc": [n for n in wide if _TSC_NAME.search(n)],
        "deadline": [n for n in wide if _DEADLINE_NAME.search(n)],
        "comb": [n for n in _SIGNAL.findall(text) if _ANONYMOUS_NAME.search(n)],
    }


def _check_tsc_fields(
    spec: Spec, root: dict[str, list[str]], classes: list[dict[str, object]], instances: dict[str, int]
) -> None:
    """Refuse a build whose settle check would not see every TSC counter and deadline register.

    A TSC counter the check does not know of makes every cycle a change (a
    deadlock then runs to the watchdog); a deadline register it does not know
    of would let an armed TSC-deadline timer look settled (a false deadlock).
    Both mean the RTL's names changed under :data:`_TSC_NAME` / :data:`_DEADLINE_NAME`.
    """
    from irqforge.sim.cosim_harness import platform_has_msr

    def total(kind: str) -> int:
        found = len(root[kind])
        for cls in classes:
            names = cls[kind]
            assert isinstance(names, list)
            found += len(names) * instances.get(str(cls["name"]), 0)
        return found

    ncpus = spec.platform.ncpus
    counters, deadlines = total("tsc"), total("deadline")
    want_deadlines = ncpus if spec.lapic.param("tsc_deadline") and spec.lapic.has_msr("IA32_TSC_DEADLINE") else 0
    if platform_has_msr(spec) and counters < ncpus:
        raise BuildFailed(
            f"the Verilated platform has {counters} TSC counter(s) named like {_TSC_NAME.pattern!r}, expected at "
            f"least {ncpus} (one per CPU): the deadlock check of sim/backends/verilator_abi.py must follow the RTL"
        )
    if deadlines != want_deadlines:
        raise BuildFailed(
            f"the Verilated platform has {deadlines} IA32_TSC_DEADLINE register(s) named like "
            f"{_DEADLINE_NAME.pattern!r}, expected {want_deadlines}: the deadlock check of "
            "sim/backends/verilator_abi.py must follow the RTL"
        )


def _clk_edge_detector(mdir: Path | None, sources: list[Path], trace: bool) -> str:
    """The root's member holding ``clk`` as Verilator's edge detector last saw it, when
    the falling edge may skip ``eval`` (no tracing, no ``negedge`` in the sources); else ``""``."""
    if mdir is None or trace or any("negedge" in path.read_text() for path in sources):
        return ""
    found = re.findall(r"\b(__Vtrigprevexpr___TOP__clk__\d+);", (mdir / f"{PREFIX}___024root.h").read_text())
    return found[0] if len(found) == 1 else ""


#: The statement of Verilator's ``_eval`` that re-evaluates the input-dependent
#: logic ("ico" region) in every call, changed inputs or not.
_ICO_ALWAYS: Final = "vlSelfRef.__VicoFirstIteration = 1U;"


def _gate_input_logic(mdir: Path) -> bool:
    """Let the shim decide when the input-dependent logic is re-evaluated.

    Verilator's ``eval`` starts by re-evaluating every piece of logic that
    depends on a top-level input (its "ico" region: with Amaranth's
    synchronous reset and the harness's command ports that is about half of
    the platform's logic), whether or not an input changed. Every input of
    the harness is written by the shim, which knows when it writes one: the
    statement that forces the region is removed from the generated ``_eval``
    and the shim raises the same flag (``__VicoFirstIteration``) after each
    input write instead. The logic of that region that also depends on
    registers is re-evaluated by Verilator after every clock edge anyway, so
    skipping it when no input changed changes nothing. Done only when the
    statement is found exactly once; returns whether it was.
    """
    files = [f for f in sorted(mdir.glob(f"{PREFIX}___024root__*.cpp")) if _ICO_ALWAYS in f.read_text()]
    if len(files) != 1 or files[0].read_text().count(_ICO_ALWAYS) != 1:
        return False
    text = files[0].read_text()
    files[0].write_text(text.replace(_ICO_ALWAYS, "/* irqforge: raised by the shim when an input changes */"))
    return True


def render_shim(
    spec: Spec,
    *,
    trace: bool,
    mdir: Path | None = None,
    sources: list[Path] | None = None,
    gate_inputs: bool = False,
) -> str:
    """The C++ shim for ``spec``'s CPU count (module objects from the Verilated ``mdir``)."""
    import jinja2

    from irqforge.sim.cosim_harness import platform_has_msr

    root_fields, classes, headers, instances = _cells(mdir) if mdir is not None else ([], [], [], {})
    empty: dict[str, list[str]] = {"tsc": [], "deadline": [], "comb": []}
    root_tsc = _tsc_fields(mdir / f"{PREFIX}___024root.h") if mdir is not None else empty
    if mdir is not None:
        _check_tsc_fields(spec, root_tsc, classes, instances)
    for path in sources or []:
        if _ANONYMOUS_REGISTER.search(path.read_text()):
            raise BuildFailed(
                f"{path} has a register named like an anonymous net ($N): the deadlock check of "
                "sim/backends/verilator_abi.py leaves those out as combinational"
            )
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True)
    template = env.from_string(_TEMPLATE.read_text(encoding="utf-8"))
    ncpus = spec.platform.ncpus
    if 2 * ncpus > 64:
        raise ValueError(f"the verilator backend supports up to 32 CPUs, not {ncpus}")
    return template.render(
        ncpus=ncpus,
        irq_width=spec.ioapic.param("pins"),
        prefix=PREFIX,
        module="irqforge_cosim",
        trace=trace,
        abi=ABI_VERSION,
        half_period_ps=HALF_PERIOD_PS,
        bus_timeout=BUS_TIMEOUT_CYCLES,
        settle_every=SETTLE_EVERY,
        cell_headers=headers,
        root_cells=[{"field": f} for f in root_fields],
        root_tsc=root_tsc,
        cells=classes,
        clk_prev=_clk_edge_detector(mdir, sources or [], trace),
        gate_inputs=gate_inputs,
        msr=platform_has_msr(spec),
        port=_port,
    )


@contextlib.contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: list[str], cwd: Path, env: dict[str, str], log: Path, what: str) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        hint = "\nhint: FST tracing needs liblz4-dev and zlib (bash scripts/setup.sh)" if "lz4.h" in tail else ""
        raise BuildFailed(f"{what} failed (exit {proc.returncode}; log: {log}):\n{tail}{hint}")


def build_library(spec: Spec, *, trace: bool = False, cache: Path | None = None) -> Library:
    """The library for ``spec`` (built once per key; see the module docstring).

    ``cache`` overrides the cache folder (default
    :func:`~irqforge.sim.toolchain.cache_dir` ``("verilator")``).

    Raises:
        irqforge.sim.toolchain.ToolNotFoundError: Verilator, g++ or make is missing.
        BuildFailed: Verilator or the compiler failed.
    """
    root = Path(cache) if cache is not None else toolchain.cache_dir("verilator")
    root.mkdir(parents=True, exist_ok=True)
    ncpus = spec.platform.ncpus
    key = build_key(spec, trace=trace)
    name = f"cosim-{ncpus}cpu-{key}" + ("-fst" if trace else "")
    folder = root / name
    lib = Library(folder / LIBRARY, ncpus, spec.ioapic.param("pins"), trace, key)
    if (folder / _STAMP).is_file():
        return lib
    _, env = _verilator()
    with _locked(root / f"{name}.lock"):
        if (folder / _STAMP).is_file():  # built while we waited
            return lib
        work = root / f"{name}.tmp-{os.getpid()}"
        if work.exists():
            shutil.rmtree(work)
        work.mkdir()
        toolchain.build_log.info(
            "building the Verilated %d-CPU platform for this spec (once; 15 s to a few minutes, more CPUs take "
            "longer), cached in %s",
            ncpus,
            root,
        )
        try:
            _build(spec, work, env, trace)
            (work / _STAMP).write_text(
                json.dumps({"key": key, "ncpus": ncpus, "trace": trace, "spec": spec.digest}, indent=2) + "\n"
            )
            if folder.exists():  # a stale, unstamped folder from a crash
                shutil.rmtree(folder)
            work.rename(folder)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    return lib


def _build(spec: Spec, work: Path, env_add: dict[str, str], trace: bool) -> None:
    """Verilate, write the shim, compile and link into ``work``."""
    from irqforge.sim.cosim_harness import LINT_WAIVER, MODULE

    from .cocotb import cosim_verilog

    started = time.monotonic()
    sources = cosim_verilog(spec, toolchain.cache_dir("sources"))
    waiver = work / "waiver.vlt"
    waiver.write_text(_waiver_text(LINT_WAIVER))
    shim = work / "irqforge_shim.cpp"
    shim.write_text("// written after Verilation\n")
    env = {**os.environ, **env_add}
    log = work / "build.log"
    mdir = work / "obj"
    argv = [
        "verilator",
        *VERILATOR_ARGS,
        "-Mdir",
        str(mdir),
        "--top-module",
        MODULE,
        "--prefix",
        PREFIX,
        "--timescale",
        "1ns/1ps",
        *(["--trace-fst"] if trace else []),
        "-CFLAGS",
        " ".join(CXXFLAGS),
        "-LDFLAGS",
        "-shared",
        "-o",
        f"../{LIBRARY}",
        str(waiver),
        *[str(s) for s in sources],
        str(shim),
    ]
    _run(argv, work, env, log, "verilator")
    gate = not trace and _gate_input_logic(mdir)
    shim.write_text(render_shim(spec, trace=trace, mdir=mdir, sources=sources, gate_inputs=gate))
    jobs = str(max(1, min(os.cpu_count() or 1, 4)))
    single_unit = [f"{k}={v}" for k, v in toolchain.SINGLE_UNIT_MAKE_VARS.items()]  # nothing is public-flat here
    make = ["make", "-j", jobs, "-C", str(mdir), "-f", f"{PREFIX}.mk", *single_unit]
    _run(make, work, env, log, "compiling the Verilated model")
    (work / "build-seconds").write_text(f"{time.monotonic() - started:.1f}\n")


def _waiver_text(harness_waiver: str) -> str:
    """The blocks' reviewed waivers (``hw/lint/*.vlt``) and the harness's; nothing made public."""
    from irqforge.hw import waiver_sections

    parts = [f"// {name}\n" + "\n".join(kept) for name, kept in waiver_sections()]
    parts.append(harness_waiver)
    return "`verilator_config\n" + "\n".join(parts) + "\n"
