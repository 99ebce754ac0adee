"""Capacity planning for a month's load: how long, how many loaders, does burst cover it.

Pure arithmetic on DynamoDB's published rules, so it answers before anything runs:

- a write costs one write unit per started KB of item size;
- a provisioned table accepts its write capacity (WCU) per second, and saves up to 300
  seconds of unused capacity as burst, which writes above the provisioned rate spend first;
- the loaders pace themselves to `target_utilisation` x WCU (80% by default) and leave the
  burst alone; a loader without pacing (the seed's design) writes as fast as its calls
  return, spends the burst, then is throttled down to the provisioned rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from statement_pipeline.core.items import item_size, to_item
from statement_pipeline.core.ratelimit import write_units
from statement_pipeline.core.sample import generate_rows

BURST_SECONDS = 300
BATCH_ITEMS = 25
# One partition key value (the table's key is the month) takes at most this many write units
# a second on DynamoDB, however much capacity the table has.
PARTITION_KEY_WCU = 1000
DEFAULT_TARGET_UTILISATION = 0.8
# A BatchWriteItem of 25 small items takes about this long on DynamoDB within a region; the
# estimate of a loader's speed (25 items per call, one call at a time) rests on it.
DEFAULT_CALL_MS = 25.0
# The seed's per-record loaders (ReceiveMessage of one, PutItem, DeleteMessage per record):
# its own published run, 23,300 records in 168 s with one loader on 160 WCU (never throttled).
SEED_LOADER_RATE = 23_300 / 168
SAMPLE_PERIOD = "2026-10"


def sample_item_bytes(period: str = SAMPLE_PERIOD) -> int:
    """Size of a typical item, built the way the loader builds it (values and bookkeeping)."""
    values = next(generate_rows(period, 1, seed=0, start=1234))
    item = to_item(
        values,
        source_key=f"statements/{period}/part-1.csv",
        source_etag='"' + "0" * 32 + '"',
        line=1234,
        loaded_at=f"{period}-05T06:00:00+00:00",
    )
    return item_size(item)


@dataclass(frozen=True)
class Unpaced:
    """Writing as fast as the loaders go, spending the burst (how the seed loaded)."""

    demand: float
    burst_seconds: float
    burst_units: float
    throttled_units: float
    seconds: float

    @property
    def covered_by_burst(self) -> bool:
        return self.throttled_units <= 0


@dataclass(frozen=True)
class CapacityPlan:
    """Every number the planner derives, so the command can show the arithmetic."""

    records: int
    wcu: int
    item_bytes: int
    units_per_item: int
    units: int
    target_utilisation: float
    budget: float
    loaders: int
    loader_rate: float
    paced_rate: float
    paced_seconds: float
    loaders_needed: int
    burst_capacity: int
    burst_covers: bool
    unpaced: Unpaced
    seed: Unpaced
    over_partition_limit: bool


def unpaced_load(units: float, wcu: int, demand: float) -> Unpaced:
    """Duration of a load that writes at `demand` units/s against `wcu` with a full burst.

    Above the provisioned rate the burst drains at (demand - wcu) per second; once it is
    empty the table accepts only `wcu` per second and throttles the rest.
    """
    burst = BURST_SECONDS * wcu
    if demand <= wcu:
        return Unpaced(demand, math.inf, 0.0, 0.0, units / demand)
    lasts = burst / (demand - wcu)
    in_burst = min(units, demand * lasts)
    rest = units - in_burst
    return Unpaced(demand, lasts, in_burst, rest, in_burst / demand + rest / wcu)


def plan_load(
    records: int,
    wcu: int,
    *,
    item_bytes: int | None = None,
    target_utilisation: float = DEFAULT_TARGET_UTILISATION,
    loaders: int = 4,
    loader_rate: float | None = None,
) -> CapacityPlan:
    """Plan a month of `records` statements into a table of `wcu` provisioned write units.

    `loader_rate` is the items per second one loader writes when nothing holds it back
    (default: 25 items per BatchWriteItem at DEFAULT_CALL_MS a call).
    """
    if records < 1:
        raise ValueError("records must be at least 1")
    if wcu < 1:
        raise ValueError("wcu must be at least 1")
    if not 0 < target_utilisation <= 1:
        raise ValueError("target utilisation must be in (0, 1]")
    if loaders < 1:
        raise ValueError("loaders must be at least 1")
    size = item_bytes if item_bytes is not None else sample_item_bytes()
    if size < 1:
        raise ValueError("item bytes must be at least 1")
    rate = loader_rate if loader_rate is not None else BATCH_ITEMS * 1000 / DEFAULT_CALL_MS
    if rate <= 0:
        raise ValueError("loader rate must be positive")
    per_item = write_units(size)
    units = records * per_item
    budget = wcu * target_utilisation
    loader_units = rate * per_item
    paced_rate = min(budget, loaders * loader_units)
    return CapacityPlan(
        records=records,
        wcu=wcu,
        item_bytes=size,
        units_per_item=per_item,
        units=units,
        target_utilisation=target_utilisation,
        budget=budget,
        loaders=loaders,
        loader_rate=rate,
        paced_rate=paced_rate,
        paced_seconds=units / paced_rate,
        loaders_needed=math.ceil(budget / loader_units),
        burst_capacity=BURST_SECONDS * wcu,
        burst_covers=units <= BURST_SECONDS * wcu,
        unpaced=unpaced_load(units, wcu, loaders * loader_units),
        seed=unpaced_load(units, wcu, loaders * SEED_LOADER_RATE * per_item),
        over_partition_limit=paced_rate > PARTITION_KEY_WCU,
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.1f} s"
    return f"{seconds:,.0f} s ({seconds / 60:,.1f} min)"


def _unpaced_line(label: str, p: CapacityPlan, u: Unpaced, rate: float) -> str:
    demand = f"{p.loaders} loaders x {rate * p.units_per_item:,.0f} = {u.demand:,.0f} units/s"
    if u.demand <= p.wcu:
        return (
            f"{label} {demand} <= {p.wcu:,} WCU, never throttled: "
            f"{p.units:,} / {u.demand:,.0f} = {_duration(u.seconds)}"
        )
    burst = (
        f"the burst lasts {p.burst_capacity:,} / ({u.demand:,.0f} - {p.wcu:,}) = "
        f"{_duration(u.burst_seconds)}"
    )
    if u.covered_by_burst:
        return (
            f"{label} {demand} > {p.wcu:,} WCU; {burst}, long enough: "
            f"{p.units:,} / {u.demand:,.0f} = {_duration(u.seconds)}"
        )
    return (
        f"{label} {demand} > {p.wcu:,} WCU; {burst} and writes {u.burst_units:,.0f} units, "
        f"the other {u.throttled_units:,.0f} are throttled to {p.wcu:,}/s: "
        f"{u.burst_units:,.0f} / {u.demand:,.0f} + {u.throttled_units:,.0f} / {p.wcu:,} = "
        f"{_duration(u.seconds)}"
    )


def explain(p: CapacityPlan, *, item_bytes_measured: bool) -> list[str]:
    """The plan as lines of text, each with its arithmetic."""
    source = "a sample item built like the loader's" if item_bytes_measured else "given"
    lines = [
        f"capacity plan: {p.records:,} statements into a table of {p.wcu:,} provisioned WCU",
        "",
        f"item size       {p.item_bytes:,} bytes ({source}); 1 write unit per started KB "
        f"-> {p.units_per_item} unit(s) per item",
        f"write units     {p.records:,} items x {p.units_per_item} = {p.units:,} units",
        f"write budget    {p.wcu:,} WCU x {p.target_utilisation:.0%} target utilisation "
        f"= {p.budget:,.1f} units/s",
        f"one loader      {p.loader_rate:,.0f} items/s = {p.loader_rate * p.units_per_item:,.0f} "
        f"units/s ({BATCH_ITEMS} items per BatchWriteItem, one call at a time)",
        f"loaders needed  {p.budget:,.1f} / {p.loader_rate * p.units_per_item:,.0f} -> "
        f"{p.loaders_needed} loader(s) use the whole budget; more only wait for the pacer",
        f"paced load      {p.units:,} units / min({p.budget:,.1f} budget, {p.loaders} loaders x "
        f"{p.loader_rate * p.units_per_item:,.0f}) = {p.units:,} / {p.paced_rate:,.1f} "
        f"= {_duration(p.paced_seconds)}",
        f"burst           up to {BURST_SECONDS} s x {p.wcu:,} WCU = {p.burst_capacity:,} units "
        f"saved while the table is idle; {p.units:,} units "
        + ("fit in it" if p.burst_covers else "do not fit in it"),
    ]
    lines.append(_unpaced_line("without pacing ", p, p.unpaced, p.loader_rate))
    lines.append(_unpaced_line("seed's design  ", p, p.seed, SEED_LOADER_RATE))
    if p.over_partition_limit:
        lines.append(
            f"warning         {p.paced_rate:,.0f} units/s exceeds the {PARTITION_KEY_WCU:,} "
            "units/s one partition key value (the month) takes: expect throttling"
        )
    return lines
