"""A table under Application Auto Scaling: a raise moves its scalable targets' minimum and
maximum (tags first), never UpdateTable; the restore puts the originals back from the tags; a
target someone changed after the raise is left with a warning. moto in-process (it keeps the
targets' figures but does not apply a minimum to the table: the targets are what is checked).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from statement_pipeline.aws import import_window, scaler
from statement_pipeline.aws.table import Capacity, describe_capacity
from statement_pipeline.cli import capacity as capacity_cli
from statement_pipeline.rules.names import CapacitySettings

TABLE = "statements"
WRITE = "dynamodb:table:WriteCapacityUnits"
READ = "dynamodb:table:ReadCapacityUnits"
LATER = datetime.now(UTC) + timedelta(hours=1)


def no_wait() -> float:
    return 0.0


@pytest.fixture
def clients(aws: None) -> tuple[Any, Any]:
    """A 20 / 20 table whose write (min 20, max 100) and read (min 20, max 40) are scaled."""
    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 20, "WriteCapacityUnits": 20},
    )
    aas = boto3.client("application-autoscaling")
    for dimension, high in ((WRITE, 100), (READ, 40)):
        _register(aas, dimension, 20, high)
    return ddb, aas


def _register(aas: Any, dimension: str, low: int, high: int) -> None:
    aas.register_scalable_target(
        ServiceNamespace="dynamodb",
        ResourceId=f"table/{TABLE}",
        ScalableDimension=dimension,
        MinCapacity=low,
        MaxCapacity=high,
    )


def _bounds(aas: Any) -> dict[str, tuple[int, int]]:
    found = aas.describe_scalable_targets(ServiceNamespace="dynamodb")["ScalableTargets"]
    return {t["ScalableDimension"]: (t["MinCapacity"], t["MaxCapacity"]) for t in found}


def _tags(ddb: Any) -> dict[str, str]:
    arn = ddb.describe_table(TableName=TABLE)["Table"]["TableArn"]
    return {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}


def _raise(ddb: Any, aas: Any, run_id: str = "run-1", wcu: int = 500, rcu: int = 30) -> str:
    want = Capacity("PROVISIONED", wcu, rcu)
    found, note = scaler.find(aas, TABLE)
    assert note is None
    outcome = scaler.acquire(
        ddb, aas, TABLE, run_id, want, found, max_wcu=4_000, expires=LATER, wait=no_wait
    )
    return outcome.message


def test_raise_moves_the_targets_min_and_max_and_tags_the_originals(clients) -> None:
    ddb, aas = clients
    _raise(ddb, aas)
    # write: min 500 is above the max 100, so the max moves too; read: 30 within 20..40.
    assert _bounds(aas) == {WRITE: (500, 500), READ: (30, 40)}
    tags = _tags(ddb)
    assert tags["statement-pipeline:capacity-scaler-write"] == "20 100 500 500"
    assert tags["statement-pipeline:capacity-scaler-read"] == "20 40 30 40"
    assert tags["statement-pipeline:capacity-scaler-run:run-1"] == "480 10"
    assert "statement-pipeline:capacity-scaler-expires" in tags
    # The table itself is not touched: no UpdateTable against the scaler, no table-raise tags.
    assert describe_capacity(ddb, TABLE).write_units == 20
    assert "statement-pipeline:capacity-original" not in tags


def test_restore_puts_back_the_original_min_and_max_and_drops_the_tags(clients) -> None:
    ddb, aas = clients
    _raise(ddb, aas)
    outcome = scaler.release(ddb, aas, TABLE, ["run-1"])
    assert outcome.changed
    assert _bounds(aas) == {WRITE: (20, 100), READ: (20, 40)}
    assert not [k for k in _tags(ddb) if k.startswith("statement-pipeline:")]


def test_two_runs_share_the_raise_and_the_last_restores(clients) -> None:
    ddb, aas = clients
    _raise(ddb, aas, "run-1", wcu=300, rcu=20)
    _raise(ddb, aas, "run-2", wcu=200, rcu=20)
    assert _bounds(aas)[WRITE] == (20 + 280 + 180, 480)
    scaler.release(ddb, aas, TABLE, ["run-1"])
    assert _bounds(aas)[WRITE] == (480, 480)
    scaler.release(ddb, aas, TABLE, ["run-2"])
    assert _bounds(aas)[WRITE] == (20, 100)


def test_a_target_changed_after_the_raise_is_left_with_a_warning(clients) -> None:
    ddb, aas = clients
    _raise(ddb, aas)
    _register(aas, WRITE, 800, 900)  # an operator moves the write target meanwhile
    outcome = scaler.release(ddb, aas, TABLE, ["run-1"])
    assert outcome.message.startswith("WARNING")
    assert "write" in outcome.message
    # The changed target stays; the untouched read target is restored.
    assert _bounds(aas) == {WRITE: (800, 900), READ: (20, 40)}
    assert not [k for k in _tags(ddb) if k.startswith("statement-pipeline:")]


def test_the_reconciler_restores_a_raise_whose_run_is_gone(clients) -> None:
    ddb, aas = clients
    _raise(ddb, aas)
    assert scaler.reconcile(ddb, aas, TABLE, lambda run: True) is None
    assert _bounds(aas)[WRITE] == (500, 500)
    outcome = scaler.reconcile(ddb, aas, TABLE, lambda run: False)
    assert outcome is not None
    assert outcome.changed
    assert _bounds(aas) == {WRITE: (20, 100), READ: (20, 40)}


def test_the_import_window_moves_the_targets_instead_of_updating_the_table(clients) -> None:
    ddb, aas = clients
    settings = CapacitySettings("raise", 60, 4_000)
    load = import_window.month_load(23_300, 600, import_window.writer_rate(4))
    report = import_window.open_window(
        ddb,
        TABLE,
        "run-1",
        settings,
        load,
        running=lambda run: True,
        hold_seconds=900,
        wait=no_wait,
        aas=aas,
    )
    assert report.scaled
    raised_min = _bounds(aas)[WRITE][0]
    assert 20 < raised_min <= 4_000
    assert describe_capacity(ddb, TABLE).write_units == 20  # the scaler's to apply, not ours
    import_window.close_window(ddb, TABLE, "run-1", report, wait=no_wait, aas=aas)
    assert _bounds(aas) == {WRITE: (20, 100), READ: (20, 40)}


def test_capacity_restore_puts_back_an_orphaned_scalable_target_raise(
    clients, capsys: pytest.CaptureFixture[str]
) -> None:
    ddb, aas = clients
    _raise(ddb, aas)
    assert capacity_cli.run(argparse.Namespace(action="restore", expired_only=False)) == 0
    assert "scalable targets restored" in capsys.readouterr().out
    assert _bounds(aas) == {WRITE: (20, 100), READ: (20, 40)}


def test_capacity_status_shows_a_scalable_target_raise(
    clients, capsys: pytest.CaptureFixture[str]
) -> None:
    ddb, aas = clients
    _raise(ddb, aas)
    assert capacity_cli.run(argparse.Namespace(action="status", expired_only=False)) == 0
    out = capsys.readouterr().out
    assert (
        "write min 20 max 100, read min 20 max 40 -> write min 500 max 500, read min 30 max 40"
        in out
    )
    assert "held by run   run-1" in out


def test_the_dry_run_plans_register_scalable_target_not_update_table(clients) -> None:
    ddb, aas = clients
    settings = CapacitySettings("raise", 60, 4_000)
    load = import_window.month_load(23_300, 600, import_window.writer_rate(4))
    lines = import_window.planned_calls(ddb, TABLE, settings, load, aas)
    assert not [line for line in lines if line.startswith("UpdateTable")]
    assert [line for line in lines if line.startswith("RegisterScalableTarget table/statements")]
    assert _bounds(aas) == {WRITE: (20, 100), READ: (20, 40)}  # it only reads
