"""Fair sharing of buses and message ports: the round-robin pick and the
platform's AXI4-Lite crossbar.

:func:`round_robin`
    Combinational round-robin choice among request lines, given the index
    that won last. Used by the interrupt router (between message sources and
    between lowest-priority ties) and by :class:`AxiLiteCrossbar`.

:class:`AxiLiteCrossbar`
    ``M`` AXI4-Lite masters (the CPUs, 32-bit addresses) in front of
    per-master private slaves (each CPU's own LAPIC, all at the same
    address) and shared slaves (IO-APIC, HPET), with DECERR for every
    address that maps to no slave. See its docstring for the rules.

The rule every user of :func:`round_robin` shares, and that the Python
models copy: the requests are scanned from index ``last + 1`` upwards,
wrapping around, and the first one set wins. So after index ``k`` won,
``k`` has the lowest precedence next time, and a request waits for at most
``n - 1`` other grants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bus import RESP_DECERR, AXI4LiteSignature

__all__ = ["SHARED_SLAVE_DELAY", "AxiLiteCrossbar", "Region", "round_robin", "round_robin_index"]

#: Cycles from a master's address handshake (AW or AR) to the shared slave's:
#: the crossbar's register stage in front of the IO-APIC and the HPET.
SHARED_SLAVE_DELAY = 1


def round_robin_index(requests: int, last: int, n: int) -> int | None:
    """The pure-Python twin of :func:`round_robin`: the index that wins.

    ``requests`` is a bit mask of ``n`` request lines, ``last`` the index
    that won last time. Returns ``None`` when no line requests.
    """
    for k in range(1, n + 1):
        i = (last + k) % n
        if requests >> i & 1:
            return i
    return None


def round_robin(m: Module, requests: Value, last: Value, *, name: str = "rr") -> tuple[Signal, Signal]:
    """Add a combinational round-robin pick to ``m``.

    Parameters
    ----------
    requests:
        One bit per requester.
    last:
        Index of the requester that won last time (a register kept by the
        caller, updated when a grant is used).

    Returns ``(grant, any)``: the index of the first request at or after
    ``last + 1`` (wrapping), and whether any line requests. ``grant`` is 0
    when nothing requests.
    """
    n = len(requests)
    grant = Signal(range(max(n, 2)), name=f"{name}_grant")
    some = Signal(name=f"{name}_any")
    m.d.comb += some.eq(requests.any())
    # Later assignments win: first the lowest request overall (the wrapped
    # case), then, overriding it, the lowest request above ``last``.
    for k in reversed(range(n)):
        with m.If(requests[k]):
            m.d.comb += grant.eq(k)
    for k in reversed(range(1, n)):
        with m.If(requests[k] & (last < k)):
            m.d.comb += grant.eq(k)
    return grant, some


class Region:
    """An address window of the crossbar: ``size`` bytes at ``base``.

    ``size`` must be a power of two and ``base`` aligned to it; the slave sees
    the offset inside the window, ``addr_width`` bits wide (which may be wider
    than ``log2(size)`` if the slave decodes more than the window).
    """

    def __init__(self, name: str, base: int, size: int, addr_width: int) -> None:
        if size <= 0 or size & (size - 1):
            raise ValueError(f"region {name}: size {size:#x} is not a power of two")
        if base % size:
            raise ValueError(f"region {name}: base {base:#x} is not aligned to its size {size:#x}")
        self.name = name
        self.base = base
        self.size = size
        self.addr_width = addr_width

    def __repr__(self) -> str:
        return f"Region({self.name!r}, {self.base:#x}, {self.size:#x}, {self.addr_width})"

    def matches(self, addr: Value) -> Value:
        """Whether a 32-bit address falls in the window."""
        shift = self.size.bit_length() - 1
        return addr[shift:] == (self.base >> shift)

    def offset(self, addr: Value) -> Value:
        """The slave address for a 32-bit address inside the window."""
        shift = self.size.bit_length() - 1
        return addr[: min(shift, self.addr_width)]


class AxiLiteCrossbar(wiring.Component):
    """``M`` AXI4-Lite masters onto private and shared slaves.

    Ports (seen from the crossbar):

    ``m__{i}`` In(AXI4LiteSignature(32))
        Master ``i`` (a CPU).
    ``p__{i}`` Out(AXI4LiteSignature(private.addr_width))
        Master ``i``'s private slave (its LAPIC), at ``private``'s window.
    ``{name}`` Out(AXI4LiteSignature(region.addr_width))
        One port per shared region (``ioapic``, ``hpet``).

    Rules:

    - **One write and one read at a time per master.** A write begins when
      ``awvalid`` is seen (W waits for its AW, so W-before-AW is held by
      ``wready`` = 0 until AW comes); it ends with the B handshake. Reads
      likewise from AR to the R handshake. Writes and reads of one master
      are independent and may target different slaves.
    - **Private slave: no added latency.** Valid, ready and the responses
      pass through combinationally; a master's first beat reaches its LAPIC
      in the cycle it appears (the ICR → remote ``intr`` path of
      docs/hardware.md counts on it).
    - **Shared slaves: one register stage, fair.** Each shared slave has, per
      channel, an owner and a registered slice (address, protection, write
      data and strobes). A free channel takes the new request of the master
      that follows the previous owner in round-robin order
      (:func:`round_robin`): that master's ``awready`` (``arready``) is high
      in that cycle and its address is registered; its W beat is taken in
      the same cycle or later (never before its AW) and registered too. The
      slave sees only these registers, :data:`SHARED_SLAVE_DELAY` (1) cycle
      after the master's handshake, and no combinational path runs from a
      master's address to the slave. The response (B, R) passes back to the
      owner combinationally; the crossbar always takes it from the slave
      (``bready``/``rready`` = 1) and holds it while the owner is not ready,
      so no path runs from a master's ready into the slave either. The
      owner's handshake frees the channel: from the next cycle on it takes a
      new request. So a write presented with AW
      and W together sees ``bvalid`` 2 cycles later (1 without the stage),
      a read ``rvalid`` 2 cycles later; a master waits for at most ``M - 1``
      other accesses.
    - **DECERR.** An address in no window is accepted at once (``awready``,
      ``wready`` or ``arready`` high) and answered next cycle with DECERR
      (read data 0), for reads and writes alike.
    """

    def __init__(self, masters: int, private: Region, shared: Sequence[Region]) -> None:
        if masters < 1:
            raise ValueError(f"the crossbar needs at least one master, not {masters}")
        names = [private.name, *(r.name for r in shared)]
        if len(set(names)) != len(names) or "m" in names or "p" in names:
            raise ValueError(f"region names must be unique and not 'm' or 'p': {names}")
        regions = [private, *shared]
        for a_i, a in enumerate(regions):
            for b in regions[a_i + 1 :]:
                if a.base < b.base + b.size and b.base < a.base + a.size:
                    raise ValueError(f"regions {a!r} and {b!r} overlap")
        self._n = masters
        self._private = private
        self._shared = tuple(shared)
        members: dict[str, Any] = {
            "m": In(AXI4LiteSignature(32)).array(masters),
            "p": Out(AXI4LiteSignature(private.addr_width)).array(masters),
        }
        for r in shared:
            members[r.name] = Out(AXI4LiteSignature(r.addr_width))
        super().__init__(members)

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        n = self._n
        shared = self._shared
        # Targets: 0 = private, 1..S = shared, S + 1 = decode error.
        nt = len(shared) + 2
        t_err = nt - 1
        regions = [self._private, *shared]
        ports = [None, *(getattr(self, r.name) for r in shared)]

        def decode(addr: Value, name: str) -> Value:
            t = Signal(range(nt), name=name)
            m.d.comb += t.eq(t_err)
            for k, r in enumerate(regions):
                with m.If(r.matches(addr)):
                    m.d.comb += t.eq(k)
            return t

        for channel in ("w", "r"):
            write = channel == "w"
            # Per master: is a transaction active, its target, per-beat flags.
            active = [Signal(name=f"m{i}_{channel}_active") for i in range(n)]
            latched = [Signal(range(nt), name=f"m{i}_{channel}_target") for i in range(n)]
            decoded = []
            avalid = [self.m[i].awvalid if write else self.m[i].arvalid for i in range(n)]
            for i in range(n):
                addr = self.m[i].awaddr if write else self.m[i].araddr
                decoded.append(decode(addr, f"m{i}_{channel}_decoded"))
            # Per master: does a new transaction begin this cycle (its address beat is taken)?
            start = [Signal(name=f"m{i}_{channel}_start") for i in range(n)]
            for i in range(n):
                direct = (decoded[i] == 0) | (decoded[i] == t_err)
                m.d.comb += start[i].eq(~active[i] & avalid[i] & direct)  # shared targets: below

            # Shared slaves: a registered slice per slave and channel. The round
            # robin picks among the masters' new requests; the winner's address
            # (and write data, when it comes) is registered, so the slave sees
            # only flip-flops, one cycle after the master's handshake.
            for k in range(1, nt - 1):
                slave = ports[k]
                busy = Signal(name=f"s{k}_{channel}_busy")
                owner = Signal(range(max(n, 2)), name=f"s{k}_{channel}_owner")
                last = Signal(range(max(n, 2)), name=f"s{k}_{channel}_last", init=n - 1)
                a_valid = Signal(name=f"s{k}_{channel}_a_valid")
                a_addr = Signal(regions[k].addr_width, name=f"s{k}_{channel}_a_addr")
                a_prot = Signal(3, name=f"s{k}_{channel}_a_prot")
                reqs = Cat(~active[i] & avalid[i] & (decoded[i] == k) for i in range(n))
                grant, some = round_robin(m, reqs, last, name=f"s{k}_{channel}")
                take = Signal(name=f"s{k}_{channel}_take")
                m.d.comb += take.eq(~busy & some)
                for i in range(n):
                    with m.If(take & (grant == i)):
                        m.d.comb += start[i].eq(1)
                bus_of = self.m
                addr_in = Signal(32, name=f"s{k}_{channel}_addr_in")
                prot_in = Signal(3, name=f"s{k}_{channel}_prot_in")
                for i in range(n):
                    with m.If(grant == i):
                        m.d.comb += [
                            addr_in.eq(bus_of[i].awaddr if write else bus_of[i].araddr),
                            prot_in.eq(bus_of[i].awprot if write else bus_of[i].arprot),
                        ]
                with m.If(take):
                    m.d.sync += [
                        busy.eq(1), owner.eq(grant), last.eq(grant),
                        a_valid.eq(1), a_addr.eq(regions[k].offset(addr_in)), a_prot.eq(prot_in),
                    ]
                if write:
                    m.d.comb += [slave.awvalid.eq(a_valid), slave.awaddr.eq(a_addr), slave.awprot.eq(a_prot)]
                    with m.If(slave.awvalid & slave.awready):
                        m.d.sync += a_valid.eq(0)
                    # The write data: the owner's W beat, registered when it comes
                    # (in the cycle of the AW or later; never before its AW).
                    w_valid = Signal(name=f"s{k}_w_valid")
                    w_data = Signal(32, name=f"s{k}_w_data")
                    w_strb = Signal(4, name=f"s{k}_w_strb")
                    w_taken = Signal(name=f"s{k}_w_taken")
                    w_who = Signal(range(max(n, 2)), name=f"s{k}_w_who")
                    m.d.comb += w_who.eq(Mux(busy, owner, grant))
                    w_open = Signal(name=f"s{k}_w_open")
                    m.d.comb += w_open.eq((busy | take) & ~w_taken)
                    m.d.comb += [slave.wvalid.eq(w_valid), slave.wdata.eq(w_data), slave.wstrb.eq(w_strb)]
                    for i in range(n):
                        bus = bus_of[i]
                        with m.If(w_open & (w_who == i)):
                            m.d.comb += bus.wready.eq(1)
                            with m.If(bus.wvalid):
                                m.d.sync += [w_valid.eq(1), w_taken.eq(1), w_data.eq(bus.wdata),
                                             w_strb.eq(bus.wstrb)]
                    with m.If(slave.wvalid & slave.wready):
                        m.d.sync += w_valid.eq(0)
                    # The response goes back to the owner as it comes; B ends the
                    # transaction. The slave's response is always taken (``bready``
                    # = 1) and held here while the owner is not ready, so nothing
                    # runs from a master's ``bready`` into the slave.
                    b_held = Signal(name=f"s{k}_b_held")
                    b_resp = Signal(2, name=f"s{k}_b_resp")
                    m.d.comb += slave.bready.eq(1)
                    with m.If(slave.bvalid):
                        m.d.sync += [b_held.eq(1), b_resp.eq(slave.bresp)]
                    for i in range(n):
                        bus = bus_of[i]
                        with m.If(busy & (owner == i)):
                            m.d.comb += [bus.bvalid.eq(slave.bvalid | b_held),
                                         bus.bresp.eq(Mux(b_held, b_resp, slave.bresp))]
                            with m.If(bus.bvalid & bus.bready):
                                m.d.sync += [busy.eq(0), w_taken.eq(0), b_held.eq(0)]
                        with m.If(take & (grant == i)):
                            m.d.comb += bus.awready.eq(1)
                else:
                    m.d.comb += [slave.arvalid.eq(a_valid), slave.araddr.eq(a_addr), slave.arprot.eq(a_prot)]
                    with m.If(slave.arvalid & slave.arready):
                        m.d.sync += a_valid.eq(0)
                    # The read response likewise: always taken, held while the owner is not ready.
                    r_held = Signal(name=f"s{k}_r_held")
                    r_resp = Signal(2, name=f"s{k}_r_resp")
                    r_data = Signal(32, name=f"s{k}_r_data")
                    m.d.comb += slave.rready.eq(1)
                    with m.If(slave.rvalid):
                        m.d.sync += [r_held.eq(1), r_resp.eq(slave.rresp), r_data.eq(slave.rdata)]
                    for i in range(n):
                        bus = bus_of[i]
                        with m.If(busy & (owner == i)):
                            m.d.comb += [bus.rvalid.eq(slave.rvalid | r_held),
                                         bus.rdata.eq(Mux(r_held, r_data, slave.rdata)),
                                         bus.rresp.eq(Mux(r_held, r_resp, slave.rresp))]
                            with m.If(bus.rvalid & bus.rready):
                                m.d.sync += [busy.eq(0), r_held.eq(0)]
                        with m.If(take & (grant == i)):
                            m.d.comb += bus.arready.eq(1)

            # The private slave and DECERR: combinational, no added latency.
            for i in range(n):
                bus = self.m[i]
                target = Signal(range(nt), name=f"m{i}_{channel}_tgt")
                m.d.comb += target.eq(Mux(active[i], latched[i], decoded[i]))
                sel = Signal(name=f"m{i}_{channel}_sel")
                m.d.comb += sel.eq(active[i] | start[i])
                err_pending = Signal(name=f"m{i}_{channel}_err")
                mine = sel & (target == 0)
                err = sel & (target == t_err)
                slave = self.p[i]
                if write:
                    aw_done = Signal(name=f"m{i}_aw_done")
                    w_done = Signal(name=f"m{i}_w_done")
                    aw_hs = Signal(name=f"m{i}_aw_hs")
                    w_hs = Signal(name=f"m{i}_w_hs")
                    b_hs = Signal(name=f"m{i}_b_hs")
                    with m.If(mine):
                        m.d.comb += [
                            slave.awvalid.eq(bus.awvalid & ~aw_done),
                            slave.awaddr.eq(regions[0].offset(bus.awaddr)),
                            slave.awprot.eq(bus.awprot),
                            slave.wvalid.eq(bus.wvalid & ~w_done),
                            slave.wdata.eq(bus.wdata),
                            slave.wstrb.eq(bus.wstrb),
                            slave.bready.eq(bus.bready),
                            bus.awready.eq(slave.awready & ~aw_done),
                            bus.wready.eq(slave.wready & ~w_done),
                            bus.bvalid.eq(slave.bvalid),
                            bus.bresp.eq(slave.bresp),
                        ]
                    with m.If(err):
                        m.d.comb += [
                            bus.awready.eq(~aw_done),
                            bus.wready.eq(~w_done),
                            bus.bvalid.eq(err_pending),
                            bus.bresp.eq(RESP_DECERR),
                        ]
                    m.d.comb += [
                        aw_hs.eq(bus.awvalid & bus.awready),
                        w_hs.eq(bus.wvalid & bus.wready),
                        b_hs.eq(bus.bvalid & bus.bready),
                    ]
                    with m.If(b_hs):
                        m.d.sync += [active[i].eq(0), aw_done.eq(0), w_done.eq(0), err_pending.eq(0)]
                    with m.Else():
                        with m.If(start[i]):
                            m.d.sync += [active[i].eq(1), latched[i].eq(target)]
                        with m.If(aw_hs):
                            m.d.sync += aw_done.eq(1)
                        with m.If(w_hs):
                            m.d.sync += w_done.eq(1)
                        with m.If(err & (aw_done | aw_hs) & (w_done | w_hs)):
                            m.d.sync += err_pending.eq(1)
                else:
                    ar_done = Signal(name=f"m{i}_ar_done")
                    ar_hs = Signal(name=f"m{i}_ar_hs")
                    r_hs = Signal(name=f"m{i}_r_hs")
                    with m.If(mine):
                        m.d.comb += [
                            slave.arvalid.eq(bus.arvalid & ~ar_done),
                            slave.araddr.eq(regions[0].offset(bus.araddr)),
                            slave.arprot.eq(bus.arprot),
                            slave.rready.eq(bus.rready),
                            bus.arready.eq(slave.arready & ~ar_done),
                            bus.rvalid.eq(slave.rvalid),
                            bus.rdata.eq(slave.rdata),
                            bus.rresp.eq(slave.rresp),
                        ]
                    with m.If(err):
                        m.d.comb += [
                            bus.arready.eq(~ar_done),
                            bus.rvalid.eq(err_pending),
                            bus.rresp.eq(RESP_DECERR),
                        ]
                    m.d.comb += [
                        ar_hs.eq(bus.arvalid & bus.arready),
                        r_hs.eq(bus.rvalid & bus.rready),
                    ]
                    with m.If(r_hs):
                        m.d.sync += [active[i].eq(0), ar_done.eq(0), err_pending.eq(0)]
                    with m.Else():
                        with m.If(start[i]):
                            m.d.sync += [active[i].eq(1), latched[i].eq(target)]
                        with m.If(ar_hs):
                            m.d.sync += ar_done.eq(1)
                        with m.If(err & (ar_done | ar_hs)):
                            m.d.sync += err_pending.eq(1)
        return m
