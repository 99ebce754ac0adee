"""The read budget's pages and readers, the budgets' argument checks, and the backoff bounds.

Expected values worked out by hand: a strongly consistent read costs one unit per started
4 KB, an eventually consistent one half that; pages are 8 to 32 blocks (32 to 128 KB).
"""

from __future__ import annotations

import random
import re

import pytest

from statement_pipeline.rules.adaptive_budget import AdaptiveBudget
from statement_pipeline.rules.backoff import Backoff
from statement_pipeline.rules.read_budget import ReadBudget, read_units
from statement_pipeline_tests.test_budget_rules import Clock, grant_calls, refuse_call


def test_read_units_are_started_4kb_blocks_halved_when_eventually_consistent() -> None:
    sizes = (0, 1, 4096, 4097, 8192, 8193)
    assert [read_units(n, consistent=True) for n in sizes] == [1.0, 1.0, 1.0, 2.0, 2.0, 3.0]
    assert [read_units(n, consistent=False) for n in sizes] == [0.5, 0.5, 0.5, 1.0, 1.0, 1.5]


@pytest.mark.parametrize(
    ("floor", "consistent", "readers", "expected"),
    [
        (None, True, 8, 8),  # no floor known: as many as asked for
        (None, True, 3, 3),
        (12_000.0, True, 8, 8),  # 6,000 units in flight fit 750 pages of 8
        (40.0, True, 8, 2),  # 20 units in flight: 2 pages of 8 units
        (40.0, False, 8, 5),  # 20 units: 5 pages of 4 units (eventually consistent)
        (20.0, True, 8, 1),  # 10 units: 1 page
        (5.0, True, 8, 1),  # 2.5 units: not a page, yet one reader reads
    ],
)
def test_a_slow_table_is_read_by_fewer_readers(
    floor: float | None, consistent: bool, readers: int, expected: int
) -> None:
    budget = ReadBudget(consistent=consistent, readers=readers, floor=floor)
    assert (budget.readers, budget.consistent) == (expected, consistent)


def test_before_any_page_an_item_is_guessed_at_512_bytes() -> None:
    assert ReadBudget(consistent=True, floor=None).units_per_item() == 0.125  # 512 / 4096
    assert ReadBudget(consistent=False, floor=None).units_per_item() == 0.0625


def test_the_units_per_item_come_from_every_page_read_and_only_real_ones() -> None:
    budget = ReadBudget(consistent=True, floor=None)
    budget.learn(0, 5.0)  # nothing read, or nothing charged: not a measure
    budget.learn(3, 0.0)
    budget.learn(1, 0.5)
    assert budget.units_per_item() == 0.5
    budget.learn(3, 1.5)
    assert budget.units_per_item() == 0.5  # 2 units over 4 items
    budget.learn(4, 0.0)
    budget.learn(4, 6.0)
    assert budget.units_per_item() == 1.0  # 8 units over 8 items


@pytest.mark.parametrize(
    ("floor", "consistent", "page"),
    [
        (None, True, (256, 32.0)),  # unpaced, no floor: a whole 128 KB page, 32 blocks
        (None, False, (256, 16.0)),
        (12_000.0, True, (256, 32.0)),  # 750 units a reader, held to a whole page
        (100.0, True, (66, 8.25)),  # 6 readers: 8.33 units each, 66 items of 0.125
        (20.0, True, (80, 10.0)),  # 1 reader: 10 units
        (5.0, True, (64, 8.0)),  # 2.5 units, raised to 8 blocks
        (5.0, False, (64, 4.0)),  # 1.25 units, raised to 8 half blocks
    ],
)
def test_a_page_holds_half_a_second_of_the_floor_in_whole_blocks(
    floor: float | None, consistent: bool, page: tuple[int, float]
) -> None:
    assert ReadBudget(consistent=consistent, floor=floor).page() == page


def test_pages_follow_the_paced_rate_and_the_measured_item_cost() -> None:
    clock = Clock()
    budget = ReadBudget(consistent=True, readers=1, floor=None, clock=clock, sleep=clock.sleep)
    budget.learn(10, 2.0)  # 0.2 units an item
    assert budget.page() == (160, 32.0)  # unpaced, no floor: a whole page
    grant_calls(budget, clock, 25)
    refuse_call(budget, clock, granted=0, refused=25)  # 48/s: half a second is 24 units
    assert budget.page() == (120, pytest.approx(24.0))
    budget.learn(1, 300.0)  # a huge item: 302 units over 11 items, 27.45 an item
    assert budget.page() == (1, pytest.approx(302 / 11))


def test_reads_settle_at_their_share_and_never_probe() -> None:
    clock = Clock()
    budget = ReadBudget(consistent=True, floor=100.0, clock=clock, sleep=clock.sleep)
    grant_calls(budget, clock, 25)
    refuse_call(budget, clock, granted=0, refused=25)
    assert (budget.state().settled, budget.pace()) == (True, pytest.approx(80.0))
    clock.now = 1000.0
    budget.acquire(0)
    assert (budget.state().settled, budget.state().probes) == (True, 0)


def test_a_read_granted_after_the_cut_is_owed_to_the_table() -> None:
    """As the adaptive budget with late grants owed: 24 units owed at 48/s, less 0.125 s."""
    clock = Clock()
    budget = ReadBudget(consistent=True, floor=None, clock=clock, sleep=clock.sleep)
    grant_calls(budget, clock, 25)
    late = budget.acquire(24)
    refuse_call(budget, clock, granted=0, refused=25)
    budget.record(late, granted=24, refused=0)
    budget.acquire(0)
    assert clock.sleeps == [0.375]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"floor": 0.0}, "floor must be positive (or None when unknown)"),
        ({"floor": -1.0}, "floor must be positive (or None when unknown)"),
        ({"cap": 0.0}, "cap must be positive (or None for no cap)"),
        ({"cut": 0.0}, "cut must be in (0, 1); window and climb time positive"),
        ({"cut": 1.0}, "cut must be in (0, 1); window and climb time positive"),
        ({"window": 0.0}, "cut must be in (0, 1); window and climb time positive"),
        ({"climb_seconds": 0.0}, "cut must be in (0, 1); window and climb time positive"),
        ({"probe_seconds": 0.0}, "probe time must be positive (or None: never probe)"),
        ({"settled_share": 0.0}, "settled share must be in (0, 1]"),
        ({"settled_share": 1.01}, "settled share must be in (0, 1]"),
    ],
)
def test_budgets_out_of_range_are_refused_with_the_reason(
    kwargs: dict[str, float], message: str
) -> None:
    kwargs = {"floor": None, **kwargs}
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        AdaptiveBudget(**kwargs)  # type: ignore[arg-type]


def test_budgets_at_the_edges_of_their_ranges_are_accepted() -> None:
    budget = AdaptiveBudget(
        floor=0.5,
        cap=0.5,
        cut=0.5,
        window=0.5,
        climb_seconds=0.5,
        probe_seconds=0.5,
        settled_share=1.0,
    )
    assert (budget.floor, budget.cap) == (0.5, 0.5)
    assert AdaptiveBudget(floor=None, probe_seconds=None).pace() is None


class Highest(random.Random):
    """Draws the top of every range: the longest each wait may be."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Lowest(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


def test_backoff_doubles_from_the_base_up_to_the_cap_with_full_jitter() -> None:
    longest = Backoff(rng=Highest())
    # 0.05 s doubling: 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, then the 5 s cap.
    assert [longest.delay(n) for n in range(1, 10)] == pytest.approx(
        [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    )
    assert [Backoff(rng=Lowest()).delay(n) for n in (1, 5, 9)] == [0, 0, 0]


def test_backoff_pauses_for_the_delay_it_draws() -> None:
    slept: list[float] = []
    backoff = Backoff(base=1.0, cap=3.0, sleep=slept.append, rng=Highest())
    assert [backoff.pause(n) for n in (1, 2, 3)] == [1.0, 2.0, 3.0]
    assert slept == [1.0, 2.0, 3.0]


def test_the_worst_case_is_every_pause_before_the_last_attempt_at_its_longest() -> None:
    # 8 attempts, 7 pauses: 0.05 + 0.1 + 0.2 + 0.4 + 0.8 + 1.6 + 3.2.
    assert Backoff().worst_case_seconds() == pytest.approx(6.35)
    # 5 attempts of base 1, cap 3: 1 + 2 + 3 + 3.
    assert Backoff(base=1.0, cap=3.0, max_attempts=5).worst_case_seconds() == 9.0
    assert Backoff(max_attempts=1).worst_case_seconds() == 0
