"""A corpus of bad rows: one valid sample row with one rule of the contract broken each."""

from __future__ import annotations

from statement_pipeline.rules.statement_fields import COLUMNS, ID_MAX_LENGTH, MAX_DIGITS
from statement_samples.generator import _cents, _money, _parse_period, generate_rows, statement_id


def bad_rows_corpus(period: str) -> list[tuple[str, tuple[str, ...] | str]]:
    """(expected reason keyword, bad row) pairs covering every row rule of the contract.

    Rows are 10 fields in COLUMNS order (each a valid row with one thing broken) or, for
    field-count cases, a raw CSV line. Render them under the plain COLUMNS header.
    """
    year, month = _parse_period(period)
    good = next(generate_rows(period, 1, seed=7, start=9_000_000))
    other_month = f"{year:04d}-{month % 12 + 1:02d}" if month != 12 else f"{year:04d}-11"

    def with_(number: int, **changes: str) -> tuple[str, ...]:
        row = dict(zip(COLUMNS, good, strict=True))
        row["statement_id"] = statement_id(period, 9_100_000 + number)
        row.update(changes)
        return tuple(row[c] for c in COLUMNS)

    def amounts(number: int, column: str, value: str) -> tuple[str, ...]:
        return with_(number, **{column: value})

    cases: list[tuple[str, tuple[str, ...] | str]] = [
        ("statement_id: empty", with_(0, statement_id="")),
        ("statement_id: characters other", with_(1, statement_id="STM 1")),
        ("statement_id: characters other", with_(2, statement_id="STM/1")),
        ("statement_id: characters other", with_(3, statement_id="STM-\u0661")),
        ("statement_id: characters other", with_(4, statement_id="STM-Ä1")),
        ("statement_id: longer than 64", with_(5, statement_id="S" * (ID_MAX_LENGTH + 1))),
        ("account_id: empty", with_(6, account_id="")),
        ("account_id: characters other", with_(7, account_id="ACC#000123")),
        ("account_id: longer than 64", with_(8, account_id="A" * (ID_MAX_LENGTH + 1))),
        ("account_id: longer than 64", with_(9, account_id="A" * 200_000)),
        ("period: not a real month", with_(10, period=f"{year:04d}-13")),
        ("period: not a real month", with_(11, period=f"{year:04d}-00")),
        ("period: not in YYYY-MM format", with_(12, period=f"{year:04d}/{month:02d}")),
        ("period: not in YYYY-MM format", with_(13, period=f"{year % 100:02d}-{month:02d}")),
        ("period: not in YYYY-MM format", with_(14, period="")),
        ("period: does not match the month folder", with_(15, period=other_month)),
        ("issued_on: not a real calendar date", with_(16, issued_on=f"{year:04d}-02-30")),
        ("issued_on: not a real calendar date", with_(17, issued_on=f"{year:04d}-13-01")),
        ("issued_on: not a real calendar date", with_(18, issued_on="0000-01-01")),
        ("issued_on: not in YYYY-MM-DD format", with_(19, issued_on=f"{year:04d}-{month}-5")),
        ("issued_on: not in YYYY-MM-DD format", with_(20, issued_on=f"05/{month:02d}/{year}")),
        (
            "issued_on: not in YYYY-MM-DD format",
            with_(21, issued_on="\uff12\uff10\uff12\uff16-01-05"),
        ),
        ("issued_on: not in YYYY-MM-DD format", with_(22, issued_on="")),
        ("currency: not an ISO 4217", with_(23, currency="eur")),
        ("currency: not an ISO 4217", with_(24, currency="EURO")),
        ("currency: not an ISO 4217", with_(25, currency="EU")),
        ("currency: not an ISO 4217", with_(26, currency="")),
        ("currency: not an ISO 4217", with_(27, currency="ÉUR")),
        ("thousands separators", amounts(28, "opening_balance", "1,000.00")),
        ("thousands separators", amounts(29, "closing_balance", "1 000.00")),
        ("thousands separators", amounts(30, "total_credits", "1_000.00")),
        ("exponent not allowed", amounts(31, "opening_balance", "1e3")),
        ("exponent not allowed", amounts(32, "total_debits", "1.5E+2")),
        ("NaN/Infinity not allowed", amounts(33, "opening_balance", "NaN")),
        ("NaN/Infinity not allowed", amounts(34, "closing_balance", "Infinity")),
        ("NaN/Infinity not allowed", amounts(35, "total_credits", "-inf")),
        ("'+' sign not allowed", amounts(36, "total_credits", "+5.00")),
        ("more than 4 decimal places", amounts(37, "opening_balance", "5.00001")),
        ("not a decimal", amounts(38, "opening_balance", ".50")),
        ("not a decimal", amounts(39, "closing_balance", "5.")),
        ("not a decimal", amounts(40, "total_debits", "\u0665.00")),
        ("not a decimal", amounts(41, "opening_balance", "--5.00")),
        ("opening_balance: empty", amounts(42, "opening_balance", "")),
        ("total_credits: negative", amounts(43, "total_credits", "-5.00")),
        ("total_credits: negative", amounts(44, "total_credits", "-0.00")),
        ("total_debits: negative", amounts(45, "total_debits", "-1")),
        ("total_debits: negative", amounts(46, "total_debits", "-0")),
        ("transaction_count: not a non-negative integer", with_(47, transaction_count="-1")),
        ("transaction_count: not a non-negative integer", with_(48, transaction_count="1.5")),
        ("transaction_count: not a non-negative integer", with_(49, transaction_count="1e2")),
        ("transaction_count: not a non-negative integer", with_(50, transaction_count="+3")),
        ("transaction_count: not a non-negative integer", with_(51, transaction_count="\u0663")),
        ("transaction_count: not a non-negative integer", with_(52, transaction_count="")),
        ("does not reconcile", with_(53, closing_balance=_money(_cents(good[8]) + 1))),
        ("does not reconcile", with_(54, total_debits=_money(_cents(good[7]) + 100))),
        (f"more than {MAX_DIGITS} significant digits", _big_row(period, good, 55)),
        (f"more than {MAX_DIGITS} significant digits", with_(56, transaction_count="9" * 39)),
        ("contains a NUL byte", with_(57, account_id="ACC-\x00123")),
        ("expected 10 fields, got 3", f"{statement_id(period, 9_100_058)},ACC-1,{period}"),
        ("expected 10 fields, got 11", ",".join((*with_(59), "extra"))),
        ("expected 10 fields, got 9", ",".join(with_(60)[:9])),
    ]
    return cases


def _big_row(period: str, good: tuple[str, ...], number: int) -> tuple[str, ...]:
    """A reconciling row whose opening and closing balances have 39 significant digits."""
    big = 10**38 + 12_345
    row = list(good)
    row[0] = statement_id(period, 9_100_000 + number)
    row[5:9] = [_money(big, 0), "0.00", "0.00", _money(big, 0)]
    return tuple(row)
