"""The SQS message format and the DynamoDB item of a statement."""

import json
from collections import Counter

import pytest

from statement_pipeline.rules import messages as messages
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.items import (
    SHARDS,
    from_item,
    item_size,
    key_of,
    month_shards,
    shard_of,
    to_item,
)
from statement_pipeline.rules.messages import PoisonMessage, RecordBatch
from statement_pipeline.rules.write_budget import write_units

ROW = (
    "STM-1",
    "ACC-000001",
    "2026-10",
    "2026-10-31",
    "EUR",
    "100.50",
    "0.0001",
    "12345678901234567890123456789012.1234",
    "-12345678901234567890123456788911.6233",
    "007",
)


def _batch(records=((2, ROW),)) -> RecordBatch:
    return RecordBatch("2026-10", "statements/2026-10/a.csv", '"etag-1"', tuple(records))


def test_round_trip_keeps_values_as_written() -> None:
    batch = _batch()
    assert messages.decode(messages.encode(batch)) == batch


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        ("[]", "not a statement-records message"),
        ('{"format": "statement-records", "v": 2}', "unsupported message version"),
        (
            '{"format": "statement-records", "v": 1, "period": "2026-13", '
            '"source_key": "k", "source_etag": "e", "records": [[1]]}',
            "period",
        ),
        (
            '{"format": "statement-records", "v": 1, "period": "2026-10", '
            '"source_key": "", "source_etag": "e", "records": [[1]]}',
            "source key",
        ),
        (
            '{"format": "statement-records", "v": 1, "period": "2026-10", '
            '"source_key": "k", "source_etag": "e", "records": []}',
            "no records",
        ),
        (
            '{"format": "statement-records", "v": 1, "period": "2026-10", '
            '"source_key": "k", "source_etag": "e", "records": [[1, "a"]]}',
            "malformed",
        ),
    ],
)
def test_poison_bodies_are_recognised(body: str, reason: str) -> None:
    with pytest.raises(PoisonMessage, match=reason):
        messages.decode(body)


def test_records_are_validated_again_on_the_way_out() -> None:
    doc = json.loads(messages.encode(_batch()))
    doc["records"][0][5] = "1e3"
    with pytest.raises(PoisonMessage, match="invalid"):
        messages.decode(json.dumps(doc))


def test_a_record_of_another_month_is_poison() -> None:
    doc = json.loads(messages.encode(_batch()))
    doc["period"] = "2026-09"
    with pytest.raises(PoisonMessage, match="invalid"):
        messages.decode(json.dumps(doc))


def test_pack_respects_record_and_byte_limits() -> None:
    records = [(i + 2, ROW) for i in range(1000)]
    batches = list(
        messages.pack(
            records,
            period="2026-10",
            source_key="k",
            source_etag="e",
            max_records=300,
            max_bytes=200_000,
        )
    )
    assert [len(b.records) for b in batches] == [300, 300, 300, 100]
    assert [line for b in batches for line, _ in b.records] == [line for line, _ in records]

    small = list(
        messages.pack(
            records,
            period="2026-10",
            source_key="k",
            source_etag="e",
            max_records=1000,
            max_bytes=20_000,
        )
    )
    assert all(len(messages.encode(b).encode()) <= 20_000 for b in small)
    assert sum(len(b.records) for b in small) == 1000


def test_to_item_types_and_exact_numbers() -> None:
    item = to_item(
        ROW, source_key="statements/2026-10/a.csv", source_etag='"e"', line=7, loaded_at="t"
    )
    for name, value in zip(COLUMNS, ROW, strict=True):
        kind = (
            "N"
            if name
            in {
                "opening_balance",
                "total_credits",
                "total_debits",
                "closing_balance",
                "transaction_count",
            }
            else "S"
        )
        assert item[name] == {kind: value}
    assert item["source_line"] == {"N": "7"}
    assert from_item(item) == dict(zip(COLUMNS, ROW, strict=True))
    # The key follows from month and id alone: what the statement API reads it by.
    assert key_of("2026-10", "STM-1") == {
        "month_shard": {"S": f"2026-10#{shard_of('STM-1'):02d}"},
        "statement_id": {"S": "STM-1"},
    }
    assert item["month_shard"] == key_of("2026-10", "STM-1")["month_shard"]


def test_a_month_is_spread_evenly_over_its_shards() -> None:
    counts = Counter(shard_of(f"STM-2026-10-{n:07d}") for n in range(23_300))
    assert set(counts) == set(range(SHARDS))
    # No key value takes more than a small fraction of a month's writes.
    assert max(counts.values()) < 1.2 * 23_300 / SHARDS
    assert len(month_shards("2026-10")) == SHARDS


def test_item_size_follows_dynamodb_rules() -> None:
    assert item_size({"ab": {"S": "xyz"}}) == 5
    # Numbers: about one byte per two significant digits plus one.
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"n": {"N": "-0.0100"}}) == 1 + 2
    assert write_units(1024) == 1
    assert write_units(1025) == 2
