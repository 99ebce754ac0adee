"""Backoff for the project's own loops, which re-send only what a batch call left undone.

Whole calls (throttling, 5xx, dropped connections) are retried by botocore alone, configured
once in `statement_pipeline.aws.clients`. The loops here handle what botocore cannot see:
UnprocessedItems of BatchWriteItem and Failed entries of the SQS batch calls, which arrive
on successful responses. Each loop is bounded by `max_attempts` rounds without progress.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Exponential backoff with full jitter (the AWS Architecture Blog's recommendation)."""

    base: float = 0.05
    cap: float = 5.0
    max_attempts: int = 8
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        return self.rng.uniform(0, min(self.cap, self.base * (2 ** (attempt - 1))))

    def pause(self, attempt: int) -> float:
        seconds = self.delay(attempt)
        self.sleep(seconds)
        return seconds

    def worst_case_seconds(self) -> float:
        """The longest a loop can pause in all before it gives up."""
        return sum(min(self.cap, self.base * 2 ** (n - 1)) for n in range(1, self.max_attempts))
