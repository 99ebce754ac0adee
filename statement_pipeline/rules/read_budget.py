"""The month reader's read budget: read units per second, paced like the writes.

The controller is `adaptive_budget.AdaptiveBudget`, fed with each Query page's outcome in
read units: DynamoDB's own ConsumedCapacity for a page it answered, the page's estimate for one
it refused (a throttled read is refused whole). It spends the table's read burst while it is
granted, and settles at `share` x the table's sustained read rate, leaving the rest to the
statement API's other readers.

A page's cost is known only once it is read (DynamoDB charges the total size of the items it
read: one unit per started 4 KB strongly consistent, half that eventually consistent), so the
reader bounds each page with `Limit`: about `PAGE_SECONDS` of the budget's rate, from the
units per item the pages so far cost. A refused page costs nothing; a page read costs what it
read, and the budget's tokens are corrected to that.
"""

from __future__ import annotations

import math
from typing import Any

from statement_pipeline.rules.adaptive_budget import AdaptiveBudget

READ_UNIT_BYTES = 4 * 1024
# What the import's reads may settle at, of the table's sustained read rate, by default: the
# rest is left to the statement API (import_tuning.read_share).
DEFAULT_READ_SHARE = 0.8
# All the pages being read at once cost about this many seconds of the budget's rate.
PAGE_SECONDS = 0.5
# A page rounds its size up to whole 4 KB blocks: at least 8 of them keeps that under 1/8.
MIN_PAGE_BLOCKS = 8
# DynamoDB stops a page once it has read 1 MB: 256 units strongly consistent, 128 eventually.
PAGE_BYTES = 1024 * 1024
# The reader asks for less: botocore parses a page whole, into some 20 times its size in Python
# objects, and the pages of 8 readers in flight at 1 MB each were most of the import's peak
# memory at 233,000 statements (docs/benchmarks.md). At 128 KB a read costs more calls (a
# 233,000-statement month about 420 instead of about 55), each still a full 32-block page.
MAX_PAGE_BYTES = 128 * 1024


def read_units(total_bytes: float, *, consistent: bool) -> float:
    """Units of one Query page: its items' total size in started 4 KB blocks, halved when
    eventually consistent (never less than one block)."""
    blocks = max(1, math.ceil(total_bytes / READ_UNIT_BYTES))
    return float(blocks) if consistent else blocks / 2


# Before any page is read: an item of about this size (a statement item is 300 to 500 bytes).
GUESSED_ITEM_BYTES = 512


class ReadBudget(AdaptiveBudget):
    """The budget the month reader's threads share, in read units.

    `floor` is the table's sustained read rate (provisioned RCU, or 12,000 for an on-demand
    table), `share` what the reads settle at once the read burst is spent. Reads never probe
    above a settled rate: they settle below the table's rate on purpose.
    """

    def __init__(
        self,
        *,
        consistent: bool,
        share: float = DEFAULT_READ_SHARE,
        readers: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(settled_share=share, probe_seconds=None, owe_late_grants=True, **kwargs)
        self.consistent = consistent
        # Pages in flight are charged when answered: together they may cost at most
        # PAGE_SECONDS of the floor, so a slow table is read by fewer threads.
        smallest = read_units(MIN_PAGE_BLOCKS * READ_UNIT_BYTES, consistent=consistent)
        fit = readers if self.floor is None else int(self.floor * PAGE_SECONDS / smallest)
        self.readers = max(1, min(readers, fit))
        self._items_read = 0
        self._units_read = 0.0

    def units_per_item(self) -> float:
        """Read units an item has cost so far (a guess before the first page)."""
        with self._lock:
            if self._items_read:
                return self._units_read / self._items_read
        return GUESSED_ITEM_BYTES / READ_UNIT_BYTES / (1 if self.consistent else 2)

    def page(self) -> tuple[int, float]:
        """The next page's `Limit` and its estimated units: the readers' pages together cost
        about PAGE_SECONDS of the pace (unpaced, of the floor: a page charged beyond what the
        table holds is owed to it, and refuses every reader until repaid), in whole blocks."""
        per_item = self.units_per_item()
        whole_page = read_units(min(PAGE_BYTES, MAX_PAGE_BYTES), consistent=self.consistent)
        smallest = read_units(MIN_PAGE_BLOCKS * READ_UNIT_BYTES, consistent=self.consistent)
        rate = self.pace()
        units = whole_page if rate is None else rate * PAGE_SECONDS / self.readers
        units = min(whole_page, max(smallest, units))
        items = max(1, int(units / per_item))
        return items, max(read_units(0, consistent=self.consistent), items * per_item)

    def learn(self, items: int, units: float) -> None:
        """A page read `items` items for `units` (DynamoDB's ConsumedCapacity)."""
        if items > 0 and units > 0:
            with self._lock:
                self._items_read += items
                self._units_read += units
