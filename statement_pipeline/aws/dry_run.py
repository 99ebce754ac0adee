"""The dry run of a month's import: what re-importing it would add, change and remove.

It reads exactly what the import reads (the month's files, validated and planned the same
way, duplicates and conflicts included) and the month's items in the table, and writes
nothing: no rejects objects, no messages, no items. Results name files, lines and columns,
never a row's values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from statement_pipeline.aws.s3_files import list_month_files, open_version
from statement_pipeline.aws.scheduling import scan_files
from statement_pipeline.aws.table import read_month
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.items import SOURCE_ETAG, SOURCE_KEY, SOURCE_LINE
from statement_pipeline.rules.month_diff import Difference, MonthDiff, changed_columns
from statement_pipeline.rules.month_plan import (
    MonthPlan,
    decide_writes,
    id_digest,
    plan_month,
    planned_records,
)


class NothingToImport(RuntimeError):
    """The month has no statement files: the import would fail, so there is nothing to compare."""


@dataclass(frozen=True)
class StoredStatement:
    values: dict[str, str]
    key: str | None
    line: int | None
    etag: str | None = None


def stored_statements(dynamodb: Any, table: str, period: str) -> Iterator[StoredStatement]:
    """The statement columns and source of every item of a month.

    Eventually consistent, at half the read units: the dry run decides nothing and writes
    nothing, and a write of the last second it may miss is one the import itself re-reads.
    """
    attributes = (*COLUMNS, SOURCE_KEY, SOURCE_LINE, SOURCE_ETAG)
    for item in read_month(dynamodb, table, period, attributes, consistent=False):
        values = {name: next(iter(item[name].values())) for name in COLUMNS if name in item}
        line = item.get(SOURCE_LINE, {}).get("N")
        yield StoredStatement(
            values,
            item.get(SOURCE_KEY, {}).get("S"),
            int(line) if line else None,
            item.get(SOURCE_ETAG, {}).get("S"),
        )


def planned_rows(
    s3: Any, bucket: str, plan: MonthPlan
) -> Iterator[tuple[str, int, tuple[str, ...]]]:
    """(file key, line, values) of every row the import would load, in key and line order."""
    for file_plan in plan.files:
        body = open_version(s3, bucket, file_plan.ref)
        try:
            for line, values in planned_records(file_plan, body, plan.period):
                yield file_plan.ref.key, line, values
        finally:
            body.close()


def diff_month(
    *,
    s3: Any,
    bucket: str,
    prefix: str,
    period: str,
    dynamodb: Any,
    table: str,
    threads: int = 4,
) -> MonthDiff:
    """Compare the month's current files with its items in the table, writing nothing.

    A file that cannot be read as a statement file raises FileFormatError, as in the import;
    a file replaced while it is being read raises FileChanged.
    """
    listing = list_month_files(s3, bucket, prefix, period)
    if not listing.files:
        raise NothingToImport(
            f"no statement files for {period} under s3://{bucket}/{prefix}{period}/"
        )
    plan = plan_month(period, scan_files(s3, bucket, period, listing.files, threads=threads))
    stored = {
        s.values.get("statement_id", ""): s for s in stored_statements(dynamodb, table, period)
    }
    conflicting = set(plan.conflict_digests)
    versions = Counter(
        (s.key or "", s.etag or "")
        for sid, s in stored.items()
        if id_digest(sid) not in conflicting
    )
    result = MonthDiff(
        period=period,
        files=len(plan.files),
        rows=plan.rows,
        valid=plan.expected,
        rejected=plan.rejected,
        duplicates=len(plan.duplicates),
        conflicting_ids=len(plan.conflict_digests),
        stored=len(stored),
        decisions=decide_writes(plan, versions),
    )
    for key, line, values in planned_rows(s3, bucket, plan):
        sid = values[0]
        old = stored.pop(sid, None)
        if old is None:
            result.adds.append(Difference(sid, key, line))
            continue
        columns = changed_columns(old.values, values)
        if columns:
            result.changes.append(Difference(sid, key, line, old.key, old.line, columns))
        else:
            result.unchanged += 1
    # What no current row holds any more (removed, or now a conflicting id) is deleted.
    result.removals = sorted(
        (Difference(sid, was_key=s.key, was_line=s.line) for sid, s in stored.items()),
        key=lambda d: (d.was_key or "", d.was_line or 0, d.statement_id),
    )
    return result
