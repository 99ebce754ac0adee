"""Expected values computed without the code under test, for tests that compare contents."""

from __future__ import annotations

import csv
import io

# The contract's ten columns (CONTRACT.md section 2), in the order records hold them.
CONTRACT_COLUMNS = (
    "statement_id",
    "account_id",
    "period",
    "issued_on",
    "currency",
    "opening_balance",
    "total_credits",
    "total_debits",
    "closing_balance",
    "transaction_count",
)


def rows_as_written(content: bytes) -> list[tuple[str, ...]]:
    """The contract's columns of each data row of a valid file, read with the csv module.

    Independent of `StatementReader`: decode (BOM dropped), split the RFC 4180 rows, skip
    blank ones, match header names trimmed and case-insensitively, trim values. Numbers stay
    exactly as written, so a digit the reader drops or adds differs from these.
    """
    rows = csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""))
    header, *data = [row for row in rows if any(field.strip() for field in row)]
    names = [name.strip().lower() for name in header]
    at = [names.index(column) for column in CONTRACT_COLUMNS]
    return [tuple(row[i].strip() for i in at) for row in data]
