# Over 350 lines: the IAM-enforced deployment fixture (users, policies, moto's enforcement)
# is shared by every test in this module.
"""The import as an IAM user that holds only the run policy, on a moto server enforcing IAM.

The user's policy is `run_policy` plus the test-only "moto view" (`test_iam.moto_view`:
moto's names for actions already in the policy, and `*` resources where moto cannot match
ARNs; resource scoping is checked statically in test_iam and test_security). So the import
succeeds only if the policy covers every call a run makes, its checks included, and an
action removed from the policy fails the run at once with an error naming it. A denial is
never retried, by botocore or by the pipeline.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from statement_harness.scenarios import cli_command
from statement_pipeline.aws import clients
from statement_pipeline.aws.bootstrap import bootstrap
from statement_pipeline.aws.queue import queue_depth
from statement_pipeline.aws.table import BatchWriter, month_items
from statement_pipeline.cli.job_runner import run_import, tuning_run_config
from statement_pipeline.definitions import defs
from statement_pipeline.local_aws.server import LocalAws
from statement_pipeline.resources import DynamoDBResource
from statement_pipeline.rules.backoff import Backoff
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.iam_policy import run_policy
from statement_pipeline.rules.items import to_item
from statement_pipeline.rules.names import Names
from statement_pipeline.rules.s3_layout import month_prefix, rejects_key
from statement_pipeline.rules.write_budget import WriteBudget
from statement_pipeline.sensors import statement_file_sensor
from statement_pipeline_tests.conftest import REGION
from statement_pipeline_tests.test_iam import ACCOUNT, create_policy_user
from statement_samples import generate_rows, render_csv

MONTH = "2026-10"
OTHER_MONTH = "2026-09"
NAMES = Names()
# Each file's rows; part-2 also holds one row with a lower-case currency (a reject).
ROWS_PER_FILE = 300
BAD_ROW_ID = "STM-202610-BAD"
STALE_ID = "STM-202610-STALE"
STALE_REJECTS = f"rejects/{MONTH}/removed-file.rejects.csv"
# A run that cannot write must give up long before this; a hang or endless retry would not.
RUN_TIMEOUT_SECONDS = 120


@dataclass
class Deployment:
    """The resources, the month's files and what a correct import of them leaves behind."""

    s3: Any
    sqs: Any
    dynamodb: Any
    queue_url: str
    dlq_url: str
    expected_ids: set[str]
    file_keys: list[str]


@pytest.fixture
def deployment(moto_endpoint: str) -> Deployment:
    """Bootstrap, a month of two files, and leftovers that make the run use every permission.

    - a rejects object of a file no longer in the month: the run deletes it (DeleteObject);
    - an item of the month from a file version that no longer exists: the run finds it with
      Query and deletes it with BatchWriteItem;
    - a message of another month in the DLQ: the check peeks at it (ReceiveMessage, then
      ChangeMessageVisibilityBatch to make it visible again).
    """
    s3, sqs, dynamodb = (boto3.client(service) for service in ("s3", "sqs", "dynamodb"))
    bootstrap(NAMES, s3=s3, sqs=sqs, dynamodb=dynamodb, region=REGION)

    first = list(generate_rows(MONTH, ROWS_PER_FILE, start=0))
    second = list(generate_rows(MONTH, ROWS_PER_FILE, start=ROWS_PER_FILE))
    bad = list(next(generate_rows(MONTH, 1, start=10 * ROWS_PER_FILE)))
    bad[COLUMNS.index("statement_id")] = BAD_ROW_ID
    bad[COLUMNS.index("currency")] = "eur"
    folder = month_prefix(NAMES.prefix, MONTH)
    files = {
        f"{folder}part-1.csv": render_csv(COLUMNS, first),
        f"{folder}part-2.csv": render_csv(COLUMNS, [*second[:100], tuple(bad), *second[100:]]),
    }
    for key, body in files.items():
        s3.put_object(Bucket=NAMES.bucket, Key=key, Body=body)
    s3.put_object(Bucket=NAMES.bucket, Key=STALE_REJECTS, Body=b"file,line,reason\n")

    stale = list(first[0])
    stale[COLUMNS.index("statement_id")] = STALE_ID
    dynamodb.put_item(
        TableName=NAMES.table,
        Item=to_item(
            stale,
            source_key=f"{folder}part-1.csv",
            source_etag='"an-old-version"',
            line=2,
            loaded_at="2026-11-01T00:00:00+00:00",
        ),
    )

    queue_url = sqs.get_queue_url(QueueName=NAMES.queue)["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=NAMES.dlq)["QueueUrl"]
    sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps({"period": OTHER_MONTH}))

    row_ids = {row[COLUMNS.index("statement_id")] for row in first + second}
    return Deployment(s3, sqs, dynamodb, queue_url, dlq_url, row_ids, sorted(files))


def _create_user(policy: dict[str, Any], user: str) -> dict[str, str]:
    """A new IAM user holding `policy` (as moto needs to see it); its key as environment."""
    key_id, secret = create_policy_user(policy, user)
    return {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}


def _without(action: str) -> dict[str, Any]:
    """The run policy with `action` removed from every statement."""
    policy = run_policy(NAMES, account_id=ACCOUNT, region=REGION)
    assert any(action in statement["Action"] for statement in policy["Statement"])
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != action]
    # IAM refuses a statement without actions.
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"]]
    return policy


@contextmanager
def _enforced(server: LocalAws) -> Iterator[None]:
    """IAM enforcement on the shared moto server, switched back whatever happens.

    The `moto_endpoint` fixture's reset does not touch this setting: left on, it would break
    every later test on the server.
    """
    previous = server.enable_iam_enforcement(0)
    try:
        yield
    finally:
        server.disable_iam_enforcement(previous)


@dataclass
class CliRun:
    returncode: int
    output: str
    seconds: float


def _materialize(credentials: dict[str, str], dagster_home: Path) -> CliRun:
    """`dagster asset materialize -m statement_pipeline --select '*' --partition MONTH`."""
    env = dict(os.environ)
    # The fixture's session token must not ride along with the user's key.
    env.pop("AWS_SESSION_TOKEN", None)
    env.update(credentials)
    env["DAGSTER_HOME"] = str(dagster_home)
    dagster_home.mkdir()
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cli_command(MONTH),
            env=env,
            cwd=dagster_home,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"the import did not finish within {RUN_TIMEOUT_SECONDS}s (a hang or an endless "
            f"retry): {str(exc.stderr or '')[-3000:]}"
        )
    return CliRun(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


@dataclass
class RecordedRun:
    """What the CLI's run left in its Dagster instance."""

    checks: dict[str, bool]
    scheduled: dict[str, Any]


def _recorded_run(dagster_home: Path, monkeypatch: pytest.MonkeyPatch) -> RecordedRun:
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
        checks = {}
        for record in instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records:
            evaluation = record.event_log_entry.asset_check_evaluation
            if evaluation is not None:
                checks[evaluation.check_name] = evaluation.passed
        scheduled: dict[str, Any] = {}
        for record in instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records:
            materialization = record.asset_materialization
            if materialization and materialization.asset_key == dg.AssetKey("scheduled_statements"):
                scheduled = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    return RecordedRun(checks, scheduled)


def _month_items(deployment: Deployment) -> dict[str, tuple[str, str]]:
    """statement_id -> (source_key, source_etag) of every item of the month."""
    return {
        sid: (key, etag) for sid, key, etag in month_items(deployment.dynamodb, NAMES.table, MONTH)
    }


def test_import_succeeds_as_a_user_with_only_the_run_policy(
    deployment: Deployment,
    tmp_path: Path,
    local_aws_server: LocalAws,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credentials = _create_user(run_policy(NAMES, account_id=ACCOUNT, region=REGION), "pipeline")

    with _enforced(local_aws_server):
        run = _materialize(credentials, tmp_path / "dagster_home")

    assert run.returncode == 0, run.output[-6000:]
    for value in credentials.values():
        assert value not in run.output
    # Exactly the valid rows, each from the file version the run read; the stale item is gone.
    stored = _month_items(deployment)
    assert set(stored) == deployment.expected_ids
    etags = {
        key: deployment.s3.head_object(Bucket=NAMES.bucket, Key=key)["ETag"]
        for key in deployment.file_keys
    }
    assert sorted({key for key, _ in stored.values()}) == deployment.file_keys
    assert all(etag == etags[key] for key, etag in stored.values())
    # The reject was written next to its file; the stale rejects object was removed.
    listed = deployment.s3.list_objects_v2(Bucket=NAMES.bucket, Prefix=f"rejects/{MONTH}/")
    assert [o["Key"] for o in listed["Contents"]] == [
        rejects_key(NAMES.prefix, MONTH, deployment.file_keys[1])
    ]
    # The queue is drained; the other month's DLQ message is still there after the peek.
    assert queue_depth(deployment.sqs, deployment.queue_url).total == 0
    assert queue_depth(deployment.sqs, deployment.dlq_url).visible == 1
    # The checks ran as the same user and saw the month complete.
    assert _recorded_run(tmp_path / "dagster_home", monkeypatch).checks == {
        "table_count_matches_valid_rows": True,
        "queue_drained": True,
        "no_rejected_rows": False,
        "reject_rate_below_limit": True,
    }


def test_import_without_batch_write_item_fails_fast_naming_it(
    deployment: Deployment,
    tmp_path: Path,
    local_aws_server: LocalAws,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credentials = _create_user(_without("dynamodb:BatchWriteItem"), "pipeline-no-writes")

    with _enforced(local_aws_server):
        run = _materialize(credentials, tmp_path / "dagster_home")

    # `_materialize` fails the test if the run is still going after RUN_TIMEOUT_SECONDS: a
    # denied write must end the run, not wait for messages to come back or retry forever.
    assert run.returncode != 0
    # The step failure carries the service's denial: the code and the missing action.
    failure = run.output[run.output.index("STEP_FAILURE") :]
    assert "BatchWriteItem" in failure
    assert "AccessDenied" in failure
    assert "dynamodb:BatchWriteItem" in failure
    for value in credentials.values():
        assert value not in run.output
    # Nothing of the month was written and nothing was lost: every message is still queued.
    assert set(_month_items(deployment)) == {STALE_ID}
    recorded = _recorded_run(tmp_path / "dagster_home", monkeypatch)
    assert recorded.checks == {}
    depth = queue_depth(deployment.sqs, deployment.queue_url)
    assert depth.total == recorded.scheduled["messages"] > 0


# One action per stage: the rejects object (scheduling), the enqueue, the check's DLQ peek.
STAGE_ACTIONS = {
    "s3:PutObject": ("PutObject", "scheduled_statements"),
    "sqs:SendMessage": ("SendMessageBatch", "scheduled_statements"),
    "sqs:ChangeMessageVisibility": ("ChangeMessageVisibilityBatch", "statement_checks"),
}


@pytest.mark.parametrize("action", STAGE_ACTIONS)
def test_each_stage_fails_at_once_naming_a_denied_action(
    deployment: Deployment,
    tmp_path: Path,
    local_aws_server: LocalAws,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    operation, step = STAGE_ACTIONS[action]
    credentials = _create_user(_without(action), f"pipeline-no-{operation.lower()}")
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)

    with _enforced(local_aws_server), dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        # In process, so a short loading deadline bounds the run should a stage ever wait.
        report = run_import(MONTH, instance, tuning_run_config(deadline_seconds=60))
        failed_steps = [
            entry.step_key
            for entry in instance.all_logs(report.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        ]

    assert not report.success
    assert [key.split(".")[0] for key in failed_steps if key] == [step]
    assert report.failure is not None
    assert operation in report.failure
    assert "AccessDenied" in report.failure


# --- a denial is never retried -------------------------------------------------------------

DENIED_WRITE_MESSAGE = (
    "User: arn:aws:iam::123456789012:user/pipeline is not authorized to perform: "
    "dynamodb:BatchWriteItem"
)
DENIALS = {
    # moto answers the JSON APIs with an XML error botocore cannot parse: code "403".
    "moto": (
        403,
        "text/xml",
        (
            '<?xml version="1.0" encoding="utf-8"?><ErrorResponse><Errors><Error>'
            f"<Code>AccessDenied</Code><Message>{DENIED_WRITE_MESSAGE}</Message>"
            "<Type>Sender</Type></Error></Errors></ErrorResponse>"
        ).encode(),
    ),
    "aws": (
        400,
        "application/x-amz-json-1.0",
        json.dumps(
            {
                "__type": "com.amazon.coral.service#AccessDeniedException",
                "message": f"{DENIED_WRITE_MESSAGE} on resource: "
                f"arn:aws:dynamodb:{REGION}:123456789012:table/statements",
            }
        ).encode(),
    ),
}


class _Raw:
    """The raw body of a canned HTTP response."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@pytest.mark.parametrize(("status", "content_type", "body"), DENIALS.values(), ids=DENIALS)
def test_a_denied_write_is_raised_after_one_call(
    aws: None, status: int, content_type: str, body: bytes
) -> None:
    # The pipeline's own client (the resource's retry config), answered before it sends.
    dynamodb = DynamoDBResource().get_client()
    sent: list[str] = []

    def deny(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        return AWSResponse(request.url, status, {"Content-Type": content_type}, _Raw(body))

    dynamodb.meta.events.register("before-send.dynamodb.BatchWriteItem", deny)
    pauses: list[float] = []
    writer = BatchWriter(
        dynamodb, NAMES.table, WriteBudget(floor=None), Backoff(sleep=pauses.append)
    )
    row = next(generate_rows(MONTH, 1))
    item = to_item(row, source_key="k", source_etag='"e"', line=2, loaded_at="t")

    with pytest.raises(ClientError) as excinfo:
        writer.write([item])

    # Neither botocore nor the pipeline tried again, and the error says what was refused.
    assert len(sent) == 1
    assert pauses == []
    assert "BatchWriteItem" in str(excinfo.value)
    assert "dynamodb:BatchWriteItem" in str(excinfo.value)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("403", 403),
        ("AccessDenied", 403),
        ("AccessDeniedException", 400),
        ("UnauthorizedOperation", 403),
        ("InvalidClientTokenId", 403),
        ("ExpiredToken", 400),
    ],
)
def test_denials_and_bad_credentials_are_not_retried(code: str, status: int) -> None:
    """The one client factory's retry policy sends a refused call once, and raises it."""
    sqs = clients.client("sqs", endpoint_url="http://127.0.0.1:9")
    sent: list[str] = []

    def refuse(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        body = json.dumps({"__type": code, "message": "refused"}).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-query-error": f"{code};Sender",
        }
        return AWSResponse(request.url, status, headers, _Raw(body))

    sqs.meta.events.register("before-send.sqs.SendMessageBatch", refuse)
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message_batch(
            QueueUrl="http://127.0.0.1:9/q", Entries=[{"Id": "1", "MessageBody": "x"}]
        )

    assert clients.error_code(excinfo.value) == code
    assert len(sent) == 1


def test_sensor_finds_the_month_as_the_run_user(
    deployment: Deployment, local_aws_server: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = _create_user(run_policy(NAMES, account_id=ACCOUNT, region=REGION), "sensor")
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)

    with (
        _enforced(local_aws_server),
        dg.build_sensor_context(resources=defs().resources) as context,
    ):
        result = statement_file_sensor(context)

    assert [request.partition_key for request in result.run_requests] == [MONTH]
