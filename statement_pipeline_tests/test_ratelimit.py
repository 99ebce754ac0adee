"""Pacing to a table's capacity: the token bucket on a fake clock, and writes held to the budget."""

from __future__ import annotations

import math
from typing import Any

import boto3
import pytest

from statement_pipeline.core.items import item_size
from statement_pipeline.core.load import loading_metadata, plan_loaders
from statement_pipeline.core.loader import DrainSettings
from statement_pipeline.core.ratelimit import TokenBucket, per_loader_rate, write_units
from statement_pipeline.core.retry import Backoff
from statement_pipeline.core.table import BatchWriter

NO_SLEEP = Backoff(base=0.0, cap=0.0, max_attempts=6, sleep=lambda _s: None)


class FakeClock:
    """Time that passes only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _bucket(rate: float | None, burst: float | None = None) -> tuple[TokenBucket, FakeClock]:
    clock = FakeClock()
    return TokenBucket(rate, burst, clock=clock, sleep=clock.sleep), clock


def test_unlimited_bucket_never_waits() -> None:
    bucket, clock = _bucket(None)
    assert all(bucket.acquire(1000) == 0.0 for _ in range(100))
    assert clock.slept == []


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0)


def test_a_full_bucket_pays_out_its_burst_then_the_rate() -> None:
    bucket, clock = _bucket(rate=10, burst=10)
    assert bucket.acquire(10) == 0.0
    # Empty now: 5 more units take half a second at 10 units/s.
    assert bucket.acquire(5) == pytest.approx(0.5)
    assert clock.now == pytest.approx(1000.5)
    assert bucket.waited == pytest.approx(0.5)


def test_refill_is_capped_at_the_burst() -> None:
    bucket, clock = _bucket(rate=10, burst=10)
    bucket.acquire(10)
    clock.now += 60  # idle for a minute: still only one burst saved
    assert bucket.acquire(10) == 0.0
    assert bucket.acquire(10) == pytest.approx(1.0)


def test_a_request_larger_than_the_burst_goes_into_debt() -> None:
    bucket, _ = _bucket(rate=4, burst=4)
    assert bucket.acquire(4) == 0.0
    assert bucket.acquire(25) == pytest.approx(25 / 4)
    # The debt was slept off, so the next unit waits one token's time, no more.
    assert bucket.acquire(1) == pytest.approx(0.25)


@pytest.mark.parametrize(("rate", "chunk"), [(128.0, 25), (16.0, 25), (3.5, 2)])
def test_long_run_average_is_the_rate(rate: float, chunk: int) -> None:
    bucket, clock = _bucket(rate=rate)
    start = clock.now
    total = 0
    for _ in range(400):
        bucket.acquire(chunk)
        total += chunk
    elapsed = clock.now - start
    # Everything beyond the initial one-second burst is paid for at exactly `rate`.
    assert elapsed == pytest.approx((total - rate) / rate)


def test_each_loader_gets_its_share_of_the_target() -> None:
    assert per_loader_rate(160, 0.8, 4) == pytest.approx(32.0)
    assert per_loader_rate(20, 0.8, 4) == pytest.approx(4.0)
    assert per_loader_rate(None, 0.8, 4) is None
    with pytest.raises(ValueError, match="utilisation"):
        per_loader_rate(160, 1.5, 4)


def test_write_units_are_per_started_kilobyte() -> None:
    assert [write_units(n) for n in (1, 1024, 1025, 2048, 4097)] == [1, 1, 2, 2, 5]


class RecordingTable:
    """A BatchWriteItem that stores everything and notes when (fake time) and how much."""

    def __init__(self, clock: FakeClock, reported_per_item: float) -> None:
        self.clock = clock
        self.reported_per_item = reported_per_item
        self.calls: list[tuple[float, int]] = []
        self.stored = 0

    def batch_write_item(self, RequestItems: dict, ReturnConsumedCapacity: str) -> dict:
        assert ReturnConsumedCapacity == "TOTAL"
        ((table, requests),) = RequestItems.items()
        units = sum(write_units(item_size(r["PutRequest"]["Item"])) for r in requests)
        self.calls.append((self.clock.now, units))
        self.stored += len(requests)
        return {
            "UnprocessedItems": {},
            "ConsumedCapacity": [
                {"TableName": table, "CapacityUnits": self.reported_per_item * len(requests)}
            ],
        }


def _items(count: int, pad: int) -> list[dict[str, Any]]:
    return [
        {
            "period": {"S": "2026-10"},
            "statement_id": {"S": f"STM-{i:07d}"},
            "pad": {"S": "x" * pad},
        }
        for i in range(count)
    ]


@pytest.mark.parametrize(("budget", "pad"), [(128.0, 100), (16.0, 100), (128.0, 1500)])
def test_batch_writes_stay_at_the_budget(budget: float, pad: int) -> None:
    """Over any second after the first, the table receives at most the budget (+1 batch)."""
    clock = FakeClock()
    limiter = TokenBucket(budget, clock=clock, sleep=clock.sleep)
    table = RecordingTable(clock, reported_per_item=1.0)
    writer = BatchWriter(table, "t", limiter, NO_SLEEP)
    items = _items(1500, pad)
    started = clock.now
    assert writer.write(items) == []
    assert table.stored == len(items)

    units = sum(write_units(item_size(i)) for i in items)
    elapsed = clock.now - started
    # The whole write takes what its units cost at the budget, after one second of burst.
    assert elapsed == pytest.approx((units - budget) / budget)
    biggest_batch = max(u for _, u in table.calls)
    for window_start in range(math.ceil(elapsed)):
        t0 = started + 1 + window_start
        in_window = sum(u for t, u in table.calls if t0 <= t < t0 + 1)
        assert in_window <= budget + biggest_batch

    # Consumed capacity is reported both ways: estimated from item sizes, and as returned.
    assert writer.stats.units_estimated == units
    assert writer.stats.units_reported == pytest.approx(len(items) * 1.0)
    assert writer.stats.waited_seconds == pytest.approx(elapsed)


def test_the_run_budget_is_split_over_loaders_and_ops(aws: None) -> None:
    """Loader ops together get target x WCU, whatever the loaders' spread over ops."""
    ddb = boto3.client("dynamodb", region_name="eu-west-1")
    ddb.create_table(
        TableName="paced",
        KeySchema=[
            {"AttributeName": "period", "KeyType": "HASH"},
            {"AttributeName": "statement_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "period", "AttributeType": "S"},
            {"AttributeName": "statement_id", "AttributeType": "S"},
        ],
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 160},
    )
    for loaders, ops in [(4, 1), (4, 4), (5, 2), (3, 3)]:
        settings = plan_loaders(
            ddb,
            "paced",
            loaders=loaders,
            loader_ops=ops,
            target_utilisation=0.8,
            drain=DrainSettings(),
        )
        assert settings.write_capacity == 160
        per_op = [
            settings.units_per_second * settings.workers_of(i) for i in range(settings.loader_ops)
        ]
        assert sum(settings.workers_of(i) for i in range(settings.loader_ops)) == loaders
        assert sum(per_op) == pytest.approx(128.0)


def test_consumed_capacity_is_in_the_run_metadata() -> None:
    from statement_pipeline.core.load import LoadedMonth

    loaded = LoadedMonth(
        **{
            name: 0
            for name in LoadedMonth.__dataclass_fields__
            if name not in ("period", "sources", "failures", "billing_mode", "write_capacity")
        },
        period="2026-10",
        sources={},
        failures=[],
        billing_mode="PROVISIONED",
        write_capacity=160,
    )
    loaded.units_estimated = 23_300
    loaded.units_reported = 932.0
    metadata = loading_metadata(loaded)
    assert metadata["consumed_wcu_estimated"] == 23_300
    assert metadata["consumed_wcu_reported"] == 932.0
    assert metadata["write_capacity"] == 160
