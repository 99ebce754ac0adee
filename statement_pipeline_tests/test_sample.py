# Over 350 lines: the generators' guarantees (valid, quirky, bad rows) are checked with one
# reader and shared helpers.
"""The sample data generators: valid months, quirky-but-valid files and the bad-row corpus."""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections import Counter
from decimal import Decimal

import pytest

from statement_pipeline.rules.csv_records import (
    COLUMNS,
    Record,
    Reject,
    StatementReader,
    validate_values,
)
from statement_pipeline_tests.oracles import rows_as_written
from statement_samples import bad_rows_corpus, generate_rows, render_csv, statement_id, write_month
from statement_samples.generator import CURRENCIES

PERIOD = "2026-10"


def read_file(name: str, content: bytes, period: str = PERIOD) -> tuple[StatementReader, list]:
    reader = StatementReader(io.BytesIO(content), f"statements/{period}/{name}", period)
    return reader, list(reader)


def read_month(
    files: list[tuple[str, bytes]], period: str = PERIOD
) -> tuple[list[StatementReader], list[Record]]:
    """Read every file of a month; fail on any reject."""
    readers, found = [], []
    for name, content in files:
        reader, items = read_file(name, content, period)
        rejects = [item for item in items if isinstance(item, Reject)]
        assert not rejects, (name, rejects[:3])
        readers.append(reader)
        found.extend(items)
    return readers, found


# ---------------------------------------------------------------- generate_rows


def test_generated_rows_are_valid_and_realistic() -> None:
    rows = list(generate_rows(PERIOD, 5_000, seed=1))
    assert len(rows) == 5_000
    end = datetime.date(2026, 10, 31)
    for row in rows:
        assert validate_values(row, PERIOD) is None
        value = dict(zip(COLUMNS, row, strict=True))
        assert re.fullmatch(r"ACC-[0-9]{6}", value["account_id"])
        assert value["currency"] in CURRENCIES
        issued = datetime.date.fromisoformat(value["issued_on"])
        assert datetime.date(2026, 10, 1) <= issued <= end + datetime.timedelta(days=5)
        assert 0 <= int(value["transaction_count"]) <= 300
        if value["transaction_count"] == "0":
            assert Decimal(value["total_credits"]) == Decimal(value["total_debits"]) == 0
    currencies = Counter(dict(zip(COLUMNS, row, strict=True))["currency"] for row in rows)
    assert currencies.most_common(1)[0][0] == "EUR"
    assert len(currencies) == len(set(CURRENCIES))
    assert any(row[5].startswith("-") for row in rows)
    assert any(row[8].startswith("-") for row in rows)
    assert len({row[1] for row in rows}) > 4_000


def test_statement_ids_are_unique_and_follow_the_row_number() -> None:
    rows = list(generate_rows(PERIOD, 20_000, start=100))
    ids = [row[0] for row in rows]
    assert len(set(ids)) == 20_000
    assert ids[0] == statement_id(PERIOD, 100) == "STM-202610-0000100"
    assert ids[-1] == statement_id(PERIOD, 20_099)


def test_generation_is_deterministic_and_independent_of_the_window() -> None:
    whole = list(generate_rows(PERIOD, 100, seed=5))
    assert whole == list(generate_rows(PERIOD, 100, seed=5))
    assert whole == [
        *generate_rows(PERIOD, 40, seed=5),
        *generate_rows(PERIOD, 60, seed=5, start=40),
    ]


def test_another_seed_changes_the_content_but_not_the_ids() -> None:
    first = list(generate_rows(PERIOD, 50, seed=1))
    second = list(generate_rows(PERIOD, 50, seed=2))
    assert [r[0] for r in first] == [r[0] for r in second]
    assert sum(a != b for a, b in zip(first, second, strict=True)) == 50


def test_months_differ() -> None:
    october = list(generate_rows("2026-10", 20))
    november = list(generate_rows("2026-11", 20))
    assert all(row[2] == "2026-11" for row in november)
    assert {row[0] for row in october}.isdisjoint(row[0] for row in november)
    assert all(validate_values(row, "2026-11") is None for row in november)


@pytest.mark.parametrize(
    "period", ["2026-13", "2026-1", "26-10", "latest", "0000-01", "\uff12\uff10\uff12\uff16-10"]
)
def test_generation_needs_a_real_month(period: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        list(generate_rows(period, 1))


@pytest.mark.parametrize("period", ["2024-02", "2026-12", "2026-01"])
def test_month_edges(period: str) -> None:
    files = write_month(period, 600, 1, quirks=True)
    _, found = read_month(files, period)
    assert len(found) == 600


def test_generation_yields_ten_seed_months_of_distinct_ids() -> None:
    # Its speed is measured in benchmarks/generation_benchmark.py, not bounded here.
    ids = {row[0] for row in generate_rows(PERIOD, 233_000)}
    assert len(ids) == 233_000


# ---------------------------------------------------------------- write_month


@pytest.mark.parametrize("quirks", [False, True])
@pytest.mark.parametrize("files", [1, 2, 3, 4])
def test_a_generated_month_reads_back_completely_valid(files: int, quirks: bool) -> None:
    month = write_month(PERIOD, 2_330, files, seed=9, quirks=quirks)
    assert [name for name, _ in month] == [f"part-{i}.csv" for i in range(1, files + 1)]
    readers, found = read_month(month)
    sizes = [reader.valid for reader in readers]
    assert sum(sizes) == 2_330
    assert max(sizes) - min(sizes) <= 1
    assert [reader.rows for reader in readers] == sizes
    ids = [record.values[0] for record in found]
    assert len(set(ids)) == 2_330
    assert set(ids) == {statement_id(PERIOD, n) for n in range(2_330)}


def test_quirks_keep_the_ids_and_the_fields_of_the_plain_month() -> None:
    plain = {r.values[0]: r.values for r in read_month(write_month(PERIOD, 800, 2, seed=4))[1]}
    quirky_files = write_month(PERIOD, 800, 3, seed=4, quirks=True)
    quirky = read_month(quirky_files)[1]
    assert {r.values[0] for r in quirky} == set(plain)
    for record in quirky:
        reference = plain[record.values[0]]
        assert record.values[:5] == reference[:5]
    # Every field, amounts included, as the csv module reads the quirky files (an oracle
    # independent of the reader): no digit lost, added or reformatted.
    written = [row for _, content in quirky_files for row in rows_as_written(content)]
    assert [record.values for record in quirky] == written
    kinds = {record.values[5] for record in quirky}
    assert any(len(value.replace("-", "").replace(".", "")) == 38 for value in kinds)
    assert any(value.endswith("000") and "." in value for value in kinds)


def test_the_contract_month_size() -> None:
    month = write_month(PERIOD, 23_300, 4)
    size = sum(len(content) for _, content in month)
    assert 1_800_000 < size < 2_800_000
    readers, found = read_month(month)
    assert [reader.valid for reader in readers] == [5_825] * 4
    assert len(found) == 23_300


def test_more_files_than_rows() -> None:
    month = write_month(PERIOD, 2, 4, quirks=True)
    readers, found = read_month(month)
    assert [reader.valid for reader in readers] == [1, 1, 0, 0]
    assert len(found) == 2


def test_at_least_one_file() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        write_month(PERIOD, 10, 0)


@pytest.mark.parametrize("quirks", [False, True])
def test_write_month_is_deterministic(quirks: bool) -> None:
    assert write_month(PERIOD, 500, 3, seed=2, quirks=quirks) == write_month(
        PERIOD, 500, 3, seed=2, quirks=quirks
    )
    assert write_month(PERIOD, 500, 3, seed=2, quirks=quirks) != write_month(
        PERIOD, 500, 3, seed=3, quirks=quirks
    )


def test_plain_files_have_no_quirks() -> None:
    for _, content in write_month(PERIOD, 300, 2):
        assert not content.startswith(b"\xef\xbb\xbf")
        assert b"\r" not in content
        assert b'"' not in content
        assert b"\n\n" not in content
        assert content.endswith(b"\n")
        assert content.split(b"\n", 1)[0].decode() == ",".join(COLUMNS)


def _quirks_seen(files: list[tuple[str, bytes]]) -> set[str]:
    """Which of the quirks the contract allows appear in these (valid) files."""
    seen: set[str] = set()
    for name, content in files:
        reader, items = read_file(name, content)
        text = content.decode("utf-8-sig")
        header_line = next(line for line in text.splitlines() if line.strip())
        raw_header = next(csv.reader([header_line]))
        checks = {
            "bom": content.startswith(b"\xef\xbb\xbf"),
            # Every line ends in CRLF (a quoted value may hold a CRLF in any file).
            "crlf": content.count(b"\r\n") > reader.rows,
            "lf": re.search(rb"[^\r]\n", content) is not None,
            "no final newline": not content.endswith(b"\n"),
            "blank line before header": text.startswith("\n"),
            "blank lines": items[0].line > 2 and len(items) + 2 < len(text.splitlines()),
            "whitespace-only line": re.search(r"\n[ \t]+\r?\n", text) is not None,
            "shuffled header": reader.header[: len(COLUMNS)] != list(COLUMNS),
            "upper-case header": any(n.isupper() for n in raw_header),
            "padded header": any(n != n.strip() for n in raw_header),
            "extra column": bool(reader.extra_columns),
            "quoted comma": re.search(r'"[^"\n]*,[^"\n]*"', text) is not None,
            "doubled quote": '""' in text,
            "newline in quoted field": re.search(r'"[^"]*\n[^"]*"', text) is not None,
            "non-ASCII": not text.isascii(),
            "quoted plain values": '"STM-' in text,
            "padded values": re.search(r"(^|,)[ \t]+STM-", text, re.MULTILINE) is not None,
        }
        seen.update(quirk for quirk, present in checks.items() if present)
        for record in items:
            money = record.values[5:9]
            if any(re.fullmatch(r"-?[0-9]+\.[0-9]{2}00", v) for v in money):
                seen.add("trailing zeros")
            if any(re.fullmatch(r"-?[0-9]+\.[0-9]{3}[1-9]", v) for v in money):
                seen.add("4 decimals")
            if any(len(v.lstrip("-").replace(".", "")) == 38 for v in money):
                seen.add("38 significant digits")
            if any(v.startswith("-") and Decimal(v) != 0 for v in (money[0], money[3])):
                seen.add("negative balance")
            if money[0] == "-0.00":
                seen.add("negative zero")
            if any("." not in v for v in money):
                seen.add("whole amounts")
            if record.values[9].startswith("0") and record.values[9] != "0":
                seen.add("zero-padded count")
    return seen


ALL_QUIRKS = {
    "bom",
    "crlf",
    "lf",
    "no final newline",
    "blank line before header",
    "blank lines",
    "whitespace-only line",
    "shuffled header",
    "upper-case header",
    "padded header",
    "extra column",
    "quoted comma",
    "doubled quote",
    "newline in quoted field",
    "non-ASCII",
    "quoted plain values",
    "padded values",
    "trailing zeros",
    "4 decimals",
    "38 significant digits",
    "negative balance",
    "negative zero",
    "whole amounts",
    "zero-padded count",
}


@pytest.mark.parametrize("files", [1, 2, 4])
def test_quirky_months_use_every_quirk(files: int) -> None:
    month = write_month(PERIOD, 1_200, files, quirks=True)
    assert _quirks_seen(month) >= ALL_QUIRKS - ({"lf"} if files == 1 else set())


def test_quirks_are_spread_over_the_files() -> None:
    month = write_month(PERIOD, 1_200, 4, quirks=True)
    per_file = [_quirks_seen([file]) for file in month]
    assert all(per_file[0] != other for other in per_file[1:])
    assert sum("bom" in quirks for quirks in per_file) == 1
    assert sum("crlf" in quirks for quirks in per_file) == 1


def test_quirky_files_keep_line_numbers_in_order() -> None:
    for name, content in write_month(PERIOD, 600, 1, quirks=True):
        _, items = read_file(name, content)
        lines = [item.line for item in items]
        assert lines == sorted(set(lines))
        # BOM, two blank lines, the header, one more blank line.
        assert lines[0] == 5
        assert lines[-1] > len(items) + 3


# ---------------------------------------------------------------- render_csv


def test_render_csv_quotes_per_rfc_4180_and_round_trips() -> None:
    rows = [
        ("plain", "with, comma", 'with "quotes"', "multi\nline", "cr\ronly", "", " pad "),
        ("", "", "", "", "", "", ""),
    ]
    data = render_csv([f"c{i}" for i in range(7)], rows)
    parsed = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert parsed[1:] == [list(row) for row in rows]
    assert data.startswith(b"c0,c1,")
    assert b'"with, comma","with ""quotes""","multi\nline","cr\ronly",, pad \n' in data


def test_render_csv_options_and_verbatim_rows() -> None:
    data = render_csv(["a", "b"], [("1", "2"), "raw,line", "", [""]], bom=True, crlf=True)
    assert data == b'\xef\xbb\xbfa,b\r\n1,2\r\nraw,line\r\n\r\n""\r\n'


# ---------------------------------------------------------------- bad_rows_corpus


def test_the_bad_corpus_is_rejected_row_by_row_with_the_expected_reason() -> None:
    corpus = bad_rows_corpus(PERIOD)
    data = render_csv(COLUMNS, [row for _, row in corpus])
    reader, items = read_file("bad.csv", data)
    assert len(items) == len(corpus)
    assert reader.valid == 0
    assert reader.rejected == reader.rows == len(corpus)
    for (keyword, _), item in zip(corpus, items, strict=True):
        assert isinstance(item, Reject)
        assert keyword in item.reason, (keyword, item.reason)


def test_the_bad_corpus_rows_are_rejected_one_at_a_time_among_good_rows() -> None:
    good = list(generate_rows(PERIOD, 2, seed=11))
    for keyword, row in bad_rows_corpus(PERIOD):
        data = render_csv(COLUMNS, [good[0], row, good[1]])
        _, items = read_file("one.csv", data)
        assert [type(item) for item in items] == [Record, Reject, Record], keyword
        assert keyword in items[1].reason
        assert items[2].line == 4


def test_the_bad_corpus_covers_every_rule() -> None:
    keywords = " | ".join(keyword for keyword, _ in bad_rows_corpus(PERIOD))
    for rule in [
        "statement_id: empty",
        "statement_id: characters other",
        "statement_id: longer than 64",
        "account_id: empty",
        "account_id: characters other",
        "account_id: longer than 64",
        "period: not a real month",
        "period: not in YYYY-MM format",
        "period: does not match the month folder",
        "issued_on: not a real calendar date",
        "issued_on: not in YYYY-MM-DD format",
        "currency: not an ISO 4217",
        "thousands separators",
        "exponent not allowed",
        "NaN/Infinity not allowed",
        "'+' sign not allowed",
        "more than 4 decimal places",
        "not a decimal",
        "total_credits: negative",
        "total_debits: negative",
        "transaction_count: not a non-negative integer",
        "does not reconcile",
        "more than 38 significant digits",
        "contains a NUL byte",
        "expected 10 fields, got 3",
        "expected 10 fields, got 11",
    ]:
        assert rule in keywords


def test_the_bad_corpus_holds_the_named_edge_cases() -> None:
    rows = [row for _, row in bad_rows_corpus(PERIOD)]
    fields = [field for row in rows if not isinstance(row, str) for field in row]
    for value in ["2026-02-30", "2026-13", "eur", "EURO", "1,000.00", "1e3", "NaN", "Infinity"]:
        assert value in fields
    for value in ["+5.00", "5.00001", "-5.00", "-0.00", "-1", "1.5"]:
        assert value in fields
    assert "S" * 65 in fields
    assert "A" * 200_000 in fields
    assert any("\x00" in field for field in fields)
    assert any(len(field) > 38 and field.isdigit() for field in fields)


def test_the_bad_corpus_is_deterministic_and_per_period() -> None:
    assert bad_rows_corpus(PERIOD) == bad_rows_corpus(PERIOD)
    december = [row for _, row in bad_rows_corpus("2026-12") if not isinstance(row, str)]
    assert {row[2] for row in december} >= {"2026-12", "2026-13", "2026-11"}
    ids = [row[0] for row in december if row[0].startswith("STM-2026")]
    # Distinct ids: the corpus never trips the month's duplicate-id rule by accident.
    assert len(ids) == len(set(ids)) > 40
    assert all(i.startswith("STM-202612-") for i in ids)
