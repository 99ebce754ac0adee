"""What the loading stage reports: log lines, the month's figures and the loaders' detail.

A month's metadata holds the month's own figures, read from its items in the table
(`rules/month_figures.py`), which stay true when months run together: a few numbers, one chart
each in the UI's Plots tab. What this run's loaders did (in a backfill they also write other
months' records, and other runs' loaders write some of this month's) is one table, a row per
loader op.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from statement_pipeline.aws.capacity import Outcome
from statement_pipeline.aws.import_window import WindowReport
from statement_pipeline.aws.loading import LoadedMonth, LoaderResult, LoadPlan
from statement_pipeline.aws.month_reads import read_row

# At most this many numbers per materialization: `loading_metadata` gives at most 11 (the
# month's read units among them) and `capacity_metadata` one, the window's cost estimate.
MAX_NUMERIC_FIGURES = 12
RESERVED_FIGURES = 0


def _ending_rate(r: LoaderResult) -> str:
    b = r.budget
    if b.rate is None:
        return "unpaced"
    return f"{b.rate:,.0f} units/s" + (" (settled)" if b.settled else "")


def describe_plan(p: LoadPlan) -> str:
    """How the loaders are spread and paced, for the run's log."""
    spread = (
        f"{p.loaders} loaders in {p.loader_ops} op(s), {p.slots} writer slot(s) ({p.slots_source})"
    )
    table = (
        f"provisioned {p.write_capacity} WCU"
        if p.write_capacity is not None
        else f"on-demand ({p.billing_mode})"
    )
    pace = (
        f"capped at {p.cap:,.0f} units/s per op (target_utilisation)"
        if p.cap is not None
        else "unpaced while the table grants burst, settling at "
        f"{p.floor:,.0f} units/s per op when throttled"
    )
    return f"{spread}; {table}; {pace}"


def describe_result(index: int, r: LoaderResult) -> str:
    s = r.stats
    months = ", ".join(f"{p}: {n}" for p, n in sorted(s.items_by_month.items())) or "none"
    return (
        f"loader op {index} ({s.workers} workers): {s.items} items ({months}) from "
        f"{s.messages} messages in {r.seconds:.1f}s ({s.calls} BatchWriteItem calls, "
        f"{s.throttled_calls} throttled, {r.budget.cuts} rate cuts, ended {_ending_rate(r)}; "
        f"{s.superseded} superseded, {s.poison} poison, {s.paced_seconds:.1f}s paced)"
    )


def month_summary(m: LoadedMonth) -> str:
    """What the import did to the month, in one sentence (the materialization's summary)."""
    f = m.figures
    if m.expected == 0:
        rows = f"all {m.rows:,} rows rejected" if m.rows else "no data rows"
        return f"{m.period}: nothing to load, {rows}; no statement of the month in the table"
    parts = [f"{m.period}: {m.expected:,} statements in the table"]
    if f.written:
        parts.append(
            f"{f.written:,} written by this import in {f.write_seconds:.1f} s "
            f"({f.records_per_second:,.0f}/s), {f.throttled_writes:,} throttled attempts, "
            f"{f.write_units:,} write units"
        )
    else:
        parts.append("nothing written: the table already held every file as current")
    if m.stale_removed:
        parts.append(f"{m.stale_removed:,} statements no current file holds removed")
    if m.rejected:
        parts.append(f"{m.rejected:,} of {m.rows:,} rows rejected (see the rejects objects)")
    return "; ".join(parts)


def describe_loaded(m: LoadedMonth) -> str:
    """The month's summary, then what this run's loaders did (for the run's log)."""
    s = m.stats
    return (
        f"{month_summary(m)}. This run's {s.workers} loaders wrote {s.items} items "
        f"({s.items - s.items_by_month.get(m.period, 0)} of other months), moved {s.poison} "
        f"poison messages to the DLQ, skipped {s.superseded} superseded"
    )


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def loading_metadata(m: LoadedMonth) -> dict[str, Any]:
    """The month's own figures: numbers that apply to it (absent otherwise, never a 0 stand-in)."""
    f = m.figures
    figures: dict[str, Any] = {
        "summary": month_summary(m),
        "statements": m.expected,
        "rejected": m.rejected,
        "written_in_import": f.written,
        "stale_removed": m.stale_removed,
    }
    if f.written and f.first_write is not None and f.last_write is not None:
        # A write window, its rate and its costs exist only when this import wrote something.
        figures["write_seconds"] = f.write_seconds
        figures["records_per_second"] = f.records_per_second
        figures["throttled_writes"] = f.throttled_writes
        # One unit per started KB of each item written, by DynamoDB's sizing rules; moto fakes
        # ConsumedCapacity, so the service's own figure is only in the loaders' table.
        figures["consumed_wcu"] = f.write_units
        figures["first_write"] = _clock(f.first_write)
        figures["last_write"] = _clock(f.last_write)
    if m.write_capacity is not None:
        figures["provisioned_wcu"] = m.write_capacity
    figures["billing_mode"] = m.billing_mode
    figures["load_seconds"] = m.seconds
    # This step's own reads of the month (DynamoDB's ConsumedCapacity; 0 when the scheduling
    # read already proved it), and which read proves the month, which the count check reuses.
    figures["consumed_rcu"] = round(m.finish_read.read_units, 1) if m.finish_read else 0.0
    figures["month_read_by"] = m.month_read_by
    return figures


def capacity_metadata(
    window: WindowReport, closed_at: float, restored: Outcome | None
) -> dict[str, Any]:
    """The import window's capacity: policy, granted, ACTIVE wait and restore as text, and
    its cost estimate, the one number (USD)."""
    figures: dict[str, Any] = {
        "capacity_policy": window.policy,
        "capacity_window": window.text(closed_at),
        "capacity_active_wait": f"{window.waited:.1f} s",
        "capacity_cost_usd": round(window.cost(closed_at), 6),
    }
    if restored is not None:
        figures["capacity_restore"] = restored.message
    return figures


def read_rows(m: LoadedMonth) -> list[dict[str, Any]]:
    """The read that proves the month, as the rows of the `month_read` table."""
    return [read_row(m.month_read_by, m.month_read)] if m.month_read is not None else []


def loader_rows(
    results: Sequence[LoaderResult], ops: Sequence[int], period: str
) -> list[dict[str, Any]]:
    """One row per loader op of this run: where it ran and what it wrote, for which months."""
    rows = []
    for op, r in zip(ops, results, strict=True):
        s = r.stats
        own = s.items_by_month.get(period, 0)
        others = ", ".join(f"{p}: {n}" for p, n in sorted(s.items_by_month.items()) if p != period)
        rows.append(
            {
                "op": op,
                "host": r.host,
                "pid": r.pid,
                "workers": s.workers,
                "seconds": r.seconds,
                "items": s.items,
                "items_this_month": own,
                "items_other_months": s.items - own,
                "other_months": others,
                "messages": s.messages,
                "write_calls": s.calls,
                "throttled_calls": s.throttled_calls,
                "units_reported": s.units_reported,
                "rate_cuts": r.budget.cuts,
                "settled": r.budget.settled,
                "ending_rate": _ending_rate(r),
                "poison": s.poison,
                "superseded": s.superseded,
                "failed_messages": s.failed_messages,
                "api_calls": s.api_calls,
            }
        )
    return rows
