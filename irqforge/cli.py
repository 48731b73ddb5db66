"""The ``irqforge`` command line (contract §3).

Exit codes: 0 fine, 1 spec or check failure, 2 usage.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from irqforge import __version__

DEFAULT_OUT = Path("generated")


def _err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _load(spec_dir: str | None):
    """The spec, or None after printing every problem."""
    from irqforge.spec import SpecError, load

    try:
        return load(Path(spec_dir) if spec_dir else None)
    except SpecError as e:
        err = _err_console()
        for p in e.problems:
            err.print(str(p), markup=False)
        err.print(f"{len(e.problems)} problem(s); nothing was written.", style="bold red", markup=False)
        return None


def cmd_validate(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    spec = _load(args.spec_dir)
    if spec is None:
        return 1
    dt = time.perf_counter() - t0
    regs = sum(len(d.registers) for d in spec.devices)
    Console(highlight=False, soft_wrap=True).print(
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
    outputs = gen.generate(spec)
    con = Console(highlight=False, soft_wrap=True)
    if args.check:
        problems = gen.check(outputs, out_dir)
        if problems:
            err = _err_console()
            for p in problems:
                err.print(p, markup=False)
            cmd = "irqforge gen" + (f" {args.spec_dir}" if args.spec_dir else "") + f" -o {out_dir}"
            err.print(f"{len(problems)} generated file(s) out of date; run: {cmd}", style="bold red", markup=False)
            return 1
        con.print(f"{len(outputs)} generated files in {out_dir} are up to date ({time.perf_counter() - t0:.2f} s)")
        return 0
    changed = gen.write(outputs, out_dir)
    con.print(
        f"wrote {len(changed)} of {len(outputs)} files to {out_dir} "
        f"({len(outputs) - len(changed)} unchanged, {time.perf_counter() - t0:.2f} s)"
    )
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from irqforge.doctor import doctor

    return doctor(Console(highlight=False))


def _not_yet(what: str) -> int:
    _err_console().print(f"irqforge {what}: not available yet in this version", markup=False)
    return 1


def cmd_sim(args: argparse.Namespace) -> int:
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
    s.set_defaults(func=cmd_gen)

    s = sub.add_parser("sim", help="run a scenario of the software stack on the platform")
    s.add_argument("--sim", choices=["verilator", "icarus", "amaranth", "model"], default=None)
    s.add_argument("--cpus", type=int, default=None, metavar="N")
    s.add_argument("--scenario", default="default", metavar="NAME")
    s.add_argument("--cycles", type=int, default=None, metavar="N")
    s.add_argument("--waves", default=None, metavar="FILE")
    s.add_argument("--json", action="store_true")
    s.add_argument("spec_dir", nargs="?", metavar="SPEC_DIR", help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_sim)

    s = sub.add_parser("demo", help="the default scenario on the best simulator present")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("bench", help="performance figures")
    s.add_argument("--json", action="store_true")
    s.add_argument("--quick", action="store_true", help="one repetition instead of three")
    s.add_argument("--write-doc", metavar="FILE", help="also write the figures as Markdown (docs/performance.md)")
    s.add_argument(
        "--parts", metavar="LIST", help="comma list of gen, latency, backends, storm, fpga (default: all)", default=None
    )
    s.set_defaults(func=cmd_bench)

    from irqforge.sim.regress.cli import add_arguments as regress_arguments

    s = sub.add_parser("regress", help="random regressions with coverage on Dask distributed")
    regress_arguments(s)
    s.set_defaults(func=cmd_regress)

    s = sub.add_parser("doctor", help="simulators found, versions, what is missing")
    s.set_defaults(func=cmd_doctor)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        _err_console().print("interrupted", markup=False)
        return 130


if __name__ == "__main__":
    sys.exit(main())
