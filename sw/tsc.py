"""The TSC-deadline clock event device (arch/x86/kernel/apic/apic.c ``lapic_next_deadline``).

When the LAPIC has the TSC-deadline timer mode (``X86_FEATURE_TSC_DEADLINE_TIMER``:
the spec's LVT timer mode ``TSC_DEADLINE`` and the IA32_TSC_DEADLINE MSR of
the x2APIC MSR view), Linux's per-CPU tick device is ``lapic-deadline``: a
one-shot device (no periodic mode, so the periodic tick is emulated by one-shot
programming) counting TSC cycles / :data:`TSC_DIVISOR`, armed by writing the
absolute deadline ``rdtsc() + delta * TSC_DIVISOR`` to IA32_TSC_DEADLINE.
``__setup_APIC_LVTT`` only writes the LVT timer entry in that mode (no divider,
no initial count); ``lapic_timer_shutdown`` masks the entry and writes 0 to the
deadline MSR. ``KernelConfig.tsc_deadline = False`` is Linux's
``lapic=notscdeadline``: the LAPIC timer's one-shot/periodic modes instead.

The TSC counts platform clock cycles (one tick per clock), so ``tsc_khz`` is
the spec's clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .clockevents import CLOCK_EVT_FEAT_ONESHOT, ClockEventDevice
from .msr import MSR_IA32_TSC_DEADLINE

if TYPE_CHECKING:
    from irqforge.spec import Spec

    from .apic import Apic

__all__ = ["TSC_DIVISOR", "TscDeadlineTimer", "tsc_deadline_supported"]

#: arch/x86/kernel/apic/apic.c: the device counts TSC cycles / 8.
TSC_DIVISOR = 8


def tsc_deadline_supported(spec: Spec) -> bool:
    """``boot_cpu_has(X86_FEATURE_TSC_DEADLINE_TIMER)``: the LVT timer has the mode and the MSR exists."""
    lapic = spec.lapic
    tm = lapic.register("LVT_TIMER").field("TIMER_MODE")
    return (
        bool(lapic.params.get("tsc_deadline", 0))
        and any(e.name == "TSC_DEADLINE" for e in tm.enums)
        and any(m.address == MSR_IA32_TSC_DEADLINE for m in lapic.msrs)
    )


class TscDeadlineTimer(ClockEventDevice):
    """``lapic_clockevent`` in TSC-deadline mode (``lapic-deadline``), see the module docstring."""

    def __init__(self, apic: Apic, cpu: int) -> None:
        k = apic.k
        freq = k.clock_hz // TSC_DIVISOR
        super().__init__(
            k,
            name="lapic-deadline",
            features=CLOCK_EVT_FEAT_ONESHOT,
            rating=150,
            freq=freq,
            min_delta_ticks=0xF,
            # Linux registers ~0UL; clockevents_config caps the conversion range at 600 s
            max_delta_ticks=600 * freq,
            cpu=cpu,
        )
        self.apic = apic
        tm = k.spec.lapic.register("LVT_TIMER").field("TIMER_MODE")
        self.APIC_LVT_TIMER_TSCDEADLINE = tm.enum("TSC_DEADLINE") << tm.lsb
        self.deadlines: list[int] = []
        """Every deadline written (TSC values), for tests and traces."""

    async def set_state_oneshot(self) -> None:
        """``__setup_APIC_LVTT(..., oneshot=1, irqen=1)`` in deadline mode: the LVT entry only."""
        a = self.apic
        await a.write("LVT_TIMER", a.LOCAL_TIMER_VECTOR | self.APIC_LVT_TIMER_TSCDEADLINE)

    async def set_state_periodic(self) -> None:
        raise RuntimeError("lapic-deadline has no periodic mode (CLOCK_EVT_FEAT_PERIODIC is not set)")

    async def set_state_shutdown(self) -> None:
        """``lapic_timer_shutdown``: mask the LVT entry, then disarm (deadline 0, or TMICT 0)."""
        a = self.apic
        v = await a.read("LVT_TIMER")
        v |= a.APIC_LVT_MASKED | a.LOCAL_TIMER_VECTOR
        await a.write("LVT_TIMER", v)
        if v & self.APIC_LVT_TIMER_TSCDEADLINE:
            a.msr.wrmsrq_sync(MSR_IA32_TSC_DEADLINE, 0)
        else:
            await a.write("TMICT", 0)

    async def set_next_event(self, delta: int) -> int:
        """``lapic_next_deadline``: wrmsr(IA32_TSC_DEADLINE, rdtsc() + delta * TSC_DIVISOR)."""
        msr = self.apic.msr
        deadline = msr.rdtsc_sync() + delta * TSC_DIVISOR
        self.deadlines.append(deadline)
        msr.wrmsrq_sync(MSR_IA32_TSC_DEADLINE, deadline)
        return 0
