"""A month's own import figures, read from its items in the table, whoever wrote them.

The queue is shared by every month, so in a backfill one run's loaders write other months'
records too: counters kept by a run's loaders describe those loaders, not the month. The
items themselves say what happened to the month. Each one carries when it was written
(`loaded_at`, stamped at the write that stored it), how many attempts that took
(`write_attempts`: each one more than the first was refused by a throttling table), and its
size (what the write consumed). So the statements written since the import began, their write
window, throughput, throttled attempts and write units are the month's own, exactly, however
many runs' loaders wrote them and on however many machines (whose clocks are assumed in step).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from statement_pipeline.rules.items import (
    LOADED_AT,
    RANGE_KEY,
    SOURCE_ETAG,
    SOURCE_KEY,
    WRITE_ATTEMPTS,
)
from statement_pipeline.rules.month_plan import id_digest
from statement_pipeline.rules.write_budget import write_units


@dataclass(frozen=True)
class StoredItem:
    """What the figures need of one stored item of the month."""

    statement_id: str
    source_key: str
    source_etag: str
    loaded_at: float | None
    write_attempts: int
    write_units: int


def timestamp(loaded_at: str) -> float | None:
    """Seconds since the epoch of a `loaded_at` value (None when it cannot be read)."""
    try:
        return datetime.fromisoformat(loaded_at).timestamp()
    except ValueError:
        return None


def stored_item(item: Mapping[str, Any], size: int) -> StoredItem:
    """What the figures need of a stored item (wire format) of `size` bytes."""
    loaded_at = item.get(LOADED_AT, {}).get("S")
    return StoredItem(
        statement_id=item[RANGE_KEY]["S"],
        source_key=item.get(SOURCE_KEY, {}).get("S", ""),
        source_etag=item.get(SOURCE_ETAG, {}).get("S", ""),
        loaded_at=timestamp(loaded_at) if loaded_at else None,
        write_attempts=int(item.get(WRITE_ATTEMPTS, {}).get("N", "1")),
        write_units=write_units(size),
    )


@dataclass
class MonthFigures:
    """The month as the table holds it after an import, and what that import wrote of it."""

    current: int = 0
    stale_ids: list[str] = field(default_factory=list)
    written: int = 0
    first_write: float | None = None
    last_write: float | None = None
    throttled_writes: int = 0
    write_units: int = 0

    @property
    def write_seconds(self) -> float:
        """From the first write of this import to its last (0 when nothing was written)."""
        if self.first_write is None or self.last_write is None:
            return 0.0
        return round(self.last_write - self.first_write, 3)

    @property
    def records_per_second(self) -> float:
        """Statements written per second of the write window.

        A month written in a single call has a window of 0: its rate is then taken over one
        millisecond, the resolution of `loaded_at`, rather than shown as 0.
        """
        if not self.written:
            return 0.0
        return round(self.written / max(self.write_seconds, 0.001), 1)


@dataclass
class FiguresFold:
    """`month_figures` one item at a time: a read hands the items over as its pages come."""

    sources: dict[str, str]
    conflicts: Collection[int]
    since: float
    figures: MonthFigures = field(default_factory=MonthFigures)

    def add(self, item: StoredItem) -> None:
        figures = self.figures
        if self.sources.get(item.source_key) != item.source_etag or (
            self.conflicts and id_digest(item.statement_id) in self.conflicts
        ):
            figures.stale_ids.append(item.statement_id)
            return
        figures.current += 1
        if item.loaded_at is None or item.loaded_at < self.since:
            return
        figures.written += 1
        figures.throttled_writes += max(0, item.write_attempts - 1)
        figures.write_units += item.write_units
        if figures.first_write is None or item.loaded_at < figures.first_write:
            figures.first_write = item.loaded_at
        if figures.last_write is None or item.loaded_at > figures.last_write:
            figures.last_write = item.loaded_at


def month_figures(
    items: Iterable[StoredItem],
    *,
    sources: dict[str, str],
    conflicts: Collection[int],
    since: float,
) -> MonthFigures:
    """Split the month's items into current and stale, and measure what was written `since`.

    Current items come from the file versions this import read (`sources`, key -> ETag) and
    do not carry a conflicting id. Written in this import: current items stamped at or after
    `since`, the moment the import began; a re-import of unchanged files writes none.
    """
    fold = FiguresFold(sources, conflicts, since)
    for item in items:
        fold.add(item)
    return fold.figures
