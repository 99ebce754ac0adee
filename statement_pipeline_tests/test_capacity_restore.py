"""The restore's branches, on the capacity model's clock: a table someone else changed, a
decrease the day's quota refuses, on-demand switches spent, a raise shared by two months, and
the reconciler sensor. aws/capacity.py against `CapacityProxy` in front of moto (fast: the
model's UPDATING passes when the fake clock moves, no wall-clock wait).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import dagster as dg
import pytest
from botocore.config import Config

from statement_harness.capacity_proxy import CapacityProxy
from statement_pipeline.aws import capacity
from statement_pipeline.aws.table import Capacity, describe_capacity
from statement_pipeline.resources import DynamoDBResource
from statement_pipeline.sensors import capacity_reconciler_sensor

TABLE = "statements"
UPDATING = 60.0  # AWS seconds the model keeps the table UPDATING
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
LATER = datetime.now(UTC) + timedelta(hours=1)


def provisioned(wcu: int, rcu: int = 20) -> Capacity:
    return Capacity("PROVISIONED", wcu, rcu)


class Clock:
    """The model's clock (AWS seconds from midnight UTC, 1 January 1970)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def wait(self) -> float:
        """A wait for ACTIVE: the model's UPDATING passes."""
        self.now += UPDATING
        return UPDATING


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ddb(moto_endpoint: str, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A 20 / 20 table behind the capacity model; a client that talks to the model."""
    boto3.client("dynamodb", endpoint_url=moto_endpoint).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 20, "WriteCapacityUnits": 20},
    )
    with CapacityProxy(moto_endpoint, clock=clock, updating_seconds=UPDATING) as proxy:
        proxy.model.updates.epoch = 0.0  # model time 0 is midnight UTC, 1 January 1970
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint)
        client = boto3.client("dynamodb", endpoint_url=proxy.endpoint, config=NO_RETRIES)
        client.proxy = proxy  # type: ignore[attr-defined]
        yield client


def _set(ddb: Any, clock: Clock, to: Capacity) -> None:
    """Someone (an operator, another tool) changes the table, and it applies."""
    if to.provisioned:
        ddb.update_table(
            TableName=TABLE,
            BillingMode="PROVISIONED",
            ProvisionedThroughput={
                "ReadCapacityUnits": to.read_units,
                "WriteCapacityUnits": to.write_units,
            },
        )
    else:
        ddb.update_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST")
    clock.wait()


def _raise(ddb: Any, clock: Clock, run: str, want: Capacity, **kwargs: Any) -> capacity.Outcome:
    return capacity.acquire(
        ddb, TABLE, run, want, max_wcu=4_000, expires=LATER, wait=clock.wait, **kwargs
    )


def _held(ddb: Any) -> capacity.Raise | None:
    return capacity.read_raise(ddb, capacity.table_arn(ddb, TABLE))


def _updates(ddb: Any) -> int:
    return int(ddb.proxy.calls[("dynamodb", "UpdateTable")])


def test_a_capacity_changed_after_the_raise_is_left_with_a_warning(ddb: Any, clock: Clock) -> None:
    _raise(ddb, clock, "run-a", provisioned(120))
    _set(ddb, clock, provisioned(150))  # not the raise the tags record

    outcome = capacity.release(ddb, TABLE, ["run-a"], wait=clock.wait)

    assert outcome.message.startswith("WARNING")
    assert "someone else changed it" in outcome.message
    assert describe_capacity(ddb, TABLE) == provisioned(150)
    assert _updates(ddb) == 2  # the raise and the other change: no restore was tried
    assert _held(ddb) is None


def test_a_restore_the_quota_refuses_is_deferred_then_made_by_a_later_reconcile(
    ddb: Any, clock: Clock
) -> None:
    # The day's 4 free decreases spent: 20 -> 100, then 90, 80, 70, 60 (the 4th at 240 s).
    for wcu in (100, 90, 80, 70, 60):
        _set(ddb, clock, provisioned(wcu))
    assert clock.now == 300.0
    _raise(ddb, clock, "run-a", provisioned(300))

    deferred = capacity.release(ddb, TABLE, ["run-a"], wait=clock.wait)

    # One more decrease an hour after the last: 240 s + 3,600 s = 01:04:00 UTC.
    assert deferred.deferred_until == datetime(1970, 1, 1, 1, 4, 0, tzinfo=UTC)
    assert "retried from 1970-01-01 01:04 UTC" in deferred.message
    assert describe_capacity(ddb, TABLE) == provisioned(300)
    held = _held(ddb)
    assert held is not None
    assert (held.original, held.holders) == (provisioned(60), {})
    assert capacity.reconcile(ddb, TABLE, lambda _run: False, wait=clock.wait) is not None
    assert describe_capacity(ddb, TABLE) == provisioned(300)  # still refused before 01:04

    clock.now = 3_900.0
    restored = capacity.reconcile(ddb, TABLE, lambda _run: False, wait=clock.wait)

    assert restored is not None
    assert restored.changed
    assert describe_capacity(ddb, TABLE) == provisioned(60)
    assert _held(ddb) is None


def test_on_demand_with_the_days_switches_spent_falls_back_to_a_raise(
    ddb: Any, clock: Clock
) -> None:
    for _ in range(4):  # the 4 switches to on-demand of a rolling 24 hours
        _set(ddb, clock, Capacity("PAY_PER_REQUEST", None, None))
        _set(ddb, clock, provisioned(20))

    outcome = _raise(
        ddb, clock, "run-a", Capacity("PAY_PER_REQUEST", None, None), fallback=provisioned(200)
    )

    assert "the 4 switches to on-demand of the last 24 hours are spent" in outcome.message
    assert describe_capacity(ddb, TABLE) == provisioned(200)
    capacity.release(ddb, TABLE, ["run-a"], wait=clock.wait)
    assert describe_capacity(ddb, TABLE) == provisioned(20)
    assert _held(ddb) is None


def test_two_months_at_once_share_one_raise_restored_when_the_last_ends(
    ddb: Any, clock: Clock
) -> None:
    _raise(ddb, clock, "run-a", provisioned(120))  # +100 WCU for its month
    _raise(ddb, clock, "run-b", provisioned(170))  # +150 WCU for its month
    assert describe_capacity(ddb, TABLE) == provisioned(270)  # 20 + 100 + 150

    first = capacity.release(ddb, TABLE, ["run-a"], wait=clock.wait)

    assert "stays for 1 other run" in first.message
    assert describe_capacity(ddb, TABLE) == provisioned(270)
    capacity.release(ddb, TABLE, ["run-b"], wait=clock.wait)
    assert describe_capacity(ddb, TABLE) == provisioned(20)
    assert _held(ddb) is None
    assert _updates(ddb) == 3  # a's raise, b's growth, the one restore


def _tick(ddb: Any, clock: Clock, instance: dg.DagsterInstance) -> str:
    """One evaluation of the reconciler sensor; the model's UPDATING then passes."""
    context = dg.build_sensor_context(
        instance=instance, resources={"statement_table": DynamoDBResource(table_name=TABLE)}
    )
    result = capacity_reconciler_sensor(context)
    clock.wait()
    assert isinstance(result, dg.SkipReason)
    return str(result.skip_message)


def _started(instance: dg.DagsterInstance, run_id: str) -> None:
    instance.add_run(
        dg.DagsterRun(
            job_name="import_statements_job", run_id=run_id, status=dg.DagsterRunStatus.STARTED
        )
    )


def test_the_reconciler_sensor_leaves_a_running_runs_raise(ddb: Any, clock: Clock) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        _started(instance, "live-run")
        _raise(ddb, clock, "live-run", provisioned(120))

        assert "no raise to restore" in _tick(ddb, clock, instance)

    assert describe_capacity(ddb, TABLE) == provisioned(120)
    assert _held(ddb) is not None


@pytest.mark.parametrize("gone", ["unknown run", "finished", "expired", "dead process"])
def test_the_reconciler_sensor_restores_an_orphaned_raise(
    ddb: Any, clock: Clock, gone: str
) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with dg.DagsterInstance.ephemeral() as instance:
        if gone != "unknown run":
            _started(instance, "the-run")
        if gone == "finished":
            instance.report_run_failed(instance.get_run_by_id("the-run"))
        expires = datetime.now(UTC) - timedelta(seconds=1) if gone == "expired" else LATER
        process = (capacity.this_process()[0], int(dead.stdout)) if gone == "dead process" else None
        capacity.acquire(
            ddb,
            TABLE,
            "the-run",
            provisioned(120),
            max_wcu=4_000,
            expires=expires,
            wait=clock.wait,
            process=process,
        )

        assert "restored" in _tick(ddb, clock, instance)

    assert describe_capacity(ddb, TABLE) == provisioned(20)
    assert _held(ddb) is None
