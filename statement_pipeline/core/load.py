"""The loading stage: capacity planning per loader, running a loader, finishing the month."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from statement_pipeline.core.loader import Drainer, DrainSettings, SourceVersions, Superseded
from statement_pipeline.core.ratelimit import TokenBucket, per_loader_rate
from statement_pipeline.core.retry import Backoff
from statement_pipeline.core.schedule import ScheduledMonth
from statement_pipeline.core.table import (
    BatchWriter,
    count_current,
    delete_keys,
    describe_capacity,
    month_items,
)


@dataclass(frozen=True)
class LoaderSettings:
    loaders: int
    billing_mode: str
    write_capacity: int | None
    target_utilisation: float
    units_per_second: float | None
    drain: DrainSettings


def plan_loaders(
    dynamodb: Any,
    table: str,
    *,
    loaders: int,
    target_utilisation: float,
    messages_per_receive: int = 10,
    visibility_timeout: int = 300,
    empty_grace_seconds: float = 60.0,
    deadline_seconds: float = 3600.0,
) -> LoaderSettings:
    """Each loader's write budget: its share of the provisioned capacity (none on demand)."""
    capacity = describe_capacity(dynamodb, table, Backoff())
    return LoaderSettings(
        loaders=loaders,
        billing_mode=capacity.billing_mode,
        write_capacity=capacity.write_units,
        target_utilisation=target_utilisation,
        units_per_second=per_loader_rate(capacity.write_units, target_utilisation, loaders),
        drain=DrainSettings(
            max_messages=messages_per_receive,
            visibility_timeout=visibility_timeout,
            empty_grace_seconds=empty_grace_seconds,
            deadline_seconds=deadline_seconds,
        ),
    )


def describe_settings(s: LoaderSettings) -> str:
    if s.units_per_second is None:
        return f"{s.loaders} loaders, on-demand table: no pacing, adaptive backoff when throttled"
    return (
        f"{s.loaders} loaders, provisioned {s.write_capacity} WCU at "
        f"{s.target_utilisation:.0%}: {s.units_per_second:.1f} write units/s per loader"
    )


@dataclass
class LoaderResult:
    """What one loader did."""

    seconds: float
    messages: int
    records: int
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


def run_loader(
    *,
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
    """Drain until the month's current statements are all in the table and the queue is dry."""
    backoff = backoff or Backoff()
    started = time.monotonic()
    limiter = TokenBucket(settings.units_per_second)
    writer = BatchWriter(dynamodb, table, limiter, backoff)
    sources = SourceVersions(s3, bucket, backoff)
    checks = 0

    def month_complete() -> bool:
        nonlocal checks
        checks += 1
        found = count_current(dynamodb, table, month.period, month.sources, backoff)
        if found >= month.expected:
            return True
        ensure_current(sources, month)
        return False

    drainer = Drainer(
        sqs=sqs,
        queue_url=queue_url,
        dlq_url=dlq_url,
        writer=writer,
        sources=sources,
        month_complete=month_complete,
        settings=settings.drain,
        backoff=backoff,
    )
    stats = drainer.drain()
    w = writer.stats
    return LoaderResult(
        seconds=round(time.monotonic() - started, 3),
        messages=stats.messages,
        records=stats.records,
        items_written=w.items,
        write_calls=w.calls,
        receive_calls=stats.receive_calls,
        delete_calls=stats.delete_calls,
        other_calls=stats.other_calls + sources.calls + checks,
        superseded=stats.superseded,
        poison=stats.poison,
        failed_messages=stats.failed_messages,
        unwritten_records=stats.unwritten_records,
        delete_failures=stats.delete_failures,
        throttled=w.throttled,
        unprocessed_retries=w.unprocessed_retries,
        units_estimated=w.units_estimated,
        units_reported=round(w.units_reported, 1),
        paced_seconds=round(w.waited_seconds, 3),
        failures=stats.failures,
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
        f"loader {index}: {r.items_written} items from {r.messages} messages in {r.seconds:.1f}s "
        f"({r.write_calls} BatchWriteItem calls, {r.unprocessed_retries} unprocessed retries, "
        f"{r.throttled} throttled, {r.superseded} superseded, {r.poison} poison)"
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
    started: float,
) -> LoadedMonth:
    """Delete items no current file of the month holds (replaced files, conflicting ids)."""
    backoff = Backoff()
    # Never remove items on behalf of files that a newer import has already replaced.
    ensure_current(SourceVersions(s3, bucket, backoff), month)
    conflicts = set(month.conflict_ids)
    stale = [
        sid
        for sid, key, etag in month_items(dynamodb, table, month.period, backoff)
        if sid in conflicts or month.sources.get(key) != etag
    ]
    limiter = TokenBucket(
        settings.units_per_second * settings.loaders if settings.units_per_second else None
    )
    removed = delete_keys(dynamodb, table, month.period, stale, limiter, backoff) if stale else 0
    seconds = round(time.time() - started, 3)
    return LoadedMonth(
        period=month.period,
        expected=month.expected,
        rows=month.rows,
        rejected=month.rejected,
        sources=dict(month.sources),
        items_written=sum(r.items_written for r in results),
        stale_removed=removed,
        seconds=seconds,
        loaders=len(results),
        write_calls=sum(r.write_calls for r in results) + (len(stale) + 24) // 25,
        api_calls=sum(
            r.write_calls + r.receive_calls + r.delete_calls + r.other_calls for r in results
        ),
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
        f"{m.stale_removed} stale items removed, {m.poison} poison messages moved to the DLQ, "
        f"{m.superseded} superseded messages skipped"
    )


def loading_metadata(m: LoadedMonth) -> dict[str, Any]:
    return {
        "items_written": m.items_written,
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
