"""The dry run's report (`statement-pipeline diff`), as operators and scripts read it: literals.

Pure units of `rules/month_diff.py`: which columns differ (numbers by value, as DynamoDB
normalises them), the printed lines and the JSON, written out by hand.
"""

from __future__ import annotations

import pytest

from statement_pipeline.rules.month_diff import (
    Difference,
    MonthDiff,
    as_json,
    changed_columns,
    describe,
)
from statement_pipeline.rules.month_plan import FileDecision

ROW = ("S-1", "A-1", "2026-10", "2026-10-31", "EUR", "100.50", "0", "0.5000", "100", "007")
STORED = {
    "statement_id": "S-1",
    "account_id": "A-1",
    "period": "2026-10",
    "issued_on": "2026-10-31",
    "currency": "EUR",
    "opening_balance": "100.5",
    "total_credits": "0",
    "total_debits": "0.5",
    "closing_balance": "100",
    "transaction_count": "7",
}


def test_numbers_compare_by_value_and_strings_exactly() -> None:
    assert changed_columns(STORED, ROW) == ()
    assert changed_columns({**STORED, "currency": "eur"}, ROW) == ("currency",)
    assert changed_columns({**STORED, "total_debits": "0.05"}, ROW) == ("total_debits",)
    assert changed_columns({**STORED, "transaction_count": "x"}, ROW) == ("transaction_count",)
    missing = dict(STORED)
    del missing["account_id"]
    assert changed_columns(missing, ROW) == ("account_id",)
    # A string column is never compared as a number.
    assert changed_columns({**STORED, "statement_id": "S-1.0"}, ROW) == ("statement_id",)


def _diff() -> MonthDiff:
    return MonthDiff(
        period="2026-10",
        files=2,
        rows=7,
        valid=5,
        rejected=1,
        duplicates=1,
        conflicting_ids=0,
        stored=4,
        adds=[Difference("S-9", key="statements/2026-10/b.csv", line=3)],
        changes=[
            Difference(
                "S-2",
                key="statements/2026-10/a.csv",
                line=2,
                was_key="statements/2026-10/a.csv",
                was_line=4,
                columns=("total_debits", "closing_balance"),
            ),
            Difference("S-3", key="statements/2026-10/a.csv", line=5, columns=("currency",)),
        ],
        removals=[
            Difference("S-7", was_key="statements/2026-10/old.csv", was_line=8),
            Difference("S-8"),
        ],
        unchanged=2,
        decisions=[
            FileDecision("statements/2026-10/a.csv", True, 4, 3, "a row is missing"),
            FileDecision("statements/2026-10/b.csv", False, 2, 2, "current"),
        ],
    )


def test_the_printed_report_is_counts_then_places() -> None:
    assert describe(_diff()) == [
        "2026-10: 2 file(s), 7 rows: 5 statements to load, 1 rejected, 1 identical duplicates, "
        "0 conflicting statement ids",
        "table: 4 statements of 2026-10 stored",
        "dry run (nothing written): importing the month now would",
        "adds: 1",
        "changes: 2",
        "removals: 2",
        "unchanged: 2",
        "rows written: 4 of 1 file(s); skipped as current: 2 of 1 file(s)",
        "  statements/2026-10/a.csv: write 4 rows (a row is missing)",
        "  statements/2026-10/b.csv: skip 2 rows (current)",
        "add (1):",
        "  statements/2026-10/b.csv:3",
        "change (2):",
        "  statements/2026-10/a.csv:2 (total_debits, closing_balance)",
        "  statements/2026-10/a.csv:5 (currency)",
        "remove (2):",
        "  statements/2026-10/old.csv:8 (stored from there, no current row)",
        "  (stored without its source file) (stored from there, no current row)",
    ]


def test_a_long_section_is_cut_at_the_limit_and_says_how_many_more() -> None:
    lines = describe(_diff(), limit=1)
    assert lines[-5:] == [
        "  statements/2026-10/a.csv:2 (total_debits, closing_balance)",
        "  ... and 1 more (--limit 0 lists all)",
        "remove (2):",
        "  statements/2026-10/old.csv:8 (stored from there, no current row)",
        "  ... and 1 more (--limit 0 lists all)",
    ]
    assert describe(_diff(), limit=None) == describe(_diff())
    in_sync = MonthDiff("2026-10", 1, 1, 1, 0, 0, 0, 1, unchanged=1)
    assert in_sync.in_sync
    assert not _diff().in_sync
    assert not any(line.startswith(("add (", "change (", "remove (")) for line in describe(in_sync))


def test_the_json_report_holds_counts_and_places_never_ids() -> None:
    assert as_json(_diff()) == {
        "period": "2026-10",
        "files": 2,
        "rows": 7,
        "valid": 5,
        "rejected": 1,
        "duplicates": 1,
        "conflicting_ids": 0,
        "stored": 4,
        "adds": 1,
        "changes": 2,
        "removals": 2,
        "unchanged": 2,
        "rows_written": 4,
        "rows_skipped_current": 2,
        "file_decisions": [
            {
                "file": "statements/2026-10/a.csv",
                "write": True,
                "rows": 4,
                "reason": "a row is missing",
            },
            {"file": "statements/2026-10/b.csv", "write": False, "rows": 2, "reason": "current"},
        ],
        "added": [{"file": "statements/2026-10/b.csv", "line": 3}],
        "changed": [
            {
                "file": "statements/2026-10/a.csv",
                "line": 2,
                "stored_from_file": "statements/2026-10/a.csv",
                "stored_from_line": 4,
                "columns": ["total_debits", "closing_balance"],
            },
            {"file": "statements/2026-10/a.csv", "line": 5, "columns": ["currency"]},
        ],
        "removed": [
            {"stored_from_file": "statements/2026-10/old.csv", "stored_from_line": 8},
            {"stored_from_file": None, "stored_from_line": None},
        ],
    }


def test_a_row_of_the_wrong_width_is_refused_not_compared_in_part() -> None:
    with pytest.raises(ValueError, match="zip"):
        changed_columns(STORED, ROW[:-1])
    with pytest.raises(ValueError, match="zip"):
        changed_columns(STORED, (*ROW, "extra"))


def test_the_printed_report_lists_a_hundred_places_a_section_by_default() -> None:
    adds = [Difference(f"S-{n}", key="statements/2026-10/a.csv", line=n) for n in range(2, 103)]
    lines = describe(MonthDiff("2026-10", 1, 101, 101, 0, 0, 0, 0, adds=adds))
    # 101 adds: lines 2 to 101 shown, line 102 counted.
    assert lines[-3:] == [
        "  statements/2026-10/a.csv:100",
        "  statements/2026-10/a.csv:101",
        "  ... and 1 more (--limit 0 lists all)",
    ]
    assert lines.count("add (101):") == 1


def test_the_printed_report_counts_written_and_skipped_files_apart() -> None:
    diff = MonthDiff(
        "2026-10",
        3,
        9,
        9,
        0,
        0,
        0,
        9,
        changes=[Difference("S-2", key="statements/2026-10/a.csv", line=2, columns=("currency",))],
        unchanged=8,
        decisions=[
            FileDecision("statements/2026-10/a.csv", True, 4, 4, "a row changed"),
            FileDecision("statements/2026-10/b.csv", True, 3, 2, "a row is missing"),
            FileDecision("statements/2026-10/c.csv", False, 2, 2, "current"),
        ],
    )
    lines = describe(diff)
    # Written: 4 + 3 rows of 2 files; skipped: 2 rows of 1 file.
    assert "rows written: 7 of 2 file(s); skipped as current: 2 of 1 file(s)" in lines
    # No adds: the changes that follow are still listed.
    assert lines[-2:] == ["change (1):", "  statements/2026-10/a.csv:2 (currency)"]
