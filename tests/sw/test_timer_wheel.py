"""Timer wheel rounding and jiffies arithmetic (pure software, Linux's numbers)."""

from __future__ import annotations

import pytest

from irqforge.sw.timer import LVL_START, TimerBase, TimerList, calc_wheel_index, time_after, time_before


@pytest.mark.parametrize(("expires", "fires_at"), [(10, 11), (100, 104), (1000, 1024)])
def test_reference_rounding_examples(expires: int, fires_at: int) -> None:
    _idx, bucket_expiry = calc_wheel_index(expires, 0, 9)
    assert bucket_expiry == fires_at


def test_level_starts() -> None:
    assert [LVL_START(n) for n in (1, 2, 3)] == [63, 504, 4032]


def test_timer_fires_on_first_tick_at_or_after_bucket_expiry() -> None:
    base = TimerBase(0, 1000)
    t = TimerList(lambda _t: None)
    t.expires = 100
    base.enqueue(t)
    fired_at = None
    for jiffies in range(1, 200):
        if base.expire_upto(jiffies):
            fired_at = jiffies
            break
    assert fired_at == 104
    assert not base.timers_pending


def test_timer_in_the_past_goes_to_next_tick() -> None:
    base = TimerBase(50, 1000)
    t = TimerList(lambda _t: None)
    t.expires = 40
    base.enqueue(t)
    assert base.expire_upto(49) == []
    assert base.expire_upto(50) == [t]


def test_time_after_across_wrap() -> None:
    a, b = (1 << 64) - 5, 3  # b is after a once jiffies wrap
    assert time_after(b, a)
    assert time_before(a, b)
    assert not (b > a)
