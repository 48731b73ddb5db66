"""Mutation test: deliberate one-line RTL bugs that the regression must catch.

Each :class:`Mutation` replaces one line of the Amaranth source (exactly one
occurrence) in a temporary copy of ``irqforge.hw``; the copy is converted
to Verilog in a child process (the copy imported as ``irqforge.hw``) and
the regression runs on that Verilog through ``irqforge regress --rtl DIR``.
A mutation is *caught* when at least one job fails.

Run ``python scripts/mutation_test.py [--cycles N] [--suites LIST]``
(default: the default regression's suites; ``--quick``: only each
mutation's own suite).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["MUTATIONS", "Mutation", "mutated_verilog", "regress_mutation"]


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    """Module file inside ``irqforge.hw``."""
    old: str
    new: str
    suite: str
    """The suite expected to catch it first (``--quick`` runs only this one)."""
    why: str


MUTATIONS: tuple[Mutation, ...] = (
    Mutation("lapic-ppr-ge", "lapic.py", "(irrv[4:] > tpr[4:])", "(irrv[4:] >= tpr[4:])", "lapic",
             "an interrupt of the task priority's own class is delivered (SDM: only a class above PPR)"),
    Mutation("lapic-timer-no-reload", "lapic.py", 'tmcct.eq(Mux(periodic, st["TMICT"], 0))', "tmcct.eq(0)", "lapic",
             "the periodic LAPIC timer stops after its first expiry"),
    Mutation("lapic-eoi-ignores-tmr", "lapic.py", "eoi_valid.eq(eoi_go & eoi_level & ", "eoi_valid.eq(eoi_go & ",
             "lapic",
             "EOI of an edge-triggered vector is broadcast to the IO-APIC too"),
    Mutation("ioapic-remote-irr-kept", "ioapic.py", "((e.remote_irr & ~eoi_hit[i]) | (grant[i] & is_level[i]))",
             "(e.remote_irr | (grant[i] & is_level[i]))", "ioapic",
             "Remote IRR is not cleared by the EOI: a level line is never delivered again"),
    Mutation("ioapic-mask-ignored", "ioapic.py", "req.eq(edge_req | (is_level & asserted & ~masked & ",
             "req.eq(edge_req | (is_level & asserted & ", "ioapic", "a masked level entry still requests delivery"),
    Mutation("router-allbutself-includes-self", "router.py", "matched[i].eq(int(sender != i))", "matched[i].eq(1)",
             "router", "an all-excluding-self IPI (Linux smp_call_function) also interrupts its sender"),
    Mutation("router-x2apic-ignores-ioapic-broadcast", "router.py",
             "bcast_x2apic.eq((d == X2APIC_BROADCAST) if is_ipi else (d == BROADCAST))",
             "bcast_x2apic.eq(d == X2APIC_BROADCAST)", "platform",
             "an IO-APIC message to 0xFF misses the x2APIC CPUs (KVM kvm_apic_mda: their broadcast too); the "
             "platform job's MSR walk sends one with CPUs in x2APIC mode"),
    Mutation("xbar-unmapped-read-okay", "xbar.py", "bus.rresp.eq(RESP_DECERR)", "bus.rresp.eq(0)", "platform",
             "a read outside every window answers OKAY instead of DECERR"),
    Mutation("hpet-periodic-no-reload", "hpet.py", "nxt = cmp + period", "nxt = cmp", "hpet",
             "a periodic HPET timer does not add its period to the comparator"),
)

_CONVERT = """
import importlib.util, sys
from pathlib import Path
src, out = Path(sys.argv[1]), Path(sys.argv[2])
spec = importlib.util.spec_from_file_location("irqforge.hw", src / "__init__.py", submodule_search_locations=[str(src)])
mod = importlib.util.module_from_spec(spec)
sys.modules["irqforge.hw"] = mod
spec.loader.exec_module(mod)
from irqforge.spec import load_default
for name, text in mod.convert_all(load_default()).items():
    (out / f"{name}.v").write_text(text, encoding="utf-8")
"""


def mutated_verilog(mutation: Mutation, out: Path) -> Path:
    """Verilog of every block with ``mutation`` applied, in ``out``; raises if its line is not found once."""
    hw = Path(str(resources.files("irqforge.hw")))
    with tempfile.TemporaryDirectory(prefix="irqforge-mutant-") as tmp:
        copy = Path(tmp) / "hw"
        shutil.copytree(hw, copy, ignore=shutil.ignore_patterns("__pycache__"))
        target = copy / mutation.file
        text = target.read_text()
        if text.count(mutation.old) != 1:
            raise ValueError(f"{mutation.name}: {mutation.old!r} occurs {text.count(mutation.old)} times in "
                             f"{mutation.file}, not once (the RTL changed; update the mutation)")
        target.write_text(text.replace(mutation.old, mutation.new))
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", _CONVERT, str(copy), str(out)], check=True)
    return out


def regress_mutation(mutation: Mutation, folder: Path, *, suites: str, cycles: int, seeds: int,
                     extra: list[str] | None = None) -> dict[str, Any]:
    """Regress ``mutation``'s Verilog; the ``--json`` totals of ``irqforge regress``."""
    rtl = mutated_verilog(mutation, folder / mutation.name)
    cmd = [sys.executable, "-m", "irqforge", "regress", "--rtl", str(rtl), "--suites", suites,
           "--cycles", str(cycles), "--seeds", str(seeds), "--json", *(extra or [])]
    done = subprocess.run(cmd, capture_output=True, text=True)
    try:
        return dict(json.loads(done.stdout))
    except ValueError:
        raise RuntimeError(f"irqforge regress did not answer in JSON (exit {done.returncode}):\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}") from None


def main(argv: list[str] | None = None) -> int:
    from .suites import DEFAULT_SUITES

    p = argparse.ArgumentParser(description="Apply each RTL mutation and check that the regression catches it.")
    p.add_argument("--cycles", type=int, default=600_000, help="regression cycles per mutation")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--suites", default=",".join(DEFAULT_SUITES))
    p.add_argument("--quick", action="store_true", help="only each mutation's own suite")
    p.add_argument("--only", default=None, help="comma list of mutation names")
    p.add_argument("--workers", type=int, default=None)
    args = p.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only.split(",")]
    missed = []
    with tempfile.TemporaryDirectory(prefix="irqforge-mutants-") as tmp:
        for m in chosen:
            extra = ["--workers", str(args.workers)] if args.workers else []
            totals = regress_mutation(m, Path(tmp), suites=m.suite if args.quick else args.suites,
                                      cycles=args.cycles, seeds=args.seeds, extra=extra)
            caught = totals["failed"]  # a build error or a timeout is not a catch
            by = sorted({f"{f['suite']}:{f['seed']}" for f in totals["failures"]})
            print(f"{m.name:26} {'CAUGHT' if caught else 'MISSED'} ({caught}/{totals['jobs']} jobs failed: "
                  f"{', '.join(by)}) — {m.why}", flush=True)
            if not caught:
                missed.append(m.name)
    print(f"{len(chosen) - len(missed)}/{len(chosen)} mutations caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
