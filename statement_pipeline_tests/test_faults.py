"""AWS faults injected on the wire (a proxy in front of moto): every month still ends exact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from statement_harness.faultproxy import (
    FaultProxy,
    failed_entries,
    server_error,
    throttle,
    unprocessed,
)
from statement_harness.scenarios import (
    assert_month_exact,
    merge,
    put_files,
    queue_depth,
    queue_urls,
    replay_queue,
    run_cli,
    run_in_process,
    setup_aws,
)
from statement_pipeline.cli.job_runner import RunReport, loader_totals, tuning_run_config
from statement_pipeline.rules.csv_records import COLUMNS
from statement_samples import generate_rows, render_csv, write_month

MONTH = "2025-11"
ROWS = list(generate_rows(MONTH, 300, seed=51))
# Small messages: many SendMessageBatch, ReceiveMessage, BatchWriteItem and delete calls.
SMALL_MESSAGES = tuning_run_config(records_per_message=20)


@pytest.fixture
def proxy(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """The month's files in S3, and every AWS call of the test going through the proxy."""
    with FaultProxy(moto_endpoint, seed=5) as fault_proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.endpoint)
        setup_aws()
        put_files(
            MONTH,
            [
                (f"part-{n + 1}.csv", render_csv(COLUMNS, ROWS[n * 100 : (n + 1) * 100]))
                for n in range(3)
            ],
        )
        yield fault_proxy


def assert_exact_and_drained(proxy: FaultProxy, report: RunReport) -> None:
    assert report.success, report.failure
    proxy.clear()
    assert_month_exact(MONTH, ROWS)
    queue, dlq = queue_urls()
    assert (queue_depth(queue), queue_depth(dlq)) == (0, 0)
    assert report.checks
    assert all(c.passed for c in report.checks if c.name != "no_rejected_rows")


def test_whole_batches_throttled_are_carried_by_the_write_budget(
    proxy: FaultProxy, tmp_path: Path
) -> None:
    # One loader writes; its first write is refused whole 6 times in a row, with both
    # throttling errors. BatchWriteItem makes one attempt per call (botocore does not retry
    # it), so each refusal reaches the writer, which slows down and sends the batch again.
    first = throttle("BatchWriteItem", "ProvisionedThroughputExceededException", times=3)
    later = throttle("BatchWriteItem", "ThrottlingException", times=3)
    proxy.add(first, later)

    report = run_in_process(
        MONTH, tmp_path / "dagster", merge(SMALL_MESSAGES, tuning_run_config(loaders=1))
    )

    assert (first.hits, later.hits) == (3, 3)
    loaded = report.materializations["loaded_statements"]
    assert loader_totals(loaded)["throttled_calls"] == 6
    # Each refused batch left its items one attempt more, which the month's figures count.
    assert loaded["throttled_writes"] >= 6
    assert_exact_and_drained(proxy, report)


def test_unprocessed_items_and_partial_sqs_batches(proxy: FaultProxy, tmp_path: Path) -> None:
    # Half of the requests of the first 8 writes and half of the entries of the first sends
    # and deletes fail; the pipeline retries exactly those.
    writes = unprocessed(share=0.5, times=8)
    sends = failed_entries("SendMessageBatch", share=0.5, times=2)
    deletes = failed_entries("DeleteMessageBatch", share=0.5, times=1)
    proxy.add(writes, sends, deletes)

    report = run_in_process(MONTH, tmp_path / "dagster", SMALL_MESSAGES)

    assert (writes.hits, sends.hits, deletes.hits) == (8, 2, 1)
    loaded = report.materializations["loaded_statements"]
    assert loader_totals(loaded)["throttled_calls"] >= writes.hits
    assert loaded["throttled_writes"] >= writes.hits
    assert_exact_and_drained(proxy, report)


def test_sqs_and_s3_server_errors(proxy: FaultProxy, tmp_path: Path) -> None:
    # The first send fails 6 times: botocore gives up after 5, the scheduler retries on.
    send = server_error("sqs", "SendMessageBatch", status=500, times=6)
    proxy.add(
        send,
        server_error("sqs", "ReceiveMessage", status=503, code="ServiceUnavailable", fraction=0.3),
        server_error("sqs", "DeleteMessageBatch", status=500, fraction=0.3),
        server_error("sqs", "GetQueueAttributes", status=500, fraction=0.3),
        server_error("s3", method="GET", path=r"\.csv$", status=503, code="SlowDown", times=4),
        server_error("s3", method="HEAD", status=500, code="InternalError", times=2),
    )

    report = run_in_process(MONTH, tmp_path / "dagster", SMALL_MESSAGES)

    assert send.hits == 6
    assert sum(proxy.injected.values()) > 12
    assert_exact_and_drained(proxy, report)


def test_errors_on_every_kind_of_call_are_retried_by_the_one_retry_policy(
    proxy: FaultProxy, tmp_path: Path
) -> None:
    # Each kind of call the pipeline makes fails three times before it works: botocore's
    # standard retries, configured once for every client, carry each (4 attempts here).
    four_attempts = {"config": {"max_attempts": 4}}
    config = merge(
        SMALL_MESSAGES,
        {
            "resources": {
                name: four_attempts for name in ("s3", "statement_queue", "statement_table")
            }
        },
    )
    faults = [
        server_error("sqs", operation, status=500, times=3)
        for operation in (
            "GetQueueUrl",
            "SendMessageBatch",
            "ReceiveMessage",
            "DeleteMessageBatch",
            "GetQueueAttributes",
        )
    ]
    faults += [
        server_error("dynamodb", operation, status=500, code="InternalServerError", times=3)
        for operation in ("DescribeTable", "Query", "BatchWriteItem")
    ]
    faults += [
        server_error("s3", method="GET", path=r"\.csv$", status=503, code="SlowDown", times=3),
        server_error("s3", method="HEAD", status=500, times=3),
    ]
    proxy.add(*faults)

    report = run_in_process(MONTH, tmp_path / "dagster", config)

    assert [f.hits for f in faults] == [3] * len(faults)
    assert_exact_and_drained(proxy, report)


def test_deletes_that_keep_failing_are_redelivered_harmlessly(
    proxy: FaultProxy, tmp_path: Path
) -> None:
    # Entries failed as the sender's fault are not retried: those messages stay queued and
    # come back after the visibility timeout, to be written again (the same items) and deleted.
    deletes = failed_entries(
        "DeleteMessageBatch", share=0.5, times=2, code="ReceiptHandleIsInvalid", sender_fault=True
    )
    proxy.add(deletes)

    report = run_in_process(
        MONTH,
        tmp_path / "dagster",
        merge(SMALL_MESSAGES, tuning_run_config(visibility_timeout_seconds=10)),
    )

    assert deletes.hits == 2
    assert report.success, report.failure
    proxy.clear()
    assert_month_exact(MONTH, ROWS)
    # What the run could not delete comes back and is loaded again: nothing changes.
    queue, dlq = queue_urls()
    assert queue_depth(queue) <= 10
    replay_queue()
    assert_month_exact(MONTH, ROWS)
    assert (queue_depth(queue), queue_depth(dlq)) == (0, 0)


def test_every_fault_at_once_through_dagster_asset_materialize(
    proxy: FaultProxy, tmp_path: Path
) -> None:
    month = "2025-12"
    files = write_month(month, 400, 2, seed=52)
    put_files(month, files)
    proxy.add(
        unprocessed(share=0.4, fraction=0.5),
        throttle("BatchWriteItem", "ProvisionedThroughputExceededException", fraction=0.2),
        failed_entries("SendMessageBatch", fraction=0.5),
        failed_entries("DeleteMessageBatch", fraction=0.5),
        server_error("sqs", "ReceiveMessage", status=500, fraction=0.2),
        server_error("s3", method="GET", path=r"\.csv$", status=503, code="SlowDown", times=2),
    )

    done = run_cli(month, tmp_path / "dagster", SMALL_MESSAGES)

    assert done.returncode == 0, done.stderr[-3000:]
    assert sum(proxy.injected.values()) > 10
    proxy.clear()
    assert_month_exact(month, generate_rows(month, 400, seed=52))
    queue, dlq = queue_urls()
    assert (queue_depth(queue), queue_depth(dlq)) == (0, 0)
