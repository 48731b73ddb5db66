"""IDT packing against Linux's idt_bits values and BUG_ON bounds."""

from __future__ import annotations

from typing import Any

import pytest

from irqforge.sw.kernel import Kernel, KernelBug


@pytest.fixture
def kernel(spec: Any) -> Kernel:
    from irqforge.sim.backends.model import ModelMachine

    k = Kernel(ModelMachine(spec), spec)
    k.idt.idt_setup_traps()
    k.idt.idt_setup_apic_and_irq_gates()
    return k


def test_linux_gate_words(kernel: Kernel, spec: Any) -> None:
    vm = spec.vectors
    assert kernel.idt.gate_bits(vm["DE"]) == 0x8E00
    assert kernel.idt.gate_bits(vm["BP"]) == 0xEE00
    assert kernel.idt.gate_bits(vm["NMI"]) == 0x8E02
    assert kernel.idt.gate_bits(vm["DF"]) == 0x8E01
    assert kernel.idt.gate_bits(vm["IA32_SYSCALL_VECTOR"]) == 0xEE00
    assert kernel.idt.gate_bits(vm["LOCAL_TIMER_VECTOR"]) == 0x8E00


def test_every_gate_present_and_points_at_text(kernel: Kernel) -> None:
    for n in range(256):
        g = kernel.idt.read_gate(n)
        if n in (0x09,) or 0x16 <= n <= 0x1B or n in (0x0F, 0x1F):
            continue
        assert g.present, hex(n)
        assert g.selector == 0x10
        assert kernel.symbol_at(g.offset) is not None, hex(n)


def test_set_gate_variants(kernel: Kernel) -> None:
    idt = kernel.idt
    idt.set_trap_gate(0x90, 0xFFFFFFFF81234560)
    assert idt.gate_bits(0x90) == 0x8F00
    assert idt.read_gate(0x90).offset == 0xFFFFFFFF81234560
    idt.set_system_gate(0x91, 0x1000)
    assert idt.gate_bits(0x91) == 0xEF00
    idt.set_system_intr_gate(0x92, 0x1000)
    assert idt.gate_bits(0x92) == 0xEE00
    idt.set_intr_gate_ist(0x93, 0x1000, 3)
    assert idt.gate_bits(0x93) == 0x8E03
    assert bytes(idt.table[0x93 * 16 + 12:0x93 * 16 + 16]) == b"\0\0\0\0"


@pytest.mark.parametrize("n", [256, -1, 1000])
def test_bug_on_out_of_range(kernel: Kernel, n: int) -> None:
    with pytest.raises(KernelBug):
        kernel.idt.set_intr_gate(n, 0x1000)


def test_bug_on_bad_ist(kernel: Kernel) -> None:
    with pytest.raises(KernelBug):
        kernel.idt.set_intr_gate_ist(0x40, 0x1000, 8)
