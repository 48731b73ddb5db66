"""What every Machine backend shares: its errors and the backend names.

The backends themselves live next to this module (``model``, ``amaranth``,
``cocotb``); :mod:`irqforge.sim.backends` picks one by name.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BACKENDS", "MachineDeadlock", "MachineError", "MachineTimeout"]

#: Backend names, fastest first (contract §3 ``--sim``).
BACKENDS: Final[tuple[str, ...]] = ("model", "amaranth", "icarus", "verilator")


class MachineError(RuntimeError):
    """A scenario could not run to its end on a backend."""


class MachineTimeout(MachineError):
    """The run reached its ``max_cycles`` before the scenario returned."""

    def __init__(self, cycles: int) -> None:
        self.cycles = cycles
        super().__init__(f"the scenario did not finish within {cycles} cycles")


class MachineDeadlock(MachineError):
    """The scenario waits for an interrupt that nothing scheduled can raise."""
