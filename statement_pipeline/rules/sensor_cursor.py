"""What changed in the month folders since the sensor's last tick: one listing, a small cursor.

The cursor holds, per month, a digest of the versions (key + ETag) of all of its current
`.csv` files, never a timestamp: a file whose LastModified ties the newest one already seen,
an overwrite (new ETag) and a removal all change the digest, and nothing else does. Its size
grows with the number of months, not files. Each change also bumps the month's generation,
so a month that returns to an earlier set of versions (A, then B, then A again) still gets a
run key of its own, while a tick evaluated twice from the same cursor repeats its run keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from statement_pipeline.rules import s3_layout

CURSOR_VERSION = 1
DIGEST_CHARS = 24
# Ignored keys are counted in full but only this many are kept to name in the tick's log.
IGNORED_SAMPLE = 20
_MODULUS = 1 << 256


class CursorError(ValueError):
    """The sensor's cursor is not one this code wrote."""


class VersionSet:
    """A digest of a set of (key, version) pairs that is independent of the listing order.

    Summing per-entry hashes keeps one integer per month instead of every key, and does not
    rely on S3 listing keys in sorted order (directory buckets do not).
    """

    def __init__(self) -> None:
        self.count = 0
        self._total = 0

    def add(self, key: str, version: str) -> None:
        entry = hashlib.sha256(f"{key}\n{version}".encode()).digest()
        self._total = (self._total + int.from_bytes(entry, "big")) % _MODULUS
        self.count += 1

    def digest(self) -> str:
        summary = f"{self.count}:{self._total:064x}".encode()
        return hashlib.sha256(summary).hexdigest()[:DIGEST_CHARS]


@dataclass
class PrefixListing:
    """One pass over the statement prefix: per month the digest and count of its .csv files."""

    months: dict[str, tuple[str, int]]
    ignored_count: int
    ignored_sample: list[tuple[str, str]]
    ignored_digest: str
    objects: int
    pages: int
    seconds: float


class PrefixTally:
    """Folds the objects of one listing into per-month version digests, as they arrive."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.months: dict[str, VersionSet] = {}
        self.ignored = VersionSet()
        self.sample: list[tuple[str, str]] = []
        self.objects = 0
        self.pages = 0

    def add(self, key: str, etag: str) -> None:
        self.objects += 1
        if key.endswith("/") or (not self.prefix and key.startswith(s3_layout.REJECTS_ROOT)):
            # Folder markers, and the pipeline's own rejects when months sit at the root.
            return
        verdict = s3_layout.classify_key(self.prefix, key)
        if verdict.month is None:
            reason = verdict.reason or "not a statement file"
            self.ignored.add(key, reason)
            if len(self.sample) < IGNORED_SAMPLE:
                self.sample.append((key, reason))
            return
        self.months.setdefault(verdict.month, VersionSet()).add(key, etag)

    def listing(self, seconds: float) -> PrefixListing:
        return PrefixListing(
            months={m: (v.digest(), v.count) for m, v in sorted(self.months.items())},
            ignored_count=self.ignored.count,
            ignored_sample=self.sample,
            ignored_digest=self.ignored.digest() if self.ignored.count else "",
            objects=self.objects,
            pages=self.pages,
            seconds=round(seconds, 3),
        )


@dataclass(frozen=True)
class MonthChange:
    """A month whose set of file versions differs from the cursor's: it needs a run."""

    month: str
    digest: str
    generation: int
    files: int
    first_seen: bool

    @property
    def run_key(self) -> str:
        """Names the month's file versions (and the generation, see the module docstring)."""
        return f"{self.month}:{self.digest}:{self.generation}"


@dataclass
class TickPlan:
    """What one tick does: the months to import, what it skips, and the cursor to store."""

    changes: list[MonthChange]
    cursor: str
    outside_partitions: list[str] = field(default_factory=list)
    emptied: list[str] = field(default_factory=list)
    skipped_changed: bool = False


def parse_cursor(cursor: str | None) -> tuple[dict[str, tuple[str, int]], str]:
    """Per month (digest, generation), and the digest of what was skipped; empty when unset."""
    if not cursor:
        return {}, ""
    try:
        data = json.loads(cursor)
        if data.get("v") != CURSOR_VERSION:
            raise CursorError(f"cursor version {data.get('v')!r}, expected {CURSOR_VERSION}")
        months = {
            str(month): (str(state[0]), int(state[1])) for month, state in data["months"].items()
        }
        return months, str(data.get("skipped", ""))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise CursorError(
            f"the sensor cursor is not one this sensor wrote ({exc}); `dagster sensor cursor "
            "statement_file_sensor --delete` resets it (every month is then imported again)"
        ) from exc


def render_cursor(months: dict[str, tuple[str, int]], skipped_digest: str) -> str:
    """The cursor as compact JSON (a few dozen bytes per month)."""
    return json.dumps(
        {
            "v": CURSOR_VERSION,
            "months": {m: [d, g] for m, (d, g) in sorted(months.items())},
            "skipped": skipped_digest,
        },
        separators=(",", ":"),
    )


def plan_tick(
    listing: PrefixListing,
    cursor: str | None,
    accepts_month: Callable[[str], bool],
) -> TickPlan:
    """Compare the listing with the cursor: one change per month whose versions differ.

    A month `accepts_month` refuses (outside the partitions) is neither requested nor
    recorded, so it is picked up by the first tick after its partition exists. A month whose
    files are all gone keeps its generation with an empty digest: there is nothing to import.
    """
    seen, skipped_before = parse_cursor(cursor)
    state = dict(seen)
    plan = TickPlan(changes=[], cursor="")
    for month, (digest, files) in listing.months.items():
        if not accepts_month(month):
            plan.outside_partitions.append(month)
            continue
        before = seen.get(month)
        if before is not None and before[0] == digest:
            continue
        generation = (before[1] if before else 0) + 1
        state[month] = (digest, generation)
        plan.changes.append(MonthChange(month, digest, generation, files, before is None))
    for month, (digest, generation) in seen.items():
        if digest and month not in listing.months:
            state[month] = ("", generation)
            plan.emptied.append(month)
    # What the tick reports but does not import; its digest lets the log name it only on change.
    skipped = VersionSet()
    if listing.ignored_digest:
        skipped.add("ignored keys", listing.ignored_digest)
    for month in plan.outside_partitions:
        skipped.add(month, listing.months[month][0])
    skipped_digest = skipped.digest() if skipped.count else ""
    plan.skipped_changed = skipped_digest != skipped_before
    plan.cursor = render_cursor(state, skipped_digest)
    return plan
