"""The multi-CPU platform (``irqforge_platform``): N LAPICs, the IO-APIC, the
HPET and the interrupt router, behind one AXI4-Lite port per CPU.

Ports (``N`` = ``spec.platform.ncpus``, ``P`` = the IO-APIC's pin count):

``cpu__{i}__bus__*``
    AXI4-Lite slave, 32-bit addresses, CPU ``i`` is the master. The address
    map comes from ``spec.platform.address_map``: the ``lapic`` window is CPU
    ``i``'s own LAPIC, the ``ioapic`` and ``hpet`` windows the shared chips;
    any other address answers DECERR (see :class:`~irqforge.hw.xbar.AxiLiteCrossbar`
    for ordering and fairness).
``cpu__{i}__{intr,vector,inta,ack_valid,ack_vector,nmi,nmi_ack,init,sipi,sipi_vector}``
    CPU ``i``'s LAPIC, as docs/hardware.md lists them.
``cpu__{i}__msr__{valid,write,addr,wdata}`` in, ``cpu__{i}__msr__{ready,rdata,fault}`` out
    CPU ``i``'s RDMSR/WRMSR port (:class:`MsrSignature`): the requester holds
    ``valid`` until ``ready``; the access takes effect in the cycle with both,
    where ``rdata`` and ``fault`` (#GP) are valid. IA32_TSC (0x10) is answered
    here, in the cycle ``valid`` rises; every other address goes straight
    (combinationally) to CPU ``i``'s LAPIC's ``msr`` port, which faults what it
    does not implement.
``irq[P-1:0]``
    Device lines, OR-ed with the HPET's lines into the IO-APIC pins.

TSC: each CPU has a 64-bit counter, 0 in the first cycle after reset and one
tick per ``clk`` (the spec has no TSC ratio), fed to its LAPIC's ``tsc``
input. RDMSR 0x10 returns the value of the cycle of the access; WRMSR 0x10
sets all 64 bits (SDM 17.17: current processors write the whole counter), the
TSC reading the written value in the next cycle and counting on from there.

Wiring: LAPIC ``i`` starts with ``initial_apic_id`` = ``spec.platform.cpus[i].apic_id``
and has LINT0/LINT1 tied low. IO-APIC messages, HPET MSIs and every LAPIC's
IPIs go into the :class:`~irqforge.hw.router.Router`, whose outputs feed the
LAPICs' ``msg_in``; the LAPICs' EOI broadcasts go through the router to the
IO-APIC.

Latencies (cycles; the per-block rules are in each block's docstring):

- device line change in cycle ``t`` → the IO-APIC sees it at the closing edge
  and raises ``msg__valid`` in ``t+1`` → the router passes it to ``msg_in``
  in ``t+1`` (0 cycles) → the LAPIC sets IRR at that edge → ``intr`` in
  ``t+3`` after the LAPIC's registered priority stage: **3 cycles** pin →
  ``intr``.
- HPET comparator match: ``irq`` (or ``msi__valid``) one cycle after the
  match, then as above (the IO-APIC adds one, the MSI path does not).
- ICR-low write issued in ``t`` → ``ipi__valid`` in ``t+1`` → router (0) →
  remote IRR at that edge → remote ``intr`` in ``t+3``. The crossbar adds
  nothing in front of the LAPIC.
- A register access to the IO-APIC or the HPET: the crossbar's register
  stage adds one cycle between the CPU's handshake and the device's
  (:data:`~irqforge.hw.xbar.SHARED_SLAVE_DELAY`); accesses to the own LAPIC
  pass straight through.

:func:`irqforge.sim.latency.measure_latencies` measures these on the RTL
(pin → ``intr`` 3, ICR → remote ``intr`` 3, HPET match → ``intr`` 4 through
the IO-APIC and 3 by MSI, ``inta`` → ``ack_valid`` 1), and
tests/hw/test_platform_latency.py pins them.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from irqforge.hw import as_instance
from irqforge.hw import hpet as hpet_mod
from irqforge.hw import ioapic as ioapic_mod
from irqforge.hw import lapic as lapic_mod
from irqforge.hw.bus import AXI4LiteSignature
from irqforge.hw.lapic import MsrSignature
from irqforge.hw.messages import LapicStateSignature
from irqforge.hw.router import Router
from irqforge.hw.xbar import AxiLiteCrossbar, Region
from irqforge.spec import Spec

__all__ = ["CPU_PINS", "IA32_TSC", "CpuSignature", "MsrSignature", "Platform", "top"]

#: The CPU-side LAPIC ports of docs/hardware.md, in order.
CPU_PINS = ("intr", "vector", "inta", "ack_valid", "ack_vector", "nmi", "nmi_ack", "init", "sipi", "sipi_vector")

#: The time-stamp counter's MSR address (SDM 17.17; answered by the platform).
IA32_TSC = 0x10


class CpuSignature(wiring.Signature):
    """What a CPU sees of the platform, from the CPU's view (it is the bus master)."""

    def __init__(self) -> None:
        super().__init__(
            {
                "bus": Out(AXI4LiteSignature(32)),
                "intr": In(1),
                "vector": In(8),
                "inta": Out(1),
                "ack_valid": In(1),
                "ack_vector": In(8),
                "nmi": In(1),
                "nmi_ack": Out(1),
                "init": In(1),
                "sipi": In(1),
                "sipi_vector": In(8),
                "msr": Out(MsrSignature()),
            }
        )


class Platform(wiring.Component):
    """``irqforge_platform`` for ``spec``; ports and wiring in the module docstring."""

    def __init__(self, spec: Spec, *, blackbox: bool = False) -> None:
        self.spec = spec
        self.blackbox = blackbox
        self._n = spec.platform.ncpus
        self._pins = spec.ioapic.param("pins")
        super().__init__(
            {
                "cpu": In(CpuSignature()).array(self._n),
                "irq": In(self._pins),
            }
        )

    @property
    def ncpus(self) -> int:
        return self._n

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        spec = self.spec
        n = self._n
        amap = spec.platform.address_map

        def region(name: str, device: Any) -> Region:
            base, size = amap[name]
            return Region(name, base, size, device.address_width)

        m.submodules.xbar = xbar = AxiLiteCrossbar(
            n, region("lapic", spec.lapic), [region("ioapic", spec.ioapic), region("hpet", spec.hpet)]
        )
        def block(component: Any, module: str) -> Any:
            # Verilog instantiates the separately generated module; simulation elaborates it.
            return as_instance(component, module) if self.blackbox else component

        router = Router(n)
        ioapic = ioapic_mod.top(spec)
        hpet = hpet_mod.top(spec)
        m.submodules.router = block(router, "irqforge_router")
        m.submodules.ioapic = block(ioapic, "irqforge_ioapic")
        m.submodules.hpet = block(hpet, "irqforge_hpet")
        lapics = []
        for i, cpu_spec in enumerate(spec.platform.cpus):
            lapic = lapic_mod.top(spec)
            m.submodules[f"lapic{i}"] = block(lapic, "irqforge_lapic")
            lapics.append(lapic)
            cpu = self.cpu[i]
            wiring.connect(m, wiring.flipped(cpu.bus), xbar.m[i])
            wiring.connect(m, xbar.p[i], lapic.bus)
            m.d.comb += lapic.initial_apic_id.eq(cpu_spec.apic_id)
            for name in CPU_PINS:
                if CpuSignature().members[name].flow is Out:
                    m.d.comb += getattr(lapic, name).eq(getattr(cpu, name))
                else:
                    m.d.comb += getattr(cpu, name).eq(getattr(lapic, name))
            m.d.comb += [lapic.lint0.eq(0), lapic.lint1.eq(0)]
            self._elaborate_msr(m, i, lapic)
            wiring.connect(m, lapic.ipi, router.ipi[i])
            wiring.connect(m, router.msg[i], lapic.msg_in)
            wiring.connect(m, lapic.eoi, router.eoi[i])
            state = router.lapic[i]
            for name in LapicStateSignature().members:
                # A LAPIC without x2APIC mode has no ``x2apic`` output: always xAPIC.
                m.d.comb += getattr(state, name).eq(getattr(lapic, name, 0))

        wiring.connect(m, xbar.ioapic, ioapic.bus)
        wiring.connect(m, xbar.hpet, hpet.bus)
        hpet_irq = hpet.irq
        width = min(len(hpet_irq), self._pins)
        m.d.comb += ioapic.irq.eq(self.irq | hpet_irq[:width] | Const(0, self._pins))
        # The IO-APIC and HPET ports have the members of hw/messages.py's
        # signatures, which is all ``connect`` checks.
        wiring.connect(m, ioapic.msg, router.ioapic)
        wiring.connect(m, hpet.msi, router.msi)
        wiring.connect(m, router.ioapic_eoi, ioapic.eoi)
        return m

    def _elaborate_msr(self, m: Module, i: int, lapic: Any) -> None:
        """CPU ``i``'s TSC and MSR port: IA32_TSC here, every other MSR to its LAPIC."""
        req = self.cpu[i].msr
        tsc = Signal(64, name=f"tsc{i}")
        is_tsc = Signal(name=f"msr_is_tsc{i}")
        m.d.comb += is_tsc.eq(req.addr == IA32_TSC)
        # One tick per clk from reset; WRMSR 0x10 sets all 64 bits (SDM 17.17),
        # the value counting on from the next cycle.
        with m.If(req.valid & req.write & is_tsc):
            m.d.sync += tsc.eq(req.wdata)
        with m.Else():
            m.d.sync += tsc.eq(tsc + 1)
        if hasattr(lapic, "tsc"):
            m.d.comb += lapic.tsc.eq(tsc)
        port = getattr(lapic, "msr", None)
        if port is None:
            # A LAPIC without an MSR port: every other MSR raises #GP at once.
            m.d.comb += [req.ready.eq(req.valid), req.rdata.eq(Mux(is_tsc, tsc, 0)), req.fault.eq(~is_tsc)]
            return
        m.d.comb += [
            port.valid.eq(req.valid & ~is_tsc),
            port.write.eq(req.write),
            port.addr.eq(req.addr),
            port.wdata.eq(req.wdata),
            req.ready.eq(Mux(is_tsc, req.valid, port.ready)),
            req.rdata.eq(Mux(is_tsc, tsc, port.rdata)),
            req.fault.eq(~is_tsc & port.fault),
        ]


def top(spec: Spec, *, blackbox: bool = False) -> Platform:
    """The platform of ``spec`` (Verilog module ``irqforge_platform``).

    With ``blackbox`` the LAPICs, IO-APIC, HPET and router are instances of
    their own Verilog modules (``irqforge_lapic`` …) rather than copies
    inside ``irqforge_platform``: what ``irqforge gen`` writes, and what the
    cocotb benches compile (each block once). Amaranth's simulator needs the
    default, which elaborates the blocks.
    """
    return Platform(spec, blackbox=blackbox)
