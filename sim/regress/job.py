"""One regression job, run in a process of its own: ``python -m irqforge.sim.regress.job CONTEXT.json``.

:func:`run_job` (what a Dask worker executes) materialises the Verilog on
the worker's host, starts this module as a child process in a session of
its own with the job's :class:`~irqforge.sim.regress.suites.JobContext`,
waits at most ``timeout`` seconds and then kills the whole process group
(the simulator included): a hanging job is reported as ``timeout`` and the
worker carries on. The child writes ``result.json`` next to its context:
status, simulated cycles, wall time, the failure message and the coverage
hits. A separate process per job also keeps cocotb's runner — which patches
``os.environ`` while it runs — out of the worker's own threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .suites import JobContext, run_suite

__all__ = ["materialise_rtl", "run_job"]

_RESULT = "result.json"
_CONTEXT = "context.json"


def materialise_rtl(rtl: dict[str, str], root: Path) -> Path:
    """Write ``rtl`` (file name → Verilog text) once per content under ``root``; return the folder."""
    digest = hashlib.sha256()
    for name in sorted(rtl):
        digest.update(name.encode() + b"\0" + rtl[name].encode() + b"\0")
    folder = root / f"rtl-{digest.hexdigest()[:16]}"
    if not (folder / ".complete").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in rtl.items():
            tmp = folder / f"{name}.{os.getpid()}.tmp"
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(folder / name)
        (folder / ".complete").write_text("")
    return folder


def run_job(
    job: dict[str, Any],
    rtl: dict[str, str],
    *,
    sim: str,
    build_dir: str | None,
    timeout: float,
    waves: str | None = None,
    keep: str | None = None,
) -> dict[str, Any]:
    """Run ``job`` (``suite``, ``seed``, ``cycles``) on this host; never raises for a failing design.

    Returns the result record: ``status`` (``passed``, ``failed``,
    ``error``, ``timeout``), ``cycles``, ``wall_s``, ``message``,
    ``coverage`` (hits), ``host``. ``keep``: a folder to copy the job's
    working folder to (logs) when it did not pass.
    """
    from irqforge.sim.regress import default_build_dir

    root = Path(build_dir) if build_dir else default_build_dir()
    root.mkdir(parents=True, exist_ok=True)
    rtl_dir = materialise_rtl(rtl, root / "sources")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"irqforge-regress-{job['suite']}-{job['seed']}-") as tmp:
        work = Path(tmp)
        ctx = JobContext(
            suite=job["suite"],
            seed=int(job["seed"]),
            cycles=int(job["cycles"]),
            sim=sim,
            rtl_dir=str(rtl_dir),
            build_dir=str(root),
            work_dir=str(work),
            waves=waves,
        )
        (work / _CONTEXT).write_text(json.dumps(asdict(ctx)))
        record: dict[str, Any] = {**job, "host": platform.node(), "pid": os.getpid()}
        log = work / "job.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "irqforge.sim.regress.job", str(work / _CONTEXT)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=work,
            )
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                record.update(status="timeout", cycles=0, message=f"no result after {timeout:.0f} s; killed")
        if "status" not in record:
            result = work / _RESULT
            if result.is_file():
                record.update(json.loads(result.read_text()))
            else:
                tail = log.read_text(errors="replace").splitlines()[-30:]
                record.update(status="error", cycles=0,
                              message=f"job process exited {proc.returncode} without a result:\n" + "\n".join(tail))
        record["wall_s"] = round(time.perf_counter() - started, 3)
        if record["status"] != "passed" and keep:
            dest = Path(keep) / f"{job['suite']}-{job['seed']}"
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(work, dest, ignore=shutil.ignore_patterns("*.fst", "*.vcd"))
            record["kept"] = str(dest)
    return record


def _main(context_file: str) -> int:
    ctx = JobContext(**json.loads(Path(context_file).read_text()))
    work = Path(ctx.work_dir)
    started = time.perf_counter()
    record: dict[str, Any]
    try:
        outcome = run_suite(ctx)
        record = {"status": "passed", "cycles": outcome.cycles, "message": "", "details": outcome.details}
    except AssertionError as e:
        record = {"status": "failed", "cycles": 0, "message": str(e)}
    except Exception as e:  # a failing cocotb test arrives as the runner's TestFailure
        from irqforge.sim.runner import BuildError, TestFailure

        if isinstance(e, TestFailure):
            listed = "; ".join(f"{f.name}: {f.message}" for f in e.failures)
            record = {"status": "failed", "cycles": 0, "message": listed or str(e)}
        elif isinstance(e, BuildError):
            record = {"status": "error", "cycles": 0, "message": str(e)}
        else:
            record = {"status": "error", "cycles": 0, "message": "".join(traceback.format_exception(e))[-4000:]}
    cov_file = work / "coverage.json"
    record["coverage"] = json.loads(cov_file.read_text()) if cov_file.is_file() else None
    record["job_s"] = round(time.perf_counter() - started, 3)
    tmp = work / f"{_RESULT}.tmp"
    tmp.write_text(json.dumps(record))
    tmp.replace(work / _RESULT)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
