"""Lockup detectors (kernel/watchdog.c, watchdog_buddy.c) and a keepalive
watchdog device.

Thresholds are Linux's — ``watchdog_thresh`` = 10 s, soft lockup after
2 × thresh, sample period 2 × thresh / 5 — multiplied by
``KernelConfig.watchdog_scale`` (simulated seconds per Linux second;
default 1e-3, so a 4 ms sample period and a 20 ms soft-lockup threshold).

- **Soft lockup**: a pinned hard hrtimer per CPU fires every sample period,
  counts ``hrtimer_interrupts``, queues ``softlockup_fn`` on the CPU's
  stopper thread (highest priority) which refreshes the touch timestamp, and
  reports "BUG: soft lockup - CPU#N stuck for Ns!" when the timestamp is
  older than the threshold (then rate-limited by one threshold).
- **Hard lockup**: the buddy detector (mainline ≥ 6.6): every third sample,
  a CPU checks whether the next CPU's ``hrtimer_interrupts`` moved; if not,
  "Watchdog detected hard LOCKUP on cpu N" and an NMI IPI (ICR delivery mode
  NMI) makes the stuck CPU print its backtrace from NMI context.
- **Keepalive device** (:class:`Keepalive`): an HPET comparator in one-shot
  64-bit mode routed to an IO-APIC pin whose entry delivers an NMI (or a
  fixed interrupt) to CPU 0; :meth:`Keepalive.feed` pushes the comparator
  forward. If it is not fed in time the NMI handler sees the counter past
  the deadline and resets the platform: the run stops with
  ``Kernel.reset_requested`` set (the simulation's equivalent of the reset
  line; the platform is not re-booted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .context import KernelPanic, PlatformReset
from .hrtimer import HRTIMER_RESTART, Hrtimer
from .irq import IRQ_HANDLED, IRQ_NONE, IRQF_TRIGGER_RISING

if TYPE_CHECKING:
    from .entry import PtRegs
    from .kernel import Kernel

__all__ = ["Keepalive", "LockupEvent", "Watchdog"]

NUM_SAMPLE_PERIODS = 5
NSEC_PER_SEC = 1_000_000_000


@dataclass(frozen=True)
class LockupEvent:
    kind: str
    """``soft``, ``hard`` or ``backtrace``."""
    cpu: int
    jiffies: int
    seconds: int = 0
    comm: str = ""


class Watchdog:
    """Per-CPU soft-lockup hrtimers and the buddy hard-lockup detector."""

    def __init__(self, kernel: Kernel) -> None:
        self.k = kernel
        cfg = kernel.config
        self.thresh = cfg.watchdog_thresh
        self.scale = cfg.watchdog_scale
        n = kernel.ncpus
        self.sec_ns = max(1, int(NSEC_PER_SEC * self.scale))
        """Simulated ns per Linux second."""
        self.softlockup_thresh_ns = 2 * self.thresh * self.sec_ns
        self.sample_period_ns = self.softlockup_thresh_ns // NUM_SAMPLE_PERIODS
        self.hrtimer_interrupts = [0] * n
        self.hrtimer_interrupts_saved = [0] * n
        self.touch_ts = [0] * n
        self.report_ts = [0] * n
        self.touched = [False] * n
        self.hard_warned = [False] * n
        self.hard_touched = [False] * n
        self.backtrace_mask: set[int] = set()
        self.softlockup_pending = [False] * n
        self.timers: list[Hrtimer | None] = [None] * n
        self.events: list[LockupEvent] = []
        self.enabled = False

    async def lockup_detector_init(self) -> None:
        k = self.k
        if not k.config.watchdog or self.thresh == 0:
            return
        k.entry.register_nmi_handler("nmi_cpu_backtrace", self.nmi_cpu_backtrace_handler)
        await k.smp.on_each_cpu(self._enable, None, True)
        self.enabled = True
        k.printk(f"NMI watchdog: Enabled. Buddy hard lockup detector, thresh {self.thresh}s x{self.scale:g}")

    async def _enable(self, _info: Any) -> None:
        k = self.k
        cpu = k.smp_processor_id()
        now = await k.timekeeping.ktime_get()
        self.touch_ts[cpu] = self.report_ts[cpu] = now
        t = Hrtimer(self.watchdog_timer_fn, name=f"watchdog/{cpu}")
        self.timers[cpu] = t
        await k.hrtimers.hrtimer_start(t, self.sample_period_ns)

    def touch_softlockup_watchdog(self) -> None:
        """Suppress the next check on this CPU (``SOFTLOCKUP_DELAY_REPORT``)."""
        self.touched[self.k.smp_processor_id()] = True

    def touch_nmi_watchdog(self) -> None:
        self.hard_touched[self.k.smp_processor_id()] = True
        self.touch_softlockup_watchdog()

    async def softlockup_fn(self) -> None:
        """Runs on the stopper thread: the CPU did schedule."""
        k = self.k
        cpu = k.smp_processor_id()
        now = await k.timekeeping.ktime_get()
        self.touch_ts[cpu] = self.report_ts[cpu] = now
        self.softlockup_pending[cpu] = False

    async def watchdog_timer_fn(self, timer: Hrtimer) -> int:
        k = self.k
        cpu = k.smp_processor_id()
        self.hrtimer_interrupts[cpu] += 1
        if self.hrtimer_interrupts[cpu] % 3 == 0 and k.ncpus > 1:
            await self.watchdog_hardlockup_check(self._next_cpu(cpu))
        if not self.softlockup_pending[cpu]:
            self.softlockup_pending[cpu] = True
            k.smp.stop_one_cpu_nowait(cpu, self.softlockup_fn)
        now = await k.timekeeping.ktime_get()
        k.hrtimers.hrtimer_forward(timer, now, self.sample_period_ns)
        if self.touched[cpu]:
            self.touched[cpu] = False
            self.touch_ts[cpu] = self.report_ts[cpu] = now
            return HRTIMER_RESTART
        if now > self.report_ts[cpu] + self.softlockup_thresh_ns:
            duration = (now - self.touch_ts[cpu]) // self.sec_ns
            cur = k.this_cpu.current
            comm = cur.comm if cur is not None else "?"
            pid = cur.pid if cur is not None else 0
            k.printk(f"watchdog: BUG: soft lockup - CPU#{cpu} stuck for {duration}s! [{comm}:{pid}]")
            self.events.append(LockupEvent("soft", cpu, k.timers.jiffies, duration, comm))
            self.report_ts[cpu] = now
            if k.config.softlockup_panic:
                raise KernelPanic("softlockup: hung tasks")
        return HRTIMER_RESTART

    def _next_cpu(self, cpu: int) -> int:
        online = self.k.online_cpus()
        later = [c for c in online if c > cpu]
        return later[0] if later else online[0]

    async def watchdog_hardlockup_check(self, cpu: int) -> None:
        k = self.k
        if cpu == k.smp_processor_id():
            return
        if self.hard_touched[cpu]:
            self.hard_touched[cpu] = False
            return
        hrint = self.hrtimer_interrupts[cpu]
        if self.hrtimer_interrupts_saved[cpu] != hrint:
            self.hrtimer_interrupts_saved[cpu] = hrint
            self.hard_warned[cpu] = False
            return
        if self.hard_warned[cpu]:
            return
        k.printk(f"watchdog: Watchdog detected hard LOCKUP on cpu {cpu}")
        self.events.append(LockupEvent("hard", cpu, k.timers.jiffies))
        self.hard_warned[cpu] = True
        self.backtrace_mask.add(cpu)
        await k.smp.send_nmi(cpu)  # trigger_single_cpu_backtrace
        if k.config.hardlockup_panic:
            raise KernelPanic("Hard LOCKUP")

    def nmi_cpu_backtrace_handler(self, regs: PtRegs) -> int:
        k = self.k
        cpu = k.smp_processor_id()
        if cpu not in self.backtrace_mask:
            return 0
        self.backtrace_mask.discard(cpu)
        cur = k.this_cpu.current
        k.printk(f"NMI backtrace for cpu {cpu}")
        k.printk(f"CPU: {cpu} PID: {cur.pid if cur else 0} Comm: {cur.comm if cur else '?'}")
        k.printk(f"RIP: 0010:{regs.ip:#018x} EFLAGS: {regs.flags:08x}")
        self.events.append(LockupEvent("backtrace", cpu, k.timers.jiffies, 0, cur.comm if cur else ""))
        return 1


class Keepalive:
    """A keepalive watchdog device on an HPET comparator (see the module docstring)."""

    def __init__(self, kernel: Kernel, channel: int = 2, delivery: str = "NMI") -> None:
        self.k = kernel
        self.channel = channel
        self.delivery = delivery
        self.deadline = 0
        self.timeout_ticks = 0
        self.armed = False
        self.pin: int | None = None
        self.feeds = 0
        self.expired = False

    async def start(self, timeout_ms: float, cpu: int = 0) -> None:
        """Route the comparator, program the IO-APIC entry, arm the first deadline."""
        k = self.k
        h = k.hpet
        used = {d.hwirq for d in k.irq.descs.values() if d.actions}
        self.pin = await h.assign_irq(self.channel, used)
        self.timeout_ticks = int(timeout_ms * h.freq // 1000)
        io = k.ioapic
        if self.delivery == "NMI":
            e = io.build_entry(0, k.cpus[cpu].apic_id, level=False, active_low=False, masked=False)
            e.set("DELIVERY_MODE", io.enc("DELIVERY_MODE", "NMI"))
            await io.ioapic_write_entry(self.pin, e)
            k.entry.register_nmi_handler("keepalive", self._nmi)
        else:
            async def handler(irq: int, dev: Any) -> int:
                return IRQ_HANDLED if await self._check() else IRQ_NONE

            rc = await k.irq.request_irq(self.pin, handler, IRQF_TRIGGER_RISING, "keepalive", self)
            if rc:
                raise RuntimeError(f"keepalive: request_irq({self.pin}) = {rc}")
        n = self.channel
        cfg = await h.readl(h.Tn_CFG(n))
        cfg &= ~(h.TN_PERIODIC | h.TN_LEVEL | h.TN_32BIT | h.TN_FSB)
        cfg = h.TN_ROUTE.put(cfg, self.pin) | h.TN_ENABLE
        await self.feed()
        await h.writel(cfg, h.Tn_CFG(n))
        self.armed = True

    async def feed(self) -> None:
        """Push the deadline ``timeout`` ahead (write comparator low, then high)."""
        h = self.k.hpet
        self.deadline = await h.read_counter() + self.timeout_ticks
        await h.writel(self.deadline & 0xFFFFFFFF, h.Tn_CMP(self.channel))
        await h.writel(self.deadline >> 32, h.Tn_CMP(self.channel) + 4)
        self.feeds += 1

    async def stop(self) -> None:
        h = self.k.hpet
        cfg = await h.readl(h.Tn_CFG(self.channel))
        await h.writel(cfg & ~h.TN_ENABLE, h.Tn_CFG(self.channel))
        self.armed = False

    async def _check(self) -> bool:
        if not self.armed:
            return False
        if await self.k.hpet.read_counter() < self.deadline:
            return False
        self.expired = True
        self.k.printk("watchdog: keepalive not fed: Initiating system reboot")
        raise PlatformReset(f"keepalive expired at HPET count {self.deadline}")

    async def _nmi(self, regs: PtRegs) -> int:
        return int(await self._check())
