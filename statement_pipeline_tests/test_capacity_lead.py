"""The raise ahead of the monthly import (STATEMENT_CAPACITY_LEAD_MINUTES): when the lead is
due, the lead schedule's evaluation raising the table for the closed month's files, the import
adopting that raise without another UpdateTable, and a lead nobody adopted restored once it
expires. moto in-process (UpdateTable applies at once there).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from statement_pipeline.aws import capacity, import_window
from statement_pipeline.aws.table import describe_capacity
from statement_pipeline.cli import capacity as capacity_cli
from statement_pipeline.definitions import defs
from statement_pipeline.resources import DynamoDBResource, ImportTuning, StatementFilesResource
from statement_pipeline.rules.capacity_lead import lead_due
from statement_pipeline.rules.names import CapacitySettings
from statement_pipeline.schedules import capacity_lead_schedule
from statement_pipeline.sensors import run_is_running
from statement_samples.generator import COLUMNS, generate_rows, render_csv

TABLE = "statements"
BUCKET = "statements"
ROWS = 2_400
LEAD_HOLDER_TAG = "statement-pipeline:capacity-run:lead-2026-10"
# 23:00 UTC on 31 October: four hours before the monthly tick (03:00 UTC, 1 November).
FOUR_HOURS_AHEAD = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "lead", "due"),
    [
        (FOUR_HOURS_AHEAD, 240, datetime(2026, 11, 1, 3, 0, tzinfo=UTC)),
        (FOUR_HOURS_AHEAD, 239, None),  # the lead has not begun
        (FOUR_HOURS_AHEAD, 0, None),  # no lead: off
        (datetime(2026, 11, 1, 3, 0, tzinfo=UTC), 240, None),  # the import's own tick
        (datetime(2026, 12, 1, 2, 50, tzinfo=UTC), 30, datetime(2026, 12, 1, 3, 0, tzinfo=UTC)),
    ],
)
def test_the_lead_is_due_within_its_minutes_before_the_monthly_tick(
    moment: datetime, lead: int, due: datetime | None
) -> None:
    assert lead_due(moment, lead) == due


def test_the_lead_schedule_is_in_the_definitions_only_with_a_lead_and_a_raise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def names() -> set[str]:
        return {s.name for s in defs().schedules or []}

    monkeypatch.setenv("STATEMENT_CAPACITY_LEAD_MINUTES", "30")
    assert "capacity_lead_schedule" not in names()  # keep: nothing to raise
    monkeypatch.setenv("STATEMENT_CAPACITY_POLICY", "raise")
    assert "capacity_lead_schedule" in names()
    monkeypatch.setenv("STATEMENT_CAPACITY_LEAD_MINUTES", "0")
    assert "capacity_lead_schedule" not in names()


@pytest.fixture
def ddb(aws: None) -> Any:
    """A 2 / 2 table, and October's 2,400 statements in the bucket."""
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 2, "WriteCapacityUnits": 2},
    )
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name}
    )
    body = render_csv(COLUMNS, generate_rows("2026-10", ROWS))
    s3.put_object(Bucket=BUCKET, Key="statements/2026-10/part-1.csv", Body=body)
    return client


def _tick(moment: datetime, lead: int) -> dg.SkipReason:
    resources = {
        "statement_table": DynamoDBResource(
            table_name=TABLE,
            capacity_policy="raise",
            capacity_target_seconds=10,
            capacity_lead_minutes=lead,
        ),
        "statement_files": StatementFilesResource(s3=S3Resource(), bucket=BUCKET),
        "import_tuning": ImportTuning(),
    }
    with dg.build_schedule_context(scheduled_execution_time=moment, resources=resources) as ctx:
        result = capacity_lead_schedule(ctx)
    assert isinstance(result, dg.SkipReason)
    return result


def _tags(ddb: Any) -> dict[str, str]:
    arn = ddb.describe_table(TableName=TABLE)["Table"]["TableArn"]
    return {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}


def _settings() -> CapacitySettings:
    return CapacitySettings("raise", 10, 4_000)


def _import_load() -> import_window.MonthLoad:
    """What the import itself asks for October's 2,400 statements once they are queued."""
    return import_window.month_load(ROWS, 600, import_window.writer_rate(4))


def test_the_lead_tick_raises_the_table_under_the_lead_holder(ddb: Any) -> None:
    _tick(FOUR_HOURS_AHEAD - timedelta(minutes=10), 240)  # before the lead: nothing
    assert describe_capacity(ddb, TABLE).write_units == 2
    assert LEAD_HOLDER_TAG not in _tags(ddb)
    result = _tick(FOUR_HOURS_AHEAD, 240)
    assert "2026-10 lead (1 files" in (result.skip_message or "")
    assert describe_capacity(ddb, TABLE).write_units > 2
    assert LEAD_HOLDER_TAG in _tags(ddb)
    assert _tags(ddb)["statement-pipeline:capacity-original"] == "PROVISIONED 2 2"


def test_the_import_adopts_the_lead_raise_without_another_update_table(ddb: Any) -> None:
    _tick(FOUR_HOURS_AHEAD, 240)
    raised = describe_capacity(ddb, TABLE)
    updates: list[dict] = []
    ddb.meta.events.register(
        "provide-client-params.dynamodb.UpdateTable", lambda params, **_: updates.append(params)
    )
    report = import_window.open_window(
        ddb,
        TABLE,
        "run-1",
        _settings(),
        _import_load(),
        running=lambda run: True,
        hold_seconds=900,
        wait=lambda: 0.0,
        adopt="lead-2026-10",
    )
    assert updates == []  # the UPDATING happened during the lead, not in the window
    assert describe_capacity(ddb, TABLE) == raised
    tags = _tags(ddb)
    assert LEAD_HOLDER_TAG not in tags
    assert "statement-pipeline:capacity-run:run-1" in tags
    import_window.close_window(ddb, TABLE, "run-1", report, wait=lambda: 0.0)
    assert describe_capacity(ddb, TABLE).write_units == 2
    assert describe_capacity(ddb, TABLE).read_units == 2


def test_a_lead_nobody_adopted_is_kept_until_it_expires_then_restored(ddb: Any) -> None:
    _tick(FOUR_HOURS_AHEAD, 240)
    with dg.DagsterInstance.ephemeral() as instance:

        def running(run_id: str) -> bool:
            return run_is_running(instance, run_id)

        # No run holds it, yet the reconciler leaves it: the import is still to come.
        assert capacity.reconcile(ddb, TABLE, running, wait=lambda: 0.0) is None
        assert describe_capacity(ddb, TABLE).write_units > 2
        # Past lead + the import's deadline (+ 2 UPDATING estimates), it is restored.
        past = datetime.now(UTC) + timedelta(minutes=240) + timedelta(days=1)
        outcome = capacity.reconcile(ddb, TABLE, running, wait=lambda: 0.0, now=past)
    assert outcome is not None
    assert outcome.changed
    assert describe_capacity(ddb, TABLE).write_units == 2
    assert LEAD_HOLDER_TAG not in _tags(ddb)


def test_capacity_restore_restores_a_lead_raise_before_its_expiry(
    ddb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The operator's restore treats every holder as gone, a lead's too."""
    _tick(FOUR_HOURS_AHEAD, 240)
    assert capacity_cli.run(argparse.Namespace(action="restore", expired_only=False)) == 0
    assert describe_capacity(ddb, TABLE).write_units == 2
    assert LEAD_HOLDER_TAG not in _tags(ddb)
