"""cocotb bench for ``irqforge_router``: random traffic against :class:`RouterModel`.

Run through :func:`irqforge.sim.runner.build_and_test` with the test module
``"irqforge.sim.benches.router_bench"`` and toplevel ``"irqforge_router"``
(``irqforge regress --suites router`` does).

Every source (IO-APIC, MSI, each LAPIC's IPI port) gets queues of random
messages while the LAPIC states (APIC ID, LDR, DFR model, arbitration
priority, enabled) change between batches and each LAPIC's ``msg_in``
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

__all__ = ["LapicState", "random_traffic"]

FLAT, CLUSTER = 0xF, 0x0


class LapicState:
    """A LAPIC's router-visible state."""

    def __init__(self, apic_id: int, ldr: int, dfr_model: int, arb_priority: int, enabled: bool) -> None:
        self.apic_id, self.ldr, self.dfr_model = apic_id, ldr, dfr_model
        self.arb_priority, self.enabled = arb_priority, enabled


def _lapics(rng: random.Random, n: int) -> list[LapicState]:
    ids = [rng.choice([rng.randrange(256), rng.randrange(4), 0xFF, k]) for k in range(n)]
    out = []
    for k in range(n):
        model = rng.choice([FLAT, FLAT, CLUSTER, rng.randrange(16)])
        ldr = rng.choice([1 << rng.randrange(8), rng.randrange(256), rng.randrange(4) << 4 | 1 << rng.randrange(4)])
        out.append(LapicState(ids[k], ldr << 24 | rng.randrange(1 << 24), model,
                              rng.choice([0, 0x10, 0x10, rng.randrange(256)]), rng.random() < 0.85))
    return out


def _message(rng: random.Random, source: int, lapics: list[LapicState]) -> IoApicMessage | Msi | Ipi:
    modes = [0, 0, 1, 1, 2, 3, 4, 5, 6, 7]
    dest = rng.choice([0xFF, rng.randrange(256), rng.choice(lapics).apic_id, rng.choice(lapics).ldr >> 24])
    vector = rng.randrange(256)
    if source == SOURCE_MSI:
        prefix = 0xFEE if rng.random() < 0.9 else rng.randrange(0x1000)
        addr = prefix << 20 | dest << 12 | rng.randrange(2) << 3 | rng.randrange(2) << 2 | rng.randrange(4)
        return Msi(addr, rng.randrange(2) << 15 | rng.randrange(2) << 14 | rng.choice(modes) << 8 | vector)
    if source == SOURCE_IOAPIC:
        return IoApicMessage(vector, DeliveryMode(rng.choice(modes)), DestMode(rng.randrange(2)), dest,
                             Trigger(rng.randrange(2)))
    return Ipi(vector, DeliveryMode(rng.choice(modes)), DestMode(rng.randrange(2)), dest, Shorthand(rng.randrange(4)),
               Trigger(rng.randrange(2)), rng.randrange(2), lapics[source - 2].apic_id)


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


def _sample(cov: coverage.Coverage | None, source: int, msg: IoApicMessage | Msi | Ipi, targets: int) -> None:
    if cov is None:
        return
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
    cycle = served = 0
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
                    _sample(cov, expected, msg, len(want))
                    delivered, starting, stuck = {}, True, 0
                    served += 1
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
    dut._log.info("router random_traffic seed %d: %d messages in %d cycles", seed, served, cycle)
