"""The scheduling stage: scan a month's files, plan it, write its rejects, enqueue its records."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from statement_pipeline.aws.month_reads import MonthRead, read_metadata
from statement_pipeline.aws.queue import MAX_BATCH_BYTES, send_messages
from statement_pipeline.aws.s3_files import (
    FileChanged,
    delete_stale_rejects,
    open_version,
    put_csv,
)
from statement_pipeline.rules import s3_layout, tally
from statement_pipeline.rules.backoff import Backoff
from statement_pipeline.rules.csv_records import FileFormatError, StatementReader
from statement_pipeline.rules.messages import encode, pack
from statement_pipeline.rules.month_plan import (
    FileDecision,
    FilePlan,
    FileRef,
    FileScan,
    MonthPlan,
    plan_month,
    planned_records,
    render_rejects,
    scan_file,
)

log = logging.getLogger(__name__)

# Below SQS's 1 MiB message limit with room for the batch envelope.
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024


def split_evenly(files: Sequence[FileRef], groups: int) -> list[list[FileRef]]:
    """Spread files over at most `groups` groups, largest first, balancing bytes."""
    count = max(1, min(groups, len(files)))
    buckets: list[list[FileRef]] = [[] for _ in range(count)]
    sizes = [0] * count
    for ref in sorted(files, key=lambda f: (-f.size, f.key)):
        target = sizes.index(min(sizes))
        buckets[target].append(ref)
        sizes[target] += ref.size
    return [sorted(b, key=lambda f: f.key) for b in buckets if b]


def scan_files(
    s3: Any, bucket: str, month: str, refs: Sequence[FileRef], threads: int = 1
) -> list[FileScan]:
    """Validate each file completely; a file-level problem stops the month."""

    def scan(ref: FileRef) -> FileScan:
        if ref.size == 0:
            raise FileFormatError(ref.key, "the object is empty")
        body = open_version(s3, bucket, ref)
        try:
            return scan_file(ref, body, month)
        finally:
            body.close()

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return list(pool.map(scan, refs))


def plan_and_report(
    s3: Any, bucket: str, prefix: str, month: str, scans: Sequence[FileScan]
) -> MonthPlan:
    """Plan the month and make its rejects objects say exactly what this import rejected."""
    plan = plan_month(month, scans)
    written: set[str] = set()
    for key, rejects in plan.rejects.items():
        if any(not r.raw for r in rejects):
            rejects = _with_raw(s3, bucket, month, key, plan, rejects)
        target = s3_layout.rejects_key(prefix, month, key)
        put_csv(s3, bucket, target, render_rejects(key, plan.headers[key], rejects))
        plan.rejects_urls[key] = f"s3://{bucket}/{target}"
        # The plan is handed to the enqueue ops (and stored): it keeps no row values either.
        plan.rejects[key] = [replace(r, raw=()) for r in rejects]
        written.add(target)
    # Rejects of an earlier import of this month that no longer apply would mislead.
    delete_stale_rejects(s3, bucket, month, written)
    return plan


def _with_raw(s3: Any, bucket: str, month: str, key: str, plan: MonthPlan, rejects: list) -> list:
    """Fill in the fields of rejected rows, which the scan did not keep."""
    ref = next(f.ref for f in plan.files if f.ref.key == key)
    need = {r.line for r in rejects if not r.raw}
    raws = raw_rows(open_version(s3, bucket, ref), key, month, need)
    return [replace(r, raw=raws.get(r.line, ())) if not r.raw else r for r in rejects]


def raw_rows(stream: Any, key: str, month: str, lines: set[int]) -> dict[int, tuple[str, ...]]:
    """The fields as read of the given lines (valid rows keep them in `Record.raw`)."""
    return {row.line: row.raw for row in StatementReader(stream, key, month) if row.line in lines}


def describe_plan(plan: MonthPlan) -> list[str]:
    """Log lines about a plan: counts, file names and line numbers only, never row values."""
    lines = [
        f"{plan.period}: {plan.rows} rows, {plan.expected} statements to load, "
        f"{plan.rejected} rejected, {len(plan.duplicates)} identical duplicates loaded once, "
        f"{len(plan.conflict_digests)} statement ids with conflicting rows"
    ]
    for key, rejects in plan.rejects.items():
        shown = ", ".join(f"line {r.line}: {r.reason}" for r in rejects[:20])
        more = f" (+{len(rejects) - 20} more)" if len(rejects) > 20 else ""
        lines.append(f"{key}: {len(rejects)} rejected: {shown}{more}")
    for dup in plan.duplicates[:20]:
        lines.append(
            f"{dup.key} line {dup.line}: identical to {dup.first_key} line {dup.first_line}"
            " (loaded once)"
        )
    for key, extra in plan.extra_columns.items():
        lines.append(f"{key}: ignored unknown columns {', '.join(extra)}")
    return lines


@dataclass
class EnqueueResult:
    records: int = 0
    messages: int = 0
    calls: int = 0
    retried_entries: int = 0
    bytes_sent: int = 0
    per_file: dict[str, int] = field(default_factory=dict)


@dataclass
class _Counter:
    records: int = 0


def _bodies(
    file_plan: FilePlan,
    body: Any,
    period: str,
    records_per_message: int,
    max_message_bytes: int,
    counter: _Counter,
) -> Iterator[str]:
    for batch in pack(
        planned_records(file_plan, body, period),
        period=period,
        source_key=file_plan.ref.key,
        source_etag=file_plan.ref.etag,
        max_records=records_per_message,
        max_bytes=max_message_bytes,
    ):
        counter.records += len(batch.records)
        yield encode(batch)


def enqueue_files(
    *,
    s3: Any,
    bucket: str,
    sqs: Any,
    queue_url: str,
    plan: MonthPlan,
    keys: Sequence[str],
    records_per_message: int,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    threads: int = 1,
    backoff: Backoff | None = None,
) -> EnqueueResult:
    """Re-read each planned file version and send its records in batches of messages."""
    backoff = backoff or Backoff()
    by_key = {f.ref.key: f for f in plan.files}

    def enqueue(key: str) -> EnqueueResult:
        file_plan = by_key[key]
        body = open_version(s3, bucket, file_plan.ref)
        counter = _Counter()
        try:
            stats = send_messages(
                sqs,
                queue_url,
                _bodies(
                    file_plan, body, plan.period, records_per_message, max_message_bytes, counter
                ),
                backoff,
                max_bytes=MAX_BATCH_BYTES,
            )
        finally:
            body.close()
        if counter.records != file_plan.expected:
            raise FileChanged(
                f"{key}: read {counter.records} records on the second pass, "
                f"planned {file_plan.expected}"
            )
        return EnqueueResult(
            records=counter.records,
            messages=stats.messages,
            calls=stats.calls,
            retried_entries=stats.retried_entries,
            bytes_sent=stats.bytes,
            per_file={key: counter.records},
        )

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return tally.total(EnqueueResult, pool.map(enqueue, keys))


@dataclass
class ScheduledMonth:
    """The scheduling asset's value: what the month is, and what was queued for it."""

    period: str
    sources: dict[str, str]
    files: int
    bytes: int
    rows: int
    expected: int
    rejected: int
    duplicates: int
    conflict_digests: list[int]
    # Rejected rows per reason, and input file key -> S3 URL of its rejects object.
    reject_reasons: dict[str, int]
    rejects_urls: dict[str, str]
    messages: int
    send_calls: int
    retried_entries: int
    seconds: float
    # When the import began (epoch seconds): items of the month stamped since were written by it.
    started_at: float
    # Files written by this import (the rest the table already holds as current), and why.
    decisions: list[FileDecision]
    queued: int
    # Items stored from file versions that are no longer current, when the month was read.
    stale_items: int = 0
    # The read of the month before writing (aws/month_reads.py): the proof of a month this
    # import finds complete and leaves unwritten.
    month_read: MonthRead | None = None

    @property
    def queued_sources(self) -> dict[str, str]:
        """Key -> ETag of the files whose records this import enqueued."""
        written = {d.key for d in self.decisions if d.write}
        return {k: v for k, v in self.sources.items() if k in written}


def summarize(
    plan: MonthPlan,
    decisions: Sequence[FileDecision],
    results: Sequence[EnqueueResult],
    *,
    started_at: float,
    seconds: float,
    stale_items: int = 0,
    month_read: MonthRead | None = None,
) -> ScheduledMonth:
    sent = tally.total(EnqueueResult, results)
    queued = sent.records
    planned = sum(d.rows for d in decisions if d.write)
    if queued != planned:
        raise RuntimeError(f"queued {queued} records, planned {planned}")
    return ScheduledMonth(
        period=plan.period,
        sources=plan.sources,
        files=len(plan.files),
        bytes=sum(f.ref.size for f in plan.files),
        rows=plan.rows,
        expected=plan.expected,
        rejected=plan.rejected,
        duplicates=len(plan.duplicates),
        conflict_digests=list(plan.conflict_digests),
        reject_reasons=plan.reject_reasons,
        rejects_urls=dict(sorted(plan.rejects_urls.items())),
        messages=sent.messages,
        send_calls=sent.calls,
        retried_entries=sent.retried_entries,
        seconds=round(seconds, 3),
        started_at=started_at,
        decisions=list(decisions),
        queued=queued,
        stale_items=stale_items,
        month_read=month_read,
    )


def scheduling_metadata(s: ScheduledMonth) -> dict[str, Any]:
    return {
        "files": s.files,
        "bytes": s.bytes,
        "rows": s.rows,
        "valid": s.expected,
        "rejected": s.rejected,
        "duplicates": s.duplicates,
        "conflicting_ids": len(s.conflict_digests),
        "messages": s.messages,
        "send_calls": s.send_calls,
        "seconds": s.seconds,
        "records_per_second": round(s.expected / s.seconds, 1) if s.seconds > 0 else 0.0,
        "records_enqueued": s.queued,
        "records_skipped_current": sum(d.rows for d in s.decisions if not d.write),
        "files_written": sum(1 for d in s.decisions if d.write),
        "files_skipped_current": sum(1 for d in s.decisions if not d.write),
        # The read of what the table held before writing (DynamoDB's ConsumedCapacity).
        **read_metadata(s.month_read),
    }


def decisions_markdown(s: ScheduledMonth) -> str:
    """The per-file write decisions as a Markdown table (file names and reasons only)."""
    lines = ["| file | rows | written | why |", "| --- | ---: | --- | --- |"]
    for d in s.decisions:
        lines.append(f"| {d.key} | {d.rows} | {'yes' if d.write else 'no'} | {d.reason} |")
    return "\n".join(lines)
