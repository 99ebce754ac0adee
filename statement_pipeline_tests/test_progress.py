"""A loader op's own-month progress: each record of its import counted once."""

import threading

from statement_pipeline.rules.messages import RecordBatch
from statement_pipeline.rules.month_progress import LineSet, MonthProgress

ROW = ("S", "A", "2026-10", "2026-10-31", "EUR", "1", "0", "0", "1", "0")
SOURCES = {"statements/2026-10/a.csv": '"v2"'}
KEY_A = "statements/2026-10/a.csv"
KEY_B = "statements/2026-10/b.csv"
TWO_FILES = {KEY_A: '"etag-a"', KEY_B: '"etag-b"'}


def _batch(lines: range, period: str = "2026-10", etag: str = '"v2"') -> RecordBatch:
    return RecordBatch(
        period, "statements/2026-10/a.csv", etag, tuple((line, ROW) for line in lines)
    )


def _written(progress: MonthProgress, batch: RecordBatch) -> None:
    """One worker holds the batch while writing it, and writes all of it."""
    progress.hold(batch)
    progress.release(batch, written=True)


def test_complete_once_every_line_is_written() -> None:
    progress = MonthProgress("2026-10", 10, SOURCES)
    _written(progress, _batch(range(2, 7)))
    assert not progress.complete
    _written(progress, _batch(range(7, 12)))
    assert progress.complete
    assert progress.records == 10


def test_redelivered_and_recut_messages_do_not_count_twice() -> None:
    progress = MonthProgress("2026-10", 10, SOURCES)
    _written(progress, _batch(range(2, 7)))
    _written(progress, _batch(range(2, 7)))
    _written(progress, _batch(range(4, 9)))
    assert progress.records == 7
    assert not progress.complete


def test_other_months_and_other_file_versions_do_not_count() -> None:
    progress = MonthProgress("2026-10", 3, SOURCES)
    _written(progress, _batch(range(2, 5), period="2026-09"))
    _written(progress, _batch(range(2, 5), etag='"v1"'))
    assert progress.records == 0
    assert progress.other_months == 3
    assert not progress.complete


def test_an_empty_import_is_never_complete_by_counting() -> None:
    assert not MonthProgress("2026-10", 0, SOURCES).complete
    assert not MonthProgress("2026-10", 0, SOURCES).accounted_for


def _file_batch(
    lines: range, key: str = KEY_A, etag: str = '"etag-a"', period: str = "2026-10"
) -> RecordBatch:
    return RecordBatch(period, key, etag, tuple((line, ROW) for line in lines))


def test_line_set_counts_each_line_once_and_grows() -> None:
    lines = LineSet()
    assert lines.add(2) is True
    assert lines.add(2) is False
    assert lines.add(100_003) is True
    assert len(lines) == 2
    assert 2 in lines
    assert 100_003 in lines
    assert 3 not in lines
    assert 10_000_000 not in lines
    assert -1 not in lines


def test_line_set_of_a_large_file_is_one_bit_a_line() -> None:
    lines = LineSet()
    for line in range(2, 60_002):
        lines.add(line)
    assert len(lines) == 60_000
    assert all(line in lines for line in (2, 30_000, 60_001))
    assert 60_002 not in lines


def test_accounted_for_while_the_rest_is_held_and_not_after_a_failed_write() -> None:
    progress = MonthProgress("2026-10", 4, TWO_FILES)
    done, held = _file_batch(range(2, 4)), _file_batch(range(4, 6))
    progress.hold(done)
    progress.release(done, written=True)
    assert not progress.accounted_for
    progress.hold(held)
    assert progress.accounted_for
    assert not progress.complete
    # The write failed: the message comes back to the queue, so there is work to receive again.
    progress.release(held, written=False)
    assert not progress.accounted_for
    assert progress.records == 2


def test_a_record_held_twice_is_counted_once() -> None:
    progress = MonthProgress("2026-10", 4, TWO_FILES)
    twice = _file_batch(range(2, 4))
    progress.hold(twice)
    progress.hold(twice)
    assert not progress.accounted_for
    progress.release(twice, written=True)
    progress.hold(_file_batch(range(4, 6)))
    # Lines 2-3 are written (and one worker still holds them): 2 written + 2 held is the month.
    assert progress.accounted_for


def test_wait_wakes_when_a_batch_is_released() -> None:
    progress = MonthProgress("2026-10", 2, TWO_FILES)
    batch = _file_batch(range(2, 4))
    progress.hold(batch)
    woke = threading.Event()

    def waiter() -> None:
        progress.wait(timeout=60)
        woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    # Released until the waiter is seen awake: the release may come before it began to wait.
    while not woke.wait(0.01):
        progress.release(batch, written=True)
    thread.join()
    assert progress.complete


def test_fair_share_takes_the_most_until_few_messages_are_left() -> None:
    # 40 records in messages of 4: 10 messages for 2 workers.
    progress = MonthProgress("2026-10", 40, TWO_FILES, workers=2)
    assert progress.fair_share(10) == 10  # nothing seen yet
    first = _file_batch(range(2, 6))
    progress.hold(first)
    # 36 records (9 messages) left: 5 each.
    assert progress.fair_share(10) == 5
    assert progress.fair_share(3) == 3
    progress.release(first, written=True)
    later = [_file_batch(range(line, line + 4)) for line in range(6, 38, 4)]
    for batch in later:
        progress.hold(batch)
    # 4 records (1 message) left: a worker takes 1, never 0.
    assert progress.fair_share(10) == 1
    progress.hold(_file_batch(range(38, 42)))
    assert progress.accounted_for
    assert progress.fair_share(10) == 1
