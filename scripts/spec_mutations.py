#!/usr/bin/env python3
"""Mutation check: each named small mutation of the default specs or of the
validator must make the test run without simulators fail.

The RTL, the reference models, the software stack and most test
expectations read the same spec, so a wrong bit in ``spec/default/*.yaml``
passes every comparison between them. This script shows that the tests that
do not trust the spec (``tests/oracle``: literals from the SDM, the 82093AA
datasheet, the HPET specification and Linux; ``tests/spec``: the validator's
boundary cases) catch such mistakes.

How: the repository's tracked files are copied to a temporary folder once,
with an import tree in which ``irqforge``, ``irqforge.spec`` … point at the
copy (the layout of ``[tool.setuptools] package-dir`` in pyproject.toml), so
that ``PYTHONPATH`` makes the copy's code win over the installed editable
package. Nothing in the working tree is touched. First the unmutated copy
must pass; then, for each mutation, its edits are applied (each ``old`` text
must occur exactly once), pytest runs with ``--sim none`` in the copy, and
the files are restored. A spec mutation is applied alike to
``spec/examples/linux-2.6`` where that file is a copy of the default, and with
``--full`` ``generated/`` is regenerated, as a developer would after editing
the YAML; so only the tests that check against something independent can
notice.

Usage (from anywhere; uses the interpreter it runs with, e.g. .venv/bin/python)::

    python scripts/spec_mutations.py              # every mutation, against the tests chosen for it
    python scripts/spec_mutations.py --quick      # the small set CI runs
    python scripts/spec_mutations.py --full       # against the whole suite with --sim none (slow)
    python scripts/spec_mutations.py --list
    python scripts/spec_mutations.py NAME ...     # only these
    python scripts/spec_mutations.py --tests tests/hw/test_ioapic.py   # other tests than each one's own

Exit status: 0 when the unmutated copy passes and every mutation is caught,
1 otherwise, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ["tests/oracle"]
VALIDATOR = ["tests/spec/test_boundaries.py"]
# the directed Amaranth-simulator tests that read registers at the documents' offsets
DIRECTED = {
    "spec/default/lapic.yaml": "tests/hw/test_lapic.py::test_registers_at_the_sdm_offsets",
    "spec/default/ioapic.yaml": "tests/hw/test_ioapic.py::test_registers_at_the_datasheet_offsets",
    "spec/default/hpet.yaml": "tests/hw/test_hpet.py::test_registers_at_the_hpet_spec_offsets",
}
LINUX_26 = "spec/examples/linux-2.6"


@dataclass(frozen=True)
class Mutation:
    """Replace each ``old`` (which must occur exactly once in ``file``) by ``new``."""

    name: str
    file: str
    edits: tuple[tuple[str, str], ...]
    why: str
    tests: list[str] = field(default_factory=list)
    """The tests that should catch it (default: tests/oracle and the device's directed RTL test)."""
    quick: bool = False

    @property
    def is_spec(self) -> bool:
        return self.file.startswith("spec/default/")

    @property
    def selection(self) -> list[str]:
        if self.tests:
            return self.tests
        return ORACLE + ([DIRECTED[self.file]] if self.file in DIRECTED else [])


def _m(name: str, file: str, old: str, new: str, why: str, **kw: object) -> Mutation:
    return Mutation(name, file, ((old, new),), why, **kw)  # type: ignore[arg-type]


LAPIC, IOAPIC, HPET = "spec/default/lapic.yaml", "spec/default/ioapic.yaml", "spec/default/hpet.yaml"
VECTORS, IDT, PLATFORM = "spec/default/vectors.yaml", "spec/default/idt.yaml", "spec/default/platform.yaml"
BUILD = "spec/build.py"

MUTATIONS: list[Mutation] = [
    # ------------------------------------------------------------------ spec: field positions and widths
    Mutation(
        "ioapic-rte-polarity-remote-irr-swap",
        IOAPIC,
        (
            ('name: POLARITY\n              bits: "13"', 'name: POLARITY\n              bits: "14"'),
            ('{name: REMOTE_IRR, bits: "14"', '{name: REMOTE_IRR, bits: "13"'),
        ),
        "IO-APIC RTE POLARITY and REMOTE_IRR swapped (bits 13/14)",
        quick=True,
    ),
    _m(
        "lapic-icr-hi-dest-narrow",
        LAPIC,
        '{name: DEST, bits: "31:24"',
        '{name: DEST, bits: "27:24"',
        "LAPIC ICR_HI.DEST narrowed from 31:24 to 27:24",
        quick=True,
    ),
    _m(
        "ioapic-rte-dest-moved",
        IOAPIC,
        '{name: DEST, bits: "63:56"',
        '{name: DEST, bits: "55:48"',
        "IO-APIC RTE DEST at 55:48 instead of 63:56",
    ),
    _m(
        "ioapic-id-widened",
        IOAPIC,
        '{name: ID, bits: "27:24"',
        '{name: ID, bits: "31:24"',
        "IOAPICID.ID 31:24 instead of 27:24",
    ),
    _m(
        "hpet-route-cnf-narrow",
        HPET,
        '{name: INT_ROUTE_CNF, bits: "13:9"',
        '{name: INT_ROUTE_CNF, bits: "12:9"',
        "HPET Tn INT_ROUTE_CNF 12:9 instead of 13:9",
        quick=True,
    ),
    _m(
        "hpet-leg-rt-cap-bit",
        HPET,
        '{name: LEG_RT_CAP, bits: "15"',
        '{name: LEG_RT_CAP, bits: "14"',
        "HPET GCAP_ID.LEG_RT_CAP at bit 14",
    ),
    _m(
        "idt-ist-narrow",
        IDT,
        '{name: ist, bits: "34:32"',
        '{name: ist, bits: "33:32"',
        "64-bit gate IST field two bits wide",
    ),
    # ------------------------------------------------------------------ spec: resets
    _m(
        "lapic-svr-vector-reset",
        LAPIC,
        '{name: VECTOR, bits: "7:0", access: rw, reset: 0xFF',
        '{name: VECTOR, bits: "7:0", access: rw, reset: 0x0F',
        "SVR reset 0x0F instead of 0xFF",
    ),
    _m(
        "lapic-lvt-mask-reset",
        LAPIC,
        '&lvt_mask {name: MASK, bits: "16", access: rw, reset: 1',
        '&lvt_mask {name: MASK, bits: "16", access: rw, reset: 0',
        "LVT entries reset unmasked",
    ),
    _m(
        "lapic-dfr-model-reset",
        LAPIC,
        "access: rw\n          reset: 0xF\n",
        "access: rw\n          reset: 0x0\n",
        "DFR resets to the cluster model",
    ),
    _m(
        "ioapic-rte-mask-reset",
        IOAPIC,
        '{name: MASK, bits: "16", access: rw, reset: 1',
        '{name: MASK, bits: "16", access: rw, reset: 0',
        "IO-APIC entries reset unmasked",
    ),
    _m("hpet-cmp-reset", HPET, "reset: 0xFFFFFFFFFFFFFFFF", "reset: 0", "HPET comparators reset to 0"),
    _m("hpet-vendor", HPET, "vendor_id: 0x8086", "vendor_id: 0x8087", "HPET vendor 0x8087"),
    _m("lapic-version", LAPIC, "version: 0x14", "version: 0x15", "LAPIC version 0x15"),
    _m("ioapic-version", IOAPIC, "version: 0x20", "version: 0x11", "IO-APIC version 0x11 (no EOI register)"),
    # ------------------------------------------------------------------ spec: offsets and strides
    _m("lapic-eoi-offset", LAPIC, "offset: 0x0B0", "offset: 0x3B0", "LAPIC EOI at 0x3B0"),
    _m("ioapic-rte-stride", IOAPIC, "stride: 2", "stride: 4", "IO-APIC RTEs four indices apart"),
    _m("hpet-cmp-offset", HPET, "offset: 0x108", "offset: 0x118", "HPET Tn_COMPARATOR at 0x118"),
    _m("platform-lapic-base", PLATFORM, "base: 0xFEE00000", "base: 0xFEE01000", "LAPIC window at 0xFEE01000"),
    # ------------------------------------------------------------------ spec: access types
    _m(
        "lapic-tmcct-writable",
        LAPIC,
        "offset: 0x390\n      access: ro",
        "offset: 0x390\n      access: rw",
        "TMCCT read-write",
    ),
    _m(
        "lapic-icr-busy-writable",
        LAPIC,
        '{name: DELIVERY_STATUS, bits: "12", access: ro, description: "1 while',
        '{name: DELIVERY_STATUS, bits: "12", access: rw, description: "1 while',
        "ICR delivery status read-write",
    ),
    _m(
        "hpet-status-rw",
        HPET,
        '{name: INT_STS, bits: "31:0", access: w1c',
        '{name: INT_STS, bits: "31:0", access: rw',
        "GINTR_STA read-write instead of write-1-to-clear",
        quick=True,
    ),
    # ------------------------------------------------------------------ spec: enumerated values
    _m(
        "lapic-timer-mode-swap",
        LAPIC,
        "{name: PERIODIC, value: 1}\n            - {name: TSC_DEADLINE, value: 2}",
        "{name: PERIODIC, value: 2}\n            - {name: TSC_DEADLINE, value: 1}",
        "periodic and TSC-deadline swapped",
    ),
    _m(
        "lapic-shorthand-swap",
        LAPIC,
        "{name: ALL_INCL, value: 2, description: All including self}\n            - {name: ALL_EXCL, value: 3,",
        "{name: ALL_INCL, value: 3, description: All including self}\n            - {name: ALL_EXCL, value: 2,",
        "ICR shorthands all-including and all-excluding swapped",
    ),
    _m(
        "ioapic-trigger-swap",
        IOAPIC,
        "{name: EDGE, value: 0}\n                - {name: LEVEL, value: 1}",
        "{name: EDGE, value: 1}\n                - {name: LEVEL, value: 0}",
        "IO-APIC trigger edge = 1, level = 0",
    ),
    _m(
        "idt-gate-types-swap",
        IDT,
        "interrupt: 0xE          # IF cleared on entry\n    trap: 0xF",
        "interrupt: 0xF          # IF cleared on entry\n    trap: 0xE",
        "interrupt and trap gate types swapped",
    ),
    # ------------------------------------------------------------------ spec: the vector map
    Mutation(
        "vectors-local-timer-swap",
        VECTORS,
        (
            ("{number: 0xEC, name: LOCAL_TIMER_VECTOR", "{number: 0xEF, name: LOCAL_TIMER_VECTOR"),
            ("{number: 0xEF, name: MANAGED_IRQ_SHUTDOWN_VECTOR", "{number: 0xEC, name: MANAGED_IRQ_SHUTDOWN_VECTOR"),
        ),
        "local timer at 0xEF (the 4.x value), managed shutdown at 0xEC",
        quick=True,
    ),
    _m(
        "vectors-pf-no-error-code",
        VECTORS,
        "error_code: true, description: Page fault",
        "description: Page fault",
        "#PF without an error code",
    ),
    _m("vectors-nmi-no-ist", VECTORS, "class: interrupt, ist: 2,", "class: interrupt,", "NMI on the current stack"),
    _m("vectors-int80-dpl0", VECTORS, "kind: syscall, dpl: 3,", "kind: syscall,", "int 0x80 gate at DPL 0"),
    Mutation(
        "vectors-isa-block-moved",
        VECTORS,
        (
            ("{name: EXTERNAL, first: 0x20, last: 0x2F", "{name: EXTERNAL, first: 0x30, last: 0x3F"),
            ("{name: ISA_IRQ, first: 0x30, last: 0x3F", "{name: ISA_IRQ, first: 0x20, last: 0x2F"),
        ),
        "ISA IRQ n at 0x20 + n",
    ),
    # ------------------------------------------------------------------ validator: off by one
    _m(
        "validator-apic-id-limit",
        BUILD,
        "if a >= 0xFF:",
        "if a > 0xFF:",
        "APIC ID 0xff (broadcast) accepted as a CPU's ID",
        tests=VALIDATOR,
        quick=True,
    ),
    _m(
        "validator-exception-vector-end",
        BUILD,
        "if n < 32 and kind not in _EXC_OK:",
        "if n < 31 and kind not in _EXC_OK:",
        "vector 0x1f may be a non-exception",
        tests=VALIDATOR,
        quick=True,
    ),
    _m(
        "validator-exception-kind-start",
        BUILD,
        "if n >= 32 and kind is VectorKind.EXCEPTION:",
        "if n >= 33 and kind is VectorKind.EXCEPTION:",
        "vector 0x20 may be an exception",
        tests=VALIDATOR,
        quick=True,
    ),
    _m(
        "validator-range-exception-end",
        BUILD,
        "if last >= 32 and kind is VectorKind.EXCEPTION:",
        "if last > 32 and kind is VectorKind.EXCEPTION:",
        "an exception range may end at 0x20",
        tests=VALIDATOR,
    ),
    _m(
        "validator-range-first",
        BUILD,
        "if first < 32 and kind not in _EXC_OK:",
        "if first < 31 and kind not in _EXC_OK:",
        "an irq range may start at 0x1f",
        tests=VALIDATOR,
    ),
    _m(
        "validator-lvt-count",
        BUILD,
        '"lvt_count": (3, 7)',
        '"lvt_count": (3, 8)',
        "lvt_count 8 accepted",
        tests=VALIDATOR,
    ),
    _m(
        "validator-hpet-timers",
        BUILD,
        '"timers": (1, 32)',
        '"timers": (0, 32)',
        "an HPET with no timer accepted",
        tests=VALIDATOR,
    ),
    _m(
        "validator-field-width",
        BUILD,
        "if lsb + fw > width:",
        "if lsb + fw > width + 1:",
        "a field may stick out of its register by one bit",
        tests=VALIDATOR,
    ),
    _m(
        "validator-field-reset-fit",
        BUILD,
        "if reset is not None and not 0 <= reset < (1 << fw):",
        "if reset is not None and not 0 <= reset <= (1 << fw):",
        "a field reset one too big accepted",
        tests=VALIDATOR,
    ),
    _m(
        "validator-enum-fit",
        BUILD,
        'if v["value"] >= (1 << fw):',
        'if v["value"] > (1 << fw):',
        "an enumerated value one too big accepted",
        tests=VALIDATOR,
    ),
    _m(
        "validator-register-end",
        BUILD,
        "if end > limit:",
        "if end - 1 > limit:",
        "a register may end one byte past its device",
        tests=VALIDATOR,
    ),
    _m(
        "validator-stride",
        BUILD,
        "if count > 1 and stride < span:",
        "if count > 1 and stride < span - 1:",
        "an array stride one short of the register accepted",
        tests=VALIDATOR,
    ),
    _m("validator-count", BUILD, "if count < 1:", "if count < 0:", "a register array of 0 accepted", tests=VALIDATOR),
    _m("validator-isa-irq", BUILD, "if irq > 15:", "if irq > 16:", "ISA IRQ 16 accepted", tests=VALIDATOR),
    _m(
        "validator-spurious-nibble",
        BUILD,
        "if n & 0xF != 0xF:",
        "if n & 0x7 != 0x7:",
        "spurious vector 0xf7 accepted",
        tests=VALIDATOR,
    ),
    _m(
        "validator-address-space-end",
        BUILD,
        "if b + s > 1 << 32:",
        "if b + s >= 1 << 32:",
        "a window ending at 4 GiB refused",
        tests=VALIDATOR,
    ),
    _m(
        "validator-idt-entries",
        BUILD,
        'if e["number"] >= idt.entries:',
        'if e["number"] > idt.entries:',
        "a vector one past the IDT accepted",
        tests=VALIDATOR,
    ),
    _m(
        "validator-size-fits-address-width",
        BUILD,
        'if size > (1 << d["address_width"]):',
        'if size > (1 << d["address_width"]) + 1:',
        "a device one byte larger than its address width accepted",
        tests=VALIDATOR,
    ),
    _m(
        "validator-max-shift", BUILD, "_MAX_SHIFT = 256", "_MAX_SHIFT = 257", "a shift by 257 accepted", tests=VALIDATOR
    ),
]


# --------------------------------------------------------------------------- the scratch copy


class Scratch:
    """A copy of the tracked files with an import tree that makes it win."""

    def __init__(self, base: Path) -> None:
        self.repo = base / "repo"
        self.imports = base / "import"
        files = (
            subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True)
            .stdout.decode()
            .split("\0")
        )
        for rel in filter(None, files):
            src = ROOT / rel
            if src.is_file():  # a tracked file deleted in the working tree stays deleted
                dst = self.repo / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        package_dir = tomllib.loads((self.repo / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
        top = self.imports / "irqforge"
        top.mkdir(parents=True)
        subs = {name.split(".", 1)[1]: folder for name, folder in package_dir.items() if "." in name}
        for entry in (self.repo / package_dir["irqforge"]).iterdir():
            if entry.name not in subs:
                (top / entry.name).symlink_to(entry)
        for sub, folder in subs.items():
            (top / sub).symlink_to(self.repo / folder, target_is_directory=True)
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(self.imports), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.generated = {p: p.read_bytes() for p in (self.repo / "generated").rglob("*") if p.is_file()}

    def python(self, *args: str) -> subprocess.CompletedProcess[str]:
        # -P: the copy's root (the working directory) must not come first on sys.path, where its
        # irqforge/ folder (without spec/, gen/ …) would hide the import tree
        cmd = [sys.executable, "-P", *args]
        return subprocess.run(cmd, cwd=self.repo, env=self.env, capture_output=True, text=True)

    def check_imports(self) -> None:
        out = self.python("-c", "import irqforge.spec, irqforge.sim; print(irqforge.spec.__file__)")
        where = Path(out.stdout.strip())
        if out.returncode or self.imports not in where.parents:
            sys.exit(f"spec_mutations: the copy's irqforge.spec is not the one imported ({where}): {out.stderr}")

    def pytest(self, tests: list[str], stop_first: bool) -> tuple[int, list[str], str]:
        """(exit status, failing test ids, output tail)."""
        args = ["-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "--sim", "none", "-rfE"]
        if stop_first:
            args.append("-x")
        out = self.python(*args, *tests)
        failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out.stdout, re.M)
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-15:])
        return out.returncode, failed, tail

    def apply(self, m: Mutation) -> dict[Path, str]:
        """Apply ``m``; the original texts of the files it changed."""
        targets = [self.repo / m.file]
        if m.is_spec:
            twin = self.repo / LINUX_26 / Path(m.file).name
            if twin.is_file() and twin.read_bytes() == targets[0].read_bytes():
                targets.append(twin)
        saved = {p: p.read_text(encoding="utf-8") for p in targets}
        for path in targets:
            text = saved[path]
            for old, new in m.edits:
                hits = text.count(old)
                if hits != 1:
                    self.restore(saved)
                    raise SystemExit(f"spec_mutations: {m.name}: {old!r} occurs {hits} times in {m.file}")
                text = text.replace(old, new)
            path.write_text(text, encoding="utf-8")
        return saved

    def restore(self, saved: dict[Path, str]) -> None:
        for path, text in saved.items():
            path.write_text(text, encoding="utf-8")

    def regenerate(self) -> str | None:
        """``irqforge gen`` in the copy; the error when the mutated spec does not validate."""
        out = self.python("-m", "irqforge.cli", "gen")
        return None if out.returncode == 0 else (out.stdout + out.stderr).strip()

    def restore_generated(self) -> None:
        for path in (self.repo / "generated").rglob("*"):
            if path.is_file() and path not in self.generated:
                path.unlink()
        for path, data in self.generated.items():
            if not path.is_file() or path.read_bytes() != data:
                path.write_bytes(data)

    def validates(self) -> str | None:
        out = self.python("-m", "irqforge.cli", "validate")
        return None if out.returncode == 0 else (out.stdout + out.stderr).strip()


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("names", nargs="*", help="mutations to run (default: all, or the --quick set)")
    ap.add_argument("--quick", action="store_true", help="only the small set CI runs")
    ap.add_argument("--full", action="store_true", help="run the whole suite (pytest --sim none) for each mutation")
    ap.add_argument(
        "--regenerate", action="store_true", help="run `irqforge gen` in the copy after a spec mutation (--full does)"
    )
    ap.add_argument("-x", "--stop-first", action="store_true", help="stop each pytest run at its first failure")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copy and print where it is")
    ap.add_argument("--tests", metavar="LIST", help="comma list of test paths or ids to run instead of each one's own")
    args = ap.parse_args(argv)
    known = {m.name: m for m in MUTATIONS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        ap.error(f"unknown mutation(s) {', '.join(unknown)}; see --list")
    chosen = [known[n] for n in args.names] if args.names else [m for m in MUTATIONS if m.quick or not args.quick]
    if args.list:
        for m in chosen:
            print(f"{m.name:40} {'quick ' if m.quick else ''}{m.file}: {m.why}")
        return 0

    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="irqforge-mutations-"))
    try:
        scratch = Scratch(base)
        scratch.check_imports()
        override = [s for s in (args.tests or "").split(",") if s]
        if args.full:
            override = ["tests"]
        regenerate = args.full or args.regenerate

        def tests_of(m: Mutation) -> list[str]:
            return override or m.selection

        selection = sorted({t for m in chosen for t in tests_of(m)})
        print(f"baseline: pytest --sim none {' '.join(selection)} on the unmutated copy", flush=True)
        status, failed, tail = scratch.pytest(selection, stop_first=False)
        if status != 0:
            print(f"spec_mutations: the unmutated copy fails ({len(failed)} failing):\n{tail}", file=sys.stderr)
            return 1
        survivors: list[str] = []
        print(f"{'mutation':40} {'result':8} {'s':>5}  caught by", flush=True)
        for m in chosen:
            t0 = time.monotonic()
            saved = scratch.apply(m)
            try:
                if m.is_spec:
                    problem = scratch.regenerate() if regenerate else scratch.validates()
                    if problem is not None:
                        # an invalid spec is caught by the validator, not by the oracle: say so, and fail
                        # (each mutation here is meant to be a valid spec that lies about the hardware)
                        survivors.append(m.name)
                        print(f"{m.name:40} {'INVALID':8} {time.monotonic() - t0:5.1f}  {problem.splitlines()[0]}")
                        continue
                status, failed, tail = scratch.pytest(tests_of(m), stop_first=args.stop_first)
            finally:
                scratch.restore(saved)
                if regenerate and m.is_spec:
                    scratch.restore_generated()
            took = time.monotonic() - t0
            if status == 0:
                survivors.append(m.name)
                print(f"{m.name:40} {'SURVIVED':8} {took:5.1f}  ({m.why})", flush=True)
            elif not failed:
                survivors.append(m.name)
                print(f"{m.name:40} {'ERROR':8} {took:5.1f}  pytest exited {status} without failing tests:\n{tail}")
            else:
                shown = ", ".join(Path(f.split("::")[0]).stem + "::" + f.split("::", 1)[-1] for f in failed[:3])
                more = f" (+{len(failed) - 3} more)" if len(failed) > 3 else ""
                print(f"{m.name:40} {'caught':8} {took:5.1f}  {shown}{more}", flush=True)
        total = time.monotonic() - started
        print(f"{len(chosen) - len(survivors)} of {len(chosen)} mutations caught in {total:.0f} s")
        if survivors:
            print(f"spec_mutations: not caught: {', '.join(survivors)}", file=sys.stderr)
            return 1
        return 0
    finally:
        if args.keep:
            print(f"scratch copy kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
