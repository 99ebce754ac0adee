"""A backfill of several months from the CLI, through the run queue and the table-write pool.

The shipped dagster.yaml lets several runs go at once but gives the pool
`statement_table_writes` one slot: every month must come out exact, and no two loader ops may
ever write to the table at the same time, whichever runs they belong to.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import dagster as dg

from statement_harness.scenarios import assert_month_exact
from statement_pipeline.aws.bootstrap import bootstrap_from_environment
from statement_pipeline.rules.names import Names
from statement_pipeline_tests.oracles import rows_as_written
from statement_pipeline_tests.processes import (
    BIN,
    background,
    dagster_home,
    describe_runs,
    loaded_metadata,
    month_runs,
    wait_for,
)
from statement_samples import write_month
from statement_samples.upload import upload_sample_month

MONTHS = {"2026-07": 240, "2026-08": 180, "2026-09": 300}


def loader_intervals(instance: dg.DagsterInstance, run_id: str) -> list[tuple[float, float]]:
    """(start, end) of each loader op of a run, from its step events."""
    starts: dict[str, float] = {}
    intervals = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not (record.step_key or "").startswith("loaded_statements.load_"):
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[record.step_key or ""] = record.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            intervals.append((starts[record.step_key or ""], record.timestamp))
    return intervals


def all_done(instance: dg.DagsterInstance) -> list[dg.DagsterRun] | None:
    runs = [run for month in MONTHS for run in month_runs(instance, month)]
    return runs if len(runs) == len(MONTHS) and all(r.is_finished for r in runs) else None


def test_a_backfill_of_several_months_loads_each_exactly_one_writer_at_a_time(
    moto_endpoint: str, tmp_path: Path
) -> None:
    names = Names()
    bootstrap_from_environment(names)
    for seed, (month, records) in enumerate(MONTHS.items()):
        upload_sample_month(names, month, records, files=2, seed=seed)
    home = dagster_home(tmp_path)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    dagster = [str(BIN / "dagster")]
    target = ["-m", "statement_pipeline"]
    # Only the backfill's runs here: the sensor (running by default) would import them too.
    subprocess.run(
        [*dagster, "sensor", "stop", "statement_file_sensor", *target],
        env=env,
        check=True,
        timeout=90,
        capture_output=True,
    )
    backfill = [*dagster, "job", "backfill", *target, "-j", "import_statements_job"]
    daemon = background([str(BIN / "dagster-daemon"), "run", *target], env, tmp_path / "d.log")
    with daemon, dg.DagsterInstance.from_config(str(home)) as instance:
        subprocess.run(
            [*backfill, "--partitions", ",".join(MONTHS), "--noprompt"],
            env=env,
            check=True,
            timeout=90,
            capture_output=True,
        )
        runs = wait_for(
            lambda: all_done(instance),
            150,
            "the backfill's runs",
            lambda: describe_runs(instance) + "\n" + daemon.output(),
        )
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), describe_runs(instance)
        assert all(r.tags.get("dagster/backfill") for r in runs)
        intervals = sorted(i for r in runs for i in loader_intervals(instance, r.run_id))
        figures = {month: loaded_metadata(instance, month) for month in MONTHS}
    assert len(intervals) == len(MONTHS)
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert start >= end, "two loader ops wrote to the table at the same time"
    for seed, (month, records) in enumerate(MONTHS.items()):
        # Contents, not a count: every statement of the files, exactly, under its key.
        files = write_month(month, records, files=2, seed=seed)
        assert_month_exact(month, [row for _, content in files for row in rows_as_written(content)])
        # The queue is shared, so the first loader op to run drains other months' records too;
        # each month's figures are still its own, read from its items.
        assert figures[month]["written_in_import"] == records, (month, figures[month])
        assert figures[month]["records_per_second"] > 0, month
