"""The SQS message format: many validated records of one file version per message."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from statement_pipeline.rules.csv_records import COLUMNS, validate_values
from statement_pipeline.rules.s3_layout import is_month

FORMAT = "statement-records"
VERSION = 1
# JSON framing per record: brackets, quotes and commas around the 11 fields.
_RECORD_OVERHEAD = 2 + 11 * 3


class PoisonMessage(ValueError):
    """A message that can never be processed: not a valid batch of statement records."""


@dataclass(frozen=True)
class RecordBatch:
    """Records of one month from one version of one file; each record is (line, values)."""

    period: str
    source_key: str
    source_etag: str
    records: tuple[tuple[int, tuple[str, ...]], ...]


def encode(batch: RecordBatch) -> str:
    """Compact JSON body; values stay strings so amounts are never reinterpreted."""
    return json.dumps(
        {
            "format": FORMAT,
            "v": VERSION,
            "period": batch.period,
            "source_key": batch.source_key,
            "source_etag": batch.source_etag,
            "records": [[line, *values] for line, values in batch.records],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def decode(body: str) -> RecordBatch:
    """Parse and re-validate a message body; raises PoisonMessage if it can never be loaded."""
    try:
        doc = json.loads(body)
    except (ValueError, TypeError) as exc:
        raise PoisonMessage("body is not JSON") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PoisonMessage("not a statement-records message")
    if doc.get("v") != VERSION:
        raise PoisonMessage("unsupported message version")
    period, key, etag, raw = (
        doc.get(k) for k in ("period", "source_key", "source_etag", "records")
    )
    if not isinstance(period, str) or not is_month(period):
        raise PoisonMessage("period is not a YYYY-MM month")
    if not isinstance(key, str) or not key or not isinstance(etag, str) or not etag:
        raise PoisonMessage("source key or etag missing")
    if not isinstance(raw, list) or not raw:
        raise PoisonMessage("no records")
    records: list[tuple[int, tuple[str, ...]]] = []
    for index, rec in enumerate(raw):
        if (
            not isinstance(rec, list)
            or len(rec) != len(COLUMNS) + 1
            or not isinstance(rec[0], int)
            or not all(isinstance(v, str) for v in rec[1:])
        ):
            raise PoisonMessage(f"record {index} is malformed")
        values = tuple(rec[1:])
        # The scheduler validated these already; checking again keeps anything a foreign or
        # corrupted message carries out of the table.
        reason = validate_values(values, period)
        if reason is not None:
            raise PoisonMessage(f"record {index} (line {rec[0]}) is invalid: {reason}")
        records.append((rec[0], values))
    return RecordBatch(period, key, etag, tuple(records))


def record_size(values: tuple[str, ...]) -> int:
    """Upper bound of a record's encoded size in bytes (line number included)."""
    return _RECORD_OVERHEAD + 10 + sum(len(v.encode()) for v in values)


def pack(
    records: Iterable[tuple[int, tuple[str, ...]]],
    *,
    period: str,
    source_key: str,
    source_etag: str,
    max_records: int,
    max_bytes: int,
) -> Iterator[RecordBatch]:
    """Group records into batches of at most `max_records` and about `max_bytes` encoded."""
    envelope = 200 + len(source_key.encode()) + len(source_etag.encode())
    current: list[tuple[int, tuple[str, ...]]] = []
    size = envelope
    for line, values in records:
        rec_size = record_size(values)
        if current and (len(current) >= max_records or size + rec_size > max_bytes):
            yield RecordBatch(period, source_key, source_etag, tuple(current))
            current, size = [], envelope
        if envelope + rec_size > max_bytes:
            raise ValueError(f"line {line}: record alone exceeds the message size limit")
        current.append((line, values))
        size += rec_size
    if current:
        yield RecordBatch(period, source_key, source_etag, tuple(current))
