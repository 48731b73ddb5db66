"""The round-robin pick (:func:`irqforge.hw.xbar.round_robin`) against its
Python twin (:func:`~irqforge.hw.xbar.round_robin_index`), which the models
use: every request mask and every ``last`` for small widths, random ones for
the IO-APIC's 24 pins and beyond."""

from __future__ import annotations

import itertools
import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from irqforge.hw.xbar import round_robin, round_robin_index


def _check(n: int, cases: list[tuple[int, int]]) -> None:
    m = Module()
    requests = Signal(n)
    last = Signal(range(max(n, 2)))
    grant, some = round_robin(m, requests, last)
    sim = Simulator(m)
    wrong: list[tuple[int, int, int | None, int, int]] = []

    async def bench(ctx: object) -> None:
        for req, lst in cases:
            ctx.set(requests, req)  # type: ignore[attr-defined]
            ctx.set(last, lst)  # type: ignore[attr-defined]
            want = round_robin_index(req, lst, n)
            got_any, got = ctx.get(some), ctx.get(grant)  # type: ignore[attr-defined]
            if got_any != (want is not None) or got != (0 if want is None else want):
                wrong.append((req, lst, want, got_any, got))

    sim.add_testbench(bench)
    sim.run()
    assert not wrong, f"(requests, last, want, any, grant): {wrong[:10]}"


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8])
def test_every_case_of_small_widths(n: int) -> None:
    _check(n, list(itertools.product(range(1 << n), range(n))))


@pytest.mark.parametrize("n", [24, 26, 33])
def test_random_cases_of_wide_ones(n: int) -> None:
    rng = random.Random(n)
    masks = [0, (1 << n) - 1, 1, 1 << (n - 1)] + [rng.getrandbits(n) & rng.getrandbits(n) for _ in range(600)]
    _check(n, [(mask, rng.randrange(n)) for mask in masks] + [(1 << k, k) for k in range(n)])
