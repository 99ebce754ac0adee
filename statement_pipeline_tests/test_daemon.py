"""The real `dagster-daemon` against a moto server: a file dropped in S3 gets imported.

Nobody starts the sensor or a run: the sensor is RUNNING by default, its tick requests the
month, the run queue launches it, and the month lands in the table exactly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

import statement_samples as sample
from statement_harness.scenarios import assert_month_exact
from statement_pipeline.aws.bootstrap import bootstrap_from_environment
from statement_pipeline.rules.names import Names
from statement_pipeline_tests.oracles import rows_as_written
from statement_pipeline_tests.processes import (
    BIN,
    background,
    dagster_home,
    describe_runs,
    finished_runs,
    month_runs,
    wait_for,
)

MONTH = "2026-10"
RECORDS = 300


def sensor_ticked(instance: dg.DagsterInstance) -> bool:
    """True once the daemon has stored a cursor for the sensor (its first tick is done)."""
    return any(
        state.name == "statement_file_sensor" and getattr(state.instigator_data, "cursor", None)
        for state in instance.all_instigator_state()
    )


def test_a_file_dropped_in_s3_is_imported_by_the_daemon(moto_endpoint: str, tmp_path: Path) -> None:
    names = Names()
    bootstrap_from_environment(names)
    home = dagster_home(tmp_path)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    daemon = background(
        [str(BIN / "dagster-daemon"), "run", "-m", "statement_pipeline"],
        env,
        tmp_path / "daemon.log",
    )
    with daemon, dg.DagsterInstance.from_config(str(home)) as instance:
        wait_for(
            lambda: sensor_ticked(instance),
            60,
            "the sensor's first tick on the empty bucket",
            daemon.output,
        )
        assert month_runs(instance, MONTH) == []
        ((name, content),) = sample.write_month(MONTH, RECORDS, files=1, seed=3)
        dropped = tmp_path / name
        dropped.write_bytes(content)
        # The documented one-liner, run the way a person runs it.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "statement_pipeline.cli",
                "upload",
                str(dropped),
                "--month",
                MONTH,
            ],
            env=env,
            check=True,
            timeout=60,
        )
        runs = wait_for(
            lambda: finished_runs(instance, MONTH),
            120,
            f"the import of {MONTH}",
            lambda: describe_runs(instance) + "\n" + daemon.output(),
        )
        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS], describe_runs(instance)
        assert runs[0].tags.get("dagster/sensor_name") == "statement_file_sensor"
    # Contents, not a count: every statement of the dropped file, exactly, under its key.
    assert_month_exact(MONTH, rows_as_written(content))
