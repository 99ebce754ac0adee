"""A backfill: `dagster asset materialize` runs of several months at once, each exact, each
reporting its own figures although the runs' loaders drain one shared queue."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg

from statement_harness.scenarios import (
    assert_month_exact,
    put_files,
    queue_depth,
    queue_urls,
    run_cli,
    setup_aws,
)
from statement_pipeline.cli.job_runner import loader_totals
from statement_pipeline_tests.processes import loaded_metadata
from statement_samples import generate_rows, write_month

MONTHS = ["2024-01", "2024-02", "2024-03"]
ROWS = [240, 360, 480]


def test_months_imported_concurrently_are_each_exact_and_report_their_own_writes(
    moto_endpoint: str, tmp_path: Path
) -> None:
    setup_aws()
    for number, (month, rows) in enumerate(zip(MONTHS, ROWS, strict=True)):
        put_files(month, write_month(month, rows, files=1 + number % 3, seed=number))
    home = tmp_path / "dagster"
    home.mkdir()
    # The instance exists before the backfill (runs starting together on a fresh DAGSTER_HOME
    # would race to create its storage).
    with dg.DagsterInstance.local_temp(str(home)):
        pass

    # One instance, one queue, one table: runs drain each other's messages as they go.
    with ThreadPoolExecutor(max_workers=len(MONTHS)) as pool:
        done = dict(zip(MONTHS, pool.map(lambda m: run_cli(m, home), MONTHS), strict=True))

    for month, result in done.items():
        assert result.returncode == 0, (month, result.stderr[-3000:])
        assert "RUN_SUCCESS" in result.stdout + result.stderr
    for number, (month, rows) in enumerate(zip(MONTHS, ROWS, strict=True)):
        assert_month_exact(month, generate_rows(month, rows, seed=number))
    queue, dlq = queue_urls()
    assert (queue_depth(queue), queue_depth(dlq)) == (0, 0)

    # Each month's figures are its own, whichever run's loaders wrote its records.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        figures = {month: loaded_metadata(instance, month) for month in MONTHS}
    for month, rows in zip(MONTHS, ROWS, strict=True):
        loaded = figures[month]
        assert loaded["written_in_import"] == rows, (month, loaded)
        assert loaded["consumed_wcu"] == rows
        assert loaded["records_per_second"] > 0
        assert loader_totals(loaded)["items_this_month"] <= rows
