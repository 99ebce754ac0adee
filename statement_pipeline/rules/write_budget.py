"""The loaders' write budget: write units per second, adapted to what the table grants.

The controller is `adaptive_budget.AdaptiveBudget` (how the rate moves, by time, is described
there). The loaders report each BatchWriteItem's outcome in write units, because that is what
DynamoDB meters: the units of the items it took, and of those it left in UnprocessedItems or
refused with the whole call. A call refused whole for a partition or a key
(`ThrottlingReasons` `...KeyRangeThroughputExceeded`) says the table still holds burst: the
budget never settles on it.
"""

from __future__ import annotations

import math

from statement_pipeline.rules.adaptive_budget import AdaptiveBudget, BudgetState

__all__ = ["BudgetState", "WriteBudget", "per_op_share", "write_units"]


def write_units(item_bytes: int) -> int:
    """DynamoDB charges one write unit per started KB of item size."""
    return max(1, math.ceil(item_bytes / 1024))


def per_op_share(rate: float | None, slots: int) -> float | None:
    """One writer's share of a table-wide rate, when `slots` writers may write at once."""
    if rate is None:
        return None
    return rate / max(1, slots)


class WriteBudget(AdaptiveBudget):
    """The budget one loader op's threads share, in write units.

    `floor` is the op's share of the table's sustained write rate (None: unknown), `cap` the
    optional ceiling from `target_utilisation`.
    """
