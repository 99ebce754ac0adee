"""What readers outside the code rely on, pinned by literals written out by hand.

The statement API recomputes `month_shard` from a month and an id; operators and scripts read
the item's attribute names and types and the rejects objects. None of the expected values
here comes from the code under test: the shards were computed once with hashlib in a Python
shell (`blake2b(id.encode("utf-8"), digest_size=4)`, read big-endian, modulo 32, i.e. the
last digest byte modulo 32), as the README tells the API's developers to.
"""

from __future__ import annotations

import pytest

from statement_pipeline.rules.csv_records import Reject
from statement_pipeline.rules.items import from_item, key_of, month_shards, partition_key, to_item
from statement_pipeline.rules.month_plan import render_rejects
from statement_pipeline.rules.s3_layout import rejects_key

# id -> (blake2b digest_size=4 as hex, month_shard in 2026-10), computed by hand.
SHARDS = {
    "a": ("ca234c55", "2026-10#21"),
    "STMT-000042": ("d785b7ef", "2026-10#15"),
    "ST-2026-10-000001": ("76f3fdb0", "2026-10#16"),
    "Z9.x_y-1": ("f527c199", "2026-10#25"),
    "acct.7": ("8bbbde31", "2026-10#17"),
    "0" * 64: ("34ab0f5d", "2026-10#29"),
    "STM-202610-0000000": ("cd2b1e24", "2026-10#04"),
    "STM-202610-0000001": ("221d5e41", "2026-10#01"),
}


@pytest.mark.parametrize(("statement_id", "expected"), SHARDS.items(), ids=list(SHARDS))
def test_month_shard_is_the_documented_hash_of_the_id(
    statement_id: str, expected: tuple[str, str]
) -> None:
    _, month_shard = expected
    assert partition_key("2026-10", statement_id) == month_shard


def test_month_shard_of_another_month_keeps_the_shard() -> None:
    assert partition_key("1999-01", "a") == "1999-01#21"
    assert partition_key("2026-11", "STMT-000042") == "2026-11#15"


def test_the_primary_key_the_api_gets_an_item_by() -> None:
    assert key_of("2026-10", "ST-2026-10-000001") == {
        "month_shard": {"S": "2026-10#16"},
        "statement_id": {"S": "ST-2026-10-000001"},
    }


def test_a_month_is_read_under_thirty_two_zero_padded_key_values() -> None:
    shards = month_shards("2026-10")
    assert len(shards) == 32
    assert shards[:3] == ["2026-10#00", "2026-10#01", "2026-10#02"]
    assert shards[-1] == "2026-10#31"
    assert shards == sorted(set(shards))


def test_an_item_holds_every_column_under_its_name_and_type() -> None:
    values = (
        "ST-2026-10-000001",
        "ACC-1",
        "2026-10",
        "2026-10-31",
        "EUR",
        "-12.3400",
        "0.0001",
        "7",
        "-19.3399",
        "0012",
    )
    item = to_item(
        values,
        source_key="statements/2026-10/part-1.csv",
        source_etag='"9e107d9d372bb6826bd81d3542a419d6"',
        line=2,
        loaded_at="2026-11-01T03:00:00.123+00:00",
    )
    assert item == {
        "statement_id": {"S": "ST-2026-10-000001"},
        "account_id": {"S": "ACC-1"},
        "period": {"S": "2026-10"},
        "issued_on": {"S": "2026-10-31"},
        "currency": {"S": "EUR"},
        "opening_balance": {"N": "-12.3400"},
        "total_credits": {"N": "0.0001"},
        "total_debits": {"N": "7"},
        "closing_balance": {"N": "-19.3399"},
        "transaction_count": {"N": "0012"},
        "month_shard": {"S": "2026-10#16"},
        "source_key": {"S": "statements/2026-10/part-1.csv"},
        "source_etag": {"S": '"9e107d9d372bb6826bd81d3542a419d6"'},
        "source_line": {"N": "2"},
        "loaded_at": {"S": "2026-11-01T03:00:00.123+00:00"},
        "write_attempts": {"N": "1"},
    }
    assert from_item(item) == {
        "statement_id": "ST-2026-10-000001",
        "account_id": "ACC-1",
        "period": "2026-10",
        "issued_on": "2026-10-31",
        "currency": "EUR",
        "opening_balance": "-12.3400",
        "total_credits": "0.0001",
        "total_debits": "7",
        "closing_balance": "-19.3399",
        "transaction_count": "0012",
    }


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("statements/2026-10/part-1.csv", "rejects/2026-10/part-1.rejects.csv"),
        ("statements/2026-10/a.b.csv", "rejects/2026-10/a.b.rejects.csv"),
        ("statements/2026-10/sub/x.csv", "rejects/2026-10/sub/x.rejects.csv"),
    ],
)
def test_the_rejects_object_sits_at_the_documented_key(key: str, expected: str) -> None:
    assert rejects_key("statements/", "2026-10", key) == expected


def test_the_rejects_object_is_file_line_reason_then_the_fields_as_read() -> None:
    header = ["Statement_ID", "account_id", "note"]
    rejects = [
        Reject(3, "currency: not a 3-letter upper-case code", ("S-1", "A,1", "x")),
        Reject(7, "closing_balance: does not reconcile", ("S-2", 'say "hi"', "line\nbreak")),
    ]
    assert render_rejects("statements/2026-10/part-1.csv", header, rejects) == (
        b"file,line,reason,Statement_ID,account_id,note\n"
        b"statements/2026-10/part-1.csv,3,currency: not a 3-letter upper-case code,"
        b'S-1,"A,1",x\n'
        b"statements/2026-10/part-1.csv,7,closing_balance: does not reconcile,"
        b'S-2,"say ""hi""","line\nbreak"\n'
    )
