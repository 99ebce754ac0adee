"""A budget of capacity units per second that adapts, by time, to what DynamoDB grants.

Pure logic (a clock and a sleep are injected). The write budget (`write_budget.py`) and the
read budget (`read_budget.py`) are this one controller, fed with each call's outcome in the
units DynamoDB meters: what it granted (ConsumedCapacity, or the units of the items it took)
and what it refused (UnprocessedItems, or a call throttled whole). botocore's adaptive retry
mode rate-limits requests and never sees UnprocessedItems, so it cannot do this.

Every decision is taken on time, never on a count of calls, so it behaves the same whether
the table grants 20 units a second or 4,000 (and under the capacity model's time compression):

- It starts unpaced. A provisioned table that was idle has saved up to 300 s of unused
  capacity, which DynamoDB lets callers spend faster than the provisioned rate
  (developer guide, burst-adaptive-capacity.html). The burst is best effort: used while
  granted, never planned on.
- A throttle is answered once per congestion: calls that started before the last cut are the
  same congestion. The rate the table granted in the `window` seconds before the refused call
  was sent is measured from its answers (before it was sent: a stall of ours while the answer
  waited must not read as a slow table); the rate is cut to `cut` x that (deeper when most of
  the call was refused).
- The burst is spent when the table, asked for more, grants about `floor` (this caller's share
  of the sustained rate: provisioned units, or an on-demand table's 4,000 writes / 12,000
  reads a second, divided between the callers). Only then does the rate settle, at
  `settled_share` x floor (writes: just under it; reads: the share the import may take of
  the table's reads), and stop climbing above it. Granted well above the floor, the burst
  remains and the limit is a partition's or a key's (1,000 write / 3,000 read units a second
  each, whatever the table's capacity): it is followed, never settled on. A cut never takes an
  unsettled rate below the floor unless the table, asked for the floor, granted well under it
  (another caller shares the table).
- Between throttles the rate climbs back by time: by 1/`cut` every `climb_seconds`, so it
  returns to where it was cut from in the same time at any rate.
- A settled rate probes: after `probe_seconds` without a throttle it goes unpaced again (a
  settle can be wrong: a stall of ours can look like a spent burst). A spent burst throttles it
  at once and it settles again, doubling the wait before the next probe. (Reads do not probe:
  they settle below the sustained rate on purpose, and a read refused is owed to the table.)
- Settled and still throttled (another caller shares the table), it eases off by
  `SETTLED_CUT`, down to `MIN_FLOOR_SHARE` of the floor at most, and climbs back. A settled
  share below that minimum (or below `MIN_RATE`) is the caller's own: it is kept.
- `cap` is a hard ceiling (target_utilisation): then the burst is never spent.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# Granted within this factor of the floor while asking for more: the burst is spent.
SETTLE_MARGIN = 1.25
MIN_RATE = 1.0
# Below the floor (another caller shares the table) the budget goes down to this share of it
# at most: throttles that have nothing to do with the rate (a hot key, a retried 5xx) must
# not starve the import.
MIN_FLOOR_SHARE = 0.1
# Settled, the budget paces just under the sustained rate (calls arrive in bursts and the
# table holds no saved capacity then); a throttle there eases it off by SETTLED_CUT.
SETTLED_SHARE = 0.97
SETTLED_CUT = 0.9
# ... and it climbs back to it this many times slower than an unsettled rate climbs.
SETTLED_CLIMB_SLOWER = 4.0
# Most of a call refused: the table grants far less than asked, cut deeper than `cut`.
DEEP_CUT_FACTOR = 0.6


@dataclass(frozen=True)
class BudgetState:
    """A snapshot for logs and metadata."""

    rate: float | None
    settled: bool
    cuts: int
    throttles: int
    waited_seconds: float
    settles: int = 0
    probes: int = 0


class AdaptiveBudget:
    """A token bucket of units per second whose rate follows the table's answers."""

    def __init__(
        self,
        *,
        floor: float | None,
        cap: float | None = None,
        cut: float = 0.8,
        window: float = 1.0,
        climb_seconds: float = 1.5,
        probe_seconds: float | None = 5.0,
        settled_share: float = SETTLED_SHARE,
        owe_late_grants: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if floor is not None and floor <= 0:
            raise ValueError("floor must be positive (or None when unknown)")
        if cap is not None and cap <= 0:
            raise ValueError("cap must be positive (or None for no cap)")
        if not 0 < cut < 1 or window <= 0 or climb_seconds <= 0:
            raise ValueError("cut must be in (0, 1); window and climb time positive")
        if probe_seconds is not None and probe_seconds <= 0:
            raise ValueError("probe time must be positive (or None: never probe)")
        if not 0 < settled_share <= 1:
            raise ValueError("settled share must be in (0, 1]")
        self.floor = min(floor, cap) if floor is not None and cap is not None else floor
        self.cap = cap
        self._cut = cut
        self._window = window
        # Continuous growth: x (1 / cut) every climb_seconds.
        self._growth = math.log(1 / cut) / climb_seconds
        self._probe_seconds = probe_seconds
        self._settled_share = settled_share
        self._owe_late_grants = owe_late_grants
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # A capped budget paces from the start; otherwise the first throttle sets the pace.
        self._rate: float | None = cap
        self._settled = False
        self._tokens = 0.0
        now = clock()
        self._last = now
        self._grown_at = now
        self._last_cut = -math.inf
        self._last_throttle = now
        self._first_record: float | None = None
        # (answered at, granted, refused) of recent calls.
        self._answers: deque[tuple[float, float, float]] = deque()
        self._cuts = 0
        self._throttles = 0
        self._settles = 0
        self._probes = 0
        self._waited = 0.0

    def state(self) -> BudgetState:
        with self._lock:
            return BudgetState(
                self._rate,
                self._settled,
                self._cuts,
                self._throttles,
                round(self._waited, 3),
                self._settles,
                self._probes,
            )

    def acquire(self, units: float) -> float:
        """Wait until `units` may be spent; returns the call's start time for `record`."""
        with self._lock:
            now = self._clock()
            self._grow(now)
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

    def pace(self) -> float | None:
        """The rate calls are paced at now; unpaced, the floor (None when neither is known)."""
        with self._lock:
            return self._rate if self._rate is not None else self.floor

    def correct(self, reserved: float, used: float) -> None:
        """A call reserved `reserved` units at `acquire` and the table charged `used`."""
        with self._lock:
            if self._rate is not None:
                self._tokens += reserved - used

    def record(
        self, started: float, granted: float, refused: float, *, partition_limit: bool = False
    ) -> None:
        """Report a call's outcome in units: `granted` by the table, `refused` (throttled).

        `partition_limit`: DynamoDB said the refusal was a partition's or a key's
        (ThrottlingReasons `...KeyRangeThroughputExceeded`), so the table still has burst.
        """
        with self._lock:
            now = self._clock()
            if self._first_record is None:
                self._first_record = started
            self._answers.append((now, granted, refused))
            while self._answers and self._answers[0][0] < now - 4 * self._window:
                self._answers.popleft()
            if refused <= 0:
                if started < self._last_cut and self._owe_late_grants and self._rate is not None:
                    # Granted to a call sent before the cut, at the old pace: a read charged
                    # beyond what the table held is owed to it, and the new pace pays it back.
                    self._tokens -= granted
                self._grow(now)
                return
            self._throttles += 1
            self._last_throttle = now
            if started < self._last_cut:
                return
            self._answer_throttle(now, started, granted, refused, partition_limit)

    # --- the controller (called under the lock) -------------------------------------------

    def _rates(self, until: float) -> tuple[float, float, bool]:
        """Units granted and asked for per second over the window before `until`, and whether
        the window is whole (the budget has answers from all of it)."""
        first = self._first_record if self._first_record is not None else until
        since = max(until - self._window, first)
        granted = asked = 0.0
        for at, got, refused in self._answers:
            if since < at <= until:
                granted += got
                asked += got + refused
        span = max(0.25 * self._window, until - since)
        return granted / span, asked / span, until - first >= self._window

    def _answer_throttle(
        self, now: float, started: float, granted: float, refused: float, partition_limit: bool
    ) -> None:
        # What the table granted in the window before this call was sent: a stall of ours
        # since then (the answer waiting on a starved thread) must not read as a slow table.
        got, asked, whole = self._rates(started)
        asked += (granted + refused) / self._window
        got += granted / self._window
        floor = self.floor
        current = self._rate if self._rate is not None else math.inf
        if self._settled:
            # A second caller on a table whose burst is spent: ease off, climb back later.
            target = min(current, got if got > 0 else current) * SETTLED_CUT
        elif (
            floor is not None
            and whole
            and not partition_limit
            and floor / SETTLE_MARGIN <= got <= floor * SETTLE_MARGIN
        ):
            # Asked for more, granted about this caller's share of the sustained rate.
            self._settled = True
            self._settles += 1
            target = floor * self._settled_share
        else:
            cut = self._cut if refused <= granted else self._cut * DEEP_CUT_FACTOR
            target = min(current, got) * cut if got > 0 else current * cut
            if floor is not None and target < floor:
                # Below the floor only when the table, asked for the floor or more over a whole
                # window, granted well under it; otherwise the floor is safe to ask for.
                # Asked for far more than the floor, little granted may be our own doing (reads
                # charged beyond what the table held, refused until paid back).
                asked_floor = floor / SETTLE_MARGIN <= asked <= floor * SETTLE_MARGIN
                shared = whole and asked_floor and got < floor / SETTLE_MARGIN
                target = max(target, got * self._cut) if shared else floor
        lowest = max(MIN_RATE, floor * MIN_FLOOR_SHARE) if floor is not None else MIN_RATE
        if self._settled and floor is not None:
            # Settled, the caller's share of the floor wins over the minimum: a read share
            # under MIN_FLOOR_SHARE, or a floor under MIN_RATE (a 1-WCU table split over four
            # loader ops), is what the table leaves this caller, and `_grow` keeps it there.
            lowest = min(lowest, floor * self._settled_share)
        if math.isinf(target):
            # Unpaced, nothing known (no floor, nothing granted): leave the pacing to the
            # callers' backoff until a call gets through.
            self._last_cut = now
            self._cuts += 1
            return
        target = max(lowest, target)
        if self.cap is not None:
            target = min(target, self.cap)
        if self._tokens < 0 and self._rate is not None:
            # Calls already waiting were promised times at the old pace: keep them, do not
            # stretch them by the cut.
            self._tokens *= target / self._rate
        self._rate = target
        self._tokens = min(self._tokens, 0.0)
        self._last_cut = now
        self._grown_at = now
        self._cuts += 1

    def _grow(self, now: float) -> None:
        """Climb by time since the last growth; probe a settled rate after a quiet spell."""
        elapsed = now - self._grown_at
        self._grown_at = now
        if self._rate is None or elapsed <= 0:
            return
        probe = self._probe_seconds
        if self._settled and probe is not None and now - self._last_throttle >= probe:
            self._settled, self._rate = False, None
            self._probes += 1
            self._probe_seconds = probe * 2
            return
        ceiling = self.cap
        if self._settled and self.floor is not None:
            ceiling = self.floor * self._settled_share
        # Settled, a throttle is jitter around a known rate: climb back to it four times slower.
        growth = self._growth / SETTLED_CLIMB_SLOWER if self._settled else self._growth
        grown = self._rate * math.exp(growth * elapsed)
        self._rate = grown if ceiling is None else min(ceiling, grown)
