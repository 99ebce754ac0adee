"""Planning a month: duplicates across files, and the rejects objects."""

import csv
import io

from statement_pipeline.rules.csv_records import COLUMNS, Reject, StatementReader
from statement_pipeline.rules.month_plan import (
    FileRef,
    id_digest,
    plan_month,
    planned_records,
    render_rejects,
    repeated_ids,
    scan_file,
)
from statement_samples import generate_rows, render_csv

MONTH = "2026-10"


def _scan(key: str, rows, extra: str = ""):
    content = render_csv(COLUMNS, rows) + extra.encode()
    return scan_file(FileRef(key, f'"{key}"', len(content)), io.BytesIO(content), MONTH), content


def test_identical_rows_load_once_and_conflicts_are_all_rejected() -> None:
    rows = list(generate_rows(MONTH, 6))
    changed = list(rows[3])
    changed[1] = "ACC-OTHER"
    a, _ = _scan("statements/2026-10/a.csv", rows[:4])
    b, _ = _scan("statements/2026-10/b.csv", [rows[1], tuple(changed), rows[4], rows[5], rows[5]])
    plan = plan_month(MONTH, [b, a])

    # rows[1] twice (a:3, b:2) and rows[5] twice in b: loaded once each, reported.
    assert {(d.key, d.line) for d in plan.duplicates} == {
        ("statements/2026-10/b.csv", 2),
        ("statements/2026-10/b.csv", 6),
    }
    # rows[3]'s id with different content: both copies rejected.
    assert plan.conflict_digests == [id_digest(rows[3][0])]
    assert [
        (r.line, "different content" in r.reason) for r in plan.rejects["statements/2026-10/a.csv"]
    ] == [(5, True)]
    assert [r.line for r in plan.rejects["statements/2026-10/b.csv"]] == [3]
    assert plan.expected == 5  # ids of rows 0, 1, 2, 4 and 5
    by_key = {f.ref.key: f for f in plan.files}
    assert by_key["statements/2026-10/a.csv"].excluded_lines == frozenset({5})
    assert by_key["statements/2026-10/b.csv"].excluded_lines == frozenset({2, 3, 6})


def test_repeated_ids_are_those_on_more_than_one_row_of_the_month() -> None:
    rows = list(generate_rows(MONTH, 5))
    a, _ = _scan("statements/2026-10/a.csv", [rows[0], rows[1], rows[1]])
    b, _ = _scan("statements/2026-10/b.csv", [rows[2], rows[0], rows[3], rows[0]])
    assert repeated_ids([a, b]) == {id_digest(rows[0][0]), id_digest(rows[1][0])}
    distinct, _ = _scan("statements/2026-10/c.csv", rows)
    assert repeated_ids([distinct]) == set()


def test_planned_records_skip_excluded_and_invalid_lines() -> None:
    rows = list(generate_rows(MONTH, 3))
    bad = list(rows[2])
    bad[4] = "eur"
    scan, content = _scan("statements/2026-10/a.csv", [rows[0], rows[1], tuple(bad), rows[0]])
    plan = plan_month(MONTH, [scan])
    assert plan.rejected == 1
    kept = list(planned_records(plan.files[0], io.BytesIO(content), MONTH))
    assert [line for line, _ in kept] == [2, 3]
    assert [values for _, values in kept] == [rows[0], rows[1]]


def test_scans_keep_no_row_values() -> None:
    rows = list(generate_rows(MONTH, 2))
    bad = list(rows[1])
    bad[5] = "1,000.00"
    scan, _ = _scan("statements/2026-10/a.csv", [rows[0], tuple(bad)])
    assert [(r.line, r.raw) for r in scan.rejects] == [(3, ())]
    # Not even the statement id: a digest of it, which the plan compares across files.
    assert all(len(entry) == 3 and entry[0] == id_digest(rows[0][0]) for entry in scan.valid)
    assert rows[0][0] not in repr(scan)


def test_rejects_object_lists_file_line_reason_and_the_row() -> None:
    rows = list(generate_rows(MONTH, 2))
    bad = list(rows[1])
    bad[5] = "1,000.00"
    content = render_csv(COLUMNS, [rows[0], tuple(bad)])
    reader = StatementReader(io.BytesIO(content), "statements/2026-10/a.csv", MONTH)
    rejects = [r for r in reader if isinstance(r, Reject)]
    body = render_rejects("statements/2026-10/a.csv", reader.header, rejects).decode()
    parsed = list(csv.reader(io.StringIO(body)))
    assert parsed[0] == ["file", "line", "reason", *COLUMNS]
    assert parsed[1][:2] == ["statements/2026-10/a.csv", "3"]
    assert "opening_balance" in parsed[1][2]
    assert parsed[1][3:] == bad
