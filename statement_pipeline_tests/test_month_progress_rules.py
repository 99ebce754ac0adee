"""A loader op's own-month progress, pure: line sets, holds, releases and the fair share."""

from __future__ import annotations

import pytest

from statement_pipeline.rules.messages import RecordBatch
from statement_pipeline.rules.month_progress import LineSet, MonthProgress

ROW = ("S", "A", "2026-10", "2026-10-31", "EUR", "1", "0", "0", "1", "0")
KEY_A = "statements/2026-10/a.csv"
KEY_B = "statements/2026-10/b.csv"
SOURCES = {KEY_A: '"etag-a"', KEY_B: '"etag-b"'}


def _batch(
    lines: range, key: str = KEY_A, etag: str = '"etag-a"', period: str = "2026-10"
) -> RecordBatch:
    return RecordBatch(period, key, etag, tuple((line, ROW) for line in lines))


def _written(progress: MonthProgress, batch: RecordBatch) -> None:
    progress.hold(batch)
    progress.release(batch, written=True)


def test_a_line_set_holds_line_zero_and_each_bit_of_a_byte_apart() -> None:
    lines = LineSet()
    assert 0 not in lines
    assert lines.add(0) is True
    assert lines.add(7) is True
    assert (0 in lines, 1 in lines, 6 in lines, 7 in lines) == (True, False, False, True)
    assert len(lines) == 2


@pytest.mark.parametrize("line", [1, 8, 9, 15, 16, 64, 1000])
def test_a_line_set_grows_to_take_any_line(line: int) -> None:
    lines = LineSet()
    assert lines.add(line) is True
    assert line in lines
    assert line - 1 not in lines
    assert line + 1 not in lines
    assert lines.add(line) is False
    assert len(lines) == 1


def test_a_line_set_fills_byte_after_byte_in_order() -> None:
    lines = LineSet()
    assert all(lines.add(line) for line in range(40))
    assert all(line in lines for line in range(40))
    assert 40 not in lines
    assert len(lines) == 40


def test_a_line_set_holds_no_negative_line_nor_anything_but_a_number() -> None:
    lines = LineSet()
    # Line 7 sets the top bit of the last byte: -1 would read it from the end.
    lines.add(7)
    lines.add(15)
    assert -1 not in lines
    assert -9 not in lines
    assert "7" not in lines
    assert 7.0 not in lines
    # Just past the last byte.
    assert 16 not in lines


def test_messages_held_add_up_and_come_back_down() -> None:
    progress = MonthProgress("2026-10", 10, SOURCES)
    assert progress.messages_held == 0
    progress.hold_messages(3)
    progress.hold_messages(2)
    assert progress.messages_held == 5
    progress.hold_messages(-4)
    assert progress.messages_held == 1


def test_waiting_no_time_returns_at_once() -> None:
    progress = MonthProgress("2026-10", 10, SOURCES)
    progress.wait(0.0)
    assert progress.records == 0


def test_a_fresh_month_has_nothing_written_held_or_of_other_months() -> None:
    progress = MonthProgress("2026-10", 4, SOURCES, workers=3)
    assert (progress.period, progress.expected, progress.workers) == ("2026-10", 4, 3)
    assert (progress.records, progress.other_months, progress.messages_held) == (0, 0, 0)
    assert not progress.complete
    assert not progress.accounted_for


def test_complete_exactly_when_the_last_expected_record_is_written() -> None:
    progress = MonthProgress("2026-10", 3, SOURCES)
    _written(progress, _batch(range(2, 4)))
    assert (progress.records, progress.complete) == (2, False)
    _written(progress, _batch(range(2, 3), key=KEY_B, etag='"etag-b"'))
    assert (progress.records, progress.complete) == (3, True)


def test_a_batch_held_and_not_written_counts_nowhere() -> None:
    progress = MonthProgress("2026-10", 2, SOURCES)
    batch = _batch(range(2, 4))
    progress.hold(batch)
    progress.release(batch, written=False)
    assert (progress.records, progress.other_months) == (0, 0)
    assert not progress.accounted_for


def test_another_months_batch_written_counts_its_records_there_and_unwritten_does_not() -> None:
    progress = MonthProgress("2026-10", 2, SOURCES)
    other = _batch(range(2, 7), period="2026-09")
    progress.hold(other)
    progress.release(other, written=False)
    assert progress.other_months == 0
    progress.release(other, written=True)
    assert progress.other_months == 5
    assert progress.records == 0
    assert not progress.accounted_for


def test_a_batch_of_another_file_version_is_neither_held_nor_counted() -> None:
    progress = MonthProgress("2026-10", 2, SOURCES)
    stale = _batch(range(2, 4), etag='"old"')
    progress.hold(stale)
    assert not progress.accounted_for
    progress.release(stale, written=True)
    assert (progress.records, progress.other_months) == (0, 0)
    # Not seen as a message of the month either: a worker still takes the most.
    assert progress.fair_share(10) == 10


def test_a_record_released_by_one_of_two_holders_is_still_held() -> None:
    progress = MonthProgress("2026-10", 2, SOURCES)
    batch = _batch(range(2, 4))
    progress.hold(batch)
    progress.hold(batch)
    progress.release(batch, written=False)
    assert progress.accounted_for
    progress.release(batch, written=False)
    assert not progress.accounted_for


def test_accounted_for_counts_each_held_record_once_and_written_ones_not_again() -> None:
    progress = MonthProgress("2026-10", 3, SOURCES)
    _written(progress, _batch(range(2, 4)))
    # Lines 2-3 written, and held again by a redelivery; line 4 held: 2 + 1 of 3.
    progress.hold(_batch(range(2, 5)))
    assert progress.accounted_for
    progress.release(_batch(range(2, 5)), written=False)
    assert not progress.accounted_for


def test_no_workers_is_taken_as_one() -> None:
    progress = MonthProgress("2026-10", 20, SOURCES, workers=0)
    assert progress.workers == 1
    progress.hold(_batch(range(2, 6)))
    # 16 records left in messages of 4: 4 messages for the one worker.
    assert progress.fair_share(10) == 4


def test_the_fair_share_rounds_messages_and_shares_up() -> None:
    # Messages of 4 and 2 records: 3 records a message on average.
    progress = MonthProgress("2026-10", 20, SOURCES, workers=2)
    progress.hold(_batch(range(2, 6)))
    progress.hold(_batch(range(2, 4), key=KEY_B, etag='"etag-b"'))
    # 20 - 6 held = 14 left: ceil(14 / 3) = 5 messages, ceil(5 / 2) = 3 each.
    assert progress.fair_share(10) == 3
    assert progress.fair_share(2) == 2


def test_the_fair_share_is_at_least_one_message_when_nothing_is_left() -> None:
    progress = MonthProgress("2026-10", 4, SOURCES, workers=4)
    _written(progress, _batch(range(2, 6)))
    assert progress.complete
    assert progress.fair_share(10) == 1


def test_records_of_other_months_add_up_over_batches() -> None:
    progress = MonthProgress("2026-10", 2, SOURCES)
    progress.release(_batch(range(2, 5), period="2026-09"), written=True)
    progress.release(_batch(range(2, 4), period="2026-11"), written=True)
    # 3 + 2 records written for other months' runs.
    assert progress.other_months == 5


def test_an_op_has_one_worker_unless_told() -> None:
    progress = MonthProgress("2026-10", 20, SOURCES)
    assert progress.workers == 1
    progress.hold(_batch(range(2, 6)))
    # 16 records left in messages of 4: all 4 messages for the one worker (2 each if two).
    assert progress.fair_share(10) == 4
