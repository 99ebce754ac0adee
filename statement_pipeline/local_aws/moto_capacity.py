"""The local AWS's fifth fix: a Query answers with the read units DynamoDB would charge.

moto reports a fixed 1.0 `ConsumedCapacity` for every Query page, whatever it read. The month
reader sizes its pages (`Limit`) from the units per item that DynamoDB's answers show, so on
moto it took each page to be nearly free and asked for whole 1 MB pages, whose parsed items
were most of the import's memory at 233,000 statements. DynamoDB charges a Query page the
total size of the items it read, in started 4 KB blocks, half that when eventually consistent
(developer guide, "Read consumption for Query"); the page's size is known where moto_speedups
builds it, and this fix puts that charge in the answer. Queries that moto_speedups leaves to
moto's own code keep moto's figure.

Standard library only at import: the moto server script imports this file as a sibling.
"""

from __future__ import annotations

import math
import threading
from typing import Any

READ_UNIT_BYTES = 4 * 1024
_PAGE = threading.local()
# Set on the wrapped handler: installing again is then a no-op.
_MARK = "_statement_pipeline_capacity"


def note_page(read_bytes: int) -> None:
    """The Query being answered on this thread read `read_bytes` of items."""
    _PAGE.read_bytes = read_bytes


def page_units(read_bytes: int, consistent: bool) -> float:
    """DynamoDB's charge for a Query page that read `read_bytes` (at least one block)."""
    blocks = max(1, math.ceil(read_bytes / READ_UNIT_BYTES))
    return float(blocks) if consistent else blocks / 2


def fix_query_capacity() -> bool:
    from moto.dynamodb import responses

    moto_query = responses.DynamoHandler.query
    if getattr(moto_query, _MARK, False):
        return True

    def query(self: Any) -> Any:
        _PAGE.read_bytes = None
        result = moto_query(self)
        read_bytes = getattr(_PAGE, "read_bytes", None)
        _PAGE.read_bytes = None
        capacity = result.result.get("ConsumedCapacity") if hasattr(result, "result") else None
        if read_bytes is not None and isinstance(capacity, dict):
            units = page_units(read_bytes, bool(self.body.get("ConsistentRead")))
            capacity["CapacityUnits"] = units
            if isinstance(capacity.get("Table"), dict):
                capacity["Table"]["CapacityUnits"] = units
        return result

    setattr(query, _MARK, True)
    responses.DynamoHandler.query = query  # type: ignore[method-assign]
    return True
