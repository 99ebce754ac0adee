"""The adaptive budget near its floor: settling, sharing the table, probing, climbing back.

Same fake clock and the same hand-worked rules as test_budget_rules.py: 4 calls of 25 units
a quarter second apart are 100 units a second granted over a whole window; a refused call
is sent at 1 s and answered at 1.125 s.
"""

from __future__ import annotations

import pytest

from statement_pipeline.rules.adaptive_budget import AdaptiveBudget, BudgetState
from statement_pipeline_tests.test_budget_rules import Clock, grant_calls, make_budget, refuse_call


def _cut(
    floor: float | None, per_call: float, granted: float, refused: float, **kwargs: bool
) -> BudgetState:
    clock = Clock()
    budget = make_budget(clock, floor=floor)
    grant_calls(budget, clock, per_call)
    refuse_call(budget, clock, granted=granted, refused=refused, **kwargs)
    return budget.state()


@pytest.mark.parametrize(
    ("per_call", "granted", "refused"),
    [
        (25.0, 0.0, 25.0),  # 100/s granted: the floor itself
        (20.0, 0.0, 25.0),  # 80/s: floor / 1.25, the lowest that settles
        (25.0, 25.0, 25.0),  # 100/s + 25: floor x 1.25, the highest that settles
    ],
)
def test_granted_about_the_floor_over_a_whole_window_settles_just_under_it(
    per_call: float, granted: float, refused: float
) -> None:
    state = _cut(100.0, per_call, granted, refused)
    assert (state.settled, state.settles, state.cuts) == (True, 1, 1)
    assert state.rate == pytest.approx(97.0)


@pytest.mark.parametrize(
    ("floor", "share", "settled_rate"),
    [
        (100.0, 0.05, 5.0),  # a read share of 5%: under the 10% minimum share of the floor
        (0.25, 0.97, 0.2425),  # a 1-WCU table over 4 loader ops: under the 1 unit/s minimum
    ],
)
def test_a_settled_rate_under_the_minimum_is_the_callers_share_and_stays_there(
    floor: float, share: float, settled_rate: float
) -> None:
    """Granted the floor over a whole window, then refused: settled at share x floor at once,
    and still there a quarter second later (the minimum rate does not hold it above)."""
    clock = Clock()
    budget = make_budget(clock, floor=floor, settled_share=share)
    grant_calls(budget, clock, floor / 4)
    refuse_call(budget, clock, granted=0, refused=floor / 4)
    assert budget.state().settled
    assert budget.pace() == pytest.approx(settled_rate)
    clock.now += 0.25
    budget.record(budget.acquire(0.0), granted=0.0, refused=0.0)
    assert budget.pace() == pytest.approx(settled_rate)


def test_granted_well_above_the_floor_is_followed_not_settled() -> None:
    """126/s granted (100 + 26) with half the call refused: 126 x 0.8, above the floor."""
    state = _cut(100.0, 25.0, 26.0, 26.0)
    assert (state.settled, state.settles) == (False, 0)
    assert state.rate == pytest.approx(100.8)


def test_a_partition_limit_never_settles_and_never_cuts_below_the_floor() -> None:
    state = _cut(100.0, 25.0, 0.0, 25.0, partition_limit=True)
    assert (state.settled, state.rate) == (False, 100.0)


def test_a_young_budget_never_settles_nor_goes_below_the_floor() -> None:
    """Three calls: 0.75 s of answers, 100/s but not a whole window."""
    clock = Clock(10.0)
    budget = make_budget(clock, floor=100.0)
    grant_calls(budget, clock, 25.0, calls=3)
    refuse_call(budget, clock, granted=0, refused=25)
    assert (budget.state().settled, budget.state().rate) == (False, 100.0)


@pytest.mark.parametrize(
    ("per_call", "refused", "rate"),
    [
        (19.75, 25.0, 63.2),  # asked 79 + 25, granted 79: max(79 x 0.48, 79 x 0.8)
        (12.5, 50.0, 40.0),  # asked 50 + 50, granted 50: max(24, 40)
        (12.5, 30.0, 40.0),  # asked 80: floor / 1.25, the least that counts as the floor
        (12.5, 75.0, 40.0),  # asked 125: floor x 1.25, the most that counts
        (1.25, 95.0, 10.0),  # granted 5: 4, raised to a tenth of the floor
    ],
)
def test_asked_for_the_floor_and_granted_well_under_it_goes_below_the_floor(
    per_call: float, refused: float, rate: float
) -> None:
    """Another caller shares the table: the floor is too high, the budget gives way."""
    state = _cut(100.0, per_call, 0.0, refused)
    assert not state.settled
    assert state.rate == pytest.approx(rate)


def test_a_small_settling_share_does_not_lower_the_minimum_before_settling() -> None:
    """A read share of 5%, not settled: another caller leaves it 5 units/s of a 100 floor, and
    the cut stops at a tenth of the floor (10), not at the share it would settle at (5)."""
    clock = Clock()
    budget = make_budget(clock, floor=100.0, settled_share=0.05)
    grant_calls(budget, clock, 1.25)
    refuse_call(budget, clock, granted=0.0, refused=95.0)
    assert not budget.state().settled
    assert budget.pace() == pytest.approx(10.0)


def test_granted_just_the_settling_share_at_a_partition_limit_keeps_the_floor() -> None:
    """80/s granted over a whole window, asked 105: not well under the floor (80 is floor /
    1.25), so not another caller; the partition limit does not settle it either."""
    state = _cut(100.0, 20.0, 0.0, 25.0, partition_limit=True)
    assert (state.settled, state.rate) == (False, 100.0)


def test_units_refused_before_the_call_count_as_asked_for() -> None:
    """Four calls sent at 0 s, each granted 12.5 and refused 12.5 (one congestion, one cut
    held at the floor); a call sent at 1 s refused 25: asked 100 + 25, granted 50."""
    clock = Clock()
    budget = make_budget(clock, floor=100.0)
    for answered in (0.25, 0.5, 0.75, 1.0):
        clock.now = answered
        budget.record(0.0, granted=12.5, refused=12.5)
    assert (budget.state().cuts, budget.pace()) == (1, 100.0)
    clock.now = 1.125
    budget.record(1.0, granted=0, refused=25)
    assert budget.pace() == pytest.approx(40.0)  # max(50 x 0.48, 50 x 0.8)


def test_a_two_second_window_measures_per_second_over_two_seconds() -> None:
    """Window 2 s: 12.5 units every quarter second (50/s) for 2 s; a call then granted 20 and
    refused 80 adds 10/s granted and 50/s asked: 60 granted of 100 asked, the other caller's
    share: max(60 x 0.48, 60 x 0.8)."""
    clock = Clock()
    budget = make_budget(clock, floor=100.0, window=2.0)
    grant_calls(budget, clock, 12.5, calls=8)
    refuse_call(budget, clock, granted=20, refused=80)
    assert (budget.state().settled, budget.pace()) == (False, pytest.approx(48.0))


@pytest.mark.parametrize("refused", [25.0, 100.0])
def test_asked_for_far_more_or_less_than_the_floor_keeps_the_floor(refused: float) -> None:
    """Granted 50/s; asked 75/s (under floor / 1.25) or 150/s (over floor x 1.25)."""
    assert _cut(100.0, 12.5, 0.0, refused).rate == 100.0


def test_without_a_floor_a_cut_stops_at_one_unit_a_second() -> None:
    assert _cut(None, 0.25, 0.0, 1.0).rate == 1.0  # 1/s granted: 0.48, raised to 1


def test_a_cap_below_one_unit_a_second_holds_through_a_cut() -> None:
    clock = Clock()
    budget = make_budget(clock, cap=0.5)
    clock.now = 0.125
    budget.record(0.0, granted=0, refused=1)
    assert (budget.state().rate, budget.state().cuts) == (0.5, 1)


def test_refused_with_nothing_known_leaves_the_budget_unpaced() -> None:
    """No floor and nothing granted yet: the callers' backoff paces until a call gets through;
    throttles of calls sent before that cut are the same congestion."""
    clock = Clock()
    budget = make_budget(clock)
    refuse_call(budget, clock, granted=0, refused=25)
    budget.record(0.0, granted=0, refused=25)
    assert (budget.state().rate, budget.state().cuts, budget.state().throttles) == (None, 1, 2)
    refuse_call(budget, clock, granted=0, refused=25)  # sent at the cut: a new congestion
    assert (budget.state().cuts, budget.state().throttles) == (2, 3)
    floored = _cut(100.0, 0.0, 0.0, 25.0)
    assert (floored.rate, floored.cuts) == (None, 1)


def test_a_throttle_sent_at_the_instant_of_the_last_cut_cuts_again() -> None:
    clock = Clock()
    budget = make_budget(clock)
    grant_calls(budget, clock, 25)
    refuse_call(budget, clock, granted=0, refused=25)  # 48/s at 1.125 s
    clock.now = 1.25
    budget.record(1.125, granted=0, refused=25)  # 100/s before 1.125 s: min(48, 100) x 0.48
    assert budget.state().cuts == 2
    assert budget.state().rate == pytest.approx(23.04)


def test_calls_already_waiting_keep_their_times_after_a_cut() -> None:
    """Three calls of 50 at 100/s wait 0.5, 1 and 1.5 s; a cut to 32/s (40 granted x 0.8)
    scales their debt to 48 units: the next call still goes at 1.5 s."""
    clock = Clock(advance=False)
    budget = make_budget(clock, cap=100.0)
    for _ in range(3):
        budget.acquire(50)
    budget.record(0.0, granted=40, refused=10)
    assert budget.state().rate == pytest.approx(32.0)
    budget.acquire(0)
    assert clock.sleeps == [0.5, 1.0, 1.5, pytest.approx(1.5)]


def test_a_cut_drops_the_units_saved_up() -> None:
    """24 units saved at 100/s; cut to 32/s: a call of 8 waits its whole quarter second."""
    clock = Clock()
    budget = make_budget(clock, cap=100.0)
    clock.now = 1.0
    budget.acquire(1)
    budget.record(1.0, granted=40, refused=10)
    budget.acquire(8)
    assert clock.sleeps == [pytest.approx(0.25)]


@pytest.mark.parametrize(("climb", "rates"), [(1.5, (60.0, 75.0)), (3.0, (53.666, 60.0))])
def test_a_cut_rate_climbs_back_by_one_over_cut_every_climb_time(
    climb: float, rates: tuple[float, float]
) -> None:
    """Cut to 48/s at 1.125 s; x 1.25 per `climb` seconds, asked every quarter second."""
    clock = Clock()
    budget = make_budget(clock, climb_seconds=climb)
    grant_calls(budget, clock, 25)
    refuse_call(budget, clock, granted=0, refused=25)
    seen = []
    for _ in range(2):
        for _ in range(6):
            clock.now += 0.25
            budget.acquire(0)
        seen.append(budget.pace())
    assert seen == [pytest.approx(rates[0], abs=1e-3), pytest.approx(rates[1], abs=1e-3)]


def test_a_capped_rate_climbs_back_no_higher_than_the_cap() -> None:
    clock = Clock()
    budget = make_budget(clock, cap=50.0)
    budget.record(0.0, granted=0, refused=25)  # nothing granted: 50 x 0.48 = 24
    assert budget.pace() == pytest.approx(24.0)
    clock.now = 100.0
    budget.record(budget.acquire(0), granted=1, refused=0)
    assert budget.pace() == 50.0


def _settled(clock: Clock, **kwargs: object) -> AdaptiveBudget:
    budget = make_budget(clock, floor=100.0, **kwargs)
    grant_calls(budget, clock, 25)
    refuse_call(budget, clock, granted=0, refused=25)  # settled at 97/s at 1.125 s
    assert budget.state().settled
    return budget


def test_settled_and_throttled_again_eases_off_and_climbs_back_four_times_slower() -> None:
    clock = Clock()
    budget = _settled(clock, probe_seconds=None)
    clock.now = 1.25
    budget.record(1.125, granted=0, refused=25)  # 100/s before: min(97, 100) x 0.9
    assert budget.pace() == pytest.approx(87.3)
    clock.now = 2.75  # 1.5 s: a quarter of the x 1.25 an unsettled rate climbs
    budget.acquire(0)
    assert budget.pace() == pytest.approx(87.3 * 1.25**0.25)
    clock.now = 7.25
    budget.acquire(0)
    assert budget.pace() == pytest.approx(97.0)
    assert (budget.state().settles, budget.state().cuts) == (1, 2)


def test_settled_and_refused_with_nothing_granted_eases_off_from_its_rate() -> None:
    clock = Clock()
    budget = _settled(clock, probe_seconds=None)
    clock.now = 10.125
    budget.record(10.0, granted=0, refused=25)  # nothing answered in the second before
    assert budget.pace() == pytest.approx(87.3)


@pytest.mark.parametrize(
    ("per_call", "rate"),
    [
        (12.5, 45.0),  # 50/s granted in the second before: 50 x 0.9
        (0.25, 10.0),  # 1/s: 0.9, raised to a tenth of the floor
    ],
)
def test_settled_and_granted_less_than_its_rate_eases_off_from_what_was_granted(
    per_call: float, rate: float
) -> None:
    clock = Clock()
    budget = _settled(clock, probe_seconds=None)
    for sent in (2.0, 2.25, 2.5, 2.75):
        clock.now = sent + 0.25
        budget.record(sent, granted=per_call, refused=0)
    clock.now = 3.125
    budget.record(3.0, granted=0, refused=25)
    assert budget.pace() == pytest.approx(rate)


def test_a_settled_rate_probes_unpaced_after_a_quiet_spell_doubling_the_next_wait() -> None:
    clock = Clock()
    budget = _settled(clock)  # last throttle at 1.125 s
    clock.now = 6.0
    budget.acquire(0)
    assert budget.state().settled
    clock.now = 6.125  # 5 s without a throttle
    budget.acquire(0)
    state = budget.state()
    assert (state.rate, state.settled, state.probes) == (None, False, 1)
    grant_calls(budget, clock, 25)
    refuse_call(budget, clock, granted=0, refused=25)  # settled again at 7.25 s
    assert (budget.state().settles, budget.state().rate) == (2, pytest.approx(97.0))
    clock.now = 17.125
    budget.acquire(0)
    assert budget.state().settled
    clock.now = 17.25  # 10 s
    budget.acquire(0)
    assert (budget.state().settled, budget.state().probes) == (False, 2)


@pytest.mark.parametrize(
    ("owe", "waits"),
    [({"owe_late_grants": True}, [0.375]), ({"owe_late_grants": False}, []), ({}, [])],
)
def test_a_grant_to_a_call_sent_before_the_cut_is_owed_only_when_asked(
    owe: dict[str, bool], waits: list[float]
) -> None:
    """Cut to 48/s at 1.125 s; a call sent at 1 s is granted 24 units after it: owed, they
    take 0.5 s to pay back, less the 0.125 s since that call was sent."""
    clock = Clock()
    budget = make_budget(clock, **owe)
    grant_calls(budget, clock, 25)
    late = budget.acquire(24)
    refuse_call(budget, clock, granted=0, refused=25)
    budget.record(late, granted=24, refused=0)
    budget.acquire(0)
    assert clock.sleeps == waits


def test_a_call_sent_at_the_instant_of_the_cut_is_paced_and_owes_nothing() -> None:
    """Cut to 48/s at 1.125 s; 6 units accrued since the last call (1 s). A call sent at
    1.125 s was paced at 48/s: granted 24, it owes nothing, and a call of 6 goes at once."""
    clock = Clock()
    budget = make_budget(clock, owe_late_grants=True)
    grant_calls(budget, clock, 25)
    refuse_call(budget, clock, granted=0, refused=25)
    sent = budget.acquire(0)
    budget.record(sent, granted=24, refused=0)
    budget.acquire(6)
    assert clock.sleeps == []
