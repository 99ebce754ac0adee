"""The statement columns and the rules each value must follow (CONTRACT.md section 2).

Pure functions on strings: `validate_values` gives the first broken rule of a row, or None.
The CSV reader (`csv_records`) applies them to every row it reads.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Callable, Sequence
from functools import lru_cache

COLUMNS: tuple[str, ...] = (
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
MONEY_COLUMNS: tuple[str, ...] = (
    "opening_balance",
    "total_credits",
    "total_debits",
    "closing_balance",
)
NUMBER_COLUMNS: frozenset[str] = frozenset((*MONEY_COLUMNS, "transaction_count"))

ID_MAX_LENGTH = 64
MAX_DIGITS = 38
MAX_ROW_CHARS = 1 << 20
CHUNK_BYTES = 1 << 16

# Trimmed around values and header names; see the module docstring for why ASCII only.
WHITESPACE = " \t\r\n\x0b\x0c"

# Every character class is spelled [0-9] / [A-Z]: `\d` and IGNORECASE also match non-ASCII.
_ID = re.compile(r"[A-Za-z0-9._-]+").fullmatch
_MONTH_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}").fullmatch
_REAL_MONTH = re.compile(r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])").fullmatch
_DATE_SHAPE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})").fullmatch
_CURRENCY = re.compile(r"[A-Z]{3}").fullmatch
_MONEY = re.compile(r"-?[0-9]+(?:\.[0-9]{1,4})?").fullmatch
_COUNT = re.compile(r"[0-9]+").fullmatch
_TOO_MANY_DECIMALS = re.compile(r"-?[0-9]+\.[0-9]{5,}").fullmatch
_GROUPING = re.compile(r"[0-9][,_' \u00a0\u202f][0-9]").search
_EXPONENT = re.compile(r"[0-9.][eE][-+]?[0-9]").search

# Enough precision that adding three 38-digit amounts is exact; Inexact would signal a bug.
_EXACT = decimal.Context(
    prec=100,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow],
)
_Decimal = decimal.Decimal

NOT_RECONCILED = "does not reconcile: opening + credits - debits != closing"
NUL_IN_ROW = "contains a NUL byte"


def is_real_month(text: str) -> bool:
    return _REAL_MONTH(text) is not None


def _id_reason(column: str, value: str) -> str | None:
    if len(value) <= ID_MAX_LENGTH and _ID(value):
        return None
    if not value:
        return f"{column}: empty"
    if len(value) > ID_MAX_LENGTH:
        return f"{column}: longer than {ID_MAX_LENGTH} characters"
    return f"{column}: characters other than A-Z a-z 0-9 . _ -"


def _period_reason(value: str, period: str) -> str | None:
    if not _MONTH_SHAPE(value):
        return "period: not in YYYY-MM format"
    if not _REAL_MONTH(value):
        return "period: not a real month"
    if value != period:
        return "period: does not match the month folder"
    return None


@lru_cache(maxsize=4096)
def _date_reason(value: str) -> str | None:
    """Cached: a file holds only a few dozen distinct issue dates."""
    shape = _DATE_SHAPE(value)
    if not shape:
        return "issued_on: not in YYYY-MM-DD format"
    try:
        datetime.date(int(shape[1]), int(shape[2]), int(shape[3]))
    except ValueError:
        return "issued_on: not a real calendar date"
    return None


def _money_reason(column: str, value: str) -> str | None:
    """Explain why `value` is not a contract decimal (called only after the fast check failed)."""
    if not value:
        return f"{column}: empty"
    lowered = value.lower()
    if "nan" in lowered or "inf" in lowered:
        return f"{column}: NaN/Infinity not allowed"
    if _EXPONENT(value):
        return f"{column}: exponent not allowed"
    if value.startswith("+"):
        return f"{column}: '+' sign not allowed"
    if _GROUPING(value):
        return f"{column}: thousands separators not allowed"
    if _TOO_MANY_DECIMALS(value):
        return f"{column}: more than 4 decimal places"
    return f"{column}: not a decimal (optional '-', digits, optional '.' and 1 to 4 digits)"


def _too_many_digits(value: str) -> bool:
    """More than MAX_DIGITS digits as written, ignoring the sign, the point and leading zeros."""
    if len(value) <= MAX_DIGITS:
        return False
    return len(value.lstrip("-").replace(".", "").lstrip("0")) > MAX_DIGITS


_NEVER = re.compile(r"(?!)").fullmatch

# Shapes that are valid for sure (at most 38 digits by construction); the precise rules
# and the reasons live in `_first_broken_rule`, used when this does not match.
_FAST_ID = r"[A-Za-z0-9._-]{1,64}"
_FAST_SIGNED = r"-?[0-9]{1,34}(?:\.[0-9]{1,4})?"
_FAST_UNSIGNED = r"[0-9]{1,34}(?:\.[0-9]{1,4})?"
_FAST_DATE = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"


@lru_cache(maxsize=64)
def _fast_row(period: str) -> Callable[[str], re.Match[str] | None]:
    """A matcher for the newline-joined values of a plainly valid row of month `period`.

    No part of the pattern matches a newline, so a match also proves there were exactly
    10 values without embedded newlines: the join is unambiguous.
    """
    if not is_real_month(period):
        return _NEVER
    parts = (
        _FAST_ID,
        _FAST_ID,
        re.escape(period),
        _FAST_DATE,
        "[A-Z]{3}",
        _FAST_SIGNED,
        _FAST_UNSIGNED,
        _FAST_UNSIGNED,
        _FAST_SIGNED,
        "[0-9]{1,38}",
    )
    return re.compile("\n".join(parts)).fullmatch


def _reconciles(amounts: Sequence[str]) -> bool:
    opening, credits, debits, closing = map(_Decimal, amounts)
    return _EXACT.subtract(_EXACT.add(opening, credits), debits) == closing


def validate_values(values: Sequence[str], period: str) -> str | None:
    """Validate 10 trimmed values in COLUMNS order for month `period`.

    Returns None if the row is valid, else the reason of the first broken rule (checked in
    column order, reconciliation last). Reasons name columns and rules, never values.

    A `-` sign on total_credits or total_debits is negative even on zero (`-0.00` is rejected).
    """
    if (
        len(values) == len(COLUMNS)
        and _fast_row(period)("\n".join(values))
        and _date_reason(values[3]) is None
    ):
        return None if _reconciles(values[5:9]) else NOT_RECONCILED
    return _first_broken_rule(values, period)


def _first_broken_rule(values: Sequence[str], period: str) -> str | None:
    """The slow, precise check behind `validate_values`: every rule, with its reason."""
    if len(values) != len(COLUMNS):
        return f"expected {len(COLUMNS)} values, got {len(values)}"
    statement_id, account_id, row_period, issued_on, currency, *amounts, count = values
    reason = _id_reason("statement_id", statement_id) or _id_reason("account_id", account_id)
    if reason:
        return reason
    if row_period != period or not _REAL_MONTH(row_period):
        return _period_reason(row_period, period)
    # Only a 10-character value can be a date; the length guard also keeps huge values
    # out of the cache.
    if len(issued_on) != 10:
        return "issued_on: not in YYYY-MM-DD format"
    reason = _date_reason(issued_on)
    if reason:
        return reason
    if not _CURRENCY(currency):
        return "currency: not an ISO 4217 code (3 upper-case letters)"
    for column, value in zip(MONEY_COLUMNS, amounts, strict=True):
        if not _MONEY(value):
            return _money_reason(column, value)
        if _too_many_digits(value):
            return f"{column}: more than {MAX_DIGITS} significant digits (DynamoDB limit)"
    if amounts[1][0] == "-":
        return "total_credits: negative (must not carry a '-' sign)"
    if amounts[2][0] == "-":
        return "total_debits: negative (must not carry a '-' sign)"
    if not _COUNT(count):
        return "transaction_count: not a non-negative integer (digits only)"
    if _too_many_digits(count):
        return f"transaction_count: more than {MAX_DIGITS} significant digits (DynamoDB limit)"
    if not _reconciles(amounts):
        return NOT_RECONCILED
    return None
