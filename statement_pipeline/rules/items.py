"""What lands in DynamoDB (CONTRACT.md section 3): one item per statement, exact typed values."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from statement_pipeline.rules.csv_records import COLUMNS, NUMBER_COLUMNS

# The table's key: HASH `month_shard` ("<YYYY-MM>#<00..31>") + RANGE `statement_id`.
# One partition-key value takes at most 1,000 write units a second on DynamoDB, whatever the
# table's capacity, so a month under one key value could never load faster than that. Write
# sharding, as AWS recommends for such keys (developer guide, bp-partition-key-sharding.html),
# spreads a month over SHARDS values by a hash of the statement id, which the statement API
# recomputes to read one statement with one GetItem. Hashing also interleaves the key values
# within every batch (bp-partition-key-data-upload.html). 32 shards: at 10x the seed's month
# (233,000 statements) one value holds about 7,300 of them, so even a new on-demand table's
# 4,000 units/s (58 s for the month) is not capped by any one key (7.3 s each at 1,000/s).
HASH_KEY = "month_shard"
RANGE_KEY = "statement_id"
PERIOD = "period"
SHARDS = 32
# Bookkeeping attributes: where the statement came from, so a re-import can tell current
# items (same file version) from stale ones, and an operator can trace an item to its line.
SOURCE_KEY = "source_key"
SOURCE_ETAG = "source_etag"
SOURCE_LINE = "source_line"
# When the write that stored the item was sent, and how many attempts it took (each attempt
# after the first follows a refusal by a throttling table): a month's own import figures are
# read from these (rules/month_figures.py), whichever loaders wrote it.
LOADED_AT = "loaded_at"
WRITE_ATTEMPTS = "write_attempts"

_KINDS = tuple("N" if name in NUMBER_COLUMNS else "S" for name in COLUMNS)
_PERIOD_INDEX = COLUMNS.index(PERIOD)
_ID_INDEX = COLUMNS.index(RANGE_KEY)

Item = dict[str, dict[str, str]]


def to_item(
    values: Sequence[str], *, source_key: str, source_etag: str, line: int, loaded_at: str
) -> Item:
    """The low-level DynamoDB item of one validated row: numbers travel as strings, never floats."""
    item: Item = {
        name: {kind: value} for name, kind, value in zip(COLUMNS, _KINDS, values, strict=True)
    }
    item[HASH_KEY] = {"S": partition_key(values[_PERIOD_INDEX], values[_ID_INDEX])}
    item[SOURCE_KEY] = {"S": source_key}
    item[SOURCE_ETAG] = {"S": source_etag}
    item[SOURCE_LINE] = {"N": str(line)}
    item[LOADED_AT] = {"S": loaded_at}
    item[WRITE_ATTEMPTS] = {"N": "1"}
    return item


def loaded_now() -> str:
    """A `loaded_at` value for a write sent now: UTC, to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def mark_sent(items: Iterable[Item], loaded_at: str) -> None:
    """Stamp items with the time of the write that is about to carry them."""
    for item in items:
        item[LOADED_AT] = {"S": loaded_at}


def mark_refused(items: Iterable[Item]) -> None:
    """Count one more attempt on items the table refused: their next write carries it."""
    for item in items:
        attempts = int(item.get(WRITE_ATTEMPTS, {}).get("N", "1"))
        item[WRITE_ATTEMPTS] = {"N": str(attempts + 1)}


def shard_of(statement_id: str) -> int:
    """The shard of a statement: a stable hash of its id (the same in every process)."""
    digest = hashlib.blake2b(statement_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % SHARDS


def partition_key(period: str, statement_id: str) -> str:
    """The `month_shard` value of a statement: what the statement API reads it by."""
    return f"{period}#{shard_of(statement_id):02d}"


def month_shards(period: str) -> list[str]:
    """Every `month_shard` value of a month: a whole month is read with one Query each."""
    return [f"{period}#{shard:02d}" for shard in range(SHARDS)]


def key_of(period: str, statement_id: str) -> dict[str, dict[str, str]]:
    """The primary key of a statement (what GetItem and DeleteRequest take)."""
    return {HASH_KEY: {"S": partition_key(period, statement_id)}, RANGE_KEY: {"S": statement_id}}


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").strip("0") or "0"
    # DynamoDB stores two significant digits per byte plus one byte of exponent.
    return (len(digits) + 1) // 2 + 1


def item_size(item: dict[str, Any]) -> int:
    """Item size by DynamoDB's rules: attribute name bytes plus value bytes."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        ((kind, raw),) = value.items()
        size += _number_size(raw) if kind == "N" else len(str(raw).encode())
    return size


def from_item(item: dict[str, Any]) -> dict[str, str]:
    """The statement columns of a stored item as strings (for reports and tests)."""
    return {name: next(iter(item[name].values())) for name in COLUMNS if name in item}
