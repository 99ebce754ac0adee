"""What the scheduling stage reports: log lines, the month's figures and the per-file detail.

Counts, file names, line numbers and reasons only, never a row's values.
"""

from __future__ import annotations

from typing import Any

from statement_pipeline.aws.month_reads import read_row
from statement_pipeline.aws.scheduling import ScheduledMonth
from statement_pipeline.rules.month_plan import MonthPlan
from statement_pipeline.rules.s3_links import s3_url


def describe_plan(plan: MonthPlan) -> list[str]:
    """Log lines about a plan: counts, file names and line numbers only, never row values."""
    lines = [
        f"{plan.period}: {plan.rows} rows, {plan.expected} statements to load, "
        f"{plan.rejected} rejected, {len(plan.duplicates)} identical duplicates loaded once, "
        f"{len(plan.conflict_digests)} statement ids with conflicting rows"
    ]
    for key, rejects in plan.rejects.items():
        shown = ", ".join(f"line {r.line}: {r.reason}" for r in rejects[:20])
        more = f" (+{len(rejects) - 20} more)" if len(rejects) > 20 else ""
        lines.append(f"{key}: {len(rejects)} rejected: {shown}{more}")
    for dup in plan.duplicates[:20]:
        lines.append(
            f"{dup.key} line {dup.line}: identical to {dup.first_key} line {dup.first_line}"
            " (loaded once)"
        )
    for key, extra in plan.extra_columns.items():
        lines.append(f"{key}: ignored unknown columns {', '.join(extra)}")
    return lines


def scheduling_metadata(s: ScheduledMonth) -> dict[str, int | float]:
    """The month's own scheduling figures: at most 12 numbers (the rest is per file)."""
    figures: dict[str, int | float] = {
        "files": s.files,
        "rows": s.rows,
        "valid": s.expected,
        "rejected": s.rejected,
        "duplicates": s.duplicates,
        "conflicting_ids": len(s.conflict_digests),
        "records_enqueued": s.queued,
        "records_skipped_current": sum(d.rows for d in s.decisions if not d.write),
        "messages": s.messages,
        "send_calls": s.send_calls,
        "seconds": s.seconds,
    }
    if s.seconds > 0:
        figures["records_per_second"] = round(s.expected / s.seconds, 1)
    return figures


def read_rows(s: ScheduledMonth) -> list[dict[str, Any]]:
    """The read of what the table held before writing, as the rows of a `month_read` table."""
    return [read_row("before writing", s.month_read)] if s.month_read is not None else []


def file_rows(s: ScheduledMonth, bucket: str) -> list[dict[str, Any]]:
    """One row per file: its rows, what became of them, whether it was written and why."""
    decisions = {d.key: d for d in s.decisions}
    rows = []
    for f in s.file_figures:
        decision = decisions.get(f.key)
        rows.append(
            {
                "file": f.key,
                "rows": f.rows,
                "loaded": f.loaded,
                "rejected": f.rejected,
                "duplicates": f.duplicates,
                "enqueued": s.enqueued.get(f.key, 0),
                "written": bool(decision and decision.write),
                "why": decision.reason if decision else "",
                "bytes": f.bytes,
                "source": s3_url(bucket, f.key),
            }
        )
    return rows


def describe_scheduled(s: ScheduledMonth) -> str:
    """What scheduling did to the month, in one sentence."""
    if s.rows and s.rejected == s.rows:
        rows = f"all {s.rows:,} rows rejected"
    else:
        rows = (
            f"{s.rows:,} rows: {s.expected:,} statements valid, {s.rejected:,} rejected, "
            f"{s.duplicates:,} identical repeats loaded once"
        )
    if s.queued:
        sent = f"{s.queued:,} statements enqueued in {s.messages:,} messages"
    elif s.expected:
        sent = "nothing enqueued: the table already holds every file as current"
    else:
        sent = "nothing to enqueue"
    skipped = sum(1 for d in s.decisions if not d.write and d.rows)
    current = f", {skipped} file(s) skipped as already stored" if skipped and s.queued else ""
    conflicts = (
        f"; {len(s.conflict_digests)} statement ids with conflicting rows, all rejected"
        if s.conflict_digests
        else ""
    )
    return f"{s.period}: {s.files} file(s), {rows}; {sent}{current}{conflicts}"
