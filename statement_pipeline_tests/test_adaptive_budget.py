"""The write and read budgets against the DynamoDB capacity model, on a simulated clock.

Loaders (4 workers, BatchWriteItem of 25 one-unit items) and month readers (one Query page per
call) are simulated call by call (statement_harness/budget_simulation.py) against the capacity
model, with latency jitter and stalls of our own process. Limits are computed here from the
table's published rules (capacity doc: T = max(N / R, N / W - 300 s)), never from the budget.
"""

from __future__ import annotations

import random

import pytest

from statement_harness.budget_simulation import Table, simulate_reads, simulate_writes
from statement_harness.capacity_model import TableCapacity
from statement_pipeline.rules.adaptive_budget import AdaptiveBudget
from statement_pipeline.rules.read_budget import ReadBudget, read_units
from statement_pipeline.rules.write_budget import WriteBudget

ITEMS = 23_300
SHARDS = 32
BURST_SECONDS = 300


def _stalls(seed: int, spread: float) -> list[tuple[float, float]]:
    """Six spells of 0.1 to 1.5 s in which our process sends nothing (CPU starved)."""
    rng = random.Random(seed)
    return sorted((rng.uniform(0, spread), rng.uniform(0.1, 1.5)) for _ in range(6))


def _provisioned(wcu: int) -> TableCapacity:
    return TableCapacity.provisioned(wcu, wcu, hash_key="month_shard")


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(
    ("wcu", "burst", "k"),
    [
        (20, "full", 2),
        (20, "full", 5),
        (20, "full", 10),
        (20, "full", 20),
        (80, "empty", 2),
        (80, "empty", 5),
        (80, "empty", 10),
        (80, "empty", 20),
    ],
)
def test_the_write_phase_reaches_the_table_limit_at_any_compression(
    wcu: int, burst: str, k: float, seed: int
) -> None:
    """20 WCU idle and 80 WCU spent: within 1.25x of the table's limit, whatever k."""
    table = Table(_provisioned(wcu), k=k, burst=burst)  # type: ignore[arg-type]
    saved = wcu * BURST_SECONDS if burst == "full" else 0
    limit = (ITEMS - saved) / wcu / k  # measured seconds: AWS seconds / k
    stalls = _stalls(seed, limit)
    out = simulate_writes(
        table,
        lambda clock: WriteBudget(floor=wcu * k, clock=clock, sleep=clock.sleep),
        items=ITEMS,
        latency=0.01,
        jitter=2.0,
        stalls=stalls,
        settled=lambda budget: budget.state().settles,  # type: ignore[attr-defined]
        seed=seed,
    )
    stalled = sum(seconds for start, seconds in stalls if start < out.seconds)
    assert out.seconds <= 1.25 * limit + stalled
    assert out.throttled_share <= 0.15
    # Settled only once the burst was gone (at most a second's worth of the rate saved).
    assert out.burst_at_settles, "a spent burst must settle the rate"
    assert max(out.burst_at_settles) <= wcu


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_partition_limit_with_burst_left_is_followed_and_never_settled(seed: int) -> None:
    """160 WCU idle: 48,000 burst units; one partition's 1,000 units/s is the limit."""
    out = simulate_writes(
        Table(_provisioned(160)),
        lambda clock: WriteBudget(floor=160, clock=clock, sleep=clock.sleep),
        items=ITEMS,
        latency=0.03,
        jitter=3.0,
        stalls=_stalls(seed, 20),
        settled=lambda budget: budget.state().settles,  # type: ignore[attr-defined]
        seed=seed,
    )
    stalled = sum(seconds for start, seconds in _stalls(seed, 20) if start < out.seconds)
    assert out.burst_at_settles == []
    assert out.seconds <= 1.25 * ITEMS / 1000 + stalled
    assert out.throttled_share <= 0.15


def _climb_back_seconds(rate: float) -> float:
    """A budget paced at `rate` is throttled once; seconds until it paces at `rate` again."""
    now = [0.0]
    budget = AdaptiveBudget(floor=None, clock=lambda: now[0], sleep=lambda s: None)
    for _ in range(40):  # unpaced calls, then a throttle while granted `rate` a second
        started = budget.acquire(1)
        now[0] += 1 / 40
        budget.record(started, rate / 40, 0)
    budget.record(budget.acquire(1), rate / 40, rate / 40)
    cut_to = budget.pace()
    assert cut_to is not None
    assert cut_to < rate
    start = now[0]
    while (budget.pace() or 0) < rate:
        now[0] += 0.01
        budget.record(budget.acquire(0), 1, 0)
    return now[0] - start


def test_the_climb_back_after_a_cut_takes_the_same_time_at_20_or_4000_units() -> None:
    assert _climb_back_seconds(20) == pytest.approx(_climb_back_seconds(4000), abs=0.02)
    assert _climb_back_seconds(20) < 5


def test_a_refusal_for_a_partition_or_key_never_settles_the_rate() -> None:
    """Granted about the floor, but DynamoDB said KeyRange: the burst may well remain."""
    now = [0.0]

    def budget_after(partition_limit: bool) -> WriteBudget:
        now[0] = 0.0
        budget = WriteBudget(floor=100.0, clock=lambda: now[0], sleep=lambda s: None)
        for _ in range(20):
            started = budget.acquire(10)
            now[0] += 0.1
            budget.record(started, 10, 0)
        budget.record(budget.acquire(10), 0, 25, partition_limit=partition_limit)
        return budget

    assert budget_after(partition_limit=False).state().settled
    assert not budget_after(partition_limit=True).state().settled


@pytest.mark.parametrize(
    ("items", "k", "consistent"),
    [(23_300, 1, True), (233_000, 1, True), (233_000, 40, True), (233_000, 1, False)],
)
def test_reads_spend_the_burst_then_pace_at_the_share_with_few_refused(
    items: int, k: float, consistent: bool
) -> None:
    """A 20 RCU table, idle: at most 5% of the read calls refused, and no slower than the
    burst then 80% of the table's read rate allow (the rest is the statement API's)."""
    rcu, share, size = 20, 0.8, 400
    out = simulate_reads(
        Table(_provisioned(rcu), k=k),
        lambda clock: ReadBudget(
            consistent=consistent, share=share, floor=rcu * k, clock=clock, sleep=clock.sleep
        ),
        items=items,
        item_bytes=size,
        jitter=2.0,
    )
    assert out.throttled_share <= 0.05
    whole = read_units(items * size, consistent=consistent)
    assert whole <= out.units <= 1.15 * whole  # pages round up to whole 4 KB blocks
    beyond_burst = max(0.0, out.units - rcu * BURST_SECONDS)
    assert out.seconds <= 1.1 * beyond_burst / (share * rcu * k) + 10 / k


def test_a_slow_table_is_read_by_fewer_threads_in_pages_of_whole_blocks() -> None:
    """Pages in flight are charged when answered: together at most half a second of the
    floor, each at least 8 blocks (32 KB) so rounding up wastes at most an eighth."""
    small = ReadBudget(consistent=True, floor=20.0)
    big = ReadBudget(consistent=True, floor=12_000.0)
    assert (small.readers, big.readers) == (1, 8)
    items, estimate = small.page()
    assert estimate >= 8  # 8 blocks of 4 KB, strongly consistent
    eventual = ReadBudget(consistent=False, floor=20.0)
    assert eventual.page()[1] == pytest.approx(estimate / 2)
    # Once pages have been read, the units an item costs come from DynamoDB's answers.
    small.learn(100, 10.0)
    assert small.units_per_item() == pytest.approx(0.1)
    assert small.page() == (100, pytest.approx(10.0))
    assert items >= 1
