"""Proving a month's import from the table and queues themselves (the asset checks' logic).

The blocking count comes from the import's latest strongly consistent read of the month
(`LoadedMonth.month_read`) when the caller has proven that nothing can have written the month
since that read began (`Reuse`, proven in `checks.py`); otherwise the check counts the month
itself, strongly consistent, paced by the read budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from statement_pipeline.aws.loading import LoadedMonth
from statement_pipeline.aws.month_reads import MonthRead, read_metadata
from statement_pipeline.aws.queue import peek_periods, queue_depth


@dataclass
class Finding:
    name: str
    passed: bool
    severity: Literal["WARN", "ERROR"]
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reuse:
    """Whether the import's read of the month may stand for the check's count, and why."""

    allowed: bool
    why: str


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def count_finding(loaded: LoadedMonth, recount: Callable[[], MonthRead], reuse: Reuse) -> Finding:
    """The blocking count: the import's own read when `reuse` allows, else a fresh count."""
    month, read = loaded.period, loaded.month_read
    own = None
    if reuse.allowed and read is not None and read.consistent and loaded.in_table is not None:
        in_table, read_at = loaded.in_table, read.started_at
        counted_by = f"the {loaded.month_read_by} read, reused: {reuse.why}"
    else:
        own = recount()
        in_table, read_at = own.items, own.started_at
        counted_by = f"this check's own read ({reuse.why})"
    return Finding(
        "table_count_matches_valid_rows",
        in_table == loaded.expected,
        "ERROR",
        f"{in_table} items of {month} in the table, {loaded.expected} valid rows; counted by "
        f"{counted_by}",
        {
            "actual": in_table,
            "expected": loaded.expected,
            "difference": in_table - loaded.expected,
            "counted_by": "reused" if own is None else "recounted",
            "month_read_at": _clock(read_at),
            # What this check itself read (nothing when it reused the import's read).
            **read_metadata(own),
        },
    )


def verify_month(
    loaded: LoadedMonth,
    *,
    recount: Callable[[], MonthRead],
    reuse: Reuse,
    sqs: Any,
    queue_url: str,
    dlq_url: str,
    max_reject_rate: float,
) -> list[Finding]:
    month = loaded.period
    findings = [count_finding(loaded, recount, reuse)]
    in_table = findings[0].metadata["actual"]

    depth = queue_depth(sqs, queue_url)
    dlq_periods = peek_periods(sqs, dlq_url)
    dlq_month = sum(1 for p in dlq_periods if p == month)
    # SQS cannot tell which month an in-flight message belongs to without consuming it. An
    # empty queue proves nothing is left; otherwise (other months loading, or messages a
    # killed run still holds) the table holding every statement of the month proves it.
    left = 0 if depth.total == 0 or in_table == loaded.expected else depth.total
    findings.append(
        Finding(
            "queue_drained",
            left == 0 and dlq_month == 0,
            "ERROR",
            f"queue holds {depth.total} messages (any month), "
            f"{'none' if left == 0 else 'some'} of them needed for {month}; "
            f"DLQ holds {len(dlq_periods)} ({dlq_month} of {month})",
            {
                "actual": left + dlq_month,
                "expected": 0,
                "queue_visible": depth.visible,
                "queue_in_flight": depth.in_flight,
                "queue_delayed": depth.delayed,
                "dlq_messages": len(dlq_periods),
                "dlq_messages_of_month": dlq_month,
                "poison_moved_this_run": loaded.stats.poison,
            },
        )
    )

    findings.append(
        Finding(
            "no_rejected_rows",
            loaded.rejected == 0,
            "WARN",
            f"{loaded.rejected} of {loaded.rows} rows rejected",
            {"actual": loaded.rejected, "expected": 0, "rows": loaded.rows},
        )
    )
    rate = loaded.rejected / loaded.rows if loaded.rows else 0.0
    findings.append(
        Finding(
            "reject_rate_below_limit",
            rate <= max_reject_rate,
            "ERROR",
            f"reject rate {rate:.2%}, limit {max_reject_rate:.2%}",
            {
                "actual": round(rate, 6),
                "expected_at_most": max_reject_rate,
                "rejected": loaded.rejected,
                "rows": loaded.rows,
            },
        )
    )
    return findings
