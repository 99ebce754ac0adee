"""A run SIGKILLed in the middle of loading, then run again: the month ends exact."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from statement_harness.scenarios import (
    CLI_TIMEOUT,
    NAMES,
    assert_month_exact,
    cli_command,
    cli_env,
    merge,
    put_files,
    queue_depth,
    queue_urls,
    replay_queue,
    run_cli,
    setup_aws,
    write_config,
)
from statement_pipeline.aws import clients
from statement_pipeline.aws.bootstrap import TableSettings
from statement_pipeline.aws.table import count_month
from statement_pipeline.cli.job_runner import tuning_run_config
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.supervision.service import Service
from statement_samples import generate_rows, render_csv

MONTH = "2025-07"
TOTAL = 1_500
VISIBILITY = 10
# A run config a killed run and its successors share: a short visibility timeout, so what
# the dead run held comes back soon, and small receives, so some messages stay visible.
CONFIG = merge(
    tuning_run_config(records_per_message=50),
    tuning_run_config(visibility_timeout_seconds=VISIBILITY, messages_per_receive=2),
)


def count() -> int:
    return count_month(clients.client("dynamodb"), NAMES.table, MONTH)


def test_run_killed_mid_loading_then_rerun_ends_exact(moto_endpoint: str, tmp_path: Path) -> None:
    # 40 WCU at 80%: loading the month takes about 45 s, plenty of time to kill it midway.
    setup_aws(TableSettings("PROVISIONED", read_capacity=100, write_capacity=40))
    rows = list(generate_rows(MONTH, TOTAL, seed=61))
    put_files(
        MONTH,
        [
            ("part-1.csv", render_csv(COLUMNS, rows[:750])),
            ("part-2.csv", render_csv(COLUMNS, rows[750:])),
        ],
    )
    home = tmp_path / "dagster"
    config = write_config(tmp_path / "run.yaml", CONFIG)
    victim = Service("import", cli_command(MONTH, config), cli_env(home), tmp_path / "killed.log")
    victim.start()
    deadline = time.monotonic() + CLI_TIMEOUT
    try:
        while count() < 100:
            assert victim.alive(), "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.3)
    finally:
        # The run's whole process group: the CLI and everything it started.
        victim.kill()
    assert victim.exit_code == -signal.SIGKILL
    written = count()
    assert 100 <= written < TOTAL

    # An operator raises the capacity and runs the month again.
    clients.client("dynamodb").update_table(
        TableName=NAMES.table,
        ProvisionedThroughput={"ReadCapacityUnits": 100, "WriteCapacityUnits": 4000},
    )
    again = run_cli(MONTH, home, CONFIG)
    assert again.returncode == 0, again.stderr[-3000:]
    assert_month_exact(MONTH, rows)

    # Runs stop once their month is complete, so what the dead run held may still be queued:
    # load every message left, as later runs would, once it is visible again. Nothing changes.
    replay_queue(VISIBILITY)
    assert_month_exact(MONTH, rows)
    queue, dlq = queue_urls()
    assert (queue_depth(queue), queue_depth(dlq)) == (0, 0)
