"""The software stack's Linux constants against Linux's own values, written
here as literals (the other sw tests may then use the names)."""

from __future__ import annotations

from irqforge.sw import entry, hrtimer, irq, kernel, smp, softirq, tasklet, timer, traps, watchdog


def test_softirq_numbers_and_restart_limit() -> None:
    # include/linux/interrupt.h enum; kernel/softirq.c MAX_SOFTIRQ_RESTART
    assert list(range(10)) == [
        softirq.HI_SOFTIRQ,
        softirq.TIMER_SOFTIRQ,
        softirq.NET_TX_SOFTIRQ,
        softirq.NET_RX_SOFTIRQ,
        softirq.BLOCK_SOFTIRQ,
        softirq.IRQ_POLL_SOFTIRQ,
        softirq.TASKLET_SOFTIRQ,
        softirq.SCHED_SOFTIRQ,
        softirq.HRTIMER_SOFTIRQ,
        softirq.RCU_SOFTIRQ,
    ]
    assert softirq.MAX_SOFTIRQ_RESTART == 10


def test_preempt_count_layout() -> None:
    # include/linux/preempt.h: PREEMPT 8 bits, SOFTIRQ 8 bits, HARDIRQ 4 bits, NMI 4 bits
    assert kernel.PREEMPT_OFFSET == 0x1
    assert kernel.SOFTIRQ_OFFSET == 0x100
    assert kernel.SOFTIRQ_DISABLE_OFFSET == 0x200
    assert kernel.HARDIRQ_OFFSET == 0x10000
    assert kernel.NMI_OFFSET == 0x100000


def test_irq_return_values_and_flags() -> None:
    # include/linux/irqreturn.h, include/linux/interrupt.h
    assert (irq.IRQ_NONE, irq.IRQ_HANDLED, irq.IRQ_WAKE_THREAD) == (0, 1, 2)
    assert (irq.IRQF_TRIGGER_RISING, irq.IRQF_TRIGGER_FALLING, irq.IRQF_TRIGGER_HIGH, irq.IRQF_TRIGGER_LOW) == (
        0x1,
        0x2,
        0x4,
        0x8,
    )
    assert irq.IRQF_SHARED == 0x80
    assert irq.IRQF_PROBE_SHARED == 0x100
    assert irq.IRQF_PERCPU == 0x400
    assert irq.IRQF_NOBALANCING == 0x800
    assert irq.IRQF_IRQPOLL == 0x1000
    assert irq.IRQF_ONESHOT == 0x2000
    assert irq.IRQF_NO_SUSPEND == 0x4000
    assert irq.IRQF_FORCE_RESUME == 0x8000
    assert irq.IRQF_NO_THREAD == 0x10000
    assert irq.IRQF_TIMER == 0x200 | 0x4000 | 0x10000  # __IRQF_TIMER | IRQF_NO_SUSPEND | IRQF_NO_THREAD


def test_timer_wheel_and_hrtimer_constants() -> None:
    # kernel/time/timer.c; include/linux/hrtimer.h
    assert (timer.LVL_CLK_SHIFT, timer.LVL_BITS, timer.LVL_SIZE) == (3, 6, 64)
    assert (hrtimer.HRTIMER_NORESTART, hrtimer.HRTIMER_RESTART) == (0, 1)
    # kernel/watchdog.c: NUM_SAMPLE_PERIODS 5
    assert watchdog.NUM_SAMPLE_PERIODS == 5


def test_tasklet_csd_and_page_fault_bits() -> None:
    # include/linux/interrupt.h TASKLET_STATE_SCHED/RUN; kernel/smp.c CSD_FLAG_LOCK;
    # arch/x86/include/asm/trap_pf.h X86_PF_*
    assert (tasklet.TASKLET_STATE_SCHED, tasklet.TASKLET_STATE_RUN) == (0, 1)
    assert smp.CSD_FLAG_LOCK == 0x01
    assert (traps.X86_PF_PROT, traps.X86_PF_WRITE, traps.X86_PF_USER, traps.X86_PF_RSVD, traps.X86_PF_INSTR) == (
        1,
        2,
        4,
        8,
        16,
    )
    assert (traps.X86_PF_PK, traps.X86_PF_SHSTK, traps.X86_PF_SGX) == (1 << 5, 1 << 6, 1 << 15)


def test_eflags_if() -> None:
    # SDM vol. 1 Figure 3-8: EFLAGS.IF is bit 9; Linux processor-flags.h X86_EFLAGS_IF 0x200
    assert entry.X86_EFLAGS_IF == 0x200
