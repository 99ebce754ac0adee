"""The scheduling stage: scan a month's files, plan it, write its rejects, enqueue its records."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from statement_pipeline.aws.month_reads import MonthRead
from statement_pipeline.aws.queue import MAX_BATCH_BYTES, SendStats, send_messages
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
    FileFigures,
    FilePlan,
    FileRef,
    FileScan,
    MonthPlan,
    file_figures,
    plan_month,
    planned_records,
    render_rejects,
    scan_file,
)
from statement_pipeline.rules.progress import (
    PROGRESS_SECONDS,
    CountingReader,
    Progress,
    Tally,
    reporting,
)

log = logging.getLogger(__name__)

# Below SQS's 1 MiB message limit with room for the batch envelope.
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024
MB = 1024 * 1024
Report = Callable[[Progress], None]


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
    s3: Any,
    bucket: str,
    month: str,
    refs: Sequence[FileRef],
    threads: int = 1,
    report: Report | None = None,
    report_every: float = PROGRESS_SECONDS,
) -> list[FileScan]:
    """Validate each file completely; a file-level problem stops the month.

    `report`, when given, gets the bytes validated so far every `report_every` seconds.
    """
    read = Tally()
    started = time.monotonic()

    def scan(ref: FileRef) -> FileScan:
        if ref.size == 0:
            raise FileFormatError(ref.key, "the object is empty")
        body = open_version(s3, bucket, ref)
        try:
            return scan_file(ref, CountingReader(body, read), month)  # type: ignore[arg-type]
        finally:
            body.close()

    def progress() -> Progress:
        total = sum(r.size for r in refs)
        seconds = time.monotonic() - started
        return Progress(
            f"validating {month}", "MB", read.value / MB, total / MB, seconds, decimals=1
        )

    with (
        reporting(report, report_every, progress),
        ThreadPoolExecutor(max_workers=max(1, threads)) as pool,
    ):
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
    sent: Tally,
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
        sent.add(len(batch.records))
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
    report: Report | None = None,
    report_every: float = PROGRESS_SECONDS,
) -> EnqueueResult:
    """Re-read each planned file version and send its records in batches of messages.

    `report`, when given, gets the records sent so far every `report_every` seconds.
    """
    backoff = backoff or Backoff()
    by_key = {f.ref.key: f for f in plan.files}
    sent = Tally()
    sends: list[SendStats] = []
    started = time.monotonic()

    def enqueue(key: str) -> EnqueueResult:
        file_plan = by_key[key]
        body = open_version(s3, bucket, file_plan.ref)
        counter = _Counter()
        stats = SendStats()
        sends.append(stats)
        try:
            send_messages(
                sqs,
                queue_url,
                _bodies(
                    file_plan,
                    body,
                    plan.period,
                    records_per_message,
                    max_message_bytes,
                    counter,
                    sent,
                ),
                backoff,
                max_bytes=MAX_BATCH_BYTES,
                stats=stats,
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

    def progress() -> Progress:
        retried = sum(st.retried_entries for st in sends)
        return Progress(
            f"enqueuing {plan.period}",
            "records",
            sent.value,
            sum(by_key[k].expected for k in keys),
            time.monotonic() - started,
            refused=retried,
            attempts=sum(st.messages for st in sends) + retried,
            attempts_label="message sends",
        )

    with (
        reporting(report, report_every, progress),
        ThreadPoolExecutor(max_workers=max(1, threads)) as pool,
    ):
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
    # Per file: its rows and what became of them; records each file had enqueued.
    file_figures: list[FileFigures] = field(default_factory=list)
    enqueued: dict[str, int] = field(default_factory=dict)
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
        file_figures=file_figures(plan),
        enqueued=dict(sent.per_file),
        month_read=month_read,
    )
