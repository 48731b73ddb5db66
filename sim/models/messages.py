"""Messages exchanged between the reference models (and the RTL ports they mirror).

Field names follow the RTL port names of docs/hardware.md (``msg_in__vector`` …),
so a bench can compare a port bundle with a model message field by field.
Encodings are the architectural ones; ``tests/test_models_messages.py`` checks
them against the spec's enumerated values.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DeliveryMode(enum.IntEnum):
    FIXED = 0
    LOWEST = 1
    SMI = 2
    #: Reserved (the 82489DX's remote read): an IO-APIC entry may hold it and
    #: sends it like any other; the router delivers it to nobody.
    REMOTE_READ = 3
    NMI = 4
    INIT = 5
    STARTUP = 6
    EXTINT = 7


class DestMode(enum.IntEnum):
    PHYSICAL = 0
    LOGICAL = 1


class Trigger(enum.IntEnum):
    EDGE = 0
    LEVEL = 1


class Shorthand(enum.IntEnum):
    NONE = 0
    SELF = 1
    ALL_INCL = 2
    ALL_EXCL = 3


@dataclass(frozen=True)
class Interrupt:
    """A message for one LAPIC, destination already resolved (``msg_in__*``)."""

    vector: int
    delivery_mode: DeliveryMode = DeliveryMode.FIXED
    trigger: Trigger = Trigger.EDGE
    level: int = 1


@dataclass(frozen=True)
class Ipi:
    """A message a LAPIC sends after an ICR-low write (``ipi__*``)."""

    vector: int
    delivery_mode: DeliveryMode
    dest_mode: DestMode
    dest: int
    shorthand: Shorthand
    trigger: Trigger
    level: int
    source: int
    """APIC ID of the sender."""


@dataclass(frozen=True)
class IoApicMessage:
    """A redirection-table message (``msg__*`` of the IO-APIC)."""

    vector: int
    delivery_mode: DeliveryMode
    dest_mode: DestMode
    dest: int
    trigger: Trigger


@dataclass(frozen=True)
class Msi:
    """An HPET FSB write (``msi__*``): data to address."""

    addr: int
    data: int
