"""The IO-APIC (``irqforge_ioapic``): device lines in, interrupt messages out.

Everything software sees comes from the spec (``spec.ioapic``): the offsets of
IOREGSEL, IOWIN and EOI, the window indices of IOAPICID/IOAPICVER/IOAPICARB
and of the redirection table, the entry's field positions and access kinds,
the pin count and the version.

Structure: :class:`IoApic` is the top level of docs/hardware.md (AXI4-Lite ``bus``) — the
shared :class:`~irqforge.hw.bus.AXI4LiteToReg` bridge in front of
:class:`IoApicCore`, which holds all behaviour behind the register strobe port.

Timing (one clock, every number counted in ``clk`` edges)
----------------------------------------------------------

A pin is sampled at every edge. The request logic works on the pin levels
*before* the edge and the registered redirection state, and the chosen
message is registered into the one-entry output slot at that same edge:

* pin change before edge *k* → ``msg__valid`` high after edge *k*
  (**1 cycle**; there is no input synchroniser, the pins are assumed to be
  synchronous to ``clk`` — put a synchroniser in front for asynchronous
  lines);
* EOI broadcast (``eoi__valid``) in the cycle before edge *k* → a
  still-asserted level pin is re-delivered: ``msg__valid`` after edge *k*;
* an EOI-register write taken at edge *k* is registered and acts like an
  EOI broadcast in the cycle before edge *k+1* (re-delivery after edge
  *k+1*), which keeps the bus bridge out of the request logic's path;
* a redirection-entry write (unmask …) at edge *k* acts from edge *k+1*: the
  request logic at edge *k* still sees the entry as it was;
* a message is *delivered* when ``msg__valid & msg__ready`` at an edge. The
  slot is reloaded at that same edge, so back-to-back messages go out one per
  cycle.

Per pin: ``asserted = irq ^ polarity``. Edge entries latch a rising edge of
``asserted`` while unmasked into a hidden IRR bit (one bit: a second edge before
the first is sent coalesces; masking drops it). Level entries request while
asserted, unmasked and Remote IRR is 0; loading a level message into the slot
sets Remote IRR. A line that falls before its request reaches the slot drops
the request; once in the slot a message is committed. Pins with requests are
served round robin (the pointer moves past the pin just served).

Structure for speed (FPGA and simulator): the per-pin conditions are
whole-vector operations (bit *i* = pin *i*); the round robin finds the first
request above the pin served last and the first of all with ``x & -x`` (a
carry chain, no variable index, so no X from an index out of range) and
picks the message from the one-hot through an AND-OR multiplexer; the
window's read multiplexer also gives the word a write merges its bytes into,
so there is one 32-bit merge, not one per entry.

Delivery status (bit 12) reads 1 while the pin's request waits: latched edge,
a level request (asserted at the last edge, unmasked, Remote IRR 0) or its
message waiting in the slot for ``msg__ready``.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from irqforge.hw.bus import AXI4LiteSignature, AXI4LiteToReg, RegSignature
from irqforge.hw.messages import EoiSignature, IoApicMessageSignature
from irqforge.hw.regs import layout_init, register_layout
from irqforge.spec import Access, Device, Register, Spec

__all__ = [
    "EoiSignature",
    "IoApic",
    "IoApicCore",
    "IoApicMessageSignature",
    "top",
]


def _field_write(reg: Register, old: Any, written: Any, lo: int, width: int = 32) -> list[Any]:
    """Statements storing the rw fields of ``reg`` that lie in bits ``lo..lo+width-1``."""
    return [
        old[f.name.lower()].eq(written[f.lsb - lo : f.lsb - lo + f.width])
        for f in reg.fields
        if f.access is Access.RW and lo <= f.lsb and f.msb < lo + width
    ]


def _or_tree(values: list[Value]) -> Value:
    """The OR of ``values`` as a balanced tree (log depth, for an AND-OR multiplexer)."""
    while len(values) > 1:
        values = [values[k] | values[k + 1] if k + 1 < len(values) else values[k] for k in range(0, len(values), 2)]
    return values[0]


class IoApicCore(wiring.Component):
    """IO-APIC behaviour behind the register strobe port (see the module docstring).

    Ports: ``reg`` (:class:`RegSignature`, target side), ``irq`` in (pins),
    ``msg`` (:class:`IoApicMessageSignature`), ``eoi`` in (:class:`EoiSignature`).
    """

    def __init__(self, spec: Spec) -> None:
        dev = spec.ioapic
        self.dev: Device = dev
        self.npins: int = dev.param("pins")
        self.window = dev.window("IOAPIC")
        self.redtbl = self.window.register("REDTBL")
        self.entry_layout = register_layout(self.redtbl)
        super().__init__(
            {
                "reg": In(RegSignature(dev.address_width)),
                "irq": In(self.npins),
                "msg": Out(IoApicMessageSignature()),
                "eoi": In(EoiSignature()),
            }
        )

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        dev, win, red, n = self.dev, self.window, self.redtbl, self.npins
        reg = self.reg

        entries = [
            Signal(self.entry_layout, name=f"rte{i}", init=layout_init(red))
            for i in range(n)
        ]
        prev = Signal(n)  # asserted level sampled at the last edge
        irr_edge = Signal(n)  # latched edge requests
        ioregsel = Signal(8)
        idreg_reg = win.register("IOAPICID")
        id_field = idreg_reg.field("ID")
        ioapic_id = Signal(id_field.width, init=id_field.reset)

        slot_valid = Signal()
        slot_pin = Signal(n)  # one-hot: the pin whose message is (or was last) in the slot
        m.d.comb += self.msg.valid.eq(slot_valid)

        # ---------------------------------------------------------------- bus decode
        off_sel = dev.offset("IOREGSEL")
        off_win = dev.offset("IOWIN")
        has_eoi_reg = dev.param("version") >= 0x20
        off_eoi = dev.offset("EOI") if has_eoi_reg else None

        byte_mask = Signal(32)
        m.d.comb += byte_mask.eq(Cat(*(b.replicate(8) for b in reg.w_strb)))

        w_sel = Signal()
        w_win = Signal()
        w_eoi = Signal()
        m.d.comb += [
            w_sel.eq(reg.w_stb & (reg.addr == off_sel)),
            w_win.eq(reg.w_stb & (reg.addr == off_win)),
        ]
        eoi_w_vector = Signal(8)
        if off_eoi is not None:
            # Registered: the write acts at the edge after the one that takes
            # it (as an entry write does), which keeps the bus out of the
            # request logic's timing path.
            m.d.sync += [
                w_eoi.eq(reg.w_stb & (reg.addr == off_eoi) & reg.w_strb[0]),
                eoi_w_vector.eq(reg.w_data[0:8]),
            ]

        with m.If(w_sel & reg.w_strb[0]):  # INDEX is byte 0
            m.d.sync += ioregsel.eq(reg.w_data[0:8])

        # ---------------------------------------------------------------- per-pin logic
        # Whole-vector operations (bit i = pin i): a few wide operations for
        # a simulator, one LUT level per term for an FPGA.
        trig_edge = red.field("TRIGGER").enum("EDGE")
        is_level = Signal(n)
        masked = Signal(n)
        active_low = Signal(n)
        remote_irr = Signal(n)
        eoi_hit = Signal(n)
        m.d.comb += [
            is_level.eq(Cat(*(e.trigger != trig_edge for e in entries))),
            masked.eq(Cat(*(e.mask for e in entries))),
            active_low.eq(Cat(*(e.polarity for e in entries))),
            remote_irr.eq(Cat(*(e.remote_irr for e in entries))),
            eoi_hit.eq(is_level & remote_irr & Cat(*(
                (self.eoi.valid & (e.vector == self.eoi.vector)) | (w_eoi & (e.vector == eoi_w_vector))
                for e in entries
            ))),
        ]
        asserted = Signal(n)
        edge_req = Signal(n)
        req = Signal(n)
        delivery_status = Signal(n)
        m.d.comb += [
            asserted.eq(self.irq ^ active_low),
            edge_req.eq((irr_edge | (asserted & ~prev)) & ~is_level & ~masked),
            req.eq(edge_req | (is_level & asserted & ~masked & ~(remote_irr & ~eoi_hit))),
            delivery_status.eq(
                (slot_pin & slot_valid.replicate(n)) | irr_edge | (is_level & ~masked & ~remote_irr & prev)
            ),
        ]
        m.d.sync += prev.eq(asserted)

        # ---------------------------------------------------------------- arbitration and slot
        # Round robin without any variable index (no X can come out of an
        # index out of range) and in carry-chain depth: ``slot_pin`` is also
        # the pin served last, ``above`` every pin after it (none at reset).
        # The lowest set bit (``x & -x``, one carry chain) of the requests
        # above the last pin and, side by side, of all requests; the first
        # if there is one, else the second. The message is picked from the
        # one-hot through an AND-OR multiplexer.
        above = Signal(n)
        m.d.comb += above.eq(~(slot_pin | (slot_pin - 1)[:n]))
        hi = Signal(n)
        first_hi = Signal(n)
        first_all = Signal(n)
        pick = Signal(n)  # one-hot
        m.d.comb += [
            hi.eq(req & above),
            first_hi.eq(hi & (-hi)[:n]),
            first_all.eq(req & (-req)[:n]),
            pick.eq(Mux(hi.any(), first_hi, first_all)),
        ]
        load = Signal()
        m.d.comb += load.eq(req.any() & (~slot_valid | self.msg.ready))
        grant = Signal(n)
        payload = [Cat(e.vector, e.delivery_mode, e.dest_mode, e.dest, e.trigger) for e in entries]
        width = len(payload[0])
        chosen = Signal(width)
        m.d.comb += chosen.eq(_or_tree([p & pick[i].replicate(width) for i, p in enumerate(payload)]))
        with m.If(load):
            m.d.comb += grant.eq(pick)
            m.d.sync += [slot_valid.eq(1), slot_pin.eq(pick)]
            m.d.sync += Cat(
                self.msg.vector, self.msg.delivery_mode, self.msg.dest_mode, self.msg.dest, self.msg.trigger
            ).eq(chosen)
        with m.Elif(self.msg.ready):
            m.d.sync += slot_valid.eq(0)
        m.d.sync += irr_edge.eq(edge_req & ~grant)

        # ---------------------------------------------------------------- the window: one multiplexer, reads and writes
        red_first = red.offset
        win_data = Signal(32)
        ver = win.register("IOAPICVER")
        arb = win.register("IOAPICARB")
        ds_lsb = red.field("DELIVERY_STATUS").lsb
        with m.Switch(ioregsel):
            with m.Case(idreg_reg.offset):
                m.d.comb += win_data.eq(ioapic_id << id_field.lsb)
            with m.Case(ver.offset):
                m.d.comb += win_data.eq(ver.reset & 0xFFFFFFFF)
            with m.Case(arb.offset):
                m.d.comb += win_data.eq(ioapic_id << arb.field("ARB_ID").lsb)
            for i, e in enumerate(entries):
                val = e.as_value()
                with m.Case(red_first + red.stride * i):
                    m.d.comb += win_data.eq(val[0:32] | (delivery_status[i] << ds_lsb))
                with m.Case(red_first + red.stride * i + 1):
                    m.d.comb += win_data.eq(val[32:64])
        # A window write stores the written bytes over the word as read; only rw fields are kept.
        merged = Signal(32)
        m.d.comb += merged.eq((win_data & ~byte_mask) | (reg.w_data & byte_mask))
        new_trigger_level = merged[red.field("TRIGGER").lsb] != trig_edge

        # ---------------------------------------------------------------- entries: writes, Remote IRR
        for i, e in enumerate(entries):
            w_lo = w_win & (ioregsel == red_first + red.stride * i)
            new_level = Signal(name=f"new_level{i}")
            m.d.comb += new_level.eq(Mux(w_lo, new_trigger_level, is_level[i]))
            with m.If(w_lo):
                m.d.sync += _field_write(red, e, merged, 0)
            with m.If(w_win & (ioregsel == red_first + red.stride * i + 1)):
                m.d.sync += _field_write(red, e, merged, 32)
            m.d.sync += e.remote_irr.eq(
                ((e.remote_irr & ~eoi_hit[i]) | (grant[i] & is_level[i])) & new_level
            )

        with m.If(w_win & (ioregsel == idreg_reg.offset)):
            m.d.sync += ioapic_id.eq(merged[id_field.lsb : id_field.msb + 1])

        # ---------------------------------------------------------------- reads
        with m.Switch(reg.addr):
            with m.Case(off_sel):
                m.d.comb += reg.r_data.eq(ioregsel)
            with m.Case(off_win):
                m.d.comb += reg.r_data.eq(win_data)
        return m


class IoApic(wiring.Component):
    """``irqforge_ioapic``: :class:`IoApicCore` behind the AXI4-Lite bridge.

    Ports (docs/hardware.md): ``bus__*`` (AXI4-Lite slave), ``irq[N-1:0]`` in,
    ``msg__{valid,ready,vector,delivery_mode,dest_mode,dest,trigger}``,
    ``eoi__{valid,vector}`` in.
    """

    def __init__(self, spec: Spec) -> None:
        self.core = IoApicCore(spec)
        self.bridge = AXI4LiteToReg(spec.ioapic.address_width)
        super().__init__(
            {
                "bus": In(AXI4LiteSignature(spec.ioapic.address_width)),
                "irq": In(self.core.npins),
                "msg": Out(IoApicMessageSignature()),
                "eoi": In(EoiSignature()),
            }
        )

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.bridge = self.bridge
        m.submodules.core = self.core
        wiring.connect(m, wiring.flipped(self.bus), self.bridge.bus)
        wiring.connect(m, self.bridge.reg, self.core.reg)
        wiring.connect(m, wiring.flipped(self.msg), self.core.msg)
        wiring.connect(m, wiring.flipped(self.eoi), self.core.eoi)
        m.d.comb += self.core.irq.eq(self.irq)
        return m


def top(spec: Spec) -> IoApic:
    """The IO-APIC of ``spec`` (Verilog module ``irqforge_ioapic``)."""
    return IoApic(spec)
