"""The capacity policy through the real import job, against the capacity model in front of moto.

The model answers UpdateTable the way DynamoDB does (UPDATING, quotas), with a short UPDATING
here so that the tests stay quick. Months run uncompressed (k=1): under compression
DescribeTable shows rates x k, and a raise would be sized for that compressed world. So the
months are small, and the raise's case is the experiment's scaled down (a 2 / 2 table, a 10 s
target); the experiment's own month is benchmarks/capacity_window_benchmark.py.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from statement_harness.capacity_proxy import CapacityProxy
from statement_harness.scenarios import (
    CLI_TIMEOUT,
    assert_month_exact,
    cli_command,
    cli_env,
    merge,
    put_files,
    run_in_process,
    setup_aws,
    write_config,
)
from statement_pipeline.aws import capacity
from statement_pipeline.aws.bootstrap import TableSettings
from statement_pipeline.aws.table import count_month, describe_capacity
from statement_pipeline.cli.job_runner import RunReport, tuning_run_config
from statement_pipeline.resources import DynamoDBResource, ImportTuning, StatementFilesResource
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.schedules import capacity_lead_schedule
from statement_pipeline.supervision.service import Service
from statement_samples import generate_rows, render_csv

MONTH = "2026-04"
TABLE = "statements"
TABLE_20 = TableSettings("PROVISIONED", 20, 20)
TABLE_2 = TableSettings("PROVISIONED", 2, 2)
UPDATING_SECONDS = 3.0
# What the killed run held comes back after 10 s; small messages spread the month over many.
KILL_CONFIG = merge(
    tuning_run_config(records_per_message=50),
    tuning_run_config(visibility_timeout_seconds=10),
)


@pytest.fixture
def model(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CapacityProxy]:
    with CapacityProxy(moto_endpoint, k=1.0, updating_seconds=UPDATING_SECONDS) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint)
        yield proxy


def _month(records: int, seed: int = 7) -> list[tuple[str, ...]]:
    rows = list(generate_rows(MONTH, records, seed=seed))
    quarter = len(rows) // 4
    parts = [rows[i * quarter : (i + 1) * quarter if i < 3 else None] for i in range(4)]
    put_files(MONTH, [(f"part-{i + 1}.csv", render_csv(COLUMNS, p)) for i, p in enumerate(parts)])
    return rows


def _import(home: Path) -> RunReport:
    return run_in_process(MONTH, home, tuning_run_config(records_per_message=250))


def _table() -> Any:
    return boto3.client("dynamodb")


def _wcu() -> int:
    return describe_capacity(_table(), TABLE).write_units or 0


def test_keep_never_calls_update_table(model: CapacityProxy, tmp_path: Path) -> None:
    """No capacity setting at all: not one UpdateTable, nor any tag call, on the wire."""
    setup_aws(TABLE_20)
    rows = _month(1_000)

    report = _import(tmp_path / "dagster")

    assert report.success, report.failure
    assert_month_exact(MONTH, rows)
    for operation in ("UpdateTable", "TagResource", "UntagResource", "ListTagsOfResource"):
        assert model.calls[("dynamodb", operation)] == 0, operation
    assert report.materializations["loaded_statements"]["capacity_policy"] == "keep"


def test_raise_writes_the_month_within_the_target_and_restores_the_table(
    model: CapacityProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The experiment's case scaled down: 2,400 statements on a 2 / 2 table (its burst holds
    600 units, the rest takes 900 s at 2 WCU), target 10 s: written within 12.5 s, never above
    the maximum, and the table back at 2 / 2 with no raise tags. The full-size month (23,300 on
    20 / 20, target 60 s) is benchmarks/capacity_window_benchmark.py."""
    monkeypatch.setenv("STATEMENT_CAPACITY_POLICY", "raise")
    monkeypatch.setenv("STATEMENT_CAPACITY_TARGET_SECONDS", "10")
    monkeypatch.setenv("STATEMENT_CAPACITY_MAX_WCU", "400")
    setup_aws(TABLE_2)
    rows = _month(2_400)
    model.reset_stats()

    report = _import(tmp_path / "dagster")

    assert report.success, report.failure
    assert_month_exact(MONTH, rows)
    assert model.stats().aws_write_seconds <= 1.25 * 10
    assert model.calls[("dynamodb", "UpdateTable")] == 2  # the raise and the restore
    assert model.model.partitions(TABLE) == 1
    loaded = report.materializations["loaded_statements"]
    assert 2 < loaded["provisioned_wcu"] <= 400
    assert loaded["capacity_cost_usd"] > 0
    shown = describe_capacity(_table(), TABLE)
    assert (shown.billing_mode, shown.write_units, shown.read_units) == ("PROVISIONED", 2, 2)
    arn = capacity.table_arn(_table(), TABLE)
    assert capacity.read_raise(_table(), arn) is None


def test_a_raise_run_killed_mid_load_then_run_again_ends_at_the_original_capacity(
    model: CapacityProxy, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real `dagster asset materialize` SIGKILLed (its whole process group) while it loads
    on the raised table: its run stays STARTED in Dagster's records, but its process is gone,
    so the next import's reconciler restores 2 / 2 first; that run raises, loads, restores."""
    monkeypatch.setenv("STATEMENT_CAPACITY_POLICY", "raise")
    monkeypatch.setenv("STATEMENT_CAPACITY_TARGET_SECONDS", "8")  # 113 WCU: an 8 s load
    setup_aws(TABLE_2)
    rows = _month(1_500)
    direct = boto3.client("dynamodb", endpoint_url=moto_endpoint)  # counts cost no modelled RCU
    home = tmp_path / "dagster"
    config = write_config(tmp_path / "run.yaml", KILL_CONFIG)
    victim = Service("import", cli_command(MONTH, config), cli_env(home), tmp_path / "killed.log")
    victim.start()
    deadline = time.monotonic() + CLI_TIMEOUT
    try:
        while count_month(direct, TABLE, MONTH) < 700 or _wcu() <= 2:
            assert victim.alive(), victim.output()
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        victim.kill()
    assert victim.exit_code == -signal.SIGKILL
    assert count_month(direct, TABLE, MONTH) < len(rows)
    held = capacity.read_raise(_table(), capacity.table_arn(_table(), TABLE))
    assert held is not None
    assert held.original == capacity.Capacity("PROVISIONED", 2, 2)
    (killed,) = held.holders
    assert held.processes[killed][1] == victim.pid  # the CLI process ran the run
    assert _wcu() > 2

    # Run again on the same Dagster instance (the killed run is STARTED in it), in process.
    again = run_in_process(MONTH, home, KILL_CONFIG)

    assert again.success, again.failure
    window = again.materializations["loaded_statements"]["capacity_window"]
    assert f"reconciler: {TABLE}: restored" in window
    assert_month_exact(MONTH, rows)
    shown = describe_capacity(_table(), TABLE)
    assert (shown.billing_mode, shown.write_units, shown.read_units) == ("PROVISIONED", 2, 2)
    assert capacity.read_raise(_table(), capacity.table_arn(_table(), TABLE)) is None
    # The killed run's raise, its restore by the reconciler, the rerun's raise and restore.
    assert model.calls[("dynamodb", "UpdateTable")] == 4


def test_on_demand_switches_the_table_and_back(
    model: CapacityProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATEMENT_CAPACITY_POLICY", "on_demand")
    setup_aws(TABLE_20)
    rows = _month(1_000)

    report = _import(tmp_path / "dagster")

    assert report.success, report.failure
    assert_month_exact(MONTH, rows)
    loaded = report.materializations["loaded_statements"]
    assert loaded["billing_mode"] == "PAY_PER_REQUEST"
    assert model.calls[("dynamodb", "UpdateTable")] == 2
    shown = describe_capacity(_table(), TABLE)
    assert (shown.billing_mode, shown.write_units, shown.read_units) == ("PROVISIONED", 20, 20)


def test_capacity_status_and_restore_commands(model: CapacityProxy, capsys: Any) -> None:
    """status names the raise, its run and the decreases; restore puts 20/20 back."""
    from statement_pipeline.cli import main

    setup_aws(TABLE_20)
    ddb = _table()
    capacity.acquire(
        ddb,
        TABLE,
        "orphan-run",
        capacity.Capacity("PROVISIONED", 120, 20),
        max_wcu=4_000,
        expires=datetime.now(UTC) + timedelta(hours=1),
        wait=lambda: capacity.wait_active(ddb, TABLE, poll=0.2),
    )
    assert main(["capacity", "status"]) == 0
    out = capsys.readouterr().out
    assert "PROVISIONED 20 20 -> PROVISIONED 120 20" in out
    assert "orphan-run (+100 WCU, +0 RCU)" in out
    assert "decreases today 0 made" in out
    assert main(["capacity", "restore"]) == 0
    shown = describe_capacity(ddb, TABLE)
    assert (shown.write_units, shown.read_units) == (20, 20)


def test_a_lead_raise_is_adopted_by_the_import_with_no_update_table_of_its_own(
    model: CapacityProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """capacity_lead_schedule's tick four hours before the monthly import raises the table for
    the month's files; the import adopts it (no UpdateTable of its own), loads the month
    exactly, and the restore brings the table back to 2 / 2 with no raise tags."""
    monkeypatch.setenv("STATEMENT_CAPACITY_POLICY", "raise")
    monkeypatch.setenv("STATEMENT_CAPACITY_TARGET_SECONDS", "10")
    monkeypatch.setenv("STATEMENT_CAPACITY_MAX_WCU", "400")
    setup_aws(TABLE_2)
    rows = _month(2_400)
    resources = {
        "statement_table": DynamoDBResource(
            capacity_policy="raise",
            capacity_target_seconds=10,
            capacity_max_wcu=400,
            capacity_lead_minutes=240,
        ),
        "statement_files": StatementFilesResource(s3=S3Resource()),
        "import_tuning": ImportTuning(),
    }
    ahead = datetime(2026, 4, 30, 23, 0, tzinfo=UTC)  # the 2026-05-01 03:00 UTC tick's lead
    with dg.build_schedule_context(scheduled_execution_time=ahead, resources=resources) as ctx:
        capacity_lead_schedule(ctx)
    assert model.calls[("dynamodb", "UpdateTable")] == 1
    # The table is UPDATING towards the raise (the model shows the old figure until it applies).
    held = capacity.read_raise(_table(), capacity.table_arn(_table(), TABLE))
    assert held is not None
    assert list(held.holders) == ["lead-2026-04"]
    assert (held.raised.write_units or 0) > 2

    report = _import(tmp_path / "dagster")

    assert report.success, report.failure
    assert_month_exact(MONTH, rows)
    assert model.calls[("dynamodb", "UpdateTable")] == 2  # the lead's raise and the restore
    shown = describe_capacity(_table(), TABLE)
    assert (shown.billing_mode, shown.write_units, shown.read_units) == ("PROVISIONED", 2, 2)
    assert capacity.read_raise(_table(), capacity.table_arn(_table(), TABLE)) is None
