"""The reader's reasons and limits, each pinned exactly by a hand-written case.

The rejects objects and the run's metadata show these reasons to operators, so their text is
part of what the pipeline reports (CONTRACT.md section 2: file, line number and reason).
"""

from __future__ import annotations

import csv
import io

import pytest

from statement_pipeline.rules import csv_records
from statement_pipeline.rules.csv_records import (
    FileFormatError,
    Record,
    Reject,
    StatementReader,
    validate_values,
)

PERIOD = "2026-10"
SOURCE = "statements/2026-10/part-1.csv"
HEADER = (
    "statement_id,account_id,period,issued_on,currency,"
    "opening_balance,total_credits,total_debits,closing_balance,transaction_count"
)
# 10.00 + 5.00 - 2.00 = 13.00
VALUES = ("S-1", "A-1", "2026-10", "2026-10-31", "EUR", "10.00", "5.00", "2.00", "13.00", "3")
ROW = ",".join(VALUES)


def read(data: bytes, **options: int) -> list[Record | Reject]:
    return list(StatementReader(io.BytesIO(data), SOURCE, PERIOD, **options))


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        # The csv module's wording (CPython 3.11), as the reader receives it.
        ("',' expected after '\"'", "malformed CSV: text after a closing quote"),
        (
            "new-line character seen in unquoted field - do you need to open the file in "
            "universal-newline mode?",
            "malformed CSV: carriage return inside an unquoted field",
        ),
        ("field larger than field limit (131072)", "malformed CSV: field too large"),
        # Python 3.10 and older refuse a NUL themselves.
        ("line contains NUL", "contains a NUL byte"),
        ("unexpected end of data", "malformed CSV"),
    ],
)
def test_csv_errors_map_to_stable_reasons(message: str, reason: str) -> None:
    assert csv_records._csv_error_reason(csv.Error(message)) == reason


def test_a_file_format_error_carries_the_file_and_the_problem() -> None:
    error = FileFormatError(SOURCE, "empty object (no header row)")
    assert error.args == (SOURCE, "empty object (no header row)")
    assert (error.source, error.problem) == (SOURCE, "empty object (no header row)")
    assert str(error) == "statements/2026-10/part-1.csv: empty object (no header row)"


def test_a_malformed_header_is_a_file_error_with_the_csv_reason() -> None:
    with pytest.raises(FileFormatError) as caught:
        read(b'"statement_id"x,' + HEADER.encode()[13:] + b"\n" + ROW.encode() + b"\n")
    assert caught.value.problem == (
        "header row is not valid CSV (malformed CSV: text after a closing quote)"
    )


def padded(length: int) -> bytes:
    """A valid row with a `note` column filling the line to `length` characters (LF included)."""
    note = "x" * (length - len(ROW) - 2)
    return f"{ROW},{note}\n".encode()


def test_a_row_of_exactly_the_bound_is_read_and_one_more_character_is_a_file_error() -> None:
    header = (HEADER + ",note\n").encode()  # 132 characters, under the bound of 200
    assert len(header) == 132
    # Read one byte at a time, the bound counts the row's own characters, LF included.
    assert read(header + padded(200), max_row_chars=200, chunk_bytes=1) == [
        Record(2, VALUES),
    ]
    with pytest.raises(FileFormatError) as caught:
        read(header + padded(201), max_row_chars=200, chunk_bytes=1)
    assert caught.value.problem == (
        "the row starting at line 2 is longer than 200 characters (an unbalanced quote?)"
    )


def test_the_row_bound_names_the_line_where_the_long_row_starts() -> None:
    header = (HEADER + ",note\n").encode()
    data = header + padded(100) + b"\n" + padded(100) + padded(300)
    with pytest.raises(FileFormatError) as caught:
        read(data, max_row_chars=200, chunk_bytes=7)
    assert caught.value.problem.startswith("the row starting at line 5 is longer than 200")


def test_a_field_within_the_row_bound_is_read_whatever_the_csv_limit_was() -> None:
    previous = csv.field_size_limit()
    try:
        csv.field_size_limit(100)
        data = (HEADER + ",note\n").encode() + padded(900)
        assert read(data, max_row_chars=1000, chunk_bytes=600) == [Record(2, VALUES)]
    finally:
        csv.field_size_limit(previous)


def test_values_checked_against_a_month_that_does_not_exist_never_match_it() -> None:
    assert validate_values(VALUES, "2026-13") == "period: does not match the month folder"
    assert validate_values((*VALUES[:2], "2026-13", *VALUES[3:]), "2026-13") == (
        "period: not a real month"
    )


def test_the_header_row_is_held_to_the_same_bound() -> None:
    header = (HEADER + ",note\n").encode()  # 132 characters, LF included
    assert read(header + padded(132), max_row_chars=132, chunk_bytes=1) == [Record(2, VALUES)]
    with pytest.raises(FileFormatError) as caught:
        read(header + padded(131), max_row_chars=131, chunk_bytes=1)
    assert caught.value.problem == (
        "the row starting at line 1 is longer than 131 characters (an unbalanced quote?)"
    )


def test_a_bom_inside_the_file_is_data_even_at_the_start_of_a_read() -> None:
    # Read byte by byte, the BOM of the second line is decoded as a piece of its own.
    data = f"\ufeff{HEADER}\n\ufeff{ROW}\n".encode()
    reason = "statement_id: characters other than A-Z a-z 0-9 . _ -"
    assert read(data, chunk_bytes=1) == [Reject(2, reason, ("\ufeffS-1", *VALUES[1:]))]


def test_a_valid_row_keeps_its_fields_as_read_for_a_later_rejects_line() -> None:
    # A valid row may still be rejected as a conflicting duplicate; its rejects line then
    # shows the row as written: untrimmed, extra columns included.
    data = f"{HEADER},note\n S-1 ,{ROW[4:]}, a note \n".encode()
    (record,) = read(data)
    assert record == Record(2, VALUES)
    assert record.raw == (" S-1 ", *VALUES[1:], " a note ")


@pytest.mark.parametrize("column", [0, 1])
def test_an_id_of_exactly_64_characters_is_judged_by_its_characters_only(column: int) -> None:
    name = ("statement_id", "account_id")[column]
    longest = list(VALUES)
    longest[column] = "S" * 64
    longest[4] = "eur"  # a later rule broken: the row goes through every rule in order
    assert validate_values(tuple(longest), PERIOD) == (
        "currency: not an ISO 4217 code (3 upper-case letters)"
    )
    longest[column] = "S" * 63 + "/"
    assert validate_values(tuple(longest), PERIOD) == (
        f"{name}: characters other than A-Z a-z 0-9 . _ -"
    )


def test_a_period_argument_that_is_not_a_month_is_refused_with_its_rule() -> None:
    with pytest.raises(ValueError, match=r"^period must") as caught:
        StatementReader(io.BytesIO(b""), SOURCE, "2026-13")
    assert str(caught.value) == "period must be a real month written YYYY-MM"


def test_malformed_rows_after_valid_ones_are_each_counted() -> None:
    data = f'{HEADER}\n{ROW}\n"S-2"x,{ROW[4:]}\n"S-3"x,{ROW[4:]}\n'.encode()
    reader = StatementReader(io.BytesIO(data), SOURCE, PERIOD)
    reason = "malformed CSV: text after a closing quote"
    assert list(reader) == [Record(2, VALUES), Reject(3, reason, ()), Reject(4, reason, ())]
    assert (reader.rows, reader.valid, reader.rejected) == (3, 1, 2)


def test_a_row_blank_only_in_ascii_is_a_row_not_a_blank_line() -> None:
    # Only ASCII whitespace makes a blank line: non-breaking spaces are content.
    nbsp_row = "," + ",".join(["\u00a0"] * 9)
    data = f"{HEADER}\n{nbsp_row}\n".encode()
    assert read(data) == [Reject(2, "statement_id: empty", ("", *["\u00a0"] * 9))]


def test_every_rejected_row_is_counted() -> None:
    bad = ROW.replace("EUR", "eur")
    reader = StatementReader(
        io.BytesIO(f"{HEADER}\n{bad}\n{bad}\n{ROW}\n".encode()), SOURCE, PERIOD
    )
    assert [type(row).__name__ for row in reader] == ["Reject", "Reject", "Record"]
    assert (reader.rows, reader.valid, reader.rejected) == (3, 1, 2)


def test_many_short_rows_in_one_read_are_each_held_to_the_bound_alone() -> None:
    """Reads of 150 bytes hold two or three 55-character rows each: every complete line goes to
    the csv reader at once, so rows already read never count towards the next row's bound of
    250 (at most 54 held back + 150 read)."""
    data = (HEADER + "\n" + (ROW + "\n") * 20).encode()
    rows = read(data, max_row_chars=250, chunk_bytes=150)
    assert rows == [Record(line, VALUES) for line in range(2, 22)]


def test_a_header_name_is_trimmed_of_ascii_blanks_only() -> None:
    """A tab around a name is trimmed; a no-break space is part of the name, as in values."""
    tabbed = ("\tstatement_id\t" + HEADER[len("statement_id") :] + "\n" + ROW + "\n").encode()
    assert read(tabbed) == [Record(2, VALUES)]
    nbsp = ("\u00a0statement_id" + HEADER[len("statement_id") :] + "\n" + ROW + "\n").encode()
    with pytest.raises(FileFormatError) as caught:
        read(nbsp)
    assert caught.value.problem == "missing required column(s): statement_id"
