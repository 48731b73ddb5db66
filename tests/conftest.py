"""Shared pytest options and fixtures for irqforge's tests.

Options:

``--sim LIST``
    The cocotb simulators to run on: a comma list of ``icarus`` and
    ``verilator``, or ``all`` or ``none``. Default: both, and a missing one
    is an error that stops the run before any test (``scripts/setup.sh``
    installs both): a machine without simulators cannot pass by skipping
    every cocotb test. ``--sim none`` (or a list) runs without them. A test
    that takes the ``simulator`` fixture runs once per simulator; the ones not
    selected are skipped with the reason.
``--long``
    Also run the tests marked ``long`` (randomised and soak tests).
``--build-dir DIR``
    Keep cocotb builds in DIR so that later runs reuse them (default: a new
    temporary folder per session).
``--require-sim``
    Kept for old command lines; requiring the simulators is the default now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from irqforge.sim import toolchain


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("irqforge")
    group.addoption(
        "--sim",
        action="store",
        default=None,
        metavar="LIST",
        help="cocotb simulators to test on: comma list of icarus,verilator, or all, or none "
        "(default: every simulator found)",
    )
    group.addoption(
        "--long",
        action="store_true",
        default=False,
        help="also run tests marked long (randomised and soak tests)",
    )
    group.addoption(
        "--build-dir",
        action="store",
        default=None,
        metavar="DIR",
        help="reuse cocotb builds from DIR across runs (default: a temporary folder per session)",
    )
    group.addoption(
        "--require-sim",
        action="store_true",
        default=False,
        help="(the default now) a selected simulator that is missing is an error, not a skip",
    )


def _requested_simulators(config: pytest.Config) -> tuple[list[str], bool]:
    """The simulators asked for with --sim, and whether they were asked for explicitly."""
    raw = config.getoption("--sim")
    if raw is None:
        return [sim for sim in toolchain.SIMULATORS if toolchain.find_simulator(sim).ok], False
    words = [word.strip().lower() for word in str(raw).split(",") if word.strip()]
    if words == ["all"]:
        return list(toolchain.SIMULATORS), True
    if words in ([], ["none"]):
        return [], True
    unknown = [word for word in words if word not in toolchain.SIMULATORS]
    if unknown:
        raise pytest.UsageError(
            f"--sim: unknown simulator(s) {', '.join(unknown)}; "
            f"use a comma list of {', '.join(toolchain.SIMULATORS)}, or all, or none"
        )
    return [sim for sim in toolchain.SIMULATORS if sim in words], True


def _skip_reason(config: pytest.Config, sim: str) -> str | None:
    """Why a test should not run on *sim*, or ``None`` when it should."""
    selected, explicit = _requested_simulators(config)
    if sim not in selected:
        if explicit:
            return f"{sim} not selected (--sim {config.getoption('--sim')})"
        return f"{sim} not found: {toolchain.find_simulator(sim).why_not}"
    tool = toolchain.find_simulator(sim)
    if not tool.ok:
        return f"{sim} selected but not usable: {tool.why_not}"
    return None


def pytest_configure(config: pytest.Config) -> None:
    # Fail early on a bad --sim, before collecting anything.
    selected, explicit = _requested_simulators(config)
    wanted = selected if explicit else list(toolchain.SIMULATORS)
    missing = [
        f"{sim}: {toolchain.find_simulator(sim).why_not}" for sim in wanted if not toolchain.find_simulator(sim).ok
    ]
    if missing:
        raise pytest.UsageError(
            f"simulator(s) not usable: {'; '.join(missing)}. Run bash scripts/setup.sh, or choose the "
            "simulators with --sim (--sim none: no cocotb benches)"
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    parts = []
    for sim in toolchain.SIMULATORS:
        tool = toolchain.find_simulator(sim)
        reason = _skip_reason(config, sim)
        state = f"{tool.version}" if reason is None else "skipped"
        parts.append(f"{sim}={state}")
    return ["cocotb simulators: " + ", ".join(parts)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "simulator" not in metafunc.fixturenames:
        return
    params = []
    for sim in toolchain.SIMULATORS:
        reason = _skip_reason(metafunc.config, sim)
        marks: list[Any] = [pytest.mark.sim]
        if reason is not None:
            marks.append(pytest.mark.skip(reason=reason))
        params.append(pytest.param(sim, id=sim, marks=marks))
    metafunc.parametrize("simulator", params)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--long"):
        return
    skip_long = pytest.mark.skip(reason="long test: run with --long")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip_long)


@pytest.fixture
def simulator(request: pytest.FixtureRequest) -> str:
    """The cocotb simulator this test runs on, ``"verilator"`` or ``"icarus"`` (see ``--sim``)."""
    return str(request.param)


@pytest.fixture(scope="session")
def build_root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root folder of the cocotb build cache for this session (``--build-dir`` to keep it)."""
    chosen = request.config.getoption("--build-dir")
    if chosen:
        path = Path(chosen).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("build")


@pytest.fixture(scope="session")
def spec() -> Any:
    """The default specs shipped with irqforge, loaded and validated once per session."""
    from irqforge.spec import load_default  # lazily: the spec package is young

    return load_default()
