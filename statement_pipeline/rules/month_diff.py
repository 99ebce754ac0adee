"""The dry run's comparison: what importing a month would add, change and remove.

Results name files, lines and columns, never a row's values.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from typing import Any

from statement_pipeline.rules.csv_records import COLUMNS, NUMBER_COLUMNS
from statement_pipeline.rules.month_plan import FileDecision


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
    # Which files an import would write, and which it would skip as current (and why).
    decisions: list[FileDecision] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not (self.adds or self.changes or self.removals)


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
        f"rows written: {sum(d.rows for d in diff.decisions if d.write)} of "
        f"{sum(1 for d in diff.decisions if d.write)} file(s); "
        f"skipped as current: {sum(d.rows for d in diff.decisions if not d.write)} of "
        f"{sum(1 for d in diff.decisions if not d.write)} file(s)",
        *(
            f"  {d.key}: {'write' if d.write else 'skip'} {d.rows} rows ({d.reason})"
            for d in diff.decisions
        ),
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
        "rows_written": sum(d.rows for d in diff.decisions if d.write),
        "rows_skipped_current": sum(d.rows for d in diff.decisions if not d.write),
        "file_decisions": [
            {"file": d.key, "write": d.write, "rows": d.rows, "reason": d.reason}
            for d in diff.decisions
        ],
        "added": [where(d) for d in diff.adds],
        "changed": [where(d) for d in diff.changes],
        "removed": [where(d) for d in diff.removals],
    }
