"""Reading a whole month back, paced by the read budget: one paged Query per shard.

An import reads its month once: the scheduling stage reads what the table holds before it
writes (for a new month, nothing), and the finish step reads the month once it is written;
the count check reuses whichever read is the month's latest when nothing can have written
since (`checks.py` holds that proof). Every read goes through `MonthReader`: pages bounded
with `Limit`, paced by `rules/read_budget.ReadBudget`, each page's cost taken from DynamoDB's
own ConsumedCapacity, a page refused (throttled, 5xx, connection lost) asked again at the
budget's pace. Give it a client made with `clients.READ_ATTEMPTS` (one attempt): botocore
retrying a throttled read would sleep unseen by the budget.

Strong or eventual consistency is the caller's choice (`ReadBudget.consistent`); the reads
that prove a month (the scheduling read of a run that then writes nothing, the finish read,
the check's own count) are strongly consistent, and the reads that only steer (the loaders'
"is my month complete" check, the dry run) are eventually consistent, at half the units.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from statement_pipeline.aws.clients import partition_limited, refused_whole
from statement_pipeline.aws.table import Capacity, shard_query
from statement_pipeline.rules.backoff import Backoff
from statement_pipeline.rules.items import (
    LOADED_AT,
    RANGE_KEY,
    SOURCE_ETAG,
    SOURCE_KEY,
    item_size,
    month_shards,
)
from statement_pipeline.rules.month_figures import StoredItem, stored_item, timestamp
from statement_pipeline.rules.month_plan import id_digest
from statement_pipeline.rules.read_budget import DEFAULT_READ_SHARE, ReadBudget

# What a new on-demand table serves without throttling (developer guide, on-demand capacity
# mode): the reads' sustained rate when DescribeTable shows no warm throughput.
ON_DEMAND_NEW_TABLE_RCU = 12_000
MAX_READERS = 8
# A read that has had no page answered for this long fails: the table is not serving it.
STALL_SECONDS = 300.0


class ReadStalled(RuntimeError):
    """No page of a month's read was answered for `STALL_SECONDS`."""


@dataclass(frozen=True)
class MonthRead:
    """One read of a month: what it counted, when, how, and what DynamoDB charged for it."""

    items: int = 0
    # Epoch seconds: the read's first Query was sent after `started_at`; writes that landed
    # before it are all counted (strongly consistent), later ones may or may not be.
    started_at: float = 0.0
    finished_at: float = 0.0
    consistent: bool = True
    read_units: float = 0.0
    calls: int = 0
    throttled_calls: int = 0
    paced_seconds: float = 0.0
    # The month's write stamp: the newest `loaded_at` among its items (None: not read).
    newest_write: float | None = None


def read_budget(
    capacity: Capacity, *, consistent: bool, share: float = DEFAULT_READ_SHARE
) -> ReadBudget:
    """A read budget for the table: its sustained read rate, `share` of it once settled."""
    if capacity.provisioned:
        sustained = capacity.read_units
    else:
        sustained = capacity.warm_read_units or ON_DEMAND_NEW_TABLE_RCU
    return ReadBudget(consistent=consistent, share=share, floor=sustained, readers=MAX_READERS)


@dataclass
class _Tally:
    """What the shards' threads found, added up under one lock."""

    items: int = 0
    units: float = 0.0
    calls: int = 0
    throttled: int = 0
    newest: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class MonthReader:
    """Reads a month's shards in parallel, page by page, at the read budget's pace."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        budget: ReadBudget,
        *,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
        stall_seconds: float = STALL_SECONDS,
    ) -> None:
        self._ddb = dynamodb
        self._table = table
        self.budget = budget
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._stall_seconds = stall_seconds

    def read(
        self,
        period: str,
        *,
        attributes: Sequence[str] | None = None,
        count_only: bool = False,
        each: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> MonthRead:
        """Read every item of `period` (only `attributes` of each, or only a count) and hand
        each page's items to `each` (called under a lock, one page at a time)."""
        extra: dict[str, Any] = {}
        if count_only:
            extra["Select"] = "COUNT"
        elif attributes:
            names = {f"#a{i}": name for i, name in enumerate(attributes)}
            extra = {"names": names, "ProjectionExpression": ", ".join(names)}
        tally = _Tally()
        waited_before = self.budget.state().waited_seconds
        started = self._clock()

        def shard(key: str) -> None:
            self._read_shard(shard_query(self._table, key, **dict(extra)), tally, each)

        threads = max(1, self.budget.readers)
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="month-read") as pool:
            for _ in pool.map(shard, month_shards(period)):
                pass
        return MonthRead(
            items=tally.items,
            started_at=started,
            finished_at=self._clock(),
            consistent=self.budget.consistent,
            read_units=round(tally.units, 1),
            calls=tally.calls,
            throttled_calls=tally.throttled,
            paced_seconds=round(self.budget.state().waited_seconds - waited_before, 3),
            newest_write=tally.newest,
        )

    def _read_shard(
        self,
        kwargs: dict[str, Any],
        tally: _Tally,
        each: Callable[[list[dict[str, Any]]], None] | None,
    ) -> None:
        kwargs = {
            **kwargs,
            "ConsistentRead": self.budget.consistent,
            "ReturnConsumedCapacity": "TOTAL",
        }
        refused = 0
        answered_at = self._clock()
        while True:
            limit, estimate = self.budget.page()
            started = self.budget.acquire(estimate)
            try:
                page = self._ddb.query(**kwargs, Limit=limit)
            except (ClientError, BotoCoreError) as exc:
                # Refused whole (throttled, 5xx, cut off): nothing was read, ask again at the
                # budget's pace. Anything else (denied, invalid) is not ours to hide.
                if not refused_whole(exc):
                    raise
                self.budget.record(started, 0.0, estimate, partition_limit=partition_limited(exc))
                with tally.lock:
                    tally.calls += 1
                    tally.throttled += 1
                if self._clock() - answered_at > self._stall_seconds:
                    raise ReadStalled(
                        f"no page of {kwargs['ExpressionAttributeValues'][':p']['S']} read "
                        f"for {self._stall_seconds:.0f}s: the table refused every read"
                    ) from exc
                refused += 1
                self._backoff.pause(min(refused, self._backoff.max_attempts))
                continue
            refused = 0
            answered_at = self._clock()
            units = _consumed(page) or estimate
            scanned = int(page.get("ScannedCount", page.get("Count", 0)))
            self.budget.correct(estimate, units)
            self.budget.learn(scanned, units)
            self.budget.record(started, units, 0.0)
            items = page.get("Items", [])
            with tally.lock:
                tally.calls += 1
                tally.units += units
                tally.items += int(page.get("Count", len(items)))
                newest = _newest(items)
                if newest is not None and (tally.newest is None or newest > tally.newest):
                    tally.newest = newest
                if each is not None and items:
                    each(items)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def describe_read(period: str, when: str, read: MonthRead) -> str:
    """A log line about one read of the month: what it counted and what it cost."""
    kind = "strongly" if read.consistent else "eventually"
    return (
        f"{period}: read {when}, {kind} consistent: {read.items} items in "
        f"{read.finished_at - read.started_at:.1f}s, {read.calls} Query calls "
        f"({read.throttled_calls} throttled), {read.read_units:,.1f} read units, "
        f"{read.paced_seconds:.1f}s paced"
    )


def read_metadata(read: MonthRead | None) -> dict[str, Any]:
    """A read of the month in metadata: DynamoDB's own ConsumedCapacity, calls, throttles."""
    if read is None:
        return {"consumed_rcu": 0.0, "read_calls": 0, "throttled_reads": 0, "read_seconds": 0.0}
    return {
        "consumed_rcu": read.read_units,
        "read_calls": read.calls,
        "throttled_reads": read.throttled_calls,
        "read_seconds": round(read.finished_at - read.started_at, 3),
    }


def read_row(read: str, month_read: MonthRead) -> dict[str, Any]:
    """A read of the month as a row of an asset's `month_read` table (`READ_COLUMNS`)."""
    return {
        "read": read,
        "items": month_read.items,
        "consistent": month_read.consistent,
        "query_calls": month_read.calls,
        "throttled_calls": month_read.throttled_calls,
        "consumed_rcu": round(month_read.read_units, 1),
        "seconds": round(month_read.finished_at - month_read.started_at, 3),
    }


def _consumed(page: dict[str, Any]) -> float:
    """DynamoDB's own charge for a page (0 when it did not say)."""
    capacity = page.get("ConsumedCapacity") or {}
    return float(capacity.get("CapacityUnits", 0) or 0)


def _newest(items: list[dict[str, Any]]) -> float | None:
    stamps = [timestamp(i[LOADED_AT]["S"]) for i in items if LOADED_AT in i]
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


@dataclass
class StoredVersions:
    """What the scheduling read found: items per (source key, ETag), the read itself."""

    versions: Counter[tuple[str, str]]
    read: MonthRead


def stored_versions(
    reader: MonthReader, period: str, conflicting: Collection[int] = ()
) -> StoredVersions:
    """Items of a month per (source key, source ETag), leaving out conflicting ids."""
    versions: Counter[tuple[str, str]] = Counter()

    def count(items: list[dict[str, Any]]) -> None:
        for item in items:
            if conflicting and id_digest(item[RANGE_KEY]["S"]) in conflicting:
                continue
            key = item.get(SOURCE_KEY, {}).get("S", "")
            versions[(key, item.get(SOURCE_ETAG, {}).get("S", ""))] += 1

    attributes = (RANGE_KEY, SOURCE_KEY, SOURCE_ETAG, LOADED_AT)
    read = reader.read(period, attributes=attributes, each=count)
    return StoredVersions(versions, read)


def month_records(reader: MonthReader, period: str, add: Callable[[StoredItem], None]) -> MonthRead:
    """Every stored item of a month as the import figures need it, handed to `add` page by
    page (whole items are read: the write units they consumed follow from their size)."""

    def each(items: list[dict[str, Any]]) -> None:
        for item in items:
            add(stored_item(item, item_size(item)))

    return reader.read(period, each=each)
