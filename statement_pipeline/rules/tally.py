"""Counters summed generically: every numeric field added, lists joined, mappings merged."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def total(cls: type[T], parts: Iterable[T]) -> T:
    """One `cls` whose fields are the sums of `parts`' fields (a dataclass of counters)."""
    result = cls()
    for part in parts:
        add(result, part)
    return result


def add(into: Any, part: Any) -> None:
    """Add `part`'s counters to `into`'s, field by field (both the same dataclass)."""
    for f in dataclasses.fields(into):
        if f.name.startswith("_"):
            continue
        mine, theirs = getattr(into, f.name), getattr(part, f.name)
        if isinstance(mine, list):
            mine.extend(theirs)
        elif isinstance(mine, dict):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        else:
            setattr(into, f.name, mine + theirs)


class Counters:
    """Mixin for counter dataclasses that several threads bump at once."""

    _lock: threading.Lock

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Op outputs are pickled by Dagster's IO manager; a lock cannot be, nor needs to be.
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def bump(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


def as_metadata(counters: Any) -> dict[str, Any]:
    """The public numeric fields of a counter dataclass (lists and mappings left out)."""
    return {
        f.name: getattr(counters, f.name)
        for f in dataclasses.fields(counters)
        if not f.name.startswith("_") and isinstance(getattr(counters, f.name), int | float)
    }
