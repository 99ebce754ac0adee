"""A 12-month backfill: `dagster asset materialize` runs of many months at once, all exact."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg

from statement_pipeline_tests.scenarios import (
    assert_month_exact,
    put_files,
    queue_depth,
    queue_urls,
    run_cli,
    setup_aws,
)
from statement_samples import generate_rows, write_month

MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
ROWS = 250
AT_ONCE = 12


def test_twelve_months_imported_concurrently_are_each_exact(
    moto_endpoint: str, tmp_path: Path
) -> None:
    setup_aws()
    for number, month in enumerate(MONTHS):
        put_files(month, write_month(month, ROWS, files=1 + number % 3, seed=number))
    home = tmp_path / "dagster"
    home.mkdir()
    # The instance exists before the backfill (runs starting together on a fresh DAGSTER_HOME
    # would race to create its storage).
    with dg.DagsterInstance.local_temp(str(home)):
        pass

    # One instance, one queue, one table: runs drain each other's messages as they go.
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        done = dict(zip(MONTHS, pool.map(lambda m: run_cli(m, home), MONTHS), strict=True))

    for month, result in done.items():
        assert result.returncode == 0, (month, result.stderr[-3000:])
        assert "RUN_SUCCESS" in result.stdout + result.stderr
    for number, month in enumerate(MONTHS):
        assert_month_exact(month, generate_rows(month, ROWS, seed=number))
    queue, dlq = queue_urls()
    assert (queue_depth(queue), queue_depth(dlq)) == (0, 0)
