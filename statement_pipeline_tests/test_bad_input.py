"""Bad rows, bad files and duplicate statement ids, imported end to end against a moto server."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from statement_harness.scenarios import (
    NAMES,
    assert_month_exact,
    month_items,
    put_files,
    queue_depth,
    queue_urls,
    run_in_process,
    setup_aws,
)
from statement_pipeline.aws import clients
from statement_pipeline.cli.job_runner import RunReport
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.items import to_item
from statement_samples import bad_rows_corpus, generate_rows, render_csv

MONTH = "2025-03"
KEY = f"{NAMES.prefix}{MONTH}/"
REJECTS = f"rejects/{MONTH}/"


@pytest.fixture
def aws_ready(moto_endpoint: str) -> str:
    setup_aws()
    return moto_endpoint


def check(report: RunReport, name: str) -> Any:
    (outcome,) = [c for c in report.checks if c.name == name]
    return outcome


def rejects_objects() -> dict[str, list[list[str]]]:
    """Every rejects object of the month, parsed."""
    s3 = clients.client("s3")
    listed = s3.list_objects_v2(Bucket=NAMES.bucket, Prefix=REJECTS).get("Contents", [])
    out = {}
    for obj in listed:
        body = s3.get_object(Bucket=NAMES.bucket, Key=obj["Key"])["Body"].read().decode()
        out[obj["Key"]] = list(csv.reader(io.StringIO(body, newline="")))
    return out


def fields_of(row: Sequence[str] | str) -> list[str]:
    """The fields of a row as written to the file."""
    return next(csv.reader([row])) if isinstance(row, str) else list(row)


def test_bad_rows_are_rejected_reported_and_the_valid_ones_load_exactly(
    aws_ready: str, tmp_path: Path
) -> None:
    corpus = bad_rows_corpus(MONTH)
    valid = list(generate_rows(MONTH, 1_250, seed=3))
    # Bad rows interleaved with valid ones in the first file; the second file is clean.
    first: list[Sequence[str] | str] = []
    bad_lines: dict[int, tuple[str, Sequence[str] | str]] = {}
    good = iter(valid[:900])
    for keyword, row in corpus:
        first.extend(next(good) for _ in range(14))
        bad_lines[len(first) + 2] = (keyword, row)
        first.append(row)
    first.extend(good)
    put_files(
        MONTH,
        [
            ("part-1.csv", render_csv(COLUMNS, first)),
            ("part-2.csv", render_csv(COLUMNS, valid[900:])),
        ],
    )
    # A rejects object left by an earlier import of the month no longer applies.
    clients.client("s3").put_object(Bucket=NAMES.bucket, Key=f"{REJECTS}old.rejects.csv", Body=b"x")

    report = run_in_process(MONTH, tmp_path / "dagster")

    assert report.success, report.failure
    assert_month_exact(MONTH, valid)
    rows = len(valid) + len(corpus)
    sched = report.materializations["scheduled_statements"]
    assert (sched["rows"], sched["valid"], sched["rejected"]) == (rows, len(valid), len(corpus))

    objects = rejects_objects()
    assert list(objects) == [f"{REJECTS}part-1.rejects.csv"]
    header, *lines = objects[f"{REJECTS}part-1.rejects.csv"]
    assert header == ["file", "line", "reason", *COLUMNS]
    assert [int(line[1]) for line in lines] == sorted(bad_lines)
    for line in lines:
        keyword, row = bad_lines[int(line[1])]
        assert line[0] == f"{KEY}part-1.csv"
        assert keyword in line[2], (line[1], line[2])
        assert line[3:] == fields_of(row), line[1]

    # Rejects at a glance: a link to the rejects object (on the emulator, the object itself)
    # beside its s3:// URL, and the reasons with their counts, the same in the scheduling
    # metadata and in the WARN check.
    reasons = Counter(line[2] for line in lines)
    s3_url = f"s3://{NAMES.bucket}/{REJECTS}part-1.rejects.csv"
    warn = check(report, "no_rejected_rows")
    assert (warn.passed, warn.severity, warn.metadata["actual"]) == (False, "WARN", len(corpus))
    for metadata in (sched, warn.metadata):
        table = metadata["reject_reasons"]
        assert {r["reason"]: r["rows"] for r in table} == reasons
        assert [r["rows"] for r in table] == sorted(reasons.values(), reverse=True)
        link = metadata[f"rejects_object[{KEY}part-1.csv]"]
        assert link.startswith(f"{aws_ready}/{NAMES.bucket}/{REJECTS}part-1.rejects.csv?")
        assert metadata["rejects_objects"] == [
            {"file": f"{KEY}part-1.csv", "rejects_object": s3_url, "link": link}
        ]
        assert not any(k.startswith("rejects_object[") and "part-2" in k for k in metadata)
    rate = check(report, "reject_rate_below_limit")
    # 61 of 1,311 rows is 4.65%: below the default limit of 5%.
    assert (rate.passed, rate.severity) == (True, "ERROR")
    assert rate.metadata["rejected"] == len(corpus)
    assert check(report, "table_count_matches_valid_rows").passed
    assert check(report, "queue_drained").passed

    # The same month again with a stricter limit: the ERROR check fails, the data stays exact.
    strict = {"ops": {"statement_checks": {"config": {"max_reject_rate": 0.04}}}}
    again = run_in_process(MONTH, tmp_path / "dagster", strict)
    assert again.success, again.failure
    rate = check(again, "reject_rate_below_limit")
    assert (rate.passed, rate.severity) == (False, "ERROR")
    assert rate.metadata["actual"] == round(len(corpus) / rows, 6)
    assert rate.metadata["expected_at_most"] == 0.04
    assert_month_exact(MONTH, valid)
    assert list(rejects_objects()) == [f"{REJECTS}part-1.rejects.csv"]


GOOD_ROWS = list(generate_rows(MONTH, 40, seed=5))
GOOD_FILE = render_csv(COLUMNS, GOOD_ROWS)
BAD_FILE_ROWS = list(generate_rows(MONTH, 5, seed=5, start=1000))


def _not_utf8() -> bytes:
    lines = render_csv(COLUMNS, BAD_FILE_ROWS).split(b"\n")
    lines[3] = lines[3].replace(b"ACC-", b"ACC\xff")
    return b"\n".join(lines)


FILE_PROBLEMS = {
    "not-utf8": (_not_utf8(), "not UTF-8"),
    "missing-column": (
        render_csv(
            [c for c in COLUMNS if c != "currency"],
            [
                [v for c, v in zip(COLUMNS, r, strict=True) if c != "currency"]
                for r in BAD_FILE_ROWS
            ],
        ),
        "missing required column(s): currency",
    ),
    "no-header": (render_csv(BAD_FILE_ROWS[0], BAD_FILE_ROWS[1:]), "missing required column(s)"),
    "only-blank-lines": (b"\n\n  \n", "no header row"),
    "empty-object": (b"", "empty"),
    "open-quote-at-end": (
        render_csv(COLUMNS, BAD_FILE_ROWS) + f'{BAD_FILE_ROWS[0][0]}x,ACC-1,"{MONTH}'.encode(),
        "quoted field left open at end of file",
    ),
}


@pytest.mark.parametrize("problem", sorted(FILE_PROBLEMS))
def test_unreadable_file_fails_the_month_before_anything_is_enqueued(
    aws_ready: str, tmp_path: Path, problem: str
) -> None:
    content, message = FILE_PROBLEMS[problem]
    # What an earlier import left: items of the month and its rejects object.
    earlier = list(generate_rows(MONTH, 3, seed=9, start=500))
    ddb = clients.client("dynamodb")
    for line, row in enumerate(earlier, start=2):
        item = to_item(row, source_key=f"{KEY}old.csv", source_etag='"e"', line=line, loaded_at="t")
        ddb.put_item(TableName=NAMES.table, Item=item)
    s3 = clients.client("s3")
    s3.put_object(Bucket=NAMES.bucket, Key=f"{REJECTS}a-good.rejects.csv", Body=b"earlier")
    before = sorted(month_items(MONTH), key=lambda i: i["statement_id"]["S"])
    # The good file sorts first: nothing of it may be enqueued either.
    put_files(MONTH, [("a-good.csv", GOOD_FILE), ("b-bad.csv", content)])

    report = run_in_process(MONTH, tmp_path / "dagster")

    assert not report.success
    assert report.failure is not None
    assert f"{KEY}b-bad.csv" in report.failure
    assert message in report.failure
    queue, dlq = queue_urls()
    assert (queue_depth(queue), queue_depth(dlq)) == (0, 0)
    assert sorted(month_items(MONTH), key=lambda i: i["statement_id"]["S"]) == before
    assert list(rejects_objects()) == [f"{REJECTS}a-good.rejects.csv"]
    assert "loaded_statements" not in report.materializations


def _changed(row: tuple[str, ...]) -> tuple[str, ...]:
    """Another valid version of a row: another currency."""
    currency = COLUMNS.index("currency")
    return (*row[:currency], "SEK" if row[currency] != "SEK" else "NOK", *row[currency + 1 :])


def test_duplicate_ids_load_once_and_conflicting_ones_are_all_rejected(
    aws_ready: str, tmp_path: Path
) -> None:
    rows = list(generate_rows(MONTH, 100, seed=11))
    put_files(MONTH, [("part-1.csv", render_csv(COLUMNS, rows))])
    first = run_in_process(MONTH, tmp_path / "dagster")
    assert first.success, first.failure
    assert_month_exact(MONTH, rows)

    # A second file arrives: an identical repeat within part-1 and one across files load
    # once; two ids get rows with different content, so every copy of them is rejected.
    conflicted = {rows[20][0], rows[30][0]}
    part1 = [*rows, rows[5]]
    # A malformed row next to conflicting ones: its fields are unknown, its line is reported.
    part2 = [rows[10], _changed(rows[20]), rows[30], _changed(rows[30]), '"STM-9"x,ACC-1']
    put_files(
        MONTH,
        [("part-1.csv", render_csv(COLUMNS, part1)), ("part-2.csv", render_csv(COLUMNS, part2))],
    )
    report = run_in_process(MONTH, tmp_path / "dagster")

    assert report.success, report.failure
    # The conflicting ids loaded by the first import are gone too: no last writer wins.
    assert_month_exact(MONTH, [r for r in rows if r[0] not in conflicted])
    sched = report.materializations["scheduled_statements"]
    assert (sched["duplicates"], sched["conflicting_ids"], sched["rejected"]) == (2, 2, 6)
    assert sched["valid"] == 98
    objects = rejects_objects()
    assert sorted(objects) == [f"{REJECTS}part-1.rejects.csv", f"{REJECTS}part-2.rejects.csv"]
    expected = {
        "part-1": [(22, rows[20]), (32, rows[30])],
        "part-2": [(3, _changed(rows[20])), (4, rows[30]), (5, _changed(rows[30])), (6, ())],
    }
    for name, wanted in expected.items():
        _, *lines = objects[f"{REJECTS}{name}.rejects.csv"]
        assert [(int(line[1]), tuple(line[3:])) for line in lines] == wanted
        reasons = [line[2] for line in lines if line[0] == f"{KEY}{name}.csv"]
        assert len(reasons) == len(wanted)
        assert all("statement_id repeated with different content" in r for r in reasons[:3])
    assert (
        objects[f"{REJECTS}part-2.rejects.csv"][-1][2]
        == "malformed CSV: text after a closing quote"
    )
    assert check(report, "table_count_matches_valid_rows").passed
    assert check(report, "queue_drained").passed
