"""Functional coverage of the reference models: coverpoints, crosses, a collector.

The coverpoints are defined here, next to the models whose state they
describe, from the spec (LVT names, delivery-mode and timer-mode encodings,
ESR bits come from the YAML, never from literals of this file). The
lock-step checkers and scoreboards sample them — the LAPIC checker
(:mod:`irqforge.sim.benches.lapic_check`) on every checked cycle's events,
the IO-APIC and HPET replays on the cycles where something happened, the
router bench on every message served, the regression's platform and
software jobs on every bus access of the model machine — into
the process's :class:`Coverage` (:func:`collector`), which a job saves to the
file named by ``IRQFORGE_COVERAGE`` (:func:`save`) and ``irqforge regress``
merges across jobs (:meth:`Coverage.merge`).

Why not cocotb-coverage: its coverpoints are decorators on functions called
inside a cocotb test, its database is per simulator process, and merging
runs means its XML/YAML export plus its merge tool. Here half the samplers
run outside cocotb (the model machine of the platform jobs, the Amaranth
tests) and every job's hits cross a process (and a Dask worker) boundary as
plain JSON, so a dict of counters per coverpoint is the whole database and
merging is adding counts. What cocotb-coverage adds beyond that (weights,
``at_least``, callbacks on cover goals) the regression does not use.

A bin is a label, ``"/"``-joined for crosses (``"FIXED/EDGE/PHYSICAL/NONE"``).
Samples outside the defined bins (reserved encodings the random stimulus
also sends) are counted in ``other`` per coverpoint and not in the bins.
Bins that this design cannot reach are listed with the reason
(:data:`EXCLUDED`, and per coverpoint where it depends on the spec, such as
the CPU count): they are reported, not counted in the percentage.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irqforge.sim.models.messages import DestMode
from irqforge.spec import Spec

__all__ = [
    "ENV_COVERAGE",
    "EXCLUDED",
    "Coverage",
    "Coverpoint",
    "collector",
    "define",
    "save",
]

#: Environment variable naming the JSON file a job's coverage is saved to.
ENV_COVERAGE = "IRQFORGE_COVERAGE"

#: (coverpoint, bin) → why the design can never hit it; shown, not counted.
EXCLUDED: dict[tuple[str, str], str] = {
    ("lapic.esr", "SEND_CS"): "P6 APIC-bus checksum error; an xAPIC on a system bus never raises it",
    ("lapic.esr", "RECV_CS"): "P6 APIC-bus checksum error; an xAPIC on a system bus never raises it",
    ("lapic.esr", "SEND_ACCEPT"): "APIC-bus accept error (P6); the router accepts every message",
    ("lapic.esr", "RECV_ACCEPT"): "APIC-bus accept error (P6); the router accepts every message",
    ("lapic.esr", "REDIRECTABLE_IPI"): "lowest-priority IPIs are supported, so this error is never raised",
}


@dataclass(frozen=True)
class Coverpoint:
    """A named set of bins; a cross when its bins combine several axes."""

    name: str
    description: str
    bins: tuple[str, ...]
    excluded: dict[str, str] = field(default_factory=dict, compare=False)
    """Bins of this design that cannot be hit, with the reason (reported, not counted)."""

    @staticmethod
    def cross(name: str, description: str, *axes: Iterable[object], drop: Iterable[str] = (),
              excluded: dict[str, str] | None = None) -> Coverpoint:
        """Every combination of ``axes`` as ``"a/b/c"``, less the labels in ``drop`` (illegal combinations)."""
        dropped = set(drop)
        labels = ("/".join(str(v) for v in combo) for combo in itertools.product(*(list(a) for a in axes)))
        return Coverpoint(name, description, tuple(label for label in labels if label not in dropped),
                          dict(excluded or {}))

    def is_excluded(self, label: str) -> bool:
        return label in self.excluded or (self.name, label) in EXCLUDED


def _enum_names(field_: Any) -> list[str]:
    return [e.name for e in field_.enums]


def define(spec: Spec) -> dict[str, Coverpoint]:
    """Every coverpoint of ``spec``'s devices, by name."""
    lapic, ioapic = spec.lapic, spec.ioapic
    icr = lapic.register("ICR_LO")
    icr_dm = [n for n in _enum_names(icr.field("DELIVERY_MODE")) if n not in ("REMOTE_READ", "EXTINT")]
    points: list[Coverpoint] = [
        Coverpoint.cross(
            "lapic.ipi",
            "IPIs sent (ICR): delivery mode × trigger × destination mode × shorthand",
            icr_dm,
            _enum_names(icr.field("TRIGGER")),
            _enum_names(icr.field("DEST_MODE")),
            _enum_names(icr.field("SHORTHAND")),
        ),
        Coverpoint.cross(
            "lapic.msg_in",
            "messages received (msg_in): delivery mode × trigger",
            [n for n in _enum_names(icr.field("DELIVERY_MODE")) if n != "REMOTE_READ"],
            _enum_names(icr.field("TRIGGER")),
        ),
    ]
    lvt_bins: list[str] = []
    for reg in lapic.registers:
        if not reg.name.startswith("LVT_"):
            continue
        names = reg.field_names() if hasattr(reg, "field_names") else [f.name for f in reg.fields]
        if "DELIVERY_MODE" in names:
            modes = _enum_names(reg.field("DELIVERY_MODE"))
        elif "TIMER_MODE" in names:
            modes = _enum_names(reg.field("TIMER_MODE"))
            if not lapic.param("tsc_deadline"):
                modes = [m for m in modes if m != "TSC_DEADLINE"]
        else:
            modes = ["FIXED"]
        lvt_bins += [f"{reg.name}/{'MASKED' if mask else 'UNMASKED'}/{mode}" for mode in modes for mask in (0, 1)]
    points.append(Coverpoint("lapic.lvt", "LVT entries written: entry × mask × mode", tuple(lvt_bins)))
    timer_modes = [m for m in _enum_names(lapic.register("LVT_TIMER").field("TIMER_MODE")) if m != "TSC_DEADLINE"]
    points += [
        Coverpoint.cross(
            "lapic.timer",
            "timer armed (TMICT written, non-zero): timer mode × divide",
            timer_modes,
            [f"DIV{d}" for d in (1, 2, 4, 8, 16, 32, 64, 128)],
        ),
        Coverpoint.cross(
            "lapic.priority",
            "INTA with a request pending: TPR class vs the pending class × ISR class vs the pending class",
            ["TPR_BELOW", "TPR_EQUAL", "TPR_ABOVE"],
            ["NO_ISR", "ISR_BELOW", "ISR_EQUAL", "ISR_ABOVE"],
        ),
        Coverpoint("lapic.nesting", "in-service depth after an acknowledged interrupt", ("1", "2", "3", "4", "5+")),
        Coverpoint("lapic.esr", "ESR bits seen set by a read", tuple(f.name for f in lapic.register("ESR").fields)),
    ]
    red = ioapic.window("IOAPIC").register("REDTBL")
    points += [
        Coverpoint.cross(
            "ioapic.rte",
            "redirection entry states at an event: trigger × mask × Remote IRR × line",
            _enum_names(red.field("TRIGGER")),
            ["UNMASKED", "MASKED"],
            ["RIRR0", "RIRR1"],
            ["LINE_LOW", "LINE_HIGH"],
            drop=[f"EDGE/{m}/RIRR1/{line}" for m in ("UNMASKED", "MASKED") for line in ("LINE_LOW", "LINE_HIGH")],
        ),
        Coverpoint.cross(
            "ioapic.polarity",
            "asserted lines at an event: polarity × trigger",
            _enum_names(red.field("POLARITY")),
            _enum_names(red.field("TRIGGER")),
        ),
        Coverpoint.cross(
            "ioapic.msg",
            "messages sent: delivery mode × trigger × destination mode",
            _enum_names(red.field("DELIVERY_MODE")),
            _enum_names(red.field("TRIGGER")),
            _enum_names(red.field("DEST_MODE")),
        ),
        Coverpoint.cross(
            "hpet.fire",
            "HPET interrupts: timer mode × counter width × route × interrupt type",
            ["ONESHOT", "PERIODIC"],
            ["64BIT", "32BIT"],
            ["IOAPIC", "LEGACY", "FSB"],
            ["EDGE", "LEVEL"],
            drop=[f"{m}/{w}/FSB/LEVEL" for m in ("ONESHOT", "PERIODIC") for w in ("64BIT", "32BIT")],
        ),
        Coverpoint.cross(
            "router.route",
            "messages routed: source × addressing × how many LAPICs took them",
            ["IOAPIC", "MSI", "IPI"],
            ["PHYSICAL", "LOGICAL", "SELF", "ALL_INCL", "ALL_EXCL"],
            ["NONE", "ONE", "MANY"],
            drop=[f"{src}/{sh}/{t}" for src in ("IOAPIC", "MSI") for sh in ("SELF", "ALL_INCL", "ALL_EXCL")
                  for t in ("NONE", "ONE", "MANY")] + ["IPI/SELF/MANY"],
            excluded={"IPI/ALL_EXCL/MANY": f"all-but-self reaches {spec.platform.ncpus - 1} LAPIC(s) on this "
                                           f"{spec.platform.ncpus}-CPU platform"} if spec.platform.ncpus < 3 else {},
        ),
        Coverpoint.cross(
            "axi.resp",
            "bus responses seen by a CPU: access × response",
            ["READ", "WRITE"],
            ["OKAY", "DECERR"],
        ),
    ]
    points += _x2apic_points(spec)
    return {p.name: p for p in points}


def _x2apic_points(spec: Spec) -> list[Coverpoint]:
    """The x2APIC and TSC-deadline coverpoints (none when the spec has neither)."""
    lapic = spec.lapic
    points: list[Coverpoint] = []
    if lapic.has_msr("IA32_APIC_BASE") and lapic.msr("IA32_APIC_BASE").modes:
        base = lapic.msr("IA32_APIC_BASE")
        names = [m.name for m in base.modes]
        bins = [f"{a}/{b}/{'OK' if base.legal(a, b) else 'GP'}" for a in names for b in names]
        bins += ["READ/OK"]
        if base.gp_mask:
            bins.append("RESERVED/GP")
        if len(base.modes) < 4:  # two mode fields, fewer modes than encodings: the rest #GP
            bins.append("INVALID/GP")
        points.append(Coverpoint(
            "lapic.apic_base",
            "IA32_APIC_BASE accesses: old mode / new mode / outcome (each legal transition and staying in a mode "
            "OK, each illegal transition #GP), reserved bits and invalid mode encodings #GP",
            tuple(bins),
        ))
    if lapic.x2apic is not None:
        icr = lapic.register("ICR_LO")
        icr_bins = [f"ICR/{sh}/{dm}/OK" for sh in _enum_names(icr.field("SHORTHAND"))
                    for dm in _enum_names(icr.field("DEST_MODE"))]
        points.append(Coverpoint(
            "lapic.x2apic_msr",
            "x2APIC MSR accesses by class: the 64-bit ICR write by shorthand × destination mode, SELF_IPI, EOI, "
            "plain reads and writes; #GP for a read-only register written, a write-only one read, an absent "
            "one, a value with reserved bits, a non-zero EOI and any access outside x2APIC mode",
            (*icr_bins, "ICR/GP", "ICR_READ/OK", "SELF_IPI/OK", "SELF_IPI/GP", "EOI/OK", "EOI/GP", "READ/OK",
             "WRITE/OK", "RO_WRITE/GP", "WO_READ/GP", "ABSENT/GP", "RESERVED/GP", "NOT_X2APIC/GP"),
        ))
        points.append(Coverpoint.cross(
            "router.x2apic_dest",
            "destination matching with x2APIC LAPICs present, per receiver: addressing × receiver mode × match "
            "(PHYS32: an ID above 0xFF; BCAST8_IRQ: an IO-APIC message's or MSI's 0xFF, a broadcast for x2APIC "
            "receivers; BCAST8_IPI: an IPI's 0xFF, not one for them; XAPIC receivers: a mixed system)",
            ["PHYS8", "PHYS32", "LOGICAL", "BCAST32", "BCAST8_IRQ", "BCAST8_IPI"],
            ["X2APIC", "XAPIC"],
            ["MATCH", "MISS"],
            drop=["BCAST32/X2APIC/MISS", "BCAST8_IRQ/X2APIC/MISS", "BCAST8_IRQ/XAPIC/MISS",
                  "BCAST8_IPI/XAPIC/MISS", "PHYS32/XAPIC/MATCH"],
        ))
    if lapic.param("tsc_deadline") and lapic.has_msr("IA32_TSC_DEADLINE"):
        points.append(Coverpoint(
            "lapic.tsc_deadline",
            "TSC-deadline timer events: armed (deadline ahead / already past), fired (either), disarmed by a 0 "
            "write, by leaving TSC-deadline mode in LVT_TIMER, by an APIC reset (INIT, hardware disable), and a "
            "non-zero write ignored outside the mode",
            ("ARMED", "ARMED_PAST", "FIRED", "FIRED_PAST", "DISARMED_ZERO", "DISARMED_MODE", "DISARMED_RESET",
             "WRITE_IGNORED"),
        ))
    if lapic.msrs:  # the platform has an MSR port per CPU, with IA32_TSC
        points.append(Coverpoint("platform.tsc", "IA32_TSC accesses on the platform's MSR port",
                                 ("READ", "WRITE")))
    return points


@dataclass
class Coverage:
    """Hits per bin of every coverpoint; merge by adding."""

    points: dict[str, Coverpoint]
    hits: dict[str, dict[str, int]] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._bins = {name: frozenset(p.bins) for name, p in self.points.items()}
        for name in self.points:
            self.hits.setdefault(name, {})
            self.other.setdefault(name, 0)

    def hit(self, point: str, *parts: object) -> None:
        """Count one sample of ``point`` in the bin ``"/".join(parts)``."""
        label = "/".join(str(p) for p in parts)
        if label in self._bins[point]:
            bins = self.hits[point]
            bins[label] = bins.get(label, 0) + 1
        else:
            self.other[point] += 1

    def merge(self, data: dict[str, Any]) -> None:
        """Add the hits of :meth:`to_json` output ``data`` (another job's) to these."""
        for point, bins in data.get("hits", {}).items():
            if point not in self.points:
                continue
            mine = self.hits[point]
            for label, n in bins.items():
                if label in self._bins[point]:
                    mine[label] = mine.get(label, 0) + int(n)
        for point, n in data.get("other", {}).items():
            if point in self.other:
                self.other[point] += int(n)

    def to_json(self) -> dict[str, Any]:
        """The raw hits (what a job saves)."""
        return {"hits": {k: dict(sorted(v.items())) for k, v in self.hits.items()}, "other": dict(self.other)}

    def counted(self) -> list[tuple[str, str]]:
        """Every (coverpoint, bin) counted in the percentage (not excluded)."""
        return [(p.name, b) for p in self.points.values() for b in p.bins if not p.is_excluded(b)]

    def holes(self) -> list[tuple[str, str]]:
        """Counted bins with no hit."""
        return [(p, b) for p, b in self.counted() if not self.hits[p].get(b)]

    @property
    def percent(self) -> float:
        counted = self.counted()
        return 100.0 * (len(counted) - len(self.holes())) / len(counted) if counted else 100.0

    def report(self) -> dict[str, Any]:
        """The ``--coverage`` file: top-level ``percent``, every bin with its hits, holes and exclusions."""
        points = {}
        for p in self.points.values():
            counted = [b for b in p.bins if not p.is_excluded(b)]
            hit = [b for b in counted if self.hits[p.name].get(b)]
            points[p.name] = {
                "description": p.description,
                "percent": round(100.0 * len(hit) / len(counted), 2) if counted else 100.0,
                "bins": {b: self.hits[p.name].get(b, 0) for b in p.bins},
                "other_samples": self.other[p.name],
            }
        holes = self.holes()
        return {
            "percent": round(self.percent, 2),
            "bins": len(self.counted()),
            "bins_hit": len(self.counted()) - len(holes),
            "holes": [f"{p}:{b}" for p, b in holes],
            "excluded": {
                **{f"{p}:{b}": why for (p, b), why in EXCLUDED.items() if p in self.points},
                **{f"{p.name}:{b}": why for p in self.points.values() for b, why in p.excluded.items()},
            },
            "coverpoints": points,
        }


# ------------------------------------------------------------------ the process's collector

_COLLECTOR: Coverage | None = None


def collector(spec: Spec) -> Coverage:
    """This process's :class:`Coverage` for ``spec`` (made on first use)."""
    global _COLLECTOR
    if _COLLECTOR is None:
        _COLLECTOR = Coverage(define(spec))
    return _COLLECTOR


def save(path: str | os.PathLike[str] | None = None) -> Path | None:
    """Write this process's hits to ``path`` (default: ``$IRQFORGE_COVERAGE``); None when neither is set.

    Hits already in the file (an earlier test of the same simulator run) are added.
    """
    target = path if path is not None else os.environ.get(ENV_COVERAGE)
    if not target or _COLLECTOR is None:
        return None
    out = Path(target)
    data = _COLLECTOR.to_json()
    if out.is_file():
        merged = Coverage(_COLLECTOR.points)
        merged.merge(json.loads(out.read_text()))
        merged.merge(data)
        data = merged.to_json()
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(out)
    return out


def reset() -> None:
    """Forget this process's hits (the next :func:`collector` starts empty)."""
    global _COLLECTOR
    _COLLECTOR = None


# ------------------------------------------------------------------ samplers

_DIVIDE = (2, 4, 8, 16, 32, 64, 128, 1)  # TDCR bits 3,1:0 → divisor (SDM Figure 11-10)


class LapicSampler:
    """Samples the LAPIC coverpoints from the checker's view of one cycle."""

    def __init__(self, spec: Spec, cov: Coverage) -> None:
        dev = spec.lapic
        self.cov = cov
        self.off = {r.name: r.offset for r in dev.registers}
        self.by_offset = {r.offset: r for r in dev.registers}
        self.lvt = {r.offset: r for r in dev.registers if r.name.startswith("LVT_")}
        self.esr_fields = [(f.name, f.mask) for f in dev.register("ESR").fields]
        self.esr_offset = dev.offset("ESR")
        self.tm = dev.register("LVT_TIMER").field("TIMER_MODE")
        self.tdcr_lo = dev.register("TDCR").field("DIV_LO")
        self.tdcr_hi = dev.register("TDCR").field("DIV_HI")
        self.msrs = MsrSampler(spec, cov)
        """The MSR port and the deadline timer (``lapic.apic_base``, ``lapic.x2apic_msr``, ``lapic.tsc_deadline``)."""

    def before_inta(self, tpr: int, isr: int, irr: int) -> None:
        """An INTA is about to be applied with these registers."""
        if not irr:
            return
        pend = (irr.bit_length() - 1) >> 4
        tcls = (tpr & 0xFF) >> 4
        t = "TPR_BELOW" if tcls < pend else "TPR_EQUAL" if tcls == pend else "TPR_ABOVE"
        if not isr:
            i = "NO_ISR"
        else:
            icls = (isr.bit_length() - 1) >> 4
            i = "ISR_BELOW" if icls < pend else "ISR_EQUAL" if icls == pend else "ISR_ABOVE"
        self.cov.hit("lapic.priority", t, i)

    def after_inta(self, vector: int, isr: int) -> None:
        if isr >> vector & 1:
            depth = isr.bit_count()
            self.cov.hit("lapic.nesting", str(depth) if depth < 5 else "5+")

    def msr(self, model: Any, before: tuple[int, bool], access: tuple[bool, int, int], fault: bool) -> None:
        """An MSR ``access`` (write, addr, wdata) answered by ``model``; ``before``: its
        ``(apic_base, x2apic)`` before the access."""
        write, addr, wdata = access
        ms = self.msrs
        ms.msr(before[0], before[1], write, addr, wdata, fault)
        cause = ms.OTHER if fault else ms.cause_of(write, addr, wdata)
        ms.observe(model, cause, wdata if cause == ms.DEADLINE_WRITE else None)

    def tick(self, model: Any) -> None:
        """Time passed on ``model`` (the closing edge, an idle stretch)."""
        self.msrs.observe(model, MsrSampler.TIME)

    def written(self, offset: int, regs: dict[str, int], model: Any = None) -> None:
        """A register write was applied; ``regs`` is the model's register file after it
        (``model``: the model itself, for the deadline timer an LVT write can disarm)."""
        if model is not None:
            ms = self.msrs
            ms.observe(model, ms.LVT_WRITE if offset == ms.lvt_timer_off else ms.OTHER)
        reg = self.lvt.get(offset)
        if reg is not None:
            value = regs.get(reg.name, 0)
            mask = "MASKED" if reg.field("MASK").get(value) else "UNMASKED"
            names = [f.name for f in reg.fields]
            if "DELIVERY_MODE" in names:
                f = reg.field("DELIVERY_MODE")
            elif "TIMER_MODE" in names:
                f = reg.field("TIMER_MODE")
            else:
                self.cov.hit("lapic.lvt", reg.name, mask, "FIXED")
                return
            code = f.get(value)
            mode = next((e.name for e in f.enums if e.value == code), str(code))
            self.cov.hit("lapic.lvt", reg.name, mask, mode)
        elif offset == self.off.get("TMICT") and regs.get("TMICT"):
            code = self.tm.get(regs.get("LVT_TIMER", 0))
            mode = next((e.name for e in self.tm.enums if e.value == code), str(code))
            tdcr = regs.get("TDCR", 0)
            div = _DIVIDE[self.tdcr_hi.get(tdcr) << 2 | self.tdcr_lo.get(tdcr)]
            self.cov.hit("lapic.timer", mode, f"DIV{div}")

    def esr_read(self, value: int) -> None:
        for name, mask in self.esr_fields:
            if value & mask:
                self.cov.hit("lapic.esr", name)

    def message(self, delivery_mode: Any, trigger: Any, model: Any = None) -> None:
        self.cov.hit("lapic.msg_in", delivery_mode.name, trigger.name)
        if model is not None:  # an INIT resets the APIC (and disarms the deadline timer)
            ms = self.msrs
            ms.observe(model, ms.RESET if delivery_mode.name == "INIT" else ms.OTHER)

    def ipi(self, ipi: Any) -> None:
        self.cov.hit("lapic.ipi", ipi.delivery_mode.name, ipi.trigger.name, ipi.dest_mode.name, ipi.shorthand.name)


class IoApicSampler:
    """Samples the IO-APIC coverpoints from the model during a replay."""

    def __init__(self, spec: Spec, cov: Coverage) -> None:
        red = spec.ioapic.window("IOAPIC").register("REDTBL")
        self.cov = cov
        self.f = {f.name: f for f in red.fields}
        self.names = {n: {e.value: e.name for e in self.f[n].enums} for n in ("TRIGGER", "POLARITY", "DELIVERY_MODE",
                                                                              "DEST_MODE")}

    def state(self, entries: Sequence[int], pins: int) -> None:
        """Every entry's state at an event (``pins``: raw line levels)."""
        f, names = self.f, self.names
        for pin, e in enumerate(entries):
            trig = names["TRIGGER"][f["TRIGGER"].get(e)]
            low = f["POLARITY"].get(e)
            asserted = (pins >> pin & 1) ^ low
            self.cov.hit(
                "ioapic.rte",
                trig,
                "MASKED" if f["MASK"].get(e) else "UNMASKED",
                f"RIRR{f['REMOTE_IRR'].get(e)}",
                "LINE_HIGH" if asserted else "LINE_LOW",
            )
            if asserted:
                self.cov.hit("ioapic.polarity", names["POLARITY"][low], trig)

    def message(self, delivery_mode: int, trigger: int, dest_mode: int) -> None:
        self.cov.hit(
            "ioapic.msg",
            self.names["DELIVERY_MODE"].get(delivery_mode, str(delivery_mode)),
            self.names["TRIGGER"][trigger],
            self.names["DEST_MODE"][dest_mode],
        )


def hpet_fired(cov: Coverage, timers: Sequence[Any], legacy: bool, *, pin: int | None, legacy_pins: Sequence[int],
               msi: bool) -> None:
    """The HPET raised line ``pin`` (or sent an MSI): sample every enabled timer that drives it."""
    for n, t in enumerate(timers):
        if not t.enb:
            continue
        if msi:
            if not t.fsb_en:
                continue
            route = "FSB"
        else:
            if t.fsb_en:
                continue
            is_legacy = legacy and n < len(legacy_pins)
            if (legacy_pins[n] if is_legacy else t.route_cnf) != pin:
                continue
            route = "LEGACY" if is_legacy else "IOAPIC"
        cov.hit("hpet.fire", "PERIODIC" if t.periodic else "ONESHOT", "32BIT" if t.mode32 else "64BIT", route,
                "LEVEL" if t.level else "EDGE")


# ------------------------------------------------------------------ x2APIC, MSRs and the TSC-deadline timer


class MsrSampler:
    """Samples one LAPIC's MSR coverpoints (``lapic.apic_base``, ``lapic.x2apic_msr``,
    ``lapic.tsc_deadline``) from the reference model's state around each event.

    Used by the LAPIC lock-step checker (per checked cycle) and by the model
    machine of the regression's platform jobs (per access; the platform model
    brings a LAPIC up to date before each access to it). The model is read,
    never changed: ``apic_base``, ``x2apic``, ``tsc`` and ``tsc_deadline``.

    The deadline timer is followed by its value: it changes only at an event
    (:meth:`observe`). A deadline that was due at the TSC of the event (and is
    gone or replaced) has fired — that holds for time passing and for a write
    in the very cycle it fell due, which the LAPIC still lets fire; a deadline
    not yet due that disappears was disarmed, the cause telling how.
    """

    #: observe() causes: what happened since the last observation.
    TIME, DEADLINE_WRITE, LVT_WRITE, RESET, OTHER = "TIME", "DEADLINE_WRITE", "LVT_WRITE", "RESET", "OTHER"

    def __init__(self, spec: Spec, cov: Coverage) -> None:
        dev = spec.lapic
        self.cov = cov
        self.base = dev.msr("IA32_APIC_BASE") if dev.has_msr("IA32_APIC_BASE") else None
        self.deadline = (dev.msr("IA32_TSC_DEADLINE").address
                         if dev.has_msr("IA32_TSC_DEADLINE") and dev.param("tsc_deadline") else None)
        self.x2 = dev.x2apic
        self.x2_at: dict[int, Any] = {}
        if self.x2 is not None:
            for xr in self.x2.registers:
                for _name, addr, _idx in xr.instances():
                    self.x2_at[addr] = xr
        self.lvt_timer_msr = self.x2.register("LVT_TIMER").address if self.x2 is not None else None
        self.lvt_timer_off = dev.offset("LVT_TIMER")
        icr = dev.register("ICR_LO")
        self.shorthand = icr.field("SHORTHAND")
        self.dest_mode = icr.field("DEST_MODE")
        self.sh_names = {e.value: e.name for e in self.shorthand.enums}
        self.dm_names = {e.value: e.name for e in self.dest_mode.enums}
        self._dl = 0
        self._past = False

    # -- the MSR port

    def cause_of(self, write: bool, addr: int, wdata: int) -> str:
        """What an MSR access can do to the deadline timer (the ``cause`` of :meth:`observe`)."""
        if not write:
            return self.OTHER
        if addr == self.deadline:
            return self.DEADLINE_WRITE
        if addr == self.lvt_timer_msr:
            return self.LVT_WRITE
        if self.base is not None and addr == self.base.address:
            return self.RESET
        return self.OTHER

    def msr(self, before_base: int, before_x2apic: bool, write: bool, addr: int, wdata: int, fault: bool) -> None:
        """One MSR access answered (``fault``: #GP); ``before_*``: the LAPIC's mode before it."""
        ok = "GP" if fault else "OK"
        base = self.base
        if base is not None and addr == base.address:
            if not write:
                self.cov.hit("lapic.apic_base", "READ", ok)
                return
            old, new = base.mode_of(before_base), base.mode_of(wdata)
            if wdata & base.gp_mask:
                self.cov.hit("lapic.apic_base", "RESERVED", ok)
            elif new is None:
                self.cov.hit("lapic.apic_base", "INVALID", ok)
            elif old is not None:
                self.cov.hit("lapic.apic_base", old.name, new.name, ok)
            return
        x2 = self.x2
        if x2 is None or not x2.msr_base <= addr < x2.msr_base + 0x100:
            return
        if not before_x2apic:
            self.cov.hit("lapic.x2apic_msr", "NOT_X2APIC", ok)
            return
        xr = self.x2_at.get(addr)
        if xr is None:
            label = "ABSENT"
        elif not write:
            label = "WO_READ" if not xr.readable else "ICR_READ" if xr.name == "ICR" else "READ"
        elif not xr.writable:
            label = "RO_WRITE"
        elif xr.name == "ICR":
            if wdata & xr.gp_mask:
                label = "ICR"
            else:
                sh = self.sh_names.get(self.shorthand.get(wdata), "?")
                label = f"ICR/{sh}/{self.dm_names.get(self.dest_mode.get(wdata), '?')}"
        elif xr.name in ("SELF_IPI", "EOI"):
            label = xr.name
        else:
            label = "RESERVED" if wdata & xr.gp_mask else "WRITE"
        self.cov.hit("lapic.x2apic_msr", label, ok)

    # -- the TSC-deadline timer

    def observe(self, model: Any, cause: str, wrote: int | None = None) -> None:
        """After an event (``cause``) on ``model``: sample what its deadline timer did.

        ``wrote``: the value of an IA32_TSC_DEADLINE write that was not a #GP.
        """
        if self.deadline is None:
            return
        old, new = self._dl, model.tsc_deadline
        if old == new:
            if cause == self.DEADLINE_WRITE and wrote and not new:
                self.cov.hit("lapic.tsc_deadline", "WRITE_IGNORED")
            return
        tsc = model.tsc
        if old:
            if tsc >= old:
                self.cov.hit("lapic.tsc_deadline", "FIRED_PAST" if self._past else "FIRED")
            elif not new:
                # at an edge (TIME) only an INIT through a LINT pin resets the APIC before the deadline
                why = {self.DEADLINE_WRITE: "DISARMED_ZERO", self.LVT_WRITE: "DISARMED_MODE",
                       self.RESET: "DISARMED_RESET", self.TIME: "DISARMED_RESET"}.get(cause, f"DISARMED_BY_{cause}")
                self.cov.hit("lapic.tsc_deadline", why)
        if new:
            self._past = new <= tsc
            self.cov.hit("lapic.tsc_deadline", "ARMED_PAST" if self._past else "ARMED")
        self._dl = new


def x2apic_dest(cov: Coverage, msg: Any, lapics: Sequence[Any], sender: int | None = None) -> None:
    """Sample ``router.x2apic_dest`` for one routed message (``lapics``: the receivers' state).

    Only destinations (no shorthand) in a system with an x2APIC LAPIC; each
    receiver's match comes from :meth:`RouterModel.matched` (the model's
    ``kvm_apic_match_dest``), the class from the message.
    """
    if not any(getattr(lapic, "x2apic", False) for lapic in lapics):
        return
    from irqforge.sim.models.router import RouterModel

    route = RouterModel.normalise(msg, sender)
    if route.shorthand or route.dropped:
        return
    dest = route.dest
    if dest == 0xFFFF_FFFF:
        kind = "BCAST32"
    elif dest == 0xFF:
        kind = "BCAST8_IRQ" if route.sender is None else "BCAST8_IPI"
    elif route.dest_mode != int(DestMode.PHYSICAL):
        kind = "LOGICAL"
    else:
        kind = "PHYS32" if dest > 0xFF else "PHYS8"
    matched = set(RouterModel.matched(route, lapics))
    for i, lapic in enumerate(lapics):
        cov.hit("router.x2apic_dest", kind, "X2APIC" if getattr(lapic, "x2apic", False) else "XAPIC",
                "MATCH" if i in matched else "MISS")
