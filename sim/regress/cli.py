"""``irqforge regress``: its arguments and its handler (wired in :mod:`irqforge.cli`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .suites import DEFAULT_SUITES, SUITES

__all__ = ["add_arguments", "run_regress"]

DEFAULT_CYCLES = 2_000_000
MISSING_DASK = "irqforge regress: needs Dask distributed; install it with: pip install 'irqforge[regress]'"


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--suites", default=",".join(DEFAULT_SUITES), metavar="LIST",
                   help=f"comma list of {','.join(SUITES)} (default: all)")
    seeds = s.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, default=None, metavar="N", help="seeds 1..N for every suite")
    seeds.add_argument("--seed-range", default=None, metavar="A:B", help="seeds A..B-1 for every suite")
    s.add_argument("--cycles", type=int, default=DEFAULT_CYCLES, metavar="N",
                   help=f"random differential cycles in all, shared among the suites (default {DEFAULT_CYCLES:,})")
    s.add_argument("--sim", choices=["verilator", "icarus"], default="verilator",
                   help="the simulator of every job (default: verilator)")
    s.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running Dask scheduler, tcp://HOST:PORT (default: a local cluster)")
    s.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local cluster size (default: one per core)")
    s.add_argument("--junit", default=None, metavar="FILE", help="JUnit XML, one test case per job")
    s.add_argument("--coverage", default=None, metavar="FILE", help="merged functional coverage as JSON")
    s.add_argument("--json", action="store_true", help="print totals as JSON")
    s.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="kill a job after S seconds (default: 600 + 1 s per 1000 cycles)")
    s.add_argument("--waves", default=None, metavar="FILE", help="waveform (.fst/.vcd) of the only job")
    s.add_argument("--rtl", default=None, metavar="DIR",
                   help="regress the irqforge_*.v in DIR instead of the RTL of the shipped specs")
    s.add_argument("--build-dir", default=None, metavar="DIR",
                   help="build cache on each host (default: $IRQFORGE_BUILD_DIR, else irqforge's cache folder)")
    s.add_argument("--keep", default=None, metavar="DIR", help="copy the working folder of every job that failed here")


def _seeds(args: argparse.Namespace, err: Console) -> list[int] | str | None:
    if args.seeds is not None:
        if args.seeds < 1:
            return f"--seeds: must be at least 1, not {args.seeds}"
        return list(range(1, args.seeds + 1))
    if args.seed_range is not None:
        a, sep, b = args.seed_range.partition(":")
        try:
            lo, hi = int(a), int(b)
        except ValueError:
            return f"--seed-range: expected A:B with integers, not {args.seed_range!r}"
        if not sep or hi <= lo or lo < 0:
            return f"--seed-range: expected A:B with 0 <= A < B, not {args.seed_range!r}"
        return list(range(lo, hi))
    return None


def _rtl_files(args: argparse.Namespace) -> dict[str, str] | str:
    from irqforge.hw import TOPS

    names = [f"{name}.v" for name in TOPS]
    if args.rtl:
        folder = Path(args.rtl)
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            return f"--rtl {folder}: missing {', '.join(missing)}"
        return {n: (folder / n).read_text() for n in names}
    from irqforge.hw import write_verilog
    from irqforge.spec import load_default

    from . import default_build_dir

    root = Path(args.build_dir) if args.build_dir else default_build_dir()
    files = write_verilog(load_default(), root / "sources")
    return {f"{name}.v": path.read_text() for name, path in files.items()}


def run_regress(args: argparse.Namespace) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        import distributed  # noqa: F401
    except ImportError:
        err.print(MISSING_DASK, markup=False)
        return 1
    from irqforge.sim.models.coverage import Coverage, define
    from irqforge.spec import load_default

    from .cluster import junit_xml, plan, reproduce_command, run_jobs

    suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    unknown = [s for s in suites if s not in SUITES]
    if unknown or not suites:
        err.print(f"--suites: unknown suite(s) {', '.join(unknown) or '(none given)'}; choose from {','.join(SUITES)}",
                  markup=False)
        return 2
    seeds = _seeds(args, err)
    if isinstance(seeds, str):
        err.print(seeds, markup=False)
        return 2
    if args.cycles < 0:
        err.print(f"--cycles: must not be negative, not {args.cycles}", markup=False)
        return 2
    if args.workers is not None and args.workers < 1:
        err.print(f"--workers: must be at least 1, not {args.workers}", markup=False)
        return 2
    if args.timeout is not None and not args.timeout > 0:
        err.print(f"--timeout: must be more than 0 seconds, not {args.timeout:g}", markup=False)
        return 2
    workers = args.workers or os.cpu_count() or 1
    p = plan(suites, args.cycles, seeds, workers)
    if args.waves and len(p.jobs) != 1:
        err.print(f"--waves: only for a single job (one suite, one seed); this run has {len(p.jobs)}", markup=False)
        return 2
    rtl = _rtl_files(args)
    if isinstance(rtl, str):
        err.print(rtl, markup=False)
        return 2
    longest = max((j["cycles"] for j in p.jobs), default=0)
    timeout = args.timeout if args.timeout is not None else 600 + longest / 1000
    waves = str(Path(args.waves).resolve()) if args.waves else None

    out = Console(highlight=False, soft_wrap=True)
    live = out.is_terminal and not args.json
    records: list[dict[str, Any]] = []
    cov = Coverage(define(load_default()))
    started = time.perf_counter()

    def line(text: str) -> None:
        if not args.json:
            out.print(text, markup=False)

    line(f"irqforge regress: {len(p.jobs)} jobs ({', '.join(suites)} × {len(p.seeds)} seeds), "
         f"{args.cycles:,} cycles on {args.sim}")
    progress: Any = None
    task: Any = None
    if live:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("{task.fields[status]}"), console=out)
        task = progress.add_task("regress", total=len(p.jobs), status="")
        progress.start()

    def on_result(r: dict[str, Any]) -> None:
        if r.get("coverage"):
            cov.merge(r["coverage"])
        done = len(records) + 1
        failed = sum(x["status"] != "passed" for x in records) + (r["status"] != "passed")
        cycles = sum(x.get("cycles", 0) for x in records) + r.get("cycles", 0)
        text = (f"[{done}/{len(p.jobs)}] {r['suite']} seed {r['seed']}: {r['status']}, "
                f"{r.get('cycles', 0):,} cycles in {r.get('wall_s', 0):.1f} s on {r.get('host', '?')}")
        if progress is not None:
            progress.update(task, advance=1, status=f"{cycles:,} cycles, {failed} failed, cov {cov.percent:.1f} %")
            if r["status"] != "passed":
                progress.console.print(text, markup=False)
        else:
            line(text)

    try:
        for record in run_jobs(p.jobs, rtl, sim=args.sim, scheduler=args.scheduler, workers=workers,
                               build_dir=args.build_dir, timeout=timeout, waves=waves, keep=args.keep,
                               on_start=line, on_result=on_result):
            records.append(record)
    except OSError as e:
        if progress is not None:
            progress.stop()
        err.print(f"irqforge regress: cannot reach the cluster: {e}", markup=False)
        return 1
    finally:
        if progress is not None:
            progress.stop()
    wall = time.perf_counter() - started

    failed = [r for r in records if r["status"] != "passed"]
    cycles = sum(r.get("cycles", 0) for r in records)
    if args.junit:
        junit_xml(records, Path(args.junit), sim=args.sim, rtl=args.rtl, wall_s=wall)
    report = cov.report()
    if args.coverage:
        path = Path(args.coverage)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1) + "\n")
    per_suite: dict[str, dict[str, Any]] = {}
    for r in records:
        s = per_suite.setdefault(r["suite"], {"jobs": 0, "passed": 0, "cycles": 0, "job_wall_s": 0.0})
        s["jobs"] += 1
        s["passed"] += r["status"] == "passed"
        s["cycles"] += r.get("cycles", 0)
        s["job_wall_s"] = round(s["job_wall_s"] + r.get("wall_s", 0.0), 3)
    failures = [{"suite": r["suite"], "seed": r["seed"], "cycles": _job_of(p.jobs, r)["cycles"],
                 "status": r["status"], "message": r.get("message", ""),
                 "reproduce": reproduce_command(_job_of(p.jobs, r), args.sim, args.rtl)} for r in failed]
    totals = {
        "jobs": len(records),
        "passed": len(records) - len(failed),
        "failed": sum(r["status"] == "failed" for r in records),
        "errors": sum(r["status"] == "error" for r in records),
        "timeouts": sum(r["status"] == "timeout" for r in records),
        "cycles": cycles,
        "wall_s": round(wall, 3),
        "cycles_per_s": round(cycles / wall) if wall else None,
        "sim": args.sim,
        "scheduler": args.scheduler or f"local:{workers}",
        "seeds": p.seeds,
        "suites": per_suite,
        "coverage_percent": report["percent"],
        "failures": failures,
    }
    if args.json:
        print(json.dumps(totals, indent=2))
    else:
        for f in failures:
            out.print(f"FAILED {f['suite']} seed {f['seed']} ({f['status']}): {f['message'][:600]}", markup=False)
            out.print(f"  reproduce: {f['reproduce']}", markup=False)
        out.print(f"{totals['passed']}/{totals['jobs']} jobs passed, {cycles:,} cycles in {wall:.1f} s "
                  f"({totals['cycles_per_s'] or 0:,} cycles/s); coverage {report['percent']:.1f} % of "
                  f"{report['bins']} bins", markup=False)
        if report["holes"]:
            table = Table(title="coverage holes", show_lines=False)
            table.add_column("coverpoint")
            table.add_column("bin")
            for hole in report["holes"][:60]:
                point, _, label = hole.partition(":")
                table.add_row(point, label)
            out.print(table)
            if len(report["holes"]) > 60:
                out.print(f"… and {len(report['holes']) - 60} more (see --coverage)", markup=False)
    return 0 if not failed and records else 1


def _job_of(jobs: list[dict[str, Any]], record: dict[str, Any]) -> dict[str, Any]:
    return next(j for j in jobs if (j["suite"], j["seed"]) == (record["suite"], record["seed"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="irqforge regress")
    add_arguments(parser)
    return run_regress(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
