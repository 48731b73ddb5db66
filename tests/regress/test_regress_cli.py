"""``irqforge regress``: job planning, usage errors, a missing Dask, a timed-out job, and a real
``dask scheduler`` with two ``dask worker`` processes driven through ``--scheduler``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from irqforge.cli import main
from irqforge.sim import toolchain
from irqforge.sim.regress.cluster import plan, reproduce_command


def test_plan_shares_cycles_and_every_suite_runs_every_seed() -> None:
    p = plan(["lapic", "ioapic"], 1_040_000, [3, 4], workers=2)
    assert [(j["suite"], j["seed"]) for j in p.jobs] == [("lapic", 3), ("lapic", 4), ("ioapic", 3), ("ioapic", 4)]
    # lapic weighs 5, ioapic 0.2: 1,000,000 and 40,000 cycles, split over two seeds
    assert [j["cycles"] for j in p.jobs] == [500_000, 500_000, 20_000, 20_000]
    auto = plan(["lapic"], 10_000_000, None, workers=2)
    assert auto.seeds == list(range(1, 21)) and {j["cycles"] for j in auto.jobs} == {500_000}


def test_reproduce_command_runs_that_job_alone() -> None:
    cmd = reproduce_command({"suite": "hpet", "seed": 7, "cycles": 1234}, "verilator", None)
    assert cmd == ("irqforge regress --suites hpet --seed-range 7:8 --cycles 1234 --sim verilator --workers 1 "
                   "--waves hpet-7.fst")
    # that command plans exactly the job it names
    assert plan(["hpet"], 1234, [7], workers=1).jobs == [{"suite": "hpet", "seed": 7, "cycles": 1234}]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--suites", "lapic,bogus"], "--suites: unknown suite(s) bogus"),
        (["--seed-range", "5:2"], "--seed-range: expected A:B with 0 <= A < B, not '5:2'"),
        (["--seeds", "0"], "--seeds: must be at least 1, not 0"),
        (["--seeds", "2", "--waves", "x.fst"], "--waves: only for a single job"),
        (["--seeds", "1", "--workers", "0"], "--workers: must be at least 1, not 0"),
        (["--seeds", "1", "--timeout", "-1"], "--timeout: must be more than 0 seconds, not -1"),
    ],
)
def test_usage_errors_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regress", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(message), err


def test_missing_dask_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed → ImportError
    assert main(["regress", "--suites", "lapic"]) == 1
    err = capsys.readouterr().err
    assert err == "irqforge regress: needs Dask distributed; install it with: pip install 'irqforge[regress]'\n"


def _verilator() -> None:
    if not toolchain.find_simulator("verilator").ok:
        pytest.skip("verilator not usable")


@pytest.mark.sim
def test_a_hanging_job_is_killed_and_reported(tmp_path: Path, build_root: Path) -> None:
    _verilator()
    junit = tmp_path / "junit.xml"
    done = subprocess.run(
        [sys.executable, "-m", "irqforge", "regress", "--suites", "lapic", "--seeds", "1", "--cycles", "100000000",
         "--workers", "1", "--timeout", "3", "--json", "--junit", str(junit), "--build-dir", str(build_root)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1, done.stderr
    totals = json.loads(done.stdout)
    assert totals["timeouts"] == 1 and totals["passed"] == 0
    assert totals["failures"][0]["reproduce"].startswith("irqforge regress --suites lapic --seed-range 1:2")
    case = ElementTree.parse(junit).getroot().find("testsuite/testcase")
    assert case is not None and case.get("name") == "seed_1" and case.find("error") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A real ``dask scheduler`` and two ``dask worker`` processes on this host."""
    dask = Path(sys.executable).with_name("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    logs = [(tmp_path / f"{name}.log").open("w") for name in ("scheduler", "worker1", "worker2")]
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=logs[0], stderr=subprocess.STDOUT, env=env)]
    try:
        time.sleep(2)
        for i in (1, 2):
            procs.append(subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", "--no-dashboard",
                                           "--name", f"w{i}"], stdout=logs[i], stderr=subprocess.STDOUT, env=env))
        from dask.distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in logs:
            log.close()


@pytest.mark.sim
def test_regression_through_a_running_scheduler(dask_cluster: str, tmp_path: Path, build_root: Path) -> None:
    _verilator()
    junit, coverage = tmp_path / "junit.xml", tmp_path / "coverage.json"
    done = subprocess.run(
        [sys.executable, "-m", "irqforge", "regress", "--scheduler", dask_cluster, "--suites", "lapic,sw",
         "--seeds", "2", "--cycles", "40000", "--json", "--junit", str(junit), "--coverage", str(coverage),
         "--build-dir", str(build_root)],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    totals = json.loads(done.stdout)
    assert totals["scheduler"] == dask_cluster
    assert totals["jobs"] == totals["passed"] == 4
    assert totals["suites"]["lapic"]["cycles"] >= 40000
    cases = ElementTree.parse(junit).getroot().findall("testsuite/testcase")
    assert sorted((c.get("classname"), c.get("name")) for c in cases) == [
        ("regress.lapic", "seed_1"), ("regress.lapic", "seed_2"), ("regress.sw", "seed_1"), ("regress.sw", "seed_2")]
    report = json.loads(coverage.read_text())
    assert 0 < report["percent"] <= 100
    assert report["coverpoints"]["lapic.msg_in"]["bins"]["FIXED/EDGE"] > 0
    assert report["coverpoints"]["axi.resp"]["bins"]["READ/OKAY"] > 0  # sampled by the sw jobs' model
