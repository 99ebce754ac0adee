"""What the loading stage reports: log lines and materialization metadata.

A month's metadata leads with the month's own figures, read from its items in the table
(`rules/month_figures.py`), which stay true when months run together. What this run's loaders
did is reported apart, under `loaders_`: in a backfill they also write other months' records,
and other runs' loaders write some of this month's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from statement_pipeline.aws.loading import LoadedMonth, LoaderResult
from statement_pipeline.aws.month_reads import read_metadata
from statement_pipeline.rules import tally


def describe_result(index: int, r: LoaderResult) -> str:
    s, b = r.stats, r.budget
    rate = (
        "unpaced"
        if b.rate is None
        else f"{b.rate:,.0f} units/s" + (" (settled)" if b.settled else "")
    )
    months = ", ".join(f"{p}: {n}" for p, n in sorted(s.items_by_month.items())) or "none"
    return (
        f"loader op {index} ({s.workers} workers): {s.items} items ({months}) from "
        f"{s.messages} messages in {r.seconds:.1f}s ({s.calls} BatchWriteItem calls, "
        f"{s.throttled_calls} throttled, {b.cuts} rate cuts, ended {rate}; {s.superseded} "
        f"superseded, {s.poison} poison, {s.paced_seconds:.1f}s paced)"
    )


def describe_loaded(m: LoadedMonth) -> str:
    f, s = m.figures, m.stats
    return (
        f"{m.period}: {f.written} of its statements written in this import "
        f"({f.write_seconds:.1f}s from first to last write, {f.records_per_second:,.0f}/s, "
        f"{f.throttled_writes} throttled attempts, {f.write_units} write units), "
        f"{m.stale_removed} stale items removed; this run's {s.workers} loaders wrote "
        f"{s.items} items ({s.items - s.items_by_month.get(m.period, 0)} of other months), "
        f"{s.poison} poison messages moved to the DLQ, {s.superseded} superseded skipped"
    )


def _clock(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def loaders_by_month_markdown(m: LoadedMonth) -> str:
    """Which months this run's loaders wrote items of (the queue is shared by every month)."""
    lines = ["| month | items written by this run's loaders |", "| --- | ---: |"]
    for period, items in sorted(m.stats.items_by_month.items()):
        lines.append(f"| {period}{' (this month)' if period == m.period else ''} | {items} |")
    return "\n".join(lines)


def loading_metadata(m: LoadedMonth) -> dict[str, Any]:
    """The month's own figures first (plottable across months), then this run's loaders."""
    f, s = m.figures, m.stats
    own = s.items_by_month.get(m.period, 0)
    month = {
        "written_in_import": f.written,
        "write_seconds": f.write_seconds,
        "records_per_second": f.records_per_second,
        "throttled_writes": f.throttled_writes,
        # One unit per started KB of each item written, by DynamoDB's sizing rules; moto fakes
        # ConsumedCapacity, so the service's own figure is shown only for this run's loaders.
        "consumed_wcu": f.write_units,
        "provisioned_wcu": m.write_capacity if m.write_capacity is not None else 0,
        "first_write": _clock(f.first_write),
        "last_write": _clock(f.last_write),
        "expected": m.expected,
        "stale_removed": m.stale_removed,
        "seconds": m.seconds,
        "billing_mode": m.billing_mode,
    }
    loaders = {
        **{f"loaders_{name}": value for name, value in tally.as_metadata(s).items()},
        "loaders_items_this_month": own,
        "loaders_items_other_months": s.items - own,
        "loaders_api_calls": s.api_calls,
        "loaders_throttled_call_share": round(s.throttled_calls / s.calls, 4) if s.calls else 0.0,
        "loaders_rate_cuts": m.rate_cuts,
        "loaders_settled_ops": m.settled_ops,
    }
    if m.in_table is not None:
        month["in_table"] = m.in_table
    # This step's own read of the month (DynamoDB's ConsumedCapacity; none when the scheduling
    # read already proved it), and which read the count check may reuse.
    reads = {
        **read_metadata(m.finish_read),
        "provisioned_rcu": m.read_capacity if m.read_capacity is not None else 0,
        "month_read_by": m.month_read_by,
    }
    return {**month, **reads, **loaders}
