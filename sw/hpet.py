"""HPET driver (arch/x86/kernel/hpet.c): clocksource and clock event channels.

``hpet_enable`` checks the capabilities (period within 100 000 … 100 000 000
fs), stops the counter, clears ENABLE/LEVEL/FSB of every channel, resets and
restarts the counter. Channel 0 in legacy replacement mode is the boot clock
event (IRQ 0 → IO-APIC pin 2). Periodic programming follows
``hpet_clkevt_set_state_periodic`` (stop counter; ENABLE|PERIODIC|SETVAL|32BIT;
comparator = now + delta; udelay(1); comparator = delta again for the period;
start counter); one-shot ``set_next_event`` writes counter + delta and
returns -ETIME when fewer than ``HPET_MIN_CYCLES`` remain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .clockevents import CLOCK_EVT_FEAT_ONESHOT, CLOCK_EVT_FEAT_PERIODIC, NSEC_PER_SEC, ClockEventDevice

if TYPE_CHECKING:
    from .context import DeviceAccess

__all__ = ["HPET_MIN_CYCLES", "HPET_MIN_PROG_DELTA", "Hpet", "HpetChannel"]

HPET_MIN_CYCLES = 128
HPET_MIN_PROG_DELTA = HPET_MIN_CYCLES + (HPET_MIN_CYCLES >> 1)
HPET_MIN_PERIOD = 100_000
HPET_MAX_PERIOD = 100_000_000
FSEC_PER_SEC = 1_000_000_000_000_000
ETIME = 62


class Hpet:
    """The HPET block: register access, counter, channels."""

    def __init__(self, kernel: DeviceAccess) -> None:
        self.k = kernel
        spec = kernel.spec
        h = spec.hpet
        self.dev = h
        self.base = spec.platform.base("hpet")
        self.ID = self.base + h.offset("GCAP_ID")
        self.PERIOD = self.ID + 4
        self.CFG = self.base + h.offset("GEN_CONF")
        self.STATUS = self.base + h.offset("GINTR_STA")
        self.COUNTER = self.base + h.offset("MAIN_CNT")
        self.ntimers_spec = h.param("timers")
        gc = h.register("GEN_CONF")
        self.CFG_ENABLE = gc.field("ENABLE_CNF").mask
        self.CFG_LEGACY = gc.field("LEG_RT_CNF").mask
        tc = h.register("TIMER_CONF")
        self.TN_LEVEL = tc.field("INT_TYPE_CNF").mask
        self.TN_ENABLE = tc.field("INT_ENB_CNF").mask
        self.TN_PERIODIC = tc.field("TYPE_CNF").mask
        self.TN_PERIODIC_CAP = tc.field("PER_INT_CAP").mask
        self.TN_SETVAL = tc.field("VAL_SET_CNF").mask
        self.TN_32BIT = tc.field("MODE32_CNF").mask
        self.TN_ROUTE = tc.field("INT_ROUTE_CNF")
        self.TN_FSB = tc.field("FSB_EN_CNF").mask
        self.legacy_pins = spec.platform.hpet_legacy_pins
        self.period_fs = 0
        self.freq = 0
        self.channels = 0
        self.enabled = False
        self.lock = None
        self._channels: dict[int, HpetChannel] = {}

    def Tn_CFG(self, n: int) -> int:
        return self.base + self.dev.offset("TIMER_CONF", n)

    def Tn_CMP(self, n: int) -> int:
        return self.base + self.dev.offset("TIMER_CMP", n)

    async def readl(self, addr: int) -> int:
        return await self.k.read32(addr)

    async def writel(self, value: int, addr: int) -> None:
        await self.k.write32(addr, value)

    async def stop_counter(self) -> None:
        cfg = await self.readl(self.CFG)
        await self.writel(cfg & ~self.CFG_ENABLE, self.CFG)

    async def start_counter(self) -> None:
        cfg = await self.readl(self.CFG)
        await self.writel(cfg | self.CFG_ENABLE, self.CFG)

    async def restart_counter(self) -> None:
        await self.stop_counter()
        await self.writel(0, self.COUNTER)
        await self.writel(0, self.COUNTER + 4)
        await self.start_counter()

    async def read_counter(self) -> int:
        """The 64-bit main counter from two 32-bit reads (high, low, high)."""
        while True:
            hi = await self.readl(self.COUNTER + 4)
            lo = await self.readl(self.COUNTER)
            hi2 = await self.readl(self.COUNTER + 4)
            if hi == hi2:
                return (hi << 32) | lo

    async def hpet_enable(self) -> bool:
        """Probe and start the HPET; False if it is unusable."""
        k = self.k
        idv = await self.readl(self.ID)
        self.period_fs = await self.readl(self.PERIOD)
        if not HPET_MIN_PERIOD <= self.period_fs <= HPET_MAX_PERIOD:
            k.printk(f"HPET: invalid period {self.period_fs} fs, disabled")
            return False
        self.channels = ((idv >> 8) & 0x1F) + 1
        self.freq = FSEC_PER_SEC // self.period_fs
        await self.stop_counter()
        for n in range(self.channels):
            cfg = await self.readl(self.Tn_CFG(n))
            await self.writel(cfg & ~(self.TN_ENABLE | self.TN_LEVEL | self.TN_FSB), self.Tn_CFG(n))
        await self.restart_counter()
        # hpet_counting: the counter must move
        t1 = await self.readl(self.COUNTER)
        await k.udelay(1)
        t2 = await self.readl(self.COUNTER)
        if t1 == t2:
            k.printk("HPET counter not counting. HPET disabled")
            return False
        self.enabled = True
        k.printk(f"hpet0: at MMIO 0x{self.base:x}, IRQs 2, 8, {self.channels} comparators, 64-bit "
                 f"{self.freq // 1_000_000}.{self.freq % 1_000_000:06d} MHz counter")
        return True

    async def enable_legacy_int(self) -> None:
        """``hpet_enable_legacy_int``: GEN_CONF.LEG_RT_CNF = 1."""
        cfg = await self.readl(self.CFG)
        await self.writel(cfg | self.CFG_LEGACY, self.CFG)

    def legacy_clockevent(self) -> HpetChannel:
        ch = HpetChannel(self, 0, irq=0, legacy=True)
        self._channels[0] = ch
        return ch

    def channel(self, n: int, irq: int | None = None) -> HpetChannel:
        ch = self._channels.get(n)
        if ch is None:
            ch = HpetChannel(self, n, irq=irq, legacy=False)
            self._channels[n] = ch
        return ch

    async def route_cap(self, n: int) -> int:
        """Tn_INT_ROUTE_CAP: bit k = may route to IO-APIC pin k."""
        return await self.readl(self.Tn_CFG(n) + 4)

    async def assign_irq(self, n: int, exclude: set[int] | None = None) -> int:
        """``hpet_assign_irq``: the highest allowed pin ≥ 16 not in ``exclude``."""
        cap = await self.route_cap(n)
        pins = [p for p in range(31, -1, -1) if cap >> p & 1 and p >= 16 and p not in (exclude or set())]
        if not pins:
            raise RuntimeError(f"HPET timer {n}: no IO-APIC pin allowed (cap {cap:#x})")
        return pins[0]


class HpetChannel(ClockEventDevice):
    """One HPET comparator as a clock event device."""

    def __init__(self, hpet: Hpet, num: int, *, irq: int | None, legacy: bool) -> None:
        super().__init__(
            hpet.k,
            name=f"hpet{'' if legacy else num}",
            features=CLOCK_EVT_FEAT_PERIODIC | CLOCK_EVT_FEAT_ONESHOT,
            rating=50,
            freq=hpet.freq or hpet.k.clock_hz,
            min_delta_ticks=HPET_MIN_PROG_DELTA,
            max_delta_ticks=0x7FFFFFFF,
            cpu=0,
            irq=irq,
        )
        self.hpet = hpet
        self.num = num
        self.legacy = legacy
        self.route_pin: int | None = None

    async def _cfg_route(self, cfg: int) -> int:
        if self.legacy:
            if not (await self.hpet.readl(self.hpet.CFG)) & self.hpet.CFG_LEGACY:
                await self.hpet.enable_legacy_int()
            return cfg
        if self.route_pin is not None:
            cfg = self.hpet.TN_ROUTE.put(cfg, self.route_pin)
        return cfg

    async def set_state_periodic(self) -> None:
        h = self.hpet
        k = self.k
        await h.stop_counter()
        delta = ((NSEC_PER_SEC // k.HZ) * self.mult) >> self.shift
        now = await h.readl(h.COUNTER)
        cmp = (now + delta) & 0xFFFFFFFF
        cfg = await h.readl(h.Tn_CFG(self.num))
        cfg = await self._cfg_route(cfg)
        cfg |= h.TN_ENABLE | h.TN_PERIODIC | h.TN_SETVAL | h.TN_32BIT
        await h.writel(cfg, h.Tn_CFG(self.num))
        await h.writel(cmp, h.Tn_CMP(self.num))
        await k.udelay(1)
        await h.writel(delta & 0xFFFFFFFF, h.Tn_CMP(self.num))
        await h.start_counter()

    async def set_state_oneshot(self) -> None:
        h = self.hpet
        cfg = await h.readl(h.Tn_CFG(self.num))
        cfg = await self._cfg_route(cfg)
        cfg &= ~h.TN_PERIODIC
        cfg |= h.TN_ENABLE | h.TN_32BIT
        await h.writel(cfg, h.Tn_CFG(self.num))

    async def set_state_shutdown(self) -> None:
        h = self.hpet
        cfg = await h.readl(h.Tn_CFG(self.num))
        await h.writel(cfg & ~h.TN_ENABLE, h.Tn_CFG(self.num))

    async def set_next_event(self, delta: int) -> int:
        """``hpet_clkevt_set_next_event``."""
        h = self.hpet
        cnt = await h.readl(h.COUNTER)
        cnt = (cnt + (delta & 0xFFFFFFFF)) & 0xFFFFFFFF
        await h.writel(cnt, h.Tn_CMP(self.num))
        res = (cnt - await h.readl(h.COUNTER)) & 0xFFFFFFFF
        if res >= 1 << 31:
            res -= 1 << 32
        return -ETIME if res < HPET_MIN_CYCLES else 0
