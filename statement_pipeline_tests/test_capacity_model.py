# Over 350 lines: the model's cases and the proxy's moto round trips share helpers here.
"""The DynamoDB capacity model (pure, fake clock) and its proxy in front of a real moto server."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from statement_harness.capacity_model import (
    Burst,
    CapacityModel,
    TableCapacity,
    WriteItem,
    item_size,
    min_write_seconds,
    partition_of,
    read_units,
    write_units,
)
from statement_harness.capacity_proxy import CapacityProxy
from statement_pipeline.aws import clients

# `max_attempts` counts retries (1 = one retry); `total_max_attempts` counts the first try too.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def model_with(
    cap: TableCapacity, *, burst: Burst = "full", k: float = 1.0, table: str = "t"
) -> tuple[CapacityModel, FakeClock]:
    """A model of one table `table` on a fake clock at 0."""
    clock = FakeClock()
    model = CapacityModel(k=k, burst=burst, clock=clock)
    model.configure(table, cap)
    return model, clock


def offer(model: CapacityModel, keys: Sequence[str], table: str = "t") -> int:
    """Offer one 1-WCU put per key, in batches of 25; how many were accepted."""
    accepted = 0
    for start in range(0, len(keys), 25):
        batch = [WriteItem(table, key, 1) for key in keys[start : start + 25]]
        accepted += sum(model.write(batch).accepted)
    return accepted


def spread(n: int) -> list[str]:
    return [f"key-{i}" for i in range(n)]


# --- pure model -------------------------------------------------------------------------


def test_item_size_and_write_cost() -> None:
    assert item_size({"pk": {"S": "abc"}}) == 5
    # 12345 significant digits (trailing zero trimmed): 3 bytes + 1.
    assert item_size({"n": {"N": "-123.450"}}) == 1 + 4
    assert item_size({"b": {"B": "AAECAwQFBgcICQ=="}, "ok": {"BOOL": True}}) == 1 + 10 + 2 + 1
    # Lists and maps: 3 bytes, plus 1 per element.
    assert item_size({"l": {"L": [{"S": "a"}, {"N": "1"}]}}) == 1 + 3 + (1 + 1) + (2 + 1)
    assert item_size({"m": {"M": {"x": {"S": "yz"}}}, "s": {"SS": ["a", "bc"]}}) == 8 + 4
    assert [write_units(n) for n in (0, 300, 1024, 1025, 2048, 400 * 1024)] == [1, 1, 1, 2, 2, 400]


def test_burst_full_takes_300s_of_capacity_at_the_partition_rate_and_empty_only_wcu() -> None:
    full, full_clock = model_with(TableCapacity.provisioned(100), burst="full")
    empty, empty_clock = model_with(TableCapacity.provisioned(100), burst="empty")
    # One partition: a full burst is spent at 1,000 WCU/s, an empty bucket gives 100 WCU/s.
    assert (offer(full, spread(1500)), offer(empty, spread(1500))) == (1000, 0)
    full_clock.now = empty_clock.now = 1.0
    assert (offer(full, spread(1500)), offer(empty, spread(1500))) == (1000, 100)
    # 30,000 burst units: at 1,000/s they last ~32 s (with 100/s refill), then 100/s.
    for second in range(2, 40):
        full_clock.now = second
        offer(full, spread(1500))
    assert full.stats().units_accepted == 30_000 + 100 * 39
    empty_clock.now = 2.0  # the partition bucket refills (1 s); the burst is set by hand
    empty.set_burst("t", "full")
    assert offer(empty, spread(1500)) == 1000


def test_one_key_value_is_held_to_1000_wcu_even_on_a_40000_wcu_table() -> None:
    model, clock = model_with(TableCapacity.provisioned(40_000))
    assert offer(model, ["2025-11"] * 1500) == 1000
    outcome = model.write([WriteItem("t", "2025-11", 1)])
    assert outcome.failed
    assert outcome.throttle is not None
    assert outcome.throttle.reason == "TableWriteKeyRangeThroughputExceeded"
    # Other key values still write, except in the hot key's own partition.
    hot = partition_of("t", "2025-11", 40)
    elsewhere = sum(partition_of("t", key, 40) != hot for key in spread(1500))
    assert offer(model, spread(1500)) == elsewhere
    clock.now = 0.5
    assert offer(model, ["2025-11"] * 1500) == 500
    assert model.stats().key_units["t"]["2025-11"] == 1500


def test_partition_limit_is_shared_by_the_key_values_in_it() -> None:
    model, _ = model_with(TableCapacity.provisioned(2000))  # 2 partitions
    by_partition: dict[int, list[str]] = {0: [], 1: []}
    for key in spread(20):
        by_partition[partition_of("t", key, 2)].append(key)
    a, b = by_partition[0][:2]
    c = by_partition[1][0]
    assert offer(model, [a] * 600) == 600
    assert offer(model, [b] * 600) == 400  # same partition: 1,000 WCU/s between them
    assert offer(model, [c] * 600) == 600  # the other partition is untouched


def test_on_demand_table_sustains_4000_wcu_without_a_300s_burst() -> None:
    model, clock = model_with(TableCapacity.pay_per_request())
    assert TableCapacity.pay_per_request().partitions == 4
    assert offer(model, spread(6000)) == 4000
    clock.now = 100.0  # idle time does not build a burst on demand
    assert offer(model, spread(6000)) == 4000
    outcome = model.write([WriteItem("t", "other", 1)])
    assert outcome.failed
    assert outcome.throttle is not None
    assert outcome.throttle.code == "ThrottlingException"
    bigger, _ = model_with(TableCapacity.pay_per_request(wcu=8000))
    assert offer(bigger, spread(12_000)) == 8000


def test_batch_is_decided_item_by_item_in_order() -> None:
    model, clock = model_with(TableCapacity.provisioned(10), burst="empty")
    clock.now = 1.0  # 10 units
    outcome = model.write(
        [WriteItem("t", f"k{i}", units) for i, units in enumerate([4, 4, 4, 1, 1])]
    )
    assert outcome.accepted == (True, True, False, True, True)
    assert outcome.units == {"t": 10}
    assert not outcome.failed
    clock.now = 2.0
    outcome = model.write([WriteItem("t", f"k{i}", 1) for i in range(25)])
    assert outcome.accepted == (True,) * 10 + (False,) * 15


def test_no_item_accepted_fails_the_whole_call() -> None:
    model, _ = model_with(TableCapacity.provisioned(5), burst="empty")
    outcome = model.write([WriteItem("t", f"k{i}", 1) for i in range(25)])
    assert outcome.failed
    assert outcome.throttle is not None
    assert outcome.throttle.code == "ProvisionedThroughputExceededException"
    assert outcome.throttle.reason == "TableWriteProvisionedThroughputExceeded"
    model.write([])
    stats = model.stats()
    assert (stats.write_calls, stats.failed_calls, stats.partial_calls) == (2, 1, 0)
    assert stats.throttled_write_call_share == 0.5
    model.reset_stats()
    assert model.stats().write_calls == 0


def test_time_compression_scales_rates_and_keeps_burst_units() -> None:
    # An empty 10 WCU bucket: 1 measured second is 60 AWS seconds at k=60.
    empty, clock = model_with(TableCapacity.provisioned(10), burst="empty", k=60)
    clock.now = 1.0
    assert offer(empty, spread(1000)) == 600
    totals = []
    for k in (1.0, 60.0):
        model, clock = model_with(TableCapacity.provisioned(10), k=k)
        for aws_second in range(10):
            clock.now = aws_second / k
            offer(model, spread(2000))
        totals.append(model.stats().units_accepted)
        assert model.stats().aws_write_seconds == pytest.approx(9.0)
    # 3,000 burst units (300 x 10 WCU) plus 10 WCU for 9 AWS seconds, whatever k.
    assert totals == [3090, 3090]


def test_read_units_per_started_4_kb_halved_when_eventually_consistent() -> None:
    assert [read_units(n, consistent=True) for n in (0, 1, 4096, 4097, 8193)] == [1, 1, 1, 2, 3]
    assert [read_units(n, consistent=False) for n in (0, 4096, 4097, 8193)] == [0.5, 0.5, 1, 1.5]


def test_reads_throttle_while_the_read_bucket_is_in_debt() -> None:
    model, clock = model_with(TableCapacity.provisioned(10, rcu=1), burst="empty")
    assert model.check_read("t", "k") is None  # at zero, not below: DynamoDB lets it read
    model.record_read(False, [("t", "k", 5.0)])
    throttle = model.check_read("t", "k")
    assert throttle is not None
    assert throttle.reason == "TableReadProvisionedThroughputExceeded"
    clock.now = 5.0
    assert model.check_read("t") is None
    stats = model.stats()
    assert (stats.read_calls, stats.read_units) == (1, 5.0)


def test_min_write_seconds_matches_the_capacity_table() -> None:
    month = {f"account-{i}": 1.0 for i in range(23_300)}  # 23,300 items of 1 WCU
    big = {f"account-{i}": 1.0 for i in range(233_000)}
    provisioned = TableCapacity.provisioned
    assert min_write_seconds(provisioned(20, 20), month) == pytest.approx(865)
    assert min_write_seconds(provisioned(20, 20), big) == pytest.approx(11_350)
    for wcu in (80, 160):  # burst covers it; one partition holds it to 1,000/s
        assert min_write_seconds(provisioned(wcu, wcu), month) == pytest.approx(23.3)
    assert min_write_seconds(provisioned(80, 80), big) == pytest.approx(2612.5)
    assert min_write_seconds(provisioned(160, 160), big) == pytest.approx(1156.25)
    assert min_write_seconds(provisioned(20, 20), month, burst="empty") == pytest.approx(1165)
    on_demand = TableCapacity.pay_per_request()
    assert min_write_seconds(on_demand, {"2025-11": 23_300}) == pytest.approx(23.3)
    assert min_write_seconds(on_demand, {"2025-11": 233_000}) == pytest.approx(233)
    # Keys spread evenly: one shard in each of the 4 partitions.
    shards: dict[int, str] = {}
    for key in (f"2025-11#{n}" for n in range(100)):
        shards.setdefault(partition_of("statements", key, 4), key)
    assert len(shards) == 4
    even = {key: 23_300 / 4 for key in shards.values()}
    assert min_write_seconds(on_demand, even, table="statements") == pytest.approx(5.825)
    assert min_write_seconds(on_demand, even, table="statements", k=10) == pytest.approx(0.5825)
    assert min_write_seconds(on_demand, even, table="statements", writer_rate=500) == pytest.approx(
        46.6
    )


# --- the proxy in front of moto ---------------------------------------------------------


@pytest.fixture
def dynamodb(moto_endpoint: str) -> Any:
    """A client talking to moto directly."""
    return boto3.client("dynamodb", endpoint_url=moto_endpoint)


def create_table(client: Any, name: str, wcu: int | None, rcu: int = 1) -> None:
    """A table keyed by `pk`; `wcu=None` makes it on demand."""
    extra: dict[str, Any] = {"BillingMode": "PAY_PER_REQUEST"}
    if wcu is not None:
        extra = {"ProvisionedThroughput": {"ReadCapacityUnits": rcu, "WriteCapacityUnits": wcu}}
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        **extra,
    )


def puts(keys: Sequence[str]) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": {"pk": {"S": key}, "v": {"N": "1"}}}} for key in keys]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def proxy(moto_endpoint: str, clock: FakeClock) -> Iterator[CapacityProxy]:
    with CapacityProxy(moto_endpoint, burst="empty", clock=clock) as capacity_proxy:
        yield capacity_proxy


def via(proxy: CapacityProxy, service: str = "dynamodb") -> Any:
    return boto3.client(service, endpoint_url=proxy.endpoint, config=NO_RETRIES)


def stored_keys(client: Any, table: str) -> list[str]:
    return sorted(item["pk"]["S"] for item in client.scan(TableName=table)["Items"])


def test_proxy_unprocessed_items_are_really_unwritten(
    dynamodb: Any, proxy: CapacityProxy, clock: FakeClock
) -> None:
    create_table(dynamodb, "statements", wcu=1)
    client = via(proxy)
    client.describe_table(TableName="statements")  # the model learns the table at t=0
    clock.now = 10.0  # an empty 1 WCU bucket has gathered 10 units
    keys = [f"k{i:02d}" for i in range(25)]
    answer = client.batch_write_item(
        RequestItems={"statements": puts(keys)}, ReturnConsumedCapacity="TOTAL"
    )
    left = [r["PutRequest"]["Item"]["pk"]["S"] for r in answer["UnprocessedItems"]["statements"]]
    assert left == keys[10:]
    assert stored_keys(dynamodb, "statements") == keys[:10]
    assert answer["ConsumedCapacity"] == [
        {"TableName": "statements", "CapacityUnits": 10.0, "WriteCapacityUnits": 10.0}
    ]
    with pytest.raises(ClientError) as raised:
        client.batch_write_item(RequestItems={"statements": puts(left)})
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    with pytest.raises(ClientError):
        client.put_item(TableName="statements", Item={"pk": {"S": "single"}})
    assert stored_keys(dynamodb, "statements") == keys[:10]
    stats = proxy.stats()
    assert (stats.write_calls, stats.partial_calls, stats.failed_calls) == (3, 1, 2)
    assert (stats.items_accepted, stats.items_rejected) == (10, 31)
    assert stats.throttled_write_call_share == 1.0


def test_proxy_on_demand_throttles_with_throttling_exception(
    dynamodb: Any, moto_endpoint: str, clock: FakeClock
) -> None:
    create_table(dynamodb, "ondemand", wcu=None)
    with CapacityProxy(moto_endpoint, on_demand_wcu=10, clock=clock) as proxy:
        client = via(proxy)
        answer = client.batch_write_item(RequestItems={"ondemand": puts(spread(25))})
        assert len(answer["UnprocessedItems"]["ondemand"]) == 15
        with pytest.raises(ClientError) as raised:
            client.batch_write_item(RequestItems={"ondemand": puts(["late"])})
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert len(stored_keys(dynamodb, "ondemand")) == 10


def test_proxy_says_why_a_call_was_refused_and_the_client_reads_it(
    dynamodb: Any, proxy: CapacityProxy, clock: FakeClock
) -> None:
    """A hot key refuses with KeyRange (burst may remain); an empty table bucket does not."""
    create_table(dynamodb, "statements", wcu=40_000)
    client = via(proxy)
    client.describe_table(TableName="statements")
    clock.now = 1.0  # the empty table bucket holds 40,000 units; one key takes 1,000 a second
    # 40 units an item (40 KB): the key's 1,000 units are gone after 25 of them.
    hot = [{"PutRequest": {"Item": {"pk": {"S": "hot"}, "v": {"S": "x" * 40 * 1000}}}}]
    for _ in range(25):
        client.batch_write_item(RequestItems={"statements": hot})
    with pytest.raises(ClientError) as refused:
        client.batch_write_item(RequestItems={"statements": hot})
    reasons = refused.value.response["ThrottlingReasons"]
    assert reasons[0]["reason"] == "TableWriteKeyRangeThroughputExceeded"
    assert clients.partition_limited(refused.value)
    create_table(dynamodb, "small", wcu=1)
    client.describe_table(TableName="small")  # learned now, its burst empty
    with pytest.raises(ClientError) as spent:
        client.batch_write_item(RequestItems={"small": puts(spread(25))})
    assert not clients.partition_limited(spent.value)


def test_proxy_describe_table_shows_compressed_capacity(dynamodb: Any, moto_endpoint: str) -> None:
    create_table(dynamodb, "statements", wcu=5, rcu=2)
    with CapacityProxy(moto_endpoint, k=60) as proxy:
        shown = via(proxy).describe_table(TableName="statements")["Table"]
        assert proxy.model.capacity("statements") == TableCapacity.provisioned(5, 2)
    assert shown["ProvisionedThroughput"]["WriteCapacityUnits"] == 300
    assert shown["ProvisionedThroughput"]["ReadCapacityUnits"] == 120
    true = dynamodb.describe_table(TableName="statements")["Table"]["ProvisionedThroughput"]
    assert (true["WriteCapacityUnits"], true["ReadCapacityUnits"]) == (5, 2)


def test_proxy_learns_table_changes_and_burst_set_by_hand(
    dynamodb: Any, proxy: CapacityProxy, clock: FakeClock
) -> None:
    create_table(dynamodb, "statements", wcu=1)
    client = via(proxy)
    proxy.set_burst("statements", "full")  # applied when the proxy first sees the table
    client.batch_write_item(RequestItems={"statements": puts(["a"])})
    assert proxy.model.capacity("statements") == TableCapacity.provisioned(1, 1)
    client.update_table(
        TableName="statements",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 50},
    )
    clock.now += 60  # UPDATING for the model's 60 s, then the change applies
    client.batch_write_item(RequestItems={"statements": puts(["b"])})
    assert proxy.model.capacity("statements") == TableCapacity.provisioned(50, 1)
    # The burst credits (300 x 1 WCU, + 60 refilled) survived the update.
    assert proxy.stats().items_accepted == 2
    answer = client.batch_write_item(RequestItems={"statements": puts(spread(25))})
    assert answer["UnprocessedItems"] == {}
    client.delete_table(TableName="statements")
    assert proxy.model.capacity("statements") is None
    create_table(client, "statements", wcu=None)
    client.batch_write_item(RequestItems={"statements": puts(["c"])})
    capacity = proxy.model.capacity("statements")
    assert capacity is not None
    assert capacity.on_demand


def test_proxy_throttles_reads_while_the_read_bucket_is_in_debt(
    dynamodb: Any, proxy: CapacityProxy
) -> None:
    create_table(dynamodb, "statements", wcu=1, rcu=1)
    dynamodb.batch_write_item(RequestItems={"statements": puts(["a", "b"])})
    client = via(proxy)
    query = {
        "TableName": "statements",
        "KeyConditionExpression": "#k = :k",
        "ExpressionAttributeNames": {"#k": "pk"},
        "ExpressionAttributeValues": {":k": {"S": "a"}},
        "ConsistentRead": True,
        "ReturnConsumedCapacity": "TOTAL",
    }
    first = client.query(**query)  # an empty bucket is not in debt yet
    assert first["Count"] == 1
    assert first["ConsumedCapacity"]["CapacityUnits"] == 1.0
    with pytest.raises(ClientError) as raised:
        client.query(**query)
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    with pytest.raises(ClientError):
        client.get_item(TableName="statements", Key={"pk": {"S": "b"}})
    with pytest.raises(ClientError):
        client.batch_get_item(RequestItems={"statements": {"Keys": [{"pk": {"S": "b"}}]}})
    stats = proxy.stats()
    assert (stats.read_calls, stats.read_throttled_calls, stats.read_units) == (4, 3, 1.0)


# 10 items of 2,009 bytes under one key value: "pk" + "a" (3), "sk" + "s0N" (5), "v" + 2,000.
PAGE_ITEMS = 10
PAGE_UNITS_STRONG = 5.0  # 20,090 bytes in started 4 KB blocks
PAGE_UNITS_EVENTUAL = 2.5


def _sorted_table(client: Any) -> None:
    client.create_table(
        TableName="paged",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        ProvisionedThroughput={"ReadCapacityUnits": 1000, "WriteCapacityUnits": 1000},
    )
    for i in range(PAGE_ITEMS):
        item = {"pk": {"S": "a"}, "sk": {"S": f"s{i:02d}"}, "v": {"S": "x" * 2000}}
        client.put_item(TableName="paged", Item=item)


@pytest.mark.parametrize(
    ("narrowing", "consistent", "units"),
    [
        ({}, True, PAGE_UNITS_STRONG),
        ({}, False, PAGE_UNITS_EVENTUAL),
        ({"Select": "COUNT"}, True, PAGE_UNITS_STRONG),
        ({"Select": "COUNT"}, False, PAGE_UNITS_EVENTUAL),
        ({"ProjectionExpression": "sk"}, True, PAGE_UNITS_STRONG),
        (
            {"FilterExpression": "v = :none", "ExpressionAttributeValues": {":none": {"S": "-"}}},
            True,
            PAGE_UNITS_STRONG,
        ),
    ],
)
def test_proxy_charges_a_query_page_for_the_items_read_whatever_it_returns(
    dynamodb: Any, moto_endpoint: str, narrowing: dict[str, Any], consistent: bool, units: float
) -> None:
    """Items written around the proxy (it has seen no put), read back narrowed or whole."""
    _sorted_table(dynamodb)
    with CapacityProxy(moto_endpoint) as proxy:
        values = {":k": {"S": "a"}, **narrowing.pop("ExpressionAttributeValues", {})}
        answer = via(proxy).query(
            TableName="paged",
            KeyConditionExpression="pk = :k",
            ExpressionAttributeValues=values,
            ConsistentRead=consistent,
            ReturnConsumedCapacity="TOTAL",
            **narrowing,
        )
        stats = proxy.stats()
    assert answer["ScannedCount"] == PAGE_ITEMS
    assert answer["ConsumedCapacity"]["CapacityUnits"] == units
    assert stats.read_units == units


def test_proxy_passes_other_services_through(proxy: CapacityProxy) -> None:
    s3 = via(proxy, "s3")
    s3.create_bucket(
        Bucket="statements", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3.put_object(Bucket="statements", Key="2025-11/part-1.csv", Body=b"a,b\n1,2\n")
    body = s3.get_object(Bucket="statements", Key="2025-11/part-1.csv")["Body"].read()
    assert body == b"a,b\n1,2\n"
    sqs = via(proxy, "sqs")
    url = sqs.create_queue(QueueName="statements")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in messages] == ["hello"]
    assert via(proxy).list_tables()["TableNames"] == []
    assert {service for service, _ in proxy.calls} == {"s3", "sqs", "dynamodb"}
    assert proxy.stats().write_calls == 0


def test_proxy_under_concurrent_writers_loses_nothing(dynamodb: Any, moto_endpoint: str) -> None:
    create_table(dynamodb, "statements", wcu=None)
    with CapacityProxy(moto_endpoint, on_demand_wcu=2000) as proxy:
        client = via(proxy)
        errors: list[BaseException] = []

        def load(worker: int) -> None:
            try:
                for batch in range(10):
                    pending = puts([f"w{worker}-b{batch}-{i}" for i in range(25)])
                    while pending:
                        try:
                            answer = client.batch_write_item(RequestItems={"statements": pending})
                        except ClientError:
                            continue  # the whole call was throttled: the loader retries
                        pending = answer["UnprocessedItems"].get("statements", [])
            except BaseException as exc:  # noqa: BLE001 - reported to the test thread
                errors.append(exc)

        threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert proxy.stats().units_accepted == 1000
    count = dynamodb.scan(TableName="statements", Select="COUNT")["Count"]
    assert count == 1000
