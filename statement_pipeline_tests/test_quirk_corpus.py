"""A corpus of quirky-but-valid rows, with what the table must hold written out by hand.

Every expected value below was written by hand from the contract (section 2 and 3), never
produced by the reader or the item code: the stored numbers are the decimal strings as
DynamoDB holds them (it normalises `N`: no leading or trailing zeros, `-0` is `0`), the keys
are the documented hash computed with hashlib, the line numbers are counted in the file.
A lost or extra digit in any amount column, a changed hash or a renamed attribute fails here.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

from statement_harness.scenarios import put_files, run_in_process, setup_aws
from statement_pipeline.aws import clients
from statement_pipeline.rules.csv_records import Record, Reject, StatementReader
from statement_pipeline_tests.oracles import CONTRACT_COLUMNS

MONTH = "2026-10"
KEY = "statements/2026-10/quirks.csv"

# A BOM, CRLF line ends, header names padded and in other cases in another order, an unknown
# extra column, a blank line, values padded with spaces and tabs, a quoted row whose extra
# field holds a line break, 4-decimal, 38-digit, whole, negative, "-0.00" and zero-padded
# numbers, no final line break; and one row with a bad currency, rejected.
CORPUS = (
    b"\xef\xbb\xbf  Statement_ID ,ACCOUNT_ID,period,Issued_On,currency,total_credits,"
    b"opening_balance,total_debits,closing_balance,TRANSACTION_COUNT,note\r\n"
    b"Q-4DEC,ACC-1,2026-10,2026-10-31,EUR,0.1234,10.5000,0.0001,10.6233,3,four decimals\r\n"
    b"Q-38,ACC-2,2026-10,2026-10-01,USD,0.01,123456789012345678901234567890123456.78,0,"
    b'123456789012345678901234567890123456.79,1,"38 digits, quoted"\r\n'
    b"\r\n"
    b"Q-WHOLE,ACC-3,2026-10,2026-10-15,GBP,25,100,5,120,007,\r\n"
    b"Q-PAD,  ACC-4\t,2026-10, 2026-10-02 ,JPY,  0.10,\t-42.10 ,0.00 , -42.00,  12 ,x\r\n"
    b'"Q-QUOTED","ACC-5","2026-10","2026-10-03","CHF","1.5","-0.00","0.25","1.25","0",'
    b'"line one\r\nline two"\r\n'
    b"Q-BAD,ACC-7,2026-10,2026-10-05,eur,0,1,0,1,1,\r\n"
    b"Q-LEAD0,ACC-6,2026-10,2026-10-04,SEK,000.86,0003.1400,0,4,99,"
)

# statement_id -> the item as the table must hold it (bookkeeping that varies left out).
EXPECTED: dict[str, dict[str, dict[str, str]]] = {
    "Q-4DEC": {
        "month_shard": {"S": "2026-10#25"},
        "statement_id": {"S": "Q-4DEC"},
        "account_id": {"S": "ACC-1"},
        "period": {"S": "2026-10"},
        "issued_on": {"S": "2026-10-31"},
        "currency": {"S": "EUR"},
        "opening_balance": {"N": "10.5"},
        "total_credits": {"N": "0.1234"},
        "total_debits": {"N": "0.0001"},
        "closing_balance": {"N": "10.6233"},
        "transaction_count": {"N": "3"},
        "source_key": {"S": KEY},
        "source_line": {"N": "2"},
    },
    "Q-38": {
        "month_shard": {"S": "2026-10#28"},
        "statement_id": {"S": "Q-38"},
        "account_id": {"S": "ACC-2"},
        "period": {"S": "2026-10"},
        "issued_on": {"S": "2026-10-01"},
        "currency": {"S": "USD"},
        "opening_balance": {"N": "123456789012345678901234567890123456.78"},
        "total_credits": {"N": "0.01"},
        "total_debits": {"N": "0"},
        "closing_balance": {"N": "123456789012345678901234567890123456.79"},
        "transaction_count": {"N": "1"},
        "source_key": {"S": KEY},
        "source_line": {"N": "3"},
    },
    "Q-WHOLE": {
        "month_shard": {"S": "2026-10#12"},
        "statement_id": {"S": "Q-WHOLE"},
        "account_id": {"S": "ACC-3"},
        "period": {"S": "2026-10"},
        "issued_on": {"S": "2026-10-15"},
        "currency": {"S": "GBP"},
        "opening_balance": {"N": "100"},
        "total_credits": {"N": "25"},
        "total_debits": {"N": "5"},
        "closing_balance": {"N": "120"},
        "transaction_count": {"N": "7"},
        "source_key": {"S": KEY},
        "source_line": {"N": "5"},
    },
    "Q-PAD": {
        "month_shard": {"S": "2026-10#06"},
        "statement_id": {"S": "Q-PAD"},
        "account_id": {"S": "ACC-4"},
        "period": {"S": "2026-10"},
        "issued_on": {"S": "2026-10-02"},
        "currency": {"S": "JPY"},
        "opening_balance": {"N": "-42.1"},
        "total_credits": {"N": "0.1"},
        "total_debits": {"N": "0"},
        "closing_balance": {"N": "-42"},
        "transaction_count": {"N": "12"},
        "source_key": {"S": KEY},
        "source_line": {"N": "6"},
    },
    "Q-QUOTED": {
        "month_shard": {"S": "2026-10#27"},
        "statement_id": {"S": "Q-QUOTED"},
        "account_id": {"S": "ACC-5"},
        "period": {"S": "2026-10"},
        "issued_on": {"S": "2026-10-03"},
        "currency": {"S": "CHF"},
        "opening_balance": {"N": "0"},
        "total_credits": {"N": "1.5"},
        "total_debits": {"N": "0.25"},
        "closing_balance": {"N": "1.25"},
        "transaction_count": {"N": "0"},
        "source_key": {"S": KEY},
        "source_line": {"N": "7"},
    },
    "Q-LEAD0": {
        "month_shard": {"S": "2026-10#28"},
        "statement_id": {"S": "Q-LEAD0"},
        "account_id": {"S": "ACC-6"},
        "period": {"S": "2026-10"},
        "issued_on": {"S": "2026-10-04"},
        "currency": {"S": "SEK"},
        "opening_balance": {"N": "3.14"},
        "total_credits": {"N": "0.86"},
        "total_debits": {"N": "0"},
        "closing_balance": {"N": "4"},
        "transaction_count": {"N": "99"},
        "source_key": {"S": KEY},
        "source_line": {"N": "10"},
    },
}
# The metadata names the README documents ("What an operator sees"), and dagster's own
# `path` (the IO manager's). loaded_statements' `provisioned_wcu` is absent: an on-demand table.
SCHEDULED_METADATA = {
    "summary",
    "files",
    "rows",
    "valid",
    "rejected",
    "duplicates",
    "conflicting_ids",
    "records_enqueued",
    "records_skipped_current",
    "messages",
    "send_calls",
    "seconds",
    "records_per_second",
    "file_detail",
    "month_read",
    "reject_reasons",
    "rejects_objects",
    f"rejects_object[{KEY}]",
    f"source_file[{KEY}]",
    "path",
}
LOADED_METADATA = {
    "summary",
    "statements",
    "rejected",
    "written_in_import",
    "stale_removed",
    "load_seconds",
    "write_seconds",
    "records_per_second",
    "throttled_writes",
    "consumed_wcu",
    "first_write",
    "last_write",
    "billing_mode",
    "consumed_rcu",
    "month_read_by",
    "month_read",
    "capacity_policy",
    "capacity_window",
    "capacity_active_wait",
    "capacity_cost_usd",
    "loaders",
    "path",
}


def _same(stored: dict[str, Any], expected: dict[str, dict[str, str]]) -> None:
    """Strings exactly; numbers by value (moto keeps N as sent, DynamoDB normalises it)."""
    for name, value in expected.items():
        assert name in stored, name
        ((kind, text),) = value.items()
        assert set(stored[name]) == {kind}, (name, stored[name])
        if kind == "N":
            got = stored[name]["N"]
            # Decimal equality ignores trailing zeros only: one digit lost or added fails.
            assert Decimal(got) == Decimal(text), (name, got, text)
        else:
            assert stored[name] == value, name


def test_the_reader_keeps_every_value_of_the_corpus() -> None:
    rows = list(StatementReader(io.BytesIO(CORPUS), KEY, MONTH))
    records = {row.values[0]: row for row in rows if isinstance(row, Record)}
    assert list(records) == ["Q-4DEC", "Q-38", "Q-WHOLE", "Q-PAD", "Q-QUOTED", "Q-LEAD0"]
    for statement_id, record in records.items():
        expected = EXPECTED[statement_id]
        read = dict(zip(CONTRACT_COLUMNS, record.values, strict=True))
        read_as_item = {name: {next(iter(expected[name])): value} for name, value in read.items()}
        read_as_item["source_line"] = {"N": str(record.line)}
        _same(read_as_item, {k: v for k, v in expected.items() if k in read_as_item})
    (reject,) = [row for row in rows if isinstance(row, Reject)]
    assert reject.line == 9


def test_the_corpus_lands_in_the_table_as_written_out_by_hand(
    moto_endpoint: str, tmp_path: Path
) -> None:
    setup_aws()
    put_files(MONTH, [("quirks.csv", CORPUS)])

    report = run_in_process(MONTH, tmp_path / "dagster")

    assert report.success, report.failure
    ddb = clients.client("dynamodb")
    for statement_id, expected in EXPECTED.items():
        # The statement API's read: one GetItem on the key it computes by hand.
        key = {"month_shard": expected["month_shard"], "statement_id": {"S": statement_id}}
        item = ddb.get_item(TableName="statements", Key=key, ConsistentRead=True).get("Item")
        assert item is not None, f"{statement_id} is not under {key}"
        _same(item, expected)
        extra = set(item) - set(expected)
        assert extra == {"source_etag", "loaded_at", "write_attempts"}, extra
        assert item["write_attempts"] == {"N": "1"}
    scan = ddb.scan(TableName="statements", Select="COUNT", ConsistentRead=True)
    assert scan["Count"] == 6

    # The rejected row, in the rejects object beside the documented key, as documented.
    body = (
        clients.client("s3")
        .get_object(Bucket="statements", Key="rejects/2026-10/quirks.rejects.csv")["Body"]
        .read()
    )
    header, *lines = list(csv.reader(io.StringIO(body.decode(), newline="")))
    assert header[:3] == ["file", "line", "reason"]
    assert lines == [
        [
            KEY,
            "9",
            "currency: not an ISO 4217 code (3 upper-case letters)",
            "Q-BAD",
            "ACC-7",
            "2026-10",
            "2026-10-05",
            "eur",
            "0",
            "1",
            "0",
            "1",
            "1",
            "",
        ]
    ]
    scheduled = report.materializations["scheduled_statements"]
    loaded = report.materializations["loaded_statements"]
    assert set(scheduled) == SCHEDULED_METADATA
    assert set(loaded) == LOADED_METADATA
    assert (scheduled["rows"], scheduled["valid"], scheduled["rejected"]) == (7, 6, 1)
    assert (loaded["statements"], loaded["written_in_import"], loaded["consumed_wcu"]) == (6, 6, 6)
    assert loaded["billing_mode"] == "PAY_PER_REQUEST"
