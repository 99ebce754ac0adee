"""DynamoDB calls: batch writes under the write budget, per-shard month reads, clean-up.

Every read of a month runs one Query per `month_shard` value, in parallel: a month is spread
over SHARDS partition-key values (see `rules/items.py`), and one partition serves at most
3,000 read units a second, so the shards are also what makes reading a month fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from statement_pipeline.aws.clients import partition_limited, refused_whole
from statement_pipeline.rules.backoff import Backoff
from statement_pipeline.rules.items import (
    HASH_KEY,
    RANGE_KEY,
    SOURCE_ETAG,
    SOURCE_KEY,
    Item,
    item_size,
    key_of,
    loaded_now,
    mark_refused,
    mark_sent,
    month_shards,
)
from statement_pipeline.rules.tally import Counters
from statement_pipeline.rules.write_budget import WriteBudget, write_units

MAX_BATCH_WRITE = 25
QUERY_THREADS = 8


class WriteStalled(RuntimeError):
    """Batch writes made no progress for `Backoff.max_attempts` rounds in a row."""


@dataclass(frozen=True)
class Capacity:
    """A table's billing mode and capacity (None where DynamoDB does not say)."""

    billing_mode: str
    write_units: int | None
    read_units: int | None
    # On-demand: the table's warm throughput, what it sustains without throttling.
    warm_write_units: int | None = None
    warm_read_units: int | None = None

    @property
    def provisioned(self) -> bool:
        return self.billing_mode != "PAY_PER_REQUEST"


def describe_capacity(dynamodb: Any, table: str) -> Capacity:
    desc = dynamodb.describe_table(TableName=table)["Table"]
    mode = desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    warm = desc.get("WarmThroughput", {})
    if mode == "PAY_PER_REQUEST":
        writes, reads = warm.get("WriteUnitsPerSecond"), warm.get("ReadUnitsPerSecond")
        return Capacity(
            mode, None, None, int(writes) if writes else None, int(reads) if reads else None
        )
    throughput = desc.get("ProvisionedThroughput", {})
    wcu = int(throughput.get("WriteCapacityUnits", 0) or 0)
    rcu = int(throughput.get("ReadCapacityUnits", 0) or 0)
    return Capacity(mode, wcu or None, rcu or None)


@dataclass
class WriteCounters(Counters):
    """What the writers of one loader op did; bumped by its threads."""

    items: int = 0
    calls: int = 0
    throttled_calls: int = 0
    units_granted: int = 0
    units_refused: int = 0
    units_reported: float = 0.0
    paced_seconds: float = 0.0


class BatchWriter:
    """Writes items 25 at a time under a shared `WriteBudget` until each is written.

    Give it a client made with `clients.BATCH_WRITE_ATTEMPTS` (one attempt): UnprocessedItems,
    and a batch refused whole (throttled, 5xx, connection lost), are reported to the budget
    (which slows down) and re-sent at its pace. A batch gives up
    only after `backoff.max_attempts` rounds in a row without any item written; then `write`
    returns what is left instead of raising, so the caller keeps its message for redelivery
    (Powertools-style partial failure).
    """

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        budget: WriteBudget,
        backoff: Backoff,
        counters: WriteCounters | None = None,
    ) -> None:
        self._ddb = dynamodb
        self._table = table
        self._budget = budget
        self._backoff = backoff
        self.counters = counters if counters is not None else WriteCounters()

    def write(self, items: Sequence[Item]) -> list[Item]:
        """Write all `items` (puts); return those that could not be written."""
        left: list[Item] = []
        for start in range(0, len(items), MAX_BATCH_WRITE):
            left.extend(self._write_chunk(list(items[start : start + MAX_BATCH_WRITE])))
        return left

    def _write_chunk(self, chunk: list[Item]) -> list[Item]:
        stalled = 0
        pending = chunk
        while pending:
            units = sum(write_units(item_size(i)) for i in pending)
            waited_from = self._budget.acquire(units)
            mark_sent(pending, loaded_now())
            left, reported, key_range = self._send(pending, units)
            mark_refused(left)
            refused = sum(write_units(item_size(i)) for i in left)
            # Granted: the units of the items DynamoDB took (its ConsumedCapacity says the
            # same on AWS; moto fakes it). A call refused whole for a partition or key tells
            # the budget the table's burst is not what ran out.
            self._budget.record(waited_from, units - refused, refused, partition_limit=key_range)
            self.counters.bump(
                items=len(pending) - len(left),
                calls=1,
                throttled_calls=1 if left else 0,
                units_granted=units - refused,
                units_refused=refused,
                units_reported=reported,
            )
            stalled = stalled + 1 if len(left) == len(pending) else 0
            pending = left
            if stalled >= self._backoff.max_attempts:
                return pending
            if stalled:
                self._backoff.pause(stalled)
        return []

    def _send(self, pending: list[Item], units: int) -> tuple[list[Item], float, bool]:
        """One BatchWriteItem: the items left unwritten, the reported units, and whether
        DynamoDB refused the call for a partition's or a key's limit."""
        try:
            resp = self._ddb.batch_write_item(
                RequestItems={self._table: [{"PutRequest": {"Item": i}} for i in pending]},
                ReturnConsumedCapacity="TOTAL",
            )
        except (ClientError, BotoCoreError) as exc:
            # The table refused every item: the same signal as all of them unprocessed.
            # Anything else (denied, invalid) is not ours to hide.
            if not refused_whole(exc):
                raise
            return pending, 0.0, partition_limited(exc)
        unprocessed = resp.get("UnprocessedItems", {}).get(self._table, [])
        reported = sum(float(c.get("CapacityUnits", 0)) for c in resp.get("ConsumedCapacity", []))
        return [r["PutRequest"]["Item"] for r in unprocessed], reported, False


def _query_pages(dynamodb: Any, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    while True:
        page = dynamodb.query(**kwargs)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def shard_query(table: str, shard: str, **extra: Any) -> dict[str, Any]:
    """A strongly consistent Query of one shard (`names`: more ExpressionAttributeNames)."""
    names = {"#p": HASH_KEY, **extra.pop("names", {})}
    return {
        "TableName": table,
        "KeyConditionExpression": "#p = :p",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":p": {"S": shard}},
        "ConsistentRead": True,
        **extra,
    }


def per_shard(period: str, read: Callable[[str], list[Any]]) -> Iterator[Any]:
    """Run `read` for every shard of the month in parallel; yields what each returned."""
    with ThreadPoolExecutor(max_workers=QUERY_THREADS, thread_name_prefix="shard") as pool:
        for results in pool.map(read, month_shards(period)):
            yield from results


def read_month(
    dynamodb: Any,
    table: str,
    period: str,
    attributes: Sequence[str],
    *,
    consistent: bool = True,
) -> Iterator[dict[str, Any]]:
    """The given attributes of every stored item of a month, shard by shard, unpaced (for
    tooling and advisory reads; an import reads through `month_reads.MonthReader`)."""
    names = {f"#a{i}": name for i, name in enumerate(attributes)}

    def read(shard: str) -> list[dict[str, Any]]:
        kwargs = shard_query(
            table,
            shard,
            names=names,
            ProjectionExpression=", ".join(names),
            ConsistentRead=consistent,
        )
        return [item for page in _query_pages(dynamodb, kwargs) for item in page.get("Items", [])]

    return per_shard(period, read)


def month_items(dynamodb: Any, table: str, period: str) -> Iterator[tuple[str, str, str]]:
    """(statement_id, source_key, source_etag) of every stored item of a month."""
    for item in read_month(dynamodb, table, period, (RANGE_KEY, SOURCE_KEY, SOURCE_ETAG)):
        yield (
            item[RANGE_KEY]["S"],
            item.get(SOURCE_KEY, {}).get("S", ""),
            item.get(SOURCE_ETAG, {}).get("S", ""),
        )


def count_month(dynamodb: Any, table: str, period: str) -> int:
    """Number of items of a month, counted by the table itself (Select=COUNT, strong reads)."""

    def read(shard: str) -> list[int]:
        kwargs = shard_query(table, shard, Select="COUNT")
        return [sum(int(page.get("Count", 0)) for page in _query_pages(dynamodb, kwargs))]

    return sum(per_shard(period, read))


@dataclass
class DeleteResult:
    deleted: int = 0
    calls: int = 0
    left: list[str] = field(default_factory=list)


def delete_statements(
    dynamodb: Any,
    table: str,
    period: str,
    statement_ids: Sequence[str],
    budget: WriteBudget,
    backoff: Backoff,
) -> DeleteResult:
    """Delete the given statements of a month under the write budget (1 unit each)."""
    result = DeleteResult()
    for start in range(0, len(statement_ids), MAX_BATCH_WRITE):
        pending = [
            {"DeleteRequest": {"Key": key_of(period, sid)}}
            for sid in statement_ids[start : start + MAX_BATCH_WRITE]
        ]
        stalled = 0
        while pending and stalled < backoff.max_attempts:
            waited_from = budget.acquire(len(pending))
            result.calls += 1
            try:
                resp = dynamodb.batch_write_item(RequestItems={table: pending})
                left = resp.get("UnprocessedItems", {}).get(table, [])
            except (ClientError, BotoCoreError) as exc:
                if not refused_whole(exc):
                    raise
                left = pending
            budget.record(waited_from, len(pending) - len(left), len(left))
            result.deleted += len(pending) - len(left)
            stalled = stalled + 1 if len(left) == len(pending) else 0
            pending = left
            if stalled:
                backoff.pause(stalled)
        result.left.extend(r["DeleteRequest"]["Key"][RANGE_KEY]["S"] for r in pending)
    return result
