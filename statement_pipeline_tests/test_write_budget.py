"""The adaptive write budget on a fake clock, and the loaders' shares of a table's rate."""

from __future__ import annotations

import math
from typing import Any

import dagster as dg
import pytest

from statement_harness.budget_simulation import SimClock
from statement_pipeline.assets.loading import TABLE_WRITE_POOL, pool_slots
from statement_pipeline.aws.loading import plan_loading
from statement_pipeline.aws.queue_drainer import LoadStats
from statement_pipeline.aws.table import BatchWriter, Capacity
from statement_pipeline.rules.backoff import Backoff
from statement_pipeline.rules.items import item_size
from statement_pipeline.rules.write_budget import WriteBudget, per_op_share, write_units

# Time passes only when someone sleeps (or the test moves it), from here.
START = 1000.0
NO_SLEEP = Backoff(base=0.0, cap=0.0, max_attempts=6, sleep=lambda _s: None)


class GrantingTable:
    """A BatchWriteItem that grants `rate` units a second (1 s saved) plus a `burst`.

    Throttled items come back as UnprocessedItems; each call takes `call_seconds`.
    """

    def __init__(self, clock: SimClock, rate: float, burst: float, call_seconds: float) -> None:
        self.clock = clock
        self.rate = rate
        self.tokens = burst + rate
        self.last = clock.now
        self.call_seconds = call_seconds
        self.calls = 0
        self.throttled_calls = 0
        self.stored = 0

    def batch_write_item(self, RequestItems: dict, ReturnConsumedCapacity: str) -> dict:
        self.clock.now += self.call_seconds
        self.tokens += (self.clock.now - self.last) * self.rate
        self.last = self.clock.now
        ((table, requests),) = RequestItems.items()
        left = []
        for request in requests:
            units = write_units(item_size(request["PutRequest"]["Item"]))
            if self.tokens >= units:
                self.tokens -= units
                self.stored += 1
            else:
                left.append(request)
        self.calls += 1
        self.throttled_calls += bool(left)
        return {"UnprocessedItems": {table: left} if left else {}, "ConsumedCapacity": []}


def _items(count: int) -> list[dict[str, Any]]:
    return [
        {"month_shard": {"S": f"2026-10#{i % 32:02d}"}, "statement_id": {"S": f"S-{i:07d}"}}
        for i in range(count)
    ]


def _load(
    rate: float, burst: float, floor: float, items: int = 6000
) -> tuple[GrantingTable, float]:
    clock = SimClock(START)
    table = GrantingTable(clock, rate=rate, burst=burst, call_seconds=0.01)
    budget = WriteBudget(floor=floor, clock=clock, sleep=clock.sleep)
    writer = BatchWriter(table, "t", budget, NO_SLEEP, LoadStats())
    started = clock.now
    assert writer.write(_items(items)) == []
    assert table.stored == items
    return table, clock.now - started


def test_an_unthrottled_budget_never_waits() -> None:
    clock = SimClock(START)
    budget = WriteBudget(floor=100.0, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        budget.record(budget.acquire(25), granted=25, refused=0)
    assert clock.now == START
    assert budget.state().rate is None


def test_burst_is_spent_while_granted_then_the_rate_settles_at_the_floor() -> None:
    """160 units/s with 2,000 saved: the loader rides the burst, then settles at 160/s."""
    table, seconds = _load(rate=160.0, burst=2000.0, floor=160.0)
    # The shortest possible time: the burst and the first second, then 160 units a second.
    shortest = (6000 - 2000 - 160) / 160
    assert shortest <= seconds <= 1.25 * shortest
    assert table.throttled_calls / table.calls <= 0.15


def test_a_spent_burst_settles_at_once() -> None:
    table, seconds = _load(rate=160.0, burst=0.0, floor=160.0, items=3000)
    shortest = (3000 - 160) / 160
    assert shortest <= seconds <= 1.25 * shortest
    assert table.throttled_calls / table.calls <= 0.15


def test_a_partition_limit_above_the_floor_is_followed_not_settled() -> None:
    """1,000 units/s granted (a partition's limit), floor 160: the loader stays near 1,000."""
    table, seconds = _load(rate=1000.0, burst=0.0, floor=160.0, items=20_000)
    shortest = (20_000 - 1000) / 1000
    assert shortest <= seconds <= 1.25 * shortest
    assert table.throttled_calls / table.calls <= 0.15


def test_a_settled_budget_still_throttled_goes_below_the_floor() -> None:
    """Another writer takes half the table: the floor is too high, the budget learns it."""
    _, seconds = _load(rate=80.0, burst=0.0, floor=160.0, items=2000)
    shortest = (2000 - 80) / 80
    assert shortest <= seconds <= 1.4 * shortest


def test_throttles_of_calls_started_before_a_cut_do_not_cut_again() -> None:
    clock = SimClock(START)
    budget = WriteBudget(floor=10.0, clock=clock, sleep=clock.sleep)
    starts = [budget.acquire(25) for _ in range(4)]
    clock.now += 1.0
    budget.record(starts[0], granted=100, refused=25)
    after_first = budget.state()
    for started in starts[1:]:
        budget.record(started, granted=0, refused=25)
    assert budget.state().cuts == after_first.cuts == 1
    assert budget.state().throttles == 4


def test_a_cap_paces_from_the_start_and_never_spends_the_burst() -> None:
    clock = SimClock(START)
    budget = WriteBudget(floor=160.0, cap=80.0, clock=clock, sleep=clock.sleep)
    started = clock.now
    for _ in range(80):
        budget.record(budget.acquire(25), granted=25, refused=0)
    # Nothing saved up at the start: 2,000 units at 80 a second.
    assert clock.now - started == pytest.approx(80 * 25 / 80)
    assert budget.state().rate == 80.0


def test_invalid_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="floor"):
        WriteBudget(floor=0.0)
    with pytest.raises(ValueError, match="cap"):
        WriteBudget(floor=None, cap=-1.0)


def test_write_units_are_per_started_kilobyte() -> None:
    assert [write_units(n) for n in (1, 1024, 1025, 2048, 2049)] == [1, 1, 2, 2, 3]
    assert write_units(0) == 1


@pytest.mark.parametrize(
    ("slots", "loaders", "ops"), [(1, 4, 1), (4, 4, 4), (2, 5, 2), (None, 3, 3), (None, 4, 1)]
)
def test_the_sustained_rate_is_split_over_the_pool_slots(
    slots: int | None, loaders: int, ops: int
) -> None:
    capacity = Capacity("PROVISIONED", write_units=160, read_units=160)
    plan = plan_loading(
        capacity, loaders=loaders, loader_ops=ops, pool_slots=slots, target_utilisation=None
    )
    writers = slots if slots is not None else ops
    assert plan.floor == pytest.approx(160 / writers)
    assert plan.cap is None
    assert sum(plan.workers_of(i) for i in range(plan.loader_ops)) == loaders


def test_target_utilisation_caps_each_share_and_on_demand_settles_at_4000() -> None:
    provisioned = Capacity("PROVISIONED", write_units=160, read_units=160)
    capped = plan_loading(
        provisioned, loaders=4, loader_ops=2, pool_slots=2, target_utilisation=0.5
    )
    assert capped.cap == pytest.approx(40.0)
    on_demand = plan_loading(
        Capacity("PAY_PER_REQUEST", None, None),
        loaders=4,
        loader_ops=1,
        pool_slots=4,
        target_utilisation=None,
    )
    assert on_demand.floor == pytest.approx(1000.0)
    assert per_op_share(None, 3) is None
    assert math.isclose(per_op_share(300.0, 0) or 0, 300.0)


def test_the_pool_limit_is_read_from_the_instance() -> None:
    """Explicit pool slots win; else the instance's default pool limit; else unlimited."""
    with dg.DagsterInstance.ephemeral() as instance:
        assert pool_slots(instance) is None
        instance.event_log_storage.set_concurrency_slots(TABLE_WRITE_POOL, 2)
        assert pool_slots(instance) == 2
    settings = {"concurrency": {"pools": {"default_limit": 3}}}
    with dg.DagsterInstance.ephemeral(settings=settings) as instance:
        assert pool_slots(instance) == 3


def test_a_wrong_settle_is_undone_by_probing() -> None:
    """Settled at 160/s by mistake while the table grants 1,000/s: probing finds the rate again."""
    clock = SimClock(START)
    table = GrantingTable(clock, rate=1000.0, burst=0.0, call_seconds=0.01)
    budget = WriteBudget(floor=160.0, clock=clock, sleep=clock.sleep)
    # The table grants about the floor for a while and refuses a call (another writer that
    # has since gone, or a slow spell of ours): it looks like a spent burst.
    for _ in range(12):
        started = budget.acquire(15)
        clock.now += 0.1
        budget.record(started, granted=15, refused=0)
    budget.record(budget.acquire(25), granted=15, refused=10)
    assert budget.state().settled
    writer = BatchWriter(table, "t", budget, NO_SLEEP, LoadStats())
    started = clock.now
    assert writer.write(_items(20_000)) == []
    # Far faster than the 125 s a budget stuck at 160/s would take.
    assert clock.now - started < 40
