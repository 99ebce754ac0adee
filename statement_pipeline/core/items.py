"""What lands in DynamoDB (CONTRACT.md section 3): one item per statement, exact typed values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from statement_pipeline.core.records import COLUMNS, NUMBER_COLUMNS

HASH_KEY = "period"
RANGE_KEY = "statement_id"
# Bookkeeping attributes: where the statement came from, so a re-import can tell current
# items (same file version) from stale ones, and an operator can trace an item to its line.
SOURCE_KEY = "source_key"
SOURCE_ETAG = "source_etag"
SOURCE_LINE = "source_line"
LOADED_AT = "loaded_at"

_KINDS = tuple("N" if name in NUMBER_COLUMNS else "S" for name in COLUMNS)
_PERIOD_INDEX = COLUMNS.index(HASH_KEY)
_ID_INDEX = COLUMNS.index(RANGE_KEY)

Item = dict[str, dict[str, str]]


def to_item(
    values: Sequence[str], *, source_key: str, source_etag: str, line: int, loaded_at: str
) -> Item:
    """The low-level DynamoDB item of one validated row: numbers travel as strings, never floats."""
    item: Item = {
        name: {kind: value} for name, kind, value in zip(COLUMNS, _KINDS, values, strict=True)
    }
    item[SOURCE_KEY] = {"S": source_key}
    item[SOURCE_ETAG] = {"S": source_etag}
    item[SOURCE_LINE] = {"N": str(line)}
    item[LOADED_AT] = {"S": loaded_at}
    return item


def key_of(values: Sequence[str]) -> dict[str, dict[str, str]]:
    return {HASH_KEY: {"S": values[_PERIOD_INDEX]}, RANGE_KEY: {"S": values[_ID_INDEX]}}


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
