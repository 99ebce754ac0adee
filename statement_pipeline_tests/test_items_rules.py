"""A stored item's bookkeeping and size as the loaders and the statement API see them.

Sizes follow DynamoDB's published item-size rules (attribute name bytes plus value bytes;
a number takes one byte per two significant digits plus one), worked out by hand below.
"""

from __future__ import annotations

import re

import pytest

from statement_pipeline.rules.items import (
    from_item,
    item_size,
    loaded_now,
    mark_refused,
    mark_sent,
    to_item,
)


def test_loaded_at_is_utc_to_the_millisecond() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", loaded_now())


def test_every_item_of_a_write_is_stamped_with_its_time() -> None:
    items = [{"loaded_at": {"S": "old"}}, {"statement_id": {"S": "S-1"}}]
    mark_sent(items, "2026-11-01T03:00:00.123+00:00")
    assert items == [
        {"loaded_at": {"S": "2026-11-01T03:00:00.123+00:00"}},
        {"statement_id": {"S": "S-1"}, "loaded_at": {"S": "2026-11-01T03:00:00.123+00:00"}},
    ]


def test_a_refused_item_counts_one_more_attempt() -> None:
    items = [{"write_attempts": {"N": "3"}}, {"statement_id": {"S": "S-1"}}]
    mark_refused(items)
    # 3 + 1; an item without the attribute was on its first attempt: 1 + 1.
    assert items == [
        {"write_attempts": {"N": "4"}},
        {"statement_id": {"S": "S-1"}, "write_attempts": {"N": "2"}},
    ]


@pytest.mark.parametrize(
    ("number", "size"),
    [
        ("0", 1 + 2),  # no significant digit: counted as one, (1 + 1) // 2 + 1 = 2
        ("1234", 1 + 3),  # 4 digits: (4 + 1) // 2 + 1 = 3
        ("12345", 1 + 4),  # 5 digits: (5 + 1) // 2 + 1 = 4
        ("-1200.5000", 1 + 4),  # sign, point and outer zeros dropped: "12005", 5 digits
    ],
)
def test_a_number_takes_a_byte_per_two_significant_digits_plus_one(number: str, size: int) -> None:
    assert item_size({"n": {"N": number}}) == size


def test_item_size_counts_names_and_strings_in_utf8_bytes() -> None:
    item = {"città": {"S": "zürich"}, "n": {"N": "7"}, "id": {"S": "S-1"}}
    # "città" 6 bytes + "zürich" 7 bytes; "n" 1 + 7 (1 digit: 2); "id" 2 + "S-1" 3.
    assert item_size(item) == 6 + 7 + 1 + 2 + 2 + 3


def test_a_partial_item_gives_only_the_columns_it_holds() -> None:
    item = {
        "month_shard": {"S": "2026-10#16"},
        "statement_id": {"S": "ST-2026-10-000001"},
        "closing_balance": {"N": "-19.3399"},
    }
    assert from_item(item) == {"statement_id": "ST-2026-10-000001", "closing_balance": "-19.3399"}


def test_a_row_without_all_ten_values_is_never_turned_into_an_item() -> None:
    nine = ("S-1", "A-1", "2026-10", "2026-10-31", "EUR", "10.00", "5.00", "2.00", "13.00")
    with pytest.raises(ValueError, match="zip"):
        to_item(nine, source_key="k", source_etag="e", line=2, loaded_at="t")
