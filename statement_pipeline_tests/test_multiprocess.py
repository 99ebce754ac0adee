"""Scale-out: four loader ops in four processes (multiprocess executor) load a month exactly."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

import statement_samples as sample
from statement_harness import scenarios
from statement_pipeline.cli.job_runner import loader_totals, run_import, tuning_run_config

MONTH = "2026-03"
# 8 messages of 250 records: enough for each of the 4 loader processes to take some.
RECORDS = 2_000


def test_four_loader_processes_load_the_month_exactly(moto_endpoint: str, tmp_path: Path) -> None:
    scenarios.setup_aws()
    files = sample.write_month(MONTH, RECORDS, 3, seed=41)
    scenarios.put_files(MONTH, files)
    run_config = scenarios.merge(
        # The documented scale-out settings: one loader per op, one process per op.
        tuning_run_config(loaders=4, loader_ops=4),
        {
            "execution": {
                "config": {
                    "multiprocess": {"max_concurrent": 4, "start_method": {"forkserver": {}}}
                }
            }
        },
    )

    home = tmp_path / "dagster"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        report = run_import(MONTH, instance, run_config)
        assert report.success, report.failure
        starts = instance.all_logs(report.run_id, of_type=dg.DagsterEventType.STEP_START)

    loader_pids = {
        entry.dagster_event.step_key: entry.dagster_event.pid
        for entry in starts
        if entry.dagster_event is not None
        and (entry.dagster_event.step_key or "").startswith("loaded_statements.load_statements[")
    }
    assert sorted(loader_pids) == [
        f"loaded_statements.load_statements[loader_{i}]" for i in range(4)
    ]
    # Each loader op ran in a process of its own, none of them this test's process.
    assert len(set(loader_pids.values())) == 4
    assert os.getpid() not in loader_pids.values()

    assert report.all_checks_passed, [c for c in report.checks if not c.passed]
    loaded = report.materializations["loaded_statements"]
    assert loader_totals(loaded)["workers"] == 4
    assert loaded["written_in_import"] == RECORDS
    rows = sample.generate_rows(MONTH, RECORDS, seed=41)
    scenarios.assert_month_exact(MONTH, rows)
    queue, dlq = scenarios.queue_urls()
    assert scenarios.queue_depth(queue) == 0
    assert scenarios.queue_depth(dlq) == 0
