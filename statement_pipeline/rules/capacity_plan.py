"""Capacity planning for a month's import: how long the writes and the read-backs take.

Pure arithmetic on DynamoDB's published rules (AWS DynamoDB developer guide):

- a write costs one write unit per started KB of item size (developer guide: read/write
  capacity mode); a strongly consistent read one read unit per started 4 KB, half that
  eventually consistent, charged on the size of the items read even for `Select=COUNT`;
- a provisioned table grants its WCU per second and saves up to 300 s of unused capacity
  (burst), which writes may spend faster than the provisioned rate (burst-adaptive-capacity);
- one partition serves at most 1,000 write and 3,000 read units a second, and one partition
  key value lives in one partition (bp-partition-key-design); a provisioned table has
  max(1, WCU/1000, RCU/3000) partitions, a new on-demand table sustains 4,000 writes a second;
- the loaders write as fast as their calls return while the table grants it and follow the
  table's limit when throttled (rules/write_budget.py); following a limit by multiplicative
  decrease and climbing back by time averages about ADAPTIVE_EFFICIENCY of it;
- the month is read back once, strongly consistent, by the read budget (rules/read_budget.py):
  its read burst at the table's read ceiling, then `read_share` of its read rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from statement_pipeline.rules.items import SHARDS, item_size, to_item
from statement_pipeline.rules.read_budget import DEFAULT_READ_SHARE
from statement_pipeline.rules.write_budget import write_units

BURST_SECONDS = 300
BATCH_ITEMS = 25
PARTITION_WCU = 1_000
PARTITION_RCU = 3_000
ON_DEMAND_NEW_TABLE_WCU = 4_000
ON_DEMAND_NEW_TABLE_RCU = 12_000
READ_UNIT_BYTES = 4 * 1024
# A BatchWriteItem of 25 small items takes about this long on DynamoDB within a region; the
# estimate of a loader's own speed (25 items per call, one call at a time) rests on it.
DEFAULT_CALL_MS = 25.0
# Average share of a limit that a writer following it by AIMD (cut to 0.8, then grow) gets.
ADAPTIVE_EFFICIENCY = 0.9
# The seed's per-record loaders (ReceiveMessage of one, PutItem, DeleteMessage per record):
# its own published run, 23,300 records in 168 s with one loader on 160 WCU (never throttled).
SEED_LOADER_RATE = 23_300 / 168
SAMPLE_PERIOD = "2026-10"

Burst = Literal["idle", "spent"]


def sample_item_bytes(period: str = SAMPLE_PERIOD) -> int:
    """Size of a typical item, built the way the loader builds it (values and bookkeeping)."""
    values = (
        "STM-2026-10-0001234",
        "ACC-00012345",
        period,
        f"{period}-05",
        "EUR",
        "1520.35",
        "2310.00",
        "1984.12",
        "1846.23",
        "27",
    )
    item = to_item(
        values,
        source_key=f"statements/{period}/part-1.csv",
        source_etag='"' + "0" * 32 + '"',
        line=1234,
        loaded_at=f"{period}-05T06:00:00+00:00",
    )
    return item_size(item)


@dataclass(frozen=True)
class Table:
    """The table as the planner sees it: provisioned (wcu, rcu) or on demand (wcu None)."""

    wcu: int | None
    rcu: int | None = None
    burst: Burst = "idle"
    keys_per_month: int = SHARDS

    @property
    def on_demand(self) -> bool:
        return self.wcu is None

    @property
    def sustained_rcu(self) -> int:
        """The provisioned read rate: DynamoDB's minimum of 1 when none is given."""
        return max(1, self.rcu or 0)

    @property
    def partitions(self) -> int:
        if self.wcu is None:
            return ON_DEMAND_NEW_TABLE_WCU // PARTITION_WCU
        # At least one: the read side counts DynamoDB's minimum of 1 RCU.
        reads = math.ceil(self.sustained_rcu / PARTITION_RCU)
        return max(math.ceil(self.wcu / PARTITION_WCU), reads)

    @property
    def write_ceiling(self) -> float:
        """The most the table grants a month's writes per second, burst or not."""
        spread = PARTITION_WCU * min(self.partitions, self.keys_per_month)
        if self.on_demand:
            return min(float(ON_DEMAND_NEW_TABLE_WCU), spread)
        return float(spread)

    @property
    def read_ceiling(self) -> float:
        spread = PARTITION_RCU * min(self.partitions, self.keys_per_month)
        return min(float(ON_DEMAND_NEW_TABLE_RCU), spread) if self.on_demand else float(spread)


@dataclass(frozen=True)
class Phase:
    """Writing `units` at `rate`, with the burst lasting `burst_seconds` of it."""

    rate: float
    seconds: float
    burst_seconds: float
    throttled_units: float
    limited_by: str


def write_phase(
    units: float, table: Table, writer_rate: float, *, burst_units: float | None = None
) -> Phase:
    """Seconds to write `units` for a writer that goes `writer_rate` units/s when unlimited.

    `burst_units`: the write burst saved up, when it is not the table's own 300 s (a raised
    table keeps what it saved at its old capacity); None: 300 s of WCU if idle, 0 if spent.
    """
    ceiling = table.write_ceiling
    if writer_rate <= ceiling:
        rate, limit = writer_rate, "the loaders' own speed"
    else:
        rate = ceiling * ADAPTIVE_EFFICIENCY
        limit = (
            "the on-demand table's 4,000 units/s"
            if table.on_demand and ceiling >= ON_DEMAND_NEW_TABLE_WCU
            else f"{min(table.partitions, table.keys_per_month)} partition(s) x 1,000 units/s"
        )
    if table.on_demand or table.wcu is None or rate <= table.wcu:
        return Phase(rate, units / rate, 0.0, 0.0, limit)
    wcu = float(table.wcu)
    if burst_units is None:
        burst_units = BURST_SECONDS * wcu if table.burst == "idle" else 0.0
    lasts = burst_units / (rate - wcu)
    in_burst = min(units, rate * lasts)
    rest = units - in_burst
    if rest <= 0:
        return Phase(rate, units / rate, units / rate, 0.0, limit)
    # Burst spent: the provisioned rate, followed as closely as the adaptive budget allows
    # once it has settled (a settled budget paces at the rate without probing above it).
    return Phase(rate, lasts + rest / wcu, lasts, rest, f"{table.wcu:,} provisioned WCU")


@dataclass(frozen=True)
class ImportPlan:
    """Every number the planner derives, so the command can show the arithmetic."""

    records: int
    table: Table
    item_bytes: int
    units_per_item: int
    units: int
    loaders: int
    loader_rate: float
    write: Phase
    read_units: float
    read_seconds: float
    read_share: float
    seed: Phase

    @property
    def seconds(self) -> float:
        return self.write.seconds + self.read_seconds


# Whole reads of the month an import makes: one, strongly consistent. A new month's scheduling
# read finds nothing and the finish step reads every item (the count check reuses that read);
# an unchanged month's re-run writes nothing and its scheduling read is the one read.
READ_BACKS = 1


def read_seconds(read_units: float, table: Table, share: float = DEFAULT_READ_SHARE) -> float:
    """Seconds of reading `read_units` the way the read budget does (per-shard queries in
    parallel): the read burst at the table's read ceiling, then `share` of its read rate."""
    if table.on_demand:
        return read_units / table.read_ceiling
    rcu = float(table.sustained_rcu)
    # Reads are idle during the load, so their own burst is saved up unless it was spent.
    burst = BURST_SECONDS * rcu if table.burst == "idle" else 0.0
    fast, paced = table.read_ceiling, share * rcu
    if fast <= paced or read_units * (1 - rcu / fast) <= burst:
        return read_units / max(fast, 1e-9)
    in_burst = burst / (fast - rcu) * fast
    return in_burst / fast + (read_units - in_burst) / paced


def plan_import(
    records: int,
    table: Table,
    *,
    item_bytes: int | None = None,
    loaders: int = 4,
    loader_rate: float | None = None,
    read_share: float = DEFAULT_READ_SHARE,
) -> ImportPlan:
    """Plan a month of `records` statements into `table`.

    `loader_rate` is the items per second one loader writes when nothing holds it back
    (default: 25 items per BatchWriteItem at DEFAULT_CALL_MS a call).
    """
    if records < 1:
        raise ValueError("records must be at least 1")
    if table.wcu is not None and table.wcu < 1:
        raise ValueError("wcu must be at least 1")
    if loaders < 1:
        raise ValueError("loaders must be at least 1")
    size = item_bytes if item_bytes is not None else sample_item_bytes()
    if size < 1:
        raise ValueError("item bytes must be at least 1")
    rate = loader_rate if loader_rate is not None else BATCH_ITEMS * 1000 / DEFAULT_CALL_MS
    if rate <= 0:
        raise ValueError("loader rate must be positive")
    if not 0 < read_share <= 1:
        raise ValueError("read share must be in (0, 1]")
    per_item = write_units(size)
    units = records * per_item
    # Every item is read back once, strongly consistent (one unit per 4 KB read).
    reads = READ_BACKS * records * size / READ_UNIT_BYTES
    one_key = Table(table.wcu, table.rcu, table.burst, keys_per_month=1)
    return ImportPlan(
        records=records,
        table=table,
        item_bytes=size,
        units_per_item=per_item,
        units=units,
        loaders=loaders,
        loader_rate=rate,
        write=write_phase(units, table, loaders * rate * per_item),
        read_units=reads,
        read_seconds=read_seconds(reads, table, read_share),
        read_share=read_share,
        seed=write_phase(units, one_key, loaders * SEED_LOADER_RATE * per_item),
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.1f} s"
    return f"{seconds:,.0f} s ({seconds / 60:,.1f} min)"


def explain(p: ImportPlan, *, item_bytes_measured: bool) -> list[str]:
    """The plan as lines of text, each with its arithmetic."""
    t = p.table
    source = "a sample item built like the loader's" if item_bytes_measured else "given"
    kind = "on demand (a new table)" if t.on_demand else f"{t.wcu:,} WCU / {t.sustained_rcu:,} RCU"
    burst = "" if t.on_demand else f", burst {t.burst}"
    lines = [
        f"capacity plan: {p.records:,} statements into a table of {kind}{burst}",
        "",
        f"item size       {p.item_bytes:,} bytes ({source}); 1 write unit per started KB "
        f"-> {p.units_per_item} unit(s) per item; {p.units:,} write units",
        f"key spread      {t.keys_per_month} partition-key values per month over "
        f"{t.partitions} partition(s): at most {t.write_ceiling:,.0f} write units/s",
        f"loaders         {p.loaders} x {p.loader_rate:,.0f} items/s = "
        f"{p.loaders * p.loader_rate * p.units_per_item:,.0f} units/s when nothing holds them",
    ]
    w = p.write
    if w.throttled_units > 0:
        lines.append(
            f"writes          {w.rate:,.0f} units/s while the burst lasts "
            f"({_duration(w.burst_seconds)}), then {w.throttled_units:,.0f} units at the "
            f"{t.wcu:,} provisioned units/s: {_duration(w.seconds)}"
        )
    else:
        lines.append(
            f"writes          {p.units:,} units at {w.rate:,.0f} units/s (set by "
            f"{w.limited_by}) = {_duration(w.seconds)}"
        )
    pace = (
        "at the table's read ceiling"
        if t.on_demand
        else f"the read burst ({t.burst}), then {p.read_share:.0%} of {t.sustained_rcu:,} RCU = "
        f"{p.read_share * t.sustained_rcu:,.0f} units/s"
    )
    lines.append(
        f"read-back       {READ_BACKS} x {p.records:,} x {p.item_bytes} bytes / 4 KB = "
        f"{p.read_units:,.0f} read units, strongly consistent (the finish step; the count check "
        f"reuses it), {pace}: {_duration(p.read_seconds)}"
    )
    lines.append(f"import          {_duration(p.seconds)} of table time")
    lines.append(
        f"re-run          of an unchanged month: nothing written, the same read once, before "
        f"writing: "
        f"{_duration(p.read_seconds)}"
    )
    lines.append(
        f"seed's design   {p.loaders} per-record loaders under one key per month: "
        f"{_duration(p.seed.seconds)}"
    )
    return lines
