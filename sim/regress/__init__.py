"""Random regressions at scale: jobs of (suite, seed, cycles) on Dask distributed.

- :mod:`.suites` — what a job runs (RTL in lock step against the reference
  models, the storm, the software stack against the model backend);
- :mod:`.job` — one job in a child process with a timeout, on a worker;
- :mod:`.cluster` — planning the jobs, a ``LocalCluster`` or a running
  scheduler, results as they complete, JUnit XML;
- :mod:`.cli` — ``irqforge regress``.

Functional coverage is defined in :mod:`irqforge.sim.models.coverage`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_BUILD_DIR", "default_build_dir"]

#: Overrides where simulator builds and the job's Verilog are cached on a host.
ENV_BUILD_DIR = "IRQFORGE_BUILD_DIR"


def default_build_dir() -> Path:
    """The host's build cache: ``$IRQFORGE_BUILD_DIR``, else ``regress`` in irqforge's cache folder
    (:func:`irqforge.sim.toolchain.cache_dir`: ``irqforge cache`` shows and clears it)."""
    from irqforge.sim import toolchain

    chosen = os.environ.get(ENV_BUILD_DIR)
    return Path(chosen) if chosen else toolchain.cache_dir("regress")
