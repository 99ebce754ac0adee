"""The SQS message body as the loaders read it: its exact wire form, its limits and poison.

Every expected body, size and batch split is worked out by hand here.
"""

from __future__ import annotations

import json

import pytest

from statement_pipeline.rules import messages
from statement_pipeline.rules.messages import PoisonMessage, RecordBatch

# 10.00 + 5.00 - 2.00 = 13.00
ROW = ("S-1", "A-1", "2026-10", "2026-10-31", "EUR", "10.00", "5.00", "2.00", "13.00", "3")
TINY = tuple("abcdefghij")  # ten 1-byte values: 35 + 10 + 10 = 55 bytes by record_size


def body(**changes: object) -> str:
    doc: dict[str, object] = {
        "format": "statement-records",
        "v": 1,
        "period": "2026-10",
        "source_key": "k",
        "source_etag": "e",
        "records": [[2, *ROW]],
    }
    doc.update(changes)
    return json.dumps(doc)


def test_the_body_is_compact_json_with_non_ascii_kept_as_written() -> None:
    batch = RecordBatch("2026-10", "statements/2026-10/zürich.csv", '"e1"', ((7, ROW),))
    assert messages.encode(batch) == (
        '{"format":"statement-records","v":1,"period":"2026-10",'
        '"source_key":"statements/2026-10/zürich.csv","source_etag":"\\"e1\\"",'
        '"records":[[7,"S-1","A-1","2026-10","2026-10-31","EUR","10.00","5.00","2.00",'
        '"13.00","3"]]}'
    )


def test_a_body_keeps_the_order_and_lines_of_its_records() -> None:
    second = ("S-2", *ROW[1:])
    decoded = messages.decode(body(records=[[9, *second], [4, *ROW]]))
    assert decoded == RecordBatch("2026-10", "k", "e", ((9, second), (4, ROW)))


def test_a_body_that_is_not_text_is_poison() -> None:
    with pytest.raises(PoisonMessage, match=r"^body is not JSON$"):
        messages.decode(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"format": "other"}, "not a statement-records message"),
        ({"v": "1"}, "unsupported message version"),
        ({"period": 202610}, "period is not a YYYY-MM month"),
        ({"period": "2026-1"}, "period is not a YYYY-MM month"),
        ({"source_key": 5}, "source key or etag missing"),
        ({"source_etag": ""}, "source key or etag missing"),
        ({"source_etag": None}, "source key or etag missing"),
        ({"records": {"0": [2, *ROW]}}, "no records"),
        ({"records": [[2, *ROW], "2," + ",".join(ROW)]}, "record 1 is malformed"),
        ({"records": [[2, *ROW], [3, *ROW, "x"]]}, "record 1 is malformed"),
        ({"records": [[2, *ROW], ["3", *ROW]]}, "record 1 is malformed"),
        ({"records": [[2, *ROW], [3, *ROW[:9], 3]]}, "record 1 is malformed"),
        ({"records": [[2, *ROW], [3, 1, *ROW[1:]]]}, "record 1 is malformed"),
        (
            {"records": [[2, *ROW], [8, *ROW[:4], "eur", *ROW[5:]]]},
            "record 1 (line 8) is invalid: currency: not an ISO 4217 code (3 upper-case letters)",
        ),
    ],
)
def test_poison_names_the_broken_part(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(PoisonMessage) as caught:
        messages.decode(body(**changes))
    assert str(caught.value) == reason


def test_a_message_without_a_format_is_poison() -> None:
    with pytest.raises(PoisonMessage, match=r"^not a statement-records message$"):
        messages.decode('{"v": 1}')


def test_record_size_bounds_the_encoded_record() -> None:
    # 2 brackets + 11 * (2 quotes + 1 comma) + 10 digits of line + 10 bytes of values.
    assert messages.record_size(TINY) == 55
    # Bytes, not characters: "é" takes 2.
    assert messages.record_size(("é", *TINY[1:])) == 56
    encoded = json.dumps([1_234_567_890, *ROW], separators=(",", ":"))
    assert len(encoded) <= messages.record_size(ROW)


def pack(count: int, *, max_records: int = 10, max_bytes: int = 10_000, key: str = "k"):
    records = [(line, TINY) for line in range(2, 2 + count)]
    return list(
        messages.pack(
            records,
            period="2026-10",
            source_key=key,
            source_etag="e",
            max_records=max_records,
            max_bytes=max_bytes,
        )
    )


def test_a_batch_fills_up_to_exactly_the_byte_limit() -> None:
    # Envelope 200 + 1 + 1 = 202 bytes; 202 + 3 * 55 = 367 fits three records, not four.
    assert [len(b.records) for b in pack(5, max_bytes=367)] == [3, 2]
    # One byte less: two records a batch.
    assert [len(b.records) for b in pack(5, max_bytes=366)] == [2, 2, 1]


def test_a_batch_holds_at_most_max_records() -> None:
    batches = pack(5, max_records=2)
    assert [[line for line, _ in b.records] for b in batches] == [[2, 3], [4, 5], [6]]
    assert {(b.period, b.source_key, b.source_etag) for b in batches} == {("2026-10", "k", "e")}


def test_no_records_no_batches() -> None:
    assert pack(0) == []


def test_a_record_too_big_for_any_message_is_an_error() -> None:
    # 202 + 55 = 257: fits exactly.
    assert [len(b.records) for b in pack(2, max_bytes=257)] == [1, 1]
    with pytest.raises(ValueError, match=r"^line 2: record alone exceeds the message size limit$"):
        pack(1, max_bytes=256)
    # The key counts in bytes: "ü" is 2, so the envelope is 203 and 203 + 55 > 257.
    with pytest.raises(ValueError, match=r"^line 2: "):
        pack(1, max_bytes=257, key="ü")
