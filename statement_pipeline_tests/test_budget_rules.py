"""The adaptive budget's rules, one decision at a time, on a fake clock.

Every expected rate is worked out by hand from the rules in `rules/adaptive_budget.py`'s
docstring (window 1 s, cut 0.8, deeper x0.6 when most of a call was refused, settle within
1.25x of the floor at 0.97 of it, climb by 1/cut every 1.5 s, four times slower settled).
"""

from __future__ import annotations

import pytest

from statement_pipeline.rules.adaptive_budget import AdaptiveBudget, BudgetState


class Clock:
    """A fake clock; `sleep` records each wait and, when `advance`, lets the time pass."""

    def __init__(self, now: float = 0.0, *, advance: bool = True) -> None:
        self.now = now
        self.advance = advance
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.advance:
            self.now += seconds


def make_budget(clock: Clock, **kwargs: object) -> AdaptiveBudget:
    kwargs.setdefault("floor", None)
    return AdaptiveBudget(clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


def grant_calls(budget: AdaptiveBudget, clock: Clock, units: float, calls: int = 4) -> None:
    """`calls` unpaced calls, one sent every quarter second, each granted `units` when the
    next is sent (4 calls of 25 units: 100 units a second over a whole window)."""
    for _ in range(calls):
        started = budget.acquire(units)
        clock.now += 0.25
        budget.record(started, granted=units, refused=0)


def refuse_call(
    budget: AdaptiveBudget, clock: Clock, granted: float, refused: float, **kwargs: bool
) -> None:
    """A call sent now and answered 0.125 s later, `refused` units of it throttled."""
    started = budget.acquire(granted + refused)
    clock.now += 0.125
    budget.record(started, granted, refused, **kwargs)


def test_a_new_budget_is_unpaced_with_nothing_counted() -> None:
    clock = Clock(7.0)
    budget = make_budget(clock, floor=100.0)
    assert budget.state() == BudgetState(None, False, 0, 0, 0.0, 0, 0)
    assert budget.pace() == 100.0  # unpaced: the floor
    assert make_budget(clock).pace() is None


def test_a_cap_lowers_the_floor_and_paces_from_the_start() -> None:
    clock = Clock()
    assert make_budget(clock, floor=160.0, cap=80.0).floor == 80.0
    assert make_budget(clock, floor=80.0, cap=160.0).floor == 80.0
    capped = make_budget(clock, cap=80.0)
    assert capped.floor is None
    assert (capped.state().rate, capped.pace()) == (80.0, 80.0)


def test_a_paced_call_waits_for_its_units_from_an_empty_bucket() -> None:
    """100 units a second, nothing saved at the start: 50 units wait 0.5 s, then 0.5 s more."""
    clock = Clock()
    budget = make_budget(clock, cap=100.0)
    assert [budget.acquire(50), budget.acquire(50)] == [0.5, 1.0]
    assert clock.sleeps == [0.5, 0.5]
    assert budget.state().waited_seconds == 1.0


def test_an_idle_paced_budget_saves_a_quarter_second_or_one_call() -> None:
    clock = Clock()
    budget = make_budget(clock, cap=100.0)
    clock.now = 10.0
    budget.acquire(25)  # 25 units saved (a quarter second at 100/s), spent at once
    assert clock.sleeps == []
    budget.acquire(25)
    assert clock.sleeps == [0.25]
    clock.now += 10.0
    budget.acquire(50)  # a call bigger than a quarter second may save up its own size
    assert clock.sleeps == [0.25]
    budget.acquire(50)
    assert clock.sleeps == [0.25, 0.5]


def test_calls_within_the_saved_units_neither_wait_nor_count_as_waiting() -> None:
    """25 units saved at 100/s: calls of 5 and 19.5 leave 0.5; none waits."""
    clock = Clock(10.0)
    budget = make_budget(clock, cap=100.0)
    clock.now = 20.0
    budget.acquire(5)
    budget.acquire(19.5)
    assert clock.sleeps == []
    assert budget.state().waited_seconds == 0.0
    budget.acquire(0.5)
    budget.acquire(20)
    assert clock.sleeps == [0.2]


def test_the_waited_time_is_reported_to_the_millisecond() -> None:
    clock = Clock()
    budget = make_budget(clock, cap=3.0)
    budget.acquire(1)
    assert clock.sleeps == [pytest.approx(1 / 3)]
    assert budget.state().waited_seconds == 0.333


def test_a_correction_pays_back_what_a_call_did_not_use() -> None:
    """Reserved 50, charged 10: the 40 left shorten the next wait from 0.5 s to 0.1 s."""
    clock = Clock()
    budget = make_budget(clock, cap=100.0)
    budget.acquire(50)
    budget.correct(50, 10)
    budget.acquire(50)
    assert clock.sleeps == [0.5, pytest.approx(0.1)]


def test_a_correction_of_an_unpaced_call_changes_nothing_later() -> None:
    clock = Clock()
    budget = make_budget(clock)
    grant_calls(budget, clock, 25)
    budget.correct(10, 60)  # unpaced: there is no bucket to charge
    refuse_call(budget, clock, granted=0, refused=25)
    budget.acquire(12)  # 48/s after the cut (see below): 6 units since the call, 6 to wait
    assert clock.sleeps == [0.125]


def test_a_refused_call_cuts_to_048_of_the_rate_granted_before_it() -> None:
    """100/s granted over the last second, then a call refused whole: 100 x 0.8 x 0.6."""
    clock = Clock()
    budget = make_budget(clock)
    grant_calls(budget, clock, 25)
    refuse_call(budget, clock, granted=0, refused=25)
    state = budget.state()
    assert state.rate == pytest.approx(48.0)
    assert (state.cuts, state.throttles, state.settled) == (1, 1, False)
    # Paced from the last call sent (1 s): 0.125 s at 48/s is 6 units, 6 more to wait for.
    budget.acquire(12)
    assert clock.sleeps == [0.125]


@pytest.mark.parametrize(
    ("granted", "refused", "rate"),
    [
        (20.0, 5.0, 96.0),  # (100 + 20) x 0.8
        (10.0, 10.0, 88.0),  # half refused is not most: (100 + 10) x 0.8
        (10.0, 11.0, 52.8),  # (100 + 10) x 0.48
    ],
)
def test_a_call_mostly_granted_cuts_by_08_and_mostly_refused_deeper(
    granted: float, refused: float, rate: float
) -> None:
    clock = Clock()
    budget = make_budget(clock)
    grant_calls(budget, clock, 25)
    refuse_call(budget, clock, granted=granted, refused=refused)
    assert budget.state().rate == pytest.approx(rate)


def test_the_rate_is_measured_before_the_refused_call_was_sent() -> None:
    """Sent at 1.0 s, answered at 3.0 s: the second before 1.0 s granted 100/s."""
    clock = Clock()
    budget = make_budget(clock)
    grant_calls(budget, clock, 25)
    started = budget.acquire(25)
    clock.now = 3.0
    budget.record(started, granted=0, refused=25)
    assert budget.state().rate == pytest.approx(48.0)


def test_the_window_is_the_second_before_sending_not_earlier() -> None:
    """Six calls answered at 0.25 .. 1.5 s; sent at 1.5 s: only 0.75 .. 1.5 s count."""
    clock = Clock()
    budget = make_budget(clock)
    grant_calls(budget, clock, 25, calls=6)
    refuse_call(budget, clock, granted=0, refused=25)
    assert budget.state().rate == pytest.approx(48.0)  # 4 x 25 in the last second


def test_answers_older_than_four_windows_are_forgotten() -> None:
    """Window 2 s: 25 units answered at 0.5, 1, 1.5 and 2 s; a call sent at 2 s is answered
    at 9 s, when answers before 9 - 4 x 2 = 1 s are gone: 75 units over 2 s, x 0.48."""
    clock = Clock()
    budget = make_budget(clock, window=2.0)
    for _ in range(4):
        started = budget.acquire(25)
        clock.now += 0.5
        budget.record(started, granted=25, refused=0)
    started = budget.acquire(25)
    clock.now = 9.0
    budget.record(started, granted=0, refused=25)
    assert budget.state().rate == pytest.approx(18.0)


@pytest.mark.parametrize(
    "step",
    [
        0.125,  # 10 units answered 0.125 s in: over the shortest span, a quarter window
        0.25,  # 20 units answered by 0.5 s: over the half second the budget has lived
    ],
)
def test_a_young_budget_measures_over_its_age_and_at_least_a_quarter_window(
    step: float,
) -> None:
    """Either way 40 units a second granted, not a whole window: 40 x 0.48."""
    clock = Clock(10.0)
    budget = make_budget(clock)
    while clock.now < 10.25 + step:
        started = budget.acquire(10)
        clock.now += step
        budget.record(started, granted=10, refused=0)
        if step < 0.25:
            break
    refuse_call(budget, clock, granted=0, refused=10)
    assert budget.state().rate == pytest.approx(19.2)


def test_the_shortest_span_is_a_quarter_of_a_longer_window() -> None:
    """Window 2 s: 10 units answered 0.125 s in count over half a second: 20/s x 0.48."""
    clock = Clock(10.0)
    budget = make_budget(clock, window=2.0)
    started = budget.acquire(10)
    clock.now += 0.125
    budget.record(started, granted=10, refused=0)
    refuse_call(budget, clock, granted=0, refused=10)
    assert budget.pace() == pytest.approx(9.6)
