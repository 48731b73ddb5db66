"""sim/fpga.py reads the Fmax nextpnr-ice40 reached from its log when it misses the target."""

from __future__ import annotations

from irqforge.sim.fpga import _failed_fmax

# nextpnr-ice40 0.4 (Debian bookworm), a LAPIC run below the 50 MHz target: the
# estimate after placement, then the routed figure.
LOG = """\
Info: SA placement time 67.51s

Info: Max frequency for clock 'clk$SB_IO_IN_$glb_clk': 44.68 MHz (FAIL at 50.00 MHz)

Info: Max delay <async>                       -> posedge clk$SB_IO_IN_$glb_clk: 11.34 ns
Info: Routing complete.
ERROR: Max frequency for clock 'clk$SB_IO_IN_$glb_clk': 48.83 MHz (FAIL at 50.00 MHz)
"""


def test_the_routed_figure_not_the_placement_estimate() -> None:
    assert _failed_fmax(LOG) == 48.83


def test_no_failure_line() -> None:
    assert _failed_fmax("Info: Max frequency for clock 'clk': 61.20 MHz (PASS at 50.00 MHz)\n") is None
