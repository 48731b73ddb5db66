"""Reference model of the interrupt router (``irqforge_router``).

The same rules as :mod:`irqforge.hw.router` (whose docstring is the long
version), as plain Python:

- Destination: shorthand (IPIs only; *self*/*all excluding self* by the
  sending LAPIC's index) over a 32-bit destination matched by each receiver
  in its own mode (KVM ``kvm_apic_match_dest``): broadcast 0xFF (xAPIC
  receiver) or 0xFFFFFFFF (x2APIC receiver; an IO-APIC message's or MSI's
  0xFF counts, ``kvm_apic_mda``); physical: 32-bit ID match, every LAPIC
  sharing the ID; logical, x2APIC: ``dest[31:16] == LDR[31:16]`` and
  ``dest[15:0] & LDR[15:0]``; logical, xAPIC: flat ``dest & LDR[31:24]``,
  cluster ``dest[31:4] == LDR[31:28]`` and ``dest[3:0] & LDR[27:24]``, a
  DFR model other than 0xF/0x0 matches only broadcasts. Mixed xAPIC/x2APIC
  systems: see :mod:`irqforge.hw.router`.
- Delivery mode: fixed → matched and enabled; lowest priority → one of
  matched and enabled (below); INIT level de-assert, remote read (3) and
  MSIs outside 0xFEExxxxx → nobody; everything else → all matched.
- MSI: ``addr[19:12]`` dest, ``addr[2]`` dest mode, ``addr[3]`` redirection
  hint (turns fixed into lowest priority, as KVM); ``data[7:0]`` vector,
  ``data[10:8]`` mode, ``data[14]`` level, ``data[15]`` trigger.

**The lowest-priority rule**, shared bit for bit with the RTL: among the
matched, enabled LAPICs take those with the smallest ``arb_priority``; of
these, the first index after :attr:`RouterModel.lp_last` (wrapping) wins, and
``lp_last`` becomes the winner. ``lp_last`` starts at ``n - 1`` (so the first
tie goes to LAPIC 0) and moves only when a lowest-priority message found a
target. Because the RTL moves it in the order messages are served, a model
that wants the same winners must route messages in the RTL's order: one
message at a time, simultaneous sources in the round-robin order of
:meth:`RouterModel.arbitrate` (IO-APIC = 0, MSI = 1, IPI of LAPIC ``i`` = ``2 + i``).

The LAPIC objects handed in need the attributes ``apic_id``, ``ldr`` (the
whole 32-bit LDR), ``dfr_model`` (DFR[31:28]), ``arb_priority``,
``enabled`` and ``x2apic`` — the LAPIC model's properties of the same names
(``apic_id`` is the 32-bit ID; in xAPIC mode the 8-bit ID; a state
without ``x2apic`` is taken to be in xAPIC mode). They are read
anew for every message: nothing about the LAPICs is cached.

**Cost** (the router is also the ``model`` backend's): :meth:`RouterModel.route`
reads IO-APIC messages and IPIs straight from their fields without building a
:class:`Route`, resolves the common case (fixed, physical, one ID) in one loop,
and builds each delivered :class:`Interrupt` once per (vector, mode, trigger,
level), sharing it afterwards (it is immutable).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from irqforge.spec import Spec

from .messages import DeliveryMode, DestMode, Interrupt, IoApicMessage, Ipi, Msi, Shorthand, Trigger

__all__ = [
    "SOURCE_IOAPIC",
    "SOURCE_MSI",
    "LapicState",
    "Route",
    "RouterModel",
    "decode_msi",
    "source_ipi",
]

SOURCE_IOAPIC = 0
SOURCE_MSI = 1
BROADCAST = 0xFF
X2APIC_BROADCAST = 0xFFFF_FFFF
DFR_FLAT = 0xF
DFR_CLUSTER = 0x0
MSI_ADDR_PREFIX = 0xFEE
_REMOTE_READ = 3
# Enumerated values as plain ints (an enum member lookup costs a call).
_FIXED = int(DeliveryMode.FIXED)
_LOWEST = int(DeliveryMode.LOWEST)
_INIT = int(DeliveryMode.INIT)
_LEVEL = int(Trigger.LEVEL)
_PHYSICAL = int(DestMode.PHYSICAL)
_SELF = int(Shorthand.SELF)
_ALL_INCL = int(Shorthand.ALL_INCL)
_ALL_EXCL = int(Shorthand.ALL_EXCL)
_NO_SHORTHAND = int(Shorthand.NONE)


def source_ipi(index: int) -> int:
    """The arbitration number of LAPIC ``index``'s IPI port."""
    return 2 + index


class LapicState(Protocol):
    """What the router reads of a LAPIC (the RTL's ``lapic__{i}__*``)."""

    @property
    def apic_id(self) -> int: ...
    @property
    def ldr(self) -> int: ...
    @property
    def dfr_model(self) -> int: ...
    @property
    def arb_priority(self) -> int: ...
    @property
    def enabled(self) -> bool: ...

    # ``x2apic`` (bool) is read with getattr: a state without it is an xAPIC.


@dataclass(frozen=True)
class Route:
    """A message of any source, normalised (the RTL's internal form)."""

    vector: int
    delivery_mode: int
    dest_mode: int
    dest: int
    shorthand: int = Shorthand.NONE
    trigger: int = Trigger.EDGE
    level: int = 1
    sender: int | None = None
    """Index of the sending LAPIC (IPIs only)."""
    dropped: bool = False
    """An MSI written outside the interrupt address range."""


def decode_msi(msi: Msi) -> Route:
    """The router's reading of an HPET FSB write."""
    addr, data = msi.addr, msi.data
    mode = (data >> 8) & 7
    if addr >> 3 & 1 and mode in (DeliveryMode.FIXED, DeliveryMode.LOWEST):
        mode = DeliveryMode.LOWEST
    return Route(
        vector=data & 0xFF,
        delivery_mode=mode,
        dest_mode=(addr >> 2) & 1,
        dest=(addr >> 12) & 0xFF,
        trigger=(data >> 15) & 1,
        level=(data >> 14) & 1,
        dropped=(addr >> 20) & 0xFFF != MSI_ADDR_PREFIX,
    )


def _resolve_sender(sender: int | None, lapics: Sequence[LapicState]) -> int | None:
    """A :attr:`Route.sender` as a LAPIC index: ``-1 - id`` names the first LAPIC
    with APIC ID ``id`` (``None`` when there is none)."""
    if sender is None or sender >= 0:
        return sender
    source = -1 - sender
    for i, lapic in enumerate(lapics):
        if lapic.apic_id == source:
            return i
    return None


def _match(dest_mode: int, dest: int, shorthand: int, sender: int | None,
           lapics: Sequence[LapicState]) -> list[int]:
    """Indices of the LAPICs a destination names (see :meth:`RouterModel.matched`).

    ``sender`` is ``None`` for an IO-APIC message or MSI: their 8-bit 0xFF is
    the broadcast of x2APIC receivers too (KVM ``kvm_apic_mda``).
    """
    if shorthand:
        if shorthand == _SELF:
            me = _resolve_sender(sender, lapics)
            return [] if me is None else [me]
        if shorthand == _ALL_INCL:
            return list(range(len(lapics)))
        if shorthand == _ALL_EXCL:
            me = _resolve_sender(sender, lapics)
            return [i for i in range(len(lapics)) if i != me]
    # Broadcast for an xAPIC receiver / for an x2APIC receiver.
    bcast = dest == BROADCAST
    bcast_x2 = dest == X2APIC_BROADCAST or (bcast and sender is None)
    if dest_mode == _PHYSICAL:
        return [i for i, lapic in enumerate(lapics)
                if (bcast_x2 if getattr(lapic, "x2apic", False) else bcast) or lapic.apic_id == dest]
    out = []
    for i, lapic in enumerate(lapics):
        ldr = lapic.ldr
        if getattr(lapic, "x2apic", False):
            hit = bcast_x2 or (ldr >> 16 == dest >> 16 and ldr & dest & 0xFFFF != 0)
        elif bcast:
            hit = True
        else:
            logical_id = (ldr >> 24) & 0xFF
            model = lapic.dfr_model
            if model == DFR_FLAT:
                hit = dest & logical_id != 0
            elif model == DFR_CLUSTER:
                hit = dest >> 4 == logical_id >> 4 and dest & logical_id & 0xF != 0
            else:
                hit = False
        if hit:
            out.append(i)
    return out


#: :attr:`RouterModel.fixed_dest` holds at most this many messages (the IO-APIC
#: model reuses one message object per distinct entry; other callers may not)
_FIXED_DEST_MAX = 1024


def _interrupt(vector: int, mode: int, trigger: int, level: int) -> Interrupt:
    """The message a target LAPIC receives (``msg_in__*``)."""
    try:
        dm: int = DeliveryMode(mode)
    except ValueError:  # pragma: no cover - reserved modes have no targets
        dm = mode
    return Interrupt(
        vector=vector,
        delivery_mode=dm,  # type: ignore[arg-type]
        trigger=Trigger(trigger),
        level=level,
    )


class RouterModel:
    """The router between ``n`` LAPICs (``spec.platform.ncpus``), with its two
    round-robin pointers.

    ``lapics`` may be given now or assigned later (:attr:`lapics`); the
    ``route_*`` methods read it, :meth:`targets` takes its own.
    """

    def __init__(self, spec: Spec | int, lapics: Sequence[LapicState] = ()) -> None:
        self.n: int = spec if isinstance(spec, int) else spec.platform.ncpus
        if self.n < 1:
            raise ValueError(f"the router needs at least one LAPIC, not {self.n}")
        self.lapics: Sequence[LapicState] = lapics
        self.lp_last: int = self.n - 1
        """Index of the LAPIC that won the last lowest-priority tie-break."""
        self.src_last: int = self.n + 1
        """Arbitration number of the source served last."""
        self._interrupts: dict[tuple[int, int, int, int], Interrupt] = {}
        """Delivered messages by (vector, mode, trigger, level): built once, shared."""
        self.fixed_dest: dict[int, tuple[IoApicMessage, int, Interrupt]] = {}
        """IO-APIC messages :meth:`route` delivered by destination ID alone (fixed,
        physical, not broadcast, vector >= 16), by ``id(msg)``: ``(msg, dest,
        interrupt)``. Every enabled LAPIC whose ID is ``dest`` accepts ``interrupt``,
        in index order; whoever holds the message can deliver it so without
        :meth:`route` (the platform, for a device pin). The message is kept in
        the value: an ``id`` is only valid with its object alive and checked by
        ``value[0] is msg``."""

    # ------------------------------------------------------------------ pure

    @staticmethod
    def normalise(msg: IoApicMessage | Msi | Ipi | Route, sender: int | None = None) -> Route:
        """Any source's message as a :class:`Route`.

        For an :class:`Ipi`, ``sender`` is the index of the sending LAPIC; when
        omitted it is found later from ``msg.source`` (the first LAPIC with
        that ID).
        """
        if isinstance(msg, Route):
            return msg
        if isinstance(msg, Msi):
            return decode_msi(msg)
        if isinstance(msg, IoApicMessage):
            return Route(msg.vector, msg.delivery_mode, msg.dest_mode, msg.dest, trigger=msg.trigger)
        return Route(
            msg.vector,
            msg.delivery_mode,
            msg.dest_mode,
            msg.dest,
            shorthand=msg.shorthand,
            trigger=msg.trigger,
            level=msg.level,
            sender=sender if sender is not None else -1 - msg.source,
        )

    @staticmethod
    def _sender(route: Route, lapics: Sequence[LapicState]) -> int | None:
        return _resolve_sender(route.sender, lapics)

    @classmethod
    def matched(cls, msg: IoApicMessage | Msi | Ipi | Route, lapics: Sequence[LapicState],
                sender: int | None = None) -> list[int]:
        """Indices of the LAPICs the destination names (before the delivery mode)."""
        route = cls.normalise(msg, sender)
        return _match(route.dest_mode, route.dest, route.shorthand, route.sender, lapics)

    def targets(self, msg: IoApicMessage | Msi | Ipi | Route, lapics: Sequence[LapicState],
                sender: int | None = None) -> list[int]:
        """Indices of the LAPICs that receive ``msg`` now (does not move ``lp_last``)."""
        route = self.normalise(msg, sender)
        if route.dropped:
            return []
        return self._targets(route.delivery_mode, route.dest_mode, route.dest, route.shorthand,
                             route.trigger, route.level, route.sender, lapics)

    def _targets(self, mode: int, dest_mode: int, dest: int, shorthand: int, trigger: int, level: int,
                 sender: int | None, lapics: Sequence[LapicState]) -> list[int]:
        """:meth:`targets` on a message's fields (an MSI already known not dropped)."""
        if mode == _REMOTE_READ:
            return []
        if mode == _INIT and level == 0 and trigger == _LEVEL:
            return []
        matched = _match(dest_mode, dest, shorthand, sender, lapics)
        if mode == _FIXED:
            return [i for i in matched if lapics[i].enabled]
        if mode != _LOWEST:
            return matched
        eligible = [i for i in matched if lapics[i].enabled]
        if not eligible:
            return eligible
        prio = {i: lapics[i].arb_priority for i in eligible}
        best = min(prio.values())
        n = len(lapics)
        for k in range(1, n + 1):
            i = (self.lp_last + k) % n
            if i in prio and prio[i] == best:
                return [i]
        raise AssertionError("unreachable: the tied set is not empty")

    # ------------------------------------------------------------------ stateful

    def route(self, msg: IoApicMessage | Msi | Ipi | Route,
              sender: int | None = None) -> list[tuple[int, Interrupt]]:
        """Deliver ``msg``: ``(LAPIC index, message)`` per target, in index order.

        Moves :attr:`lp_last` when a lowest-priority message found its target.
        """
        # The two common sources straight from their fields; everything else
        # (MSIs, routes, subclasses) through normalise().
        vector: int
        mode: int
        trigger: int
        level: int
        lapics = self.lapics
        if type(msg) is IoApicMessage:
            vector, mode, trigger, level = msg.vector, msg.delivery_mode, msg.trigger, 1
            dest = msg.dest
            if mode == _FIXED and dest != BROADCAST and msg.dest_mode == _PHYSICAL:
                # The common case, _targets() inlined: the enabled LAPICs with that
                # ID. The key is made of plain ints (equal to the enum members the
                # other paths use): hashing an IntEnum member costs a Python call.
                key = (vector, _FIXED, 1 if trigger else 0, 1)
                interrupt = self._interrupts.get(key)
                if interrupt is None:
                    interrupt = self._interrupts[key] = _interrupt(*key)
                if vector >= 16 and id(msg) not in self.fixed_dest and len(self.fixed_dest) < _FIXED_DEST_MAX:
                    self.fixed_dest[id(msg)] = (msg, dest, interrupt)
                out = []
                for i, lapic in enumerate(lapics):
                    if lapic.apic_id == dest and lapic.enabled:
                        out.append((i, interrupt))
                return out
            hit = self._targets(mode, msg.dest_mode, dest, _NO_SHORTHAND, trigger, 1, None, lapics)
        elif type(msg) is Ipi:
            vector, mode, trigger, level = msg.vector, msg.delivery_mode, msg.trigger, msg.level
            hit = self._targets(mode, msg.dest_mode, msg.dest, msg.shorthand, trigger, level,
                                sender if sender is not None else -1 - msg.source, lapics)
        else:
            route = self.normalise(msg, sender)
            vector, mode, trigger, level = route.vector, route.delivery_mode, route.trigger, route.level
            hit = [] if route.dropped else self._targets(
                mode, route.dest_mode, route.dest, route.shorthand, trigger, level, route.sender, lapics)
        if mode == _LOWEST and hit:
            self.lp_last = hit[0]
        key = (vector, mode, trigger, level)
        interrupt = self._interrupts.get(key)
        if interrupt is None:
            interrupt = self._interrupts[key] = _interrupt(vector, mode, trigger, level)
        if len(hit) == 1:
            return [(hit[0], interrupt)]
        return [(i, interrupt) for i in hit]

    def route_ioapic(self, m: IoApicMessage) -> list[tuple[int, Interrupt]]:
        """Deliver an IO-APIC message."""
        return self.route(m)

    def route_msi(self, m: Msi) -> list[tuple[int, Interrupt]]:
        """Deliver an HPET FSB write."""
        return self.route(m)

    def route_ipi(self, m: Ipi, sender: int | None = None) -> list[tuple[int, Interrupt]]:
        """Deliver an IPI; ``sender`` is the sending LAPIC's index (default: the
        first LAPIC whose ID is ``m.source``)."""
        return self.route(m, sender)

    def arbitrate(self, sources: Iterable[int]) -> int:
        """Which of the simultaneously valid ``sources`` (arbitration numbers:
        :data:`SOURCE_IOAPIC`, :data:`SOURCE_MSI`, :func:`source_ipi`) the RTL
        serves next; moves the pointer."""
        valid = set(sources)
        total = self.n + 2
        for k in range(1, total + 1):
            s = (self.src_last + k) % total
            if s in valid:
                self.src_last = s
                return s
        raise ValueError("arbitrate() needs at least one source")
