"""The loader: drains the statement queue into the table, one worker per call of `drain`.

Per received message (the AWS Lambda Powertools batch pattern): decode it, skip it if its
file version is no longer current, write every record, and delete only messages whose
records were all written. Poison messages go to the DLQ at once; the rest are reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from statement_pipeline.core.items import to_item
from statement_pipeline.core.messages import PoisonMessage, RecordBatch, decode
from statement_pipeline.core.queue import Depth, delete_messages, move_to_dlq, queue_depth
from statement_pipeline.core.retry import Backoff, call_with_retry
from statement_pipeline.core.table import BatchWriter

log = logging.getLogger(__name__)


class LoadIncomplete(RuntimeError):
    """The queue ran dry (or time ran out) before every statement of the month was written."""


class Superseded(RuntimeError):
    """A file of the month changed during the run: a newer import owns the month now."""


class SourceVersions:
    """Answers 'is this file version still the current one?' with one HEAD per file."""

    def __init__(self, s3: Any, bucket: str, backoff: Backoff) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._backoff = backoff
        self._etags: dict[str, str | None] = {}
        self.calls = 0

    def forget(self) -> None:
        """Ask S3 again next time (a file may have been replaced since)."""
        self._etags.clear()

    def is_current(self, key: str, etag: str) -> bool:
        if key not in self._etags:
            self.calls += 1
            try:
                head = call_with_retry(
                    lambda: self._s3.head_object(Bucket=self._bucket, Key=key), self._backoff
                )
                self._etags[key] = head["ETag"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in (
                    "404",
                    "NoSuchKey",
                    "NotFound",
                ):
                    raise
                self._etags[key] = None
        return self._etags[key] == etag


@dataclass
class DrainSettings:
    """How one worker drains the queue."""

    max_messages: int = 10
    wait_seconds: int = 1
    visibility_timeout: int = 300
    # SQS's counters are approximate on real AWS; they must read empty this long before a
    # missing statement is declared lost rather than still in someone's hands.
    empty_grace_seconds: float = 60.0
    deadline_seconds: float = 3600.0
    poll_pause_seconds: float = 0.5


@dataclass
class DrainStats:
    """What one worker did (summed over workers by the caller)."""

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


class Drainer:
    """One queue worker; `drain()` returns once the month is complete and the queue is dry."""

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
        self.stats = DrainStats()

    def drain(self) -> DrainStats:
        s = self._settings
        started = self._clock()
        empty_since: float | None = None
        while True:
            if self._clock() - started > s.deadline_seconds:
                raise LoadIncomplete(
                    f"the month was not complete after {s.deadline_seconds:.0f}s of loading"
                )
            messages = self._receive()
            if messages:
                empty_since = None
                self._process(messages)
                continue
            # Nothing visible: finished if every statement of the month is in the table.
            # Messages still in flight then hold only records that are written already.
            if self._month_complete():
                return self.stats
            depth = self._depth()
            if depth.total == 0:
                empty_since = empty_since if empty_since is not None else self._clock()
                if self._clock() - empty_since >= s.empty_grace_seconds:
                    raise LoadIncomplete(
                        "the queue is empty but statements of the month are missing from the"
                        " table; were messages purged or moved to the DLQ?"
                    )
            else:
                empty_since = None
            time.sleep(s.poll_pause_seconds)

    def _receive(self) -> list[dict[str, Any]]:
        s = self._settings
        self.stats.receive_calls += 1
        resp = call_with_retry(
            lambda: self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=s.max_messages,
                WaitTimeSeconds=s.wait_seconds,
                VisibilityTimeout=s.visibility_timeout,
                AttributeNames=["ApproximateReceiveCount"],
            ),
            self._backoff,
        )
        return list(resp.get("Messages", []))

    def _depth(self) -> Depth:
        self.stats.other_calls += 1
        return queue_depth(self._sqs, self._queue_url, self._backoff)

    def _process(self, messages: list[dict[str, Any]]) -> None:
        received_at = self._clock()
        done: list[str] = []
        for index, message in enumerate(messages):
            self.stats.messages += 1
            received_at = self._keep_hidden(messages[index:], received_at)
            try:
                batch = decode(message.get("Body", ""))
            except PoisonMessage as exc:
                self.stats.poison += 1
                self.stats.other_calls += 2
                log.warning("message %s moved to the DLQ: %s", message["MessageId"], exc)
                move_to_dlq(
                    self._sqs, self._queue_url, self._dlq_url, message, str(exc), self._backoff
                )
                continue
            if not self._sources.is_current(batch.source_key, batch.source_etag):
                # Sent by an earlier import of a file that has since been replaced or removed.
                self.stats.superseded += 1
                done.append(message["ReceiptHandle"])
                continue
            unwritten = self._write(batch)
            if unwritten:
                self.stats.failed_messages += 1
                self.stats.unwritten_records += unwritten
                self.stats.failures.append(
                    f"{batch.source_key}: {unwritten} of {len(batch.records)} records not"
                    " written (kept in the queue for redelivery)"
                )
                continue
            self.stats.records += len(batch.records)
            done.append(message["ReceiptHandle"])
        if done:
            result = delete_messages(self._sqs, self._queue_url, done, self._backoff)
            self.stats.deleted += result.deleted
            self.stats.delete_calls += result.calls
            self.stats.delete_failures += len(result.failed)

    def _write(self, batch: RecordBatch) -> int:
        loaded_at = datetime.now(UTC).isoformat(timespec="seconds")
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
        return len(self._writer.write(items))

    def _keep_hidden(self, remaining: list[dict[str, Any]], received_at: float) -> float:
        """Extend the visibility of messages not processed yet when half their time is gone."""
        timeout = self._settings.visibility_timeout
        now = self._clock()
        if not remaining or now - received_at < timeout / 2:
            return received_at
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": timeout}
            for i, m in enumerate(remaining)
        ]
        self.stats.other_calls += 1
        call_with_retry(
            lambda: self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue_url, Entries=entries
            ),
            self._backoff,
        )
        return now
