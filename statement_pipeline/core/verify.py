"""Proving a month's import from the table and queues themselves (the asset checks' logic)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from statement_pipeline.core.load import LoadedMonth
from statement_pipeline.core.queue import peek_periods, queue_depth
from statement_pipeline.core.retry import Backoff
from statement_pipeline.core.table import count_current, count_month


@dataclass
class Finding:
    name: str
    passed: bool
    severity: Literal["WARN", "ERROR"]
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def verify_month(
    loaded: LoadedMonth,
    *,
    dynamodb: Any,
    table: str,
    sqs: Any,
    queue_url: str,
    dlq_url: str,
    max_reject_rate: float,
) -> list[Finding]:
    backoff = Backoff()
    month = loaded.period
    in_table = count_month(dynamodb, table, month, backoff)
    current = count_current(dynamodb, table, month, loaded.sources, backoff)
    findings = [
        Finding(
            "table_count_matches_valid_rows",
            in_table == loaded.expected and current == loaded.expected,
            "ERROR",
            f"{in_table} items of {month} in the table, {loaded.expected} valid rows",
            {
                "actual": in_table,
                "expected": loaded.expected,
                "difference": in_table - loaded.expected,
                "from_current_files": current,
            },
        )
    ]

    depth = queue_depth(sqs, queue_url, backoff)
    dlq_periods = peek_periods(sqs, dlq_url, backoff)
    dlq_month = sum(1 for p in dlq_periods if p == month)
    # SQS cannot say which month an in-flight message belongs to without consuming it; every
    # record of this import being in the table proves nothing of it is left to load.
    nothing_left = current == loaded.expected and dlq_month == 0
    findings.append(
        Finding(
            "queue_drained",
            nothing_left,
            "ERROR",
            (
                f"all {loaded.expected} statements of {month} written; "
                if current == loaded.expected
                else f"{loaded.expected - current} statements of {month} not written; "
            )
            + f"queue holds {depth.total} messages (any month), DLQ {len(dlq_periods)}"
            + f" ({dlq_month} of {month})",
            {
                "actual_unwritten": loaded.expected - current,
                "expected_unwritten": 0,
                "queue_visible": depth.visible,
                "queue_in_flight": depth.in_flight,
                "queue_delayed": depth.delayed,
                "dlq_messages": len(dlq_periods),
                "dlq_messages_of_month": dlq_month,
                "poison_moved_this_run": loaded.poison,
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
