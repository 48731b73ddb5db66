"""``irqforge_cosim``: a co-simulation wrapper that runs the bus and INTA
handshakes of every CPU in hardware, so Python crosses into the simulator once
per operation instead of once per clock cycle.

:class:`CosimHarness` instantiates the generated ``irqforge_platform`` module
(an :class:`~amaranth.hdl.Instance`, so the harness Verilog is a few hundred
lines and the platform files are exactly the ones ``irqforge gen`` writes) and
gives each CPU ``i``:

``cmd__{i}__{valid,write,addr,wdata}`` in, ``cmd__{i}__{done,rdata,resp}`` out
    One 32-bit AXI4-Lite transaction. A command is taken while ``valid`` is
    high and the port is idle (AWVALID/WVALID or ARVALID follow ``valid``
    combinationally in that cycle); the harness then drives
    AW+W (both held until accepted, independently) and waits for B, or AR and
    waits for R, with ``bready``/``rready`` high. ``rdata``/``resp`` are
    latched at the closing handshake and ``done`` pulses for one cycle the
    cycle *after* that, so both are stable for a whole cycle before ``done``
    rises (no same-edge race with the simulator's NBA updates, which matters
    on Icarus). The caller drops ``valid`` (or writes the next command) when
    it sees ``done``: the port accepts again at the next edge.
``ack__{i}__{valid}`` in, ``ack__{i}__{done,vector,ok}`` out
    INTA sequencer: a request offered while idle pulses the LAPIC's
    ``inta`` for that cycle, latches ``ack_vector`` at ``ack_valid`` and
    pulses ``done`` the cycle after; ``ok`` is 0 when no ``ack_valid`` came
    within :data:`ACK_TIMEOUT_CYCLES` cycles.
``cpu__{i}__{intr,vector,ack_valid,ack_vector,nmi,init,sipi,sipi_vector}`` out, ``cpu__{i}__{inta,nmi_ack}`` in
    The platform's CPU pins, passed through (``inta`` OR-ed with the sequencer's pulse).
``msr__{i}__{valid,write,addr,wdata}`` in, ``msr__{i}__{done,rdata,fault}`` out
    One RDMSR/WRMSR on the platform's ``cpu__{i}__msr__*`` port (when the
    platform has one): the request goes to the port combinationally in the
    cycle it is offered and is held until ``ready``; ``rdata``/``fault`` are
    latched in that cycle and ``done`` pulses the cycle after, as for a bus
    command. ``fault`` = the access raised #GP.
``cpu__{i}__pending`` out
    ``intr | nmi``: one signal to read and one edge to wait on.
``status`` out
    Every CPU's ``intr`` and ``nmi`` in one vector (bit ``2i`` is CPU ``i``'s
    ``intr``, bit ``2i + 1`` its ``nmi``): one read tells the software stack
    what is pending everywhere.
``irq`` in
    The platform's device lines.

Requests are put on the bus (or ``inta``) combinationally in the cycle they
are offered. Latencies (rising edges from offering the request to ``done``
high): a LAPIC register read is 3 (AR, R, ``done``); the INTA sequence is 3
(``inta``, ``ack_valid`` latched, ``done``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from irqforge.spec import Spec

__all__ = [
    "ACK_TIMEOUT_CYCLES",
    "LINT_WAIVER",
    "MODULE",
    "VERILATOR_PUBLIC",
    "CmdSignature",
    "CosimHarness",
    "MsrCmdSignature",
    "harness_fingerprint",
    "harness_verilog",
    "platform_has_msr",
]

#: This module's source as it was imported: the harness Verilog is made from
#: the classes in memory, so its cache key must not see a later edit of the file.
_SOURCE: Final = Path(__file__).read_bytes()

#: The harness's Verilog module name.
MODULE: Final = "irqforge_cosim"
#: Cycles the INTA sequencer waits for ``ack_valid`` before reporting ``ok = 0``.
ACK_TIMEOUT_CYCLES: Final = 16

#: Verilator waivers for the harness file (Amaranth's Verilog idioms, as for the blocks).
LINT_WAIVER: Final = """\
// irqforge_cosim.v (sim/cosim_harness.py): Amaranth's Verilog idioms.
lint_off -rule WIDTHEXPAND -file "*irqforge_cosim*.v"
lint_off -rule WIDTHTRUNC -file "*irqforge_cosim*.v"
lint_off -rule PROCASSINIT -file "*irqforge_cosim*.v"
lint_off -rule CASEINCOMPLETE -file "*irqforge_cosim*.v"
lint_off -rule UNUSEDSIGNAL -file "*irqforge_cosim*.v"
lint_off -rule DECLFILENAME -file "*irqforge_cosim*.v"
lint_off -rule PINCONNECTEMPTY -file "*irqforge_cosim*.v"
"""

#: The only signals cocotb touches: the harness's ports. The co-simulation is
#: built without ``--public-flat-rw`` (:func:`irqforge.sim.runner.build_and_test`),
#: so Verilator may optimize everything inside.
VERILATOR_PUBLIC: Final = f"""\
// {MODULE}: the ports CocotbMachine drives and reads; nothing else is public.
public_flat_rw -module "{MODULE}" -var "*"
"""

#: CPU pins passed through from the platform (platform output → harness output).
_PINS_OUT: Final = ("intr", "vector", "ack_valid", "ack_vector", "nmi", "init", "sipi", "sipi_vector")


class CmdSignature(wiring.Signature):
    """One CPU's command port, from the harness's view."""

    def __init__(self) -> None:
        super().__init__(
            {
                "valid": In(1),
                "write": In(1),
                "addr": In(32),
                "wdata": In(32),
                "done": Out(1),
                "rdata": Out(32),
                "resp": Out(2),
            }
        )


class MsrCmdSignature(wiring.Signature):
    """One CPU's MSR command port, from the harness's view."""

    def __init__(self) -> None:
        super().__init__(
            {
                "valid": In(1),
                "write": In(1),
                "addr": In(32),
                "wdata": In(64),
                "done": Out(1),
                "rdata": Out(64),
                "fault": Out(1),
            }
        )


def platform_has_msr(spec: Spec) -> bool:
    """Whether the platform's CPUs have the ``msr`` port (IA32_TSC, the LAPIC's MSRs)."""
    from irqforge.hw.platform import CpuSignature

    return "msr" in CpuSignature().members


class AckSignature(wiring.Signature):
    """One CPU's INTA sequencer port, from the harness's view."""

    def __init__(self) -> None:
        super().__init__({"valid": In(1), "done": Out(1), "vector": Out(8), "ok": Out(1)})


class PinsSignature(wiring.Signature):
    """One CPU's pins as the harness shows them."""

    def __init__(self) -> None:
        members: dict[str, Any] = {
            "intr": Out(1),
            "vector": Out(8),
            "ack_valid": Out(1),
            "ack_vector": Out(8),
            "nmi": Out(1),
            "init": Out(1),
            "sipi": Out(1),
            "sipi_vector": Out(8),
            "pending": Out(1),
            "inta": In(1),
            "nmi_ack": In(1),
        }
        super().__init__(members)


class CosimHarness(wiring.Component):
    """``irqforge_cosim`` around the generated ``irqforge_platform`` of ``spec``."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._n = spec.platform.ncpus
        self.has_msr = platform_has_msr(spec)
        msr: dict[str, Any] = {"msr": Out(MsrCmdSignature()).array(self._n)} if self.has_msr else {}
        super().__init__(
            {
                "cmd": Out(CmdSignature()).array(self._n),
                **msr,
                "ack": Out(AckSignature()).array(self._n),
                "cpu": Out(PinsSignature()).array(self._n),
                "irq": In(spec.ioapic.param("pins")),
                "status": Out(2 * self._n),
            }
        )

    def elaborate(self, platform: Any) -> Module:
        from irqforge.hw import as_instance
        from irqforge.hw.platform import top

        m = Module()
        plat = top(self.spec, blackbox=True)
        m.submodules.platform = as_instance(plat, "irqforge_platform")
        m.d.comb += plat.irq.eq(self.irq)
        for i in range(self._n):
            self._bus_master(m, self.cmd[i], plat.cpu[i].bus)
            self._inta(m, self.ack[i], plat.cpu[i], self.cpu[i])
            if self.has_msr:
                self._msr_master(m, self.msr[i], plat.cpu[i].msr)
            for name in _PINS_OUT:
                m.d.comb += getattr(self.cpu[i], name).eq(getattr(plat.cpu[i], name))
            m.d.comb += [
                plat.cpu[i].nmi_ack.eq(self.cpu[i].nmi_ack),
                self.cpu[i].pending.eq(plat.cpu[i].intr | plat.cpu[i].nmi),
                self.status[2 * i].eq(plat.cpu[i].intr),
                self.status[2 * i + 1].eq(plat.cpu[i].nmi),
            ]
        return m

    @staticmethod
    def _bus_master(m: Module, cmd: Any, bus: Any) -> None:
        """AXI4-Lite master for one command at a time (AW+W → B, AR → R)."""
        aw_pending = Signal()
        w_pending = Signal()
        addr = Signal(32)
        wdata = Signal(32)
        m.d.comb += [
            bus.awaddr.eq(addr),
            bus.araddr.eq(addr),
            bus.wdata.eq(wdata),
            bus.wstrb.eq(0xF),
            bus.awprot.eq(0),
            bus.arprot.eq(0),
            bus.awvalid.eq(aw_pending),
            bus.wvalid.eq(w_pending),
        ]
        m.d.sync += cmd.done.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                # The command goes onto the bus in the cycle it is offered
                # (no cycle spent registering it first).
                m.d.comb += [bus.awaddr.eq(cmd.addr), bus.araddr.eq(cmd.addr), bus.wdata.eq(cmd.wdata)]
                with m.If(cmd.valid):
                    m.d.sync += [addr.eq(cmd.addr), wdata.eq(cmd.wdata)]
                    with m.If(cmd.write):
                        m.d.comb += [bus.awvalid.eq(1), bus.wvalid.eq(1)]
                        m.d.sync += [aw_pending.eq(~bus.awready), w_pending.eq(~bus.wready)]
                        with m.If(bus.awready & bus.wready):
                            m.next = "B"
                        with m.Else():
                            m.next = "WRITE"
                    with m.Else():
                        m.d.comb += bus.arvalid.eq(1)
                        with m.If(bus.arready):
                            m.next = "R"
                        with m.Else():
                            m.next = "AR"
            with m.State("WRITE"):
                with m.If(bus.awready):
                    m.d.sync += aw_pending.eq(0)
                with m.If(bus.wready):
                    m.d.sync += w_pending.eq(0)
                with m.If((~aw_pending | bus.awready) & (~w_pending | bus.wready)):
                    m.next = "B"
            with m.State("B"):
                m.d.comb += bus.bready.eq(1)
                with m.If(bus.bvalid):
                    m.d.sync += cmd.resp.eq(bus.bresp)
                    m.next = "FINISH"
            with m.State("AR"):
                m.d.comb += bus.arvalid.eq(1)
                with m.If(bus.arready):
                    m.next = "R"
            with m.State("R"):
                m.d.comb += bus.rready.eq(1)
                with m.If(bus.rvalid):
                    m.d.sync += [cmd.rdata.eq(bus.rdata), cmd.resp.eq(bus.rresp)]
                    m.next = "FINISH"
            with m.State("FINISH"):
                m.d.sync += cmd.done.eq(1)
                m.next = "IDLE"

    @staticmethod
    def _msr_master(m: Module, cmd: Any, port: Any) -> None:
        """Offer the request to the ``msr`` port, hold it until ``ready``, latch, pulse ``done``."""
        write = Signal()
        addr = Signal(32)
        wdata = Signal(64)
        m.d.sync += cmd.done.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += [
                    port.valid.eq(cmd.valid),
                    port.write.eq(cmd.write),
                    port.addr.eq(cmd.addr),
                    port.wdata.eq(cmd.wdata),
                ]
                with m.If(cmd.valid):
                    m.d.sync += [write.eq(cmd.write), addr.eq(cmd.addr), wdata.eq(cmd.wdata)]
                    with m.If(port.ready):
                        m.d.sync += [cmd.rdata.eq(port.rdata), cmd.fault.eq(port.fault)]
                        m.next = "FINISH"
                    with m.Else():
                        m.next = "WAIT"
            with m.State("WAIT"):
                m.d.comb += [port.valid.eq(1), port.write.eq(write), port.addr.eq(addr), port.wdata.eq(wdata)]
                with m.If(port.ready):
                    m.d.sync += [cmd.rdata.eq(port.rdata), cmd.fault.eq(port.fault)]
                    m.next = "FINISH"
            with m.State("FINISH"):
                m.d.sync += cmd.done.eq(1)
                m.next = "IDLE"

    @staticmethod
    def _inta(m: Module, ack: Any, plat_cpu: Any, pins: Any) -> None:
        """Pulse ``inta``, latch ``ack_vector`` at ``ack_valid`` (or time out)."""
        pulse = Signal()
        count = Signal(range(ACK_TIMEOUT_CYCLES + 1))
        m.d.comb += plat_cpu.inta.eq(pulse | pins.inta)
        m.d.sync += ack.done.eq(0)
        with m.FSM():
            with m.State("IDLE"), m.If(ack.valid):
                # ``inta`` high for the cycle the request is offered in;
                # ``ack_valid`` comes the cycle after.
                m.d.comb += pulse.eq(1)
                m.d.sync += count.eq(0)
                m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(plat_cpu.ack_valid):
                    m.d.sync += [ack.vector.eq(plat_cpu.ack_vector), ack.ok.eq(1)]
                    m.next = "FINISH"
                with m.Elif(count == ACK_TIMEOUT_CYCLES - 1):
                    m.d.sync += ack.ok.eq(0)
                    m.next = "FINISH"
                with m.Else():
                    m.d.sync += count.eq(count + 1)
            with m.State("FINISH"):
                m.d.sync += ack.done.eq(1)
                m.next = "IDLE"


def harness_fingerprint(spec: Spec) -> str:
    """A digest of what the harness Verilog depends on: the platform's RTL
    fingerprint and this module's source."""
    import hashlib

    from irqforge.hw import rtl_fingerprint

    h = hashlib.sha256(rtl_fingerprint(spec).encode())
    h.update(_SOURCE)
    return h.hexdigest()


def harness_verilog(spec: Spec) -> str:
    """The Verilog text of :class:`CosimHarness` for ``spec`` (module ``irqforge_cosim``)."""
    from irqforge.hw import to_verilog

    return to_verilog(CosimHarness(spec), MODULE)
