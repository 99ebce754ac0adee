"""The loaders' write budget: write units per second, adapted to what the table grants.

Pure logic (a clock and a sleep are injected); the loaders report each BatchWriteItem's
outcome in write units, because that is what DynamoDB meters. botocore's adaptive retry mode
rate-limits requests, and never sees UnprocessedItems, so it cannot do this.

How the rate moves (additive-increase/multiplicative-decrease, in write units):

- It starts unpaced. A table that was idle has saved up to 300 s of unused capacity, and
  DynamoDB lets writes spend it faster than the provisioned rate (burst capacity:
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/burst-adaptive-capacity.html).
  The burst is best effort, so it is used while it is granted, never planned on.
- A throttle (UnprocessedItems, or the whole batch refused) cuts the rate to `cut` x the rate
  actually granted over the last `window` seconds, deeper when most of the call was refused.
  Throttles of calls that started before the last cut are the same congestion, already
  answered, and do not cut again.
- Each fully accepted call raises the rate by `growth`, so a partition or key limit (1,000
  units/s each, whatever the table's capacity) is probed and followed, not guessed.
- A throttle while the table grants about `floor` (this op's share of the sustained rate)
  means the burst is spent: the rate settles at the floor and stops probing upwards. A
  settled budget that is still throttled (another writer shares the table) goes below the
  floor, down to a tenth of it at most, and climbs back to it.
- `cap` (target_utilisation x this op's share) is a hard ceiling for a table shared with
  other writers: then the loaders never spend the burst.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# Within this factor of the floor, a throttle means the burst is gone: settle.
SETTLE_MARGIN = 1.25
MIN_RATE = 1.0
# Below the floor (another writer shares the table) the budget goes down to this share of
# it at most: throttles that have nothing to do with the rate (a hot key, a retried 5xx)
# must not starve the month.
MIN_FLOOR_SHARE = 0.1
# Settled, the budget paces just under the sustained rate (calls arrive in bursts, and the
# table holds no saved capacity then), and a throttle there eases it off by this much.
SETTLED_SHARE = 0.97
SETTLED_CUT = 0.9
# A settle can be wrong (a stall on our side made a partition's throttle look like a spent
# burst), so a settled budget goes unpaced again after this many quiet calls at its rate; a
# spent burst throttles it at once and it settles again, doubling the wait before the next try.
PROBE_AFTER_CALLS = 100


def write_units(item_bytes: int) -> int:
    """DynamoDB charges one write unit per started KB of item size."""
    return max(1, math.ceil(item_bytes / 1024))


def per_op_share(rate: float | None, slots: int) -> float | None:
    """One writer's share of a table-wide rate, when `slots` writers may write at once."""
    if rate is None:
        return None
    return rate / max(1, slots)


@dataclass(frozen=True)
class BudgetState:
    """A snapshot for logs and metadata."""

    rate: float | None
    settled: bool
    cuts: int
    throttles: int
    waited_seconds: float


class WriteBudget:
    """A token bucket whose rate adapts to throttling; shared by one loader op's threads."""

    def __init__(
        self,
        *,
        floor: float | None,
        cap: float | None = None,
        cut: float = 0.8,
        growth: float = 0.003,
        window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if floor is not None and floor <= 0:
            raise ValueError("floor must be positive (or None when unknown)")
        if cap is not None and cap <= 0:
            raise ValueError("cap must be positive (or None for no cap)")
        if not 0 < cut < 1 or growth <= 0 or window <= 0:
            raise ValueError("cut must be in (0, 1), growth and window positive")
        self.floor = min(floor, cap) if floor is not None and cap is not None else floor
        self.cap = cap
        self._cut = cut
        self._growth = growth
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # A capped budget paces from the start; otherwise the first throttle sets the pace.
        self._rate: float | None = cap
        self._settled = False
        self._tokens = 0.0
        self._last = clock()
        self._last_cut = -math.inf
        self._granted: deque[tuple[float, float]] = deque()
        self._first_record: float | None = None
        self._cuts = 0
        self._throttles = 0
        self._quiet = 0
        self._probe_after = PROBE_AFTER_CALLS
        self._waited = 0.0

    def state(self) -> BudgetState:
        with self._lock:
            return BudgetState(
                self._rate, self._settled, self._cuts, self._throttles, round(self._waited, 3)
            )

    def acquire(self, units: float) -> float:
        """Wait until `units` may be written; returns the call's start time for `record`."""
        with self._lock:
            now = self._clock()
            rate = self._rate
            if rate is None:
                self._last = now
                return now
            # At most a quarter second (or one call) saved up: bursts are the table's to grant.
            depth = max(units, rate / 4)
            self._tokens = min(depth, self._tokens + (now - self._last) * rate)
            self._last = now
            self._tokens -= units
            wait = -self._tokens / rate if self._tokens < 0 else 0.0
            self._waited += wait
        if wait > 0:
            self._sleep(wait)
        return self._clock()

    def record(self, started: float, granted: float, refused: float) -> None:
        """Report a call's outcome in write units (`refused`: throttled or unprocessed)."""
        with self._lock:
            now = self._clock()
            if self._first_record is None:
                self._first_record = started
            if granted > 0:
                self._granted.append((now, granted))
            while self._granted and self._granted[0][0] < now - self._window:
                self._granted.popleft()
            if refused <= 0:
                self._grow()
                return
            self._throttles += 1
            if started < self._last_cut:
                return
            # Most of the call refused: the table grants far less than asked, cut deeper.
            # Settled, a throttle is jitter around a known rate (or a second writer): ease off.
            if self._settled:
                cut = SETTLED_CUT
            else:
                cut = self._cut if refused <= granted else self._cut * self._cut * 0.75
            self._cut_to(self._granted_rate(now), now, cut)

    def _granted_rate(self, now: float) -> float:
        """Units granted per second over the last window (or since the first call)."""
        first = self._first_record if self._first_record is not None else now
        since = max(now - self._window, first)
        granted = sum(units for at, units in self._granted if at > since)
        return granted / max(0.25, now - since)

    def _grow(self) -> None:
        if self._rate is None:
            return
        if self._settled and self.floor is not None and self._rate >= self.floor * SETTLED_SHARE:
            self._quiet += 1
            if self._quiet >= self._probe_after:
                self._settled, self._rate, self._quiet = False, None, 0
                self._probe_after *= 2
                return
        ceiling = (
            self.floor * SETTLED_SHARE if self._settled and self.floor is not None else self.cap
        )
        # Back up to a known-good floor quickly; above it, probe slowly.
        growth = self._growth * 10 if self._settled else self._growth
        grown = self._rate * (1 + growth)
        self._rate = grown if ceiling is None else min(ceiling, grown)

    def _cut_to(self, granted_rate: float, now: float, cut: float) -> None:
        current = self._rate if self._rate is not None else math.inf
        floor = self.floor
        if granted_rate <= 0:
            # Nothing granted lately (the first calls of a load, all refused) says little
            # about the rate: cut from the current pace, start from the floor, or (unpaced,
            # no floor) leave the pacing to the writers' backoff until a write gets through.
            if math.isinf(current) and floor is None:
                self._throttled_unpaced(now)
                return
            target = current * cut if not math.isinf(current) else floor * SETTLE_MARGIN
        else:
            target = min(current, granted_rate) * cut
            # While the table still grants about this op's share or more, the floor is safe:
            # a cut that reaches it means the burst is spent, and the rate settles there.
            # Granted well below the floor, a key or partition limit (or another writer) is
            # followed instead.
            if (
                floor is not None
                and not self._settled
                and granted_rate >= floor / SETTLE_MARGIN
                and target <= floor * SETTLE_MARGIN
            ):
                self._settled = True
                target = floor * SETTLED_SHARE
        lowest = max(MIN_RATE, floor * MIN_FLOOR_SHARE) if floor is not None else MIN_RATE
        target = max(lowest, target)
        if self.cap is not None:
            target = min(target, self.cap)
        self._rate = target
        self._tokens = min(self._tokens, 0.0)
        self._last_cut = now
        self._cuts += 1

    def _throttled_unpaced(self, now: float) -> None:
        self._last_cut = now
        self._cuts += 1
