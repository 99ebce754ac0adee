"""Deterministic sample data: valid statement months, quirky-but-valid files, and bad rows.

Standard library only. Every value is derived from (seed, period, row number) through a
stateless integer mix, so row n is the same whichever `start`/`count` window produces it and
however a month is split into files. Statement ids depend on (period, row number) only:
generating the same rows with another seed gives conflicting rows that share their ids.
"""

from __future__ import annotations

import calendar
import datetime
import random
import re
from collections.abc import Iterable, Iterator, Sequence

from statement_pipeline.rules.csv_records import COLUMNS

_MASK = (1 << 64) - 1
# Weighted toward the currencies a European bank would actually see most.
CURRENCIES: tuple[str, ...] = (
    *("EUR",) * 6,
    *("USD",) * 3,
    *("GBP",) * 2,
    "CHF",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
)
ACCOUNTS = 200_000
ISSUE_DAYS_AFTER_MONTH = 5
BOM = b"\xef\xbb\xbf"
EXTRA_COLUMN = "Branch Note"


def _mix(value: int) -> int:
    """splitmix64 finaliser: a well-spread 64-bit hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def _parse_period(period: str) -> tuple[int, int]:
    year_text, sep, month_text = period.partition("-")
    if (
        not sep
        or len(year_text) != 4
        or len(month_text) != 2
        or not (year_text + month_text).isascii()
        or not (year_text + month_text).isdigit()
        or not 1 <= int(year_text) <= 9999
        or not 1 <= int(month_text) <= 12
    ):
        raise ValueError("period must be a real month written YYYY-MM")
    return int(year_text), int(month_text)


def _money(units: int, decimals: int = 2) -> str:
    """Format an integer number of 10**-decimals units as a contract decimal."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}" if decimals else f"{sign}{whole}"


def _cents_text(cents: int) -> str:
    """`_money(cents)`, about twice as fast: the generator formats four amounts per row."""
    if cents < 0:
        whole, frac = divmod(-cents, 100)
        return f"-{whole}.{frac:02d}"
    whole, frac = divmod(cents, 100)
    return f"{whole}.{frac:02d}"


def _issue_dates(year: int, month: int) -> list[str]:
    first = datetime.date(year, month, 1)
    days = calendar.monthrange(year, month)[1] + ISSUE_DAYS_AFTER_MONTH
    return [(first + datetime.timedelta(days=d)).isoformat() for d in range(days)]


def statement_id(period: str, number: int) -> str:
    """The statement id of row `number` of a generated month."""
    return f"STM-{period.replace('-', '')}-{number:07d}"


def generate_rows(
    period: str, count: int, seed: int = 0, start: int = 0
) -> Iterator[tuple[str, ...]]:
    """`count` valid, reconciling rows (values in COLUMNS order) for month `period`.

    Row i is number `start + i`; its statement_id depends on (period, number) only, its
    other values also on `seed`. Balances are in cents, sometimes negative (overdrafts).
    """
    year, month = _parse_period(period)
    if count < 0 or start < 0:
        raise ValueError("count and start must not be negative")
    dates = _issue_dates(year, month)
    n_dates = len(dates)
    n_currencies = len(CURRENCIES)
    base = _mix((seed & _MASK) ^ _mix(year * 100 + month))
    id_prefix = f"STM-{year:04d}{month:02d}-"
    for number in range(start, start + count):
        h1 = _mix(base + number)
        h2 = _mix(h1)
        transactions = (h1 >> 40) % 301
        opening = h2 % 10_000_000 - 1_000_000
        if transactions:
            credits = (h2 >> 24) % 2_500_000
            debits = (h2 >> 44) % 2_500_000
        else:
            credits = debits = 0
        closing = opening + credits - debits
        yield (
            f"{id_prefix}{number:07d}",
            f"ACC-{h1 % ACCOUNTS:06d}",
            period,
            dates[(h1 >> 20) % n_dates],
            CURRENCIES[(h1 >> 32) % n_currencies],
            _cents_text(opening),
            _cents_text(credits),
            _cents_text(debits),
            _cents_text(closing),
            str(transactions),
        )


_NEEDS_QUOTES = re.compile(r'[",\r\n]').search


def _field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if _NEEDS_QUOTES(value) else value


def csv_line(fields: Sequence[str]) -> str:
    """One RFC 4180 line without terminator: fields quoted when they hold `,` `"` CR or LF.

    (Python 3.11's csv.writer quotes CR or LF only when they are part of its terminator.)
    """
    line = ",".join(fields)
    if len(fields) == 1 and not line:
        # A lone empty field must not look like a blank line.
        return '""'
    if '"' in line or "\r" in line or "\n" in line or line.count(",") != len(fields) - 1:
        return ",".join(map(_field, fields))
    return line


def render_csv(
    header: Sequence[str],
    rows: Iterable[Sequence[str] | str],
    *,
    bom: bool = False,
    crlf: bool = False,
) -> bytes:
    """Serialise as UTF-8 CSV with RFC 4180 quoting; a str row is written verbatim as one line."""
    terminator = "\r\n" if crlf else "\n"
    lines = [csv_line(header)]
    lines.extend(row if isinstance(row, str) else csv_line(row) for row in rows)
    lines.append("")
    data = terminator.join(lines).encode("utf-8")
    return BOM + data if bom else data


def _quote_all(fields: Sequence[str]) -> str:
    """One CSV line with every field quoted (RFC 4180 allows quoting any field)."""
    return ",".join('"' + field.replace('"', '""') + '"' for field in fields)


def _split(count: int, files: int) -> list[tuple[int, int]]:
    """(start, size) of each file, sizes differing by at most one."""
    size, extra = divmod(count, files)
    spans = []
    start = 0
    for index in range(files):
        length = size + (1 if index < extra else 0)
        spans.append((start, length))
        start += length
    return spans


def _quirky_amounts(row: list[str], number: int) -> None:
    """Rewrite the amounts of some rows with allowed-but-unusual forms, keeping them reconciled.

    Works in 10**-4 units so every form stays exact.
    """
    kind = number % 8
    if kind not in (1, 2, 3, 4, 5):
        return
    opening, credits, debits, closing = (_cents(v) * 100 for v in row[5:9])
    if kind == 1:
        # Trailing zeros: 4 decimals where 2 would do ("10.5000").
        row[5:9] = [_money(v, 4) for v in (opening, credits, debits, closing)]
        return
    if kind == 2:
        # Genuine 4-decimal amounts.
        cents4 = number % 9_999 + 1
        credits += cents4
        closing += cents4
        row[5:9] = [_money(v, 4) for v in (opening, credits, debits, closing)]
        return
    if kind == 3:
        # Very large amounts: 36 integer digits + 2 decimals = exactly 38 significant digits.
        big = (10**35 + number * 7_919) * 10_000
        opening += big
        closing += big
    elif kind == 4:
        # Overdraft: a negative opening, often a negative closing; sometimes "-0.00".
        shift = -abs(opening) - 100_000 if number % 16 != 4 else -opening
        opening += shift
        closing += shift
    elif kind == 5:
        # Whole amounts written without a decimal point.
        opening = opening // 10_000 * 10_000
        credits = credits // 10_000 * 10_000
        debits = debits // 10_000 * 10_000
        closing = opening + credits - debits
        row[5:9] = [_money(v // 10_000, 0) for v in (opening, credits, debits, closing)]
        row[9] = row[9].zfill(3)
        return
    row[5:9] = [_money(v // 100) for v in (opening, credits, debits, closing)]
    if kind == 4 and opening == 0:
        row[5] = "-0.00"


def _note(number: int) -> str:
    """A value of the unknown extra column: sometimes empty, sometimes full of CSV specials."""
    kind = number % 5
    if kind == 0:
        return ""
    if kind == 1:
        return f"branch {number % 97}"
    if kind == 2:
        return f'called customer, said "ok", ref {number}'
    if kind == 3:
        return f"line one, Zürich café\nline two ({number})"
    return f'"{number}"\r\nsecond, line'


def _pad(value: str, number: int) -> str:
    return ("  ", "\t", " ")[number % 3] + value + (" ", "  ", "\t ")[number % 3]


def _quirky_file(
    rows: Iterable[tuple[str, ...]],
    start: int,
    index: int,
    files: int,
    seed: int,
) -> bytes:
    """One file using the quirks assigned to it (every quirk when the month is one file)."""
    features = ("bom", "crlf", "extra", "blank", "no_final_newline", "quoted")
    on = {name for j, name in enumerate(features) if files == 1 or j % files == index}
    shuffler = random.Random(f"{seed}:{index}")
    names: list[str] = list(COLUMNS)
    if "extra" in on:
        names.append(EXTRA_COLUMN)
    order = list(range(len(names)))
    shuffler.shuffle(order)
    header = []
    for position, column in enumerate(order):
        name = names[column]
        style = (position + index) % 4
        header.append(
            (name.upper(), f"  {name} ", name.title(), f" {name.upper()}\t")[style]
            if column < len(COLUMNS)
            else name
        )
    out_rows: list[Sequence[str] | str] = []
    if "blank" in on:
        out_rows.append("")
    for offset, row in enumerate(rows):
        number = start + offset
        values = list(row)
        _quirky_amounts(values, number)
        if "extra" in on:
            values.append(_note(number))
        if number % 6 == 0:
            values = [_pad(v, number + i) if v else v for i, v in enumerate(values)]
        fields = [values[column] for column in order]
        if "quoted" in on and number % 4 == 1:
            out_rows.append(_quote_all(fields))
        else:
            out_rows.append(fields)
        if "blank" in on and number % 50 == 0:
            out_rows.append("" if number % 100 else "  \t ")
    if "blank" in on:
        out_rows.extend(["", ""])
    content = render_csv(header, out_rows, bom="bom" in on, crlf="crlf" in on)
    if "blank" in on and "bom" in on:
        # Blank lines before the header are allowed too; the BOM still comes first.
        content = BOM + b"\n\n" + content[len(BOM) :]
    elif "blank" in on:
        content = b"\n\n" + content
    if "no_final_newline" in on:
        content = content.rstrip(b"\r\n")
    return content


def write_month(
    period: str, count: int, files: int, seed: int = 0, quirks: bool = False
) -> list[tuple[str, bytes]]:
    """The month as `files` CSV files [("part-1.csv", content), ...], rows split evenly.

    With `quirks`, the files together use every variation the contract allows (a file gets
    all of them when the month is a single file): a BOM, CRLF line ends, blank lines (also
    before the header and whitespace-only), no final line break, shuffled header names in
    upper/title case and padded, an unknown extra column whose quoted values hold commas,
    quotes, CRLF/LF newlines and non-ASCII text, fields quoted although they need not be,
    values padded with spaces and tabs, 4-decimal amounts with trailing zeros ("10.5000"),
    genuine 4-decimal amounts, 38-significant-digit amounts, negative balances and "-0.00",
    whole amounts without a point and zero-padded counts ("007"). Every row stays valid.
    """
    if files < 1:
        raise ValueError("files must be at least 1")
    out = []
    for index, (start, size) in enumerate(_split(count, files)):
        rows = generate_rows(period, size, seed=seed, start=start)
        if quirks:
            content = _quirky_file(rows, start, index, files, seed)
        else:
            content = render_csv(COLUMNS, rows)
        out.append((f"part-{index + 1}.csv", content))
    return out


def _cents(value: str) -> int:
    whole, _, frac = value.lstrip("-").partition(".")
    cents = int(whole) * 100 + int((frac + "00")[:2])
    return -cents if value.startswith("-") else cents
