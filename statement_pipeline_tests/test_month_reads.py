"""The month read once per import, counted on the wire through the DynamoDB capacity model.

Every Query the import sends goes through `CapacityProxy`, which logs each one with the items
it read (`ScannedCount`), its consistency and the units the model charged. "Read once" means
the month's items are read by one whole read: the scheduling read of a new month finds
nothing, the finish step reads every item, and the count check reuses that read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest

from statement_harness.capacity_proxy import CapacityProxy, ReadCall
from statement_harness.scenarios import assert_month_exact, put_files, run_in_process, setup_aws
from statement_pipeline.aws import clients
from statement_pipeline.aws.bootstrap import TableSettings
from statement_pipeline.aws.month_reads import MonthReader
from statement_pipeline.checks import CLOCK_MARGIN_SECONDS, other_runs_since
from statement_pipeline.cli.job_runner import RunReport, run_import
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.items import to_item
from statement_pipeline.rules.read_budget import ReadBudget
from statement_samples import generate_rows, render_csv

MONTH = "2026-06"
ROWS = 300
SHARDS = 32
ROOMY = TableSettings("PROVISIONED", 1_000, 1_000)


@pytest.fixture
def proxy(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CapacityProxy]:
    """DynamoDB through the capacity model, uncompressed, on a table that never throttles."""
    with CapacityProxy(moto_endpoint) as capacity_proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", capacity_proxy.endpoint)
        setup_aws(ROOMY)
        yield capacity_proxy


def _queries(proxy: CapacityProxy) -> list[ReadCall]:
    return [r for r in proxy.reads if r.operation == "Query"]


def _count_check(report: RunReport) -> dict[str, Any]:
    (check,) = [c for c in report.checks if c.name == "table_count_matches_valid_rows"]
    assert check.passed, check.description
    return check.metadata


def _import(home: Path) -> RunReport:
    report = run_in_process(MONTH, home)
    assert report.success, report.failure
    assert report.all_checks_passed, report.checks
    return report


def test_a_new_month_is_read_once_and_the_count_check_reuses_that_read(
    proxy: CapacityProxy, tmp_path: Path
) -> None:
    rows = list(generate_rows(MONTH, ROWS, seed=11))
    put_files(MONTH, [("a.csv", render_csv(COLUMNS, rows))])
    proxy.reset_stats()

    report = _import(tmp_path / "dagster")

    assert_month_exact(MONTH, rows)
    queries = _queries(proxy)
    # Every item of the month read once, strongly consistent, by the finish step; the
    # scheduling read of the new month found its 32 shards empty; the check read nothing.
    assert sum(q.scanned for q in queries) == ROWS
    assert all(q.consistent and not q.throttled for q in queries)
    empty = [q for q in queries if q.scanned == 0]
    assert len(empty) == SHARDS
    assert _count_check(report)["counted_by"] == "reused"
    assert _count_check(report)["consumed_rcu"] == 0
    loaded = report.materializations["loaded_statements"]
    scheduled = report.materializations["scheduled_statements"]
    assert loaded["month_read_by"] == "finish_load"
    # The units in the metadata are DynamoDB's own answer (the model's ConsumedCapacity).
    finish_units = sum(q.units for q in queries if q.scanned)
    assert loaded["consumed_rcu"] == pytest.approx(finish_units, abs=0.1)
    (proof,) = loaded["month_read"]
    assert (proof["read"], proof["items"], proof["consistent"]) == ("finish_load", ROWS, True)
    assert proof["query_calls"] == len(queries) - SHARDS
    (before,) = scheduled["month_read"]
    assert (before["read"], before["items"]) == ("before writing", 0)
    assert before["consumed_rcu"] == pytest.approx(sum(q.units for q in empty), abs=0.1)


def test_an_unchanged_month_re_run_reads_it_once_and_writes_nothing(
    proxy: CapacityProxy, tmp_path: Path
) -> None:
    rows = list(generate_rows(MONTH, ROWS, seed=12))
    halves = [
        ("a.csv", render_csv(COLUMNS, rows[:150])),
        ("b.csv", render_csv(COLUMNS, rows[150:])),
    ]
    put_files(MONTH, halves)
    _import(tmp_path / "dagster")
    # A run that ended within the clock margin of the read might have written after it began
    # (the check then recounts, rightly): the re-run comes later, as a real one would.
    time.sleep(CLOCK_MARGIN_SECONDS + 0.5)
    proxy.reset_stats()

    again = _import(tmp_path / "dagster")

    assert_month_exact(MONTH, rows)
    assert proxy.stats().write_calls == 0
    queries = _queries(proxy)
    # Only the scheduling read, which proves every file current; the check reuses it.
    assert sum(q.scanned for q in queries) == ROWS
    assert all(q.consistent for q in queries)
    loaded = again.materializations["loaded_statements"]
    assert loaded["month_read_by"] == "scheduling (nothing written)"
    assert loaded["consumed_rcu"] == 0
    (proof,) = loaded["month_read"]
    assert (proof["read"], proof["items"]) == ("scheduling (nothing written)", ROWS)
    assert _count_check(again)["counted_by"] == "reused"
    scheduled = again.materializations["scheduled_statements"]
    (before,) = scheduled["month_read"]
    assert before["consumed_rcu"] == pytest.approx(sum(q.units for q in queries), abs=0.1)
    assert before["query_calls"] == len(queries)


def test_another_run_in_progress_makes_the_check_count_the_month_itself(
    proxy: CapacityProxy, tmp_path: Path
) -> None:
    rows = list(generate_rows(MONTH, ROWS, seed=13))
    put_files(MONTH, [("a.csv", render_csv(COLUMNS, rows))])
    home = tmp_path / "dagster"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        # A run of this instance still going: its loaders could write any month.
        instance.add_run(
            dg.DagsterRun(job_name="other", run_id="other-run", status=dg.DagsterRunStatus.STARTED)
        )
        proxy.reset_stats()
        report = run_import(MONTH, instance)
    assert report.success, report.failure
    check = _count_check(report)
    assert check["counted_by"] == "recounted"
    assert check["actual"] == ROWS
    # The month read twice: by the finish step, then by the check (Select=COUNT).
    assert sum(q.scanned for q in _queries(proxy)) == 2 * ROWS
    assert check["consumed_rcu"] > 0


def test_runs_that_never_started_cannot_have_written() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        for run_id, status in (
            ("running", dg.DagsterRunStatus.STARTED),
            ("not started", dg.DagsterRunStatus.NOT_STARTED),
            ("me", dg.DagsterRunStatus.STARTED),
        ):
            instance.add_run(dg.DagsterRun(job_name="j", run_id=run_id, status=status))
        assert other_runs_since(instance, "me", 0.0) == ["running"]


def _write_month_to_moto(endpoint: str, items: int) -> None:
    """`items` statements of the month straight into moto (around the capacity model)."""
    ddb = boto3.client("dynamodb", endpoint_url=endpoint)
    rows = list(generate_rows(MONTH, items, seed=14))
    batch = [
        to_item(
            row,
            source_key="a.csv",
            source_etag='"e"',
            line=n,
            loaded_at="2026-07-01T00:00:00.000+00:00",
        )
        for n, row in enumerate(rows)
    ]
    for start in range(0, len(batch), 25):
        requests = [{"PutRequest": {"Item": i}} for i in batch[start : start + 25]]
        ddb.batch_write_item(RequestItems={"statements": requests})


@pytest.mark.parametrize("consistent", [True, False], ids=["strong", "eventual"])
def test_the_month_reader_paces_a_slow_table_with_few_reads_refused(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, consistent: bool
) -> None:
    """2 RCU at 50x (100 units a second), read burst spent: 3,000 items read through the
    model, at most 5% of the calls refused, every item counted, units as the model says."""
    items = 3_000
    with CapacityProxy(moto_endpoint, k=50.0, burst="empty") as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint)
        setup_aws(TableSettings("PROVISIONED", 2, 2))
        _write_month_to_moto(moto_endpoint, items)
        reads_client = clients.client("dynamodb", max_attempts=clients.READ_ATTEMPTS)
        # DescribeTable through the proxy shows the compressed rate: 2 x 50.
        budget = ReadBudget(consistent=consistent, floor=100.0)
        read = MonthReader(reads_client, "statements", budget).read(MONTH, count_only=True)
        calls = _queries(proxy)
    assert read.items == items
    assert read.consistent is consistent
    assert read.throttled_calls <= 0.05 * read.calls
    assert read.calls == len(calls)
    assert read.read_units == pytest.approx(sum(q.units for q in calls), abs=0.1)
    assert all(q.consistent is consistent for q in calls)
