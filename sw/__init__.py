"""The Linux-like software stack; it reaches hardware only through :class:`Machine`.

>>> from irqforge.sim.backends import run_scenario
>>> result = run_scenario("model", "irqforge.sw.scenario:default_scenario")
>>> print(result["proc_interrupts"])  # doctest: +SKIP
"""

from .entry import PtRegs
from .irq import IRQ_HANDLED, IRQ_NONE, IRQF_SHARED, IRQF_TRIGGER_HIGH, IRQF_TRIGGER_RISING
from .kernel import Kernel, KernelBug, KernelConfig, KernelOops, KernelPanic, KernelTimeout
from .machine import BusError, Machine, MsrFault
from .scenario import default_scenario

__all__ = [
    "IRQF_SHARED",
    "IRQF_TRIGGER_HIGH",
    "IRQF_TRIGGER_RISING",
    "IRQ_HANDLED",
    "IRQ_NONE",
    "BusError",
    "Kernel",
    "KernelBug",
    "KernelConfig",
    "KernelOops",
    "KernelPanic",
    "KernelTimeout",
    "Machine",
    "MsrFault",
    "PtRegs",
    "default_scenario",
]
