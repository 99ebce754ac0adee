# Over 350 lines: sizes, buckets, stats and the time bound form one model, kept in one file.
"""A capacity model of real DynamoDB, for tests and benchmarks (moto never throttles).

What it follows, from the AWS DynamoDB developer guide (docs.aws.amazon.com/amazondynamodb/
latest/developerguide/...) and the API reference:

- provisioned-capacity-mode.html (read/write capacity mode): a write costs 1 WCU per started
  KB; a read 1 RCU per started 4 KB strongly consistent, half of that eventually consistent;
  a Query or Scan page is charged on the total size of the items it reads.
- CapacityUnitCalculations.html: how an item's size is counted.
- burst-adaptive-capacity.html: a provisioned table keeps up to 300 s of unused capacity, which
  may be spent faster than the provisioned rate, but never beyond a partition's limit.
- bp-partition-key-design.html: one partition serves at most 1,000 WCU/s and 3,000 RCU/s.
- bp-partition-key-sharding.html: one partition-key value lives in one partition, so a hot
  value is held to 1,000 WCU/s whatever the table's capacity (shard it instead).
- on-demand-capacity-mode.html: a new on-demand table sustains 4,000 writes/s and 12,000
  reads/s, without a 300 s burst.
- APIReference/API_BatchWriteItem.html: throttled items come back in UnprocessedItems; only
  when no item is processed does the call fail (ProvisionedThroughputExceededException).

UpdateTable (statement_harness/table_updates.py): the table is UPDATING for a while and keeps
its old capacity until the change applies; ResourceInUse while UPDATING, ValidationException
for no change, LimitExceededException past the day's decreases or the 4 switches to on-demand
in 24 hours. A raise past 1,000 WCU (or 3,000 RCU) splits partitions, and they never merge: a
table restored after a raise keeps its partitions, each with a share of the smaller rate.

Not modelled: adaptive capacity's split-for-heat and hot-item isolation, partition splits by
size, on-demand growth to 2x the previous peak, global and local secondary indexes,
transactions, TTL deletes, and burst being spent on background maintenance.

Time compression: the model's clock runs `k` times faster than the injected clock. That is the
same as every rate times k and every holding window divided by k: burst *units* stay 300 x WCU,
and a case that takes 15 AWS minutes runs in 15/k measured minutes (AWS s = measured s x k).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from statement_harness.table_updates import TableUpdates

Burst = Literal["full", "empty"]
Clock = Callable[[], float]

BURST_SECONDS = 300.0  # burst-adaptive-capacity.html
PARTITION_WCU = 1000.0  # bp-partition-key-design.html, both capacity modes
PARTITION_RCU = 3000.0
KEY_WCU = 1000.0  # one key value lives in one partition (bp-partition-key-sharding.html)
ON_DEMAND_WCU = 4000.0  # a new on-demand table (on-demand-capacity-mode.html)
ON_DEMAND_RCU = 12000.0
PROVISIONED_ERROR = "ProvisionedThroughputExceededException"
ON_DEMAND_ERROR = "ThrottlingException"
# Float refills (e.g. 1/60 s x 60) land a hair under whole units; never reject for that.
_EPSILON = 1e-6


def _number_size(text: str) -> int:
    """Bytes of an N value: 1 per two significant digits, plus 1 (leading/trailing 0s trimmed)."""
    try:
        digits = len(Decimal(text).normalize().as_tuple().digits)
    except InvalidOperation:
        digits = len(text)
    return (digits + 1) // 2 + 1


def _binary_size(encoded: str) -> int:
    """Raw bytes of a base64 value (the wire carries base64; DynamoDB counts raw bytes)."""
    return len(encoded) * 3 // 4 - encoded[-2:].count("=")


def attribute_value_size(value: Mapping[str, Any]) -> int:
    """Size in bytes of one wire-format AttributeValue, name excluded."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return _binary_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    if kind == "BS":
        return sum(_binary_size(b) for b in inner)
    # L and M: 3 bytes of overhead plus 1 byte per element (CapacityUnitCalculations.html).
    if kind == "L":
        return 3 + sum(attribute_value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_value_size(v) + 1 for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind!r}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Size of a wire-format item: attribute-name UTF-8 bytes plus value bytes."""
    return sum(len(name.encode()) + attribute_value_size(v) for name, v in item.items())


def write_units(size: int) -> int:
    """1 WCU per started KB, at least 1."""
    return max(1, math.ceil(size / 1024))


def read_units(size: float, *, consistent: bool) -> float:
    """1 RCU per started 4 KB (at least one), half for an eventually consistent read."""
    blocks = max(1, math.ceil(size / 4096))
    return float(blocks) if consistent else blocks / 2


def key_value(value: Mapping[str, Any] | None) -> str:
    """A partition-key AttributeValue as a plain string (S and N as sent, B as base64)."""
    if not value:
        return ""
    inner = next(iter(value.values()))
    return inner if isinstance(inner, str) else json.dumps(inner)


def partition_of(table: str, key: str, partitions: int) -> int:
    """The partition a key value lives in: a stable hash, the same in every process."""
    digest = hashlib.md5(f"{table}\0{key}".encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % partitions


@dataclass(frozen=True)
class TableCapacity:
    """A table's capacity: provisioned WCU/RCU, or an on-demand table's ceilings."""

    wcu: float
    rcu: float
    on_demand: bool = False
    hash_key: str = "pk"

    @classmethod
    def provisioned(cls, wcu: float, rcu: float = 1.0, hash_key: str = "pk") -> TableCapacity:
        return cls(wcu, rcu, False, hash_key)

    @classmethod
    def pay_per_request(
        cls, wcu: float = ON_DEMAND_WCU, rcu: float = ON_DEMAND_RCU, hash_key: str = "pk"
    ) -> TableCapacity:
        return cls(wcu, rcu, True, hash_key)

    @property
    def partitions(self) -> int:
        """Enough partitions for the throughput (4 for a new on-demand table)."""
        return max(1, math.ceil(self.wcu / PARTITION_WCU), math.ceil(self.rcu / PARTITION_RCU))

    @property
    def window(self) -> float:
        """AWS seconds of unused capacity the table bucket holds: burst only if provisioned."""
        return 1.0 if self.on_demand else BURST_SECONDS


@dataclass(slots=True)
class _Bucket:
    """A token bucket in AWS seconds; reads may drive it below zero (debt)."""

    rate: float
    size: float
    level: float
    at: float

    def refill(self, now: float) -> None:
        if now > self.at:
            self.level = min(self.size, self.level + (now - self.at) * self.rate)
            self.at = now

    def fits(self, units: float) -> bool:
        # A full bucket takes an item bigger than it holds (into debt), else it never could.
        return self.level + _EPSILON >= min(units, self.size)


@dataclass(frozen=True)
class WriteItem:
    """One write request as the model sees it: its table, partition-key value and units."""

    table: str
    key: str
    units: int


@dataclass(frozen=True)
class Throttle:
    """Why a request was throttled: the error code, AWS's ThrottlingReason, the table."""

    code: str
    reason: str
    table: str
    message: str


@dataclass(frozen=True)
class WriteOutcome:
    """Per item, in request order, whether it was accepted; the first rejection's cause."""

    accepted: tuple[bool, ...]
    units: dict[str, float]
    throttle: Throttle | None

    @property
    def failed(self) -> bool:
        """No item accepted: the whole call fails with `throttle.code`."""
        return bool(self.accepted) and not any(self.accepted)


@dataclass
class CapacityStats:
    """Counters since the last reset; times are on the injected (measured) clock."""

    k: float = 1.0
    write_calls: int = 0
    partial_calls: int = 0  # answered with UnprocessedItems
    failed_calls: int = 0  # failed whole with a throttling error
    items_accepted: int = 0
    items_rejected: int = 0
    units_accepted: float = 0.0
    units_rejected: float = 0.0
    key_units: dict[str, dict[str, float]] = field(default_factory=dict)
    read_calls: int = 0
    read_throttled_calls: int = 0
    read_units: float = 0.0
    first_write: float | None = None
    last_write: float | None = None

    @property
    def throttled_write_calls(self) -> int:
        """Write calls that had any item rejected, partly or whole."""
        return self.partial_calls + self.failed_calls

    @property
    def throttled_write_call_share(self) -> float:
        return self.throttled_write_calls / self.write_calls if self.write_calls else 0.0

    @property
    def write_seconds(self) -> float:
        """Measured seconds from the first to the last accepted write."""
        if self.first_write is None or self.last_write is None:
            return 0.0
        return self.last_write - self.first_write

    @property
    def aws_write_seconds(self) -> float:
        return self.write_seconds * self.k


class _Table:
    """The buckets of one table."""

    def __init__(
        self, name: str, cap: TableCapacity, now: float, burst: Burst, partitions: int = 1
    ) -> None:
        self.name, self.cap = name, cap
        # Partitions split for throughput and never merge (bp-partition-key-design.html).
        self.partitions = max(cap.partitions, partitions)
        start = 1.0 if burst == "full" or cap.on_demand else 0.0
        self.write = _Bucket(cap.wcu, cap.wcu * cap.window, cap.wcu * cap.window * start, now)
        self.read = _Bucket(cap.rcu, cap.rcu * cap.window, cap.rcu * cap.window * start, now)
        parts = range(self.partitions)
        self.part_write = [_Bucket(PARTITION_WCU, PARTITION_WCU, PARTITION_WCU, now) for _ in parts]
        self.part_read = [_Bucket(PARTITION_RCU, PARTITION_RCU, PARTITION_RCU, now) for _ in parts]
        self.keys: dict[str, _Bucket] = {}

    def partition(self, key: str) -> int:
        return partition_of(self.name, key, self.partitions)

    def set_burst(self, burst: Burst) -> None:
        for bucket in (self.write, self.read):
            bucket.level = bucket.size if burst == "full" else 0.0

    def throttle(self, op: Literal["Read", "Write"], limit: str) -> Throttle:
        code = ON_DEMAND_ERROR if self.cap.on_demand else PROVISIONED_ERROR
        # AWS reports hot partitions and keys as KeyRange; an on-demand table's new-table
        # ceiling is closest to AccountLimitExceeded.
        limit = {
            "partition": "KeyRangeThroughputExceeded",
            "table": "AccountLimitExceeded"
            if self.cap.on_demand
            else "ProvisionedThroughputExceeded",
        }[limit]
        reason = f"Table{op}{limit}"
        return Throttle(code, reason, self.name, f"Throughput exceeds the capacity ({reason}).")


class CapacityModel:
    """Thread-safe capacity model of several DynamoDB tables (see the module docstring)."""

    def __init__(
        self,
        *,
        k: float = 1.0,
        burst: Burst = "full",
        clock: Clock = time.monotonic,
        updating_seconds: float = 60.0,
    ) -> None:
        self.k, self.burst, self._clock = k, burst, clock
        self._lock = threading.Lock()
        self._tables: dict[str, _Table] = {}
        self._burst_overrides: dict[str, Burst] = {}
        self._stats = CapacityStats(k=k)
        # UTC of model time 0: AWS time runs k times faster from now on.
        self.updates = TableUpdates(updating_seconds, epoch=time.time() - self._now())

    def _now(self) -> float:
        return self._clock() * self.k

    def _state(self, table: str, now: float) -> _Table:
        """A table's state, with its pending UpdateTable applied once due (lock held)."""
        due = self.updates.due(table, now)
        if due is not None:
            self._configure(table, due, now)
        return self._tables[table]

    def _configure(self, table: str, cap: TableCapacity, now: float) -> None:
        old = self._tables.get(table)
        if old is not None and old.cap == cap:
            return
        burst = self._burst_overrides.pop(table, self.burst)
        new = _Table(table, cap, now, burst, old.partitions if old else 1)
        if old is not None:  # UpdateTable: burst credits survive, up to the new size
            old.write.refill(new.write.at)
            old.read.refill(new.read.at)
            new.write.level = min(new.write.size, old.write.level)
            new.read.level = min(new.read.size, old.read.level)
        self._tables[table] = new

    def configure(self, table: str, cap: TableCapacity) -> None:
        """(Re)configure a table; a capacity change keeps what the table buckets held.

        While an UpdateTable is pending the model's own state stands (moto already shows the
        new capacity; DynamoDB would not grant it yet).
        """
        with self._lock:
            now = self._now()
            if table in self._tables:
                self._state(table, now)
            if self.updates.shown(table) is None:
                self._configure(table, cap, now)

    def update(self, table: str, cap: TableCapacity) -> None:
        """An UpdateTable to `cap`: pending for `updating_seconds`, or UpdateRefused."""
        with self._lock:
            now = self._now()
            self.updates.request(table, now, self._state(table, now).cap, cap)

    def updating(self, table: str) -> TableCapacity | None:
        """The capacity an UPDATING table still has (None: ACTIVE)."""
        with self._lock:
            if table in self._tables:
                self._state(table, self._now())
            return self.updates.shown(table)

    def decreases_today(self, table: str) -> tuple[int, float | None]:
        """Decreases made in the table's current UTC day, and the last one's UTC epoch."""
        with self._lock:
            today = self.updates.decreases_today(table, self._now())
            return len(today), (self.updates.epoch + today[-1]) if today else None

    def partitions(self, table: str) -> int:
        with self._lock:
            return self._state(table, self._now()).partitions

    def forget(self, table: str) -> None:
        """Drop a table's state (deleted or recreated)."""
        with self._lock:
            self._tables.pop(table, None)
            self.updates.forget(table)

    def capacity(self, table: str) -> TableCapacity | None:
        with self._lock:
            if table not in self._tables:
                return None
            return self._state(table, self._now()).cap

    def set_burst(self, table: str, burst: Burst) -> None:
        """Fill or empty a table's burst buckets now, or when it is first configured."""
        with self._lock:
            state = self._tables.get(table)
            if state is None:
                self._burst_overrides[table] = burst
            else:
                state.write.refill(self._now())
                state.read.refill(self._now())
                state.set_burst(burst)

    def bucket(self, table: str, *, write: bool) -> float:
        """Units a table's write (or read) bucket holds now; reads may leave it in debt."""
        with self._lock:
            state = self._state(table, self._now())
            bucket = state.write if write else state.read
            bucket.refill(self._now())
            return bucket.level

    def write(self, items: Sequence[WriteItem]) -> WriteOutcome:
        """Decide one write call item by item, in order, debiting what is accepted."""
        accepted: list[bool] = []
        units: dict[str, float] = {}
        first: Throttle | None = None
        with self._lock:
            now, stats = self._now(), self._stats
            for item in items:
                state = self._state(item.table, now)
                key = state.keys.get(item.key)
                if key is None:
                    key = state.keys[item.key] = _Bucket(KEY_WCU, KEY_WCU, KEY_WCU, now)
                part = state.part_write[state.partition(item.key)]
                for bucket in (state.write, part, key):
                    bucket.refill(now)
                ok = state.write.fits(item.units) and part.fits(item.units)
                ok = ok and key.fits(item.units)
                accepted.append(ok)
                units.setdefault(item.table, 0.0)
                if not ok:
                    stats.items_rejected += 1
                    stats.units_rejected += item.units
                    limit = "partition" if state.write.fits(item.units) else "table"
                    first = first or state.throttle("Write", limit)
                    continue
                for bucket in (state.write, part, key):
                    bucket.level -= item.units
                units[item.table] += item.units
                stats.items_accepted += 1
                stats.units_accepted += item.units
                per_key = stats.key_units.setdefault(item.table, {})
                per_key[item.key] = per_key.get(item.key, 0.0) + item.units
            stats.write_calls += 1
            if not all(accepted):
                if any(accepted):
                    stats.partial_calls += 1
                else:
                    stats.failed_calls += 1
            if any(accepted):
                wall = self._clock()
                stats.first_write = wall if stats.first_write is None else stats.first_write
                stats.last_write = wall
        return WriteOutcome(tuple(accepted), units, first)

    def check_read(self, table: str, key: str | None = None) -> Throttle | None:
        """The throttle if the table's or the key's partition read bucket is in debt."""
        with self._lock:
            now = self._now()
            state = self._state(table, now)
            state.read.refill(now)
            if state.read.level < 0:
                return state.throttle("Read", "table")
            if key is not None:
                part = state.part_read[state.partition(key)]
                part.refill(now)
                if part.level < 0:
                    return state.throttle("Read", "partition")
            return None

    def record_read(
        self, throttled: bool, charges: Iterable[tuple[str, str | None, float]] = ()
    ) -> None:
        """Count one read call and debit (table, key or None, units) after the fact."""
        with self._lock:
            now = self._now()
            self._stats.read_calls += 1
            self._stats.read_throttled_calls += int(throttled)
            for table, key, units in charges:
                state = self._state(table, now)
                buckets = [state.read]
                if key is not None:
                    buckets.append(state.part_read[state.partition(key)])
                for bucket in buckets:
                    bucket.refill(now)
                    bucket.level -= units
                self._stats.read_units += units

    def stats(self) -> CapacityStats:
        """A snapshot of the counters."""
        with self._lock:
            s = self._stats
            keys = {table: dict(units) for table, units in s.key_units.items()}
            return CapacityStats(**{**s.__dict__, "key_units": keys})

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = CapacityStats(k=self.k)


def min_write_seconds(
    cap: TableCapacity,
    units_per_key: Mapping[str, float],
    *,
    table: str = "",
    k: float = 1.0,
    burst: Burst = "full",
    writer_rate: float | None = None,
) -> float:
    """Shortest measured time the modelled table allows for writing `units_per_key`.

    The largest of: the table's rate after its initial burst (provisioned) or its ceiling
    (on demand), each partition's and each key value's 1,000 WCU/s, all in AWS seconds / k;
    and `writer_rate` (the writer's own units per measured second on an unlimited table).
    `table` must be the table name the model hashes keys with. This is the sustained-rate
    bound: the 1 s partition and key buckets start full, so a measured first-to-last write
    time may come in up to 1 AWS second under it.
    """
    total = sum(units_per_key.values())
    initial = 0.0 if cap.on_demand or burst == "empty" else cap.wcu * BURST_SECONDS
    bounds = [max(0.0, total - initial) / cap.wcu]
    per_partition: dict[int, float] = {}
    for key, units in units_per_key.items():
        p = partition_of(table, key, cap.partitions)
        per_partition[p] = per_partition.get(p, 0.0) + units
    bounds.append(max(per_partition.values(), default=0.0) / PARTITION_WCU)
    bounds.append(max(units_per_key.values(), default=0.0) / KEY_WCU)
    seconds = max(bounds) / k
    if writer_rate:
        seconds = max(seconds, total / writer_rate)
    return seconds
