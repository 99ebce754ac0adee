"""Streaming reader and validator of statement files (CONTRACT.md section 2).

Plain standard-library Python: it is used by the Dagster assets, the loader and the tests alike.

A `StatementReader` turns one binary stream (an S3 body, a file, `io.BytesIO`) into `Record`
(a valid row) and `Reject` (an invalid row, with its line number and reason) objects, in file
order, while reading the stream in fixed-size chunks: memory does not grow with the file.
Problems that make the whole file unreadable raise `FileFormatError`.

Decisions where the contract is silent (also listed in the README):

- Trimming removes ASCII whitespace only (space, tab, CR, LF, VT, FF). A value padded with a
  non-breaking or other Unicode space is kept as written, so it fails its rule visibly instead
  of being silently altered.
- A row whose fields are all empty or whitespace (e.g. `,,,`) counts as a blank line.
- Quoting is strict RFC 4180: text after a closing quote (`"a"b`, `"a" ,`) or a bare CR inside
  an unquoted field rejects the row ("malformed CSV ..."); its fields are unknown, so the
  `Reject.raw` of such a row is empty.
- A row must have exactly as many fields as the header; more or fewer rejects it.
- A NUL character anywhere in a row (even in an ignored extra column) rejects the row.
- A row longer than `MAX_ROW_CHARS` characters (1 MiB) is a file-level error: it is almost
  always an unbalanced quote swallowing the rest of the file, and bounding it keeps memory flat.
- Amounts and counts may have at most 38 digits, counted as written after leading zeros
  (DynamoDB's N type keeps 38 significant digits). Trailing zeros count too, which is
  stricter than DynamoDB itself but guarantees the value as written fits a 38-digit decimal
  context exactly (boto3 signals `Rounded` otherwise).
- A minus sign on total_credits or total_debits rejects the row even on zero (`-0`, `-0.00`):
  upstream never has a reason to write it, and it most likely marks a sign error.
- currency is checked for its shape (3 upper-case ASCII letters), not against the ISO list.
- Leading zeros are allowed (`007`, `0100.50`): the contract only asks for digits.
- A duplicated unknown column is ignored like any unknown column; only a duplicated required
  column is a file error.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import decimal
import io
import itertools
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import BinaryIO

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


class FileFormatError(ValueError):
    """The file cannot be read as a statement file at all.

    `str(e)` is "<source>: <problem>". Neither part ever holds row values.
    """

    source: str
    problem: str

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(source, problem)
        self.source = source
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Record:
    """A valid row: its first physical line and its 10 trimmed values in COLUMNS order."""

    line: int
    values: tuple[str, ...]
    # The fields as read, kept only for reporting (a valid row can still be rejected later
    # as a conflicting duplicate, and its rejects line must show the row as it was).
    raw: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Reject:
    """An invalid row: its first physical line, why (never its values) and its fields as read."""

    line: int
    reason: str
    raw: tuple[str, ...]


def _is_real_month(text: str) -> bool:
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
    if not _is_real_month(period):
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


def _csv_error_reason(error: csv.Error) -> str:
    """Map the csv module's message to a stable reason (its wording varies across versions)."""
    message = str(error)
    if "expected after" in message:
        return "malformed CSV: text after a closing quote"
    if "new-line character" in message:
        return "malformed CSV: carriage return inside an unquoted field"
    if "field limit" in message:
        return "malformed CSV: field too large"
    if "NUL" in message:
        return NUL_IN_ROW
    return "malformed CSV"


def _ensure_field_size_limit(minimum: int) -> None:
    # The limit is process-wide: only ever raise it, never lower what someone else chose.
    if csv.field_size_limit() < minimum:
        csv.field_size_limit(minimum)


def _is_blank(row: list[str]) -> bool:
    return not any(field.strip(WHITESPACE) for field in row)


class StatementReader:
    """Streams one statement file; iterate once to get `Record` / `Reject` in file order.

    The header is read in the constructor (FileFormatError for an empty object, no header,
    a missing or duplicated required column). Iteration raises FileFormatError lazily for
    problems found further in: bytes that are not UTF-8, a quoted field left open at the end
    of the file, or a row longer than `max_row_chars`.

    Counters, updated while iterating: `rows` (non-blank data rows seen), `valid`,
    `rejected`, `bytes_read` (bytes taken from the stream so far).
    """

    header: list[str]
    extra_columns: list[str]
    rows: int
    valid: int
    rejected: int
    bytes_read: int

    def __init__(
        self,
        stream: BinaryIO,
        source: str,
        period: str,
        *,
        max_row_chars: int = MAX_ROW_CHARS,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        if not _is_real_month(period):
            raise ValueError("period must be a real month written YYYY-MM")
        self.source = source
        self.period = period
        self.rows = self.valid = self.rejected = self.bytes_read = 0
        self._stream = stream
        self._max_row_chars = max_row_chars
        self._chunk_bytes = chunk_bytes
        # Progress bookkeeping shared with the chunk generator (see `_chunks`).
        self._fed = 0
        self._mark = 0
        self._start_line = 1
        self._lines_decoded = 0
        self._eof = False
        self._nul_seen = False
        # Above our own row bound, so an oversized row is reported by `_chunks`, not by csv.
        _ensure_field_size_limit(2 * max_row_chars + 2 * chunk_bytes)
        self._reader = csv.reader(itertools.chain.from_iterable(self._chunks()), strict=True)
        self.header, self.extra_columns, self._pick = self._read_header()
        self._width = len(self.header)

    def _fail(self, problem: str) -> FileFormatError:
        return FileFormatError(self.source, problem)

    def _decode(self, decoder: codecs.IncrementalDecoder, data: bytes, final: bool) -> str:
        pending = len(decoder.getstate()[0])
        try:
            return decoder.decode(data, final)
        except UnicodeDecodeError as error:
            # error.start is relative to the decoder's held-back bytes + this chunk.
            offset = self.bytes_read - pending + error.start
            line = self._lines_decoded + error.object[: error.start].count(b"\n") + 1
            raise self._fail(f"not UTF-8 (invalid byte at offset {offset}, line {line})") from None

    def _chunks(self) -> Iterator[io.StringIO]:
        """Decode the stream chunk by chunk into blocks of whole lines for the csv reader.

        Each block ends at a line feed so that csv's line count is the physical line count;
        an incomplete last line waits for the next chunk. The csv reader only asks for the
        next block once it consumed the previous one, so `_fed - _mark` (characters handed
        over since the last complete row) bounds the size of the row being parsed.
        """
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        read = self._stream.read
        # The incomplete last line, kept in pieces: joining per chunk would be quadratic
        # for a long line arriving through many small reads.
        pending: list[str] = []
        pending_chars = 0
        bom_checked = False
        final = False
        while not final:
            data = read(self._chunk_bytes) or b""
            final = not data
            text = self._decode(decoder, data, final)
            self.bytes_read += len(data)
            if not bom_checked and text:
                bom_checked = True
                if text[0] == "\ufeff":
                    text = text[1:]
            self._lines_decoded += text.count("\n")
            if not self._nul_seen and "\x00" in text:
                self._nul_seen = True
            cut = len(text) if final else text.rfind("\n") + 1
            if self._fed - self._mark + pending_chars + len(text) > self._max_row_chars:
                raise self._fail(
                    f"the row starting at line {self._start_line} is longer than "
                    f"{self._max_row_chars} characters (an unbalanced quote?)"
                )
            if not cut and not final:
                pending.append(text)
                pending_chars += len(text)
                continue
            pending.append(text[:cut])
            block = "".join(pending)
            rest = text[cut:]
            pending = [rest]
            pending_chars = len(rest)
            if block:
                self._fed += len(block)
                yield io.StringIO(block, newline="\n")
        self._eof = True

    def _next_row(self) -> list[str] | csv.Error | None:
        """The next csv row (blank ones included), a row-level csv.Error, or None at the end."""
        self._start_line = self._reader.line_num + 1
        try:
            row = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as error:
            if self._eof:
                raise self._fail(
                    f"quoted field left open at end of file (row starting at line "
                    f"{self._start_line})"
                ) from None
            self._mark = self._fed
            return error
        self._mark = self._fed
        return row

    def _read_header(self) -> tuple[list[str], list[str], Callable[[list[str]], tuple[str, ...]]]:
        while True:
            row = self._next_row()
            if row is None:
                if self.bytes_read == 0:
                    raise self._fail("empty object (no header row)")
                raise self._fail("no header row (only blank lines)")
            if isinstance(row, csv.Error):
                raise self._fail(f"header row is not valid CSV ({_csv_error_reason(row)})")
            if not _is_blank(row):
                break
        if self._nul_seen and any("\x00" in name for name in row):
            raise self._fail("header row contains a NUL byte")
        header = [name.strip(WHITESPACE).lower() for name in row]
        required = set(COLUMNS)
        duplicated = sorted({n for n in header if n in required and header.count(n) > 1})
        if duplicated:
            raise self._fail(f"duplicated column(s) in header: {', '.join(duplicated)}")
        missing = [name for name in COLUMNS if name not in header]
        if missing:
            raise self._fail(f"missing required column(s): {', '.join(missing)}")
        extra = list(dict.fromkeys(name for name in header if name not in required))
        pick = operator.itemgetter(*(header.index(name) for name in COLUMNS))
        return header, extra, pick

    def __iter__(self) -> Iterator[Record | Reject]:
        """Yield every non-blank data row as Record or Reject; a second pass yields nothing."""
        pick = self._pick
        width = self._width
        period = self.period
        strip = WHITESPACE
        trim = operator.methodcaller("strip", WHITESPACE)
        while True:
            row = self._next_row()
            if row is None:
                return
            line = self._start_line
            if isinstance(row, csv.Error):
                self.rows += 1
                self.rejected += 1
                yield Reject(line, _csv_error_reason(row), ())
                continue
            # Fast path: a first field with content means the row is not blank.
            if not row or (not row[0].strip(strip) and _is_blank(row)):
                continue
            self.rows += 1
            if self._nul_seen and any("\x00" in field for field in row):
                reason: str | None = NUL_IN_ROW
            elif len(row) != width:
                reason = f"expected {width} fields, got {len(row)}"
            else:
                values = tuple(map(trim, pick(row)))
                reason = validate_values(values, period)
                if reason is None:
                    self.valid += 1
                    yield Record(line, values, tuple(row))
                    continue
            self.rejected += 1
            yield Reject(line, reason, tuple(row))
