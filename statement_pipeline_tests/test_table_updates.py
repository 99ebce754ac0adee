"""UpdateTable in the capacity model: UPDATING, the quotas, partitions that never merge.

moto is ACTIVE at once after any UpdateTable and has no limits; the model in front of it answers
the way DynamoDB does (statement_harness/table_updates.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from statement_harness.capacity_model import CapacityModel, TableCapacity, WriteItem
from statement_harness.capacity_proxy import CapacityProxy
from statement_harness.table_updates import UpdateRefused

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
PROVISIONED = TableCapacity.provisioned


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_raise_is_updating_for_a_while_and_keeps_the_old_rate() -> None:
    clock = FakeClock()
    model = CapacityModel(burst="empty", clock=clock, updating_seconds=120)
    model.configure("t", PROVISIONED(20, 20))
    model.update("t", PROVISIONED(300, 20))
    clock.now = 1.0
    assert model.updating("t") == PROVISIONED(20, 20)
    # Still 20 units a second: 20 of 100 offered one second in.
    assert sum(model.write([WriteItem("t", f"k{i}", 1) for i in range(100)]).accepted) == 20
    with pytest.raises(UpdateRefused) as busy:
        model.update("t", PROVISIONED(400, 20))
    assert busy.value.code == "ResourceInUseException"
    clock.now = 120.0
    assert model.updating("t") is None
    assert model.capacity("t") == PROVISIONED(300, 20)


def test_time_compression_shortens_updating_like_everything_else() -> None:
    clock = FakeClock()
    model = CapacityModel(k=60, clock=clock, updating_seconds=120)
    model.configure("t", PROVISIONED(20, 20))
    model.update("t", PROVISIONED(300, 20))
    clock.now = 1.9  # 114 AWS seconds
    assert model.updating("t") is not None
    clock.now = 2.0  # 120 AWS seconds
    assert model.updating("t") is None


def test_a_change_that_changes_nothing_is_a_validation_error() -> None:
    model = CapacityModel(clock=FakeClock())
    model.configure("t", PROVISIONED(20, 20))
    with pytest.raises(UpdateRefused) as same:
        model.update("t", PROVISIONED(20, 20))
    assert same.value.code == "ValidationException"
    assert "will not change" in same.value.message


def test_decreases_four_at_once_then_one_an_hour() -> None:
    clock = FakeClock()
    model = CapacityModel(clock=clock, updating_seconds=10)
    model.updates.epoch = 0.0  # model time 0 is midnight UTC
    model.configure("t", PROVISIONED(100, 5))
    for wcu in (90, 80, 70, 60):
        model.update("t", PROVISIONED(wcu, 5))
        clock.now += 10
    with pytest.raises(UpdateRefused) as refused:
        model.update("t", PROVISIONED(50, 5))
    assert refused.value.code == "LimitExceededException"
    assert "Number of decreases today: 4" in refused.value.message
    # The 4th decrease was at 30 s: the next may be made at 3,630 s, 01:00:30 UTC.
    assert "Next decrease can be made at Thursday, January 01, 1970 01:00:30 AM UTC" in (
        refused.value.message
    )
    model.update("t", PROVISIONED(200, 5))  # increases are never limited
    clock.now = 3_630.0
    model.update("t", PROVISIONED(50, 5))
    assert model.decreases_today("t")[0] == 5
    clock.now = 86_400.0  # a new UTC day
    assert model.decreases_today("t") == (0, None)


def test_four_switches_to_on_demand_in_24_hours_then_refused_and_back_at_any_time() -> None:
    clock = FakeClock()
    model = CapacityModel(clock=clock, updating_seconds=1)
    model.configure("t", PROVISIONED(20, 20))
    for _ in range(4):
        model.update("t", TableCapacity.pay_per_request())
        clock.now += 1
        model.update("t", PROVISIONED(20, 20))  # back: not a decrease, not limited
        clock.now += 1
    with pytest.raises(UpdateRefused) as refused:
        model.update("t", TableCapacity.pay_per_request())
    assert refused.value.code == "LimitExceededException"
    clock.now = 86_400.0 + 1
    model.update("t", TableCapacity.pay_per_request())


def test_partitions_split_past_1000_wcu_and_never_merge() -> None:
    clock = FakeClock()
    model = CapacityModel(burst="empty", clock=clock, updating_seconds=1)
    model.configure("t", PROVISIONED(20, 20))
    model.update("t", PROVISIONED(2_500, 20))
    clock.now = 1.0
    assert model.partitions("t") == 3
    model.update("t", PROVISIONED(20, 20))
    clock.now = 2.0
    assert (model.capacity("t"), model.partitions("t")) == (PROVISIONED(20, 20), 3)


# --- through the proxy, as boto3 sees it ------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def proxy(moto_endpoint: str, clock: FakeClock) -> Iterator[CapacityProxy]:
    boto3.client("dynamodb", endpoint_url=moto_endpoint).create_table(
        TableName="statements",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 20, "WriteCapacityUnits": 20},
    )
    with CapacityProxy(moto_endpoint, clock=clock, updating_seconds=60) as capacity:
        yield capacity


def _throughput(wcu: int, rcu: int = 20) -> dict[str, Any]:
    return {"ProvisionedThroughput": {"ReadCapacityUnits": rcu, "WriteCapacityUnits": wcu}}


def _error(call: Any) -> str:
    with pytest.raises(ClientError) as error:
        call()
    return str(error.value.response["Error"]["Code"])


def test_update_table_behaves_as_dynamodb_does(proxy: CapacityProxy, clock: FakeClock) -> None:
    """UPDATING with the old capacity, ResourceInUse, no-change Validation, refused decrease."""
    client = boto3.client("dynamodb", endpoint_url=proxy.endpoint, config=NO_RETRIES)
    answer = client.update_table(TableName="statements", **_throughput(300))
    assert answer["TableDescription"]["TableStatus"] == "UPDATING"
    shown = client.describe_table(TableName="statements")["Table"]
    assert shown["TableStatus"] == "UPDATING"
    assert shown["ProvisionedThroughput"]["WriteCapacityUnits"] == 20
    assert _error(lambda: client.update_table(TableName="statements", **_throughput(400))) == (
        "ResourceInUseException"
    )
    clock.now = 60.0
    shown = client.describe_table(TableName="statements")["Table"]
    assert (shown["TableStatus"], shown["ProvisionedThroughput"]["WriteCapacityUnits"]) == (
        "ACTIVE",
        300,
    )
    assert _error(lambda: client.update_table(TableName="statements", **_throughput(300))) == (
        "ValidationException"
    )
    for step, wcu in enumerate((200, 100, 50, 20), start=2):
        client.update_table(TableName="statements", **_throughput(wcu))
        clock.now = 60.0 * step
    assert _error(lambda: client.update_table(TableName="statements", **_throughput(10))) == (
        "LimitExceededException"
    )
    shown = client.describe_table(TableName="statements")["Table"]["ProvisionedThroughput"]
    assert (shown["WriteCapacityUnits"], shown["NumberOfDecreasesToday"]) == (20, 4)
    assert proxy.calls[("dynamodb", "UpdateTable")] == 8
