"""The capacity benchmark's cases, the table's limit for each, the planner's prediction, the rows.

Pure arithmetic over what a run measured (no AWS, no Dagster). Times are AWS seconds: the
capacity model runs `k` times faster than the wall clock, so a measured second is k AWS
seconds (see statement_harness/capacity_model.py, "Time compression").
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# The repository root: the harness (statement_harness/) is not installed with the product.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from statement_harness.capacity_model import (
    BURST_SECONDS,
    KEY_WCU,
    PARTITION_WCU,
    TableCapacity,
    min_write_seconds,
    partition_of,
)
from statement_pipeline.rules import capacity_plan

TABLE = "statements"  # the real table name: the model hashes keys to partitions with it
SEED_RECORDS = 23_300
BIG_RECORDS = 233_000
BurstName = Literal["idle", "spent"]
# The seed's published times on AWS (write phase of 23,300 statements, 4 files).
SEED_PUBLISHED = {(160, 1): "168", (160, 4): "44"}
SEED_TIMED_OUT_WCU = 20  # "timed out" (a Lambda's 900 s)
SEED_SCHEDULING = "153 s from 1 file, 39 s from 4"
# Targets.
MAX_RATIO = 1.25
MAX_THROTTLED_SHARE = 0.15
MAX_READ_THROTTLED_SHARE = 0.05
UNCOMPRESSED_TARGET_S = 44.0


@dataclass(frozen=True)
class Case:
    """One measured import: a table, its burst, the loaders, the time compression."""

    group: str  # grid, spent, ondemand, uncompressed, kgrid, repeat160, big20
    records: int
    wcu: int | None  # None: an on-demand table
    burst: BurstName
    loaders: int
    k: float

    @property
    def table_label(self) -> str:
        return "on demand" if self.wcu is None else f"{self.wcu} WCU"

    @property
    def burst_label(self) -> str:
        return "-" if self.wcu is None else self.burst

    @property
    def capacity(self) -> TableCapacity:
        if self.wcu is None:
            return TableCapacity.pay_per_request(hash_key="month_shard")
        return TableCapacity.provisioned(self.wcu, self.wcu, hash_key="month_shard")

    @property
    def seed_published(self) -> str:
        if self.records != SEED_RECORDS:
            return "-"
        if self.wcu == SEED_TIMED_OUT_WCU:
            return ">900 t/o"
        return SEED_PUBLISHED.get((self.wcu or 0, self.loaders), "-")


@dataclass(frozen=True)
class Limit:
    """The table's shortest write phase for the month's key units, and what sets it."""

    aws_seconds: float
    set_by: str
    table_aws_seconds: float  # without the loaders' own speed


def limit_of(case: Case, key_units: Mapping[str, float], writer_rate: float) -> Limit:
    """min_write_seconds for the month as written, in AWS seconds, and the binding bound.

    `writer_rate`: write units per measured second the same loaders reach on an unlimited
    table (measured once per loader count and month size).
    """
    cap, k = case.capacity, case.k
    burst = "full" if case.burst == "idle" else "empty"
    with_writers = min_write_seconds(
        cap, key_units, table=TABLE, k=k, burst=burst, writer_rate=writer_rate
    )
    table_only = min_write_seconds(cap, key_units, table=TABLE, k=k, burst=burst)
    total = sum(key_units.values())
    initial = 0.0 if cap.on_demand or burst == "empty" else cap.wcu * BURST_SECONDS
    parts: dict[int, float] = {}
    for key, units in key_units.items():
        p = partition_of(TABLE, key, cap.partitions)
        parts[p] = parts.get(p, 0.0) + units
    bounds = {
        "4,000/s ceiling" if cap.on_demand else "WCU after burst": max(0.0, total - initial)
        / cap.wcu,
        f"partition ({cap.partitions})": max(parts.values(), default=0.0) / PARTITION_WCU,
        "key value": max(key_units.values(), default=0.0) / KEY_WCU,
    }
    set_by = max(bounds, key=lambda name: bounds[name])
    if writer_rate and total / writer_rate > table_only:
        set_by = "LOADERS"
    return Limit(with_writers * k, set_by, table_only * k)


def planner_seconds(case: Case, writer_items_per_s: float) -> float:
    """capacity_plan's write phase (AWS s) with the loaders' measured speed, per loader.

    The model's world runs k times faster, so a loader writing R items per measured second
    writes R / k items per AWS second there.
    """
    table = capacity_plan.Table(case.wcu, case.wcu, case.burst)
    plan = capacity_plan.plan_import(
        case.records,
        table,
        loaders=case.loaders,
        loader_rate=writer_items_per_s / case.k / case.loaders,
    )
    return plan.write.seconds


@dataclass
class Result:
    """What one case measured, next to its limit and the planner's prediction."""

    case: Case
    write_aws_s: float
    limit: Limit
    throttled_share: float
    write_calls: int
    items_accepted: int
    exact: bool
    exact_note: str
    planner_s: float
    scheduling_s: float | None
    wall_s: float
    rate_cuts: int | None = None
    settled_ops: int | None = None
    failure: str = ""
    read_calls: int = 0
    read_throttled_calls: int = 0
    # Items all reads of the run read (the proxy's log), over the month's: 1.0 = read once.
    month_reads: float = 0.0
    # The finish step's read-back, AWS seconds (its `read_seconds` metadata x k).
    read_aws_s: float = 0.0

    @property
    def read_throttled_share(self) -> float:
        return self.read_throttled_calls / self.read_calls if self.read_calls else 0.0

    @property
    def ratio(self) -> float:
        return self.write_aws_s / self.limit.aws_seconds if self.limit.aws_seconds else 0.0

    def verdicts(self) -> list[tuple[str, bool]]:
        checks = [
            (f"write {self.ratio:.2f} x limit <= {MAX_RATIO}", self.ratio <= MAX_RATIO),
            (
                f"throttled {self.throttled_share:.1%} <= {MAX_THROTTLED_SHARE:.0%}",
                self.throttled_share <= MAX_THROTTLED_SHARE,
            ),
            ("month exact", self.exact),
            (
                f"reads throttled {self.read_throttled_share:.1%} <= "
                f"{MAX_READ_THROTTLED_SHARE:.0%}",
                self.read_throttled_share <= MAX_READ_THROTTLED_SHARE,
            ),
        ]
        if self.case.group == "uncompressed":
            checks.append(
                (
                    f"write {self.write_aws_s:.1f} s < {UNCOMPRESSED_TARGET_S:g} s",
                    self.write_aws_s < UNCOMPRESSED_TARGET_S,
                )
            )
        return checks


HEADER = (
    f"{'case':<12} {'table':>9} {'burst':>5} {'ldrs':>4} {'k':>4} {'write s':>8} "
    f"{'limit s':>8} {'set by':<16} {'ratio':>5} {'thrtl':>6} {'exact':>5} {'plan s':>7} "
    f"{'seed s':>8} {'sched s':>7} {'cuts':>4} {'settled':>7} {'reads':>6} {'rthrtl':>6} "
    f"{'x month':>7} {'read s':>7}"
)


def _int(value: int | None) -> str:
    return "-" if value is None else str(value)


def format_result(r: Result) -> str:
    c = r.case
    sched = "-" if r.scheduling_s is None else f"{r.scheduling_s:.1f}"
    line = (
        f"{c.group:<12} {c.table_label:>9} {c.burst_label:>5} {c.loaders:>4} {c.k:>4g} "
        f"{r.write_aws_s:>8.1f} {r.limit.aws_seconds:>8.1f} {r.limit.set_by:<16} "
        f"{r.ratio:>5.2f} {r.throttled_share:>6.1%} {'yes' if r.exact else 'NO':>5} "
        f"{r.planner_s:>7.1f} {c.seed_published:>8} {sched:>7} {_int(r.rate_cuts):>4} "
        f"{_int(r.settled_ops):>7} {r.read_calls:>6} {r.read_throttled_share:>6.1%} "
        f"{r.month_reads:>7.2f} {r.read_aws_s:>7.1f}"
    )
    return line + (f"  {r.failure}" if r.failure else "")


def format_verdicts(results: list[Result]) -> list[str]:
    lines = []
    for r in results:
        c = r.case
        name = f"{c.group} {c.table_label} {c.burst_label} {c.loaders} ldr k={c.k:g}"
        parts = [f"{text} {'PASS' if ok else 'MISS'}" for text, ok in r.verdicts()]
        lines.append(f"  {name:<34} " + "; ".join(parts))
    return lines


MARKDOWN_HEADER = (
    "| case | table | burst | loaders | k | write s | limit s | set by | ratio | thrtl | reads "
    "| read thrtl | month read x | read s | exact | cuts | settled |\n"
    "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: "
    "| ---: | --- | ---: | ---: |"
)


def format_markdown(r: Result) -> str:
    """One row of the docs' table (docs/benchmarks.md)."""
    c = r.case
    return (
        f"| {c.group} | {c.table_label} | {c.burst_label} | {c.loaders} | {c.k:g} | "
        f"{r.write_aws_s:.1f} | {r.limit.aws_seconds:.1f} | {r.limit.set_by} | "
        f"{r.ratio:.2f} | {r.throttled_share:.1%} | {r.read_calls} | "
        f"{r.read_throttled_share:.1%} | {r.month_reads:.2f} | {r.read_aws_s:.1f} | "
        f"{'yes' if r.exact else 'NO'} | "
        f"{_int(r.rate_cuts)} | {_int(r.settled_ops)} |"
    )


def report(
    results: list[Result],
    writers: Mapping[tuple[int, int], tuple[int, float, float]],
    seconds: float,
) -> None:
    """The loaders' own speeds ((loaders, records) -> items, write s, throttled share), the
    table of cases, the verdicts and the docs' Markdown table."""
    print()
    print("the loaders' own speed (unlimited table: 40,000 WCU at k=1,000), measured seconds:")
    for (loaders, records), (items, write_s, throttled) in sorted(writers.items()):
        rate = items / write_s if write_s else 0.0
        print(
            f"  {loaders} loader(s), {records:>7,} statements: write {write_s:6.1f} s, "
            f"{rate:>6,.0f} items/s, {throttled:.1%} of calls throttled"
        )
    print()
    print("write s, limit s, plan s and seed s are AWS seconds (measured x k); sched s is real")
    print(HEADER)
    for r in results:
        print(format_result(r))
    print(f"seed's published scheduling: {SEED_SCHEDULING}; 'set by LOADERS': the loaders'")
    print("own speed on an unlimited table, not the table, sets the limit")
    print()
    print(
        "verdicts (targets: write <= 1.25 x limit, <= 15% of write calls and <= 5% of read "
        "calls throttled, exact; uncompressed < 44 s):"
    )
    for line in format_verdicts(results):
        print(line)
    print()
    print(MARKDOWN_HEADER)
    for r in results:
        print(format_markdown(r))
    print(f"\ncapacity benchmark took {seconds / 60:.1f} min")
