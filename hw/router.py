"""The interrupt router (``irqforge_router``): the APIC bus of the platform.

It takes the IO-APIC's redirection messages, the HPET's FSB (MSI) writes and
every Local APIC's IPIs, resolves their destinations against the LAPICs'
current IDs and logical destinations, and delivers each to the ``msg_in``
port of every target. EOI broadcasts of the LAPICs go back to the IO-APIC.

Ports (``N`` = ``spec.platform.ncpus``; seen from the router):

``ioapic__{valid,ready,vector,delivery_mode,dest_mode,dest,trigger}``
    In: the IO-APIC message port (``level`` is always 1).
``msi__{valid,ready,addr,data}``
    In: the HPET FSB write (decoded below).
``ipi__{i}__{valid,ready,vector,delivery_mode,dest_mode,dest,shorthand,trigger,level,source}``
    In: LAPIC ``i``'s ICR message.
``lapic__{i}__{apic_id,ldr,dfr_model,arb_priority,enabled,x2apic}``
    In: LAPIC ``i``'s state: ``apic_id[31:0]`` (xAPIC mode: the 8-bit ID
    zero-extended), ``ldr[31:0]`` the whole LDR (xAPIC: bits 31:24 are
    used; x2APIC: derived from the ID, cluster in 31:16, member bit in
    15:0), ``dfr_model`` DFR[31:28] (xAPIC only), ``x2apic`` 1 in x2APIC
    mode. The IPI ports' ``dest`` is 32 bits (an xAPIC sender's 8-bit
    ICR2[31:24] zero-extended, an x2APIC sender's ICR[63:32]).
``msg__{i}__{valid,ready,vector,delivery_mode,trigger,level}``
    Out: messages for LAPIC ``i`` (its ``msg_in``).
``eoi__{i}__{valid,vector}`` in, ``ioapic_eoi__{valid,vector}`` out
    EOI broadcasts, merged.

Destination (reference §1.8, ARCH column):

- **Shorthand** (IPIs only) overrides mode and destination: *self* is the
  sending LAPIC, *all including self* every LAPIC, *all excluding self*
  every LAPIC but the sender. The sender is the IPI **port** the message
  came in on, not its ``source`` ID, so that APICs sharing an ID (KUT's
  aliased-ID test) still only interrupt themselves (as QEMU and KVM do).
- Otherwise the destination is matched by **each receiver in its own
  mode**, as KVM's ``kvm_apic_match_dest`` does (SDM 10.6.2, 10.12.9,
  10.12.10). The message's destination address ``mda`` is the 32-bit
  ``dest``; for an x2APIC receiver, an IO-APIC message's or MSI's 8-bit
  0xFF becomes 0xFFFFFFFF (KVM ``kvm_apic_mda``: without interrupt
  remapping their 0xFF is the only broadcast they have). The receiver's
  broadcast is 0xFF in xAPIC mode and 0xFFFFFFFF in x2APIC mode
  (``kvm_apic_broadcast``).
- **Physical**: the broadcast, or every LAPIC whose 32-bit ID equals
  ``mda`` (all of them if several share it).
- **Logical**: the broadcast, or, x2APIC receiver: ``mda[31:16] ==
  LDR[31:16]`` and ``mda[15:0] & LDR[15:0] != 0`` (cluster = ID[31:4]);
  xAPIC receiver, by its DFR model: flat (``mda[7:0] & LDR[31:24] != 0``)
  or cluster (``mda[31:4] == LDR[31:28]`` and ``mda[3:0] & LDR[27:24] !=
  0``). A DFR model that is neither 0xF nor 0x0 matches only broadcasts
  (``kvm_apic_match_logical_addr``).
- **A mixed system** (some LAPICs in xAPIC mode, some in x2APIC mode; the
  SDM leaves it undefined, Linux never builds one) follows the same rules,
  so an IPI is matched as its sender wrote it: an xAPIC sender's 0xFF is
  the broadcast of the xAPIC receivers only (an x2APIC receiver takes it
  as physical ID 0xFF, or logical cluster 0, members 0-7); an x2APIC
  sender's physical 0xFFFFFFFF reaches only the x2APIC receivers, and a
  physical destination above 0xFF never matches an xAPIC receiver (KVM
  compares it with the vCPU's x2APIC ID, its "hotplug hack"; here an xAPIC
  LAPIC's 32-bit ID is its 8-bit ID, so nothing above 0xFF equals it).
  Real hardware would alias ``dest & 0xFF`` onto xAPIC IDs; KVM does not,
  nor does the router. In logical mode a flat xAPIC receiver looks only at
  ``mda[7:0]`` (so it takes an x2APIC logical 0xFFFFFFFF), a cluster one
  needs ``mda[31:8] == 0``. Shorthands need no destination and reach every
  LAPIC whatever its mode.

Delivery mode (after destination):

- **Fixed**: every matched LAPIC that is ``enabled``.
- **Lowest priority**: exactly one of the matched, enabled LAPICs: the one
  with the lowest ``arb_priority``; among equals, the first after the
  previous lowest-priority winner in index order (round robin, see
  :func:`irqforge.hw.xbar.round_robin`; the pointer starts at ``N - 1`` so
  the first tie goes to LAPIC 0, and moves on every lowest-priority message
  that found a target).
- **INIT level de-assert** (INIT, level 0, trigger level): nobody.
- **Remote read** (3, reserved): nobody.
- **SMI, NMI, INIT, start-up, ExtINT**: every matched LAPIC, enabled or not.

MSI decoding (reference §3.8, x86 MSI format): ``addr[31:20]`` must be
0xFEE, else the write is dropped (no target); ``addr[19:12]`` destination
(8 bits; no extended destination ID in ``addr[11:5]``),
``addr[2]`` destination mode, ``addr[3]`` redirection hint;
``data[7:0]`` vector, ``data[10:8]`` delivery mode, ``data[14]`` level,
``data[15]`` trigger. As KVM does (``kvm_lowest_prio_delivery``), a set
redirection hint turns a fixed message into a lowest-priority one.

Arbitration and delivery:

- Sources are numbered IO-APIC = 0, MSI = 1, IPI of LAPIC ``i`` = ``2 + i``;
  when several are valid, the first after the last one served wins (round
  robin), so a source waits for at most ``N + 1`` other messages.
- **Latency 0**: a message valid in cycle ``t`` is offered to its targets'
  ``msg_in`` in cycle ``t``. Destination matching, the priority comparison
  and both round robins are combinational.
- **Delivery per target, tracked**: ``msg__{i}__valid`` is raised for every
  target not yet served; a target that takes it (``ready``) is marked done;
  the source's ``ready`` rises in the cycle the last target takes it. The
  target set is frozen on the first cycle (later changes of IDs or
  priorities do not affect a message in flight), and no ``valid`` depends
  on any ``ready``. So every target gets the message exactly once, none is
  lost, and a slow LAPIC delays only the messages it is a target of... and
  the sources behind them. A message with no target is taken at once.

EOI merging: one EOI leaves per cycle, to the single ``ioapic_eoi`` port.
Each LAPIC has a one-entry slot; the LAPICs with an EOI (held or arriving)
take turns in round-robin order (an arriving EOI whose LAPIC wins leaves in
the same cycle, latency 0; the held one, if any, leaves first). A LAPIC's
EOI waits at most ``N`` cycles, so nothing is lost as long as one LAPIC's
EOI broadcasts are at least ``N`` cycles apart; an EOI arriving while an
equal vector waits merges with it (the IO-APIC's response, clearing Remote
IRR of the level entries with that vector, is the same). On the platform a
CPU port completes at most one write every 2 cycles, so with ``N <= 2`` no
EOI can be lost; beyond that, back-to-back EOI writes on every CPU exceed
the one-EOI-per-cycle port and could. (A 256-bit pending set that merges
every equal vector would be lossless for any ``N``, but costs ~6000 Yosys
cells against the router's ~650; measured and rejected.)
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from irqforge.spec import Spec

# The port signatures live in .messages; they are re-exported here for the
# blocks that import them from the router (hw/lapic.py).
from .messages import (
    EoiSignature,
    IoApicMessageSignature,
    IpiSignature,
    LapicStateSignature,
    MessageSignature,
    MsiSignature,
)
from .xbar import round_robin

__all__ = [
    "DM_FIXED",
    "DM_INIT",
    "DM_LOWEST",
    "DM_REMOTE_READ",
    "SH_ALL_EXCL",
    "SH_ALL_INCL",
    "SH_NONE",
    "SH_SELF",
    "EoiSignature",
    "IoApicMessageSignature",
    "IpiSignature",
    "LapicStateSignature",
    "MessageSignature",
    "MsiSignature",
    "Router",
    "top",
]

# Encodings (reference §1.8; the same numbers as irqforge.sim.models.messages).
DM_FIXED = 0
DM_LOWEST = 1
DM_REMOTE_READ = 3
DM_INIT = 5
SH_NONE = 0
SH_SELF = 1
SH_ALL_INCL = 2
SH_ALL_EXCL = 3
DFR_FLAT = 0xF
DFR_CLUSTER = 0x0
BROADCAST = 0xFF
X2APIC_BROADCAST = 0xFFFF_FFFF
MSI_ADDR_PREFIX = 0xFEE


class Router(wiring.Component):
    """The interrupt router for ``n`` LAPICs; behaviour in the module docstring."""

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"the router needs at least one LAPIC, not {n}")
        self._n = n
        super().__init__(
            {
                "ioapic": In(IoApicMessageSignature()),
                "msi": In(MsiSignature()),
                "ipi": In(IpiSignature()).array(n),
                "lapic": In(LapicStateSignature()).array(n),
                "msg": Out(MessageSignature()).array(n),
                "eoi": In(EoiSignature()).array(n),
                "ioapic_eoi": Out(EoiSignature()),
            }
        )

    @property
    def n(self) -> int:
        """Number of LAPICs."""
        return self._n

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        self._elaborate_messages(m)
        self._elaborate_eoi(m)
        return m

    # ------------------------------------------------------------------ messages

    def _elaborate_messages(self, m: Module) -> None:
        n = self._n
        nsrc = n + 2

        # The chosen source's message, normalised.
        vector = Signal(8)
        mode = Signal(3)
        trigger = Signal()
        level = Signal()
        drop = Signal()  # an MSI outside the interrupt address range

        valids = Cat(self.ioapic.valid, self.msi.valid, *(p.valid for p in self.ipi))
        busy = Signal()
        held_src = Signal(range(nsrc))
        held_tgt = Signal(n)
        done = Signal(n)
        src_last = Signal(range(nsrc), init=nsrc - 1)
        lp_last = Signal(range(max(n, 2)), init=n - 1)

        rr_grant, rr_any = round_robin(m, valids, src_last, name="src")
        src = Signal(range(nsrc))
        active = Signal()
        m.d.comb += [
            src.eq(Mux(busy, held_src, rr_grant)),
            active.eq(busy | rr_any),
        ]

        with m.Switch(src):
            with m.Case(0):
                io = self.ioapic
                m.d.comb += [
                    vector.eq(io.vector),
                    mode.eq(io.delivery_mode),
                    trigger.eq(io.trigger),
                    level.eq(1),
                ]
            with m.Case(1):
                addr, data = self.msi.addr, self.msi.data
                msi_mode = data[8:11]
                redirect = addr[3] & ((msi_mode == DM_FIXED) | (msi_mode == DM_LOWEST))
                m.d.comb += [
                    vector.eq(data[0:8]),
                    mode.eq(Mux(redirect, DM_LOWEST, msi_mode)),
                    trigger.eq(data[15]),
                    level.eq(data[14]),
                ]
            for i, p in enumerate(self.ipi):
                with m.Case(2 + i):
                    m.d.comb += [
                        vector.eq(p.vector),
                        mode.eq(p.delivery_mode),
                        trigger.eq(p.trigger),
                        level.eq(p.level),
                    ]

        m.d.comb += drop.eq((src == 1) & (self.msi.addr[20:32] != MSI_ADDR_PREFIX))

        # Destination matching, per LAPIC (KVM kvm_apic_match_dest, module docstring).
        # Each source's targets are matched in parallel, straight from its own
        # port, and the round robin's grant only picks one of those results:
        # the 32-bit compares are then off the path from the grant (timing;
        # iCE40 Fmax). Only the first cycle of a message uses them (``targets``
        # is frozen into ``held_tgt``), when ``src`` is ``rr_grant``.
        matched = Signal(n)
        enabled = Cat(s.enabled for s in self.lapic)
        io, msi = self.ioapic, self.msi
        per_src: list[Signal] = [
            self._match(m, "ioapic", dest=io.dest, dest_mode=io.dest_mode),
            self._match(m, "msi", dest=msi.addr[12:20], dest_mode=msi.addr[2]),
        ]
        for i, p in enumerate(self.ipi):
            per_src.append(
                self._match(m, f"ipi{i}", dest=p.dest, dest_mode=p.dest_mode, shorthand=p.shorthand, sender=i)
            )
        with m.Switch(rr_grant):
            for k, mk in enumerate(per_src):
                with m.Case(k):
                    m.d.comb += matched.eq(mk)

        # Lowest priority: the eligible LAPICs of lowest arb_priority, then round robin.
        eligible = Signal(n)
        lowest = Signal(n)
        m.d.comb += eligible.eq(matched & enabled)
        for i in range(n):
            beats_all = Const(1)
            for j in range(n):
                if j != i:
                    pi, pj = self.lapic[i].arb_priority, self.lapic[j].arb_priority
                    beats_all = beats_all & (~eligible[j] | (pi <= pj))
            m.d.comb += lowest[i].eq(eligible[i] & beats_all)
        lp_grant, lp_any = round_robin(m, lowest, lp_last, name="lowest")
        lp_onehot = Signal(n)
        for i in range(n):
            m.d.comb += lp_onehot[i].eq(lp_any & (lp_grant == i))

        targets = Signal(n)
        init_deassert = (mode == DM_INIT) & ~level & trigger
        with m.If(drop | init_deassert | (mode == DM_REMOTE_READ)):
            m.d.comb += targets.eq(0)
        with m.Elif(mode == DM_FIXED):
            m.d.comb += targets.eq(eligible)
        with m.Elif(mode == DM_LOWEST):
            m.d.comb += targets.eq(lp_onehot)
        with m.Else():
            m.d.comb += targets.eq(matched)

        # Delivery, tracked per target.
        pending = Signal(n)
        accepted = Signal(n)
        complete = Signal()
        m.d.comb += pending.eq(Mux(busy, held_tgt & ~done, targets))
        for i, out in enumerate(self.msg):
            m.d.comb += [
                out.valid.eq(active & pending[i]),
                out.vector.eq(vector),
                out.delivery_mode.eq(mode),
                out.trigger.eq(trigger),
                out.level.eq(level),
                accepted[i].eq(out.valid & out.ready),
            ]
        m.d.comb += complete.eq(active & ((pending & ~accepted) == 0))
        for k, port in enumerate([self.ioapic, self.msi, *self.ipi]):
            m.d.comb += port.ready.eq(complete & (src == k))

        with m.If(~busy & rr_any):
            # First cycle of a message: the round robins move on.
            m.d.sync += src_last.eq(rr_grant)
            with m.If(~drop & (mode == DM_LOWEST) & lp_any):
                m.d.sync += lp_last.eq(lp_grant)
        with m.If(complete):
            m.d.sync += [busy.eq(0), done.eq(0)]
        with m.Elif(active):
            m.d.sync += [busy.eq(1), held_src.eq(src), done.eq(done | accepted)]
            with m.If(~busy):
                m.d.sync += held_tgt.eq(targets)


    def _match(
        self,
        m: Module,
        name: str,
        *,
        dest: Value,
        dest_mode: Value,
        shorthand: Value | None = None,
        sender: int | None = None,
    ) -> Signal:
        """The LAPICs one source's message is for (module docstring, Destination).

        ``shorthand``/``sender`` only for an IPI port (``sender`` its index);
        ``dest`` of an IO-APIC message or MSI is 8 bits, whose 0xFF is a
        broadcast for x2APIC receivers too (KVM kvm_apic_mda); an IPI's 32-bit
        destination is taken as is.
        """
        n = self._n
        is_ipi = sender is not None
        d = dest if len(dest) == 32 else Cat(dest, Const(0, 32 - len(dest)))
        bcast_xapic = Signal(name=f"{name}_bcast_xapic")
        bcast_x2apic = Signal(name=f"{name}_bcast_x2apic")
        m.d.comb += [
            bcast_xapic.eq(d == BROADCAST),
            bcast_x2apic.eq((d == X2APIC_BROADCAST) if is_ipi else (d == BROADCAST)),
        ]
        matched = Signal(n, name=f"{name}_matched")
        for i, st in enumerate(self.lapic):
            logical_id = st.ldr[24:32]
            bcast = Mux(st.x2apic, bcast_x2apic, bcast_xapic)
            physical = bcast | (st.apic_id == d)
            flat = (d[0:8] & logical_id).any()
            cluster = (d[4:8] == logical_id[4:8]) & (d[0:4] & logical_id[0:4]).any()
            if len(dest) > 8:
                cluster = cluster & (d[8:32] == 0)
            xapic_logical = Mux(st.dfr_model == DFR_FLAT, flat, Mux(st.dfr_model == DFR_CLUSTER, cluster, 0))
            x2apic_logical = (d[16:32] == st.ldr[16:32]) & (d[0:16] & st.ldr[0:16]).any()
            logical = bcast | Mux(st.x2apic, x2apic_logical, xapic_logical)
            addressed = Mux(dest_mode, logical, physical)
            if shorthand is None:
                m.d.comb += matched[i].eq(addressed)
                continue
            with m.Switch(shorthand):
                with m.Case(SH_NONE):
                    m.d.comb += matched[i].eq(addressed)
                with m.Case(SH_SELF):
                    m.d.comb += matched[i].eq(int(sender == i))
                with m.Case(SH_ALL_INCL):
                    m.d.comb += matched[i].eq(1)
                with m.Case(SH_ALL_EXCL):
                    m.d.comb += matched[i].eq(int(sender != i))
        return matched

    # ------------------------------------------------------------------ EOI

    def _elaborate_eoi(self, m: Module) -> None:
        n = self._n
        held = [Signal(name=f"eoi_held_{i}") for i in range(n)]
        held_vec = [Signal(8, name=f"eoi_held_vector_{i}") for i in range(n)]
        last = Signal(range(max(n, 2)), init=n - 1, name="eoi_last")
        # Named intermediates: Amaranth's backend would otherwise keep unused
        # copies of the inlined expressions (Verilator UNUSEDSIGNAL).
        want = Signal(n, name="eoi_want")
        m.d.comb += want.eq(Cat(held[i] | e.valid for i, e in enumerate(self.eoi)))
        grant, some = round_robin(m, want, last, name="eoi")

        out = self.ioapic_eoi
        m.d.comb += out.valid.eq(want.any())
        with m.If(some):
            m.d.sync += last.eq(grant)
        for i, e in enumerate(self.eoi):
            mine = Signal(name=f"eoi_mine_{i}")
            arrive = Signal(name=f"eoi_arrive_{i}")
            m.d.comb += [mine.eq(some & (grant == i)), arrive.eq(e.valid & ~held[i])]
            with m.If(mine):
                m.d.comb += out.vector.eq(Mux(held[i], held_vec[i], e.vector))
                # The held EOI leaves; a new one takes its place.
                m.d.sync += [held[i].eq(held[i] & e.valid), held_vec[i].eq(e.vector)]
            with m.Elif(arrive):
                m.d.sync += [held[i].eq(1), held_vec[i].eq(e.vector)]
            # A new EOI while one waits unserved: equal vectors merge; a
            # different one is lost (see the module docstring for why that
            # cannot happen on the platform).


def top(spec: Spec) -> Router:
    """The router for the platform of ``spec`` (one LAPIC per CPU)."""
    return Router(spec.platform.ncpus)
