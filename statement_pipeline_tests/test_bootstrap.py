# Over 350 lines: every resource bootstrap creates is checked on in-process moto and on a
# moto server from the same fixtures.
"""bootstrap: creates the resources with the right settings, is idempotent, reports drift.

Most tests run twice: against in-process moto and against the moto server over HTTP (the
way `make demo` and the CLI reach it), because the two differ in small ways.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from statement_pipeline.aws import bootstrap as bootstrap_module
from statement_pipeline.aws.bootstrap import (
    DLQ_RETENTION_SECONDS,
    QUEUE_RETENTION_SECONDS,
    BootstrapAccessDenied,
    BootstrapError,
    BootstrapReport,
    TableSettings,
    bootstrap,
)
from statement_pipeline.rules.names import Names
from statement_pipeline_tests.conftest import REGION

NAMES = Names()
KEY_SCHEMA = [
    {"AttributeName": "month_shard", "KeyType": "HASH"},
    {"AttributeName": "statement_id", "KeyType": "RANGE"},
]


@dataclass
class Clients:
    """boto3 clients made the standard way (the environment picks endpoint and region)."""

    s3: Any
    sqs: Any
    dynamodb: Any

    def run(self, names: Names = NAMES, **kwargs: Any) -> BootstrapReport:
        kwargs.setdefault("region", REGION)
        return bootstrap(names, s3=self.s3, sqs=self.sqs, dynamodb=self.dynamodb, **kwargs)

    def queue_attributes(self, name: str) -> dict[str, str]:
        url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def _make_clients() -> Clients:
    return Clients(
        s3=boto3.client("s3"), sqs=boto3.client("sqs"), dynamodb=boto3.client("dynamodb")
    )


@pytest.fixture(params=["in-process", "server"])
def clients(request: pytest.FixtureRequest) -> Clients:
    """Clients for in-process moto, then for the moto server (AWS_ENDPOINT_URL set)."""
    request.getfixturevalue("aws" if request.param == "in-process" else "moto_endpoint")
    return _make_clients()


@pytest.fixture
def local_clients(aws: None) -> Clients:
    """Clients for in-process moto only (tests that hook into botocore or need speed)."""
    return _make_clients()


def _error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as excinfo:
        call()
    return str(excinfo.value.response["Error"]["Code"])


def _fake_error(code: str, status: int = 400) -> Callable[..., Any]:
    """A before-call handler that answers with an AWS error instead of sending the request."""

    class _Response:
        status_code = status
        raw = None  # tells botocore's after-call parsers there is no body to read
        content = b""
        headers: dict[str, str] = {}  # noqa: RUF012 - a read-only stand-in

    def handler(**_: Any) -> tuple[Any, dict[str, Any]]:
        return _Response(), {"Error": {"Code": code, "Message": f"simulated {code}"}}

    return handler


# --- creation ------------------------------------------------------------------------------


def test_creates_everything_with_the_required_settings(clients: Clients) -> None:
    report = clients.run(tls_only_policy=True, visibility_timeout=120, max_receive_count=7)

    assert report.created == [
        "bucket statements: created",
        "queue statement-records-dlq: created",
        "queue statement-records: created",
        "table statements: created",
    ]
    assert report.ok == []
    assert report.drift == []
    assert not report.has_drift

    s3 = clients.s3
    assert s3.get_bucket_location(Bucket="statements")["LocationConstraint"] == REGION
    rules = s3.get_bucket_encryption(Bucket="statements")["ServerSideEncryptionConfiguration"]
    assert [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules["Rules"]] == [
        "AES256"
    ]
    block = s3.get_public_access_block(Bucket="statements")["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    policy = json.loads(s3.get_bucket_policy(Bucket="statements")["Policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Action"] == "s3:*"
    assert sorted(deny["Resource"]) == ["arn:aws:s3:::statements", "arn:aws:s3:::statements/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    dlq = clients.queue_attributes("statement-records-dlq")
    assert dlq["SqsManagedSseEnabled"] == "true"
    assert "KmsMasterKeyId" not in dlq
    assert dlq["MessageRetentionPeriod"] == str(DLQ_RETENTION_SECONDS) == "1209600"

    queue = clients.queue_attributes("statement-records")
    assert queue["SqsManagedSseEnabled"] == "true"
    assert queue["VisibilityTimeout"] == "120"
    assert queue["MessageRetentionPeriod"] == str(QUEUE_RETENTION_SECONDS) == "345600"
    assert queue["ReceiveMessageWaitTimeSeconds"] == "1"
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 7

    table = clients.dynamodb.describe_table(TableName="statements")["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == KEY_SCHEMA
    assert sorted(
        (d["AttributeName"], d["AttributeType"]) for d in table["AttributeDefinitions"]
    ) == [("month_shard", "S"), ("statement_id", "S")]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSEDescription"]["Status"] == "ENABLED"
    backups = clients.dynamodb.describe_continuous_backups(TableName="statements")
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_second_run_is_idempotent(clients: Clients) -> None:
    clients.run()
    queue_before = clients.queue_attributes("statement-records")
    table_before = clients.dynamodb.describe_table(TableName="statements")["Table"]

    report = clients.run()

    assert report.created == []
    assert report.drift == []
    assert report.ok == [
        "bucket statements: ok",
        "queue statement-records-dlq: ok",
        "queue statement-records: ok",
        "table statements: ok",
    ]
    # Nothing was recreated: same queue and table, same creation times.
    assert (
        clients.queue_attributes("statement-records")["CreatedTimestamp"]
        == (queue_before["CreatedTimestamp"])
    )
    table_after = clients.dynamodb.describe_table(TableName="statements")["Table"]
    assert table_after["CreationDateTime"] == table_before["CreationDateTime"]


def test_custom_names_and_provisioned_table(clients: Clients) -> None:
    names = Names(bucket="acme-statements", prefix="in", queue="acme-records", table="acme")
    settings = TableSettings(billing_mode="PROVISIONED", read_capacity=3, write_capacity=40)

    report = clients.run(names, table=settings)

    assert report.created == [
        "bucket acme-statements: created",
        "queue acme-records-dlq: created",
        "queue acme-records: created",
        "table acme: created",
    ]
    table = clients.dynamodb.describe_table(TableName="acme")["Table"]
    assert table["KeySchema"] == KEY_SCHEMA
    assert table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED") == "PROVISIONED"
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 40
    redrive = json.loads(clients.queue_attributes("acme-records")["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":acme-records-dlq")

    assert clients.run(names, table=settings).ok == [
        "bucket acme-statements: ok",
        "queue acme-records-dlq: ok",
        "queue acme-records: ok",
        "table acme: ok",
    ]


def test_us_east_1_bucket_has_no_location_constraint(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    clients = _make_clients()

    assert clients.run(region="us-east-1").created[0] == "bucket statements: created"
    assert clients.s3.get_bucket_location(Bucket="statements")["LocationConstraint"] is None
    # us-east-1 re-creates an owned bucket without error: the existence check must catch it.
    assert clients.run(region="us-east-1").ok[0] == "bucket statements: ok"


def test_tls_policy_is_skipped_over_plain_http_unless_forced(clients: Clients) -> None:
    report = clients.run()

    plain_http = clients.s3.meta.endpoint_url.startswith("http://")
    if plain_http:
        assert _error_code(lambda: clients.s3.get_bucket_policy(Bucket="statements")) == (
            "NoSuchBucketPolicy"
        )
        assert report.notes == [
            "bucket statements: no TLS-only bucket policy (the S3 endpoint is plain HTTP, "
            "where it would deny every request)"
        ]
    else:
        assert "aws:SecureTransport" in clients.s3.get_bucket_policy(Bucket="statements")["Policy"]
        assert report.notes == []


def test_moto_denies_object_requests_under_the_tls_policy(local_clients: Clients) -> None:
    """Why in-process moto tests pass tls_only_policy=False (documented on `bootstrap`).

    moto evaluates bucket policies for object requests but ignores the
    `aws:SecureTransport` condition, so the TLS-only policy denies every object request. If
    this test fails, moto has fixed it and the caveat can go.
    """
    local_clients.run(tls_only_policy=True)
    code = _error_code(
        lambda: local_clients.s3.put_object(Bucket="statements", Key="rejects/x.csv", Body=b"")
    )
    assert code == "403"

    local_clients.s3.delete_bucket_policy(Bucket="statements")
    local_clients.s3.put_object(Bucket="statements", Key="rejects/x.csv", Body=b"")


def test_table_is_created_before_pitr_and_pitr_retries_while_unavailable(
    local_clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(bootstrap_module, "_sleep", sleeps.append)
    refusals = iter([True, True])
    refuse = _fake_error("ContinuousBackupsUnavailableException")

    def flaky(**kwargs: Any) -> Any:
        # DynamoDB refuses PITR for a moment after the table turns ACTIVE.
        return refuse(**kwargs) if next(refusals, False) else None

    local_clients.dynamodb.meta.events.register(
        "before-call.dynamodb.UpdateContinuousBackups", flaky
    )

    assert local_clients.run().created[-1] == "table statements: created"

    assert len(sleeps) == 2
    backups = local_clients.dynamodb.describe_continuous_backups(TableName="statements")
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


# --- drift ---------------------------------------------------------------------------------


def test_existing_unencrypted_queue_is_reported_and_left_unchanged(clients: Clients) -> None:
    # SQS (and moto) encrypt new queues with SSE-SQS by default: switch it off explicitly.
    clients.sqs.create_queue(
        QueueName="statement-records", Attributes={"SqsManagedSseEnabled": "false"}
    )

    report = clients.run()

    assert report.has_drift
    dlq_arn = clients.queue_attributes("statement-records-dlq")["QueueArn"]
    assert report.drift == [
        "queue statement-records: not encrypted (SqsManagedSseEnabled is false), expected "
        "SSE-SQS (left unchanged)",
        "queue statement-records: VisibilityTimeout is 30, expected 300 (left unchanged)",
        "queue statement-records: ReceiveMessageWaitTimeSeconds is 0, expected 1 (left unchanged)",
        f"queue statement-records: no redrive policy, expected dead-letter queue {dlq_arn} "
        "after 5 receives (left unchanged)",
    ]
    assert report.created == [
        "bucket statements: created",
        "queue statement-records-dlq: created",
        "table statements: created",
    ]
    assert report.ok == []
    after = clients.queue_attributes("statement-records")
    assert after["SqsManagedSseEnabled"] == "false"
    assert after["VisibilityTimeout"] == "30"
    assert "RedrivePolicy" not in after


def test_a_table_keyed_by_month_alone_is_reported_as_drift(local_clients: Clients) -> None:
    """The earlier schema (HASH period): one key value per month caps its writes at 1,000/s."""
    old_schema = [
        {"AttributeName": "period", "KeyType": "HASH"},
        {"AttributeName": "statement_id", "KeyType": "RANGE"},
    ]
    local_clients.dynamodb.create_table(
        TableName="statements",
        KeySchema=old_schema,
        AttributeDefinitions=[
            {"AttributeName": "period", "AttributeType": "S"},
            {"AttributeName": "statement_id", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True},
    )

    report = local_clients.run()

    assert report.has_drift
    assert (
        "table statements: key schema is HASH period (S), RANGE statement_id (S), expected "
        "HASH month_shard (S), RANGE statement_id (S) (left unchanged)"
    ) in report.drift
    table = local_clients.dynamodb.describe_table(TableName="statements")["Table"]
    assert table["KeySchema"] == old_schema


def test_table_with_another_key_schema_is_reported_and_left_unchanged(clients: Clients) -> None:
    clients.dynamodb.create_table(
        TableName="statements",
        KeySchema=[{"AttributeName": "statement_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "statement_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True},
    )

    report = clients.run()

    assert report.drift == [
        "table statements: key schema is HASH statement_id (S), expected HASH month_shard (S), "
        "RANGE statement_id (S) (left unchanged)",
        "table statements: point-in-time recovery is DISABLED, expected ENABLED (left unchanged)",
    ]
    table = clients.dynamodb.describe_table(TableName="statements")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "statement_id", "KeyType": "HASH"}]
    backups = clients.dynamodb.describe_continuous_backups(TableName="statements")
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "DISABLED"


def test_table_settings_drift(clients: Clients) -> None:
    clients.dynamodb.create_table(
        TableName="statements",
        KeySchema=KEY_SCHEMA,
        AttributeDefinitions=[
            {"AttributeName": "month_shard", "AttributeType": "S"},
            {"AttributeName": "statement_id", "AttributeType": "N"},
        ],
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )

    drift = clients.run().drift
    assert drift == [
        "table statements: key schema is HASH month_shard (S), RANGE statement_id (N), "
        "expected HASH month_shard (S), RANGE statement_id (S) (left unchanged)",
        "table statements: billing mode is PROVISIONED, expected PAY_PER_REQUEST (left unchanged)",
        "table statements: server-side encryption is not enabled (AWS owned key only), "
        "expected ENABLED (KMS) (left unchanged)",
        "table statements: point-in-time recovery is DISABLED, expected ENABLED (left unchanged)",
    ]

    provisioned = TableSettings(billing_mode="PROVISIONED", read_capacity=5, write_capacity=160)
    drift = clients.run(table=provisioned).drift
    assert "table statements: ReadCapacityUnits is 1, expected 5 (left unchanged)" in drift
    assert "table statements: WriteCapacityUnits is 1, expected 160 (left unchanged)" in drift


def test_unprotected_bucket_is_reported_and_left_unchanged(clients: Clients) -> None:
    clients.s3.create_bucket(
        Bucket="statements", CreateBucketConfiguration={"LocationConstraint": REGION}
    )

    report = clients.run(tls_only_policy=True)

    bucket_drift = [line for line in report.drift if line.startswith("bucket ")]
    assert bucket_drift == [
        # Real S3 encrypts every bucket with SSE-S3 since 2023; moto reports none.
        "bucket statements: no default encryption, expected AES256 (SSE-S3) (left unchanged)",
        "bucket statements: no public access block, expected all four settings on (left unchanged)",
        "bucket statements: no bucket policy, expected one denying non-TLS requests "
        "(left unchanged)",
    ]
    assert "bucket statements: created" not in report.created
    assert _error_code(lambda: clients.s3.get_public_access_block(Bucket="statements")) == (
        "NoSuchPublicAccessBlockConfiguration"
    )
    assert _error_code(lambda: clients.s3.get_bucket_policy(Bucket="statements")) == (
        "NoSuchBucketPolicy"
    )


def test_partial_public_access_block_kms_encryption_and_foreign_policy(
    local_clients: Clients,
) -> None:
    s3 = local_clients.s3
    s3.create_bucket(Bucket="statements", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_public_access_block(
        Bucket="statements",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket="statements",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    s3.put_bucket_policy(
        Bucket="statements",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Other",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:DeleteBucket",
                        "Resource": "arn:aws:s3:::statements",
                    }
                ],
            }
        ),
    )

    drift = [line for line in local_clients.run().drift if line.startswith("bucket ")]

    assert drift == [
        "bucket statements: default encryption is aws:kms, expected AES256 (SSE-S3) "
        "(left unchanged)",
        "bucket statements: public access block differs: BlockPublicPolicy is False "
        "(left unchanged)",
        "bucket statements: bucket policy does not deny non-TLS requests (left unchanged)",
    ]
    block = s3.get_public_access_block(Bucket="statements")["PublicAccessBlockConfiguration"]
    assert block["BlockPublicPolicy"] is False


def test_bucket_in_another_region_is_drift(local_clients: Clients) -> None:
    boto3.client("s3", region_name="eu-central-1").create_bucket(
        Bucket="statements", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )

    drift = local_clients.run().drift

    assert drift[0] == (
        "bucket statements: is in region eu-central-1, expected eu-west-1 (left unchanged)"
    )


def test_queue_redrive_visibility_and_kms_drift(clients: Clients) -> None:
    sqs = clients.sqs
    other = sqs.create_queue(QueueName="elsewhere")["QueueUrl"]
    other_arn = sqs.get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.create_queue(
        QueueName="statement-records-dlq",
        Attributes={"KmsMasterKeyId": "alias/aws/sqs", "MessageRetentionPeriod": "86400"},
    )
    sqs.create_queue(
        QueueName="statement-records",
        Attributes={
            "VisibilityTimeout": "300",
            "MessageRetentionPeriod": "345600",
            "ReceiveMessageWaitTimeSeconds": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": other_arn, "maxReceiveCount": 9}),
        },
    )

    drift = [line for line in clients.run().drift if line.startswith("queue ")]

    dlq_arn = clients.queue_attributes("statement-records-dlq")["QueueArn"]
    assert drift == [
        "queue statement-records-dlq: encrypted with KMS key alias/aws/sqs (SSE-KMS), expected "
        "SSE-SQS (a run would need kms:GenerateDataKey/kms:Decrypt) (left unchanged)",
        "queue statement-records-dlq: MessageRetentionPeriod is 86400, expected 1209600 "
        "(left unchanged)",
        f"queue statement-records: redrive target is {other_arn}, expected {dlq_arn} "
        "(left unchanged)",
        "queue statement-records: maxReceiveCount is 9, expected 5 (left unchanged)",
    ]
    redrive = json.loads(clients.queue_attributes("statement-records")["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == other_arn


# --- errors and inputs ---------------------------------------------------------------------


def test_denied_call_names_the_missing_action(local_clients: Clients) -> None:
    local_clients.s3.meta.events.register(
        "before-call.s3.PutBucketEncryption", _fake_error("AccessDenied", 403)
    )

    with pytest.raises(BootstrapAccessDenied) as excinfo:
        local_clients.run()

    assert excinfo.value.action == "s3:PutEncryptionConfiguration"
    assert excinfo.value.operation == "PutBucketEncryption"
    assert "AccessDenied" in str(excinfo.value)
    assert "s3:PutEncryptionConfiguration" in str(excinfo.value)
    # It stopped at the bucket: no queue was created.
    assert _error_code(
        lambda: local_clients.sqs.get_queue_url(QueueName="statement-records-dlq")
    ) in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def test_denied_bucket_lookup_hints_at_a_foreign_bucket(local_clients: Clients) -> None:
    local_clients.s3.meta.events.register(
        "before-call.s3.GetBucketLocation", _fake_error("AccessDenied", 403)
    )

    with pytest.raises(BootstrapAccessDenied, match="belongs to another account") as excinfo:
        local_clients.run()

    assert excinfo.value.action == "s3:GetBucketLocation"


def test_bucket_owned_by_another_account_is_a_clear_error(local_clients: Clients) -> None:
    local_clients.s3.meta.events.register(
        "before-call.s3.CreateBucket", _fake_error("BucketAlreadyExists", 409)
    )

    with pytest.raises(BootstrapError, match="belongs to another AWS account"):
        local_clients.run()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"visibility_timeout": -1},
        {"visibility_timeout": 43201},
        {"max_receive_count": 0},
        {"max_receive_count": 1001},
        {"receive_wait_seconds": 21},
    ],
)
def test_rejects_invalid_queue_settings(local_clients: Clients, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be between"):
        local_clients.run(**kwargs)


def test_table_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="billing_mode"):
        TableSettings(billing_mode="ON_DEMAND")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1"):
        TableSettings(billing_mode="PROVISIONED", read_capacity=0)


def test_report_has_drift_and_lines() -> None:
    report = BootstrapReport(created=["a: created"], ok=["b: ok"])
    assert not report.has_drift
    report.drift.append("c: x differs (left unchanged)")
    assert report.has_drift
    assert report.lines() == [
        "created  a: created",
        "ok       b: ok",
        "DRIFT    c: x differs (left unchanged)",
    ]


@pytest.mark.parametrize("module", ["bootstrap.py", "s3_files.py", "table.py"])
def test_modules_do_not_import_dagster(module: str) -> None:
    path = Path(bootstrap_module.__file__).with_name(module)
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not {"dagster", "dagster_aws"} & imported
