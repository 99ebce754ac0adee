"""Callers of DynamoDB simulated on a fake clock against the capacity model (no threads, no I/O).

A discrete-event simulation: `callers` workers share one budget (rules/adaptive_budget.py
through the write or read budget) and call the modelled table in turn, each call taking
`latency` seconds, as the loaders' threads (BatchWriteItem of 25 items) or the month reader's
threads (one Query page) do. Each worker's sleeps pass on its own timeline, so a worker
waiting on the budget never holds the others up, as with threads. Used by the budgets' unit
tests: how long a month takes against the table's limit, how many calls were throttled, and
whether the budget ever settled while the table still held burst credits.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from statement_harness.capacity_model import (
    Burst,
    CapacityModel,
    TableCapacity,
    WriteItem,
    read_units,
)

TABLE = "statements"
PAGE_BYTES = 1024 * 1024  # DynamoDB ends a Query page once it has read 1 MB


class Budget(Protocol):
    def acquire(self, units: float) -> float: ...

    def record(self, started: float, granted: float, refused: float) -> None: ...


class PagedBudget(Budget, Protocol):
    consistent: bool

    def page(self) -> tuple[int, float]: ...

    def learn(self, items: int, units: float) -> None: ...

    def correct(self, reserved: float, used: float) -> None: ...


class SimClock:
    """The simulation's time: the current event's, moved on by the current worker's sleeps
    (a fake clock that passes only when someone sleeps or the caller moves it)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


@dataclass
class Outcome:
    """What the simulated callers did."""

    seconds: float = 0.0  # first call to the last granted one
    calls: int = 0
    throttled_calls: int = 0
    units: float = 0.0
    # Burst units the table still held whenever the budget settled (should be about none).
    burst_at_settles: list[float] = field(default_factory=list)

    @property
    def throttled_share(self) -> float:
        return self.throttled_calls / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class Table:
    """The modelled table: capacity, compression, starting burst, the month's key values."""

    capacity: TableCapacity
    k: float = 1.0
    burst: Burst = "full"
    keys: Sequence[str] = tuple(f"2026-10#{n:02d}" for n in range(32))

    def model(self, clock: SimClock) -> CapacityModel:
        model = CapacityModel(k=self.k, burst=self.burst, clock=clock)
        model.configure(TABLE, self.capacity)
        return model


def _burst_left(model: CapacityModel, capacity: TableCapacity, write: bool) -> float:
    """Units the table's bucket holds above one second of its sustained rate."""
    bucket = model.bucket(TABLE, write=write)
    return max(0.0, bucket - (capacity.wcu if write else capacity.rcu))


def simulate_writes(
    table: Table,
    budget_of: Callable[[SimClock], Budget],
    *,
    items: int,
    callers: int = 4,
    latency: float = 0.03,
    settled: Callable[[Budget], int] | None = None,
    stalls: Sequence[tuple[float, float]] = (),
    jitter: float = 0.0,
    seed: int = 0,
) -> Outcome:
    """Write `items` 1-unit items, 25 a call, keys spread over `table.keys` in turn.

    Refused items are sent again by the same worker, after a jittered backoff when a whole
    call was refused (as `BatchWriter` does). `stalls` are (from, seconds) spells in which no
    worker sends (our own process starved of CPU). `settled(budget)` counts the budget's
    settles, to record the burst left at each.
    """
    clock = SimClock()
    model = table.model(clock)
    budget = budget_of(clock)
    rng = random.Random(seed)
    keys = [table.keys[i % len(table.keys)] for i in range(items)]
    next_item = 0
    pending: dict[int, list[str]] = {w: [] for w in range(callers)}
    refused_rounds = dict.fromkeys(range(callers), 0)
    events: list[tuple[float, int, int, str]] = [(0.0, w, w, "ready") for w in range(callers)]
    order = callers
    out = Outcome()
    first = last = None
    starts: dict[int, float] = {}
    batches: dict[int, list[str]] = {}
    settles = 0
    while events:
        at, _, worker, kind = heapq.heappop(events)
        clock.now = _after_stalls(at, stalls)
        if kind == "ready":
            batch = pending[worker]
            if not batch:
                batch = keys[next_item : next_item + 25]
                next_item += len(batch)
            if not batch:
                continue
            batches[worker] = batch
            starts[worker] = budget.acquire(len(batch))
            order += 1
            heapq.heappush(events, (clock.now, order, worker, "send"))
        elif kind == "send":
            batch = batches[worker]
            outcome = model.write([WriteItem(TABLE, key, 1) for key in batch])
            left = [key for key, ok in zip(batch, outcome.accepted, strict=True) if not ok]
            granted = len(batch) - len(left)
            out.calls += 1
            out.throttled_calls += bool(left)
            out.units += granted
            if granted:
                first = clock.now if first is None else first
                last = clock.now
            pending[worker] = left
            order += 1
            took = latency * (1 + rng.uniform(0, jitter))
            heapq.heappush(events, (clock.now + took, order, worker, "answer"))
            batches[worker] = [str(granted), str(len(left))]
        else:
            granted, refused = (int(n) for n in batches[worker])
            budget.record(starts[worker], granted, refused)
            if settled is not None and settled(budget) > settles:
                settles = settled(budget)
                out.burst_at_settles.append(_burst_left(model, table.capacity, write=True))
            refused_rounds[worker] = refused_rounds[worker] + 1 if refused and not granted else 0
            if refused_rounds[worker]:
                clock.sleep(rng.uniform(0, min(5.0, 0.05 * 2 ** (refused_rounds[worker] - 1))))
            order += 1
            heapq.heappush(events, (clock.now, order, worker, "ready"))
    out.seconds = (last - first) if first is not None and last is not None else 0.0
    return out


def _after_stalls(at: float, stalls: Sequence[tuple[float, float]]) -> float:
    for start, seconds in stalls:
        if start <= at < start + seconds:
            return start + seconds
    return at


def simulate_reads(
    table: Table,
    budget_of: Callable[[SimClock], PagedBudget],
    *,
    items: int,
    item_bytes: int = 400,
    callers: int = 8,
    latency: float = 0.01,
    jitter: float = 0.0,
    seed: int = 0,
) -> Outcome:
    """Read a month of `items` items of `item_bytes`, spread evenly over `table.keys`: one
    Query page at a time per worker, shard after shard, `Limit` as the budget says.

    A refused page (the table's read bucket in debt) is asked again after a jittered backoff,
    as the month reader does; a page read is charged its items' total size (the model's rule).
    """
    clock = SimClock()
    model = table.model(clock)
    budget = budget_of(clock)
    rng = random.Random(seed)
    left = {key: items // len(table.keys) for key in table.keys}
    for key in list(left)[: items % len(table.keys)]:
        left[key] += 1
    shards = list(left)
    callers = min(callers, getattr(budget, "readers", callers))
    events: list[tuple[float, int, int, str]] = [(0.0, w, w, "ready") for w in range(callers)]
    order = callers
    out = Outcome()
    first = last = None
    current: dict[int, str | None] = dict.fromkeys(range(callers))
    asked: dict[int, tuple[float, int, float]] = {}
    answers: dict[int, tuple[int, float]] = {}
    refused_rounds = dict.fromkeys(range(callers), 0)
    while events:
        at, _, worker, kind = heapq.heappop(events)
        clock.now = at
        if kind == "ready":
            if current[worker] is None or not left[current[worker] or ""]:
                current[worker] = shards.pop() if shards else None
            if current[worker] is None:
                continue
            limit, estimate = budget.page()
            asked[worker] = (budget.acquire(estimate), limit, estimate)
            order += 1
            heapq.heappush(events, (clock.now, order, worker, "send"))
        elif kind == "send":
            key = current[worker] or ""
            _, limit, _ = asked[worker]
            out.calls += 1
            if model.check_read(TABLE, key) is not None:
                model.record_read(True)
                out.throttled_calls += 1
                answers[worker] = (0, 0.0)
            else:
                count = min(limit, left[key], PAGE_BYTES // item_bytes)
                units = read_units(count * item_bytes, consistent=budget.consistent)
                model.record_read(False, [(TABLE, key, units)])
                left[key] -= count
                out.units += units
                answers[worker] = (count, units)
                first = clock.now if first is None else first
                last = clock.now
            took = latency * (1 + rng.uniform(0, jitter))
            order += 1
            heapq.heappush(events, (clock.now + took, order, worker, "answer"))
        else:
            started, _, estimate = asked[worker]
            count, units = answers[worker]
            if count or units:
                budget.correct(estimate, units)
                budget.learn(count, units)
                budget.record(started, units, 0.0)
                refused_rounds[worker] = 0
            else:
                # A refused page keeps its reservation: the table is owed, readers wait.
                budget.record(started, 0.0, estimate)
                refused_rounds[worker] += 1
                clock.sleep(rng.uniform(0, min(5.0, 0.05 * 2 ** (refused_rounds[worker] - 1))))
            order += 1
            heapq.heappush(events, (clock.now, order, worker, "ready"))
    out.seconds = (last - first) if first is not None and last is not None else 0.0
    return out
