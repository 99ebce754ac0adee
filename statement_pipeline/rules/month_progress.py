"""A loader op's progress on its own month: records written, and records its workers hold now.

The queue is shared by every month, so in a backfill a run's loaders also write other months'
records. Once an op has itself written every record its run scheduled (from the file versions
that run read), its own month is done and it stops, leaving other months to their own runs.
Records are counted by line, so a message delivered twice, or a dead run's message cut
differently, never counts twice.

While the op's workers hold (are writing) every record of the month that is not written yet,
an idle worker has nothing of its month left to receive: it waits for the others here instead
of long-polling the queue, and the op ends as soon as the last of them has written. Towards the
end of the month each worker takes only its share of what is left (`fair_share`), so that the
op's workers finish together rather than one of them writing its last ten messages alone.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable, Mapping

from statement_pipeline.rules.messages import RecordBatch


class LineSet:
    """A set of a file's line numbers, one bit a line (a month's 233,000 lines: 30 KB)."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0

    def add(self, line: int) -> bool:
        """Add a line (a positive number); True if it was not in the set yet."""
        byte, bit = divmod(line, 8)
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
        mask = 1 << bit
        if self._bits[byte] & mask:
            return False
        self._bits[byte] |= mask
        self._count += 1
        return True

    def __contains__(self, line: object) -> bool:
        if not isinstance(line, int) or line < 0:
            return False
        byte, bit = divmod(line, 8)
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << bit))

    def __len__(self) -> int:
        return self._count


class MonthProgress:
    """Which records of its own import a loader op has written, and which its workers hold."""

    def __init__(
        self, period: str, expected: int, sources: Mapping[str, str], workers: int = 1
    ) -> None:
        self.period = period
        self.expected = expected
        self.workers = max(1, workers)
        # Messages of the month held so far and their records: the records a message carries.
        self._messages = 0
        self._message_records = 0
        self._sources = dict(sources)
        self._written = {key: LineSet() for key in sources}
        # (source key, line) of the records being written now, with how many workers hold it.
        self._held: Counter[tuple[str, int]] = Counter()
        self._records = 0
        self.other_months = 0
        # Messages of any month the op's workers hold now (received, not yet deleted or put
        # back): when the queue has no other message in flight, no other run holds any.
        self.messages_held = 0
        self._changed = threading.Condition()

    def _own(self, batch: RecordBatch) -> bool:
        return (
            batch.period == self.period and self._sources.get(batch.source_key) == batch.source_etag
        )

    def hold(self, batch: RecordBatch) -> None:
        """A worker is about to write the batch's records."""
        if not self._own(batch):
            return
        with self._changed:
            self._held.update(_keys(batch))
            self._messages += 1
            self._message_records += len(batch.records)

    def hold_messages(self, count: int) -> None:
        """The op's workers received `count` messages (negative: finished with them)."""
        with self._changed:
            self.messages_held += count

    def release(self, batch: RecordBatch, *, written: bool) -> None:
        """A worker is done with a batch it held: all of its records written, or not."""
        with self._changed:
            if batch.period != self.period:
                if written:
                    self.other_months += len(batch.records)
            elif self._own(batch):
                for key in _keys(batch):
                    self._held[key] -= 1
                    if self._held[key] <= 0:
                        del self._held[key]
                if written:
                    lines = self._written[batch.source_key]
                    self._records += sum(lines.add(line) for line, _ in batch.records)
            self._changed.notify_all()

    def wait(self, timeout: float) -> None:
        """Sleep until a worker releases a batch, or `timeout` seconds."""
        with self._changed:
            self._changed.wait(timeout)

    @property
    def records(self) -> int:
        return self._records

    @property
    def complete(self) -> bool:
        return self.expected > 0 and self._records >= self.expected

    def _unclaimed(self) -> int:
        """Records of the month neither written nor held by a worker (call under the lock)."""
        held = sum(1 for key, line in self._held if line not in self._written[key])
        return max(0, self.expected - self._records - held)

    @property
    def accounted_for(self) -> bool:
        """Every record of the month is written, or held by one of the op's workers."""
        with self._changed:
            return self.expected > 0 and self._unclaimed() == 0

    def fair_share(self, most: int) -> int:
        """Messages one worker should take now: its share of what is left, 1 to `most`.

        What is left is counted in messages of the size seen so far; before any is seen, or
        while plenty is left, a worker takes `most`.
        """
        with self._changed:
            if not self._messages:
                return most
            per_message = self._message_records / self._messages
            left = math.ceil(self._unclaimed() / per_message)
            return max(1, min(most, math.ceil(left / self.workers)))


def _keys(batch: RecordBatch) -> Iterable[tuple[str, int]]:
    return ((batch.source_key, line) for line, _ in batch.records)
