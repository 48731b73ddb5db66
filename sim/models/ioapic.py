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
  EOI-register write acts one tick later than :meth:`eoi` (the RTL
  registers it: at the tick after the coming one);
* :meth:`read` — a register read in this cycle (no side effects);
* ``tick(msg_ready)`` — the router's ``msg__ready`` during this cycle.

A message is *delivered* when the slot is valid and ``msg_ready`` is true at
a tick; :meth:`take_messages` returns delivered messages in order.
:attr:`msg` is what the RTL's ``msg__*`` ports show now (``None`` when
``msg__valid`` is low). Callers that do not care about cycles call
:meth:`settle` after changing inputs: it ticks with ``msg_ready`` until
nothing is pending.

Cost
----

The model is the ``model`` backend's IO-APIC, so it is written for speed
without changing what it computes: the redirection entries are kept both as
raw 64-bit values (:attr:`IoApicModel.entries`) and decoded into per-pin bit
masks (level, masked, active-low, Remote IRR) that a write updates for its one
pin. A tick is a handful of integer operations on those masks; only an EOI
looks at vectors, and only of level pins. :attr:`~IoApicModel.pending` is O(1),
so :meth:`~IoApicModel.settle` costs nothing when no pin, EOI or write changed
anything, and a pin edge settles in two ticks. Messages are built once per
distinct entry value and cached.
"""

from __future__ import annotations

from irqforge.sim.models.messages import DeliveryMode, DestMode, IoApicMessage, Trigger
from irqforge.spec import Access, Spec

__all__ = ["IoApicModel"]


class IoApicModel:
    """Reference model of the IO-APIC; see the module docstring for timing."""

    # Slots, not an instance dict: with over 30 attributes a dict stops sharing its keys
    # and CPython (3.11+) no longer specializes attribute loads on it.
    __slots__ = (
        "_all", "_arb", "_arb_lsb", "_ds_lsb", "_eoi_reg", "_eois", "_f", "_id_field", "_idreg", "_level", "_lo",
        "_lvl", "_maskf", "_msg_cache", "_msg_fields", "_msk", "_pol", "_quiet", "_red", "_red_end", "_red_first",
        "_red_stride", "_rirr", "_rirr_bit", "_rw_mask", "_start", "_trig", "_vecf", "_ver", "cycle", "delivered",
        "entries", "ioapic_id", "ioregsel", "irr_edge", "npins", "off_eoi", "off_sel", "off_win", "pins", "prev",
        "ptr", "slot", "slot_idx", "spec", "version",
    )

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
        f = {fld.name: fld for fld in red.fields}
        self._f = f
        self._rw_mask = red.mask_of(lambda a: a is Access.RW)
        self._level = f["TRIGGER"].enum("LEVEL")
        # Field positions as plain ints, once (Field.get costs a call and a property).
        self._all = (1 << self.npins) - 1
        self._red_first = red.offset
        self._red_end = red.offset + red.stride * self.npins
        self._red_stride = red.stride
        self._trig = (f["TRIGGER"].lsb, (1 << f["TRIGGER"].width) - 1)
        self._maskf = (f["MASK"].lsb, (1 << f["MASK"].width) - 1)
        self._pol = (f["POLARITY"].lsb, (1 << f["POLARITY"].width) - 1)
        self._vecf = (f["VECTOR"].lsb, (1 << f["VECTOR"].width) - 1)
        self._rirr_bit = f["REMOTE_IRR"].mask
        self._ds_lsb = f["DELIVERY_STATUS"].lsb
        self._msg_fields = (
            f["VECTOR"].mask | f["DELIVERY_MODE"].mask | f["DEST_MODE"].mask | f["DEST"].mask | f["TRIGGER"].mask
        )
        self._id_field = self._idreg.field("ID")
        self._arb_lsb = self._arb.field("ARB_ID").lsb
        self._msg_cache: dict[int, IoApicMessage] = {}
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Synchronous reset: every entry masked, IOREGSEL 0, no requests."""
        self.entries: list[int] = [self._red.reset] * self.npins
        """Raw redirection entries (Remote IRR included, delivery status not)."""
        self._lvl = self._msk = self._lo = self._rirr = 0
        for pin, e in enumerate(self.entries):
            self._decode(pin, e)
        # Masks and entries at the start of the cycle, saved by the first entry write.
        self._start: tuple[int, int, int, int, list[int]] | None = None
        self.ioregsel = 0
        self.ioapic_id = self._id_field.reset
        self.pins = 0
        self.prev = 0  # asserted levels at the last tick
        self.irr_edge = 0
        self.slot: IoApicMessage | None = None
        self.slot_idx = 0
        self.ptr = 0
        self._eois: list[int] = []  # EOIs acting at the coming tick
        self._eoi_reg: int | None = None  # an EOI-register write of this cycle (acts a tick later)
        self.delivered: list[IoApicMessage] = []
        """Messages delivered since the last :meth:`take_messages` (read only)."""
        self.cycle = 0
        self._quiet = True
        """Known to hold (when True): nothing in flight — no message in the slot, no
        latched edge, no EOI queued, no entry written since the last tick, no
        Remote IRR on an edge entry: :meth:`settle`'s closed form applies. Cleared
        by whatever may change that (:meth:`eoi`, register writes, :meth:`tick`);
        :meth:`settle` finds it out again."""

    def _decode(self, pin: int, e: int) -> None:
        """Update pin ``pin``'s bits of the decoded masks from entry value ``e``."""
        bit = 1 << pin
        lsb, m = self._trig
        if (e >> lsb) & m == self._level:
            self._lvl |= bit
        else:
            self._lvl &= ~bit
        lsb, m = self._maskf
        if (e >> lsb) & m:
            self._msk |= bit
        else:
            self._msk &= ~bit
        lsb, m = self._pol
        if (e >> lsb) & m:
            self._lo |= bit
        else:
            self._lo &= ~bit
        if e & self._rirr_bit:
            self._rirr |= bit
        else:
            self._rirr &= ~bit

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
        self.pins = mask & self._all

    def eoi(self, vector: int) -> None:
        """An EOI broadcast for ``vector`` during this cycle (acts at the next tick)."""
        self._eois.append(vector & 0xFF)
        self._quiet = False

    def read(self, offset: int) -> int:
        """32-bit read at byte ``offset`` (IOREGSEL, IOWIN; anything else reads 0)."""
        if offset == self.off_sel:
            return self.ioregsel
        if offset == self.off_win:
            return self.read_indirect(self.ioregsel)
        return 0

    def read_indirect(self, index: int) -> int:
        """The window register ``index`` as IOWIN shows it."""
        if self._red_first <= index < self._red_end:
            pin, half = divmod(index - self._red_first, self._red_stride)
            if half == 0:
                return (self.entries[pin] | (self.delivery_status(pin) << self._ds_lsb)) & 0xFFFFFFFF
            if half == 1:
                return self.entries[pin] >> 32
            return 0
        if index == self._idreg.offset:
            return self.ioapic_id << self._id_field.lsb
        if index == self._ver.offset:
            return self._ver.reset & 0xFFFFFFFF
        if index == self._arb.offset:
            return self.ioapic_id << self._arb_lsb
        return 0

    def write(self, offset: int, value: int, strb: int = 0xF) -> None:
        """32-bit write of ``value`` at byte ``offset`` with byte enables ``strb``."""
        value &= 0xFFFFFFFF
        if offset == self.off_sel:
            if strb & 1:
                self.ioregsel = value & 0xFF
        elif offset == self.off_win:
            bytemask = 0xFFFFFFFF if strb == 0xF else sum(0xFF << (8 * b) for b in range(4) if strb >> b & 1)
            self._write_indirect(self.ioregsel, value, bytemask)
        elif offset == self.off_eoi and strb & 1:
            self._eoi_reg = value & 0xFF
            self._quiet = False

    def _write_indirect(self, index: int, value: int, bytemask: int) -> None:
        if index == self._idreg.offset:
            f = self._id_field
            old = self.ioapic_id << f.lsb
            self.ioapic_id = f.get((old & ~bytemask) | (value & bytemask))
            return
        if not self._red_first <= index < self._red_end:
            return
        pin, half = divmod(index - self._red_first, self._red_stride)
        if half > 1:
            return
        if self._start is None:
            self._start = (self._lvl, self._msk, self._lo, self._rirr, list(self.entries))
        self._quiet = False
        shift = 32 * half
        old = self.entries[pin]
        merged = (((old >> shift) & ~bytemask) | (value & bytemask)) << shift
        stored = self._rw_mask & (0xFFFFFFFF << shift)
        new = (old & ~stored) | (merged & stored)
        lsb, m = self._trig
        if (new >> lsb) & m != self._level:  # an edge rewrite clears Remote IRR
            new &= ~self._rirr_bit
        self.entries[pin] = new
        self._decode(pin, new)

    # ------------------------------------------------------------------ observation

    def delivery_status(self, pin: int) -> int:
        """Delivery status bit of ``pin`` as a read shows it now."""
        if self.slot is not None and self.slot_idx == pin:
            return 1
        waiting = self.irr_edge | (self._lvl & ~self._msk & ~self._rirr & self.prev)
        return waiting >> pin & 1

    def entry(self, pin: int) -> int:
        """Redirection entry ``pin`` as a 64-bit value (delivery status included)."""
        return self.entries[pin] | (self.delivery_status(pin) << self._ds_lsb)

    @property
    def msg(self) -> IoApicMessage | None:
        """The message on ``msg__*`` now, or ``None`` when ``msg__valid`` is low."""
        return self.slot

    def take_messages(self) -> list[IoApicMessage]:
        """Messages delivered (accepted by the router) since the last call, in order."""
        out, self.delivered = self.delivered, []
        return out

    @property
    def pending(self) -> bool:
        """Whether a tick with ``msg_ready`` could still deliver or change something
        without new inputs (a message waits, a request is latched, a pin changed
        or an EOI is queued)."""
        if (self.slot is not None or self.irr_edge or self._eois or self._eoi_reg is not None
                or self._start is not None):
            return True
        asserted = self.pins ^ self._lo
        return asserted != self.prev or bool(self._lvl & asserted & ~self._msk & ~self._rirr)

    # ------------------------------------------------------------------ the clock

    def _message(self, e: int) -> IoApicMessage:
        key = e & self._msg_fields
        msg = self._msg_cache.get(key)
        if msg is None:
            f = self._f
            msg = IoApicMessage(
                vector=f["VECTOR"].get(e),
                delivery_mode=DeliveryMode(f["DELIVERY_MODE"].get(e)),
                dest_mode=DestMode(f["DEST_MODE"].get(e)),
                dest=f["DEST"].get(e),
                trigger=Trigger(f["TRIGGER"].get(e)),
            )
            self._msg_cache[key] = msg
        return msg

    def _pick(self, req: int) -> int:
        hi = req & ~((1 << self.ptr) - 1)
        src = hi if hi else req
        return (src & -src).bit_length() - 1

    def tick(self, msg_ready: bool = True) -> IoApicMessage | None:
        """One clock edge; returns the message delivered at it, if any."""
        if self._start is not None:
            lvl, msk, lo, rirr, start = self._start
        else:
            lvl, msk, lo, rirr, start = self._lvl, self._msk, self._lo, self._rirr, self.entries
        delivered = None
        if self.slot is not None and msg_ready:
            delivered = self.slot
            self.delivered.append(delivered)
        asserted = self.pins ^ lo
        eoi_hit = 0
        if self._eois:
            eois = self._eois
            vlsb, vmask = self._vecf
            todo = lvl & rirr  # only a set Remote IRR can be cleared
            while todo:
                low = todo & -todo
                if (start[low.bit_length() - 1] >> vlsb) & vmask in eois:
                    eoi_hit |= low
                todo ^= low
        # The EOI-register write of this cycle is registered: it acts at the next tick.
        self._eois = [] if self._eoi_reg is None else [self._eoi_reg]
        self._eoi_reg = None
        rirr_now = rirr & ~eoi_hit
        req = ((self.irr_edge | (asserted & ~self.prev)) & ~lvl & ~msk) | (lvl & ~msk & ~rirr_now & asserted)
        grant = 0
        if req and (self.slot is None or msg_ready):
            g = self._pick(req)
            grant = 1 << g
            self.slot = self._message(start[g])
            self.slot_idx = g
            self.ptr = (g + 1) % self.npins
        elif msg_ready:
            self.slot = None
        self.irr_edge = req & ~lvl & ~grant
        new_rirr = (rirr_now | (grant & lvl)) & self._lvl
        changed = new_rirr ^ self._rirr
        if changed:
            entries, bit = self.entries, self._rirr_bit
            while changed:
                low = changed & -changed
                i = low.bit_length() - 1
                entries[i] = entries[i] | bit if new_rirr & low else entries[i] & ~bit
                changed ^= low
            self._rirr = new_rirr
        self.prev = asserted
        self._start = None
        self.cycle += 1
        self._quiet = False  # (settle() finds out whether it is)
        return delivered

    def settle(self, max_cycles: int = 10_000) -> int:
        """Tick with ``msg_ready`` until nothing is pending; returns the ticks taken.

        What the ``model`` backend does at nearly every pin change is done in
        closed form, without ticking: when nothing is in flight (no message in
        the slot, no latched edge, no EOI, no entry written since the last
        tick, no Remote IRR on an edge entry) and the pin levels raise at most
        one request, the ticks of :meth:`tick` reduce, state for state, to

        - no request: one tick that only samples the levels (none if they did
          not change);
        - one request (pin ``g``): tick 1 puts ``g``'s message in the slot
          (round-robin pointer after ``g``, Remote IRR set for a level entry)
          and tick 2 delivers it; nothing is requested at tick 2 (the edge
          was consumed, a level pin now has Remote IRR), so the slot empties.
        """
        lvl, rirr = self._lvl, self._rirr
        if not self._quiet:
            self._quiet = (self.slot is None and not self.irr_edge and not self._eois and self._eoi_reg is None
                           and self._start is None and not rirr & ~lvl)
        if self._quiet and max_cycles >= 2:
            msk = self._msk
            asserted = self.pins ^ self._lo
            prev = self.prev
            # (asserted & ~prev & ~lvl & ~msk) | (lvl & ~msk & ~rirr & asserted), factored;
            # Remote IRR is set only on level entries here (rirr & ~lvl == 0): lvl & ~rirr == lvl ^ rirr
            req = asserted & ~msk & (~(prev | lvl) | (lvl ^ rirr))
            if not req:
                if asserted == prev:
                    return 0
                self.prev = asserted
                self.cycle += 1
                return 1
            if not req & (req - 1):
                g = req.bit_length() - 1
                e = self.entries[g]
                msg = self._msg_cache.get(e & self._msg_fields) or self._message(e)
                self.slot_idx = g
                self.ptr = (g + 1) % self.npins
                if lvl & req:
                    self._rirr = rirr | req
                    self.entries[g] |= self._rirr_bit
                self.delivered.append(msg)
                self.prev = asserted
                self.cycle += 2
                return 2
        # Tick by tick (several requests are arbitrated round-robin, one per tick).
        for taken in range(max_cycles):
            if not self.pending:
                return taken
            self.tick(True)
        raise RuntimeError(f"IO-APIC model still busy after {max_cycles} cycles (a level line held?)")
