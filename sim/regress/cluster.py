"""Plan a regression's jobs and run them on Dask distributed.

Without a scheduler address a ``LocalCluster`` is started: one worker
process per core, one thread each (a job is one simulator process; more
threads would only make them compete). With ``tcp://HOST:PORT`` the jobs go
to a running ``dask scheduler`` whose ``dask worker`` processes may be on
other hosts; each host materialises the Verilog and builds each simulator
model once in its own cache (:func:`irqforge.sim.regress.default_build_dir`,
content-keyed and file-locked by :func:`irqforge.sim.runner.build_and_test`).

A worker that dies mid-job is noticed by the scheduler, which runs the job
again on another worker (``allowed-failures``); an exception inside the job
function itself (the host's disk, not the design) is retried ``retries``
times; a job that hangs is killed after its timeout and reported as such.
"""

from __future__ import annotations

import math
import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from .suites import CYCLE_SHARE, estimated_seconds

__all__ = ["JOB_CYCLES", "Plan", "junit_xml", "plan", "reproduce_command", "run_jobs"]

#: Cycles of one job at most when the number of seeds is not given.
JOB_CYCLES = 500_000
#: Size of an ``sw`` job is drawn from its seed, not from ``--cycles``.
SW_JOB_CYCLES = 0


@dataclass
class Plan:
    suites: list[str]
    seeds: list[int]
    cycles: int
    jobs: list[dict[str, Any]] = field(default_factory=list)


def plan(suites: Sequence[str], cycles: int, seeds: Sequence[int] | None, workers: int) -> Plan:
    """Jobs for ``suites``: ``cycles`` shared among the suites by :data:`CYCLE_SHARE`, each share split
    evenly among the seeds (every suite runs every seed). Without ``seeds``: 1..N with N such that no
    job exceeds :data:`JOB_CYCLES` and every worker has work."""
    weights = {s: CYCLE_SHARE[s] for s in suites}
    total = sum(weights.values()) or 1
    share = {s: int(cycles * w / total) for s, w in weights.items()}
    if seeds is None:
        n = max(1, workers, math.ceil(max(share.values(), default=0) / JOB_CYCLES))
        seeds = list(range(1, n + 1))
    p = Plan(list(suites), list(seeds), cycles)
    for suite in suites:
        per_job = share[suite] // len(seeds) if weights[suite] else SW_JOB_CYCLES
        for seed in seeds:
            p.jobs.append({"suite": suite, "seed": seed, "cycles": per_job})
    return p


def reproduce_command(job: dict[str, Any], sim: str, rtl: str | None) -> str:
    """One command that runs ``job`` alone, with waves."""
    words = ["irqforge", "regress", "--suites", job["suite"], "--seed-range", f"{job['seed']}:{job['seed'] + 1}",
             "--cycles", str(job["cycles"]), "--sim", sim, "--workers", "1",
             "--waves", f"{job['suite']}-{job['seed']}.fst"]
    if rtl:
        words += ["--rtl", rtl]
    return shlex.join(words)


def run_jobs(
    jobs: list[dict[str, Any]],
    rtl: dict[str, str],
    *,
    sim: str,
    scheduler: str | None,
    workers: int,
    build_dir: str | None,
    timeout: float,
    waves: str | None,
    keep: str | None,
    on_start: Callable[[str], None],
    on_result: Callable[[dict[str, Any]], None],
) -> Iterator[dict[str, Any]]:
    """Submit every job and yield each result record as it completes."""
    from dask.distributed import Client, LocalCluster, as_completed

    from .job import run_job

    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
        on_start(f"scheduler {scheduler}: {len(client.scheduler_info()['workers'])} workers")
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
        on_start(f"local cluster: {workers} worker processes")
    try:
        rtl_future = client.scatter(rtl, broadcast=True)
        futures: dict[Any, dict[str, Any]] = {}
        submitted = []
        for job in jobs:
            fut = client.submit(
                run_job, job, rtl_future, sim=sim, build_dir=build_dir, timeout=timeout, waves=waves, keep=keep,
                key=f"regress-{job['suite']}-{job['seed']}-{job['cycles']}-{time.time_ns()}", retries=2, pure=False,
                priority=round(estimated_seconds(job["suite"], job["seed"], job["cycles"])),  # longest first
            )
            futures[fut.key] = job
            submitted.append(fut)
        for fut in as_completed(submitted):
            job = futures[fut.key]
            try:
                record = fut.result()
            except Exception as e:  # the job function itself failed on every try (or its workers died)
                record = {**job, "status": "error", "cycles": 0, "wall_s": 0.0, "coverage": None,
                          "message": f"{type(e).__name__}: {e}"}
            on_result(record)
            yield record
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def junit_xml(records: Sequence[dict[str, Any]], path: Path, *, sim: str, rtl: str | None, wall_s: float) -> None:
    """One ``<testcase>`` per job: ``classname`` regress.SUITE, ``name`` seed_N; failures carry the command
    reproducing them."""
    failures = sum(r["status"] == "failed" for r in records)
    errors = sum(r["status"] in ("error", "timeout") for r in records)
    root = ElementTree.Element("testsuites", name="irqforge regress", tests=str(len(records)),
                               failures=str(failures), errors=str(errors), time=f"{wall_s:.3f}")
    suite = ElementTree.SubElement(root, "testsuite", name="irqforge.regress", tests=str(len(records)),
                                   failures=str(failures), errors=str(errors), time=f"{wall_s:.3f}")
    for r in sorted(records, key=lambda r: (r["suite"], r["seed"])):
        case = ElementTree.SubElement(suite, "testcase", classname=f"regress.{r['suite']}", name=f"seed_{r['seed']}",
                                      time=f"{r.get('wall_s', 0.0):.3f}")
        props = ElementTree.SubElement(case, "properties")
        for key in ("cycles", "host"):
            if key in r:
                ElementTree.SubElement(props, "property", name=key, value=str(r[key]))
        if r["status"] != "passed":
            tag = "failure" if r["status"] == "failed" else "error"
            element = ElementTree.SubElement(case, tag, message=f"{r['status']}: {r.get('message', '')[:500]}",
                                             type=r["status"])
            element.text = f"{r.get('message', '')}\n\nreproduce: {reproduce_command(r, sim, rtl)}\n"
    tree = ElementTree.ElementTree(root)
    ElementTree.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
