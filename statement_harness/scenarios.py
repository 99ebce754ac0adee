"""Shared steps of the end-to-end reliability tests: set up AWS, run imports, read the table."""

from __future__ import annotations

import decimal
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from statement_pipeline.aws import clients
from statement_pipeline.aws.bootstrap import TableSettings, bootstrap_from_environment
from statement_pipeline.aws.queue_drainer import Drainer, DrainSettings, LoadStats
from statement_pipeline.aws.s3_files import SourceVersions, upload_files
from statement_pipeline.aws.table import BatchWriter
from statement_pipeline.cli.job_runner import RunReport, run_import
from statement_pipeline.resources import (
    DynamoDBResource,
    ImportTuning,
    SQSResource,
    StatementFilesResource,
)
from statement_pipeline.rules.backoff import Backoff
from statement_pipeline.rules.csv_records import COLUMNS, NUMBER_COLUMNS
from statement_pipeline.rules.items import (
    HASH_KEY,
    SOURCE_ETAG,
    SOURCE_KEY,
    SOURCE_LINE,
    partition_key,
)
from statement_pipeline.rules.names import Names
from statement_pipeline.rules.write_budget import WriteBudget

NAMES = Names()
CLI_TIMEOUT = 300


def setup_aws(table: TableSettings | None = None) -> None:
    """Bucket, queue + DLQ and table in whatever AWS the environment points at."""
    bootstrap_from_environment(NAMES, table)


def put_files(month: str, files: Sequence[tuple[str, bytes]]) -> list[str]:
    return upload_files(NAMES, month, files)


def delete_file(month: str, name: str) -> None:
    clients.client("s3").delete_object(Bucket=NAMES.bucket, Key=f"{NAMES.prefix}{month}/{name}")


def month_items(month: str) -> list[dict[str, Any]]:
    """Every stored item of a month, found by a Scan on `period`, not through the key schema.

    The oracle is independent of the sharding: an item written under a wrong `month_shard`
    is still found here, and then fails `assert_month_exact`'s key check.
    """
    pages = (
        clients.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=NAMES.table,
            FilterExpression="#p = :p",
            ExpressionAttributeNames={"#p": "period"},
            ExpressionAttributeValues={":p": {"S": month}},
            ConsistentRead=True,
        )
    )
    return [item for page in pages for item in page["Items"]]


def _same_number(stored: str, written: str) -> bool:
    return decimal.Decimal(stored) == decimal.Decimal(written)


def assert_month_exact(month: str, rows: Iterable[Sequence[str]]) -> list[dict[str, Any]]:
    """The month in the table is exactly `rows` (10 values each): nothing more, less or else."""
    expected = {row[0]: tuple(row) for row in rows}
    items = month_items(month)
    stored_ids = [item["statement_id"]["S"] for item in items]
    assert len(stored_ids) == len(set(stored_ids))
    missing = sorted(set(expected) - set(stored_ids))
    extra = sorted(set(stored_ids) - set(expected))
    assert not missing, f"{month}: {len(missing)} statements missing (e.g. {missing[:3]})"
    assert not extra, f"{month}: {len(extra)} unexpected statements (e.g. {extra[:3]})"
    for item in items:
        row = expected[item["statement_id"]["S"]]
        # The statement API finds it by month and id alone: its key follows from them.
        assert item[HASH_KEY] == {"S": partition_key(month, row[0])}
        for column, value in zip(COLUMNS, row, strict=True):
            if column in NUMBER_COLUMNS:
                assert set(item[column]) == {"N"}, column
                assert _same_number(item[column]["N"], value), column
            else:
                assert item[column] == {"S": value}, column
    return items


def sources_of(items: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, str, int]]:
    """statement_id -> (source_key, source_etag, source_line) of stored items."""
    return {
        item["statement_id"]["S"]: (
            item[SOURCE_KEY]["S"],
            item[SOURCE_ETAG]["S"],
            int(item[SOURCE_LINE]["N"]),
        )
        for item in items
    }


def queue_urls() -> tuple[str, str]:
    sqs = clients.client("sqs")
    return (
        sqs.get_queue_url(QueueName=NAMES.queue)["QueueUrl"],
        sqs.get_queue_url(QueueName=NAMES.dlq)["QueueUrl"],
    )


def queue_depth(url: str) -> int:
    """Messages in a queue: visible, in flight and delayed."""
    attrs = clients.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    return sum(
        int(attrs[name])
        for name in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
    )


def drain_messages(url: str) -> list[dict[str, Any]]:
    """Receive and delete every visible message of a queue (with its attributes)."""
    sqs = clients.client("sqs")
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            return out
        out.extend(got)
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def replay_queue(visibility_timeout: int = 10) -> LoadStats:
    """Load whatever is left in the queue, as a later run's loader would, until it is empty.

    Runs stop once their own month is complete, so messages a dead run held, or whose
    delete failed, can outlive them; replaying them must not change the table.
    """
    backoff = Backoff()
    queue, dlq = queue_urls()
    return Drainer(
        sqs=clients.client("sqs"),
        queue_url=queue,
        dlq_url=dlq,
        writer=BatchWriter(
            clients.client("dynamodb"), NAMES.table, WriteBudget(floor=None), backoff
        ),
        sources=SourceVersions(clients.client("s3"), NAMES.bucket),
        month_complete=lambda: False,
        settings=DrainSettings(wait_seconds=1, visibility_timeout=visibility_timeout),
        backoff=backoff,
    ).drain()


def run_in_process(
    month: str, home: Path, run_config: Mapping[str, Any] | None = None
) -> RunReport:
    """The real import job in this process (in-process executor) against the environment."""
    home.mkdir(parents=True, exist_ok=True)
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        return run_import(month, instance, run_config)


def merge(*configs: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge run config fragments."""
    out: dict[str, Any] = {}
    for config in configs:
        for key, value in config.items():
            if isinstance(value, Mapping) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = dict(value) if isinstance(value, Mapping) else value
    return out


def cli_command(month: str, config: Path | None = None) -> list[str]:
    """`dagster asset materialize` of every asset of the project for one month."""
    dagster = str(Path(sys.executable).with_name("dagster"))
    command = [
        dagster,
        "asset",
        "materialize",
        "-m",
        "statement_pipeline",
        "--select",
        "*",
        "--partition",
        month,
    ]
    return [*command, "-c", str(config)] if config is not None else command


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment (fake credentials, endpoint) with its own DAGSTER_HOME."""
    home.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "DAGSTER_HOME": str(home), **extra}


def write_config(path: Path, run_config: Mapping[str, Any]) -> Path:
    """A run config file (JSON is YAML)."""
    path.write_text(json.dumps(run_config))
    return path


def run_cli(
    month: str, home: Path, run_config: Mapping[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `dagster asset materialize` for one month in a subprocess; output captured."""
    config = None
    if run_config:
        config = write_config(home.parent / f"{home.name}-{month}.yaml", run_config)
    return subprocess.run(
        cli_command(month, config),
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def resources(**tuning: Any) -> dict[str, object]:
    """The definitions' resources with their defaults, for `dg.materialize` against moto."""
    s3 = S3Resource()
    return {
        "s3": s3,
        "statement_files": StatementFilesResource(s3=s3),
        "statement_queue": SQSResource(),
        "statement_table": DynamoDBResource(),
        "import_tuning": ImportTuning(**tuning),
    }
