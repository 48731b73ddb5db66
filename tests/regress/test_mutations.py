"""Every deliberate RTL mutation (irqforge.sim.regress.mutations) is caught by a regression.

Each mutation is converted (a copy of ``irqforge.hw`` with one line changed) and
regressed on Verilator through ``irqforge regress --rtl``: only its own suite, two
seeds, 300,000 cycles — a reduced form of ``scripts/mutation_test.py``, which runs
the default suites. Each mutant needs a new Verilator build, so this is ``long``
(about a minute per mutation on two idle cores).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from irqforge.sim import toolchain
from irqforge.sim.regress.mutations import MUTATIONS, Mutation, mutated_verilog, regress_mutation


def test_every_mutation_applies_to_exactly_one_line(tmp_path: Path) -> None:
    from importlib import resources

    hw = Path(str(resources.files("irqforge.hw")))
    for m in MUTATIONS:
        assert (hw / m.file).read_text().count(m.old) == 1, m.name


def test_a_mutant_converts_and_differs_from_the_shipped_rtl(tmp_path: Path, spec: object) -> None:
    from irqforge.hw import TOPS

    m = next(m for m in MUTATIONS if m.name == "hpet-periodic-no-reload")
    out = mutated_verilog(m, tmp_path / "mutant")
    assert sorted(p.name for p in out.glob("*.v")) == sorted(f"{name}.v" for name in TOPS)
    from irqforge.hw import write_verilog

    shipped = write_verilog(spec, tmp_path / "shipped")  # type: ignore[arg-type]
    differs = [n for n, p in shipped.items() if p.read_text() != (out / f"{n}.v").read_text()]
    assert differs == ["irqforge_hpet"]


@pytest.mark.long
@pytest.mark.sim
@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_mutation_is_caught(mutation: Mutation, tmp_path: Path) -> None:
    if not toolchain.find_simulator("verilator").ok:
        pytest.skip("verilator not usable")
    totals = regress_mutation(mutation, tmp_path, suites=mutation.suite, cycles=300_000, seeds=2)
    assert totals["errors"] == totals["timeouts"] == 0, totals["failures"]
    assert totals["failed"] >= 1, f"{mutation.name} survived: {mutation.why}"
    assert all(f["reproduce"].startswith(f"irqforge regress --suites {mutation.suite} ") for f in totals["failures"])
