"""DynamoDB operations: paced batch writes that retry UnprocessedItems, month queries, clean-up."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from statement_pipeline.core.items import (
    HASH_KEY,
    RANGE_KEY,
    SOURCE_ETAG,
    SOURCE_KEY,
    Item,
    item_size,
)
from statement_pipeline.core.ratelimit import TokenBucket, write_units
from statement_pipeline.core.retry import Backoff, RetriesExhausted, call_with_retry, is_throttling

MAX_BATCH_WRITE = 25


@dataclass(frozen=True)
class Capacity:
    """A table's billing mode and provisioned write units (None when on demand)."""

    billing_mode: str
    write_units: int | None


def describe_capacity(dynamodb: Any, table: str, backoff: Backoff) -> Capacity:
    desc = call_with_retry(lambda: dynamodb.describe_table(TableName=table), backoff)["Table"]
    mode = desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if mode == "PAY_PER_REQUEST":
        return Capacity(mode, None)
    wcu = int(desc.get("ProvisionedThroughput", {}).get("WriteCapacityUnits", 0) or 0)
    return Capacity(mode, wcu or None)


@dataclass
class WriteStats:
    """What a writer did, kept thread-safe so loaders in threads can share one."""

    items: int = 0
    calls: int = 0
    unprocessed_retries: int = 0
    throttled: int = 0
    units_estimated: int = 0
    units_reported: float = 0.0
    waited_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


class BatchWriter:
    """Writes items 25 at a time, paced by a token bucket, until every item is written.

    UnprocessedItems and throttling errors are retried with backoff; if they persist past the
    backoff's attempts, `write` returns the items left unwritten instead of raising, so the
    caller can keep the message for redelivery (Powertools-style partial failure).
    """

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        limiter: TokenBucket,
        backoff: Backoff,
        stats: WriteStats | None = None,
    ) -> None:
        self._ddb = dynamodb
        self._table = table
        self._limiter = limiter
        self._backoff = backoff
        self.stats = stats or WriteStats()

    def write(self, items: Sequence[Item]) -> list[Item]:
        """Write all `items` (puts); return those that could not be written."""
        left: list[Item] = []
        for start in range(0, len(items), MAX_BATCH_WRITE):
            left.extend(self._write_chunk(list(items[start : start + MAX_BATCH_WRITE])))
        return left

    def _write_chunk(self, chunk: list[Item]) -> list[Item]:
        attempt = 0
        pending = chunk
        while pending:
            units = sum(write_units(item_size(i)) for i in pending)
            waited = self._limiter.acquire(units)
            try:
                resp = self._ddb.batch_write_item(
                    RequestItems={self._table: [{"PutRequest": {"Item": i}} for i in pending]},
                    ReturnConsumedCapacity="TOTAL",
                )
            except ClientError as exc:
                if not is_throttling(exc) and not _is_transient(exc):
                    raise
                self.stats.add(calls=1, throttled=1, waited_seconds=waited)
                attempt += 1
                if attempt >= self._backoff.max_attempts:
                    return pending
                self._backoff.pause(attempt)
                continue
            unprocessed = resp.get("UnprocessedItems", {}).get(self._table, [])
            written = len(pending) - len(unprocessed)
            reported = sum(
                float(c.get("CapacityUnits", 0)) for c in resp.get("ConsumedCapacity", [])
            )
            left = [r["PutRequest"]["Item"] for r in unprocessed]
            left_units = sum(write_units(item_size(i)) for i in left)
            self.stats.add(
                items=written,
                calls=1,
                units_estimated=units - left_units,
                units_reported=reported,
                waited_seconds=waited,
                unprocessed_retries=1 if left else 0,
            )
            pending = left
            if pending:
                attempt += 1
                if attempt >= self._backoff.max_attempts:
                    return pending
                self._backoff.pause(attempt)
            else:
                attempt = 0
        return []


def _is_transient(exc: ClientError) -> bool:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return status >= 500


def month_items(
    dynamodb: Any, table: str, period: str, backoff: Backoff
) -> Iterator[tuple[str, str, str]]:
    """(statement_id, source_key, source_etag) of every stored item of a month, strongly read."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#p = :p",
        "ExpressionAttributeNames": {
            "#p": HASH_KEY,
            "#id": RANGE_KEY,
            "#sk": SOURCE_KEY,
            "#se": SOURCE_ETAG,
        },
        "ExpressionAttributeValues": {":p": {"S": period}},
        "ProjectionExpression": "#id, #sk, #se",
        "ConsistentRead": True,
    }
    while True:
        page = call_with_retry(lambda: dynamodb.query(**kwargs), backoff)
        for item in page.get("Items", []):
            yield (
                item[RANGE_KEY]["S"],
                item.get(SOURCE_KEY, {}).get("S", ""),
                item.get(SOURCE_ETAG, {}).get("S", ""),
            )
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def count_month(dynamodb: Any, table: str, period: str, backoff: Backoff) -> int:
    """Number of items of a month, counted by the table itself (Select=COUNT, strong read)."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#p = :p",
        "ExpressionAttributeNames": {"#p": HASH_KEY},
        "ExpressionAttributeValues": {":p": {"S": period}},
        "Select": "COUNT",
        "ConsistentRead": True,
    }
    total = 0
    while True:
        page = call_with_retry(lambda: dynamodb.query(**kwargs), backoff)
        total += int(page.get("Count", 0))
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def count_current(
    dynamodb: Any,
    table: str,
    period: str,
    sources: dict[str, str],
    backoff: Backoff,
) -> int:
    """Items of a month that come from the current version of one of its files."""
    return sum(
        1
        for _, key, etag in month_items(dynamodb, table, period, backoff)
        if sources.get(key) == etag
    )


def delete_keys(
    dynamodb: Any,
    table: str,
    period: str,
    statement_ids: Sequence[str],
    limiter: TokenBucket,
    backoff: Backoff,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Delete the given statements of a month; returns how many delete requests succeeded."""
    done = 0
    for start in range(0, len(statement_ids), MAX_BATCH_WRITE):
        pending = [
            {"DeleteRequest": {"Key": {HASH_KEY: {"S": period}, RANGE_KEY: {"S": sid}}}}
            for sid in statement_ids[start : start + MAX_BATCH_WRITE]
        ]
        attempt = 0
        while pending:
            limiter.acquire(len(pending))
            resp = call_with_retry(
                lambda pending=pending: dynamodb.batch_write_item(RequestItems={table: pending}),
                backoff,
            )
            left = resp.get("UnprocessedItems", {}).get(table, [])
            done += len(pending) - len(left)
            pending = left
            if pending:
                attempt += 1
                if attempt >= backoff.max_attempts:
                    raise RetriesExhausted(f"{len(pending)} deletes still unprocessed")
                backoff.pause(attempt)
        if on_progress is not None:
            on_progress(done)
    return done


def month_has_items(dynamodb: Any, table: str, period: str, backoff: Backoff) -> bool:
    """True if any item of the month exists (one key-only read)."""
    page = call_with_retry(
        lambda: dynamodb.query(
            TableName=table,
            KeyConditionExpression="#p = :p",
            ExpressionAttributeNames={"#p": HASH_KEY},
            ExpressionAttributeValues={":p": {"S": period}},
            ProjectionExpression="#p",
            Limit=1,
            ConsistentRead=True,
        ),
        backoff,
    )
    return bool(page.get("Items"))
