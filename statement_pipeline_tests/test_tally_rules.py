"""Counter dataclasses summed field by field, bumped by threads, pickled, and shown as metadata."""

from __future__ import annotations

import pickle
import threading
from dataclasses import dataclass, field

from statement_pipeline.rules.tally import Counters, add, as_metadata, total


@dataclass
class LoadCounters(Counters):
    written: int = 0
    seconds: float = 0.0
    failed_keys: list[str] = field(default_factory=list)
    by_reason: dict[str, int] = field(default_factory=dict)
    _private: int = 0


def test_adding_sums_numbers_joins_lists_and_merges_mappings() -> None:
    into = LoadCounters(2, 1.5, ["a"], {"bad date": 1, "empty": 2}, _private=7)
    add(into, LoadCounters(3, 0.25, ["b", "c"], {"bad date": 4, "too long": 1}, _private=5))
    assert into.written == 5
    assert into.seconds == 1.75
    assert into.failed_keys == ["a", "b", "c"]
    assert into.by_reason == {"bad date": 5, "empty": 2, "too long": 1}
    # Private fields are the counter's own (its lock, its state), never summed.
    assert into._private == 7


def test_the_total_of_parts_is_their_field_by_field_sum() -> None:
    parts = [LoadCounters(1, 0.5, ["a"], {"x": 1}), LoadCounters(2, 1.0, ["b"], {"x": 2, "y": 1})]
    summed = total(LoadCounters, parts)
    assert (summed.written, summed.seconds) == (3, 1.5)
    assert summed.failed_keys == ["a", "b"]
    assert summed.by_reason == {"x": 3, "y": 1}
    # The parts are left as they were.
    assert parts[0].failed_keys == ["a"]
    assert parts[0].by_reason == {"x": 1}


def test_the_total_of_no_parts_is_zero() -> None:
    summed = total(LoadCounters, [])
    assert (summed.written, summed.seconds, summed.failed_keys, summed.by_reason) == (0, 0, [], {})


def test_bumps_from_many_threads_are_all_counted() -> None:
    counters = LoadCounters()

    def bump() -> None:
        for _ in range(1000):
            counters.bump(written=1, seconds=0.5)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters.written == 4000
    assert counters.seconds == 2000.0


def test_counters_pickle_without_their_lock_and_get_a_new_one_back() -> None:
    counters = LoadCounters(4, 2.0, ["a"], {"x": 1})
    assert "_lock" not in counters.__getstate__()
    copy = pickle.loads(pickle.dumps(counters))  # noqa: S301 - our own object
    assert (copy.written, copy.seconds) == (4, 2.0)
    assert (copy.failed_keys, copy.by_reason) == (["a"], {"x": 1})
    copy.bump(written=1)
    assert copy.written == 5
    # A lock of its own, not shared with (nor missing from) the copy.
    assert copy._lock is not counters._lock
    assert copy._lock.acquire(blocking=False)
    copy._lock.release()


def test_metadata_holds_the_public_numbers_only() -> None:
    counters = LoadCounters(4, 2.5, ["a"], {"x": 1}, _private=9)
    assert as_metadata(counters) == {"written": 4, "seconds": 2.5}


@dataclass
class TimedCounters:
    _started: float = 0.0
    written: int = 0


def test_a_private_field_first_does_not_stop_the_public_ones_after_it_from_adding_up() -> None:
    into = TimedCounters(_started=10.0, written=2)
    add(into, TimedCounters(_started=20.0, written=3))
    assert (into._started, into.written) == (10.0, 5)
