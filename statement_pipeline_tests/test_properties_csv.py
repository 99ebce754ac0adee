"""Properties of reading and validating statement files, generated from the contract's grammar.

Rows are built from CONTRACT.md section 2 by the strategies below (not by the product's
patterns): any such row is accepted and kept exactly as written, whatever its rendering
(quoting, padding, line ends, BOM, header case and order, blank lines); any one broken rule
rejects it with that rule's reason; an item round-trips to the row.
"""

from __future__ import annotations

import datetime
import decimal
import io
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statement_pipeline.rules.csv_records import Record, Reject, StatementReader, validate_values
from statement_pipeline.rules.items import from_item, to_item
from statement_pipeline_tests.oracles import CONTRACT_COLUMNS
from statement_pipeline_tests.properties import examples

PERIOD = "2026-10"
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
PROFILE = settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

ids = st.text(ID_CHARS, min_size=1, max_size=64)
days = st.dates(datetime.date(2026, 10, 1), datetime.date(2026, 10, 31)) | st.dates()
currencies = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3)
# Amounts in ten-thousandths, at most 34 integer digits, so that any sum of them still fits
# the contract's 38 significant digits.
units = st.integers(min_value=0, max_value=10**37)


@st.composite
def written(draw: st.DrawFn, value: int) -> str:
    """An amount of `value` ten-thousandths as upstream may write it: any allowed form."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10_000)
    digits = f"{frac:04d}"
    shortest = len(digits.rstrip("0"))
    places = draw(st.integers(min_value=shortest, max_value=4))
    zeros = draw(st.integers(min_value=0, max_value=2)) if len(str(whole)) < 36 else 0
    text = "0" * zeros + str(whole) + ("." + digits[:places] if places else "")
    return sign + text


@st.composite
def valid_rows(draw: st.DrawFn) -> tuple[str, ...]:
    """A row that follows every rule of the contract, in its column order."""
    opening = draw(units) * draw(st.sampled_from([1, -1]))
    credits, debits = draw(units), draw(units)
    closing = opening + credits - debits
    issued = draw(days)
    count = draw(st.integers(min_value=0, max_value=10**12))
    return (
        draw(ids),
        draw(ids),
        PERIOD,
        issued.isoformat(),
        draw(currencies),
        draw(written(opening)),
        draw(written(credits)),
        draw(written(debits)),
        draw(written(closing)),
        "0" * draw(st.integers(min_value=0, max_value=2)) + str(count),
    )


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@st.composite
def rendered(draw: st.DrawFn, rows: list[tuple[str, ...]]) -> bytes:
    """The rows as one file, rendered with any allowed variation."""
    order = draw(st.permutations(range(len(CONTRACT_COLUMNS))))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    pads = st.sampled_from(["", " ", "\t", "  ", " \t"])
    header = [
        draw(pads) + draw(st.sampled_from([str.lower, str.upper, str.title]))(name) + draw(pads)
        for name in (CONTRACT_COLUMNS[i] for i in order)
    ]
    lines = [",".join(header)]
    for row in rows:
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["", " ", "\t ,  "])))
        fields = [draw(pads) + row[i] + draw(pads) for i in order]
        quoted = [_quote(f) if draw(st.booleans()) else f for f in fields]
        lines.append(",".join(quoted))
    text = newline.join(lines) + draw(st.sampled_from(["", newline, newline * 2]))
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode()


def _read(content: bytes) -> list[Record | Reject]:
    return list(StatementReader(io.BytesIO(content), f"statements/{PERIOD}/p.csv", PERIOD))


@PROFILE
@given(st.lists(valid_rows(), min_size=1, max_size=5), st.data())
def test_any_row_of_the_grammar_is_accepted_and_kept_exactly(
    rows: list[tuple[str, ...]], data: st.DataObject
) -> None:
    for row in rows:
        assert validate_values(row, PERIOD) is None, row
    read = _read(data.draw(rendered(rows)))
    assert all(isinstance(r, Record) for r in read), read
    assert [r.values for r in read] == rows


@PROFILE
@given(st.lists(valid_rows(), min_size=1, max_size=4), st.data())
def test_results_do_not_depend_on_the_rendering(
    rows: list[tuple[str, ...]], data: st.DataObject
) -> None:
    first, second = data.draw(rendered(rows)), data.draw(rendered(rows))
    assert [r.values for r in _read(first)] == [r.values for r in _read(second)]


def _shift(amount: str) -> str:
    """The amount one ten-thousandth higher, written with 4 decimals."""
    with decimal.localcontext(prec=100):
        return f"{Decimal(amount) + Decimal('0.0001'):.4f}"


def _five_places(amount: str) -> str:
    whole, _, frac = amount.partition(".")
    return f"{whole}.{frac}{'1' * (5 - len(frac))}"


# One broken rule at a time: (column, how to break it, the reason the contract's rule gives).
BREAKERS = [
    (0, lambda v: v[:63] + "/", "statement_id: characters other than A-Z a-z 0-9 . _ -"),
    (0, lambda v: "", "statement_id: empty"),
    (0, lambda v: (v * 65)[:65], "statement_id: longer than 64 characters"),
    (1, lambda v: v[:62] + " x", "account_id: characters other than A-Z a-z 0-9 . _ -"),
    (2, lambda v: "2026-11", "period: does not match the month folder"),
    (2, lambda v: "2026-13", "period: not a real month"),
    (3, lambda v: "2026-02-30", "issued_on: not a real calendar date"),
    (3, lambda v: v.replace("-", "/"), "issued_on: not in YYYY-MM-DD format"),
    (4, str.lower, "currency: not an ISO 4217 code (3 upper-case letters)"),
    (5, lambda v: v + "e1", "opening_balance: exponent not allowed"),
    (6, lambda v: "-" + v, "total_credits: negative (must not carry a '-' sign)"),
    (7, _five_places, "total_debits: more than 4 decimal places"),
    (8, _shift, "does not reconcile: opening + credits - debits != closing"),
    (9, lambda v: "-" + v, "transaction_count: not a non-negative integer (digits only)"),
]


@PROFILE
@given(valid_rows(), st.sampled_from(range(len(BREAKERS))))
def test_any_single_broken_rule_is_rejected_with_its_reason(
    row: tuple[str, ...], which: int
) -> None:
    column, breaker, reason = BREAKERS[which]
    broken = list(row)
    broken[column] = breaker(row[column])
    assert validate_values(tuple(broken), PERIOD) == reason
    header = ",".join(CONTRACT_COLUMNS)
    content = "\n".join([header, ",".join(map(_quote, broken)), ",".join(row)]).encode()
    assert _read(content) == [Reject(2, reason, tuple(broken)), Record(3, row)]


@PROFILE
@given(valid_rows(), st.integers(min_value=2, max_value=10**6))
def test_an_item_round_trips_to_the_row(row: tuple[str, ...], line: int) -> None:
    item = to_item(row, source_key="k", source_etag="e", line=line, loaded_at="t")
    assert from_item(item) == dict(zip(CONTRACT_COLUMNS, row, strict=True))
    numbers = {"opening_balance", "total_credits", "total_debits", "closing_balance"}
    numbers.add("transaction_count")
    for name, value in zip(CONTRACT_COLUMNS, row, strict=True):
        assert item[name] == ({"N": value} if name in numbers else {"S": value})
