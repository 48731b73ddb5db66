"""x2APIC destinations in the interrupt router (hw/router.py) and its model
(sim/models/router.py), in Amaranth's simulator.

Expected targets are written out by hand from the SDM and KVM, and both the
RTL and the model must give them:

- SDM 10.12.9 (ICR in x2APIC mode: a 32-bit destination, 0xFFFFFFFF the
  broadcast) and 10.12.10 (logical x2APIC ID: cluster ID[31:4] in LDR[31:16],
  member bit 1 << ID[3:0] in LDR[15:0]; only cluster logical mode);
- KVM ``kvm_apic_match_dest`` / ``kvm_apic_match_physical_addr`` /
  ``kvm_apic_match_logical_addr`` (each receiver matches in its own mode) and
  ``kvm_apic_mda`` (an IO-APIC message's or MSI's 0xFF is a broadcast for an
  x2APIC receiver; an IPI's 0xFF is not);
- Linux ``x2apic_cluster.c`` (``x2apic_prepare_cpu``: the LDR a CPU reads) and
  kvm-unit-tests ``x2apic`` / ``apic.c`` (``test_self_ipi_x2apic``, the
  physical broadcast tests) for the shapes of the messages.

A randomised test mixes xAPIC and x2APIC LAPICs (mixed systems as KVM) and
checks RTL against model message by message, as tests/hw/test_router.py does
for xAPIC.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from amaranth.sim import Simulator

from irqforge.hw.router import Router
from irqforge.sim.models.messages import DeliveryMode, DestMode, Interrupt, IoApicMessage, Ipi, Msi, Shorthand, Trigger
from irqforge.sim.models.router import SOURCE_IOAPIC, SOURCE_MSI, RouterModel, source_ipi

FLAT, CLUSTER = 0xF, 0x0
X2_BROADCAST = 0xFFFF_FFFF


def x2apic_ldr(apic_id: int) -> int:
    """The LDR of an x2APIC-mode LAPIC (SDM 10.12.10.2: ``(ID[19:4] << 16) | (1 << ID[3:0])``;
    KVM ``kvm_apic_calc_x2apic_ldr``): the cluster in 31:16, the member bit in 15:0."""
    return ((apic_id >> 4) & 0xFFFF) << 16 | 1 << (apic_id & 0xF)


@dataclass
class Lapic:
    """A LAPIC's router-visible state, xAPIC or x2APIC mode."""

    apic_id: int
    ldr: int = 0
    dfr_model: int = FLAT
    arb_priority: int = 0
    enabled: bool = True
    x2apic: bool = False


def x2(apic_id: int, **kw: Any) -> Lapic:
    """An x2APIC-mode LAPIC with its derived LDR."""
    return Lapic(apic_id, ldr=x2apic_ldr(apic_id), x2apic=True, **kw)


def run(dut: Router, bench: Callable[[Any], Coroutine[Any, Any, None]]) -> None:
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def set_lapics(ctx: Any, dut: Router, lapics: Sequence[Lapic]) -> None:
    for port, st in zip(dut.lapic, lapics, strict=True):
        ctx.set(port.apic_id, st.apic_id)
        ctx.set(port.ldr, st.ldr)
        ctx.set(port.dfr_model, st.dfr_model)
        ctx.set(port.arb_priority, st.arb_priority)
        ctx.set(port.enabled, int(st.enabled))
        ctx.set(port.x2apic, int(st.x2apic))


def port_of(dut: Router, source: int) -> Any:
    return dut.ioapic if source == SOURCE_IOAPIC else dut.msi if source == SOURCE_MSI else dut.ipi[source - 2]


def drive(ctx: Any, dut: Router, source: int, msg: IoApicMessage | Msi | Ipi | None) -> None:
    port = port_of(dut, source)
    ctx.set(port.valid, int(msg is not None))
    if msg is None:
        return
    if isinstance(msg, Msi):
        ctx.set(port.addr, msg.addr)
        ctx.set(port.data, msg.data)
        return
    ctx.set(port.vector, msg.vector)
    ctx.set(port.delivery_mode, msg.delivery_mode)
    ctx.set(port.dest_mode, msg.dest_mode)
    ctx.set(port.dest, msg.dest)
    ctx.set(port.trigger, msg.trigger)
    if isinstance(msg, Ipi):
        ctx.set(port.shorthand, msg.shorthand)
        ctx.set(port.level, msg.level)
        ctx.set(port.source, msg.source & 0xFF)


def read_msg(ctx: Any, dut: Router, i: int) -> Interrupt:
    out = dut.msg[i]
    return Interrupt(vector=ctx.get(out.vector), delivery_mode=DeliveryMode(ctx.get(out.delivery_mode)),
                     trigger=Trigger(ctx.get(out.trigger)), level=ctx.get(out.level))


def ipi(dest: int, *, mode: DeliveryMode = DeliveryMode.FIXED, logical: bool = False,
        shorthand: Shorthand = Shorthand.NONE, vector: int = 0x40) -> Ipi:
    return Ipi(vector, mode, DestMode(int(logical)), dest, shorthand, Trigger.EDGE, 1, 0)


def ioapic(dest: int, *, logical: bool = False, mode: DeliveryMode = DeliveryMode.FIXED) -> IoApicMessage:
    return IoApicMessage(0x31, mode, DestMode(int(logical)), dest, Trigger.EDGE)


def msi(dest: int, *, logical: bool = False) -> Msi:
    return Msi(0xFEE << 20 | dest << 12 | int(logical) << 2, 0x0042)


Case = tuple[int, IoApicMessage | Msi | Ipi, list[int]]


def check_targets(lapics: list[Lapic], cases: list[Case]) -> None:
    """Each case (source, message, expected targets): the RTL and the model must both
    deliver to exactly those LAPICs, in the cycle the message is valid."""
    dut = Router(len(lapics))
    model = RouterModel(len(lapics), lapics)

    async def bench(ctx: Any) -> None:
        set_lapics(ctx, dut, lapics)
        for out in dut.msg:
            ctx.set(out.ready, 1)
        for source, msg, expected in cases:
            sender = source - 2 if source >= 2 else None
            want = [i for i, _ in model.route(msg, sender)]
            assert want == expected, f"model: {msg} -> {want}, expected {expected}"
            drive(ctx, dut, source, msg)
            got = [i for i, out in enumerate(dut.msg) if ctx.get(out.valid)]
            ready = ctx.get(port_of(dut, source).ready)
            assert got == expected, f"RTL: {msg} -> {got}, expected {expected}"
            assert ready, f"RTL: {msg} not taken in the cycle it was valid"
            await ctx.tick()
            drive(ctx, dut, source, None)

    run(dut, bench)


# ---------------------------------------------------------------------- physical


def test_x2apic_physical_32bit_ids_and_broadcast() -> None:
    """SDM 10.12.9, KVM kvm_apic_match_physical_addr: the whole 32-bit ID is compared;
    0xFFFFFFFF is the broadcast; an IPI's 0xFF is not a broadcast in x2APIC mode
    (it is the ID 0xFF)."""
    lapics = [x2(0), x2(0x100), x2(0x12345678), x2(0xFF)]
    cases: list[Case] = [
        (source_ipi(0), ipi(0x100), [1]),
        (source_ipi(0), ipi(0x12345678), [2]),
        (source_ipi(1), ipi(0), [0]),
        (source_ipi(1), ipi(0x78), []),  # only the low byte of 0x12345678: nobody
        (source_ipi(1), ipi(0x10000100), []),
        (source_ipi(0), ipi(X2_BROADCAST), [0, 1, 2, 3]),
        (source_ipi(0), ipi(0xFF), [3]),
        (source_ipi(2), ipi(X2_BROADCAST, mode=DeliveryMode.NMI), [0, 1, 2, 3]),
    ]
    check_targets(lapics, cases)


def test_x2apic_physical_aliased_ids() -> None:
    """Two LAPICs with the same 32-bit ID both take a physical message to it (as KUT's
    aliased-ID test for xAPIC); ``self`` still means only the sender."""
    lapics = [x2(0x20000), x2(0x20000), x2(3)]
    check_targets(lapics, [
        (source_ipi(2), ipi(0x20000), [0, 1]),
        (source_ipi(1), ipi(0, shorthand=Shorthand.SELF), [1]),
        (source_ipi(1), ipi(0, shorthand=Shorthand.ALL_EXCL), [0, 2]),
        (source_ipi(1), ipi(0, shorthand=Shorthand.ALL_INCL), [0, 1, 2]),
    ])


def test_ioapic_and_msi_broadcast_reaches_x2apic_receivers() -> None:
    """KVM kvm_apic_mda: an IO-APIC message's or MSI's 8-bit 0xFF is rewritten to
    0xFFFFFFFF for an x2APIC receiver (physical and logical); their other 8-bit
    destinations match the 32-bit ID (physical) or cluster 0 (logical)."""
    lapics = [x2(0), x2(0x35), x2(5)]
    cases: list[Case] = [
        (SOURCE_IOAPIC, ioapic(0xFF), [0, 1, 2]),
        (SOURCE_IOAPIC, ioapic(0xFF, logical=True), [0, 1, 2]),
        (SOURCE_MSI, msi(0xFF), [0, 1, 2]),
        (SOURCE_MSI, msi(0xFF, logical=True), [0, 1, 2]),
        (SOURCE_IOAPIC, ioapic(0x35), [1]),
        (SOURCE_MSI, msi(5), [2]),
        # Logical 8-bit: cluster 0 (dest[31:16] = 0), members dest[7:0]: IDs 0 (bit 0) and 5 (bit 5).
        (SOURCE_IOAPIC, ioapic(0x21, logical=True), [0, 2]),
        (SOURCE_MSI, msi(0x20, logical=True), [2]),
        # ID 0x35 is cluster 3: no 8-bit logical destination reaches it but the broadcast.
        (SOURCE_IOAPIC, ioapic(0x20, logical=True), [2]),
    ]
    check_targets(lapics, cases)


# ---------------------------------------------------------------------- logical


def test_x2apic_logical_cluster() -> None:
    """SDM 10.12.10, KVM kvm_apic_match_logical_addr (x2APIC): dest[31:16] selects the
    cluster (ID[31:4]), dest[15:0] the members (bit ID[3:0]); one, several, none."""
    ids = [0x00, 0x01, 0x0F, 0x10, 0x1E, 0x12345]
    lapics = [x2(i) for i in ids]
    cases: list[Case] = [
        (source_ipi(0), ipi(0x0000_0002, logical=True), [1]),
        (source_ipi(0), ipi(0x0000_8003, logical=True), [0, 1, 2]),
        (source_ipi(0), ipi(0x0001_0001, logical=True), [3]),
        (source_ipi(0), ipi(0x0001_4001, logical=True), [3, 4]),
        (source_ipi(0), ipi(0x1234_0020, logical=True), [5]),
        (source_ipi(0), ipi(0x1234_FFDF, logical=True), []),  # cluster 0x1234, member 5 missing
        (source_ipi(0), ipi(0x0002_FFFF, logical=True), []),  # an empty cluster
        (source_ipi(0), ipi(0x0001_0000, logical=True), []),  # no member bit
        (source_ipi(0), ipi(X2_BROADCAST, logical=True), [0, 1, 2, 3, 4, 5]),
        # An IPI's 8-bit 0xFF in x2APIC logical mode: cluster 0, members 0-7 (no broadcast).
        (source_ipi(0), ipi(0xFF, logical=True), [0, 1]),
    ]
    check_targets(lapics, cases)


def test_x2apic_ignores_dfr_model() -> None:
    """There is no DFR in x2APIC mode (SDM 10.12.10.2): whatever ``dfr_model`` says, the
    cluster rule applies."""
    lapics = [Lapic(1, ldr=x2apic_ldr(1), dfr_model=m, x2apic=True) for m in (FLAT, CLUSTER, 0x5)]
    check_targets(lapics, [(source_ipi(0), ipi(0x0000_0002, logical=True), [0, 1, 2]),
                           (source_ipi(0), ipi(0x0000_0001, logical=True), [])])


def test_lowest_priority_in_an_x2apic_cluster() -> None:
    """Lowest priority keeps working in x2APIC mode: one target of the cluster's members,
    the lowest arbitration priority, ties in turn (KVM kvm_irq_delivery_to_apic)."""
    lapics = [x2(0x10, arb_priority=0x20), x2(0x11, arb_priority=0x10), x2(0x12, arb_priority=0x10), x2(0x20)]
    lp = ipi(0x0001_0007, logical=True, mode=DeliveryMode.LOWEST)
    check_targets(lapics, [(source_ipi(3), lp, [1]), (source_ipi(3), lp, [2]), (source_ipi(3), lp, [1]),
                           (source_ipi(0), ipi(X2_BROADCAST, mode=DeliveryMode.LOWEST), [3])])


# ---------------------------------------------------------------------- mixed


def test_mixed_xapic_and_x2apic_receivers() -> None:
    """A mixed system follows KVM kvm_apic_match_dest, each receiver in its own mode:
    an xAPIC sender's 0xFF is the xAPIC receivers' broadcast only; an x2APIC sender's
    physical 0xFFFFFFFF the x2APIC receivers' only; no physical destination above 0xFF
    reaches an xAPIC LAPIC (KVM: no aliasing of dest & 0xFF); an IO-APIC 0xFF reaches
    everyone."""
    lapics = [
        Lapic(0, ldr=0x01 << 24),                    # xAPIC, flat, logical bit 0
        Lapic(1, ldr=0x12 << 24, dfr_model=CLUSTER),  # xAPIC, cluster 1 member 1
        x2(0),                                        # x2APIC, cluster 0 member bit 0
        x2(0xFF),                                     # x2APIC, ID 0xFF: cluster 0xF, bit 15
    ]
    cases: list[Case] = [
        (source_ipi(0), ipi(0xFF), [0, 1, 3]),           # xAPIC broadcast; x2APIC ID 0xFF by ID
        (source_ipi(2), ipi(X2_BROADCAST), [2, 3]),
        (source_ipi(2), ipi(0x100), []),
        (source_ipi(2), ipi(0x101), []),                   # no aliasing onto xAPIC ID 1
        (source_ipi(2), ipi(0), [0, 2]),                   # 32-bit 0: xAPIC ID 0 and x2APIC ID 0
        (SOURCE_IOAPIC, ioapic(0xFF), [0, 1, 2, 3]),
        (SOURCE_MSI, msi(0xFF, logical=True), [0, 1, 2, 3]),
        # Logical from an xAPIC sender, 0x01: flat bit 0 (LAPIC 0) and x2APIC cluster 0 bit 0.
        (source_ipi(0), ipi(0x01, logical=True), [0, 2]),
        # Logical 0xFF from an xAPIC sender: xAPIC broadcast, x2APIC cluster 0 members 0-7.
        (source_ipi(0), ipi(0xFF, logical=True), [0, 1, 2]),
        # Logical from an x2APIC sender: KVM's flat rule uses mda[7:0] (0x0001_0001 hits
        # LAPIC 0's bit 0), the xAPIC cluster rule needs mda[31:8] == 0.
        (source_ipi(2), ipi(0x0001_0001, logical=True), [0]),
        (source_ipi(2), ipi(0x12, logical=True), [1]),
        (source_ipi(2), ipi(0x0001_0013, logical=True), [0]),  # not LAPIC 1: mda[31:8] != 0
        (source_ipi(3), ipi(0x000F_8000, logical=True), [3]),
        # The x2APIC logical broadcast: the x2APIC receivers, and by KVM's flat rule
        # (mda[7:0] & logical ID) the flat xAPIC receiver; not the cluster one.
        (source_ipi(3), ipi(X2_BROADCAST, logical=True), [0, 2, 3]),
        # Shorthands do not look at modes.
        (source_ipi(1), ipi(0, shorthand=Shorthand.ALL_EXCL), [0, 2, 3]),
        (source_ipi(3), ipi(0, shorthand=Shorthand.SELF), [3]),
    ]
    check_targets(lapics, cases)


def test_xapic_behaviour_unchanged_by_a_32bit_port() -> None:
    """All LAPICs in xAPIC mode: 8-bit destinations work exactly as before (0xFF broadcast,
    flat and cluster logical), whatever the zero upper bits of the 32-bit port."""
    lapics = [Lapic(0, ldr=0x01 << 24), Lapic(7, ldr=0x02 << 24)]
    check_targets(lapics, [
        (source_ipi(0), ipi(7), [1]),
        (source_ipi(0), ipi(0xFF), [0, 1]),
        (source_ipi(0), ipi(0xFF, logical=True), [0, 1]),
        (source_ipi(0), ipi(0x03, logical=True), [0, 1]),
        (SOURCE_IOAPIC, ioapic(0xFF), [0, 1]),
        (source_ipi(0), ipi(X2_BROADCAST), []),  # not an xAPIC broadcast (KVM kvm_apic_broadcast)
    ])


# ---------------------------------------------------------------------- random


def random_x2_lapics(rng: random.Random, n: int) -> list[Lapic]:
    """States for ``n`` LAPICs: all xAPIC, all x2APIC, or mixed; IDs that collide often."""
    shape = rng.choice(["xapic", "x2apic", "x2apic", "mixed"])
    out = []
    for _ in range(n):
        x2mode = shape == "x2apic" or (shape == "mixed" and rng.random() < 0.5)
        if x2mode:
            apic_id = rng.choice([rng.randrange(16), rng.randrange(48), 0xFF, rng.randrange(1 << 32), X2_BROADCAST])
            out.append(x2(apic_id, arb_priority=rng.choice([0, 0x10, rng.randrange(256)]),
                          enabled=rng.random() < 0.85, dfr_model=rng.randrange(16)))
        else:
            ldr = rng.choice([1 << rng.randrange(8), rng.randrange(256), rng.randrange(4) << 4 | 1 << rng.randrange(4)])
            apic_id = rng.choice([rng.randrange(256), rng.randrange(4), 0xFF])
            out.append(Lapic(apic_id, ldr << 24 | rng.randrange(1 << 24),
                             rng.choice([FLAT, CLUSTER, rng.randrange(16)]), rng.choice([0, 0x10, rng.randrange(256)]),
                             rng.random() < 0.85))
    return out


def random_x2_dest(rng: random.Random, lapics: list[Lapic], wide: bool) -> int:
    """A destination aimed at the LAPICs: IDs, LDR clusters with member masks, broadcasts."""
    st = rng.choice(lapics)
    pick = [0xFF, rng.randrange(256), st.apic_id & (0xFFFF_FFFF if wide else 0xFF), (st.ldr >> 24)]
    if wide:
        pick += [X2_BROADCAST, st.ldr, (st.ldr & 0xFFFF_0000) | rng.randrange(1 << 16), rng.randrange(1 << 32)]
    return rng.choice(pick)


def random_x2_message(rng: random.Random, source: int, lapics: list[Lapic]) -> IoApicMessage | Msi | Ipi:
    modes = [0, 0, 1, 1, 2, 3, 4, 5, 6, 7]
    vector = rng.randrange(256)
    if source == SOURCE_MSI:
        dest = random_x2_dest(rng, lapics, wide=False)
        addr = 0xFEE << 20 | dest << 12 | rng.randrange(2) << 3 | rng.randrange(2) << 2
        return Msi(addr, rng.randrange(2) << 15 | rng.randrange(2) << 14 | rng.choice(modes) << 8 | vector)
    if source == SOURCE_IOAPIC:
        return IoApicMessage(vector, DeliveryMode(rng.choice(modes)), DestMode(rng.randrange(2)),
                             random_x2_dest(rng, lapics, wide=False), Trigger(rng.randrange(2)))
    sender = lapics[source - 2]
    # The sender's mode decides the destination's width (ICR[63:32] or ICR2[31:24]).
    return Ipi(vector, rng.choice(modes), DestMode(rng.randrange(2)),  # type: ignore[arg-type]
               random_x2_dest(rng, lapics, wide=sender.x2apic), Shorthand(rng.choice([0, 0, 0, 1, 2, 3])),
               Trigger(rng.randrange(2)), rng.randrange(2), sender.apic_id & 0xFF)


@pytest.mark.parametrize(("n", "seed"), [(2, 21), (3, 22), (4, 23)])
def test_random_x2apic_traffic_matches_model(n: int, seed: int) -> None:
    """Random x2APIC, xAPIC and mixed LAPIC states, messages on every source, random
    back-pressure: the RTL serves the model's source and delivers the model's targets."""
    rng = random.Random(seed)
    dut = Router(n)
    model = RouterModel(n)
    nsrc = n + 2

    async def bench(ctx: Any) -> None:
        served = hits = 0
        for _ in range(8):
            lapics = random_x2_lapics(rng, n)
            model.lapics = lapics
            set_lapics(ctx, dut, lapics)
            queues = [[random_x2_message(rng, s, lapics) for _ in range(rng.randrange(8))] for s in range(nsrc)]
            ready_p = rng.choice([1.0, 0.6])
            starting = True
            delivered: dict[int, Interrupt] = {}
            expected: int | None = None
            for _cycle in range(2000):
                if not any(queues):
                    break
                for s in range(nsrc):
                    drive(ctx, dut, s, queues[s][0] if queues[s] else None)
                if starting:
                    expected = model.arbitrate(s for s in range(nsrc) if queues[s])
                    starting = False
                for out in dut.msg:
                    ctx.set(out.ready, int(rng.random() < ready_p))
                for i, out in enumerate(dut.msg):
                    if ctx.get(out.valid) and ctx.get(out.ready):
                        assert i not in delivered, f"LAPIC {i} got the message twice"
                        delivered[i] = read_msg(ctx, dut, i)
                readies = [s for s in range(nsrc) if ctx.get(port_of(dut, s).ready)]
                if readies:
                    assert expected is not None and readies == [expected], f"served {readies}, model {expected}"
                    msg = queues[expected].pop(0)
                    want = model.route(msg, expected - 2 if expected >= 2 else None)
                    got = sorted(delivered.items())
                    assert got == want, f"{msg} with {lapics}: RTL {got}, model {want}"
                    hits += bool(want)
                    delivered, starting = {}, True
                    served += 1
                await ctx.tick()
            assert not any(queues), "the router stopped serving"
        assert served > 30 and hits > 10, (served, hits)

    run(dut, bench)
