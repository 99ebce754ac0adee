"""A corrected month: the dry run reports what a re-import changes, the re-import converges."""

from __future__ import annotations

import decimal
import json
from pathlib import Path
from typing import Any

import pytest

from statement_harness.scenarios import (
    NAMES,
    assert_month_exact,
    delete_file,
    month_items,
    put_files,
    queue_depth,
    queue_urls,
    run_in_process,
    setup_aws,
    sources_of,
)
from statement_pipeline.aws import clients
from statement_pipeline.cli import main
from statement_pipeline.rules.csv_records import COLUMNS, MONEY_COLUMNS
from statement_samples import generate_rows, render_csv

MONTH = "2025-08"
KEY = f"{NAMES.prefix}{MONTH}/"
CURRENCY = COLUMNS.index("currency")
OPENING, CLOSING = COLUMNS.index("opening_balance"), COLUMNS.index("closing_balance")


def other_currency(row: tuple[str, ...]) -> tuple[str, ...]:
    values = list(row)
    values[CURRENCY] = "CHF" if row[CURRENCY] != "CHF" else "SEK"
    return tuple(values)


def one_more(amount: str) -> str:
    return str(decimal.Decimal(amount) + 1)


def more_opening(row: tuple[str, ...]) -> tuple[str, ...]:
    """Opening and closing balance one higher: still reconciles."""
    values = list(row)
    values[OPENING] = one_more(row[OPENING])
    values[CLOSING] = one_more(row[CLOSING])
    return tuple(values)


def four_decimals(row: tuple[str, ...]) -> tuple[str, ...]:
    """The same amounts written with 4 decimals: equal values, so no change."""
    return tuple(f"{v}00" if c in MONEY_COLUMNS else v for c, v in zip(COLUMNS, row, strict=True))


def snapshot() -> tuple[Any, ...]:
    """Everything an import could write: the month's items, the bucket, the queues."""
    s3 = clients.client("s3")
    objects = sorted(
        (o["Key"], o["ETag"]) for o in s3.list_objects_v2(Bucket=NAMES.bucket).get("Contents", [])
    )
    items = sorted(month_items(MONTH), key=lambda i: i["statement_id"]["S"])
    return items, objects, tuple(queue_depth(url) for url in queue_urls())


def dry_run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`statement-pipeline diff` for the month: exit code and what it printed."""
    capsys.readouterr()
    code = main(["diff", "--month", MONTH, *args])
    out = capsys.readouterr()
    return code, out.out if code == 0 else out.err


def test_dry_run_reports_and_the_reimport_converges_to_the_corrected_files(
    moto_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_aws()
    rows = list(generate_rows(MONTH, 400, seed=31))
    put_files(
        MONTH,
        [
            ("part-1.csv", render_csv(COLUMNS, rows[:200])),
            ("part-2.csv", render_csv(COLUMNS, rows[200:])),
        ],
    )
    first = run_in_process(MONTH, tmp_path / "dagster")
    assert first.success, first.failure
    assert_month_exact(MONTH, rows)

    # The upstream corrects the month: part-1 loses 10 statements, 8 change, one is
    # rewritten with equal amounts, 5 are new; part-2 goes away, 50 of its statements move
    # to part-3, which also repeats row 40's id with other content (a conflict).
    added = list(generate_rows(MONTH, 5, seed=31, start=1000))
    changed = {i: other_currency(rows[i]) for i in range(20, 25)}
    changed |= {i: more_opening(rows[i]) for i in range(25, 28)}
    part1 = [
        *rows[:10],
        *(changed.get(i, rows[i]) for i in range(20, 200)),
        *added,
    ]
    part1[part1.index(rows[30])] = four_decimals(rows[30])
    part3 = [*rows[200:250], other_currency(rows[40])]
    delete_file(MONTH, "part-2.csv")
    put_files(
        MONTH,
        [("part-1.csv", render_csv(COLUMNS, part1)), ("part-3.csv", render_csv(COLUMNS, part3))],
    )
    before = snapshot()

    code, text = dry_run(capsys, "--json", "--limit", "0")
    assert code == 0, text
    report = json.loads(text)
    assert snapshot() == before
    line_of = {row[0]: n for n, row in enumerate(part1, start=2)}
    assert (report["adds"], report["changes"], report["removals"]) == (5, 8, 161)
    assert report["unchanged"] == 231
    assert (report["valid"], report["rejected"], report["conflicting_ids"]) == (244, 2, 1)
    assert report["added"] == [
        {"file": f"{KEY}part-1.csv", "line": line_of[row[0]]} for row in added
    ]
    assert report["changed"] == [
        {
            "file": f"{KEY}part-1.csv",
            "line": line_of[rows[i][0]],
            "stored_from_file": f"{KEY}part-1.csv",
            "stored_from_line": i + 2,
            "columns": ["currency"] if i < 25 else ["opening_balance", "closing_balance"],
        }
        for i in range(20, 28)
    ]
    removed = [(f"{KEY}part-1.csv", i + 2) for i in (*range(10, 20), 40)]
    removed += [(f"{KEY}part-2.csv", i - 200 + 2) for i in range(250, 400)]
    assert [(r["stored_from_file"], r["stored_from_line"]) for r in report["removed"]] == removed

    code, text = dry_run(capsys)
    assert code == 0
    assert "adds: 5\nchanges: 8\nremovals: 161\nunchanged: 231" in text
    assert f"  {KEY}part-1.csv:{line_of[rows[20][0]]} (currency)" in text
    assert "... and 61 more" in text
    assert all(row[1] not in text and row[OPENING] not in text for row in rows + added)
    assert snapshot() == before

    again = run_in_process(MONTH, tmp_path / "dagster")
    assert again.success, again.failure
    expected = [r for r in part1 + part3[:-1] if r[0] != rows[40][0]]
    items = assert_month_exact(MONTH, expected)
    assert again.materializations["loaded_statements"]["stale_removed"] == 161
    assert sources_of(items)[rows[200][0]][0] == f"{KEY}part-3.csv"

    code, text = dry_run(capsys, "--json")
    assert code == 0
    report = json.loads(text)
    assert (report["adds"], report["changes"], report["removals"]) == (0, 0, 0)
    assert report["unchanged"] == 244


def test_dry_run_of_a_month_that_cannot_be_imported_says_why(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_aws()
    code, text = dry_run(capsys)
    assert code == 1
    assert f"no statement files for {MONTH}" in text
    put_files(MONTH, [("part-1.csv", b"statement_id,account_id\nS1,A1\n")])
    code, text = dry_run(capsys)
    assert code == 1
    assert f"{KEY}part-1.csv: missing required column(s): period" in text
