"""No account id or amount of the input appears in what a run prints or records about itself."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from statement_harness.scenarios import (
    put_files,
    queue_urls,
    run_cli,
    run_in_process,
    setup_aws,
)
from statement_pipeline.aws import clients
from statement_pipeline.rules.csv_records import COLUMNS, MONEY_COLUMNS
from statement_samples import bad_rows_corpus, generate_rows, render_csv

MONTH = "2025-05"
BROKEN_MONTH = "2025-06"
ACCOUNT = COLUMNS.index("account_id")
AMOUNTS = [COLUMNS.index(c) for c in MONEY_COLUMNS]


def secrets_of(rows: Iterable[Sequence[str] | str]) -> set[str]:
    """Account ids and amounts of rows: values a log line must never carry."""
    found: set[str] = set()
    for row in rows:
        if isinstance(row, str):
            found.update(part for part in row.split(",") if part.startswith("ACC"))
            continue
        if len(row) != len(COLUMNS):
            continue
        found.add(row[ACCOUNT])
        # Short amounts ("0.00", "5") also occur in timings and counts, and words such as
        # "Infinity" in reasons; distinctive numbers do not.
        found.update(
            row[i] for i in AMOUNTS if len(row[i].lstrip("-")) >= 7 and row[i][-1].isdigit()
        )
    found.discard("")
    return {value.strip() for value in found if len(value.strip()) >= 5}


def leaks(text: str, secrets: Iterable[str]) -> list[str]:
    """Secrets found in `text` as whole values (not as part of a longer number or id)."""
    return [
        s
        for s in secrets
        if s in text
        and re.search(rf"(?<![0-9A-Za-z.\-]){re.escape(s)}(?![0-9A-Za-z])", text) is not None
    ]


def run_record_files(home: Path) -> list[Path]:
    """Everything the runs left in DAGSTER_HOME: event log, compute logs, stored op outputs."""
    return [path for path in home.rglob("*") if path.is_file()]


def test_run_full_of_bad_rows_prints_and_records_no_row_values(
    moto_endpoint: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    setup_aws()
    valid = list(generate_rows(MONTH, 300, seed=21))
    corpus = [row for _, row in bad_rows_corpus(MONTH)]
    conflicting = (*valid[7][:4], "CHF" if valid[7][4] != "CHF" else "SEK", *valid[7][5:])
    rows: list[Sequence[str] | str] = [*valid[:150], *corpus, conflicting, *valid[150:]]
    put_files(MONTH, [("part-1.csv", render_csv(COLUMNS, rows))])
    # A file that breaks the month in the middle of a row: the error must not quote it.
    broken = list(generate_rows(BROKEN_MONTH, 20, seed=22))
    content = render_csv(COLUMNS, broken)
    cut = content.index(broken[10][ACCOUNT].encode())
    put_files(BROKEN_MONTH, [("part-1.csv", content[:cut] + b"\xc3\x28" + content[cut:])])
    # A foreign message whose record is invalid: it goes to the DLQ with its reason.
    queue, _ = queue_urls()
    clients.client("sqs").send_message(
        QueueUrl=queue,
        MessageBody=(
            '{"format":"statement-records","v":1,"period":"' + MONTH + '","source_key":"x.csv",'
            '"source_etag":"e","records":[[2,"S-1","ACC-987654","' + MONTH + '","2025-05-31",'
            '"eur","1234567.89","0.00","0.00","1234567.89","0"]]}'
        ),
    )
    secrets = secrets_of([*rows, *broken]) | {"ACC-987654", "1234567.89"}

    home = tmp_path / "dagster"
    ok = run_cli(MONTH, home)
    capfd.readouterr()
    failed = run_in_process(BROKEN_MONTH, home)
    captured = capfd.readouterr()

    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "RUN_SUCCESS" in ok.stdout + ok.stderr
    assert not failed.success
    assert failed.failure is not None
    assert f"{BROKEN_MONTH}/part-1.csv: not UTF-8" in failed.failure
    failed_output = captured.out + captured.err
    assert "not UTF-8" in failed_output
    # The scan covers the bad rows' values: the corpus has plenty of them.
    assert len(secrets) > 300
    for name, text in (
        ("output of dagster asset materialize", ok.stdout + ok.stderr),
        ("output of the failed run", failed_output),
        ("failure of the failed run", failed.failure),
    ):
        assert leaks(text, secrets) == [], name
    records = run_record_files(home)
    assert any(p.suffix == ".db" for p in records)
    assert any(p.parent.name == "result" for p in records)
    for path in records:
        text = path.read_bytes().decode("utf-8", "replace")
        assert leaks(text, secrets) == [], path.name
