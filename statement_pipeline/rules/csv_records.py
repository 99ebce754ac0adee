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
import io
import itertools
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from statement_pipeline.rules.statement_fields import (
    CHUNK_BYTES,
    COLUMNS,
    MAX_ROW_CHARS,
    MONEY_COLUMNS,
    NUL_IN_ROW,
    NUMBER_COLUMNS,
    WHITESPACE,
    is_real_month,
    validate_values,
)

# The reader's vocabulary, for callers that import it from here.
__all__ = [
    "COLUMNS",
    "MONEY_COLUMNS",
    "NUMBER_COLUMNS",
    "FileFormatError",
    "Record",
    "Reject",
    "StatementReader",
    "validate_values",
]


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
        if not is_real_month(period):
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
