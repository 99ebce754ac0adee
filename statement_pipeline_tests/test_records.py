# Over 350 lines: every rule of CONTRACT.md section 2 has its cases here, beside the reader
# they exercise; split, the parametrized corpora would be repeated.
"""The statement file reader and validator against CONTRACT.md section 2."""

from __future__ import annotations

import csv
import io
import itertools
import pickle
import re
import tracemalloc
from collections.abc import Iterator, Sequence

import pytest

from statement_pipeline.rules import csv_records as records
from statement_pipeline.rules import statement_fields
from statement_pipeline.rules.csv_records import (
    COLUMNS,
    NUMBER_COLUMNS,
    FileFormatError,
    Record,
    Reject,
    StatementReader,
    validate_values,
)
from statement_samples import bad_rows_corpus, generate_rows, render_csv

PERIOD = "2026-10"
SOURCE = "statements/2026-10/part-1.csv"
GOOD: dict[str, str] = {
    "statement_id": "STM-202610-0000001",
    "account_id": "ACC-000123",
    "period": PERIOD,
    "issued_on": "2026-10-31",
    "currency": "EUR",
    "opening_balance": "100.00",
    "total_credits": "50.25",
    "total_debits": "20.00",
    "closing_balance": "130.25",
    "transaction_count": "12",
}
HEADER_LINE = ",".join(COLUMNS)


def values(**changes: str) -> tuple[str, ...]:
    """The good row in COLUMNS order with some values replaced."""
    row = {**GOOD, **changes}
    return tuple(row[column] for column in COLUMNS)


def amounts(opening: str, credits: str, debits: str, closing: str) -> dict[str, str]:
    return {
        "opening_balance": opening,
        "total_credits": credits,
        "total_debits": debits,
        "closing_balance": closing,
    }


def csv_line(fields: Sequence[str]) -> str:
    """One RFC 4180 line (no terminator)."""
    out = io.StringIO()
    # CRLF as terminator: Python 3.11's writer only quotes the terminator's characters.
    csv.writer(out, lineterminator="\r\n").writerow(fields)
    return out.getvalue()[:-2]


def file_of(*lines: str, crlf: bool = False, bom: bool = False) -> bytes:
    """Lines joined with LF or CRLF, each terminated, UTF-8 encoded."""
    end = "\r\n" if crlf else "\n"
    data = "".join(line + end for line in lines).encode("utf-8")
    return b"\xef\xbb\xbf" + data if bom else data


def read(
    data: bytes, period: str = PERIOD, **options: int
) -> tuple[StatementReader, list[Record | Reject]]:
    reader = StatementReader(io.BytesIO(data), SOURCE, period, **options)
    return reader, list(reader)


def file_error(data: bytes, **options: int) -> FileFormatError:
    with pytest.raises(FileFormatError) as caught:
        read(data, **options)
    error = caught.value
    assert error.source == SOURCE
    assert str(error) == f"{SOURCE}: {error.problem}"
    return error


# ---------------------------------------------------------------- the public constants


def test_columns_and_number_columns() -> None:
    assert len(COLUMNS) == 10
    assert len(set(COLUMNS)) == 10
    assert {
        "opening_balance",
        "total_credits",
        "total_debits",
        "closing_balance",
        "transaction_count",
    } == NUMBER_COLUMNS


# ---------------------------------------------------------------- row rules, one at a time

ACCEPTED: list[dict[str, str]] = [
    {},
    {"statement_id": "a"},
    {"statement_id": "S" * 64},
    {"statement_id": "a.B_c-9"},
    {"statement_id": "..."},
    {"account_id": "X"},
    {"account_id": "A" * 64},
    {"account_id": "acc_01.x-Y"},
    {"issued_on": "2026-10-01"},
    {"issued_on": "2026-11-03"},
    {"issued_on": "2024-02-29"},
    {"issued_on": "1999-12-31"},
    {"issued_on": "0001-01-01"},
    {"currency": "USD"},
    {"currency": "XYZ"},
    {"transaction_count": "0"},
    {"transaction_count": "300"},
    {"transaction_count": "007"},
    {"transaction_count": "9" * 38},
    {"transaction_count": "0" * 20 + "9" * 38},
    amounts("0", "0", "0", "0"),
    amounts("-0", "0", "0", "0"),
    amounts("-0.00", "0.00", "0.00", "0"),
    amounts("10.5000", "0", "0", "10.5"),
    amounts("10.50", "0.5", "1.0000", "10"),
    amounts("0.1", "0.2", "0", "0.3"),
    amounts("-100.25", "0.25", "0", "-100"),
    amounts("-5", "0", "10.0001", "-15.0001"),
    amounts("0100.50", "0", "0", "100.5"),
    amounts("1234.5678", "0.0001", "0", "1234.5679"),
    amounts("9" * 38, "0", "1", "9" * 37 + "8"),
    amounts(
        "1234567890123456789012345678901234.5678",
        "0",
        "0.0001",
        "1234567890123456789012345678901234.5677",
    ),
    amounts("0" * 12 + "1" * 38, "0", "0", "1" * 38),
    amounts("-" + "9" * 34 + ".9999", "0.0001", "0", "-" + "9" * 34 + ".9998"),
]


def _case_id(case: object, width: int) -> str:
    """A case's repr as a test id of word characters only: ids with quotes, spaces or brackets
    cannot be passed back to pytest on a command line (mutmut selects tests that way)."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", repr(case))[:width]


@pytest.mark.parametrize("changes", ACCEPTED, ids=lambda c: _case_id(c, 60))
def test_valid_values_are_accepted(changes: dict[str, str]) -> None:
    assert validate_values(values(**changes), PERIOD) is None


def _id_cases(column: str) -> list[tuple[dict[str, str], str]]:
    chars = f"{column}: characters other than A-Z a-z 0-9 . _ -"
    return [
        ({column: ""}, f"{column}: empty"),
        ({column: "S" * 65}, f"{column}: longer than 64 characters"),
        ({column: "S" * 200_000}, f"{column}: longer than 64 characters"),
        ({column: "a b"}, chars),
        ({column: "a/b"}, chars),
        ({column: "a,b"}, chars),
        ({column: "a\tb"}, chars),
        ({column: "Ä1"}, chars),
        ({column: "A\u0661"}, chars),
        ({column: "A\u00a0"}, chars),
    ]


def _money_cases(column: str) -> list[tuple[dict[str, str], str]]:
    return [
        ({column: ""}, f"{column}: empty"),
        ({column: "1,000.00"}, f"{column}: thousands separators not allowed"),
        ({column: "1 000.00"}, f"{column}: thousands separators not allowed"),
        ({column: "1_000"}, f"{column}: thousands separators not allowed"),
        ({column: "1'000"}, f"{column}: thousands separators not allowed"),
        ({column: "1e3"}, f"{column}: exponent not allowed"),
        ({column: "1E3"}, f"{column}: exponent not allowed"),
        ({column: "1.5e-3"}, f"{column}: exponent not allowed"),
        ({column: "NaN"}, f"{column}: NaN/Infinity not allowed"),
        ({column: "sNaN"}, f"{column}: NaN/Infinity not allowed"),
        ({column: "Infinity"}, f"{column}: NaN/Infinity not allowed"),
        ({column: "-inf"}, f"{column}: NaN/Infinity not allowed"),
        ({column: "+5.00"}, f"{column}: '+' sign not allowed"),
        ({column: "5.00001"}, f"{column}: more than 4 decimal places"),
        ({column: ".5"}, f"{column}: {NOT_DECIMAL}"),
        ({column: "5."}, f"{column}: {NOT_DECIMAL}"),
        ({column: "-"}, f"{column}: {NOT_DECIMAL}"),
        ({column: "--5"}, f"{column}: {NOT_DECIMAL}"),
        ({column: "5..0"}, f"{column}: {NOT_DECIMAL}"),
        ({column: "0x10"}, f"{column}: {NOT_DECIMAL}"),
        ({column: "\u0665"}, f"{column}: {NOT_DECIMAL}"),
        ({column: "\uff15.00"}, f"{column}: {NOT_DECIMAL}"),
        ({column: "5\u00a0"}, f"{column}: {NOT_DECIMAL}"),
        ({column: "1" * 39}, f"{column}: {TOO_MANY_DIGITS}"),
        ({column: "1" * 35 + ".0000"}, f"{column}: {TOO_MANY_DIGITS}"),
    ]


NOT_DECIMAL = "not a decimal (optional '-', digits, optional '.' and 1 to 4 digits)"
TOO_MANY_DIGITS = "more than 38 significant digits (DynamoDB limit)"
NOT_COUNT = "transaction_count: not a non-negative integer (digits only)"
CURRENCY = "currency: not an ISO 4217 code (3 upper-case letters)"
RECONCILE = "does not reconcile: opening + credits - debits != closing"

REJECTED: list[tuple[dict[str, str], str]] = [
    *_id_cases("statement_id"),
    *_id_cases("account_id"),
    ({"period": "2026-13"}, "period: not a real month"),
    ({"period": "2026-00"}, "period: not a real month"),
    ({"period": "0000-10"}, "period: not a real month"),
    ({"period": "2026-1"}, "period: not in YYYY-MM format"),
    ({"period": "2026/10"}, "period: not in YYYY-MM format"),
    ({"period": "202610"}, "period: not in YYYY-MM format"),
    ({"period": "2026-10-01"}, "period: not in YYYY-MM format"),
    ({"period": "2026-\uff110"}, "period: not in YYYY-MM format"),
    ({"period": ""}, "period: not in YYYY-MM format"),
    ({"period": "2026-09"}, "period: does not match the month folder"),
    ({"period": "2027-10"}, "period: does not match the month folder"),
    ({"issued_on": "2026-02-30"}, "issued_on: not a real calendar date"),
    ({"issued_on": "2026-02-29"}, "issued_on: not a real calendar date"),
    ({"issued_on": "2026-04-31"}, "issued_on: not a real calendar date"),
    ({"issued_on": "2026-13-01"}, "issued_on: not a real calendar date"),
    ({"issued_on": "2026-00-10"}, "issued_on: not a real calendar date"),
    ({"issued_on": "2026-10-00"}, "issued_on: not a real calendar date"),
    ({"issued_on": "0000-01-01"}, "issued_on: not a real calendar date"),
    ({"issued_on": "2026-10-5"}, "issued_on: not in YYYY-MM-DD format"),
    ({"issued_on": "2026/10/05"}, "issued_on: not in YYYY-MM-DD format"),
    ({"issued_on": "20261005"}, "issued_on: not in YYYY-MM-DD format"),
    ({"issued_on": "2026-10-05T10:00"}, "issued_on: not in YYYY-MM-DD format"),
    ({"issued_on": "2026-W40-1"}, "issued_on: not in YYYY-MM-DD format"),
    ({"issued_on": "\uff12\uff10\uff12\uff16-10-05"}, "issued_on: not in YYYY-MM-DD format"),
    ({"issued_on": ""}, "issued_on: not in YYYY-MM-DD format"),
    ({"currency": "eur"}, CURRENCY),
    ({"currency": "Eur"}, CURRENCY),
    ({"currency": "EU"}, CURRENCY),
    ({"currency": "EURO"}, CURRENCY),
    ({"currency": "E1R"}, CURRENCY),
    ({"currency": "\u00c9UR"}, CURRENCY),
    ({"currency": "\u20ac"}, CURRENCY),
    ({"currency": ""}, CURRENCY),
    *_money_cases("opening_balance"),
    *_money_cases("total_credits"),
    *_money_cases("total_debits"),
    *_money_cases("closing_balance"),
    ({"total_credits": "-1.00"}, "total_credits: negative (must not carry a '-' sign)"),
    ({"total_credits": "-0"}, "total_credits: negative (must not carry a '-' sign)"),
    ({"total_credits": "-0.00"}, "total_credits: negative (must not carry a '-' sign)"),
    ({"total_debits": "-20.00"}, "total_debits: negative (must not carry a '-' sign)"),
    ({"total_debits": "-0.0000"}, "total_debits: negative (must not carry a '-' sign)"),
    ({"transaction_count": "-1"}, NOT_COUNT),
    ({"transaction_count": "1.0"}, NOT_COUNT),
    ({"transaction_count": "1e2"}, NOT_COUNT),
    ({"transaction_count": "+1"}, NOT_COUNT),
    ({"transaction_count": ""}, NOT_COUNT),
    ({"transaction_count": "1 000"}, NOT_COUNT),
    ({"transaction_count": "\u0661\u0662"}, NOT_COUNT),
    ({"transaction_count": "1" * 39}, f"transaction_count: {TOO_MANY_DIGITS}"),
    (amounts("100.00", "50.25", "20.00", "130.24"), RECONCILE),
    (amounts("100.00", "50.25", "20.00", "130.2501"), RECONCILE),
    (amounts("0.1", "0.2", "0", "0.3001"), RECONCILE),
    (amounts("100.00", "20.00", "50.25", "130.25"), RECONCILE),
    # Equal after rounding to 28 digits (Python's default context), different exactly.
    (
        amounts(
            "1234567890123456789012345678901234.5678",
            "0.0001",
            "0",
            "1234567890123456789012345678901234.5678",
        ),
        RECONCILE,
    ),
]


@pytest.mark.parametrize(("changes", "reason"), REJECTED, ids=lambda v: _case_id(v, 50))
def test_each_rule_rejects_on_its_own_with_a_known_fixed_text(
    changes: dict[str, str], reason: str
) -> None:
    given = validate_values(values(**changes), PERIOD)
    assert given == reason
    # What the product said (not the case's own string) is one of the closed set of texts.
    assert given is not None
    assert KNOWN_REASON.fullmatch(given), given


@pytest.mark.parametrize(("changes", "reason"), REJECTED, ids=lambda v: _case_id(v, 50))
def test_rejects_through_the_reader(changes: dict[str, str], reason: str) -> None:
    row = values(**changes)
    data = file_of(HEADER_LINE, csv_line(row), csv_line(values()))
    reader, items = read(data)
    assert items == [Reject(2, reason, row), Record(3, values())]
    assert (reader.rows, reader.valid, reader.rejected) == (2, 1, 1)


def test_the_first_broken_rule_in_column_order_is_reported() -> None:
    row = values(statement_id="", currency="eur", total_credits="-1")
    assert validate_values(row, PERIOD) == "statement_id: empty"
    assert validate_values(values(currency="eur", total_credits="-1"), PERIOD) == CURRENCY


def test_reconciliation_is_checked_last() -> None:
    row = values(**amounts("1", "1", "1", "5"), transaction_count="x")
    assert validate_values(row, PERIOD) == NOT_COUNT


def test_validate_values_needs_ten_values() -> None:
    assert validate_values(values()[:9], PERIOD) == "expected 10 values, got 9"


def test_fast_and_precise_checks_agree() -> None:
    """validate_values has a fast path; mutate good rows a lot and compare with the slow one."""
    alphabet = ["", "0", "-", ".", "1", "9", "a", "A", " ", ",", "e", "\u0661", "10", "-0"]
    base = list(generate_rows(PERIOD, 40, seed=3))
    checked = 0
    for number, row in enumerate(base):
        for column in range(len(COLUMNS)):
            for extra in alphabet:
                for mutated_value in (row[column] + extra, extra + row[column], extra):
                    mutated = list(row)
                    mutated[column] = mutated_value
                    expected = statement_fields._first_broken_rule(mutated, PERIOD)
                    assert validate_values(mutated, PERIOD) == expected, (number, column)
                    checked += 1
    assert checked > 10_000


# ---------------------------------------------------------------- reasons hold no values

KNOWN_REASON = re.compile(
    r"expected \d+ fields, got \d+|contains a NUL byte|" + re.escape(RECONCILE) + "|"
    r"(statement_id|account_id): (empty|longer than 64 characters|"
    r"characters other than A-Z a-z 0-9 \. _ -)|"
    r"period: (not in YYYY-MM format|not a real month|does not match the month folder)|"
    r"issued_on: (not in YYYY-MM-DD format|not a real calendar date)|" + re.escape(CURRENCY) + "|"
    r"(opening_balance|total_credits|total_debits|closing_balance): (empty|"
    r"thousands separators not allowed|exponent not allowed|NaN/Infinity not allowed|"
    r"'\+' sign not allowed|more than 4 decimal places|" + re.escape(NOT_DECIMAL) + "|"
    r"" + re.escape(TOO_MANY_DIGITS) + r")|"
    r"(total_credits|total_debits): negative \(must not carry a '-' sign\)|"
    + re.escape(NOT_COUNT)
    + "|transaction_count: "
    + re.escape(TOO_MANY_DIGITS)
)
RULE_WORDS = {"NaN", "nan", "Infinity", "-inf", "inf", "sNaN"}


def test_reasons_never_hold_the_rows_values() -> None:
    corpus = bad_rows_corpus(PERIOD)
    data = render_csv(COLUMNS, [row for _, row in corpus])
    _, items = read(data)
    assert len(items) == len(corpus)
    for (_, row), item in zip(corpus, items, strict=True):
        assert isinstance(item, Reject)
        # A closed set of fixed texts cannot carry a customer's data.
        assert KNOWN_REASON.fullmatch(item.reason), item.reason
        fields = row.split(",") if isinstance(row, str) else row
        for value in fields:
            if len(value) >= 3 and value not in RULE_WORDS:
                assert value not in item.reason


# ---------------------------------------------------------------- rows and fields


def test_values_are_trimmed_and_kept_exactly_as_written() -> None:
    padded = [f"  {v}\t" for v in values(**amounts("10.50", "0.5000", "0", "11"))]
    reader, items = read(file_of(HEADER_LINE, ",".join(padded)))
    assert items == [Record(2, values(**amounts("10.50", "0.5000", "0", "11")))]
    assert reader.valid == 1


def test_quoted_values_are_unquoted_and_trimmed() -> None:
    line = ",".join(f'" {v} "' for v in values())
    _, items = read(file_of(HEADER_LINE, line))
    assert items == [Record(2, values())]


def test_non_ascii_spaces_are_not_trimmed() -> None:
    row = values(account_id="\u00a0ACC-1")
    _, items = read(file_of(HEADER_LINE, ",".join(row)))
    assert items == [Reject(2, "account_id: characters other than A-Z a-z 0-9 . _ -", row)]


@pytest.mark.parametrize(
    ("line", "reason", "raw"),
    [
        ("a,b,c", "expected 10 fields, got 3", ("a", "b", "c")),
        (",".join((*values(), "x")), "expected 10 fields, got 11", (*values(), "x")),
        (",".join((*values(), "")), "expected 10 fields, got 11", (*values(), "")),
        ("  x  ", "expected 10 fields, got 1", ("  x  ",)),
    ],
)
def test_wrong_field_count_is_rejected(line: str, reason: str, raw: tuple[str, ...]) -> None:
    _, items = read(file_of(HEADER_LINE, line, ",".join(values())))
    assert items == [Reject(2, reason, raw), Record(3, values())]


def test_field_count_follows_the_header_width() -> None:
    header = HEADER_LINE + ",note"
    _, items = read(file_of(header, ",".join(values()), ",".join((*values(), "n"))))
    assert items == [Reject(2, "expected 11 fields, got 10", values()), Record(3, values())]


@pytest.mark.parametrize("column", [0, 4, 9, 10])
def test_a_nul_byte_rejects_the_row(column: int) -> None:
    fields = [*values(), "note"]
    fields[column] = fields[column][:2] + "\x00" + fields[column][2:]
    data = file_of(HEADER_LINE + ",note", ",".join(fields), ",".join((*values(), "n")))
    _, items = read(data)
    assert items == [Reject(2, "contains a NUL byte", tuple(fields)), Record(3, values())]


def test_a_200_kb_field_is_a_row_reject_not_a_crash() -> None:
    huge = "A" * 200_000
    row = values(statement_id=huge)
    _, items = read(file_of(HEADER_LINE, ",".join(row), ",".join(values())))
    assert items == [Reject(2, "statement_id: longer than 64 characters", row), Record(3, values())]


def test_a_200_kb_quoted_multi_line_extra_field_is_fine() -> None:
    note = ("x" * 999 + "\n") * 200
    data = file_of(HEADER_LINE + ",note", csv_line((*values(), note)), ",".join((*values(), "")))
    _, items = read(data)
    assert items == [Record(2, values()), Record(203, values())]


def test_the_csv_field_size_limit_is_raised_but_never_lowered() -> None:
    previous = csv.field_size_limit()
    try:
        csv.field_size_limit(128 * 1024)
        read(file_of(HEADER_LINE))
        assert csv.field_size_limit() > records.MAX_ROW_CHARS
        csv.field_size_limit(1 << 30)
        read(file_of(HEADER_LINE))
        assert csv.field_size_limit() == 1 << 30
    finally:
        csv.field_size_limit(previous)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('"STM-1"x,' + ",".join(values()[1:]), "malformed CSV: text after a closing quote"),
        ('"STM-1" ,' + ",".join(values()[1:]), "malformed CSV: text after a closing quote"),
        (
            "STM\r1," + ",".join(values()[1:]),
            "malformed CSV: carriage return inside an unquoted field",
        ),
    ],
)
def test_malformed_quoting_rejects_the_row_and_reading_goes_on(line: str, reason: str) -> None:
    reader, items = read(file_of(HEADER_LINE, line, ",".join(values())))
    assert items == [Reject(2, reason, ()), Record(3, values())]
    assert (reader.rows, reader.rejected) == (2, 1)


# ---------------------------------------------------------------- line numbers and layout


def test_line_numbers_count_blank_lines_and_multi_line_fields() -> None:
    data = file_of(
        "",
        "   ",
        HEADER_LINE + ",Note",
        ",".join((*values(), "plain")),
        "",
        csv_line((*values(statement_id="S2"), 'two\nlines, and "quotes"')),
        ",,,,,,,,,,",
        " \t ",
        csv_line((*values(statement_id="S3"), "a\r\nb\nc")),
        "x,y",
        csv_line((*values(statement_id="S4"), "")),
    )
    reader, items = read(data)
    assert [item.line for item in items] == [4, 6, 10, 13, 14]
    assert [type(item) for item in items] == [Record, Record, Record, Reject, Record]
    assert (reader.rows, reader.valid, reader.rejected) == (5, 4, 1)
    assert reader.bytes_read == len(data)


def test_crlf_line_ends() -> None:
    data = file_of(
        HEADER_LINE,
        ",".join(values()),
        "",
        csv_line((*values(statement_id="S2"),)),
        crlf=True,
    )
    _, items = read(data)
    assert items == [Record(2, values()), Record(4, values(statement_id="S2"))]


def test_mixed_crlf_and_lf_and_no_final_line_break() -> None:
    data = (HEADER_LINE + "\r\n" + ",".join(values()) + "\n" + ",".join(values())).encode()
    _, items = read(data)
    assert items == [Record(2, values()), Record(3, values())]


def test_bom_is_tolerated() -> None:
    reader, items = read(file_of(HEADER_LINE, ",".join(values()), bom=True, crlf=True))
    assert reader.header == list(COLUMNS)
    assert items == [Record(2, values())]


def test_bom_before_blank_lines_and_header() -> None:
    reader, items = read(file_of("", HEADER_LINE, ",".join(values()), bom=True))
    assert reader.header == list(COLUMNS)
    assert items == [Record(3, values())]


def test_a_bom_inside_the_file_is_data() -> None:
    row = values(statement_id="\ufeffSTM-1")
    _, items = read(file_of(HEADER_LINE, ",".join(row)))
    assert items == [Reject(2, "statement_id: characters other than A-Z a-z 0-9 . _ -", row)]


def test_header_names_are_matched_case_insensitively_trimmed_in_any_order() -> None:
    order = [9, 3, 0, 7, 5, 1, 8, 2, 6, 4]
    header = [f" {COLUMNS[i].upper()}\t" if i % 2 else f'"{COLUMNS[i].title()}"' for i in order]
    row = values()
    data = file_of(",".join(header), ",".join(row[i] for i in order))
    reader, items = read(data)
    assert reader.header == [COLUMNS[i] for i in order]
    assert reader.extra_columns == []
    assert items == [Record(2, row)]


def test_extra_columns_are_reported_and_ignored() -> None:
    header = "Notes," + HEADER_LINE + ", Branch ,notes"
    line = csv_line(('a, "b"\nc', *values(), "NUL-free", "x"))
    reader, items = read(file_of(header, line))
    assert reader.extra_columns == ["notes", "branch"]
    assert reader.header == ["notes", *COLUMNS, "branch", "notes"]
    assert items == [Record(2, values())]


def test_header_is_read_eagerly() -> None:
    reader = StatementReader(io.BytesIO(file_of(HEADER_LINE + ",x")), SOURCE, PERIOD)
    assert reader.header == [*COLUMNS, "x"]
    assert reader.extra_columns == ["x"]
    assert reader.rows == 0


def test_iteration_is_single_pass() -> None:
    reader = StatementReader(io.BytesIO(file_of(HEADER_LINE, ",".join(values()))), SOURCE, PERIOD)
    assert len(list(reader)) == 1
    assert list(reader) == []


def test_header_only_file_has_no_rows() -> None:
    reader, items = read(file_of(HEADER_LINE, "", ""))
    assert items == []
    assert (reader.rows, reader.valid, reader.rejected) == (0, 0, 0)


def test_the_period_argument_must_be_a_real_month() -> None:
    with pytest.raises(ValueError, match="YYYY-MM") as caught:
        StatementReader(io.BytesIO(file_of(HEADER_LINE)), SOURCE, "2026-13")
    assert not isinstance(caught.value, FileFormatError)


def test_rows_of_another_month_folder_are_rejected() -> None:
    _, items = read(file_of(HEADER_LINE, ",".join(values())), period="2026-11")
    assert items == [Reject(2, "period: does not match the month folder", values())]


# ---------------------------------------------------------------- file-level errors


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty object (no header row)"),
        (b"\n\r\n   \n,,\n", "no header row (only blank lines)"),
        (b"\xef\xbb\xbf", "no header row (only blank lines)"),
        (
            file_of(HEADER_LINE.replace(",currency", "")),
            "missing required column(s): currency",
        ),
        (file_of("a,b"), "missing required column(s): " + ", ".join(COLUMNS)),
        (file_of(HEADER_LINE + ", PERIOD"), "duplicated column(s) in header: period"),
        (
            file_of(HEADER_LINE + ",Currency,period"),
            "duplicated column(s) in header: currency, period",
        ),
        (
            file_of(HEADER_LINE.replace("currency", "curr\x00ency")),
            "header row contains a NUL byte",
        ),
        (
            file_of('"statement_id"x,' + HEADER_LINE),
            "header row is not valid CSV (malformed CSV: text after a closing quote)",
        ),
        ("café".encode("latin-1") + b"\n", "not UTF-8 (invalid byte at offset 3, line 1)"),
        (
            file_of(HEADER_LINE, ",".join(values())) + b"\xc3",
            f"not UTF-8 (invalid byte at offset {len(file_of(HEADER_LINE, ','.join(values())))}, "
            "line 3)",
        ),
        (b"\xef\xbb\xbf" + b"\xff", "not UTF-8 (invalid byte at offset 3, line 1)"),
        (
            file_of(HEADER_LINE, '"open'),
            "quoted field left open at end of file (row starting at line 2)",
        ),
        (
            file_of(HEADER_LINE, ",".join(values()), "", csv_line((*values()[:9], '1"')) + ',"x'),
            "quoted field left open at end of file (row starting at line 4)",
        ),
        (
            file_of('"statement_id'),
            "quoted field left open at end of file (row starting at line 1)",
        ),
    ],
    ids=[
        "empty",
        "blank-only",
        "bom-only",
        "missing",
        "all-missing",
        "duplicate",
        "duplicates",
        "nul-header",
        "bad-header",
        "latin-1",
        "truncated-utf8",
        "bom-then-bad",
        "open-quote",
        "open-quote-late",
        "open-header",
    ],
)
def test_file_level_errors_name_the_file_and_the_problem(data: bytes, problem: str) -> None:
    assert file_error(data).problem == problem


def test_open_quote_at_eof_is_raised_after_the_earlier_rows() -> None:
    reader = StatementReader(
        io.BytesIO(file_of(HEADER_LINE, ",".join(values()), '"STM-2,x')), SOURCE, PERIOD
    )
    seen: list[Record | Reject] = []
    with pytest.raises(FileFormatError, match="quoted field left open"):
        seen.extend(reader)
    assert seen == [Record(2, values())]


def test_a_row_longer_than_the_bound_is_a_file_error() -> None:
    # An unbalanced quote swallows every following line into one "row".
    lines = [HEADER_LINE, ",".join(values()), '"STM-2,' + ",".join(values()[1:])]
    lines += [",".join(values(statement_id=f"S{i}")) for i in range(2_000)]
    error = file_error(file_of(*lines), max_row_chars=50_000, chunk_bytes=4096)
    assert error.problem == (
        "the row starting at line 3 is longer than 50000 characters (an unbalanced quote?)"
    )


def test_a_single_line_longer_than_the_bound_is_a_file_error() -> None:
    data = file_of(HEADER_LINE) + b"x" * 300_000
    error = file_error(data, max_row_chars=100_000, chunk_bytes=1000)
    assert "the row starting at line 2 is longer than 100000 characters" in error.problem


def test_file_format_error_is_a_value_error_and_pickles() -> None:
    error = FileFormatError("s/2026-10/a.csv", "not UTF-8 (invalid byte at offset 1, line 1)")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (copy.source, copy.problem, str(copy)) == (error.source, error.problem, str(error))


# ---------------------------------------------------------------- streaming


class GeneratedStream:
    """A binary stream served from a generator of blocks; records what the reader asks for."""

    def __init__(self, blocks: Iterator[bytes], max_piece: int | None = None) -> None:
        self._blocks = blocks
        self._buffer = b""
        self._pieces = itertools.cycle(range(1, (max_piece or 1) + 1)) if max_piece else None
        self.requests: list[int] = []
        self.served = 0

    def read(self, size: int = -1) -> bytes:
        assert size is not None, "the reader asked for the whole stream"
        assert size > 0, "the reader asked for the whole stream"
        self.requests.append(size)
        if self._pieces is not None:
            size = min(size, next(self._pieces))
        while len(self._buffer) < size:
            block = next(self._blocks, None)
            if block is None:
                break
            self._buffer += block
        piece, self._buffer = self._buffer[:size], self._buffer[size:]
        self.served += len(piece)
        return piece


def _block(rows: int = 1000) -> bytes:
    """`rows` valid data lines (no header), with non-ASCII text in an extra column."""
    lines = [
        csv_line((*row, 'Zürich, "café"' if i % 3 else ""))
        for i, row in enumerate(generate_rows(PERIOD, rows))
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


HEADER_BYTES = (HEADER_LINE + ",note\n").encode()


def test_reads_in_bounded_chunks_and_yields_before_the_end() -> None:
    block = _block()
    repeats = 120
    total = len(HEADER_BYTES) + repeats * len(block)
    stream = GeneratedStream(itertools.chain([HEADER_BYTES], itertools.repeat(block, repeats)))
    reader = StatementReader(stream, SOURCE, PERIOD)  # type: ignore[arg-type]
    items = iter(reader)
    first = next(items)
    assert first == Record(2, first.values)
    assert stream.served <= 2 * records.CHUNK_BYTES < total // 10
    count = 1 + sum(1 for _ in items)
    assert count == reader.valid == reader.rows == repeats * 1000
    assert reader.bytes_read == stream.served == total
    assert max(stream.requests) <= records.CHUNK_BYTES


def _peak_memory_while_reading(repeats: int) -> tuple[int, int]:
    """(traced peak bytes, file size) while reading a generated file of `repeats` blocks."""
    block = _block()
    stream = GeneratedStream(itertools.chain([HEADER_BYTES], itertools.repeat(block, repeats)))
    tracemalloc.start()
    try:
        reader = StatementReader(stream, SOURCE, PERIOD)  # type: ignore[arg-type]
        valid = sum(isinstance(item, Record) for item in reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert valid == repeats * 1000
    return peak, len(HEADER_BYTES) + repeats * len(block)


def test_memory_stays_flat_while_streaming_a_large_file() -> None:
    small_peak, small_size = _peak_memory_while_reading(5)
    large_peak, large_size = _peak_memory_while_reading(25)
    assert large_size > 2_500_000
    assert large_size >= 4 * small_size
    # Five times the data, (about) the same peak: nothing grows with the file.
    assert large_peak < small_peak * 1.2 + 100_000, (small_peak, large_peak)
    assert large_peak < large_size / 3


def test_invalid_utf8_far_into_a_large_file_is_raised_lazily_with_its_position() -> None:
    block = _block()
    before = 50
    stream = GeneratedStream(
        itertools.chain([HEADER_BYTES], itertools.repeat(block, before), [b"\xff\xfe\n", block])
    )
    reader = StatementReader(stream, SOURCE, PERIOD)  # type: ignore[arg-type]
    seen: list[Record | Reject] = []
    with pytest.raises(FileFormatError) as caught:
        seen.extend(reader)
    offset = len(HEADER_BYTES) + before * len(block)
    line = 1 + before * 1000 + 1
    assert str(caught.value) == (
        f"{SOURCE}: not UTF-8 (invalid byte at offset {offset}, line {line})"
    )
    # Everything up to the chunk holding the bad byte came out first.
    assert before * 1000 - len(seen) < records.CHUNK_BYTES // 50
    assert all(isinstance(item, Record) for item in seen)


@pytest.mark.parametrize("max_piece", [1, 2, 3, 7])
def test_tiny_reads_give_the_same_result(max_piece: int) -> None:
    content = b"\xef\xbb\xbf\n" + HEADER_BYTES + _block(40) + b'"\xc3\xa9\r\n' + b'",x,y\r\n'
    expected = read(content)[1]
    stream = GeneratedStream(iter([content]), max_piece=max_piece)
    reader = StatementReader(stream, SOURCE, PERIOD)  # type: ignore[arg-type]
    assert list(reader) == expected
    assert len(expected) == 41
    assert expected[-1] == Reject(43, "expected 11 fields, got 3", ("\u00e9\r\n", "x", "y"))


@pytest.mark.parametrize("chunk_bytes", [1, 5, 64, 1000])
def test_small_chunks_give_the_same_result(chunk_bytes: int) -> None:
    content = file_of(
        HEADER_LINE + ",note",
        csv_line((*values(), "multi\nline \u00e9\u20ac\U0001f600")),
        "",
        ",".join((*values(statement_id="S2"), "x")),
    )
    _, items = read(content, chunk_bytes=chunk_bytes)
    assert items == [Record(2, values()), Record(5, values(statement_id="S2"))]


def test_utf8_cut_at_the_end_of_the_stream_is_an_error() -> None:
    content = file_of(HEADER_LINE + ",note") + ",".join((*values(), "\u20ac")).encode()[:-1]
    error = file_error(content, chunk_bytes=7)
    assert error.problem.startswith("not UTF-8 (invalid byte at offset ")
    assert error.problem.endswith(", line 2)")
