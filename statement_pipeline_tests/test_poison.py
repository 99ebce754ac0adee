"""Messages that can never be loaded go to the DLQ in the run that meets them, with a reason."""

from __future__ import annotations

import json
from pathlib import Path

from statement_harness.scenarios import (
    NAMES,
    assert_month_exact,
    drain_messages,
    put_files,
    queue_depth,
    queue_urls,
    run_in_process,
    setup_aws,
)
from statement_pipeline.aws import clients
from statement_pipeline.cli.job_runner import loader_totals
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.messages import RecordBatch, encode
from statement_samples import generate_rows, render_csv

MONTH = "2025-09"


def test_poison_messages_are_moved_to_the_dlq_counted_and_never_block_the_run(
    moto_endpoint: str, tmp_path: Path
) -> None:
    setup_aws()
    rows = list(generate_rows(MONTH, 200, seed=41))
    put_files(MONTH, [("part-1.csv", render_csv(COLUMNS, rows))])
    foreign = list(generate_rows(MONTH, 2, seed=42, start=5000))
    invalid = (*foreign[0][:4], "eur", *foreign[0][5:])
    poison = {
        "body is not JSON": "hello, not a batch",
        "not a statement-records message": json.dumps({"format": "orders", "v": 1}),
        "currency: not an ISO 4217 code": encode(
            RecordBatch(MONTH, f"{NAMES.prefix}{MONTH}/part-1.csv", '"e"', ((2, invalid),))
        ),
    }
    # Valid records of a file version that does not exist (any more): skipped, not loaded.
    superseded = encode(
        RecordBatch(MONTH, f"{NAMES.prefix}{MONTH}/gone.csv", '"e"', ((2, foreign[1]),))
    )
    queue, dlq = queue_urls()
    sqs = clients.client("sqs")
    for body in [*poison.values(), superseded]:
        sqs.send_message(QueueUrl=queue, MessageBody=body)

    report = run_in_process(MONTH, tmp_path / "dagster")

    assert report.success, report.failure
    assert_month_exact(MONTH, rows)
    loaded = report.materializations["loaded_statements"]
    loaders = loader_totals(loaded)
    assert (loaders["poison"], loaders["superseded"]) == (3, 1)
    drained = next(c for c in report.checks if c.name == "queue_drained")
    assert drained.metadata["poison_moved_this_run"] == 3
    assert drained.metadata["dlq_messages"] == 3
    # One of them claims to be a batch of this month: the check flags it for an operator.
    assert drained.metadata["dlq_messages_of_month"] == 1
    assert not drained.passed
    assert next(c for c in report.checks if c.name == "table_count_matches_valid_rows").passed

    assert queue_depth(queue) == 0
    parked = drain_messages(dlq)
    by_body = {m["Body"]: m["MessageAttributes"] for m in parked}
    assert sorted(by_body) == sorted(poison.values())
    for reason, body in poison.items():
        assert reason in by_body[body]["failure_reason"]["StringValue"]
        assert by_body[body]["source_message_id"]["StringValue"]
