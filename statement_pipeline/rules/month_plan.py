"""Planning a month's import: per-file scans, then duplicate resolution across the whole month."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from statement_pipeline.rules.csv_records import Record, Reject, StatementReader


@dataclass(frozen=True)
class FileRef:
    """One version of one statement file."""

    key: str
    etag: str
    size: int


def fingerprint(values: Sequence[str]) -> int:
    """A 64-bit digest of a row's values: equal rows, equal digests."""
    digest = hashlib.blake2b("\x1f".join(values).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def id_digest(statement_id: str) -> int:
    """A 64-bit digest of a statement id: what plans and stored outputs keep instead of it.

    Two of a month's ids share a digest with a chance of about n^2 / 2^65 (1e-9 for 233,000).
    """
    digest = hashlib.blake2b(statement_id.encode(), digest_size=8, person=b"statement-id")
    return int.from_bytes(digest.digest(), "big")


@dataclass
class FileScan:
    """What validating one file found: digests, counts and line numbers, never row values.

    Scans travel between ops through Dagster's IO manager (pickled to storage), so even the
    statement ids are kept as digests; packed in arrays (20 bytes a row), a month of 233,000
    statements takes under 5 MB instead of tuples of objects.
    """

    ref: FileRef
    header: list[str]
    extra_columns: list[str]
    rows: int
    rejects: list[Reject]
    # Per valid row, in file order: its id digest, row fingerprint and line.
    ids: array[int] = field(default_factory=lambda: array("Q"))
    fingerprints: array[int] = field(default_factory=lambda: array("Q"))
    lines: array[int] = field(default_factory=lambda: array("L"))

    @property
    def valid(self) -> Iterator[tuple[int, int, int]]:
        """(id digest, row fingerprint, line) of each valid row, in file order."""
        return zip(self.ids, self.fingerprints, self.lines, strict=True)

    @property
    def valid_count(self) -> int:
        return len(self.lines)


def scan_file(ref: FileRef, stream: BinaryIO, period: str) -> FileScan:
    """Validate a whole file (FileFormatError propagates: the month must stop)."""
    reader = StatementReader(stream, ref.key, period)
    scan = FileScan(ref, [], [], 0, [])
    for row in reader:
        scan.rows += 1
        if isinstance(row, Reject):
            # The rejects object re-reads the rejected rows' fields: the scan keeps none.
            scan.rejects.append(Reject(row.line, row.reason, ()))
        else:
            scan.ids.append(id_digest(row.values[0]))
            scan.fingerprints.append(fingerprint(row.values))
            scan.lines.append(row.line)
    scan.header = list(reader.header)
    scan.extra_columns = list(reader.extra_columns)
    return scan


@dataclass(frozen=True)
class Duplicate:
    """An identical repeat of a row seen earlier in the month: loaded once, reported."""

    key: str
    line: int
    first_key: str
    first_line: int


@dataclass
class FilePlan:
    """Which lines of a file to enqueue: every valid line not excluded."""

    ref: FileRef
    excluded_lines: frozenset[int]
    expected: int


@dataclass
class MonthPlan:
    period: str
    files: list[FilePlan]
    rows: int
    rejects: dict[str, list[Reject]]
    duplicates: list[Duplicate]
    # Digests (`id_digest`) of statement ids whose rows conflict: all of their rows rejected.
    conflict_digests: list[int]
    expected: int
    headers: dict[str, list[str]] = field(default_factory=dict)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    # Input file key -> URL of the rejects object written for it (set once it is written).
    rejects_urls: dict[str, str] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(len(r) for r in self.rejects.values())

    @property
    def reject_reasons(self) -> dict[str, int]:
        """Rejected rows per reason, most frequent first (reasons name rules, never values)."""
        counts = Counter(r.reason for rejects in self.rejects.values() for r in rejects)
        return dict(counts.most_common())

    @property
    def sources(self) -> dict[str, str]:
        return {f.ref.key: f.ref.etag for f in self.files}


def repeated_ids(scans: Iterable[FileScan]) -> set[int]:
    """The id digests that occur on more than one valid row of the month.

    Sorting one list of the month's digests (about 40 bytes a row while it lasts) finds them
    without a dict of every row.
    """
    ids = sorted(itertools.chain.from_iterable(scan.ids for scan in scans))
    return {a for a, b in itertools.pairwise(ids) if a == b}


def plan_month(period: str, scans: Iterable[FileScan]) -> MonthPlan:
    """Resolve duplicate statement_ids across all files of the month.

    Identical rows load once (the first in key and line order) and are reported; rows that
    share an id with different content are all rejected, never settled by the last write.
    """
    ordered = sorted(scans, key=lambda s: s.ref.key)
    repeated = repeated_ids(ordered)
    # Only ids seen more than once need their first row remembered: a month of distinct ids
    # (the usual case) is planned without a table of its rows (46 MB for 233,000 of them).
    first: dict[int, tuple[int, str, int]] = {}
    conflicted: set[int] = set()
    for scan in ordered:
        for sid, digest, line in scan.valid:
            if sid not in repeated:
                continue
            seen = first.get(sid)
            if seen is None:
                first[sid] = (digest, scan.ref.key, line)
            elif seen[0] != digest:
                conflicted.add(sid)

    rejects: dict[str, list[Reject]] = {s.ref.key: list(s.rejects) for s in ordered}
    duplicates: list[Duplicate] = []
    files: list[FilePlan] = []
    lines_of: dict[int, list[tuple[str, int]]] = {}
    for scan in ordered:
        for sid, _, line in scan.valid:
            if sid in conflicted:
                lines_of.setdefault(sid, []).append((scan.ref.key, line))
    for scan in ordered:
        excluded: set[int] = set()
        conflicts: list[Reject] = []
        for sid, _digest, line in scan.valid:
            if sid in conflicted:
                excluded.add(line)
                others = [f"{k}:{ln}" for k, ln in lines_of[sid] if (k, ln) != (scan.ref.key, line)]
                conflicts.append(
                    Reject(
                        line,
                        "statement_id repeated with different content (also at "
                        + ", ".join(others[:5])
                        + (", ..." if len(others) > 5 else "")
                        + "); all copies rejected",
                        (),
                    )
                )
                continue
            if sid not in repeated:
                continue
            _, first_key, first_line = first[sid]
            if (first_key, first_line) != (scan.ref.key, line):
                excluded.add(line)
                duplicates.append(Duplicate(scan.ref.key, line, first_key, first_line))
        if conflicts:
            rejects[scan.ref.key] = sorted(rejects[scan.ref.key] + conflicts, key=lambda r: r.line)
        files.append(FilePlan(scan.ref, frozenset(excluded), scan.valid_count - len(excluded)))
    return MonthPlan(
        period=period,
        files=files,
        rows=sum(s.rows for s in ordered),
        rejects={k: v for k, v in rejects.items() if v},
        duplicates=duplicates,
        conflict_digests=sorted(conflicted),
        expected=sum(f.expected for f in files),
        headers={s.ref.key: s.header for s in ordered},
        extra_columns={s.ref.key: s.extra_columns for s in ordered if s.extra_columns},
    )


def planned_records(
    plan: FilePlan, stream: BinaryIO, period: str
) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Re-read a file and yield the (line, values) the plan says to load."""
    for row in StatementReader(stream, plan.ref.key, period):
        if isinstance(row, Record) and row.line not in plan.excluded_lines:
            yield row.line, row.values


def render_rejects(key: str, header: Sequence[str], rejects: Sequence[Reject]) -> bytes:
    """The rejects object of one file: file, line, reason, then the row's fields as read."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["file", "line", "reason", *header])
    for rej in rejects:
        writer.writerow([key, rej.line, rej.reason, *rej.raw])
    return buf.getvalue().encode()


def stale_items(plan: MonthPlan, stored: Mapping[tuple[str, str], int]) -> int:
    """Stored items whose file version is no longer one of the month's current files."""
    sources = plan.sources
    return sum(n for (key, etag), n in stored.items() if sources.get(key) != etag)


@dataclass(frozen=True)
class FileFigures:
    """One file of the month and what became of its rows (counts only, never values)."""

    key: str
    bytes: int
    rows: int
    loaded: int
    rejected: int
    duplicates: int

    @property
    def nothing_to_load(self) -> str:
        """Why no row of this file is loaded, in words, with the counts."""
        if self.rows == 0:
            return "nothing to load: the file has no data rows"
        if self.rejected == self.rows:
            return f"nothing to load: all {self.rows} rows rejected"
        if self.duplicates == self.rows:
            return f"nothing to load: all {self.rows} rows repeat rows loaded from other lines"
        return (
            f"nothing to load: {self.rejected} rows rejected, {self.duplicates} repeat rows "
            "loaded from other lines"
        )


def file_figures(plan: MonthPlan) -> list[FileFigures]:
    """Each file's rows: loaded, rejected (conflicting ids included) and identical repeats."""
    repeats = Counter(d.key for d in plan.duplicates)
    figures = []
    for file_plan in plan.files:
        key = file_plan.ref.key
        rejected = len(plan.rejects.get(key, ()))
        figures.append(
            FileFigures(
                key=key,
                bytes=file_plan.ref.size,
                # Every data row is loaded, rejected or an identical repeat of a loaded row.
                rows=file_plan.expected + rejected + repeats[key],
                loaded=file_plan.expected,
                rejected=rejected,
                duplicates=repeats[key],
            )
        )
    return figures


@dataclass(frozen=True)
class FileDecision:
    """Whether an import writes a file's rows, and why (counts and reasons, never values)."""

    key: str
    write: bool
    rows: int
    stored: int
    reason: str


def decide_writes(
    plan: MonthPlan, stored: Mapping[tuple[str, str], int], *, full_reimport: bool = False
) -> list[FileDecision]:
    """Which files the table does not already hold as current.

    `stored` counts the month's items per (source key, source ETag), leaving out statements
    whose ids now conflict (the import removes those). A file version is current only when
    that count equals the rows the plan loads from it: proven by the table, not assumed from
    an earlier run. Otherwise (new, changed, an item missing or deleted by hand) all of its
    planned rows are written again; writes are idempotent puts.
    """
    stored_keys = {key for key, _ in stored}
    figures = {f.key: f for f in file_figures(plan)}
    decisions = []
    for file_plan in plan.files:
        key, etag = file_plan.ref.key, file_plan.ref.etag
        count = stored.get((key, etag), 0)
        rows = file_plan.expected
        if rows == 0:
            # Not "current": nothing of it was ever to be stored, and the reason is the rows.
            decisions.append(FileDecision(key, False, 0, count, figures[key].nothing_to_load))
        elif full_reimport:
            decisions.append(FileDecision(key, True, rows, count, "full_reimport requested"))
        elif count == rows:
            reason = f"current: all {rows} rows already stored from this version"
            decisions.append(FileDecision(key, False, rows, count, reason))
        elif count == 0:
            reason = "changed since it was loaded" if key in stored_keys else "new file"
            decisions.append(FileDecision(key, True, rows, count, reason))
        else:
            reason = f"{count} of {rows} rows stored from this version"
            decisions.append(FileDecision(key, True, rows, count, reason))
    return decisions
