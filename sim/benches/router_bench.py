"""cocotb bench for ``irqforge_router``: random traffic against :class:`RouterModel`.

Run through :func:`irqforge.sim.runner.build_and_test` with the test module
``"irqforge.sim.benches.router_bench"`` and toplevel ``"irqforge_router"``
(``irqforge regress --suites router`` does).

Every source (IO-APIC, MSI, each LAPIC's IPI port) gets queues of random
messages while the LAPIC states (APIC ID, LDR, DFR model, arbitration
priority, enabled, x2APIC mode: all xAPIC, all x2APIC with 32-bit IDs and
derived LDRs, or mixed) change between batches (an x2APIC sender's IPIs
carry 32-bit destinations) and each LAPIC's ``msg_in``
back-pressure is random. Inputs change in the middle of a cycle (falling
edge); in the read-only phase of each cycle the bench checks, as the
Amaranth-simulator test ``tests/hw/test_router.py`` does: the source served
is the one the model's round robin names, and the LAPICs that took the
message are exactly the model's targets with the model's payload, each once.

Knobs: ``IRQFORGE_SEED`` (default cocotb's seed), ``IRQFORGE_RANDOM_CYCLES``
(default 20000), ``IRQFORGE_COVERAGE`` (functional coverage file).
"""

from __future__ import annotations

import os
import random
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly

from irqforge.sim.models import coverage
from irqforge.sim.models.messages import DeliveryMode, DestMode, Interrupt, IoApicMessage, Ipi, Msi, Shorthand, Trigger
from irqforge.sim.models.router import SOURCE_IOAPIC, SOURCE_MSI, RouterModel
from irqforge.spec import load_default

__all__ = ["LapicState", "random_traffic", "x2apic_ldr"]

FLAT, CLUSTER = 0xF, 0x0
X2APIC_BROADCAST = 0xFFFF_FFFF


class LapicState:
    """A LAPIC's router-visible state (xAPIC or x2APIC mode)."""

    def __init__(self, apic_id: int, ldr: int, dfr_model: int, arb_priority: int, enabled: bool,
                 x2apic: bool = False) -> None:
        self.apic_id, self.ldr, self.dfr_model = apic_id, ldr, dfr_model
        self.arb_priority, self.enabled, self.x2apic = arb_priority, enabled, x2apic


def x2apic_ldr(apic_id: int) -> int:
    """An x2APIC LAPIC's LDR (SDM 10.12.10.2): ID[19:4] in 31:16, bit ID[3:0] in 15:0."""
    return ((apic_id >> 4) & 0xFFFF) << 16 | 1 << (apic_id & 0xF)


def _lapics(rng: random.Random, n: int) -> list[LapicState]:
    """All xAPIC (the bench's original states), all x2APIC, or mixed (as KVM matches them)."""
    shape = rng.choice(["xapic", "xapic", "x2apic", "mixed"])
    ids = [rng.choice([rng.randrange(256), rng.randrange(4), 0xFF, k]) for k in range(n)]
    out = []
    for k in range(n):
        if shape == "x2apic" or (shape == "mixed" and rng.random() < 0.5):
            x2id = rng.choice([ids[k], rng.randrange(48), rng.randrange(1 << 32), X2APIC_BROADCAST])
            out.append(LapicState(x2id, x2apic_ldr(x2id), rng.randrange(16),
                                  rng.choice([0, 0x10, 0x10, rng.randrange(256)]), rng.random() < 0.85, True))
            continue
        model = rng.choice([FLAT, FLAT, CLUSTER, rng.randrange(16)])
        ldr = rng.choice([1 << rng.randrange(8), rng.randrange(256), rng.randrange(4) << 4 | 1 << rng.randrange(4)])
        out.append(LapicState(ids[k], ldr << 24 | rng.randrange(1 << 24), model,
                              rng.choice([0, 0x10, 0x10, rng.randrange(256)]), rng.random() < 0.85))
    return out


def _dest(rng: random.Random, lapics: list[LapicState], wide: bool) -> int:
    """An 8-bit destination, or a 32-bit one (an x2APIC sender's) aimed at the LAPICs."""
    st = rng.choice(lapics)
    pick = [0xFF, rng.randrange(256), rng.choice(lapics).apic_id & 0xFF, rng.choice(lapics).ldr >> 24 & 0xFF]
    if wide:
        pick += [X2APIC_BROADCAST, st.apic_id, st.ldr, (st.ldr & 0xFFFF_0000) | rng.randrange(1 << 16),
                 rng.randrange(1 << 32)]
    return rng.choice(pick)


def _message(rng: random.Random, source: int, lapics: list[LapicState]) -> IoApicMessage | Msi | Ipi:
    modes = [0, 0, 1, 1, 2, 3, 4, 5, 6, 7]
    vector = rng.randrange(256)
    if source == SOURCE_MSI:
        dest = _dest(rng, lapics, False)
        prefix = 0xFEE if rng.random() < 0.9 else rng.randrange(0x1000)
        addr = prefix << 20 | dest << 12 | rng.randrange(2) << 3 | rng.randrange(2) << 2 | rng.randrange(4)
        return Msi(addr, rng.randrange(2) << 15 | rng.randrange(2) << 14 | rng.choice(modes) << 8 | vector)
    if source == SOURCE_IOAPIC:
        return IoApicMessage(vector, DeliveryMode(rng.choice(modes)), DestMode(rng.randrange(2)),
                             _dest(rng, lapics, False), Trigger(rng.randrange(2)))
    sender = lapics[source - 2]
    # The sender's mode sets the destination's width: ICR[63:32] or ICR2[31:24].
    return Ipi(vector, DeliveryMode(rng.choice(modes)), DestMode(rng.randrange(2)), _dest(rng, lapics, sender.x2apic),
               Shorthand(rng.randrange(4)), Trigger(rng.randrange(2)), rng.randrange(2), sender.apic_id & 0xFF)


def _port(dut: Any, source: int) -> str:
    return "ioapic" if source == SOURCE_IOAPIC else "msi" if source == SOURCE_MSI else f"ipi__{source - 2}"


def _drive(dut: Any, source: int, msg: IoApicMessage | Msi | Ipi | None) -> None:
    p = _port(dut, source)
    if msg is None:
        getattr(dut, f"{p}__valid").value = 0
        return
    getattr(dut, f"{p}__valid").value = 1
    if isinstance(msg, Msi):
        dut.msi__addr.value = msg.addr
        dut.msi__data.value = msg.data
        return
    values: dict[str, int] = {"vector": msg.vector, "delivery_mode": int(msg.delivery_mode),
                              "dest_mode": int(msg.dest_mode), "dest": msg.dest, "trigger": int(msg.trigger)}
    if isinstance(msg, Ipi):
        values.update(shorthand=int(msg.shorthand), level=msg.level, source=msg.source)
    for name, value in values.items():
        getattr(dut, f"{p}__{name}").value = value


def _set_lapics(dut: Any, lapics: list[LapicState]) -> None:
    for i, st in enumerate(lapics):
        getattr(dut, f"lapic__{i}__apic_id").value = st.apic_id
        getattr(dut, f"lapic__{i}__ldr").value = st.ldr
        getattr(dut, f"lapic__{i}__dfr_model").value = st.dfr_model
        getattr(dut, f"lapic__{i}__arb_priority").value = st.arb_priority
        getattr(dut, f"lapic__{i}__enabled").value = int(st.enabled)
        getattr(dut, f"lapic__{i}__x2apic").value = int(st.x2apic)


def _sample(cov: coverage.Coverage | None, source: int, msg: IoApicMessage | Msi | Ipi, targets: int,
            lapics: list[LapicState]) -> None:
    if cov is None:
        return
    coverage.x2apic_dest(cov, msg, lapics, source - 2 if source >= 2 else None)
    kind = "IOAPIC" if source == SOURCE_IOAPIC else "MSI" if source == SOURCE_MSI else "IPI"
    if isinstance(msg, Ipi) and msg.shorthand != Shorthand.NONE:
        addressing = msg.shorthand.name
    elif isinstance(msg, Msi):
        addressing = "LOGICAL" if msg.addr >> 2 & 1 else "PHYSICAL"
    else:
        addressing = msg.dest_mode.name
    cov.hit("router.route", kind, addressing, "NONE" if not targets else "ONE" if targets == 1 else "MANY")


@cocotb.test()
async def random_traffic(dut: Any) -> None:
    """Random messages on every source, random LAPIC states and back-pressure; checked against the model."""
    seed = int(os.environ.get("IRQFORGE_SEED") or cocotb.RANDOM_SEED)
    budget = int(os.environ.get("IRQFORGE_RANDOM_CYCLES") or 20000)
    spec = load_default()
    cov = coverage.collector(spec) if os.environ.get(coverage.ENV_COVERAGE) else None
    n = spec.platform.ncpus
    rng = random.Random(seed)
    model = RouterModel(n)
    nsrc = n + 2
    for s in range(nsrc):
        _drive(dut, s, None)
    for i in range(n):
        getattr(dut, f"msg__{i}__ready").value = 0
        getattr(dut, f"eoi__{i}__valid").value = 0
    dut.rst.value = 1
    Clock(dut.clk, 10, unit="ns").start()
    await ClockCycles(dut.clk, 3)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    cycle = served = x2_served = 0
    try:
        while cycle < budget:
            lapics = _lapics(rng, n)
            model.lapics = lapics
            _set_lapics(dut, lapics)
            queues = [[_message(rng, s, lapics) for _ in range(rng.randrange(8))] for s in range(nsrc)]
            ready_p = rng.choice([1.0, 0.7, 0.3])
            starting = True
            delivered: dict[int, Interrupt] = {}
            expected: int | None = None
            stuck = 0
            while any(queues):
                for s in range(nsrc):
                    _drive(dut, s, queues[s][0] if queues[s] else None)
                if starting:
                    expected = model.arbitrate(s for s in range(nsrc) if queues[s])
                    starting = False
                for i in range(n):
                    getattr(dut, f"msg__{i}__ready").value = int(rng.random() < ready_p)
                await ReadOnly()
                for i in range(n):
                    if int(getattr(dut, f"msg__{i}__valid").value) and int(getattr(dut, f"msg__{i}__ready").value):
                        assert i not in delivered, f"cycle {cycle}: LAPIC {i} got the message twice"
                        delivered[i] = Interrupt(
                            vector=int(getattr(dut, f"msg__{i}__vector").value),
                            delivery_mode=DeliveryMode(int(getattr(dut, f"msg__{i}__delivery_mode").value)),
                            trigger=Trigger(int(getattr(dut, f"msg__{i}__trigger").value)),
                            level=int(getattr(dut, f"msg__{i}__level").value),
                        )
                readies = [s for s in range(nsrc) if int(getattr(dut, f"{_port(dut, s)}__ready").value)]
                if readies:
                    assert readies == [expected], f"cycle {cycle}: served {readies}, the model says {expected}"
                    assert expected is not None
                    msg = queues[expected].pop(0)
                    want = model.route(msg, expected - 2 if expected >= 2 else None)
                    got = sorted(delivered.items())
                    assert got == want, f"cycle {cycle}: {msg}: RTL delivered {got}, the model {want}"
                    _sample(cov, expected, msg, len(want), lapics)
                    delivered, starting, stuck = {}, True, 0
                    served += 1
                    x2_served += any(st.x2apic for st in lapics)
                else:
                    stuck += 1
                    assert stuck < 200, f"cycle {cycle}: source {expected} not served for 200 cycles"
                await FallingEdge(dut.clk)
                cycle += 1
    except AssertionError as e:
        raise AssertionError(f"{e} [random seed {seed}; rerun with IRQFORGE_SEED={seed}]") from e
    finally:
        coverage.save()
    assert served > 10, f"seed {seed}: only {served} messages served"
    dut._log.info("router random_traffic seed %d: %d messages (%d with x2APIC LAPICs) in %d cycles",
                  seed, served, x2_served, cycle)
