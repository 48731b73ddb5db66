"""hrtimer_forward's overrun arithmetic (reference B.7 examples)."""

from __future__ import annotations

from irqforge.sw.hrtimer import Hrtimer, hrtimer_forward


def test_forward_reference_example() -> None:
    t = Hrtimer(lambda _t: 0)
    t.expires = 100
    assert hrtimer_forward(t, 350, 100) == 3
    assert t.expires == 400


def test_forward_at_expiry_is_one_overrun() -> None:
    t = Hrtimer(lambda _t: 0)
    t.expires = 500
    assert hrtimer_forward(t, 500, 100) == 1
    assert t.expires == 600


def test_forward_before_expiry_changes_nothing() -> None:
    t = Hrtimer(lambda _t: 0)
    t.expires = 500
    assert hrtimer_forward(t, 499, 100) == 0
    assert t.expires == 500


def test_forward_of_queued_timer_refused() -> None:
    t = Hrtimer(lambda _t: 0)
    t.expires = 100
    t.enqueued = True
    assert hrtimer_forward(t, 1000, 100) == 0
    assert t.expires == 100
