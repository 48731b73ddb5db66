"""The register bus shared by every irqforge device: AXI4-Lite outside, a simple
strobe port inside.

Three pieces:

:class:`AXI4LiteSignature`
    The five AXI4-Lite channels as an Amaranth signature, seen from the
    master. A slave declares ``bus: In(AXI4LiteSignature(12))``; Amaranth's
    path naming then gives the Verilog ports ``bus__awaddr`` … ``bus__rready``
    of docs/hardware.md. cocotbext-axi finds them with
    ``AxiLiteBus.from_prefix(dut, "bus_")``: cocotb-bus joins prefix and signal
    name with its default separator ``"_"``, so ``"bus_" + "_" + "awaddr"``
    is ``bus__awaddr``.

:class:`RegSignature`
    The device side: one byte address, a one-cycle read strobe with the data
    answered combinationally from the address, and a one-cycle write strobe.

:class:`AXI4LiteToReg`
    The bridge between them. See its docstring for ordering and latency.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = [
    "RESP_DECERR",
    "RESP_EXOKAY",
    "RESP_OKAY",
    "RESP_SLVERR",
    "AXI4LiteSignature",
    "AXI4LiteToReg",
    "RegSignature",
]

#: AXI response codes (``bresp`` / ``rresp``).
RESP_OKAY = 0
RESP_EXOKAY = 1
RESP_SLVERR = 2
RESP_DECERR = 3


class AXI4LiteSignature(wiring.Signature):
    """AXI4-Lite, from the master's view (a slave uses ``In(...)`` of it).

    Parameters
    ----------
    addr_width:
        Width of ``awaddr``/``araddr`` in bits (byte addresses).
    data_width:
        Width of ``wdata``/``rdata``: 32 or 64; ``wstrb`` has one bit per byte.
    """

    def __init__(self, addr_width: int, data_width: int = 32) -> None:
        if not isinstance(addr_width, int) or addr_width < 1:
            raise ValueError(f"addr_width must be a positive integer, not {addr_width!r}")
        if data_width not in (32, 64):
            raise ValueError(f"AXI4-Lite data_width must be 32 or 64, not {data_width!r}")
        self._addr_width = addr_width
        self._data_width = data_width
        super().__init__(
            {
                "awaddr": Out(addr_width),
                "awprot": Out(3),
                "awvalid": Out(1),
                "awready": In(1),
                "wdata": Out(data_width),
                "wstrb": Out(data_width // 8),
                "wvalid": Out(1),
                "wready": In(1),
                "bresp": In(2),
                "bvalid": In(1),
                "bready": Out(1),
                "araddr": Out(addr_width),
                "arprot": Out(3),
                "arvalid": Out(1),
                "arready": In(1),
                "rdata": In(data_width),
                "rresp": In(2),
                "rvalid": In(1),
                "rready": Out(1),
            }
        )

    @property
    def addr_width(self) -> int:
        return self._addr_width

    @property
    def data_width(self) -> int:
        return self._data_width

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and other.addr_width == self.addr_width
            and other.data_width == self.data_width
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AXI4LiteSignature({self.addr_width}, {self.data_width})"


class RegSignature(wiring.Signature):
    """The internal register port, from the initiator's (the bridge's) view.

    Members:

    ``addr`` Out(addr_width)
        Byte address, dword aligned (bits 1:0 are 0).
    ``r_stb`` Out(1)
        One-cycle read strobe. ``r_data``/``r_err`` are answered
        combinationally from ``addr`` in the same cycle; read side effects
        happen on ``r_stb``.
    ``r_data`` In(32), ``r_err`` In(1)
        Read answer; ``r_err`` turns into SLVERR.
    ``w_stb`` Out(1), ``w_data`` Out(32), ``w_strb`` Out(4)
        One-cycle write strobe with data and byte enables.
    ``w_err`` In(1)
        Answered combinationally during ``w_stb``; turns into SLVERR.
    """

    def __init__(self, addr_width: int) -> None:
        if not isinstance(addr_width, int) or addr_width < 2:
            raise ValueError(f"addr_width must be an integer >= 2, not {addr_width!r}")
        self._addr_width = addr_width
        super().__init__(
            {
                "addr": Out(addr_width),
                "r_stb": Out(1),
                "r_data": In(32),
                "r_err": In(1),
                "w_stb": Out(1),
                "w_data": Out(32),
                "w_strb": Out(4),
                "w_err": In(1),
            }
        )

    @property
    def addr_width(self) -> int:
        return self._addr_width

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.addr_width == self.addr_width

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RegSignature({self.addr_width})"


class AXI4LiteToReg(wiring.Component):
    """AXI4-Lite slave → :class:`RegSignature` initiator (32-bit data).

    Behaviour:

    - **Independent AW and W.** Either may arrive first; each is buffered in
      a one-entry register until its partner arrives. When both are present
      (buffered or on the bus this cycle) the write is issued in that very
      cycle (``w_stb``), and ``bvalid`` rises the next cycle.
    - **Reads.** An AR handshake issues ``r_stb`` in the same cycle; the
      answer is registered and ``rvalid`` rises the next cycle.
    - **Latency.** Valid on the bus (AW and W both, or AR) → ``bvalid`` /
      ``rvalid``: 1 cycle, when nothing is stalled. Throughput: one access per
      cycle (back-to-back reads or writes at full rate while ``bready`` /
      ``rready`` are held high).
    - **Back-pressure.** ``awready``/``wready`` are low while that channel's
      buffer is full or a B response waits for ``bready``; ``arready`` is low
      while an R response waits for ``rready``. A response slot is reused in
      the cycle its handshake completes.
    - **Ordering.** One register access per cycle on the ``reg`` port. When a
      write can issue and an AR is valid in the same cycle, the write goes
      first and ``arready`` stays low that cycle (the read follows the next
      cycle). So a write and a read presented together are seen by the
      device in the order write, read.
    - **Responses.** OKAY, or SLVERR when the device raises ``r_err`` /
      ``w_err``. ``awprot``/``arprot`` are ignored.
    """

    def __init__(self, addr_width: int) -> None:
        self._addr_width = addr_width
        super().__init__(
            {
                "bus": In(AXI4LiteSignature(addr_width)),
                "reg": Out(RegSignature(addr_width)),
            }
        )

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        bus = self.bus
        reg = self.reg
        aw = self._addr_width
        align = ~0b11 & ((1 << aw) - 1)

        # One-entry buffers for AW and W.
        aw_full = Signal()
        aw_addr = Signal(aw)
        w_full = Signal()
        w_data = Signal(32)
        w_strb = Signal(4)
        # Registered responses.
        bvalid = Signal()
        bresp = Signal(2)
        rvalid = Signal()
        rresp = Signal(2)
        rdata = Signal(32)

        b_free = Signal()
        r_free = Signal()
        m.d.comb += [
            b_free.eq(~bvalid | bus.bready),
            r_free.eq(~rvalid | bus.rready),
            bus.bvalid.eq(bvalid),
            bus.bresp.eq(bresp),
            bus.rvalid.eq(rvalid),
            bus.rresp.eq(rresp),
            bus.rdata.eq(rdata),
            bus.awready.eq(~aw_full & b_free),
            bus.wready.eq(~w_full & b_free),
        ]

        aw_hs = Signal()
        w_hs = Signal()
        m.d.comb += [
            aw_hs.eq(bus.awvalid & bus.awready),
            w_hs.eq(bus.wvalid & bus.wready),
        ]

        # A write issues when both halves are present and the B slot is free.
        write_go = Signal()
        m.d.comb += write_go.eq(b_free & (aw_full | bus.awvalid) & (w_full | bus.wvalid))
        waddr = Signal(aw)
        m.d.comb += waddr.eq(Mux(aw_full, aw_addr, bus.awaddr))

        # Reads only in cycles without a write.
        m.d.comb += bus.arready.eq(r_free & ~write_go)
        read_go = Signal()
        m.d.comb += read_go.eq(bus.arvalid & bus.arready)

        m.d.comb += [
            reg.addr.eq(Mux(write_go, waddr, bus.araddr) & align),
            reg.w_stb.eq(write_go),
            reg.w_data.eq(Mux(w_full, w_data, bus.wdata)),
            reg.w_strb.eq(Mux(w_full, w_strb, bus.wstrb)),
            reg.r_stb.eq(read_go),
        ]

        # Buffers: fill on a handshake that does not issue this cycle, empty on issue.
        with m.If(write_go):
            m.d.sync += [aw_full.eq(0), w_full.eq(0)]
        with m.Else():
            with m.If(aw_hs):
                m.d.sync += [aw_full.eq(1), aw_addr.eq(bus.awaddr)]
            with m.If(w_hs):
                m.d.sync += [w_full.eq(1), w_data.eq(bus.wdata), w_strb.eq(bus.wstrb)]

        with m.If(write_go):
            m.d.sync += [bvalid.eq(1), bresp.eq(Mux(reg.w_err, RESP_SLVERR, RESP_OKAY))]
        with m.Elif(bus.bready):
            m.d.sync += bvalid.eq(0)

        with m.If(read_go):
            m.d.sync += [
                rvalid.eq(1),
                rdata.eq(reg.r_data),
                rresp.eq(Mux(reg.r_err, RESP_SLVERR, RESP_OKAY)),
            ]
        with m.Elif(bus.rready):
            m.d.sync += rvalid.eq(0)

        return m
