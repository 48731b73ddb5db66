"""What every Machine backend shares: its errors and the backend names.

The backends themselves live next to this module (``model``, ``amaranth``,
``verilator``, ``cocotb``); :mod:`irqforge.sim.backends` picks one by name.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BACKENDS", "COCOTB_SIMULATORS", "MachineDeadlock", "MachineError", "MachineTimeout", "ScenarioError"]

#: Backend names, fastest first (``irqforge sim --sim``).
BACKENDS: Final[tuple[str, ...]] = ("model", "verilator", "cocotb-verilator", "icarus", "amaranth")

#: The cocotb simulator behind each cocotb backend.
COCOTB_SIMULATORS: Final[dict[str, str]] = {"cocotb-verilator": "verilator", "icarus": "icarus"}


class MachineError(RuntimeError):
    """A scenario could not run to its end on a backend."""


class MachineTimeout(MachineError):
    """The run reached its ``max_cycles`` before the scenario returned."""

    def __init__(self, cycles: int) -> None:
        self.cycles = cycles
        super().__init__(f"the scenario did not finish within {cycles} cycles")


class MachineDeadlock(MachineError):
    """The scenario waits for an interrupt that nothing scheduled can raise.

    The message names the cycle, each CPU and what it waits for.
    """


class ScenarioError(Exception):
    """The scenario itself raised inside a simulator process (a cocotb backend).

    ``error`` is the exception's type name and message, ``user_traceback`` the
    traceback with irqforge's frames folded (:mod:`irqforge.sim.tracebacks`),
    or ``""`` when no frame was the user's (then it is irqforge's failure).
    """

    def __init__(self, kind: str, message: str, user_traceback: str) -> None:
        self.kind, self.message, self.user_traceback = kind, message, user_traceback
        super().__init__(f"{kind}: {message}")
