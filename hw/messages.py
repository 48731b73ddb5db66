"""Every message port of the interrupt fabric, declared once.

The blocks talk to each other over these port bundles (docs/hardware.md); each
signature is written from the view of the block that *sends* the message
(its ``valid`` is ``Out``), so the sender declares ``Out(Sig())`` and the
receiver ``In(Sig())``, and :func:`amaranth.lib.wiring.connect` joins them.

- :class:`IoApicMessageSignature` — IO-APIC → router,
  ``msg__{valid,ready,vector,delivery_mode,dest_mode,dest,trigger}``;
- :class:`MsiSignature` — HPET → router, ``msi__{valid,ready,addr,data}``;
- :class:`IpiSignature` — LAPIC → router, ``ipi__{valid,ready,vector,
  delivery_mode,dest_mode,dest,shorthand,trigger,level,source}``;
- :class:`MessageSignature` — router → LAPIC,
  ``msg_in__{valid,ready,vector,delivery_mode,trigger,level}``;
- :class:`EoiSignature` — LAPIC → router → IO-APIC, ``eoi__{valid,vector}``;
- :class:`LapicStateSignature` — LAPIC → router,
  ``apic_id``, ``ldr``, ``dfr_model``, ``arb_priority``, ``enabled``.

Encodings are the architectural ones (reference §1.8, §2.5, §3.8), the same
numbers as :mod:`irqforge.sim.models.messages`.
"""

from __future__ import annotations

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = [
    "EoiSignature",
    "IoApicMessageSignature",
    "IpiSignature",
    "LapicStateSignature",
    "MessageSignature",
    "MsiSignature",
]


class IoApicMessageSignature(wiring.Signature):
    """A redirection-table message, from the IO-APIC's view (``msg__*``).

    There is no ``level``: an IO-APIC message always asserts.
    """

    def __init__(self) -> None:
        super().__init__(
            {
                "valid": Out(1),
                "ready": In(1),
                "vector": Out(8),
                "delivery_mode": Out(3),
                "dest_mode": Out(1),
                "dest": Out(8),
                "trigger": Out(1),
            }
        )


class MsiSignature(wiring.Signature):
    """An FSB (MSI) write, from the HPET's view (``msi__*``): ``data`` to ``addr``."""

    def __init__(self) -> None:
        super().__init__({"valid": Out(1), "ready": In(1), "addr": Out(32), "data": Out(32)})


class IpiSignature(wiring.Signature):
    """An IPI after an ICR-low write, from the sending LAPIC's view (``ipi__*``).

    ``source`` is the sender's APIC ID at the time of the write.
    """

    def __init__(self) -> None:
        super().__init__(
            {
                "valid": Out(1),
                "ready": In(1),
                "vector": Out(8),
                "delivery_mode": Out(3),
                "dest_mode": Out(1),
                "dest": Out(32),
                "shorthand": Out(2),
                "trigger": Out(1),
                "level": Out(1),
                "source": Out(8),
            }
        )


class MessageSignature(wiring.Signature):
    """A message for one LAPIC, destination resolved, from the router's view
    (the LAPIC's ``msg_in__*``)."""

    def __init__(self) -> None:
        super().__init__(
            {
                "valid": Out(1),
                "ready": In(1),
                "vector": Out(8),
                "delivery_mode": Out(3),
                "trigger": Out(1),
                "level": Out(1),
            }
        )


class EoiSignature(wiring.Signature):
    """An EOI broadcast for a level-triggered vector, from the sender's view
    (``eoi__*``): one-cycle ``valid``, no back-pressure."""

    def __init__(self) -> None:
        super().__init__({"valid": Out(1), "vector": Out(8)})


class LapicStateSignature(wiring.Signature):
    """What the router needs to know of a LAPIC, from the LAPIC's view.

    ``ldr`` is the whole 32-bit LDR (only bits 31:24 are a logical ID),
    ``dfr_model`` is DFR[31:28], ``arb_priority`` the APR.
    """

    def __init__(self) -> None:
        super().__init__(
            {
                "apic_id": Out(8),
                "ldr": Out(32),
                "dfr_model": Out(4),
                "arb_priority": Out(8),
                "enabled": Out(1),
            }
        )
