"""Helpers for the software-stack tests: boot a Kernel on the model backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from irqforge.sw.kernel import Kernel, KernelConfig


@pytest.fixture
def boot(spec: Any) -> Callable[..., tuple[Kernel, Any]]:
    """``boot(main, **config)``: run ``main(k)`` on a fresh ModelMachine; (kernel, result)."""
    from irqforge.sim.backends.model import ModelMachine

    def run(main: Callable[[Kernel], Awaitable[Any]], max_cycles: int = 50_000_000, **cfg: Any) -> tuple[Kernel, Any]:
        cfg.setdefault("watchdog", False)
        m = ModelMachine(spec)
        k = Kernel(m, spec, KernelConfig(**cfg))
        result = m.run(k.run(main), max_cycles=max_cycles)
        return k, result

    return run
