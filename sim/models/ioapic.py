"""Cycle-accurate reference model of the IO-APIC (``irqforge_ioapic``).

The model mirrors :mod:`irqforge.hw.ioapic` edge for edge; the module
docstring there states the behaviour. All offsets, indices, field positions
and parameters come from ``spec.ioapic``.

Timing convention
-----------------

:meth:`IoApicModel.tick` is one rising edge of ``clk``. Between two ticks the
caller sets the inputs of the cycle, exactly like driving the RTL ports:

* :meth:`set_irq` — the pin level during this cycle (held until changed);
* :meth:`eoi` — an EOI broadcast (``eoi__valid``) during this cycle;
* :meth:`write` — a register write issued in this cycle (the bridge's
  ``w_stb``). Its effect on stored registers is visible to :meth:`read`
  at once, but the request logic of the coming tick still sees the
  redirection entries as they were before the write, as the RTL does; an
  EOI-register write acts at the coming tick like :meth:`eoi`;
* :meth:`read` — a register read in this cycle (no side effects);
* ``tick(msg_ready)`` — the router's ``msg__ready`` during this cycle.

A message is *delivered* when the slot is valid and ``msg_ready`` is true at
a tick; :meth:`take_messages` returns delivered messages in order.
:attr:`msg` is what the RTL's ``msg__*`` ports show now (``None`` when
``msg__valid`` is low). Callers that do not care about cycles call
:meth:`settle` after changing inputs: it ticks with ``msg_ready`` until
nothing is pending.
"""

from __future__ import annotations

from irqforge.sim.models.messages import DeliveryMode, DestMode, IoApicMessage, Trigger
from irqforge.spec import Access, Spec

__all__ = ["IoApicModel"]


class IoApicModel:
    """Reference model of the IO-APIC; see the module docstring for timing."""

    def __init__(self, spec: Spec) -> None:
        dev = spec.ioapic
        self.spec = spec
        self.npins: int = dev.param("pins")
        self.version: int = dev.param("version")
        self.off_sel = dev.offset("IOREGSEL")
        self.off_win = dev.offset("IOWIN")
        self.off_eoi: int | None = dev.offset("EOI") if self.version >= 0x20 else None
        win = dev.window("IOAPIC")
        self._red = win.register("REDTBL")
        self._idreg = win.register("IOAPICID")
        self._ver = win.register("IOAPICVER")
        self._arb = win.register("IOAPICARB")
        red = self._red
        self._f = {f.name: f for f in red.fields}
        self._rw_mask = red.mask_of(lambda a: a is Access.RW)
        self._level = self._f["TRIGGER"].enum("LEVEL")
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Synchronous reset: every entry masked, IOREGSEL 0, no requests."""
        self.entries: list[int] = [self._red.reset] * self.npins
        self._start: list[int] | None = None  # entries at the start of the cycle, after a write
        self.ioregsel = 0
        self.ioapic_id = self._idreg.field("ID").reset
        self.pins = 0
        self.prev = 0  # asserted levels at the last tick
        self.irr_edge = 0
        self.slot: IoApicMessage | None = None
        self.slot_idx = 0
        self.ptr = 0
        self._eois: list[int] = []
        self._delivered: list[IoApicMessage] = []
        self.cycle = 0

    def _get(self, value: int, name: str) -> int:
        return self._f[name].get(value)

    def _is_level(self, value: int) -> bool:
        return self._get(value, "TRIGGER") == self._level

    def _asserted(self, entries: list[int]) -> int:
        a = 0
        for i, e in enumerate(entries):
            a |= (((self.pins >> i) & 1) ^ self._get(e, "POLARITY")) << i
        return a

    # ------------------------------------------------------------------ inputs

    def set_irq(self, pin: int, level: int | bool) -> None:
        """Drive pin ``pin`` to ``level`` (raw pin level, before polarity)."""
        if not 0 <= pin < self.npins:
            raise IndexError(f"IO-APIC pin {pin} out of range 0..{self.npins - 1}")
        if level:
            self.pins |= 1 << pin
        else:
            self.pins &= ~(1 << pin)

    def set_pins(self, mask: int) -> None:
        """Drive every pin at once (bit i = pin i)."""
        self.pins = mask & ((1 << self.npins) - 1)

    def eoi(self, vector: int) -> None:
        """An EOI broadcast for ``vector`` during this cycle (acts at the next tick)."""
        self._eois.append(vector & 0xFF)

    def read(self, offset: int) -> int:
        """32-bit read at byte ``offset`` (IOREGSEL, IOWIN; anything else reads 0)."""
        if offset == self.off_sel:
            return self.ioregsel
        if offset == self.off_win:
            return self.read_indirect(self.ioregsel)
        return 0

    def read_indirect(self, index: int) -> int:
        """The window register ``index`` as IOWIN shows it."""
        red = self._red
        idf = self._idreg.field("ID")
        if index == self._idreg.offset:
            return self.ioapic_id << idf.lsb
        if index == self._ver.offset:
            return self._ver.reset & 0xFFFFFFFF
        if index == self._arb.offset:
            return self.ioapic_id << self._arb.field("ARB_ID").lsb
        rel = index - red.offset
        if 0 <= rel < red.stride * self.npins:
            pin, half = divmod(rel, red.stride)
            value = self.entries[pin] | (self.delivery_status(pin) << self._f["DELIVERY_STATUS"].lsb)
            if half == 0:
                return value & 0xFFFFFFFF
            if half == 1:
                return value >> 32
        return 0

    def write(self, offset: int, value: int, strb: int = 0xF) -> None:
        """32-bit write of ``value`` at byte ``offset`` with byte enables ``strb``."""
        bytemask = sum(0xFF << (8 * b) for b in range(4) if strb >> b & 1)
        value &= 0xFFFFFFFF
        if offset == self.off_sel:
            if strb & 1:
                self.ioregsel = value & 0xFF
        elif offset == self.off_win:
            self._write_indirect(self.ioregsel, value, bytemask)
        elif offset == self.off_eoi and strb & 1:
            self._eois.append(value & 0xFF)

    def _write_indirect(self, index: int, value: int, bytemask: int) -> None:
        red = self._red
        if index == self._idreg.offset:
            f = self._idreg.field("ID")
            old = self.ioapic_id << f.lsb
            self.ioapic_id = f.get((old & ~bytemask) | (value & bytemask))
            return
        rel = index - red.offset
        if not 0 <= rel < red.stride * self.npins:
            return
        pin, half = divmod(rel, red.stride)
        if half > 1:
            return
        if self._start is None:
            self._start = list(self.entries)
        shift = 32 * half
        old = self.entries[pin]
        merged = (((old >> shift) & ~bytemask) | (value & bytemask)) << shift
        dword_mask = 0xFFFFFFFF << shift
        stored = self._rw_mask & dword_mask
        new = (old & ~stored) | (merged & stored)
        if not self._is_level(new):  # an edge rewrite clears Remote IRR
            new = self._f["REMOTE_IRR"].put(new, 0)
        self.entries[pin] = new

    # ------------------------------------------------------------------ observation

    def delivery_status(self, pin: int) -> int:
        """Delivery status bit of ``pin`` as a read shows it now."""
        e = self.entries[pin]
        if self.slot is not None and self.slot_idx == pin:
            return 1
        if self.irr_edge >> pin & 1:
            return 1
        level_wait = (
            self._is_level(e)
            and not self._get(e, "MASK")
            and not self._get(e, "REMOTE_IRR")
            and (self.prev >> pin & 1)
        )
        return int(bool(level_wait))

    def entry(self, pin: int) -> int:
        """Redirection entry ``pin`` as a 64-bit value (delivery status included)."""
        return self.entries[pin] | (self.delivery_status(pin) << self._f["DELIVERY_STATUS"].lsb)

    @property
    def msg(self) -> IoApicMessage | None:
        """The message on ``msg__*`` now, or ``None`` when ``msg__valid`` is low."""
        return self.slot

    def take_messages(self) -> list[IoApicMessage]:
        """Messages delivered (accepted by the router) since the last call, in order."""
        out, self._delivered = self._delivered, []
        return out

    @property
    def pending(self) -> bool:
        """Whether a tick with ``msg_ready`` could still deliver or change something
        without new inputs (a message waits, a request is latched, a pin changed
        or an EOI is queued)."""
        if self.slot is not None or self.irr_edge or self._eois or self._start is not None:
            return True
        asserted = self._asserted(self.entries)
        if asserted != self.prev:
            return True
        for i, e in enumerate(self.entries):
            if (
                self._is_level(e)
                and asserted >> i & 1
                and not self._get(e, "MASK")
                and not self._get(e, "REMOTE_IRR")
            ):
                return True
        return False

    # ------------------------------------------------------------------ the clock

    def _message(self, e: int) -> IoApicMessage:
        return IoApicMessage(
            vector=self._get(e, "VECTOR"),
            delivery_mode=DeliveryMode(self._get(e, "DELIVERY_MODE")),
            dest_mode=DestMode(self._get(e, "DEST_MODE")),
            dest=self._get(e, "DEST"),
            trigger=Trigger(self._get(e, "TRIGGER")),
        )

    def _pick(self, req: int) -> int:
        hi = req & ~((1 << self.ptr) - 1)
        src = hi if hi else req
        return (src & -src).bit_length() - 1

    def tick(self, msg_ready: bool = True) -> IoApicMessage | None:
        """One clock edge; returns the message delivered at it, if any."""
        start = self._start if self._start is not None else self.entries
        n = self.npins
        delivered = None
        if self.slot is not None and msg_ready:
            delivered = self.slot
            self._delivered.append(delivered)
        asserted = self._asserted(start)
        rising = asserted & ~self.prev
        eois = self._eois
        edge_req = level_req = 0
        eoi_hit = 0
        for i, e in enumerate(start):
            lvl = self._is_level(e)
            masked = self._get(e, "MASK")
            hit = lvl and self._get(e, "VECTOR") in eois
            eoi_hit |= int(hit) << i
            rirr = self._get(e, "REMOTE_IRR") and not hit
            if not lvl and not masked and ((self.irr_edge | rising) >> i & 1):
                edge_req |= 1 << i
            if lvl and not masked and not rirr and asserted >> i & 1:
                level_req |= 1 << i
        req = edge_req | level_req
        grant = 0
        if req and (self.slot is None or msg_ready):
            g = self._pick(req)
            grant = 1 << g
            self.slot = self._message(start[g])
            self.slot_idx = g
            self.ptr = (g + 1) % n
        elif msg_ready:
            self.slot = None
        self.irr_edge = edge_req & ~grant
        rirr_f = self._f["REMOTE_IRR"]
        for i in range(n):
            s = start[i]
            rirr = (rirr_f.get(s) and not eoi_hit >> i & 1) or (grant >> i & 1 and self._is_level(s))
            live = self.entries[i]
            self.entries[i] = rirr_f.put(live, int(bool(rirr) and self._is_level(live)))
        self.prev = asserted
        self._eois = []
        self._start = None
        self.cycle += 1
        return delivered

    def settle(self, max_cycles: int = 10_000) -> int:
        """Tick with ``msg_ready`` until nothing is pending; returns the ticks taken."""
        for taken in range(max_cycles):
            if not self.pending:
                return taken
            self.tick(True)
        raise RuntimeError(f"IO-APIC model still busy after {max_cycles} cycles (a level line held?)")
