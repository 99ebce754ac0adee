"""A month's plan as the import and the operators see it: what each file loads, and why.

Rows are written out by hand; every expected count, reason and figure is worked out here,
never taken from the planner.
"""

from __future__ import annotations

import io

import pytest

from statement_pipeline.rules.csv_records import FileFormatError, Reject
from statement_pipeline.rules.month_plan import (
    Duplicate,
    FileDecision,
    FileFigures,
    FilePlan,
    FileRef,
    MonthPlan,
    decide_writes,
    file_figures,
    fingerprint,
    id_digest,
    plan_month,
    planned_records,
    scan_file,
    stale_items,
)

MONTH = "2026-10"
HEADER = (
    "statement_id,account_id,period,issued_on,currency,"
    "opening_balance,total_credits,total_debits,closing_balance,transaction_count"
)
A, B, C, D = (f"statements/2026-10/{name}.csv" for name in "abcd")


def row(statement_id: str, account: str = "ACC-1") -> str:
    """A valid row: 10.00 + 5.00 - 2.00 = 13.00."""
    return f"{statement_id},{account},2026-10,2026-10-31,EUR,10.00,5.00,2.00,13.00,3"


BAD = "STM-X,ACC-1,2026-10,2026-10-31,eur,10.00,5.00,2.00,13.00,3"  # lower-case currency


def scan(key: str, *lines: str, etag: str | None = None, header: str = HEADER):
    data = "\n".join((header, *lines, "")).encode()
    ref = FileRef(key, etag or f'"{key[-5]}"', len(data))
    return scan_file(ref, io.BytesIO(data), MONTH)


def month(*scans) -> MonthPlan:
    return plan_month(MONTH, scans)


# ---------------------------------------------------------------- scanning and planning


def test_a_scan_counts_rows_keeps_the_header_and_the_extra_columns() -> None:
    found = scan(A, f"n,{row('STM-1')},y", BAD, "", header=" Note ," + HEADER + ",x")
    assert found.header == ["note", *HEADER.split(","), "x"]
    assert found.extra_columns == ["note", "x"]
    # The blank line is not a row: 2 rows, 1 valid, 1 rejected at line 3.
    assert (found.rows, found.valid_count) == (2, 1)
    assert [(r.line, r.reason) for r in found.rejects] == [
        (3, "expected 12 fields, got 10"),
    ]


def test_the_plan_counts_every_row_and_names_headers_and_extra_columns_per_file() -> None:
    plan = month(
        scan(B, row("STM-3"), BAD),
        scan(A, row("STM-1") + ",n", row("STM-2") + ",n", header=HEADER + ",note"),
    )
    assert plan.period == MONTH
    assert [f.ref.key for f in plan.files] == [A, B]  # key order
    assert plan.rows == 4  # 2 rows in a, 2 in b
    assert plan.expected == 2 + 1
    assert plan.headers == {A: [*HEADER.split(","), "note"], B: HEADER.split(",")}
    assert plan.extra_columns == {A: ["note"]}
    assert plan.rejects == {
        B: [Reject(3, "currency: not an ISO 4217 code (3 upper-case letters)", ())]
    }
    assert plan.sources == {A: '"a"', B: '"b"'}


def test_a_file_without_rejects_has_no_entry_in_the_rejects() -> None:
    plan = month(scan(A, row("STM-1")), scan(B, BAD))
    assert list(plan.rejects) == [B]
    assert plan.rejected == 1


def test_reject_reasons_are_counted_most_frequent_first() -> None:
    wrong_month = row("STM-9").replace("2026-10,2026", "2026-09,2026")
    plan = month(scan(A, wrong_month), scan(B, BAD, BAD.replace("X", "Y"), "a,b"))
    assert list(plan.reject_reasons.items()) == [
        ("currency: not an ISO 4217 code (3 upper-case letters)", 2),
        ("period: does not match the month folder", 1),
        ("expected 10 fields, got 2", 1),
    ]
    assert plan.rejected == 4


def test_the_first_row_in_key_and_line_order_loads_and_later_repeats_are_reported() -> None:
    plan = month(scan(B, row("STM-1"), row("STM-2")), scan(A, row("STM-2"), row("STM-2")))
    assert plan.duplicates == [
        Duplicate(A, 3, A, 2),
        Duplicate(B, 3, A, 2),
    ]
    by_key = {f.ref.key: f for f in plan.files}
    assert by_key[A] == FilePlan(FileRef(A, '"a"', by_key[A].ref.size), frozenset({3}), 1)
    assert by_key[B].excluded_lines == frozenset({3})
    assert by_key[B].expected == 1
    assert plan.expected == 2  # STM-1 and STM-2, once each
    assert plan.conflict_digests == []


def test_conflicting_rows_name_the_other_copies_and_are_sorted_into_the_rejects() -> None:
    plan = month(
        scan(A, BAD, row("STM-1", "ACC-2"), row("STM-7")),
        scan(B, row("STM-1", "ACC-3"), BAD),
    )
    reason = "statement_id repeated with different content (also at {}); all copies rejected"
    currency = "currency: not an ISO 4217 code (3 upper-case letters)"
    assert plan.rejects == {
        A: [Reject(2, currency, ()), Reject(3, reason.format(f"{B}:2"), ())],
        B: [Reject(2, reason.format(f"{A}:3"), ()), Reject(3, currency, ())],
    }
    assert plan.conflict_digests == [id_digest("STM-1")]
    assert plan.duplicates == []
    assert plan.expected == 1  # STM-7 only


def test_a_conflict_names_at_most_five_other_copies() -> None:
    copies = [row("STM-1", f"ACC-{n}") for n in range(7)]
    plan = month(scan(A, *copies))
    others = ", ".join(f"{A}:{line}" for line in (3, 4, 5, 6, 7))
    assert plan.rejects[A][0].reason == (
        f"statement_id repeated with different content (also at {others}, ...); all copies rejected"
    )
    # The last copy (line 8): six others (2 to 7), the first five named.
    last = ", ".join(f"{A}:{line}" for line in (2, 3, 4, 5, 6))
    assert plan.rejects[A][6].reason.startswith(
        f"statement_id repeated with different content (also at {last}, ...)"
    )


def test_five_other_copies_are_all_named_without_an_ellipsis() -> None:
    copies = [row("STM-1", f"ACC-{n}") for n in range(6)]
    plan = month(scan(A, *copies))
    others = ", ".join(f"{A}:{line}" for line in (3, 4, 5, 6, 7))
    assert plan.rejects[A][0].reason == (
        f"statement_id repeated with different content (also at {others}); all copies rejected"
    )


def test_planned_records_name_the_file_when_it_cannot_be_read() -> None:
    plan = FilePlan(FileRef(A, '"a"', 3), frozenset(), 0)
    with pytest.raises(FileFormatError) as caught:
        list(planned_records(plan, io.BytesIO(b""), MONTH))
    assert str(caught.value) == f"{A}: empty object (no header row)"


def test_planned_records_check_rows_against_the_month_given() -> None:
    data = f"{HEADER}\n{row('STM-1')}\n".encode()
    plan = FilePlan(FileRef(A, '"a"', len(data)), frozenset(), 1)
    assert list(planned_records(plan, io.BytesIO(data), "2026-11")) == []


# ---------------------------------------------------------------- figures and decisions


def mixed_month() -> MonthPlan:
    """a: 3 loaded; b: 1 loaded, 1 rejected, 1 repeat of a; c: only rejects; d: only repeats."""
    return month(
        scan(A, row("STM-1"), row("STM-2"), row("STM-3")),
        scan(B, row("STM-4"), BAD, row("STM-1")),
        scan(C, BAD, BAD),
        scan(D, row("STM-2")),
    )


def test_file_figures_account_for_every_row_of_every_file() -> None:
    plan = mixed_month()
    sizes = {f.ref.key: f.ref.size for f in plan.files}
    assert file_figures(plan) == [
        FileFigures(A, sizes[A], rows=3, loaded=3, rejected=0, duplicates=0),
        FileFigures(B, sizes[B], rows=3, loaded=1, rejected=1, duplicates=1),
        FileFigures(C, sizes[C], rows=2, loaded=0, rejected=2, duplicates=0),
        FileFigures(D, sizes[D], rows=1, loaded=0, rejected=0, duplicates=1),
    ]
    # Header + three 52-character rows, each line ended by LF.
    assert sizes[A] == len(HEADER) + 1 + 3 * (len(row("STM-1")) + 1)


@pytest.mark.parametrize(
    ("rows", "rejected", "duplicates", "why"),
    [
        (0, 0, 0, "nothing to load: the file has no data rows"),
        (1, 1, 0, "nothing to load: all 1 rows rejected"),
        (2, 2, 0, "nothing to load: all 2 rows rejected"),
        (2, 0, 2, "nothing to load: all 2 rows repeat rows loaded from other lines"),
        (5, 2, 3, "nothing to load: 2 rows rejected, 3 repeat rows loaded from other lines"),
    ],
)
def test_why_a_file_loads_nothing(rows: int, rejected: int, duplicates: int, why: str) -> None:
    figures = FileFigures(A, 10, rows=rows, loaded=0, rejected=rejected, duplicates=duplicates)
    assert figures.nothing_to_load == why


def test_stale_items_are_those_of_file_versions_no_longer_in_the_month() -> None:
    plan = month(scan(A, row("STM-1"), etag='"a2"'), scan(B, row("STM-2"), etag='"b1"'))
    stored = {
        (A, '"a2"'): 1,  # current
        (A, '"a1"'): 4,  # an older version of a
        (B, '"b1"'): 7,  # current (more than planned is still not stale)
        (C, '"c1"'): 2,  # a file no longer in the month
    }
    assert stale_items(plan, stored) == 4 + 2
    assert stale_items(plan, {}) == 0


def test_each_file_is_written_unless_the_table_holds_all_of_its_rows_from_this_version() -> None:
    plan = month(
        scan(A, row("STM-1"), row("STM-2"), etag='"a"'),
        scan(B, row("STM-3"), row("STM-4"), etag='"b2"'),
        scan(C, row("STM-5"), row("STM-6"), etag='"c"'),
        scan(D, row("STM-7"), row("STM-8"), etag='"d"'),
    )
    stored = {(A, '"a"'): 2, (B, '"b1"'): 2, (C, '"c"'): 1, (D, '"d"'): 3}
    assert decide_writes(plan, stored) == [
        FileDecision(A, False, 2, 2, "current: all 2 rows already stored from this version"),
        FileDecision(B, True, 2, 0, "changed since it was loaded"),
        FileDecision(C, True, 2, 1, "1 of 2 rows stored from this version"),
        FileDecision(D, True, 2, 3, "3 of 2 rows stored from this version"),
    ]


def test_a_file_the_table_never_saw_is_new() -> None:
    plan = month(scan(A, row("STM-1"), etag='"a"'))
    assert decide_writes(plan, {(B, '"b"'): 5}) == [
        FileDecision(A, True, 1, 0, "new file"),
    ]


def test_a_full_reimport_writes_even_the_current_files() -> None:
    plan = month(scan(A, row("STM-1"), etag='"a"'), scan(B, row("STM-2"), etag='"b"'))
    stored = {(A, '"a"'): 1}
    assert decide_writes(plan, stored, full_reimport=True) == [
        FileDecision(A, True, 1, 1, "full_reimport requested"),
        FileDecision(B, True, 1, 0, "full_reimport requested"),
    ]


def test_a_file_with_nothing_to_load_is_never_written_and_says_why() -> None:
    plan = month(scan(A, BAD, etag='"a"'), scan(B, etag='"b"'))
    stored = {(A, '"a"'): 2}
    expected = [
        FileDecision(A, False, 0, 2, "nothing to load: all 1 rows rejected"),
        FileDecision(B, False, 0, 0, "nothing to load: the file has no data rows"),
    ]
    assert decide_writes(plan, stored) == expected
    assert decide_writes(plan, stored, full_reimport=True) == expected


# ---------------------------------------------------------------- digests kept in outputs


def test_equal_rows_share_a_fingerprint_and_the_field_boundaries_count() -> None:
    assert fingerprint(("a", "b")) == fingerprint(("a", "b"))
    assert fingerprint(("ab", "c")) != fingerprint(("a", "bc"))
    # blake2b (digest_size=8) of b"ab\x1fc", the values joined by the unit separator U+001F,
    # read big-endian; computed once by hand in a Python shell.
    assert fingerprint(("ab", "c")) == 0x4449645A7CE72544


def test_a_statement_id_digest_is_a_stable_64_bit_number() -> None:
    # Stored outputs keep these digests, so they must not change between versions: blake2b
    # (digest_size=8, person=b"statement-id") of b"STM-1", big-endian, computed by hand.
    assert id_digest("STM-1") == 0x20B23F77C1B68620
    assert id_digest("STM-1") != id_digest("STM-2")


def test_a_scan_of_an_unreadable_file_names_the_file() -> None:
    with pytest.raises(FileFormatError) as caught:
        scan_file(FileRef(A, '"a"', 4), io.BytesIO(b"a,b\n"), MONTH)
    assert str(caught.value) == (
        "statements/2026-10/a.csv: missing required column(s): statement_id, account_id, "
        "period, issued_on, currency, opening_balance, total_credits, total_debits, "
        "closing_balance, transaction_count"
    )
