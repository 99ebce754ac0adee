"""The import window's capacity: what a raise asks for, how long each policy takes, what it costs.

Pure arithmetic on DynamoDB's published rules (AWS DynamoDB developer guide), the same as
`capacity_plan.py` uses for the write and read phases:

- provisioned-capacity-mode.html / service quotas: an increase may be made at any time; the
  table is UPDATING until it applies, "which can take several minutes", and a large increase
  may split partitions;
- bp-partition-key-design.html: one partition serves at most 1,000 WCU/s and 3,000 RCU/s, and
  partitions never merge (bp-partition-key-data-upload.html advises loading more slowly rather
  than over-provisioning briefly), so a raise asks for no more than the month needs;
- burst-adaptive-capacity.html: the table keeps up to 300 s of unused capacity; what it saved
  at its old capacity is spent first;
- the on-demand switch lasts UPDATING too, and a new on-demand table sustains 4,000 writes/s;
- prices: `PRICES`, one table, with its region and the date of the list prices.

The contract's settings (CONTRACT.md section 4) are STATEMENT_CAPACITY_POLICY (keep, raise,
on_demand; default keep), STATEMENT_CAPACITY_TARGET_SECONDS (60) and STATEMENT_CAPACITY_MAX_WCU
(4,000).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from statement_pipeline.rules.capacity_plan import (
    BURST_SECONDS,
    PARTITION_RCU,
    PARTITION_WCU,
    Table,
    read_seconds,
    write_phase,
)
from statement_pipeline.rules.items import SHARDS
from statement_pipeline.rules.read_budget import DEFAULT_READ_SHARE

Policy = Literal["keep", "raise", "on_demand"]
POLICIES: tuple[Policy, ...] = ("keep", "raise", "on_demand")
DEFAULT_POLICY: Policy = "keep"
DEFAULT_TARGET_SECONDS = 60
DEFAULT_MAX_WCU = 4_000
HOURS_PER_MONTH = 720  # the month of the price examples in shared/dynamodb-capacity.md
# The planner's figure for one UpdateTable to apply ("several minutes" in the developer guide);
# the real wait is measured and reported by the run.
UPDATING_ESTIMATE_SECONDS = 180.0
# A new on-demand table's sustained writes (on-demand-capacity-mode.html).
ON_DEMAND_WCU = 4_000
ON_DEMAND_RCU = 12_000


@dataclass(frozen=True)
class PriceList:
    """DynamoDB Standard table class prices of one region, as listed on one date."""

    region: str
    listed: str
    wcu_hour: float
    rcu_hour: float
    write_request_million: float
    read_request_million: float


# aws.amazon.com/dynamodb/pricing (provisioned and on-demand), us-east-1, the 2026 list: the
# write prices are the ones shared/dynamodb-capacity.md quotes, the read prices the same page's.
PRICES = PriceList(
    region="us-east-1",
    listed="2026",
    wcu_hour=0.00065,
    rcu_hour=0.00013,
    write_request_million=0.625,
    read_request_million=0.125,
)


def parse_policy(text: str) -> Policy:
    """A policy name from the environment or the command line (case and spaces ignored)."""
    name = text.strip().lower()
    for policy in POLICIES:
        if name == policy:
            return policy
    raise ValueError(f"capacity policy must be one of {', '.join(POLICIES)}, got {text!r}")


def partitions(wcu: float, rcu: float) -> int:
    """Partitions a provisioned table needs for its throughput (bp-partition-key-design)."""
    return max(1, math.ceil(wcu / PARTITION_WCU), math.ceil(rcu / PARTITION_RCU))


def provisioned_cost(wcu: float, rcu: float, seconds: float, prices: PriceList = PRICES) -> float:
    """USD of `wcu` / `rcu` provisioned for `seconds` (prorated, as the price examples are)."""
    return (wcu * prices.wcu_hour + rcu * prices.rcu_hour) * seconds / 3600


def on_demand_cost(write_units: float, read_units: float, prices: PriceList = PRICES) -> float:
    """USD of the request units an on-demand table bills for writing and reading the month."""
    return (
        write_units * prices.write_request_million + read_units * prices.read_request_million
    ) / 1e6


@dataclass(frozen=True)
class MonthLoad:
    """What the import asks of the table: write units, read units of the read-back, the
    loaders' own speed in write units a second, and the partition-key values it writes to."""

    write_units: int
    read_units: float
    writer_rate: float
    keys: int = SHARDS


@dataclass(frozen=True)
class Current:
    """The provisioned table now, and the write and read burst it has saved (units)."""

    wcu: int
    rcu: int
    write_burst: float
    read_burst: float

    @classmethod
    def idle(cls, wcu: int, rcu: int) -> Current:
        """A table that wrote and read nothing for 300 s: its whole burst saved."""
        return cls(wcu, rcu, BURST_SECONDS * wcu, BURST_SECONDS * rcu)


@dataclass(frozen=True)
class RaisePlan:
    """The capacity a raise asks for and what it gives."""

    wcu: int
    rcu: int
    write_seconds: float
    read_seconds: float
    capped: bool
    partitions_before: int
    partitions_after: int
    notes: tuple[str, ...]

    def raises(self, current: Current) -> bool:
        return self.wcu > current.wcu or self.rcu > current.rcu


def _write_seconds(load: MonthLoad, wcu: int, rcu: int, burst: float) -> float:
    table = Table(wcu, rcu, keys_per_month=load.keys)
    return write_phase(load.write_units, table, load.writer_rate, burst_units=burst).seconds


def _read_seconds(load: MonthLoad, wcu: int, rcu: int, share: float) -> float:
    return read_seconds(load.read_units, Table(wcu, rcu, keys_per_month=load.keys), share)


def plan_raise(
    load: MonthLoad,
    current: Current,
    *,
    target_seconds: float,
    max_wcu: int,
    read_share: float = DEFAULT_READ_SHARE,
) -> RaisePlan:
    """The least WCU (and RCU) that write (and read back) the month within the target.

    The burst saved at the old capacity is spent first, then the raised rate carries the rest:
    (units - burst) / target. Never more than `max_wcu`, nor more than the month's key values
    can take (1,000 units/s each), never less than the table has.
    """
    if target_seconds <= 0:
        raise ValueError("the target must be positive")
    if max_wcu < 1:
        raise ValueError("the maximum WCU must be at least 1")
    notes: list[str] = []
    rest = max(0.0, load.write_units - current.write_burst)
    wanted = math.ceil(rest / target_seconds)
    key_limit = load.keys * int(PARTITION_WCU)
    if wanted > key_limit:
        notes.append(
            f"{load.keys} partition-key values take at most {key_limit:,} units/s: "
            f"asking for {key_limit:,}, not {wanted:,}"
        )
        wanted = key_limit
    capped = wanted > max_wcu
    if capped:
        notes.append(f"the target needs {wanted:,} WCU; STATEMENT_CAPACITY_MAX_WCU is {max_wcu:,}")
    wcu = max(current.wcu, min(wanted, max_wcu))
    rcu = current.rcu
    if _read_seconds(load, wcu, rcu, read_share) > target_seconds:
        # Paced at `read_share` of the RCU once the read burst is spent, which may be gone.
        rcu = max(rcu, math.ceil(load.read_units / (target_seconds * read_share)))
        notes.append(f"the read-back needs {rcu:,} RCU to stay within the target")
    before = partitions(current.wcu, current.rcu)
    after = max(before, partitions(wcu, rcu))
    if after > before:
        notes.append(
            f"crosses a partition boundary: {before} -> {after} partitions, which never merge; "
            f"after the restore each gets 1/{after} of the table's rate"
        )
    if wcu > load.writer_rate:
        notes.append(
            f"the loaders write about {load.writer_rate:,.0f} units/s: they, not the "
            "table, will set the time"
        )
    return RaisePlan(
        wcu=wcu,
        rcu=rcu,
        write_seconds=_write_seconds(load, wcu, rcu, current.write_burst),
        read_seconds=_read_seconds(load, wcu, rcu, read_share),
        capped=capped,
        partitions_before=before,
        partitions_after=after,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class PolicyWindow:
    """One policy's window: its UpdateTable waits, write and read time, and costs (USD)."""

    policy: Policy
    wcu: int | None  # None: on demand during the window
    rcu: int | None
    updating_seconds: float  # inside the window (waiting for ACTIVE before the load)
    write_seconds: float
    read_seconds: float
    window_cost: float  # the capacity billed while the table serves the import
    monthly_cost: float  # a month of this table, with one import under this policy
    notes: tuple[str, ...] = ()

    @property
    def window_seconds(self) -> float:
        return self.updating_seconds + self.write_seconds + self.read_seconds


@dataclass(frozen=True)
class Comparison:
    """Every policy's window, and the raised capacity kept provisioned all month instead."""

    windows: tuple[PolicyWindow, ...]
    raised_all_month: float
    keep_all_month: float


def compare_policies(
    load: MonthLoad,
    current: Current,
    *,
    target_seconds: float,
    max_wcu: int,
    updating_seconds: float = UPDATING_ESTIMATE_SECONDS,
    read_share: float = DEFAULT_READ_SHARE,
    prices: PriceList = PRICES,
) -> Comparison:
    """keep, raise and on_demand for one month's import, timed and priced.

    A raise holds its capacity from the first UpdateTable until the restore has applied: the
    UPDATING before the load, the load, and the UPDATING of the restore. An on-demand window
    bills request units instead of capacity while it lasts (both switches included).
    """
    month = HOURS_PER_MONTH * 3600.0
    base = provisioned_cost(current.wcu, current.rcu, month, prices)
    keep = PolicyWindow(
        "keep",
        current.wcu,
        current.rcu,
        0.0,
        _write_seconds(load, current.wcu, current.rcu, current.write_burst),
        _read_seconds(load, current.wcu, current.rcu, read_share),
        0.0,
        base,
    )
    keep = _priced(keep, current, prices, base)
    plan = plan_raise(
        load, current, target_seconds=target_seconds, max_wcu=max_wcu, read_share=read_share
    )
    waits = updating_seconds if plan.raises(current) else 0.0
    raised = PolicyWindow(
        "raise", plan.wcu, plan.rcu, waits, plan.write_seconds, plan.read_seconds, 0.0, 0.0
    )
    raised = _priced(raised, current, prices, base, restore_seconds=waits, notes=plan.notes)
    demand_table = Table(None, keys_per_month=load.keys)
    demand = PolicyWindow(
        "on_demand",
        None,
        None,
        updating_seconds,
        write_phase(load.write_units, demand_table, load.writer_rate).seconds,
        read_seconds(load.read_units, demand_table, read_share),
        0.0,
        0.0,
    )
    bill = on_demand_cost(load.write_units, load.read_units, prices)
    demand = _priced(demand, current, prices, base, restore_seconds=updating_seconds, bill=bill)
    return Comparison(
        (keep, raised, demand),
        raised_all_month=provisioned_cost(plan.wcu, plan.rcu, month, prices),
        keep_all_month=base,
    )


def _priced(
    w: PolicyWindow,
    current: Current,
    prices: PriceList,
    base: float,
    *,
    restore_seconds: float = 0.0,
    notes: tuple[str, ...] = (),
    bill: float | None = None,
) -> PolicyWindow:
    """`w` with its window's cost (`bill`, or its capacity for as long as it is held) and the
    month's: the month's capacity, less what the window replaced, plus the window's bill."""
    held = w.window_seconds + restore_seconds
    window = bill if bill is not None else provisioned_cost(w.wcu or 0, w.rcu or 0, held, prices)
    replaced = provisioned_cost(current.wcu, current.rcu, held, prices)
    return PolicyWindow(
        w.policy,
        w.wcu,
        w.rcu,
        w.updating_seconds,
        w.write_seconds,
        w.read_seconds,
        window,
        base - replaced + window,
        notes,
    )


def explain_policies(c: Comparison, target_seconds: float) -> list[str]:
    """The policies side by side, for `statement-pipeline plan`."""
    lines = [
        "",
        f"capacity policies, target {target_seconds:g} s (prices: {PRICES.region}, "
        f"{PRICES.listed} list; {HOURS_PER_MONTH} h month)",
        f"{'policy':<10} {'capacity':>14} {'writes':>10} {'window':>10} {'window $':>10} "
        f"{'month $':>10}",
    ]
    for w in c.windows:
        shown = "on demand" if w.wcu is None else f"{w.wcu:,}/{w.rcu:,}"
        lines.append(
            f"{w.policy:<10} {shown:>14} {w.write_seconds:>9,.1f}s {w.window_seconds:>9,.1f}s "
            f"{w.window_cost:>10.4f} {w.monthly_cost:>10.2f}"
        )
    lines.append(
        f"the raised capacity provisioned all month instead: ${c.raised_all_month:,.2f} "
        f"(keep: ${c.keep_all_month:,.2f})"
    )
    lines.extend(f"note: {note}" for w in c.windows for note in w.notes)
    return lines
