"""Progress of a long step, as one log line: done/total, rate, throttled share, time left.

The stages report a line every few seconds while they work (`every`), so a run's log shows a
long load moving between its start and its end. Counts only, never a value.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

# How often a stage logs its progress by default (`import_tuning.progress_seconds`).
PROGRESS_SECONDS = 5.0


def duration(seconds: float) -> str:
    """`4 s`, `3 min 20 s`, `2 h 05 min`: whole units, for an estimate."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass(frozen=True)
class Progress:
    """Where one step stands: `done` of `total` units after `seconds` of work.

    `refused` of `attempts` calls were throttled (or retried) by the service; None where the
    step makes no such calls (a figure that does not apply is left out of the line).
    """

    what: str
    unit: str
    done: float
    total: float
    seconds: float
    refused: int | None = None
    attempts: int | None = None
    attempts_label: str = "calls"
    decimals: int = 0

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Time left at the rate so far (None before anything is done)."""
        if self.done >= self.total:
            return 0.0
        if self.rate <= 0:
            return None
        return (self.total - self.done) / self.rate

    @property
    def counts(self) -> str:
        """`done/total unit`, e.g. `12,000/23,300 statements`."""
        n = f",.{self.decimals}f"
        return f"{self.done:{n}}/{self.total:{n}} {self.unit}"

    def line(self) -> str:
        share = f" ({self.done / self.total:.0%})" if self.total > 0 else ""
        parts = [
            f"{self.what}: {self.counts}{share}",
            f"{self.rate:,.{self.decimals}f} {self.unit}/s",
        ]
        if self.refused is not None and self.attempts:
            parts.append(f"{self.refused / self.attempts:.1%} of {self.attempts_label} throttled")
        elif self.refused is not None:
            parts.append(f"no {self.attempts_label} yet")
        left = self.seconds_left
        parts.append("time left unknown" if left is None else f"about {duration(left)} left")
        return ", ".join(parts)


class Tally:
    """A count that several threads add to, read by the progress line meanwhile."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self, amount: int) -> None:
        with self._lock:
            self.value += amount


class CountingReader:
    """A binary stream whose bytes read are added to a `Tally` (a file's validation progress)."""

    def __init__(self, stream: BinaryIO, tally: Tally) -> None:
        self._stream = stream
        self._tally = tally

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._tally.add(len(data))
        return data


@contextmanager
def every(seconds: float, emit: Callable[[], None]) -> Iterator[None]:
    """Call `emit` every `seconds` in a background thread while the block runs."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(seconds):
            emit()

    thread = threading.Thread(target=run, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# Who else hears the stages' progress in this process: a terminal's progress bar (`demo`).
_LISTENERS: list[Callable[[Progress], None]] = []
_LISTENERS_LOCK = threading.Lock()


@contextmanager
def listening(listener: Callable[[Progress], None]) -> Iterator[None]:
    """Hand `listener` every progress snapshot of this process's stages while the block runs."""
    with _LISTENERS_LOCK:
        _LISTENERS.append(listener)
    try:
        yield
    finally:
        with _LISTENERS_LOCK:
            _LISTENERS.remove(listener)


def _listeners() -> list[Callable[[Progress], None]]:
    with _LISTENERS_LOCK:
        return list(_LISTENERS)


@contextmanager
def reporting(
    report: Callable[[Progress], None] | None,
    seconds: float,
    snapshot: Callable[[], Progress],
) -> Iterator[None]:
    """Hand `report` a fresh `snapshot()` every `seconds` while the block runs.

    Listeners (`listening`) hear the same snapshots, and the last one once the block is done.
    """
    listeners = _listeners()
    if report is None and not listeners:
        yield
        return

    def emit() -> None:
        current = snapshot()
        if report is not None:
            report(current)
        for listener in listeners:
            listener(current)

    with every(seconds, emit):
        yield
    final = snapshot()
    for listener in listeners:
        listener(final)
