"""The Linux-like software stack; it reaches hardware only through :class:`Machine`."""

from .machine import BusError, Machine

__all__ = ["BusError", "Machine"]
