"""Pacing writes to a table's capacity: a thread-safe token bucket in write units per second."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Hands out write units at `rate` per second with at most `burst` saved up.

    `rate=None` means unlimited (on-demand tables): acquire never waits.
    """

    def __init__(
        self,
        rate: float | None,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive (or None for unlimited)")
        self.rate = rate
        # One second of capacity by default: DynamoDB itself accounts per second.
        self.burst = burst if burst is not None else (rate or 0.0)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()
        self.waited = 0.0

    def _refill(self) -> None:
        now = self._clock()
        if self.rate is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self, units: float) -> float:
        """Take `units`, sleeping until they are available; returns the seconds waited."""
        if self.rate is None:
            return 0.0
        with self._lock:
            self._refill()
            self._tokens -= units
            # Going into debt and sleeping it off lets a request larger than the burst through.
            deficit = -self._tokens
        wait = deficit / self.rate if deficit > 0 else 0.0
        if wait > 0:
            self._sleep(wait)
            self.waited += wait
        return wait


def per_loader_rate(
    write_capacity: float | None, target_utilisation: float, loaders: int
) -> float | None:
    """Each loader's share of the run's write budget (None: on-demand, no pacing)."""
    if write_capacity is None:
        return None
    if not 0 < target_utilisation <= 1:
        raise ValueError("target utilisation must be in (0, 1]")
    return max(write_capacity * target_utilisation / max(loaders, 1), 0.01)


def write_units(item_bytes: int) -> int:
    """DynamoDB charges one write unit per started KB of item size."""
    return max(1, math.ceil(item_bytes / 1024))
