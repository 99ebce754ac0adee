"""Progress of the long commands: bars on a terminal (rich), plain lines when not.

`demo`, `upload` and `bootstrap` use it. Without a terminal (a log file, CI) a bar becomes a
plain line at most every `PLAIN_SECONDS`, and one more when it completes, so that captured
output stays short and readable.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType

from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

PLAIN_SECONDS = 10.0


class Bars:
    """Named progress bars, updated from any thread."""

    def __init__(self, terminal: bool | None = None, plain_every: float = PLAIN_SECONDS) -> None:
        self.terminal = sys.stdout.isatty() if terminal is None else terminal
        self._plain_every = plain_every
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._printed: dict[str, float] = {}
        self._done: set[str] = set()
        self._rich = (
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            if self.terminal
            else None
        )

    def __enter__(self) -> Bars:
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._rich is not None:
            self._rich.stop()

    def update(self, name: str, done: float, total: float | None, text: str) -> None:
        """Bar `name` at `done` of `total` (None: unknown, e.g. a wait), described by `text`."""
        with self._lock:
            if self._rich is not None:
                self._update_rich(self._rich, name, done, total, text)
            else:
                self._print_plain(name, done, total, text)

    def _update_rich(
        self, rich: Progress, name: str, done: float, total: float | None, text: str
    ) -> None:
        task = self._tasks.get(name)
        if task is None:
            self._tasks[name] = rich.add_task(text, total=total, completed=done)
        else:
            rich.update(task, description=text, total=total, completed=done)

    def _print_plain(self, name: str, done: float, total: float | None, text: str) -> None:
        if name in self._done:
            return
        finished = total is not None and done >= total
        now = time.monotonic()
        if finished or now - self._printed.get(name, -self._plain_every) >= self._plain_every:
            print(text, flush=True)
            self._printed[name] = now
        if finished:
            self._done.add(name)
