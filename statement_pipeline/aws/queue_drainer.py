"""The loader: drains the statement queue into the table, one worker per call of `drain`.

Per received message (the AWS Lambda Powertools batch pattern): decode it, skip it if its
file version is no longer current, write every record, and delete only messages whose
records were all written. Poison messages go to the DLQ at once; the rest are reported.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from statement_pipeline.aws.queue import Depth, delete_messages, move_to_dlq, queue_depth
from statement_pipeline.aws.s3_files import SourceVersions
from statement_pipeline.aws.table import BatchWriter, WriteCounters
from statement_pipeline.rules.backoff import Backoff
from statement_pipeline.rules.items import loaded_now, to_item
from statement_pipeline.rules.messages import PoisonMessage, RecordBatch, decode
from statement_pipeline.rules.month_progress import MonthProgress

log = logging.getLogger(__name__)


class LoadIncomplete(RuntimeError):
    """The queue ran dry (or time ran out) before every statement of the month was written."""


class Superseded(RuntimeError):
    """A file of the month changed during the run: a newer import owns the month now."""


@dataclass
class DrainSettings:
    """How one worker drains the queue."""

    max_messages: int = 10
    wait_seconds: int = 1
    visibility_timeout: int = 300
    # A message whose records could not all be written comes back this much later (SQS moves
    # it to the DLQ after the queue's maxReceiveCount), rather than after the full timeout.
    retry_visibility_seconds: int = 10
    # While only in-flight messages remain (another worker's, or a dead run's that come back
    # after their visibility timeout), check this often whether the month is complete anyway.
    complete_check_seconds: float = 15.0
    deadline_seconds: float = 3600.0
    poll_pause_seconds: float = 0.25
    # While the op's other workers hold every record of its month not written yet, how long an
    # idle worker waits for one of them to finish before it looks again (it wakes at once
    # when one does, and returns when the month is complete).
    idle_wait_seconds: float = 1.0


@dataclass
class LoadStats(WriteCounters):
    """What one loader op's workers did, writes included; bumped by all of its threads."""

    workers: int = 0
    messages: int = 0
    records: int = 0
    deleted: int = 0
    superseded: int = 0
    poison: int = 0
    failed_messages: int = 0
    unwritten_records: int = 0
    delete_failures: int = 0
    receive_calls: int = 0
    delete_calls: int = 0
    other_calls: int = 0
    failures: list[str] = field(default_factory=list)
    # Items written per month: a run's loaders also write other months' records.
    items_by_month: dict[str, int] = field(default_factory=dict)

    def fail(self, failure: str) -> None:
        with self._lock:
            self.failures.append(failure)

    def wrote(self, period: str, items: int) -> None:
        with self._lock:
            self.items_by_month[period] = self.items_by_month.get(period, 0) + items

    @property
    def api_calls(self) -> int:
        return self.calls + self.receive_calls + self.delete_calls + self.other_calls


class Drainer:
    """One queue worker; `drain()` returns once the queue is dry (or the month is complete)."""

    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        dlq_url: str,
        writer: BatchWriter,
        sources: SourceVersions,
        month_complete: Callable[[], bool],
        settings: DrainSettings,
        backoff: Backoff,
        clock: Callable[[], float] = time.monotonic,
        stop: threading.Event | None = None,
        progress: MonthProgress | None = None,
        stats: LoadStats | None = None,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._dlq_url = dlq_url
        self._writer = writer
        self._sources = sources
        self._month_complete = month_complete
        self._settings = settings
        self._backoff = backoff
        self._clock = clock
        self._stop = stop
        self._progress = progress
        self.stats = stats if stats is not None else LoadStats()

    def drain(self) -> LoadStats:
        """Work until SQS reports no message at all, visible, in flight or delayed.

        An empty long poll alone is not enough (other workers may still hold messages that
        can come back); the queue's counters alone are not either (they lag on real SQS).
        """
        s = self._settings
        started = self._clock()
        last_check = started
        while True:
            if self._stop is not None and self._stop.is_set():
                # Another worker failed (e.g. AccessDenied) and its error fails the op; waiting
                # here for the messages it holds to become visible again would only delay that.
                return self.stats
            if self._progress is not None and self._progress.complete:
                return self.stats
            if self._clock() - started > s.deadline_seconds:
                raise LoadIncomplete(
                    f"the queue was not drained after {s.deadline_seconds:.0f}s of loading"
                )
            if self._progress is not None and self._progress.accounted_for:
                # Nothing of this op's month is left to receive: a long poll of the queue here
                # would keep the op waiting up to its wait time after the month is complete.
                self._progress.wait(s.idle_wait_seconds)
                continue
            messages = self._receive()
            if messages:
                self._hold(len(messages))
                try:
                    self._process(messages)
                finally:
                    self._hold(-len(messages))
                # Check the month only after a whole interval of finding nothing to do: at the
                # end of every load the other workers' last messages are briefly in flight,
                # and counting the month then would read all of it for nothing.
                last_check = self._clock()
                continue
            depth = self._depth()
            if depth.total == 0:
                return self.stats
            if depth.visible == 0 and depth.total <= self._held():
                # Every message out of sight is held by this op's other workers: they finish
                # them (or put them back, and then this count no longer holds for them). No
                # need to read the table to know it.
                return self.stats
            if depth.visible == 0 and self._clock() - last_check >= s.complete_check_seconds:
                last_check = self._clock()
                if self._month_complete():
                    return self.stats
            time.sleep(s.poll_pause_seconds)

    def _hold(self, messages: int) -> None:
        if self._progress is not None:
            self._progress.hold_messages(messages)

    def _held(self) -> int:
        return self._progress.messages_held if self._progress is not None else 0

    def _receive(self) -> list[dict[str, Any]]:
        s = self._settings
        most = s.max_messages
        if self._progress is not None:
            most = self._progress.fair_share(most)
        self.stats.bump(receive_calls=1)
        resp = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=most,
            WaitTimeSeconds=s.wait_seconds,
            VisibilityTimeout=s.visibility_timeout,
        )
        return list(resp.get("Messages", []))

    def _depth(self) -> Depth:
        self.stats.bump(other_calls=1)
        return queue_depth(self._sqs, self._queue_url)

    def _process(self, messages: list[dict[str, Any]]) -> None:
        received_at = self._clock()
        done: list[str] = []
        retry: list[str] = []
        for index, message in enumerate(messages):
            self.stats.bump(messages=1)
            received_at = self._keep_hidden(messages[index:], received_at)
            try:
                batch = decode(message.get("Body", ""))
            except PoisonMessage as exc:
                self.stats.bump(poison=1)
                self.stats.bump(other_calls=2)
                log.warning("message %s moved to the DLQ: %s", message["MessageId"], exc)
                move_to_dlq(self._sqs, self._queue_url, self._dlq_url, message, str(exc))
                continue
            if not self._sources.is_current(batch.source_key, batch.source_etag):
                # Sent by an earlier import of a file that has since been replaced or removed.
                self.stats.bump(superseded=1)
                done.append(message["ReceiptHandle"])
                continue
            unwritten = self._write_held(batch)
            if unwritten:
                self.stats.bump(failed_messages=1)
                self.stats.bump(unwritten_records=unwritten)
                self.stats.fail(
                    f"{batch.source_key}: {unwritten} of {len(batch.records)} records not"
                    " written; the message stays queued and is retried"
                )
                retry.append(message["ReceiptHandle"])
                continue
            self.stats.bump(records=len(batch.records))
            done.append(message["ReceiptHandle"])
        if done:
            result = delete_messages(self._sqs, self._queue_url, done, self._backoff)
            self.stats.bump(deleted=result.deleted)
            self.stats.bump(delete_calls=result.calls)
            self.stats.bump(delete_failures=len(result.failed))
        if retry:
            self._change_visibility(retry, self._settings.retry_visibility_seconds)

    def _write_held(self, batch: RecordBatch) -> int:
        """Write a batch while the op's progress counts its records as held by this worker."""
        if self._progress is None:
            return self._write(batch)
        self._progress.hold(batch)
        unwritten = len(batch.records)
        try:
            unwritten = self._write(batch)
        finally:
            self._progress.release(batch, written=unwritten == 0)
        return unwritten

    def _write(self, batch: RecordBatch) -> int:
        loaded_at = loaded_now()
        items = [
            to_item(
                values,
                source_key=batch.source_key,
                source_etag=batch.source_etag,
                line=line,
                loaded_at=loaded_at,
            )
            for line, values in batch.records
        ]
        unwritten = len(self._writer.write(items))
        self.stats.wrote(batch.period, len(items) - unwritten)
        return unwritten

    def _keep_hidden(self, remaining: list[dict[str, Any]], received_at: float) -> float:
        """Extend the visibility of messages not processed yet when half their time is gone."""
        timeout = self._settings.visibility_timeout
        now = self._clock()
        if not remaining or now - received_at < timeout / 2:
            return received_at
        self._change_visibility([m["ReceiptHandle"] for m in remaining], timeout)
        return now

    def _change_visibility(self, receipts: list[str], seconds: int) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": seconds}
            for i, r in enumerate(receipts)
        ]
        self.stats.bump(other_calls=1)
        self._sqs.change_message_visibility_batch(QueueUrl=self._queue_url, Entries=entries)
