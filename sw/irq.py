"""The generic IRQ layer (kernel/irq/{manage,chip,handle,spurious}.c,
arch/x86/kernel/irq.c).

IRQ numbers: ISA IRQ ``n`` (0–15) sits on IO-APIC pin ``isa_pin(n)`` (IRQ 0
on pin 2) with vector ``ISA_IRQ_VECTOR(n) = 0x30 + n``; pins ≥ 16 are IRQ =
pin with vectors allocated from the spec's device range. The vector is the
same on every CPU (``vector_irq`` of every CPU points at the descriptor), so
an affinity change only rewrites the entry's destination.

Flow handlers keep Linux's order: ``handle_edge_irq`` acks first and replays
edges that arrive while the handler runs; ``handle_level_irq`` masks+acks
first and unmasks afterwards; ``handle_fasteoi_irq`` issues one EOI at the
end. ``note_interrupt`` implements the 99 900-of-100 000 rule.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from irqforge.spec import VectorKind

from .context import KernelConfig, KernelCore, call
from .sched import WaitQueue

if TYPE_CHECKING:
    from irqforge.spec import Spec

    from .apic import Apic
    from .clockevents import Clockevents
    from .entry import PtRegs
    from .io_apic import IoApic
    from .timer import Timers

__all__ = [
    "IRQF_NOBALANCING",
    "IRQF_NO_SUSPEND",
    "IRQF_NO_THREAD",
    "IRQF_ONESHOT",
    "IRQF_PERCPU",
    "IRQF_SHARED",
    "IRQF_TIMER",
    "IRQF_TRIGGER_FALLING",
    "IRQF_TRIGGER_HIGH",
    "IRQF_TRIGGER_LOW",
    "IRQF_TRIGGER_MASK",
    "IRQF_TRIGGER_RISING",
    "IRQ_HANDLED",
    "IRQ_NONE",
    "IRQ_WAKE_THREAD",
    "IrqAction",
    "IrqCore",
    "IrqDesc",
]

IRQ_NONE = 0
IRQ_HANDLED = 1
IRQ_WAKE_THREAD = 2

IRQF_TRIGGER_NONE = 0x0
IRQF_TRIGGER_RISING = 0x1
IRQF_TRIGGER_FALLING = 0x2
IRQF_TRIGGER_HIGH = 0x4
IRQF_TRIGGER_LOW = 0x8
IRQF_TRIGGER_MASK = 0xF
IRQF_SHARED = 0x80
IRQF_PROBE_SHARED = 0x100
IRQF__TIMER = 0x200
IRQF_PERCPU = 0x400
IRQF_NOBALANCING = 0x800
IRQF_IRQPOLL = 0x1000
IRQF_ONESHOT = 0x2000
IRQF_NO_SUSPEND = 0x4000
IRQF_FORCE_RESUME = 0x8000
IRQF_NO_THREAD = 0x10000
IRQF_TIMER = IRQF__TIMER | IRQF_NO_SUSPEND | IRQF_NO_THREAD

EINVAL = 22
EBUSY = 16
ENOSYS = 38

SPURIOUS_SAMPLE = 100_000
_LAST_SAMPLE = SPURIOUS_SAMPLE - 1  # note_interrupt's count before it judges the line
SPURIOUS_LIMIT = 99_900

Handler = Callable[[int, Any], Any]
"""``irqreturn_t handler(int irq, void *dev_id)`` (plain or ``async def``)."""


@dataclass
class IrqAction:
    handler: Handler
    flags: int
    name: str
    dev_id: Any


@dataclass
class IrqDesc:
    """``struct irq_desc`` + ``irq_data`` + the x86 vector config."""

    irq: int
    hwirq: int
    vector: int
    chip: Any
    level: bool = False
    active_low: bool = False
    flow: str = "edge"
    """``edge``, ``level`` or ``fasteoi``; shown in /proc/interrupts."""
    actions: tuple[IrqAction, ...] = ()
    """A tuple, replaced at every ``request_irq``/``free_irq``: a handler that frees its line
    does not change the list its ``handle_irq_event`` goes through."""
    depth: int = 1
    disabled: bool = True
    masked: bool = True
    in_progress: bool = False
    pending: bool = False
    replay: bool = False
    oneshot: bool = False
    activated: bool = False
    spurious_disabled: bool = False
    trigger_set: bool = False
    target_cpu: int = 0
    affinity: set[int] = field(default_factory=set)
    kstat: list[int] = field(default_factory=list)
    irq_count: int = 0
    irqs_unhandled: int = 0
    last_unhandled: int = 0
    tot_count: int = 0
    wait_for_threads: Any = None
    nobody_cared: int = 0


class IrqHost(KernelCore, Protocol):
    """What the generic IRQ layer needs: the kernel core, the APICs, the clock events, jiffies and kernel text."""

    spec: Spec
    config: KernelConfig
    apic: Apic
    ioapic: IoApic
    clockevents: Clockevents
    timers: Timers

    def cpu_online(self, cpu: int) -> bool: ...

    def kallsym(self, name: str, obj: Any = None) -> int: ...


class IrqCore:
    """IRQ descriptors, ``request_irq`` & co., flow handlers, spurious detection."""

    def __init__(self, kernel: IrqHost) -> None:
        self.k = kernel
        self.descs: dict[int, IrqDesc] = {}
        self.order: list[tuple[int, int, str]] = []
        """(cpu, irq, action name) for every handler call, when ``trace`` is set."""
        self.trace = False
        self.bad_irq_reports: list[str] = []
        self.bogus_reports = 0
        self._next_vector = 0
        self.isa_base = 0x30
        self.sync_wq = WaitQueue(kernel, "synchronize_irq")
        self._noirqdebug = kernel.config.noirqdebug

    # ------------------------------------------------------------------ descriptors

    def early_irq_init(self) -> None:
        """Descriptors for the ISA IRQs and the remaining IO-APIC pins."""
        k = self.k
        spec = k.spec
        vm = spec.vectors
        try:
            self.isa_base = vm.range("ISA_IRQ").first
        except KeyError:
            self.isa_base = 0x30
        dev_ranges = [r for r in vm.ranges if r.kind is VectorKind.IRQ and r.first >= self.isa_base + 16]
        self._free_vectors = [v for r in dev_ranges for v in range(r.first, r.last + 1)]
        pins = spec.ioapic.param("pins")
        used_pins: set[int] = set()
        for irq in range(16):
            pin = spec.platform.isa_pin(irq)
            if pin in used_pins or pin >= pins or (irq != 0 and pin != irq and irq in spec.platform.isa_irq_pins):
                continue
            if irq == 2 and spec.platform.isa_pin(0) == 2:
                continue  # the cascade: pin 2 carries IRQ 0
            used_pins.add(pin)
            self._new_desc(irq, pin, self.isa_base + irq, level=False)
        for pin in range(16, pins):
            self._new_desc(pin, pin, 0, level=True)

    def _new_desc(self, irq: int, pin: int, vector: int, level: bool) -> IrqDesc:
        k = self.k
        d = IrqDesc(irq, pin, vector, k.ioapic.chip, level=level, flow="fasteoi" if level else "edge")
        d.kstat = [0] * k.ncpus
        d.affinity = set(range(k.ncpus))
        self.descs[irq] = d
        return d

    def irq_to_desc(self, irq: int) -> IrqDesc | None:
        return self.descs.get(irq)

    def _assign_vector(self, desc: IrqDesc) -> None:
        if desc.vector:
            return
        if not self._free_vectors:
            raise RuntimeError("no free device vectors")
        desc.vector = self._free_vectors.pop(0)

    def _activate(self, desc: IrqDesc) -> None:
        self._assign_vector(desc)
        for cpu in self.k.cpus:
            cpu.vector_irq[desc.vector] = desc
        desc.activated = True

    # ------------------------------------------------------------------ request/free (manage.c)

    async def request_irq(self, irq: int, handler: Handler | None, flags: int, name: str, dev_id: Any = None) -> int:
        """0, or -EINVAL / -EBUSY like ``request_threaded_irq``."""
        desc = self.descs.get(irq)
        if desc is None or handler is None:
            return -EINVAL
        if flags & IRQF_SHARED and dev_id is None:
            return -EINVAL
        if not flags & IRQF_TRIGGER_MASK:
            # __setup_irq: "If the trigger type is not specified by the caller,
            # then use the default for this interrupt."
            flags |= self.irqd_get_trigger_type(desc)
        new = IrqAction(handler, flags, name, dev_id)
        if desc.actions:
            old = desc.actions[0]
            if desc.trigger_set:
                oldtype = self.irqd_get_trigger_type(desc)
            else:  # nobody set the configuration before: inherit the requester's
                oldtype = new.flags & IRQF_TRIGGER_MASK
                if oldtype:
                    self.irq_set_type(desc, oldtype)
            if not (old.flags & new.flags & IRQF_SHARED) or oldtype != (new.flags & IRQF_TRIGGER_MASK):
                self._mismatch(irq, new, old)
                return -EBUSY
            if (old.flags ^ new.flags) & IRQF_ONESHOT or (old.flags ^ new.flags) & IRQF_PERCPU:
                self._mismatch(irq, new, old)
                return -EBUSY
            desc.actions = (*desc.actions, new)
            return 0
        trig = flags & IRQF_TRIGGER_MASK
        if trig:
            self.irq_set_type(desc, trig)
        desc.oneshot = bool(flags & IRQF_ONESHOT)
        desc.actions = (*desc.actions, new)
        desc.irqs_unhandled = 0
        desc.irq_count = 0
        desc.spurious_disabled = False
        self._activate(desc)
        desc.depth = 0
        desc.disabled = False
        await desc.chip.irq_startup(desc)
        return 0

    def _mismatch(self, irq: int, new: IrqAction, old: IrqAction) -> None:
        self.k.printk(f"genirq: Flags mismatch irq {irq}. {new.flags:08x} ({new.name}) "
                      f"vs. {old.flags:08x} ({old.name})")

    @staticmethod
    def irqd_get_trigger_type(desc: IrqDesc) -> int:
        """The line's trigger type as ``IRQF_TRIGGER_*`` bits; 0 while nobody set one."""
        if not desc.trigger_set:
            return IRQF_TRIGGER_NONE
        if desc.level:
            return IRQF_TRIGGER_LOW if desc.active_low else IRQF_TRIGGER_HIGH
        return IRQF_TRIGGER_FALLING if desc.active_low else IRQF_TRIGGER_RISING

    def irq_set_type(self, desc: IrqDesc, trig: int) -> None:
        """``ioapic_set_type``: level/edge and polarity choose the flow handler."""
        desc.level = bool(trig & (IRQF_TRIGGER_HIGH | IRQF_TRIGGER_LOW))
        desc.active_low = bool(trig & (IRQF_TRIGGER_LOW | IRQF_TRIGGER_FALLING))
        desc.flow = "fasteoi" if desc.level else "edge"
        desc.trigger_set = True

    def irq_set_handler(self, irq: int, flow: str) -> None:
        """Choose the flow handler: ``edge``, ``level`` or ``fasteoi``."""
        if flow not in ("edge", "level", "fasteoi"):
            raise ValueError(flow)
        self.descs[irq].flow = flow

    async def free_irq(self, irq: int, dev_id: Any = None) -> str | None:
        """Remove the action of ``dev_id``; the last one shuts the line down."""
        desc = self.descs.get(irq)
        if desc is None:
            return None
        for a in desc.actions:
            if a.dev_id is dev_id:
                i = desc.actions.index(a)  # (list.remove's: the first equal one)
                desc.actions = desc.actions[:i] + desc.actions[i + 1:]
                break
        else:
            self.k.printk(f"WARNING: Trying to free already-free IRQ {irq}")
            return None
        if not desc.actions:
            desc.disabled = True
            desc.depth = 1
            await desc.chip.irq_shutdown(desc)
        await self.synchronize_irq(irq)
        return a.name

    async def synchronize_irq(self, irq: int) -> None:
        """Wait until no CPU runs a handler of ``irq``."""
        desc = self.descs[irq]
        k = self.k
        if not desc.in_progress:
            return
        if k.this_cpu.in_interrupt() or k.this_cpu.in_atomic():
            await self.sync_wq.spin_until(lambda: not desc.in_progress)
        else:
            await self.sync_wq.wait_event(lambda: not desc.in_progress)

    def disable_irq_nosync(self, irq: int) -> None:
        """Lazy disable: the line is masked only if it fires while disabled."""
        desc = self.descs[irq]
        if desc.depth == 0:
            desc.disabled = True
        desc.depth += 1

    async def disable_irq(self, irq: int) -> None:
        self.disable_irq_nosync(irq)
        await self.synchronize_irq(irq)

    async def enable_irq(self, irq: int) -> None:
        """Undo one disable; at depth 0 unmask and resend a pending edge."""
        desc = self.descs[irq]
        if desc.depth == 0:
            self.k.printk(f"WARNING: Unbalanced enable for IRQ {irq}")
            return
        if desc.depth == 1:
            if desc.spurious_disabled:
                self.k.printk(f"WARNING: enable_irq for IRQ {irq} disabled as spurious")
            desc.disabled = False
            desc.depth = 0
            if desc.masked:
                await desc.chip.irq_unmask(desc)
            await self.check_irq_resend(desc)
        else:
            desc.depth -= 1

    async def check_irq_resend(self, desc: IrqDesc) -> None:
        """Replay an edge that arrived while the line was disabled."""
        if desc.level:
            desc.pending = False
            return
        if desc.replay or not desc.pending:
            return
        desc.pending = False
        desc.replay = True
        await desc.chip.irq_retrigger(desc)

    async def irq_set_affinity(self, irq: int, mask: set[int]) -> int:
        desc = self.descs.get(irq)
        if desc is None:
            return -EINVAL
        online = [c for c in sorted(mask) if self.k.cpu_online(c)]
        if not online:
            return -EINVAL
        desc.affinity = set(mask)
        await desc.chip.irq_set_affinity(desc, online[0])
        return 0

    # ------------------------------------------------------------------ dispatch

    # The flow handlers are plain calls: they run on the interrupted thread's
    # stack (:mod:`irqforge.sw.cpumux`); chip callbacks and handlers that are
    # coroutines are awaited through ``k.mux.await_``.

    def common_interrupt(self, regs: PtRegs, vector: int) -> None:
        """``DEFINE_IDTENTRY_IRQ(common_interrupt)``: the flow handler of the vector's descriptor."""
        desc = self.k._cur.vector_irq[vector]
        if desc is None:
            self.k.mux.await_(self._no_irq_handler(vector))
            return
        flow = desc.flow
        if flow == "edge":
            self.handle_edge_irq(desc)
        elif flow == "fasteoi":
            self.handle_fasteoi_irq(desc)
        else:
            self.handle_level_irq(desc)

    async def _no_irq_handler(self, vector: int) -> None:
        k = self.k
        await k.apic.apic_eoi()
        k.printk(f"common_interrupt: {k._cur.id}.{vector} No irq handler for vector")

    def handle_irq(self, desc: IrqDesc) -> None:
        flow = desc.flow
        if flow == "edge":
            self.handle_edge_irq(desc)
        elif flow == "fasteoi":
            self.handle_fasteoi_irq(desc)
        else:
            self.handle_level_irq(desc)

    def _irq_may_run(self, desc: IrqDesc) -> bool:
        return not desc.in_progress

    def handle_edge_irq(self, desc: IrqDesc) -> None:
        chip = desc.chip
        desc.replay = False
        if desc.in_progress or desc.disabled or not desc.actions:  # not _irq_may_run(desc) or …
            desc.pending = True
            self.k.mux.await_(chip.irq_mask(desc))
            chip.irq_ack_sync(desc)
            return
        desc.kstat[self.k._cur.id] += 1  # _kstat(desc)
        desc.tot_count += 1
        chip.irq_ack_sync(desc)
        self.edge_irq_loop(desc)

    def edge_irq_loop(self, desc: IrqDesc) -> None:
        """The loop of :meth:`handle_edge_irq` after the ack: run the actions, again
        while an edge came in meanwhile (``pending``)."""
        chip = desc.chip
        while True:
            if not desc.actions:
                self.k.mux.await_(chip.irq_mask(desc))
                return
            if desc.pending and not desc.disabled and desc.masked:
                self.k.mux.await_(chip.irq_unmask(desc))
            self.handle_irq_event(desc)
            if not (desc.pending and not desc.disabled):
                break

    def handle_level_irq(self, desc: IrqDesc) -> None:
        chip = desc.chip
        aw = self.k.mux.await_
        aw(chip.irq_mask_ack(desc))
        if not self._irq_may_run(desc):
            return
        desc.replay = False
        if not desc.actions or desc.disabled:
            desc.pending = True
            return
        self._kstat(desc)
        self.handle_irq_event(desc)
        if not desc.disabled and desc.masked and not desc.oneshot:
            aw(chip.irq_unmask(desc))

    def handle_fasteoi_irq(self, desc: IrqDesc) -> None:
        chip = desc.chip
        aw = self.k.mux.await_
        if not self._irq_may_run(desc):
            aw(chip.irq_eoi(desc))
            return
        desc.replay = False
        if not desc.actions or desc.disabled:
            desc.pending = True
            aw(chip.irq_mask(desc))
            aw(chip.irq_eoi(desc))
            return
        self._kstat(desc)
        if desc.oneshot:
            aw(chip.irq_mask(desc))
        self.handle_irq_event(desc)
        # cond_unmask_eoi_irq
        if desc.oneshot and not desc.disabled and desc.masked:
            aw(chip.irq_eoi(desc))
            aw(chip.irq_unmask(desc))
        else:
            aw(chip.irq_eoi(desc))

    def _kstat(self, desc: IrqDesc) -> None:
        desc.kstat[self.k._cur.id] += 1
        desc.tot_count += 1

    def handle_irq_event(self, desc: IrqDesc) -> int:
        """Run every action (registration order), OR the results, ``note_interrupt``."""
        k = self.k
        desc.pending = False
        desc.in_progress = True
        try:
            ret = IRQ_NONE
            cpu = k._cur
            irq = desc.irq
            tracer = k.tracer
            for a in desc.actions:
                if self.trace:
                    self.order.append((cpu.id, irq, a.name))
                if tracer is not None:
                    tracer.event(cpu.id, "irq:irq_handler_entry", irq=irq, name=a.name)
                handler = a.handler  # (a plain load: a method load of an attribute is never specialized)
                res = handler(irq, a.dev_id)
                if res.__class__ is not int:
                    if inspect.isawaitable(res):
                        res = k.mux.await_(res)
                    if res.__class__ is not int:
                        res = int(res or 0)
                cpu = k._cur
                if tracer is not None:
                    tracer.event(cpu.id, "irq:irq_handler_exit", irq=irq, ret="handled" if res else "unhandled")
                if cpu.if_flag:
                    k.printk(f"WARNING: irq {irq} handler {a.name} enabled interrupts")
                    cpu.if_flag = False
                ret |= res
            if not self._noirqdebug:
                if ret == IRQ_HANDLED and desc.irq_count < _LAST_SAMPLE:
                    desc.irq_count += 1  # note_interrupt's whole work for a handled one
                else:
                    self.note_interrupt_sync(desc, ret)
        finally:
            desc.in_progress = False
            if self.sync_wq.sleepers or self.sync_wq.spinners:
                self.sync_wq.wake_up_all()
        return ret

    # ------------------------------------------------------------------ spurious.c

    async def note_interrupt(self, desc: IrqDesc, action_ret: int) -> None:
        """Count unhandled interrupts; disable the line after 99 900 of 100 000."""
        self.note_interrupt_sync(desc, action_ret)

    def note_interrupt_sync(self, desc: IrqDesc, action_ret: int) -> None:
        """:meth:`note_interrupt` as a plain call (on a kernel thread's stack)."""
        k = self.k
        jiffies = k.timers.jiffies
        if action_ret & 0xFFFFFFFF > IRQ_HANDLED | IRQ_WAKE_THREAD:  # bad_action_ret()
            # note_interrupt: report (report_bad_irq, at most 100) and return:
            # a bogus value is neither counted nor judged.
            self.report_bad_irq(desc, action_ret)
            return
        if action_ret & ~IRQ_WAKE_THREAD == IRQ_NONE:
            if k.timers.time_after(jiffies, desc.last_unhandled + k.HZ // 10):
                desc.irqs_unhandled = 1
            else:
                desc.irqs_unhandled += 1
            desc.last_unhandled = jiffies
        desc.irq_count += 1
        if desc.irq_count < SPURIOUS_SAMPLE:
            return
        desc.irq_count = 0
        if desc.irqs_unhandled > SPURIOUS_LIMIT:
            self.report_bad_irq(desc, action_ret)  # "nobody cared"
            k.printk(f"Disabling IRQ #{desc.irq}")
            desc.spurious_disabled = True
            desc.depth += 1
            desc.disabled = True
            desc.nobody_cared += 1
            k.mux.await_(desc.chip.irq_mask(desc))
            k.timers.arm_poll_spurious(self)
        desc.irqs_unhandled = 0

    def report_bad_irq(self, desc: IrqDesc, action_ret: int) -> None:
        """``report_bad_irq``: a bogus return value or "nobody cared", with the
        handlers; at most 100 reports of either kind (one static count)."""
        if self.bogus_reports >= 100:
            return
        self.bogus_reports += 1
        k = self.k
        if action_ret & 0xFFFFFFFF > IRQ_HANDLED | IRQ_WAKE_THREAD:
            first = f"irq event {desc.irq}: bogus return value {action_ret & 0xFFFFFFFF:x}"
        else:
            first = f'irq {desc.irq}: nobody cared (try booting with the "irqpoll" option)'
        lines = [first, "handlers:"]
        for a in desc.actions:
            addr = k.kallsym(getattr(a.handler, "__qualname__", a.name))
            lines.append(f"[<{addr:016x}>] {getattr(a.handler, '__qualname__', a.name)}")
        for line in lines:
            k.printk(line)
        self.bad_irq_reports.append("\n".join(lines))

    async def poll_spurious_irqs(self) -> None:
        """``poll_spurious_irqs``: run the handlers of spurious-disabled lines.

        Like ``try_one_irq(desc, force=true)``: never IRQ 0, and only lines
        whose (first) action is ``IRQF_SHARED`` and not ``__IRQF_TIMER`` nor
        per-CPU — a line nobody shares has nobody else to try."""
        for desc in list(self.descs.values()):
            if desc.irq == 0 or not desc.spurious_disabled or not desc.actions:
                continue
            first = desc.actions[0].flags
            if not first & IRQF_SHARED or first & (IRQF__TIMER | IRQF_PERCPU):
                continue
            if not desc.in_progress:
                desc.in_progress = True
                try:
                    for a in list(desc.actions):
                        await call(a.handler, desc.irq, a.dev_id)
                finally:
                    desc.in_progress = False

    # ------------------------------------------------------------------ the timer IRQ

    async def setup_default_timer_irq(self) -> None:
        """``request_irq(0, timer_interrupt, IRQF_NOBALANCING|IRQF_IRQPOLL|IRQF_TIMER, "timer")``."""
        k = self.k

        async def timer_interrupt(irq: int, dev_id: Any) -> int:
            dev = k.clockevents.global_clock_event
            if dev is not None and dev.event_handler is not None:
                await dev.event_handler(dev)
            return IRQ_HANDLED

        rc = await self.request_irq(0, timer_interrupt, IRQF_NOBALANCING | IRQF_IRQPOLL | IRQF_TIMER, "timer", None)
        if rc:
            k.printk(f"Failed to register legacy timer interrupt: {rc}")

    def handlers_of(self, irq: int) -> list[str]:
        return [a.name for a in self.descs[irq].actions]

