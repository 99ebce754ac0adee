"""The capacity policy through the real import job, against the capacity model in front of moto.

The model answers UpdateTable the way DynamoDB does (UPDATING, quotas), with a short UPDATING
here so that the tests stay quick. The 20 WCU month runs uncompressed (k=1): under compression
DescribeTable shows rates x k, and a raise would be sized for that compressed world.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from statement_harness.capacity_proxy import CapacityProxy
from statement_harness.scenarios import assert_month_exact, put_files, run_in_process, setup_aws
from statement_pipeline.aws import capacity
from statement_pipeline.aws.bootstrap import TableSettings
from statement_pipeline.aws.table import describe_capacity
from statement_pipeline.cli.job_runner import RunReport, tuning_run_config
from statement_pipeline.rules.csv_records import COLUMNS
from statement_samples import generate_rows, render_csv

MONTH = "2026-04"
TABLE = "statements"
TABLE_20 = TableSettings("PROVISIONED", 20, 20)
UPDATING_SECONDS = 3.0


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


def test_keep_never_calls_update_table(model: CapacityProxy, tmp_path: Path) -> None:
    """No capacity setting at all: not one UpdateTable, nor any tag call, on the wire."""
    setup_aws(TABLE_20)
    rows = _month(2_000)

    report = _import(tmp_path / "dagster")

    assert report.success, report.failure
    assert_month_exact(MONTH, rows)
    for operation in ("UpdateTable", "TagResource", "UntagResource", "ListTagsOfResource"):
        assert model.calls[("dynamodb", operation)] == 0, operation
    assert report.materializations["loaded_statements"]["capacity_policy"] == "keep"


def test_raise_writes_the_experiments_month_within_the_target_and_restores_20_20(
    model: CapacityProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """23,300 statements, 20/20 table, target 60 s: within 75 s, never above the maximum."""
    monkeypatch.setenv("STATEMENT_CAPACITY_POLICY", "raise")
    monkeypatch.setenv("STATEMENT_CAPACITY_MAX_WCU", "400")
    setup_aws(TABLE_20)
    rows = _month(23_300)
    model.reset_stats()

    report = _import(tmp_path / "dagster")

    assert report.success, report.failure
    assert_month_exact(MONTH, rows)
    assert model.stats().aws_write_seconds <= 1.25 * 60
    assert model.calls[("dynamodb", "UpdateTable")] == 2  # the raise and the restore
    assert model.model.partitions(TABLE) == 1
    loaded = report.materializations["loaded_statements"]
    assert 20 < loaded["provisioned_wcu"] <= 400
    assert loaded["capacity_cost_usd"] > 0
    shown = describe_capacity(_table(), TABLE)
    assert (shown.billing_mode, shown.write_units, shown.read_units) == ("PROVISIONED", 20, 20)
    arn = capacity.table_arn(_table(), TABLE)
    assert capacity.read_raise(_table(), arn) is None


def test_a_raise_left_by_a_killed_run_is_restored_when_the_month_runs_again(
    model: CapacityProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The killed run's raise is on the table (its tags); the next import restores it first."""
    monkeypatch.setenv("STATEMENT_CAPACITY_POLICY", "raise")
    setup_aws(TABLE_20)
    rows = _month(2_000)
    ddb = _table()
    # What a raise run killed mid-load leaves: tags for a run this instance never finished.
    capacity.acquire(
        ddb,
        TABLE,
        "killed-run",
        capacity.Capacity("PROVISIONED", 300, 20),
        max_wcu=4_000,
        expires=datetime.now(UTC) + timedelta(hours=1),
        wait=lambda: capacity.wait_active(ddb, TABLE, poll=0.2),
    )
    assert describe_capacity(ddb, TABLE).write_units == 300

    report = _import(tmp_path / "dagster")

    assert report.success, report.failure
    assert_month_exact(MONTH, rows)
    shown = describe_capacity(ddb, TABLE)
    assert (shown.billing_mode, shown.write_units, shown.read_units) == ("PROVISIONED", 20, 20)
    assert capacity.read_raise(ddb, capacity.table_arn(ddb, TABLE)) is None


def test_on_demand_switches_the_table_and_back(
    model: CapacityProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATEMENT_CAPACITY_POLICY", "on_demand")
    setup_aws(TABLE_20)
    rows = _month(2_000)

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
