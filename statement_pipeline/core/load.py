"""The loading stage: the write budget, loader workers in threads, finishing the month."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from statement_pipeline.core.loader import (
    Drainer,
    DrainSettings,
    DrainStats,
    LoadIncomplete,
    MonthProgress,
    SourceVersions,
    Superseded,
)
from statement_pipeline.core.ratelimit import TokenBucket, per_loader_rate
from statement_pipeline.core.retry import Backoff
from statement_pipeline.core.schedule import ScheduledMonth
from statement_pipeline.core.table import (
    BatchWriter,
    WriteStats,
    count_current,
    delete_keys,
    describe_capacity,
    month_items,
)


@dataclass(frozen=True)
class LoaderSettings:
    """The run's loading plan: how many workers, and each worker's share of the capacity."""

    loaders: int
    loader_ops: int
    billing_mode: str
    write_capacity: int | None
    target_utilisation: float
    units_per_second: float | None
    drain: DrainSettings

    def workers_of(self, op_index: int) -> int:
        """Worker threads of loader op `op_index`: the loaders spread evenly over the ops."""
        base, extra = divmod(self.loaders, self.loader_ops)
        return base + (1 if op_index < extra else 0)


def plan_loaders(
    dynamodb: Any,
    table: str,
    *,
    loaders: int,
    loader_ops: int,
    target_utilisation: float,
    drain: DrainSettings,
) -> LoaderSettings:
    """Read the table's capacity; each worker gets an equal share of the write budget."""
    capacity = describe_capacity(dynamodb, table, Backoff())
    return LoaderSettings(
        loaders=loaders,
        loader_ops=max(1, min(loader_ops, loaders)),
        billing_mode=capacity.billing_mode,
        write_capacity=capacity.write_units,
        target_utilisation=target_utilisation,
        units_per_second=per_loader_rate(capacity.write_units, target_utilisation, loaders),
        drain=drain,
    )


def describe_settings(s: LoaderSettings) -> str:
    spread = f"{s.loaders} loaders in {s.loader_ops} op(s)"
    if s.units_per_second is None:
        return f"{spread}, on-demand table: no pacing, backoff when throttled"
    return (
        f"{spread}, provisioned {s.write_capacity} WCU at {s.target_utilisation:.0%}: "
        f"{s.units_per_second:.1f} write units/s per loader"
    )


@dataclass
class LoaderResult:
    """What one loader op (all of its worker threads) did."""

    workers: int
    seconds: float
    messages: int
    records: int
    records_of_month: int
    records_other_months: int
    items_written: int
    write_calls: int
    receive_calls: int
    delete_calls: int
    other_calls: int
    superseded: int
    poison: int
    failed_messages: int
    unwritten_records: int
    delete_failures: int
    throttled: int
    unprocessed_retries: int
    units_estimated: int
    units_reported: float
    paced_seconds: float
    failures: list[str] = field(default_factory=list)


def run_loader_op(
    *,
    workers: int,
    sqs: Any,
    queue_url: str,
    dlq_url: str,
    dynamodb: Any,
    table: str,
    s3: Any,
    bucket: str,
    month: ScheduledMonth,
    settings: LoaderSettings,
    backoff: Backoff | None = None,
) -> LoaderResult:
    """Run `workers` drainers in threads sharing this op's slice of the write budget."""
    backoff = backoff or Backoff()
    started = time.monotonic()
    rate = settings.units_per_second * workers if settings.units_per_second else None
    limiter = TokenBucket(rate)
    stats = WriteStats()
    sources = SourceVersions(s3, bucket, backoff)
    checks = 0
    stop = threading.Event()
    progress = MonthProgress(month.period, month.expected, month.sources)

    def month_complete() -> bool:
        nonlocal checks
        checks += 1
        return count_current(dynamodb, table, month.period, month.sources, backoff) >= (
            month.expected
        )

    def work() -> DrainStats:
        drainer = Drainer(
            sqs=sqs,
            queue_url=queue_url,
            dlq_url=dlq_url,
            writer=BatchWriter(dynamodb, table, limiter, backoff, stats),
            sources=sources,
            month_complete=month_complete,
            settings=settings.drain,
            backoff=backoff,
            stop=stop,
            progress=progress,
        )
        try:
            return drainer.drain()
        except BaseException:
            # Fail the op now: the other workers stop instead of idling until this worker's
            # messages become visible again (a denied write would otherwise look like a hang).
            stop.set()
            raise

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loader") as pool:
        futures = [pool.submit(work) for _ in range(workers)]
        drained = [f.result() for f in futures]
    return LoaderResult(
        workers=workers,
        seconds=round(time.monotonic() - started, 3),
        messages=sum(d.messages for d in drained),
        records=sum(d.records for d in drained),
        records_of_month=progress.records,
        records_other_months=progress.other_months,
        items_written=stats.items,
        write_calls=stats.calls,
        receive_calls=sum(d.receive_calls for d in drained),
        delete_calls=sum(d.delete_calls for d in drained),
        other_calls=sum(d.other_calls for d in drained) + sources.calls + checks,
        superseded=sum(d.superseded for d in drained),
        poison=sum(d.poison for d in drained),
        failed_messages=sum(d.failed_messages for d in drained),
        unwritten_records=sum(d.unwritten_records for d in drained),
        delete_failures=sum(d.delete_failures for d in drained),
        throttled=stats.throttled,
        unprocessed_retries=stats.unprocessed_retries,
        units_estimated=stats.units_estimated,
        units_reported=round(stats.units_reported, 1),
        paced_seconds=round(stats.waited_seconds, 3),
        failures=[f for d in drained for f in d.failures],
    )


def ensure_current(sources: SourceVersions, month: ScheduledMonth) -> None:
    """Raise Superseded when a file of the month is no longer the version this run read."""
    sources.forget()
    changed = [k for k, etag in month.sources.items() if not sources.is_current(k, etag)]
    if changed:
        raise Superseded(
            f"{len(changed)} file(s) of {month.period} changed during the run (e.g. {changed[0]});"
            " the import of the new version converges the month"
        )


def describe_result(index: int, r: LoaderResult) -> str:
    return (
        f"loader op {index} ({r.workers} workers): {r.items_written} items from {r.messages} "
        f"messages in {r.seconds:.1f}s ({r.write_calls} BatchWriteItem calls, "
        f"{r.unprocessed_retries} unprocessed retries, {r.throttled} throttled, "
        f"{r.superseded} superseded, {r.poison} poison, {r.paced_seconds:.1f}s paced)"
    )


@dataclass
class LoadedMonth:
    """The loading asset's value: the month as it now stands in the table."""

    period: str
    expected: int
    rows: int
    rejected: int
    sources: dict[str, str]
    items_written: int
    records_of_month: int
    records_other_months: int
    in_table: int | None
    stale_removed: int
    seconds: float
    loaders: int
    write_calls: int
    api_calls: int
    superseded: int
    poison: int
    unprocessed_retries: int
    throttled: int
    units_estimated: int
    units_reported: float
    billing_mode: str
    write_capacity: int | None
    failures: list[str]


def finish(
    dynamodb: Any,
    table: str,
    s3: Any,
    bucket: str,
    month: ScheduledMonth,
    results: Sequence[LoaderResult],
    *,
    settings: LoaderSettings,
    had_items_before: bool,
    started: float,
) -> LoadedMonth:
    """Converge the month: remove what no current file holds.

    Stale items can only exist if the month had items before this run (an earlier version of
    its files) or ids turned out conflicting; then the month is scanned, stale items deleted
    and the current ones counted. Otherwise the loaders wrote into an empty month from a
    queue they drained, and the blocking count check proves the result.
    """
    backoff = Backoff()
    # Never remove items on behalf of files that a newer import has already replaced.
    ensure_current(SourceVersions(s3, bucket, backoff), month)
    removed = 0
    calls = 0
    in_table: int | None = None
    if had_items_before or month.conflict_ids:
        conflicts = set(month.conflict_ids)
        current = 0
        stale: list[str] = []
        for sid, key, etag in month_items(dynamodb, table, month.period, backoff):
            if sid in conflicts or month.sources.get(key) != etag:
                stale.append(sid)
            else:
                current += 1
        rate = settings.units_per_second * settings.loaders if settings.units_per_second else None
        if stale:
            removed = delete_keys(dynamodb, table, month.period, stale, TokenBucket(rate), backoff)
            calls += (len(stale) + 24) // 25
        in_table = current
        if current != month.expected:
            raise LoadIncomplete(
                f"{month.period}: {current} current statements in the table after loading, "
                f"expected {month.expected}; unwritten records stay in the queue or its DLQ"
            )
    return LoadedMonth(
        period=month.period,
        expected=month.expected,
        rows=month.rows,
        rejected=month.rejected,
        sources=dict(month.sources),
        items_written=sum(r.items_written for r in results),
        records_of_month=sum(r.records_of_month for r in results),
        records_other_months=sum(r.records_other_months for r in results),
        in_table=in_table,
        stale_removed=removed,
        seconds=round(time.time() - started, 3),
        loaders=sum(r.workers for r in results),
        write_calls=sum(r.write_calls for r in results),
        api_calls=calls
        + sum(r.write_calls + r.receive_calls + r.delete_calls + r.other_calls for r in results),
        superseded=sum(r.superseded for r in results),
        poison=sum(r.poison for r in results),
        unprocessed_retries=sum(r.unprocessed_retries for r in results),
        throttled=sum(r.throttled for r in results),
        units_estimated=sum(r.units_estimated for r in results),
        units_reported=round(sum(r.units_reported for r in results), 1),
        billing_mode=settings.billing_mode,
        write_capacity=settings.write_capacity,
        failures=[f for r in results for f in r.failures],
    )


def describe_loaded(m: LoadedMonth) -> str:
    return (
        f"{m.period}: {m.items_written} items written by {m.loaders} loaders in {m.seconds:.1f}s, "
        f"{m.stale_removed} stale items removed, {m.poison} poison "
        f"messages moved to the DLQ, {m.superseded} superseded messages skipped"
    )


def loading_metadata(m: LoadedMonth) -> dict[str, Any]:
    return {
        "items_written": m.items_written,
        # The queue is shared: in a backfill a run's loaders also write other months' records.
        "records_of_month_written": m.records_of_month,
        "records_of_other_months_written": m.records_other_months,
        "expected": m.expected,
        "stale_removed": m.stale_removed,
        "seconds": m.seconds,
        "records_per_second": round(m.items_written / m.seconds, 1) if m.seconds > 0 else 0.0,
        "loaders": m.loaders,
        "write_calls": m.write_calls,
        "api_calls": m.api_calls,
        "unprocessed_retries": m.unprocessed_retries,
        "throttled": m.throttled,
        "poison_messages": m.poison,
        "superseded_messages": m.superseded,
        # moto and DynamoDB disagree on ReturnConsumedCapacity, so both are shown: the
        # estimate comes from item sizes (1 unit per started KB), the other from the service.
        "consumed_wcu_estimated": m.units_estimated,
        "consumed_wcu_reported": m.units_reported,
        "billing_mode": m.billing_mode,
        "write_capacity": m.write_capacity if m.write_capacity is not None else 0,
    }
