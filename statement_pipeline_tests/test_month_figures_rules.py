"""A month's figures from its stored items, pure: the wire format read, the fold's edges."""

from __future__ import annotations

from statement_pipeline.rules.month_figures import (
    FiguresFold,
    MonthFigures,
    StoredItem,
    month_figures,
    stored_item,
)
from statement_pipeline.rules.month_plan import id_digest

SOURCES = {"a.csv": '"e1"'}


def test_a_stored_item_is_read_from_the_wire_format() -> None:
    item = {
        "statement_id": {"S": "S-1"},
        "source_key": {"S": "a.csv"},
        "source_etag": {"S": '"e1"'},
        "loaded_at": {"S": "1970-01-01T00:16:40.250+00:00"},
        "write_attempts": {"N": "3"},
        "amount": {"N": "12.5"},
    }
    # 2,049 bytes: three started KB, three write units.
    assert stored_item(item, 2049) == StoredItem("S-1", "a.csv", '"e1"', 1000.25, 3, 3)


def test_an_item_stored_before_the_bookkeeping_fields_reads_as_one_unsourced_attempt() -> None:
    assert stored_item({"statement_id": {"S": "S-1"}}, 1024) == StoredItem(
        "S-1", "", "", None, 1, 1
    )


def test_an_empty_or_unreadable_loaded_at_is_no_time() -> None:
    empty = {"statement_id": {"S": "S-1"}, "loaded_at": {"S": ""}}
    unreadable = {"statement_id": {"S": "S-2"}, "loaded_at": {"S": "yesterday"}}
    assert stored_item(empty, 1).loaded_at is None
    assert stored_item(unreadable, 1).loaded_at is None


def _item(sid: str, at: float | None, attempts: int = 1, units: int = 1) -> StoredItem:
    return StoredItem(sid, "a.csv", '"e1"', at, attempts, units)


def test_an_item_stamped_at_the_very_moment_the_import_began_is_written_by_it() -> None:
    figures = month_figures([_item("s1", 200.0)], sources=SOURCES, conflicts=(), since=200.0)
    assert (figures.current, figures.written) == (1, 1)
    assert (figures.first_write, figures.last_write) == (200.0, 200.0)


def test_without_conflicts_every_item_of_a_current_file_is_current() -> None:
    figures = month_figures(
        [_item("s1", 100.0), _item("s2", 100.0)], sources=SOURCES, conflicts=set(), since=200.0
    )
    assert (figures.current, figures.stale_ids) == (2, [])


def test_only_the_conflicting_ids_are_stale() -> None:
    figures = month_figures(
        [_item("s1", 100.0), _item("s2", 100.0)],
        sources=SOURCES,
        conflicts={id_digest("s2")},
        since=200.0,
    )
    assert (figures.current, figures.stale_ids) == (1, ["s2"])


def test_writes_sum_their_refusals_and_units_over_the_window_in_any_order() -> None:
    fold = FiguresFold(SOURCES, (), since=200.0)
    # Attempts 1, 4 and 2: 0 + 3 + 1 = 4 refused; units 1 + 2 + 5 = 8.
    for item in (_item("s1", 203.0, 1, 1), _item("s2", 201.0, 4, 2), _item("s3", 207.5, 2, 5)):
        fold.add(item)
    assert fold.figures == MonthFigures(
        current=3,
        written=3,
        first_write=201.0,
        last_write=207.5,
        throttled_writes=4,
        write_units=8,
    )
    # 3 statements over 6.5 s: 0.46/s, to one decimal 0.5.
    assert fold.figures.write_seconds == 6.5
    assert fold.figures.records_per_second == 0.5


def test_a_month_written_in_one_millisecond_is_rated_over_one_millisecond() -> None:
    figures = MonthFigures(current=2, written=2, first_write=300.0, last_write=300.0)
    # 2 statements / 0.001 s
    assert figures.records_per_second == 2000.0
