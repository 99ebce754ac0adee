"""The embedded local AWS's speedups answer exactly what moto itself answers."""

from __future__ import annotations

import contextlib
import datetime
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.sqs import models as sqs_models
from moto.sqs.models import SQSBackend, sqs_backends

from statement_pipeline.local_aws import moto_pages
from statement_pipeline.local_aws import moto_speedups as moto_speedups

REGION = "eu-west-1"


def _undo_after_test(monkeypatch: pytest.MonkeyPatch) -> None:
    # Setting each method to itself registers moto's own one, restored after the test.
    for name in ("query", "put_item", "delete_item"):
        monkeypatch.setattr(Table, name, getattr(Table, name))
    monkeypatch.setattr(DynamoDBBackend, "update_item", DynamoDBBackend.update_item)
    check = SQSBackend.is_message_valid_based_on_retention_period
    monkeypatch.setattr(SQSBackend, "is_message_valid_based_on_retention_period", check)
    monkeypatch.setattr(SQSBackend, "receive_message", SQSBackend.receive_message)
    for name in ("unix_time", "unix_time_millis"):
        monkeypatch.setattr(sqs_models, name, getattr(sqs_models, name))
    monkeypatch.setattr(dynamodb_responses, "dynamo_to_dict", dynamodb_responses.dynamo_to_dict)
    monkeypatch.setattr(dynamodb_responses, "DynamoResult", dynamodb_responses.DynamoResult)
    handler = dynamodb_responses.DynamoHandler
    monkeypatch.setattr(handler, "query", handler.query)


@pytest.fixture
def queries(aws: None, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run one request with moto's Query and with ours; both answers are returned."""
    _undo_after_test(monkeypatch)
    stock = Table.query
    assert moto_speedups.install() == [
        "query",
        "retention",
        "clock",
        "responses",
        "capacity",
        "receive",
    ]
    fast = Table.query
    assert fast is not stock

    def both(call: Callable[[], Any]) -> tuple[Any, Any]:
        monkeypatch.setattr(Table, "query", stock)
        expected = call()
        monkeypatch.setattr(Table, "query", fast)
        return expected, call()

    return both


def _table(ddb: Any, name: str, range_type: str) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": range_type},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _item(rng: random.Random, pk: str, sk: str, range_type: str) -> dict[str, Any]:
    # A few items of 200-390 KB make pages end on moto's 1 MB size limit, not only on Limit.
    big = rng.random() < 0.1
    return {
        "pk": {"S": pk},
        "sk": {range_type: sk},
        "g": {"S": rng.choice("ab")},
        "n": {"N": str(rng.randint(0, 9))},
        "pad": {"S": "x" * (rng.randint(200_000, 390_000) if big else rng.randint(0, 200))},
        "m": {"M": {"k": {"N": str(rng.randint(0, 9))}, "z": {"S": "é"}}},
        "l": {"L": [{"S": "a"}, {"N": "1.50"}]},
    }


def _sort_key(rng: random.Random, range_type: str) -> str:
    if range_type == "N":
        return str(rng.choice([rng.randint(-500, 500), round(rng.uniform(-50, 50), 3)]))
    return "".join(rng.choice("AZaz09._-") for _ in range(rng.randint(1, 6)))


def _pages(ddb: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    while True:
        page = ddb.query(**kwargs)
        page.pop("ResponseMetadata", None)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.mark.parametrize("range_type", ["S", "N"])
def test_every_page_matches_moto(queries: Callable[..., Any], range_type: str) -> None:
    rng = random.Random(f"moto-query-{range_type}")
    ddb = boto3.client("dynamodb", region_name=REGION)
    _table(ddb, "t", range_type)
    keys: set[tuple[str, str]] = set()
    for _ in range(150):
        pk, sk = rng.choice("pqr"), _sort_key(rng, range_type)
        ddb.put_item(TableName="t", Item=_item(rng, pk, sk, range_type))
        keys.add((pk, sk))

    variants: list[dict[str, Any]] = []
    for pk in "pqrs":
        base = {
            "TableName": "t",
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": pk}},
        }
        for forward in (True, False):
            for limit in (None, 3, 1000):
                extra: dict[str, Any] = {"ScanIndexForward": forward}
                if limit is not None:
                    extra["Limit"] = limit
                variants.append({**base, **extra})
            variants.append({**base, "ScanIndexForward": forward, "Select": "COUNT"})
        variants.append({**base, "ProjectionExpression": "sk, n", "Limit": 5})
        # Top-level names (one the items lack), and paths into a map and a list (moto's code).
        variants.append(
            {
                **base,
                "ProjectionExpression": "#p, absent_name, g",
                "Limit": 7,
                "ExpressionAttributeNames": {"#p": "pad"},
            }
        )
        variants.append(
            {
                **base,
                "ProjectionExpression": "#m.k, sk",
                "Limit": 4,
                "ExpressionAttributeNames": {"#m": "m"},
            }
        )
        variants.append({**base, "ProjectionExpression": "l[1], n"})
        variants.append(
            {
                **base,
                "FilterExpression": "n > :n",
                "ExpressionAttributeValues": {":p": {"S": pk}, ":n": {"N": "4"}},
            }
        )
    # Served by moto's own code (sort key condition, index): still answers the same.
    variants.append(
        {
            "TableName": "t",
            "KeyConditionExpression": "pk = :p AND sk > :s",
            "ExpressionAttributeValues": {":p": {"S": "p"}, ":s": {range_type: "0"}},
        }
    )
    variants.append(
        {
            "TableName": "t",
            "IndexName": "by_g",
            "KeyConditionExpression": "g = :g",
            "ExpressionAttributeValues": {":g": {"S": "a"}},
            "Limit": 11,
        }
    )

    compared = 0
    size_cut = False
    for request in variants:
        expected, actual = queries(lambda request=request: list(_pages(ddb, **request)))
        assert _sets_in_order(actual) == _sets_in_order(expected), request
        compared += sum(len(page.get("Items", [])) for page in expected)
        # A page without Limit that still has a next page ended on the 1 MB size limit.
        size_cut = size_cut or ("Limit" not in request and len(expected) > 1)
    assert compared > 500
    assert size_cut


def test_pages_follow_writes_between_them(queries: Callable[..., Any]) -> None:
    """The sorted partition is rebuilt after a put or delete (no stale page)."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    tables = iter(("w1", "w2"))

    def paginate_while_writing() -> list[str]:
        # The same table content and the same writes for moto's Query and for ours.
        rng = random.Random("moto-query-writes")
        name = next(tables)
        _table(ddb, name, "S")
        for number in range(60):
            ddb.put_item(TableName=name, Item=_item(rng, "p", f"k{number:03d}", "S"))
        request = {
            "TableName": name,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "p"}},
            "Limit": 10,
        }
        seen = []
        for index, page in enumerate(_pages(ddb, **request)):
            seen.extend(item["sk"]["S"] for item in page["Items"])
            if index == 1:
                ddb.put_item(TableName=name, Item=_item(rng, "p", "k0455", "S"))
                ddb.delete_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"S": "k050"}})
        return seen

    expected, actual = queries(paginate_while_writing)
    assert actual == expected
    assert "k0455" in actual
    assert "k050" not in actual


def test_retention_period_is_applied_as_moto_applies_it(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _undo_after_test(monkeypatch)
    stock = SQSBackend.is_message_valid_based_on_retention_period
    assert "retention" in moto_speedups.install()
    fast = SQSBackend.is_message_valid_based_on_retention_period
    assert fast is not stock
    sqs = boto3.client("sqs", region_name=REGION)
    queues = iter(range(100))

    def receive(check: Any, age_of_first: int) -> list[str]:
        monkeypatch.setattr(SQSBackend, "is_message_valid_based_on_retention_period", check)
        name = f"q{next(queues)}"
        url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "60"})[
            "QueueUrl"
        ]
        for body in ("first", "second"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        queue = sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues[name]
        queue._messages[0].sent_timestamp -= age_of_first * 1000
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        return sorted(m["Body"] for m in got.get("Messages", []))

    fresh = receive(stock, 0)
    assert fresh == ["first", "second"]
    assert receive(fast, 0) == fresh
    # A message past the queue's 60 s retention period ends the receive (moto's behaviour).
    expired = receive(stock, 61)
    assert expired != fresh
    assert receive(fast, 61) == expired


def test_install_leaves_an_unknown_moto_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    _undo_after_test(monkeypatch)

    def query(self: Any, hash_key: Any) -> None:
        raise AssertionError("not called")

    monkeypatch.setattr(Table, "query", query)
    assert moto_speedups.install() == ["retention", "clock", "responses", "capacity", "receive"]
    assert Table.query is query


def test_sqs_clock_reads_the_same_instant(monkeypatch: pytest.MonkeyPatch) -> None:
    _undo_after_test(monkeypatch)
    moto_now = sqs_models.unix_time
    a_date = datetime.datetime(2026, 10, 5, 6, 7, 8, 123456)
    expected = moto_now(a_date)
    before = moto_now()
    assert "clock" in moto_speedups.install()
    assert sqs_models.unix_time is not moto_now
    now = sqs_models.unix_time()
    after = moto_now()
    assert before - 0.001 <= now <= after + 0.001
    assert sqs_models.unix_time(a_date) == expected
    assert sqs_models.unix_time_millis(a_date) == expected * 1000.0


def test_responses_are_converted_exactly_as_moto_converts_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _undo_after_test(monkeypatch)
    stock = dynamodb_responses.dynamo_to_dict
    assert "responses" in moto_speedups.install()
    fast = dynamodb_responses.dynamo_to_dict
    assert fast is not stock
    attrs = {
        "statement_id": {"S": "s-1"},
        "closing_balance": {"N": "-12.3400"},
        "flags": {"SS": ["a", "b"]},
        "counts": {"NS": ["1", "2"]},
        "ok": {"BOOL": True},
        "none": {"NULL": True},
        "nested": {"M": {"x": {"L": [{"S": "y"}, {"N": "1"}]}}},
        "blob": {"B": "aGVsbG8="},
    }
    item = {name: DynamoType(value) for name, value in attrs.items()}
    result = {
        "Items": [item, item],
        "Count": 2,
        "ScannedCount": 2,
        "LastEvaluatedKey": {"statement_id": DynamoType({"S": "s-1"})},
        "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1.5},
        "when": datetime.datetime(2026, 11, 30, tzinfo=datetime.UTC),
    }
    assert fast(result) == stock(result)
    # Not the same objects: a converted list must not alias the stored item's value.
    assert fast(item)["flags"]["SS"] is not item["flags"].value


def _sets_in_order(value: Any) -> Any:
    """Sets (SS, NS, BS) sorted: DynamoDB keeps no order in a set, and moto's projection returns
    a set in the order of a Python set (which differs between processes)."""
    if isinstance(value, dict):
        return {
            key: sorted(inner) if key in ("SS", "NS", "BS") else _sets_in_order(inner)
            for key, inner in value.items()
        }
    if isinstance(value, list):
        return [_sets_in_order(inner) for inner in value]
    return value


def test_item_pages_answer_exactly_what_moto_answers(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Query and Scan through a client, with moto's serializer and with json.dumps."""
    _undo_after_test(monkeypatch)
    ddb = boto3.client("dynamodb", region_name=REGION)
    _table(ddb, "t", "S")
    rng = random.Random("pages")
    for number in range(40):
        item = _item(rng, rng.choice("pq"), f"s{number:03d}", "S")
        item["tags"] = {"SS": ["x", "y"]}
        item["nested"] = {"M": {"a": {"L": [{"N": "1"}, {"BOOL": False}, {"NULL": True}]}}}
        if number % 7 == 0:
            item["blob"] = {"B": bytes([number, 0, 255])}
        ddb.put_item(TableName="t", Item=item)
    calls = [
        lambda: ddb.query(
            TableName="t",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
            ReturnConsumedCapacity="TOTAL",
        ),
        lambda: ddb.query(
            TableName="t",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "q"}},
            ProjectionExpression="pk, sk, tags",
            Limit=5,
        ),
        lambda: ddb.scan(TableName="t", Limit=7),
        lambda: ddb.query(
            TableName="t",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "none"}},
        ),
    ]

    def answers() -> list[dict[str, Any]]:
        out = []
        for call in calls:
            page = call()
            page.pop("ResponseMetadata", None)
            # The charge differs on purpose (moto's is fixed): the test below checks ours.
            page.pop("ConsumedCapacity", None)
            out.append(page)
        return out

    expected = answers()
    assert "responses" in moto_speedups.install()
    assert getattr(dynamodb_responses.DynamoResult, "_statement_pipeline_speedup", False)
    assert _sets_in_order(answers()) == _sets_in_order(expected)
    assert any("blob" in item for page in expected for item in page.get("Items", []))


def test_a_query_page_reports_the_read_units_dynamodb_charges(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _undo_after_test(monkeypatch)
    moto_speedups.install()
    ddb = boto3.client("dynamodb", region_name=REGION)
    _table(ddb, "t", "S")
    # Each item: "pk" + "p" (3 bytes), "sk" + "a<n>" (4), "v" + 5,000 bytes: 5,008 bytes.
    for n in range(3):
        ddb.put_item(
            TableName="t",
            Item={"pk": {"S": "p"}, "sk": {"S": f"a{n}"}, "v": {"S": "x" * 5_000}},
        )

    def units(consistent: bool, key: str = "p", **extra: Any) -> float:
        page = ddb.query(
            TableName="t",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": key}},
            ConsistentRead=consistent,
            ReturnConsumedCapacity="TOTAL",
            **extra,
        )
        return page["ConsumedCapacity"]["CapacityUnits"]

    # 15,024 bytes read: 4 started 4 KB blocks; half of that eventually consistent.
    assert units(True) == 4.0
    assert units(False) == 2.0
    # Counted only, or one item a page: the items are read all the same.
    assert units(True, Select="COUNT") == 4.0
    assert units(True, Limit=1) == 2.0
    # Nothing read: still one block.
    assert units(True, key="none") == 1.0


def test_pages_follow_an_update_that_changes_an_items_size(queries: Callable[..., Any]) -> None:
    """UpdateItem changes an item in place: its cached size goes, pages end where moto's do."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    tables = iter(("u1", "u2"))

    def read_after_growing() -> list[list[str]]:
        rng = random.Random("moto-query-update")
        name = next(tables)
        _table(ddb, name, "S")
        for number in range(8):
            item = _item(rng, "p", f"k{number}", "S")
            item["pad"] = {"S": "x" * 100_000}
            ddb.put_item(TableName=name, Item=item)
        request = {
            "TableName": name,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "p"}},
        }
        before = [[i["sk"]["S"] for i in page["Items"]] for page in _pages(ddb, **request)]
        ddb.update_item(
            TableName=name,
            Key={"pk": {"S": "p"}, "sk": {"S": "k1"}},
            UpdateExpression="SET #p = :big",
            ExpressionAttributeNames={"#p": "pad"},
            ExpressionAttributeValues={":big": {"S": "y" * 300_000}},
        )
        after = [[i["sk"]["S"] for i in page["Items"]] for page in _pages(ddb, **request)]
        return [*before, ["--"], *after]

    expected, actual = queries(read_after_growing)
    assert actual == expected
    # 8 items of 100 KB fit one 1 MB page; one grown to 390 KB pushes the last ones to a second.
    assert expected[0] == [f"k{n}" for n in range(8)]
    assert len(expected) == 4


def test_item_size_is_motos_size_for_every_kind_of_value() -> None:
    attrs = {
        "s": {"S": "ünïcode"},
        "n": {"N": "-0012.500"},
        "b": {"B": b"\x00\x01"},
        "ss": {"SS": ["a", "bb"]},
        "ns": {"NS": ["1", "22.5"]},
        "bool": {"BOOL": True},
        "null": {"NULL": True},
        "l": {"L": [{"S": "x"}, {"N": "3"}]},
        "m": {"M": {"k": {"S": "v"}, "é": {"N": "7"}}},
    }
    item = Item(DynamoType({"S": "h"}), DynamoType({"S": "r"}), attrs)
    assert moto_pages.item_size(item) == item.size()
    # Checked by hand for two of them: name bytes plus value bytes (UTF-8), a number's text.
    alone = Item(DynamoType({"S": "h"}), None, {"s": attrs["s"], "n": attrs["n"]})
    assert moto_pages.item_size(alone) == (1 + 9) + (1 + 9)


def _receivers_of_one_message(name: str, receivers: int) -> list[list[str]]:
    """What each of `receivers` threads got from one ReceiveMessage each, all at once, on a
    queue holding one message; moto's check that the message is visible and its marking it
    received are held apart until every receiver has checked or 2 s have passed."""
    backend = sqs_backends[DEFAULT_ACCOUNT_ID][REGION]
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="only")
    got: list[list[str]] = [[] for _ in range(receivers)]

    def receive(slot: int) -> None:
        got[slot] = [m.body for m in backend.receive_message(name, 10, 0, 300)]

    threads = [threading.Thread(target=receive, args=(n,)) for n in range(receivers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return got


def test_a_received_message_goes_to_one_of_many_receivers_at_once(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _undo_after_test(monkeypatch)
    marked = sqs_models.Message.mark_received
    # Generous for moto's own receive, where all four arrive; short for ours, where one does.
    together = [threading.Barrier(4, timeout=60)]

    def mark_received_once_all_have_looked(self: Any, visibility_timeout: Any = None) -> None:
        # Receivers that run one at a time break the barrier: nobody else will come.
        with contextlib.suppress(threading.BrokenBarrierError):
            together[0].wait()
        marked(self, visibility_timeout=visibility_timeout)

    monkeypatch.setattr(sqs_models.Message, "mark_received", mark_received_once_all_have_looked)

    # moto's own receive: every receiver saw the message visible, so every one got it.
    assert _receivers_of_one_message("stock", 4) == [["only"]] * 4

    together[0] = threading.Barrier(4, timeout=1)
    assert "receive" in moto_speedups.install()
    got = _receivers_of_one_message("fixed", 4)
    assert sorted(got) == [[], [], [], ["only"]]


def test_a_long_poll_still_waits_for_a_message_sent_during_it(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _undo_after_test(monkeypatch)
    assert "receive" in moto_speedups.install()
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="later")["QueueUrl"]
    backend = sqs_backends[DEFAULT_ACCOUNT_ID][REGION]
    got: list[str] = []
    poll = threading.Thread(
        target=lambda: got.extend(m.body for m in backend.receive_message("later", 10, 20, 30))
    )
    poll.start()
    # Sent while the poll waits on an empty queue: the poll returns it, not an empty answer.
    threading.Timer(0.5, lambda: sqs.send_message(QueueUrl=url, MessageBody="late")).start()
    poll.join()
    assert got == ["late"]
    assert backend.receive_message("later", 10, 0, 30) == []


def test_install_applies_only_the_fixes_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _undo_after_test(monkeypatch)
    query, receive = Table.query, SQSBackend.receive_message
    # What a local AWS without the speed-ups runs: moto's own code but for the receive race.
    assert moto_speedups.install(only=["receive"]) == ["receive"]
    assert Table.query is query
    assert SQSBackend.receive_message is not receive
