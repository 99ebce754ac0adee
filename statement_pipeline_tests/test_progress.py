"""A loader op's own-month progress: each record of its import counted once."""

from statement_pipeline.aws.queue_drainer import MonthProgress
from statement_pipeline.rules.messages import RecordBatch

ROW = ("S", "A", "2026-10", "2026-10-31", "EUR", "1", "0", "0", "1", "0")
SOURCES = {"statements/2026-10/a.csv": '"v2"'}


def _batch(lines: range, period: str = "2026-10", etag: str = '"v2"') -> RecordBatch:
    return RecordBatch(
        period, "statements/2026-10/a.csv", etag, tuple((line, ROW) for line in lines)
    )


def test_complete_once_every_line_is_written() -> None:
    progress = MonthProgress("2026-10", 10, SOURCES)
    progress.add(_batch(range(2, 7)))
    assert not progress.complete
    progress.add(_batch(range(7, 12)))
    assert progress.complete
    assert progress.records == 10


def test_redelivered_and_recut_messages_do_not_count_twice() -> None:
    progress = MonthProgress("2026-10", 10, SOURCES)
    progress.add(_batch(range(2, 7)))
    progress.add(_batch(range(2, 7)))
    progress.add(_batch(range(4, 9)))
    assert progress.records == 7
    assert not progress.complete


def test_other_months_and_other_file_versions_do_not_count() -> None:
    progress = MonthProgress("2026-10", 3, SOURCES)
    progress.add(_batch(range(2, 5), period="2026-09"))
    progress.add(_batch(range(2, 5), etag='"v1"'))
    assert progress.records == 0
    assert progress.other_months == 3
    assert not progress.complete


def test_an_empty_import_is_never_complete_by_counting() -> None:
    assert not MonthProgress("2026-10", 0, SOURCES).complete
