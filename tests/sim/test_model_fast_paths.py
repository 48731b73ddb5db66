"""The reference models' fast paths agree with their step-by-step definitions.

The models are also the ``model`` backend's hardware, so a few paths are
written in closed form for speed: :meth:`IoApicModel.settle` without ticking
when at most one request is raised, the router's fixed/physical IO-APIC
message (and the platform delivering a device pin's message again without
it), the LAPIC's ``apic_id``/``enabled`` kept as plain attributes. Each
test runs the fast path against the definition it short-cuts (ticks,
:meth:`RouterModel.targets`, the ID and SVR registers) on random inputs and
compares everything observable.
"""

from __future__ import annotations

import random
from typing import Any

from irqforge.sim.models.ioapic import IoApicModel
from irqforge.sim.models.lapic import LapicModel
from irqforge.sim.models.messages import DeliveryMode, DestMode, Interrupt, IoApicMessage, Trigger
from irqforge.sim.models.platform import PlatformModel
from irqforge.sim.models.router import RouterModel
from irqforge.spec import Spec


def _ioapic_state(m: IoApicModel) -> tuple[Any, ...]:
    return (
        list(m.entries),
        m.pins,
        m.prev,
        m.irr_edge,
        m.slot,
        m.slot_idx,
        m.ptr,
        m.cycle,
        [m.delivery_status(p) for p in range(m.npins)],
        m.pending,
    )


def _settle_by_ticks(m: IoApicModel) -> int:
    """The definition of :meth:`IoApicModel.settle`: tick while anything is pending."""
    taken = 0
    while m.pending:
        m.tick(True)
        taken += 1
    return taken


def _entry(spec: Spec, rng: random.Random) -> int:
    red = spec.ioapic.window("IOAPIC").register("REDTBL")
    v = 0
    for name, value in (
        ("VECTOR", rng.choice([0x31, 0x41, 0x51, 0x61])),
        ("POLARITY", rng.random() < 0.2),
        ("TRIGGER", red.field("TRIGGER").enum("LEVEL" if rng.random() < 0.4 else "EDGE")),
        ("MASK", rng.random() < 0.15),
        ("DEST", rng.randrange(2)),
    ):
        v = red.field(name).put(v, int(value))
    return v


def test_ioapic_settle_matches_ticking(spec: Spec) -> None:
    dev = spec.ioapic
    red = dev.window("IOAPIC").register("REDTBL")
    sel, win = dev.offset("IOREGSEL"), dev.offset("IOWIN")
    fast, slow = IoApicModel(spec), IoApicModel(spec)
    npins = fast.npins
    pins_used = [1, 3, 9, 16, npins - 1]
    rng = random.Random(2024)
    fast_paths = 0
    for _step in range(4000):
        roll = rng.random()
        for m in (fast, slow):
            m.take_messages()
        if roll < 0.15:
            pin = rng.choice(pins_used)
            value = _entry(spec, rng)
            for m in (fast, slow):
                m.write(sel, red.offset + red.stride * pin + 1)
                m.write(win, value >> 32)
                m.write(sel, red.offset + red.stride * pin)
                m.write(win, value & 0xFFFFFFFF)
        elif roll < 0.25:
            vector = rng.choice([0x31, 0x41, 0x51, 0x61])
            for m in (fast, slow):
                m.eoi(vector)
        else:
            pins = fast.pins
            for pin in rng.sample(pins_used, 2 if rng.random() < 0.1 else 1):
                pins ^= 1 << pin
            for m in (fast, slow):
                m.set_pins(pins)
        before = _ioapic_state(fast)
        got = fast.settle()
        want = _settle_by_ticks(slow)
        fast_paths += got <= 2
        assert got == want, f"settle took {got} ticks, ticking {want} (from {before})"
        assert fast.take_messages() == slow.take_messages()
        assert _ioapic_state(fast) == _ioapic_state(slow)
    assert fast_paths > 1000  # the closed form was exercised


def test_router_fixed_physical_matches_targets(spec: Spec) -> None:
    lapics = [LapicModel(spec, cpu.apic_id) for cpu in spec.platform.cpus]
    router = RouterModel(spec, lapics)
    svr = spec.lapic.offset("SVR")
    rng = random.Random(7)
    ids = [lapic.apic_id for lapic in lapics]
    for _ in range(500):
        for lapic in lapics:
            lapic.write(svr, 0x1FF if rng.random() < 0.8 else 0xFF)
        msg = IoApicMessage(
            vector=rng.randrange(16, 256),
            delivery_mode=DeliveryMode.FIXED,
            dest_mode=DestMode.PHYSICAL,
            dest=rng.choice([*ids, 0x7, 0xFF]),
            trigger=rng.choice([Trigger.EDGE, Trigger.LEVEL]),
        )
        want = [(i, Interrupt(msg.vector, DeliveryMode.FIXED, msg.trigger, 1)) for i in router.targets(msg, lapics)]
        got = router.route(msg)
        assert got == want
        for _i, interrupt in got:
            assert type(interrupt.delivery_mode) is DeliveryMode and type(interrupt.trigger) is Trigger


def test_lapic_id_and_enable_follow_the_registers(spec: Spec) -> None:
    lapic = LapicModel(spec, 3)
    dev = spec.lapic
    id_field = dev.register("ID").field("ID")
    svr, enable = dev.register("SVR"), dev.register("SVR").field("ENABLE")
    assert lapic.apic_id == 3
    assert lapic.enabled == bool(enable.get(svr.reset))
    lapic.write(dev.offset("ID"), id_field.put(0, 0x2A))
    assert lapic.apic_id == 0x2A
    lapic.write(svr.offset, enable.put(0xFF, 1))
    assert lapic.enabled is True
    lapic.write(svr.offset, enable.put(0xFF, 0))
    assert lapic.enabled is False
    lapic.write(svr.offset, enable.put(0xFF, 1))
    lapic.accept(Interrupt(0, DeliveryMode.INIT, Trigger.EDGE, 1))  # INIT: soft reset, ID kept
    assert lapic.apic_id == 0x2A
    assert lapic.enabled == bool(enable.get(svr.reset))
    lapic.reset()
    assert lapic.apic_id == 3


def test_platform_pin_delivery_follows_the_lapics(spec: Spec) -> None:
    """A device pin's message, once routed by destination ID alone, is delivered
    without :meth:`RouterModel.route` (:attr:`RouterModel.fixed_dest`): it must
    still reach exactly the LAPICs :meth:`RouterModel.targets` names now, with
    the LAPICs' IDs and software enables changed in between."""
    p = PlatformModel(spec)
    lapic_base = spec.platform.address_map["lapic"][0]
    ioapic_base = spec.platform.address_map["ioapic"][0]
    dev = spec.lapic
    id_field = dev.register("ID").field("ID")
    svr, enable = dev.register("SVR"), dev.register("SVR").field("ENABLE")
    red = spec.ioapic.window("IOAPIC").register("REDTBL")
    sel, win = spec.ioapic.offset("IOREGSEL"), spec.ioapic.offset("IOWIN")
    pin, vector = 5, 0x53
    ids = [lapic.apic_id for lapic in p.lapics]
    irr = dev.offset("IRR", vector >> 5)
    rng = random.Random(11)
    routed = 0
    for _ in range(300):
        # The entry: fixed, physical, edge, unmasked, to one of the IDs in use (or none).
        dest = rng.choice([*ids, 0x7])
        entry = red.field("DEST").put(red.field("VECTOR").put(0, vector), dest)
        for index, value in ((red.offset + red.stride * pin + 1, entry >> 32), (red.offset + red.stride * pin, entry)):
            p.write(0, ioapic_base + sel, index)
            p.write(0, ioapic_base + win, value & 0xFFFFFFFF)
        # The LAPICs: some IDs swapped around, some software-disabled.
        for i in range(p.ncpus):
            p.write(i, lapic_base + svr.offset, enable.put(0xFF, 1 if rng.random() < 0.8 else 0))
            if rng.random() < 0.2:
                p.write(i, lapic_base + dev.offset("ID"), id_field.put(0, rng.choice(ids)))
        p.advance(2)
        msg = IoApicMessage(vector, DeliveryMode.FIXED, DestMode.PHYSICAL, dest, Trigger.EDGE)
        want = p.router.targets(msg, p.lapics)
        routed += len(p.router.fixed_dest) > 0
        p.set_irq(pin, 1)
        got = [i for i in range(p.ncpus) if p.read(i, lapic_base + irr) >> (vector & 31) & 1]
        assert got == want, f"entry to {dest:#x}, LAPIC IDs {[x.apic_id for x in p.lapics]}"
        p.advance(2)
        p.set_irq(pin, 0)
        p.advance(2)
        for i in got:  # take and retire the interrupt
            assert p.inta(i) == vector
            p.write(i, lapic_base + dev.offset("EOI"), 0)
        p.advance(2)
    assert routed > 250 and len(p.router.fixed_dest) <= 3  # one cached route per destination, taken


def _lapic_state(m: LapicModel) -> dict[str, Any]:
    """Everything a LAPIC model holds as plain data (its handler tables left out)."""
    tables = ("_rd", "_wr", "_x2_rd_fast", "_x2_wr_fast", "_find_quiet", "_quiet")
    plain = (int, bool, str, list, dict, tuple, type(None))
    held = {k: getattr(m, k) for k in LapicModel.__slots__ if hasattr(m, k)}  # the model has slots, no __dict__
    state = {k: v for k, v in held.items() if k not in tables and isinstance(v, plain)}
    state["ipi"] = m.ipi_pending
    state["next_event_in"] = m.next_event_in()
    return state


def _lapic_op(spec: Spec, rng: random.Random) -> tuple[str, tuple[Any, ...]]:
    """A random call on a LAPIC model: a register or MSR access, a message, a pin, INTA or time."""
    dev = spec.lapic
    reg = dev.register
    vector = rng.choice([rng.randrange(256), 0x31, 0x41, 0x62, 0xEF, rng.randrange(16)])
    kind = rng.randrange(11)
    if kind <= 2:  # an MMIO write: timer, LINT and error LVTs, TMICT, TDCR, SVR, EOI, ESR, TPR, ICR, or no register
        name = rng.choice(["LVT_TIMER", "LVT_LINT0", "LVT_LINT1", "LVT_ERROR", "TMICT", "TDCR", "SVR", "EOI", "EOI",
                           "ESR", "TPR", "ICR_LO", "ICR_HI"])
        r = reg(name)
        value = rng.getrandbits(32)
        if name.startswith("LVT_"):
            value = r.field("VECTOR").put(value, vector)
            value = r.field("MASK").put(value, int(rng.random() < 0.3))
            if name == "LVT_TIMER":
                value = r.field("TIMER_MODE").put(value, rng.randrange(3))
            elif name != "LVT_ERROR":  # a LINT: mostly one vector, so that its EOI finds the Remote IRR
                value = r.field("VECTOR").put(value, 0x62 if rng.random() < 0.7 else vector)
                value = r.field("DELIVERY_MODE").put(value, rng.choice([0, 0, 4, 5, 7]))
        elif name == "ICR_LO":  # an illegal vector half the time (the send error)
            value = r.field("VECTOR").put(value, rng.randrange(16) if rng.random() < 0.5 else vector)
            value = r.field("DELIVERY_MODE").put(value, rng.choice([0, 1, 4, 5, 6]))
        elif name == "TMICT":
            value = rng.choice([0, 1, 2, 5, 17, 300])
        elif name == "SVR":
            value = r.field("ENABLE").put(value, int(rng.random() < 0.85))
        offset = rng.choice([r.offset, r.offset, 0x3F0])  # 0x3F0: no register there (an illegal-address error)
        return "write", (offset, value)
    if kind == 3:
        return "read", (rng.choice([reg("TMCCT").offset, reg("ESR").offset, reg("PPR").offset, 0x3F0]),)
    if kind == 4:  # an MSR: x2APIC on and off, the TSC deadline, x2APIC registers
        base = dev.msr("IA32_APIC_BASE").address
        addr = rng.choice([base, 0x6E0, 0x6E0, 0x80B, 0x838, 0x832, 0x835, 0x837, 0x83F, 0x80F])
        if addr == base:
            return "msr", (True, addr, 0xFEE00000 | rng.choice([0x800, 0xC00, 0x000]))
        if addr == 0x6E0:
            return "msr", (True, addr, rng.choice([0, 3, 40, 1 << 40]))
        return "msr", (rng.random() < 0.8, addr, rng.getrandbits(32))
    if kind == 5:
        mode = rng.choice([DeliveryMode.FIXED, DeliveryMode.FIXED, DeliveryMode.LOWEST, DeliveryMode.NMI,
                           DeliveryMode.INIT, DeliveryMode.STARTUP])
        return "accept", (Interrupt(vector, mode, rng.choice([Trigger.EDGE, Trigger.LEVEL]), rng.randrange(2)),)
    if kind == 6:
        return "set_lint", (rng.randrange(2), rng.randrange(2))
    if kind == 7:
        return rng.choice(["inta", "inta", "take_eois", "take_startup", "ipi_accepted", "nmi_ack"]), ()
    if kind == 8:
        return "set_tsc", (rng.choice([0, 1000, 1 << 41]),)
    return "advance", (rng.choice([1, 1, 2, 3, 7, 40, 500]),)


class _Untrusting(LapicModel):
    """A LAPIC model that never finds itself quiet (so never skips a check)."""

    __slots__ = ()

    def _find_quiet(self) -> bool:
        return False


def test_lapic_quiet_flag_changes_nothing(spec: Spec) -> None:
    """:attr:`LapicModel._quiet` lets ``_advance`` and ``next_event_in`` skip their
    checks. A twin that never trusts it (its ``_find_quiet`` always says no) is the
    definition: after every one of many random calls both hold the same state and
    name the same next event — so every way of leaving the quiet state clears the flag."""
    for staged in (False, True):
        rng = random.Random(7 + staged)
        fast = LapicModel(spec, 1, staged=staged)
        slow = _Untrusting(spec, 1, staged=staged)
        quiet = 0
        for step in range(6000):
            op, args = _lapic_op(spec, rng)
            got = getattr(fast, op)(*args)
            want = getattr(slow, op)(*args)
            assert got == want, (step, op, args)
            quiet += fast._quiet
            assert _lapic_state(fast) == _lapic_state(slow), (step, op, args)
        assert 600 < quiet < 5400, quiet  # both states were visited often


class _Stepping(LapicModel):
    """A LAPIC model that lets time pass one edge at a time (the definition of a long ``advance``)."""

    __slots__ = ()

    def advance(self, cycles: int = 1) -> None:
        for _ in range(cycles):
            super().advance(1)


def test_lapic_long_advance_matches_single_edges(spec: Spec) -> None:
    """``advance(n)`` skips the edges where nothing happens (the platform fast-forwards
    idle time through it); a twin that takes every edge on its own holds the same state
    after each of many random calls."""
    for staged in (False, True):
        rng = random.Random(11 + staged)
        fast = LapicModel(spec, 1, staged=staged)
        slow = _Stepping(spec, 1, staged=staged)
        for step in range(6000):
            op, args = _lapic_op(spec, rng)
            got = getattr(fast, op)(*args)
            want = getattr(slow, op)(*args)
            assert got == want, (step, op, args)
            assert _lapic_state(fast) == _lapic_state(slow), (step, op, args)


def test_lapic_eoi_clears_remote_irr_across_a_long_advance(spec: Spec) -> None:
    """A LINT switched from level to edge while its Remote IRR is set: the EOI of its
    vector still clears Remote IRR at the EOI's edge when the model then skips many
    cycles at once (it once kept Remote IRR set and recursed once per cycle)."""
    dev = spec.lapic
    lint0 = dev.register("LVT_LINT0")
    level = lint0.field("TRIGGER").put(lint0.field("VECTOR").put(0, 0x62), 1)
    edge = lint0.field("VECTOR").put(0, 0x62)
    remote = lint0.field("REMOTE_IRR")
    for skip in (1, 5_000):
        m = LapicModel(spec, 1)
        m.write(dev.offset("SVR"), 0x1FF)
        m.write(lint0.offset, level)
        m.advance()
        m.set_lint(0, 1)
        m.advance(3)
        assert remote.get(m.read(lint0.offset)) == 1
        assert m.inta() == 0x62
        m.write(lint0.offset, edge)
        m.advance()
        assert remote.get(m.read(lint0.offset)) == 1  # (read-only: the write kept it)
        m.write(dev.offset("EOI"), 0)
        m.advance(skip)
        assert remote.get(m.read(lint0.offset)) == 0, skip
