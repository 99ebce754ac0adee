"""A capacity proxy whose tables' burst another writer spends just as the load begins."""

from __future__ import annotations

import threading
from typing import Any

from statement_harness.capacity_proxy import CapacityProxy


class SpentAtFirstWrite(CapacityProxy):
    """Another writer spends the table's burst (writes and reads) at its first BatchWriteItem.

    A table left idle while the month is scheduled saves capacity again (as DynamoDB does),
    so the burst is emptied at the first write of each table, not when it is created: only
    that makes a spent-burst case exact.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._spent: set[str] = set()
        self._spent_lock = threading.Lock()

    def _batch_write(self, call: Any) -> Any:
        for table in call.request.get("RequestItems") or {}:
            with self._spent_lock:
                first = table not in self._spent
                self._spent.add(table)
            if first:
                self.set_burst(table, "empty")
        return super()._batch_write(call)
