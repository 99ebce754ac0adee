"""UpdateTable as DynamoDB answers it, for the capacity model (moto is ACTIVE at once, no limits).

From the AWS DynamoDB developer guide (provisioned-capacity-mode.html, ServiceQuotas.html
"Decreasing provisioned throughput", capacity-mode switching) and API_UpdateTable.html:

- the table is UPDATING until the change applies (several minutes on AWS: `updating_seconds`,
  in AWS seconds, so time compression shortens it like everything else) and keeps its old
  capacity meanwhile; another UpdateTable then fails with ResourceInUseException;
- a change that changes nothing fails with ValidationException;
- decreases per UTC day: 4 at any time, then one more an hour after the last, 27 in all; the
  next one fails with LimitExceededException, which says when the next one may be made;
- provisioned to on-demand 4 times in a rolling 24 hours (LimitExceededException after);
  on-demand back to provisioned at any time, and not counted as a decrease.

Partitions never merging is the model's part (`_Table.partitions` only grows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the model imports this module
    from statement_harness.capacity_model import TableCapacity

DAY = 86_400.0
HOUR = 3_600.0
FREE_DECREASES = 4
MAX_DECREASES = 27
SWITCHES_PER_DAY = 4
_AWS_TIME = "%A, %B %d, %Y %I:%M:%S %p UTC"


class UpdateRefused(Exception):
    """UpdateTable refused: the DynamoDB error code and its message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def aws_time(epoch: float) -> str:
    """A time the way DynamoDB's LimitExceededException message writes it."""
    return datetime.fromtimestamp(epoch, UTC).strftime(_AWS_TIME)


def is_decrease(old: TableCapacity, new: TableCapacity) -> bool:
    """A provisioned table given fewer write or read units."""
    if old.on_demand or new.on_demand:
        return False
    return new.wcu < old.wcu or new.rcu < old.rcu


@dataclass
class TableUpdates:
    """Pending changes, decreases and switches of every table, on the model's clock (AWS s).

    `epoch` maps the model's clock to UTC (epoch seconds at model time 0): the decrease
    quota counts per UTC day.
    """

    updating_seconds: float = 60.0
    epoch: float = 0.0
    pending: dict[str, tuple[float, TableCapacity, TableCapacity]] = field(default_factory=dict)
    decreases: dict[str, list[float]] = field(default_factory=dict)
    switches: dict[str, list[float]] = field(default_factory=dict)

    def _day(self, now: float) -> float:
        """Model time at which `now`'s UTC day began."""
        utc = self.epoch + now
        return now - utc % DAY

    def decreases_today(self, table: str, now: float) -> list[float]:
        start = self._day(now)
        return [t for t in self.decreases.get(table, []) if t >= start]

    def next_decrease(self, table: str, now: float) -> float:
        """Model time from which a decrease is allowed (`now` if it is now)."""
        today = self.decreases_today(table, now)
        if len(today) < FREE_DECREASES:
            return now
        tomorrow = self._day(now) + DAY
        if len(today) >= MAX_DECREASES:
            return tomorrow
        return min(max(now, today[-1] + HOUR), tomorrow)

    def request(self, table: str, now: float, old: TableCapacity, new: TableCapacity) -> None:
        """Accept the change (UPDATING until `now + updating_seconds`) or raise UpdateRefused."""
        if table in self.pending:
            raise UpdateRefused(
                "ResourceInUseException",
                f"Attempt to change a resource which is still in use: Table is being updated: "
                f"{table}",
            )
        if old == new:
            raise UpdateRefused(
                "ValidationException",
                "The provisioned throughput for the table will not change. The requested value "
                "equals the current value. Current ReadCapacityUnits provisioned for the table: "
                f"{old.rcu:g}. Requested ReadCapacityUnits: {new.rcu:g}. Current "
                f"WriteCapacityUnits provisioned for the table: {old.wcu:g}. Requested "
                f"WriteCapacityUnits: {new.wcu:g}. Refer to the Amazon DynamoDB Developer Guide "
                "for current limits and how to request higher limits.",
            )
        if is_decrease(old, new):
            allowed = self.next_decrease(table, now)
            if allowed > now:
                today = self.decreases_today(table, now)
                raise UpdateRefused(
                    "LimitExceededException",
                    "Subscriber limit exceeded: Provisioned throughput decreases are limited "
                    "within a given UTC day. After the first 4 decreases, each subsequent "
                    "decrease in the same UTC day can be performed at most once every 60 "
                    f"minutes. Number of decreases today: {len(today)}. Last decrease at "
                    f"{aws_time(self.epoch + today[-1])}. Next decrease can be made at "
                    f"{aws_time(self.epoch + allowed)}",
                )
            self.decreases.setdefault(table, []).append(now)
        if new.on_demand and not old.on_demand:
            recent = [t for t in self.switches.get(table, []) if t > now - DAY]
            if len(recent) >= SWITCHES_PER_DAY:
                raise UpdateRefused(
                    "LimitExceededException",
                    "Subscriber limit exceeded: Update to PayPerRequest mode are limited to 4 "
                    f"times within 24 hours. Table: {table}",
                )
            self.switches[table] = [*recent, now]
        self.pending[table] = (now + self.updating_seconds, old, new)

    def due(self, table: str, now: float) -> TableCapacity | None:
        """The new capacity once its change has applied (then no longer pending)."""
        entry = self.pending.get(table)
        if entry is None or entry[0] > now:
            return None
        del self.pending[table]
        return entry[2]

    def shown(self, table: str) -> TableCapacity | None:
        """The capacity an UPDATING table still has (None: not updating)."""
        entry = self.pending.get(table)
        return entry[1] if entry else None

    def forget(self, table: str) -> None:
        """The table was deleted: its pending change, quota and switches go with it."""
        for record in (self.pending, self.decreases, self.switches):
            record.pop(table, None)
