"""Proving a month's import from the table and queues themselves (the asset checks' logic)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from statement_pipeline.aws.loading import LoadedMonth
from statement_pipeline.aws.queue import peek_periods, queue_depth
from statement_pipeline.aws.table import count_month


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
    month = loaded.period
    in_table = count_month(dynamodb, table, month)
    findings = [
        Finding(
            "table_count_matches_valid_rows",
            in_table == loaded.expected,
            "ERROR",
            f"{in_table} items of {month} in the table, {loaded.expected} valid rows",
            {
                "actual": in_table,
                "expected": loaded.expected,
                "difference": in_table - loaded.expected,
            },
        )
    ]

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
