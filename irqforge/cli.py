"""The ``irqforge`` command line (docs/cli.md).

Exit codes: 0 fine, 1 spec or check failure, 2 usage.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from irqforge import __version__

DEFAULT_OUT = Path("generated")


def _console(*, stderr: bool = False) -> Console:
    """A console that prints user text verbatim: no markup, no emoji codes
    (``lapic.yaml:100:15`` must not become ``lapic.yaml💯15``), no highlighting."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False, markup=False)


def _err_console() -> Console:
    return _console(stderr=True)


def _load(spec_dir: str | None):
    """The spec, or None after printing every problem."""
    from irqforge.spec import SpecError, load

    try:
        return load(Path(spec_dir) if spec_dir else None)
    except SpecError as e:
        err = _err_console()
        for p in e.problems:
            err.print(str(p))
        err.print(f"{len(e.problems)} problem(s); nothing was written.", style="bold red")
        return None


def cmd_validate(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    spec = _load(args.spec_dir)
    if spec is None:
        return 1
    dt = time.perf_counter() - t0
    regs = sum(len(d.registers) for d in spec.devices)
    _console().print(
        f"{spec.source}: valid — {regs} registers in {len(spec.devices)} devices, "
        f"{len(spec.vectors.vectors)} named vectors, {spec.platform.ncpus} CPUs "
        f"(sha256 {spec.digest[:16]}, {dt * 1000:.0f} ms)"
    )
    return 0


def cmd_gen(args: argparse.Namespace) -> int:
    import irqforge.gen as gen  # type: ignore[import-not-found,unused-ignore]  # mapped from gen/

    t0 = time.perf_counter()
    spec = _load(args.spec_dir)
    if spec is None:
        return 1
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        _err_console().print(f"irqforge gen: -o {out_dir}: not a folder")
        return 2
    for flag, folder in (("-o", out_dir), ("--html", Path(args.html) if args.html else None)):
        if folder is None or (args.check and flag == "-o"):
            continue
        if folder.exists() and not folder.is_dir():
            _err_console().print(f"irqforge gen: {flag} {folder}: not a folder", markup=False)
            return 2
        if not folder.exists() and not folder.absolute().parent.is_dir():
            _err_console().print(f"irqforge gen: {flag} {folder}: the folder {folder.absolute().parent} does not exist",
                                 markup=False)
            return 2
    outputs = gen.generate(spec)
    con = _console()
    if args.check:
        problems = gen.check(outputs, out_dir)
        if problems:
            err = _err_console()
            for p in problems:
                err.print(p)
            cmd = "irqforge gen" + (f" {args.spec_dir}" if args.spec_dir else "") + f" -o {out_dir}"
            err.print(f"{len(problems)} generated file(s) out of date; run: {cmd}", style="bold red")
            return 1
        con.print(f"{len(outputs)} generated files in {out_dir} are up to date ({time.perf_counter() - t0:.2f} s)")
        return 0
    changed = gen.write(outputs, out_dir)
    con.print(
        f"wrote {len(changed)} of {len(outputs)} files to {out_dir} "
        f"({len(outputs) - len(changed)} unchanged, {time.perf_counter() - t0:.2f} s)"
    )
    if args.html:
        from irqforge.gen import peakrdl  # type: ignore[import-not-found,unused-ignore]  # mapped from gen/

        rdl_texts = {p: b.decode("utf-8") for p, b in outputs.items() if p.startswith("rdl/")}
        index = peakrdl.write_html(spec, rdl_texts, Path(args.html))
        con.print(f"wrote the HTML register reference (peakrdl-html) to {args.html}; open {index}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from irqforge.doctor import doctor

    # doctor's own text carries rich markup (its colours); the plain console would print the tags
    return doctor(Console(highlight=False, soft_wrap=True, emoji=False))


def _not_yet(what: str) -> int:
    _err_console().print(f"irqforge {what}: not available yet in this version")
    return 1


def cmd_sim(args: argparse.Namespace) -> int:
    if getattr(args, "spec_dir", None) and _load(args.spec_dir) is None:  # its problems, printed verbatim
        return 1
    try:
        from irqforge.sim.app import run_sim
    except ModuleNotFoundError as e:
        if e.name != "irqforge.sim.app":
            raise
        return _not_yet("sim")
    return run_sim(args)


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from irqforge.sim.app import run_demo
    except ModuleNotFoundError as e:
        if e.name != "irqforge.sim.app":
            raise
        return _not_yet("demo")
    return run_demo(args)


def cmd_bench(args: argparse.Namespace) -> int:
    try:
        from irqforge.sim.bench import run_bench
    except ModuleNotFoundError as e:
        if e.name != "irqforge.sim.bench":
            raise
        return _not_yet("bench")
    return run_bench(args)


def _positive(text: str) -> int:
    """An argparse type: an integer of at least 1 (decimal or 0x…)."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is below 1")
    return value


def cmd_cache(args: argparse.Namespace) -> int:
    """Show the build cache (what is in it, how big) or clear it."""
    import shutil

    from irqforge.sim import toolchain

    root = toolchain.cache_dir()
    con = _console()
    entries = sorted(p for p in root.iterdir())
    sizes = {p: _du(p) for p in entries}
    if args.clear:
        for p in entries:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        con.print(f"cleared {root}: {_human(sum(sizes.values()))} in {len(entries)} entries removed")
        return 0
    con.print(f"build cache: {root} (set {toolchain.ENV_CACHE_DIR} to move it)")
    for p in entries:
        con.print(f"  {p.name:<20} {_human(sizes[p]):>9}")
    con.print(f"  {'total':<20} {_human(sum(sizes.values())):>9}   (irqforge cache --clear empties it)")
    return 0


def _du(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def cmd_regress(args: argparse.Namespace) -> int:
    from irqforge.sim.regress.cli import run_regress

    return run_regress(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="irqforge",
        description="x86 interrupt and timer hardware from declarative specs.",
    )
    p.add_argument("--version", action="version", version=f"irqforge {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("validate", help="check a spec directory; every problem as FILE:LINE:COL: message")
    s.add_argument("spec_dir", nargs="?", metavar="SPEC_DIR", help="default: the specs shipped with irqforge")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("gen", help="write all generated outputs (atomically: all or none)")
    s.add_argument("spec_dir", nargs="?", metavar="SPEC_DIR", help="default: the specs shipped with irqforge")
    s.add_argument(
        "-o", "--output", default=str(DEFAULT_OUT), metavar="DIR", help="output directory (default: generated)"
    )
    s.add_argument("--check", action="store_true", help="write nothing; list stale or missing files, exit 1 if any")
    s.add_argument(
        "--html",
        metavar="DIR",
        default=None,
        help="also write a browsable HTML register reference (peakrdl-html; several MB, not committed) into DIR",
    )
    s.set_defaults(func=cmd_gen)

    s = sub.add_parser(
        "sim",
        help="run a scenario of the software stack on the platform",
        description="Run a scenario of the software stack on the simulated platform and print its "
        "/proc/interrupts. A scenario is async def scenario(machine, **kwargs) -> dict.",
    )
    s.add_argument("spec_dir", nargs="?", metavar="SPEC_DIR", help="default: the specs shipped with irqforge")
    s.add_argument(
        "--sim",
        choices=["verilator", "cocotb-verilator", "icarus", "amaranth", "model"],
        default=None,
        help="the backend (default: the best present: verilator > cocotb-verilator > icarus > amaranth > model)",
    )
    s.add_argument(
        "--cpus", type=_positive, default=None, metavar="N", help="CPUs, APIC IDs 0..N-1 (default: the spec's)"
    )
    s.add_argument(
        "--apic",
        choices=["xapic", "x2apic"],
        default=None,
        help="force the LAPIC mode of the kernel (default: x2APIC and the TSC-deadline tick when the spec has them)",
    )
    s.add_argument(
        "--scenario",
        default="default",
        metavar="NAME|FILE.py:FUNC",
        help="a named scenario (--list), path/to/file.py:function or module:function (default: default)",
    )
    s.add_argument("--cycles", type=_positive, default=None, metavar="N", help="stop with an error after N cycles")
    s.add_argument(
        "--waves",
        default=None,
        metavar="FILE",
        help="record a waveform: .fst on verilator, .fst or .vcd on cocotb-verilator, .vcd on icarus and amaranth",
    )
    s.add_argument(
        "--trace",
        default=None,
        metavar="FILE",
        help="write the run's Linux tracepoints (irq:irq_handler_entry, irq:softirq_entry, ...) as a "
        "Chrome/Perfetto trace, one track per CPU: open it in ui.perfetto.dev",
    )
    s.add_argument("--json", action="store_true", help="print the whole result as JSON")
    s.add_argument("--list", action="store_true", help="list the named scenarios and exit")
    s.set_defaults(func=cmd_sim)

    s = sub.add_parser("demo", help="the default scenario on the best simulator present")
    s.add_argument("--json", action="store_true", help="print the whole result as JSON")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("bench", help="performance figures")
    s.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    s.add_argument("--quick", action="store_true", help="one repetition instead of three")
    s.add_argument("--write-doc", metavar="FILE", help="also write the figures as Markdown (docs/performance.md)")
    s.add_argument(
        "--parts",
        metavar="LIST",
        help="comma list of gen, latency, backends, storm, fpga, ecp5, rtl_speed (default: all)",
        default=None,
    )
    s.set_defaults(func=cmd_bench)

    from irqforge.sim.regress.cli import add_arguments as regress_arguments

    s = sub.add_parser("cache", help="show the simulator build cache and its size, or clear it")
    s.add_argument("--clear", action="store_true", help="remove every cached build")
    s.set_defaults(func=cmd_cache)

    s = sub.add_parser("regress", help="random regressions with coverage on Dask distributed")
    regress_arguments(s)
    s.set_defaults(func=cmd_regress)

    s = sub.add_parser("doctor", help="simulators found, versions, what is missing")
    s.set_defaults(func=cmd_doctor)
    return p


def _run(args: argparse.Namespace) -> int:
    """Run a subcommand; the one place that turns exceptions into exit codes.

    A user's mistake (a bad spec, a file or folder that cannot be read or
    written, an output the emitters cannot produce) is one line per problem and
    exit 1 — never a traceback. Anything else is a bug in irqforge: its
    traceback, then a line saying so.
    """
    from irqforge.gen.errors import GenError  # type: ignore[import-not-found,unused-ignore]  # mapped from gen/
    from irqforge.spec import SpecError

    err = _err_console()
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except SpecError as e:
        for p in e.problems:
            err.print(str(p))
        err.print(f"{len(e.problems)} problem(s); nothing was written.", style="bold red")
        return 1
    except GenError as e:
        err.print(f"irqforge {args.command}: {e}")
        return 1
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        err.print(f"irqforge {args.command}: {where}{e.strerror or e}")
        return 1
    except Exception:
        traceback.print_exc()
        err.print(
            f"irqforge {__version__}: this is a bug in irqforge, not a mistake in your input; "
            "please report it with the traceback above",
            style="bold red",
        )
        return 1


def _announce_builds() -> None:
    """Print the simulator builds' announcements (``irqforge.build``) as plain lines on stderr."""
    import logging

    class _Stderr(logging.Handler):
        """Writes to whatever ``sys.stderr`` is at the time (tests swap it)."""

        def emit(self, record: logging.LogRecord) -> None:
            print(f"irqforge: {record.getMessage()}", file=sys.stderr, flush=True)

    log = logging.getLogger("irqforge.build")
    if not any(isinstance(h, logging.Handler) and type(h).__name__ == "_Stderr" for h in log.handlers):
        log.addHandler(_Stderr())
    log.setLevel(logging.INFO)
    log.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _announce_builds()
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
