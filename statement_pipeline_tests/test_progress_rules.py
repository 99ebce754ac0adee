"""The progress line a long step logs: durations, counts, rate, throttled share, time left."""

from __future__ import annotations

import io

import pytest

from statement_pipeline.rules.progress import CountingReader, Progress, Tally, duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0 s"),
        (4.4, "4 s"),
        (59.4, "59 s"),
        (59.6, "1 min 00 s"),  # rounds to 60
        (61.0, "1 min 01 s"),
        (200.0, "3 min 20 s"),
        (3599.0, "59 min 59 s"),
        (3600.0, "1 h 00 min"),
        (7500.0, "2 h 05 min"),  # 125 min
        (7559.0, "2 h 05 min"),  # 125 min 59 s: whole minutes only
        (36000.0, "10 h 00 min"),
    ],
)
def test_a_duration_is_written_in_whole_units(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_a_line_gives_counts_share_rate_throttled_share_and_time_left() -> None:
    progress = Progress(
        what="load 2026-10",
        unit="statements",
        done=12000,
        total=24000,
        seconds=60.0,
        refused=5,
        attempts=200,
        attempts_label="writes",
    )
    # 12,000 / 60 s = 200/s; 12,000 left at 200/s = 60 s.
    assert progress.line() == (
        "load 2026-10: 12,000/24,000 statements (50%), 200 statements/s, "
        "2.5% of writes throttled, about 1 min 00 s left"
    )


def test_a_line_without_calls_leaves_the_throttled_share_out() -> None:
    progress = Progress("validate", "MB", done=1.5, total=6.0, seconds=3.0, decimals=1)
    # 1.5 MB / 3 s = 0.5 MB/s; 4.5 MB left at 0.5 MB/s = 9 s.
    assert progress.line() == "validate: 1.5/6.0 MB (25%), 0.5 MB/s, about 9 s left"


def test_a_line_says_when_no_call_was_made_yet() -> None:
    progress = Progress("load", "statements", done=0, total=10, seconds=0.0, refused=0, attempts=0)
    assert progress.line() == (
        "load: 0/10 statements (0%), 0 statements/s, no calls yet, time left unknown"
    )


def test_a_finished_step_has_no_time_left_even_before_its_clock_moved() -> None:
    progress = Progress("load", "statements", done=10, total=10, seconds=0.0)
    assert progress.rate == 0.0
    assert progress.seconds_left == 0.0
    assert progress.line() == "load: 10/10 statements (100%), 0 statements/s, about 0 s left"


def test_a_step_with_nothing_to_do_shows_no_share() -> None:
    progress = Progress("load", "statements", done=0, total=0, seconds=2.0)
    assert progress.line() == "load: 0/0 statements, 0 statements/s, about 0 s left"


def test_nothing_done_yet_leaves_the_time_left_unknown() -> None:
    progress = Progress("load", "statements", done=0, total=10, seconds=5.0)
    assert progress.rate == 0.0
    assert progress.seconds_left is None


def test_the_rate_is_done_per_second() -> None:
    assert Progress("x", "rows", done=30, total=90, seconds=4.0).rate == 7.5
    # 60 rows left at 7.5 rows/s = 8 s
    assert Progress("x", "rows", done=30, total=90, seconds=4.0).seconds_left == 8.0


def test_a_tally_starts_at_zero_and_sums_what_is_added() -> None:
    tally = Tally()
    assert tally.value == 0
    tally.add(3)
    tally.add(4)
    assert tally.value == 7


def test_a_counting_reader_adds_the_bytes_it_reads_to_its_tally() -> None:
    tally = Tally()
    reader = CountingReader(io.BytesIO(b"0123456789"), tally)
    assert reader.read(4) == b"0123"
    assert tally.value == 4
    assert reader.read() == b"456789"
    assert tally.value == 10
    assert reader.read(4) == b""
    assert tally.value == 10


def test_a_step_of_one_unit_shows_its_share() -> None:
    progress = Progress("validate", "files", done=0, total=1, seconds=1.0)
    assert progress.line() == "validate: 0/1 files (0%), 0 files/s, time left unknown"
