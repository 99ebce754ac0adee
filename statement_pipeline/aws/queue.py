"""SQS operations with partial-failure handling: batched sends and deletes, DLQ moves, depth."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from statement_pipeline.rules.backoff import Backoff

log = logging.getLogger(__name__)

MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 1024 * 1024


class SendFailed(RuntimeError):
    """Some messages could not be sent even after retries."""


@dataclass
class SendStats:
    messages: int = 0
    calls: int = 0
    retried_entries: int = 0
    bytes: int = 0


def _batches(bodies: Iterable[str], max_entries: int, max_bytes: int) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for body in bodies:
        body_size = len(body.encode())
        if batch and (len(batch) >= max_entries or size + body_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(body)
        size += body_size
    if batch:
        yield batch


def send_messages(
    sqs: Any,
    queue_url: str,
    bodies: Iterable[str],
    backoff: Backoff,
    *,
    max_entries: int = MAX_BATCH_ENTRIES,
    max_bytes: int = MAX_BATCH_BYTES,
    stats: SendStats | None = None,
) -> SendStats:
    """Send every body with SendMessageBatch, re-sending entries the service reports Failed.

    `stats`, when given, is counted into as the sends go (a progress line reads it meanwhile).
    """
    stats = stats if stats is not None else SendStats()
    for batch in _batches(bodies, max_entries, max_bytes):
        pending = {str(i): body for i, body in enumerate(batch)}
        attempt = 0
        while pending:
            entries = [{"Id": i, "MessageBody": b} for i, b in pending.items()]
            stats.calls += 1
            resp = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            for ok in resp.get("Successful", []):
                body = pending.pop(ok["Id"], None)
                if body is not None:
                    stats.messages += 1
                    stats.bytes += len(body.encode())
            failed = resp.get("Failed", [])
            if not failed:
                continue
            permanent = [f for f in failed if f.get("SenderFault")]
            if permanent:
                codes = sorted({str(f.get("Code")) for f in permanent})
                raise SendFailed(f"SQS refused {len(permanent)} messages: {', '.join(codes)}")
            attempt += 1
            if attempt >= backoff.max_attempts:
                raise SendFailed(f"{len(pending)} messages still failing after {attempt} attempts")
            stats.retried_entries += len(failed)
            backoff.pause(attempt)
    return stats


@dataclass
class DeleteStats:
    deleted: int = 0
    calls: int = 0
    failed: list[str] = field(default_factory=list)


def delete_messages(
    sqs: Any, queue_url: str, receipts: Sequence[str], backoff: Backoff
) -> DeleteStats:
    """Delete messages with DeleteMessageBatch, retrying entries that fail; report the rest."""
    stats = DeleteStats()
    for start in range(0, len(receipts), MAX_BATCH_ENTRIES):
        pending = {str(i): r for i, r in enumerate(receipts[start : start + MAX_BATCH_ENTRIES])}
        attempt = 0
        while pending:
            entries = [{"Id": i, "ReceiptHandle": r} for i, r in pending.items()]
            stats.calls += 1
            resp = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
            for ok in resp.get("Successful", []):
                if pending.pop(ok["Id"], None) is not None:
                    stats.deleted += 1
            failed = resp.get("Failed", [])
            if not failed:
                continue
            attempt += 1
            retryable = [f for f in failed if not f.get("SenderFault")]
            if attempt >= backoff.max_attempts or not retryable:
                # The message becomes visible again and is written a second time: harmless,
                # because writes are idempotent puts of the same item.
                stats.failed.extend(str(f.get("Code")) for f in failed)
                break
            backoff.pause(attempt)
    return stats


@dataclass(frozen=True)
class Depth:
    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def queue_depth(sqs: Any, queue_url: str) -> Depth:
    """Approximate message counts (SQS's counters are eventually consistent on real AWS)."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return Depth(
        int(attrs.get("ApproximateNumberOfMessages", 0)),
        int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
    )


def move_to_dlq(
    sqs: Any,
    queue_url: str,
    dlq_url: str,
    message: dict[str, Any],
    reason: str,
) -> None:
    """Park a message that can never be processed in the DLQ at once, with the reason."""
    sqs.send_message(
        QueueUrl=dlq_url,
        MessageBody=message["Body"],
        MessageAttributes={
            "failure_reason": {"DataType": "String", "StringValue": reason[:256]},
            "source_message_id": {"DataType": "String", "StringValue": message["MessageId"]},
        },
    )
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def peek_periods(sqs: Any, queue_url: str, *, limit: int = 1000) -> list[str]:
    """The `period` of each message in a (small) queue, read without consuming them.

    Meant for the DLQ, which has no redrive policy, so receiving does not move anything.
    Each message is hidden while the loop runs, so it is seen once, then made visible again.
    """
    seen: dict[str, str] = {}
    handles: list[str] = []
    try:
        while len(seen) < limit:
            resp = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=30,
                WaitTimeSeconds=0,
            )
            messages = resp.get("Messages", [])
            if not messages:
                break
            for msg in messages:
                handles.append(msg["ReceiptHandle"])
                seen[msg["MessageId"]] = _period_of(msg.get("Body", ""))
    finally:
        for start in range(0, len(handles), MAX_BATCH_ENTRIES):
            chunk = handles[start : start + MAX_BATCH_ENTRIES]
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for i, h in enumerate(chunk)
                ],
            )
    return list(seen.values())


def _period_of(body: str) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    period = doc.get("period") if isinstance(doc, dict) else None
    return period if isinstance(period, str) else ""
