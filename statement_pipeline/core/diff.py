"""The dry run of a month's import: what re-importing it would add, change and remove.

It reads exactly what the import reads (the month's files, validated and planned the same
way, duplicates and conflicts included) and the month's items in the table, and writes
nothing: no rejects objects, no messages, no items. Results name files, lines and columns,
never a row's values.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from statement_pipeline.core.items import HASH_KEY, SOURCE_KEY, SOURCE_LINE
from statement_pipeline.core.plan import MonthPlan, plan_month, planned_records
from statement_pipeline.core.records import COLUMNS, NUMBER_COLUMNS
from statement_pipeline.core.retry import Backoff, call_with_retry
from statement_pipeline.core.schedule import list_month_files, open_version, scan_files


class NothingToImport(RuntimeError):
    """The month has no statement files: the import would fail, so there is nothing to compare."""


@dataclass(frozen=True)
class Difference:
    """One statement the import would add, change or remove.

    `key`/`line` locate the row in the month's current files (adds and changes); `was_key`/
    `was_line` locate the stored item's source (changes and removals). `columns` names the
    columns whose values differ (changes only).
    """

    statement_id: str
    key: str | None = None
    line: int | None = None
    was_key: str | None = None
    was_line: int | None = None
    columns: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """`file:line` of the row the import would write, else of the stored item."""
        if self.key is not None:
            return f"{self.key}:{self.line}"
        if self.was_key is None:
            return "(stored without its source file)"
        return f"{self.was_key}:{self.was_line}"


@dataclass
class MonthDiff:
    """What importing the month now would do to the table (counts and locations only)."""

    period: str
    files: int
    rows: int
    valid: int
    rejected: int
    duplicates: int
    conflicting_ids: int
    stored: int
    adds: list[Difference] = field(default_factory=list)
    changes: list[Difference] = field(default_factory=list)
    removals: list[Difference] = field(default_factory=list)
    unchanged: int = 0

    @property
    def in_sync(self) -> bool:
        return not (self.adds or self.changes or self.removals)


@dataclass(frozen=True)
class StoredStatement:
    values: dict[str, str]
    key: str | None
    line: int | None


def stored_statements(
    dynamodb: Any, table: str, period: str, backoff: Backoff
) -> Iterator[StoredStatement]:
    """The statement columns and source of every item of a month, strongly read."""
    wanted = (*COLUMNS, SOURCE_KEY, SOURCE_LINE)
    names = {f"#a{i}": name for i, name in enumerate(wanted)}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#p = :p",
        "ExpressionAttributeNames": {"#p": HASH_KEY, **names},
        "ExpressionAttributeValues": {":p": {"S": period}},
        "ProjectionExpression": ", ".join(names),
        "ConsistentRead": True,
    }
    while True:
        page = call_with_retry(lambda: dynamodb.query(**kwargs), backoff)
        for item in page.get("Items", []):
            values = {name: next(iter(item[name].values())) for name in COLUMNS if name in item}
            line = item.get(SOURCE_LINE, {}).get("N")
            yield StoredStatement(
                values, item.get(SOURCE_KEY, {}).get("S"), int(line) if line else None
            )
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _same(column: str, stored: str | None, wanted: str) -> bool:
    """Whether a stored value equals the row's value of `column`."""
    if stored is None:
        return False
    if column not in NUMBER_COLUMNS:
        return stored == wanted
    # DynamoDB normalises numbers ("100.50" is stored as "100.5"): compare the values.
    try:
        return decimal.Decimal(stored) == decimal.Decimal(wanted)
    except decimal.InvalidOperation:
        return False


def changed_columns(stored: dict[str, str], wanted: tuple[str, ...]) -> tuple[str, ...]:
    """Columns whose stored value differs from the row's (numbers compared as decimals)."""
    return tuple(
        column
        for column, value in zip(COLUMNS, wanted, strict=True)
        if not _same(column, stored.get(column), value)
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
    backoff: Backoff | None = None,
) -> MonthDiff:
    """Compare the month's current files with its items in the table, writing nothing.

    A file that cannot be read as a statement file raises FileFormatError, as in the import;
    a file replaced while it is being read raises FileChanged.
    """
    backoff = backoff or Backoff()
    listing = list_month_files(s3, bucket, prefix, period)
    if not listing.files:
        raise NothingToImport(
            f"no statement files for {period} under s3://{bucket}/{prefix}{period}/"
        )
    plan = plan_month(period, scan_files(s3, bucket, period, listing.files, threads=threads))
    stored = {
        s.values.get("statement_id", ""): s
        for s in stored_statements(dynamodb, table, period, backoff)
    }
    result = MonthDiff(
        period=period,
        files=len(plan.files),
        rows=plan.rows,
        valid=plan.expected,
        rejected=plan.rejected,
        duplicates=len(plan.duplicates),
        conflicting_ids=len(plan.conflict_ids),
        stored=len(stored),
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


def describe(diff: MonthDiff, limit: int | None = 100) -> list[str]:
    """Printable lines: counts, then `file:line` of each difference; never a row's values."""
    lines = [
        f"{diff.period}: {diff.files} file(s), {diff.rows} rows: {diff.valid} statements to "
        f"load, {diff.rejected} rejected, {diff.duplicates} identical duplicates, "
        f"{diff.conflicting_ids} conflicting statement ids",
        f"table: {diff.stored} statements of {diff.period} stored",
        "dry run (nothing written): importing the month now would",
        f"adds: {len(diff.adds)}",
        f"changes: {len(diff.changes)}",
        f"removals: {len(diff.removals)}",
        f"unchanged: {diff.unchanged}",
    ]
    sections = (
        ("add", diff.adds, lambda d: d.where),
        ("change", diff.changes, lambda d: f"{d.where} ({', '.join(d.columns)})"),
        ("remove", diff.removals, lambda d: f"{d.where} (stored from there, no current row)"),
    )
    for title, items, render in sections:
        if not items:
            continue
        shown = items if limit is None else items[:limit]
        lines.append(f"{title} ({len(items)}):")
        lines.extend(f"  {render(d)}" for d in shown)
        if len(shown) < len(items):
            lines.append(f"  ... and {len(items) - len(shown)} more (--limit 0 lists all)")
    return lines


def as_json(diff: MonthDiff) -> dict[str, Any]:
    """The diff for machines: counts and locations (statement ids are left out, like values)."""

    def where(d: Difference) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if d.key is not None:
            out.update(file=d.key, line=d.line)
        if d.was_key is not None or d.key is None:
            out.update(stored_from_file=d.was_key, stored_from_line=d.was_line)
        if d.columns:
            out["columns"] = list(d.columns)
        return out

    return {
        "period": diff.period,
        "files": diff.files,
        "rows": diff.rows,
        "valid": diff.valid,
        "rejected": diff.rejected,
        "duplicates": diff.duplicates,
        "conflicting_ids": diff.conflicting_ids,
        "stored": diff.stored,
        "adds": len(diff.adds),
        "changes": len(diff.changes),
        "removals": len(diff.removals),
        "unchanged": diff.unchanged,
        "added": [where(d) for d in diff.adds],
        "changed": [where(d) for d in diff.changes],
        "removed": [where(d) for d in diff.removals],
    }
