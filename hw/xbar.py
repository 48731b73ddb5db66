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

__all__ = ["AxiLiteCrossbar", "Region", "round_robin", "round_robin_index"]


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
    - **No added latency.** Valid, ready and the responses pass through
      combinationally; a master's first beat reaches the slave in the cycle
      it appears (when granted).
    - **Shared slaves, fair.** Each shared slave has one write owner and one
      read owner. A free channel goes to the requesting master that follows
      the previous owner in round-robin order (:func:`round_robin`); the
      owner keeps it until its B (or R) handshake. A master waits for at
      most ``M - 1`` other accesses.
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

        def decode(addr: Value) -> Value:
            t = Signal(range(nt), name="decoded")
            m.d.comb += t.eq(t_err)
            for k, r in enumerate(regions):
                with m.If(r.matches(addr)):
                    m.d.comb += t.eq(k)
            return t

        for channel in ("w", "r"):
            # Per master: is a transaction active, its target, per-beat flags.
            active = [Signal(name=f"m{i}_{channel}_active") for i in range(n)]
            latched = [Signal(range(nt), name=f"m{i}_{channel}_target") for i in range(n)]
            target = [Signal(range(nt), name=f"m{i}_{channel}_tgt") for i in range(n)]
            start = [Signal(name=f"m{i}_{channel}_start") for i in range(n)]
            granted = [Signal(name=f"m{i}_{channel}_granted") for i in range(n)]
            for i in range(n):
                bus = self.m[i]
                avalid = bus.awvalid if channel == "w" else bus.arvalid
                addr = bus.awaddr if channel == "w" else bus.araddr
                d = decode(addr)
                m.d.comb += target[i].eq(Mux(active[i], latched[i], d))
                m.d.comb += start[i].eq(~active[i] & avalid & granted[i])

            # Shared-slave ownership (per channel).
            owner_of: dict[int, tuple[Signal, Signal]] = {}
            for k in range(1, nt - 1):
                busy = Signal(name=f"s{k}_{channel}_busy")
                owner = Signal(range(max(n, 2)), name=f"s{k}_{channel}_owner")
                last = Signal(range(max(n, 2)), name=f"s{k}_{channel}_last", init=n - 1)
                reqs = Cat(
                    ~active[i] & (self.m[i].awvalid if channel == "w" else self.m[i].arvalid)
                    & (target[i] == k)
                    for i in range(n)
                )
                grant, _some = round_robin(m, reqs, last, name=f"s{k}_{channel}")
                cur = Signal(range(max(n, 2)), name=f"s{k}_{channel}_cur")
                m.d.comb += cur.eq(Mux(busy, owner, grant))
                for i in range(n):
                    with m.If(target[i] == k):
                        m.d.comb += granted[i].eq(busy & (owner == i) | ~busy & (grant == i) & reqs[i])
                    with m.If(start[i] & (target[i] == k)):
                        m.d.sync += [busy.eq(1), owner.eq(i), last.eq(i)]
                # Released by the owner's response handshake (below).
                owner_of[k] = (busy, cur)
            for i in range(n):
                with m.If((target[i] == 0) | (target[i] == t_err)):
                    m.d.comb += granted[i].eq(1)

            for i in range(n):
                bus = self.m[i]
                sel = Signal(name=f"m{i}_{channel}_sel")
                m.d.comb += sel.eq(active[i] | start[i])
                err_pending = Signal(name=f"m{i}_{channel}_err")
                if channel == "w":
                    aw_done = Signal(name=f"m{i}_aw_done")
                    w_done = Signal(name=f"m{i}_w_done")
                    aw_hs = Signal(name=f"m{i}_aw_hs")
                    w_hs = Signal(name=f"m{i}_w_hs")
                    b_hs = Signal(name=f"m{i}_b_hs")
                    for k in range(nt - 1):
                        slave = self.p[i] if k == 0 else ports[k]
                        mine = sel & (target[i] == k)
                        if k != 0:
                            mine = mine & (owner_of[k][1] == i)
                        with m.If(mine):
                            m.d.comb += [
                                slave.awvalid.eq(bus.awvalid & ~aw_done),
                                slave.awaddr.eq(regions[k].offset(bus.awaddr)),
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
                    with m.If(sel & (target[i] == t_err)):
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
                            m.d.sync += [active[i].eq(1), latched[i].eq(target[i])]
                        with m.If(aw_hs):
                            m.d.sync += aw_done.eq(1)
                        with m.If(w_hs):
                            m.d.sync += w_done.eq(1)
                        with m.If(
                            sel & (target[i] == t_err) & (aw_done | aw_hs) & (w_done | w_hs)
                        ):
                            m.d.sync += err_pending.eq(1)
                    done_hs = b_hs
                else:
                    ar_done = Signal(name=f"m{i}_ar_done")
                    ar_hs = Signal(name=f"m{i}_ar_hs")
                    r_hs = Signal(name=f"m{i}_r_hs")
                    for k in range(nt - 1):
                        slave = self.p[i] if k == 0 else ports[k]
                        mine = sel & (target[i] == k)
                        if k != 0:
                            mine = mine & (owner_of[k][1] == i)
                        with m.If(mine):
                            m.d.comb += [
                                slave.arvalid.eq(bus.arvalid & ~ar_done),
                                slave.araddr.eq(regions[k].offset(bus.araddr)),
                                slave.arprot.eq(bus.arprot),
                                slave.rready.eq(bus.rready),
                                bus.arready.eq(slave.arready & ~ar_done),
                                bus.rvalid.eq(slave.rvalid),
                                bus.rdata.eq(slave.rdata),
                                bus.rresp.eq(slave.rresp),
                            ]
                    with m.If(sel & (target[i] == t_err)):
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
                            m.d.sync += [active[i].eq(1), latched[i].eq(target[i])]
                        with m.If(ar_hs):
                            m.d.sync += ar_done.eq(1)
                        with m.If(sel & (target[i] == t_err) & (ar_done | ar_hs)):
                            m.d.sync += err_pending.eq(1)
                    done_hs = r_hs
                # Release a shared slave when its owner's transaction ends.
                for k in range(1, nt - 1):
                    busy, _cur = owner_of[k]
                    with m.If(done_hs & (target[i] == k)):
                        m.d.sync += busy.eq(0)
        return m

