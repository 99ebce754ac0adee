"""`statement-pipeline dev` (what `make dev` runs), read through the webserver's GraphQL.

The dev command starts its own local AWS with a sample month; the sensor imports that month
on its first tick. Then: the month is launched again the way the UI's Materialize button does
it (LaunchPipelineExecution on the asset job, with the partition tag) and must load exactly;
the resource page names the region, endpoint, bucket, prefix, queue and table, none null;
and what `make dev` printed holds no DEBUG line.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from statement_harness.scenarios import assert_month_exact
from statement_pipeline.cli.dev import (
    SampleMonth,
    find_dagster_config,
    month_shift,
    prepare_home,
    sample_plan,
)
from statement_pipeline.local_aws.server import LOCAL_ENV, free_port
from statement_pipeline.supervision.service import Service
from statement_pipeline_tests.conftest import isolated_environ
from statement_pipeline_tests.oracles import rows_as_written
from statement_pipeline_tests.processes import (
    background,
    describe_runs,
    finished_runs,
    wait_for,
)
from statement_samples import bad_rows_corpus, write_month

RECORDS = 200
ASSETS = ["scheduled_statements", "loaded_statements"]
CHECKS = [
    "table_count_matches_valid_rows",
    "queue_drained",
    "no_rejected_rows",
    "reject_rate_below_limit",
]
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
LOCATIONS = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }
"""
RESOURCES = """
query Resources($selector: RepositorySelector!) {
  allTopLevelResourceDetailsOrError(repositorySelector: $selector) {
    ... on ResourceDetailsList { results { name configuredValues { key value } } }
  }
}
"""
FRESHNESS = """
{ assetNodes(assetKeys: [{path: ["loaded_statements"]}]) {
    internalFreshnessPolicy { ... on CronFreshnessPolicy { deadlineCron lowerBoundDeltaSeconds } }
} }
"""
RUN_STATUS = """
query Status($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }
"""


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback only
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


def repositories(url: str) -> list[dict[str, Any]] | None:
    try:
        nodes = graphql(url, LOCATIONS)["repositoriesOrError"].get("nodes")
    except (OSError, urllib.error.URLError):
        return None
    return nodes or None


def materialize_params(location: str, repository: str, month: str) -> dict[str, Any]:
    """What the UI sends when Materialize is pressed for one partition of both assets."""
    return {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": repository,
            "pipelineName": "__ASSET_JOB",
            "assetSelection": [{"path": [name]} for name in ASSETS],
            "assetCheckSelection": [
                {"assetKey": {"path": ["loaded_statements"]}, "name": name} for name in CHECKS
            ],
        },
        "mode": "default",
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": month}]},
    }


@dataclass(frozen=True)
class DevSession:
    """`statement-pipeline dev` running, its sensor's first import of the sample month done."""

    url: str
    selector: dict[str, str]
    home: Path
    month: SampleMonth
    aws_port: int
    dev: Service
    sensor_run_id: str


@pytest.fixture(scope="module")
def dev_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevSession]:
    root = tmp_path_factory.mktemp("dev")
    ui_port, aws_port = free_port(), free_port()
    url = f"http://127.0.0.1:{ui_port}"
    home = root / "dagster_home"
    (month,) = sample_plan(datetime.now(UTC), 1, RECORDS)
    command = [sys.executable, "-m", "statement_pipeline.cli", "dev", "--months", "1"]
    command += ["--records", str(RECORDS), "--files", "1", "--port", str(ui_port)]
    command += ["--aws-port", str(aws_port), "--home", str(home)]
    env = isolated_environ(root / "no-aws-config")
    with background(command, env, root / "dev.log") as dev:
        (repo, *_) = wait_for(lambda: repositories(url), 90, "the Dagster UI", dev.output)
        selector = {
            "repositoryLocationName": repo["location"]["name"],
            "repositoryName": repo["name"],
        }
        with dg.DagsterInstance.from_config(str(home)) as instance:
            by_sensor = wait_for(
                lambda: finished_runs(instance, month.period),
                120,
                f"the sensor's import of the sample month {month.period}",
                lambda: describe_runs(instance) + "\n" + dev.output(),
            )
        assert [r.status for r in by_sensor] == [dg.DagsterRunStatus.SUCCESS]
        yield DevSession(url, selector, home, month, aws_port, dev, by_sensor[0].run_id)


def test_make_dev_then_a_partition_launched_through_graphql(
    dev_session: DevSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, month = dev_session.url, dev_session.month
    # The asset page marks the closed month overdue after the 2nd (the default deadline).
    (node,) = graphql(url, FRESHNESS)["assetNodes"]
    assert node["internalFreshnessPolicy"] == {
        "deadlineCron": "0 0 2 * *",
        "lowerBoundDeltaSeconds": 86_400,
    }
    with dg.DagsterInstance.from_config(str(dev_session.home)) as instance:
        selector = dev_session.selector
        params = materialize_params(
            selector["repositoryLocationName"], selector["repositoryName"], month.period
        )
        launched = graphql(url, LAUNCH, {"params": params})["launchPipelineExecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]

        def status() -> str | None:
            value = graphql(url, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
            return value if value in ("SUCCESS", "FAILURE", "CANCELED") else None

        final = wait_for(
            status,
            120,
            "the launched run",
            lambda: describe_runs(instance) + dev_session.dev.output(),
        )
        assert final == "SUCCESS", describe_runs(instance)
        checks = [
            record.dagster_event.asset_check_evaluation_data
            for record in instance.all_logs(
                run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
            if record.dagster_event
        ]
    # Contents, not a count: the sample files' valid statements, exactly, in dev's local AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{dev_session.aws_port}")
    for name, value in LOCAL_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    files = write_month(month.period, month.records, 1, month.seed, month.quirks)
    rows = [row for _, content in files for row in rows_as_written(content)]
    assert len(rows) == month.records
    assert_month_exact(month.period, rows)
    outcome = {c.check_name: c.passed for c in checks}
    # The sample month carries a file of broken rows: all rejected and reported (a warning),
    # failing the reject-rate check only when they are more than 5% of the month's rows.
    bad = len(bad_rows_corpus(month.period))
    assert outcome == {
        "table_count_matches_valid_rows": True,
        "queue_drained": True,
        "no_rejected_rows": False,
        "reject_rate_below_limit": bad / (bad + month.records) <= 0.05,
    }


def test_the_resource_page_and_the_runs_first_lines_name_what_each_resource_points_at(
    dev_session: DevSession,
) -> None:
    details = graphql(dev_session.url, RESOURCES, {"selector": dev_session.selector})
    shown = {
        r["name"]: {v["key"]: json.loads(v["value"]) for v in r["configuredValues"]}
        for r in details["allTopLevelResourceDetailsOrError"]["results"]
    }
    endpoint = f"http://127.0.0.1:{dev_session.aws_port}"
    where = {"region_name": LOCAL_ENV["AWS_REGION"], "endpoint_url": endpoint}
    # dagster-aws's fields: the S3Resource the statement files are read through, and ours on
    # its ResourceWithBoto3Configuration.
    assert shown["s3"] | where == shown["s3"]
    assert shown["statement_queue"] | where == shown["statement_queue"]
    assert shown["statement_table"] | where == shown["statement_table"]
    assert (shown["statement_files"]["bucket"], shown["statement_files"]["prefix"]) == (
        "statements",
        "statements/",
    )
    assert shown["statement_queue"]["queue_name"] == "statement-records"
    assert shown["statement_table"]["table_name"] == "statements"
    named = {
        "s3": ("region_name", "endpoint_url"),
        "statement_files": ("bucket", "prefix"),
        "statement_queue": ("region_name", "endpoint_url", "queue_name"),
        "statement_table": ("region_name", "endpoint_url", "table_name"),
    }
    for name, keys in named.items():
        assert None not in [shown[name].get(key) for key in keys], (name, shown[name])
    # The first lines the sensor's run logged say the same.
    with dg.DagsterInstance.from_config(str(dev_session.home)) as instance:
        messages = [
            record.user_message
            for record in instance.all_logs(dev_session.sensor_run_id)
            if record.dagster_event is None
        ]
    located = f"region {LOCAL_ENV['AWS_REGION']}, endpoint {endpoint})"
    assert sorted(messages[:3]) == [
        "queue: statement-records, DLQ statement-records-dlq (SQS, " + located,
        "statement files: s3://statements/statements/<YYYY-MM>/*.csv (S3, " + located,
        "table: statements (DynamoDB, " + located,
    ]


def test_make_dev_prints_no_debug_line_by_default(dev_session: DevSession) -> None:
    printed = dev_session.dev.log.read_text(errors="replace")
    # Runs did print their log (at INFO): the sample month's import named its table.
    assert "table: statements (DynamoDB, " in printed
    debug = [line for line in printed.splitlines() if " - DEBUG - " in line]
    assert debug == [], debug[:5]


def test_month_shift_crosses_year_boundaries() -> None:
    moment = datetime(2026, 1, 20, tzinfo=UTC)
    assert [month_shift(moment, n) for n in (0, 1, 2, 13, -11, -12)] == [
        "2026-01",
        "2025-12",
        "2025-11",
        "2024-12",
        "2026-12",
        "2027-01",
    ]


def test_the_dev_sample_months_are_the_closed_ones_oldest_first() -> None:
    plan = sample_plan(datetime(2026, 11, 26, tzinfo=UTC), 3, 5_000)
    assert [m.period for m in plan] == ["2026-08", "2026-09", "2026-10"]
    assert [m.records for m in plan] == [4_000, 5_000, 6_000]
    assert [m.with_bad_rows for m in plan] == [False, False, True]
    assert len({m.seed for m in plan}) == 3


def test_the_dev_instance_starts_fresh_with_the_shipped_config(tmp_path: Path) -> None:
    home = tmp_path / ".dagster_home"
    (home / "history").mkdir(parents=True)
    (home / "history" / "runs.db").write_bytes(b"old runs")
    (home / "samples").mkdir()
    (home / "dagster.yaml").write_text("stale: true\n")
    shipped = find_dagster_config(tmp_path)
    prepare_home(home, shipped)
    # The old runs are gone; the fresh instance's tables exist already, before any process.
    assert (home / "history" / "runs.db").read_bytes() != b"old runs"
    assert (home / "schedules" / "schedules.db").is_file()
    assert (home / "samples").is_dir()
    assert (home / "dagster.yaml").read_text() == shipped.read_text()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.get_runs() == []
