"""Incremental months: a run writes only what the table does not already hold as current."""

from __future__ import annotations

from pathlib import Path

from statement_harness.scenarios import (
    NAMES,
    assert_month_exact,
    put_files,
    run_in_process,
    setup_aws,
)
from statement_pipeline.aws import clients
from statement_pipeline.aws.dry_run import diff_month
from statement_pipeline.cli.job_runner import RunReport, tuning_run_config
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.items import key_of
from statement_pipeline.rules.month_diff import as_json
from statement_pipeline.rules.month_plan import (
    FileDecision,
    FilePlan,
    FileRef,
    MonthPlan,
    decide_writes,
)
from statement_samples import generate_rows, render_csv

MONTH = "2026-03"
ROWS = list(generate_rows(MONTH, 400, seed=13))
PARTS = {f"part-{n + 1}.csv": ROWS[n * 100 : (n + 1) * 100] for n in range(4)}


def _plan(*files: tuple[str, str, int]) -> MonthPlan:
    plans = [FilePlan(FileRef(key, etag, 1), frozenset(), rows) for key, etag, rows in files]
    return MonthPlan(MONTH, plans, sum(r for *_, r in files), {}, [], [], sum(r for *_, r in files))


def test_decisions_follow_what_the_table_holds() -> None:
    plan = _plan(("a", "e1", 10), ("b", "e2", 5), ("c", "e3", 7), ("d", "e4", 3))
    stored = {("a", "e1"): 10, ("b", "old"): 5, ("c", "e3"): 6}
    decisions = {d.key: d for d in decide_writes(plan, stored)}
    assert decisions["a"] == FileDecision("a", False, 10, 10, decisions["a"].reason)
    assert "current" in decisions["a"].reason
    assert (decisions["b"].write, decisions["b"].reason) == (True, "changed since it was loaded")
    assert (decisions["c"].write, decisions["c"].reason) == (
        True,
        "6 of 7 rows stored from this version",
    )
    assert (decisions["d"].write, decisions["d"].reason) == (True, "new file")
    forced = decide_writes(plan, stored, full_reimport=True)
    assert all(d.write and d.reason == "full_reimport requested" for d in forced)


def _import(home: Path, **tuning: object) -> RunReport:
    report = run_in_process(MONTH, home, tuning_run_config(records_per_message=50, **tuning))
    assert report.success, report.failure
    assert all(c.passed for c in report.checks), report.checks
    return report


def _written(report: RunReport) -> tuple[int, int, int]:
    """(items written, records enqueued, records skipped as current) of one run."""
    sched = report.materializations["scheduled_statements"]
    loaded = report.materializations["loaded_statements"]
    return loaded["written_in_import"], sched["records_enqueued"], sched["records_skipped_current"]


def _put(name: str, rows: list[tuple[str, ...]]) -> None:
    put_files(MONTH, [(name, render_csv(COLUMNS, rows))])


def test_runs_write_only_new_changed_or_missing_rows(moto_endpoint: str, tmp_path: Path) -> None:
    setup_aws()
    for name in ("part-1.csv", "part-2.csv", "part-3.csv"):
        _put(name, PARTS[name])
    assert _written(_import(tmp_path / "1")) == (300, 300, 0)
    assert_month_exact(MONTH, ROWS[:300])

    # A fourth file lands: the dry run and the import agree that only its rows are written.
    _put("part-4.csv", PARTS["part-4.csv"])
    dry = diff_month(
        s3=clients.client("s3"),
        bucket=NAMES.bucket,
        prefix=NAMES.prefix,
        period=MONTH,
        dynamodb=clients.client("dynamodb"),
        table=NAMES.table,
    )
    assert [(d.key.rsplit("/", 1)[-1], d.write) for d in dry.decisions] == [
        ("part-1.csv", False),
        ("part-2.csv", False),
        ("part-3.csv", False),
        ("part-4.csv", True),
    ]
    assert as_json(dry)["rows_written"] == 100
    assert _written(_import(tmp_path / "2")) == (100, 100, 300)
    assert_month_exact(MONTH, ROWS)

    # Nothing changed: nothing is written, and the checks still prove the month.
    assert _written(_import(tmp_path / "3")) == (0, 0, 400)

    # An item deleted by hand: its file is written again (proven by the table, not assumed).
    clients.client("dynamodb").delete_item(TableName=NAMES.table, Key=key_of(MONTH, ROWS[150][0]))
    assert _written(_import(tmp_path / "4")) == (100, 100, 300)
    assert_month_exact(MONTH, ROWS)

    # A file replaced with new content: only its rows are written, its vanished rows removed.
    changed = [list(row) for row in PARTS["part-3.csv"][:80]]
    changed[0][1] = "ACC-CHANGED-1"
    _put("part-3.csv", [tuple(row) for row in changed])
    report = _import(tmp_path / "5")
    assert _written(report) == (80, 80, 300)
    assert report.materializations["loaded_statements"]["stale_removed"] == 20
    now = [*ROWS[:200], *map(tuple, changed), *ROWS[300:]]
    assert_month_exact(MONTH, now)

    # full_reimport: every row of the month is written again.
    assert _written(_import(tmp_path / "6", full_reimport=True)) == (380, 380, 0)
    assert_month_exact(MONTH, now)
